/* tests/test_sse.c - recorder/sse.c: incremental server-sent-events framing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/fs.h"
#include "recorder/sse.h"

/* ---- helpers ---- */

typedef struct ev {
    char *raw, *event, *data, *id;
    size_t raw_len, data_len;
    bool dispatch, truncated, has_id;
    size_t index;
} ev;

typedef struct evlist {
    ev v[256];
    size_t n;
    int stop_at; /* return an error from the callback at this index (-1: never) */
} evlist;

static char *dup_bytes(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    cr_assert(c);
    memcpy(c, s, n);
    c[n] = 0;
    return c;
}

static int collect(const lg_sse_event *e, void *ctx)
{
    evlist *l = ctx;
    cr_assert_lt(l->n, 256);
    if (l->stop_at >= 0 && (size_t)l->stop_at == e->index)
        return LG_EDIVERGED;
    ev *d = &l->v[l->n++];
    d->raw = dup_bytes(e->raw, e->raw_len);
    d->raw_len = e->raw_len;
    d->event = dup_bytes(e->event, e->event_len);
    d->data = dup_bytes(e->data, e->data_len);
    d->data_len = e->data_len;
    d->has_id = e->id != NULL;
    d->id = e->id ? dup_bytes(e->id, e->id_len) : NULL;
    d->dispatch = e->dispatch;
    d->truncated = e->truncated;
    d->index = e->index;
    /* the event's strings are NUL-terminated in place */
    cr_assert_eq(e->raw[e->raw_len], '\0');
    cr_assert_eq(e->data[e->data_len], '\0');
    return 0;
}

static void evlist_free(evlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].raw);
        free(l->v[i].event);
        free(l->v[i].data);
        free(l->v[i].id);
    }
    l->n = 0;
}

static void load(const char *name, lg_buf *b)
{
    char path[1024];
    lg_err err = LG_ERR_INIT;
    const char *src = getenv("LG_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/http/%s", src ? src : ".", name);
    lg_buf_init(b);
    cr_assert_eq(lg_fs_read_file(path, b, &err), 0, "%s", err.msg);
}

/* Feeds `s` cut at the given points (ascending) and finishes. */
static void frame(const char *s, size_t len, const size_t *cuts, size_t ncuts, evlist *out)
{
    lg_err err = LG_ERR_INIT;
    lg_sse *p = lg_sse_new(0);
    size_t prev = 0;
    cr_assert(p);
    out->n = 0;
    out->stop_at = -1;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : len;
        cr_assert_eq(lg_sse_feed(p, s + prev, end - prev, collect, out, &err), 0, "%s", err.msg);
        prev = end;
    }
    cr_assert_eq(lg_sse_finish(p, collect, out, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_sse_pending(p), 0);
    lg_sse_free(p);
}

static void expect_same(const evlist *a, const evlist *b, const char *what)
{
    cr_assert_eq(a->n, b->n, "%s: %zu events, want %zu", what, a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        const ev *x = &a->v[i], *y = &b->v[i];
        cr_assert_eq(x->raw_len, y->raw_len, "%s: event %zu raw length", what, i);
        cr_assert(memcmp(x->raw, y->raw, x->raw_len) == 0, "%s: event %zu raw bytes", what, i);
        cr_assert_eq(x->data_len, y->data_len, "%s: event %zu data length", what, i);
        cr_assert(memcmp(x->data, y->data, x->data_len) == 0, "%s: event %zu data", what, i);
        cr_assert_str_eq(x->event, y->event, "%s: event %zu name", what, i);
        cr_assert_eq(x->has_id, y->has_id);
        if (x->has_id)
            cr_assert_str_eq(x->id, y->id);
        cr_assert_eq(x->dispatch, y->dispatch, "%s: event %zu dispatch", what, i);
        cr_assert_eq(x->truncated, y->truncated, "%s: event %zu truncated", what, i);
        cr_assert_eq(x->index, i);
    }
}

static void expect_concat(const evlist *l, const char *s, size_t len)
{
    size_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        cr_assert_leq(off + l->v[i].raw_len, len);
        cr_assert(memcmp(s + off, l->v[i].raw, l->v[i].raw_len) == 0, "event %zu bytes", i);
        off += l->v[i].raw_len;
    }
    cr_assert_eq(off, len, "events cover %zu of %zu bytes", off, len);
}

/* Every split into two pieces, byte by byte, and (for small inputs) every
 * split into three pieces gives the same events as one feed. */
