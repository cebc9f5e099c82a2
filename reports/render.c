/*
 * reports/render.c - lg_report_render dispatch and the helpers every
 * renderer shares: the sticky-error writer, escaping, number formatting.
 */
#include "render_int.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lg_report_format_names[LG_REPORT_FORMAT_COUNT + 1] = {
    "term", "json", "junit", "md", "html", NULL,
};

static const char *const format_ext[LG_REPORT_FORMAT_COUNT] = {"txt", "json", "xml", "md",
                                                                "html"};

bool lg_report_format_from_name(const char *name, lg_report_format *out)
{
    for (int i = 0; name && i < LG_REPORT_FORMAT_COUNT; i++) {
        if (strcmp(name, lg_report_format_names[i]) == 0) {
            *out = (lg_report_format)i;
            return true;
        }
    }
    return false;
}

const char *lg_report_format_ext(lg_report_format f)
{
    if ((int)f < 0 || f >= LG_REPORT_FORMAT_COUNT)
        return "txt";
    return format_ext[f];
}

void rr_opts_resolve(const lg_report_opts *in, rr_opts *o)
{
    lg_report_opts z = {0};
    if (!in)
        in = &z;
    o->color = in->color;
    o->max_detail_md = in->max_detail ? in->max_detail : 30;
    o->max_detail_html = in->max_detail ? in->max_detail : 200;
    o->max_case_rows = in->max_case_rows ? in->max_case_rows : 1000;
    o->max_timeline = in->max_timeline ? in->max_timeline : 20;
    o->max_listed = in->max_listed ? in->max_listed : 20;
}

int lg_report_render(const lg_rundoc *doc, lg_report_format format, const lg_report_opts *opts,
                     lg_buf *out, lg_err *err)
{
    rr_opts o;
    rr_w w = {out, 0};

    rr_opts_resolve(opts, &o);
    switch (format) {
    case LG_REPORT_TERM:
        rr_term_render(doc, &o, &w);
        break;
    case LG_REPORT_JSON:
        return rr_json_render(doc, out, err);
    case LG_REPORT_JUNIT:
        rr_junit_render(doc, &o, &w);
        break;
    case LG_REPORT_MD:
        rr_md_render(doc, &o, &w);
        break;
    case LG_REPORT_HTML:
        rr_html_render(doc, &o, &w);
        break;
    default:
        return LG_ERR(err, LG_EINPUT, "report: format %d is not one of term, json, junit, md, html",
                      (int)format);
    }
    return rr_finish(&w, lg_report_format_names[format], err);
}

typedef struct render_job {
    const lg_rundoc *doc;
    const lg_report_opts *opts;
    lg_buf *outs;
    const int *formats; /* -1 terminated */
    lg_err err;
    int rc;
} render_job;

static void *render_some(void *arg)
{
    render_job *j = arg;
    for (const int *f = j->formats; *f >= 0 && !j->rc; f++)
        j->rc = lg_report_render(j->doc, (lg_report_format)*f, j->opts, &j->outs[*f], &j->err);
    return NULL;
}

int lg_report_render_all(const lg_rundoc *doc, const lg_report_opts *opts,
                         lg_buf outs[LG_REPORT_FORMAT_COUNT], lg_err *err)
{
    /* JSON is the biggest; JUnit next: one on each thread */
    static const int helper[] = {LG_REPORT_JSON, LG_REPORT_MD, -1};
    static const int self[] = {LG_REPORT_JUNIT, LG_REPORT_HTML, LG_REPORT_TERM, -1};
    render_job a = {doc, opts, outs, helper, LG_ERR_INIT, 0};
    render_job b = {doc, opts, outs, self, LG_ERR_INIT, 0};
    pthread_t tid;
    int e;

    if ((e = pthread_create(&tid, NULL, render_some, &a)) != 0) {
        /* no thread: do it all here */
        render_some(&a);
    }
    render_some(&b);
    if (e == 0)
        pthread_join(tid, NULL);
    if (a.rc || b.rc) {
        const lg_err *first = a.rc ? &a.err : &b.err;
        return LG_ERR(err, first->code ? first->code : LG_EINTERNAL, "%s", first->msg);
    }
    return 0;
}

