/* tests/test_simmodel.c - harness/sim_model.c: the `sim:` block, and the
 * simulated model answering through harness/sim.c and harness/sim_server.c. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/json.h"
#include "harness/cases.h"
#include "harness/sim.h"
#include "harness/sim_model.h"
#include "harness/sim_server.h"
#include "harness/suite.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lg-simmodel.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    lg_err err = LG_ERR_INIT;
    (void)!lg_fs_rm_rf(tmpdir, &err);
}

TestSuite(simmodel, .init = make_tmpdir, .fini = remove_tmpdir);

/* A refund-like suite; `sim` is the sim block's body (indented two spaces). */
static const char refund_head[] =
    "name: refundish\n"
    "seed: 11\n"
    "cases:\n"
    "  count: 20\n"
    "  generators:\n"
    "    order_id: {template: \"ORD-{{n}}\"}\n"
    "    n: {int: [100000, 999999]}\n"
    "    amount: {int: [5, 800]}\n"
    "    request: {template: \"Please refund order ORD-{{n}} of ${{amount}}.\"}\n"
    "    expected:\n"
    "      hidden: true\n"
    "      rules:\n"
    "        - when: amount >= 500\n"
    "          then: escalate\n"
    "        - when: amount < 100\n"
    "          then: approve\n"
    "        - else: deny\n"
    "loop: {command: \"true\"}\n"
    "sim:\n"
    "  task: choice\n"
    "  choices: [approve, deny, escalate]\n"
    "  before_answer: [lookup_policy]\n"
    "  on_answer: {approve: issue_refund}\n";

typedef struct fx {
    lg_suite *suite;
    lg_sim_model *model;
    lg_sim_config cfg;
} fx;

static int load_text(const char *text, fx *f, lg_err *err)
{
    char path[128];
    static int n;
    memset(f, 0, sizeof *f);
    snprintf(path, sizeof path, "%s/s%d.yaml", tmpdir, n++);
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_fs_write_file_atomic(path, text, strlen(text), &e), 0, "%s", e.msg);
    int rc = lg_suite_load(path, &f->suite, err);
    if (!rc)
        rc = lg_sim_model_from_suite(f->suite, &f->model, err);
    if (!rc)
        lg_sim_model_config(f->model, &f->cfg);
    return rc;
}

static void load_refund(const char *extra, fx *f)
{
    lg_buf b = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_buf_appendf(&b, "%s%s", refund_head, extra), 0);
    cr_assert_eq(load_text(b.data, f, &err), 0, "%s", err.msg);
    lg_buf_release(&b);
}

static void unload(fx *f)
{
    lg_sim_model_free(f->model);
    lg_suite_free(f->suite);
}

static const char tools_json[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"lookup_policy\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"topic\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"lookup_order\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"order_id\":{\"type\":\"string\"}}}}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"issue_refund\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"order_id\":{\"type\":\"string\"},\"amount\":{\"type\":"
    "\"number\"}}}}}]";

/* A chat conversation for case `ci` that the test grows turn by turn. */
typedef struct convo {
    json_t *msgs;
    json_t *kase;
} convo;

static void convo_start(const fx *f, uint64_t ci, convo *c)
{
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_cases_generate(f->suite, ci, LG_CASES_HIDDEN, &c->kase, &err), 0, "%s",
                 err.msg);
    c->msgs = json_pack("[{s:s,s:s},{s:s,s:O}]", "role", "system", "content", "Decide.", "role",
                        "user", "content", json_object_get(c->kase, "request"));
}

static void convo_end(convo *c)
{
    json_decref(c->msgs);
    json_decref(c->kase);
}

/* Asks for the next turn (case and trial given as the proxy's headers
 * would); returns the assistant message (owned) and fills `p`. */
