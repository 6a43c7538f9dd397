/* Custody of held bytes (tcp_half.h, "Custody"): the ACKs Sluice sends a
 * stuck sender in the receiver's name, the bytes it then resends to the
 * receiver from the store, and the receiver's ACKs it raises on their way to
 * the sender. docs/streams.md, "A segment lost behind a held one".
 */
#include <string.h>

#include "datagram_process_internal.h"
#include "inet_checksum.h"
#include "packet_build.h"
#include "seq.h"
#include "stream_process_internal.h"
#include "wire_format.h"

/* The most Sluice resends in one segment (below every MSS in use). */
#define SLUICE_RESEND_MAX 1400u

/* A segment of Sluice's own, built from seg's headers, back to seg's sender. */
static bool send_reply(struct sluice_stream_ctx *s, const struct sluice_tcp_segment *seg,
		       const struct sluice_tcp_reply *r)
{
	if (s->factory.alloc == NULL)
		return false;
	uint8_t *data;
	uint32_t cap = seg->payload_off + 64u + r->payload_len;
	void *pkt = s->factory.alloc(s->factory.arg, &data, cap);
	if (pkt == NULL)
		return false;
	size_t len = sluice_tcp_reply_build(data, cap, seg->data, seg->l3_off,
					    (uint32_t)seg->csum_off - 16, seg->ipv6, r);
	if (len == 0) {
		sluice_stream_drop_pkt(s, pkt);
		return false;
	}
	s->factory.set_len(s->factory.arg, pkt, (uint32_t)len);
	sluice_stream_send(s, pkt, seg->out_port ^ 1);
	return true;
}

/* The sender keeps retransmitting a segment Sluice holds: the message it
 * starts waits for a later segment that was lost before Sluice, the receiver
 * has none of the message to acknowledge or SACK, and a sender on its
 * retransmission timer resends only its oldest unacknowledged segment.
 * Sluice acknowledges the bytes it holds in order, in the receiver's name,
 * and owes their delivery from then on (tcp_half.h, "Custody"); SACK blocks
 * name the bytes it holds beyond a gap. The sender then sends what follows. */
void sluice_stream_custody_ack(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			       const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	struct sluice_tcp_half *h = &f->half[side];
	uint32_t before = sluice_seq_max(h->custody, h->acked);
	struct sluice_tcp_reply r = {
	    .seq = f->half[side ^ 1].released,
	    .ack = sluice_tcp_half_take_custody(h),
	    .window = f->window[side ^ 1],
	    .timestamps = f->timestamps,
	    .tsval = f->tsval[side ^ 1],
	    .tsecr = f->tsval[side],
	};
	if (f->sack_permitted[0] && f->sack_permitted[1])
		for (uint32_t i = 0; i < h->store.ooo_count && r.sack_count < 3; i++) {
			r.sack[r.sack_count][0] = h->store.ooo[i].start;
			r.sack[r.sack_count++][1] = h->store.ooo[i].end;
		}
	if (r.ack == h->acked && r.sack_count == 0)
		return;
	if (send_reply(s, seg, &r)) {
		ctx->stats->stream.custody_acks++;
		ctx->stats->stream.custody_bytes += r.ack - before;
	}
}

/* The receiver (the sender of seg) acknowledged less than Sluice did in its
 * name, and says so again or reports a hole with SACK: Sluice resends the
 * first segment's worth of what it owes, from the store (rewritten bytes,
 * as first released). The same bytes go again only after resend_gap. */
void sluice_stream_custody_resend(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t receiver,
				  const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	struct sluice_tcp_half *h = &f->half[receiver ^ 1];
	bool dup = seg->ack == h->acked && seg->payload_len == 0;
	uint32_t from, end;
	if (!(dup || seg->sack_blocks > 0) || !sluice_tcp_half_owed(h, seg->ack, &from, &end))
		return;
	if (from == h->resent_from && ctx->burst_tsc - h->resent_at < s->cfg->resend_gap)
		return;
	uint8_t bytes[SLUICE_RESEND_MAX];
	uint32_t most = f->mss[receiver] ? f->mss[receiver] : 536;
	if (f->timestamps)
		most -= 12;
	most = most < SLUICE_RESEND_MAX ? most : SLUICE_RESEND_MAX;
	uint32_t len = end - from < most ? end - from : most;
	sluice_store_read(&h->store, &s->chunks, from, bytes, len);
	struct sluice_tcp_reply r = {
	    .seq = from,
	    .ack = f->last_ack[receiver ^ 1],
	    .window = f->window[receiver ^ 1],
	    .timestamps = f->timestamps,
	    .tsval = f->tsval[receiver ^ 1],
	    .tsecr = f->tsval[receiver],
	    .payload = bytes,
	    .payload_len = len,
	};
	if (send_reply(s, seg, &r)) {
		h->resent_from = from;
		h->resent_at = ctx->burst_tsc;
		ctx->stats->stream.custody_resends++;
	}
}

/* A segment from the receiver of bytes in custody acknowledges less than the
 * sender was told: its ACK is raised to the custody point, and its window
 * lowered by as much, so the sender neither reads it as old (and ignores
 * its window) nor sends past the receiver's window. */
void sluice_stream_raise_ack(struct sluice_packet_ctx *ctx, const struct sluice_tcp_flow *f,
			     uint8_t receiver, const struct sluice_tcp_segment *seg)
{
	const struct sluice_tcp_half *h = &f->half[receiver ^ 1];
	if (!(seg->flags & SLUICE_TCP_ACK) || !sluice_tcp_half_in_custody(h))
		return;
	/* What the packet says now: a held packet was raised on arrival and
	 * needs it again at release only if custody moved on since. */
	uint8_t *tcp = seg->data + seg->csum_off - 16;
	uint32_t old_ack = sluice_be32_load(tcp + 8);
	if (!sluice_seq_lt(old_ack, h->custody))
		return;
	uint32_t raise = h->custody - old_ack;
	uint16_t old_win = sluice_be16_load(tcp + 14);
	uint8_t shift = sluice_stream_window_shift(f, receiver);
	uint32_t lower = (raise + (1u << shift) - 1) >> shift;
	uint16_t win = old_win > lower ? (uint16_t)(old_win - lower) : 0;
	uint32_t old_sum = (old_ack >> 16) + (old_ack & 0xffff) + old_win;
	uint32_t new_sum = (h->custody >> 16) + (h->custody & 0xffff) + win;
	sluice_be32_store(tcp + 8, h->custody);
	sluice_be16_store(tcp + 14, win);
	uint16_t c = sluice_csum_update(sluice_be16_load(tcp + 16), sluice_csum_fold(old_sum),
					sluice_csum_fold(new_sum));
	sluice_be16_store(tcp + 16, c);
	ctx->stats->stream.acks_raised++;
}