int lg_report_render_compare(const lg_rundoc *doc, lg_report_format format,
                             const lg_report_opts *opts, lg_buf *out, lg_err *err)
{
    rr_opts o;
    rr_w w = {out, 0};

    if ((int)format < 0 || format >= LG_REPORT_FORMAT_COUNT)
        return LG_ERR(err, LG_EINPUT, "compare report: format %d is not one of term, json, junit, "
                      "md, html", (int)format);
    if (!doc->comparison)
        return LG_ERR(err, LG_EINPUT,
                      "compare report: run '%s' has no baseline comparison; compare two runs "
                      "with lg_rundoc_compare first",
                      doc->run.id);
    if (format == LG_REPORT_JSON)
        return rr_json_render(doc, out, err);
    rr_opts_resolve(opts, &o);
    rr_compare_render(doc, format, &o, &w);
    return rr_finish(&w, lg_report_format_names[format], err);
}

/* ---- writer ------------------------------------------------------------- */

void rr_putn(rr_w *w, const char *s, size_t n)
{
    if (!w->rc && n)
        w->rc = lg_buf_append(w->b, s, n);
}

void rr_put(rr_w *w, const char *s)
{
    if (s)
        rr_putn(w, s, strlen(s));
}

void rr_printf(rr_w *w, const char *fmt, ...)
{
    va_list ap;
    if (w->rc)
        return;
    va_start(ap, fmt);
    w->rc = lg_buf_vappendf(w->b, fmt, ap);
    va_end(ap);
}

int rr_finish(rr_w *w, const char *format, lg_err *err)
{
    if (!w->rc)
        return 0;
    if (w->rc == LG_ETOOBIG)
        return LG_ERR(err, LG_ETOOBIG,
                      "%s report: the output would exceed its size cap (%zu bytes)", format,
                      w->b->max);
    return LG_ERR(err, w->rc, "%s report: out of memory", format);
}

/* ---- UTF-8 and escaping ---------------------------------------------------- */

/* Decodes one code point at s (n bytes left). Returns it and sets *len, or
 * returns -1 with *len 1 for an invalid byte. */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    long cp;
    size_t l;

    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF) {
        l = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        l = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        l = 4;
        cp = c & 0x07;
    } else {
        return -1;
    }
    if (l > n)
        return -1;
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = l;
    return cp;
}

static void put_cp(rr_w *w, long cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    rr_putn(w, b, n);
}

/* The visible stand-in for a code point no format may carry as is, or -1
 * when `cp` is fine. Tab and newline are fine here; callers decide. */
static long stand_in(long cp)
{
    if (cp < 0)
        return 0xFFFD;
    if (cp < 0x20)
        return 0x2400 + cp; /* control pictures: U+2401 is SOH, ... */
    if (cp == 0x7F)
        return 0x2421;
    if ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF)
        return 0xFFFD;
    return -1;
}

void rr_xml(rr_w *w, const char *str, bool attr)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = str ? strlen(str) : 0, i = 0, run = 0;

    while (i < n) {
        size_t len;
        long cp;
        const char *rep = NULL;
        /* fast path: plain printable ASCII passes through */
        if (s[i] >= 0x20 && s[i] < 0x7F && s[i] != '&' && s[i] != '<' && s[i] != '>' &&
            s[i] != '"' && s[i] != '\'') {
            i++;
            continue;
        }
        cp = utf8_next(s + i, n - i, &len);
        if (cp == '&')
            rep = "&amp;";
        else if (cp == '<')
            rep = "&lt;";
        else if (cp == '>')
            rep = "&gt;";
        else if (attr && cp == '"')
            rep = "&quot;";
        else if (attr && cp == '\'')
            rep = "&apos;";
        else if (cp == '\r')
            rep = "&#13;";
        else if (attr && cp == '\n')
            rep = "&#10;";
        else if (attr && cp == '\t')
            rep = "&#9;";
        if (rep || (cp != '\n' && cp != '\t' && stand_in(cp) >= 0)) {
            rr_putn(w, (const char *)s + run, i - run);
            if (rep)
                rr_put(w, rep);
            else
                put_cp(w, stand_in(cp));
            i += len;
            run = i;
            continue;
        }
        i += len;
    }
    rr_putn(w, (const char *)s + run, n - run);
}

