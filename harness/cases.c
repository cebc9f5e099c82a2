#include "cases.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/pcg.h"
#include "core/suggest.h"
#include "harness/expr.h"
#include "harness/suite.h"
#include "harness/template.h"

/* Largest file a `lines:` generator reads: 16 MiB. */
#define LINES_MAX_FILE ((size_t)16 << 20)
#define MAX_DECIMALS 12

typedef struct rule {
    lg_expr *when;          /* NULL for `else` */
    lg_ytextpos when_pos;
    const lg_ynode *when_node; /* during parsing only */
    json_t *value;          /* the value of `then` / `else` */
    lg_template *tpl;       /* when value is a string with {{...}} */
    lg_ytextpos value_pos;
} rule;

typedef struct field {
    char *name;
    int line, col; /* of the key */
    bool hidden;
    lg_gen_kind kind;
    long long imin, imax;
    double fmin, fmax;
    int decimals;     /* -1: not rounded */
    double p;         /* bool */
    json_t **values;  /* choice, weighted, lines */
    size_t nvalues;
    double *cum;      /* weighted: cumulative weights */
    double total;
    lg_template *tpl; /* template */
    lg_ytextpos tpl_pos;
    rule *rules;
    size_t nrules;
    unsigned types;   /* LG_EXPR_* bits of the values it may take */
    size_t *deps;     /* fields a computed field reads */
    size_t ndeps;
} field;

struct lg_casegen {
    char *file;
    field *f;
    size_t n;
    const char **names; /* n + 1, NULL-terminated, borrowed from f[i].name */
    size_t *order;      /* computed fields, in evaluation order */
    size_t norder;
};

typedef struct pctx {
    lg_casegen *g;
    const char *file;
    const char *basedir;
    lg_err *err;
} pctx;

static const char *const gen_names[] = {
    "int", "float", "choice", "weighted", "bool", "lines", "template", "rules", NULL,
};

static const char *const field_keys[] = {
    "int", "float", "choice", "weighted", "bool", "lines", "template", "rules",
    "hidden", "decimals", NULL,
};

static const char *const reserved[] = {"and", "or", "not", "in", "true", "false", "null", NULL};

static const double pow10s[MAX_DECIMALS + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
                                                1e7, 1e8, 1e9, 1e10, 1e11, 1e12};

static bool is_random(lg_gen_kind k)
{
    return k != LG_GEN_TEMPLATE && k != LG_GEN_RULES;
}

static void field_release(field *f)
{
    free(f->name);
    for (size_t i = 0; i < f->nvalues; i++)
        json_decref(f->values[i]);
    free(f->values);
    free(f->cum);
    lg_template_free(f->tpl);
    for (size_t i = 0; i < f->nrules; i++) {
        lg_expr_free(f->rules[i].when);
        json_decref(f->rules[i].value);
        lg_template_free(f->rules[i].tpl);
    }
    free(f->rules);
    free(f->deps);
}

void lg_casegen_free(lg_casegen *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        field_release(&g->f[i]);
    free(g->f);
    free(g->names);
    free(g->order);
    free(g->file);
    free(g);
}

