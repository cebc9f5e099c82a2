/*
 * recorder/store.h - the trace store: one SQLite file (`.lgt`) of sessions,
 * their events and content-addressed, zstd-compressed bodies.
 *
 * Layout and format are documented in docs/trace-format.md. In short:
 *  - every body (request, response, kept headers, tool arguments and
 *    output) is a blob keyed by the XXH3-128 of its bytes, stored once per
 *    file however many sessions contain it;
 *  - request k of a session is a delta against request k-1: what they
 *    share at start and end is two lengths, the rest is zstd-coded with a
 *    reference prefix made of the end of request k-1 and response k-1; a
 *    keyframe every LG_STORE_KEYFRAME_INTERVAL calls bounds the decoding of
 *    any call; other bodies use a dictionary the store trains for itself
 *    once it has seen enough of them (`loopgate compact` retrains and
 *    recompresses);
 *  - a session's events are one packed record in its sessions row;
 *  - a session is written in one transaction at lg_store_session_commit();
 *    until then its events live in memory, so a killed process leaves every
 *    committed session whole and no partial one.
 *
 * Session identity: every session has a text key that is unique in the
 * file. The harness uses lg_session_key() ("CASE.TRIAL", e.g. "37.0"), so
 * record and replay of the same suite agree on it; a standalone proxy uses
 * whatever the client sends. A file holds one recording per key:
 * committing a session whose key exists replaces the old one atomically.
 *
 * Threads: an lg_store may be shared by any number of threads. Each
 * session writer and session reader is internally locked, so several
 * threads may also share one (the proxy's concurrent calls of one session).
 * Commits of different sessions compress in parallel and then write one at
 * a time (one writer connection per store, WAL mode, busy timeout for other
 * processes); reads use a pool of read connections and never wait for a
 * commit. Readers and writers must be freed before the store is closed.
 *
 * Durability: synchronous=NORMAL in WAL mode: a commit survives the process
 * being killed; a power cut may lose the last commits but never corrupts.
 */
#ifndef LG_STORE_H
#define LG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "recorder/trace.h"

typedef struct lg_store lg_store;
typedef struct lg_store_session lg_store_session;
typedef struct lg_session_reader lg_session_reader;

enum lg_store_mode {
    /* Read only. The file must exist and is never modified; no journal
     * files are created next to it. An older format is migrated in a
     * private in-memory copy. */
    LG_STORE_READ = 0,
    /* Read and write. Creates the file when missing (not its directory);
     * migrates an older format in place, in one transaction. */
    LG_STORE_WRITE = 1,
};

/* Every this many model calls of a session a request is coded without a
 * prefix, so decoding call n touches at most this many blobs. */
#define LG_STORE_KEYFRAME_INTERVAL 16

/* Longest session key, including the NUL. */
#define LG_SESSION_KEY_MAX 256

/*
 * Opens (or in LG_STORE_WRITE creates) the trace file at `path`.
 * Errors, each naming the file and what to do, nothing created or changed:
 *   LG_ENOENT  missing file in LG_STORE_READ ("no such trace file");
 *   LG_EINPUT  a directory, an empty file (READ), not an SQLite file, an
 *              SQLite file without loopgate tables, a truncated or corrupt
 *              file;
 *   LG_EFORMAT a newer format ("format 3 is newer than this loopgate (reads
 *              up to 2); upgrade loopgate");
 *   LG_EIO     the file cannot be opened, locked or created.
 * Returns 0 and an owned store in `*out` (close with lg_store_close).
 * Borrows `path`. Thread-safe.
 */
int lg_store_open(const char *path, int mode, lg_store **out, lg_err *err) LG_WUR;

/* Closes the store. In write mode, when no other connection uses the file,
 * switches it back from WAL to rollback journaling so that a file at rest is
 * one self-contained file (commit it to git as is). Accepts NULL. Every
 * session writer and reader of this store must be freed first. */
void lg_store_close(lg_store *st);

