/* harness/sim_server.c - the simulated model over recorder/httpd; see sim_server.h. */
#include "sim_server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/pcg.h"
#include "harness/sim_model.h"
#include "recorder/httpd.h"

/* Occurrence counts per request hash: open addressing, grows at 50% load. */
typedef struct seen_map {
    uint64_t *keys;
    uint32_t *counts;
    size_t cap, n;
} seen_map;

struct lg_sim_server {
    lg_sim_config cfg;
    lg_httpd *httpd;
    pthread_mutex_t mu;
    seen_map seen;
    atomic_uint_fast64_t requests;
};

static int seen_grow(seen_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 1024;
    uint64_t *nk = calloc(ncap, sizeof *nk);
    uint32_t *nc = calloc(ncap, sizeof *nc);
    if (!nk || !nc) {
        free(nk);
        free(nc);
        return LG_ENOMEM;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->counts[i])
            continue;
        size_t j = m->keys[i] & (ncap - 1);
        while (nc[j])
            j = (j + 1) & (ncap - 1);
        nk[j] = m->keys[i];
        nc[j] = m->counts[i];
    }
    free(m->keys);
    free(m->counts);
    m->keys = nk;
    m->counts = nc;
    m->cap = ncap;
    return 0;
}

/* Returns how often `key` was seen before and counts this time. */
static uint64_t seen_bump(lg_sim_server *s, uint64_t key)
{
    seen_map *m = &s->seen;
    uint64_t before = 0;
    pthread_mutex_lock(&s->mu);
    if ((m->n + 1) * 2 > m->cap && seen_grow(m)) {
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    size_t j = key & (m->cap - 1);
    while (m->counts[j] && m->keys[j] != key)
        j = (j + 1) & (m->cap - 1);
    if (m->counts[j]) {
        before = m->counts[j];
    } else {
        m->keys[j] = key;
        m->n++;
    }
    if (m->counts[j] < UINT32_MAX)
        m->counts[j]++;
    pthread_mutex_unlock(&s->mu);
    return before;
}

static void plan_free(void *p)
{
    lg_sim_plan_release(p);
    free(p);
}

static void serve(lg_httpd_req *r, const lg_sim_plan *p)
{
    lg_err err = LG_ERR_INIT;
    if (p->delay_ms)
        lg_clock_sleep_ns((uint64_t)p->delay_ms * 1000000ull);
    if (!p->stream && !p->cut) {
        if (lg_httpd_respond(r, p->status, &p->headers, p->body.data, p->body.len, &err))
            lg_warn("sim-server: %s", err.msg);
        return;
    }
    lg_httpd_stream *st = NULL;
    if (lg_httpd_stream_begin(r, p->status, &p->headers, p->stream ? -1 : (int64_t)p->body.len,
                              &st, &err)) {
        lg_warn("sim-server: %s", err.msg);
        return;
    }
    if (!p->stream) {
        /* a truncated body under a full content-length */
        (void)!lg_httpd_stream_write(st, p->body.data, p->cut_at);
        lg_httpd_stream_end(st, false);
        return;
    }
    size_t start = 0;
    for (size_t i = 0; i < p->nchunks; i++) {
        if (p->cut && i == p->cut_at)
            break;
        if (i > 0 && p->gap_ms) {
            if (lg_httpd_stopping(lg_httpd_req_server(r)))
                break;
            lg_clock_sleep_ns((uint64_t)p->gap_ms * 1000000ull);
        }
        if (lg_httpd_stream_write(st, p->body.data + start, p->chunk_end[i] - start))
            break; /* the client went away */
        start = p->chunk_end[i];
    }
    lg_httpd_stream_end(st, !p->cut);
}

/* A non-negative integer header value, or -1. */
static int64_t header_num(const lg_httpd_req *r, const char *name)
{
    const char *v = lg_httpd_req_header(r, name);
    char *end;
    if (!v || *v < '0' || *v > '9')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || *end || x > (unsigned long long)INT64_MAX)
        return -1;
    return (int64_t)x;
}

static int handle(lg_httpd_req *r, void *ud)
{
    lg_sim_server *s = ud;
    lg_sim_plan *p = lg_httpd_req_ctx(r);
    if (!p) {
        size_t len;
        const char *body = lg_httpd_req_body(r, &len);
        const char *method = lg_httpd_req_method(r), *path = lg_httpd_req_path(r);
        lg_err err = LG_ERR_INIT;
        int64_t ci = header_num(r, "x-loopgate-case"), tr = header_num(r, "x-loopgate-trial");
        uint64_t key = lg_sim_request_hash(method, path, body, len);
        atomic_fetch_add(&s->requests, 1);
        /* two trials may send the same bytes: count them apart */
        if (ci >= 0)
            key = lg_pcg32_mix(lg_pcg32_mix(key, (uint64_t)ci + 1), (uint64_t)(tr + 1));
        uint64_t occ = seen_bump(s, key);
        lg_sim_request rq = {method, path, body, len, occ, ci, tr};
        p = malloc(sizeof *p);
        if (!p)
            return LG_HTTPD_DONE; /* httpd answers 500 */
        lg_sim_plan_init(p);
        lg_httpd_req_set_ctx(r, p, plan_free);
        if (lg_sim_plan_call(&s->cfg, &rq, p, &err)) {
            (void)!lg_httpd_respond_error(r, 500, NULL, "sim_error", err.msg, NULL);
            return LG_HTTPD_DONE;
        }
        if (p->fault)
            lg_info("sim-server: %s %s -> fault %s", method, path, lg_sim_fault_name(p->fault));
        if (s->cfg.model)
            lg_debug("sim-server: case %lld trial %lld: %s (status %d%s%s)",
                     (long long)p->case_index, (long long)p->trial,
                     lg_sim_turn_kind_name(p->turn_kind), p->status, p->fault ? ", fault " : "",
                     p->fault ? lg_sim_fault_name(p->fault) : "");
    }
    bool sleeps = p->delay_ms || (p->stream && p->gap_ms && p->nchunks > 1);
    if (sleeps && !lg_httpd_req_in_worker(r))
        return LG_HTTPD_OFFLOAD;
    serve(r, p);
    return LG_HTTPD_DONE;
}

int lg_sim_server_start(const lg_sim_config *cfg, unsigned port, lg_sim_server **out,
                        lg_err *err)
{
    *out = NULL;
    lg_sim_server *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ERR(err, LG_ENOMEM, "sim-server: out of memory");
    s->cfg = *cfg;
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->requests, 0);
    lg_httpd_opts o = {0};
    o.port = port;
    o.handler = handle;
    o.ud = s;
    int rc = lg_httpd_start(&o, &s->httpd, err);
    if (rc) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

unsigned lg_sim_server_port(const lg_sim_server *s) { return lg_httpd_port(s->httpd); }

uint64_t lg_sim_server_requests(const lg_sim_server *s) { return atomic_load(&s->requests); }

void lg_sim_server_stop(lg_sim_server *s)
{
    if (!s)
        return;
    lg_httpd_stop(s->httpd);
    free(s->seen.keys);
    free(s->seen.counts);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
