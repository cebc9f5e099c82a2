/*
 * reports/rundoc.c - the run report document: build, compare, JSON out, JSON in.
 */
#include "rundoc.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/json.h"
#include "core/suggest.h"

/* ---- arena: every byte a document owns, freed at once ----------------- */

#define ARENA_CHUNK ((size_t)64 * 1024)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    max_align_t data[]; /* `size` bytes */
} arena_chunk;

struct lg_rundoc_arena {
    arena_chunk *head;
};

static void *arena_alloc(struct lg_rundoc_arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    arena_chunk *c = a->head;

    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    if (!c || c->size - c->used < n) {
        size_t size = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
        if (size > SIZE_MAX - sizeof *c)
            return NULL;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->used = 0;
        c->size = size;
        /* a big one-off block goes behind the head so the head keeps filling */
        if (a->head && size != ARENA_CHUNK) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void *arena_array(struct lg_rundoc_arena *a, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    if (n > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

/* Copies a string; NULL stays NULL. *ok turns false on allocation failure. */
static const char *arena_strdup(struct lg_rundoc_arena *a, const char *s, bool *ok)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = arena_alloc(a, n + 1);
    if (!p) {
        *ok = false;
        return NULL;
    }
    memcpy(p, s, n + 1);
    return p;
}

static void arena_free(struct lg_rundoc_arena *a)
{
    if (!a)
        return;
    for (arena_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(a);
}

/* ---- names ------------------------------------------------------------ */

static const char *const status_names[LG_RUN_STATUS_COUNT + 1] = {
    "finished", "interrupted", "budget_exhausted", "running", NULL,
};

const char *lg_run_status_name(lg_run_status s)
{
    if ((int)s < 0 || s >= LG_RUN_STATUS_COUNT)
        return "unknown";
    return status_names[s];
}

bool lg_run_status_from_name(const char *name, lg_run_status *out)
{
    for (int i = 0; name && i < LG_RUN_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (lg_run_status)i;
            return true;
        }
    }
    return false;
}

/* JSON tokens of the verdicts (lg_verdict_name is the sentence for people). */
static const char *const verdict_tokens[] = {"no_change", "improved", "regressed", NULL};

/* ---- document lifecycle ------------------------------------------------ */

static lg_rundoc *doc_new(void)
{
    lg_rundoc *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->arena = calloc(1, sizeof *d->arena);
    if (!d->arena) {
        free(d);
        return NULL;
    }
    d->schema = LG_RUNDOC_SCHEMA;
    return d;
}

static void comparison_free(lg_rundoc_comparison *c)
{
    if (!c)
        return;
    lg_metrics_free(c->base_metrics);
    lg_compare_release(&c->cmp);
    free((char *)c->power_note);
    free((char *)c->base_run.id);
    free((char *)c->base_run.suite_name);
    free((char *)c->base_run.suite_path);
    free((char *)c->base_run.suite_hash);
    free((char *)c->base_run.mode);
    free((char *)c->base_run.git_revision);
    free(c);
}

void lg_rundoc_free(lg_rundoc *doc)
{
    if (!doc)
        return;
    lg_metrics_free(doc->metrics);
    comparison_free(doc->comparison);
    arena_free(doc->arena);
    free(doc);
}

static bool copy_run(struct lg_rundoc_arena *a, const lg_run_info *in, lg_run_info *out)
{
    bool ok = true;
    *out = *in;
    out->id = arena_strdup(a, in->id, &ok);
    out->suite_name = arena_strdup(a, in->suite_name, &ok);
    out->suite_path = arena_strdup(a, in->suite_path, &ok);
    out->suite_hash = arena_strdup(a, in->suite_hash, &ok);
    out->mode = arena_strdup(a, in->mode, &ok);
    out->git_revision = arena_strdup(a, in->git_revision, &ok);
    return ok;
}

static int check_run(const lg_run_info *r, const char *what, lg_err *err)
{
    if (!r->id || !r->id[0])
        return LG_ERR(err, LG_EINPUT, "%s: the run has no id", what);
    if (!r->suite_name || !r->suite_name[0])
        return LG_ERR(err, LG_EINPUT, "%s: run '%s' has no suite name", what, r->id);
    if ((int)r->status < 0 || r->status >= LG_RUN_STATUS_COUNT)
        return LG_ERR(err, LG_EINPUT, "%s: run '%s' has status %d, which is not a status", what,
                      r->id, (int)r->status);
    return 0;
}

static int cmp_outcome(const void *a, const void *b)
{
    const lg_outcome *x = a, *y = b;
    if (x->case_index != y->case_index)
        return x->case_index < y->case_index ? -1 : 1;
    if (x->trial != y->trial)
        return x->trial < y->trial ? -1 : 1;
    return 0;
}

static int cmp_timeline(const void *a, const void *b)
{
    const lg_timeline *x = a, *y = b;
    if (x->case_index != y->case_index)
        return x->case_index < y->case_index ? -1 : 1;
    if (x->trial != y->trial)
        return x->trial < y->trial ? -1 : 1;
    return 0;
}

static const lg_outcome *find_outcome(const lg_rundoc *d, uint32_t ci, uint32_t trial)
{
    lg_outcome key = {0};
    key.case_index = ci;
    key.trial = trial;
    return bsearch(&key, d->outcomes, d->n_outcomes, sizeof key, cmp_outcome);
}

const lg_timeline *lg_rundoc_find_timeline(const lg_rundoc *doc, uint32_t case_index,
                                           uint32_t trial)
{
    lg_timeline key = {case_index, trial, NULL, 0};
    if (!doc || doc->n_timelines == 0)
        return NULL;
    return bsearch(&key, doc->timelines, doc->n_timelines, sizeof key, cmp_timeline);
}

/* Deep-copies one outcome's strings and violations into the arena. */
static bool copy_outcome(struct lg_rundoc_arena *a, const lg_outcome *in, lg_outcome *out)
{
    bool ok = true;
    *out = *in;
    out->call_latency_ms = NULL; /* summarised in the metrics, not kept per trial */
    out->n_call_latency = 0;
    out->detail = arena_strdup(a, in->detail, &ok);
    if (in->n_violations) {
        lg_violation *v = arena_array(a, in->n_violations, sizeof *v);
        if (!v)
            return false;
        for (size_t i = 0; i < in->n_violations; i++) {
            v[i].name = arena_strdup(a, in->violations[i].name, &ok);
            v[i].count = in->violations[i].count;
        }
        out->violations = v;
    } else {
        out->violations = NULL;
    }
    return ok;
}

/* Copies lg_metrics through its JSON form (the one documented shape). */
static int copy_metrics(const lg_metrics *m, const char *name, lg_metrics **out, lg_err *err)
{
    json_t *j = lg_metrics_to_json(m, err);
    int rc;
    if (!j)
        return LG_ENOMEM;
    rc = lg_metrics_from_json(j, name, out, err);
    json_decref(j);
    return rc;
}

/* The metrics' per-case tallies must be those of the outcomes. */
static int check_tallies(const lg_rundoc *d, const char *name, lg_err *err)
{
    const lg_metrics *m = d->metrics;
    size_t ci = 0, i = 0;

    while (i < d->n_outcomes) {
        uint32_t c = d->outcomes[i].case_index, trials = 0, conv = 0;
        for (; i < d->n_outcomes && d->outcomes[i].case_index == c; i++) {
            trials++;
            conv += d->outcomes[i].converged;
        }
        if (ci >= m->cases || m->per_case[ci].case_index != c || m->per_case[ci].trials != trials ||
            m->per_case[ci].converged != conv)
            return LG_ERR(err, LG_EINPUT,
                          "%s: $.metrics.per_case does not match the outcomes at case %u "
                          "(outcomes: %u of %u trials converged); regenerate the report",
                          name, c, conv, trials);
        ci++;
    }
    if (ci != m->cases)
        return LG_ERR(err, LG_EINPUT,
                      "%s: $.metrics.per_case lists case %u, which has no outcome; regenerate "
                      "the report",
                      name, m->per_case[ci].case_index);
    return 0;
}

static void finish_verdict(lg_rundoc *d)
{
    d->gates_failed = 0;
    for (size_t i = 0; i < d->n_gates; i++)
        d->gates_failed += !d->gates[i].result.pass;
    d->passed = d->run.status == LG_RUN_FINISHED && d->gates_failed == 0;
}

static int copy_timelines(lg_rundoc *d, const lg_timeline *tl, size_t n, const char *name,
                          lg_err *err)
{
    bool ok = true;

    if (n == 0)
        return 0;
    d->timelines = arena_array(d->arena, n, sizeof *d->timelines);
    if (!d->timelines)
        return LG_ERR(err, LG_ENOMEM, "%s: out of memory for %zu timelines", name, n);
    for (size_t i = 0; i < n; i++) {
        lg_timeline *t = &d->timelines[i];
        lg_timeline_item *items;
        *t = tl[i];
        if (!find_outcome(d, t->case_index, t->trial))
            return LG_ERR(err, LG_EINPUT,
                          "%s: a timeline names case %u trial %u, which has no outcome", name,
                          t->case_index, t->trial);
        items = arena_array(d->arena, t->n_items, sizeof *items);
        if (t->n_items && !items)
            return LG_ERR(err, LG_ENOMEM, "%s: out of memory for a timeline", name);
        for (size_t k = 0; k < t->n_items; k++) {
            const lg_timeline_item *src = &tl[i].items[k];
            if (!src->kind || !src->kind[0] || !(src->t_ms >= 0.0) || !isfinite(src->t_ms))
                return LG_ERR(err, LG_EINPUT,
                              "%s: timeline of case %u trial %u, item %zu: needs a non-empty "
                              "kind and a finite time >= 0",
                              name, t->case_index, t->trial, k);
            items[k].kind = arena_strdup(d->arena, src->kind, &ok);
            items[k].t_ms = src->t_ms;
            items[k].summary = arena_strdup(d->arena, src->summary ? src->summary : "", &ok);
        }
        t->items = items;
    }
    if (!ok)
        return LG_ERR(err, LG_ENOMEM, "%s: out of memory for timelines", name);
    d->n_timelines = n;
    qsort(d->timelines, n, sizeof *d->timelines, cmp_timeline);
    for (size_t i = 1; i < n; i++)
        if (!cmp_timeline(&d->timelines[i - 1], &d->timelines[i]))
            return LG_ERR(err, LG_EINPUT, "%s: case %u trial %u has two timelines", name,
                          d->timelines[i].case_index, d->timelines[i].trial);
    return 0;
}

int lg_rundoc_build(const lg_rundoc_input *in, lg_rundoc **out, lg_err *err)
{
    const char *name = "run report";
    lg_case_tally *tallies = NULL;
    size_t ncases = 0;
    lg_rundoc *d;
    bool ok = true;
    int rc;

    if ((rc = check_run(&in->run, name, err)))
        return rc;
    /* validates the outcomes (duplicates, converged vs reason, ranges) */
    if ((rc = lg_metrics_tally(in->outcomes, in->n_outcomes, &tallies, &ncases, err)))
        return rc;
    free(tallies);
    for (size_t i = 0; i < in->n_gates; i++)
        if (!in->gates[i].expr || !in->gates[i].expr[0])
            return LG_ERR(err, LG_EINPUT, "%s: gate %zu has no expression", name, i);

    if (!(d = doc_new()))
        return LG_ERR(err, LG_ENOMEM, "%s: out of memory", name);
    d->generator = arena_strdup(d->arena, in->generator ? in->generator : "loopgate", &ok);
    ok = ok && copy_run(d->arena, &in->run, &d->run);

    if (in->n_outcomes) {
        d->outcomes = arena_array(d->arena, in->n_outcomes, sizeof *d->outcomes);
        ok = ok && d->outcomes;
        for (size_t i = 0; ok && i < in->n_outcomes; i++)
            ok = copy_outcome(d->arena, &in->outcomes[i], &d->outcomes[i]);
        d->n_outcomes = ok ? in->n_outcomes : 0;
        if (ok)
            qsort(d->outcomes, d->n_outcomes, sizeof *d->outcomes, cmp_outcome);
    }
    if (in->n_gates) {
        d->gates = arena_array(d->arena, in->n_gates, sizeof *d->gates);
        ok = ok && d->gates;
        for (size_t i = 0; ok && i < in->n_gates; i++) {
            d->gates[i] = in->gates[i];
            d->gates[i].expr = arena_strdup(d->arena, in->gates[i].expr, &ok);
            d->gates[i].result.text[LG_GATE_TEXT_MAX - 1] = 0;
            d->gates[i].result.detail[LG_GATE_TEXT_MAX - 1] = 0;
        }
        d->n_gates = ok ? in->n_gates : 0;
    }
    if (!ok) {
        rc = LG_ERR(err, LG_ENOMEM, "%s: out of memory copying the run", name);
        goto out_free;
    }
    if (in->metrics) {
        if ((rc = copy_metrics(in->metrics, name, &d->metrics, err)))
            goto out_free;
    } else if ((rc = lg_metrics_compute(in->outcomes, in->n_outcomes, NULL, &d->metrics, err))) {
        goto out_free;
    }
    if ((rc = check_tallies(d, name, err)))
        goto out_free;
    if ((rc = copy_timelines(d, in->timelines, in->n_timelines, name, err)))
        goto out_free;
    finish_verdict(d);
    *out = d;
    return 0;
out_free:
    lg_rundoc_free(d);
    return rc;
}

/* ---- comparison --------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *ok)
{
    char *p;
    if (!s)
        return NULL;
    if (!(p = strdup(s)))
        *ok = false;
    return p;
}

int lg_rundoc_compare_metrics(lg_rundoc *doc, const lg_run_info *base_run,
                              const lg_metrics *base_metrics,
                              const lg_rundoc_compare_opts *opts, lg_err *err)
{
    double alpha = opts && opts->alpha != 0.0 ? opts->alpha : 0.05;
    double drop = opts && opts->drop != 0.0 ? opts->drop : 0.05;
    lg_case_rule rule = opts ? opts->rule : LG_CASE_MAJORITY;
    lg_rundoc_comparison *c;
    lg_buf note = LG_BUF_INIT;
    bool ok = true;
    int rc;

    if (!(alpha > 0.0 && alpha < 1.0))
        return LG_ERR(err, LG_EINPUT, "compare: alpha %g is not in (0, 1)", alpha);
    if (!(drop > 0.0 && drop < 1.0))
        return LG_ERR(err, LG_EINPUT, "compare: drop %g is not in (0, 1)", drop);
    if ((rc = check_run(base_run, "compare: baseline", err)))
        return rc;
    if (!(c = calloc(1, sizeof *c)))
        return LG_ERR(err, LG_ENOMEM, "compare: out of memory");
    c->drop = drop;
    if ((rc = lg_compare_cases(base_metrics->per_case, base_metrics->cases, doc->metrics->per_case,
                               doc->metrics->cases, rule, alpha, &c->cmp, err)))
        goto out_free;
    if ((rc = lg_compare_power_note(&c->cmp, drop, &note, err)))
        goto out_free;
    c->power_note = lg_buf_take(&note, NULL);
    if ((rc = copy_metrics(base_metrics, "baseline", &c->base_metrics, err)))
        goto out_free;
    c->base_run = *base_run;
    c->base_run.id = dup_or_null(base_run->id, &ok);
    c->base_run.suite_name = dup_or_null(base_run->suite_name, &ok);
    c->base_run.suite_path = dup_or_null(base_run->suite_path, &ok);
    c->base_run.suite_hash = dup_or_null(base_run->suite_hash, &ok);
    c->base_run.mode = dup_or_null(base_run->mode, &ok);
    c->base_run.git_revision = dup_or_null(base_run->git_revision, &ok);
    if (!ok || !c->power_note) {
        rc = LG_ERR(err, LG_ENOMEM, "compare: out of memory");
        goto out_free;
    }
    comparison_free(doc->comparison);
    doc->comparison = c;
    return 0;
out_free:
    lg_buf_release(&note);
    comparison_free(c);
    return rc;
}

int lg_rundoc_compare(lg_rundoc *doc, const lg_rundoc *base, const lg_rundoc_compare_opts *opts,
                      lg_err *err)
{
    return lg_rundoc_compare_metrics(doc, &base->run, base->metrics, opts, err);
}

/* ---- JSON out ----------------------------------------------------------- */

static void put(json_t *obj, const char *key, json_t *v, bool *ok)
{
    if (!v || json_object_set_new_nocheck(obj, key, v) != 0)
        *ok = false;
}

static void push(json_t *arr, json_t *v, bool *ok)
{
    if (!v || json_array_append_new(arr, v) != 0)
        *ok = false;
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *juint(uint64_t x)
{
    return json_integer(x > (uint64_t)LLONG_MAX ? LLONG_MAX : (json_int_t)x);
}

/* A string, or null. Invalid UTF-8 makes json_string fail: those bytes
 * come from loops under test, so they are repaired rather than refused. */
static json_t *jstr(const char *s)
{
    json_t *v;
    if (!s)
        return json_null();
    if ((v = json_string(s)))
        return v;
    size_t n = strlen(s);
    char *fixed = malloc(n * 3 + 1), *o = fixed;
    if (!fixed)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3
                                  : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool valid = len > 0 && i + len <= n;
        for (size_t k = 1; valid && k < len; k++)
            valid = ((unsigned char)s[i + k] & 0xC0) == 0x80;
        if (valid && len > 1) {
            /* overlong forms, surrogates and > U+10FFFF are invalid too */
            unsigned char c1 = (unsigned char)s[i + 1];
            valid = !(len == 2 && c < 0xC2) && !(len == 3 && c == 0xE0 && c1 < 0xA0) &&
                    !(len == 3 && c == 0xED && c1 >= 0xA0) &&
                    !(len == 4 && c == 0xF0 && c1 < 0x90) && !(len == 4 && c > 0xF4) &&
                    !(len == 4 && c == 0xF4 && c1 >= 0x90);
        }
        if (valid) {
            memcpy(o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3); /* U+FFFD */
            o += 3;
            i++;
        }
    }
    *o = 0;
    v = json_string(fixed);
    free(fixed);
    return v;
}

static json_t *jtime(int64_t ms)
{
    char iso[25];
    if (ms < 0)
        return json_null();
    lg_clock_iso8601(ms, iso);
    return json_string(iso);
}

static json_t *run_json(const lg_run_info *r, bool *ok)
{
    json_t *o = json_object(), *s = json_object();
    char seed[24];

    if (!o || !s) {
        json_decref(o);
        json_decref(s);
        *ok = false;
        return NULL;
    }
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    put(o, "id", jstr(r->id), ok);
    put(s, "name", jstr(r->suite_name), ok);
    put(s, "path", jstr(r->suite_path), ok);
    put(s, "hash", jstr(r->suite_hash), ok);
    put(o, "suite", s, ok);
    put(o, "mode", jstr(r->mode), ok);
    put(o, "seed", json_string(seed), ok);
    put(o, "trials", juint(r->trials), ok);
    put(o, "cases", juint(r->cases), ok);
    put(o, "git_revision", jstr(r->git_revision), ok);
    put(o, "started", jtime(r->started_ms), ok);
    put(o, "finished", jtime(r->finished_ms), ok);
    put(o, "status", json_string(lg_run_status_name(r->status)), ok);
    return o;
}

static json_t *outcome_json(const lg_rundoc *d, const lg_outcome *oc, bool *ok)
{
    json_t *o = json_object(), *t, *v;
    const lg_timeline *tl;

    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "case", juint(oc->case_index), ok);
    put(o, "trial", juint(oc->trial), ok);
    put(o, "converged", json_boolean(oc->converged), ok);
    put(o, "reason", json_string(lg_term_reason_name(oc->reason)), ok);
    put(o, "iterations", juint(oc->iterations), ok);
    put(o, "model_calls", juint(oc->model_calls), ok);
    if ((t = json_object())) {
        put(t, "in", juint(oc->tokens_in), ok);
        put(t, "out", juint(oc->tokens_out), ok);
        put(t, "cached", juint(oc->tokens_cached), ok);
    }
    put(o, "tokens", t, ok);
    put(o, "cost_usd", oc->cost_known ? jnum(oc->cost_usd) : json_null(), ok);
    put(o, "wall_ms", jnum(oc->wall_ms), ok);
    if ((v = json_array())) {
        for (size_t i = 0; i < oc->n_violations; i++) {
            json_t *e = json_object();
            if (e) {
                put(e, "name", jstr(oc->violations[i].name), ok);
                put(e, "count", juint(oc->violations[i].count), ok);
            }
            push(v, e, ok);
        }
    }
    put(o, "violations", v, ok);
    put(o, "detail", jstr(oc->detail), ok);
    if ((tl = lg_rundoc_find_timeline(d, oc->case_index, oc->trial))) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < tl->n_items; i++) {
            json_t *e = json_object();
            if (e) {
                put(e, "kind", jstr(tl->items[i].kind), ok);
                put(e, "t_ms", jnum(tl->items[i].t_ms), ok);
                put(e, "summary", jstr(tl->items[i].summary), ok);
            }
            push(a, e, ok);
        }
        put(o, "timeline", a, ok);
    }
    return o;
}

