#include "invariants.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/json.h"
#include "core/proc.h"

void lg_inv_report_release(lg_inv_report *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->items[i].name);
        free(r->items[i].detail);
    }
    free(r->items);
    r->items = NULL;
    r->n = 0;
}

uint32_t lg_inv_report_total(const lg_inv_report *r)
{
    uint32_t t = 0;
    for (size_t i = 0; i < r->n; i++)
        t += r->items[i].count;
    return t;
}

/* Adds `count` violations of `name`; the first detail is kept. */
__attribute__((format(printf, 4, 5))) static int violate(lg_inv_report *r, const char *name,
                                                         uint32_t count, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    lg_inv_violation *v;

    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(r->items[i].name, name) == 0) {
            r->items[i].count += count;
            return 0;
        }
    }
    v = realloc(r->items, (r->n + 1) * sizeof *v);
    if (!v)
        return LG_ENOMEM;
    r->items = v;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    v = &r->items[r->n];
    v->name = strdup(name);
    v->detail = strdup(buf);
    v->count = count;
    if (!v->name || !v->detail) {
        free(v->name);
        free(v->detail);
        return LG_ENOMEM;
    }
    r->n++;
    return 0;
}

static bool in_list(const lg_suite_strlist *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], name) == 0)
            return true;
    return false;
}

static lg_hash128 tool_action_hash(const lg_tool_event *t)
{
    lg_hasher *h = lg_hasher_new();
    lg_hash128 r = {0, 0};
    if (!h)
        return r;
    lg_hasher_update(h, t->name, strlen(t->name) + 1);
    lg_hasher_update(h, t->args.data, t->args.len);
    r = lg_hasher_digest(h);
    lg_hasher_free(h);
    return r;
}

static lg_hash128 tool_result_hash(const lg_tool_event *t)
{
    lg_hasher *h = lg_hasher_new();
    lg_hash128 r = {0, 0};
    if (!h)
        return r;
    lg_hasher_update(h, t->name, strlen(t->name) + 1);
    lg_hasher_update(h, t->out.data, t->out.len);
    lg_hasher_update(h, "\0", 1);
    if (t->result)
        lg_hasher_update(h, t->result, strlen(t->result));
    lg_hasher_update(h, &t->exit_code, sizeof t->exit_code);
    r = lg_hasher_digest(h);
    lg_hasher_free(h);
    return r;
}

static bool approved_by_result(const lg_tool_event *t)
{
    json_t *j;
    bool ok;
    if (!t->result)
        return false;
    j = json_loads(t->result, 0, NULL);
    ok = json_is_true(json_object_get(j, "approved"));
    json_decref(j);
    return ok;
}

static const char *approval_of(const lg_note_event *n, json_t **hold)
{
    json_t *j;
    if (!n->data)
        return NULL;
    j = json_loads(n->data, 0, NULL);
    *hold = j;
    return lg_json_str(j, "approve", NULL);
}

