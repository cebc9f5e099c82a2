/*
 * recorder/match.h - request canonicalisation, fingerprints, divergence
 * reports and replay call matching.
 *
 * A request is matched on its method, its path and its body, never on its
 * headers (user agents, SDK retry counters and tracing ids change between
 * identical calls). The path is the upstream path with the session prefix
 * (/s/<token>) already stripped and the query string kept.
 *
 * Order of operations in the proxy, record and replay alike:
 *   1. redact the body (recorder/redact.h) - the store only sees this form;
 *   2. fingerprint the redacted body with lg_match_fingerprint()
 *      (lg_match_prepare() does 1 and 2 with a single JSON parse);
 *   3. in replay, pick the recorded call with lg_match_take_call(); on a
 *      divergence build the report with lg_match_diff() from the recorded
 *      (redacted) body and the incoming redacted body.
 * Because redaction is deterministic, a redacted recording still matches.
 *
 * Canonical form (version LG_MATCH_CANON_VERSION), the bytes that are hashed:
 *   "<method> <path>\n" "json\n" <canonical JSON>   for a body that parses as JSON
 *   "<method> <path>\n" "raw\n"  <body bytes>       for anything else (and empty)
 * The canonical JSON is lg_json_dump_canonical() (sorted keys, compact) of the
 * parsed body after removing every value an ignored path of the config
 * matches. The fingerprint is XXH3-128 (core/hash.h) of those bytes.
 * Fingerprints depend on the config: compute recorded fingerprints from the
 * stored bodies with the config in force at replay time, so a newly ignored
 * field takes effect on old recordings.
 *
 * Thread-safety: a config is immutable once built; all functions taking a
 * `const lg_match_config *` may run concurrently. The call matcher works on
 * caller-owned state and must be serialised by the caller per session.
 */
#ifndef LG_MATCH_H
#define LG_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hash.h"

#define LG_MATCH_CANON_VERSION 1

struct lg_redact; /* recorder/redact.h */

/* ---- configuration ---- */

typedef struct lg_match_config lg_match_config;

/* A config with no ignored paths. Returns owned (free with
 * lg_match_config_free) or NULL on OOM. */
lg_match_config *lg_match_config_new(void);
/* Accepts NULL. */
void lg_match_config_free(lg_match_config *cfg);
/* Adds a volatile field to ignore, in the recorder/jpath.h syntax
 * (`metadata.request_id`, `messages[*].id`, `user`). LG_EINPUT with the
 * column of a syntax error (prefix it with the config location), LG_ENOMEM.
 * Borrows `path`. Not thread-safe: configure before sharing. */
int lg_match_config_ignore(lg_match_config *cfg, const char *path, lg_err *err) LG_WUR;
/* Number of ignored paths. */
size_t lg_match_config_count(const lg_match_config *cfg);

/* ---- canonical form and fingerprint ---- */

/* A request as seen by the matcher. Everything is borrowed. `method` and
 * `path` are non-NULL C strings; `body` may be NULL when `body_len` is 0 and
 * need not be NUL-terminated. */
typedef struct lg_match_request {
    const char *method; /* "POST" */
    const char *path;   /* "/v1/chat/completions?x=1", session prefix stripped */
    const void *body;
    size_t body_len;
} lg_match_request;

/* Appends the canonical form of `req` to `out`. `cfg` may be NULL (nothing
 * ignored). Returns 0, LG_ENOMEM or LG_ETOOBIG (out's cap). */
int lg_match_canonical(const lg_match_config *cfg, const lg_match_request *req, lg_buf *out,
                       lg_err *err) LG_WUR;

/* XXH3-128 of the canonical form into *fp. Returns 0 or LG_ENOMEM. */
int lg_match_fingerprint(const lg_match_config *cfg, const lg_match_request *req,
                         lg_hash128 *fp, lg_err *err) LG_WUR;

/* A bounded, thread-safe memo of requests whose redaction changed nothing:
 * (method, path, body bytes) -> fingerprint. Replay sends, in the common
 * case, byte-identical bodies to the recorded ones; with a cache that has
 * seen the recorded bodies (fingerprint them through lg_match_prepare() at
 * load time) such a request costs one XXH3 pass instead of a JSON parse,
 * a redaction walk and a canonical dump. Entries are keyed by XXH3-128 of
 * the method, path and body; a full slot is overwritten. Use one cache per
 * (redaction config, match config) pair: the cached answer depends on both. */
