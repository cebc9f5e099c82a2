/*
 * recorder/tracejson.h - trace files as JSON Lines: `loopgate export` and
 * `loopgate import`, and the git textconv that makes traces reviewable.
 *
 * The format is documented in docs/trace-format.md. In short: a first line
 * {"loopgate_export":1,"trace_format":2}, then for each session (ordered by
 * suite, case, trial, key) a {"type":"session",...} line followed by one
 * line per event in order. Bodies are inline: a JSON body as the JSON value
 * itself (with a "<field>_format" note when its spacing is not compact), any
 * other UTF-8 text as "<field>_text", other bytes as "<field>_base64". Every
 * byte of every body survives export then import, so export -> import ->
 * export is byte-identical. Lines have fixed key order and no wall-clock
 * field that changes between two exports of the same file.
 */
#ifndef LG_TRACEJSON_H
#define LG_TRACEJSON_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "recorder/store.h"
#include "recorder/trace.h"

/* Version of the export format written in its first line. */
#define LG_EXPORT_VERSION 1

/* Receives one line (without its newline). Return non-zero to stop. */
typedef int (*lg_trace_emit_fn)(void *ctx, const char *line, size_t len);

/*
 * Writes the export of the sessions matching `filter` (NULL: all) through
 * `emit`, the version line first. Errors: the store's (LG_EINPUT for a
 * damaged file, naming it), LG_EIO when `emit` fails. Borrows everything.
 * Thread-safe as far as the store is.
 */
int lg_trace_export(lg_store *st, const lg_session_filter *filter, lg_trace_emit_fn emit,
                    void *ctx, lg_err *err) LG_WUR;

/*
 * Appends one event as an export line (no newline) to `line`, naming its
 * session `key`. Borrows everything. Thread-safe.
 */
int lg_trace_event_line(const char *key, const lg_event *ev, lg_buf *line, lg_err *err) LG_WUR;

/*
 * Reads an export (`len` bytes of `data`, named `name` in messages) and
 * writes its sessions to `dst` (write mode). Everything is checked before
 * anything is written: an error names NAME:LINE and the field, and leaves
 * `dst` untouched. `*sessions` (if not NULL) receives the number imported.
 * Errors: LG_EINPUT (bad line), LG_EFORMAT (a newer export version), the
 * store's errors while committing. Borrows everything.
 */
int lg_trace_import(lg_store *dst, const char *data, size_t len, const char *name,
                    size_t *sessions, lg_err *err) LG_WUR;

#endif
