/*
 * reports/svg.h - a small SVG writer for the HTML report's inline charts:
 * primitives (rect, line, polyline/polygon, text) and two chart kinds
 * built on them (a line chart with an optional interval band, and a bar
 * chart, vertical or horizontal). Output is plain SVG 1.1 markup meant to
 * sit inside an HTML page (no XML declaration, no external references,
 * classes styled by the page's CSS: .ax axis lines, .grid, .lbl labels,
 * .ttl title, .bar, .line, .band).
 *
 * Coordinates are user units in a viewBox of the given width and height;
 * numbers are written with two decimals, so a chart's size depends on its
 * number of marks, not on the data values. Text is XML-escaped.
 *
 * Errors: the writer is sticky: after the first lg_buf failure every call
 * does nothing and lg_svg_end returns the error.
 *
 * Thread-safety: one lg_svg per thread; no globals.
 */
#ifndef LG_SVG_H
#define LG_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct lg_svg {
    lg_buf *out; /* borrowed */
    int rc;      /* first append error, or 0 */
} lg_svg;

/* Starts an <svg> of `width` x `height` units with an accessible label
 * (`label` borrowed, escaped; may be NULL). */
void lg_svg_begin(lg_svg *s, lg_buf *out, double width, double height, const char *label);
/* Closes the <svg>. Returns 0 or the first error (LG_ETOOBIG/LG_ENOMEM),
 * recorded in `err` as "svg: ...". */
int lg_svg_end(lg_svg *s, lg_err *err) LG_WUR;

/* A rectangle; `cls` (may be NULL) is a CSS class; `tip` (may be NULL) a
 * tooltip (<title>). */
void lg_svg_rect(lg_svg *s, double x, double y, double w, double h, const char *cls,
                 const char *tip);
void lg_svg_line(lg_svg *s, double x1, double y1, double x2, double y2, const char *cls);
/* A polyline through n points, or a closed polygon. */
void lg_svg_poly(lg_svg *s, const double *x, const double *y, size_t n, bool closed,
                 const char *cls);
/* Text at (x, y); anchor "start", "middle" or "end". `text` is escaped. */
void lg_svg_text(lg_svg *s, double x, double y, const char *anchor, const char *cls,
                 const char *text);

/* A line chart: y against x with an optional band [lo, hi] drawn behind. */
typedef struct lg_svg_line_chart {
    const char *title;  /* drawn on top and used as the label */
    const char *xlabel; /* axis titles */
    const char *ylabel;
    const double *x, *y; /* n points, x ascending */
    const double *lo, *hi; /* band, or both NULL */
    size_t n;
    double ymin, ymax; /* y axis range (e.g. 0 and 1) */
} lg_svg_line_chart;

/* Appends the chart (600 x 300 units). n == 0 draws the frame and a "no
 * data" note. Returns 0 or an error as lg_svg_end. */
int lg_svg_chart_line(lg_buf *out, const lg_svg_line_chart *c, lg_err *err) LG_WUR;

/* A bar chart. */
typedef struct lg_svg_bar_chart {
    const char *title;
    const char *xlabel; /* vertical: under the bars; horizontal: under the values */
    const char *const *labels; /* n bar labels (escaped; shortened to fit) */
    const double *values;      /* n values >= 0; NaN draws no bar ("unknown") */
    size_t n;
    bool horizontal;  /* bars left to right, one row per label */
    int decimals;     /* of the value printed beside each bar (horizontal) and in tooltips */
    const char *unit; /* printed before values, e.g. "$", or NULL */
} lg_svg_bar_chart;

/* Appends the chart: vertical 600 x 300 units, horizontal 600 units wide
 * and 24 per bar. Returns 0 or an error as lg_svg_end. */
int lg_svg_chart_bars(lg_buf *out, const lg_svg_bar_chart *c, lg_err *err) LG_WUR;

/* A "nice" tick step (1, 2, 2.5 or 5 times a power of ten) giving about
 * `ticks` ticks over [0, max]. max <= 0 gives 1. */
double lg_svg_nice_step(double max, int ticks);

#endif
