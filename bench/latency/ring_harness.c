#include "ring_harness.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

/* Port A's RX ring is the queue in front of the worker: deep enough that an
 * unpaced injector keeps it busy across the injector's own pauses, shallow
 * enough that overload shows as latency within milliseconds, not seconds. */
#define RX_RING_SIZE 4096
/* The sink shares a core with the injector and the control thread: its ring
 * absorbs the worker's output while the sink is descheduled, so that the
 * worker never finds it full and drops (tx_dropped would count as lost). */
#define TX_RING_SIZE 32768
#define POOL_MBUFS   (RX_RING_SIZE + TX_RING_SIZE / 2 - 1)
#define POOL_CACHE   256
#define INJECT_MAX   32

int ring_harness_eal_init(const char *prog, unsigned memory_mb, char *err, size_t err_len)
{
	char prefix[64], memory[16];
	snprintf(prefix, sizeof(prefix), "sluice-latency-%d", (int)getpid());
	snprintf(memory, sizeof(memory), "%u", memory_mb);
	char *args[] = {(char *)prog,	 "--no-huge",	"-m",
			memory,		 "-l",		"0-1",
			"--no-shconf",	 "--no-pci",	"--file-prefix",
			prefix,		 "--log-level", "*:warning",
			"--no-telemetry"};
	int argc = (int)(sizeof(args) / sizeof(args[0]));
	if (rte_eal_init(argc, args) < 0) {
		snprintf(err, err_len,
			 "EAL init failed: %s (needs 2 CPUs, 0 and 1, and %u MiB of memory)",
			 rte_strerror(rte_errno), memory_mb);
		return -1;
	}
	return 0;
}

void ring_harness_eal_cleanup(void)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	/* Empty once EAL has closed its files: a run leaves nothing behind. */
	if (dir[0] != '\0')
		rmdir(dir);
}

static struct rte_ring *make_ring(const char *name, unsigned size, char *err, size_t err_len)
{
	struct rte_ring *r =
	    rte_ring_create(name, size, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL)
		snprintf(err, err_len, "cannot create ring %s: %s", name, rte_strerror(rte_errno));
	return r;
}

static int make_port(const char *name, struct rte_ring **rx, struct rte_ring **tx, uint16_t *port,
		     char *err, size_t err_len)
{
	int id = rte_eth_from_rings(name, rx, 1, tx, 1, rte_socket_id());
	if (id < 0) {
		snprintf(err, err_len, "cannot create net_ring port %s: %s", name,
			 rte_strerror(rte_errno));
		return -1;
	}
	*port = (uint16_t)id;
	return 0;
}

int ring_harness_create(struct ring_harness *h, const struct bench_packets *corpus, char *err,
			size_t err_len)
{
	memset(h, 0, sizeof(*h));
	h->corpus = corpus;
	h->tsc_hz = rte_get_tsc_hz();

	uint32_t longest = 0;
	for (uint32_t i = 0; i < corpus->count; i++)
		longest = corpus->len[i] > longest ? corpus->len[i] : longest;
	uint32_t room = longest + RTE_PKTMBUF_HEADROOM;
	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	if (room > UINT16_MAX) {
		snprintf(err, err_len, "a corpus packet of %u bytes does not fit one mbuf",
			 longest);
		return -1;
	}

	static const struct rte_mbuf_dynfield stamp_field = {
	    .name = "sluice_latency_bench_stamp",
	    .size = sizeof(struct packet_stamp),
	    .align = __alignof__(struct packet_stamp),
	};
	h->stamp_offset = rte_mbuf_dynfield_register(&stamp_field);
	if (h->stamp_offset < 0) {
		snprintf(err, err_len, "cannot register the mbuf stamp field: %s",
			 rte_strerror(rte_errno));
		return -1;
	}

	h->rx_a = make_ring("lat_rx_a", RX_RING_SIZE, err, err_len);
	h->tx_a = h->rx_a ? make_ring("lat_tx_a", TX_RING_SIZE, err, err_len) : NULL;
	h->rx_b = h->tx_a ? make_ring("lat_rx_b", RX_RING_SIZE, err, err_len) : NULL;
	h->tx_b = h->rx_b ? make_ring("lat_tx_b", TX_RING_SIZE, err, err_len) : NULL;
	if (h->tx_b == NULL)
		return -1;
	if (make_port("lat_a", &h->rx_a, &h->tx_a, &h->port_a, err, err_len) != 0 ||
	    make_port("lat_b", &h->rx_b, &h->tx_b, &h->port_b, err, err_len) != 0)
		return -1;

	h->pool = rte_pktmbuf_pool_create("lat_inject", POOL_MBUFS, POOL_CACHE, 0, (uint16_t)room,
					  (int)rte_socket_id());
	if (h->pool == NULL) {
		snprintf(err, err_len, "cannot create a pool of %u mbufs of %u bytes: %s",
			 POOL_MBUFS, room, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static struct packet_stamp *stamp_of(const struct ring_harness *h, struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, h->stamp_offset, struct packet_stamp *);
}

unsigned ring_harness_inject(struct ring_harness *h, unsigned max)
{
	unsigned n = rte_ring_free_count(h->rx_a);
	n = n < max ? n : max;
	n = n < INJECT_MAX ? n : INJECT_MAX;
	if (n == 0)
		return 0;
	struct rte_mbuf *burst[INJECT_MAX];
	if (rte_pktmbuf_alloc_bulk(h->pool, burst, n) != 0)
		return 0;

	const struct bench_packets *c = h->corpus;
	uint32_t first = h->cursor;
	for (unsigned i = 0; i < n; i++) {
		uint32_t idx = (first + i) % c->count;
		char *dst = rte_pktmbuf_append(burst[i], (uint16_t)c->len[idx]);
		/* The pool's buffers were sized for the longest packet. */
		memcpy(dst, c->data + c->offset[idx], c->len[idx]);
		stamp_of(h, burst[i])->corpus_index = idx;
	}
	uint64_t now = rte_rdtsc();
	for (unsigned i = 0; i < n; i++)
		stamp_of(h, burst[i])->tsc = now;
	unsigned sent = rte_ring_enqueue_burst(h->rx_a, (void **)burst, n, NULL);
	if (sent < n)
		rte_pktmbuf_free_bulk(burst + sent, n - sent);
	h->cursor = (first + sent) % c->count;
	return sent;
}

unsigned ring_harness_receive(struct ring_harness *h, struct packet_stamp *stamps, unsigned max,
			      uint64_t *now_tsc)
{
	struct rte_mbuf *out[256];
	max = max < 256 ? max : 256;
	unsigned n = rte_ring_dequeue_burst(h->tx_b, (void **)out, max, NULL);
	if (n < max)
		n += rte_ring_dequeue_burst(h->tx_a, (void **)(out + n), max - n, NULL);
	*now_tsc = rte_rdtsc();
	for (unsigned i = 0; i < n; i++)
		stamps[i] = *stamp_of(h, out[i]);
	if (n > 0)
		rte_pktmbuf_free_bulk(out, n);
	return n;
}

unsigned ring_harness_rx_backlog(const struct ring_harness *h)
{
	return rte_ring_count(h->rx_a);
}
