/*
 * harness/metrics.h - every metric of a run, computed from its trial
 * outcomes (harness/outcome.h). docs/metrics.md defines each one: formula,
 * edge cases, units.
 *
 * Use: lg_metrics_compute() over the run's outcomes gives an lg_metrics
 * (free with lg_metrics_free); lg_metrics_to_json() / lg_metrics_from_json()
 * write and read it in the documented JSON shape (reports, the results DB,
 * baseline files); harness/gate.h evaluates gates on it. Each metric also
 * has its own function (lg_metric_*) for callers that need only one.
 *
 * Outcomes may come in any order; metrics group them by case_index. A
 * "case tally" is one case's trial count and converged count.
 *
 * Undefined values are NaN (never 0): a rate over no trials, iterations
 * when nothing converged, a cost that includes an unknown price. JSON
 * writes them as null.
 *
 * Memory: every pointer in the structs below is owned by the struct it is
 * in and freed by the matching release/free function. Input outcomes are
 * borrowed and not kept.
 *
 * Thread-safety: no globals; distinct results may be computed concurrently.
 * A computed lg_metrics is read-only and may be shared between threads.
 */
#ifndef LG_METRICS_H
#define LG_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/outcome.h"
#include "harness/stats.h"

/* Version of the JSON written by lg_metrics_to_json ("schema"). */
#define LG_METRICS_SCHEMA 1
/* The convergence curve stops after this many iterations (see lg_curve). */
#define LG_METRICS_CURVE_MAX 10000u

/* One case: how many trials ran and how many converged. */
typedef struct lg_case_tally {
    uint32_t case_index;
    uint32_t trials;
    uint32_t converged;
} lg_case_tally;

/* Convergence rate (converged trials / trials) and its interval. */
typedef struct lg_rate {
    size_t trials;
    size_t converged;
    double value;       /* converged / trials (one division: 18/20 == 0.9 exactly) */
    double confidence;  /* e.g. 0.95 */
    double lower;       /* THE interval: Wilson with design effect, clustered by case */
    double upper;
    double n_eff;       /* effective sample size behind it */
    double design_effect;
    double naive_lower; /* plain Wilson over trials, shown for contrast only */
    double naive_upper;
} lg_rate;

/* Per-case stability. Lists hold case indices, ascending. */
typedef struct lg_stability {
    uint32_t *always; /* converged in every trial */
    size_t n_always;
    uint32_t *flaky; /* converged in some trials but not all */
    size_t n_flaky;
    uint32_t *never; /* converged in no trial */
    size_t n_never;
    double min_case_rate; /* lowest per-case converged/trials (`case_pass`); NaN: no case */
} lg_stability;

/* pass^k and pass@k at one k, averaged over the cases with >= k trials. */
typedef struct lg_pass_k {
    uint32_t k;
    double pass_hat_k; /* mean over cases of C(c,k)/C(n,k); NaN if cases == 0 */
    double pass_at_k;  /* mean over cases of 1 - C(n-c,k)/C(n,k) */
    size_t cases;      /* cases averaged (those with at least k trials) */
} lg_pass_k;

/* Summary of a distribution. All NaN (and n 0) when there is no data. */
typedef struct lg_dist {
    size_t n;
    double mean, p50, p90, p95, max; /* quantiles: Hyndman-Fan type 7 */
} lg_dist;

/* One point of the convergence curve. */
typedef struct lg_curve_point {
    uint32_t i;   /* iteration, 1-based */
    double p;     /* trials converged within i iterations / all trials */
    double lower; /* interval, same method as lg_rate (clustered Wilson) */
    double upper;
} lg_curve_point;

/* P(converged by iteration i) for i = 1 .. the most iterations any converged
 * trial took (a converged trial reporting 0 iterations counts at i = 1).
 * The last point equals the convergence rate. At most LG_METRICS_CURVE_MAX
 * points; `truncated` says the curve was cut there. */
typedef struct lg_curve {
    lg_curve_point *points;
    size_t n_points;
    bool truncated;
} lg_curve;

/* One invariant's violations over the run. */
typedef struct lg_invariant_count {
    char *name;     /* owned */
    uint64_t count; /* violations summed over trials */
    size_t trials;  /* trials with at least one violation of it */
} lg_invariant_count;

typedef struct lg_invariants {
    size_t trials_with_violation; /* trials with >= 1 violation of any invariant */
    double violation_rate;        /* trials_with_violation / trials; NaN: no trials */
    lg_invariant_count *per_invariant; /* sorted by name (strcmp) */
    size_t n_per_invariant;
} lg_invariants;

typedef struct lg_tokens {
    uint64_t in, out, cached; /* sums over trials */
    uint64_t total;           /* in + out (cached is part of in) */
} lg_tokens;

typedef struct lg_cost {
    double known_usd;            /* sum over trials whose cost is known */
    size_t unknown_trials;       /* trials whose cost is unknown */
    double total_usd;            /* known_usd if unknown_trials == 0, else NaN */
    double per_convergence_usd;  /* total_usd / converged; NaN if unknown or 0 converged */
} lg_cost;

typedef struct lg_latency {
    lg_dist call_ms;  /* every timed model call of every trial, pooled */
    lg_dist trial_ms; /* wall time per trial */
} lg_latency;

/* Every metric of a run. Free with lg_metrics_free(). */
typedef struct lg_metrics {
    double confidence; /* of every interval below */
    size_t trials;
    size_t cases;
    lg_case_tally *per_case; /* `cases` entries, ascending case_index */
    uint32_t max_trials;     /* most trials any case has */
    lg_rate convergence;
    lg_stability stability;
    lg_pass_k *pass_k; /* k = 1 .. max_trials, pass_k[k-1] */
    size_t n_pass_k;
    lg_dist iterations; /* iterations of converged trials */
    lg_curve curve;
    lg_invariants invariants;
    size_t termination[LG_TERM_COUNT]; /* trials per reason, indexed by lg_term_reason */
    lg_tokens tokens;
    lg_cost cost;
    lg_latency latency;
} lg_metrics;

