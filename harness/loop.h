/*
 * harness/loop.h - the built-in loop engine: runs one trial of a suite whose
 * loop is declared in the suite (`loop: builtin:`, harness/loop_config.h,
 * docs/suite.md "Built-in loops"), with the loop contract enforced by code.
 *
 * One trial: render the system and first prompt from the case, then turn by
 * turn ask the model (over HTTP, through the proxy session, so every call is
 * recorded, replayed and checked for divergence exactly like an external
 * loop's), run the tools it asks for in the trial's work directory, verify,
 * feed results back, until it gives a final answer or a limit ends it.
 *
 * The contract:
 *   Continue  an iteration is one model turn (a corrective re-prompt is one
 *             too). The loop ends with max_iterations after the cap,
 *             timeout at the wall-time cap, budget_exceeded when the tokens
 *             or the cost (suite pricing; unknown prices do not count) pass
 *             their ceiling, stalled after `stall` iterations in a row
 *             without a new tool result or `repeated_action` identical tool
 *             calls (same tool and arguments) in a row.
 *   Verify    an external command, after every turn that ran tools
 *             (`when: each_action`) and on the final answer, or on the final
 *             answer only; exit 0 passes. Its output is fed into the next
 *             prompt ({{verify_output}}); a final answer counts only after it
 *             passes: the model never grades itself.
 *   Retry     429: wait Retry-After (retry-after-ms, retry-after) else
 *             backoff; 5xx, a timeout (x-loopgate-timeout-ms, recorded by the
 *             proxy), a cut stream or a refused connection: capped
 *             exponential backoff, delay = min(cap, base * 2^k) scaled by a
 *             PCG32 draw in [0.5, 1) seeded by (seed, case, trial), so a
 *             replay waits the same; at most max_retries per call, then
 *             fatal_error (a replayed failure, marked x-loopgate-replay by
 *             the proxy, is accounted the same wait but not slept).
 *             400/401/403/404/422 and other 4xx: fatal_error at
 *             once; 409 from the proxy: diverged. Malformed output
 *             (arguments that are not a JSON object or miss required
 *             properties, an unknown tool, an empty reply): one corrective
 *             re-prompt (max_corrections in a row), counted; beyond that
 *             fatal_error.
 *   Idempotency every tool call carries a key, XXH3 of (tool, canonical
 *             arguments, session key). A non-idempotent tool asks the proxy
 *             (POST /tool with the key) whether to run: a repeated key gets
 *             the first result and the tool does not run again, in record
 *             and in replay; in replay a non-idempotent call is answered
 *             from the recording and does not run at all, while an
 *             idempotent tool runs again (it may rebuild the work directory
 *             that verification and validators read; the recording still
 *             checks the call was made).
 *             Verification always runs (it checks the work directory).
 *             Tool runs and verification honour the wall-time cap.
 *   Escalate  a `requires_approval` tool runs only when approved (ctx
 *             approvals; a note event {"approve": TOOL} precedes each run);
 *             an unapproved call ends the loop `escalated` (or, with
 *             escalate.on_unapproved false, is refused to the model).
 *             max_verify_failures failures in a row, or a stall with
 *             escalate.on_stall, end `escalated`. Escalation writes a packet
 *             (JSON: reason, iteration, failing checks, last actions, last
 *             verification output, a short context) to
 *             WORKDIR/escalation.json and into the trace as a note event
 *             whose data is the packet.
 * Events posted to the session: iteration (with the loop state), tool (one
 * per tool run; the built-in final_answer with exit_code -1), verify, note
 * (approvals, idempotent hits, corrections, retries, escalation), end (the
 * termination reason; "success" when the answer passed verification).
 */
#ifndef LG_LOOP_H
#define LG_LOOP_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "harness/loop_config.h"
#include "harness/outcome.h"
#include "harness/pricing.h"
#include "harness/suite.h"

