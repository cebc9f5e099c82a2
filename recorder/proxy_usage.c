/* recorder/proxy_usage.c - recorder/usage.h behind proxy_int.h (see there why). */
#include "proxy_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "usage.h"

struct lg_pusage {
    lg_usage_meter u;
};

lg_pusage *lg_pusage_new(const char *path, const void *body, size_t len)
{
    lg_pusage *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    lg_usage_init(&p->u, lg_usage_detect_api(path));
    lg_usage_feed_request(&p->u, body, len);
    return p;
}

void lg_pusage_free(lg_pusage *u) { free(u); }

void lg_pusage_body(lg_pusage *u, const void *body, size_t len)
{
    lg_usage_feed_body(&u->u, body, len);
}

void lg_pusage_event(lg_pusage *u, const char *event, const char *data, size_t len)
{
    lg_usage_feed_event(&u->u, event, data, len);
}

void lg_pusage_get(const lg_pusage *u, lg_pusage_result *out)
{
    switch (u->u.api) {
    case LG_API_OPENAI_CHAT:
    case LG_API_OPENAI_RESPONSES:
    case LG_API_OPENAI_EMBEDDINGS: out->provider = "openai"; break;
    case LG_API_ANTHROPIC_MESSAGES: out->provider = "anthropic"; break;
    default: out->provider = "generic"; break;
    }
    if (u->u.found) {
        out->in = u->u.input_tokens;
        out->out = u->u.output_tokens;
        out->cached = u->u.cached_input_tokens;
    } else {
        out->in = out->out = out->cached = -1;
    }
    snprintf(out->model, sizeof out->model, "%s", u->u.model);
}
