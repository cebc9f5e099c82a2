/*
 * harness/stats.h - the statistics behind loopgate's metrics, gates and
 * `loopgate compare`: intervals for proportions (plain and clustered by
 * case), pass@k / pass^k, quantiles, the exact McNemar test and a
 * sample-size note. docs/metrics.md defines every formula used here.
 *
 * Pure computation: no I/O, no globals, no printing. Every function is
 * reentrant and safe to call from several threads at once (lgamma_r is
 * used, never lgamma). Results that do not exist (a rate over zero trials,
 * a quantile of nothing) are NaN, never a made-up 0: callers test with
 * isnan() and say "undefined".
 */
#ifndef LG_STATS_H
#define LG_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* A two-sided interval. Both bounds are NaN when it is undefined. */
typedef struct lg_interval {
    double lower;
    double upper;
} lg_interval;

/* ---- the normal distribution ------------------------------------------ */

/* Inverse of the standard normal CDF (quantile function), Wichura's
 * algorithm AS241 (PPND16), relative error about 1e-16 over (0, 1).
 * Returns -INFINITY for p == 0, +INFINITY for p == 1, NaN outside [0, 1]
 * or for NaN. */
double lg_stats_norm_ppf(double p);

/* Standard normal CDF, 0.5 * erfc(-x / sqrt(2)). */
double lg_stats_norm_cdf(double x);

/* Two-sided critical value for a confidence level: norm_ppf(1 - (1-conf)/2),
 * e.g. 1.959963984540054 for 0.95. NaN unless 0 < conf < 1. */
double lg_stats_z(double confidence);

/* ---- intervals for a proportion -------------------------------------- */

/* Wilson score interval for `successes` out of `n` independent trials at
 * the given confidence (e.g. 0.95):
 *     centre = (p + z^2/2n) / (1 + z^2/n)
 *     half   = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/4n^2),   p = successes/n
 * `n` and `successes` may be non-integer (effective sample sizes). The
 * bounds are clamped to [0, 1]; successes == 0 gives lower == 0 exactly and
 * successes == n gives upper == 1 exactly. NaN bounds when n <= 0,
 * successes is outside [0, n], or confidence is not in (0, 1). */
lg_interval lg_stats_wilson(double successes, double n, double confidence);

/* Sufficient statistics of clustered binary data: trials grouped in
 * clusters (loopgate: the trials of one case). Fill with
 * lg_cluster_sums_add() once per cluster, or update the fields directly
 * (they are exactly the sums named). Initialise with LG_CLUSTER_SUMS_INIT. */
typedef struct lg_cluster_sums {
    double clusters; /* number of clusters added with m >= 1 */
    double n;        /* sum of m_i (trials) */
    double k;        /* sum of k_i (successes) */
    double k2;       /* sum of k_i^2 */
    double km;       /* sum of k_i * m_i */
    double m2;       /* sum of m_i^2 */
} lg_cluster_sums;

#define LG_CLUSTER_SUMS_INIT {0, 0, 0, 0, 0, 0}

/* Adds one cluster with `k` successes out of `m` trials (k <= m). A cluster
 * with m == 0 is ignored. */
void lg_cluster_sums_add(lg_cluster_sums *s, uint64_t k, uint64_t m);

/* The convergence-rate interval loopgate reports. */
typedef struct lg_cluster_interval {
    double rate;          /* k / n; NaN when n == 0 */
    double lower, upper;  /* the interval; NaN when n == 0 */
    double n_eff;         /* effective number of independent trials used */
    double design_effect; /* n / n_eff (1 = independent trials) */
} lg_cluster_interval;

/*
 * Wilson interval with a design-effect (effective sample size) correction
 * for clustered trials - Korn & Graubard (1998): the Wilson formula applied
 * with n_eff = p(1-p) / V in place of n, where V is the cluster-robust
 * (linearisation, "sandwich") variance of the ratio estimator p = k/n:
 *     V = sum_i (k_i - p m_i)^2 / n^2
 * (no small-sample factor, so that one trial per cluster gives V = p(1-p)/C
 * and n_eff = C: exactly Wilson over cases). n_eff is capped at n (never
 * narrower than treating every trial as independent). When p is 0 or 1 the
 * data cannot show how correlated trials are, and n_eff = number of
 * clusters (the conservative choice: trials of a case count as one).
 * This is THE interval of `convergence_rate`; docs/metrics.md says why it
 * was chosen over the bootstrap below. NaN fields when s->n == 0 or the
 * confidence is not in (0, 1).
 */
lg_cluster_interval lg_stats_cluster_wilson(const lg_cluster_sums *s, double confidence);