/* "FILE:LINE:COL: field 'NAME': MESSAGE" */
static int ferr(pctx *c, int line, int col, const field *f, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int ferr(pctx *c, int line, int col, const field *f, const char *fmt, ...)
{
    char msg[LG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (f)
        return LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: field '%s': %s", c->file, line, col, f->name, msg);
    return LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: %s", c->file, line, col, msg);
}

static int nomem(pctx *c)
{
    return LG_ERR(c->err, LG_ENOMEM, "out of memory");
}

static unsigned json_types(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_NULL: return LG_EXPR_NULL;
    case JSON_TRUE:
    case JSON_FALSE: return LG_EXPR_BOOL;
    case JSON_INTEGER:
    case JSON_REAL: return LG_EXPR_NUM;
    case JSON_STRING: return LG_EXPR_STR;
    default: return LG_EXPR_ANY;
    }
}

static bool valid_name(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

static int add_value(pctx *c, field *f, json_t *v)
{
    json_t **nv;
    if (!v)
        return nomem(c);
    nv = realloc(f->values, (f->nvalues + 1) * sizeof *nv);
    if (!nv) {
        json_decref(v);
        return nomem(c);
    }
    f->values = nv;
    f->values[f->nvalues++] = v;
    f->types |= json_types(v);
    return 0;
}

/* [min, max] of two numbers (integers when `ints`). */
static int parse_range(pctx *c, field *f, const lg_ynode *v, bool ints)
{
    char d[64];
    const char *what = ints ? "int" : "float";

    if (v->kind != LG_YSEQ || v->n != 2)
        return ferr(c, v->line, v->col, f, "%s needs [min, max] with two %s, got %s", what,
                    ints ? "integers" : "numbers", lg_ynode_describe(v, d, sizeof d));
    for (size_t i = 0; i < 2; i++) {
        const lg_ynode *x = v->items[i];
        long long iv;
        double dv;
        if (ints ? !lg_ynode_int(x, &iv) : !lg_ynode_num(x, &dv))
            return ferr(c, x->line, x->col, f, "%s of the %s range must be %s, got %s",
                        i ? "max" : "min", what, ints ? "an integer" : "a number",
                        lg_ynode_describe(x, d, sizeof d));
        if (ints)
            *(i ? &f->imax : &f->imin) = iv;
        else
            *(i ? &f->fmax : &f->fmin) = dv;
    }
    if (ints ? f->imin > f->imax : f->fmin > f->fmax)
        return ferr(c, v->line, v->col, f, "%s range [%s, %s] is empty; min must be <= max", what,
                    v->items[0]->text, v->items[1]->text);
    if (!ints && !isfinite(f->fmax - f->fmin))
        return ferr(c, v->line, v->col, f, "float range is too wide");
    return 0;
}

static int parse_choice(pctx *c, field *f, const lg_ynode *v)
{
    char d[64];
    if (v->kind != LG_YSEQ || v->n == 0)
        return ferr(c, v->line, v->col, f, "choice needs a non-empty list of values, got %s",
                    lg_ynode_describe(v, d, sizeof d));
    for (size_t i = 0; i < v->n; i++) {
        json_t *x = lg_ynode_to_json(v->items[i], c->file, c->err);
        if (!x)
            return c->err->code;
        if (add_value(c, f, x))
            return c->err->code;
    }
    return 0;
}

static int parse_weighted(pctx *c, field *f, const lg_ynode *v)
{
    char d[64];
    if (v->kind != LG_YMAP || v->n == 0)
        return ferr(c, v->line, v->col, f,
                    "weighted needs a mapping of value: weight (e.g. {approve: 3, deny: 1}), got %s",
                    lg_ynode_describe(v, d, sizeof d));
    f->cum = malloc(v->n * sizeof *f->cum);
    if (!f->cum)
        return nomem(c);
    for (size_t i = 0; i < v->n; i++) {
        const lg_ypair *p = &v->pairs[i];
        double w;
        json_t *x;
        if (!lg_ynode_num(p->value, &w) || w < 0)
            return ferr(c, p->value->line, p->value->col, f,
                        "weight of '%s' must be a number >= 0, got %s", p->key->text,
                        lg_ynode_describe(p->value, d, sizeof d));
        if (!(x = lg_ynode_to_json(p->key, c->file, c->err)) || add_value(c, f, x))
            return c->err->code;
        f->total += w;
        f->cum[i] = f->total;
    }
    if (!(f->total > 0) || !isfinite(f->total))
        return ferr(c, v->line, v->col, f,
                    "weights add up to %g; give at least one value a positive weight", f->total);
    return 0;
}

static char *join_path(const char *dir, const char *path)
{
    lg_buf b = LG_BUF_INIT;
    if (path[0] == '/' || !dir || !strcmp(dir, "."))
        return strdup(path);
    if (lg_buf_appendf(&b, "%s/%s", dir, path)) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static int parse_lines(pctx *c, field *f, const lg_ynode *v)
{
    char d[64];
    char *path;
    lg_buf b;
    lg_err ferr_ = LG_ERR_INIT;
    int rc = 0;

    if (v->kind != LG_YSCALAR || lg_ynode_is_null(v))
        return ferr(c, v->line, v->col, f, "lines needs a file path, got %s",
                    lg_ynode_describe(v, d, sizeof d));
    if (!(path = join_path(c->basedir, v->text)))
        return nomem(c);
    lg_buf_init_capped(&b, LINES_MAX_FILE);
    if (lg_fs_read_file(path, &b, &ferr_)) {
        rc = ferr(c, v->line, v->col, f, "%s", ferr_.msg);
        goto out;
    }
    for (char *s = b.data, *end = b.data + b.len; s < end;) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        size_t len = nl ? (size_t)(nl - s) : (size_t)(end - s);
        size_t k = len;
        while (k > 0 && (s[k - 1] == '\r' || s[k - 1] == ' ' || s[k - 1] == '\t'))
            k--;
        if (k > 0 && strspn(s, " \t") < k && (rc = add_value(c, f, json_stringn(s, k))))
            goto out;
        s += len + 1;
    }
    if (f->nvalues == 0)
        rc = ferr(c, v->line, v->col, f, "'%s' has no non-blank lines", path);
    else if (f->nvalues > UINT32_MAX)
        rc = ferr(c, v->line, v->col, f, "'%s' has too many lines", path);
out:
    lg_buf_release(&b);
    free(path);
    return rc;
}

static int parse_tpl(pctx *c, field *f, const lg_ynode *v, lg_template **out, lg_ytextpos *pos)
{
    size_t off = 0;
    lg_err e = LG_ERR_INIT;
    int line, col;

    *pos = lg_ynode_textpos(v);
    if (lg_template_parse(v->text, out, &off, &e)) {
        if (e.code == LG_ENOMEM)
            return nomem(c);
        lg_ytextpos_at(*pos, off, &line, &col);
        return ferr(c, line, col, f, "%s", e.msg);
    }
    return 0;
}

static int parse_rules(pctx *c, field *f, const lg_ynode *v)
{
    char d[64];
    if (v->kind != LG_YSEQ || v->n == 0)
        return ferr(c, v->line, v->col, f,
                    "rules needs a list of '- when: CONDITION' + 'then: VALUE' entries ending "
                    "with '- else: VALUE', got %s", lg_ynode_describe(v, d, sizeof d));
    f->rules = calloc(v->n, sizeof *f->rules);
    if (!f->rules)
        return nomem(c);
    for (size_t i = 0; i < v->n; i++) {
        static const char *const rule_keys[] = {"when", "then", "else", NULL};
        const lg_ynode *r = v->items[i], *when, *then, *els, *val;
        rule *ru = &f->rules[f->nrules++];
        if (r->kind != LG_YMAP)
            return ferr(c, r->line, r->col, f,
                        "each rule is a mapping {when: CONDITION, then: VALUE} or {else: VALUE}, got %s",
                        lg_ynode_describe(r, d, sizeof d));
        if (lg_ynode_check_keys(r, rule_keys, c->file, f->name, c->err))
            return c->err->code;
        when = lg_ynode_get(r, "when");
        then = lg_ynode_get(r, "then");
        els = lg_ynode_get(r, "else");
        if (els && (when || then))
            return ferr(c, r->line, r->col, f, "'else' cannot be combined with 'when' or 'then'");
        if (els && i + 1 != v->n)
            return ferr(c, r->line, r->col, f, "'else' must be the last rule");
        if (!els && !when)
            return ferr(c, r->line, r->col, f, "rule needs 'when:' (a condition such as 'days <= 30')");
        if (!els && !then)
            return ferr(c, r->line, r->col, f, "rule needs 'then:' (the value when the condition holds)");
        if (!els && i + 1 == v->n)
            return ferr(c, r->line, r->col, f,
                        "rules must end with '- else: VALUE' (the value when no rule matches)");
        if (when && (when->kind != LG_YSCALAR || lg_ynode_is_null(when)))
            return ferr(c, when->line, when->col, f,
                        "'when' must be a condition such as 'days <= 30', got %s",
                        lg_ynode_describe(when, d, sizeof d));
        ru->when_node = when;
        if (when)
            ru->when_pos = lg_ynode_textpos(when);
        val = els ? els : then;
        if (!(ru->value = lg_ynode_to_json(val, c->file, c->err)))
            return c->err->code;
        if (json_is_string(ru->value) && strstr(json_string_value(ru->value), "{{")) {
            if (parse_tpl(c, f, val, &ru->tpl, &ru->value_pos))
                return c->err->code;
            f->types |= LG_EXPR_STR;
        } else {
            f->types |= json_types(ru->value);
        }
    }
    return 0;
}

/* Pass 1: one field's generator, without looking at other fields. */
static int parse_field(pctx *c, field *f, const lg_ypair *p)
{
    const lg_ynode *v = p->value, *gen = NULL, *x;
    const char *kind = NULL;
    char d[64];

    f->line = p->key->line;
    f->col = p->key->col;
    f->decimals = -1;
    if (!(f->name = strdup(p->key->text)))
        return nomem(c);
    if (!valid_name(f->name))
        return ferr(c, f->line, f->col, NULL,
                    "field name '%s' must be letters, digits and '_', not starting with a digit "
                    "(templates and conditions refer to it)", f->name);
    for (const char *const *r = reserved; *r; r++)
        if (!strcmp(*r, f->name))
            return ferr(c, f->line, f->col, NULL,
                        "field name '%s' is a reserved word of conditions; pick another name", f->name);
    if (v->kind != LG_YMAP)
        return ferr(c, v->line, v->col, f,
                    "must be a mapping with one generator (e.g. {int: [1, 10]}), got %s",
                    lg_ynode_describe(v, d, sizeof d));
    if (lg_ynode_check_keys(v, field_keys, c->file, f->name, c->err))
        return c->err->code;
    for (size_t i = 0; i < v->n; i++) {
        for (size_t k = 0; gen_names[k]; k++) {
            if (strcmp(v->pairs[i].key->text, gen_names[k]))
                continue;
            if (gen)
                return ferr(c, v->pairs[i].key->line, v->pairs[i].key->col, f,
                            "has two generators, '%s' and '%s'; keep one", kind, gen_names[k]);
            gen = v->pairs[i].value;
            kind = gen_names[k];
            f->kind = (lg_gen_kind)k;
        }
    }
    if (!gen)
        return ferr(c, v->line, v->col, f,
                    "needs a generator: one of int, float, choice, weighted, bool, lines, template, rules");
    if ((x = lg_ynode_get(v, "hidden")) && !lg_ynode_bool(x, &f->hidden))
        return ferr(c, x->line, x->col, f, "'hidden' must be true or false, got %s",
                    lg_ynode_describe(x, d, sizeof d));
    if ((x = lg_ynode_get(v, "decimals"))) {
        long long dec;
        if (f->kind != LG_GEN_FLOAT)
            return ferr(c, x->line, x->col, f, "'decimals' applies only to float fields");
        if (!lg_ynode_int(x, &dec) || dec < 0 || dec > MAX_DECIMALS)
            return ferr(c, x->line, x->col, f, "'decimals' must be an integer from 0 to %d, got %s",
                        MAX_DECIMALS, lg_ynode_describe(x, d, sizeof d));
        f->decimals = (int)dec;
    }
    switch (f->kind) {
    case LG_GEN_INT:
        f->types = LG_EXPR_NUM;
        return parse_range(c, f, gen, true);
    case LG_GEN_FLOAT:
        f->types = LG_EXPR_NUM;
        return parse_range(c, f, gen, false);
    case LG_GEN_CHOICE:
        return parse_choice(c, f, gen);
    case LG_GEN_WEIGHTED:
        return parse_weighted(c, f, gen);
    case LG_GEN_BOOL:
        f->types = LG_EXPR_BOOL;
        if (!lg_ynode_num(gen, &f->p) || f->p < 0 || f->p > 1)
            return ferr(c, gen->line, gen->col, f, "bool needs a probability from 0 to 1, got %s",
                        lg_ynode_describe(gen, d, sizeof d));
        return 0;
    case LG_GEN_LINES:
        f->types = LG_EXPR_STR;
        return parse_lines(c, f, gen);
    case LG_GEN_TEMPLATE:
        f->types = LG_EXPR_STR;
        if (gen->kind != LG_YSCALAR)
            return ferr(c, gen->line, gen->col, f, "template needs text, got %s",
                        lg_ynode_describe(gen, d, sizeof d));
        return parse_tpl(c, f, gen, &f->tpl, &f->tpl_pos);
    case LG_GEN_RULES:
        return parse_rules(c, f, gen);
    }
    return 0;
}

int lg_casegen_find(const lg_casegen *g, const char *name)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->f[i].name, name))
            return (int)i;
    return -1;
}

