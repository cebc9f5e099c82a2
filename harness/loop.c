/* harness/loop.c - the built-in loop engine; see loop.h. */
#include "loop.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/pcg.h"
#include "core/proc.h"
#include "core/utf8.h"
#include "harness/loop_int.h"
#include "recorder/client.h"
#include "recorder/upstream.h"

#define DEFAULT_MAX_ITERATIONS 10
#define LAST_ACTIONS 5
#define MAX_RETRY_AFTER_MS (5 * 60 * 1000)
#define VERIFY_EVENT_MAX 4096
#define ANSWER_ENV_MAX 65536

void lg_loop_result_init(lg_loop_result *r)
{
    memset(r, 0, sizeof *r);
    r->cost_known = true;
}

void lg_loop_result_release(lg_loop_result *r)
{
    if (!r)
        return;
    free(r->answer);
    free(r->detail);
    free(r->escalation_path);
    lg_loop_result_init(r);
}

/* Outcome of a step: go on, or the loop is over (res->reason set). */
enum { STEP_OK = 0, STEP_END = 1 };

typedef struct run {
    const lg_loop_ctx *ctx;
    const lg_loop_config *cfg;
    lg_loop_result *res;
    lg_err *err;      /* harness failures */
    lg_client *cl;
    lg_pcg32 rng;
    uint64_t t0;
    uint64_t deadline; /* monotonic ns, 0: none */
    double wall_s;     /* the wall-time cap in seconds, 0: none */
    uint64_t max_iter, max_tokens;
    double max_cost;
    json_t *messages;
    char *system;
    json_t *vars;      /* the case plus the loop state, for templates */
    /* state */
    uint32_t iteration;
    char *verify_output;
    int verify_passed; /* -1 not run yet */
    uint32_t verify_fail_run, correction_run, stall_run, repeat_run;
    lg_hash128 last_action;
    bool any_action;
    lg_hash128 *seen;  /* tool results seen (stall detection) */
    size_t nseen, capseen;
    bool fresh;        /* a new tool result in this iteration */
    json_t *last_actions;
    char *last_text;
} run;

/* ---- small helpers ---- */

static int nomem(run *r) { return LG_ERR(r->err, LG_ENOMEM, "out of memory"); }
/* The same, as a step result (-1: a harness failure). */
static int oom(run *r)
{
    nomem(r);
    return -1;
}

static uint64_t remaining_ms(const run *r)
{
    if (!r->deadline)
        return UINT64_MAX;
    uint64_t now = lg_clock_mono_ns();
    return now >= r->deadline ? 0 : (r->deadline - now) / 1000000ULL;
}

static bool cancelled(const run *r) { return r->ctx->cancel && *r->ctx->cancel; }

