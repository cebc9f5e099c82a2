/* tests/test_stats.c - harness/stats.c against hand-computed values.
 *
 * Reference numbers were derived by hand from the formulas in
 * docs/metrics.md; where arithmetic by hand is long, the derivation is
 * shown and the digits were checked with exact rational arithmetic (Python
 * fractions / math.comb) or 40-digit decimals, never with the code under
 * test. z = z_{0.975} = 1.959963984540054 throughout, z^2 = 3.841458820694124.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"

#define Z975 1.959963984540054

static void expect_close(double got, double want, double rel, const char *what)
{
    double tol = rel * (want != 0.0 ? fabs(want) : 1.0);
    cr_expect(fabs(got - want) <= tol, "%s: got %.17g, want %.17g (rel tol %g)", what, got, want,
              rel);
}

/* ---- normal quantile --------------------------------------------------- */

Test(norm, textbook_quantiles)
{
    /* standard tables: z_0.975, z_0.8, z_0.995, z_0.95, z_0.5 */
    expect_close(lg_stats_norm_ppf(0.975), 1.959963984540054, 1e-15, "z 0.975");
    expect_close(lg_stats_norm_ppf(0.8), 0.8416212335729143, 1e-15, "z 0.8");
    expect_close(lg_stats_norm_ppf(0.995), 2.5758293035489004, 1e-15, "z 0.995");
    expect_close(lg_stats_norm_ppf(0.95), 1.6448536269514722, 1e-15, "z 0.95");
    cr_expect_eq(lg_stats_norm_ppf(0.5), 0.0);
    /* symmetric */
    /* symmetric (1 - 0.975 is not exactly 0.025 in binary, hence close) */
    expect_close(lg_stats_norm_ppf(0.025), -lg_stats_norm_ppf(0.975), 1e-14, "z 0.025");
    expect_close(lg_stats_z(0.95), 1.959963984540054, 1e-15, "z(0.95)");
    expect_close(lg_stats_z(0.99), 2.5758293035489004, 1e-15, "z(0.99)");
}

Test(norm, inverts_the_cdf_in_every_branch)
{
    /* the central region (|p-0.5| <= 0.425), the near tail (r <= 5) and
     * the far tail (r > 5, p < exp(-25) ~ 1.4e-11) each have their own
     * coefficients; erfc is an independent reference */
    static const double ps[] = {1e-300, 1e-100, 1e-20, 1e-12, 1e-11, 1e-6,   0.001, 0.01,
                                0.05,   0.074,  0.075, 0.076, 0.2,   0.3,    0.5,   0.6,
                                0.924,  0.925,  0.926, 0.99,  0.999, 0.9999, 1 - 1e-9};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        double x = lg_stats_norm_ppf(ps[i]);
        double back = ps[i] < 0.5 ? lg_stats_norm_cdf(x) : 1.0 - lg_stats_norm_cdf(-x);
        double want = ps[i];
        /* in the tails p is ill-conditioned in x: d(ln p)/d(ln x) ~ x^2,
         * so a 1e-16 relative error in x shows as ~x^2 * 1e-16 in p */
        double tol = 1e-14 * (x * x > 1.0 ? x * x : 1.0) * want;
        cr_expect(fabs(back - want) <= tol, "p=%g: ppf=%.17g cdf(ppf)=%.17g", ps[i], x, back);
    }
}

Test(norm, edges)
{
    cr_expect(isinf(lg_stats_norm_ppf(0.0)) && lg_stats_norm_ppf(0.0) < 0);
    cr_expect(isinf(lg_stats_norm_ppf(1.0)) && lg_stats_norm_ppf(1.0) > 0);
    cr_expect(isnan(lg_stats_norm_ppf(-0.1)));
    cr_expect(isnan(lg_stats_norm_ppf(1.1)));
    cr_expect(isnan(lg_stats_norm_ppf(NAN)));
    cr_expect(isnan(lg_stats_z(0.0)));
    cr_expect(isnan(lg_stats_z(1.0)));
}

/* ---- Wilson ------------------------------------------------------------ */

