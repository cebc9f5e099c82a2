/*
 * recorder/httpd.c - libmicrohttpd wrapper; see httpd.h for the model.
 *
 * Lifetimes. A request (lg_httpd_req) is created by the URI-log callback,
 * before the headers are parsed, and is reference counted: libmicrohttpd
 * holds one reference until its request-completed callback, an offloaded
 * handler holds another while it runs. A stream (lg_httpd_stream) is
 * reference counted too: its writer holds one until lg_httpd_stream_end(),
 * the libmicrohttpd response holds one until the response is destroyed.
 *
 * Locks: h->mu (job queue, worker count, stream list) is taken before a
 * stream's s->mu, never after.
 */
#include "httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"

#define DEFAULT_MAX_BODY ((size_t)64 << 20)
/* libmicrohttpd's default. It zeroes a connection's whole pool for every
 * request, but a smaller pool also means a smaller read buffer: with 16 KiB
 * an 8 KiB request body took two recv() calls instead of one, which costs
 * more than the memset saved. */
#define DEFAULT_CONN_MEMORY ((size_t)32 << 10)
#define STREAM_QUEUE_CAP ((size_t)64 << 20)
#define STREAM_BLOCK 16384

typedef struct chunk {
    struct chunk *next;
    size_t len;
    char data[];
} chunk;

struct lg_httpd_stream {
    lg_httpd *h;
    struct MHD_Connection *conn;
    pthread_mutex_t mu;
    chunk *head, *tail;
    size_t off;        /* bytes of head already handed out */
    size_t queued;     /* bytes queued and not handed out */
    bool suspended;    /* the reader suspended the connection waiting for data */
    bool ended;        /* lg_httpd_stream_end called */
    bool complete;     /* ... with complete == true */
    bool aborted;      /* server stopping: cut */
    bool gone;         /* the response was destroyed (client gone or done) */
    int refs;
    struct lg_httpd_stream *prev, *next; /* h->streams, under h->mu */
};

struct lg_httpd_req {
    lg_httpd *h;
    struct MHD_Connection *conn;
    atomic_int refs;
    char *target, *path; /* in strs[] */
    const char *method;  /* static for the usual methods, else owned (method_owned) */
    bool method_owned;
    /* names and values point into the same allocation as the array
     * (collect_headers): freed with headers.v, never one by one */
    lg_http_headers headers;
    lg_buf body;
    bool started;    /* first access-handler call seen */
    bool too_big;    /* body exceeded the cap */
    bool in_worker;  /* the offloaded call is running */
    bool offloaded;  /* suspended for a worker */
    bool answered;   /* respond or stream_begin was called */
    bool queued;     /* the response went to libmicrohttpd */
    struct MHD_Response *resp; /* ready to queue */
    int status;
    void *ctx;
    void (*ctx_free)(void *);
    struct lg_httpd_req *next; /* job queue */
    char strs[];               /* target, NUL, path, NUL */
};

struct lg_httpd {
    struct MHD_Daemon *d;
    lg_httpd_opts o;
    unsigned port;
    int listen_fd;
    atomic_bool stopping;
    pthread_mutex_t mu;
    pthread_cond_t job_cv;
    lg_httpd_req *jq_head, *jq_tail;
    pthread_t *workers;
    unsigned nworkers, idle_workers;
    lg_httpd_stream *streams;
};

/* ---------------------------------------------------------------- requests */

static void req_unref(lg_httpd_req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->resp)
        MHD_destroy_response(r->resp);
    if (r->ctx_free)
        r->ctx_free(r->ctx);
    free(r->headers.v); /* the strings are in the same block */
    lg_buf_release(&r->body);
    if (r->method_owned)
        free((char *)r->method);
    free(r);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    lg_httpd *h = cls;
    if (!uri)
        uri = "/";
    /* one allocation for the request, its target and its path */
    size_t tl = strlen(uri), pl = strcspn(uri, "?#");
    lg_httpd_req *r = malloc(sizeof *r + tl + pl + 2);
    if (!r)
        return NULL;
    memset(r, 0, sizeof *r);
    r->h = h;
    r->conn = conn;
    atomic_init(&r->refs, 1);
    lg_http_headers_init(&r->headers);
    lg_buf_init_capped(&r->body, h->o.max_body);
    r->target = r->strs;
    memcpy(r->target, uri, tl + 1);
    r->path = r->strs + tl + 1;
    memcpy(r->path, uri, pl);
    r->path[pl] = 0;
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    if (*req_cls)
        req_unref(*req_cls);
    *req_cls = NULL;
}

