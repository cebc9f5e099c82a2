#include "stats.h"

#include <math.h>
#include <stdlib.h>

#include "core/pcg.h"

/* ---- the normal distribution ------------------------------------------ */

/* Evaluates c[0] x^(n-1) + ... + c[n-1] (Horner). */
static double horner(const double *c, int n, double x)
{
    double v = c[0];
    for (int i = 1; i < n; i++)
        v = v * x + c[i];
    return v;
}

/* Wichura, M. J. (1988), Algorithm AS 241: The percentage points of the
 * normal distribution. Applied Statistics 37(3), 477-484. PPND16, the
 * double-precision version; coefficients as published, highest power
 * first. */
static const double as241_a[8] = {
    2.5090809287301226727e+3, 3.3430575583588128105e+4, 6.7265770927008700853e+4,
    4.5921953931549871457e+4, 1.3731693765509461125e+4, 1.9715909503065514427e+3,
    1.3314166789178437745e+2, 3.3871328727963666080e+0};
static const double as241_b[8] = {
    5.2264952788528545610e+3, 2.8729085735721942674e+4, 3.9307895800092710610e+4,
    2.1213794301586595867e+4, 5.3941960214247511077e+3, 6.8718700749205790830e+2,
    4.2313330701600911252e+1, 1.0};
static const double as241_c[8] = {
    7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
    1.27045825245236838258e+0, 3.64784832476320460504e+0, 5.76949722146069140550e+0,
    4.63033784615654529590e+0, 1.42343711074968357734e+0};
static const double as241_d[8] = {
    1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
    1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e+0,
    2.05319162663775882187e+0, 1.0};
static const double as241_e[8] = {
    2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
    2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e+0,
    5.46378491116411436990e+0, 6.65790464350110377720e+0};
static const double as241_f[8] = {
    2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
    7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
    5.99832206555887937690e-1, 1.0};

double lg_stats_norm_ppf(double p)
{
    double q, r, x;

    if (isnan(p) || p < 0.0 || p > 1.0)
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;
    q = p - 0.5;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q * horner(as241_a, 8, r) / horner(as241_b, 8, r);
    }
    r = sqrt(-log(q < 0.0 ? p : 1.0 - p));
    if (r <= 5.0) {
        r -= 1.6;
        x = horner(as241_c, 8, r) / horner(as241_d, 8, r);
    } else {
        r -= 5.0;
        x = horner(as241_e, 8, r) / horner(as241_f, 8, r);
    }
    return q < 0.0 ? -x : x;
}

double lg_stats_norm_cdf(double x)
{
    return 0.5 * erfc(-x / M_SQRT2);
}

double lg_stats_z(double confidence)
{
    if (!(confidence > 0.0 && confidence < 1.0))
        return NAN;
    return lg_stats_norm_ppf(1.0 - (1.0 - confidence) / 2.0);
}

/* ---- intervals -------------------------------------------------------- */

lg_interval lg_stats_wilson(double successes, double n, double confidence)
{
    lg_interval iv = {NAN, NAN};
    double z = lg_stats_z(confidence), z2, p, denom, centre, half;

    if (isnan(z) || !(n > 0.0) || !(successes >= 0.0) || successes > n || !isfinite(n))
        return iv;
    z2 = z * z;
    p = successes / n;
    denom = 1.0 + z2 / n;
    centre = (p + z2 / (2.0 * n)) / denom;
    half = z / denom * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
    iv.lower = centre - half;
    iv.upper = centre + half;
    /* The formula gives exactly 0 (or 1) at the ends in exact arithmetic;
     * pin them so rounding never reports 1e-17 or 0.9999999999999999. */
    if (successes == 0.0 || iv.lower < 0.0)
        iv.lower = 0.0;
    if (successes == n || iv.upper > 1.0)
        iv.upper = 1.0;
    return iv;
}

void lg_cluster_sums_add(lg_cluster_sums *s, uint64_t k, uint64_t m)
{
    double dk = (double)k, dm = (double)m;

    if (m == 0)
        return;
    s->clusters += 1.0;
    s->n += dm;
    s->k += dk;
    s->k2 += dk * dk;
    s->km += dk * dm;
    s->m2 += dm * dm;
}

