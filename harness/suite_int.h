/*
 * harness/suite_int.h - private to the suite parsers (suite.c, loop_config.c):
 * positioned messages, typed values and the command mapping
 * (`command`, `timeout`, `env`) that both the suite file and its
 * `loop: builtin:` block use. Not a public API.
 *
 * All of these report into sp_ctx's `err` with LG_EINPUT
 * "FILE:LINE:COL: ..." (first error wins, core/err.h) and return its code,
 * or 0. They borrow everything they are given. Thread-safe as long as two
 * threads do not share one sp_ctx.
 */
#ifndef LG_SUITE_INT_H
#define LG_SUITE_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "harness/suite.h"
#include "harness/template.h"
#include "harness/yamlnode.h"

/* Where messages point: the suite file's name and the error to fill. */
typedef struct sp_ctx {
    const char *file;
    lg_err *err;
} sp_ctx;

/* LG_EINPUT "FILE:LINE:COL: MESSAGE". */
int sp_at(sp_ctx *c, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "'KEY' must be WANT, got VALUE" at the value `v`. */
int sp_type_err(sp_ctx *c, const lg_ynode *v, const char *key, const char *want);

/* LG_ENOMEM "out of memory". */
int sp_nomem(sp_ctx *c);

/* lg_ynode_check_keys() of `map` against `allowed` (NULL-terminated);
 * `where` names the mapping (NULL at the top level). */
int sp_check_keys(sp_ctx *c, const lg_ynode *map, const char *const *allowed, const char *where);

/* `v` must be a mapping ("'KEY' must be WANT, got ..."; WANT NULL: "a
 * mapping") whose keys are all in `allowed` (NULL-terminated; NULL: any
 * keys), checked as sp_check_keys() with `key` naming the mapping. */
int sp_get_map(sp_ctx *c, const lg_ynode *v, const char *key, const char *want,
               const char *const *allowed);

/* true or false into *out. */
int sp_get_bool(sp_ctx *c, const lg_ynode *v, const char *key, bool *out);

/* A number > 0 into *out; above `max` (HUGE_VAL: no cap) it is refused
 * with "'KEY' must be at most MAX, got VALUE". */
int sp_get_pos_num(sp_ctx *c, const lg_ynode *v, const char *key, double max, double *out);

/* Parses the template `text`, which starts at `pos` in the file, into *out
 * (owned, free with lg_template_free). A syntax error is reported where it
 * is: "FILE:LINE:COL: 'KEY': MESSAGE" (harness/template.h). */
int sp_template_parse(sp_ctx *c, const char *text, lg_ytextpos pos, const char *key,
                      lg_template **out);

/* [A-Za-z_][A-Za-z0-9_]*: a name a command's `env` may set. */
bool sp_env_name_ok(const char *s);

/* Frees a NULL-terminated array of strings and the array. Accepts NULL. */
void sp_strv_free(char **v);

/* Called for each word of a command once it is stored in the lg_suite_cmd:
 * the string form's text (i == 0), or each argument of the list form in
 * order (i its index). `key` is "WHERE.command". Returns 0, or an error
 * code after filling the context's err, which stops the parse. */
typedef int (*sp_cmd_word_fn)(void *arg, const lg_ynode *word, const char *key, size_t i);

/*
 * The value `v` of a `command` key into cmd->shell (a command line, run
 * with sh -c) or cmd->argv (a list of arguments), and cmd->line/col.
 * `word` (may be NULL) sees each word as it is stored. Errors at `key`:
 * "must be a command line or a list of arguments", "must be a list of
 * arguments (strings)". On error what was filled stays in *cmd (release it
 * as on success: lg_suite_cmd's strings are owned by the caller).
 */
int sp_cmd_value(sp_ctx *c, const lg_ynode *v, const char *key, sp_cmd_word_fn word, void *arg,
                 lg_suite_cmd *cmd);

/*
 * The command mapping `map`: `command` (required: "missing required key
 * 'command' in 'WHERE'"; see sp_cmd_value), `timeout` (a positive number
 * of seconds up to `max_timeout`, HUGE_VAL for none; cmd->timeout_s is left
 * alone when absent) and `env` (NAME: value, null unsets NAME). `where` is
 * the mapping's dotted name ("validate") used in keys of messages. The
 * caller checks the mapping's other keys. Same ownership as sp_cmd_value.
 */
int sp_cmd_parse(sp_ctx *c, const lg_ynode *map, const char *where, double max_timeout,
                 sp_cmd_word_fn word, void *arg, lg_suite_cmd *cmd);

#endif
