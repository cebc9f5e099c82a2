/*
 * harness/suite.h - a suite file (YAML) loaded into a typed, validated struct.
 *
 * A suite declares the loop under test, how its cases are generated, how an
 * answer is validated, the invariants and limits of a trial, pricing, and
 * the gates CI applies. docs/suite.md documents every key; this header is
 * the in-memory form.
 *
 * lg_suite is a plain, documented struct rather than an opaque handle: it
 * is a configuration object that later modules (runner, loop engine,
 * invariants, gates) read field by field. Rules for readers:
 *   - Everything is owned by the suite and freed by lg_suite_free(); readers
 *     borrow and never modify or free anything (JSON values included: do not
 *     json_decref them, json_incref if you keep one beyond the suite).
 *   - After lg_suite_load() returns, the suite is immutable, so any number of
 *     threads may read it (and generate cases from it) at once.
 *   - "Unset" is spelled out per field: 0 for counts and limits that must
 *     otherwise be positive, NULL for strings and blocks.
 *
 * Every string that a later parser reads (gate expressions, templates) is an
 * lg_suite_text that remembers where it came from, so that parser can report
 * "FILE:LINE:COL" into the suite file (lg_ytextpos_at()).
 */
#ifndef LG_SUITE_H
#define LG_SUITE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/hash.h"
#include "harness/cases.h"
#include "harness/yamlnode.h"

/* Defaults, documented in docs/suite.md. */
#define LG_SUITE_DEFAULT_SEED 0
#define LG_SUITE_DEFAULT_COUNT 10
#define LG_SUITE_DEFAULT_TRIALS 1
#define LG_SUITE_DEFAULT_TIMEOUT_S 300.0
#define LG_SUITE_MAX_TRIALS 100000
#define LG_SUITE_MAX_COUNT 1000000000ULL

/* A string from the suite file and where its text starts. */
typedef struct lg_suite_text {
    char *text;      /* NULL when the key is absent */
    lg_ytextpos pos; /* lg_ytextpos_at(pos, offset, &line, &col) points into the file */
} lg_suite_text;

/* A command the harness runs: a loop, a validator, an invariant check.
 * Exactly one of argv and shell is set (matching core/proc.h's lg_proc_spec). */
typedef struct lg_suite_cmd {
    char **argv;         /* list form: NULL-terminated, run directly (PATH searched) */
    char *shell;         /* string form: run with /bin/sh -c */
    char **env;          /* "NAME=value" entries, NULL-terminated; NULL when none */
    double timeout_s;    /* 0 = unset (the caller's default applies) */
    int line, col;       /* of the `command` value */
} lg_suite_cmd;

typedef enum lg_suite_loop_kind {
    LG_LOOP_NONE = 0,  /* no `loop:` (enough for `loopgate cases`; `run` requires one) */
    LG_LOOP_COMMAND,   /* loop: {command: ...} */
    LG_LOOP_BUILTIN,   /* loop: {builtin: {...}} */
} lg_suite_loop_kind;

typedef struct lg_suite_loop {
    lg_suite_loop_kind kind;
    int line, col;          /* of the `loop` value */
    lg_suite_cmd cmd;       /* LG_LOOP_COMMAND */
    char *answer;           /* LG_LOOP_COMMAND: answer file relative to the work
                               directory; NULL = the loop's stdout */
    json_t *builtin;        /* LG_LOOP_BUILTIN: the block as JSON (an object) */
    const lg_ynode *builtin_node; /* ... and as positioned YAML, for its own validation */
} lg_suite_loop;

/* expect: all present checks must hold. Templates refer to case fields and
 * were checked against them at load. */
typedef struct lg_suite_expect {
    bool present;
    int line, col;
    lg_suite_text equals;     /* answer (trimmed) equals the rendered template */
    lg_suite_text *contains;  /* answer contains each rendered template */
    size_t ncontains;
    lg_suite_text regex;      /* POSIX extended regex, after rendering; compiled once at load */
    json_t *json;             /* answer parsed as JSON contains this (templates in strings) */
    bool ignore_case;         /* equals/contains/regex ignore case */
} lg_suite_expect;

