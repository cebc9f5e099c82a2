/*
 * tests/test_store.c - recorder/store.c: what goes in comes out byte for
 * byte; sessions commit whole or not at all; dedupe, deltas, dictionary;
 * concurrent writers; format migration and refusal; bad files.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/pcg.h"
#include "recorder/store.h"

static char dir[256];
static char path[512];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lg_test_store.XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/trace.lgt", dir);
}

static void teardown(void)
{
    lg_err e = LG_ERR_INIT;
    if (lg_fs_rm_rf(dir, &e))
        fprintf(stderr, "%s\n", e.msg);
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 120);

/* ---- helpers -------------------------------------------------------------- */

static lg_store *open_w(void)
{
    lg_store *st = NULL;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_store_open(path, LG_STORE_WRITE, &st, &e), 0, "%s", e.msg);
    return st;
}

static lg_store *open_r(void)
{
    lg_store *st = NULL;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_store_open(path, LG_STORE_READ, &st, &e), 0, "%s", e.msg);
    return st;
}

/* Deterministic request/response bodies for call `c` of session `s`. */
static void body(lg_buf *b, const char *what, int s, int c, int grow)
{
    lg_buf_reset(b);
    cr_assert_eq(lg_buf_appendf(b, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"%s: "
                                   "be careful and use tools\"}",
                                what),
                 0);
    for (int i = 0; i < (grow ? c : 1); i++)
        cr_assert_eq(lg_buf_appendf(b, ",{\"role\":\"tool\",\"content\":\"%s %d result %d of session %d, "
                                       "with some words that repeat\"}",
                                    what, i, i * 7, s),
                     0);
    cr_assert_eq(lg_buf_append_str(b, "]}"), 0);
}

static lg_event model_event(const lg_buf *req, const lg_buf *resp, int c)
{
    lg_event ev = lg_event_make(LG_EVENT_MODEL);
    ev.t_us = (uint64_t)c * 1000;
    ev.model.provider = "openai";
    ev.model.method = "POST";
    ev.model.path = "/v1/chat/completions";
    ev.model.model = "gpt-test";
    ev.model.request = (lg_bytes){req->data, req->len};
    ev.model.fingerprint = lg_hash_bytes(req->data, req->len);
    ev.model.status = 200;
    ev.model.response = (lg_bytes){resp->data, resp->len};
    ev.model.usage = (lg_usage){100 + c, 10, c};
    ev.model.latency_us = 5000;
    return ev;
}

/* Writes session `s` with `calls` model calls and an end event. */
static void write_session(lg_store *st, const char *key, int s, int calls)
{
    lg_session_desc d = {key, "run-1", "suite", s, 0, 1700000000000};
    lg_store_session *w;
    lg_buf req = LG_BUF_INIT, resp = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;

    cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0, "%s", e.msg);
    for (int c = 0; c < calls; c++) {
        body(&req, "req", s, c, 1);
        body(&resp, "resp", s, c, 0);
        lg_event ev = model_event(&req, &resp, c);
        cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), 0, "%s", e.msg);
    }
    lg_event end = lg_event_make(LG_EVENT_END);
    end.end.reason = "success";
    end.end.converged = true;
    cr_assert_eq(lg_store_session_append(w, &end, NULL, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_commit(w, NULL, &e), 0, "%s", e.msg);
    lg_buf_release(&req);
    lg_buf_release(&resp);
}

