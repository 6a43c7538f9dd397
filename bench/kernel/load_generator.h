/* The load thread: sends the payloads cyclically to the scanner and takes
 * back what it forwards, with a bounded number of datagrams in flight.
 *
 * In flight = sent - received at the sink - removed by the scanner. The
 * thread sends a batch only while at least LOAD_BATCH more fit in the window,
 * so no socket queue ever holds more than the window (the caller sizes it to
 * the receive buffers) and a datagram can only go missing through a fault,
 * which the run then reports as lost. It also plays the daemon's control
 * thread: it drains the scanner's event ring and counts the events.
 *
 * Timeline: warm-up, then the measured interval between two snapshots of the
 * scanner's counters, then a drain (no more sends, until nothing is in flight
 * or drain_s passes). Every phase is bounded in time, and sending in count.
 * The sink receives into small buffers with MSG_TRUNC: it needs lengths and
 * a look at the first frame header, not the bytes, and copying them out would
 * only slow the load thread down.
 */
#ifndef SLUICE_BENCH_KERNEL_LOAD_GENERATOR_H
#define SLUICE_BENCH_KERNEL_LOAD_GENERATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "event_ring.h"
#include "message_payloads.h"
#include "run_shared.h"

#define LOAD_BATCH 64

struct load_generator {
	/* Set by the caller before the thread starts. */
	int tx_fd, sink_fd;
	const struct message_payloads *payloads;
	uint32_t window; /* >= LOAD_BATCH */
	double warmup_s, measure_s, drain_s;
	uint64_t max_sent; /* bound on datagrams sent, whatever the clock says */
	int cpu;	   /* -1: unpinned */
	struct run_shared *shared;
	struct sluice_event_ring *events; /* NULL: nothing to drain */

	/* Results, read after joining the thread. */
	uint64_t sent, received, removed; /* over the whole run, drain included */
	uint64_t sink_bytes;
	uint64_t sink_unframed; /* datagrams at the sink not starting with a frame header */
	uint64_t events_drained;
	uint64_t at_start[RUN_COUNTER_COUNT], at_end[RUN_COUNTER_COUNT];
	double measured_s;
	bool measured; /* both snapshots taken */
	bool failed;
	char err[256];
};

/* The thread's body; arg is a struct load_generator. */
void *load_generator_main(void *arg);

/* Pops every event in ring; returns how many. */
uint64_t load_generator_drain_events(struct sluice_event_ring *ring);

#endif
