/*
 * recorder/store.c - the trace store. See store.h for the contract and
 * docs/trace-format.md for the file format.
 *
 * Structure:
 *   conn      one SQLite connection with its prepared statements
 *   pool      idle read connections; the writer connection is separate
 *   dicts     trained dictionaries, loaded once and kept until close
 *   writer    a session in memory: copied events and deduplicated bodies
 *   commit    phase A (no lock): find existing bodies, compress the rest;
 *             phase B (writer lock, one transaction): insert and commit
 *   reader    a session's events; bodies decoded on demand and cached
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "lg_version.h"
#include "recorder/codec.h"

#define MAX_DEPTH (LG_STORE_KEYFRAME_INTERVAL - 1)
#define POOL_MAX 8
#ifndef PAGE_SIZE
#define PAGE_SIZE 4096
#endif
#define LG_STR_(x) #x
#define LG_STR(x) LG_STR_(x)
#define BUSY_TIMEOUT_MS 30000
/* Dictionary training: the size of the dictionary, how much of each body
 * serves as a sample, and the most sample bytes fed to the trainer. */
#ifndef DICT_SIZE
#define DICT_SIZE (16 * 1024)
#endif
#define DICT_SAMPLE_MAX (4 * 1024)
#define DICT_TRAIN_MAX (2 * 1024 * 1024)
/* After the first dictionary, files smaller than this are vacuumed. */
#define VACUUM_MAX (8 << 20)
#define RECODE_MAX 4096        /* bodies recoded with the first dictionary at most */
#define RECENT_MAX (1 << 15) /* blobs remembered by `recent` before it starts over */
/* A decoded-body cache larger than this is emptied (compact, training). */
#define CACHE_SOFT_MAX ((size_t)64 << 20)

/* ---- small helpers ------------------------------------------------------ */

static char *xstrdup(const char *s)
{
    size_t n;
    char *p;
    if (!s)
        return NULL;
    n = strlen(s);
    p = malloc(n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

/* Grows an array to hold `need` items of `size` bytes. 0 or LG_ENOMEM. */
static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
    size_t ncap;
    void *p;
    if (need <= *cap)
        return 0;
    ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    if (ncap > SIZE_MAX / size)
        return LG_ENOMEM;
    p = realloc(*arr, ncap * size);
    if (!p)
        return LG_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int put_varint(lg_buf *b, uint64_t v)
{
    unsigned char tmp[10];
    size_t n = 0;
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        tmp[n++] = c | (v ? 0x80 : 0);
    } while (v);
    return lg_buf_append(b, tmp, n);
}

static bool get_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* Map from int64 keys (> 0) to pointers, open addressing. */
typedef struct i64map {
    int64_t *keys;
    void **vals;
    size_t cap, n;
} i64map;

static size_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x;
}

static void *i64map_get(const i64map *m, int64_t key)
{
    if (!m->cap)
        return NULL;
    for (size_t i = mix64((uint64_t)key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == 0)
            return NULL;
        if (m->keys[i] == key)
            return m->vals[i];
    }
}

static int i64map_put(i64map *m, int64_t key, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        int64_t *k = calloc(ncap, sizeof *k);
        void **v = calloc(ncap, sizeof *v);
        if (!k || !v) {
            free(k);
            free(v);
            return LG_ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->keys[i])
                continue;
            size_t j = mix64((uint64_t)m->keys[i]) & (ncap - 1);
            while (k[j])
                j = (j + 1) & (ncap - 1);
            k[j] = m->keys[i];
            v[j] = m->vals[i];
        }
        free(m->keys);
        free(m->vals);
        m->keys = k;
        m->vals = v;
        m->cap = ncap;
    }
    size_t i = mix64((uint64_t)key) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

/* Decoded bodies by blob id. */
typedef struct bent {
    char *data; /* NUL-terminated */
    size_t len;
} bent;

typedef struct bcache {
    i64map map;
    size_t bytes;
} bcache;

static void bcache_clear(bcache *c)
{
    for (size_t i = 0; i < c->map.cap; i++) {
        bent *e = c->map.vals[i];
        if (c->map.keys[i] && e) {
            free(e->data);
            free(e);
        }
    }
    free(c->map.keys);
    free(c->map.vals);
    memset(c, 0, sizeof *c);
}

/* ---- blobs added lately (writer side) --------------------------------------- */

typedef struct recent_ent {
    lg_hash128 hash;
    int64_t id; /* blobs.id; 0 for an empty slot */
    int depth;
} recent_ent;

typedef struct recent {
    recent_ent *slots; /* open addressing; cap is a power of two */
    size_t n, cap;
} recent;

static void recent_clear(recent *r)
{
    if (r->slots)
        memset(r->slots, 0, r->cap * sizeof *r->slots);
    r->n = 0;
}

static const recent_ent *recent_get(const recent *r, lg_hash128 h)
{
    if (!r->n)
        return NULL;
    for (size_t j = (size_t)h.lo & (r->cap - 1); r->slots[j].id; j = (j + 1) & (r->cap - 1))
        if (lg_hash_equal(r->slots[j].hash, h))
            return &r->slots[j];
    return NULL;
}

/* Adds a blob; LG_ENOMEM leaves `r` as it was. */
static int recent_put(recent *r, lg_hash128 h, int64_t id, int depth)
{
    size_t j;

    if ((r->n + 1) * 2 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        recent_ent *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return LG_ENOMEM;
        for (size_t i = 0; i < r->cap; i++) {
            if (!r->slots[i].id)
                continue;
            for (j = (size_t)r->slots[i].hash.lo & (cap - 1); slots[j].id; j = (j + 1) & (cap - 1))
                ;
            slots[j] = r->slots[i];
        }
        free(r->slots);
        r->slots = slots;
        r->cap = cap;
    }
    for (j = (size_t)h.lo & (r->cap - 1); r->slots[j].id; j = (j + 1) & (r->cap - 1))
        if (lg_hash_equal(r->slots[j].hash, h))
            return 0;
    r->slots[j] = (recent_ent){h, id, depth};
    r->n++;
    return 0;
}

/* ---- deltas ----------------------------------------------------------------- */

/*
 * A delta (blobs.codec 3) codes request k against request k-1 (its base)
 * and response k-1 (base2). Requests of a conversation share a long start
 * and end, so those are two lengths, and only the middle goes through zstd,
 * with a reference prefix made of the end of the shared start (at most
 * DELTA_WINDOW bytes) followed by response k-1, which usually holds the
 * assistant message the new request repeats:
 *   data := P:varint S:varint kind:u8 middle
 *   raw  == base[0, P) || decode(middle) || base[len - S, len)
 * kind is LG_CODEC_RAW or LG_CODEC_PREFIX (LG_CODEC_ZSTD when the prefix is
 * empty). Only the middle is compressed, so the cost of a delta does not
 * grow with the length of the conversation.
 */
#define DELTA_WINDOW (32 * 1024)

/* The reference prefix for a middle: the last bytes of the shared start,
 * then base2. */
static int delta_prefix(const char *base, size_t p, const char *base2, size_t b2len, lg_buf *pre)
{
    size_t w = p < DELTA_WINDOW ? p : DELTA_WINDOW;
    if (lg_buf_append(pre, base + p - w, w) || (b2len && lg_buf_append(pre, base2, b2len)))
        return LG_ENOMEM;
    return 0;
}

/* Appends the delta of src against base/base2 to out. */
static int delta_encode(lg_codec *cd, int level, const char *src, size_t n, const char *base,
                        size_t blen, const char *base2, size_t b2len, lg_buf *out, lg_err *err)
{
    size_t p = 0, q = 0, lim = n < blen ? n : blen;
    lg_buf *pre = lg_codec_scratch(cd);
    int rc, kind;

    while (p + 8 <= lim && !memcmp(src + p, base + p, 8))
        p += 8;
    while (p < lim && src[p] == base[p])
        p++;
    size_t at, before = out->len;
    while (q + 8 <= lim - p && !memcmp(src + n - q - 8, base + blen - q - 8, 8))
        q += 8;
    while (q < lim - p && src[n - 1 - q] == base[blen - 1 - q])
        q++;
    lg_buf_reset(pre);
    if (delta_prefix(base, p, base2, b2len, pre) || put_varint(out, p) || put_varint(out, q) ||
        lg_buf_append_byte(out, 0)) {
        lg_buf_truncate(out, before);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    at = out->len - 1; /* the kind byte, known once the middle is coded */
    rc = lg_codec_compress(cd, level, src + p, n - p - q, NULL, pre->data, pre->len, out, &kind,
                           err);
    if (rc) {
        lg_buf_truncate(out, before);
        return rc;
    }
    out->data[at] = (char)kind;
    return 0;
}

/* Decodes a delta into out (exactly raw_len bytes). */
static int delta_decode(lg_codec *cd, const char *data, size_t len, size_t raw_len,
                        const char *base, size_t blen, const char *base2, size_t b2len,
                        lg_buf *out, lg_err *err)
{
    const unsigned char *p = (const unsigned char *)data, *end = p + len;
    uint64_t pre_len, suf_len;
    lg_buf *pre = lg_codec_scratch(cd);
    size_t before = out->len, mid;
    int kind, rc;

    if (!get_varint(&p, end, &pre_len) || !get_varint(&p, end, &suf_len) || p >= end ||
        pre_len > blen || suf_len > blen - pre_len || pre_len + suf_len > raw_len)
        return LG_ERR(err, LG_EINPUT, "corrupt delta header");
    kind = *p++;
    mid = raw_len - (size_t)pre_len - (size_t)suf_len;
    lg_buf_reset(pre);
    if (lg_buf_append(out, base, (size_t)pre_len) ||
        delta_prefix(base, (size_t)pre_len, base2, b2len, pre)) {
        lg_buf_truncate(out, before);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    rc = lg_codec_decompress(cd, kind, p, (size_t)(end - p), mid, NULL, pre->data, pre->len, out,
                             err);
    if (!rc && lg_buf_append(out, base + blen - suf_len, (size_t)suf_len))
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    if (rc)
        lg_buf_truncate(out, before);
    return rc;
}

/* ---- packed events -------------------------------------------------------- */

/*
 * A session's events are one record (sessions.events): a session is written
 * once and read whole, and one record costs a fraction of one SQLite row per
 * event. Layout (all integers LEB128 varints, signed ones zigzag):
 *   pack   := codec:u8 (0 raw, 1 zstd) [raw_len if zstd] body
 *   body   := n:varint event*n
 *   event  := kind:u8 dt:zigzag(t_us - previous t_us) flags:u8
 *             [endpoint]           model
 *             [fp:16 bytes]        flags & F_FP (else: the request body's hash)
 *             [in] [out] [aux]     flags & F_IN/F_OUT/F_AUX: zigzag(id - previous id)
 *             [status:zigzag]      flags & F_STATUS
 *             [dur]                flags & F_DUR
 *             [in+1 out+1 cached+1] model (0 = unknown)
 *             [len chunks]         flags & F_CHUNKS
 *             [len info]           flags & F_INFO
 */
enum {
    F_IN = 1, F_OUT = 2, F_AUX = 4, F_FP = 8, F_STATUS = 16, F_DUR = 32, F_CHUNKS = 64,
    F_INFO = 128,
};

typedef struct erec {
    int kind;
    uint64_t t_us;
    int64_t endpoint;
    bool has_fp;
    unsigned char fp[16];
    int64_t body[3]; /* blob ids, 0 for none */
    bool has_status;
    int64_t status;
    bool has_dur;
    uint64_t dur;
    lg_usage usage;
    const char *chunks;
    size_t chunks_len;
    const char *info;
    size_t info_len;
} erec;

typedef struct packer {
    lg_buf buf;
    uint64_t prev_t;
    int64_t prev_id;
    size_t n;
} packer;

static uint64_t zz(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzz(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static int pack_event(packer *pk, const erec *e)
{
    lg_buf *b = &pk->buf;
    unsigned flags = (e->body[0] ? F_IN : 0) | (e->body[1] ? F_OUT : 0) |
                     (e->body[2] ? F_AUX : 0) | (e->has_fp ? F_FP : 0) |
                     (e->has_status ? F_STATUS : 0) | (e->has_dur ? F_DUR : 0) |
                     (e->chunks_len ? F_CHUNKS : 0) | (e->info ? F_INFO : 0);
    int rc = lg_buf_append_byte(b, (char)e->kind);
    if (!rc)
        rc = put_varint(b, zz((int64_t)(e->t_us - pk->prev_t)));
    if (!rc)
        rc = lg_buf_append_byte(b, (char)flags);
    if (!rc && e->kind == LG_EVENT_MODEL)
        rc = put_varint(b, (uint64_t)e->endpoint);
    if (!rc && e->has_fp)
        rc = lg_buf_append(b, e->fp, 16);
    for (int k = 0; k < 3 && !rc; k++) {
        if (!e->body[k])
            continue;
        rc = put_varint(b, zz(e->body[k] - pk->prev_id));
        pk->prev_id = e->body[k];
    }
    if (!rc && e->has_status)
        rc = put_varint(b, zz(e->status));
    if (!rc && e->has_dur)
        rc = put_varint(b, e->dur);
    if (!rc && e->kind == LG_EVENT_MODEL) {
        rc = put_varint(b, (uint64_t)(e->usage.in + 1));
        if (!rc)
            rc = put_varint(b, (uint64_t)(e->usage.out + 1));
        if (!rc)
            rc = put_varint(b, (uint64_t)(e->usage.cached + 1));
    }
    if (!rc && e->chunks_len && !(rc = put_varint(b, e->chunks_len)))
        rc = lg_buf_append(b, e->chunks, e->chunks_len);
    if (!rc && e->info && !(rc = put_varint(b, e->info_len)))
        rc = lg_buf_append(b, e->info, e->info_len);
    pk->prev_t = e->t_us;
    pk->n++;
    return rc;
}

/* The finished record: count in front, compressed when that saves. */
static int pack_finish(packer *pk, lg_codec *cd, lg_buf *out, lg_err *err)
{
    lg_buf body = LG_BUF_INIT, z = LG_BUF_INIT;
    int rc, kind = LG_CODEC_RAW;

    if ((rc = put_varint(&body, pk->n)) ||
        (rc = lg_buf_append(&body, pk->buf.data ? pk->buf.data : "", pk->buf.len))) {
        rc = LG_ERR(err, rc, "out of memory packing events");
        goto out;
    }
    if ((rc = lg_codec_compress(cd, LG_CODEC_LEVEL_FAST, body.data, body.len, NULL, NULL, 0, &z,
                                &kind, err)))
        goto out;
    if (kind == LG_CODEC_ZSTD)
        rc = lg_buf_append_byte(out, 1) || put_varint(out, body.len) ||
             lg_buf_append(out, z.data, z.len);
    else
        rc = lg_buf_append_byte(out, 0) || lg_buf_append(out, body.data, body.len);
    if (rc)
        rc = LG_ERR(err, LG_ENOMEM, "out of memory packing events");
out:
    lg_buf_release(&body);
    lg_buf_release(&z);
    return rc;
}

/* Reader side: the record decompressed; events come out one at a time. */
typedef struct unpacker {
    lg_buf raw;
    const unsigned char *p, *end;
    uint64_t n, prev_t;
    int64_t prev_id;
} unpacker;

static int unpack_begin(unpacker *u, lg_codec *cd, const void *data, size_t len, lg_err *err)
{
    const unsigned char *p = data, *end = p + len;
    uint64_t raw_len;
    int rc;

    memset(u, 0, sizeof *u);
    lg_buf_init(&u->raw);
    if (len == 0)
        return LG_ERR(err, LG_EINPUT, "event record is empty");
    if (p[0] == 0) {
        rc = lg_buf_append(&u->raw, p + 1, len - 1);
    } else if (p[0] == 1) {
        p++;
        if (!get_varint(&p, end, &raw_len) || raw_len > (1u << 30))
            return LG_ERR(err, LG_EINPUT, "event record is corrupt");
        rc = lg_codec_decompress(cd, LG_CODEC_ZSTD, p, (size_t)(end - p), (size_t)raw_len, NULL,
                                 NULL, 0, &u->raw, err);
        if (rc)
            return rc;
    } else {
        return LG_ERR(err, LG_EINPUT, "event record is corrupt (coding %d)", p[0]);
    }
    if (rc)
        return LG_ERR(err, rc, "out of memory");
    u->p = (const unsigned char *)(u->raw.data ? u->raw.data : "");
    u->end = u->p + u->raw.len;
    if (!get_varint(&u->p, u->end, &u->n) || u->n > u->raw.len)
        return LG_ERR(err, LG_EINPUT, "event record is corrupt");
    return 0;
}

static bool get_bytes(const unsigned char **p, const unsigned char *end, const char **out,
                      size_t *len)
{
    uint64_t n;
    if (!get_varint(p, end, &n) || n > (uint64_t)(end - *p))
        return false;
    *out = (const char *)*p;
    *len = (size_t)n;
    *p += n;
    return true;
}

/* Next event; false when the record is corrupt. */
static bool unpack_event(unpacker *u, erec *e)
{
    const unsigned char **p = &u->p, *end = u->end;
    uint64_t v, flags;

    memset(e, 0, sizeof *e);
    if (*p >= end)
        return false;
    e->kind = *(*p)++;
    if (!get_varint(p, end, &v) || *p >= end)
        return false;
    e->t_us = u->prev_t + (uint64_t)unzz(v);
    u->prev_t = e->t_us;
    flags = *(*p)++;
    if (e->kind == LG_EVENT_MODEL) {
        if (!get_varint(p, end, &v))
            return false;
        e->endpoint = (int64_t)v;
    }
    if (flags & F_FP) {
        if (end - *p < 16)
            return false;
        memcpy(e->fp, *p, 16);
        e->has_fp = true;
        *p += 16;
    }
    for (int k = 0; k < 3; k++) {
        if (!(flags & (unsigned)(F_IN << k)))
            continue;
        if (!get_varint(p, end, &v))
            return false;
        e->body[k] = u->prev_id + unzz(v);
        u->prev_id = e->body[k];
        if (e->body[k] <= 0)
            return false;
    }
    if (flags & F_STATUS) {
        if (!get_varint(p, end, &v))
            return false;
        e->has_status = true;
        e->status = unzz(v);
    }
    if (flags & F_DUR) {
        if (!get_varint(p, end, &e->dur))
            return false;
        e->has_dur = true;
    }
    e->usage = LG_USAGE_UNKNOWN;
    if (e->kind == LG_EVENT_MODEL) {
        uint64_t a, b, c;
        if (!get_varint(p, end, &a) || !get_varint(p, end, &b) || !get_varint(p, end, &c))
            return false;
        e->usage.in = (int64_t)a - 1;
        e->usage.out = (int64_t)b - 1;
        e->usage.cached = (int64_t)c - 1;
    }
    if ((flags & F_CHUNKS) && !get_bytes(p, end, &e->chunks, &e->chunks_len))
        return false;
    if ((flags & F_INFO) && !get_bytes(p, end, &e->info, &e->info_len))
        return false;
    return e->kind >= LG_EVENT_KIND_MIN && e->kind <= LG_EVENT_KIND_MAX;
}

/* ---- connections and statements ---------------------------------------- */

enum {
    S_BLOB_LOOKUP,
    S_BLOB_INSERT,
    S_BLOB_GET,
    S_EP_LOOKUP,
    S_EP_INSERT,
    S_EP_GET,
    S_SESS_FIND,
    S_SESS_DEL,
    S_SESS_INSERT,
    S_SESS_GET,
    S_DICT_GET,
    S_DICT_EXISTS,
    S_BLOB_RANGE,
    S_BEGIN,
    S_COMMIT,
    S_DATA_VERSION,
    S_COUNT
};

#define SESSION_COLS                                                                       \
    "id, key, run, suite, case_index, trial, started_ms, committed_ms, n_events, n_calls, " \
    "n_tools, n_iterations, tokens_in, tokens_out, tokens_cached, latency_us, reason, "     \
    "converged, error"

static const char *const stmt_sql[S_COUNT] = {
    [S_BLOB_LOOKUP] = "SELECT id, depth, hash FROM blobs WHERE substr(hash, 1, 8) = ?1",
    [S_BLOB_INSERT] = "INSERT INTO blobs(hash, raw_len, codec, dict, base, base2, depth, data) "
                      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_BLOB_GET] = "SELECT hash, raw_len, codec, dict, base, base2, data FROM blobs WHERE id = ?1",
    [S_EP_LOOKUP] = "SELECT id FROM endpoints WHERE provider = ?1 AND method = ?2 AND path = ?3 "
                    "AND model = ?4",
    [S_EP_INSERT] = "INSERT INTO endpoints(provider, method, path, model) VALUES(?1, ?2, ?3, ?4)",
    [S_EP_GET] = "SELECT provider, method, path, model FROM endpoints WHERE id = ?1",
    [S_SESS_FIND] = "SELECT id FROM sessions WHERE key = ?1",
    [S_SESS_DEL] = "DELETE FROM sessions WHERE id = ?1",
    [S_SESS_INSERT] =
        "INSERT INTO sessions(key, run, suite, case_index, trial, started_ms, committed_ms, "
        "n_events, n_calls, n_tools, n_iterations, tokens_in, tokens_out, tokens_cached, "
        "latency_us, reason, converged, error, events) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19)",
    [S_SESS_GET] = "SELECT " SESSION_COLS ", events FROM sessions WHERE id = ?1",
    [S_DICT_GET] = "SELECT data FROM dicts WHERE id = ?1",
    [S_DICT_EXISTS] = "SELECT count(*) FROM dicts WHERE id = ?1",
    [S_BLOB_RANGE] = "SELECT hash, raw_len, codec, dict, base, base2, data, id FROM blobs "
                     "WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
    [S_BEGIN] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_DATA_VERSION] = "PRAGMA data_version",
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[S_COUNT];
} conn;

typedef struct ep {
    char *provider, *method, *path, *model; /* model NULL when empty */
} ep;

struct lg_store {
    char *path;
    int mode;
    int file_format;
    bool memory;    /* read mode on a migrated in-memory copy: one connection */
    char *read_uri; /* how to open more read connections */
    int read_flags;

    pthread_mutex_t wlock; /* held for a whole write transaction */
    conn *w;               /* the writer connection (write mode) */
    /* Commits through `w` and the blobs they added, so that a commit need
     * not look up again, under the lock, the bodies its unlocked look-up
     * (phase A) did not find: `recent` holds every blob added by commits
     * recent_from + 1 .. commit_seq, and a session whose look-up saw
     * commit_seq >= recent_from misses nothing by asking it instead.
     * data_version (on `w`) tells when another connection wrote. Under
     * wlock, except commit_seq, which phase A reads without it. */
    _Atomic uint64_t commit_seq;
    uint64_t recent_from;
    int64_t data_version;
    bool dv_known;
    struct recent *recent;
    bool wal_set;          /* we put the file in WAL mode: undo at close */

    pthread_mutex_t mu; /* pool, dictionaries, endpoints, codecs, counters */
    pthread_cond_t pcond;
    conn *idle[POOL_MAX];
    size_t nidle, nopen, maxopen;

    lg_dict **dicts; /* every dictionary loaded, freed at close */
    size_t ndicts, cdicts;
    lg_dict *cur; /* newest: used for new bodies */

    ep **eps; /* by endpoint id (read side) */
    size_t ceps;

    lg_codec *codecs[POOL_MAX * 2];
    size_t ncodecs;

    int level, delta_level;
    size_t dict_min_samples, dict_min_bytes;
    uint64_t samples_n, samples_bytes; /* standalone bodies, for training */
    bool training;                     /* a thread is training the dictionary */

    lg_store_fault_fn fault;
    void *fault_ctx;
};

/* Turns an SQLite failure into an lg_err naming the file and the fix. */
static int db_fail(lg_store *st, sqlite3 *db, int rc, const char *what, lg_err *err)
{
    const char *path = st ? st->path : "trace";
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
        return LG_ERR(err, LG_EINPUT,
                      "%s: file is corrupt (%s, while %s); restore it from version control or "
                      "record it again",
                      path, msg, what);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LG_ERR(err, LG_EIO,
                      "%s: locked by another process for more than %d s (while %s); retry when "
                      "it is done",
                      path, BUSY_TIMEOUT_MS / 1000, what);
    case SQLITE_NOMEM:
        return LG_ERR(err, LG_ENOMEM, "%s: out of memory while %s", path, what);
    case SQLITE_FULL:
        return LG_ERR(err, LG_EIO, "%s: disk full while %s; free some space and retry", path,
                      what);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_AUTH:
        return LG_ERR(err, LG_EIO, "%s: cannot %s (%s); check the file's permissions and disk",
                      path, what, msg);
    default:
        return LG_ERR(err, LG_EINTERNAL, "%s: sqlite error while %s: %s", path, what, msg);
    }
}

static void conn_close(conn *c)
{
    if (!c)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(c->st[i]);
    sqlite3_close_v2(c->db);
    free(c);
}

/* The prepared statement `which`, reset and unbound, or NULL with err set. */
static sqlite3_stmt *stmt(lg_store *st, conn *c, int which, lg_err *err)
{
    if (!c->st[which]) {
        int rc = sqlite3_prepare_v3(c->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                                    &c->st[which], NULL);
        if (rc != SQLITE_OK) {
            db_fail(st, c->db, rc, "preparing a query", err);
            return NULL;
        }
    }
    sqlite3_reset(c->st[which]);
    sqlite3_clear_bindings(c->st[which]);
    return c->st[which];
}

/* Runs a prepared statement without parameters or rows (BEGIN, COMMIT). */
static int step_once(lg_store *st, conn *c, int which, const char *what, lg_err *err)
{
    sqlite3_stmt *s = stmt(st, c, which, err);
    int rc;
    if (!s)
        return err ? err->code : LG_EINTERNAL;
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_fail(st, c->db, rc, what, err);
    return 0;
}

static int exec_sql(lg_store *st, conn *c, const char *sql, const char *what, lg_err *err)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, c->db, rc, what, err);
    return 0;
}

