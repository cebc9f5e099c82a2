/*
 * tests/test_codec.c - recorder/codec.c: byte-exact round trips of thousands
 * of random bodies (plain, dictionary, reference prefix / delta chains),
 * and decoding errors on damaged frames.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "core/pcg.h"
#include "recorder/codec.h"

static const char *const words[] = {
    "the", "model", "tool", "call", "result", "file", "search", "query", "error", "value",
    "return", "function", "loop", "agent", "user", "assistant", "content", "message", "json",
    "string", "number", "list", "open", "read", "write", "path", "src", "main", "test", "ok",
};

/* A random body: random bytes, word text, JSON-like text or one repeated
 * byte, of a size drawn from a wide range (0 and 1 included). */
static void random_body(lg_pcg32 *rng, lg_buf *b, size_t max)
{
    uint32_t kind = lg_pcg32_boundedrand(rng, 4);
    uint32_t sz = lg_pcg32_boundedrand(rng, 10);
    size_t n = sz == 0 ? 0 : sz == 1 ? 1 : sz < 5 ? lg_pcg32_boundedrand(rng, 200)
               : sz < 9 ? lg_pcg32_boundedrand(rng, 8000) : lg_pcg32_boundedrand(rng, (uint32_t)max);
    lg_buf_reset(b);
    while (b->len < n) {
        int rc;
        if (kind == 0) {
            char c = (char)lg_pcg32_random(rng);
            rc = lg_buf_append(b, &c, 1);
        } else if (kind == 1) {
            rc = lg_buf_appendf(b, "%s ", words[lg_pcg32_boundedrand(rng, 30)]);
        } else if (kind == 2) {
            rc = lg_buf_appendf(b, "{\"%s\":%u,\"%s\":\"%s\"},", words[lg_pcg32_boundedrand(rng, 30)],
                                lg_pcg32_random(rng) % 1000, words[lg_pcg32_boundedrand(rng, 30)],
                                words[lg_pcg32_boundedrand(rng, 30)]);
        } else {
            rc = lg_buf_append_byte(b, 'x');
        }
        cr_assert_eq(rc, 0);
    }
    lg_buf_truncate(b, n);
}

static void roundtrip(lg_codec *c, const lg_buf *src, const lg_dict *dict, const lg_buf *prefix,
                      int want_kind)
{
    lg_buf enc = LG_BUF_INIT, dec = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    int kind = -1;

    cr_assert_eq(lg_codec_compress(c, LG_CODEC_LEVEL_FAST, src->data, src->len, dict,
                                   prefix ? prefix->data : NULL, prefix ? prefix->len : 0, &enc,
                                   &kind, &err),
                 0, "%s", err.msg);
    if (prefix && prefix->len == 0)
        want_kind = dict ? LG_CODEC_DICT : LG_CODEC_ZSTD; /* an empty prefix is no prefix */
    if (kind != LG_CODEC_RAW)
        cr_assert_eq(kind, want_kind);
    else
        cr_assert_eq(enc.len, src->len, "raw coding keeps the bytes");
    cr_assert(enc.len <= src->len, "never bigger than the input (%zu > %zu)", enc.len, src->len);
    cr_assert_eq(lg_codec_decompress(c, kind, enc.data ? enc.data : "", enc.len, src->len, dict,
                                     prefix ? prefix->data : NULL, prefix ? prefix->len : 0, &dec,
                                     &err),
                 0, "%s", err.msg);
    cr_assert_eq(dec.len, src->len);
    if (src->len)
        cr_assert(memcmp(dec.data, src->data, src->len) == 0, "byte-exact");
    lg_buf_release(&enc);
    lg_buf_release(&dec);
}

Test(codec, plain_roundtrip_of_random_bodies)
{
    lg_codec *c = lg_codec_new();
    lg_pcg32 rng;
    lg_buf b = LG_BUF_INIT;
    lg_pcg32_srandom(&rng, 1, 1);
    cr_assert(c);
    for (int i = 0; i < 3000; i++) {
        random_body(&rng, &b, i % 500 == 0 ? 1 << 20 : 64 * 1024);
        roundtrip(c, &b, NULL, NULL, LG_CODEC_ZSTD);
    }
    lg_buf_release(&b);
    lg_codec_free(c);
}

