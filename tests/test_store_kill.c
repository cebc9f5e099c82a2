/*
 * tests/test_store_kill.c - a writer killed with SIGKILL at random points,
 * 60 times over, never damages the trace: after every kill the file opens,
 * passes PRAGMA integrity_check, holds every session the writer reported
 * committed, whole, and no partial one. Some kills land during dictionary
 * training (early on), some during `compact` (every tenth).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/pcg.h"
#include "recorder/store.h"

#define KILLS 60

static char dir[256], path[512];

/* Session `id` (optionally re-recorded as `version`) has 2 + id % 9 model
 * calls with bodies made from (id, version, call), then an end event whose
 * error text names the version. */
static int calls_of(int id)
{
    return 2 + id % 9;
}

static void req_body(lg_buf *b, int id, int version, int c)
{
    lg_buf_reset(b);
    if (lg_buf_appendf(b, "{\"messages\":[\"system prompt shared by all\"") != 0)
        abort();
    for (int i = 0; i <= c; i++)
        if (lg_buf_appendf(b, ",\"step %d of session %d v%d: tool said %u\"", i, id, version,
                           (unsigned)(id * 31 + i * 7)) != 0)
            abort();
    if (lg_buf_append_str(b, "]}") != 0)
        abort();
}

static void resp_body(lg_buf *b, int id, int version, int c)
{
    lg_buf_reset(b);
    if (lg_buf_appendf(b, "{\"id\":\"r-%d-%d-%d\",\"usage\":{\"in\":%d}}", id, version, c, c) != 0)
        abort();
}

static int write_one(lg_store *st, int id, int version, const char *key)
{
    lg_session_desc d = {key, "kill", "kill", id, 0, 0};
    lg_store_session *w;
    lg_buf req = LG_BUF_INIT, resp = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    char ver[32];
    int rc = lg_store_session_begin(st, &d, &w, &e);

    for (int c = 0; !rc && c < calls_of(id); c++) {
        lg_event ev = lg_event_make(LG_EVENT_MODEL);
        req_body(&req, id, version, c);
        resp_body(&resp, id, version, c);
        ev.model.provider = "openai";
        ev.model.method = "POST";
        ev.model.path = "/v1/chat/completions";
        ev.model.request = (lg_bytes){req.data, req.len};
        ev.model.fingerprint = lg_hash_bytes(req.data, req.len);
        ev.model.status = 200;
        ev.model.response = (lg_bytes){resp.data, resp.len};
        rc = lg_store_session_append(w, &ev, NULL, NULL, &e);
    }
    if (!rc) {
        lg_event end = lg_event_make(LG_EVENT_END);
        snprintf(ver, sizeof ver, "v%d", version);
        end.end.reason = "success";
        end.end.error = ver;
        rc = lg_store_session_append(w, &end, NULL, NULL, &e);
    }
    if (!rc)
        rc = lg_store_session_commit(w, NULL, &e);
    else
        lg_store_session_abort(w);
    lg_buf_release(&req);
    lg_buf_release(&resp);
    if (rc)
        fprintf(stderr, "writer: %s\n", e.msg);
    return rc;
}

typedef struct wctx {
    lg_store *st;
    int first, step, fd;
    uint64_t seed;
} wctx;

/* Writes sessions first, first+step, ... forever, reporting each commit,
 * and now and then re-records session "r" (a key replaced in place). */
static void *writer(void *arg)
{
    wctx *w = arg;
    lg_pcg32 rng;
    lg_pcg32_srandom(&rng, w->seed, (uint64_t)w->first);
    for (int id = w->first;; id += w->step) {
        char key[32], line[64];
        int n;
        snprintf(key, sizeof key, "%d.0", id);
        if (write_one(w->st, id, 0, key))
            _exit(3);
        n = snprintf(line, sizeof line, "c %d\n", id);
        if (lg_fs_write_all(w->fd, line, (size_t)n) != 0)
            _exit(3);
        if (lg_pcg32_boundedrand(&rng, 4) == 0) {
            int version = (int)lg_pcg32_boundedrand(&rng, 1000);
            if (write_one(w->st, 7, version, "r"))
                _exit(3);
        }
    }
    return NULL;
}

static void child(int iteration, int first, int fd)
{
    lg_store *st;
    lg_err e = LG_ERR_INIT;
    if (iteration % 10 == 9) { /* a compaction, killed part way or not */
        lg_store_stats a, b;
        for (;;)
            if (lg_store_compact(path, &a, &b, &e))
                _exit(3);
    }
    if (lg_store_open(path, LG_STORE_WRITE, &st, &e)) {
        fprintf(stderr, "child: %s\n", e.msg);
        _exit(3);
    }
    lg_store_set_dict_threshold(st, 40 + (size_t)iteration * 7, 4096);
    wctx w[2] = {{st, first, 2, fd, (uint64_t)iteration}, {st, first + 1, 2, fd, (uint64_t)iteration}};
    pthread_t th;
    pthread_create(&th, NULL, writer, &w[1]);
    writer(&w[0]);
}

