/*
 * reports/compare.c - baseline versus candidate in every format: the
 * metrics side by side with deltas and intervals, the exact McNemar test
 * on the shared cases with its verdict at the stated level, the cases that
 * flipped, and the power note (harness/compare.h, harness/stats.h).
 *
 * The same content appears as a section of a run report that carries a
 * comparison, and as the standalone `loopgate compare` report, whose term
 * form ends with the verdict line.
 */
#include "render_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/svg.h"

typedef struct crow {
    char name[48];
    char base[96];
    char cand[96];
    char delta[48];
} crow;

#define CROWS_MAX 32

static void delta_num(char *buf, size_t len, double b, double c, int decimals)
{
    if (!isfinite(b) || !isfinite(c))
        snprintf(buf, len, "undefined");
    else
        snprintf(buf, len, "%+.*f", decimals, c - b);
}

static void rate_cell(char *buf, size_t len, const lg_rate *r)
{
    char a[32], b[32], c[32];
    snprintf(buf, len, "%s [%s, %s]", rr_num(a, sizeof a, r->value, 4),
             rr_num(b, sizeof b, r->lower, 4), rr_num(c, sizeof c, r->upper, 4));
}

static crow *add(crow *rows, size_t *n, const char *name)
{
    crow *r;
    if (*n >= CROWS_MAX)
        return NULL;
    r = &rows[(*n)++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->base[0] = r->cand[0] = r->delta[0] = 0;
    return r;
}

static void num_row(crow *rows, size_t *n, const char *name, double b, double c, int decimals)
{
    crow *r = add(rows, n, name);
    if (!r)
        return;
    rr_num(r->base, sizeof r->base, b, decimals);
    rr_num(r->cand, sizeof r->cand, c, decimals);
    delta_num(r->delta, sizeof r->delta, b, c, decimals);
}

static void usd_row(crow *rows, size_t *n, const char *name, double b, double c)
{
    crow *r = add(rows, n, name);
    if (!r)
        return;
    rr_usd(r->base, sizeof r->base, b);
    rr_usd(r->cand, sizeof r->cand, c);
    if (!isfinite(b) || !isfinite(c))
        snprintf(r->delta, sizeof r->delta, "undefined");
    else
        snprintf(r->delta, sizeof r->delta, "%s$%.4f", c - b < 0 ? "-" : "+", fabs(c - b));
}

static size_t compare_rows(const lg_rundoc *d, crow *rows)
{
    const lg_metrics *b = d->comparison->base_metrics, *c = d->metrics;
    size_t n = 0;
    crow *r;

    if ((r = add(rows, &n, "convergence_rate"))) {
        rate_cell(r->base, sizeof r->base, &b->convergence);
        rate_cell(r->cand, sizeof r->cand, &c->convergence);
        delta_num(r->delta, sizeof r->delta, b->convergence.value, c->convergence.value, 4);
    }
    num_row(rows, &n, "trials", (double)b->trials, (double)c->trials, 0);
    num_row(rows, &n, "cases.total", (double)b->cases, (double)c->cases, 0);
    num_row(rows, &n, "cases.always_converged", (double)b->stability.n_always,
            (double)c->stability.n_always, 0);
    num_row(rows, &n, "cases.flaky", (double)b->stability.n_flaky, (double)c->stability.n_flaky,
            0);
    num_row(rows, &n, "cases.never_converged", (double)b->stability.n_never,
            (double)c->stability.n_never, 0);
    num_row(rows, &n, "case_pass", b->stability.min_case_rate, c->stability.min_case_rate, 4);
    for (size_t k = 2; k <= b->n_pass_k && k <= c->n_pass_k && k <= 5; k++) {
        char name[32];
        snprintf(name, sizeof name, "pass_hat_k(%zu)", k);
        num_row(rows, &n, name, b->pass_k[k - 1].pass_hat_k, c->pass_k[k - 1].pass_hat_k, 4);
    }
    num_row(rows, &n, "iterations.mean", b->iterations.mean, c->iterations.mean, 2);
    num_row(rows, &n, "iterations.p95", b->iterations.p95, c->iterations.p95, 2);
    num_row(rows, &n, "invariant_violation_rate", b->invariants.violation_rate,
            c->invariants.violation_rate, 4);
    num_row(rows, &n, "tokens.total", (double)b->tokens.total, (double)c->tokens.total, 0);
    usd_row(rows, &n, "cost_usd", b->cost.total_usd, c->cost.total_usd);
    usd_row(rows, &n, "cost_per_convergence", b->cost.per_convergence_usd,
            c->cost.per_convergence_usd);
    num_row(rows, &n, "latency.trial_p50_ms", b->latency.trial_ms.p50, c->latency.trial_ms.p50, 1);
    return n;
}

/* "REGRESSED: ..." - the one-line verdict of a comparison. */
static void compare_verdict(char *buf, size_t len, const lg_compare *c)
{
    const char *head = c->verdict == LG_VERDICT_REGRESSED  ? "REGRESSED"
                       : c->verdict == LG_VERDICT_IMPROVED ? "IMPROVED"
                                                           : "NO SIGNIFICANT CHANGE";
    snprintf(buf, len,
             "%s: %zu of %zu shared cases flipped to fail and %zu to pass; exact McNemar p = "
             "%.4g %s alpha %g",
             head, c->b, c->shared, c->c, c->p_value, c->p_value < c->alpha ? "<" : ">=",
             c->alpha);
}

static void mcnemar_lines(const lg_rundoc *d, char lines[4][400])
{
    const lg_compare *c = &d->comparison->cmp;
    snprintf(lines[0], 400,
             "shared cases: %zu (a case passes when it converged in %s of its trials; only in "
             "the baseline %zu, only in the candidate %zu)",
             c->shared,
             c->rule == LG_CASE_ALL ? "all" : c->rule == LG_CASE_ANY ? "at least one" : "most",
             c->base_only, c->cand_only);
    snprintf(lines[1], 400,
             "both pass %zu, both fail %zu, pass -> fail %zu, fail -> pass %zu; passing share "
             "%.4f -> %.4f",
             c->both_pass, c->both_fail, c->b, c->c, c->base_rate, c->cand_rate);
    snprintf(lines[2], 400, "exact McNemar (two-sided) p = %.4g at alpha %g: %s", c->p_value,
             c->alpha, lg_verdict_name(c->verdict));
    lines[3][0] = 0;
}

/* ---- term -------------------------------------------------------------------- */

static void term_body(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    const lg_rundoc_comparison *cmp = d->comparison;
    crow rows[CROWS_MAX];
    const char *cells[(CROWS_MAX + 1) * 4];
    char lines[4][400];
    size_t n = compare_rows(d, rows);

    rr_printf(w, "%sComparison%s: baseline ", rr_ansi(o->color, "\033[1m"),
              rr_ansi(o->color, "\033[0m"));
    rr_term(w, cmp->base_run.id, false);
    rr_put(w, " (");
    rr_term(w, cmp->base_run.suite_name, false);
    rr_put(w, ") -> candidate ");
    rr_term(w, d->run.id, false);
    rr_put(w, " (");
    rr_term(w, d->run.suite_name, false);
    rr_put(w, ")\n\n");
    cells[0] = "METRIC";
    cells[1] = "BASELINE";
    cells[2] = "CANDIDATE";
    cells[3] = "DELTA";
    for (size_t i = 0; i < n; i++) {
        cells[(i + 1) * 4] = rows[i].name;
        cells[(i + 1) * 4 + 1] = rows[i].base;
        cells[(i + 1) * 4 + 2] = rows[i].cand;
        cells[(i + 1) * 4 + 3] = rows[i].delta;
    }
    rr_term_table(w, cells, n + 1, 4, NULL, 0, o->color, 0);
    rr_put(w, "\n");
    mcnemar_lines(d, lines);
    for (int i = 0; i < 3; i++)
        rr_printf(w, "%s\n", lines[i]);
    if (cmp->cmp.b) {
        rr_put(w, "regressed (pass -> fail): cases ");
        rr_case_list(w, cmp->cmp.regressed, cmp->cmp.b, o->max_listed);
        rr_put(w, "\n");
    }
    if (cmp->cmp.c) {
        rr_put(w, "improved (fail -> pass): cases ");
        rr_case_list(w, cmp->cmp.improved, cmp->cmp.c, o->max_listed);
        rr_put(w, "\n");
    }
    rr_term(w, cmp->power_note, false);
    rr_put(w, "\n");
}

void rr_compare_term_section(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    term_body(d, o, w);
}

/* ---- markdown ------------------------------------------------------------------ */

static void md_body(const lg_rundoc *d, const rr_opts *o, rr_w *w, const char *heading)
{
    const lg_rundoc_comparison *cmp = d->comparison;
    crow rows[CROWS_MAX];
    char lines[4][400];
    size_t n = compare_rows(d, rows);

    rr_printf(w, "%s baseline ", heading);
    rr_md(w, cmp->base_run.id);
    rr_put(w, " → candidate ");
    rr_md(w, d->run.id);
    rr_put(w, "\n\n| metric | baseline | candidate | delta |\n|---|---:|---:|---:|\n");
    for (size_t i = 0; i < n; i++) {
        rr_put(w, "| ");
        rr_md(w, rows[i].name);
        rr_put(w, " | ");
        rr_md(w, rows[i].base);
        rr_put(w, " | ");
        rr_md(w, rows[i].cand);
        rr_put(w, " | ");
        rr_md(w, rows[i].delta);
        rr_put(w, " |\n");
    }
    rr_put(w, "\n");
    mcnemar_lines(d, lines);
    for (int i = 0; i < 3; i++) {
        rr_put(w, "- ");
        rr_md(w, lines[i]);
        rr_put(w, "\n");
    }
    rr_put(w, "\n");
    if (cmp->cmp.b || cmp->cmp.c) {
        rr_printf(w, "<details><summary>Cases that flipped (%zu)</summary>\n\n",
                  cmp->cmp.b + cmp->cmp.c);
        if (cmp->cmp.b) {
            rr_put(w, "- regressed (pass → fail): ");
            rr_case_list(w, cmp->cmp.regressed, cmp->cmp.b, o->max_listed * 10);
            rr_put(w, "\n");
        }
        if (cmp->cmp.c) {
            rr_put(w, "- improved (fail → pass): ");
            rr_case_list(w, cmp->cmp.improved, cmp->cmp.c, o->max_listed * 10);
            rr_put(w, "\n");
        }
        rr_put(w, "\n</details>\n\n");
    }
    rr_put(w, "_");
    rr_md(w, cmp->power_note);
    rr_put(w, "_\n\n");
}

void rr_compare_md_section(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    md_body(d, o, w, "### Comparison:");
}

/* ---- HTML ----------------------------------------------------------------------- */

/* Two bars (baseline, candidate convergence rate) with interval whiskers. */
static void rate_chart(const lg_rundoc *d, rr_w *w)
{
    const lg_rate *r[2] = {&d->comparison->base_metrics->convergence, &d->metrics->convergence};
    const char *names[2] = {"baseline", "candidate"};
    lg_svg s;
    lg_err err = LG_ERR_INIT;
    double x0 = 60, ph = 200, top = 30, bw = 120;
    char buf[64];

    lg_svg_begin(&s, w->b, 420, 280, "convergence rate, baseline and candidate");
    s.rc = w->rc;
    lg_svg_text(&s, 210, 18, "middle", "ttl", "Convergence rate with interval");
    for (int i = 0; i <= 4; i++) {
        double y = top + ph - ph * i / 4.0;
        lg_svg_line(&s, x0, y, 400, y, "grid");
        snprintf(buf, sizeof buf, "%.2f", i / 4.0);
        lg_svg_text(&s, x0 - 6, y + 4, "end", "lbl", buf);
    }
    for (int i = 0; i < 2; i++) {
        double x = x0 + 40 + i * (bw + 60), v = r[i]->value;
        if (isfinite(v)) {
            snprintf(buf, sizeof buf, "%s: %.4f", names[i], v);
            lg_svg_rect(&s, x, top + ph - v * ph, bw, v * ph, "bar", buf);
        }
        if (isfinite(r[i]->lower) && isfinite(r[i]->upper)) {
            double yl = top + ph - r[i]->lower * ph, yu = top + ph - r[i]->upper * ph;
            lg_svg_line(&s, x + bw / 2, yl, x + bw / 2, yu, "ax");
            lg_svg_line(&s, x + bw / 2 - 10, yl, x + bw / 2 + 10, yl, "ax");
            lg_svg_line(&s, x + bw / 2 - 10, yu, x + bw / 2 + 10, yu, "ax");
        }
        lg_svg_text(&s, x + bw / 2, top + ph + 18, "middle", "lbl", names[i]);
        lg_svg_text(&s, x + bw / 2, top + ph + 34, "middle", "lbl",
                    rr_num(buf, sizeof buf, v, 4));
    }
    lg_svg_line(&s, x0, top + ph, 400, top + ph, "ax");
    if (lg_svg_end(&s, &err))
        w->rc = w->rc ? w->rc : err.code;
    else
        w->rc = s.rc;
}

static void html_body(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    const lg_rundoc_comparison *cmp = d->comparison;
    crow rows[CROWS_MAX];
    char lines[4][400];
    size_t n = compare_rows(d, rows);

    rr_put(w, "<section id=\"comparison\"><h2>Comparison: baseline ");
    rr_xml(w, cmp->base_run.id, false);
    rr_put(w, " &#8594; candidate ");
    rr_xml(w, d->run.id, false);
    rr_put(w, "</h2>\n<table>\n<tr><th>metric</th><th>baseline</th><th>candidate</th>"
              "<th>delta</th></tr>\n");
    for (size_t i = 0; i < n; i++) {
        rr_put(w, "<tr><td>");
        rr_xml(w, rows[i].name, false);
        rr_printf(w, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                  "<td class=\"num\">%s</td></tr>\n", rows[i].base, rows[i].cand, rows[i].delta);
    }
    rr_put(w, "</table>\n<ul id=\"mcnemar\">\n");
    mcnemar_lines(d, lines);
    for (int i = 0; i < 3; i++) {
        rr_put(w, "<li>");
        rr_xml(w, lines[i], false);
        rr_put(w, "</li>\n");
    }
    rr_put(w, "</ul>\n");
    if (cmp->cmp.b) {
        rr_put(w, "<p id=\"regressed\">Regressed (pass &#8594; fail): cases ");
        rr_case_list(w, cmp->cmp.regressed, cmp->cmp.b, o->max_case_rows);
        rr_put(w, "</p>\n");
    }
    if (cmp->cmp.c) {
        rr_put(w, "<p id=\"improved\">Improved (fail &#8594; pass): cases ");
        rr_case_list(w, cmp->cmp.improved, cmp->cmp.c, o->max_case_rows);
        rr_put(w, "</p>\n");
    }
    rr_put(w, "<p class=\"note\" id=\"power\">");
    rr_xml(w, cmp->power_note, false);
    rr_put(w, "</p>\n<figure id=\"chart-compare\">\n");
    rate_chart(d, w);
    rr_put(w, "<figcaption>Convergence rate of each run with its clustered interval. The "
              "verdict comes from the paired test on shared cases, not from these "
              "intervals.</figcaption></figure>\n</section>\n");
}

void rr_compare_html_section(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    html_body(d, o, w);
}

/* ---- JUnit ------------------------------------------------------------------------- */

static void jprop(rr_w *w, const char *name, const char *value)
{
    rr_put(w, "      <property name=\"");
    rr_xml(w, name, true);
    rr_put(w, "\" value=\"");
    rr_xml(w, value, true);
    rr_put(w, "\"/>\n");
}

void rr_compare_junit_properties(const lg_rundoc *d, rr_w *w)
{
    const lg_rundoc_comparison *cmp = d->comparison;
    char buf[96];
    jprop(w, "compare.baseline_run_id", cmp->base_run.id);
    snprintf(buf, sizeof buf, "%g", cmp->cmp.alpha);
    jprop(w, "compare.alpha", buf);
    snprintf(buf, sizeof buf, "%zu", cmp->cmp.shared);
    jprop(w, "compare.shared_cases", buf);
    snprintf(buf, sizeof buf, "%zu", cmp->cmp.b);
    jprop(w, "compare.regressions", buf);
    snprintf(buf, sizeof buf, "%zu", cmp->cmp.c);
    jprop(w, "compare.improvements", buf);
    snprintf(buf, sizeof buf, "%.6g", cmp->cmp.p_value);
    jprop(w, "compare.p_value", buf);
    jprop(w, "compare.verdict", lg_verdict_name(cmp->cmp.verdict));
}

static void junit_compare(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    const lg_rundoc_comparison *cmp = d->comparison;
    bool bad = cmp->cmp.verdict == LG_VERDICT_REGRESSED;
    crow rows[CROWS_MAX];
    char verdict[512], lines[4][400];
    size_t n = compare_rows(d, rows);

    compare_verdict(verdict, sizeof verdict, &cmp->cmp);
    rr_put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"loopgate compare\" "
              "tests=\"1\" ");
    rr_printf(w, "failures=\"%d\" errors=\"0\" time=\"0.000\">\n", bad);
    rr_put(w, "  <testsuite name=\"compare ");
    rr_xml(w, d->run.suite_name, true);
    rr_printf(w, "\" tests=\"1\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"0.000\" "
              "hostname=\"localhost\" id=\"0\" package=\"loopgate\">\n    <properties>\n", bad);
    jprop(w, "compare.candidate_run_id", d->run.id);
    rr_compare_junit_properties(d, w);
    for (size_t i = 0; i < n; i++) {
        char value[300];
        snprintf(value, sizeof value, "%s -> %s (%s)", rows[i].base, rows[i].cand, rows[i].delta);
        jprop(w, rows[i].name, value);
    }
    rr_put(w, "    </properties>\n    <testcase name=\"no significant regression (exact "
              "McNemar on shared cases)\" classname=\"");
    rr_xml(w, d->run.suite_name, true);
    rr_put(w, "\" time=\"0.000\">\n");
    if (bad) {
        rr_put(w, "      <failure message=\"");
        rr_xml(w, verdict, true);
        rr_put(w, "\" type=\"regressed\">regressed (pass -&gt; fail): cases ");
        rr_case_list(w, cmp->cmp.regressed, cmp->cmp.b, SIZE_MAX);
        rr_put(w, "</failure>\n");
    }
    rr_put(w, "      <system-out>");
    mcnemar_lines(d, lines);
    for (int i = 0; i < 3; i++) {
        rr_xml(w, lines[i], false);
        rr_put(w, "\n");
    }
    if (cmp->cmp.b) {
        rr_put(w, "regressed (pass -&gt; fail): cases ");
        rr_case_list(w, cmp->cmp.regressed, cmp->cmp.b, o->max_listed * 50);
        rr_put(w, "\n");
    }
    if (cmp->cmp.c) {
        rr_put(w, "improved (fail -&gt; pass): cases ");
        rr_case_list(w, cmp->cmp.improved, cmp->cmp.c, o->max_listed * 50);
        rr_put(w, "\n");
    }
    rr_xml(w, cmp->power_note, false);
    rr_put(w, "\n</system-out>\n    </testcase>\n  </testsuite>\n</testsuites>\n");
}

