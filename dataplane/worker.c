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

static unsigned forward_burst(struct sluice_worker *w, unsigned in_idx)
{
	struct rte_mbuf *pkts[SLUICE_MAX_BURST], *tx[SLUICE_MAX_BURST], *drop[SLUICE_MAX_BURST];
	uint8_t *data[SLUICE_MAX_BURST];
	uint32_t lens[SLUICE_MAX_BURST];
	bool partial[SLUICE_MAX_BURST];
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
	}
	sluice_burst_process(&w->ctx, data, lens, partial, n, fates);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
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