/* Runs a one-value query; *out gets the integer (0 when no row). */
static int query_int(lg_store *st, conn *c, const char *sql, int64_t *out, lg_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, c->db, rc, "reading the file", err);
    rc = sqlite3_step(s);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(st, c->db, rc, "reading the file", err);
    return 0;
}

static int fault_at(lg_store *st, const char *point, lg_err *err)
{
    if (st->fault && st->fault(st->fault_ctx, point))
        return LG_ERR(err, LG_EIO, "%s: injected fault at %s", st->path, point);
    return 0;
}

static conn *conn_wrap(sqlite3 *db, lg_err *err)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        sqlite3_close_v2(db);
        LG_ERR(err, LG_ENOMEM, "out of memory");
        return NULL;
    }
    c->db = db;
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    return c;
}

static conn *conn_open_read(lg_store *st, lg_err *err)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(st->read_uri, &db, st->read_flags, NULL);
    if (rc != SQLITE_OK) {
        db_fail(st, db, rc, "open the file for reading", err);
        sqlite3_close_v2(db);
        return NULL;
    }
    return conn_wrap(db, err);
}

static conn *pool_get(lg_store *st, lg_err *err)
{
    conn *c;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        if (st->nidle) {
            c = st->idle[--st->nidle];
            pthread_mutex_unlock(&st->mu);
            return c;
        }
        if (st->nopen < st->maxopen) {
            st->nopen++;
            pthread_mutex_unlock(&st->mu);
            c = conn_open_read(st, err);
            if (!c) {
                pthread_mutex_lock(&st->mu);
                st->nopen--;
                pthread_cond_signal(&st->pcond);
                pthread_mutex_unlock(&st->mu);
            }
            return c;
        }
        pthread_cond_wait(&st->pcond, &st->mu);
    }
}

static void pool_put(lg_store *st, conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&st->mu);
    st->idle[st->nidle++] = c;
    pthread_cond_signal(&st->pcond);
    pthread_mutex_unlock(&st->mu);
}

static lg_codec *codec_get(lg_store *st, lg_err *err)
{
    lg_codec *c = NULL;
    pthread_mutex_lock(&st->mu);
    if (st->ncodecs)
        c = st->codecs[--st->ncodecs];
    pthread_mutex_unlock(&st->mu);
    if (!c && !(c = lg_codec_new()))
        LG_ERR(err, LG_ENOMEM, "out of memory creating zstd contexts");
    return c;
}