static json_t *gate_json(const lg_rundoc_gate *g, bool *ok)
{
    json_t *o = json_object();
    if (!o) {
        *ok = false;
        return NULL;
    }
    put(o, "expression", jstr(g->expr), ok);
    put(o, "value", jnum(g->result.value), ok);
    put(o, "threshold", jnum(g->result.threshold), ok);
    put(o, "pass", json_boolean(g->result.pass), ok);
    put(o, "defined", json_boolean(g->result.defined), ok);
    put(o, "text", jstr(g->result.text), ok);
    put(o, "detail", jstr(g->result.detail), ok);
    return o;
}

static json_t *cases_json(const uint32_t *v, size_t n, bool *ok)
{
    json_t *a = json_array();
    if (!a) {
        *ok = false;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        push(a, juint(v[i]), ok);
    return a;
}

static json_t *comparison_json(const lg_rundoc_comparison *c, lg_err *err, bool *ok)
{
    json_t *o = json_object(), *b = json_object();
    if (!o || !b) {
        json_decref(o);
        json_decref(b);
        *ok = false;
        return NULL;
    }
    put(b, "run", run_json(&c->base_run, ok), ok);
    put(b, "metrics", lg_metrics_to_json(c->base_metrics, err), ok);
    put(o, "baseline", b, ok);
    put(o, "alpha", jnum(c->cmp.alpha), ok);
    put(o, "rule", json_string(lg_case_rule_name(c->cmp.rule)), ok);
    put(o, "drop", jnum(c->drop), ok);
    put(o, "shared", juint(c->cmp.shared), ok);
    put(o, "base_only", juint(c->cmp.base_only), ok);
    put(o, "cand_only", juint(c->cmp.cand_only), ok);
    put(o, "both_pass", juint(c->cmp.both_pass), ok);
    put(o, "both_fail", juint(c->cmp.both_fail), ok);
    put(o, "regressions", juint(c->cmp.b), ok);
    put(o, "improvements", juint(c->cmp.c), ok);
    put(o, "base_rate", jnum(c->cmp.base_rate), ok);
    put(o, "cand_rate", jnum(c->cmp.cand_rate), ok);
    put(o, "p_value", jnum(c->cmp.p_value), ok);
    put(o, "verdict", json_string(verdict_tokens[c->cmp.verdict]), ok);
    put(o, "regressed", cases_json(c->cmp.regressed, c->cmp.b, ok), ok);
    put(o, "improved", cases_json(c->cmp.improved, c->cmp.c, ok), ok);
    put(o, "power_note", jstr(c->power_note), ok);
    return o;
}

void lg_rundoc_verdict_summary(const lg_rundoc *d, char *buf, size_t len)
{
    if (d->run.status != LG_RUN_FINISHED)
        snprintf(buf, len, "FAIL: run %s; %zu of %zu gates failed",
                 lg_run_status_name(d->run.status), d->gates_failed, d->n_gates);
    else
        snprintf(buf, len, "%s: %zu of %zu gates failed", d->passed ? "PASS" : "FAIL",
                 d->gates_failed, d->n_gates);
}

json_t *lg_rundoc_to_json(const lg_rundoc *d, lg_err *err)
{
    json_t *j = json_object(), *a, *v;
    char summary[160];
    bool ok = true;

    if (!j)
        goto oom;
    put(j, "schema", json_integer(LG_RUNDOC_SCHEMA), &ok);
    put(j, "generator", jstr(d->generator), &ok);
    put(j, "run", run_json(&d->run, &ok), &ok);
    lg_rundoc_verdict_summary(d, summary, sizeof summary);
    if ((v = json_object())) {
        put(v, "passed", json_boolean(d->passed), &ok);
        put(v, "gates", juint(d->n_gates), &ok);
        put(v, "gates_failed", juint(d->gates_failed), &ok);
        put(v, "summary", json_string(summary), &ok);
    }
    put(j, "verdict", v, &ok);
    put(j, "metrics", lg_metrics_to_json(d->metrics, err), &ok);
    if ((a = json_array()))
        for (size_t i = 0; i < d->n_gates; i++)
            push(a, gate_json(&d->gates[i], &ok), &ok);
    put(j, "gates", a, &ok);
    if ((a = json_array()))
        for (size_t i = 0; i < d->n_outcomes && ok; i++)
            push(a, outcome_json(d, &d->outcomes[i], &ok), &ok);
    put(j, "outcomes", a, &ok);
    if (d->comparison)
        put(j, "comparison", comparison_json(d->comparison, err, &ok), &ok);
    if (ok)
        return j;
oom:
    json_decref(j);
    LG_ERR(err, LG_ENOMEM, "run report: out of memory building JSON");
    return NULL;
}

/* ---- JSON in ------------------------------------------------------------ */

typedef struct reader {
    const char *name;
    lg_err *err;
    int rc;
    struct lg_rundoc_arena *arena;
} reader;

/* Records "NAME: PATH.KEY: MESSAGE" (first error wins). */
static void __attribute__((format(printf, 4, 5)))
fail(reader *r, const char *path, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    if (r->rc)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->rc = LG_ERR(r->err, LG_EINPUT, "%s: %s%s%s: %s", r->name, path, key ? "." : "",
                   key ? key : "", msg);
}

static const json_t *get(reader *r, const json_t *obj, const char *path, const char *key)
{
    const json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v && obj)
        fail(r, path, key, "missing (required)");
    return v;
}

