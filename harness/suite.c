#include "suite.h"

#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/suggest.h"
#include "harness/loop_config.h"
#include "harness/suite_int.h"
#include "harness/template.h"

typedef struct sctx {
    sp_ctx sp; /* the file and the error (suite_int.h) */
    lg_suite *s;
} sctx;

static const char *const top_keys[] = {
    "name", "description", "seed", "trials", "cases", "loop", "expect", "validate",
    "invariants", "limits", "pricing", "gates", "sim", NULL,
};

/* ---- messages and typed values shared with loop_config.c (suite_int.h) ---- */

int sp_at(sp_ctx *c, int line, int col, const char *fmt, ...)
{
    char msg[LG_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: %s", c->file, line, col, msg);
}

int sp_type_err(sp_ctx *c, const lg_ynode *v, const char *key, const char *want)
{
    char d[64];
    return sp_at(c, v->line, v->col, "'%s' must be %s, got %s", key, want,
                 lg_ynode_describe(v, d, sizeof d));
}

int sp_nomem(sp_ctx *c)
{
    return LG_ERR(c->err, LG_ENOMEM, "out of memory");
}

int sp_check_keys(sp_ctx *c, const lg_ynode *map, const char *const *allowed, const char *where)
{
    return lg_ynode_check_keys(map, allowed, c->file, where, c->err);
}

int sp_get_map(sp_ctx *c, const lg_ynode *v, const char *key, const char *want,
               const char *const *allowed)
{
    if (v->kind != LG_YMAP)
        return sp_type_err(c, v, key, want ? want : "a mapping");
    return allowed ? sp_check_keys(c, v, allowed, key) : 0;
}

int sp_get_bool(sp_ctx *c, const lg_ynode *v, const char *key, bool *out)
{
    if (!lg_ynode_bool(v, out))
        return sp_type_err(c, v, key, "true or false");
    return 0;
}

int sp_get_pos_num(sp_ctx *c, const lg_ynode *v, const char *key, double max, double *out)
{
    double x;
    if (!lg_ynode_num(v, &x) || !(x > 0))
        return sp_type_err(c, v, key, "a positive number");
    if (x > max) {
        char d[64];
        return sp_at(c, v->line, v->col, "'%s' must be at most %g, got %s", key, max,
                     lg_ynode_describe(v, d, sizeof d));
    }
    *out = x;
    return 0;
}

void sp_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* ---- messages ---- */

/* "missing required key 'KEY'[ in 'WHERE']" at the enclosing mapping. */
static int missing(sctx *c, const lg_ynode *map, const char *key, const char *where)
{
    if (where)
        return sp_at(&c->sp, map->line, map->col, "missing required key '%s' in '%s'", key, where);
    return sp_at(&c->sp, map->line, map->col, "missing required key '%s'", key);
}

/* ---- typed values ---- */

static int get_str(sctx *c, const lg_ynode *v, const char *key, char **out)
{
    if (v->kind != LG_YSCALAR || lg_ynode_is_null(v) || v->len == 0 || strlen(v->text) != v->len)
        return sp_type_err(&c->sp, v, key, "a non-empty string");
    if (!(*out = strdup(v->text)))
        return sp_nomem(&c->sp);
    return 0;
}

static int get_text(sctx *c, const lg_ynode *v, const char *key, lg_suite_text *out)
{
    if (get_str(c, v, key, &out->text))
        return c->sp.err->code;
    out->pos = lg_ynode_textpos(v);
    return 0;
}

/* Integer in [min, max]. `want` describes the range for messages. */
static int get_u64(sctx *c, const lg_ynode *v, const char *key, unsigned long long min,
                   unsigned long long max, const char *want, uint64_t *out)
{
    unsigned long long x;
    char d[64];
    if (!lg_ynode_u64(v, &x))
        return sp_type_err(&c->sp, v, key, want);
    if (x < min)
        return sp_type_err(&c->sp, v, key, want);
    if (x > max)
        return sp_at(&c->sp, v->line, v->col, "'%s' must be at most %llu, got %s", key, max,
                     lg_ynode_describe(v, d, sizeof d));
    *out = x;
    return 0;
}

static int get_num(sctx *c, const lg_ynode *v, const char *key, double *out)
{
    double x;
    if (!lg_ynode_num(v, &x) || x < 0)
        return sp_type_err(&c->sp, v, key, "a number >= 0");
    *out = x;
    return 0;
}

static int get_strlist(sctx *c, const lg_ynode *v, const char *key, const char *want,
                       lg_suite_strlist *out)
{
    out->present = true;
    out->line = v->line;
    out->col = v->col;
    if (v->kind != LG_YSEQ)
        return sp_type_err(&c->sp, v, key, want);
    if (!(out->items = calloc(v->n + 1, sizeof *out->items)))
        return sp_nomem(&c->sp);
    for (size_t i = 0; i < v->n; i++) {
        if (get_str(c, v->items[i], key, &out->items[i]))
            return c->sp.err->code;
        out->n++;
    }
    return 0;
}

/* ---- templates against case fields ---- */

int sp_template_parse(sp_ctx *c, const char *text, lg_ytextpos pos, const char *key,
                      lg_template **out)
{
    lg_err e = LG_ERR_INIT;
    size_t off = 0;
    int line, col;

    if (lg_template_parse(text, out, &off, &e)) {
        if (e.code == LG_ENOMEM)
            return sp_nomem(c);
        lg_ytextpos_at(pos, off, &line, &col);
        return sp_at(c, line, col, "'%s': %s", key, e.msg);
    }
    return 0;
}

static int check_template(sctx *c, const char *text, lg_ytextpos pos, const char *key)
{
    lg_template *t = NULL;
    size_t off = 0;
    int line, col, rc = 0;

    if (sp_template_parse(&c->sp, text, pos, key, &t))
        return c->sp.err->code;
    for (size_t i = 0; i < lg_template_nvars(t); i++) {
        const char *name = lg_template_var(t, i, &off);
        if (lg_casegen_find(c->s->cases, name) >= 0)
            continue;
        const char *guess = lg_suggest(name, lg_casegen_names(c->s->cases));
        lg_ytextpos_at(pos, off, &line, &col);
        rc = sp_at(&c->sp, line, col, "'%s' refers to unknown case field '%s'%s%s%s", key, name,
                   guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
        break;
    }
    lg_template_free(t);
    return rc;
}

/* Every string inside an `expect.json` value is a template. */
static int check_json_templates(sctx *c, const lg_ynode *v, const char *key)
{
    switch (v->kind) {
    case LG_YSCALAR:
        if (lg_ynode_resolve(v) == LG_YSTR)
            return check_template(c, v->text, lg_ynode_textpos(v), key);
        return 0;
    case LG_YSEQ:
        for (size_t i = 0; i < v->n; i++)
            if (check_json_templates(c, v->items[i], key))
                return c->sp.err->code;
        return 0;
    case LG_YMAP:
        for (size_t i = 0; i < v->n; i++)
            if (check_json_templates(c, v->pairs[i].value, key))
                return c->sp.err->code;
        return 0;
    }
    return 0;
}

/* ---- commands (suite_int.h) ---- */

bool sp_env_name_ok(const char *s)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

int sp_cmd_value(sp_ctx *c, const lg_ynode *v, const char *key, sp_cmd_word_fn word, void *arg,
                 lg_suite_cmd *cmd)
{
    static const char want[] = "a command line or a list of arguments";
    cmd->line = v->line;
    cmd->col = v->col;
    if (v->kind == LG_YSCALAR) {
        if (lg_ynode_is_null(v) || v->len == 0)
            return sp_type_err(c, v, key, want);
        if (strlen(v->text) != v->len)
            return sp_type_err(c, v, key, "a non-empty string");
        if (!(cmd->shell = strdup(v->text)))
            return sp_nomem(c);
        return word ? word(arg, v, key, 0) : 0;
    }
    if (v->kind != LG_YSEQ || v->n == 0)
        return sp_type_err(c, v, key, want);
    if (!(cmd->argv = calloc(v->n + 1, sizeof *cmd->argv)))
        return sp_nomem(c);
    for (size_t i = 0; i < v->n; i++) {
        const lg_ynode *a = v->items[i];
        if (a->kind != LG_YSCALAR || strlen(a->text) != a->len)
            return sp_type_err(c, a, key, "a list of arguments (strings)");
        if (!(cmd->argv[i] = strdup(a->text)))
            return sp_nomem(c);
        if (word && word(arg, a, key, i))
            return c->err->code;
    }
    return 0;
}

int sp_cmd_parse(sp_ctx *c, const lg_ynode *map, const char *where, double max_timeout,
                 sp_cmd_word_fn word, void *arg, lg_suite_cmd *cmd)
{
    char key[160];
    const lg_ynode *v;

    if (!(v = lg_ynode_get(map, "command")))
        return sp_at(c, map->line, map->col, "missing required key 'command' in '%s'", where);
    snprintf(key, sizeof key, "%s.command", where);
    if (sp_cmd_value(c, v, key, word, arg, cmd))
        return c->err->code;
    if ((v = lg_ynode_get(map, "timeout"))) {
        snprintf(key, sizeof key, "%s.timeout", where);
        if (sp_get_pos_num(c, v, key, max_timeout, &cmd->timeout_s))
            return c->err->code;
    }
    if ((v = lg_ynode_get(map, "env"))) {
        snprintf(key, sizeof key, "%s.env", where);
        if (v->kind != LG_YMAP)
            return sp_type_err(c, v, key, "a mapping of NAME: value");
        if (!(cmd->env = calloc(v->n + 1, sizeof *cmd->env)))
            return sp_nomem(c);
        for (size_t i = 0; i < v->n; i++) {
            const lg_ypair *p = &v->pairs[i];
            lg_buf b = LG_BUF_INIT;
            int rc;
            if (!sp_env_name_ok(p->key->text))
                return sp_at(c, p->key->line, p->key->col,
                             "'%s': '%s' is not a valid environment variable name", key,
                             p->key->text);
            if (p->value->kind != LG_YSCALAR)
                return sp_type_err(c, p->value, key, "a mapping of NAME: value (values are text)");
            /* null unsets the variable in the child: "NAME" alone (core/proc.h) */
            if (lg_ynode_is_null(p->value))
                rc = lg_buf_append_str(&b, p->key->text);
            else
                rc = lg_buf_appendf(&b, "%s=%s", p->key->text, p->value->text);
            if (rc) {
                lg_buf_release(&b);
                return sp_nomem(c);
            }
            cmd->env[i] = lg_buf_take(&b, NULL);
        }
    }
    return 0;
}

static void cmd_release(lg_suite_cmd *cmd)
{
    sp_strv_free(cmd->argv);
    free(cmd->shell);
    sp_strv_free(cmd->env);
}

/* ---- sections ---- */

static int parse_cases(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {"count", "generators", NULL};
    const lg_ynode *x;

    if (sp_get_map(&c->sp, v, "cases", NULL, keys))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "count")) &&
        get_u64(c, x, "cases.count", 1, LG_SUITE_MAX_COUNT, "a positive integer", &c->s->count))
        return c->sp.err->code;
    return 0;
}

