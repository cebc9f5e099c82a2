/* tests/test_httpd.c - recorder/httpd.c through real HTTP clients (libcurl, raw sockets). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "recorder/httpd.h"

/* ------------------------------------------------------------ a client */

typedef struct got {
    lg_buf body;
    lg_buf headers;
    long status;
    CURLcode rc;
    /* arrival of each write callback, ms since the request started */
    double t[64];
    size_t sizes[64];
    int nwrites;
    uint64_t t0;
} got;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    got *g = ud;
    if (g->nwrites < 64) {
        g->t[g->nwrites] = (double)(lg_clock_mono_ns() - g->t0) / 1e6;
        g->sizes[g->nwrites] = sz * n;
        g->nwrites++;
    }
    return lg_buf_append(&g->body, p, sz * n) ? 0 : sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    got *g = ud;
    return lg_buf_append(&g->headers, p, sz * n) ? 0 : sz * n;
}

static void request(unsigned port, const char *method, const char *target, const char *body,
                    const char *const *hdrs, got *g)
{
    char url[256];
    memset(g, 0, sizeof *g);
    lg_buf_init(&g->body);
    lg_buf_init(&g->headers);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, target);
    CURL *c = curl_easy_init();
    struct curl_slist *sl = NULL;
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        sl = curl_slist_append(sl, hdrs[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    g->t0 = lg_clock_mono_ns();
    g->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_slist_free_all(sl);
    curl_easy_cleanup(c);
}

static void got_release(got *g)
{
    lg_buf_release(&g->body);
    lg_buf_release(&g->headers);
}

/* ------------------------------------------------------------ handlers */

/* Echoes what it saw as text: method, target, path, the X-Test headers, body. */
static int echo_handler(lg_httpd_req *r, void *ud)
{
    (void)ud;
    lg_buf out = LG_BUF_INIT;
    size_t blen;
    const char *body = lg_httpd_req_body(r, &blen);
    int rc = lg_buf_appendf(&out, "%s|%s|%s|%s|", lg_httpd_req_method(r), lg_httpd_req_target(r),
                            lg_httpd_req_path(r), lg_httpd_req_in_worker(r) ? "worker" : "event");
    const lg_http_headers *h = lg_httpd_req_headers(r);
    for (size_t i = 0; i < h->n; i++)
        if (strncasecmp(h->v[i].name, "x-test", 6) == 0)
            rc = rc ? rc : lg_buf_appendf(&out, "%s=%s;", h->v[i].name, h->v[i].value);
    rc = rc ? rc : lg_buf_appendf(&out, "|%zu:", blen);
    rc = rc ? rc : lg_buf_append(&out, body, blen);
    cr_assert_eq(rc, 0);
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    cr_assert_eq(lg_http_headers_add(&hd, "Content-Type", "text/plain"), 0);
    cr_assert_eq(lg_http_headers_add(&hd, "X-Echo", "yes"), 0);
    cr_assert_eq(lg_http_headers_add(&hd, "Content-Length", "999"), 0); /* must be dropped */
    int status = strstr(lg_httpd_req_target(r), "teapot") ? 418 : 200;
    cr_assert_eq(lg_httpd_respond(r, status, &hd, out.data, out.len, NULL), 0);
    /* a second answer is refused */
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_httpd_respond(r, 200, NULL, "x", 1, &err), LG_EUSAGE);
    lg_http_headers_release(&hd);
    lg_buf_release(&out);
    return LG_HTTPD_DONE;
}

static int offload_echo_handler(lg_httpd_req *r, void *ud)
{
    if (!lg_httpd_req_in_worker(r))
        return LG_HTTPD_OFFLOAD;
    lg_clock_sleep_ns(20 * 1000000ull);
    return echo_handler(r, ud);
}

static lg_httpd *start(lg_httpd_handler fn, void *ud, size_t max_body)
{
    lg_httpd_opts o = {0};
    lg_httpd *h = NULL;
    lg_err err = LG_ERR_INIT;
    o.handler = fn;
    o.ud = ud;
    o.max_body = max_body;
    int rc = lg_httpd_start(&o, &h, &err);
    cr_assert_eq(rc, 0, "start: %s", err.msg);
    cr_assert_gt(lg_httpd_port(h), 0u);
    return h;
}

/* ------------------------------------------------------------ tests */

