/*
 * harness/compare.h - baseline versus candidate on the same cases: the
 * paired exact McNemar test, the verdict and the cases that flipped. Used
 * by the `no_regression` gate (harness/gate.h) and by `loopgate compare`
 * and the compare reports. docs/metrics.md ("Comparing runs") defines it.
 *
 * Each case of each run is reduced to one pass/fail by a case rule (by
 * default: converged in more than half of its trials); cases present in
 * both runs form the pairs. Pairing trial t of one run with trial t of the
 * other is deliberately not offered: trials of a case are correlated, and
 * treating them as independent pairs overstates significance the same way
 * a naive interval understates uncertainty.
 *
 * Thread-safety: no globals; a filled lg_compare is read-only data.
 */
#ifndef LG_COMPARE_H
#define LG_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/metrics.h"

/* How a case with several trials becomes one pass/fail. */
typedef enum lg_case_rule {
    LG_CASE_MAJORITY = 0, /* "majority": converged in more than half its trials (2c > n) */
    LG_CASE_ALL,          /* "all": converged in every trial */
    LG_CASE_ANY,          /* "any": converged in at least one trial */
} lg_case_rule;

/* "majority", "all", "any" ("unknown" out of range); static storage. */
const char *lg_case_rule_name(lg_case_rule rule);
/* Parses those names; false (and *out untouched) for anything else. */
bool lg_case_rule_from_name(const char *name, lg_case_rule *out);
/* Whether a case passes under the rule (false when it has no trials). */
bool lg_case_passes(const lg_case_tally *t, lg_case_rule rule);

typedef enum lg_verdict {
    LG_VERDICT_NO_CHANGE = 0, /* p >= alpha, or b == c */
    LG_VERDICT_IMPROVED,      /* p < alpha and more cases flipped to pass */
    LG_VERDICT_REGRESSED,     /* p < alpha and more cases flipped to fail */
} lg_verdict;

/* "no significant change", "improved", "regressed"; static storage. */
const char *lg_verdict_name(lg_verdict v);

typedef struct lg_compare {
    double alpha;        /* significance level used */
    lg_case_rule rule;   /* how cases were reduced to pass/fail */
    size_t shared;       /* cases in both runs (the pairs) */
    size_t base_only;    /* cases only in the baseline (not compared) */
    size_t cand_only;    /* cases only in the candidate (not compared) */
    size_t both_pass;    /* shared cases passing in both */
    size_t both_fail;    /* shared cases failing in both */
    size_t b;            /* passed in baseline, failed in candidate (regressions) */
    size_t c;            /* failed in baseline, passed in candidate (improvements) */
    double base_rate;    /* passing share of shared cases in the baseline; NaN if none */
    double cand_rate;    /* same for the candidate */
    double p_value;      /* exact two-sided McNemar: lg_stats_mcnemar_exact(b, c) */
    lg_verdict verdict;
    uint32_t *regressed; /* the b case indices, ascending (owned) */
    uint32_t *improved;  /* the c case indices, ascending (owned) */
} lg_compare;

/*
 * Pairs the cases of two runs by case_index and tests them. `base` and
 * `cand` (borrowed) are case tallies sorted by ascending case_index with no
 * duplicates, as in lg_metrics.per_case. `alpha` in (0, 1).
 * verdict = REGRESSED if p < alpha and b > c, IMPROVED if p < alpha and
 * c > b, else NO_CHANGE (including when no case is shared: p = 1).
 * On success *out is filled (release with lg_compare_release). Errors:
 * LG_EINPUT (alpha out of range, unsorted or duplicate cases, a case rule
 * out of range), LG_ENOMEM; *out is then zeroed.
 */
int lg_compare_cases(const lg_case_tally *base, size_t nbase, const lg_case_tally *cand,
                     size_t ncand, lg_case_rule rule, double alpha, lg_compare *out,
                     lg_err *err) LG_WUR;

/* Frees the case lists; safe on a zeroed or already released struct. */
void lg_compare_release(lg_compare *c);

/*
 * Appends one or two sentences about power to `out`: how many shared cases
 * a paired test at this comparison's alpha needs to detect a drop of `drop`
 * (e.g. 0.05) from the baseline rate with 80% power
 * (lg_stats_cases_needed, discordance assumed independent, so an upper
 * bound), and how many this comparison has. E.g. "Detecting a drop of 0.05
 * from 0.9 (alpha 0.05, power 0.8) needs about 689 shared cases; this
 * comparison has 20." When the baseline rate is 0 or NaN, or drop exceeds
 * it, says that no drop can be detected instead. Returns 0, LG_EINPUT (drop
 * not in (0, 1)) or the lg_buf error.
 */
int lg_compare_power_note(const lg_compare *c, double drop, lg_buf *out, lg_err *err) LG_WUR;

#endif
