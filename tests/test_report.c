/* tests/test_report.c - reports/: the run report document (build, JSON out
 * and back, load errors), every renderer (terminal table
 * exactly, JUnit structure, Markdown, HTML numbers and size caps), escaping
 * of hostile strings, and the compare report (a known regression is
 * detected, a no-change pair is not flagged).
 *
 * Synthetic runs come from PCG32 with a fixed seed, so every run of this
 * test sees the same outcomes. The exact terminal report is a golden file,
 * tests/fixtures/report/term.expected (LG_UPDATE_GOLDEN=1 rewrites it).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/json.h"
#include "core/pcg.h"
#include "harness/gate.h"
#include "harness/metrics.h"
#include "reports/report.h"
#include "reports/rundoc.h"
#include "reports/svg.h"

/* ---- fixtures ------------------------------------------------------------- */

static lg_run_info run_info(const char *id, const char *suite)
{
    lg_run_info r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.suite_name = suite;
    r.suite_path = "suites/support.yaml";
    r.suite_hash = "0123456789abcdef0123456789abcdef";
    r.mode = "replay";
    r.seed = 42;
    r.trials = 2;
    r.cases = 3;
    r.git_revision = "deadbeef";
    r.started_ms = 1767225600000LL; /* 2026-01-01T00:00:00.000Z */
    r.finished_ms = 1767225612300LL;
    r.status = LG_RUN_FINISHED;
    return r;
}

static lg_outcome oc(uint32_t c, uint32_t t, lg_term_reason r, uint32_t iters, double cost,
                     double wall)
{
    lg_outcome o;
    memset(&o, 0, sizeof o);
    o.case_index = c;
    o.trial = t;
    o.reason = r;
    o.converged = r == LG_TERM_SUCCESS;
    o.iterations = iters;
    o.model_calls = iters;
    o.tokens_in = 1000 * iters;
    o.tokens_out = 100 * iters;
    o.tokens_cached = 200 * iters;
    o.cost_usd = cost;
    o.cost_known = true;
    o.wall_ms = wall;
    return o;
}

/* The small fixed run of the golden terminal report:
 *   case 0: success it=3, success it=4                 2/2
 *   case 1: success it=5, max_iterations it=10         1/2 (violates max_iterations)
 *   case 2: validator_failed it=2, validator_failed 3  0/2
 * gates: convergence_rate >= 0.5 (3/6 = 0.5, pass), cases.never_converged == 0 (FAIL) */
static const double lat0[] = {100, 200, 300}, lat1[] = {150, 250};
static const lg_violation viol_cap[] = {{"max_iterations", 1}};
static const lg_timeline_item tl_items[] = {
    {"response", 12.5, "calls tool lookup_order {\"id\": 7}"},
    {"tool_result", 40.0, "order 7: shipped"},
    {"verify", 95.25, "fail: expected 42, got 41"},
};

static size_t small_outcomes(lg_outcome *o)
{
    size_t n = 0;
    o[n++] = oc(2, 1, LG_TERM_VALIDATOR_FAILED, 3, 0.03, 300);
    o[n - 1].detail = "expected 42, got 41\nsecond line";
    o[n++] = oc(0, 0, LG_TERM_SUCCESS, 3, 0.01, 100);
    o[n - 1].call_latency_ms = lat0;
    o[n - 1].n_call_latency = 3;
    o[n++] = oc(0, 1, LG_TERM_SUCCESS, 4, 0.02, 200);
    o[n - 1].call_latency_ms = lat1;
    o[n - 1].n_call_latency = 2;
    o[n++] = oc(1, 0, LG_TERM_SUCCESS, 5, 0.02, 250);
    o[n++] = oc(1, 1, LG_TERM_MAX_ITERATIONS, 10, 0.05, 900);
    o[n - 1].violations = viol_cap;
    o[n - 1].n_violations = 1;
    o[n - 1].detail = "hit the cap of 10 iterations";
    o[n++] = oc(2, 0, LG_TERM_VALIDATOR_FAILED, 2, 0.02, 150);
    o[n - 1].detail = "expected 42, got 40";
    return n;
}

/* Evaluates real gates on real metrics. */
static size_t eval_gates(const char *const *exprs, size_t n, const lg_metrics *m,
                         lg_rundoc_gate *out)
{
    for (size_t i = 0; i < n; i++) {
        lg_gate *g = NULL;
        lg_err e = LG_ERR_INIT;
        cr_assert_eq(lg_gate_parse(exprs[i], NULL, &g, &e), 0, "%s", e.msg);
        out[i].expr = exprs[i];
        cr_assert_eq(lg_gate_eval(g, m, NULL, &out[i].result, &e), 0, "%s", e.msg);
        lg_gate_free(g);
    }
    return n;
}

static lg_rundoc *small_doc(void)
{
    static const char *const exprs[] = {"convergence_rate >= 0.5", "cases.never_converged == 0"};
    lg_outcome o[8];
    lg_rundoc_gate gates[2];
    lg_timeline tl = {2, 1, tl_items, 3};
    lg_rundoc_input in;
    lg_metrics *m = NULL;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    memset(&in, 0, sizeof in);
    in.generator = "loopgate test";
    in.run = run_info("r1", "support");
    in.n_outcomes = small_outcomes(o);
    in.outcomes = o;
    cr_assert_eq(lg_metrics_compute(o, in.n_outcomes, NULL, &m, &e), 0, "%s", e.msg);
    in.metrics = m;
    in.n_gates = eval_gates(exprs, 2, m, gates);
    in.gates = gates;
    in.timelines = &tl;
    in.n_timelines = 1;
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    lg_metrics_free(m);
    return d;
}

/* A synthetic run: `cases` x `trials` outcomes, case i converging with a
 * probability drawn per case (so some cases are flaky, some never
 * converge), from PCG32(seed). Details and timelines for failing trials. */
typedef struct synth {
    lg_outcome *o;
    size_t n;
    lg_timeline *tl;
    size_t ntl;
    lg_violation viol[2];
} synth;

