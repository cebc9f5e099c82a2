/* tests/test_fastpath.c - the fast paths of replay and record (issue 4's
 * proxy benchmark work), each through the real code path:
 *   - recorder/store: a session read by key in one transaction; a
 *     recorded call's request key (blob hash, length, method, path) and its
 *     response side, read without decoding the request (shown with a
 *     damaged request body that only lg_session_reader_call() notices);
 *   - recorder/redact: lg_redact_body_unchanged() says "unchanged" only
 *     when lg_redact_body() indeed gives the bytes back;
 *   - recorder/usage: the request and response scans agree with a full
 *     jansson parse (what counts as JSON, the model, the stream flag, usage);
 *   - recorder/httpd: answers with header pairs, request heads the default
 *     connection memory holds;
 *   - recorder/proxy: record mode stores a call after its client has the
 *     answer (in a store thread) and still in order before what the client
 *     does next; replay
 *     matches byte-identical requests by blob hash, redacted ones too, and
 *     serves the recorded headers. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "harness/sim_server.h"
#include "recorder/httpd.h"
#include "recorder/match.h"
#include "recorder/proxy.h"
#include "recorder/redact.h"
#include "recorder/store.h"
#include "recorder/usage.h"

static char dir[64], path[128];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lg-fastpath-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.lgt", dir);
}

static void teardown(void)
{
    lg_err err = LG_ERR_INIT;
    (void)!lg_fs_rm_rf(dir, &err);
}

TestSuite(fastpath, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ store */

static const char *const reqs[3] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"first question, long "
    "enough to be worth a delta later on\"}]}",
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"first question, long "
    "enough to be worth a delta later on\"},{\"role\":\"assistant\",\"content\":\"ok\"}]}",
    "",
};

static void write_session(void)
{
    lg_store *st;
    lg_store_session *w;
    lg_err e = LG_ERR_INIT;
    lg_session_desc d = {"k1", NULL, NULL, 3, 0, 0};
    cr_assert_eq(lg_store_open(path, LG_STORE_WRITE, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0, "%s", e.msg);
    for (int i = 0; i < 3; i++) {
        char resp[64], hdrs[96];
        lg_event ev = lg_event_make(LG_EVENT_MODEL);
        snprintf(resp, sizeof resp, "{\"answer\":%d}", i);
        snprintf(hdrs, sizeof hdrs, "{\"x-request-id\":\"req_%d\",\"content-type\":\"application/json\"}", i);
        ev.model.provider = "openai";
        ev.model.method = i == 2 ? "GET" : "POST";
        ev.model.path = i == 2 ? "/v1/models" : "/v1/chat/completions";
        ev.model.request.data = reqs[i];
        ev.model.request.len = strlen(reqs[i]);
        ev.model.fingerprint = lg_hash_bytes("fp", 2);
        ev.model.fingerprint.lo += (uint64_t)i;
        ev.model.status = 200 + i;
        ev.model.headers = hdrs;
        ev.model.response.data = resp;
        ev.model.response.len = strlen(resp);
        cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), 0, "%s", e.msg);
        if (i == 0) {
            lg_event t = lg_event_make(LG_EVENT_NOTE);
            t.note.text = "between";
            cr_assert_eq(lg_store_session_append(w, &t, NULL, NULL, &e), 0, "%s", e.msg);
        }
    }
    cr_assert_eq(lg_store_session_commit(w, NULL, &e), 0, "%s", e.msg);
    lg_store_close(st);
}

