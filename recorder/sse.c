/* recorder/sse.c - incremental server-sent-events framer (see sse.h). */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

struct lg_sse {
    size_t max;
    lg_buf raw;   /* bytes of the event in progress */
    lg_buf data;  /* data values so far, joined with '\n' */
    lg_buf event; /* last event field value */
    lg_buf id;    /* last id field value */
    bool has_data, has_id;
    size_t line_start; /* offset in raw where the current line starts */
    bool cr_pending;   /* the last line ended in '\r'; a '\n' may still follow */
    bool emit_pending; /* ... and that line was blank: emit once we know */
    bool first_line;   /* next complete line is the stream's first (BOM) */
    bool failed;
    size_t index;
};

lg_sse *lg_sse_new(size_t max_event)
{
    lg_sse *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->max = max_event ? max_event : LG_SSE_DEFAULT_CAP;
    lg_buf_init_capped(&p->raw, p->max);
    lg_buf_init_capped(&p->data, p->max);
    lg_buf_init_capped(&p->event, p->max);
    lg_buf_init_capped(&p->id, p->max);
    p->first_line = true;
    return p;
}

void lg_sse_free(lg_sse *p)
{
    if (!p)
        return;
    lg_buf_release(&p->raw);
    lg_buf_release(&p->data);
    lg_buf_release(&p->event);
    lg_buf_release(&p->id);
    free(p);
}

size_t lg_sse_pending(const lg_sse *p)
{
    return p->raw.len;
}

static int fail(lg_sse *p, int rc, lg_err *err)
{
    p->failed = true;
    if (rc == LG_ETOOBIG)
        return LG_ERR(err, rc, "server-sent event larger than %zu bytes (the upstream sent no "
                               "blank line to end it); raise the event cap if this is legitimate",
                      p->max);
    return LG_ERR(err, rc, "cannot buffer a server-sent event (%s)", lg_err_name(rc));
}

/* Parses one complete line (terminator excluded). Returns 1 for a blank line. */
static int parse_line(lg_sse *p, const char *line, size_t n)
{
    const char *colon, *value;
    size_t flen, vlen;
    int rc = 0;

    if (p->first_line) {
        p->first_line = false;
        if (n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
            line += 3;
            n -= 3;
        }
    }
    if (n == 0)
        return 1;
    if (line[0] == ':')
        return 0;
    colon = memchr(line, ':', n);
    flen = colon ? (size_t)(colon - line) : n;
    value = colon ? colon + 1 : line + n;
    vlen = (size_t)(line + n - value);
    if (vlen && value[0] == ' ') {
        value++;
        vlen--;
    }
    if (flen == 4 && memcmp(line, "data", 4) == 0) {
        if (p->has_data)
            rc = lg_buf_append_byte(&p->data, '\n');
        if (!rc)
            rc = lg_buf_append(&p->data, value, vlen);
        p->has_data = true;
    } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
        lg_buf_reset(&p->event);
        rc = lg_buf_append(&p->event, value, vlen);
    } else if (flen == 2 && memcmp(line, "id", 2) == 0 && !memchr(value, '\0', vlen)) {
        lg_buf_reset(&p->id);
        rc = lg_buf_append(&p->id, value, vlen);
        p->has_id = true;
    }
    return rc;
}

static int emit(lg_sse *p, bool truncated, lg_sse_event_fn cb, void *ctx)
{
    lg_sse_event ev = {
        .raw = lg_buf_cstr(&p->raw),
        .raw_len = p->raw.len,
        .event = lg_buf_cstr(&p->event),
        .event_len = p->event.len,
        .data = lg_buf_cstr(&p->data),
        .data_len = p->data.len,
        .id = p->has_id ? lg_buf_cstr(&p->id) : NULL,
        .id_len = p->has_id ? p->id.len : 0,
        .dispatch = p->has_data,
        .truncated = truncated,
        .index = p->index++,
    };
    int rc = cb(&ev, ctx);
    lg_buf_reset(&p->raw);
    lg_buf_reset(&p->data);
    lg_buf_reset(&p->event);
    lg_buf_reset(&p->id);
    p->has_data = p->has_id = false;
    p->line_start = 0;
    return rc;
}

int lg_sse_feed(lg_sse *p, const void *bytes, size_t len, lg_sse_event_fn cb, void *ctx,
                lg_err *err)
{
    const char *b = bytes;
    size_t i = 0;
    int rc;

    if (p->failed)
        return LG_ERR(err, LG_EINPUT, "server-sent event stream already failed; start a new "
                                      "framer");
    while (i < len) {
        if (p->cr_pending) {
            p->cr_pending = false;
            if (b[i] == '\n') {
                if ((rc = lg_buf_append_byte(&p->raw, '\n')))
                    return fail(p, rc, err);
                p->line_start = p->raw.len;
                i++;
            }
            if (p->emit_pending) {
                p->emit_pending = false;
                if ((rc = emit(p, false, cb, ctx)))
                    return rc;
            }
            continue;
        }
        size_t j = i;
        while (j < len && b[j] != '\n' && b[j] != '\r')
            j++;
        if ((rc = lg_buf_append(&p->raw, b + i, j - i)))
            return fail(p, rc, err);
        if (j == len)
            break;
        rc = parse_line(p, p->raw.data + p->line_start, p->raw.len - p->line_start);
        if (rc < 0)
            return fail(p, rc, err);
        bool blank = rc == 1;
        if ((rc = lg_buf_append_byte(&p->raw, b[j])))
            return fail(p, rc, err);
        p->line_start = p->raw.len;
        i = j + 1;
        if (b[j] == '\r') {
            p->cr_pending = true;
            p->emit_pending = blank;
        } else if (blank && (rc = emit(p, false, cb, ctx))) {
            return rc;
        }
    }
    return 0;
}

int lg_sse_finish(lg_sse *p, lg_sse_event_fn cb, void *ctx, lg_err *err)
{
    int rc = 0;

    if (p->failed)
        return LG_ERR(err, LG_EINPUT, "server-sent event stream already failed; start a new "
                                      "framer");
    if (p->cr_pending) {
        p->cr_pending = false;
        if (p->emit_pending) {
            p->emit_pending = false;
            rc = emit(p, false, cb, ctx);
        }
    }
    if (rc == 0 && p->raw.len) {
        if (p->line_start < p->raw.len) {
            rc = parse_line(p, p->raw.data + p->line_start, p->raw.len - p->line_start);
            if (rc < 0)
                return fail(p, rc, err);
        }
        rc = emit(p, true, cb, ctx);
    }
    p->first_line = true;
    p->index = 0;
    return rc;
}