static const lg_timeline_item synth_items[] = {
    {"prompt", 0.0, "system + user: refund order 7?"},
    {"response", 850.5, "tool_call refund {\"order\": 7}"},
    {"tool_result", 910.0, "exit 0: refunded"},
    {"verify", 1200.0, "fail: policy forbids refunds over $100"},
};

static void synth_run(synth *s, uint32_t cases, uint32_t trials, uint64_t seed)
{
    static const lg_term_reason fails[] = {LG_TERM_VALIDATOR_FAILED, LG_TERM_MAX_ITERATIONS,
                                           LG_TERM_TIMEOUT, LG_TERM_STALLED, LG_TERM_CRASHED};
    lg_pcg32 rng;
    size_t k = 0;

    lg_pcg32_srandom(&rng, seed, 7);
    s->n = (size_t)cases * trials;
    s->o = calloc(s->n, sizeof *s->o);
    s->tl = calloc(s->n, sizeof *s->tl);
    s->ntl = 0;
    s->viol[0] = (lg_violation){"max_tokens", 1};
    s->viol[1] = (lg_violation){"no_repeated_action", 2};
    cr_assert(s->o && s->tl);
    for (uint32_t c = 0; c < cases; c++) {
        double p = lg_pcg32_double(&rng);
        p = p < 0.1 ? 0.0 : p > 0.6 ? 1.0 : p; /* never, flaky, always */
        for (uint32_t t = 0; t < trials; t++, k++) {
            bool conv = lg_pcg32_double(&rng) < p;
            lg_term_reason r = conv ? LG_TERM_SUCCESS : fails[lg_pcg32_boundedrand(&rng, 5)];
            lg_outcome *o = &s->o[k];
            *o = oc(c, t, r, 1 + lg_pcg32_boundedrand(&rng, conv ? 8 : 20),
                    0.001 * (1 + lg_pcg32_boundedrand(&rng, 50)),
                    100.0 + lg_pcg32_boundedrand(&rng, 5000));
            if (!conv) {
                o->detail = "validator: expected \"approve\", got \"deny\"";
                if (lg_pcg32_boundedrand(&rng, 3) == 0) {
                    o->violations = s->viol;
                    o->n_violations = 2;
                }
                s->tl[s->ntl++] = (lg_timeline){c, t, synth_items, 4};
            }
        }
    }
}

static void synth_free(synth *s)
{
    free(s->o);
    free(s->tl);
}

static lg_rundoc *synth_doc(uint32_t cases, uint32_t trials, uint64_t seed)
{
    synth s;
    lg_rundoc_input in;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    synth_run(&s, cases, trials, seed);
    memset(&in, 0, sizeof in);
    in.run = run_info("synthetic", "synthetic");
    in.run.trials = trials;
    in.run.cases = cases;
    in.outcomes = s.o;
    in.n_outcomes = s.n;
    in.timelines = s.tl;
    in.n_timelines = s.ntl;
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    synth_free(&s);
    return d;
}

static char *render(const lg_rundoc *d, lg_report_format f, const lg_report_opts *o)
{
    lg_buf b = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_report_render(d, f, o, &b, &e), 0, "%s", e.msg);
    return lg_buf_take(&b, NULL);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *canon(const lg_rundoc *d)
{
    lg_err e = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;
    json_t *j = lg_rundoc_to_json(d, &e);
    cr_assert(j, "%s", e.msg);
    cr_assert_eq(lg_json_dump_canonical(j, &b, &e), 0);
    json_decref(j);
    return lg_buf_take(&b, NULL);
}

static lg_rundoc *load_str(const char *json, const char *name, lg_err *e, int *rc)
{
    lg_rundoc *d = NULL;
    json_t *j = lg_json_parse(json, strlen(json), name, e);
    cr_assert(j, "%s", e->msg);
    *rc = lg_rundoc_load_json(j, name, &d, e);
    json_decref(j);
    return d;
}

static lg_rundoc *hostile_doc(void);

/* ---- the document --------------------------------------------------------- */

Test(rundoc, build_sorts_copies_and_computes_the_verdict)
{
    lg_rundoc *d = small_doc();
    cr_assert_eq(d->n_outcomes, 6u);
    for (size_t i = 1; i < d->n_outcomes; i++) {
        const lg_outcome *a = &d->outcomes[i - 1], *b = &d->outcomes[i];
        cr_expect(a->case_index < b->case_index ||
                  (a->case_index == b->case_index && a->trial < b->trial));
    }
    cr_expect_eq(d->metrics->trials, 6u);
    cr_expect_eq(d->metrics->convergence.converged, 3u);
    cr_expect_eq(d->n_gates, 2u);
    cr_expect_eq(d->gates_failed, 1u);
    cr_expect_not(d->passed);
    cr_expect(d->gates[0].result.pass);
    cr_expect_str_eq(d->outcomes[5].detail, "expected 42, got 41\nsecond line");
    const lg_timeline *tl = lg_rundoc_find_timeline(d, 2, 1);
    cr_assert(tl);
    cr_expect_eq(tl->n_items, 3u);
    cr_expect_str_eq(tl->items[2].summary, "fail: expected 42, got 41");
    cr_expect_null(lg_rundoc_find_timeline(d, 0, 0));
    lg_rundoc_free(d);
}

Test(rundoc, json_roundtrip_is_exact)
{
    lg_rundoc *d = synth_doc(40, 3, 11), *back = NULL;
    char *a = canon(d), *b;
    lg_err e = LG_ERR_INIT;
    int rc;

    back = load_str(a, "a.json", &e, &rc);
    cr_assert_eq(rc, 0, "%s", e.msg);
    b = canon(back);
    cr_expect_str_eq(a, b);
    cr_expect_eq(back->n_timelines, d->n_timelines);
    cr_expect_eq(back->passed, d->passed);
    free(a);
    free(b);
    lg_rundoc_free(d);
    lg_rundoc_free(back);
}

/* The streamed JSON format is byte for byte jansson's pretty dump of the
 * document tree, for runs with every kind of value (and a comparison). */
