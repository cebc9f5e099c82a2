/*
 * bench/bench_proxy.c - record/replay proxy benchmark (issue 4).
 *
 * Workload: C cases x K calls of OpenAI chat completions, generated from a
 * seed: each request ~8 KB (a shared system prompt and four tool schemas, a
 * case's task, one earlier tool call and its result), each answer ~600 B
 * (the simulated model's tool call). Everything runs in this one process on
 * 127.0.0.1 over keep-alive connections, in this order, on those same
 * exchanges:
 *
 *   record   `loopgate sim-server`'s model (harness/sim_server) upstream of
 *            a record proxy (recorder/proxy, harness sessions /s/<token>/...,
 *            as `loopgate run --record` drives it). One sequential client
 *            sends every request directly to the sim and through the proxy,
 *            back to back in alternating order, in --passes passes (each
 *            re-records the sessions). record_overhead_p50_us/_p99_us: per
 *            request, its least latency through the proxy minus its least
 *            latency direct (the least of the passes drops the milliseconds
 *            other processes on a shared machine add to single calls), then
 *            the percentile over requests; _raw_ variants: percentile of
 *            all proxied samples minus percentile of all direct ones. The
 *            responses through the proxy must equal the direct ones.
 *   replay   the recording, reopened read-only, served by a replay proxy.
 *            A client lane opens a session (lg_proxy_session_open: the
 *            recording of one case is loaded), sends the case's K requests
 *            one after the other, closes the session, and takes the next
 *            case, round robin over the cases. Every answer must equal the
 *            recorded one byte for byte. replay_rps: 32 lanes at once;
 *            replay_rps_1: one lane.
 *   trivial  the peer and loopback limit: a libmicrohttpd server written
 *            right here on the raw API (internal epoll thread pool of 2, one
 *            prebuilt response) answering every request with a fixed 600 B
 *            body. Same client, same requests, same lanes: trivial_rps and
 *            trivial_rps_1.
 *   vcrpy    the other peer: bench/vcrpy_replay.py records one cassette per
 *            case with vcrpy against the same sim, then replays them in
 *            process the usual way (requests.Session inside
 *            vcr.use_cassette, one cassette per case), sequentially:
 *            vcrpy_rps (default matching on method and URL) and
 *            vcrpy_rps_match_body (matching the body too, as loopgate does).
 *
 * The client is a small HTTP/1.1 client on raw sockets (epoll for many
 * lanes) so that it costs the shared CPUs as little as possible; it runs in
 * the same process as the servers and competes with them for the machine's
 * cores (a 2-core machine: the JSON says so). Each throughput is measured
 * over --seconds after a warm-up.
 *
 * Beside the rates: replay_cpu_us_per_call and trivial_cpu_us_per_call, the
 * process's CPU time (client and server threads) per answer, which other
 * load on the machine does not inflate the way it does wall-clock rates.
 *
 * Prints one JSON object on stdout (diagnostics on stderr); bench/run proxy
 * calls it. Exit status 0, 1 when an answer was wrong or a step failed, 2
 * bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/pcg.h"
#include "core/proc.h"
#include "harness/sim.h"
#include "harness/sim_server.h"
#include "recorder/match.h"
#include "recorder/proxy.h"
#include "recorder/redact.h"
#include "recorder/store.h"

#define CHAT_PATH "/v1/chat/completions"
#define BENCH_KEY "sk-bench-0123456789abcdefghijklmnopqrstuv"
#define TRIVIAL_BYTES 600
#define RESP_CAP ((size_t)4 << 20)
#define MAX_REPORTED 5

/* ------------------------------------------------------------ exchanges */

typedef struct exch {
    char *req;
    size_t req_len;
    char *resp; /* the sim's answer, filled by the record step */
    size_t resp_len;
} exch;

typedef struct bench {
    size_t cases, calls;
    exch *ex; /* cases * calls, case-major */
    uint64_t seed;
    double seconds, warmup;
    unsigned clients;
} bench;

static exch *exch_at(const bench *b, size_t c, size_t k) { return &b->ex[c * b->calls + k]; }

static const char *const vocab[] = {
    "the", "request", "file", "function", "returns", "error", "when", "buffer", "parser", "config",
    "test", "failing", "value", "index", "header", "stream", "chunk", "offset", "limit", "retry",
    "timeout", "client", "server", "token", "cache", "session", "module", "handler", "length",
    "missing", "empty", "update", "check", "because", "before", "after", "each", "line", "column",
    "unicode", "boundary", "decode", "encode", "format", "option", "default", "flag", "state",
};

static int add_words(lg_buf *b, lg_pcg32 *r, size_t bytes)
{
    size_t end = b->len + bytes;
    int rc = 0;
    while (!rc && b->len < end) {
        const char *w = vocab[lg_pcg32_boundedrand(r, sizeof vocab / sizeof *vocab)];
        rc = lg_buf_append_str(b, w);
        if (!rc)
            rc = lg_buf_append_byte(b, lg_pcg32_boundedrand(r, 12) == 0 ? '.' : ' ');
    }
    return rc;
}

static json_t *tool_schema(lg_pcg32 *r, const char *name, const char *arg)
{
    lg_buf d = LG_BUF_INIT;
    json_t *t = NULL;
    if (add_words(&d, r, 260) == 0)
        t = json_pack("{s:s,s:{s:s,s:s,s:{s:s,s:{s:{s:s,s:s}},s:[s]}}}", "type", "function",
                      "function", "name", name, "description", lg_buf_cstr(&d), "parameters",
                      "type", "object", "properties", arg, "type", "string", "description",
                      "what to look at", "required", arg);
    lg_buf_release(&d);
    return t;
}