/* Replicates lg_stats_bootstrap_rate uses when asked for 0. */
#define LG_STATS_BOOTSTRAP_REPLICATES 2000u
/* PCG32 stream of the bootstrap ("boot"), so it never shares draws with cases. */
#define LG_STATS_BOOTSTRAP_STREAM 0x626f6f74u

/*
 * Case-level (cluster) percentile bootstrap of the ratio k/n: `replicates`
 * times, draw `nclusters` clusters with replacement (PCG32 seeded with
 * `seed`, stream LG_STATS_BOOTSTRAP_STREAM), compute sum k / sum m; the
 * interval is the (1-conf)/2 and 1-(1-conf)/2 quantiles (type 7) of the
 * replicates. `k[i]` successes of `m[i]` trials in cluster i (borrowed);
 * every m[i] must be >= 1. replicates == 0 means
 * LG_STATS_BOOTSTRAP_REPLICATES. Deterministic for a given seed.
 * Note: with every trial converged (or none) every replicate is equal and
 * the interval has zero width - one reason it is not THE interval.
 * Returns 0, LG_EINPUT (no clusters, m[i] == 0, k[i] > m[i], bad
 * confidence) or LG_ENOMEM; *out is written only on success.
 */
int lg_stats_bootstrap_rate(const uint32_t *k, const uint32_t *m, size_t nclusters,
                            double confidence, uint32_t replicates, uint64_t seed,
                            lg_interval *out, lg_err *err);

/* ---- pass@k and pass^k (one case) ------------------------------------ */

/* Unbiased pass@k for one case with `c` successes out of `n` trials: the
 * probability that at least one of k trials drawn without replacement
 * succeeded, 1 - C(n-c, k) / C(n, k), computed as
 * 1 - prod_{j=0}^{k-1} (n-c-j)/(n-j) (every factor in [0, 1], no overflow).
 * NaN when k == 0, k > n or c > n. */
double lg_stats_pass_at_k(uint64_t n, uint64_t c, uint64_t k);

/* Unbiased pass^k (tau-bench) for one case: the probability that all of k
 * trials drawn without replacement succeeded, C(c, k) / C(n, k), computed
 * as prod_{j=0}^{k-1} (c-j)/(n-j); 0 when c < k. NaN when k == 0, k > n or
 * c > n. */
double lg_stats_pass_hat_k(uint64_t n, uint64_t c, uint64_t k);

/* ---- quantiles ------------------------------------------------------- */

/* Sorts ascending in place. `x` must not hold NaN. */
void lg_stats_sort(double *x, size_t n);

/* Quantile of sorted data, Hyndman & Fan type 7 (R's default and numpy's
 * "linear"): h = (n-1)p, result = x[floor h] + (h - floor h)(x[floor h + 1]
 * - x[floor h]). p is clamped to [0, 1]. `sorted` is borrowed, ascending,
 * no NaN. NaN when n == 0 or p is NaN. */
double lg_stats_quantile_sorted(const double *sorted, size_t n, double p);

/* ---- paired comparison ----------------------------------------------- */

/* Exact two-sided McNemar p-value from the discordant pair counts: b pairs
 * that went one way, c the other. With X ~ Binomial(b+c, 1/2):
 *     p = min(1, 2 * P(X <= min(b, c)))
 * computed in log space (lgamma_r) with the tail summed from its largest
 * term, so b + c in the billions neither overflows nor underflows. b + c ==
 * 0 gives 1. */
double lg_stats_mcnemar_exact(uint64_t b, uint64_t c);

/* Discordance of two independent Bernoulli outcomes with rates p1, p2:
 * p1(1-p2) + p2(1-p1). The default assumption of lg_stats_cases_needed. */
double lg_stats_discordance_independent(double p1, double p2);

/*
 * Cases (pairs) needed for a two-sided paired test (McNemar) at level
 * `alpha` to detect, with probability `power` (e.g. 0.8), a drop of `drop`
 * in the convergence rate from `p` to p - drop. Connor (1987):
 *     n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - drop^2))^2 / drop^2
 * where psi is the share of discordant cases. `discordance` <= 0 means
 * "assume baseline and candidate outcomes of a case are independent":
 * psi = lg_stats_discordance_independent(p, p - drop). Real suites are
 * positively correlated (a hard case is hard for both), so the true psi is
 * smaller and this n is an upper bound; pass an observed psi when one is
 * known. The normal approximation makes the exact test need slightly more.
 * Writes ceil(n) to *out. Returns 0 or LG_EINPUT: p not in (0, 1], drop not
 * in (0, p], alpha or power not in (0, 1), or psi < drop (impossible: the
 * discordant share is at least the difference it produces) or psi > 1.
 */
int lg_stats_cases_needed(double p, double drop, double alpha, double power,
                          double discordance, uint64_t *out, lg_err *err);

#endif
