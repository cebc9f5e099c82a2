#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_format / ZSTD_d_format (magicless frames) */
#define ZDICT_STATIC_LINKING_ONLY /* ZDICT_optimizeTrainFromBuffer_fastCover */
#include "codec.h"

#include <stdlib.h>
#include <string.h>
#include <zdict.h>
#include <zstd.h>

struct lg_dict {
    int64_t id;
    void *data;
    size_t len;
    size_t header; /* bytes of zstd header and tables before the content */
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;
};

struct lg_codec {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    lg_buf scratch;
};

int lg_dict_train(const void *samples, const size_t *sizes, size_t n, size_t max_size,
                  lg_buf *out, lg_err *err)
{
    size_t got;
    int rc;

    if (n == 0 || n > 0xffffffffu)
        return LG_ERR(err, LG_EINPUT, "not enough samples to train a dictionary (%zu)", n);
    rc = lg_buf_grow(out, max_size);
    if (rc)
        return LG_ERR(err, rc, "cannot allocate a %zu-byte dictionary", max_size);
    /* ZDICT_trainFromBuffer()'s search (fastCover, d = 8, four values of
     * k), with a frequency table of 2^16 entries instead of 2^20: the
     * samples are at most a few MB, and clearing and scanning the 4 MB
     * table four times made training take 3-4 times as long for the same
     * dictionary (bench/bench_store: equal file sizes, ~20 ms instead of
     * 60-80 ms for the first dictionary of a store). */
    ZDICT_fastCover_params_t p;
    memset(&p, 0, sizeof p);
    p.d = 8;
    p.f = 16;
    p.steps = 4;
    p.zParams.compressionLevel = 3;
    got = ZDICT_optimizeTrainFromBuffer_fastCover(out->data + out->len, max_size, samples, sizes,
                                                  (unsigned)n, &p);
    if (ZDICT_isError(got))
        return LG_ERR(err, LG_EINPUT, "not enough samples to train a dictionary (%zu samples: %s)",
                      n, ZDICT_getErrorName(got));
    out->len += got;
    out->data[out->len] = '\0';
    return 0;
}

lg_dict *lg_dict_new(const void *data, size_t len, int level, int64_t id, lg_err *err)
{
    lg_dict *d = calloc(1, sizeof *d);

    if (!d || !(d->data = malloc(len ? len : 1))) {
        free(d);
        LG_ERR(err, LG_ENOMEM, "out of memory loading a %zu-byte dictionary", len);
        return NULL;
    }
    memcpy(d->data, data, len);
    d->len = len;
    d->header = ZDICT_getDictHeaderSize(data, len);
    if (ZDICT_isError(d->header) || d->header > len)
        d->header = 0; /* raw content */
    d->id = id;
    d->cdict = ZSTD_createCDict(d->data, len, level);
    d->ddict = ZSTD_createDDict(d->data, len);
    if (!d->cdict || !d->ddict) {
        LG_ERR(err, LG_EINPUT, "dictionary %lld (%zu bytes) is not usable by zstd",
               (long long)id, len);
        lg_dict_free(d);
        return NULL;
    }
    return d;
}

void lg_dict_free(lg_dict *d)
{
    if (!d)
        return;
    ZSTD_freeCDict(d->cdict);
    ZSTD_freeDDict(d->ddict);
    free(d->data);
    free(d);
}

int64_t lg_dict_id(const lg_dict *d)
{
    return d->id;
}

const void *lg_dict_bytes(const lg_dict *d, size_t *len)
{
    *len = d->len;
    return d->data;
}

const void *lg_dict_content(const lg_dict *d, size_t *len)
{
    *len = d->len - d->header;
    return (const char *)d->data + d->header;
}

lg_codec *lg_codec_new(void)
{
    lg_codec *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    lg_buf_init(&c->scratch);
    c->cctx = ZSTD_createCCtx();
    c->dctx = ZSTD_createDCtx();
    if (!c->cctx || !c->dctx) {
        lg_codec_free(c);
        return NULL;
    }
    return c;
}

void lg_codec_free(lg_codec *c)
{
    if (!c)
        return;
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeDCtx(c->dctx);
    lg_buf_release(&c->scratch);
    free(c);
}

lg_buf *lg_codec_scratch(lg_codec *c)
{
    return &c->scratch;
}

/* Sets a parameter whose failure would be a bug (values are constants). */
static int cset(ZSTD_CCtx *cctx, ZSTD_cParameter p, int v, lg_err *err)
{
    size_t r = ZSTD_CCtx_setParameter(cctx, p, v);
    if (ZSTD_isError(r))
        return LG_ERR(err, LG_EINTERNAL, "zstd: cannot set parameter %d to %d: %s", (int)p, v,
                      ZSTD_getErrorName(r));
    return 0;
}

