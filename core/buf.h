/*
 * core/buf.h - the one growable byte buffer, with a size cap.
 *
 * Every byte string built at run time goes through lg_buf. The data is
 * always NUL-terminated (data[len] == 0) once anything was appended, so it
 * can be used as a C string when it holds text. A buffer never grows past
 * its cap: an append that would exceed it fails with LG_ETOOBIG and leaves
 * the buffer unchanged. Bodies read from the network must use a cap.
 *
 * Lifecycle (git style): lg_buf_init() allocates nothing; lg_buf_release()
 * frees the contents and re-inits; lg_buf_reset() empties but keeps memory;
 * lg_buf_take() hands the bytes to the caller.
 *
 * Not thread-safe: one buffer, one thread at a time.
 */
#ifndef LG_BUF_H
#define LG_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define LG_WUR __attribute__((warn_unused_result))

/* Default cap: 1 GiB. */
#define LG_BUF_DEFAULT_CAP ((size_t)1 << 30)

typedef struct lg_buf {
    char *data; /* NULL until the first append; then NUL-terminated */
    size_t len; /* bytes used, not counting the terminating NUL */
    size_t cap; /* bytes allocated */
    size_t max; /* most bytes `len` may reach */
} lg_buf;

#define LG_BUF_INIT {NULL, 0, 0, LG_BUF_DEFAULT_CAP}

/* Empty buffer with the default cap. Allocates nothing. */
void lg_buf_init(lg_buf *b);
/* Empty buffer that will never hold more than `max` bytes. */
void lg_buf_init_capped(lg_buf *b, size_t max);
/* Frees the contents; the buffer is empty again and may be reused. */
void lg_buf_release(lg_buf *b);
/* Sets len to 0, keeping the allocation. */
void lg_buf_reset(lg_buf *b);
/* Returns the bytes (owned, free with free(); NUL-terminated; never NULL on
 * success, may be NULL only if allocation of an empty string failed) and
 * re-inits the buffer. `*len` (if not NULL) receives the length. */
char *lg_buf_take(lg_buf *b, size_t *len);

/* Makes room for `extra` more bytes. 0, LG_ETOOBIG or LG_ENOMEM. */
int lg_buf_grow(lg_buf *b, size_t extra) LG_WUR;
/* Appends bytes. 0, LG_ETOOBIG or LG_ENOMEM (buffer unchanged on error). */
int lg_buf_append(lg_buf *b, const void *data, size_t len) LG_WUR;
int lg_buf_append_str(lg_buf *b, const char *s) LG_WUR;
int lg_buf_append_byte(lg_buf *b, char c) LG_WUR;
int lg_buf_appendf(lg_buf *b, const char *fmt, ...) LG_WUR __attribute__((format(printf, 2, 3)));
int lg_buf_vappendf(lg_buf *b, const char *fmt, va_list ap) LG_WUR __attribute__((format(printf, 2, 0)));
/* Shortens to `len` (must be <= b->len). */
void lg_buf_truncate(lg_buf *b, size_t len);

/* C string view: data, or "" when nothing was appended yet. Borrowed. */
static inline const char *lg_buf_cstr(const lg_buf *b) { return b->data ? b->data : ""; }

#endif
