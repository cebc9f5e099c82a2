#include "hash.h"

#include <stdlib.h>
#include <xxhash.h>

struct lg_hasher {
    XXH3_state_t *st;
};

lg_hash128 lg_hash_bytes(const void *data, size_t len)
{
    XXH128_hash_t h = XXH3_128bits(data, len);
    lg_hash128 r = {h.high64, h.low64};
    return r;
}

void lg_hash_to_bytes(lg_hash128 h, unsigned char out[16])
{
    for (int i = 0; i < 8; i++) {
        out[i] = (unsigned char)(h.hi >> (56 - 8 * i));
        out[8 + i] = (unsigned char)(h.lo >> (56 - 8 * i));
    }
}

lg_hash128 lg_hash_from_bytes(const unsigned char in[16])
{
    lg_hash128 h = {0, 0};
    for (int i = 0; i < 8; i++) {
        h.hi = (h.hi << 8) | in[i];
        h.lo = (h.lo << 8) | in[8 + i];
    }
    return h;
}

void lg_hash_hex(lg_hash128 h, char out[LG_HASH_HEX_LEN])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char b[16];
    lg_hash_to_bytes(h, b);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[32] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool lg_hash_from_hex(const char *hex, lg_hash128 *out)
{
    unsigned char b[16];
    for (int i = 0; i < 16; i++) {
        int a = hexval(hex[2 * i]), c;
        if (a < 0)
            return false;
        c = hexval(hex[2 * i + 1]);
        if (c < 0)
            return false;
        b[i] = (unsigned char)(a << 4 | c);
    }
    if (hex[32] != '\0')
        return false;
    *out = lg_hash_from_bytes(b);
    return true;
}

lg_hasher *lg_hasher_new(void)
{
    lg_hasher *h = malloc(sizeof *h);
    if (!h)
        return NULL;
    h->st = XXH3_createState();
    if (!h->st) {
        free(h);
        return NULL;
    }
    XXH3_128bits_reset(h->st);
    return h;
}

void lg_hasher_update(lg_hasher *h, const void *data, size_t len)
{
    XXH3_128bits_update(h->st, data, len);
}

lg_hash128 lg_hasher_digest(const lg_hasher *h)
{
    XXH128_hash_t d = XXH3_128bits_digest(h->st);
    lg_hash128 r = {d.high64, d.low64};
    return r;
}

void lg_hasher_free(lg_hasher *h)
{
    if (!h)
        return;
    XXH3_freeState(h->st);
    free(h);
}
