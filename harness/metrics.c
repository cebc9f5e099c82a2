#include "metrics.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONFIDENCE 0.95

/* calloc-style array allocation with an overflow check; n == 0 gives NULL. */
static void *alloc_array(size_t n, size_t size)
{
    if (n == 0 || n > SIZE_MAX / size)
        return NULL;
    return malloc(n * size);
}

/* Neumaier's compensated sum: thirty trials at $0.01 add up to 0.3, not
 * 0.30000000000000004, so a gate like `cost_usd <= 0.3` means what it says. */
typedef struct ksum {
    double sum, comp;
} ksum;

static void ksum_add(ksum *k, double x)
{
    double t = k->sum + x;
    if (fabs(k->sum) >= fabs(x))
        k->comp += (k->sum - t) + x;
    else
        k->comp += (x - t) + k->sum;
    k->sum = t;
}

static double ksum_value(const ksum *k)
{
    return k->sum + k->comp;
}

/* ---- grouping and checking ------------------------------------------- */

typedef struct trial_key {
    uint32_t case_index;
    uint32_t trial;
    bool converged;
} trial_key;

static int cmp_key(const void *a, const void *b)
{
    const trial_key *x = a, *y = b;
    if (x->case_index != y->case_index)
        return x->case_index < y->case_index ? -1 : 1;
    return (x->trial > y->trial) - (x->trial < y->trial);
}

static int check_outcome(const lg_outcome *o, lg_err *err)
{
    const char *where = "outcome of case";

    if ((int)o->reason < 0 || o->reason >= LG_TERM_COUNT)
        return LG_ERR(err, LG_EINPUT, "%s %u trial %u: termination reason %d is not a known reason",
                      where, o->case_index, o->trial, (int)o->reason);
    if (o->converged != (o->reason == LG_TERM_SUCCESS))
        return LG_ERR(err, LG_EINPUT,
                      "%s %u trial %u: converged is %s but the termination reason is '%s' (a "
                      "trial converges exactly when its reason is 'success')",
                      where, o->case_index, o->trial, o->converged ? "true" : "false",
                      lg_term_reason_name(o->reason));
    if (o->cost_known && !(o->cost_usd >= 0.0 && isfinite(o->cost_usd)))
        return LG_ERR(err, LG_EINPUT, "%s %u trial %u: cost_usd %g is not a finite number >= 0",
                      where, o->case_index, o->trial, o->cost_usd);
    if (!(o->wall_ms >= 0.0 && isfinite(o->wall_ms)))
        return LG_ERR(err, LG_EINPUT, "%s %u trial %u: wall_ms %g is not a finite number >= 0",
                      where, o->case_index, o->trial, o->wall_ms);
    if (o->n_call_latency > 0 && !o->call_latency_ms)
        return LG_ERR(err, LG_EINPUT, "%s %u trial %u: %zu call latencies but no array", where,
                      o->case_index, o->trial, o->n_call_latency);
    for (size_t i = 0; i < o->n_call_latency; i++) {
        if (!(o->call_latency_ms[i] >= 0.0 && isfinite(o->call_latency_ms[i])))
            return LG_ERR(err, LG_EINPUT,
                          "%s %u trial %u: latency of call %zu is %g, not a finite number >= 0",
                          where, o->case_index, o->trial, i, o->call_latency_ms[i]);
    }
    if (o->n_violations > 0 && !o->violations)
        return LG_ERR(err, LG_EINPUT, "%s %u trial %u: %zu violations but no array", where,
                      o->case_index, o->trial, o->n_violations);
    for (size_t i = 0; i < o->n_violations; i++) {
        if (!o->violations[i].name || !o->violations[i].name[0])
            return LG_ERR(err, LG_EINPUT, "%s %u trial %u: violation %zu has no invariant name",
                          where, o->case_index, o->trial, i);
    }
    return 0;
}

int lg_metrics_tally(const lg_outcome *o, size_t n, lg_case_tally **out, size_t *ncases,
                     lg_err *err)
{
    trial_key *keys;
    lg_case_tally *t;
    size_t nc = 0;
    int rc;

    *out = NULL;
    *ncases = 0;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_outcome(&o[i], err)))
            return rc;
    }
    keys = alloc_array(n, sizeof *keys);
    if (!keys)
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory grouping %zu outcomes", n);
    for (size_t i = 0; i < n; i++)
        keys[i] = (trial_key){o[i].case_index, o[i].trial, o[i].converged};
    qsort(keys, n, sizeof *keys, cmp_key);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && cmp_key(&keys[i - 1], &keys[i]) == 0) {
            rc = LG_ERR(err, LG_EINPUT,
                        "outcome of case %u trial %u: given twice (each trial must be counted "
                        "exactly once)",
                        keys[i].case_index, keys[i].trial);
            free(keys);
            return rc;
        }
        if (i == 0 || keys[i - 1].case_index != keys[i].case_index)
            nc++;
    }
    t = alloc_array(nc, sizeof *t);
    if (!t) {
        free(keys);
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory for %zu cases", nc);
    }
    nc = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || keys[i - 1].case_index != keys[i].case_index)
            t[nc++] = (lg_case_tally){keys[i].case_index, 0, 0};
        /* trials of one case are distinct uint32 values, so this cannot wrap
         * before 2^32 trials; check anyway */
        if (t[nc - 1].trials == UINT32_MAX) {
            rc = LG_ERR(err, LG_EINPUT, "case %u: more than %u trials", keys[i].case_index,
                        UINT32_MAX);
            free(keys);
            free(t);
            return rc;
        }
        t[nc - 1].trials++;
        t[nc - 1].converged += keys[i].converged;
    }
    free(keys);
    *out = t;
    *ncases = nc;
    return 0;
}

