/* tests/test_metrics.c - harness/metrics.c and harness/outcome.c.
 *
 * The main fixture is a 4-case x 3-trial run whose every metric is worked
 * out by hand below; the edge cases are 0/20, 20/20, one trial per case, no
 * converged trial, unknown cost and the empty run.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "harness/metrics.h"
#include "harness/outcome.h"

static void expect_close(double got, double want, double rel, const char *what)
{
    double tol = rel * (want != 0.0 ? fabs(want) : 1.0);
    cr_expect(fabs(got - want) <= tol, "%s: got %.17g, want %.17g", what, got, want);
}

static lg_outcome oc(uint32_t c, uint32_t t, lg_term_reason r, uint32_t iters)
{
    lg_outcome o;
    memset(&o, 0, sizeof o);
    o.case_index = c;
    o.trial = t;
    o.reason = r;
    o.converged = r == LG_TERM_SUCCESS;
    o.iterations = iters;
    o.model_calls = iters;
    o.tokens_in = 1000;
    o.tokens_out = 100;
    o.tokens_cached = 200;
    o.cost_usd = 0.01;
    o.cost_known = true;
    return o;
}

/*
 * The fixture (outcomes deliberately out of order):
 *   case 0: success it=2, success it=3, success it=4             3/3
 *   case 1: success it=5, success it=1, max_iterations it=10     2/3
 *   case 2: timeout it=3, crashed it=0, validator_failed it=6    0/3
 *   case 5: validator_failed it=2, success it=3, stalled it=4    1/3
 * wall_ms: 1000, 2000, ..., 12000 in array order.
 * call latencies: case0/t0 {100, 200}, case1/t0 {300}, case5/t2 {400, 500}.
 * violations: case2/t0 max_tokens x2; case2/t2 max_tokens x1 + stall x1;
 *             case5/t2 stall x3.
 */
static const double lat_a[] = {100, 200}, lat_b[] = {300}, lat_c[] = {400, 500};
static const lg_violation viol_a[] = {{"max_tokens", 2}};
static const lg_violation viol_b[] = {{"max_tokens", 1}, {"stall", 1}};
static const lg_violation viol_c[] = {{"stall", 3}};

static size_t fixture(lg_outcome *o)
{
    size_t n = 0;
    o[n++] = oc(5, 2, LG_TERM_STALLED, 4);
    o[n - 1].call_latency_ms = lat_c;
    o[n - 1].n_call_latency = 2;
    o[n - 1].violations = viol_c;
    o[n - 1].n_violations = 1;
    o[n++] = oc(1, 0, LG_TERM_SUCCESS, 5);
    o[n - 1].call_latency_ms = lat_b;
    o[n - 1].n_call_latency = 1;
    o[n++] = oc(0, 0, LG_TERM_SUCCESS, 2);
    o[n - 1].call_latency_ms = lat_a;
    o[n - 1].n_call_latency = 2;
    o[n++] = oc(2, 0, LG_TERM_TIMEOUT, 3);
    o[n - 1].violations = viol_a;
    o[n - 1].n_violations = 1;
    o[n++] = oc(0, 1, LG_TERM_SUCCESS, 3);
    o[n++] = oc(1, 1, LG_TERM_SUCCESS, 1);
    o[n++] = oc(2, 1, LG_TERM_CRASHED, 0);
    o[n++] = oc(5, 0, LG_TERM_VALIDATOR_FAILED, 2);
    o[n++] = oc(0, 2, LG_TERM_SUCCESS, 4);
    o[n++] = oc(1, 2, LG_TERM_MAX_ITERATIONS, 10);
    o[n++] = oc(2, 2, LG_TERM_VALIDATOR_FAILED, 6);
    o[n - 1].violations = viol_b;
    o[n - 1].n_violations = 2;
    o[n++] = oc(5, 1, LG_TERM_SUCCESS, 3);
    for (size_t i = 0; i < n; i++)
        o[i].wall_ms = 1000.0 * (double)(i + 1);
    return n;
}

static lg_metrics *compute(const lg_outcome *o, size_t n)
{
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_metrics_compute(o, n, NULL, &m, &err), 0, "%s", err.msg);
    return m;
}

