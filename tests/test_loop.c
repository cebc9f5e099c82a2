/* tests/test_loop.c - the built-in loop engine (harness/loop.c) end to end in
 * one process: a scripted fake model upstream (a recorder/httpd handler that
 * answers call n with canned response n and keeps every request), the real
 * proxy in record (and replay) mode in front of it with a trace store, and
 * lg_loop_run() driving tools that are real shell commands in a temporary
 * work directory. One test per termination reason, per retry class,
 * idempotency, the approval gate and the escalation packet; and a run
 * against the simulated model (harness/sim_server) for both providers. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/json.h"
#include "harness/loop.h"
#include "harness/loop_config.h"
#include "harness/sim_server.h"
#include "recorder/httpd.h"
#include "recorder/proxy.h"
#include "recorder/store.h"

/* ------------------------------------------------------------ fake upstream */

typedef struct canned {
    int status;
    char *body;           /* owned */
    const char *hname, *hvalue; /* one extra header, or NULL */
    bool sse;             /* text/event-stream */
    bool cut;             /* send half the body, then drop the connection */
    unsigned delay_ms;    /* before answering */
} canned;

#define MAX_SCRIPT 32
#define MAX_REQS 64

typedef struct fake {
    lg_httpd *h;
    pthread_mutex_t mu;
    canned script[MAX_SCRIPT];
    size_t n, next;
    char *reqs[MAX_REQS];
    size_t nreqs;
} fake;

static int fake_handler(lg_httpd_req *r, void *ud)
{
    fake *f = ud;
    canned *c = lg_httpd_req_ctx(r);
    if (!c) {
        size_t len;
        const char *body = lg_httpd_req_body(r, &len);
        pthread_mutex_lock(&f->mu);
        if (f->nreqs < MAX_REQS)
            f->reqs[f->nreqs++] = strndup(body, len);
        size_t i = f->next < f->n ? f->next++ : f->n - 1; /* the last one repeats */
        c = &f->script[i];
        pthread_mutex_unlock(&f->mu);
        lg_httpd_req_set_ctx(r, c, NULL);
        if (c->delay_ms && !lg_httpd_req_in_worker(r))
            return LG_HTTPD_OFFLOAD;
    }
    if (c->delay_ms)
        lg_clock_sleep_ns((uint64_t)c->delay_ms * 1000000ull);
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    cr_assert_eq(lg_http_headers_add(&hd, "content-type",
                                     c->sse ? "text/event-stream" : "application/json"), 0);
    if (c->hname)
        cr_assert_eq(lg_http_headers_add(&hd, c->hname, c->hvalue), 0);
    size_t len = strlen(c->body);
    if (c->cut) {
        lg_httpd_stream *st;
        if (lg_httpd_stream_begin(r, c->status, &hd, -1, &st, NULL) == 0) {
            (void)!lg_httpd_stream_write(st, c->body, len / 2);
            lg_httpd_stream_end(st, false);
        }
    } else {
        (void)!lg_httpd_respond(r, c->status, &hd, c->body, len, NULL);
    }
    lg_http_headers_release(&hd);
    return LG_HTTPD_DONE;
}

/* ------------------------------------------------------------ canned bodies */

static int tok_in = 10, tok_out = 5;

