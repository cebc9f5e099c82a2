/* recorder/upstream.c - libcurl client with a handle pool; see upstream.h. */
#include "upstream.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/clock.h"

#define POOL_MAX 1024

struct lg_upstream {
    char *base; /* without a trailing '/' */
    lg_upstream_opts o;
    pthread_mutex_t mu;
    CURL **pool;
    size_t npool;
};

typedef struct call_state {
    const lg_upstream_sink *sink;
    lg_upstream_result *res;
    lg_http_headers hdrs;
    int status;
    bool in_head;      /* between a status line and its blank line */
    bool aborted_by_us;
    bool idle_timeout;
    bool cancelled;
    bool oom;
    uint64_t t0, last_rx;
    uint64_t idle_ns;
} call_state;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;
static void global_init_once(void) { global_rc = curl_global_init(CURL_GLOBAL_ALL); }

int lg_upstream_global_init(lg_err *err)
{
    pthread_once(&global_once, global_init_once);
    if (global_rc != CURLE_OK)
        return LG_ERR(err, LG_EINTERNAL, "upstream: curl_global_init failed: %s",
                      curl_easy_strerror(global_rc));
    return 0;
}

int lg_upstream_new(const lg_upstream_opts *opts, lg_upstream **out, lg_err *err)
{
    *out = NULL;
    if (lg_upstream_global_init(err))
        return err ? err->code : LG_EINTERNAL;
    if (!opts || !opts->base_url || !*opts->base_url)
        return LG_ERR(err, LG_EUSAGE, "upstream: no base URL given (use --upstream URL)");
    if (strncmp(opts->base_url, "http://", 7) != 0 && strncmp(opts->base_url, "https://", 8) != 0)
        return LG_ERR(err, LG_EUSAGE,
                      "upstream: base URL '%s' must start with http:// or https://",
                      opts->base_url);
    lg_upstream *u = calloc(1, sizeof *u);
    if (!u)
        return LG_ERR(err, LG_ENOMEM, "upstream: out of memory");
    u->o = *opts;
    u->base = strdup(opts->base_url);
    u->pool = calloc(POOL_MAX, sizeof *u->pool);
    if (!u->base || !u->pool) {
        free(u->base);
        free(u->pool);
        free(u);
        return LG_ERR(err, LG_ENOMEM, "upstream: out of memory");
    }
    size_t bl = strlen(u->base);
    while (bl > 0 && u->base[bl - 1] == '/')
        u->base[--bl] = 0;
    u->o.base_url = u->base;
    if (!u->o.connect_timeout_ms)
        u->o.connect_timeout_ms = 10000;
    if (!u->o.total_timeout_ms)
        u->o.total_timeout_ms = 600000;
    if (!u->o.idle_timeout_ms)
        u->o.idle_timeout_ms = 120000;
    pthread_mutex_init(&u->mu, NULL);
    *out = u;
    return 0;
}

void lg_upstream_free(lg_upstream *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->npool; i++)
        curl_easy_cleanup(u->pool[i]);
    free(u->pool);
    free(u->base);
    pthread_mutex_destroy(&u->mu);
    free(u);
}

const char *lg_upstream_base_url(const lg_upstream *u) { return u->base; }

const char *lg_upstream_fault_name(int fault)
{
    switch (fault) {
    case LG_UPSTREAM_REFUSED: return "refused";
    case LG_UPSTREAM_TIMEOUT: return "timeout";
    case LG_UPSTREAM_RESET: return "reset";
    case LG_UPSTREAM_CUT: return "cut";
    case LG_UPSTREAM_ABORTED: return "aborted";
    case LG_UPSTREAM_ERROR: return "error";
    default: return NULL;
    }
}

static CURL *pool_get(lg_upstream *u)
{
    CURL *c = NULL;
    pthread_mutex_lock(&u->mu);
    if (u->npool)
        c = u->pool[--u->npool];
    pthread_mutex_unlock(&u->mu);
    if (c)
        curl_easy_reset(c); /* keeps the connection cache */
    else
        c = curl_easy_init();
    return c;
}

