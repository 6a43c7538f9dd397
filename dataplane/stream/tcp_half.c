#include "tcp_half.h"

#include <string.h>

#include "inet_checksum.h"
#include "seq.h"
#include "wire_format.h"

int sluice_held_pool_init(struct sluice_held_pool *pool, uint32_t count,
			  const struct sluice_allocator *alloc)
{
	memset(pool, 0, sizeof(*pool));
	pool->alloc = alloc;
	if (count == 0 || count == SLUICE_HELD_NONE)
		return -1;
	pool->rec = sluice_zalloc(alloc, (size_t)count * sizeof(*pool->rec));
	if (pool->rec == NULL)
		return -1;
	for (uint32_t i = 0; i < count; i++)
		pool->rec[i].next = i + 1 < count ? i + 1 : SLUICE_HELD_NONE;
	pool->count = count;
	pool->free = count;
	pool->free_head = 0;
	return 0;
}

void sluice_held_pool_fini(struct sluice_held_pool *pool)
{
	if (pool->alloc != NULL)
		sluice_free(pool->alloc, pool->rec);
	memset(pool, 0, sizeof(*pool));
}

void sluice_tcp_half_init(struct sluice_tcp_half *h, uint32_t seq)
{
	memset(h, 0, sizeof(*h));
	sluice_store_init(&h->store, seq);
	h->released = seq;
	h->judged = seq;
	h->acked = seq;
	h->custody = seq;
	h->resent_from = seq;
	h->held_head = SLUICE_HELD_NONE;
	h->held_tail = SLUICE_HELD_NONE;
}

static uint32_t seg_end(const struct sluice_tcp_segment *seg)
{
	return seg->seq + seg->payload_len;
}

/* Whether a packet already held carries every byte of seg (and its FIN). */
static bool held_covers(const struct sluice_tcp_half *h, const struct sluice_held_pool *held,
			const struct sluice_tcp_segment *seg)
{
	for (uint32_t i = h->held_head; i != SLUICE_HELD_NONE; i = held->rec[i].next) {
		const struct sluice_tcp_segment *o = &held->rec[i].seg;
		if (sluice_seq_le(o->seq, seg->seq) && sluice_seq_le(seg_end(seg), seg_end(o)) &&
		    ((seg->flags & SLUICE_TCP_FIN) == 0 || (o->flags & SLUICE_TCP_FIN) != 0))
			return true;
	}
	return false;
}

/* Keeps the queue in sequence order; among equals, arrival order. */
static void hold(struct sluice_tcp_half *h, struct sluice_held_pool *held,
		 const struct sluice_tcp_segment *seg, uint64_t now, bool exact)
{
	uint32_t r = held->free_head;
	held->free_head = held->rec[r].next;
	held->free--;
	held->rec[r].seg = *seg;
	held->rec[r].since = now;
	held->rec[r].exact = exact;

	uint32_t prev = SLUICE_HELD_NONE, cur = h->held_head;
	while (cur != SLUICE_HELD_NONE && sluice_seq_le(held->rec[cur].seg.seq, seg->seq)) {
		prev = cur;
		cur = held->rec[cur].next;
	}
	held->rec[r].next = cur;
	if (prev == SLUICE_HELD_NONE)
		h->held_head = r;
	else
		held->rec[prev].next = r;
	if (cur == SLUICE_HELD_NONE)
		h->held_tail = r;
	h->held_count++;
	h->held_bytes += seg->payload_len;
}

static enum sluice_seg_refusal store_refusal(enum sluice_store_result r)
{
	switch (r) {
	case SLUICE_STORE_TOO_FAR:
		return SLUICE_SEG_FLOW_BYTES;
	case SLUICE_STORE_NO_MEMORY:
		return SLUICE_SEG_NO_MEMORY;
	case SLUICE_STORE_OOO_LIMIT:
		return SLUICE_SEG_OOO_LIMIT;
	case SLUICE_STORE_OK:
		break;
	}
	return SLUICE_SEG_OK;
}

enum sluice_seg_action sluice_tcp_half_accept(struct sluice_tcp_half *h,
					      struct sluice_chunk_pool *chunks,
					      struct sluice_held_pool *held,
					      const struct sluice_tcp_segment *seg,
					      uint32_t max_bytes, uint64_t now,
					      enum sluice_seg_refusal *why, uint32_t *conflicts)
{
	bool fin = (seg->flags & SLUICE_TCP_FIN) != 0;
	uint32_t end = seg_end(seg);

	*why = SLUICE_SEG_OK;
	if (seg->payload_len == 0 && !fin)
		return SLUICE_SEG_FORWARD;
	if (h->fin && sluice_seq_lt(h->fin_seq, end)) {
		*why = SLUICE_SEG_AFTER_FIN;
		return SLUICE_SEG_DROP;
	}
	/* All of it released before: a retransmission, rewritten from the
	 * store as the first copy was. */
	if (!fin && sluice_seq_le(end, h->released))
		return SLUICE_SEG_FORWARD;
	if (fin && h->fin_released && end == h->fin_seq)
		return SLUICE_SEG_FORWARD;
	if (held_covers(h, held, seg)) {
		*why = SLUICE_SEG_DUPLICATE;
		return SLUICE_SEG_DROP;
	}
	if (held->free == 0) {
		*why = SLUICE_SEG_NO_MEMORY;
		return SLUICE_SEG_DROP;
	}
	/* Judged bytes may carry Sluice's own rewrites: only bytes not judged
	 * yet can show a sender's conflicting copy. */
	const uint8_t *payload = seg->data + seg->payload_off;
	uint32_t from = sluice_seq_max(seg->seq, h->judged), differ = 0;
	if (conflicts != NULL && sluice_seq_lt(from, end))
		differ = sluice_store_differing(&h->store, chunks, from,
						payload + (from - seg->seq), end - from);
	/* In order with nothing stored beyond: the store takes exactly these
	 * bytes, so the packet needs writing at release only where a verdict
	 * rewrote them. */
	bool exact = sluice_seq_le(h->store.contig, seg->seq) && h->store.ooo_count == 0;
	enum sluice_store_result r = sluice_store_write(&h->store, chunks, seg->seq, payload,
							seg->payload_len, max_bytes, NULL);
	if (r == SLUICE_STORE_OK && conflicts != NULL)
		*conflicts += differ;
	if (r != SLUICE_STORE_OK) {
		*why = store_refusal(r);
		return SLUICE_SEG_DROP;
	}
	if (fin && !h->fin) {
		h->fin = true;
		h->fin_seq = end;
	}
	hold(h, held, seg, now, exact);
	return SLUICE_SEG_HELD;
}

