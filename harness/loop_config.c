/* harness/loop_config.c - the `loop: builtin:` block; see loop_config.h. */
#include "loop_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/suggest.h"
#include "harness/suite_int.h"

const char *const lg_loop_state_vars[] = {
    "iteration",     "max_iterations", "remaining_iterations", "remaining_budget",
    "verify_output", "verify_passed",  "verify_failures",      NULL,
};

static const char *const provider_names[] = {"openai", "anthropic", "sim", NULL};

const char *lg_loop_provider_name(lg_loop_provider p)
{
    return (unsigned)p < 3 ? provider_names[p] : "unknown";
}

typedef struct pctx {
    sp_ctx sp; /* the file and the error (suite_int.h) */
    const lg_casegen *cases;
} pctx;

/* ---- typed values ---- */

static int get_str(pctx *c, const lg_ynode *v, const char *key, bool allow_empty, char **out)
{
    if (v->kind != LG_YSCALAR || (lg_ynode_is_null(v) && !v->quoted) ||
        (!allow_empty && v->len == 0) || strlen(v->text) != v->len)
        return sp_type_err(&c->sp, v, key, allow_empty ? "a string" : "a non-empty string");
    if (!(*out = strdup(v->text)))
        return sp_nomem(&c->sp);
    return 0;
}

static int get_count(pctx *c, const lg_ynode *v, const char *key, unsigned long long min,
                     unsigned long long max, uint64_t *out)
{
    unsigned long long x;
    char want[96];
    if (min == 0)
        snprintf(want, sizeof want, "an integer >= 0");
    else if (min == 1)
        snprintf(want, sizeof want, "a positive integer");
    else
        snprintf(want, sizeof want, "an integer >= %llu", min);
    if (!lg_ynode_u64(v, &x) || x < min)
        return sp_type_err(&c->sp, v, key, want);
    if (x > max) {
        char d[64];
        return sp_at(&c->sp, v->line, v->col, "'%s' must be at most %llu, got %s", key, max,
                     lg_ynode_describe(v, d, sizeof d));
    }
    *out = x;
    return 0;
}

static int get_u32(pctx *c, const lg_ynode *v, const char *key, unsigned long long min,
                   unsigned long long max, uint32_t *out)
{
    uint64_t x;
    if (get_count(c, v, key, min, max, &x))
        return c->sp.err->code;
    *out = (uint32_t)x;
    return 0;
}

/* One of `names` (NULL-terminated); the index into *out. */
static int get_enum(pctx *c, const lg_ynode *v, const char *key, const char *const *names,
                    const char *list, int *out)
{
    if (v->kind == LG_YSCALAR && strlen(v->text) == v->len) {
        for (int i = 0; names[i]; i++)
            if (strcmp(v->text, names[i]) == 0) {
                *out = i;
                return 0;
            }
        const char *guess = lg_suggest(v->text, names);
        char d[64];
        return sp_at(&c->sp, v->line, v->col, "'%s' must be one of %s, got %s%s%s%s", key, list,
                     lg_ynode_describe(v, d, sizeof d), guess ? " (did you mean '" : "",
                     guess ? guess : "", guess ? "'?)" : "");
    }
    char want[160];
    snprintf(want, sizeof want, "one of %s", list);
    return sp_type_err(&c->sp, v, key, want);
}

/* ---- templates ---- */

static bool in_list(const char *name, const char *const *list)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

/* Suggestion among a, then b (both NULL-terminated; either may be NULL). */
static const char *suggest2(const char *word, const char *const *a, const char *const *b)
{
    const char *all[256];
    size_t n = 0;
    for (size_t i = 0; a && a[i] && n < 255; i++)
        all[n++] = a[i];
    for (size_t i = 0; b && b[i] && n < 255; i++)
        all[n++] = b[i];
    all[n] = NULL;
    return lg_suggest(word, all);
}

/* Parses the template of scalar `v` at key `key`. Names must be in `args`
 * (a tool's parameters, when `args_mode`) or be visible case fields or
 * loop-state variables. */
