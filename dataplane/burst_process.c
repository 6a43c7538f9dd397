/* Batch scanning across a burst: the messages of many datagrams go to
 * Hyperscan together (scan/batch_scan.h), then each frame's verdict is applied
 * and each datagram settled by the per-packet code
 * (datagram_process_internal.h), so a packet's outcome is the same as if it
 * had been processed alone.
 *
 * A burst is worked through in rounds. Datagrams are decoded and their
 * frames' texts queued in the batch (by reference, proved UTF-8 by the batch
 * in its fold; or copied, and proved UTF-8 on the way); before a datagram that
 * would not fit (in the batch or the tables of pending frames), the round is
 * closed: the batch is scanned once per pack, every pending frame's verdict is
 * applied and every pending datagram settled, in order. A whole datagram
 * always fits an empty round, so no datagram is ever split across two, and a
 * round is resolved in one pass. Normal bursts (32 packets of a few frames)
 * take one round. One copy of the texts serves the main and the urgent pack.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "datagram_process.h"
#include "datagram_process_internal.h"
#include "stream_process.h"
#include "wire_format.h"

#define PENDING_FRAMES	512
#define PENDING_PACKETS 256

/* A whole datagram fits an empty round: its texts with their separators are
 * shorter than its payload (each frame has a 32-byte header), and it has at
 * most SLUICE_MAX_FRAMES frames. */
_Static_assert(SLUICE_BATCH_BYTES >= UINT16_MAX + 1, "a datagram's texts must fit an empty batch");
_Static_assert(SLUICE_BATCH_MESSAGES >= SLUICE_MAX_FRAMES, "a datagram's frames must fit a batch");
_Static_assert(PENDING_FRAMES >= SLUICE_MAX_FRAMES, "a datagram's frames must fit");

struct pending_packet {
	uint32_t index; /* in the burst */
	uint32_t first; /* its frames: frames[first, first + count) */
	uint32_t count;
	bool bad;		   /* bad input as a whole: reported, then dropped */
	uint8_t bad_reason;	   /* enum sluice_bad_reason */
	const uint8_t *bad_header; /* frame the bad-input event names, or NULL */
	struct sluice_packet_view view;
	struct sluice_rewrite rw;
};

/* A frame's state between being queued and being resolved. */
enum frame_state {
	FRAME_QUEUED = 0,      /* in the batch */
	FRAME_QUEUED_REPAIRED, /* in the batch; invalid_utf8 (replace) to report first */
	FRAME_INVALID,	       /* invalid_utf8 to report; bad input */
};

/* Events come out in packet and frame order, as the per-packet path emits
 * them: everything is reported when its round is resolved, in order. */
struct sluice_burst_state {
	struct sluice_batch texts;
	struct sluice_batch_results main, urgent;
	uint32_t packets, frame_count;
	/* Of the round: bad datagrams and frames not plainly queued (invalid
	 * or repaired), and the bytes of the queued frames' texts. */
	uint32_t irregular;
	uint64_t text_bytes;
	struct pending_packet packet[PENDING_PACKETS];
	struct sluice_frame_ref frames[PENDING_FRAMES];
	uint8_t state[PENDING_FRAMES];		 /* enum frame_state */
	uint8_t outcome[PENDING_FRAMES];	 /* enum sluice_frame_outcome, once resolved */
	uint16_t batch_index[PENDING_FRAMES];	 /* while queued */
	uint32_t invalid[SLUICE_BATCH_MESSAGES]; /* texts by reference the batch's check refused */
};

static void burst_state_free(const struct sluice_allocator *alloc, struct sluice_burst_state *b)
{
	sluice_batch_free(&b->texts);
	sluice_batch_results_free(&b->main);
	sluice_batch_results_free(&b->urgent);
	sluice_free(alloc, b);
}

int sluice_packet_ctx_set_scan_mode(struct sluice_packet_ctx *ctx, enum sluice_scan_mode mode)
{
	sluice_packet_ctx_fini(ctx);
	const struct sluice_allocator *a = ctx->alloc;
	if (sluice_norm_space_init(&ctx->norm, UINT16_MAX, a) != 0)
		return -1;
	ctx->match_set.norm = &ctx->norm;
	ctx->urgent_set.norm = &ctx->norm;
	if (mode == SLUICE_SCAN_MESSAGE)
		return 0;
	struct sluice_burst_state *b = sluice_zalloc(a, sizeof(*b));
	if (b == NULL)
		return -1;
	if (sluice_batch_init(&b->texts, SLUICE_BATCH_MESSAGES, SLUICE_BATCH_BYTES, a) != 0 ||
	    sluice_batch_results_init(&b->main, SLUICE_BATCH_MESSAGES, SLUICE_MAX_MATCHES, a) !=
		0 ||
	    sluice_batch_results_init(&b->urgent, SLUICE_BATCH_MESSAGES, SLUICE_MAX_MATCHES, a) !=
		0) {
		burst_state_free(a, b);
		return -1;
	}
	ctx->burst = b;
	return 0;
}