static json_t *next_turn(const fx *f, convo *c, int64_t ci, int64_t trial, lg_sim_plan *p)
{
    lg_err err = LG_ERR_INIT;
    json_t *body = json_pack("{s:s,s:O,s:o}", "model", "sim-1", "messages", c->msgs, "tools",
                             json_loads(tools_json, 0, NULL));
    char *text = json_dumps(body, JSON_COMPACT);
    lg_sim_request rq = {"POST", "/v1/chat/completions", text, strlen(text), 0, ci, trial};
    cr_assert_eq(lg_sim_plan_call(&f->cfg, &rq, p, &err), 0, "%s", err.msg);
    cr_assert_eq(p->status, 200, "%s", lg_buf_cstr(&p->body));
    json_t *resp = json_loadb(p->body.data, p->body.len, 0, NULL);
    json_t *msg = json_incref(json_object_get(json_array_get(json_object_get(resp, "choices"), 0),
                                              "message"));
    json_decref(resp);
    json_decref(body);
    free(text);
    cr_assert_not_null(msg);
    /* the conversation goes on: the message, then a result per tool call */
    json_array_append(c->msgs, msg);
    size_t i;
    json_t *tc;
    json_array_foreach(json_object_get(msg, "tool_calls"), i, tc)
        json_array_append_new(c->msgs, json_pack("{s:s,s:O,s:s}", "role", "tool", "tool_call_id",
                                                 json_object_get(tc, "id"), "content", "ok"));
    return msg;
}

static const char *call_name(const json_t *msg)
{
    return json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(msg, "tool_calls"), 0), "function"),
        "name"));
}

static json_t *call_args(const json_t *msg)
{
    const char *a = json_string_value(json_object_get(
        json_object_get(json_array_get(json_object_get(msg, "tool_calls"), 0), "function"),
        "arguments"));
    return a ? json_loads(a, 0, NULL) : NULL;
}

/* A case whose expected value is `want`. */
static uint64_t case_with(const fx *f, const char *want)
{
    for (uint64_t i = 0; i < f->suite->count; i++) {
        json_t *k = NULL;
        lg_err err = LG_ERR_INIT;
        cr_assert_eq(lg_cases_generate(f->suite, i, LG_CASES_HIDDEN, &k, &err), 0);
        bool hit = strcmp(json_string_value(json_object_get(k, "expected")), want) == 0;
        json_decref(k);
        if (hit)
            return i;
    }
    cr_assert_fail("no case expects %s", want);
    return 0;
}

