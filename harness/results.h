/*
 * harness/results.h - the results database: runs and their trial outcomes.
 *
 * One SQLite file (default .loopgate/results.db) shared by many runs. Each
 * run has a row with its metadata; each finished trial is committed at once
 * as its own row (one transaction), so a killed run keeps every trial it
 * finished and `loopgate run --resume RUN_ID` repeats none of them. At the
 * end of a run its metrics and gate results are stored as JSON.
 *
 * Format: PRAGMA user_version = LG_RESULTS_FORMAT plus a meta table; a newer
 * file is refused with a message naming both versions. WAL mode with a busy
 * timeout so several processes (shards on one machine) can share a file.
 *
 * Threads: an lg_results handle serialises its own calls with a mutex, so
 * runner threads may share it.
 */
#ifndef LG_RESULTS_H
#define LG_RESULTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "harness/outcome.h"

#define LG_RESULTS_FORMAT 1
#define LG_RUN_ID_MAX 64

typedef struct lg_results lg_results;

/* Run metadata. Strings are owned by whoever filled the struct; the
 * results module copies them on create and returns owned copies from
 * lg_results_run_get (free with lg_run_record_free). */
typedef struct lg_run_record {
    char id[LG_RUN_ID_MAX];  /* assigned by lg_results_run_create: "YYYYMMDD-HHMMSS-xxxx" */
    char *suite_name;
    char *suite_path;
    char *suite_hash;        /* 32 hex digits of XXH3-128 of the suite file */
    char *git_rev;           /* NULL when not in a git work tree */
    char *mode;              /* "record", "replay", "record-missing", "live" */
    char *trace_path;        /* trace file used, or NULL */
    uint64_t seed;
    uint32_t trials;
    uint64_t case_from;      /* first case index */
    uint64_t case_count;     /* number of cases (before sharding) */
    uint32_t shard_index;    /* 0-based shard, with shard_count 1 when not sharded */
    uint32_t shard_count;
    int64_t started_ms;
    int64_t finished_ms;     /* 0 while running */
    char *status;            /* "running", "finished", "interrupted", "budget_exhausted" */
    json_t *flags;           /* the command line as a JSON object (owned reference) */
} lg_run_record;

/* Frees the strings and the JSON of an info returned by this module, and
 * the struct itself. Accepts NULL. */
void lg_run_record_free(lg_run_record *info);

/* A run's outcomes with the memory behind their borrowed pointers. */
typedef struct lg_outcome_set {
    lg_outcome *items;      /* sorted by (case_index, trial) */
    size_t n;
    char **session_keys;    /* per item: trace session key, or NULL */
    json_t **timelines;     /* per item: short timeline (JSON array) or NULL */
    void *storage_;         /* private */
} lg_outcome_set;

void lg_outcome_set_free(lg_outcome_set *s); /* accepts NULL */

/*
 * Opens the results DB at `path`. With `create`, a missing file (and its
 * parent directory) is created; without, a missing file is LG_ENOENT
 * ("no results database 'PATH'; run 'loopgate run' first or pass --results").
 * A non-SQLite or corrupt file is LG_EINPUT, a newer format LG_EFORMAT.
 * Returns an owned handle (close with lg_results_close).
 */
int lg_results_open(const char *path, bool create, lg_results **out, lg_err *err) LG_WUR;
void lg_results_close(lg_results *r); /* accepts NULL */

/* Inserts a run with status "running" and assigns info->id (unless
 * info->id is already set: used by merge). Borrows `info`. */
int lg_results_run_create(lg_results *r, lg_run_record *info, lg_err *err) LG_WUR;

/* Sets a run's final status, finish time, metrics and gate results (JSON,
 * borrowed; either may be NULL). */
int lg_results_run_finish(lg_results *r, const char *run_id, const char *status,
                          const json_t *metrics, const json_t *gates, lg_err *err) LG_WUR;

/* Commits one trial's outcome at once (its own transaction), replacing an
 * earlier row for the same (run, case, trial). Borrows everything. */
int lg_results_put_outcome(lg_results *r, const char *run_id, const lg_outcome *o,
                           const char *session_key, const json_t *timeline,
                           lg_err *err) LG_WUR;

/* Looks a run up by id, or the newest run for "latest" (or a unique id
 * prefix). LG_ENOENT naming the id when none matches. Returns owned info. */
int lg_results_run_get(lg_results *r, const char *run_id, lg_run_record **out,
                       lg_err *err) LG_WUR;

/* The stored metrics and gates JSON of a finished run (new references, may
 * be NULL when not stored). */
int lg_results_run_json(lg_results *r, const char *run_id, json_t **metrics, json_t **gates,
                        lg_err *err) LG_WUR;

/* Loads a run's outcomes, sorted by (case, trial). Returns an owned set. */
int lg_results_outcomes(lg_results *r, const char *run_id, lg_outcome_set **out,
                        lg_err *err) LG_WUR;

/* True (and 0 returned) when the (run, case, trial) outcome exists. */
int lg_results_has_outcome(lg_results *r, const char *run_id, uint32_t case_index,
                           uint32_t trial, bool *has, lg_err *err) LG_WUR;

/* Lists runs, newest first (at most `limit`, 0 = all). Returns an owned
 * array of owned infos (free each with lg_run_record_free, then the array). */
int lg_results_list_runs(lg_results *r, size_t limit, lg_run_record ***out, size_t *n,
                         lg_err *err) LG_WUR;

/* Copies every run and outcome of `src` into `dst`. Runs with the same id
 * merge their outcomes: an outcome present in both must be identical
 * (same case, trial, reason, iterations) or the merge fails with LG_EINPUT
 * naming the run, case and trial; nothing is written then (one
 * transaction). `*runs` and `*outcomes` (if not NULL) receive counts copied. */
int lg_results_merge(lg_results *dst, lg_results *src, size_t *runs, size_t *outcomes,
                     lg_err *err) LG_WUR;

/* The path the handle was opened with (borrowed). */
const char *lg_results_path(const lg_results *r);

#endif