/* Ends the loop with `reason` and a detail. Returns STEP_END. */
static int finish(run *r, lg_term_reason reason, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int finish(run *r, lg_term_reason reason, const char *fmt, ...)
{
    lg_buf b = LG_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    if (lg_buf_vappendf(&b, fmt, ap))
        lg_buf_reset(&b);
    va_end(ap);
    r->res->reason = reason;
    free(r->res->detail);
    r->res->detail = lg_buf_take(&b, NULL);
    return STEP_END;
}

/* Posts an event to the session; a failure is logged, never fatal: the
 * trace is the proxy's business and the loop must go on. */
static void post_event(run *r, json_t *ev)
{
    lg_client_resp resp;
    lg_err e = LG_ERR_INIT;
    if (!ev)
        return;
    lg_client_resp_init(&resp);
    if (lg_client_post_json(r->cl, "/event", ev, &resp, NULL, &e))
        lg_warn("loop: case %u trial %u: cannot post a '%s' event: %s", r->ctx->case_index,
                r->ctx->trial, lg_json_str(ev, "type", "?"), e.msg);
    else if (resp.status != 200)
        lg_warn("loop: case %u trial %u: the session refused a '%s' event (HTTP %d, %s): %.200s",
                r->ctx->case_index, r->ctx->trial, lg_json_str(ev, "type", "?"), resp.status,
                resp.detail, lg_buf_cstr(&resp.body));
    lg_client_resp_release(&resp);
    json_decref(ev);
}

static void post_note(run *r, const char *text, json_t *data)
{
    json_t *ev = json_pack("{s:s,s:s}", "type", "note", "text", text);
    if (ev && data)
        json_object_set_new(ev, "data", data);
    else
        json_decref(data);
    post_event(r, ev);
}

/* Text for the model: at most max_output_bytes, cut on a UTF-8 boundary. */
static int append_capped(lg_buf *out, const char *s, size_t len, size_t max)
{
    if (len <= max)
        return lg_buf_append(out, s, len);
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    if (lg_buf_append(out, s, n))
        return LG_ENOMEM;
    return lg_buf_appendf(out, "\n[... %zu more bytes not shown]", len - n);
}

/* A valid UTF-8 copy of `len` bytes (owned, NULL on OOM). */
static char *utf8_dup(const char *s, size_t len)
{
    json_t *j = lg_utf8_json_string(s, len);
    char *out = j ? strndup(json_string_value(j), json_string_length(j)) : NULL;
    json_decref(j);
    return out;
}

/* ---- loop state and templates ---- */

static void remaining_budget(const run *r, lg_buf *b)
{
    int rc = 0;
    rc |= lg_buf_appendf(b, "%llu of %llu iterations left",
                         (unsigned long long)(r->max_iter > r->iteration ? r->max_iter - r->iteration : 0),
                         (unsigned long long)r->max_iter);
    if (r->max_tokens) {
        uint64_t used = r->res->tokens_in + r->res->tokens_out;
        rc |= lg_buf_appendf(b, "; %llu of %llu tokens left",
                             (unsigned long long)(r->max_tokens > used ? r->max_tokens - used : 0),
                             (unsigned long long)r->max_tokens);
    }
    if (r->max_cost > 0)
        rc |= lg_buf_appendf(b, "; $%.4f of $%.4f left",
                             r->max_cost > r->res->cost_usd ? r->max_cost - r->res->cost_usd : 0.0,
                             r->max_cost);
    /* no wall time here: prompts must be the same when replayed */
    (void)rc; /* a budget text that does not fit is shortened, not an error */
}

static int update_vars(run *r)
{
    lg_buf b = LG_BUF_INIT;
    remaining_budget(r, &b);
    int rc = json_object_set_new(r->vars, "iteration", json_integer(r->iteration)) |
             json_object_set_new(r->vars, "max_iterations", json_integer((json_int_t)r->max_iter)) |
             json_object_set_new(r->vars, "remaining_iterations",
                                 json_integer((json_int_t)(r->max_iter > r->iteration
                                                               ? r->max_iter - r->iteration : 0))) |
             json_object_set_new(r->vars, "remaining_budget", json_string(lg_buf_cstr(&b))) |
             json_object_set_new(r->vars, "verify_output",
                                 json_string(r->verify_output ? r->verify_output : "")) |
             json_object_set_new(r->vars, "verify_passed",
                                 r->verify_passed < 0 ? json_null() : json_boolean(r->verify_passed)) |
             json_object_set_new(r->vars, "verify_failures", json_integer(r->verify_fail_run));
    lg_buf_release(&b);
    return rc ? nomem(r) : 0;
}

/* Renders `t` over the case and the loop state into an owned string. */
static int render(run *r, const lg_template *t, char **out)
{
    lg_buf b = LG_BUF_INIT;
    int rc = update_vars(r);
    if (!rc)
        rc = lg_template_render(t, r->vars, &b, r->err);
    if (rc) {
        lg_buf_release(&b);
        lg_err_prefix(r->err, "%s: loop.builtin", r->ctx->suite->path);
        return rc;
    }
    *out = lg_buf_take(&b, NULL);
    return *out ? 0 : nomem(r);
}

/* ---- the model call, with retries ---- */

typedef struct model_call {
    lg_prov_stream *stream;
} model_call;

static int on_sse(const lg_sse_event *ev, void *ud)
{
    model_call *m = ud;
    return lg_prov_stream_event(m->stream, ev);
}

/* Backoff before retry `k` (0-based): min(cap, base * 2^k) * [0.5, 1). */
static uint64_t backoff_ms(run *r, uint32_t k)
{
    double base = r->cfg->retry.backoff_base_s * 1000.0, cap = r->cfg->retry.backoff_cap_s * 1000.0;
    double d = base * ldexp(1.0, (int)(k > 30 ? 30 : k));
    if (d > cap)
        d = cap;
    return (uint64_t)(d * (0.5 + 0.5 * lg_pcg32_double(&r->rng)));
}

/* Sleeps `ms`, waking early on cancel. */
static void wait_ms(run *r, uint64_t ms)
{
    uint64_t end = lg_clock_mono_ns() + ms * 1000000ULL;
    for (;;) {
        uint64_t now = lg_clock_mono_ns();
        if (now >= end || cancelled(r))
            return;
        uint64_t left = end - now;
        lg_clock_sleep_ns(left > 50000000ULL ? 50000000ULL : left);
    }
}

static bool is_divergence(const lg_client_resp *resp)
{
    json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    bool d = j && strcmp(lg_json_str(json_object_get(j, "error"), "type", ""),
                         "loopgate_divergence") == 0;
    json_decref(j);
    return d;
}

/* A short reason from an error body: error.message, else the first bytes. */
static void error_summary(const lg_client_resp *resp, char *out, size_t size)
{
    json_t *j = json_loadb(resp->body.data ? resp->body.data : "", resp->body.len, 0, NULL);
    const char *m = lg_json_str(json_object_get(j, "error"), "message", NULL);
    if (!m)
        m = lg_json_str(j, "message", NULL);
    if (m)
        snprintf(out, size, "%s", m);
    else
        snprintf(out, size, "%.*s", (int)(resp->body.len > 200 ? 200 : resp->body.len),
                 lg_buf_cstr(&resp->body));
    json_decref(j);
}

static void account(run *r, const lg_turn *t)
{
    double usd = 0;
    if (t->in_tokens > 0)
        r->res->tokens_in += (uint64_t)t->in_tokens;
    if (t->out_tokens > 0)
        r->res->tokens_out += (uint64_t)t->out_tokens;
    if (r->ctx->pricing && t->in_tokens >= 0 &&
        lg_pricing_cost(r->ctx->pricing, t->model ? t->model : r->cfg->model, t->in_tokens,
                        t->out_tokens > 0 ? t->out_tokens : 0, 0, &usd))
        r->res->cost_usd += usd;
    else
        r->res->cost_known = false;
}

/* Asks the model for the next turn. STEP_OK with *turn filled, or STEP_END. */
static int call_model(run *r, lg_turn *turn)
{
    const lg_loop_config *cfg = r->cfg;
    json_t *body = lg_prov_request(cfg, r->system, r->messages, r->err);
    lg_buf bb = LG_BUF_INIT;
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    lg_client_resp resp;
    char why[512] = "";
    int step = STEP_END;

    lg_client_resp_init(&resp);
    if (!body)
        return -1;
    if (lg_json_dump_canonical(body, &bb, r->err)) {
        json_decref(body);
        return -1;
    }
    json_decref(body);
    if (lg_http_headers_add(&h, "content-type", "application/json") ||
        (cfg->provider == LG_LOOP_ANTHROPIC &&
         lg_http_headers_add(&h, "anthropic-version", "2023-06-01"))) {
        nomem(r);
        step = -1;
        goto out;
    }
    for (uint32_t attempt = 0;; attempt++) {
        model_call mc = {NULL};
        int64_t wait = -1;
        bool retryable = false;
        char tmo[32];
        if (cancelled(r)) {
            r->res->cancelled = true;
            step = finish(r, LG_TERM_FATAL_ERROR, "cancelled");
            goto out;
        }
        uint64_t left = remaining_ms(r), per = (uint64_t)(cfg->retry.request_timeout_s * 1000.0);
        if (left == 0) {
            step = finish(r, LG_TERM_TIMEOUT, "wall-time cap reached waiting for the model (%s)",
                          why[0] ? why : "iteration start");
            goto out;
        }
        snprintf(tmo, sizeof tmo, "%llu", (unsigned long long)(left < per ? left : per));
        if (lg_http_headers_set(&h, "x-loopgate-timeout-ms", tmo) ||
            (cfg->stream && !(mc.stream = lg_prov_stream_new(cfg->provider)))) {
            nomem(r);
            step = -1;
            goto out;
        }
        r->res->model_calls++;
        if (lg_client_request(r->cl, "POST", lg_prov_path(cfg->provider), &h, bb.data, bb.len,
                              cfg->stream ? on_sse : NULL, &mc, &resp, r->err)) {
            lg_prov_stream_free(mc.stream);
            step = -1;
            goto out;
        }
        lg_err perr = LG_ERR_INIT;
        if (resp.fault == LG_UPSTREAM_ABORTED && cancelled(r)) {
            lg_prov_stream_free(mc.stream);
            r->res->cancelled = true;
            step = finish(r, LG_TERM_FATAL_ERROR, "cancelled");
            goto out;
        }
        if (resp.fault != LG_UPSTREAM_OK || resp.status == 0) {
            retryable = true;
            snprintf(why, sizeof why, "%s%s%s%s",
                     resp.status ? "" : "no response: ",
                     lg_upstream_fault_name(resp.fault) ? lg_upstream_fault_name(resp.fault) : "error",
                     resp.detail[0] ? ": " : "", resp.detail);
        } else if (resp.status == 200) {
            int prc = cfg->stream && resp.sse ? lg_prov_stream_finish(mc.stream, turn, &perr)
                                              : lg_prov_parse(cfg->provider, resp.body.data,
                                                              resp.body.len, turn, &perr);
            if (prc == LG_ENOMEM) {
                lg_prov_stream_free(mc.stream);
                nomem(r);
                step = -1;
                goto out;
            }
            if (prc == 0) {
                lg_prov_stream_free(mc.stream);
                step = STEP_OK;
                goto out;
            }
            retryable = true; /* a broken 200 (cut, garbage): try again */
            snprintf(why, sizeof why, "HTTP 200 with an unusable body: %.400s", perr.msg);
        } else {
            char sum[300];
            error_summary(&resp, sum, sizeof sum);
            snprintf(why, sizeof why, "HTTP %d: %s", resp.status, sum);
            if (resp.status == 409 && is_divergence(&resp)) {
                lg_prov_stream_free(mc.stream);
                step = finish(r, LG_TERM_DIVERGED, "replay diverged at model call %u: %s",
                              r->res->model_calls - 1, sum);
                goto out;
            }
            if (resp.status == 429) {
                retryable = true;
                wait = lg_client_retry_after_ms(&resp.headers);
                if (wait > MAX_RETRY_AFTER_MS)
                    wait = MAX_RETRY_AFTER_MS;
            } else if (resp.status == 408 || resp.status >= 500) {
                retryable = true;
            }
        }
        lg_prov_stream_free(mc.stream);
        if (!retryable) {
            step = finish(r, LG_TERM_FATAL_ERROR, "the model call failed and is not retryable (%s)",
                          why);
            goto out;
        }
        if (attempt >= cfg->retry.max_retries) {
            step = finish(r, LG_TERM_FATAL_ERROR, "the model call failed %u times; last: %s",
                          attempt + 1, why);
            goto out;
        }
        uint64_t d = wait >= 0 ? (uint64_t)wait : backoff_ms(r, attempt);
        if (r->deadline && d >= remaining_ms(r)) {
            step = finish(r, LG_TERM_TIMEOUT, "wall-time cap reached: a retry after %s would "
                          "wait %llu ms, %llu ms left", why, (unsigned long long)d,
                          (unsigned long long)remaining_ms(r));
            goto out;
        }
        post_note(r, "retry",
                  json_pack("{s:i,s:i,s:s?,s:I,s:s,s:s}", "attempt", (int)attempt + 1, "status",
                            resp.status, "fault", lg_upstream_fault_name(resp.fault), "wait_ms",
                            (json_int_t)d, "class",
                            resp.status == 429 ? "rate_limit"
                            : resp.status >= 500 || resp.status == 408 ? "server_error"
                            : resp.fault ? "transport" : "bad_response",
                            "why", why));
        r->res->retries++;
        r->res->backoff_ms += d;
        /* a replayed failure: the wait is accounted, not slept */
        if (!lg_http_headers_get(&resp.headers, "x-loopgate-replay"))
            wait_ms(r, d);
    }
out:
    lg_client_resp_release(&resp);
    lg_http_headers_release(&h);
    lg_buf_release(&bb);
    return step;
}

/* ---- tools ---- */

static const lg_loop_tool *find_tool(const lg_loop_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->ntools; i++)
        if (strcmp(cfg->tools[i].name, name) == 0)
            return &cfg->tools[i];
    return NULL;
}