typedef struct lg_match_cache lg_match_cache;

/* A cache of `slots` entries (rounded up to a power of two; 0: 4096; each
 * is 40 bytes). Returns owned (free with lg_match_cache_free) or NULL. */
lg_match_cache *lg_match_cache_new(size_t slots);
/* Accepts NULL. */
void lg_match_cache_free(lg_match_cache *c);
/* Lookups answered from the cache and not, since creation. */
void lg_match_cache_stats(lg_match_cache *c, uint64_t *hits, uint64_t *misses);

/* The proxy's one call per request: redacts the body with `r` (NULL: no
 * rules; see recorder/redact.h) into `redacted` (appended; this is what
 * the store keeps, and what lg_match_diff() should be given), on success
 * sets *n_redacted (may be NULL) to the number of replacements and *fp to
 * the fingerprint of the redacted request under `cfg`. It parses the JSON
 * once for both jobs; the result equals lg_redact_body() followed by
 * lg_match_fingerprint() on the redacted bytes. `cache` (may be NULL)
 * answers repeated bodies without parsing and learns the new ones whose
 * redaction changed nothing. Borrows everything; thread-safe for shared
 * `r`, `cfg` and `cache`. 0 or the error of either step (`redacted`
 * unchanged on error). */
int lg_match_prepare(const struct lg_redact *r, const lg_match_config *cfg,
                     lg_match_cache *cache, const lg_match_request *req, lg_buf *redacted,
                     size_t *n_redacted, lg_hash128 *fp, lg_err *err) LG_WUR;

/* ---- divergence reports ---- */

/* Most diff lines shown (hunk headers included) and most bytes of diff text
 * after the two header lines; what does not fit is summarised by a last
 * line "... N more lines". Lines longer than LG_MATCH_DIFF_LINE_MAX bytes are
 * clipped to a window around their first difference, with "..." marks. */
#define LG_MATCH_DIFF_MAX_LINES 40
#define LG_MATCH_DIFF_MAX_BYTES 4096
#define LG_MATCH_DIFF_LINE_MAX 200

typedef struct lg_divergence {
    char *session;      /* owned copy, or NULL when not given */
    long long call;     /* index of the incoming call in its session (0-based) */
    long long recorded; /* index of the recorded call compared with, -1 if none */
    /* Where the first difference is: a JSON path into the body in the
     * jpath syntax (`messages[3].content`, `stream`, `tools[0].function.name`),
     * or "(method)", "(path)", "(body)" (the bodies differ as a whole: raw
     * bytes, or JSON on one side only, or different top-level scalars), or
     * "(none)" when there was no recorded call to compare with. Owned; NULL
     * when the requests are equal. */
    char *path;
    /* Unified diff of the two values at `path`, recorded side first:
     * "--- recorded\n+++ incoming\n@@ -1 +1 @@\n-old\n+new\n". Strings are
     * split into lines as they are; other values are pretty-printed JSON
     * (2-space indent, sorted keys); a missing value has no lines. Bytes
     * that are control characters (other than tab) or invalid UTF-8 are
     * shown as \xNN. Owned; NULL when equal. */
    char *diff;
} lg_divergence;

/* Empty report: everything NULL, call 0, recorded -1. */
void lg_divergence_init(lg_divergence *d);
/* Frees the strings and re-inits. */
void lg_divergence_release(lg_divergence *d);

/* Compares a recorded request with an incoming one under `cfg` (NULL: nothing
 * ignored) and fills `out` (which must be initialised; its old contents are
 * released). `recorded` may be NULL: there was no recorded call left, path
 * becomes "(none)" and the diff shows the whole incoming request as added.
 * `session` (borrowed; may be NULL) is copied with bytes outside printable
 * ASCII shown as '?'; `call` and `recorded_index` are stored as given. Order of the search for the first difference: method,
 * path, then the bodies: object keys in sorted (byte) order with a key
 * missing on one side reported at that key, arrays by index with the first
 * extra element reported at its index, scalars by value (1 and 1.0 differ).
 * Returns 0 (out->path == NULL means the requests are equal), LG_ENOMEM, or
 * LG_ETOOBIG. */
