#include "buf.h"
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lg_buf_init(lg_buf *b)
{
    lg_buf_init_capped(b, LG_BUF_DEFAULT_CAP);
}

void lg_buf_init_capped(lg_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void lg_buf_release(lg_buf *b)
{
    size_t max = b->max;
    free(b->data);
    lg_buf_init_capped(b, max);
}

void lg_buf_reset(lg_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *lg_buf_take(lg_buf *b, size_t *len)
{
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    lg_buf_init_capped(b, b->max);
    return p;
}

int lg_buf_grow(lg_buf *b, size_t extra)
{
    size_t need, ncap;
    char *p;

    if (extra > b->max || b->len > b->max - extra)
        return LG_ETOOBIG;
    need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    p = realloc(b->data, ncap);
    if (!p)
        return LG_ENOMEM;
    b->data = p;
    b->cap = ncap;
    return 0;
}

int lg_buf_append(lg_buf *b, const void *data, size_t len)
{
    int rc = lg_buf_grow(b, len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

int lg_buf_append_str(lg_buf *b, const char *s)
{
    return lg_buf_append(b, s, strlen(s));
}

int lg_buf_append_byte(lg_buf *b, char c)
{
    return lg_buf_append(b, &c, 1);
}

int lg_buf_vappendf(lg_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return LG_EINTERNAL;
    rc = lg_buf_grow(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int lg_buf_appendf(lg_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = lg_buf_vappendf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void lg_buf_truncate(lg_buf *b, size_t len)
{
    if (len >= b->len)
        return;
    b->len = len;
    b->data[len] = '\0';
}