static lg_session_reader *read_session(lg_store **st)
{
    lg_err e = LG_ERR_INIT;
    lg_session_reader *r;
    cr_assert_eq(lg_store_open(path, LG_STORE_READ, st, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_read_key(*st, "k1", &r, &e), 0, "%s", e.msg);
    cr_assert_str_eq(lg_session_reader_info(r)->key, "k1");
    cr_assert_eq(lg_session_reader_info(r)->case_index, 3);
    return r;
}

Test(fastpath, store_read_by_key_in_one_transaction)
{
    write_session();
    lg_store *st;
    lg_session_reader *r = read_session(&st), *none = NULL;
    lg_err e = LG_ERR_INIT;
    cr_expect_eq(lg_session_reader_count(r), 4u);
    cr_expect_eq(lg_store_session_read_key(st, "nope", &none, &e), LG_ENOENT);
    cr_expect_null(none);
    cr_expect(strstr(e.msg, "no session 'nope'"), "%s", e.msg);
    /* the same reader as by id */
    int64_t id;
    lg_session_reader *r2;
    lg_err e2 = LG_ERR_INIT;
    cr_assert_eq(lg_store_find_session(st, "k1", &id, &e2), 0, "%s", e2.msg);
    cr_assert_eq(lg_store_session_read(st, id, &r2, &e2), 0, "%s", e2.msg);
    cr_expect_eq(lg_session_reader_info(r2)->id, lg_session_reader_info(r)->id);
    cr_expect_eq(lg_session_reader_count(r2), lg_session_reader_count(r));
    lg_session_reader_free(r2);
    lg_session_reader_free(r);
    lg_store_close(st);
}

Test(fastpath, store_request_key_and_response_side_without_the_request)
{
    write_session();
    lg_store *st;
    lg_session_reader *r = read_session(&st);
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_session_reader_calls(r), 3u);
    for (size_t i = 0; i < 3; i++) {
        lg_call_request_key k;
        lg_model_event m;
        char resp[64], hdrs[96];
        cr_assert_eq(lg_session_reader_request_hash(r, i, &k, &e), 0, "%s", e.msg);
        cr_expect_str_eq(k.method, i == 2 ? "GET" : "POST");
        cr_expect_str_eq(k.path, i == 2 ? "/v1/models" : "/v1/chat/completions");
        cr_expect_eq(k.body_len, strlen(reqs[i]));
        cr_expect(lg_hash_equal(k.body_hash, lg_hash_bytes(reqs[i], strlen(reqs[i]))),
                  "call %zu: the key is the XXH3-128 of the stored request", i);
        cr_assert_eq(lg_session_reader_response(r, i, &m, &e), 0, "%s", e.msg);
        snprintf(resp, sizeof resp, "{\"answer\":%zu}", i);
        /* canonical (sorted keys) as the store keeps JSON text */
        snprintf(hdrs, sizeof hdrs, "{\"content-type\":\"application/json\",\"x-request-id\":\"req_%zu\"}", i);
        cr_expect_null(m.request.data);
        cr_expect_eq(m.request.len, 0u);
        cr_expect_eq(m.response.len, strlen(resp));
        cr_expect(memcmp(m.response.data, resp, m.response.len) == 0);
        cr_expect_str_eq(m.headers, hdrs);
        cr_expect_eq(m.status, 200 + (int)i);
        cr_expect_str_eq(m.provider, "openai");
        lg_hash128 fp = lg_hash_bytes("fp", 2);
        fp.lo += i;
        cr_expect(lg_hash_equal(m.fingerprint, fp));
        /* the whole call afterwards: the same response bytes */
        const lg_event *ev;
        cr_assert_eq(lg_session_reader_call(r, i, &ev, &e), 0, "%s", e.msg);
        cr_expect_eq(ev->model.request.len, strlen(reqs[i]));
        cr_expect_eq(ev->model.response.data, m.response.data, "decoded once, shared");
        lg_model_event again;
        cr_assert_eq(lg_session_reader_response(r, i, &again, &e), 0, "%s", e.msg);
        cr_expect_null(again.request.data);
        cr_expect_eq(again.response.len, m.response.len);
    }
    lg_call_request_key k;
    lg_model_event m;
    cr_expect_eq(lg_session_reader_request_hash(r, 3, &k, &e), LG_EUSAGE);
    cr_expect_eq(lg_session_reader_response(r, 3, &m, &e), LG_EUSAGE);
    cr_expect_eq(lg_session_reader_event_kind(r, 0), LG_EVENT_MODEL);
    cr_expect_eq(lg_session_reader_event_kind(r, 1), LG_EVENT_NOTE);
    cr_expect_eq(lg_session_reader_event_kind(r, 3), LG_EVENT_MODEL);
    cr_expect_eq(lg_session_reader_event_kind(r, 4), 0);
    lg_session_reader_free(r);
    lg_store_close(st);
}

