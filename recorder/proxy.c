/*
 * recorder/proxy.c - record/replay proxy; see proxy.h.
 *
 * A request is routed in httpd's event thread: its session is found and
 * the action decided under the session's lock (so call numbers follow
 * arrival order). A replay at fast pace is answered right there; anything
 * that waits (upstream, pacing) runs in an httpd worker.
 *
 * Costs, for the proxy benchmark (bench/bench_proxy.c):
 *   - replay: a request byte for byte the recorded call n (after redaction,
 *     which copies nothing when it cannot change the body) costs one XXH3
 *     pass compared with the stored body's blob key; the recorded request
 *     is decoded only when that fails (fingerprints, divergence report),
 *     and answering decodes only the response side. Kept headers are read
 *     from their stored text into the answer without a JSON parse.
 *   - record: nothing about the body is needed before forwarding it, so
 *     its redaction and fingerprint (a JSON parse), the response's
 *     redaction and usage and the append to the session are a job for a
 *     store thread of lower CPU priority, done once the client has its
 *     answer. The call takes its place in the session's store order
 *     (sjob_queue) before the answer goes out, so whatever the client does
 *     next is stored after it; closing a session waits for its stores.
 */
#include "proxy.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/log.h"
#include "core/utf8.h"
#include "recorder/httpd.h"
#include "recorder/proxy_int.h"
#include "recorder/sse.h"
#include "recorder/upstream.h"

#define BODY_CAP ((size_t)256 << 20)

/* A recorded tool event that /tool can replay (exit_code >= 0: a process ran). */
typedef struct rtool {
    size_t seq;        /* event position in the recording */
    const char *name;  /* borrowed from the reader */
    char *args;        /* canonical JSON of the arguments ("null" when none), owned */
} rtool;

/* The first result seen for an idempotency key, as the /tool answer to
 * give a repeated call. */
typedef struct idem_entry {
    char *key;
    char *answer; /* JSON text, {"replay":true,"idempotent":true,...} */
} idem_entry;

typedef struct psession {
    struct psession *next;
    char token[LG_PROXY_TOKEN_MAX];
    char *key;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    int inflight;
    bool closing;
    /* store order: every append to `w` takes a ticket and appends when its
     * number comes up, so a model call can take its place before its
     * client has the answer and be stored after (do_upstream) */
    uint64_t tk_next, tk_serving;
    pthread_cond_t tk_cv;
    lg_store_session *w;     /* writer, or NULL */
    lg_session_reader *rd;   /* the recording, or NULL */
    size_t nrec;
    lg_hash128 *rec_fp;      /* fingerprints of the recorded calls, once fp_ready */
    bool fp_ready;
    unsigned char *consumed;
    size_t next_call;
    bool live;               /* after a LIVE divergence: everything goes upstream */
    uint64_t t0;
    bool log_only;           /* s->w writes to the log store, not the trace */
    bool aborted;            /* close without committing */
    lg_proxy_report rep;     /* counters */
    lg_buf msg;
    /* tools (POST /tool): the recording's replayable tool events, indexed
     * on first use, and the idempotency keys seen in this session */
    bool tools_indexed;
    size_t nrtool;
    rtool *rtools;
    unsigned char *rtool_used;
    size_t next_tool;        /* tool calls asked so far (idempotent hits excluded) */
    idem_entry *idem;
    size_t nidem, idem_cap;
    int64_t case_index, trial; /* from the harness's session, -1 when none */
} psession;

struct sjob;

/* Store threads: record mode stores each call after its client has the
 * answer (do_upstream hands them a job), at a lower CPU priority so that
 * this work yields to the threads that serve requests. Started on the
 * first job. */
#define STORE_THREADS_MAX 2
#define STORE_NICE 10

struct lg_proxy {
    lg_proxy_opts o;
    char *default_session;
    lg_httpd *h;
    lg_upstream *up;
    pthread_mutex_t mu;
    psession *sessions;
    uint64_t seq;
    pthread_mutex_t smu; /* the job queue; taken before a session's mu */
    pthread_cond_t scv;
    struct sjob *sq_head, *sq_tail;
    pthread_t sthreads[STORE_THREADS_MAX];
    unsigned nsthreads;
    bool sstop;
};

static int tools_index(psession *s, lg_err *err);

enum action { ACT_NONE, ACT_FORWARD, ACT_RECORD, ACT_REPLAY, ACT_EVENT, ACT_TOOL };

typedef struct reqctx {
    lg_proxy *p;
    psession *s;
    char *target; /* upstream path and query */
    uint64_t t0;
    size_t call;
    enum action act;
    size_t rec_index;
    lg_buf redacted;
    /* the redacted request body: the request's own bytes when redaction
     * leaves them as they are (no copy), else `redacted` */
    const char *rbody;
    size_t rlen;
    bool same_bytes;  /* ACT_REPLAY of a request byte for byte the recorded one */
    lg_hash128 fp;
    /* record mode: the request is prepared for the store (redacted,
     * fingerprinted) by a store thread after the client has its answer
     * (sjob_run) */
    bool prep_pending;
} reqctx;

/* -------------------------------------------------------------- reports */

void lg_proxy_report_release(lg_proxy_report *r)
{
    if (!r)
        return;
    free(r->message);
    r->message = NULL;
}

static void report_add(lg_proxy_report *total, const lg_proxy_report *r)
{
    total->calls += r->calls;
    total->replayed += r->replayed;
    total->upstream += r->upstream;
    total->divergences += r->divergences;
    total->unused += r->unused;
    total->events += r->events;
    total->tools += r->tools;
    total->tools_replayed += r->tools_replayed;
    total->idempotent_hits += r->idempotent_hits;
    total->unused_tools += r->unused_tools;
    total->committed |= r->committed;
    if (r->message) {
        size_t a = total->message ? strlen(total->message) : 0, b = strlen(r->message);
        char *m = realloc(total->message, a + b + 1);
        if (m) {
            memcpy(m + a, r->message, b + 1);
            total->message = m;
        }
    }
}

/* -------------------------------------------------------------- sessions */

