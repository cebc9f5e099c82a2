/*
 * tests/test_tracejson.c - recorder/tracejson.c: export -> import -> export
 * is byte-identical for every kind of event and body; bodies are inline and
 * readable; bad imports are refused by line and write nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/pcg.h"
#include "recorder/tracejson.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/lg_test_tracejson.XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    lg_err e = LG_ERR_INIT;
    if (lg_fs_rm_rf(dir, &e))
        fprintf(stderr, "%s\n", e.msg);
}

TestSuite(tracejson, .init = setup, .fini = teardown, .timeout = 60);

static lg_store *open_store(const char *name, int mode)
{
    char p[512];
    lg_store *st;
    lg_err e = LG_ERR_INIT;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    cr_assert_eq(lg_store_open(p, mode, &st, &e), 0, "%s", e.msg);
    return st;
}

static int to_buf(void *ctx, const char *line, size_t len)
{
    lg_buf *b = ctx;
    return lg_buf_append(b, line, len) || lg_buf_append_byte(b, '\n');
}

static void export_all(lg_store *st, lg_buf *out)
{
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_trace_export(st, NULL, to_buf, out, &e), 0, "%s", e.msg);
}

/* Bodies of every shape the proxy may store. */
static const char *const bodies[] = {
    "{\"model\":\"gpt-4o\",\"temperature\":0.7,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
    "{\n  \"id\": \"chatcmpl-1\",\n  \"usage\": {\n    \"prompt_tokens\": 12\n  },\n  \"x\": []\n}\n",
    "{\"a\": 1, \"b\": [1.5, 2.25], \"c\": \"caf\xc3\xa9\"}",
    "{\"e\":\"caf\\u00E9\",\"s\":\"a\\u0000b\"}",
    "{\"big\":123456789012345678901234567890}",
    "{\"dup\":1,\"dup\":2}",
    "{\"r\":0.30000000000000004,\"t\":2.5}",
    "plain text answer\nwith lines\n",
    "[1,2,3]",
    "{\"b\":2,\"a\":1}",
};