Test(fastpath, store_response_side_never_decodes_the_request)
{
    write_session();
    /* damage the stored request of call 1 (its blob row's data) */
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE blobs SET data = zeroblob(length(data)) WHERE raw_len = %zu",
             strlen(reqs[1]));
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_changes(db), 1);
    sqlite3_close(db);

    lg_store *st;
    lg_session_reader *r = read_session(&st);
    lg_err e = LG_ERR_INIT;
    lg_call_request_key k;
    lg_model_event m;
    const lg_event *ev;
    cr_assert_eq(lg_session_reader_request_hash(r, 1, &k, &e), 0, "%s", e.msg);
    cr_expect(lg_hash_equal(k.body_hash, lg_hash_bytes(reqs[1], strlen(reqs[1]))));
    cr_assert_eq(lg_session_reader_response(r, 1, &m, &e), 0, "%s", e.msg);
    cr_expect_eq(m.response.len, strlen("{\"answer\":1}"));
    /* decoding the request does notice */
    cr_expect_eq(lg_session_reader_call(r, 1, &ev, &e), LG_EINPUT);
    lg_session_reader_free(r);
    lg_store_close(st);
}

/* ------------------------------------------------------------ redact */

Test(fastpath, redact_unchanged_only_when_redaction_gives_the_bytes_back)
{
    lg_redact *lit = lg_redact_new(), *pat = lg_redact_new(), *pth = lg_redact_new();
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_redact_add_literal(lit, "key", "sk-secret-0123456789", 20, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_redact_add_builtin(pat, "email", &e), 0, "%s", e.msg);
    cr_assert_eq(lg_redact_add_path(pth, "user", NULL, &e), 0, "%s", e.msg);
    static const char *const bodies[] = {
        "{\"messages\":[{\"content\":\"plain text, nothing secret\"}]}",
        "{\"messages\":[{\"content\":\"my key is sk-secret-0123456789 ok\"}]}",
        "{\"messages\":[{\"content\":\"escaped \\u0073k-secret-0123456789\"}]}",
        "{\"messages\":[{\"content\":\"mail jane@example.com now\"}]}",
        "{\"messages\":[{\"content\":\"a - hyphen - rich - text sk-secret-012345678\"}]}",
        "not json sk-secret-0123456789",
        "",
    };
    const lg_redact *rs[] = {lit, pat, pth, NULL};
    for (size_t ri = 0; ri < 4; ri++) {
        for (size_t bi = 0; bi < sizeof bodies / sizeof *bodies; bi++) {
            const char *b = bodies[bi];
            size_t n = strlen(b), count = 0;
            lg_buf out = LG_BUF_INIT;
            bool same = lg_redact_body_unchanged(rs[ri], b, n);
            cr_assert_eq(lg_redact_body(rs[ri], b, n, &out, &count, &e), 0, "%s", e.msg);
            bool equal = out.len == n && (n == 0 || memcmp(out.data, b, n) == 0);
            if (same)
                cr_expect(equal, "rules %zu body %zu: said unchanged but redaction changed it", ri, bi);
            lg_buf_release(&out);
        }
    }
    /* and says "unchanged" where it can know */
    cr_expect(lg_redact_body_unchanged(lit, bodies[0], strlen(bodies[0])));
    cr_expect(lg_redact_body_unchanged(lit, bodies[4], strlen(bodies[4])));
    cr_expect_not(lg_redact_body_unchanged(lit, bodies[1], strlen(bodies[1])));
    cr_expect_not(lg_redact_body_unchanged(lit, bodies[2], strlen(bodies[2])), "an escape may spell it");
    cr_expect_not(lg_redact_body_unchanged(lit, bodies[5], strlen(bodies[5])));
    cr_expect_not(lg_redact_body_unchanged(pat, bodies[3], strlen(bodies[3])));
    cr_expect(lg_redact_body_unchanged(pat, bodies[0], strlen(bodies[0])));
    cr_expect_not(lg_redact_body_unchanged(pth, bodies[0], strlen(bodies[0])), "paths need a parse");
    cr_expect(lg_redact_body_unchanged(NULL, bodies[1], strlen(bodies[1])));
    lg_redact_free(lit);
    lg_redact_free(pat);
    lg_redact_free(pth);
}

