/* tests/test_match.c - recorder/jpath.c, recorder/udiff.c, recorder/match.c:
 * paths, canonical requests, fingerprints, first-difference reports, call
 * matching. Divergence goldens live in tests/fixtures/http/diff
 * (NAME.recorded.json, NAME.incoming.json, optional NAME.ignore, and
 * NAME.expected = "path: P\n" + diff, or "equal\n"); LG_UPDATE_GOLDEN=1
 * rewrites the .expected files from the current output. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/json.h"
#include "recorder/jpath.h"
#include "recorder/match.h"
#include "recorder/udiff.h"

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

static lg_match_request post(const char *body)
{
    return (lg_match_request){"POST", "/v1/chat/completions", body, strlen(body)};
}

/* ---- jpath ---- */

static void expect_compile_error(const char *path, const char *msg)
{
    lg_err err = LG_ERR_INIT;
    lg_jpath *p = (lg_jpath *)1;
    cr_expect_eq(lg_jpath_compile(path, &p, &err), LG_EINPUT, "%s compiled", path);
    cr_expect_null(p);
    cr_expect_str_eq(err.msg, msg);
}

Test(jpath, syntax_errors_name_the_column)
{
    expect_compile_error("", "invalid JSON path '': the path is empty (name a field, e.g. "
                             "'metadata.request_id')");
    expect_compile_error("messages[*.id", "invalid JSON path 'messages[*.id': column 11: "
                                          "expected ']' after '*'");
    expect_compile_error("a..b", "invalid JSON path 'a..b': column 3: expected a key (quote "
                                 "unusual keys: [\"key\"])");
    expect_compile_error("a.", "invalid JSON path 'a.': column 3: expected a key after '.'");
    expect_compile_error("a[x]", "invalid JSON path 'a[x]': column 3: expected an index, '*' "
                                 "or a quoted key after '['");
    expect_compile_error("a[1", "invalid JSON path 'a[1': column 4: expected ']'");
    expect_compile_error("a b", "invalid JSON path 'a b': column 2: expected '.' or '[' "
                                "between steps");
    expect_compile_error("[\"abc]", "invalid JSON path '[\"abc]': column 2: unterminated "
                                    "quoted key (expected '\"')");
    expect_compile_error("a[99999999999999999999999]", "invalid JSON path "
                         "'a[99999999999999999999999]': column 22: array index too large");
}

static int count_visit(json_t *v, json_t **r, void *ctx)
{
    (void)v;
    (void)r;
    (*(int *)ctx)++;
    return LG_JPATH_KEEP;
}

static int replace_visit(json_t *v, json_t **r, void *ctx)
{
    (void)v;
    (void)ctx;
    *r = json_string("X");
    return LG_JPATH_REPLACE;
}

static int delete_visit(json_t *v, json_t **r, void *ctx)
{
    (void)v;
    (void)r;
    (void)ctx;
    return LG_JPATH_DELETE;
}

static char *apply(const char *path, const char *doc, lg_jpath_visit_fn fn, size_t *n)
{
    lg_err err = LG_ERR_INIT;
    lg_jpath *p;
    lg_buf out = LG_BUF_INIT;
    json_t *v = json_loads(doc, 0, NULL);
    cr_assert(v, "bad test doc %s", doc);
    cr_assert_eq(lg_jpath_compile(path, &p, &err), 0, "%s", err.msg);
    cr_assert_str_eq(lg_jpath_text(p), path);
    cr_assert_eq(lg_jpath_apply(p, v, fn, NULL, n), 0);
    cr_assert_eq(lg_json_dump_canonical(v, &out, &err), 0);
    json_decref(v);
    lg_jpath_free(p);
    return lg_buf_take(&out, NULL);
}