static void codec_put(lg_store *st, lg_codec *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&st->mu);
    if (st->ncodecs < sizeof st->codecs / sizeof st->codecs[0]) {
        st->codecs[st->ncodecs++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    lg_codec_free(c);
}

/* ---- schema ------------------------------------------------------------- */

/* Format 2. The comments are kept in sqlite_master, so `sqlite3 FILE .schema`
 * documents the file. */
static const char schema_v2[] =
    "CREATE TABLE meta(\n"
    "  key TEXT PRIMARY KEY,  -- format, creator, writer, created_ms\n"
    "  value TEXT NOT NULL\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE dicts(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  data BLOB NOT NULL,          -- zstd dictionary (ZDICT_trainFromBuffer)\n"
    "  samples INTEGER NOT NULL,    -- bodies it was trained on\n"
    "  trained_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE blobs(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  hash BLOB NOT NULL,          -- XXH3-128 of the raw bytes, 16 bytes big-endian\n"
    "  raw_len INTEGER NOT NULL,\n"
    "  codec INTEGER NOT NULL,      -- 0 raw, 1 zstd, 2 zstd+dict, 3 zstd+prefix\n"
    "  dict INTEGER,                -- dicts.id (codec 2)\n"
    "  base INTEGER,                -- codec 3 (delta): against raw(base) and raw(base2)\n"
    "  base2 INTEGER,\n"
    "  depth INTEGER NOT NULL,      -- 0 standalone; else >= 1 + depth of base and base2\n"
    "  data BLOB NOT NULL           -- magicless zstd frame, or the raw bytes\n"
    ");\n"
    "-- content addressing: the first 8 bytes of the hash index it, the row has all 16\n"
    "CREATE INDEX blobs_hash ON blobs(substr(hash, 1, 8));\n"
    "CREATE TABLE endpoints(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  provider TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,\n"
    "  model TEXT NOT NULL,         -- '' when unknown\n"
    "  UNIQUE(provider, method, path, model)\n"
    ");\n"
    "CREATE TABLE sessions(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  key TEXT NOT NULL UNIQUE,    -- 'CASE.TRIAL' for the harness\n"
    "  run TEXT, suite TEXT, case_index INTEGER, trial INTEGER,\n"
    "  started_ms INTEGER NOT NULL, committed_ms INTEGER NOT NULL,\n"
    "  n_events INTEGER NOT NULL, n_calls INTEGER NOT NULL, n_tools INTEGER NOT NULL,\n"
    "  n_iterations INTEGER NOT NULL,\n"
    "  tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, tokens_cached INTEGER NOT NULL,\n"
    "  latency_us INTEGER NOT NULL,\n"
    "  reason TEXT, converged INTEGER, error TEXT,  -- from the last end event\n"
    "  events BLOB NOT NULL         -- the events, packed (docs/trace-format.md)\n"
    ");\n";

/* Format 1 kept one row per event; format 2 packs them into sessions. */
static const char migrate_1_2_pre[] =
    "CREATE TABLE sessions_v2(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  key TEXT NOT NULL UNIQUE,    -- 'CASE.TRIAL' for the harness\n"
    "  run TEXT, suite TEXT, case_index INTEGER, trial INTEGER,\n"
    "  started_ms INTEGER NOT NULL, committed_ms INTEGER NOT NULL,\n"
    "  n_events INTEGER NOT NULL, n_calls INTEGER NOT NULL, n_tools INTEGER NOT NULL,\n"
    "  n_iterations INTEGER NOT NULL,\n"
    "  tokens_in INTEGER NOT NULL, tokens_out INTEGER NOT NULL, tokens_cached INTEGER NOT NULL,\n"
    "  latency_us INTEGER NOT NULL,\n"
    "  reason TEXT, converged INTEGER, error TEXT,  -- from the last end event\n"
    "  events BLOB NOT NULL         -- the events, packed (docs/trace-format.md)\n"
    ");\n"
    "INSERT INTO sessions_v2 SELECT id, key, run, suite, case_index, trial, started_ms,\n"
    "  committed_ms, n_events, n_calls, n_tools, n_iterations, tokens_in, tokens_out,\n"
    "  tokens_cached, latency_us, reason, converged, error, x'' FROM sessions;\n";

static const char migrate_1_2_post[] =
    "CREATE INDEX IF NOT EXISTS blobs_hash ON blobs(substr(hash, 1, 8));\n"
    "DROP TABLE events;\n"
    "DROP TABLE sessions;\n"
    "ALTER TABLE sessions_v2 RENAME TO sessions;\n"
    "UPDATE meta SET value = '2' WHERE key = 'format';\n"
    "PRAGMA user_version = 2;\n";

typedef struct file_check {
    bool exists, empty, wal_mode, wal_file;
} file_check;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Looks at the file before SQLite does, so that the common mistakes get a
 * message of their own and nothing is created or changed. */
static int check_file(const char *path, int mode, file_check *fc, lg_err *err)
{
    struct stat sb;
    unsigned char h[100];
    char wal[4096];
    ssize_t got;
    int fd;

    memset(fc, 0, sizeof *fc);
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT && mode == LG_STORE_WRITE)
            return 0;
        if (errno == ENOENT)
            return LG_ERR(err, LG_ENOENT, "%s: no such trace file; check the path", path);
        return LG_ERR(err, LG_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    fc->exists = true;
    if (S_ISDIR(sb.st_mode))
        return LG_ERR(err, LG_EINPUT, "%s: is a directory, not a trace file; give the .lgt file",
                      path);
    if (!S_ISREG(sb.st_mode))
        return LG_ERR(err, LG_EINPUT, "%s: not a regular file, not a trace file", path);
    if (sb.st_size == 0) {
        fc->empty = true;
        if (mode == LG_STORE_WRITE)
            return 0;
        return LG_ERR(err, LG_EINPUT, "%s: empty file, not a loopgate trace; check the path",
                      path);
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return LG_ERR(err, LG_EIO, "%s: cannot open: %s", path, strerror(errno));
    got = read(fd, h, sizeof h);
    close(fd);
    if (got < 16 || memcmp(h, "SQLite format 3", 16) != 0)
        return LG_ERR(err, LG_EINPUT,
                      "%s: not a loopgate trace file (not an SQLite database); check the path",
                      path);
    if (got < (ssize_t)sizeof h)
        return LG_ERR(err, LG_EINPUT,
                      "%s: truncated (%lld bytes); restore it from version control or record it "
                      "again",
                      path, (long long)sb.st_size);
    fc->wal_mode = h[18] == 2 || h[19] == 2;
    snprintf(wal, sizeof wal, "%s-wal", path);
    fc->wal_file = stat(wal, &sb) == 0 && sb.st_size > 0;
    if (!fc->wal_file) {
        /* Without a WAL the header's page count must fit in the file. */
        uint32_t psize = (uint32_t)h[16] << 8 | h[17];
        uint64_t pages = be32(h + 28), need;
        struct stat fs;
        if (psize == 1)
            psize = 65536;
        if (psize < 512 || (psize & (psize - 1)))
            return LG_ERR(err, LG_EINPUT,
                          "%s: file is corrupt (bad page size %u); restore it from version "
                          "control or record it again",
                          path, psize);
        if (stat(path, &fs) != 0)
            return LG_ERR(err, LG_EIO, "%s: cannot open: %s", path, strerror(errno));
        need = pages * psize;
        if (be32(h + 24) == be32(h + 92) && pages > 0 && (uint64_t)fs.st_size < need)
            return LG_ERR(err, LG_EINPUT,
                          "%s: truncated (%lld of %llu bytes); restore it from version control "
                          "or record it again",
                          path, (long long)fs.st_size, (unsigned long long)need);
        if ((uint64_t)fs.st_size % psize)
            return LG_ERR(err, LG_EINPUT,
                          "%s: truncated (%lld bytes is not a whole number of %u-byte pages); "
                          "restore it from version control or record it again",
                          path, (long long)fs.st_size, psize);
    }
    return 0;
}

/* "file:" URI for a path, percent-encoding what URIs reserve. */
static char *file_uri(const char *path, const char *query)
{
    lg_buf b = LG_BUF_INIT;
    int rc = lg_buf_append_str(&b, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && !rc; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/._-~", *p))
            rc = lg_buf_append_byte(&b, (char)*p);
        else
            rc = lg_buf_appendf(&b, "%%%02X", *p);
    }
    if (!rc)
        rc = lg_buf_appendf(&b, "?%s", query);
    if (rc) {
        lg_buf_release(&b);
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

/* Reads what the file is: *version 0 with *fresh for an empty database. */
static int check_schema(lg_store *st, conn *c, int64_t *version, bool *fresh, lg_err *err)
{
    int64_t tables, meta;
    int rc;

    *fresh = false;
    *version = 0;
    if ((rc = query_int(st, c, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", &tables,
                        err)) ||
        (rc = query_int(st, c,
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                        &meta, err)))
        return rc;
    if (tables == 0) {
        *fresh = true;
        if (st->mode == LG_STORE_READ)
            return LG_ERR(err, LG_EINPUT,
                          "%s: an empty SQLite database, not a loopgate trace; check the path",
                          st->path);
        return 0;
    }
    if (!meta)
        return LG_ERR(err, LG_EINPUT,
                      "%s: an SQLite database but not a loopgate trace (no meta table); check "
                      "the path",
                      st->path);
    if ((rc = query_int(st, c, "PRAGMA user_version", version, err)))
        return rc;
    if (*version <= 0)
        return LG_ERR(err, LG_EINPUT,
                      "%s: not a loopgate trace (no format version); check the path", st->path);
    if (*version > LG_TRACE_FORMAT)
        return LG_ERR(err, LG_EFORMAT,
                      "%s: format %lld is newer than this loopgate (reads up to %d); upgrade "
                      "loopgate",
                      st->path, (long long)*version, LG_TRACE_FORMAT);
    return 0;
}

static int create_schema(lg_store *st, conn *c, lg_err *err)
{
    char meta[512];
    int rc;
    if ((rc = exec_sql(st, c, schema_v2, "creating the trace tables", err)))
        return rc;
    snprintf(meta, sizeof meta,
             "INSERT INTO meta(key, value) VALUES('format', '%d'), "
             "('creator', 'loopgate %s'), ('writer', 'loopgate %s'), ('created_ms', '%lld');"
             "PRAGMA user_version = %d;",
             LG_TRACE_FORMAT, LG_VERSION, LG_VERSION, (long long)lg_clock_wall_ms(),
             LG_TRACE_FORMAT);
    return exec_sql(st, c, meta, "creating the trace tables", err);
}

/* Format 1 -> 2: pack each session's event rows into sessions.events. */
static int migrate_1_2(lg_store *st, conn *c, lg_err *err)
{
    static const char evsql[] =
        "SELECT kind, t_us, endpoint, fp, body_in, body_out, body_aux, status, tok_in, tok_out, "
        "tok_cached, dur_us, chunks, info FROM events WHERE session = ?1 ORDER BY seq";
    sqlite3_stmt *ss = NULL, *es = NULL, *up = NULL;
    lg_codec *cd = lg_codec_new();
    int rc, step;

    if (!cd)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if ((rc = exec_sql(st, c, migrate_1_2_pre, "migrating from format 1 to 2", err)))
        goto out;
    if (sqlite3_prepare_v2(c->db, "SELECT id FROM sessions_v2", -1, &ss, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, evsql, -1, &es, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db, "UPDATE sessions_v2 SET events = ?1 WHERE id = ?2", -1, &up,
                           NULL) != SQLITE_OK) {
        rc = db_fail(st, c->db, sqlite3_errcode(c->db), "migrating from format 1 to 2", err);
        goto out;
    }
    while ((step = sqlite3_step(ss)) == SQLITE_ROW) {
        int64_t sid = sqlite3_column_int64(ss, 0);
        packer pk;
        lg_buf out = LG_BUF_INIT;
        memset(&pk, 0, sizeof pk);
        lg_buf_init(&pk.buf);
        sqlite3_bind_int64(es, 1, sid);
        while (!rc && (step = sqlite3_step(es)) == SQLITE_ROW) {
            erec e;
            memset(&e, 0, sizeof e);
            e.kind = sqlite3_column_int(es, 0);
            e.t_us = (uint64_t)sqlite3_column_int64(es, 1);
            e.endpoint = sqlite3_column_int64(es, 2);
            if (sqlite3_column_bytes(es, 3) == 16) {
                e.has_fp = true;
                memcpy(e.fp, sqlite3_column_blob(es, 3), 16);
            }
            for (int k = 0; k < 3; k++)
                e.body[k] = sqlite3_column_int64(es, 4 + k);
            e.has_status = sqlite3_column_type(es, 7) != SQLITE_NULL;
            e.status = sqlite3_column_int64(es, 7);
            e.usage.in = sqlite3_column_type(es, 8) == SQLITE_NULL ? -1 : sqlite3_column_int64(es, 8);
            e.usage.out = sqlite3_column_type(es, 9) == SQLITE_NULL ? -1 : sqlite3_column_int64(es, 9);
            e.usage.cached =
                sqlite3_column_type(es, 10) == SQLITE_NULL ? -1 : sqlite3_column_int64(es, 10);
            e.has_dur = sqlite3_column_type(es, 11) != SQLITE_NULL;
            e.dur = (uint64_t)sqlite3_column_int64(es, 11);
            e.chunks = sqlite3_column_blob(es, 12);
            e.chunks_len = (size_t)sqlite3_column_bytes(es, 12);
            e.info = (const char *)sqlite3_column_text(es, 13);
            e.info_len = (size_t)sqlite3_column_bytes(es, 13);
            if (pack_event(&pk, &e))
                rc = LG_ERR(err, LG_ENOMEM, "out of memory migrating");
        }
        sqlite3_reset(es);
        if (!rc && step != SQLITE_DONE)
            rc = db_fail(st, c->db, step, "migrating from format 1 to 2", err);
        if (!rc)
            rc = pack_finish(&pk, cd, &out, err);
        if (!rc) {
            sqlite3_bind_blob(up, 1, out.data, (int)out.len, SQLITE_STATIC);
            sqlite3_bind_int64(up, 2, sid);
            if ((step = sqlite3_step(up)) != SQLITE_DONE)
                rc = db_fail(st, c->db, step, "migrating from format 1 to 2", err);
            sqlite3_reset(up);
        }
        lg_buf_release(&pk.buf);
        lg_buf_release(&out);
        if (rc)
            goto out;
    }
    if (step != SQLITE_DONE) {
        rc = db_fail(st, c->db, step, "migrating from format 1 to 2", err);
        goto out;
    }
    sqlite3_finalize(ss);
    sqlite3_finalize(es);
    sqlite3_finalize(up);
    ss = es = up = NULL;
    rc = exec_sql(st, c, migrate_1_2_post, "migrating from format 1 to 2", err);
out:
    sqlite3_finalize(ss);
    sqlite3_finalize(es);
    sqlite3_finalize(up);
    lg_codec_free(cd);
    return rc;
}

static int migrate(lg_store *st, conn *c, int64_t from, lg_err *err)
{
    int rc = 0;
    if (from == 1)
        rc = migrate_1_2(st, c, err);
    if (!rc && from < LG_TRACE_FORMAT && st->mode == LG_STORE_WRITE) {
        char sql[256];
        snprintf(sql, sizeof sql, "UPDATE meta SET value = 'loopgate %s' WHERE key = 'writer';",
                 LG_VERSION);
        rc = exec_sql(st, c, sql, "migrating", err);
    }
    return rc;
}

static int open_read(lg_store *st, const file_check *fc, lg_err *err)
{
    int64_t version;
    bool fresh;
    conn *c;
    int rc;

    /* A file in WAL mode with no WAL beside it holds everything itself:
     * open it immutable so that SQLite creates no -wal/-shm files. */
    st->read_uri = file_uri(st->path, fc->wal_mode && !fc->wal_file ? "immutable=1" : "mode=ro");
    st->read_flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    if (!st->read_uri)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if (!(c = conn_open_read(st, err)))
        return err ? err->code : LG_EIO;
    if ((rc = check_schema(st, c, &version, &fresh, err))) {
        conn_close(c);
        return rc;
    }
    st->file_format = (int)version;
    if (version < LG_TRACE_FORMAT) {
        /* Migrate a private copy; the file stays as it is. */
        sqlite3 *mem = NULL;
        sqlite3_backup *bk;
        if (sqlite3_open_v2(":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK) {
            sqlite3_close_v2(mem);
            conn_close(c);
            return LG_ERR(err, LG_ENOMEM, "out of memory opening %s", st->path);
        }
        bk = sqlite3_backup_init(mem, "main", c->db, "main");
        rc = bk ? sqlite3_backup_step(bk, -1) : sqlite3_errcode(mem);
        if (bk)
            sqlite3_backup_finish(bk);
        conn_close(c);
        if (rc != SQLITE_DONE) {
            rc = db_fail(st, mem, rc, "reading the file", err);
            sqlite3_close_v2(mem);
            return rc;
        }
        if (!(c = conn_wrap(mem, err)))
            return LG_ENOMEM;
        if ((rc = exec_sql(st, c, "BEGIN", "migrating", err)) ||
            (rc = migrate(st, c, version, err)) ||
            (rc = exec_sql(st, c, "COMMIT", "migrating", err))) {
            conn_close(c);
            return rc;
        }
        st->memory = true;
        st->maxopen = 1;
    }
    st->idle[st->nidle++] = c;
    st->nopen = 1;
    return 0;
}

static int load_dict_row(lg_store *st, conn *c, int64_t id, lg_dict **out, lg_err *err);

/* Creates a missing trace file whole: the tables are made in a file of
 * its own that is then linked into place, so that a process killed while
 * creating never leaves an empty or half-made file under the real name
 * (at worst a PATH.new-* file beside it). Losing a race to another creator
 * is fine: theirs is used. */
static int create_file(lg_store *st, lg_err *err)
{
    char tmp[4200];
    sqlite3 *db = NULL;
    conn *c;
    int rc;

    snprintf(tmp, sizeof tmp, "%s.new-%ld-%llx", st->path, (long)getpid(),
             (unsigned long long)lg_clock_mono_ns());
    rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        LG_ERR(err, LG_EIO, "%s: cannot create (does its directory exist?): %s", st->path,
               sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        unlink(tmp);
        return LG_EIO;
    }
    if (!(c = conn_wrap(db, err))) {
        unlink(tmp);
        return LG_ENOMEM;
    }
    if (!(rc = exec_sql(st, c, "PRAGMA page_size = " LG_STR(PAGE_SIZE), "creating the file", err)) &&
        !(rc = exec_sql(st, c, "BEGIN IMMEDIATE", "creating the file", err)) &&
        !(rc = create_schema(st, c, err)))
        rc = exec_sql(st, c, "COMMIT", "creating the file", err);
    conn_close(c);
    if (!rc && link(tmp, st->path) != 0 && errno != EEXIST)
        rc = LG_ERR(err, LG_EIO, "%s: cannot create: %s", st->path, strerror(errno));
    unlink(tmp);
    return rc;
}

static int open_write(lg_store *st, const file_check *fc, lg_err *err)
{
    sqlite3 *db = NULL;
    int64_t version, nd = 0, n = 0, bytes = 0;
    bool fresh;
    conn *c;
    int rc;

    if (!fc->exists && (rc = create_file(st, err)))
        return rc;
    rc = sqlite3_open_v2(st->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        LG_ERR(err, LG_EIO, "%s: cannot open for writing: %s", st->path, sqlite3_errmsg(db));
        sqlite3_close_v2(db);
        return LG_EIO;
    }
    if (!(c = conn_wrap(db, err)))
        return LG_ENOMEM;
    st->w = c;
    /* Identify the file before changing anything in it. */
    if ((rc = check_schema(st, c, &version, &fresh, err)))
        return rc;
    /* Bigger pages waste less at the end of each page for rows of a few
     * hundred bytes; only possible before the first table exists. */
    if (fresh && (rc = exec_sql(st, c, "PRAGMA page_size = " LG_STR(PAGE_SIZE), "configuring", err)))
        return rc;
    {
        sqlite3_stmt *s;
        const char *mode = NULL;
        rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
        if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
            mode = (const char *)sqlite3_column_text(s, 0);
        if (!mode || strcmp(mode, "wal") != 0) {
            rc = db_fail(st, c->db, rc ? rc : sqlite3_errcode(c->db), "switch to WAL mode", err);
            sqlite3_finalize(s);
            return rc ? rc : LG_ERR(err, LG_EIO, "%s: cannot switch to WAL mode", st->path);
        }
        sqlite3_finalize(s);
        st->wal_set = true;
    }
    /* Commits append to the WAL without syncing; checkpoints (which sync)
     * every 16 MB of it rather than every 4 MB. */
    if ((rc = exec_sql(st, c, "PRAGMA synchronous = NORMAL", "configuring", err)) ||
        (rc = exec_sql(st, c, "PRAGMA wal_autocheckpoint = 4096", "configuring", err)) ||
        (rc = exec_sql(st, c, "BEGIN IMMEDIATE", "locking the file", err)))
        return rc;
    /* Again under the lock: another process may have created or migrated it. */
    if ((rc = check_schema(st, c, &version, &fresh, err)))
        goto out_rollback;
    st->file_format = fresh ? LG_TRACE_FORMAT : (int)version;
    if (fresh)
        rc = create_schema(st, c, err);
    else if (version < LG_TRACE_FORMAT)
        rc = migrate(st, c, version, err);
    if (rc || (rc = exec_sql(st, c, "COMMIT", "creating the trace tables", err)))
        goto out_rollback;

    st->read_uri = file_uri(st->path, "mode=ro");
    st->read_flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
    if (!st->read_uri)
        return LG_ERR(err, LG_ENOMEM, "out of memory");

    /* The newest dictionary codes new bodies; without one, count samples. */
    if ((rc = query_int(st, c, "SELECT coalesce(max(id), 0) FROM dicts", &nd, err)))
        return rc;
    if (nd > 0)
        return load_dict_row(st, c, nd, &st->cur, err);
    if ((rc = query_int(st, c, "SELECT count(*) FROM blobs WHERE depth = 0", &n, err)) ||
        (rc = query_int(st, c, "SELECT coalesce(sum(raw_len), 0) FROM blobs WHERE depth = 0",
                        &bytes, err)))
        return rc;
    st->samples_n = (uint64_t)n;
    st->samples_bytes = (uint64_t)bytes;
    return 0;
out_rollback:
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int lg_store_open(const char *path, int mode, lg_store **out, lg_err *err)
{
    file_check fc;
    lg_store *st;
    int rc;

    *out = NULL;
    if (!path || !*path)
        return LG_ERR(err, LG_EUSAGE, "no trace file given");
    if (mode != LG_STORE_READ && mode != LG_STORE_WRITE)
        return LG_ERR(err, LG_EUSAGE, "%s: bad open mode %d", path, mode);
    if ((rc = check_file(path, mode, &fc, err)))
        return rc;
    if (!(st = calloc(1, sizeof *st)) || !(st->path = xstrdup(path)) ||
        !(st->recent = calloc(1, sizeof *st->recent))) {
        if (st)
            free(st->path);
        free(st);
        return LG_ERR(err, LG_ENOMEM, "out of memory opening %s", path);
    }
    st->mode = mode;
    st->maxopen = POOL_MAX;
    st->level = LG_CODEC_LEVEL_FAST;
    st->delta_level = LG_CODEC_LEVEL_DELTA;
    st->dict_min_samples = LG_STORE_DICT_MIN_SAMPLES;
    st->dict_min_bytes = LG_STORE_DICT_MIN_BYTES;
    pthread_mutex_init(&st->wlock, NULL);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->pcond, NULL);
    rc = mode == LG_STORE_READ ? open_read(st, &fc, err) : open_write(st, &fc, err);
    if (rc) {
        lg_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

extern void lg_store_close(lg_store *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->nidle; i++)
        conn_close(st->idle[i]);
    if (st->w && st->wal_set) {
        /* Leave a file at rest self-contained (no -wal/-shm beside it) when
         * nobody else uses it; if someone does, they will. */
        sqlite3_busy_timeout(st->w->db, 0);
        sqlite3_exec(st->w->db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL);
    }
    conn_close(st->w);
    for (size_t i = 0; i < st->ndicts; i++)
        lg_dict_free(st->dicts[i]);
    free(st->dicts);
    for (size_t i = 0; i < st->ceps; i++) {
        if (!st->eps[i])
            continue;
        free(st->eps[i]->provider);
        free(st->eps[i]->method);
        free(st->eps[i]->path);
        free(st->eps[i]->model);
        free(st->eps[i]);
    }
    free(st->eps);
    for (size_t i = 0; i < st->ncodecs; i++)
        lg_codec_free(st->codecs[i]);
    pthread_mutex_destroy(&st->wlock);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->pcond);
    if (st->recent)
        free(st->recent->slots);
    free(st->recent);
    free(st->read_uri);
    free(st->path);
    free(st);
}

const char *lg_store_path(const lg_store *st)
{
    return st->path;
}

int lg_store_file_format(const lg_store *st)
{
    return st->file_format;
}

void lg_store_set_dict_threshold(lg_store *st, size_t samples, size_t bytes)
{
    st->dict_min_samples = samples;
    st->dict_min_bytes = bytes;
}

void lg_store_set_level(lg_store *st, int level)
{
    st->level = level < 1 ? 1 : level > LG_CODEC_LEVEL_MAX ? LG_CODEC_LEVEL_MAX : level;
    st->delta_level = st->level;
}

void lg_store_set_fault_hook(lg_store *st, lg_store_fault_fn fn, void *ctx)
{
    st->fault = fn;
    st->fault_ctx = ctx;
}

void lg_session_key(int64_t case_index, int64_t trial, char out[LG_SESSION_KEY_MAX])
{
    snprintf(out, LG_SESSION_KEY_MAX, "%lld.%lld", (long long)case_index, (long long)trial);
}

/* ---- dictionaries and decoding ------------------------------------------ */

static int load_dict_row(lg_store *st, conn *c, int64_t id, lg_dict **out, lg_err *err)
{
    sqlite3_stmt *s = stmt(st, c, S_DICT_GET, err);
    lg_dict *d = NULL;
    int rc;

    if (!s)
        return err ? err->code : LG_EINTERNAL;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        d = lg_dict_new(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0), st->level,
                        id, err);
        rc = d ? 0 : (err ? err->code : LG_EINPUT);
    } else if (rc == SQLITE_DONE) {
        rc = LG_ERR(err, LG_EINPUT,
                    "%s: dictionary %lld is missing; the file is corrupt: restore it from version "
                    "control or record it again",
                    st->path, (long long)id);
    } else {
        rc = db_fail(st, c->db, rc, "reading a dictionary", err);
    }
    sqlite3_reset(s);
    if (rc)
        return rc;
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->ndicts; i++) {
        if (lg_dict_id(st->dicts[i]) == id) { /* another thread was first */
            lg_dict_free(d);
            *out = st->dicts[i];
            pthread_mutex_unlock(&st->mu);
            return 0;
        }
    }
    rc = grow_array((void **)&st->dicts, &st->cdicts, st->ndicts + 1, sizeof *st->dicts);
    if (!rc)
        st->dicts[st->ndicts++] = d;
    pthread_mutex_unlock(&st->mu);
    if (rc) {
        lg_dict_free(d);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    *out = d;
    return 0;
}

static int dict_by_id(lg_store *st, conn *c, int64_t id, lg_dict **out, lg_err *err)
{
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->ndicts; i++) {
        if (lg_dict_id(st->dicts[i]) == id) {
            *out = st->dicts[i];
            pthread_mutex_unlock(&st->mu);
            return 0;
        }
    }
    pthread_mutex_unlock(&st->mu);
    return load_dict_row(st, c, id, out, err);
}

static lg_dict *current_dict(lg_store *st)
{
    lg_dict *d;
    pthread_mutex_lock(&st->mu);
    d = st->cur;
    pthread_mutex_unlock(&st->mu);
    return d;
}

/* Decodes blob `id` (and what it is coded against) into `cache`; `*out`
 * is borrowed from the cache. Messages name the blob; callers prefix the
 * file and the event. */
/* A blob row as stored (prefetched by session readers). */
typedef struct brow {
    unsigned char hash[16];
    int64_t raw_len, codec, dict, base, base2;
    char *data;
    size_t len;
} brow;

/* Fills `*out` from the current row of S_BLOB_GET or S_BLOB_RANGE (their
 * first seven columns agree); data owned by the caller. */
static int row_fill(sqlite3_stmt *s, int64_t id, brow *out, lg_err *err)
{
    if (sqlite3_column_bytes(s, 0) != 16)
        return LG_ERR(err, LG_EINPUT, "body %lld is corrupt (bad hash)", (long long)id);
    memcpy(out->hash, sqlite3_column_blob(s, 0), 16);
    out->raw_len = sqlite3_column_int64(s, 1);
    out->codec = sqlite3_column_int64(s, 2);
    out->dict = sqlite3_column_int64(s, 3);
    out->base = sqlite3_column_int64(s, 4);
    out->base2 = sqlite3_column_int64(s, 5);
    out->len = (size_t)sqlite3_column_bytes(s, 6);
    out->data = malloc(out->len ? out->len : 1);
    if (out->data && out->len)
        memcpy(out->data, sqlite3_column_blob(s, 6), out->len);
    if (!out->data)
        return LG_ERR(err, LG_ENOMEM, "out of memory reading body %lld", (long long)id);
    return 0;
}

/* Reads blob row `id` into `*out` (data owned by the caller). */
static int blob_row(lg_store *st, conn *c, int64_t id, brow *out, lg_err *err)
{
    sqlite3_stmt *s = stmt(st, c, S_BLOB_GET, err);
    int rc;

    memset(out, 0, sizeof *out);
    if (!s)
        return err ? err->code : LG_EINTERNAL;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        if (rc == SQLITE_DONE)
            return LG_ERR(err, LG_EINPUT, "body %lld is missing (the file is corrupt)",
                          (long long)id);
        return db_fail(st, c->db, rc, "reading a body", err);
    }
    rc = row_fill(s, id, out, err);
    sqlite3_reset(s);
    return rc;
}

static int blob_decode_rows(lg_store *st, conn *c, lg_codec *cd, bcache *cache, const i64map *rows,
                            int64_t id, int guard, const bent **out, lg_err *err);

static int blob_decode(lg_store *st, conn *c, lg_codec *cd, bcache *cache, int64_t id, int guard,
                       const bent **out, lg_err *err)
{
    static const i64map none;
    return blob_decode_rows(st, c, cd, cache, &none, id, guard, out, err);
}

static int blob_decode_rows(lg_store *st, conn *c, lg_codec *cd, bcache *cache, const i64map *rows,
                            int64_t id, int guard, const bent **out, lg_err *err)
{
    bent *e = i64map_get(&cache->map, id);
    const bent *b1 = NULL, *b2 = NULL;
    unsigned char hash[16];
    int64_t raw_len, codec, dict, base, base2;
    lg_dict *d = NULL;
    lg_buf data = LG_BUF_INIT, raw = LG_BUF_INIT;
    int rc;

    if (e) {
        *out = e;
        return 0;
    }
    if (guard > 4 * LG_STORE_KEYFRAME_INTERVAL)
        return LG_ERR(err, LG_EINPUT, "body %lld is corrupt (its delta chain loops)", (long long)id);
    {
        const brow *pre_row = i64map_get(rows, id);
        brow own;
        if (!pre_row) {
            if ((rc = blob_row(st, c, id, &own, err)))
                return rc;
            pre_row = &own;
        }
        memcpy(hash, pre_row->hash, 16);
        raw_len = pre_row->raw_len;
        codec = pre_row->codec;
        dict = pre_row->dict;
        base = pre_row->base;
        base2 = pre_row->base2;
        rc = lg_buf_append(&data, pre_row->data, pre_row->len);
        if (pre_row == &own)
            free(own.data);
        if (rc)
            return LG_ERR(err, rc, "out of memory reading body %lld", (long long)id);
    }
    if (raw_len < 0 || (codec == LG_CODEC_PREFIX && base <= 0)) {
        rc = LG_ERR(err, LG_EINPUT, "body %lld is corrupt (bad header)", (long long)id);
        goto out;
    }
    if (codec == LG_CODEC_PREFIX) {
        if ((rc = blob_decode_rows(st, c, cd, cache, rows, base, guard + 1, &b1, err)))
            goto out;
        if (base2 > 0 &&
            (rc = blob_decode_rows(st, c, cd, cache, rows, base2, guard + 1, &b2, err)))
            goto out;
        rc = delta_decode(cd, data.data ? data.data : "", data.len, (size_t)raw_len, b1->data,
                          b1->len, b2 ? b2->data : NULL, b2 ? b2->len : 0, &raw, err);
        if (rc) {
            lg_err_prefix(err, "body %lld", (long long)id);
            goto out;
        }
        goto verify;
    } else if (codec == LG_CODEC_DICT) {
        if ((rc = dict_by_id(st, c, dict, &d, err)))
            goto out;
    }
    rc = lg_codec_decompress(cd, (int)codec, data.data ? data.data : "", data.len, (size_t)raw_len,
                             d, NULL, 0, &raw, err);
    if (rc) {
        lg_err_prefix(err, "body %lld", (long long)id);
        goto out;
    }
verify:
    {
        unsigned char got[16];
        lg_hash_to_bytes(lg_hash_bytes(raw.data ? raw.data : "", raw.len), got);
        if (memcmp(got, hash, 16) != 0) {
            rc = LG_ERR(err, LG_EINPUT, "body %lld is corrupt (content hash mismatch)",
                        (long long)id);
            goto out;
        }
    }
    if (!(e = malloc(sizeof *e))) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    e->len = raw.len;
    e->data = lg_buf_take(&raw, NULL);
    if (!e->data || i64map_put(&cache->map, id, e)) {
        free(e->data);
        free(e);
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    cache->bytes += e->len;
    *out = e;
out:
    lg_buf_release(&data);
    lg_buf_release(&raw);
    return rc;
}

/* ---- session writer ----------------------------------------------------- */

enum { ROLE_REQ = 1, ROLE_DOC = 2 };

typedef struct pbody {
    lg_hash128 hash;
    char *raw;
    size_t len;
    int role;
    int base, base2; /* ROLE_REQ: earlier bodies it may be coded against, or -1 */
    /* filled while committing */
    int64_t id;    /* blobs.id */
    int depth;
    bool exists;   /* already in the file (found before encoding; id and depth set) */
    bool added;    /* inserted by this commit */
    bool encoded;
    bool prefixed; /* enc is coded against base/base2 */
    int codec;
    int64_t dict;  /* dictionary used, 0 for none */
    lg_buf enc;
} pbody;

typedef struct pevent {
    int kind;
    uint64_t t_us;
    int64_t call;
    int b[3]; /* body_in, body_out, body_aux as pbody indexes, -1 for none */
    char *provider, *method, *path, *model;
    unsigned char fp[16];
    bool fp_is_req; /* fingerprint == XXH3-128 of the request: stored as NULL */
    bool has_status;
    int64_t status;
    lg_usage usage;
    bool has_dur;
    uint64_t dur;
    char *chunks;
    size_t chunks_len;
    char *info; /* canonical JSON object or NULL */
} pevent;

struct lg_store_session {
    lg_store *st;
    pthread_mutex_t mu;
    char *key, *run, *suite;
    int64_t case_index, trial, started_ms;
    pevent *evs;
    size_t nev, cev;
    pbody *bodies;
    size_t nb, cb;
    int *slots; /* hash -> body index + 1 */
    size_t nslots;
    int last_req, last_resp;
    int64_t ncalls;
    char *end_reason, *end_error;
    int end_converged;
};

static bool key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n >= LG_SESSION_KEY_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

int lg_store_session_begin(lg_store *st, const lg_session_desc *desc, lg_store_session **out,
                           lg_err *err)
{
    lg_store_session *w;

    *out = NULL;
    if (st->mode != LG_STORE_WRITE)
        return LG_ERR(err, LG_EUSAGE, "%s: opened read-only; cannot record a session", st->path);
    if (!desc || !key_ok(desc->key))
        return LG_ERR(err, LG_EUSAGE,
                      "%s: bad session key '%s' (1 to %d bytes, no control characters)", st->path,
                      desc && desc->key ? desc->key : "", LG_SESSION_KEY_MAX - 1);
    if (!(w = calloc(1, sizeof *w)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    w->st = st;
    pthread_mutex_init(&w->mu, NULL);
    w->key = xstrdup(desc->key);
    w->run = xstrdup(desc->run);
    w->suite = xstrdup(desc->suite);
    w->case_index = desc->case_index;
    w->trial = desc->trial;
    w->started_ms = desc->started_ms ? desc->started_ms : lg_clock_wall_ms();
    w->last_req = w->last_resp = -1;
    w->end_converged = -1;
    if (!w->key || (desc->run && !w->run) || (desc->suite && !w->suite)) {
        lg_store_session_abort(w);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    *out = w;
    return 0;
}

static void pevent_release(pevent *e)
{
    free(e->provider);
    free(e->method);
    free(e->path);
    free(e->model);
    free(e->chunks);
    free(e->info);
}

void lg_store_session_abort(lg_store_session *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nev; i++)
        pevent_release(&w->evs[i]);
    for (size_t i = 0; i < w->nb; i++) {
        free(w->bodies[i].raw);
        lg_buf_release(&w->bodies[i].enc);
    }
    free(w->evs);
    free(w->bodies);
    free(w->slots);
    free(w->key);
    free(w->run);
    free(w->suite);
    free(w->end_reason);
    free(w->end_error);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

size_t lg_store_session_count(lg_store_session *w)
{
    size_t n;
    pthread_mutex_lock(&w->mu);
    n = w->nev;
    pthread_mutex_unlock(&w->mu);
    return n;
}

static int slots_rehash(lg_store_session *w)
{
    size_t n = w->nslots ? w->nslots * 2 : 64;
    int *s = calloc(n, sizeof *s);
    if (!s)
        return LG_ENOMEM;
    for (size_t i = 0; i < w->nb; i++) {
        size_t j = (size_t)w->bodies[i].hash.lo & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (int)i + 1;
    }
    free(w->slots);
    w->slots = s;
    w->nslots = n;
    return 0;
}

/* Adds a body (or finds the same bytes added before). Returns its index,
 * -1 for an empty body, or -2 when out of memory. */
static int add_body(lg_store_session *w, const char *data, size_t len, int role, int base,
                    int base2)
{
    lg_hash128 h;
    size_t j;
    pbody *b;

    if (len == 0)
        return -1;
    h = lg_hash_bytes(data, len);
    if (w->nslots) {
        for (j = (size_t)h.lo & (w->nslots - 1); w->slots[j]; j = (j + 1) & (w->nslots - 1))
            if (lg_hash_equal(w->bodies[w->slots[j] - 1].hash, h))
                return w->slots[j] - 1;
    }
    if ((w->nb + 1) * 2 > w->nslots && slots_rehash(w))
        return -2;
    if (grow_array((void **)&w->bodies, &w->cb, w->nb + 1, sizeof *w->bodies))
        return -2;
    b = &w->bodies[w->nb];
    memset(b, 0, sizeof *b);
    if (!(b->raw = malloc(len)))
        return -2;
    memcpy(b->raw, data, len);
    b->len = len;
    b->hash = h;
    b->role = role;
    b->base = role == ROLE_REQ ? base : -1;
    b->base2 = role == ROLE_REQ && base >= 0 ? base2 : -1;
    lg_buf_init(&b->enc);
    for (j = (size_t)h.lo & (w->nslots - 1); w->slots[j]; j = (j + 1) & (w->nslots - 1))
        ;
    w->slots[j] = (int)w->nb + 1;
    return (int)w->nb++;
}

/* Adds a string member when `s` is not NULL; false on bad UTF-8 / OOM. */
static bool jset_str(json_t *o, const char *k, const char *s)
{
    json_t *v;
    if (!s)
        return true;
    if (!(v = json_string(s)))
        return false;
    return json_object_set_new(o, k, v) == 0;
}

/* Parses JSON text field `what` and adds it to `o` under `k`. */
static int jset_json(json_t *o, const char *k, const char *text, const char *what, lg_err *err)
{
    json_t *v;
    if (!text)
        return 0;
    if (!(v = lg_json_parse(text, strlen(text), what, err)))
        return LG_EINPUT;
    json_object_set_new(o, k, v);
    return 0;
}

static int pack_chunks(const lg_model_event *m, pevent *pe, lg_err *err)
{
    lg_buf b = LG_BUF_INIT;
    uint64_t prev = 0, sum = 0;
    int rc = 0;

    if (m->n_chunks == 0)
        return 0;
    if (!m->chunks)
        return LG_ERR(err, LG_EINPUT, "n_chunks is %zu but chunks is NULL", m->n_chunks);
    for (size_t i = 0; i < m->n_chunks; i++) {
        if (m->chunks[i].len == 0)
            return LG_ERR(err, LG_EINPUT, "stream chunk %zu is empty", i);
        sum += m->chunks[i].len;
    }
    if (sum != m->response.len)
        return LG_ERR(err, LG_EINPUT,
                      "stream chunks cover %llu bytes but the response has %zu",
                      (unsigned long long)sum, m->response.len);
    rc = put_varint(&b, m->n_chunks);
    for (size_t i = 0; i < m->n_chunks && !rc; i++) {
        int64_t d = (int64_t)(m->chunks[i].t_us - prev);
        rc = put_varint(&b, m->chunks[i].len);
        if (!rc)
            rc = put_varint(&b, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63)); /* zigzag */
        prev = m->chunks[i].t_us;
    }
    if (rc) {
        lg_buf_release(&b);
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    pe->chunks = lg_buf_take(&b, &pe->chunks_len);
    return 0;
}

/* Builds the info JSON and checks the kind's fields. */
static int build_info(const lg_event *ev, pevent *pe, lg_buf *headers, lg_err *err)
{
    json_t *o = json_object();
    lg_buf out = LG_BUF_INIT;
    bool ok = o != NULL;
    int rc = 0;

    if (!o)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    switch (ev->kind) {
    case LG_EVENT_MODEL: {
        const lg_model_event *m = &ev->model;
        if (!m->provider || !*m->provider || !m->method || !*m->method || !m->path || !*m->path) {
            rc = LG_ERR(err, LG_EINPUT, "a model event needs provider, method and path");
            break;
        }
        ok = jset_str(o, "fault", m->fault);
        if (m->headers) {
            json_t *h = lg_json_parse(m->headers, strlen(m->headers), "headers", err);
            if (!h) {
                rc = LG_EINPUT;
                break;
            }
            if (!json_is_object(h)) {
                json_decref(h);
                rc = LG_ERR(err, LG_EINPUT, "headers must be a JSON object");
                break;
            }
            rc = lg_json_dump_canonical(h, headers, err);
            json_decref(h);
        }
        if (!rc)
            rc = pack_chunks(m, pe, err);
        break;
    }
    case LG_EVENT_TOOL:
        if (!ev->tool.name || !*ev->tool.name) {
            rc = LG_ERR(err, LG_EINPUT, "a tool event needs a name");
            break;
        }
        ok = jset_str(o, "name", ev->tool.name) &&
             jset_str(o, "idempotency_key", ev->tool.idem_key);
        rc = jset_json(o, "result", ev->tool.result, "result", err);
        break;
    case LG_EVENT_ITERATION:
        ok = json_object_set_new(o, "index", json_integer(ev->iteration.index)) == 0;
        rc = jset_json(o, "state", ev->iteration.state, "state", err);
        break;
    case LG_EVENT_INVARIANT:
        if (!ev->invariant.name || !*ev->invariant.name) {
            rc = LG_ERR(err, LG_EINPUT, "an invariant event needs a name");
            break;
        }
        ok = jset_str(o, "name", ev->invariant.name) &&
             json_object_set_new(o, "pass", json_boolean(ev->invariant.pass)) == 0 &&
             jset_str(o, "detail", ev->invariant.detail);
        break;
    case LG_EVENT_VERIFY:
        ok = json_object_set_new(o, "pass", json_boolean(ev->verify.pass)) == 0 &&
             jset_str(o, "message", ev->verify.message);
        break;
    case LG_EVENT_DIVERGENCE:
        if (!ev->divergence.path) {
            rc = LG_ERR(err, LG_EINPUT, "a divergence event needs a path");
            break;
        }
        ok = json_object_set_new(o, "call", json_integer(ev->divergence.call)) == 0 &&
             jset_str(o, "path", ev->divergence.path) && jset_str(o, "diff", ev->divergence.diff);
        break;
    case LG_EVENT_NOTE:
        if (!ev->note.text) {
            rc = LG_ERR(err, LG_EINPUT, "a note event needs text");
            break;
        }
        ok = jset_str(o, "text", ev->note.text);
        rc = jset_json(o, "data", ev->note.data, "data", err);
        break;
    case LG_EVENT_END:
        if (!ev->end.reason || !*ev->end.reason) {
            rc = LG_ERR(err, LG_EINPUT, "an end event needs a reason");
            break;
        }
        ok = jset_str(o, "reason", ev->end.reason) &&
             json_object_set_new(o, "converged", json_boolean(ev->end.converged)) == 0 &&
             jset_str(o, "error", ev->end.error);
        break;
    default:
        rc = LG_ERR(err, LG_EINPUT, "unknown event kind %d", (int)ev->kind);
    }
    if (!rc && !ok)
        rc = LG_ERR(err, LG_EINPUT, "a text field is not valid UTF-8");
    if (!rc && json_object_size(o) > 0) {
        if (!(rc = lg_json_dump_canonical(o, &out, err)))
            pe->info = lg_buf_take(&out, NULL);
    }
    json_decref(o);
    lg_buf_release(&out);
    return rc;
}

int lg_store_session_append(lg_store_session *w, const lg_event *ev, uint32_t *seq,
                            int64_t *call, lg_err *err)
{
    pevent pe;
    lg_buf headers = LG_BUF_INIT;
    int rc;

    memset(&pe, 0, sizeof pe);
    pe.kind = ev->kind;
    pe.t_us = ev->t_us;
    pe.call = -1;
    pe.b[0] = pe.b[1] = pe.b[2] = -1;
    pthread_mutex_lock(&w->mu);
    if (w->nev >= UINT32_MAX) {
        rc = LG_ERR(err, LG_ETOOBIG, "too many events");
        goto out;
    }
    if ((rc = build_info(ev, &pe, &headers, err)))
        goto out;
    if (grow_array((void **)&w->evs, &w->cev, w->nev + 1, sizeof *w->evs))
        goto out_nomem;
    if (ev->kind == LG_EVENT_MODEL) {
        const lg_model_event *m = &ev->model;
        pe.provider = xstrdup(m->provider);
        pe.method = xstrdup(m->method);
        pe.path = xstrdup(m->path);
        pe.model = m->model && *m->model ? xstrdup(m->model) : NULL;
        if (!pe.provider || !pe.method || !pe.path || (m->model && *m->model && !pe.model))
            goto out_nomem;
        lg_hash_to_bytes(m->fingerprint, pe.fp);
        pe.has_status = true;
        pe.status = m->status;
        pe.usage = m->usage;
        pe.has_dur = true;
        pe.dur = m->latency_us;
        pe.b[0] = add_body(w, m->request.data, m->request.len, ROLE_REQ, w->last_req,
                           w->last_resp);
        pe.b[1] = add_body(w, m->response.data, m->response.len, ROLE_DOC, -1, -1);
        pe.b[2] = add_body(w, headers.data, headers.len, ROLE_DOC, -1, -1);
        if (pe.b[0] == -2 || pe.b[1] == -2 || pe.b[2] == -2)
            goto out_nomem; /* bodies added so far stay unused: harmless */
        pe.fp_is_req = pe.b[0] >= 0 && lg_hash_equal(w->bodies[pe.b[0]].hash, m->fingerprint);
        w->last_req = pe.b[0];
        w->last_resp = pe.b[1];
        pe.call = w->ncalls++;
    } else if (ev->kind == LG_EVENT_TOOL) {
        const lg_tool_event *t = &ev->tool;
        pe.has_status = t->exit_code >= 0;
        pe.status = t->exit_code;
        pe.has_dur = true;
        pe.dur = t->duration_us;
        pe.b[0] = add_body(w, t->args.data, t->args.len, ROLE_DOC, -1, -1);
        pe.b[1] = add_body(w, t->out.data, t->out.len, ROLE_DOC, -1, -1);
        pe.b[2] = add_body(w, t->err.data, t->err.len, ROLE_DOC, -1, -1);
        if (pe.b[0] == -2 || pe.b[1] == -2 || pe.b[2] == -2)
            goto out_nomem;
    } else if (ev->kind == LG_EVENT_END) {
        char *r = xstrdup(ev->end.reason), *e = xstrdup(ev->end.error);
        if (!r || (ev->end.error && !e)) {
            free(r);
            free(e);
            goto out_nomem;
        }
        free(w->end_reason);
        free(w->end_error);
        w->end_reason = r;
        w->end_error = e;
        w->end_converged = ev->end.converged ? 1 : 0;
    }
    if (seq)
        *seq = (uint32_t)w->nev;
    if (call)
        *call = pe.call;
    w->evs[w->nev++] = pe;
    pthread_mutex_unlock(&w->mu);
    lg_buf_release(&headers);
    return 0;
out_nomem:
    rc = LG_ERR(err, LG_ENOMEM, "out of memory");
out:
    lg_err_prefix(err, "%s: session '%s' event %zu (%s)", w->st->path, w->key, w->nev,
                  lg_event_kind_name(ev->kind));
    pthread_mutex_unlock(&w->mu);
    pevent_release(&pe);
    lg_buf_release(&headers);
    return rc;
}

/* ---- commit --------------------------------------------------------------- */

/* Looks a hash up: *id 0 when absent. */
static int blob_lookup(lg_store *st, conn *c, const lg_hash128 *h, int64_t *id, int *depth,
                       lg_err *err)
{
    unsigned char k[16];
    sqlite3_stmt *s = stmt(st, c, S_BLOB_LOOKUP, err);
    int rc;

    if (!s)
        return err ? err->code : LG_EINTERNAL;
    lg_hash_to_bytes(*h, k);
    sqlite3_bind_blob(s, 1, k, 8, SQLITE_STATIC);
    *id = 0;
    *depth = 0;
    /* the index has 8 bytes of the hash: compare all 16 */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_bytes(s, 2) == 16 && !memcmp(sqlite3_column_blob(s, 2), k, 16)) {
            *id = sqlite3_column_int64(s, 0);
            *depth = (int)sqlite3_column_int64(s, 1);
            break;
        }
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(st, c->db, rc, "looking up a body", err);
    return 0;
}

/* Codes body i: against its base (request k-1 and response k-1) when that
 * keeps the chain within MAX_DEPTH, else standalone with the dictionary. */
static int encode_body(lg_store *st, lg_codec *cd, lg_store_session *w, size_t i, lg_dict *dict,
                       bool allow_prefix, lg_err *err)
{
    pbody *b = &w->bodies[i];
    int rc, kind;

    lg_buf_reset(&b->enc);
    b->prefixed = false;
    b->depth = 0;
    if (allow_prefix && b->role == ROLE_REQ && b->base >= 0) {
        const pbody *p1 = &w->bodies[b->base];
        const pbody *p2 = b->base2 >= 0 ? &w->bodies[b->base2] : NULL;
        int d = p1->depth;
        if (p2 && p2->depth > d)
            d = p2->depth;
        if (d + 1 <= MAX_DEPTH) {
            rc = delta_encode(cd, st->delta_level, b->raw, b->len, p1->raw, p1->len, p2 ? p2->raw : NULL,
                              p2 ? p2->len : 0, &b->enc, err);
            if (rc)
                return rc;
            if (b->enc.len < b->len) {
                b->encoded = true;
                b->codec = LG_CODEC_PREFIX;
                b->dict = 0;
                b->prefixed = true;
                b->depth = d + 1;
                return 0;
            }
            /* no gain from the base (unrelated bytes): code it standalone */
            lg_buf_reset(&b->enc);
        }
    }
    rc = lg_codec_compress(cd, st->level, b->raw, b->len, dict, NULL, 0, &b->enc, &kind, err);
    if (rc)
        return rc;
    b->encoded = true;
    b->codec = kind;
    b->dict = kind == LG_CODEC_DICT ? lg_dict_id(dict) : 0;
    return 0;
}

static int blob_insert(lg_store *st, lg_store_session *w, pbody *b, lg_err *err)
{
    unsigned char k[16];
    sqlite3_stmt *s = stmt(st, st->w, S_BLOB_INSERT, err);
    int rc;

    if (!s)
        return err ? err->code : LG_EINTERNAL;
    lg_hash_to_bytes(b->hash, k);
    sqlite3_bind_blob(s, 1, k, 16, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, (int64_t)b->len);
    sqlite3_bind_int(s, 3, b->codec);
    if (b->dict)
        sqlite3_bind_int64(s, 4, b->dict);
    if (b->prefixed) {
        sqlite3_bind_int64(s, 5, w->bodies[b->base].id);
        if (b->base2 >= 0)
            sqlite3_bind_int64(s, 6, w->bodies[b->base2].id);
    }
    sqlite3_bind_int(s, 7, b->depth);
    sqlite3_bind_blob(s, 8, b->enc.data ? b->enc.data : "", (int)b->enc.len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_fail(st, st->w->db, rc, "writing a body", err);
    b->id = sqlite3_last_insert_rowid(st->w->db);
    return 0;
}

static int endpoint_id(lg_store *st, const pevent *e, int64_t *id, lg_err *err)
{
    const char *model = e->model ? e->model : "";
    sqlite3_stmt *s = stmt(st, st->w, S_EP_LOOKUP, err);
    int rc;

    if (!s)
        return err ? err->code : LG_EINTERNAL;
    sqlite3_bind_text(s, 1, e->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, e->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, e->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, model, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return 0;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_fail(st, st->w->db, rc, "looking up an endpoint", err);
    if (!(s = stmt(st, st->w, S_EP_INSERT, err)))
        return err ? err->code : LG_EINTERNAL;
    sqlite3_bind_text(s, 1, e->provider, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, e->method, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, e->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, model, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return db_fail(st, st->w->db, rc, "writing an endpoint", err);
    *id = sqlite3_last_insert_rowid(st->w->db);
    return 0;
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Packs the session's events; blob and endpoint ids must be known. */
static int pack_session(lg_store *st, lg_store_session *w, lg_codec *cd, lg_buf *out, lg_err *err)
{
    packer pk;
    int64_t ep_cache_id = 0;
    const pevent *ep_cache = NULL;
    int rc = 0;

    memset(&pk, 0, sizeof pk);
    lg_buf_init(&pk.buf);
    for (size_t i = 0; i < w->nev && !rc; i++) {
        const pevent *e = &w->evs[i];
        erec r;
        memset(&r, 0, sizeof r);
        r.kind = e->kind;
        r.t_us = e->t_us;
        if (e->kind == LG_EVENT_MODEL) {
            if (ep_cache && !strcmp(ep_cache->provider, e->provider) &&
                !strcmp(ep_cache->method, e->method) && !strcmp(ep_cache->path, e->path) &&
                !strcmp(ep_cache->model ? ep_cache->model : "", e->model ? e->model : "")) {
                r.endpoint = ep_cache_id;
            } else {
                if ((rc = endpoint_id(st, e, &r.endpoint, err)))
                    break;
                ep_cache = e;
                ep_cache_id = r.endpoint;
            }
            r.has_fp = !e->fp_is_req;
            memcpy(r.fp, e->fp, 16);
            r.usage = e->usage;
        }
        for (int k = 0; k < 3; k++)
            r.body[k] = e->b[k] >= 0 ? w->bodies[e->b[k]].id : 0;
        r.has_status = e->has_status;
        r.status = e->status;
        r.has_dur = e->has_dur;
        r.dur = e->dur;
        r.chunks = e->chunks;
        r.chunks_len = e->chunks_len;
        r.info = e->info;
        r.info_len = e->info ? strlen(e->info) : 0;
        if (pack_event(&pk, &r))
            rc = LG_ERR(err, LG_ENOMEM, "out of memory packing events");
    }
    if (!rc)
        rc = pack_finish(&pk, cd, out, err);
    lg_buf_release(&pk.buf);
    return rc;
}

static int write_session(lg_store *st, lg_store_session *w, lg_codec *cd, int64_t *sid,
                         lg_err *err)
{
    uint32_t n_calls = 0, n_tools = 0, n_iter = 0;
    int64_t tin = 0, tout = 0, tcached = 0, old = 0, lat = 0;
    lg_buf pack = LG_BUF_INIT;
    sqlite3_stmt *s;
    int rc;

    for (size_t i = 0; i < w->nev; i++) {
        const pevent *e = &w->evs[i];
        n_calls += e->kind == LG_EVENT_MODEL;
        n_tools += e->kind == LG_EVENT_TOOL;
        n_iter += e->kind == LG_EVENT_ITERATION;
        if (e->kind == LG_EVENT_MODEL) {
            tin += e->usage.in > 0 ? e->usage.in : 0;
            tout += e->usage.out > 0 ? e->usage.out : 0;
            tcached += e->usage.cached > 0 ? e->usage.cached : 0;
            lat += (int64_t)e->dur;
        }
    }
    if ((rc = pack_session(st, w, cd, &pack, err)) || (rc = fault_at(st, "commit:events", err)))
        goto out;
    /* replace the session with the same key */
    if (!(s = stmt(st, st->w, S_SESS_FIND, err))) {
        rc = err ? err->code : LG_EINTERNAL;
        goto out;
    }
    sqlite3_bind_text(s, 1, w->key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        old = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        rc = db_fail(st, st->w->db, rc, "finding the session", err);
        goto out;
    }
    if (old) {
        if (!(s = stmt(st, st->w, S_SESS_DEL, err))) {
            rc = err ? err->code : LG_EINTERNAL;
            goto out;
        }
        sqlite3_bind_int64(s, 1, old);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            rc = db_fail(st, st->w->db, rc, "replacing the session", err);
            goto out;
        }
    }
    if (!(s = stmt(st, st->w, S_SESS_INSERT, err))) {
        rc = err ? err->code : LG_EINTERNAL;
        goto out;
    }
    sqlite3_bind_text(s, 1, w->key, -1, SQLITE_STATIC);
    bind_opt_text(s, 2, w->run);
    bind_opt_text(s, 3, w->suite);
    if (w->case_index >= 0)
        sqlite3_bind_int64(s, 4, w->case_index);
    if (w->trial >= 0)
        sqlite3_bind_int64(s, 5, w->trial);
    sqlite3_bind_int64(s, 6, w->started_ms);
    sqlite3_bind_int64(s, 7, lg_clock_wall_ms());
    sqlite3_bind_int64(s, 8, (int64_t)w->nev);
    sqlite3_bind_int64(s, 9, n_calls);
    sqlite3_bind_int64(s, 10, n_tools);
    sqlite3_bind_int64(s, 11, n_iter);
    sqlite3_bind_int64(s, 12, tin);
    sqlite3_bind_int64(s, 13, tout);
    sqlite3_bind_int64(s, 14, tcached);
    sqlite3_bind_int64(s, 15, lat);
    bind_opt_text(s, 16, w->end_reason);
    if (w->end_converged >= 0)
        sqlite3_bind_int(s, 17, w->end_converged);
    bind_opt_text(s, 18, w->end_error);
    sqlite3_bind_blob(s, 19, pack.data, (int)pack.len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        rc = db_fail(st, st->w->db, rc, "writing the session", err);
        goto out;
    }
    *sid = sqlite3_last_insert_rowid(st->w->db);
    rc = fault_at(st, "commit:session", err);
out:
    lg_buf_release(&pack);
    return rc;
}

static void maybe_train(lg_store *st);

/* Phase B, under the writer lock. *new_n/new_bytes count standalone bodies
 * added (dictionary training material). */
/* Whether phase A of a session that saw commit `seq_a`, together with
 * `recent`, still tells which of its bodies the file has: no other
 * connection wrote since (PRAGMA data_version on the writer connection) and
 * `recent` covers every commit after seq_a. Under wlock, in a write
 * transaction. */
static int phase_a_valid(lg_store *st, uint64_t seq_a, bool *valid, lg_err *err)
{
    sqlite3_stmt *s = stmt(st, st->w, S_DATA_VERSION, err);
    int64_t dv;
    int rc;

    if (!s)
        return err ? err->code : LG_EINTERNAL;
    rc = sqlite3_step(s);
    dv = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return db_fail(st, st->w->db, rc, "reading the data version", err);
    if (!st->dv_known || dv != st->data_version) {
        /* Someone else wrote (perhaps `loopgate compact`, which deletes
         * blobs): sessions looked up before now look up again. */
        st->data_version = dv;
        st->dv_known = true;
        recent_clear(st->recent);
        st->recent_from = atomic_fetch_add(&st->commit_seq, 1) + 1;
    }
    *valid = seq_a >= st->recent_from;
    return 0;
}

/* After commit `seq` added w's bodies marked `added`: remember them. */
static void recent_note(lg_store *st, lg_store_session *w, uint64_t seq)
{
    size_t k = 0;

    for (size_t i = 0; i < w->nb; i++)
        k += w->bodies[i].added;
    if (st->recent->n + k > RECENT_MAX) {
        recent_clear(st->recent);
        st->recent_from = seq - 1;
    }
    for (size_t i = 0; i < w->nb; i++) {
        const pbody *b = &w->bodies[i];
        if (b->added && recent_put(st->recent, b->hash, b->id, b->depth)) {
            recent_clear(st->recent); /* out of memory: forget, look up again */
            st->recent_from = seq;
            break;
        }
    }
}

static int commit_locked(lg_store *st, lg_store_session *w, lg_codec *cd, lg_dict *dict,
                         uint64_t seq_a, int64_t *sid, uint64_t *new_n, uint64_t *new_bytes,
                         lg_err *err)
{
    bool valid = false;
    int rc;

    if ((rc = exec_sql(st, st->w, "BEGIN IMMEDIATE", "locking the file to write", err)))
        return rc;
    if ((rc = fault_at(st, "commit:begin", err)))
        goto out_rollback;
    /* A concurrent `loopgate compact` may have replaced the dictionary. */
    if (dict) {
        int64_t there = 0;
        sqlite3_stmt *s = stmt(st, st->w, S_DICT_EXISTS, err);
        if (!s) {
            rc = err ? err->code : LG_EINTERNAL;
            goto out_rollback;
        }
        sqlite3_bind_int64(s, 1, lg_dict_id(dict));
        rc = sqlite3_step(s);
        there = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) {
            rc = db_fail(st, st->w->db, rc, "checking the dictionary", err);
            goto out_rollback;
        }
        rc = 0;
        if (!there) {
            dict = NULL;
            for (size_t i = 0; i < w->nb; i++)
                if (w->bodies[i].encoded && w->bodies[i].dict &&
                    (rc = encode_body(st, cd, w, i, NULL, true, err)))
                    goto out_rollback;
        }
    }
    if ((rc = phase_a_valid(st, seq_a, &valid, err)))
        goto out_rollback;
    for (size_t i = 0; i < w->nb; i++) {
        pbody *b = &w->bodies[i];
        int64_t id = 0;
        int depth = 0;
        b->added = false;
        if (valid && b->exists) {
            id = b->id;
            depth = b->depth;
        } else if (valid) {
            const recent_ent *re = recent_get(st->recent, b->hash);
            if (re) {
                id = re->id;
                depth = re->depth;
            }
        } else if ((rc = blob_lookup(st, st->w, &b->hash, &id, &depth, err))) {
            goto out_rollback;
        }
        if (id) {
            b->id = id;
            b->depth = depth;
            continue;
        }
        if (!b->encoded && (rc = encode_body(st, cd, w, i, dict, false, err)))
            goto out_rollback;
        if (b->prefixed) {
            /* depths as they really are in the file now */
            int d = w->bodies[b->base].depth;
            if (b->base2 >= 0 && w->bodies[b->base2].depth > d)
                d = w->bodies[b->base2].depth;
            if (d + 1 > MAX_DEPTH) {
                if ((rc = encode_body(st, cd, w, i, dict, false, err)))
                    goto out_rollback;
            } else {
                b->depth = d + 1;
            }
        }
        if ((rc = blob_insert(st, w, b, err)))
            goto out_rollback;
        b->added = true;
        (*new_n)++;
        if (!b->prefixed)
            *new_bytes += b->len;
        else if (b->len > w->bodies[b->base].len)
            *new_bytes += b->len - w->bodies[b->base].len;
    }
    if ((rc = fault_at(st, "commit:blobs", err)) || (rc = write_session(st, w, cd, sid, err)) ||
        (rc = fault_at(st, "commit:end", err)))
        goto out_rollback;
    if ((rc = exec_sql(st, st->w, "COMMIT", "committing the session", err)))
        goto out_rollback;
    {
        uint64_t seq = atomic_load(&st->commit_seq) + 1;
        recent_note(st, w, seq);
        atomic_store(&st->commit_seq, seq);
    }
    return 0;
out_rollback:
    sqlite3_exec(st->w->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int lg_store_session_commit(lg_store_session *w, int64_t *id, lg_err *err)
{
    lg_store *st = w->st;
    lg_dict *dict = current_dict(st);
    lg_codec *cd = NULL;
    uint64_t new_n = 0, new_bytes = 0, seq_a;
    int64_t sid = 0;
    conn *c;
    int rc = 0;

    pthread_mutex_lock(&w->mu); /* wait for appends in flight */
    pthread_mutex_unlock(&w->mu);
    /* Phase A, unlocked: skip bodies the file has (one read snapshot on a
     * pooled connection, taken after reading commit_seq), then code the
     * others. */
    seq_a = atomic_load(&st->commit_seq);
    if (!(c = pool_get(st, err))) {
        rc = err ? err->code : LG_ENOMEM;
        goto out;
    }
    rc = exec_sql(st, c, "BEGIN", "looking up bodies", err); /* one read transaction */
    for (size_t i = 0; i < w->nb && !rc; i++) {
        pbody *b = &w->bodies[i];
        rc = blob_lookup(st, c, &b->hash, &b->id, &b->depth, err);
        b->exists = b->id != 0;
    }
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    pool_put(st, c);
    if (rc || !(cd = codec_get(st, err))) {
        rc = rc ? rc : LG_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w->nb && !rc; i++)
        if (!w->bodies[i].exists)
            rc = encode_body(st, cd, w, i, dict, true, err);
    if (rc || (rc = fault_at(st, "commit:encoded", err)))
        goto out;
    /* Phase B: one transaction. */
    pthread_mutex_lock(&st->wlock);
    rc = commit_locked(st, w, cd, dict, seq_a, &sid, &new_n, &new_bytes, err);
    if (!rc) {
        pthread_mutex_lock(&st->mu);
        st->samples_n += new_n;
        st->samples_bytes += new_bytes;
        pthread_mutex_unlock(&st->mu);
    }
    pthread_mutex_unlock(&st->wlock);
    if (!rc)
        maybe_train(st);
out:
    codec_put(st, cd);
    if (rc)
        lg_err_prefix(err, "%s: session '%s' not saved", st->path, w->key);
    else if (id)
        *id = sid;
    lg_store_session_abort(w);
    return rc;
}

/* ---- dictionary training ------------------------------------------------ */

typedef struct samples {
    lg_buf buf;     /* samples end to end */
    size_t *sizes;
    int64_t *ids;   /* blob of each sample */
    size_t n, cap, cap2;
} samples;

static void samples_release(samples *s)
{
    lg_buf_release(&s->buf);
    free(s->sizes);
    free(s->ids);
    memset(s, 0, sizeof *s);
    lg_buf_init(&s->buf);
}

/* The bodies blob `id` is coded against (0 when standalone). */
static int blob_refs(lg_store *st, conn *c, int64_t id, int64_t *base, int64_t *base2, lg_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(c->db,
                                "SELECT coalesce(base, 0), coalesce(base2, 0) FROM blobs "
                                "WHERE id = ?1 AND codec = 3",
                                -1, &s, NULL);
    *base = *base2 = 0;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *base = sqlite3_column_int64(s, 0);
            *base2 = sqlite3_column_int64(s, 1);
        }
        sqlite3_finalize(s);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(st, c->db, rc, "reading bodies", err);
    return 0;
}

/* Collects standalone bodies (`where` selects them) as training samples:
 * the first DICT_SAMPLE_MAX bytes of each, DICT_TRAIN_MAX in all. */
static int collect_samples(lg_store *st, conn *c, lg_codec *cd, bcache *cache, const char *where,
                           samples *out, lg_err *err)
{
    char sql[256];
    sqlite3_stmt *s;
    int64_t *ids = NULL;
    size_t nids = 0, cids = 0, total = 0;
    int rc;

    snprintf(sql, sizeof sql, "SELECT id, raw_len FROM blobs WHERE %s ORDER BY id", where);
    (void)0;
    rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return db_fail(st, c->db, rc, "reading bodies", err);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && total < DICT_TRAIN_MAX) {
        int64_t len = sqlite3_column_int64(s, 1);
        if (len <= 8)
            continue;
        if (grow_array((void **)&ids, &cids, nids + 1, sizeof *ids)) {
            rc = SQLITE_NOMEM;
            break;
        }
        ids[nids++] = sqlite3_column_int64(s, 0);
        total += (size_t)(len < DICT_SAMPLE_MAX ? len : DICT_SAMPLE_MAX);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(ids);
        return db_fail(st, c->db, rc, "reading bodies", err);
    }
    rc = 0;
    for (size_t i = 0; i < nids && !rc; i++) {
        const bent *e;
        size_t take;
        if (cache->bytes > CACHE_SOFT_MAX)
            bcache_clear(cache);
        const char *from;
        int64_t base = 0, base2 = 0;
        if ((rc = blob_decode(st, c, cd, cache, ids[i], 0, &e, err)) ||
            (rc = blob_refs(st, c, ids[i], &base, &base2, err)))
            break;
        from = e->data;
        take = e->len;
        if (base > 0) {
            /* a delta: what is new is what it adds to its base */
            const bent *b;
            size_t pre = 0, suf = 0;
            if ((rc = blob_decode(st, c, cd, cache, base, 0, &b, err)))
                break;
            while (pre < e->len && pre < b->len && e->data[pre] == b->data[pre])
                pre++;
            while (suf < e->len - pre && suf < b->len - pre &&
                   e->data[e->len - 1 - suf] == b->data[b->len - 1 - suf])
                suf++;
            from = e->data + pre;
            take = e->len - pre - suf;
        }
        if (take < 8)
            continue;
        if (take > DICT_SAMPLE_MAX)
            take = DICT_SAMPLE_MAX;
        if (grow_array((void **)&out->sizes, &out->cap, out->n + 1, sizeof *out->sizes) ||
            grow_array((void **)&out->ids, &out->cap2, out->n + 1, sizeof *out->ids) ||
            lg_buf_append(&out->buf, from, take)) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory collecting samples");
            break;
        }
        out->sizes[out->n] = take;
        out->ids[out->n++] = ids[i];
    }
    free(ids);
    return rc;
}

/* Trains a dictionary from `smp` into `d` (no database involved). */
static int train_samples(const samples *smp, lg_buf *d, lg_err *err)
{
    size_t cap = DICT_SIZE;

    /* zstd wants material several times the dictionary's size */
    if (cap > smp->buf.len / 4)
        cap = smp->buf.len / 4;
    if (cap < 1024)
        return LG_ERR(err, LG_EINPUT, "not enough samples to train a dictionary (%zu bytes)",
                      smp->buf.len);
    return lg_dict_train(smp->buf.data, smp->sizes, smp->n, cap, d, err);
}

/* Stores the trained dictionary `d` (taken: released here); `*out` gets it
 * loaded at `level` (owned by the caller). */
static int save_dict(lg_store *st, conn *c, lg_buf *d, size_t nsamples, int level,
                     lg_dict **out, lg_err *err)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(c->db, "INSERT INTO dicts(data, samples, trained_ms) VALUES(?1, ?2, ?3)",
                            -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(s, 1, d->data, (int)d->len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, (int64_t)nsamples);
        sqlite3_bind_int64(s, 3, lg_clock_wall_ms());
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
    }
    if (rc != SQLITE_DONE) {
        lg_buf_release(d);
        return db_fail(st, c->db, rc, "writing a dictionary", err);
    }
    *out = lg_dict_new(d->data, d->len, level, sqlite3_last_insert_rowid(c->db), err);
    lg_buf_release(d);
    return *out ? 0 : (err ? err->code : LG_ENOMEM);
}

/* Trains a dictionary from `smp` and stores it; `*out` gets it loaded at
 * `level` (owned by the caller). */
static int store_new_dict(lg_store *st, conn *c, const samples *smp, int level, lg_dict **out,
                          lg_err *err)
{
    lg_buf d = LG_BUF_INIT;
    int rc = train_samples(smp, &d, err);
    if (rc) {
        lg_buf_release(&d);
        return rc;
    }
    return save_dict(st, c, &d, smp->n, level, out, err);
}

/* Recodes blob `id` (raw bytes given) with `dict`, keeping the smaller. */
static int recode_with_dict(lg_store *st, conn *c, lg_codec *cd, int64_t id, const bent *raw,
                            lg_dict *dict, int level, bool force, lg_err *err)
{
    lg_buf enc = LG_BUF_INIT;
    sqlite3_stmt *s;
    int kind, rc;

    if ((rc = lg_codec_compress(cd, level, raw->data, raw->len, dict, NULL, 0, &enc, &kind, err)))
        return rc;
    rc = sqlite3_prepare_v2(c->db,
                            force ? "UPDATE blobs SET codec = ?1, dict = ?2, data = ?3, base = "
                                    "NULL, base2 = NULL, depth = 0 WHERE id = ?4"
                                  : "UPDATE blobs SET codec = ?1, dict = ?2, data = ?3 WHERE id = "
                                    "?4 AND length(data) > ?5",
                            -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int(s, 1, kind);
        if (kind == LG_CODEC_DICT)
            sqlite3_bind_int64(s, 2, lg_dict_id(dict));
        sqlite3_bind_blob(s, 3, enc.data ? enc.data : "", (int)enc.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, id);
        if (!force)
            sqlite3_bind_int64(s, 5, (int64_t)enc.len);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
    }
    lg_buf_release(&enc);
    if (rc != SQLITE_DONE)
        return db_fail(st, c->db, rc, "recoding a body", err);
    return 0;
}

/* Recodes delta blob `id` (raw bytes given) against its bases at `level`. */
static int recode_delta(lg_store *st, conn *c, lg_codec *cd, bcache *cache, int64_t id,
                        int64_t base, int64_t base2, const bent *raw, int level, lg_err *err)
{
    const bent *b1, *b2 = NULL;
    lg_buf enc = LG_BUF_INIT;
    sqlite3_stmt *s;
    int rc;

    if ((rc = blob_decode(st, c, cd, cache, base, 0, &b1, err)) ||
        (base2 > 0 && (rc = blob_decode(st, c, cd, cache, base2, 0, &b2, err))))
        return rc;
    if ((rc = delta_encode(cd, level, raw->data, raw->len, b1->data, b1->len, b2 ? b2->data : NULL,
                           b2 ? b2->len : 0, &enc, err)))
        return rc;
    rc = sqlite3_prepare_v2(c->db, "UPDATE blobs SET data = ?1 WHERE id = ?2 AND length(data) > ?3",
                            -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_blob(s, 1, enc.data ? enc.data : "", (int)enc.len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, id);
        sqlite3_bind_int64(s, 3, (int64_t)enc.len);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
    }
    lg_buf_release(&enc);
    if (rc != SQLITE_DONE)
        return db_fail(st, c->db, rc, "recoding a body", err);
    return 0;
}

/* Standalone bodies coded again with a new dictionary, to be written. */
typedef struct recodes {
    lg_buf enc;      /* the new frames end to end */
    struct recode {
        int64_t id;
        int kind;
        size_t off, len;
    } *v;
    size_t n, cap;
} recodes;

static void recodes_release(recodes *r)
{
    lg_buf_release(&r->enc);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* Codes again with `d`, on a read snapshot and without the writer lock, the
 * first RECODE_MAX standalone bodies that have no dictionary, keeping the
 * frames that come out smaller. */
static int recode_collect(lg_store *st, lg_codec *cd, lg_dict *d, recodes *out, lg_err *err)
{
    static const char sql[] = "SELECT id, length(data) FROM blobs WHERE base IS NULL AND "
                              "dict IS NULL AND codec IN (0, 1) ORDER BY id LIMIT " LG_STR(RECODE_MAX);
    bcache cache;
    int64_t *ids = NULL, *lens = NULL;
    size_t nids = 0, cids = 0, clens = 0;
    sqlite3_stmt *s = NULL;
    conn *c;
    int rc;

    memset(&cache, 0, sizeof cache);
    if (!(c = pool_get(st, err)))
        return err ? err->code : LG_ENOMEM;
    if ((rc = exec_sql(st, c, "BEGIN", "reading bodies to recode", err)))
        goto out;
    if ((rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL)) != SQLITE_OK) {
        rc = db_fail(st, c->db, rc, "reading bodies to recode", err);
        goto out;
    }
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (grow_array((void **)&ids, &cids, nids + 1, sizeof *ids) ||
            grow_array((void **)&lens, &clens, nids + 1, sizeof *lens)) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
        ids[nids] = sqlite3_column_int64(s, 0);
        lens[nids++] = sqlite3_column_int64(s, 1);
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(st, c->db, rc, "reading bodies to recode", err);
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < nids && !rc; i++) {
        const bent *e;
        size_t at = out->enc.len;
        int kind;
        if (cache.bytes > CACHE_SOFT_MAX)
            bcache_clear(&cache);
        if ((rc = blob_decode(st, c, cd, &cache, ids[i], 0, &e, err)) ||
            (rc = lg_codec_compress(cd, st->level, e->data, e->len, d, NULL, 0, &out->enc, &kind,
                                    err)))
            break;
        if ((int64_t)(out->enc.len - at) >= lens[i]) {
            lg_buf_truncate(&out->enc, at);
            continue;
        }
        if (grow_array((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v)) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            break;
        }
        out->v[out->n++] = (struct recode){ids[i], kind, at, out->enc.len - at};
    }
out:
    sqlite3_finalize(s);
    sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    pool_put(st, c);
    bcache_clear(&cache);
    free(ids);
    free(lens);
    return rc;
}

/* Writes the recoded frames in one transaction (under wlock). A body that
 * changed meanwhile (compacted, or recoded by someone else) is left alone. */
static int recode_apply(lg_store *st, const recodes *r, int64_t dict_id, lg_err *err)
{
    conn *c = st->w;
    sqlite3_stmt *s;
    int rc;

    if ((rc = exec_sql(st, c, "BEGIN IMMEDIATE", "locking the file", err)))
        return rc;
    rc = sqlite3_prepare_v2(c->db,
                            "UPDATE blobs SET codec = ?1, dict = ?2, data = ?3 WHERE id = ?4 AND "
                            "base IS NULL AND dict IS NULL AND length(data) > ?5",
                            -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(st, c->db, rc, "recoding bodies", err);
        goto out_rollback;
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct recode *v = &r->v[i];
        sqlite3_bind_int(s, 1, v->kind);
        if (v->kind == LG_CODEC_DICT)
            sqlite3_bind_int64(s, 2, dict_id);
        else
            sqlite3_bind_null(s, 2);
        sqlite3_bind_blob(s, 3, r->enc.data + v->off, (int)v->len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 4, v->id);
        sqlite3_bind_int64(s, 5, (int64_t)v->len);
        rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(s);
            rc = db_fail(st, c->db, rc, "recoding a body", err);
            goto out_rollback;
        }
    }
    sqlite3_finalize(s);
    if ((rc = exec_sql(st, c, "COMMIT", "saving recoded bodies", err)))
        goto out_rollback;
    /* Recoding left holes in the first pages; while the file is small,
     * rewriting it is cheap and gets them back. Failing is harmless. */
    {
        int64_t pages = 0;
        if (query_int(st, c, "PRAGMA page_count", &pages, NULL) == 0 && pages * PAGE_SIZE < VACUUM_MAX)
            sqlite3_exec(c->db, "VACUUM", NULL, NULL, NULL);
    }
    return 0;
out_rollback:
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Trains the store's first dictionary, stores it and recodes the bodies
 * written without one. Commits go on meanwhile: the samples are read from a
 * snapshot and the training and recoding run without the writer lock, which
 * is taken only to store the dictionary and to write the recoded bodies. */
static int train_dict(lg_store *st, lg_err *err)
{
    conn *c;
    lg_codec *cd = NULL;
    lg_buf raw = LG_BUF_INIT;
    bcache cache;
    samples smp;
    recodes rec;
    lg_dict *d = NULL;
    int64_t nd = 0;
    int rc;

    memset(&cache, 0, sizeof cache);
    memset(&smp, 0, sizeof smp);
    memset(&rec, 0, sizeof rec);
    lg_buf_init(&smp.buf);
    lg_buf_init(&rec.enc);
    if (!(cd = codec_get(st, err)))
        return LG_ENOMEM;
    if (!(c = pool_get(st, err))) {
        rc = err ? err->code : LG_ENOMEM;
        goto out;
    }
    if (!(rc = exec_sql(st, c, "BEGIN", "reading samples", err))) {
        rc = query_int(st, c, "SELECT coalesce(max(id), 0) FROM dicts", &nd, err);
        if (!rc && nd == 0)
            rc = collect_samples(st, c, cd, &cache, "1", &smp, err);
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    }
    pool_put(st, c);
    bcache_clear(&cache);
    if (rc || (nd == 0 && (rc = train_samples(&smp, &raw, err))) ||
        (rc = fault_at(st, "train:trained", err)))
        goto out;

    pthread_mutex_lock(&st->wlock);
    c = st->w;
    if ((rc = exec_sql(st, c, "BEGIN IMMEDIATE", "locking the file", err)))
        goto out_unlock;
    if ((rc = query_int(st, c, "SELECT coalesce(max(id), 0) FROM dicts", &nd, err)))
        goto out_rollback;
    if (nd > 0) { /* another process trained one: use it */
        exec_sql(st, c, "COMMIT", "reading", NULL);
        if (!(rc = load_dict_row(st, c, nd, &d, err))) {
            pthread_mutex_lock(&st->mu);
            st->cur = d;
            pthread_mutex_unlock(&st->mu);
        }
        goto out_unlock;
    }
    if ((rc = save_dict(st, c, &raw, smp.n, st->level, &d, err)) ||
        (rc = exec_sql(st, c, "COMMIT", "saving the dictionary", err)))
        goto out_rollback;
    pthread_mutex_lock(&st->mu);
    if (grow_array((void **)&st->dicts, &st->cdicts, st->ndicts + 1, sizeof *st->dicts)) {
        pthread_mutex_unlock(&st->mu);
        lg_dict_free(d); /* stays in the file; loaded on demand for decoding */
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out_unlock;
    }
    st->dicts[st->ndicts++] = d;
    st->cur = d; /* new bodies use it from now on */
    pthread_mutex_unlock(&st->mu);
    pthread_mutex_unlock(&st->wlock);

    /* The bodies written so far (the samples among them) were coded
     * without a dictionary: code them again, so a small file is as small
     * as a big one. */
    {
        lg_err e = LG_ERR_INIT;
        int rrc = recode_collect(st, cd, d, &rec, &e);
        if (!rrc) {
            pthread_mutex_lock(&st->wlock);
            rrc = recode_apply(st, &rec, lg_dict_id(d), &e);
            pthread_mutex_unlock(&st->wlock);
        }
        if (rrc) /* they decode as they are; `loopgate compact` recodes them */
            lg_warn("%s: bodies written before the dictionary keep their coding: %s", st->path,
                    e.msg);
    }
    goto out;
out_rollback:
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    lg_dict_free(d);
out_unlock:
    pthread_mutex_unlock(&st->wlock);
out:
    codec_put(st, cd);
    lg_buf_release(&raw);
    recodes_release(&rec);
    samples_release(&smp);
    return rc;
}

/* Trains a dictionary once enough standalone bodies exist. Called without
 * the writer lock; one thread trains at a time, the others go on. */
static void maybe_train(lg_store *st)
{
    lg_err e = LG_ERR_INIT;
    bool go;
    int rc;

    pthread_mutex_lock(&st->mu);
    go = !st->cur && !st->training && st->dict_min_samples &&
         st->samples_n >= st->dict_min_samples && st->samples_bytes >= st->dict_min_bytes;
    st->training |= go;
    pthread_mutex_unlock(&st->mu);
    if (!go)
        return;
    rc = train_dict(st, &e);
    pthread_mutex_lock(&st->mu);
    st->training = false;
    if (rc) { /* try again with twice the material */
        st->dict_min_samples *= 2;
        st->dict_min_bytes *= 2;
    }
    pthread_mutex_unlock(&st->mu);
    if (!rc)
        return;
    if (e.code == LG_EINPUT)
        lg_debug("%s: no dictionary yet: %s", st->path, e.msg);
    else
        lg_warn("%s: could not train a dictionary (bodies stay uncompressed by one): %s",
                st->path, e.msg);
}

/* ---- reading -------------------------------------------------------------- */

typedef struct rev {
    lg_event ev;
    int64_t body[3];
    bool loaded;
    bool fp_from_req; /* fingerprint is the request body's hash */
    lg_chunk *chunks;
    char *s[3]; /* strings the event points to */
} rev;

struct lg_session_reader {
    lg_store *st;
    pthread_mutex_t mu;
    lg_session_info info;
    rev *evs;
    size_t n;
    size_t *calls; /* seq of each model call */
    size_t ncalls;
    bcache cache;
    i64map rows;   /* the session's blob rows, read with its events: values
                      point into rowv, their data into rowdata */
    brow *rowv;
    char *rowdata;
};

static char *col_strdup(sqlite3_stmt *s, int i, bool *oom)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    char *p;
    if (!t)
        return NULL;
    if (!(p = xstrdup((const char *)t)))
        *oom = true;
    return p;
}

static void info_release(lg_session_info *in)
{
    free((char *)in->key);
    free((char *)in->run);
    free((char *)in->suite);
    free((char *)in->reason);
    free((char *)in->error);
}

/* Fills `in` from a row of SESSION_COLS; strings owned by `in`. */
static int read_info(sqlite3_stmt *s, lg_session_info *in, lg_err *err)
{
    bool oom = false;
    memset(in, 0, sizeof *in);
    in->id = sqlite3_column_int64(s, 0);
    in->key = col_strdup(s, 1, &oom);
    in->run = col_strdup(s, 2, &oom);
    in->suite = col_strdup(s, 3, &oom);
    in->case_index = sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 4);
    in->trial = sqlite3_column_type(s, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 5);
    in->started_ms = sqlite3_column_int64(s, 6);
    in->committed_ms = sqlite3_column_int64(s, 7);
    in->n_events = (uint32_t)sqlite3_column_int64(s, 8);
    in->n_calls = (uint32_t)sqlite3_column_int64(s, 9);
    in->n_tools = (uint32_t)sqlite3_column_int64(s, 10);
    in->n_iterations = (uint32_t)sqlite3_column_int64(s, 11);
    in->tokens.in = sqlite3_column_int64(s, 12);
    in->tokens.out = sqlite3_column_int64(s, 13);
    in->tokens.cached = sqlite3_column_int64(s, 14);
    in->latency_us = (uint64_t)sqlite3_column_int64(s, 15);
    in->reason = col_strdup(s, 16, &oom);
    in->converged = sqlite3_column_type(s, 17) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 17);
    in->error = col_strdup(s, 18, &oom);
    if (oom || !in->key) {
        info_release(in);
        memset(in, 0, sizeof *in);
        return LG_ERR(err, oom ? LG_ENOMEM : LG_EINPUT, oom ? "out of memory" : "session without a key");
    }
    return 0;
}

