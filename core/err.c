#include "err.h"

#include <stdio.h>
#include <string.h>

void lg_err_clear(lg_err *err)
{
    if (!err)
        return;
    err->code = LG_OK;
    err->msg[0] = '\0';
    err->file = NULL;
    err->line = 0;
}

int lg_err_vsetf(lg_err *err, const char *file, int line, int code,
                 const char *fmt, va_list ap)
{
    if (!err || err->code != LG_OK)
        return code;
    err->code = code;
    err->file = file;
    err->line = line;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return code;
}

int lg_err_setf(lg_err *err, const char *file, int line, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lg_err_vsetf(err, file, line, code, fmt, ap);
    va_end(ap);
    return code;
}

void lg_err_prefix(lg_err *err, const char *fmt, ...)
{
    char pre[512], old[LG_ERR_MSG_MAX];
    va_list ap;

    if (!lg_err_isset(err))
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    /* the prefix first, then as much of the old message as still fits */
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(pre);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, pre, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3, ol = strlen(old);
    if (ol > room)
        ol = room;
    memcpy(err->msg + n + 2, old, ol);
    err->msg[n + 2 + ol] = '\0';
}

int lg_err_exit_code(int code)
{
    switch (code) {
    case LG_OK:
        return 0;
    case LG_EGATE:
    case LG_EDIVERGED:
        return 1;
    case LG_EUSAGE:
    case LG_EINPUT:
    case LG_ENOENT:
    case LG_EFORMAT:
    case LG_ETOOBIG:
        return 2;
    case LG_EINTR:
        return 130;
    default:
        return 3;
    }
}

const char *lg_err_name(int code)
{
    switch (code) {
    case LG_OK: return "ok";
    case LG_EUSAGE: return "usage";
    case LG_EINPUT: return "input";
    case LG_ENOENT: return "not found";
    case LG_EFORMAT: return "format";
    case LG_EIO: return "i/o";
    case LG_ENOMEM: return "out of memory";
    case LG_EINTERNAL: return "internal";
    case LG_EGATE: return "gate failed";
    case LG_EDIVERGED: return "diverged";
    case LG_ETOOBIG: return "too big";
    case LG_EINTR: return "interrupted";
    default: return "unknown";
    }
}
