#include "collector.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "soak_clock.h"
#include "wire_reader.h"

#define COLLECT_BURST 64
#define IDLE_NAP_S    0.0001
/* The injector's source port (sluice_endpoints_default()). */
#define SOURCE_PORT 40000

void soak_collector_init(struct soak_collector *c, struct ring_harness *harness,
			 struct soak_ledger *ledger, uint16_t udp_port)
{
	memset(c, 0, sizeof(*c));
	c->harness = harness;
	c->ledger = ledger;
	c->udp_port = udp_port;
	atomic_init(&c->stop, false);
	atomic_init(&c->packets, 0);
}

static void note(struct soak_collected *t, const char *fmt, ...)
{
	if (t->example_count >= SOAK_EXAMPLES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->examples[t->example_count++], SOAK_EXAMPLE_CHARS, fmt, ap);
	va_end(ap);
}

/* Why a forwarded message is not what its text must become, or NULL. */
static const char *judge_text(const struct soak_frame *f, const struct soak_text *text)
{
	if (!soak_outcome_forwarded(text->outcome))
		return text->outcome == SOAK_BLOCK ? "a blocked message came out"
						   : "a message with invalid UTF-8 came out";
	if (f->version != 1)
		return "the frame's version changed";
	if (f->reserved != 0)
		return "the frame's reserved field changed";
	if (f->flags != soak_expected_flags(text->outcome))
		return text->outcome == SOAK_PASS   ? "a clean message came out with flags set"
		       : text->outcome == SOAK_FLAG ? "a flagged message has the wrong flags"
						    : "a masked message has the wrong flags";
	const char *want = text->outcome == SOAK_MASK ? text->masked : text->text;
	size_t len = strlen(want);
	if (f->text_len != len)
		return "the text's length changed";
	if (memcmp(f->text, want, len) != 0)
		return text->outcome == SOAK_MASK
			   ? "the masked text differs from the expected bytes"
			   : "the text was changed";
	return NULL;
}

/* Where a datagram's messages are: its number, its frame count when sent,
 * the msg_id of its first frame, and the index of the last frame judged. */
struct place {
	uint64_t datagram;
	unsigned frames;
	uint64_t first_seq;
	int last_index;
};

/* Judges one message of a packet, against the place its first frame gave. */
static void judge_message(struct soak_collector *c, const struct soak_frame *f, struct place *at)
{
	struct soak_collected *t = &c->tally;
	uint64_t seq = f->msg_id;
	unsigned index, sent_frames;
	const char *why = NULL;
	const struct soak_text *text = NULL;
	if (seq == 0 || seq > c->ledger->capacity)
		why = "its msg_id was never sent";
	else if (!soak_user_id_split(f->user_id, seq, &index, &sent_frames))
		why = "its user_id does not belong to its msg_id";
	else if (f->channel_id != at->datagram || sent_frames != at->frames ||
		 index >= at->frames || (int)index <= at->last_index ||
		 seq != at->first_seq + index)
		why = "its frame is out of place (datagram, frame count or order changed)";
	if (why == NULL) {
		at->last_index = (int)index;
		text = soak_text_of(seq);
		why = judge_text(f, text);
	}
	if (why != NULL) {
		t->messages_wrong++;
		note(t, "msg %" PRIu64 " (%s) in datagram %" PRIu64 ": %s (flags 0x%02x, %u bytes)",
		     seq, text != NULL ? text->name : "?", at->datagram, why, f->flags,
		     f->text_len);
	} else {
		t->messages_correct++;
		t->by_outcome[text->outcome]++;
	}
	if (seq != 0 && seq <= c->ledger->capacity && !soak_ledger_mark_seen(c->ledger, seq)) {
		t->duplicates++;
		note(t, "msg %" PRIu64 " came out a second time", seq);
	}
}

static void malformed(struct soak_collected *t, const char *why)
{
	t->packets_malformed++;
	note(t, "a packet out of port B: %s", why);
}

static void judge_packet(struct soak_collector *c, const uint8_t *pkt, uint32_t len)
{
	struct soak_collected *t = &c->tally;
	struct soak_packet p;
	const char *why = soak_packet_read(pkt, len, &p);
	if (why != NULL) {
		malformed(t, why);
		return;
	}
	if (p.dst_port != c->udp_port || p.src_port != SOURCE_PORT) {
		malformed(t, "its UDP ports changed");
		return;
	}
	struct soak_frame frames[SOAK_MAX_FRAMES];
	int n = soak_frames_read(p.payload, p.payload_len, frames, SOAK_MAX_FRAMES, &why);
	if (n < 0) {
		malformed(t, why);
		return;
	}
	/* The first frame names the datagram; judge_message() holds the rest to it. */
	uint64_t datagram = frames[0].channel_id;
	struct soak_shape shape;
	soak_shape_of(datagram, &shape);
	if (shape.bad_magic) {
		malformed(t, "a datagram with a broken frame came out");
		return;
	}
	if (shape.ipv6 != p.ipv6 || shape.vlan != p.vlan ||
	    (shape.vlan && shape.vlan_id != p.vlan_id) ||
	    shape.no_udp_checksum != p.udp_checksum_zero) {
		malformed(t, "its headers are not the ones it was sent with");
		return;
	}
	struct place at = {.datagram = datagram, .frames = shape.frames, .last_index = -1};
	unsigned first_index, first_frames;
	if (soak_user_id_split(frames[0].user_id, frames[0].msg_id, &first_index, &first_frames) &&
	    first_index < frames[0].msg_id)
		at.first_seq = frames[0].msg_id - first_index;
	bool changed = (unsigned)n < shape.frames;
	for (int i = 0; i < n; i++) {
		judge_message(c, &frames[i], &at);
		changed = changed || frames[i].flags != 0;
	}
	if (changed) {
		t->changed_ipv4 += !p.ipv6;
		t->changed_ipv6 += p.ipv6;
		t->changed_vlan += p.vlan;
		t->changed_no_checksum += p.udp_checksum_zero;
	}
}

/* One look at every TX ring; returns the packets taken. */
static unsigned collect(struct soak_collector *c)
{
	struct ring_harness *h = c->harness;
	struct soak_collected *t = &c->tally;
	struct rte_mbuf *burst[COLLECT_BURST];
	unsigned total = 0;
	for (unsigned q = 0; q < h->queues; q++) {
		unsigned n =
		    rte_ring_dequeue_burst(h->tx_b[q], (void **)burst, COLLECT_BURST, NULL);
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = burst[i];
			if (m->nb_segs != 1)
				malformed(t, "it came out in several segments");
			else
				judge_packet(c, rte_pktmbuf_mtod(m, const uint8_t *),
					     rte_pktmbuf_data_len(m));
		}
		t->packets += n;
		total += n;
		if (n > 0)
			rte_pktmbuf_free_bulk(burst, n);
		n = rte_ring_dequeue_burst(h->tx_a[q], (void **)burst, COLLECT_BURST, NULL);
		if (n > 0) {
			t->packets_wrong_side += n;
			note(t, "%u packet(s) came out of port A, back towards the sender", n);
			rte_pktmbuf_free_bulk(burst, n);
		}
		total += n;
	}
	atomic_store_explicit(&c->packets, t->packets + t->packets_wrong_side,
			      memory_order_release);
	return total;
}

void *soak_collector_main(void *arg)
{
	struct soak_collector *c = arg;
	while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
		if (collect(c) == 0)
			soak_nap(IDLE_NAP_S);
	}
	/* Whatever arrived between the last look and the stop. */
	while (collect(c) > 0)
		;
	return NULL;
}