void sluice_packet_ctx_fini(struct sluice_packet_ctx *ctx)
{
	ctx->match_set.norm = NULL;
	ctx->urgent_set.norm = NULL;
	sluice_norm_space_free(&ctx->norm);
	if (ctx->burst == NULL)
		return;
	burst_state_free(ctx->alloc, ctx->burst);
	ctx->burst = NULL;
}

/* Texts by reference are checked by the batch, in the fold's pass over them
 * (batch_scan.h), not by the gate when they are queued. The few it refuses
 * go through the gate now, as they would have then: repaired in place, or
 * their frame is bad input. Events still come out in order, when the round
 * is resolved. */
static void check_texts(struct sluice_packet_ctx *ctx, uint8_t *const pkts[])
{
	struct sluice_burst_state *b = ctx->burst;
	uint32_t n = sluice_batch_check(&b->texts, ctx->match_set.pack, b->invalid);
	uint32_t next = 0;
	for (uint32_t p = 0; p < b->packets && next < n; p++) {
		struct pending_packet *pp = &b->packet[p];
		if (pp->bad)
			continue;
		for (uint32_t f = pp->first; f < pp->first + pp->count && next < n; f++) {
			if (b->state[f] == FRAME_INVALID || b->batch_index[f] != b->invalid[next])
				continue;
			uint32_t k = b->invalid[next++];
			bool ascii;
			if (sluice_frame_text_check(ctx, pkts[pp->index], &pp->view, &b->frames[f],
						    &pp->rw, &ascii) == SLUICE_TEXT_BAD) {
				b->state[f] = FRAME_INVALID;
				sluice_batch_drop(&b->texts, k);
			} else {
				b->state[f] = FRAME_QUEUED_REPAIRED;
				sluice_batch_repaired(&b->texts, k);
			}
			b->irregular++;
		}
	}
}

static void empty_round(struct sluice_burst_state *b)
{
	b->packets = 0;
	b->frame_count = 0;
	b->irregular = 0;
	b->text_bytes = 0;
	sluice_batch_reset(&b->texts);
}

/* Scans the round's texts with each pack, reports and applies every pending
 * frame's verdict and settles every pending datagram, in order; then empties
 * the round. */
static void close_round(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t lens[],
			enum sluice_packet_fate fates[])
{
	struct sluice_burst_state *b = ctx->burst;
	bool with_urgent = ctx->urgent_scratch != NULL;
	hs_error_t rc = HS_SUCCESS;
	uint64_t unacted = 0, unacted_bytes = 0;

