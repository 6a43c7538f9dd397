/* One soak: the daemon in this process on the main lcore, and around it a
 * conductor thread that runs the rest:
 *
 *   wait for the control socket ─► traffic (injector + collector), reloads,
 *   abuse, operator and RSS samples, all for the duration ─► stop injecting,
 *   reloading and abusing ─► settle: wait until the daemon's counters show
 *   every injected packet taken in, every forwarded one collected and every
 *   event written, the same figures twice in a row ─► final `stats` and
 *   `status` ─► stop the daemon.
 *
 * Threads other than the worker share the main lcore's CPU (they inherit its
 * affinity), so the worker's core stays the worker's.
 *
 * Contract: soak_run() returns once the daemon has exited and every thread
 * has been joined. Each wait is bounded. A run that could not be carried
 * through (the daemon failed or exited early, the socket never answered, the
 * counters never settled, a thread could not start) returns -1 with the
 * reason in error; what was measured up to then is kept for the report.
 * Wrong messages, failed reloads and the like are not errors here: the
 * report judges them.
 */
#ifndef SLUICE_BENCH_SOAK_SOAK_RUN_H
#define SLUICE_BENCH_SOAK_SOAK_RUN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "collector.h"
#include "control_abuse.h"
#include "control_client.h"
#include "cpu_probe.h"
#include "injector.h"
#include "msg_ledger.h"
#include "operator_probe.h"
#include "options.h"
#include "reload_cycle.h"
#include "ring_harness.h"
#include "rss_sampler.h"
#include "soak_options.h"
#include "soak_packs.h"

struct soak_run {
	/* Inputs, set by the caller before soak_run_init(). */
	const struct sluice_options *daemon; /* control_socket must be a path */
	const struct soak_options *opt;
	const struct soak_packs *packs;
	struct ring_harness *harness;
	struct soak_ledger *ledger;
	unsigned cpus[PROBE_MAX_CPUS]; /* the process's CPUs before EAL pinned it */
	unsigned cpu_count;

	/* The parts. */
	struct soak_injector injector;
	struct soak_collector collector;
	struct reload_cycle reloads;
	struct soak_abuse abuse;
	struct soak_operator op;
	struct soak_rss rss;
	struct soak_cpu_probes probes;
	bool probing;
	atomic_bool stop_reloads;
	int reload_rc;

	/* What happened; times in the figures count from origin, when traffic
	 * started. */
	double origin;
	atomic_bool daemon_exited;
	bool stop_requested; /* by the conductor; an exit before it is a failure */
	int daemon_rc;
	double traffic_s;
	double settle_s;
	bool settled;
	struct daemon_status status_start, status_end;
	bool have_status_start, have_status_end;
	struct daemon_counters counters;
	bool have_counters;
	char error[1024];
};

/* Allocates what the parts keep for the run's length. Returns 0, or -1 with
 * err (out of memory). */
int soak_run_init(struct soak_run *run, char *err, size_t err_len);

int soak_run(struct soak_run *run);

void soak_run_free(struct soak_run *run);

#endif
