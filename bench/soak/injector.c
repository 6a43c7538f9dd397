#include "injector.h"

#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "packet_build.h"
#include "soak_clock.h"
#include "wire_format.h"

#define TICK_S	   0.0002
#define MAX_DEBT_S 0.5
#define BURST	   32

void soak_injector_init(struct soak_injector *inj, struct ring_harness *harness,
			struct soak_ledger *ledger, double rate_msgs, uint16_t udp_port)
{
	memset(inj, 0, sizeof(*inj));
	inj->harness = harness;
	inj->ledger = ledger;
	inj->rate_msgs = rate_msgs;
	inj->udp_port = udp_port;
	atomic_init(&inj->stop, false);
	atomic_init(&inj->datagrams, 0);
	atomic_init(&inj->messages, 0);
}

/* What the daemon must do with one datagram, in the tally and the ledger. */
static void account(struct soak_injector *inj, const struct soak_shape *shape, uint64_t first_seq)
{
	struct soak_injected *t = &inj->tally;
	t->datagrams++;
	t->messages += shape->frames;
	if (shape->ipv6)
		t->ipv6++;
	else
		t->ipv4++;
	t->vlan += shape->vlan;
	t->no_udp_checksum += shape->no_udp_checksum;
	if (shape->bad_magic) {
		/* Nothing in it is scanned; one bad_input event for the datagram. */
		t->bad_magic_datagrams++;
		t->bad_magic_messages += shape->frames;
		t->expect_events++;
		for (unsigned i = 0; i < shape->frames; i++)
			soak_ledger_mark_absent(inj->ledger, first_seq + i);
		return;
	}
	unsigned kept = 0, blocked = 0;
	for (unsigned i = 0; i < shape->frames; i++) {
		uint64_t seq = first_seq + i;
		size_t index = soak_text_index_of(seq);
		const struct soak_text *text = soak_text_at(index);
		t->by_text[index]++;
		t->by_outcome[text->outcome]++;
		switch (text->outcome) {
		case SOAK_PASS:
			kept++;
			break;
		case SOAK_FLAG:
		case SOAK_MASK:
			kept++;
			t->expect_events += text->spans;
			break;
		case SOAK_BLOCK:
			blocked++;
			t->expect_events += text->spans;
			soak_ledger_mark_absent(inj->ledger, seq);
			break;
		default:
			t->expect_events++;
			soak_ledger_mark_absent(inj->ledger, seq);
			break;
		}
	}
	if (kept > 0)
		t->expect_out++;
	else if (blocked > 0)
		t->expect_removed++;
	else
		t->expect_dropped_utf8++;
}

/* Writes datagram `datagram` (its messages from first_seq) into m. */
static void build(struct soak_injector *inj, struct rte_mbuf *m, uint64_t datagram,
		  uint64_t first_seq, const struct soak_shape *shape)
{
	uint8_t payload[SOAK_PAYLOAD_CAP];
	size_t len = 0;
	for (unsigned i = 0; i < shape->frames; i++) {
		uint64_t seq = first_seq + i;
		const struct soak_text *text = soak_text_of(seq);
		struct sluice_wire_message msg = {
		    .msg_id = seq,
		    .channel_id = datagram,
		    .user_id = soak_user_id(seq, i, shape->frames),
		    .text = text->text,
		    .text_len = (uint16_t)strlen(text->text),
		};
		size_t at = len;
		/* soak_max_payload() was checked against SOAK_PAYLOAD_CAP, and the
		 * mbufs sized for it, at setup. */
		len += sluice_wire_frame_write(payload + len, sizeof(payload) - len, &msg);
		if (shape->bad_magic && i == shape->bad_frame)
			payload[at + SLUICE_WIRE_OFF_MAGIC] = 'X';
	}
	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, shape->ipv6);
	ep.vlan = shape->vlan;
	ep.vlan_id = shape->vlan_id;
	ep.no_udp_checksum = shape->no_udp_checksum;
	ep.dst_port = inj->udp_port;
	uint8_t *dst = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(SOAK_MAX_HEADERS + len));
	size_t total = sluice_udp_packet_build(dst, SOAK_MAX_HEADERS + len, &ep, payload, len);
	rte_pktmbuf_trim(m, (uint16_t)(SOAK_MAX_HEADERS + len - total));
}

/* Builds and enqueues up to `want` datagrams on queue q. Returns how many
 * messages they carried; *full when the ring or pool had no room. */
static uint64_t send_burst(struct soak_injector *inj, unsigned q, uint64_t want, bool *full)
{
	struct ring_harness *h = inj->harness;
	struct soak_injected *t = &inj->tally;
	unsigned n = rte_ring_free_count(h->rx_a[q]);
	n = n < BURST ? n : BURST;
	n = want < n ? (unsigned)want : n;
	if (n == 0) {
		t->ring_full++;
		*full = true;
		return 0;
	}
	struct rte_mbuf *burst[BURST];
	if (rte_pktmbuf_alloc_bulk(h->pool, burst, n) != 0) {
		t->pool_empty++;
		*full = true;
		return 0;
	}
	unsigned built = 0;
	uint64_t messages = 0;
	while (built < n) {
		uint64_t datagram = t->datagrams + 1;
		uint64_t first_seq = t->messages + 1;
		struct soak_shape shape;
		soak_shape_of(datagram, &shape);
		if (first_seq + shape.frames - 1 > inj->ledger->capacity) {
			t->capacity_reached = true;
			break;
		}
		build(inj, burst[built], datagram, first_seq, &shape);
		account(inj, &shape, first_seq);
		messages += shape.frames;
		built++;
	}
	if (built < n)
		rte_pktmbuf_free_bulk(burst + built, n - built);
	/* Single producer, and the room was counted above: all of them fit. */
	rte_ring_enqueue_burst(h->rx_a[q], (void **)burst, built, NULL);
	atomic_store_explicit(&inj->datagrams, t->datagrams, memory_order_release);
	atomic_store_explicit(&inj->messages, t->messages, memory_order_release);
	return messages;
}

void *soak_injector_main(void *arg)
{
	struct soak_injector *inj = arg;
	struct soak_injected *t = &inj->tally;
	unsigned queues = inj->harness->queues, next_queue = 0;
	double start = sluice_mono_s(), origin = start;
	uint64_t sent = 0;
	while (!atomic_load_explicit(&inj->stop, memory_order_relaxed) && !t->capacity_reached) {
		double now = sluice_mono_s();
		double due = (now - origin) * inj->rate_msgs;
		if (due - (double)sent > inj->rate_msgs * MAX_DEBT_S) {
			origin = now - (double)sent / inj->rate_msgs;
			due = (double)sent;
			t->debt_forgiven++;
		}
		bool full = false;
		while ((double)sent < due && !full && !t->capacity_reached) {
			/* Messages per datagram average 2: ask for datagrams enough. */
			uint64_t want = (uint64_t)((due - (double)sent) / 2) + 1;
			sent += send_burst(inj, next_queue, want, &full);
			next_queue = (next_queue + 1) % queues;
		}
		soak_nap(TICK_S);
	}
	t->seconds = sluice_mono_s() - start;
	return NULL;
}
