/* tests/test_gate.c - harness/gate.c: every parse error message exactly,
 * and evaluation to pass, fail and undefined (which fails). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/gate.h"
#include "harness/metrics.h"

static const lg_gate_src SRC = {"suites/x.yaml", 40, 9, false};

/* ---- parse errors -------------------------------------------------------- */

static void expect_parse_error(const char *expr, const char *msg)
{
    lg_gate *g = NULL;
    lg_err err = LG_ERR_INIT;
    int rc = lg_gate_parse(expr, &SRC, &g, &err);
    cr_expect_eq(rc, LG_EINPUT, "'%s' parsed", expr);
    cr_expect_null(g);
    cr_expect_str_eq(err.msg, msg, "for '%s'", expr);
    lg_gate_free(g);
}

Test(gate_parse, unknown_metrics_suggest)
{
    expect_parse_error("convergence_rat >= 0.9",
                       "suites/x.yaml:40:9: gate 'convergence_rat >= 0.9': unknown metric "
                       "'convergence_rat' (did you mean 'convergence_rate'?)");
    expect_parse_error("regression(alpha=0.05)",
                       "suites/x.yaml:40:9: gate 'regression(alpha=0.05)': unknown metric "
                       "'regression' (did you mean 'no_regression'?)");
    expect_parse_error("iterations <= 5",
                       "suites/x.yaml:40:9: gate 'iterations <= 5': unknown metric 'iterations' "
                       "(did you mean one of 'iterations.mean', 'iterations.p50', "
                       "'iterations.p90', 'iterations.p95', 'iterations.max'?)");
    expect_parse_error("wibble >= 1", "suites/x.yaml:40:9: gate 'wibble >= 1': unknown metric "
                                      "'wibble' (the metrics are listed in docs/metrics.md)");
    /* blanks around the expression are trimmed; the column still counts them */
    expect_parse_error("  convergence_rat >= 0.9 ",
                       "suites/x.yaml:40:11: gate 'convergence_rat >= 0.9': unknown metric "
                       "'convergence_rat' (did you mean 'convergence_rate'?)");
    expect_parse_error(">= 0.9", "suites/x.yaml:40:9: gate '>= 0.9': expected a metric name "
                                 "first, got '>=' (e.g. 'convergence_rate >= 0.9')");
    expect_parse_error("", "suites/x.yaml:40:9: gate '': empty gate (expected METRIC OP VALUE, "
                           "e.g. 'convergence_rate >= 0.9')");
    expect_parse_error("convergence_rate(3) >= 0.9",
                       "suites/x.yaml:40:25: gate 'convergence_rate(3) >= 0.9': "
                       "'convergence_rate' takes no argument");
}

Test(gate_parse, operators)
{
    /* "convergence_rate" is 16 characters: the operator starts at 9+17 = 26 */
    expect_parse_error("convergence_rate",
                       "suites/x.yaml:40:25: gate 'convergence_rate': missing comparison after "
                       "'convergence_rate' (expected one of >= > <= < == !=)");
    expect_parse_error("convergence_rate => 0.9",
                       "suites/x.yaml:40:26: gate 'convergence_rate => 0.9': '=>' is not an "
                       "operator (did you mean '>='?)");
    expect_parse_error("convergence_rate =< 0.9",
                       "suites/x.yaml:40:26: gate 'convergence_rate =< 0.9': '=<' is not an "
                       "operator (did you mean '<='?)");
    expect_parse_error("convergence_rate = 0.9",
                       "suites/x.yaml:40:26: gate 'convergence_rate = 0.9': '=' is not an "
                       "operator (did you mean '=='?)");
    expect_parse_error("convergence_rate ~ 0.9",
                       "suites/x.yaml:40:26: gate 'convergence_rate ~ 0.9': expected a "
                       "comparison operator (>= > <= < == !=) after 'convergence_rate', got '~'");
    expect_parse_error("convergence_rate >== 0.9",
                       "suites/x.yaml:40:26: gate 'convergence_rate >== 0.9': expected a "
                       "comparison operator (>= > <= < == !=) after 'convergence_rate', got "
                       "'>=='");
}