static const json_t *get_obj(reader *r, const json_t *obj, const char *path, const char *key)
{
    const json_t *v = get(r, obj, path, key);
    if (v && !json_is_object(v)) {
        fail(r, path, key, "expected an object");
        return NULL;
    }
    return v;
}

static const json_t *get_arr(reader *r, const json_t *obj, const char *path, const char *key)
{
    const json_t *v = get(r, obj, path, key);
    if (v && !json_is_array(v)) {
        fail(r, path, key, "expected an array");
        return NULL;
    }
    return v;
}

/* An integer in [0, max]. */
static uint64_t get_uint(reader *r, const json_t *obj, const char *path, const char *key,
                         uint64_t max)
{
    const json_t *v = get(r, obj, path, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max) {
        fail(r, path, key, "expected an integer in [0, %llu]", (unsigned long long)max);
        return 0;
    }
    return (uint64_t)json_integer_value(v);
}

/* A finite number >= 0, or null (NaN) when `nullable`. */
static double get_nonneg(reader *r, const json_t *obj, const char *path, const char *key,
                         bool nullable)
{
    const json_t *v = get(r, obj, path, key);
    if (!v)
        return NAN;
    if (nullable && json_is_null(v))
        return NAN;
    if (!json_is_number(v) || !(json_number_value(v) >= 0.0)) {
        fail(r, path, key, nullable ? "expected a number >= 0 or null" : "expected a number >= 0");
        return NAN;
    }
    return json_number_value(v);
}

