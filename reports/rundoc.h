/*
 * reports/rundoc.h - the run report: the ONE document every report renders
 * from (terminal, JSON, JUnit XML, Markdown, HTML, compare).
 *
 * A run report holds a run's metadata, its metrics (harness/metrics.h),
 * its gate results (harness/gate.h), every trial's outcome
 * (harness/outcome.h) with an optional short timeline for failing trials,
 * and optionally a comparison with a baseline run (harness/compare.h).
 * Its JSON form ("schema": 1) is documented in docs/report-schema.md and
 * described by the JSON Schema docs/report-schema.json; it is what
 * `loopgate report --format json` writes and what `loopgate compare` and
 * `--baseline FILE.json` read back.
 *
 * Two ways to get one:
 *   - lg_rundoc_build() from C structs (the runner, the results DB, tests);
 *   - lg_rundoc_load_file() / lg_rundoc_load_json() from a JSON document,
 *     checked field by field; errors name the file and the JSON path
 *     ("base.json: $.outcomes[3].reason: unknown termination reason
 *     'sucess' (did you mean 'success'?)").
 * Either way the result is the same read-only struct below, so a report
 * rendered from a loaded document is the report rendered from the run.
 *
 * Memory: a document owns every pointer reachable from it (strings, arrays,
 * the metrics); free it all with lg_rundoc_free(). Inputs are borrowed and
 * copied. Fields are read-only for callers; change a document only with the
 * functions below.
 *
 * Thread-safety: no globals. A finished document is read-only data that
 * several threads may render at once; lg_rundoc_compare* modify it and need
 * exclusive access.
 */
#ifndef LG_RUNDOC_H
#define LG_RUNDOC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/compare.h"
#include "harness/gate.h"
#include "harness/metrics.h"
#include "harness/outcome.h"

/* Version of the run report JSON ("schema"). A reader refuses newer ones. */
#define LG_RUNDOC_SCHEMA 1

/* How a run ended. Names are stable (JSON, results DB). */
typedef enum lg_run_status {
    LG_RUN_FINISHED = 0,     /* "finished": every planned trial ran */
    LG_RUN_INTERRUPTED,      /* "interrupted": SIGINT or a kill; partial results */
    LG_RUN_BUDGET_EXHAUSTED, /* "budget_exhausted": --max-cost-usd stopped new trials */
    LG_RUN_RUNNING,          /* "running": a report of a run still in progress */
    LG_RUN_STATUS_COUNT      /* not a status */
} lg_run_status;

/* "finished", ...; "unknown" out of range. Static storage, never NULL. */
const char *lg_run_status_name(lg_run_status s);
/* Parses a status name; false (and *out untouched) for anything else. */
bool lg_run_status_from_name(const char *name, lg_run_status *out);

/* Run metadata. As build input every string is borrowed (NULL where
 * optional); inside a document every string is owned by it. */
typedef struct lg_run_info {
    const char *id;           /* run id; required, non-empty */
    const char *suite_name;   /* required, non-empty */
    const char *suite_path;   /* may be NULL */
    const char *suite_hash;   /* hex content hash of the suite file; may be NULL */
    const char *mode;         /* "record", "replay", "record-missing", ...; may be NULL */
    uint64_t seed;            /* the suite seed */
    uint32_t trials;          /* trials per case asked for */
    uint64_t cases;           /* cases asked for */
    const char *git_revision; /* may be NULL */
    int64_t started_ms;       /* wall ms since the epoch; < 0: unknown */
    int64_t finished_ms;      /* wall ms since the epoch; < 0: unknown / not finished */
    lg_run_status status;
} lg_run_info;

/* One step of a failing trial's short timeline. */
typedef struct lg_timeline_item {
    const char *kind;    /* "prompt", "response", "tool_call", "tool_result", "verify",
                          * "invariant", "divergence", "exit", ... (non-empty) */
    double t_ms;         /* ms since the trial started, >= 0 */
    const char *summary; /* one short text for people (may hold newlines) */
} lg_timeline_item;

/* The timeline of one trial. */
typedef struct lg_timeline {
    uint32_t case_index;
    uint32_t trial;
    const lg_timeline_item *items;
    size_t n_items;
} lg_timeline;

/* One evaluated gate: its expression and what lg_gate_eval gave. */
typedef struct lg_rundoc_gate {
    const char *expr; /* as lg_gate_expr() returns it; non-empty */
    lg_gate_result result;
} lg_rundoc_gate;

/* A comparison with a baseline run (present when doc->comparison != NULL). */
typedef struct lg_rundoc_comparison {
    lg_run_info base_run;   /* the baseline's metadata (strings owned by the doc) */
    lg_metrics *base_metrics; /* the baseline's metrics (owned by the doc) */
    lg_compare cmp;         /* McNemar result; case lists owned by the doc */
    double drop;            /* the drop the power note is about, e.g. 0.05 */
    const char *power_note; /* lg_compare_power_note() text */
} lg_rundoc_comparison;

/* The document. Read-only for callers. */
typedef struct lg_rundoc {
    int schema;            /* LG_RUNDOC_SCHEMA */
    const char *generator; /* e.g. "loopgate 0.1.0" */
    lg_run_info run;
    lg_metrics *metrics;
    lg_rundoc_gate *gates; /* in the order given */
    size_t n_gates;
    size_t gates_failed;
    /* Every trial, sorted by (case_index, trial); pointers inside are
     * owned by the document. */
    lg_outcome *outcomes;
    size_t n_outcomes;
    /* Timelines, sorted by (case_index, trial); each names an outcome. */
    lg_timeline *timelines;
    size_t n_timelines;
    lg_rundoc_comparison *comparison; /* NULL: no baseline */
    bool passed; /* status finished and every gate passed */
    struct lg_rundoc_arena *arena; /* private: the document's memory */
} lg_rundoc;