static const ep *ep_get(lg_store *st, conn *c, int64_t id, lg_err *err)
{
    sqlite3_stmt *s;
    ep *e = NULL;
    bool oom = false;
    int rc;

    if (id <= 0 || id > INT32_MAX) {
        LG_ERR(err, LG_EINPUT, "endpoint %lld is corrupt", (long long)id);
        return NULL;
    }
    pthread_mutex_lock(&st->mu);
    if ((size_t)id < st->ceps && st->eps[id])
        e = st->eps[id];
    pthread_mutex_unlock(&st->mu);
    if (e)
        return e;
    if (!(s = stmt(st, c, S_EP_GET, err)))
        return NULL;
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(s);
        if (rc == SQLITE_DONE)
            LG_ERR(err, LG_EINPUT, "endpoint %lld is missing (the file is corrupt)", (long long)id);
        else
            db_fail(st, c->db, rc, "reading an endpoint", err);
        return NULL;
    }
    if (!(e = calloc(1, sizeof *e))) {
        sqlite3_reset(s);
        LG_ERR(err, LG_ENOMEM, "out of memory");
        return NULL;
    }
    e->provider = col_strdup(s, 0, &oom);
    e->method = col_strdup(s, 1, &oom);
    e->path = col_strdup(s, 2, &oom);
    e->model = col_strdup(s, 3, &oom);
    sqlite3_reset(s);
    if (e->model && !*e->model) {
        free(e->model);
        e->model = NULL;
    }
    if (oom || !e->provider || !e->method || !e->path) {
        free(e->provider);
        free(e->method);
        free(e->path);
        free(e->model);
        free(e);
        LG_ERR(err, oom ? LG_ENOMEM : LG_EINPUT, "endpoint %lld is corrupt", (long long)id);
        return NULL;
    }
    pthread_mutex_lock(&st->mu);
    if ((size_t)id < st->ceps && st->eps[id]) { /* another thread was first */
        ep *mine = e;
        e = st->eps[id];
        pthread_mutex_unlock(&st->mu);
        free(mine->provider);
        free(mine->method);
        free(mine->path);
        free(mine->model);
        free(mine);
        return e;
    }
    if ((size_t)id >= st->ceps) {
        size_t ncap = st->ceps ? st->ceps : 16;
        ep **p;
        while (ncap <= (size_t)id)
            ncap *= 2;
        if (!(p = realloc(st->eps, ncap * sizeof *p))) {
            pthread_mutex_unlock(&st->mu);
            free(e->provider);
            free(e->method);
            free(e->path);
            free(e->model);
            free(e);
            LG_ERR(err, LG_ENOMEM, "out of memory");
            return NULL;
        }
        memset(p + st->ceps, 0, (ncap - st->ceps) * sizeof *p);
        st->eps = p;
        st->ceps = ncap;
    }
    st->eps[id] = e;
    pthread_mutex_unlock(&st->mu);
    return e;
}

