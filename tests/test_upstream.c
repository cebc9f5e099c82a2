/* tests/test_upstream.c - recorder/upstream.c against real local servers
 * (recorder/httpd and a raw socket that hangs up). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "recorder/httpd.h"
#include "recorder/upstream.h"

/* gzip of {"decoded":"hello hello hello hello"} (python gzip, mtime 0) */
static const unsigned char gz[] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x4a, 0x49,
    0x4d, 0xce, 0x4f, 0x49, 0x4d, 0x51, 0xb2, 0x52, 0xca, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
    0xc0, 0x20, 0x95, 0x6a, 0x01, 0xf7, 0xed, 0xbd, 0x3b, 0x25, 0x00, 0x00, 0x00};

/* The test server: /echo-headers answers with the request headers as text,
 * /gzip with a gzip body, /sse with three chunks 100 ms apart, /cut with a
 * stream that stops short, /sleep after 1.5 s, /429 with retry-after. */
static int server(lg_httpd_req *r, void *ud)
{
    (void)ud;
    const char *p = lg_httpd_req_path(r);
    lg_http_headers hd = LG_HTTP_HEADERS_INIT;
    if (!lg_httpd_req_in_worker(r) && (!strcmp(p, "/sse") || !strcmp(p, "/cut") ||
                                       !strcmp(p, "/sleep")))
        return LG_HTTPD_OFFLOAD;
    if (!strcmp(p, "/base/echo-headers") || !strcmp(p, "/echo-headers")) {
        lg_buf out = LG_BUF_INIT;
        const lg_http_headers *h = lg_httpd_req_headers(r);
        cr_assert_eq(lg_buf_appendf(&out, "%s %s\n", lg_httpd_req_method(r), lg_httpd_req_target(r)), 0);
        for (size_t i = 0; i < h->n; i++)
            cr_assert_eq(lg_buf_appendf(&out, "%s: %s\n", h->v[i].name, h->v[i].value), 0);
        size_t bl;
        const char *b = lg_httpd_req_body(r, &bl);
        cr_assert_eq(lg_buf_appendf(&out, "body=%.*s\n", (int)bl, b), 0);
        cr_assert_eq(lg_http_headers_add(&hd, "X-Request-Id", "req_123"), 0);
        cr_assert_eq(lg_httpd_respond(r, 201, &hd, out.data, out.len, NULL), 0);
        lg_buf_release(&out);
    } else if (!strcmp(p, "/gzip")) {
        cr_assert_eq(lg_http_headers_add(&hd, "Content-Encoding", "gzip"), 0);
        cr_assert_eq(lg_http_headers_add(&hd, "Content-Type", "application/json"), 0);
        cr_assert_eq(lg_httpd_respond(r, 200, &hd, gz, sizeof gz, NULL), 0);
    } else if (!strcmp(p, "/sse") || !strcmp(p, "/cut")) {
        lg_httpd_stream *s;
        cr_assert_eq(lg_http_headers_add(&hd, "Content-Type", "text/event-stream"), 0);
        cr_assert_eq(lg_httpd_stream_begin(r, 200, &hd, -1, &s, NULL), 0);
        for (int i = 0; i < 3; i++) {
            char ev[32];
            int n = snprintf(ev, sizeof ev, "data: %d\n\n", i);
            if (i == 2 && !strcmp(p, "/cut"))
                break;
            cr_assert_eq(lg_httpd_stream_write(s, ev, (size_t)n), 0);
            lg_clock_sleep_ns(100 * 1000000ull);
        }
        lg_httpd_stream_end(s, strcmp(p, "/cut") != 0);
    } else if (!strcmp(p, "/sleep")) {
        lg_clock_sleep_ns(1500 * 1000000ull);
        cr_assert_eq(lg_httpd_respond(r, 200, NULL, "late", 4, NULL), 0);
    } else if (!strcmp(p, "/429")) {
        cr_assert_eq(lg_http_headers_add(&hd, "Retry-After", "2"), 0);
        cr_assert_eq(lg_httpd_respond_error(r, 429, &hd, "rate_limit", "slow down", NULL), 0);
    } else {
        cr_assert_eq(lg_httpd_respond(r, 404, NULL, "no", 2, NULL), 0);
    }
    lg_http_headers_release(&hd);
    return LG_HTTPD_DONE;
}

