/*
 * recorder/httpd.h - the one embedded HTTP/1.1 server (libmicrohttpd), used
 * by the record/replay proxy and by the simulated model server.
 *
 * Binds 127.0.0.1 only, on a given port or a random one (port 0; read the
 * bound port with lg_httpd_port()). Keep-alive is on.
 *
 * Threading model, chosen for hundreds of concurrent keep-alive
 * connections on a 2-core machine:
 *   - libmicrohttpd runs its own event loop in a small pool of internal
 *     threads (MHD_USE_POLL_INTERNAL_THREAD + MHD_OPTION_THREAD_POOL_SIZE,
 *     default 2, one per core). Idle keep-alive connections cost a file
 *     descriptor and a few KiB, not a thread, and a fast answer (a replay
 *     from the store) is produced right in the event thread with no
 *     hand-off. Thread-per-connection would cost a thread per idle client
 *     and, in libmicrohttpd, cannot suspend a connection, which live
 *     streaming needs.
 *     poll(2) rather than epoll: with libmicrohttpd 0.9.75 (Debian 12) the
 *     epoll mode with a thread pool intermittently stopped reading the next
 *     request of kept-alive connections answered in the event thread (about
 *     1 run in 7 of tests/test_proxy.c's 128-session load test hung with the
 *     request bytes unread in the socket; 0 in 36 runs with poll). poll is
 *     level-triggered; at a few hundred connections per thread its O(n)
 *     scan costs microseconds, and measured throughput was the same.
 *   - A handler that must block (an upstream call, a paced replay, a
 *     simulated latency) asks to be *offloaded*: the connection is
 *     suspended (MHD_ALLOW_SUSPEND_RESUME) and the handler runs again in a
 *     worker thread, where it may block freely. Workers are started on
 *     demand up to `max_workers` and then reused.
 *   - Streaming responses (server-sent events) are fed chunk by chunk from
 *     any thread with lg_httpd_stream_write(). The response is produced by
 *     a libmicrohttpd content-reader callback that hands out exactly one
 *     written chunk per call, so each chunk goes out as its own HTTP chunk
 *     and its own socket write, as soon as it is written: nothing is
 *     collected into one write. When no chunk is waiting the connection is
 *     suspended and the next write resumes it (no busy waiting).
 *
 * Request bodies are read into a capped lg_buf: past `max_body` bytes the
 * client gets 413 with a JSON error body and the handler is not called.
 *
 * Every lg_httpd is independent (no globals): several servers can live in
 * one process.
 */
#ifndef LG_HTTPD_H
#define LG_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "recorder/http.h"

typedef struct lg_httpd lg_httpd;
typedef struct lg_httpd_req lg_httpd_req;
typedef struct lg_httpd_stream lg_httpd_stream;

/* What a handler returns. */
enum lg_httpd_action {
    LG_HTTPD_DONE = 0,    /* answered (or not: then the client gets a 500) */
    LG_HTTPD_OFFLOAD = 1, /* call me again in a worker thread; only valid when
                             lg_httpd_req_in_worker() is false */
};

/*
 * Called once per complete request (body fully read). It answers with
 * exactly one of lg_httpd_respond*() or lg_httpd_stream_begin(), or returns
 * LG_HTTPD_OFFLOAD without answering to be called again in a worker. The
 * request is valid until the handler returns; a stream it began lives on
 * until lg_httpd_stream_end(). The first call runs in an event thread and
 * must not block; the offloaded call runs in a worker and may.
 */
typedef int (*lg_httpd_handler)(lg_httpd_req *req, void *ud);

typedef struct lg_httpd_opts {
    unsigned port;            /* 0: a random free port */
    size_t max_body;          /* request body cap; 0: 64 MiB */
    unsigned threads;         /* event threads; 0: 2 */
    unsigned max_workers;     /* offload threads at most; 0: 512 */
    unsigned max_connections; /* concurrent connections; 0: 4096 */
    unsigned idle_timeout_s;  /* close idle keep-alive connections after; 0: 300 */
    size_t conn_memory;       /* memory per connection (request line and headers,
                                 read and write buffers); 0: 32 KiB (libmicrohttpd's
                                 default), at least 4 KiB. The request head must fit
                                 in about half of it (431 otherwise); a body of any
                                 size is read through it in pieces of about half */
    lg_httpd_handler handler; /* required */
    void *ud;                 /* passed to the handler, borrowed */
} lg_httpd_opts;

/*
 * Starts a server; on success `*out` is running and owned (stop with
 * lg_httpd_stop). Errors: LG_EUSAGE (no handler), LG_EIO (the port is in
 * use or the daemon cannot start; the message names the port).
 */
int lg_httpd_start(const lg_httpd_opts *opts, lg_httpd **out, lg_err *err) LG_WUR;

/* The bound TCP port. Thread-safe. */
unsigned lg_httpd_port(const lg_httpd *h);

