/*
 * reports/term.c - the terminal report: run header, an aligned table of
 * the metrics, a table of the gates, the failing trials in short, the
 * comparison when there is one, and the verdict line last (what a CI log
 * shows at its bottom). Colour only when the caller asks for it.
 */
#include "render_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static void header(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    const lg_run_info *r = &d->run;
    const lg_metrics *m = d->metrics;
    char iso[25];

    rr_printf(w, "%sloopgate run ", rr_ansi(o->color, "\033[1m"));
    rr_term(w, r->id, false);
    rr_put(w, ", suite ");
    rr_term(w, r->suite_name, false);
    rr_printf(w, "%s\n", rr_ansi(o->color, "\033[0m"));
    if (r->suite_path || r->suite_hash) {
        rr_put(w, "  suite file ");
        rr_term(w, r->suite_path ? r->suite_path : "-", false);
        if (r->suite_hash) {
            rr_put(w, " (hash ");
            rr_term(w, r->suite_hash, false);
            rr_put(w, ")");
        }
        rr_put(w, "\n");
    }
    rr_put(w, "  mode ");
    rr_term(w, r->mode ? r->mode : "unknown", false);
    rr_printf(w, ", seed %llu", (unsigned long long)r->seed);
    if (r->git_revision) {
        rr_put(w, ", git ");
        rr_term(w, r->git_revision, false);
    }
    rr_put(w, "\n");
    rr_printf(w, "  %zu cases, %zu trials (asked for %llu cases x %u trials), status %s\n",
              m->cases, m->trials, (unsigned long long)r->cases, r->trials,
              lg_run_status_name(r->status));
    if (r->started_ms >= 0) {
        lg_clock_iso8601(r->started_ms, iso);
        rr_printf(w, "  started %s", iso);
        if (r->finished_ms >= r->started_ms)
            rr_printf(w, ", took %.1f s", (double)(r->finished_ms - r->started_ms) / 1000.0);
        rr_put(w, "\n");
    }
}

static void metrics_table(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    rr_row *rows = malloc(RR_MAX_ROWS * sizeof *rows);
    const char **cells;
    size_t n;

    if (!rows) {
        w->rc = w->rc ? w->rc : LG_ENOMEM;
        return;
    }
    n = rr_metric_rows(d, o, rows);
    cells = malloc((n + 1) * 3 * sizeof *cells);
    if (!cells) {
        free(rows);
        w->rc = w->rc ? w->rc : LG_ENOMEM;
        return;
    }
    cells[0] = "METRIC";
    cells[1] = "VALUE";
    cells[2] = "DETAIL";
    for (size_t i = 0; i < n; i++) {
        cells[(i + 1) * 3] = rows[i].name;
        cells[(i + 1) * 3 + 1] = rows[i].value;
        cells[(i + 1) * 3 + 2] = rows[i].detail;
    }
    rr_term_table(w, cells, n + 1, 3, NULL, 0, o->color, 0);
    free(cells);
    free(rows);
}

static void gates_table(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    size_t n = d->n_gates + 1;
    const char **cells = malloc(n * 4 * sizeof *cells);
    char (*num)[2][48] = malloc(n * sizeof *num);
    int *style = calloc(n, sizeof *style);

    if (!cells || !num || !style) {
        w->rc = w->rc ? w->rc : LG_ENOMEM;
        goto out;
    }
    cells[0] = "GATE";
    cells[1] = "VALUE";
    cells[2] = "THRESHOLD";
    cells[3] = "VERDICT";
    for (size_t i = 0; i < d->n_gates; i++) {
        const lg_rundoc_gate *g = &d->gates[i];
        rr_gate_value(num[i][0], sizeof num[i][0], g->result.value, g->result.threshold);
        rr_g(num[i][1], sizeof num[i][1], g->result.threshold);
        cells[(i + 1) * 4] = g->expr;
        cells[(i + 1) * 4 + 1] = num[i][0];
        cells[(i + 1) * 4 + 2] = num[i][1];
        cells[(i + 1) * 4 + 3] = g->result.pass ? "pass" : "FAIL";
        style[i + 1] = g->result.pass ? 1 : 2;
    }
    rr_term_table(w, cells, n, 4, style, 3, o->color, 0);
    for (size_t i = 0; i < d->n_gates; i++) {
        const lg_rundoc_gate *g = &d->gates[i];
        if (g->result.pass || !g->result.detail[0])
            continue;
        rr_put(w, "  ");
        rr_term(w, g->expr, false);
        rr_put(w, ": ");
        rr_term(w, g->result.detail, false);
        rr_put(w, "\n");
    }
out:
    free(cells);
    free(num);
    free(style);
}

static void failing(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    size_t nfail = d->n_outcomes - d->metrics->convergence.converged, shown = 0;
    char msg[512];

    if (nfail == 0 || d->n_outcomes == 0)
        return;
    rr_printf(w, "\n%sFailing trials (%zu)%s\n", rr_ansi(o->color, "\033[1m"), nfail,
              rr_ansi(o->color, "\033[0m"));
    for (size_t i = 0; i < d->n_outcomes && shown < o->max_listed; i++) {
        const lg_outcome *oc = &d->outcomes[i];
        if (oc->converged)
            continue;
        rr_failure_message(msg, sizeof msg, oc);
        rr_printf(w, "  case %u trial %u: ", oc->case_index, oc->trial);
        rr_term(w, msg, false);
        rr_put(w, "\n");
        shown++;
    }
    if (shown < nfail)
        rr_printf(w, "  %zu more not shown (see the JSON, JUnit or HTML report)\n", nfail - shown);
}

int rr_term_render(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    char verdict[512];

    header(d, o, w);
    rr_put(w, "\n");
    metrics_table(d, o, w);
    if (d->n_gates) {
        rr_put(w, "\n");
        gates_table(d, o, w);
    }
    failing(d, o, w);
    if (d->comparison) {
        rr_put(w, "\n");
        rr_compare_term_section(d, o, w);
    }
    rr_verdict_line(verdict, sizeof verdict, d);
    rr_printf(w, "\n%s", rr_ansi(o->color, d->passed ? "\033[1;32m" : "\033[1;31m"));
    rr_term(w, verdict, false);
    rr_printf(w, "%s\n", rr_ansi(o->color, "\033[0m"));
    return w->rc;
}