Test(rundoc, streamed_json_equals_the_jansson_dump)
{
    /* reals jansson writes in every form: exponents, -0, subnormals, .0 */
    static const double tricky[] = {1e-5, 1e21, 1e22, 5e-324, 1e300, 1.5e-7, 123.456, 100.0,
                                    1e16, 1e17, -0.0, 0.1, 2.0 / 3.0, 1.0000000000000002};
    lg_outcome o[14];
    lg_rundoc_input in;
    lg_rundoc *docs[4] = {synth_doc(50, 3, 21), hostile_doc(), small_doc(), NULL};
    memset(&in, 0, sizeof in);
    for (uint32_t i = 0; i < 14; i++) {
        o[i] = oc(i, 0, LG_TERM_SUCCESS, 1, tricky[i], tricky[13 - i]);
        if (o[i].wall_ms < 0)
            o[i].wall_ms = 0;
    }
    in.run = run_info("tricky", "tricky");
    in.outcomes = o;
    in.n_outcomes = 14;
    lg_rundoc *base = synth_doc(50, 3, 22);
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_rundoc_build(&in, &docs[3], &e), 0, "%s", e.msg);
    cr_assert_eq(lg_rundoc_compare(docs[0], base, NULL, &e), 0, "%s", e.msg);
    for (int i = 0; i < 4; i++) {
        lg_buf want = LG_BUF_INIT;
        json_t *j = lg_rundoc_to_json(docs[i], &e);
        cr_assert(j, "%s", e.msg);
        cr_assert_eq(lg_json_dump_pretty(j, &want, &e), 0);
        cr_assert_eq(lg_buf_append_byte(&want, '\n'), 0);
        char *got = render(docs[i], LG_REPORT_JSON, NULL);
        cr_expect_str_eq(got, lg_buf_cstr(&want), "document %d", i);
        free(got);
        json_decref(j);
        lg_buf_release(&want);
        lg_rundoc_free(docs[i]);
    }
    lg_rundoc_free(base);
}

Test(rundoc, build_rejects_bad_input)
{
    lg_outcome o[8];
    lg_rundoc_input in;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    memset(&in, 0, sizeof in);
    in.run = run_info("r1", "support");
    in.n_outcomes = small_outcomes(o);
    in.outcomes = o;

    in.run.id = "";
    cr_expect_eq(lg_rundoc_build(&in, &d, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "no id"), "%s", e.msg);
    in.run.id = "r1";

    lg_err_clear(&e);
    o[1].trial = 1; /* now case 0 trial 1 twice */
    cr_expect_eq(lg_rundoc_build(&in, &d, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "case 0") && strstr(e.msg, "trial 1"), "%s", e.msg);
    o[1].trial = 0;

    lg_err_clear(&e);
    lg_timeline tl = {9, 0, tl_items, 1};
    in.timelines = &tl;
    in.n_timelines = 1;
    cr_expect_eq(lg_rundoc_build(&in, &d, &e), LG_EINPUT);
    cr_expect_str_eq(e.msg, "run report: a timeline names case 9 trial 0, which has no outcome");
    cr_expect_null(d);
}

Test(rundoc, load_errors_name_the_file_and_the_json_path)
{
    lg_rundoc *d = small_doc(), *x;
    char *json = canon(d);
    lg_err e = LG_ERR_INIT;
    int rc;
    char *bad;

    /* a misspelt reason */
    bad = strdup(json);
    char *p = strstr(strstr(bad, "\"outcomes\""), "\"validator_failed\"");
    cr_assert(p);
    memcpy(p + 1, "validator_fialed", 16);
    x = load_str(bad, "base.json", &e, &rc);
    cr_expect_eq(rc, LG_EINPUT);
    cr_expect_null(x);
    cr_expect_str_eq(e.msg, "base.json: $.outcomes[4].reason: unknown value 'validator_fialed' "
                            "(did you mean 'validator_failed'?)");
    free(bad);

    /* a newer schema */
    lg_err_clear(&e);
    x = load_str("{\"schema\": 2}", "new.json", &e, &rc);
    cr_expect_eq(rc, LG_EFORMAT);
    cr_expect_str_eq(e.msg, "new.json: run report schema 2 is newer than this loopgate (reads up "
                            "to 1); upgrade loopgate");

    /* not a report at all */
    lg_err_clear(&e);
    x = load_str("[1, 2]", "list.json", &e, &rc);
    cr_expect_eq(rc, LG_EINPUT);
    cr_expect(strstr(e.msg, "list.json: $: expected a JSON object"), "%s", e.msg);

    /* a wall time of the wrong type */
    lg_err_clear(&e);
    json_t *j = lg_json_parse(json, strlen(json), "x", &e);
    json_object_set_new(json_array_get(json_object_get(j, "outcomes"), 3), "wall_ms",
                        json_string("slow"));
    cr_expect_eq(lg_rundoc_load_json(j, "w.json", &x, &e), LG_EINPUT);
    cr_expect_str_eq(e.msg, "w.json: $.outcomes[3].wall_ms: expected a number >= 0");

    /* converged disagreeing with the reason */
    lg_err_clear(&e);
    json_object_set_new(json_array_get(json_object_get(j, "outcomes"), 3), "wall_ms",
                        json_real(1.0));
    json_object_set_new(json_array_get(json_object_get(j, "outcomes"), 3), "converged",
                        json_true());
    cr_expect_eq(lg_rundoc_load_json(j, "c.json", &x, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "c.json: $.outcomes[3].converged: is true but the reason is "
                            "'max_iterations'"), "%s", e.msg);

    /* outcomes that disagree with the metrics */
    lg_err_clear(&e);
    json_object_set_new(json_array_get(json_object_get(j, "outcomes"), 3), "converged",
                        json_false());
    json_array_remove(json_object_get(j, "outcomes"), 0);
    cr_expect_eq(lg_rundoc_load_json(j, "t.json", &x, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "t.json: $.metrics.per_case does not match the outcomes at case 0"),
              "%s", e.msg);

    /* a missing member */
    lg_err_clear(&e);
    json_object_del(j, "run");
    cr_expect_eq(lg_rundoc_load_json(j, "m.json", &x, &e), LG_EINPUT);
    cr_expect_str_eq(e.msg, "m.json: $.run: missing (required)");
    json_decref(j);

    /* a file that does not exist */
    lg_err_clear(&e);
    cr_expect_eq(lg_rundoc_load_file("/nonexistent/run.json", &x, &e), LG_ENOENT);
    cr_expect(strstr(e.msg, "/nonexistent/run.json"), "%s", e.msg);
    free(json);
    lg_rundoc_free(d);
}