static void fill_store(lg_store *st)
{
    lg_err e = LG_ERR_INIT;
    lg_pcg32 rng;
    lg_pcg32_srandom(&rng, 11, 12);
    for (int s = 0; s < 4; s++) {
        char key[32];
        lg_session_desc d = {key, s == 3 ? NULL : "run-1", s == 3 ? NULL : "suite-a",
                             s == 3 ? -1 : s, s == 3 ? -1 : 0, 1700000000000 + s};
        lg_store_session *w;
        snprintf(key, sizeof key, s == 3 ? "standalone-%d" : "%d.0", s);
        cr_assert_eq(lg_store_session_begin(st, &d, &w, &e), 0, "%s", e.msg);
        for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
            lg_event ev = lg_event_make(LG_EVENT_MODEL);
            ev.t_us = b * 100 + (uint64_t)s;
            ev.model.provider = "openai";
            ev.model.method = "POST";
            ev.model.path = "/v1/chat/completions";
            ev.model.model = b % 2 ? "gpt-4o" : NULL;
            ev.model.request = (lg_bytes){bodies[b], strlen(bodies[b])};
            ev.model.fingerprint = lg_hash_bytes(bodies[b], strlen(bodies[b]));
            ev.model.status = 200;
            ev.model.response = (lg_bytes){bodies[(b + 1) % 10], strlen(bodies[(b + 1) % 10])};
            ev.model.usage = (lg_usage){(int64_t)b, b % 3 ? 5 : -1, -1};
            ev.model.latency_us = 1000 + b;
            if (b == 4)
                ev.model.headers = "{\"content-type\":\"application/json\",\"x-request-id\":\"r1\"}";
            cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), 0, "%s", e.msg);
        }
        {
            /* a stream whose chunks split a UTF-8 character, and binary bytes */
            static const char sse[] = "data: {\"d\":\"\xc3\xa9\"}\n\ndata: [DONE]\n\n";
            lg_chunk ch[3] = {{13, 10}, {11, 20}, {sizeof sse - 1 - 24, 30}};
            unsigned char bin[64];
            for (size_t i = 0; i < sizeof bin; i++)
                bin[i] = (unsigned char)lg_pcg32_random(&rng);
            lg_event ev = lg_event_make(LG_EVENT_MODEL);
            ev.t_us = 5000;
            ev.model.provider = "anthropic";
            ev.model.method = "POST";
            ev.model.path = "/v1/messages";
            ev.model.request = (lg_bytes){(const char *)bin, sizeof bin};
            ev.model.fingerprint = (lg_hash128){1, 2};
            ev.model.status = 200;
            ev.model.response = (lg_bytes){sse, sizeof sse - 1};
            ev.model.chunks = ch;
            ev.model.n_chunks = 3;
            cr_assert_eq(lg_store_session_append(w, &ev, NULL, NULL, &e), 0, "%s", e.msg);
        }
        lg_event t = lg_event_make(LG_EVENT_TOOL);
        t.tool.name = "pytest";
        t.tool.args = (lg_bytes){"[\"pytest\",\"-q\"]", 15};
        t.tool.out = (lg_bytes){"3 passed\n", 9};
        t.tool.err = (lg_bytes){"\x01\x02\xff", 3};
        t.tool.exit_code = s;
        t.tool.result = "{\"score\":0.5}";
        t.tool.idem_key = "abc";
        cr_assert_eq(lg_store_session_append(w, &t, NULL, NULL, &e), 0);
        lg_event it = lg_event_make(LG_EVENT_ITERATION);
        it.iteration.index = 2;
        it.iteration.state = "{\"todo\":[\"a\"]}";
        cr_assert_eq(lg_store_session_append(w, &it, NULL, NULL, &e), 0);
        lg_event inv = lg_event_make(LG_EVENT_INVARIANT);
        inv.invariant.name = "no_repeat";
        inv.invariant.pass = true;
        cr_assert_eq(lg_store_session_append(w, &inv, NULL, NULL, &e), 0);
        lg_event ver = lg_event_make(LG_EVENT_VERIFY);
        ver.verify.pass = false;
        ver.verify.message = "1 failed";
        cr_assert_eq(lg_store_session_append(w, &ver, NULL, NULL, &e), 0);
        lg_event dv = lg_event_make(LG_EVENT_DIVERGENCE);
        dv.divergence.call = 3;
        dv.divergence.path = "messages[1].content";
        dv.divergence.diff = "-x\n+y\n";
        cr_assert_eq(lg_store_session_append(w, &dv, NULL, NULL, &e), 0);
        lg_event no = lg_event_make(LG_EVENT_NOTE);
        no.note.text = "hello";
        no.note.data = "{\"k\":[true,null]}";
        cr_assert_eq(lg_store_session_append(w, &no, NULL, NULL, &e), 0);
        lg_event en = lg_event_make(LG_EVENT_END);
        en.end.reason = "success";
        en.end.converged = true;
        cr_assert_eq(lg_store_session_append(w, &en, NULL, NULL, &e), 0);
        cr_assert_eq(lg_store_session_commit(w, NULL, &e), 0, "%s", e.msg);
    }
}

