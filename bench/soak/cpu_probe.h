/* How long this process's threads had to wait for each CPU: one sleeper per
 * CPU the process may use, pinned there, waking every PROBE_PERIOD_S and
 * recording how late each wake-up was.
 *
 * A spinning worker cannot tell "I was slow" from "I was not running". A
 * sleeper that wakes late by seconds on the worker's CPU says the CPU was
 * taken from the whole process (the hypervisor, or something of higher
 * priority); one that wakes on time while the worker stalled points at the
 * worker. The soak lists both beside the daemon's own longest pass, so a run
 * that fails on a stall says which it was.
 *
 * Contract: costs each CPU a wake-up of microseconds per period. Stalls of
 * PROBE_STALL_S or more are kept with their time (seconds since `origin`),
 * the longest PROBE_KEEP of them. Figures are complete once stopped.
 */
#ifndef SLUICE_BENCH_SOAK_CPU_PROBE_H
#define SLUICE_BENCH_SOAK_CPU_PROBE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PROBE_PERIOD_S 0.01
#define PROBE_STALL_S  0.1
#define PROBE_KEEP     8
#define PROBE_MAX_CPUS 16

struct soak_stall {
	double at_s;   /* when the wake-up was due */
	double late_s; /* how late it came */
};

struct soak_cpu_probe {
	unsigned cpu;
	uint64_t wakeups;
	double max_late_s;
	uint64_t late_100ms, late_1s;	     /* wake-ups at least this late */
	struct soak_stall worst[PROBE_KEEP]; /* the longest, longest first */
	unsigned kept;
	pthread_t thread;
	bool started;
	struct soak_cpu_probes *owner;
};

struct soak_cpu_probes {
	atomic_bool stop;
	double origin;
	unsigned count;
	struct soak_cpu_probe cpu[PROBE_MAX_CPUS];
};

/* Probes every CPU in cpus (the process's CPUs, read before EAL pinned the
 * main thread); times count from origin. Returns 0, or -1 when a thread
 * could not start (those started are stopped). */
int soak_cpu_probes_start(struct soak_cpu_probes *p, const unsigned *cpus, unsigned count,
			  double origin);

void soak_cpu_probes_stop(struct soak_cpu_probes *p);

/* Keeps s among the PROBE_KEEP longest of list (longest first). */
void soak_stall_keep(struct soak_stall *list, unsigned *kept, struct soak_stall s);

#endif