static int add_dep(pctx *c, field *f, size_t d, int line, int col)
{
    const field *to = &c->g->f[d];
    size_t *nd;

    if (to->hidden && !f->hidden)
        return ferr(c, line, col, f,
                    "uses hidden field '%s', which would show it to the loop; mark '%s' "
                    "hidden: true or drop the reference", to->name, f->name);
    for (size_t i = 0; i < f->ndeps; i++)
        if (f->deps[i] == d)
            return 0;
    nd = realloc(f->deps, (f->ndeps + 1) * sizeof *nd);
    if (!nd)
        return nomem(c);
    f->deps = nd;
    f->deps[f->ndeps++] = d;
    return 0;
}

static int tpl_deps(pctx *c, field *f, const lg_template *t, lg_ytextpos pos)
{
    for (size_t i = 0; i < lg_template_nvars(t); i++) {
        size_t off;
        const char *name = lg_template_var(t, i, &off);
        int idx = lg_casegen_find(c->g, name), line, col;
        lg_ytextpos_at(pos, off, &line, &col);
        if (idx < 0) {
            const char *guess = lg_suggest(name, c->g->names);
            return ferr(c, line, col, f, "template refers to unknown field '%s'%s%s%s", name,
                        guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
        }
        if (add_dep(c, f, (size_t)idx, line, col))
            return c->err->code;
    }
    return 0;
}

static int resolve_field(void *ctx, const char *name, unsigned *types)
{
    const lg_casegen *g = ctx;
    int i = lg_casegen_find(g, name);
    if (i >= 0)
        *types = g->f[i].types;
    return i;
}

/* Pass 2: references between fields. */
static int link_field(pctx *c, field *f)
{
    int line, col;

    if (f->kind == LG_GEN_TEMPLATE)
        return tpl_deps(c, f, f->tpl, f->tpl_pos);
    if (f->kind != LG_GEN_RULES)
        return 0;
    for (size_t i = 0; i < f->nrules; i++) {
        rule *r = &f->rules[i];
        if (r->when_node) {
            size_t off = 0;
            lg_err e = LG_ERR_INIT;
            if (lg_expr_compile(r->when_node->text, resolve_field, c->g, c->g->names, &r->when,
                                &off, &e)) {
                if (e.code == LG_ENOMEM)
                    return nomem(c);
                lg_ytextpos_at(r->when_pos, off, &line, &col);
                return ferr(c, line, col, f, "%s", e.msg);
            }
            if (lg_expr_types(r->when) != LG_EXPR_BOOL)
                return ferr(c, r->when_pos.line, r->when_pos.col, f,
                            "a condition must be true or false, but this one is %s",
                            lg_expr_type_name(lg_expr_types(r->when)));
            for (size_t k = 0; k < lg_expr_nrefs(r->when); k++) {
                lg_ytextpos_at(r->when_pos, 0, &line, &col);
                if (add_dep(c, f, (size_t)lg_expr_ref(r->when, k), line, col))
                    return c->err->code;
            }
            r->when_node = NULL;
        }
        if (r->tpl && tpl_deps(c, f, r->tpl, r->value_pos))
            return c->err->code;
    }
    return 0;
}

/* Pass 3: depth-first topological order of the computed fields. */
static int visit(pctx *c, size_t i, unsigned char *state, size_t *stack, size_t depth)
{
    field *f = &c->g->f[i];
    if (state[i] == 2)
        return 0;
    if (state[i] == 1) {
        lg_buf path = LG_BUF_INIT;
        size_t k = 0;
        int rc;
        while (k < depth && stack[k] != i)
            k++;
        for (size_t j = k; j < depth; j++)
            if (lg_buf_appendf(&path, "%s -> ", c->g->f[stack[j]].name))
                break;
        rc = ferr(c, f->line, f->col, f, "fields depend on each other in a cycle: %s%s",
                  lg_buf_cstr(&path), f->name);
        lg_buf_release(&path);
        return rc;
    }
    state[i] = 1;
    stack[depth] = i;
    for (size_t k = 0; k < f->ndeps; k++)
        if (visit(c, f->deps[k], state, stack, depth + 1))
            return c->err->code;
    state[i] = 2;
    if (!is_random(f->kind))
        c->g->order[c->g->norder++] = i;
    return 0;
}

int lg_casegen_parse(const lg_ynode *generators, const char *file, const char *basedir,
                     lg_casegen **out, lg_err *err)
{
    lg_err local = LG_ERR_INIT;
    pctx c = {.file = file, .basedir = basedir, .err = err ? err : &local};
    lg_casegen *g;
    unsigned char *state = NULL;
    size_t *stack = NULL;
    char d[64];
    int rc = 0;

    *out = NULL;
    if (!(g = calloc(1, sizeof *g)) || !(g->file = strdup(file))) {
        free(g);
        return nomem(&c);
    }
    c.g = g;
    if (generators && !lg_ynode_is_null(generators) && generators->kind != LG_YMAP) {
        rc = ferr(&c, generators->line, generators->col, NULL,
                  "'cases.generators' must be a mapping of field name to generator, got %s",
                  lg_ynode_describe(generators, d, sizeof d));
        goto fail;
    }
    size_t n = generators && generators->kind == LG_YMAP ? generators->n : 0;
    g->f = calloc(n ? n : 1, sizeof *g->f);
    g->names = calloc(n + 1, sizeof *g->names);
    g->order = calloc(n ? n : 1, sizeof *g->order);
    state = calloc(n ? n : 1, 1);
    stack = calloc(n ? n : 1, sizeof *stack);
    if (!g->f || !g->names || !g->order || !state || !stack) {
        rc = nomem(&c);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        g->n++;
        if ((rc = parse_field(&c, &g->f[i], &generators->pairs[i])))
            goto fail;
        g->names[i] = g->f[i].name;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = link_field(&c, &g->f[i])))
            goto fail;
    for (size_t i = 0; i < n; i++)
        if ((rc = visit(&c, i, state, stack, 0)))
            goto fail;
    free(state);
    free(stack);
    *out = g;
    return 0;
fail:
    free(state);
    free(stack);
    lg_casegen_free(g);
    return rc ? rc : LG_EINPUT;
}

