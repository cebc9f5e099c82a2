/* recorder/jpath.c - JSON path compiler and walker (syntax in jpath.h). */
#include "jpath.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum step_kind { STEP_KEY, STEP_ANY_KEY, STEP_INDEX, STEP_ANY_INDEX };

struct step {
    enum step_kind kind;
    char *key; /* STEP_KEY: owned, may hold NUL bytes */
    size_t key_len;
    size_t index; /* STEP_INDEX */
};

struct lg_jpath {
    char *text;
    size_t n;
    struct step steps[];
};

static bool bare_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c == '$' || c == '@' || c == ':' || c >= 0x80;
}

static int syntax(lg_err *err, const char *text, size_t pos, const char *what)
{
    return LG_ERR(err, LG_EINPUT, "invalid JSON path '%s': column %zu: %s", text, pos + 1, what);
}

/* Parses ["..."] starting at the opening quote text[*pos]; on success the
 * decoded key goes to st and *pos is just past the closing quote. */
static int parse_quoted(const char *text, size_t *pos, struct step *st, lg_err *err)
{
    size_t i = *pos + 1;
    json_t *s;
    json_error_t je;

    while (text[i] && text[i] != '"') {
        if (text[i] == '\\' && text[i + 1])
            i++;
        i++;
    }
    if (text[i] != '"')
        return syntax(err, text, *pos, "unterminated quoted key (expected '\"')");
    s = json_loadb(text + *pos, i + 1 - *pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!s || !json_is_string(s)) {
        json_decref(s);
        return syntax(err, text, *pos, "bad quoted key (write it as a JSON string, e.g. [\"a.b\"])");
    }
    st->key_len = json_string_length(s);
    st->key = malloc(st->key_len + 1);
    if (!st->key) {
        json_decref(s);
        return LG_ERR(err, LG_ENOMEM, "out of memory compiling JSON path '%s'", text);
    }
    memcpy(st->key, json_string_value(s), st->key_len + 1);
    json_decref(s);
    st->kind = STEP_KEY;
    *pos = i + 1;
    return 0;
}

static int parse_bare(const char *text, size_t *pos, struct step *st, lg_err *err)
{
    size_t i = *pos;
    if (text[i] == '*') {
        st->kind = STEP_ANY_KEY;
        *pos = i + 1;
        return 0;
    }
    while (bare_char((unsigned char)text[i]))
        i++;
    if (i == *pos) {
        if (text[i])
            return syntax(err, text, i, "expected a key (quote unusual keys: [\"key\"])");
        return syntax(err, text, i, "expected a key after '.'");
    }
    st->kind = STEP_KEY;
    st->key_len = i - *pos;
    st->key = malloc(st->key_len + 1);
    if (!st->key)
        return LG_ERR(err, LG_ENOMEM, "out of memory compiling JSON path '%s'", text);
    memcpy(st->key, text + *pos, st->key_len);
    st->key[st->key_len] = '\0';
    *pos = i;
    return 0;
}

static int parse_bracket(const char *text, size_t *pos, struct step *st, lg_err *err)
{
    size_t i = *pos + 1; /* past '[' */
    int rc;

    if (text[i] == '*') {
        st->kind = STEP_ANY_INDEX;
        i++;
    } else if (text[i] == '"') {
        *pos = i;
        rc = parse_quoted(text, pos, st, err);
        if (rc)
            return rc;
        i = *pos;
    } else if (text[i] >= '0' && text[i] <= '9') {
        size_t v = 0;
        while (text[i] >= '0' && text[i] <= '9') {
            size_t d = (size_t)(text[i] - '0');
            if (v > (SIZE_MAX - d) / 10)
                return syntax(err, text, i, "array index too large");
            v = v * 10 + d;
            i++;
        }
        st->kind = STEP_INDEX;
        st->index = v;
    } else {
        return syntax(err, text, i, "expected an index, '*' or a quoted key after '['");
    }
    if (text[i] != ']')
        return syntax(err, text, i,
                      st->kind == STEP_ANY_INDEX ? "expected ']' after '*'" : "expected ']'");
    *pos = i + 1;
    return 0;
}

int lg_jpath_compile(const char *text, lg_jpath **out, lg_err *err)
{
    size_t len = strlen(text), pos = 0, n = 0;
    lg_jpath *p;
    int rc = 0;

    *out = NULL;
    if (len == 0)
        return LG_ERR(err, LG_EINPUT, "invalid JSON path '': the path is empty (name a field, "
                                      "e.g. 'metadata.request_id')");
    /* every step consumes at least 2 bytes except the first */
    p = calloc(1, sizeof *p + (len + 1) * sizeof p->steps[0]);
    if (!p)
        return LG_ERR(err, LG_ENOMEM, "out of memory compiling JSON path");
    p->text = strdup(text);
    if (!p->text) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory compiling JSON path");
        goto out_free;
    }
    while (text[pos]) {
        struct step *st = &p->steps[n];
        char c = text[pos];
        if (c == '[') {
            rc = parse_bracket(text, &pos, st, err);
        } else if (c == '.') {
            pos++;
            rc = parse_bare(text, &pos, st, err);
        } else if (pos == 0) {
            rc = parse_bare(text, &pos, st, err);
        } else {
            rc = syntax(err, text, pos, "expected '.' or '[' between steps");
        }
        if (rc)
            goto out_free;
        n++;
        p->n = n;
    }
    *out = p;
    return 0;

