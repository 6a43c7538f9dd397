#include "worker.h"

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

/* Not _LGPL_SOURCE: the calls are once per burst, and the project is not LGPL. */
#include <urcu-qsbr.h>

/* Tries to hand a burst to a full TX queue before the rest is dropped. */
#define TX_RETRIES 64

static void send_burst(struct sluice_worker *w, unsigned out_idx, struct rte_mbuf **pkts,
		       uint16_t count)
{
	uint16_t sent = 0;
	for (unsigned tries = 0; sent < count && tries <= TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(w->ports[out_idx], w->queue, pkts + sent, count - sent);
	w->stats.tx_packets[out_idx] += sent;
	if (unlikely(sent < count)) {
		w->stats.tx_dropped[out_idx] += count - sent;
		rte_pktmbuf_free_bulk(pkts + sent, count - sent);
	}
}

static void *factory_alloc(void *arg, uint8_t **data, uint32_t cap)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(arg);
	if (m == NULL)
		return NULL;
	if (rte_pktmbuf_tailroom(m) < cap) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	*data = rte_pktmbuf_mtod(m, uint8_t *);
	return m;
}

static void factory_set_len(void *arg, void *pkt, uint32_t len)
{
	(void)arg;
	struct rte_mbuf *m = pkt;
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
}

void sluice_worker_packet_factory(struct sluice_packet_factory *f, struct rte_mempool *pool)
{
	f->alloc = factory_alloc;
	f->set_len = factory_set_len;
	f->arg = pool;
}

/* What the stream layer released or built this burst goes out in order, each
 * to its port; what it dropped is freed. */
static void stream_output(struct sluice_worker *w)
{
	struct sluice_stream_ctx *s = w->ctx.streams;
	struct rte_mbuf *out[2][SLUICE_MAX_BURST];
	uint16_t n[2] = {0, 0};
	for (uint32_t i = 0; i < s->tx_count; i++) {
		unsigned port = s->tx[i].out_port & 1;
		out[port][n[port]++] = s->tx[i].pkt;
		if (n[port] == SLUICE_MAX_BURST) {
			send_burst(w, port, out[port], n[port]);
			n[port] = 0;
		}
	}
	for (unsigned port = 0; port < 2; port++)
		if (n[port] > 0)
			send_burst(w, port, out[port], n[port]);
	if (s->drop_count > 0)
		rte_pktmbuf_free_bulk((struct rte_mbuf **)s->drop, s->drop_count);
	sluice_stream_burst_done(s);
}

/* The port's word on the packet's L4 checksum. RTE_MBUF_F_RX_L4_CKSUM_NONE
 * (the data is sound but the checksum field was never filled in, as virtio
 * may deliver) counts as unchecked: the field is what Sluice forwards and
 * adjusts, so it is verified as it is. */
static inline uint8_t rx_l4_of(const struct rte_mbuf *m)
{
	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
	return f == RTE_MBUF_F_RX_L4_CKSUM_GOOD	 ? SLUICE_RX_L4_GOOD
	       : f == RTE_MBUF_F_RX_L4_CKSUM_BAD ? SLUICE_RX_L4_BAD
						 : SLUICE_RX_L4_UNCHECKED;
}

static unsigned forward_burst(struct sluice_worker *w, unsigned in_idx)
{
	struct rte_mbuf *pkts[SLUICE_MAX_BURST], *tx[SLUICE_MAX_BURST], *drop[SLUICE_MAX_BURST];
	uint8_t *data[SLUICE_MAX_BURST];
	uint32_t lens[SLUICE_MAX_BURST];
	bool partial[SLUICE_MAX_BURST];
	uint8_t rx_l4[SLUICE_MAX_BURST];
	enum sluice_packet_fate fates[SLUICE_MAX_BURST];
	uint16_t n = rte_eth_rx_burst(w->ports[in_idx], w->queue, pkts, (uint16_t)w->burst);
	if (n == 0)
		return 0;

	uint16_t ntx = 0, ndrop = 0;
	w->stats.rx_packets[in_idx] += n;
	/* A rolling prefetch: the first packets' headers here, the rest
	 * SLUICE_PREFETCH_AHEAD packets ahead of the decoder (burst_process.c). */
	for (uint16_t i = 0; i < n && i < SLUICE_PREFETCH_AHEAD; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		data[i] = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		lens[i] = pkts[i]->data_len;
		partial[i] = pkts[i]->nb_segs != 1;
		rx_l4[i] = rx_l4_of(pkts[i]);
	}
	w->ctx.rx_l4 = rx_l4;
	sluice_burst_process_from(&w->ctx, (uint8_t)in_idx, (void *const *)pkts, data, lens,
				  partial, n, fates);
	w->ctx.rx_l4 = NULL;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		if (unlikely(fates[i] == SLUICE_FATE_STREAM))
			continue; /* the stream layer has it */
		if (unlikely(fates[i] != SLUICE_FATE_FORWARD)) {
			drop[ndrop++] = m;
			continue;
		}
		if (unlikely(lens[i] != m->data_len)) {
			/* Only a whole (one-segment) packet is ever rewritten. */
			m->data_len = (uint16_t)lens[i];
			m->pkt_len = lens[i];
		}
		tx[ntx++] = m;
	}
	if (ndrop > 0)
		rte_pktmbuf_free_bulk(drop, ndrop);
	if (ntx > 0)
		send_burst(w, in_idx ^ 1, tx, ntx);
	if (w->ctx.streams != NULL)
		stream_output(w);
	return n;
}

int sluice_worker_main(void *arg)
{
	struct sluice_worker *w = arg;
	uint64_t prev_start = rte_rdtsc(), last_rx = prev_start;

	rcu_register_thread();
	while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
		uint64_t start = rte_rdtsc();
		const struct sluice_generation *gen = rcu_dereference(*w->active);
		sluice_packet_ctx_bind(&w->ctx, gen, start);

		unsigned got = forward_burst(w, 0);
		got += forward_burst(w, 1);
		if (w->ctx.streams != NULL) {
			sluice_stream_expire(&w->ctx, start);
			stream_output(w);
		}
		/* The last read of gen: after the quiescent state it may be freed. */
		w->stats.generation = gen->seq;
		rcu_quiescent_state();

		uint64_t end = rte_rdtsc();
		if (end - start > w->stats.max_iteration_cycles)
			w->stats.max_iteration_cycles = end - start;
		if (start - prev_start > w->stats.max_gap_cycles)
			w->stats.max_gap_cycles = start - prev_start;
		prev_start = start;
		__atomic_store_n(&w->stats.iterations, w->stats.iterations + 1, __ATOMIC_RELAXED);
		if (got > 0) {
			last_rx = end;
			__atomic_store_n(&w->idle, false, __ATOMIC_RELAXED);
		} else if (w->idle_cycles != 0 && end - last_rx > w->idle_cycles) {
			__atomic_store_n(&w->idle, true, __ATOMIC_RELAXED);
		}
	}
	rcu_thread_offline();
	rcu_unregister_thread();
	return 0;
}