Test(simmodel, right_model_looks_up_refunds_then_answers)
{
    fx f;
    convo c;
    lg_sim_plan p;
    lg_sim_plan_init(&p);
    load_refund("  p_first_correct: 1\n", &f);
    uint64_t ci = case_with(&f, "approve");
    convo_start(&f, ci, &c);

    json_t *m = next_turn(&f, &c, (int64_t)ci, 0, &p);
    cr_assert_str_eq(call_name(m), "lookup_policy");
    cr_expect_eq(p.turn_kind, LG_SIM_TURN_TOOL);
    cr_expect_eq(p.case_index, (int64_t)ci);
    json_decref(m);

    m = next_turn(&f, &c, (int64_t)ci, 0, &p);
    cr_assert_str_eq(call_name(m), "issue_refund");
    json_t *args = call_args(m);
    /* arguments come from the case's visible fields, typed by the schema */
    cr_expect_str_eq(json_string_value(json_object_get(args, "order_id")),
                     json_string_value(json_object_get(c.kase, "order_id")));
    cr_expect(json_is_number(json_object_get(args, "amount")));
    cr_expect_eq(json_number_value(json_object_get(args, "amount")),
                 (double)json_integer_value(json_object_get(c.kase, "amount")));
    json_decref(args);
    json_decref(m);

    m = next_turn(&f, &c, (int64_t)ci, 0, &p);
    cr_expect_null(json_object_get(m, "tool_calls"));
    cr_expect_str_eq(json_string_value(json_object_get(m, "content")), "approve");
    cr_expect_eq(p.turn_kind, LG_SIM_TURN_CORRECT);
    json_decref(m);
    convo_end(&c);

    /* a case to deny: no refund, the answer right after the policy */
    ci = case_with(&f, "deny");
    convo_start(&f, ci, &c);
    json_decref(next_turn(&f, &c, (int64_t)ci, 2, &p));
    m = next_turn(&f, &c, (int64_t)ci, 2, &p);
    cr_expect_str_eq(json_string_value(json_object_get(m, "content")), "deny");
    json_decref(m);
    convo_end(&c);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, wrong_model_never_answers_right_until_feedback_helps)
{
    fx f;
    convo c;
    lg_sim_plan p;
    lg_sim_plan_init(&p);
    /* p0 = 0, gain 1: wrong first, right after one attempt with feedback */
    load_refund("  p_first_correct: 0\n  feedback_gain: 1\n", &f);
    uint64_t ci = case_with(&f, "escalate");
    convo_start(&f, ci, &c);
    json_decref(next_turn(&f, &c, (int64_t)ci, 0, &p)); /* lookup_policy */
    json_t *m = next_turn(&f, &c, (int64_t)ci, 0, &p);
    const char *w = json_string_value(json_object_get(m, "content"));
    if (!w) {
        /* it decided to approve: the refund first, and then it stays approve */
        cr_assert_str_eq(call_name(m), "issue_refund");
        json_decref(m);
        m = next_turn(&f, &c, (int64_t)ci, 0, &p);
        w = json_string_value(json_object_get(m, "content"));
        cr_assert_str_eq(w, "approve");
    } else {
        cr_assert_str_eq(w, "deny");
    }
    cr_expect_eq(p.turn_kind, LG_SIM_TURN_WRONG);
    json_decref(m);
    json_array_append_new(c.msgs, json_pack("{s:s,s:s}", "role", "user", "content", "Wrong."));
    m = next_turn(&f, &c, (int64_t)ci, 0, &p);
    w = json_string_value(json_object_get(m, "content"));
    cr_assert_not_null(w);
    /* a refund already issued commits the model to approve */
    cr_expect(strcmp(w, "escalate") == 0 || strcmp(w, "approve") == 0, "%s", w);
    json_decref(m);
    convo_end(&c);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, wrong_and_repeated_tool_calls)
{
    fx f;
    convo c;
    lg_sim_plan p;
    lg_sim_plan_init(&p);
    load_refund("  wrong_tool_rate: 1\n", &f);
    uint64_t ci = case_with(&f, "approve");
    convo_start(&f, ci, &c);
    json_t *m = next_turn(&f, &c, (int64_t)ci, 0, &p);
    /* never the intended tool, never the side-effecting on_answer tool */
    cr_expect_str_eq(call_name(m), "lookup_order");
    cr_expect_eq(p.turn_kind, LG_SIM_TURN_WRONG_TOOL);
    json_t *args = call_args(m);
    cr_expect_str_eq(json_string_value(json_object_get(args, "order_id")),
                     json_string_value(json_object_get(c.kase, "order_id")));
    json_decref(args);
    json_decref(m);
    convo_end(&c);
    unload(&f);

    load_refund("  repeat_tool_rate: 1\n", &f);
    convo_start(&f, ci, &c);
    m = next_turn(&f, &c, (int64_t)ci, 0, &p); /* nothing to repeat yet */
    cr_expect_str_eq(call_name(m), "lookup_policy");
    json_t *first = call_args(m);
    json_decref(m);
    for (int i = 0; i < 3; i++) {
        m = next_turn(&f, &c, (int64_t)ci, 0, &p);
        cr_expect_str_eq(call_name(m), "lookup_policy");
        cr_expect_eq(p.turn_kind, LG_SIM_TURN_REPEAT_TOOL);
        args = call_args(m);
        cr_expect(json_equal(args, first));
        json_decref(args);
        json_decref(m);
    }
    json_decref(first);
    convo_end(&c);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, malformed_answers_are_none_of_the_choices)
{
    fx f;
    convo c;
    lg_sim_plan p;
    lg_sim_plan_init(&p);
    load_refund("  malformed_rate: 1\n", &f);
    uint64_t ci = case_with(&f, "deny");
    convo_start(&f, ci, &c);
    json_decref(next_turn(&f, &c, (int64_t)ci, 0, &p));
    for (int i = 0; i < 3; i++) {
        json_t *m = next_turn(&f, &c, (int64_t)ci, 0, &p);
        const char *w = json_string_value(json_object_get(m, "content"));
        cr_assert_not_null(w);
        cr_expect(strcmp(w, "approve") && strcmp(w, "deny") && strcmp(w, "escalate"), "%s", w);
        cr_expect_eq(p.turn_kind, LG_SIM_TURN_MALFORMED);
        json_decref(m);
    }
    convo_end(&c);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, draws_are_reproducible_and_differ_by_trial)
{
    fx f;
    lg_sim_plan a, b;
    lg_sim_plan_init(&a);
    lg_sim_plan_init(&b);
    load_refund("  p_first_correct: 0.5\n  latency_ms: {median: 100, p95: 400}\n"
                "  output_tokens: {median: 30, p95: 90}\n", &f);
    const char *body = "{\"model\":\"sim-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    int differ = 0;
    for (int64_t t = 0; t < 20; t++) {
        lg_err err = LG_ERR_INIT;
        lg_sim_request rq = {"POST", "/v1/chat/completions", body, strlen(body), 0, 3, t};
        cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &a, &err), 0);
        cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &b, &err), 0);
        cr_expect_eq(a.body.len, b.body.len);
        cr_expect(memcmp(a.body.data, b.body.data, a.body.len) == 0);
        cr_expect_eq(a.delay_ms, b.delay_ms);
        cr_expect_eq(a.out_tokens, b.out_tokens);
        rq.trial = t + 100;
        cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &b, &err), 0);
        differ += a.delay_ms != b.delay_ms;
    }
    cr_expect_geq(differ, 15, "trials should draw differently (%d of 20 differ)", differ);
    lg_sim_plan_release(&a);
    lg_sim_plan_release(&b);
    unload(&f);
}