static bool get_bool(reader *r, const json_t *obj, const char *path, const char *key)
{
    const json_t *v = get(r, obj, path, key);
    if (v && !json_is_boolean(v))
        fail(r, path, key, "expected true or false");
    return json_is_true(v);
}

/* A string copied into the arena (NULL for null when `nullable`). */
static const char *get_str(reader *r, const json_t *obj, const char *path, const char *key,
                           bool nullable, bool nonempty)
{
    const json_t *v = get(r, obj, path, key);
    bool ok = true;
    const char *s;
    if (!v)
        return NULL;
    if (nullable && json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        fail(r, path, key, nullable ? "expected a string or null" : "expected a string");
        return NULL;
    }
    if (nonempty && json_string_length(v) == 0) {
        fail(r, path, key, "expected a non-empty string");
        return NULL;
    }
    s = arena_strdup(r->arena, json_string_value(v), &ok);
    if (!ok && !r->rc)
        r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: out of memory", r->name);
    return s;
}

static int64_t get_time(reader *r, const json_t *obj, const char *path, const char *key)
{
    const json_t *v = get(r, obj, path, key);
    int64_t ms;
    if (!v || json_is_null(v))
        return -1;
    if (!json_is_string(v) || !lg_rundoc_parse_time(json_string_value(v), &ms)) {
        fail(r, path, key, "expected null or a UTC time like \"2026-11-21T14:59:03.123Z\"");
        return -1;
    }
    return ms;
}

