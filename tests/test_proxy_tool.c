/* tests/test_proxy_tool.c - the proxy's tool gate (POST /s/<token>/tool),
 * idempotency keys, per-request deadlines (x-loopgate-timeout-ms), the
 * replay marker, and recorder/client.c, which every request here goes
 * through. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/fs.h"
#include "core/json.h"
#include "recorder/client.h"
#include "recorder/httpd.h"
#include "recorder/proxy.h"
#include "recorder/store.h"

static char dir[64], path[128], logpath[128];

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/lg-ptool-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/t.lgt", dir);
    snprintf(logpath, sizeof logpath, "%s/log.lgt", dir);
}

static void teardown(void)
{
    lg_err err = LG_ERR_INIT;
    (void)!lg_fs_rm_rf(dir, &err);
}

TestSuite(ptool, .init = setup, .fini = teardown, .timeout = 60);

/* A slow upstream: answers every request after 2 s. */
static int slow_handler(lg_httpd_req *r, void *ud)
{
    (void)ud;
    if (!lg_httpd_req_in_worker(r))
        return LG_HTTPD_OFFLOAD;
    lg_clock_sleep_ns(2000000000ull);
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    (void)!lg_http_headers_add(&h, "content-type", "application/json");
    (void)!lg_httpd_respond(r, 200, &h, "{\"ok\":true}", 11, NULL);
    lg_http_headers_release(&h);
    return LG_HTTPD_DONE;
}

/* An upstream that answers with the case and trial headers it got. */
static int echo_handler(lg_httpd_req *r, void *ud)
{
    (void)ud;
    char b[256];
    const char *c = lg_httpd_req_header(r, "x-loopgate-case"), *t = lg_httpd_req_header(r, "x-loopgate-trial");
    int n = snprintf(b, sizeof b, "{\"case\":\"%s\",\"trial\":\"%s\"}", c ? c : "-", t ? t : "-");
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    (void)!lg_http_headers_add(&h, "content-type", "application/json");
    (void)!lg_httpd_respond(r, 200, &h, b, (size_t)n, NULL);
    lg_http_headers_release(&h);
    return LG_HTTPD_DONE;
}

typedef struct rig {
    lg_store *st, *log;
    lg_proxy *px;
    lg_client *cl;
    char token[LG_PROXY_TOKEN_MAX];
    lg_client_resp resp;
} rig;

static void rig_start(rig *g, int mode, int on_div, const char *upstream)
{
    lg_err err = LG_ERR_INIT;
    lg_proxy_opts o;
    memset(g, 0, sizeof *g);
    lg_client_resp_init(&g->resp);
    cr_assert_eq(lg_store_open(path, mode == LG_PROXY_REPLAY && on_div == LG_PROXY_DIVERGE_FAIL
                                         ? LG_STORE_READ : LG_STORE_WRITE, &g->st, &err), 0,
                 "%s", err.msg);
    memset(&o, 0, sizeof o);
    o.mode = mode;
    o.store = g->st;
    o.on_divergence = on_div;
    o.upstream = upstream ? upstream : "http://127.0.0.1:9";
    if (mode == LG_PROXY_REPLAY) {
        cr_assert_eq(lg_store_open(logpath, LG_STORE_WRITE, &g->log, &err), 0, "%s", err.msg);
        o.log_store = g->log;
    }
    cr_assert_eq(lg_proxy_start(&o, &g->px, &err), 0, "%s", err.msg);
    lg_session_desc d = {"s1", "run", "suite", 3, 1, 0};
    cr_assert_eq(lg_proxy_session_open(g->px, &d, g->token, &err), 0, "%s", err.msg);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/s/%s", lg_proxy_port(g->px), g->token);
    lg_client_opts co = {0};
    co.base_url = url;
    co.timeout_ms = 20000;
    cr_assert_eq(lg_client_new(&co, &g->cl, &err), 0, "%s", err.msg);
}