/* The requests of every case and call: compact JSON as SDKs send it. */
static int make_exchanges(bench *b)
{
    lg_pcg32 r;
    lg_buf sys = LG_BUF_INIT, task = LG_BUF_INIT, result = LG_BUF_INIT;
    json_t *tools = json_array();
    int rc = -1;

    lg_pcg32_srandom(&r, b->seed, 1);
    if (!tools || add_words(&sys, &r, 1800))
        goto out;
    static const char *const names[][2] = {
        {"read_file", "path"}, {"search_code", "query"}, {"run_tests", "target"}, {"edit_file", "patch"}};
    for (size_t i = 0; i < 4; i++) {
        json_t *t = tool_schema(&r, names[i][0], names[i][1]);
        if (!t || json_array_append_new(tools, t))
            goto out;
    }
    if (!(b->ex = calloc(b->cases * b->calls, sizeof *b->ex)))
        goto out;
    for (size_t c = 0; c < b->cases; c++) {
        lg_pcg32 rc_rng;
        lg_pcg32_srandom(&rc_rng, b->seed, 100 + c);
        lg_buf_reset(&task);
        if (lg_buf_appendf(&task, "Case %zu. ", c) || add_words(&task, &rc_rng, 2600))
            goto out;
        for (size_t k = 0; k < b->calls; k++) {
            char id[48], args[96];
            lg_buf_reset(&result);
            snprintf(id, sizeof id, "call_%zu_%zu", c, k);
            snprintf(args, sizeof args, "{\"path\":\"src/module_%zu.c\"}", k);
            if (lg_buf_appendf(&result, "step %zu of case %zu: ", k, c) ||
                add_words(&result, &rc_rng, 2000))
                goto out;
            json_t *req = json_pack(
                "{s:s,s:[{s:s,s:s},{s:s,s:s},{s:s,s:n,s:[{s:s,s:s,s:{s:s,s:s}}]},{s:s,s:s,s:s}],"
                "s:O,s:f,s:i}",
                "model", "gpt-4o-mini", "messages", "role", "system", "content", lg_buf_cstr(&sys),
                "role", "user", "content", lg_buf_cstr(&task), "role", "assistant", "content",
                "tool_calls", "id", id, "type", "function", "function", "name", "read_file",
                "arguments", args, "role", "tool", "tool_call_id", id, "content",
                lg_buf_cstr(&result), "tools", tools, "temperature", 0.2, "max_tokens", 1024);
            char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
            json_decref(req);
            if (!text)
                goto out;
            exch_at(b, c, k)->req = text;
            exch_at(b, c, k)->req_len = strlen(text);
        }
    }
    rc = 0;
out:
    json_decref(tools);
    lg_buf_release(&sys);
    lg_buf_release(&task);
    lg_buf_release(&result);
    return rc;
}

static void free_exchanges(bench *b)
{
    for (size_t i = 0; b->ex && i < b->cases * b->calls; i++) {
        free(b->ex[i].req);
        free(b->ex[i].resp);
    }
    free(b->ex);
    b->ex = NULL;
}

/* ----------------------------------------------------------- HTTP client */

typedef struct hconn {
    int fd;
    unsigned port;
    lg_buf head;      /* request head */
    const char *body; /* request body (borrowed) */
    size_t body_len;
    size_t sent;      /* bytes of head + body written */
    lg_buf in;        /* response bytes */
    lg_buf dechunked; /* a chunked body, decoded */
    bool close_after; /* the server said Connection: close */
} hconn;

static void hconn_init(hconn *c, unsigned port)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->port = port;
    lg_buf_init(&c->head);
    lg_buf_init_capped(&c->in, RESP_CAP);
    lg_buf_init_capped(&c->dechunked, RESP_CAP);
}

static void hconn_release(hconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    lg_buf_release(&c->head);
    lg_buf_release(&c->in);
    lg_buf_release(&c->dechunked);
}

