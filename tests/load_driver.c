/*
 * tests/load_driver.c - many concurrent agent sessions against one base URL,
 * for tests/e2e/proxy_load.sh.
 *
 *   load_driver --url http://127.0.0.1:P [--sessions N] [--calls K]
 *               [--out FILE] [--timeout-s T]
 *
 * Runs N sessions at once, each on its own keep-alive connection, each
 * making K calls one after the other, as N agent loops would. Session s
 * sends the header X-Loopgate-Session: load.<s> (how a standalone
 * `loopgate proxy` tells sessions apart). Call i of a session is, by i % 4,
 * an OpenAI chat completion, the same streamed (with the final usage chunk),
 * an Anthropic message, or the same streamed; its body names the session
 * and the call, so every request of the run is different.
 *
 * Drives everything from one thread with libcurl's multi interface. Every
 * response must be HTTP 200 with a body; any transport error or other
 * status is printed (session, call, what) and makes the exit status 1.
 *
 * --out FILE receives every response in (session, call) order, as
 *   "=== SESSION CALL STATUS CONTENT-TYPE LENGTH\n" BODY "\n"
 * so that two runs (record and replay) can be compared byte for byte with
 * cmp(1). A summary line goes to stderr. Exit status: 0 all calls answered
 * 200, 1 some failed or the time ran out, 2 bad usage, 3 internal error.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"

#define RESP_CAP ((size_t)16 << 20)
#define MAX_REPORTED 20

typedef struct result {
    long status;
    char *ctype; /* owned, or NULL */
    char *body;  /* owned */
    size_t len;
} result;

typedef struct lane {
    CURL *e;
    struct curl_slist *hdrs;
    int session;
    int call;
    lg_buf req;
    lg_buf resp;
    char err[CURL_ERROR_SIZE];
} lane;

typedef struct run {
    const char *url;
    int sessions, calls;
    result *res; /* sessions * calls */
    int failed;
    int reported;
} run;

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    lane *l = ud;
    if (lg_buf_append(&l->resp, p, sz * n))
        return 0; /* too large: libcurl fails the transfer */
    return sz * n;
}

static void fail(run *r, int session, int call, const char *what, const char *detail)
{
    r->failed++;
    if (r->reported++ < MAX_REPORTED)
        fprintf(stderr, "load_driver: session %d, call %d: %s%s%s\n", session, call, what,
                detail && *detail ? ": " : "", detail ? detail : "");
}

/* A filler that is different for every (session, call), so no two requests
 * of a run are equal and a mixed-up replay shows. */
static int add_task(lg_buf *b, int s, int i)
{
    return lg_buf_appendf(b, "Load session %d, call %d: list three facts about the number %d "
                             "and name the city at index %d.", s, i, s * 1000 + i, (s + i) % 17);
}

