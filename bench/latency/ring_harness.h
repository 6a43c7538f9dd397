/* The benchmark's side of the wire: EAL, two net_ring ports the daemon runs
 * between, and the copying of corpus packets into and out of them.
 *
 * Port A's RX ring is where packets are injected; the worker forwards them to
 * port B, whose TX ring is the sink. Every injected mbuf is a fresh copy of a
 * corpus packet carrying a stamp in a registered mbuf dynamic field: the TSC
 * when it was enqueued and which corpus packet it is. The worker forwards the
 * same mbuf, so the stamp comes back intact at the sink.
 *
 * Contract: one thread injects and receives (the rings are single-producer,
 * single-consumer on our side); it may be any thread, EAL or not. Injection
 * never blocks: it takes what the RX ring has room for.
 */
#ifndef SLUICE_BENCH_LATENCY_RING_HARNESS_H
#define SLUICE_BENCH_LATENCY_RING_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "corpus_files.h"

struct rte_mempool;
struct rte_ring;

struct packet_stamp {
	uint64_t tsc;	       /* rte_rdtsc() just before the enqueue */
	uint32_t corpus_index; /* which corpus packet this is a copy of */
};

struct ring_harness {
	struct rte_ring *rx_a, *tx_a, *rx_b, *tx_b;
	uint16_t port_a, port_b;
	struct rte_mempool *pool;
	int stamp_offset;
	const struct bench_packets *corpus;
	uint32_t cursor; /* next corpus packet to inject; the corpus is cycled */
	uint64_t tsc_hz;
};

/* rte_eal_init() for this machine's shape: no hugepages, no PCI, no shared
 * config, lcores 0 (main: the daemon's control thread, and ours) and 1 (the
 * worker), a file prefix unique to this process. Returns 0, or -1 with err. */
int ring_harness_eal_init(const char *prog, unsigned memory_mb, char *err, size_t err_len);

/* rte_eal_cleanup(), then removes the runtime directory EAL leaves behind
 * under its file prefix. */
void ring_harness_eal_cleanup(void);

/* Rings, both ports, the injection pool (its buffers big enough for the
 * largest corpus packet) and the stamp field. Returns 0, or -1 with err. */
int ring_harness_create(struct ring_harness *h, const struct bench_packets *corpus, char *err,
			size_t err_len);

/* Copies the next up-to-max corpus packets into mbufs, stamps them and
 * enqueues them on port A's RX ring. Returns how many were injected: fewer
 * when the ring or the pool is full. */
unsigned ring_harness_inject(struct ring_harness *h, unsigned max);

/* Dequeues up to max packets the worker sent (towards B, and towards A though
 * nothing should go that way), copies their stamps into stamps[], frees them,
 * and sets *now_tsc to the TSC right after the dequeue. Returns the count. */
unsigned ring_harness_receive(struct ring_harness *h, struct packet_stamp *stamps, unsigned max,
			      uint64_t *now_tsc);

/* Packets waiting on port A's RX ring for the worker. */
unsigned ring_harness_rx_backlog(const struct ring_harness *h);

#endif
