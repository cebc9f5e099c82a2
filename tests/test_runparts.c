/* tests/test_runparts.c - the parts of a trial's judgement: harness/pricing.c,
 * harness/validate.c and harness/invariants.c, through real suite files. */
#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "harness/invariants.h"
#include "harness/pricing.h"
#include "harness/suite.h"
#include "harness/validate.h"

static char dir[64];

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(dir, sizeof dir, "/tmp/lg_runparts_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
    lg_err e = LG_ERR_INIT;
    cr_expect_eq(lg_fs_rm_rf(dir, &e), 0);
}

TestSuite(pricing, .init = setup, .fini = teardown);
TestSuite(validate, .init = setup, .fini = teardown);
TestSuite(invariants, .init = setup, .fini = teardown);

static void write_file(const char *name, const char *text, char *path, size_t n)
{
    lg_err e = LG_ERR_INIT;
    snprintf(path, n, "%s/%s", dir, name);
    cr_assert_eq(lg_fs_write_file_atomic(path, text, strlen(text), &e), 0, "%s", e.msg);
}

static lg_suite *load_suite(const char *yaml)
{
    char path[256];
    lg_suite *s = NULL;
    lg_err e = LG_ERR_INIT;
    write_file("suite.yaml", yaml, path, sizeof path);
    cr_assert_eq(lg_suite_load(path, &s, &e), 0, "%s", e.msg);
    return s;
}

/* ---- pricing ---------------------------------------------------------- */

Test(pricing, file_prefix_match_and_suite_override)
{
    char path[256];
    write_file("pricing.yaml",
               "models:\n"
               "  gpt-4o: {input: 2.5, output: 10, cached_input: 1.25}\n"
               "  gpt-4o-mini: {input: 0.15, output: 0.6}\n"
               "  sim-1: {input: 1, output: 4}\n",
               path, sizeof path);
    lg_suite *s = load_suite("name: t\npricing:\n  sim-1: {input: 2, output: 8, cached_input: 0.5}\n");
    lg_pricing *p = NULL;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_pricing_load_for_suite(s, &p, &e), 0, "%s", e.msg);
    double usd;
    /* 1M in (200k cached), 100k out of gpt-4o: 0.8*2.5 + 0.2*1.25 + 0.1*10 = 3.25 */
    cr_assert(lg_pricing_cost(p, "gpt-4o-2024-08-06", 1000000, 100000, 200000, &usd));
    cr_expect_float_eq(usd, 3.25, 1e-9);
    /* gpt-4o-mini has its own price; cached defaults to input */
    cr_assert(lg_pricing_cost(p, "gpt-4o-mini", 1000000, 0, 500000, &usd));
    cr_expect_float_eq(usd, 0.15, 1e-9);
    /* the suite's inline price wins over the file */
    cr_assert(lg_pricing_cost(p, "sim-1", 1000000, 1000000, 0, &usd));
    cr_expect_float_eq(usd, 10.0, 1e-9);
    /* unknown is unknown, not zero */
    cr_expect_not(lg_pricing_cost(p, "mystery-model", 10, 10, 0, &usd));
    cr_expect_not(lg_pricing_cost(p, "gpt-4", 10, 10, 0, &usd));
    cr_expect_not(lg_pricing_cost(p, NULL, 10, 10, 0, &usd));
    lg_pricing_free(p);
    lg_suite_free(s);
}

Test(pricing, bad_file_names_the_place)
{
    char path[256];
    lg_pricing *p = NULL;
    lg_err e = LG_ERR_INIT;
    write_file("bad.yaml", "models:\n  gpt-4o: {input: cheap, output: 10}\n", path, sizeof path);
    cr_expect_eq(lg_pricing_load_file(path, &p, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "bad.yaml:2:19: 'input' of 'gpt-4o' must be a non-negative number") != NULL,
              "%s", e.msg);
    lg_err_clear(&e);
    write_file("bad2.yaml", "models:\n  gpt-4o: {input: 1, outptu: 10}\n", path, sizeof path);
    cr_expect_eq(lg_pricing_load_file(path, &p, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "did you mean 'output'") != NULL, "%s", e.msg);
}

Test(pricing, bundled_table_loads)
{
    char path[512];
    lg_pricing *p = NULL;
    lg_err e = LG_ERR_INIT;
    snprintf(path, sizeof path, "%s/suites/pricing.yaml", getenv("LG_SRCDIR") ? getenv("LG_SRCDIR") : ".");
    cr_assert_eq(lg_pricing_load_file(path, &p, &e), 0, "%s", e.msg);
    cr_expect_geq(lg_pricing_count(p), 10u);
    lg_price pr;
    cr_expect(lg_pricing_lookup(p, "sim-1", &pr));
    lg_pricing_free(p);
}

/* ---- validate --------------------------------------------------------- */

static bool check(lg_suite *s, const char *case_json, const char *answer, char *detail, size_t n)
{
    json_t *c = json_loads(case_json, 0, NULL);
    lg_validate_ctx ctx = {s, c, dir, NULL};
    lg_buf d = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    bool pass = false;
    cr_assert_eq(lg_validate_answer(&ctx, answer, strlen(answer), &pass, &d, &e), 0, "%s", e.msg);
    snprintf(detail, n, "%s", lg_buf_cstr(&d));
    lg_buf_release(&d);
    json_decref(c);
    return pass;
}

