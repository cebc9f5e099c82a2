/*
 * core/log.h - leveled logging to stderr.
 *
 * The one sanctioned way for library code to say something that is not an
 * error result (a warning about a stale recording, a debug trace). The level
 * is process-wide and set once by the CLI (`-v`, `-q`, LOOPGATE_LOG); it
 * is read with relaxed atomics so any thread may log. Lines look like
 * "loopgate: warning: MESSAGE". Secrets must never be passed to the logger.
 */
#ifndef LG_LOG_H
#define LG_LOG_H

enum lg_log_level { LG_LOG_ERROR = 0, LG_LOG_WARN = 1, LG_LOG_INFO = 2, LG_LOG_DEBUG = 3 };

/* Sets the most verbose level printed (default LG_LOG_WARN). */
void lg_log_set_level(int level);
int lg_log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 otherwise. */
int lg_log_parse_level(const char *s);

void lg_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lg_warn(...) lg_log(LG_LOG_WARN, __VA_ARGS__)
#define lg_info(...) lg_log(LG_LOG_INFO, __VA_ARGS__)
#define lg_debug(...) lg_log(LG_LOG_DEBUG, __VA_ARGS__)

#endif