/* The request headers are copied in two passes over libmicrohttpd's list:
 * the first sizes them, the second copies them into one block that holds
 * the array and every string (one allocation instead of two a header). */
typedef struct hcollect {
    lg_http_headers *h;
    size_t n, bytes; /* pass 1: counts */
    char *next;      /* pass 2: where the next string goes */
} hcollect;

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void trim_value(const char **v, size_t *n)
{
    /* as lg_http_headers_add_n() does */
    while (*n && is_blank(**v)) {
        (*v)++;
        (*n)--;
    }
    while (*n && is_blank((*v)[*n - 1]))
        (*n)--;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                    size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)key;
    (void)value;
    hcollect *hc = cls;
    hc->n++;
    hc->bytes += key_size + value_size + 2;
    return MHD_YES;
}

static enum MHD_Result copy_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    hcollect *hc = cls;
    lg_http_headers *h = hc->h;
    if (h->n == h->cap)
        return MHD_NO; /* the list changed between the passes: not expected */
    if (!value)
        value_size = 0;
    trim_value(&value, &value_size);
    lg_http_header *e = &h->v[h->n++];
    e->name = hc->next;
    memcpy(e->name, key, key_size);
    e->name[key_size] = 0;
    hc->next += key_size + 1;
    e->value = hc->next;
    if (value_size)
        memcpy(e->value, value, value_size);
    e->value[value_size] = 0;
    hc->next += value_size + 1;
    return MHD_YES;
}

static int collect_headers(lg_httpd_req *r, struct MHD_Connection *conn)
{
    hcollect hc = {&r->headers, 0, 0, NULL};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, count_header, &hc);
    if (hc.n == 0)
        return 0;
    char *block = malloc(hc.n * sizeof(lg_http_header) + hc.bytes);
    if (!block)
        return -1;
    r->headers.v = (lg_http_header *)(void *)block;
    r->headers.cap = hc.n;
    hc.next = block + hc.n * sizeof(lg_http_header);
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, copy_header, &hc);
    return 0;
}

/* The method as a static string when it is a usual one (no allocation). */
static int set_method(lg_httpd_req *r, const char *method)
{
    static const char *const known[] = {"POST", "GET", "PUT", "DELETE", "PATCH", "HEAD",
                                         "OPTIONS"};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (strcmp(method, known[i]) == 0) {
            r->method = known[i];
            return 0;
        }
    }
    if (!(r->method = strdup(method)))
        return -1;
    r->method_owned = true;
    return 0;
}

static void on_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = 0;
    lg_debug("httpd: %s", line);
}

/* ------------------------------------------------------------- answering */

static bool skip_response_header(const char *name)
{
    /* every name skipped starts with one of these letters (connection,
     * keep-alive, te, trailer(s), transfer-encoding, upgrade, host,
     * content-length, proxy-*, date): most names are decided here */
    switch (name[0] | 32) {
    case 'c': case 'd': case 'h': case 'k': case 'p': case 't': case 'u':
        return lg_http_is_hop_by_hop(name) || strcasecmp(name, "date") == 0;
    default:
        return false;
    }
}

static int add_headers(struct MHD_Response *resp, const lg_http_headers *hdrs)
{
    if (!hdrs)
        return 0;
    for (size_t i = 0; i < hdrs->n; i++) {
        if (skip_response_header(hdrs->v[i].name))
            continue;
        if (MHD_add_response_header(resp, hdrs->v[i].name, hdrs->v[i].value) != MHD_YES)
            return -1;
    }
    return 0;
}

/* Hands a ready response to libmicrohttpd: directly when called in the event
 * thread (the access handler queues it when the handler returns), or by
 * resuming the suspended connection from a worker. */
static void publish(lg_httpd_req *r, struct MHD_Response *resp, int status)
{
    r->resp = resp;
    r->status = status;
    r->answered = true;
    if (r->offloaded) {
        r->offloaded = false;
        MHD_resume_connection(r->conn);
    }
}

/* *out: a response holding a copy of body[0..len). LG_EUSAGE when r is
 * answered already, LG_ENOMEM. */