/* Checks every call of session `key` against what write_session wrote. */
static void check_session(lg_store *st, const char *key, int s, int calls)
{
    lg_session_reader *r;
    lg_buf req = LG_BUF_INIT, resp = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    int64_t id;

    cr_assert_eq(lg_store_find_session(st, key, &id, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_read(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_session_reader_calls(r), (size_t)calls);
    cr_assert_eq(lg_session_reader_count(r), (size_t)calls + 1);
    for (int c = 0; c < calls; c++) {
        const lg_event *ev;
        body(&req, "req", s, c, 1);
        body(&resp, "resp", s, c, 0);
        cr_assert_eq(lg_session_reader_call(r, (size_t)c, &ev, &e), 0, "%s", e.msg);
        cr_assert_eq(ev->model.request.len, req.len);
        cr_assert(memcmp(ev->model.request.data, req.data, req.len) == 0, "call %d request", c);
        cr_assert_eq(ev->model.response.len, resp.len);
        cr_assert(memcmp(ev->model.response.data, resp.data, resp.len) == 0);
        cr_assert(lg_hash_equal(ev->model.fingerprint, lg_hash_bytes(req.data, req.len)));
        cr_assert_eq(ev->call, c);
    }
    lg_session_reader_free(r);
    lg_buf_release(&req);
    lg_buf_release(&resp);
}

static int64_t sql_int(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    int64_t v = -1;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void sql_exec(const char *sql)
{
    sqlite3 *db;
    char *msg = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);
}

static lg_hash128 file_hash(const char *p)
{
    lg_buf b = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_fs_read_file(p, &b, &e), 0, "%s", e.msg);
    lg_hash128 h = lg_hash_bytes(b.data ? b.data : "", b.len);
    lg_buf_release(&b);
    return h;
}

static int dir_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    cr_assert(d);
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- round trips ---------------------------------------------------------- */

Test(store, every_event_kind_round_trips)
{
    lg_store *st = open_w();
    lg_session_desc d = {"3.1", "run-7", "support", 3, 1, 1700000000123};
    lg_store_session *w;
    lg_err e = LG_ERR_INIT;
    static const char sse[] = "data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n";
    lg_chunk chunks[3] = {{15, 1200}, {15, 2500}, {14, 90000}};
    lg_event evs[9];
    uint32_t seq;
    int64_t call;

    cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0, "%s", e.msg);
    evs[0] = lg_event_make(LG_EVENT_ITERATION);
    evs[0].iteration.index = 1;
    evs[0].iteration.state = "{ \"plan\": [1, 2],  \"a\": null }";
    evs[1] = lg_event_make(LG_EVENT_MODEL);
    evs[1].t_us = 10;
    evs[1].model.provider = "anthropic";
    evs[1].model.method = "POST";
    evs[1].model.path = "/v1/messages";
    evs[1].model.model = "claude-x";
    evs[1].model.request = (lg_bytes){"{\"stream\":true}", 15};
    evs[1].model.fingerprint = (lg_hash128){0x1234, 0x5678}; /* not the body's hash */
    evs[1].model.status = 200;
    evs[1].model.headers = "{\"content-type\":\"text/event-stream\",\"request-id\":\"req_1\"}";
    evs[1].model.response = (lg_bytes){sse, strlen(sse)};
    evs[1].model.chunks = chunks;
    evs[1].model.n_chunks = 3;
    evs[1].model.usage = (lg_usage){12, 34, -1};
    evs[1].model.latency_us = 90001;
    evs[2] = lg_event_make(LG_EVENT_TOOL);
    evs[2].t_us = 20;
    evs[2].tool.name = "grep";
    evs[2].tool.args = (lg_bytes){"[\"grep\",\"-n\",\"x\"]", 17};
    evs[2].tool.out = (lg_bytes){"a\0b\n", 4};
    evs[2].tool.err = (lg_bytes){"warning\n", 8};
    evs[2].tool.exit_code = 1;
    evs[2].tool.duration_us = 777;
    evs[2].tool.idem_key = "k-1";
    evs[2].tool.result = "{\"ok\":false}";
    evs[3] = lg_event_make(LG_EVENT_INVARIANT);
    evs[3].invariant.name = "max_tokens";
    evs[3].invariant.pass = false;
    evs[3].invariant.detail = "used 9000 > 8000";
    evs[4] = lg_event_make(LG_EVENT_VERIFY);
    evs[4].verify.pass = true;
    evs[4].verify.message = "3 tests passed";
    evs[5] = lg_event_make(LG_EVENT_DIVERGENCE);
    evs[5].divergence.call = 4;
    evs[5].divergence.path = "messages[3].content";
    evs[5].divergence.diff = "-a\n+b\n";
    evs[6] = lg_event_make(LG_EVENT_NOTE);
    evs[6].note.text = "h\xc3\xa9llo";
    evs[6].note.data = "[1,2.5,\"x\"]";
    evs[7] = lg_event_make(LG_EVENT_MODEL);
    evs[7].t_us = 5; /* time may go backwards */
    evs[7].model.provider = "openai";
    evs[7].model.method = "POST";
    evs[7].model.path = "/v1/chat/completions";
    evs[7].model.fault = "refused";
    evs[7].model.fingerprint = lg_hash_bytes("", 0);
    evs[8] = lg_event_make(LG_EVENT_END);
    evs[8].end.reason = "validator_failed";
    evs[8].end.converged = false;
    evs[8].end.error = "wrong answer";
    for (int i = 0; i < 9; i++) {
        cr_assert_eq(lg_store_session_append(w, &evs[i], &seq, &call, &e), 0, "%d: %s", i, e.msg);
        cr_assert_eq(seq, (uint32_t)i);
        cr_assert_eq(call, i == 1 ? 0 : i == 7 ? 1 : -1);
    }
    cr_assert_eq(lg_store_session_count(w), 9);
    cr_assert_eq(lg_store_session_commit(w, NULL, &e), 0, "%s", e.msg);
    lg_store_close(st);

    st = open_r();
    lg_session_list *l;
    cr_assert_eq(lg_store_list_sessions(st, NULL, &l, &e), 0, "%s", e.msg);
    cr_assert_eq(l->n, 1);
    const lg_session_info *in = &l->items[0];
    cr_assert_str_eq(in->key, "3.1");
    cr_assert_str_eq(in->run, "run-7");
    cr_assert_str_eq(in->suite, "support");
    cr_assert_eq(in->case_index, 3);
    cr_assert_eq(in->trial, 1);
    cr_assert_eq(in->started_ms, 1700000000123);
    cr_assert_eq(in->n_events, 9);
    cr_assert_eq(in->n_calls, 2);
    cr_assert_eq(in->n_tools, 1);
    cr_assert_eq(in->n_iterations, 1);
    cr_assert_eq(in->tokens.in, 12);
    cr_assert_eq(in->tokens.out, 34);
    cr_assert_eq(in->tokens.cached, 0);
    cr_assert_str_eq(in->reason, "validator_failed");
    cr_assert_eq(in->converged, 0);
    cr_assert_str_eq(in->error, "wrong answer");

    lg_session_reader *r;
    const lg_event *ev;
    cr_assert_eq(lg_store_session_read(st, in->id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_session_reader_count(r), 9);
    cr_assert_eq(lg_session_reader_event(r, 0, &ev, &e), 0);
    cr_assert_eq(ev->kind, LG_EVENT_ITERATION);
    cr_assert_eq(ev->iteration.index, 1);
    cr_assert_str_eq(ev->iteration.state, "{\"a\":null,\"plan\":[1,2]}", "JSON kept canonical");
    cr_assert_eq(lg_session_reader_event(r, 1, &ev, &e), 0, "%s", e.msg);
    cr_assert_eq(ev->kind, LG_EVENT_MODEL);
    cr_assert_eq(ev->t_us, 10);
    cr_assert_str_eq(ev->model.provider, "anthropic");
    cr_assert_str_eq(ev->model.path, "/v1/messages");
    cr_assert_str_eq(ev->model.model, "claude-x");
    cr_assert(lg_hash_equal(ev->model.fingerprint, (lg_hash128){0x1234, 0x5678}));
    cr_assert_eq(ev->model.request.len, 15);
    cr_assert_str_eq(ev->model.headers,
                     "{\"content-type\":\"text/event-stream\",\"request-id\":\"req_1\"}");
    cr_assert_eq(ev->model.response.len, strlen(sse));
    cr_assert(memcmp(ev->model.response.data, sse, strlen(sse)) == 0);
    cr_assert_eq(ev->model.n_chunks, 3);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ev->model.chunks[i].len, chunks[i].len);
        cr_assert_eq(ev->model.chunks[i].t_us, chunks[i].t_us);
    }
    cr_assert_eq(ev->model.usage.in, 12);
    cr_assert_eq(ev->model.usage.cached, -1);
    cr_assert_eq(ev->model.latency_us, 90001);
    cr_assert_null(ev->model.fault);
    cr_assert_eq(lg_session_reader_event(r, 2, &ev, &e), 0);
    cr_assert_str_eq(ev->tool.name, "grep");
    cr_assert_eq(ev->tool.out.len, 4);
    cr_assert(memcmp(ev->tool.out.data, "a\0b\n", 4) == 0, "NUL bytes kept");
    cr_assert_eq(ev->tool.err.len, 8);
    cr_assert_eq(ev->tool.exit_code, 1);
    cr_assert_eq(ev->tool.duration_us, 777);
    cr_assert_str_eq(ev->tool.idem_key, "k-1");
    cr_assert_str_eq(ev->tool.result, "{\"ok\":false}");
    cr_assert_eq(lg_session_reader_event(r, 3, &ev, &e), 0);
    cr_assert_str_eq(ev->invariant.name, "max_tokens");
    cr_assert_not(ev->invariant.pass);
    cr_assert_str_eq(ev->invariant.detail, "used 9000 > 8000");
    cr_assert_eq(lg_session_reader_event(r, 4, &ev, &e), 0);
    cr_assert(ev->verify.pass);
    cr_assert_str_eq(ev->verify.message, "3 tests passed");
    cr_assert_eq(lg_session_reader_event(r, 5, &ev, &e), 0);
    cr_assert_eq(ev->divergence.call, 4);
    cr_assert_str_eq(ev->divergence.path, "messages[3].content");
    cr_assert_str_eq(ev->divergence.diff, "-a\n+b\n");
    cr_assert_eq(lg_session_reader_event(r, 6, &ev, &e), 0);
    cr_assert_str_eq(ev->note.text, "h\xc3\xa9llo");
    cr_assert_str_eq(ev->note.data, "[1,2.5,\"x\"]");
    cr_assert_eq(lg_session_reader_event(r, 7, &ev, &e), 0);
    cr_assert_eq(ev->t_us, 5);
    cr_assert_eq(ev->call, 1);
    cr_assert_str_eq(ev->model.fault, "refused");
    cr_assert_eq(ev->model.status, 0);
    cr_assert_eq(ev->model.request.len, 0);
    cr_assert_null(ev->model.model);
    cr_assert_null(ev->model.headers);
    cr_assert_eq(ev->model.n_chunks, 0);
    cr_assert_eq(ev->model.usage.in, -1);
    cr_assert_eq(lg_session_reader_event(r, 8, &ev, &e), 0);
    cr_assert_str_eq(ev->end.reason, "validator_failed");
    cr_assert_str_eq(ev->end.error, "wrong answer");
    /* out of range is a usage error, not a crash */
    cr_assert_eq(lg_session_reader_event(r, 9, &ev, &e), LG_EUSAGE);
    lg_session_reader_free(r);
    lg_session_list_free(l);
    lg_store_close(st);
}

