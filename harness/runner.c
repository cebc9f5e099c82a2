#include "runner.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proc.h"
#include "harness/cases.h"
#include "harness/invariants.h"
#include "harness/loop.h"
#include "harness/pricing.h"
#include "harness/validate.h"
#include "recorder/proxy.h"
#include "recorder/store.h"

#define TIMELINE_MAX 40

const char *lg_run_mode_name(lg_run_mode m)
{
    switch (m) {
    case LG_RUN_RECORD: return "record";
    case LG_RUN_REPLAY: return "replay";
    case LG_RUN_RECORD_MISSING: return "record-missing";
    case LG_RUN_LIVE: return "live";
    }
    return "unknown";
}

/* One trial to do. */
typedef struct job {
    uint32_t case_index;
    uint32_t trial;
} job;

typedef struct runner {
    const lg_run_opts *o;
    lg_run_record *info;
    lg_results *results;
    lg_store *store;       /* the trace file (NULL in live mode) */
    lg_store *log;         /* replay: the run's session log (what the loop did) */
    uint32_t unused;       /* replay: recorded calls nobody asked for */
    lg_proxy *proxy;
    lg_pricing *pricing;

    job *jobs;
    size_t njobs, next;    /* next job to hand out */
    pthread_mutex_t mu;    /* guards next, counters, first error, progress */
    uint32_t done, converged, running, interrupted;
    double cost_known, cost_sum_for_avg;
    uint32_t cost_trials;
    bool budget_stop;
    char budget_note[256];
    lg_err first_err;      /* a harness failure stops the run */
    uint64_t t0;
    uint64_t last_progress;
    volatile sig_atomic_t cancel; /* set when the run must stop (interrupt, error) */
} runner;

static bool should_stop(runner *r)
{
    return r->cancel || (r->o->interrupt && *r->o->interrupt);
}

/* ---- progress ---------------------------------------------------------- */

static void progress_locked(runner *r, bool final)
{
    const lg_run_opts *o = r->o;
    uint64_t now = lg_clock_mono_ns();
    double el = (double)(now - r->t0) / 1e9;
    char eta[32] = "?";

    if (!o->progress || !o->progress_out)
        return;
    if (!final && o->progress == 1 && now - r->last_progress < 5000000000ull)
        return;
    if (!final && o->progress == 2 && now - r->last_progress < 100000000ull)
        return;
    r->last_progress = now;
    if (r->done > 0 && r->done < r->njobs) {
        double left = el / r->done * (double)(r->njobs - r->done);
        snprintf(eta, sizeof eta, "%.0fs", left);
    } else if (r->done >= r->njobs) {
        snprintf(eta, sizeof eta, "0s");
    }
    fprintf(o->progress_out, "%s%u/%zu trials, %u converged, $%.4f, %.1fs elapsed, eta %s%s",
            o->progress == 2 ? "\r\033[K" : "", r->done, r->njobs, r->converged,
            r->cost_known, el, eta, o->progress == 2 && !final ? "" : "\n");
    fflush(o->progress_out);
}

/* ---- trial ------------------------------------------------------------- */

typedef struct trial {
    runner *r;
    job j;
    json_t *case_full, *case_pub;
    char key[LG_SESSION_KEY_MAX];
    lg_buf workdir, case_path;
    lg_proc_result proc;
    /* the session, read back after the loop ended */
    const lg_event **events;
    size_t n_events;
    lg_session_reader *reader;
    char token[LG_PROXY_TOKEN_MAX];
    lg_proxy_report rep;
    /* outcome being built */
    lg_outcome out;
    double *latencies;
    lg_violation *viol;
    lg_inv_report inv;
    lg_buf detail;
    json_t *timeline;
    /* a built-in loop (loop: builtin:) ran in-process instead of a command */
    bool builtin;
    lg_loop_result lres;
} trial;

static void trial_release(trial *t)
{
    json_decref(t->case_full);
    json_decref(t->case_pub);
    lg_buf_release(&t->workdir);
    lg_buf_release(&t->case_path);
    lg_proc_result_release(&t->proc);
    free(t->events);
    lg_session_reader_free(t->reader);
    lg_proxy_report_release(&t->rep);
    free(t->latencies);
    free(t->viol);
    lg_inv_report_release(&t->inv);
    lg_buf_release(&t->detail);
    json_decref(t->timeline);
    lg_loop_result_release(&t->lres);
}

