/* tests/test_redact.c - recorder/redact.c: headers, JSON paths, patterns,
 * literals, SSE events, scrubbing, and that redacted requests still match.
 * The golden tests/fixtures/http/redact/request.expected is rewritten with
 * LG_UPDATE_GOLDEN=1. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "recorder/match.h"
#include "recorder/redact.h"
#include "recorder/sse.h"

static void fixture_path(char *out, size_t n, const char *name)
{
    const char *src = getenv("LG_SRCDIR");
    snprintf(out, n, "%s/tests/fixtures/http/%s", src ? src : ".", name);
}

static void load(const char *name, lg_buf *b)
{
    char path[1024];
    lg_err err = LG_ERR_INIT;
    fixture_path(path, sizeof path, name);
    lg_buf_init(b);
    cr_assert_eq(lg_fs_read_file(path, b, &err), 0, "%s", err.msg);
}

/* The configuration the fixture is redacted with. */
static lg_redact *fixture_config(void)
{
    lg_err err = LG_ERR_INIT;
    lg_redact *r = lg_redact_new();
    cr_assert(r);
    cr_assert_eq(lg_redact_add_builtin(r, "email", &err), 0, "%s", err.msg);
    cr_assert_eq(lg_redact_add_builtin(r, "api_key", &err), 0, "%s", err.msg);
    cr_assert_eq(lg_redact_add_path(r, "metadata.customer_phone", "phone", &err), 0, "%s", err.msg);
    cr_assert_eq(lg_redact_add_path(r, "metadata.session", NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(lg_redact_add_literal(r, "customer_name", "Jane Doe", 8, &err), 0, "%s", err.msg);
    return r;
}

static char *redact(const lg_redact *r, const char *body, size_t len, size_t *count)
{
    lg_buf out = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_redact_body(r, body, len, &out, count, &err), 0, "%s", err.msg);
    return lg_buf_take(&out, NULL);
}

/* ---- headers ---- */

Test(redact, fixed_and_configured_headers)
{
    lg_err err = LG_ERR_INIT;
    const char *drop[] = {"Authorization", "authorization", "X-Api-Key", "api-key",
                          "Cookie",        "SET-COOKIE",    "Proxy-Authorization"};
    const char *keep[] = {"anthropic-version", "anthropic-beta", "openai-organization",
                          "content-type", "x-api-keys", "authorization2", "x-request-id", ""};
    for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++)
        cr_expect(lg_redact_header_dropped(NULL, drop[i]), "%s kept", drop[i]);
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        cr_expect_not(lg_redact_header_dropped(NULL, keep[i]), "%s dropped", keep[i]);
    lg_redact *r = lg_redact_new();
    cr_assert_eq(lg_redact_add_header(r, "X-Goog-Api-Key", &err), 0);
    cr_expect(lg_redact_header_dropped(r, "x-goog-api-key"));
    cr_expect(lg_redact_header_dropped(r, "authorization"));
    cr_expect_not(lg_redact_header_dropped(r, "x-goog-user-project"));
    cr_expect_eq(lg_redact_add_header(r, "", &err), LG_EINPUT);
    lg_redact_free(r);
}

/* ---- bodies ---- */