Test(store, bad_events_are_refused_and_leave_the_session_usable)
{
    lg_store *st = open_w();
    lg_session_desc d = {"k", NULL, NULL, -1, -1, 0};
    lg_store_session *w;
    lg_err e = LG_ERR_INIT;
    lg_chunk ch[2] = {{3, 1}, {3, 2}};
    lg_event ev = lg_event_make(LG_EVENT_MODEL);

    cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0);
    cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), LG_EINPUT);
    cr_assert(strstr(e.msg, "session 'k' event 0 (model)") && strstr(e.msg, "provider"), "%s",
              e.msg);
    ev.model.provider = "openai";
    ev.model.method = "POST";
    ev.model.path = "/x";
    ev.model.headers = "[1]";
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), LG_EINPUT);
    cr_assert(strstr(e.msg, "headers must be a JSON object"), "%s", e.msg);
    ev.model.headers = "{bad";
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), LG_EINPUT);
    cr_assert(strstr(e.msg, "headers:1:"), "names the place: %s", e.msg);
    ev.model.headers = NULL;
    ev.model.response = (lg_bytes){"abcdefg", 7};
    ev.model.chunks = ch;
    ev.model.n_chunks = 2;
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), LG_EINPUT);
    cr_assert(strstr(e.msg, "cover 6 bytes but the response has 7"), "%s", e.msg);
    lg_event t = lg_event_make(LG_EVENT_TOOL);
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_append(w, &t, NULL, NULL, &e), LG_EINPUT);
    t.tool.name = "x";
    t.tool.result = "nope";
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_append(w, &t, NULL, NULL, &e), LG_EINPUT);
    lg_event n = lg_event_make(LG_EVENT_NOTE);
    n.note.text = "bad \xff utf8";
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_append(w, &n, NULL, NULL, &e), LG_EINPUT);
    cr_assert(strstr(e.msg, "UTF-8"), "%s", e.msg);
    cr_assert_eq(lg_store_session_count(w), 0, "refused events were not added");
    n.note.text = "fine";
    cr_assert_eq(lg_store_session_append(w, &n, NULL, NULL, &e), 0);
    cr_assert_eq(lg_store_session_commit(w, NULL, &e), 0, "%s", e.msg);
    /* keys */
    lg_session_desc bad = {"", NULL, NULL, -1, -1, 0};
    lg_err_clear(&e);
    cr_assert_eq(lg_store_session_begin(st, &bad, &w, &e), LG_EUSAGE);
    bad.key = "a\nb";
    cr_assert_eq(lg_store_session_begin(st, &bad, &w, &e), LG_EUSAGE);
    lg_store_close(st);
}

Test(store, session_key_is_case_dot_trial)
{
    char k[LG_SESSION_KEY_MAX];
    lg_session_key(37, 2, k);
    cr_assert_str_eq(k, "37.2");
}

