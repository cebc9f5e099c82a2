/* recorder/redact.c - header filter, JSON path and pattern redaction (see redact.h). */
#include "redact.h"
#include "jpath.h"
#include "core/suggest.h"

#include <jansson.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_SECRET 4
/* At most this many literals and rule hints are looked for one by one
 * (set_masks); more share one pass over the body. */
#define FEW_NEEDLES 8

/* memmem() for the needles of the hot path: rule hints such as "@" and
 * "sk-", "\\u", and literal secrets (API keys). glibc's memmem walks needles
 * of 2 or 3 bytes a byte at a time, about 25 us over an 8 KB request (more
 * than everything else the proxy does with it), and its two-way search for
 * longer ones still looks at every byte. Anchored on the needle's first
 * byte that is not a letter, digit or space (rare in text: '-' in
 * "sk-proj-...", '_' in "ghp_..."), a vectorised memchr skips most of the
 * body and memcmp confirms each candidate: well under a microsecond. A
 * needle without such a byte, or a long one (where a run of near misses
 * would cost memcmp's length each), goes to memmem. */
#define ANCHOR_MAX 256
static const void *find_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
    const unsigned char *h = hay, *nd = needle, *end;
    size_t j = m;

    if (m == 0)
        return hay;
    if (n < m)
        return NULL;
    if (m <= ANCHOR_MAX) {
        for (size_t k = 0; k < m; k++) {
            unsigned char c = nd[k];
            if (!((c | 32) >= 'a' && (c | 32) <= 'z') && !(c >= '0' && c <= '9') && c != ' ') {
                j = k;
                break;
            }
        }
    }
    if (j == m) {
        if (m >= 4)
            return memmem(hay, n, needle, m);
        j = 0; /* a short one: anchored on its first byte, as fast as memmem */
    }
    end = h + n - (m - 1 - j); /* one past the last place the anchor byte may be */
    for (h += j; h < end;) {
        const unsigned char *p = memchr(h, nd[j], (size_t)(end - h));
        if (!p)
            return NULL;
        if (memcmp(p - j, nd, m) == 0)
            return p - j;
        h = p + 1;
    }
    return NULL;
}

struct rule {
    char *placeholder; /* "<redacted:NAME>" */
    regex_t re;
    const char *hint; /* built-ins: a literal every match contains (fast skip) */
    size_t hint_len;
    int group;        /* subexpression that is replaced; 0 = the whole match */
};

struct literal {
    char *placeholder;
    unsigned char *value;
    size_t len;
};

struct pathrule {
    lg_jpath *path;
    char *placeholder;
};

struct lg_redact {
    char **headers;
    size_t nh;
    struct pathrule *paths;
    size_t np;
    struct literal *lits;
    size_t nl;
    struct rule *rules;
    size_t nr;
    /* every literal is free of '"', '\\', '/' and control bytes, which JSON
     * text may write as short escapes (built-in hints always are) */
    bool plain_needles;
    /* first bytes of the needles (literal values, rule hints), so one pass
     * over a body finds which can occur: one[c] for one-byte needles, bit
     * (c0 << 8 | c1) of two[] for longer ones */
    unsigned char first[256];
    unsigned char one[256];
    unsigned char two[65536 / 8];
};

static const char *const fixed_headers[] = {
    "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "set-cookie",
};

struct builtin {
    const char *name, *re, *hint;
    int group;
};

static const struct builtin builtins[] = {
    {"email", "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}", "@", 0},
    {"api_key", "\\bsk-[A-Za-z0-9_-]{20,}", "sk-", 0},
    {"api_key", "\\bgh[pousr]_[A-Za-z0-9]{30,}", "gh", 0},
    {"api_key", "\\bgithub_pat_[A-Za-z0-9_]{30,}", "github_pat_", 0},
    {"api_key", "\\bAKIA[0-9A-Z]{16}\\b", "AKIA", 0},
    {"api_key", "\\bAIza[0-9A-Za-z_-]{35}", "AIza", 0},
    {"api_key", "\\bxox[abposr]-[A-Za-z0-9-]{10,}", "xox", 0},
    {"api_key", "\\beyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{8,}", "eyJ", 0},
    {"api_key", "\\b[Bb]earer +([A-Za-z0-9._~+/-]{16,}=*)", "earer ", 1},
};

static const char *const builtin_names[] = {"email", "api_key", NULL};

const char *const *lg_redact_builtin_names(void)
{
    return builtin_names;
}

lg_redact *lg_redact_new(void)
{
    lg_redact *r = calloc(1, sizeof(lg_redact));
    if (r)
        r->plain_needles = true;
    return r;
}

void lg_redact_free(lg_redact *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nh; i++)
        free(r->headers[i]);
    for (size_t i = 0; i < r->np; i++) {
        lg_jpath_free(r->paths[i].path);
        free(r->paths[i].placeholder);
    }
    for (size_t i = 0; i < r->nl; i++) {
        /* volatile so the wipe is not optimised away */
        volatile unsigned char *p = r->lits[i].value;
        for (size_t k = 0; k < r->lits[i].len; k++)
            p[k] = 0;
        free(r->lits[i].value);
        free(r->lits[i].placeholder);
    }
    for (size_t i = 0; i < r->nr; i++) {
        regfree(&r->rules[i].re);
        free(r->rules[i].placeholder);
    }
    free(r->headers);
    free(r->paths);
    free(r->lits);
    free(r->rules);
    free(r);
}

