/*
 * harness/gate.h - gate expressions: parse, evaluate on a run's metrics,
 * and say why. The full syntax is in docs/metrics.md ("Gates"):
 *
 *     METRIC OP VALUE
 *         METRIC  convergence_rate, convergence_rate.lower, cases.flaky,
 *                 case_pass, pass_hat_k(3), iterations.p95,
 *                 invariant_violations.NAME, termination.REASON, ...
 *         OP      >=  >  <=  <  ==  !=
 *         VALUE   0.9 | 2/3 | 90%   (fractions and percentages only for rates)
 *     no_regression | no_regression(alpha=0.01)
 *         the candidate is not significantly worse than the baseline:
 *         exact McNemar on the shared cases (harness/compare.h), default
 *         alpha 0.05. Fails when p < alpha and more cases flipped to fail.
 *
 * Values are compared exactly as doubles. Rates are one correctly rounded
 * division, so `convergence_rate >= 0.9` passes at exactly 18/20 and
 * `case_pass >= 2/3` passes at exactly 2 of 3.
 *
 * A gate whose value is undefined (no trials ran, nothing converged for
 * an iteration metric, a cost that includes an unknown price, no baseline
 * for no_regression) FAILS, with the reason in its text.
 *
 * Thread-safety: a parsed gate is immutable; evaluating one gate from
 * several threads at once is safe.
 */
#ifndef LG_GATE_H
#define LG_GATE_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/metrics.h"

/* One parsed gate (opaque). */
typedef struct lg_gate lg_gate;

/* Where an expression came from, for error messages. `line` and `col` are
 * 1-based and locate the expression's first character (for a quoted YAML
 * scalar, the first character inside the quotes); error columns are
 * col + the offset of the offending token, so the expression must not
 * contain tabs or newlines for them to be exact (else set `fixed`). With a
 * suite's lg_ytextpos: {path, pos.line, pos.col, !pos.exact}. */
typedef struct lg_gate_src {
    const char *name; /* e.g. "suites/support.yaml" or "--gate" */
    int line;
    int col;
    bool fixed; /* true: the text is not one exact line (a block scalar,
                 * escapes): every error reports line:col as given */
} lg_gate_src;

/*
 * Parses one expression. `src` may be NULL (then "<gate>", line 1, col 1).
 * On success *out is owned by the caller (free with lg_gate_free).
 * On failure returns LG_EINPUT with a message like
 *   suites/x.yaml:40:9: gate 'convergence_rat >= 0.9': unknown metric
 *   'convergence_rat' (did you mean 'convergence_rate'?)
 * (one line) whose column points at the offending token; *out untouched.
 * LG_ENOMEM on allocation failure. The messages are listed in
 * tests/test_gate.c.
 */
int lg_gate_parse(const char *expr, const lg_gate_src *src, lg_gate **out, lg_err *err) LG_WUR;

/* Frees a gate; NULL is fine. */
void lg_gate_free(lg_gate *g);

/* The expression as given to lg_gate_parse, without surrounding blanks.
 * Borrowed from the gate. */
const char *lg_gate_expr(const lg_gate *g);

/* True for no_regression gates, which need a baseline to pass. */
bool lg_gate_needs_baseline(const lg_gate *g);

/* For `invariant_violations.NAME` the NAME (borrowed), else NULL. A suite
 * loader can check it against the invariants it declares, since a misspelt
 * name otherwise just counts 0 violations. */
const char *lg_gate_invariant(const lg_gate *g);

#define LG_GATE_TEXT_MAX 512

/* What evaluating one gate gave. */
typedef struct lg_gate_result {
    bool pass;
    bool defined;     /* false: the value does not exist; the gate failed */
    double value;     /* the metric (p-value for no_regression); NaN if undefined */
    double threshold; /* the VALUE (alpha for no_regression) */
    /* One line, e.g. "convergence_rate = 0.93 >= 0.9  pass",
     * "cost_per_convergence = undefined <= 0.05  FAIL (no trial converged)" */
    char text[LG_GATE_TEXT_MAX];
    /* Empty, or for a failed gate what to look at: the cases below a
     * case_pass threshold with their counts, the never-converged or flaky
     * cases, the regressed and improved cases, the undefined reason. */
    char detail[LG_GATE_TEXT_MAX];
} lg_gate_result;

/*
 * Evaluates a gate on a run's metrics (borrowed). `baseline` (borrowed,
 * may be NULL) is only used by no_regression, which compares its per_case
 * with the candidate's by lg_compare_cases(LG_CASE_MAJORITY, alpha).
 * Returns 0 with *out filled whether the gate passed or failed; LG_ENOMEM
 * if the comparison could not allocate; LG_EINPUT if a per_case array is
 * not sorted (a corrupt metrics struct).
 */
int lg_gate_eval(const lg_gate *g, const lg_metrics *m, const lg_metrics *baseline,
                 lg_gate_result *out, lg_err *err) LG_WUR;

#endif