static int new_response(lg_httpd_req *r, const void *body, size_t len, struct MHD_Response **out,
                        lg_err *err)
{
    if (r->answered)
        return LG_ERR(err, LG_EUSAGE, "httpd: %s %s answered twice", r->method, r->target);
    *out = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!*out)
        return LG_ERR(err, LG_ENOMEM, "httpd: cannot create a response of %zu bytes", len);
    return 0;
}

int lg_httpd_respond(lg_httpd_req *r, int status, const lg_http_headers *headers,
                     const void *body, size_t len, lg_err *err)
{
    struct MHD_Response *resp;
    int rc = new_response(r, body, len, &resp, err);
    if (rc)
        return rc;
    if (add_headers(resp, headers)) {
        MHD_destroy_response(resp);
        return LG_ERR(err, LG_ENOMEM, "httpd: cannot add response headers");
    }
    publish(r, resp, status);
    return 0;
}

int lg_httpd_respond_pairs(lg_httpd_req *r, int status, const char *const *pairs, size_t npairs,
                           const void *body, size_t len, lg_err *err)
{
    struct MHD_Response *resp;
    int rc = new_response(r, body, len, &resp, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < npairs; i++) {
        const char *name = pairs[2 * i], *value = pairs[2 * i + 1];
        if (skip_response_header(name))
            continue;
        if (MHD_add_response_header(resp, name, value) != MHD_YES) {
            MHD_destroy_response(resp);
            return LG_ERR(err, LG_ENOMEM, "httpd: cannot add response header '%s'", name);
        }
    }
    publish(r, resp, status);
    return 0;
}

int lg_httpd_respond_error(lg_httpd_req *r, int status, const lg_http_headers *headers,
                           const char *type, const char *message, lg_err *err)
{
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    lg_buf body = LG_BUF_INIT;
    int rc;
    json_t *j = json_pack("{s:{s:s,s:s}}", "error", "type", type, "message", message);
    if (!j || lg_json_dump_canonical(j, &body, err) ||
        lg_http_headers_add(&hd, "Content-Type", "application/json") ||
        (headers && lg_http_headers_copy(&hd, headers))) {
        rc = LG_ERR(err, LG_ENOMEM, "httpd: cannot build an error body");
        goto out;
    }
    rc = lg_httpd_respond(r, status, &hd, body.data, body.len, err);
out:
    json_decref(j);
    lg_buf_release(&body);
    lg_http_headers_release(&hd);
    return rc;
}

/* -------------------------------------------------------------- streams */