static int parse_loop(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {"command", "builtin", "env", "answer", NULL};
    lg_suite_loop *loop = &c->s->loop;
    const lg_ynode *cmd, *bi, *x;
    const lg_ypair *p;

    if (sp_get_map(&c->sp, v, "loop", NULL, NULL))
        return c->sp.err->code;
    if ((p = lg_ynode_get_pair(v, "timeout")))
        return sp_at(&c->sp, p->key->line, p->key->col,
                     "unknown key 'timeout' in 'loop' (the time limit of a trial is 'limits.timeout_s')");
    if (sp_check_keys(&c->sp, v, keys, "loop"))
        return c->sp.err->code;
    loop->line = v->line;
    loop->col = v->col;
    cmd = lg_ynode_get(v, "command");
    bi = lg_ynode_get(v, "builtin");
    if (cmd && bi)
        return sp_at(&c->sp, lg_ynode_get_pair(v, "builtin")->key->line,
                     lg_ynode_get_pair(v, "builtin")->key->col,
                     "'loop' takes either 'command' (an external loop) or 'builtin', not both");
    if (!cmd && !bi)
        return sp_at(&c->sp, v->line, v->col,
                     "'loop' needs 'command' (an external loop) or 'builtin' (the built-in engine)");
    if (bi) {
        const char *extra = lg_ynode_get(v, "env") ? "env" : lg_ynode_get(v, "answer") ? "answer" : NULL;
        if (extra) {
            p = lg_ynode_get_pair(v, extra);
            return sp_at(&c->sp, p->key->line, p->key->col,
                         "'loop.%s' applies to 'command' loops only", extra);
        }
        if (sp_get_map(&c->sp, bi, "loop.builtin", NULL, NULL))
            return c->sp.err->code;
        loop->kind = LG_LOOP_BUILTIN;
        loop->builtin_node = bi;
        if (!(loop->builtin = lg_ynode_to_json(bi, c->sp.file, c->sp.err)))
            return c->sp.err->code;
        return lg_loop_config_check(bi, c->sp.file, c->s->cases, c->sp.err); /* harness/loop_config.c */
    }
    loop->kind = LG_LOOP_COMMAND;
    if (sp_cmd_parse(&c->sp, v, "loop", HUGE_VAL, NULL, NULL, &loop->cmd))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "answer")) && get_str(c, x, "loop.answer", &loop->answer))
        return c->sp.err->code;
    return 0;
}

