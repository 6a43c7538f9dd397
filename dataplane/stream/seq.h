/* TCP sequence-number arithmetic (RFC 793 "modulo 2^32"): a is before b when
 * the signed distance from b to a is negative. Valid for numbers less than
 * 2^31 apart, which every comparison here is (windows and stores are far
 * smaller).
 */
#ifndef SLUICE_STREAM_SEQ_H
#define SLUICE_STREAM_SEQ_H

#include <stdbool.h>
#include <stdint.h>

static inline bool sluice_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool sluice_seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static inline uint32_t sluice_seq_max(uint32_t a, uint32_t b)
{
	return sluice_seq_lt(a, b) ? b : a;
}

static inline uint32_t sluice_seq_min(uint32_t a, uint32_t b)
{
	return sluice_seq_lt(a, b) ? a : b;
}

#endif
