/*
 * core/json.h - helpers over jansson.
 *
 * Canonical form: object keys sorted, compact separators, no trailing
 * newline, UTF-8 kept as is (JSON_ENSURE_ASCII off), real numbers with
 * 17 significant digits (jansson's "%.17g": exact round trip, but 0.1 is
 * written 0.10000000000000001). Two equal JSON values have the same
 * canonical bytes, which is what fingerprints and content addresses use.
 */
#ifndef LG_JSON_H
#define LG_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

/* Appends the canonical dump of `v` to `out`. 0 or a negative code. */
int lg_json_dump_canonical(const json_t *v, lg_buf *out, lg_err *err) LG_WUR;

/* Appends an indented (2 spaces), key-sorted dump for people. */
int lg_json_dump_pretty(const json_t *v, lg_buf *out, lg_err *err) LG_WUR;

/* Parses `len` bytes. `name` names the input in errors
 * ("NAME:LINE:COL: MESSAGE", LG_EINPUT). Returns a new reference (owned,
 * json_decref) or NULL. Accepts any JSON value at top level. */
json_t *lg_json_parse(const char *data, size_t len, const char *name, lg_err *err);

/* Reads and parses a file; errors name the path. Owned result or NULL. */
json_t *lg_json_load_file(const char *path, lg_err *err);

/* Typed getters that return `def` when the key is missing or of the wrong type. */
const char *lg_json_str(const json_t *obj, const char *key, const char *def);
long long lg_json_int(const json_t *obj, const char *key, long long def);
double lg_json_num(const json_t *obj, const char *key, double def);

#endif