static void stream_free(lg_httpd_stream *s)
{
    chunk *c = s->head;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Drops one reference; s->mu is held on entry and released here. */
static void stream_unref_locked(lg_httpd_stream *s)
{
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        stream_free(s);
}

static void stream_resume_locked(lg_httpd_stream *s)
{
    if (s->suspended && !s->gone) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    lg_httpd_stream *s = cls;
    ssize_t n;
    pthread_mutex_lock(&s->mu);
    if (s->head) {
        chunk *c = s->head;
        size_t take = c->len - s->off;
        if (take > max)
            take = max;
        memcpy(buf, c->data + s->off, take);
        s->off += take;
        s->queued -= take;
        if (s->off == c->len) {
            s->head = c->next;
            if (!s->head)
                s->tail = NULL;
            s->off = 0;
            free(c);
        }
        n = (ssize_t)take;
    } else if (s->aborted || atomic_load(&s->h->stopping)) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (s->ended) {
        n = s->complete ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        /* Nothing to send yet: park the connection; the next write resumes it.
         * Returning 0 with the connection suspended is not a busy loop. */
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void stream_response_freed(void *cls)
{
    lg_httpd_stream *s = cls;
    lg_httpd *h = s->h;
    pthread_mutex_lock(&h->mu);
    if (s->prev)
        s->prev->next = s->next;
    else if (h->streams == s)
        h->streams = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    pthread_mutex_lock(&s->mu);
    pthread_mutex_unlock(&h->mu);
    s->gone = true;
    s->suspended = false;
    stream_unref_locked(s);
}

int lg_httpd_stream_begin(lg_httpd_req *r, int status, const lg_http_headers *headers,
                          int64_t content_length, lg_httpd_stream **out, lg_err *err)
{
    *out = NULL;
    if (r->answered)
        return LG_ERR(err, LG_EUSAGE, "httpd: %s %s answered twice", r->method, r->target);
    lg_httpd_stream *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ERR(err, LG_ENOMEM, "httpd: out of memory for a stream");
    pthread_mutex_init(&s->mu, NULL);
    s->h = r->h;
    s->conn = r->conn;
    s->refs = 2; /* the writer and the response */
    uint64_t size = content_length < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)content_length;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, STREAM_BLOCK, stream_read, s, stream_response_freed);
    if (!resp) {
        stream_free(s);
        return LG_ERR(err, LG_ENOMEM, "httpd: cannot create a streaming response");
    }
    if (add_headers(resp, headers)) {
        MHD_destroy_response(resp); /* drops the response's reference */
        pthread_mutex_lock(&s->mu);
        stream_unref_locked(s);
        return LG_ERR(err, LG_ENOMEM, "httpd: cannot add response headers");
    }
    lg_httpd *h = r->h;
    pthread_mutex_lock(&h->mu);
    s->next = h->streams;
    if (h->streams)
        h->streams->prev = s;
    h->streams = s;
    pthread_mutex_unlock(&h->mu);
    publish(r, resp, status);
    *out = s;
    return 0;
}

int lg_httpd_stream_write(lg_httpd_stream *s, const void *data, size_t len)
{
    int rc = 0;
    if (len == 0)
        return 0;
    chunk *c = malloc(sizeof *c + len);
    if (!c)
        return LG_ENOMEM;
    c->next = NULL;
    c->len = len;
    memcpy(c->data, data, len);
    pthread_mutex_lock(&s->mu);
    if (s->gone || s->aborted || s->ended) {
        rc = LG_EIO;
    } else if (s->queued + len > STREAM_QUEUE_CAP) {
        rc = LG_ETOOBIG;
    } else {
        if (s->tail)
            s->tail->next = c;
        else
            s->head = c;
        s->tail = c;
        s->queued += len;
        c = NULL;
        stream_resume_locked(s);
    }
    pthread_mutex_unlock(&s->mu);
    free(c);
    return rc;
}

void lg_httpd_stream_end(lg_httpd_stream *s, bool complete)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->ended) {
        s->ended = true;
        s->complete = complete;
    }
    stream_resume_locked(s);
    stream_unref_locked(s);
}

/* -------------------------------------------------------------- workers */

static void finish_unanswered(lg_httpd_req *r, int status, const char *type, const char *msg)
{
    if (!r->answered && lg_httpd_respond_error(r, status, NULL, type, msg, NULL)) {
        /* Out of memory for even an error: close the connection. */
        if (r->offloaded) {
            r->offloaded = false;
            MHD_resume_connection(r->conn);
        }
    }
}

static void *worker_main(void *arg)
{
    lg_httpd *h = arg;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        while (!h->jq_head && !atomic_load(&h->stopping)) {
            h->idle_workers++;
            pthread_cond_wait(&h->job_cv, &h->mu);
            h->idle_workers--;
        }
        lg_httpd_req *r = h->jq_head;
        if (!r)
            break;
        h->jq_head = r->next;
        if (!h->jq_head)
            h->jq_tail = NULL;
        bool stopping = atomic_load(&h->stopping);
        pthread_mutex_unlock(&h->mu);
        if (stopping) {
            finish_unanswered(r, 503, "server_stopping", "the server is shutting down");
        } else {
            r->in_worker = true;
            int act = h->o.handler(r, h->o.ud);
            (void)act;
            finish_unanswered(r, 500, "internal_error", "the handler gave no answer");
        }
        req_unref(r);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* Suspends the connection and queues the request for a worker, starting one
 * if none is idle. Returns false when it cannot (stopping, no thread). */
static bool offload(lg_httpd *h, lg_httpd_req *r)
{
    bool ok = true;
    pthread_mutex_lock(&h->mu);
    if (atomic_load(&h->stopping)) {
        ok = false;
        goto out;
    }
    if (h->idle_workers == 0 && h->nworkers < h->o.max_workers) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&h->workers[h->nworkers], &at, worker_main, h) == 0)
            h->nworkers++;
        pthread_attr_destroy(&at);
        if (h->nworkers == 0) {
            ok = false;
            goto out;
        }
    }
    atomic_fetch_add(&r->refs, 1);
    r->offloaded = true;
    MHD_suspend_connection(r->conn);
    r->next = NULL;
    if (h->jq_tail)
        h->jq_tail->next = r;
    else
        h->jq_head = r;
    h->jq_tail = r;
    pthread_cond_signal(&h->job_cv);
