/*
 * recorder/usage.h - token usage and model name from model API traffic.
 *
 * Knows the usage shapes of:
 *   OpenAI Chat Completions  usage.prompt_tokens, completion_tokens,
 *                            prompt_tokens_details.cached_tokens,
 *                            completion_tokens_details.reasoning_tokens;
 *                            streaming: the final chunk sent with
 *                            stream_options.include_usage (choices: []);
 *   OpenAI Responses         usage.input_tokens, output_tokens,
 *                            input_tokens_details.cached_tokens,
 *                            output_tokens_details.reasoning_tokens;
 *                            streaming: response.completed (also
 *                            response.incomplete / response.failed);
 *   OpenAI Embeddings        usage.prompt_tokens, total_tokens;
 *   Anthropic Messages       usage.input_tokens, output_tokens,
 *                            cache_read_input_tokens,
 *                            cache_creation_input_tokens; streaming:
 *                            message_start (input and cache counts) then
 *                            message_delta (cumulative output_tokens; newer
 *                            API versions repeat the input counts there).
 * and falls back to trying all of them (top-level "usage", or inside
 * "response" or "message") for any other path.
 *
 * Normalised counts (0 when not reported):
 *   input_tokens        every input token, cached or not. For Anthropic this
 *                       is input_tokens + cache_read_input_tokens +
 *                       cache_creation_input_tokens, which is what OpenAI's
 *                       prompt_tokens already counts.
 *   cached_input_tokens input tokens read from the prompt cache (part of
 *                       input_tokens).
 *   cache_write_tokens  input tokens written to the cache (Anthropic's
 *                       cache_creation_input_tokens; part of input_tokens).
 *   output_tokens       generated tokens, reasoning included.
 *   reasoning_tokens    reasoning part of output_tokens, when reported.
 *   total_tokens        as reported, else input_tokens + output_tokens.
 *
 * The model is the response's (a dated snapshot such as
 * "gpt-4o-2024-08-06") when it has one, else the request's.
 *
 * An lg_usage_meter is a plain value: no allocation, no release; one per call,
 * one thread at a time. Functions never fail: input that is not JSON or has
 * no usage is ignored.
 */
#ifndef LG_USAGE_H
#define LG_USAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lg_api {
    LG_API_GENERIC = 0,
    LG_API_OPENAI_CHAT,       /* .../chat/completions */
    LG_API_OPENAI_RESPONSES,  /* .../responses */
    LG_API_OPENAI_EMBEDDINGS, /* .../embeddings */
    LG_API_ANTHROPIC_MESSAGES /* .../messages */
};

/* The API a request path speaks: matched on the path's end, query string
 * ignored, so "/v1/chat/completions", "/openai/deployments/x/chat/completions"
 * and "/chat/completions?api-version=1" are all chat. Anything else,
 * including "/v1/messages/count_tokens", is LG_API_GENERIC. */
enum lg_api lg_usage_detect_api(const char *path);

/* Stable short name: "generic", "openai.chat", "openai.responses",
 * "openai.embeddings", "anthropic.messages". */
const char *lg_api_name(enum lg_api api);

#define LG_USAGE_MODEL_MAX 128

typedef struct lg_usage_meter {
    enum lg_api api;
    bool found;  /* some usage numbers were seen */
    bool stream; /* the request asked for a stream */
    int64_t input_tokens;
    int64_t cached_input_tokens;
    int64_t cache_write_tokens;
    int64_t output_tokens;
    int64_t reasoning_tokens;
    int64_t total_tokens;
    char model[LG_USAGE_MODEL_MAX];         /* "" if unknown; truncated if longer */
    char request_model[LG_USAGE_MODEL_MAX]; /* as the request named it */
    /* private accumulator state for streams; do not use */
    int64_t priv_uncached, priv_cache_read, priv_cache_write;
    bool priv_total_reported, priv_anthropic;
} lg_usage_meter;

/* Zeroes `u` for a call to `api`. */
void lg_usage_init(lg_usage_meter *u, enum lg_api api);

/* Reads the request body: the requested model and whether it streams.
 * Returns true if it was a JSON object. Borrows `body`. */
bool lg_usage_feed_request(lg_usage_meter *u, const void *body, size_t len);

/* Reads a whole (non-streaming) response body. Returns true if usage was
 * found in it. Borrows `body`. */
bool lg_usage_feed_body(lg_usage_meter *u, const void *body, size_t len);

/* Reads one server-sent event of a streamed response (`event` is the event
 * name or "" / NULL, `data` its data as recorder/sse.h gives them). Feed
 * every event in order; later events refine earlier ones. "[DONE]" and
 * non-JSON data are ignored. Returns true if the event carried usage. */
bool lg_usage_feed_event(lg_usage_meter *u, const char *event, const char *data, size_t len);

#endif
