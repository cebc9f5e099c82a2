/*
 * core/base64.h - standard base64 (RFC 4648, with '=' padding).
 */
#ifndef LG_BASE64_H
#define LG_BASE64_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Appends the base64 of `len` bytes to `out`. 0, LG_ETOOBIG or LG_ENOMEM. */
int lg_base64_encode(const void *data, size_t len, lg_buf *out) LG_WUR;

/* Appends the bytes `len` base64 characters decode to. Returns 0, LG_EINPUT
 * for anything but canonical padded base64 (out unchanged), or a buffer
 * error. */
int lg_base64_decode(const char *text, size_t len, lg_buf *out) LG_WUR;

#endif
