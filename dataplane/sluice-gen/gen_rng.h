/* sluice-gen's randomness: one seeded stream that every choice draws from
 * in a fixed order.
 *
 * Contract: the same seed gives the same numbers on every platform and libc,
 * so a capture can be regenerated from its options instead of stored; any
 * change to these functions, or to the order of the draws, changes every
 * corpus.
 */
#ifndef SLUICE_GEN_RNG_H
#define SLUICE_GEN_RNG_H

#include <stdbool.h>
#include <stdint.h>

/* splitmix64: tiny, fast, and identical on every platform and libc, which
 * rand() is not. */
struct rng {
	uint64_t state;
};

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-shift; its bias, about n / 2^32, is far below
 * anything a benchmark could notice for the n used here. */
static inline uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static inline uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static inline bool rng_chance(struct rng *r, double pct)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53 * 100.0 < pct;
}

#endif
