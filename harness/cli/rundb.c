#include "rundb.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fs.h"
#include "core/json.h"
#include "lg_version.h"

json_t *lg_rundb_gates_to_json(const lg_rundoc_gate *g, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        const lg_gate_result *r = &g[i].result;
        json_t *o = json_pack("{s:s,s:b,s:b,s:s,s:s}", "expr", g[i].expr, "pass", r->pass,
                              "defined", r->defined, "text", r->text, "detail", r->detail);
        if (!o) {
            json_decref(a);
            return NULL;
        }
        json_object_set_new(o, "value", isfinite(r->value) ? json_real(r->value) : json_null());
        json_object_set_new(o, "threshold",
                            isfinite(r->threshold) ? json_real(r->threshold) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static lg_run_status status_of(const char *s)
{
    lg_run_status st = LG_RUN_RUNNING;
    if (s && !lg_run_status_from_name(s, &st))
        st = LG_RUN_INTERRUPTED;
    return st;
}

int lg_rundb_doc(const lg_run_record *rec, const lg_outcome_set *set, const json_t *gates,
                 const lg_rundoc_gate *live_gates, size_t n_live_gates, lg_rundoc **out,
                 lg_err *err)
{
    lg_rundoc_input in;
    lg_rundoc_gate *g = NULL;
    lg_timeline *tl = NULL;
    lg_timeline_item *items = NULL;
    size_t ng = 0, ntl = 0, nitems = 0, total_items = 0;
    int rc;

    memset(&in, 0, sizeof in);
    in.generator = "loopgate " LG_VERSION;
    in.run.id = rec->id;
    in.run.suite_name = rec->suite_name ? rec->suite_name : "?";
    in.run.suite_path = rec->suite_path;
    in.run.suite_hash = rec->suite_hash;
    in.run.mode = rec->mode;
    in.run.seed = rec->seed;
    in.run.trials = rec->trials;
    in.run.cases = rec->case_count;
    in.run.git_revision = rec->git_rev;
    in.run.started_ms = rec->started_ms;
    in.run.finished_ms = rec->finished_ms ? rec->finished_ms : -1;
    in.run.status = status_of(rec->status);
    in.outcomes = set->items;
    in.n_outcomes = set->n;

    if (live_gates) {
        in.gates = live_gates;
        in.n_gates = n_live_gates;
    } else if (json_array_size(gates)) {
        ng = json_array_size(gates);
        g = calloc(ng, sizeof *g);
        if (!g)
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        for (size_t i = 0; i < ng; i++) {
            const json_t *j = json_array_get(gates, i);
            lg_gate_result *r = &g[i].result;
            g[i].expr = lg_json_str(j, "expr", "?");
            r->pass = json_is_true(json_object_get(j, "pass"));
            r->defined = json_is_true(json_object_get(j, "defined"));
            r->value = json_is_number(json_object_get(j, "value")) ? lg_json_num(j, "value", 0) : NAN;
            r->threshold = json_is_number(json_object_get(j, "threshold"))
                               ? lg_json_num(j, "threshold", 0) : NAN;
            snprintf(r->text, sizeof r->text, "%s", lg_json_str(j, "text", ""));
            snprintf(r->detail, sizeof r->detail, "%s", lg_json_str(j, "detail", ""));
        }
        in.gates = g;
        in.n_gates = ng;
    }

    /* stored timelines: [{kind, t_ms, summary}] per failing trial */
    for (size_t i = 0; i < set->n; i++)
        if (set->timelines[i])
            total_items += json_array_size(set->timelines[i]);
    tl = calloc(set->n ? set->n : 1, sizeof *tl);
    items = calloc(total_items ? total_items : 1, sizeof *items);
    if (!tl || !items) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < set->n; i++) {
        const json_t *a = set->timelines[i];
        size_t first = nitems;
        if (!json_array_size(a))
            continue;
        for (size_t k = 0; k < json_array_size(a); k++) {
            const json_t *it = json_array_get(a, k);
            double t = lg_json_num(it, "t_ms", 0);
            items[nitems].kind = lg_json_str(it, "kind", "note");
            items[nitems].t_ms = t >= 0 ? t : 0;
            items[nitems].summary = lg_json_str(it, "summary", "");
            nitems++;
        }
        tl[ntl].case_index = set->items[i].case_index;
        tl[ntl].trial = set->items[i].trial;
        tl[ntl].items = items + first;
        tl[ntl].n_items = nitems - first;
        ntl++;
    }
    in.timelines = tl;
    in.n_timelines = ntl;
    rc = lg_rundoc_build(&in, out, err);
out:
    free(g);
    free(tl);
    free(items);
    return rc;
}

int lg_rundb_load(const char *results_path, const char *run_id, lg_rundoc **out, lg_err *err)
{
    lg_results *db = NULL;
    lg_run_record *rec = NULL;
    lg_outcome_set *set = NULL;
    json_t *metrics = NULL, *gates = NULL;
    int rc;

    *out = NULL;
    if ((rc = lg_results_open(results_path, false, &db, err)) ||
        (rc = lg_results_run_get(db, run_id, &rec, err)) ||
        (rc = lg_results_outcomes(db, rec->id, &set, err)) ||
        (rc = lg_results_run_json(db, rec->id, &metrics, &gates, err)))
        goto out;
    rc = lg_rundb_doc(rec, set, gates, NULL, 0, out, err);
out:
    json_decref(metrics);
    json_decref(gates);
    lg_outcome_set_free(set);
    lg_run_record_free(rec);
    lg_results_close(db);
    return rc;
}

int lg_rundb_load_any(const char *results_path, const char *what, lg_rundoc **out, lg_err *err)
{
    size_t n = strlen(what);
    if ((n > 5 && strcmp(what + n - 5, ".json") == 0) || strchr(what, '/') || lg_fs_exists(what))
        return lg_rundoc_load_file(what, out, err);
    return lg_rundb_load(results_path, what, out, err);
}