static int hconn_connect(hconn *c, bool nonblock)
{
    struct sockaddr_in sa;
    int one = 1;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)c->port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        (nonblock && fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) != 0)) {
        fprintf(stderr, "bench_proxy: connect to 127.0.0.1:%u: %s\n", c->port, strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    return 0;
}

/* Prepares the request; the body is borrowed until the response is in. */
static int hconn_request(hconn *c, const char *path, const char *body, size_t len)
{
    lg_buf_reset(&c->head);
    lg_buf_reset(&c->in);
    c->body = body;
    c->body_len = len;
    c->sent = 0;
    return lg_buf_appendf(&c->head,
                          "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUser-Agent: bench_proxy/1\r\n"
                          "Accept: application/json\r\nContent-Type: application/json\r\n"
                          "Authorization: Bearer " BENCH_KEY "\r\nContent-Length: %zu\r\n\r\n",
                          path, c->port, len);
}

/* Writes what it can: 1 all sent, 0 the socket is full, -1 error. */
static int hconn_send(hconn *c)
{
    size_t total = c->head.len + c->body_len;
    while (c->sent < total) {
        struct iovec iov[2];
        int n = 0;
        if (c->sent < c->head.len) {
            iov[n].iov_base = c->head.data + c->sent;
            iov[n++].iov_len = c->head.len - c->sent;
            iov[n].iov_base = (void *)c->body;
            iov[n++].iov_len = c->body_len;
        } else {
            iov[n].iov_base = (void *)(c->body + (c->sent - c->head.len));
            iov[n++].iov_len = total - c->sent;
        }
        ssize_t w = writev(c->fd, iov, n);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        c->sent += (size_t)w;
    }
    return 1;
}

static long long parse_num(const char *p, const char *end, int base)
{
    char tmp[32];
    size_t n = 0;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (p < end && n + 1 < sizeof tmp && *p != '\r' && *p != '\n' && *p != ';')
        tmp[n++] = *p++;
    tmp[n] = 0;
    char *e;
    errno = 0;
    long long v = strtoll(tmp, &e, base);
    return errno || e == tmp ? -1 : v;
}

/* 1: a whole response is in (status and body set), 0: not yet, -1: bad. */
static int hconn_parse(hconn *c, int *status, const char **body, size_t *blen)
{
    const char *d = c->in.data, *end;
    size_t n = c->in.len;
    if (!d || !(end = memmem(d, n, "\r\n\r\n", 4)))
        return n > 65536 ? -1 : 0;
    size_t hl = (size_t)(end - d) + 4;
    if (n < 12 || memcmp(d, "HTTP/1.", 7) != 0)
        return -1;
    *status = (int)parse_num(d + 9, d + 12, 10);
    long long clen = -1;
    bool chunked = false;
    c->close_after = false;
    const char *p = memchr(d, '\n', hl);
    for (p = p ? p + 1 : d + hl; p < d + hl - 2;) {
        const char *eol = memchr(p, '\n', (size_t)(d + hl - p));
        if (!eol)
            break;
        if (eol - p > 15 && strncasecmp(p, "content-length:", 15) == 0)
            clen = parse_num(p + 15, eol, 10);
        else if (eol - p > 18 && strncasecmp(p, "transfer-encoding:", 18) == 0)
            chunked = memmem(p, (size_t)(eol - p), "chunked", 7) != NULL;
        else if (eol - p > 11 && strncasecmp(p, "connection:", 11) == 0)
            c->close_after = memmem(p, (size_t)(eol - p), "close", 5) != NULL;
        p = eol + 1;
    }
    if (clen >= 0) {
        if (n - hl < (size_t)clen)
            return 0;
        *body = d + hl;
        *blen = (size_t)clen;
        return 1;
    }
    if (!chunked)
        return -1; /* a body up to the close: not spoken here */
    lg_buf_reset(&c->dechunked);
    for (p = d + hl;;) {
        const char *eol = memmem(p, (size_t)(d + n - p), "\r\n", 2);
        if (!eol)
            return 0;
        long long sz = parse_num(p, eol, 16);
        if (sz < 0)
            return -1;
        p = eol + 2;
        if (sz == 0) {
            if ((size_t)(d + n - p) < 2)
                return 0;
            *body = lg_buf_cstr(&c->dechunked);
            *blen = c->dechunked.len;
            return 1;
        }
        if ((size_t)(d + n - p) < (size_t)sz + 2)
            return 0;
        if (lg_buf_append(&c->dechunked, p, (size_t)sz))
            return -1;
        p += sz + 2;
    }
}

/* Reads what is there: 1 a whole response, 0 not yet, -1 error or EOF. */
static int hconn_recv(hconn *c, int *status, const char **body, size_t *blen)
{
    char tmp[65536];
    for (;;) {
        ssize_t r = read(c->fd, tmp, sizeof tmp);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        if (r == 0)
            return -1;
        if (lg_buf_append(&c->in, tmp, (size_t)r))
            return -1;
        int pr = hconn_parse(c, status, body, blen);
        if (pr)
            return pr;
    }
}

/* One blocking call on a blocking connection (reconnecting if needed). */
static int call_blocking(hconn *c, const char *path, const char *req, size_t len, int *status,
                         const char **body, size_t *blen)
{
    if (c->fd < 0 && hconn_connect(c, false))
        return -1;
    if (hconn_request(c, path, req, len) || hconn_send(c) != 1)
        return -1;
    int rc;
    while ((rc = hconn_recv(c, status, body, blen)) == 0) {
    }
    if (rc < 0)
        return -1;
    if (c->close_after) {
        close(c->fd);
        c->fd = -1;
    }
    return 0;
}

/* ----------------------------------------------------------- the peers */

typedef struct trivial {
    struct MHD_Daemon *d;
    struct MHD_Response *resp;
    unsigned port;
    int marker;
} trivial;

static enum MHD_Result trivial_access(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **req_cls)
{
    trivial *t = cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (!*req_cls) { /* headers only; the body comes next */
        *req_cls = &t->marker;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, t->resp);
}

static int trivial_start(trivial *t)
{
    static char body[TRIVIAL_BYTES + 1];
    static const char head[] = "{\"id\":\"chatcmpl-trivial\",\"object\":\"chat.completion\","
                               "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                               "\"content\":\"";
    static const char tail[] = "\"},\"finish_reason\":\"stop\"}]}";
    struct sockaddr_in sa;
    memset(t, 0, sizeof *t);
    memset(body, 'x', TRIVIAL_BYTES);
    memcpy(body, head, sizeof head - 1);
    memcpy(body + TRIVIAL_BYTES - (sizeof tail - 1), tail, sizeof tail - 1);
    t->resp = MHD_create_response_from_buffer(TRIVIAL_BYTES, body, MHD_RESPMEM_PERSISTENT);
    if (!t->resp ||
        MHD_add_response_header(t->resp, "Content-Type", "application/json") != MHD_YES)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    t->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL, 0, NULL, NULL,
                            trivial_access, t, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                            MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_CONNECTION_LIMIT, 4096u,
                            MHD_OPTION_END);
    if (!t->d)
        return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(t->d, MHD_DAEMON_INFO_BIND_PORT);
    t->port = di ? di->port : 0;
    return t->port ? 0 : -1;
}

static void trivial_stop(trivial *t)
{
    if (t->d)
        MHD_stop_daemon(t->d);
    if (t->resp)
        MHD_destroy_response(t->resp);
    memset(t, 0, sizeof *t);
}

/* --------------------------------------------------------- the load loop */

enum load_kind { LOAD_TRIVIAL, LOAD_REPLAY };

typedef struct lane {
    hconn c;
    bool busy;            /* a request is in flight */
    bool open;            /* replay: a session is open */
    size_t cas, call;     /* replay: its case and the next call */
    char token[LG_PROXY_TOKEN_MAX];
    lg_buf path;
    const exch *cur;
} lane;

typedef struct load {
    const bench *b;
    int kind;
    lg_proxy *px;          /* replay */
    size_t next;           /* next exchange (trivial) or case (replay) */
    uint64_t session_ns;   /* replay: time in session open and close */
    size_t sessions;
    size_t errors;
    double cpu_us;         /* process CPU time per answer, whole run (all threads) */
} load;

