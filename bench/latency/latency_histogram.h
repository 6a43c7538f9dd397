/* A latency histogram with log-linear buckets: each power-of-two range above
 * 50 ns is cut into 128 equal buckets, so a bucket is at most 0.8% wide
 * relative to its value, up to 50 ns * 2^22 (about 210 ms).
 *
 * Contract: recording is O(1), allocation-free and touches one counter, so it
 * can sit on the sink's hot loop. Values below the range land in the first
 * bucket, values above it in the last; the exact minimum and maximum are kept
 * beside the buckets. One writer; read it only once the writer is done.
 */
#ifndef SLUICE_BENCH_LATENCY_HISTOGRAM_H
#define SLUICE_BENCH_LATENCY_HISTOGRAM_H

#include <stdint.h>
#include <stdio.h>

#define LATENCY_HIST_MIN_NS   50u
#define LATENCY_HIST_SUB_BITS 7u /* 128 buckets per octave */
#define LATENCY_HIST_OCTAVES  22u
#define LATENCY_HIST_BUCKETS  (LATENCY_HIST_OCTAVES << LATENCY_HIST_SUB_BITS)

struct latency_histogram {
	uint64_t count[LATENCY_HIST_BUCKETS];
	uint64_t samples;
	uint64_t min_ns;
	uint64_t max_ns;
};

void latency_histogram_init(struct latency_histogram *h);

/* Records weight samples of ns each: a packet's messages all wait as long as
 * the packet, so the sink records one sample per message it carried. */
void latency_histogram_record(struct latency_histogram *h, uint64_t ns, uint64_t weight);

/* The value below which a fraction q (0..1] of the samples lie, in ns: the
 * midpoint of the bucket holding that sample, never above the exact maximum.
 * 0 when there are no samples. */
double latency_histogram_quantile_ns(const struct latency_histogram *h, double q);

/* Writes "latency_us cumulative_fraction" lines, one per non-empty bucket (its
 * upper bound), after a '#' header line gnuplot skips. Returns 0, or -1 when
 * the stream reported an error. */
int latency_histogram_write_cdf(const struct latency_histogram *h, FILE *out);

#endif
