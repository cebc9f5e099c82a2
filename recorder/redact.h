/*
 * recorder/redact.h - keeping secrets out of the trace store.
 *
 * Three mechanisms, all deterministic (the same input always gives the same
 * output, byte for byte), so a request redacted in replay equals the same
 * request redacted when it was recorded:
 *
 *  1. Headers. lg_redact_header_dropped() says whether a header must never
 *     be stored: always authorization, proxy-authorization, x-api-key,
 *     api-key, cookie, set-cookie (case-insensitive), plus configured names.
 *  2. JSON paths. Values at configured paths (recorder/jpath.h syntax, the
 *     same walker as match.h's ignored paths) are replaced, whatever their
 *     type, by the string "<redacted>" or "<redacted:NAME>".
 *  3. Patterns. Regular expressions (POSIX ERE with the GNU extensions of
 *     glibc, e.g. \b \< \> \w) and literal secrets are applied to every
 *     string value of a JSON body (object keys are left alone), or to the
 *     whole body when it is not JSON, and each match is replaced by
 *     "<redacted:NAME>". Built-in named patterns (lg_redact_add_builtin):
 *       email    addresses like jane.doe+x@mail.example.com
 *       api_key  provider keys and bearer tokens: sk-... (OpenAI sk-proj-,
 *                Anthropic sk-ant-, OpenRouter sk-or-...), GitHub ghp_/gho_/
 *                ghu_/ghs_/ghr_/github_pat_, AWS AKIA..., Google AIza...,
 *                Slack xox?-..., JWTs eyJ...x.y, and the token after
 *                "Bearer " (the word itself is kept).
 *     Built-in patterns never match a placeholder, so redacting twice with
 *     them changes nothing (a user pattern that matches "<redacted..." would).
 *
 * Order inside lg_redact_body(): paths, then literals, then patterns in the
 * order they were added. Redaction runs BEFORE fingerprinting
 * (recorder/match.h): the proxy redacts each incoming request body, stores
 * the redacted form in record mode, and fingerprints the redacted form in
 * every mode. The upstream still receives the original request.
 *
 * Output keeps the input's bytes except where something was redacted: in a
 * JSON body only the changed values are rewritten (as JSON strings), so
 * spacing, member order and number spelling (0.7, 1e-1) stay as sent; a
 * body where nothing was redacted comes back byte for byte. (Should the
 * text walk ever disagree with jansson's parse, the redacted value is
 * re-serialised compactly instead; nothing unredacted is ever returned.)
 *
 * Cost: one jansson parse per JSON body, skipped when nothing can match
 * (no path rules and no needle of a literal or built-in pattern in the
 * text); each string is searched only for needles present in the body.
 *
 * Thread-safety: configure first (the add functions are not thread-safe);
 * afterwards an lg_redact is read-only and may be used by many threads.
 */
#ifndef LG_REDACT_H
#define LG_REDACT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct lg_redact lg_redact;

/* An empty configuration: only the fixed header list applies. Returns owned
 * (free with lg_redact_free) or NULL on OOM. */
lg_redact *lg_redact_new(void);
/* Accepts NULL. */
void lg_redact_free(lg_redact *r);

/* Another header name to drop (case-insensitive). Borrows `name`. 0,
 * LG_EINPUT for an empty name, LG_ENOMEM. */
int lg_redact_add_header(lg_redact *r, const char *name, lg_err *err) LG_WUR;

/* Replaces values at `path` by "<redacted>" (name NULL) or "<redacted:NAME>".
 * NAME is 1-64 characters of A-Z a-z 0-9 _ -. LG_EINPUT for a bad path
 * (with the column) or name; LG_ENOMEM. Borrows both. */
int lg_redact_add_path(lg_redact *r, const char *path, const char *name, lg_err *err) LG_WUR;

/* A regular expression (POSIX extended, GNU extensions) whose matches become
 * "<redacted:NAME>". `icase` matches case-insensitively. LG_EINPUT for a bad
 * name, an expression that does not compile (with regerror's reason) or one
 * that matches the empty string; LG_ENOMEM. Borrows both. */
int lg_redact_add_pattern(lg_redact *r, const char *name, const char *regex, bool icase,
                          lg_err *err) LG_WUR;

/* Enables a built-in pattern by name ("email", "api_key"). LG_EINPUT for an
 * unknown name (with a did-you-mean), LG_ENOMEM. */
int lg_redact_add_builtin(lg_redact *r, const char *name, lg_err *err) LG_WUR;

/* Names of the built-in patterns, NULL-terminated. Static storage. */
const char *const *lg_redact_builtin_names(void);

/* A literal secret (e.g. the upstream API key from the environment), replaced
 * by "<redacted:NAME>" wherever it occurs in a string value or a raw body.
 * At least 4 bytes (a shorter "secret" would shred ordinary text):
 * LG_EINPUT otherwise. The value is copied; the copy is wiped on free. */
int lg_redact_add_literal(lg_redact *r, const char *name, const void *value, size_t len,
                          lg_err *err) LG_WUR;

/* True if a header of this name must not be stored. `r` may be NULL (the
 * fixed list only). Borrows `name`. */
