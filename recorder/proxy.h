/*
 * recorder/proxy.h - the record/replay proxy for model API traffic.
 *
 * One HTTP server (recorder/httpd) on 127.0.0.1 that the loop under test
 * reaches through its SDK's base URL. Each request belongs to a *session*
 * (one trial, or one standalone run):
 *   - harness use: the URL carries the session,
 *     http://127.0.0.1:PORT/s/<token>/<upstream path>, so
 *     OPENAI_BASE_URL=http://127.0.0.1:PORT/s/<token>/v1 and
 *     ANTHROPIC_BASE_URL=http://127.0.0.1:PORT/s/<token> work unchanged;
 *     the harness opens and closes sessions in-process
 *     (lg_proxy_session_open / lg_proxy_session_close);
 *   - standalone (opts.standalone): any other URL maps straight to the
 *     upstream root and the session key comes from an X-Loopgate-Session
 *     header, or else is opts.default_session; such sessions open on first
 *     use and close when the proxy stops.
 *
 * Modes:
 *   record          forward upstream, store every call (request redacted,
 *                   response with its stream chunks and their time offsets,
 *                   kept headers, usage, fault);
 *   replay          serve from the store, never touch the network: call n
 *                   of a session is matched to recorded call n, concurrent
 *                   calls by fingerprint (recorder/match.h); a mismatch is a
 *                   divergence: HTTP 409 with a JSON body naming the
 *                   session, call, JSON path and a diff (and x-should-retry:
 *                   false so SDKs do not retry it), a divergence event, a
 *                   warning; with on_divergence LIVE the session goes
 *                   upstream from there and records the new branch;
 *   record-missing  replay what matches, forward and record the rest;
 *   passthrough     forward only, store nothing.
 * A replayed response carries `x-loopgate-replay: 1`, so a client may skip
 * waits that only made sense live (a recorded Retry-After, a backoff).
 * Streams are forwarded event by event as they arrive (each server-sent
 * event its own write) and replayed with the same bytes and framing, each
 * recorded chunk its own write, optionally at the recorded pace.
 *
 * Upstream faults are recorded as the client saw them: an HTTP error status
 * with its headers (Retry-After...), a stream cut mid-way (the client's
 * connection is cut after the same bytes), and for a refused connection,
 * a timeout or a reset before any response, the proxy's own 502/504 JSON
 * error with the fault named.
 *
 * Secrets: credential headers never reach the store (recorder/redact.h),
 * request and response bodies are redacted before storing and before
 * fingerprinting, and the upstream key from the environment is added by
 * recorder/upstream.h at call time only.
 *
 * Loop events: POST /s/<token>/event (or /event standalone) with a JSON
 * object {"type": "iteration"|"invariant"|"note"|"end"|"tool", ...} stores
 * it in order with the model calls (see lg_proxy_event_from_json).
 *
 * Tools: POST /s/<token>/tool (or /tool standalone) with
 * {"name": S, "args": ANY?, "idem_key": S?, "live": B?} asks whether a tool
 * must run:
 *   - idempotency first, in every mode: when `idem_key` was already seen in
 *     this session (a tool event posted with that "idempotency_key", or a
 *     call replayed with it) the answer is the first result,
 *     {"replay":true,"idempotent":true,"stdout":S,"stderr":S,"exit_code":N,
 *      "duration_us":N,"result":ANY|null}, and nothing is stored;
 *   - record, passthrough, and replay after a LIVE divergence:
 *     {"replay":false}: the client runs the tool and posts the result as a
 *     "tool" event (with its "idempotency_key"), which registers the key;
 *   - replay and record-missing: the recorded tool events that ran a
 *     process (exit_code >= 0; built-in pseudo tools such as final_answer
 *     are posted with exit_code -1 and are never replayed) are matched like
 *     model calls: tool call n takes recorded tool event n when its name and
 *     canonical arguments are equal, else the first unconsumed equal one.
 *     A match answers {"replay":true,...} as above (without "idempotent")
 *     and stores a copy of the event in the session (the run's log in
 *     replay), so the client does not post it; with "live": true (a tool
 *     the client runs in replay too, e.g. an idempotent one that rebuilds
 *     its work directory) a match is consumed but answered
 *     {"replay":false,"matched":true}, and the client runs the tool and
 *     posts its event. No match: record-missing
 *     answers {"replay":false}; replay is a divergence: a divergence event
 *     with path "tool[N].args..." (or "tool[N].name"), HTTP 409 with a JSON
 *     body naming the session, the tool call and the diff, or with LIVE
 *     {"replay":false} and the session goes live. Recorded replayable tool
 *     events nobody asked for are reported at close (unused_tools).
 *
 * Harness sessions (lg_proxy_session_open with a case index) add
 * `x-loopgate-case: I` and `x-loopgate-trial: T` to what goes upstream (the
 * simulated model's behaviour model reads them; they replace a client's
 * own copies, which standalone sessions forward as they are); they are
 * not part of matching.
 *
 * Deadlines: a request may carry `x-loopgate-timeout-ms: N` (never sent
 * upstream): when no complete response came within N ms the call is
 * stopped and recorded as an upstream "timeout" fault (a 504 answer when no
 * response head had arrived, else the client's connection is cut), so a
 * client's own timeout replays exactly as it happened.
 *
 * Threads: the proxy serves from httpd's threads; every function here is
 * thread-safe unless it says otherwise.
 */
