/*
 * bench/bench_store.c - trace store benchmark (issue 3).
 *
 * Workload: a seeded generator of N sessions x K model calls in the OpenAI
 * chat format. Each request carries the whole conversation so far: a shared
 * ~1.5 KB system prompt and tool schemas, a ~300 B task, then for every
 * earlier call the assistant's tool call and a ~400 B tool result. Each
 * response is ~600 B with usage. Measured for K=8 and K=32 at the same N:
 *   raw_bytes          JSON bytes of every request and response
 *   zstd19_bytes       libzstd level 19 over the raw bytes laid end to end
 *                      (one frame: the compression limit without structure)
 *   store_bytes        size of the .lgt file after the writer closed it
 *   bytes_per_call     store_bytes / (N*K)
 *   write_calls_per_s  begin/append/commit of every session, --threads writers
 *   read_calls_per_s   open each session and decode every request and response,
 *                      --threads readers (as the proxy's replay threads do)
 * The write and read phases run --repeat times (5), each on a new file: the
 * rates are medians, store_bytes the largest file, and write_calls_per_s_runs
 * lists every repeat. Plus the same throughputs per CPU second (the machine
 * may be shared), the ratios, and "targets": which of issue 3's targets this
 * run meets (the throughput ones at K=8 and at K=32 alike). Prints
 * one JSON object on stdout; bench/run store calls it.
 *
 * The generator is deterministic from --seed. Tools behave like real ones:
 * files and searches come from one synthetic repository shared by every
 * session (a suite's cases work on the same code), the same call gives the
 * same output, and an agent keeps returning to a few regions and symbols of
 * its task. Text is drawn from Zipf-weighted vocabularies; ids are random.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/pcg.h"
#include "recorder/store.h"

/* Natural-language words, most frequent first; drawn with Zipf weights. */
static const char *const vocab[] = {
    "the", "to", "of", "and", "a", "in", "is", "it", "that", "for", "this", "with", "be", "on",
    "not", "as", "we", "are", "you", "at", "or", "from", "by", "an", "if", "can", "will", "should",
    "file", "test", "function", "error", "when", "which", "but", "all", "there", "so", "then",
    "value", "return", "call", "use", "fix", "change", "case", "code", "tests", "one", "new",
    "also", "only", "line", "now", "need", "after", "before", "into", "because", "each", "add",
    "make", "check", "first", "list", "input", "output", "result", "parser", "config", "path",
    "type", "string", "number", "empty", "missing", "wrong", "bug", "issue", "failing", "passes",
    "update", "read", "write", "open", "close", "handle", "handler", "buffer", "length", "size",
    "limit", "count", "index", "header", "field", "key", "name", "default", "option", "flag",
    "module", "build", "run", "loop", "step", "state", "request", "response", "client", "server",
    "cache", "timeout", "retry", "token", "user", "data", "table", "query", "row", "column",
    "format", "parse", "encode", "decode", "stream", "chunk", "offset", "boundary", "unicode",
    "newline", "whitespace", "trailing", "leading", "quote", "escape", "comment", "section",
    "config", "version", "release", "previous", "next", "last", "same", "different", "instead",
    "still", "again", "without", "between", "under", "over", "where", "while", "since", "until",
    "expected", "actual", "assert", "crash", "leak", "memory", "pointer", "null", "overflow",
    "regression", "coverage", "edge", "corner", "behaviour", "contract", "caller", "callee",
};
#define NVOCAB (sizeof vocab / sizeof vocab[0])

/* Identifiers of the synthetic repository's code. */
static const char *const idents[] = {
    "ctx", "buf", "len", "i", "n", "rc", "err", "p", "line", "col", "cfg", "opts", "out", "in",
    "key", "val", "node", "list", "item", "count", "limit", "size", "cap", "data", "str", "path",
    "header", "field", "token", "state", "next", "prev", "head", "tail", "flags", "mode", "fd",
    "parser", "reader", "writer", "stream", "chunk", "offset", "start", "end", "pos", "total",
};
#define NIDENTS (sizeof idents / sizeof idents[0])
static const char *const modules[] = {"parse", "config", "http", "cache", "util", "cli", "store", "log"};
static const char *const verbs[] = {"read", "write", "parse", "init", "free", "find", "add", "check", "next", "reset"};

typedef struct zipf {
    double cdf[NVOCAB];
} zipf;