uint32_t sluice_tcp_half_normalise(const struct sluice_tcp_half *h,
				   const struct sluice_chunk_pool *chunks,
				   const struct sluice_tcp_segment *seg)
{
	uint32_t old_sum = 0, new_sum = 0;
	uint32_t changed =
	    sluice_store_normalise(&h->store, chunks, seg->seq, seg->data + seg->payload_off,
				   seg->payload_len, &old_sum, &new_sum);
	if (changed > 0) {
		uint8_t *field = seg->data + seg->csum_off;
		uint16_t c = sluice_csum_update(sluice_be16_load(field), sluice_csum_fold(old_sum),
						sluice_csum_fold(new_sum));
		sluice_be16_store(field, c);
	}
	return changed;
}

static struct sluice_tcp_segment unlink_head(struct sluice_tcp_half *h,
					     struct sluice_held_pool *held)
{
	uint32_t r = h->held_head;
	struct sluice_tcp_segment seg = held->rec[r].seg;
	h->held_head = held->rec[r].next;
	if (h->held_head == SLUICE_HELD_NONE)
		h->held_tail = SLUICE_HELD_NONE;
	h->held_count--;
	h->held_bytes -= seg.payload_len;
	held->rec[r].next = held->free_head;
	held->free_head = r;
	held->free++;
	return seg;
}

uint32_t sluice_tcp_half_release(struct sluice_tcp_half *h, struct sluice_chunk_pool *chunks,
				 struct sluice_held_pool *held, struct sluice_tcp_segment *out,
				 uint32_t max)
{
	uint32_t n = 0;
	while (n < max && h->held_head != SLUICE_HELD_NONE) {
		const struct sluice_tcp_segment *seg = &held->rec[h->held_head].seg;
		uint32_t end = seg_end(seg);
		/* Judged bytes only; a FIN sits at the end of the stream, so it
		 * goes out after every byte before it. */
		if (!sluice_seq_le(end, h->judged))
			break;
		bool exact = held->rec[h->held_head].exact;
		out[n] = unlink_head(h, held);
		if (out[n].flags & SLUICE_TCP_FIN)
			h->fin_released = true;
		if (!exact || sluice_store_dirty(&h->store, out[n].seq, out[n].payload_len))
			sluice_tcp_half_normalise(h, chunks, &out[n]);
		h->released = sluice_seq_max(h->released, end);
		n++;
	}
	/* Once no held packet reaches into the rewritten range, none will: a
	 * packet held later with bytes there is not exact (they were present)
	 * and is always written from the store. Held packets are in sequence
	 * order, so the head decides. */
	if (h->store.dirty_start != h->store.dirty_end &&
	    (h->held_head == SLUICE_HELD_NONE ||
	     sluice_seq_le(h->store.dirty_end, held->rec[h->held_head].seg.seq)))
		h->store.dirty_start = h->store.dirty_end;
	return n;
}

void sluice_tcp_half_ack(struct sluice_tcp_half *h, struct sluice_chunk_pool *chunks, uint32_t ack)
{
	/* Nothing can be acknowledged that was not sent on. */
	uint32_t upto = sluice_seq_min(ack, h->released);
	if (!sluice_seq_lt(h->acked, upto))
		return;
	h->acked = upto;
	sluice_store_ack(&h->store, chunks, upto);
}

uint32_t sluice_tcp_half_take_custody(struct sluice_tcp_half *h)
{
	h->custody = sluice_seq_max(h->custody, h->store.contig);
	return h->custody;
}

bool sluice_tcp_half_owed(const struct sluice_tcp_half *h, uint32_t ack, uint32_t *from,
			  uint32_t *end)
{
	if (sluice_seq_lt(ack, h->acked))
		return false;
	*from = ack;
	*end = sluice_seq_min(h->custody, h->released);
	return sluice_seq_lt(*from, *end);
}

uint32_t sluice_tcp_half_drop_held(struct sluice_tcp_half *h, struct sluice_chunk_pool *chunks,
				   struct sluice_held_pool *held, struct sluice_tcp_segment *out,
				   uint32_t max)
{
	uint32_t n = 0;
	while (n < max && h->held_head != SLUICE_HELD_NONE)
		out[n++] = unlink_head(h, held);
	if (h->held_head == SLUICE_HELD_NONE)
		sluice_store_clear(&h->store, chunks);
	return n;
}

bool sluice_tcp_half_oldest(const struct sluice_tcp_half *h, const struct sluice_held_pool *held,
			    uint64_t *since)
{
	if (h->held_head == SLUICE_HELD_NONE)
		return false;
	uint64_t oldest = UINT64_MAX;
	for (uint32_t i = h->held_head; i != SLUICE_HELD_NONE; i = held->rec[i].next)
		if (held->rec[i].since < oldest)
			oldest = held->rec[i].since;
	*since = oldest;
	return true;
}
