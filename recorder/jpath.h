/*
 * recorder/jpath.h - the JSON path syntax and the one walker that applies it.
 *
 * Matching (ignored volatile fields, recorder/match.h) and redaction
 * (secret fields, recorder/redact.h) name places in a JSON request body the
 * same way, and the first-difference report of a divergence prints places in
 * the same syntax, so a path copied from a divergence message can be pasted
 * into a suite's ignore list.
 *
 * Syntax
 *
 *   path  := first step*
 *   first := KEY | "*" | step
 *   step  := "." KEY          member KEY of an object
 *          | ".*"             every member of an object
 *          | "[" N "]"        element N (decimal, 0-based) of an array
 *          | "[*]"            every element of an array
 *          | "[" STRING "]"   member of an object, key written as a JSON
 *                             string: ["a.b"], ["*"], ["x\"y"], ["\u00e9"]
 *   KEY   := one or more of  A-Z a-z 0-9 _ - $ @ :  or any byte >= 0x80
 *
 * Examples: `user`, `metadata.request_id`, `messages[*].id`,
 * `messages[0].content[*].text`, `tools[*].function.parameters.properties.*`,
 * `["odd.key"][2]`.
 *
 * A step that does not apply (a key on a non-object, an index past the end,
 * a missing key) matches nothing; a path that matches nothing is not an
 * error, because volatile and secret fields are often absent. The empty path
 * (the whole document) is not allowed. `[*]` only walks arrays and `.*` only
 * walks objects.
 *
 * Paths are compiled once (lg_jpath_compile) and are immutable afterwards:
 * a compiled path may be used by many threads at once. The walker itself
 * modifies the JSON value it is given, which the caller must not share.
 */
#ifndef LG_JPATH_H
#define LG_JPATH_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct lg_jpath lg_jpath;

/* Compiles TEXT. On success stores a new path in *out (owned, free with
 * lg_jpath_free) and returns 0. A syntax error is LG_EINPUT with a message
 * naming the path and the 1-based column, e.g.
 * "invalid JSON path 'messages[*.id': column 11: expected ']' after '*'";
 * callers add the config location with lg_err_prefix(). LG_ENOMEM on OOM.
 * Borrows `text`. */
int lg_jpath_compile(const char *text, lg_jpath **out, lg_err *err) LG_WUR;

/* Frees a compiled path. Accepts NULL. */
void lg_jpath_free(lg_jpath *p);

/* The source text the path was compiled from. Borrowed from `p`. */
const char *lg_jpath_text(const lg_jpath *p);

/* What a visitor wants done with a matched value. */
enum lg_jpath_action {
    LG_JPATH_KEEP = 0,    /* leave it as it is */
    LG_JPATH_DELETE = 1,  /* remove the member / array element */
    LG_JPATH_REPLACE = 2, /* put *replacement in its place */
};

/* Called once per matched value. `value` is borrowed. To replace it, store a
 * new reference in *replacement (the walker takes it) and return
 * LG_JPATH_REPLACE. Return a negative LG_E* code to stop the walk; that code
 * is returned by lg_jpath_apply. The walker never descends into a matched
 * value: a path names the value itself. */
typedef int (*lg_jpath_visit_fn)(json_t *value, json_t **replacement, void *ctx);

/* Walks `root` (borrowed; modified in place by DELETE and REPLACE) and calls
 * `visit` on every value `p` matches, in document order (object members in
 * the object's own order, array elements by index). Deleting array elements
 * under `[*]` is safe: the walk does not skip or repeat elements. If
 * `n_matched` is not NULL it receives the number of visits. Returns 0, the
 * visitor's negative code, or LG_ENOMEM if jansson cannot apply an edit. */
int lg_jpath_apply(const lg_jpath *p, json_t *root, lg_jpath_visit_fn visit, void *ctx,
                   size_t *n_matched) LG_WUR;

/* Path building for reports, in the syntax above. Appends the step for
 * object member `key` (`len` bytes, may hold any byte): ".key", or "key"
 * when `out` is empty, or ["...."] (JSON-quoted) when the key has bytes a
 * bare KEY cannot hold or is "*". 0, LG_ETOOBIG or LG_ENOMEM. */
int lg_jpath_append_key(lg_buf *out, const char *key, size_t len) LG_WUR;
/* Appends "[index]". 0, LG_ETOOBIG or LG_ENOMEM. */
int lg_jpath_append_index(lg_buf *out, size_t index) LG_WUR;

#endif
