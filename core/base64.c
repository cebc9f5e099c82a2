#include "base64.h"

#include "err.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int lg_base64_encode(const void *data, size_t len, lg_buf *out)
{
    const unsigned char *p = data;
    size_t before = out->len;
    int rc = lg_buf_grow(out, (len + 2) / 3 * 4);
    if (rc)
        return rc;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < len ? p[i + 2] : 0);
        char q[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
                     i + 1 < len ? alphabet[v >> 6 & 63] : '=', i + 2 < len ? alphabet[v & 63] : '='};
        if ((rc = lg_buf_append(out, q, 4))) {
            lg_buf_truncate(out, before);
            return rc;
        }
    }
    return 0;
}

static int value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int lg_base64_decode(const char *text, size_t len, lg_buf *out)
{
    size_t before = out->len;
    int rc;

    if (len % 4)
        return LG_EINPUT;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        unsigned char b[3];
        size_t n = 3;
        for (int k = 0; k < 4; k++)
            v[k] = value_of(text[i + k]);
        if (i + 4 == len && text[i + 3] == '=') {
            n = text[i + 2] == '=' ? 1 : 2;
            v[3] = 0;
            if (n == 1)
                v[2] = 0;
        }
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            goto bad;
        unsigned x = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
        /* canonical: the bits under the padding are zero */
        if ((n == 1 && (x & 0xffff)) || (n == 2 && (x & 0xff)))
            goto bad;
        b[0] = (unsigned char)(x >> 16);
        b[1] = (unsigned char)(x >> 8);
        b[2] = (unsigned char)x;
        if ((rc = lg_buf_append(out, b, n))) {
            lg_buf_truncate(out, before);
            return rc;
        }
    }
    return 0;
bad:
    lg_buf_truncate(out, before);
    return LG_EINPUT;
}