static int lane_close_session(load *L, lane *l)
{
    lg_err err = LG_ERR_INIT;
    uint64_t t = lg_clock_mono_ns();
    int rc = lg_proxy_session_close(L->px, l->token, NULL, &err);
    L->session_ns += lg_clock_mono_ns() - t;
    l->open = false;
    if (rc)
        fprintf(stderr, "bench_proxy: closing a session: %s\n", err.msg);
    return rc ? -1 : 0;
}

/* Arms the lane's next request: 1 armed, 0 the lane is done, -1 error. */
static int lane_next(load *L, lane *l, bool stop)
{
    const bench *b = L->b;
    if (L->kind == LOAD_TRIVIAL) {
        if (stop)
            return 0;
        l->cur = &b->ex[L->next++ % (b->cases * b->calls)];
        lg_buf_reset(&l->path);
        if (lg_buf_append_str(&l->path, CHAT_PATH))
            return -1;
    } else {
        if (l->open && (l->call == b->calls || stop) && lane_close_session(L, l))
            return -1;
        if (stop)
            return 0;
        for (size_t tries = 0; !l->open && tries < b->cases; tries++) {
            char key[64];
            lg_err err = LG_ERR_INIT;
            l->cas = L->next++ % b->cases;
            snprintf(key, sizeof key, "case-%zu", l->cas);
            lg_session_desc d = {key, NULL, NULL, (int64_t)l->cas, 0, 0};
            uint64_t t = lg_clock_mono_ns();
            int rc = lg_proxy_session_open(L->px, &d, l->token, &err);
            L->session_ns += lg_clock_mono_ns() - t;
            if (rc == LG_EUSAGE)
                continue; /* another lane is still on this case */
            if (rc) {
                fprintf(stderr, "bench_proxy: opening session %s: %s\n", key, err.msg);
                return -1;
            }
            l->open = true;
            l->call = 0;
            L->sessions++;
        }
        if (!l->open) {
            fprintf(stderr, "bench_proxy: every case is open in another lane: give more "
                            "--cases than --clients\n");
            return -1;
        }
        l->cur = exch_at(b, l->cas, l->call++);
        lg_buf_reset(&l->path);
        if (lg_buf_appendf(&l->path, "/s/%s" CHAT_PATH, l->token))
            return -1;
    }
    return hconn_request(&l->c, lg_buf_cstr(&l->path), l->cur->req, l->cur->req_len) ? -1 : 1;
}

static void check_answer(load *L, lane *l, int status, const char *body, size_t len)
{
    bool ok = status == 200 &&
              (L->kind == LOAD_TRIVIAL ? len == TRIVIAL_BYTES
                                       : len == l->cur->resp_len && memcmp(body, l->cur->resp, len) == 0);
    if (!ok && L->errors++ < MAX_REPORTED)
        fprintf(stderr, "bench_proxy: %s: unexpected answer (HTTP %d, %zu bytes): %.200s\n",
                L->kind == LOAD_TRIVIAL ? "trivial" : "replay", status, len, body);
}

/*
 * Runs `nlanes` client lanes against `port` for warmup + seconds; counts the
 * answers completed inside the measured window. Returns 0 and the rate, or
 * -1 (a connection failed, a session could not be opened).
 */
static uint64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000ull +
           (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static int run_load(load *L, unsigned port, unsigned nlanes, double warmup, double seconds,
                    double *rps)
{
    lane *lanes = calloc(nlanes, sizeof *lanes);
    int ep = epoll_create1(EPOLL_CLOEXEC), rc = -1;
    unsigned active = 0;
    size_t counted = 0, completed = 0;
    uint64_t cpu0 = cpu_ns();
    if (!lanes || ep < 0)
        goto out;
    for (unsigned i = 0; i < nlanes; i++) {
        hconn_init(&lanes[i].c, port);
        lg_buf_init(&lanes[i].path);
    }
    uint64_t t0 = lg_clock_mono_ns();
    uint64_t t_warm = t0 + (uint64_t)(warmup * 1e9), t_end = t_warm + (uint64_t)(seconds * 1e9);
    for (unsigned i = 0; i < nlanes; i++) {
        lane *l = &lanes[i];
        struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = l};
        if (hconn_connect(&l->c, true) || epoll_ctl(ep, EPOLL_CTL_ADD, l->c.fd, &ev) ||
            lane_next(L, l, false) != 1)
            goto out;
        l->busy = true;
        active++;
    }
    while (active) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, 1000);
        if (n < 0 && errno != EINTR)
            goto out;
        for (int i = 0; i < n; i++) {
            lane *l = evs[i].data.ptr;
            if (!l->busy)
                continue;
            if (l->c.sent < l->c.head.len + l->c.body_len) {
                int s = hconn_send(&l->c);
                if (s < 0)
                    goto out;
                if (s == 1) {
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = l};
                    if (epoll_ctl(ep, EPOLL_CTL_MOD, l->c.fd, &ev))
                        goto out;
                }
                continue;
            }
            int status = 0;
            const char *body = NULL;
            size_t blen = 0;
            int r = hconn_recv(&l->c, &status, &body, &blen);
            if (r == 0)
                continue;
            if (r < 0) {
                fprintf(stderr, "bench_proxy: connection to port %u failed mid-request\n", port);
                goto out;
            }
            uint64_t now = lg_clock_mono_ns();
            check_answer(L, l, status, body, blen);
            completed++;
            if (now >= t_warm && now <= t_end)
                counted++;
            if (l->c.close_after) { /* not expected: servers keep alive */
                fprintf(stderr, "bench_proxy: port %u closed a kept-alive connection\n", port);
                goto out;
            }
            int nx = lane_next(L, l, now > t_end);
            if (nx < 0)
                goto out;
            if (nx == 0) {
                l->busy = false;
                active--;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = l};
            if (epoll_ctl(ep, EPOLL_CTL_MOD, l->c.fd, &ev))
                goto out;
        }
    }
    *rps = (double)counted / seconds;
    L->cpu_us = completed ? (double)(cpu_ns() - cpu0) / 1e3 / (double)completed : 0.0;
    rc = 0;
