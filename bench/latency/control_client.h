/* What the benchmark asks the daemon over its control socket
 * (control/control_protocol.h): is it up, its counters, reload, stop.
 *
 * Contract: every call is bounded in time (the socket exchange by
 * CONTROL_REQUEST_TIMEOUT_MS, waiting for readiness by its own limit) and
 * returns 0, or -1 with the daemon's or the transport's reason in err.
 */
#ifndef SLUICE_BENCH_LATENCY_CONTROL_CLIENT_H
#define SLUICE_BENCH_LATENCY_CONTROL_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A reload of a large pack under load takes seconds on a shared machine. */
#define CONTROL_REQUEST_TIMEOUT_MS 30000

/* The workers' counters summed, from the `stats` reply. */
struct daemon_counters {
	uint64_t rx_packets[2]; /* [0]: side A, [1]: side B */
	uint64_t tx_packets[2];
	uint64_t tx_dropped[2];
	uint64_t datagrams_removed; /* every frame gone, at least one blocked */
	uint64_t bad_input;	    /* all reasons together */
	uint64_t messages;	    /* frames scanned */
	uint64_t events_dropped;
	double max_iteration_ms; /* the worker's longest loop pass */
	double max_gap_ms;	 /* and longest time between two passes' starts */
};

/* Asks `status` until it answers, for at most limit_s, giving up early when
 * *give_up becomes true (the daemon has exited). */
int control_wait_ready(const char *socket, double limit_s, const atomic_bool *give_up, char *err,
		       size_t err_len);

int control_read_counters(const char *socket, struct daemon_counters *out, char *err,
			  size_t err_len);

/* Reloads the main slot from path (absolute); *grace_ms is the grace period
 * the daemon reports for the swap. */
int control_reload_main(const char *socket, const char *path, double *grace_ms, char *err,
			size_t err_len);

int control_stop(const char *socket, char *err, size_t err_len);

#endif
