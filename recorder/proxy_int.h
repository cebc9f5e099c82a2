/*
 * recorder/proxy_int.h - private to the proxy: token usage extraction.
 *
 * proxy_usage.c wraps recorder/usage.h (the usage meter) behind this small
 * interface so proxy.c deals only in trace-model usage (lg_usage)
 * of plain integers.
 */
#ifndef LG_PROXY_INT_H
#define LG_PROXY_INT_H

#include <stddef.h>
#include <stdint.h>

typedef struct lg_pusage lg_pusage;

/* Accumulator for one call to `path` with request `body`. NULL on OOM. */
lg_pusage *lg_pusage_new(const char *path, const void *body, size_t len);
void lg_pusage_free(lg_pusage *u); /* accepts NULL */
void lg_pusage_body(lg_pusage *u, const void *body, size_t len);
void lg_pusage_event(lg_pusage *u, const char *event, const char *data, size_t len);

typedef struct lg_pusage_result {
    const char *provider; /* "openai", "anthropic" or "generic" (static) */
    int64_t in, out, cached; /* -1 when no usage was seen */
    char model[128];         /* "" if unknown */
} lg_pusage_result;

void lg_pusage_get(const lg_pusage *u, lg_pusage_result *out);

#endif