static int parse_expect(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {"equals", "contains", "regex", "json", "ignore_case", NULL};
    lg_suite_expect *e = &c->s->expect;
    const lg_ynode *x;

    if (sp_get_map(&c->sp, v, "expect", NULL, keys))
        return c->sp.err->code;
    e->present = true;
    e->line = v->line;
    e->col = v->col;
    if (!lg_ynode_get(v, "equals") && !lg_ynode_get(v, "contains") && !lg_ynode_get(v, "regex") &&
        !lg_ynode_get(v, "json"))
        return sp_at(&c->sp, v->line, v->col, "'expect' needs at least one of equals, contains, regex, json");
    if ((x = lg_ynode_get(v, "ignore_case")) &&
        sp_get_bool(&c->sp, x, "expect.ignore_case", &e->ignore_case))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "equals"))) {
        if (get_text(c, x, "expect.equals", &e->equals) ||
            check_template(c, e->equals.text, e->equals.pos, "expect.equals"))
            return c->sp.err->code;
    }
    if ((x = lg_ynode_get(v, "contains"))) {
        size_t n = x->kind == LG_YSEQ ? x->n : 1;
        if (x->kind == LG_YMAP || (x->kind == LG_YSEQ && x->n == 0))
            return sp_type_err(&c->sp, x, "expect.contains", "a string or a non-empty list of strings");
        if (!(e->contains = calloc(n, sizeof *e->contains)))
            return sp_nomem(&c->sp);
        for (size_t i = 0; i < n; i++) {
            const lg_ynode *item = x->kind == LG_YSEQ ? x->items[i] : x;
            if (get_text(c, item, "expect.contains", &e->contains[i]))
                return c->sp.err->code;
            e->ncontains++;
            if (check_template(c, e->contains[i].text, e->contains[i].pos, "expect.contains"))
                return c->sp.err->code;
        }
    }
    if ((x = lg_ynode_get(v, "regex"))) {
        lg_template *t = NULL;
        lg_buf probe = LG_BUF_INIT;
        json_t *vars;
        regex_t re;
        int rc;
        if (get_text(c, x, "expect.regex", &e->regex) ||
            check_template(c, e->regex.text, e->regex.pos, "expect.regex"))
            return c->sp.err->code;
        /* compile once with every placeholder replaced by a plain word, so a
         * broken pattern is reported now rather than at the first answer */
        if (lg_template_parse(e->regex.text, &t, NULL, c->sp.err))
            return c->sp.err->code;
        if (!(vars = json_object())) {
            lg_template_free(t);
            return sp_nomem(&c->sp);
        }
        for (size_t i = 0; i < lg_template_nvars(t); i++)
            json_object_set_new(vars, lg_template_var(t, i, NULL), json_string("x"));
        rc = lg_template_render(t, vars, &probe, c->sp.err);
        json_decref(vars);
        lg_template_free(t);
        if (rc) {
            lg_buf_release(&probe);
            return rc;
        }
        rc = regcomp(&re, lg_buf_cstr(&probe), REG_EXTENDED | REG_NOSUB | (e->ignore_case ? REG_ICASE : 0));
        lg_buf_release(&probe);
        if (rc) {
            char msg[256];
            regerror(rc, &re, msg, sizeof msg);
            return sp_at(&c->sp, x->line, x->col, "'expect.regex' is not a valid extended regular expression: %s", msg);
        }
        regfree(&re);
    }
    if ((x = lg_ynode_get(v, "json"))) {
        if (!(e->json = lg_ynode_to_json(x, c->sp.file, c->sp.err)) ||
            check_json_templates(c, x, "expect.json"))
            return c->sp.err->code;
    }
    return 0;
}