Test(rundoc, time_parser)
{
    int64_t ms;
    cr_expect(lg_rundoc_parse_time("2026-01-01T00:00:00.000Z", &ms));
    cr_expect_eq(ms, 1767225600000LL);
    cr_expect(lg_rundoc_parse_time("2026-01-01T00:00:01.5Z", &ms));
    cr_expect_eq(ms, 1767225601500LL);
    cr_expect_not(lg_rundoc_parse_time("2026-01-01 00:00:00Z", &ms));
    cr_expect_not(lg_rundoc_parse_time("2026-01-01T00:00:00+01:00", &ms));
    cr_expect_not(lg_rundoc_parse_time("2026-13-01T00:00:00Z", &ms));
}

/* ---- renderers ------------------------------------------------------------- */

static char *read_golden(const char *name)
{
    const char *src = getenv("LG_SRCDIR");
    lg_buf path = LG_BUF_INIT, b = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_buf_appendf(&path, "%s/tests/fixtures/report/%s", src ? src : ".", name), 0);
    if (lg_fs_read_file(lg_buf_cstr(&path), &b, &e)) {
        lg_buf_release(&path);
        return NULL;
    }
    lg_buf_release(&path);
    return lg_buf_take(&b, NULL);
}

static void check_golden(const char *name, const char *got)
{
    const char *up = getenv("LG_UPDATE_GOLDEN");
    if (up && !strcmp(up, "1")) {
        const char *src = getenv("LG_SRCDIR");
        lg_buf path = LG_BUF_INIT;
        lg_err e = LG_ERR_INIT;
        cr_assert_eq(lg_buf_appendf(&path, "%s/tests/fixtures/report/%s", src ? src : ".", name),
                     0);
        cr_assert_eq(lg_fs_write_file_atomic(lg_buf_cstr(&path), got, strlen(got), &e), 0, "%s",
                     e.msg);
        lg_buf_release(&path);
        return;
    }
    char *want = read_golden(name);
    cr_assert(want, "missing golden tests/fixtures/report/%s (LG_UPDATE_GOLDEN=1 writes it)",
              name);
    cr_expect_str_eq(got, want, "output differs from tests/fixtures/report/%s (LG_UPDATE_GOLDEN=1 "
                     "rewrites it after a deliberate change)", name);
    free(want);
}

Test(render, term_exact_table)
{
    lg_rundoc *d = small_doc();
    char *t = render(d, LG_REPORT_TERM, NULL);
    check_golden("term.expected", t);
    /* independent of the golden: the verdict line is last, no colour codes */
    const char *last = strrchr(t, '\n');
    cr_assert(last && last[1] == 0);
    const char *prev = last - 1;
    while (prev > t && prev[-1] != '\n')
        prev--;
    cr_expect_str_eq(prev, "FAIL: 1 of 2 gates failed: cases.never_converged == 0\n");
    cr_expect_null(strchr(t, '\033'));
    /* the value column is aligned: 0.5000 starts under VALUE */
    const char *hdr = strstr(t, "\nMETRIC "), *row = strstr(t, "\nconvergence_rate ");
    cr_assert(hdr && row);
    cr_expect_eq(strstr(hdr, "VALUE") - hdr, strstr(row, "0.5000") - row);
    const char *ghdr = strstr(t, "\nGATE "), *grow = strstr(t, "\ncases.never_converged == 0 ");
    cr_assert(ghdr && grow);
    cr_expect_eq(strstr(ghdr, "VERDICT") - ghdr, strstr(grow, "FAIL") - grow);
    free(t);
    lg_rundoc_free(d);
}

Test(render, term_colour_only_when_asked)
{
    lg_rundoc *d = small_doc();
    lg_report_opts o = {0};
    o.color = true;
    char *t = render(d, LG_REPORT_TERM, &o);
    cr_expect(strstr(t, "\033[1;31mFAIL\033[0m"), "the failing gate is red");
    cr_expect(strstr(t, "\033[32mpass\033[0m"), "the passing gate is green");
    cr_expect(strstr(t, "\033[1;31mFAIL: 1 of 2 gates failed"), "the verdict is red");
    free(t);
    lg_rundoc_free(d);
}

Test(render, junit_structure)
{
    lg_rundoc *d = synth_doc(30, 3, 5);
    char *x = render(d, LG_REPORT_JUNIT, NULL);
    size_t fails = d->n_outcomes - d->metrics->convergence.converged;
    char want[128];

    cr_expect(strncmp(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 50) == 0);
    cr_expect_eq(count(x, "<testsuite "), 1u);
    cr_expect_eq(count(x, "<testcase "), 90u);
    cr_expect_eq(count(x, "<failure "), fails);
    cr_expect_eq(count(x, "<system-out>"), d->n_timelines);
    snprintf(want, sizeof want, "tests=\"90\" failures=\"%zu\"", fails);
    cr_expect_eq(count(x, want), 2u, "testsuites and testsuite both count: %s", want);
    cr_expect(strstr(x, "<testcase name=\"case 0 trial 0\" classname=\"synthetic\""));
    cr_expect(strstr(x, "<testcase name=\"case 29 trial 2\""));
    cr_expect(strstr(x, "<property name=\"convergence_rate\" value=\""));
    cr_expect(strstr(x, "<property name=\"loopgate.run_id\" value=\"synthetic\"/>"));
    /* the failure message is REASON: detail, escaped for an attribute */
    cr_expect(strstr(x, ": validator: expected &quot;approve&quot;, got &quot;deny&quot;"), "%s",
              x);
    cr_expect(strstr(x, "   1200.0 ms  verify  fail: policy forbids refunds over $100\n"));
    free(x);
    lg_rundoc_free(d);
}