/* A JSON member as an owned canonical dump, or NULL. */
static char *json_member_dump(json_t *o, const char *k, bool *oom)
{
    json_t *v = json_object_get(o, k);
    lg_buf b = LG_BUF_INIT;
    if (!v || json_is_null(v))
        return NULL;
    if (lg_json_dump_canonical(v, &b, NULL)) {
        *oom = true;
        return NULL;
    }
    return lg_buf_take(&b, NULL);
}

static char *json_member_str(json_t *o, const char *k, bool *oom)
{
    const char *s = lg_json_str(o, k, NULL);
    char *p = s ? xstrdup(s) : NULL;
    if (s && !p)
        *oom = true;
    return p;
}

/* Sets the event's fields kept in the info JSON. */
static int apply_info(rev *r, const char *info, size_t len, lg_err *err)
{
    json_t *o = NULL;
    bool oom = false;
    lg_event *ev = &r->ev;

    if (info) {
        o = lg_json_parse(info, len, "info", err);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            return LG_ERR(err, LG_EINPUT, "event info is corrupt");
        }
    } else if (ev->kind != LG_EVENT_MODEL && ev->kind != LG_EVENT_VERIFY) {
        return LG_ERR(err, LG_EINPUT, "event info is missing");
    }
    switch (ev->kind) {
    case LG_EVENT_MODEL:
        ev->model.fault = r->s[0] = json_member_str(o, "fault", &oom);
        break;
    case LG_EVENT_TOOL:
        ev->tool.name = r->s[0] = json_member_str(o, "name", &oom);
        ev->tool.idem_key = r->s[1] = json_member_str(o, "idempotency_key", &oom);
        ev->tool.result = r->s[2] = json_member_dump(o, "result", &oom);
        if (!ev->tool.name)
            ev->tool.name = "";
        break;
    case LG_EVENT_ITERATION:
        ev->iteration.index = lg_json_int(o, "index", 0);
        ev->iteration.state = r->s[0] = json_member_dump(o, "state", &oom);
        break;
    case LG_EVENT_INVARIANT:
        ev->invariant.name = r->s[0] = json_member_str(o, "name", &oom);
        ev->invariant.pass = json_is_true(json_object_get(o, "pass"));
        ev->invariant.detail = r->s[1] = json_member_str(o, "detail", &oom);
        if (!ev->invariant.name)
            ev->invariant.name = "";
        break;
    case LG_EVENT_VERIFY:
        ev->verify.pass = json_is_true(json_object_get(o, "pass"));
        ev->verify.message = r->s[0] = json_member_str(o, "message", &oom);
        break;
    case LG_EVENT_DIVERGENCE:
        ev->divergence.call = lg_json_int(o, "call", -1);
        ev->divergence.path = r->s[0] = json_member_str(o, "path", &oom);
        ev->divergence.diff = r->s[1] = json_member_str(o, "diff", &oom);
        if (!ev->divergence.path)
            ev->divergence.path = "";
        break;
    case LG_EVENT_NOTE:
        ev->note.text = r->s[0] = json_member_str(o, "text", &oom);
        ev->note.data = r->s[1] = json_member_dump(o, "data", &oom);
        if (!ev->note.text)
            ev->note.text = "";
        break;
    case LG_EVENT_END:
        ev->end.reason = r->s[0] = json_member_str(o, "reason", &oom);
        ev->end.converged = json_is_true(json_object_get(o, "converged"));
        ev->end.error = r->s[1] = json_member_str(o, "error", &oom);
        if (!ev->end.reason)
            ev->end.reason = "";
        break;
    default:
        break;
    }
    json_decref(o);
    return oom ? LG_ERR(err, LG_ENOMEM, "out of memory") : 0;
}