static bool json_type_ok(const json_t *v, const char *type)
{
    if (!type)
        return true;
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v) || (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)));
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "array"))
        return json_is_array(v);
    if (!strcmp(type, "object"))
        return json_is_object(v);
    if (!strcmp(type, "null"))
        return json_is_null(v);
    return true;
}

/* Why a tool call is malformed, or "" when it is fine. */
static void check_call(const lg_loop_config *cfg, const lg_tcall *c, char *why, size_t size)
{
    why[0] = 0;
    const json_t *schema;
    const lg_loop_tool *t = NULL;
    if (strcmp(c->name, LG_FINAL_ANSWER) != 0 && !(t = find_tool(cfg, c->name))) {
        lg_buf names = LG_BUF_INIT;
        for (size_t i = 0; i < cfg->ntools; i++)
            (void)!lg_buf_appendf(&names, "%s, ", cfg->tools[i].name);
        snprintf(why, size, "there is no tool '%.80s' (the tools are: %s%s)", c->name,
                 lg_buf_cstr(&names), LG_FINAL_ANSWER);
        lg_buf_release(&names);
        return;
    }
    if (!c->args) {
        json_error_t je;
        json_t *j = json_loads(c->args_text, JSON_DECODE_ANY, &je);
        json_decref(j);
        snprintf(why, size, "the arguments of '%s' are not valid JSON (%s at column %d)", c->name,
                 je.text, je.column);
        return;
    }
    if (!json_is_object(c->args)) {
        snprintf(why, size, "the arguments of '%s' must be a JSON object", c->name);
        return;
    }
    if (!t) {
        if (!json_is_string(json_object_get(c->args, "answer")))
            snprintf(why, size, "'%s' needs a string argument 'answer'", LG_FINAL_ANSWER);
        return;
    }
    schema = t->parameters;
    size_t i;
    const json_t *req;
    json_array_foreach(json_object_get(schema, "required"), i, req) {
        const char *k = json_string_value(req);
        if (k && !json_object_get(c->args, k)) {
            snprintf(why, size, "'%s' is missing the required argument '%s'", c->name, k);
            return;
        }
    }
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)c->args, k, v) {
        const json_t *ps = json_object_get(json_object_get(schema, "properties"), k);
        const char *type = lg_json_str(ps, "type", NULL);
        if (ps && !json_type_ok(v, type)) {
            snprintf(why, size, "argument '%s' of '%s' must be of type %s", k, c->name, type);
            return;
        }
    }
}

/* 'value' with ' inside written as '\'' for /bin/sh. */
static int shell_quote(lg_buf *b, const char *s)
{
    int rc = lg_buf_append_byte(b, '\'');
    for (; !rc && *s; s++)
        rc = *s == '\'' ? lg_buf_append_str(b, "'\\''") : lg_buf_append_byte(b, *s);
    return rc ? rc : lg_buf_append_byte(b, '\'');
}

/* Template variables for a tool: each declared property (missing: "") and
 * any other argument given; `quoted`: values shell-quoted as text. */
static json_t *tool_vars(const lg_loop_tool *t, const json_t *args, bool quoted)
{
    json_t *v = json_object();
    const char *k;
    const json_t *x;
    if (!v)
        return NULL;
    json_object_foreach(json_object_get(t->parameters, "properties"), k, x)
        json_object_set_new(v, k, json_string(""));
    json_object_foreach((json_t *)args, k, x) {
        if (!quoted) {
            json_object_set(v, k, (json_t *)x);
            continue;
        }
        lg_buf text = LG_BUF_INIT, q = LG_BUF_INIT;
        if (lg_template_append_value(&text, x, NULL) || shell_quote(&q, lg_buf_cstr(&text)) ||
            json_object_set_new(v, k, json_string(lg_buf_cstr(&q)))) {
            lg_buf_release(&text);
            lg_buf_release(&q);
            json_decref(v);
            return NULL;
        }
        lg_buf_release(&text);
        lg_buf_release(&q);
    }
    return v;
}

/* Environment of the engine's commands (tools, verification). */
typedef struct cmd_env {
    char wd[4200], cs[4200], it[64], tool[128], ans[4200];
    const char *v[64];
} cmd_env;

static void make_env(const run *r, cmd_env *e, const char *tool, const char *answer_path,
                     char *const *extra)
{
    size_t n = 0;
    snprintf(e->wd, sizeof e->wd, "LOOPGATE_WORKDIR=%s", r->ctx->workdir);
    e->v[n++] = e->wd;
    if (r->ctx->case_path) {
        snprintf(e->cs, sizeof e->cs, "LOOPGATE_CASE=%s", r->ctx->case_path);
        e->v[n++] = e->cs;
    }
    snprintf(e->it, sizeof e->it, "LOOPGATE_ITERATION=%u", r->iteration);
    e->v[n++] = e->it;
    if (tool) {
        snprintf(e->tool, sizeof e->tool, "LOOPGATE_TOOL=%s", tool);
        e->v[n++] = e->tool;
    }
    if (answer_path) {
        snprintf(e->ans, sizeof e->ans, "LOOPGATE_ANSWER=%s", answer_path);
        e->v[n++] = e->ans;
    }
    for (size_t i = 0; extra && extra[i] && n < 62; i++)
        e->v[n++] = extra[i];
    e->v[n] = NULL;
}