/* Event-order checks: one pass over the events. */
static int check_events(const lg_inv_input *in, lg_inv_report *r)
{
    const lg_suite_invariants *iv = &in->suite->invariants;
    size_t nt = 0, cap = 0;
    lg_hash128 *seen_actions = NULL, *seen_results = NULL;
    size_t n_results = 0;
    lg_hash128 last_action = {0, 0};
    uint32_t run = 0;
    bool has_iter_events = false, new_result_this_iter = false, any_iter = false;
    uint32_t stall_run = 0, stall_hits = 0;
    char **approvals = NULL;
    size_t n_approvals = 0;
    int rc = 0;
    /* tools seen so far, for required_before */
    char **called = NULL;
    size_t n_called = 0;

    for (size_t i = 0; i < in->n_events; i++)
        if (in->events[i]->kind == LG_EVENT_ITERATION)
            has_iter_events = true;

    for (size_t i = 0; i < in->n_events && !rc; i++) {
        const lg_event *ev = in->events[i];
        bool boundary = has_iter_events ? ev->kind == LG_EVENT_ITERATION
                                        : ev->kind == LG_EVENT_MODEL;
        if (boundary) {
            /* a new iteration starts: judge the one that ended */
            if (any_iter && iv->stall) {
                stall_run = new_result_this_iter ? 0 : stall_run + 1;
                if (stall_run == iv->stall) {
                    stall_hits++;
                    if (stall_hits == 1)
                        rc = violate(r, "stall", 0,
                                     "%u iterations in a row without a new tool result (event %zu)",
                                     iv->stall, i);
                }
            }
            any_iter = true;
            new_result_this_iter = false;
        }
        if (ev->kind == LG_EVENT_NOTE) {
            json_t *hold = NULL;
            const char *tool = approval_of(&ev->note, &hold);
            if (tool) {
                char **na = realloc(approvals, (n_approvals + 1) * sizeof *na);
                if (na)
                    approvals = na;
                if (!na || !(approvals[n_approvals] = strdup(tool))) {
                    json_decref(hold);
                    rc = LG_ENOMEM;
                    break;
                }
                n_approvals++;
            }
            json_decref(hold);
            continue;
        }
        if (ev->kind == LG_EVENT_INVARIANT && !ev->invariant.pass) {
            rc = violate(r, ev->invariant.name, 1, "%s (reported by the loop at event %zu)",
                         ev->invariant.detail ? ev->invariant.detail : "failed", i);
            continue;
        }
        if (ev->kind != LG_EVENT_TOOL)
            continue;
        const lg_tool_event *t = &ev->tool;
        lg_hash128 act = tool_action_hash(t), res = tool_result_hash(t);
        nt++;

        /* no_repeated_action */
        if (nt > 1 && lg_hash_equal(act, last_action))
            run++;
        else
            run = 1;
        last_action = act;
        if (iv->no_repeated_action && run == iv->no_repeated_action)
            rc = violate(r, "no_repeated_action", 1,
                         "tool '%s' called %u times in a row with the same arguments (event %zu)",
                         t->name, run, i);

        /* stall bookkeeping */
        bool fresh = true;
        for (size_t k = 0; k < n_results; k++)
            if (lg_hash_equal(seen_results[k], res))
                fresh = false;
        if (fresh) {
            new_result_this_iter = true;
        }

        /* tool_allowlist */
        if (!rc && iv->tool_allowlist.present && !in_list(&iv->tool_allowlist, t->name))
            rc = violate(r, "tool_allowlist", 1, "tool '%s' is not in tool_allowlist (event %zu)",
                         t->name, i);

        /* exactly_once */
        if (!rc && in_list(&iv->exactly_once, t->name)) {
            for (size_t k = 0; k < nt - 1; k++) {
                if (lg_hash_equal(seen_actions[k], act)) {
                    rc = violate(r, "exactly_once", 1,
                                 "tool '%s' ran again with the same arguments (event %zu)",
                                 t->name, i);
                    break;
                }
            }
        }

        /* approval_required */
        if (!rc && in_list(&iv->approval_required, t->name)) {
            bool ok = approved_by_result(t);
            for (size_t k = 0; !ok && k < n_approvals; k++) {
                if (approvals[k] && strcmp(approvals[k], t->name) == 0) {
                    free(approvals[k]); /* one approval, one run */
                    approvals[k] = NULL;
                    ok = true;
                }
            }
            if (!ok)
                rc = violate(r, "approval_required", 1,
                             "tool '%s' ran without an approval (event %zu)", t->name, i);
        }

        /* required_before: Y called before any X */
        for (size_t k = 0; !rc && k < iv->nrequired_before; k++) {
            const lg_suite_before *rb = &iv->required_before[k];
            const char *before = rb->before ? rb->before : "final_answer";
            if (strcmp(before, t->name) == 0) {
                bool seen = false;
                for (size_t c = 0; c < n_called; c++)
                    if (strcmp(called[c], rb->tool) == 0)
                        seen = true;
                if (!seen)
                    rc = violate(r, "required_before", 1, "'%s' called before '%s' (event %zu)",
                                 before, rb->tool, i);
            }
        }

        /* remember */
        if (!rc && nt > cap) {
            size_t nc = cap ? cap * 2 : 16;
            lg_hash128 *a = realloc(seen_actions, nc * sizeof *a);
            if (a)
                seen_actions = a;
            lg_hash128 *b = a ? realloc(seen_results, nc * sizeof *b) : NULL;
            if (b)
                seen_results = b;
            char **c = b ? realloc(called, nc * sizeof *c) : NULL;
            if (!c) {
                rc = LG_ENOMEM;
                break;
            }
            called = c;
            cap = nc;
        }
        if (!rc) {
            seen_actions[nt - 1] = act;
            if (fresh)
                seen_results[n_results++] = res;
            called[n_called] = strdup(t->name);
            if (!called[n_called])
                rc = LG_ENOMEM;
            else
                n_called++;
        }
    }
    /* the last iteration */
    if (!rc && any_iter && iv->stall) {
        stall_run = new_result_this_iter ? 0 : stall_run + 1;
        if (stall_run == iv->stall && stall_hits == 0)
            rc = violate(r, "stall", 0, "%u iterations in a row without a new tool result",
                         iv->stall);
        if (stall_run >= iv->stall)
            stall_hits++;
    }
    if (!rc && stall_hits) {
        for (size_t k = 0; k < r->n; k++)
            if (strcmp(r->items[k].name, "stall") == 0)
                r->items[k].count = stall_hits;
    }
    /* required_before with final_answer: an answer without the tool */
    for (size_t k = 0; !rc && k < iv->nrequired_before; k++) {
        const lg_suite_before *rb = &iv->required_before[k];
        bool seen = false;
        if (rb->before && strcmp(rb->before, "final_answer") != 0)
            continue;
        for (size_t c = 0; c < n_called; c++)
            if (strcmp(called[c], rb->tool) == 0)
                seen = true;
        if (in->answered && !seen)
            rc = violate(r, "required_before", 1, "answered without calling '%s' first", rb->tool);
    }
    for (size_t c = 0; c < n_called; c++)
        free(called[c]);
    free(called);
    for (size_t k = 0; k < n_approvals; k++)
        free(approvals[k]);
    free(approvals);
    free(seen_actions);
    free(seen_results);
    return rc;
}

