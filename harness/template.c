#include "template.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

typedef struct part {
    size_t start, len; /* literal: text[start..start+len); var: name in `name` */
    char *name;        /* NULL for a literal */
    size_t off;        /* of "{{" for a var */
} part;

struct lg_template {
    char *text;
    part *parts;
    size_t nparts;
    size_t nvars;
};

void lg_template_free(lg_template *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nparts; i++)
        free(t->parts[i].name);
    free(t->parts);
    free(t->text);
    free(t);
}

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '.';
}

static int add_part(lg_template *t, size_t *cap, part p, lg_err *err)
{
    if (t->nparts == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        part *np = realloc(t->parts, ncap * sizeof *np);
        if (!np)
            return LG_ERR(err, LG_ENOMEM, "out of memory");
        t->parts = np;
        *cap = ncap;
    }
    t->parts[t->nparts++] = p;
    return 0;
}

int lg_template_parse(const char *text, lg_template **out, size_t *err_off, lg_err *err)
{
    lg_template *t = calloc(1, sizeof *t);
    size_t cap = 0, i = 0, lit = 0, n, dummy_off;
    int rc = 0;

    *out = NULL;
    if (!err_off)
        err_off = &dummy_off;
    if (!t || !(t->text = strdup(text))) {
        free(t);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    n = strlen(text);
    while (i < n) {
        size_t open = i, s, e;
        if (!(text[i] == '{' && text[i + 1] == '{')) {
            i++;
            continue;
        }
        s = i + 2;
        while (text[s] == ' ' || text[s] == '\t')
            s++;
        e = s;
        if (name_start(text[e]))
            while (name_char(text[e]))
                e++;
        size_t after = e;
        while (text[after] == ' ' || text[after] == '\t')
            after++;
        if (!strstr(text + open + 2, "}}")) {
            *err_off = open;
            rc = LG_ERR(err, LG_EINPUT, "unclosed '{{' in template");
            goto fail;
        }
        if (e == s || text[after] != '}' || text[after + 1] != '}') {
            *err_off = s;
            rc = LG_ERR(err, LG_EINPUT,
                        "'{{' must be followed by a field name and '}}' (names are letters, digits, '_' and '.')");
            goto fail;
        }
        if (open > lit && (rc = add_part(t, &cap, (part){lit, open - lit, NULL, 0}, err)))
            goto fail;
        char *name = strndup(text + s, e - s);
        if (!name) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto fail;
        }
        if ((rc = add_part(t, &cap, (part){0, 0, name, open}, err))) {
            free(name);
            goto fail;
        }
        t->nvars++;
        i = lit = after + 2;
    }
    if (n > lit && (rc = add_part(t, &cap, (part){lit, n - lit, NULL, 0}, err)))
        goto fail;
    *out = t;
    return 0;
fail:
    lg_template_free(t);
    return rc;
}

size_t lg_template_nvars(const lg_template *t)
{
    return t->nvars;
}

const char *lg_template_var(const lg_template *t, size_t i, size_t *off)
{
    for (size_t k = 0; k < t->nparts; k++) {
        if (!t->parts[k].name)
            continue;
        if (i-- == 0) {
            if (off)
                *off = t->parts[k].off;
            return t->parts[k].name;
        }
    }
    return NULL;
}

const char *lg_template_only_var(const lg_template *t)
{
    return t->nparts == 1 && t->parts[0].name ? t->parts[0].name : NULL;
}

const char *lg_template_text(const lg_template *t)
{
    return t->text;
}

void lg_template_format_double(double d, char *buf, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
}

int lg_template_append_value(lg_buf *out, const json_t *v, lg_err *err)
{
    char num[40];
    int rc;

    switch (json_typeof(v)) {
    case JSON_STRING:
        rc = lg_buf_append(out, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        rc = lg_buf_appendf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        break;
    case JSON_REAL:
        lg_template_format_double(json_real_value(v), num, sizeof num);
        rc = lg_buf_append_str(out, num);
        break;
    case JSON_TRUE:
        rc = lg_buf_append_str(out, "true");
        break;
    case JSON_FALSE:
        rc = lg_buf_append_str(out, "false");
        break;
    case JSON_NULL:
        rc = lg_buf_append_str(out, "null");
        break;
    default:
        return lg_json_dump_canonical(v, out, err);
    }
    if (rc)
        return LG_ERR(err, rc, "cannot render template: %s",
                      rc == LG_ETOOBIG ? "result too large" : "out of memory");
    return 0;
}

int lg_template_render(const lg_template *t, const json_t *vars, lg_buf *out, lg_err *err)
{
    for (size_t i = 0; i < t->nparts; i++) {
        const part *p = &t->parts[i];
        int rc;
        if (!p->name) {
            if ((rc = lg_buf_append(out, t->text + p->start, p->len)))
                return LG_ERR(err, rc, "cannot render template: %s",
                              rc == LG_ETOOBIG ? "result too large" : "out of memory");
            continue;
        }
        const json_t *v = json_object_get(vars, p->name);
        if (!v)
            return LG_ERR(err, LG_EINPUT, "template refers to unknown field '%s'", p->name);
        if ((rc = lg_template_append_value(out, v, err)))
            return rc;
    }
    return 0;
}
