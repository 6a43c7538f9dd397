/* Clocks for code that measures or stamps: the monotonic clock for durations
 * and deadlines, the real-time clock for timestamps people read. Not for the
 * packet path, which uses the TSC (one rdtsc, no system call).
 */
#ifndef SLUICE_BASE_CLOCK_H
#define SLUICE_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t sluice_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline double sluice_mono_ms(void)
{
	return (double)sluice_mono_ns() / 1e6;
}

static inline double sluice_mono_s(void)
{
	return (double)sluice_mono_ns() / 1e9;
}

static inline uint64_t sluice_realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