/* ---- per-case metrics ------------------------------------------------- */

void lg_metric_convergence(const lg_case_tally *t, size_t ncases, double confidence,
                           lg_rate *out)
{
    lg_cluster_sums s = LG_CLUSTER_SUMS_INIT;
    lg_cluster_interval ci;
    lg_interval naive;
    size_t trials = 0, conv = 0;

    for (size_t i = 0; i < ncases; i++) {
        lg_cluster_sums_add(&s, t[i].converged, t[i].trials);
        trials += t[i].trials;
        conv += t[i].converged;
    }
    ci = lg_stats_cluster_wilson(&s, confidence);
    naive = lg_stats_wilson((double)conv, (double)trials, confidence);
    out->trials = trials;
    out->converged = conv;
    out->value = trials ? (double)conv / (double)trials : NAN;
    out->confidence = confidence;
    out->lower = ci.lower;
    out->upper = ci.upper;
    out->n_eff = ci.n_eff;
    out->design_effect = ci.design_effect;
    out->naive_lower = naive.lower;
    out->naive_upper = naive.upper;
}

void lg_stability_release(lg_stability *s)
{
    if (!s)
        return;
    free(s->always);
    free(s->flaky);
    free(s->never);
    memset(s, 0, sizeof *s);
    s->min_case_rate = NAN;
}

int lg_metric_stability(const lg_case_tally *t, size_t ncases, lg_stability *out, lg_err *err)
{
    lg_stability s = {0};
    size_t na = 0, nf = 0, nn = 0;

    s.min_case_rate = NAN;
    for (size_t i = 0; i < ncases; i++) {
        if (t[i].trials == 0)
            continue;
        if (t[i].converged >= t[i].trials)
            na++;
        else if (t[i].converged == 0)
            nn++;
        else
            nf++;
    }
    s.always = na ? alloc_array(na, sizeof *s.always) : NULL;
    s.flaky = nf ? alloc_array(nf, sizeof *s.flaky) : NULL;
    s.never = nn ? alloc_array(nn, sizeof *s.never) : NULL;
    if ((na && !s.always) || (nf && !s.flaky) || (nn && !s.never)) {
        lg_stability_release(&s);
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory for case lists");
    }
    for (size_t i = 0; i < ncases; i++) {
        double rate;
        if (t[i].trials == 0)
            continue;
        if (t[i].converged >= t[i].trials)
            s.always[s.n_always++] = t[i].case_index;
        else if (t[i].converged == 0)
            s.never[s.n_never++] = t[i].case_index;
        else
            s.flaky[s.n_flaky++] = t[i].case_index;
        rate = (double)t[i].converged / (double)t[i].trials;
        if (isnan(s.min_case_rate) || rate < s.min_case_rate)
            s.min_case_rate = rate;
    }
    *out = s;
    return 0;
}

int lg_metric_pass_k(const lg_case_tally *t, size_t ncases, lg_pass_k **out, size_t *n,
                     lg_err *err)
{
    uint32_t kmax = 0;
    lg_pass_k *pk;

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < ncases; i++)
        if (t[i].trials > kmax)
            kmax = t[i].trials;
    if (kmax == 0)
        return 0;
    pk = alloc_array(kmax, sizeof *pk);
    if (!pk)
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory for pass@k up to k=%u", kmax);
    for (uint32_t k = 1; k <= kmax; k++) {
        double hat = 0.0, at = 0.0;
        size_t used = 0;
        for (size_t i = 0; i < ncases; i++) {
            if (t[i].trials < k)
                continue;
            hat += lg_stats_pass_hat_k(t[i].trials, t[i].converged, k);
            at += lg_stats_pass_at_k(t[i].trials, t[i].converged, k);
            used++;
        }
        pk[k - 1].k = k;
        pk[k - 1].cases = used;
        pk[k - 1].pass_hat_k = used ? hat / (double)used : NAN;
        pk[k - 1].pass_at_k = used ? at / (double)used : NAN;
    }
    *out = pk;
    *n = kmax;
    return 0;
}

/* ---- per-trial metrics ------------------------------------------------ */

