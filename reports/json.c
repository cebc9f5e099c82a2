/*
 * reports/json.c - the JSON format: the run report document itself
 * (docs/report-schema.md), pretty-printed with keys sorted, final newline.
 *
 * The bytes are exactly lg_json_dump_pretty(lg_rundoc_to_json(doc)) -
 * jansson's indented, key-sorted form, which tests/test_report.c checks -
 * but written straight into the buffer instead of building a jansson tree
 * first: for 100,000 trials the tree costs millions of allocations and
 * most of the time of every format together. Only the metrics member is
 * dumped through jansson (lg_metrics_to_json, the one serialisation of the
 * metrics) and indented into place.
 */
#include "render_int.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/json.h"

#define JW_DEPTH 16

/* A pretty-printing emitter: commas, newlines and indentation as jansson's
 * JSON_INDENT(2). Keys must be given in sorted (strcmp) order. */
#define JW_STAGE 65536

typedef struct jw {
    rr_w *w;
    int depth;
    bool nonempty[JW_DEPTH];
    bool after_key;
    size_t n;             /* bytes staged */
    char stage[JW_STAGE]; /* small writes gather here: one lg_buf append per 64 KB */
} jw;

static void jflush(jw *j)
{
    rr_putn(j->w, j->stage, j->n);
    j->n = 0;
}

static void jputn(jw *j, const char *s, size_t n)
{
    if (n > JW_STAGE - j->n) {
        jflush(j);
        if (n >= JW_STAGE) {
            rr_putn(j->w, s, n);
            return;
        }
    }
    memcpy(j->stage + j->n, s, n);
    j->n += n;
}

static void jput(jw *j, const char *s)
{
    jputn(j, s, strlen(s));
}

static void indent(jw *j, int depth)
{
    static const char nl_spaces[] = "\n                                ";
    size_t n = 1 + (size_t)(2 * depth);
    jputn(j, nl_spaces, n < sizeof nl_spaces - 1 ? n : sizeof nl_spaces - 1);
}

/* Decimal digits of x into the end of buf[24]; returns the first digit. */
static char *utoa(uint64_t x, char *end)
{
    *--end = 0;
    do {
        *--end = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    return end;
}

/* Before a value or a key: separator and indentation. */
static void pre(jw *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (j->depth > 0) {
        if (j->nonempty[j->depth])
            jput(j, ",");
        j->nonempty[j->depth] = true;
        indent(j, j->depth);
    }
}

static void open_c(jw *j, char c)
{
    char s[2] = {c, 0};
    pre(j);
    jput(j, s);
    if (j->depth + 1 < JW_DEPTH)
        j->depth++;
    j->nonempty[j->depth] = false;
}

static void close_c(jw *j, char c)
{
    char s[2] = {c, 0};
    if (j->nonempty[j->depth])
        indent(j, j->depth - 1);
    j->depth--;
    jput(j, s);
}

/* A JSON string as jansson writes it: \" \\ \b \f \n \r \t, other control
 * characters as \u00XX, everything else (valid UTF-8) as is. Invalid UTF-8
 * cannot reach here (the document holds only what jansson accepted or
 * lg_rundoc_to_json would have repaired), but is repaired the same way. */
static void str(jw *j, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, i = 0, n = strlen(s);

    jput(j, "\"");
    while (i < n) {
        unsigned char c = p[i];
        const char *rep = NULL;
        char u[8];
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\b')
            rep = "\\b";
        else if (c == '\f')
            rep = "\\f";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c < 0x20) {
            snprintf(u, sizeof u, "\\u%04X", c);
            rep = u;
        } else if (c >= 0x80) {
            /* validate one sequence; replace a bad byte with U+FFFD */
            size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
            bool valid = len && i + len <= n;
            for (size_t k = 1; valid && k < len; k++)
                valid = (p[i + k] & 0xC0) == 0x80;
            if (valid) {
                unsigned char c1 = p[i + 1];
                valid = !(len == 2 && c < 0xC2) && !(len == 3 && c == 0xE0 && c1 < 0xA0) &&
                        !(len == 3 && c == 0xED && c1 >= 0xA0) &&
                        !(len == 4 && c == 0xF0 && c1 < 0x90) && !(len == 4 && c > 0xF4) &&
                        !(len == 4 && c == 0xF4 && c1 >= 0x90);
            }
            if (valid) {
                i += len;
                continue;
            }
            rep = "\xEF\xBF\xBD";
        } else {
            i++;
            continue;
        }
        jputn(j, s + run, i - run);
        jput(j, rep);
        i++;
        run = i;
    }
    jputn(j, s + run, n - run);
    jput(j, "\"");
}

static void key(jw *j, const char *k)
{
    pre(j);
    str(j, k);
    jput(j, ": ");
    j->after_key = true;
}

static void v_str(jw *j, const char *s)
{
    pre(j);
    if (s)
        str(j, s);
    else
        jput(j, "null");
}

static void v_uint(jw *j, uint64_t x)
{
    char b[24];
    pre(j);
    jput(j, utoa(x > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : x, b + sizeof b));
}