Test(wilson, seventeen_of_twenty)
{
    /* p = 0.85, n = 20, z^2/n = 0.1920729410347062
     * denom  = 1.1920729410347062
     * centre = (0.85 + 0.0960364705173531) / denom = 0.7936061946815132
     * half   = z/denom * sqrt(0.1275/20 + z^2/1600)
     *        = 1.6441632296... * sqrt(0.006375 + 0.0024009117629338)
     *        = 0.1540250594222702
     * -> [0.6395811352592430, 0.9476312541037834] */
    lg_interval iv = lg_stats_wilson(17, 20, 0.95);
    expect_close(iv.lower, 0.6395811352592431, 1e-13, "17/20 lower");
    expect_close(iv.upper, 0.9476312541037834, 1e-13, "17/20 upper");
}

Test(wilson, zero_and_all_of_twenty)
{
    /* k = 0: centre = half = (z^2/2n)/(1+z^2/n), so lower = 0 and
     * upper = (z^2/n)/(1+z^2/n) = 0.1920729.../1.1920729... = 0.1611251580528194
     * k = n: mirror image, lower = 1/(1+z^2/n) = 0.8388748419471806 */
    lg_interval zero = lg_stats_wilson(0, 20, 0.95), all = lg_stats_wilson(20, 20, 0.95);
    cr_expect_eq(zero.lower, 0.0);
    expect_close(zero.upper, 0.1611251580528194, 1e-13, "0/20 upper");
    expect_close(all.lower, 0.8388748419471806, 1e-13, "20/20 lower");
    cr_expect_eq(all.upper, 1.0);
}

Test(wilson, one_trial_and_symmetry)
{
    /* 1/1: lower = 1/(1+z^2) = 1/4.841458820694124 = 0.2065493143772374 */
    lg_interval one = lg_stats_wilson(1, 1, 0.95);
    expect_close(one.lower, 0.2065493143772374, 1e-13, "1/1 lower");
    cr_expect_eq(one.upper, 1.0);
    for (int k = 0; k <= 13; k++) {
        lg_interval a = lg_stats_wilson(k, 13, 0.9), b = lg_stats_wilson(13 - k, 13, 0.9);
        expect_close(a.lower, 1.0 - b.upper, 1e-12, "mirror lower");
        cr_expect(a.lower <= (double)k / 13 && (double)k / 13 <= a.upper);
    }
}

Test(wilson, undefined)
{
    cr_expect(isnan(lg_stats_wilson(0, 0, 0.95).lower));
    cr_expect(isnan(lg_stats_wilson(3, 2, 0.95).upper));
    cr_expect(isnan(lg_stats_wilson(-1, 2, 0.95).upper));
    cr_expect(isnan(lg_stats_wilson(1, 2, 1.5).lower));
}

/* ---- clustered interval ------------------------------------------------ */

static lg_cluster_sums sums_of(const uint32_t *k, const uint32_t *m, size_t n)
{
    lg_cluster_sums s = LG_CLUSTER_SUMS_INIT;
    for (size_t i = 0; i < n; i++)
        lg_cluster_sums_add(&s, k[i], m[i]);
    return s;
}

Test(cluster, one_trial_per_case_is_wilson_over_cases)
{
    /* V = p(1-p)/C, n_eff = C: the interval must be Wilson(17, 20) exactly */
    uint32_t k[20], m[20];
    for (int i = 0; i < 20; i++) {
        k[i] = i < 17;
        m[i] = 1;
    }
    lg_cluster_sums s = sums_of(k, m, 20);
    lg_cluster_interval ci = lg_stats_cluster_wilson(&s, 0.95);
    lg_interval w = lg_stats_wilson(17, 20, 0.95);
    cr_expect_eq(ci.n_eff, 20.0);
    cr_expect_eq(ci.design_effect, 1.0);
    cr_expect_eq(ci.rate, 0.85);
    cr_expect_eq(ci.lower, w.lower);
    cr_expect_eq(ci.upper, w.upper);
}

