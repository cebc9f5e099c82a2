/*
 * recorder/sse.h - incremental server-sent-events framer.
 *
 * Feed the bytes of a text/event-stream body in whatever slices they arrive
 * from upstream; the framer calls back once per complete event with the
 * exact bytes of that event, from its first byte through the blank line that
 * ends it. Concatenating the `raw` of every event emitted (including the
 * final one lg_sse_finish() may emit) gives back the input byte for byte,
 * however the input was split, so replay can write byte-identical framing.
 *
 * Parsing follows the WHATWG EventSource rules: lines end in "\r\n", "\n"
 * or "\r" (a "\r" at the end of a slice waits for the next byte to know
 * which); a leading UTF-8 BOM is ignored; lines starting with ':' are
 * comments; "field: value" loses one space after the colon; a line without
 * a colon is a field with an empty value; `data` lines are joined with
 * "\n"; `event` and `id` keep their last value; unknown fields and `retry`
 * are kept in `raw` only. Every block ending in a blank line is emitted,
 * including blocks with no data (comments such as ": keep-alive", stray
 * blank lines); `dispatch` says whether a browser would fire an event for
 * it (some `data` field was present).
 *
 * Memory is bounded: an event (raw bytes) longer than the framer's cap is
 * LG_ETOOBIG, after which the framer refuses more input; the cap is per
 * event, so a long stream of small events never hits it.
 *
 * Not thread-safe: one framer per stream.
 */
#ifndef LG_SSE_H
#define LG_SSE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* Default cap on one event's raw bytes: 8 MiB. */
#define LG_SSE_DEFAULT_CAP ((size_t)8 << 20)

typedef struct lg_sse lg_sse;

/* One event, valid only during the callback (all pointers borrow the
 * framer's buffers; every string is also NUL-terminated). */
typedef struct lg_sse_event {
    const char *raw; /* exact bytes, terminating blank line included */
    size_t raw_len;
    const char *event; /* value of the last `event` field, "" if none */
    size_t event_len;
    const char *data; /* `data` values joined with "\n", "" if none */
    size_t data_len;
    const char *id; /* value of the last `id` field, NULL if none */
    size_t id_len;
    bool dispatch;  /* at least one `data` field */
    bool truncated; /* emitted by lg_sse_finish(): the stream ended before the
                       blank line that ends an event (cut mid-event) */
    size_t index;   /* 0-based position of this block in the stream */
} lg_sse_event;

/* Receives one event. Return 0 to go on, or a negative LG_E* code to stop:
 * lg_sse_feed() then returns that code (the framer stays usable). */
typedef int (*lg_sse_event_fn)(const lg_sse_event *ev, void *ctx);

/* A framer whose events may be at most `max_event` bytes (0: the default
 * LG_SSE_DEFAULT_CAP). Returns owned (free with lg_sse_free) or NULL on OOM. */
lg_sse *lg_sse_new(size_t max_event);
/* Accepts NULL. */
void lg_sse_free(lg_sse *p);

/* Feeds `len` bytes (borrowed; may be 0) and calls `cb` for every event
 * they complete, in order. Returns 0, the callback's code, LG_ETOOBIG
 * ("server-sent event larger than N bytes ...") or LG_ENOMEM; after
 * LG_ETOOBIG / LG_ENOMEM every later call fails with LG_EINPUT. */
int lg_sse_feed(lg_sse *p, const void *bytes, size_t len, lg_sse_event_fn cb, void *ctx,
                lg_err *err) LG_WUR;

/* End of stream. Emits the pending event, if any: one waiting for a "\n"
 * after its final "\r" as a normal event, an unterminated one with
 * `truncated` set (its last, unterminated line is parsed too). Returns as
 * lg_sse_feed. The framer may then be reused for a new stream. */
int lg_sse_finish(lg_sse *p, lg_sse_event_fn cb, void *ctx, lg_err *err) LG_WUR;

/* Bytes held for the event in progress (for tests and memory accounting). */
size_t lg_sse_pending(const lg_sse *p);

#endif