Test(simmodel, latency_and_tokens_follow_median_and_p95)
{
    fx f;
    lg_sim_plan p;
    lg_sim_plan_init(&p);
    load_refund("  latency_ms: {median: 100, p95: 400}\n  output_tokens: {median: 30, p95: 90}\n",
                &f);
    enum { N = 4000 };
    static double lat[N], tok[N];
    const char *body = "{\"model\":\"sim-1\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    for (int i = 0; i < N; i++) {
        lg_err err = LG_ERR_INIT;
        lg_sim_request rq = {"POST", "/v1/chat/completions", body, strlen(body), 0, i % 20, i};
        cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0);
        lat[i] = p.delay_ms;
        tok[i] = (double)p.out_tokens;
    }
    int below_med = 0, below_p95 = 0, tok_med = 0;
    for (int i = 0; i < N; i++) {
        below_med += lat[i] <= 100;
        below_p95 += lat[i] <= 400;
        tok_med += tok[i] <= 30;
    }
    cr_expect_float_eq(below_med / (double)N, 0.5, 0.04, "%f", below_med / (double)N);
    cr_expect_float_eq(below_p95 / (double)N, 0.95, 0.015, "%f", below_p95 / (double)N);
    cr_expect_float_eq(tok_med / (double)N, 0.5, 0.05, "%f", tok_med / (double)N);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, code_task_writes_right_broken_or_wrong_code)
{
    static const char head[] =
        "name: code\n"
        "cases:\n"
        "  count: 3\n"
        "  generators:\n"
        "    prompt: {choice: [\"Write f(x) returning x + 1.\"]}\n"
        "    solution: {hidden: true, choice: [\"def f(x):\\n    return (x + 1)\\n\"]}\n"
        "    buggy: {hidden: true, choice: [\"def f(x):\\n    return x\\n\"]}\n"
        "loop: {command: \"true\"}\n"
        "sim:\n"
        "  task: code\n"
        "  wrong_field: buggy\n";
    static const struct {
        const char *extra, *want;
        int kind;
    } rows[] = {
        {"  p_first_correct: 1\n", "```python\ndef f(x):\n    return (x + 1)\n```",
         LG_SIM_TURN_CORRECT},
        {"  p_first_correct: 0\n  silent_wrong_rate: 1\n", "```python\ndef f(x):\n    return x\n```",
         LG_SIM_TURN_SILENT_WRONG},
        {"  p_first_correct: 0\n", NULL, LG_SIM_TURN_WRONG},
        {"  malformed_rate: 1\n", NULL, LG_SIM_TURN_MALFORMED},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        fx f;
        lg_buf b = LG_BUF_INIT;
        lg_err err = LG_ERR_INIT;
        cr_assert_eq(lg_buf_appendf(&b, "%s%s", head, rows[r].extra), 0);
        cr_assert_eq(load_text(b.data, &f, &err), 0, "%s", err.msg);
        lg_buf_release(&b);
        lg_sim_plan p;
        lg_sim_plan_init(&p);
        const char *body = "{\"model\":\"sim-1\",\"user\":\"loopgate:case=1:trial=0\","
                           "\"messages\":[{\"role\":\"user\",\"content\":\"go\"}]}";
        lg_sim_request rq = {"POST", "/v1/chat/completions", body, strlen(body), 0, -1, -1};
        cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
        cr_expect_eq(p.case_index, 1, "the user hint names case 1");
        cr_expect_eq(p.turn_kind, rows[r].kind, "row %zu: %d", r, p.turn_kind);
        json_t *resp = json_loadb(p.body.data, p.body.len, 0, NULL);
        const char *text = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(resp, "choices"), 0), "message"),
            "content"));
        cr_assert_not_null(text);
        if (rows[r].want)
            cr_expect_str_eq(text, rows[r].want);
        else if (rows[r].kind == LG_SIM_TURN_WRONG)
            /* a syntax error a compiler names: the ':' of the def, or a ')' */
            cr_expect(strstr(text, "def f(x)\n") || !strstr(text, "(x + 1)"), "%s", text);
        else
            cr_expect_null(strstr(text, "```"), "%s", text);
        json_decref(resp);
        lg_sim_plan_release(&p);
        unload(&f);
    }
}