Test(validate, equals_trimmed_and_ignore_case)
{
    lg_suite *s = load_suite("name: t\ncases:\n  generators:\n    expected: {choice: [approve], hidden: true}\n"
                             "expect:\n  equals: \"{{expected}}\"\n  ignore_case: true\n");
    char d[512];
    cr_expect(check(s, "{\"expected\":\"approve\"}", "  Approve\n", d, sizeof d));
    cr_expect_not(check(s, "{\"expected\":\"approve\"}", "deny", d, sizeof d));
    cr_expect_str_eq(d, "expected 'approve', got 'deny'");
    lg_suite_free(s);
}

Test(validate, contains_regex_json)
{
    lg_suite *s = load_suite("name: t\n"
                             "cases:\n  generators:\n    city: {choice: [Oslo]}\n"
                             "expect:\n"
                             "  contains: [\"{{city}}\"]\n"
                             "  regex: \"^total: [0-9]+$\"\n");
    char d[512];
    cr_expect(check(s, "{\"city\":\"Oslo\"}", "Oslo\ntotal: 42", d, sizeof d), "%s", d);
    cr_expect_not(check(s, "{\"city\":\"Oslo\"}", "total: 42", d, sizeof d));
    cr_expect(strstr(d, "expected the answer to contain 'Oslo'") != NULL, "%s", d);
    lg_suite_free(s);

    s = load_suite("name: t\ncases:\n  generators:\n    expected: {choice: [deny]}\n    amount: {int: [12, 12]}\n"
                   "expect:\n  json: {decision: \"{{expected}}\", amount: \"{{amount}}\"}\n");
    cr_expect(check(s, "{\"expected\":\"deny\",\"amount\":12}",
                    "{\"decision\":\"deny\",\"amount\":12,\"extra\":true}", d, sizeof d), "%s", d);
    cr_expect_not(check(s, "{\"expected\":\"deny\",\"amount\":12}",
                        "{\"decision\":\"approve\",\"amount\":12}", d, sizeof d));
    cr_expect_str_eq(d, "the JSON answer differs from expect.json at 'decision'");
    cr_expect_not(check(s, "{\"expected\":\"deny\",\"amount\":12}", "not json", d, sizeof d));
    cr_expect_str_eq(d, "expected a JSON answer, got 'not json'");
    lg_suite_free(s);
}

Test(validate, command_sees_hidden_fields_and_answer)
{
    lg_suite *s = load_suite(
        "name: t\n"
        "validate:\n"
        "  command: 'grep -q \"\\\"expected\\\":\\\"$(cat)\\\"\" \"$LOOPGATE_CASE\" || { echo \"wrong: $(cat \"$LOOPGATE_ANSWER\")\"; exit 1; }'\n");
    char d[512];
    cr_expect(check(s, "{\"expected\":\"approve\"}", "approve", d, sizeof d), "%s", d);
    cr_expect_not(check(s, "{\"expected\":\"approve\"}", "deny", d, sizeof d));
    cr_expect_str_eq(d, "validator exited 1: wrong: deny");
    lg_suite_free(s);
}

Test(validate, no_checks_passes_everything)
{
    lg_suite *s = load_suite("name: t\n");
    char d[64];
    cr_expect(check(s, "{}", "anything", d, sizeof d));
    lg_suite_free(s);
}

/* ---- invariants ------------------------------------------------------- */

static lg_event tool(const char *name, const char *args, const char *out)
{
    lg_event ev = lg_event_make(LG_EVENT_TOOL);
    ev.tool.name = name;
    ev.tool.args.data = args;
    ev.tool.args.len = strlen(args);
    ev.tool.out.data = out;
    ev.tool.out.len = strlen(out);
    ev.tool.exit_code = 0;
    return ev;
}

static lg_event iter(int i)
{
    lg_event ev = lg_event_make(LG_EVENT_ITERATION);
    ev.iteration.index = i;
    return ev;
}

static uint32_t count_of(const lg_inv_report *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i].name, name) == 0)
            return r->items[i].count;
    return 0;
}

static void run_inv(lg_suite *s, const lg_event *evs, size_t n, bool answered, lg_inv_report *r)
{
    const lg_event *ptrs[64];
    lg_err e = LG_ERR_INIT;
    for (size_t i = 0; i < n; i++)
        ptrs[i] = &evs[i];
    lg_inv_input in = {.suite = s, .events = ptrs, .n_events = n, .iterations = 3,
                       .tokens = 100, .cost_usd = 0.5, .cost_known = true, .answered = answered};
    cr_assert_eq(lg_invariants_check(&in, r, &e), 0, "%s", e.msg);
}