void lg_dist_of(double *values, size_t n, lg_dist *out)
{
    ksum sum = {0.0, 0.0};

    if (n == 0) {
        *out = (lg_dist){0, NAN, NAN, NAN, NAN, NAN};
        return;
    }
    lg_stats_sort(values, n);
    for (size_t i = 0; i < n; i++)
        ksum_add(&sum, values[i]);
    out->n = n;
    out->mean = ksum_value(&sum) / (double)n;
    out->p50 = lg_stats_quantile_sorted(values, n, 0.50);
    out->p90 = lg_stats_quantile_sorted(values, n, 0.90);
    out->p95 = lg_stats_quantile_sorted(values, n, 0.95);
    out->max = values[n - 1];
}

int lg_metric_iterations(const lg_outcome *o, size_t n, lg_dist *out, lg_err *err)
{
    size_t nc = 0;
    double *v;

    for (size_t i = 0; i < n; i++)
        nc += o[i].converged;
    if (nc == 0) {
        lg_dist_of(NULL, 0, out);
        return 0;
    }
    v = alloc_array(nc, sizeof *v);
    if (!v)
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory for %zu iteration counts", nc);
    nc = 0;
    for (size_t i = 0; i < n; i++)
        if (o[i].converged)
            v[nc++] = (double)o[i].iterations;
    lg_dist_of(v, nc, out);
    free(v);
    return 0;
}

void lg_curve_release(lg_curve *c)
{
    if (!c)
        return;
    free(c->points);
    memset(c, 0, sizeof *c);
}

typedef struct conv_trial {
    uint32_t iter; /* clamped to >= 1 */
    size_t slot;   /* index of its case in the tally */
} conv_trial;

static int cmp_conv(const void *a, const void *b)
{
    const conv_trial *x = a, *y = b;
    return (x->iter > y->iter) - (x->iter < y->iter);
}

static size_t find_case(const lg_case_tally *t, size_t nc, uint32_t case_index)
{
    size_t lo = 0, hi = nc;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid].case_index < case_index)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int lg_metric_curve(const lg_outcome *o, size_t n, double confidence, lg_curve *out, lg_err *err)
{
    lg_case_tally *t = NULL;
    uint32_t *count = NULL; /* converged so far per case */
    conv_trial *ct = NULL;
    lg_curve c = {0};
    lg_cluster_sums s = LG_CLUSTER_SUMS_INIT;
    size_t nc = 0, nconv = 0, j = 0;
    uint32_t imax;
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = lg_metrics_tally(o, n, &t, &nc, err)))
        return rc;
    for (size_t i = 0; i < n; i++)
        nconv += o[i].converged;
    if (nconv == 0) {
        free(t);
        return 0;
    }
    ct = alloc_array(nconv, sizeof *ct);
    count = calloc(nc, sizeof *count);
    if (!ct || !count) {
        rc = LG_ERR(err, LG_ENOMEM, "metrics: out of memory for the convergence curve");
        goto out_free;
    }
    nconv = 0;
    for (size_t i = 0; i < n; i++) {
        if (!o[i].converged)
            continue;
        ct[nconv].iter = o[i].iterations ? o[i].iterations : 1;
        ct[nconv].slot = find_case(t, nc, o[i].case_index);
        nconv++;
    }
    qsort(ct, nconv, sizeof *ct, cmp_conv);
    imax = ct[nconv - 1].iter;
    if (imax > LG_METRICS_CURVE_MAX) {
        imax = LG_METRICS_CURVE_MAX;
        c.truncated = true;
    }
    c.points = alloc_array(imax, sizeof *c.points);
    if (!c.points) {
        rc = LG_ERR(err, LG_ENOMEM, "metrics: out of memory for %u curve points", imax);
        goto out_free;
    }
    /* Start with nothing converged and add trials as i passes their
     * iteration count, keeping the cluster sums current:
     * (c+1)^2 = c^2 + 2c + 1 and (c+1)m = cm + m. */
    for (size_t i = 0; i < nc; i++)
        lg_cluster_sums_add(&s, 0, t[i].trials);
    for (uint32_t i = 1; i <= imax; i++) {
        lg_cluster_interval ci;
        for (; j < nconv && ct[j].iter <= i; j++) {
            size_t sl = ct[j].slot;
            s.k += 1.0;
            s.k2 += 2.0 * count[sl] + 1.0;
            s.km += t[sl].trials;
            count[sl]++;
        }
        ci = lg_stats_cluster_wilson(&s, confidence);
        c.points[i - 1] = (lg_curve_point){i, ci.rate, ci.lower, ci.upper};
    }
    c.n_points = imax;
    *out = c;
    c.points = NULL;
    rc = 0;
out_free:
    free(c.points);
    free(ct);
    free(count);
    free(t);
    return rc;
}

void lg_invariants_release(lg_invariants *inv)
{
    if (!inv)
        return;
    for (size_t i = 0; i < inv->n_per_invariant; i++)
        free(inv->per_invariant[i].name);
    free(inv->per_invariant);
    memset(inv, 0, sizeof *inv);
    inv->violation_rate = NAN;
}

