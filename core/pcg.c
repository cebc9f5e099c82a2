#include "pcg.h"

uint32_t lg_pcg32_random(lg_pcg32 *rng)
{
    uint64_t old = rng->state;
    uint32_t xorshifted, rot;

    rng->state = old * 6364136223846793005ULL + rng->inc;
    xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

void lg_pcg32_srandom(lg_pcg32 *rng, uint64_t initstate, uint64_t initseq)
{
    rng->state = 0U;
    rng->inc = (initseq << 1u) | 1u;
    lg_pcg32_random(rng);
    rng->state += initstate;
    lg_pcg32_random(rng);
}

uint32_t lg_pcg32_boundedrand(lg_pcg32 *rng, uint32_t bound)
{
    uint32_t threshold;

    if (bound == 0)
        return 0;
    /* 2^32 mod bound: values below it would bias the result */
    threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = lg_pcg32_random(rng);
        if (r >= threshold)
            return r % bound;
    }
}

double lg_pcg32_double(lg_pcg32 *rng)
{
    uint64_t hi = lg_pcg32_random(rng) >> 5; /* 27 bits */
    uint64_t lo = lg_pcg32_random(rng) >> 6; /* 26 bits */
    return (double)(hi * 67108864.0 + lo) / 9007199254740992.0;
}

int64_t lg_pcg32_range(lg_pcg32 *rng, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo; /* number of values - 1 */
    uint64_t r;

    if (span < UINT32_MAX)
        return lo + (int64_t)lg_pcg32_boundedrand(rng, (uint32_t)(span + 1));
    /* 64-bit rejection sampling for wide ranges */
    if (span == UINT64_MAX) {
        r = ((uint64_t)lg_pcg32_random(rng) << 32) | lg_pcg32_random(rng);
    } else {
        uint64_t n = span + 1, threshold = (0 - n) % n;
        do {
            r = ((uint64_t)lg_pcg32_random(rng) << 32) | lg_pcg32_random(rng);
        } while (r < threshold);
        r %= n;
    }
    return (int64_t)((uint64_t)lo + r);
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t lg_pcg32_mix(uint64_t a, uint64_t b)
{
    return splitmix64(splitmix64(a) ^ b);
}