Test(redact, fixture_golden)
{
    bool update = getenv("LG_UPDATE_GOLDEN") && strcmp(getenv("LG_UPDATE_GOLDEN"), "1") == 0;
    lg_buf in, want = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    size_t count = 0;
    char path[1024];
    lg_redact *r = fixture_config();

    load("redact/request.json", &in);
    char *got = redact(r, in.data, in.len, &count);
    fixture_path(path, sizeof path, "redact/request.expected");
    if (update)
        cr_assert_eq(lg_fs_write_file_atomic(path, got, strlen(got), &err), 0, "%s", err.msg);
    cr_assert_eq(lg_fs_read_file(path, &want, &err), 0, "%s", err.msg);
    cr_expect_str_eq(got, lg_buf_cstr(&want));

    /* what must be gone, and what must still be there */
    static const char *const secrets[] = {
        "jane.doe", "ops@example.com", "bob@example.org", "jane@corp.example", "sk-proj-",
        "AKIAIOSFODNN7EXAMPLE", "eyJhbGciOi", "Jane Doe", "+47 912", "opaque-session",
    };
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        cr_expect_null(strstr(got, secrets[i]), "'%s' survived redaction", secrets[i]);
    static const char *const kept[] = {
        "\"temperature\": 0.7", "\"top_p\": 1e-1", "risk-assessment-framework-v2",
        "task-1234567890abcdefghij", "Bearer <redacted:api_key>", "<redacted:phone>",
        "\"session\": \"<redacted>\"", "<redacted:customer_name> <<redacted:email>>",
        "Escalate to <redacted:email> when stuck.",
        "\\\"email\\\":\\\"<redacted:email>\\\"",
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        cr_expect(strstr(got, kept[i]), "'%s' missing from the redacted body", kept[i]);
    /* 5 emails in strings (ops, jane x3, bob) + 1 in owner, 3 keys, 1 name, 2 paths */
    cr_expect_eq(count, 12, "count %zu", count);

    /* still JSON, same shape */
    json_t *a = lg_json_parse(in.data, in.len, "in", &err), *b = lg_json_parse(got, strlen(got), "out", &err);
    cr_assert(a && b, "%s", err.msg);
    cr_expect_eq(json_array_size(json_object_get(b, "messages")), 5);
    cr_expect_eq(json_object_size(b), json_object_size(a));
    json_decref(a);
    json_decref(b);

    /* deterministic and idempotent */
    size_t c2 = 99;
    char *again = redact(r, in.data, in.len, NULL);
    char *twice = redact(r, got, strlen(got), &c2);
    cr_expect_str_eq(again, got);
    cr_expect_str_eq(twice, got);
    cr_expect_eq(c2, 2, "only the two path placeholders are replaced again (by themselves)");
    free(again);
    free(twice);
    free(got);
    lg_buf_release(&in);
    lg_buf_release(&want);
    lg_redact_free(r);
}

Test(redact, untouched_body_is_returned_byte_for_byte)
{
    lg_buf in;
    size_t count = 99;
    lg_redact *r = fixture_config();
    load("openai_chat_request.json", &in);
    char *got = redact(r, in.data, in.len, &count);
    cr_expect_eq(count, 0);
    cr_expect_str_eq(got, in.data);
    free(got);
    /* no configuration at all */
    got = redact(NULL, in.data, in.len, &count);
    cr_expect_str_eq(got, in.data);
    free(got);
    lg_buf_release(&in);
    lg_redact_free(r);
}

Test(redact, nested_strings_arrays_and_keys)
{
    lg_redact *r = lg_redact_new();
    lg_err err = LG_ERR_INIT;
    size_t count;
    cr_assert_eq(lg_redact_add_builtin(r, "email", &err), 0);
    cr_assert_eq(lg_redact_add_path(r, "a[*].pw", "password", &err), 0);
    const char *in = "{\"a\":[{\"pw\":[1,{\"x\":\"y\"}],\"n\":[\"x@y.io\",[\"deep z@q.de\"]]},"
                     "{\"pw\":null},{\"nopw\":1}],\"k@x.com\":\"v\",\"e\":\"\\u0061@b.cd\"}";
    char *got = redact(r, in, strlen(in), &count);
    /* whole values at a path, whatever their type; keys are not patterns' business;
     * an escaped string is decoded before matching */
    cr_expect_str_eq(got, "{\"a\":[{\"pw\":\"<redacted:password>\",\"n\":[\"<redacted:email>\","
                          "[\"deep <redacted:email>\"]]},{\"pw\":\"<redacted:password>\"},"
                          "{\"nopw\":1}],\"k@x.com\":\"v\",\"e\":\"<redacted:email>\"}");
    cr_expect_eq(count, 5);
    free(got);
    /* needles hidden behind \u escapes are still found: the raw text has no '@' */
    const char *hid = "{\"e\":\"mail a\\u0040b.cd now\",\"n\":1}";
    got = redact(r, hid, strlen(hid), &count);
    cr_expect_str_eq(got, "{\"e\":\"mail <redacted:email> now\",\"n\":1}");
    cr_expect_eq(count, 1);
    free(got);
    /* a top-level string and a non-JSON body */
    got = redact(r, "\"mail me: a@b.co\"", 17, &count);
    cr_expect_str_eq(got, "\"mail me: <redacted:email>\"");
    free(got);
    got = redact(r, "to=a@b.co&cc=c@d.co", 19, &count);
    cr_expect_str_eq(got, "to=<redacted:email>&cc=<redacted:email>");
    cr_expect_eq(count, 2);
    free(got);
    /* replacement text with characters JSON must escape stays valid JSON */
    const char *esc = "{\"t\":\"\\\"q@w.io\\\"\\n\\u00e9\"}";
    got = redact(r, esc, strlen(esc), &count);
    cr_expect_str_eq(got, "{\"t\":\"\\\"<redacted:email>\\\"\\n\xc3\xa9\"}");
    free(got);
    lg_redact_free(r);
}

Test(redact, bodies_need_no_terminating_nul)
{
    /* exactly sized heap copies: under ASan any read past the end fails */
    static const char *const texts[] = {
        "contact a@b.io or sk-abcdefghijklmnopqrstuvwxyz0123",
        "{\"m\":\"a@b.io\",\"k\":\"Bearer abcdefghijklmnopqrstuvwxyz\"}",
        "data: ends with a@b.io",
    };
    lg_err err = LG_ERR_INIT;
    lg_redact *r = lg_redact_new();
    cr_assert_eq(lg_redact_add_builtin(r, "email", &err), 0);
    cr_assert_eq(lg_redact_add_builtin(r, "api_key", &err), 0);
    cr_assert_eq(lg_redact_add_pattern(r, "tail", "io$", false, &err), 0);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = strlen(texts[i]), count = 0;
        char *b = malloc(n);
        lg_buf out = LG_BUF_INIT;
        memcpy(b, texts[i], n);
        cr_assert_eq(lg_redact_body(r, b, n, &out, &count, &err), 0, "%s", err.msg);
        cr_expect_gt(count, 0);
        cr_expect_null(strstr(lg_buf_cstr(&out), "a@b.io"));
        lg_buf_reset(&out);
        cr_assert_eq(lg_redact_sse_event(r, b, n, &out, &count, &err), 0);
        free(b);
        lg_buf_release(&out);
    }
    lg_redact_free(r);
}