Test(gate_parse, values)
{
    expect_parse_error("convergence_rate >=",
                       "suites/x.yaml:40:28: gate 'convergence_rate >=': missing value after "
                       "'>=' (expected a number like 0.9, a fraction like 2/3 or a percentage "
                       "like 90%)");
    expect_parse_error("convergence_rate >= high",
                       "suites/x.yaml:40:29: gate 'convergence_rate >= high': invalid value "
                       "'high' (expected a number like 0.9, a fraction like 2/3 or a percentage "
                       "like 90%)");
    expect_parse_error("convergence_rate >= 0.9x",
                       "suites/x.yaml:40:29: gate 'convergence_rate >= 0.9x': invalid value "
                       "'0.9x' (expected a number like 0.9, a fraction like 2/3 or a percentage "
                       "like 90%)");
    expect_parse_error("convergence_rate >= 1e400",
                       "suites/x.yaml:40:29: gate 'convergence_rate >= 1e400': invalid value "
                       "'1e400' (expected a number like 0.9, a fraction like 2/3 or a "
                       "percentage like 90%)");
    expect_parse_error("case_pass >= 2/0", "suites/x.yaml:40:22: gate 'case_pass >= 2/0': "
                                           "fraction '2/0' has a zero denominator");
    expect_parse_error("convergence_rate >= 0.9 and more",
                       "suites/x.yaml:40:33: gate 'convergence_rate >= 0.9 and more': "
                       "unexpected 'and more' after the value");
    expect_parse_error("convergence_rate >= 90",
                       "suites/x.yaml:40:29: gate 'convergence_rate >= 90': threshold 90 is "
                       "outside [0, 1] for a rate (write a rate like 0.9 or 90%)");
    expect_parse_error("case_pass >= 150%", "suites/x.yaml:40:22: gate 'case_pass >= 150%': "
                                            "threshold 150% is outside [0, 1] for a rate "
                                            "(write a rate like 0.9 or 90%)");
    expect_parse_error("cases.never_converged <= 10%",
                       "suites/x.yaml:40:34: gate 'cases.never_converged <= 10%': a percentage "
                       "only fits a rate; 'cases.never_converged' is a count of cases");
    expect_parse_error("iterations.p95 <= 2/3",
                       "suites/x.yaml:40:27: gate 'iterations.p95 <= 2/3': a fraction only fits "
                       "a rate; 'iterations.p95' is a number of iterations");
}

Test(gate_parse, arguments)
{
    expect_parse_error("pass_hat_k >= 0.8", "suites/x.yaml:40:20: gate 'pass_hat_k >= 0.8': "
                                            "'pass_hat_k' needs k, e.g. 'pass_hat_k(3)'");
    expect_parse_error("pass_hat_k(0) >= 0.8",
                       "suites/x.yaml:40:20: gate 'pass_hat_k(0) >= 0.8': k in 'pass_hat_k(0)' "
                       "must be a whole number from 1 to 1000000");
    expect_parse_error("pass_at_k(x) >= 0.8",
                       "suites/x.yaml:40:19: gate 'pass_at_k(x) >= 0.8': k in 'pass_at_k(x)' "
                       "must be a whole number from 1 to 1000000");
    expect_parse_error("pass_at_k(3 >= 0.8", "suites/x.yaml:40:27: gate 'pass_at_k(3 >= 0.8': "
                                             "missing ')' after 'pass_at_k(3 >= 0.8'");
    expect_parse_error("termination.sucess == 0",
                       "suites/x.yaml:40:21: gate 'termination.sucess == 0': unknown "
                       "termination reason 'sucess' (did you mean 'success'?)");
    expect_parse_error("termination.oom == 0",
                       "suites/x.yaml:40:21: gate 'termination.oom == 0': unknown termination "
                       "reason 'oom' (one of success, validator_failed, max_iterations, "
                       "stalled, budget_exceeded, fatal_error, escalated, timeout, crashed, "
                       "diverged)");
    expect_parse_error("termination. == 0", "suites/x.yaml:40:9: gate 'termination. == 0': "
                                            "'termination.' needs a reason, e.g. "
                                            "'termination.timeout'");
    expect_parse_error("termination == 0", "suites/x.yaml:40:9: gate 'termination == 0': "
                                           "'termination' needs a name after a dot, e.g. "
                                           "'termination.timeout'");
    expect_parse_error("invariant_violations. == 0",
                       "suites/x.yaml:40:9: gate 'invariant_violations. == 0': "
                       "'invariant_violations.' needs an invariant name, e.g. "
                       "'invariant_violations.max_tokens'");
}

