#include "yamlnode.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/suggest.h"

typedef struct yctx {
    yaml_parser_t parser;
    const char *name;
    const char *data;
    size_t len;
    lg_err *err;
} yctx;

static void node_free(lg_ynode *n)
{
    if (!n)
        return;
    free(n->text);
    for (size_t i = 0; n->items && i < n->n; i++)
        node_free(n->items[i]);
    for (size_t i = 0; n->pairs && i < n->n; i++) {
        node_free(n->pairs[i].key);
        node_free(n->pairs[i].value);
    }
    free(n->items);
    free(n->pairs);
    free(n);
}

void lg_ydoc_free(lg_ydoc *doc)
{
    if (!doc)
        return;
    node_free(doc->root);
    free(doc->name);
    free(doc);
}

/* 1-based line and column of a byte offset, for reader errors that carry
 * only an offset. */
static void offset_to_pos(const yctx *c, size_t off, int *line, int *col)
{
    int l = 1, k = 1;
    for (size_t i = 0; i < off && i < c->len; i++) {
        if (c->data[i] == '\n') {
            l++;
            k = 1;
        } else if (((unsigned char)c->data[i] & 0xC0) != 0x80) {
            k++;
        }
    }
    *line = l;
    *col = k;
}

static int parser_error(yctx *c)
{
    const yaml_parser_t *p = &c->parser;
    int line, col;

    if (p->error == YAML_MEMORY_ERROR)
        return LG_ERR(c->err, LG_ENOMEM, "%s: out of memory while parsing YAML", c->name);
    if (p->error == YAML_READER_ERROR) {
        offset_to_pos(c, p->problem_offset, &line, &col);
        return LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: %s", c->name, line, col,
                      p->problem ? p->problem : "cannot read the YAML text");
    }
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
    if (p->context)
        return LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: %s (%s at %d:%d)", c->name, line, col,
                      p->problem ? p->problem : "invalid YAML", p->context,
                      (int)p->context_mark.line + 1, (int)p->context_mark.column + 1);
    return LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: %s", c->name, line, col,
                  p->problem ? p->problem : "invalid YAML");
}

static int next_event(yctx *c, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&c->parser, ev))
        return parser_error(c);
    return 0;
}