Test(render, markdown_summary_gates_and_details)
{
    lg_rundoc *d = small_doc();
    char *m = render(d, LG_REPORT_MD, NULL);
    static const char head[] = "## loopgate: support ❌\n\n**FAIL: 1 of 2 gates failed: "
                               "cases.never\\_converged == 0**\n";
    cr_expect(strncmp(m, head, strlen(head)) == 0, "%s", m);
    cr_expect(strstr(m, "| metric | value | detail |\n|---|---:|---|\n"));
    cr_expect(strstr(m, "| convergence\\_rate | 0.5000 | 3 of 6 trials;"), "%s", m);
    cr_expect(strstr(m, "| convergence\\_rate &gt;= 0.5 | 0.5 | 0.5 | ✅ pass |"), "%s", m);
    cr_expect(strstr(m, "| cases.never\\_converged == 0 | 1 | 0 | ❌ **FAIL** | "), "%s", m);
    cr_expect(strstr(m, "<details><summary>Failing trials (3)</summary>\n\n"));
    cr_expect(strstr(m, "**case 1 trial 1**: max\\_iterations after 10 iterations; violated "
                        "max\\_iterations x1"), "%s", m);
    cr_expect(strstr(m, "<pre>      12.5 ms  response  calls tool lookup_order {\"id\": 7}\n"
                        "      40.0 ms  tool_result  order 7: shipped\n"), "%s", m);
    cr_expect(strstr(m, "      95.2 ms  verify  fail: expected 42, got 41\n</pre>") ||
              strstr(m, "      95.3 ms  verify  fail: expected 42, got 41\n</pre>"), "%s", m);
    cr_expect(strstr(m, "</details>"));
    free(m);
    lg_rundoc_free(d);
}

Test(render, markdown_caps_failing_trials)
{
    lg_rundoc *d = synth_doc(200, 2, 3);
    lg_report_opts o = {0};
    size_t fails = d->n_outcomes - d->metrics->convergence.converged;
    char want[128];
    o.max_detail = 5;
    char *m = render(d, LG_REPORT_MD, &o);
    cr_expect_eq(count(m, "**case "), 5u);
    snprintf(want, sizeof want, "%zu more failing trials not shown", fails - 5);
    cr_expect(strstr(m, want), "%s", want);
    free(m);
    lg_rundoc_free(d);
}

Test(render, markdown_fits_a_github_comment)
{
    /* long details and timelines in every failing trial */
    static char big[4000];
    static lg_timeline_item items[20];
    synth s;
    lg_rundoc_input in;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    memset(big, 'x', sizeof big - 1);
    for (int i = 0; i < 20; i++)
        items[i] = (lg_timeline_item){"response", i * 10.0, big + 3800};
    synth_run(&s, 300, 2, 8);
    for (size_t i = 0; i < s.n; i++)
        if (!s.o[i].converged)
            s.o[i].detail = big;
    for (size_t i = 0; i < s.ntl; i++) {
        s.tl[i].items = items;
        s.tl[i].n_items = 20;
    }
    memset(&in, 0, sizeof in);
    in.run = run_info("big", "big");
    in.outcomes = s.o;
    in.n_outcomes = s.n;
    in.timelines = s.tl;
    in.n_timelines = s.ntl;
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    char *m = render(d, LG_REPORT_MD, NULL);
    cr_expect_lt(strlen(m), 65536u, "markdown is %zu bytes", strlen(m));
    cr_expect(strstr(m, "more failing trials not shown"));
    cr_expect(strstr(m, "</details>"));
    free(m);
    lg_rundoc_free(d);
    synth_free(&s);
}

Test(render, html_holds_the_numbers_and_charts)
{
    lg_rundoc *d = small_doc();
    char *h = render(d, LG_REPORT_HTML, NULL);
    cr_expect(strncmp(h, "<!DOCTYPE html>\n", 16) == 0);
    cr_expect(strstr(h, "data-metric=\"convergence_rate\">0.5000</td>"));
    cr_expect(strstr(h, "data-metric=\"cases.never_converged\">1</td>"));
    cr_expect(strstr(h, "data-metric=\"iterations.mean\">4.00</td>"));
    cr_expect(strstr(h, "data-metric=\"cost_usd\">$0.1500</td>"));
    cr_expect(strstr(h, "<p id=\"verdict\" class=\"verdict fail\">FAIL: 1 of 2 gates failed"));
    for (const char *const *id = (const char *const[]){"chart-curve", "chart-iterations",
                                                         "chart-cost", "chart-reasons",
                                                         "chart-violations", NULL};
         *id; id++) {
        char want[64];
        snprintf(want, sizeof want, "<figure id=\"%s\">\n<svg ", *id);
        cr_expect(strstr(h, want), "missing %s", *id);
    }
    cr_expect(strstr(h, "<polygon class=\"band\""), "the curve has its interval band");
    cr_expect(strstr(h, "<details id=\"trial-2-1\">"));
    cr_expect(strstr(h, "<td><pre>fail: expected 42, got 41</pre></td>"));
    /* self-contained: no script, nothing fetched */
    cr_expect_null(strstr(h, "<script"));
    cr_expect_null(strstr(h, "src="));
    cr_expect_null(strstr(h, "href="));
    cr_expect_eq(count(h, "http"), count(h, "http://www.w3.org/2000/svg") +
                                       count(h, "http-equiv"));
    free(h);
    lg_rundoc_free(d);
}