/* The path the store was opened with (borrowed). */
const char *lg_store_path(const lg_store *st);

/* Format version found in the file when it was opened (before migration). */
int lg_store_file_format(const lg_store *st);

/* Writes "CASE.TRIAL" into `out` (at least LG_SESSION_KEY_MAX bytes): the
 * key the harness uses for trial `trial` of case `case_index`. */
void lg_session_key(int64_t case_index, int64_t trial, char out[LG_SESSION_KEY_MAX]);

/* ---- writing ---------------------------------------------------------- */

typedef struct lg_session_desc {
    const char *key;    /* required, unique in the file; 1..255 bytes, no control characters */
    const char *run;    /* run id, or NULL */
    const char *suite;  /* suite name, or NULL */
    int64_t case_index; /* case index, or -1 */
    int64_t trial;      /* trial number, or -1 */
    int64_t started_ms; /* wall clock at the start (ms since the epoch); 0 means now */
} lg_session_desc;

/*
 * Starts a session in memory. Nothing touches the file until commit.
 * LG_EUSAGE in write mode only / bad key. Returns an owned writer in `*out`
 * that must be finished with lg_store_session_commit() or
 * lg_store_session_abort(). Copies `desc`. Thread-safe.
 */
int lg_store_session_begin(lg_store *st, const lg_session_desc *desc, lg_store_session **out,
                           lg_err *err) LG_WUR;

/*
 * Appends a copy of `ev` to the session (ev->seq and ev->call are ignored
 * and assigned here). Checks the event: required fields, JSON text fields
 * (stored canonical), stream chunks that cover the response exactly;
 * LG_EINPUT naming the session and event on a bad one (the session is
 * unchanged). `*seq` (if not NULL) receives the event's position and
 * `*call` (if not NULL) the model call index (-1 for other kinds).
 * Borrows `ev`. Safe to call from several threads on one writer.
 */
int lg_store_session_append(lg_store_session *w, const lg_event *ev, uint32_t *seq,
                            int64_t *call, lg_err *err) LG_WUR;

/* Events appended so far. */
size_t lg_store_session_count(lg_store_session *w);

/*
 * Writes the session in one transaction, replacing any session with the
 * same key, and frees the writer (always, even on error). On error nothing
 * of the session is in the file and the previous session with that key, if
 * any, is intact. `*id` (if not NULL) receives the new session id.
 * May train the store's dictionary afterwards (once per file, when enough
 * bodies exist). Errors: LG_EIO (disk, lock timeout), LG_ENOMEM.
 */
int lg_store_session_commit(lg_store_session *w, int64_t *id, lg_err *err) LG_WUR;

/* Discards the session and frees the writer. Accepts NULL. */
void lg_store_session_abort(lg_store_session *w);

/* ---- reading ---------------------------------------------------------- */

typedef struct lg_session_info {
    int64_t id;         /* row id in this file (not stable across files) */
    const char *key;
    const char *run;    /* NULL if none */
    const char *suite;  /* NULL if none */
    int64_t case_index; /* -1 if none */
    int64_t trial;      /* -1 if none */
    int64_t started_ms;
    int64_t committed_ms;
    uint32_t n_events, n_calls, n_tools, n_iterations; /* n_iterations counts iteration events */
    lg_usage tokens;     /* sums of known usage over model calls (0 when none known) */
    uint64_t latency_us; /* sum of model call latencies */
    const char *reason;  /* reason of the last `end` event, NULL if none */
    int converged;       /* 1 or 0 from the last `end` event, -1 if none */
    const char *error;   /* error of the last `end` event, NULL if none */
} lg_session_info;

typedef struct lg_session_filter {
    const char *run;    /* NULL: any */
    const char *suite;  /* NULL: any */
    int64_t case_index; /* -1: any */
    int64_t trial;      /* -1: any */
} lg_session_filter;

#define LG_SESSION_FILTER_ANY ((lg_session_filter){NULL, NULL, -1, -1})

