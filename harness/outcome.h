/*
 * harness/outcome.h - what one trial (one execution of one case) ended with.
 *
 * The runner fills one lg_outcome per finished trial and hands an array of
 * them to harness/metrics.h. The struct is plain data with no dependency on
 * the store, the trace format or the suite, so the runner, the results DB,
 * the metrics and the tests can all build one by hand.
 *
 * Ownership: an lg_outcome never owns memory. Its pointer fields
 * (`call_latency_ms`, `violations`, violation names, `detail`) are borrowed
 * from whoever filled it, who keeps them alive for as long as the struct is
 * read. Every function that takes an lg_outcome only borrows it.
 *
 * Conventions the metrics rely on (docs/metrics.md):
 *   - `converged` is true exactly when `reason` is LG_TERM_SUCCESS: the loop
 *     ended successfully AND the external validator passed. A loop that says
 *     "done" but fails validation is LG_TERM_VALIDATOR_FAILED, not converged.
 *     lg_metrics_tally() rejects an outcome that breaks this.
 *   - `tokens_in` counts every input token including cached ones;
 *     `tokens_cached` is the part of `tokens_in` served from a prompt cache.
 *   - `cost_known` false means the model is not in the pricing table: the
 *     trial's cost is unknown, not zero, and `cost_usd` is ignored.
 *   - times are milliseconds of wall-clock time.
 *
 * Thread-safety: the name functions are pure and may be called from any
 * thread.
 */
#ifndef LG_OUTCOME_H
#define LG_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a trial ended. Names (lg_term_reason_name) are stable: they appear in
 * gates (`termination.timeout`), JSON and the results DB. Append new reasons
 * before LG_TERM_COUNT only. */
typedef enum lg_term_reason {
    LG_TERM_SUCCESS = 0,      /* "success": loop ended and the validator passed */
    LG_TERM_VALIDATOR_FAILED, /* "validator_failed": loop ended, answer rejected */
    LG_TERM_MAX_ITERATIONS,   /* "max_iterations": iteration cap reached */
    LG_TERM_STALLED,          /* "stalled": no progress for N iterations */
    LG_TERM_BUDGET_EXCEEDED,  /* "budget_exceeded": token or cost ceiling */
    LG_TERM_FATAL_ERROR,      /* "fatal_error": permission/fatal error, loop stopped */
    LG_TERM_ESCALATED,        /* "escalated": loop asked a human */
    LG_TERM_TIMEOUT,          /* "timeout": killed by the harness after --timeout */
    LG_TERM_CRASHED,          /* "crashed": non-zero exit or signal */
    LG_TERM_DIVERGED,         /* "diverged": replay saw a request not recorded */
    LG_TERM_COUNT             /* number of reasons; not a reason */
} lg_term_reason;

/* Stable lowercase name of a reason ("validator_failed"), or "unknown" for a
 * value outside [0, LG_TERM_COUNT). Never NULL; static storage. */
const char *lg_term_reason_name(lg_term_reason reason);

/* Parses a reason name (exact, case-sensitive). Returns true and sets *out
 * on success; returns false and leaves *out alone otherwise. */
bool lg_term_reason_from_name(const char *name, lg_term_reason *out);

/* NULL-terminated list of every reason name in enum order, for "did you
 * mean" suggestions and for iterating. Static storage. */
extern const char *const lg_term_reason_names[LG_TERM_COUNT + 1];

/* One invariant that a trial violated, and how many times. */
typedef struct lg_violation {
    const char *name; /* e.g. "max_tokens", "no_repeated_action" (borrowed) */
    uint32_t count;   /* violations of this invariant in the trial (>= 1) */
} lg_violation;

/* The outcome of one trial. Zero-initialise, then fill what is known. */
typedef struct lg_outcome {
    uint32_t case_index; /* case number in the suite (0-based) */
    uint32_t trial;      /* trial number of this case (0-based); (case, trial) is unique */

    bool converged;        /* reason == LG_TERM_SUCCESS (see above) */
    lg_term_reason reason; /* why it ended */

    uint32_t iterations;  /* loop iterations: its `iteration` events, else its model calls */
    uint32_t model_calls; /* model API calls made (recorded or replayed) */

    uint64_t tokens_in;     /* input tokens, cached ones included */
    uint64_t tokens_out;    /* output tokens */
    uint64_t tokens_cached; /* the part of tokens_in read from a prompt cache */

    double cost_usd; /* USD for this trial; meaningful only when cost_known */
    bool cost_known; /* false: a model without a price; cost is unknown, not 0 */

    double wall_ms; /* wall time of the whole trial, >= 0 */

    /* Latency of each model call in ms, in call order (borrowed; may be NULL
     * with n_call_latency 0 when no call was made or none was timed). */
    const double *call_latency_ms;
    size_t n_call_latency;

    /* Invariants violated in this trial, one entry per invariant name
     * (borrowed; NULL with n_violations 0 when none was violated). */
    const lg_violation *violations;
    size_t n_violations;

    /* Validator / invariant detail for people, e.g. the validator's output
     * (borrowed; may be NULL). Not used by any metric. */
    const char *detail;
} lg_outcome;

#endif