static int at(yctx *c, const yaml_event_t *ev, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int at(yctx *c, const yaml_event_t *ev, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return LG_ERR(c->err, code, "%s:%d:%d: %s", c->name, (int)ev->start_mark.line + 1,
                  (int)ev->start_mark.column + 1, msg);
}

static const char *const core_tags[] = {
    YAML_STR_TAG, YAML_INT_TAG, YAML_FLOAT_TAG, YAML_BOOL_TAG, YAML_NULL_TAG,
    YAML_MAP_TAG, YAML_SEQ_TAG, "!", NULL,
};

/* Rejects anchors and unsupported tags on a node's start event. */
static int check_props(yctx *c, const yaml_event_t *ev, const yaml_char_t *anchor,
                       const yaml_char_t *tag)
{
    if (anchor)
        return at(c, ev, LG_EINPUT,
                  "anchors (&%s) are not supported in suite files; write the value out", (const char *)anchor);
    if (tag) {
        for (const char *const *t = core_tags; *t; t++)
            if (strcmp(*t, (const char *)tag) == 0)
                return 0;
        return at(c, ev, LG_EINPUT, "unsupported YAML tag '%s'", (const char *)tag);
    }
    return 0;
}

static lg_ynode *new_node(yctx *c, lg_ynode_kind kind, const yaml_event_t *ev)
{
    lg_ynode *n = calloc(1, sizeof *n);
    if (!n) {
        LG_ERR(c->err, LG_ENOMEM, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->col = (int)ev->start_mark.column + 1;
    return n;
}

/* Arrays hold n elements with room for the next power of two (at least 4):
 * they grow when n is 0 or a power of two from 4 up. */
static int grow(yctx *c, void **arr, size_t n, size_t elem)
{
    size_t cap;
    void *p;

    if (n == 0)
        cap = 4;
    else if (n >= 4 && (n & (n - 1)) == 0)
        cap = n * 2;
    else
        return 0;
    p = realloc(*arr, cap * elem);
    if (!p)
        return LG_ERR(c->err, LG_ENOMEM, "out of memory");
    *arr = p;
    return 0;
}

static int build(yctx *c, yaml_event_t *ev, int depth, lg_ynode **out);

/* Builds the node that begins with the next event. */
static int build_next(yctx *c, int depth, lg_ynode **out, yaml_event_type_t *end_type)
{
    yaml_event_t ev;
    int rc = next_event(c, &ev);
    if (rc)
        return rc;
    if (end_type && ev.type == *end_type) {
        yaml_event_delete(&ev);
        *out = NULL;
        return 0;
    }
    rc = build(c, &ev, depth, out);
    yaml_event_delete(&ev);
    return rc;
}

static bool same_key(const lg_ynode *a, const lg_ynode *b)
{
    return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
}

static int build(yctx *c, yaml_event_t *ev, int depth, lg_ynode **out)
{
    lg_ynode *n = NULL;
    int rc = 0;

    *out = NULL;
    if (depth > LG_YAML_MAX_DEPTH)
        return at(c, ev, LG_EINPUT, "nesting deeper than %d levels", LG_YAML_MAX_DEPTH);
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return at(c, ev, LG_EINPUT,
                  "aliases (*%s) are not supported in suite files; write the value out",
                  (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        if ((rc = check_props(c, ev, ev->data.scalar.anchor, ev->data.scalar.tag)))
            return rc;
        if (!(n = new_node(c, LG_YSCALAR, ev)))
            return LG_ENOMEM;
        n->len = ev->data.scalar.length;
        n->text = malloc(n->len + 1);
        if (!n->text) {
            free(n);
            return LG_ERR(c->err, LG_ENOMEM, "out of memory");
        }
        memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->quoted = ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        n->one_line = ev->start_mark.line == ev->end_mark.line;
        if (ev->data.scalar.tag) {
            const char *t = (const char *)ev->data.scalar.tag;
            n->force_str = strcmp(t, YAML_STR_TAG) == 0 || strcmp(t, "!") == 0;
        }
        *out = n;
        return 0;
    case YAML_SEQUENCE_START_EVENT: {
        yaml_event_type_t end = YAML_SEQUENCE_END_EVENT;
        if ((rc = check_props(c, ev, ev->data.sequence_start.anchor, ev->data.sequence_start.tag)))
            return rc;
        if (!(n = new_node(c, LG_YSEQ, ev)))
            return LG_ENOMEM;
        for (;;) {
            lg_ynode *item;
            if ((rc = build_next(c, depth + 1, &item, &end)))
                goto fail;
            if (!item)
                break;
            if ((rc = grow(c, (void **)&n->items, n->n, sizeof *n->items))) {
                node_free(item);
                goto fail;
            }
            n->items[n->n++] = item;
        }
        *out = n;
        return 0;
    }
    case YAML_MAPPING_START_EVENT: {
        yaml_event_type_t end = YAML_MAPPING_END_EVENT;
        if ((rc = check_props(c, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag)))
            return rc;
        if (!(n = new_node(c, LG_YMAP, ev)))
            return LG_ENOMEM;
        for (;;) {
            lg_ynode *key, *value;
            if ((rc = build_next(c, depth + 1, &key, &end)))
                goto fail;
            if (!key)
                break;
            if (key->kind != LG_YSCALAR) {
                rc = LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: mapping keys must be plain text, not %s",
                            c->name, key->line, key->col,
                            key->kind == LG_YMAP ? "a mapping" : "a list");
                node_free(key);
                goto fail;
            }
            for (size_t i = 0; i < n->n; i++) {
                if (same_key(n->pairs[i].key, key)) {
                    rc = LG_ERR(c->err, LG_EINPUT, "%s:%d:%d: duplicate key '%s' (first at %d:%d)",
                                c->name, key->line, key->col, key->text,
                                n->pairs[i].key->line, n->pairs[i].key->col);
                    node_free(key);
                    goto fail;
                }
            }
            if ((rc = build_next(c, depth + 1, &value, NULL))) {
                node_free(key);
                goto fail;
            }
            if ((rc = grow(c, (void **)&n->pairs, n->n, sizeof *n->pairs))) {
                node_free(key);
                node_free(value);
                goto fail;
            }
            n->pairs[n->n].key = key;
            n->pairs[n->n].value = value;
            n->n++;
        }
        *out = n;
        return 0;
    }
    default:
        return at(c, ev, LG_EINTERNAL, "unexpected YAML event %d", (int)ev->type);
    }
fail:
    node_free(n);
    return rc;
}

int lg_yaml_parse(const char *data, size_t len, const char *name, lg_ydoc **out, lg_err *err)
{
    yctx c = {.name = name ? name : "<yaml>", .data = data, .len = len, .err = err};
    yaml_event_t ev;
    lg_ydoc *doc;
    int rc;

    *out = NULL;
    doc = calloc(1, sizeof *doc);
    if (!doc || !(doc->name = strdup(c.name))) {
        free(doc);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    c.name = doc->name;
    if (!yaml_parser_initialize(&c.parser)) {
        lg_ydoc_free(doc);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&c.parser, (const unsigned char *)data, len);

    if ((rc = next_event(&c, &ev))) /* STREAM-START */
        goto out;
    yaml_event_delete(&ev);
    if ((rc = next_event(&c, &ev)))
        goto out;
    if (ev.type == YAML_STREAM_END_EVENT) { /* empty file */
        yaml_event_delete(&ev);
        goto out;
    }
    yaml_event_delete(&ev); /* DOCUMENT-START */
    if ((rc = build_next(&c, 0, &doc->root, NULL)))
        goto out;
    if ((rc = next_event(&c, &ev))) /* DOCUMENT-END */
        goto out;
    yaml_event_delete(&ev);
    if ((rc = next_event(&c, &ev)))
        goto out;
    if (ev.type == YAML_DOCUMENT_START_EVENT)
        rc = at(&c, &ev, LG_EINPUT, "a second YAML document starts here; a suite file holds one");
    yaml_event_delete(&ev);
out:
    yaml_parser_delete(&c.parser);
    if (rc) {
        lg_ydoc_free(doc);
        return rc;
    }
    *out = doc;
    return 0;
}

int lg_yaml_load_file(const char *path, lg_ydoc **out, lg_err *err)
{
    lg_buf b;
    int rc;

    *out = NULL;
    lg_buf_init_capped(&b, LG_YAML_MAX_FILE);
    rc = lg_fs_read_file(path, &b, err);
    if (!rc)
        rc = lg_yaml_parse(lg_buf_cstr(&b), b.len, path, out, err);
    lg_buf_release(&b);
    return rc;
}

const lg_ypair *lg_ynode_get_pair(const lg_ynode *map, const char *key)
{
    if (!map || map->kind != LG_YMAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->pairs[i].key->text, key) == 0)
            return &map->pairs[i];
    return NULL;
}

const lg_ynode *lg_ynode_get(const lg_ynode *map, const char *key)
{
    const lg_ypair *p = lg_ynode_get_pair(map, key);
    return p ? p->value : NULL;
}

static bool all_digits(const char *s, const char *set)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!strchr(set, *s))
            return false;
    return true;
}

static bool is_float_text(const char *s)
{
    bool digits = false;
    if (*s == '-' || *s == '+')
        s++;
    if (!strcmp(s, ".inf") || !strcmp(s, ".Inf") || !strcmp(s, ".INF"))
        return true;
    while (*s >= '0' && *s <= '9') {
        s++;
        digits = true;
    }
    if (*s == '.') {
        s++;
        while (*s >= '0' && *s <= '9') {
            s++;
            digits = true;
        }
    }
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!all_digits(s, "0123456789"))
            return false;
        return true;
    }
    return *s == '\0';
}