/* What lg_rundoc_build copies into a document. Everything is borrowed. */
typedef struct lg_rundoc_input {
    const char *generator; /* NULL: "loopgate" */
    lg_run_info run;
    const lg_outcome *outcomes; /* any order; (case, trial) unique */
    size_t n_outcomes;
    /* The run's metrics; NULL: computed here from the outcomes with
     * default options. When given, their per-case tallies must agree with
     * the outcomes. */
    const lg_metrics *metrics;
    const lg_rundoc_gate *gates;
    size_t n_gates;
    /* Optional timelines (usually of failing trials); each must name an
     * outcome's (case, trial), at most one per trial. */
    const lg_timeline *timelines;
    size_t n_timelines;
} lg_rundoc_input;

/*
 * Builds a document by copying `in` (borrowed). On success *out is owned
 * by the caller (free with lg_rundoc_free). Errors (nothing allocated, *out
 * untouched): LG_EINPUT for a missing id or suite name, a status out of
 * range, a bad outcome (the lg_metrics_compute errors), given metrics whose
 * per-case tallies disagree with the outcomes, a gate without an
 * expression, a timeline naming no outcome or a second timeline for one
 * trial, an item with an empty kind or a negative time; LG_ENOMEM.
 */
int lg_rundoc_build(const lg_rundoc_input *in, lg_rundoc **out, lg_err *err) LG_WUR;

/* Frees a document and everything it owns; NULL is fine. */
void lg_rundoc_free(lg_rundoc *doc);

/* Options of a comparison; zero-initialised means the defaults. */
typedef struct lg_rundoc_compare_opts {
    double alpha;      /* significance level; 0: 0.05 */
    lg_case_rule rule; /* how a case becomes pass/fail; default majority */
    double drop;       /* drop for the power note; 0: 0.05 */
} lg_rundoc_compare_opts;

/*
 * Attaches (or replaces) a comparison of `doc` (the candidate) with a
 * baseline given as its metadata and metrics (both borrowed, copied): the
 * exact McNemar test over the cases in both (harness/compare.h) and the
 * power note. `opts` may be NULL. Errors: LG_EINPUT (alpha or drop not in
 * (0, 1), a rule out of range, a baseline without id or suite name),
 * LG_ENOMEM; the document is unchanged on error.
 */
int lg_rundoc_compare_metrics(lg_rundoc *doc, const lg_run_info *base_run,
                              const lg_metrics *base_metrics,
                              const lg_rundoc_compare_opts *opts, lg_err *err) LG_WUR;

/* The same with a whole baseline document (borrowed). */
int lg_rundoc_compare(lg_rundoc *doc, const lg_rundoc *base, const lg_rundoc_compare_opts *opts,
                      lg_err *err) LG_WUR;

/* The one-line verdict stored in the JSON ("verdict.summary"), e.g.
 * "PASS: 0 of 3 gates failed" or "FAIL: run interrupted; 0 of 3 gates
 * failed", into buf (always NUL-terminated). */
void lg_rundoc_verdict_summary(const lg_rundoc *doc, char *buf, size_t len);

/* The timeline of one trial (borrowed from doc), or NULL if it has none.
 * O(log n). */
const lg_timeline *lg_rundoc_find_timeline(const lg_rundoc *doc, uint32_t case_index,
                                           uint32_t trial);

/* ---- JSON ------------------------------------------------------------- */

/* The document as JSON in the documented shape; the "metrics" member is
 * lg_metrics_to_json() of the metrics. Returns a new reference (owned,
 * json_decref) or NULL with LG_ENOMEM. */
json_t *lg_rundoc_to_json(const lg_rundoc *doc, lg_err *err);

/*
 * Reads a document from JSON (borrowed; nothing of it is kept). `name`
 * names the source in errors (a file name). Checks every field the schema
 * requires, its type and range, that each outcome's "converged" agrees with
 * its "reason", that (case, trial) pairs are unique, that the metrics'
 * per-case tallies agree with the outcomes, and that timelines name trials
 * that exist. On success *out is owned (free with lg_rundoc_free); the
 * "verdict" member is recomputed, not trusted. Errors (*out untouched):
 * LG_EFORMAT for a newer "schema", LG_EINPUT naming NAME and the JSON path
 * ("run.json: $.outcomes[3].wall_ms: expected a number >= 0"), LG_ENOMEM.
 */
int lg_rundoc_load_json(const json_t *j, const char *name, lg_rundoc **out, lg_err *err) LG_WUR;

/* Reads and loads a file (lg_json_load_file, then lg_rundoc_load_json with
 * the path as name). Missing file: LG_ENOENT naming it. */
int lg_rundoc_load_file(const char *path, lg_rundoc **out, lg_err *err) LG_WUR;

/* Parses what lg_clock_iso8601 writes ("2026-11-21T14:59:03.123Z"; the
 * fraction is optional) into wall ms. False on anything else. */
bool lg_rundoc_parse_time(const char *s, int64_t *out_ms);

#endif