static int parse_validate(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {"command", "env", "timeout", NULL};
    if (sp_get_map(&c->sp, v, "validate", NULL, keys))
        return c->sp.err->code;
    c->s->validate.present = true;
    return sp_cmd_parse(&c->sp, v, "validate", HUGE_VAL, NULL, NULL, &c->s->validate.cmd);
}

static int parse_before(sctx *c, const lg_ynode *v, lg_suite_before *b)
{
    static const char *const keys[] = {"tool", "before", NULL};
    const lg_ynode *x;

    if (sp_get_map(&c->sp, v, "invariants.required_before",
                   "a mapping {tool: NAME, before: NAME} or a list of them", keys))
        return c->sp.err->code;
    b->line = v->line;
    b->col = v->col;
    if (!(x = lg_ynode_get(v, "tool")))
        return missing(c, v, "tool", "invariants.required_before");
    if (get_str(c, x, "invariants.required_before.tool", &b->tool))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "before")))
        return get_str(c, x, "invariants.required_before.before", &b->before);
    if (!(b->before = strdup("final_answer")))
        return sp_nomem(&c->sp);
    return 0;
}

static int parse_invariants(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {
        "max_iterations", "max_tokens", "max_cost_usd", "no_repeated_action", "stall",
        "tool_allowlist", "required_before", "exactly_once", "approval_required", "command", NULL,
    };
    static const char tools[] = "a list of tool names";
    lg_suite_invariants *inv = &c->s->invariants;
    const lg_ynode *x;
    uint64_t u;

    if (sp_get_map(&c->sp, v, "invariants", NULL, keys))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_iterations")) &&
        get_u64(c, x, "invariants.max_iterations", 1, UINT64_MAX, "a positive integer", &inv->max_iterations))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_tokens")) &&
        get_u64(c, x, "invariants.max_tokens", 1, UINT64_MAX, "a positive integer", &inv->max_tokens))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_cost_usd")) &&
        sp_get_pos_num(&c->sp, x, "invariants.max_cost_usd", HUGE_VAL, &inv->max_cost_usd))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "no_repeated_action"))) {
        if (get_u64(c, x, "invariants.no_repeated_action", 2, UINT32_MAX,
                    "an integer >= 2 (identical calls in a row that count as a repeat)", &u))
            return c->sp.err->code;
        inv->no_repeated_action = (uint32_t)u;
    }
    if ((x = lg_ynode_get(v, "stall"))) {
        if (get_u64(c, x, "invariants.stall", 1, UINT32_MAX,
                    "a positive integer (iterations without a new tool result)", &u))
            return c->sp.err->code;
        inv->stall = (uint32_t)u;
    }
    if ((x = lg_ynode_get(v, "tool_allowlist")) &&
        get_strlist(c, x, "invariants.tool_allowlist", tools, &inv->tool_allowlist))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "exactly_once")) &&
        get_strlist(c, x, "invariants.exactly_once", tools, &inv->exactly_once))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "approval_required")) &&
        get_strlist(c, x, "invariants.approval_required", tools, &inv->approval_required))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "required_before"))) {
        size_t n = x->kind == LG_YSEQ ? x->n : 1;
        if (!(inv->required_before = calloc(n ? n : 1, sizeof *inv->required_before)))
            return sp_nomem(&c->sp);
        for (size_t i = 0; i < n; i++) {
            inv->nrequired_before++;
            if (parse_before(c, x->kind == LG_YSEQ ? x->items[i] : x, &inv->required_before[i]))
                return c->sp.err->code;
        }
    }
    if ((x = lg_ynode_get(v, "command"))) {
        static const char *const ckeys[] = {"command", "env", "timeout", NULL};
        if (!(inv->command = calloc(1, sizeof *inv->command)))
            return sp_nomem(&c->sp);
        if (x->kind == LG_YMAP) {
            if (sp_check_keys(&c->sp, x, ckeys, "invariants.command"))
                return c->sp.err->code;
            return sp_cmd_parse(&c->sp, x, "invariants.command", HUGE_VAL, NULL, NULL,
                                inv->command);
        }
        return sp_cmd_value(&c->sp, x, "invariants.command", NULL, NULL, inv->command);
    }
    return 0;
}

