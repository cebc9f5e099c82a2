/* recorder/usage.c - token usage extraction (see usage.h). */
#include "usage.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

enum lg_api lg_usage_detect_api(const char *path)
{
    size_t n = strcspn(path, "?#");
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (ends_with(path, n, "/chat/completions"))
        return LG_API_OPENAI_CHAT;
    if (ends_with(path, n, "/responses"))
        return LG_API_OPENAI_RESPONSES;
    if (ends_with(path, n, "/embeddings"))
        return LG_API_OPENAI_EMBEDDINGS;
    /* OpenAI Assistants has /threads/{id}/messages: not Anthropic */
    if (ends_with(path, n, "/messages") && !strstr(path, "/threads/"))
        return LG_API_ANTHROPIC_MESSAGES;
    return LG_API_GENERIC;
}

const char *lg_api_name(enum lg_api api)
{
    switch (api) {
    case LG_API_OPENAI_CHAT: return "openai.chat";
    case LG_API_OPENAI_RESPONSES: return "openai.responses";
    case LG_API_OPENAI_EMBEDDINGS: return "openai.embeddings";
    case LG_API_ANTHROPIC_MESSAGES: return "anthropic.messages";
    default: return "generic";
    }
}

void lg_usage_init(lg_usage_meter *u, enum lg_api api)
{
    memset(u, 0, sizeof *u);
    u->api = api;
    u->priv_anthropic = api == LG_API_ANTHROPIC_MESSAGES;
}

static void set_model(char *dst, const json_t *obj)
{
    const json_t *m = json_object_get(obj, "model");
    if (json_is_string(m) && json_string_length(m) > 0)
        snprintf(dst, LG_USAGE_MODEL_MAX, "%s", json_string_value(m));
}

/* Reads a non-negative integer member; false when absent or not one. */
static bool get_count(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool get_nested(const json_t *obj, const char *outer, const char *key, int64_t *out)
{
    const json_t *o = json_object_get(obj, outer);
    return json_is_object(o) && get_count(o, key, out);
}

/* Applies one usage object; members present override earlier values. */
static bool read_usage(lg_usage_meter *u, const json_t *us)
{
    int64_t v;
    bool any = false;

    if (!json_is_object(us))
        return false;
    if (json_object_get(us, "cache_read_input_tokens") ||
        json_object_get(us, "cache_creation_input_tokens"))
        u->priv_anthropic = true;
    if (get_count(us, "prompt_tokens", &v)) {
        u->input_tokens = v;
        any = true;
    }
    if (get_count(us, "completion_tokens", &v)) {
        u->output_tokens = v;
        any = true;
    }
    if (get_count(us, "input_tokens", &v)) {
        if (u->priv_anthropic)
            u->priv_uncached = v;
        else
            u->input_tokens = v;
        any = true;
    }
    if (get_count(us, "output_tokens", &v)) {
        u->output_tokens = v;
        any = true;
    }
    if (get_count(us, "cache_read_input_tokens", &v)) {
        u->priv_cache_read = v;
        any = true;
    }
    if (get_count(us, "cache_creation_input_tokens", &v)) {
        u->priv_cache_write = v;
        any = true;
    }
    if (u->priv_anthropic) {
        u->input_tokens = u->priv_uncached + u->priv_cache_read + u->priv_cache_write;
        u->cached_input_tokens = u->priv_cache_read;
        u->cache_write_tokens = u->priv_cache_write;
    }
    if (get_nested(us, "prompt_tokens_details", "cached_tokens", &v) ||
        get_nested(us, "input_tokens_details", "cached_tokens", &v))
        u->cached_input_tokens = v;
    if (get_nested(us, "completion_tokens_details", "reasoning_tokens", &v) ||
        get_nested(us, "output_tokens_details", "reasoning_tokens", &v))
        u->reasoning_tokens = v;
    if (get_count(us, "total_tokens", &v)) {
        u->total_tokens = v;
        u->priv_total_reported = true;
        any = true;
    }
    if (!u->priv_total_reported)
        u->total_tokens = u->input_tokens + u->output_tokens;
    if (any)
        u->found = true;
    return any;
}

/* A response body or one stream event: usage at the top, or inside
 * "response" (Responses events) or "message" (Anthropic message_start). */
static bool read_object(lg_usage_meter *u, const json_t *root)
{
    bool got = false;
    const json_t *inner;

    set_model(u->model, root);
    got |= read_usage(u, json_object_get(root, "usage"));
    if (json_is_object(inner = json_object_get(root, "response"))) {
        set_model(u->model, inner);
        got |= read_usage(u, json_object_get(inner, "usage"));
    }
    if (json_is_object(inner = json_object_get(root, "message"))) {
        set_model(u->model, inner);
        got |= read_usage(u, json_object_get(inner, "usage"));
    }
    return got;
}

/*
 * A request body is large (the whole conversation) and only two top-level
 * members of it matter here, so it is scanned, not parsed: the scanner
 * checks the JSON structure (strings and their escapes, numbers, literals,
 * nesting) and builds nothing, at a few instructions a byte where a jansson
 * parse costs over a hundred. Only the values of "model" and "stream" are
 * decoded (by jansson when they hold escapes).
 */
typedef struct scan {
    const unsigned char *p, *end;
} scan;

static void sc_ws(scan *S)
{
    while (S->p < S->end && (*S->p == ' ' || *S->p == '\t' || *S->p == '\n' || *S->p == '\r'))
        S->p++;
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'f');
}

