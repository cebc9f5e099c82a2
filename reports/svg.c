/*
 * reports/svg.c - the SVG writer and the two chart kinds of the HTML report.
 */
#include "svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "render_int.h"

static void put(lg_svg *s, const char *str)
{
    if (!s->rc)
        s->rc = lg_buf_append_str(s->out, str);
}

static void __attribute__((format(printf, 2, 3))) putf(lg_svg *s, const char *fmt, ...)
{
    va_list ap;
    if (s->rc)
        return;
    va_start(ap, fmt);
    s->rc = lg_buf_vappendf(s->out, fmt, ap);
    va_end(ap);
}

static void esc(lg_svg *s, const char *text, bool attr)
{
    rr_w w = {s->out, s->rc};
    rr_xml(&w, text, attr);
    s->rc = w.rc;
}

void lg_svg_begin(lg_svg *s, lg_buf *out, double width, double height, const char *label)
{
    s->out = out;
    s->rc = 0;
    putf(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
         "height=\"%.0f\" role=\"img\"", width, height, width, height);
    if (label) {
        put(s, " aria-label=\"");
        esc(s, label, true);
        put(s, "\"");
    }
    put(s, ">\n");
}

int lg_svg_end(lg_svg *s, lg_err *err)
{
    put(s, "</svg>\n");
    if (s->rc == LG_ETOOBIG)
        return LG_ERR(err, LG_ETOOBIG, "svg: the output would exceed its size cap");
    if (s->rc)
        return LG_ERR(err, s->rc, "svg: out of memory");
    return 0;
}

static void cls_attr(lg_svg *s, const char *cls)
{
    if (cls) {
        put(s, " class=\"");
        esc(s, cls, true);
        put(s, "\"");
    }
}

void lg_svg_rect(lg_svg *s, double x, double y, double w, double h, const char *cls,
                 const char *tip)
{
    putf(s, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"", x, y, w < 0 ? 0 : w,
         h < 0 ? 0 : h);
    cls_attr(s, cls);
    if (tip) {
        put(s, "><title>");
        esc(s, tip, false);
        put(s, "</title></rect>\n");
    } else {
        put(s, "/>\n");
    }
}

void lg_svg_line(lg_svg *s, double x1, double y1, double x2, double y2, const char *cls)
{
    putf(s, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"", x1, y1, x2, y2);
    cls_attr(s, cls);
    put(s, "/>\n");
}

void lg_svg_poly(lg_svg *s, const double *x, const double *y, size_t n, bool closed,
                 const char *cls)
{
    put(s, closed ? "<polygon points=\"" : "<polyline points=\"");
    for (size_t i = 0; i < n; i++)
        putf(s, "%s%.2f,%.2f", i ? " " : "", x[i], y[i]);
    put(s, "\"");
    cls_attr(s, cls);
    put(s, "/>\n");
}

void lg_svg_text(lg_svg *s, double x, double y, const char *anchor, const char *cls,
                 const char *text)
{
    putf(s, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\"", x, y, anchor ? anchor : "start");
    cls_attr(s, cls);
    put(s, ">");
    esc(s, text, false);
    put(s, "</text>\n");
}

double lg_svg_nice_step(double max, int ticks)
{
    double raw, mag, f;
    if (!(max > 0) || !isfinite(max) || ticks < 1)
        return 1.0;
    raw = max / ticks;
    mag = pow(10.0, floor(log10(raw)));
    f = raw / mag;
    return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 2.5 ? 2.5 : f <= 5.0 ? 5.0 : 10.0) * mag;
}

/* Tick label: integers without decimals, else up to 3 significant decimals. */
static void tick_label(char *buf, size_t len, double v)
{
    if (fabs(v - round(v)) < 1e-9)
        snprintf(buf, len, "%.0f", v);
    else
        snprintf(buf, len, "%.3g", v);
}

/* ---- line chart ------------------------------------------------------------ */

#define LW 600.0
#define LH 300.0
#define ML 56.0 /* margins */
#define MR 16.0
#define MT 28.0
#define MB 44.0