static void session_free(psession *s)
{
    if (!s)
        return;
    lg_store_session_abort(s->w);
    lg_session_reader_free(s->rd);
    free(s->rec_fp);
    free(s->consumed);
    free(s->key);
    for (size_t i = 0; i < s->nrtool; i++)
        free(s->rtools[i].args);
    free(s->rtools);
    free(s->rtool_used);
    for (size_t i = 0; i < s->nidem; i++) {
        free(s->idem[i].key);
        free(s->idem[i].answer);
    }
    free(s->idem);
    lg_buf_release(&s->msg);
    free(s->rep.message);
    pthread_cond_destroy(&s->idle);
    pthread_cond_destroy(&s->tk_cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static bool replays(const lg_proxy *p)
{
    return p->o.mode == LG_PROXY_REPLAY || p->o.mode == LG_PROXY_RECORD_MISSING;
}

static bool may_write(const lg_proxy *p)
{
    return p->o.mode == LG_PROXY_RECORD || p->o.mode == LG_PROXY_RECORD_MISSING ||
           (p->o.mode == LG_PROXY_REPLAY && p->o.on_divergence == LG_PROXY_DIVERGE_LIVE);
}

/* Loads the recording of `s->key` and fingerprints its calls under the
 * current match config. A missing recording is an empty one. */
static int load_recording(lg_proxy *p, psession *s, lg_err *err)
{
    lg_err e = LG_ERR_INIT;
    int rc = lg_store_session_read_key(p->o.store, s->key, &s->rd, &e);
    if (rc == LG_ENOENT)
        return 0;
    if (rc) {
        LG_ERR(err, e.code, "%s", e.msg);
        return rc;
    }
    s->nrec = lg_session_reader_calls(s->rd);
    s->rec_fp = calloc(s->nrec ? s->nrec : 1, sizeof *s->rec_fp);
    s->consumed = calloc(LG_MATCH_BITMAP_BYTES(s->nrec) + 1, 1);
    if (!s->rec_fp || !s->consumed)
        return LG_ERR(err, LG_ENOMEM, "proxy: out of memory loading session '%s'", s->key);
    /* fingerprints are computed when first needed (recorded_fps): a replay
     * whose requests are byte for byte the recorded ones never needs them */
    return 0;
}

/* Fingerprints every recorded call under the match config in force (a JSON
 * parse each); s->mu held. */
static int recorded_fps(lg_proxy *p, psession *s, lg_err *err)
{
    for (size_t i = 0; !s->fp_ready && i < s->nrec; i++) {
        const lg_event *ev;
        int rc;
        if ((rc = lg_session_reader_call(s->rd, i, &ev, err)))
            return rc;
        lg_match_request mr = {ev->model.method, ev->model.path, ev->model.request.data,
                               ev->model.request.len};
        if ((rc = lg_match_fingerprint(p->o.match, &mr, &s->rec_fp[i], err)))
            return rc;
    }
    s->fp_ready = true;
    return 0;
}

/* True when recorded call `i` is unconsumed and its method, path and
 * (redacted) body are byte for byte the incoming ones: then it matches
 * whatever the match config ignores. `hash` is lg_hash_bytes() of the
 * incoming redacted body, compared with the stored body's blob key, so
 * nothing recorded is decoded. s->mu held. */
static bool same_as_recorded(psession *s, size_t i, const char *method, const char *path,
                             size_t len, lg_hash128 hash)
{
    lg_call_request_key k;
    lg_err err = LG_ERR_INIT;
    if (!s->rd || i >= s->nrec || lg_match_bit(s->consumed, i) ||
        lg_session_reader_request_hash(s->rd, i, &k, &err) != 0)
        return false;
    return k.body_len == len && lg_hash_equal(k.body_hash, hash) &&
           strcmp(k.method, method) == 0 && strcmp(k.path, path) == 0;
}

/* Creates a session and links it; p->mu must NOT be held. */
static int session_create(lg_proxy *p, const lg_session_desc *desc, psession **out, lg_err *err)
{
    int rc;
    *out = NULL;
    if (!desc || !desc->key || !*desc->key)
        return LG_ERR(err, LG_EUSAGE, "proxy: a session needs a key");
    psession *s = calloc(1, sizeof *s);
    if (!s || !(s->key = strdup(desc->key))) {
        free(s);
        return LG_ERR(err, LG_ENOMEM, "proxy: out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    pthread_cond_init(&s->tk_cv, NULL);
    lg_buf_init(&s->msg);
    s->t0 = lg_clock_mono_ns();
    s->case_index = desc->case_index;
    s->trial = desc->trial;
    if (p->o.store && may_write(p)) {
        if ((rc = lg_store_session_begin(p->o.store, desc, &s->w, err)))
            goto fail;
    } else if (p->o.log_store) {
        if ((rc = lg_store_session_begin(p->o.log_store, desc, &s->w, err)))
            goto fail;
        s->log_only = true;
    }
    if (replays(p) && (rc = load_recording(p, s, err)))
        goto fail;
    pthread_mutex_lock(&p->mu);
    for (psession *o = p->sessions; o; o = o->next) {
        if (strcmp(o->key, s->key) == 0) {
            pthread_mutex_unlock(&p->mu);
            rc = LG_ERR(err, LG_EUSAGE, "proxy: session '%s' is already open", s->key);
            goto fail;
        }
    }
    uint64_t seq = ++p->seq;
    unsigned char seed[64];
    int n = snprintf((char *)seed, sizeof seed, "%p:%llu", (void *)p, (unsigned long long)seq);
    lg_hash128 h = lg_hash_bytes(seed, (size_t)n);
    snprintf(s->token, sizeof s->token, "%llx%012llx", (unsigned long long)seq,
             (unsigned long long)(h.lo & 0xffffffffffffULL));
    s->next = p->sessions;
    p->sessions = s;
    pthread_mutex_unlock(&p->mu);
    *out = s;
    return 0;
fail:
    session_free(s);
    return rc;
}

/* Finds an open session by token or key and counts a request in flight. */
static psession *session_acquire(lg_proxy *p, const char *token, size_t tlen, const char *key)
{
    psession *s;
    pthread_mutex_lock(&p->mu);
    for (s = p->sessions; s; s = s->next) {
        if (token ? strlen(s->token) == tlen && memcmp(s->token, token, tlen) == 0
                  : strcmp(s->key, key) == 0)
            break;
    }
    if (s) {
        pthread_mutex_lock(&s->mu);
        bool closing = s->closing;
        if (!closing)
            s->inflight++;
        pthread_mutex_unlock(&s->mu);
        if (closing)
            s = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void session_release(psession *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->inflight == 0 && s->closing)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
}

int lg_proxy_session_open(lg_proxy *p, const lg_session_desc *desc,
                          char token[LG_PROXY_TOKEN_MAX], lg_err *err)
{
    psession *s;
    int rc = session_create(p, desc, &s, err);
    if (rc)
        return rc;
    memcpy(token, s->token, LG_PROXY_TOKEN_MAX);
    return 0;
}

/* Waits for in-flight requests, commits or discards, reports, frees. */
static int session_finish(lg_proxy *p, psession *s, lg_proxy_report *rep, lg_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    s->closing = true;
    while (s->inflight > 0)
        pthread_cond_wait(&s->idle, &s->mu);
    pthread_mutex_unlock(&s->mu);
    if (s->rd) {
        s->rep.unused = lg_match_unused(s->consumed, s->nrec, NULL, 0);
        if (s->rep.unused) {
            size_t before = s->msg.len;
            if (lg_match_unused_message(s->key, s->consumed, s->nrec, &s->msg) == 0)
                lg_warn("proxy: %.*s", (int)(s->msg.len - before - 1), s->msg.data + before);
        }
    }
    if (s->rd && replays(p) && !s->aborted) {
        lg_err e = LG_ERR_INIT;
        if (tools_index(s, &e) == 0) {
            for (size_t i = 0; i < s->nrtool; i++) {
                if (s->rtool_used[i])
                    continue;
                if (s->rep.unused_tools++ < 8) {
                    size_t before = s->msg.len;
                    if (lg_buf_appendf(&s->msg, "session %s: recorded tool call %zu ('%s') was "
                                       "never requested\n", s->key, i, s->rtools[i].name) == 0)
                        lg_warn("proxy: %.*s", (int)(s->msg.len - before - 1),
                                s->msg.data + before);
                }
            }
        } else {
            lg_warn("proxy: session '%s': %s", s->key, e.msg);
        }
    }
    bool commit = s->w && !s->aborted &&
                  (p->o.mode == LG_PROXY_RECORD || s->rep.upstream > 0 || s->log_only);
    if (commit) {
        rc = lg_store_session_commit(s->w, NULL, err);
        s->rep.committed = rc == 0 && !s->log_only;
        if (rc)
            lg_err_prefix(err, "session '%s'", s->key);
    } else {
        lg_store_session_abort(s->w);
    }
    s->w = NULL;
    if (rep) {
        *rep = s->rep;
        rep->message = s->msg.len ? lg_buf_take(&s->msg, NULL) : NULL;
    }
    session_free(s);
    return rc;
}

static psession *session_unlink(lg_proxy *p, const char *token)
{
    psession **pp, *s = NULL;
    pthread_mutex_lock(&p->mu);
    for (pp = &p->sessions; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->token, token) == 0) {
            s = *pp;
            *pp = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return s;
}

int lg_proxy_session_abort(lg_proxy *p, const char *token, lg_err *err)
{
    psession *s = session_unlink(p, token);
    if (!s)
        return LG_ERR(err, LG_ENOENT, "proxy: no open session with token '%s'", token);
    s->aborted = true;
    return session_finish(p, s, NULL, err);
}

int lg_proxy_session_close(lg_proxy *p, const char *token, lg_proxy_report *rep, lg_err *err)
{
    psession **pp, *s = NULL;
    if (rep)
        memset(rep, 0, sizeof *rep);
    pthread_mutex_lock(&p->mu);
    for (pp = &p->sessions; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->token, token) == 0) {
            s = *pp;
            *pp = s->next;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (!s)
        return LG_ERR(err, LG_ENOENT, "proxy: no open session with token '%s'", token);
    return session_finish(p, s, rep, err);
}

/* ------------------------------------------------------------- helpers */

static int respond_json(lg_httpd_req *r, int status, const lg_buf *body, bool no_retry)
{
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    int rc = lg_http_headers_add(&hd, "Content-Type", "application/json");
    if (!rc && no_retry)
        rc = lg_http_headers_add(&hd, "x-should-retry", "false");
    if (!rc)
        rc = lg_httpd_respond(r, status, &hd, body->data, body->len, NULL);
    lg_http_headers_release(&hd);
    return rc;
}

static void respond_problem(lg_httpd_req *r, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void respond_problem(lg_httpd_req *r, int status, const char *type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    (void)!lg_http_headers_add(&hd, "x-should-retry", "false");
    (void)!lg_httpd_respond_error(r, status, &hd, type, msg, NULL);
    lg_http_headers_release(&hd);
}

/* Kept response headers as a JSON object (lowercase names; repeated fields
 * joined with ", "); secrets and date dropped. Returns owned text or NULL. */
static char *headers_json(const lg_proxy *p, const lg_http_headers *h)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->v[i].name;
        if (lg_redact_header_dropped(p->o.redact, name) || strcasecmp(name, "date") == 0 ||
            lg_http_is_hop_by_hop(name))
            continue;
        char low[128];
        size_t n = strlen(name);
        if (n >= sizeof low)
            continue;
        for (size_t k = 0; k <= n; k++)
            low[k] = (char)((name[k] >= 'A' && name[k] <= 'Z') ? name[k] + 32 : name[k]);
        const char *old = lg_json_str(o, low, NULL);
        if (old) {
            lg_buf b = LG_BUF_INIT;
            if (lg_buf_appendf(&b, "%s, %s", old, h->v[i].value) == 0)
                json_object_set_new(o, low, json_string(lg_buf_cstr(&b)));
            lg_buf_release(&b);
        } else {
            json_object_set_new(o, low, json_string(h->v[i].value));
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* The kept headers as the store gives them back: a canonical JSON object
 * of strings, {"content-type":"application/json","x-request-id":"req_1"}.
 * Without an escape anywhere (the usual case) the names and values are the
 * bytes between the quotes: they become (name, value) pairs of C strings
 * in `scratch` (a copy of the text with NULs written over the closing
 * quotes), with no JSON parse and no allocation; values trimmed as
 * lg_http_headers_add_n() trims them. Returns the number of pairs, or -1
 * when the text is not of that form or does not fit (then jansson reads
 * it: headers_from_json). */
#define PAIRS_MAX 64
static long headers_pairs(const char *text, char *scratch, size_t cap, const char **pairs)
{
    size_t len = strlen(text);
    long n = 0;
    char *p = scratch;
    if (len >= cap || memchr(text, '\\', len))
        return -1;
    memcpy(scratch, text, len + 1);
    if (*p++ != '{')
        return -1;
    if (*p == '}')
        return p[1] == 0 ? 0 : -1;
    for (;;) {
        char *name, *value, *q, *e;
        if (n == PAIRS_MAX || *p++ != '"' || !(q = strchr(p, '"')))
            return -1;
        name = p;
        *q = 0;
        p = q + 1;
        if (*p++ != ':' || *p++ != '"' || !(q = strchr(p, '"')))
            return -1;
        value = p;
        p = q + 1;
        for (e = q; e > value && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n');)
            e--;
        *e = 0;
        while (*value == ' ' || *value == '\t' || *value == '\r' || *value == '\n')
            value++;
        pairs[2 * n] = name;
        pairs[2 * n + 1] = value;
        n++;
        if (*p == '}')
            return p[1] == 0 ? n : -1;
        if (*p++ != ',')
            return -1;
    }
}

static int headers_from_json(const char *text, lg_http_headers *out)
{
    if (!text)
        return 0;
    char scratch[2048];
    const char *pairs[2 * PAIRS_MAX];
    long n = headers_pairs(text, scratch, sizeof scratch, pairs);
    for (long i = 0; i < n; i++)
        if (lg_http_headers_add(out, pairs[2 * i], pairs[2 * i + 1]))
            return -1;
    if (n >= 0)
        return 0;
    json_t *o = json_loads(text, 0, NULL);
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(o, k, v) {
        if (json_is_string(v) && !rc)
            rc = lg_http_headers_add(out, k, json_string_value(v));
    }
    json_decref(o);
    return rc;
}

static uint64_t since_us(uint64_t t0) { return (lg_clock_mono_ns() - t0) / 1000; }

/* Microseconds from a session's start to a request's start. A standalone
 * session opens while routing its first request, after that request's
 * clock started: that request is at 0, not at a wrapped-around time. */
static uint64_t rel_us(uint64_t req_t0, uint64_t session_t0)
{
    return req_t0 > session_t0 ? (req_t0 - session_t0) / 1000 : 0;
}

/* A place in the session's store order. */
static uint64_t take_ticket(psession *s)
{
    pthread_mutex_lock(&s->mu);
    uint64_t t = s->tk_next++;
    pthread_mutex_unlock(&s->mu);
    return t;
}

/* True while an event that took its place is not stored yet. */
static bool store_pending(psession *s)
{
    pthread_mutex_lock(&s->mu);
    bool busy = s->tk_next != s->tk_serving;
    pthread_mutex_unlock(&s->mu);
    return busy;
}

/* Appends `ev` (NULL: nothing, the place is given up) when `ticket` comes
 * up; every ticket must come here exactly once. Returns the append's
 * result (0 for NULL or without a writer). */
static int store_at(psession *s, uint64_t ticket, const lg_event *ev, uint32_t *seq, lg_err *err)
{
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    while (s->tk_serving != ticket)
        pthread_cond_wait(&s->tk_cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    /* the writer has its own lock; s->mu is not held so that routing and
     * matching go on meanwhile */
    if (ev && s->w)
        rc = lg_store_session_append(s->w, ev, seq, NULL, err);
    pthread_mutex_lock(&s->mu);
    s->tk_serving++;
    pthread_cond_broadcast(&s->tk_cv);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

static void store_event(psession *s, lg_event *ev)
{
    if (!s->w)
        return;
    lg_err e = LG_ERR_INIT;
    if (store_at(s, take_ticket(s), ev, NULL, &e))
        lg_warn("proxy: session '%s': cannot store an event: %s", s->key, e.msg);
}

/* Logs a divergence (its message `msg`, ending in a newline), counts it
 * in the session's report and stores its event. */
static void note_divergence(psession *s, uint64_t req_t0, int64_t call, const char *path,
                            const char *diff, const lg_buf *msg)
{
    lg_warn("proxy: %.*s", (int)(msg->len ? msg->len - 1 : 0), lg_buf_cstr(msg));
    pthread_mutex_lock(&s->mu);
    s->rep.divergences++;
    (void)!lg_buf_append(&s->msg, msg->data, msg->len);
    pthread_mutex_unlock(&s->mu);
    lg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = LG_EVENT_DIVERGENCE;
    ev.t_us = rel_us(req_t0, s->t0);
    ev.divergence.call = call;
    ev.divergence.path = path;
    ev.divergence.diff = diff;
    store_event(s, &ev);
}

/* ------------------------------------------------------------- replay */

/* Serves a recorded call: same status, kept headers and bytes; a stream
 * chunk by chunk (each its own write), optionally at the recorded pace; a
 * recorded cut cuts again. */
static void serve_recorded(lg_proxy *p, lg_httpd_req *r, const lg_model_event *m, uint64_t t0)
{
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    lg_err err = LG_ERR_INIT;
    /* any fault after the response head cut the client's connection; only
     * the proxy's own gateway answer (no head from upstream) was complete */
    bool cut = m->fault && (strcmp(m->fault, "cut") == 0 ||
                            !(m->response.data &&
                              memmem(m->response.data, m->response.len,
                                     "\"loopgate_upstream_fault\"", 25)));
    if (!m->chunks && !cut) {
        /* the common case: the kept headers straight from their stored text */
        char scratch[2048];
        const char *pairs[2 * (PAIRS_MAX + 1)];
        long n = m->headers ? headers_pairs(m->headers, scratch, sizeof scratch, pairs) : 0;
        if (n >= 0) {
            long k = 0;
            for (long i = 0; i < n; i++) { /* ours is set below, once */
                if (strcasecmp(pairs[2 * i], "x-loopgate-replay") != 0) {
                    pairs[2 * k] = pairs[2 * i];
                    pairs[2 * k + 1] = pairs[2 * i + 1];
                    k++;
                }
            }
            pairs[2 * k] = "x-loopgate-replay";
            pairs[2 * k + 1] = "1";
            if (lg_httpd_respond_pairs(r, m->status, pairs, (size_t)k + 1, m->response.data,
                                       m->response.len, &err))
                lg_warn("proxy: %s", err.msg);
            return;
        }
    }
    if (headers_from_json(m->headers, &hd) || lg_http_headers_set(&hd, "x-loopgate-replay", "1")) {
        lg_http_headers_release(&hd);
        respond_problem(r, 500, "loopgate_internal", "out of memory");
        return;
    }
    if (!m->chunks && !cut) {
        if (lg_httpd_respond(r, m->status, &hd, m->response.data, m->response.len, &err))
            lg_warn("proxy: %s", err.msg);
        lg_http_headers_release(&hd);
        return;
    }
    lg_httpd_stream *st;
    if (lg_httpd_stream_begin(r, m->status, &hd, -1, &st, &err)) {
        lg_warn("proxy: %s", err.msg);
        lg_http_headers_release(&hd);
        return;
    }
    lg_http_headers_release(&hd);
    if (!m->chunks) {
        (void)!lg_httpd_stream_write(st, m->response.data, m->response.len);
    } else {
        size_t off = 0;
        for (size_t i = 0; i < m->n_chunks; i++) {
            if (p->o.pace == LG_PROXY_PACE_RECORDED) {
                uint64_t due = t0 + m->chunks[i].t_us * 1000ull, now = lg_clock_mono_ns();
                if (due > now)
                    lg_clock_sleep_ns(due - now);
            }
            if (lg_httpd_stream_write(st, m->response.data + off, m->chunks[i].len))
                break;
            off += m->chunks[i].len;
        }
    }
    lg_httpd_stream_end(st, !cut);
}

static void do_replay(reqctx *c, lg_httpd_req *r)
{
    psession *s = c->s;
    lg_model_event m;
    lg_err err = LG_ERR_INIT;
    /* the response side only: the recorded request is not decoded */
    if (lg_session_reader_response(s->rd, c->rec_index, &m, &err)) {
        respond_problem(r, 500, "loopgate_store_error", "session '%s', call %zu: %s", s->key,
                        c->call, err.msg);
        return;
    }
    /* record-missing keeps what was replayed in the new session, replay in
     * the run's log; stored first, so the loop's next event comes after it */
    if (s->w) {
        lg_event copy = lg_event_make(LG_EVENT_MODEL);
        copy.model = m;
        copy.t_us = rel_us(c->t0, s->t0);
        if (c->same_bytes) {
            /* the incoming redacted bytes are the recorded ones */
            copy.model.request.data = c->rbody;
            copy.model.request.len = c->rlen;
        } else {
            const lg_event *ev;
            if (lg_session_reader_call(s->rd, c->rec_index, &ev, &err)) {
                respond_problem(r, 500, "loopgate_store_error", "session '%s', call %zu: %s",
                                s->key, c->call, err.msg);
                return;
            }
            copy.model.request = ev->model.request;
        }
        store_event(s, &copy);
    }
    serve_recorded(c->p, r, &m, c->t0);
}

/* Reports a divergence; answers 409 unless `live`. */
static void diverge(reqctx *c, lg_httpd_req *r, size_t idx, bool live)
{
    lg_proxy *p = c->p;
    psession *s = c->s;
    lg_divergence d;
    lg_err err = LG_ERR_INIT;
    lg_divergence_init(&d);
    const lg_event *rev = NULL;
    lg_match_request rec, in = {lg_httpd_req_method(r), c->target, c->rbody, c->rlen};
    if (idx != SIZE_MAX && lg_session_reader_call(s->rd, idx, &rev, &err) == 0) {
        rec.method = rev->model.method;
        rec.path = rev->model.path;
        rec.body = rev->model.request.data;
        rec.body_len = rev->model.request.len;
    }
    lg_buf msg = LG_BUF_INIT, body = LG_BUF_INIT;
    if (lg_match_diff(p->o.match, rev ? &rec : NULL, &in, s->key, (long long)c->call,
                      rev ? (long long)idx : -1, &d, &err) ||
        lg_divergence_message(&d, &msg)) {
        respond_problem(r, 500, "loopgate_internal", "cannot build the divergence report: %s",
                        err.msg);
        goto out;
    }
    note_divergence(s, c->t0, (int64_t)c->call, d.path ? d.path : "(body)", d.diff, &msg);
    if (p->o.on_diverge)
        p->o.on_diverge(p->o.ud, s->key, &d);
    if (!live) {
        if (lg_divergence_error_body(&d, &body, &err) || respond_json(r, 409, &body, true))
            respond_problem(r, 409, "loopgate_divergence", "%s", lg_buf_cstr(&msg));
    }
out:
    lg_buf_release(&msg);
    lg_buf_release(&body);
    lg_divergence_release(&d);
}

/* ------------------------------------------------------------- upstream */

typedef struct fwd {
    reqctx *c;
    lg_httpd_req *r;
    lg_httpd_stream *st;
    bool sse, client_gone, record;
    int status;
    lg_http_headers hdrs;  /* as sent to the client */
    lg_buf raw;            /* non-SSE body as received */
    lg_buf stored;         /* what the store gets (redacted) */
    lg_chunk *chunks;
    size_t nchunks, cap;
    lg_sse *framer;
    lg_pusage *usage;
    bool oom;
    uint64_t deadline;     /* x-loopgate-timeout-ms, monotonic ns; 0: none */
    bool deadline_hit;
} fwd;

static int fwd_head(void *ud, int status, const lg_http_headers *h)
{
    fwd *f = ud;
    f->status = status;
    if (lg_http_headers_copy(&f->hdrs, h))
        return -1;
    const char *ct = lg_http_headers_get(h, "content-type");
    f->sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    if (f->sse) {
        lg_err err = LG_ERR_INIT;
        f->framer = lg_sse_new(0);
        if (!f->framer || lg_httpd_stream_begin(f->r, status, h, -1, &f->st, &err)) {
            lg_warn("proxy: %s", err.code ? err.msg : "out of memory");
            return -1;
        }
    }
    return 0;
}

static int fwd_event(const lg_sse_event *ev, void *ctx)
{
    fwd *f = ctx;
    if (!f->client_gone && lg_httpd_stream_write(f->st, ev->raw, ev->raw_len))
        f->client_gone = true; /* keep recording what upstream sends */
    if (f->usage)
        lg_pusage_event(f->usage, ev->event, ev->data, ev->data_len);
    if (!f->record)
        return 0;
    /* kept as it came; redacted as a whole when the stream ends
     * (redact_stream), since a secret can be split over several events */
    size_t before = f->stored.len;
    if (lg_buf_append(&f->stored, ev->raw, ev->raw_len)) {
        f->oom = true;
        return 0;
    }
    if (f->stored.len == before)
        return 0;
    if (f->nchunks == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 64;
        lg_chunk *nc = realloc(f->chunks, ncap * sizeof *nc);
        if (!nc) {
            f->oom = true;
            return 0;
        }
        f->chunks = nc;
        f->cap = ncap;
    }
    f->chunks[f->nchunks].len = f->stored.len - before;
    f->chunks[f->nchunks].t_us = since_us(f->c->t0);
    f->nchunks++;
    return 0;
}

/* Redacts a recorded stream (`stored`, cut in `chunks`) as a whole. False
 * when it could not (then nothing may be stored). */
static bool redact_stream(const lg_redact *rd, lg_buf *stored, lg_chunk *chunks, size_t nchunks)
{
    lg_buf whole;
    lg_err err = LG_ERR_INIT;
    bool ok = false;
    size_t *lens = malloc((nchunks ? nchunks : 1) * sizeof *lens);
    lg_buf_init_capped(&whole, BODY_CAP);
    for (size_t i = 0; lens && i < nchunks; i++)
        lens[i] = chunks[i].len;
    if (lens && lg_redact_sse_stream(rd, stored->data, stored->len, lens, nchunks, &whole, lens,
                                     NULL, &err) == 0) {
        lg_buf_release(stored);
        *stored = whole;
        lg_buf_init(&whole);
        for (size_t i = 0; i < nchunks; i++)
            chunks[i].len = lens[i];
        ok = true;
    }
    lg_buf_release(&whole);
    free(lens);
    return ok;
}

static int fwd_body(void *ud, const char *data, size_t len)
{
    fwd *f = ud;
    if (f->sse) {
        lg_err err = LG_ERR_INIT;
        if (lg_sse_feed(f->framer, data, len, fwd_event, f, &err)) {
            lg_warn("proxy: %s", err.msg);
            return -1;
        }
        return 0;
    }
    return lg_buf_append(&f->raw, data, len) ? -1 : 0;
}

static bool fwd_cancelled(void *ud)
{
    fwd *f = ud;
    if (f->deadline && lg_clock_mono_ns() > f->deadline) {
        f->deadline_hit = true;
        return true;
    }
    return lg_httpd_stopping(lg_httpd_req_server(f->r));
}

/* The client's x-loopgate-timeout-ms, as a monotonic deadline (0: none). */
static uint64_t request_deadline(const reqctx *c, lg_httpd_req *r)
{
    const char *v = lg_httpd_req_header(r, "x-loopgate-timeout-ms");
    char *end;
    if (!v || !*v)
        return 0;
    unsigned long long ms = strtoull(v, &end, 10);
    if (*end || ms == 0 || ms > 86400000ULL)
        return 0;
    return c->t0 + ms * 1000000ULL;
}

/* A recorded call's store work, done once its client has the answer:
 * everything it needs is owned here (moved from the request's state or
 * copied from the request, which is gone by then). */
typedef struct sjob {
    struct sjob *next;
    bool ready;           /* under p->smu: the worker is done with it */
    lg_proxy *p;
    psession *s;          /* held (inflight) until the job is done */
    uint64_t ticket;      /* its place in the session's store order */
    size_t call;
    uint64_t t_us, latency_us;
    char *method, *target;
    lg_buf body;          /* the request as the client sent it */
    bool prepared;        /* `redacted` and `fp` are ready (else prepared here) */
    lg_buf redacted;
    lg_hash128 fp;
    int status;
    const char *fault;    /* static */
    bool sse, head, oom;
    lg_http_headers hdrs; /* as sent to the client */
    lg_buf raw, stored;
    lg_chunk *chunks;
    size_t nchunks;
    lg_pusage *usage;     /* the response's side */
} sjob;

static void sjob_free(sjob *j)
{
    free(j->method);
    free(j->target);
    lg_buf_release(&j->body);
    lg_buf_release(&j->redacted);
    lg_http_headers_release(&j->hdrs);
    lg_buf_release(&j->raw);
    lg_buf_release(&j->stored);
    free(j->chunks);
    lg_pusage_free(j->usage);
    free(j);
}

/* Does a job: the request's redaction and fingerprint (one JSON parse),
 * the response's redaction and usage, the append in the session's order.
 * Then lets go of the session. */
static void sjob_run(sjob *j)
{
    lg_proxy *p = j->p;
    psession *s = j->s;
    lg_err err = LG_ERR_INIT;
    char *hjson = NULL;
    if (j->oom) {
        /* the response was too large to keep as it streamed */
    } else if (j->sse) {
        j->oom = !redact_stream(p->o.redact, &j->stored, j->chunks, j->nchunks);
    } else if (j->head) {
        lg_pusage_body(j->usage, j->raw.data, j->raw.len);
        if (lg_redact_body(p->o.redact, j->raw.data, j->raw.len, &j->stored, NULL, &err))
            j->oom = true;
    } else {
        lg_buf_reset(&j->stored);
        if (lg_buf_append(&j->stored, j->raw.data, j->raw.len))
            j->oom = true;
    }
    if (j->oom)
        lg_warn("proxy: session '%s', call %zu: response too large to record", s->key, j->call);
    if (!j->oom && !j->prepared) {
        lg_match_request mr = {j->method, j->target, lg_buf_cstr(&j->body), j->body.len};
        if (lg_match_prepare(p->o.redact, p->o.match, NULL, &mr, &j->redacted, NULL, &j->fp,
                             &err)) {
            /* never store what could not be redacted */
            lg_warn("proxy: session '%s', call %zu: not recorded: cannot prepare the request "
                    "for the store: %s", s->key, j->call, err.msg);
            j->oom = true;
        }
    }
    if (j->oom) {
        (void)store_at(s, j->ticket, NULL, NULL, NULL); /* gives its place up */
        goto out;
    }
    hjson = headers_json(p, &j->hdrs);
    lg_pusage_result u, ru;
    lg_pusage_get(j->usage, &u);
    if (!u.model[0]) {
        /* the response named no model: the request's */
        lg_pusage *req = lg_pusage_new(j->target, j->body.data, j->body.len);
        if (req) {
            lg_pusage_get(req, &ru);
            memcpy(u.model, ru.model, sizeof u.model);
        }
        lg_pusage_free(req);
    }
    lg_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = LG_EVENT_MODEL;
    ev.t_us = j->t_us;
    ev.model.provider = u.provider;
    ev.model.method = j->method;
    ev.model.path = j->target;
    ev.model.model = u.model[0] ? u.model : NULL;
    ev.model.request.data = lg_buf_cstr(&j->redacted);
    ev.model.request.len = j->redacted.len;
    ev.model.fingerprint = j->fp;
    ev.model.status = j->status;
    ev.model.fault = j->fault;
    ev.model.headers = hjson;
    ev.model.response.data = j->stored.data;
    ev.model.response.len = j->stored.len;
    ev.model.chunks = j->sse ? j->chunks : NULL;
    ev.model.n_chunks = j->sse ? j->nchunks : 0;
    ev.model.usage.in = u.in;
    ev.model.usage.out = u.out;
    ev.model.usage.cached = u.cached;
    ev.model.latency_us = j->latency_us;
    if (store_at(s, j->ticket, &ev, NULL, &err))
        lg_warn("proxy: session '%s': cannot store an event: %s", s->key, err.msg);
out:
    free(hjson);
    session_release(s);
    sjob_free(j);
}

static void *store_main(void *arg)
{
    lg_proxy *p = arg;
    /* this thread only: background work yields to serving requests */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), STORE_NICE);
    pthread_mutex_lock(&p->smu);
    for (;;) {
        /* jobs are taken in queue (= ticket) order, each once its worker
         * has answered from it */
        while (!(p->sq_head && p->sq_head->ready) && !(p->sstop && !p->sq_head))
            pthread_cond_wait(&p->scv, &p->smu);
        sjob *j = p->sq_head;
        if (!j)
            break; /* stopping, and nothing left */
        p->sq_head = j->next;
        if (!p->sq_head)
            p->sq_tail = NULL;
        pthread_mutex_unlock(&p->smu);
        sjob_run(j);
        pthread_mutex_lock(&p->smu);
    }
    pthread_mutex_unlock(&p->smu);
    return NULL;
}

/* Gives a job its place in the session's store order and, when a store
 * thread can take it, queues it (not ready yet: the worker still answers
 * from its buffers, then calls sjob_ready). p->smu makes the queue order
 * the ticket order, so a store thread never waits on a job queued behind
 * it. Returns false when the job must be run by the caller (no store
 * thread could be started). */
static bool sjob_queue(lg_proxy *p, sjob *j)
{
    bool queued = false;
    pthread_mutex_lock(&p->smu);
    pthread_mutex_lock(&j->s->mu);
    j->ticket = j->s->tk_next++;
    j->s->inflight++; /* the session waits for its stores */
    pthread_mutex_unlock(&j->s->mu);
    if (p->nsthreads == 0 && !p->sstop) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned want = cpus > 1 ? STORE_THREADS_MAX : 1;
        for (unsigned i = 0; i < want; i++)
            if (pthread_create(&p->sthreads[p->nsthreads], NULL, store_main, p) == 0)
                p->nsthreads++;
    }
    if (p->nsthreads) {
        j->next = NULL;
        j->ready = false;
        if (p->sq_tail)
            p->sq_tail->next = j;
        else
            p->sq_head = j;
        p->sq_tail = j;
        queued = true;
    }
    pthread_mutex_unlock(&p->smu);
    return queued;
}

static void sjob_ready(lg_proxy *p, sjob *j)
{
    pthread_mutex_lock(&p->smu);
    j->ready = true;
    pthread_cond_broadcast(&p->scv);
    pthread_mutex_unlock(&p->smu);
}

static void do_upstream(reqctx *c, lg_httpd_req *r)
{
    lg_proxy *p = c->p;
    psession *s = c->s;
    fwd f;
    lg_err err = LG_ERR_INIT;
    char *hjson = NULL;
    memset(&f, 0, sizeof f);
    f.c = c;
    f.r = r;
    f.record = c->act == ACT_RECORD && s->w;
    lg_http_headers_init(&f.hdrs);
    lg_buf_init_capped(&f.raw, BODY_CAP);
    lg_buf_init_capped(&f.stored, BODY_CAP);
    size_t blen;
    const char *body = lg_httpd_req_body(r, &blen);
    /* the response's side of the usage meter (the request's model is read
     * after the answer, with the rest of the store's work) */
    if (f.record && !(f.usage = lg_pusage_new(c->target, NULL, 0)))
        f.oom = true;
    lg_upstream_sink sink = {fwd_head, fwd_body, fwd_cancelled, &f};
    lg_upstream_result res;
    pthread_mutex_lock(&s->mu);
    s->rep.upstream++;
    pthread_mutex_unlock(&s->mu);
    /* the session header is loopgate's own: upstream never sees it */
    lg_http_headers fwd_hdrs = LG_HTTP_HEADERS_INIT;
    int crc = lg_http_headers_copy(&fwd_hdrs, lg_httpd_req_headers(r));
    lg_http_headers_remove(&fwd_hdrs, "x-loopgate-session");
    lg_http_headers_remove(&fwd_hdrs, "x-loopgate-timeout-ms");
    if (!crc && s->case_index >= 0) {
        /* which case and trial: the simulated model's behaviour model keys on it */
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)s->case_index);
        crc = lg_http_headers_set(&fwd_hdrs, "x-loopgate-case", num);
        snprintf(num, sizeof num, "%lld", (long long)(s->trial >= 0 ? s->trial : 0));
        if (!crc)
            crc = lg_http_headers_set(&fwd_hdrs, "x-loopgate-trial", num);
    }
    f.deadline = request_deadline(c, r);
    crc = crc ? crc : lg_upstream_call(p->up, lg_httpd_req_method(r), c->target, &fwd_hdrs, body,
                                       blen, &sink, &res, &err);
    lg_http_headers_release(&fwd_hdrs);
    if (crc) {
        respond_problem(r, 400, "loopgate_bad_request", "%s", err.msg);
        goto out;
    }
    if (f.deadline_hit) {
        res.fault = LG_UPSTREAM_TIMEOUT;
        snprintf(res.detail, sizeof res.detail,
                 "no complete response within the client's x-loopgate-timeout-ms (%llu ms)",
                 (unsigned long long)((f.deadline - c->t0) / 1000000ULL));
    }
    const char *fault = lg_upstream_fault_name(res.fault);
    int gw_status = 0;
    if (f.sse) {
        lg_err e2 = LG_ERR_INIT;
        (void)!lg_sse_finish(f.framer, fwd_event, &f, &e2);
    } else if (!res.head_delivered) {
        /* no response at all: answer as a gateway, and record that answer */
        gw_status = res.fault == LG_UPSTREAM_TIMEOUT ? 504 : 502;
        json_t *j = json_pack("{s:{s:s,s:s,s:s}}", "error", "type", "loopgate_upstream_fault",
                              "fault", fault ? fault : "error", "message",
                              res.detail[0] ? res.detail : "no response from upstream");
        lg_buf_reset(&f.raw);
        if (!j || lg_json_dump_canonical(j, &f.raw, NULL))
            lg_buf_reset(&f.raw);
        json_decref(j);
        f.status = gw_status;
        lg_http_headers_release(&f.hdrs);
        (void)!lg_http_headers_add(&f.hdrs, "content-type", "application/json");
        lg_warn("proxy: session '%s', call %zu: upstream %s: %s", s->key, c->call,
                fault ? fault : "error", res.detail);
    }
    /* The call takes its place in the session's store order BEFORE the
     * client sees the end of the response: a loop that reacts at once
     * (posts a tool event, sends the next call) finds it ahead of what it
     * does next. What storing costs (the request's JSON parse for its
     * redaction and fingerprint, the response's redaction and usage, the
     * append) is done by a store thread once the client has its answer;
     * lg_proxy_session_close waits for it. */
    sjob *job = NULL;
    bool queued = false;
    if (f.record) {
        job = calloc(1, sizeof *job);
        bool ok = job != NULL;
        if (ok) {
            job->p = p;
            job->s = s;
            job->call = c->call;
            job->t_us = rel_us(c->t0, s->t0);
            job->latency_us = res.total_us;
            job->method = strdup(lg_httpd_req_method(r));
            job->target = strdup(c->target);
            lg_buf_init_capped(&job->body, BODY_CAP);
            lg_buf_init_capped(&job->redacted, BODY_CAP);
            lg_http_headers_init(&job->hdrs);
            job->prepared = !c->prep_pending;
            job->fp = c->fp;
            ok = job->method && job->target && !lg_buf_append(&job->body, body, blen) &&
                 (!job->prepared || !lg_buf_append(&job->redacted, c->rbody, c->rlen));
        }
        if (ok) {
            /* the rest moves over (the answer below is sent from it) */
            job->status = f.status;
            job->fault = fault;
            job->sse = f.sse;
            job->head = res.head_delivered;
            job->oom = f.oom;
            job->hdrs = f.hdrs;
            lg_http_headers_init(&f.hdrs);
            job->raw = f.raw;
            lg_buf_init(&f.raw);
            job->stored = f.stored;
            lg_buf_init(&f.stored);
            job->chunks = f.chunks;
            job->nchunks = f.nchunks;
            f.chunks = NULL;
            job->usage = f.usage;
            f.usage = NULL;
        }
        if (!ok) {
            lg_warn("proxy: session '%s', call %zu: not recorded: out of memory", s->key,
                    c->call);
            (void)store_at(s, take_ticket(s), NULL, NULL, NULL);
            if (job)
                sjob_free(job);
            job = NULL;
        } else {
            queued = sjob_queue(p, job);
        }
    }
    const lg_http_headers *hdrs = job ? &job->hdrs : &f.hdrs;
    const lg_buf *raw = job ? &job->raw : &f.raw;
    if (f.sse) {
        lg_httpd_stream_end(f.st, res.fault == LG_UPSTREAM_OK);
        f.st = NULL;
    } else if (res.head_delivered) {
        if (res.fault == LG_UPSTREAM_OK) {
            if (lg_httpd_respond(r, f.status, hdrs, raw->data, raw->len, &err))
                lg_warn("proxy: %s", err.msg);
        } else {
            lg_httpd_stream *st;
            if (lg_httpd_stream_begin(r, f.status, hdrs, -1, &st, &err) == 0) {
                (void)!lg_httpd_stream_write(st, raw->data, raw->len);
                lg_httpd_stream_end(st, false);
            }
        }
    } else if (!raw->len || respond_json(r, gw_status, raw, false)) {
        respond_problem(r, gw_status, "loopgate_upstream_fault", "%s", res.detail);
    }
    if (queued)
        sjob_ready(p, job); /* a store thread takes it from here */
    else if (job)
        sjob_run(job); /* no store thread: here, after the answer */
out:
    if (f.st)
        lg_httpd_stream_end(f.st, false);
    free(hjson);
    lg_pusage_free(f.usage);
    lg_sse_free(f.framer);
    free(f.chunks);
    lg_buf_release(&f.raw);
    lg_buf_release(&f.stored);
    lg_http_headers_release(&f.hdrs);
}

/* ------------------------------------------------------------- tools */

static json_t *bytes_string(const char *p, size_t len) { return lg_utf8_json_string(p, len); }

/* Canonical JSON text of recorded arguments ("null" when there are none;
 * the bytes as they are when they are not JSON). Owned or NULL. */
static char *canon_args_bytes(const char *data, size_t len)
{
    if (!data || len == 0)
        return strdup("null");
    json_t *j = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (!j)
        return strndup(data, len);
    lg_buf b = LG_BUF_INIT;
    char *out = lg_json_dump_canonical(j, &b, NULL) ? NULL : lg_buf_take(&b, NULL);
    lg_buf_release(&b);
    json_decref(j);
    return out;
}

/* The /tool answer for a result: {"replay":true,"stdout",...}. `result`
 * is JSON text or NULL. New reference or NULL. */
static json_t *tool_answer(const char *out, size_t outlen, const char *errs, size_t errlen,
                           int exit_code, uint64_t duration_us, const char *result)
{
    json_t *res = result ? json_loads(result, JSON_DECODE_ANY, NULL) : NULL;
    json_t *a = json_pack("{s:b,s:o,s:o,s:i,s:I,s:o}", "replay", 1, "stdout",
                          bytes_string(out, outlen), "stderr", bytes_string(errs, errlen),
                          "exit_code", exit_code, "duration_us", (json_int_t)duration_us,
                          "result", res ? res : json_null());
    return a;
}

static const idem_entry *idem_find(const psession *s, const char *key)
{
    for (size_t i = 0; i < s->nidem; i++)
        if (strcmp(s->idem[i].key, key) == 0)
            return &s->idem[i];
    return NULL;
}

/* Remembers the first result of `key`; s->mu held. Borrows `answer`. */
static void idem_register(psession *s, const char *key, const json_t *answer)
{
    if (!key || !*key || !answer || idem_find(s, key))
        return;
    if (s->nidem == s->idem_cap) {
        size_t nc = s->idem_cap ? s->idem_cap * 2 : 8;
        idem_entry *ne = realloc(s->idem, nc * sizeof *ne);
        if (!ne)
            return;
        s->idem = ne;
        s->idem_cap = nc;
    }
    json_t *copy = json_deep_copy(answer);
    lg_buf b = LG_BUF_INIT;
    char *k = strdup(key), *text = NULL;
    if (copy && json_object_set_new(copy, "idempotent", json_true()) == 0 &&
        lg_json_dump_canonical(copy, &b, NULL) == 0)
        text = lg_buf_take(&b, NULL);
    lg_buf_release(&b);
    json_decref(copy);
    if (!k || !text) {
        free(k);
        free(text);
        lg_warn("proxy: session '%s': out of memory remembering idempotency key", s->key);
        return;
    }
    s->idem[s->nidem++] = (idem_entry){k, text};
}

/* Indexes the recording's replayable tool events once; s->mu held. */
static int tools_index(psession *s, lg_err *err)
{
    if (s->tools_indexed)
        return 0;
    s->tools_indexed = true;
    if (!s->rd)
        return 0;
    size_t cap = lg_session_reader_info(s->rd)->n_tools, n = lg_session_reader_count(s->rd);
    if (!cap)
        return 0;
    s->rtools = calloc(cap, sizeof *s->rtools);
    s->rtool_used = calloc(cap, 1);
    if (!s->rtools || !s->rtool_used)
        return LG_ERR(err, LG_ENOMEM, "proxy: out of memory indexing tools of '%s'", s->key);
    for (size_t i = 0; i < n && s->nrtool < cap; i++) {
        const lg_event *ev;
        if (lg_session_reader_event_kind(s->rd, i) != LG_EVENT_TOOL)
            continue; /* model calls are not decoded for this */
        int rc = lg_session_reader_event(s->rd, i, &ev, err);
        if (rc)
            return rc;
        if (ev->kind != LG_EVENT_TOOL || ev->tool.exit_code < 0)
            continue;
        char *canon = canon_args_bytes(ev->tool.args.data, ev->tool.args.len);
        if (!canon)
            return LG_ERR(err, LG_ENOMEM, "proxy: out of memory indexing tools of '%s'", s->key);
        s->rtools[s->nrtool++] = (rtool){i, ev->tool.name, canon};
    }
    return 0;
}

static bool rtool_equal(const rtool *t, const char *name, const char *args)
{
    return strcmp(t->name, name) == 0 && strcmp(t->args, args) == 0;
}

/* Reports a tool call that is not in the recording (s->mu NOT held):
 * event, warning, and a 409 unless `live`. `cmp` is the recorded tool
 * compared with (SIZE_MAX: none). */
static void tool_diverge(reqctx *c, lg_httpd_req *r, size_t call, size_t cmp, const char *name,
                         const char *args, bool live)
{
    lg_proxy *p = c->p;
    psession *s = c->s;
    lg_divergence d;
    lg_err err = LG_ERR_INIT;
    lg_buf path = LG_BUF_INIT, msg = LG_BUF_INIT, diff = LG_BUF_INIT;
    const rtool *rt = cmp != SIZE_MAX ? &s->rtools[cmp] : NULL;
    json_t *body = NULL;
    int rc = 0;
    lg_divergence_init(&d);
    if (!rt) {
        rc = lg_buf_appendf(&path, "tool[%zu]", call) ||
             lg_buf_appendf(&msg, "session %s, tool call %zu ('%s'): not in the recording (no "
                            "recorded tool call left to match)\n", s->key, call, name);
    } else if (strcmp(rt->name, name) != 0) {
        rc = lg_buf_appendf(&path, "tool[%zu].name", call) ||
             lg_buf_appendf(&diff, "--- recorded\n+++ incoming\n@@ -1 +1 @@\n-%s\n+%s\n",
                            rt->name, name);
    } else {
        lg_match_request rec = {"TOOL", "/tool", rt->args, strlen(rt->args)};
        lg_match_request in = {"TOOL", "/tool", args, strlen(args)};
        rc = lg_match_diff(NULL, &rec, &in, s->key, (long long)call, (long long)cmp, &d, &err);
        const char *dp = d.path ? d.path : "(body)";
        if (!rc)
            rc = dp[0] == '(' ? lg_buf_appendf(&path, "tool[%zu].args", call)
                 : dp[0] == '[' ? lg_buf_appendf(&path, "tool[%zu].args%s", call, dp)
                                : lg_buf_appendf(&path, "tool[%zu].args.%s", call, dp);
        if (!rc && d.diff)
            rc = lg_buf_append_str(&diff, d.diff);
    }
    if (!rc && rt) {
        if (cmp == call)
            rc = lg_buf_appendf(&msg, "session %s, tool call %zu ('%s'): differs from the "
                                "recording at %s\n%s", s->key, call, name, path.data,
                                lg_buf_cstr(&diff));
        else
            rc = lg_buf_appendf(&msg, "session %s, tool call %zu ('%s'): differs from recorded "
                                "tool call %zu at %s\n%s", s->key, call, name, cmp, path.data,
                                lg_buf_cstr(&diff));
    }
    if (rc) {
        respond_problem(r, 500, "loopgate_internal", "cannot build the divergence report");
        goto out;
    }
    note_divergence(s, c->t0, (int64_t)call, path.data, diff.len ? diff.data : NULL, &msg);
    if (p->o.on_diverge) {
        lg_divergence pd = d;
        pd.call = (long long)call;
        pd.recorded = rt ? (long long)cmp : -1;
        pd.path = path.data;
        pd.diff = diff.len ? diff.data : NULL;
        p->o.on_diverge(p->o.ud, s->key, &pd);
    }
    if (live) {
        lg_buf ok = LG_BUF_INIT;
        if (lg_buf_append_str(&ok, "{\"replay\":false,\"diverged\":true}") == 0)
            (void)!respond_json(r, 200, &ok, false);
        lg_buf_release(&ok);
        goto out;
    }
    body = json_pack("{s:{s:s,s:s,s:s,s:I,s:o,s:s,s:s?},s:s}", "error", "type",
                     "loopgate_divergence", "message", lg_buf_cstr(&msg), "session", s->key,
                     "tool_call", (json_int_t)call, "recorded_tool_call",
                     rt ? json_integer((json_int_t)cmp) : json_null(), "path", path.data,
                     "diff", diff.len ? diff.data : NULL, "type", "error");
    lg_buf out = LG_BUF_INIT;
    if (!body || lg_json_dump_canonical(body, &out, NULL) || respond_json(r, 409, &out, true))
        respond_problem(r, 409, "loopgate_divergence", "%s", lg_buf_cstr(&msg));
    lg_buf_release(&out);
out:
    json_decref(body);
    lg_buf_release(&path);
    lg_buf_release(&msg);
    lg_buf_release(&diff);
    lg_divergence_release(&d);
}

static void respond_text_json(lg_httpd_req *r, int status, const char *text)
{
    lg_buf b = LG_BUF_INIT;
    if (lg_buf_append_str(&b, text))
        respond_problem(r, 500, "loopgate_internal", "out of memory");
    else
        (void)!respond_json(r, status, &b, false);
    lg_buf_release(&b);
}

static void handle_tool(reqctx *c, lg_httpd_req *r)
{
    lg_proxy *p = c->p;
    psession *s = c->s;
    size_t len;
    const char *body = lg_httpd_req_body(r, &len);
    lg_err err = LG_ERR_INIT;
    json_t *j = lg_json_parse(body, len, "tool", &err), *answer = NULL;
    lg_buf args = LG_BUF_INIT;
    char *hit = NULL;
    const char *name, *key;
    const json_t *a;
    if (!j || !json_is_object(j) || !(name = lg_json_str(j, "name", NULL)) || !*name) {
        respond_problem(r, 400, "loopgate_bad_tool",
                        "session '%s': POST /tool needs a JSON object {\"name\": S, \"args\": ANY, "
                        "\"idem_key\": S?}%s%s", s->key, err.code ? ": " : "", err.msg);
        goto out;
    }
    key = lg_json_str(j, "idem_key", NULL);
    bool live_run = json_is_true(json_object_get(j, "live"));
    a = json_object_get(j, "args");
    if (a ? lg_json_dump_canonical(a, &args, &err) : lg_buf_append_str(&args, "null")) {
        respond_problem(r, 500, "loopgate_internal", "out of memory");
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    const idem_entry *ie = key && *key ? idem_find(s, key) : NULL;
    if (ie) {
        hit = strdup(ie->answer);
        s->rep.idempotent_hits++;
        pthread_mutex_unlock(&s->mu);
        if (!hit)
            respond_problem(r, 500, "loopgate_internal", "out of memory");
        else
            respond_text_json(r, 200, hit);
        goto out;
    }
    size_t call = s->next_tool++;
    s->rep.tools++;
    if (!replays(p) || s->live) {
        pthread_mutex_unlock(&s->mu);
        respond_text_json(r, 200, "{\"replay\":false}");
        goto out;
    }
    if (tools_index(s, &err)) {
        pthread_mutex_unlock(&s->mu);
        respond_problem(r, 500, "loopgate_store_error", "session '%s', tool call %zu: %s", s->key,
                        call, err.msg);
        goto out;
    }
    size_t idx = SIZE_MAX;
    if (call < s->nrtool && !s->rtool_used[call] && rtool_equal(&s->rtools[call], name, args.data))
        idx = call;
    for (size_t i = 0; idx == SIZE_MAX && i < s->nrtool; i++)
        if (!s->rtool_used[i] && rtool_equal(&s->rtools[i], name, args.data))
            idx = i;
    if (idx == SIZE_MAX) {
        bool live = false;
        if (p->o.mode == LG_PROXY_RECORD_MISSING) {
            pthread_mutex_unlock(&s->mu);
            respond_text_json(r, 200, "{\"replay\":false}");
            goto out;
        }
        if (p->o.on_divergence == LG_PROXY_DIVERGE_LIVE)
            s->live = live = true;
        size_t cmp = call < s->nrtool ? call : SIZE_MAX;
        pthread_mutex_unlock(&s->mu);
        tool_diverge(c, r, call, cmp, name, args.data, live);
        goto out;
    }
    s->rtool_used[idx] = 1;
    if (live_run) {
        /* the client runs it anyway (an idempotent tool rebuilding its work
         * directory) and posts the event: the recording only vouched for it */
        pthread_mutex_unlock(&s->mu);
        respond_text_json(r, 200, "{\"replay\":false,\"matched\":true}");
        goto out;
    }
    s->rep.tools_replayed++;
    const lg_event *ev;
    if (lg_session_reader_event(s->rd, s->rtools[idx].seq, &ev, &err)) {
        pthread_mutex_unlock(&s->mu);
        respond_problem(r, 500, "loopgate_store_error", "session '%s', tool call %zu: %s", s->key,
                        call, err.msg);
        goto out;
    }
    const lg_tool_event *t = &ev->tool;
    answer = tool_answer(t->out.data, t->out.len, t->err.data, t->err.len, t->exit_code,
                         t->duration_us, t->result);
    if (answer)
        idem_register(s, key, answer);
    pthread_mutex_unlock(&s->mu);
    lg_buf out = LG_BUF_INIT;
    if (!answer || lg_json_dump_canonical(answer, &out, NULL)) {
        respond_problem(r, 500, "loopgate_internal", "out of memory");
    } else {
        (void)!respond_json(r, 200, &out, false);
        lg_event copy = *ev;
        copy.t_us = rel_us(c->t0, s->t0);
        if (key && *key)
            copy.tool.idem_key = key;
        store_event(s, &copy);
    }
    lg_buf_release(&out);
out:
    free(hit);
    json_decref(answer);
    json_decref(j);
    lg_buf_release(&args);
}

/* ------------------------------------------------------------- events */

static const char *opt_str(const json_t *j, const char *k) { return lg_json_str(j, k, NULL); }

static int dump_opt(const json_t *j, const char *k, lg_buf *scratch, const char **out, lg_err *err)
{
    const json_t *v = json_object_get(j, k);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    lg_buf_reset(scratch);
    if (lg_json_dump_canonical(v, scratch, err))
        return LG_ENOMEM;
    *out = lg_buf_cstr(scratch);
    return 0;
}

int lg_proxy_event_from_json(const json_t *j, lg_event *ev, lg_buf scratch[3], lg_err *err)
{
    memset(ev, 0, sizeof *ev);
    if (!json_is_object(j))
        return LG_ERR(err, LG_EINPUT, "event: the body must be a JSON object with a \"type\"");
    const char *type = opt_str(j, "type");
    if (!type)
        return LG_ERR(err, LG_EINPUT, "event: missing \"type\" (iteration, invariant, note, "
                      "end, tool or verify)");
#define NEED_STR(field, dst)                                                                  \
    do {                                                                                      \
        if (!((dst) = opt_str(j, field)))                                                     \
            return LG_ERR(err, LG_EINPUT, "event '%s': \"%s\" must be a string", type, field); \
    } while (0)
    if (strcmp(type, "iteration") == 0) {
        const json_t *ix = json_object_get(j, "index");
        if (!json_is_integer(ix))
            return LG_ERR(err, LG_EINPUT, "event 'iteration': \"index\" must be an integer");
        ev->kind = LG_EVENT_ITERATION;
        ev->iteration.index = json_integer_value(ix);
        return dump_opt(j, "state", &scratch[0], &ev->iteration.state, err);
    }
    if (strcmp(type, "invariant") == 0) {
        ev->kind = LG_EVENT_INVARIANT;
        NEED_STR("name", ev->invariant.name);
        if (!json_is_boolean(json_object_get(j, "pass")))
            return LG_ERR(err, LG_EINPUT, "event 'invariant': \"pass\" must be true or false");
        ev->invariant.pass = json_is_true(json_object_get(j, "pass"));
        ev->invariant.detail = opt_str(j, "detail");
        return 0;
    }
    if (strcmp(type, "note") == 0) {
        ev->kind = LG_EVENT_NOTE;
        NEED_STR("text", ev->note.text);
        return dump_opt(j, "data", &scratch[0], &ev->note.data, err);
    }
    if (strcmp(type, "end") == 0) {
        ev->kind = LG_EVENT_END;
        NEED_STR("reason", ev->end.reason);
        ev->end.converged = json_is_true(json_object_get(j, "converged"));
        ev->end.error = opt_str(j, "error");
        return 0;
    }
    if (strcmp(type, "verify") == 0) {
        ev->kind = LG_EVENT_VERIFY;
        if (!json_is_boolean(json_object_get(j, "pass")))
            return LG_ERR(err, LG_EINPUT, "event 'verify': \"pass\" must be true or false");
        ev->verify.pass = json_is_true(json_object_get(j, "pass"));
        ev->verify.message = opt_str(j, "message");
        return 0;
    }
    if (strcmp(type, "tool") == 0) {
        const char *s;
        ev->kind = LG_EVENT_TOOL;
        NEED_STR("name", ev->tool.name);
        if (dump_opt(j, "args", &scratch[0], &s, err))
            return LG_ENOMEM;
        ev->tool.args.data = s;
        ev->tool.args.len = s ? strlen(s) : 0;
        if ((s = opt_str(j, "stdout"))) {
            ev->tool.out.data = s;
            ev->tool.out.len = strlen(s);
        }
        if ((s = opt_str(j, "stderr"))) {
            ev->tool.err.data = s;
            ev->tool.err.len = strlen(s);
        }
        ev->tool.exit_code = (int)lg_json_int(j, "exit_code", -1);
        ev->tool.duration_us = (uint64_t)lg_json_int(j, "duration_us", 0);
        ev->tool.idem_key = opt_str(j, "idempotency_key");
        return dump_opt(j, "result", &scratch[1], &ev->tool.result, err);
    }
#undef NEED_STR
    return LG_ERR(err, LG_EINPUT,
                  "event: unknown type '%s' (use iteration, invariant, note, end, tool or verify)",
                  type);
}

static void handle_event(reqctx *c, lg_httpd_req *r)
{
    psession *s = c->s;
    size_t len;
    const char *body = lg_httpd_req_body(r, &len);
    lg_err err = LG_ERR_INIT;
    lg_buf scratch[3] = {LG_BUF_INIT, LG_BUF_INIT, LG_BUF_INIT};
    json_t *j = lg_json_parse(body, len, "event", &err);
    lg_event ev;
    if (!j || lg_proxy_event_from_json(j, &ev, scratch, &err)) {
        respond_problem(r, 400, "loopgate_bad_event", "session '%s': %s", s->key, err.msg);
        goto out;
    }
    ev.t_us = since_us(s->t0);
    uint32_t seq = 0;
    bool stored = false;
    if (s->w) {
        if (store_at(s, take_ticket(s), &ev, &seq, &err)) {
            respond_problem(r, 400, "loopgate_bad_event", "session '%s': %s", s->key, err.msg);
            goto out;
        }
        stored = true;
    }
    json_t *answer = NULL;
    if (ev.kind == LG_EVENT_TOOL && ev.tool.idem_key && *ev.tool.idem_key)
        answer = tool_answer(ev.tool.out.data, ev.tool.out.len, ev.tool.err.data,
                             ev.tool.err.len, ev.tool.exit_code, ev.tool.duration_us,
                             ev.tool.result);
    pthread_mutex_lock(&s->mu);
    s->rep.events++;
    idem_register(s, answer ? ev.tool.idem_key : NULL, answer);
    pthread_mutex_unlock(&s->mu);
    json_decref(answer);
    lg_buf out = LG_BUF_INIT;
    if (stored ? lg_buf_appendf(&out, "{\"ok\":true,\"stored\":true,\"seq\":%u}", seq)
               : lg_buf_append_str(&out, "{\"ok\":true,\"stored\":false}"))
        respond_problem(r, 500, "loopgate_internal", "out of memory");
    else
        (void)!respond_json(r, 200, &out, false);
    lg_buf_release(&out);
out:
    json_decref(j);
    for (int i = 0; i < 3; i++)
        lg_buf_release(&scratch[i]);
}

/* ------------------------------------------------------------- routing */

static void reqctx_free(void *v)
{
    reqctx *c = v;
    if (c->s)
        session_release(c->s);
    free(c->target);
    lg_buf_release(&c->redacted);
    free(c);
}

static bool path_is(const char *target, const char *want)
{
    size_t n = strlen(want);
    return strncmp(target, want, n) == 0 && (target[n] == 0 || target[n] == '?');
}

/* Finds the session and the upstream target; answers 404 itself. */
static bool route(lg_proxy *p, reqctx *c, lg_httpd_req *r)
{
    const char *t = lg_httpd_req_target(r);
    const char *rest = t;
    if (strncmp(t, "/s/", 3) == 0) {
        const char *tok = t + 3;
        size_t tl = strcspn(tok, "/?");
        c->s = session_acquire(p, tok, tl, NULL);
        if (!c->s && !p->o.standalone) {
            respond_problem(r, 404, "loopgate_unknown_session",
                            "no open loopgate session '%.*s' (the token in /s/TOKEN/... comes "
                            "from the harness; is the trial still running?)",
                            (int)(tl > 64 ? 64 : tl), tok);
            return false;
        }
        if (c->s)
            rest = tok + tl;
    }
    if (!c->s) {
        if (!p->o.standalone) {
            respond_problem(r, 404, "loopgate_unknown_session",
                            "loopgate serves /s/<session token>/<upstream path>; '%.64s' has no "
                            "session (run `loopgate proxy` for standalone use)", t);
            return false;
        }
        const char *key = lg_httpd_req_header(r, "x-loopgate-session");
        if (!key || !*key)
            key = p->default_session;
        c->s = session_acquire(p, NULL, 0, key);
        if (!c->s) {
            lg_session_desc d = {key, NULL, NULL, -1, -1, 0};
            lg_err err = LG_ERR_INIT;
            psession *ns;
            int rc = session_create(p, &d, &ns, &err);
            (void)ns;
            /* another request may have created it meanwhile */
            c->s = session_acquire(p, NULL, 0, key);
            if (!c->s) {
                respond_problem(r, rc == LG_EUSAGE ? 400 : 500, "loopgate_session",
                                "cannot open session '%s': %s", key, err.msg);
                return false;
            }
        }
    }
    if (!*rest || *rest == '?') {
        size_t n = strlen(rest);
        c->target = malloc(n + 2);
        if (c->target) {
            c->target[0] = '/';
            memcpy(c->target + 1, rest, n + 1);
        }
    } else {
        c->target = strdup(rest);
    }
    if (!c->target) {
        respond_problem(r, 500, "loopgate_internal", "out of memory");
        return false;
    }
    return true;
}

/* The fingerprints the matcher needs when a request is not byte for byte
 * its recorded call: the request's, and the recording's (unless the session
 * went live); s->mu held. */
static int lazy_fingerprints(lg_proxy *p, psession *s, reqctx *c, const char *method,
                             lg_err *err)
{
    lg_match_request mr = {method, c->target, c->rbody, c->rlen};
    int rc = lg_match_fingerprint(p->o.match, &mr, &c->fp, err);
    return rc ? rc : s->live ? 0 : recorded_fps(p, s, err);
}

/* Redacts, fingerprints and picks the action under the session lock. */
static void decide(lg_proxy *p, reqctx *c, lg_httpd_req *r)
{
    psession *s = c->s;
    size_t len;
    const char *body = lg_httpd_req_body(r, &len);
    lg_err err = LG_ERR_INIT;
    lg_hash128 hash = {0, 0};
    lg_buf_init_capped(&c->redacted, BODY_CAP);
    c->rbody = "";
    c->rlen = 0;
    /* Replaying, the request is first compared byte for byte with the
     * recorded one: one pass of XXH3 over its redacted bytes (the body
     * itself when redaction cannot change it) against the stored body's
     * blob key; the fingerprint (a JSON parse) is computed when that fails.
     * Otherwise one lg_match_prepare() parses the body once for both. */
    bool lazy = replays(p) && s->rd;
    if (lazy) {
        if (lg_redact_body_unchanged(p->o.redact, body, len)) {
            c->rbody = body;
            c->rlen = len;
        } else if (lg_redact_body(p->o.redact, body, len, &c->redacted, NULL, &err)) {
            respond_problem(r, 500, "loopgate_internal", "session '%s': %s", s->key, err.msg);
            c->act = ACT_NONE;
            return;
        } else {
            c->rbody = lg_buf_cstr(&c->redacted);
            c->rlen = c->redacted.len;
        }
        hash = lg_hash_bytes(c->rbody, c->rlen);
    } else if (p->o.mode == LG_PROXY_RECORD) {
        /* nothing to decide from the body: it is prepared for the store
         * once the client has its answer (do_upstream) */
        c->prep_pending = true;
    } else if (p->o.mode != LG_PROXY_PASSTHROUGH) {
        lg_match_request mr = {lg_httpd_req_method(r), c->target, body, len};
        if (lg_match_prepare(p->o.redact, p->o.match, NULL, &mr, &c->redacted, NULL, &c->fp,
                             &err)) {
            respond_problem(r, 500, "loopgate_internal", "session '%s': %s", s->key, err.msg);
            c->act = ACT_NONE;
            return;
        }
        c->rbody = lg_buf_cstr(&c->redacted);
        c->rlen = c->redacted.len;
    }
    pthread_mutex_lock(&s->mu);
    c->call = s->next_call++;
    s->rep.calls++;
    if (p->o.mode == LG_PROXY_PASSTHROUGH) {
        c->act = ACT_FORWARD;
    } else if (lazy && !s->live &&
               same_as_recorded(s, c->call, lg_httpd_req_method(r), c->target, c->rlen, hash)) {
        lg_match_bit_set(s->consumed, c->call);
        c->act = ACT_REPLAY;
        c->rec_index = c->call;
        c->same_bytes = true;
        s->rep.replayed++;
    } else if (lazy && lazy_fingerprints(p, s, c, lg_httpd_req_method(r), &err)) {
        pthread_mutex_unlock(&s->mu);
        respond_problem(r, 500, "loopgate_internal", "session '%s': %s", s->key, err.msg);
        c->act = ACT_NONE;
        return;
    } else if (p->o.mode == LG_PROXY_RECORD || s->live) {
        c->act = ACT_RECORD;
    } else {
        size_t idx = SIZE_MAX;
        enum lg_match_pick pick = s->rd ? lg_match_take_call(s->rec_fp, s->nrec, s->consumed,
                                                             c->call, c->fp, &idx)
                                        : LG_MATCH_DIVERGED;
        if (pick != LG_MATCH_DIVERGED) {
            c->act = ACT_REPLAY;
            c->rec_index = idx;
            s->rep.replayed++;
        } else if (p->o.mode == LG_PROXY_RECORD_MISSING) {
            c->act = ACT_RECORD;
        } else {
            c->rec_index = idx;
            c->act = ACT_NONE;
            if (p->o.on_divergence == LG_PROXY_DIVERGE_LIVE) {
                s->live = true;
                c->act = ACT_RECORD;
            }
            pthread_mutex_unlock(&s->mu);
            diverge(c, r, idx, c->act == ACT_RECORD);
            return;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

/* The handler is done with the request: the session no longer waits for
 * it. Everything the answer needs was copied into the response (or the
 * stream's chunks), so closing the session right after, while the server
 * still writes the answer out, is safe; this spares lg_proxy_session_close
 * a wait for the server thread to finish the request. */
static int finished(reqctx *c)
{
    if (c->s) {
        session_release(c->s);
        c->s = NULL;
    }
    return LG_HTTPD_DONE;
}

static int handle(lg_httpd_req *r, void *ud)
{
    lg_proxy *p = ud;
    reqctx *c = lg_httpd_req_ctx(r);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c)
            return LG_HTTPD_DONE;
        c->p = p;
        c->t0 = lg_clock_mono_ns();
        lg_httpd_req_set_ctx(r, c, reqctx_free);
        if (!route(p, c, r))
            return finished(c);
        bool post = strcmp(lg_httpd_req_method(r), "POST") == 0;
        if (post && (path_is(c->target, "/event") || path_is(c->target, "/tool"))) {
            c->act = path_is(c->target, "/event") ? ACT_EVENT : ACT_TOOL;
            /* both store in the session's order: behind a call still
             * being stored they would wait, which is for a worker to do,
             * not for the event thread */
            if (c->s->w && store_pending(c->s))
                return LG_HTTPD_OFFLOAD;
            if (c->act == ACT_EVENT)
                handle_event(c, r);
            else
                handle_tool(c, r);
            return finished(c);
        }
        decide(p, c, r);
        if (c->act == ACT_NONE)
            return finished(c);
        if (c->act == ACT_REPLAY && p->o.pace == LG_PROXY_PACE_FAST &&
            !(c->s->w && store_pending(c->s))) {
            do_replay(c, r);
            return finished(c);
        }
        return LG_HTTPD_OFFLOAD;
    }
    if (c->act == ACT_EVENT)
        handle_event(c, r);
    else if (c->act == ACT_TOOL)
        handle_tool(c, r);
    else if (c->act == ACT_REPLAY)
        do_replay(c, r);
    else
        do_upstream(c, r);
    return finished(c);
}

/* ------------------------------------------------------------- lifecycle */

int lg_proxy_start(const lg_proxy_opts *opts, lg_proxy **out, lg_err *err)
{
    *out = NULL;
    const lg_proxy_opts *o = opts;
    if (o->mode < LG_PROXY_RECORD || o->mode > LG_PROXY_PASSTHROUGH)
        return LG_ERR(err, LG_EUSAGE, "proxy: unknown mode %d", o->mode);
    bool needs_upstream = !(o->mode == LG_PROXY_REPLAY && o->on_divergence == LG_PROXY_DIVERGE_FAIL);
    if (needs_upstream && (!o->upstream || !*o->upstream))
        return LG_ERR(err, LG_EUSAGE,
                      "proxy: this mode sends requests upstream: give --upstream URL");
    if (o->mode != LG_PROXY_PASSTHROUGH && !o->store)
        return LG_ERR(err, LG_EUSAGE, "proxy: this mode needs a trace store (--store FILE)");
    lg_proxy *p = calloc(1, sizeof *p);
    if (!p)
        return LG_ERR(err, LG_ENOMEM, "proxy: out of memory");
    p->o = *o;
    p->default_session = strdup(o->default_session ? o->default_session : "default");
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->smu, NULL);
    pthread_cond_init(&p->scv, NULL);
    int rc = 0;
    if (!p->default_session) {
        rc = LG_ERR(err, LG_ENOMEM, "proxy: out of memory");
        goto fail;
    }
    p->o.default_session = p->default_session;
    if (needs_upstream) {
        lg_upstream_opts uo = {0};
        uo.base_url = o->upstream;
        uo.total_timeout_ms = o->upstream_timeout_ms;
        uo.idle_timeout_ms = o->upstream_idle_ms;
        uo.env_credentials = o->env_credentials;
        if ((rc = lg_upstream_new(&uo, &p->up, err)))
            goto fail;
        p->o.upstream = lg_upstream_base_url(p->up);
    }
    lg_httpd_opts ho = {0};
    ho.port = o->port;
    ho.threads = o->threads;
    ho.handler = handle;
    ho.ud = p;
    if ((rc = lg_httpd_start(&ho, &p->h, err)))
        goto fail;
    *out = p;
    return 0;
fail:
    lg_upstream_free(p->up);
    free(p->default_session);
    pthread_cond_destroy(&p->scv);
    pthread_mutex_destroy(&p->smu);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return rc;
}

unsigned lg_proxy_port(const lg_proxy *p) { return lg_httpd_port(p->h); }

int lg_proxy_stop(lg_proxy *p, lg_proxy_report *total, lg_err *err)
{
    int rc = 0;
    if (total)
        memset(total, 0, sizeof *total);
    if (!p)
        return 0;
    lg_httpd_stop(p->h);
    /* no request runs any more: the store threads finish the queue */
    pthread_mutex_lock(&p->smu);
    p->sstop = true;
    pthread_cond_broadcast(&p->scv);
    pthread_mutex_unlock(&p->smu);
    for (unsigned i = 0; i < p->nsthreads; i++)
        pthread_join(p->sthreads[i], NULL);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        psession *s = p->sessions;
        if (s)
            p->sessions = s->next;
        pthread_mutex_unlock(&p->mu);
        if (!s)
            break;
        lg_proxy_report rep;
        int r = session_finish(p, s, &rep, err);
        if (r && !rc)
            rc = r;
        if (total)
            report_add(total, &rep);
        lg_proxy_report_release(&rep);
    }
    lg_upstream_free(p->up);
    free(p->default_session);
    pthread_cond_destroy(&p->scv);
    pthread_mutex_destroy(&p->smu);
    pthread_mutex_destroy(&p->mu);
    free(p);
    return rc;
}