Test(simmodel, anthropic_and_responses_requests_follow_the_model)
{
    fx f;
    lg_sim_plan p;
    lg_err err = LG_ERR_INIT;
    lg_sim_plan_init(&p);
    load_refund("  p_first_correct: 1\n", &f);
    uint64_t ci = case_with(&f, "deny");
    char body[2048];
    snprintf(body, sizeof body,
             "{\"model\":\"sim-1\",\"max_tokens\":100,\"metadata\":{\"user_id\":"
             "\"loopgate:case=%llu:trial=1\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
             "\"tools\":[{\"name\":\"lookup_policy\",\"input_schema\":{\"type\":\"object\"}}]}",
             (unsigned long long)ci);
    lg_sim_request rq = {"POST", "/v1/messages", body, strlen(body), 0, -1, -1};
    cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
    cr_expect_eq(p.case_index, (int64_t)ci);
    cr_expect_eq(p.trial, 1);
    cr_expect(strstr(lg_buf_cstr(&p.body), "\"name\":\"lookup_policy\""), "%s", p.body.data);
    /* after the tool: the answer */
    snprintf(body, sizeof body,
             "{\"model\":\"sim-1\",\"max_tokens\":100,\"metadata\":{\"user_id\":"
             "\"loopgate:case=%llu:trial=1\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"},"
             "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":"
             "\"lookup_policy\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":"
             "\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"policy\"}]}],"
             "\"tools\":[{\"name\":\"lookup_policy\",\"input_schema\":{\"type\":\"object\"}}]}",
             (unsigned long long)ci);
    rq.body = body;
    rq.len = strlen(body);
    cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
    cr_expect(strstr(lg_buf_cstr(&p.body), "\"text\":\"deny\""), "%s", p.body.data);

    snprintf(body, sizeof body,
             "{\"model\":\"sim-1\",\"metadata\":{\"loopgate_case\":\"%llu\"},\"input\":"
             "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"x\"},{\"type\":"
             "\"function_call\",\"call_id\":\"c1\",\"name\":\"lookup_policy\",\"arguments\":"
             "\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"p\"}],"
             "\"tools\":[{\"type\":\"function\",\"name\":\"lookup_policy\",\"parameters\":{}}]}",
             (unsigned long long)ci);
    rq.path = "/v1/responses";
    rq.body = body;
    rq.len = strlen(body);
    cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
    cr_expect_eq(p.case_index, (int64_t)ci);
    cr_expect(strstr(lg_buf_cstr(&p.body), "\"text\":\"deny\""), "%s", p.body.data);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, unknown_requests_get_the_script_and_content_finds_cases)
{
    fx f;
    lg_sim_plan p;
    lg_err err = LG_ERR_INIT;
    lg_sim_plan_init(&p);
    load_refund("  p_first_correct: 1\n", &f);
    const char *body = "{\"model\":\"sim-1\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"something else entirely\"}]}";
    lg_sim_request rq = {"POST", "/v1/chat/completions", body, strlen(body), 0, -1, -1};
    cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
    cr_expect_eq(p.turn_kind, LG_SIM_TURN_SCRIPT);
    cr_expect_eq(p.case_index, -1);
    cr_expect(strstr(lg_buf_cstr(&p.body), "Answer "), "%s", p.body.data);
    /* a case index past the suite's cases has no truth either */
    rq.case_index = 1000;
    cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
    cr_expect_eq(p.turn_kind, LG_SIM_TURN_SCRIPT);

    /* the request text of case 7, wrapped in other words, finds case 7 */
    json_t *k = NULL;
    cr_assert_eq(lg_cases_generate(f.suite, 7, 0, &k, &err), 0);
    json_t *req = json_pack("{s:s,s:[{s:s,s:s}]}", "model", "sim-1", "messages", "role", "user",
                            "content", "");
    char msg[512];
    snprintf(msg, sizeof msg, "Customer wrote: %s Please decide.",
             json_string_value(json_object_get(k, "request")));
    json_object_set_new(json_array_get(json_object_get(req, "messages"), 0), "content",
                        json_string(msg));
    char *text = json_dumps(req, JSON_COMPACT);
    rq.body = text;
    rq.len = strlen(text);
    rq.case_index = -1;
    cr_assert_eq(lg_sim_plan_call(&f.cfg, &rq, &p, &err), 0, "%s", err.msg);
    cr_expect_eq(p.case_index, 7);
    cr_expect_eq(p.trial, 0);
    free(text);
    json_decref(req);
    json_decref(k);
    lg_sim_plan_release(&p);
    unload(&f);
}