int lg_svg_chart_line(lg_buf *out, const lg_svg_line_chart *c, lg_err *err)
{
    lg_svg s;
    double xmin, xmax, pw = LW - ML - MR, ph = LH - MT - MB, ystep;
    char lbl[32];

    lg_svg_begin(&s, out, LW, LH, c->title);
    lg_svg_text(&s, LW / 2, 18, "middle", "ttl", c->title);
    xmin = c->n ? c->x[0] : 0.0;
    xmax = c->n ? c->x[c->n - 1] : 1.0;
    if (xmax <= xmin)
        xmax = xmin + 1.0;
#define PX(v) (ML + ((v) - xmin) / (xmax - xmin) * pw)
#define PY(v) (MT + ph - ((v) - c->ymin) / (c->ymax - c->ymin) * ph)
    ystep = lg_svg_nice_step(c->ymax - c->ymin, 4);
    for (double v = c->ymin; v <= c->ymax + 1e-9; v += ystep) {
        lg_svg_line(&s, ML, PY(v), ML + pw, PY(v), "grid");
        tick_label(lbl, sizeof lbl, v);
        lg_svg_text(&s, ML - 6, PY(v) + 4, "end", "lbl", lbl);
    }
    {
        double xstep = lg_svg_nice_step(xmax - xmin, 6);
        for (double v = ceil(xmin / xstep) * xstep; v <= xmax + 1e-9; v += xstep) {
            lg_svg_line(&s, PX(v), MT + ph, PX(v), MT + ph + 4, "ax");
            tick_label(lbl, sizeof lbl, v);
            lg_svg_text(&s, PX(v), MT + ph + 16, "middle", "lbl", lbl);
        }
    }
    lg_svg_line(&s, ML, MT + ph, ML + pw, MT + ph, "ax");
    lg_svg_line(&s, ML, MT, ML, MT + ph, "ax");
    if (c->xlabel)
        lg_svg_text(&s, ML + pw / 2, LH - 8, "middle", "lbl", c->xlabel);
    if (c->ylabel) {
        putf(&s, "<text transform=\"translate(14 %.2f) rotate(-90)\" text-anchor=\"middle\" "
             "class=\"lbl\">", MT + ph / 2);
        esc(&s, c->ylabel, false);
        put(&s, "</text>\n");
    }
    if (c->n == 0) {
        lg_svg_text(&s, ML + pw / 2, MT + ph / 2, "middle", "lbl", "no data");
        return lg_svg_end(&s, err);
    }
    if (c->lo && c->hi) {
        /* band: upper edge left to right, lower edge back */
        put(&s, "<polygon class=\"band\" points=\"");
        for (size_t i = 0; i < c->n; i++)
            putf(&s, "%s%.2f,%.2f", i ? " " : "", PX(c->x[i]),
                 PY(isfinite(c->hi[i]) ? c->hi[i] : c->y[i]));
        for (size_t i = c->n; i-- > 0;)
            putf(&s, " %.2f,%.2f", PX(c->x[i]), PY(isfinite(c->lo[i]) ? c->lo[i] : c->y[i]));
        put(&s, "\"/>\n");
    }
    put(&s, "<polyline class=\"line\" points=\"");
    for (size_t i = 0; i < c->n; i++)
        putf(&s, "%s%.2f,%.2f", i ? " " : "", PX(c->x[i]), PY(isfinite(c->y[i]) ? c->y[i] : 0));
    put(&s, "\"/>\n");
    if (c->n == 1)
        putf(&s, "<circle class=\"dot\" cx=\"%.2f\" cy=\"%.2f\" r=\"3\"/>\n", PX(c->x[0]),
             PY(c->y[0]));
#undef PX
#undef PY
    return lg_svg_end(&s, err);
}

/* ---- bar chart --------------------------------------------------------------- */

/* Copies a label, cut to `max` code points with an ellipsis. */
static void short_label(char *dst, size_t len, const char *src, size_t max)
{
    size_t i = 0, cps = 0;
    while (src[i] && cps < max && i + 4 < len) {
        size_t l = 1;
        while (src[i + l] && ((unsigned char)src[i + l] & 0xC0) == 0x80)
            l++;
        i += l;
        cps++;
    }
    memcpy(dst, src, i);
    if (src[i])
        memcpy(dst + i, "\xE2\x80\xA6", 4); /* U+2026 and NUL */
    else
        dst[i] = 0;
}