/* A command's timeout under the wall-time cap. */
static uint64_t cmd_timeout_ms(const run *r, double timeout_s, bool *capped)
{
    uint64_t t = (uint64_t)(timeout_s * 1000.0), left = remaining_ms(r);
    *capped = left < t;
    return *capped ? (left ? left : 1) : t;
}

typedef struct tool_out {
    char *out, *errs; /* valid UTF-8, owned */
    int exit_code;
    uint64_t duration_us;
    bool replayed, idempotent_hit, wall_killed;
} tool_out;

static void tool_out_release(tool_out *o)
{
    free(o->out);
    free(o->errs);
    memset(o, 0, sizeof *o);
}

/* Runs the tool's command with `args` in the work directory. */
static int run_tool_cmd(run *r, const lg_loop_tool *t, const json_t *args, tool_out *o)
{
    const lg_loop_cmd *cmd = &t->cmd;
    json_t *vars = tool_vars(t, args, cmd->shell_t != NULL);
    char **argv = NULL;
    lg_buf shell = LG_BUF_INIT, in = LG_BUF_INIT;
    lg_proc_result pr;
    lg_proc_spec spec = {0};
    cmd_env env;
    bool capped;
    int rc = 0;

    memset(&pr, 0, sizeof pr);
    if (!vars)
        return nomem(r);
    if (cmd->shell_t) {
        if ((rc = lg_template_render(cmd->shell_t, vars, &shell, r->err)))
            goto out;
        spec.shell = shell.data;
    } else {
        json_decref(vars);
        if (!(vars = tool_vars(t, args, false)) || !(argv = calloc(cmd->argc + 1, sizeof *argv))) {
            rc = nomem(r);
            goto out;
        }
        for (size_t i = 0; i < cmd->argc; i++) {
            lg_buf a = LG_BUF_INIT;
            if ((rc = lg_template_render(cmd->argv_t[i], vars, &a, r->err))) {
                lg_buf_release(&a);
                goto out;
            }
            argv[i] = lg_buf_take(&a, NULL);
            if (!argv[i]) {
                rc = nomem(r);
                goto out;
            }
        }
        spec.argv = (const char *const *)argv;
    }
    if (t->stdin_mode == LG_STDIN_JSON) {
        if ((rc = lg_json_dump_canonical(args, &in, r->err)))
            goto out;
    } else if (t->stdin_mode == LG_STDIN_TEMPLATE) {
        json_t *plain = tool_vars(t, args, false);
        rc = plain ? lg_template_render(t->stdin_t, plain, &in, r->err) : nomem(r);
        json_decref(plain);
        if (rc)
            goto out;
    }
    if (t->stdin_mode != LG_STDIN_NONE) {
        spec.stdin_data = in.data ? in.data : "";
        spec.stdin_len = in.len;
    }
    make_env(r, &env, t->name, NULL, cmd->env);
    spec.env = env.v;
    spec.cwd = r->ctx->workdir;
    spec.out_cap = 1 << 20;
    spec.timeout_ms = cmd_timeout_ms(r, cmd->timeout_s, &capped);
    spec.grace_ms = 1000;
    spec.cancel = r->ctx->cancel;
    lg_err perr = LG_ERR_INIT;
    if (lg_proc_run(&spec, &pr, &perr)) {
        if (perr.code != LG_EINPUT) {
            rc = LG_ERR(r->err, perr.code, "tool '%s': %s", t->name, perr.msg);
            goto out;
        }
        /* cannot start (not found): the model is told, like a shell's 127 */
        o->exit_code = 127;
        o->errs = strdup(perr.msg);
        o->out = strdup("");
    } else {
        o->exit_code = lg_proc_status(&pr);
        o->duration_us = pr.duration_ns / 1000;
        o->wall_killed = pr.timed_out && capped;
        o->out = utf8_dup(pr.out.data ? pr.out.data : "", pr.out.len);
        lg_buf eb = LG_BUF_INIT;
        if (lg_buf_append(&eb, pr.err.data ? pr.err.data : "", pr.err.len) ||
            (pr.timed_out && lg_buf_appendf(&eb, "%s[loopgate: killed after %.1f s (tool timeout)]",
                                            eb.len ? "\n" : "",
                                            (double)spec.timeout_ms / 1000.0))) {
            lg_buf_release(&eb);
            rc = nomem(r);
            goto out;
        }
        o->errs = utf8_dup(lg_buf_cstr(&eb), eb.len);
        lg_buf_release(&eb);
    }
    if (!o->out || !o->errs)
        rc = nomem(r);
out:
    lg_proc_result_release(&pr);
    for (size_t i = 0; argv && i < cmd->argc; i++)
        free(argv[i]);
    free(argv);
    json_decref(vars);
    lg_buf_release(&shell);
    lg_buf_release(&in);
    return rc;
}

/* The idempotency key of a call: (tool, canonical arguments, session). */
static int idem_key(run *r, const char *tool, const char *canon, char out[48])
{
    lg_hasher *h = lg_hasher_new();
    char hex[LG_HASH_HEX_LEN];
    const char *sk = r->ctx->session_key ? r->ctx->session_key : "";
    if (!h)
        return nomem(r);
    lg_hasher_update(h, tool, strlen(tool) + 1);
    lg_hasher_update(h, canon, strlen(canon) + 1);
    lg_hasher_update(h, sk, strlen(sk));
    lg_hash_hex(lg_hasher_digest(h), hex);
    lg_hasher_free(h);
    snprintf(out, 48, "lg-%.32s", hex);
    return 0;
}

static bool approved(const run *r, const char *tool)
{
    for (size_t i = 0; i < r->ctx->n_approvals; i++)
        if (r->ctx->approvals[i] && strcmp(r->ctx->approvals[i], tool) == 0)
            return true;
    return false;
}

/* Asks the session about a tool call and runs it when the session says so.
 * STEP_OK with *o filled, STEP_END (diverged, timeout), or -1. */