Test(simmodel, bad_sim_blocks_name_the_place)
{
    static const struct {
        const char *sim, *want;
    } rows[] = {
        {"  p_frist_correct: 0.5\n", ".yaml:19:3: unknown key 'p_frist_correct' in 'sim' "
                                     "(did you mean 'p_first_correct'?)"},
        {"  p_first_correct: 1.5\n", ":19:20: sim: 'p_first_correct' must be a probability in "
                                     "[0, 1], got '1.5'"},
        {"  faults: {429: 0.7, 500: 0.6}\n", ":19:11: sim: the fault rates add up to more than 1"},
        {"  faults: {503: 0.1}\n", "unknown key '503' in 'sim.faults'"},
        {"  latency_ms: {median: 50, p95: 10}\n", ":19:33: sim: 'latency_ms.p95' must be a number "
                                                  "from the median (50) to"},
        {"  task: choise\n", ":19:9: sim: unknown task 'choise' (use choice, code or script); "
                             "did you mean 'choice'?"},
        {"  task: choice\n", ":19:9: sim: task 'choice' needs 'choices'"},
        {"  task: choice\n  choices: [a, b]\n  answer_field: expectd\n",
         ":21:17: sim: the answer field 'expectd' is not a field of the cases (did you mean "
         "'expected'?)"},
        {"  task: choice\n  choices: [a, b]\n  on_answer: {c: t}\n",
         ":21:15: sim: on_answer: 'c' is not one of the choices"},
    };
    static const char head[] =
        "name: bad\n"
        "cases:\n"
        "  count: 3\n"
        "  generators:\n"
        "    q: {choice: [one, two]}\n"
        "    expected: {hidden: true, choice: [a, b]}\n"
        "loop: {command: \"true\"}\n"
        "%s"
        "sim:\n"
        "%s";
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        fx f;
        lg_buf b = LG_BUF_INIT;
        lg_err err = LG_ERR_INIT;
        /* ten comment lines put the block's first key on line 19 */
        cr_assert_eq(lg_buf_appendf(&b, head, "#\n#\n#\n#\n#\n#\n#\n#\n#\n#\n", rows[r].sim), 0);
        int rc = load_text(b.data, &f, &err);
        cr_expect_eq(rc, LG_EINPUT, "row %zu", r);
        cr_expect(strstr(err.msg, rows[r].want), "row %zu: %s\n  wanted: %s", r, err.msg,
                  rows[r].want);
        lg_buf_release(&b);
        unload(&f);
    }
}

