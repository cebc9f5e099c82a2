/* tests/test_redact_stream.c - recorder/redact.c: lg_redact_sse_stream(),
 * secrets that a streamed answer splits over several events. Each test
 * reassembles the redacted stream the way an SDK does and checks the text
 * it gets, the events that must stay byte for byte, and that no piece of
 * the secret is left anywhere in the bytes. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "recorder/redact.h"

#define MAXEV 16

typedef struct run {
    lg_buf out;
    size_t lens[MAXEV];
    size_t n;
    size_t count;
    const char *ev[MAXEV]; /* the input events */
} run;

static void stream(const lg_redact *r, run *x, const char *const *events, size_t n)
{
    lg_buf in = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    size_t lens[MAXEV], total = 0;
    cr_assert(n <= MAXEV);
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(events[i]);
        x->ev[i] = events[i];
        cr_assert_eq(lg_buf_append_str(&in, events[i]), 0);
    }
    x->n = n;
    lg_buf_init(&x->out);
    cr_assert_eq(lg_redact_sse_stream(r, in.data, in.len, lens, n, &x->out, x->lens, &x->count,
                                      &err),
                 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        total += x->lens[i];
    cr_assert_eq(total, x->out.len, "event lengths add up to %zu, the stream has %zu", total,
                 x->out.len);
    lg_buf_release(&in);
}

/* Event i of the redacted stream, as a new string. */
static char *event_text(const run *x, size_t i)
{
    size_t off = 0;
    for (size_t k = 0; k < i; k++)
        off += x->lens[k];
    char *s = malloc(x->lens[i] + 1);
    cr_assert(s);
    memcpy(s, x->out.data + off, x->lens[i]);
    s[x->lens[i]] = 0;
    return s;
}

/* The JSON of event i's data line (NULL if none or not JSON). */
static json_t *event_json(const run *x, size_t i)
{
    char *s = event_text(x, i), *d = strstr(s, "data:");
    json_t *j = NULL;
    if (d) {
        d += 5;
        if (*d == ' ')
            d++;
        size_t n = strcspn(d, "\r\n");
        j = json_loadb(d, n, 0, NULL); /* jansson rejects invalid UTF-8: also a check */
    }
    free(s);
    return j;
}

static void expect_same_event(const run *x, size_t i)
{
    char *s = event_text(x, i);
    cr_expect_str_eq(s, x->ev[i], "event %zu must be unchanged", i);
    free(s);
}

static void expect_absent(const run *x, const char *what)
{
    cr_expect_null(memmem(x->out.data, x->out.len, what, strlen(what)),
                   "'%s' is still in the stream: %s", what, x->out.data);
}

/* What an SDK assembles from one delta field: path like "choices.delta.content". */
static char *joined(const run *x, const char *(*piece)(json_t *, void *), void *ud)
{
    lg_buf b = LG_BUF_INIT;
    for (size_t i = 0; i < x->n; i++) {
        json_t *j = event_json(x, i);
        const char *s = j ? piece(j, ud) : NULL;
        if (s)
            cr_assert_eq(lg_buf_append_str(&b, s), 0);
        json_decref(j);
    }
    return lg_buf_take(&b, NULL);
}

static const char *chat_content(json_t *j, void *ud)
{
    (void)ud;
    return json_string_value(
        json_object_get(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta"),
                        "content"));
}

static const char *chat_tool_args(json_t *j, void *ud)
{
    long long want = *(long long *)ud;
    json_t *tcs = json_object_get(
        json_object_get(json_array_get(json_object_get(j, "choices"), 0), "delta"), "tool_calls");
    for (size_t t = 0; t < json_array_size(tcs); t++) {
        json_t *tc = json_array_get(tcs, t);
        if (json_integer_value(json_object_get(tc, "index")) == want)
            return json_string_value(json_object_get(json_object_get(tc, "function"), "arguments"));
    }
    return NULL;
}

static const char *anthropic_block(json_t *j, void *ud)
{
    long long want = *(long long *)ud;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type || strcmp(type, "content_block_delta") != 0 ||
        json_integer_value(json_object_get(j, "index")) != want)
        return NULL;
    json_t *d = json_object_get(j, "delta");
    const char *s = json_string_value(json_object_get(d, "partial_json"));
    return s ? s : json_string_value(json_object_get(d, "text"));
}

