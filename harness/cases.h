/*
 * harness/cases.h - deterministic synthetic cases from declared generators.
 *
 * A suite's `cases.generators` mapping declares the fields of every case,
 * each with one generator (see docs/suite.md for the YAML):
 *
 *   int: [min, max]             uniform integer, both ends included
 *   float: [min, max]           uniform real in [min, max); `decimals: N` rounds
 *   choice: [a, b, ...]         one of the values, uniformly
 *   weighted: {a: 3, b: 1}      one of the keys, in proportion to its weight
 *   bool: p                     true with probability p
 *   lines: path                 one non-blank line of a file (path relative
 *                               to the suite file's directory)
 *   template: "text {{f}}"      text with other fields' values substituted
 *   rules: [{when: C, then: V}, ..., {else: V}]
 *                               the value of the first rule whose condition
 *                               (harness/expr.h) holds
 *
 * and optionally `hidden: true` (validators see the field, the loop does not).
 *
 * Case i is a pure function of (seed, i): a PCG32 generator seeded with
 * lg_pcg32_srandom(&rng, seed, i) draws the random fields (int, float,
 * choice, weighted, bool, lines) in declaration order; then the computed
 * fields (template, rules), which draw nothing, are evaluated in dependency
 * order. So case 37 is the same on every machine and run, whatever other
 * cases are generated; adding a field at the end of the list, or any
 * computed field anywhere, leaves the existing fields' values unchanged.
 *
 * All checking happens at load: unknown generators, bad ranges, unreadable
 * or empty `lines` files, template or condition references to unknown
 * fields, dependency cycles, type errors in conditions, and visible
 * computed fields that would leak a hidden one. Errors are LG_EINPUT with
 * "FILE:LINE:COL: field 'NAME': ...".
 *
 * A generator set is immutable after parsing: any number of threads may
 * generate cases from it at once.
 */
#ifndef LG_CASES_H
#define LG_CASES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "harness/yamlnode.h"

typedef struct lg_casegen lg_casegen;
struct lg_suite;

typedef enum lg_gen_kind {
    LG_GEN_INT,
    LG_GEN_FLOAT,
    LG_GEN_CHOICE,
    LG_GEN_WEIGHTED,
    LG_GEN_BOOL,
    LG_GEN_LINES,
    LG_GEN_TEMPLATE,
    LG_GEN_RULES,
} lg_gen_kind;

/* Flags for generation. */
enum {
    LG_CASES_HIDDEN = 1, /* include hidden fields (validators); default: drop them (the loop) */
};

/*
 * Builds a generator set from the `generators` mapping node (borrowed; may
 * be NULL for a suite without fields: every case is then {}). `file` names
 * the suite in messages; `basedir` is the directory `lines:` paths are
 * relative to ("." for the current one). Files named by `lines:` are read
 * now. Returns 0 and *out (owned, free with lg_casegen_free), or LG_EINPUT
 * (message with file:line:col), LG_ENOMEM.
 */
int lg_casegen_parse(const lg_ynode *generators, const char *file, const char *basedir,
                     lg_casegen **out, lg_err *err);

void lg_casegen_free(lg_casegen *g); /* accepts NULL */

/* Number of fields, and field i (declaration order): its name (borrowed),
 * whether it is hidden and its generator kind (either pointer may be NULL). */
size_t lg_casegen_nfields(const lg_casegen *g);
const char *lg_casegen_field(const lg_casegen *g, size_t i, bool *hidden, lg_gen_kind *kind);

/* Index of the field NAME, or -1. */
int lg_casegen_find(const lg_casegen *g, const char *name);

/* The field names as a NULL-terminated list (borrowed), e.g. for
 * lg_suggest() when checking templates that refer to case fields. */
const char *const *lg_casegen_names(const lg_casegen *g);

/*
 * Generates case `index` for `seed`: a new JSON object (owned, json_decref)
 * whose keys are the field names; hidden fields only with LG_CASES_HIDDEN.
 * Errors (LG_EINPUT naming the suite place and the case, e.g. a division by
 * zero in a condition; LG_ENOMEM) leave *out NULL.
 */
int lg_casegen_generate(const lg_casegen *g, uint64_t seed, uint64_t index, unsigned flags,
                        json_t **out, lg_err *err);

/* lg_casegen_generate() with the suite's generators and seed. */
int lg_cases_generate(const struct lg_suite *suite, uint64_t index, unsigned flags,
                      json_t **out, lg_err *err);

#endif
