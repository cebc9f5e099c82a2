/* tests/test_core.c - core/: err, buf, json, hash, pcg, clock, suggest, fs. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "core/pcg.h"
#include "core/suggest.h"

Test(pcg, reference_vector)
{
    /* pcg32-demo from the PCG reference distribution: initstate 42, initseq 54 */
    static const uint32_t expect[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                                       0x83d2f293, 0xbfa4784b, 0xcbed606e};
    lg_pcg32 rng;
    lg_pcg32_srandom(&rng, 42u, 54u);
    for (int i = 0; i < 6; i++) {
        uint32_t got = lg_pcg32_random(&rng);
        cr_expect_eq(got, expect[i], "output %d: got 0x%08x, want 0x%08x", i, got, expect[i]);
    }
}

Test(pcg, bounded_is_in_range_and_unbiased)
{
    lg_pcg32 rng;
    unsigned counts[6] = {0};
    lg_pcg32_srandom(&rng, 1, 2);
    for (int i = 0; i < 60000; i++) {
        uint32_t v = lg_pcg32_boundedrand(&rng, 6);
        cr_assert_lt(v, 6u);
        counts[v]++;
    }
    /* each face within 5% of 10000: a biased or broken generator fails */
    for (int i = 0; i < 6; i++)
        cr_expect(counts[i] > 9500 && counts[i] < 10500, "face %d: %u", i, counts[i]);
    cr_expect_eq(lg_pcg32_boundedrand(&rng, 0), 0u);
}

Test(pcg, double_and_range)
{
    lg_pcg32 rng;
    double sum = 0;
    lg_pcg32_srandom(&rng, 7, 9);
    for (int i = 0; i < 100000; i++) {
        double d = lg_pcg32_double(&rng);
        cr_assert(d >= 0.0 && d < 1.0);
        sum += d;
    }
    cr_expect(sum / 100000 > 0.49 && sum / 100000 < 0.51);
    for (int i = 0; i < 1000; i++) {
        int64_t v = lg_pcg32_range(&rng, -3, 3);
        cr_assert(v >= -3 && v <= 3);
        int64_t w = lg_pcg32_range(&rng, INT64_MIN, INT64_MAX);
        (void)w;
        int64_t x = lg_pcg32_range(&rng, -5000000000LL, 5000000000LL);
        cr_assert(x >= -5000000000LL && x <= 5000000000LL);
    }
    cr_expect_eq(lg_pcg32_range(&rng, 5, 5), 5);
}

Test(pcg, streams_differ_and_repeat)
{
    lg_pcg32 a, b, c;
    lg_pcg32_srandom(&a, 42, 1);
    lg_pcg32_srandom(&b, 42, 2);
    lg_pcg32_srandom(&c, 42, 1);
    uint32_t x = lg_pcg32_random(&a);
    cr_expect_neq(x, lg_pcg32_random(&b));
    cr_expect_eq(x, lg_pcg32_random(&c));
}

Test(err, first_error_wins_and_exit_codes)
{
    lg_err e = LG_ERR_INIT;
    cr_expect_eq(LG_ERR(&e, LG_EINPUT, "cannot open '%s'", "a.yaml"), LG_EINPUT);
    LG_ERR(&e, LG_EIO, "later");
    cr_expect_str_eq(e.msg, "cannot open 'a.yaml'");
    cr_expect_eq(e.code, LG_EINPUT);
    lg_err_prefix(&e, "%s", "suites/x.yaml");
    cr_expect_str_eq(e.msg, "suites/x.yaml: cannot open 'a.yaml'");
    cr_expect_eq(lg_err_exit_code(LG_OK), 0);
    cr_expect_eq(lg_err_exit_code(LG_EGATE), 1);
    cr_expect_eq(lg_err_exit_code(LG_EINPUT), 2);
    cr_expect_eq(lg_err_exit_code(LG_EUSAGE), 2);
    cr_expect_eq(lg_err_exit_code(LG_EIO), 3);
    cr_expect_eq(LG_ERR(NULL, LG_EIO, "dropped"), LG_EIO);
    lg_err_clear(&e);
    cr_expect_not(lg_err_isset(&e));
}