static int parse_template(pctx *c, const lg_ynode *v, const char *key, bool args_mode,
                          const char *const *args, lg_template **out)
{
    lg_template *t = NULL;
    size_t off = 0;
    int line, col;
    lg_ytextpos pos = lg_ynode_textpos(v);

    if (v->kind != LG_YSCALAR || strlen(v->text) != v->len)
        return sp_type_err(&c->sp, v, key, "a string");
    if (sp_template_parse(&c->sp, v->text, pos, key, &t))
        return c->sp.err->code;
    for (size_t i = 0; i < lg_template_nvars(t); i++) {
        const char *name = lg_template_var(t, i, &off);
        const char *guess = NULL;
        char why[320];
        why[0] = 0;
        lg_ytextpos_at(pos, off, &line, &col);
        if (args_mode) {
            if (in_list(name, args))
                continue;
            guess = lg_suggest(name, args);
            snprintf(why, sizeof why, "refers to '%s', which is not a property of the tool's "
                     "'parameters'", name);
        } else {
            bool state = in_list(name, lg_loop_state_vars);
            int f = c->cases ? lg_casegen_find(c->cases, name) : -1;
            if (state && f >= 0) {
                snprintf(why, sizeof why, "'%s' is both a case field and a loop variable; "
                         "rename the case field", name);
            } else if (state) {
                continue;
            } else if (f >= 0) {
                bool hidden = false;
                lg_casegen_field(c->cases, (size_t)f, &hidden, NULL);
                if (!hidden)
                    continue;
                snprintf(why, sizeof why, "refers to the hidden case field '%s': the loop must "
                         "not see it (only validators do)", name);
            } else {
                guess = suggest2(name, c->cases ? lg_casegen_names(c->cases) : NULL,
                                 lg_loop_state_vars);
                snprintf(why, sizeof why, "refers to '%s', which is neither a case field nor a "
                         "loop variable (%s)", name,
                         "iteration, max_iterations, remaining_iterations, remaining_budget, "
                         "verify_output, verify_passed, verify_failures");
            }
        }
        lg_template_free(t);
        return sp_at(&c->sp, line, col, "'%s' %s%s%s%s", key, why, guess ? " (did you mean '" : "",
                     guess ? guess : "", guess ? "'?)" : "");
    }
    *out = t;
    return 0;
}

/* ---- commands ---- */

static void cmd_release(lg_loop_cmd *cmd)
{
    for (size_t i = 0; cmd->argv_t && i < cmd->argc; i++)
        lg_template_free(cmd->argv_t[i]);
    free(cmd->argv_t);
    lg_template_free(cmd->shell_t);
    sp_strv_free(cmd->argv);
    free(cmd->shell);
    sp_strv_free(cmd->env);
    memset(cmd, 0, sizeof *cmd);
}

/* Each word of a tool's command is a template over the tool's arguments. */
typedef struct tool_words {
    pctx *c;
    const char *const *args;
    lg_loop_cmd *cmd;
} tool_words;

static int tool_word(void *arg, const lg_ynode *word, const char *key, size_t i)
{
    tool_words *w = arg;
    return parse_template(w->c, word, key, true, w->args,
                          w->cmd->argv_t ? &w->cmd->argv_t[i] : &w->cmd->shell_t);
}

/* `command`, `env`, `timeout` of mapping `map` (`where` names it): the
 * suite's command mapping (suite_int.h), with `timeout` capped at a day and
 * `def_timeout` when absent. With `tool` the command is a template over
 * `args`. */
static int parse_cmd(pctx *c, const lg_ynode *map, const char *where, const char *const *args,
                     bool tool, double def_timeout, lg_loop_cmd *cmd)
{
    const lg_ynode *v = lg_ynode_get(map, "command");
    tool_words w = {c, args, cmd};
    lg_suite_cmd sc = {.timeout_s = def_timeout};
    int rc;

    if (tool && v && v->kind == LG_YSEQ && v->n > 0 &&
        !(cmd->argv_t = calloc(v->n + 1, sizeof *cmd->argv_t)))
        return sp_nomem(&c->sp);
    rc = sp_cmd_parse(&c->sp, map, where, 86400.0, tool ? tool_word : NULL, &w, &sc);
    /* what was parsed is the config's now, on error too (cmd_release frees it) */
    cmd->argv = sc.argv;
    cmd->shell = sc.shell;
    cmd->env = sc.env;
    cmd->timeout_s = sc.timeout_s;
    cmd->line = sc.line;
    cmd->col = sc.col;
    for (cmd->argc = 0; cmd->argv && cmd->argv[cmd->argc];)
        cmd->argc++;
    return rc;
}

