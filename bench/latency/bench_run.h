/* One benchmark run: the daemon in this process, on the calling (main) lcore,
 * with one worker between the harness's ports; the load thread beside it, on
 * a CPU of its own when the caller names one (load_own_cpu), else on the main
 * lcore's; and a conductor thread that talks to the daemon's control socket.
 *
 * The conductor waits for the socket, starts the load, runs the reload cycle
 * through the load's measure phase when one is given, and once injection has
 * stopped waits until the daemon's counters show every injected packet taken
 * in and every forwarded one collected at the sink (the same figures twice in
 * a row, so a burst in the worker's hands is not missed); then it reads the
 * final counters and stops the daemon.
 *
 * Contract: returns when the daemon has exited and both threads are joined.
 * Every wait is bounded; a run that could not be carried through (the daemon
 * failed, a deadline passed, the counters never agreed) returns -1 with the
 * reason in error. Lost packets are not an error here: the caller judges them.
 */
#ifndef SLUICE_BENCH_LATENCY_BENCH_RUN_H
#define SLUICE_BENCH_LATENCY_BENCH_RUN_H

#include <stdatomic.h>
#include <stdbool.h>

#include "control_client.h"
#include "options.h"
#include "reload_cycle.h"
#include "traffic_load.h"

struct bench_run {
	const struct sluice_options *daemon; /* control_socket must be a path */
	struct traffic_load *load;
	struct reload_cycle *reloads; /* NULL: no swaps */
	bool load_own_cpu;	      /* the load thread on load_cpu, alone */
	unsigned load_cpu;

	atomic_bool daemon_exited;
	int daemon_rc;
	struct daemon_counters counters; /* after the traffic settled */
	char error[1024];
};

int bench_run(struct bench_run *run);

#endif