Test(gate_parse, no_regression_errors)
{
    expect_parse_error("no_regression >= 0.05",
                       "suites/x.yaml:40:23: gate 'no_regression >= 0.05': 'no_regression' is a "
                       "gate on its own, without a comparison: write 'no_regression' or "
                       "'no_regression(alpha=0.01)'");
    expect_parse_error("no_regression(beta=0.1)",
                       "suites/x.yaml:40:23: gate 'no_regression(beta=0.1)': unknown parameter "
                       "'beta' of no_regression (it takes 'alpha', e.g. "
                       "'no_regression(alpha=0.01)')");
    expect_parse_error("no_regression(alpha=2)",
                       "suites/x.yaml:40:29: gate 'no_regression(alpha=2)': alpha must be "
                       "between 0 and 1 (exclusive), got '2'");
    expect_parse_error("no_regression(alpha=abc)",
                       "suites/x.yaml:40:29: gate 'no_regression(alpha=abc)': invalid alpha "
                       "'abc' (expected a number like 0.05 or 5%)");
    expect_parse_error("no_regression(alpha 0.1)",
                       "suites/x.yaml:40:29: gate 'no_regression(alpha 0.1)': expected '=' "
                       "after 'alpha', e.g. 'no_regression(alpha=0.01)'");
    expect_parse_error("no_regression(alpha=0.05",
                       "suites/x.yaml:40:33: gate 'no_regression(alpha=0.05': missing ')' after "
                       "'no_regression(alpha=0.05'");
    expect_parse_error("no_regression(alpha=)",
                       "suites/x.yaml:40:29: gate 'no_regression(alpha=)': missing alpha, e.g. "
                       "'no_regression(alpha=0.01)'");
}

Test(gate_parse, default_and_fixed_sources)
{
    lg_gate *g = NULL;
    lg_err err = LG_ERR_INIT;
    lg_gate_src fixed = {"suites/y.yaml", 7, 3, true};

    cr_expect_eq(lg_gate_parse("foo >= 1", NULL, &g, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "<gate>:1:1: gate 'foo >= 1': unknown metric 'foo' (the metrics "
                              "are listed in docs/metrics.md)");
    lg_err_clear(&err);
    /* a block scalar: the column cannot be trusted, so it is not moved */
    cr_expect_eq(lg_gate_parse("convergence_rate >= 90", &fixed, &g, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "suites/y.yaml:7:3: gate 'convergence_rate >= 90': threshold 90 "
                              "is outside [0, 1] for a rate (write a rate like 0.9 or 90%)");
    cr_expect_null(g);
}

/* ---- parse successes ----------------------------------------------------- */

static lg_gate *parse_ok(const char *expr)
{
    lg_gate *g = NULL;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_gate_parse(expr, &SRC, &g, &err), 0, "'%s': %s", expr, err.msg);
    cr_assert_not_null(g);
    return g;
}

Test(gate_parse, accepted_forms)
{
    static const char *const ok[] = {
        "convergence_rate >= 0.9", "convergence_rate>=0.9", "convergence_rate.lower >= 85%",
        "case_pass >= 2/3", "pass_hat_k( 3 ) >= 80%", "pass_at_k(1) > 0",
        "iterations.p95 <= 6", "invariant_violation_rate <= 0.01",
        "invariant_violations.no_repeated_action == 0", "termination.timeout != 3",
        "tokens.total < 1e6", "cost_per_convergence <= 0.05", "latency.call_p95_ms <= 2500",
        "cases.never_converged == 0", "cases.total >= 20", "trials >= +1", "cost_usd <= .5",
        "no_regression", "no_regression()", "no_regression(0.01)", "no_regression(alpha = 1%)",
        NULL};
    for (const char *const *e = ok; *e; e++)
        lg_gate_free(parse_ok(*e));
}

Test(gate_parse, accessors)
{
    lg_gate *g = parse_ok("   invariant_violations.max_tokens == 0  ");
    cr_expect_str_eq(lg_gate_expr(g), "invariant_violations.max_tokens == 0");
    cr_expect_str_eq(lg_gate_invariant(g), "max_tokens");
    cr_expect_not(lg_gate_needs_baseline(g));
    lg_gate_free(g);
    g = parse_ok("no_regression(alpha=0.01)");
    cr_expect(lg_gate_needs_baseline(g));
    cr_expect_null(lg_gate_invariant(g));
    lg_gate_free(g);
    lg_gate_free(NULL);
}

/* ---- evaluation ---------------------------------------------------------- */

static lg_outcome oc(uint32_t c, uint32_t t, bool conv, uint32_t iters)
{
    lg_outcome o;
    memset(&o, 0, sizeof o);
    o.case_index = c;
    o.trial = t;
    o.converged = conv;
    o.reason = conv ? LG_TERM_SUCCESS : (t == 2 ? LG_TERM_TIMEOUT : LG_TERM_VALIDATOR_FAILED);
    o.iterations = iters;
    o.tokens_in = 100;
    o.tokens_out = 10;
    o.cost_usd = 0.01;
    o.cost_known = true;
    o.wall_ms = 50;
    return o;
}

/*
 * 10 cases x 3 trials: cases 0-6 converge 3/3, case 7 2/3 (trials 0, 1),
 * case 8 1/3 (trial 0), case 9 0/3. 24 of 30 converged: rate 0.8.
 * Converged trial t takes t+2 iterations: 2 x9, 3 x8, 4 x7; mean 70/24 =
 * 2.9167; p95: h = 23*0.95 = 21.85, sorted[21] = sorted[22] = 4.
 * Cost $0.01 per trial: 0.3, per convergence 0.3/24 = 0.0125.
 * pass^3 = 7/10 (only the seven 3/3 cases), pass@3 = 9/10.
 * Clustered interval: sum (k_i - 2.4)^2 = 7*0.36 + 0.16 + 1.96 + 5.76 = 10.4,
 * V = 10.4/900, n_eff = 0.16/V = 13.846; Wilson(11.077, 13.846) =
 * [0.5373745420967410, 0.9323153173642523].
 */
static lg_metrics *run_metrics(void)
{
    lg_outcome o[30];
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    size_t n = 0;
    for (uint32_t c = 0; c < 10; c++) {
        for (uint32_t t = 0; t < 3; t++) {
            bool conv = c < 7 || (c == 7 && t < 2) || (c == 8 && t == 0);
            o[n++] = oc(c, t, conv, t + 2);
        }
    }
    cr_assert_eq(lg_metrics_compute(o, n, NULL, &m, &err), 0, "%s", err.msg);
    return m;
}

static void expect_eval(const lg_metrics *m, const lg_metrics *base, const char *expr,
                        bool pass, const char *text, const char *detail)
{
    lg_gate *g = parse_ok(expr);
    lg_gate_result r;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_gate_eval(g, m, base, &r, &err), 0, "%s", err.msg);
    cr_expect_eq(r.pass, pass, "'%s' pass=%d", expr, r.pass);
    cr_expect_str_eq(r.text, text, "for '%s'", expr);
    cr_expect_str_eq(r.detail, detail, "detail of '%s'", expr);
    if (!r.defined)
        cr_expect(isnan(r.value) && !r.pass, "undefined '%s' must fail", expr);
    lg_gate_free(g);
}