static void rig_stop(rig *g, lg_proxy_report *rep)
{
    lg_err err = LG_ERR_INIT;
    lg_client_free(g->cl);
    lg_client_resp_release(&g->resp);
    cr_assert_eq(lg_proxy_session_close(g->px, g->token, rep, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_proxy_stop(g->px, NULL, &err), 0, "%s", err.msg);
    lg_store_close(g->st);
    lg_store_close(g->log);
}

/* POSTs JSON text to PATH; returns the parsed answer (owned). */
static json_t *post(rig *g, const char *p, const char *json)
{
    lg_err err = LG_ERR_INIT;
    json_t *body = json_loads(json, 0, NULL), *out = NULL;
    cr_assert_not_null(body, "bad test JSON: %s", json);
    cr_assert_eq(lg_client_post_json(g->cl, p, body, &g->resp, &out, &err), 0, "%s", err.msg);
    json_decref(body);
    return out;
}

static json_t *tool(rig *g, const char *json)
{
    return post(g, "/tool", json);
}

static void tool_event(rig *g, const char *name, const char *args, const char *out, int code,
                       const char *key)
{
    char b[1024];
    snprintf(b, sizeof b,
             "{\"type\":\"tool\",\"name\":\"%s\",\"args\":%s,\"stdout\":\"%s\",\"exit_code\":%d%s%s%s}",
             name, args, out, code, key ? ",\"idempotency_key\":\"" : "", key ? key : "",
             key ? "\"" : "");
    json_t *a = post(g, "/event", b);
    cr_assert_eq(g->resp.status, 200, "%s", lg_buf_cstr(&g->resp.body));
    json_decref(a);
}

static void record_three(void)
{
    rig g;
    rig_start(&g, LG_PROXY_RECORD, LG_PROXY_DIVERGE_FAIL, NULL);
    json_t *a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\",\"-l\"]}");
    cr_expect_eq(g.resp.status, 200);
    cr_expect(json_is_false(json_object_get(a, "replay")));
    json_decref(a);
    tool_event(&g, "ls", "[\"ls\",\"-l\"]", "a\\nb\\n", 0, NULL);
    tool_event(&g, "pay", "{\"amount\":5}", "paid 5", 0, "k1");
    /* a repeated key: the first result, in record mode too */
    a = tool(&g, "{\"name\":\"pay\",\"args\":{\"amount\":5},\"idem_key\":\"k1\"}");
    cr_expect(json_is_true(json_object_get(a, "replay")));
    cr_expect(json_is_true(json_object_get(a, "idempotent")));
    cr_expect_str_eq(lg_json_str(a, "stdout", ""), "paid 5");
    json_decref(a);
    tool_event(&g, "cat", "{\"f\":\"x\"}", "X", 1, NULL);
    /* a built-in pseudo tool: never replayed */
    tool_event(&g, "final_answer", "{\"answer\":\"42\"}", "", -1, NULL);
    lg_proxy_report rep;
    rig_stop(&g, &rep);
    cr_expect_eq(rep.tools, 1);
    cr_expect_eq(rep.idempotent_hits, 1);
    cr_expect_eq(rep.events, 4);
    lg_proxy_report_release(&rep);
}

Test(ptool, replay_matches_in_order_then_by_equality_and_reports_the_rest)
{
    record_three();
    rig g;
    rig_start(&g, LG_PROXY_REPLAY, LG_PROXY_DIVERGE_FAIL, NULL);
    /* out of order: pay first (recorded second) */
    json_t *a = tool(&g, "{\"name\":\"pay\",\"args\":{\"amount\":5},\"idem_key\":\"k1\"}");
    cr_expect_eq(g.resp.status, 200);
    cr_expect(json_is_true(json_object_get(a, "replay")));
    cr_expect_null(json_object_get(a, "idempotent"));
    cr_expect_str_eq(lg_json_str(a, "stdout", ""), "paid 5");
    cr_expect_str_eq(lg_buf_cstr(&g.resp.body),
                     "{\"duration_us\":0,\"exit_code\":0,\"replay\":true,\"result\":null,"
                     "\"stderr\":\"\",\"stdout\":\"paid 5\"}");
    json_decref(a);
    /* its key is now known: a repeat is idempotent, and consumes nothing */
    a = tool(&g, "{\"name\":\"pay\",\"args\":{\"amount\":5},\"idem_key\":\"k1\"}");
    cr_expect(json_is_true(json_object_get(a, "idempotent")));
    json_decref(a);
    /* ls: args compared canonically */
    a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\",\"-l\"]}");
    cr_expect_str_eq(lg_json_str(a, "stdout", ""), "a\nb\n");
    json_decref(a);
    lg_proxy_report rep;
    rig_stop(&g, &rep);
    cr_expect_eq(rep.tools, 2);
    cr_expect_eq(rep.tools_replayed, 2);
    cr_expect_eq(rep.idempotent_hits, 1);
    cr_expect_eq(rep.unused_tools, 1, "cat was never asked; final_answer does not count");
    cr_expect(strstr(rep.message, "recorded tool call 2 ('cat') was never requested"), "%s",
              rep.message);
    cr_expect_eq(rep.divergences, 0);
    lg_proxy_report_release(&rep);
    /* the run's log holds the replayed tool events, with the asked key */
    lg_store *st;
    lg_err err = LG_ERR_INIT;
    int64_t id;
    lg_session_reader *rd;
    const lg_event *ev;
    cr_assert_eq(lg_store_open(logpath, LG_STORE_READ, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_store_find_session(st, "s1", &id, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_store_session_read(st, id, &rd, &err), 0);
    cr_assert_eq(lg_session_reader_count(rd), 2);
    cr_assert_eq(lg_session_reader_event(rd, 0, &ev, &err), 0);
    cr_expect_str_eq(ev->tool.name, "pay");
    cr_expect_str_eq(ev->tool.idem_key, "k1");
    cr_assert_eq(lg_session_reader_event(rd, 1, &ev, &err), 0);
    cr_expect_str_eq(ev->tool.name, "ls");
    lg_session_reader_free(rd);
    lg_store_close(st);
}

Test(ptool, a_call_not_in_the_recording_is_a_409_divergence)
{
    record_three();
    rig g;
    rig_start(&g, LG_PROXY_REPLAY, LG_PROXY_DIVERGE_FAIL, NULL);
    json_t *a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\",\"-la\"]}");
    cr_expect_eq(g.resp.status, 409);
    const json_t *e = json_object_get(a, "error");
    cr_expect_str_eq(lg_json_str(e, "type", ""), "loopgate_divergence");
    cr_expect_str_eq(lg_json_str(e, "path", ""), "tool[0].args[1]");
    cr_expect_eq(lg_json_int(e, "tool_call", -1), 0);
    cr_expect(strstr(lg_json_str(e, "diff", ""), "\n--l\n+-la\n"), "%s", lg_json_str(e, "diff", ""));
    cr_expect(strstr(lg_json_str(e, "message", ""), "session s1, tool call 0 ('ls'): differs from "
                     "the recording at tool[0].args[1]"), "%s", lg_json_str(e, "message", ""));
    json_decref(a);
    a = tool(&g, "{\"name\":\"rm\",\"args\":{}}");
    cr_expect_eq(g.resp.status, 409);
    cr_expect_str_eq(lg_json_str(json_object_get(a, "error"), "path", ""), "tool[1].name");
    json_decref(a);
    lg_proxy_report rep;
    rig_stop(&g, &rep);
    cr_expect_eq(rep.divergences, 2);
    lg_proxy_report_release(&rep);
}