typedef struct viol_ref {
    const char *name;
    size_t trial; /* index of the outcome */
    uint32_t count;
} viol_ref;

static int cmp_viol(const void *a, const void *b)
{
    const viol_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->trial > y->trial) - (x->trial < y->trial);
}

int lg_metric_invariants(const lg_outcome *o, size_t n, lg_invariants *out, lg_err *err)
{
    lg_invariants inv = {0};
    viol_ref *refs = NULL;
    size_t nrefs = 0, ndistinct = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        bool any = false;
        for (size_t v = 0; v < o[i].n_violations; v++) {
            if (o[i].violations[v].count > 0) {
                nrefs++;
                any = true;
            }
        }
        inv.trials_with_violation += any;
    }
    inv.violation_rate = n ? (double)inv.trials_with_violation / (double)n : NAN;
    if (nrefs == 0) {
        *out = inv;
        return 0;
    }
    refs = alloc_array(nrefs, sizeof *refs);
    if (!refs)
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory for %zu violations", nrefs);
    nrefs = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t v = 0; v < o[i].n_violations; v++)
            if (o[i].violations[v].count > 0)
                refs[nrefs++] = (viol_ref){o[i].violations[v].name, i, o[i].violations[v].count};
    qsort(refs, nrefs, sizeof *refs, cmp_viol);
    for (size_t r = 0; r < nrefs; r++)
        if (r == 0 || strcmp(refs[r - 1].name, refs[r].name) != 0)
            ndistinct++;
    inv.per_invariant = calloc(ndistinct, sizeof *inv.per_invariant);
    if (!inv.per_invariant) {
        rc = LG_ERR(err, LG_ENOMEM, "metrics: out of memory for %zu invariants", ndistinct);
        goto out_free;
    }
    for (size_t r = 0; r < nrefs; r++) {
        lg_invariant_count *ic;
        if (r == 0 || strcmp(refs[r - 1].name, refs[r].name) != 0) {
            ic = &inv.per_invariant[inv.n_per_invariant++];
            ic->name = strdup(refs[r].name);
            if (!ic->name) {
                rc = LG_ERR(err, LG_ENOMEM, "metrics: out of memory for invariant names");
                goto out_free;
            }
        }
        ic = &inv.per_invariant[inv.n_per_invariant - 1];
        ic->count += refs[r].count;
        /* the same invariant listed twice for one trial is one trial */
        if (r == 0 || cmp_viol(&refs[r - 1], &refs[r]) != 0)
            ic->trials++;
    }
    free(refs);
    *out = inv;
    return 0;
out_free:
    free(refs);
    lg_invariants_release(&inv);
    return rc;
}

void lg_metric_termination(const lg_outcome *o, size_t n, size_t counts[LG_TERM_COUNT])
{
    for (int r = 0; r < LG_TERM_COUNT; r++)
        counts[r] = 0;
    for (size_t i = 0; i < n; i++)
        if ((int)o[i].reason >= 0 && o[i].reason < LG_TERM_COUNT)
            counts[o[i].reason]++;
}

void lg_metric_tokens(const lg_outcome *o, size_t n, lg_tokens *out)
{
    lg_tokens t = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        t.in += o[i].tokens_in;
        t.out += o[i].tokens_out;
        t.cached += o[i].tokens_cached;
    }
    t.total = t.in + t.out;
    *out = t;
}

void lg_metric_cost(const lg_outcome *o, size_t n, lg_cost *out)
{
    lg_cost c = {0.0, 0, NAN, NAN};
    ksum known = {0.0, 0.0};
    size_t conv = 0;

    for (size_t i = 0; i < n; i++) {
        if (o[i].cost_known)
            ksum_add(&known, o[i].cost_usd);
        else
            c.unknown_trials++;
        conv += o[i].converged;
    }
    c.known_usd = ksum_value(&known);
    if (c.unknown_trials == 0) {
        c.total_usd = c.known_usd;
        if (conv > 0)
            c.per_convergence_usd = c.total_usd / (double)conv;
    }
    *out = c;
}

int lg_metric_latency(const lg_outcome *o, size_t n, lg_latency *out, lg_err *err)
{
    size_t ncalls = 0;
    double *v;

    for (size_t i = 0; i < n; i++)
        ncalls += o[i].n_call_latency;
    v = alloc_array(ncalls > n ? ncalls : n, sizeof *v);
    if (!v && (ncalls || n))
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory for %zu latencies", ncalls);
    ncalls = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < o[i].n_call_latency; c++)
            v[ncalls++] = o[i].call_latency_ms[c];
    lg_dist_of(v, ncalls, &out->call_ms);
    for (size_t i = 0; i < n; i++)
        v[i] = o[i].wall_ms;
    lg_dist_of(v, n, &out->trial_ms);
    free(v);
    return 0;
}

/* ---- the whole run ---------------------------------------------------- */

void lg_metrics_free(lg_metrics *m)
{
    if (!m)
        return;
    free(m->per_case);
    lg_stability_release(&m->stability);
    free(m->pass_k);
    lg_curve_release(&m->curve);
    lg_invariants_release(&m->invariants);
    free(m);
}