static void check_all_splits(const char *name)
{
    lg_buf b;
    evlist whole, split;
    load(name, &b);
    frame(b.data, b.len, NULL, 0, &whole);
    expect_concat(&whole, b.data, b.len);
    for (size_t k = 0; k <= b.len; k++) {
        frame(b.data, b.len, &k, 1, &split);
        expect_same(&split, &whole, name);
        expect_concat(&split, b.data, b.len);
        evlist_free(&split);
    }
    size_t *cuts = malloc((b.len + 1) * sizeof *cuts);
    for (size_t k = 0; k < b.len; k++)
        cuts[k] = k + 1;
    frame(b.data, b.len, cuts, b.len ? b.len - 1 : 0, &split);
    expect_same(&split, &whole, "byte by byte");
    evlist_free(&split);
    free(cuts);
    if (b.len <= 400) {
        for (size_t i = 0; i <= b.len; i++) {
            for (size_t j = i; j <= b.len; j++) {
                size_t c[2] = {i, j};
                frame(b.data, b.len, c, 2, &split);
                expect_same(&split, &whole, name);
                evlist_free(&split);
            }
        }
    }
    evlist_free(&whole);
    lg_buf_release(&b);
}

/* ---- byte-exact framing under every split ---- */

Test(sse, splits_openai_chat_stream) { check_all_splits("openai_chat_stream.sse"); }
Test(sse, splits_openai_responses_stream) { check_all_splits("openai_responses_stream.sse"); }
Test(sse, splits_anthropic_stream) { check_all_splits("anthropic_messages_stream.sse"); }
Test(sse, splits_crlf) { check_all_splits("sse_crlf.sse"); }
Test(sse, splits_cr) { check_all_splits("sse_cr.sse"); }
Test(sse, splits_mixed_truncated) { check_all_splits("sse_mixed_truncated.sse"); }

/* ---- parsed fields ---- */

Test(sse, crlf_fields)
{
    lg_buf b;
    evlist l;
    load("sse_crlf.sse", &b);
    frame(b.data, b.len, NULL, 0, &l);
    cr_assert_eq(l.n, 4);
    cr_expect_str_eq(l.v[0].raw, ": connected\r\n\r\n");
    cr_expect_not(l.v[0].dispatch);
    cr_expect_str_eq(l.v[1].event, "update");
    cr_expect_str_eq(l.v[1].id, "1");
    /* one space after the colon is dropped, not two; a bare "data" adds an empty line */
    cr_expect_str_eq(l.v[1].data, "first line\nsecond line\n\n two spaces");
    cr_expect(l.v[1].dispatch);
    cr_expect_str_eq(l.v[2].event, "ping");
    cr_expect_not(l.v[2].dispatch, "an event with no data is not dispatched");
    cr_expect_str_eq(l.v[3].data, "{\"n\":2}");
    cr_expect_str_eq(l.v[3].event, "", "event names do not carry over");
    cr_expect_not(l.v[3].has_id);
    for (size_t i = 0; i < l.n; i++)
        cr_expect_not(l.v[i].truncated);
    evlist_free(&l);
    lg_buf_release(&b);
}

Test(sse, cr_only_line_endings)
{
    lg_buf b;
    evlist l;
    load("sse_cr.sse", &b);
    frame(b.data, b.len, NULL, 0, &l);
    cr_assert_eq(l.n, 3);
    cr_expect_str_eq(l.v[0].raw, "data: alpha\r\r");
    cr_expect_str_eq(l.v[0].data, "alpha");
    cr_expect_not(l.v[1].dispatch);
    cr_expect_str_eq(l.v[2].event, "end");
    cr_expect_str_eq(l.v[2].data, "omega");
    cr_expect_not(l.v[2].truncated, "a final \\r\\r is a complete event at EOF");
    evlist_free(&l);
    lg_buf_release(&b);
}

Test(sse, mixed_endings_bom_and_truncation)
{
    lg_buf b;
    evlist l;
    load("sse_mixed_truncated.sse", &b);
    frame(b.data, b.len, NULL, 0, &l);
    cr_assert_eq(l.n, 5);
    cr_expect_str_eq(l.v[0].data, "bom first", "the BOM is not part of the first field name");
    cr_expect_str_eq(l.v[0].raw, "\xEF\xBB\xBF" "data: bom first\n\n", "but it is kept in raw");
    cr_expect_str_eq(l.v[1].raw, "\n");
    cr_expect_not(l.v[1].dispatch);
    cr_expect_str_eq(l.v[2].raw, "data: lf\r\ndata: crlf\rdata: cr\n\r\n");
    cr_expect_str_eq(l.v[2].data, "lf\ncrlf\ncr");
    cr_expect_str_eq(l.v[3].id, "7");
    cr_expect_str_eq(l.v[3].data, "done");
    cr_expect(l.v[4].truncated);
    cr_expect(l.v[4].dispatch);
    cr_expect_str_eq(l.v[4].data, "cut mid-event\nno blank line");
    cr_expect_str_eq(l.v[4].raw, "data: cut mid-event\ndata: no blank line");
    evlist_free(&l);
    lg_buf_release(&b);
}

Test(sse, openai_stream_events)
{
    lg_buf b;
    evlist l;
    load("openai_chat_stream.sse", &b);
    frame(b.data, b.len, NULL, 0, &l);
    cr_assert_eq(l.n, 6);
    cr_expect_str_eq(l.v[5].data, "[DONE]");
    cr_expect(strncmp(l.v[0].data, "{\"id\":\"chatcmpl-AbC124\"", 23) == 0);
    cr_expect_eq(l.v[0].raw_len, l.v[0].data_len + strlen("data: ") + 2);
    evlist_free(&l);
    lg_buf_release(&b);
}