static int run_command(const lg_inv_input *in, lg_inv_report *r, lg_err *err)
{
    const lg_suite_cmd *cmd = in->suite->invariants.command;
    lg_buf json = LG_BUF_INIT;
    lg_proc_spec spec = {0};
    lg_proc_result res;
    int rc;

    memset(&res, 0, sizeof res);
    if (in->session_json && (rc = lg_json_dump_canonical(in->session_json, &json, err)))
        return rc;
    spec.argv = (const char *const *)cmd->argv;
    spec.shell = cmd->shell;
    spec.env = (const char *const *)cmd->env;
    spec.stdin_data = lg_buf_cstr(&json);
    spec.stdin_len = json.len;
    spec.out_cap = 16 * 1024;
    spec.timeout_ms = (uint64_t)((cmd->timeout_s > 0 ? cmd->timeout_s : 60.0) * 1000);
    spec.cancel = in->cancel;
    rc = lg_proc_run(&spec, &res, err);
    if (rc) {
        lg_err_prefix(err, "%s:%d:%d: invariants.command", in->suite->path, cmd->line, cmd->col);
    } else if (!(res.exited && res.exit_code == 0)) {
        const lg_buf *o = res.err.len ? &res.err : &res.out;
        int n = (int)(o->len > 300 ? 300 : o->len);
        while (n > 0 && (o->data[n - 1] == '\n' || o->data[n - 1] == '\r'))
            n--;
        rc = violate(r, "command", 1, "invariant command %s%d%s%.*s",
                     res.exited ? "exited " : "was killed by signal ",
                     res.exited ? res.exit_code : res.term_signal, n ? ": " : "", n,
                     o->data ? o->data : "");
        if (rc)
            rc = LG_ERR(err, rc, "out of memory");
    }
    lg_proc_result_release(&res);
    lg_buf_release(&json);
    return rc;
}

int lg_invariants_check(const lg_inv_input *in, lg_inv_report *out, lg_err *err)
{
    const lg_suite_invariants *iv = &in->suite->invariants;
    int rc = 0;

    out->items = NULL;
    out->n = 0;
    if (iv->max_iterations && in->iterations > iv->max_iterations)
        rc = violate(out, "max_iterations", 1, "%u iterations, more than max_iterations %llu",
                     in->iterations, (unsigned long long)iv->max_iterations);
    if (!rc && iv->max_tokens && in->tokens > iv->max_tokens)
        rc = violate(out, "max_tokens", 1, "%llu tokens, more than max_tokens %llu",
                     (unsigned long long)in->tokens, (unsigned long long)iv->max_tokens);
    if (!rc && iv->max_cost_usd > 0 && in->cost_known && in->cost_usd > iv->max_cost_usd)
        rc = violate(out, "max_cost_usd", 1, "cost $%.4f, more than max_cost_usd $%.4f",
                     in->cost_usd, iv->max_cost_usd);
    if (!rc)
        rc = check_events(in, out);
    if (rc) {
        lg_inv_report_release(out);
        return LG_ERR(err, rc, "out of memory");
    }
    if (iv->command && (rc = run_command(in, out, err))) {
        lg_inv_report_release(out);
        return rc;
    }
    return 0;
}