Test(httpd, request_fields_and_full_response)
{
    lg_httpd *h = start(echo_handler, NULL, 0);
    got g;
    const char *hdrs[] = {"X-Test-One: 1", "X-Test-Two:  two words ", NULL};
    request(lg_httpd_port(h), "POST", "/s/tok/v1/messages?beta=true&x=%20y", "{\"a\":1}", hdrs,
            &g);
    cr_assert_eq(g.rc, CURLE_OK, "%s", curl_easy_strerror(g.rc));
    cr_expect_eq(g.status, 200);
    cr_expect_str_eq(lg_buf_cstr(&g.body),
                     "POST|/s/tok/v1/messages?beta=true&x=%20y|/s/tok/v1/messages|event|"
                     "X-Test-One=1;X-Test-Two=two words;|7:{\"a\":1}");
    cr_expect(strstr(lg_buf_cstr(&g.headers), "X-Echo: yes"), "%s", lg_buf_cstr(&g.headers));
    char want_len[64];
    snprintf(want_len, sizeof want_len, "Content-Length: %zu\r\n", g.body.len);
    cr_expect(strstr(lg_buf_cstr(&g.headers), want_len), "%s", lg_buf_cstr(&g.headers));
    cr_expect(!strstr(lg_buf_cstr(&g.headers), "999"));
    got_release(&g);

    request(lg_httpd_port(h), "GET", "/teapot", NULL, NULL, &g);
    cr_expect_eq(g.status, 418);
    cr_expect(strncmp(lg_buf_cstr(&g.body), "GET|/teapot|/teapot|event||0:", 29) == 0, "%s",
              lg_buf_cstr(&g.body));
    got_release(&g);
    lg_httpd_stop(h);
}

Test(httpd, binds_loopback_and_reports_port_in_use)
{
    lg_httpd *h = start(echo_handler, NULL, 0);
    unsigned port = lg_httpd_port(h);
    lg_httpd_opts o = {0};
    lg_httpd *h2 = NULL;
    lg_err err = LG_ERR_INIT;
    o.handler = echo_handler;
    o.port = port;
    cr_expect_neq(lg_httpd_start(&o, &h2, &err), 0);
    cr_expect_null(h2);
    cr_expect(strstr(err.msg, "127.0.0.1") && strstr(err.msg, "in use"), "%s", err.msg);

    /* the listening socket is on 127.0.0.1 only: check through /proc */
    char hex[32];
    snprintf(hex, sizeof hex, "0100007F:%04X", port);
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f);
    char line[512];
    bool found = false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, hex) && strstr(line, " 0A "))
            found = true;
    fclose(f);
    cr_expect(found, "no LISTEN socket on 127.0.0.1:%u", port);
    lg_httpd_stop(h);

    lg_err_clear(&err);
    o.handler = NULL;
    cr_expect_eq(lg_httpd_start(&o, &h2, &err), LG_EUSAGE);
}

Test(httpd, body_over_cap_is_413_json)
{
    lg_httpd *h = start(echo_handler, NULL, 100);
    got g;
    char big[201];
    memset(big, 'a', 200);
    big[200] = 0;
    request(lg_httpd_port(h), "POST", "/big", big, NULL, &g);
    cr_expect_eq(g.status, 413);
    cr_expect(strstr(lg_buf_cstr(&g.body), "\"type\":\"request_too_large\""), "%s",
              lg_buf_cstr(&g.body));
    cr_expect(strstr(lg_buf_cstr(&g.headers), "application/json"));
    got_release(&g);

    /* chunked upload (no declared length) past the cap */
    const char *chunked[] = {"Transfer-Encoding: chunked", NULL};
    request(lg_httpd_port(h), "POST", "/big", big, chunked, &g);
    cr_expect_eq(g.status, 413);
    got_release(&g);

    /* exactly at the cap is fine */
    big[100] = 0;
    request(lg_httpd_port(h), "POST", "/ok", big, NULL, &g);
    cr_expect_eq(g.status, 200);
    cr_expect(strstr(lg_buf_cstr(&g.body), "|100:aaaa"));
    got_release(&g);
    lg_httpd_stop(h);
}

Test(httpd, offloaded_handler_runs_in_worker)
{
    lg_httpd *h = start(offload_echo_handler, NULL, 0);
    got g;
    request(lg_httpd_port(h), "PUT", "/w", "xyz", NULL, &g);
    cr_assert_eq(g.rc, CURLE_OK);
    cr_expect_eq(g.status, 200);
    cr_expect_str_eq(lg_buf_cstr(&g.body), "PUT|/w|/w|worker||3:xyz");
    got_release(&g);
    lg_httpd_stop(h);
}

