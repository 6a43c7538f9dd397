#include "ring_harness.h"

#include <limits.h>
#include <sched.h>
#include <stdbool.h>
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

/* "-l 0-N" when CPUs 0 to N are ours, else an --lcores map round the CPUs we
 * have. Returns false when no CPU is ours at all. */
static bool lcore_layout(unsigned workers, char *flag, size_t flag_len, char *value,
			 size_t value_len, char *placement, size_t placement_len)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) == 0)
		return false;
	bool straight = true;
	for (unsigned i = 0; i <= workers; i++)
		straight = straight && i < CPU_SETSIZE && CPU_ISSET(i, &set);
	if (straight) {
		snprintf(flag, flag_len, "-l");
		snprintf(value, value_len, "0-%u", workers);
		snprintf(placement, placement_len, "-l 0-%u: lcore i on CPU i", workers);
		return true;
	}
	unsigned cpus[CPU_SETSIZE], ncpus = 0;
	for (unsigned c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set))
			cpus[ncpus++] = c;
	}
	size_t used = 0;
	value[0] = '\0';
	for (unsigned i = 0; i <= workers && used < value_len; i++)
		used += (size_t)snprintf(value + used, value_len - used, "%s%u@%u", i ? "," : "", i,
					 cpus[i % ncpus]);
	snprintf(flag, flag_len, "--lcores");
	snprintf(placement, placement_len, "--lcores %s: %u lcores on %u CPUs, so some share a CPU",
		 value, workers + 1, ncpus);
	return true;
}

int ring_harness_spare_cpu(unsigned workers)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	/* lcores take the first workers + 1 CPUs of the set, in order */
	unsigned seen = 0;
	for (unsigned c = 0; c < CPU_SETSIZE; c++) {
		if (CPU_ISSET(c, &set) && seen++ == workers + 1)
			return (int)c;
	}
	return -1;
}