Test(cluster, perfectly_correlated_trials_count_once)
{
    /* 10 cases x 20 trials; 8 cases always converge, 2 never. p = 0.8,
     * n = 200. V = (8*(20-16)^2 + 2*(0-16)^2) / 200^2 = (128+512)/40000
     * = 0.016; n_eff = 0.16/0.016 = 10 (the number of cases), deff = 20.
     * The honest interval is Wilson(8, 10) = [0.4901624715366417,
     * 0.9433178485456247]; naive Wilson(160, 200) = [0.7391, 0.8495] is
     * more than 4 times narrower. */
    uint32_t k[10], m[10];
    for (int i = 0; i < 10; i++) {
        k[i] = i < 8 ? 20 : 0;
        m[i] = 20;
    }
    lg_cluster_sums s = sums_of(k, m, 10);
    lg_cluster_interval ci = lg_stats_cluster_wilson(&s, 0.95);
    lg_interval naive = lg_stats_wilson(160, 200, 0.95);
    expect_close(ci.n_eff, 10.0, 1e-12, "n_eff");
    expect_close(ci.design_effect, 20.0, 1e-12, "deff");
    expect_close(ci.lower, 0.4901624715366417, 1e-12, "lower");
    expect_close(ci.upper, 0.9433178485456247, 1e-12, "upper");
    cr_expect(ci.upper - ci.lower > 4.0 * (naive.upper - naive.lower),
              "clustered width %g vs naive %g", ci.upper - ci.lower, naive.upper - naive.lower);
}

Test(cluster, all_or_nothing_uses_the_number_of_cases)
{
    /* 20 cases x 3 trials all converged: no variance to estimate the
     * correlation from; n_eff = 20 cases, so Wilson(20, 20), lower
     * 0.8388748419471806 (naive over 60 trials would claim 0.9398) */
    uint32_t k[20], m[20];
    for (int i = 0; i < 20; i++) {
        k[i] = 3;
        m[i] = 3;
    }
    lg_cluster_sums s = sums_of(k, m, 20);
    lg_cluster_interval ci = lg_stats_cluster_wilson(&s, 0.95);
    expect_close(ci.lower, 0.8388748419471806, 1e-13, "lower");
    cr_expect_eq(ci.upper, 1.0);
    cr_expect_eq(ci.n_eff, 20.0);
    for (int i = 0; i < 20; i++)
        k[i] = 0;
    s = sums_of(k, m, 20);
    ci = lg_stats_cluster_wilson(&s, 0.95);
    cr_expect_eq(ci.lower, 0.0);
    expect_close(ci.upper, 0.1611251580528194, 1e-13, "upper");
}

Test(cluster, never_narrower_than_independent_trials)
{
    /* every case converges in exactly 1 of 2 trials: less spread than
     * binomial (V = 0); n_eff is capped at n = 40, the naive interval */
    uint32_t k[20], m[20];
    for (int i = 0; i < 20; i++) {
        k[i] = 1;
        m[i] = 2;
    }
    lg_cluster_sums s = sums_of(k, m, 20);
    lg_cluster_interval ci = lg_stats_cluster_wilson(&s, 0.95);
    lg_interval w = lg_stats_wilson(20, 40, 0.95);
    cr_expect_eq(ci.n_eff, 40.0);
    cr_expect_eq(ci.lower, w.lower);
    cr_expect_eq(ci.upper, w.upper);
}

Test(cluster, empty_is_undefined)
{
    lg_cluster_sums s = LG_CLUSTER_SUMS_INIT;
    lg_cluster_interval ci = lg_stats_cluster_wilson(&s, 0.95);
    cr_expect(isnan(ci.rate) && isnan(ci.lower) && isnan(ci.upper));
    lg_cluster_sums_add(&s, 0, 0); /* an empty cluster is ignored */
    cr_expect_eq(s.clusters, 0.0);
}

/* ---- bootstrap --------------------------------------------------------- */