static void zipf_init(zipf *z, size_t n, double s)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += 1.0 / pow((double)(i + 1), s);
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        acc += 1.0 / pow((double)(i + 1), s) / sum;
        z->cdf[i] = acc;
    }
}

static size_t zipf_draw(const zipf *z, size_t n, lg_pcg32 *r)
{
    double u = lg_pcg32_double(r);
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static zipf words_zipf, idents_zipf;

static const char system_prompt[] =
    "You are Atlas, a careful software engineering agent working in a sandboxed repository. "
    "Solve the user's task by calling the tools, one step at a time. Read before you write: "
    "inspect files with read_file and search_code before changing them, and never guess an "
    "API. Keep changes minimal. After every edit run the tests with run_tests and read the "
    "failures. If a tool fails, adjust instead of repeating the same call. Stop when the tests "
    "pass and summarise the change in two sentences.";

static const char tools_json[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"description\":\"Read lines "
    "of a file\",\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":"
    "\"string\"},\"start\":{\"type\":\"integer\"},\"end\":{\"type\":\"integer\"}},\"required\":"
    "[\"path\"]}}},{\"type\":\"function\",\"function\":{\"name\":\"search_code\",\"description\":"
    "\"Search the repository for a regular expression\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"query\":{\"type\":\"string\"}},\"required\":[\"query\"]}}},{\"type\":"
    "\"function\",\"function\":{\"name\":\"write_file\",\"description\":\"Replace lines of a "
    "file\",\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},"
    "\"start\":{\"type\":\"integer\"},\"end\":{\"type\":\"integer\"},\"text\":{\"type\":"
    "\"string\"}},\"required\":[\"path\",\"start\",\"end\",\"text\"]}}},{\"type\":\"function\","
    "\"function\":{\"name\":\"run_tests\",\"description\":\"Run the tests and return failures\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"target\":{\"type\":\"string\"}}}}}]";

static const char *const tool_names[] = {"read_file", "search_code", "write_file", "run_tests"};

/* The synthetic repository every session of the suite works on. */
#define REPO_FILES 16
#define REPO_LINES 160
typedef struct repo {
    char path[REPO_FILES][64];
    lg_buf line[REPO_FILES][REPO_LINES];
} repo;
static repo the_repo;

typedef struct call {
    lg_buf req, resp;
    lg_usage usage;
} call;

typedef struct session {
    call *calls;
    char key[32];
} session;

static void must(int rc)
{
    if (rc) {
        fprintf(stderr, "bench_store: out of memory\n");
        exit(3);
    }
}

static const char *word(lg_pcg32 *r)
{
    return vocab[zipf_draw(&words_zipf, NVOCAB, r)];
}

static const char *ident(lg_pcg32 *r)
{
    return idents[zipf_draw(&idents_zipf, NIDENTS, r)];
}

static void words(lg_pcg32 *r, lg_buf *b, size_t bytes)
{
    size_t start = b->len;
    while (b->len - start < bytes) {
        must(lg_buf_append_str(b, word(r)));
        uint32_t p = lg_pcg32_boundedrand(r, 14);
        must(lg_buf_append_str(b, p == 0 ? ". " : p == 1 ? ", " : " "));
    }
}

static void rand_id(lg_pcg32 *r, lg_buf *b, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++)
        must(lg_buf_append_byte(b, a[lg_pcg32_boundedrand(r, 62)]));
}

/* One line of C-like code (JSON-safe: no quotes or backslashes). */
static void code_line(lg_pcg32 *r, lg_buf *b, int depth)
{
    for (int i = 0; i < depth; i++)
        must(lg_buf_append_str(b, "    "));
    switch (lg_pcg32_boundedrand(r, 8)) {
    case 0: must(lg_buf_appendf(b, "if (%s->%s > %s)", ident(r), ident(r), ident(r))); break;
    case 1: must(lg_buf_appendf(b, "return %s_%s(%s, %s);", modules[lg_pcg32_boundedrand(r, 8)],
                                verbs[lg_pcg32_boundedrand(r, 10)], ident(r), ident(r))); break;
    case 2: must(lg_buf_appendf(b, "%s = %s + %u;", ident(r), ident(r), lg_pcg32_boundedrand(r, 16))); break;
    case 3: must(lg_buf_appendf(b, "for (size_t %s = 0; %s < %s->%s; %s++) {", ident(r), ident(r),
                                ident(r), ident(r), ident(r))); break;
    case 4: must(lg_buf_appendf(b, "%s->%s = %s;", ident(r), ident(r), ident(r))); break;
    case 5: must(lg_buf_appendf(b, "rc = %s_%s(%s->%s, &%s);", modules[lg_pcg32_boundedrand(r, 8)],
                                verbs[lg_pcg32_boundedrand(r, 10)], ident(r), ident(r), ident(r))); break;
    case 6: must(lg_buf_append_str(b, "}")); break;
    default: must(lg_buf_appendf(b, "/* %s %s %s %s */", word(r), word(r), word(r), word(r))); break;
    }
}

static void repo_init(uint64_t seed)
{
    lg_pcg32 r;
    lg_pcg32_srandom(&r, seed, 0x7265706f);
    for (int f = 0; f < REPO_FILES; f++) {
        snprintf(the_repo.path[f], sizeof the_repo.path[f], "src/%s/%s_%s.c", modules[f % 8],
                 modules[f % 8], verbs[lg_pcg32_boundedrand(&r, 10)]);
        for (int l = 0; l < REPO_LINES; l++) {
            lg_buf_init(&the_repo.line[f][l]);
            code_line(&r, &the_repo.line[f][l], 1 + (int)lg_pcg32_boundedrand(&r, 3));
        }
    }
}

/* What one session's tools know: which tests fail now, what was searched. */
typedef struct toolstate {
    int module;            /* the task's module: run_tests runs its tests */
    bool failing[12];      /* per test of that module */
} toolstate;

static void test_name(int module, int t, lg_buf *b)
{
    lg_pcg32 r; /* the same names on every run */
    lg_pcg32_srandom(&r, (uint64_t)module, (uint64_t)t);
    must(lg_buf_appendf(b, "test_%s_%s_%s", modules[module], verbs[lg_pcg32_boundedrand(&r, 10)],
                        idents[lg_pcg32_boundedrand(&r, NIDENTS)]));
}

/* A tool call's arguments (JSON text escaped as a JSON string body). */
static void tool_args(lg_pcg32 *r, int tool, int file, int start, const char *query, lg_buf *b)
{
    if (tool == 0)
        must(lg_buf_appendf(b, "{\\\"path\\\":\\\"%s\\\",\\\"start\\\":%d,\\\"end\\\":%d}",
                            the_repo.path[file], start + 1, start + 10));
    else if (tool == 1)
        must(lg_buf_appendf(b, "{\\\"query\\\":\\\"%s\\\"}", query));
    else if (tool == 2) {
        must(lg_buf_appendf(b, "{\\\"path\\\":\\\"%s\\\",\\\"start\\\":%d,\\\"end\\\":%d,"
                               "\\\"text\\\":\\\"",
                            the_repo.path[file], start + 1, start + 2));
        code_line(r, b, 1);
        must(lg_buf_append_str(b, "\\\"}"));
    } else
        must(lg_buf_appendf(b, "{\\\"target\\\":\\\"tests/test_%s.c\\\"}", modules[file % 8]));
}

/* ~400 B of tool output, as real tools give it: the same input gives the
 * same output (files and searches come from the shared repository; a test
 * run lists the module's tests, fixed by writes one by one). */
static void tool_result(lg_pcg32 *r, toolstate *ts, int tool, int file, int start,
                        const char *query, lg_buf *b)
{
    size_t s0 = b->len;
    if (tool == 0) {
        for (int l = start; l < start + 10; l++)
            must(lg_buf_appendf(b, "%d: %s\\n", l + 1, the_repo.line[file][l % REPO_LINES].data));
    } else if (tool == 1) {
        int hits = 0;
        for (int f = 0; f < REPO_FILES && hits < 8; f++)
            for (int l = 0; l < REPO_LINES && hits < 8; l++)
                if (strstr(the_repo.line[f][l].data, query)) {
                    must(lg_buf_appendf(b, "%s:%d:%s\\n", the_repo.path[f], l + 1,
                                        the_repo.line[f][l].data));
                    hits++;
                }
        if (!hits)
            must(lg_buf_appendf(b, "no matches for %s\\n", query));
    } else if (tool == 2) {
        /* a write may fix one failing test */
        for (int t = 0; t < 12; t++)
            if (ts->failing[t] && lg_pcg32_boundedrand(r, 2)) {
                ts->failing[t] = false;
                break;
            }
        must(lg_buf_appendf(b, "wrote 2 lines to %s\\n@@ -%d,4 +%d,4 @@\\n", the_repo.path[file],
                            start + 1, start + 1));
        for (int l = start; l < start + 4; l++)
            must(lg_buf_appendf(b, " %s\\n", the_repo.line[file][l % REPO_LINES].data));
    } else {
        int pass = 0, failed = 0;
        for (int t = 0; t < 12; t++) {
            test_name(ts->module, t, b);
            must(lg_buf_appendf(b, " ... %s\\n", ts->failing[t] ? "FAILED" : "ok"));
            pass += !ts->failing[t];
            failed += ts->failing[t];
        }
        must(lg_buf_appendf(b, "%d passed, %d failed in %u.%02us\\n", pass, failed,
                            1 + lg_pcg32_boundedrand(r, 3), lg_pcg32_boundedrand(r, 100)));
    }
    (void)s0;
}

static void gen_session(uint64_t seed, size_t idx, int k, session *s)
{
    lg_pcg32 r;
    lg_buf task = LG_BUF_INIT, conv = LG_BUF_INIT;
    int64_t created = 1735689600 + (int64_t)idx * 600;
    size_t prompt_tokens_base;
    int file;

    lg_pcg32_srandom(&r, seed, lg_pcg32_mix(idx, (uint64_t)k));
    snprintf(s->key, sizeof s->key, "%zu.0", idx);
    s->calls = calloc((size_t)k, sizeof *s->calls);
    if (!s->calls)
        must(LG_ENOMEM);
    file = (int)lg_pcg32_boundedrand(&r, REPO_FILES);
    toolstate ts = {file % 8, {false}};
    /* An agent works on a focus: a few regions of the task's file and a few
     * symbols it keeps coming back to (re-reading after an edit, searching
     * the same name again); now and then it looks elsewhere. */
    int regions[3];
    char symbols[3][64];
    for (int i = 0; i < 3; i++) {
        regions[i] = 10 * (int)lg_pcg32_boundedrand(&r, (REPO_LINES - 20) / 10);
        snprintf(symbols[i], sizeof symbols[i], "%s->%s", ident(&r), ident(&r));
    }
    for (int t = 0; t < 3; t++)
        ts.failing[lg_pcg32_boundedrand(&r, 12)] = true;
    must(lg_buf_appendf(&task, "Task %zu: in %s, ", idx, the_repo.path[file]));
    words(&r, &task, 270);
    /* conv: the messages so far */
    must(lg_buf_appendf(&conv, "{\"role\":\"system\",\"content\":\"%s\"},{\"role\":\"user\","
                               "\"content\":\"%s\"}",
                        system_prompt, task.data));
    prompt_tokens_base = (strlen(system_prompt) + sizeof tools_json + task.len) / 4;
    for (int c = 0; c < k; c++) {
        call *cl = &s->calls[c];
        lg_buf callid = LG_BUF_INIT, args = LG_BUF_INIT, msg = LG_BUF_INIT;
        int tool = (int)lg_pcg32_boundedrand(&r, 4);
        bool focus = lg_pcg32_boundedrand(&r, 4) != 0;
        int f = focus ? file : (int)lg_pcg32_boundedrand(&r, REPO_FILES);
        int start = focus ? regions[lg_pcg32_boundedrand(&r, 3)]
                          : (int)lg_pcg32_boundedrand(&r, REPO_LINES - 20);
        char query[64];
        if (focus)
            snprintf(query, sizeof query, "%s", symbols[lg_pcg32_boundedrand(&r, 3)]);
        else
            snprintf(query, sizeof query, "%s->%s", ident(&r), ident(&r));
        bool last = c == k - 1;
        int64_t ptok = (int64_t)(prompt_tokens_base + conv.len / 4);
        int64_t ctok = 20 + lg_pcg32_boundedrand(&r, 60);

        lg_buf_init(&cl->req);
        lg_buf_init(&cl->resp);
        must(lg_buf_append_str(&cl->req, "{\"messages\":["));
        must(lg_buf_append(&cl->req, conv.data, conv.len));
        must(lg_buf_appendf(&cl->req, "],\"model\":\"gpt-4o-2024-08-06\",\"temperature\":0.2,"
                                      "\"tool_choice\":\"auto\",\"tools\":%s}",
                            tools_json));
        must(lg_buf_append_str(&callid, "call_"));
        rand_id(&r, &callid, 24);
        if (last) {
            must(lg_buf_append_str(&msg, "{\"role\":\"assistant\",\"content\":\""));
            words(&r, &msg, 200);
            must(lg_buf_append_str(&msg, "\",\"refusal\":null}"));
        } else {
            tool_args(&r, tool, f, start, query, &args);
            must(lg_buf_appendf(&msg,
                                "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
                                "\"%s\",\"type\":\"function\",\"function\":{\"name\":\"%s\","
                                "\"arguments\":\"%s\"}}],\"refusal\":null}",
                                callid.data, tool_names[tool], args.data));
        }
        cl->usage.in = ptok;
        cl->usage.out = ctok;
        cl->usage.cached = c ? (ptok / 1024) * 1024 : 0;
        must(lg_buf_append_str(&cl->resp, "{\"id\":\"chatcmpl-"));
        rand_id(&r, &cl->resp, 29);
        must(lg_buf_appendf(&cl->resp,
                            "\",\"object\":\"chat.completion\",\"created\":%lld,\"model\":"
                            "\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":%s,"
                            "\"logprobs\":null,\"finish_reason\":\"%s\"}],\"usage\":{"
                            "\"prompt_tokens\":%lld,\"completion_tokens\":%lld,\"total_tokens\":"
                            "%lld,\"prompt_tokens_details\":{\"cached_tokens\":%lld,"
                            "\"audio_tokens\":0},\"completion_tokens_details\":{"
                            "\"reasoning_tokens\":0,\"audio_tokens\":0,"
                            "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}},"
                            "\"service_tier\":\"default\",\"system_fingerprint\":\"fp_50cad350e4\"}",
                            (long long)(created + c * 7), msg.data, last ? "stop" : "tool_calls",
                            (long long)ptok, (long long)ctok, (long long)(ptok + ctok),
                            (long long)cl->usage.cached));
        /* the next request carries this call and its result */
        if (!last) {
            must(lg_buf_appendf(&conv, ",%s,{\"role\":\"tool\",\"tool_call_id\":\"%s\","
                                       "\"content\":\"",
                                msg.data, callid.data));
            tool_result(&r, &ts, tool, f, start, query, &conv);
            must(lg_buf_append_str(&conv, "\"}"));
        }
        lg_buf_release(&callid);
        lg_buf_release(&args);
        lg_buf_release(&msg);
    }
    lg_buf_release(&task);
    lg_buf_release(&conv);
}

typedef struct job {
    lg_store *st;
    session *ss;
    size_t n, k, tid, nthreads;
    int rc;
    lg_err err;
} job;

static void *writer(void *arg)
{
    job *j = arg;
    for (size_t i = j->tid; i < j->n && !j->rc; i += j->nthreads) {
        lg_session_desc d = {j->ss[i].key, "bench", "bench", (int64_t)i, 0, 0};
        lg_store_session *w;
        if ((j->rc = lg_store_session_begin(j->st, &d, &w, &j->err)))
            break;
        for (size_t c = 0; c < j->k && !j->rc; c++) {
            call *cl = &j->ss[i].calls[c];
            lg_event ev = lg_event_make(LG_EVENT_MODEL);
            ev.t_us = c * 900000;
            ev.model.provider = "openai";
            ev.model.method = "POST";
            ev.model.path = "/v1/chat/completions";
            ev.model.model = "gpt-4o-2024-08-06";
            ev.model.request = (lg_bytes){cl->req.data, cl->req.len};
            ev.model.fingerprint = lg_hash_bytes(cl->req.data, cl->req.len);
            ev.model.status = 200;
            ev.model.response = (lg_bytes){cl->resp.data, cl->resp.len};
            ev.model.usage = cl->usage;
            ev.model.latency_us = 800000 + c * 1000;
            j->rc = lg_store_session_append(w, &ev, NULL, NULL, &j->err);
        }
        if (!j->rc) {
            lg_event ev = lg_event_make(LG_EVENT_END);
            ev.t_us = j->k * 900000;
            ev.end.reason = "success";
            ev.end.converged = true;
            j->rc = lg_store_session_append(w, &ev, NULL, NULL, &j->err);
        }
        if (j->rc)
            lg_store_session_abort(w);
        else
            j->rc = lg_store_session_commit(w, NULL, &j->err);
    }
    return NULL;
}

typedef struct rjob {
    lg_store *st;
    session *ss;
    const lg_session_list *l;
    size_t tid, nthreads;
} rjob;

static void rfail(const lg_err *e)
{
    fprintf(stderr, "bench_store: %s\n", e->msg);
    exit(3);
}

/* Reads sessions tid, tid+nthreads, ... and checks every call's bytes. */
static void *reader(void *arg)
{
    rjob *j = arg;
    lg_err err = LG_ERR_INIT;
    for (size_t i = j->tid; i < j->l->n; i += j->nthreads) {
        lg_session_reader *r;
        size_t idx = (size_t)j->l->items[i].case_index;
        if (lg_store_session_read(j->st, j->l->items[i].id, &r, &err))
            rfail(&err);
        for (size_t c = 0; c < lg_session_reader_calls(r); c++) {
            const lg_event *ev;
            const call *want = &j->ss[idx].calls[c];
            if (lg_session_reader_call(r, c, &ev, &err))
                rfail(&err);
            if (ev->model.request.len != want->req.len || ev->model.response.len != want->resp.len ||
                memcmp(ev->model.request.data, want->req.data, want->req.len) ||
                memcmp(ev->model.response.data, want->resp.data, want->resp.len)) {
                fprintf(stderr, "bench_store: session %zu call %zu differs\n", idx, c);
                exit(3);
            }
        }
        lg_session_reader_free(r);
    }
    return NULL;
}

static void fail(const lg_err *e)
{
    fprintf(stderr, "bench_store: %s\n", e->msg);
    exit(3);
}

static uint64_t file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static double cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#define REPEAT_MAX 15

typedef struct result {
    uint64_t raw, zstd19, store, compacted;
    size_t calls, repeats;
    /* medians over the repeats; write_runs: each repeat's write time */
    double write_s, write_cpu_s, read_s, read_cpu_s, zstd19_s, compact_s;
    double write_runs[REPEAT_MAX];
} result;

static bool no_peer;
static int level;
static size_t repeats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, size_t n)
{
    double tmp[REPEAT_MAX];
    memcpy(tmp, v, n * sizeof *v);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void run_k(const char *dir, uint64_t seed, size_t n, size_t k, size_t nthreads,
                  bool compact, bool keep, result *res)
{
    session *ss = calloc(n, sizeof *ss);
    uint64_t t0;
    double c0;
    char path[4096];
    lg_err err = LG_ERR_INIT;
    lg_store *st;
    lg_buf cat = LG_BUF_INIT;

    memset(res, 0, sizeof *res);
    res->calls = n * k;
    if (!ss)
        must(LG_ENOMEM);
    for (size_t i = 0; i < n; i++) {
        gen_session(seed, i, (int)k, &ss[i]);
        for (size_t c = 0; c < k; c++) {
            res->raw += ss[i].calls[c].req.len + ss[i].calls[c].resp.len;
            must(lg_buf_append(&cat, ss[i].calls[c].req.data, ss[i].calls[c].req.len));
            must(lg_buf_append(&cat, ss[i].calls[c].resp.data, ss[i].calls[c].resp.len));
        }
    }
    /* the peer: zstd -19 over everything end to end, one frame, one thread */
    if (!no_peer) {
        size_t bound = ZSTD_compressBound(cat.len), z;
        void *zb = malloc(bound);
        if (!zb)
            must(LG_ENOMEM);
        t0 = lg_clock_mono_ns();
        z = ZSTD_compress(zb, bound, cat.data, cat.len, 19);
        res->zstd19_s = (double)(lg_clock_mono_ns() - t0) / 1e9;
        if (ZSTD_isError(z)) {
            fprintf(stderr, "bench_store: zstd: %s\n", ZSTD_getErrorName(z));
            exit(3);
        }
        res->zstd19 = z;
        free(zb);
    }
    lg_buf_release(&cat);

    /* Each repeat writes a new file then reads it; the rates reported are
     * the medians (a short run on a shared machine is noisy), the size the
     * largest file (writers interleave differently each time). */
    double ws[REPEAT_MAX], wc[REPEAT_MAX], rs[REPEAT_MAX], rc[REPEAT_MAX];
    for (size_t r = 0; r < repeats; r++) {
        /* write: every session begun, appended and committed, by nthreads writers */
        snprintf(path, sizeof path, "%s/store-k%zu.lgt", dir, k);
        unlink(path);
        if (lg_store_open(path, LG_STORE_WRITE, &st, &err))
            fail(&err);
        if (level)
            lg_store_set_level(st, level);
        t0 = lg_clock_mono_ns();
        c0 = cpu_s();
        {
            pthread_t th[16];
            job jobs[16];
            for (size_t t = 0; t < nthreads; t++) {
                jobs[t] = (job){st, ss, n, k, t, nthreads, 0, LG_ERR_INIT};
                pthread_create(&th[t], NULL, writer, &jobs[t]);
            }
            for (size_t t = 0; t < nthreads; t++) {
                pthread_join(th[t], NULL);
                if (jobs[t].rc)
                    fail(&jobs[t].err);
            }
        }
        ws[r] = (double)(lg_clock_mono_ns() - t0) / 1e9;
        wc[r] = cpu_s() - c0;
        lg_store_close(st);
        if (file_size(path) > res->store) /* the largest of the repeats */
            res->store = file_size(path);

        /* read: every request and response decoded and checked, by nthreads readers */
        if (lg_store_open(path, LG_STORE_READ, &st, &err))
            fail(&err);
        t0 = lg_clock_mono_ns();
        c0 = cpu_s();
        {
            lg_session_list *l;
            pthread_t th[16];
            rjob jobs[16];
            if (lg_store_list_sessions(st, NULL, &l, &err))
                fail(&err);
            if (l->n != n) {
                fprintf(stderr, "bench_store: %zu sessions read back, %zu written\n", l->n, n);
                exit(3);
            }
            for (size_t t = 0; t < nthreads; t++) {
                jobs[t] = (rjob){st, ss, l, t, nthreads};
                pthread_create(&th[t], NULL, reader, &jobs[t]);
            }
            for (size_t t = 0; t < nthreads; t++)
                pthread_join(th[t], NULL);
            lg_session_list_free(l);
        }
        rs[r] = (double)(lg_clock_mono_ns() - t0) / 1e9;
        rc[r] = cpu_s() - c0;
        lg_store_close(st);
    }
    res->repeats = repeats;
    memcpy(res->write_runs, ws, repeats * sizeof *ws);
    res->write_s = median(ws, repeats);
    res->write_cpu_s = median(wc, repeats);
    res->read_s = median(rs, repeats);
    res->read_cpu_s = median(rc, repeats);

    if (compact) {
        lg_store_stats before, after;
        t0 = lg_clock_mono_ns();
        if (lg_store_compact(path, &before, &after, &err))
            fail(&err);
        res->compact_s = (double)(lg_clock_mono_ns() - t0) / 1e9;
        res->compacted = file_size(path);
    }
    if (!keep)
        unlink(path);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < k; c++) {
            lg_buf_release(&ss[i].calls[c].req);
            lg_buf_release(&ss[i].calls[c].resp);
        }
        free(ss[i].calls);
    }
    free(ss);
}