/* Parses an enum name with a "did you mean" hint. */
static bool get_enum(reader *r, const json_t *obj, const char *path, const char *key,
                     const char *const *names, int *out)
{
    const json_t *v = get(r, obj, path, key);
    const char *s, *guess;
    if (!v)
        return false;
    if (!json_is_string(v)) {
        fail(r, path, key, "expected a string");
        return false;
    }
    s = json_string_value(v);
    for (int i = 0; names[i]; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return true;
        }
    }
    guess = lg_suggest(s, names);
    if (guess)
        fail(r, path, key, "unknown value '%s' (did you mean '%s'?)", s, guess);
    else
        fail(r, path, key, "unknown value '%s' (expected one of %s, %s, ...)", s, names[0],
             names[1]);
    return false;
}

static void read_run(reader *r, const json_t *o, const char *path, lg_run_info *run)
{
    char sub[192];
    const json_t *suite, *seed;
    int st = 0;

    if (!o)
        return;
    run->id = get_str(r, o, path, "id", false, true);
    snprintf(sub, sizeof sub, "%s.suite", path);
    if ((suite = get_obj(r, o, path, "suite"))) {
        run->suite_name = get_str(r, suite, sub, "name", false, true);
        run->suite_path = get_str(r, suite, sub, "path", true, false);
        run->suite_hash = get_str(r, suite, sub, "hash", true, false);
    }
    run->mode = get_str(r, o, path, "mode", true, false);
    if ((seed = get(r, o, path, "seed"))) {
        const char *s = json_string_value(seed);
        char *end = NULL;
        unsigned long long x = 0;
        bool good = s && s[0] >= '0' && s[0] <= '9' && strlen(s) <= 20;
        if (good) {
            x = strtoull(s, &end, 10);
            good = *end == 0 && !(x == ULLONG_MAX && strcmp(s, "18446744073709551615") != 0);
        }
        if (!good)
            fail(r, path, "seed", "expected a string of decimal digits (a 64-bit seed)");
        run->seed = x;
    }
    run->trials = (uint32_t)get_uint(r, o, path, "trials", UINT32_MAX);
    run->cases = get_uint(r, o, path, "cases", INT64_MAX);
    run->git_revision = get_str(r, o, path, "git_revision", true, false);
    run->started_ms = get_time(r, o, path, "started");
    run->finished_ms = get_time(r, o, path, "finished");
    if (get_enum(r, o, path, "status", status_names, &st))
        run->status = (lg_run_status)st;
}

