/* recorder/udiff.c - Myers line diff and capped unified output (see udiff.h). */
#include "udiff.h"
#include "core/err.h"
#include "core/hash.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct line {
    const char *s;
    size_t len;
    uint64_t h;
};

struct lines {
    struct line *v;
    size_t n;
};

enum op_kind { OP_EQ, OP_DEL, OP_INS };

struct op {
    enum op_kind kind;
    size_t a, b; /* index of the line in old (EQ, DEL) / new (EQ, INS) */
};

static int split_lines(const char *t, size_t len, struct lines *out)
{
    size_t n = 1, i, start = 0, k = 0;

    out->v = NULL;
    out->n = 0;
    if (!t)
        return 0;
    for (i = 0; i < len; i++)
        n += t[i] == '\n';
    out->v = malloc(n * sizeof *out->v);
    if (!out->v)
        return LG_ENOMEM;
    for (i = 0; i <= len; i++) {
        if (i == len || t[i] == '\n') {
            out->v[k].s = t + start;
            out->v[k].len = i - start;
            out->v[k].h = lg_hash_bytes(t + start, i - start).lo;
            k++;
            start = i + 1;
        }
    }
    out->n = k;
    return 0;
}

static bool line_eq(const struct line *x, const struct line *y)
{
    return x->h == y->h && x->len == y->len && memcmp(x->s, y->s, x->len) == 0;
}

struct ops {
    struct op *v;
    size_t n, cap;
};

static int push_op(struct ops *o, enum op_kind kind, size_t a, size_t b)
{
    if (o->n == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 64;
        struct op *p = realloc(o->v, ncap * sizeof *p);
        if (!p)
            return LG_ENOMEM;
        o->v = p;
        o->cap = ncap;
    }
    o->v[o->n++] = (struct op){kind, a, b};
    return 0;
}

/* Myers' greedy algorithm on A[a0..a1) x B[b0..b1), appending ops in
 * reverse order to `rev`. Returns 1 when more than max_d edits would be
 * needed (nothing appended), 0 on success, or a negative code. */
static int myers(const struct line *A, size_t a0, size_t a1, const struct line *B, size_t b0,
                 size_t b1, size_t max_d, struct ops *rev)
{
    const long N = (long)(a1 - a0), M = (long)(b1 - b0);
    long dmax = N + M < (long)max_d ? N + M : (long)max_d;
    long *V, **snap, d, x, y, k, found = -1;
    int rc = 0;

    V = calloc((size_t)(2 * dmax + 3), sizeof *V);
    snap = calloc((size_t)dmax + 1, sizeof *snap);
    if (!V || !snap) {
        rc = LG_ENOMEM;
        goto out;
    }
#define VK(kk) V[(kk) + dmax + 1]
    for (d = 0; d <= dmax && found < 0; d++) {
        for (k = -d; k <= d; k += 2) {
            if (k == -d || (k != d && VK(k - 1) < VK(k + 1)))
                x = VK(k + 1);
            else
                x = VK(k - 1) + 1;
            y = x - k;
            while (x < N && y < M && line_eq(&A[a0 + (size_t)x], &B[b0 + (size_t)y])) {
                x++;
                y++;
            }
            VK(k) = x;
            if (x >= N && y >= M) {
                found = d;
                break;
            }
        }
        snap[d] = malloc((size_t)(2 * d + 1) * sizeof **snap);
        if (!snap[d]) {
            rc = LG_ENOMEM;
            goto out;
        }
        for (k = -d; k <= d; k++)
            snap[d][k + d] = VK(k);
    }
#undef VK
    if (found < 0) {
        rc = 1;
        goto out;
    }
    x = N;
    y = M;
    for (d = found; d > 0; d--) {
        const long *pv = snap[d - 1];
        long pk, px, py;
        k = x - y;
        if (k == -d || (k != d && pv[k - 1 + (d - 1)] < pv[k + 1 + (d - 1)]))
            pk = k + 1;
        else
            pk = k - 1;
        px = pv[pk + (d - 1)];
        py = px - pk;
        while (x > px && y > py) {
            x--;
            y--;
            if ((rc = push_op(rev, OP_EQ, a0 + (size_t)x, b0 + (size_t)y)))
                goto out;
        }
        if (x == px) {
            y--;
            rc = push_op(rev, OP_INS, a0 + (size_t)x, b0 + (size_t)y);
        } else {
            x--;
            rc = push_op(rev, OP_DEL, a0 + (size_t)x, b0 + (size_t)y);
        }
        if (rc)
            goto out;
        x = px;
        y = py;
    }
    while (x > 0 && y > 0) {
        x--;
        y--;
        if ((rc = push_op(rev, OP_EQ, a0 + (size_t)x, b0 + (size_t)y)))
            goto out;
    }
out:
    if (snap)
        for (d = 0; d <= dmax; d++)
            free(snap[d]);
    free(snap);
    free(V);
    return rc;
}

