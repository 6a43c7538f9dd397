/* The load thread: injects corpus packets into the harness and collects what
 * the worker sends, through a fixed sequence of timed phases.
 *
 *   waiting ─► [probe] ─► [warmup] ─► measure ─► settle ─► done
 *
 * - probe (optional): unpaced, to learn the rate this harness sustains; the
 *   phases after it are paced at probe_fraction of that rate;
 * - warmup: like measure, but nothing is counted towards the window figures;
 * - measure: packets and messages seen at the sink in the window are counted,
 *   and, when asked, each one's injection-to-sink latency is recorded;
 * - settle: nothing is injected; the sink keeps collecting until
 *   traffic_load_finish() (someone who can see the daemon's counters knows
 *   when everything is out) or settle_limit_s.
 *
 * Pacing (rate_pps > 0) follows the TSC: packet k of a phase is due at
 * start + k / rate; the thread busy-waits for it, collecting output meanwhile,
 * and when it has fallen behind injects what is due in bursts of up to
 * PACED_BURST_MAX. Unpaced, it injects whatever port A's RX ring has room for.
 *
 * Contract: every phase ends by time, and injection also ends after
 * max_packets; the thread never waits for anything without a deadline.
 * phase, injected and received may be read from other threads at any time.
 */
#ifndef SLUICE_BENCH_LATENCY_TRAFFIC_LOAD_H
#define SLUICE_BENCH_LATENCY_TRAFFIC_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "latency_histogram.h"
#include "ring_harness.h"

#define PACED_BURST_MAX 8

enum load_phase {
	LOAD_WAITING,
	LOAD_PROBE,
	LOAD_WARMUP,
	LOAD_MEASURE,
	LOAD_SETTLE,
	LOAD_DONE,
};

struct load_plan {
	double probe_s;	       /* 0: no probe */
	double probe_fraction; /* of the probed rate, for the phases after it */
	double rate_pps;       /* 0: unpaced (unless a probe sets it) */
	double warmup_s;
	double measure_s;
	double settle_limit_s;
	double start_limit_s; /* how long to wait for traffic_load_start() */
	uint64_t max_packets; /* injection stops here whatever the time */
	bool record_latency;
};

struct load_figures {
	uint64_t injected;
	uint64_t received;
	uint64_t window_packets;  /* seen at the sink during measure */
	uint64_t window_messages; /* their messages, as injected */
	double window_s;
	double rate_pps;  /* the pace of warmup and measure; 0 unpaced */
	double probe_pps; /* what the probe saw at the sink; 0 without one */
	bool finished;	  /* settle ended by traffic_load_finish(), not by time */
};

struct traffic_load {
	struct ring_harness *harness;
	const uint16_t *messages_per_packet; /* by corpus index */
	struct load_plan plan;
	struct latency_histogram *histogram; /* filled in measure when record_latency */

	_Atomic int phase; /* enum load_phase */
	atomic_uint_fast64_t injected, received;
	atomic_bool started, finish, abort;
	struct load_figures figures; /* complete once phase is LOAD_DONE */
};

void traffic_load_init(struct traffic_load *load, struct ring_harness *harness,
		       const uint16_t *messages_per_packet, const struct load_plan *plan,
		       struct latency_histogram *histogram);

/* pthread entry point; arg is the struct traffic_load. */
void *traffic_load_main(void *arg);

/* Lets the thread leave LOAD_WAITING. */
void traffic_load_start(struct traffic_load *load);

/* Ends settle: everything injected has been accounted for. */
void traffic_load_finish(struct traffic_load *load);

/* Ends whatever phase it is in, straight to LOAD_DONE (the daemon is gone). */
void traffic_load_abort(struct traffic_load *load);

enum load_phase traffic_load_phase(const struct traffic_load *load);

const char *load_phase_name(enum load_phase phase);

#endif