Test(render, html_of_100k_sessions_stays_small, .timeout = 120)
{
    lg_rundoc *d = synth_doc(20000, 5, 99);
    size_t len;
    lg_buf b = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(d->n_outcomes, 100000u);
    cr_assert_eq(lg_report_render(d, LG_REPORT_HTML, NULL, &b, &e), 0, "%s", e.msg);
    len = b.len;
    cr_expect_lt(len, 5u * 1024 * 1024, "html is %zu bytes", len);
    cr_expect(strstr(lg_buf_cstr(&b), "more cases not shown"));
    cr_expect(strstr(lg_buf_cstr(&b), "more failing trials not shown"));
    cr_expect_leq(count(lg_buf_cstr(&b), "<tr class="), 1000u);
    lg_buf_release(&b);
    lg_rundoc_free(d);
}

Test(render, all_formats_at_once_equal_one_by_one)
{
    lg_rundoc *d = synth_doc(100, 3, 17);
    lg_buf outs[LG_REPORT_FORMAT_COUNT];
    lg_err e = LG_ERR_INIT;
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_init(&outs[f]);
    cr_assert_eq(lg_report_render_all(d, NULL, outs, &e), 0, "%s", e.msg);
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++) {
        char *one = render(d, (lg_report_format)f, NULL);
        cr_expect_str_eq(lg_buf_cstr(&outs[f]), one, "format %s", lg_report_format_names[f]);
        free(one);
        lg_buf_release(&outs[f]);
    }
    /* an error in one format is reported */
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_init_capped(&outs[f], f == LG_REPORT_JUNIT ? 64 : LG_BUF_DEFAULT_CAP);
    cr_expect_eq(lg_report_render_all(d, NULL, outs, &e), LG_ETOOBIG);
    cr_expect(strstr(e.msg, "junit report"), "%s", e.msg);
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++)
        lg_buf_release(&outs[f]);
    lg_rundoc_free(d);
}

Test(render, empty_interrupted_run_renders_everywhere)
{
    lg_rundoc_input in;
    lg_rundoc *d = NULL, *back = NULL;
    lg_err e = LG_ERR_INIT;
    memset(&in, 0, sizeof in);
    in.run = run_info("empty", "support");
    in.run.status = LG_RUN_INTERRUPTED;
    in.run.finished_ms = -1;
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    cr_expect_not(d->passed, "an interrupted run never passes");
    for (int f = 0; f < LG_REPORT_FORMAT_COUNT; f++) {
        char *out = render(d, (lg_report_format)f, NULL);
        cr_expect(strlen(out) > 0, "%s", lg_report_format_names[f]);
        if (f == LG_REPORT_TERM)
            cr_expect(strstr(out, "\nFAIL: the run did not finish (interrupted); 0 of 0 gates "
                                  "failed\n"), "%s", out);
        if (f == LG_REPORT_HTML)
            cr_expect(strstr(out, ">no data</text>"), "empty charts say so");
        if (f == LG_REPORT_JUNIT)
            cr_expect(strstr(out, "tests=\"0\" failures=\"0\""));
        if (f == LG_REPORT_JSON) {
            int rc;
            back = load_str(out, "empty.json", &e, &rc);
            cr_expect_eq(rc, 0, "%s", e.msg);
            cr_expect(back && back->n_outcomes == 0 && back->run.status == LG_RUN_INTERRUPTED);
            lg_rundoc_free(back);
        }
        free(out);
    }
    lg_rundoc_free(d);
}

Test(render, output_cap_is_an_error_not_a_crash)
{
    lg_rundoc *d = small_doc();
    lg_buf b;
    lg_err e = LG_ERR_INIT;
    lg_buf_init_capped(&b, 100);
    cr_expect_eq(lg_report_render(d, LG_REPORT_HTML, NULL, &b, &e), LG_ETOOBIG);
    cr_expect(strstr(e.msg, "html report: the output would exceed its size cap"), "%s", e.msg);
    lg_buf_release(&b);
    lg_rundoc_free(d);
}

/* ---- hostile strings ---------------------------------------------------------- */

static lg_rundoc *hostile_doc(void)
{
    static const char hostile[] = "<script>alert(\"x\")</script> ]]> 'q' & \x01\x1b[31mred\x7f "
                                  "\xff\xfe bad | *b* `c` $x$ @who";
    static const lg_violation v[] = {{"<inv>&\"", 1}};
    static const lg_timeline_item items[] = {{"<kind>", 1.0, hostile}};
    lg_outcome o[2];
    lg_timeline tl = {0, 1, items, 1};
    lg_rundoc_input in;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    memset(&in, 0, sizeof in);
    in.run = run_info("r<1>", hostile);
    in.run.git_revision = hostile;
    o[0] = oc(0, 0, LG_TERM_SUCCESS, 1, 0.01, 10);
    o[1] = oc(0, 1, LG_TERM_CRASHED, 1, 0.01, 10);
    o[1].detail = hostile;
    o[1].violations = v;
    o[1].n_violations = 1;
    in.outcomes = o;
    in.n_outcomes = 2;
    in.timelines = &tl;
    in.n_timelines = 1;
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    return d;
}

static void no_raw_controls(const char *s, bool allow_esc, const char *what)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\n' || *p == '\t' || (allow_esc && *p == 0x1b))
            continue;
        cr_expect(*p >= 0x20 && *p != 0x7f && *p != 0xff && *p != 0xfe,
                  "%s: raw byte 0x%02x at offset %td", what, *p, (const char *)p - s);
        if (!(*p >= 0x20 && *p != 0x7f && *p != 0xff && *p != 0xfe))
            return;
    }
}

Test(escape, xml_and_html_carry_no_markup_or_controls)
{
    lg_rundoc *d = hostile_doc();
    char *x = render(d, LG_REPORT_JUNIT, NULL), *h = render(d, LG_REPORT_HTML, NULL);

    for (int i = 0; i < 2; i++) {
        const char *s = i ? h : x, *what = i ? "html" : "junit";
        cr_expect_null(strstr(s, "<script"), "%s has a raw <script", what);
        cr_expect_null(strstr(s, "]]>"), "%s has a raw ]]>", what);
        cr_expect(strstr(s, "&lt;script&gt;alert("), "%s", what);
        cr_expect(strstr(s, "\xE2\x90\x81\xE2\x90\x9B[31mred\xE2\x90\xA1"),
                  "%s: SOH, ESC and DEL as control pictures", what);
        cr_expect(strstr(s, "\xEF\xBF\xBD\xEF\xBF\xBD bad"), "%s: invalid UTF-8 as U+FFFD", what);
        cr_expect_null(strstr(s, "<inv>"), "%s", what);
        cr_expect_null(strstr(s, "<kind>"), "%s", what);
        no_raw_controls(s, false, what);
    }
    /* attributes: quotes escaped */
    cr_expect(strstr(x, "classname=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; ]]&gt; "
                        "&apos;q&apos; &amp; "), "%s", x);
    free(x);
    free(h);
    lg_rundoc_free(d);
}