static void add_needle(lg_redact *r, const void *needle, size_t len)
{
    const unsigned char *n = needle;
    if (len)
        r->first[n[0]] = 1;
    if (len == 1) {
        r->one[n[0]] = 1;
    } else if (len > 1) {
        unsigned idx = (unsigned)n[0] << 8 | n[1];
        r->two[idx >> 3] = (unsigned char)(r->two[idx >> 3] | 1u << (idx & 7));
    }
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

static char *placeholder_for(const char *name)
{
    lg_buf b = LG_BUF_INIT;
    if (name ? lg_buf_appendf(&b, "<redacted:%s>", name) : lg_buf_append_str(&b, "<redacted>"))
        return NULL;
    return lg_buf_take(&b, NULL);
}

/* Reallocates an array of `n` items of `size` bytes for one more, zeroed.
 * Returns the new array, or NULL (the old one is left as it was). */
static void *grow_one(void *arr, size_t n, size_t size)
{
    char *p = realloc(arr, (n + 1) * size);
    if (p)
        memset(p + n * size, 0, size);
    return p;
}

int lg_redact_add_header(lg_redact *r, const char *name, lg_err *err)
{
    char **v, *copy;
    if (!*name)
        return LG_ERR(err, LG_EINPUT, "redacted header name is empty");
    if (!(copy = strdup(name)))
        return LG_ERR(err, LG_ENOMEM, "out of memory adding redacted header '%s'", name);
    if (!(v = grow_one(r->headers, r->nh, sizeof *v))) {
        free(copy);
        return LG_ERR(err, LG_ENOMEM, "out of memory adding redacted header '%s'", name);
    }
    r->headers = v;
    v[r->nh++] = copy;
    return 0;
}

int lg_redact_add_path(lg_redact *r, const char *path, const char *name, lg_err *err)
{
    struct pathrule *v;
    lg_jpath *p;
    char *ph;
    int rc;

    if (name && !name_ok(name))
        return LG_ERR(err, LG_EINPUT,
                      "redaction name '%s' for path '%s' must be 1-64 of A-Z a-z 0-9 _ -", name,
                      path);
    if ((rc = lg_jpath_compile(path, &p, err)))
        return rc;
    ph = placeholder_for(name);
    v = ph ? grow_one(r->paths, r->np, sizeof *v) : NULL;
    if (!v) {
        free(ph);
        lg_jpath_free(p);
        return LG_ERR(err, LG_ENOMEM, "out of memory adding redacted path '%s'", path);
    }
    r->paths = v;
    v[r->np].path = p;
    v[r->np].placeholder = ph;
    r->np++;
    return 0;
}

static int add_rule(lg_redact *r, const char *name, const char *regex, bool icase,
                    const char *hint, int group, lg_err *err)
{
    struct rule *v, *slot;
    regex_t re;
    regmatch_t m[1];
    char *ph;
    int rc = regcomp(&re, regex, REG_EXTENDED | (icase ? REG_ICASE : 0));

    if (rc) {
        char why[256];
        regerror(rc, &re, why, sizeof why);
        return LG_ERR(err, LG_EINPUT, "redaction pattern '%s' (%s) does not compile: %s", name,
                      regex, why);
    }
    m[0].rm_so = 0;
    m[0].rm_eo = 0;
    if (regexec(&re, "", 1, m, REG_STARTEND) == 0) {
        regfree(&re);
        return LG_ERR(err, LG_EINPUT,
                      "redaction pattern '%s' (%s) matches the empty string; make it match at "
                      "least one character",
                      name, regex);
    }
    ph = placeholder_for(name);
    v = ph ? grow_one(r->rules, r->nr, sizeof *v) : NULL;
    if (!v) {
        free(ph);
        regfree(&re);
        return LG_ERR(err, LG_ENOMEM, "out of memory adding redaction pattern '%s'", name);
    }
    r->rules = v;
    slot = &v[r->nr++];
    slot->placeholder = ph;
    slot->re = re;
    slot->hint = hint;
    slot->hint_len = hint ? strlen(hint) : 0;
    slot->group = group;
    if (hint)
        add_needle(r, hint, strlen(hint));
    return 0;
}

int lg_redact_add_pattern(lg_redact *r, const char *name, const char *regex, bool icase,
                          lg_err *err)
{
    if (!name_ok(name))
        return LG_ERR(err, LG_EINPUT, "redaction name '%s' must be 1-64 of A-Z a-z 0-9 _ -",
                      name);
    return add_rule(r, name, regex, icase, NULL, 0, err);
}

int lg_redact_add_builtin(lg_redact *r, const char *name, lg_err *err)
{
    bool found = false;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        if (strcmp(builtins[i].name, name) != 0)
            continue;
        found = true;
        int rc = add_rule(r, name, builtins[i].re, false, builtins[i].hint, builtins[i].group, err);
        if (rc)
            return rc;
    }
    if (!found) {
        const char *s = lg_suggest(name, builtin_names);
        if (s)
            return LG_ERR(err, LG_EINPUT, "unknown built-in redaction pattern '%s' (did you "
                                          "mean '%s'?)", name, s);
        return LG_ERR(err, LG_EINPUT, "unknown built-in redaction pattern '%s' (known: email, "
                                      "api_key)", name);
    }
    return 0;
}

int lg_redact_add_literal(lg_redact *r, const char *name, const void *value, size_t len,
                          lg_err *err)
{
    struct literal *arr, *slot;
    unsigned char *v;
    char *ph;

    if (!name_ok(name))
        return LG_ERR(err, LG_EINPUT, "redaction name '%s' must be 1-64 of A-Z a-z 0-9 _ -",
                      name);
    if (len < MIN_SECRET)
        return LG_ERR(err, LG_EINPUT, "secret '%s' is shorter than %d bytes; refusing to "
                                      "redact it everywhere", name, MIN_SECRET);
    v = malloc(len);
    ph = placeholder_for(name);
    arr = v && ph ? grow_one(r->lits, r->nl, sizeof *arr) : NULL;
    if (!arr) {
        free(v);
        free(ph);
        return LG_ERR(err, LG_ENOMEM, "out of memory adding secret '%s'", name);
    }
    r->lits = arr;
    slot = &arr[r->nl++];
    memcpy(v, value, len);
    for (size_t i = 0; i < len; i++)
        if (v[i] == '"' || v[i] == '\\' || v[i] == '/' || v[i] < 0x20)
            r->plain_needles = false;
    slot->value = v;
    slot->len = len;
    slot->placeholder = ph;
    add_needle(r, v, len);
    return 0;
}

bool lg_redact_header_dropped(const lg_redact *r, const char *name)
{
    for (size_t i = 0; i < sizeof fixed_headers / sizeof fixed_headers[0]; i++)
        if (strcasecmp(name, fixed_headers[i]) == 0)
            return true;
    for (size_t i = 0; r && i < r->nh; i++)
        if (strcasecmp(name, r->headers[i]) == 0)
            return true;
    return false;
}

/* ---- byte rules: literals and patterns over one text ---- */

struct scratch {
    lg_buf b[2];
    int next;  /* buffer the next stage writes into */
    lg_buf z;  /* a NUL-terminated copy for regexec, which needs one */
    /* Literals / hinted rules (first 64 of each) whose needle does not occur
     * in the whole body text; they cannot match a string copied verbatim
     * from it (one without escapes), which spares a search per string. */
    uint64_t lit_off, rule_off;
    bool use_mask; /* the current text is an unescaped part of the body */
};