Test(outcome, reason_names_round_trip)
{
    cr_expect_str_eq(lg_term_reason_name(LG_TERM_VALIDATOR_FAILED), "validator_failed");
    cr_expect_str_eq(lg_term_reason_name(LG_TERM_DIVERGED), "diverged");
    cr_expect_str_eq(lg_term_reason_name((lg_term_reason)99), "unknown");
    for (int r = 0; r < LG_TERM_COUNT; r++) {
        lg_term_reason back = LG_TERM_COUNT;
        cr_expect(lg_term_reason_from_name(lg_term_reason_name((lg_term_reason)r), &back));
        cr_expect_eq((int)back, r);
    }
    lg_term_reason keep = LG_TERM_TIMEOUT;
    cr_expect_not(lg_term_reason_from_name("Success", &keep));
    cr_expect_not(lg_term_reason_from_name(NULL, &keep));
    cr_expect_eq(keep, LG_TERM_TIMEOUT);
    cr_expect_null(lg_term_reason_names[LG_TERM_COUNT]);
}

Test(metrics, convergence_and_stability)
{
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o));

    cr_expect_eq(m->trials, 12);
    cr_expect_eq(m->cases, 4);
    cr_expect_eq(m->max_trials, 3);
    /* tallies sorted by case: (0,3,3) (1,3,2) (2,3,0) (5,3,1) */
    cr_assert_eq(m->per_case[3].case_index, 5);
    cr_expect_eq(m->per_case[1].converged, 2);
    cr_expect_eq(m->per_case[2].converged, 0);
    /* rate 6/12 = 0.5. Clustered: sum (k_i - 1.5)^2 = 2.25+0.25+2.25+0.25 = 5,
     * V = 5/144, n_eff = 0.25/(5/144) = 7.2, deff = 12/7.2 = 5/3;
     * Wilson(3.6, 7.2) = [0.2050795643137082, 0.7949204356862918]
     * (naive Wilson(6, 12) = [0.2537815976337061, 0.7462184023662939]) */
    cr_expect_eq(m->convergence.value, 0.5);
    cr_expect_eq(m->convergence.converged, 6);
    expect_close(m->convergence.n_eff, 7.2, 1e-12, "n_eff");
    expect_close(m->convergence.design_effect, 5.0 / 3.0, 1e-12, "deff");
    expect_close(m->convergence.lower, 0.2050795643137082, 1e-12, "lower");
    expect_close(m->convergence.upper, 0.7949204356862918, 1e-12, "upper");
    expect_close(m->convergence.naive_lower, 0.2537815976337061, 1e-12, "naive lower");
    expect_close(m->convergence.naive_upper, 0.7462184023662939, 1e-12, "naive upper");
    /* stability */
    cr_assert_eq(m->stability.n_always, 1);
    cr_expect_eq(m->stability.always[0], 0);
    cr_assert_eq(m->stability.n_flaky, 2);
    cr_expect_eq(m->stability.flaky[0], 1);
    cr_expect_eq(m->stability.flaky[1], 5);
    cr_assert_eq(m->stability.n_never, 1);
    cr_expect_eq(m->stability.never[0], 2);
    cr_expect_eq(m->stability.min_case_rate, 0.0);
    lg_metrics_free(m);
}

Test(metrics, pass_k)
{
    /* per case (n=3): c = 3, 2, 0, 1
     * pass^1 = mean(1, 2/3, 0, 1/3) = 1/2     pass@1 = 1/2
     * pass^2 = mean(1, 1/3, 0, 0)   = 1/3     pass@2 = mean(1, 1, 0, 2/3) = 2/3
     * pass^3 = mean(1, 0, 0, 0)     = 1/4     pass@3 = mean(1, 1, 0, 1)   = 3/4 */
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o));
    cr_assert_eq(m->n_pass_k, 3);
    expect_close(m->pass_k[0].pass_hat_k, 0.5, 1e-15, "pass^1");
    expect_close(m->pass_k[0].pass_at_k, 0.5, 1e-15, "pass@1");
    expect_close(m->pass_k[1].pass_hat_k, 1.0 / 3, 1e-15, "pass^2");
    expect_close(m->pass_k[1].pass_at_k, 2.0 / 3, 1e-15, "pass@2");
    expect_close(m->pass_k[2].pass_hat_k, 0.25, 1e-15, "pass^3");
    expect_close(m->pass_k[2].pass_at_k, 0.75, 1e-15, "pass@3");
    cr_expect_eq(m->pass_k[2].k, 3);
    cr_expect_eq(m->pass_k[2].cases, 4);
    lg_metrics_free(m);
}

