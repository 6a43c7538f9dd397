/* Time for the soak's threads: a monotonic clock in seconds, and sleeps that
 * end early when the thread is told to stop.
 *
 * Contract: soak_sleep() returns within STOP_SLICE_S of *stop becoming true,
 * so every thread of the soak stops within a fraction of a second of being
 * asked, whatever period it runs at.
 */
#ifndef SLUICE_BENCH_SOAK_SOAK_CLOCK_H
#define SLUICE_BENCH_SOAK_SOAK_CLOCK_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "clock.h"

#define STOP_SLICE_S 0.05

static inline void soak_nap(double seconds)
{
	if (seconds <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)seconds,
			      .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sleeps until sluice_mono_s() >= until or *stop; returns false when stopped. */
static inline bool soak_sleep_until(double until, const atomic_bool *stop)
{
	for (;;) {
		if (atomic_load(stop))
			return false;
		double left = until - sluice_mono_s();
		if (left <= 0)
			return true;
		soak_nap(left < STOP_SLICE_S ? left : STOP_SLICE_S);
	}
}

#endif