/* The whole edit script, in order, with each run of changes ordered as all
 * deletions then all insertions. */
static int edit_script(const struct lines *A, const struct lines *B, struct ops *out)
{
    size_t pre = 0, suf = 0, i;
    struct ops mid = {0};
    int rc = 0;

    while (pre < A->n && pre < B->n && line_eq(&A->v[pre], &B->v[pre]))
        pre++;
    while (suf < A->n - pre && suf < B->n - pre &&
           line_eq(&A->v[A->n - 1 - suf], &B->v[B->n - 1 - suf]))
        suf++;
    for (i = 0; i < pre; i++)
        if ((rc = push_op(out, OP_EQ, i, i)))
            goto out;
    rc = myers(A->v, pre, A->n - suf, B->v, pre, B->n - suf, LG_UDIFF_MAX_EDITS, &mid);
    if (rc < 0)
        goto out;
    if (rc == 1) { /* too different: replace the middle wholesale */
        mid.n = 0;
        for (i = B->n - suf; i > pre; i--)
            if ((rc = push_op(&mid, OP_INS, A->n - suf, i - 1)))
                goto out;
        for (i = A->n - suf; i > pre; i--)
            if ((rc = push_op(&mid, OP_DEL, i - 1, pre)))
                goto out;
    }
    rc = 0;
    /* mid is reversed; within each change run put DELs before INSs */
    for (i = mid.n; i > 0;) {
        if (mid.v[i - 1].kind == OP_EQ) {
            if ((rc = push_op(out, OP_EQ, mid.v[i - 1].a, mid.v[i - 1].b)))
                goto out;
            i--;
            continue;
        }
        size_t j = i;
        while (j > 0 && mid.v[j - 1].kind != OP_EQ)
            j--;
        for (size_t t = i; t > j; t--)
            if (mid.v[t - 1].kind == OP_DEL && (rc = push_op(out, OP_DEL, mid.v[t - 1].a, 0)))
                goto out;
        for (size_t t = i; t > j; t--)
            if (mid.v[t - 1].kind == OP_INS && (rc = push_op(out, OP_INS, 0, mid.v[t - 1].b)))
                goto out;
        i = j;
    }
    for (i = 0; i < suf; i++)
        if ((rc = push_op(out, OP_EQ, A->n - suf + i, B->n - suf + i)))
            goto out;
out:
    free(mid.v);
    return rc;
}