Test(jpath, walk_shapes)
{
    static const struct {
        const char *path, *doc, *deleted, *replaced;
        size_t n;
    } cases[] = {
        {"user", "{\"user\":1,\"u\":2}", "{\"u\":2}", "{\"u\":2,\"user\":\"X\"}", 1},
        {".user", "{\"user\":1}", "{}", "{\"user\":\"X\"}", 1},
        {"metadata.request_id", "{\"metadata\":{\"request_id\":\"r\",\"k\":1}}",
         "{\"metadata\":{\"k\":1}}", "{\"metadata\":{\"k\":1,\"request_id\":\"X\"}}", 1},
        {"messages[*].id", "{\"messages\":[{\"id\":1,\"c\":1},{\"c\":2},{\"id\":3}]}",
         "{\"messages\":[{\"c\":1},{\"c\":2},{}]}",
         "{\"messages\":[{\"c\":1,\"id\":\"X\"},{\"c\":2},{\"id\":\"X\"}]}", 2},
        {"a[*]", "{\"a\":[1,2,3]}", "{\"a\":[]}", "{\"a\":[\"X\",\"X\",\"X\"]}", 3},
        {"a[1]", "{\"a\":[1,2,3]}", "{\"a\":[1,3]}", "{\"a\":[1,\"X\",3]}", 1},
        {"a[3]", "{\"a\":[1,2,3]}", "{\"a\":[1,2,3]}", "{\"a\":[1,2,3]}", 0},
        {"a.*", "{\"a\":{\"x\":1,\"y\":{\"z\":2}},\"b\":1}", "{\"a\":{},\"b\":1}",
         "{\"a\":{\"x\":\"X\",\"y\":\"X\"},\"b\":1}", 2},
        {"a.*.z", "{\"a\":{\"x\":1,\"y\":{\"z\":2}}}", "{\"a\":{\"x\":1,\"y\":{}}}",
         "{\"a\":{\"x\":1,\"y\":{\"z\":\"X\"}}}", 1},
        {"*", "{\"p\":1,\"q\":2}", "{}", "{\"p\":\"X\",\"q\":\"X\"}", 2},
        {"[\"a.b\"][0]", "{\"a.b\":[5,6],\"a\":{\"b\":[7]}}", "{\"a\":{\"b\":[7]},\"a.b\":[6]}",
         "{\"a\":{\"b\":[7]},\"a.b\":[\"X\",6]}", 1},
        {"[\"*\"]", "{\"*\":1,\"x\":2}", "{\"x\":2}", "{\"*\":\"X\",\"x\":2}", 1},
        {"[\"\\u00e9t\\u00e9\"]", "{\"\xc3\xa9t\xc3\xa9\":1}", "{}", "{\"\xc3\xa9t\xc3\xa9\":\"X\"}", 1},
        {"a[*][*]", "{\"a\":[[1,2],[3],4]}", "{\"a\":[[],[],4]}", "{\"a\":[[\"X\",\"X\"],[\"X\"],4]}", 3},
        /* steps that do not apply match nothing */
        {"a.b", "{\"a\":[1]}", "{\"a\":[1]}", "{\"a\":[1]}", 0},
        {"a[0]", "{\"a\":{\"0\":1}}", "{\"a\":{\"0\":1}}", "{\"a\":{\"0\":1}}", 0},
        {"a[*]", "{\"a\":{\"k\":1}}", "{\"a\":{\"k\":1}}", "{\"a\":{\"k\":1}}", 0},
        {"a.*", "{\"a\":[1]}", "{\"a\":[1]}", "{\"a\":[1]}", 0},
        {"x", "[1]", "[1]", "[1]", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n1 = 99, n2 = 99;
        int cnt = 0;
        char *d = apply(cases[i].path, cases[i].doc, delete_visit, &n1);
        char *r = apply(cases[i].path, cases[i].doc, replace_visit, &n2);
        cr_expect_str_eq(d, cases[i].deleted, "delete %s", cases[i].path);
        cr_expect_str_eq(r, cases[i].replaced, "replace %s", cases[i].path);
        cr_expect_eq(n1, cases[i].n, "%s: %zu matches", cases[i].path, n1);
        cr_expect_eq(n2, cases[i].n);
        free(d);
        free(r);
        /* a KEEP visitor changes nothing */
        lg_err err = LG_ERR_INIT;
        lg_jpath *p;
        json_t *v = json_loads(cases[i].doc, 0, NULL), *orig = json_deep_copy(v);
        cr_assert_eq(lg_jpath_compile(cases[i].path, &p, &err), 0);
        cr_assert_eq(lg_jpath_apply(p, v, count_visit, &cnt, NULL), 0);
        cr_expect_eq((size_t)cnt, cases[i].n);
        cr_expect(json_equal(v, orig));
        json_decref(v);
        json_decref(orig);
        lg_jpath_free(p);
    }
}

static int fail_visit(json_t *v, json_t **r, void *ctx)
{
    (void)v;
    (void)r;
    (void)ctx;
    return LG_EDIVERGED;
}

Test(jpath, visitor_error_stops_the_walk)
{
    lg_jpath *p;
    size_t n = 0;
    json_t *v = json_loads("{\"a\":[1,2,3]}", 0, NULL);
    cr_assert_eq(lg_jpath_compile("a[*]", &p, NULL), 0);
    cr_expect_eq(lg_jpath_apply(p, v, fail_visit, NULL, &n), LG_EDIVERGED);
    cr_expect_eq(n, 1);
    json_decref(v);
    lg_jpath_free(p);
    lg_jpath_free(NULL);
}

Test(jpath, append_key_quotes_what_a_bare_key_cannot_hold)
{
    lg_buf b = LG_BUF_INIT;
    cr_assert_eq(lg_jpath_append_key(&b, "messages", 8), 0);
    cr_assert_eq(lg_jpath_append_index(&b, 3), 0);
    cr_assert_eq(lg_jpath_append_key(&b, "content", 7), 0);
    cr_expect_str_eq(lg_buf_cstr(&b), "messages[3].content");
    lg_buf_reset(&b);
    cr_assert_eq(lg_jpath_append_key(&b, "a.b", 3), 0);
    cr_assert_eq(lg_jpath_append_key(&b, "*", 1), 0);
    cr_assert_eq(lg_jpath_append_key(&b, "say \"hi\"", 8), 0);
    cr_assert_eq(lg_jpath_append_key(&b, "", 0), 0);
    cr_assert_eq(lg_jpath_append_key(&b, "x-api_key:$@", 12), 0);
    cr_expect_str_eq(lg_buf_cstr(&b), "[\"a.b\"][\"*\"][\"say \\\"hi\\\"\"][\"\"].x-api_key:$@");
    /* what append writes, compile reads back to the same key */
    lg_jpath *p;
    cr_assert_eq(lg_jpath_compile(lg_buf_cstr(&b), &p, NULL), 0);
    json_t *v = json_loads("{\"a.b\":{\"*\":{\"say \\\"hi\\\"\":{\"\":{\"x-api_key:$@\":1}}}}}",
                           0, NULL);
    size_t n = 0;
    cr_assert_eq(lg_jpath_apply(p, v, delete_visit, NULL, &n), 0);
    cr_expect_eq(n, 1);
    json_decref(v);
    lg_jpath_free(p);
    lg_buf_release(&b);
}

/* ---- unified diff ---- */

static char *udiff(const char *a, const char *b, size_t max_lines, size_t line_max)
{
    lg_udiff_opts o = {"recorded", "incoming", 3, max_lines, 0, line_max};
    lg_buf out = LG_BUF_INIT;
    cr_assert_eq(lg_udiff(a, a ? strlen(a) : 0, b, b ? strlen(b) : 0, &o, &out), 0);
    return lg_buf_take(&out, NULL);
}

#define H "--- recorded\n+++ incoming\n"

Test(udiff, exact_texts)
{
    static const struct {
        const char *a, *b, *want;
    } cases[] = {
        {"x", "x", H},
        {"old", "new", H "@@ -1 +1 @@\n-old\n+new\n"},
        {NULL, "true", H "@@ -0,0 +1 @@\n+true\n"},
        {"true", NULL, H "@@ -1 +0,0 @@\n-true\n"},
        {"", NULL, H "@@ -1 +0,0 @@\n-\n"},
        {"a\n", "a", H "@@ -1,2 +1 @@\n a\n-\n"},
        {"1\n2\n3\n4\n5\n6\n7\n8\n9", "1\n2\n3\n4\nfive\n6\n7\n8\n9",
         H "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
        /* an insertion: the empty old range names the line before it */
        {"a\nb\nc\nd\ne\nf\ng\nh", "a\nb\nc\nd\nNEW\ne\nf\ng\nh",
         H "@@ -2,6 +2,7 @@\n b\n c\n d\n+NEW\n e\n f\n g\n"},
        {"a\nb\nc\nd\ne\nf\ng\nh", "NEW\na\nb\nc\nd\ne\nf\ng\nh",
         H "@@ -1,3 +1,4 @@\n+NEW\n a\n b\n c\n"},
        /* two changes far apart: two hunks; close together: one */
        {"1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve",
         H "@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n"},
        {"1\n2\n3\n4\n5\n6\n7\n8", "one\n2\n3\n4\n5\n6\n7\neight",
         H "@@ -1,8 +1,8 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+eight\n"},
        /* deletions before insertions inside one change run */
        {"a\nx\ny\nb", "a\np\nq\nb", H "@@ -1,4 +1,4 @@\n a\n-x\n-y\n+p\n+q\n b\n"},
        /* a minimal diff, not a replace-all */
        {"a\nb\nc\nd", "b\nc\nd\ne", H "@@ -1,4 +1,4 @@\n-a\n b\n c\n d\n+e\n"},
        /* unsafe bytes are escaped, valid UTF-8 kept */
        {"caf\xc3\xa9 \x1b[1m\r", "caf\xc3\xa9\tok \xff", H "@@ -1 +1 @@\n-caf\xc3\xa9 \\x1b[1m\\x0d\n+caf\xc3\xa9\tok \\xff\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = udiff(cases[i].a, cases[i].b, 0, 0);
        cr_expect_str_eq(got, cases[i].want, "case %zu", i);
        free(got);
    }
}

Test(udiff, caps_lines_and_bytes)
{
    lg_buf a = LG_BUF_INIT, b = LG_BUF_INIT, out = LG_BUF_INIT;
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(lg_buf_appendf(&a, "%sold %d", i ? "\n" : "", i), 0);
        cr_assert_eq(lg_buf_appendf(&b, "%snew %d", i ? "\n" : "", i), 0);
    }
    char *got = udiff(a.data, b.data, 5, 0);
    /* the run is cut, so removed and added lines come in pairs */
    cr_expect_str_eq(got, H "@@ -1,50 +1,50 @@\n-old 0\n+new 0\n-old 1\n+new 1\n... 96 more lines\n");
    free(got);
    /* byte cap: 30 bytes of body fit "@@ -1,50 +1,50 @@\n" (18) and "-old 0\n" (7)
     * only; without a line cap the run is shown in GNU order */
    lg_udiff_opts o = {"recorded", "incoming", 3, 0, 30, 0};
    cr_assert_eq(lg_udiff(a.data, a.len, b.data, b.len, &o, &out), 0);
    cr_expect_str_eq(lg_buf_cstr(&out), H "@@ -1,50 +1,50 @@\n-old 0\n... 99 more lines\n");
    lg_buf_release(&a);
    lg_buf_release(&b);
    lg_buf_release(&out);
}

Test(udiff, long_lines_clip_around_the_difference)
{
    char a[1001], b[1001];
    for (int i = 0; i < 1000; i++)
        a[i] = (char)('a' + i % 26);
    a[1000] = 0;
    memcpy(b, a, sizeof a);
    b[500] = '#';
    char *got = udiff(a, b, 0, 100);
    /* window: 40 bytes before the first difference, 60 in all */
    char wa[61], wb[61], want[400];
    memcpy(wa, a + 460, 60);
    memcpy(wb, b + 460, 60);
    wa[60] = wb[60] = 0;
    snprintf(want, sizeof want, H "@@ -1 +1 @@\n-...%s...\n+...%s...\n", wa, wb);
    cr_expect_str_eq(got, want);
    free(got);
    /* never cuts a UTF-8 character: 300 two-byte characters */
    char u[601], v[601];
    for (int i = 0; i < 300; i++) {
        u[2 * i] = (char)0xc3;
        u[2 * i + 1] = (char)0xa9;
    }
    u[600] = 0;
    memcpy(v, u, sizeof u);
    v[301] = (char)0xa8; /* character 150 differs in its second byte */
    got = udiff(u, v, 0, 100);
    lg_buf chk = LG_BUF_INIT;
    cr_assert_eq(lg_buf_append_str(&chk, got), 0);
    json_t *s = json_string(got); /* jansson refuses invalid UTF-8 */
    cr_expect(s, "clipped diff is not valid UTF-8: %s", got);
    json_decref(s);
    cr_expect(strstr(got, "\xc3\xa8"), "the differing character is in the window");
    lg_buf_release(&chk);
    free(got);
}

Test(udiff, very_different_texts_fall_back_to_replace_all)
{
    lg_buf a = LG_BUF_INIT, b = LG_BUF_INIT, out = LG_BUF_INIT;
    /* interleaved so that a minimal diff needs more than LG_UDIFF_MAX_EDITS edits */
    for (int i = 0; i < 1200; i++) {
        cr_assert_eq(lg_buf_appendf(&a, "a%d\n", i), 0);
        cr_assert_eq(lg_buf_appendf(&b, "b%d\n", i), 0);
    }
    lg_udiff_opts o = {"r", "i", 3, 0, 0, 0};
    cr_assert_eq(lg_udiff(a.data, a.len, b.data, b.len, &o, &out), 0);
    /* the common last line "" (after the final newline) is context */
    const char *head = "--- r\n+++ i\n@@ -1,1201 +1,1201 @@\n-a0\n";
    cr_expect(strncmp(lg_buf_cstr(&out), head, strlen(head)) == 0, "%.80s", lg_buf_cstr(&out));
    cr_expect(strstr(lg_buf_cstr(&out), "-a1199\n+b0\n"), "all removals, then all additions");
    lg_buf_release(&a);
    lg_buf_release(&b);
    lg_buf_release(&out);
}

/* ---- canonical form and fingerprints ---- */

Test(match, canonical_form_exact)
{
    lg_match_config *cfg = lg_match_config_new();
    lg_buf out = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    lg_match_request r = post("{ \"b\": [1, 2.5, {\"y\": null, \"x\": true}], \"a\": \"\\u00e9\","
                              " \"user\": \"u1\" }");
    cr_assert_eq(lg_match_config_ignore(cfg, "user", &err), 0);
    cr_assert_eq(lg_match_canonical(cfg, &r, &out, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&out), "POST /v1/chat/completions\njson\n"
                                        "{\"a\":\"\xc3\xa9\",\"b\":[1,2.5,{\"x\":true,\"y\":null}]}");
    lg_buf_reset(&out);
    r = (lg_match_request){"GET", "/v1/models?limit=2", NULL, 0};
    cr_assert_eq(lg_match_canonical(cfg, &r, &out, &err), 0);
    cr_expect_str_eq(lg_buf_cstr(&out), "GET /v1/models?limit=2\nraw\n");
    lg_buf_reset(&out);
    r = (lg_match_request){"POST", "/upload", "a=1&b=\0x", 8};
    cr_assert_eq(lg_match_canonical(NULL, &r, &out, &err), 0);
    cr_expect_eq(out.len, strlen("POST /upload\nraw\n") + 8);
    cr_expect(memcmp(out.data, "POST /upload\nraw\na=1&b=\0x", out.len) == 0);
    cr_expect_eq(lg_match_config_count(cfg), 1);
    lg_buf_release(&out);
    lg_match_config_free(cfg);
    lg_match_config_free(NULL);
}

static lg_hash128 fp(const lg_match_config *cfg, const char *method, const char *path,
                     const char *body)
{
    lg_hash128 h;
    lg_err err = LG_ERR_INIT;
    lg_match_request r = {method, path, body, strlen(body)};
    cr_assert_eq(lg_match_fingerprint(cfg, &r, &h, &err), 0, "%s", err.msg);
    return h;
}

Test(match, fingerprint_equalities)
{
    lg_match_config *cfg = lg_match_config_new();
    lg_err err = LG_ERR_INIT;
    const char *P = "/v1/chat/completions";
    cr_assert_eq(lg_match_config_ignore(cfg, "metadata.request_id", &err), 0);
    cr_assert_eq(lg_match_config_ignore(cfg, "messages[*].id", &err), 0);

    lg_hash128 base = fp(cfg, "POST", P, "{\"model\":\"m\",\"messages\":[{\"id\":1,\"c\":\"hi\"}]}");
    /* key order, whitespace and ignored fields do not matter */
    cr_expect(lg_hash_equal(base, fp(cfg, "POST", P, "{ \"messages\" : [ {\"c\":\"hi\",\"id\":2} ],"
                                                     "\n \"model\":\"m\", \"metadata\":"
                                                     "{\"request_id\":\"x\"} }")) == false,
              "an extra metadata object (now empty) still differs");
    cr_expect(lg_hash_equal(base, fp(cfg, "POST", P, "{ \"messages\" : [ {\"c\":\"hi\",\"id\":2} "
                                                     "],\n \"model\":\"m\" }")));
    /* everything else does */
    cr_expect_not(lg_hash_equal(base, fp(cfg, "POST", P, "{\"model\":\"m\",\"messages\":[{\"c\":\"hi!\"}]}")));
    cr_expect_not(lg_hash_equal(base, fp(cfg, "PUT", P, "{\"model\":\"m\",\"messages\":[{\"c\":\"hi\"}]}")));
    cr_expect_not(lg_hash_equal(base, fp(cfg, "POST", "/v1/responses", "{\"model\":\"m\",\"messages\":[{\"c\":\"hi\"}]}")));
    cr_expect_not(lg_hash_equal(base, fp(cfg, "POST", P, "{\"model\":\"m\",\"messages\":[{\"c\":\"hi\"}],\"n\":1}")));
    /* 1 and 1.0 are different JSON */
    cr_expect_not(lg_hash_equal(fp(NULL, "POST", P, "{\"t\":1}"), fp(NULL, "POST", P, "{\"t\":1.0}")));
    /* a raw body that spells JSON text differently is a different raw body... */
    cr_expect_not(lg_hash_equal(fp(NULL, "POST", P, "not json {"), fp(NULL, "POST", P, "not json  {")));
    /* ...and a JSON string body never collides with the same bytes sent raw */
    cr_expect_not(lg_hash_equal(fp(NULL, "POST", P, "\"x\""), fp(NULL, "POST", P, "x")));
    /* the fingerprint is XXH3-128 of the canonical bytes */
    lg_buf c = LG_BUF_INIT;
    lg_match_request r = post("{\"a\":1}");
    cr_assert_eq(lg_match_canonical(NULL, &r, &c, &err), 0);
    cr_expect(lg_hash_equal(lg_hash_bytes(c.data, c.len), fp(NULL, "POST", P, "{\"a\":1}")));
    lg_buf_release(&c);
    lg_match_config_free(cfg);
}

Test(match, fixture_fingerprint_is_stable_across_reformatting)
{
    lg_buf a, b = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    load("openai_chat_request.json", &a);
    json_t *v = lg_json_parse(a.data, a.len, "fixture", &err);
    cr_assert(v, "%s", err.msg);
    /* compact, insertion order (not sorted) */
    char *compact = json_dumps(v, JSON_COMPACT);
    lg_hash128 h1 = fp(NULL, "POST", "/v1/chat/completions", a.data);
    lg_hash128 h2 = fp(NULL, "POST", "/v1/chat/completions", compact);
    cr_expect(lg_hash_equal(h1, h2));
    free(compact);
    json_decref(v);
    lg_buf_release(&a);
    lg_buf_release(&b);
}

Test(match, bad_ignore_path_is_reported)
{
    lg_match_config *cfg = lg_match_config_new();
    lg_err err = LG_ERR_INIT;
    cr_expect_eq(lg_match_config_ignore(cfg, "messages[*", &err), LG_EINPUT);
    cr_expect_str_eq(err.msg, "invalid JSON path 'messages[*': column 11: expected ']' after '*'");
    cr_expect_eq(lg_match_config_count(cfg), 0);
    lg_match_config_free(cfg);
}

/* ---- divergence goldens ---- */

static const char *const diff_cases[] = {
    "content_changed", "tool_result_changed", "stream_added", "param_renamed",
    "message_appended", "message_removed", "system_prompt_multiline", "number_type",
    "model_changed", "anthropic_tool_input", "long_line_clipped", "many_lines_capped",
    "odd_key", "ignored_volatile_equal", "ignored_but_other_diff", "top_level_array",
    "scalar_body", "raw_body", "json_vs_raw", "control_chars", "tool_call_args",
    "null_vs_string", "nested_missing_key", "real_precision", "real_shown_short",
};

Test(match, divergence_goldens)
{
    bool update = getenv("LG_UPDATE_GOLDEN") && strcmp(getenv("LG_UPDATE_GOLDEN"), "1") == 0;
    for (size_t i = 0; i < sizeof diff_cases / sizeof diff_cases[0]; i++) {
        const char *name = diff_cases[i];
        char f[256], path[1024];
        lg_buf rec, inc, ign = LG_BUF_INIT, got = LG_BUF_INIT, want = LG_BUF_INIT;
        lg_err err = LG_ERR_INIT;
        lg_match_config *cfg = lg_match_config_new();
        lg_divergence d;

        snprintf(f, sizeof f, "diff/%s.recorded.json", name);
        load(f, &rec);
        snprintf(f, sizeof f, "diff/%s.incoming.json", name);
        load(f, &inc);
        snprintf(f, sizeof f, "diff/%s.ignore", name);
        fixture_path(path, sizeof path, f);
        if (lg_fs_exists(path)) {
            cr_assert_eq(lg_fs_read_file(path, &ign, &err), 0);
            char *save, *line = strtok_r(ign.data, "\n", &save);
            for (; line; line = strtok_r(NULL, "\n", &save))
                cr_assert_eq(lg_match_config_ignore(cfg, line, &err), 0, "%s", err.msg);
        }
        lg_match_request a = {"POST", "/v1/chat/completions", rec.data, rec.len};
        lg_match_request b = {"POST", "/v1/chat/completions", inc.data, inc.len};
        lg_divergence_init(&d);
        cr_assert_eq(lg_match_diff(cfg, &a, &b, "1.0", 2, 2, &d, &err), 0, "%s: %s", name, err.msg);
        if (d.path)
            cr_assert_eq(lg_buf_appendf(&got, "path: %s\n%s", d.path, d.diff), 0);
        else
            cr_assert_eq(lg_buf_append_str(&got, "equal\n"), 0);

        /* fingerprints agree with the diff: equal exactly when no path */
        lg_hash128 ha, hb;
        cr_assert_eq(lg_match_fingerprint(cfg, &a, &ha, &err), 0);
        cr_assert_eq(lg_match_fingerprint(cfg, &b, &hb, &err), 0);
        cr_expect_eq(lg_hash_equal(ha, hb), d.path == NULL, "%s: fingerprints vs diff", name);
        /* the diff stays short */
        if (d.diff) {
            size_t lines = 0;
            for (const char *p = d.diff; *p; p++)
                lines += *p == '\n';
            cr_expect_leq(lines, LG_MATCH_DIFF_MAX_LINES + 3, "%s", name);
            cr_expect_leq(strlen(d.diff), LG_MATCH_DIFF_MAX_BYTES + 200, "%s", name);
        }

        snprintf(f, sizeof f, "diff/%s.expected", name);
        fixture_path(path, sizeof path, f);
        if (update) {
            cr_assert_eq(lg_fs_write_file_atomic(path, got.data, got.len, &err), 0, "%s", err.msg);
        } else {
            cr_assert_eq(lg_fs_read_file(path, &want, &err), 0, "%s (LG_UPDATE_GOLDEN=1 writes it)",
                         err.msg);
            cr_expect_str_eq(lg_buf_cstr(&got), lg_buf_cstr(&want), "golden %s", name);
        }
        lg_divergence_release(&d);
        lg_match_config_free(cfg);
        lg_buf_release(&rec);
        lg_buf_release(&inc);
        lg_buf_release(&ign);
        lg_buf_release(&got);
        lg_buf_release(&want);
    }
}

Test(match, first_difference_paths)
{
    static const struct {
        const char *a, *b, *path;
    } cases[] = {
        /* key order in the text never matters; the first sorted key that differs wins */
        {"{\"b\":1,\"a\":1}", "{\"a\":2,\"b\":2}", "a"},
        {"{\"b\":1,\"a\":1}", "{\"a\":1,\"b\":2}", "b"},
        {"{\"z\":1,\"a\":{\"x\":1}}", "{\"a\":{\"x\":2}}", "a.x"},
        {"{\"a\":{\"x\":1},\"m\":1}", "{\"a\":{\"x\":1},\"z\":1}", "m"},
        {"{\"a\":{\"x\":1},\"m\":1}", "{\"a\":{\"x\":1},\"b\":1,\"m\":1}", "b"},
        {"{\"B\":1,\"a\":1}", "{\"B\":2,\"a\":2}", "B"},
        {"{\"ab\":1,\"a\":1}", "{\"ab\":2,\"a\":2}", "a"},
        {"{\"\xc3\xa9\":1,\"z\":1}", "{\"\xc3\xa9\":1,\"z\":2}", "z"},
        /* arrays by index, extra elements at the first extra index */
        {"{\"m\":[1,2,3]}", "{\"m\":[1,9,3,4]}", "m[1]"},
        {"{\"m\":[1,2,3]}", "{\"m\":[1,2,3,4]}", "m[3]"},
        {"{\"m\":[1,2,3]}", "{\"m\":[1]}", "m[1]"},
        {"{\"m\":[]}", "{\"m\":[{}]}", "m[0]"},
        {"{\"m\":[[1,[2]]]}", "{\"m\":[[1,[3]]]}", "m[0][1][0]"},
        /* types */
        {"{\"t\":1}", "{\"t\":1.0}", "t"},
        {"{\"t\":true}", "{\"t\":false}", "t"},
        {"{\"t\":null}", "{\"t\":{}}", "t"},
        {"{\"t\":[]}", "{\"t\":{}}", "t"},
        {"{\"t\":\"1\"}", "{\"t\":1}", "t"},
        {"{\"t\":-0.0}", "{\"t\":0.0}", "t"},
        {"{\"s\":\"a\\u0000b\"}", "{\"s\":\"a\\u0000c\"}", "s"},
        /* keys that need quoting */
        {"{\"a b\":{\"c.d\":1}}", "{\"a b\":{\"c.d\":2}}", "[\"a b\"][\"c.d\"]"},
        {"{\"\":1}", "{\"\":2}", "[\"\"]"},
        /* whole bodies */
        {"[1]", "{}", "(body)"},
        {"1", "2", "(body)"},
        {"[1]", "[1,2]", "[1]"},
        /* equal */
        {"{\"a\":[1,{\"b\":null}]}", "{ \"a\" : [ 1 , { \"b\" : null } ] }", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lg_divergence d;
        lg_err err = LG_ERR_INIT;
        lg_match_request a = post(cases[i].a), b = post(cases[i].b);
        lg_divergence_init(&d);
        cr_assert_eq(lg_match_diff(NULL, &a, &b, NULL, 0, 0, &d, &err), 0, "%s", err.msg);
        if (cases[i].path)
            cr_expect_str_eq(d.path ? d.path : "(equal)", cases[i].path, "%s vs %s", cases[i].a,
                             cases[i].b);
        else
            cr_expect_null(d.path, "%s vs %s: %s", cases[i].a, cases[i].b, d.path);
        /* the reverse comparison finds the same place */
        lg_divergence_release(&d);
        cr_assert_eq(lg_match_diff(NULL, &b, &a, NULL, 0, 0, &d, &err), 0);
        if (cases[i].path)
            cr_expect_str_eq(d.path ? d.path : "(equal)", cases[i].path, "reverse %zu", i);
        lg_divergence_release(&d);
    }
}

Test(match, method_path_and_missing_recording)
{
    lg_divergence d;
    lg_err err = LG_ERR_INIT;
    lg_match_request a = post("{\"a\":1}"), b = post("{\"a\":2}");
    lg_divergence_init(&d);

    b.method = "PUT";
    cr_assert_eq(lg_match_diff(NULL, &a, &b, "s", 0, 0, &d, &err), 0);
    cr_expect_str_eq(d.path, "(method)", "method is compared before the body");
    cr_expect_str_eq(d.diff, H "@@ -1 +1 @@\n-POST\n+PUT\n");

    b.method = "POST";
    b.path = "/v1/chat/completions?api-version=2";
    cr_assert_eq(lg_match_diff(NULL, &a, &b, "s", 0, 0, &d, &err), 0);
    cr_expect_str_eq(d.path, "(path)");
    cr_expect_str_eq(d.diff, H "@@ -1 +1 @@\n-/v1/chat/completions\n"
                               "+/v1/chat/completions?api-version=2\n");

    /* nothing left to compare with */
    cr_assert_eq(lg_match_diff(NULL, NULL, &b, NULL, 7, 3, &d, &err), 0);
    cr_expect_str_eq(d.path, "(none)");
    cr_expect_eq(d.recorded, -1);
    cr_expect_eq(d.call, 7);
    cr_expect_null(d.session);
    cr_expect_str_eq(d.diff, H "@@ -0,0 +1,4 @@\n+POST /v1/chat/completions?api-version=2\n+{\n"
                               "+  \"a\": 2\n+}\n");

    /* equal requests: no path, no diff */
    cr_assert_eq(lg_match_diff(NULL, &a, &a, "s", 1, 1, &d, &err), 0);
    cr_expect_null(d.path);
    cr_expect_null(d.diff);
    lg_buf m = LG_BUF_INIT;
    cr_assert_eq(lg_divergence_message(&d, &m), 0);
    cr_expect_eq(m.len, 0);
    lg_buf_release(&m);
    /* empty bodies are equal raw bodies */
    lg_match_request e1 = {"GET", "/v1/models", NULL, 0}, e2 = {"GET", "/v1/models", "", 0};
    cr_assert_eq(lg_match_diff(NULL, &e1, &e2, "s", 1, 1, &d, &err), 0);
    cr_expect_null(d.path);
    lg_divergence_release(&d);
}

Test(match, human_message_and_error_body)
{
    lg_divergence d;
    lg_err err = LG_ERR_INIT;
    lg_buf m = LG_BUF_INIT, body = LG_BUF_INIT;
    lg_match_request a = post("{\"messages\":[{\"content\":\"hi\"},{\"content\":\"old\"}]}");
    lg_match_request b = post("{\"messages\":[{\"content\":\"hi\"},{\"content\":\"new\"}]}");
    lg_divergence_init(&d);
    cr_assert_eq(lg_match_diff(NULL, &a, &b, "3.1", 2, 2, &d, &err), 0);
    cr_assert_eq(lg_divergence_message(&d, &m), 0);
    cr_expect_str_eq(lg_buf_cstr(&m), "session 3.1, call 2: request differs from the recording "
                                      "at messages[1].content\n" H "@@ -1 +1 @@\n-old\n+new\n");
    cr_assert_eq(lg_divergence_error_body(&d, &body, &err), 0, "%s", err.msg);
    cr_expect_str_eq(lg_buf_cstr(&body),
                     "{\"error\":{\"call\":2,\"diff\":\"--- recorded\\n+++ incoming\\n@@ -1 +1 @@\\n"
                     "-old\\n+new\\n\",\"message\":\"session 3.1, call 2: request differs from the "
                     "recording at messages[1].content\\n--- recorded\\n+++ incoming\\n@@ -1 +1 @@"
                     "\\n-old\\n+new\\n\",\"path\":\"messages[1].content\",\"recorded_call\":2,"
                     "\"session\":\"3.1\",\"type\":\"loopgate_divergence\"},\"type\":\"error\"}");
    /* the body is JSON an SDK can read: error.type and error.message */
    json_t *j = json_loads(lg_buf_cstr(&body), 0, NULL);
    cr_assert(j);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "type")),
                     "loopgate_divergence");
    json_decref(j);

    /* compared with another recorded call; no session */
    lg_buf_reset(&m);
    cr_assert_eq(lg_match_diff(NULL, &a, &b, NULL, 2, 4, &d, &err), 0);
    cr_assert_eq(lg_divergence_message(&d, &m), 0);
    const char *want = "call 2: request differs from recorded call 4 at messages[1].content\n";
    cr_expect(strncmp(lg_buf_cstr(&m), want, strlen(want)) == 0, "%s", m.data);
    /* nothing to compare with */
    lg_buf_reset(&m);
    lg_buf_reset(&body);
    cr_assert_eq(lg_match_diff(NULL, NULL, &b, "s\n\x01x", 9, 0, &d, &err), 0);
    cr_expect_str_eq(d.session, "s??x", "control bytes in a session id are not echoed");
    cr_assert_eq(lg_divergence_message(&d, &m), 0);
    want = "session s??x, call 9: request is not in the recording (no recorded call left to "
           "match)\n--- recorded\n";
    cr_expect(strncmp(lg_buf_cstr(&m), want, strlen(want)) == 0, "%s", m.data);
    cr_assert_eq(lg_divergence_error_body(&d, &body, &err), 0);
    cr_expect(strstr(lg_buf_cstr(&body), "\"recorded_call\":null"));
    cr_expect(strstr(lg_buf_cstr(&body), "\"path\":\"(none)\""));
    lg_divergence_release(&d);
    lg_buf_release(&m);
    lg_buf_release(&body);
}