Test(metrics, pass_k_with_uneven_trials)
{
    /* case 0 has 1 trial (converged), case 1 has 2 (1 converged):
     * k=1 averages both: (1 + 1/2)/2 = 0.75; k=2 only case 1: pass^2 = 0,
     * pass@2 = 1 */
    lg_outcome o[3] = {oc(0, 0, LG_TERM_SUCCESS, 1), oc(1, 0, LG_TERM_SUCCESS, 1),
                       oc(1, 1, LG_TERM_TIMEOUT, 1)};
    lg_metrics *m = compute(o, 3);
    cr_assert_eq(m->n_pass_k, 2);
    cr_expect_eq(m->pass_k[0].cases, 2);
    expect_close(m->pass_k[0].pass_hat_k, 0.75, 1e-15, "pass^1");
    cr_expect_eq(m->pass_k[1].cases, 1);
    cr_expect_eq(m->pass_k[1].pass_hat_k, 0.0);
    cr_expect_eq(m->pass_k[1].pass_at_k, 1.0);
    lg_metrics_free(m);
}

Test(metrics, iterations_and_curve)
{
    /* converged iterations: 2 3 4 | 5 1 | 3  -> sorted 1 2 3 3 4 5
     * mean 18/6 = 3; type 7 with h = 5p: p50 h=2.5 -> 3; p90 h=4.5 -> 4.5;
     * p95 h=4.75 -> 4.75; max 5.
     * curve (12 trials): by 1: 1, by 2: 2, by 3: 4, by 4: 5, by 5: 6 */
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o));
    cr_expect_eq(m->iterations.n, 6);
    expect_close(m->iterations.mean, 3.0, 1e-15, "mean");
    expect_close(m->iterations.p50, 3.0, 1e-15, "p50");
    expect_close(m->iterations.p90, 4.5, 1e-15, "p90");
    expect_close(m->iterations.p95, 4.75, 1e-15, "p95");
    cr_expect_eq(m->iterations.max, 5.0);
    cr_assert_eq(m->curve.n_points, 5);
    cr_expect_not(m->curve.truncated);
    static const double want[5] = {1, 2, 4, 5, 6};
    for (int i = 0; i < 5; i++) {
        cr_expect_eq(m->curve.points[i].i, (uint32_t)(i + 1));
        cr_expect_eq(m->curve.points[i].p, want[i] / 12.0, "point %d", i + 1);
        cr_expect(m->curve.points[i].lower <= m->curve.points[i].p &&
                  m->curve.points[i].p <= m->curve.points[i].upper);
    }
    /* i=1: one success in case 1: k = (0,1,0,0), V = (3*(1/4)^2 + (3/4)^2)/144
     * = 0.75/144, n_eff = (11/144)/(0.75/144) = 14.67 > 12 trials, capped:
     * Wilson(1, 12) = [0.0148650944049171, 0.3538799111411169] */
    expect_close(m->curve.points[0].lower, 0.0148650944049171, 1e-12, "i=1 lower");
    expect_close(m->curve.points[0].upper, 0.3538799111411169, 1e-12, "i=1 upper");
    /* the last point is the convergence rate with the same interval */
    cr_expect_eq(m->curve.points[4].lower, m->convergence.lower);
    cr_expect_eq(m->curve.points[4].upper, m->convergence.upper);
    lg_metrics_free(m);
}