/* Options for lg_metrics_compute. Zero-initialised means the defaults. */
typedef struct lg_metrics_opts {
    double confidence; /* of the intervals; 0 means 0.95 */
} lg_metrics_opts;

/* ---- the whole run ---------------------------------------------------- */

/* Computes every metric over `n` outcomes (borrowed; n may be 0, giving
 * the metrics of an empty run: counts 0, rates NaN). `opts` may be NULL.
 * On success *out is owned by the caller (free with lg_metrics_free).
 * Errors (nothing allocated, *out untouched): LG_EINPUT for a bad outcome
 * (duplicate case/trial, converged disagreeing with the reason, a reason out
 * of range, a negative or NaN time or cost, more than 2^32-1 trials of one
 * case), naming the case and trial; LG_EINPUT for a confidence not in
 * (0, 1); LG_ENOMEM. */
int lg_metrics_compute(const lg_outcome *o, size_t n, const lg_metrics_opts *opts,
                       lg_metrics **out, lg_err *err) LG_WUR;

/* Frees everything; NULL is fine. */
void lg_metrics_free(lg_metrics *m);

/* ---- one metric at a time -------------------------------------------- */

/* Groups outcomes by case and checks them (the errors of
 * lg_metrics_compute). *out (owned, free with free(); NULL when *ncases is
 * 0) is sorted by case_index. */
int lg_metrics_tally(const lg_outcome *o, size_t n, lg_case_tally **out, size_t *ncases,
                     lg_err *err) LG_WUR;

/* Convergence rate and its clustered interval over case tallies
 * (borrowed). Cannot fail; confidence must be in (0, 1) or the bounds are
 * NaN. */
void lg_metric_convergence(const lg_case_tally *t, size_t ncases, double confidence,
                           lg_rate *out);

/* Splits cases into always / flaky / never. *out owned: release with
 * lg_stability_release. 0 or LG_ENOMEM (nothing allocated). */
int lg_metric_stability(const lg_case_tally *t, size_t ncases, lg_stability *out,
                        lg_err *err) LG_WUR;
void lg_stability_release(lg_stability *s);

/* pass^k and pass@k for k = 1 .. the most trials of any case. *out owned
 * (free with free(); NULL when *n is 0). 0 or LG_ENOMEM. */
int lg_metric_pass_k(const lg_case_tally *t, size_t ncases, lg_pass_k **out, size_t *n,
                     lg_err *err) LG_WUR;

/* Iterations of the converged trials. 0 or LG_ENOMEM. */
int lg_metric_iterations(const lg_outcome *o, size_t n, lg_dist *out, lg_err *err) LG_WUR;

/* The convergence curve with a clustered Wilson band per point. Outcomes
 * must be valid (lg_metrics_tally accepts them). *out owned: release with
 * lg_curve_release. 0, LG_EINPUT or LG_ENOMEM. */
int lg_metric_curve(const lg_outcome *o, size_t n, double confidence, lg_curve *out,
                    lg_err *err) LG_WUR;
void lg_curve_release(lg_curve *c);

/* Invariant violation rate and counts per invariant (names copied). *out
 * owned: release with lg_invariants_release. 0 or LG_ENOMEM. */
int lg_metric_invariants(const lg_outcome *o, size_t n, lg_invariants *out,
                         lg_err *err) LG_WUR;
void lg_invariants_release(lg_invariants *inv);

/* Trials per termination reason (reasons out of range are not counted). */
void lg_metric_termination(const lg_outcome *o, size_t n, size_t counts[LG_TERM_COUNT]);

/* Token sums. */
void lg_metric_tokens(const lg_outcome *o, size_t n, lg_tokens *out);

/* Cost: known part, unknown count, total and per convergence. */
void lg_metric_cost(const lg_outcome *o, size_t n, lg_cost *out);

/* Per-call and per-trial latency. 0 or LG_ENOMEM. */
int lg_metric_latency(const lg_outcome *o, size_t n, lg_latency *out, lg_err *err) LG_WUR;

/* Summary of `n` values (sorted in place; no NaN). Cannot fail. */
void lg_dist_of(double *values, size_t n, lg_dist *out);

/* ---- JSON ------------------------------------------------------------- */

/* The metrics as a JSON object in the shape documented in docs/metrics.md
 * ("schema": 1). NaN values are written as null. Returns a new reference
 * (owned, json_decref) or NULL with LG_ENOMEM. */
json_t *lg_metrics_to_json(const lg_metrics *m, lg_err *err);

/* Reads what lg_metrics_to_json wrote (e.g. a baseline file). `name`
 * names the source in errors ("base.json: metrics: missing
 * 'iterations.p50'"). The parts that are functions of the per-case tallies
 * (convergence_rate, stability, pass_k, trials, cases, max_trials) are
 * recomputed from "per_case" rather than read, so they can never disagree
 * with it; the rest is read as written. Unknown keys are ignored. On
 * success *out is owned (free with lg_metrics_free). Errors: LG_EFORMAT for
 * a newer schema; LG_EINPUT for a missing or mistyped field, a malformed
 * per_case entry or a "trials" that disagrees with per_case; LG_ENOMEM. */
int lg_metrics_from_json(const json_t *j, const char *name, lg_metrics **out,
                         lg_err *err) LG_WUR;

#endif