/* ---- tools ---- */

static bool tool_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

static const char *const schema_types[] = {"string", "integer", "number", "boolean",
                                           "array",  "object",  "null",   NULL};

/* A tool's `parameters`: an object schema. Fills the property names. */
static int parse_parameters(pctx *c, const lg_ynode *v, const char *key, json_t **out,
                            const char ***names)
{
    const lg_ynode *x;
    *names = NULL;
    if (v->kind != LG_YMAP)
        return sp_type_err(&c->sp, v, key, "a JSON schema (a mapping with type: object)");
    if ((x = lg_ynode_get(v, "type")) &&
        (x->kind != LG_YSCALAR || strcmp(x->text, "object") != 0))
        return sp_type_err(&c->sp, x, "parameters.type", "'object' (tool arguments are an object)");
    const lg_ynode *props = lg_ynode_get(v, "properties");
    if (props && props->kind != LG_YMAP)
        return sp_type_err(&c->sp, props, "parameters.properties", "a mapping of name: schema");
    size_t np = props ? props->n : 0;
    if (!(*names = calloc(np + 1, sizeof **names)))
        return sp_nomem(&c->sp);
    for (size_t i = 0; i < np; i++) {
        const lg_ypair *p = &props->pairs[i];
        if (p->value->kind != LG_YMAP)
            return sp_type_err(&c->sp, p->value, "parameters.properties",
                               "a mapping of name: schema");
        const lg_ynode *t = lg_ynode_get(p->value, "type");
        int ti;
        if (t && get_enum(c, t, "type", schema_types,
                          "string, integer, number, boolean, array, object, null", &ti))
            return c->sp.err->code;
        (*names)[i] = p->key->text;
    }
    if ((x = lg_ynode_get(v, "required"))) {
        if (x->kind != LG_YSEQ)
            return sp_type_err(&c->sp, x, "parameters.required", "a list of property names");
        for (size_t i = 0; i < x->n; i++) {
            const lg_ynode *r = x->items[i];
            if (r->kind != LG_YSCALAR || !in_list(r->text, *names)) {
                const char *guess = r->kind == LG_YSCALAR ? lg_suggest(r->text, *names) : NULL;
                char d[64];
                return sp_at(&c->sp, r->line, r->col,
                             "'parameters.required' names %s, which is not in 'properties'%s%s%s",
                             lg_ynode_describe(r, d, sizeof d), guess ? " (did you mean '" : "",
                             guess ? guess : "", guess ? "'?)" : "");
            }
        }
    }
    if (!(*out = lg_ynode_to_json(v, c->sp.file, c->sp.err)))
        return c->sp.err->code;
    if (!json_object_get(*out, "type"))
        json_object_set_new(*out, "type", json_string("object"));
    if (!json_object_get(*out, "properties"))
        json_object_set_new(*out, "properties", json_object());
    return 0;
}