Test(tracejson, export_import_export_is_byte_identical)
{
    lg_store *a = open_store("a.lgt", LG_STORE_WRITE), *b;
    lg_buf x1 = LG_BUF_INIT, x2 = LG_BUF_INIT;
    lg_err e = LG_ERR_INIT;
    size_t n = 0;

    fill_store(a);
    export_all(a, &x1);
    b = open_store("b.lgt", LG_STORE_WRITE);
    cr_assert_eq(lg_trace_import(b, x1.data, x1.len, "a.jsonl", &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 4);
    export_all(b, &x2);
    cr_assert_eq(x1.len, x2.len);
    cr_assert(memcmp(x1.data, x2.data, x1.len) == 0, "export -> import -> export identical");

    /* and the bodies themselves are the same bytes in both stores */
    lg_session_list *la, *lb;
    cr_assert_eq(lg_store_list_sessions(a, NULL, &la, &e), 0);
    cr_assert_eq(lg_store_list_sessions(b, NULL, &lb, &e), 0);
    cr_assert_eq(la->n, lb->n);
    for (size_t i = 0; i < la->n; i++) {
        lg_session_reader *ra, *rb;
        cr_assert_eq(lg_store_session_read(a, la->items[i].id, &ra, &e), 0);
        cr_assert_eq(lg_store_session_read(b, lb->items[i].id, &rb, &e), 0);
        cr_assert_eq(lg_session_reader_count(ra), lg_session_reader_count(rb));
        for (size_t k = 0; k < lg_session_reader_calls(ra); k++) {
            const lg_event *ea, *eb;
            cr_assert_eq(lg_session_reader_call(ra, k, &ea, &e), 0);
            cr_assert_eq(lg_session_reader_call(rb, k, &eb, &e), 0);
            cr_assert_eq(ea->model.request.len, eb->model.request.len);
            cr_assert(!memcmp(ea->model.request.data, eb->model.request.data, ea->model.request.len));
            cr_assert_eq(ea->model.response.len, eb->model.response.len);
            cr_assert(!memcmp(ea->model.response.data, eb->model.response.data,
                              ea->model.response.len));
            cr_assert(lg_hash_equal(ea->model.fingerprint, eb->model.fingerprint));
        }
        lg_session_reader_free(ra);
        lg_session_reader_free(rb);
    }
    lg_session_list_free(la);
    lg_session_list_free(lb);
    lg_store_close(a);
    lg_store_close(b);
    lg_buf_release(&x1);
    lg_buf_release(&x2);
}

Test(tracejson, bodies_are_inline_and_readable)
{
    lg_store *a = open_store("a.lgt", LG_STORE_WRITE);
    lg_buf x = LG_BUF_INIT;
    fill_store(a);
    export_all(a, &x);
    const char *t = lg_buf_cstr(&x);
    cr_assert(!strncmp(t, "{\"loopgate_export\":1,\"trace_format\":2}\n", 39), "%.60s", t);
    cr_assert(strstr(t, "{\"type\":\"session\",\"key\":\"0.0\",\"run\":\"run-1\",\"suite\":\"suite-a\","
                        "\"case\":0,\"trial\":0,\"started_ms\":1700000000000}"));
    /* a compact JSON body is the value itself, key order and 0.7 kept */
    cr_assert(strstr(t, "\"request\":{\"model\":\"gpt-4o\",\"temperature\":0.7,\"messages\""), "%s", t);
    /* a pretty-printed one too, with a note on its spacing */
    cr_assert(strstr(t, "\"response\":{\"id\":\"chatcmpl-1\",\"usage\":{\"prompt_tokens\":12},"
                        "\"x\":[]},\"response_format\":\"indent=2,newline\""));
    cr_assert(strstr(t, "\"response_format\":\"spaced\""));
    cr_assert(strstr(t, "\"request_format\":\"ascii\""));
    cr_assert(strstr(t, "\"request_format\":\"precision=17\""));
    /* not reproducible as JSON (huge integer, duplicate key): text */
    cr_assert(strstr(t, "\"request_text\":\"{\\\"big\\\":123456789012345678901234567890}\""));
    cr_assert(strstr(t, "\"request_text\":\"{\\\"dup\\\":1,\\\"dup\\\":2}\""));
    cr_assert(strstr(t, "\"response_text\":\"plain text answer\\nwith lines\\n\""));
    cr_assert(strstr(t, "\"request_base64\":\""));
    /* each chunk on its own: text, or base64 where a chunk splits a character */
    cr_assert(strstr(t, "\"chunks\":[{\"t_us\":10,\"data_base64\":\"ZGF0YTogeyJkIjoiww==\"},"
                        "{\"t_us\":20,\"data_base64\":\""), "%s", t);
    cr_assert(strstr(t, "{\"t_us\":30,\"data_text\":\"[DONE]\\n\\n\"}]"));
    cr_assert(strstr(t, "\"stderr_base64\":\"AQL/\""));
    cr_assert(strstr(t, "\"type\":\"end\",\"t_us\":0,\"reason\":\"success\",\"converged\":true}"));
    /* one line per event and per session, plus the version line */
    size_t lines = 0;
    for (size_t i = 0; i < x.len; i++)
        lines += x.data[i] == '\n';
    cr_assert_eq(lines, 1 + 4 * (1 + 10 + 1 + 7));
    lg_store_close(a);
    lg_buf_release(&x);
}

static void expect_import_error(const char *text, int code, const char *want)
{
    lg_store *b = open_store("b.lgt", LG_STORE_WRITE);
    lg_store_stats s;
    lg_err e = LG_ERR_INIT;
    cr_assert_eq(lg_trace_import(b, text, strlen(text), "in.jsonl", NULL, &e), code, "%s", e.msg);
    cr_assert(strstr(e.msg, want), "'%s' in: %s", want, e.msg);
    cr_assert_eq(lg_store_get_stats(b, &s, &e), 0);
    cr_assert_eq(s.sessions, 0, "nothing imported on error");
    lg_store_close(b);
}

Test(tracejson, bad_imports_name_the_line_and_write_nothing)
{
    static const char ok1[] = "{\"loopgate_export\":1,\"trace_format\":2}\n"
                              "{\"type\":\"session\",\"key\":\"0.0\",\"started_ms\":1}\n"
                              "{\"session\":\"0.0\",\"seq\":0,\"type\":\"note\",\"t_us\":0,\"text\":\"a\"}\n";
    expect_import_error("", LG_EINPUT, "in.jsonl: empty");
    expect_import_error("{\"foo\":1}\n", LG_EINPUT, "in.jsonl:1: not a loopgate export");
    expect_import_error("{\"loopgate_export\":9}\n", LG_EFORMAT,
                        "in.jsonl:1: export version 9 is newer than this loopgate (reads up to 1)");
    expect_import_error("{\"loopgate_export\":1}\nnot json\n", LG_EINPUT, "in.jsonl:2:3: invalid JSON");
    expect_import_error("{\"loopgate_export\":1}\n{\"type\":\"note\",\"session\":\"x\"}\n", LG_EINPUT,
                        "in.jsonl:2: an event before any");
    {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s{\"session\":\"0.0\",\"seq\":1,\"type\":\"note\",\"t_us\":0,"
                                  "\"text\":\"b\",\"txt\":1}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: unknown field 'txt' in a event");
        snprintf(buf, sizeof buf, "%s{\"session\":\"0.0\",\"seq\":5,\"type\":\"note\",\"t_us\":0,"
                                  "\"text\":\"b\"}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: event seq 5 out of order (expected 1)");
        snprintf(buf, sizeof buf, "%s{\"session\":\"0.0\",\"seq\":1,\"type\":\"nope\"}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: unknown type 'nope'");
        snprintf(buf, sizeof buf, "%s{\"type\":\"session\",\"key\":\"0.0\"}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: session '0.0' appears twice");
        snprintf(buf, sizeof buf, "%s{\"session\":\"0.0\",\"seq\":1,\"type\":\"model\",\"t_us\":0,"
                                  "\"provider\":\"p\",\"method\":\"GET\",\"path\":\"/\","
                                  "\"fingerprint\":\"zz\"}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: 'fingerprint' must be 32 hex digits");
        snprintf(buf, sizeof buf, "%s{\"session\":\"0.0\",\"seq\":1,\"type\":\"tool\",\"t_us\":0,"
                                  "\"name\":\"t\",\"stdout_base64\":\"!!\"}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: 'stdout_base64' is not valid base64");
        snprintf(buf, sizeof buf, "%s{\"session\":\"0.0\",\"seq\":1,\"type\":\"tool\",\"t_us\":0,"
                                  "\"name\":\"t\",\"args\":[1],\"args_format\":\"fancy\"}\n", ok1);
        expect_import_error(buf, LG_EINPUT, "in.jsonl:4: 'args_format' is not one of");
    }
    /* the good prefix alone imports */
    lg_store *b = open_store("c.lgt", LG_STORE_WRITE);
    lg_err e = LG_ERR_INIT;
    size_t n;
    cr_assert_eq(lg_trace_import(b, ok1, strlen(ok1), "ok.jsonl", &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    lg_store_close(b);
}