lg_cluster_interval lg_stats_cluster_wilson(const lg_cluster_sums *s, double confidence)
{
    lg_cluster_interval ci = {NAN, NAN, NAN, NAN, NAN};
    lg_interval iv;
    double p, v, n_eff;

    if (!(s->n > 0.0) || isnan(lg_stats_z(confidence)))
        return ci;
    p = s->k / s->n;
    if (s->k <= 0.0 || s->k >= s->n) {
        n_eff = s->clusters;
    } else if (s->m2 == s->n) {
        /* one trial per cluster: V = p(1-p)/C exactly, so n_eff = C; say
         * so without the rounding of the general formula */
        n_eff = s->clusters;
    } else {
        /* sum_i (k_i - p m_i)^2, expanded so it can be kept as running sums */
        v = (s->k2 - 2.0 * p * s->km + p * p * s->m2) / (s->n * s->n);
        n_eff = v > 0.0 ? p * (1.0 - p) / v : s->n;
        if (n_eff > s->n)
            n_eff = s->n;
    }
    iv = lg_stats_wilson(p * n_eff, n_eff, confidence);
    ci.rate = p;
    ci.lower = iv.lower;
    ci.upper = iv.upper;
    ci.n_eff = n_eff;
    ci.design_effect = s->n / n_eff;
    return ci;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void lg_stats_sort(double *x, size_t n)
{
    if (n > 1)
        qsort(x, n, sizeof *x, cmp_double);
}

double lg_stats_quantile_sorted(const double *sorted, size_t n, double p)
{
    double h, fl;
    size_t i;

    if (n == 0 || isnan(p))
        return NAN;
    if (p <= 0.0)
        return sorted[0];
    if (p >= 1.0)
        return sorted[n - 1];
    h = (double)(n - 1) * p;
    fl = floor(h);
    i = (size_t)fl;
    if (i + 1 >= n)
        return sorted[n - 1];
    return sorted[i] + (h - fl) * (sorted[i + 1] - sorted[i]);
}

int lg_stats_bootstrap_rate(const uint32_t *k, const uint32_t *m, size_t nclusters,
                            double confidence, uint32_t replicates, uint64_t seed,
                            lg_interval *out, lg_err *err)
{
    lg_pcg32 rng;
    double *rates, tail;

    if (nclusters == 0)
        return LG_ERR(err, LG_EINPUT, "bootstrap: no cases to resample");
    if (nclusters > UINT32_MAX)
        return LG_ERR(err, LG_EINPUT, "bootstrap: %zu cases is more than it supports (%u)",
                      nclusters, UINT32_MAX);
    if (!(confidence > 0.0 && confidence < 1.0))
        return LG_ERR(err, LG_EINPUT, "bootstrap: confidence %g is not in (0, 1)", confidence);
    for (size_t i = 0; i < nclusters; i++) {
        if (m[i] == 0 || k[i] > m[i])
            return LG_ERR(err, LG_EINPUT,
                          "bootstrap: case %zu has %u successes of %u trials; need 1 <= trials "
                          "and successes <= trials",
                          i, k[i], m[i]);
    }
    if (replicates == 0)
        replicates = LG_STATS_BOOTSTRAP_REPLICATES;
    rates = malloc((size_t)replicates * sizeof *rates);
    if (!rates)
        return LG_ERR(err, LG_ENOMEM, "bootstrap: out of memory for %u replicates", replicates);
    lg_pcg32_srandom(&rng, seed, LG_STATS_BOOTSTRAP_STREAM);
    for (uint32_t r = 0; r < replicates; r++) {
        uint64_t sk = 0, sm = 0;
        for (size_t i = 0; i < nclusters; i++) {
            uint32_t j = lg_pcg32_boundedrand(&rng, (uint32_t)nclusters);
            sk += k[j];
            sm += m[j];
        }
        rates[r] = (double)sk / (double)sm;
    }
    lg_stats_sort(rates, replicates);
    tail = (1.0 - confidence) / 2.0;
    out->lower = lg_stats_quantile_sorted(rates, replicates, tail);
    out->upper = lg_stats_quantile_sorted(rates, replicates, 1.0 - tail);
    free(rates);
    return 0;
}

/* ---- pass@k, pass^k --------------------------------------------------- */

double lg_stats_pass_at_k(uint64_t n, uint64_t c, uint64_t k)
{
    double prod = 1.0;

    if (k == 0 || k > n || c > n)
        return NAN;
    if (n - c < k)
        return 1.0; /* every k-subset contains a success */
    for (uint64_t j = 0; j < k; j++)
        prod *= (double)(n - c - j) / (double)(n - j);
    return 1.0 - prod;
}

double lg_stats_pass_hat_k(uint64_t n, uint64_t c, uint64_t k)
{
    double prod = 1.0;

    if (k == 0 || k > n || c > n)
        return NAN;
    if (c < k)
        return 0.0;
    for (uint64_t j = 0; j < k; j++)
        prod *= (double)(c - j) / (double)(n - j);
    return prod;
}

/* ---- McNemar ---------------------------------------------------------- */

static double log_choose(uint64_t n, uint64_t k)
{
    int sign;
    return lgamma_r((double)n + 1.0, &sign) - lgamma_r((double)k + 1.0, &sign) -
           lgamma_r((double)(n - k) + 1.0, &sign);
}

double lg_stats_mcnemar_exact(uint64_t b, uint64_t c)
{
    uint64_t n = b + c, m = b < c ? b : c;
    double log_top, sum = 1.0, term = 1.0, logp;

    if (n == 0 || 2 * m == n)
        return 1.0; /* P(X <= n/2) >= 1/2, so 2P >= 1 */
    /* P(X <= m) = pmf(m) * (1 + pmf(m-1)/pmf(m) + ...): for m < n/2 the pmf
     * rises towards m, so every ratio i/(n-i+1) is < 1 and the sum is a
     * well-conditioned series of shrinking positive terms. */
    log_top = log_choose(n, m) - (double)n * M_LN2;
    for (uint64_t i = m; i >= 1; i--) {
        term *= (double)i / (double)(n - i + 1);
        sum += term;
        if (term < sum * 1e-18)
            break;
    }
    logp = M_LN2 + log_top + log(sum);
    return logp >= 0.0 ? 1.0 : exp(logp);
}

double lg_stats_discordance_independent(double p1, double p2)
{
    return p1 * (1.0 - p2) + p2 * (1.0 - p1);
}

int lg_stats_cases_needed(double p, double drop, double alpha, double power,
                          double discordance, uint64_t *out, lg_err *err)
{
    double psi, za, zb, n;

    if (!(p > 0.0 && p <= 1.0))
        return LG_ERR(err, LG_EINPUT, "sample size: baseline rate %g is not in (0, 1]", p);
    if (!(drop > 0.0 && drop <= p))
        return LG_ERR(err, LG_EINPUT,
                      "sample size: drop %g is not in (0, %g] (it cannot exceed the baseline rate)",
                      drop, p);
    if (!(alpha > 0.0 && alpha < 1.0))
        return LG_ERR(err, LG_EINPUT, "sample size: alpha %g is not in (0, 1)", alpha);
    if (!(power > 0.0 && power < 1.0))
        return LG_ERR(err, LG_EINPUT, "sample size: power %g is not in (0, 1)", power);
    psi = discordance > 0.0 ? discordance : lg_stats_discordance_independent(p, p - drop);
    /* p = 1 gives psi == drop in exact arithmetic; let rounding pass */
    if (psi < drop && psi > drop - 1e-12)
        psi = drop;
    if (psi < drop || psi > 1.0)
        return LG_ERR(err, LG_EINPUT,
                      "sample size: discordance %g is not in [%g, 1] (the share of cases that "
                      "flip is at least the drop it causes)",
                      psi, drop);
    za = lg_stats_z(1.0 - alpha);
    zb = lg_stats_norm_ppf(power);
    n = za * sqrt(psi) + zb * sqrt(psi - drop * drop);
    n = n * n / (drop * drop);
    /* 1e-9 keeps an exact integer from being pushed up by rounding */
    *out = n <= 1.0 ? 1 : (uint64_t)ceil(n - 1e-9);
    return 0;
}