static int do_tool(run *r, const lg_loop_tool *t, const json_t *args, const char *canon, tool_out *o)
{
    char key[48];
    lg_client_resp resp;
    json_t *ask, *ans = NULL;
    lg_err e = LG_ERR_INIT;
    int step = STEP_OK;

    if (idem_key(r, t->name, canon, key))
        return -1;
    /* the approval goes first, replayed or not, so the trace shows it */
    if (t->requires_approval)
        post_note(r, "approval", json_pack("{s:s}", "approve", t->name));
    lg_client_resp_init(&resp);
    /* an idempotent tool runs in replay too (it rebuilds the work directory
     * for verification and validators): the recording only vouches for it */
    ask = json_pack("{s:s,s:O,s:s?,s:b}", "name", t->name, "args", (json_t *)args, "idem_key",
                    t->idempotent ? NULL : key, "live", t->idempotent);
    if (!ask)
        return nomem(r);
    int rc = lg_client_post_json(r->cl, "/tool", ask, &resp, &ans, &e);
    json_decref(ask);
    if (rc) {
        LG_ERR(r->err, e.code, "%s", e.msg);
        step = -1;
        goto out;
    }
    if (resp.status == 409) {
        char sum[300];
        error_summary(&resp, sum, sizeof sum);
        step = finish(r, LG_TERM_DIVERGED, "replay diverged at tool '%s': %s", t->name, sum);
        goto out;
    }
    if (resp.status != 200 || !json_is_object(ans)) {
        char sum[300];
        error_summary(&resp, sum, sizeof sum);
        step = finish(r, LG_TERM_FATAL_ERROR, "the session did not answer the tool call '%s' "
                      "(HTTP %d%s%s): %s", t->name, resp.status, resp.detail[0] ? ", " : "",
                      resp.detail, sum);
        goto out;
    }
    if (json_is_true(json_object_get(ans, "replay"))) {
        const char *so = lg_json_str(ans, "stdout", ""), *se = lg_json_str(ans, "stderr", "");
        o->out = strdup(so);
        o->errs = strdup(se);
        o->exit_code = (int)lg_json_int(ans, "exit_code", 0);
        o->duration_us = (uint64_t)lg_json_int(ans, "duration_us", 0);
        o->replayed = true;
        o->idempotent_hit = json_is_true(json_object_get(ans, "idempotent"));
        if (!o->out || !o->errs) {
            step = oom(r);
            goto out;
        }
        if (o->idempotent_hit) {
            r->res->idempotent_hits++;
            post_note(r, "idempotent tool call: the first result of its key, not run again",
                      json_pack("{s:s,s:s}", "tool", t->name, "idempotency_key", key));
        } else {
            r->res->tools_replayed++;
        }
        goto out;
    }
    /* run it here, and record it */
    if (run_tool_cmd(r, t, args, o)) {
        step = -1;
        goto out;
    }
    r->res->tool_runs++;
    post_event(r, json_pack("{s:s,s:s,s:O,s:s,s:s,s:i,s:I,s:s}", "type", "tool", "name", t->name,
                            "args", (json_t *)args, "stdout", o->out, "stderr", o->errs,
                            "exit_code", o->exit_code, "duration_us", (json_int_t)o->duration_us,
                            "idempotency_key", key));
    if (o->wall_killed)
        step = finish(r, LG_TERM_TIMEOUT, "wall-time cap reached while tool '%s' ran", t->name);
out:
    json_decref(ans);
    lg_client_resp_release(&resp);
    return step;
}