int ring_harness_eal_init(const char *prog, unsigned workers, unsigned memory_mb, char *placement,
			  size_t placement_len, char *err, size_t err_len)
{
	char prefix[96], memory[16], lcore_flag[16], lcores[512], where[640];
	const char *base = strrchr(prog, '/');
	snprintf(prefix, sizeof(prefix), "%s-%d", base != NULL ? base + 1 : prog, (int)getpid());
	snprintf(memory, sizeof(memory), "%u", memory_mb);
	if (!lcore_layout(workers, lcore_flag, sizeof(lcore_flag), lcores, sizeof(lcores), where,
			  sizeof(where))) {
		snprintf(err, err_len, "cannot read the CPUs this process may use");
		return -1;
	}
	if (placement != NULL)
		snprintf(placement, placement_len, "%s", where);
	char *args[] = {(char *)prog,	 "--no-huge", "-m",	     memory,
			lcore_flag,	 lcores,      "--no-shconf", "--no-pci",
			"--file-prefix", prefix,      "--log-level", "*:warning",
			"--no-telemetry"};
	int argc = (int)(sizeof(args) / sizeof(args[0]));
	if (rte_eal_init(argc, args) < 0) {
		snprintf(err, err_len, "EAL init failed: %s (%s %s, %u MiB of memory)",
			 rte_strerror(rte_errno), lcore_flag, lcores, memory_mb);
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

static struct rte_ring *make_ring(const char *what, unsigned queue, unsigned size, char *err,
				  size_t err_len)
{
	char name[RTE_RING_NAMESIZE];
	snprintf(name, sizeof(name), "rh_%s%u", what, queue);
	struct rte_ring *r =
	    rte_ring_create(name, size, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	if (r == NULL)
		snprintf(err, err_len, "cannot create ring %s: %s", name, rte_strerror(rte_errno));
	return r;
}

static int make_port(const char *name, struct rte_ring **rx, struct rte_ring **tx, unsigned queues,
		     uint16_t *port, char *err, size_t err_len)
{
	int id = rte_eth_from_rings(name, rx, queues, tx, queues, rte_socket_id());
	if (id < 0) {
		snprintf(err, err_len, "cannot create net_ring port %s: %s", name,
			 rte_strerror(rte_errno));
		return -1;
	}
	*port = (uint16_t)id;
	return 0;
}

int ring_harness_create_shaped(struct ring_harness *h, const struct ring_harness_shape *shape,
			       char *err, size_t err_len)
{
	memset(h, 0, sizeof(*h));
	h->tsc_hz = rte_get_tsc_hz();
	h->stamp_offset = -1;
	if (shape->queues == 0 || shape->queues > RING_HARNESS_MAX_QUEUES) {
		snprintf(err, err_len, "%u queues per port: net_ring takes 1 to %u", shape->queues,
			 RING_HARNESS_MAX_QUEUES);
		return -1;
	}
	uint32_t room = shape->data_room + RTE_PKTMBUF_HEADROOM;
	if (room > UINT16_MAX) {
		snprintf(err, err_len, "a packet of %u bytes does not fit one mbuf",
			 shape->data_room);
		return -1;
	}
	h->queues = shape->queues;
	for (unsigned q = 0; q < h->queues; q++) {
		h->rx_a[q] = make_ring("rx_a", q, shape->rx_ring_size, err, err_len);
		h->tx_a[q] = make_ring("tx_a", q, shape->tx_ring_size, err, err_len);
		h->rx_b[q] = make_ring("rx_b", q, shape->rx_ring_size, err, err_len);
		h->tx_b[q] = make_ring("tx_b", q, shape->tx_ring_size, err, err_len);
		if (h->rx_a[q] == NULL || h->tx_a[q] == NULL || h->rx_b[q] == NULL ||
		    h->tx_b[q] == NULL)
			return -1;
	}
	if (make_port("ring_a", h->rx_a, h->tx_a, h->queues, &h->port_a, err, err_len) != 0 ||
	    make_port("ring_b", h->rx_b, h->tx_b, h->queues, &h->port_b, err, err_len) != 0)
		return -1;

	h->pool = rte_pktmbuf_pool_create("ring_inject", shape->pool_mbufs, POOL_CACHE, 0,
					  (uint16_t)room, (int)rte_socket_id());
	if (h->pool == NULL) {
		snprintf(err, err_len, "cannot create a pool of %u mbufs of %u bytes: %s",
			 shape->pool_mbufs, room, rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

int ring_harness_create(struct ring_harness *h, const struct corpus_packets *corpus, char *err,
			size_t err_len)
{
	uint32_t longest = 0;
	for (uint32_t i = 0; i < corpus->count; i++)
		longest = corpus->len[i] > longest ? corpus->len[i] : longest;
	struct ring_harness_shape shape = {
	    .queues = 1,
	    .rx_ring_size = RX_RING_SIZE,
	    .tx_ring_size = TX_RING_SIZE,
	    .pool_mbufs = POOL_MBUFS,
	    .data_room = longest + RTE_PKTMBUF_HEADROOM < RTE_MBUF_DEFAULT_BUF_SIZE
			     ? RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM
			     : longest,
	};
	if (ring_harness_create_shaped(h, &shape, err, err_len) != 0)
		return -1;
	h->corpus = corpus;

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
	return 0;
}

static struct packet_stamp *stamp_of(const struct ring_harness *h, struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, h->stamp_offset, struct packet_stamp *);
}

unsigned ring_harness_inject(struct ring_harness *h, unsigned max)
{
	unsigned n = rte_ring_free_count(h->rx_a[0]);
	n = n < max ? n : max;
	n = n < INJECT_MAX ? n : INJECT_MAX;
	if (n == 0)
		return 0;
	struct rte_mbuf *burst[INJECT_MAX];
	if (rte_pktmbuf_alloc_bulk(h->pool, burst, n) != 0)
		return 0;

	const struct corpus_packets *c = h->corpus;
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
	unsigned sent = rte_ring_enqueue_burst(h->rx_a[0], (void **)burst, n, NULL);
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
	unsigned n = 0;
	for (unsigned q = 0; q < h->queues && n < max; q++) {
		n += rte_ring_dequeue_burst(h->tx_b[q], (void **)(out + n), max - n, NULL);
		if (n < max)
			n += rte_ring_dequeue_burst(h->tx_a[q], (void **)(out + n), max - n, NULL);
	}
	*now_tsc = rte_rdtsc();
	for (unsigned i = 0; i < n; i++)
		stamps[i] = *stamp_of(h, out[i]);
	if (n > 0)
		rte_pktmbuf_free_bulk(out, n);
	return n;
}

unsigned ring_harness_rx_backlog(const struct ring_harness *h)
{
	unsigned n = 0;
	for (unsigned q = 0; q < h->queues; q++)
		n += rte_ring_count(h->rx_a[q]);
	return n;
}