/* ------------------------------------------------------------ usage */

/* What the scans must agree with: a full parse of the body. */
static void expect_like_a_parse(const char *b, size_t n)
{
    lg_usage_meter u;
    json_t *j = json_loadb(b, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool obj = json_is_object(j);
    const json_t *m = obj ? json_object_get(j, "model") : NULL;
    char want[LG_USAGE_MODEL_MAX] = "";
    if (json_is_string(m) && json_string_length(m) > 0)
        snprintf(want, sizeof want, "%s", json_string_value(m));
    bool stream = obj && json_is_true(json_object_get(j, "stream"));
    lg_usage_init(&u, LG_API_OPENAI_CHAT);
    cr_expect_eq(lg_usage_feed_request(&u, b, n), obj, "%.*s", (int)n, b);
    cr_expect_str_eq(u.request_model, want, "%.*s", (int)n, b);
    cr_expect_eq(u.stream, stream, "%.*s", (int)n, b);
    json_decref(j);
}

Test(fastpath, usage_scans_agree_with_a_full_parse)
{
    static const char *const bodies[] = {
        "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":"
        "\"hi \\\"x\\\" \\u00e9 \\ud83d\\ude00\"}],\"n\":1.5e3,\"t\":-0.2}",
        " {\"messages\":[],\"model\":\"claude\\u0020x\",\"stream\":false} ",
        "{\"model\":null,\"stream\":\"true\",\"a\":{\"b\":[1,2,{\"c\":-0.5E-2}],\"d\":true}}",
        "{\"model\":\"a\",\"model\":\"b\",\"mod\\u0065l\":\"c\"}",
        "{\"model\":\"\"}",
        "{}",
        "[1,2]",
        "\"model\"",
        "{\"a\":[}",
        "{\"model\":\"x\"",
        "{\"x\":01}",
        "{\"x\":\"\\q\"}",
        "{\"x\":[1,]}",
        "{\"x\":tru}",
        "{\"x\":\"a\tb\"}",
        "{\"model\":\"m\"} x",
        "{\"x\":1e999}",
        "{\"x\":123456789012345678901234}",
        "{\"x\":\"\\ude00\"}",
        "{\"x\":\"\\ud800x\"}",
        "{\"model\":\"\xc3\"}",
        "{\"x\":{\"y\":{\"z\":[[[{}]]]}},\"model\":\"deep\",\"stream\":true}",
        "",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++)
        expect_like_a_parse(bodies[i], strlen(bodies[i]));
    /* a model name longer than the meter keeps: truncated as before */
    char big[400];
    memset(big, 0, sizeof big);
    memcpy(big, "{\"model\":\"", 10);
    memset(big + 10, 'm', 300);
    memcpy(big + 310, "\"}", 2);
    expect_like_a_parse(big, strlen(big));

    /* a response: usage found among large members skipped by the scan */
    lg_buf b = LG_BUF_INIT;
    cr_assert_eq(lg_buf_append_str(&b, "{\"id\":\"x\",\"choices\":["), 0);
    for (int i = 0; i < 200; i++)
        cr_assert_eq(lg_buf_appendf(&b, "%s{\"index\":%d,\"message\":{\"content\":\"text %d\"}}",
                                    i ? "," : "", i, i), 0);
    cr_assert_eq(lg_buf_append_str(&b, "],\"model\":\"gpt-4o-2024\",\"usage\":{\"prompt_tokens\":"
                                       "12,\"completion_tokens\":5,\"prompt_tokens_details\":"
                                       "{\"cached_tokens\":4}}}"), 0);
    lg_usage_meter u;
    lg_usage_init(&u, LG_API_OPENAI_CHAT);
    cr_expect(lg_usage_feed_body(&u, b.data, b.len));
    cr_expect_eq(u.input_tokens, 12);
    cr_expect_eq(u.output_tokens, 5);
    cr_expect_eq(u.cached_input_tokens, 4);
    cr_expect_str_eq(u.model, "gpt-4o-2024");
    /* Anthropic's message_start: usage inside "message" */
    const char *ms = "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":"
                     "{\"input_tokens\":7,\"cache_read_input_tokens\":3,\"output_tokens\":1}}}";
    lg_usage_init(&u, LG_API_ANTHROPIC_MESSAGES);
    cr_expect(lg_usage_feed_body(&u, ms, strlen(ms)));
    cr_expect_eq(u.input_tokens, 10);
    cr_expect_eq(u.cached_input_tokens, 3);
    cr_expect_str_eq(u.model, "claude-x");
    cr_expect_not(lg_usage_feed_body(&u, "{\"usage\":{\"prompt_tokens\":1}", 28), "truncated");
    lg_buf_release(&b);
}

/* ------------------------------------------------------------ httpd */

typedef struct hstate {
    atomic_bool worker_done;
} hstate;

static int pairs_handler(lg_httpd_req *r, void *ud)
{
    hstate *hs = ud;
    if (strcmp(lg_httpd_req_path(r), "/later") == 0 && !lg_httpd_req_in_worker(r))
        return LG_HTTPD_OFFLOAD;
    static const char *const pairs[] = {"Content-Type", "application/json", "x-a", "1",
                                        "Connection", "close", "Content-Length", "99",
                                        "Date", "yesterday", "x-b", "two words"};
    lg_err e = LG_ERR_INIT;
    const char *big = lg_httpd_req_header(r, "x-big");
    char body[64];
    snprintf(body, sizeof body, "{\"big\":%zu}", big ? strlen(big) : 0);
    if (lg_httpd_respond_pairs(r, 200, pairs, 5, body, strlen(body), &e))
        return LG_HTTPD_DONE;
    if (lg_httpd_req_in_worker(r))
        atomic_store(&hs->worker_done, true);
    return LG_HTTPD_DONE;
}

static size_t keep(char *p, size_t s, size_t n, void *ud)
{
    return lg_buf_append(ud, p, s * n) ? 0 : s * n;
}

static long fetch(unsigned port, const char *target, const char *hdr, lg_buf *body, lg_buf *heads)
{
    char url[128];
    long status = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, target);
    CURL *c = curl_easy_init();
    struct curl_slist *sl = hdr ? curl_slist_append(NULL, hdr) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, heads);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
    return status;
}