lg_yscalar_type lg_ynode_resolve(const lg_ynode *n)
{
    const char *s;
    if (!n || n->kind != LG_YSCALAR || !n->plain || n->force_str || strlen(n->text) != n->len)
        return LG_YSTR;
    s = n->text;
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return LG_YNULL;
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") || !strcmp(s, "false") ||
        !strcmp(s, "False") || !strcmp(s, "FALSE"))
        return LG_YBOOL;
    if (!strncmp(s, "0x", 2) && all_digits(s + 2, "0123456789abcdefABCDEF"))
        return LG_YINT;
    if (!strncmp(s, "0o", 2) && all_digits(s + 2, "01234567"))
        return LG_YINT;
    if (all_digits(s + (*s == '-' || *s == '+'), "0123456789"))
        return LG_YINT;
    if (is_float_text(s) || !strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        return LG_YFLOAT;
    return LG_YSTR;
}

bool lg_ynode_is_null(const lg_ynode *n)
{
    return n && n->kind == LG_YSCALAR && lg_ynode_resolve(n) == LG_YNULL;
}

const char *lg_ynode_describe(const lg_ynode *n, char *buf, size_t size)
{
    if (!n || lg_ynode_is_null(n))
        snprintf(buf, size, "nothing");
    else if (n->kind == LG_YMAP)
        snprintf(buf, size, "a mapping");
    else if (n->kind == LG_YSEQ)
        snprintf(buf, size, "a list");
    else if (n->len > 40 || strchr(n->text, '\n')) {
        size_t k = strcspn(n->text, "\n");
        snprintf(buf, size, "'%.*s...'", (int)(k < 37 ? k : 37), n->text);
    }
    else
        snprintf(buf, size, "'%s'", n->text);
    return buf;
}

/* Integer text of the core schema to int64; false when out of range. */
static bool scalar_int(const char *s, long long *out)
{
    char *end;
    int base = 10;
    bool neg = false;
    unsigned long long v;

    if (!strncmp(s, "0x", 2)) {
        base = 16;
        s += 2;
    } else if (!strncmp(s, "0o", 2)) {
        base = 8;
        s += 2;
    } else if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno || *end)
        return false;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

