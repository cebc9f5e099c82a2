/*
 * core/proc.h - run a child process with captured output and a timeout.
 *
 * One mechanism for every command loopgate starts: loops under test,
 * validators, invariant commands, tools and `loopgate exec`. The child runs
 * in its own process group; a timeout (or a cancel flag) sends SIGTERM to
 * the whole group, then SIGKILL after a grace period. When the direct child
 * exits, anything it left running in its group is killed too, so a stray
 * grandchild holding the pipes never hangs the caller.
 *
 * Thread-safe: each call is independent (posix_spawn, no globals). Callers
 * running children from several threads must not install a SIGCHLD handler
 * that reaps with waitpid(-1).
 */
#ifndef LG_PROC_H
#define LG_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

typedef struct lg_proc_spec {
    /* Exactly one of argv (NULL-terminated, argv[0] searched in PATH) or
     * shell (a command line run with /bin/sh -c). Borrowed. */
    const char *const *argv;
    const char *shell;
    /* "NAME=value" entries set in the child on top of the parent's
     * environment (NULL-terminated, may be NULL); "NAME" alone unsets. */
    const char *const *env;
    const char *cwd;          /* working directory, NULL = inherit */
    const void *stdin_data;   /* written to the child's stdin then closed; NULL = /dev/null */
    size_t stdin_len;
    size_t out_cap;           /* most bytes kept of stdout and of stderr each; 0 = 16 MiB */
    uint64_t timeout_ms;      /* 0 = no timeout */
    uint64_t grace_ms;        /* SIGTERM -> SIGKILL delay; 0 = 2000 */
    bool inherit_stdout;      /* let stdout/stderr go to ours instead of capturing */
    bool inherit_stderr;
    /* Optional: when *cancel becomes non-zero the child is stopped like a
     * timeout (result->cancelled is set). Read without locking. */
    volatile sig_atomic_t *cancel;
} lg_proc_spec;

typedef struct lg_proc_result {
    lg_buf out;            /* captured stdout (owned; release with lg_proc_result_release) */
    lg_buf err;            /* captured stderr */
    bool out_truncated;    /* more than out_cap bytes were written and dropped */
    bool err_truncated;
    bool exited;           /* exited normally: exit_code is valid */
    int exit_code;
    int term_signal;       /* signal that ended it when !exited, else 0 */
    bool timed_out;        /* stopped by the timeout */
    bool cancelled;        /* stopped by *cancel */
    uint64_t duration_ns;  /* start to reap */
} lg_proc_result;

/* Runs the child to completion. Returns 0 once the child ran (whatever its
 * exit status: a crash or timeout is reported in `res`, not as an error),
 * or LG_EINPUT when it cannot be started (command not found: the message
 * names it), LG_EIO/LG_ENOMEM on system failures. `res` is initialised by
 * this call and must be released with lg_proc_result_release() in all cases. */
int lg_proc_run(const lg_proc_spec *spec, lg_proc_result *res, lg_err *err);

/* Frees the captured output. Accepts a zeroed or already released result. */
void lg_proc_result_release(lg_proc_result *res);

/* Shell exit status convention: exit code, or 128 + signal. */
int lg_proc_status(const lg_proc_result *res);

#endif
