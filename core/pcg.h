/*
 * core/pcg.h - PCG32 (O'Neill's pcg32_random_r: XSH RR 64/32), seeded streams.
 *
 * Every random draw in loopgate comes from one of these, so a seed and a
 * stream number reproduce the same values on every machine. No globals:
 * each user owns its generator state. Verified against the reference vector
 * (initstate 42, initseq 54 -> 0xa15c02b7 0x7b47f409 ...).
 */
#ifndef LG_PCG_H
#define LG_PCG_H

#include <stdint.h>

typedef struct lg_pcg32 {
    uint64_t state;
    uint64_t inc; /* always odd; selects the stream */
} lg_pcg32;

/* Seeds with an initial state and a stream (sequence) selector. */
void lg_pcg32_srandom(lg_pcg32 *rng, uint64_t initstate, uint64_t initseq);
/* Next uniformly distributed 32-bit value. */
uint32_t lg_pcg32_random(lg_pcg32 *rng);
/* Uniform in [0, bound) without modulo bias (rejection). bound 0 gives 0. */
uint32_t lg_pcg32_boundedrand(lg_pcg32 *rng, uint32_t bound);
/* Uniform double in [0, 1) with 53 random bits (two draws). */
double lg_pcg32_double(lg_pcg32 *rng);
/* Uniform integer in [lo, hi] (inclusive); lo <= hi; full int64 range works. */
int64_t lg_pcg32_range(lg_pcg32 *rng, int64_t lo, int64_t hi);

/* A 64-bit stream id mixed from several integers (for (seed, case, trial,
 * call) seeding): splitmix64 of each in turn. */
uint64_t lg_pcg32_mix(uint64_t a, uint64_t b);

#endif
