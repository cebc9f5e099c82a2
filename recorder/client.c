/* recorder/client.c - a JSON and SSE client over recorder/upstream; see client.h. */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/json.h"
#include "recorder/upstream.h"

#define DEFAULT_MAX_BODY ((size_t)64 << 20)

struct lg_client {
    lg_upstream *up;
    size_t max_body;
    volatile sig_atomic_t *cancel;
};

int lg_client_new(const lg_client_opts *opts, lg_client **out, lg_err *err)
{
    *out = NULL;
    if (!opts)
        return LG_ERR(err, LG_EUSAGE, "client: no options");
    lg_client *c = calloc(1, sizeof *c);
    if (!c)
        return LG_ERR(err, LG_ENOMEM, "client: out of memory");
    lg_upstream_opts uo = {0};
    uo.base_url = opts->base_url;
    uo.connect_timeout_ms = opts->connect_timeout_ms;
    uo.total_timeout_ms = opts->timeout_ms;
    uo.idle_timeout_ms = opts->idle_timeout_ms;
    uo.env_credentials = false;
    int rc = lg_upstream_new(&uo, &c->up, err);
    if (rc) {
        free(c);
        return rc;
    }
    c->max_body = opts->max_body ? opts->max_body : DEFAULT_MAX_BODY;
    c->cancel = opts->cancel;
    *out = c;
    return 0;
}

void lg_client_free(lg_client *c)
{
    if (!c)
        return;
    lg_upstream_free(c->up);
    free(c);
}

const char *lg_client_base_url(const lg_client *c) { return lg_upstream_base_url(c->up); }

void lg_client_resp_init(lg_client_resp *r)
{
    memset(r, 0, sizeof *r);
    lg_http_headers_init(&r->headers);
    lg_buf_init(&r->body);
}

void lg_client_resp_release(lg_client_resp *r)
{
    if (!r)
        return;
    lg_http_headers_release(&r->headers);
    lg_buf_release(&r->body);
    lg_client_resp_init(r);
}

typedef struct call {
    lg_client *c;
    lg_client_resp *r;
    lg_client_event_fn on_event;
    void *ud;
    lg_sse *framer;
    bool stop; /* the event callback asked to stop */
    bool oom;
} call;

static int on_head(void *ud, int status, const lg_http_headers *h)
{
    call *k = ud;
    k->r->status = status;
    if (lg_http_headers_copy(&k->r->headers, h)) {
        k->oom = true;
        return -1;
    }
    const char *ct = lg_http_headers_get(h, "content-type");
    k->r->sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
    if (k->r->sse && k->on_event && !(k->framer = lg_sse_new(0))) {
        k->oom = true;
        return -1;
    }
    return 0;
}

static int deliver(const lg_sse_event *ev, void *ud)
{
    call *k = ud;
    if (k->stop)
        return 0;
    if (k->on_event(ev, k->ud)) {
        k->stop = true;
        return LG_EINPUT;
    }
    return 0;
}

static int on_body(void *ud, const char *data, size_t len)
{
    call *k = ud;
    if (!k->r->truncated) {
        size_t room = k->c->max_body - k->r->body.len;
        size_t take = len < room ? len : room;
        if (take && lg_buf_append(&k->r->body, data, take)) {
            k->oom = true;
            return -1;
        }
        if (take < len)
            k->r->truncated = true;
    }
    if (k->framer) {
        lg_err e = LG_ERR_INIT;
        if (lg_sse_feed(k->framer, data, len, deliver, k, &e))
            return -1; /* the callback stopped, or an event passed the framer's cap */
    }
    return 0;
}

static bool cancelled(void *ud)
{
    call *k = ud;
    return k->c->cancel && *k->c->cancel;
}

int lg_client_request(lg_client *c, const char *method, const char *path,
                      const lg_http_headers *headers, const void *body, size_t len,
                      lg_client_event_fn on_event, void *ud, lg_client_resp *resp, lg_err *err)
{
    lg_client_resp_release(resp);
    lg_buf_init_capped(&resp->body, c->max_body);
    call k = {c, resp, on_event, ud, NULL, false, false};
    lg_upstream_sink sink = {on_head, on_body, cancelled, &k};
    lg_upstream_result res;
    lg_http_headers none = LG_HTTP_HEADERS_INIT;
    int rc = lg_upstream_call(c->up, method, path, headers ? headers : &none, body, len, &sink,
                              &res, err);
    if (rc) {
        lg_sse_free(k.framer);
        return rc;
    }
    if (k.framer && !k.stop) {
        lg_err e = LG_ERR_INIT;
        (void)!lg_sse_finish(k.framer, deliver, &k, &e);
    }
    lg_sse_free(k.framer);
    if (k.oom)
        return LG_ERR(err, LG_ENOMEM, "client: out of memory reading the response of %s %s",
                      method, path);
    resp->fault = res.fault;
    resp->total_us = res.total_us;
    if (!res.head_delivered)
        resp->status = 0;
    snprintf(resp->detail, sizeof resp->detail, "%s", res.detail);
    return 0;
}

int lg_client_post_json(lg_client *c, const char *path, const json_t *body,
                        lg_client_resp *resp, json_t **json_out, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    int rc;
    if (json_out)
        *json_out = NULL;
    if ((rc = lg_json_dump_canonical(body, &b, err)))
        goto out;
    if (lg_http_headers_add(&h, "content-type", "application/json") ||
        lg_http_headers_add(&h, "accept", "application/json")) {
        rc = LG_ERR(err, LG_ENOMEM, "client: out of memory");
        goto out;
    }
    if ((rc = lg_client_request(c, "POST", path, &h, b.data, b.len, NULL, NULL, resp, err)))
        goto out;
    if (json_out && resp->body.len)
        *json_out = json_loadb(resp->body.data, resp->body.len, 0, NULL);
out:
    lg_buf_release(&b);
    lg_http_headers_release(&h);
    return rc;
}

int64_t lg_client_retry_after_ms(const lg_http_headers *h)
{
    const char *v = lg_http_headers_get(h, "retry-after-ms");
    char *end;
    if (v && *v) {
        errno = 0;
        double ms = strtod(v, &end);
        if (!errno && end != v && *end == 0 && ms >= 0 && isfinite(ms))
            return (int64_t)ms;
    }
    v = lg_http_headers_get(h, "retry-after");
    if (!v || !*v)
        return -1;
    errno = 0;
    double s = strtod(v, &end);
    if (!errno && end != v && *end == 0 && s >= 0 && isfinite(s))
        return (int64_t)(s * 1000.0);
    /* an HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT" */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return -1;
    int64_t at = (int64_t)timegm(&tm) * 1000, now = lg_clock_wall_ms();
    return at > now ? at - now : 0;
}
