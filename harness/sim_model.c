/* harness/sim_model.c - the simulated model's behaviour model; see sim_model.h. */
#include "sim_model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/pcg.h"
#include "core/suggest.h"
#include "harness/cases.h"

/* Cases scanned for the content match (a request without case headers or hint). */
#define MATCH_MAX_CASES 5000
/* Shortest field text worth matching on: shorter ones match by accident. */
#define MATCH_MIN_LEN 8

typedef struct dist {
    double median; /* 0: unset */
    double p95;    /* == median: constant */
} dist;

typedef struct on_answer {
    char *choice;
    char *tool;
} on_answer;

struct lg_sim_model {
    const lg_suite *suite;
    int task;
    uint64_t seed;
    char *answer_field, *wrong_field;
    char **choices;
    size_t nchoices;
    char **before;
    size_t nbefore;
    on_answer *on;
    size_t non;
    double p0, gain, malformed, silent_wrong, wrong_tool, repeat_tool;
    dist latency, out_tokens;
    double p429, p500, pcut, pslow;
    unsigned retry_after_ms, slow_ms, tool_turns;
    bool have_retry_after, have_slow, have_tool_turns;
    /* content match: the longest visible text of each case (NULL: none) */
    char **match;
    size_t nmatch;
};

/* ------------------------------------------------------------- parsing */

static const char *const sim_keys[] = {
    "task", "seed", "answer_field", "wrong_field", "choices", "before_answer", "on_answer",
    "p_first_correct", "feedback_gain", "malformed_rate", "silent_wrong_rate",
    "wrong_tool_rate", "repeat_tool_rate", "latency_ms", "output_tokens", "faults",
    "retry_after_ms", "slow_ms", "tool_turns", NULL,
};

typedef struct pctx {
    const lg_suite *s;
    const char *file;
    lg_err *err;
} pctx;