/* Length of a valid UTF-8 sequence at s[0..n), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

/* Appends s[0..n) with unsafe bytes as \xNN. */
static int append_safe(lg_buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc;

    while (i < n) {
        size_t l = (u[i] < 0x20 && u[i] != '\t') || u[i] == 0x7f ? 0 : utf8_seq(u + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        if ((rc = lg_buf_append(out, s + run, i - run)) ||
            (rc = lg_buf_appendf(out, "\\x%02x", u[i])))
            return rc;
        i++;
        run = i;
    }
    return lg_buf_append(out, s + run, n - run);
}

/* Appends one diff body line: prefix, the (possibly clipped) text, '\n'. */
static int append_line(lg_buf *out, char prefix, const struct line *l, size_t focus,
                       size_t line_max)
{
    size_t start = 0, end = l->len;
    int rc;

    if ((rc = lg_buf_append_byte(out, prefix)))
        return rc;
    if (line_max && l->len > line_max) {
        size_t w = line_max - 40;
        const unsigned char *u = (const unsigned char *)l->s;
        start = focus > 40 ? focus - 40 : 0;
        if (start + w > l->len)
            start = l->len - w;
        end = start + w;
        while (start > 0 && (u[start] & 0xC0) == 0x80)
            start--;
        while (end > start && end < l->len && (u[end] & 0xC0) == 0x80)
            end--;
    }
    if (start > 0 && (rc = lg_buf_append_str(out, "...")))
        return rc;
    if ((rc = append_safe(out, l->s + start, end - start)))
        return rc;
    if (end < l->len && (rc = lg_buf_append_str(out, "...")))
        return rc;
    return lg_buf_append_byte(out, '\n');
}

static size_t common_prefix(const struct line *x, const struct line *y)
{
    size_t n = x->len < y->len ? x->len : y->len, i = 0;
    while (i < n && x->s[i] == y->s[i])
        i++;
    return i;
}

struct hunk {
    size_t from, to; /* ops [from, to) */
};

static int append_range(lg_buf *out, char sign, size_t start, size_t count)
{
    /* GNU: an empty range names the line before it */
    size_t shown = count ? start + 1 : start;
    if (count == 1)
        return lg_buf_appendf(out, "%c%zu", sign, shown);
    return lg_buf_appendf(out, "%c%zu,%zu", sign, shown, count);
}

struct emitter {
    lg_buf *out;
    const lg_udiff_opts *o;
    size_t body_start; /* out->len after the two header lines */
    size_t shown, total;
    bool full; /* a cap was reached: nothing more is written */
};

/* Called after a line was appended at `mark`: keeps it if it fits the caps,
 * else removes it and marks the emitter full. */
static void emit_check(struct emitter *e, size_t mark)
{
    const lg_udiff_opts *o = e->o;
    if ((o->max_lines && e->shown + 1 > o->max_lines) ||
        (o->max_bytes && e->out->len - e->body_start > o->max_bytes)) {
        lg_buf_truncate(e->out, mark);
        e->full = true;
        return;
    }
    e->shown++;
}

/* Writes the line of op `k` unless the emitter is full. */
static int emit_op(struct emitter *e, const struct ops *ops, size_t k, const struct lines *A,
                   const struct lines *B, const size_t *focus)
{
    const struct op *p = &ops->v[k];
    size_t mark = e->out->len;
    int rc;

    if (e->full)
        return 0;
    if (p->kind == OP_EQ)
        rc = append_line(e->out, ' ', &A->v[p->a], 0, e->o->line_max);
    else if (p->kind == OP_DEL)
        rc = append_line(e->out, '-', &A->v[p->a], focus[k], e->o->line_max);
    else
        rc = append_line(e->out, '+', &B->v[p->b], focus[k], e->o->line_max);
    if (rc == 0)
        emit_check(e, mark);
    return rc;
}

int lg_udiff(const char *old_text, size_t old_len, const char *new_text, size_t new_len,
             const lg_udiff_opts *opts, lg_buf *out)
{
    lg_udiff_opts o = *opts;
    struct lines A, B = {0};
    struct ops ops = {0};
    struct hunk *hunks = NULL;
    size_t nh = 0, i, before = out->len;
    size_t *focus = NULL;
    struct emitter e;
    int rc;

    if (o.line_max && o.line_max < 40 + 16)
        o.line_max = 40 + 16;
    if ((rc = split_lines(old_text, old_len, &A)))
        return rc;
    if ((rc = split_lines(new_text, new_len, &B)))
        goto out;
    if ((rc = lg_buf_appendf(out, "--- %s\n+++ %s\n", o.old_label ? o.old_label : "a",
                             o.new_label ? o.new_label : "b")))
        goto out;
    if ((rc = edit_script(&A, &B, &ops)))
        goto out;

    /* hunks: changes closer than 2*context lines share one */
    hunks = malloc((ops.n + 1) * sizeof *hunks);
    focus = calloc(ops.n + 1, sizeof *focus);
    if (!hunks || !focus) {
        rc = LG_ENOMEM;
        goto out;
    }
    for (i = 0; i < ops.n;) {
        size_t c = i, last, from, to;
        while (c < ops.n && ops.v[c].kind == OP_EQ)
            c++;
        if (c == ops.n)
            break;
        /* the previous hunk ended more than `context` lines before c */
        from = c > o.context ? c - o.context : 0;
        last = c;
        for (;;) {
            size_t j = last;
            while (j < ops.n && ops.v[j].kind != OP_EQ)
                j++;
            last = j; /* one past the change run */
            size_t k = j;
            while (k < ops.n && ops.v[k].kind == OP_EQ)
                k++;
            if (k < ops.n && k - j <= 2 * (size_t)o.context) {
                last = k;
                continue;
            }
            break;
        }
        to = last + o.context < ops.n ? last + o.context : ops.n;
        hunks[nh].from = from;
        hunks[nh].to = to;
        nh++;
        i = to;
    }
    /* focus for clipping: the k-th removed line of a run pairs with the k-th added one */
    for (i = 0; i < ops.n;) {
        size_t d0 = i, d1, a1;
        if (ops.v[i].kind == OP_EQ) {
            i++;
            continue;
        }
        while (i < ops.n && ops.v[i].kind == OP_DEL)
            i++;
        d1 = i;
        while (i < ops.n && ops.v[i].kind == OP_INS)
            i++;
        a1 = i;
        for (size_t k = 0; d0 + k < d1 && d1 + k < a1; k++) {
            size_t f = common_prefix(&A.v[ops.v[d0 + k].a], &B.v[ops.v[d1 + k].b]);
            focus[d0 + k] = focus[d1 + k] = f;
        }
    }

    e = (struct emitter){out, &o, out->len, 0, 0, false};
    for (size_t h = 0; h < nh; h++)
        e.total += 1 + hunks[h].to - hunks[h].from;
    for (size_t h = 0; h < nh && !e.full; h++) {
        size_t a_start = SIZE_MAX, b_start = SIZE_MAX, a_cnt = 0, b_cnt = 0, mark;
        const struct hunk *hk = &hunks[h];
        /* old/new line where the hunk starts: from its first op that has one */
        for (i = hk->from; i < hk->to; i++) {
            const struct op *p = &ops.v[i];
            if (p->kind != OP_INS) {
                if (a_start == SIZE_MAX)
                    a_start = p->a;
                a_cnt++;
            }
            if (p->kind != OP_DEL) {
                if (b_start == SIZE_MAX)
                    b_start = p->b;
                b_cnt++;
            }
        }
        if (a_start == SIZE_MAX) { /* pure insertion: lines of old before it */
            a_start = 0;
            for (i = 0; i < hk->from; i++)
                a_start += ops.v[i].kind != OP_INS;
        }
        if (b_start == SIZE_MAX) {
            b_start = 0;
            for (i = 0; i < hk->from; i++)
                b_start += ops.v[i].kind != OP_DEL;
        }
        mark = out->len;
        if ((rc = lg_buf_append_str(out, "@@ ")) || (rc = append_range(out, '-', a_start, a_cnt)) ||
            (rc = lg_buf_append_byte(out, ' ')) || (rc = append_range(out, '+', b_start, b_cnt)) ||
            (rc = lg_buf_append_str(out, " @@\n")))
            goto out;
        emit_check(&e, mark);
        for (i = hk->from; i < hk->to && !e.full;) {
            size_t r1 = i + 1, d1;
            if (ops.v[i].kind == OP_EQ) {
                if ((rc = emit_op(&e, &ops, i, &A, &B, focus)))
                    goto out;
                i++;
                continue;
            }
            /* a change run: removals [i, d1), additions [d1, r1) */
            while (r1 < hk->to && ops.v[r1].kind != OP_EQ)
                r1++;
            for (d1 = i; d1 < r1 && ops.v[d1].kind == OP_DEL;)
                d1++;
            if (o.max_lines && e.shown + (r1 - i) > o.max_lines) {
                /* it will be cut: pair removed and added lines so both
                 * sides of the first differences are shown */
                for (size_t k = 0; i + k < d1 || d1 + k < r1; k++) {
                    if (i + k < d1 && (rc = emit_op(&e, &ops, i + k, &A, &B, focus)))
                        goto out;
                    if (d1 + k < r1 && (rc = emit_op(&e, &ops, d1 + k, &A, &B, focus)))
                        goto out;
                }
            } else {
                for (size_t k = i; k < r1; k++)
                    if ((rc = emit_op(&e, &ops, k, &A, &B, focus)))
                        goto out;
            }
            i = r1;
        }
    }
    if (e.shown < e.total)
        rc = lg_buf_appendf(out, "... %zu more lines\n", e.total - e.shown);
out:
    if (rc)
        lg_buf_truncate(out, before);
    free(focus);
    free(hunks);
    free(ops.v);
    free(A.v);
    free(B.v);
    return rc;
}