Test(bootstrap, deterministic_and_clustered)
{
    uint32_t k[10], m[10];
    lg_interval a, b, c;
    lg_err err = LG_ERR_INIT;
    for (int i = 0; i < 10; i++) {
        k[i] = i < 8 ? 20 : 0;
        m[i] = 20;
    }
    cr_assert_eq(lg_stats_bootstrap_rate(k, m, 10, 0.95, 0, 42, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_stats_bootstrap_rate(k, m, 10, 0.95, 0, 42, &b, &err), 0);
    cr_assert_eq(lg_stats_bootstrap_rate(k, m, 10, 0.95, 0, 43, &c, &err), 0);
    cr_expect_eq(a.lower, b.lower);
    cr_expect_eq(a.upper, b.upper);
    /* resampling cases: the rate is (cases converged)/10 in steps of 0.1;
     * a 95% band over Binomial(10, 0.8)/10 spans about [0.5, 1.0] */
    cr_expect(a.lower >= 0.4 && a.lower <= 0.6, "lower %g", a.lower);
    cr_expect_eq(a.upper, 1.0);
    lg_interval naive = lg_stats_wilson(160, 200, 0.95);
    cr_expect(a.upper - a.lower > 3.0 * (naive.upper - naive.lower));
    (void)c;
}

Test(bootstrap, agrees_with_the_design_effect_interval)
{
    /* 60 cases x 5 trials with case rates 0, 0.2, ..., 1 cycling: both
     * methods estimate the same cluster variance, so the bounds should
     * agree to a few hundredths */
    uint32_t k[60], m[60];
    lg_interval bs;
    lg_err err = LG_ERR_INIT;
    for (int i = 0; i < 60; i++) {
        k[i] = (uint32_t)(i % 6);
        m[i] = 5;
        if (k[i] > 5)
            k[i] = 5;
    }
    lg_cluster_sums s = sums_of(k, m, 60);
    lg_cluster_interval ci = lg_stats_cluster_wilson(&s, 0.95);
    cr_assert_eq(lg_stats_bootstrap_rate(k, m, 60, 0.95, 4000, 7, &bs, &err), 0);
    cr_expect(fabs(bs.lower - ci.lower) < 0.03, "bootstrap %g vs %g", bs.lower, ci.lower);
    cr_expect(fabs(bs.upper - ci.upper) < 0.03, "bootstrap %g vs %g", bs.upper, ci.upper);
    cr_expect(ci.design_effect > 2.0, "deff %g", ci.design_effect);
}

Test(bootstrap, all_converged_collapses_and_errors)
{
    uint32_t k[3] = {2, 2, 2}, m[3] = {2, 2, 2}, bad[3] = {2, 0, 2};
    lg_interval iv = {0, 0};
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_stats_bootstrap_rate(k, m, 3, 0.95, 100, 1, &iv, &err), 0);
    cr_expect_eq(iv.lower, 1.0); /* zero width: why it is not THE interval */
    cr_expect_eq(iv.upper, 1.0);
    cr_expect_eq(lg_stats_bootstrap_rate(k, m, 0, 0.95, 100, 1, &iv, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "bootstrap: no cases to resample");
    lg_err_clear(&err);
    cr_expect_eq(lg_stats_bootstrap_rate(k, bad, 3, 0.95, 100, 1, &iv, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "bootstrap: case 1 has 2 successes of 0 trials; need 1 <= trials "
                              "and successes <= trials");
}

/* ---- pass@k, pass^k ----------------------------------------------------- */

Test(pass_k, hand_values)
{
    /* n c k : pass^k = C(c,k)/C(n,k) ; pass@k = 1 - C(n-c,k)/C(n,k)
     * 3 2 1 : 2/3 ; 2/3
     * 3 2 2 : 1/3 ; 1 - 0/3 = 1
     * 3 2 3 : 0   ; 1
     * 5 2 2 : 1/10; 1 - 3/10 = 7/10
     * 5 3 2 : 3/10; 1 - 1/10 = 9/10
     * 10 3 4: 0   ; 1 - 35/210 = 5/6
     * 3 0 1 : 0   ; 0
     * 3 3 3 : 1   ; 1 */
    static const struct {
        unsigned n, c, k;
        double hat, at;
    } t[] = {{3, 2, 1, 2.0 / 3, 2.0 / 3}, {3, 2, 2, 1.0 / 3, 1},     {3, 2, 3, 0, 1},
             {5, 2, 2, 0.1, 0.7},         {5, 3, 2, 0.3, 0.9},       {10, 3, 4, 0, 5.0 / 6},
             {3, 0, 1, 0, 0},             {3, 3, 3, 1, 1}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        expect_close(lg_stats_pass_hat_k(t[i].n, t[i].c, t[i].k), t[i].hat, 1e-15, "pass^k");
        expect_close(lg_stats_pass_at_k(t[i].n, t[i].c, t[i].k), t[i].at, 1e-15, "pass@k");
    }
}

Test(pass_k, large_n_without_overflow)
{
    /* C(1000, 500) ~ 2.7e299 would overflow a naive ratio of factorials.
     * pass@500 with n=1000, c=1: 1 - C(999,500)/C(1000,500) = 1 - 500/1000
     * pass^500 with c=n-1=999: C(999,500)/C(1000,500) = 500/1000 */
    expect_close(lg_stats_pass_at_k(1000, 1, 500), 0.5, 1e-12, "pass@500");
    expect_close(lg_stats_pass_hat_k(1000, 999, 500), 0.5, 1e-12, "pass^500");
    /* pass^k with c = n/2, k = n/2: 1/C(1000,500) = 3.699753997814027e-300 */
    expect_close(lg_stats_pass_hat_k(1000, 500, 500), 3.699753997814027e-300, 1e-9,
                 "1/C(1000,500)");
}

Test(pass_k, undefined)
{
    cr_expect(isnan(lg_stats_pass_at_k(3, 1, 0)));
    cr_expect(isnan(lg_stats_pass_at_k(3, 1, 4)));
    cr_expect(isnan(lg_stats_pass_hat_k(3, 4, 1)));
}

/* ---- quantiles --------------------------------------------------------- */

Test(quantile, type7)
{
    /* x = 1 2 3 4, h = 3p:
     * p=0.5  h=1.5  -> 2 + 0.5*(3-2) = 2.5
     * p=0.9  h=2.7  -> 3 + 0.7 = 3.7
     * p=0.95 h=2.85 -> 3.85
     * p=0.25 h=0.75 -> 1.75 ; p=0 -> 1 ; p=1 -> 4  (numpy gives the same) */
    double x[] = {4, 2, 1, 3};
    lg_stats_sort(x, 4);
    cr_expect_eq(x[0], 1.0);
    cr_expect_eq(x[3], 4.0);
    expect_close(lg_stats_quantile_sorted(x, 4, 0.5), 2.5, 1e-15, "p50");
    expect_close(lg_stats_quantile_sorted(x, 4, 0.9), 3.7, 1e-15, "p90");
    expect_close(lg_stats_quantile_sorted(x, 4, 0.95), 3.85, 1e-15, "p95");
    expect_close(lg_stats_quantile_sorted(x, 4, 0.25), 1.75, 1e-15, "p25");
    cr_expect_eq(lg_stats_quantile_sorted(x, 4, 0.0), 1.0);
    cr_expect_eq(lg_stats_quantile_sorted(x, 4, 1.0), 4.0);
    /* 1..10, p=0.95: h = 8.55 -> 9 + 0.55 = 9.55 */
    double y[10];
    for (int i = 0; i < 10; i++)
        y[i] = i + 1;
    expect_close(lg_stats_quantile_sorted(y, 10, 0.95), 9.55, 1e-15, "p95 of 1..10");
}

Test(quantile, edges)
{
    double one = 7;
    cr_expect_eq(lg_stats_quantile_sorted(&one, 1, 0.95), 7.0);
    cr_expect(isnan(lg_stats_quantile_sorted(NULL, 0, 0.5)));
    cr_expect(isnan(lg_stats_quantile_sorted(&one, 1, NAN)));
}

/* ---- McNemar ----------------------------------------------------------- */

Test(mcnemar, small_exact)
{
    /* b=1 c=8: n=9, P(X<=1) = (C(9,0)+C(9,1))/2^9 = 10/512; p = 20/512 = 0.0390625
     * b=0 c=10: 2 * 1/1024 = 0.001953125
     * b=2 c=7: 2 * (1+9+36)/512 = 92/512 = 0.1796875
     * b=3 c=0: 2 * 1/8 = 0.25
     * b=5 c=5: 2 * P(X<=5 | n=10) = 2 * 638/1024 > 1 -> 1
     * b=0 c=1: 2 * 1/2 = 1 ; b=c=0: 1 */
    expect_close(lg_stats_mcnemar_exact(1, 8), 0.0390625, 1e-13, "1,8");
    expect_close(lg_stats_mcnemar_exact(8, 1), 0.0390625, 1e-13, "8,1");
    expect_close(lg_stats_mcnemar_exact(0, 10), 0.001953125, 1e-13, "0,10");
    expect_close(lg_stats_mcnemar_exact(2, 7), 0.1796875, 1e-13, "2,7");
    expect_close(lg_stats_mcnemar_exact(3, 0), 0.25, 1e-13, "3,0");
    cr_expect_eq(lg_stats_mcnemar_exact(5, 5), 1.0);
    cr_expect_eq(lg_stats_mcnemar_exact(0, 1), 1.0);
    cr_expect_eq(lg_stats_mcnemar_exact(0, 0), 1.0);
}

Test(mcnemar, large_in_log_space)
{
    /* exact values from sum(comb(n, i) for i <= m) * 2 / 2**n with Python
     * integers:
     *   40, 60      -> 0.05688793364098079
     *   480, 520    -> 0.21744829320414094
     *   4900, 5100  -> 0.04658552770494739
     *   100, 200    -> 8.014875216538918e-09
     *   0, 1000     -> 2/2^1000 = 1.8665272370064378e-301 (2^-1000 alone
     *                  is below what a naive pmf product can reach) */
    expect_close(lg_stats_mcnemar_exact(40, 60), 0.05688793364098079, 1e-11, "40,60");
    expect_close(lg_stats_mcnemar_exact(480, 520), 0.21744829320414094, 1e-11, "480,520");
    expect_close(lg_stats_mcnemar_exact(4900, 5100), 0.04658552770494739, 1e-10, "4900,5100");
    expect_close(lg_stats_mcnemar_exact(100, 200), 8.014875216538918e-09, 1e-10, "100,200");
    expect_close(lg_stats_mcnemar_exact(0, 1000), 1.8665272370064378e-301, 1e-10, "0,1000");
    /* a billion discordant pairs: the normal approximation with continuity
     * correction, z = (|b-c|-1)/sqrt(b+c) = 99999/31622.78 = 3.16225,
     * p ~ 2(1-Phi(z)) = 0.001566, agrees to well under a percent here */
    double p = lg_stats_mcnemar_exact(499950000ull, 500050000ull);
    double approx = 2.0 * lg_stats_norm_cdf(-99999.0 / sqrt(1e9));
    cr_expect(fabs(p - approx) < 0.01 * approx, "p %.10g approx %.10g", p, approx);
    cr_expect_eq(lg_stats_mcnemar_exact(2000000000ull, 2000000000ull), 1.0);
}

/* ---- sample size -------------------------------------------------------- */

Test(power, connor_formula)
{
    /* p=0.9, drop=0.1: p2=0.8, psi = 0.9*0.2 + 0.8*0.1 = 0.26
     * n = (1.959964*sqrt(0.26) + 0.841621*sqrt(0.26-0.01))^2 / 0.01
     *   = (0.999390 + 0.420811)^2 / 0.01 = 201.697 -> 202
     * p=0.9, drop=0.05: psi = 0.9*0.15 + 0.85*0.1 = 0.22 -> 688.34 -> 689
     * observed psi = 0.1 (every discordant case flips one way):
     *   (1.959964*0.316228 + 0.841621*0.3)^2/0.01 = 76.087 -> 77
     * p=1, drop=0.1: psi = 0.1 exactly = drop -> 77 as well */
    uint64_t n = 0;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_stats_cases_needed(0.9, 0.1, 0.05, 0.8, 0, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 202);
    cr_assert_eq(lg_stats_cases_needed(0.9, 0.05, 0.05, 0.8, 0, &n, &err), 0);
    cr_expect_eq(n, 689);
    cr_assert_eq(lg_stats_cases_needed(0.9, 0.1, 0.05, 0.8, 0.1, &n, &err), 0);
    cr_expect_eq(n, 77);
    cr_assert_eq(lg_stats_cases_needed(1.0, 0.1, 0.05, 0.8, 0, &n, &err), 0, "%s", err.msg);
    cr_expect_eq(n, 77);
    expect_close(lg_stats_discordance_independent(0.9, 0.8), 0.26, 1e-15, "psi");
}

Test(power, bad_arguments_say_why)
{
    uint64_t n = 0;
    lg_err err = LG_ERR_INIT;
    cr_expect_eq(lg_stats_cases_needed(0.9, 0.95, 0.05, 0.8, 0, &n, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg,
                     "sample size: drop 0.95 is not in (0, 0.9] (it cannot exceed the baseline rate)");
    lg_err_clear(&err);
    cr_expect_eq(lg_stats_cases_needed(0.9, 0.1, 0.05, 0.8, 0.05, &n, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "sample size: discordance 0.05 is not in [0.1, 1] (the share of "
                              "cases that flip is at least the drop it causes)");
    lg_err_clear(&err);
    cr_expect_eq(lg_stats_cases_needed(0.9, 0.1, 1.0, 0.8, 0, &n, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "sample size: alpha 1 is not in (0, 1)");
    lg_err_clear(&err);
    cr_expect_eq(lg_stats_cases_needed(0.0, 0.1, 0.05, 0.8, 0, &n, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "sample size: baseline rate 0 is not in (0, 1]");
}