static int unpack_chunks(rev *r, const unsigned char *p, size_t len, lg_err *err)
{
    const unsigned char *end = p + len;
    uint64_t n, t = 0;

    if (!get_varint(&p, end, &n) || n == 0 || n > len)
        return LG_ERR(err, LG_EINPUT, "stream chunks are corrupt");
    if (!(r->chunks = calloc((size_t)n, sizeof *r->chunks)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t l, z;
        if (!get_varint(&p, end, &l) || !get_varint(&p, end, &z))
            return LG_ERR(err, LG_EINPUT, "stream chunks are corrupt");
        t += (uint64_t)((int64_t)(z >> 1) ^ -(int64_t)(z & 1));
        r->chunks[i].len = (size_t)l;
        r->chunks[i].t_us = t;
    }
    r->ev.model.chunks = r->chunks;
    r->ev.model.n_chunks = (size_t)n;
    return 0;
}

static void rev_release(rev *r)
{
    free(r->chunks);
    for (int i = 0; i < 3; i++)
        free(r->s[i]);
}

void lg_session_reader_free(lg_session_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        rev_release(&r->evs[i]);
    free(r->evs);
    free(r->calls);
    bcache_clear(&r->cache);
    free(r->rows.keys); /* the rows themselves are in rowv and rowdata */
    free(r->rows.vals);
    free(r->rowv);
    free(r->rowdata);
    info_release(&r->info);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Adds the fix to a message about damaged content. */
static void corrupt_hint(lg_err *err)
{
    size_t n;
    if (!lg_err_isset(err) || err->code != LG_EINPUT || strstr(err->msg, "restore it from"))
        return;
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n,
             "; the file is damaged: restore it from version control or record it again");
}

/* Blob ids at most this far apart are read with one range query (the rows
 * between them are stepped over) rather than one lookup each: a session's
 * new bodies are written in one commit, so their ids are mostly adjacent,
 * and stepping to the next row costs a fraction of a lookup. */
#define RANGE_GAP 4

/* Where prefetch_rows() puts rows: one array of rows and one growing block
 * of their data (offsets until the block stops moving). */
typedef struct rowarena {
    brow *v;
    size_t n;
    lg_buf data;
} rowarena;

/* Copies the current row of S_BLOB_GET or S_BLOB_RANGE into the arena. */
static int keep_row(rowarena *a, sqlite3_stmt *s, int64_t id, lg_err *err)
{
    brow *b = &a->v[a->n];
    int rc;
    if (sqlite3_column_bytes(s, 0) != 16)
        return LG_ERR(err, LG_EINPUT, "body %lld is corrupt (bad hash)", (long long)id);
    memcpy(b->hash, sqlite3_column_blob(s, 0), 16);
    b->raw_len = sqlite3_column_int64(s, 1);
    b->codec = sqlite3_column_int64(s, 2);
    b->dict = sqlite3_column_int64(s, 3);
    b->base = sqlite3_column_int64(s, 4);
    b->base2 = sqlite3_column_int64(s, 5);
    b->len = (size_t)sqlite3_column_bytes(s, 6);
    b->data = (char *)(uintptr_t)a->data.len; /* an offset until the arena is done */
    if (b->len && (rc = lg_buf_append(&a->data, sqlite3_column_blob(s, 6), b->len)))
        return LG_ERR(err, rc, "out of memory reading body %lld", (long long)id);
    a->n++;
    return 0;
}

/* Reads the rows of ids[lo..hi] (sorted, distinct) with one range query. */
static int range_rows(lg_store *st, conn *c, const int64_t *ids, size_t lo, size_t hi,
                      rowarena *a, lg_err *err)
{
    sqlite3_stmt *s = stmt(st, c, S_BLOB_RANGE, err);
    size_t want = lo;
    int rc = 0, step;

    if (!s)
        return err ? err->code : LG_EINTERNAL;
    sqlite3_bind_int64(s, 1, ids[lo]);
    sqlite3_bind_int64(s, 2, ids[hi]);
    while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 7);
        if (want <= hi && ids[want] < id)
            break; /* ids[want] has no row */
        if (want <= hi && ids[want] == id) {
            rc = keep_row(a, s, id, err);
            want++;
        }
    }
    if (!rc && step != SQLITE_DONE && step != SQLITE_ROW)
        rc = db_fail(st, c->db, step, "reading a body", err);
    sqlite3_reset(s);
    if (!rc && want <= hi)
        rc = LG_ERR(err, LG_EINPUT, "body %lld is missing (the file is corrupt)",
                    (long long)ids[want]);
    return rc;
}