out:
    pthread_mutex_unlock(&h->mu);
    return ok;
}

/* -------------------------------------------------------- access handler */

static enum MHD_Result queue_ready(lg_httpd_req *r)
{
    struct MHD_Response *resp = r->resp;
    r->resp = NULL;
    r->queued = true;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **req_cls)
{
    (void)url;
    (void)version;
    lg_httpd *h = cls;
    lg_httpd_req *r = *req_cls;
    if (!r)
        return MHD_NO; /* out of memory in on_uri */
    if (!r->started) {
        r->started = true;
        r->conn = conn;
        if (set_method(r, method) || collect_headers(r, conn))
            return MHD_NO;
        /* A declared length past the cap is refused before reading it; a
         * body within it gets its whole buffer at once. */
        const char *cl = lg_http_headers_get(&r->headers, "content-length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > h->o.max_body)
                r->too_big = true;
            else if (n && lg_buf_grow(&r->body, (size_t)n))
                return MHD_NO;
        }
        if (!r->too_big)
            return MHD_YES;
    }
    if (*upload_data_size) {
        if (!r->too_big && lg_buf_append(&r->body, upload_data, *upload_data_size))
            r->too_big = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->queued)
        return MHD_YES;
    if (r->resp)
        return queue_ready(r);
    if (r->answered || r->offloaded)
        return MHD_YES; /* a worker is on it; should not be called while suspended */
    if (r->too_big) {
        char msg[160];
        snprintf(msg, sizeof msg, "request body larger than the %zu-byte limit of this server",
                 h->o.max_body);
        if (lg_httpd_respond_error(r, 413, NULL, "request_too_large", msg, NULL))
            return MHD_NO;
        return queue_ready(r);
    }
    if (atomic_load(&h->stopping)) {
        if (lg_httpd_respond_error(r, 503, NULL, "server_stopping", "the server is shutting down", NULL))
            return MHD_NO;
        return queue_ready(r);
    }
    int act = h->o.handler(r, h->o.ud);
    if (r->resp)
        return queue_ready(r);
    if (act == LG_HTTPD_OFFLOAD && !r->answered) {
        if (offload(h, r))
            return MHD_YES;
        finish_unanswered(r, 503, "server_busy", "cannot start a worker thread");
    } else {
        finish_unanswered(r, 500, "internal_error", "the handler gave no answer");
    }
    return r->resp ? queue_ready(r) : MHD_NO;
}

/* ------------------------------------------------------------ accessors */

const char *lg_httpd_req_method(const lg_httpd_req *r) { return r->method; }
const char *lg_httpd_req_target(const lg_httpd_req *r) { return r->target; }
const char *lg_httpd_req_path(const lg_httpd_req *r) { return r->path; }
const lg_http_headers *lg_httpd_req_headers(const lg_httpd_req *r) { return &r->headers; }
const char *lg_httpd_req_header(const lg_httpd_req *r, const char *name)
{
    return lg_http_headers_get(&r->headers, name);
}
const char *lg_httpd_req_body(const lg_httpd_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return lg_buf_cstr(&r->body);
}
bool lg_httpd_req_in_worker(const lg_httpd_req *r) { return r->in_worker; }
lg_httpd *lg_httpd_req_server(const lg_httpd_req *r) { return r->h; }
void lg_httpd_req_set_ctx(lg_httpd_req *r, void *ctx, void (*free_fn)(void *))
{
    if (r->ctx_free && r->ctx != ctx)
        r->ctx_free(r->ctx);
    r->ctx = ctx;
    r->ctx_free = free_fn;
}
void *lg_httpd_req_ctx(const lg_httpd_req *r) { return r->ctx; }

/* ------------------------------------------------------- start and stop */

static int listen_loopback(unsigned port, int backlog, unsigned *bound, lg_err *err)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return LG_ERR(err, LG_EIO, "httpd: cannot create a socket: %s", strerror(errno));
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return LG_ERR(err, LG_EIO, "httpd: cannot listen on 127.0.0.1:%u: %s%s", port, strerror(e),
                      e == EADDRINUSE ? " (choose another --port, or 0 for a random one)" : "");
    }
    if (listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return LG_ERR(err, LG_EIO, "httpd: listen on 127.0.0.1:%u: %s", port, strerror(e));
    }
    socklen_t sl = sizeof sa;
    if (getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
        int e = errno;
        close(fd);
        return LG_ERR(err, LG_EIO, "httpd: getsockname: %s", strerror(e));
    }
    *bound = ntohs(sa.sin_port);
    return fd;
}

