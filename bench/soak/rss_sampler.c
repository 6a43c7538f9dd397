#include "rss_sampler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "soak_clock.h"

/* Samples beyond the run's nominal length: the settle phase and the ones
 * taken on request. */
#define SLACK_SAMPLES 64

int soak_rss_init(struct soak_rss *r, double every_s, double run_s)
{
	memset(r, 0, sizeof(*r));
	r->every_s = every_s;
	r->origin = sluice_mono_s();
	atomic_init(&r->stop, false);
	r->capacity = (size_t)(run_s / every_s) + SLACK_SAMPLES;
	r->samples = calloc(r->capacity, sizeof(*r->samples));
	return r->samples != NULL ? 0 : -1;
}

uint64_t soak_rss_now_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return 0;
	char line[256];
	unsigned long long kib = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

void soak_rss_take(struct soak_rss *r)
{
	if (r->count < r->capacity)
		r->samples[r->count++] = (struct soak_rss_sample){.t = sluice_mono_s() - r->origin,
								  .kib = soak_rss_now_kib()};
}

void *soak_rss_main(void *arg)
{
	struct soak_rss *r = arg;
	double next = r->origin + r->every_s;
	while (soak_sleep_until(next, &r->stop)) {
		soak_rss_take(r);
		next += r->every_s;
	}
	return NULL;
}

void soak_rss_judge(const struct soak_rss *r, double warmup_s, double end_s,
		    struct soak_rss_verdict *v)
{
	memset(v, 0, sizeof(*v));
	if (r->count == 0) {
		snprintf(v->why, sizeof(v->why), "no sample was taken");
		return;
	}
	v->start_kib = r->samples[0].kib;
	v->end_kib = r->samples[r->count - 1].kib;
	double half = end_s / 2;
	size_t first = 0, second = 0;
	for (size_t i = 0; i < r->count; i++) {
		const struct soak_rss_sample *s = &r->samples[i];
		if (s->kib > v->max_kib)
			v->max_kib = s->kib;
		if (s->t < warmup_s || s->t > end_s)
			continue;
		if (s->t < half) {
			first++;
			if (s->kib > v->first_half_max_kib)
				v->first_half_max_kib = s->kib;
		} else {
			second++;
			if (s->kib > v->second_half_max_kib)
				v->second_half_max_kib = s->kib;
		}
	}
	if (first == 0 || second == 0) {
		snprintf(v->why, sizeof(v->why),
			 "no sample in %s: the run (%.0f s) is too short for a warm-up of %.0f s "
			 "and samples every %.0f s",
			 first == 0 ? "the first half after the warm-up" : "the second half", end_s,
			 warmup_s, r->every_s);
		return;
	}
	v->judged = true;
	uint64_t share = (uint64_t)((double)v->first_half_max_kib * FLAT_SHARE);
	v->allowed_growth_kib = share > FLAT_MIN_KIB ? share : FLAT_MIN_KIB;
	v->flat = v->second_half_max_kib <= v->first_half_max_kib + v->allowed_growth_kib;
}

void soak_rss_free(struct soak_rss *r)
{
	free(r->samples);
	r->samples = NULL;
}
