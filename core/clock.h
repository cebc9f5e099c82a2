/*
 * core/clock.h - monotonic and wall clocks.
 */
#ifndef LG_CLOCK_H
#define LG_CLOCK_H

#include <stdint.h>

/* Monotonic time in nanoseconds (CLOCK_MONOTONIC), for durations. */
uint64_t lg_clock_mono_ns(void);
/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t lg_clock_wall_ms(void);
/* Formats a wall time (ms since epoch) as UTC ISO 8601 with milliseconds,
 * "2026-11-21T14:59:03.123Z". `out` must hold 25 bytes. */
void lg_clock_iso8601(int64_t wall_ms, char out[25]);
/* Sleeps for `ns` nanoseconds, resuming after signals. */
void lg_clock_sleep_ns(uint64_t ns);

#endif