Test(gate_eval, rates_and_boundaries)
{
    lg_metrics *m = run_metrics();
    /* 24/30 is the same double as 0.8: equality is exact */
    expect_eval(m, NULL, "convergence_rate >= 0.8", true, "convergence_rate = 0.8 >= 0.8  pass", "");
    expect_eval(m, NULL, "convergence_rate > 0.8", false, "convergence_rate = 0.8 > 0.8  FAIL", "");
    expect_eval(m, NULL, "convergence_rate >= 4/5", true, "convergence_rate = 0.8 >= 4/5  pass", "");
    expect_eval(m, NULL, "convergence_rate >= 90%", false, "convergence_rate = 80% >= 90%  FAIL", "");
    expect_eval(m, NULL, "convergence_rate.lower >= 0.5", true,
                "convergence_rate.lower = 0.537 >= 0.5  pass", "");
    expect_eval(m, NULL, "convergence_rate.upper < 0.9323", false,
                "convergence_rate.upper = 0.93232 < 0.9323  FAIL", "");
    expect_eval(m, NULL, "pass_hat_k(3) >= 0.7", true, "pass_hat_k(3) = 0.7 >= 0.7  pass", "");
    expect_eval(m, NULL, "pass_at_k(3) == 0.9", true, "pass_at_k(3) = 0.9 == 0.9  pass", "");
    expect_eval(m, NULL, "pass_hat_k(4) >= 0.5", false,
                "pass_hat_k(4) = undefined >= 0.5  FAIL (pass_hat_k(4) needs cases with at "
                "least 4 trials; the most any case has is 3)",
                "pass_hat_k(4) needs cases with at least 4 trials; the most any case has is 3");
    lg_metrics_free(m);
}

