/*
 * harness/sim_model.h - the behaviour model of the simulated model: a
 * suite's `sim:` block (docs/suite.md, "The simulated model").
 *
 * With a behaviour model the sim knows the truth: it reads the case's hidden
 * answer field and answers right or wrong with known probabilities, so a
 * run against it has an analytic convergence rate and iteration count that
 * the harness can be checked against (tests/test_simtruth.c).
 *
 * A trial's answer attempts k = 0, 1, 2, ... (assistant turns that answer
 * in text rather than call a tool) are, independently:
 *   malformed  with probability m            (malformed_rate)
 *   correct    with probability (1 - m) p_k
 *   wrong      otherwise,
 * where p_k = 1 - (1 - p0) (1 - g)^k: each earlier attempt (which the loop
 * answered with feedback, or it would have stopped) closes the share g
 * (feedback_gain) of the remaining gap to certainty, from p0
 * (p_first_correct). What the words are depends on the task:
 *   choice  the hidden answer field (default `expected`) or another of
 *           `choices`; malformed is a sentence that is none of them;
 *   code    the hidden field `solution` in a ```python block; wrong code
 *           has a syntax error (a compile gate sees it) or, with
 *           probability silent_wrong_rate, is valid but wrong (the hidden
 *           `wrong_field`, else a mutation); malformed is prose without code;
 *   script  the plain script of harness/sim.h (tool turns, then an answer
 *           naming the request hash); the model adds latency, tokens, faults.
 * Before answering, a choice or code model calls each declared tool named
 * in `before_answer` once, in order, and when its decision has a tool in
 * `on_answer` (e.g. approve -> issue_refund) it calls that tool first.
 * Tool arguments come from the case's visible fields of the same name. At
 * any turn it may instead call a wrong declared tool (wrong_tool_rate) or
 * repeat its last tool call exactly (repeat_tool_rate).
 *
 * Determinism: every draw of a turn comes from one PCG32 seeded with
 * (seed, stream = mix(case, trial, turn)), in a fixed order, whether used
 * or not; faults also mix the request's occurrence (harness/sim.h) so a
 * retry draws afresh while its content stays the same.
 *
 * Which case and trial a request belongs to, in order of preference: the
 * caller's (X-Loopgate-Case / X-Loopgate-Trial headers, added by the proxy
 * for harness sessions); a hint in the request body, `user` (or Anthropic
 * `metadata.user_id`) containing "case=I" and optionally "trial=T", or
 * `metadata.loopgate_case` / `metadata.loopgate_trial`; otherwise the first
 * case whose longest visible text field occurs in the first user message
 * (trial 0). A request that matches no case gets the plain script.
 *
 * A model borrows its suite (which must outlive it) and is immutable after
 * lg_sim_model_from_suite(): any number of threads may use it at once.
 */
#ifndef LG_SIM_MODEL_H
#define LG_SIM_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/sim.h"
#include "harness/suite.h"

typedef struct lg_sim_model lg_sim_model;

enum lg_sim_task {
    LG_SIM_TASK_SCRIPT = 0,
    LG_SIM_TASK_CHOICE = 1,
    LG_SIM_TASK_CODE = 2,
};

/*
 * Builds the model from `suite->sim` (the suite is borrowed and must
 * outlive the model). A suite without `sim:` gets the script task with no
 * latency and no faults. Checks the block: unknown keys (with a "did you
 * mean"), types and ranges, an answer field that the suite's cases have,
 * `choices` for the choice task, `on_answer` keys among the choices. Errors
 * are LG_EINPUT "FILE:LINE:COL: sim: ..." naming the key and the fix, or
 * LG_ENOMEM. Returns 0 and an owned *out (free with lg_sim_model_free).
 */
int lg_sim_model_from_suite(const lg_suite *suite, lg_sim_model **out, lg_err *err) LG_WUR;

/* Frees the model. Accepts NULL. */
void lg_sim_model_free(lg_sim_model *m);

/* The task (enum lg_sim_task). */
int lg_sim_model_task(const lg_sim_model *m);

/* Fills `cfg` for serving this model: lg_sim_config_init() defaults, then
 * the block's seed (default: the suite's seed), fault rates, retry_after_ms,
 * slow_ms and tool_turns, and cfg->model = m (borrowed). */
