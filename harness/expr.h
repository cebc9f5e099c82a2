/*
 * harness/expr.h - a small typed expression language for conditions.
 *
 * Used by the `rules:` case generator (`when: days <= 30 and amount < 500`);
 * small on purpose. Grammar, loosest binding first:
 *
 *   expr    := and ( "or" and )*
 *   and     := not ( "and" not )*
 *   not     := "not" not | cmp
 *   cmp     := sum ( ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
 *                  | "not"? "in" "[" literal ( "," literal )* "]" )?
 *   sum     := product ( ("+" | "-") product )*
 *   product := unary ( ("*" | "/") unary )*
 *   unary   := "-" unary | primary
 *   primary := NUMBER | STRING | "true" | "false" | "null" | NAME | "(" expr ")"
 *
 * NUMBER is decimal (12, 0.5, 1e3); STRING is '...' or "..." with \\, \'
 * and \" escapes; NAME is letters, digits, '_' and '.', resolved when the
 * expression is compiled. Values are null, true/false, numbers (doubles:
 * integers are exact up to 2^53) and strings. Words and, or, not, in, true,
 * false and null are reserved.
 *
 * Types are checked when compiling, from the types a name may take (the
 * resolver says): `and`, `or`, `not` need true/false operands; `<`, `<=`,
 * `>`, `>=` and arithmetic need numbers; `==`, `!=` and `in` need operands
 * that can be of the same type (comparing a number with a string would
 * always be false, which is a mistake worth reporting). Evaluation checks
 * the actual values again, so a value of an unexpected type is an error,
 * never a silent false.
 *
 * A compiled expression is immutable: any number of threads may evaluate it.
 */
#ifndef LG_EXPR_H
#define LG_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Type bits: what a value or a name may be. */
enum {
    LG_EXPR_NULL = 1,
    LG_EXPR_BOOL = 2,
    LG_EXPR_NUM = 4,
    LG_EXPR_STR = 8,
    LG_EXPR_ANY = 15,
};

typedef struct lg_expr lg_expr;

typedef struct lg_expr_value {
    unsigned type;   /* exactly one LG_EXPR_* bit */
    bool b;
    double num;
    const char *str; /* borrowed from the expression or the looked-up JSON */
    size_t len;
} lg_expr_value;

/* Compile-time name resolution: returns an id >= 0 and sets *types (bits of
 * what the name's value may be), or -1 when the name is unknown. */
typedef int (*lg_expr_resolve_fn)(void *ctx, const char *name, unsigned *types);

/* Evaluation-time lookup of an id returned by the resolver: a borrowed JSON
 * value (string, number, true/false or null), or NULL if it has none. */
typedef const json_t *(*lg_expr_lookup_fn)(void *ctx, int id);

/*
 * Compiles `text` (borrowed; copied as needed). On error returns LG_EINPUT
 * with a message without position (e.g. "unknown name 'dayz' (did you mean
 * 'days'?)" when `names` is given, a NULL-terminated candidate list for
 * suggestions, may be NULL) and sets *err_off to the byte offset in `text`;
 * the caller prefixes "FILE:LINE:COL". On success *out is owned (free with
 * lg_expr_free).
 */
int lg_expr_compile(const char *text, lg_expr_resolve_fn resolve, void *ctx,
                    const char *const *names, lg_expr **out, size_t *err_off, lg_err *err);

void lg_expr_free(lg_expr *e); /* accepts NULL */

/* The type bits the result may have. */
unsigned lg_expr_types(const lg_expr *e);

/* Ids the expression refers to (each once, in order of first use). */
size_t lg_expr_nrefs(const lg_expr *e);
int lg_expr_ref(const lg_expr *e, size_t i);

/*
 * Evaluates. Strings in *out are borrowed from `e` or from the JSON values
 * `lookup` returned, so they live as long as both. Errors (LG_EINPUT, with
 * *err_off set): a value of the wrong type at run time, division by zero.
 */
int lg_expr_eval(const lg_expr *e, lg_expr_lookup_fn lookup, void *ctx, lg_expr_value *out,
                 size_t *err_off, lg_err *err);

/* "null", "true/false", "a number", "a string", or a combination
 * ("a number or a string"), for messages. Static storage. */
const char *lg_expr_type_name(unsigned types);

#endif
