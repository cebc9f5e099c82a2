/*
 * recorder/trace.h - the trace model: sessions and their events.
 *
 * A session is what one trial of one case did (or one standalone proxy
 * session): an ordered list of events. These are plain structs that callers
 * fill in and pass to lg_store_session_append(), and that the store hands
 * back when reading (recorder/store.h). All pointers inside an event are
 * *borrowed*: on append the store copies what it needs before returning; on
 * read they point into memory owned by the session reader they came from.
 *
 * Text fields are NUL-terminated UTF-8. Fields documented as "JSON text"
 * must hold one valid JSON value (objects for headers); the store keeps
 * them in canonical form (lg_json_dump_canonical: sorted keys, compact), so
 * what you read back is the canonical dump of what you wrote. Bodies
 * (lg_bytes) are arbitrary bytes and come back byte for byte.
 *
 * Nothing here allocates, so the types are safe to use from any thread.
 */
#ifndef LG_TRACE_H
#define LG_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"

/* Trace store format this loopgate writes and the newest it reads. */
#define LG_TRACE_FORMAT 2

typedef enum lg_event_kind {
    LG_EVENT_MODEL = 1,      /* one model API call through the proxy */
    LG_EVENT_TOOL = 2,       /* one tool run (`loopgate exec` or a built-in tool) */
    LG_EVENT_ITERATION = 3,  /* the loop started an iteration */
    LG_EVENT_INVARIANT = 4,  /* an invariant was checked */
    LG_EVENT_VERIFY = 5,     /* the external verification gate ran */
    LG_EVENT_DIVERGENCE = 6, /* replay saw a request that differs from the recording */
    LG_EVENT_NOTE = 7,       /* free text from the loop or the harness */
    LG_EVENT_END = 8,        /* the session ended: termination reason */
} lg_event_kind;

#define LG_EVENT_KIND_MIN LG_EVENT_MODEL
#define LG_EVENT_KIND_MAX LG_EVENT_END

/* A borrowed byte range. `data` may be NULL when `len` is 0. */
typedef struct lg_bytes {
    const char *data;
    size_t len;
} lg_bytes;

/* One chunk of a streamed (server-sent events) response. Its bytes are
 * response[offset, offset + len) where offset is the sum of the lengths of
 * the chunks before it; the chunks together cover the whole response body. */
typedef struct lg_chunk {
    size_t len;    /* bytes in this chunk (> 0) */
    uint64_t t_us; /* microseconds from the request start to its arrival */
} lg_chunk;

/* Token usage reported by the provider; -1 where unknown. */
typedef struct lg_usage {
    int64_t in;     /* input (prompt) tokens, cached ones included */
    int64_t out;    /* output (completion) tokens */
    int64_t cached; /* input tokens served from the provider's prompt cache */
} lg_usage;

#define LG_USAGE_UNKNOWN ((lg_usage){-1, -1, -1})

typedef struct lg_model_event {
    const char *provider;   /* "openai", "anthropic" or "generic"; required */
    const char *method;     /* HTTP method, "POST"; required */
    const char *path;       /* upstream path and query, "/v1/chat/completions"; required */
    const char *model;      /* model name from the request, or NULL */
    lg_bytes request;       /* request body as matched: already redacted */
    lg_hash128 fingerprint; /* computed by the matcher; the store only keeps it */
    int status;             /* HTTP status the client saw; 0 when there was no response */
    const char *fault;      /* NULL, or the upstream fault: "refused", "timeout", "reset", "cut" */
    const char *headers;    /* kept response headers: JSON object text, or NULL */
    lg_bytes response;      /* whole response body; for a stream, the chunks concatenated */
    const lg_chunk *chunks; /* stream chunks, or NULL when the response was not streamed */
    size_t n_chunks;
    lg_usage usage;
    uint64_t latency_us;    /* request start to the last response byte */
} lg_model_event;

typedef struct lg_tool_event {
    const char *name;     /* tool name; required */
    lg_bytes args;        /* arguments: JSON text, or argv as a JSON array for `exec` */
    lg_bytes out;         /* captured stdout */
    lg_bytes err;         /* captured stderr */
    int exit_code;        /* exit status (128+N for signal N), or -1 when not a process */
    const char *result;   /* JSON text result of a built-in tool, or NULL */
    uint64_t duration_us;
    const char *idem_key; /* idempotency key, or NULL */
} lg_tool_event;

typedef struct lg_iteration_event {
    int64_t index;     /* iteration number as the loop counts it (from 0 or 1) */
    const char *state; /* loop state: JSON text, or NULL */
} lg_iteration_event;

typedef struct lg_invariant_event {
    const char *name;   /* required */
    bool pass;
    const char *detail; /* why it failed, or NULL */
} lg_invariant_event;

typedef struct lg_verify_event {
    bool pass;           /* the gate's verdict */
    const char *message; /* its output or summary, or NULL */
} lg_verify_event;

typedef struct lg_divergence_event {
    int64_t call;     /* model call index where replay diverged */
    const char *path; /* JSON path of the first difference, "messages[3].content"; required */
    const char *diff; /* short unified diff of the two values, or NULL */
} lg_divergence_event;

typedef struct lg_note_event {
    const char *text; /* required */
    const char *data; /* JSON text, or NULL */
} lg_note_event;

typedef struct lg_end_event {
    const char *reason; /* termination reason, "success", "max_iterations", ...; required */
    bool converged;
    const char *error;  /* error text, or NULL */
} lg_end_event;

typedef struct lg_event {
    lg_event_kind kind;
    uint32_t seq;  /* set by the store: position in the session, from 0 (ignored on append) */
    int64_t call;  /* set by the store: model call index from 0, -1 for other kinds */
    uint64_t t_us; /* microseconds since the session began (the caller's clock) */
    union {
        lg_model_event model;
        lg_tool_event tool;
        lg_iteration_event iteration;
        lg_invariant_event invariant;
        lg_verify_event verify;
        lg_divergence_event divergence;
        lg_note_event note;
        lg_end_event end;
    };
} lg_event;

/* Stable lowercase name of a kind ("model", "tool", ...); "unknown" otherwise. */
const char *lg_event_kind_name(int kind);

/* Kind for a name as printed by lg_event_kind_name(), or 0 when unknown. */
int lg_event_kind_parse(const char *name);

/* Zero-initialised event of a kind with the "unknown" sentinels set
 * (call -1, usage unknown, exit_code -1). */
lg_event lg_event_make(lg_event_kind kind);

#endif
