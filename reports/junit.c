/*
 * reports/junit.c - JUnit XML, the shape Jenkins, GitLab, GitHub test
 * reporters and Ant read (tests/fixtures/junit.xsd):
 *
 *   <testsuites name tests failures errors time>
 *     <testsuite name=SUITE tests failures errors skipped time timestamp ...>
 *       <properties> run metadata, every metric row, every gate </properties>
 *       <testcase name="case 37 trial 0" classname=SUITE time=SECONDS>
 *         <failure message="REASON: detail" type=REASON>detail, violations</failure>
 *         <system-out>the trial's timeline</system-out>
 *       </testcase> ...
 *     </testsuite>
 *   </testsuites>
 *
 * One testcase per case x trial: a trial that did not converge is a
 * failure. All text goes through rr_xml, so the file is well-formed XML 1.0
 * whatever bytes the loop produced.
 */
#include "render_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"

static void prop(rr_w *w, const char *name, const char *value)
{
    rr_put(w, "      <property name=\"");
    rr_xml(w, name, true);
    rr_put(w, "\" value=\"");
    rr_xml(w, value ? value : "", true);
    rr_put(w, "\"/>\n");
}

static void properties(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    const lg_run_info *r = &d->run;
    rr_row *rows = malloc(RR_MAX_ROWS * sizeof *rows);
    char buf[600], verdict[512];
    size_t n;

    rr_put(w, "    <properties>\n");
    prop(w, "loopgate.generator", d->generator);
    prop(w, "loopgate.run_id", r->id);
    prop(w, "loopgate.suite", r->suite_name);
    if (r->suite_path)
        prop(w, "loopgate.suite_path", r->suite_path);
    if (r->suite_hash)
        prop(w, "loopgate.suite_hash", r->suite_hash);
    if (r->mode)
        prop(w, "loopgate.mode", r->mode);
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)r->seed);
    prop(w, "loopgate.seed", buf);
    if (r->git_revision)
        prop(w, "loopgate.git_revision", r->git_revision);
    prop(w, "loopgate.status", lg_run_status_name(r->status));
    rr_verdict_line(verdict, sizeof verdict, d);
    prop(w, "loopgate.verdict", verdict);
    if (!rows) {
        w->rc = w->rc ? w->rc : LG_ENOMEM;
    } else {
        n = rr_metric_rows(d, o, rows);
        for (size_t i = 0; i < n; i++)
            prop(w, rows[i].name, rows[i].value);
        free(rows);
    }
    for (size_t i = 0; i < d->n_gates; i++) {
        char name[64];
        snprintf(name, sizeof name, "gate.%zu", i);
        snprintf(buf, sizeof buf, "%s", d->gates[i].result.text);
        prop(w, name, buf);
    }
    if (d->comparison)
        rr_compare_junit_properties(d, w);
    rr_put(w, "    </properties>\n");
}

static void timeline(const lg_timeline *tl, const rr_opts *o, rr_w *w)
{
    size_t shown = tl->n_items < o->max_timeline ? tl->n_items : o->max_timeline;
    for (size_t i = 0; i < shown; i++) {
        const lg_timeline_item *it = &tl->items[i];
        rr_printf(w, "%10.1f ms  ", it->t_ms);
        rr_xml(w, it->kind, false);
        rr_put(w, "  ");
        rr_xml(w, it->summary, false);
        rr_put(w, "\n");
    }
    if (shown < tl->n_items)
        rr_printf(w, "(%zu more steps not shown)\n", tl->n_items - shown);
}

static void testcase(const lg_rundoc *d, const lg_outcome *oc, const rr_opts *o, rr_w *w)
{
    const lg_timeline *tl = lg_rundoc_find_timeline(d, oc->case_index, oc->trial);
    char msg[1024];

    rr_printf(w, "    <testcase name=\"case %u trial %u\" classname=\"", oc->case_index, oc->trial);
    rr_xml(w, d->run.suite_name, true);
    rr_printf(w, "\" time=\"%.3f\"", oc->wall_ms / 1000.0);
    if (oc->converged && !tl && oc->n_violations == 0) {
        rr_put(w, "/>\n");
        return;
    }
    rr_put(w, ">\n");
    if (!oc->converged) {
        rr_failure_message(msg, sizeof msg, oc);
        rr_put(w, "      <failure message=\"");
        rr_xml(w, msg, true);
        rr_printf(w, "\" type=\"%s\">", lg_term_reason_name(oc->reason));
        rr_printf(w, "termination reason: %s\n", lg_term_reason_name(oc->reason));
        rr_printf(w, "iterations: %u, model calls: %u\n", oc->iterations, oc->model_calls);
        if (oc->detail && oc->detail[0]) {
            rr_put(w, "detail:\n");
            rr_xml(w, oc->detail, false);
            rr_put(w, "\n");
        }
        for (size_t i = 0; i < oc->n_violations; i++) {
            rr_put(w, "violated invariant ");
            rr_xml(w, oc->violations[i].name, false);
            rr_printf(w, " (%u time%s)\n", oc->violations[i].count,
                      oc->violations[i].count == 1 ? "" : "s");
        }
        rr_put(w, "</failure>\n");
    }
    if (tl || (oc->converged && oc->n_violations)) {
        rr_put(w, "      <system-out>");
        for (size_t i = 0; oc->converged && i < oc->n_violations; i++) {
            rr_put(w, "violated invariant ");
            rr_xml(w, oc->violations[i].name, false);
            rr_printf(w, " (%u time%s)\n", oc->violations[i].count,
                      oc->violations[i].count == 1 ? "" : "s");
        }
        if (tl)
            timeline(tl, o, w);
        rr_put(w, "</system-out>\n");
    }
    rr_put(w, "    </testcase>\n");
}

int rr_junit_render(const lg_rundoc *d, const rr_opts *o, rr_w *w)
{
    const lg_run_info *r = &d->run;
    size_t failures = d->n_outcomes - d->metrics->convergence.converged;
    double secs = 0.0;
    char iso[25];

    if (r->started_ms >= 0 && r->finished_ms >= r->started_ms) {
        secs = (double)(r->finished_ms - r->started_ms) / 1000.0;
    } else {
        for (size_t i = 0; i < d->n_outcomes; i++)
            secs += d->outcomes[i].wall_ms / 1000.0;
    }
    rr_put(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    rr_put(w, "<testsuites name=\"loopgate run ");
    rr_xml(w, r->id, true);
    rr_printf(w, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n", d->n_outcomes,
              failures, secs);
    rr_put(w, "  <testsuite name=\"");
    rr_xml(w, r->suite_name, true);
    rr_printf(w, "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"%.3f\"",
              d->n_outcomes, failures, secs);
    if (r->started_ms >= 0) {
        /* JUnit timestamps are ISO 8601 without a zone (Ant's schema) */
        lg_clock_iso8601(r->started_ms, iso);
        rr_printf(w, " timestamp=\"%.19s\"", iso);
    }
    rr_put(w, " hostname=\"localhost\" id=\"0\" package=\"loopgate\">\n");
    properties(d, o, w);
    for (size_t i = 0; i < d->n_outcomes; i++)
        testcase(d, &d->outcomes[i], o, w);
    rr_put(w, "  </testsuite>\n</testsuites>\n");
    return w->rc;
}