Test(redact, patterns_and_their_errors)
{
    lg_redact *r = lg_redact_new();
    lg_err err = LG_ERR_INIT;
    size_t count;

    cr_assert_eq(lg_redact_add_pattern(r, "ticket", "TCK-[0-9]{4,}", false, &err), 0);
    cr_assert_eq(lg_redact_add_pattern(r, "word", "\\bsecret\\b", true, &err), 0);
    const char *in = "{\"m\":\"TCK-12345 and TCK-12 are SECRET, secretive\"}";
    char *got = redact(r, in, strlen(in), &count);
    cr_expect_str_eq(got, "{\"m\":\"<redacted:ticket> and TCK-12 are <redacted:word>, secretive\"}");
    cr_expect_eq(count, 2);
    free(got);
    /* a pattern that can split a UTF-8 character is widened to whole characters */
    cr_assert_eq(lg_redact_add_pattern(r, "byte", "\xa9x", false, &err), 0);
    in = "{\"m\":\"caf\xc3\xa9x!\"}";
    got = redact(r, in, strlen(in), &count);
    cr_expect_str_eq(got, "{\"m\":\"caf<redacted:byte>!\"}");
    free(got);

    cr_expect_eq(lg_redact_add_pattern(r, "bad", "a(b", false, &err), LG_EINPUT);
    cr_expect(strstr(err.msg, "redaction pattern 'bad' (a(b) does not compile: "), "%s", err.msg);
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_pattern(r, "empty", "x*", false, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "redaction pattern 'empty' (x*) matches the empty string; make it "
                              "match at least one character");
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_pattern(r, "has space", "x", false, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "redaction name 'has space' must be 1-64 of A-Z a-z 0-9 _ -");
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_builtin(r, "emial", &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "unknown built-in redaction pattern 'emial' (did you mean 'email'?)");
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_builtin(r, "phone_number", &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "unknown built-in redaction pattern 'phone_number' (known: email, "
                              "api_key)");
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_path(r, "a[", "x", &err), LG_EINPUT);
    cr_expect(strstr(err.msg, "invalid JSON path 'a[': column 3"), "%s", err.msg);
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_path(r, "a", "<x>", &err), LG_EINPUT);
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_add_literal(r, "k", "abc", 3, &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "secret 'k' is shorter than 4 bytes; refusing to redact it "
                              "everywhere");
    const char *const *names = lg_redact_builtin_names();
    cr_expect_str_eq(names[0], "email");
    cr_expect_str_eq(names[1], "api_key");
    cr_expect_null(names[2]);
    lg_redact_free(r);
    lg_redact_free(NULL);
}