static int bad(const pctx *p, const lg_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(const pctx *p, const lg_ynode *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return LG_ERR(p->err, LG_EINPUT, "%s:%d:%d: sim: %s", p->file, n ? n->line : 1,
                  n ? n->col : 1, msg);
}

static int get_rate(const pctx *p, const lg_ynode *map, const char *key, double def, double *out)
{
    const lg_ynode *v = lg_ynode_get(map, key);
    char d[64];
    *out = def;
    if (!v)
        return 0;
    if (!lg_ynode_num(v, out) || !(*out >= 0.0 && *out <= 1.0))
        return bad(p, v, "'%s' must be a probability in [0, 1], got %s", key,
                   lg_ynode_describe(v, d, sizeof d));
    return 0;
}

static int get_uint(const pctx *p, const lg_ynode *map, const char *key, unsigned long long max,
                    unsigned long long *out, bool *have)
{
    const lg_ynode *v = lg_ynode_get(map, key);
    char d[64];
    if (have)
        *have = v != NULL;
    if (!v)
        return 0;
    if (!lg_ynode_u64(v, out) || *out > max)
        return bad(p, v, "'%s' must be an integer from 0 to %llu, got %s", key, max,
                   lg_ynode_describe(v, d, sizeof d));
    return 0;
}

static int get_str(const pctx *p, const lg_ynode *map, const char *key, char **out)
{
    const lg_ynode *v = lg_ynode_get(map, key);
    char d[64];
    if (!v)
        return 0;
    if (v->kind != LG_YSCALAR || lg_ynode_is_null(v) || v->len == 0)
        return bad(p, v, "'%s' must be a non-empty string, got %s", key,
                   lg_ynode_describe(v, d, sizeof d));
    if (!(*out = strdup(v->text)))
        return LG_ERR(p->err, LG_ENOMEM, "out of memory");
    return 0;
}

static int get_strlist(const pctx *p, const lg_ynode *map, const char *key, char ***out,
                       size_t *n)
{
    const lg_ynode *v = lg_ynode_get(map, key);
    char d[64];
    if (!v)
        return 0;
    if (v->kind != LG_YSEQ)
        return bad(p, v, "'%s' must be a list of strings, got %s", key,
                   lg_ynode_describe(v, d, sizeof d));
    *out = calloc(v->n + 1, sizeof **out);
    if (!*out)
        return LG_ERR(p->err, LG_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        const lg_ynode *it = v->items[i];
        if (it->kind != LG_YSCALAR || lg_ynode_is_null(it) || it->len == 0)
            return bad(p, it, "'%s' must be a list of strings; item %zu is %s", key, i + 1,
                       lg_ynode_describe(it, d, sizeof d));
        if (!((*out)[i] = strdup(it->text)))
            return LG_ERR(p->err, LG_ENOMEM, "out of memory");
        (*n)++;
    }
    return 0;
}

/* `number` or {median: M, p95: Q} with 0 <= M <= Q. */
static int get_dist(const pctx *p, const lg_ynode *map, const char *key, double max, dist *out)
{
    const lg_ynode *v = lg_ynode_get(map, key);
    char d[64];
    double x;
    if (!v)
        return 0;
    if (v->kind == LG_YSCALAR) {
        if (!lg_ynode_num(v, &x) || x < 0 || x > max)
            return bad(p, v, "'%s' must be a number from 0 to %g or {median: M, p95: Q}, got %s",
                       key, max, lg_ynode_describe(v, d, sizeof d));
        out->median = out->p95 = x;
        return 0;
    }
    if (v->kind != LG_YMAP)
        return bad(p, v, "'%s' must be a number or {median: M, p95: Q}", key);
    static const char *const dk[] = {"median", "p95", NULL};
    int rc = lg_ynode_check_keys(v, dk, p->file, key, p->err);
    if (rc)
        return rc;
    const lg_ynode *m = lg_ynode_get(v, "median"), *q = lg_ynode_get(v, "p95");
    if (!m)
        return bad(p, v, "'%s' needs 'median' (and optionally 'p95')", key);
    if (!lg_ynode_num(m, &out->median) || out->median <= 0 || out->median > max)
        return bad(p, m, "'%s.median' must be a number above 0 and at most %g", key, max);
    out->p95 = out->median;
    if (q && (!lg_ynode_num(q, &out->p95) || out->p95 < out->median || out->p95 > max))
        return bad(p, q, "'%s.p95' must be a number from the median (%g) to %g", key,
                   out->median, max);
    return 0;
}

static int get_faults(const pctx *p, const lg_ynode *map, lg_sim_model *m)
{
    const lg_ynode *v = lg_ynode_get(map, "faults");
    static const char *const fk[] = {"429", "500", "cut", "slow", NULL};
    double *dst[] = {&m->p429, &m->p500, &m->pcut, &m->pslow};
    char d[64];
    int rc;
    if (!v)
        return 0;
    if (v->kind != LG_YMAP)
        return bad(p, v, "'faults' must be a mapping such as {429: 0.02, 500: 0.01, cut: 0.005, "
                   "slow: 0.01}, got %s", lg_ynode_describe(v, d, sizeof d));
    if ((rc = lg_ynode_check_keys(v, fk, p->file, "sim.faults", p->err)))
        return rc;
    for (int i = 0; i < 4; i++)
        if ((rc = get_rate(p, v, fk[i], 0.0, dst[i])))
            return rc;
    if (m->p429 + m->p500 + m->pcut + m->pslow > 1.0 + 1e-9)
        return bad(p, v, "the fault rates add up to more than 1");
    return 0;
}

static int parse(const pctx *p, const lg_ynode *map, lg_sim_model *m)
{
    char d[64];
    int rc;
    unsigned long long u = 0;
    bool have;

    if (map->kind != LG_YMAP)
        return bad(p, map, "'sim' must be a mapping of behaviour parameters, got %s",
                   lg_ynode_describe(map, d, sizeof d));
    if ((rc = lg_ynode_check_keys(map, sim_keys, p->file, "sim", p->err)))
        return rc;
    const lg_ynode *task = lg_ynode_get(map, "task");
    if (task) {
        static const char *const tasks[] = {"script", "choice", "code", NULL};
        const char *t = task->kind == LG_YSCALAR ? task->text : "";
        if (strcmp(t, "script") == 0)
            m->task = LG_SIM_TASK_SCRIPT;
        else if (strcmp(t, "choice") == 0)
            m->task = LG_SIM_TASK_CHOICE;
        else if (strcmp(t, "code") == 0)
            m->task = LG_SIM_TASK_CODE;
        else {
            const char *s = task->kind == LG_YSCALAR ? lg_suggest(t, tasks) : NULL;
            return bad(p, task, "unknown task %s (use choice, code or script)%s%s%s",
                       lg_ynode_describe(task, d, sizeof d), s ? "; did you mean '" : "",
                       s ? s : "", s ? "'?" : "");
        }
    }
    if ((rc = get_uint(p, map, "seed", UINT64_MAX, &u, &have)))
        return rc;
    if (have)
        m->seed = u;
    if ((rc = get_str(p, map, "answer_field", &m->answer_field)) ||
        (rc = get_str(p, map, "wrong_field", &m->wrong_field)) ||
        (rc = get_strlist(p, map, "choices", &m->choices, &m->nchoices)) ||
        (rc = get_strlist(p, map, "before_answer", &m->before, &m->nbefore)) ||
        (rc = get_rate(p, map, "p_first_correct", 0.8, &m->p0)) ||
        (rc = get_rate(p, map, "feedback_gain", 0.5, &m->gain)) ||
        (rc = get_rate(p, map, "malformed_rate", 0.0, &m->malformed)) ||
        (rc = get_rate(p, map, "silent_wrong_rate", 0.0, &m->silent_wrong)) ||
        (rc = get_rate(p, map, "wrong_tool_rate", 0.0, &m->wrong_tool)) ||
        (rc = get_rate(p, map, "repeat_tool_rate", 0.0, &m->repeat_tool)) ||
        (rc = get_dist(p, map, "latency_ms", 600000, &m->latency)) ||
        (rc = get_dist(p, map, "output_tokens", 1e7, &m->out_tokens)) ||
        (rc = get_faults(p, map, m)))
        return rc;
    if (m->wrong_tool + m->repeat_tool > 1.0 + 1e-9)
        return bad(p, lg_ynode_get(map, "repeat_tool_rate"),
                   "wrong_tool_rate and repeat_tool_rate add up to more than 1");
    if ((rc = get_uint(p, map, "retry_after_ms", 3600000, &u, &m->have_retry_after)))
        return rc;
    m->retry_after_ms = (unsigned)u;
    if ((rc = get_uint(p, map, "slow_ms", 3600000, &u, &m->have_slow)))
        return rc;
    m->slow_ms = (unsigned)u;
    if ((rc = get_uint(p, map, "tool_turns", 1000, &u, &m->have_tool_turns)))
        return rc;
    m->tool_turns = (unsigned)u;

    const lg_ynode *oa = lg_ynode_get(map, "on_answer");
    if (oa) {
        if (oa->kind != LG_YMAP)
            return bad(p, oa, "'on_answer' must map a choice to the tool the model calls "
                       "before giving it, e.g. {approve: issue_refund}");
        m->on = calloc(oa->n + 1, sizeof *m->on);
        if (!m->on)
            return LG_ERR(p->err, LG_ENOMEM, "out of memory");
        for (size_t i = 0; i < oa->n; i++) {
            const lg_ynode *k = oa->pairs[i].key, *v = oa->pairs[i].value;
            if (v->kind != LG_YSCALAR || lg_ynode_is_null(v) || v->len == 0)
                return bad(p, v, "on_answer '%s' must name a tool", k->text);
            if (!(m->on[i].choice = strdup(k->text)) || !(m->on[i].tool = strdup(v->text)))
                return LG_ERR(p->err, LG_ENOMEM, "out of memory");
            m->non++;
        }
    }

    /* what the task needs */
    if (!m->answer_field &&
        !(m->answer_field = strdup(m->task == LG_SIM_TASK_CODE ? "solution" : "expected")))
        return LG_ERR(p->err, LG_ENOMEM, "out of memory");
    if (m->task != LG_SIM_TASK_SCRIPT) {
        const lg_ynode *where = lg_ynode_get(map, "answer_field") ? lg_ynode_get(map, "answer_field")
                                                                  : task;
        if (lg_casegen_find(p->s->cases, m->answer_field) < 0) {
            const char *s = lg_suggest(m->answer_field, lg_casegen_names(p->s->cases));
            return bad(p, where, "the answer field '%s' is not a field of the cases%s%s%s; "
                       "add it (hidden: true) under cases.generators or set answer_field",
                       m->answer_field, s ? " (did you mean '" : "", s ? s : "", s ? "'?)" : "");
        }
        if (m->wrong_field && lg_casegen_find(p->s->cases, m->wrong_field) < 0)
            return bad(p, lg_ynode_get(map, "wrong_field"),
                       "wrong_field '%s' is not a field of the cases", m->wrong_field);
    }
    if (m->task == LG_SIM_TASK_CHOICE && m->nchoices < 2)
        return bad(p, lg_ynode_get(map, "choices") ? lg_ynode_get(map, "choices") : task,
                   "task 'choice' needs 'choices': the possible answers (at least two), "
                   "e.g. [approve, deny, escalate]");
    for (size_t i = 0; i < m->non; i++) {
        bool found = false;
        for (size_t k = 0; k < m->nchoices; k++)
            found = found || strcmp(m->choices[k], m->on[i].choice) == 0;
        if (!found)
            return bad(p, oa->pairs[i].key, "on_answer: '%s' is not one of the choices",
                       m->on[i].choice);
    }
    return 0;
}

/* The longest visible text field of each case, for the content match. */
static int build_match(lg_sim_model *m, lg_err *err)
{
    const lg_suite *s = m->suite;
    size_t n = s->count < MATCH_MAX_CASES ? (size_t)s->count : MATCH_MAX_CASES;
    m->match = calloc(n + 1, sizeof *m->match);
    if (!m->match)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    m->nmatch = n;
    for (size_t i = 0; i < n; i++) {
        json_t *c = NULL;
        int rc = lg_cases_generate(s, i, 0, &c, err);
        if (rc)
            return rc;
        const char *key, *best = NULL;
        size_t blen = 0;
        json_t *v;
        json_object_foreach(c, key, v) {
            size_t len = json_is_string(v) ? json_string_length(v) : 0;
            if (len >= MATCH_MIN_LEN && len > blen) {
                best = json_string_value(v);
                blen = len;
            }
        }
        if (best && !(m->match[i] = strdup(best))) {
            json_decref(c);
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        }
        json_decref(c);
    }
    return 0;
}

int lg_sim_model_from_suite(const lg_suite *suite, lg_sim_model **out, lg_err *err)
{
    lg_sim_model *m = calloc(1, sizeof *m);
    int rc = 0;
    *out = NULL;
    if (!m)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    m->suite = suite;
    m->seed = suite->seed;
    m->p0 = 0.8;
    m->gain = 0.5;
    m->task = LG_SIM_TASK_SCRIPT;
    if (suite->sim_node) {
        pctx p = {suite, suite->path, err};
        rc = parse(&p, suite->sim_node, m);
    } else if (!(m->answer_field = strdup("expected"))) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    if (!rc && m->task != LG_SIM_TASK_SCRIPT)
        rc = build_match(m, err);
    if (rc) {
        lg_sim_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; l && i < n; i++)
        free(l[i]);
    free(l);
}

void lg_sim_model_free(lg_sim_model *m)
{
    if (!m)
        return;
    free(m->answer_field);
    free(m->wrong_field);
    free_list(m->choices, m->nchoices);
    free_list(m->before, m->nbefore);
    for (size_t i = 0; i < m->non; i++) {
        free(m->on[i].choice);
        free(m->on[i].tool);
    }
    free(m->on);
    free_list(m->match, m->nmatch);
    free(m);
}

int lg_sim_model_task(const lg_sim_model *m) { return m->task; }

void lg_sim_model_config(const lg_sim_model *m, lg_sim_config *cfg)
{
    lg_sim_config_init(cfg);
    cfg->seed = m->seed;
    cfg->p429 = m->p429;
    cfg->p500 = m->p500;
    cfg->pcut = m->pcut;
    cfg->pslow = m->pslow;
    if (m->have_retry_after)
        cfg->retry_after_ms = m->retry_after_ms;
    if (m->have_slow)
        cfg->slow_ms = m->slow_ms;
    if (m->have_tool_turns)
        cfg->tool_turns = m->tool_turns;
    cfg->model = m;
}

double lg_sim_model_p_correct(const lg_sim_model *m, unsigned attempts)
{
    return 1.0 - (1.0 - m->p0) * pow(1.0 - m->gain, (double)attempts);
}

const char *lg_sim_turn_kind_name(int kind)
{
    switch (kind) {
    case LG_SIM_TURN_TOOL: return "tool";
    case LG_SIM_TURN_WRONG_TOOL: return "wrong_tool";
    case LG_SIM_TURN_REPEAT_TOOL: return "repeat_tool";
    case LG_SIM_TURN_CORRECT: return "correct";
    case LG_SIM_TURN_WRONG: return "wrong";
    case LG_SIM_TURN_SILENT_WRONG: return "silent_wrong";
    case LG_SIM_TURN_MALFORMED: return "malformed";
    default: return "script";
    }
}

void lg_sim_turn_init(lg_sim_turn *t)
{
    memset(t, 0, sizeof *t);
    t->out_tokens = -1;
    t->case_index = t->trial = -1;
}

void lg_sim_turn_release(lg_sim_turn *t)
{
    if (!t)
        return;
    free(t->tool_name);
    free(t->args);
    free(t->text);
    lg_sim_turn_init(t);
}

/* ------------------------------------------------------------- resolving */

/* Reads "KEY=DIGITS" in `s`; -1 when absent. */
static int64_t hint_num(const char *s, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = s; p && (p = strstr(p, key)); p += kl) {
        if (p > s && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        if (p[kl] != '=' || !isdigit((unsigned char)p[kl + 1]))
            continue;
        errno = 0;
        char *end;
        unsigned long long v = strtoull(p + kl + 1, &end, 10);
        if (errno || v > (unsigned long long)INT64_MAX)
            return -1;
        return (int64_t)v;
    }
    return -1;
}

static void resolve(const lg_sim_model *m, int64_t *ci, int64_t *tr, const lg_sim_convo *cv)
{
    if (*ci >= 0) {
        if (*tr < 0)
            *tr = 0;
        return;
    }
    if (cv->hint_case >= 0) {
        *ci = cv->hint_case;
        *tr = cv->hint_trial >= 0 ? cv->hint_trial : 0;
        return;
    }
    if (cv->hint && (*ci = hint_num(cv->hint, "case")) >= 0) {
        *tr = hint_num(cv->hint, "trial");
        if (*tr < 0)
            *tr = 0;
        return;
    }
    *tr = -1;
    if (!cv->first_user || !*cv->first_user)
        return;
    for (size_t i = 0; i < m->nmatch; i++) {
        if (m->match[i] && strstr(cv->first_user, m->match[i])) {
            *ci = (int64_t)i;
            *tr = 0;
            return;
        }
    }
}

/* ------------------------------------------------------------- draws */

/* Everything one turn draws, in a fixed order. */
typedef struct draws {
    double perturb, malformed, correct, silent, pick, variant;
    double lat_z, tok_z;
} draws;

/* A standard normal from two uniforms (Box-Muller). */
static double normal(lg_pcg32 *r)
{
    double u1 = lg_pcg32_double(r), u2 = lg_pcg32_double(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void draw_all(lg_pcg32 *r, draws *d)
{
    d->perturb = lg_pcg32_double(r);
    d->malformed = lg_pcg32_double(r);
    d->correct = lg_pcg32_double(r);
    d->silent = lg_pcg32_double(r);
    d->pick = lg_pcg32_double(r);
    d->variant = lg_pcg32_double(r);
    d->lat_z = normal(r);
    d->tok_z = normal(r);
}

/* Log-normal with the given median and 95th percentile, at standard normal z. */
static double from_dist(const dist *ds, double z)
{
    if (ds->median <= 0)
        return 0;
    if (ds->p95 <= ds->median)
        return ds->median;
    double sigma = (log(ds->p95) - log(ds->median)) / 1.6448536269514722;
    return exp(log(ds->median) + sigma * z);
}

/* ------------------------------------------------------------- content */

static bool declared(const lg_sim_convo *cv, const char *tool, size_t *idx)
{
    for (size_t i = 0; i < cv->ntools; i++)
        if (cv->tools[i] && strcmp(cv->tools[i], tool) == 0) {
            if (idx)
                *idx = i;
            return true;
        }
    return false;
}

static bool called(const lg_sim_convo *cv, const char *tool)
{
    for (size_t i = 0; i < cv->ncalls; i++)
        if (cv->calls[i].name && strcmp(cv->calls[i].name, tool) == 0)
            return true;
    return false;
}

static bool is_on_answer_tool(const lg_sim_model *m, const char *tool)
{
    for (size_t i = 0; i < m->non; i++)
        if (strcmp(m->on[i].tool, tool) == 0)
            return true;
    return false;
}

static bool field_hidden(const lg_sim_model *m, const char *name)
{
    int i = lg_casegen_find(m->suite->cases, name);
    bool hidden = false;
    if (i >= 0)
        lg_casegen_field(m->suite->cases, (size_t)i, &hidden, NULL);
    return hidden;
}

/* Arguments for `tool` from its schema: each property named like a visible
 * case field gets that value (converted to the property's type when it is
 * a number or string), the others a plain value of their type. */
static char *tool_args(const lg_sim_model *m, const json_t *kase, const json_t *schema,
                       const char *first_user)
{
    json_t *args = json_object();
    const json_t *props = json_object_get(schema, "properties"), *sch;
    const char *key;
    if (!args)
        return NULL;
    json_object_foreach((json_t *)props, key, sch) {
        const char *type = lg_json_str(sch, "type", "string");
        const json_t *cv = field_hidden(m, key) ? NULL : json_object_get(kase, key);
        const json_t *en = json_object_get(sch, "enum");
        json_t *v = NULL;
        if (cv) {
            if (strcmp(type, "string") == 0 && !json_is_string(cv)) {
                char *t = json_dumps(cv, JSON_ENCODE_ANY | JSON_COMPACT);
                v = t ? json_string(t) : NULL;
                free(t);
            } else if ((strcmp(type, "number") == 0 || strcmp(type, "integer") == 0) &&
                       json_is_string(cv)) {
                char *end;
                double x = strtod(json_string_value(cv), &end);
                v = *end ? json_deep_copy(cv)
                         : strcmp(type, "integer") == 0 ? json_integer((json_int_t)x)
                                                        : json_real(x);
            } else {
                v = json_deep_copy(cv);
            }
        } else if (json_array_size(en) > 0) {
            v = json_deep_copy(json_array_get(en, 0));
        } else if (strcmp(type, "integer") == 0) {
            v = json_integer(0);
        } else if (strcmp(type, "number") == 0) {
            v = json_real(0);
        } else if (strcmp(type, "boolean") == 0) {
            v = json_true();
        } else if (strcmp(type, "array") == 0) {
            v = json_array();
        } else if (strcmp(type, "object") == 0) {
            v = json_object();
        } else {
            /* a free-text argument: the start of the user's request */
            char q[81];
            size_t n = strlen(first_user);
            if (n > 80) {
                n = 80;
                while (n > 0 && ((unsigned char)first_user[n] & 0xC0) == 0x80)
                    n--;
            }
            memcpy(q, first_user, n);
            q[n] = 0;
            v = json_string(q);
        }
        json_object_set_new(args, key, v ? v : json_null());
    }
    char *s = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(args);
    return s;
}

static int set_tool(const lg_sim_model *m, const json_t *kase, const lg_sim_convo *cv,
                    const char *tool, int kind, lg_sim_turn *t)
{
    size_t i = 0;
    declared(cv, tool, &i);
    t->kind = kind;
    t->tool_name = strdup(tool);
    t->args = tool_args(m, kase, cv->schemas ? cv->schemas[i] : NULL, cv->first_user);
    return t->tool_name && t->args ? 0 : LG_ENOMEM;
}

/* The value of a case field as text (strings as they are, others as JSON). */
static char *field_text(const json_t *kase, const char *name)
{
    const json_t *v = json_object_get(kase, name);
    if (!v)
        return NULL;
    if (json_is_string(v))
        return strdup(json_string_value(v));
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static const char *const choice_malformed[] = {
    "Let me look into this a little more before I decide.",
    "Decision: pending; I need more details about the order.",
    "It depends on the circumstances of the purchase.",
};

static const char *const code_malformed[] = {
    "Sure. I would start by handling the edge cases, then write the function and test it "
    "on a few inputs.",
    "Here is my plan: read the specification carefully, write the function with a clear "
    "name, and keep it to the standard library.",
};

/* Code with a syntax error a compiler reports: the ':' after the first
 * `def ...)` dropped, or (variant) the last ')' removed. */
static char *syntax_error(const char *code, double variant)
{
    size_t n = strlen(code);
    char *s = malloc(n + 16);
    if (!s)
        return NULL;
    memcpy(s, code, n + 1);
    if (variant < 0.5) {
        char *def = strstr(s, "def ");
        char *eol = def ? strchr(def, '\n') : NULL;
        char *colon = def ? (eol ? eol : s + n) : NULL;
        while (colon && colon > def && (colon[-1] == ' ' || colon[-1] == '\r'))
            colon--;
        if (colon && colon > def && colon[-1] == ':') {
            memmove(colon - 1, colon, strlen(colon) + 1);
            return s;
        }
    }
    char *paren = strrchr(s, ')');
    if (paren) {
        memmove(paren, paren + 1, strlen(paren + 1) + 1);
        return s;
    }
    memcpy(s + n, "\n(\n", 4); /* no parenthesis to drop: open one */
    return s;
}

/* Valid Python that gives wrong results: `return X` becomes `return not (X)`
 * (a bool never equals a number, a list or the negated bool). */
static char *mutate_logic(const char *code)
{
    const char *r = strstr(code, "return ");
    if (!r)
        return strdup(code);
    const char *eol = strchr(r, '\n');
    size_t head = (size_t)(r - code) + 7, exprlen = eol ? (size_t)(eol - r) - 7 : strlen(r + 7);
    lg_buf b = LG_BUF_INIT;
    if (lg_buf_append(&b, code, head) || lg_buf_appendf(&b, "not (%.*s)", (int)exprlen, r + 7) ||
        lg_buf_append_str(&b, eol ? eol : "")) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static char *fenced(const char *code)
{
    lg_buf b = LG_BUF_INIT;
    size_t n = strlen(code);
    if (lg_buf_appendf(&b, "```python\n%s%s```", code, n && code[n - 1] == '\n' ? "" : "\n")) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

/* The choice this turn decides on (drawn), in the choice task: the
 * truth with probability p_k, else one of the other choices, uniformly. */
static const char *drawn_choice(const lg_sim_model *m, const char *truth, unsigned attempts,
                                const draws *d)
{
    if (d->correct < lg_sim_model_p_correct(m, attempts))
        return truth;
    size_t others = 0;
    for (size_t i = 0; i < m->nchoices; i++)
        others += strcmp(m->choices[i], truth) != 0;
    size_t k = others ? (size_t)(d->pick * (double)others) % others : 0;
    for (size_t i = 0; others && i < m->nchoices; i++)
        if (strcmp(m->choices[i], truth) != 0 && k-- == 0)
            return m->choices[i];
    return truth;
}

/* The answer of an answer turn: correct, wrong or malformed. */
static int answer(const lg_sim_model *m, const json_t *kase, const lg_sim_convo *cv,
                  const draws *d, const char *decided, lg_sim_turn *t)
{
    char *truth = field_text(kase, m->answer_field);
    int rc = 0;
    if (!truth)
        return LG_EINPUT;
    if (d->malformed < m->malformed) {
        t->kind = LG_SIM_TURN_MALFORMED;
        if (m->task == LG_SIM_TASK_CODE)
            t->text = strdup(code_malformed[(size_t)(d->variant * 2) % 2]);
        else
            t->text = strdup(choice_malformed[(size_t)(d->variant * 3) % 3]);
        free(truth);
        return t->text ? 0 : LG_ENOMEM;
    }
    if (m->task == LG_SIM_TASK_CHOICE) {
        const char *word = decided ? decided : drawn_choice(m, truth, cv->attempts, d);
        t->kind = strcmp(word, truth) == 0 ? LG_SIM_TURN_CORRECT : LG_SIM_TURN_WRONG;
        t->text = strdup(word);
        rc = t->text ? 0 : LG_ENOMEM;
    } else {
        char *code = NULL;
        if (d->correct < lg_sim_model_p_correct(m, cv->attempts)) {
            t->kind = LG_SIM_TURN_CORRECT;
            code = strdup(truth);
        } else if (d->silent < m->silent_wrong) {
            t->kind = LG_SIM_TURN_SILENT_WRONG;
            char *w = m->wrong_field ? field_text(kase, m->wrong_field) : NULL;
            code = w ? w : mutate_logic(truth);
        } else {
            t->kind = LG_SIM_TURN_WRONG;
            code = syntax_error(truth, d->variant);
        }
        t->text = code ? fenced(code) : NULL;
        free(code);
        rc = t->text ? 0 : LG_ENOMEM;
    }
    free(truth);
    return rc;
}

/* The choice an earlier on_answer tool call committed the model to, or NULL. */
static const char *committed_choice(const lg_sim_model *m, const lg_sim_convo *cv)
{
    for (size_t i = 0; i < m->non; i++)
        if (called(cv, m->on[i].tool))
            return m->on[i].choice;
    return NULL;
}

static int decide(const lg_sim_model *m, const json_t *kase, const lg_sim_convo *cv,
                  const draws *d, lg_sim_turn *t)
{
    const char *intended_tool = NULL;
    bool tools = cv->ntools > 0 && !cv->tools_off;

    /* the tools it calls before answering */
    for (size_t i = 0; tools && i < m->nbefore && !intended_tool; i++)
        if (declared(cv, m->before[i], NULL) && !called(cv, m->before[i]))
            intended_tool = m->before[i];
    /* the tool its decision calls for (a decision without one is answered
     * below, drawn from the same numbers, so it is the same decision) */
    if (!intended_tool && tools && m->task == LG_SIM_TASK_CHOICE && m->non &&
        !committed_choice(m, cv)) {
        char *truth = field_text(kase, m->answer_field);
        if (!truth)
            return LG_EINPUT;
        const char *c = drawn_choice(m, truth, cv->attempts, d);
        for (size_t i = 0; i < m->non; i++)
            if (strcmp(m->on[i].choice, c) == 0 && declared(cv, m->on[i].tool, NULL))
                intended_tool = m->on[i].tool;
        free(truth);
    }
    /* perturbations: a wrong tool, or the last call again */
    if (tools && d->perturb < m->wrong_tool) {
        size_t cand = 0;
        for (size_t i = 0; i < cv->ntools; i++)
            cand += cv->tools[i] && (!intended_tool || strcmp(cv->tools[i], intended_tool)) &&
                    !is_on_answer_tool(m, cv->tools[i]);
        if (cand) {
            size_t k = (size_t)(d->pick * (double)cand) % cand;
            for (size_t i = 0; i < cv->ntools; i++)
                if (cv->tools[i] && (!intended_tool || strcmp(cv->tools[i], intended_tool)) &&
                    !is_on_answer_tool(m, cv->tools[i]) && k-- == 0)
                    return set_tool(m, kase, cv, cv->tools[i], LG_SIM_TURN_WRONG_TOOL, t);
        }
    } else if (tools && cv->ncalls && d->perturb < m->wrong_tool + m->repeat_tool) {
        const lg_sim_call *last = &cv->calls[cv->ncalls - 1];
        t->kind = LG_SIM_TURN_REPEAT_TOOL;
        t->tool_name = strdup(last->name ? last->name : "");
        t->args = strdup(last->args ? last->args : "{}");
        return t->tool_name && t->args ? 0 : LG_ENOMEM;
    }
    if (intended_tool)
        return set_tool(m, kase, cv, intended_tool, LG_SIM_TURN_TOOL, t);
    /* a decision committed by its tool is not drawn again */
    return answer(m, kase, cv, d, m->non ? committed_choice(m, cv) : NULL, t);
}

int lg_sim_model_turn(const lg_sim_model *m, int64_t case_index, int64_t trial,
                      const lg_sim_convo *cv, lg_sim_turn *out, lg_err *err)
{
    lg_pcg32 rng;
    draws d;
    json_t *kase = NULL;
    int rc = 0;

    lg_sim_turn_release(out);
    resolve(m, &case_index, &trial, cv);
    if (case_index >= 0 && (uint64_t)case_index >= m->suite->count && m->task != LG_SIM_TASK_SCRIPT)
        case_index = -1; /* not one of the suite's cases: no truth to tell */
    out->case_index = case_index;
    out->trial = case_index >= 0 ? trial : -1;
    /* an unknown request draws from its own hash, so two of them differ */
    out->stream = lg_pcg32_mix(lg_pcg32_mix(lg_pcg32_mix(case_index >= 0 ? 0x73696d2d6d6f646cULL
                                                                          : cv->request_hash,
                                                         (uint64_t)(case_index + 1)),
                                            (uint64_t)(out->trial + 1)),
                               cv->turn);
    lg_pcg32_srandom(&rng, m->seed, out->stream);
    draw_all(&rng, &d);
    out->latency_ms = (unsigned)llround(from_dist(&m->latency, d.lat_z));
    if (m->out_tokens.median > 0)
        out->out_tokens = (int64_t)llround(fmax(1.0, from_dist(&m->out_tokens, d.tok_z)));
    out->kind = LG_SIM_TURN_SCRIPT;
    if (m->task == LG_SIM_TASK_SCRIPT || case_index < 0)
        return 0;

    if ((rc = lg_cases_generate(m->suite, (uint64_t)case_index, LG_CASES_HIDDEN, &kase, err)))
        return rc;
    rc = decide(m, kase, cv, &d, out);
    json_decref(kase);
    if (rc == LG_EINPUT)
        return LG_ERR(err, LG_EINPUT, "%s: sim: case %lld has no value for the answer field '%s'",
                      m->suite->path, (long long)case_index, m->answer_field);
    if (rc)
        return LG_ERR(err, LG_ENOMEM, "sim: out of memory deciding a turn");
    return 0;
}