/* Every listed session (or, when `from` >= 0, those of ids from `from` on
 * and the replaced one) must be whole and right; returns how many exist. */
static int verify(const char *committed, size_t clen, int from)
{
    lg_store *st;
    lg_session_list *l;
    lg_err e = LG_ERR_INIT;
    lg_buf req = LG_BUF_INIT, resp = LG_BUF_INIT;
    sqlite3 *db;
    sqlite3_stmt *s;

    /* the file opens and SQLite finds it consistent */
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    sqlite3_close(db);

    cr_assert_eq(lg_store_open(path, LG_STORE_READ, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_check(st, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_list_sessions(st, NULL, &l, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < l->n; i++) {
        const lg_session_info *in = &l->items[i];
        bool replaced = strcmp(in->key, "r") == 0;
        int id = replaced ? 7 : (int)in->case_index, version = 0;
        lg_session_reader *r;
        const lg_event *ev;
        if (from >= 0 && !replaced && in->case_index < from)
            continue;
        cr_assert_eq(lg_store_session_read(st, in->id, &r, &e), 0, "%s", e.msg);
        cr_assert_eq(lg_session_reader_count(r), (size_t)calls_of(id) + 1,
                     "session %s is whole", in->key);
        cr_assert_eq(lg_session_reader_event(r, (size_t)calls_of(id), &ev, &e), 0, "%s", e.msg);
        cr_assert_eq(ev->kind, LG_EVENT_END);
        cr_assert(ev->end.error && sscanf(ev->end.error, "v%d", &version) == 1);
        for (int c = 0; c < calls_of(id); c++) {
            cr_assert_eq(lg_session_reader_call(r, (size_t)c, &ev, &e), 0, "%s", e.msg);
            req_body(&req, id, version, c);
            resp_body(&resp, id, version, c);
            cr_assert_eq(ev->model.request.len, req.len, "%s call %d", in->key, c);
            cr_assert(memcmp(ev->model.request.data, req.data, req.len) == 0);
            cr_assert_eq(ev->model.response.len, resp.len);
            cr_assert(memcmp(ev->model.response.data, resp.data, resp.len) == 0);
        }
        lg_session_reader_free(r);
    }
    /* every commit the writer reported is there */
    for (const char *p = committed; p < committed + clen;) {
        int id;
        char key[32];
        int64_t sid;
        cr_assert_eq(sscanf(p, "c %d", &id), 1);
        snprintf(key, sizeof key, "%d.0", id);
        cr_assert_eq(lg_store_find_session(st, key, &sid, &e), 0, "committed %s is lost: %s", key,
                     e.msg);
        p = strchr(p, '\n') + 1;
    }
    int n = (int)l->n;
    lg_session_list_free(l);
    lg_store_close(st);
    lg_buf_release(&req);
    lg_buf_release(&resp);
    return n;
}

Test(store_kill, sigkill_at_random_points_never_loses_a_commit, .timeout = 300)
{
    lg_pcg32 rng;
    lg_buf committed = LG_BUF_INIT;
    int first = 0, sessions = 0;
    lg_err e = LG_ERR_INIT;

    snprintf(dir, sizeof dir, "/tmp/lg_test_kill.XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/trace.lgt", dir);
    lg_pcg32_srandom(&rng, (uint64_t)lg_clock_wall_ms(), 99);

    for (int it = 0; it < KILLS; it++) {
        int fds[2];
        pid_t pid;
        char buf[4096];
        ssize_t got;
        int status;

        cr_assert_eq(pipe(fds), 0);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(it, first, fds[1]);
            _exit(0);
        }
        close(fds[1]);
        if (it % 2 == 0) {
            /* every other time, let the writer commit something first (on a
             * busy machine a blind sleep may not give it the time) */
            struct pollfd pf = {fds[0], POLLIN, 0};
            if (poll(&pf, 1, 5000) == 1 && (got = read(fds[0], buf, sizeof buf)) > 0)
                cr_assert_eq(lg_buf_append(&committed, buf, (size_t)got), 0);
        }
        lg_clock_sleep_ns((uint64_t)(2 + lg_pcg32_boundedrand(&rng, 80)) * 1000000);
        cr_assert_eq(kill(pid, SIGKILL), 0);
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "the writer was killed, not failed (status %d)", status);
        while ((got = read(fds[0], buf, sizeof buf)) > 0)
            cr_assert_eq(lg_buf_append(&committed, buf, (size_t)got), 0);
        close(fds[0]);
        /* a line cut by the kill is not a reported commit */
        while (committed.len && committed.data[committed.len - 1] != '\n')
            committed.len--;
        if (!lg_fs_exists(path))
            continue; /* killed before the file existed */
        /* everything every tenth time and after compactions; else what is new */
        sessions = verify(lg_buf_cstr(&committed), committed.len,
                          it % 10 == 0 || it % 10 == 9 || it == KILLS - 1 ? -1 : first);
        first += 10000;
    }
    cr_assert(sessions >= KILLS / 2, "the writers got work done between kills (%d sessions)",
              sessions);
    lg_buf_release(&committed);
    cr_assert_eq(lg_fs_rm_rf(dir, &e), 0);
}