/* Everything that depends only on the case tallies (shared with from_json). */
static int from_tallies(lg_metrics *m, lg_err *err)
{
    int rc;

    m->trials = 0;
    m->max_trials = 0;
    for (size_t i = 0; i < m->cases; i++) {
        m->trials += m->per_case[i].trials;
        if (m->per_case[i].trials > m->max_trials)
            m->max_trials = m->per_case[i].trials;
    }
    lg_metric_convergence(m->per_case, m->cases, m->confidence, &m->convergence);
    if ((rc = lg_metric_stability(m->per_case, m->cases, &m->stability, err)))
        return rc;
    return lg_metric_pass_k(m->per_case, m->cases, &m->pass_k, &m->n_pass_k, err);
}

static lg_metrics *metrics_new(double confidence)
{
    lg_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->confidence = confidence;
    m->stability.min_case_rate = NAN;
    m->invariants.violation_rate = NAN;
    lg_dist_of(NULL, 0, &m->iterations);
    lg_dist_of(NULL, 0, &m->latency.call_ms);
    lg_dist_of(NULL, 0, &m->latency.trial_ms);
    m->cost = (lg_cost){0.0, 0, 0.0, NAN};
    return m;
}

int lg_metrics_compute(const lg_outcome *o, size_t n, const lg_metrics_opts *opts,
                       lg_metrics **out, lg_err *err)
{
    double conf = opts && opts->confidence != 0.0 ? opts->confidence : DEFAULT_CONFIDENCE;
    lg_metrics *m;
    int rc;

    if (!(conf > 0.0 && conf < 1.0))
        return LG_ERR(err, LG_EINPUT, "metrics: confidence %g is not in (0, 1)", conf);
    m = metrics_new(conf);
    if (!m)
        return LG_ERR(err, LG_ENOMEM, "metrics: out of memory");
    if ((rc = lg_metrics_tally(o, n, &m->per_case, &m->cases, err)))
        goto out_free;
    if ((rc = from_tallies(m, err)))
        goto out_free;
    if ((rc = lg_metric_iterations(o, n, &m->iterations, err)))
        goto out_free;
    if ((rc = lg_metric_curve(o, n, conf, &m->curve, err)))
        goto out_free;
    if ((rc = lg_metric_invariants(o, n, &m->invariants, err)))
        goto out_free;
    lg_metric_termination(o, n, m->termination);
    lg_metric_tokens(o, n, &m->tokens);
    lg_metric_cost(o, n, &m->cost);
    if ((rc = lg_metric_latency(o, n, &m->latency, err)))
        goto out_free;
    *out = m;
    return 0;
out_free:
    lg_metrics_free(m);
    return rc;
}

/* ---- JSON out --------------------------------------------------------- */

/* Steals `v`; remembers the first failure in *ok. */
static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new(obj, key, v) != 0)
        *ok = false;
}

static void append(json_t *arr, json_t *v, bool *ok)
{
    if (!v || json_array_append_new(arr, v) != 0)
        *ok = false;
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

/* json_int_t is long long; counts never come near 2^63, but clamp anyway. */
static json_t *jint(uint64_t x)
{
    return json_integer(x > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)x);
}

static json_t *jdist(const lg_dist *d, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "n", jint(d->n), ok);
    put(o, "mean", jnum(d->mean), ok);
    put(o, "p50", jnum(d->p50), ok);
    put(o, "p90", jnum(d->p90), ok);
    put(o, "p95", jnum(d->p95), ok);
    put(o, "max", jnum(d->max), ok);
    return o;
}

static json_t *jcases(const uint32_t *v, size_t n, bool *ok)
{
    json_t *a = json_array();
    if (!a) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        append(a, json_integer(v[i]), ok);
    return a;
}

