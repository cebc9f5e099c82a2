/*
 * recorder/upstream.h - the HTTP client that forwards a request to the real
 * model API (libcurl), streaming the response back as it arrives.
 *
 * Connections are reused: an lg_upstream keeps a pool of libcurl easy
 * handles (each with its own connection cache); a call borrows one for its
 * duration and returns it, so concurrent calls from many threads each get a
 * handle and sequential calls reuse warm keep-alive connections.
 *
 * Request headers are forwarded unchanged except hop-by-hop and transport
 * fields (lg_http_is_hop_by_hop) and accept-encoding: libcurl asks for every
 * encoding it can decode (CURLOPT_ACCEPT_ENCODING "") and decodes gzip, br
 * and deflate itself, so the sink always sees the decoded body and the
 * content-encoding and content-length fields are removed from the headers
 * it gets. libcurl's own defaults (Accept, Content-Type, Expect) are
 * suppressed so only the client's fields go out.
 *
 * Credentials: the client's authorization / x-api-key / api-key go out as
 * they came. When the client sent none and `env_credentials` is set, the
 * key is taken from the environment at call time: ANTHROPIC_API_KEY as
 * x-api-key for Anthropic requests (an anthropic-version header, a
 * /v1/messages path or an anthropic host), otherwise OPENAI_API_KEY as
 * "Authorization: Bearer". Keys are never logged, stored or put in errors.
 *
 * Faults (no response, timeouts, a connection closed mid-body) are not
 * errors of the call: they come back in lg_upstream_result.fault so the
 * proxy can record and replay what the client saw.
 *
 * Thread-safety: one lg_upstream may be used by any number of threads at
 * once. Call lg_upstream_global_init() once per process before the first
 * lg_upstream_new() when other threads might be using libcurl already.
 */
#ifndef LG_UPSTREAM_H
#define LG_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "recorder/http.h"

typedef struct lg_upstream lg_upstream;

typedef struct lg_upstream_opts {
    const char *base_url;     /* "https://api.openai.com" or "http://127.0.0.1:8080/prefix";
                                 required; borrowed (copied) */
    long connect_timeout_ms;  /* 0: 10 s */
    long total_timeout_ms;    /* whole call; 0: 10 min */
    long idle_timeout_ms;     /* no byte received for this long; 0: 2 min */
    bool env_credentials;     /* add a key from the environment when the client sent none */
} lg_upstream_opts;

/* What went wrong on the wire, as the client of the proxy would see it. */
enum lg_upstream_fault {
    LG_UPSTREAM_OK = 0,
    LG_UPSTREAM_REFUSED = 1, /* no connection (refused, unreachable, DNS) */
    LG_UPSTREAM_TIMEOUT = 2, /* connect, idle or total timeout */
    LG_UPSTREAM_RESET = 3,   /* connection closed before a response head */
    LG_UPSTREAM_CUT = 4,     /* connection closed in the middle of the body */
    LG_UPSTREAM_ABORTED = 5, /* the sink or the cancel check stopped the call */
    LG_UPSTREAM_ERROR = 6,   /* any other transport failure (TLS, protocol) */
};

/* Receives the response as it arrives. All callbacks run in the calling
 * thread, inside lg_upstream_call(). */
typedef struct lg_upstream_sink {
    /* Once, when the response head is complete (before any body byte), with
     * the final status and the response headers minus hop-by-hop fields,
     * content-encoding and content-length (borrowed for the call).
     * Return 0 to go on, non-zero to abort (fault ABORTED). May be NULL. */
    int (*on_head)(void *ud, int status, const lg_http_headers *headers);
    /* Each piece of decoded body as it arrives (borrowed for the call).
     * Return 0 to go on, non-zero to abort. May be NULL. */
    int (*on_body)(void *ud, const char *data, size_t len);
    /* Polled about every 100 ms; true stops the call (fault ABORTED). May be NULL. */
    bool (*cancelled)(void *ud);
    void *ud;
} lg_upstream_sink;

typedef struct lg_upstream_result {
    int status;          /* final HTTP status; 0 when no head arrived */
    int fault;           /* enum lg_upstream_fault */
    bool head_delivered; /* on_head was called */
    uint64_t body_bytes; /* decoded bytes given to on_body */
    uint64_t ttfb_us;    /* request start to the response head */
    uint64_t total_us;   /* request start to the end of the call */
    long new_connections; /* connections opened for this call (0: a kept-alive one reused) */
    char detail[256];    /* transport error text for logs (never a credential); "" if ok */
} lg_upstream_result;

/* Initialises libcurl for the process (curl_global_init). Idempotent and
 * thread-safe. 0 or LG_EINTERNAL. lg_upstream_new() calls it too. */
int lg_upstream_global_init(lg_err *err) LG_WUR;

/* Creates a client for `opts->base_url`. Returns 0 and an owned `*out`
 * (free with lg_upstream_free), or LG_EUSAGE (no or a non-http(s) base URL),
 * LG_ENOMEM, LG_EINTERNAL. */
int lg_upstream_new(const lg_upstream_opts *opts, lg_upstream **out, lg_err *err) LG_WUR;

/* Closes pooled connections and frees. Accepts NULL. No call may be running. */
void lg_upstream_free(lg_upstream *u);

/*
 * Sends `method target` (target: path and query, appended to the base URL's
 * path) with the client's headers (borrowed; filtered as described above)
 * and body (borrowed; may be NULL when len is 0), and streams the response
 * into `sink` (may be NULL: the response is discarded). Fills `*res`.
 * Returns 0 when the exchange ran, faults included (look at res->fault);
 * LG_EUSAGE for a bad method or target, LG_ENOMEM, LG_EINTERNAL.
 * Thread-safe.
 */
int lg_upstream_call(lg_upstream *u, const char *method, const char *target,
                     const lg_http_headers *headers, const void *body, size_t len,
                     const lg_upstream_sink *sink, lg_upstream_result *res, lg_err *err) LG_WUR;

/* Stable lowercase name of a fault: NULL for OK, "refused", "timeout",
 * "reset", "cut", "aborted", "error" (the names stored in traces). */
const char *lg_upstream_fault_name(int fault);

/* The base URL as given (borrowed). */
const char *lg_upstream_base_url(const lg_upstream *u);

#endif