Test(escape, markdown_and_terminal)
{
    lg_rundoc *d = hostile_doc();
    char *m = render(d, LG_REPORT_MD, NULL), *t = render(d, LG_REPORT_TERM, NULL);

    cr_expect_null(strstr(m, "<script"));
    cr_expect(strstr(m, "&lt;script&gt;"));
    cr_expect(strstr(m, "\\| \\*b\\* \\`c\\` \\$x\\$ \\@who"), "%s", m);
    no_raw_controls(m, false, "md");
    /* the terminal gets no escape sequence from the data */
    cr_expect_null(strchr(t, 0x1b));
    cr_expect(strstr(t, "\xE2\x90\x9B[31mred"));
    no_raw_controls(t, false, "term");
    free(m);
    free(t);

    /* JSON keeps the text (escaped by jansson) but repairs invalid UTF-8 */
    char *j = render(d, LG_REPORT_JSON, NULL);
    cr_expect(strstr(j, "\\u0001\\u001B[31mred\x7f \xEF\xBF\xBD\xEF\xBF\xBD bad"), "%s", j);
    free(j);
    lg_rundoc_free(d);
}

/* ---- compare ------------------------------------------------------------------- */

/* 20 cases, 1 trial each; cases whose index is in [from, to) fail. */
static lg_rundoc *pass_fail_doc(const char *id, uint32_t from, uint32_t to)
{
    lg_outcome o[20];
    lg_rundoc_input in;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    for (uint32_t c = 0; c < 20; c++)
        o[c] = oc(c, 0, c >= from && c < to ? LG_TERM_VALIDATOR_FAILED : LG_TERM_SUCCESS, 3, 0.01,
                  50);
    memset(&in, 0, sizeof in);
    in.run = run_info(id, "support");
    in.run.trials = 1;
    in.run.cases = 20;
    in.outcomes = o;
    in.n_outcomes = 20;
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    return d;
}

Test(compare, known_regression_is_detected_in_every_format)
{
    lg_rundoc *base = pass_fail_doc("base", 0, 0), *cand = pass_fail_doc("cand", 3, 11);
    lg_err e = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;

    cr_assert_eq(lg_rundoc_compare(cand, base, NULL, &e), 0, "%s", e.msg);
    const lg_compare *c = &cand->comparison->cmp;
    cr_expect_eq(c->shared, 20u);
    cr_expect_eq(c->b, 8u);
    cr_expect_eq(c->c, 0u);
    cr_expect_float_eq(c->p_value, 2.0 / 256.0, 1e-12); /* 2 * 0.5^8 */
    cr_expect_eq(c->verdict, LG_VERDICT_REGRESSED);
    cr_expect_eq(c->regressed[0], 3u);
    cr_expect_eq(c->regressed[7], 10u);

    cr_assert_eq(lg_report_render_compare(cand, LG_REPORT_TERM, NULL, &b, &e), 0, "%s", e.msg);
    const char *t = lg_buf_cstr(&b);
    cr_expect(strstr(t, "\nREGRESSED: 8 of 20 shared cases flipped to fail and 0 to pass; exact "
                        "McNemar p = 0.00781"), "%s", t);
    cr_expect(strstr(t, " < alpha 0.05\n"), "%s", t);
    cr_expect(strstr(t, "regressed (pass -> fail): cases 3, 4, 5, 6, 7, 8, 9, 10\n"), "%s", t);
    cr_expect(strstr(t, "convergence_rate"));
    cr_expect(strstr(t, "-0.4000"), "delta of the rate 1.0 -> 0.6: %s", t);
    cr_expect(strstr(t, "Detecting a drop of 0.05 from 1"), "%s", t);
    lg_buf_reset(&b);

    cr_assert_eq(lg_report_render_compare(cand, LG_REPORT_MD, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "**REGRESSED: 8 of 20 shared cases"));
    cr_expect(strstr(lg_buf_cstr(&b), "<details><summary>Cases that flipped (8)</summary>"));
    lg_buf_reset(&b);
    cr_assert_eq(lg_report_render_compare(cand, LG_REPORT_HTML, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "<p id=\"verdict\" class=\"verdict fail\">REGRESSED"));
    cr_expect(strstr(lg_buf_cstr(&b), "<p id=\"regressed\">Regressed (pass &#8594; fail): cases "
                                      "3, 4, 5, 6, 7, 8, 9, 10</p>"));
    lg_buf_reset(&b);
    cr_assert_eq(lg_report_render_compare(cand, LG_REPORT_JUNIT, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "<failure message=\"REGRESSED: 8 of 20"));
    cr_expect(strstr(lg_buf_cstr(&b), "tests=\"1\" failures=\"1\""));
    lg_buf_reset(&b);
    /* json: the document with its comparison, which loads back identical */
    cr_assert_eq(lg_report_render_compare(cand, LG_REPORT_JSON, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "\"verdict\": \"regressed\""));
    lg_rundoc *back = NULL;
    json_t *j = lg_json_parse(lg_buf_cstr(&b), b.len, "cmp.json", &e);
    cr_assert(j);
    cr_assert_eq(lg_rundoc_load_json(j, "cmp.json", &back, &e), 0, "%s", e.msg);
    cr_assert(back->comparison);
    cr_expect_eq(back->comparison->cmp.verdict, LG_VERDICT_REGRESSED);
    char *a1 = canon(cand), *a2 = canon(back);
    cr_expect_str_eq(a1, a2);
    free(a1);
    free(a2);
    json_decref(j);
    lg_rundoc_free(back);
    /* the run report carries the comparison as a section */
    lg_buf_reset(&b);
    cr_assert_eq(lg_report_render(cand, LG_REPORT_TERM, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "Comparison: baseline base (support) -> candidate cand"));
    lg_buf_release(&b);
    lg_rundoc_free(base);
    lg_rundoc_free(cand);
}