void rr_md(rr_w *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = str ? strlen(str) : 0, i = 0;

    while (i < n) {
        size_t len;
        long cp = utf8_next(s + i, n - i, &len);
        if (cp == '\n' || cp == '\t' || cp == '\r') {
            rr_put(w, " ");
        } else if (cp == '<') {
            rr_put(w, "&lt;"); /* GitHub allows inline HTML; an entity is inert */
        } else if (cp == '>') {
            rr_put(w, "&gt;");
        } else if (cp == '&') {
            rr_put(w, "&amp;");
        } else if (cp > 0 && cp < 0x7F && strchr("\\`*_[]|~$@#", (int)cp)) {
            char b[2] = {'\\', (char)cp};
            rr_putn(w, b, 2);
        } else if (stand_in(cp) >= 0) {
            put_cp(w, stand_in(cp));
        } else {
            rr_putn(w, (const char *)s + i, len);
        }
        i += len;
    }
}

void rr_term(rr_w *w, const char *str, bool multiline)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = str ? strlen(str) : 0, i = 0, run = 0;

    while (i < n) {
        size_t len;
        long cp = utf8_next(s + i, n - i, &len);
        if ((cp == '\n' && multiline) || stand_in(cp) < 0) {
            i += len;
            continue;
        }
        rr_putn(w, (const char *)s + run, i - run);
        if (cp == '\n' || cp == '\t')
            rr_put(w, " ");
        else
            put_cp(w, stand_in(cp));
        i += len;
        run = i;
    }
    rr_putn(w, (const char *)s + run, n - run);
}

size_t rr_term_cell(char *dst, size_t cap, const char *str)
{
    lg_buf b;
    rr_w w = {&b, 0};
    size_t width = 0, i = 0;

    lg_buf_init_capped(&b, 4096);
    rr_term(&w, str, false);
    /* copy whole code points that fit */
    const unsigned char *s = (const unsigned char *)lg_buf_cstr(&b);
    size_t n = b.len;
    while (i < n) {
        size_t len;
        utf8_next(s + i, n - i, &len);
        if (i + len + 1 > cap)
            break;
        i += len;
        width++;
    }
    if (cap) {
        memcpy(dst, s, i);
        dst[i] = 0;
    }
    lg_buf_release(&b);
    return width;
}

/* ---- numbers -------------------------------------------------------------- */

const char *rr_num(char *buf, size_t len, double v, int decimals)
{
    if (!isfinite(v))
        snprintf(buf, len, "undefined");
    else
        snprintf(buf, len, "%.*f", decimals, v);
    return buf;
}

const char *rr_g(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(buf, len, "undefined");
    else
        snprintf(buf, len, "%.6g", v);
    return buf;
}

const char *rr_usd(char *buf, size_t len, double v)
{
    if (!isfinite(v))
        snprintf(buf, len, "unknown");
    else if (v != 0.0 && fabs(v) < 0.0001)
        snprintf(buf, len, "$%.6f", v);
    else
        snprintf(buf, len, "$%.4f", v);
    return buf;
}

void rr_case_list(rr_w *w, const uint32_t *cases, size_t n, size_t max)
{
    size_t i;
    for (i = 0; i < n && i < max; i++)
        rr_printf(w, "%s%u", i ? ", " : "", cases[i]);
    if (i < n)
        rr_printf(w, " (and %zu more)", n - i);
}