/* Moves [so, eo) outward to UTF-8 character boundaries so a replacement
 * never splits a character. */
static void widen_utf8(const char *s, size_t n, size_t *so, size_t *eo)
{
    while (*so > 0 && ((unsigned char)s[*so] & 0xC0) == 0x80)
        (*so)--;
    while (*eo < n && ((unsigned char)s[*eo] & 0xC0) == 0x80)
        (*eo)++;
}

/* Where a rule or literal matches in a text: [v[2k], v[2k+1]) for k < n,
 * ascending and disjoint. */
struct spans {
    size_t *v;
    size_t n, cap;
};

static int spans_add(struct spans *sp, size_t so, size_t eo)
{
    if (sp->n == sp->cap) {
        size_t ncap = sp->cap ? sp->cap * 2 : 8;
        size_t *v = realloc(sp->v, 2 * ncap * sizeof *v);
        if (!v)
            return LG_ENOMEM;
        sp->v = v;
        sp->cap = ncap;
    }
    sp->v[2 * sp->n] = so;
    sp->v[2 * sp->n + 1] = eo;
    sp->n++;
    return 0;
}

/* The matches of a rule in s[0..n) (s NUL-terminated), widened to whole
 * UTF-8 characters, left to right, without overlap. */
static int rule_spans(const struct rule *ru, const char *s, size_t n, struct spans *sp)
{
    size_t off = 0, last = 0;
    regmatch_t m[2];
    int rc;

    while (off <= n) {
        size_t so, eo;
        m[0].rm_so = (regoff_t)off;
        m[0].rm_eo = (regoff_t)n;
        rc = regexec(&ru->re, s, (size_t)ru->group + 1, m, REG_STARTEND);
        if (rc == REG_NOMATCH)
            break;
        if (rc)
            return LG_EINTERNAL;
        so = (size_t)m[ru->group].rm_so;
        eo = (size_t)m[ru->group].rm_eo;
        if (m[ru->group].rm_so < 0) { /* group did not take part: whole match */
            so = (size_t)m[0].rm_so;
            eo = (size_t)m[0].rm_eo;
        }
        if (eo == so) { /* an empty match (e.g. a lone \b): step over it */
            off = (size_t)m[0].rm_eo + 1;
            continue;
        }
        widen_utf8(s, n, &so, &eo);
        if (so < last)
            so = last;
        if ((rc = spans_add(sp, so, eo)))
            return rc;
        last = eo;
        off = (size_t)m[0].rm_eo > eo ? (size_t)m[0].rm_eo : eo;
    }
    return 0;
}

/* The occurrences of a literal in s[0..n), left to right, without overlap. */
static int literal_spans(const struct literal *li, const char *s, size_t n, struct spans *sp)
{
    const char *p;
    size_t last = 0;
    int rc;

    while (last < n && (p = memmem(s + last, n - last, li->value, li->len))) {
        size_t so = (size_t)(p - s);
        if ((rc = spans_add(sp, so, so + li->len)))
            return rc;
        last = so + li->len;
    }
    return 0;
}

/* Replaces s[0..n) by a scratch copy with every span replaced by `ph`, and
 * points *cur / *n at it. */
static int splice_spans(const struct spans *sp, const char *ph, const char **cur, size_t *n,
                        struct scratch *sc, size_t *count)
{
    lg_buf *out = &sc->b[sc->next];
    size_t last = 0;
    int rc;

    lg_buf_reset(out);
    for (size_t k = 0; k < sp->n; k++) {
        if ((rc = lg_buf_append(out, *cur + last, sp->v[2 * k] - last)) ||
            (rc = lg_buf_append_str(out, ph)))
            return rc;
        last = sp->v[2 * k + 1];
    }
    if ((rc = lg_buf_append(out, *cur + last, *n - last)))
        return rc;
    *cur = lg_buf_cstr(out);
    *n = out->len;
    sc->next ^= 1;
    *count += sp->n;
    return 0;
}

/* One rule over cur[0..*n). When something matched, the result is written
 * into a scratch buffer and *cur / *n point at it. */
static int apply_rule(const struct rule *ru, const char **cur, size_t *n, struct scratch *sc,
                      size_t *count)
{
    struct spans sp = {0};
    int rc = rule_spans(ru, *cur, *n, &sp);
    if (!rc && sp.n)
        rc = splice_spans(&sp, ru->placeholder, cur, n, sc, count);
    free(sp.v);
    return rc;
}

static int apply_literal(const struct literal *li, const char **cur, size_t *n,
                         struct scratch *sc, size_t *count)
{
    struct spans sp = {0};
    int rc = literal_spans(li, *cur, *n, &sp);
    if (!rc && sp.n)
        rc = splice_spans(&sp, li->placeholder, cur, n, sc, count);
    free(sp.v);
    return rc;
}

/* All literals then all patterns. *count grows by the replacements made;
 * *cur and *n may point at a scratch copy even when nothing matched. */
static int redact_text(const lg_redact *r, const char **cur, size_t *n, struct scratch *sc,
                       size_t *count)
{
    int rc;
    if (*n == 0)
        return 0;
    for (size_t i = 0; i < r->nl; i++) {
        if (sc->use_mask && i < 64 && (sc->lit_off >> i & 1))
            continue;
        if ((rc = apply_literal(&r->lits[i], cur, n, sc, count)))
            return rc;
    }
    for (size_t i = 0; i < r->nr; i++) {
        const struct rule *ru = &r->rules[i];
        if (sc->use_mask && i < 64 && (sc->rule_off >> i & 1))
            continue;
        if (ru->hint && !find_bytes(*cur, *n, ru->hint, ru->hint_len))
            continue;
        /* texts from the body are not NUL-terminated; scratch buffers are */
        if (*cur != sc->b[0].data && *cur != sc->b[1].data && *cur != sc->z.data) {
            lg_buf_reset(&sc->z);
            if ((rc = lg_buf_append(&sc->z, *cur, *n)))
                return rc;
            *cur = sc->z.data;
        }
        if ((rc = apply_rule(ru, cur, n, sc, count)))
            return rc;
    }
    return 0;
}

/* ---- JSON bodies ---- */

struct marks {
    json_t **v; /* placeholder nodes put in by path rules (a reference each) */
    size_t n, cap;
};

struct path_ctx {
    const char *placeholder;
    struct marks *marks;
};