Test(buf, append_format_take_and_cap)
{
    lg_buf b;
    size_t len;
    lg_buf_init_capped(&b, 10);
    cr_expect_str_eq(lg_buf_cstr(&b), "");
    cr_assert_eq(lg_buf_append_str(&b, "hello"), 0);
    cr_assert_eq(lg_buf_appendf(&b, "-%d", 42), 0);
    cr_expect_str_eq(b.data, "hello-42");
    cr_expect_eq(lg_buf_append_str(&b, "xyz"), LG_ETOOBIG);
    cr_expect_str_eq(b.data, "hello-42"); /* unchanged on failure */
    cr_assert_eq(lg_buf_append(&b, "ab", 2), 0);
    cr_expect_eq(b.len, 10u);
    lg_buf_truncate(&b, 5);
    cr_expect_str_eq(b.data, "hello");
    char *s = lg_buf_take(&b, &len);
    cr_expect_str_eq(s, "hello");
    cr_expect_eq(len, 5u);
    cr_expect_null(b.data);
    free(s);
    /* growth across many reallocations keeps contents */
    lg_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(lg_buf_append_byte(&b, (char)('a' + i % 26)), 0);
    cr_expect_eq(b.len, 10000u);
    cr_expect_eq(b.data[9999], 'a' + 9999 % 26);
    cr_expect_eq(b.data[10000], '\0');
    lg_buf_release(&b);
}

Test(json, canonical_sorted_compact)
{
    lg_err e = LG_ERR_INIT;
    lg_buf out = LG_BUF_INIT;
    const char *in = "{ \"b\": [1, 2.5, {\"z\": null, \"a\": true}], \"a\": \"x\\u00e9\" }";
    json_t *v = lg_json_parse(in, strlen(in), "in", &e);
    cr_assert_not_null(v, "%s", e.msg);
    cr_assert_eq(lg_json_dump_canonical(v, &out, &e), 0);
    cr_expect_str_eq(out.data, "{\"a\":\"x\xc3\xa9\",\"b\":[1,2.5,{\"a\":true,\"z\":null}]}");
    json_decref(v);
    lg_buf_release(&out);
}

Test(json, parse_error_names_line_and_column)
{
    lg_err e = LG_ERR_INIT;
    const char *in = "{\n  \"a\": 1,\n  \"b\" 2\n}";
    cr_expect_null(lg_json_parse(in, strlen(in), "req.json", &e));
    cr_expect_eq(e.code, LG_EINPUT);
    cr_expect(strncmp(e.msg, "req.json:3:", 11) == 0, "%s", e.msg);
}

Test(hash, xxh3_128_known_value_and_hex_roundtrip)
{
    /* XXH3_128bits("", 0) = 99aa06d3014798d86001c324468d497f (xxHash test vectors) */
    char hex[LG_HASH_HEX_LEN];
    lg_hash128 h = lg_hash_bytes("", 0), back;
    lg_hash_hex(h, hex);
    cr_expect_str_eq(hex, "99aa06d3014798d86001c324468d497f");
    cr_assert(lg_hash_from_hex(hex, &back));
    cr_expect(lg_hash_equal(h, back));
    cr_expect_not(lg_hash_from_hex("xyz", &back));
    /* streaming equals one-shot */
    lg_hasher *s = lg_hasher_new();
    lg_hasher_update(s, "hello ", 6);
    lg_hasher_update(s, "world", 5);
    cr_expect(lg_hash_equal(lg_hasher_digest(s), lg_hash_bytes("hello world", 11)));
    lg_hasher_free(s);
}

Test(suggest, did_you_mean)
{
    static const char *const keys[] = {"trials", "seed", "cases", "name", "limits", NULL};
    cr_expect_str_eq(lg_suggest("trails", keys), "trials");
    cr_expect_str_eq(lg_suggest("sed", keys), "seed");
    cr_expect_null(lg_suggest("banana", keys));
    cr_expect_eq(lg_edit_distance("kitten", "sitting"), 3u);
}

Test(fs, read_missing_write_atomic)
{
    lg_err e = LG_ERR_INIT;
    lg_buf b = LG_BUF_INIT;
    char dir[] = "/tmp/lgtestXXXXXX", path[256];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/a/b/c.txt", dir);
    cr_expect_eq(lg_fs_read_file(path, &b, &e), LG_ENOENT);
    cr_expect(strstr(e.msg, "c.txt") != NULL);
    lg_err_clear(&e);
    char sub[256];
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    cr_assert_eq(lg_fs_mkdir_p(sub, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_fs_write_file_atomic(path, "data", 4, &e), 0, "%s", e.msg);
    cr_assert_eq(lg_fs_read_file(path, &b, &e), 0);
    cr_expect_str_eq(b.data, "data");
    lg_buf_release(&b);
    cr_assert_eq(lg_fs_rm_rf(dir, &e), 0);
    cr_expect_not(lg_fs_exists(dir));
}

Test(clock, iso8601_and_monotonic)
{
    char s[25];
    lg_clock_iso8601(0, s);
    cr_expect_str_eq(s, "1970-01-01T00:00:00.000Z");
    lg_clock_iso8601(1795276743123LL, s);
    cr_expect_str_eq(s, "2026-11-21T15:59:03.123Z");
    uint64_t a = lg_clock_mono_ns();
    lg_clock_sleep_ns(1000000);
    cr_expect_geq(lg_clock_mono_ns() - a, 1000000u);
}
