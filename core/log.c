#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_int log_level = LG_LOG_WARN;

void lg_log_set_level(int level)
{
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int lg_log_get_level(void)
{
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int lg_log_parse_level(const char *s)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

void lg_log(int level, const char *fmt, ...)
{
    static const char *const tags[] = {"error", "warning", "info", "debug"};
    char line[4096];
    va_list ap;
    int n;

    if (level > lg_log_get_level() || level < 0 || level > LG_LOG_DEBUG)
        return;
    n = snprintf(line, sizeof line, "loopgate: %s: ", tags[level]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* one fputs per line so lines from threads do not interleave */
    strncat(line, "\n", sizeof line - strlen(line) - 1);
    fputs(line, stderr);
}