void rr_verdict_line(char *buf, size_t len, const lg_rundoc *d)
{
    const lg_metrics *m = d->metrics;

    if (d->run.status != LG_RUN_FINISHED) {
        snprintf(buf, len, "FAIL: the run did not finish (%s); %zu of %zu gates failed",
                 lg_run_status_name(d->run.status), d->gates_failed, d->n_gates);
    } else if (d->n_gates == 0) {
        snprintf(buf, len, "PASS: no gates (%zu of %zu trials converged)", m->convergence.converged,
                 m->trials);
    } else if (d->gates_failed == 0) {
        snprintf(buf, len, "PASS: %zu of %zu gates passed", d->n_gates, d->n_gates);
    } else {
        size_t used = (size_t)snprintf(buf, len, "FAIL: %zu of %zu gates failed:", d->gates_failed,
                                       d->n_gates);
        for (size_t i = 0, shown = 0; i < d->n_gates && used < len; i++) {
            if (d->gates[i].result.pass)
                continue;
            if (shown == 3) {
                snprintf(buf + used, len - used, ", ...");
                break;
            }
            used += (size_t)snprintf(buf + used, len - used, "%s %s", shown ? "," : "",
                                     d->gates[i].expr);
            shown++;
        }
    }
}

void rr_failure_message(char *buf, size_t len, const lg_outcome *o)
{
    size_t used = (size_t)snprintf(buf, len, "%s", lg_term_reason_name(o->reason));
    if (o->detail && o->detail[0] && used < len) {
        const char *nl = strchr(o->detail, '\n');
        int n = nl ? (int)(nl - o->detail) : (int)strlen(o->detail);
        if (n > 300)
            n = 300;
        used += (size_t)snprintf(buf + used, len - used, ": %.*s", n, o->detail);
    }
    for (size_t i = 0; i < o->n_violations && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s x%u", i ? ", " : "; violated ",
                                 o->violations[i].name, o->violations[i].count);
}

/* ---- the metrics table ---------------------------------------------------- */

void rr_gate_value(char *buf, size_t len, double v, double threshold)
{
    rr_g(buf, len, v);
    if (isfinite(v) && v != threshold && strtod(buf, NULL) == threshold)
        snprintf(buf, len, "%.17g", v);
}