bool lg_redact_header_dropped(const lg_redact *r, const char *name);

/* Redacts a body: appends the redacted form of `body[0..len)` to `out`. A
 * body that parses as JSON is redacted value by value; anything else gets
 * the literals and patterns applied to its bytes. If `count` is not NULL it
 * receives the number of replacements (0: out got the input unchanged).
 * `r` may be NULL (copies the body). 0, LG_ENOMEM, LG_ETOOBIG (out's cap),
 * LG_EINTERNAL (a regex engine failure). Borrows `body`. */
int lg_redact_body(const lg_redact *r, const void *body, size_t len, lg_buf *out,
                   size_t *count, lg_err *err) LG_WUR;

/* True when lg_redact_body() is sure to give `body[0..len)` back byte for
 * byte, which is decided without parsing: there are no path rules and no
 * literal or pattern can match anywhere in the text (none of their needles
 * occurs in it, and no JSON escape could spell one). False means "maybe":
 * call lg_redact_body() to know. Lets a caller that only needs the redacted
 * bytes use the body itself, with no copy. `r` may be NULL (always true).
 * Borrows `body`; thread-safe for a shared `r`. */
bool lg_redact_body_unchanged(const lg_redact *r, const void *body, size_t len);

/* lg_redact_body(), and when the body is JSON also hands back its parsed,
 * redacted value in *tree (owned, json_decref; the same value as parsing
 * the bytes appended to `out`); *tree is NULL for a body that is not JSON
 * (or on error). This lets one JSON parse serve both redaction and
 * matching: see lg_match_prepare() in recorder/match.h. */
int lg_redact_body_tree(const lg_redact *r, const void *body, size_t len, lg_buf *out,
                        size_t *count, json_t **tree, lg_err *err) LG_WUR;

/* Redacts one server-sent event (its exact bytes, as recorder/sse.h emits
 * them): every `data:` line whose value is JSON is redacted as a JSON body
 * and re-serialised, other data lines get the byte rules; other lines and
 * all line endings are kept. Appends to `out`; `count` as above. Returns as
 * lg_redact_body. */
int lg_redact_sse_event(const lg_redact *r, const void *raw, size_t len, lg_buf *out,
                        size_t *count, lg_err *err) LG_WUR;

/*
 * Redacts a whole recorded stream of server-sent events, across events. A
 * model streams text in pieces, so a secret in its answer (an address, a
 * key, often several tokens long) is usually split over several events and
 * no single event holds it; lg_redact_sse_event() cannot see it.
 *
 * `raw` holds `n` events laid end to end, event i being `lens[i]` bytes (as
 * the proxy records a stream: one chunk per event). The strings that
 * stream deltas add to one logical text are joined, in order:
 *   OpenAI chat completions  choices[c].delta.content, .refusal,
 *                            .reasoning_content, and per tool call
 *                            choices[c].delta.tool_calls[t].function.arguments
 *                            (c and t from their "index" fields);
 *   OpenAI Responses         "delta" of events of type "response.*.delta",
 *                            per output_index, content_index and type;
 *   Anthropic messages       content_block_delta: delta.text, .partial_json,
 *                            .thinking, per block index;
 * the literals and then the patterns are applied to each joined text, and
 * every replacement is written back into the pieces it spans: the
 * placeholder in the piece where the secret began, the secret's other bytes
 * removed from the pieces they were in (a piece may become ""). So the text
 * a client assembles from the redacted stream is the redacted text. Events
 * with a changed piece are re-serialised (compact JSON, member order kept).
 * Then every event is redacted on its own as by lg_redact_sse_event()
 * (secrets whole inside one event, in any field). Every other byte, the
 * events' order and their number stay as they were. Path rules do not
 * apply (they address request fields).
 *
 * Appends the redacted stream to `out` and writes the new length of event
 * i to `out_lens[i]` (n entries; may be the same array as `lens`). `count`
 * (may be NULL) receives the number of replacements. `r` may be NULL (the
 * stream is copied). 0, LG_EUSAGE (the lengths run past `len`), LG_ENOMEM,
 * LG_ETOOBIG (out's cap), LG_EINTERNAL (regex engine); on error `out` is
 * unchanged (`out_lens` may be partly written). Borrows everything.
 * Thread-safe for a shared `r`.
 */
int lg_redact_sse_stream(const lg_redact *r, const void *raw, size_t len, const size_t *lens,
                         size_t n, lg_buf *out, size_t *out_lens, size_t *count,
                         lg_err *err) LG_WUR;

/* Appends data[0..len) to `out` with every occurrence of secret[0..slen)
 * replaced by `placeholder` (non-overlapping, left to right). Works on any
 * bytes (response bodies, logs, header values); use it as the last guard
 * that the upstream API key never reaches the store. A secret shorter than
 * 4 bytes is LG_EINPUT. `count` as above. 0, LG_ENOMEM, LG_ETOOBIG. */
int lg_redact_scrub(const void *data, size_t len, const void *secret, size_t slen,
                    const char *placeholder, lg_buf *out, size_t *count, lg_err *err) LG_WUR;

#endif