typedef struct lg_loop_ctx {
    const lg_suite *suite;          /* borrowed; loop.kind must be LG_LOOP_BUILTIN */
    const lg_loop_config *config;   /* borrowed, optional: parsed from the suite when NULL */
    const json_t *case_pub;         /* the case without hidden fields (borrowed) */
    uint32_t case_index, trial;
    const char *session_url;        /* "http://127.0.0.1:PORT/s/TOKEN" (borrowed) */
    const char *session_key;        /* "CASE.TRIAL", part of idempotency keys; may be NULL */
    const char *workdir;            /* existing directory; tools and verification run here */
    const char *case_path;          /* the case JSON file for commands' LOOPGATE_CASE; may be NULL */
    const char *const *approvals;   /* approved tool names (borrowed; n_approvals of them) */
    size_t n_approvals;
    volatile sig_atomic_t *cancel;  /* optional: stop soon when it becomes non-zero */
    uint64_t seed;                  /* with case_index and trial: the backoff jitter stream */
    double timeout_s;               /* wall-time cap of the trial (0: none but the config's) */
    const lg_pricing *pricing;      /* for the cost ceiling; may be NULL (cost unknown) */
} lg_loop_ctx;

typedef struct lg_loop_result {
    lg_term_reason reason;   /* LG_TERM_SUCCESS: a final answer that passed verification */
    char *answer;            /* the final answer (owned), NULL when none */
    char *detail;            /* why it ended, for people (owned, never NULL after a run) */
    char *escalation_path;   /* WORKDIR/escalation.json when escalated (owned), else NULL */
    bool cancelled;          /* stopped by ctx->cancel */
    uint32_t iterations;     /* model turns */
    uint32_t model_calls;    /* HTTP calls to the model, retries included */
    uint32_t retries;        /* of those, retries after a retryable failure */
    uint32_t corrections;    /* corrective re-prompts after malformed output */
    uint32_t tool_runs;      /* tools that actually ran here */
    uint32_t tools_replayed; /* tool results served from the recording */
    uint32_t idempotent_hits;/* tool calls answered with the first result of their key */
    uint32_t verify_runs, verify_failures;
    uint64_t tokens_in, tokens_out;
    double cost_usd;         /* known part of the cost */
    bool cost_known;         /* every call was priced */
    uint64_t backoff_ms;     /* total time waited before retries */
} lg_loop_result;

/* Zeroes a result. */
void lg_loop_result_init(lg_loop_result *r);
/* Frees the strings and re-inits. Accepts NULL. */
void lg_loop_result_release(lg_loop_result *r);

/*
 * Runs one trial of the built-in loop to its end. Returns 0 when the loop
 * ran, whatever it ended with (look at result->reason and detail), or an
 * error for a harness failure: LG_EINPUT (the suite's loop is not builtin,
 * a bad config), LG_ENOMEM, LG_EINTERNAL. `result` is initialised by this
 * call and must be released with lg_loop_result_release() in all cases.
 * Thread-safe: trials may run in parallel (no globals; each run has its
 * own HTTP client and state). Like every user of core/proc.h, the process
 * must ignore SIGPIPE (the CLI does): a tool may exit without reading the
 * arguments written to its standard input.
 */
int lg_loop_run(const lg_loop_ctx *ctx, lg_loop_result *result, lg_err *err);

/*
 * Reads an approvals file: one tool name per line; blank lines and lines
 * starting with '#' are ignored; surrounding blanks trimmed. Appends the
 * names to *names (a NULL-terminated array, owned: free each and the array,
 * or use lg_loop_approvals_free) and updates *n. LG_ENOENT / LG_EIO naming
 * the file, LG_EINPUT "FILE:LINE: ..." for a name that cannot be a tool
 * name, LG_ENOMEM.
 */
int lg_loop_approvals_load(const char *path, char ***names, size_t *n, lg_err *err) LG_WUR;

/* Frees an array from lg_loop_approvals_load(). Accepts NULL. */
void lg_loop_approvals_free(char **names);

#endif
