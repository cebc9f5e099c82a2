/*
 * harness/template.h - "text with {{name}}" templates over JSON values.
 *
 * A template is literal text with placeholders `{{name}}` (spaces inside the
 * braces are allowed: `{{ name }}`). A name is letters, digits, '_' and '.',
 * not starting with a digit or '.'. There is no escape for a literal "{{";
 * a lone "}}" is literal text. Parsing checks the syntax once; rendering
 * looks each name up in a JSON object (a case, or a case plus loop state).
 *
 * Values render as: strings as they are, integers in decimal, reals in the
 * shortest form that reads back as the same double (423.18, not
 * 423.18000000000001), true/false, null as "null", arrays and objects as
 * canonical JSON.
 *
 * A parsed template is immutable: any number of threads may render it at once.
 */
#ifndef LG_TEMPLATE_H
#define LG_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct lg_template lg_template;

/*
 * Parses `text` (borrowed, copied). On a syntax error returns LG_EINPUT with
 * a message without position ("unclosed '{{'") and sets *err_off to the byte
 * offset of the problem (if err_off is not NULL), so the caller can prefix
 * "FILE:LINE:COL". Returns 0 and *out (owned, free with lg_template_free)
 * on success.
 */
int lg_template_parse(const char *text, lg_template **out, size_t *err_off, lg_err *err);

void lg_template_free(lg_template *t); /* accepts NULL */

/* Number of placeholders, and the name and byte offset (of its "{{") of the
 * i-th one, in order of appearance. The name is borrowed from `t`. */
size_t lg_template_nvars(const lg_template *t);
const char *lg_template_var(const lg_template *t, size_t i, size_t *off);

/* The name if the whole template is exactly one placeholder ("{{x}}"),
 * else NULL: callers that want the typed value (a number stays a number)
 * use json_object_get(vars, name) instead of rendering text. Borrowed. */
const char *lg_template_only_var(const lg_template *t);

/* The source text (borrowed). */
const char *lg_template_text(const lg_template *t);

/*
 * Appends the rendered text to `out`. `vars` is a JSON object (borrowed).
 * A name missing from `vars` is LG_EINPUT "template refers to unknown
 * field 'x'"; LG_ETOOBIG/LG_ENOMEM when `out` cannot grow.
 */
int lg_template_render(const lg_template *t, const json_t *vars, lg_buf *out, lg_err *err);

/* Appends the text form of one JSON value as described above. */
int lg_template_append_value(lg_buf *out, const json_t *v, lg_err *err);

/* Writes the shortest decimal form of `d` that reads back as `d` ("%.15g"
 * to "%.17g", first that round-trips) into buf (32 bytes suffice). */
void lg_template_format_double(double d, char *buf, size_t size);

#endif