Test(fastpath, httpd_pairs_and_big_heads)
{
    hstate hs;
    atomic_init(&hs.worker_done, false);
    lg_httpd_opts o;
    memset(&o, 0, sizeof o);
    o.handler = pairs_handler;
    o.ud = &hs;
    lg_httpd *h;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_httpd_start(&o, &h, &e), 0, "%s", e.msg);
    unsigned port = lg_httpd_port(h);

    /* a request head of 9 KB fits the default connection memory */
    char big[9100];
    memcpy(big, "x-big: ", 7);
    memset(big + 7, 'b', 9000);
    big[9007] = 0;
    lg_buf body = LG_BUF_INIT, heads = LG_BUF_INIT;
    cr_expect_eq(fetch(port, "/now", big, &body, &heads), 200);
    cr_expect_str_eq(lg_buf_cstr(&body), "{\"big\":9000}");
    const char *hd = lg_buf_cstr(&heads);
    cr_expect(strcasestr(hd, "\r\nx-a: 1\r\n"), "%s", hd);
    cr_expect(strcasestr(hd, "\r\nContent-Type: application/json\r\n"), "%s", hd);
    cr_expect_null(strcasestr(hd, "connection: close"), "hop-by-hop dropped: %s", hd);
    cr_expect_null(strcasestr(hd, "yesterday"), "the server's own date: %s", hd);
    cr_expect_null(strcasestr(hd, ": 99"), "the real length: %s", hd);
    cr_expect_null(strcasestr(hd, "two words"), "only the pairs given: %s", hd);

    /* the same from a worker (the connection resumed for it) */
    lg_buf_reset(&body);
    lg_buf_reset(&heads);
    cr_expect_eq(fetch(port, "/later", NULL, &body, &heads), 200);
    cr_expect_str_eq(lg_buf_cstr(&body), "{\"big\":0}");
    cr_expect(strcasestr(lg_buf_cstr(&heads), "\r\nx-a: 1\r\n"), "%s", lg_buf_cstr(&heads));
    /* the worker sets the flag just after answering */
    for (int i = 0; i < 500 && !atomic_load(&hs.worker_done); i++)
        lg_clock_sleep_ns(10 * 1000000ull);
    cr_expect(atomic_load(&hs.worker_done), "answered from the worker call");
    lg_buf_release(&body);
    lg_buf_release(&heads);
    lg_httpd_stop(h);
}

