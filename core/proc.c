#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

extern char **environ;

#define DEFAULT_CAP ((size_t)16 << 20)

void lg_proc_result_release(lg_proc_result *res)
{
    if (!res)
        return;
    lg_buf_release(&res->out);
    lg_buf_release(&res->err);
}

int lg_proc_status(const lg_proc_result *res)
{
    return res->exited ? res->exit_code : 128 + res->term_signal;
}

/* environ plus overrides; entries without '=' unset. Returns owned array of
 * borrowed strings. */
static char **build_env(const char *const *add)
{
    size_t n = 0, m = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    while (add && add[m])
        m++;
    env = calloc(n + m + 1, sizeof *env);
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        size_t nl = strcspn(e, "=");
        bool overridden = false;
        for (size_t j = 0; j < m && !overridden; j++) {
            size_t al = strcspn(add[j], "=");
            overridden = al == nl && strncmp(add[j], e, nl) == 0;
        }
        if (!overridden)
            env[k++] = (char *)e;
    }
    for (size_t j = 0; j < m; j++)
        if (strchr(add[j], '='))
            env[k++] = (char *)add[j];
    env[k] = NULL;
    return env;
}

static void set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void drain(int *fd, lg_buf *b, size_t cap, bool *trunc)
{
    char chunk[16384];
    for (;;) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n > 0) {
            size_t take = (size_t)n;
            if (b->len + take > cap) {
                take = cap > b->len ? cap - b->len : 0;
                *trunc = true;
            }
            if (take && lg_buf_append(b, chunk, take))
                *trunc = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        close(*fd); /* EOF or error */
        *fd = -1;
        return;
    }
}

int lg_proc_run(const lg_proc_spec *spec, lg_proc_result *res, lg_err *err)
{
    int out_p[2] = {-1, -1}, err_p[2] = {-1, -1}, in_p[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    char **env = NULL;
    const char *sh_argv[4] = {"/bin/sh", "-c", NULL, NULL};
    const char *const *argv;
    size_t cap = spec->out_cap ? spec->out_cap : DEFAULT_CAP;
    uint64_t start, grace = spec->grace_ms ? spec->grace_ms : 2000;
    uint64_t term_at = 0; /* when SIGTERM was sent */
    size_t in_off = 0;
    pid_t pid;
    int rc = 0, status = 0, pidfd = -1;
    bool reaped = false;

    memset(res, 0, sizeof *res);
    lg_buf_init(&res->out);
    lg_buf_init(&res->err);
    if (spec->shell) {
        sh_argv[2] = spec->shell;
        argv = sh_argv;
    } else {
        argv = spec->argv;
    }
    if (!argv || !argv[0])
        return LG_ERR(err, LG_EINTERNAL, "lg_proc_run: no command given");

    if ((!spec->inherit_stdout && pipe2(out_p, O_CLOEXEC)) ||
        (!spec->inherit_stderr && pipe2(err_p, O_CLOEXEC)) ||
        (spec->stdin_data && pipe2(in_p, O_CLOEXEC))) {
        rc = LG_ERR(err, LG_EIO, "cannot create pipe: %s", strerror(errno));
        goto out_close;
    }
    env = build_env(spec->env);
    if (!env) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out_close;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    if (spec->stdin_data)
        posix_spawn_file_actions_adddup2(&fa, in_p[0], 0);
    else
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!spec->inherit_stdout)
        posix_spawn_file_actions_adddup2(&fa, out_p[1], 1);
    if (!spec->inherit_stderr)
        posix_spawn_file_actions_adddup2(&fa, err_p[1], 2);
    if (spec->cwd)
        posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
    {
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &none);
        /* reset handlers the harness may have installed (SIGINT, SIGPIPE) */
        posix_spawnattr_setsigdefault(&attr, &all);
    }
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                        POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_USEVFORK);
    start = lg_clock_mono_ns();
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        int e = rc;
        if (spec->cwd && e == ENOENT && access(spec->cwd, F_OK))
            rc = LG_ERR(err, LG_EINPUT, "cannot run '%s': working directory '%s' does not exist",
                        argv[0], spec->cwd);
        else if (e == ENOENT)
            rc = LG_ERR(err, LG_EINPUT, "cannot run '%s': command not found", argv[0]);
        else
            rc = LG_ERR(err, e == EACCES ? LG_EINPUT : LG_EIO, "cannot run '%s': %s", argv[0],
                        strerror(e));
        goto out_close;
    }
    /* a pidfd turns "the child exited" into a poll event, so we wake at once
     * instead of polling waitpid (Linux 5.3+; without it, short sleeps) */
