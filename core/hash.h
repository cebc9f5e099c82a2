/*
 * core/hash.h - XXH3-128 content hashing over libxxhash.
 */
#ifndef LG_HASH_H
#define LG_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lg_hash128 {
    uint64_t hi, lo;
} lg_hash128;

/* Lowercase hex is 32 characters plus NUL. */
#define LG_HASH_HEX_LEN 33

/* XXH3-128 of `len` bytes (seed 0). */
lg_hash128 lg_hash_bytes(const void *data, size_t len);
/* Writes 32 lowercase hex digits (hi then lo, big-endian) and a NUL. */
void lg_hash_hex(lg_hash128 h, char out[LG_HASH_HEX_LEN]);
/* Parses 32 hex digits. False on anything else. */
bool lg_hash_from_hex(const char *hex, lg_hash128 *out);
/* 16 bytes, big-endian (hi then lo): the form stored in blobs. */
void lg_hash_to_bytes(lg_hash128 h, unsigned char out[16]);
lg_hash128 lg_hash_from_bytes(const unsigned char in[16]);
static inline bool lg_hash_equal(lg_hash128 a, lg_hash128 b) { return a.hi == b.hi && a.lo == b.lo; }

/* Streaming hasher for data that arrives in pieces. Opaque, heap state. */
typedef struct lg_hasher lg_hasher;
lg_hasher *lg_hasher_new(void);                 /* NULL on OOM; free with lg_hasher_free */
void lg_hasher_update(lg_hasher *h, const void *data, size_t len);
lg_hash128 lg_hasher_digest(const lg_hasher *h);
void lg_hasher_free(lg_hasher *h);              /* accepts NULL */

#endif