Test(compare, no_change_is_not_flagged)
{
    lg_rundoc *base = pass_fail_doc("base", 5, 7), *cand = pass_fail_doc("cand", 5, 7);
    lg_rundoc *noisy = pass_fail_doc("noisy", 6, 8); /* one flip each way */
    lg_err e = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;

    cr_assert_eq(lg_rundoc_compare(cand, base, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(cand->comparison->cmp.verdict, LG_VERDICT_NO_CHANGE);
    cr_expect_eq(cand->comparison->cmp.b + cand->comparison->cmp.c, 0u);
    cr_assert_eq(lg_report_render_compare(cand, LG_REPORT_TERM, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "\nNO SIGNIFICANT CHANGE: 0 of 20 shared cases flipped to "
                                      "fail and 0 to pass; exact McNemar p = 1 >= alpha 0.05\n"),
              "%s", lg_buf_cstr(&b));
    lg_buf_reset(&b);

    cr_assert_eq(lg_rundoc_compare(noisy, base, NULL, &e), 0);
    cr_expect_eq(noisy->comparison->cmp.verdict, LG_VERDICT_NO_CHANGE);
    cr_expect_eq(noisy->comparison->cmp.b, 1u);
    cr_expect_eq(noisy->comparison->cmp.c, 1u);
    cr_assert_eq(lg_report_render_compare(noisy, LG_REPORT_JUNIT, NULL, &b, &e), 0);
    cr_expect(strstr(lg_buf_cstr(&b), "failures=\"0\""));
    cr_expect_null(strstr(lg_buf_cstr(&b), "<failure"));
    lg_buf_release(&b);

    /* a document without a comparison cannot be rendered as one */
    lg_err_clear(&e);
    cr_expect_eq(lg_report_render_compare(base, LG_REPORT_TERM, NULL, &b, &e), LG_EINPUT);
    cr_expect(strstr(e.msg, "run 'base' has no baseline comparison"), "%s", e.msg);
    lg_buf_release(&b);
    lg_rundoc_free(base);
    lg_rundoc_free(cand);
    lg_rundoc_free(noisy);
}

/* ---- svg ------------------------------------------------------------------------ */

Test(svg, nice_steps_and_escaping)
{
    cr_expect_float_eq(lg_svg_nice_step(1.0, 4), 0.25, 1e-12);
    cr_expect_float_eq(lg_svg_nice_step(37, 4), 10, 1e-12);
    cr_expect_float_eq(lg_svg_nice_step(0, 4), 1, 1e-12);
    lg_buf b = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    lg_svg s;
    lg_svg_begin(&s, &b, 100, 50, "a<b");
    lg_svg_text(&s, 1, 2, "middle", "lbl", "x & <y>");
    cr_assert_eq(lg_svg_end(&s, &e), 0);
    cr_expect_str_eq(lg_buf_cstr(&b),
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 100 50\" "
                     "width=\"100\" height=\"50\" role=\"img\" aria-label=\"a&lt;b\">\n"
                     "<text x=\"1.00\" y=\"2.00\" text-anchor=\"middle\" class=\"lbl\">x &amp; "
                     "&lt;y&gt;</text>\n</svg>\n");
    lg_buf_release(&b);
}

/* ---- the documents the end-to-end tests read ------------------------------------ */

/* tests/e2e/report_*.sh feed these to the real binary; they are goldens of
 * the builder, so they can never drift from what loopgate writes. */
static void json_golden(const char *name, const lg_rundoc *d)
{
    char *j = render(d, LG_REPORT_JSON, NULL);
    check_golden(name, j);
    free(j);
}

Test(fixtures, e2e_documents_match_the_builder)
{
    static const char *const exprs[] = {"convergence_rate >= 0.5", "cases.never_converged == 0",
                                        "iterations.p95 <= 12"};
    synth s;
    lg_rundoc_input in;
    lg_rundoc_gate gates[3];
    lg_metrics *m = NULL;
    lg_rundoc *d = NULL;
    lg_err e = LG_ERR_INIT;

    synth_run(&s, 12, 3, 2024);
    s.o[4].cost_known = false; /* one model without a price: cost unknown, not zero */
    memset(&in, 0, sizeof in);
    in.generator = "loopgate fixture";
    in.run = run_info("20260101-000000-fix1", "refund-policy");
    in.run.suite_path = "suites/refund-policy.yaml";
    in.run.trials = 3;
    in.run.cases = 12;
    in.outcomes = s.o;
    in.n_outcomes = s.n;
    in.timelines = s.tl;
    in.n_timelines = s.ntl;
    cr_assert_eq(lg_metrics_compute(s.o, s.n, NULL, &m, &e), 0, "%s", e.msg);
    in.metrics = m;
    in.gates = gates;
    in.n_gates = eval_gates(exprs, 3, m, gates);
    cr_assert_eq(lg_rundoc_build(&in, &d, &e), 0, "%s", e.msg);
    json_golden("run.json", d);
    lg_rundoc_free(d);
    lg_metrics_free(m);
    synth_free(&s);

    d = hostile_doc();
    json_golden("hostile.json", d);
    lg_rundoc_free(d);
    d = pass_fail_doc("base-20-of-20", 0, 0);
    json_golden("base.json", d);
    lg_rundoc_free(d);
    d = pass_fail_doc("cand-12-of-20", 3, 11);
    json_golden("cand_regressed.json", d);
    lg_rundoc_free(d);
    d = pass_fail_doc("cand-20-of-20", 0, 0);
    json_golden("cand_same.json", d);
    lg_rundoc_free(d);
}