Test(redact, builtin_api_key_shapes)
{
    lg_redact *r = lg_redact_new();
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_redact_add_builtin(r, "api_key", &err), 0);
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234", "<redacted:api_key>"},
        {"key=sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx_-12 end", "key=<redacted:api_key> end"},
        {"sk-or-v1-0123456789abcdef0123456789abcdef", "<redacted:api_key>"},
        {"ghp_abcdefghijklmnopqrstuvwxyz0123456789", "<redacted:api_key>"},
        {"github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "<redacted:api_key>"},
        {"AKIAIOSFODNN7EXAMPLE.", "<redacted:api_key>."},
        {"AIzaSyA-1234567890abcdefghijklmnopqrstu", "<redacted:api_key>"},
        {"xoxb-1234567890-abcdefghij", "<redacted:api_key>"},
        {"Authorization: Bearer abc.def-ghi_jkl/mno+pqr==", "Authorization: Bearer <redacted:api_key>"},
        {"bearer 0123456789abcdef0123", "bearer <redacted:api_key>"},
        /* not keys */
        {"sk-short", "sk-short"},
        {"task-abcdefghijklmnopqrstuvwxyz", "task-abcdefghijklmnopqrstuvwxyz"},
        {"risk-assessment-framework-version-2", "risk-assessment-framework-version-2"},
        {"the bearer of bad news", "the bearer of bad news"},
        {"AKIAIOSFODNN7EXAMPLEX", "AKIAIOSFODNN7EXAMPLEX"},
        {"<redacted:api_key>", "<redacted:api_key>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = redact(r, cases[i].in, strlen(cases[i].in), NULL);
        cr_expect_str_eq(got, cases[i].out, "input %s", cases[i].in);
        free(got);
    }
    lg_redact_free(r);
}

Test(redact, builtin_email_shapes)
{
    lg_redact *r = lg_redact_new();
    lg_err err = LG_ERR_INIT;
    cr_assert_eq(lg_redact_add_builtin(r, "email", &err), 0);
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"jane.doe+x@mail.example.com", "<redacted:email>"},
        {"<a@b.io>, (c_d%e@sub-d.example.travel).", "<<redacted:email>>, (<redacted:email>)."},
        {"mailto:x@y.museum?subject=hi", "mailto:<redacted:email>?subject=hi"},
        {"user@localhost", "user@localhost"},
        {"@handle and a@b", "@handle and a@b"},
        {"<redacted:email>", "<redacted:email>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = redact(r, cases[i].in, strlen(cases[i].in), NULL);
        cr_expect_str_eq(got, cases[i].out, "input %s", cases[i].in);
        free(got);
    }
    lg_redact_free(r);
}

/* ---- redaction runs before fingerprinting: redacted requests still match ---- */

static lg_hash128 redacted_fp(const lg_redact *r, const lg_match_config *cfg, const char *body)
{
    lg_buf red = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    lg_hash128 h;
    cr_assert_eq(lg_redact_body(r, body, strlen(body), &red, NULL, &err), 0, "%s", err.msg);
    lg_match_request q = {"POST", "/v1/chat/completions", red.data, red.len};
    cr_assert_eq(lg_match_fingerprint(cfg, &q, &h, &err), 0, "%s", err.msg);
    lg_buf_release(&red);
    return h;
}