Test(metrics, violations_terminations_tokens_cost_latency)
{
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o));
    /* 3 of 12 trials violated something: 0.25; max_tokens 2+1 in 2 trials,
     * stall 1+3 in 2 trials; names sorted */
    cr_expect_eq(m->invariants.trials_with_violation, 3);
    cr_expect_eq(m->invariants.violation_rate, 0.25);
    cr_assert_eq(m->invariants.n_per_invariant, 2);
    cr_expect_str_eq(m->invariants.per_invariant[0].name, "max_tokens");
    cr_expect_eq(m->invariants.per_invariant[0].count, 3);
    cr_expect_eq(m->invariants.per_invariant[0].trials, 2);
    cr_expect_str_eq(m->invariants.per_invariant[1].name, "stall");
    cr_expect_eq(m->invariants.per_invariant[1].count, 4);
    cr_expect_eq(m->invariants.per_invariant[1].trials, 2);
    /* terminations */
    cr_expect_eq(m->termination[LG_TERM_SUCCESS], 6);
    cr_expect_eq(m->termination[LG_TERM_VALIDATOR_FAILED], 2);
    cr_expect_eq(m->termination[LG_TERM_MAX_ITERATIONS], 1);
    cr_expect_eq(m->termination[LG_TERM_TIMEOUT], 1);
    cr_expect_eq(m->termination[LG_TERM_CRASHED], 1);
    cr_expect_eq(m->termination[LG_TERM_STALLED], 1);
    cr_expect_eq(m->termination[LG_TERM_DIVERGED], 0);
    /* tokens: 12 x (1000 in, 100 out, 200 cached) */
    cr_expect_eq(m->tokens.in, 12000);
    cr_expect_eq(m->tokens.out, 1200);
    cr_expect_eq(m->tokens.cached, 2400);
    cr_expect_eq(m->tokens.total, 13200);
    /* cost: 12 x $0.01 = $0.12, per convergence 0.12/6 = 0.02 */
    cr_expect_eq(m->cost.unknown_trials, 0);
    expect_close(m->cost.known_usd, 0.12, 1e-12, "known");
    expect_close(m->cost.total_usd, 0.12, 1e-12, "total");
    expect_close(m->cost.per_convergence_usd, 0.02, 1e-12, "per convergence");
    /* calls 100 200 300 400 500: mean 300, p50 300, p90 h=3.6 -> 460,
     * p95 h=3.8 -> 480, max 500. trials 1000..12000: mean 6500, p50 h=5.5
     * -> 6500, p90 h=9.9 -> 10900, p95 h=10.45 -> 11450, max 12000 */
    cr_expect_eq(m->latency.call_ms.n, 5);
    expect_close(m->latency.call_ms.mean, 300, 1e-15, "call mean");
    expect_close(m->latency.call_ms.p50, 300, 1e-15, "call p50");
    expect_close(m->latency.call_ms.p90, 460, 1e-12, "call p90");
    expect_close(m->latency.call_ms.p95, 480, 1e-12, "call p95");
    cr_expect_eq(m->latency.call_ms.max, 500);
    cr_expect_eq(m->latency.trial_ms.n, 12);
    expect_close(m->latency.trial_ms.mean, 6500, 1e-15, "trial mean");
    expect_close(m->latency.trial_ms.p50, 6500, 1e-15, "trial p50");
    expect_close(m->latency.trial_ms.p90, 10900, 1e-12, "trial p90");
    expect_close(m->latency.trial_ms.p95, 11450, 1e-12, "trial p95");
    cr_expect_eq(m->latency.trial_ms.max, 12000);
    lg_metrics_free(m);
}

Test(metrics, unknown_cost_is_not_zero)
{
    lg_outcome o[16];
    size_t n = fixture(o);
    o[4].cost_known = false;
    o[4].cost_usd = 123.0; /* ignored: unknown */
    lg_metrics *m = compute(o, n);
    cr_expect_eq(m->cost.unknown_trials, 1);
    expect_close(m->cost.known_usd, 0.11, 1e-12, "known part");
    cr_expect(isnan(m->cost.total_usd));
    cr_expect(isnan(m->cost.per_convergence_usd));
    lg_metrics_free(m);
}

static lg_metrics *one_trial_run(int conv_of_20)
{
    lg_outcome o[20];
    for (uint32_t i = 0; i < 20; i++)
        o[i] = oc(i, 0, (int)i < conv_of_20 ? LG_TERM_SUCCESS : LG_TERM_VALIDATOR_FAILED, 3);
    return compute(o, 20);
}

Test(metrics, zero_of_twenty)
{
    /* Wilson over 20 cases: [0, 0.1611251580528194]; nothing converged:
     * iterations and cost per convergence undefined, empty curve */
    lg_metrics *m = one_trial_run(0);
    cr_expect_eq(m->convergence.value, 0.0);
    cr_expect_eq(m->convergence.lower, 0.0);
    expect_close(m->convergence.upper, 0.1611251580528194, 1e-13, "upper");
    cr_expect_eq(m->convergence.n_eff, 20.0);
    cr_expect_eq(m->stability.n_never, 20);
    cr_expect_eq(m->stability.n_always, 0);
    cr_expect_eq(m->iterations.n, 0);
    cr_expect(isnan(m->iterations.mean) && isnan(m->iterations.p95) && isnan(m->iterations.max));
    cr_expect_eq(m->curve.n_points, 0);
    expect_close(m->cost.total_usd, 0.2, 1e-12, "total");
    cr_expect(isnan(m->cost.per_convergence_usd));
    cr_expect_eq(m->pass_k[0].pass_at_k, 0.0);
    lg_metrics_free(m);
}