out:
    for (unsigned i = 0; lanes && i < nlanes; i++) {
        if (lanes[i].open)
            (void)lane_close_session(L, &lanes[i]);
        hconn_release(&lanes[i].c);
        lg_buf_release(&lanes[i].path);
    }
    if (ep >= 0)
        close(ep);
    free(lanes);
    return rc;
}

/* ------------------------------------------------------------- record */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values, in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
    size_t rank = (size_t)ceil(p * (double)n);
    return n ? (double)v[rank ? rank - 1 : 0] / 1e3 : 0.0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct rec_result {
    double direct_p50, direct_p99, proxy_p50, proxy_p99; /* all samples */
    double added_p50, added_p99; /* per request: min through the proxy - min direct */
    size_t samples, requests;
    double seconds;
} rec_result;

static int proxy_configs(lg_redact **rd, lg_match_config **mc)
{
    lg_err err = LG_ERR_INIT;
    *rd = lg_redact_new();
    *mc = lg_match_config_new();
    /* as `loopgate proxy` does with OPENAI_API_KEY set: the key is a literal
     * redaction of every body */
    if (!*rd || !*mc || lg_redact_add_literal(*rd, "api_key", BENCH_KEY, strlen(BENCH_KEY), &err))
        return -1;
    return 0;
}

/*
 * Records every case through a record proxy in front of the sim, `passes`
 * times (each pass re-records the sessions), measuring each request's
 * latency directly and through the proxy. Fills every exchange's response.
 */
static int record(bench *b, unsigned sim_port, const char *store_path, unsigned passes,
                  rec_result *out)
{
    lg_err err = LG_ERR_INIT;
    lg_store *st = NULL;
    lg_proxy *px = NULL;
    lg_redact *rd = NULL;
    lg_match_config *mc = NULL;
    hconn direct, via;
    char upstream[64];
    size_t n = (size_t)passes * b->cases * b->calls, ns = 0;
    uint64_t *lat_d = calloc(n ? n : 1, sizeof *lat_d), *lat_p = calloc(n ? n : 1, sizeof *lat_p);
    int rc = -1;

    hconn_init(&direct, sim_port);
    hconn_init(&via, 0);
    snprintf(upstream, sizeof upstream, "http://127.0.0.1:%u", sim_port);
    if (!lat_d || !lat_p || proxy_configs(&rd, &mc))
        goto out;
    if (lg_store_open(store_path, LG_STORE_WRITE, &st, &err))
        goto fail;
    lg_proxy_opts po;
    memset(&po, 0, sizeof po);
    po.mode = LG_PROXY_RECORD;
    po.store = st;
    po.upstream = upstream;
    po.match = mc;
    po.redact = rd;
    if (lg_proxy_start(&po, &px, &err))
        goto fail;
    via.port = lg_proxy_port(px);
    uint64_t t0 = lg_clock_mono_ns();
    for (unsigned pass = 0; pass < passes; pass++) {
        for (size_t c = 0; c < b->cases; c++) {
            char key[64], token[LG_PROXY_TOKEN_MAX], path[128];
            snprintf(key, sizeof key, "case-%zu", c);
            lg_session_desc d = {key, NULL, NULL, (int64_t)c, 0, 0};
            if (lg_proxy_session_open(px, &d, token, &err))
                goto fail;
            snprintf(path, sizeof path, "/s/%s" CHAT_PATH, token);
            for (size_t k = 0; k < b->calls; k++) {
                exch *e = exch_at(b, c, k);
                int sd = 0, sp = 0;
                const char *bd = NULL, *bp = NULL;
                size_t ld = 0, lp = 0;
                uint64_t td = 0, tp = 0;
                for (int o = 0; o < 2; o++) { /* alternate which goes first */
                    bool to_proxy = (o == 0) == ((c + k + pass) % 2 == 0);
                    uint64_t t = lg_clock_mono_ns();
                    int r = to_proxy ? call_blocking(&via, path, e->req, e->req_len, &sp, &bp, &lp)
                                     : call_blocking(&direct, CHAT_PATH, e->req, e->req_len, &sd,
                                                     &bd, &ld);
                    t = lg_clock_mono_ns() - t;
                    if (r) {
                        fprintf(stderr, "bench_proxy: record: %s call failed\n",
                                to_proxy ? "proxied" : "direct");
                        goto out;
                    }
                    *(to_proxy ? &tp : &td) = t;
                }
                if (sd != 200 || sp != 200 || ld != lp || memcmp(bd, bp, ld) != 0) {
                    fprintf(stderr, "bench_proxy: record: case %zu call %zu: the proxied answer "
                                    "(HTTP %d, %zu B) differs from the sim's (HTTP %d, %zu B)\n",
                            c, k, sp, lp, sd, ld);
                    goto out;
                }
                if (!e->resp) {
                    if (!(e->resp = malloc(ld ? ld : 1)))
                        goto out;
                    memcpy(e->resp, bd, ld);
                    e->resp_len = ld;
                }
                lat_d[ns] = td;
                lat_p[ns++] = tp;
            }
            lg_proxy_report rep;
            if (lg_proxy_session_close(px, token, &rep, &err))
                goto fail;
            lg_proxy_report_release(&rep);
        }
    }
    out->seconds = (double)(lg_clock_mono_ns() - t0) / 1e9;
    {
        /* Samples are pass-major. Other processes on a shared machine delay
         * single calls by milliseconds; the least of a request's passes on
         * each path is its latency without them. */
        size_t n1 = b->cases * b->calls;
        int64_t *added = calloc(n1 ? n1 : 1, sizeof *added);
        if (!added)
            goto out;
        for (size_t i = 0; i < n1; i++) {
            uint64_t md = UINT64_MAX, mp = UINT64_MAX;
            for (unsigned pass = 0; pass < passes; pass++) {
                if (lat_d[pass * n1 + i] < md)
                    md = lat_d[pass * n1 + i];
                if (lat_p[pass * n1 + i] < mp)
                    mp = lat_p[pass * n1 + i];
            }
            added[i] = (int64_t)mp - (int64_t)md;
        }
        qsort(added, n1, sizeof *added, cmp_i64);
        size_t r50 = (size_t)ceil(0.50 * (double)n1), r99 = (size_t)ceil(0.99 * (double)n1);
        out->added_p50 = (double)added[r50 ? r50 - 1 : 0] / 1e3;
        out->added_p99 = (double)added[r99 ? r99 - 1 : 0] / 1e3;
        out->requests = n1;
        free(added);
    }
    qsort(lat_d, ns, sizeof *lat_d, cmp_u64);
    qsort(lat_p, ns, sizeof *lat_p, cmp_u64);
    out->samples = ns;
    out->direct_p50 = pct_us(lat_d, ns, 0.50);
    out->direct_p99 = pct_us(lat_d, ns, 0.99);
    out->proxy_p50 = pct_us(lat_p, ns, 0.50);
    out->proxy_p99 = pct_us(lat_p, ns, 0.99);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "bench_proxy: record: %s\n", err.msg);