static void read_outcome(reader *r, const json_t *o, const char *path, lg_outcome *oc,
                         lg_timeline *tl)
{
    char sub[192];
    const json_t *t, *v;
    int reason = 0;
    double cost;

    oc->case_index = (uint32_t)get_uint(r, o, path, "case", UINT32_MAX);
    oc->trial = (uint32_t)get_uint(r, o, path, "trial", UINT32_MAX);
    oc->converged = get_bool(r, o, path, "converged");
    if (get_enum(r, o, path, "reason", lg_term_reason_names, &reason))
        oc->reason = (lg_term_reason)reason;
    if (!r->rc && oc->converged != (oc->reason == LG_TERM_SUCCESS))
        fail(r, path, "converged", "is %s but the reason is '%s' (a trial converges exactly "
             "when its reason is 'success')",
             oc->converged ? "true" : "false", lg_term_reason_name(oc->reason));
    oc->iterations = (uint32_t)get_uint(r, o, path, "iterations", UINT32_MAX);
    oc->model_calls = (uint32_t)get_uint(r, o, path, "model_calls", UINT32_MAX);
    snprintf(sub, sizeof sub, "%s.tokens", path);
    if ((t = get_obj(r, o, path, "tokens"))) {
        oc->tokens_in = get_uint(r, t, sub, "in", INT64_MAX);
        oc->tokens_out = get_uint(r, t, sub, "out", INT64_MAX);
        oc->tokens_cached = get_uint(r, t, sub, "cached", INT64_MAX);
        if (!r->rc && oc->tokens_cached > oc->tokens_in)
            fail(r, sub, "cached", "is more than 'in' (cached tokens are part of 'in')");
    }
    cost = get_nonneg(r, o, path, "cost_usd", true);
    oc->cost_known = !isnan(cost);
    oc->cost_usd = oc->cost_known ? cost : 0.0;
    oc->wall_ms = get_nonneg(r, o, path, "wall_ms", false);
    if ((v = get_arr(r, o, path, "violations")) && json_array_size(v)) {
        size_t n = json_array_size(v);
        lg_violation *vs = arena_array(r->arena, n, sizeof *vs);
        if (!vs) {
            if (!r->rc)
                r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: out of memory", r->name);
            return;
        }
        for (size_t i = 0; i < n && !r->rc; i++) {
            const json_t *e = json_array_get(v, i);
            snprintf(sub, sizeof sub, "%s.violations[%zu]", path, i);
            if (!json_is_object(e)) {
                fail(r, sub, NULL, "expected an object {name, count}");
                break;
            }
            vs[i].name = get_str(r, e, sub, "name", false, true);
            vs[i].count = (uint32_t)get_uint(r, e, sub, "count", UINT32_MAX);
            if (!r->rc && vs[i].count == 0)
                fail(r, sub, "count", "expected an integer >= 1");
        }
        oc->violations = vs;
        oc->n_violations = n;
    }
    oc->detail = get_str(r, o, path, "detail", true, false);
    tl->case_index = oc->case_index;
    tl->trial = oc->trial;
    if ((t = json_object_get(o, "timeline"))) {
        size_t n;
        lg_timeline_item *items;
        if (!json_is_array(t)) {
            fail(r, path, "timeline", "expected an array");
            return;
        }
        n = json_array_size(t);
        items = arena_array(r->arena, n ? n : 1, sizeof *items);
        if (!items) {
            if (!r->rc)
                r->rc = LG_ERR(r->err, LG_ENOMEM, "%s: out of memory", r->name);
            return;
        }
        for (size_t i = 0; i < n && !r->rc; i++) {
            const json_t *e = json_array_get(t, i);
            snprintf(sub, sizeof sub, "%s.timeline[%zu]", path, i);
            if (!json_is_object(e)) {
                fail(r, sub, NULL, "expected an object {kind, t_ms, summary}");
                break;
            }
            items[i].kind = get_str(r, e, sub, "kind", false, true);
            items[i].t_ms = get_nonneg(r, e, sub, "t_ms", false);
            items[i].summary = get_str(r, e, sub, "summary", false, false);
        }
        tl->items = items;
        tl->n_items = n;
    }
}