Test(sse, cr_then_lf_in_next_slice_is_one_line_end)
{
    /* "\r" at the end of a slice, "\n" at the start of the next: CRLF, not two lines */
    const char *s = "data: a\r\n\r\ndata: b\r\n\r\n";
    size_t cuts[] = {8, 10};
    evlist l;
    frame(s, strlen(s), cuts, 2, &l);
    cr_assert_eq(l.n, 2);
    cr_expect_str_eq(l.v[0].raw, "data: a\r\n\r\n");
    cr_expect_str_eq(l.v[1].raw, "data: b\r\n\r\n");
    evlist_free(&l);
}

Test(sse, empty_stream_and_reuse)
{
    lg_err err = LG_ERR_INIT;
    evlist l = {.n = 0, .stop_at = -1};
    lg_sse *p = lg_sse_new(0);
    cr_assert_eq(lg_sse_finish(p, collect, &l, &err), 0);
    cr_expect_eq(l.n, 0);
    cr_assert_eq(lg_sse_feed(p, "data: x", 7, collect, &l, &err), 0);
    cr_expect_eq(l.n, 0);
    cr_expect_eq(lg_sse_pending(p), 7);
    cr_assert_eq(lg_sse_finish(p, collect, &l, &err), 0);
    cr_assert_eq(l.n, 1);
    cr_expect(l.v[0].truncated);
    /* a second stream on the same framer starts at index 0 with BOM handling */
    cr_assert_eq(lg_sse_feed(p, "\xEF\xBB\xBF" "data: y\n\n", 12, collect, &l, &err), 0);
    cr_assert_eq(l.n, 2);
    cr_expect_eq(l.v[1].index, 0);
    cr_expect_str_eq(l.v[1].data, "y");
    evlist_free(&l);
    lg_sse_free(p);
    lg_sse_free(NULL);
}

Test(sse, callback_error_stops_the_feed)
{
    lg_err err = LG_ERR_INIT;
    evlist l = {.n = 0, .stop_at = 1};
    lg_sse *p = lg_sse_new(0);
    const char *s = "data: 0\n\ndata: 1\n\ndata: 2\n\n";
    cr_expect_eq(lg_sse_feed(p, s, strlen(s), collect, &l, &err), LG_EDIVERGED);
    cr_expect_eq(l.n, 1);
    /* still usable: the rest of the input is framed normally */
    l.stop_at = -1;
    cr_expect_eq(lg_sse_feed(p, s + 18, strlen(s) - 18, collect, &l, &err), 0);
    cr_assert_eq(l.n, 2);
    cr_expect_str_eq(l.v[1].data, "2");
    evlist_free(&l);
    lg_sse_free(p);
}

/* ---- the memory cap ---- */

Test(sse, cap_bounds_one_event)
{
    lg_err err = LG_ERR_INIT;
    evlist l = {.n = 0, .stop_at = -1};
    lg_sse *p = lg_sse_new(64);
    char big[100];
    memset(big, 'x', sizeof big);
    memcpy(big, "data: ", 6);
    /* a hostile upstream that never ends its event */
    int rc = 0;
    for (int i = 0; i < 10 && rc == 0; i++)
        rc = lg_sse_feed(p, big, 20, collect, &l, &err);
    cr_expect_eq(rc, LG_ETOOBIG);
    cr_expect(strstr(err.msg, "larger than 64 bytes"), "%s", err.msg);
    cr_expect_leq(lg_sse_pending(p), 64);
    lg_err_clear(&err);
    cr_expect_eq(lg_sse_feed(p, "\n\n", 2, collect, &l, &err), LG_EINPUT);
    cr_expect_eq(lg_sse_finish(p, collect, &l, &err), LG_EINPUT);
    cr_expect_eq(l.n, 0);
    lg_sse_free(p);
}

Test(sse, cap_is_per_event)
{
    lg_err err = LG_ERR_INIT;
    evlist l = {.n = 0, .stop_at = -1};
    lg_sse *p = lg_sse_new(64);
    const char *ev1 = "event: tick\ndata: 0123456789012345678901234567890\n\n"; /* 52 bytes */
    size_t total = 0;
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(lg_sse_feed(p, ev1, strlen(ev1), collect, &l, &err), 0, "%s", err.msg);
        total += l.n;
        evlist_free(&l);
    }
    cr_expect_eq(total, 200);
    /* an event of exactly the cap fits */
    char exact[64];
    memset(exact, 'y', sizeof exact);
    memcpy(exact, "data: ", 6);
    exact[62] = '\n';
    exact[63] = '\n';
    cr_assert_eq(lg_sse_feed(p, exact, 64, collect, &l, &err), 0, "%s", err.msg);
    cr_expect_eq(l.n, 1);
    cr_expect_eq(l.v[0].data_len, 56);
    evlist_free(&l);
    lg_sse_free(p);
}