static lg_httpd *srv;
static char base[64];

static void setup(void)
{
    lg_httpd_opts o = {0};
    lg_err err = LG_ERR_INIT;
    o.handler = server;
    cr_assert_eq(lg_httpd_start(&o, &srv, &err), 0, "%s", err.msg);
    snprintf(base, sizeof base, "http://127.0.0.1:%u", lg_httpd_port(srv));
}

static void teardown(void) { lg_httpd_stop(srv); }

typedef struct sinkbuf {
    int status;
    lg_http_headers hd;
    lg_buf body;
    double t[16];
    int n;
    uint64_t t0;
} sinkbuf;

static int s_head(void *ud, int status, const lg_http_headers *h)
{
    sinkbuf *s = ud;
    s->status = status;
    return lg_http_headers_copy(&s->hd, h);
}

static int s_body(void *ud, const char *d, size_t len)
{
    sinkbuf *s = ud;
    if (s->n < 16)
        s->t[s->n++] = (double)(lg_clock_mono_ns() - s->t0) / 1e6;
    return lg_buf_append(&s->body, d, len);
}

static lg_upstream *client(const char *url, long idle_ms, bool env)
{
    lg_upstream_opts o = {0};
    lg_upstream *u = NULL;
    lg_err err = LG_ERR_INIT;
    o.base_url = url;
    o.idle_timeout_ms = idle_ms;
    o.env_credentials = env;
    cr_assert_eq(lg_upstream_new(&o, &u, &err), 0, "%s", err.msg);
    return u;
}

static void call(lg_upstream *u, const char *method, const char *target, const lg_http_headers *h,
                 const char *body, sinkbuf *s, lg_upstream_result *res)
{
    lg_upstream_sink sk = {s_head, s_body, NULL, s};
    lg_err err = LG_ERR_INIT;
    memset(s, 0, sizeof *s);
    lg_buf_init(&s->body);
    s->t0 = lg_clock_mono_ns();
    int rc = lg_upstream_call(u, method, target, h, body, body ? strlen(body) : 0, &sk, res, &err);
    cr_assert_eq(rc, 0, "%s", err.msg);
}

static void sink_release(sinkbuf *s)
{
    lg_http_headers_release(&s->hd);
    lg_buf_release(&s->body);
}

TestSuite(upstream, .init = setup, .fini = teardown);

Test(upstream, forwards_headers_except_hop_by_hop)
{
    char url[96];
    snprintf(url, sizeof url, "%s/base/", base);
    lg_upstream *u = client(url, 0, false);
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    cr_assert_eq(lg_http_headers_add(&h, "anthropic-version", "2023-06-01"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "anthropic-beta", "tools-2024"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "OpenAI-Organization", "org-1"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "X-Custom", "kept"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Connection", "close, x-custom-hop"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Keep-Alive", "timeout=5"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Proxy-Authorization", "Basic zzz"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Host", "evil.example"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Content-Length", "999"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Accept-Encoding", "identity"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "TE", "trailers"), 0);
    cr_assert_eq(lg_http_headers_add(&h, "Upgrade", "h2c"), 0);
    sinkbuf s;
    lg_upstream_result res;
    call(u, "POST", "/echo-headers?q=1", &h, "{\"x\":1}", &s, &res);
    cr_assert_eq(res.fault, LG_UPSTREAM_OK, "%s", res.detail);
    cr_expect_eq(res.status, 201);
    cr_expect_eq(s.status, 201);
    const char *t = lg_buf_cstr(&s.body);
    cr_expect(strstr(t, "POST /base/echo-headers?q=1\n"), "%s", t);
    cr_expect(strstr(t, "anthropic-version: 2023-06-01\n"), "%s", t);
    cr_expect(strstr(t, "anthropic-beta: tools-2024\n"), "%s", t);
    cr_expect(strstr(t, "OpenAI-Organization: org-1\n"), "%s", t);
    cr_expect(strstr(t, "X-Custom: kept\n"), "%s", t);
    cr_expect(strstr(t, "Content-Length: 7\n"), "%s", t);
    cr_expect(strstr(t, "body={\"x\":1}\n"), "%s", t);
    cr_expect(!strstr(t, "Keep-Alive"), "%s", t);
    cr_expect(!strstr(t, "Proxy-Authorization"), "%s", t);
    cr_expect(!strstr(t, "evil.example"), "%s", t);
    cr_expect(!strstr(t, "999"), "%s", t);
    cr_expect(!strstr(t, "identity"), "%s", t);
    cr_expect(!strstr(t, "TE:"), "%s", t);
    cr_expect(!strstr(t, "h2c"), "%s", t);
    cr_expect(!strstr(t, "Content-Type"), "curl must not invent a content type: %s", t);
    cr_expect(!strstr(t, "Accept:"), "curl must not invent an Accept: %s", t);
    cr_expect(!strstr(t, "Expect"), "%s", t);
    cr_expect_str_eq(lg_http_headers_get(&s.hd, "x-request-id"), "req_123");
    cr_expect_null(lg_http_headers_get(&s.hd, "content-length"));
    sink_release(&s);
    lg_http_headers_release(&h);
    lg_upstream_free(u);
}