int lg_match_diff(const lg_match_config *cfg, const lg_match_request *recorded,
                  const lg_match_request *incoming, const char *session, long long call,
                  long long recorded_index, lg_divergence *out, lg_err *err) LG_WUR;

/* Appends the human message to `out`:
 *   "session 3.1, call 2: request differs from the recording at messages[3].content\n"
 * followed by the diff. When the recorded call compared with is not the
 * incoming one it says "... differs from recorded call 4 at ...", when there
 * was none "session S, call N: request is not in the recording (no recorded
 * call left to match)"; "session S, " is left out when the session is NULL.
 * The text ends with a newline. 0, LG_ETOOBIG or LG_ENOMEM. */
int lg_divergence_message(const lg_divergence *d, lg_buf *out) LG_WUR;

/* Appends the body the proxy sends with HTTP 409 (compact JSON, no newline):
 *   {"error":{"type":"loopgate_divergence","message":M,"session":S,
 *    "call":N,"recorded_call":R,"path":P,"diff":D},"type":"error"}
 * M is lg_divergence_message() (headline and diff, so an SDK that logs the
 * error message shows the diff), S is null when unknown, R is null when
 * there was no recorded call. The top-level "type":"error" makes the shape
 * one Anthropic SDKs parse too. 0, LG_ENOMEM or LG_ETOOBIG. */
int lg_divergence_error_body(const lg_divergence *d, lg_buf *out, lg_err *err) LG_WUR;

/* ---- replay call matching ---- */

/* A consumed bitmap has one bit per recorded call: bit i is byte i/8,
 * mask 1 << (i%8). The caller owns it (LG_MATCH_BITMAP_BYTES(n) bytes,
 * zeroed at the start of the replay of a session). */
#define LG_MATCH_BITMAP_BYTES(n) (((size_t)(n) + 7) / 8)
static inline bool lg_match_bit(const unsigned char *bm, size_t i)
{
    return (bm[i / 8] >> (i % 8)) & 1u;
}
static inline void lg_match_bit_set(unsigned char *bm, size_t i)
{
    bm[i / 8] = (unsigned char)(bm[i / 8] | (1u << (i % 8)));
}

enum lg_match_pick {
    LG_MATCH_IN_ORDER = 0,       /* recorded call n, as expected */
    LG_MATCH_BY_FINGERPRINT = 1, /* another unconsumed call with the same fingerprint */
    LG_MATCH_DIVERGED = 2,       /* no match: *index is the call to diff against */
};

/* Matches incoming call `call` (0-based, in arrival order within the
 * session) whose fingerprint is `fp` against the `n` recorded fingerprints
 * `recorded` (borrowed, in recorded order):
 *   - recorded call `call` if it is unconsumed and its fingerprint equals;
 *   - else the first unconsumed recorded call with an equal fingerprint
 *     (concurrent calls arriving in another order);
 *   - else a divergence: *index is `call` if that recorded call exists and
 *     is unconsumed, else the unconsumed call nearest to `call` (the lower
 *     one on a tie), else SIZE_MAX (nothing left to compare with).
 * On a match the call is marked in `consumed` and *index is its position.
 * Pure apart from `consumed`; serialise calls per session. */
enum lg_match_pick lg_match_take_call(const lg_hash128 *recorded, size_t n,
                                      unsigned char *consumed, size_t call, lg_hash128 fp,
                                      size_t *index);

/* Writes up to `max` indices of recorded calls never consumed, ascending, to
 * `out` (may be NULL when max is 0) and returns how many there are in all. */
size_t lg_match_unused(const unsigned char *consumed, size_t n, size_t *out, size_t max);

/* Appends "session S: 2 recorded calls were never requested: 3, 4\n" (at most
 * 20 indices, then ", ... (N more)"), or nothing when all were consumed.
 * `session` may be NULL. 0, LG_ETOOBIG or LG_ENOMEM. */
int lg_match_unused_message(const char *session, const unsigned char *consumed, size_t n,
                            lg_buf *out) LG_WUR;

#endif