static int parse_limits(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {"max_iterations", "timeout_s", "max_tokens", "max_cost_usd", NULL};
    lg_suite_limits *l = &c->s->limits;
    const lg_ynode *x;

    if (sp_get_map(&c->sp, v, "limits", NULL, keys))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_iterations")) &&
        get_u64(c, x, "limits.max_iterations", 1, UINT64_MAX, "a positive integer", &l->max_iterations))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "timeout_s")) &&
        sp_get_pos_num(&c->sp, x, "limits.timeout_s", HUGE_VAL, &l->timeout_s))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_tokens")) &&
        get_u64(c, x, "limits.max_tokens", 1, UINT64_MAX, "a positive integer", &l->max_tokens))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_cost_usd")) &&
        sp_get_pos_num(&c->sp, x, "limits.max_cost_usd", HUGE_VAL, &l->max_cost_usd))
        return c->sp.err->code;
    return 0;
}

static char *join_path(const char *dir, const char *path)
{
    lg_buf b = LG_BUF_INIT;
    if (path[0] == '/' || !strcmp(dir, "."))
        return strdup(path);
    if (lg_buf_appendf(&b, "%s/%s", dir, path)) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static int parse_pricing(sctx *c, const lg_ynode *v)
{
    static const char *const keys[] = {"input", "output", "cached_input", NULL};
    lg_suite_pricing *pr = &c->s->pricing;

    if (v->kind == LG_YSCALAR && !lg_ynode_is_null(v)) {
        if (!(pr->file = join_path(c->s->dir, v->text)))
            return sp_nomem(&c->sp);
        if (access(pr->file, R_OK) != 0)
            return sp_at(&c->sp, v->line, v->col, "cannot open pricing file '%s': %s", pr->file, strerror(errno));
        return 0;
    }
    if (v->kind != LG_YMAP)
        return sp_type_err(&c->sp, v, "pricing", "a pricing file path or a mapping of model: {input, output, cached_input}");
    if (!(pr->models = calloc(v->n ? v->n : 1, sizeof *pr->models)))
        return sp_nomem(&c->sp);
    for (size_t i = 0; i < v->n; i++) {
        const lg_ypair *p = &v->pairs[i];
        lg_suite_price *m = &pr->models[pr->nmodels++];
        char key[256];
        const lg_ynode *x;

        m->line = p->key->line;
        m->col = p->key->col;
        if (!(m->model = strdup(p->key->text)))
            return sp_nomem(&c->sp);
        snprintf(key, sizeof key, "pricing.%s", m->model);
        if (sp_get_map(&c->sp, p->value, key,
                       "a mapping {input, output, cached_input} in USD per 1M tokens", keys))
            return c->sp.err->code;
        for (size_t k = 0; k < 2; k++) {
            const char *what = k ? "output" : "input";
            char sub[300];
            if (!(x = lg_ynode_get(p->value, what)))
                return missing(c, p->value, what, key);
            snprintf(sub, sizeof sub, "%s.%s", key, what);
            if (get_num(c, x, sub, k ? &m->output : &m->input))
                return c->sp.err->code;
        }
        m->cached_input = m->input;
        if ((x = lg_ynode_get(p->value, "cached_input"))) {
            char sub[300];
            snprintf(sub, sizeof sub, "%s.cached_input", key);
            if (get_num(c, x, sub, &m->cached_input))
                return c->sp.err->code;
        }
    }
    return 0;
}

static int parse_gates(sctx *c, const lg_ynode *v)
{
    static const char want[] = "a list of gate expressions (e.g. - convergence_rate >= 0.9)";
    if (v->kind != LG_YSEQ)
        return sp_type_err(&c->sp, v, "gates", want);
    if (!(c->s->gates = calloc(v->n ? v->n : 1, sizeof *c->s->gates)))
        return sp_nomem(&c->sp);
    for (size_t i = 0; i < v->n; i++) {
        if (v->items[i]->kind != LG_YSCALAR)
            return sp_type_err(&c->sp, v->items[i], "gates", want);
        if (get_text(c, v->items[i], "gates", &c->s->gates[i]))
            return c->sp.err->code;
        c->s->ngates++;
    }
    return 0;
}

/* ---- load ---- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static int parse_root(sctx *c, const lg_ynode *root)
{
    lg_suite *s = c->s;
    const lg_ynode *x;

    if (!root)
        return sp_at(&c->sp, 1, 1, "the suite file is empty; it needs at least 'name'");
    if (root->kind != LG_YMAP)
        return sp_at(&c->sp, root->line, root->col,
                     "a suite must be a mapping of keys (name, cases, loop, ...), got %s",
                     root->kind == LG_YSEQ ? "a list" : "text");
    if (sp_check_keys(&c->sp, root, top_keys, NULL))
        return c->sp.err->code;
    if (!(x = lg_ynode_get(root, "name")))
        return missing(c, root, "name", NULL);
    if (get_str(c, x, "name", &s->name))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "description")) && get_str(c, x, "description", &s->description))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "seed")) &&
        get_u64(c, x, "seed", 0, UINT64_MAX, "an integer from 0 to 18446744073709551615", &s->seed))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "trials"))) {
        uint64_t t;
        if (get_u64(c, x, "trials", 1, LG_SUITE_MAX_TRIALS, "a positive integer", &t))
            return c->sp.err->code;
        s->trials = (uint32_t)t;
    }
    /* cases first: expect templates are checked against the case fields */
    x = lg_ynode_get(root, "cases");
    if (x && parse_cases(c, x))
        return c->sp.err->code;
    if (lg_casegen_parse(x ? lg_ynode_get(x, "generators") : NULL, c->sp.file, s->dir, &s->cases, c->sp.err))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "loop")) && parse_loop(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "expect")) && parse_expect(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "validate")) && parse_validate(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "invariants")) && parse_invariants(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "limits")) && parse_limits(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "pricing")) && parse_pricing(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "gates")) && parse_gates(c, x))
        return c->sp.err->code;
    if ((x = lg_ynode_get(root, "sim"))) {
        if (sp_get_map(&c->sp, x, "sim", NULL, NULL))
            return c->sp.err->code;
        s->sim_node = x;
        if (!(s->sim = lg_ynode_to_json(x, c->sp.file, c->sp.err)))
            return c->sp.err->code;
    }
    return 0;
}

