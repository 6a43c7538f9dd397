/* The scanner thread: a Sluice worker behind ordinary UDP sockets.
 *
 * Each pass receives up to SCANNER_BATCH datagrams with one recvmmsg() into
 * per-slot buffers, at the offset where a fixed synthetic Ethernet/IPv4/UDP
 * header (packet_build.h, IPv4 without UDP checksum: the kernel has already
 * checked it) ends, so a payload is never copied; writes that header in front
 * of it; binds the worker's struct sluice_packet_ctx to the generation and
 * hands the batch to sluice_burst_process(), the DPDK worker's own code; then
 * sends what is forwarded (possibly rewritten and shortened) with one
 * sendmmsg(). Removed datagrams are not sent. With process false (io_only) it
 * sends every datagram on as received: the kernel I/O ceiling.
 *
 * Datagrams arrive in the order the load thread sent them (one sender socket
 * pinned to one CPU, loopback), so the n-th one is payload n modulo the load's
 * count: that gives its frame count without decoding it, and a datagram of
 * another length is counted as misordered.
 *
 * Contract: scanner_init() allocates everything (scanner_free() frees it); the thread allocates
 * nothing, publishes its counters (run_shared.h) after every batch, and leaves its loop when
 * shared->stop is set, when a receive fails for a reason other than its timeout, or when
 * max_seconds have passed, whichever comes first.
 */
#ifndef SLUICE_BENCH_KERNEL_SCANNER_H
#define SLUICE_BENCH_KERNEL_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datagram_process.h"
#include "message_payloads.h"
#include "run_shared.h"

#define SCANNER_BATCH 64

struct scanner {
	/* Set by scanner_init(). */
	int rx_fd, tx_fd;
	const struct message_payloads *payloads;
	bool process;
	const struct sluice_generation *gen;
	uint16_t udp_port;
	int cpu;	    /* -1: unpinned */
	double max_seconds; /* bound on the loop, whatever the stop flag says */
	struct run_shared *shared;
	uint8_t *slots;
	size_t slot_size;

	/* The thread's own; the caller reads them after joining it. */
	struct sluice_worker_stats stats;
	struct sluice_packet_ctx ctx;
	uint64_t value[RUN_COUNTER_COUNT];
	uint64_t batches;
	uint64_t send_failures; /* datagrams a sendmmsg() refused (they count as lost) */
	bool failed;
	char err[256];
};

/* process false: io_only, and decoder, mode, gen and events are not used.
 * mode is set on the context as the daemon sets its workers' (--scan).
 * Returns 0, or -1 with err when out of memory. */
int scanner_init(struct scanner *s, int rx_fd, int tx_fd, const struct message_payloads *payloads,
		 bool process, const struct sluice_message_decoder *decoder,
		 enum sluice_scan_mode mode, const struct sluice_generation *gen,
		 struct sluice_event_ring *events, uint16_t udp_port, int cpu, double max_seconds,
		 struct run_shared *shared, char *err, size_t err_len);

/* The thread's body; arg is a struct scanner. */
void *scanner_main(void *arg);

void scanner_free(struct scanner *s);

#endif
