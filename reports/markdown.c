/*
 * reports/markdown.c - GitHub-flavoured Markdown for a pull-request comment
 * or $GITHUB_STEP_SUMMARY: the verdict first, a summary table of the
 * metrics, the gate verdicts, the comparison when there is one, and the
 * failing trials in a collapsible <details> section (capped at max_detail
 * trials and at about 48 KB in all, so a big run stays inside GitHub's
 * 65,536-character comment limit).
 *
 * Text from the run goes through rr_md (punctuation backslash-escaped, <
 * and & as entities) in tables and prose, and through rr_xml inside <pre>
 * blocks, whose content GitHub passes to the browser as HTML.
 */
#include "render_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of Markdown after which no more failing trials are detailed. */
#define MD_BUDGET 48000

static void run_line(const lg_rundoc *d, rr_w *w)
{
    const lg_run_info *r = &d->run;
    const lg_metrics *m = d->metrics;

    rr_put(w, "Run ");
    rr_md(w, r->id);
    rr_put(w, " · suite ");
    rr_md(w, r->suite_name);
    if (r->suite_path) {
        rr_put(w, " (");
        rr_md(w, r->suite_path);
        rr_put(w, ")");
    }
    if (r->mode) {
        rr_put(w, " · mode ");
        rr_md(w, r->mode);
    }
    rr_printf(w, " · seed %llu", (unsigned long long)r->seed);
    if (r->git_revision) {
        rr_put(w, " · git ");
        rr_md(w, r->git_revision);
    }
    rr_printf(w, " · %zu cases, %zu trials · status %s\n\n", m->cases, m->trials,
              lg_run_status_name(r->status));
}

static void metrics_table(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    rr_row *rows = malloc(RR_MAX_ROWS * sizeof *rows);
    size_t n;

    if (!rows) {
        w->rc = w->rc ? w->rc : LG_ENOMEM;
        return;
    }
    n = rr_metric_rows(d, o, rows);
    rr_put(w, "| metric | value | detail |\n|---|---:|---|\n");
    for (size_t i = 0; i < n; i++) {
        rr_put(w, "| ");
        rr_md(w, rows[i].name);
        rr_put(w, " | ");
        rr_md(w, rows[i].value);
        rr_put(w, " | ");
        rr_md(w, rows[i].detail);
        rr_put(w, " |\n");
    }
    rr_put(w, "\n");
    free(rows);
}

static void gates_table(const lg_rundoc *d, rr_w *w)
{
    char v[48], t[48];

    if (!d->n_gates) {
        rr_put(w, "No gates.\n\n");
        return;
    }
    rr_put(w, "### Gates\n\n| gate | value | threshold | verdict | detail |\n"
              "|---|---:|---:|:---:|---|\n");
    for (size_t i = 0; i < d->n_gates; i++) {
        const lg_rundoc_gate *g = &d->gates[i];
        rr_gate_value(v, sizeof v, g->result.value, g->result.threshold);
        rr_g(t, sizeof t, g->result.threshold);
        rr_put(w, "| ");
        rr_md(w, g->expr);
        rr_printf(w, " | %s | %s | %s | ", v, t, g->result.pass ? "✅ pass" : "❌ **FAIL**");
        rr_md(w, g->result.detail);
        rr_put(w, " |\n");
    }
    rr_put(w, "\n");
}

/* A fenced-free preformatted block: HTML-escaped text inside <pre>. */
static void pre_timeline(const lg_timeline *tl, const rr_opts *o, rr_w *w)
{
    size_t shown = tl->n_items < o->max_timeline ? tl->n_items : o->max_timeline;
    rr_put(w, "<pre>");
    for (size_t i = 0; i < shown; i++) {
        rr_printf(w, "%10.1f ms  ", tl->items[i].t_ms);
        rr_xml(w, tl->items[i].kind, false);
        rr_put(w, "  ");
        rr_xml(w, tl->items[i].summary, false);
        rr_put(w, "\n");
    }
    if (shown < tl->n_items)
        rr_printf(w, "(%zu more steps not shown)\n", tl->n_items - shown);
    rr_put(w, "</pre>\n\n");
}

static void failing(const lg_rundoc *d, const rr_opts *o, rr_w *w, size_t start)
{
    size_t nfail = d->n_outcomes - d->metrics->convergence.converged, shown = 0;

    if (nfail == 0)
        return;
    rr_printf(w, "<details><summary>Failing trials (%zu)</summary>\n\n", nfail);
    for (size_t i = 0; i < d->n_outcomes && shown < o->max_detail_md; i++) {
        /* GitHub cuts comments at 65,536 characters: stop well before */
        if (w->b->len - start > MD_BUDGET)
            break;
        const lg_outcome *oc = &d->outcomes[i];
        const lg_timeline *tl;
        if (oc->converged)
            continue;
        shown++;
        rr_printf(w, "**case %u trial %u**: ", oc->case_index, oc->trial);
        rr_md(w, lg_term_reason_name(oc->reason));
        rr_printf(w, " after %u iterations", oc->iterations);
        for (size_t k = 0; k < oc->n_violations; k++) {
            rr_put(w, k ? ", " : "; violated ");
            rr_md(w, oc->violations[k].name);
            rr_printf(w, " x%u", oc->violations[k].count);
        }
        rr_put(w, "\n\n");
        if (oc->detail && oc->detail[0]) {
            rr_put(w, "<pre>");
            rr_xml(w, oc->detail, false);
            rr_put(w, "</pre>\n\n");
        }
        if ((tl = lg_rundoc_find_timeline(d, oc->case_index, oc->trial)))
            pre_timeline(tl, o, w);
    }
    if (shown < nfail)
        rr_printf(w, "%zu more failing trials not shown; see the JSON or HTML report.\n\n",
                  nfail - shown);
    rr_put(w, "</details>\n\n");
}

int rr_md_render(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    char verdict[512];
    size_t start = w->b->len;

    rr_verdict_line(verdict, sizeof verdict, d);
    rr_put(w, "## loopgate: ");
    rr_md(w, d->run.suite_name);
    rr_printf(w, " %s\n\n**", d->passed ? "✅" : "❌");
    rr_md(w, verdict);
    rr_put(w, "**\n\n");
    run_line(d, w);
    metrics_table(d, o, w);
    gates_table(d, w);
    if (d->comparison)
        rr_compare_md_section(d, o, w);
    failing(d, o, w, start);
    rr_put(w, "<sub>");
    rr_md(w, d->generator);
    rr_put(w, "</sub>\n");
    return w->rc;
}