static unsigned hex4(const unsigned char *c)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char h = c[i];
        if (!is_hex(h))
            return 0x10000; /* not hex */
        v = v << 4 | (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
    }
    return v;
}

/* A string at S->p (the opening quote), checked as jansson checks it (no
 * raw control bytes, valid escapes, surrogate pairs that pair, valid
 * UTF-8). Sets *esc when it holds escapes. */
static bool sc_string(scan *S, bool *esc)
{
    const unsigned char *c = S->p + 1, *start = c, *end = S->end;
    bool high = false;
    *esc = false;
    while (c < end) {
        unsigned char b = *c;
        if (b == '"') {
            if (high && !lg_utf8_valid(start, (size_t)(c - start)))
                return false;
            S->p = c + 1;
            return true;
        }
        if (b < 0x20)
            return false;
        if (b != '\\') {
            high |= b >= 0x80;
            c++;
            continue;
        }
        *esc = true;
        if (end - c < 2)
            return false;
        b = c[1];
        if (b == 'u') {
            unsigned v = end - c >= 6 ? hex4(c + 2) : 0x10000;
            c += 6;
            if (v > 0xFFFF || (v >= 0xDC00 && v <= 0xDFFF))
                return false;
            if (v >= 0xD800 && v <= 0xDBFF) { /* a high surrogate: its low one next */
                unsigned w = end - c >= 6 && c[0] == '\\' && c[1] == 'u' ? hex4(c + 2) : 0x10000;
                if (w < 0xDC00 || w > 0xDFFF)
                    return false;
                c += 6;
            }
            continue;
        }
        if (!b || !strchr("\"\\/bfnrt", b))
            return false;
        c += 2;
    }
    return false;
}

/* jansson refuses numbers it cannot hold (an integer past long long, a
 * real that overflows a double); so does the scanner, to agree with it. */
static bool number_fits(const unsigned char *a, const unsigned char *b, bool real)
{
    char tmp[64], *copy = tmp, *end;
    size_t n = (size_t)(b - a);
    bool ok;
    if (!real && n < 19)
        return true; /* at most 18 digits always fit */
    if (n >= sizeof tmp && !(copy = malloc(n + 1)))
        return false;
    memcpy(copy, a, n);
    copy[n] = 0;
    errno = 0;
    if (real) {
        double d = strtod(copy, &end);
        ok = !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL));
    } else {
        (void)strtoll(copy, &end, 10);
        ok = errno != ERANGE;
    }
    if (copy != tmp)
        free(copy);
    return ok;
}