static rr_row *row(rr_row *rows, size_t *n, const char *name)
{
    rr_row *r;
    if (*n >= RR_MAX_ROWS)
        return NULL;
    r = &rows[(*n)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->value[0] = r->detail[0] = 0;
    return r;
}

static void list_into(char *dst, size_t len, const char *label, const uint32_t *c, size_t n,
                      size_t max)
{
    size_t used = (size_t)snprintf(dst, len, "%s", n ? label : "");
    for (size_t i = 0; i < n && used < len; i++) {
        if (i == max) {
            snprintf(dst + used, len - used, " (and %zu more)", n - i);
            break;
        }
        used += (size_t)snprintf(dst + used, len - used, "%s%u", i ? ", " : "", c[i]);
    }
}

size_t rr_metric_rows(const lg_rundoc *d, const rr_opts *o, rr_row *rows)
{
    const lg_metrics *m = d->metrics;
    const lg_rate *cr = &m->convergence;
    char a[48], b[48], c[48], e[48];
    size_t n = 0;
    rr_row *r;

    if ((r = row(rows, &n, "convergence_rate"))) {
        rr_num(r->value, sizeof r->value, cr->value, 4);
        snprintf(r->detail, sizeof r->detail,
                 "%zu of %zu trials; %.0f%% interval [%s, %s] clustered by case (design "
                 "effect %s)",
                 cr->converged, cr->trials, m->confidence * 100, rr_num(a, sizeof a, cr->lower, 4),
                 rr_num(b, sizeof b, cr->upper, 4), rr_num(c, sizeof c, cr->design_effect, 2));
    }
    if ((r = row(rows, &n, "cases.total")))
        snprintf(r->value, sizeof r->value, "%zu", m->cases);
    if ((r = row(rows, &n, "cases.always_converged")))
        snprintf(r->value, sizeof r->value, "%zu", m->stability.n_always);
    if ((r = row(rows, &n, "cases.flaky"))) {
        snprintf(r->value, sizeof r->value, "%zu", m->stability.n_flaky);
        list_into(r->detail, sizeof r->detail, "cases ", m->stability.flaky, m->stability.n_flaky,
                  o->max_listed);
    }
    if ((r = row(rows, &n, "cases.never_converged"))) {
        snprintf(r->value, sizeof r->value, "%zu", m->stability.n_never);
        list_into(r->detail, sizeof r->detail, "cases ", m->stability.never, m->stability.n_never,
                  o->max_listed);
    }
    if ((r = row(rows, &n, "case_pass"))) {
        rr_num(r->value, sizeof r->value, m->stability.min_case_rate, 4);
        snprintf(r->detail, sizeof r->detail, "lowest share of converged trials of any case");
    }
    for (size_t k = 2; k <= m->n_pass_k && k <= 10; k++) {
        const lg_pass_k *pk = &m->pass_k[k - 1];
        char name[32];
        snprintf(name, sizeof name, "pass_hat_k(%zu)", k);
        if ((r = row(rows, &n, name))) {
            rr_num(r->value, sizeof r->value, pk->pass_hat_k, 4);
            snprintf(r->detail, sizeof r->detail, "pass_at_k(%zu) %s over %zu cases", k,
                     rr_num(a, sizeof a, pk->pass_at_k, 4), pk->cases);
        }
    }
    if ((r = row(rows, &n, "iterations.mean"))) {
        const lg_dist *it = &m->iterations;
        rr_num(r->value, sizeof r->value, it->mean, 2);
        if (it->n)
            snprintf(r->detail, sizeof r->detail, "p50 %s, p90 %s, p95 %s, max %s over %zu converged "
                     "trials", rr_g(a, sizeof a, it->p50), rr_g(b, sizeof b, it->p90),
                     rr_g(c, sizeof c, it->p95), rr_g(e, sizeof e, it->max), it->n);
        else
            snprintf(r->detail, sizeof r->detail, "no trial converged");
    }
    if ((r = row(rows, &n, "invariant_violation_rate"))) {
        rr_num(r->value, sizeof r->value, m->invariants.violation_rate, 4);
        snprintf(r->detail, sizeof r->detail, "%zu of %zu trials violated an invariant",
                 m->invariants.trials_with_violation, m->trials);
    }
    for (size_t i = 0; i < m->invariants.n_per_invariant; i++) {
        const lg_invariant_count *ic = &m->invariants.per_invariant[i];
        char name[96];
        if (i == 20 || n + 12 >= RR_MAX_ROWS) {
            if ((r = row(rows, &n, "invariant_violations.*")))
                snprintf(r->detail, sizeof r->detail, "%zu more invariants not shown",
                         m->invariants.n_per_invariant - i);
            break;
        }
        snprintf(name, sizeof name, "invariant_violations.%s", ic->name);
        if ((r = row(rows, &n, name))) {
            snprintf(r->value, sizeof r->value, "%llu", (unsigned long long)ic->count);
            snprintf(r->detail, sizeof r->detail, "in %zu trial%s", ic->trials,
                     ic->trials == 1 ? "" : "s");
        }
    }
    for (int t = 0; t < LG_TERM_COUNT; t++) {
        char name[64];
        if (!m->termination[t])
            continue;
        snprintf(name, sizeof name, "termination.%s", lg_term_reason_names[t]);
        if ((r = row(rows, &n, name))) {
            snprintf(r->value, sizeof r->value, "%zu", m->termination[t]);
            snprintf(r->detail, sizeof r->detail, "%.1f%% of trials",
                     100.0 * (double)m->termination[t] / (double)(m->trials ? m->trials : 1));
        }
    }
    if ((r = row(rows, &n, "tokens.total"))) {
        snprintf(r->value, sizeof r->value, "%llu", (unsigned long long)m->tokens.total);
        snprintf(r->detail, sizeof r->detail, "in %llu (cached %llu), out %llu",
                 (unsigned long long)m->tokens.in, (unsigned long long)m->tokens.cached,
                 (unsigned long long)m->tokens.out);
    }
    if ((r = row(rows, &n, "cost_usd"))) {
        rr_usd(r->value, sizeof r->value, m->cost.total_usd);
        if (m->cost.unknown_trials)
            snprintf(r->detail, sizeof r->detail,
                     "%zu of %zu trials used a model without a price; the known part is %s",
                     m->cost.unknown_trials, m->trials, rr_usd(a, sizeof a, m->cost.known_usd));
    }
    if ((r = row(rows, &n, "cost_per_convergence"))) {
        rr_usd(r->value, sizeof r->value, m->cost.per_convergence_usd);
        snprintf(r->detail, sizeof r->detail, "total cost / %zu converged trials", cr->converged);
    }
    if ((r = row(rows, &n, "latency.call_p50_ms"))) {
        const lg_dist *l = &m->latency.call_ms;
        rr_num(r->value, sizeof r->value, l->p50, 1);
        if (l->n)
            snprintf(r->detail, sizeof r->detail, "p95 %s, max %s over %zu model calls",
                     rr_num(a, sizeof a, l->p95, 1), rr_num(b, sizeof b, l->max, 1), l->n);
        else
            snprintf(r->detail, sizeof r->detail, "no model call was timed");
    }
    if ((r = row(rows, &n, "latency.trial_p50_ms"))) {
        const lg_dist *l = &m->latency.trial_ms;
        rr_num(r->value, sizeof r->value, l->p50, 1);
        if (l->n)
            snprintf(r->detail, sizeof r->detail, "p95 %s, max %s over %zu trials",
                     rr_num(a, sizeof a, l->p95, 1), rr_num(b, sizeof b, l->max, 1), l->n);
    }
    return n;
}

/* ---- terminal tables ---------------------------------------------------------- */

#define CELL_CAP 400

const char *rr_ansi(bool color, const char *seq)
{
    return color ? seq : "";
}

void rr_term_table(rr_w *w, const char *const *cells, size_t nrows, size_t ncols,
                   const int *style, size_t style_col, bool color, int indent)
{
    char *text;
    size_t *width, colw[16] = {0};

    if (ncols == 0 || ncols > 16 || nrows == 0)
        return;
    text = malloc(nrows * ncols * CELL_CAP);
    width = malloc(nrows * ncols * sizeof *width);
    if (!text || !width) {
        free(text);
        free(width);
        if (!w->rc)
            w->rc = LG_ENOMEM;
        return;
    }
    for (size_t i = 0; i < nrows * ncols; i++) {
        width[i] = rr_term_cell(text + i * CELL_CAP, CELL_CAP, cells[i] ? cells[i] : "");
        if (width[i] > colw[i % ncols])
            colw[i % ncols] = width[i];
    }
    for (size_t r = 0; r < nrows; r++) {
        /* trailing empty cells print nothing, so no line ends in blanks */
        size_t last = ncols;
        while (last > 1 && width[r * ncols + last - 1] == 0)
            last--;
        rr_printf(w, "%*s", indent, "");
        for (size_t c = 0; c < last; c++) {
            size_t i = r * ncols + c;
            const char *on = "";
            if (r == 0)
                on = rr_ansi(color, "\033[1m");
            else if (style && c == style_col && style[r] == 1)
                on = rr_ansi(color, "\033[32m");
            else if (style && c == style_col && style[r] == 2)
                on = rr_ansi(color, "\033[1;31m");
            rr_put(w, on);
            rr_put(w, text + i * CELL_CAP);
            if (*on)
                rr_put(w, "\033[0m");
            if (c + 1 < last)
                rr_printf(w, "%*s", (int)(colw[c] - width[i] + 2), "");
        }
        rr_put(w, "\n");
    }
    free(text);
    free(width);
}
