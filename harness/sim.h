/*
 * harness/sim.h - the simulated model: a deterministic OpenAI- and
 * Anthropic-compatible upstream used by tests, the demo and users who want
 * to exercise their loop's error handling.
 *
 * Two layers:
 *   - lg_sim_plan_request() is a pure function from a request (method, path,
 *     body) and its occurrence number to a response *plan*: status, headers,
 *     body (with the split points of a server-sent-event stream), delays and
 *     an injected fault. No I/O, no clock, no globals: unit tests call it
 *     directly. With a suite's behaviour model (cfg->model,
 *     harness/sim_model.h) the answers follow the case's hidden truth;
 *     without one, the script below.
 *   - harness/sim_server.h serves plans over HTTP through recorder/httpd.
 *
 * Endpoints (POST unless noted): /v1/chat/completions (streaming and not,
 * tools and tool_calls, stream_options.include_usage), /v1/responses
 * (non-streaming, function tools), /v1/embeddings (float or base64),
 * /v1/messages (Anthropic; streaming and not, tool_use blocks), GET
 * /v1/models. Anything else is a 404 in the OpenAI error shape.
 *
 * The script: while the request declares tools (and tool_choice is not
 * "none") and carries fewer than `tool_turns` tool results, the model asks
 * for the first declared tool, with arguments derived from the first user
 * message and the JSON schema of the tool. Once it has seen `tool_turns`
 * results (or there are no tools) it answers with a text that names a hash
 * of the whole request and quotes the last tool result, so any change in
 * what the loop sends shows up in what it gets back.
 *
 * Determinism: the request hash is XXH3 of the method, the path and the
 * canonical JSON of the body (key order does not matter). Faults are drawn
 * once per request from PCG32 seeded with (seed, stream = mix(hash,
 * occurrence)), where `occurrence` counts earlier identical requests (0 for
 * the first), so a retried request gets a fresh draw and the same run of
 * requests gets the same faults whatever the thread interleaving.
 * Ids, timestamps and token counts derive from the hash and sizes only.
 */
#ifndef LG_SIM_H
#define LG_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "recorder/http.h"

typedef struct lg_sim_config {
    uint64_t seed;           /* fault draws */
    double p429;             /* rate of 429 Too Many Requests (with Retry-After) */
    double p500;             /* rate of 500 Internal Server Error */
    double pcut;             /* rate of a response cut mid-way */
    double pslow;            /* rate of a response delayed by slow_ms */
    unsigned latency_ms;     /* delay before every response head */
    unsigned slow_ms;        /* extra delay of a "slow" fault */
    unsigned chunk_gap_ms;   /* delay between stream chunks */
    unsigned retry_after_ms; /* advertised in retry-after-ms (and Retry-After, rounded up) */
    unsigned tool_turns;     /* tool results needed before the final answer */
    unsigned embed_dims;     /* embedding size when the request gives no dimensions */
    /* The behaviour model of a suite (harness/sim_model.h), borrowed; NULL:
     * the plain script. With a model, chat completions, messages and
     * responses requests are answered by it, its latency is added to
     * latency_ms, and faults are drawn per (case, trial, turn, occurrence). */
    const struct lg_sim_model *model;
} lg_sim_config;

/* Defaults: seed 0, no faults, no latency, slow_ms 2000, chunk_gap_ms 0,
 * retry_after_ms 1000, tool_turns 2, embed_dims 8, no model. */
void lg_sim_config_init(lg_sim_config *cfg);

/* Parses a fault list "429:0.05,500:0.02,cut:0.01,slow:0.1" (any subset, any
 * order) into cfg's rates. Each rate is in [0, 1] and their sum must not
 * exceed 1. LG_EUSAGE with a message naming the bad item and the fix. */
int lg_sim_parse_faults(const char *spec, lg_sim_config *cfg, lg_err *err) LG_WUR;

/* Which fault a plan carries. */
enum lg_sim_fault {
    LG_SIM_FAULT_NONE = 0,
    LG_SIM_FAULT_429 = 1,
    LG_SIM_FAULT_500 = 2,
    LG_SIM_FAULT_CUT = 3,
    LG_SIM_FAULT_SLOW = 4,
};

/* "none", "429", "500", "cut", "slow". */
const char *lg_sim_fault_name(int fault);

typedef struct lg_sim_plan {
    int status;
    lg_http_headers headers; /* owned */
    lg_buf body;             /* the whole body (for a stream, all chunks in order) */
    bool stream;             /* server-sent events: send chunk by chunk, chunked encoding */
    size_t *chunk_end;       /* stream: chunk i is body[chunk_end[i-1], chunk_end[i]); owned */
    size_t nchunks;
    bool cut;                /* stop early and drop the connection */
    size_t cut_at;           /* stream: chunks sent before the cut; else body bytes sent
                                (of a declared content-length of body.len) */
    unsigned delay_ms;       /* before the head */
    unsigned gap_ms;         /* between chunks */
    int fault;               /* enum lg_sim_fault */
    int64_t in_tokens;       /* usage reported (-1 when the response has none) */
    int64_t out_tokens;
    bool tool_call;          /* the response asks for a tool */
    int turn_kind;           /* with a model: enum lg_sim_turn_kind (harness/sim_model.h) */
    int64_t case_index;      /* with a model: the case and trial the request was */
    int64_t trial;           /* resolved to, -1 when unknown */
} lg_sim_plan;

/* Empty plan; allocates nothing. */
void lg_sim_plan_init(lg_sim_plan *p);
/* Frees the contents and re-inits. Accepts NULL. */
void lg_sim_plan_release(lg_sim_plan *p);

/* The request hash used for occurrences, ids and the answer text. Pure.
 * `body` may be NULL when len is 0. */
uint64_t lg_sim_request_hash(const char *method, const char *path, const char *body, size_t len);

/*
 * Plans the response to one request. `path` is the request path (a query
 * string is ignored); `occurrence` counts earlier requests with the same
 * lg_sim_request_hash (0 for the first). `out` must be initialised; its old
 * contents are released. Bad requests (invalid JSON, missing fields) are
 * planned as 400 responses in the provider's error shape, not errors of
 * this call. Returns 0, or LG_ENOMEM. Pure and thread-safe.
 */
int lg_sim_plan_request(const lg_sim_config *cfg, const char *method, const char *path,
                        const char *body, size_t len, uint64_t occurrence, lg_sim_plan *out,
                        lg_err *err) LG_WUR;

/* One request with what the caller knows about it. */
typedef struct lg_sim_request {
    const char *method;  /* borrowed */
    const char *path;    /* borrowed; a query string is ignored */
    const char *body;    /* borrowed; may be NULL when len is 0 */
    size_t len;
    uint64_t occurrence; /* earlier identical requests of the same case and trial */
    int64_t case_index;  /* from X-Loopgate-Case, -1 when unknown */
    int64_t trial;       /* from X-Loopgate-Trial, -1 when unknown */
} lg_sim_request;

/* lg_sim_plan_request() with the case and trial the caller knows (the
 * behaviour model falls back to the request's hint or content when they
 * are -1). Same returns; an answer field missing from a case is planned as
 * a 500 naming it. Pure and thread-safe. */
int lg_sim_plan_call(const lg_sim_config *cfg, const lg_sim_request *rq, lg_sim_plan *out,
                     lg_err *err) LG_WUR;

#endif