/* ------------------------------------------------------------ proxy */

typedef struct prig {
    lg_sim_server *sim;
    lg_store *st, *log;
    lg_proxy *px;
    lg_redact *rd;
    lg_match_config *mc;
    char token[LG_PROXY_TOKEN_MAX];
} prig;

static void prig_start(prig *g, int mode, const char *store_path, const char *log_path)
{
    lg_err e = LG_ERR_INIT;
    char up[64];
    lg_proxy_opts o;
    memset(&o, 0, sizeof o);
    g->rd = lg_redact_new();
    g->mc = lg_match_config_new();
    cr_assert_eq(lg_redact_add_literal(g->rd, "api_key", "sk-fast-0123456789abcdef", 24, &e), 0);
    cr_assert_eq(lg_match_config_ignore(g->mc, "metadata", &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_open(store_path, mode == LG_PROXY_RECORD ? LG_STORE_WRITE : LG_STORE_READ,
                               &g->st, &e), 0, "%s", e.msg);
    if (log_path) {
        cr_assert_eq(lg_store_open(log_path, LG_STORE_WRITE, &g->log, &e), 0, "%s", e.msg);
        o.log_store = g->log;
    }
    if (mode == LG_PROXY_RECORD) {
        lg_sim_config cfg;
        lg_sim_config_init(&cfg);
        cr_assert_eq(lg_sim_server_start(&cfg, 0, &g->sim, &e), 0, "%s", e.msg);
        snprintf(up, sizeof up, "http://127.0.0.1:%u", lg_sim_server_port(g->sim));
        o.upstream = up;
    }
    o.mode = mode;
    o.store = g->st;
    o.redact = g->rd;
    o.match = g->mc;
    cr_assert_eq(lg_proxy_start(&o, &g->px, &e), 0, "%s", e.msg);
}

static void prig_stop(prig *g)
{
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_proxy_stop(g->px, NULL, &e), 0, "%s", e.msg);
    lg_sim_server_stop(g->sim);
    lg_store_close(g->st);
    lg_store_close(g->log);
    lg_redact_free(g->rd);
    lg_match_config_free(g->mc);
}