int lg_httpd_start(const lg_httpd_opts *opts, lg_httpd **out, lg_err *err)
{
    *out = NULL;
    if (!opts || !opts->handler)
        return LG_ERR(err, LG_EUSAGE, "httpd: no request handler given");
    if (opts->port > 65535)
        return LG_ERR(err, LG_EUSAGE, "httpd: port %u is out of range (0-65535)", opts->port);
    lg_httpd *h = calloc(1, sizeof *h);
    if (!h)
        return LG_ERR(err, LG_ENOMEM, "httpd: out of memory");
    h->o = *opts;
    if (!h->o.max_body)
        h->o.max_body = DEFAULT_MAX_BODY;
    if (!h->o.threads)
        h->o.threads = 2;
    if (!h->o.max_workers)
        h->o.max_workers = 512;
    if (!h->o.max_connections)
        h->o.max_connections = 4096;
    if (!h->o.idle_timeout_s)
        h->o.idle_timeout_s = 300;
    if (!h->o.conn_memory)
        h->o.conn_memory = DEFAULT_CONN_MEMORY;
    if (h->o.conn_memory < 4096)
        h->o.conn_memory = 4096;
    atomic_init(&h->stopping, false);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->job_cv, NULL);
    h->listen_fd = -1;
    h->workers = calloc(h->o.max_workers, sizeof *h->workers);
    if (!h->workers) {
        LG_ERR(err, LG_ENOMEM, "httpd: out of memory");
        goto fail;
    }
    int fd = listen_loopback(opts->port, 1024, &h->port, err);
    if (fd < 0)
        goto fail;
    h->listen_fd = fd;
    /* poll, not epoll: see httpd.h (an epoll-mode stall in libmicrohttpd 0.9.75) */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (h->o.threads > 1)
        h->d = MHD_start_daemon(flags, (uint16_t)h->port, NULL, NULL, on_access, h,
                                MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)h->o.threads,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->o.max_connections,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->o.conn_memory,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h->o.idle_timeout_s,
                                MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                MHD_OPTION_EXTERNAL_LOGGER, on_log, h, MHD_OPTION_END);
    else
        h->d = MHD_start_daemon(flags, (uint16_t)h->port, NULL, NULL, on_access, h,
                                MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->o.max_connections,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, h->o.conn_memory,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h->o.idle_timeout_s,
                                MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                MHD_OPTION_EXTERNAL_LOGGER, on_log, h, MHD_OPTION_END);
    if (!h->d) {
        LG_ERR(err, LG_EIO, "httpd: cannot start the HTTP daemon on 127.0.0.1:%u", h->port);
        goto fail;
    }
    *out = h;
    return 0;
fail:
    if (h->listen_fd >= 0)
        close(h->listen_fd);
    free(h->workers);
    pthread_cond_destroy(&h->job_cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    return err && err->code ? err->code : LG_EIO;
}

unsigned lg_httpd_port(const lg_httpd *h) { return h->port; }

bool lg_httpd_stopping(const lg_httpd *h) { return atomic_load(&h->stopping); }

void lg_httpd_stop(lg_httpd *h)
{
    if (!h)
        return;
    atomic_store(&h->stopping, true);
    MHD_socket ls = MHD_quiesce_daemon(h->d);
    /* Workers drain the queue (answering 503) and exit. */
    pthread_mutex_lock(&h->mu);
    pthread_cond_broadcast(&h->job_cv);
    unsigned n = h->nworkers;
    pthread_mutex_unlock(&h->mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(h->workers[i], NULL);
    /* Cut open streams so no connection stays suspended. */
    pthread_mutex_lock(&h->mu);
    for (lg_httpd_stream *s = h->streams; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->aborted = true;
        stream_resume_locked(s);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&h->mu);
    MHD_stop_daemon(h->d);
    /* A quiesced listening socket is ours to close; otherwise libmicrohttpd
     * closed it with the daemon. */
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    free(h->workers);
    pthread_cond_destroy(&h->job_cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
