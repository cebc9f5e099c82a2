/*
 * core/utf8.h - UTF-8 checks for bytes that must travel as JSON strings
 * (tool output, command output in events).
 */
#ifndef LG_UTF8_H
#define LG_UTF8_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True when `len` bytes are valid UTF-8 (no overlong forms, no surrogates,
 * nothing above U+10FFFF). NUL bytes are valid. Pure. */
bool lg_utf8_valid(const void *data, size_t len);

/* A JSON string of the bytes (NUL bytes kept): as they are when they are
 * valid UTF-8, else with every byte that is not part of a valid sequence
 * replaced by U+FFFD. `data` may be NULL when len is 0. Returns a new
 * reference (owned, json_decref) or NULL on OOM. Thread-safe. */
json_t *lg_utf8_json_string(const void *data, size_t len);

#endif