int lg_svg_chart_bars(lg_buf *out, const lg_svg_bar_chart *c, lg_err *err)
{
    lg_svg s;
    double vmax = 0.0, step, top;
    char lbl[64], tip[200];

    for (size_t i = 0; i < c->n; i++)
        if (isfinite(c->values[i]) && c->values[i] > vmax)
            vmax = c->values[i];
    step = lg_svg_nice_step(vmax, 4);
    top = vmax > 0 ? ceil(vmax / step) * step : 1.0;

    if (c->horizontal) {
        double lw = 170.0, rw = 70.0, bh = 24.0, h = MT + bh * (double)(c->n ? c->n : 1) + 30.0;
        double pw = LW - lw - rw;
        lg_svg_begin(&s, out, LW, h, c->title);
        lg_svg_text(&s, LW / 2, 18, "middle", "ttl", c->title);
        if (c->n == 0)
            lg_svg_text(&s, LW / 2, MT + 16, "middle", "lbl", "none");
        for (size_t i = 0; i < c->n; i++) {
            double y = MT + bh * (double)i, v = c->values[i];
            short_label(lbl, sizeof lbl, c->labels[i], 26);
            lg_svg_text(&s, lw - 8, y + bh / 2 + 4, "end", "lbl", lbl);
            if (isfinite(v)) {
                snprintf(tip, sizeof tip, "%s: %s%.*f", lbl, c->unit ? c->unit : "", c->decimals, v);
                lg_svg_rect(&s, lw, y + 3, v / top * pw, bh - 6, "bar", tip);
                snprintf(tip, sizeof tip, "%s%.*f", c->unit ? c->unit : "", c->decimals, v);
                lg_svg_text(&s, lw + v / top * pw + 4, y + bh / 2 + 4, "start", "lbl", tip);
            } else {
                lg_svg_text(&s, lw + 4, y + bh / 2 + 4, "start", "lbl", "unknown");
            }
        }
        lg_svg_line(&s, lw, MT, lw, MT + bh * (double)(c->n ? c->n : 1), "ax");
        if (c->xlabel)
            lg_svg_text(&s, lw + pw / 2, h - 8, "middle", "lbl", c->xlabel);
        return lg_svg_end(&s, err);
    }

    double pw = LW - ML - MR, ph = LH - MT - MB;
    double bw = c->n ? pw / (double)c->n : pw;
    size_t every = c->n > 20 ? (c->n + 19) / 20 : 1; /* label at most ~20 bars */
    lg_svg_begin(&s, out, LW, LH, c->title);
    lg_svg_text(&s, LW / 2, 18, "middle", "ttl", c->title);
    for (double v = 0; v <= top + 1e-9; v += step) {
        double y = MT + ph - v / top * ph;
        lg_svg_line(&s, ML, y, ML + pw, y, "grid");
        tick_label(lbl, sizeof lbl, v);
        lg_svg_text(&s, ML - 6, y + 4, "end", "lbl", lbl);
    }
    for (size_t i = 0; i < c->n; i++) {
        double v = c->values[i], x = ML + bw * (double)i;
        short_label(lbl, sizeof lbl, c->labels[i], 12);
        if (isfinite(v) && v > 0) {
            snprintf(tip, sizeof tip, "%s: %s%.*f", lbl, c->unit ? c->unit : "", c->decimals, v);
            lg_svg_rect(&s, x + bw * 0.1, MT + ph - v / top * ph, bw * 0.8, v / top * ph, "bar",
                        tip);
        }
        if (i % every == 0)
            lg_svg_text(&s, x + bw / 2, MT + ph + 16, "middle", "lbl", lbl);
    }
    if (c->n == 0)
        lg_svg_text(&s, ML + pw / 2, MT + ph / 2, "middle", "lbl", "no data");
    lg_svg_line(&s, ML, MT + ph, ML + pw, MT + ph, "ax");
    lg_svg_line(&s, ML, MT, ML, MT + ph, "ax");
    if (c->xlabel)
        lg_svg_text(&s, ML + pw / 2, LH - 8, "middle", "lbl", c->xlabel);
    return lg_svg_end(&s, err);
}
