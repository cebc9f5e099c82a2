/* tests/test_usage.c - recorder/usage.c: token usage from request, body and stream. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/fs.h"
#include "recorder/sse.h"
#include "recorder/usage.h"

static void load(const char *name, lg_buf *b)
{
    char path[1024];
    lg_err err = LG_ERR_INIT;
    const char *src = getenv("LG_SRCDIR");
    snprintf(path, sizeof path, "%s/tests/fixtures/http/%s", src ? src : ".", name);
    lg_buf_init(b);
    cr_assert_eq(lg_fs_read_file(path, b, &err), 0, "%s", err.msg);
}

struct feed {
    lg_usage_meter *u;
    int with_usage; /* events that carried usage */
};

static int feed_event(const lg_sse_event *ev, void *ctx)
{
    struct feed *f = ctx;
    if (ev->dispatch && lg_usage_feed_event(f->u, ev->event, ev->data, ev->data_len))
        f->with_usage++;
    return 0;
}

/* Streams a fixture through the real SSE framer into the accumulator, in
 * 7-byte slices so events straddle feeds the way network reads do. */
static int stream_fixture(const char *name, lg_usage_meter *u)
{
    lg_buf b;
    lg_err err = LG_ERR_INIT;
    struct feed f = {u, 0};
    lg_sse *p = lg_sse_new(0);
    load(name, &b);
    for (size_t off = 0; off < b.len; off += 7) {
        size_t n = b.len - off < 7 ? b.len - off : 7;
        cr_assert_eq(lg_sse_feed(p, b.data + off, n, feed_event, &f, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(lg_sse_finish(p, feed_event, &f, &err), 0);
    lg_sse_free(p);
    lg_buf_release(&b);
    return f.with_usage;
}

static void feed_fixture_request(lg_usage_meter *u, const char *name)
{
    lg_buf b;
    load(name, &b);
    cr_assert(lg_usage_feed_request(u, b.data, b.len));
    lg_buf_release(&b);
}

static bool feed_fixture_body(lg_usage_meter *u, const char *name)
{
    lg_buf b;
    load(name, &b);
    bool got = lg_usage_feed_body(u, b.data, b.len);
    lg_buf_release(&b);
    return got;
}

Test(usage, detect_api)
{
    struct {
        const char *path;
        enum lg_api api;
    } cases[] = {
        {"/v1/chat/completions", LG_API_OPENAI_CHAT},
        {"/chat/completions?api-version=2024-10-21", LG_API_OPENAI_CHAT},
        {"/openai/deployments/gpt4o/chat/completions", LG_API_OPENAI_CHAT},
        {"/v1/chat/completions/", LG_API_OPENAI_CHAT},
        {"/v1/responses", LG_API_OPENAI_RESPONSES},
        {"/v1/embeddings", LG_API_OPENAI_EMBEDDINGS},
        {"/v1/messages", LG_API_ANTHROPIC_MESSAGES},
        {"/v1/messages?beta=true", LG_API_ANTHROPIC_MESSAGES},
        {"/v1/messages/count_tokens", LG_API_GENERIC},
        {"/v1/threads/thread_abc/messages", LG_API_GENERIC},
        {"/v1/responses/resp_123", LG_API_GENERIC},
        {"/v1/completions", LG_API_GENERIC},
        {"/v1/models", LG_API_GENERIC},
        {"/", LG_API_GENERIC},
        {"", LG_API_GENERIC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(lg_usage_detect_api(cases[i].path), cases[i].api, "%s", cases[i].path);
    cr_expect_str_eq(lg_api_name(LG_API_ANTHROPIC_MESSAGES), "anthropic.messages");
    cr_expect_str_eq(lg_api_name(LG_API_OPENAI_CHAT), "openai.chat");
    cr_expect_str_eq(lg_api_name(LG_API_GENERIC), "generic");
}

Test(usage, openai_chat_body)
{
    lg_usage_meter u;
    lg_usage_init(&u, lg_usage_detect_api("/v1/chat/completions"));
    feed_fixture_request(&u, "openai_chat_request.json");
    cr_expect_str_eq(u.request_model, "gpt-4o-mini");
    cr_expect_str_eq(u.model, "gpt-4o-mini", "the request's model until a response names one");
    cr_expect_not(u.stream);
    cr_assert(feed_fixture_body(&u, "openai_chat_response.json"));
    cr_expect(u.found);
    cr_expect_eq(u.input_tokens, 1234);
    cr_expect_eq(u.cached_input_tokens, 1024);
    cr_expect_eq(u.cache_write_tokens, 0);
    cr_expect_eq(u.output_tokens, 27);
    cr_expect_eq(u.reasoning_tokens, 0);
    cr_expect_eq(u.total_tokens, 1261);
    cr_expect_str_eq(u.model, "gpt-4o-mini-2024-07-18");
    cr_expect_str_eq(u.request_model, "gpt-4o-mini");
}

Test(usage, openai_chat_stream_final_usage_chunk)
{
    lg_usage_meter u;
    lg_usage_init(&u, LG_API_OPENAI_CHAT);
    /* chunks before the last carry "usage": null, the [DONE] marker none */
    cr_expect_eq(stream_fixture("openai_chat_stream.sse", &u), 1);
    cr_expect(u.found);
    cr_expect_eq(u.input_tokens, 412);
    cr_expect_eq(u.output_tokens, 17);
    cr_expect_eq(u.total_tokens, 429);
    cr_expect_eq(u.cached_input_tokens, 0);
    cr_expect_str_eq(u.model, "gpt-4o-mini-2024-07-18");
}

Test(usage, openai_chat_stream_without_include_usage)
{
    lg_usage_meter u;
    const char *chunk = "{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\","
                        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}";
    lg_usage_init(&u, LG_API_OPENAI_CHAT);
    cr_expect_not(lg_usage_feed_event(&u, "", chunk, strlen(chunk)));
    cr_expect_not(lg_usage_feed_event(&u, NULL, "[DONE]", 6));
    cr_expect_not(u.found);
    cr_expect_eq(u.input_tokens, 0);
    cr_expect_str_eq(u.model, "gpt-4o");
}

Test(usage, openai_responses_body)
{
    lg_usage_meter u;
    lg_usage_init(&u, lg_usage_detect_api("/v1/responses"));
    feed_fixture_request(&u, "openai_responses_request.json");
    cr_expect(u.stream);
    cr_expect_str_eq(u.request_model, "gpt-4.1");
    cr_assert(feed_fixture_body(&u, "openai_responses_response.json"));
    cr_expect_eq(u.input_tokens, 2036);
    cr_expect_eq(u.cached_input_tokens, 1920);
    cr_expect_eq(u.output_tokens, 113);
    cr_expect_eq(u.reasoning_tokens, 64);
    cr_expect_eq(u.total_tokens, 2149);
    cr_expect_str_eq(u.model, "gpt-4.1-2025-04-14");
}

Test(usage, openai_responses_stream_completed_event)
{
    lg_usage_meter u;
    lg_usage_init(&u, LG_API_OPENAI_RESPONSES);
    cr_expect_eq(stream_fixture("openai_responses_stream.sse", &u), 1,
                 "only response.completed carries usage (created has usage: null)");
    cr_expect_eq(u.input_tokens, 37);
    cr_expect_eq(u.output_tokens, 11);
    cr_expect_eq(u.total_tokens, 48);
    cr_expect_str_eq(u.model, "gpt-4.1-2025-04-14");
}

Test(usage, openai_embeddings_body)
{
    lg_usage_meter u;
    lg_usage_init(&u, lg_usage_detect_api("/v1/embeddings"));
    feed_fixture_request(&u, "openai_embeddings_request.json");
    cr_assert(feed_fixture_body(&u, "openai_embeddings_response.json"));
    cr_expect_eq(u.input_tokens, 14);
    cr_expect_eq(u.output_tokens, 0);
    cr_expect_eq(u.total_tokens, 14);
    cr_expect_str_eq(u.model, "text-embedding-3-small");
}

Test(usage, anthropic_body_counts_cache_as_input)
{
    lg_usage_meter u;
    lg_usage_init(&u, lg_usage_detect_api("/v1/messages"));
    feed_fixture_request(&u, "anthropic_messages_request.json");
    cr_expect_str_eq(u.request_model, "claude-sonnet-4-20250514");
    cr_expect_not(u.stream);
    cr_assert(feed_fixture_body(&u, "anthropic_messages_response.json"));
    cr_expect_eq(u.input_tokens, 58 + 1200 + 3400);
    cr_expect_eq(u.cached_input_tokens, 3400);
    cr_expect_eq(u.cache_write_tokens, 1200);
    cr_expect_eq(u.output_tokens, 96);
    cr_expect_eq(u.total_tokens, 58 + 1200 + 3400 + 96);
}

Test(usage, anthropic_stream_start_plus_delta)
{
    lg_usage_meter u;
    lg_usage_init(&u, LG_API_ANTHROPIC_MESSAGES);
    cr_expect_eq(stream_fixture("anthropic_messages_stream.sse", &u), 2);
    cr_expect_eq(u.input_tokens, 472 + 2048);
    cr_expect_eq(u.cached_input_tokens, 2048);
    cr_expect_eq(u.output_tokens, 89, "message_delta's cumulative count replaces the start's 2");
    cr_expect_eq(u.total_tokens, 472 + 2048 + 89);
    cr_expect_str_eq(u.model, "claude-sonnet-4-20250514");
}

Test(usage, anthropic_delta_with_input_counts)
{
    /* newer API versions repeat (and may revise) the input counts in message_delta */
    const char *start = "{\"type\":\"message_start\",\"message\":{\"model\":\"claude-opus-4-1\","
                        "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":0,"
                        "\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}";
    const char *delta = "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},"
                        "\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":100,"
                        "\"cache_creation_input_tokens\":5,\"output_tokens\":40}}";
    lg_usage_meter u;
    lg_usage_init(&u, LG_API_ANTHROPIC_MESSAGES);
    cr_assert(lg_usage_feed_event(&u, "message_start", start, strlen(start)));
    cr_expect_eq(u.input_tokens, 10);
    cr_assert(lg_usage_feed_event(&u, "message_delta", delta, strlen(delta)));
    cr_expect_eq(u.input_tokens, 117);
    cr_expect_eq(u.cached_input_tokens, 100);
    cr_expect_eq(u.cache_write_tokens, 5);
    cr_expect_eq(u.output_tokens, 40);
    cr_expect_eq(u.total_tokens, 157);
}

Test(usage, generic_fallback_recognises_each_shape)
{
    lg_usage_meter u;
    lg_buf b;

    /* an Anthropic body behind an unknown path: the cache keys tell the shape */
    lg_usage_init(&u, lg_usage_detect_api("/proxy/anthropic-ish"));
    cr_assert(feed_fixture_body(&u, "anthropic_messages_response.json"));
    cr_expect_eq(u.input_tokens, 4658);
    cr_expect_eq(u.cached_input_tokens, 3400);

    lg_usage_init(&u, LG_API_GENERIC);
    cr_assert(feed_fixture_body(&u, "openai_chat_response.json"));
    cr_expect_eq(u.input_tokens, 1234);
    cr_expect_eq(u.output_tokens, 27);

    lg_usage_init(&u, LG_API_GENERIC);
    cr_expect_eq(stream_fixture("openai_responses_stream.sse", &u), 1);
    cr_expect_eq(u.total_tokens, 48);

    lg_usage_init(&u, LG_API_GENERIC);
    cr_expect_eq(stream_fixture("anthropic_messages_stream.sse", &u), 2);
    cr_expect_eq(u.input_tokens, 2520);
    cr_expect_eq(u.output_tokens, 89);

    /* not JSON, not an object, errors: nothing found, nothing breaks */
    lg_usage_init(&u, LG_API_GENERIC);
    load("sse_crlf.sse", &b);
    cr_expect_not(lg_usage_feed_body(&u, b.data, b.len));
    lg_buf_release(&b);
    cr_expect_not(lg_usage_feed_body(&u, "[1,2]", 5));
    cr_expect_not(lg_usage_feed_body(&u, "", 0));
    const char *e = "{\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow down\"}}";
    cr_expect_not(lg_usage_feed_body(&u, e, strlen(e)));
    cr_expect_not(lg_usage_feed_request(&u, "nope", 4));
    cr_expect_not(u.found);
    cr_expect_eq(u.total_tokens, 0);
}

Test(usage, ignores_bad_counts_and_truncates_long_models)
{
    char body[600];
    char model[300];
    lg_usage_meter u;
    memset(model, 'm', sizeof model - 1);
    model[sizeof model - 1] = 0;
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":\"7\","
             "\"total_tokens\":3.5}}",
             model);
    lg_usage_init(&u, LG_API_OPENAI_CHAT);
    cr_expect_not(lg_usage_feed_body(&u, body, strlen(body)));
    cr_expect_eq(u.input_tokens, 0);
    cr_expect_eq(strlen(u.model), LG_USAGE_MODEL_MAX - 1);
}
