#include "expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/suggest.h"

#define EXPR_MAX_DEPTH 64

enum op {
    OP_LIT, OP_NAME, OP_NOT, OP_NEG, OP_AND, OP_OR,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_IN, OP_NOTIN,
};

typedef struct enode {
    enum op op;
    size_t off;        /* byte offset of the operator or operand, for messages */
    unsigned types;    /* what the node may evaluate to */
    int a, b;          /* children (node indices), -1 if none */
    lg_expr_value lit; /* OP_LIT */
    int id;            /* OP_NAME */
    char *name;        /* OP_NAME, for messages */
    int *items;        /* OP_IN: literal nodes */
    size_t nitems;
} enode;

struct lg_expr {
    enode *nodes;
    size_t n, cap;
    char **strs; /* unescaped string literals (owned) */
    size_t nstrs;
    int root;
    int *refs;
    size_t nrefs;
};

enum tok {
    T_END, T_NUM, T_STR, T_NAME, T_LP, T_RP, T_LB, T_RB, T_COMMA,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS, T_STAR, T_SLASH,
    T_AND, T_OR, T_NOT, T_IN, T_TRUE, T_FALSE, T_NULL,
};

typedef struct parser {
    lg_expr *e;
    const char *s;
    size_t pos;          /* next unread byte */
    enum tok tok;        /* current token */
    size_t tstart, tlen; /* its text */
    double num;
    char *str;           /* T_STR value, owned until stored */
    size_t slen;
    lg_expr_resolve_fn resolve;
    void *ctx;
    const char *const *names;
    size_t *err_off;
    lg_err *err;
    int depth;
} parser;

static const char *const type_names[16] = {
    "nothing", "null", "true/false", "true/false or null",
    "a number", "a number or null", "a number or true/false", "a number, true/false or null",
    "a string", "a string or null", "a string or true/false", "a string, true/false or null",
    "a number or a string", "a number, a string or null", "a number, a string or true/false",
    "any value",
};

const char *lg_expr_type_name(unsigned types)
{
    return type_names[types & 15];
}

void lg_expr_free(lg_expr *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->nodes[i].items);
        free(e->nodes[i].name);
    }
    for (size_t i = 0; i < e->nstrs; i++)
        free(e->strs[i]);
    free(e->strs);
    free(e->nodes);
    free(e->refs);
    free(e);
}

unsigned lg_expr_types(const lg_expr *e)
{
    return e->nodes[e->root].types;
}

size_t lg_expr_nrefs(const lg_expr *e)
{
    return e->nrefs;
}

int lg_expr_ref(const lg_expr *e, size_t i)
{
    return i < e->nrefs ? e->refs[i] : -1;
}