/* Streams three chunks from a worker, 120 ms apart; "/cut" ends short. */
static int stream_handler(lg_httpd_req *r, void *ud)
{
    (void)ud;
    if (!lg_httpd_req_in_worker(r))
        return LG_HTTPD_OFFLOAD;
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    lg_httpd_stream *s = NULL;
    bool cut = strcmp(lg_httpd_req_path(r), "/cut") == 0;
    bool sized = strcmp(lg_httpd_req_path(r), "/sized") == 0;
    cr_assert_eq(lg_http_headers_add(&hd, "Content-Type", "text/event-stream"), 0);
    cr_assert_eq(lg_httpd_stream_begin(r, 200, &hd, sized || cut ? 3 * 14 : -1, &s, NULL), 0);
    lg_http_headers_release(&hd);
    for (int i = 0; i < 3; i++) {
        char ev[32];
        int n = snprintf(ev, sizeof ev, "data: chunk%d\n\n", i);
        cr_assert_eq(n, 14);
        if (cut && i == 2) {
            lg_httpd_stream_end(s, false);
            return LG_HTTPD_DONE;
        }
        cr_assert_eq(lg_httpd_stream_write(s, ev, (size_t)n), 0);
        if (i < 2)
            lg_clock_sleep_ns(120 * 1000000ull);
    }
    lg_httpd_stream_end(s, true);
    return LG_HTTPD_DONE;
}

Test(httpd, stream_chunks_arrive_as_written)
{
    lg_httpd *h = start(stream_handler, NULL, 0);
    got g;
    request(lg_httpd_port(h), "GET", "/sse", NULL, NULL, &g);
    cr_assert_eq(g.rc, CURLE_OK, "%s", curl_easy_strerror(g.rc));
    cr_expect_str_eq(lg_buf_cstr(&g.body), "data: chunk0\n\ndata: chunk1\n\ndata: chunk2\n\n");
    cr_expect(strstr(lg_buf_cstr(&g.headers), "Transfer-Encoding: chunked"));
    /* three separate arrivals, each about 120 ms after the previous one:
     * a server that buffered the stream would deliver one piece at ~240 ms */
    cr_assert_eq(g.nwrites, 3, "writes: %d", g.nwrites);
    cr_expect_lt(g.t[0], 80.0, "first chunk at %.1f ms", g.t[0]);
    cr_expect(g.t[1] - g.t[0] > 100.0 && g.t[1] - g.t[0] < 200.0, "gap %.1f", g.t[1] - g.t[0]);
    cr_expect(g.t[2] - g.t[1] > 100.0 && g.t[2] - g.t[1] < 200.0, "gap %.1f", g.t[2] - g.t[1]);
    got_release(&g);

    request(lg_httpd_port(h), "GET", "/sized", NULL, NULL, &g);
    cr_assert_eq(g.rc, CURLE_OK, "%s", curl_easy_strerror(g.rc));
    cr_expect(strstr(lg_buf_cstr(&g.headers), "Content-Length: 42"));
    cr_expect_eq(g.body.len, 42u);
    got_release(&g);

    request(lg_httpd_port(h), "GET", "/cut", NULL, NULL, &g);
    cr_expect_neq(g.rc, CURLE_OK, "a cut stream must look cut to the client");
    cr_expect_str_eq(lg_buf_cstr(&g.body), "data: chunk0\n\ndata: chunk1\n\n");
    got_release(&g);
    lg_httpd_stop(h);
}

/* Inline streaming from the event thread: all chunks queued at once still
 * go out as separate HTTP chunks (checked on the raw wire). */
static int inline_stream_handler(lg_httpd_req *r, void *ud)
{
    (void)ud;
    lg_httpd_stream *s = NULL;
    cr_assert_eq(lg_httpd_stream_begin(r, 200, NULL, -1, &s, NULL), 0);
    cr_assert_eq(lg_httpd_stream_write(s, "data: a\n\n", 9), 0);
    cr_assert_eq(lg_httpd_stream_write(s, "data: bb\n\n", 10), 0);
    lg_httpd_stream_end(s, true);
    return LG_HTTPD_DONE;
}