static int make_workdir(trial *t, lg_err *err)
{
    int rc;
    if (lg_buf_appendf(&t->workdir, "%s/%s/%u.%u", t->r->o->workroot, t->r->info->id,
                       t->j.case_index, t->j.trial) ||
        lg_buf_appendf(&t->case_path, "%s/case.json", lg_buf_cstr(&t->workdir)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if ((rc = lg_fs_rm_rf(t->workdir.data, err)) || (rc = lg_fs_mkdir_p(t->workdir.data, err)))
        return rc;
    return 0;
}

static int write_case(trial *t, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    int rc;
    json_t *doc = json_pack("{s:I,s:I,s:O}", "index", (json_int_t)t->j.case_index, "trial",
                            (json_int_t)t->j.trial, "case", t->case_pub);
    if (!doc)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    rc = lg_json_dump_pretty(t->case_pub, &b, err);
    json_decref(doc);
    if (!rc && lg_buf_append_byte(&b, '\n'))
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    if (!rc) {
        /* scratch for this trial only: no fsync, no rename */
        FILE *f = fopen(t->case_path.data, "w");
        if (!f || fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0) {
            rc = LG_ERR(err, LG_EIO, "cannot write '%s': %s", t->case_path.data, strerror(errno));
            if (f)
                fclose(f);
        }
    }
    lg_buf_release(&b);
    return rc;
}

/* Runs the loop command. Returns an error only when it cannot start. */
static int run_loop(trial *t, const char *session_url, lg_err *err)
{
    const lg_run_opts *o = t->r->o;
    const lg_suite_cmd *cmd = &o->suite->loop.cmd;
    char e_case[4200], e_id[64], e_trial[64], e_wd[4200], e_url[512], e_oai[512], e_ant[512],
        e_sess[LG_SESSION_KEY_MAX + 32];
    const char *env[80];
    size_t ne = 0;
    lg_proc_spec spec = {0};
    double timeout = cmd->timeout_s > 0 ? cmd->timeout_s : o->timeout_s;
    int rc;

    snprintf(e_case, sizeof e_case, "LOOPGATE_CASE=%s", t->case_path.data);
    snprintf(e_id, sizeof e_id, "LOOPGATE_CASE_ID=%u", t->j.case_index);
    snprintf(e_trial, sizeof e_trial, "LOOPGATE_TRIAL=%u", t->j.trial);
    snprintf(e_wd, sizeof e_wd, "LOOPGATE_WORKDIR=%s", t->workdir.data);
    snprintf(e_url, sizeof e_url, "LOOPGATE_URL=%s", session_url);
    snprintf(e_oai, sizeof e_oai, "OPENAI_BASE_URL=%s/v1", session_url);
    snprintf(e_ant, sizeof e_ant, "ANTHROPIC_BASE_URL=%s", session_url);
    snprintf(e_sess, sizeof e_sess, "LOOPGATE_SESSION=%s", t->key);
    env[ne++] = e_case;
    env[ne++] = e_id;
    env[ne++] = e_trial;
    env[ne++] = e_wd;
    env[ne++] = e_url;
    env[ne++] = e_oai;
    env[ne++] = e_ant;
    env[ne++] = e_sess;
    /* SDKs refuse to start without a key; replay needs none, so give a dummy */
    if (o->mode == LG_RUN_REPLAY || !getenv("OPENAI_API_KEY"))
        env[ne++] = getenv("OPENAI_API_KEY") ? "LOOPGATE_DUMMY=1" : "OPENAI_API_KEY=sk-loopgate-replay";
    if (o->mode == LG_RUN_REPLAY || !getenv("ANTHROPIC_API_KEY"))
        env[ne++] = getenv("ANTHROPIC_API_KEY") ? "LOOPGATE_DUMMY=1" : "ANTHROPIC_API_KEY=sk-ant-loopgate-replay";
    for (char **e = cmd->env; e && *e && ne < 78; e++)
        env[ne++] = *e;
    env[ne] = NULL;

    spec.argv = (const char *const *)cmd->argv;
    spec.shell = cmd->shell;
    spec.env = env;
    spec.out_cap = 1 << 20;
    spec.timeout_ms = timeout > 0 ? (uint64_t)(timeout * 1000) : 0;
    spec.grace_ms = 2000;
    spec.cancel = &t->r->cancel;
    rc = lg_proc_run(&spec, &t->proc, err);
    if (rc)
        lg_err_prefix(err, "%s:%d:%d: loop.command", o->suite->path, cmd->line, cmd->col);
    return rc;
}

/* Runs a built-in loop (harness/loop.h) in this thread. Its answer goes
 * where a command's stdout would, and the process fields say "exited 0" (or
 * cancelled) so the rest of the trial is judged the same way. Returns an
 * error only for a harness failure. */
static int run_builtin(trial *t, const char *session_url, lg_err *err)
{
    const lg_run_opts *o = t->r->o;
    lg_loop_ctx ctx;
    int rc;

    memset(&ctx, 0, sizeof ctx);
    ctx.suite = o->suite;
    ctx.case_pub = t->case_pub;
    ctx.case_index = t->j.case_index;
    ctx.trial = t->j.trial;
    ctx.session_url = session_url;
    ctx.session_key = t->key;
    ctx.workdir = t->workdir.data;
    ctx.case_path = t->case_path.data;
    ctx.approvals = o->approvals;
    ctx.n_approvals = o->n_approvals;
    ctx.cancel = &t->r->cancel;
    ctx.seed = o->seed;
    ctx.timeout_s = o->timeout_s;
    ctx.pricing = t->r->pricing;
    t->builtin = true;
    rc = lg_loop_run(&ctx, &t->lres, err);
    if (rc)
        return rc;
    lg_buf_init_capped(&t->proc.out, 1 << 20);
    lg_buf_init(&t->proc.err);
    t->proc.exited = !t->lres.cancelled;
    t->proc.cancelled = t->lres.cancelled;
    if (t->lres.answer && lg_buf_append_str(&t->proc.out, t->lres.answer))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    return 0;
}

/* The loop's answer: $LOOPGATE_WORKDIR/answer (or the suite's answer file), else stdout. */
static int read_answer(trial *t, lg_buf *ans, lg_err *err)
{
    const lg_suite *s = t->r->o->suite;
    lg_buf p = LG_BUF_INIT;
    lg_err ignore = LG_ERR_INIT;
    int rc = 0;

    if (lg_buf_appendf(&p, "%s/%s", t->workdir.data, s->loop.answer ? s->loop.answer : "answer"))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    lg_buf_init_capped(ans, 1 << 20);
    if (lg_fs_exists(p.data)) {
        if (lg_fs_read_file(p.data, ans, &ignore))
            rc = 0; /* an unreadable answer is a wrong answer, not a harness error */
    } else if (t->proc.out.len &&
               lg_buf_append(ans, t->proc.out.data, t->proc.out.len)) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    lg_buf_release(&p);
    return rc;
}

static void tl_add(json_t *tl, uint64_t t_us, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void tl_add(json_t *tl, uint64_t t_us, const char *kind, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (json_array_size(tl) >= TIMELINE_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(tl, json_pack("{s:s,s:f,s:s}", "kind", kind, "t_ms",
                                        (double)t_us / 1000.0, "summary", buf));
}

static int shorten(const char *s, size_t len)
{
    return (int)(len > 120 ? 120 : len);
}

/* The store that holds this run's sessions as the loop lived them: the
 * trace itself when recording, the run's session log when replaying. */
static lg_store *session_store(const runner *r)
{
    return r->log ? r->log : r->store;
}

static int read_session(trial *t, lg_err *err)
{
    lg_store *st = session_store(t->r);
    int64_t id;
    size_t n;
    int rc;

    if (!st)
        return 0; /* live mode: nothing recorded */
    if ((rc = lg_store_find_session(st, t->key, &id, err)) ||
        (rc = lg_store_session_read(st, id, &t->reader, err)))
        return rc;
    n = lg_session_reader_count(t->reader);
    t->events = calloc(n ? n : 1, sizeof *t->events);
    if (!t->events)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const lg_event *ev;
        if ((rc = lg_session_reader_event(t->reader, i, &ev, err)))
            return rc;
        t->events[t->n_events++] = ev;
    }
    return 0;
}

/* Reads the session's events back and derives counts, usage and cost. */
static int analyse_session(trial *t, lg_err *err)
{
    runner *r = t->r;
    lg_outcome *o = &t->out;
    size_t ncalls = 0, cap = 0;
    bool cost_known = true;
    double cost = 0;
    uint32_t iter_events = 0;
    int rc;

    t->timeline = json_array();
    if (!t->timeline)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if ((rc = read_session(t, err)))
        return rc;
    for (size_t i = 0; i < t->n_events; i++) {
        const lg_event *ev = t->events[i];
        switch (ev->kind) {
        case LG_EVENT_MODEL: {
            const lg_model_event *m = &ev->model;
            double usd = 0;
            if (ncalls == cap) {
                size_t nc = cap ? cap * 2 : 16;
                double *nl = realloc(t->latencies, nc * sizeof *nl);
                if (!nl)
                    return LG_ERR(err, LG_ENOMEM, "out of memory");
                t->latencies = nl;
                cap = nc;
            }
            t->latencies[ncalls++] = (double)m->latency_us / 1000.0;
            if (m->usage.in > 0)
                o->tokens_in += (uint64_t)m->usage.in;
            if (m->usage.out > 0)
                o->tokens_out += (uint64_t)m->usage.out;
            if (m->usage.cached > 0)
                o->tokens_cached += (uint64_t)m->usage.cached;
            /* Unknown cost means an unpriced model, never a missing usage
             * block: a failed or cut call without usage adds nothing we
             * could bill, whatever the model. */
            if (m->status >= 200 && m->status < 300 && !m->fault) {
                if (!lg_pricing_cost(r->pricing, m->model, m->usage.in, m->usage.out,
                                     m->usage.cached, &usd))
                    cost_known = false;
                else if (m->usage.in >= 0 || m->usage.out >= 0)
                    cost += usd;
            } else if (m->usage.in > 0 || m->usage.out > 0) {
                if (lg_pricing_cost(r->pricing, m->model, m->usage.in, m->usage.out,
                                    m->usage.cached, &usd))
                    cost += usd;
                else
                    cost_known = false;
            }
            tl_add(t->timeline, ev->t_us, "model", "%s %s -> %d%s%s", m->method, m->path,
                   m->status, m->fault ? " " : "", m->fault ? m->fault : "");
            break;
        }
        case LG_EVENT_TOOL:
            tl_add(t->timeline, ev->t_us, "tool", "%s %.*s -> exit %d", ev->tool.name,
                   shorten(ev->tool.args.data, ev->tool.args.len),
                   ev->tool.args.data ? ev->tool.args.data : "", ev->tool.exit_code);
            break;
        case LG_EVENT_ITERATION:
            iter_events++;
            break;
        case LG_EVENT_INVARIANT:
            if (!ev->invariant.pass)
                tl_add(t->timeline, ev->t_us, "invariant", "%s failed: %s", ev->invariant.name,
                       ev->invariant.detail ? ev->invariant.detail : "");
            break;
        case LG_EVENT_VERIFY:
            tl_add(t->timeline, ev->t_us, "verify", "%s: %.*s", ev->verify.pass ? "pass" : "fail",
                   ev->verify.message ? shorten(ev->verify.message, strlen(ev->verify.message)) : 0,
                   ev->verify.message ? ev->verify.message : "");
            break;
        case LG_EVENT_DIVERGENCE:
            tl_add(t->timeline, ev->t_us, "divergence", "call %lld differs at %s",
                   (long long)ev->divergence.call, ev->divergence.path);
            break;
        case LG_EVENT_NOTE:
            tl_add(t->timeline, ev->t_us, "note", "%.*s",
                   shorten(ev->note.text, strlen(ev->note.text)), ev->note.text);
            break;
        case LG_EVENT_END:
            tl_add(t->timeline, ev->t_us, "end", "%s%s%s", ev->end.reason,
                   ev->end.error ? ": " : "", ev->end.error ? ev->end.error : "");
            break;
        }
    }
    o->model_calls = (uint32_t)ncalls;
    o->call_latency_ms = t->latencies;
    o->n_call_latency = ncalls;
    o->iterations = iter_events ? iter_events : (uint32_t)ncalls;
    o->cost_known = cost_known;
    o->cost_usd = cost_known ? cost : 0;
    return 0;
}

/* The loop's own word on how it ended: the last `end` event, if any. */
static const lg_end_event *loop_end(const trial *t)
{
    for (size_t i = t->n_events; i-- > 0;)
        if (t->events[i]->kind == LG_EVENT_END)
            return &t->events[i]->end;
    return NULL;
}

static bool diverged(const trial *t)
{
    for (size_t i = 0; i < t->n_events; i++)
        if (t->events[i]->kind == LG_EVENT_DIVERGENCE)
            return true;
    return false;
}

static void detail_set(trial *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void detail_set(trial *t, const char *fmt, ...)
{
    va_list ap;
    lg_buf_reset(&t->detail);
    va_start(ap, fmt);
    if (lg_buf_vappendf(&t->detail, fmt, ap)) {
        /* a detail that does not fit is dropped */
    }
    va_end(ap);
}

/* The session for an invariant command: its events as JSON objects. */
static json_t *session_json(const trial *t)
{
    json_t *evs = json_array(), *doc;
    for (size_t i = 0; evs && i < t->n_events; i++) {
        const lg_event *ev = t->events[i];
        json_t *o = json_pack("{s:s,s:I}", "kind", lg_event_kind_name(ev->kind), "seq",
                              (json_int_t)i);
        if (!o)
            break;
        switch (ev->kind) {
        case LG_EVENT_MODEL:
            json_object_set_new(o, "path", json_string(ev->model.path));
            json_object_set_new(o, "status", json_integer(ev->model.status));
            if (ev->model.model)
                json_object_set_new(o, "model", json_string(ev->model.model));
            json_object_set_new(o, "request", json_loadb(ev->model.request.data, ev->model.request.len, 0, NULL));
            json_object_set_new(o, "response", json_loadb(ev->model.response.data, ev->model.response.len, 0, NULL));
            break;
        case LG_EVENT_TOOL:
            json_object_set_new(o, "name", json_string(ev->tool.name));
            json_object_set_new(o, "args", json_stringn(ev->tool.args.data ? ev->tool.args.data : "", ev->tool.args.len));
            json_object_set_new(o, "stdout", json_stringn(ev->tool.out.data ? ev->tool.out.data : "", ev->tool.out.len));
            json_object_set_new(o, "exit_code", json_integer(ev->tool.exit_code));
            break;
        case LG_EVENT_ITERATION:
            json_object_set_new(o, "index", json_integer(ev->iteration.index));
            break;
        case LG_EVENT_INVARIANT:
            json_object_set_new(o, "name", json_string(ev->invariant.name));
            json_object_set_new(o, "pass", json_boolean(ev->invariant.pass));
            break;
        case LG_EVENT_VERIFY:
            json_object_set_new(o, "pass", json_boolean(ev->verify.pass));
            break;
        case LG_EVENT_DIVERGENCE:
            json_object_set_new(o, "call", json_integer(ev->divergence.call));
            json_object_set_new(o, "path", json_string(ev->divergence.path));
            break;
        case LG_EVENT_NOTE:
            json_object_set_new(o, "text", json_string(ev->note.text));
            break;
        case LG_EVENT_END:
            json_object_set_new(o, "reason", json_string(ev->end.reason));
            break;
        }
        json_array_append_new(evs, o);
    }
    doc = json_pack("{s:I,s:I,s:o}", "case", (json_int_t)t->j.case_index, "trial",
                    (json_int_t)t->j.trial, "events", evs);
    return doc;
}

static int judge(trial *t, lg_err *err)
{
    runner *r = t->r;
    const lg_suite *s = r->o->suite;
    lg_outcome *o = &t->out;
    const lg_end_event *end = loop_end(t);
    lg_buf answer = LG_BUF_INIT;
    bool answered = false;
    int rc = 0;

    if (t->proc.timed_out) {
        o->reason = LG_TERM_TIMEOUT;
        detail_set(t, "killed after %.0f s (--timeout)", r->o->timeout_s);
    } else if (diverged(t)) {
        o->reason = LG_TERM_DIVERGED;
        for (size_t i = 0; i < t->n_events; i++)
            if (t->events[i]->kind == LG_EVENT_DIVERGENCE) {
                detail_set(t, "replay diverged at call %lld, %s", (long long)t->events[i]->divergence.call,
                           t->events[i]->divergence.path);
                break;
            }
    } else if (t->builtin && t->lres.reason != LG_TERM_SUCCESS) {
        o->reason = t->lres.reason; /* the engine enforced the contract */
        detail_set(t, "%s", t->lres.detail ? t->lres.detail : "");
    } else if (end && strcmp(end->reason, "success") != 0) {
        if (!lg_term_reason_from_name(end->reason, &o->reason))
            o->reason = LG_TERM_FATAL_ERROR;
        detail_set(t, "the loop ended with '%s'%s%s", end->reason, end->error ? ": " : "",
                   end->error ? end->error : "");
    } else if (!t->proc.exited || t->proc.exit_code != 0) {
        o->reason = LG_TERM_CRASHED;
        const lg_buf *eb = &t->proc.err;
        size_t n = eb->len > 300 ? 300 : eb->len;
        const char *tail = eb->len > 300 ? eb->data + eb->len - 300 : eb->data;
        while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
            n--;
        if (t->proc.exited)
            detail_set(t, "the loop exited %d%s%.*s", t->proc.exit_code, n ? ": " : "", (int)n,
                       tail ? tail : "");
        else
            detail_set(t, "the loop was killed by signal %d%s%.*s", t->proc.term_signal,
                       n ? ": " : "", (int)n, tail ? tail : "");
    } else {
        bool pass = false;
        lg_validate_ctx vc = {s, t->case_full, t->workdir.data, &r->cancel};
        if ((rc = read_answer(t, &answer, err)))
            goto out;
        answered = true;
        if ((rc = lg_validate_answer(&vc, lg_buf_cstr(&answer), answer.len, &pass, &t->detail,
                                     err)))
            goto out;
        o->reason = pass ? LG_TERM_SUCCESS : LG_TERM_VALIDATOR_FAILED;
        if (!pass && s->limits.max_iterations && o->iterations > s->limits.max_iterations)
            o->reason = LG_TERM_MAX_ITERATIONS;
    }
    o->converged = o->reason == LG_TERM_SUCCESS;

    /* invariants, whatever the reason */
    {
        json_t *sess = NULL;
        lg_inv_input in = {s, t->events, t->n_events, o->iterations,
                           o->tokens_in + o->tokens_out, o->cost_usd, o->cost_known,
                           answered, NULL, &r->cancel};
        if (s->invariants.command)
            sess = session_json(t);
        in.session_json = sess;
        rc = lg_invariants_check(&in, &t->inv, err);
        json_decref(sess);
        if (rc)
            goto out;
        if (t->inv.n) {
            t->viol = calloc(t->inv.n, sizeof *t->viol);
            if (!t->viol) {
                rc = LG_ERR(err, LG_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < t->inv.n; i++) {
                t->viol[i].name = t->inv.items[i].name;
                t->viol[i].count = t->inv.items[i].count ? t->inv.items[i].count : 1;
                tl_add(t->timeline, 0, "invariant", "%s: %s", t->inv.items[i].name,
                       t->inv.items[i].detail);
            }
            o->violations = t->viol;
            o->n_violations = t->inv.n;
        }
    }
    o->detail = t->detail.len ? t->detail.data : NULL;
out:
    lg_buf_release(&answer);
    return rc;
}

/* Record modes: the trace's copy of the session gets the harness's verdict
 * as its last `end` event, so `loopgate show` and exports tell the outcome.
 * The session is committed again with one more event; its bodies are
 * content-addressed, so nothing but the event list is written twice. */
static int append_verdict(trial *t, lg_err *err)
{
    runner *r = t->r;
    lg_store_session *w = NULL;
    lg_session_desc d = {t->key, r->info->id, r->o->suite->name, t->j.case_index, t->j.trial, 0};
    lg_event end = lg_event_make(LG_EVENT_END);
    const lg_session_info *info;
    int rc;

    if (!t->rep.committed || !t->reader || !r->store)
        return 0;
    info = lg_session_reader_info(t->reader);
    d.started_ms = info->started_ms;
    if ((rc = lg_store_session_begin(r->store, &d, &w, err)))
        return rc;
    for (size_t i = 0; i < t->n_events; i++) {
        if ((rc = lg_store_session_append(w, t->events[i], NULL, NULL, err))) {
            lg_store_session_abort(w);
            return rc;
        }
    }
    end.t_us = t->n_events ? t->events[t->n_events - 1]->t_us : 0;
    end.end.reason = lg_term_reason_name(t->out.reason);
    end.end.converged = t->out.converged;
    end.end.error = t->out.converged ? NULL : t->out.detail;
    if ((rc = lg_store_session_append(w, &end, NULL, NULL, err))) {
        lg_store_session_abort(w);
        return rc;
    }
    return lg_store_session_commit(w, NULL, err);
}

/* Runs one trial from start to committed outcome. An error return is a
 * harness failure (stops the run); loop failures are outcomes. */
static int run_trial(runner *r, job j, bool *committed, lg_err *err)
{
    trial t;
    uint64_t t0 = lg_clock_mono_ns();
    int rc;

    memset(&t, 0, sizeof t);
    t.r = r;
    t.j = j;
    lg_buf_init(&t.workdir);
    lg_buf_init(&t.case_path);
    lg_buf_init_capped(&t.detail, 8192);
    *committed = false;
    lg_session_key(j.case_index, j.trial, t.key);
    t.out.case_index = j.case_index;
    t.out.trial = j.trial;

    if ((rc = lg_cases_generate(r->o->suite, j.case_index, LG_CASES_HIDDEN, &t.case_full, err)) ||
        (rc = lg_cases_generate(r->o->suite, j.case_index, 0, &t.case_pub, err)))
        goto out;
    if ((rc = make_workdir(&t, err)) || (rc = write_case(&t, err)))
        goto out;
    uint64_t t_prep = lg_clock_mono_ns(), t_open = t_prep;
    {
        lg_session_desc d = {t.key, r->info->id, r->o->suite->name, j.case_index, j.trial, 0};
        char url[128];
        if ((rc = lg_proxy_session_open(r->proxy, &d, t.token, err)))
            goto out;
        t_open = lg_clock_mono_ns();
        snprintf(url, sizeof url, "http://127.0.0.1:%u/s/%s", lg_proxy_port(r->proxy), t.token);
        rc = r->o->suite->loop.kind == LG_LOOP_BUILTIN ? run_builtin(&t, url, err)
                                                       : run_loop(&t, url, err);
    }
    if (!rc && should_stop(r) && (t.proc.cancelled || !t.proc.exited)) {
        /* stopped by the interrupt: not an outcome; --resume redoes it */
        lg_err ignore = LG_ERR_INIT;
        if (lg_proxy_session_abort(r->proxy, t.token, &ignore))
            lg_debug("%s", ignore.msg);
        pthread_mutex_lock(&r->mu);
        r->interrupted++;
        pthread_mutex_unlock(&r->mu);
        goto out;
    }
    uint64_t t_loop = lg_clock_mono_ns();
    /* the loop is done: close (commit) the session, read it back, judge */
    {
        lg_err cerr = LG_ERR_INIT;
        int crc = lg_proxy_session_close(r->proxy, t.token, &t.rep, &cerr);
        if (rc)
            goto out; /* the loop could not start: that error wins */
        if (crc) {
            *err = cerr;
            rc = crc;
            goto out;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->unused += (uint32_t)t.rep.unused;
    pthread_mutex_unlock(&r->mu);
    uint64_t t_close = lg_clock_mono_ns();
    if ((rc = analyse_session(&t, err)) || (rc = judge(&t, err)))
        goto out;
    if ((rc = append_verdict(&t, err)))
        goto out;
    uint64_t t_judge = lg_clock_mono_ns();
    t.out.wall_ms = (double)(lg_clock_mono_ns() - t0) / 1e6;
    if ((rc = lg_results_put_outcome(r->results, r->info->id, &t.out, t.key,
                                     t.out.converged ? NULL : t.timeline, err)))
        goto out;
    *committed = true;
    lg_debug("trial %s: prepare %.2f ms, open %.2f ms, loop %.2f ms, close %.2f ms, judge %.2f ms, "
             "store %.2f ms",
             t.key, (double)(t_prep - t0) / 1e6, (double)(t_open - t_prep) / 1e6,
             (double)(t_loop - t_open) / 1e6,
             (double)(t_close - t_loop) / 1e6, (double)(t_judge - t_close) / 1e6,
             (double)(lg_clock_mono_ns() - t_judge) / 1e6);
    pthread_mutex_lock(&r->mu);
    r->done++;
    if (t.out.converged)
        r->converged++;
    if (t.out.cost_known) {
        r->cost_known += t.out.cost_usd;
        r->cost_sum_for_avg += t.out.cost_usd;
        r->cost_trials++;
    }
    pthread_mutex_unlock(&r->mu);
    if (t.out.converged && !r->o->keep_workdirs) {
        lg_err ignore = LG_ERR_INIT;
        if (lg_fs_rm_rf(t.workdir.data, &ignore))
            lg_debug("cannot remove %s: %s", t.workdir.data, ignore.msg);
    }
out:
    trial_release(&t);
    return rc;
}

/* The spending guard: may another trial start? Called with r->mu held. */
static bool budget_allows_locked(runner *r)
{
    double avg, projected;
    if (r->o->max_cost_usd <= 0)
        return true;
    avg = r->cost_trials ? r->cost_sum_for_avg / r->cost_trials : 0;
    projected = r->cost_known + avg * (double)(r->running + 1);
    if (projected > r->o->max_cost_usd) {
        if (!r->budget_stop)
            snprintf(r->budget_note, sizeof r->budget_note,
                     "stopped starting trials at $%.4f spent: with %u running and $%.4f per trial "
                     "on average, the next would pass --max-cost-usd %.4f",
                     r->cost_known, r->running, avg, r->o->max_cost_usd);
        r->budget_stop = true;
        return false;
    }
    return true;
}

static void *worker(void *arg)
{
    runner *r = arg;
    for (;;) {
        job j;
        bool committed;
        lg_err err = LG_ERR_INIT;

        pthread_mutex_lock(&r->mu);
        if (r->next >= r->njobs || should_stop(r) || !budget_allows_locked(r)) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        j = r->jobs[r->next++];
        r->running++;
        pthread_mutex_unlock(&r->mu);

        int rc = run_trial(r, j, &committed, &err);

        pthread_mutex_lock(&r->mu);
        r->running--;
        if (rc) {
            if (!lg_err_isset(&r->first_err)) {
                r->first_err = err;
                lg_err_prefix(&r->first_err, "case %u, trial %u", j.case_index, j.trial);
            }
            r->cancel = 1;
        }
        progress_locked(r, false);
        pthread_mutex_unlock(&r->mu);
    }
    return NULL;
}

static char *git_revision(void)
{
    const char *argv[] = {"git", "rev-parse", "--short=12", "HEAD", NULL};
    lg_proc_spec spec = {.argv = argv, .out_cap = 256, .timeout_ms = 5000};
    lg_proc_result res;
    lg_err e = LG_ERR_INIT;
    char *rev = NULL;
    if (lg_proc_run(&spec, &res, &e) == 0 && res.exited && res.exit_code == 0 && res.out.len) {
        size_t n = res.out.len;
        while (n && (res.out.data[n - 1] == '\n' || res.out.data[n - 1] == '\r'))
            n--;
        rev = strndup(res.out.data, n);
    }
    lg_proc_result_release(&res);
    return rev;
}

void lg_run_result_free(lg_run_result *r)
{
    if (!r)
        return;
    lg_run_record_free(r->info);
    lg_outcome_set_free(r->outcomes);
    lg_metrics_free(r->metrics);
    free(r->status);
    free(r);
}

/* Deterministic id for shards of one CI job: same suite, selection and revision. */
static void shard_run_id(const lg_run_opts *o, const char *suite_hash, const char *rev,
                         char id[LG_RUN_ID_MAX])
{
    char buf[512], hex[LG_HASH_HEX_LEN];
    snprintf(buf, sizeof buf, "%s|%llu|%u|%llu|%llu|%u|%s|%s", suite_hash,
             (unsigned long long)o->seed, o->trials, (unsigned long long)o->from,
             (unsigned long long)o->count, o->shard_count, rev ? rev : "",
             lg_run_mode_name(o->mode));
    lg_hash_hex(lg_hash_bytes(buf, strlen(buf)), hex);
    snprintf(id, LG_RUN_ID_MAX, "shard-%.12s", hex);
}

static int open_trace(runner *r, lg_err *err)
{
    const lg_run_opts *o = r->o;
    if (o->mode == LG_RUN_LIVE)
        return 0;
    if (!o->trace_path)
        return LG_ERR(err, LG_EUSAGE, "a trace file is needed in %s mode", lg_run_mode_name(o->mode));
    if (o->mode == LG_RUN_REPLAY && !o->divergence_live)
        return lg_store_open(o->trace_path, LG_STORE_READ, &r->store, err);
    if (o->mode == LG_RUN_REPLAY && !lg_fs_exists(o->trace_path))
        return LG_ERR(err, LG_ENOENT, "cannot open '%s': no such trace file", o->trace_path);
    /* record modes write; create the directory of a default trace path */
    const char *slash = strrchr(o->trace_path, '/');
    if (slash && slash != o->trace_path) {
        char dir[4096];
        int rc;
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - o->trace_path), o->trace_path);
        if ((rc = lg_fs_mkdir_p(dir, err)))
            return rc;
    }
    return lg_store_open(o->trace_path, LG_STORE_WRITE, &r->store, err);
}

static int start_proxy(runner *r, lg_err *err)
{
    const lg_run_opts *o = r->o;
    lg_proxy_opts po;
    memset(&po, 0, sizeof po);
    switch (o->mode) {
    case LG_RUN_RECORD: po.mode = LG_PROXY_RECORD; break;
    case LG_RUN_REPLAY: po.mode = LG_PROXY_REPLAY; break;
    case LG_RUN_RECORD_MISSING: po.mode = LG_PROXY_RECORD_MISSING; break;
    case LG_RUN_LIVE: po.mode = LG_PROXY_PASSTHROUGH; break;
    }
    po.store = r->store;
    po.log_store = r->log;
    po.on_divergence = o->divergence_live ? LG_PROXY_DIVERGE_LIVE : LG_PROXY_DIVERGE_FAIL;
    po.upstream = o->upstream;
    po.env_credentials = true;
    po.threads = o->jobs < 8 ? 2 + o->jobs / 2 : 6;
    return lg_proxy_start(&po, &r->proxy, err);
}

/* Replay keeps what the loop did in a session log beside the work
 * directories, so invariants and iterations come from this run, not the
 * recording. */
static int open_log(runner *r, lg_err *err)
{
    lg_buf p = LG_BUF_INIT;
    int rc;
    /* replay (without going live) and live runs write nothing to a trace:
     * the log is where the loop's events are kept for judging */
    if (!(r->o->mode == LG_RUN_REPLAY && !r->o->divergence_live) && r->o->mode != LG_RUN_LIVE)
        return 0;
    if (lg_buf_appendf(&p, "%s/%s", r->o->workroot, r->info->id))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if (!(rc = lg_fs_mkdir_p(p.data, err))) {
        if (lg_buf_append_str(&p, "/session-log.lgt"))
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        else
            rc = lg_store_open(p.data, LG_STORE_WRITE, &r->log, err);
    }
    lg_buf_release(&p);
    return rc;
}

int lg_run(const lg_run_opts *o, lg_run_result **out, lg_err *err)
{
    runner r;
    lg_run_result *res = NULL;
    pthread_t *threads = NULL;
    uint32_t nthreads = o->jobs ? o->jobs : 1, started = 0;
    char hex[LG_HASH_HEX_LEN];
    int rc = 0;

    *out = NULL;
    memset(&r, 0, sizeof r);
    r.o = o;
    pthread_mutex_init(&r.mu, NULL);
    r.t0 = lg_clock_mono_ns();
    lg_hash_hex(o->suite->hash, hex);

    if (o->suite->loop.kind == LG_LOOP_NONE) {
        rc = LG_ERR(err, LG_EINPUT,
                    "%s: no 'loop:' to run; add 'loop: {command: ...}' or 'loop: {builtin: "
                    "...}' (see docs/suite.md)", o->suite->path);
        goto out;
    }
    if ((rc = lg_pricing_load_for_suite(o->suite, &r.pricing, err)))
        goto out;
    if ((rc = lg_results_open(o->results_path, true, &r.results, err)))
        goto out;

    /* the run row: resumed, or new */
    if (o->resume_run_id) {
        if ((rc = lg_results_run_get(r.results, o->resume_run_id, &r.info, err)))
            goto out;
        if (!r.info->suite_hash || strcmp(r.info->suite_hash, hex) != 0) {
            rc = LG_ERR(err, LG_EINPUT,
                        "run %s was made from a different version of %s (suite hash %.12s, now "
                        "%.12s); resume needs the same suite file",
                        r.info->id, o->suite->path, r.info->suite_hash ? r.info->suite_hash : "?",
                        hex);
            goto out;
        }
    } else {
        r.info = calloc(1, sizeof *r.info);
        if (!r.info) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
        r.info->suite_name = strdup(o->suite->name);
        r.info->suite_path = strdup(o->suite->path);
        r.info->suite_hash = strdup(hex);
        r.info->git_rev = git_revision();
        r.info->mode = strdup(lg_run_mode_name(o->mode));
        r.info->trace_path = o->trace_path ? strdup(o->trace_path) : NULL;
        r.info->seed = o->seed;
        r.info->trials = o->trials;
        r.info->case_from = o->from;
        r.info->case_count = o->count;
        r.info->shard_index = o->shard_index;
        r.info->shard_count = o->shard_count ? o->shard_count : 1;
        r.info->status = strdup("running");
        r.info->flags = o->flags ? json_deep_copy(o->flags) : NULL;
        if (o->run_id)
            snprintf(r.info->id, sizeof r.info->id, "%s", o->run_id);
        else if (o->shard_count > 1)
            shard_run_id(o, hex, r.info->git_rev, r.info->id);
        if ((rc = lg_results_run_create(r.results, r.info, err)))
            goto out;
    }

    /* the selection, minus what a resumed run already has */
    res = calloc(1, sizeof *res);
    r.jobs = calloc(o->count * o->trials + 1, sizeof *r.jobs);
    if (!res || !r.jobs) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    for (uint64_t c = o->from; c < o->from + o->count; c++) {
        if (o->shard_count > 1 && (c - o->from) % o->shard_count != o->shard_index)
            continue;
        for (uint32_t t = 0; t < o->trials; t++) {
            bool has = false;
            if (o->resume_run_id &&
                (rc = lg_results_has_outcome(r.results, r.info->id, (uint32_t)c, t, &has, err)))
                goto out;
            if (has) {
                res->skipped_trials++;
                continue;
            }
            r.jobs[r.njobs++] = (job){(uint32_t)c, t};
        }
    }

    if ((rc = open_trace(&r, err)) || (rc = open_log(&r, err)) || (rc = start_proxy(&r, err)))
        goto out;

    threads = calloc(nthreads, sizeof *threads);
    if (!threads) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    for (; started < nthreads; started++) {
        if (pthread_create(&threads[started], NULL, worker, &r)) {
            rc = LG_ERR(err, LG_EIO, "cannot start a worker thread: %s", strerror(errno));
            r.cancel = 1;
            break;
        }
    }
    /* Wait for the workers; an interrupt from the caller's signal handler
     * stops the running trials too (their children are in their own
     * process groups: the terminal's SIGINT never reaches them). */
    for (;;) {
        bool idle;
        pthread_mutex_lock(&r.mu);
        idle = r.running == 0 && (r.next >= r.njobs || should_stop(&r) || r.budget_stop);
        pthread_mutex_unlock(&r.mu);
        if (o->interrupt && *o->interrupt)
            r.cancel = 1;
        if (idle)
            break;
        lg_clock_sleep_ns(20000000);
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_lock(&r.mu);
    progress_locked(&r, true);
    pthread_mutex_unlock(&r.mu);
    if (rc)
        goto out;
    if (lg_err_isset(&r.first_err)) {
        *err = r.first_err;
        rc = r.first_err.code;
        goto out;
    }
    res->unused_calls = r.unused;

    /* status, metrics over every committed outcome of the run */
    if (o->interrupt && *o->interrupt)
        res->status = strdup("interrupted");
    else if (r.budget_stop)
        res->status = strdup("budget_exhausted");
    else
        res->status = strdup("finished");
    res->interrupted_trials = r.interrupted + (uint32_t)(r.njobs - r.next);
    res->stopped_trials = r.interrupted;
    if (res->status && strcmp(res->status, "finished") == 0)
        res->interrupted_trials = 0;
    res->cost_so_far = r.cost_known;
    snprintf(res->budget_note, sizeof res->budget_note, "%s", r.budget_note);
    if ((rc = lg_results_outcomes(r.results, r.info->id, &res->outcomes, err)))
        goto out;
    {
        lg_metrics_opts mo = {0.95};
        if ((rc = lg_metrics_compute(res->outcomes->items, res->outcomes->n, &mo, &res->metrics,
                                     err)))
            goto out;
    }
    res->info = r.info;
    r.info = NULL;
    *out = res;
    res = NULL;
out:
    if (r.proxy) {
        lg_err serr = LG_ERR_INIT;
        if (lg_proxy_stop(r.proxy, NULL, &serr) && !rc) {
            *err = serr;
            rc = serr.code;
        }
    }
    lg_store_close(r.log);
    lg_store_close(r.store);
    lg_results_close(r.results);
    lg_pricing_free(r.pricing);
    lg_run_record_free(r.info);
    lg_run_result_free(res);
    free(r.jobs);
    free(threads);
    pthread_mutex_destroy(&r.mu);
    return rc;
}