static char *dump(json_t *j)
{
    cr_assert_not_null(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static json_t *usage(void)
{
    return json_pack("{s:i,s:i,s:i}", "prompt_tokens", tok_in, "completion_tokens", tok_out,
                     "total_tokens", tok_in + tok_out);
}

/* An OpenAI reply asking for one tool call (raw argument text). */
static char *oai_tool(const char *id, const char *name, const char *args)
{
    return dump(json_pack("{s:s,s:s,s:s,s:[{s:i,s:{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]},s:s}],s:o}",
                          "id", "chatcmpl-x", "object", "chat.completion", "model", "m",
                          "choices", "index", 0, "message", "role", "assistant", "content",
                          "tool_calls", "id", id, "type", "function", "function", "name", name,
                          "arguments", args, "finish_reason", "tool_calls", "usage", usage()));
}

static char *oai_text(const char *text)
{
    return dump(json_pack("{s:s,s:s,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:o}", "id", "chatcmpl-x",
                          "object", "chat.completion", "model", "m", "choices", "index", 0,
                          "message", "role", "assistant", "content", text, "finish_reason",
                          "stop", "usage", usage()));
}

static char *oai_error(const char *type, const char *msg)
{
    return dump(json_pack("{s:{s:s,s:s}}", "error", "type", type, "message", msg));
}

/* A streamed OpenAI text reply, with its [DONE]. */
static char *oai_stream_text(const char *text)
{
    lg_buf b = LG_BUF_INIT;
    char *c1 = dump(json_pack("{s:s,s:s,s:[{s:i,s:{s:s,s:s}}]}", "id", "x", "model", "m",
                              "choices", "index", 0, "delta", "role", "assistant", "content",
                              text));
    char *c2 = dump(json_pack("{s:s,s:s,s:[{s:i,s:{},s:s}]}", "id", "x", "model", "m", "choices",
                              "index", 0, "delta", "finish_reason", "stop"));
    char *c3 = dump(json_pack("{s:s,s:s,s:[],s:o}", "id", "x", "model", "m", "choices", "usage",
                              usage()));
    cr_assert_eq(lg_buf_appendf(&b, "data: %s\n\ndata: %s\n\ndata: %s\n\ndata: [DONE]\n\n", c1,
                                c2, c3), 0);
    free(c1);
    free(c2);
    free(c3);
    return lg_buf_take(&b, NULL);
}

/* ------------------------------------------------------------ the rig */

static char dir[64], wd[128], store_path[128];

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the CLI does: a tool that ignores its stdin */
    snprintf(dir, sizeof dir, "/tmp/lg-loop-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(wd, sizeof wd, "%s/work", dir);
    snprintf(store_path, sizeof store_path, "%s/t.lgt", dir);
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_fs_mkdir_p(wd, &err), 0);
    tok_in = 10;
    tok_out = 5;
}

static void teardown(void)
{
    lg_err err = LG_ERR_INIT;
    (void)!lg_fs_rm_rf(dir, &err);
}

TestSuite(loop, .init = setup, .fini = teardown, .timeout = 60);

typedef struct rig {
    fake f;
    lg_sim_server *sim;
    lg_store *st;
    lg_proxy *px;
    lg_suite *suite;
    lg_pricing *pricing;
    const char *approvals[4];
    size_t napprovals;
    uint64_t seed;
    lg_loop_result res;
    double elapsed_s;
    json_t *case_pub;
} rig;

static void add(rig *g, int status, char *body)
{
    cr_assert_lt(g->f.n, (size_t)MAX_SCRIPT);
    g->f.script[g->f.n++] = (canned){status, body, NULL, NULL, false, false, 0};
}

static canned *last(rig *g) { return &g->f.script[g->f.n - 1]; }

static void start_fake(rig *g)
{
    lg_err err = LG_ERR_INIT;
    lg_httpd_opts o = {0};
    pthread_mutex_init(&g->f.mu, NULL);
    o.handler = fake_handler;
    o.ud = &g->f;
    cr_assert_eq(lg_httpd_start(&o, &g->f.h, &err), 0, "%s", err.msg);
}

static void start_proxy(rig *g, int mode, unsigned upstream_port)
{
    lg_err err = LG_ERR_INIT;
    char up[64];
    lg_proxy_opts o;
    memset(&o, 0, sizeof o);
    snprintf(up, sizeof up, "http://127.0.0.1:%u", upstream_port);
    cr_assert_eq(lg_store_open(store_path, mode == LG_PROXY_REPLAY ? LG_STORE_READ : LG_STORE_WRITE,
                               &g->st, &err), 0, "%s", err.msg);
    o.mode = mode;
    o.store = g->st;
    o.upstream = up;
    o.upstream_idle_ms = 5000;
    cr_assert_eq(lg_proxy_start(&o, &g->px, &err), 0, "%s", err.msg);
}

static void stop_all(rig *g)
{
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_proxy_stop(g->px, NULL, &err), 0, "%s", err.msg);
    g->px = NULL;
    lg_store_close(g->st);
    g->st = NULL;
    if (g->f.h) {
        lg_httpd_stop(g->f.h);
        g->f.h = NULL;
    }
    lg_sim_server_stop(g->sim);
    g->sim = NULL;
}

static void rig_free(rig *g)
{
    if (g->px || g->f.h || g->sim)
        stop_all(g);
    for (size_t i = 0; i < g->f.n; i++)
        free(g->f.script[i].body);
    for (size_t i = 0; i < g->f.nreqs; i++)
        free(g->f.reqs[i]);
    lg_suite_free(g->suite);
    lg_pricing_free(g->pricing);
    lg_loop_result_release(&g->res);
    json_decref(g->case_pub);
}

static void load_suite(rig *g, const char *yaml)
{
    char p[160];
    lg_err err = LG_ERR_INIT;
    snprintf(p, sizeof p, "%s/s.yaml", dir);
    cr_assert_eq(lg_fs_write_file_atomic(p, yaml, strlen(yaml), &err), 0);
    lg_suite_free(g->suite);
    g->suite = NULL;
    cr_assert_eq(lg_suite_load(p, &g->suite, &err), 0, "%s", err.msg);
    json_decref(g->case_pub);
    g->case_pub = NULL;
    cr_assert_eq(lg_cases_generate(g->suite, 0, 0, &g->case_pub, &err), 0, "%s", err.msg);
}

/* Records (or replays) one trial: session "0.0", the loop, close. */
static void run_trial(rig *g)
{
    lg_err err = LG_ERR_INIT;
    char token[LG_PROXY_TOKEN_MAX], url[160];
    lg_session_desc d = {"0.0", "run", "s", 0, 0, 0};
    cr_assert_eq(lg_proxy_session_open(g->px, &d, token, &err), 0, "%s", err.msg);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/s/%s", lg_proxy_port(g->px), token);
    lg_loop_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.suite = g->suite;
    ctx.case_pub = g->case_pub;
    ctx.session_url = url;
    ctx.session_key = "0.0";
    ctx.workdir = wd;
    ctx.approvals = g->approvals;
    ctx.n_approvals = g->napprovals;
    ctx.seed = g->seed;
    ctx.timeout_s = 30;
    ctx.pricing = g->pricing;
    lg_loop_result_release(&g->res);
    uint64_t t0 = lg_clock_mono_ns();
    cr_assert_eq(lg_loop_run(&ctx, &g->res, &err), 0, "%s", err.msg);
    g->elapsed_s = (double)(lg_clock_mono_ns() - t0) / 1e9;
    cr_assert_eq(lg_proxy_session_close(g->px, token, NULL, &err), 0, "%s", err.msg);
}

static void expect_reason(const rig *g, lg_term_reason want)
{
    cr_assert_eq(g->res.reason, want, "reason %s, want %s; detail: %s",
                 lg_term_reason_name(g->res.reason), lg_term_reason_name(want),
                 g->res.detail ? g->res.detail : "(none)");
}