static int parse_tool(pctx *c, const lg_ynode *v, size_t index, lg_loop_tool *t,
                      const lg_loop_tool *before, size_t nbefore)
{
    static const char *const keys[] = {"name",    "description", "parameters",
                                       "command", "stdin",       "timeout",
                                       "env",     "idempotent",  "requires_approval",
                                       NULL};
    char where[128];
    const char **args = NULL;
    const lg_ynode *x;
    int rc = 0;

    snprintf(where, sizeof where, "tools[%zu]", index);
    if (sp_get_map(&c->sp, v, where, "a mapping (name, command, parameters, ...)", keys))
        return c->sp.err->code;
    t->line = v->line;
    t->col = v->col;
    if (!(x = lg_ynode_get(v, "name")))
        return sp_at(&c->sp, v->line, v->col, "missing required key 'name' in '%s'", where);
    if (get_str(c, x, "name", false, &t->name))
        return c->sp.err->code;
    if (!tool_name_ok(t->name))
        return sp_at(&c->sp, x->line, x->col,
                     "tool name '%s' must be 1 to 64 letters, digits, '_' or '-'", t->name);
    if (strcmp(t->name, "final_answer") == 0)
        return sp_at(&c->sp, x->line, x->col, "'final_answer' is the engine's own tool (it "
                     "ends the loop with the answer); give this tool another name");
    for (size_t i = 0; i < nbefore; i++)
        if (strcmp(before[i].name, t->name) == 0)
            return sp_at(&c->sp, x->line, x->col, "tool '%s' is declared twice (first at line %d)",
                         t->name, before[i].line);
    if ((x = lg_ynode_get(v, "description")) && get_str(c, x, "description", true, &t->description))
        return c->sp.err->code;
    if (!t->description && !(t->description = strdup("")))
        return sp_nomem(&c->sp);
    if ((x = lg_ynode_get(v, "parameters"))) {
        if (parse_parameters(c, x, "parameters", &t->parameters, &args))
            goto out;
    } else {
        t->parameters = json_pack("{s:s,s:{}}", "type", "object", "properties");
        args = calloc(1, sizeof *args);
        if (!t->parameters || !args) {
            rc = sp_nomem(&c->sp);
            goto out;
        }
    }
    snprintf(where, sizeof where, "tools[%zu] '%.40s'", index, t->name);
    if (parse_cmd(c, v, where, args, true, LG_LOOP_TOOL_TIMEOUT_S, &t->cmd))
        goto out;
    if ((x = lg_ynode_get(v, "stdin"))) {
        if (x->kind == LG_YSCALAR && strcmp(x->text, "json") == 0)
            t->stdin_mode = LG_STDIN_JSON;
        else if (x->kind == LG_YSCALAR && strcmp(x->text, "none") == 0)
            t->stdin_mode = LG_STDIN_NONE;
        else if (x->kind == LG_YSCALAR) {
            t->stdin_mode = LG_STDIN_TEMPLATE;
            if (parse_template(c, x, "stdin", true, args, &t->stdin_t))
                goto out;
        } else {
            sp_type_err(&c->sp, x, "stdin", "'json', 'none' or a template over the arguments");
            goto out;
        }
    }
    if ((x = lg_ynode_get(v, "idempotent")) && sp_get_bool(&c->sp, x, "idempotent", &t->idempotent))
        goto out;
    if ((x = lg_ynode_get(v, "requires_approval")) &&
        sp_get_bool(&c->sp, x, "requires_approval", &t->requires_approval))
        goto out;
out:
    free(args);
    return rc ? rc : lg_err_isset(c->sp.err) ? c->sp.err->code : 0;
}

/* ---- sections ---- */

static int parse_verify(pctx *c, const lg_ynode *v, lg_loop_config *cfg)
{
    static const char *const keys[] = {"command", "when", "feed_back", "timeout", "env", NULL};
    static const char *const whens[] = {"final_answer", "each_action", NULL};
    static const char *const feeds[] = {"both", "stdout", "stderr", NULL};
    const lg_ynode *x;
    int e;
    if (sp_get_map(&c->sp, v, "verify", "a mapping (command, when, feed_back, timeout)", keys))
        return c->sp.err->code;
    if (parse_cmd(c, v, "verify", NULL, false, LG_LOOP_VERIFY_TIMEOUT_S, &cfg->verify))
        return c->sp.err->code;
    cfg->has_verify = true;
    if ((x = lg_ynode_get(v, "when"))) {
        if (get_enum(c, x, "verify.when", whens, "final_answer, each_action", &e))
            return c->sp.err->code;
        cfg->verify_when = (lg_loop_verify_when)e;
    }
    if ((x = lg_ynode_get(v, "feed_back"))) {
        if (get_enum(c, x, "verify.feed_back", feeds, "both, stdout, stderr", &e))
            return c->sp.err->code;
        cfg->verify_feed = (lg_loop_feed)e;
    }
    return 0;
}

static int parse_limits(pctx *c, const lg_ynode *v, lg_loop_limits *l)
{
    static const char *const keys[] = {"max_iterations", "timeout_s", "max_tokens",
                                       "max_cost_usd", "repeated_action", "stall",
                                       "max_verify_failures", "max_corrections", NULL};
    const lg_ynode *x;
    if (sp_get_map(&c->sp, v, "limits", NULL, keys))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_iterations")) &&
        get_count(c, x, "limits.max_iterations", 1, 1000000, &l->max_iterations))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "timeout_s")) &&
        sp_get_pos_num(&c->sp, x, "limits.timeout_s", 86400.0 * 7, &l->timeout_s))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_tokens")) &&
        get_count(c, x, "limits.max_tokens", 1, UINT64_MAX / 2, &l->max_tokens))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_cost_usd")) &&
        sp_get_pos_num(&c->sp, x, "limits.max_cost_usd", 1e9, &l->max_cost_usd))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "repeated_action")) &&
        get_u32(c, x, "limits.repeated_action", 2, 1000000, &l->repeated_action))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "stall")) && get_u32(c, x, "limits.stall", 1, 1000000, &l->stall))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_verify_failures")) &&
        get_u32(c, x, "limits.max_verify_failures", 1, 1000000, &l->max_verify_failures))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_corrections")) &&
        get_u32(c, x, "limits.max_corrections", 0, 100, &l->max_corrections))
        return c->sp.err->code;
    return 0;
}