out_free:
    lg_jpath_free(p);
    return rc;
}

void lg_jpath_free(lg_jpath *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->steps[i].key);
    free(p->text);
    free(p);
}

const char *lg_jpath_text(const lg_jpath *p)
{
    return p->text;
}

struct walk {
    const lg_jpath *p;
    lg_jpath_visit_fn visit;
    void *ctx;
    size_t matched;
};

/* Visits `child` (member or element of `container`) as the last step and
 * applies the visitor's decision. *deleted reports a removal. */
static int visit_one(struct walk *w, json_t *container, const char *key, size_t klen,
                     size_t idx, json_t *child, bool *deleted)
{
    json_t *repl = NULL;
    int act = w->visit(child, &repl, w->ctx);

    *deleted = false;
    w->matched++;
    if (act < 0) {
        json_decref(repl);
        return act;
    }
    if (act == LG_JPATH_DELETE) {
        json_decref(repl);
        if (key ? json_object_deln(container, key, klen) : json_array_remove(container, idx))
            return LG_ENOMEM;
        *deleted = true;
    } else if (act == LG_JPATH_REPLACE) {
        if (!repl)
            return LG_EINTERNAL;
        if (key ? json_object_setn_new(container, key, klen, repl)
                : json_array_set_new(container, idx, repl))
            return LG_ENOMEM;
    } else {
        json_decref(repl);
    }
    return 0;
}

static int walk_step(struct walk *w, size_t si, json_t *v);

static int child_step(struct walk *w, size_t si, json_t *container, const char *key,
                      size_t klen, size_t idx, json_t *child, bool *deleted)
{
    *deleted = false;
    if (si + 1 == w->p->n)
        return visit_one(w, container, key, klen, idx, child, deleted);
    return walk_step(w, si + 1, child);
}

static int walk_step(struct walk *w, size_t si, json_t *v)
{
    const struct step *st = &w->p->steps[si];
    bool deleted;
    int rc = 0;

    switch (st->kind) {
    case STEP_KEY: {
        json_t *c = json_is_object(v) ? json_object_getn(v, st->key, st->key_len) : NULL;
        if (c)
            rc = child_step(w, si, v, st->key, st->key_len, 0, c, &deleted);
        break;
    }
    case STEP_ANY_KEY: {
        const char *key;
        size_t klen;
        json_t *c;
        void *tmp;
        if (!json_is_object(v))
            break;
        json_object_keylen_foreach_safe(v, tmp, key, klen, c)
        {
            rc = child_step(w, si, v, key, klen, 0, c, &deleted);
            if (rc)
                break;
        }
        break;
    }
    case STEP_INDEX: {
        json_t *c = json_is_array(v) ? json_array_get(v, st->index) : NULL;
        if (c)
            rc = child_step(w, si, v, NULL, 0, st->index, c, &deleted);
        break;
    }
    case STEP_ANY_INDEX:
        if (!json_is_array(v))
            break;
        for (size_t i = 0; i < json_array_size(v);) {
            rc = child_step(w, si, v, NULL, 0, i, json_array_get(v, i), &deleted);
            if (rc)
                break;
            if (!deleted)
                i++;
        }
        break;
    }
    return rc;
}

int lg_jpath_apply(const lg_jpath *p, json_t *root, lg_jpath_visit_fn visit, void *ctx,
                   size_t *n_matched)
{
    struct walk w = {p, visit, ctx, 0};
    int rc = walk_step(&w, 0, root);
    if (n_matched)
        *n_matched = w.matched;
    return rc;
}

int lg_jpath_append_key(lg_buf *out, const char *key, size_t len)
{
    bool bare = len > 0;
    int rc;

    for (size_t i = 0; i < len && bare; i++)
        bare = bare_char((unsigned char)key[i]);
    if (bare) {
        if (out->len && (rc = lg_buf_append_byte(out, '.')))
            return rc;
        return lg_buf_append(out, key, len);
    }
    /* quoted: a JSON string inside brackets */
    json_t *s = json_stringn_nocheck(key, len);
    char *q;
    if (!s)
        return LG_ENOMEM;
    q = json_dumps(s, JSON_ENCODE_ANY);
    json_decref(s);
    if (!q)
        return LG_ENOMEM;
    rc = lg_buf_appendf(out, "[%s]", q);
    free(q);
    return rc;
}

int lg_jpath_append_index(lg_buf *out, size_t index)
{
    return lg_buf_appendf(out, "[%zu]", index);
}