Test(codec, empty_and_incompressible_bodies_are_kept_raw)
{
    lg_codec *c = lg_codec_new();
    lg_buf enc = LG_BUF_INIT, dec = LG_BUF_INIT, src = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    lg_pcg32 rng;
    int kind;

    lg_pcg32_srandom(&rng, 2, 2);
    cr_assert_eq(lg_codec_compress(c, 3, "", 0, NULL, NULL, 0, &enc, &kind, &err), 0);
    cr_assert_eq(kind, LG_CODEC_RAW);
    cr_assert_eq(enc.len, 0);
    cr_assert_eq(lg_codec_decompress(c, kind, "", 0, 0, NULL, NULL, 0, &dec, &err), 0);
    cr_assert_eq(dec.len, 0);
    for (int i = 0; i < 1000; i++) {
        uint32_t v = lg_pcg32_random(&rng);
        cr_assert_eq(lg_buf_append(&src, &v, sizeof v), 0);
    }
    lg_buf_reset(&enc);
    cr_assert_eq(lg_codec_compress(c, 3, src.data, src.len, NULL, NULL, 0, &enc, &kind, &err), 0);
    cr_assert_eq(kind, LG_CODEC_RAW, "random bytes do not compress");
    cr_assert_eq(enc.len, src.len);
    lg_buf_release(&enc);
    lg_buf_release(&dec);
    lg_buf_release(&src);
    lg_codec_free(c);
}

Test(codec, dictionary_roundtrip_and_gain)
{
    lg_codec *c = lg_codec_new();
    lg_pcg32 rng;
    lg_buf samples = LG_BUF_INIT, d = LG_BUF_INIT, b = LG_BUF_INIT, e1 = LG_BUF_INIT,
           e2 = LG_BUF_INIT;
    size_t sizes[400];
    lg_err err = LG_ERR_INIT;
    lg_dict *dict;
    int kind;

    lg_pcg32_srandom(&rng, 3, 3);
    /* samples sharing a long header, like chat requests sharing a system prompt */
    for (int i = 0; i < 400; i++) {
        size_t before = samples.len;
        cr_assert_eq(lg_buf_appendf(&samples, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\","
                                              "\"content\":\"You are a careful agent. Use tools.\"},"
                                              "{\"role\":\"user\",\"content\":\"task %u: %s %s\"}]}",
                                    lg_pcg32_random(&rng), words[lg_pcg32_boundedrand(&rng, 30)],
                                    words[lg_pcg32_boundedrand(&rng, 30)]),
                     0);
        sizes[i] = samples.len - before;
    }
    cr_assert_eq(lg_dict_train(samples.data, sizes, 400, 4096, &d, &err), 0, "%s", err.msg);
    cr_assert(d.len > 0 && d.len <= 4096);
    dict = lg_dict_new(d.data, d.len, 3, 7, &err);
    cr_assert(dict, "%s", err.msg);
    cr_assert_eq(lg_dict_id(dict), 7);

    cr_assert_eq(lg_buf_append(&b, samples.data, sizes[0]), 0);
    cr_assert_eq(lg_codec_compress(c, 3, b.data, b.len, NULL, NULL, 0, &e1, &kind, &err), 0);
    cr_assert_eq(lg_codec_compress(c, 3, b.data, b.len, dict, NULL, 0, &e2, &kind, &err), 0);
    cr_assert_eq(kind, LG_CODEC_DICT);
    cr_assert(e2.len * 2 < e1.len, "the dictionary halves a typical body (%zu vs %zu)", e2.len,
              e1.len);
    for (int i = 0; i < 2000; i++) {
        random_body(&rng, &b, 32 * 1024);
        roundtrip(c, &b, dict, NULL, LG_CODEC_DICT);
    }
    /* a frame coded with a dictionary does not decode without it */
    {
        lg_buf dec = LG_BUF_INIT;
        lg_err e = LG_ERR_INIT;
        cr_assert_neq(lg_codec_decompress(c, LG_CODEC_DICT, e2.data, e2.len, sizes[0], NULL, NULL,
                                          0, &dec, &e),
                      0);
        lg_buf_release(&dec);
    }
    lg_dict_free(dict);
    lg_buf_release(&samples);
    lg_buf_release(&d);
    lg_buf_release(&b);
    lg_buf_release(&e1);
    lg_buf_release(&e2);
    lg_codec_free(c);
}

Test(codec, too_few_samples_is_a_clear_error)
{
    lg_buf d = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    size_t sizes[2] = {3, 3};
    cr_assert_eq(lg_dict_train("abcdef", sizes, 2, 4096, &d, &err), LG_EINPUT);
    cr_assert(strstr(err.msg, "not enough samples"), "%s", err.msg);
    lg_buf_release(&d);
}

/* Conversations that grow by a random step each call, coded against the
 * previous one: the delta chains of the store. */