static int parse_retry(pctx *c, const lg_ynode *v, lg_loop_retry *r)
{
    static const char *const keys[] = {"max_retries", "backoff_base_s", "backoff_cap_s",
                                       "request_timeout_s", NULL};
    const lg_ynode *x;
    if (sp_get_map(&c->sp, v, "retry", NULL, keys))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_retries")) &&
        get_u32(c, x, "retry.max_retries", 0, 100, &r->max_retries))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "backoff_base_s")) &&
        sp_get_pos_num(&c->sp, x, "retry.backoff_base_s", 3600, &r->backoff_base_s))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "backoff_cap_s")) &&
        sp_get_pos_num(&c->sp, x, "retry.backoff_cap_s", 3600, &r->backoff_cap_s))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "request_timeout_s")) &&
        sp_get_pos_num(&c->sp, x, "retry.request_timeout_s", 86400, &r->request_timeout_s))
        return c->sp.err->code;
    if (r->backoff_cap_s < r->backoff_base_s) {
        x = lg_ynode_get(v, "backoff_cap_s") ? lg_ynode_get(v, "backoff_cap_s") : v;
        return sp_at(&c->sp, x->line, x->col, "'retry.backoff_cap_s' (%g) must not be below "
                     "'retry.backoff_base_s' (%g)", r->backoff_cap_s, r->backoff_base_s);
    }
    return 0;
}

static int parse_escalate(pctx *c, const lg_ynode *v, lg_loop_config *cfg)
{
    static const char *const keys[] = {"on_stall", "on_unapproved", NULL};
    const lg_ynode *x;
    if (sp_get_map(&c->sp, v, "escalate", "a mapping (on_stall, on_unapproved)", keys))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "on_stall")) &&
        sp_get_bool(&c->sp, x, "escalate.on_stall", &cfg->escalate_on_stall))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "on_unapproved")) &&
        sp_get_bool(&c->sp, x, "escalate.on_unapproved", &cfg->escalate_on_unapproved))
        return c->sp.err->code;
    return 0;
}

