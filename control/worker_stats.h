/* Per-worker counters.
 *
 * Each worker owns one struct, aligned to its own cache lines, and increments it
 * with plain stores; the control thread reads all of them to report sums. Aligned
 * 64-bit loads cannot tear on the platforms DPDK supports, so a reader sees each
 * counter as some value it really had.
 */
#ifndef SLUICE_CONTROL_WORKER_STATS_H
#define SLUICE_CONTROL_WORKER_STATS_H

#include <stdint.h>

#include "action.h"
#include "bad_input.h"
#include "stream_stats.h"

#define SLUICE_PORT_COUNT 2

struct sluice_worker_stats {
	uint64_t rx_packets[SLUICE_PORT_COUNT];
	uint64_t tx_packets[SLUICE_PORT_COUNT];
	uint64_t tx_dropped[SLUICE_PORT_COUNT]; /* TX queue stayed full after retries */
	uint64_t other_forwarded;		/* not for the message port, untouched */
	uint64_t datagrams;			/* UDP datagrams for the message port */
	uint64_t datagrams_rewritten;
	uint64_t datagrams_removed;	/* no frame left, at least one blocked by a verdict */
	uint64_t datagrams_dropped_bad; /* dropped for bad input alone (no verdict): with
					   the above, rx = tx + removed + dropped_bad +
					   tx_dropped */
	uint64_t messages;		/* frames scanned */
	uint64_t bytes_scanned;
	uint64_t verdicts[SLUICE_ACTION_COUNT]; /* none = passed unchanged */
	uint64_t matches;			/* rule spans reported */
	uint64_t bad[SLUICE_BAD_REASON_COUNT];
	uint64_t utf8_repaired; /* messages passed after policy "replace" */
	uint64_t match_overflow;
	uint64_t events_dropped;      /* event ring full (after waiting, with --events-full wait) */
	uint64_t events_waited;	      /* events that found the ring full and waited for room */
	uint64_t event_wait_cycles;   /* time those waits held the worker */
	uint64_t event_wait_timeouts; /* waits that ended without room: the event dropped */
	uint64_t iterations;	      /* worker loop passes: a heartbeat */
	uint64_t max_iteration_cycles; /* longest pass, start to end */
	uint64_t max_gap_cycles;       /* longest time between two passes' starts */
	uint64_t generation;	       /* ruleset generation used in the last burst */
	struct sluice_stream_stats stream;
} __attribute__((aligned(64)));

#endif
