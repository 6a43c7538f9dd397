/* The worker: one per EAL worker lcore, polling one RX queue on each port and
 * sending on its own TX queue of the other port.
 *
 * Contract (docs/architecture.md, "Data path" and "RCU contract"):
 * - Registers as a QSBR reader once; per loop pass it reads the active
 *   generation once, forwards one burst each way, and reports a quiescent state.
 *   It holds no generation pointer across passes; it goes offline before it
 *   leaves.
 * - No allocation, locks or system calls on the loop; counters are its own.
 * - A full TX queue is retried a bounded number of times, then the rest of the
 *   burst is freed and counted as tx_dropped: a stuck peer costs packets, never
 *   a stalled worker.
 */
#ifndef SLUICE_DATAPLANE_WORKER_H
#define SLUICE_DATAPLANE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

struct rte_mempool;

#include "datagram_process.h"
#include "generation.h"
#include "stream_process.h"
#include "worker_stats.h"

#define SLUICE_MAX_BURST 256

struct sluice_worker {
	struct sluice_worker_stats stats; /* first: its own cache lines */
	unsigned id;
	unsigned lcore;
	uint16_t ports[2];
	uint16_t queue;
	unsigned burst;
	struct sluice_generation **active;
	const bool *stop;     /* set by the main lcore: read with __atomic_load_n */
	uint64_t idle_cycles; /* offline mode: this long without RX counts as idle */
	bool idle;	      /* written here, read by the main lcore: __atomic_* both sides */
	struct sluice_packet_ctx ctx;
	struct sluice_stream_ctx streams; /* used when ctx.streams points at it */
	struct rte_mempool *pool;	  /* for the resets Sluice sends */
} __attribute__((aligned(64)));

/* The packet factory the stream layer builds resets with: mbufs from arg, a
 * struct rte_mempool. */
void sluice_worker_packet_factory(struct sluice_packet_factory *f, struct rte_mempool *pool);

/* rte_eal_remote_launch() entry point; arg is a struct sluice_worker. */
int sluice_worker_main(void *arg);

#endif