json_t *lg_metrics_to_json(const lg_metrics *m, lg_err *err)
{
    bool ok = true;
    json_t *j = json_object(), *o, *a;

    if (!j)
        goto oom;
    put(j, "schema", json_integer(LG_METRICS_SCHEMA), &ok);
    put(j, "confidence", jnum(m->confidence), &ok);
    put(j, "trials", jint(m->trials), &ok);
    put(j, "cases", jint(m->cases), &ok);
    put(j, "max_trials", jint(m->max_trials), &ok);

    if ((o = json_object())) {
        put(o, "value", jnum(m->convergence.value), &ok);
        put(o, "converged", jint(m->convergence.converged), &ok);
        put(o, "method", json_string("wilson-design-effect"), &ok);
        put(o, "lower", jnum(m->convergence.lower), &ok);
        put(o, "upper", jnum(m->convergence.upper), &ok);
        put(o, "n_eff", jnum(m->convergence.n_eff), &ok);
        put(o, "design_effect", jnum(m->convergence.design_effect), &ok);
        put(o, "naive_lower", jnum(m->convergence.naive_lower), &ok);
        put(o, "naive_upper", jnum(m->convergence.naive_upper), &ok);
    }
    put(j, "convergence_rate", o, &ok);

    if ((o = json_object())) {
        put(o, "always_converged", jcases(m->stability.always, m->stability.n_always, &ok), &ok);
        put(o, "flaky", jcases(m->stability.flaky, m->stability.n_flaky, &ok), &ok);
        put(o, "never_converged", jcases(m->stability.never, m->stability.n_never, &ok), &ok);
        put(o, "min_case_rate", jnum(m->stability.min_case_rate), &ok);
    }
    put(j, "stability", o, &ok);

    if ((a = json_array())) {
        for (size_t i = 0; i < m->n_pass_k; i++) {
            json_t *p = json_object();
            if (p) {
                put(p, "k", jint(m->pass_k[i].k), &ok);
                put(p, "pass_hat_k", jnum(m->pass_k[i].pass_hat_k), &ok);
                put(p, "pass_at_k", jnum(m->pass_k[i].pass_at_k), &ok);
                put(p, "cases", jint(m->pass_k[i].cases), &ok);
            }
            append(a, p, &ok);
        }
    }
    put(j, "pass_k", a, &ok);

    put(j, "iterations", jdist(&m->iterations, &ok), &ok);

    if ((o = json_object())) {
        put(o, "truncated", json_boolean(m->curve.truncated), &ok);
        if ((a = json_array())) {
            for (size_t i = 0; i < m->curve.n_points; i++) {
                const lg_curve_point *cp = &m->curve.points[i];
                json_t *p = json_object();
                if (p) {
                    put(p, "i", jint(cp->i), &ok);
                    put(p, "p", jnum(cp->p), &ok);
                    put(p, "lower", jnum(cp->lower), &ok);
                    put(p, "upper", jnum(cp->upper), &ok);
                }
                append(a, p, &ok);
            }
        }
        put(o, "points", a, &ok);
    }
    put(j, "curve", o, &ok);

    if ((o = json_object())) {
        put(o, "violation_rate", jnum(m->invariants.violation_rate), &ok);
        put(o, "trials_with_violation", jint(m->invariants.trials_with_violation), &ok);
        if ((a = json_array())) {
            for (size_t i = 0; i < m->invariants.n_per_invariant; i++) {
                const lg_invariant_count *ic = &m->invariants.per_invariant[i];
                json_t *p = json_object();
                if (p) {
                    put(p, "name", json_string(ic->name), &ok);
                    put(p, "count", jint(ic->count), &ok);
                    put(p, "trials", jint(ic->trials), &ok);
                }
                append(a, p, &ok);
            }
        }
        put(o, "per_invariant", a, &ok);
    }
    put(j, "invariants", o, &ok);

    if ((o = json_object())) {
        for (int r = 0; r < LG_TERM_COUNT; r++)
            put(o, lg_term_reason_names[r], jint(m->termination[r]), &ok);
    }
    put(j, "termination", o, &ok);

    if ((o = json_object())) {
        put(o, "in", jint(m->tokens.in), &ok);
        put(o, "out", jint(m->tokens.out), &ok);
        put(o, "cached", jint(m->tokens.cached), &ok);
        put(o, "total", jint(m->tokens.total), &ok);
    }
    put(j, "tokens", o, &ok);

    if ((o = json_object())) {
        put(o, "known_usd", jnum(m->cost.known_usd), &ok);
        put(o, "unknown_trials", jint(m->cost.unknown_trials), &ok);
        put(o, "total_usd", jnum(m->cost.total_usd), &ok);
        put(o, "per_convergence_usd", jnum(m->cost.per_convergence_usd), &ok);
    }
    put(j, "cost", o, &ok);

    if ((o = json_object())) {
        put(o, "call_ms", jdist(&m->latency.call_ms, &ok), &ok);
        put(o, "trial_ms", jdist(&m->latency.trial_ms, &ok), &ok);
    }
    put(j, "latency", o, &ok);

    if ((a = json_array())) {
        for (size_t i = 0; i < m->cases; i++) {
            const lg_case_tally *t = &m->per_case[i];
            append(a, json_pack("[III]", (json_int_t)t->case_index, (json_int_t)t->trials,
                                (json_int_t)t->converged), &ok);
        }
    }
    put(j, "per_case", a, &ok);

    if (ok)
        return j;
oom:
    json_decref(j);
    LG_ERR(err, LG_ENOMEM, "metrics: out of memory building JSON");
    return NULL;
}

/* ---- JSON in ---------------------------------------------------------- */

typedef struct reader {
    const char *name;
    lg_err *err;
    int rc;
} reader;

static const json_t *rd_get(reader *r, const json_t *obj, const char *parent, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    if (!v && !r->rc)
        r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: missing '%s%s%s'", r->name,
                       parent ? parent : "", parent ? "." : "", key);
    return v;
}