out:
    hconn_release(&direct);
    hconn_release(&via);
    if (px && lg_proxy_stop(px, NULL, &err)) {
        fprintf(stderr, "bench_proxy: record: stopping the proxy: %s\n", err.msg);
        rc = -1;
    }
    lg_store_close(st);
    lg_redact_free(rd);
    lg_match_config_free(mc);
    free(lat_d);
    free(lat_p);
    return rc;
}

/* ------------------------------------------------------------- replay */

typedef struct replay_result {
    double rps, rps_1;
    double cpu_us;     /* process CPU time per answer with 32 lanes */
    double session_us; /* mean time to open and close a session */
} replay_result;

static int replay(const bench *b, const char *store_path, replay_result *out)
{
    lg_err err = LG_ERR_INIT;
    lg_store *st = NULL;
    lg_proxy *px = NULL;
    lg_redact *rd = NULL;
    lg_match_config *mc = NULL;
    int rc = -1;

    if (proxy_configs(&rd, &mc))
        goto out;
    if (lg_store_open(store_path, LG_STORE_READ, &st, &err))
        goto fail;
    lg_proxy_opts po;
    memset(&po, 0, sizeof po);
    po.mode = LG_PROXY_REPLAY;
    po.store = st;
    po.match = mc;
    po.redact = rd;
    if (lg_proxy_start(&po, &px, &err))
        goto fail;
    load L = {b, LOAD_REPLAY, px, 0, 0, 0, 0, 0};
    if (run_load(&L, lg_proxy_port(px), b->clients, b->warmup, b->seconds, &out->rps))
        goto out;
    load L1 = {b, LOAD_REPLAY, px, 0, 0, 0, 0, 0};
    if (run_load(&L1, lg_proxy_port(px), 1, b->warmup, b->seconds, &out->rps_1))
        goto out;
    out->cpu_us = L.cpu_us;
    out->session_us = L1.sessions ? (double)L1.session_ns / 1e3 / (double)L1.sessions : 0.0;
    if (L.errors || L1.errors) {
        fprintf(stderr, "bench_proxy: replay: %zu wrong answers\n", L.errors + L1.errors);
        goto out;
    }
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "bench_proxy: replay: %s\n", err.msg);
out:
    if (px && lg_proxy_stop(px, NULL, &err)) {
        fprintf(stderr, "bench_proxy: replay: stopping the proxy: %s\n", err.msg);
        rc = -1;
    }
    lg_store_close(st);
    lg_redact_free(rd);
    lg_match_config_free(mc);
    return rc;
}

static int trivial_run(const bench *b, double *rps, double *rps_1, double *cpu_us)
{
    trivial t;
    int rc = -1;
    if (trivial_start(&t)) {
        fprintf(stderr, "bench_proxy: cannot start the trivial libmicrohttpd server\n");
        goto out;
    }
    load L = {b, LOAD_TRIVIAL, NULL, 0, 0, 0, 0, 0};
    if (run_load(&L, t.port, b->clients, b->warmup, b->seconds, rps))
        goto out;
    *cpu_us = L.cpu_us;
    if (run_load(&L, t.port, 1, b->warmup, b->seconds, rps_1))
        goto out;
    rc = L.errors ? -1 : 0;
out:
    trivial_stop(&t);
    return rc;
}

/* --------------------------------------------------------------- vcrpy */

typedef struct vcr_result {
    json_t *j; /* the script's JSON, or NULL */
    char error[LG_ERR_MSG_MAX + 1024];
} vcr_result;

static int write_exchanges(const bench *b, const char *path)
{
    lg_buf out = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    int rc = 0;
    for (size_t c = 0; c < b->cases && !rc; c++) {
        for (size_t k = 0; k < b->calls && !rc; k++) {
            const exch *e = exch_at(b, c, k);
            json_t *j = json_pack("{s:I,s:I,s:s,s:s%,s:s%}", "case", (json_int_t)c, "call",
                                  (json_int_t)k, "path", CHAT_PATH, "body", e->req, e->req_len,
                                  "response", e->resp, e->resp_len);
            char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
            rc = !s || lg_buf_append_str(&out, s) || lg_buf_append_byte(&out, '\n');
            free(s);
            json_decref(j);
        }
    }
    if (!rc && lg_fs_write_file_atomic(path, out.data, out.len, &err)) {
        fprintf(stderr, "bench_proxy: %s\n", err.msg);
        rc = 1;
    }
    lg_buf_release(&out);
    return rc ? -1 : 0;
}

