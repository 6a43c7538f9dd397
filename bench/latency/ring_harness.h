/* The benchmark's side of the wire: EAL, two net_ring ports the daemon runs
 * between, and the copying of corpus packets into and out of them.
 *
 * Port A's RX rings are where packets are injected; the worker forwards them
 * to port B, whose TX rings are the sink. Each port has one queue pair per
 * worker, one ring per queue and direction. Every injected corpus mbuf is a
 * fresh copy of a corpus packet carrying a stamp in a registered mbuf dynamic
 * field: the TSC when it was enqueued and which corpus packet it is. The
 * worker forwards the same mbuf, so the stamp comes back intact at the sink.
 *
 * Programs that build their own packets (the soak) use ring_harness_create_shaped()
 * and the rings and pool directly; the corpus functions below are for a
 * harness made by ring_harness_create().
 *
 * Contract: one thread enqueues on the RX rings and one thread dequeues from
 * the TX rings (the rings are single-producer, single-consumer on our side);
 * they may be the same thread, EAL or not. Injection never blocks: it takes
 * what the RX ring has room for.
 */
#ifndef SLUICE_BENCH_LATENCY_RING_HARNESS_H
#define SLUICE_BENCH_LATENCY_RING_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "corpus_reader.h"

struct rte_mempool;
struct rte_ring;

/* net_ring's own limit on queues per port. */
#define RING_HARNESS_MAX_QUEUES 16

/* --memory-mb of the programs that start EAL through ring_harness_eal_init():
 * an entry of their option tables (cli_options.h) for an unsigned member,
 * with the program's default as its help states it. */
#define RING_HARNESS_MEMORY_OPTION(type, member, default_text)                                     \
	{                                                                                          \
		.name = "memory-mb", .kind = CLI_UNSIGNED, CLI_FIELD(type, member), .min = 64,     \
		.max = 1u << 20, .value_name = "N",                                                \
		.help = "EAL memory without hugepages (default " default_text ")"                  \
	}

struct packet_stamp {
	uint64_t tsc;	       /* rte_rdtsc() just before the enqueue */
	uint32_t corpus_index; /* which corpus packet this is a copy of */
};

/* What ring_harness_create_shaped() builds. */
struct ring_harness_shape {
	unsigned queues;       /* queue pairs per port: one per worker */
	unsigned rx_ring_size; /* per queue, a power of two */
	unsigned tx_ring_size; /* per queue, a power of two */
	unsigned pool_mbufs;   /* the injection pool */
	uint32_t data_room;    /* packet bytes one injection mbuf holds */
};

struct ring_harness {
	struct rte_ring *rx_a[RING_HARNESS_MAX_QUEUES], *tx_a[RING_HARNESS_MAX_QUEUES];
	struct rte_ring *rx_b[RING_HARNESS_MAX_QUEUES], *tx_b[RING_HARNESS_MAX_QUEUES];
	unsigned queues;
	uint16_t port_a, port_b;
	struct rte_mempool *pool;
	int stamp_offset;
	const struct corpus_packets *corpus;
	uint32_t cursor; /* next corpus packet to inject; the corpus is cycled */
	uint64_t tsc_hz;
};

/* rte_eal_init() for this machine's shape: no hugepages, no PCI, no shared
 * config, lcore 0 (main: the daemon's control thread, and ours) and lcores 1
 * to workers (the workers), a file prefix unique to this process. Lcore i
 * runs on CPU i when the process may use that many CPUs (-l 0-N); otherwise
 * the lcores are laid round the CPUs it has (--lcores), and *placement, when
 * not NULL, says so. Returns 0, or -1 with err. */
int ring_harness_eal_init(const char *prog, unsigned workers, unsigned memory_mb, char *placement,
			  size_t placement_len, char *err, size_t err_len);

/* A CPU this process may use on which no lcore of a ring_harness_eal_init()
 * with this many workers runs: where the load thread (injector and collector)
 * gets a CPU of its own. -1 when every CPU has an lcore. */
int ring_harness_spare_cpu(unsigned workers);

/* rte_eal_cleanup(), then removes the runtime directory EAL leaves behind
 * under its file prefix. */
void ring_harness_eal_cleanup(void);

/* One queue pair per port, the rings of the latency benchmark, an injection
 * pool whose buffers fit the largest corpus packet, and the stamp field.
 * Returns 0, or -1 with err. */
int ring_harness_create(struct ring_harness *h, const struct corpus_packets *corpus, char *err,
			size_t err_len);

/* Rings, both ports and the injection pool as shape says; no stamp field and
 * no corpus. Returns 0, or -1 with err. */
int ring_harness_create_shaped(struct ring_harness *h, const struct ring_harness_shape *shape,
			       char *err, size_t err_len);

/* Copies the next up-to-max corpus packets into mbufs, stamps them and
 * enqueues them on port A's first RX ring. Returns how many were injected:
 * fewer when the ring or the pool is full. */
unsigned ring_harness_inject(struct ring_harness *h, unsigned max);

/* Dequeues up to max packets the worker sent (towards B, and towards A though
 * nothing should go that way), copies their stamps into stamps[], frees them,
 * and sets *now_tsc to the TSC right after the dequeue. Returns the count. */
unsigned ring_harness_receive(struct ring_harness *h, struct packet_stamp *stamps, unsigned max,
			      uint64_t *now_tsc);

/* Packets waiting on port A's RX rings for the workers. */
unsigned ring_harness_rx_backlog(const struct ring_harness *h);

#endif
