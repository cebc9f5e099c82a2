/* recorder/http.c - header lists; see http.h. */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lg_http_headers_init(lg_http_headers *h)
{
    h->v = NULL;
    h->n = h->cap = 0;
}

void lg_http_headers_release(lg_http_headers *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].name);
        free(h->v[i].value);
    }
    free(h->v);
    lg_http_headers_init(h);
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

int lg_http_headers_add_n(lg_http_headers *h, const char *name, size_t nlen, const char *value,
                          size_t vlen)
{
    while (vlen && is_blank(*value)) {
        value++;
        vlen--;
    }
    while (vlen && is_blank(value[vlen - 1]))
        vlen--;
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 16;
        lg_http_header *nv = realloc(h->v, ncap * sizeof *nv);
        if (!nv)
            return LG_ENOMEM;
        h->v = nv;
        h->cap = ncap;
    }
    char *n = strndup(name, nlen), *v = strndup(value, vlen);
    if (!n || !v) {
        free(n);
        free(v);
        return LG_ENOMEM;
    }
    h->v[h->n].name = n;
    h->v[h->n].value = v;
    h->n++;
    return 0;
}

int lg_http_headers_add(lg_http_headers *h, const char *name, const char *value)
{
    return lg_http_headers_add_n(h, name, strlen(name), value, strlen(value));
}

size_t lg_http_headers_remove(lg_http_headers *h, const char *name)
{
    size_t j = 0, removed = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (strcasecmp(h->v[i].name, name) == 0) {
            free(h->v[i].name);
            free(h->v[i].value);
            removed++;
        } else {
            h->v[j++] = h->v[i];
        }
    }
    h->n = j;
    return removed;
}

int lg_http_headers_set(lg_http_headers *h, const char *name, const char *value)
{
    lg_http_headers_remove(h, name);
    return lg_http_headers_add(h, name, value);
}

const char *lg_http_headers_get(const lg_http_headers *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcasecmp(h->v[i].name, name) == 0)
            return h->v[i].value;
    return NULL;
}

int lg_http_headers_copy(lg_http_headers *dst, const lg_http_headers *src)
{
    for (size_t i = 0; i < src->n; i++)
        if (lg_http_headers_add(dst, src->v[i].name, src->v[i].value))
            return LG_ENOMEM;
    return 0;
}

bool lg_http_is_hop_by_hop(const char *name)
{
    static const char *const hop[] = {"connection", "keep-alive", "te", "trailer", "trailers",
                                      "transfer-encoding", "upgrade", "host", "content-length",
                                      NULL};
    if (strncasecmp(name, "proxy-", 6) == 0)
        return true;
    for (size_t i = 0; hop[i]; i++)
        if (strcasecmp(name, hop[i]) == 0)
            return true;
    return false;
}

bool lg_http_has_credentials(const lg_http_headers *h)
{
    return lg_http_headers_get(h, "authorization") || lg_http_headers_get(h, "x-api-key") ||
           lg_http_headers_get(h, "api-key");
}

const char *lg_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "Unknown";
    }
}