/* Reads the rows of every body the events use, so that decoding needs
 * the database only for bases outside the session. */
static int prefetch_rows(lg_session_reader *r, conn *c, lg_err *err)
{
    int64_t *ids = malloc((r->n ? r->n : 1) * 3 * sizeof *ids);
    size_t n = 0, u = 0;
    rowarena a = {NULL, 0, LG_BUF_INIT};
    int rc = 0;

    if (!ids)
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++)
        for (int k = 0; k < 3; k++)
            if (r->evs[i].body[k] > 0)
                ids[n++] = r->evs[i].body[k];
    /* nearly sorted already (each call's bodies come after the last
     * call's): an insertion sort is linear on it */
    for (size_t i = 1; i < n; i++) {
        int64_t v = ids[i];
        size_t j = i;
        while (j > 0 && ids[j - 1] > v) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = v;
    }
    for (size_t i = 0; i < n; i++)
        if (u == 0 || ids[u - 1] != ids[i])
            ids[u++] = ids[i];
    if (u && !(a.v = malloc(u * sizeof *a.v)))
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    for (size_t lo = 0; lo < u && !rc;) {
        size_t hi = lo;
        while (hi + 1 < u && ids[hi + 1] - ids[hi] <= RANGE_GAP)
            hi++;
        if (hi > lo) {
            rc = range_rows(r->st, c, ids, lo, hi, &a, err);
        } else {
            sqlite3_stmt *s = stmt(r->st, c, S_BLOB_GET, err);
            int step;
            if (!s) {
                rc = err ? err->code : LG_EINTERNAL;
                break;
            }
            sqlite3_bind_int64(s, 1, ids[lo]);
            step = sqlite3_step(s);
            if (step == SQLITE_ROW)
                rc = keep_row(&a, s, ids[lo], err);
            else if (step == SQLITE_DONE)
                rc = LG_ERR(err, LG_EINPUT, "body %lld is missing (the file is corrupt)",
                            (long long)ids[lo]);
            else
                rc = db_fail(r->st, c->db, step, "reading a body", err);
            sqlite3_reset(s);
        }
        lo = hi + 1;
    }
    if (!rc) {
        /* the data block no longer moves: offsets become pointers */
        r->rowdata = lg_buf_take(&a.data, NULL);
        if (!r->rowdata)
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    }
    r->rowv = a.v; /* freed with the reader, whatever happened */
    lg_buf_release(&a.data);
    for (size_t i = 0; i < a.n && !rc; i++) {
        brow *b = &a.v[i];
        b->data = r->rowdata + (uintptr_t)b->data;
    }
    /* every id got its row, in id order: a.v[i] is ids[i]'s */
    for (size_t i = 0; i < a.n && !rc; i++)
        if (i64map_put(&r->rows, ids[i], &a.v[i]))
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
    free(ids);
    return rc;
}

static int load_events(lg_session_reader *r, conn *c, lg_codec *cd, const void *pack,
                       size_t pack_len, lg_err *err)
{
    lg_store *st = r->st;
    unpacker u;
    size_t ccap = 0;
    int rc;

    if ((rc = unpack_begin(&u, cd, pack, pack_len, err)))
        goto out;
    if (u.n != r->info.n_events) {
        rc = LG_ERR(err, LG_EINPUT, "has %llu events but its summary says %u (the file is corrupt)",
                    (unsigned long long)u.n, r->info.n_events);
        goto out;
    }
    if (u.n && !(r->evs = calloc((size_t)u.n, sizeof *r->evs))) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    for (uint64_t i = 0; i < u.n && !rc; i++) {
        rev *e = &r->evs[i];
        erec er;
        if (!unpack_event(&u, &er)) {
            rc = LG_ERR(err, LG_EINPUT, "event %llu is corrupt", (unsigned long long)i);
            break;
        }
        r->n++;
        e->ev = lg_event_make((lg_event_kind)er.kind);
        e->ev.seq = (uint32_t)i;
        e->ev.t_us = er.t_us;
        memcpy(e->body, er.body, sizeof e->body);
        if (er.kind == LG_EVENT_MODEL) {
            lg_model_event *m = &e->ev.model;
            const ep *p = ep_get(st, c, er.endpoint, err);
            if (!p) {
                rc = err ? err->code : LG_EINPUT;
                break;
            }
            m->provider = p->provider;
            m->method = p->method;
            m->path = p->path;
            m->model = p->model;
            e->ev.call = (int64_t)r->ncalls;
            if (er.has_fp)
                m->fingerprint = lg_hash_from_bytes(er.fp);
            else if (!er.body[0]) {
                rc = LG_ERR(err, LG_EINPUT, "event %llu is corrupt (no fingerprint)",
                            (unsigned long long)i);
                break;
            }
            e->fp_from_req = !er.has_fp;
            m->status = (int)er.status;
            m->usage = er.usage;
            m->latency_us = er.dur;
            if (er.chunks_len && (rc = unpack_chunks(e, (const unsigned char *)er.chunks,
                                                     er.chunks_len, err)))
                break;
            if (grow_array((void **)&r->calls, &ccap, r->ncalls + 1, sizeof *r->calls)) {
                rc = LG_ERR(err, LG_ENOMEM, "out of memory");
                break;
            }
            r->calls[r->ncalls++] = (size_t)i;
        } else if (er.kind == LG_EVENT_TOOL) {
            e->ev.tool.exit_code = er.has_status ? (int)er.status : -1;
            e->ev.tool.duration_us = er.dur;
        }
        rc = apply_info(e, er.info, er.info_len, err);
    }
    if (!rc && u.p != u.end)
        rc = LG_ERR(err, LG_EINPUT, "event record is corrupt (trailing bytes)");
    if (!rc)
        rc = prefetch_rows(r, c, err);
    for (size_t i = 0; i < r->n && !rc; i++) {
        const brow *b;
        if (!r->evs[i].fp_from_req)
            continue;
        if (!(b = i64map_get(&r->rows, r->evs[i].body[0])))
            rc = LG_ERR(err, LG_EINPUT, "event %zu is corrupt (no request)", i);
        else
            r->evs[i].ev.model.fingerprint = lg_hash_from_bytes(b->hash);
    }
out:
    lg_buf_release(&u.raw);
    return rc;
}

/* Reads session `id` (key NULL) or the session with `key` into a new
 * reader, in one read transaction. */
static int session_read(lg_store *st, int64_t id, const char *key, lg_session_reader **out,
                        lg_err *err)
{
    lg_session_reader *r;
    lg_codec *cd = NULL;
    sqlite3_stmt *s;
    conn *c;
    int rc;

    *out = NULL;
    if (!(r = calloc(1, sizeof *r)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    r->st = st;
    pthread_mutex_init(&r->mu, NULL);
    if (!(cd = codec_get(st, err)) || !(c = pool_get(st, err))) {
        codec_put(st, cd);
        lg_session_reader_free(r);
        return err ? err->code : LG_EIO;
    }
    /* one read transaction: the events and their bodies as of one moment
     * (prepared BEGIN and COMMIT: sqlite3_exec would compile them each time) */
    if ((rc = step_once(st, c, S_BEGIN, "reading a session", err)))
        goto out;
    if (key) {
        if (!(s = stmt(st, c, S_SESS_FIND, err))) {
            rc = err ? err->code : LG_EINTERNAL;
            goto out_end;
        }
        sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW)
            id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? LG_ERR(err, LG_ENOENT, "%s: no session '%s'", st->path, key)
                                   : db_fail(st, c->db, rc, "finding a session", err);
            goto out_end;
        }
    }
    if (!(s = stmt(st, c, S_SESS_GET, err))) {
        rc = err ? err->code : LG_EINTERNAL;
        goto out_end;
    }
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        rc = read_info(s, &r->info, err);
        if (!rc && (rc = load_events(r, c, cd, sqlite3_column_blob(s, 19),
                                     (size_t)sqlite3_column_bytes(s, 19), err))) {
            lg_err_prefix(err, "%s: session '%s'", st->path, r->info.key);
            corrupt_hint(err);
        }
        sqlite3_reset(s);
    } else {
        sqlite3_reset(s);
        rc = rc == SQLITE_DONE
                 ? LG_ERR(err, LG_ENOENT, "%s: no session with id %lld", st->path, (long long)id)
                 : db_fail(st, c->db, rc, "reading a session", err);
    }
