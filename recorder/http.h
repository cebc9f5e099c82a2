/*
 * recorder/http.h - HTTP header lists shared by the server (httpd), the
 * upstream client (upstream) and the proxy.
 *
 * An lg_http_headers is an ordered list of (name, value) pairs that owns
 * copies of its strings. Names keep the case they arrived with; lookups are
 * case-insensitive (HTTP field names are). Duplicate names are kept in order.
 *
 * Not thread-safe: one list, one thread at a time.
 */
#ifndef LG_HTTP_H
#define LG_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

typedef struct lg_http_header {
    char *name;  /* owned by the list */
    char *value; /* owned by the list */
} lg_http_header;

typedef struct lg_http_headers {
    lg_http_header *v;
    size_t n, cap;
} lg_http_headers;

#define LG_HTTP_HEADERS_INIT {NULL, 0, 0}

/* Empty list; allocates nothing. */
void lg_http_headers_init(lg_http_headers *h);
/* Frees every string and the array; the list is empty again. Accepts NULL. */
void lg_http_headers_release(lg_http_headers *h);

/* Appends a copy of `name` (nlen bytes) and `value` (vlen bytes); surrounding
 * blanks of the value are trimmed. 0 or LG_ENOMEM. */
int lg_http_headers_add_n(lg_http_headers *h, const char *name, size_t nlen, const char *value,
                          size_t vlen) LG_WUR;
/* The same for NUL-terminated strings. */
int lg_http_headers_add(lg_http_headers *h, const char *name, const char *value) LG_WUR;
/* Replaces the value of every `name` header by `value` (removing duplicates),
 * or appends it when absent. 0 or LG_ENOMEM. */
int lg_http_headers_set(lg_http_headers *h, const char *name, const char *value) LG_WUR;
/* Removes every header called `name` (case-insensitive). Returns how many. */
size_t lg_http_headers_remove(lg_http_headers *h, const char *name);
/* Value of the first header called `name` (case-insensitive), borrowed from
 * the list, or NULL. */
const char *lg_http_headers_get(const lg_http_headers *h, const char *name);
/* Deep copy of `src` appended to `dst`. 0 or LG_ENOMEM. */
int lg_http_headers_copy(lg_http_headers *dst, const lg_http_headers *src) LG_WUR;

/* True for hop-by-hop and transport fields that a proxy must not forward
 * as they are: connection, keep-alive, proxy-*, te, trailer(s),
 * transfer-encoding, upgrade, host, content-length (the receiver
 * recomputes it). Case-insensitive. */
bool lg_http_is_hop_by_hop(const char *name);

/* True when the list carries a model-API credential: authorization,
 * x-api-key or api-key (case-insensitive). Which fields are secret for
 * storage is recorder/redact's business; this only answers "did the client
 * bring its own key". */
bool lg_http_has_credentials(const lg_http_headers *h);

/* Standard reason phrase for a status ("Too Many Requests"), or "Unknown". */
const char *lg_http_reason(int status);

#endif