/* ---- dedupe, replace, deltas ---------------------------------------------- */

Test(store, identical_bodies_are_stored_once)
{
    lg_store *st = open_w();
    lg_store_stats s1, s2;
    lg_err e = LG_ERR_INIT;

    write_session(st, "0.0", 5, 6);
    cr_assert_eq(lg_store_get_stats(st, &s1, &e), 0);
    /* the same case again (another trial): every body already exists */
    write_session(st, "0.1", 5, 6);
    cr_assert_eq(lg_store_get_stats(st, &s2, &e), 0);
    cr_assert_eq(s2.sessions, 2);
    cr_assert_eq(s2.calls, 12);
    cr_assert_eq(s2.blobs, s1.blobs, "no new blob for identical bodies (%llu vs %llu)",
                 (unsigned long long)s2.blobs, (unsigned long long)s1.blobs);
    check_session(st, "0.0", 5, 6);
    check_session(st, "0.1", 5, 6);
    lg_store_close(st);
}

Test(store, committing_a_key_again_replaces_the_session)
{
    lg_store *st = open_w();
    lg_err e = LG_ERR_INIT;
    lg_session_list *l;

    write_session(st, "1.0", 1, 3);
    write_session(st, "1.0", 2, 5);
    cr_assert_eq(lg_store_list_sessions(st, NULL, &l, &e), 0);
    cr_assert_eq(l->n, 1);
    cr_assert_eq(l->items[0].n_calls, 5);
    lg_session_list_free(l);
    check_session(st, "1.0", 2, 5);
    lg_store_close(st);
}

Test(store, requests_are_deltas_with_a_keyframe_every_16_calls)
{
    lg_store *st = open_w();
    write_session(st, "0.0", 1, 40);
    lg_store_close(st);
    /* 40 requests: keyframes at calls 0, 16, 32; the rest deltas */
    cr_assert_eq(sql_int("SELECT max(depth) FROM blobs"), LG_STORE_KEYFRAME_INTERVAL - 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM blobs WHERE codec = 3"), 37);
    /* linear growth: 40 growing requests cost far less than their raw size */
    cr_assert(sql_int("SELECT sum(length(data)) FROM blobs") * 20 <
                  sql_int("SELECT sum(raw_len) FROM blobs"),
              "deltas keep the store small");
    st = open_r();
    check_session(st, "0.0", 1, 40);
    lg_store_close(st);
}

Test(store, call_n_in_any_order_and_fingerprint_lookup)
{
    lg_store *st = open_w();
    lg_session_desc d = {"9.0", NULL, NULL, 9, 0, 0};
    lg_store_session *w;
    lg_buf req = LG_BUF_INIT, resp = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    lg_pcg32 rng;
    int64_t id, calls[8];

    cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0);
    for (int c = 0; c < 35; c++) {
        body(&req, "req", 9, c, 1);
        body(&resp, "resp", 9, c, 0);
        lg_event ev = model_event(&req, &resp, c);
        /* calls 3, 10 and 20 share a fingerprint (e.g. volatile fields ignored) */
        if (c == 3 || c == 10 || c == 20)
            ev.model.fingerprint = (lg_hash128){42, 42};
        cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), 0, "%s", e.msg);
    }
    cr_assert_eq(lg_store_session_commit(w, &id, &e), 0, "%s", e.msg);

    lg_session_reader *r;
    cr_assert_eq(lg_store_session_read(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_session_reader_find(r, (lg_hash128){42, 42}, calls, 8), 3);
    cr_assert_eq(calls[0], 3);
    cr_assert_eq(calls[1], 10);
    cr_assert_eq(calls[2], 20);
    cr_assert_eq(lg_session_reader_find(r, (lg_hash128){42, 42}, calls, 1), 3, "count beyond max");
    body(&req, "req", 9, 7, 1);
    cr_assert_eq(lg_session_reader_find(r, lg_hash_bytes(req.data, req.len), calls, 8), 1);
    cr_assert_eq(calls[0], 7);
    cr_assert_eq(lg_session_reader_find(r, (lg_hash128){1, 2}, calls, 8), 0);
    lg_pcg32_srandom(&rng, 7, 7);
    for (int i = 0; i < 100; i++) {
        int c = (int)lg_pcg32_boundedrand(&rng, 35);
        const lg_event *ev;
        body(&req, "req", 9, c, 1);
        cr_assert_eq(lg_session_reader_call(r, (size_t)c, &ev, &e), 0, "%s", e.msg);
        cr_assert_eq(ev->model.request.len, req.len);
        cr_assert(memcmp(ev->model.request.data, req.data, req.len) == 0);
    }
    const lg_event *ev;
    cr_assert_eq(lg_session_reader_call(r, 35, &ev, &e), LG_EUSAGE);
    lg_session_reader_free(r);
    lg_buf_release(&req);
    lg_buf_release(&resp);
    lg_store_close(st);
}

/* ---- transactions ------------------------------------------------------------ */

static const char *fail_point;

static int fail_at(void *ctx, const char *point)
{
    (void)ctx;
    return fail_point && strcmp(point, fail_point) == 0;
}