typedef struct lg_session_list {
    lg_session_info *items;
    size_t n;
} lg_session_list;

/*
 * Lists the sessions matching `filter` (NULL: all) from their stored
 * summaries, without decoding any body, ordered by suite, case, trial, key.
 * Returns an owned list in `*out` (free with lg_session_list_free).
 * Errors: LG_EINPUT (corrupt file), LG_ENOMEM. Thread-safe.
 */
int lg_store_list_sessions(lg_store *st, const lg_session_filter *filter, lg_session_list **out,
                           lg_err *err) LG_WUR;
void lg_session_list_free(lg_session_list *l); /* accepts NULL */

/* Id of the session with `key`. LG_ENOENT ("no session 'KEY'") if none. */
int lg_store_find_session(lg_store *st, const char *key, int64_t *id, lg_err *err) LG_WUR;

/*
 * Loads the events of session `id` (their fields; bodies are decoded on
 * first access and kept). Returns an owned reader in `*out` (free with
 * lg_session_reader_free, before closing the store). LG_ENOENT for an
 * unknown id, LG_EINPUT for a corrupt file. Thread-safe.
 */
int lg_store_session_read(lg_store *st, int64_t id, lg_session_reader **out, lg_err *err) LG_WUR;

/* lg_store_find_session() and lg_store_session_read() in one read
 * transaction (one lock of the file instead of two). LG_ENOENT ("no session
 * 'KEY'") when there is none; otherwise as lg_store_session_read(). */
int lg_store_session_read_key(lg_store *st, const char *key, lg_session_reader **out,
                              lg_err *err) LG_WUR;

/* The session's summary (borrowed from the reader). */
const lg_session_info *lg_session_reader_info(const lg_session_reader *r);
size_t lg_session_reader_count(const lg_session_reader *r); /* events */
size_t lg_session_reader_calls(const lg_session_reader *r); /* model calls */

/*
 * The event at `seq` (0 <= seq < count) with all its bodies decoded.
 * `*ev` is borrowed from the reader and valid until it is freed.
 * Errors: LG_EUSAGE (seq out of range), LG_EINPUT (a corrupt body: hash
 * mismatch or bad frame; the message names the blob, session and event).
 * Safe to call from several threads on one reader.
 */
int lg_session_reader_event(lg_session_reader *r, size_t seq, const lg_event **ev,
                            lg_err *err) LG_WUR;

/* The n-th model call (0-based), as lg_session_reader_event(). */
int lg_session_reader_call(lg_session_reader *r, size_t n, const lg_event **ev,
                           lg_err *err) LG_WUR;

/* What identifies the request of a recorded model call, read without
 * decoding any body. */
typedef struct lg_call_request_key {
    const char *method;    /* HTTP method, borrowed from the reader */
    const char *path;      /* upstream path and query, borrowed from the reader */
    lg_hash128 body_hash;  /* XXH3-128 of the stored (redacted) request body:
                              its blob key; lg_hash_bytes("", 0) when empty */
    size_t body_len;       /* its length in bytes */
} lg_call_request_key;

/*
 * Fills `*out` for the n-th model call (0-based) from what the reader
 * loaded with the session, decoding nothing: a request whose body hashes
 * (lg_hash_bytes) to out->body_hash with the same length, method and path
 * is byte for byte the recorded one. Errors: LG_EUSAGE (n out of range).
 * Safe to call from several threads on one reader (reads only).
 */
int lg_session_reader_request_hash(const lg_session_reader *r, size_t n,
                                   lg_call_request_key *out, lg_err *err) LG_WUR;

/*
 * The n-th model call as lg_session_reader_call() gives it, but decoding
 * only what answering the call needs (the response body, its stream chunks
 * and the kept headers), not the request: `out->request` is {NULL, 0}
 * (use lg_session_reader_call() for it). Every other field is set; the
 * pointers in `*out` are borrowed from the reader and valid until it is
 * freed. Errors as lg_session_reader_call(). Safe to call from several
 * threads on one reader.
 */