/* ---- over HTTP: the case headers the proxy adds ---- */

typedef struct resp {
    lg_buf body;
    long status;
} resp;

static size_t w_body(char *p, size_t s, size_t n, void *ud)
{
    resp *r = ud;
    return lg_buf_append(&r->body, p, s * n) ? 0 : s * n;
}

static void post(unsigned port, const char *body, const char *case_hdr, const char *trial_hdr,
                 resp *r)
{
    char url[128];
    memset(r, 0, sizeof *r);
    lg_buf_init(&r->body);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/chat/completions", port);
    CURL *c = curl_easy_init();
    struct curl_slist *sl = curl_slist_append(NULL, "Content-Type: application/json");
    if (case_hdr)
        sl = curl_slist_append(sl, case_hdr);
    if (trial_hdr)
        sl = curl_slist_append(sl, trial_hdr);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, w_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    cr_assert_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
}

Test(simmodel, server_reads_the_case_headers)
{
    fx f;
    lg_sim_server *s;
    lg_err err = LG_ERR_INIT;
    load_refund("  p_first_correct: 1\n", &f);
    cr_assert_eq(lg_sim_server_start(&f.cfg, 0, &s, &err), 0, "%s", err.msg);
    uint64_t ci = case_with(&f, "escalate");
    char body[4096];
    snprintf(body, sizeof body,
             "{\"model\":\"sim-1\",\"messages\":[{\"role\":\"user\",\"content\":\"anything\"},"
             "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\",\"type\":"
             "\"function\",\"function\":{\"name\":\"lookup_policy\",\"arguments\":\"{}\"}}]},"
             "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"p\"}],\"tools\":%s}",
             tools_json);
    char hdr[64];
    snprintf(hdr, sizeof hdr, "X-Loopgate-Case: %llu", (unsigned long long)ci);
    resp r;
    post(lg_sim_server_port(s), body, hdr, "X-Loopgate-Trial: 2", &r);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(lg_buf_cstr(&r.body), "\"content\":\"escalate\""), "%s", r.body.data);
    lg_buf_release(&r.body);
    /* without the headers the same body is nobody's case: the script, whose
     * second tool turn quotes the first user message */
    post(lg_sim_server_port(s), body, NULL, NULL, &r);
    cr_expect_eq(r.status, 200);
    cr_expect(strstr(lg_buf_cstr(&r.body), "anything (step 2)"), "%s", r.body.data);
    lg_buf_release(&r.body);
    cr_expect_eq(lg_sim_server_requests(s), 2u);
    lg_sim_server_stop(s);
    unload(&f);
}

Test(simmodel, suites_without_sim_block_get_the_script)
{
    fx f;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(load_text("name: plain\nloop: {command: \"true\"}\n", &f, &err), 0, "%s",
                 err.msg);
    cr_expect_eq(lg_sim_model_task(f.model), LG_SIM_TASK_SCRIPT);
    cr_expect_eq(f.cfg.p429, 0.0);
    cr_expect_eq(f.cfg.model, f.model);
    unload(&f);

    /* the bundled suites load, with their truths */
    char path[4096];
    const char *src = getenv("LG_SRCDIR");
    const char *names[] = {"refund-policy", "codegen-gate"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/suites/%s.yaml", src ? src : ".", names[i]);
        lg_suite *s = NULL;
        lg_sim_model *m = NULL;
        cr_assert_eq(lg_suite_load(path, &s, &err), 0, "%s", err.msg);
        cr_assert_eq(lg_sim_model_from_suite(s, &m, &err), 0, "%s", err.msg);
        cr_expect_eq(lg_sim_model_task(m), i == 0 ? LG_SIM_TASK_CHOICE : LG_SIM_TASK_CODE);
        lg_sim_model_free(m);
        lg_suite_free(s);
    }
}
