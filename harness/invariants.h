/*
 * harness/invariants.h - the suite's invariants, checked on one session.
 *
 * Runs after a trial over the session's events (recorder/trace.h), in
 * order. Each invariant (docs/suite.md) yields a count of violations and a
 * short detail naming the event or call:
 *   max_iterations N     more than N iterations
 *   max_tokens N         more than N tokens in + out
 *   max_cost_usd X       cost above X (skipped when the cost is unknown)
 *   no_repeated_action N the same tool with the same arguments N times in a row
 *   stall N              N iterations in a row without a new tool result
 *   tool_allowlist [..]  a tool not in the list was called
 *   required_before      tool X not called before tool Y (Y "final_answer":
 *                        before the session ended with an answer)
 *   exactly_once [..]    a listed tool ran twice with the same arguments
 *   approval_required [..] a listed tool ran without an approval before it:
 *                        a `note` event whose data is {"approve": "TOOL"}
 *                        (loopgate exec --approved does this), or a tool
 *                        event whose result is {"approved": true, ...}
 *   command              gets the session as JSON on stdin; exit 0 passes
 * plus every `invariant` event the loop reported with pass = false.
 *
 * Thread-safe: reads its inputs only.
 */
#ifndef LG_INVARIANTS_H
#define LG_INVARIANTS_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/suite.h"
#include "recorder/trace.h"

typedef struct lg_inv_violation {
    char *name;    /* invariant name, owned */
    uint32_t count;
    char *detail;  /* first violation explained, owned */
} lg_inv_violation;

typedef struct lg_inv_report {
    lg_inv_violation *items; /* one per violated invariant, in check order */
    size_t n;
} lg_inv_report;

typedef struct lg_inv_input {
    const lg_suite *suite;          /* borrowed */
    const lg_event *const *events;  /* the session's events in order (borrowed) */
    size_t n_events;
    uint32_t iterations;            /* as the runner counts them */
    uint64_t tokens;                /* in + out */
    double cost_usd;
    bool cost_known;
    bool answered;                  /* the loop ended with an answer */
    const json_t *session_json;     /* the session for `command:` (borrowed; may be NULL
                                       when the suite has no command invariant) */
    volatile sig_atomic_t *cancel;  /* optional */
} lg_inv_input;

/* Checks every invariant. Returns 0 and fills `out` (release with
 * lg_inv_report_release), or an error when the `command:` invariant cannot
 * start (LG_EINPUT naming the suite position), LG_ENOMEM. */
int lg_invariants_check(const lg_inv_input *in, lg_inv_report *out, lg_err *err);

void lg_inv_report_release(lg_inv_report *r);

/* Total violations (sum of counts). */
uint32_t lg_inv_report_total(const lg_inv_report *r);

#endif
