#include "latency_histogram.h"

#include <string.h>

#define SUB_COUNT (1u << LATENCY_HIST_SUB_BITS)
/* Values are scaled so that LATENCY_HIST_MIN_NS maps to SUB_COUNT: the octave
 * is then the scaled value's bit length less SUB_BITS, and the bits below the
 * leading one pick the bucket inside it. */
#define SCALED_LIMIT ((uint64_t)SUB_COUNT << LATENCY_HIST_OCTAVES)

void latency_histogram_init(struct latency_histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->min_ns = UINT64_MAX;
}

static unsigned bucket_of(uint64_t ns)
{
	if (ns < LATENCY_HIST_MIN_NS)
		return 0;
	uint64_t scaled = ns * SUB_COUNT / LATENCY_HIST_MIN_NS;
	if (ns >= SCALED_LIMIT || scaled >= SCALED_LIMIT)
		return LATENCY_HIST_BUCKETS - 1;
	unsigned octave = (unsigned)(63 - __builtin_clzll(scaled)) - LATENCY_HIST_SUB_BITS;
	unsigned sub = (unsigned)(scaled >> octave) - SUB_COUNT;
	return (octave << LATENCY_HIST_SUB_BITS) + sub;
}

static double bucket_lower_ns(unsigned index)
{
	unsigned octave = index >> LATENCY_HIST_SUB_BITS;
	unsigned sub = index & (SUB_COUNT - 1);
	return (double)((uint64_t)(SUB_COUNT + sub) << octave) * LATENCY_HIST_MIN_NS / SUB_COUNT;
}

static double bucket_upper_ns(unsigned index)
{
	unsigned octave = index >> LATENCY_HIST_SUB_BITS;
	return bucket_lower_ns(index) + (double)(1ull << octave) * LATENCY_HIST_MIN_NS / SUB_COUNT;
}

void latency_histogram_record(struct latency_histogram *h, uint64_t ns, uint64_t weight)
{
	h->count[bucket_of(ns)] += weight;
	h->samples += weight;
	if (ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

double latency_histogram_quantile_ns(const struct latency_histogram *h, double q)
{
	if (h->samples == 0)
		return 0;
	/* The rank of the sample asked for, counted from 1. */
	double want = q * (double)h->samples;
	uint64_t rank = want <= 1 ? 1 : (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank > h->samples)
		rank = h->samples;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LATENCY_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen < rank)
			continue;
		/* The last bucket also holds everything above the range. */
		if (i == LATENCY_HIST_BUCKETS - 1)
			return (double)h->max_ns;
		double mid = (bucket_lower_ns(i) + bucket_upper_ns(i)) / 2;
		if (mid > (double)h->max_ns)
			mid = (double)h->max_ns;
		if (mid < (double)h->min_ns)
			mid = (double)h->min_ns;
		return mid;
	}
	return (double)h->max_ns;
}

int latency_histogram_write_cdf(const struct latency_histogram *h, FILE *out)
{
	fprintf(out, "# latency_us cumulative_fraction (%llu samples)\n",
		(unsigned long long)h->samples);
	uint64_t seen = 0;
	for (unsigned i = 0; i < LATENCY_HIST_BUCKETS && h->samples > 0; i++) {
		if (h->count[i] == 0)
			continue;
		seen += h->count[i];
		double upper = bucket_upper_ns(i);
		if (upper > (double)h->max_ns || i == LATENCY_HIST_BUCKETS - 1)
			upper = (double)h->max_ns;
		fprintf(out, "%.4f %.9f\n", upper / 1e3, (double)seen / (double)h->samples);
	}
	return ferror(out) ? -1 : 0;
}