Test(invariants, order_repeat_allowlist_once_approval)
{
    lg_suite *s = load_suite("name: t\n"
                             "invariants:\n"
                             "  max_iterations: 2\n"
                             "  max_tokens: 1000\n"
                             "  max_cost_usd: 0.25\n"
                             "  no_repeated_action: 3\n"
                             "  tool_allowlist: [lookup_policy, issue_refund, search]\n"
                             "  required_before: {tool: lookup_policy, before: issue_refund}\n"
                             "  exactly_once: [issue_refund]\n"
                             "  approval_required: [issue_refund]\n");
    lg_event evs[] = {
        tool("search", "{\"q\":1}", "a"), tool("search", "{\"q\":1}", "a"),
        tool("search", "{\"q\":1}", "a"), tool("issue_refund", "{\"id\":7}", "ok"),
        tool("lookup_policy", "{}", "policy"), tool("issue_refund", "{\"id\":7}", "ok"),
        tool("rm_rf", "{}", ""),
    };
    lg_inv_report r;
    run_inv(s, evs, sizeof evs / sizeof evs[0], true, &r);
    cr_expect_eq(count_of(&r, "max_iterations"), 1u);
    cr_expect_eq(count_of(&r, "max_tokens"), 0u);
    cr_expect_eq(count_of(&r, "max_cost_usd"), 1u);
    cr_expect_eq(count_of(&r, "no_repeated_action"), 1u);
    cr_expect_eq(count_of(&r, "required_before"), 1u);
    cr_expect_eq(count_of(&r, "exactly_once"), 1u);
    cr_expect_eq(count_of(&r, "approval_required"), 2u);
    cr_expect_eq(count_of(&r, "tool_allowlist"), 1u);
    for (size_t i = 0; i < r.n; i++)
        if (!strcmp(r.items[i].name, "required_before"))
            cr_expect_str_eq(r.items[i].detail, "'issue_refund' called before 'lookup_policy' (event 3)");
    lg_inv_report_release(&r);
    lg_suite_free(s);
}

Test(invariants, approvals_and_final_answer_and_loop_reports)
{
    lg_suite *s = load_suite("name: t\n"
                             "invariants:\n"
                             "  required_before: {tool: lookup_policy}\n"
                             "  approval_required: [issue_refund]\n");
    lg_event note = lg_event_make(LG_EVENT_NOTE);
    note.note.text = "approved by on-call";
    note.note.data = "{\"approve\":\"issue_refund\"}";
    lg_event inv = lg_event_make(LG_EVENT_INVARIANT);
    inv.invariant.name = "budget_left";
    inv.invariant.pass = false;
    inv.invariant.detail = "spent 120%";
    lg_event evs[] = {note, tool("issue_refund", "{}", "ok"), tool("issue_refund", "{\"x\":1}", "ok"), inv};
    lg_inv_report r;
    run_inv(s, evs, 4, true, &r);
    cr_expect_eq(count_of(&r, "approval_required"), 1u, "one approval covers one run");
    cr_expect_eq(count_of(&r, "required_before"), 1u, "answered without lookup_policy");
    cr_expect_eq(count_of(&r, "budget_left"), 1u);
    lg_inv_report_release(&r);
    /* not answered: required_before(final_answer) does not apply */
    run_inv(s, evs + 1, 1, false, &r);
    cr_expect_eq(count_of(&r, "required_before"), 0u);
    lg_inv_report_release(&r);
    lg_suite_free(s);
}

Test(invariants, stall_counts_iterations_without_new_results)
{
    lg_suite *s = load_suite("name: t\ninvariants:\n  stall: 2\n");
    lg_event evs[] = {iter(1), tool("a", "{}", "x"), iter(2), tool("a", "{}", "x"),
                      iter(3), tool("a", "{}", "x"), iter(4), tool("b", "{}", "new")};
    lg_inv_report r;
    run_inv(s, evs, 8, false, &r);
    cr_expect_eq(count_of(&r, "stall"), 1u);
    lg_inv_report_release(&r);
    lg_event ok[] = {iter(1), tool("a", "{}", "1"), iter(2), tool("a", "{}", "2"), iter(3),
                     tool("a", "{}", "3")};
    run_inv(s, ok, 6, false, &r);
    cr_expect_eq(count_of(&r, "stall"), 0u);
    lg_inv_report_release(&r);
    lg_suite_free(s);
}

Test(invariants, command_gets_session_json)
{
    lg_suite *s = load_suite("name: t\ninvariants:\n  command: 'grep -q refund || { echo no refund seen >&2; exit 3; }'\n");
    json_t *sess = json_pack("{s:s}", "events", "issue_refund");
    const lg_event *none[1];
    lg_inv_input in = {.suite = s, .events = none, .n_events = 0, .session_json = sess};
    lg_inv_report r;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_invariants_check(&in, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(r.n, 0u);
    lg_inv_report_release(&r);
    json_decref(sess);
    sess = json_pack("{s:s}", "events", "lookup");
    in.session_json = sess;
    cr_assert_eq(lg_invariants_check(&in, &r, &e), 0, "%s", e.msg);
    cr_expect_eq(count_of(&r, "command"), 1u);
    cr_expect_str_eq(r.items[0].detail, "invariant command exited 3: no refund seen");
    lg_inv_report_release(&r);
    json_decref(sess);
    lg_suite_free(s);
}