static void vcrpy_run(const bench *b, const char *python, const char *script, const char *dir,
                      unsigned sim_port, vcr_result *out)
{
    char exfile[512], upstream[64], secs[32], warm[32];
    lg_proc_result res;
    lg_err err = LG_ERR_INIT;
    memset(out, 0, sizeof *out);
    snprintf(exfile, sizeof exfile, "%s/exchanges.jsonl", dir);
    snprintf(upstream, sizeof upstream, "http://127.0.0.1:%u", sim_port);
    snprintf(secs, sizeof secs, "%g", b->seconds);
    snprintf(warm, sizeof warm, "%g", b->warmup);
    if (write_exchanges(b, exfile)) {
        snprintf(out->error, sizeof out->error, "cannot write %s", exfile);
        return;
    }
    const char *argv[] = {python, script, "--exchanges", exfile, "--dir", dir, "--upstream",
                          upstream, "--seconds", secs, "--warmup", warm, NULL};
    lg_proc_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.argv = argv;
    spec.timeout_ms = 300000;
    spec.inherit_stderr = true;
    if (lg_proc_run(&spec, &res, &err)) {
        snprintf(out->error, sizeof out->error, "%s", err.msg);
    } else if (lg_proc_status(&res) != 0) {
        snprintf(out->error, sizeof out->error, "%s %s exited with status %d (is python3-vcr "
                 "installed? scripts/setup --bench)", python, script, lg_proc_status(&res));
    } else {
        json_error_t je;
        out->j = json_loadb(res.out.data ? res.out.data : "", res.out.len, 0, &je);
        if (!out->j || !json_is_number(json_object_get(out->j, "rps")))
            snprintf(out->error, sizeof out->error, "vcrpy_replay.py printed no rps: %s",
                     je.text);
    }
    lg_proc_result_release(&res);
}

/* ---------------------------------------------------------------- main */

static json_t *num(double v, int decimals)
{
    double f = pow(10.0, decimals);
    return decimals ? json_real(round(v * f) / f) : json_integer((json_int_t)llround(v));
}