Test(codec, delta_chains_roundtrip_and_stay_small)
{
    lg_codec *c = lg_codec_new();
    lg_pcg32 rng;
    lg_buf prev = LG_BUF_INIT, cur = LG_BUF_INIT, step = LG_BUF_INIT, enc = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    size_t total_enc = 0, total_new = 0;

    lg_pcg32_srandom(&rng, 4, 4);
    for (int chain = 0; chain < 100; chain++) {
        lg_buf_reset(&prev);
        random_body(&rng, &prev, 4096);
        for (int k = 0; k < 20; k++) {
            int kind;
            random_body(&rng, &step, 2048);
            lg_buf_reset(&cur);
            /* usually append, sometimes edit in the middle or shrink */
            uint32_t op = lg_pcg32_boundedrand(&rng, 10);
            if (op < 8 || prev.len == 0) {
                cr_assert_eq(lg_buf_append(&cur, prev.data ? prev.data : "", prev.len), 0);
                cr_assert_eq(lg_buf_append(&cur, step.data ? step.data : "", step.len), 0);
            } else if (op == 8) {
                size_t cut = lg_pcg32_boundedrand(&rng, (uint32_t)prev.len);
                cr_assert_eq(lg_buf_append(&cur, prev.data, cut), 0);
                cr_assert_eq(lg_buf_append(&cur, step.data ? step.data : "", step.len), 0);
                cr_assert_eq(lg_buf_append(&cur, prev.data + cut, prev.len - cut), 0);
            } else {
                cr_assert_eq(lg_buf_append(&cur, prev.data, prev.len / 2), 0);
            }
            roundtrip(c, &cur, NULL, &prev, LG_CODEC_PREFIX);
            lg_buf_reset(&enc);
            cr_assert_eq(lg_codec_compress(c, 3, cur.data ? cur.data : "", cur.len, NULL, prev.data,
                                           prev.len, &enc, &kind, &err),
                         0);
            total_enc += enc.len;
            total_new += cur.len > prev.len ? cur.len - prev.len : 0;
            lg_buf_reset(&prev);
            cr_assert_eq(lg_buf_append(&prev, cur.data ? cur.data : "", cur.len), 0);
        }
    }
    /* coding against the prefix costs about what is new, not the whole body */
    cr_assert(total_enc < total_new + total_new / 2, "delta coding: %zu bytes for %zu new",
              total_enc, total_new);
    lg_buf_release(&prev);
    lg_buf_release(&cur);
    lg_buf_release(&step);
    lg_buf_release(&enc);
    lg_codec_free(c);
}

Test(codec, damaged_frames_are_errors_not_garbage)
{
    lg_codec *c = lg_codec_new();
    lg_buf src = LG_BUF_INIT, enc = LG_BUF_INIT, dec = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    lg_pcg32 rng;
    int kind, failures = 0;

    lg_pcg32_srandom(&rng, 5, 5);
    for (int i = 0; i < 300; i++)
        cr_assert_eq(lg_buf_appendf(&src, "%s %u ", words[i % 30], lg_pcg32_random(&rng) % 97), 0);
    cr_assert_eq(lg_codec_compress(c, 3, src.data, src.len, NULL, NULL, 0, &enc, &kind, &err), 0);
    cr_assert_eq(kind, LG_CODEC_ZSTD);
    /* truncated frame */
    cr_assert_neq(lg_codec_decompress(c, kind, enc.data, enc.len / 2, src.len, NULL, NULL, 0, &dec,
                                      &err),
                  0);
    cr_assert(strstr(err.msg, "corrupt frame"), "%s", err.msg);
    cr_assert_eq(dec.len, 0, "output unchanged on error");
    /* wrong length */
    lg_err_clear(&err);
    cr_assert_neq(lg_codec_decompress(c, kind, enc.data, enc.len, src.len + 1, NULL, NULL, 0, &dec,
                                      &err),
                  0);
    lg_err_clear(&err);
    cr_assert_neq(lg_codec_decompress(c, kind, enc.data, enc.len, src.len - 1, NULL, NULL, 0, &dec,
                                      &err),
                  0);
    /* unknown coding */
    lg_err_clear(&err);
    cr_assert_eq(lg_codec_decompress(c, 9, enc.data, enc.len, src.len, NULL, NULL, 0, &dec, &err),
                 LG_EINPUT);
    /* flipped bytes: an error or different bytes, which the store's hash
     * check catches; never a crash */
    for (size_t i = 0; i < enc.len; i++) {
        lg_buf bad = LG_BUF_INIT;
        lg_err e = LG_ERR_INIT;
        cr_assert_eq(lg_buf_append(&bad, enc.data, enc.len), 0);
        bad.data[i] ^= 0x5a;
        lg_buf_reset(&dec);
        if (lg_codec_decompress(c, kind, bad.data, bad.len, src.len, NULL, NULL, 0, &dec, &e) != 0 ||
            memcmp(dec.data, src.data, src.len) != 0)
            failures++;
        lg_buf_release(&bad);
    }
    cr_assert(failures > (int)enc.len / 2, "most flips are noticed by zstd alone (%d of %zu)",
              failures, enc.len);
    lg_buf_release(&src);
    lg_buf_release(&enc);
    lg_buf_release(&dec);
    lg_codec_free(c);
}