/* The recorded session's events as "kind[:name]" words, space separated. */
static char *event_kinds(void)
{
    lg_store *st;
    lg_err err = LG_ERR_INIT;
    int64_t id;
    lg_session_reader *rd;
    lg_buf b = LG_BUF_INIT;
    cr_assert_eq(lg_store_open(store_path, LG_STORE_READ, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_store_find_session(st, "0.0", &id, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_store_session_read(st, id, &rd, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < lg_session_reader_count(rd); i++) {
        const lg_event *ev;
        cr_assert_eq(lg_session_reader_event(rd, i, &ev, &err), 0, "%s", err.msg);
        cr_assert_eq(lg_buf_appendf(&b, "%s%s", b.len ? " " : "", lg_event_kind_name(ev->kind)), 0);
        if (ev->kind == LG_EVENT_TOOL)
            cr_assert_eq(lg_buf_appendf(&b, ":%s", ev->tool.name), 0);
        if (ev->kind == LG_EVENT_NOTE)
            cr_assert_eq(lg_buf_appendf(&b, ":%s", ev->note.text), 0);
        if (ev->kind == LG_EVENT_END)
            cr_assert_eq(lg_buf_appendf(&b, ":%s", ev->end.reason), 0);
        if (ev->kind == LG_EVENT_VERIFY)
            cr_assert_eq(lg_buf_appendf(&b, ":%s", ev->verify.pass ? "pass" : "fail"), 0);
    }
    lg_session_reader_free(rd);
    lg_store_close(st);
    return lg_buf_take(&b, NULL);
}

/* The data of the first note whose text starts with `prefix` (owned). */
static json_t *note_data(const char *prefix)
{
    lg_store *st;
    lg_err err = LG_ERR_INIT;
    int64_t id;
    lg_session_reader *rd;
    json_t *out = NULL;
    cr_assert_eq(lg_store_open(store_path, LG_STORE_READ, &st, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_store_find_session(st, "0.0", &id, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_store_session_read(st, id, &rd, &err), 0, "%s", err.msg);
    for (size_t i = 0; !out && i < lg_session_reader_count(rd); i++) {
        const lg_event *ev;
        cr_assert_eq(lg_session_reader_event(rd, i, &ev, &err), 0, "%s", err.msg);
        if (ev->kind == LG_EVENT_NOTE && strncmp(ev->note.text, prefix, strlen(prefix)) == 0 &&
            ev->note.data)
            out = json_loads(ev->note.data, 0, NULL);
    }
    lg_session_reader_free(rd);
    lg_store_close(st);
    return out;
}

static int counter(const char *name)
{
    char p[200];
    lg_buf b = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (lg_fs_read_file(p, &b, &err)) {
        lg_buf_release(&b);
        return 0;
    }
    int n = 0;
    for (size_t i = 0; i < b.len; i++)
        n += b.data[i] == '\n';
    lg_buf_release(&b);
    return n;
}

static bool req_has(const rig *g, size_t i, const char *needle)
{
    return i < g->f.nreqs && strstr(g->f.reqs[i], needle) != NULL;
}

/* A suite around a builtin block; %s is the rest of the block (indented 4),
 * DIR in it is replaced by the test directory. */
static void suite_with(rig *g, const char *block)
{
    lg_buf y = LG_BUF_INIT, b = LG_BUF_INIT;
    for (const char *p = block; *p; p++) {
        if (strncmp(p, "DIR", 3) == 0) {
            cr_assert_eq(lg_buf_append_str(&b, dir), 0);
            p += 2;
        } else {
            cr_assert_eq(lg_buf_append_byte(&b, *p), 0);
        }
    }
    cr_assert_eq(lg_buf_appendf(&y,
                                "name: t\n"
                                "cases:\n"
                                "  count: 1\n"
                                "  generators:\n"
                                "    city: {choice: [Paris]}\n"
                                "    expected: {choice: ['42'], hidden: true}\n"
                                "loop:\n"
                                "  builtin:\n"
                                "    provider: openai\n"
                                "    model: m\n"
                                "    prompt: \"What is the answer for {{city}}?\"\n"
                                "%s",
                                lg_buf_cstr(&b)),
                 0);
    load_suite(g, y.data);
    lg_buf_release(&y);
    lg_buf_release(&b);
}

/* A tool `count` that appends a line to DIR/count and prints "counted N". */
#define COUNT_TOOL                                                                             \
    "    tools:\n"                                                                             \
    "      - name: count\n"                                                                    \
    "        parameters: {type: object, properties: {n: {type: integer}}}\n"                   \
    "        command: 'echo x >> DIR/count; echo counted $(wc -l < DIR/count) n={{n}}'\n"

/* ------------------------------------------------------------ the contract */

Test(loop, final_answer_tool_ends_the_loop_and_every_step_is_an_event)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL);
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_str_eq(g.res.answer, "42");
    cr_expect_eq(g.res.iterations, 2);
    cr_expect_eq(g.res.tool_runs, 1);
    cr_expect_eq(counter("count"), 1);
    cr_expect_eq(g.res.tokens_in, 20);
    cr_expect_eq(g.res.tokens_out, 10);
    /* the tool's output went back to the model with its call id */
    cr_expect(req_has(&g, 1, "\"tool_call_id\":\"c1\""), "%s", g.f.reqs[1]);
    cr_expect(req_has(&g, 1, "counted 1 n=1"), "%s", g.f.reqs[1]);
    cr_expect(req_has(&g, 0, "\"name\":\"final_answer\""), "the engine declares final_answer");
    char *k = event_kinds();
    cr_expect_str_eq(k, "iteration model tool:count iteration model tool:final_answer end:success");
    free(k);
    lg_buf a = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    char p[200];
    snprintf(p, sizeof p, "%s/answer", wd);
    cr_assert_eq(lg_fs_read_file(p, &a, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&a), "42");
    lg_buf_release(&a);
    rig_free(&g);
}

Test(loop, verification_gates_the_answer_and_its_output_is_fed_back)
{
    rig g = {0};
    /* the model says it is right; only the external gate decides */
    suite_with(&g, "    feedback: \"The checker said: {{verify_output}} ({{verify_failures}} so far)\"\n"
                   "    verify:\n"
                   "      command: 'grep -qx 42 answer || { echo \"want 42, got $(cat answer)\"; exit 1; }'\n");
    add(&g, 200, oai_text("41, and I am sure this is correct"));
    add(&g, 200, oai_text("42"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_str_eq(g.res.answer, "42");
    cr_expect_eq(g.res.verify_runs, 2);
    cr_expect_eq(g.res.verify_failures, 1);
    cr_expect(req_has(&g, 1, "The checker said: want 42, got 41, and I am sure this is correct"),
              "%s", g.f.reqs[1]);
    cr_expect(req_has(&g, 1, "(1 so far)"), "%s", g.f.reqs[1]);
    char *k = event_kinds();
    cr_expect_str_eq(k, "iteration model tool:final_answer verify:fail iteration model "
                        "tool:final_answer verify:pass end:success");
    free(k);
    rig_free(&g);
}

Test(loop, each_action_verification_runs_after_tools)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL "    verify: {command: 'echo checked $(wc -l < DIR/count)', when: each_action}\n");
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.verify_runs, 2, "after the tool and on the final answer");
    cr_expect(req_has(&g, 1, "Verification passed.\\nchecked 1"), "%s", g.f.reqs[1]);
    rig_free(&g);
}

Test(loop, iteration_cap_is_max_iterations)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL "    limits: {max_iterations: 3}\n");
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "count", "{\"n\":2}"));
    add(&g, 200, oai_tool("c3", "count", "{\"n\":3}"));
    add(&g, 200, oai_tool("c4", "count", "{\"n\":4}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_MAX_ITERATIONS);
    cr_expect_eq(g.res.iterations, 3);
    cr_expect_eq(g.res.model_calls, 3);
    cr_expect_eq(counter("count"), 3);
    cr_expect(strstr(g.res.detail, "max_iterations 3"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, wall_time_cap_is_timeout)
{
    rig g = {0};
    suite_with(&g, "    tools:\n"
                   "      - {name: slow, command: 'sleep 5', timeout: 30}\n"
                   "    limits: {timeout_s: 0.8}\n");
    add(&g, 200, oai_tool("c1", "slow", "{}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_TIMEOUT);
    cr_expect_lt(g.elapsed_s, 3.5, "the tool was stopped at the cap, not after 5 s");
    cr_expect(strstr(g.res.detail, "wall-time cap"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, wall_time_cap_during_a_model_call_is_timeout)
{
    rig g = {0};
    suite_with(&g, "    limits: {timeout_s: 0.6}\n");
    add(&g, 200, oai_text("late"));
    last(&g)->delay_ms = 3000;
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_TIMEOUT);
    cr_expect_lt(g.elapsed_s, 2.5);
    rig_free(&g);
}

Test(loop, token_ceiling_is_budget_exceeded)
{
    rig g = {0};
    tok_in = 80;
    tok_out = 30;
    suite_with(&g, COUNT_TOOL "    limits: {max_tokens: 100}\n");
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_BUDGET_EXCEEDED);
    cr_expect_eq(g.res.model_calls, 1, "no call starts once the ceiling is reached");
    cr_expect(strstr(g.res.detail, "110 tokens used, max_tokens 100"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, cost_ceiling_is_budget_exceeded)
{
    rig g = {0};
    g.pricing = lg_pricing_new();
    cr_assert_eq(lg_pricing_set(g.pricing, "m", (lg_price){1000.0, 2000.0, 1000.0}), 0);
    /* 10 in + 5 out at $1000/$2000 per 1M = $0.02 per call */
    suite_with(&g, COUNT_TOOL "    limits: {max_cost_usd: 0.03}\n");
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "count", "{\"n\":2}"));
    add(&g, 200, oai_tool("c3", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_BUDGET_EXCEEDED);
    cr_expect_eq(g.res.model_calls, 2);
    cr_expect(g.res.cost_known);
    cr_expect_float_eq(g.res.cost_usd, 0.04, 1e-9);
    rig_free(&g);
}

Test(loop, no_new_tool_result_is_stalled)
{
    rig g = {0};
    suite_with(&g, "    tools:\n"
                   "      - name: look\n"
                   "        parameters: {type: object, properties: {q: {type: string}}}\n"
                   "        command: 'echo always the same'\n"
                   "        idempotent: true\n"
                   "    limits: {stall: 2}\n");
    add(&g, 200, oai_tool("c1", "look", "{\"q\":\"a\"}"));
    add(&g, 200, oai_tool("c2", "look", "{\"q\":\"b\"}"));
    add(&g, 200, oai_tool("c3", "look", "{\"q\":\"c\"}"));
    add(&g, 200, oai_tool("c4", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_STALLED);
    cr_expect_eq(g.res.iterations, 3, "fresh, then 2 iterations without a new result");
    cr_expect(strstr(g.res.detail, "stall: 2 iterations"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, repeated_action_is_stalled_and_the_repeats_do_not_run_again)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL "    limits: {repeated_action: 3}\n");
    for (int i = 0; i < 4; i++)
        add(&g, 200, oai_tool("c", "count", "{\"n\":7}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_STALLED);
    cr_expect(strstr(g.res.detail, "repeated action: 'count' called 3 times"), "%s", g.res.detail);
    /* the same non-idempotent call: same idempotency key, first result */
    cr_expect_eq(g.res.tool_runs, 1);
    cr_expect_eq(g.res.idempotent_hits, 2);
    cr_expect_eq(counter("count"), 1);
    cr_expect(req_has(&g, 2, "counted 1 n=7"), "the repeat got the first result: %s", g.f.reqs[2]);
    rig_free(&g);
}

Test(loop, rate_limit_waits_retry_after)
{
    rig g = {0};
    suite_with(&g, "");
    add(&g, 429, oai_error("rate_limit_exceeded", "slow down"));
    last(&g)->hname = "retry-after-ms";
    last(&g)->hvalue = "300";
    add(&g, 200, oai_text("42"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.retries, 1);
    cr_expect_eq(g.res.model_calls, 2);
    cr_expect_eq(g.res.backoff_ms, 300, "Retry-After honoured, not the backoff");
    cr_expect_geq(g.elapsed_s, 0.3);
    json_t *n = note_data("retry");
    cr_assert_not_null(n);
    cr_expect_str_eq(lg_json_str(n, "class", ""), "rate_limit");
    cr_expect_eq(lg_json_int(n, "wait_ms", 0), 300);
    json_decref(n);
    /* replayed: the same retry, accounted, but not slept */
    start_proxy(&g, LG_PROXY_REPLAY, 1);
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.retries, 1);
    cr_expect_eq(g.res.backoff_ms, 300);
    cr_expect_lt(g.elapsed_s, 0.25);
    rig_free(&g);
}

static uint64_t server_errors_run(uint64_t seed)
{
    rig g = {0};
    g.seed = seed;
    suite_with(&g, "    retry: {max_retries: 4, backoff_base_s: 0.1, backoff_cap_s: 0.15}\n");
    add(&g, 500, oai_error("server_error", "boom"));
    add(&g, 503, oai_error("overloaded", "busy"));
    add(&g, 502, oai_error("bad_gateway", "down"));
    add(&g, 200, oai_text("42"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.retries, 3);
    uint64_t b = g.res.backoff_ms;
    /* min(cap, base * 2^k) * [0.5, 1): 100, 150 (capped), 150 */
    cr_expect_geq(b, 50 + 75 + 75);
    cr_expect_lt(b, 100 + 150 + 150);
    cr_expect_geq(g.elapsed_s, (double)b / 1000.0);
    rig_free(&g);
    return b;
}

Test(loop, server_errors_back_off_exponentially_capped_with_seeded_jitter)
{
    uint64_t a = server_errors_run(1), b = server_errors_run(1), c = server_errors_run(2);
    cr_expect_eq(a, b, "the same seed waits the same (replay is deterministic)");
    cr_expect_neq(a, c, "another seed draws other jitter");
}

Test(loop, timeout_and_cut_stream_are_retried_and_recorded_as_such)
{
    rig g = {0};
    suite_with(&g, "    stream: true\n"
                   "    retry: {max_retries: 3, backoff_base_s: 0.01, backoff_cap_s: 0.02,"
                   " request_timeout_s: 0.3}\n");
    add(&g, 200, oai_stream_text("too late"));
    last(&g)->sse = true;
    last(&g)->delay_ms = 1500;
    add(&g, 200, oai_stream_text("cut short"));
    last(&g)->sse = true;
    last(&g)->cut = true;
    add(&g, 200, oai_stream_text("42"));
    last(&g)->sse = true;
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    lg_store *st;
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_str_eq(g.res.answer, "42");
    cr_expect_eq(g.res.retries, 2);
    /* what the proxy recorded: a timeout (its 504), a cut, the answer */
    lg_err err = LG_ERR_INIT;
    int64_t id;
    lg_session_reader *rd;
    const lg_event *ev;
    cr_assert_eq(lg_store_open(store_path, LG_STORE_READ, &st, &err), 0);
    cr_assert_eq(lg_store_find_session(st, "0.0", &id, &err), 0);
    cr_assert_eq(lg_store_session_read(st, id, &rd, &err), 0);
    cr_assert_eq(lg_session_reader_calls(rd), 3);
    cr_assert_eq(lg_session_reader_call(rd, 0, &ev, &err), 0);
    cr_expect_str_eq(ev->model.fault, "timeout");
    cr_expect_eq(ev->model.status, 504);
    cr_assert_eq(lg_session_reader_call(rd, 1, &ev, &err), 0);
    cr_expect_str_eq(ev->model.fault, "cut");
    cr_assert_eq(lg_session_reader_call(rd, 2, &ev, &err), 0);
    cr_expect_null(ev->model.fault);
    lg_session_reader_free(rd);
    lg_store_close(st);

    /* and the replay sees the same faults and retries the same way */
    lg_loop_result first = g.res;
    memset(&g.res, 0, sizeof g.res);
    start_proxy(&g, LG_PROXY_REPLAY, 1);
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.retries, 2);
    cr_expect_eq(g.res.backoff_ms, first.backoff_ms);
    cr_expect_lt(g.elapsed_s, 1.0, "a replayed timeout does not wait for the clock");
    lg_loop_result_release(&first);
    rig_free(&g);
}

Test(loop, permission_errors_are_fatal_without_retry)
{
    rig g = {0};
    suite_with(&g, "");
    add(&g, 401, oai_error("invalid_api_key", "Incorrect API key provided"));
    add(&g, 200, oai_text("42"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_FATAL_ERROR);
    cr_expect_eq(g.res.model_calls, 1);
    cr_expect_eq(g.res.retries, 0);
    cr_expect(strstr(g.res.detail, "HTTP 401: Incorrect API key"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, retries_run_out_as_fatal_error)
{
    rig g = {0};
    suite_with(&g, "    retry: {max_retries: 2, backoff_base_s: 0.01, backoff_cap_s: 0.01}\n");
    add(&g, 500, oai_error("server_error", "boom"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_FATAL_ERROR);
    cr_expect_eq(g.res.model_calls, 3);
    cr_expect(strstr(g.res.detail, "failed 3 times"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, malformed_output_gets_one_corrective_reprompt)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL);
    add(&g, 200, oai_tool("c1", "count", "{\"n\": 1"));
    add(&g, 200, oai_tool("c2", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c3", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.corrections, 1);
    cr_expect_eq(g.res.tool_runs, 1, "the malformed call did not run");
    cr_expect(req_has(&g, 1, "are not valid JSON"), "%s", g.f.reqs[1]);
    char *k = event_kinds();
    cr_expect(strstr(k, "note:corrective re-prompt"), "%s", k);
    free(k);
    rig_free(&g);
}

Test(loop, malformed_again_after_the_correction_is_fatal)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL);
    add(&g, 200, oai_tool("c1", "nosuchtool", "{}"));
    add(&g, 200, oai_tool("c2", "count", "{\"n\":\"not a number\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_FATAL_ERROR);
    cr_expect_eq(g.res.corrections, 1);
    cr_expect(req_has(&g, 1, "there is no tool 'nosuchtool'"), "%s", g.f.reqs[1]);
    cr_expect(strstr(g.res.detail, "argument 'n' of 'count' must be of type integer"), "%s",
              g.res.detail);
    cr_expect_eq(counter("count"), 0);
    rig_free(&g);
}

Test(loop, idempotency_key_survives_replay_and_replay_runs_nothing)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL);
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "count", "{\"n\":1}")); /* a retried call: same key */
    add(&g, 200, oai_tool("c3", "count", "{\"n\":2}"));
    add(&g, 200, oai_tool("c4", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.tool_runs, 2);
    cr_expect_eq(g.res.idempotent_hits, 1);
    cr_expect_eq(counter("count"), 2);
    cr_expect(req_has(&g, 2, "counted 1 n=1"), "%s", g.f.reqs[2]);

    /* replay: no upstream at all, and no tool runs */
    start_proxy(&g, LG_PROXY_REPLAY, 1);
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_str_eq(g.res.answer, "42");
    cr_expect_eq(g.res.tool_runs, 0);
    cr_expect_eq(g.res.tools_replayed, 2);
    cr_expect_eq(g.res.idempotent_hits, 1);
    cr_expect_eq(counter("count"), 2, "replay ran no tool");
    rig_free(&g);
}

Test(loop, replay_with_another_prompt_diverges)
{
    rig g = {0};
    suite_with(&g, "");
    add(&g, 200, oai_text("42"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    load_suite(&g, "name: t\ncases: {count: 1, generators: {city: {choice: [Paris]}}}\n"
                   "loop:\n  builtin:\n    provider: openai\n    model: m\n"
                   "    prompt: \"What is the question for {{city}}?\"\n");
    start_proxy(&g, LG_PROXY_REPLAY, 1);
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_DIVERGED);
    cr_expect(strstr(g.res.detail, "messages[0].content"), "%s", g.res.detail);
    rig_free(&g);
}

Test(loop, requires_approval_never_runs_unapproved_and_escalates)
{
    rig g = {0};
    suite_with(&g, "    tools:\n"
                   "      - name: refund\n"
                   "        parameters: {type: object, properties: {amount: {type: number}}}\n"
                   "        command: 'echo x >> DIR/refunds; echo refunded {{amount}}'\n"
                   "        requires_approval: true\n");
    add(&g, 200, oai_tool("c1", "refund", "{\"amount\":900}"));
    add(&g, 200, oai_tool("c2", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_ESCALATED);
    cr_expect_eq(counter("refunds"), 0, "never runs without an approval");
    cr_expect_eq(g.res.tool_runs, 0);
    cr_assert_not_null(g.res.escalation_path);
    json_t *p = json_load_file(g.res.escalation_path, 0, NULL);
    cr_assert_not_null(p);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(p, "failing"), 0)),
                     "approval_required");
    cr_expect_str_eq(lg_json_str(json_object_get(json_object_get(p, "context"),
                                                 "pending_tool_call"), "tool", ""), "refund");
    json_decref(p);
    rig_free(&g);

    /* approved: it runs, and the approval precedes it in the trace */
    rig h = {0};
    h.approvals[0] = "refund";
    h.napprovals = 1;
    suite_with(&h, "    tools:\n"
                   "      - name: refund\n"
                   "        parameters: {type: object, properties: {amount: {type: number}}}\n"
                   "        command: 'echo x >> DIR/refunds; echo refunded {{amount}}'\n"
                   "        requires_approval: true\n");
    add(&h, 200, oai_tool("c1", "refund", "{\"amount\":900}"));
    add(&h, 200, oai_tool("c2", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&h);
    start_proxy(&h, LG_PROXY_RECORD, lg_httpd_port(h.f.h));
    run_trial(&h);
    stop_all(&h);
    expect_reason(&h, LG_TERM_SUCCESS);
    cr_expect_eq(counter("refunds"), 1);
    char *k = event_kinds();
    cr_expect_str_eq(k, "iteration model note:approval tool:refund iteration model "
                        "tool:final_answer end:success");
    free(k);
    json_t *n = note_data("approval");
    cr_expect_str_eq(lg_json_str(n, "approve", ""), "refund");
    json_decref(n);
    rig_free(&h);
}

Test(loop, unapproved_tool_can_be_refused_to_the_model_instead)
{
    rig g = {0};
    suite_with(&g, "    tools:\n"
                   "      - {name: deploy, command: 'echo x >> DIR/deploys', requires_approval: true}\n"
                   "    escalate: {on_unapproved: false}\n");
    add(&g, 200, oai_tool("c1", "deploy", "{}"));
    add(&g, 200, oai_tool("c2", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(counter("deploys"), 0);
    cr_expect(req_has(&g, 1, "requires a human approval and was not run"), "%s", g.f.reqs[1]);
    rig_free(&g);
}

Test(loop, repeated_verification_failures_escalate_with_a_packet)
{
    rig g = {0};
    suite_with(&g, COUNT_TOOL "    verify: {command: 'echo tests failed: 3 of 5; exit 1'}\n"
                              "    limits: {max_verify_failures: 2}\n");
    add(&g, 200, oai_tool("c1", "count", "{\"n\":1}"));
    add(&g, 200, oai_tool("c2", "final_answer", "{\"answer\":\"41\"}"));
    add(&g, 200, oai_tool("c3", "final_answer", "{\"answer\":\"43\"}"));
    add(&g, 200, oai_tool("c4", "final_answer", "{\"answer\":\"42\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_ESCALATED);
    cr_expect_eq(g.res.iterations, 3);
    char p[200];
    snprintf(p, sizeof p, "%s/escalation.json", wd);
    cr_assert_str_eq(g.res.escalation_path, p);
    json_t *pk = json_load_file(p, 0, NULL);
    cr_assert_not_null(pk);
    cr_expect_eq(lg_json_int(pk, "schema", 0), 1);
    cr_expect_eq(lg_json_int(pk, "iteration", 0), 3);
    cr_expect_str_eq(json_string_value(json_array_get(json_object_get(pk, "failing"), 0)),
                     "max_verify_failures");
    const json_t *lv = json_object_get(pk, "last_verification");
    cr_expect(json_is_false(json_object_get(lv, "pass")));
    cr_expect(strstr(lg_json_str(lv, "output", ""), "tests failed: 3 of 5"));
    const json_t *la = json_object_get(pk, "last_actions");
    cr_expect_eq(json_array_size(la), 1);
    cr_expect_str_eq(lg_json_str(json_array_get(la, 0), "tool", ""), "count");
    cr_expect_str_eq(lg_json_str(json_object_get(json_object_get(pk, "context"), "case"), "city",
                                 ""), "Paris");
    cr_expect_null(json_object_get(json_object_get(json_object_get(pk, "context"), "case"),
                                   "expected"), "the packet never leaks hidden fields");
    /* the same packet is in the trace */
    json_t *n = note_data("escalated");
    cr_assert_not_null(n);
    cr_expect(json_equal(n, pk), "the note's data is the packet");
    json_decref(n);
    json_decref(pk);
    rig_free(&g);
}

Test(loop, stall_can_escalate)
{
    rig g = {0};
    suite_with(&g, "    tools:\n"
                   "      - {name: look, command: 'echo same', idempotent: true,"
                   " parameters: {properties: {q: {type: string}}}}\n"
                   "    limits: {stall: 1}\n"
                   "    escalate: {on_stall: true}\n");
    add(&g, 200, oai_tool("c1", "look", "{\"q\":\"a\"}"));
    add(&g, 200, oai_tool("c2", "look", "{\"q\":\"b\"}"));
    start_fake(&g);
    start_proxy(&g, LG_PROXY_RECORD, lg_httpd_port(g.f.h));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_ESCALATED);
    cr_expect(strstr(g.res.detail, "stall"), "%s", g.res.detail);
    cr_expect(lg_fs_exists(g.res.escalation_path));
    rig_free(&g);
}

/* ------------------------------------------------------------ against the sim */

static void sim_run(lg_loop_provider provider, bool stream)
{
    rig g = {0};
    lg_sim_config cfg;
    lg_err err = LG_ERR_INIT;
    char y[1024];
    lg_sim_config_init(&cfg);
    cr_assert_eq(lg_sim_server_start(&cfg, 0, &g.sim, &err), 0, "%s", err.msg);
    snprintf(y, sizeof y,
             "name: t\ncases: {count: 1, generators: {city: {choice: [Paris]}}}\n"
             "loop:\n  builtin:\n    provider: %s\n    model: sim-1\n    stream: %s\n"
             "    system: You look the weather up.\n"
             "    prompt: \"Weather in {{city}}?\"\n"
             "    tools:\n"
             "      - name: weather\n"
             "        parameters: {type: object, properties: {city: {type: string}}, required: [city]}\n"
             "        command: [sh, -c, 'echo \"sunny in $1\"; echo x >> %s/w', sh, '{{city}}']\n",
             lg_loop_provider_name(provider), stream ? "true" : "false", dir);
    load_suite(&g, y);
    start_proxy(&g, LG_PROXY_RECORD, lg_sim_server_port(g.sim));
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_eq(g.res.iterations, 3, "two tool turns, then the answer");
    cr_expect_eq(counter("w"), 2);
    cr_expect(strstr(g.res.answer, "after 2 tool results"), "%s", g.res.answer);
    cr_expect(strstr(g.res.answer, "sunny in Weather in Paris? (step 2)"), "%s", g.res.answer);
    cr_expect_gt(g.res.tokens_in, 0);
    cr_expect_gt(g.res.tokens_out, 0);
    char *answer = strdup(g.res.answer);
    /* replayed: same answer, nothing upstream, no tool runs */
    start_proxy(&g, LG_PROXY_REPLAY, 1);
    run_trial(&g);
    stop_all(&g);
    expect_reason(&g, LG_TERM_SUCCESS);
    cr_expect_str_eq(g.res.answer, answer);
    cr_expect_eq(counter("w"), 2);
    free(answer);
    rig_free(&g);
}

Test(loop, openai_against_the_sim_records_and_replays) { sim_run(LG_LOOP_OPENAI, false); }
Test(loop, openai_streaming_against_the_sim) { sim_run(LG_LOOP_SIM, true); }
Test(loop, anthropic_against_the_sim_records_and_replays) { sim_run(LG_LOOP_ANTHROPIC, false); }
Test(loop, anthropic_streaming_against_the_sim) { sim_run(LG_LOOP_ANTHROPIC, true); }

/* ------------------------------------------------------------ config errors */

static const char *config_error(const char *block)
{
    static char msg[LG_ERR_MSG_MAX];
    char y[2048], p[160];
    lg_err err = LG_ERR_INIT;
    lg_suite *s = NULL;
    snprintf(y, sizeof y,
             "name: t\ncases: {count: 1, generators: {city: {choice: [Paris]}, secret: {int: [1, 2], hidden: true}}}\n"
             "loop:\n  builtin:\n%s", block);
    snprintf(p, sizeof p, "%s/bad.yaml", dir);
    cr_assert_eq(lg_fs_write_file_atomic(p, y, strlen(y), &err), 0);
    cr_assert_neq(lg_suite_load(p, &s, &err), 0, "loaded: %s", block);
    const char *m = strstr(err.msg, "bad.yaml:");
    snprintf(msg, sizeof msg, "%s", m ? m : err.msg);
    return msg;
}

Test(loop, config_errors_name_the_place)
{
    cr_expect_str_eq(config_error("    provider: opnai\n    model: m\n    prompt: hi\n"),
                     "bad.yaml:5:15: 'provider' must be one of openai, anthropic, sim, got "
                     "'opnai' (did you mean 'openai'?)");
    cr_expect_str_eq(config_error("    provider: sim\n    prompt: hi\n"),
                     "bad.yaml:5:5: missing required key 'model' in 'loop.builtin'");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: \"x {{citty}}\"\n"),
                     "bad.yaml:7:16: 'prompt' refers to 'citty', which is neither a case field "
                     "nor a loop variable (iteration, max_iterations, remaining_iterations, "
                     "remaining_budget, verify_output, verify_passed, verify_failures) (did you "
                     "mean 'city'?)");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: \"x {{secret}}\"\n"),
                     "bad.yaml:7:16: 'prompt' refers to the hidden case field 'secret': the loop "
                     "must not see it (only validators do)");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n    tolls: []\n"),
                     "bad.yaml:8:5: unknown key 'tolls' in 'loop.builtin' (did you mean 'tools'?)");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n    tools:\n"
                                  "      - name: t\n        command: 'cat {{pth}}'\n"
                                  "        parameters: {properties: {path: {type: string}}}\n"),
                     "bad.yaml:10:23: 'tools[0] 't'.command' refers to 'pth', which is not a "
                     "property of the tool's 'parameters' (did you mean 'path'?)");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n    tools:\n"
                                  "      - {name: final_answer, command: x}\n"),
                     "bad.yaml:9:16: 'final_answer' is the engine's own tool (it ends the loop "
                     "with the answer); give this tool another name");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n"
                                  "    verify: {command: x, when: always}\n"),
                     "bad.yaml:8:32: 'verify.when' must be one of final_answer, each_action, got "
                     "'always'");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n"
                                  "    limits: {repeated_action: 1}\n"),
                     "bad.yaml:8:31: 'limits.repeated_action' must be an integer >= 2, got '1'");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n"
                                  "    retry: {backoff_base_s: 2, backoff_cap_s: 1}\n"),
                     "bad.yaml:8:47: 'retry.backoff_cap_s' (1) must not be below "
                     "'retry.backoff_base_s' (2)");
    cr_expect_str_eq(config_error("    provider: sim\n    model: m\n    prompt: hi\n    tools:\n"
                                  "      - name: t\n        command: x\n"
                                  "        parameters: {properties: {a: {}}, required: [b]}\n"),
                     "bad.yaml:11:54: 'parameters.required' names 'b', which is not in "
                     "'properties' (did you mean 'a'?)");
}

Test(loop, approvals_file)
{
    char p[160];
    lg_err err = LG_ERR_INIT;
    char **names = NULL;
    size_t n = 0;
    snprintf(p, sizeof p, "%s/approvals", dir);
    const char *text = "# approved by ops\nrefund\n\n  deploy  \n";
    cr_assert_eq(lg_fs_write_file_atomic(p, text, strlen(text), &err), 0);
    cr_assert_eq(lg_loop_approvals_load(p, &names, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 2);
    cr_expect_str_eq(names[0], "refund");
    cr_expect_str_eq(names[1], "deploy");
    cr_expect_null(names[2]);
    text = "ok\nnot a name\n";
    cr_assert_eq(lg_fs_write_file_atomic(p, text, strlen(text), &err), 0);
    cr_expect_eq(lg_loop_approvals_load(p, &names, &n, &err), LG_EINPUT);
    cr_expect(strstr(err.msg, "approvals:2: 'not a name' is not a tool name"), "%s", err.msg);
    lg_loop_approvals_free(names);
}