static const char sys_prompt[] = "You are a test agent. Use the tools when they help.";
static const char oa_tools[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"lookup\",\"description\":\"Look a "
    "fact up\",\"parameters\":{\"type\":\"object\",\"properties\":{\"query\":{\"type\":"
    "\"string\"}},\"required\":[\"query\"]}}}]";
static const char an_tools[] =
    "[{\"name\":\"lookup\",\"description\":\"Look a fact up\",\"input_schema\":{\"type\":"
    "\"object\",\"properties\":{\"query\":{\"type\":\"string\"}},\"required\":[\"query\"]}}]";

/* Builds the request of (l->session, l->call) and (re)arms the handle. */
static int arm(run *r, lane *l)
{
    int s = l->session, i = l->call, kind = i % 4;
    bool anthropic = kind >= 2, stream = kind % 2 == 1;
    lg_buf url = LG_BUF_INIT, h = LG_BUF_INIT;
    int rc = 0;

    lg_buf_reset(&l->req);
    lg_buf_reset(&l->resp);
    curl_slist_free_all(l->hdrs);
    l->hdrs = NULL;
    l->err[0] = 0;
    if (anthropic) {
        rc = lg_buf_appendf(&l->req, "{\"model\":\"claude-sim-1\",\"max_tokens\":256,"
                                     "\"system\":\"%s\",%s\"tools\":%s,\"messages\":[{\"role\":"
                                     "\"user\",\"content\":\"",
                            sys_prompt, stream ? "\"stream\":true," : "",
                            i % 8 < 4 ? an_tools : "[]");
    } else {
        rc = lg_buf_appendf(&l->req,
                            "{\"model\":\"gpt-4o-mini\",%s\"tools\":%s,\"messages\":[{\"role\":"
                            "\"system\",\"content\":\"%s\"},{\"role\":\"user\",\"content\":\"",
                            stream ? "\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                                   : "",
                            i % 8 < 4 ? oa_tools : "[]", sys_prompt);
    }
    rc = rc ? rc : add_task(&l->req, s, i);
    rc = rc ? rc : lg_buf_append_str(&l->req, "\"}]}");
    rc = rc ? rc : lg_buf_appendf(&url, "%s%s", r->url,
                                  anthropic ? "/v1/messages" : "/v1/chat/completions");
    rc = rc ? rc : lg_buf_appendf(&h, "X-Loopgate-Session: load.%d", s);
    if (rc)
        goto out;
    struct curl_slist *sl = NULL;
    const char *fixed[] = {
        "Content-Type: application/json",
        anthropic ? "x-api-key: sk-ant-load-test-key" : "Authorization: Bearer sk-load-test-key",
        anthropic ? "anthropic-version: 2023-06-01" : "Accept: application/json",
        "Expect:",
    };
    for (size_t k = 0; k < sizeof fixed / sizeof *fixed; k++) {
        struct curl_slist *n = curl_slist_append(sl, fixed[k]);
        if (!n) {
            rc = -1;
            break;
        }
        sl = n;
    }
    struct curl_slist *n = rc ? NULL : curl_slist_append(sl, lg_buf_cstr(&h));
    if (!n) {
        curl_slist_free_all(sl);
        rc = -1;
        goto out;
    }
    l->hdrs = n;
    if (curl_easy_setopt(l->e, CURLOPT_URL, lg_buf_cstr(&url)) ||
        curl_easy_setopt(l->e, CURLOPT_HTTPHEADER, l->hdrs) ||
        curl_easy_setopt(l->e, CURLOPT_POSTFIELDSIZE, (long)l->req.len) ||
        curl_easy_setopt(l->e, CURLOPT_POSTFIELDS, l->req.data))
        rc = -1;
out:
    lg_buf_release(&url);
    lg_buf_release(&h);
    return rc;
}

/* Keeps the finished response of a lane; 0 or -1 (out of memory). */
static int keep(run *r, lane *l, CURLcode cc)
{
    result *out = &r->res[(size_t)l->session * (size_t)r->calls + (size_t)l->call];
    char *ct = NULL;
    curl_easy_getinfo(l->e, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(l->e, CURLINFO_CONTENT_TYPE, &ct);
    if (cc != CURLE_OK) {
        fail(r, l->session, l->call, curl_easy_strerror(cc), l->err);
    } else if (out->status != 200) {
        char what[64];
        snprintf(what, sizeof what, "HTTP %ld", out->status);
        fail(r, l->session, l->call, what, lg_buf_cstr(&l->resp));
    } else if (l->resp.len == 0) {
        fail(r, l->session, l->call, "empty body", NULL);
    }
    out->ctype = ct ? strdup(ct) : NULL;
    out->body = lg_buf_take(&l->resp, &out->len);
    lg_buf_init_capped(&l->resp, RESP_CAP);
    return out->body && (!ct || out->ctype) ? 0 : -1;
}

static int write_out(const run *r, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    for (int s = 0; s < r->sessions; s++) {
        for (int i = 0; i < r->calls; i++) {
            const result *x = &r->res[(size_t)s * (size_t)r->calls + (size_t)i];
            fprintf(f, "=== %d %d %ld %s %zu\n", s, i, x->status, x->ctype ? x->ctype : "-",
                    x->len);
            if (x->len)
                fwrite(x->body, 1, x->len, f);
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

static const char usage[] =
    "usage: load_driver --url http://127.0.0.1:P [--sessions N] [--calls K] [--out FILE]\n"
    "                   [--timeout-s T]\n";

static int parse_pos(const char *s, long max, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < 1 || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},      {"sessions", required_argument, NULL, 'n'},
        {"calls", required_argument, NULL, 'k'},    {"out", required_argument, NULL, 'o'},
        {"timeout-s", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    run r = {NULL, 256, 20, NULL, 0, 0};
    const char *out = NULL;
    int timeout_s = 120, c, rc = 3;
    lane *lanes = NULL;
    CURLM *m = NULL;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'u': r.url = optarg; break;
        case 'n': bad = parse_pos(optarg, 4096, &r.sessions); break;
        case 'k': bad = parse_pos(optarg, 100000, &r.calls); break;
        case 'o': out = optarg; break;
        case 't': bad = parse_pos(optarg, 3600, &timeout_s); break;
        case 'h': fputs(usage, stdout); return 0;
        default: bad = 1; break;
        }
        if (bad) {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!r.url || optind < argc) {
        fputs(usage, stderr);
        return 2;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 3;
    r.res = calloc((size_t)r.sessions * (size_t)r.calls, sizeof *r.res);
    lanes = calloc((size_t)r.sessions, sizeof *lanes);
    m = curl_multi_init();
    if (!r.res || !lanes || !m)
        goto out;
    /* every session keeps its connection: a cache big enough for all */
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)r.sessions + 16);
    uint64_t t0 = lg_clock_mono_ns(), deadline = t0 + (uint64_t)timeout_s * 1000000000ull;
    for (int s = 0; s < r.sessions; s++) {
        lane *l = &lanes[s];
        l->session = s;
        lg_buf_init(&l->req);
        lg_buf_init_capped(&l->resp, RESP_CAP);
        if (!(l->e = curl_easy_init()))
            goto out;
        curl_easy_setopt(l->e, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(l->e, CURLOPT_WRITEDATA, l);
        curl_easy_setopt(l->e, CURLOPT_ERRORBUFFER, l->err);
        curl_easy_setopt(l->e, CURLOPT_PRIVATE, l);
        curl_easy_setopt(l->e, CURLOPT_TIMEOUT_MS, 60000L);
        curl_easy_setopt(l->e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(l->e, CURLOPT_TCP_NODELAY, 1L);
        if (arm(&r, l) || curl_multi_add_handle(m, l->e) != CURLM_OK)
            goto out;
    }
    int running = r.sessions;
    size_t done = 0, total = (size_t)r.sessions * (size_t)r.calls;
    while (done < total) {
        if (lg_clock_mono_ns() > deadline) {
            fprintf(stderr, "load_driver: gave up after %d s with %zu of %zu calls answered\n",
                    timeout_s, done, total);
            r.failed += (int)(total - done);
            break;
        }
        if (curl_multi_perform(m, &running) != CURLM_OK ||
            curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
            goto out;
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            lane *l;
            CURLcode cc = msg->data.result;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&l);
            curl_multi_remove_handle(m, l->e);
            if (keep(&r, l, cc))
                goto out;
            done++;
            if (++l->call < r.calls) {
                if (arm(&r, l) || curl_multi_add_handle(m, l->e) != CURLM_OK)
                    goto out;
            }
        }
    }
    double secs = (double)(lg_clock_mono_ns() - t0) / 1e9;
    fprintf(stderr, "load_driver: %zu calls in %d sessions, %d failed, %.2f s (%.0f calls/s)\n",
            done, r.sessions, r.failed, secs, secs > 0 ? (double)done / secs : 0.0);
    rc = r.failed ? 1 : 0;
    if (out && write_out(&r, out))
        rc = 3;
out:
    if (rc == 3)
        fprintf(stderr, "load_driver: internal error (out of memory or libcurl)\n");
    for (int s = 0; lanes && s < r.sessions; s++) {
        if (lanes[s].e) {
            curl_multi_remove_handle(m, lanes[s].e);
            curl_easy_cleanup(lanes[s].e);
        }
        curl_slist_free_all(lanes[s].hdrs);
        lg_buf_release(&lanes[s].req);
        lg_buf_release(&lanes[s].resp);
    }
    for (size_t i = 0; r.res && i < (size_t)r.sessions * (size_t)r.calls; i++) {
        free(r.res[i].ctype);
        free(r.res[i].body);
    }
    free(r.res);
    free(lanes);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return rc;
}