static int path_visit(json_t *value, json_t **replacement, void *ctx)
{
    struct path_ctx *pc = ctx;
    struct marks *mk = pc->marks;
    json_t *s;

    if (mk->n == mk->cap) {
        size_t ncap = mk->cap ? mk->cap * 2 : 16;
        json_t **v = realloc(mk->v, ncap * sizeof *v);
        if (!v)
            return LG_ENOMEM;
        mk->v = v;
        mk->cap = ncap;
    }
    if (!(s = json_string(pc->placeholder)))
        return LG_ENOMEM;
    mk->v[mk->n++] = json_incref(s); /* held so its address is never reused */
    *replacement = s;
    return LG_JPATH_REPLACE;
}

static int ptr_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (json_t *const *)a, y = (uintptr_t) * (json_t *const *)b;
    return x < y ? -1 : x > y;
}

static bool marked(const struct marks *mk, const json_t *v)
{
    return v && mk->n && bsearch(&v, mk->v, mk->n, sizeof *mk->v, ptr_cmp);
}

/* Walks the original JSON text alongside the parsed (path-redacted) tree and
 * writes the text with only redacted values changed, so numbers and spacing
 * stay byte for byte. Returns 1 if the text is not what the tree says
 * (the caller then re-serialises the tree). */
struct scan {
    const lg_redact *r;
    const char *s;
    size_t n, i, copied;
    lg_buf *out;
    const struct marks *mk;
    struct scratch *sc;
    size_t *count;
};

static void skip_ws(struct scan *S)
{
    while (S->i < S->n && (S->s[S->i] == ' ' || S->s[S->i] == '\t' || S->s[S->i] == '\n' ||
                           S->s[S->i] == '\r'))
        S->i++;
}

/* Span of a string token starting at S->i (the quote); sets *has_esc. */
static int string_span(struct scan *S, size_t *end, bool *has_esc)
{
    size_t i = S->i + 1;
    *has_esc = false;
    while (i < S->n && S->s[i] != '"') {
        if (S->s[i] == '\\') {
            *has_esc = true;
            i++;
        }
        i++;
    }
    if (i >= S->n)
        return 1;
    *end = i + 1;
    return 0;
}

/* Replaces the text [from, to) by `rep` in the output. */
static int splice(struct scan *S, size_t from, size_t to, const char *rep, size_t rn)
{
    int rc;
    if ((rc = lg_buf_append(S->out, S->s + S->copied, from - S->copied)) ||
        (rc = lg_buf_append(S->out, rep, rn)))
        return rc;
    S->copied = to;
    return 0;
}

static int splice_json_string(struct scan *S, size_t from, size_t to, const char *v, size_t n)
{
    json_t *js = json_stringn(v, n);
    char *enc;
    int rc;
    if (!js)
        return LG_EINTERNAL; /* not UTF-8: cannot happen after widen_utf8 */
    enc = json_dumps(js, JSON_ENCODE_ANY);
    json_decref(js);
    if (!enc)
        return LG_ENOMEM;
    rc = splice(S, from, to, enc, strlen(enc));
    free(enc);
    return rc;
}

/* Decodes a string token [from, to) (quotes included). Returns a new
 * jansson string (owned) or NULL. */