static int fail(parser *p, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(parser *p, size_t off, int code, const char *fmt, ...)
{
    va_list ap;
    if (!lg_err_isset(p->err))
        *p->err_off = off;
    va_start(ap, fmt);
    lg_err_vsetf(p->err, __FILE__, __LINE__, code, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9') || c == '.';
}

static const struct {
    const char *word;
    enum tok tok;
} keywords[] = {
    {"and", T_AND}, {"or", T_OR}, {"not", T_NOT}, {"in", T_IN},
    {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
};

/* Reads the next token into p->tok. -1 on a lexical error. */
static int lex(parser *p)
{
    const char *s = p->s;
    size_t i = p->pos;

    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
        i++;
    p->tstart = i;
    free(p->str);
    p->str = NULL;
    if (!s[i]) {
        p->tok = T_END;
        p->tlen = 0;
        p->pos = i;
        return 0;
    }
    char c = s[i];
    if ((c >= '0' && c <= '9') || (c == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')) {
        char *end;
        errno = 0;
        p->num = strtod(s + i, &end);
        if (end == s + i || errno == ERANGE || is_name_start(*end))
            return fail(p, i, LG_EINPUT, "bad number");
        p->tok = T_NUM;
        i = (size_t)(end - s);
    } else if (c == '"' || c == '\'') {
        size_t j = i + 1, k = 0;
        char *out = malloc(strlen(s + i) + 1);
        if (!out)
            return fail(p, i, LG_ENOMEM, "out of memory");
        while (s[j] && s[j] != c) {
            if (s[j] == '\\' && (s[j + 1] == '\\' || s[j + 1] == '\'' || s[j + 1] == '"'))
                j++;
            out[k++] = s[j++];
        }
        if (!s[j]) {
            free(out);
            return fail(p, i, LG_EINPUT, "unterminated string; close it with %c", c);
        }
        out[k] = '\0';
        p->str = out;
        p->slen = k;
        p->tok = T_STR;
        i = j + 1;
    } else if (is_name_start(c)) {
        size_t j = i;
        while (is_name_char(s[j]))
            j++;
        p->tok = T_NAME;
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
            if (strlen(keywords[k].word) == j - i && !strncmp(keywords[k].word, s + i, j - i))
                p->tok = keywords[k].tok;
        i = j;
    } else {
        char d = s[i + 1];
        switch (c) {
        case '(': p->tok = T_LP; i++; break;
        case ')': p->tok = T_RP; i++; break;
        case '[': p->tok = T_LB; i++; break;
        case ']': p->tok = T_RB; i++; break;
        case ',': p->tok = T_COMMA; i++; break;
        case '+': p->tok = T_PLUS; i++; break;
        case '-': p->tok = T_MINUS; i++; break;
        case '*': p->tok = T_STAR; i++; break;
        case '/': p->tok = T_SLASH; i++; break;
        case '<': p->tok = d == '=' ? T_LE : T_LT; i += d == '=' ? 2 : 1; break;
        case '>': p->tok = d == '=' ? T_GE : T_GT; i += d == '=' ? 2 : 1; break;
        case '=':
            if (d != '=')
                return fail(p, i, LG_EINPUT, "use '==' to compare");
            p->tok = T_EQ;
            i += 2;
            break;
        case '!':
            if (d != '=')
                return fail(p, i, LG_EINPUT, "use 'not' to negate");
            p->tok = T_NE;
            i += 2;
            break;
        case '&':
            return fail(p, i, LG_EINPUT, "use 'and' to combine conditions");
        case '|':
            return fail(p, i, LG_EINPUT, "use 'or' to combine conditions");
        default:
            return fail(p, i, LG_EINPUT, "unexpected character '%c'", c);
        }
    }
    p->tlen = i - p->tstart;
    p->pos = i;
    return 0;
}

static int new_node(parser *p, enum op op, size_t off, unsigned types, int a, int b)
{
    lg_expr *e = p->e;
    if (e->n == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 16;
        enode *nn = realloc(e->nodes, ncap * sizeof *nn);
        if (!nn)
            return fail(p, off, LG_ENOMEM, "out of memory");
        e->nodes = nn;
        e->cap = ncap;
    }
    e->nodes[e->n] = (enode){.op = op, .off = off, .types = types, .a = a, .b = b, .id = -1};
    return (int)e->n++;
}

static int keep_str(parser *p)
{
    lg_expr *e = p->e;
    char **ns = realloc(e->strs, (e->nstrs + 1) * sizeof *ns);
    if (!ns)
        return fail(p, p->tstart, LG_ENOMEM, "out of memory");
    e->strs = ns;
    e->strs[e->nstrs++] = p->str;
    p->str = NULL;
    return 0;
}

static int add_ref(parser *p, int id)
{
    lg_expr *e = p->e;
    for (size_t i = 0; i < e->nrefs; i++)
        if (e->refs[i] == id)
            return 0;
    int *nr = realloc(e->refs, (e->nrefs + 1) * sizeof *nr);
    if (!nr)
        return fail(p, p->tstart, LG_ENOMEM, "out of memory");
    e->refs = nr;
    e->refs[e->nrefs++] = id;
    return 0;
}

static const char *tok_text(parser *p, char *buf, size_t size)
{
    if (p->tok == T_END)
        return "the end";
    snprintf(buf, size, "'%.*s'", (int)(p->tlen > 30 ? 30 : p->tlen), p->s + p->tstart);
    return buf;
}

static int parse_or(parser *p);

static int parse_literal(parser *p)
{
    size_t off = p->tstart;
    int n;
    switch (p->tok) {
    case T_NUM:
        n = new_node(p, OP_LIT, off, LG_EXPR_NUM, -1, -1);
        if (n >= 0)
            p->e->nodes[n].lit = (lg_expr_value){.type = LG_EXPR_NUM, .num = p->num};
        break;
    case T_STR:
        if (keep_str(p))
            return -1;
        n = new_node(p, OP_LIT, off, LG_EXPR_STR, -1, -1);
        if (n >= 0)
            p->e->nodes[n].lit = (lg_expr_value){.type = LG_EXPR_STR,
                                                 .str = p->e->strs[p->e->nstrs - 1],
                                                 .len = p->slen};
        break;
    case T_TRUE:
    case T_FALSE:
        n = new_node(p, OP_LIT, off, LG_EXPR_BOOL, -1, -1);
        if (n >= 0)
            p->e->nodes[n].lit = (lg_expr_value){.type = LG_EXPR_BOOL, .b = p->tok == T_TRUE};
        break;
    case T_NULL:
        n = new_node(p, OP_LIT, off, LG_EXPR_NULL, -1, -1);
        if (n >= 0)
            p->e->nodes[n].lit = (lg_expr_value){.type = LG_EXPR_NULL};
        break;
    case T_MINUS: /* a negative number literal inside [ ... ] */
        if (lex(p))
            return -1;
        if (p->tok != T_NUM)
            return fail(p, p->tstart, LG_EINPUT, "expected a number after '-'");
        p->num = -p->num;
        return parse_literal(p);
    default: {
        char b[48];
        return fail(p, off, LG_EINPUT, "expected a number, string, true, false or null, found %s",
                    tok_text(p, b, sizeof b));
    }
    }
    if (n < 0 || lex(p))
        return -1;
    return n;
}

static int parse_primary(parser *p)
{
    size_t off = p->tstart;
    char b[48];

    if (p->tok == T_LP) {
        int n;
        if (++p->depth > EXPR_MAX_DEPTH)
            return fail(p, off, LG_EINPUT, "expression nested too deeply");
        if (lex(p) || (n = parse_or(p)) < 0)
            return -1;
        p->depth--;
        if (p->tok != T_RP)
            return fail(p, p->tstart, LG_EINPUT, "expected ')' to close '(', found %s",
                        tok_text(p, b, sizeof b));
        if (lex(p))
            return -1;
        return n;
    }
    if (p->tok == T_NAME) {
        char *name = strndup(p->s + off, p->tlen);
        unsigned types = LG_EXPR_ANY;
        int id, n;
        if (!name)
            return fail(p, off, LG_ENOMEM, "out of memory");
        id = p->resolve(p->ctx, name, &types);
        if (id < 0) {
            const char *guess = p->names ? lg_suggest(name, p->names) : NULL;
            if (guess)
                fail(p, off, LG_EINPUT, "unknown name '%s' (did you mean '%s'?)", name, guess);
            else
                fail(p, off, LG_EINPUT, "unknown name '%s'", name);
            free(name);
            return -1;
        }
        if ((n = new_node(p, OP_NAME, off, types, -1, -1)) < 0 || add_ref(p, id)) {
            free(name);
            return -1;
        }
        p->e->nodes[n].id = id;
        p->e->nodes[n].name = name;
        if (lex(p))
            return -1;
        return n;
    }
    if (p->tok == T_NUM || p->tok == T_STR || p->tok == T_TRUE || p->tok == T_FALSE ||
        p->tok == T_NULL)
        return parse_literal(p);
    if (p->tok == T_END)
        return fail(p, off, LG_EINPUT, "expression ends too early; expected a value");
    return fail(p, off, LG_EINPUT, "expected a value, found %s", tok_text(p, b, sizeof b));
}

/* Node description for type errors: the name or the literal. */
static void describe(parser *p, int n, char *buf, size_t size)
{
    const enode *x = &p->e->nodes[n];
    if (x->op == OP_NAME)
        snprintf(buf, size, "'%s' is %s", x->name, lg_expr_type_name(x->types));
    else
        snprintf(buf, size, "the operand is %s", lg_expr_type_name(x->types));
}

static int need(parser *p, int n, unsigned want, const char *opname)
{
    char b[160];
    if ((p->e->nodes[n].types & ~want) == 0)
        return 0;
    describe(p, n, b, sizeof b);
    return fail(p, p->e->nodes[n].off, LG_EINPUT, "'%s' needs %s but %s", opname,
                lg_expr_type_name(want), b);
}

static int parse_unary(parser *p)
{
    if (p->tok == T_MINUS) {
        size_t off = p->tstart;
        int a;
        if (++p->depth > EXPR_MAX_DEPTH)
            return fail(p, off, LG_EINPUT, "expression nested too deeply");
        if (lex(p) || (a = parse_unary(p)) < 0)
            return -1;
        p->depth--;
        if (need(p, a, LG_EXPR_NUM, "-"))
            return -1;
        return new_node(p, OP_NEG, off, LG_EXPR_NUM, a, -1);
    }
    return parse_primary(p);
}

static int parse_product(parser *p)
{
    int a = parse_unary(p);
    while (a >= 0 && (p->tok == T_STAR || p->tok == T_SLASH)) {
        enum op op = p->tok == T_STAR ? OP_MUL : OP_DIV;
        size_t off = p->tstart;
        int b;
        if (lex(p) || (b = parse_unary(p)) < 0)
            return -1;
        if (need(p, a, LG_EXPR_NUM, op == OP_MUL ? "*" : "/") ||
            need(p, b, LG_EXPR_NUM, op == OP_MUL ? "*" : "/"))
            return -1;
        a = new_node(p, op, off, LG_EXPR_NUM, a, b);
    }
    return a;
}

static int parse_sum(parser *p)
{
    int a = parse_product(p);
    while (a >= 0 && (p->tok == T_PLUS || p->tok == T_MINUS)) {
        enum op op = p->tok == T_PLUS ? OP_ADD : OP_SUB;
        size_t off = p->tstart;
        int b;
        if (lex(p) || (b = parse_product(p)) < 0)
            return -1;
        if (need(p, a, LG_EXPR_NUM, op == OP_ADD ? "+" : "-") ||
            need(p, b, LG_EXPR_NUM, op == OP_ADD ? "+" : "-"))
            return -1;
        a = new_node(p, op, off, LG_EXPR_NUM, a, b);
    }
    return a;
}

static int parse_in_list(parser *p, int a, bool negate, size_t off)
{
    int n, *items = NULL;
    size_t nitems = 0;
    unsigned types = 0;
    char b[160];

    if (p->tok != T_LB)
        return fail(p, p->tstart, LG_EINPUT, "expected '[' after 'in'");
    if (lex(p))
        return -1;
    for (;;) {
        int it = parse_literal(p);
        int *ni;
        if (it < 0)
            goto fail_items;
        ni = realloc(items, (nitems + 1) * sizeof *ni);
        if (!ni) {
            fail(p, off, LG_ENOMEM, "out of memory");
            goto fail_items;
        }
        items = ni;
        items[nitems++] = it;
        types |= p->e->nodes[it].types;
        if (p->tok == T_COMMA) {
            if (lex(p))
                goto fail_items;
            continue;
        }
        if (p->tok == T_RB)
            break;
        fail(p, p->tstart, LG_EINPUT, "expected ',' or ']' in the list, found %s",
             tok_text(p, b, sizeof b));
        goto fail_items;
    }
    if (lex(p))
        goto fail_items;
    if (!(p->e->nodes[a].types & types)) {
        describe(p, a, b, sizeof b);
        fail(p, p->e->nodes[a].off, LG_EINPUT, "'in' would always be %s: %s and the list holds %s",
             negate ? "true" : "false", b, lg_expr_type_name(types));
        goto fail_items;
    }
    n = new_node(p, negate ? OP_NOTIN : OP_IN, off, LG_EXPR_BOOL, a, -1);
    if (n < 0)
        goto fail_items;
    p->e->nodes[n].items = items;
    p->e->nodes[n].nitems = nitems;
    return n;
fail_items:
    free(items);
    return -1;
}

static int parse_cmp(parser *p)
{
    static const struct {
        enum tok tok;
        enum op op;
        const char *text;
    } ops[] = {{T_EQ, OP_EQ, "=="}, {T_NE, OP_NE, "!="}, {T_LT, OP_LT, "<"},
               {T_LE, OP_LE, "<="}, {T_GT, OP_GT, ">"}, {T_GE, OP_GE, ">="}};
    int a = parse_sum(p), b;
    size_t off = p->tstart;
    char d1[160], d2[160];

    if (a < 0)
        return -1;
    if (p->tok == T_IN || p->tok == T_NOT) {
        bool negate = p->tok == T_NOT;
        if (lex(p))
            return -1;
        if (negate && p->tok != T_IN)
            return fail(p, p->tstart, LG_EINPUT, "expected 'in' after 'not' here");
        if (negate && lex(p))
            return -1;
        return parse_in_list(p, a, negate, off);
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (p->tok != ops[i].tok)
            continue;
        if (lex(p) || (b = parse_sum(p)) < 0)
            return -1;
        if (ops[i].op == OP_EQ || ops[i].op == OP_NE) {
            if (!(p->e->nodes[a].types & p->e->nodes[b].types)) {
                describe(p, a, d1, sizeof d1);
                describe(p, b, d2, sizeof d2);
                return fail(p, off, LG_EINPUT, "'%s' would always be %s: %s, %s", ops[i].text,
                            ops[i].op == OP_EQ ? "false" : "true", d1, d2);
            }
        } else if (need(p, a, LG_EXPR_NUM, ops[i].text) ||
                   need(p, b, LG_EXPR_NUM, ops[i].text)) {
            return -1;
        }
        return new_node(p, ops[i].op, off, LG_EXPR_BOOL, a, b);
    }
    return a;
}

static int parse_not(parser *p)
{
    if (p->tok == T_NOT) {
        size_t off = p->tstart;
        int a;
        if (++p->depth > EXPR_MAX_DEPTH)
            return fail(p, off, LG_EINPUT, "expression nested too deeply");
        if (lex(p) || (a = parse_not(p)) < 0)
            return -1;
        p->depth--;
        if (need(p, a, LG_EXPR_BOOL, "not"))
            return -1;
        return new_node(p, OP_NOT, off, LG_EXPR_BOOL, a, -1);
    }
    return parse_cmp(p);
}

static int parse_and(parser *p)
{
    int a = parse_not(p);
    while (a >= 0 && p->tok == T_AND) {
        size_t off = p->tstart;
        int b;
        if (lex(p) || (b = parse_not(p)) < 0)
            return -1;
        if (need(p, a, LG_EXPR_BOOL, "and") || need(p, b, LG_EXPR_BOOL, "and"))
            return -1;
        a = new_node(p, OP_AND, off, LG_EXPR_BOOL, a, b);
    }
    return a;
}

static int parse_or(parser *p)
{
    int a = parse_and(p);
    while (a >= 0 && p->tok == T_OR) {
        size_t off = p->tstart;
        int b;
        if (lex(p) || (b = parse_and(p)) < 0)
            return -1;
        if (need(p, a, LG_EXPR_BOOL, "or") || need(p, b, LG_EXPR_BOOL, "or"))
            return -1;
        a = new_node(p, OP_OR, off, LG_EXPR_BOOL, a, b);
    }
    return a;
}

int lg_expr_compile(const char *text, lg_expr_resolve_fn resolve, void *ctx,
                    const char *const *names, lg_expr **out, size_t *err_off, lg_err *err)
{
    size_t dummy_off = 0;
    parser p = {.s = text, .resolve = resolve, .ctx = ctx, .names = names,
                .err_off = err_off ? err_off : &dummy_off, .err = err};
    char b[48];
    int root;

    *out = NULL;
    p.e = calloc(1, sizeof *p.e);
    if (!p.e)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if (lex(&p) || (root = parse_or(&p)) < 0)
        goto fail;
    if (p.tok != T_END) {
        fail(&p, p.tstart, LG_EINPUT, "unexpected %s after a complete expression",
             tok_text(&p, b, sizeof b));
        goto fail;
    }
    p.e->root = root;
    *out = p.e;
    return 0;
fail:
    free(p.str);
    lg_expr_free(p.e);
    return lg_err_isset(err) ? err->code : LG_EINPUT;
}

/* ---- evaluation ---- */

typedef struct evctx {
    const lg_expr *e;
    lg_expr_lookup_fn lookup;
    void *ctx;
    size_t *err_off;
    lg_err *err;
} evctx;

static int eval_fail(evctx *c, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int eval_fail(evctx *c, size_t off, const char *fmt, ...)
{
    va_list ap;
    if (!lg_err_isset(c->err))
        *c->err_off = off;
    va_start(ap, fmt);
    lg_err_vsetf(c->err, __FILE__, __LINE__, LG_EINPUT, fmt, ap);
    va_end(ap);
    return LG_EINPUT;
}

static const char *value_type(unsigned t)
{
    return lg_expr_type_name(t);
}

static bool values_equal(const lg_expr_value *a, const lg_expr_value *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case LG_EXPR_NULL: return true;
    case LG_EXPR_BOOL: return a->b == b->b;
    case LG_EXPR_NUM: return a->num == b->num;
    default: return a->len == b->len && memcmp(a->str, b->str, a->len) == 0;
    }
}

static int eval(evctx *c, int i, lg_expr_value *out)
{
    const enode *x = &c->e->nodes[i];
    lg_expr_value a, b;
    int rc;

    switch (x->op) {
    case OP_LIT:
        *out = x->lit;
        return 0;
    case OP_NAME: {
        const json_t *v = c->lookup(c->ctx, x->id);
        if (!v)
            return eval_fail(c, x->off, "'%s' has no value", x->name);
        switch (json_typeof(v)) {
        case JSON_NULL: *out = (lg_expr_value){.type = LG_EXPR_NULL}; return 0;
        case JSON_TRUE: *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = true}; return 0;
        case JSON_FALSE: *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = false}; return 0;
        case JSON_INTEGER:
        case JSON_REAL:
            *out = (lg_expr_value){.type = LG_EXPR_NUM, .num = json_number_value(v)};
            return 0;
        case JSON_STRING:
            *out = (lg_expr_value){.type = LG_EXPR_STR, .str = json_string_value(v),
                                   .len = json_string_length(v)};
            return 0;
        default:
            return eval_fail(c, x->off, "'%s' is a %s; conditions compare numbers, strings and true/false",
                             x->name, json_is_array(v) ? "list" : "mapping");
        }
    }
    case OP_NOT:
    case OP_AND:
    case OP_OR:
        if ((rc = eval(c, x->a, &a)))
            return rc;
        if (a.type != LG_EXPR_BOOL)
            return eval_fail(c, c->e->nodes[x->a].off, "expected true/false, got %s", value_type(a.type));
        if (x->op == OP_NOT) {
            *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = !a.b};
            return 0;
        }
        if ((x->op == OP_AND && !a.b) || (x->op == OP_OR && a.b)) { /* short-circuit */
            *out = a;
            return 0;
        }
        if ((rc = eval(c, x->b, &b)))
            return rc;
        if (b.type != LG_EXPR_BOOL)
            return eval_fail(c, c->e->nodes[x->b].off, "expected true/false, got %s", value_type(b.type));
        *out = b;
        return 0;
    case OP_IN:
    case OP_NOTIN: {
        bool found = false;
        if ((rc = eval(c, x->a, &a)))
            return rc;
        for (size_t k = 0; k < x->nitems && !found; k++)
            found = values_equal(&a, &c->e->nodes[x->items[k]].lit);
        *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = x->op == OP_IN ? found : !found};
        return 0;
    }
    case OP_NEG:
        if ((rc = eval(c, x->a, &a)))
            return rc;
        if (a.type != LG_EXPR_NUM)
            return eval_fail(c, x->off, "'-' needs a number, got %s", value_type(a.type));
        *out = (lg_expr_value){.type = LG_EXPR_NUM, .num = -a.num};
        return 0;
    default:
        break;
    }
    /* binary operators */
    if ((rc = eval(c, x->a, &a)) || (rc = eval(c, x->b, &b)))
        return rc;
    if (x->op == OP_EQ || x->op == OP_NE) {
        bool eq = values_equal(&a, &b);
        *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = x->op == OP_EQ ? eq : !eq};
        return 0;
    }
    if (a.type != LG_EXPR_NUM || b.type != LG_EXPR_NUM)
        return eval_fail(c, x->off, "operator needs two numbers, got %s and %s",
                         value_type(a.type), value_type(b.type));
    switch (x->op) {
    case OP_LT: *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = a.num < b.num}; return 0;
    case OP_LE: *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = a.num <= b.num}; return 0;
    case OP_GT: *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = a.num > b.num}; return 0;
    case OP_GE: *out = (lg_expr_value){.type = LG_EXPR_BOOL, .b = a.num >= b.num}; return 0;
    case OP_ADD: *out = (lg_expr_value){.type = LG_EXPR_NUM, .num = a.num + b.num}; return 0;
    case OP_SUB: *out = (lg_expr_value){.type = LG_EXPR_NUM, .num = a.num - b.num}; return 0;
    case OP_MUL: *out = (lg_expr_value){.type = LG_EXPR_NUM, .num = a.num * b.num}; return 0;
    case OP_DIV:
        if (b.num == 0)
            return eval_fail(c, x->off, "division by zero");
        *out = (lg_expr_value){.type = LG_EXPR_NUM, .num = a.num / b.num};
        return 0;
    default:
        return LG_ERR(c->err, LG_EINTERNAL, "expression: unknown operator %d", (int)x->op);
    }
}

int lg_expr_eval(const lg_expr *e, lg_expr_lookup_fn lookup, void *ctx, lg_expr_value *out,
                 size_t *err_off, lg_err *err)
{
    size_t dummy = 0;
    evctx c = {e, lookup, ctx, err_off ? err_off : &dummy, err};
    return eval(&c, e->root, out);
}
