/*
 * harness/runner.h - `loopgate run`: every trial of a suite, through the
 * proxy, judged, committed, summarised.
 *
 * For each (case, trial) in the selection the runner makes a fresh work
 * directory, opens a proxy session, starts the loop command with the
 * environment of DESIGN.md (LOOPGATE_CASE, LOOPGATE_CASE_ID, LOOPGATE_TRIAL,
 * LOOPGATE_WORKDIR, LOOPGATE_URL, OPENAI_BASE_URL, ANTHROPIC_BASE_URL), waits
 * for it under a timeout (SIGTERM then SIGKILL to its process group), closes
 * the session (committing the trace in record modes), validates the answer,
 * checks the invariants, prices the tokens, and commits the outcome to the
 * results DB at once. A crash or a hang is an outcome, never a failure of
 * the run. Trials run on `jobs` threads. A `loop: builtin:` suite runs the
 * built-in engine (harness/loop.h) in the trial's thread instead of a
 * command, through the same session; its termination reason and detail
 * become the outcome's, and its final answer is validated.
 *
 * The caller (the CLI) owns signal handling: it points `interrupt` at a
 * flag its SIGINT/SIGTERM handler sets; the runner then starts no new trial,
 * stops the running ones (they are not committed, so --resume redoes them)
 * and returns with status "interrupted".
 */
#ifndef LG_RUNNER_H
#define LG_RUNNER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "harness/metrics.h"
#include "harness/results.h"
#include "harness/suite.h"

typedef enum lg_run_mode {
    LG_RUN_RECORD = 0,     /* forward to the real upstream, record every call */
    LG_RUN_REPLAY,         /* serve from the trace, never touch the network */
    LG_RUN_RECORD_MISSING, /* replay what matches, record the rest */
    LG_RUN_LIVE,           /* forward without recording (passthrough) */
} lg_run_mode;

const char *lg_run_mode_name(lg_run_mode m);

typedef struct lg_run_opts {
    const lg_suite *suite;      /* borrowed, loaded */
    lg_run_mode mode;
    const char *trace_path;     /* trace file (.lgt); required except LG_RUN_LIVE */
    const char *results_path;   /* results DB */
    const char *workroot;       /* parent of work directories (".loopgate/work") */
    uint32_t trials;            /* per case (>= 1) */
    uint64_t from, count;       /* case selection [from, from + count) */
    uint64_t seed;              /* case seed */
    uint32_t jobs;              /* parallel trials (>= 1) */
    double timeout_s;           /* per trial */
    bool divergence_live;       /* --on-divergence live */
    bool fail_on_unused;
    uint32_t shard_index, shard_count; /* 0-based index; count 1 = no sharding */
    const char *resume_run_id;  /* finish this run instead of starting one */
    const char *run_id;         /* explicit id (shards of one CI job), or NULL */
    double max_cost_usd;        /* spending guard for live runs; 0 = none */
    const char *upstream;       /* real model API base URL for record/live modes */
    bool keep_workdirs;         /* keep work directories of passing trials too */
    int progress;               /* 0 none, 1 plain lines every few seconds, 2 live TTY line */
    FILE *progress_out;         /* where progress goes (stderr) */
    volatile sig_atomic_t *interrupt; /* set by the caller's signal handler */
    const json_t *flags;        /* the command line, stored with the run (borrowed) */
    const char *const *approvals; /* built-in loops: approved tool names (borrowed) */
    size_t n_approvals;
} lg_run_opts;

typedef struct lg_run_result {
    lg_run_record *info;          /* the run (owned) */
    lg_outcome_set *outcomes;   /* every outcome of the run, resumed ones included (owned) */
    lg_metrics *metrics;        /* computed over `outcomes` (owned) */
    char *status;               /* "finished", "interrupted", "budget_exhausted" (owned) */
    uint32_t interrupted_trials;/* not committed because of the interrupt (stopped + not started) */
    uint32_t stopped_trials;    /* of those, running ones the interrupt stopped */
    uint32_t skipped_trials;    /* already committed (resume) */
    uint32_t unused_calls;      /* replay: recorded calls nobody asked for */
    double cost_so_far;         /* known cost of this invocation's trials */
    char budget_note[256];      /* why the budget guard stopped, or "" */
} lg_run_result;

/* Runs the selection. Returns 0 when the run happened (whatever its
 * trials did; see result->status), or an error for bad input (the trace
 * file, the loop command) or a system failure. `*out` is owned (free with
 * lg_run_result_free) and set on success. */
int lg_run(const lg_run_opts *opts, lg_run_result **out, lg_err *err);

void lg_run_result_free(lg_run_result *r);

#endif