Test(redact, redacted_requests_fingerprint_equal)
{
    lg_buf in;
    lg_err err = LG_ERR_INIT;
    lg_redact *r = fixture_config();
    lg_match_config *cfg = lg_match_config_new();
    cr_assert_eq(lg_match_config_ignore(cfg, "metadata.request_id", &err), 0);
    load("redact/request.json", &in);

    /* the same request at replay time, with other secrets in the same places */
    char *other = strdup(in.data);
    const char *swaps[][2] = {
        {"jane.doe+billing@mail.example.co.uk", "joe.bloggs@elsewhere.example.net"},
        {"sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234", "sk-proj-ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ"},
        {"+47 912 34 567", "+1 555 0100"},
        {"opaque-session-token-value", "another-token"},
    };
    for (size_t i = 0; i < sizeof swaps / sizeof swaps[0]; i++) {
        char *p;
        while ((p = strstr(other, swaps[i][0]))) {
            size_t a = strlen(swaps[i][0]), b = strlen(swaps[i][1]);
            memmove(p + b, p + a, strlen(p + a) + 1);
            memcpy(p, swaps[i][1], b);
        }
    }
    cr_assert_str_neq(other, in.data);
    lg_hash128 h1 = redacted_fp(r, cfg, in.data), h2 = redacted_fp(r, cfg, other);
    cr_expect(lg_hash_equal(h1, h2), "redacted requests must fingerprint the same");

    /* a real change (not a secret) still changes the fingerprint */
    char *p = strstr(other, "stopped working");
    cr_assert(p);
    memcpy(p, "started", 7);
    cr_expect_not(lg_hash_equal(h1, redacted_fp(r, cfg, other)));
    /* and without redaction the secrets would have made them differ */
    lg_hash128 u1, u2;
    lg_match_request q1 = {"POST", "/v1/chat/completions", in.data, in.len};
    lg_match_request q2 = {"POST", "/v1/chat/completions", other, strlen(other)};
    cr_assert_eq(lg_match_fingerprint(cfg, &q1, &u1, &err), 0);
    cr_assert_eq(lg_match_fingerprint(cfg, &q2, &u2, &err), 0);
    cr_expect_not(lg_hash_equal(u1, u2));
    free(other);
    lg_buf_release(&in);
    lg_match_config_free(cfg);
    lg_redact_free(r);
}

Test(redact, prepare_equals_redact_then_fingerprint)
{
    static const char *const files[] = {
        "redact/request.json", "openai_chat_request.json", "anthropic_messages_request.json",
        "openai_responses_request.json", "openai_embeddings_request.json", "sse_crlf.sse",
        "diff/raw_body.recorded.json", "diff/scalar_body.recorded.json",
        "diff/ignored_volatile_equal.incoming.json",
    };
    lg_err err = LG_ERR_INIT;
    lg_redact *r = fixture_config();
    lg_match_config *cfg = lg_match_config_new();
    lg_match_cache *caches[2] = {lg_match_cache_new(0), lg_match_cache_new(0)};
    cr_assert_eq(lg_match_config_ignore(cfg, "messages[*].id", &err), 0);
    cr_assert_eq(lg_match_config_ignore(cfg, "user", &err), 0);
    /* three rounds: no cache, a cold cache, the same cache warm */
    for (int round = 0; round < 3; round++)
    for (size_t i = 0; i <= sizeof files / sizeof files[0]; i++) {
        lg_buf in = LG_BUF_INIT, a = LG_BUF_INIT, b = LG_BUF_INIT;
        size_t na = 0, nb = 0;
        lg_hash128 ha, hb;
        if (i < sizeof files / sizeof files[0])
            load(files[i], &in); /* the last round: an empty body */
        lg_match_request q = {"POST", "/v1/x", in.data, in.len};
        for (int with_rules = 0; with_rules < 2; with_rules++) {
            const lg_redact *rr = with_rules ? r : NULL;
            lg_buf_reset(&a);
            lg_buf_reset(&b);
            lg_match_cache *cache = round ? caches[with_rules] : NULL;
            cr_assert_eq(lg_match_prepare(rr, cfg, cache, &q, &a, &na, &ha, &err), 0, "%s",
                         err.msg);
            cr_assert_eq(lg_redact_body(rr, in.data, in.len, &b, &nb, &err), 0);
            lg_match_request qb = {"POST", "/v1/x", b.data, b.len};
            cr_assert_eq(lg_match_fingerprint(cfg, &qb, &hb, &err), 0);
            cr_expect_eq(a.len, b.len, "%zu", i);
            cr_expect(a.len == 0 || memcmp(a.data, b.data, a.len) == 0, "file %zu", i);
            cr_expect_eq(na, nb);
            cr_expect(lg_hash_equal(ha, hb), "round %d file %zu: prepare and redact+fingerprint "
                      "differ", round, i);
        }
        lg_buf_release(&in);
        lg_buf_release(&a);
        lg_buf_release(&b);
    }
    /* the warm round hit for every body redaction left alone, and only then:
     * without rules all 10 bodies, with the rules all but the secret one */
    uint64_t hits, misses;
    lg_match_cache_stats(caches[0], &hits, &misses);
    cr_expect_eq(hits, 10);
    cr_expect_eq(misses, 10);
    lg_match_cache_stats(caches[1], &hits, &misses);
    cr_expect_eq(hits, 9);
    cr_expect_eq(misses, 11);
    lg_match_cache_free(caches[0]);
    lg_match_cache_free(caches[1]);
    lg_match_cache_free(NULL);
    lg_match_config_free(cfg);
    lg_redact_free(r);
}