static void v_bool(jw *j, bool b)
{
    pre(j);
    jput(j, b ? "true" : "false");
}

/* A real as jansson writes it: %.17g, no '+' or leading zeros in the
 * exponent, ".0" when it would read back as an integer; null if not finite. */
static void v_num(jw *j, double x)
{
    char b[40], out[40];
    size_t o = 0;
    pre(j);
    if (!isfinite(x)) {
        jput(j, "null");
        return;
    }
    if (x == floor(x) && fabs(x) < 1e16 && !(x == 0 && signbit(x))) {
        /* an integral value: %.17g prints its digits, jansson adds ".0" */
        char *p = utoa((uint64_t)fabs(x), b + sizeof b);
        if (x < 0)
            *--p = '-';
        jput(j, p);
        jput(j, ".0");
        return;
    }
    snprintf(b, sizeof b, "%.17g", x);
    for (const char *p = b; *p && o + 3 < sizeof out; p++) {
        out[o++] = *p;
        if (*p == 'e') {
            p++;
            if (*p == '+')
                p++;
            else if (*p == '-')
                out[o++] = *p++;
            while (*p == '0' && p[1])
                p++;
            while (*p && o + 3 < sizeof out)
                out[o++] = *p++;
            break;
        }
    }
    out[o] = 0;
    if (!strpbrk(out, ".e"))
        memcpy(out + o, ".0", 3);
    jput(j, out);
}

static void v_time(jw *j, int64_t ms)
{
    char iso[25];
    if (ms < 0) {
        v_str(j, NULL);
        return;
    }
    lg_clock_iso8601(ms, iso);
    v_str(j, iso);
}

/* Pre-rendered pretty JSON (depth 0) placed as a value at the current depth. */
static void v_raw_pretty(jw *j, const char *text, size_t len)
{
    static const char spaces[] = "                                ";
    size_t run = 0, pad = (size_t)(2 * j->depth) < sizeof spaces - 1 ? (size_t)(2 * j->depth)
                                                                      : sizeof spaces - 1;
    pre(j);
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\n')
            continue;
        jputn(j, text + run, i + 1 - run);
        jputn(j, spaces, pad);
        run = i + 1;
    }
    jputn(j, text + run, len - run);
}

static int metrics(jw *j, const lg_metrics *m, lg_err *err)
{
    json_t *mj = lg_metrics_to_json(m, err);
    lg_buf b = LG_BUF_INIT;
    int rc;
    if (!mj)
        return err && err->code ? err->code : LG_ENOMEM;
    rc = lg_json_dump_pretty(mj, &b, err);
    json_decref(mj);
    if (!rc)
        v_raw_pretty(j, lg_buf_cstr(&b), b.len);
    lg_buf_release(&b);
    return rc;
}

static void run(jw *j, const lg_run_info *r)
{
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed);
    open_c(j, '{');
    key(j, "cases");
    v_uint(j, r->cases);
    key(j, "finished");
    v_time(j, r->finished_ms);
    key(j, "git_revision");
    v_str(j, r->git_revision);
    key(j, "id");
    v_str(j, r->id);
    key(j, "mode");
    v_str(j, r->mode);
    key(j, "seed");
    v_str(j, seed);
    key(j, "started");
    v_time(j, r->started_ms);
    key(j, "status");
    v_str(j, lg_run_status_name(r->status));
    key(j, "suite");
    open_c(j, '{');
    key(j, "hash");
    v_str(j, r->suite_hash);
    key(j, "name");
    v_str(j, r->suite_name);
    key(j, "path");
    v_str(j, r->suite_path);
    close_c(j, '}');
    key(j, "trials");
    v_uint(j, r->trials);
    close_c(j, '}');
}

static void outcome(jw *j, const lg_rundoc *d, const lg_outcome *o)
{
    const lg_timeline *tl = lg_rundoc_find_timeline(d, o->case_index, o->trial);
    open_c(j, '{');
    key(j, "case");
    v_uint(j, o->case_index);
    key(j, "converged");
    v_bool(j, o->converged);
    key(j, "cost_usd");
    v_num(j, o->cost_known ? o->cost_usd : NAN);
    key(j, "detail");
    v_str(j, o->detail);
    key(j, "iterations");
    v_uint(j, o->iterations);
    key(j, "model_calls");
    v_uint(j, o->model_calls);
    key(j, "reason");
    v_str(j, lg_term_reason_name(o->reason));
    if (tl) {
        key(j, "timeline");
        open_c(j, '[');
        for (size_t i = 0; i < tl->n_items; i++) {
            open_c(j, '{');
            key(j, "kind");
            v_str(j, tl->items[i].kind);
            key(j, "summary");
            v_str(j, tl->items[i].summary);
            key(j, "t_ms");
            v_num(j, tl->items[i].t_ms);
            close_c(j, '}');
        }
        close_c(j, ']');
    }
    key(j, "tokens");
    open_c(j, '{');
    key(j, "cached");
    v_uint(j, o->tokens_cached);
    key(j, "in");
    v_uint(j, o->tokens_in);
    key(j, "out");
    v_uint(j, o->tokens_out);
    close_c(j, '}');
    key(j, "trial");
    v_uint(j, o->trial);
    key(j, "violations");
    open_c(j, '[');
    for (size_t i = 0; i < o->n_violations; i++) {
        open_c(j, '{');
        key(j, "count");
        v_uint(j, o->violations[i].count);
        key(j, "name");
        v_str(j, o->violations[i].name);
        close_c(j, '}');
    }
    close_c(j, ']');
    key(j, "wall_ms");
    v_num(j, o->wall_ms);
    close_c(j, '}');
}

