/* What a benchmark asks the daemon over its control socket
 * (control/control_protocol.h): is it up, its counters, its status, reload,
 * stop. The latency benchmark and the soak share it.
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

#include "bad_input.h"

/* A reload of a large pack under load takes seconds on a shared machine. */
#define CONTROL_REQUEST_TIMEOUT_MS 30000

/* The workers' counters summed, from the `stats` reply. */
struct daemon_counters {
	uint64_t rx_packets[2]; /* [0]: side A, [1]: side B */
	uint64_t tx_packets[2];
	uint64_t tx_dropped[2];
	uint64_t datagrams_removed;	/* every frame gone, at least one blocked */
	uint64_t datagrams_dropped_bad; /* dropped for bad input alone */
	uint64_t bad_input;		/* all reasons together */
	uint64_t messages;		/* frames scanned */
	uint64_t events_dropped;
	double max_iteration_ms; /* the worker's longest loop pass */
	double max_gap_ms;	 /* and longest time between two passes' starts */

	uint64_t datagrams; /* UDP datagrams for the message port */
	uint64_t datagrams_rewritten;
	uint64_t other_forwarded;
	uint64_t verdicts[4]; /* passed, flagged, masked, blocked */
	uint64_t matches;
	uint64_t bad[SLUICE_BAD_REASON_COUNT]; /* by reason; [0] unused */
	uint64_t utf8_repaired;
	uint64_t match_overflow;
	uint64_t events_written; /* lines the sink wrote (the reply's top level) */
	uint64_t event_write_errors;
};

/* From the `status` reply: swaps and the control socket's own counters. */
struct daemon_status {
	uint64_t swaps;
	uint64_t refusals;
	uint64_t access_refusals;
	char main_version[64]; /* the main pack in force */
	unsigned workers;
	unsigned workers_stuck;
	struct {
		uint64_t connected; /* held when the reply was made, the asker included */
		uint64_t accepted, served, request_timeouts, bad_requests, evicted, vanished,
		    reply_timeouts;
	} clients;
};

/* Asks `status` until it answers, for at most limit_s, giving up early when
 * *give_up becomes true (the daemon has exited). */
int control_wait_ready(const char *socket, double limit_s, const atomic_bool *give_up, char *err,
		       size_t err_len);

int control_read_counters(const char *socket, struct daemon_counters *out, char *err,
			  size_t err_len);

int control_read_status(const char *socket, struct daemon_status *out, char *err, size_t err_len);

/* Reloads the main slot from path (absolute); *grace_ms is the grace period
 * the daemon reports for the swap. */
int control_reload_main(const char *socket, const char *path, double *grace_ms, char *err,
			size_t err_len);

int control_stop(const char *socket, char *err, size_t err_len);

#endif