static const json_t *rd_obj(reader *r, const json_t *obj, const char *parent, const char *key)
{
    const json_t *v = rd_get(r, obj, parent, key);
    if (v && !json_is_object(v) && !r->rc)
        r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: '%s%s%s' is not an object", r->name,
                       parent ? parent : "", parent ? "." : "", key);
    return json_is_object(v) ? v : NULL;
}

static const json_t *rd_arr(reader *r, const json_t *obj, const char *parent, const char *key)
{
    const json_t *v = rd_get(r, obj, parent, key);
    if (v && !json_is_array(v) && !r->rc)
        r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: '%s%s%s' is not an array", r->name,
                       parent ? parent : "", parent ? "." : "", key);
    return json_is_array(v) ? v : NULL;
}

/* A number, or null for NaN. */
static double rd_num(reader *r, const json_t *obj, const char *parent, const char *key)
{
    const json_t *v = obj ? rd_get(r, obj, parent, key) : NULL;
    if (json_is_number(v))
        return json_number_value(v);
    if (json_is_null(v))
        return NAN;
    if (v && !r->rc)
        r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: '%s%s%s' is not a number or null",
                       r->name, parent ? parent : "", parent ? "." : "", key);
    return NAN;
}

static uint64_t rd_uint(reader *r, const json_t *obj, const char *parent, const char *key)
{
    const json_t *v = obj ? rd_get(r, obj, parent, key) : NULL;
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return (uint64_t)json_integer_value(v);
    if (v && !r->rc)
        r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: '%s%s%s' is not an integer >= 0",
                       r->name, parent ? parent : "", parent ? "." : "", key);
    return 0;
}

static void rd_dist(reader *r, const json_t *obj, const char *path, lg_dist *d)
{
    if (!obj)
        return;
    d->n = rd_uint(r, obj, path, "n");
    d->mean = rd_num(r, obj, path, "mean");
    d->p50 = rd_num(r, obj, path, "p50");
    d->p90 = rd_num(r, obj, path, "p90");
    d->p95 = rd_num(r, obj, path, "p95");
    d->max = rd_num(r, obj, path, "max");
}

static void rd_per_case(reader *r, const json_t *arr, lg_metrics *m)
{
    size_t n = arr ? json_array_size(arr) : 0;

    if (n == 0 || r->rc)
        return;
    m->per_case = alloc_array(n, sizeof *m->per_case);
    if (!m->per_case) {
        r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: metrics: out of memory for %zu cases", r->name, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_int_t ci, tr, cv;
        if (json_unpack(json_array_get(arr, i), "[III]", &ci, &tr, &cv) != 0 || ci < 0 ||
            ci > UINT32_MAX || tr < 1 || tr > UINT32_MAX || cv < 0 || cv > tr ||
            (i > 0 && (json_int_t)m->per_case[i - 1].case_index >= ci)) {
            r->rc = LG_ERR(r->err, LG_EINPUT,
                           "%s: metrics: per_case[%zu] is not [case, trials, converged] with "
                           "0 <= converged <= trials, trials >= 1 and cases ascending",
                           r->name, i);
            return;
        }
        m->per_case[i] = (lg_case_tally){(uint32_t)ci, (uint32_t)tr, (uint32_t)cv};
        m->cases = i + 1;
    }
}

static void rd_curve(reader *r, const json_t *obj, lg_metrics *m)
{
    const json_t *pts = obj ? rd_arr(r, obj, "curve", "points") : NULL;
    size_t n = pts ? json_array_size(pts) : 0;
    const json_t *t;

    if (r->rc)
        return;
    t = rd_get(r, obj, "curve", "truncated");
    if (t && !json_is_boolean(t) && !r->rc)
        r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: 'curve.truncated' is not a boolean",
                       r->name);
    m->curve.truncated = json_is_true(t);
    if (n == 0 || r->rc)
        return;
    m->curve.points = alloc_array(n, sizeof *m->curve.points);
    if (!m->curve.points) {
        r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: metrics: out of memory for the curve", r->name);
        return;
    }
    for (size_t i = 0; i < n && !r->rc; i++) {
        const json_t *p = json_array_get(pts, i);
        lg_curve_point *cp = &m->curve.points[i];
        if (!json_is_object(p)) {
            r->rc = LG_ERR(r->err, LG_EINPUT, "%s: metrics: curve.points[%zu] is not an object",
                           r->name, i);
            break;
        }
        cp->i = (uint32_t)rd_uint(r, p, "curve.points[]", "i");
        cp->p = rd_num(r, p, "curve.points[]", "p");
        cp->lower = rd_num(r, p, "curve.points[]", "lower");
        cp->upper = rd_num(r, p, "curve.points[]", "upper");
        m->curve.n_points = i + 1;
    }
}