struct hammer {
    const lg_redact *r;
    const lg_match_config *cfg;
    lg_match_cache *cache;
    const lg_buf *bodies;
    const lg_hash128 *want;
    int nbodies, bad;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    lg_buf out = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    for (int k = 0; k < 400; k++) {
        int i = k % h->nbodies;
        /* two paths so the same bytes make two keys */
        lg_match_request q = {"POST", k & 1 ? "/v1/a" : "/v1/b", h->bodies[i].data,
                              h->bodies[i].len};
        lg_hash128 fp;
        lg_buf_reset(&out);
        if (lg_match_prepare(h->r, h->cfg, h->cache, &q, &out, NULL, &fp, &err) ||
            !lg_hash_equal(fp, h->want[2 * i + (k & 1)]))
            h->bad++;
    }
    lg_buf_release(&out);
    return NULL;
}

Test(redact, cache_is_thread_safe_and_tiny_caches_still_answer_right)
{
    static const char *const files[] = {"openai_chat_request.json", "anthropic_messages_request.json",
                                        "redact/request.json", "openai_responses_request.json"};
    lg_buf bodies[4];
    lg_hash128 want[8];
    lg_err err = LG_ERR_INIT;
    lg_redact *r = fixture_config();
    lg_match_config *cfg = lg_match_config_new();
    lg_match_cache *cache = lg_match_cache_new(2); /* collisions all the time */
    for (int i = 0; i < 4; i++) {
        lg_buf tmp = LG_BUF_INIT;
        load(files[i], &bodies[i]);
        for (int p = 0; p < 2; p++) {
            lg_match_request q = {"POST", p ? "/v1/a" : "/v1/b", bodies[i].data, bodies[i].len};
            lg_buf_reset(&tmp);
            cr_assert_eq(lg_match_prepare(r, cfg, NULL, &q, &tmp, NULL, &want[2 * i + p], &err), 0);
        }
        lg_buf_release(&tmp);
    }
    cr_assert_not(lg_hash_equal(want[0], want[1]), "the path is part of the fingerprint");
    pthread_t t[4];
    struct hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){r, cfg, cache, bodies, want, 4, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(h[i].bad, 0, "thread %d got %d wrong fingerprints", i, h[i].bad);
    }
    uint64_t hits, misses;
    lg_match_cache_stats(cache, &hits, &misses);
    cr_expect_eq(hits + misses, 1600);
    for (int i = 0; i < 4; i++)
        lg_buf_release(&bodies[i]);
    lg_match_cache_free(cache);
    lg_match_config_free(cfg);
    lg_redact_free(r);
}

/* ---- SSE events and scrubbing ---- */

struct sse_ctx {
    const lg_redact *r;
    lg_buf out;
    size_t count;
};

static int redact_event(const lg_sse_event *ev, void *ctx)
{
    struct sse_ctx *c = ctx;
    lg_err err = LG_ERR_INIT;
    size_t n = 0;
    cr_assert_eq(lg_redact_sse_event(c->r, ev->raw, ev->raw_len, &c->out, &n, &err), 0, "%s",
                 err.msg);
    c->count += n;
    return 0;
}

