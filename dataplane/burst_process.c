/* Batch scanning across a burst: the messages of many datagrams go to
 * Hyperscan together (patterns/batch_scan.h), then each frame's verdict is
 * applied and each datagram settled by the per-packet code
 * (datagram_process_internal.h), so a packet's outcome is the same as if it
 * had been processed alone.
 *
 * A burst is worked through in rounds: datagrams are decoded and their frames
 * validated and copied into the batch until the batch or the table of pending
 * frames would overflow; then the batch is scanned, verdicts applied, and the
 * pending datagrams settled. Normal bursts (32 packets of a few frames) take
 * one round.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "datagram_process.h"
#include "datagram_process_internal.h"
#include "wire_format.h"

#define PENDING_FRAMES	512
#define PENDING_PACKETS 256

/* Every frame fits an empty batch, so no frame ever needs a path of its own. */
_Static_assert(SLUICE_BATCH_BYTES >= UINT16_MAX + 1, "a frame's text must fit an empty batch");
_Static_assert(PENDING_FRAMES >= SLUICE_MAX_FRAMES, "a datagram's frames must fit");

struct pending_packet {
	uint32_t index; /* in the burst */
	uint32_t first; /* its frames: frames[first, first + count) */
	uint32_t count;
	bool bad;		   /* bad input as a whole: reported, then dropped */
	uint8_t bad_reason;	   /* enum sluice_bad_reason */
	const uint8_t *bad_header; /* frame the bad-input event names, or NULL */
	struct sluice_udp_view view;
	struct sluice_rewrite rw;
};

/* A frame's state between being queued and being resolved. */
enum frame_state {
	FRAME_QUEUED = 0,      /* in the batch */
	FRAME_QUEUED_REPAIRED, /* in the batch; invalid_utf8 (replace) to report first */
	FRAME_INVALID,	       /* invalid_utf8 to report; bad input */
};

/* Events come out in packet and frame order, as the per-packet path emits
 * them: everything is reported when it is resolved, in order, after the
 * batch it waits for has been scanned. */
struct sluice_burst_state {
	struct sluice_batch main, urgent;
	uint32_t packets, frame_count;
	uint32_t next_packet, next_frame; /* what is not resolved yet */
	struct pending_packet packet[PENDING_PACKETS];
	struct sluice_frame_ref frames[PENDING_FRAMES];
	uint8_t state[PENDING_FRAMES];	      /* enum frame_state, until resolved */
	uint8_t outcome[PENDING_FRAMES];      /* enum sluice_frame_outcome, once resolved */
	uint16_t batch_index[PENDING_FRAMES]; /* while queued */
};

int sluice_packet_ctx_set_scan_mode(struct sluice_packet_ctx *ctx, enum sluice_scan_mode mode)
{
	sluice_packet_ctx_fini(ctx);
	if (mode == SLUICE_SCAN_MESSAGE)
		return 0;
	struct sluice_burst_state *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -1;
	if (sluice_batch_init(&b->main, SLUICE_BATCH_MESSAGES, SLUICE_BATCH_BYTES,
			      SLUICE_MAX_MATCHES) != 0 ||
	    sluice_batch_init(&b->urgent, SLUICE_BATCH_MESSAGES, SLUICE_BATCH_BYTES,
			      SLUICE_MAX_MATCHES) != 0) {
		sluice_batch_free(&b->main);
		free(b);
		return -1;
	}
	ctx->burst = b;
	return 0;
}

void sluice_packet_ctx_fini(struct sluice_packet_ctx *ctx)
{
	if (ctx->burst == NULL)
		return;
	sluice_batch_free(&ctx->burst->main);
	sluice_batch_free(&ctx->burst->urgent);
	free(ctx->burst);
	ctx->burst = NULL;
}

/* Reports and applies, in order, everything queued before frame `upto`: the
 * batch holding those frames has been scanned (with result rc). */
static void resolve(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t upto,
		    hs_error_t rc)
{
	struct sluice_burst_state *b = ctx->burst;
	bool with_urgent = ctx->urgent_scratch != NULL;

	for (; b->next_packet < b->packets; b->next_packet++) {
		struct pending_packet *p = &b->packet[b->next_packet];
		if (p->bad) {
			sluice_report_bad(ctx, (enum sluice_bad_reason)p->bad_reason,
					  p->bad_header);
			continue;
		}
		uint8_t *pkt = pkts[p->index];
		for (uint32_t f = b->next_frame; f < p->first + p->count; f++) {
			if (f >= upto) {
				b->next_frame = f;
				return;
			}
			if (b->state[f] != FRAME_QUEUED)
				sluice_report_bad(ctx, SLUICE_BAD_INVALID_UTF8,
						  pkt + b->frames[f].offset);
			if (b->state[f] == FRAME_INVALID) {
				b->outcome[f] = SLUICE_FRAME_BAD;
				continue;
			}
			uint32_t k = b->batch_index[f];
			b->outcome[f] = (uint8_t)sluice_frame_verdict(
			    ctx, pkt, &p->view, &b->frames[f], sluice_batch_result(&b->main, k),
			    with_urgent ? sluice_batch_result(&b->urgent, k) : NULL, rc, &p->rw);
		}
		b->next_frame = p->first + p->count;
	}
}

/* Scans what the batch holds and resolves everything queued before frame
 * `upto`. */
