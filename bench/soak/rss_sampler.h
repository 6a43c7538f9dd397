/* The process's resident memory (VmRSS in /proc/self/status) over the run,
 * and whether it stayed flat.
 *
 * Flat means: the largest sample of the run's second half is within
 * FLAT_SHARE (5%) or FLAT_MIN_KIB (4 MiB), whichever is larger, of the
 * largest sample of its first half, the first half starting after a warm-up
 * (the pools, rings and caches the daemon fills once). A leak of a little per
 * reload, per connection or per message grows with time and shows as a
 * second half above the first; steady use does not.
 *
 * Contract: samples are taken by the thread every every_s, plus when
 * soak_rss_take() is called; times are seconds since soak_rss_init(). The
 * array is allocated up front for the run's length; later samples are
 * dropped, not stored. Judge only once the thread has been joined.
 */
#ifndef SLUICE_BENCH_SOAK_RSS_SAMPLER_H
#define SLUICE_BENCH_SOAK_RSS_SAMPLER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLAT_SHARE   0.05
#define FLAT_MIN_KIB 4096

struct soak_rss_sample {
	double t;
	uint64_t kib;
};

struct soak_rss {
	double every_s;
	double origin;
	atomic_bool stop;
	struct soak_rss_sample *samples;
	size_t capacity, count;
};

struct soak_rss_verdict {
	bool judged; /* both halves had samples */
	bool flat;
	uint64_t first_half_max_kib, second_half_max_kib, allowed_growth_kib;
	uint64_t start_kib, end_kib, max_kib;
	char why[200]; /* when not judged */
};

/* Returns 0, or -1 when out of memory. */
int soak_rss_init(struct soak_rss *r, double every_s, double run_s);

/* VmRSS now, in KiB; 0 when it cannot be read. */
uint64_t soak_rss_now_kib(void);

/* Adds a sample now (from the thread that owns r, or before/after it runs). */
void soak_rss_take(struct soak_rss *r);

/* pthread entry point; arg is the struct soak_rss. */
void *soak_rss_main(void *arg);

/* Judges the samples of [0, end_s], the first warmup_s left out. */
void soak_rss_judge(const struct soak_rss *r, double warmup_s, double end_s,
		    struct soak_rss_verdict *v);

void soak_rss_free(struct soak_rss *r);

#endif