Test(match, raw_binary_body_diff_is_printable_json)
{
    lg_divergence d;
    lg_err err = LG_ERR_INIT;
    lg_buf body = LG_BUF_INIT;
    lg_match_request a = {"POST", "/bin", "\x00\x01\xfe\xff", 4};
    lg_match_request b = {"POST", "/bin", "\x00\x02\xfe\xff", 4};
    lg_divergence_init(&d);
    cr_assert_eq(lg_match_diff(NULL, &a, &b, "s", 0, 0, &d, &err), 0);
    cr_expect_str_eq(d.path, "(body)");
    cr_expect_str_eq(d.diff, H "@@ -1 +1 @@\n-\\x00\\x01\\xfe\\xff\n+\\x00\\x02\\xfe\\xff\n");
    cr_assert_eq(lg_divergence_error_body(&d, &body, &err), 0, "%s", err.msg);
    lg_divergence_release(&d);
    lg_buf_release(&body);
}

/* ---- call matching ---- */

static lg_hash128 h(uint64_t v)
{
    return (lg_hash128){0, v};
}

Test(match, take_call_in_order_and_concurrent)
{
    lg_hash128 rec[4] = {h(10), h(11), h(12), h(11)};
    unsigned char used[LG_MATCH_BITMAP_BYTES(4)] = {0};
    size_t idx;

    cr_expect_eq(lg_match_take_call(rec, 4, used, 0, h(10), &idx), LG_MATCH_IN_ORDER);
    cr_expect_eq(idx, 0);
    /* call 1 arrives second but carries call 2's request (concurrency) */
    cr_expect_eq(lg_match_take_call(rec, 4, used, 1, h(12), &idx), LG_MATCH_BY_FINGERPRINT);
    cr_expect_eq(idx, 2);
    /* call 2 carries call 1's request: the first unconsumed equal one */
    cr_expect_eq(lg_match_take_call(rec, 4, used, 2, h(11), &idx), LG_MATCH_BY_FINGERPRINT);
    cr_expect_eq(idx, 1);
    cr_expect_eq(lg_match_take_call(rec, 4, used, 3, h(11), &idx), LG_MATCH_IN_ORDER);
    cr_expect_eq(idx, 3);
    cr_expect_eq(lg_match_unused(used, 4, NULL, 0), 0);
    /* a fifth call: nothing left */
    cr_expect_eq(lg_match_take_call(rec, 4, used, 4, h(11), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, SIZE_MAX);
}

Test(match, take_call_divergence_targets)
{
    lg_hash128 rec[5] = {h(1), h(2), h(3), h(4), h(5)};
    unsigned char used[1] = {0};
    size_t idx;

    /* a changed call 0: diff against recorded 0, which stays unconsumed */
    cr_expect_eq(lg_match_take_call(rec, 5, used, 0, h(99), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, 0);
    cr_expect_eq(lg_match_unused(used, 5, NULL, 0), 5);
    /* consume 1, and 2 out of order; then call 2 diverges: recorded 2 is
     * consumed, so the nearest unconsumed one: 3 (0 and 4 are 2 away) */
    cr_expect_eq(lg_match_take_call(rec, 5, used, 1, h(2), &idx), LG_MATCH_IN_ORDER);
    cr_expect_eq(lg_match_take_call(rec, 5, used, 0, h(3), &idx), LG_MATCH_BY_FINGERPRINT);
    cr_expect_eq(lg_match_take_call(rec, 5, used, 2, h(98), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, 3);
    /* ties go to the lower index: consume 3, then call 3 diverges between 0 (3
     * away) and 4 (1 away): 4; with 4 consumed too: 0 */
    cr_expect_eq(lg_match_take_call(rec, 5, used, 3, h(4), &idx), LG_MATCH_IN_ORDER);
    cr_expect_eq(lg_match_take_call(rec, 5, used, 3, h(97), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, 4);
    unsigned char used2[1] = {0x0e}; /* 1, 2, 3 used; 0 and 4 free; call 2: tie -> 0 */
    cr_expect_eq(lg_match_take_call(rec, 5, used2, 2, h(97), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, 0);
    /* call index past the recording */
    cr_expect_eq(lg_match_take_call(rec, 5, used2, 9, h(97), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, 4);
    /* empty recording */
    cr_expect_eq(lg_match_take_call(NULL, 0, used2, 0, h(1), &idx), LG_MATCH_DIVERGED);
    cr_expect_eq(idx, SIZE_MAX);
}

Test(match, unused_report)
{
    unsigned char used[LG_MATCH_BITMAP_BYTES(30)] = {0};
    size_t idx[3];
    lg_buf m = LG_BUF_INIT;
    for (size_t i = 0; i < 30; i++)
        if (i != 4 && i != 17)
            lg_match_bit_set(used, i);
    cr_expect(lg_match_bit(used, 3));
    cr_expect_not(lg_match_bit(used, 4));
    cr_expect_eq(lg_match_unused(used, 30, idx, 3), 2);
    cr_expect_eq(idx[0], 4);
    cr_expect_eq(idx[1], 17);
    cr_assert_eq(lg_match_unused_message("2.0", used, 30, &m), 0);
    cr_expect_str_eq(lg_buf_cstr(&m), "session 2.0: 2 recorded calls were never requested: 4, 17\n");
    lg_buf_reset(&m);
    lg_match_bit_set(used, 4);
    cr_assert_eq(lg_match_unused_message(NULL, used, 30, &m), 0);
    cr_expect_str_eq(lg_buf_cstr(&m), "1 recorded call was never requested: 17\n");
    lg_buf_reset(&m);
    lg_match_bit_set(used, 17);
    cr_assert_eq(lg_match_unused_message("x", used, 30, &m), 0);
    cr_expect_eq(m.len, 0);
    unsigned char none[LG_MATCH_BITMAP_BYTES(25)] = {0};
    cr_assert_eq(lg_match_unused_message("x", none, 25, &m), 0);
    cr_expect_str_eq(lg_buf_cstr(&m), "session x: 25 recorded calls were never requested: 0, 1, "
                                      "2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, "
                                      "18, 19, ... (5 more)\n");
    lg_buf_release(&m);
}