size_t lg_casegen_nfields(const lg_casegen *g)
{
    return g->n;
}

const char *lg_casegen_field(const lg_casegen *g, size_t i, bool *hidden, lg_gen_kind *kind)
{
    if (i >= g->n)
        return NULL;
    if (hidden)
        *hidden = g->f[i].hidden;
    if (kind)
        *kind = g->f[i].kind;
    return g->f[i].name;
}

const char *const *lg_casegen_names(const lg_casegen *g)
{
    return g->names;
}

/* ---- generation ----
 * Cases get copies of the declared values, never the generator's own JSON,
 * so a caller may modify a case without touching the generator (and
 * threads sharing the generator never share a mutable value). */

typedef struct gctx {
    const lg_casegen *g;
    json_t *obj;
} gctx;

static const json_t *lookup_field(void *ctx, int id)
{
    const gctx *x = ctx;
    return json_object_get(x->obj, x->g->f[id].name);
}

static json_t *draw(const field *f, lg_pcg32 *rng)
{
    switch (f->kind) {
    case LG_GEN_INT:
        return json_integer((json_int_t)lg_pcg32_range(rng, f->imin, f->imax));
    case LG_GEN_FLOAT: {
        /* volatile keeps the compiler from fusing the multiply and the add
         * into an FMA on some targets, which would change the last bit and
         * break "the same case on every machine" */
        volatile double t = (f->fmax - f->fmin) * lg_pcg32_double(rng);
        double v = f->fmin + t;
        if (f->decimals >= 0)
            v = round(v * pow10s[f->decimals]) / pow10s[f->decimals];
        return json_real(v);
    }
    case LG_GEN_CHOICE:
    case LG_GEN_LINES:
        return json_deep_copy(f->values[lg_pcg32_boundedrand(rng, (uint32_t)f->nvalues)]);
    case LG_GEN_WEIGHTED: {
        double u = lg_pcg32_double(rng) * f->total;
        size_t last = 0;
        for (size_t i = 0; i < f->nvalues; i++) {
            if (f->cum[i] > (i ? f->cum[i - 1] : 0))
                last = i;
            if (u < f->cum[i])
                return json_deep_copy(f->values[i]);
        }
        return json_deep_copy(f->values[last]); /* u rounded up to the total */
    }
    case LG_GEN_BOOL:
        return json_boolean(lg_pcg32_double(rng) < f->p);
    default:
        return NULL;
    }
}