int lg_codec_compress(lg_codec *c, int level, const void *src, size_t len, const lg_dict *dict,
                      const void *prefix, size_t plen, lg_buf *out, int *kind, lg_err *err)
{
    size_t bound = ZSTD_compressBound(len), r;
    int rc, k;

    ZSTD_CCtx_reset(c->cctx, ZSTD_reset_session_and_parameters);
    if ((rc = cset(c->cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless, err)) ||
        (rc = cset(c->cctx, ZSTD_c_contentSizeFlag, 0, err)) ||
        (rc = cset(c->cctx, ZSTD_c_checksumFlag, 0, err)) ||
        (rc = cset(c->cctx, ZSTD_c_dictIDFlag, 0, err)) ||
        (rc = cset(c->cctx, ZSTD_c_compressionLevel, level, err)))
        return rc;
    if (prefix && plen) {
        r = ZSTD_CCtx_refPrefix(c->cctx, prefix, plen);
        k = LG_CODEC_PREFIX;
    } else if (dict) {
        r = ZSTD_CCtx_refCDict(c->cctx, dict->cdict);
        k = LG_CODEC_DICT;
    } else {
        r = 0;
        k = LG_CODEC_ZSTD;
    }
    if (ZSTD_isError(r))
        return LG_ERR(err, LG_EINTERNAL, "zstd: cannot load the reference: %s",
                      ZSTD_getErrorName(r));
    if ((rc = lg_buf_grow(out, bound > len ? bound : len)))
        return LG_ERR(err, rc, "cannot make room to compress a %zu-byte body", len);
    r = ZSTD_compress2(c->cctx, out->data + out->len, bound, src, len);
    if (ZSTD_isError(r))
        return LG_ERR(err, LG_EINTERNAL, "zstd: cannot compress a %zu-byte body: %s", len,
                      ZSTD_getErrorName(r));
    if (r >= len) {
        if (len)
            memcpy(out->data + out->len, src, len);
        r = len;
        k = LG_CODEC_RAW;
    }
    out->len += r;
    out->data[out->len] = '\0';
    *kind = k;
    return 0;
}

int lg_codec_decompress(lg_codec *c, int kind, const void *src, size_t len, size_t raw_len,
                        const lg_dict *dict, const void *prefix, size_t plen, lg_buf *out,
                        lg_err *err)
{
    size_t r = 0;
    int rc;

    if ((rc = lg_buf_grow(out, raw_len)))
        return LG_ERR(err, rc, "cannot make room for a %zu-byte body", raw_len);
    if (kind == LG_CODEC_RAW) {
        if (len != raw_len)
            return LG_ERR(err, LG_EINPUT, "corrupt frame: %zu stored bytes for a %zu-byte body",
                          len, raw_len);
        if (len)
            memcpy(out->data + out->len, src, len);
        goto done;
    }
    if (kind != LG_CODEC_ZSTD && kind != LG_CODEC_DICT && kind != LG_CODEC_PREFIX)
        return LG_ERR(err, LG_EINPUT, "corrupt frame: unknown coding %d", kind);
    if (kind == LG_CODEC_DICT && !dict)
        return LG_ERR(err, LG_EINPUT, "corrupt frame: needs a dictionary that is missing");
    ZSTD_DCtx_reset(c->dctx, ZSTD_reset_session_and_parameters);
    r = ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    if (!ZSTD_isError(r) && kind == LG_CODEC_PREFIX)
        r = ZSTD_DCtx_refPrefix(c->dctx, prefix, plen);
    else if (!ZSTD_isError(r) && kind == LG_CODEC_DICT)
        r = ZSTD_DCtx_refDDict(c->dctx, dict->ddict);
    if (ZSTD_isError(r))
        return LG_ERR(err, LG_EINTERNAL, "zstd: cannot set up decoding: %s", ZSTD_getErrorName(r));
    r = ZSTD_decompressDCtx(c->dctx, out->data + out->len, raw_len, src, len);
    if (ZSTD_isError(r))
        return LG_ERR(err, LG_EINPUT, "corrupt frame: %s", ZSTD_getErrorName(r));
    if (r != raw_len)
        return LG_ERR(err, LG_EINPUT, "corrupt frame: decodes to %zu bytes, expected %zu", r,
                      raw_len);
done:
    out->len += raw_len;
    out->data[out->len] = '\0';
    return 0;
}