static void read_gate(reader *r, const json_t *o, const char *path, lg_rundoc_gate *g)
{
    const json_t *v;
    const char *s;

    g->expr = get_str(r, o, path, "expression", false, true);
    if ((v = get(r, o, path, "value")) && !json_is_number(v) && !json_is_null(v))
        fail(r, path, "value", "expected a number or null");
    g->result.value = json_is_number(v) ? json_number_value(v) : NAN;
    if ((v = get(r, o, path, "threshold")) && !json_is_number(v) && !json_is_null(v))
        fail(r, path, "threshold", "expected a number or null");
    g->result.threshold = json_is_number(v) ? json_number_value(v) : NAN;
    g->result.pass = get_bool(r, o, path, "pass");
    g->result.defined = get_bool(r, o, path, "defined");
    if (!r->rc && g->result.pass && !g->result.defined)
        fail(r, path, "pass", "is true but 'defined' is false (an undefined gate fails)");
    if ((s = get_str(r, o, path, "text", false, false)))
        snprintf(g->result.text, sizeof g->result.text, "%s", s);
    if ((s = get_str(r, o, path, "detail", false, false)))
        snprintf(g->result.detail, sizeof g->result.detail, "%s", s);
}

static void read_comparison(reader *r, lg_rundoc *d, const json_t *c)
{
    const json_t *b, *v;
    lg_run_info base = {0};
    lg_metrics *bm = NULL;
    lg_rundoc_compare_opts opts = {0};
    char mname[256];
    int rule = 0;

    if (!json_is_object(c)) {
        fail(r, "$", "comparison", "expected an object");
        return;
    }
    if (!(b = get_obj(r, c, "$.comparison", "baseline")))
        return;
    read_run(r, get_obj(r, b, "$.comparison.baseline", "run"), "$.comparison.baseline.run", &base);
    if (r->rc)
        return;
    if (!(v = get_obj(r, b, "$.comparison.baseline", "metrics")))
        return;
    snprintf(mname, sizeof mname, "%s: $.comparison.baseline", r->name);
    if ((r->rc = lg_metrics_from_json(v, mname, &bm, r->err)))
        return;
    opts.alpha = get_nonneg(r, c, "$.comparison", "alpha", false);
    opts.drop = get_nonneg(r, c, "$.comparison", "drop", false);
    if (get_enum(r, c, "$.comparison", "rule", (const char *const[]){"majority", "all", "any",
                                                                      NULL},
                 &rule))
        opts.rule = (lg_case_rule)rule;
    if (!r->rc && !(opts.alpha > 0.0 && opts.alpha < 1.0))
        fail(r, "$.comparison", "alpha", "expected a number in (0, 1)");
    if (!r->rc && !(opts.drop > 0.0 && opts.drop < 1.0))
        fail(r, "$.comparison", "drop", "expected a number in (0, 1)");
    /* the test's numbers are recomputed from both runs' per-case tallies */
    if (!r->rc)
        r->rc = lg_rundoc_compare_metrics(d, &base, bm, &opts, r->err);
    if (r->rc)
        lg_err_prefix(r->err, "%s: $.comparison", r->name);
    lg_metrics_free(bm);
}