static void rd_invariants(reader *r, const json_t *obj, lg_metrics *m)
{
    const json_t *arr;
    size_t n;

    if (!obj)
        return;
    m->invariants.violation_rate = rd_num(r, obj, "invariants", "violation_rate");
    m->invariants.trials_with_violation = rd_uint(r, obj, "invariants", "trials_with_violation");
    arr = rd_arr(r, obj, "invariants", "per_invariant");
    n = arr ? json_array_size(arr) : 0;
    if (n == 0 || r->rc)
        return;
    m->invariants.per_invariant = calloc(n, sizeof *m->invariants.per_invariant);
    if (!m->invariants.per_invariant) {
        r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: metrics: out of memory for invariants", r->name);
        return;
    }
    for (size_t i = 0; i < n && !r->rc; i++) {
        const json_t *p = json_array_get(arr, i);
        lg_invariant_count *ic = &m->invariants.per_invariant[i];
        const char *name = json_string_value(json_object_get(p, "name"));
        if (!name || !name[0]) {
            r->rc = LG_ERR(r->err, LG_EINPUT,
                           "%s: metrics: invariants.per_invariant[%zu].name is not a non-empty "
                           "string",
                           r->name, i);
            break;
        }
        ic->name = strdup(name);
        if (!ic->name) {
            r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: metrics: out of memory", r->name);
            break;
        }
        m->invariants.n_per_invariant = i + 1;
        ic->count = rd_uint(r, p, "invariants.per_invariant[]", "count");
        ic->trials = rd_uint(r, p, "invariants.per_invariant[]", "trials");
    }
}

int lg_metrics_from_json(const json_t *j, const char *name, lg_metrics **out, lg_err *err)
{
    reader r = {name ? name : "<metrics>", err, 0};
    const json_t *o;
    lg_metrics *m;
    json_int_t schema;

    if (!json_is_object(j))
        return LG_ERR(err, LG_EINPUT, "%s: metrics: expected a JSON object", r.name);
    o = json_object_get(j, "schema");
    if (!json_is_integer(o))
        return LG_ERR(err, LG_EINPUT, "%s: metrics: missing 'schema' (an integer)", r.name);
    schema = json_integer_value(o);
    if (schema > LG_METRICS_SCHEMA)
        return LG_ERR(err, LG_EFORMAT,
                      "%s: metrics schema %lld is newer than this loopgate (reads up to %d); "
                      "upgrade loopgate",
                      r.name, (long long)schema, LG_METRICS_SCHEMA);
    if (schema < 1)
        return LG_ERR(err, LG_EINPUT, "%s: metrics: schema %lld is not a valid version", r.name,
                      (long long)schema);
    m = metrics_new(DEFAULT_CONFIDENCE);
    if (!m)
        return LG_ERR(err, LG_ENOMEM, "%s: metrics: out of memory", r.name);

    m->confidence = rd_num(&r, j, NULL, "confidence");
    if (!r.rc && !(m->confidence > 0.0 && m->confidence < 1.0))
        r.rc = LG_ERR(err, LG_EINPUT, "%s: metrics: 'confidence' is not in (0, 1)", r.name);
    rd_per_case(&r, rd_arr(&r, j, NULL, "per_case"), m);
    if (!r.rc)
        r.rc = from_tallies(m, err);
    if (!r.rc && rd_uint(&r, j, NULL, "trials") != m->trials && !r.rc)
        r.rc = LG_ERR(err, LG_EINPUT,
                      "%s: metrics: 'trials' does not match the sum of per_case trials (%zu)",
                      r.name, m->trials);

    rd_dist(&r, rd_obj(&r, j, NULL, "iterations"), "iterations", &m->iterations);
    rd_curve(&r, rd_obj(&r, j, NULL, "curve"), m);
    rd_invariants(&r, rd_obj(&r, j, NULL, "invariants"), m);
    if ((o = rd_obj(&r, j, NULL, "termination"))) {
        for (int t = 0; t < LG_TERM_COUNT; t++)
            m->termination[t] = rd_uint(&r, o, "termination", lg_term_reason_names[t]);
    }
    if ((o = rd_obj(&r, j, NULL, "tokens"))) {
        m->tokens.in = rd_uint(&r, o, "tokens", "in");
        m->tokens.out = rd_uint(&r, o, "tokens", "out");
        m->tokens.cached = rd_uint(&r, o, "tokens", "cached");
        m->tokens.total = rd_uint(&r, o, "tokens", "total");
    }
    if ((o = rd_obj(&r, j, NULL, "cost"))) {
        m->cost.known_usd = rd_num(&r, o, "cost", "known_usd");
        m->cost.unknown_trials = rd_uint(&r, o, "cost", "unknown_trials");
        m->cost.total_usd = rd_num(&r, o, "cost", "total_usd");
        m->cost.per_convergence_usd = rd_num(&r, o, "cost", "per_convergence_usd");
    }
    if ((o = rd_obj(&r, j, NULL, "latency"))) {
        rd_dist(&r, rd_obj(&r, o, "latency", "call_ms"), "latency.call_ms", &m->latency.call_ms);
        rd_dist(&r, rd_obj(&r, o, "latency", "trial_ms"), "latency.trial_ms",
                &m->latency.trial_ms);
    }
    if (r.rc) {
        lg_metrics_free(m);
        return r.rc;
    }
    *out = m;
    return 0;
}