static void print_result(const char *name, const result *r, bool compact)
{
    printf("\"%s\": {\"raw_bytes\": %llu, \"zstd19_bytes\": %llu, \"store_bytes\": %llu, "
           "\"bytes_per_call\": %.1f, \"write_calls_per_s\": %.0f, \"read_calls_per_s\": %.0f, "
           "\"calls\": %zu, \"raw_over_store\": %.1f, \"raw_over_zstd19\": %.1f, "
           "\"write_calls_per_cpu_s\": %.0f, \"read_calls_per_cpu_s\": %.0f, "
           "\"zstd19_seconds\": %.2f",
           name, (unsigned long long)r->raw, (unsigned long long)r->zstd19,
           (unsigned long long)r->store, (double)r->store / (double)r->calls,
           (double)r->calls / r->write_s, (double)r->calls / r->read_s, r->calls,
           (double)r->raw / (double)r->store, r->zstd19 ? (double)r->raw / (double)r->zstd19 : 0.0,
           (double)r->calls / r->write_cpu_s, (double)r->calls / r->read_cpu_s, r->zstd19_s);
    printf(", \"repeats\": %zu, \"write_calls_per_s_runs\": [", r->repeats);
    for (size_t i = 0; i < r->repeats; i++)
        printf("%s%.0f", i ? ", " : "", (double)r->calls / r->write_runs[i]);
    printf("]");
    if (compact)
        printf(", \"compacted_bytes\": %llu, \"compact_seconds\": %.2f",
               (unsigned long long)r->compacted, r->compact_s);
    printf("}");
}

