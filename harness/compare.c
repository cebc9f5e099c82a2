#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats.h"

static const char *const rule_names[] = {"majority", "all", "any"};

const char *lg_case_rule_name(lg_case_rule rule)
{
    if ((int)rule < 0 || (int)rule > LG_CASE_ANY)
        return "unknown";
    return rule_names[rule];
}

bool lg_case_rule_from_name(const char *name, lg_case_rule *out)
{
    for (int i = 0; name && i <= LG_CASE_ANY; i++) {
        if (strcmp(name, rule_names[i]) == 0) {
            *out = (lg_case_rule)i;
            return true;
        }
    }
    return false;
}

bool lg_case_passes(const lg_case_tally *t, lg_case_rule rule)
{
    if (t->trials == 0)
        return false;
    switch (rule) {
    case LG_CASE_ALL:
        return t->converged >= t->trials;
    case LG_CASE_ANY:
        return t->converged > 0;
    case LG_CASE_MAJORITY:
    default:
        return 2 * (uint64_t)t->converged > t->trials;
    }
}

const char *lg_verdict_name(lg_verdict v)
{
    switch (v) {
    case LG_VERDICT_IMPROVED:
        return "improved";
    case LG_VERDICT_REGRESSED:
        return "regressed";
    case LG_VERDICT_NO_CHANGE:
    default:
        return "no significant change";
    }
}

void lg_compare_release(lg_compare *c)
{
    if (!c)
        return;
    free(c->regressed);
    free(c->improved);
    c->regressed = NULL;
    c->improved = NULL;
}

static int check_sorted(const lg_case_tally *t, size_t n, const char *which, lg_err *err)
{
    for (size_t i = 1; i < n; i++) {
        if (t[i - 1].case_index >= t[i].case_index)
            return LG_ERR(err, LG_EINPUT,
                          "compare: %s cases are not in ascending order without duplicates "
                          "(case %u after case %u)",
                          which, t[i].case_index, t[i - 1].case_index);
    }
    return 0;
}

int lg_compare_cases(const lg_case_tally *base, size_t nbase, const lg_case_tally *cand,
                     size_t ncand, lg_case_rule rule, double alpha, lg_compare *out,
                     lg_err *err)
{
    lg_compare c;
    size_t i = 0, j = 0, nb_pass = 0, nc_pass = 0;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&c, 0, sizeof c);
    if (!(alpha > 0.0 && alpha < 1.0))
        return LG_ERR(err, LG_EINPUT, "compare: alpha %g is not in (0, 1)", alpha);
    if ((int)rule < 0 || (int)rule > LG_CASE_ANY)
        return LG_ERR(err, LG_EINPUT, "compare: case rule %d is not a known rule", (int)rule);
    if ((rc = check_sorted(base, nbase, "baseline", err)) ||
        (rc = check_sorted(cand, ncand, "candidate", err)))
        return rc;
    c.alpha = alpha;
    c.rule = rule;
    /* first pass: count, so the case lists are allocated once */
    while (i < nbase && j < ncand) {
        if (base[i].case_index < cand[j].case_index) {
            c.base_only++;
            i++;
        } else if (base[i].case_index > cand[j].case_index) {
            c.cand_only++;
            j++;
        } else {
            bool bp = lg_case_passes(&base[i], rule), cp = lg_case_passes(&cand[j], rule);
            c.shared++;
            nb_pass += bp;
            nc_pass += cp;
            if (bp && cp)
                c.both_pass++;
            else if (!bp && !cp)
                c.both_fail++;
            else if (bp)
                c.b++;
            else
                c.c++;
            i++;
            j++;
        }
    }
    c.base_only += nbase - i;
    c.cand_only += ncand - j;
    if ((c.b && !(c.regressed = malloc(c.b * sizeof *c.regressed))) ||
        (c.c && !(c.improved = malloc(c.c * sizeof *c.improved)))) {
        lg_compare_release(&c);
        return LG_ERR(err, LG_ENOMEM, "compare: out of memory for the flipped cases");
    }
    for (size_t nb = 0, nc = 0, x = 0, y = 0; x < nbase && y < ncand;) {
        if (base[x].case_index < cand[y].case_index) {
            x++;
        } else if (base[x].case_index > cand[y].case_index) {
            y++;
        } else {
            bool bp = lg_case_passes(&base[x], rule), cp = lg_case_passes(&cand[y], rule);
            if (bp && !cp)
                c.regressed[nb++] = base[x].case_index;
            else if (!bp && cp)
                c.improved[nc++] = base[x].case_index;
            x++;
            y++;
        }
    }
    c.base_rate = c.shared ? (double)nb_pass / (double)c.shared : NAN;
    c.cand_rate = c.shared ? (double)nc_pass / (double)c.shared : NAN;
    c.p_value = lg_stats_mcnemar_exact(c.b, c.c);
    if (c.p_value < alpha && c.b > c.c)
        c.verdict = LG_VERDICT_REGRESSED;
    else if (c.p_value < alpha && c.c > c.b)
        c.verdict = LG_VERDICT_IMPROVED;
    else
        c.verdict = LG_VERDICT_NO_CHANGE;
    *out = c;
    return 0;
}

int lg_compare_power_note(const lg_compare *c, double drop, lg_buf *out, lg_err *err)
{
    uint64_t need = 0;
    int rc;

    if (!(drop > 0.0 && drop < 1.0))
        return LG_ERR(err, LG_EINPUT, "power note: drop %g is not in (0, 1)", drop);
    if (isnan(c->base_rate)) {
        rc = lg_buf_append_str(out, "No case is in both runs, so no drop can be detected.");
        goto out;
    }
    if (!(c->base_rate > 0.0) || drop > c->base_rate) {
        rc = lg_buf_appendf(out,
                            "The baseline passes %.3g of the shared cases, so a drop of %g "
                            "cannot be detected.",
                            c->base_rate, drop);
        goto out;
    }
    if ((rc = lg_stats_cases_needed(c->base_rate, drop, c->alpha, 0.8, 0.0, &need, err)))
        return rc;
    rc = lg_buf_appendf(out,
                        "Detecting a drop of %g from %.3g (alpha %g, power 0.8) needs about "
                        "%llu shared cases; this comparison has %zu.",
                        drop, c->base_rate, c->alpha, (unsigned long long)need, c->shared);
out:
    if (rc)
        return LG_ERR(err, rc, "power note: cannot append to the output buffer");
    return 0;
}