static void cases(jw *j, const uint32_t *c, size_t n)
{
    open_c(j, '[');
    for (size_t i = 0; i < n; i++)
        v_uint(j, c[i]);
    close_c(j, ']');
}

static int comparison(jw *j, const lg_rundoc_comparison *c, lg_err *err)
{
    static const char *const verdicts[] = {"no_change", "improved", "regressed"};
    int rc;
    open_c(j, '{');
    key(j, "alpha");
    v_num(j, c->cmp.alpha);
    key(j, "base_only");
    v_uint(j, c->cmp.base_only);
    key(j, "base_rate");
    v_num(j, c->cmp.base_rate);
    key(j, "baseline");
    open_c(j, '{');
    key(j, "metrics");
    if ((rc = metrics(j, c->base_metrics, err)))
        return rc;
    key(j, "run");
    run(j, &c->base_run);
    close_c(j, '}');
    key(j, "both_fail");
    v_uint(j, c->cmp.both_fail);
    key(j, "both_pass");
    v_uint(j, c->cmp.both_pass);
    key(j, "cand_only");
    v_uint(j, c->cmp.cand_only);
    key(j, "cand_rate");
    v_num(j, c->cmp.cand_rate);
    key(j, "drop");
    v_num(j, c->drop);
    key(j, "improved");
    cases(j, c->cmp.improved, c->cmp.c);
    key(j, "improvements");
    v_uint(j, c->cmp.c);
    key(j, "p_value");
    v_num(j, c->cmp.p_value);
    key(j, "power_note");
    v_str(j, c->power_note);
    key(j, "regressed");
    cases(j, c->cmp.regressed, c->cmp.b);
    key(j, "regressions");
    v_uint(j, c->cmp.b);
    key(j, "rule");
    v_str(j, lg_case_rule_name(c->cmp.rule));
    key(j, "shared");
    v_uint(j, c->cmp.shared);
    key(j, "verdict");
    v_str(j, verdicts[c->cmp.verdict <= LG_VERDICT_REGRESSED ? c->cmp.verdict : 0]);
    close_c(j, '}');
    return 0;
}

static int render(jw *j, const lg_rundoc *d, lg_err *err)
{
    char summary[160];
    int rc;

    open_c(j, '{');
    if (d->comparison) {
        key(j, "comparison");
        if ((rc = comparison(j, d->comparison, err)))
            return rc;
    }
    key(j, "gates");
    open_c(j, '[');
    for (size_t i = 0; i < d->n_gates; i++) {
        const lg_rundoc_gate *g = &d->gates[i];
        open_c(j, '{');
        key(j, "defined");
        v_bool(j, g->result.defined);
        key(j, "detail");
        v_str(j, g->result.detail);
        key(j, "expression");
        v_str(j, g->expr);
        key(j, "pass");
        v_bool(j, g->result.pass);
        key(j, "text");
        v_str(j, g->result.text);
        key(j, "threshold");
        v_num(j, g->result.threshold);
        key(j, "value");
        v_num(j, g->result.value);
        close_c(j, '}');
    }
    close_c(j, ']');
    key(j, "generator");
    v_str(j, d->generator);
    key(j, "metrics");
    if ((rc = metrics(j, d->metrics, err)))
        return rc;
    key(j, "outcomes");
    open_c(j, '[');
    for (size_t i = 0; i < d->n_outcomes && !j->w->rc; i++)
        outcome(j, d, &d->outcomes[i]);
    close_c(j, ']');
    key(j, "run");
    run(j, &d->run);
    key(j, "schema");
    v_uint(j, LG_RUNDOC_SCHEMA);
    key(j, "verdict");
    open_c(j, '{');
    key(j, "gates");
    v_uint(j, d->n_gates);
    key(j, "gates_failed");
    v_uint(j, d->gates_failed);
    key(j, "passed");
    v_bool(j, d->passed);
    lg_rundoc_verdict_summary(d, summary, sizeof summary);
    key(j, "summary");
    v_str(j, summary);
    close_c(j, '}');
    close_c(j, '}');
    jput(j, "\n");
    jflush(j);
    return 0;
}

int rr_json_render(const lg_rundoc *d, lg_buf *out, lg_err *err)
{
    rr_w w = {out, 0};
    jw *j = malloc(sizeof *j);
    int rc;

    if (!j)
        return LG_ERR(err, LG_ENOMEM, "json report: out of memory");
    memset(j, 0, offsetof(jw, stage));
    j->w = &w;
    rc = render(j, d, err);
    free(j);
    if (rc)
        return rc;
    return rr_finish(&w, "json", err);
}