static int connect_port(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

Test(httpd, inline_stream_keeps_chunk_framing)
{
    lg_httpd *h = start(inline_stream_handler, NULL, 0);
    int fd = connect_port(lg_httpd_port(h));
    const char req[] = "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    char buf[4096];
    size_t n = 0;
    ssize_t k;
    while ((k = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += (size_t)k;
    buf[n] = 0;
    close(fd);
    const char *body = strstr(buf, "\r\n\r\n");
    cr_assert_not_null(body, "%s", buf);
    cr_expect_str_eq(body + 4, "9\r\ndata: a\n\n\r\nA\r\ndata: bb\n\n\r\n0\r\n\r\n");
    lg_httpd_stop(h);
}

/* Many concurrent keep-alive connections, each request parked 100 ms in a
 * worker: they must overlap (a server serialising them would take 30 s). */
static int slow_handler(lg_httpd_req *r, void *ud)
{
    atomic_int *inflight = ud;
    if (!lg_httpd_req_in_worker(r))
        return LG_HTTPD_OFFLOAD;
    atomic_fetch_add(inflight, 1);
    lg_clock_sleep_ns(100 * 1000000ull);
    atomic_fetch_sub(inflight, 1);
    cr_assert_eq(lg_httpd_respond(r, 200, NULL, "ok", 2, NULL), 0);
    return LG_HTTPD_DONE;
}

Test(httpd, hundreds_of_concurrent_connections)
{
    enum { N = 300 };
    atomic_int inflight;
    atomic_init(&inflight, 0);
    lg_httpd *h = start(slow_handler, &inflight, 0);
    CURLM *m = curl_multi_init();
    CURL *e[N];
    got *g = calloc(N, sizeof *g);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/slow", lg_httpd_port(h));
    curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, 0L);
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = lg_clock_mono_ns();
        for (int i = 0; i < N; i++) {
            if (round == 0) {
                lg_buf_init(&g[i].body);
                e[i] = curl_easy_init();
                curl_easy_setopt(e[i], CURLOPT_URL, url);
                curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, on_body);
                curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
                curl_easy_setopt(e[i], CURLOPT_TIMEOUT, 20L);
            }
            lg_buf_reset(&g[i].body);
            g[i].nwrites = 0;
            curl_easy_setopt(e[i], CURLOPT_WRITEDATA, &g[i]);
            curl_multi_add_handle(m, e[i]);
        }
        int running = 1;
        while (running) {
            curl_multi_perform(m, &running);
            if (running)
                curl_multi_poll(m, NULL, 0, 100, NULL);
        }
        CURLMsg *msg;
        int left, ok = 0;
        while ((msg = curl_multi_info_read(m, &left)))
            if (msg->msg == CURLMSG_DONE && msg->data.result == CURLE_OK)
                ok++;
        double ms = (double)(lg_clock_mono_ns() - t0) / 1e6;
        cr_expect_eq(ok, N, "round %d: %d of %d ok", round, ok, N);
        cr_expect_lt(ms, 8000.0, "round %d took %.0f ms", round, ms);
        for (int i = 0; i < N; i++) {
            cr_expect_str_eq(lg_buf_cstr(&g[i].body), "ok");
            long conns = -1;
            curl_easy_getinfo(e[i], CURLINFO_NUM_CONNECTS, &conns);
            if (round == 1)
                cr_expect_eq(conns, 0, "round 2 must reuse the keep-alive connection");
            curl_multi_remove_handle(m, e[i]);
        }
    }
    for (int i = 0; i < N; i++) {
        curl_easy_cleanup(e[i]);
        lg_buf_release(&g[i].body);
    }
    free(g);
    curl_multi_cleanup(m);
    lg_httpd_stop(h);
}

/* A stream left open by its writer is cut by stop; the writer sees LG_EIO. */
typedef struct hold {
    lg_httpd_stream *s;
    atomic_bool begun;
} hold;

static int hold_handler(lg_httpd_req *r, void *ud)
{
    hold *hd = ud;
    cr_assert_eq(lg_httpd_stream_begin(r, 200, NULL, -1, &hd->s, NULL), 0);
    cr_assert_eq(lg_httpd_stream_write(hd->s, "data: 1\n\n", 9), 0);
    atomic_store(&hd->begun, true);
    return LG_HTTPD_DONE;
}

static void *client_thread(void *arg)
{
    unsigned port = *(unsigned *)arg;
    got *g = malloc(sizeof *g);
    request(port, "GET", "/hold", NULL, NULL, g);
    return g;
}

Test(httpd, stop_cuts_open_streams)
{
    hold hd;
    hd.s = NULL;
    atomic_init(&hd.begun, false);
    lg_httpd *h = start(hold_handler, &hd, 0);
    unsigned port = lg_httpd_port(h);
    pthread_t t;
    pthread_create(&t, NULL, client_thread, &port);
    while (!atomic_load(&hd.begun))
        lg_clock_sleep_ns(1000000);
    lg_clock_sleep_ns(50 * 1000000ull); /* the client got chunk 1; connection parked */
    uint64_t t0 = lg_clock_mono_ns();
    lg_httpd_stop(h);
    cr_expect_lt((lg_clock_mono_ns() - t0) / 1000000, 2000u);
    got *g;
    pthread_join(t, (void **)&g);
    cr_expect_neq(g->rc, CURLE_OK);
    cr_expect_str_eq(lg_buf_cstr(&g->body), "data: 1\n\n");
    cr_expect_eq(lg_httpd_stream_write(hd.s, "x", 1), LG_EIO);
    lg_httpd_stream_end(hd.s, true);
    got_release(g);
    free(g);
}