Test(ptool, live_divergence_and_record_missing_let_the_client_run_it)
{
    record_three();
    rig g;
    rig_start(&g, LG_PROXY_REPLAY, LG_PROXY_DIVERGE_LIVE, NULL);
    json_t *a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\",\"-la\"]}");
    cr_expect_eq(g.resp.status, 200);
    cr_expect(json_is_false(json_object_get(a, "replay")));
    json_decref(a);
    /* live from here on: even a recorded call runs */
    a = tool(&g, "{\"name\":\"pay\",\"args\":{\"amount\":5}}");
    cr_expect(json_is_false(json_object_get(a, "replay")));
    json_decref(a);
    lg_proxy_report rep;
    rig_stop(&g, &rep);
    cr_expect_eq(rep.divergences, 1);
    lg_proxy_report_release(&rep);

    record_three();
    rig_start(&g, LG_PROXY_RECORD_MISSING, LG_PROXY_DIVERGE_FAIL, NULL);
    a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\",\"-l\"]}");
    cr_expect(json_is_true(json_object_get(a, "replay")), "recorded: replayed");
    json_decref(a);
    a = tool(&g, "{\"name\":\"new\",\"args\":{}}");
    cr_expect_eq(g.resp.status, 200);
    cr_expect(json_is_false(json_object_get(a, "replay")), "missing: the client runs and records it");
    json_decref(a);
    rig_stop(&g, &rep);
    cr_expect_eq(rep.divergences, 0);
    lg_proxy_report_release(&rep);
}

Test(ptool, live_tools_are_matched_but_run_by_the_client)
{
    record_three();
    rig g;
    rig_start(&g, LG_PROXY_REPLAY, LG_PROXY_DIVERGE_FAIL, NULL);
    json_t *a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\",\"-l\"],\"live\":true}");
    cr_expect_eq(g.resp.status, 200);
    cr_expect(json_is_false(json_object_get(a, "replay")));
    cr_expect(json_is_true(json_object_get(a, "matched")));
    json_decref(a);
    a = tool(&g, "{\"name\":\"ls\",\"args\":[\"ls\"],\"live\":true}");
    cr_expect_eq(g.resp.status, 409, "a live call not in the recording still diverges");
    json_decref(a);
    lg_proxy_report rep;
    rig_stop(&g, &rep);
    cr_expect_eq(rep.tools_replayed, 0);
    lg_proxy_report_release(&rep);
}