static int parse_root(pctx *c, const lg_ynode *v, lg_loop_config *cfg)
{
    static const char *const keys[] = {
        "provider", "model", "system", "prompt", "feedback", "stream", "max_tokens",
        "temperature", "text_answer", "max_output_bytes", "tools", "verify", "limits",
        "retry", "escalate", NULL,
    };
    const lg_ynode *x;
    int e;

    if (!v || v->kind != LG_YMAP)
        return v ? sp_type_err(&c->sp, v, "loop.builtin", "a mapping")
                 : LG_ERR(c->sp.err, LG_EINPUT, "%s: no builtin block", c->sp.file);
    if (sp_check_keys(&c->sp, v, keys, "loop.builtin"))
        return c->sp.err->code;
    if (!(x = lg_ynode_get(v, "provider")))
        return sp_at(&c->sp, v->line, v->col, "missing required key 'provider' in 'loop.builtin' "
                     "(openai, anthropic or sim)");
    if (get_enum(c, x, "provider", provider_names, "openai, anthropic, sim", &e))
        return c->sp.err->code;
    cfg->provider = (lg_loop_provider)e;
    if (!(x = lg_ynode_get(v, "model")))
        return sp_at(&c->sp, v->line, v->col, "missing required key 'model' in 'loop.builtin'");
    if (get_str(c, x, "model", false, &cfg->model))
        return c->sp.err->code;
    if (!(x = lg_ynode_get(v, "prompt")))
        return sp_at(&c->sp, v->line, v->col, "missing required key 'prompt' in 'loop.builtin' "
                     "(the first user message, a template over case fields)");
    if (parse_template(c, x, "prompt", false, NULL, &cfg->prompt))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "system")) && parse_template(c, x, "system", false, NULL, &cfg->system))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "feedback")) &&
        parse_template(c, x, "feedback", false, NULL, &cfg->feedback))
        return c->sp.err->code;
    if (!cfg->feedback &&
        lg_template_parse("Verification failed (attempt {{verify_failures}}):\n{{verify_output}}\n"
                          "Fix the problem and try again.",
                          &cfg->feedback, NULL, c->sp.err))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "stream")) && sp_get_bool(&c->sp, x, "stream", &cfg->stream))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_tokens")) &&
        get_u32(c, x, "max_tokens", 1, 10000000, &cfg->max_tokens))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "temperature"))) {
        if (!lg_ynode_num(x, &cfg->temperature) || cfg->temperature < 0 || cfg->temperature > 2)
            return sp_type_err(&c->sp, x, "temperature", "a number from 0 to 2");
        cfg->has_temperature = true;
    }
    if ((x = lg_ynode_get(v, "text_answer")) &&
        sp_get_bool(&c->sp, x, "text_answer", &cfg->text_answer))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "max_output_bytes"))) {
        uint64_t n;
        if (get_count(c, x, "max_output_bytes", 256, (uint64_t)64 << 20, &n))
            return c->sp.err->code;
        cfg->max_output_bytes = (size_t)n;
    }
    if ((x = lg_ynode_get(v, "tools"))) {
        if (x->kind != LG_YSEQ)
            return sp_type_err(&c->sp, x, "tools", "a list of tools");
        if (!(cfg->tools = calloc(x->n + 1, sizeof *cfg->tools)))
            return sp_nomem(&c->sp);
        for (size_t i = 0; i < x->n; i++) {
            cfg->ntools++;
            if (parse_tool(c, x->items[i], i, &cfg->tools[i], cfg->tools, i))
                return c->sp.err->code;
        }
    }
    if ((x = lg_ynode_get(v, "verify")) && parse_verify(c, x, cfg))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "limits")) && parse_limits(c, x, &cfg->limits))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "retry")) && parse_retry(c, x, &cfg->retry))
        return c->sp.err->code;
    if ((x = lg_ynode_get(v, "escalate")) && parse_escalate(c, x, cfg))
        return c->sp.err->code;
    return 0;
}

int lg_loop_config_parse(const lg_ynode *node, const char *file, const lg_casegen *cases,
                         lg_loop_config **out, lg_err *err)
{
    lg_err local = LG_ERR_INIT;
    pctx c = {{file ? file : "suite", err ? err : &local}, cases};
    lg_loop_config *cfg = calloc(1, sizeof *cfg);
    *out = NULL;
    if (!cfg)
        return LG_ERR(c.sp.err, LG_ENOMEM, "out of memory");
    cfg->text_answer = true;
    cfg->max_output_bytes = 16384;
    cfg->escalate_on_unapproved = true;
    cfg->limits.max_verify_failures = 3;
    cfg->limits.max_corrections = 1;
    cfg->retry.max_retries = 4;
    cfg->retry.backoff_base_s = 0.5;
    cfg->retry.backoff_cap_s = 30;
    cfg->retry.request_timeout_s = 120;
    int rc = parse_root(&c, node, cfg);
    if (rc || lg_err_isset(c.sp.err)) {
        lg_loop_config_free(cfg);
        return lg_err_isset(c.sp.err) ? c.sp.err->code : rc;
    }
    *out = cfg;
    return 0;
}

int lg_loop_config_check(const lg_ynode *node, const char *file, const lg_casegen *cases,
                         lg_err *err)
{
    lg_loop_config *cfg;
    int rc = lg_loop_config_parse(node, file, cases, &cfg, err);
    lg_loop_config_free(cfg);
    return rc;
}

void lg_loop_config_free(lg_loop_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->model);
    lg_template_free(cfg->system);
    lg_template_free(cfg->prompt);
    lg_template_free(cfg->feedback);
    for (size_t i = 0; i < cfg->ntools; i++) {
        lg_loop_tool *t = &cfg->tools[i];
        free(t->name);
        free(t->description);
        json_decref(t->parameters);
        cmd_release(&t->cmd);
        lg_template_free(t->stdin_t);
    }
    free(cfg->tools);
    cmd_release(&cfg->verify);
    free(cfg);
}