static bool sc_number(scan *S)
{
    const unsigned char *p = S->p;
    bool real = false;
    if (p < S->end && *p == '-')
        p++;
    if (p >= S->end || !(*p >= '0' && *p <= '9'))
        return false;
    if (*p == '0')
        p++;
    else
        while (p < S->end && *p >= '0' && *p <= '9')
            p++;
    if (p < S->end && *p == '.') {
        real = true;
        if (++p >= S->end || !(*p >= '0' && *p <= '9'))
            return false;
        while (p < S->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < S->end && (*p | 32) == 'e') {
        real = true;
        p++;
        if (p < S->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= S->end || !(*p >= '0' && *p <= '9'))
            return false;
        while (p < S->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (!number_fits(S->p, p, real))
        return false;
    S->p = p;
    return true;
}

static bool sc_word(scan *S, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(S->end - S->p) < n || memcmp(S->p, w, n) != 0)
        return false;
    S->p += n;
    return true;
}

#define SCAN_DEPTH 4096

/* Any JSON value at S->p, nested ones included (iteratively, with a stack
 * of one bit a level: 1 object, 0 array). */
static bool sc_value(scan *S)
{
    uint64_t stack[SCAN_DEPTH / 64] = {0};
    size_t depth = 0;
    bool esc;
    for (;;) {
        /* a value */
        sc_ws(S);
        if (S->p >= S->end)
            return false;
        switch (*S->p) {
        case '{':
        case '[':
            if (depth == SCAN_DEPTH)
                return false;
            if (*S->p == '{')
                stack[depth / 64] |= (uint64_t)1 << (depth % 64);
            else
                stack[depth / 64] &= ~((uint64_t)1 << (depth % 64));
            depth++;
            S->p++;
            sc_ws(S);
            if (S->p < S->end && *S->p == (stack[(depth - 1) / 64] >> ((depth - 1) % 64) & 1
                                                   ? '}' : ']')) {
                S->p++;
                depth--;
                goto after;
            }
            if (stack[(depth - 1) / 64] >> ((depth - 1) % 64) & 1)
                goto member;
            continue;
        case '"':
            if (!sc_string(S, &esc))
                return false;
            break;
        case 't':
            if (!sc_word(S, "true"))
                return false;
            break;
        case 'f':
            if (!sc_word(S, "false"))
                return false;
            break;
        case 'n':
            if (!sc_word(S, "null"))
                return false;
            break;
        default:
            if (!sc_number(S))
                return false;
            break;
        }
    after:
        /* after a value: close containers or go on with the next item */
        for (;;) {
            bool obj;
            if (depth == 0)
                return true;
            obj = stack[(depth - 1) / 64] >> ((depth - 1) % 64) & 1;
            sc_ws(S);
            if (S->p >= S->end)
                return false;
            if (*S->p == (obj ? '}' : ']')) {
                S->p++;
                depth--;
                continue;
            }
            if (*S->p != ',')
                return false;
            S->p++;
            if (obj)
                goto member;
            break; /* the next array element */
        }
        continue;
    member:
        /* "key": then the member's value */
        sc_ws(S);
        if (S->p >= S->end || *S->p != '"' || !sc_string(S, &esc))
            return false;
        sc_ws(S);
        if (S->p >= S->end || *S->p != ':')
            return false;
        S->p++;
    }
}

/* True when the string token [a, b) (quotes included) is `want`. */
static bool key_is(const unsigned char *a, const unsigned char *b, bool esc, const char *want)
{
    size_t n = strlen(want);
    if (!esc)
        return (size_t)(b - a) == n + 2 && memcmp(a + 1, want, n) == 0;
    json_t *k = json_loadb((const char *)a, (size_t)(b - a), JSON_DECODE_ANY | JSON_ALLOW_NUL,
                           NULL);
    bool eq = json_is_string(k) && json_string_length(k) == n &&
              memcmp(json_string_value(k), want, n) == 0;
    json_decref(k);
    return eq;
}

/* Sets `dst` from the string token [a, b) as set_model() would. */
static void model_from_token(char *dst, const unsigned char *a, const unsigned char *b, bool esc)
{
    if (*a != '"' || b - a <= 2)
        return; /* not a string, or "" */
    if (!esc) {
        size_t n = (size_t)(b - a) - 2;
        if (!lg_utf8_valid(a + 1, n))
            return;
        if (n >= LG_USAGE_MODEL_MAX)
            n = LG_USAGE_MODEL_MAX - 1;
        memcpy(dst, a + 1, n);
        dst[n] = 0;
        return;
    }
    json_t *m = json_loadb((const char *)a, (size_t)(b - a), JSON_DECODE_ANY | JSON_ALLOW_NUL,
                           NULL);
    if (json_is_string(m) && json_string_length(m) > 0)
        snprintf(dst, LG_USAGE_MODEL_MAX, "%s", json_string_value(m));
    json_decref(m);
}

/* A top-level member's value as found by scan_members: the token's bytes. */
typedef struct member {
    const unsigned char *v, *end; /* NULL when absent */
    bool esc;                     /* a string value with escapes */
} member;

/* Scans a JSON object and notes the values of the top-level members named
 * in names[0..n) (the last of duplicates, as a parsed object keeps).
 * False when the text is not a JSON object. */
static bool scan_members(const void *body, size_t len, const char *const *names, member *out,
                         size_t n)
{
    scan S = {body, (const unsigned char *)body + len};
    bool esc;

    memset(out, 0, n * sizeof *out);
    if (!body || !len)
        return false;
    sc_ws(&S);
    if (S.p >= S.end || *S.p++ != '{')
        return false;
    sc_ws(&S);
    if (S.p < S.end && *S.p == '}') {
        S.p++;
    } else {
        for (;;) {
            const unsigned char *k, *v;
            size_t which = n;
            bool vesc = false;
            sc_ws(&S);
            k = S.p;
            if (S.p >= S.end || *S.p != '"' || !sc_string(&S, &esc))
                return false;
            for (size_t i = 0; i < n && which == n; i++)
                if (key_is(k, S.p, esc, names[i]))
                    which = i;
            sc_ws(&S);
            if (S.p >= S.end || *S.p++ != ':')
                return false;
            sc_ws(&S);
            v = S.p;
            if (S.p < S.end && *S.p == '"') {
                if (!sc_string(&S, &vesc))
                    return false;
            } else if (!sc_value(&S)) {
                return false;
            }
            if (which < n)
                out[which] = (member){v, S.p, vesc};
            sc_ws(&S);
            if (S.p < S.end && *S.p == ',') {
                S.p++;
                continue;
            }
            if (S.p < S.end && *S.p == '}') {
                S.p++;
                break;
            }
            return false;
        }
    }
    sc_ws(&S);
    return S.p == S.end;
}

bool lg_usage_feed_request(lg_usage_meter *u, const void *body, size_t len)
{
    static const char *const names[] = {"model", "stream"};
    member m[2];

    if (!scan_members(body, len, names, m, 2))
        return false;
    if (m[0].v) {
        model_from_token(u->request_model, m[0].v, m[0].end, m[0].esc);
        if (!u->model[0])
            model_from_token(u->model, m[0].v, m[0].end, m[0].esc);
    }
    u->stream = m[1].v && m[1].v[0] == 't';
    return true;
}

/* A response body is mostly the answer (choices, content, output); usage
 * lives in a few top-level members, and only those are parsed. */
bool lg_usage_feed_body(lg_usage_meter *u, const void *body, size_t len)
{
    static const char *const names[] = {"model", "usage", "response", "message"};
    member m[4];
    json_t *root;
    bool got;

    if (!scan_members(body, len, names, m, 4))
        return false;
    if (!(root = json_object()))
        return false;
    for (size_t i = 0; i < 4; i++) {
        json_t *v;
        if (!m[i].v)
            continue;
        v = json_loadb((const char *)m[i].v, (size_t)(m[i].end - m[i].v),
                       JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (!v) { /* the scanner let through what jansson refuses */
            json_decref(root);
            return false;
        }
        json_object_set_new(root, names[i], v);
    }
    got = read_object(u, root);
    json_decref(root);
    return got;
}

bool lg_usage_feed_event(lg_usage_meter *u, const char *event, const char *data, size_t len)
{
    (void)event; /* the data's own "type" member says the same, and generic streams have none */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return false;
    return lg_usage_feed_body(u, data, len);
}