/* The text a tool result shows the model. */
static char *result_text(const run *r, const tool_out *o)
{
    lg_buf b = LG_BUF_INIT;
    size_t max = r->cfg->max_output_bytes;
    int rc = append_capped(&b, o->out, strlen(o->out), max);
    if (!rc && o->errs[0])
        rc = lg_buf_append_str(&b, b.len ? "\n[stderr]\n" : "[stderr]\n") ||
             append_capped(&b, o->errs, strlen(o->errs), max);
    if (!rc && o->exit_code != 0)
        rc = lg_buf_appendf(&b, "%s[exit status %d]", b.len ? "\n" : "", o->exit_code);
    if (!rc && b.len == 0)
        rc = lg_buf_append_str(&b, "(no output)");
    if (rc) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static void remember_action(run *r, const char *tool, const char *canon, const tool_out *o)
{
    json_t *a = json_pack("{s:s,s:o,s:i,s:s#}", "tool", tool, "args",
                          json_loads(canon, JSON_DECODE_ANY, NULL), "exit_code",
                          o ? o->exit_code : -1, "output", o ? o->out : "",
                          o ? (int)(strlen(o->out) > 300 ? 300 : strlen(o->out)) : 0);
    if (!a)
        return;
    json_array_append_new(r->last_actions, a);
    while (json_array_size(r->last_actions) > LAST_ACTIONS)
        json_array_remove(r->last_actions, 0);
}

/* Repetition and freshness bookkeeping for one tool call. */
static void track(run *r, const char *tool, const char *canon, const tool_out *o)
{
    lg_hasher *h = lg_hasher_new();
    if (!h)
        return;
    lg_hasher_update(h, tool, strlen(tool) + 1);
    lg_hasher_update(h, canon, strlen(canon));
    lg_hash128 act = lg_hasher_digest(h);
    lg_hasher_free(h);
    r->repeat_run = r->any_action && lg_hash_equal(act, r->last_action) ? r->repeat_run + 1 : 1;
    r->last_action = act;
    r->any_action = true;
    if (!(h = lg_hasher_new()))
        return;
    lg_hasher_update(h, tool, strlen(tool) + 1);
    lg_hasher_update(h, o->out, strlen(o->out) + 1);
    lg_hasher_update(h, o->errs, strlen(o->errs) + 1);
    lg_hasher_update(h, &o->exit_code, sizeof o->exit_code);
    lg_hash128 res = lg_hasher_digest(h);
    lg_hasher_free(h);
    for (size_t i = 0; i < r->nseen; i++)
        if (lg_hash_equal(r->seen[i], res))
            return;
    if (r->nseen == r->capseen) {
        size_t nc = r->capseen ? r->capseen * 2 : 16;
        lg_hash128 *ns = realloc(r->seen, nc * sizeof *ns);
        if (!ns)
            return;
        r->seen = ns;
        r->capseen = nc;
    }
    r->seen[r->nseen++] = res;
    r->fresh = true;
}

/* ---- escalation ---- */

static int escalate(run *r, const char *failing, const char *why, const json_t *pending)
{
    json_t *packet = json_pack(
        "{s:i,s:s,s:I,s:I,s:I,s:[s],s:O,s:o,s:{s:O,s:o,s:s,s:o}}", "schema", 1, "reason", why,
        "iteration", (json_int_t)r->iteration, "case_index", (json_int_t)r->ctx->case_index,
        "trial", (json_int_t)r->ctx->trial, "failing", failing, "last_actions", r->last_actions,
        "last_verification",
        r->verify_passed < 0 ? json_null()
                             : json_pack("{s:b,s:s}", "pass", r->verify_passed, "output",
                                         r->verify_output ? r->verify_output : ""),
        "context", "case", r->ctx->case_pub, "last_model_text",
        r->last_text ? json_string(r->last_text) : json_null(), "model", r->cfg->model,
        "pending_tool_call", pending ? json_deep_copy(pending) : json_null());
    lg_buf path = LG_BUF_INIT, text = LG_BUF_INIT;
    int rc = 0;
    if (!packet || lg_json_dump_pretty(packet, &text, r->err) || lg_buf_append_byte(&text, '\n') ||
        lg_buf_appendf(&path, "%s/escalation.json", r->ctx->workdir)) {
        rc = lg_err_isset(r->err) ? r->err->code : nomem(r);
        goto out;
    }
    if ((rc = lg_fs_write_file_atomic(path.data, text.data, text.len, r->err)))
        goto out;
    free(r->res->escalation_path);
    r->res->escalation_path = lg_buf_take(&path, NULL);
    char note[600];
    snprintf(note, sizeof note, "escalated: %s", why);
    post_note(r, note, json_incref(packet));
out:
    json_decref(packet);
    lg_buf_release(&path);
    lg_buf_release(&text);
    if (rc)
        return -1;
    return finish(r, LG_TERM_ESCALATED, "%s (escalation packet: %s)", why,
                  r->res->escalation_path ? r->res->escalation_path : "?");
}

/* ---- verification ---- */

/* Runs the verification gate; `answer` is the proposed final answer or
 * NULL. Sets r->verify_output/verify_passed. STEP_OK, STEP_END or -1. */
static int verify(run *r, const char *answer)
{
    const lg_loop_cmd *cmd = &r->cfg->verify;
    lg_proc_spec spec = {0};
    lg_proc_result pr;
    lg_buf apath = LG_BUF_INIT, out = LG_BUF_INIT;
    cmd_env env;
    bool capped;
    int step = STEP_OK;

    memset(&pr, 0, sizeof pr);
    if (answer) {
        lg_err e = LG_ERR_INIT;
        if (lg_buf_appendf(&apath, "%s/answer", r->ctx->workdir) ||
            lg_fs_write_file_atomic(apath.data, answer, strlen(answer), &e)) {
            LG_ERR(r->err, e.code ? e.code : LG_ENOMEM, "%s", e.code ? e.msg : "out of memory");
            step = -1;
            goto out;
        }
    }
    make_env(r, &env, NULL, answer ? apath.data : NULL, cmd->env);
    spec.argv = (const char *const *)cmd->argv;
    spec.shell = cmd->shell;
    spec.env = env.v;
    spec.cwd = r->ctx->workdir;
    spec.stdin_data = answer ? answer : "";
    spec.stdin_len = answer ? strlen(answer) : 0;
    spec.out_cap = 1 << 20;
    spec.timeout_ms = cmd_timeout_ms(r, cmd->timeout_s, &capped);
    spec.grace_ms = 1000;
    spec.cancel = r->ctx->cancel;
    if (lg_proc_run(&spec, &pr, r->err)) {
        lg_err_prefix(r->err, "%s:%d:%d: verify.command", r->ctx->suite->path, cmd->line, cmd->col);
        step = -1;
        goto out;
    }
    r->res->verify_runs++;
    bool pass = pr.exited && pr.exit_code == 0;
    int rc = 0;
    if (r->cfg->verify_feed != LG_FEED_STDERR && pr.out.len)
        rc = append_capped(&out, pr.out.data, pr.out.len, r->cfg->max_output_bytes);
    if (!rc && r->cfg->verify_feed != LG_FEED_STDOUT && pr.err.len)
        rc = (out.len && lg_buf_append_byte(&out, '\n')) ||
             append_capped(&out, pr.err.data, pr.err.len, r->cfg->max_output_bytes);
    if (!rc && !pass)
        rc = pr.timed_out ? lg_buf_appendf(&out, "%s[verification killed after %.1f s]",
                                           out.len ? "\n" : "", (double)spec.timeout_ms / 1000)
                          : lg_buf_appendf(&out, "%s[exit status %d]", out.len ? "\n" : "",
                                           lg_proc_status(&pr));
    if (rc) {
        step = oom(r);
        goto out;
    }
    free(r->verify_output);
    r->verify_output = utf8_dup(lg_buf_cstr(&out), out.len);
    if (!r->verify_output) {
        step = oom(r);
        goto out;
    }
    r->verify_passed = pass;
    if (pass) {
        r->verify_fail_run = 0;
    } else {
        r->verify_fail_run++;
        r->res->verify_failures++;
    }
    size_t n = strlen(r->verify_output);
    post_event(r, json_pack("{s:s,s:b,s:s#}", "type", "verify", "pass", pass, "message",
                            r->verify_output, (int)(n > VERIFY_EVENT_MAX ? VERIFY_EVENT_MAX : n)));
    if (pr.timed_out && capped && !pass)
        step = finish(r, LG_TERM_TIMEOUT, "wall-time cap reached during verification");
out:
    lg_proc_result_release(&pr);
    lg_buf_release(&apath);
    lg_buf_release(&out);
    return step;
}

/* The verification failure limit, after a failed verification. */
static int after_verify_failure(run *r)
{
    if (r->verify_fail_run >= r->cfg->limits.max_verify_failures) {
        char why[200];
        snprintf(why, sizeof why, "verification failed %u times in a row (limit %u)",
                 r->verify_fail_run, r->cfg->limits.max_verify_failures);
        return escalate(r, "max_verify_failures", why, NULL);
    }
    return STEP_OK;
}

/* ---- one turn ---- */

static int success(run *r, const char *answer)
{
    free(r->res->answer);
    if (!(r->res->answer = strdup(answer)))
        return oom(r);
    lg_buf p = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    if (lg_buf_appendf(&p, "%s/answer", r->ctx->workdir) ||
        lg_fs_write_file_atomic(p.data, answer, strlen(answer), &e))
        lg_warn("loop: cannot write the answer file: %s", e.msg);
    lg_buf_release(&p);
    return finish(r, LG_TERM_SUCCESS, "final answer after %u iteration%s%s", r->iteration,
                  r->iteration == 1 ? "" : "s",
                  r->cfg->has_verify ? ", verification passed" : "");
}

/* Malformed output: a corrective re-prompt, or the end. */
static int correction(run *r, const char *why)
{
    r->correction_run++;
    if (r->correction_run > r->cfg->limits.max_corrections)
        return finish(r, LG_TERM_FATAL_ERROR, "malformed model output after %u corrective "
                      "re-prompt%s: %s", r->cfg->limits.max_corrections,
                      r->cfg->limits.max_corrections == 1 ? "" : "s", why);
    r->res->corrections++;
    post_note(r, "corrective re-prompt", json_pack("{s:s,s:i}", "why", why, "count",
                                                   (int)r->res->corrections));
    return STEP_OK;
}

/* A reply without tool calls. */
static int text_turn(run *r, const lg_turn *turn)
{
    const char *text = turn->text ? turn->text : "";
    bool blank = true;
    for (const char *p = text; *p; p++)
        if (!isspace((unsigned char)*p))
            blank = false;
    if (blank || !r->cfg->text_answer) {
        char why[200];
        snprintf(why, sizeof why, blank ? "the reply was empty" : "the reply did not call a tool");
        int st = correction(r, why);
        if (st != STEP_OK)
            return st;
        if (!blank && lg_prov_add_assistant(r->cfg->provider, r->messages, turn))
            return oom(r);
        char msg[400];
        snprintf(msg, sizeof msg, "Your reply was not usable: %s. Use the tools; when you are "
                 "done, call %s with your answer.", why, LG_FINAL_ANSWER);
        return lg_prov_add_user(r->cfg->provider, r->messages, msg) ? (oom(r)) : STEP_OK;
    }
    r->correction_run = 0;
    if (lg_prov_add_assistant(r->cfg->provider, r->messages, turn))
        return oom(r);
    post_event(r, json_pack("{s:s,s:s,s:{s:s},s:i}", "type", "tool", "name", LG_FINAL_ANSWER,
                            "args", "answer", text, "exit_code", -1));
    if (!r->cfg->has_verify)
        return success(r, text);
    int st = verify(r, text);
    if (st != STEP_OK)
        return st;
    if (r->verify_passed)
        return success(r, text);
    char *fb = NULL;
    if (render(r, r->cfg->feedback, &fb))
        return -1;
    int rc = lg_prov_add_user(r->cfg->provider, r->messages, fb);
    free(fb);
    if (rc)
        return oom(r);
    return after_verify_failure(r);
}

static int tools_turn(run *r, const lg_turn *turn)
{
    const lg_loop_config *cfg = r->cfg;
    size_t n = turn->ncalls;
    char **results = calloc(n, sizeof *results);
    bool *is_error = calloc(n, sizeof *is_error);
    char **canon = calloc(n, sizeof *canon);
    char why[600] = "";
    char *feedback = NULL;
    const char *answer = NULL;
    size_t answer_call = SIZE_MAX;
    bool ran_tools = false;
    int step = STEP_OK;

    if (!results || !is_error || !canon) {
        step = oom(r);
        goto out;
    }
    /* malformed calls: none runs, every call gets an answer */
    for (size_t i = 0; i < n && !why[0]; i++)
        check_call(cfg, &turn->calls[i], why, sizeof why);
    if (why[0]) {
        for (size_t i = 0; i < n; i++) {
            char one[700];
            check_call(cfg, &turn->calls[i], one, sizeof one);
            lg_buf b = LG_BUF_INIT;
            if (one[0] ? lg_buf_appendf(&b, "error: %s. Call it again with corrected arguments.", one)
                       : lg_buf_appendf(&b, "not run: another tool call of this reply was "
                                        "malformed; call it again if you still need it."))
                lg_buf_reset(&b);
            results[i] = lg_buf_take(&b, NULL);
            is_error[i] = true;
        }
        step = correction(r, why);
        if (step == STEP_OK && (lg_prov_add_assistant(cfg->provider, r->messages, turn) ||
                                lg_prov_add_results(cfg->provider, r->messages, turn, results,
                                                    is_error, NULL)))
            step = oom(r);
        goto out;
    }
    r->correction_run = 0;
    if (lg_prov_add_assistant(cfg->provider, r->messages, turn)) {
        step = oom(r);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const lg_tcall *c = &turn->calls[i];
        lg_buf cb = LG_BUF_INIT;
        if (lg_json_dump_canonical(c->args, &cb, r->err)) {
            step = -1;
            goto out;
        }
        canon[i] = lg_buf_take(&cb, NULL);
        if (!canon[i]) {
            step = oom(r);
            goto out;
        }
        if (strcmp(c->name, LG_FINAL_ANSWER) == 0) {
            if (!answer) {
                answer = json_string_value(json_object_get(c->args, "answer"));
                answer_call = i;
            } else {
                results[i] = strdup("ignored: the final answer was already given in this reply");
                is_error[i] = true;
            }
            continue;
        }
        const lg_loop_tool *t = find_tool(cfg, c->name);
        if (t->requires_approval && !approved(r, t->name)) {
            post_note(r, "approval missing", json_pack("{s:s,s:O}", "denied", t->name, "args",
                                                         c->args));
            if (cfg->escalate_on_unapproved) {
                char w[200];
                json_t *pending = json_pack("{s:s,s:O}", "tool", t->name, "args", c->args);
                snprintf(w, sizeof w, "tool '%s' requires an approval (--approve %s)", t->name,
                         t->name);
                step = escalate(r, "approval_required", w, pending);
                json_decref(pending);
                goto out;
            }
            lg_buf b = LG_BUF_INIT;
            if (lg_buf_appendf(&b, "error: tool '%s' requires a human approval and was not run.",
                               t->name))
                lg_buf_reset(&b);
            results[i] = lg_buf_take(&b, NULL);
            is_error[i] = true;
            continue;
        }
        tool_out o;
        memset(&o, 0, sizeof o);
        step = do_tool(r, t, c->args, canon[i], &o);
        if (step != STEP_OK) {
            tool_out_release(&o);
            goto out;
        }
        ran_tools = true;
        results[i] = result_text(r, &o);
        is_error[i] = o.exit_code != 0;
        remember_action(r, t->name, canon[i], &o);
        track(r, t->name, canon[i], &o);
        tool_out_release(&o);
        if (!results[i]) {
            step = oom(r);
            goto out;
        }
        if (cfg->limits.repeated_action && r->repeat_run >= cfg->limits.repeated_action) {
            char w[300];
            snprintf(w, sizeof w, "repeated action: '%s' called %u times in a row with the same "
                     "arguments", t->name, r->repeat_run);
            if (cfg->escalate_on_stall)
                step = escalate(r, "repeated_action", w, NULL);
            else
                step = finish(r, LG_TERM_STALLED, "%s", w);
            goto out;
        }
    }
    if (answer)
        post_event(r, json_pack("{s:s,s:s,s:O,s:i}", "type", "tool", "name", LG_FINAL_ANSWER,
                                "args", turn->calls[answer_call].args, "exit_code", -1));
    /* verification */
    bool feed_failure = false, feed_pass = false;
    if (cfg->has_verify && (answer || (ran_tools && cfg->verify_when == LG_VERIFY_EACH_ACTION))) {
        step = verify(r, answer);
        if (step != STEP_OK)
            goto out;
        if (answer && r->verify_passed) {
            step = success(r, answer);
            goto out;
        }
        feed_failure = !r->verify_passed;
        feed_pass = r->verify_passed && !answer;
    } else if (answer) {
        step = success(r, answer);
        goto out;
    }
    if (answer_call != SIZE_MAX) {
        results[answer_call] = strdup(r->verify_passed ? "verification passed" :
                                      "not accepted: the answer did not pass verification");
        is_error[answer_call] = true;
    }
    if (feed_failure && render(r, cfg->feedback, &feedback)) {
        step = -1;
        goto out;
    }
    if (feed_pass) {
        lg_buf b = LG_BUF_INIT;
        if (lg_buf_appendf(&b, "Verification passed.%s%s", r->verify_output[0] ? "\n" : "",
                           r->verify_output)) {
            lg_buf_release(&b);
            step = oom(r);
            goto out;
        }
        feedback = lg_buf_take(&b, NULL);
    }
    for (size_t i = 0; i < n; i++)
        if (!results[i] && !(results[i] = strdup(""))) {
            step = oom(r);
            goto out;
        }
    if (lg_prov_add_results(cfg->provider, r->messages, turn, results, is_error, feedback)) {
        step = oom(r);
        goto out;
    }
    if (feed_failure)
        step = after_verify_failure(r);
out:
    for (size_t i = 0; i < n; i++) {
        if (results)
            free(results[i]);
        if (canon)
            free(canon[i]);
    }
    free(results);
    free(is_error);
    free(canon);
    free(feedback);
    return step;
}

/* ---- the loop ---- */

static int start_checks(run *r)
{
    if (cancelled(r)) {
        r->res->cancelled = true;
        return finish(r, LG_TERM_FATAL_ERROR, "cancelled");
    }
    if (r->deadline && remaining_ms(r) == 0)
        return finish(r, LG_TERM_TIMEOUT, "wall-time cap of %.1f s reached after %u iteration%s",
                      r->wall_s, r->iteration, r->iteration == 1 ? "" : "s");
    if (r->iteration >= r->max_iter)
        return finish(r, LG_TERM_MAX_ITERATIONS, "%u iterations without an accepted final answer "
                      "(max_iterations %llu)", r->iteration, (unsigned long long)r->max_iter);
    uint64_t tokens = r->res->tokens_in + r->res->tokens_out;
    if (r->max_tokens && tokens >= r->max_tokens)
        return finish(r, LG_TERM_BUDGET_EXCEEDED, "token ceiling reached: %llu tokens used, "
                      "max_tokens %llu", (unsigned long long)tokens,
                      (unsigned long long)r->max_tokens);
    if (r->max_cost > 0 && r->res->cost_usd >= r->max_cost)
        return finish(r, LG_TERM_BUDGET_EXCEEDED, "cost ceiling reached: $%.6f spent, "
                      "max_cost_usd %.6f", r->res->cost_usd, r->max_cost);
    return STEP_OK;
}

static int iterate(run *r)
{
    lg_turn turn;
    int step;
    lg_turn_init(&turn);
    r->iteration++;
    r->fresh = false;
    r->res->iterations = r->iteration;
    post_event(r, json_pack("{s:s,s:i,s:{s:I,s:I,s:I,s:i,s:i}}", "type", "iteration", "index",
                            (int)r->iteration, "state", "tokens_in", (json_int_t)r->res->tokens_in,
                            "tokens_out", (json_int_t)r->res->tokens_out, "remaining_iterations",
                            (json_int_t)(r->max_iter - r->iteration + 1), "verify_failures",
                            (int)r->verify_fail_run, "corrections", (int)r->res->corrections));
    step = call_model(r, &turn);
    if (step != STEP_OK)
        goto out;
    account(r, &turn);
    free(r->last_text);
    r->last_text = turn.text ? strdup(turn.text) : NULL;
    step = turn.ncalls ? tools_turn(r, &turn) : text_turn(r, &turn);
    if (step != STEP_OK)
        goto out;
    /* stall: iterations in a row without a new tool result */
    r->stall_run = r->fresh ? 0 : r->stall_run + 1;
    if (r->cfg->limits.stall && r->stall_run >= r->cfg->limits.stall) {
        char w[200];
        snprintf(w, sizeof w, "stall: %u iterations in a row without a new tool result",
                 r->stall_run);
        step = r->cfg->escalate_on_stall ? escalate(r, "stall", w, NULL)
                                         : finish(r, LG_TERM_STALLED, "%s", w);
    }
out:
    lg_turn_release(&turn);
    return step;
}

static void post_end(run *r)
{
    lg_loop_result *res = r->res;
    post_event(r, json_pack("{s:s,s:s,s:b,s:s?}", "type", "end", "reason",
                            lg_term_reason_name(res->reason), "converged",
                            res->reason == LG_TERM_SUCCESS, "error",
                            res->reason == LG_TERM_SUCCESS ? NULL : res->detail));
}

int lg_loop_run(const lg_loop_ctx *ctx, lg_loop_result *res, lg_err *err)
{
    run r;
    lg_loop_config *own = NULL;
    lg_err local = LG_ERR_INIT;
    int rc = 0;

    lg_loop_result_init(res);
    memset(&r, 0, sizeof r);
    r.ctx = ctx;
    r.res = res;
    r.err = err ? err : &local;
    r.verify_passed = -1;
    r.t0 = lg_clock_mono_ns();
    if (!ctx->suite || ctx->suite->loop.kind != LG_LOOP_BUILTIN)
        return LG_ERR(r.err, LG_EINPUT, "%s: the suite's loop is not 'builtin'",
                      ctx->suite ? ctx->suite->path : "suite");
    if (!ctx->session_url || !ctx->workdir)
        return LG_ERR(r.err, LG_EUSAGE, "loop: a session URL and a work directory are needed");
    r.cfg = ctx->config;
    if (!r.cfg) {
        if ((rc = lg_loop_config_parse(ctx->suite->loop.builtin_node, ctx->suite->path,
                                       ctx->suite->cases, &own, r.err)))
            return rc;
        r.cfg = own;
    }
    const lg_loop_config *cfg = r.cfg;
    const lg_suite_limits *sl = &ctx->suite->limits;
    r.max_iter = cfg->limits.max_iterations ? cfg->limits.max_iterations
                 : sl->max_iterations        ? sl->max_iterations
                                             : DEFAULT_MAX_ITERATIONS;
    r.max_tokens = cfg->limits.max_tokens ? cfg->limits.max_tokens : sl->max_tokens;
    r.max_cost = cfg->limits.max_cost_usd > 0 ? cfg->limits.max_cost_usd : sl->max_cost_usd;
    r.wall_s = ctx->timeout_s;
    if (cfg->limits.timeout_s > 0 && (r.wall_s <= 0 || cfg->limits.timeout_s < r.wall_s))
        r.wall_s = cfg->limits.timeout_s;
    if (r.wall_s > 0)
        r.deadline = r.t0 + (uint64_t)(r.wall_s * 1e9);
    lg_pcg32_srandom(&r.rng, ctx->seed,
                     lg_pcg32_mix(lg_pcg32_mix(0x6c6f6f70ULL, ctx->case_index), ctx->trial));

    lg_client_opts co = {0};
    co.base_url = ctx->session_url;
    co.timeout_ms = (long)(cfg->retry.request_timeout_s * 1000.0) + 30000;
    co.cancel = ctx->cancel;
    if ((rc = lg_client_new(&co, &r.cl, r.err)))
        goto out;
    r.messages = json_array();
    r.last_actions = json_array();
    r.vars = json_is_object(ctx->case_pub) ? json_deep_copy(ctx->case_pub) : json_object();
    if (!r.messages || !r.last_actions || !r.vars) {
        rc = nomem(&r);
        goto out;
    }
    {
        char *prompt = NULL;
        if (cfg->system && (rc = render(&r, cfg->system, &r.system)))
            goto out;
        if ((rc = render(&r, cfg->prompt, &prompt)))
            goto out;
        rc = lg_prov_add_user(cfg->provider, r.messages, prompt) ? nomem(&r) : 0;
        free(prompt);
        if (rc)
            goto out;
    }
    for (;;) {
        int step = start_checks(&r);
        if (step == STEP_OK)
            step = iterate(&r);
        if (step < 0) {
            rc = lg_err_isset(r.err) ? r.err->code : LG_EINTERNAL;
            goto out;
        }
        if (step == STEP_END)
            break;
    }
    if (!res->cancelled)
        post_end(&r);
out:
    if (!res->detail)
        res->detail = strdup(rc ? r.err->msg : "");
    lg_client_free(r.cl);
    json_decref(r.messages);
    json_decref(r.last_actions);
    json_decref(r.vars);
    free(r.system);
    free(r.verify_output);
    free(r.last_text);
    free(r.seen);
    lg_loop_config_free(own);
    return rc;
}

/* ---- approvals ---- */

void lg_loop_approvals_free(char **names)
{
    for (size_t i = 0; names && names[i]; i++)
        free(names[i]);
    free(names);
}

int lg_loop_approvals_load(const char *path, char ***names, size_t *n, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    int rc = lg_fs_read_file(path, &b, err);
    if (rc) {
        lg_buf_release(&b);
        return rc;
    }
    const char *p = lg_buf_cstr(&b);
    int line = 0;
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *s = p, *t = p + len;
        line++;
        p = e ? e + 1 : p + len;
        while (s < t && isspace((unsigned char)*s))
            s++;
        while (t > s && isspace((unsigned char)t[-1]))
            t--;
        if (s == t || *s == '#')
            continue;
        for (const char *q = s; q < t; q++)
            if (!(isalnum((unsigned char)*q) || *q == '_' || *q == '-')) {
                rc = LG_ERR(err, LG_EINPUT, "%s:%d: '%.*s' is not a tool name (one name per "
                            "line: letters, digits, '_' or '-'; '#' starts a comment)",
                            path, line, (int)(t - s), s);
                lg_buf_release(&b);
                return rc;
            }
        char **nn = realloc(*names, (*n + 2) * sizeof *nn);
        if (!nn) {
            lg_buf_release(&b);
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        }
        *names = nn;
        if (!(nn[*n] = strndup(s, (size_t)(t - s)))) {
            nn[*n] = NULL;
            lg_buf_release(&b);
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        }
        (*n)++;
        nn[*n] = NULL;
    }
    lg_buf_release(&b);
    return 0;
}