static const char *responses_delta(json_t *j, void *ud)
{
    (void)ud;
    const char *type = json_string_value(json_object_get(j, "type"));
    return type && strcmp(type, "response.output_text.delta") == 0
               ? json_string_value(json_object_get(j, "delta"))
               : NULL;
}

static lg_redact *email_config(void)
{
    lg_err err = LG_ERR_INIT;
    lg_redact *r = lg_redact_new();
    cr_assert(r);
    cr_assert_eq(lg_redact_add_builtin(r, "email", &err), 0, "%s", err.msg);
    return r;
}

Test(redact_stream, openai_content_split_over_three_events)
{
    static const char *const ev[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Write to jane.d\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"oe@exam\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ple.com today.\"}}]}\n\n",
        "data: [DONE]\n\n",
    };
    lg_redact *r = email_config();
    run x;
    stream(r, &x, ev, 5);
    cr_expect_eq(x.count, 1);
    char *text = joined(&x, chat_content, NULL);
    cr_expect_str_eq(text, "Write to <redacted:email> today.");
    free(text);
    expect_same_event(&x, 0);
    expect_same_event(&x, 4);
    expect_absent(&x, "jane");
    expect_absent(&x, "oe@exam");
    expect_absent(&x, "ple.com");
    /* the placeholder goes where the address began; the other pieces lose their part */
    json_t *j = event_json(&x, 2);
    cr_expect_str_eq(chat_content(j, NULL), "");
    json_decref(j);
    j = event_json(&x, 1);
    cr_expect_str_eq(chat_content(j, NULL), "Write to <redacted:email>");
    json_decref(j);
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, anthropic_tool_input_split_keeps_other_blocks_and_event_lines)
{
    static const char *const ev[] = {
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Let me look \"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"ops+a\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"that up.\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"lerts@corp.exa\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"mple.org\\\"}\"}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    };
    lg_redact *r = email_config();
    run x;
    long long b0 = 0, b1 = 1;
    stream(r, &x, ev, 6);
    cr_expect_eq(x.count, 1);
    char *t0 = joined(&x, anthropic_block, &b0), *t1 = joined(&x, anthropic_block, &b1);
    cr_expect_str_eq(t0, "Let me look that up.");
    cr_expect_str_eq(t1, "{\"city\": \"<redacted:email>\"}");
    free(t0);
    free(t1);
    expect_same_event(&x, 0);
    expect_same_event(&x, 2);
    expect_same_event(&x, 5);
    for (size_t i = 1; i < 5; i++) {
        char *s = event_text(&x, i);
        cr_expect(strncmp(s, "event: content_block_delta\ndata: ", 33) == 0, "%s", s);
        cr_expect(strcmp(s + strlen(s) - 2, "\n\n") == 0, "event %zu lost its end", i);
        free(s);
    }
    expect_absent(&x, "lerts@");
    expect_absent(&x, "corp.exa");
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, literal_split_in_one_tool_call_of_two)
{
    static const char *const ev[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"{\\\"k\\\":\\\"sk-live-\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":"
        "{\"arguments\":\"{\\\"key\\\":\\\"sk-live-SEC\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
        "{\"arguments\":\"other\\\"}\"}}]}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"function\":"
        "{\"arguments\":\"RET-12345\\\"}\"}}]}}]}\r\n\r\n",
    };
    lg_err err = LG_ERR_INIT;
    lg_redact *r = lg_redact_new();
    cr_assert_eq(lg_redact_add_literal(r, "api_key", "sk-live-SECRET-12345", 20, &err), 0, "%s",
                 err.msg);
    run x;
    long long t0 = 0, t1 = 1;
    stream(r, &x, ev, 4);
    cr_expect_eq(x.count, 1);
    char *a0 = joined(&x, chat_tool_args, &t0), *a1 = joined(&x, chat_tool_args, &t1);
    /* tool 0 and tool 1 are separate texts: "sk-live-" + "other" is no secret */
    cr_expect_str_eq(a0, "{\"k\":\"sk-live-other\"}");
    cr_expect_str_eq(a1, "{\"key\":\"<redacted:api_key>\"}");
    free(a0);
    free(a1);
    expect_same_event(&x, 0);
    expect_same_event(&x, 2);
    expect_absent(&x, "SEC");
    expect_absent(&x, "RET-12345");
    char *last = event_text(&x, 3);
    cr_expect(strcmp(last + strlen(last) - 4, "\r\n\r\n") == 0, "CRLF framing kept: %s", last);
    free(last);
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, openai_responses_deltas)
{
    static const char *const ev[] = {
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
        "\"output_index\":0,\"content_index\":0,\"delta\":\"Mail bob\"}\n\n",
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
        "\"output_index\":0,\"content_index\":0,\"delta\":\"@example.org now\"}\n\n",
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{"
        "\"output_text\":\"Mail bob@example.org now\"}}\n\n",
    };
    lg_redact *r = email_config();
    run x;
    stream(r, &x, ev, 3);
    /* one split over two deltas, one whole in the final event */
    cr_expect_eq(x.count, 2);
    char *t = joined(&x, responses_delta, NULL);
    cr_expect_str_eq(t, "Mail <redacted:email> now");
    free(t);
    expect_absent(&x, "bob");
    expect_absent(&x, "example.org");
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, nothing_to_redact_is_byte_for_byte)
{
    static const char *const ev[] = {
        ": keep-alive comment\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Sunny, 21 C \"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0, \"delta\": {\"content\": \"in Oslo.\"}}],\"x\":1.50}\n\n",
        "data: [DONE]\n\n",
    };
    lg_redact *r = email_config();
    run x;
    stream(r, &x, ev, 4);
    cr_expect_eq(x.count, 0);
    for (size_t i = 0; i < 4; i++)
        expect_same_event(&x, i);
    lg_buf_release(&x.out);
    /* no configuration at all: a copy */
    stream(NULL, &x, ev, 4);
    cr_expect_eq(x.count, 0);
    for (size_t i = 0; i < 4; i++)
        expect_same_event(&x, i);
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, utf8_around_a_split_secret_stays_valid)
{
    static const char *const ev[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Grüße an jane.doe@exa\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"mple.com — ✓\"}}]}\n\n",
    };
    lg_redact *r = email_config();
    run x;
    stream(r, &x, ev, 2);
    cr_expect_eq(x.count, 1);
    for (size_t i = 0; i < 2; i++) {
        json_t *j = event_json(&x, i);
        cr_expect_not_null(j, "event %zu is not valid JSON/UTF-8 after redaction", i);
        json_decref(j);
    }
    char *t = joined(&x, chat_content, NULL);
    cr_expect_str_eq(t, "Grüße an <redacted:email> — ✓");
    free(t);
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, two_addresses_one_on_a_piece_boundary)
{
    static const char *const ev[] = {
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"cc \"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a@b.io and x@y\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\".dev\"}}]}\n\n",
    };
    lg_redact *r = email_config();
    run x;
    stream(r, &x, ev, 3);
    cr_expect_eq(x.count, 2);
    char *t = joined(&x, chat_content, NULL);
    cr_expect_str_eq(t, "cc <redacted:email> and <redacted:email>");
    free(t);
    expect_same_event(&x, 0);
    lg_buf_release(&x.out);
    lg_redact_free(r);
}

Test(redact_stream, lengths_past_the_end_are_refused)
{
    lg_redact *r = email_config();
    lg_buf out = LG_BUF_INIT;
    lg_err err = LG_ERR_INIT;
    size_t lens[2] = {5, 10}, got[2];
    cr_assert_eq(lg_buf_append_str(&out, "kept"), 0);
    cr_expect_eq(lg_redact_sse_stream(r, "data: x\n\n", 9, lens, 2, &out, got, NULL, &err),
                 LG_EUSAGE);
    cr_expect(strstr(err.msg, "event 1") != NULL, "%s", err.msg);
    cr_expect_str_eq(lg_buf_cstr(&out), "kept");
    lg_buf_release(&out);
    lg_redact_free(r);
}