Test(store, a_failed_commit_leaves_nothing_and_keeps_the_old_session)
{
    static const char *const points[] = {"commit:begin", "commit:blobs", "commit:events",
                                         "commit:session", "commit:end"};
    lg_store *st = open_w();
    lg_store_stats before, after;
    lg_err e = LG_ERR_INIT;

    write_session(st, "2.0", 2, 4);
    cr_assert_eq(lg_store_get_stats(st, &before, &e), 0);
    lg_store_set_fault_hook(st, fail_at, NULL);
    for (size_t i = 0; i < sizeof points / sizeof points[0]; i++) {
        lg_session_desc d = {"2.0", NULL, NULL, 2, 0, 0};
        lg_store_session *w;
        lg_buf req = LG_BUF_INIT, resp = LG_BUF_INIT;
        fail_point = points[i];
        cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0);
        for (int c = 0; c < 6; c++) {
            body(&req, "other", 3, c, 1);
            body(&resp, "other-resp", 3, c, 0);
            lg_event ev = model_event(&req, &resp, c);
            cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), 0);
        }
        lg_err_clear(&e);
        cr_assert_eq(lg_store_session_commit(w, NULL, &e), LG_EIO, "fails at %s", points[i]);
        cr_assert(strstr(e.msg, "session '2.0' not saved") && strstr(e.msg, points[i]), "%s",
                  e.msg);
        cr_assert_eq(lg_store_get_stats(st, &after, &e), 0);
        cr_assert_eq(after.blobs, before.blobs, "no body of the failed session at %s", points[i]);
        cr_assert_eq(after.sessions, 1);
        check_session(st, "2.0", 2, 4); /* the old recording is intact */
        lg_buf_release(&req);
        lg_buf_release(&resp);
    }
    fail_point = NULL;
    write_session(st, "2.0", 3, 6);
    check_session(st, "2.0", 3, 6);
    lg_store_close(st);
    cr_assert_eq(sql_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
}

/* Between a commit's unlocked look-up of its bodies and its transaction,
 * another connection writes: the commit must see what it wrote (no
 * duplicate bodies) and what it deleted (no reference to a dropped body). */
static int foreign_step; /* 1: another handle records; 2: compact runs */

static int foreign_writer(void *ctx, const char *point)
{
    (void)ctx;
    if (strcmp(point, "commit:encoded") != 0 || !foreign_step)
        return 0;
    int step = foreign_step;
    foreign_step = 0;
    if (step == 1) {
        lg_store *other = open_w();
        write_session(other, "9.0", 7, 6); /* the very bodies being committed */
        lg_store_close(other);
    } else {
        lg_err e = LG_ERR_INIT;
        cr_assert_eq(lg_store_compact(path, NULL, NULL, &e), 0, "%s", e.msg);
    }
    return 0;
}

Test(store, a_commit_sees_what_another_connection_wrote_meanwhile)
{
    lg_store *st = open_w();
    lg_store_stats s1, s2;
    lg_err e = LG_ERR_INIT;

    write_session(st, "0.0", 5, 6);
    lg_store_set_fault_hook(st, foreign_writer, NULL);
    /* 1: the same bodies arrive from another handle in between */
    foreign_step = 1;
    write_session(st, "1.0", 7, 6);
    cr_assert_eq(foreign_step, 0, "the hook ran");
    cr_assert_eq(lg_store_get_stats(st, &s1, &e), 0, "%s", e.msg);
    cr_assert_eq(sql_int("SELECT count(*) - count(DISTINCT hash) FROM blobs"), 0,
                 "no body stored twice");
    /* 2: session 2.0 replaces 7's bodies by 8's, so compact drops 7's;
     * 3.0 records 7's again and its look-up finds them before compact */
    write_session(st, "1.0", 8, 6);
    write_session(st, "9.0", 8, 6);
    foreign_step = 2;
    write_session(st, "3.0", 7, 6);
    cr_assert_eq(foreign_step, 0, "the hook ran");
    cr_assert_eq(lg_store_get_stats(st, &s2, &e), 0, "%s", e.msg);
    cr_assert_eq(s2.sessions, 4);
    check_session(st, "0.0", 5, 6);
    check_session(st, "1.0", 8, 6);
    check_session(st, "3.0", 7, 6);
    lg_store_close(st);
    cr_assert_eq(sql_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
    cr_assert_eq(sql_int("SELECT count(*) - count(DISTINCT hash) FROM blobs"), 0);
    st = open_r();
    check_session(st, "3.0", 7, 6);
    lg_store_close(st);
}

Test(store, abort_writes_nothing)
{
    lg_store *st = open_w();
    lg_session_desc d = {"x", NULL, NULL, -1, -1, 0};
    lg_store_session *w;
    lg_err e = LG_ERR_INIT;
    lg_store_stats s;
    lg_event n = lg_event_make(LG_EVENT_NOTE);
    n.note.text = "hi";
    cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0);
    cr_assert_eq(lg_store_session_append(w, &n, NULL, NULL, &e), 0);
    lg_store_session_abort(w);
    lg_store_session_abort(NULL);
    cr_assert_eq(lg_store_get_stats(st, &s, &e), 0);
    cr_assert_eq(s.sessions, 0);
    lg_store_close(st);
}

/* ---- concurrency ---------------------------------------------------------------- */

typedef struct wjob {
    lg_store *st;
    int first, n;
} wjob;

static void *writer_thread(void *arg)
{
    wjob *j = arg;
    for (int i = j->first; i < j->first + j->n; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        write_session(j->st, key, i, 3 + i % 5);
    }
    return NULL;
}

