/*
 * harness/cli/rundb.h - runs of the results DB as report documents.
 *
 * The glue between harness/results.h (what is stored) and reports/rundoc.h
 * (what is rendered), used by `run`, `report`, `compare` and `merge`.
 */
#ifndef LG_RUNDB_H
#define LG_RUNDB_H

#include <jansson.h>

#include "core/err.h"
#include "harness/gate.h"
#include "harness/results.h"
#include "reports/rundoc.h"

/* Gate results as stored with a run: [{expr, pass, defined, value,
 * threshold, text, detail}]. Returns a new reference or NULL (OOM). */
json_t *lg_rundb_gates_to_json(const lg_rundoc_gate *g, size_t n);

/* Builds a document of run `rec` from its outcomes, their stored
 * timelines and its stored gate results. All borrowed; `*out` owned. */
int lg_rundb_doc(const lg_run_record *rec, const lg_outcome_set *set, const json_t *gates,
                 const lg_rundoc_gate *live_gates, size_t n_live_gates, lg_rundoc **out,
                 lg_err *err);

/* Opens RESULTS, finds RUN_ID ("latest", an id or a unique prefix) and
 * builds its document. `*out` owned. */
int lg_rundb_load(const char *results_path, const char *run_id, lg_rundoc **out, lg_err *err);

/* A run given on the command line: a JSON report file (ends in .json or is
 * an existing file) or a run id in RESULTS. `*out` owned. */
int lg_rundb_load_any(const char *results_path, const char *what, lg_rundoc **out, lg_err *err);

#endif