#ifndef LG_PROXY_H
#define LG_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "recorder/match.h"
#include "recorder/redact.h"
#include "recorder/store.h"

typedef struct lg_proxy lg_proxy;

enum lg_proxy_mode {
    LG_PROXY_RECORD = 0,
    LG_PROXY_REPLAY = 1,
    LG_PROXY_RECORD_MISSING = 2,
    LG_PROXY_PASSTHROUGH = 3,
};

enum lg_proxy_pace {
    LG_PROXY_PACE_FAST = 0,     /* replay as fast as the client reads */
    LG_PROXY_PACE_RECORDED = 1, /* first chunk and gaps as recorded */
};

enum lg_proxy_on_divergence {
    LG_PROXY_DIVERGE_FAIL = 0, /* 409 to the client */
    LG_PROXY_DIVERGE_LIVE = 1, /* go upstream from there and record */
};

/* Called (from a server thread) for every divergence, after the event is
 * stored. `session` and `d` are borrowed for the call. */
typedef void (*lg_proxy_divergence_fn)(void *ud, const char *session, const lg_divergence *d);

typedef struct lg_proxy_opts {
    int mode;                      /* enum lg_proxy_mode */
    lg_store *log_store;           /* borrowed, write mode, optional: in replay, where nothing
                                      is written to `store`, each session (served calls, loop
                                      events, divergences) is committed here instead, so the
                                      harness can read back what the loop did */
    lg_store *store;               /* borrowed; write mode for record, record-missing and
                                      replay with LIVE; NULL only in passthrough */
    const char *upstream;          /* base URL; required unless mode is replay with FAIL */
    unsigned port;                 /* 0: random */
    int pace;                      /* enum lg_proxy_pace */
    int on_divergence;             /* enum lg_proxy_on_divergence */
    const lg_match_config *match;  /* borrowed; NULL: nothing ignored */
    const lg_redact *redact;       /* borrowed; NULL: only the fixed header list */
    bool standalone;               /* map unknown URLs to the upstream root */
    const char *default_session;   /* standalone key without a header; NULL: "default" */
    bool env_credentials;          /* upstream adds OPENAI_/ANTHROPIC_API_KEY when absent */
    long upstream_timeout_ms;      /* total per call; 0: 10 min */
    long upstream_idle_ms;         /* no byte for this long; 0: 2 min */
    unsigned threads;              /* httpd event threads; 0: 2 */
    lg_proxy_divergence_fn on_diverge; /* may be NULL */
    void *ud;
} lg_proxy_opts;