static void scan_batch(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t upto)
{
	struct sluice_burst_state *b = ctx->burst;
	hs_error_t rc = HS_SUCCESS;

	if (b->main.count > 0) {
		rc = sluice_batch_scan(ctx->match_set.pack, ctx->scratch, &b->main,
				       ctx->match_set.disabled, 0);
		if (ctx->urgent_scratch != NULL && rc == HS_SUCCESS)
			rc = sluice_batch_scan(ctx->urgent_set.pack, ctx->urgent_scratch,
					       &b->urgent, ctx->urgent_set.disabled, 0);
	}
	resolve(ctx, pkts, upto, rc);
	sluice_batch_reset(&b->main);
	sluice_batch_reset(&b->urgent);
}

/* Scans the batch, resolves and settles every pending datagram, and empties
 * the tables. */
static void settle_pending(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t lens[],
			   enum sluice_packet_fate fates[])
{
	struct sluice_burst_state *b = ctx->burst;

	scan_batch(ctx, pkts, b->frame_count);
	for (uint32_t i = 0; i < b->packets; i++) {
		struct pending_packet *p = &b->packet[i];
		if (p->bad) {
			ctx->stats->datagrams_dropped_bad++;
			fates[p->index] = SLUICE_FATE_DROP_BAD;
			continue;
		}
		fates[p->index] = sluice_datagram_settle(ctx, pkts[p->index], &lens[p->index],
							 &p->view, &b->frames[p->first],
							 &b->outcome[p->first], p->count, &p->rw);
	}
	b->packets = 0;
	b->frame_count = 0;
	b->next_packet = 0;
	b->next_frame = 0;
}

/* Validates frame f of pending packet p and queues its text for the scan. */
static void queue_frame(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t p,
			uint32_t f)
{
	struct sluice_burst_state *b = ctx->burst;
	struct pending_packet *pp = &b->packet[p];
	uint8_t *pkt = pkts[pp->index];
	const struct sluice_frame_ref *frame = &b->frames[f];

	enum sluice_text_check check = sluice_frame_text_check(ctx, pkt, &pp->view, frame, &pp->rw);
	if (check == SLUICE_TEXT_BAD) {
		b->state[f] = FRAME_INVALID;
		return;
	}
	b->state[f] = check == SLUICE_TEXT_REPAIRED ? FRAME_QUEUED_REPAIRED : FRAME_QUEUED;
	if (!sluice_batch_fits(&b->main, frame->text_len))
		scan_batch(ctx, pkts, f); /* the frames queued before this one are resolved now */
	const char *text = (const char *)pkt + frame->offset + SLUICE_WIRE_HEADER_LEN;
	int32_t k = sluice_batch_add(&b->main, text, frame->text_len);
	if (ctx->urgent_scratch != NULL)
		sluice_batch_add(&b->urgent, text, frame->text_len);
	b->batch_index[f] = (uint16_t)k;
}

void sluice_burst_process(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t lens[],
			  const bool *partial, uint16_t n, enum sluice_packet_fate fates[])
{
	struct sluice_burst_state *b = ctx->burst;

	if (b == NULL) {
		for (uint16_t i = 0; i < n; i++)
			fates[i] = partial != NULL && partial[i]
				       ? sluice_packet_process_segmented(ctx, pkts[i], lens[i])
				       : sluice_packet_process(ctx, pkts[i], &lens[i]);
		return;
	}
	for (uint16_t i = 0; i < n; i++) {
		struct sluice_decoded *d = &ctx->decoded;
		enum sluice_bad_reason why;
		enum sluice_pkt_class cls =
		    ctx->decoder->decode(ctx->decoder, pkts[i], lens[i], d, &why);

		if (cls == SLUICE_PKT_OTHER) {
			ctx->stats->other_forwarded++;
			fates[i] = SLUICE_FATE_FORWARD;
			continue;
		}
		ctx->stats->datagrams++;
		if (b->packets == PENDING_PACKETS ||
		    b->frame_count + d->frame_count > PENDING_FRAMES)
			settle_pending(ctx, pkts, lens, fates);
		uint32_t p = b->packets++;
		if (partial != NULL && partial[i]) {
			/* Only its first segment is here: forwarded if it is not
			 * for the message port (above), otherwise bad input. */
			cls = SLUICE_PKT_BAD;
			why = SLUICE_BAD_MULTI_SEGMENT;
		}
		if (cls == SLUICE_PKT_BAD) {
			/* Reported in turn, when the packets before it are. */
			bool framed = sluice_bad_reason_in_payload(why);
			b->packet[p] = (struct pending_packet){
			    .index = i,
			    .first = b->frame_count,
			    .bad = true,
			    .bad_reason = (uint8_t)why,
			    .bad_header = framed ? sluice_failed_frame_header(pkts[i], d) : NULL};
			continue;
		}
		b->packet[p] = (struct pending_packet){
		    .index = i, .first = b->frame_count, .count = d->frame_count, .view = d->view};
		memcpy(&b->frames[b->frame_count], d->frames,
		       d->frame_count * sizeof(d->frames[0]));
		b->frame_count += d->frame_count;
		for (uint32_t f = b->packet[p].first; f < b->frame_count; f++)
			queue_frame(ctx, pkts, p, f);
	}
	settle_pending(ctx, pkts, lens, fates);
}