Test(redact, sse_events)
{
    lg_err err = LG_ERR_INIT;
    lg_redact *r = lg_redact_new();
    cr_assert_eq(lg_redact_add_builtin(r, "email", &err), 0);
    const char *ev = "event: delta\r\n"
                     "data: {\"text\": \"write to a@b.io\", \"n\": 1.50}\r\n"
                     ": keep a@b.io comment\r\n"
                     "data:plain c@d.io\r\n"
                     "\r\n";
    lg_buf out = LG_BUF_INIT;
    size_t count = 0;
    cr_assert_eq(lg_redact_sse_event(r, ev, strlen(ev), &out, &count, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&out), "event: delta\r\n"
                                        "data: {\"text\": \"write to <redacted:email>\", \"n\": 1.50}\r\n"
                                        ": keep a@b.io comment\r\n"
                                        "data:plain <redacted:email>\r\n"
                                        "\r\n");
    cr_expect_eq(count, 2);

    /* a whole recorded stream: nothing to redact means identical bytes */
    lg_buf s;
    load("anthropic_messages_stream.sse", &s);
    struct sse_ctx c = {r, LG_BUF_INIT, 0};
    lg_sse *p = lg_sse_new(0);
    cr_assert_eq(lg_sse_feed(p, s.data, s.len, redact_event, &c, &err), 0);
    cr_assert_eq(lg_sse_finish(p, redact_event, &c, &err), 0);
    cr_expect_eq(c.count, 0);
    cr_expect_eq(c.out.len, s.len);
    cr_expect(memcmp(c.out.data, s.data, s.len) == 0);
    lg_sse_free(p);
    lg_buf_release(&c.out);
    lg_buf_release(&s);
    lg_buf_release(&out);
    lg_redact_free(r);
}

Test(redact, literal_secret_and_scrub)
{
    const char *key = "sk-test-upstream-0123456789";
    lg_err err = LG_ERR_INIT;
    lg_redact *r = lg_redact_new();
    size_t count = 0;
    cr_assert_eq(lg_redact_add_literal(r, "upstream_key", key, strlen(key), &err), 0);
    /* in a JSON string, even written with escapes */
    const char *body = "{\"note\":\"key is sk-test-upstream-0123456789 and \\u0073k-test-upstream-"
                       "0123456789\"}";
    char *got = redact(r, body, strlen(body), &count);
    cr_expect_str_eq(got, "{\"note\":\"key is <redacted:upstream_key> and "
                          "<redacted:upstream_key>\"}");
    cr_expect_eq(count, 2);
    free(got);

    /* scrub: any bytes */
    lg_buf out = LG_BUF_INIT;
    const char data[] = "Authorization: Bearer sk-test-upstream-0123456789\r\n\0binary"
                        "sk-test-upstream-0123456789sk-test-upstream-0123456789";
    cr_assert_eq(lg_redact_scrub(data, sizeof data - 1, key, strlen(key), "<redacted>", &out,
                                 &count, &err), 0);
    const char want[] = "Authorization: Bearer <redacted>\r\n\0binary<redacted><redacted>";
    cr_expect_eq(out.len, sizeof want - 1);
    cr_expect(memcmp(out.data, want, sizeof want - 1) == 0);
    cr_expect_eq(count, 3);
    lg_buf_reset(&out);
    cr_assert_eq(lg_redact_scrub("clean", 5, key, strlen(key), "<x>", &out, &count, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&out), "clean");
    cr_expect_eq(count, 0);
    cr_expect_eq(lg_redact_scrub("abc", 3, "ab", 2, "<x>", &out, &count, &err), LG_EINPUT);
    /* a full buffer: error, output unchanged */
    lg_buf small;
    lg_buf_init_capped(&small, 10);
    lg_err_clear(&err);
    cr_expect_eq(lg_redact_scrub(data, sizeof data - 1, key, strlen(key), "<redacted>", &small,
                                 &count, &err), LG_ETOOBIG);
    cr_expect_eq(small.len, 0);
    lg_buf_release(&small);
    lg_buf_release(&out);
    lg_redact_free(r);
}