Test(ptool, bad_tool_requests_are_400)
{
    rig g;
    rig_start(&g, LG_PROXY_RECORD, LG_PROXY_DIVERGE_FAIL, NULL);
    json_t *a = tool(&g, "{\"args\":[]}");
    cr_expect_eq(g.resp.status, 400);
    cr_expect(strstr(lg_buf_cstr(&g.resp.body), "needs a JSON object {\\\"name\\\""), "%s",
              lg_buf_cstr(&g.resp.body));
    json_decref(a);
    rig_stop(&g, NULL);
}

Test(ptool, deadline_header_becomes_a_recorded_timeout_and_replays_marked)
{
    lg_httpd *slow;
    lg_err err = LG_ERR_INIT;
    lg_httpd_opts ho = {0};
    char up[64];
    ho.handler = slow_handler;
    cr_assert_eq(lg_httpd_start(&ho, &slow, &err), 0, "%s", err.msg);
    snprintf(up, sizeof up, "http://127.0.0.1:%u", lg_httpd_port(slow));
    rig g;
    rig_start(&g, LG_PROXY_RECORD, LG_PROXY_DIVERGE_FAIL, up);
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    cr_assert_eq(lg_http_headers_add(&h, "content-type", "application/json"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "x-loopgate-timeout-ms", "200"), 0);
    uint64_t t0 = lg_clock_mono_ns();
    cr_assert_eq(lg_client_request(g.cl, "POST", "/v1/chat/completions", &h, "{}", 2, NULL, NULL,
                                   &g.resp, &err), 0, "%s", err.msg);
    double s = (double)(lg_clock_mono_ns() - t0) / 1e9;
    cr_expect_eq(g.resp.status, 504);
    cr_expect_lt(s, 1.5, "the proxy gave up at the client's deadline");
    cr_expect(strstr(lg_buf_cstr(&g.resp.body), "\"fault\":\"timeout\""), "%s",
              lg_buf_cstr(&g.resp.body));
    cr_expect_null(lg_http_headers_get(&g.resp.headers, "x-loopgate-replay"));
    rig_stop(&g, NULL);
    lg_httpd_stop(slow);

    rig_start(&g, LG_PROXY_REPLAY, LG_PROXY_DIVERGE_FAIL, NULL);
    cr_assert_eq(lg_client_request(g.cl, "POST", "/v1/chat/completions", &h, "{}", 2, NULL, NULL,
                                   &g.resp, &err), 0, "%s", err.msg);
    cr_expect_eq(g.resp.status, 504);
    cr_expect_str_eq(lg_http_headers_get(&g.resp.headers, "x-loopgate-replay"), "1");
    lg_http_headers_release(&h);
    rig_stop(&g, NULL);
}

Test(ptool, retry_after_forms)
{
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    cr_expect_eq(lg_client_retry_after_ms(&h), -1);
    cr_assert_eq(lg_http_headers_add(&h, "Retry-After", "2"), 0);
    cr_expect_eq(lg_client_retry_after_ms(&h), 2000);
    cr_assert_eq(lg_http_headers_set(&h, "Retry-After", "0.25"), 0);
    cr_expect_eq(lg_client_retry_after_ms(&h), 250);
    cr_assert_eq(lg_http_headers_add(&h, "retry-after-ms", "1500"), 0);
    cr_expect_eq(lg_client_retry_after_ms(&h), 1500, "the millisecond form wins");
    lg_http_headers_release(&h);
    cr_assert_eq(lg_http_headers_add(&h, "Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"), 0);
    cr_expect_eq(lg_client_retry_after_ms(&h), 0, "a date in the past: no wait");
    cr_assert_eq(lg_http_headers_set(&h, "Retry-After", "soon"), 0);
    cr_expect_eq(lg_client_retry_after_ms(&h), -1);
    lg_http_headers_release(&h);
}

Test(ptool, harness_sessions_tell_upstream_their_case_and_trial)
{
    lg_httpd *echo;
    lg_err err = LG_ERR_INIT;
    lg_httpd_opts ho = {0};
    char up[64];
    ho.handler = echo_handler;
    cr_assert_eq(lg_httpd_start(&ho, &echo, &err), 0, "%s", err.msg);
    snprintf(up, sizeof up, "http://127.0.0.1:%u", lg_httpd_port(echo));
    rig g;
    rig_start(&g, LG_PROXY_RECORD, LG_PROXY_DIVERGE_FAIL, up);
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    cr_assert_eq(lg_http_headers_add(&h, "x-loopgate-case", "99"), 0);
    cr_assert_eq(lg_client_request(g.cl, "POST", "/v1/chat/completions", &h, "{}", 2, NULL, NULL,
                                   &g.resp, &err), 0, "%s", err.msg);
    cr_expect_str_eq(lg_buf_cstr(&g.resp.body), "{\"case\":\"3\",\"trial\":\"1\"}");
    lg_http_headers_release(&h);
    rig_stop(&g, NULL);
    lg_httpd_stop(echo);
}