Test(store, concurrent_writers_from_threads_and_two_handles)
{
    lg_store *a = open_w(), *b = open_w(); /* two handles: like two processes */
    pthread_t th[4];
    wjob jobs[4] = {{a, 0, 15}, {a, 15, 15}, {b, 30, 15}, {b, 45, 15}};

    for (int i = 0; i < 4; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, writer_thread, &jobs[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    lg_store_close(a);
    lg_store_close(b);
    lg_store *st = open_r();
    for (int i = 0; i < 60; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        check_session(st, key, i, 3 + i % 5);
    }
    lg_store_close(st);
}

typedef struct rjob {
    lg_session_reader *r;
    int s, calls;
    int bad;
} rjob;

static void *reader_thread(void *arg)
{
    rjob *j = arg;
    lg_buf req = LG_BUF_INIT;
    for (int c = j->calls - 1; c >= 0; c--) {
        const lg_event *ev;
        lg_err e = LG_ERR_INIT;
        body(&req, "req", j->s, c, 1);
        if (lg_session_reader_call(j->r, (size_t)c, &ev, &e) || ev->model.request.len != req.len ||
            memcmp(ev->model.request.data, req.data, req.len))
            j->bad++;
    }
    lg_buf_release(&req);
    return NULL;
}

Test(store, one_reader_shared_by_threads)
{
    lg_store *st = open_w();
    lg_session_reader *r;
    lg_err e = LG_ERR_INIT;
    int64_t id;
    pthread_t th[4];
    rjob jobs[4];

    write_session(st, "4.0", 4, 30);
    cr_assert_eq(lg_store_find_session(st, "4.0", &id, &e), 0);
    cr_assert_eq(lg_store_session_read(st, id, &r, &e), 0);
    for (int i = 0; i < 4; i++) {
        jobs[i] = (rjob){r, 4, 30, 0};
        pthread_create(&th[i], NULL, reader_thread, &jobs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].bad, 0);
    }
    lg_session_reader_free(r);
    lg_store_close(st);
}

/* ---- dictionary, compact, copy -------------------------------------------------- */

Test(store, dictionary_is_trained_once_and_bodies_still_decode)
{
    lg_store *st = open_w();
    lg_store_stats s;
    lg_err e = LG_ERR_INIT;

    lg_store_set_dict_threshold(st, 16, 4096);
    for (int i = 0; i < 12; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        write_session(st, key, i, 6);
    }
    cr_assert_eq(lg_store_get_stats(st, &s, &e), 0);
    cr_assert_eq(s.dicts, 1);
    lg_store_close(st);
    cr_assert(sql_int("SELECT count(*) FROM blobs WHERE codec = 2") > 12, "dictionary in use");
    st = open_r();
    for (int i = 0; i < 12; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        check_session(st, key, i, 6);
    }
    lg_store_close(st);
}

/* Training runs without the writer lock: a session committed while the
 * dictionary is being trained is recoded with it too. */
static lg_store *train_st;
static int train_hook_runs;

static int commit_while_training(void *ctx, const char *point)
{
    (void)ctx;
    if (strcmp(point, "train:trained") != 0)
        return 0;
    train_hook_runs++;
    write_session(train_st, "99.0", 99, 6); /* the same handle, meanwhile */
    return 0;
}

Test(store, bodies_committed_during_training_get_the_dictionary)
{
    lg_store *st = train_st = open_w();
    lg_store_stats s;
    lg_err e = LG_ERR_INIT;

    lg_store_set_dict_threshold(st, 16, 4096);
    lg_store_set_fault_hook(st, commit_while_training, NULL);
    for (int i = 0; i < 12; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        write_session(st, key, i, 6);
    }
    cr_assert_eq(train_hook_runs, 1, "trained once, with a commit in the middle");
    cr_assert_eq(lg_store_get_stats(st, &s, &e), 0);
    cr_assert_eq(s.dicts, 1);
    cr_assert_eq(s.sessions, 13);
    lg_store_close(st);
    cr_assert_eq(sql_int("SELECT count(*) FROM blobs WHERE base IS NULL AND codec = 1"), 0,
                 "every standalone body is coded with the dictionary");
    st = open_r();
    check_session(st, "99.0", 99, 6);
    for (int i = 0; i < 12; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        check_session(st, key, i, 6);
    }
    lg_store_close(st);
}

Test(store, compact_drops_unused_bodies_and_keeps_every_byte)
{
    lg_store *st = open_w();
    lg_store_stats before, after;
    lg_err e = LG_ERR_INIT;

    for (int i = 0; i < 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        write_session(st, key, i, 20);
    }
    /* re-record two cases: their old bodies become unused */
    write_session(st, "1.0", 101, 20);
    write_session(st, "2.0", 102, 20);
    lg_store_close(st);
    cr_assert_eq(lg_store_compact(path, &before, &after, &e), 0, "%s", e.msg);
    cr_assert(after.blobs < before.blobs, "%llu < %llu", (unsigned long long)after.blobs,
              (unsigned long long)before.blobs);
    cr_assert(after.file_bytes < before.file_bytes);
    cr_assert_eq(after.sessions, 10);
    cr_assert_eq(after.dicts, 1);
    cr_assert_eq(sql_int("SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
    st = open_r();
    for (int i = 0; i < 10; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        check_session(st, key, i == 1 ? 101 : i == 2 ? 102 : i, 20);
    }
    lg_store_close(st);
}

Test(store, copy_session_between_files)
{
    char other[600];
    lg_store *src = open_w(), *dst;
    lg_err e = LG_ERR_INIT;
    int64_t id;

    write_session(src, "5.2", 5, 18);
    snprintf(other, sizeof other, "%s/merged.lgt", dir);
    cr_assert_eq(lg_store_open(other, LG_STORE_WRITE, &dst, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_find_session(src, "5.2", &id, &e), 0);
    cr_assert_eq(lg_store_session_copy(dst, src, id, &e), 0, "%s", e.msg);
    check_session(dst, "5.2", 5, 18);
    lg_store_close(src);
    lg_store_close(dst);
}

/* ---- files ------------------------------------------------------------------------ */

Test(store, a_file_at_rest_is_one_file_and_readers_add_none)
{
    lg_store *st = open_w();
    write_session(st, "0.0", 0, 3);
    lg_store_close(st);
    cr_assert_eq(dir_entries(), 1, "no -wal or -shm left beside a closed trace");
    lg_hash128 h = file_hash(path);
    st = open_r();
    check_session(st, "0.0", 0, 3);
    lg_store_close(st);
    cr_assert_eq(dir_entries(), 1);
    cr_assert(lg_hash_equal(file_hash(path), h), "reading changed nothing");
}

/* Format 1 kept one row per event (docs/trace-format.md, history). */
static void make_v1_file(void)
{
    sql_exec(
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE dicts(id INTEGER PRIMARY KEY, data BLOB NOT NULL, samples INTEGER NOT NULL,"
        "  trained_ms INTEGER NOT NULL);"
        "CREATE TABLE blobs(id INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, raw_len INTEGER NOT "
        "  NULL, codec INTEGER NOT NULL, dict INTEGER, base INTEGER, base2 INTEGER, depth INTEGER "
        "  NOT NULL, data BLOB NOT NULL);"
        "CREATE TABLE endpoints(id INTEGER PRIMARY KEY, provider TEXT NOT NULL, method TEXT NOT "
        "  NULL, path TEXT NOT NULL, model TEXT NOT NULL, UNIQUE(provider, method, path, model));"
        "CREATE TABLE sessions(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, run TEXT, suite "
        "  TEXT, case_index INTEGER, trial INTEGER, started_ms INTEGER NOT NULL, committed_ms "
        "  INTEGER NOT NULL, n_events INTEGER NOT NULL, n_calls INTEGER NOT NULL, n_tools INTEGER "
        "  NOT NULL, n_iterations INTEGER NOT NULL, tokens_in INTEGER NOT NULL, tokens_out "
        "  INTEGER NOT NULL, tokens_cached INTEGER NOT NULL, latency_us INTEGER NOT NULL, reason "
        "  TEXT, converged INTEGER, error TEXT);"
        "CREATE TABLE events(session INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT "
        "  NULL, t_us INTEGER NOT NULL, call INTEGER, endpoint INTEGER, fp BLOB, body_in INTEGER, "
        "  body_out INTEGER, body_aux INTEGER, status INTEGER, tok_in INTEGER, tok_out INTEGER, "
        "  tok_cached INTEGER, dur_us INTEGER, chunks BLOB, info TEXT, PRIMARY KEY(session, seq))"
        "  WITHOUT ROWID;"
        "INSERT INTO meta VALUES('format', '1'), ('creator', 'loopgate 0.0.9');"
        "INSERT INTO endpoints VALUES(1, 'openai', 'POST', '/v1/chat/completions', 'gpt-4o');"
        /* two raw bodies: XXH3-128 of 'hello' and of 'world!' */
        "INSERT INTO sessions VALUES(1, '0.0', 'r', 's', 0, 0, 1, 2, 3, 1, 1, 0, 7, 8, 0, 99, "
        "  'success', 1, NULL);"
        "PRAGMA user_version = 1;");
    {
        sqlite3 *db;
        sqlite3_stmt *s;
        unsigned char h1[16], h2[16];
        lg_hash_to_bytes(lg_hash_bytes("hello", 5), h1);
        lg_hash_to_bytes(lg_hash_bytes("world!", 6), h2);
        cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
        cr_assert_eq(sqlite3_prepare_v2(db,
                                        "INSERT INTO blobs VALUES(?1, ?2, ?3, 0, NULL, NULL, NULL, "
                                        "0, ?4)",
                                        -1, &s, NULL),
                     SQLITE_OK);
        sqlite3_bind_int(s, 1, 1);
        sqlite3_bind_blob(s, 2, h1, 16, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, 5);
        sqlite3_bind_blob(s, 4, "hello", 5, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
        sqlite3_reset(s);
        sqlite3_bind_int(s, 1, 2);
        sqlite3_bind_blob(s, 2, h2, 16, SQLITE_STATIC);
        sqlite3_bind_int(s, 3, 6);
        sqlite3_bind_blob(s, 4, "world!", 6, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
        cr_assert_eq(sqlite3_prepare_v2(db,
                                        "INSERT INTO events VALUES(1, 0, 1, 100, 0, 1, ?1, 1, 2, "
                                        "NULL, 200, 7, 8, NULL, 99, NULL, NULL), (1, 1, 7, 200, NULL, "
                                        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                                        "NULL, '{\"text\":\"old note\"}'), (1, 2, 8, 300, NULL, NULL, "
                                        "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                                        "'{\"converged\":true,\"reason\":\"success\"}')",
                                        -1, &s, NULL),
                     SQLITE_OK, "%s", sqlite3_errmsg(db));
        sqlite3_bind_blob(s, 1, h1, 16, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
        sqlite3_close(db);
    }
}

static void check_v1_content(lg_store *st)
{
    lg_session_reader *r;
    const lg_event *ev;
    lg_err e = LG_ERR_INIT;
    int64_t id;
    cr_assert_eq(lg_store_find_session(st, "0.0", &id, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_read(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_session_reader_count(r), 3);
    cr_assert_eq(lg_session_reader_event(r, 0, &ev, &e), 0, "%s", e.msg);
    cr_assert_str_eq(ev->model.model, "gpt-4o");
    cr_assert_eq(ev->model.request.len, 5);
    cr_assert(memcmp(ev->model.request.data, "hello", 5) == 0);
    cr_assert(memcmp(ev->model.response.data, "world!", 6) == 0);
    cr_assert_eq(ev->model.usage.out, 8);
    cr_assert_eq(ev->model.usage.cached, -1);
    cr_assert_eq(lg_session_reader_event(r, 1, &ev, &e), 0);
    cr_assert_str_eq(ev->note.text, "old note");
    cr_assert_eq(ev->t_us, 200);
    lg_session_reader_free(r);
}

Test(store, format_1_is_read_in_memory_and_migrated_on_write)
{
    make_v1_file();
    lg_hash128 h = file_hash(path);
    lg_store *st = open_r();
    cr_assert_eq(lg_store_file_format(st), 1);
    check_v1_content(st);
    lg_store_close(st);
    cr_assert(lg_hash_equal(file_hash(path), h), "a reader does not migrate the file");
    cr_assert_eq(sql_int("PRAGMA user_version"), 1);

    st = open_w();
    cr_assert_eq(lg_store_file_format(st), 1);
    check_v1_content(st);
    write_session(st, "1.0", 1, 4); /* and it takes new sessions */
    lg_store_close(st);
    cr_assert_eq(sql_int("PRAGMA user_version"), 2);
    cr_assert_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE name = 'events'"), 0);
    st = open_r();
    cr_assert_eq(lg_store_file_format(st), 2);
    check_v1_content(st);
    check_session(st, "1.0", 1, 4);
    lg_store_close(st);
}

Test(store, a_newer_format_is_refused_by_name)
{
    lg_store *st = open_w();
    write_session(st, "0.0", 0, 2);
    lg_store_close(st);
    sql_exec("PRAGMA user_version = 3");
    lg_hash128 h = file_hash(path);
    for (int mode = 0; mode < 2; mode++) {
        lg_err e = LG_ERR_INIT;
        char want[700];
        cr_assert_eq(lg_store_open(path, mode, &st, &e), LG_EFORMAT);
        snprintf(want, sizeof want,
                 "%s: format 3 is newer than this loopgate (reads up to 2); upgrade loopgate", path);
        cr_assert_str_eq(e.msg, want);
        cr_assert_null(st);
    }
    cr_assert(lg_hash_equal(file_hash(path), h), "nothing written");
}

static void expect_open_error(int mode, int code, const char *fragment)
{
    lg_store *st = NULL;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_store_open(path, mode, &st, &e), code, "mode %d: %s", mode, e.msg);
    cr_assert(strstr(e.msg, path), "names the file: %s", e.msg);
    cr_assert(strstr(e.msg, fragment), "'%s' in: %s", fragment, e.msg);
    cr_assert_null(st);
}

Test(store, missing_file_is_not_created_by_a_reader)
{
    expect_open_error(LG_STORE_READ, LG_ENOENT, "no such trace file");
    cr_assert_not(lg_fs_exists(path));
}

Test(store, directory_empty_and_foreign_files_are_refused)
{
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(mkdir(path, 0755), 0);
    expect_open_error(LG_STORE_READ, LG_EINPUT, "is a directory");
    expect_open_error(LG_STORE_WRITE, LG_EINPUT, "is a directory");
    rmdir(path);
    cr_assert_eq(lg_fs_write_file_atomic(path, "", 0, &e), 0);
    expect_open_error(LG_STORE_READ, LG_EINPUT, "empty file");
    cr_assert_eq(lg_fs_write_file_atomic(path, "name,value\n1,2\n", 15, &e), 0);
    lg_hash128 h = file_hash(path);
    expect_open_error(LG_STORE_READ, LG_EINPUT, "not an SQLite database");
    expect_open_error(LG_STORE_WRITE, LG_EINPUT, "not an SQLite database");
    cr_assert(lg_hash_equal(file_hash(path), h), "nothing overwritten");
    unlink(path);
    sql_exec("CREATE TABLE people(name TEXT); PRAGMA journal_mode = DELETE;");
    h = file_hash(path);
    expect_open_error(LG_STORE_READ, LG_EINPUT, "not a loopgate trace");
    expect_open_error(LG_STORE_WRITE, LG_EINPUT, "not a loopgate trace");
    cr_assert(lg_hash_equal(file_hash(path), h), "someone else's database untouched");
}

static void make_store(int sessions)
{
    lg_store *st = open_w();
    for (int i = 0; i < sessions; i++) {
        char key[32];
        snprintf(key, sizeof key, "%d.0", i);
        write_session(st, key, i, 12);
    }
    lg_store_close(st);
}

Test(store, truncated_file_is_refused)
{
    struct stat sb;
    make_store(20);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(truncate(path, sb.st_size / 2), 0);
    expect_open_error(LG_STORE_READ, LG_EINPUT, "truncated");
    expect_open_error(LG_STORE_WRITE, LG_EINPUT, "truncated");
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(truncate(path, 50), 0); /* shorter than the header */
    expect_open_error(LG_STORE_READ, LG_EINPUT, "truncated");
}

/* Checks and reads everything; returns the first error code. */
static int read_all(lg_err *e)
{
    lg_store *st = NULL;
    lg_session_list *l = NULL;
    int rc;
    if ((rc = lg_store_open(path, LG_STORE_READ, &st, e)))
        return rc;
    if ((rc = lg_store_check(st, e)) || (rc = lg_store_list_sessions(st, NULL, &l, e)))
        goto out;
    for (size_t i = 0; i < l->n && !rc; i++) {
        lg_session_reader *r;
        if ((rc = lg_store_session_read(st, l->items[i].id, &r, e)))
            break;
        for (size_t k = 0; k < lg_session_reader_count(r) && !rc; k++) {
            const lg_event *ev;
            rc = lg_session_reader_event(r, k, &ev, e);
        }
        lg_session_reader_free(r);
    }
out:
    lg_session_list_free(l);
    lg_store_close(st);
    return rc;
}

Test(store, corrupt_bytes_are_found_and_named)
{
    lg_err e = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;
    sqlite3 *db;
    sqlite3_stmt *s;
    int pages[256], n = 0;

    make_store(20);
    cr_assert_eq(read_all(&e), 0, "%s", e.msg);
    /* the pages that hold sessions, blobs and their index */
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT pageno FROM dbstat WHERE name IN ('blobs', 'sessions', "
                                    "'blobs_hash') AND pagetype = 'leaf' AND pgsize - unused > 300",
                                    -1, &s, NULL),
                 SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW && n < 256)
        pages[n++] = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    cr_assert(n >= 5);
    cr_assert_eq(lg_fs_read_file(path, &b, &e), 0);
    for (int i = 0; i < n; i++) {
        lg_buf bad = LG_BUF_INIT;
        lg_err re = LG_ERR_INIT;
        size_t end = (size_t)pages[i] * 4096; /* cells fill pages from their end */
        cr_assert_eq(lg_buf_append(&bad, b.data, b.len), 0);
        for (size_t k = end - 100; k < end - 40; k++)
            bad.data[k] ^= 0x55;
        cr_assert_eq(lg_fs_write_file_atomic(path, bad.data, bad.len, &re), 0);
        int rc = read_all(&re);
        cr_assert_eq(rc, LG_EINPUT, "page %d: damage not noticed (%s)", pages[i], re.msg);
        cr_assert(strstr(re.msg, path) && strstr(re.msg, "corrupt") &&
                      strstr(re.msg, "restore it from version control"),
                  "page %d: %s", pages[i], re.msg);
        lg_buf_release(&bad);
    }
    lg_buf_release(&b);
}
