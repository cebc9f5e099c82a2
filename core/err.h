/*
 * core/err.h - error reporting for every loopgate library.
 *
 * Libraries never print and never exit. A function that can fail takes a
 * caller-owned `lg_err *` and returns 0 on success or a negative LG_E* code.
 * The first error recorded wins: later lg_err_set() calls on an already-set
 * error are ignored, so the most specific context (set deepest) survives and
 * callers add nothing that hides it. Use lg_err_prefix() to add context such
 * as a file name in front of an existing message.
 *
 * The CLI maps codes to exit statuses with lg_err_exit_code():
 *   0 ok, 1 a gate failed, 2 bad usage or input, 3 internal error.
 */
#ifndef LG_ERR_H
#define LG_ERR_H

#include <stdarg.h>
#include <stdbool.h>

enum lg_errcode {
    LG_OK = 0,
    LG_EUSAGE = -1,    /* bad command line: exit 2 */
    LG_EINPUT = -2,    /* bad input file or request: exit 2 */
    LG_ENOENT = -3,    /* a named file does not exist: exit 2 */
    LG_EFORMAT = -4,   /* file of a newer/unknown format: exit 2 */
    LG_EIO = -5,       /* read/write/system failure: exit 3 */
    LG_ENOMEM = -6,    /* allocation failed or size cap reached: exit 3 */
    LG_EINTERNAL = -7, /* a bug or an unexpected library error: exit 3 */
    LG_EGATE = -8,     /* a gate failed: exit 1 */
    LG_EDIVERGED = -9, /* replay saw a request not in the recording: exit 1 */
    LG_ETOOBIG = -10,  /* a capped buffer would exceed its cap: exit 2 */
    LG_EINTR = -11,    /* interrupted by a signal: exit 130 */
};

#define LG_ERR_MSG_MAX 2048

typedef struct lg_err {
    int code;                 /* LG_OK or an LG_E* code */
    char msg[LG_ERR_MSG_MAX]; /* NUL-terminated, lowercase, no trailing newline */
    const char *file;         /* source location that set it, for debugging */
    int line;
} lg_err;

/* Initializer for a clean error: `lg_err e = LG_ERR_INIT;` */
#define LG_ERR_INIT {0, {0}, 0, 0}

/* Reset to the clean state. */
void lg_err_clear(lg_err *err);

/* Records an error unless one is already recorded (first error wins).
 * `err` may be NULL (the error is dropped). Returns `code`, so callers write
 * `return LG_ERR(err, LG_EINPUT, "cannot open '%s'", path);`. */
int lg_err_setf(lg_err *err, const char *file, int line, int code,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int lg_err_vsetf(lg_err *err, const char *file, int line, int code,
                 const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

#define LG_ERR(err, code, ...) lg_err_setf((err), __FILE__, __LINE__, (code), __VA_ARGS__)

/* Puts "PREFIX: " in front of a recorded message (e.g. the file name).
 * Does nothing if no error is recorded. */
void lg_err_prefix(lg_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* True if an error is recorded. */
static inline bool lg_err_isset(const lg_err *err) { return err && err->code != LG_OK; }

/* Exit status for a code: 0, 1 (gate/diverged), 2 (usage/input), 3 (internal), 130 (EINTR). */
int lg_err_exit_code(int code);

/* Short stable name of a code, e.g. "input". Never NULL. */
const char *lg_err_name(int code);

#endif