static int case_err(const lg_casegen *g, uint64_t index, int line, int col, const field *f,
                    const lg_err *e, lg_err *err)
{
    if (e->code == LG_ENOMEM || e->code == LG_ETOOBIG)
        return LG_ERR(err, e->code, "case %llu: field '%s': %s", (unsigned long long)index,
                      f->name, e->msg);
    return LG_ERR(err, LG_EINPUT, "%s:%d:%d: case %llu: field '%s': %s", g->file, line, col,
                  (unsigned long long)index, f->name, e->msg);
}

static json_t *render(const lg_casegen *g, uint64_t index, const field *f, const lg_template *t,
                      lg_ytextpos pos, json_t *obj, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    json_t *v;

    if (lg_template_render(t, obj, &b, &e)) {
        lg_buf_release(&b);
        case_err(g, index, pos.line, pos.col, f, &e, err);
        return NULL;
    }
    v = json_stringn(lg_buf_cstr(&b), b.len);
    lg_buf_release(&b);
    if (!v)
        LG_ERR(err, LG_ENOMEM, "out of memory");
    return v;
}

static json_t *compute(const lg_casegen *g, uint64_t index, const field *f, json_t *obj,
                       lg_err *err)
{
    gctx x = {g, obj};

    if (f->kind == LG_GEN_TEMPLATE)
        return render(g, index, f, f->tpl, f->tpl_pos, obj, err);
    for (size_t i = 0; i < f->nrules; i++) {
        const rule *r = &f->rules[i];
        if (r->when) {
            lg_expr_value v;
            lg_err e = LG_ERR_INIT;
            size_t off = 0;
            int line, col;
            if (lg_expr_eval(r->when, lookup_field, &x, &v, &off, &e)) {
                lg_ytextpos_at(r->when_pos, off, &line, &col);
                case_err(g, index, line, col, f, &e, err);
                return NULL;
            }
            if (!v.b)
                continue;
        }
        if (r->tpl)
            return render(g, index, f, r->tpl, r->value_pos, obj, err);
        return json_deep_copy(r->value);
    }
    /* unreachable: parsing requires a final `else` */
    LG_ERR(err, LG_EINTERNAL, "case %llu: field '%s': no rule matched", (unsigned long long)index,
           f->name);
    return NULL;
}