Test(gate_eval, cases_are_named_when_they_fail)
{
    lg_metrics *m = run_metrics();
    expect_eval(m, NULL, "case_pass >= 2/3", false, "case_pass = 0 >= 2/3  FAIL",
                "cases not meeting >= 2/3: case 8 (1/3), case 9 (0/3)");
    expect_eval(m, NULL, "case_pass >= 0", true, "case_pass = 0 >= 0  pass", "");
    expect_eval(m, NULL, "cases.never_converged == 0", false, "cases.never_converged = 1 == 0  FAIL",
                "never converged: cases 9");
    expect_eval(m, NULL, "cases.flaky <= 1", false, "cases.flaky = 2 <= 1  FAIL",
                "flaky: cases 7, 8");
    expect_eval(m, NULL, "cases.always_converged >= 7", true,
                "cases.always_converged = 7 >= 7  pass", "");
    expect_eval(m, NULL, "cases.total == 10", true, "cases.total = 10 == 10  pass", "");
    expect_eval(m, NULL, "trials == 30", true, "trials = 30 == 30  pass", "");
    lg_metrics_free(m);
}

Test(gate_eval, amounts_counts_and_costs)
{
    lg_metrics *m = run_metrics();
    expect_eval(m, NULL, "iterations.p95 <= 4", true, "iterations.p95 = 4 <= 4  pass", "");
    expect_eval(m, NULL, "iterations.mean < 2.9", false, "iterations.mean = 2.92 < 2.9  FAIL", "");
    expect_eval(m, NULL, "iterations.max <= 3", false, "iterations.max = 4 <= 3  FAIL", "");
    expect_eval(m, NULL, "invariant_violation_rate <= 0.01", true,
                "invariant_violation_rate = 0 <= 0.01  pass", "");
    expect_eval(m, NULL, "invariant_violations.stall == 0", true,
                "invariant_violations.stall = 0 == 0  pass", "");
    /* failures: case 7 t2, case 8 t1 t2, case 9 t0 t1 t2; trial 2 is a timeout */
    expect_eval(m, NULL, "termination.timeout <= 1", false, "termination.timeout = 3 <= 1  FAIL",
                "");
    expect_eval(m, NULL, "termination.validator_failed == 3", true,
                "termination.validator_failed = 3 == 3  pass", "");
    expect_eval(m, NULL, "termination.success == 24", true, "termination.success = 24 == 24  pass",
                "");
    expect_eval(m, NULL, "tokens.total < 1e6", true, "tokens.total = 3300 < 1e6  pass", "");
    /* thirty $0.01 trials sum to exactly 0.3 (compensated sum); 0.3/24 is
     * 0.012499999999999999 in binary, equal to 0.0125 within the 1e-12
     * relative tolerance of comparisons */
    expect_eval(m, NULL, "cost_usd <= 0.3", true, "cost_usd = 0.3 <= 0.3  pass", "");
    expect_eval(m, NULL, "cost_usd < 0.3", false, "cost_usd = 0.3 < 0.3  FAIL", "");
    expect_eval(m, NULL, "cost_per_convergence <= 0.0125", true,
                "cost_per_convergence = 0.0125 <= 0.0125  pass", "");
    expect_eval(m, NULL, "cost_per_convergence < 0.01", false,
                "cost_per_convergence = 0.0125 < 0.01  FAIL", "");
    expect_eval(m, NULL, "latency.trial_p95_ms <= 100", true, "latency.trial_p95_ms = 50 <= 100  pass",
                "");
    expect_eval(m, NULL, "latency.call_p95_ms <= 100", false,
                "latency.call_p95_ms = undefined <= 100  FAIL (no model call latency was recorded)",
                "no model call latency was recorded");
    lg_metrics_free(m);
}