Test(metrics, twenty_of_twenty_and_one_trial_is_wilson)
{
    lg_metrics *m = one_trial_run(20);
    lg_interval w;
    expect_close(m->convergence.lower, 0.8388748419471806, 1e-13, "lower");
    cr_expect_eq(m->convergence.upper, 1.0);
    cr_expect_eq(m->stability.n_always, 20);
    cr_expect_eq(m->stability.min_case_rate, 1.0);
    lg_metrics_free(m);
    /* 17 of 20 with one trial per case: exactly Wilson(17, 20), and equal
     * to the naive interval (there is nothing to cluster) */
    m = one_trial_run(17);
    w = lg_stats_wilson(17, 20, 0.95);
    cr_expect_eq(m->convergence.lower, w.lower);
    cr_expect_eq(m->convergence.upper, w.upper);
    cr_expect_eq(m->convergence.naive_lower, w.lower);
    expect_close(m->convergence.lower, 0.6395811352592431, 1e-13, "17/20 lower");
    lg_metrics_free(m);
}

Test(metrics, correlated_trials_widen_the_interval)
{
    /* 10 cases x 20 trials, 8 always and 2 never converge: the interval is
     * Wilson over 10 cases, more than 4x wider than naive over 200 trials */
    lg_outcome o[200];
    for (uint32_t c = 0; c < 10; c++)
        for (uint32_t t = 0; t < 20; t++)
            o[c * 20 + t] = oc(c, t, c < 8 ? LG_TERM_SUCCESS : LG_TERM_TIMEOUT, 2);
    lg_metrics *m = compute(o, 200);
    expect_close(m->convergence.lower, 0.4901624715366417, 1e-12, "lower");
    expect_close(m->convergence.upper, 0.9433178485456247, 1e-12, "upper");
    cr_expect(m->convergence.upper - m->convergence.lower >
              4.0 * (m->convergence.naive_upper - m->convergence.naive_lower));
    lg_metrics_free(m);
}

Test(metrics, empty_run)
{
    lg_metrics *m = compute(NULL, 0);
    cr_expect_eq(m->trials, 0);
    cr_expect_eq(m->cases, 0);
    cr_expect(isnan(m->convergence.value) && isnan(m->convergence.lower));
    cr_expect(isnan(m->stability.min_case_rate));
    cr_expect_eq(m->n_pass_k, 0);
    cr_expect_eq(m->iterations.n, 0);
    cr_expect_eq(m->curve.n_points, 0);
    cr_expect(isnan(m->invariants.violation_rate));
    cr_expect_eq(m->cost.total_usd, 0.0);
    cr_expect(isnan(m->cost.per_convergence_usd));
    cr_expect_eq(m->latency.trial_ms.n, 0);
    lg_metrics_free(m);
}

Test(metrics, zero_iterations_count_at_one_and_long_runs_truncate)
{
    lg_outcome o[3] = {oc(0, 0, LG_TERM_SUCCESS, 0), oc(1, 0, LG_TERM_SUCCESS, 20000),
                       oc(2, 0, LG_TERM_TIMEOUT, 5)};
    lg_metrics *m = compute(o, 3);
    cr_assert_eq(m->curve.n_points, LG_METRICS_CURVE_MAX);
    cr_expect(m->curve.truncated);
    cr_expect_eq(m->curve.points[0].p, 1.0 / 3.0);
    /* the trial at 20000 iterations is beyond the last point */
    cr_expect_eq(m->curve.points[LG_METRICS_CURVE_MAX - 1].p, 1.0 / 3.0);
    cr_expect_eq(m->iterations.max, 20000.0);
    lg_metrics_free(m);
}

static void expect_error(lg_outcome *o, size_t n, const char *msg)
{
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    cr_expect_eq(lg_metrics_compute(o, n, NULL, &m, &err), LG_EINPUT);
    cr_expect_null(m);
    cr_expect_str_eq(err.msg, msg);
}