Test(upstream, credentials_from_environment_only_when_client_sent_none)
{
    lg_upstream *u = client(base, 0, true);
    setenv("OPENAI_API_KEY", "sk-test-openai", 1);
    setenv("ANTHROPIC_API_KEY", "sk-ant-test", 1);
    lg_http_headers h = LG_HTTP_HEADERS_INIT;
    sinkbuf s;
    lg_upstream_result res;
    call(u, "POST", "/echo-headers", &h, "{}", &s, &res);
    cr_expect(strstr(lg_buf_cstr(&s.body), "Authorization: Bearer sk-test-openai\n"), "%s",
              lg_buf_cstr(&s.body));
    cr_expect(!strstr(lg_buf_cstr(&s.body), "x-api-key"));
    sink_release(&s);

    cr_assert_eq(lg_http_headers_add(&h, "anthropic-version", "2023-06-01"), 0);
    call(u, "POST", "/echo-headers", &h, "{}", &s, &res);
    cr_expect(strstr(lg_buf_cstr(&s.body), "x-api-key: sk-ant-test\n"), "%s", lg_buf_cstr(&s.body));
    cr_expect(!strstr(lg_buf_cstr(&s.body), "Authorization"));
    sink_release(&s);

    cr_assert_eq(lg_http_headers_add(&h, "X-Api-Key", "client-own"), 0);
    call(u, "POST", "/echo-headers", &h, "{}", &s, &res);
    cr_expect(strstr(lg_buf_cstr(&s.body), "X-Api-Key: client-own\n"), "%s", lg_buf_cstr(&s.body));
    cr_expect(!strstr(lg_buf_cstr(&s.body), "sk-ant-test"));
    sink_release(&s);
    lg_http_headers_release(&h);
    lg_upstream_free(u);

    /* without env_credentials nothing is added */
    u = client(base, 0, false);
    call(u, "POST", "/echo-headers", NULL, "{}", &s, &res);
    cr_expect(!strstr(lg_buf_cstr(&s.body), "sk-test-openai"));
    sink_release(&s);
    lg_upstream_free(u);
}

Test(upstream, gzip_is_decoded_and_encoding_removed)
{
    lg_upstream *u = client(base, 0, false);
    sinkbuf s;
    lg_upstream_result res;
    call(u, "GET", "/gzip", NULL, NULL, &s, &res);
    cr_assert_eq(res.fault, LG_UPSTREAM_OK, "%s", res.detail);
    cr_expect_str_eq(lg_buf_cstr(&s.body), "{\"decoded\":\"hello hello hello hello\"}");
    cr_expect_null(lg_http_headers_get(&s.hd, "content-encoding"));
    cr_expect_str_eq(lg_http_headers_get(&s.hd, "content-type"), "application/json");
    cr_expect_eq(res.body_bytes, strlen("{\"decoded\":\"hello hello hello hello\"}"));
    sink_release(&s);
    lg_upstream_free(u);
}

