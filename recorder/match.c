/* recorder/match.c - canonical requests, fingerprints, divergences, call matching. */
#include "match.h"
#include "jpath.h"
#include "redact.h"
#include "udiff.h"
#include "core/json.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct lg_match_config {
    lg_jpath **ignore;
    size_t n;
};

lg_match_config *lg_match_config_new(void)
{
    return calloc(1, sizeof(lg_match_config));
}

void lg_match_config_free(lg_match_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++)
        lg_jpath_free(cfg->ignore[i]);
    free(cfg->ignore);
    free(cfg);
}

int lg_match_config_ignore(lg_match_config *cfg, const char *path, lg_err *err)
{
    lg_jpath *p, **v;
    int rc = lg_jpath_compile(path, &p, err);
    if (rc)
        return rc;
    v = realloc(cfg->ignore, (cfg->n + 1) * sizeof *v);
    if (!v) {
        lg_jpath_free(p);
        return LG_ERR(err, LG_ENOMEM, "out of memory adding ignored path '%s'", path);
    }
    v[cfg->n++] = p;
    cfg->ignore = v;
    return 0;
}

size_t lg_match_config_count(const lg_match_config *cfg)
{
    return cfg ? cfg->n : 0;
}

static int delete_visit(json_t *value, json_t **replacement, void *ctx)
{
    return LG_JPATH_DELETE;
}

/* Removes the ignored paths from a parsed body (modified in place). */
static int remove_ignored(const lg_match_config *cfg, json_t *v, lg_err *err)
{
    for (size_t i = 0; cfg && i < cfg->n; i++) {
        int rc = lg_jpath_apply(cfg->ignore[i], v, delete_visit, NULL, NULL);
        if (rc)
            return LG_ERR(err, rc, "cannot remove ignored path '%s' from the request body",
                          lg_jpath_text(cfg->ignore[i]));
    }
    return 0;
}

/* Parses the body as JSON and removes ignored paths. *out is NULL (and 0
 * returned) for a body that is not JSON. */
static int parse_body(const lg_match_config *cfg, const lg_match_request *req, json_t **out,
                      lg_err *err)
{
    json_error_t je;
    json_t *v;
    int rc;

    *out = NULL;
    if (req->body_len == 0)
        return 0;
    v = json_loadb(req->body, req->body_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!v)
        return 0;
    if ((rc = remove_ignored(cfg, v, err))) {
        json_decref(v);
        return rc;
    }
    *out = v;
    return 0;
}

static int canonical_parsed(const lg_match_request *req, const json_t *body, lg_buf *out,
                            lg_err *err)
{
    int rc = lg_buf_appendf(out, "%s %s\n%s\n", req->method, req->path, body ? "json" : "raw");
    if (rc)
        return LG_ERR(err, rc, "cannot build the canonical request (%s)", lg_err_name(rc));
    if (body)
        return lg_json_dump_canonical(body, out, err);
    if ((rc = lg_buf_append(out, req->body, req->body_len)))
        return LG_ERR(err, rc, "cannot build the canonical request (%s)", lg_err_name(rc));
    return 0;
}

int lg_match_canonical(const lg_match_config *cfg, const lg_match_request *req, lg_buf *out,
                       lg_err *err)
{
    json_t *body;
    size_t before = out->len;
    int rc = parse_body(cfg, req, &body, err);
    if (rc)
        return rc;
    rc = canonical_parsed(req, body, out, err);
    if (rc)
        lg_buf_truncate(out, before);
    json_decref(body);
    return rc;
}

int lg_match_fingerprint(const lg_match_config *cfg, const lg_match_request *req,
                         lg_hash128 *fp, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    int rc = lg_match_canonical(cfg, req, &b, err);
    if (rc == 0)
        *fp = lg_hash_bytes(lg_buf_cstr(&b), b.len);
    lg_buf_release(&b);
    return rc;
}

struct lg_match_cache {
    pthread_mutex_t lock;
    size_t mask;
    uint64_t hits, misses;
    struct cache_slot {
        lg_hash128 key, fp;
        bool used;
    } slot[];
};