static const char usage[] =
    "usage: bench_proxy [--quick] [--seconds S] [--cases C] [--calls K] [--clients N]\n"
    "                   [--passes P] [--seed S] [--python PATH] [--vcrpy SCRIPT] [--dir DIR]\n"
    "\n"
    "Prints one JSON object. --quick: 4 calls per case, 0.5 s per measurement, one record\n"
    "pass. --cases defaults to twice --clients (lanes never wait for a case).\n"
    "--vcrpy names bench/vcrpy_replay.py (without it the vcrpy peer is skipped);\n"
    "--python the interpreter that has python3-vcr (default python3).\n";

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || v < lo || v > hi)
        return -1;
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'},      {"seconds", required_argument, NULL, 's'},
        {"cases", required_argument, NULL, 'c'}, {"calls", required_argument, NULL, 'k'},
        {"clients", required_argument, NULL, 'n'}, {"passes", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 'S'},  {"python", required_argument, NULL, 'P'},
        {"vcrpy", required_argument, NULL, 'v'}, {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    bench b = {0, 16, NULL, 42, 0, 0, 32};
    size_t cases = 0, passes = 0, v = 0;
    bool quick = false;
    const char *python = "python3", *script = NULL, *dir = NULL;
    char tmpl[] = "/tmp/bench_proxy.XXXXXX", store_path[512];
    int c, status = 1;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'q': quick = true; break;
        case 's': bad = parse_double(optarg, 0.05, 60, &b.seconds); break;
        case 'c': bad = parse_size(optarg, 1, 100000, &cases); break;
        case 'k': bad = parse_size(optarg, 1, 1000, &b.calls); break;
        case 'n': bad = parse_size(optarg, 1, 1024, &v); b.clients = (unsigned)(bad ? 0 : v); break;
        case 'p': bad = parse_size(optarg, 1, 100, &passes); break;
        case 'S': bad = parse_size(optarg, 0, SIZE_MAX, &v); b.seed = v; break;
        case 'P': python = optarg; break;
        case 'v': script = optarg; break;
        case 'd': dir = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: bad = 1; break;
        }
        if (bad) {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fputs(usage, stderr);
        return 2;
    }
    b.cases = cases ? cases : 2 * (size_t)b.clients;
    if (quick && !cases)
        b.calls = 4;
    if (b.seconds == 0)
        b.seconds = quick ? 0.5 : 2.0;
    b.warmup = quick ? 0.2 : 0.5;
    if (!passes)
        passes = quick ? 1 : 3;
    if (!dir && !(dir = mkdtemp(tmpl))) {
        perror("bench_proxy: mkdtemp");
        return 1;
    }
    snprintf(store_path, sizeof store_path, "%s/proxy.lgt", dir);
    lg_log_set_level(LG_LOG_ERROR);

    lg_sim_config cfg;
    lg_sim_server *sim = NULL;
    lg_err err = LG_ERR_INIT;
    rec_result rec;
    replay_result rep;
    vcr_result vr;
    double triv = 0, triv1 = 0, triv_cpu = 0;
    memset(&rec, 0, sizeof rec);
    memset(&rep, 0, sizeof rep);
    memset(&vr, 0, sizeof vr);
    lg_sim_config_init(&cfg);
    if (make_exchanges(&b)) {
        fprintf(stderr, "bench_proxy: out of memory generating requests\n");
        goto out;
    }
    if (lg_sim_server_start(&cfg, 0, &sim, &err)) {
        fprintf(stderr, "bench_proxy: sim: %s\n", err.msg);
        goto out;
    }
    unsigned sim_port = lg_sim_server_port(sim);
    fprintf(stderr, "bench_proxy: record (%zu cases x %zu calls, %zu passes)\n", b.cases,
            b.calls, passes);
    if (record(&b, sim_port, store_path, (unsigned)passes, &rec))
        goto out;
    if (script) {
        fprintf(stderr, "bench_proxy: vcrpy (%s %s)\n", python, script);
        vcrpy_run(&b, python, script, dir, sim_port, &vr);
        if (vr.error[0])
            fprintf(stderr, "bench_proxy: vcrpy: %s\n", vr.error);
    } else {
        snprintf(vr.error, sizeof vr.error, "skipped: no --vcrpy SCRIPT given");
    }
    lg_sim_server_stop(sim);
    sim = NULL;
    fprintf(stderr, "bench_proxy: replay (%u lanes, then 1)\n", b.clients);
    if (replay(&b, store_path, &rep))
        goto out;
    fprintf(stderr, "bench_proxy: trivial libmicrohttpd server\n");
    if (trivial_run(&b, &triv, &triv1, &triv_cpu))
        goto out;

    size_t rq = 0, rs = 0, total = b.cases * b.calls;
    for (size_t i = 0; i < total; i++) {
        rq += b.ex[i].req_len;
        rs += b.ex[i].resp_len;
    }
    double vrps = vr.j ? json_number_value(json_object_get(vr.j, "rps")) : 0.0;
    double over50 = rec.added_p50, over99 = rec.added_p99;
    double loads[3] = {0, 0, 0};
    (void)!getloadavg(loads, 3);
    json_t *o = json_object(), *t = json_object();
    if (!o || !t)
        goto out;
    json_object_set_new(o, "bench", json_string("proxy"));
    json_object_set_new(o, "quick", json_boolean(quick));
    json_object_set_new(o, "seed", json_integer((json_int_t)b.seed));
    json_object_set_new(o, "cases", json_integer((json_int_t)b.cases));
    json_object_set_new(o, "calls_per_case", json_integer((json_int_t)b.calls));
    json_object_set_new(o, "request_bytes_mean", num((double)rq / (double)total, 0));
    json_object_set_new(o, "response_bytes_mean", num((double)rs / (double)total, 0));
    json_object_set_new(o, "clients", json_integer(b.clients));
    json_object_set_new(o, "seconds_per_measure", num(b.seconds, 2));
    json_object_set_new(o, "replay_rps", num(rep.rps, 0));
    json_object_set_new(o, "replay_rps_1", num(rep.rps_1, 0));
    json_object_set_new(o, "trivial_rps", num(triv, 0));
    json_object_set_new(o, "trivial_rps_1", num(triv1, 0));
    json_object_set_new(o, "vcrpy_rps", vr.j ? num(vrps, 1) : json_null());
    json_object_set_new(o, "vcrpy_rps_match_body",
                        vr.j && json_is_number(json_object_get(vr.j, "rps_match_body"))
                            ? num(json_number_value(json_object_get(vr.j, "rps_match_body")), 1)
                            : json_null());
    json_object_set_new(o, "record_overhead_p50_us", num(over50, 1));
    json_object_set_new(o, "record_overhead_p99_us", num(over99, 1));
    json_object_set_new(o, "record_overhead_raw_p50_us", num(rec.proxy_p50 - rec.direct_p50, 1));
    json_object_set_new(o, "record_overhead_raw_p99_us", num(rec.proxy_p99 - rec.direct_p99, 1));
    json_object_set_new(o, "replay_vs_trivial", num(triv > 0 ? rep.rps / triv : 0, 3));
    json_object_set_new(o, "replay1_vs_trivial1", num(triv1 > 0 ? rep.rps_1 / triv1 : 0, 3));
    json_object_set_new(o, "replay1_vs_vcrpy", vrps > 0 ? num(rep.rps_1 / vrps, 2) : json_null());
    json_object_set_new(o, "direct_latency_p50_us", num(rec.direct_p50, 1));
    json_object_set_new(o, "direct_latency_p99_us", num(rec.direct_p99, 1));
    json_object_set_new(o, "record_latency_p50_us", num(rec.proxy_p50, 1));
    json_object_set_new(o, "record_latency_p99_us", num(rec.proxy_p99, 1));
    json_object_set_new(o, "latency_samples", json_integer((json_int_t)rec.samples));
    json_object_set_new(o, "latency_passes", json_integer((json_int_t)passes));
    json_object_set_new(o, "replay_session_open_close_us", num(rep.session_us, 1));
    json_object_set_new(o, "replay_cpu_us_per_call", num(rep.cpu_us, 1));
    json_object_set_new(o, "trivial_cpu_us_per_call", num(triv_cpu, 1));
    json_object_set_new(t, "replay_ge_half_trivial", json_boolean(rep.rps >= 0.5 * triv));
    json_object_set_new(t, "replay1_ge_10x_vcrpy", json_boolean(vrps > 0 && rep.rps_1 >= 10 * vrps));
    json_object_set_new(t, "record_overhead_p99_le_1ms", json_boolean(over99 <= 1000.0));
    json_object_set_new(o, "targets", t);
    if (vr.j) {
        json_object_set_new(o, "vcrpy", json_pack("{s:O?,s:O?,s:O?}", "version",
                                                  json_object_get(vr.j, "vcrpy"), "http_library",
                                                  json_object_get(vr.j, "http_library"),
                                                  "match_on", json_object_get(vr.j, "match_on")));
    } else {
        json_object_set_new(o, "vcrpy_error", json_string(vr.error));
    }
    json_object_set_new(o, "cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
    json_object_set_new(o, "loadavg_1m", num(loads[0], 2));
    json_object_set_new(
        o, "note",
        json_string("one process: the client (raw sockets, epoll), the proxy (2 libmicrohttpd "
                    "event threads), the sim and the trivial server share this machine's "
                    "cores (cpus) with each other and with whatever else runs on it "
                    "(loadavg_1m), so every rps is a whole-machine figure, client cost "
                    "included; the cpu_us_per_call figures are less sensitive to that load. "
                    "Replay lanes open a harness session per case (the case's recording is "
                    "loaded and fingerprinted), send its calls in order and close it. "
                    "record_overhead_*: per request, least latency of the passes through a "
                    "record proxy minus least latency direct to the sim, sent back to back "
                    "one at a time; the _raw_ variants subtract percentiles of all samples "
                    "and carry the scheduling noise of a shared machine."));
    char *s = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    json_decref(o);
    if (!s)
        goto out;
    puts(s);
    free(s);
    status = 0;
out:
    lg_sim_server_stop(sim);
    json_decref(vr.j);
    free_exchanges(&b);
    if (dir == tmpl) {
        lg_err e2 = LG_ERR_INIT;
        (void)!lg_fs_rm_rf(tmpl, &e2);
    }
    return status;
}