int lg_suite_load(const char *path, lg_suite **out, lg_err *err)
{
    lg_err local = LG_ERR_INIT;
    lg_suite *s;
    lg_buf b;
    sctx c;
    int rc;

    *out = NULL;
    if (!err)
        err = &local;
    if (!(s = calloc(1, sizeof *s)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    s->seed = LG_SUITE_DEFAULT_SEED;
    s->trials = LG_SUITE_DEFAULT_TRIALS;
    s->count = LG_SUITE_DEFAULT_COUNT;
    s->limits.timeout_s = LG_SUITE_DEFAULT_TIMEOUT_S;
    if (!(s->path = strdup(path)) || !(s->dir = dir_of(path))) {
        lg_suite_free(s);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    c = (sctx){.sp = {.file = s->path, .err = err}, .s = s};
    lg_buf_init_capped(&b, LG_YAML_MAX_FILE);
    rc = lg_fs_read_file(path, &b, err);
    if (!rc) {
        s->hash = lg_hash_bytes(lg_buf_cstr(&b), b.len);
        rc = lg_yaml_parse(lg_buf_cstr(&b), b.len, path, &s->doc, err);
    }
    lg_buf_release(&b);
    if (!rc)
        rc = parse_root(&c, s->doc->root);
    if (rc) {
        lg_suite_free(s);
        return lg_err_isset(err) ? err->code : rc;
    }
    *out = s;
    return 0;
}

void lg_suite_free(lg_suite *s)
{
    if (!s)
        return;
    free(s->path);
    free(s->dir);
    free(s->name);
    free(s->description);
    lg_casegen_free(s->cases);
    cmd_release(&s->loop.cmd);
    free(s->loop.answer);
    json_decref(s->loop.builtin);
    free(s->expect.equals.text);
    for (size_t i = 0; i < s->expect.ncontains; i++)
        free(s->expect.contains[i].text);
    free(s->expect.contains);
    free(s->expect.regex.text);
    json_decref(s->expect.json);
    cmd_release(&s->validate.cmd);
    sp_strv_free(s->invariants.tool_allowlist.items);
    sp_strv_free(s->invariants.exactly_once.items);
    sp_strv_free(s->invariants.approval_required.items);
    for (size_t i = 0; i < s->invariants.nrequired_before; i++) {
        free(s->invariants.required_before[i].tool);
        free(s->invariants.required_before[i].before);
    }
    free(s->invariants.required_before);
    if (s->invariants.command)
        cmd_release(s->invariants.command);
    free(s->invariants.command);
    free(s->pricing.file);
    for (size_t i = 0; i < s->pricing.nmodels; i++)
        free(s->pricing.models[i].model);
    free(s->pricing.models);
    for (size_t i = 0; i < s->ngates; i++)
        free(s->gates[i].text);
    free(s->gates);
    json_decref(s->sim);
    lg_ydoc_free(s->doc);
    free(s);
}