int lg_session_reader_response(lg_session_reader *r, size_t n, lg_model_event *out,
                               lg_err *err) LG_WUR;

/* The kind of the event at `seq` without decoding it (0 when seq is out of
 * range). Thread-safe. */
lg_event_kind lg_session_reader_event_kind(const lg_session_reader *r, size_t seq);

/* Finds model calls whose fingerprint is `fp`: writes up to `max` call
 * indexes in increasing order to `calls` and returns how many match in all
 * (which may exceed `max`). Decodes nothing. Thread-safe. */
size_t lg_session_reader_find(const lg_session_reader *r, lg_hash128 fp, int64_t *calls,
                              size_t max);

void lg_session_reader_free(lg_session_reader *r); /* accepts NULL */

/* Copies session `id` of `src` into `dst` (which must be in write mode),
 * replacing the session with the same key there: for merging shards. */
int lg_store_session_copy(lg_store *dst, lg_store *src, int64_t id, lg_err *err) LG_WUR;

/* ---- maintenance ------------------------------------------------------ */

typedef struct lg_store_stats {
    uint64_t file_bytes;   /* size of the main file on disk (0 for an in-memory copy) */
    uint64_t sessions, events, calls;
    uint64_t blobs;        /* distinct bodies */
    uint64_t raw_bytes;    /* their decoded size */
    uint64_t stored_bytes; /* their coded size */
    uint64_t dicts, dict_bytes;
} lg_store_stats;

/* Checks the file's structure with SQLite's quick_check (reads every page
 * once, decodes no body; bodies are checked against their hash whenever
 * they are read). LG_EINPUT naming the file and the first problem when it is
 * damaged. Thread-safe. */
int lg_store_check(lg_store *st, lg_err *err) LG_WUR;

/* Counts what the file holds. Thread-safe. */
int lg_store_get_stats(lg_store *st, lg_store_stats *out, lg_err *err) LG_WUR;

/*
 * Rewrites the file at `path` for size: drops bodies no session uses,
 * retrains the dictionary on every standalone body, recodes every body at
 * the highest zstd level (undone unless that makes bodies plus dictionary
 * smaller), then VACUUMs. One transaction plus VACUUM: a kill
 * at any point leaves either the old or the new file contents, never a mix.
 * Needs the file to itself (fails with LG_EIO when another process holds a
 * lock past the busy timeout). `before`/`after` (if not NULL) receive stats.
 */
int lg_store_compact(const char *path, lg_store_stats *before, lg_store_stats *after,
                     lg_err *err) LG_WUR;

/* ---- tuning and testing hooks ------------------------------------------ */

/* Trains the dictionary once the file holds at least `samples` standalone
 * bodies of `bytes` bytes in all (defaults LG_STORE_DICT_MIN_SAMPLES and
 * LG_STORE_DICT_MIN_BYTES); samples 0 disables training. Not thread-safe:
 * call right after opening. */
#define LG_STORE_DICT_MIN_SAMPLES 64
#define LG_STORE_DICT_MIN_BYTES (48 * 1024)
void lg_store_set_dict_threshold(lg_store *st, size_t samples, size_t bytes);

/* zstd level for bodies and deltas written from now on (defaults
 * LG_CODEC_LEVEL_FAST and LG_CODEC_LEVEL_DELTA). Not thread-safe: call right
 * after opening. */
void lg_store_set_level(lg_store *st, int level);

/* Fault hook for tests: called at named points of a commit ("commit:begin",
 * "commit:blobs", "commit:session", "commit:events", "commit:end"); a
 * non-zero return makes the commit fail there as if the disk failed. NULL
 * removes it. Not thread-safe: set it before starting writers. */
typedef int (*lg_store_fault_fn)(void *ctx, const char *point);
void lg_store_set_fault_hook(lg_store *st, lg_store_fault_fn fn, void *ctx);

#endif