#ifdef SYS_pidfd_open
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#endif
    /* close the child's ends */
    if (out_p[1] >= 0) { close(out_p[1]); out_p[1] = -1; set_nonblock(out_p[0]); }
    if (err_p[1] >= 0) { close(err_p[1]); err_p[1] = -1; set_nonblock(err_p[0]); }
    if (in_p[0] >= 0) { close(in_p[0]); in_p[0] = -1; set_nonblock(in_p[1]); }
    if (in_p[1] >= 0 && spec->stdin_len == 0) { close(in_p[1]); in_p[1] = -1; }

    for (;;) {
        struct pollfd pf[4];
        int n = 0, timeout = 50;
        uint64_t now = lg_clock_mono_ns(), elapsed_ms = (now - start) / 1000000;

        if (!reaped) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                reaped = true;
                res->duration_ns = lg_clock_mono_ns() - start;
                /* leftovers of the group must not keep our pipes open */
                kill(-pid, SIGKILL);
            }
        }
        if (!term_at && ((spec->timeout_ms && elapsed_ms >= spec->timeout_ms) ||
                         (spec->cancel && *spec->cancel))) {
            if (spec->timeout_ms && elapsed_ms >= spec->timeout_ms)
                res->timed_out = true;
            else
                res->cancelled = true;
            term_at = now;
            kill(-pid, SIGTERM);
        }
        if (term_at && (now - term_at) / 1000000 >= grace)
            kill(-pid, SIGKILL);
        if (out_p[0] < 0 && err_p[0] < 0 && reaped)
            break;
        if (pidfd >= 0 && !reaped) pf[n++] = (struct pollfd){pidfd, POLLIN, 0};
        if (out_p[0] >= 0) pf[n++] = (struct pollfd){out_p[0], POLLIN, 0};
        if (err_p[0] >= 0) pf[n++] = (struct pollfd){err_p[0], POLLIN, 0};
        if (in_p[1] >= 0) pf[n++] = (struct pollfd){in_p[1], POLLOUT, 0};
        if (n == 0) {
            /* nothing to read: just wait for the child */
            if (!spec->timeout_ms && !spec->cancel && !term_at) {
                if (waitpid(pid, &status, 0) == pid) {
                    reaped = true;
                    res->duration_ns = lg_clock_mono_ns() - start;
                    kill(-pid, SIGKILL);
                }
                continue;
            }
            lg_clock_sleep_ns(reaped ? 0 : 2000000);
            continue;
        }
        if (n == 1 && pidfd >= 0 && !reaped) {
            /* only the child left to wait for: sleep until it exits or a timer */
            if (poll(pf, 1, timeout) < 0 && errno != EINTR) {
                rc = LG_ERR(err, LG_EIO, "poll failed: %s", strerror(errno));
                kill(-pid, SIGKILL);
                waitpid(pid, &status, 0);
                goto out_close;
            }
            continue;
        }
        if (reaped)
            timeout = 10;
        if (poll(pf, (nfds_t)n, timeout) < 0 && errno != EINTR) {
            rc = LG_ERR(err, LG_EIO, "poll failed: %s", strerror(errno));
            kill(-pid, SIGKILL);
            if (!reaped)
                waitpid(pid, &status, 0);
            goto out_close;
        }
        if (out_p[0] >= 0)
            drain(&out_p[0], &res->out, cap, &res->out_truncated);
        if (err_p[0] >= 0)
            drain(&err_p[0], &res->err, cap, &res->err_truncated);
        if (in_p[1] >= 0) {
            ssize_t w = write(in_p[1], (const char *)spec->stdin_data + in_off,
                              spec->stdin_len - in_off);
            if (w > 0)
                in_off += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == spec->stdin_len) {
                close(in_p[1]); /* EPIPE: the child does not read its input */
                in_p[1] = -1;
            }
        }
    }
    if (WIFEXITED(status)) {
        res->exited = true;
        res->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->term_signal = WTERMSIG(status);
    }
out_close:
    for (int i = 0; i < 2; i++) {
        if (out_p[i] >= 0) close(out_p[i]);
        if (err_p[i] >= 0) close(err_p[i]);
        if (in_p[i] >= 0) close(in_p[i]);
    }
    if (pidfd >= 0)
        close(pidfd);
    free(env);
    return rc;
}