Test(metrics, bad_outcomes_are_named)
{
    lg_outcome o[3] = {oc(4, 0, LG_TERM_SUCCESS, 1), oc(4, 1, LG_TERM_TIMEOUT, 1),
                       oc(4, 0, LG_TERM_TIMEOUT, 1)};
    expect_error(o, 3, "outcome of case 4 trial 0: given twice (each trial must be counted "
                       "exactly once)");
    o[2].trial = 2;
    o[1].converged = true;
    expect_error(o, 3, "outcome of case 4 trial 1: converged is true but the termination reason "
                       "is 'timeout' (a trial converges exactly when its reason is 'success')");
    o[1].converged = false;
    o[2].cost_usd = NAN;
    expect_error(o, 3, "outcome of case 4 trial 2: cost_usd nan is not a finite number >= 0");
    o[2].cost_usd = 0;
    o[0].reason = LG_TERM_COUNT;
    o[0].converged = false;
    expect_error(o, 3, "outcome of case 4 trial 0: termination reason 10 is not a known reason");
    o[0].reason = LG_TERM_SUCCESS;
    o[0].converged = true;
    double bad_lat[1] = {-5};
    o[1].call_latency_ms = bad_lat;
    o[1].n_call_latency = 1;
    expect_error(o, 3, "outcome of case 4 trial 1: latency of call 0 is -5, not a finite number >= 0");
    o[1].n_call_latency = 0;
    lg_metrics_opts opts = {1.5};
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    cr_expect_eq(lg_metrics_compute(o, 3, &opts, &m, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "metrics: confidence 1.5 is not in (0, 1)");
}

Test(metrics, other_confidence)
{
    /* 90%: z = 1.6448536269514722; Wilson(17, 20) at 90% is narrower */
    lg_outcome o[20];
    lg_metrics_opts opts = {0.9};
    lg_metrics *m = NULL;
    lg_err err = LG_ERR_INIT;
    for (uint32_t i = 0; i < 20; i++)
        o[i] = oc(i, 0, i < 17 ? LG_TERM_SUCCESS : LG_TERM_TIMEOUT, 1);
    cr_assert_eq(lg_metrics_compute(o, 20, &opts, &m, &err), 0);
    lg_interval w = lg_stats_wilson(17, 20, 0.9);
    cr_expect_eq(m->confidence, 0.9);
    cr_expect_eq(m->convergence.lower, w.lower);
    cr_expect(m->convergence.lower > 0.6395811352592431);
    lg_metrics_free(m);
}

/* ---- JSON --------------------------------------------------------------- */

static char *dump(const lg_metrics *m)
{
    lg_err err = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;
    json_t *j = lg_metrics_to_json(m, &err);
    cr_assert_not_null(j, "%s", err.msg);
    cr_assert_eq(lg_json_dump_canonical(j, &b, &err), 0);
    json_decref(j);
    return lg_buf_take(&b, NULL);
}

static lg_metrics *load(const char *text, lg_err *err)
{
    lg_metrics *m = NULL;
    json_t *j = lg_json_parse(text, strlen(text), "base.json", err);
    cr_assert_not_null(j, "%s", err->msg);
    if (lg_metrics_from_json(j, "base.json", &m, err))
        m = NULL;
    json_decref(j);
    return m;
}

Test(json, round_trip_is_exact)
{
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o)), *back;
    lg_err err = LG_ERR_INIT;
    char *a = dump(m), *b;

    back = load(a, &err);
    cr_assert_not_null(back, "%s", err.msg);
    b = dump(back);
    cr_expect_str_eq(a, b);
    cr_expect_eq(back->convergence.lower, m->convergence.lower);
    cr_expect_eq(back->iterations.p95, m->iterations.p95);
    cr_expect_str_eq(back->invariants.per_invariant[1].name, "stall");
    cr_expect_eq(back->curve.n_points, 5);
    free(a);
    free(b);
    lg_metrics_free(m);
    lg_metrics_free(back);
}