/* Starts the proxy. Returns 0 and an owned `*out` (stop with
 * lg_proxy_stop), or LG_EUSAGE (a missing store or upstream for the mode,
 * a read-only store where writing is needed), LG_EIO (the port), LG_ENOMEM. */
int lg_proxy_start(const lg_proxy_opts *opts, lg_proxy **out, lg_err *err) LG_WUR;

/* The bound port. */
unsigned lg_proxy_port(const lg_proxy *p);

/* What happened in one session. */
typedef struct lg_proxy_report {
    size_t calls;       /* model calls the loop made */
    size_t replayed;    /* served from the recording */
    size_t upstream;    /* sent upstream (recorded unless passthrough) */
    size_t divergences; /* requests that did not match the recording */
    size_t unused;      /* recorded calls no request consumed (replay modes) */
    size_t events;      /* loop events received (POST .../event) */
    size_t tools;       /* tool calls asked (POST .../tool), idempotent hits excluded */
    size_t tools_replayed; /* of those, answered from the recording */
    size_t idempotent_hits; /* tool calls answered with the first result of their key */
    size_t unused_tools; /* recorded replayable tool events no /tool call consumed */
    bool committed;     /* the session was written to the store */
    char *message;      /* owned: divergence and unused-call messages, each
                           ending in a newline; NULL when there is nothing to say */
} lg_proxy_report;

/* Frees report->message. Accepts NULL. */
void lg_proxy_report_release(lg_proxy_report *r);

#define LG_PROXY_TOKEN_MAX 40

/*
 * Opens a session for the harness: in replay modes loads the recording
 * with key desc->key (a missing one means every call diverges); in record
 * modes starts a session writer. Writes the URL token into `token`; the
 * loop's base URL is http://127.0.0.1:PORT/s/<token>. Borrows `desc`.
 * Errors: LG_EUSAGE (key already open), the store's errors, LG_ENOMEM.
 */
int lg_proxy_session_open(lg_proxy *p, const lg_session_desc *desc,
                          char token[LG_PROXY_TOKEN_MAX], lg_err *err) LG_WUR;

/*
 * Closes a session: waits for its requests in flight, commits it (record
 * modes, or replay after a LIVE divergence) or discards the writer, and
 * fills `*rep` (may be NULL; release with lg_proxy_report_release).
 * LG_ENOENT for an unknown token; a commit failure is returned as the
 * store's error, with the report still filled.
 */
int lg_proxy_session_close(lg_proxy *p, const char *token, lg_proxy_report *rep,
                           lg_err *err) LG_WUR;

/* Closes a session without committing anything (the harness stopped the
 * loop: an interrupted trial is not a result). Waits for its requests in
 * flight. LG_ENOENT for an unknown token. */
int lg_proxy_session_abort(lg_proxy *p, const char *token, lg_err *err);

/*
 * Stops serving (in-flight requests finish or are cut), closes every
 * session still open (standalone ones included), adds their reports into
 * `*total` (may be NULL; release it) and frees the proxy. The first commit
 * error, if any, goes to `err` and is returned. Accepts NULL.
 */
int lg_proxy_stop(lg_proxy *p, lg_proxy_report *total, lg_err *err);

/*
 * Parses a loop event posted to /event into a trace event. JSON shapes:
 *   {"type":"iteration","index":N,"state":{...}?}
 *   {"type":"invariant","name":S,"pass":B,"detail":S?}
 *   {"type":"note","text":S,"data":{...}?}
 *   {"type":"end","reason":S,"converged":B?,"error":S?}
 *   {"type":"tool","name":S,"args":ANY?,"stdout":S?,"stderr":S?,
 *    "exit_code":N?,"duration_us":N?,"result":ANY?}
 * `*ev` borrows strings from `j` and from `scratch` (JSON texts it dumps),
 * so both must outlive its use. LG_EINPUT with a message naming the field.
 * Pure; exposed for tests and for `loopgate exec`.
 */
int lg_proxy_event_from_json(const json_t *j, lg_event *ev, lg_buf scratch[3],
                             lg_err *err) LG_WUR;

#endif
