/*
 * harness/yamlnode.h - a YAML document as a small tree of positioned nodes.
 *
 * libyaml's event parser is turned into a tree of three kinds of node
 * (mapping, sequence, scalar). Every node, mapping keys included, keeps the
 * 1-based line and column of its first character, so whoever validates the
 * tree can say "suites/a.yaml:12:5: unknown key 'trails'".
 *
 * Deliberately rejected, with a message naming the place: anchors and
 * aliases (repeat the value instead), duplicate mapping keys, non-scalar
 * mapping keys, more than one document, tags other than '!' and the core
 * !!str, !!int, !!float, !!bool, !!null, !!map, !!seq, and nesting deeper
 * than LG_YAML_MAX_DEPTH.
 *
 * Scalars keep their text as written. lg_ynode_resolve() applies the YAML
 * 1.2 core schema to plain scalars (null, true/false, integers, floats);
 * quoted and block scalars are always strings.
 *
 * A document and all its nodes are owned by the lg_ydoc and freed together
 * with lg_ydoc_free(). The tree is never modified after parsing, so any
 * number of threads may read it at once.
 */
#ifndef LG_YAMLNODE_H
#define LG_YAMLNODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define LG_YAML_MAX_DEPTH 64
/* Largest YAML file read by lg_yaml_load_file(): 16 MiB. */
#define LG_YAML_MAX_FILE ((size_t)16 << 20)

typedef enum lg_ynode_kind { LG_YSCALAR, LG_YSEQ, LG_YMAP } lg_ynode_kind;

/* What a scalar resolves to (YAML 1.2 core schema). */
typedef enum lg_yscalar_type { LG_YNULL, LG_YBOOL, LG_YINT, LG_YFLOAT, LG_YSTR } lg_yscalar_type;

typedef struct lg_ynode lg_ynode;

typedef struct lg_ypair {
    lg_ynode *key;   /* always a scalar */
    lg_ynode *value;
} lg_ypair;

struct lg_ynode {
    lg_ynode_kind kind;
    int line, col;         /* 1-based position of the first character (a quote for quoted scalars) */
    /* LG_YSCALAR */
    char *text;            /* NUL-terminated as written (escapes resolved); may hold NULs */
    size_t len;
    bool plain;            /* plain (unquoted, not a block scalar): subject to type resolution */
    bool force_str;        /* tagged !!str or '!' */
    bool quoted;           /* '...' or "..." (the text starts one column after `col`) */
    bool one_line;         /* the scalar starts and ends on the same line */
    /* LG_YSEQ: items[0..n); LG_YMAP: pairs[0..n) in document order */
    size_t n;
    lg_ynode **items;
    lg_ypair *pairs;
};

typedef struct lg_ydoc {
    lg_ynode *root; /* NULL for an empty document */
    char *name;     /* the name used in messages (owned) */
} lg_ydoc;

/*
 * Parses `len` bytes of YAML. `name` (borrowed, copied) prefixes every
 * message: "NAME:LINE:COL: PROBLEM". On success *out is a new document
 * (owned, free with lg_ydoc_free) and 0 is returned; otherwise *out is NULL
 * and LG_EINPUT (syntax or a rejected construct) or LG_ENOMEM is returned.
 */
int lg_yaml_parse(const char *data, size_t len, const char *name, lg_ydoc **out, lg_err *err);

/* Reads PATH (at most LG_YAML_MAX_FILE bytes) and parses it, naming it PATH
 * in messages. A missing file is LG_ENOENT "cannot open 'PATH': No such
 * file or directory". */
int lg_yaml_load_file(const char *path, lg_ydoc **out, lg_err *err);

/* Frees a document and all its nodes. Accepts NULL. */
void lg_ydoc_free(lg_ydoc *doc);

/* In a mapping, the value of KEY (borrowed) or NULL. NULL for non-mappings. */
const lg_ynode *lg_ynode_get(const lg_ynode *map, const char *key);
/* Like lg_ynode_get but returns the pair (for the key's position). */
const lg_ypair *lg_ynode_get_pair(const lg_ynode *map, const char *key);

/* Type of a scalar under the core schema; LG_YSTR for non-plain scalars. */
lg_yscalar_type lg_ynode_resolve(const lg_ynode *n);

/* True when `n` is a scalar that reads as null ("", "~", "null"). */
bool lg_ynode_is_null(const lg_ynode *n);

/* For messages: "a mapping", "a list", or the scalar text quoted ('three'),
 * or "nothing" for a null scalar. Writes into buf (always NUL-terminated,
 * long scalars are shortened with "...") and returns buf. */
const char *lg_ynode_describe(const lg_ynode *n, char *buf, size_t size);

/* Converts a node to JSON with core-schema typing (integers outside int64
 * become reals). `name` (borrowed) names the file in messages. Returns a
 * new reference (owned, json_decref), or NULL with LG_EINPUT for .inf/.nan
 * (JSON has no such numbers; the message names the place) or LG_ENOMEM. */
json_t *lg_ynode_to_json(const lg_ynode *n, const char *name, lg_err *err);

/* Where a scalar's text sits, kept after the tree is freed so that later
 * parsers (conditions, gates) can point into it. */
typedef struct lg_ytextpos {
    int line, col; /* of text[0] when exact, else of the scalar */
    bool exact;    /* one-line plain or quoted scalar: text[k] is at col + k */
} lg_ytextpos;

lg_ytextpos lg_ynode_textpos(const lg_ynode *n);

/* Line and column of byte `off` of the text (the scalar's own position when
 * the text is not exact: block scalars, several lines). Column arithmetic is
 * in bytes, exact for ASCII text; escapes in double quotes shift it. */
void lg_ytextpos_at(lg_ytextpos pos, size_t off, int *line, int *col);

/* Scalar conversions for typed settings; each returns false (leaving *out
 * alone) when `n` is not a scalar of that form. Quoting is not held against
 * a number ("3" reads as 3). Integers: decimal, optional sign, within int64.
 * Numbers: integers or decimals, finite. Booleans: true/false (any case
 * style the core schema allows). */
bool lg_ynode_int(const lg_ynode *n, long long *out);
bool lg_ynode_u64(const lg_ynode *n, unsigned long long *out);
bool lg_ynode_num(const lg_ynode *n, double *out);
bool lg_ynode_bool(const lg_ynode *n, bool *out);

/*
 * Checks that every key of mapping `map` is in `allowed` (NULL-terminated).
 * Otherwise LG_EINPUT "NAME:LINE:COL: unknown key 'trails' (did you mean
 * 'trials'?)", with " in 'WHERE'" after the key when `where` is not NULL.
 */
int lg_ynode_check_keys(const lg_ynode *map, const char *const *allowed, const char *name,
                        const char *where, lg_err *err);

#endif