	/* A pack not scanned below (no texts, no urgent pack, a failed scan
	 * before it) began nothing. */
	b->main.begun_count = 0;
	b->urgent.begun_count = 0;
	if (b->texts.count > 0) {
		b->texts.fold_shared = ctx->fold_shared;
		if (ctx->texts_by_ref)
			check_texts(ctx, pkts);
		rc = sluice_batch_scan(ctx->match_set.pack, ctx->scratch, &b->texts, &b->main,
				       ctx->match_set.disabled, 0);
		if (with_urgent && rc == HS_SUCCESS)
			rc = sluice_batch_scan(ctx->urgent_set.pack, ctx->urgent_scratch, &b->texts,
					       &b->urgent, ctx->urgent_set.disabled, 0);
	}
	/* A round in which no report reached any message, with nothing bad in
	 * it (most rounds of most traffic): every frame is kept and every
	 * datagram forwarded as it came, nothing to report or rewrite. */
	if (rc == HS_SUCCESS && b->irregular == 0 && b->main.begun_count == 0 &&
	    b->urgent.begun_count == 0) {
		for (uint32_t i = 0; i < b->packets; i++)
			fates[b->packet[i].index] = SLUICE_FATE_FORWARD;
		sluice_count_unacted(ctx->stats, b->frame_count, b->text_bytes);
		empty_round(b);
		return;
	}
	for (uint32_t i = 0; i < b->packets; i++) {
		struct pending_packet *p = &b->packet[i];
		if (p->bad) {
			sluice_report_bad(ctx, (enum sluice_bad_reason)p->bad_reason, p->bad_header,
					  pkts[p->index], lens[p->index], &p->view);
			ctx->stats->datagrams_dropped_bad++;
			fates[p->index] = SLUICE_FATE_DROP_BAD;
			continue;
		}
		uint8_t *pkt = pkts[p->index];
		uint32_t removed = 0;
		for (uint32_t f = p->first; f < p->first + p->count; f++) {
			if (b->state[f] != FRAME_QUEUED)
				sluice_report_bad(ctx, SLUICE_BAD_INVALID_UTF8,
						  pkt + b->frames[f].offset, pkt, lens[p->index],
						  &p->view);
			if (b->state[f] == FRAME_INVALID) {
				b->outcome[f] = SLUICE_FRAME_BAD;
				removed++;
				continue;
			}
			uint32_t k = b->batch_index[f];
			const struct sluice_match_set *set = sluice_batch_result(&b->main, k);
			const struct sluice_match_set *urgent =
			    with_urgent ? sluice_batch_result(&b->urgent, k) : NULL;
			/* Counted once for the round, not frame by frame. */
			if (sluice_frame_unacted(set, urgent, rc)) {
				unacted++;
				unacted_bytes += b->frames[f].text_len;
				b->outcome[f] = SLUICE_FRAME_KEPT;
				continue;
			}
			b->outcome[f] = (uint8_t)sluice_frame_verdict(
			    ctx, pkt, &p->view, &b->frames[f], set, urgent, rc, &p->rw);
			removed += b->outcome[f] != SLUICE_FRAME_KEPT;
		}
		/* Settling a datagram that keeps every frame as it came would
		 * only say so. */
		if (removed == 0 && !p->rw.changed)
			fates[p->index] = SLUICE_FATE_FORWARD;
		else
			fates[p->index] = sluice_datagram_settle(
			    ctx, pkt, &lens[p->index], &p->view, &b->frames[p->first],
			    &b->outcome[p->first], p->count, &p->rw);
	}
	sluice_count_unacted(ctx->stats, unacted, unacted_bytes);
	empty_round(b);
}

/* Whether a datagram of these frames still fits the round. */
static bool datagram_fits(const struct sluice_burst_state *b, const struct sluice_decoded *d)
{
	if (b->packets == PENDING_PACKETS || b->frame_count + d->frame_count > PENDING_FRAMES ||
	    b->texts.count + d->frame_count > b->texts.cap)
		return false;
	size_t bytes = 0;
	for (uint32_t f = 0; f < d->frame_count; f++)
		bytes += (size_t)d->frames[f].text_len + 1;
	return b->texts.used + bytes <= b->texts.buf_cap;
}

/* Queues frame f's text (of pending packet p, as decoded: frame) for the
 * scan: by reference, to be checked by the batch in its fold, or copied and
 * checked on the way. */
static void queue_frame(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t p,
			uint32_t f, const struct sluice_frame_ref *frame)
{
	struct sluice_burst_state *b = ctx->burst;
	struct pending_packet *pp = &b->packet[p];
	uint8_t *pkt = pkts[pp->index];

	const char *text = (const char *)pkt + frame->offset + SLUICE_WIRE_HEADER_LEN;
	if (ctx->texts_by_ref) {
		/* Read where it is: nothing changes it before the round's
		 * scans (verdicts come after them), and the batch checks it
		 * (check_texts()). */
		b->state[f] = FRAME_QUEUED;
		b->batch_index[f] =
		    (uint16_t)sluice_batch_add_ref(&b->texts, text, frame->text_len);
		return;
	}
	/* Copied, and checked as it is copied: only a text that is not UTF-8
	 * goes through the gate, to be repaired in place (and copied then) or
	 * refused. */
	int32_t k = sluice_batch_add_checked(&b->texts, text, frame->text_len);
	b->state[f] = FRAME_QUEUED;
	if (k == SLUICE_BATCH_INVALID) {
		bool ascii;
		b->irregular++;
		if (sluice_frame_text_check(ctx, pkt, &pp->view, frame, &pp->rw, &ascii) ==
		    SLUICE_TEXT_BAD) {
			b->state[f] = FRAME_INVALID;
			return;
		}
		b->state[f] = FRAME_QUEUED_REPAIRED;
		k = sluice_batch_add(&b->texts, text, frame->text_len);
	}
	b->batch_index[f] = (uint16_t)k;
}