json_t *lg_ynode_to_json(const lg_ynode *n, const char *name, lg_err *err)
{
    json_t *v = NULL;
    long long iv;
    double d;

    switch (n->kind) {
    case LG_YSCALAR:
        switch (lg_ynode_resolve(n)) {
        case LG_YNULL:
            v = json_null();
            break;
        case LG_YBOOL:
            v = json_boolean(n->text[0] == 't' || n->text[0] == 'T');
            break;
        case LG_YINT:
        case LG_YFLOAT:
            /* integers too large for int64 are kept as reals */
            if (lg_ynode_resolve(n) == LG_YINT && scalar_int(n->text, &iv)) {
                v = json_integer(iv);
                break;
            }
            d = strtod(n->text, NULL);
            /* .inf and .nan are YAML floats but strtod does not read them */
            if (!isfinite(d) || strchr(n->text, 'n') || strchr(n->text, 'N')) {
                LG_ERR(err, LG_EINPUT, "%s:%d:%d: '%s' is not a finite number; JSON cannot hold it",
                       name ? name : "<yaml>", n->line, n->col, n->text);
                return NULL;
            }
            v = json_real(d);
            break;
        case LG_YSTR:
            v = json_stringn(n->text, n->len);
            break;
        }
        break;
    case LG_YSEQ:
        v = json_array();
        for (size_t i = 0; v && i < n->n; i++) {
            json_t *item = lg_ynode_to_json(n->items[i], name, err);
            if (!item || json_array_append_new(v, item)) {
                json_decref(v);
                return NULL;
            }
        }
        break;
    case LG_YMAP:
        v = json_object();
        for (size_t i = 0; v && i < n->n; i++) {
            json_t *item = lg_ynode_to_json(n->pairs[i].value, name, err);
            if (!item || json_object_setn_new(v, n->pairs[i].key->text, n->pairs[i].key->len, item)) {
                json_decref(v);
                return NULL;
            }
        }
        break;
    }
    if (!v)
        LG_ERR(err, LG_ENOMEM, "out of memory converting YAML to JSON");
    return v;
}

lg_ytextpos lg_ynode_textpos(const lg_ynode *n)
{
    lg_ytextpos p = {n->line, n->col, false};
    if (n->kind == LG_YSCALAR && n->one_line && (n->plain || n->quoted)) {
        p.exact = true;
        p.col += n->quoted ? 1 : 0;
    }
    return p;
}

void lg_ytextpos_at(lg_ytextpos pos, size_t off, int *line, int *col)
{
    *line = pos.line;
    *col = pos.exact ? pos.col + (int)off : pos.col;
}

bool lg_ynode_int(const lg_ynode *n, long long *out)
{
    const char *s;
    if (!n || n->kind != LG_YSCALAR || strlen(n->text) != n->len)
        return false;
    s = n->text;
    if (!all_digits(s + (*s == '-' || *s == '+'), "0123456789"))
        return false;
    return scalar_int(s, out);
}

bool lg_ynode_u64(const lg_ynode *n, unsigned long long *out)
{
    char *end;
    unsigned long long v;
    if (!n || n->kind != LG_YSCALAR || !all_digits(n->text, "0123456789") ||
        strlen(n->text) != n->len)
        return false;
    errno = 0;
    v = strtoull(n->text, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool lg_ynode_num(const lg_ynode *n, double *out)
{
    double d;
    if (!n || n->kind != LG_YSCALAR || strlen(n->text) != n->len || !is_float_text(n->text))
        return false;
    d = strtod(n->text, NULL);
    if (!isfinite(d))
        return false;
    *out = d;
    return true;
}

bool lg_ynode_bool(const lg_ynode *n, bool *out)
{
    if (!n || n->kind != LG_YSCALAR || !n->plain || lg_ynode_resolve(n) != LG_YBOOL)
        return false;
    *out = n->text[0] == 't' || n->text[0] == 'T';
    return true;
}

int lg_ynode_check_keys(const lg_ynode *map, const char *const *allowed, const char *name,
                        const char *where, lg_err *err)
{
    for (size_t i = 0; map && map->kind == LG_YMAP && i < map->n; i++) {
        const lg_ynode *k = map->pairs[i].key;
        const char *guess;
        bool ok = false;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = strcmp(*a, k->text) == 0;
        if (ok)
            continue;
        guess = lg_suggest(k->text, allowed);
        return LG_ERR(err, LG_EINPUT, "%s:%d:%d: unknown key '%s'%s%s%s%s%s%s", name, k->line,
                      k->col, k->text, where ? " in '" : "", where ? where : "", where ? "'" : "",
                      guess ? " (did you mean '" : "", guess ? guess : "", guess ? "'?)" : "");
    }
    return 0;
}