static json_t *decode_token(const char *s, size_t from, size_t to)
{
    json_error_t je;
    json_t *v = json_loadb(s + from, to - from, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (v && !json_is_string(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int scan_value(struct scan *S, json_t *node);

/* A string value; `node` is its value in the tree (kept in step with the
 * text so the tree equals a parse of the output), or NULL. */
static int scan_string(struct scan *S, json_t *node)
{
    size_t from = S->i, to;
    bool esc;
    json_t *dec = NULL;
    const char *v;
    size_t n;
    int rc;

    if (string_span(S, &to, &esc))
        return 1;
    S->i = to;
    if (esc) {
        if (!(dec = decode_token(S->s, from, to)))
            return 1;
        v = json_string_value(dec);
        n = json_string_length(dec);
    } else {
        v = S->s + from + 1;
        n = to - from - 2;
    }
    const char *cur = v;
    size_t cn = n, hits = *S->count;
    S->sc->use_mask = !esc;
    rc = redact_text(S->r, &cur, &cn, S->sc, S->count);
    if (rc == 0 && *S->count != hits) {
        rc = splice_json_string(S, from, to, cur, cn);
        if (rc == 0 && json_is_string(node) && json_string_setn(node, cur, cn))
            rc = LG_EINTERNAL;
    }
    json_decref(dec);
    return rc;
}

static int skip_value(struct scan *S)
{
    int depth = 0;
    do {
        skip_ws(S);
        if (S->i >= S->n)
            return 1;
        char c = S->s[S->i];
        if (c == '"') {
            size_t to;
            bool esc;
            if (string_span(S, &to, &esc))
                return 1;
            S->i = to;
        } else if (c == '{' || c == '[') {
            depth++;
            S->i++;
        } else if (c == '}' || c == ']') {
            depth--;
            S->i++;
        } else if (c == ',' || c == ':') {
            S->i++;
        } else {
            while (S->i < S->n && strchr("0123456789+-.eEtruefalsn", S->s[S->i]))
                S->i++;
        }
    } while (depth > 0);
    return depth < 0;
}

static int scan_value(struct scan *S, json_t *node)
{
    int rc;
    skip_ws(S);
    if (S->i >= S->n)
        return 1;
    if (marked(S->mk, node)) {
        size_t from = S->i;
        if ((rc = skip_value(S)))
            return rc;
        return splice_json_string(S, from, S->i, json_string_value(node),
                                  json_string_length(node));
    }
    char c = S->s[S->i];
    if (c == '"')
        return scan_string(S, node);
    if (c == '{') {
        S->i++;
        for (;;) {
            size_t kf, kt;
            bool esc;
            json_t *child;
            skip_ws(S);
            if (S->i < S->n && S->s[S->i] == '}') {
                S->i++;
                return 0;
            }
            if (S->i >= S->n || S->s[S->i] != '"')
                return 1;
            kf = S->i;
            if (string_span(S, &kt, &esc))
                return 1;
            S->i = kt;
            if (esc) {
                json_t *k = decode_token(S->s, kf, kt);
                if (!k)
                    return 1;
                child = json_object_getn(node, json_string_value(k), json_string_length(k));
                json_decref(k);
            } else {
                child = json_object_getn(node, S->s + kf + 1, kt - kf - 2);
            }
            skip_ws(S);
            if (S->i >= S->n || S->s[S->i] != ':')
                return 1;
            S->i++;
            if ((rc = scan_value(S, child)))
                return rc;
            skip_ws(S);
            if (S->i < S->n && S->s[S->i] == ',')
                S->i++;
        }
    }
    if (c == '[') {
        size_t idx = 0;
        S->i++;
        for (;;) {
            skip_ws(S);
            if (S->i < S->n && S->s[S->i] == ']') {
                S->i++;
                return 0;
            }
            if (S->i >= S->n)
                return 1;
            if ((rc = scan_value(S, json_array_get(node, idx++))))
                return rc;
            skip_ws(S);
            if (S->i < S->n && S->s[S->i] == ',')
                S->i++;
        }
    }
    /* number, true, false, null: copied as they are */
    size_t from = S->i;
    while (S->i < S->n && strchr("0123456789+-.eEtruefalsn", S->s[S->i]))
        S->i++;
    return S->i == from;
}

/* Byte rules on every string value of a tree (the fallback path). */
static int redact_tree(const lg_redact *r, json_t *v, struct scratch *sc, size_t *count)
{
    int rc = 0;
    if (json_is_string(v)) {
        const char *cur = json_string_value(v);
        size_t n = json_string_length(v), hits = *count;
        rc = redact_text(r, &cur, &n, sc, count);
        if (rc == 0 && *count != hits && json_string_setn(v, cur, n))
            rc = LG_EINTERNAL;
    } else if (json_is_object(v)) {
        const char *key;
        json_t *c;
        json_object_foreach(v, key, c)
        {
            if ((rc = redact_tree(r, c, sc, count)))
                break;
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v) && !rc; i++)
            rc = redact_tree(r, json_array_get(v, i), sc, count);
    }
    return rc;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return lg_buf_append((lg_buf *)data, buffer, size) ? -1 : 0;
}

/* Fills the scratch masks for a body text. */
static void set_masks(const lg_redact *r, const char *body, size_t len, struct scratch *sc)
{
    const unsigned char *b = (const unsigned char *)body;
    uint64_t lit_todo = 0, rule_todo = 0, lit_seen = 0, rule_seen = 0;

    for (size_t i = 0; i < r->nl && i < 64; i++)
        lit_todo |= (uint64_t)1 << i;
    for (size_t i = 0; i < r->nr && i < 64; i++)
        if (r->rules[i].hint)
            rule_todo |= (uint64_t)1 << i;
    const uint64_t lit_all = lit_todo, rule_all = rule_todo;
    if (__builtin_popcountll(lit_todo) + __builtin_popcountll(rule_todo) <= FEW_NEEDLES) {
        /* a few needles: one vectorised search each beats the byte loop below
         * (about 14 instructions a byte) by an order of magnitude */
        for (size_t k = 0; k < r->nl && k < 64; k++)
            if (find_bytes(b, len, r->lits[k].value, r->lits[k].len))
                lit_seen |= (uint64_t)1 << k;
        for (size_t k = 0; k < r->nr && k < 64; k++)
            if (r->rules[k].hint && find_bytes(b, len, r->rules[k].hint, r->rules[k].hint_len))
                rule_seen |= (uint64_t)1 << k;
        lit_todo = lit_seen; /* skips the loop */
        rule_todo = rule_seen;
    }
    for (size_t i = 0; i < len && (lit_seen != lit_todo || rule_seen != rule_todo); i++) {
        unsigned idx;
        if (!r->first[b[i]])
            continue; /* most bytes: one table lookup */
        idx = i + 1 < len ? (unsigned)b[i] << 8 | b[i + 1] : 0;
        if (!r->one[b[i]] && !(i + 1 < len && (r->two[idx >> 3] >> (idx & 7) & 1)))
            continue;
        /* a needle may start here: confirm each one that is still unseen */
        for (size_t k = 0; k < r->nl && k < 64; k++) {
            const struct literal *li = &r->lits[k];
            if (!(lit_seen >> k & 1) && li->len <= len - i && memcmp(b + i, li->value, li->len) == 0)
                lit_seen |= (uint64_t)1 << k;
        }
        for (size_t k = 0; k < r->nr && k < 64; k++) {
            const char *h = r->rules[k].hint;
            if (h && !(rule_seen >> k & 1) && (unsigned char)h[0] == b[i] &&
                r->rules[k].hint_len <= len - i && memcmp(b + i, h, r->rules[k].hint_len) == 0)
                rule_seen |= (uint64_t)1 << k;
        }
    }
    sc->lit_off = lit_all & ~lit_seen;
    sc->rule_off = rule_all & ~rule_seen;
}

/* True when no literal or rule can match anywhere in the body: every one is
 * masked off, and no escape in the text could spell a needle differently. */
static bool nothing_to_find(const lg_redact *r, const char *body, size_t len,
                            const struct scratch *sc)
{
    if (r->nl == 0 && r->nr == 0)
        return true;
    if (r->nl > 64 || r->nr > 64 || !r->plain_needles)
        return false;
    if (r->nl && sc->lit_off != (r->nl == 64 ? UINT64_MAX : ((uint64_t)1 << r->nl) - 1))
        return false;
    if (r->nr && sc->rule_off != (r->nr == 64 ? UINT64_MAX : ((uint64_t)1 << r->nr) - 1))
        return false;
    return len == 0 || !find_bytes(body, len, "\\u", 2);
}

/* Redacts a parsed JSON body whose text is body[0..len). */
static int redact_json(const lg_redact *r, const char *body, size_t len, json_t *root,
                       lg_buf *out, size_t *count, struct scratch *sc, lg_err *err)
{
    struct marks mk = {0};
    size_t before = out->len, hits = 0;
    int rc = 0;

    for (size_t i = 0; i < r->np; i++) {
        struct path_ctx pc = {r->paths[i].placeholder, &mk};
        size_t n = 0;
        rc = lg_jpath_apply(r->paths[i].path, root, path_visit, &pc, &n);
        if (rc) {
            rc = LG_ERR(err, rc, "cannot redact path '%s'", lg_jpath_text(r->paths[i].path));
            goto out;
        }
        hits += n;
    }
    if (mk.n)
        qsort(mk.v, mk.n, sizeof *mk.v, ptr_cmp);

    struct scan S = {r, body, len, 0, 0, out, &mk, sc, &hits};
    if (mk.n == 0 && nothing_to_find(r, body, len, sc)) {
        /* the common case: nothing to redact, the body is stored as it came */
        rc = lg_buf_append(out, body, len);
        if (rc)
            rc = LG_ERR(err, rc, "cannot redact the JSON body (%s)", lg_err_name(rc));
        goto out;
    }
    rc = scan_value(&S, root);
    if (rc == 0) {
        skip_ws(&S);
        if (S.i != S.n)
            rc = 1;
    }
    if (rc == 0)
        rc = lg_buf_append(out, body + S.copied, len - S.copied);
    if (rc == 1) {
        /* the text walk lost its way (not expected for text jansson accepted,
         * but never store an unredacted body): redact the tree and dump it */
        lg_buf_truncate(out, before);
        S.copied = 0;
        hits = mk.n;
        sc->use_mask = false;
        rc = redact_tree(r, root, sc, &hits);
        if (rc == 0 &&
            json_dump_callback(root, dump_cb, out, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
            rc = LG_ENOMEM;
    }
    if (rc < 0) {
        lg_buf_truncate(out, before);
        rc = LG_ERR(err, rc, "cannot redact the JSON body (%s)", lg_err_name(rc));
        goto out;
    }
    *count += hits;
out:
    for (size_t i = 0; i < mk.n; i++)
        json_decref(mk.v[i]);
    free(mk.v);
    return rc;
}

/* Redacts any body. With `tree` the parsed redacted JSON (or NULL for a
 * body that is not JSON) is handed back instead of freed. */
static int redact_any(const lg_redact *r, const char *body, size_t len, lg_buf *out,
                      size_t *count, struct scratch *sc, json_t **tree, lg_err *err)
{
    json_error_t je;
    json_t *root = NULL;
    int rc;

    if (tree)
        *tree = NULL;
    set_masks(r, body, len, sc);
    if (!tree && r->np == 0 && nothing_to_find(r, body, len, sc)) {
        /* nothing can match, JSON or not: no need to parse */
        if ((rc = lg_buf_append(out, body, len)))
            return LG_ERR(err, rc, "cannot copy the body (%s)", lg_err_name(rc));
        return 0;
    }
    if (len && (tree || r->np || r->nl || r->nr))
        root = json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (root) {
        rc = redact_json(r, body, len, root, out, count, sc, err);
        if (rc == 0 && tree)
            *tree = root;
        else
            json_decref(root);
        return rc;
    }
    const char *cur = body;
    size_t n = len;
    sc->use_mask = true;
    rc = redact_text(r, &cur, &n, sc, count);
    if (!rc)
        rc = lg_buf_append(out, cur, n);
    if (rc)
        return LG_ERR(err, rc, "cannot redact the body (%s)", lg_err_name(rc));
    return 0;
}

int lg_redact_body_tree(const lg_redact *r, const void *body, size_t len, lg_buf *out,
                        size_t *count, json_t **tree, lg_err *err)
{
    static const lg_redact none = {0};
    struct scratch sc = {{LG_BUF_INIT, LG_BUF_INIT}, 0, LG_BUF_INIT, 0, 0, false};
    size_t local = 0;
    int rc;

    rc = redact_any(r ? r : &none, body, len, out, &local, &sc, tree, err);
    lg_buf_release(&sc.b[0]);
    lg_buf_release(&sc.b[1]);
    lg_buf_release(&sc.z);
    if (count)
        *count = rc ? 0 : local;
    return rc;
}

bool lg_redact_body_unchanged(const lg_redact *r, const void *body, size_t len)
{
    struct scratch sc = {{LG_BUF_INIT, LG_BUF_INIT}, 0, LG_BUF_INIT, 0, 0, false};

    if (!r)
        return true;
    if (r->np)
        return false;
    /* the same test redact_any() makes before copying a body as it is */
    set_masks(r, body, len, &sc);
    return nothing_to_find(r, body, len, &sc);
}

int lg_redact_body(const lg_redact *r, const void *body, size_t len, lg_buf *out,
                   size_t *count, lg_err *err)
{
    return lg_redact_body_tree(r, body, len, out, count, NULL, err);
}

int lg_redact_sse_event(const lg_redact *r, const void *raw, size_t len, lg_buf *out,
                        size_t *count, lg_err *err)
{
    static const lg_redact none = {0};
    struct scratch sc = {{LG_BUF_INIT, LG_BUF_INIT}, 0, LG_BUF_INIT, 0, 0, false};
    const char *s = raw;
    size_t i = 0, local = 0, before = out->len;
    int rc = 0;

    if (!r)
        r = &none;
    while (i < len && rc == 0) {
        size_t end = i, next;
        while (end < len && s[end] != '\n' && s[end] != '\r')
            end++;
        next = end;
        if (next < len && s[next++] == '\r' && next < len && s[next] == '\n')
            next++;
        if (end - i >= 5 && memcmp(s + i, "data:", 5) == 0) {
            size_t v = i + 5;
            if (v < end && s[v] == ' ')
                v++;
            if ((rc = lg_buf_append(out, s + i, v - i)))
                break;
            rc = redact_any(r, s + v, end - v, out, &local, &sc, NULL, err);
            if (!rc)
                rc = lg_buf_append(out, s + end, next - end);
        } else {
            rc = lg_buf_append(out, s + i, next - i);
        }
        i = next;
    }
    lg_buf_release(&sc.b[0]);
    lg_buf_release(&sc.b[1]);
    lg_buf_release(&sc.z);
    if (rc) {
        lg_buf_truncate(out, before);
        local = 0;
        rc = LG_ERR(err, rc, "cannot redact a server-sent event (%s)", lg_err_name(rc));
    }
    if (count)
        *count = local;
    return rc;
}

/* ---- whole streams: secrets split over several events ---- */

/* One string a streamed event adds to a logical text (a delta). */
struct piece {
    size_t ev;       /* event index */
    json_t *holder;  /* the object holding the string (borrowed from the event's tree) */
    const char *key; /* its member name (static) */
    char group[160]; /* the logical field: its pieces, in order, form one text */
    size_t order;    /* position in the stream */
    lg_buf text;     /* the piece's current text */
};

struct pieces {
    struct piece *v;
    size_t n, cap;
};

struct sse_ev {
    size_t off, len;        /* the event in the stream as given */
    size_t val, val_end;    /* its single data line's value, [val, val_end) */
    json_t *root;           /* that value parsed when it is a JSON object, else NULL */
    bool dirty;             /* a piece of it changed: re-serialise */
};

static long long index_of(const json_t *o, size_t pos)
{
    const json_t *i = json_object_get(o, "index");
    return json_is_integer(i) ? (long long)json_integer_value(i) : (long long)pos;
}

static int piece_add(struct pieces *ps, size_t ev, json_t *holder, const char *key,
                     const char *group)
{
    const json_t *v = json_object_get(holder, key);
    struct piece *p;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return 0;
    if (ps->n == ps->cap) {
        size_t ncap = ps->cap ? ps->cap * 2 : 64;
        struct piece *nv = realloc(ps->v, ncap * sizeof *nv);
        if (!nv)
            return LG_ENOMEM;
        ps->v = nv;
        ps->cap = ncap;
    }
    p = &ps->v[ps->n];
    memset(p, 0, sizeof *p);
    p->ev = ev;
    p->holder = holder;
    p->key = key;
    p->order = ps->n;
    snprintf(p->group, sizeof p->group, "%s", group);
    lg_buf_init(&p->text);
    ps->n++;
    return lg_buf_append(&p->text, json_string_value(v), json_string_length(v));
}

/* The delta strings of one event: OpenAI chat completions, OpenAI
 * Responses and Anthropic messages streams. */
static int collect_pieces(struct pieces *ps, size_t ev, json_t *root)
{
    static const char *const chat_keys[] = {"content", "refusal", "reasoning_content"};
    static const char *const anth_keys[] = {"text", "partial_json", "thinking"};
    char g[160];
    int rc = 0;
    const json_t *choices = json_object_get(root, "choices");
    const char *type = json_string_value(json_object_get(root, "type"));

    for (size_t c = 0; json_is_array(choices) && c < json_array_size(choices) && !rc; c++) {
        json_t *ch = json_array_get(choices, c), *d = json_object_get(ch, "delta");
        if (!json_is_object(d))
            continue;
        long long ci = index_of(ch, c);
        for (size_t k = 0; k < 3 && !rc; k++) {
            snprintf(g, sizeof g, "chat:%lld:%s", ci, chat_keys[k]);
            rc = piece_add(ps, ev, d, chat_keys[k], g);
        }
        const json_t *tcs = json_object_get(d, "tool_calls");
        for (size_t t = 0; json_is_array(tcs) && t < json_array_size(tcs) && !rc; t++) {
            json_t *tc = json_array_get(tcs, t), *fn = json_object_get(tc, "function");
            if (!json_is_object(fn))
                continue;
            snprintf(g, sizeof g, "chat:%lld:tool:%lld", ci, index_of(tc, t));
            rc = piece_add(ps, ev, fn, "arguments", g);
        }
    }
    if (!rc && type && strcmp(type, "content_block_delta") == 0) {
        json_t *d = json_object_get(root, "delta");
        long long bi = index_of(root, 0);
        for (size_t k = 0; k < 3 && json_is_object(d) && !rc; k++) {
            snprintf(g, sizeof g, "block:%lld:%s", bi, anth_keys[k]);
            rc = piece_add(ps, ev, d, anth_keys[k], g);
        }
    }
    if (!rc && type && strncmp(type, "response.", 9) == 0 && strlen(type) > 6 &&
        strcmp(type + strlen(type) - 6, ".delta") == 0) {
        const json_t *oi = json_object_get(root, "output_index"),
                     *ci = json_object_get(root, "content_index");
        snprintf(g, sizeof g, "resp:%lld:%lld:%.120s",
                 json_is_integer(oi) ? (long long)json_integer_value(oi) : 0,
                 json_is_integer(ci) ? (long long)json_integer_value(ci) : 0, type);
        rc = piece_add(ps, ev, root, "delta", g);
    }
    return rc;
}

static int piece_cmp(const void *a, const void *b)
{
    const struct piece *x = *(struct piece *const *)a, *y = *(struct piece *const *)b;
    int c = strcmp(x->group, y->group);
    return c ? c : (x->order < y->order ? -1 : x->order > y->order);
}

/* Rewrites the pieces p[0..n) of one text, joined in `joined` at offsets
 * at[0..n], with every span replaced by `ph`: the placeholder goes where a
 * span begins, the span's other bytes leave the pieces they are in. */
static int splice_pieces(struct piece **p, size_t n, const lg_buf *joined, const size_t *at,
                         const struct spans *sp, const char *ph, struct sse_ev *evs)
{
    lg_buf nt = LG_BUF_INIT;
    int rc = 0;

    for (size_t j = 0; j < n && !rc; j++) {
        size_t a = at[j], b = at[j + 1], pos = a;
        bool touched = false;
        lg_buf_reset(&nt);
        for (size_t k = 0; k < sp->n && !rc; k++) {
            size_t so = sp->v[2 * k], eo = sp->v[2 * k + 1];
            if (eo <= a)
                continue;
            if (so >= b)
                break;
            touched = true;
            if (so > pos)
                rc = lg_buf_append(&nt, joined->data + pos, so - pos);
            if (!rc && so >= a)
                rc = lg_buf_append_str(&nt, ph);
            pos = eo < b ? eo : b;
        }
        if (!touched)
            continue;
        if (!rc && pos < b)
            rc = lg_buf_append(&nt, joined->data + pos, b - pos);
        if (!rc) {
            lg_buf_reset(&p[j]->text);
            rc = lg_buf_append(&p[j]->text, lg_buf_cstr(&nt), nt.len);
            evs[p[j]->ev].dirty = true;
        }
    }
    lg_buf_release(&nt);
    return rc;
}

/* Applies the literals and patterns to the text made of the pieces
 * p[0..n), in the order lg_redact_body uses, rewriting the pieces. */
static int redact_pieces(const lg_redact *r, struct piece **p, size_t n, struct sse_ev *evs,
                         size_t *count)
{
    lg_buf joined = LG_BUF_INIT;
    size_t *at = malloc((n + 1) * sizeof *at);
    struct spans sp = {0};
    int rc = at ? 0 : LG_ENOMEM;

    for (size_t step = 0; !rc && step < r->nl + r->nr; step++) {
        const struct literal *li = step < r->nl ? &r->lits[step] : NULL;
        const struct rule *ru = li ? NULL : &r->rules[step - r->nl];
        lg_buf_reset(&joined);
        for (size_t j = 0; j < n && !rc; j++) {
            at[j] = joined.len;
            rc = lg_buf_append(&joined, p[j]->text.data ? p[j]->text.data : "", p[j]->text.len);
        }
        at[n] = joined.len;
        if (rc || joined.len == 0)
            break;
        if (ru && ru->hint && !find_bytes(joined.data, joined.len, ru->hint, ru->hint_len))
            continue;
        sp.n = 0;
        rc = li ? literal_spans(li, joined.data, joined.len, &sp)
                : rule_spans(ru, joined.data, joined.len, &sp);
        if (!rc && sp.n) {
            rc = splice_pieces(p, n, &joined, at, &sp, li ? li->placeholder : ru->placeholder,
                               evs);
            *count += sp.n;
        }
    }
    free(sp.v);
    free(at);
    lg_buf_release(&joined);
    return rc;
}

/* Finds an event's only data line; false when it has none or several. */
static bool single_data_line(const char *s, size_t off, size_t len, size_t *val, size_t *val_end)
{
    size_t i = off, end_all = off + len;
    bool found = false;
    while (i < end_all) {
        size_t end = i, next;
        while (end < end_all && s[end] != '\n' && s[end] != '\r')
            end++;
        next = end;
        if (next < end_all && s[next++] == '\r' && next < end_all && s[next] == '\n')
            next++;
        if (end - i >= 5 && memcmp(s + i, "data:", 5) == 0) {
            if (found)
                return false;
            found = true;
            *val = i + 5 + (i + 5 < end && s[i + 5] == ' ');
            *val_end = end;
        }
        i = next;
    }
    return found;
}

int lg_redact_sse_stream(const lg_redact *r, const void *raw, size_t len, const size_t *lens,
                         size_t n, lg_buf *out, size_t *out_lens, size_t *count, lg_err *err)
{
    static const lg_redact none = {0};
    const char *s = raw;
    lg_buf ev_text = LG_BUF_INIT;
    struct sse_ev *evs = calloc(n ? n : 1, sizeof *evs);
    struct pieces ps = {0};
    struct piece **order = NULL;
    size_t local = 0, before = out->len, off = 0;
    int rc = evs ? 0 : LG_ENOMEM;

    if (!r)
        r = &none;
    for (size_t i = 0; i < n && !rc; i++) {
        if (lens[i] > len - off) {
            rc = LG_ERR(err, LG_EUSAGE, "stream: event %zu runs past the %zu bytes given", i, len);
            goto out;
        }
        evs[i].off = off;
        evs[i].len = lens[i];
        off += lens[i];
    }
    /* First the texts the deltas make together, from the bytes as they
     * came: redacting a piece on its own first could take a fragment of a
     * secret for a whole one (the tail "lerts@corp.exa" of an address is
     * one to the email pattern) and leave the rest of it behind. */
    if (!rc && r->nl + r->nr) {
        for (size_t i = 0; i < n && !rc; i++) {
            json_error_t je;
            if (!single_data_line(s, evs[i].off, evs[i].len, &evs[i].val, &evs[i].val_end))
                continue;
            evs[i].root = json_loadb(s + evs[i].val, evs[i].val_end - evs[i].val, 0, &je);
            if (evs[i].root && !json_is_object(evs[i].root)) {
                json_decref(evs[i].root);
                evs[i].root = NULL;
            }
            if (evs[i].root)
                rc = collect_pieces(&ps, i, evs[i].root);
        }
        if (!rc && ps.n && !(order = malloc(ps.n * sizeof *order)))
            rc = LG_ENOMEM;
        for (size_t j = 0; !rc && j < ps.n; j++)
            order[j] = &ps.v[j];
        if (!rc && ps.n)
            qsort(order, ps.n, sizeof *order, piece_cmp);
        for (size_t j = 0; !rc && j < ps.n;) {
            size_t k = j + 1;
            while (k < ps.n && strcmp(order[k]->group, order[j]->group) == 0)
                k++;
            rc = redact_pieces(r, order + j, k - j, evs, &local);
            j = k;
        }
        for (size_t j = 0; !rc && j < ps.n; j++) {
            struct piece *p = &ps.v[j];
            if (evs[p->ev].dirty &&
                json_object_set_new(p->holder, p->key,
                                    json_stringn(lg_buf_cstr(&p->text), p->text.len)))
                rc = LG_ENOMEM;
        }
    }
    /* Then every event on its own (secrets inside one event, anywhere in it). */
    for (size_t i = 0; i < n && !rc; i++) {
        const struct sse_ev *e = &evs[i];
        const char *text = s + e->off;
        size_t tlen = e->len, c = 0, start = out->len;
        if (e->dirty) {
            lg_buf_reset(&ev_text);
            rc = lg_buf_append(&ev_text, s + e->off, e->val - e->off);
            if (!rc && json_dump_callback(e->root, dump_cb, &ev_text, JSON_COMPACT) != 0)
                rc = LG_ENOMEM;
            if (!rc)
                rc = lg_buf_append(&ev_text, s + e->val_end, e->off + e->len - e->val_end);
            text = lg_buf_cstr(&ev_text);
            tlen = ev_text.len;
        }
        if (!rc)
            rc = lg_redact_sse_event(r, text, tlen, out, &c, err);
        local += c;
        if (!rc)
            out_lens[i] = out->len - start;
    }
    if (rc && !lg_err_isset(err))
        rc = LG_ERR(err, rc, "cannot redact a stream of %zu events (%s)", n, lg_err_name(rc));
out:
    if (rc) {
        lg_buf_truncate(out, before);
        local = 0;
    }
    for (size_t i = 0; evs && i < n; i++)
        json_decref(evs[i].root);
    for (size_t j = 0; j < ps.n; j++)
        lg_buf_release(&ps.v[j].text);
    free(ps.v);
    free(order);
    free(evs);
    lg_buf_release(&ev_text);
    if (count)
        *count = local;
    return rc;
}

int lg_redact_scrub(const void *data, size_t len, const void *secret, size_t slen,
                    const char *placeholder, lg_buf *out, size_t *count, lg_err *err)
{
    const char *s = data, *p;
    size_t last = 0, hits = 0, before = out->len, plen = strlen(placeholder);
    int rc = 0;

    if (count)
        *count = 0;
    if (slen < MIN_SECRET)
        return LG_ERR(err, LG_EINPUT, "secret to scrub is shorter than %d bytes", MIN_SECRET);
    while (last < len && (p = memmem(s + last, len - last, secret, slen))) {
        size_t so = (size_t)(p - s);
        if ((rc = lg_buf_append(out, s + last, so - last)) ||
            (rc = lg_buf_append(out, placeholder, plen)))
            break;
        hits++;
        last = so + slen;
    }
    if (!rc)
        rc = lg_buf_append(out, s + last, len - last);
    if (rc) {
        lg_buf_truncate(out, before);
        return LG_ERR(err, rc, "cannot scrub a secret from %zu bytes (%s)", len, lg_err_name(rc));
    }
    if (count)
        *count = hits;
    return 0;
}