static long pcall(prig *g, CURL *c, const char *upath, const char *body, lg_buf *out,
                  lg_buf *heads)
{
    char url[256];
    long status = 0;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/s/%s%s", lg_proxy_port(g->px), g->token, upath);
    struct curl_slist *sl = curl_slist_append(NULL, "Content-Type: application/json");
    lg_buf_reset(out);
    if (heads)
        lg_buf_reset(heads);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, heads ? keep : NULL);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, heads);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(sl);
    return status;
}

#define CALLS 6

static void chat(char *out, size_t cap, int i, const char *extra)
{
    snprintf(out, cap, "{\"model\":\"gpt-fast\",%s\"messages\":[{\"role\":\"user\",\"content\":"
             "\"question %d, key sk-fast-0123456789abcdef inside\"}]}", extra, i);
}

Test(fastpath, proxy_record_stores_after_the_answer_in_order_and_replay_matches_by_hash,
     .timeout = 60)
{
    prig g;
    lg_err e = LG_ERR_INIT;
    lg_buf out = LG_BUF_INIT, heads = LG_BUF_INIT, recorded[CALLS];
    char body[512];
    CURL *c = curl_easy_init();

    /* record: each call is followed at once by an event, on the same
     * connection: the event must still come after the call */
    memset(&g, 0, sizeof g);
    prig_start(&g, LG_PROXY_RECORD, path, NULL);
    lg_session_desc d = {"s1", NULL, NULL, -1, -1, 0};
    cr_assert_eq(lg_proxy_session_open(g.px, &d, g.token, &e), 0, "%s", e.msg);
    for (int i = 0; i < CALLS; i++) {
        char ev[96];
        chat(body, sizeof body, i, "");
        cr_assert_eq(pcall(&g, c, "/v1/chat/completions", body, &out, NULL), 200, "%s",
                     lg_buf_cstr(&out));
        lg_buf_init(&recorded[i]);
        cr_assert_eq(lg_buf_append(&recorded[i], out.data, out.len), 0);
        snprintf(ev, sizeof ev, "{\"type\":\"note\",\"text\":\"after %d\"}", i);
        cr_assert_eq(pcall(&g, c, "/event", ev, &out, NULL), 200, "%s", lg_buf_cstr(&out));
        char want[48];
        snprintf(want, sizeof want, "\"seq\":%d", 2 * i + 1);
        cr_expect(strstr(lg_buf_cstr(&out), want), "event %d: %s", i, lg_buf_cstr(&out));
    }
    lg_proxy_report rep;
    cr_assert_eq(lg_proxy_session_close(g.px, g.token, &rep, &e), 0, "%s", e.msg);
    cr_expect_eq(rep.calls, (size_t)CALLS);
    cr_expect(rep.committed);
    lg_proxy_report_release(&rep);
    prig_stop(&g);

    /* what was stored: in order, redacted, fingerprinted as the matcher does */
    lg_store *st;
    int64_t id;
    lg_session_reader *r;
    cr_assert_eq(lg_store_open(path, LG_STORE_READ, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_find_session(st, "s1", &id, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_read(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_session_reader_count(r), 2u * CALLS);
    for (int i = 0; i < CALLS; i++) {
        const lg_event *ev;
        cr_assert_eq(lg_session_reader_event(r, 2 * (size_t)i, &ev, &e), 0, "%s", e.msg);
        cr_assert_eq(ev->kind, LG_EVENT_MODEL, "event %d", 2 * i);
        cr_expect_str_eq(ev->model.model, "gpt-fast");
        cr_expect_null(memmem(ev->model.request.data, ev->model.request.len,
                              "sk-fast-0123456789abcdef", 24), "redacted before storing");
        cr_expect(memmem(ev->model.request.data, ev->model.request.len, "<redacted:api_key>", 18));
        lg_match_request mr = {"POST", "/v1/chat/completions", ev->model.request.data,
                               ev->model.request.len};
        lg_hash128 fp;
        lg_match_config *mc = lg_match_config_new();
        cr_assert_eq(lg_match_config_ignore(mc, "metadata", &e), 0);
        cr_assert_eq(lg_match_fingerprint(mc, &mr, &fp, &e), 0, "%s", e.msg);
        lg_match_config_free(mc);
        cr_expect(lg_hash_equal(fp, ev->model.fingerprint), "call %d fingerprint", i);
        /* the sim's answer quotes the question: stored redacted too */
        cr_expect_null(memmem(ev->model.response.data, ev->model.response.len,
                              "sk-fast-0123456789abcdef", 24));
        lg_buf_reset(&recorded[i]); /* what replay must serve */
        cr_assert_eq(lg_buf_append(&recorded[i], ev->model.response.data, ev->model.response.len), 0);
        cr_assert_eq(lg_session_reader_event(r, 2 * (size_t)i + 1, &ev, &e), 0, "%s", e.msg);
        cr_assert_eq(ev->kind, LG_EVENT_NOTE, "event %d", 2 * i + 1);
    }
    lg_session_reader_free(r);
    lg_store_close(st);

    /* replay with a log store: byte-identical requests (secret included:
     * redacted the same way first), one with an ignored field that only
     * the fingerprint path can match; recorded headers served */
    char logp[160];
    snprintf(logp, sizeof logp, "%s/log.lgt", dir);
    memset(&g, 0, sizeof g);
    prig_start(&g, LG_PROXY_REPLAY, path, logp);
    lg_session_desc d2 = {"s1", NULL, NULL, -1, -1, 0};
    cr_assert_eq(lg_proxy_session_open(g.px, &d2, g.token, &e), 0, "%s", e.msg);
    for (int i = 0; i < CALLS; i++) {
        chat(body, sizeof body, i, i == 3 ? "\"metadata\":{\"run\":42}," : "");
        cr_assert_eq(pcall(&g, c, "/v1/chat/completions", body, &out, &heads), 200, "%s",
                     lg_buf_cstr(&out));
        cr_expect_eq(out.len, recorded[i].len, "call %d", i);
        cr_expect(memcmp(out.data, recorded[i].data, out.len) == 0, "call %d", i);
        const char *hd = lg_buf_cstr(&heads);
        cr_expect(strcasestr(hd, "\r\nx-loopgate-replay: 1\r\n"), "%s", hd);
        cr_expect(strcasestr(hd, "\r\nx-request-id: "), "recorded headers: %s", hd);
        cr_expect(strcasestr(hd, "\r\ncontent-type: application/json"), "%s", hd);
    }
    cr_assert_eq(lg_proxy_session_close(g.px, g.token, &rep, &e), 0, "%s", e.msg);
    cr_expect_eq(rep.replayed, (size_t)CALLS);
    cr_expect_eq(rep.divergences, 0u);
    cr_expect_eq(rep.unused, 0u);
    lg_proxy_report_release(&rep);
    prig_stop(&g);

    /* the run's log holds the served calls with the requests as they came
     * (redacted), the recorded one for the call matched by fingerprint */
    cr_assert_eq(lg_store_open(logp, LG_STORE_READ, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_find_session(st, "s1", &id, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_store_session_read(st, id, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_session_reader_calls(r), (size_t)CALLS);
    for (int i = 0; i < CALLS; i++) {
        const lg_event *ev;
        cr_assert_eq(lg_session_reader_call(r, (size_t)i, &ev, &e), 0, "%s", e.msg);
        cr_expect_null(memmem(ev->model.request.data, ev->model.request.len,
                              "sk-fast-0123456789abcdef", 24));
        cr_expect_null(memmem(ev->model.request.data, ev->model.request.len, "metadata", 8),
                       "call %d: the recorded request", i);
        cr_expect_eq(ev->model.response.len, recorded[i].len);
    }
    lg_session_reader_free(r);
    lg_store_close(st);
    for (int i = 0; i < CALLS; i++)
        lg_buf_release(&recorded[i]);
    lg_buf_release(&out);
    lg_buf_release(&heads);
    curl_easy_cleanup(c);
}