void sluice_burst_process(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t lens[],
			  const bool *partial, uint16_t n, enum sluice_packet_fate fates[])
{
	sluice_burst_process_from(ctx, 0, NULL, pkts, lens, partial, n, fates);
}

/* What packet i's port found of its L4 checksum. */
static inline enum sluice_rx_l4 rx_l4_at(const struct sluice_packet_ctx *ctx, uint16_t i)
{
	return ctx->rx_l4 != NULL ? (enum sluice_rx_l4)ctx->rx_l4[i] : SLUICE_RX_L4_UNCHECKED;
}

void sluice_burst_process_from(struct sluice_packet_ctx *ctx, uint8_t in_port,
			       void *const handles[], uint8_t *const pkts[], uint32_t lens[],
			       const bool *partial, uint16_t n, enum sluice_packet_fate fates[])
{
	struct sluice_burst_state *b = ctx->burst;

	if (b == NULL) {
		for (uint16_t i = 0; i < n; i++)
			fates[i] = partial != NULL && partial[i]
				       ? sluice_packet_process_segmented(ctx, pkts[i], lens[i])
				       : sluice_packet_process_from(
					     ctx, handles ? handles[i] : NULL, in_port,
					     rx_l4_at(ctx, i), pkts[i], &lens[i]);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		if (i + SLUICE_PREFETCH_AHEAD < n)
			__builtin_prefetch(pkts[i + SLUICE_PREFETCH_AHEAD]);
		struct sluice_decoded *d = &ctx->decoded;
		enum sluice_bad_reason why;
		enum sluice_pkt_class cls =
		    sluice_udp_frames_decode(ctx->decoder, pkts[i], lens[i], d, &why);

		if (cls == SLUICE_PKT_STREAM && ctx->streams != NULL &&
		    !(partial != NULL && partial[i])) {
			sluice_stream_segment(ctx, handles ? handles[i] : pkts[i], pkts[i],
					      &d->view, in_port, rx_l4_at(ctx, i));
			fates[i] = SLUICE_FATE_STREAM;
			continue;
		}
		if (cls == SLUICE_PKT_OTHER || (cls == SLUICE_PKT_STREAM && ctx->streams == NULL)) {
			ctx->stats->other_forwarded++;
			fates[i] = SLUICE_FATE_FORWARD;
			continue;
		}
		/* A chat segment that gets here is refused, for its lengths
		 * (bad input) or for coming in several buffers: no datagram. */
		bool chained = partial != NULL && partial[i];
		if (!d->view.tcp)
			ctx->stats->datagrams++;
		else if (chained)
			sluice_stream_count_drop(&ctx->stats->stream, SLUICE_STREAM_MULTI_SEGMENT);
		if (chained) {
			/* Only its first segment is here: forwarded if it is not
			 * for the message port (above), otherwise bad input. */
			cls = SLUICE_PKT_BAD;
			why = SLUICE_BAD_MULTI_SEGMENT;
		}
		/* A bad datagram queues no frame; it only takes a table entry. */
		bool fits =
		    cls == SLUICE_PKT_BAD ? b->packets < PENDING_PACKETS : datagram_fits(b, d);
		if (!fits)
			close_round(ctx, pkts, lens, fates);
		uint32_t p = b->packets++;
		if (cls == SLUICE_PKT_BAD) {
			/* Reported in turn, when the packets before it are. */
			bool framed = sluice_bad_reason_in_payload(why);
			b->irregular++;
			b->packet[p] = (struct pending_packet){
			    .index = i,
			    .first = b->frame_count,
			    .bad = true,
			    .bad_reason = (uint8_t)why,
			    .bad_header = framed ? sluice_failed_frame_header(pkts[i], d) : NULL,
			    .view = d->view};
			continue;
		}
		b->packet[p] = (struct pending_packet){
		    .index = i, .first = b->frame_count, .count = d->frame_count, .view = d->view};
		/* Each frame is read from the decoder's table, which it wrote
		 * field by field, and copied as it is queued: read back from a
		 * memcpy's wide stores, every frame stalled on store forwarding
		 * (2% of the path, sluice-path-bench). */
		uint32_t first = b->frame_count;
		for (uint32_t f = 0; f < d->frame_count; f++) {
			b->frames[first + f] = d->frames[f];
			b->text_bytes += d->frames[f].text_len;
			queue_frame(ctx, pkts, p, first + f, &d->frames[f]);
		}
		b->frame_count += d->frame_count;
	}
	close_round(ctx, pkts, lens, fates);
	if (ctx->streams != NULL && ctx->streams->npending > 0)
		sluice_stream_flush(ctx);
}