Test(json, documented_shape)
{
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o));
    lg_err err = LG_ERR_INIT;
    json_t *j = lg_metrics_to_json(m, &err);
    cr_assert_not_null(j);
    cr_expect_eq(json_integer_value(json_object_get(j, "schema")), 1);
    cr_expect_eq(json_real_value(json_object_get(json_object_get(j, "convergence_rate"), "value")), 0.5);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "convergence_rate"), "method")),
                     "wilson-design-effect");
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "termination"), "timeout")), 1);
    cr_expect_eq(json_array_size(json_object_get(json_object_get(j, "stability"), "flaky")), 2);
    json_t *pc = json_array_get(json_object_get(j, "per_case"), 3);
    cr_expect_eq(json_integer_value(json_array_get(pc, 0)), 5);
    cr_expect_eq(json_integer_value(json_array_get(pc, 1)), 3);
    cr_expect_eq(json_integer_value(json_array_get(pc, 2)), 1);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(j, "tokens"), "total")), 13200);
    json_decref(j);
    lg_metrics_free(m);

    /* undefined values are null, not 0 */
    m = one_trial_run(0);
    j = lg_metrics_to_json(m, &err);
    cr_expect(json_is_null(json_object_get(json_object_get(j, "cost"), "per_convergence_usd")));
    cr_expect(json_is_null(json_object_get(json_object_get(j, "iterations"), "p50")));
    json_decref(j);
    lg_metrics_free(m);
}

Test(json, empty_run_round_trips)
{
    lg_metrics *m = compute(NULL, 0), *back;
    lg_err err = LG_ERR_INIT;
    char *a = dump(m), *b;
    back = load(a, &err);
    cr_assert_not_null(back, "%s", err.msg);
    b = dump(back);
    cr_expect_str_eq(a, b);
    free(a);
    free(b);
    lg_metrics_free(m);
    lg_metrics_free(back);
}

Test(json, bad_baselines_are_explained)
{
    lg_err err = LG_ERR_INIT;
    lg_outcome o[16];
    lg_metrics *m = compute(o, fixture(o));
    char *good = dump(m);
    json_t *j;

    cr_expect_null(load("{\"schema\": 2}", &err));
    cr_expect_eq(err.code, LG_EFORMAT);
    cr_expect_str_eq(err.msg, "base.json: metrics schema 2 is newer than this loopgate (reads up "
                              "to 1); upgrade loopgate");
    lg_err_clear(&err);
    cr_expect_null(load("[1]", &err));
    cr_expect_str_eq(err.msg, "base.json: metrics: expected a JSON object");
    lg_err_clear(&err);

    j = lg_json_parse(good, strlen(good), "x", &err);
    json_object_del(json_object_get(j, "iterations"), "p50");
    {
        lg_buf b = LG_BUF_INIT;
        cr_assert_eq(lg_json_dump_canonical(j, &b, &err), 0);
        cr_expect_null(load(lg_buf_cstr(&b), &err));
        cr_expect_eq(err.code, LG_EINPUT);
        cr_expect_str_eq(err.msg, "base.json: metrics: missing 'iterations.p50'");
        lg_buf_release(&b);
    }
    lg_err_clear(&err);
    json_object_set_new(json_object_get(j, "iterations"), "p50", json_string("3"));
    json_array_append_new(json_object_get(j, "per_case"), json_pack("[iii]", 7, 2, 3));
    {
        lg_buf b = LG_BUF_INIT;
        cr_assert_eq(lg_json_dump_canonical(j, &b, &err), 0);
        cr_expect_null(load(lg_buf_cstr(&b), &err));
        cr_expect_str_eq(err.msg, "base.json: metrics: per_case[4] is not [case, trials, "
                                  "converged] with 0 <= converged <= trials, trials >= 1 and "
                                  "cases ascending");
        lg_buf_release(&b);
    }
    lg_err_clear(&err);
    json_array_remove(json_object_get(j, "per_case"), 4);
    {
        lg_buf b = LG_BUF_INIT;
        cr_assert_eq(lg_json_dump_canonical(j, &b, &err), 0);
        cr_expect_null(load(lg_buf_cstr(&b), &err));
        cr_expect_str_eq(err.msg, "base.json: metrics: 'iterations.p50' is not a number or null");
        lg_buf_release(&b);
    }
    lg_err_clear(&err);
    json_object_set_new(json_object_get(j, "iterations"), "p50", json_real(3));
    json_object_set_new(j, "trials", json_integer(11));
    {
        lg_buf b = LG_BUF_INIT;
        cr_assert_eq(lg_json_dump_canonical(j, &b, &err), 0);
        cr_expect_null(load(lg_buf_cstr(&b), &err));
        cr_expect_str_eq(err.msg, "base.json: metrics: 'trials' does not match the sum of "
                                  "per_case trials (12)");
        lg_buf_release(&b);
    }
    json_decref(j);
    free(good);
    lg_metrics_free(m);
}