lg_match_cache *lg_match_cache_new(size_t slots)
{
    size_t n = 1;
    lg_match_cache *c;

    if (slots == 0)
        slots = 4096;
    if (slots > ((size_t)1 << 30))
        slots = (size_t)1 << 30;
    while (n < slots)
        n <<= 1;
    c = calloc(1, sizeof *c + n * sizeof c->slot[0]);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    c->mask = n - 1;
    return c;
}

void lg_match_cache_free(lg_match_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void lg_match_cache_stats(lg_match_cache *c, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&c->lock);
    if (hits)
        *hits = c->hits;
    if (misses)
        *misses = c->misses;
    pthread_mutex_unlock(&c->lock);
}

static lg_hash128 cache_key(const lg_match_request *req)
{
    lg_hash128 part[3] = {lg_hash_bytes(req->method, strlen(req->method)),
                          lg_hash_bytes(req->path, strlen(req->path)),
                          lg_hash_bytes(req->body_len ? req->body : "", req->body_len)};
    unsigned char b[48];
    for (int i = 0; i < 3; i++)
        lg_hash_to_bytes(part[i], b + 16 * i);
    return lg_hash_bytes(b, sizeof b);
}

static bool cache_get(lg_match_cache *c, lg_hash128 key, lg_hash128 *fp)
{
    bool hit;
    pthread_mutex_lock(&c->lock);
    const struct cache_slot *s = &c->slot[key.lo & c->mask];
    hit = s->used && lg_hash_equal(s->key, key);
    if (hit)
        *fp = s->fp;
    c->hits += hit;
    c->misses += !hit;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

static void cache_put(lg_match_cache *c, lg_hash128 key, lg_hash128 fp)
{
    pthread_mutex_lock(&c->lock);
    struct cache_slot *s = &c->slot[key.lo & c->mask];
    s->key = key;
    s->fp = fp;
    s->used = true;
    pthread_mutex_unlock(&c->lock);
}

int lg_match_prepare(const lg_redact *r, const lg_match_config *cfg, lg_match_cache *cache,
                     const lg_match_request *req, lg_buf *redacted, size_t *n_redacted,
                     lg_hash128 *fp, lg_err *err)
{
    size_t before = redacted->len, count = 0;
    lg_buf canon = LG_BUF_INIT;
    json_t *tree = NULL;
    lg_hash128 key = {0, 0};
    int rc;

    if (cache) {
        key = cache_key(req);
        if (cache_get(cache, key, fp)) {
            /* known: redaction leaves these bytes as they are */
            if ((rc = lg_buf_append(redacted, req->body, req->body_len)))
                return LG_ERR(err, rc, "cannot copy the request body (%s)", lg_err_name(rc));
            if (n_redacted)
                *n_redacted = 0;
            return 0;
        }
    }
    rc = lg_redact_body_tree(r, req->body, req->body_len, redacted, &count, &tree, err);
    if (rc)
        return rc;
    lg_match_request red = {req->method, req->path, redacted->data ? redacted->data + before : "",
                            redacted->len - before};
    if (tree && (rc = remove_ignored(cfg, tree, err)))
        goto out;
    if ((rc = canonical_parsed(&red, tree, &canon, err)))
        goto out;
    *fp = lg_hash_bytes(lg_buf_cstr(&canon), canon.len);
    if (n_redacted)
        *n_redacted = count;
    if (cache && count == 0)
        cache_put(cache, key, *fp);
out:
    if (rc)
        lg_buf_truncate(redacted, before);
    json_decref(tree);
    lg_buf_release(&canon);
    return rc;
}

/* ---- first difference ---- */

struct key {
    const char *s;
    size_t len;
    json_t *v;
};

static int key_cmp(const void *pa, const void *pb)
{
    const struct key *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

static struct key *sorted_keys(json_t *obj, size_t *n)
{
    size_t cnt = json_object_size(obj), i = 0, klen;
    struct key *k = malloc((cnt ? cnt : 1) * sizeof *k);
    const char *key;
    json_t *v;

    if (!k)
        return NULL;
    json_object_keylen_foreach(obj, key, klen, v)
    {
        k[i++] = (struct key){key, klen, v};
    }
    qsort(k, i, sizeof *k, key_cmp);
    *n = i;
    return k;
}

static bool scalar_equal(const json_t *a, const json_t *b)
{
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_INTEGER:
        return json_integer_value(a) == json_integer_value(b);
    case JSON_REAL: {
        /* the canonical dump decides: equal doubles can still print differently (-0.0) */
        char *x = json_dumps(a, JSON_ENCODE_ANY), *y = json_dumps(b, JSON_ENCODE_ANY);
        bool eq = x && y && strcmp(x, y) == 0;
        free(x);
        free(y);
        return eq;
    }
    default: /* true, false, null: the type is the value */
        return true;
    }
}

/* Finds the first difference between a and b (both non-NULL). Returns 1
 * with `path` extended and *va / *vb set (NULL for a missing side), 0 when
 * equal, or LG_ENOMEM / LG_ETOOBIG. */
static int first_diff(json_t *a, json_t *b, lg_buf *path, json_t **va, json_t **vb)
{
    int rc;

    if (json_typeof(a) != json_typeof(b))
        goto differ;
    if (json_is_object(a)) {
        size_t na, nb, i = 0, j = 0;
        struct key *ka = sorted_keys(a, &na), *kb = sorted_keys(b, &nb);
        rc = 0;
        if (!ka || !kb) {
            rc = LG_ENOMEM;
            goto obj_out;
        }
        while (i < na || j < nb) {
            int c = i == na ? 1 : j == nb ? -1 : key_cmp(&ka[i], &kb[j]);
            if (c != 0) { /* a key on one side only */
                const struct key *k = c < 0 ? &ka[i] : &kb[j];
                *va = c < 0 ? k->v : NULL;
                *vb = c < 0 ? NULL : k->v;
                rc = lg_jpath_append_key(path, k->s, k->len);
                rc = rc ? rc : 1;
                goto obj_out;
            }
            size_t mark = path->len;
            if ((rc = lg_jpath_append_key(path, ka[i].s, ka[i].len)))
                goto obj_out;
            rc = first_diff(ka[i].v, kb[j].v, path, va, vb);
            if (rc)
                goto obj_out;
            lg_buf_truncate(path, mark);
            i++;
            j++;
        }
    obj_out:
        free(ka);
        free(kb);
        return rc;
    }
    if (json_is_array(a)) {
        size_t na = json_array_size(a), nb = json_array_size(b), i;
        for (i = 0; i < na && i < nb; i++) {
            size_t mark = path->len;
            if ((rc = lg_jpath_append_index(path, i)))
                return rc;
            rc = first_diff(json_array_get(a, i), json_array_get(b, i), path, va, vb);
            if (rc)
                return rc;
            lg_buf_truncate(path, mark);
        }
        if (na == nb)
            return 0;
        *va = json_array_get(a, i); /* NULL past the end */
        *vb = json_array_get(b, i);
        if ((rc = lg_jpath_append_index(path, i)))
            return rc;
        return 1;
    }
    if (scalar_equal(a, b))
        return 0;
differ:
    *va = a;
    *vb = b;
    return 1;
}

static int display_cb(const char *buffer, size_t size, void *data)
{
    return lg_buf_append((lg_buf *)data, buffer, size) ? -1 : 0;
}

/* Pretty JSON for people: like lg_json_dump_pretty, with reals printed to
 * `prec` significant digits (15 shows 0.2 as 0.2, where the 17 digits of the
 * canonical form show 0.20000000000000001). */
static int display_json(const json_t *v, int prec, lg_buf *b, lg_err *err)
{
    size_t before = b->len;
    if (json_dump_callback(v, display_cb, b,
                           JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                               JSON_REAL_PRECISION(prec)) != 0) {
        lg_buf_truncate(b, before);
        return LG_ERR(err, LG_ENOMEM, "cannot build the divergence diff (out of memory)");
    }
    return 0;
}

/* The text shown for one side of a difference: a string's own text, else
 * pretty JSON. Nothing is appended for a missing value. */
static int side_text(const json_t *v, bool as_string, int prec, lg_buf *b, lg_err *err)
{
    if (!v)
        return 0;
    if (as_string) {
        int rc = lg_buf_append(b, json_string_value(v), json_string_length(v));
        return rc ? LG_ERR(err, rc, "cannot build the divergence diff (%s)", lg_err_name(rc)) : 0;
    }
    return display_json(v, prec, b, err);
}

/* Text of a whole request body: pretty JSON or the raw bytes; NULL if empty. */
static int body_text(const lg_match_request *req, const json_t *parsed, lg_buf *b, bool *has,
                     lg_err *err)
{
    *has = true;
    if (parsed)
        return display_json(parsed, 15, b, err);
    if (req->body_len == 0) {
        *has = false;
        return 0;
    }
    int rc = lg_buf_append(b, req->body, req->body_len);
    return rc ? LG_ERR(err, rc, "cannot build the divergence diff (%s)", lg_err_name(rc)) : 0;
}

static char *sanitized_copy(const char *s)
{
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (!c)
        return NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    c[n] = '\0';
    return c;
}

static int make_diff(const char *o, size_t ol, bool oh, const char *n, size_t nl, bool nh,
                     lg_divergence *out, lg_err *err)
{
    static const lg_udiff_opts opts = {"recorded", "incoming", 3, LG_MATCH_DIFF_MAX_LINES,
                                       LG_MATCH_DIFF_MAX_BYTES, LG_MATCH_DIFF_LINE_MAX};
    lg_buf d = LG_BUF_INIT;
    int rc = lg_udiff(oh ? o : NULL, ol, nh ? n : NULL, nl, &opts, &d);
    if (rc) {
        lg_buf_release(&d);
        return LG_ERR(err, rc, "cannot build the divergence diff (%s)", lg_err_name(rc));
    }
    out->diff = lg_buf_take(&d, NULL);
    return out->diff ? 0 : LG_ERR(err, LG_ENOMEM, "out of memory building the divergence diff");
}

void lg_divergence_init(lg_divergence *d)
{
    d->session = NULL;
    d->call = 0;
    d->recorded = -1;
    d->path = NULL;
    d->diff = NULL;
}

void lg_divergence_release(lg_divergence *d)
{
    free(d->session);
    free(d->path);
    free(d->diff);
    lg_divergence_init(d);
}

int lg_match_diff(const lg_match_config *cfg, const lg_match_request *recorded,
                  const lg_match_request *incoming, const char *session, long long call,
                  long long recorded_index, lg_divergence *out, lg_err *err)
{
    json_t *ja = NULL, *jb = NULL, *va = NULL, *vb = NULL;
    lg_buf path = LG_BUF_INIT, ta = LG_BUF_INIT, tb = LG_BUF_INIT;
    bool ha = true, hb = true;
    int rc;

    lg_divergence_release(out);
    out->call = call;
    out->recorded = recorded ? recorded_index : -1;
    if (session && !(out->session = sanitized_copy(session)))
        return LG_ERR(err, LG_ENOMEM, "out of memory building a divergence report");

    if ((rc = parse_body(cfg, incoming, &jb, err)))
        goto out;
    if (!recorded) {
        ha = false;
        rc = lg_buf_appendf(&tb, "%s %s\n", incoming->method, incoming->path);
        if (rc || (rc = lg_buf_append_str(&path, "(none)"))) {
            rc = LG_ERR(err, rc, "cannot build a divergence report (%s)", lg_err_name(rc));
            goto out;
        }
        if ((rc = body_text(incoming, jb, &tb, &hb, err)))
            goto out;
        hb = true;
        goto report;
    }
    if ((rc = parse_body(cfg, recorded, &ja, err)))
        goto out;

    if (strcmp(recorded->method, incoming->method) != 0) {
        rc = lg_buf_append_str(&path, "(method)");
        if (!rc && !(rc = lg_buf_append_str(&ta, recorded->method)))
            rc = lg_buf_append_str(&tb, incoming->method);
    } else if (strcmp(recorded->path, incoming->path) != 0) {
        rc = lg_buf_append_str(&path, "(path)");
        if (!rc && !(rc = lg_buf_append_str(&ta, recorded->path)))
            rc = lg_buf_append_str(&tb, incoming->path);
    } else if (ja && jb) {
        rc = first_diff(ja, jb, &path, &va, &vb);
        if (rc == 0)
            goto out; /* equal */
        if (rc == 1) {
            bool strs = json_is_string(va) && json_is_string(vb);
            /* a lone string shown against a missing value is shown as text too */
            if ((!va && json_is_string(vb)) || (!vb && json_is_string(va)))
                strs = true;
            if (path.len == 0)
                rc = lg_buf_append_str(&path, "(body)");
            else
                rc = 0;
            ha = va != NULL;
            hb = vb != NULL;
            if (!rc && !(rc = side_text(va, strs, 15, &ta, err)))
                rc = side_text(vb, strs, 15, &tb, err);
            if (!rc && ha && hb && ta.len == tb.len &&
                memcmp(lg_buf_cstr(&ta), lg_buf_cstr(&tb), ta.len) == 0) {
                /* reals that differ only past 15 digits: show all 17 */
                lg_buf_reset(&ta);
                lg_buf_reset(&tb);
                if (!(rc = side_text(va, strs, 17, &ta, err)))
                    rc = side_text(vb, strs, 17, &tb, err);
            }
            if (rc)
                goto out;
        }
    } else {
        if (!ja && !jb && recorded->body_len == incoming->body_len &&
            (recorded->body_len == 0 ||
             memcmp(recorded->body, incoming->body, recorded->body_len) == 0))
            goto out; /* equal raw bodies */
        rc = lg_buf_append_str(&path, "(body)");
        if (!rc && !(rc = body_text(recorded, ja, &ta, &ha, err)))
            rc = body_text(incoming, jb, &tb, &hb, err);
    }
    if (rc) {
        rc = LG_ERR(err, rc, "cannot build a divergence report (%s)", lg_err_name(rc));
        goto out;
    }
report:
    if ((rc = make_diff(lg_buf_cstr(&ta), ta.len, ha, lg_buf_cstr(&tb), tb.len, hb, out, err)))
        goto out;
    out->path = lg_buf_take(&path, NULL);
    if (!out->path)
        rc = LG_ERR(err, LG_ENOMEM, "out of memory building a divergence report");
out:
    if (rc < 0) {
        free(out->diff);
        out->diff = NULL;
    }
    json_decref(ja);
    json_decref(jb);
    lg_buf_release(&path);
    lg_buf_release(&ta);
    lg_buf_release(&tb);
    return rc < 0 ? rc : 0;
}

int lg_divergence_message(const lg_divergence *d, lg_buf *out)
{
    size_t before = out->len;
    int rc = 0;

    if (!d->path)
        return 0;
    if (d->session)
        rc = lg_buf_appendf(out, "session %s, ", d->session);
    if (!rc)
        rc = lg_buf_appendf(out, "call %lld: ", d->call);
    if (!rc) {
        if (d->recorded < 0)
            rc = lg_buf_append_str(out, "request is not in the recording (no recorded call "
                                        "left to match)\n");
        else if (d->recorded != d->call)
            rc = lg_buf_appendf(out, "request differs from recorded call %lld at %s\n",
                                d->recorded, d->path);
        else
            rc = lg_buf_appendf(out, "request differs from the recording at %s\n", d->path);
    }
    if (!rc && d->diff)
        rc = lg_buf_append_str(out, d->diff);
    if (rc)
        lg_buf_truncate(out, before);
    return rc;
}

int lg_divergence_error_body(const lg_divergence *d, lg_buf *out, lg_err *err)
{
    lg_buf msg = LG_BUF_INIT;
    json_t *e = json_object(), *top = json_object();
    int rc = lg_divergence_message(d, &msg);

    if (rc) {
        rc = LG_ERR(err, rc, "cannot build the divergence error body (%s)", lg_err_name(rc));
        goto out;
    }
    if (!e || !top ||
        json_object_set_new(e, "type", json_string("loopgate_divergence")) ||
        json_object_set_new(e, "message", json_string(lg_buf_cstr(&msg))) ||
        json_object_set_new(e, "session", d->session ? json_string(d->session) : json_null()) ||
        json_object_set_new(e, "call", json_integer(d->call)) ||
        json_object_set_new(e, "recorded_call",
                            d->recorded >= 0 ? json_integer(d->recorded) : json_null()) ||
        json_object_set_new(e, "path", d->path ? json_string(d->path) : json_null()) ||
        json_object_set_new(e, "diff", d->diff ? json_string(d->diff) : json_null()) ||
        json_object_set(top, "error", e) || json_object_set_new(top, "type", json_string("error"))) {
        rc = LG_ERR(err, LG_ENOMEM, "cannot build the divergence error body (out of memory or "
                                    "text that is not UTF-8)");
        goto out;
    }
    rc = lg_json_dump_canonical(top, out, err);
out:
    json_decref(e);
    json_decref(top);
    lg_buf_release(&msg);
    return rc;
}

/* ---- replay call matching ---- */

enum lg_match_pick lg_match_take_call(const lg_hash128 *recorded, size_t n,
                                      unsigned char *consumed, size_t call, lg_hash128 fp,
                                      size_t *index)
{
    size_t i, best = SIZE_MAX;

    if (call < n && !lg_match_bit(consumed, call) && lg_hash_equal(recorded[call], fp)) {
        lg_match_bit_set(consumed, call);
        *index = call;
        return LG_MATCH_IN_ORDER;
    }
    for (i = 0; i < n; i++) {
        if (!lg_match_bit(consumed, i) && lg_hash_equal(recorded[i], fp)) {
            lg_match_bit_set(consumed, i);
            *index = i;
            return LG_MATCH_BY_FINGERPRINT;
        }
    }
    if (call < n && !lg_match_bit(consumed, call)) {
        best = call;
    } else {
        size_t bestd = SIZE_MAX;
        for (i = 0; i < n; i++) {
            size_t dist = i > call ? i - call : call - i;
            if (!lg_match_bit(consumed, i) && dist < bestd) {
                best = i;
                bestd = dist;
            }
        }
    }
    *index = best;
    return LG_MATCH_DIVERGED;
}

size_t lg_match_unused(const unsigned char *consumed, size_t n, size_t *out, size_t max)
{
    size_t cnt = 0;
    for (size_t i = 0; i < n; i++) {
        if (lg_match_bit(consumed, i))
            continue;
        if (cnt < max)
            out[cnt] = i;
        cnt++;
    }
    return cnt;
}

int lg_match_unused_message(const char *session, const unsigned char *consumed, size_t n,
                            lg_buf *out)
{
    size_t idx[20], total = lg_match_unused(consumed, n, idx, 20), before = out->len;
    size_t shown = total < 20 ? total : 20;
    int rc = 0;

    if (total == 0)
        return 0;
    if (session)
        rc = lg_buf_appendf(out, "session %s: ", session);
    if (!rc)
        rc = lg_buf_appendf(out, total == 1 ? "%zu recorded call was never requested: "
                                            : "%zu recorded calls were never requested: ",
                            total);
    for (size_t i = 0; i < shown && !rc; i++)
        rc = lg_buf_appendf(out, i ? ", %zu" : "%zu", idx[i]);
    if (!rc && total > shown)
        rc = lg_buf_appendf(out, ", ... (%zu more)", total - shown);
    if (!rc)
        rc = lg_buf_append_byte(out, '\n');
    if (rc)
        lg_buf_truncate(out, before);
    return rc;
}
