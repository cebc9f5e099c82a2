/*
 * reports/render_int.h - private to reports/: the renderers behind
 * lg_report_render and the small helpers they share (a sticky-error writer
 * over lg_buf, escaping, number formatting). Not a public API.
 */
#ifndef LG_RENDER_INT_H
#define LG_RENDER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "reports/report.h"

/* Defaults of lg_report_opts, resolved once per render. */
typedef struct rr_opts {
    bool color;
    size_t max_detail_md, max_detail_html, max_case_rows, max_timeline, max_listed;
} rr_opts;

void rr_opts_resolve(const lg_report_opts *in, rr_opts *out);

/* A writer: appends to an lg_buf and remembers the first failure, so
 * renderers write straight-line code and check once at the end. */
typedef struct rr_w {
    lg_buf *b;
    int rc; /* 0 or the first lg_buf error */
} rr_w;

void rr_put(rr_w *w, const char *s);
void rr_putn(rr_w *w, const char *s, size_t n);
void rr_printf(rr_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Turns a writer failure into an lg_err ("FORMAT report: ..."). */
int rr_finish(rr_w *w, const char *format, lg_err *err);

/* Escapers. NULL strings write nothing. Control characters other than
 * tab/newline become U+2400 + c (U+2421 for DEL) and invalid UTF-8 bytes
 * U+FFFD, in every escaper. */
/* XML and HTML text (attr false) or a double-quoted attribute value (attr
 * true: also quotes, and tab/newline/CR as character references). */
void rr_xml(rr_w *w, const char *s, bool attr);
/* Markdown inline text (never at the start of a line): the characters
 * that mean something inline (\ ` * _ [ ] | ~ $ @ #) backslash-escaped,
 * < > & as entities, newlines as spaces; safe in table cells. */
void rr_md(rr_w *w, const char *s);
/* Terminal text: no escape sequences can pass; newlines kept only when
 * `multiline`, else shown as spaces. */
void rr_term(rr_w *w, const char *s, bool multiline);

/* Sanitises `s` for the terminal into `dst` (like rr_term, single line) and
 * returns its display width in code points. Truncates to fit `cap`. */
size_t rr_term_cell(char *dst, size_t cap, const char *s);

/* Number formatting into `buf`; NaN gives "undefined". */
const char *rr_num(char *buf, size_t len, double v, int decimals); /* fixed decimals */
const char *rr_g(char *buf, size_t len, double v);                 /* %.6g */
const char *rr_usd(char *buf, size_t len, double v);               /* $0.0123 */

/* "3, 17, 20 (and 12 more)" from a case list, capped at `max`. */
void rr_case_list(rr_w *w, const uint32_t *cases, size_t n, size_t max);

/* The one-line verdict: "PASS: 3 of 3 gates passed", "FAIL: ...". */
void rr_verdict_line(char *buf, size_t len, const lg_rundoc *doc);

/* A trial's failure message: "REASON: first line of detail" (capped). */
void rr_failure_message(char *buf, size_t len, const lg_outcome *o);

/* One row of the metrics table every format shows (same numbers
 * everywhere). Names are gate metric names (harness/gate.h), so a reader
 * can turn a row into a gate. Cells are raw text: renderers escape them. */
typedef struct rr_row {
    char name[96];
    char value[48];
    char detail[320];
} rr_row;

#define RR_MAX_ROWS 80

/* Fills up to RR_MAX_ROWS rows; returns how many. */
size_t rr_metric_rows(const lg_rundoc *doc, const rr_opts *o, rr_row *rows);

/* A gate's value and threshold for display: %.6g, or more digits when
 * %.6g would make a different value look equal to the threshold. */
void rr_gate_value(char *buf, size_t len, double v, double threshold);

/* Writes an aligned text table for the terminal. `cells` holds nrows *
 * ncols raw strings (sanitised here), row 0 the header (bold with colour).
 * Columns are separated by two spaces, the last is not padded, every line
 * starts with `indent` spaces. `style` (may be NULL) per row: 0 plain,
 * 1 green and 2 red for column `style_col`, with colour only. */
void rr_term_table(rr_w *w, const char *const *cells, size_t nrows, size_t ncols,
                   const int *style, size_t style_col, bool color, int indent);

/* ANSI sequences, or "" without colour. */
const char *rr_ansi(bool color, const char *seq);

/* Renderers (one file each). */
int rr_term_render(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
int rr_junit_render(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
int rr_md_render(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
int rr_html_render(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
int rr_json_render(const lg_rundoc *doc, lg_buf *out, lg_err *err);

/* compare.c: the comparison section inside a run report, and the
 * standalone comparison report. */
void rr_compare_term_section(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
void rr_compare_md_section(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
void rr_compare_html_section(const lg_rundoc *doc, const rr_opts *o, rr_w *w);
void rr_compare_junit_properties(const lg_rundoc *doc, rr_w *w);
int rr_compare_render(const lg_rundoc *doc, lg_report_format f, const rr_opts *o, rr_w *w);

/* html.c: the page head and foot (shared by the compare page). */
void rr_html_head(rr_w *w, const char *title);
void rr_html_foot(rr_w *w, const lg_rundoc *doc);

#endif