static void pool_put(lg_upstream *u, CURL *c)
{
    pthread_mutex_lock(&u->mu);
    if (u->npool < POOL_MAX) {
        u->pool[u->npool++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&u->mu);
    if (c)
        curl_easy_cleanup(c);
}

/* ---------------------------------------------------------- callbacks */

static int deliver_head(call_state *st)
{
    if (st->res->head_delivered)
        return 0;
    st->res->head_delivered = true;
    st->res->status = st->status;
    st->res->ttfb_us = (lg_clock_mono_ns() - st->t0) / 1000;
    /* the body is handed over decoded, with a length of its own */
    size_t j = 0;
    for (size_t i = 0; i < st->hdrs.n; i++) {
        lg_http_header *f = &st->hdrs.v[i];
        if (lg_http_is_hop_by_hop(f->name) || strcasecmp(f->name, "content-encoding") == 0) {
            free(f->name);
            free(f->value);
        } else {
            st->hdrs.v[j++] = *f;
        }
    }
    st->hdrs.n = j;
    if (st->sink && st->sink->on_head && st->sink->on_head(st->sink->ud, st->status, &st->hdrs)) {
        st->aborted_by_us = true;
        return -1;
    }
    return 0;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    call_state *st = ud;
    size_t len = sz * n;
    st->last_rx = lg_clock_mono_ns();
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        /* a status line: a new head (after 100 Continue, for instance) */
        lg_http_headers_release(&st->hdrs);
        const char *sp = memchr(p, ' ', len);
        st->status = sp ? (int)strtol(sp + 1, NULL, 10) : 0;
        st->in_head = true;
        return len;
    }
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        st->in_head = false;
        if (st->status >= 200 && deliver_head(st))
            return 0; /* CURLE_WRITE_ERROR */
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon && st->in_head) {
        size_t nl = (size_t)(colon - p);
        size_t vl = len - nl - 1;
        if (lg_http_headers_add_n(&st->hdrs, p, nl, colon + 1, vl)) {
            st->oom = true;
            return 0;
        }
    }
    return len;
}

