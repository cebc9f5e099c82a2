/*
 * recorder/client.h - a small HTTP client for talking to a loopgate session:
 * JSON requests to the proxy's /event and /tool endpoints and model API
 * calls (plain or server-sent events) through the session URL.
 *
 * It is a thin layer over recorder/upstream.h (libcurl, a pool of kept-alive
 * connections), so `loopgate exec` and the built-in loop engine share one
 * HTTP mechanism with the proxy. Unlike the proxy's upstream it never adds
 * credentials from the environment (the proxy does that on its way out),
 * and it collects the response: status, headers and a capped body, with
 * each server-sent event handed to a callback as it arrives when the
 * response is a stream.
 *
 * Transport faults (refused connection, timeout, a stream cut mid-way) are
 * not errors of a call: they come back in lg_client_resp.fault, as in
 * recorder/upstream.h, so a caller can classify and retry them.
 *
 * Thread-safety: one lg_client may be used by several threads at once
 * (each call borrows its own connection); an lg_client_resp belongs to one
 * thread.
 */
#ifndef LG_CLIENT_H
#define LG_CLIENT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "recorder/http.h"
#include "recorder/sse.h"

typedef struct lg_client lg_client;

typedef struct lg_client_opts {
    const char *base_url;    /* "http://127.0.0.1:PORT/s/TOKEN"; required; copied */
    long connect_timeout_ms; /* 0: 10 s */
    long timeout_ms;         /* whole call; 0: 10 min */
    long idle_timeout_ms;    /* no byte for this long; 0: 2 min */
    size_t max_body;         /* response body cap; 0: 64 MiB */
    /* Optional: a call stops (fault LG_UPSTREAM_ABORTED) soon after this
     * becomes non-zero. Borrowed; read without locking. */
    volatile sig_atomic_t *cancel;
} lg_client_opts;

/* Creates a client. Returns 0 and an owned `*out` (free with
 * lg_client_free), or LG_EUSAGE (no or a non-http base URL), LG_ENOMEM,
 * LG_EINTERNAL (libcurl could not initialise). */
int lg_client_new(const lg_client_opts *opts, lg_client **out, lg_err *err) LG_WUR;

/* Closes kept-alive connections and frees. Accepts NULL. No call may run. */
void lg_client_free(lg_client *c);

/* The base URL (borrowed). */
const char *lg_client_base_url(const lg_client *c);

/* What came back. Initialise with lg_client_resp_init() before the first
 * call; a call resets it; release with lg_client_resp_release(). */
typedef struct lg_client_resp {
    int status;               /* final HTTP status; 0 when no response head arrived */
    int fault;                /* enum lg_upstream_fault (LG_UPSTREAM_OK = 0) */
    lg_http_headers headers;  /* response headers (owned) */
    lg_buf body;              /* whole body, decoded; for a stream, every event's bytes */
    bool sse;                 /* the response was text/event-stream */
    bool truncated;           /* the body passed the cap; the rest was dropped */
    char detail[256];         /* transport error text, "" when fine */
    uint64_t total_us;        /* request start to the end of the call */
} lg_client_resp;

void lg_client_resp_init(lg_client_resp *r);
void lg_client_resp_release(lg_client_resp *r); /* accepts NULL; re-inits */

/* Called once per server-sent event, in order, as it arrives (the event is
 * borrowed for the call). Return 0 to go on, non-zero to stop the call
 * (fault LG_UPSTREAM_ABORTED). */
typedef int (*lg_client_event_fn)(const lg_sse_event *ev, void *ud);

/*
 * Sends `method path` (path appended to the base URL's path) with `headers`
 * (borrowed, may be NULL; give the content-type yourself) and `body`
 * (borrowed; may be NULL when len is 0). Collects the response into `resp`;
 * when it is a stream and `on_event` is given, every complete event is
 * passed to it as it arrives (an event left unterminated by a cut is passed
 * too, with `truncated` set). Returns 0 when the exchange ran, faults
 * included; LG_EUSAGE (bad method or path), LG_ENOMEM, LG_EINTERNAL.
 * Thread-safe.
 */
int lg_client_request(lg_client *c, const char *method, const char *path,
                      const lg_http_headers *headers, const void *body, size_t len,
                      lg_client_event_fn on_event, void *ud, lg_client_resp *resp,
                      lg_err *err) LG_WUR;

/*
 * POSTs `body` as compact JSON (content-type application/json) to `path`
 * and, when `json_out` is not NULL, parses a JSON response body into
 * `*json_out` (owned, json_decref; NULL when there is no JSON body).
 * Returns as lg_client_request(). Thread-safe.
 */
int lg_client_post_json(lg_client *c, const char *path, const json_t *body,
                        lg_client_resp *resp, json_t **json_out, lg_err *err) LG_WUR;

/*
 * The wait a response asks for before a retry, in milliseconds: the
 * `retry-after-ms` header (OpenAI) if present, else `retry-after` in
 * seconds (fractions allowed) or as an HTTP date; -1 when neither is
 * present or readable. Pure.
 */
int64_t lg_client_retry_after_ms(const lg_http_headers *h);

#endif