static const char usage[] =
    "usage: bench_store [--quick] [--sessions N] [--seed S] [--threads T] [--dir DIR] [--keep]\n"
    "                   [--compact] [--no-peer] [--level L] [--repeat R]\n"
    "\n"
    "Prints one JSON object. --quick: 20 sessions instead of 200, one repeat. --keep\n"
    "leaves DIR/store-k8.lgt and DIR/store-k32.lgt. --compact also compacts them and\n"
    "reports the size. --no-peer skips the zstd -19 peer. --level overrides the zstd\n"
    "levels. --repeat R (1..15, default 5) writes and reads each store R times and\n"
    "reports the median rates and the largest file.\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'},       {"sessions", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},  {"threads", required_argument, NULL, 't'},
        {"dir", required_argument, NULL, 'd'},   {"keep", no_argument, NULL, 'k'},
        {"compact", no_argument, NULL, 'c'},     {"help", no_argument, NULL, 'h'},
        {"no-peer", no_argument, NULL, 'P'},     {"level", required_argument, NULL, 'L'},
        {"repeat", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0},
    };
    size_t n = 0, threads = 2;
    uint64_t seed = 42;
    bool quick = false, keep = false, compact = false;
    char tmpl[] = "/tmp/bench_store.XXXXXX";
    const char *dir = NULL;
    result k8, k32;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'q': quick = true; break;
        case 'n': n = strtoul(optarg, &end, 10); if (*end || !n) goto bad; break;
        case 's': seed = strtoull(optarg, &end, 10); if (*end) goto bad; break;
        case 't': threads = strtoul(optarg, &end, 10); if (*end || !threads || threads > 16) goto bad; break;
        case 'd': dir = optarg; break;
        case 'k': keep = true; break;
        case 'c': compact = true; break;
        case 'P': no_peer = true; break;
        case 'L': level = (int)strtol(optarg, &end, 10); if (*end || level < 1 || level > 19) goto bad; break;
        case 'r': repeats = strtoul(optarg, &end, 10); if (*end || !repeats || repeats > REPEAT_MAX) goto bad; break;
        case 'h': fputs(usage, stdout); return 0;
        default: goto bad;
        }
    }
    if (optind < argc)
        goto bad;
    if (!n)
        n = quick ? 20 : 200;
    if (!repeats)
        repeats = quick ? 1 : 5;
    zipf_init(&words_zipf, NVOCAB, 1.0);
    zipf_init(&idents_zipf, NIDENTS, 1.0);
    repo_init(seed);
    if (!dir) {
        if (!mkdtemp(tmpl)) {
            perror("bench_store: mkdtemp");
            return 3;
        }
        dir = tmpl;
    }
    double load = -1;
    {
        FILE *f = fopen("/proc/loadavg", "r");
        if (f) {
            if (fscanf(f, "%lf", &load) != 1)
                load = -1;
            fclose(f);
        }
    }
    run_k(dir, seed, n, 8, threads, compact, keep, &k8);
    run_k(dir, seed, n, 32, threads, compact, keep, &k32);
    printf("{\"bench\": \"store\", \"seed\": %llu, \"sessions\": %zu, \"threads\": %zu, "
           "\"quick\": %s, \"loadavg_1m_at_start\": %.2f, ",
           (unsigned long long)seed, n, threads, quick ? "true" : "false", load);
    print_result("k8", &k8, compact);
    printf(", ");
    print_result("k32", &k32, compact);
    {
        double bpc8 = (double)k8.store / (double)k8.calls, bpc32 = (double)k32.store / (double)k32.calls;
        /* the throughput targets hold for K=8 and for K=32 */
        double w8 = (double)k8.calls / k8.write_s, w32 = (double)k32.calls / k32.write_s;
        double r8 = (double)k8.calls / k8.read_s, r32 = (double)k32.calls / k32.read_s;
        double w = w8 < w32 ? w8 : w32, r = r8 < r32 ? r8 : r32;
        printf(", \"targets\": {\"k8_store_le_raw_over_10\": %s, \"k32_store_le_raw_over_30\": %s, "
               "\"k32_bytes_per_call_le_1_5x_k8\": %s, \"write_ge_20000_calls_per_s\": %s, "
               "\"read_ge_50000_calls_per_s\": %s}",
               k8.store * 10 <= k8.raw ? "true" : "false", k32.store * 30 <= k32.raw ? "true" : "false",
               bpc32 <= 1.5 * bpc8 ? "true" : "false", w >= 20000 ? "true" : "false",
               r >= 50000 ? "true" : "false");
    }
    printf("}\n");
    if (dir == tmpl && !keep)
        rmdir(tmpl);
    return 0;
bad:
    fputs(usage, stderr);
    return 2;
}