typedef struct lg_suite_validate {
    bool present;
    lg_suite_cmd cmd;
} lg_suite_validate;

typedef struct lg_suite_before {
    char *tool;    /* this tool must be called ... */
    char *before;  /* ... before this one ("final_answer" by default) */
    int line, col;
} lg_suite_before;

typedef struct lg_suite_strlist {
    char **items;  /* NULL-terminated */
    size_t n;
    bool present;  /* the key was given (an empty list is meaningful) */
    int line, col;
} lg_suite_strlist;

typedef struct lg_suite_invariants {
    uint64_t max_iterations;          /* 0 = unset */
    uint64_t max_tokens;              /* 0 = unset */
    double max_cost_usd;              /* 0 = unset */
    uint32_t no_repeated_action;      /* N >= 2: same tool+arguments N times in a row; 0 = unset */
    uint32_t stall;                   /* N >= 1 iterations without a new tool result; 0 = unset */
    lg_suite_strlist tool_allowlist;  /* present with n == 0: no tool may be called */
    lg_suite_before *required_before;
    size_t nrequired_before;
    lg_suite_strlist exactly_once;
    lg_suite_strlist approval_required;
    lg_suite_cmd *command;            /* NULL = unset */
} lg_suite_invariants;

typedef struct lg_suite_limits {
    uint64_t max_iterations;  /* 0 = unset */
    double timeout_s;         /* wall time per trial; LG_SUITE_DEFAULT_TIMEOUT_S unless given */
    uint64_t max_tokens;      /* 0 = unset */
    double max_cost_usd;      /* 0 = unset */
} lg_suite_limits;

typedef struct lg_suite_price {
    char *model;
    double input, output, cached_input; /* USD per 1M tokens; cached_input defaults to input */
    int line, col;
} lg_suite_price;

typedef struct lg_suite_pricing {
    char *file;                /* pricing file (path resolved against the suite's directory), or NULL */
    lg_suite_price *models;    /* inline override, in file order */
    size_t nmodels;
} lg_suite_pricing;

typedef struct lg_suite {
    char *path;              /* as given to lg_suite_load */
    char *dir;               /* its directory ("." when none): relative paths resolve here */
    lg_hash128 hash;         /* XXH3-128 of the file bytes (results DBs record it) */
    char *name;              /* required */
    char *description;       /* NULL if absent */
    uint64_t seed;           /* LG_SUITE_DEFAULT_SEED if absent */
    uint32_t trials;         /* >= 1 */
    uint64_t count;          /* cases.count, >= 1 */
    lg_casegen *cases;       /* never NULL (no generators: every case is {}) */
    lg_suite_loop loop;
    lg_suite_expect expect;
    lg_suite_validate validate;
    lg_suite_invariants invariants;
    lg_suite_limits limits;
    lg_suite_pricing pricing;
    lg_suite_text *gates;    /* expressions, unparsed (the gate module parses them) */
    size_t ngates;
    json_t *sim;             /* the `sim:` block as JSON, or NULL */
    const lg_ynode *sim_node;
    lg_ydoc *doc;            /* the parsed file, kept for the *_node pointers */
} lg_suite;

/*
 * Reads, parses and validates the suite at PATH (borrowed). On success
 * returns 0 and *out (owned, free with lg_suite_free). Errors, all with
 * *out NULL:
 *   LG_ENOENT  "cannot open 'PATH': No such file or directory"
 *   LG_EINPUT  "PATH:LINE:COL: ..." for YAML syntax, unknown keys (with a
 *              "did you mean" suggestion), wrong types ("'trials' must be a
 *              positive integer, got 'three'"), missing required keys (at the
 *              enclosing mapping), bad generators, unreadable `lines:` files
 *   LG_EIO, LG_ENOMEM
 */
int lg_suite_load(const char *path, lg_suite **out, lg_err *err);

/* Frees the suite and everything it owns. Accepts NULL. */
void lg_suite_free(lg_suite *s);

#endif