Test(gate_eval, undefined_values_fail)
{
    lg_outcome o[4];
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    for (uint32_t i = 0; i < 4; i++)
        o[i] = oc(i, 0, false, 3);
    cr_assert_eq(lg_metrics_compute(o, 4, NULL, &m, &err), 0);
    expect_eval(m, NULL, "cost_per_convergence <= 0.05", false,
                "cost_per_convergence = undefined <= 0.05  FAIL (no trial converged, so there is "
                "no cost per convergence)",
                "no trial converged, so there is no cost per convergence");
    expect_eval(m, NULL, "iterations.p95 <= 6", false,
                "iterations.p95 = undefined <= 6  FAIL (no trial converged)", "no trial converged");
    /* a rate of 0 is defined */
    expect_eval(m, NULL, "convergence_rate >= 0", true, "convergence_rate = 0 >= 0  pass", "");
    lg_metrics_free(m);

    o[2].cost_known = false;
    o[1] = oc(1, 0, true, 2);
    cr_assert_eq(lg_metrics_compute(o, 4, NULL, &m, &err), 0);
    expect_eval(m, NULL, "cost_usd <= 1", false,
                "cost_usd = undefined <= 1  FAIL (cost unknown for 1 of 4 trials: a model has no "
                "price in the pricing table)",
                "cost unknown for 1 of 4 trials: a model has no price in the pricing table");
    expect_eval(m, NULL, "cost_per_convergence <= 1", false,
                "cost_per_convergence = undefined <= 1  FAIL (cost unknown for 1 of 4 trials: a "
                "model has no price in the pricing table)",
                "cost unknown for 1 of 4 trials: a model has no price in the pricing table");
    lg_metrics_free(m);

    /* an empty run passes nothing, not even "nothing never converged" */
    cr_assert_eq(lg_metrics_compute(NULL, 0, NULL, &m, &err), 0);
    expect_eval(m, NULL, "convergence_rate >= 0.9", false,
                "convergence_rate = undefined >= 0.9  FAIL (no trials ran)", "no trials ran");
    expect_eval(m, NULL, "cases.never_converged == 0", false,
                "cases.never_converged = undefined == 0  FAIL (no trials ran)", "no trials ran");
    lg_metrics_free(m);
}

/* ---- baseline ------------------------------------------------------------ */

/* 20 cases x 1 trial; case i converges iff pass(i). */
static lg_metrics *cases_run(bool (*pass)(uint32_t), uint32_t first, uint32_t n)
{
    lg_outcome o[40];
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    for (uint32_t i = 0; i < n; i++)
        o[i] = oc(first + i, 0, pass(first + i), 2);
    cr_assert_eq(lg_metrics_compute(o, n, NULL, &m, &err), 0, "%s", err.msg);
    return m;
}

static bool base_pass(uint32_t c) { return c != 19; }       /* 19 of 20 */
static bool cand_pass(uint32_t c) { return c >= 8; }        /* 0-7 fail, 19 passes */

Test(gate_eval, no_regression)
{
    /* baseline -> candidate: cases 0-7 flip to fail (b = 8), case 19 flips
     * to pass (c = 1): p = 2 * (1 + 9)/512 = 0.0390625 */
    lg_metrics *base = cases_run(base_pass, 0, 20), *cand = cases_run(cand_pass, 0, 20);
    lg_metrics *other = cases_run(base_pass, 100, 5);

    expect_eval(cand, base, "no_regression", false,
                "no_regression(alpha=0.05): 8 regressed, 1 improved of 20 shared cases; McNemar "
                "exact p = 0.0391 < 0.05  FAIL",
                "regressed: cases 0, 1, 2, 3, 4, 5, 6, 7; improved: cases 19");
    expect_eval(cand, base, "no_regression(alpha=0.01)", true,
                "no_regression(alpha=0.01): 8 regressed, 1 improved of 20 shared cases; McNemar "
                "exact p = 0.0391 >= 0.01  pass",
                "regressed: cases 0, 1, 2, 3, 4, 5, 6, 7; improved: cases 19");
    /* the other way round is a significant improvement: it passes */
    expect_eval(base, cand, "no_regression", true,
                "no_regression(alpha=0.05): 1 regressed, 8 improved of 20 shared cases; McNemar "
                "exact p = 0.0391 < 0.05, improved  pass",
                "regressed: cases 19; improved: cases 0, 1, 2, 3, 4, 5, 6, 7");
    expect_eval(base, base, "no_regression", true,
                "no_regression(alpha=0.05): 0 regressed, 0 improved of 20 shared cases; McNemar "
                "exact p = 1 >= 0.05  pass",
                "");
    expect_eval(cand, NULL, "no_regression", false,
                "no_regression(alpha=0.05): undefined  FAIL (no baseline to compare with; give "
                "one with --baseline RUN_ID|FILE.json)",
                "no baseline to compare with; give one with --baseline RUN_ID|FILE.json");
    expect_eval(cand, other, "no_regression", false,
                "no_regression(alpha=0.05): undefined  FAIL (no case is in both the baseline and "
                "this run)",
                "no case is in both the baseline and this run");
    lg_metrics_free(base);
    lg_metrics_free(cand);
    lg_metrics_free(other);
}