static size_t on_write(char *p, size_t sz, size_t n, void *ud)
{
    call_state *st = ud;
    size_t len = sz * n;
    st->last_rx = lg_clock_mono_ns();
    if (!st->res->head_delivered && deliver_head(st))
        return 0;
    st->res->body_bytes += len;
    if (st->sink && st->sink->on_body && st->sink->on_body(st->sink->ud, p, len)) {
        st->aborted_by_us = true;
        return 0;
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    call_state *st = ud;
    if (st->sink && st->sink->cancelled && st->sink->cancelled(st->sink->ud)) {
        st->cancelled = true;
        return 1;
    }
    if (lg_clock_mono_ns() - st->last_rx > st->idle_ns) {
        st->idle_timeout = true;
        return 1;
    }
    return 0;
}

/* ---------------------------------------------------------- the call */

static bool is_anthropic(const lg_upstream *u, const char *target, const lg_http_headers *h)
{
    return (h && lg_http_headers_get(h, "anthropic-version")) ||
           strstr(target, "/v1/messages") || strstr(u->base, "anthropic");
}

static int build_headers(const lg_upstream *u, const char *target, const lg_http_headers *in,
                         struct curl_slist **out)
{
    struct curl_slist *sl = NULL, *t;
    lg_buf line = LG_BUF_INIT;
    bool has_accept = false, has_ctype = false;
    for (size_t i = 0; in && i < in->n; i++) {
        const char *name = in->v[i].name;
        if (lg_http_is_hop_by_hop(name) || strcasecmp(name, "accept-encoding") == 0 ||
            strcasecmp(name, "expect") == 0)
            continue;
        if (strcasecmp(name, "accept") == 0)
            has_accept = true;
        if (strcasecmp(name, "content-type") == 0)
            has_ctype = true;
        lg_buf_reset(&line);
        /* "Name;" is libcurl's way to send a field with an empty value */
        if (*in->v[i].value ? lg_buf_appendf(&line, "%s: %s", name, in->v[i].value)
                            : lg_buf_appendf(&line, "%s;", name))
            goto oom;
        if (!(t = curl_slist_append(sl, line.data)))
            goto oom;
        sl = t;
    }
    /* libcurl's own defaults would add fields the client did not send */
    const char *suppress[] = {has_accept ? NULL : "Accept:", has_ctype ? NULL : "Content-Type:",
                              "Expect:", NULL};
    for (size_t i = 0; i < 3; i++) {
        if (!suppress[i])
            continue;
        if (!(t = curl_slist_append(sl, suppress[i])))
            goto oom;
        sl = t;
    }
    if (u->o.env_credentials && !(in && lg_http_has_credentials(in))) {
        bool anth = is_anthropic(u, target, in);
        const char *key = getenv(anth ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY");
        if (key && *key) {
            lg_buf_reset(&line);
            if (anth ? lg_buf_appendf(&line, "x-api-key: %s", key)
                     : lg_buf_appendf(&line, "Authorization: Bearer %s", key))
                goto oom;
            t = curl_slist_append(sl, line.data);
            /* wipe the key from our buffer before freeing it */
            memset(line.data, 0, line.len);
            if (!t)
                goto oom;
            sl = t;
        }
    }
    lg_buf_release(&line);
    *out = sl;
    return 0;
oom:
    if (line.data)
        memset(line.data, 0, line.len);
    lg_buf_release(&line);
    curl_slist_free_all(sl);
    return LG_ENOMEM;
}

static int classify(CURLcode rc, const call_state *st)
{
    if (rc == CURLE_OK)
        return LG_UPSTREAM_OK;
    if (st->idle_timeout || rc == CURLE_OPERATION_TIMEDOUT)
        return LG_UPSTREAM_TIMEOUT;
    if (st->cancelled || st->aborted_by_us)
        return LG_UPSTREAM_ABORTED;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return LG_UPSTREAM_REFUSED;
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return st->res->head_delivered ? LG_UPSTREAM_CUT : LG_UPSTREAM_RESET;
    default:
        return LG_UPSTREAM_ERROR;
    }
}

int lg_upstream_call(lg_upstream *u, const char *method, const char *target,
                     const lg_http_headers *headers, const void *body, size_t len,
                     const lg_upstream_sink *sink, lg_upstream_result *res, lg_err *err)
{
    memset(res, 0, sizeof *res);
    if (!method || !*method || strpbrk(method, " \r\n"))
        return LG_ERR(err, LG_EUSAGE, "upstream: bad method '%s'", method ? method : "");
    if (!target || target[0] != '/' || strpbrk(target, " \r\n"))
        return LG_ERR(err, LG_EUSAGE, "upstream: target '%s' must be a path starting with '/'",
                      target ? target : "");
    lg_buf url = LG_BUF_INIT;
    if (lg_buf_appendf(&url, "%s%s", u->base, target))
        return LG_ERR(err, LG_ENOMEM, "upstream: out of memory");
    struct curl_slist *sl = NULL;
    if (build_headers(u, target, headers, &sl)) {
        lg_buf_release(&url);
        return LG_ERR(err, LG_ENOMEM, "upstream: out of memory for request headers");
    }
    CURL *c = pool_get(u);
    if (!c) {
        curl_slist_free_all(sl);
        lg_buf_release(&url);
        return LG_ERR(err, LG_ENOMEM, "upstream: cannot create a libcurl handle");
    }
    call_state st;
    memset(&st, 0, sizeof st);
    st.sink = sink;
    st.res = res;
    lg_http_headers_init(&st.hdrs);
    st.t0 = st.last_rx = lg_clock_mono_ns();
    st.idle_ns = (uint64_t)u->o.idle_timeout_ms * 1000000ull;

    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* all encodings curl decodes */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, u->o.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, u->o.total_timeout_ms);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &st);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &st);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 16384L);
    if (strcmp(method, "GET") == 0 && len == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, len ? body : "");
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (strcmp(method, "POST") != 0)
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK && !res->head_delivered) {
        /* a head with no body and no blank-line callback (HEAD, 204) */
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        st.status = (int)code;
        if (deliver_head(&st))
            rc = CURLE_WRITE_ERROR;
    }
    res->fault = classify(rc, &st);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &res->new_connections);
    if (!res->head_delivered)
        res->status = 0;
    if (rc != CURLE_OK) {
        const char *why = st.idle_timeout ? "no data received within the idle timeout"
                          : st.cancelled  ? "cancelled"
                                          : curl_easy_strerror(rc);
        snprintf(res->detail, sizeof res->detail, "%s %s: %s", method, target, why);
    }
    res->total_us = (lg_clock_mono_ns() - st.t0) / 1000;
    /* a handle that failed mid-transfer keeps no half-read connection:
     * libcurl closes those itself, so the handle is safe to pool */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    pool_put(u, c);
    curl_slist_free_all(sl);
    lg_http_headers_release(&st.hdrs);
    lg_buf_release(&url);
    if (st.oom)
        return LG_ERR(err, LG_ENOMEM, "upstream: out of memory for response headers");
    return 0;
}
