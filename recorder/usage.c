/* recorder/usage.c - token usage extraction (see usage.h). */
#include "usage.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

enum lg_api lg_usage_detect_api(const char *path)
{
    size_t n = strcspn(path, "?#");
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (ends_with(path, n, "/chat/completions"))
        return LG_API_OPENAI_CHAT;
    if (ends_with(path, n, "/responses"))
        return LG_API_OPENAI_RESPONSES;
    if (ends_with(path, n, "/embeddings"))
        return LG_API_OPENAI_EMBEDDINGS;
    /* OpenAI Assistants has /threads/{id}/messages: not Anthropic */
    if (ends_with(path, n, "/messages") && !strstr(path, "/threads/"))
        return LG_API_ANTHROPIC_MESSAGES;
    return LG_API_GENERIC;
}

const char *lg_api_name(enum lg_api api)
{
    switch (api) {
    case LG_API_OPENAI_CHAT: return "openai.chat";
    case LG_API_OPENAI_RESPONSES: return "openai.responses";
    case LG_API_OPENAI_EMBEDDINGS: return "openai.embeddings";
    case LG_API_ANTHROPIC_MESSAGES: return "anthropic.messages";
    default: return "generic";
    }
}

void lg_usage_init(lg_usage_meter *u, enum lg_api api)
{
    memset(u, 0, sizeof *u);
    u->api = api;
    u->priv_anthropic = api == LG_API_ANTHROPIC_MESSAGES;
}

static json_t *parse(const void *body, size_t len)
{
    json_error_t je;
    json_t *v = len ? json_loadb(body, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je) : NULL;
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static void set_model(char *dst, const json_t *obj)
{
    const json_t *m = json_object_get(obj, "model");
    if (json_is_string(m) && json_string_length(m) > 0)
        snprintf(dst, LG_USAGE_MODEL_MAX, "%s", json_string_value(m));
}

/* Reads a non-negative integer member; false when absent or not one. */
static bool get_count(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool get_nested(const json_t *obj, const char *outer, const char *key, int64_t *out)
{
    const json_t *o = json_object_get(obj, outer);
    return json_is_object(o) && get_count(o, key, out);
}

/* Applies one usage object; members present override earlier values. */
static bool read_usage(lg_usage_meter *u, const json_t *us)
{
    int64_t v;
    bool any = false;

    if (!json_is_object(us))
        return false;
    if (json_object_get(us, "cache_read_input_tokens") ||
        json_object_get(us, "cache_creation_input_tokens"))
        u->priv_anthropic = true;
    if (get_count(us, "prompt_tokens", &v)) {
        u->input_tokens = v;
        any = true;
    }
    if (get_count(us, "completion_tokens", &v)) {
        u->output_tokens = v;
        any = true;
    }
    if (get_count(us, "input_tokens", &v)) {
        if (u->priv_anthropic)
            u->priv_uncached = v;
        else
            u->input_tokens = v;
        any = true;
    }
    if (get_count(us, "output_tokens", &v)) {
        u->output_tokens = v;
        any = true;
    }
    if (get_count(us, "cache_read_input_tokens", &v)) {
        u->priv_cache_read = v;
        any = true;
    }
    if (get_count(us, "cache_creation_input_tokens", &v)) {
        u->priv_cache_write = v;
        any = true;
    }
    if (u->priv_anthropic) {
        u->input_tokens = u->priv_uncached + u->priv_cache_read + u->priv_cache_write;
        u->cached_input_tokens = u->priv_cache_read;
        u->cache_write_tokens = u->priv_cache_write;
    }
    if (get_nested(us, "prompt_tokens_details", "cached_tokens", &v) ||
        get_nested(us, "input_tokens_details", "cached_tokens", &v))
        u->cached_input_tokens = v;
    if (get_nested(us, "completion_tokens_details", "reasoning_tokens", &v) ||
        get_nested(us, "output_tokens_details", "reasoning_tokens", &v))
        u->reasoning_tokens = v;
    if (get_count(us, "total_tokens", &v)) {
        u->total_tokens = v;
        u->priv_total_reported = true;
        any = true;
    }
    if (!u->priv_total_reported)
        u->total_tokens = u->input_tokens + u->output_tokens;
    if (any)
        u->found = true;
    return any;
}

/* A response body or one stream event: usage at the top, or inside
 * "response" (Responses events) or "message" (Anthropic message_start). */
static bool read_object(lg_usage_meter *u, const json_t *root)
{
    bool got = false;
    const json_t *inner;

    set_model(u->model, root);
    got |= read_usage(u, json_object_get(root, "usage"));
    if (json_is_object(inner = json_object_get(root, "response"))) {
        set_model(u->model, inner);
        got |= read_usage(u, json_object_get(inner, "usage"));
    }
    if (json_is_object(inner = json_object_get(root, "message"))) {
        set_model(u->model, inner);
        got |= read_usage(u, json_object_get(inner, "usage"));
    }
    return got;
}

bool lg_usage_feed_request(lg_usage_meter *u, const void *body, size_t len)
{
    json_t *root = parse(body, len);
    if (!root)
        return false;
    set_model(u->request_model, root);
    if (!u->model[0])
        set_model(u->model, root);
    u->stream = json_is_true(json_object_get(root, "stream"));
    json_decref(root);
    return true;
}

bool lg_usage_feed_body(lg_usage_meter *u, const void *body, size_t len)
{
    json_t *root = parse(body, len);
    bool got;
    if (!root)
        return false;
    got = read_object(u, root);
    json_decref(root);
    return got;
}

bool lg_usage_feed_event(lg_usage_meter *u, const char *event, const char *data, size_t len)
{
    (void)event; /* the data's own "type" member says the same, and generic streams have none */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return false;
    return lg_usage_feed_body(u, data, len);
}