void lg_sim_model_config(const lg_sim_model *m, lg_sim_config *cfg);

/* p_k: probability that a well-formed answer attempt after `attempts`
 * earlier attempts is correct, 1 - (1 - p0)(1 - g)^attempts. */
double lg_sim_model_p_correct(const lg_sim_model *m, unsigned attempts);

/* A tool call the conversation already holds. Borrowed strings. */
typedef struct lg_sim_call {
    const char *name;
    const char *args; /* the arguments as JSON text ("{}" when none) */
} lg_sim_call;

/* What the model reads of a request, in a provider-neutral form. All
 * pointers are borrowed for the duration of lg_sim_model_turn(). */
typedef struct lg_sim_convo {
    const char *first_user;         /* text of the first user message ("" if none) */
    const char *hint;               /* "case=I[:trial=T]" text from user/metadata, or NULL */
    int64_t hint_case, hint_trial;  /* from metadata.loopgate_case/_trial; -1 when absent */
    unsigned turn;                  /* assistant messages so far */
    unsigned attempts;              /* of them, answers in text (no tool call) */
    const char *const *tools;       /* declared tool names */
    const json_t *const *schemas;   /* their JSON schemas (may be NULL each) */
    size_t ntools;
    bool tools_off;                 /* tool_choice "none" */
    const lg_sim_call *calls;       /* tool calls made so far, in order */
    size_t ncalls;
    uint64_t request_hash;          /* lg_sim_request_hash(): seeds the draws of a request
                                       whose case is unknown */
} lg_sim_convo;

/* What kind of turn the model produced. */
enum lg_sim_turn_kind {
    LG_SIM_TURN_SCRIPT = 0,  /* no case known or script task: the caller's script */
    LG_SIM_TURN_TOOL,        /* the intended tool call */
    LG_SIM_TURN_WRONG_TOOL,  /* a declared tool it should not have called */
    LG_SIM_TURN_REPEAT_TOOL, /* its last tool call again */
    LG_SIM_TURN_CORRECT,     /* the right answer */
    LG_SIM_TURN_WRONG,       /* a wrong answer (code: a syntax error) */
    LG_SIM_TURN_SILENT_WRONG,/* code: valid Python that fails the hidden test */
    LG_SIM_TURN_MALFORMED,   /* an answer the loop cannot use */
};

/* "script", "tool", "wrong_tool", "repeat_tool", "correct", "wrong",
 * "silent_wrong", "malformed". */
const char *lg_sim_turn_kind_name(int kind);

typedef struct lg_sim_turn {
    int kind;              /* enum lg_sim_turn_kind */
    char *tool_name;       /* tool turns: the tool (owned) */
    char *args;            /* tool turns: arguments as JSON text (owned) */
    char *text;            /* answer turns: the text (owned) */
    unsigned latency_ms;   /* drawn from latency_ms */
    int64_t out_tokens;    /* drawn from output_tokens; -1: count the text */
    int64_t case_index;    /* the case and trial the request was resolved to; -1 unknown */
    int64_t trial;
    uint64_t stream;       /* the PCG32 stream of this turn (faults mix it with the occurrence) */
} lg_sim_turn;

/* Empty turn; allocates nothing. */
void lg_sim_turn_init(lg_sim_turn *t);
/* Frees the contents and re-inits. Accepts NULL. */
void lg_sim_turn_release(lg_sim_turn *t);

/*
 * Decides one assistant turn. `case_index` and `trial` are the caller's
 * (headers), -1 when unknown (then the hint and the content match are
 * tried). `out` must be initialised; its old contents are released. The
 * script task, and any request whose case cannot be resolved, yield
 * LG_SIM_TURN_SCRIPT with only latency, tokens, case and stream filled.
 * Returns 0, or LG_EINPUT when the case cannot be generated (the message
 * names the suite and case), LG_ENOMEM. Pure and thread-safe.
 */
int lg_sim_model_turn(const lg_sim_model *m, int64_t case_index, int64_t trial,
                      const lg_sim_convo *cv, lg_sim_turn *out, lg_err *err) LG_WUR;

#endif