Test(upstream, stream_is_delivered_as_it_arrives_and_connection_reused)
{
    lg_upstream *u = client(base, 0, false);
    sinkbuf s;
    lg_upstream_result res;
    call(u, "POST", "/sse", NULL, "{}", &s, &res);
    cr_assert_eq(res.fault, LG_UPSTREAM_OK, "%s", res.detail);
    cr_expect_str_eq(lg_buf_cstr(&s.body), "data: 0\n\ndata: 1\n\ndata: 2\n\n");
    cr_assert_geq(s.n, 3, "pieces: %d", s.n);
    cr_expect_lt(s.t[0], 80.0, "first piece at %.1f ms", s.t[0]);
    cr_expect_gt(s.t[s.n - 1] - s.t[0], 150.0, "pieces not spread over time");
    sink_release(&s);
    /* sequential calls reuse the kept-alive connection */
    for (int i = 0; i < 20; i++) {
        call(u, "GET", "/gzip", NULL, NULL, &s, &res);
        cr_assert_eq(res.fault, LG_UPSTREAM_OK);
        cr_expect_eq(res.new_connections, 0, "call %d opened a new connection", i);
        sink_release(&s);
    }
    lg_upstream_free(u);
}

Test(upstream, faults_are_classified)
{
    lg_upstream *u = client(base, 500, false);
    sinkbuf s;
    lg_upstream_result res;

    call(u, "POST", "/cut", NULL, "{}", &s, &res);
    cr_expect_eq(res.fault, LG_UPSTREAM_CUT, "fault %d: %s", res.fault, res.detail);
    cr_expect_eq(res.status, 200);
    cr_expect_str_eq(lg_buf_cstr(&s.body), "data: 0\n\ndata: 1\n\n");
    cr_expect_str_eq(lg_upstream_fault_name(res.fault), "cut");
    sink_release(&s);

    uint64_t t0 = lg_clock_mono_ns();
    call(u, "GET", "/sleep", NULL, NULL, &s, &res);
    cr_expect_eq(res.fault, LG_UPSTREAM_TIMEOUT, "fault %d: %s", res.fault, res.detail);
    cr_expect_lt((lg_clock_mono_ns() - t0) / 1000000, 1400u, "idle timeout not honoured");
    cr_expect_eq(res.status, 0);
    sink_release(&s);

    call(u, "GET", "/429", NULL, NULL, &s, &res);
    cr_expect_eq(res.fault, LG_UPSTREAM_OK);
    cr_expect_eq(res.status, 429);
    cr_expect_str_eq(lg_http_headers_get(&s.hd, "retry-after"), "2");
    sink_release(&s);
    lg_upstream_free(u);

    /* refused: a port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(sa.sin_port));
    u = client(url, 0, false);
    call(u, "GET", "/x", NULL, NULL, &s, &res);
    cr_expect_eq(res.fault, LG_UPSTREAM_REFUSED, "fault %d: %s", res.fault, res.detail);
    cr_expect_str_eq(lg_upstream_fault_name(res.fault), "refused");
    sink_release(&s);
    lg_upstream_free(u);
}

/* A server that reads the request and hangs up without a word. */
static void *hangup_server(void *arg)
{
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    char buf[4096];
    (void)!read(c, buf, sizeof buf);
    close(c);
    return NULL;
}

Test(upstream, hangup_before_head_is_reset)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(lfd, 4), 0);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    pthread_t t;
    pthread_create(&t, NULL, hangup_server, &lfd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", ntohs(sa.sin_port));
    lg_upstream *u = client(url, 0, false);
    sinkbuf s;
    lg_upstream_result res;
    call(u, "POST", "/x", NULL, "{}", &s, &res);
    cr_expect_eq(res.fault, LG_UPSTREAM_RESET, "fault %d: %s", res.fault, res.detail);
    cr_expect_eq(res.head_delivered, false);
    sink_release(&s);
    pthread_join(t, NULL);
    close(lfd);
    lg_upstream_free(u);
}

Test(upstream, bad_arguments)
{
    lg_upstream_opts o = {0};
    lg_upstream *u = NULL;
    lg_err err = LG_ERR_INIT;
    o.base_url = "ftp://x";
    cr_expect_eq(lg_upstream_new(&o, &u, &err), LG_EUSAGE);
    cr_expect(strstr(err.msg, "http://"), "%s", err.msg);
    u = client(base, 0, false);
    lg_upstream_result res;
    lg_err_clear(&err);
    cr_expect_eq(lg_upstream_call(u, "GET", "no-slash", NULL, NULL, 0, NULL, &res, &err), LG_EUSAGE);
    lg_upstream_free(u);
}