int lg_casegen_generate(const lg_casegen *g, uint64_t seed, uint64_t index, unsigned flags,
                        json_t **out, lg_err *err)
{
    json_t *obj = json_object();
    lg_pcg32 rng;

    *out = NULL;
    if (!obj)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    lg_pcg32_srandom(&rng, seed, index);
    for (size_t i = 0; i < g->n; i++) {
        if (!is_random(g->f[i].kind))
            continue;
        if (json_object_set_new(obj, g->f[i].name, draw(&g->f[i], &rng))) {
            json_decref(obj);
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        }
    }
    for (size_t k = 0; k < g->norder; k++) {
        const field *f = &g->f[g->order[k]];
        json_t *v = compute(g, index, f, obj, err);
        if (!v || json_object_set_new(obj, f->name, v)) {
            json_decref(obj);
            return lg_err_isset(err) ? err->code : LG_ERR(err, LG_ENOMEM, "out of memory");
        }
    }
    if (!(flags & LG_CASES_HIDDEN))
        for (size_t i = 0; i < g->n; i++)
            if (g->f[i].hidden)
                json_object_del(obj, g->f[i].name);
    *out = obj;
    return 0;
}

int lg_cases_generate(const struct lg_suite *suite, uint64_t index, unsigned flags,
                      json_t **out, lg_err *err)
{
    return lg_casegen_generate(suite->cases, suite->seed, index, flags, out, err);
}
