/*
 * reports/report.h - render a run report (reports/rundoc.h) for people and
 * CI systems.
 *
 * Formats (names as on the command line):
 *   term   aligned tables of the metrics and the gates, the verdict line
 *          last; ANSI colour only when opts->color (the caller decides:
 *          a terminal and NO_COLOR unset)
 *   json   the document itself (docs/report-schema.md), pretty, keys sorted
 *   junit  JUnit XML: one <testsuite> per suite, one <testcase> per
 *          case x trial ("case 37 trial 0"), <failure message="REASON:
 *          detail"> with the timeline in <system-out>, metrics as
 *          <properties>
 *   md     Markdown for a pull-request comment or $GITHUB_STEP_SUMMARY:
 *          summary table, gate verdicts, failing trials in <details>
 *   html   one self-contained page (no network, no script) with inline SVG
 *          charts and a table of cases; per-case detail is capped so that
 *          100,000 sessions stay under 5 MB, with "N more not shown" notes
 *
 * Case and trial numbers are the 0-based indices of the document in every
 * format. Every string that came from a loop under test (details,
 * timelines, names) is escaped for the format: XML/HTML special characters,
 * control characters (shown as the Unicode control pictures U+2400..,
 * since XML 1.0 cannot carry them), invalid UTF-8 (U+FFFD), Markdown
 * punctuation, terminal escape sequences.
 *
 * Thread-safety: no globals; rendering only reads the document, so several
 * threads may render one document at once.
 */
#ifndef LG_REPORT_H
#define LG_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "reports/rundoc.h"

typedef enum lg_report_format {
    LG_REPORT_TERM = 0,
    LG_REPORT_JSON,
    LG_REPORT_JUNIT,
    LG_REPORT_MD,
    LG_REPORT_HTML,
    LG_REPORT_FORMAT_COUNT /* not a format */
} lg_report_format;

/* NULL-terminated names in enum order: "term", "json", "junit", "md",
 * "html". Static storage. */
extern const char *const lg_report_format_names[LG_REPORT_FORMAT_COUNT + 1];

/* Parses a format name; false (and *out untouched) for anything else. */
bool lg_report_format_from_name(const char *name, lg_report_format *out);

/* The conventional file extension without the dot: "txt", "json", "xml",
 * "md", "html". Static storage; "txt" out of range. */
const char *lg_report_format_ext(lg_report_format f);

/* Rendering options. Zero-initialised means the defaults in brackets. */
typedef struct lg_report_opts {
    bool color;           /* term: ANSI colours [off] */
    size_t max_detail;    /* md, html: failing trials shown in full [md 30, html 200] */
    size_t max_case_rows; /* html: rows of the case table [1000] */
    size_t max_timeline;  /* items of one trial's timeline shown [20] */
    size_t max_listed;    /* case numbers listed inline (flaky, never, flipped) [20] */
} lg_report_opts;

/*
 * Appends the run report of `doc` (borrowed) in `format` to `out`. When
 * the document holds a comparison, term, md and html add a comparison
 * section and junit adds its numbers as properties. `opts` may be NULL.
 * Returns 0; LG_EINPUT for a format out of range; LG_ETOOBIG or LG_ENOMEM
 * when `out` reaches its cap or memory runs out (out then holds a partial
 * report: callers discard it).
 */
int lg_report_render(const lg_rundoc *doc, lg_report_format format, const lg_report_opts *opts,
                     lg_buf *out, lg_err *err) LG_WUR;

/*
 * Renders every format at once: outs[f] receives format f (as
 * lg_report_render would append it), for f in 0 .. LG_REPORT_FORMAT_COUNT-1.
 * The formats are shared between the calling thread and one helper thread
 * (the document is only read), which halves the wall time of writing all
 * reports of a big run on two cores. Returns 0, or the first error of any
 * format (every buffer may then hold partial output: discard them all);
 * LG_ENOMEM/LG_EINTERNAL if the helper thread cannot start.
 */
int lg_report_render_all(const lg_rundoc *doc, const lg_report_opts *opts,
                         lg_buf outs[LG_REPORT_FORMAT_COUNT], lg_err *err) LG_WUR;

/*
 * Appends the comparison report (doc->comparison: baseline versus `doc` as
 * the candidate) in `format`: the metrics side by side with deltas and
 * intervals, the exact McNemar result and verdict at the stated level, the
 * cases that flipped and the power note; verdict line last in term. json
 * is the whole document (it holds the comparison). Returns 0; LG_EINPUT if
 * the document has no comparison or the format is out of range; the
 * buffer errors as above.
 */
int lg_report_render_compare(const lg_rundoc *doc, lg_report_format format,
                             const lg_report_opts *opts, lg_buf *out, lg_err *err) LG_WUR;

#endif