int lg_rundoc_load_json(const json_t *j, const char *name, lg_rundoc **out, lg_err *err)
{
    reader r = {name ? name : "<report>", err, 0, NULL};
    const json_t *v, *arr;
    lg_timeline *tls = NULL;
    lg_rundoc *d;
    char path[64], mname[256];
    size_t ntl = 0;

    if (!json_is_object(j))
        return LG_ERR(err, LG_EINPUT, "%s: $: expected a JSON object (a loopgate run report)",
                      r.name);
    v = json_object_get(j, "schema");
    if (!json_is_integer(v))
        return LG_ERR(err, LG_EINPUT,
                      "%s: $.schema: missing or not an integer; is this a loopgate run report "
                      "(loopgate report --format json)?",
                      r.name);
    if (json_integer_value(v) > LG_RUNDOC_SCHEMA)
        return LG_ERR(err, LG_EFORMAT,
                      "%s: run report schema %lld is newer than this loopgate (reads up to %d); "
                      "upgrade loopgate",
                      r.name, (long long)json_integer_value(v), LG_RUNDOC_SCHEMA);
    if (json_integer_value(v) < 1)
        return LG_ERR(err, LG_EINPUT, "%s: $.schema: %lld is not a valid version", r.name,
                      (long long)json_integer_value(v));
    if (!(d = doc_new()))
        return LG_ERR(err, LG_ENOMEM, "%s: out of memory", r.name);
    r.arena = d->arena;

    if (json_object_get(j, "generator"))
        d->generator = get_str(&r, j, "$", "generator", false, false);
    if (!d->generator && !r.rc) {
        bool ok = true;
        d->generator = arena_strdup(d->arena, "loopgate", &ok);
        if (!ok)
            r.rc = LG_ERR(err, LG_ENOMEM, "%s: out of memory", r.name);
    }
    read_run(&r, get_obj(&r, j, "$", "run"), "$.run", &d->run);
    if (!r.rc && (v = get_obj(&r, j, "$", "metrics"))) {
        snprintf(mname, sizeof mname, "%s: $.metrics", r.name);
        r.rc = lg_metrics_from_json(v, mname, &d->metrics, err);
    }
    if (!r.rc && (arr = get_arr(&r, j, "$", "gates")) && json_array_size(arr)) {
        d->n_gates = json_array_size(arr);
        d->gates = arena_array(d->arena, d->n_gates, sizeof *d->gates);
        if (!d->gates)
            r.rc = LG_ERR(err, LG_ENOMEM, "%s: out of memory", r.name);
        for (size_t i = 0; i < d->n_gates && !r.rc; i++) {
            snprintf(path, sizeof path, "$.gates[%zu]", i);
            if (!json_is_object(json_array_get(arr, i)))
                fail(&r, path, NULL, "expected an object");
            else
                read_gate(&r, json_array_get(arr, i), path, &d->gates[i]);
        }
    }
    if (!r.rc && (arr = get_arr(&r, j, "$", "outcomes")) && json_array_size(arr)) {
        size_t n = json_array_size(arr);
        d->outcomes = arena_array(d->arena, n, sizeof *d->outcomes);
        tls = calloc(n, sizeof *tls);
        if (!d->outcomes || !tls)
            r.rc = LG_ERR(err, LG_ENOMEM, "%s: out of memory for %zu outcomes", r.name, n);
        for (size_t i = 0; i < n && !r.rc; i++) {
            const json_t *o = json_array_get(arr, i);
            snprintf(path, sizeof path, "$.outcomes[%zu]", i);
            if (!json_is_object(o)) {
                fail(&r, path, NULL, "expected an object");
                break;
            }
            read_outcome(&r, o, path, &d->outcomes[i], &tls[ntl]);
            if (tls[ntl].items)
                ntl++;
            d->n_outcomes = i + 1;
        }
        if (!r.rc) {
            qsort(d->outcomes, d->n_outcomes, sizeof *d->outcomes, cmp_outcome);
            for (size_t i = 1; i < d->n_outcomes && !r.rc; i++)
                if (!cmp_outcome(&d->outcomes[i - 1], &d->outcomes[i]))
                    r.rc = LG_ERR(err, LG_EINPUT,
                                  "%s: $.outcomes: case %u trial %u appears twice", r.name,
                                  d->outcomes[i].case_index, d->outcomes[i].trial);
        }
    }
    if (!r.rc)
        r.rc = check_tallies(d, r.name, err);
    if (!r.rc && ntl) {
        /* items already live in the arena; copy_timelines copies them again
         * (small: timelines are short) and checks they name outcomes */
        r.rc = copy_timelines(d, tls, ntl, r.name, err);
    }
    if (!r.rc && (v = json_object_get(j, "comparison")) && !json_is_null(v))
        read_comparison(&r, d, v);
    free(tls);
    if (r.rc) {
        lg_rundoc_free(d);
        return r.rc;
    }
    finish_verdict(d);
    *out = d;
    return 0;
}

int lg_rundoc_load_file(const char *path, lg_rundoc **out, lg_err *err)
{
    json_t *j = lg_json_load_file(path, err);
    int rc;
    if (!j)
        return err && err->code ? err->code : LG_EIO;
    rc = lg_rundoc_load_json(j, path, out, err);
    json_decref(j);
    return rc;
}

bool lg_rundoc_parse_time(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec, n = 0;
    long ms = 0;
    struct tm tm;
    time_t t;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return false;
    s += n;
    if (*s == '.') {
        int digits = 0;
        for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
            if (digits < 3)
                ms = ms * 10 + (*s - '0');
        }
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(s, "Z") != 0)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return false;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return false;
    *out_ms = (int64_t)t * 1000 + ms;
    return true;
}