out_end:
    if (step_once(st, c, S_COMMIT, "reading a session", NULL))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out:
    pool_put(st, c);
    codec_put(st, cd);
    if (rc) {
        lg_session_reader_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int lg_store_session_read(lg_store *st, int64_t id, lg_session_reader **out, lg_err *err)
{
    return session_read(st, id, NULL, out, err);
}

int lg_store_session_read_key(lg_store *st, const char *key, lg_session_reader **out,
                              lg_err *err)
{
    return session_read(st, 0, key, out, err);
}

const lg_session_info *lg_session_reader_info(const lg_session_reader *r)
{
    return &r->info;
}

size_t lg_session_reader_count(const lg_session_reader *r)
{
    return r->n;
}

size_t lg_session_reader_calls(const lg_session_reader *r)
{
    return r->ncalls;
}

/* Decodes bodies `from`..2 of `e` into b[] (borrowed from the reader's
 * cache). */
static int decode_bodies(lg_session_reader *r, const rev *e, int from, lg_bytes b[3], lg_err *err)
{
    lg_store *st = r->st;
    lg_codec *cd = codec_get(st, err);
    conn *c = cd ? pool_get(st, err) : NULL;
    int rc = 0;

    if (!cd || !c) {
        codec_put(st, cd);
        return err ? err->code : LG_ENOMEM;
    }
    for (int k = from; k < 3 && !rc; k++) {
        const bent *be;
        if (e->body[k] <= 0)
            continue;
        if (!(rc = blob_decode_rows(st, c, cd, &r->cache, &r->rows, e->body[k], 0, &be, err))) {
            b[k].data = be->data;
            b[k].len = be->len;
        }
    }
    pool_put(st, c);
    codec_put(st, cd);
    return rc;
}

static int load_bodies(lg_session_reader *r, rev *e, lg_err *err)
{
    lg_bytes b[3] = {{"", 0}, {"", 0}, {"", 0}};
    int rc = decode_bodies(r, e, 0, b, err);

    if (rc)
        return rc;
    if (e->ev.kind == LG_EVENT_MODEL) {
        lg_model_event *m = &e->ev.model;
        uint64_t sum = 0;
        m->request = b[0];
        m->response = b[1];
        m->headers = e->body[2] > 0 ? b[2].data : NULL;
        for (size_t i = 0; i < m->n_chunks; i++)
            sum += m->chunks[i].len;
        if (m->n_chunks && sum != m->response.len)
            return LG_ERR(err, LG_EINPUT, "stream chunks do not cover the response (corrupt)");
    } else if (e->ev.kind == LG_EVENT_TOOL) {
        e->ev.tool.args = b[0];
        e->ev.tool.out = b[1];
        e->ev.tool.err = b[2];
    }
    e->loaded = true;
    return 0;
}

int lg_session_reader_event(lg_session_reader *r, size_t seq, const lg_event **ev, lg_err *err)
{
    int rc = 0;
    if (seq >= r->n)
        return LG_ERR(err, LG_EUSAGE, "%s: session '%s' has %zu events; no event %zu",
                      r->st->path, r->info.key, r->n, seq);
    pthread_mutex_lock(&r->mu);
    if (!r->evs[seq].loaded && (rc = load_bodies(r, &r->evs[seq], err))) {
        lg_err_prefix(err, "%s: session '%s' event %zu", r->st->path, r->info.key, seq);
        corrupt_hint(err);
    }
    pthread_mutex_unlock(&r->mu);
    if (!rc)
        *ev = &r->evs[seq].ev;
    return rc;
}

int lg_session_reader_call(lg_session_reader *r, size_t n, const lg_event **ev, lg_err *err)
{
    if (n >= r->ncalls)
        return LG_ERR(err, LG_EUSAGE, "%s: session '%s' has %zu model calls; no call %zu",
                      r->st->path, r->info.key, r->ncalls, n);
    return lg_session_reader_event(r, r->calls[n], ev, err);
}

int lg_session_reader_request_hash(const lg_session_reader *r, size_t n,
                                   lg_call_request_key *out, lg_err *err)
{
    const rev *e;
    const brow *b;

    if (n >= r->ncalls)
        return LG_ERR(err, LG_EUSAGE, "%s: session '%s' has %zu model calls; no call %zu",
                      r->st->path, r->info.key, r->ncalls, n);
    e = &r->evs[r->calls[n]];
    out->method = e->ev.model.method;
    out->path = e->ev.model.path;
    if (e->body[0] <= 0) {
        out->body_hash = lg_hash_bytes("", 0);
        out->body_len = 0;
        return 0;
    }
    /* every row of the session's bodies was read with its events
     * (prefetch_rows), and the rows are not modified afterwards */
    if (!(b = i64map_get(&r->rows, e->body[0])) || b->raw_len < 0)
        return LG_ERR(err, LG_EINPUT, "%s: session '%s' call %zu: request body row is missing "
                      "(the file is corrupt)", r->st->path, r->info.key, n);
    out->body_hash = lg_hash_from_bytes(b->hash);
    out->body_len = (size_t)b->raw_len;
    return 0;
}

int lg_session_reader_response(lg_session_reader *r, size_t n, lg_model_event *out, lg_err *err)
{
    lg_store *st = r->st;
    lg_bytes b[3] = {{"", 0}, {"", 0}, {"", 0}};
    rev *e;
    int rc = 0;

    if (n >= r->ncalls)
        return LG_ERR(err, LG_EUSAGE, "%s: session '%s' has %zu model calls; no call %zu",
                      st->path, r->info.key, r->ncalls, n);
    e = &r->evs[r->calls[n]];
    pthread_mutex_lock(&r->mu);
    if (e->loaded) {
        /* everything is decoded already */
        *out = e->ev.model;
        pthread_mutex_unlock(&r->mu);
        out->request.data = NULL;
        out->request.len = 0;
        return 0;
    }
    /* the response and the kept headers only: never a delta, so no
     * earlier request has to be decoded for them (the bodies land in the
     * reader's cache, where lg_session_reader_call() finds them) */
    rc = decode_bodies(r, e, 1, b, err);
    if (!rc) {
        uint64_t sum = 0;
        *out = e->ev.model;
        out->request.data = NULL;
        out->request.len = 0;
        out->response = b[1];
        out->headers = e->body[2] > 0 ? b[2].data : NULL;
        for (size_t i = 0; i < out->n_chunks; i++)
            sum += out->chunks[i].len;
        if (out->n_chunks && sum != out->response.len)
            rc = LG_ERR(err, LG_EINPUT, "stream chunks do not cover the response (corrupt)");
    }
    if (rc) {
        lg_err_prefix(err, "%s: session '%s' event %zu", st->path, r->info.key, r->calls[n]);
        corrupt_hint(err);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

lg_event_kind lg_session_reader_event_kind(const lg_session_reader *r, size_t seq)
{
    return seq < r->n ? r->evs[seq].ev.kind : (lg_event_kind)0;
}

size_t lg_session_reader_find(const lg_session_reader *r, lg_hash128 fp, int64_t *calls,
                              size_t max)
{
    size_t found = 0;
    for (size_t i = 0; i < r->ncalls; i++) {
        if (!lg_hash_equal(r->evs[r->calls[i]].ev.model.fingerprint, fp))
            continue;
        if (found < max)
            calls[found] = (int64_t)i;
        found++;
    }
    return found;
}

/* ---- listing, stats ------------------------------------------------------ */

void lg_session_list_free(lg_session_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        info_release(&l->items[i]);
    free(l->items);
    free(l);
}

int lg_store_list_sessions(lg_store *st, const lg_session_filter *filter, lg_session_list **out,
                           lg_err *err)
{
    static const char sql[] =
        "SELECT " SESSION_COLS " FROM sessions WHERE (?1 IS NULL OR run = ?1) AND "
        "(?2 IS NULL OR suite = ?2) AND (?3 < 0 OR case_index = ?3) AND (?4 < 0 OR trial = ?4) "
        "ORDER BY suite, case_index, trial, key";
    lg_session_filter any = LG_SESSION_FILTER_ANY;
    lg_session_list *l;
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    conn *c;
    int rc;

    *out = NULL;
    if (!filter)
        filter = &any;
    if (!(l = calloc(1, sizeof *l)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    if (!(c = pool_get(st, err))) {
        free(l);
        return err ? err->code : LG_EIO;
    }
    rc = sqlite3_prepare_v2(c->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(st, c->db, rc, "listing sessions", err);
        goto out;
    }
    bind_opt_text(s, 1, filter->run);
    bind_opt_text(s, 2, filter->suite);
    sqlite3_bind_int64(s, 3, filter->case_index);
    sqlite3_bind_int64(s, 4, filter->trial);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (grow_array((void **)&l->items, &cap, l->n + 1, sizeof *l->items)) {
            rc = LG_ERR(err, LG_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = read_info(s, &l->items[l->n], err)))
            goto out;
        l->n++;
    }
    rc = rc == SQLITE_DONE ? 0 : db_fail(st, c->db, rc, "listing sessions", err);
out:
    sqlite3_finalize(s);
    pool_put(st, c);
    if (rc) {
        lg_session_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int lg_store_find_session(lg_store *st, const char *key, int64_t *id, lg_err *err)
{
    conn *c = pool_get(st, err);
    sqlite3_stmt *s;
    int rc;

    if (!c)
        return err ? err->code : LG_EIO;
    if (!(s = stmt(st, c, S_SESS_FIND, err))) {
        pool_put(st, c);
        return err ? err->code : LG_EINTERNAL;
    }
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        rc = 0;
    else if (rc == SQLITE_DONE)
        rc = LG_ERR(err, LG_ENOENT, "%s: no session '%s'", st->path, key);
    else
        rc = db_fail(st, c->db, rc, "finding a session", err);
    pool_put(st, c);
    return rc;
}

static int stats_conn(lg_store *st, conn *c, lg_store_stats *o, lg_err *err)
{
    static const char *const q[] = {
        "SELECT count(*) FROM sessions",
        "SELECT coalesce(sum(n_events), 0) FROM sessions",
        "SELECT coalesce(sum(n_calls), 0) FROM sessions",
        "SELECT count(*) FROM blobs",
        "SELECT coalesce(sum(raw_len), 0) FROM blobs",
        "SELECT coalesce(sum(length(data)), 0) FROM blobs",
        "SELECT count(*) FROM dicts",
        "SELECT coalesce(sum(length(data)), 0) FROM dicts",
    };
    uint64_t *dst[] = {&o->sessions, &o->events, &o->calls, &o->blobs,
                       &o->raw_bytes, &o->stored_bytes, &o->dicts, &o->dict_bytes};
    struct stat sb;
    memset(o, 0, sizeof *o);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        int64_t v;
        int rc = query_int(st, c, q[i], &v, err);
        if (rc)
            return rc;
        *dst[i] = (uint64_t)v;
    }
    if (!st->memory && stat(st->path, &sb) == 0)
        o->file_bytes = (uint64_t)sb.st_size;
    return 0;
}

int lg_store_check(lg_store *st, lg_err *err)
{
    conn *c = pool_get(st, err);
    sqlite3_stmt *s;
    int rc;

    if (!c)
        return err ? err->code : LG_EIO;
    rc = sqlite3_prepare_v2(c->db, "PRAGMA quick_check", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            const char *res = (const char *)sqlite3_column_text(s, 0);
            if (res && strcmp(res, "ok") != 0) {
                /* one line: the first problem, without SQLite's banner */
                char what[256];
                const char *p = strstr(res, "***\n") ? strstr(res, "***\n") + 4 : res;
                size_t n = strcspn(p, "\n");
                snprintf(what, sizeof what, "%.*s", (int)(n < 200 ? n : 200), p);
                LG_ERR(err, LG_EINPUT,
                       "%s: file is corrupt (%s); restore it from version control or record it "
                       "again",
                       st->path, what);
            }
            rc = res && strcmp(res, "ok") != 0 ? LG_EINPUT : 0;
        } else {
            rc = db_fail(st, c->db, rc, "checking the file", err);
        }
        sqlite3_finalize(s);
    } else {
        rc = db_fail(st, c->db, rc, "checking the file", err);
    }
    pool_put(st, c);
    return rc;
}

int lg_store_get_stats(lg_store *st, lg_store_stats *out, lg_err *err)
{
    conn *c = pool_get(st, err);
    int rc;
    if (!c)
        return err ? err->code : LG_EIO;
    rc = stats_conn(st, c, out, err);
    pool_put(st, c);
    return rc;
}

/* ---- copy ------------------------------------------------------------------ */

int lg_store_session_copy(lg_store *dst, lg_store *src, int64_t id, lg_err *err)
{
    lg_session_reader *r = NULL;
    lg_store_session *w = NULL;
    lg_session_desc d;
    int rc;

    if ((rc = lg_store_session_read(src, id, &r, err)))
        return rc;
    d.key = r->info.key;
    d.run = r->info.run;
    d.suite = r->info.suite;
    d.case_index = r->info.case_index;
    d.trial = r->info.trial;
    d.started_ms = r->info.started_ms;
    if ((rc = lg_store_session_begin(dst, &d, &w, err)))
        goto out;
    for (size_t i = 0; i < r->n && !rc; i++) {
        const lg_event *ev;
        if (!(rc = lg_session_reader_event(r, i, &ev, err)))
            rc = lg_store_session_append(w, ev, NULL, NULL, err);
    }
    if (rc)
        lg_store_session_abort(w);
    else
        rc = lg_store_session_commit(w, NULL, err);
out:
    lg_session_reader_free(r);
    return rc;
}

/* ---- compact -------------------------------------------------------------- */

typedef struct blobref {
    int64_t base, base2;
    bool live;
} blobref;

/* Marks the blobs that events use, and what those are coded against. */
static int mark_live(lg_store *st, conn *c, blobref **out, int64_t *maxid, lg_err *err)
{
    sqlite3_stmt *s;
    blobref *refs;
    int rc;

    if ((rc = query_int(st, c, "SELECT coalesce(max(id), 0) FROM blobs", maxid, err)))
        return rc;
    if (!(refs = calloc((size_t)*maxid + 1, sizeof *refs)))
        return LG_ERR(err, LG_ENOMEM, "out of memory");
    rc = sqlite3_prepare_v2(c->db, "SELECT id, base, base2 FROM blobs", -1, &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        refs[id].base = sqlite3_column_int64(s, 1);
        refs[id].base2 = sqlite3_column_int64(s, 2);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto fail;
    rc = sqlite3_prepare_v2(c->db, "SELECT events FROM sessions", -1, &s, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        unpacker u;
        erec e;
        lg_codec *cd = lg_codec_new();
        int urc = cd ? unpack_begin(&u, cd, sqlite3_column_blob(s, 0),
                                    (size_t)sqlite3_column_bytes(s, 0), err)
                     : LG_ERR(err, LG_ENOMEM, "out of memory");
        for (uint64_t i = 0; !urc && i < u.n; i++) {
            if (!unpack_event(&u, &e)) {
                urc = LG_ERR(err, LG_EINPUT, "%s: an event record is corrupt", st->path);
                break;
            }
            for (int k = 0; k < 3; k++)
                if (e.body[k] > 0 && e.body[k] <= *maxid)
                    refs[e.body[k]].live = true;
        }
        if (cd)
            lg_buf_release(&u.raw);
        lg_codec_free(cd);
        if (urc) {
            sqlite3_finalize(s);
            free(refs);
            return urc;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        goto fail;
    /* a body is always coded against older (smaller-id) ones */
    for (int64_t id = *maxid; id > 0; id--) {
        if (!refs[id].live)
            continue;
        if (refs[id].base > 0 && refs[id].base < id)
            refs[refs[id].base].live = true;
        if (refs[id].base2 > 0 && refs[id].base2 < id)
            refs[refs[id].base2].live = true;
    }
    *out = refs;
    return 0;
fail:
    free(refs);
    return db_fail(st, c->db, rc, "finding unused bodies", err);
}

int lg_store_compact(const char *path, lg_store_stats *before, lg_store_stats *after,
                     lg_err *err)
{
    lg_store *st = NULL;
    lg_codec *cd = NULL;
    lg_dict *dict = NULL;
    blobref *refs = NULL;
    bcache cache;
    samples smp;
    int64_t maxid = 0;
    lg_store_stats tmp;
    conn *c;
    int rc;

    memset(&cache, 0, sizeof cache);
    memset(&smp, 0, sizeof smp);
    lg_buf_init(&smp.buf);
    if ((rc = lg_store_open(path, LG_STORE_WRITE, &st, err)))
        return rc;
    c = st->w;
    if ((rc = stats_conn(st, c, before ? before : &tmp, err)))
        goto out;
    if (!(cd = lg_codec_new())) {
        rc = LG_ERR(err, LG_ENOMEM, "out of memory");
        goto out;
    }
    pthread_mutex_lock(&st->wlock);
    if ((rc = exec_sql(st, c, "BEGIN IMMEDIATE", "locking the file", err)))
        goto out_unlock;
    if ((rc = mark_live(st, c, &refs, &maxid, err)))
        goto out_rollback;
    /* 1. drop what no session uses */
    {
        sqlite3_stmt *s;
        rc = sqlite3_prepare_v2(c->db, "DELETE FROM blobs WHERE id = ?1", -1, &s, NULL);
        for (int64_t id = 1; rc == SQLITE_OK && id <= maxid; id++) {
            if (refs[id].live)
                continue;
            sqlite3_bind_int64(s, 1, id);
            rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(c->db);
            sqlite3_reset(s);
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_OK) {
            rc = db_fail(st, c->db, rc, "dropping unused bodies", err);
            goto out_rollback;
        }
    }
    /* 2. a new dictionary from every standalone body; 2 and 3 are undone
     *    when they would not make the bodies and dictionaries smaller (a
     *    small file may not repay a bigger dictionary) */
    static const char bytes_sql[] = "SELECT coalesce(sum(length(data)), 0) + "
                                    "(SELECT coalesce(sum(length(data)), 0) FROM dicts) FROM blobs";
    int64_t bytes0 = 0, bytes1 = 0;
    if ((rc = query_int(st, c, bytes_sql, &bytes0, err)) ||
        (rc = exec_sql(st, c, "SAVEPOINT recode", "compacting", err)))
        goto out_rollback;
    rc = collect_samples(st, c, cd, &cache, "1", &smp, err);
    if (rc)
        goto out_rollback;
    if (store_new_dict(st, c, &smp, LG_CODEC_LEVEL_MAX, &dict, NULL) != 0)
        dict = NULL; /* too little material: standalone bodies go without */
    /* 3. recode every body at the highest level, oldest first (a body is
     *    coded against older ones, which are decoded from the cache) */
    for (int64_t id = 1; id <= maxid && !rc; id++) {
        const bent *raw;
        if (!refs[id].live)
            continue;
        if (cache.bytes > CACHE_SOFT_MAX)
            bcache_clear(&cache);
        if ((rc = blob_decode(st, c, cd, &cache, id, 0, &raw, err)))
            break;
        if (refs[id].base > 0)
            rc = recode_delta(st, c, cd, &cache, id, refs[id].base, refs[id].base2, raw,
                              LG_CODEC_LEVEL_MAX, err);
        else
            rc = recode_with_dict(st, c, cd, id, raw, dict, LG_CODEC_LEVEL_MAX, true, err);
    }
    if (rc)
        goto out_rollback;
    {
        char sql[128];
        snprintf(sql, sizeof sql, "DELETE FROM dicts WHERE id <> %lld",
                 (long long)(dict ? lg_dict_id(dict) : 0));
        if ((rc = exec_sql(st, c, sql, "dropping old dictionaries", err)) ||
            (rc = query_int(st, c, bytes_sql, &bytes1, err)) ||
            (bytes1 >= bytes0 &&
             (rc = exec_sql(st, c, "ROLLBACK TO recode", "keeping the old coding", err))) ||
            (rc = exec_sql(st, c, "RELEASE recode", "compacting", err)) ||
            (rc = exec_sql(st, c, "COMMIT", "committing the compacted file", err)))
            goto out_rollback;
    }
    pthread_mutex_unlock(&st->wlock);
    /* every cached reader-side object may now be stale: reopen to measure */
    if ((rc = exec_sql(st, c, "VACUUM", "vacuuming", err)))
        goto out;
    goto out;
out_rollback:
    sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
out_unlock:
    pthread_mutex_unlock(&st->wlock);
out:
    free(refs);
    bcache_clear(&cache);
    samples_release(&smp);
    lg_dict_free(dict);
    lg_codec_free(cd);
    lg_store_close(st);
    if (!rc && after) {
        lg_store *r = NULL;
        if (!(rc = lg_store_open(path, LG_STORE_READ, &r, err)))
            rc = lg_store_get_stats(r, after, err);
        lg_store_close(r);
    }
    if (rc)
        lg_err_prefix(err, "compact");
    return rc;
}