/* True once lg_httpd_stop() has begun: long handlers should give up. */
bool lg_httpd_stopping(const lg_httpd *h);

/*
 * Clean shutdown: stops accepting, answers queued-but-unstarted offloaded
 * requests with 503, waits for running handlers to return, cuts streams
 * that are still open (their writers get LG_EIO), then closes every
 * connection and frees everything. Streams begun but not ended stay valid
 * handles until lg_httpd_stream_end() is called on them. Accepts NULL.
 * Must not be called from a handler.
 */
void lg_httpd_stop(lg_httpd *h);

/* ---- the request (borrowed; valid until the handler returns) ---- */

/* "GET", "POST", ... */
const char *lg_httpd_req_method(const lg_httpd_req *r);
/* The request target as the client sent it: path and query, not decoded
 * ("/s/abc/v1/messages?beta=true"). */
const char *lg_httpd_req_target(const lg_httpd_req *r);
/* The path only (target up to '?'), not decoded. */
const char *lg_httpd_req_path(const lg_httpd_req *r);
/* The request headers, in order (iterate `->v[0 .. ->n)`). */
const lg_http_headers *lg_httpd_req_headers(const lg_httpd_req *r);
/* First header `name` (case-insensitive) or NULL. */
const char *lg_httpd_req_header(const lg_httpd_req *r, const char *name);
/* The body (NUL-terminated for convenience; may contain NULs) and its length. */
const char *lg_httpd_req_body(const lg_httpd_req *r, size_t *len);
/* True in the offloaded (worker) call. */
bool lg_httpd_req_in_worker(const lg_httpd_req *r);
/* The server the request came to. */
lg_httpd *lg_httpd_req_server(const lg_httpd_req *r);
/* A slot for the handler's own state between its event-thread call and its
 * worker call. `free_fn` (may be NULL) is called on `ctx` when the request
 * is finished. Setting again frees the previous one. */
void lg_httpd_req_set_ctx(lg_httpd_req *r, void *ctx, void (*free_fn)(void *));
void *lg_httpd_req_ctx(const lg_httpd_req *r);

/* ---- answering ---- */

/*
 * A complete response: status, headers (borrowed, copied; hop-by-hop
 * fields, content-length and date are dropped because the server sets
 * them) and a body (copied). 0, LG_EUSAGE (already answered) or LG_ENOMEM.
 */
int lg_httpd_respond(lg_httpd_req *r, int status, const lg_http_headers *headers,
                     const void *body, size_t len, lg_err *err) LG_WUR;

/* lg_httpd_respond() with the headers as `npairs` (name, value) pairs of
 * NUL-terminated strings, pairs[2i] and pairs[2i + 1] (borrowed, copied;
 * the same fields are dropped), so a caller that has them in its own
 * memory builds no lg_http_headers. Same returns as lg_httpd_respond. */
int lg_httpd_respond_pairs(lg_httpd_req *r, int status, const char *const *pairs, size_t npairs,
                           const void *body, size_t len, lg_err *err) LG_WUR;

/* A JSON error response `{"error":{"type":TYPE,"message":MESSAGE}}` with
 * content-type application/json, plus `headers` (borrowed; may be NULL),
 * e.g. a retry-after. Same returns as lg_httpd_respond. */
int lg_httpd_respond_error(lg_httpd_req *r, int status, const lg_http_headers *headers,
                           const char *type, const char *message, lg_err *err) LG_WUR;

/*
 * Begins a streaming response. `content_length` < 0 means unknown (chunked
 * transfer encoding, each written chunk its own HTTP chunk); >= 0 sends a
 * content-length and the written bytes must add up to it (a stream ended
 * short is cut, which is how a truncated body is simulated). On success
 * `*out` is owned by the caller until lg_httpd_stream_end(), and may be
 * written from any thread, also after the handler returned.
 * 0, LG_EUSAGE (already answered) or LG_ENOMEM.
 */
int lg_httpd_stream_begin(lg_httpd_req *r, int status, const lg_http_headers *headers,
                          int64_t content_length, lg_httpd_stream **out, lg_err *err) LG_WUR;

/*
 * Queues a copy of `len` bytes as one chunk; it goes out as soon as the
 * connection can take it. 0; LG_EIO when the client is gone or the server
 * is stopping (stop producing); LG_ETOOBIG when more than 64 MiB is queued
 * unsent. Thread-safe with respect to the server (one writer per stream).
 */
int lg_httpd_stream_write(lg_httpd_stream *s, const void *data, size_t len) LG_WUR;

/*
 * Ends the stream and releases the caller's handle. `complete` true: a
 * normal end (the final zero chunk is sent). false: the connection is cut
 * after the queued chunks (the client sees a truncated body). Accepts NULL.
 */
void lg_httpd_stream_end(lg_httpd_stream *s, bool complete);

#endif