/* ---- standalone -------------------------------------------------------------------- */

int rr_compare_render(const lg_rundoc *d, lg_report_format f, const rr_opts *o, rr_w *w)
{
    const lg_compare *c = &d->comparison->cmp;
    bool bad = c->verdict == LG_VERDICT_REGRESSED;
    char verdict[512];

    compare_verdict(verdict, sizeof verdict, c);
    switch (f) {
    case LG_REPORT_TERM:
        term_body(d, o, w);
        rr_printf(w, "\n%s", rr_ansi(o->color, bad ? "\033[1;31m"
                                               : c->verdict == LG_VERDICT_IMPROVED ? "\033[1;32m"
                                                                                   : "\033[1m"));
        rr_put(w, verdict);
        rr_printf(w, "%s\n", rr_ansi(o->color, "\033[0m"));
        break;
    case LG_REPORT_MD:
        rr_put(w, "## loopgate compare: ");
        rr_md(w, d->run.suite_name);
        rr_printf(w, " %s\n\n**", bad ? "❌" : "✅");
        rr_md(w, verdict);
        rr_put(w, "**\n\n");
        md_body(d, o, w, "Comparing");
        rr_put(w, "<sub>");
        rr_md(w, d->generator);
        rr_put(w, "</sub>\n");
        break;
    case LG_REPORT_HTML: {
        lg_buf title = LG_BUF_INIT;
        if (lg_buf_appendf(&title, "loopgate compare: %s", d->run.suite_name)) {
            w->rc = w->rc ? w->rc : LG_ENOMEM;
            break;
        }
        rr_html_head(w, lg_buf_cstr(&title));
        rr_put(w, "<header><h1>");
        rr_xml(w, lg_buf_cstr(&title), false);
        lg_buf_release(&title);
        rr_printf(w, "</h1>\n<p id=\"verdict\" class=\"verdict %s\">", bad ? "fail" : "pass");
        rr_xml(w, verdict, false);
        rr_put(w, "</p></header>\n");
        html_body(d, o, w);
        rr_html_foot(w, d);
        break;
    }
    case LG_REPORT_JUNIT:
        junit_compare(d, o, w);
        break;
    default:
        break;
    }
    return w->rc;
}
