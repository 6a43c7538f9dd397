/* Judging the WebSocket messages of a worker's streams: the text the packs
 * see (JSON members or the whole message), the scan, the verdict, and the
 * verdict written back into the stream, masked as the sender masked it.
 *
 * In batch mode a burst's messages are scanned together, as UDP frames are
 * (one Hyperscan call per database and pack): each is queued with its text
 * copied into the batch, its side's release stops at it, and
 * sluice_stream_flush() judges them all in order at the end of the burst,
 * then releases what they held. A message larger than an empty batch is
 * scanned alone.
 */
#include <string.h>

#include "batch_scan.h"
#include "datagram_process_internal.h"
#include "stream_process_internal.h"
#include "utf8.h"

struct sluice_stream_pending {
	uint32_t flow;
	uint8_t side;
	uint16_t batch_index;
	bool repaired; /* by the UTF-8 gate, under policy replace */
	struct sluice_ws_message msg;
	struct sluice_ws_fragment frag[SLUICE_WS_MAX_FRAGMENTS];
};

/* ---- judging messages ---- */

int sluice_stream_queue_init(struct sluice_stream_ctx *s)
{
	const struct sluice_allocator *a = s->alloc;
	s->pending = sluice_zalloc(a, SLUICE_BATCH_MESSAGES * sizeof(*s->pending));
	if (s->pending == NULL || sluice_norm_space_init(&s->norm, s->cfg->max_message, a) != 0 ||
	    sluice_batch_init(&s->batch, SLUICE_BATCH_MESSAGES, SLUICE_BATCH_BYTES, a) != 0 ||
	    sluice_batch_results_init(&s->main, SLUICE_BATCH_MESSAGES, SLUICE_MAX_MATCHES, a) !=
		0 ||
	    sluice_batch_results_init(&s->urgent, SLUICE_BATCH_MESSAGES, SLUICE_MAX_MATCHES, a) !=
		0)
		return -1;
	return 0;
}

void sluice_stream_queue_fini(struct sluice_stream_ctx *s)
{
	sluice_batch_free(&s->batch);
	sluice_batch_results_free(&s->main);
	sluice_batch_results_free(&s->urgent);
	sluice_norm_space_free(&s->norm);
	if (s->pending != NULL)
		sluice_free(s->alloc, s->pending);
	s->pending = NULL;
}

static void mask_text(struct sluice_stream_ctx *s, uint8_t *text, uint32_t len, bool json,
		      uint32_t from, uint32_t to)
{
	if (json) {
		sluice_json_mask(text, len, &s->json, from, to);
		return;
	}
	if (to > len)
		to = len;
	sluice_utf8_widen(text, len, &from, &to);
	if (from < to)
		memset(text + from, '*', to - from);
}

/* text is what the packs scanned (the message, or its members' JSON text),
 * where the spans lie. */
static void report_stream_matches(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
				  const struct sluice_match_set *set, enum sluice_action verdict,
				  const struct sluice_scan_view *text)
{
	struct sluice_event ev = {
	    .tsc = ctx->burst_tsc,
	    .pack = set->pack,
	    .worker = ctx->worker,
	    .kind = SLUICE_EVENT_MATCH,
	    .verdict = (uint8_t)verdict,
	};
	sluice_stream_identity(ctx->streams, idx, side, &ev);
	for (uint32_t i = 0; i < set->count; i++) {
		ev.rule = set->matches[i].rule;
		ev.from = set->matches[i].from;
		ev.to = set->matches[i].to;
		sluice_emit_match(ctx, &ev, text->text, text->len);
	}
}

/* Applies a verdict to the message text (raw, as the receiver gets it).
 * Returns whether the text changed, or -1 when the flow must be reset. */
static int apply_verdict(struct sluice_stream_ctx *s, uint8_t *text, uint32_t len, bool json,
			 enum sluice_action verdict, bool overflow,
			 const struct sluice_match_set *const sets[2])
{
	switch (verdict) {
	case SLUICE_ACTION_BLOCK:
		if (s->cfg->block == SLUICE_STREAM_BLOCK_RESET)
			return -1;
		if (json)
			sluice_json_blank_values(text, len, &s->json);
		else
			memset(text, '*', len);
		return 1;
	case SLUICE_ACTION_MASK:
		if (overflow) {
			mask_text(s, text, len, json, 0, json ? s->json.len : len);
			return 1;
		}
		for (int k = 0; k < 2; k++) {
			if (sets[k] == NULL)
				continue;
			for (uint32_t i = 0; i < sets[k]->count; i++) {
				const struct sluice_match *m = &sets[k]->matches[i];
				if (sluice_match_masks(sets[k], i))
					mask_text(s, text, len, json, m->from, m->to);
			}
		}
		return 1;
	default:
		return 0;
	}
}

/* Reads a message into s->text, unmasked, through the UTF-8 gate. Returns
 * 1 when it was repaired (policy replace), 0 when valid, -1 when the flow
 * was reset. */
static int read_text(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
		     const struct sluice_ws_message *msg, const struct sluice_tcp_segment *seg,
		     bool count)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	uint8_t *text = s->text;
	sluice_ws_message_read(msg, &f->half[side].store, &s->chunks, text);
	memset(text + msg->len, 0, SLUICE_SCAN_SLACK);
	if (sluice_utf8_valid(text, msg->len))
		return 0;
	if (ctx->policy[SLUICE_BAD_INVALID_UTF8] != SLUICE_POLICY_REPLACE) {
		sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_INVALID_UTF8);
		return -1;
	}
	if (count)
		ctx->stats->stream.reason[SLUICE_STREAM_INVALID_UTF8]++;
	sluice_utf8_repair(text, msg->len);
	return 1;
}

/* What the packs see of the text in s->text. */
static void scan_view(struct sluice_packet_ctx *ctx, uint32_t len, struct sluice_scan_view *view)
{
	struct sluice_stream_ctx *s = ctx->streams;
	sluice_json_scan_view(s->text, len, &s->cfg->members, &s->json, view);
	if (view->json)
		memset(s->json.text + view->len, 0, SLUICE_SCAN_SLACK);
}

static void count_scanned(struct sluice_packet_ctx *ctx, const struct sluice_scan_view *view)
{
	if (view->json)
		ctx->stats->stream.json_messages++;
	else if (view->outcome != SLUICE_JSON_NOT_JSON)
		ctx->stats->stream.json_malformed++;
	ctx->stats->stream.ws_messages++;
	ctx->stats->messages++;
	ctx->stats->bytes_scanned += view->len;
}

/* The verdict of a scanned message, counted and reported, applied to the
 * text in s->text and written back. view is what was scanned (NULL only
 * when no pack acts on it). Returns false when the flow was reset. */
static bool settle(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
		   const struct sluice_ws_message *msg, const struct sluice_tcp_segment *seg,
		   const struct sluice_match_set *const sets[2],
		   const struct sluice_scan_view *view, bool changed)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	enum sluice_action verdict = sets[0]->verdict;
	bool overflow = sets[0]->overflow;
	if (sets[1] != NULL) {
		if (sets[1]->verdict > verdict)
			verdict = sets[1]->verdict;
		overflow |= sets[1]->overflow;
	}
	ctx->stats->verdicts[verdict]++;
	if (verdict != SLUICE_ACTION_NONE) {
		for (int k = 0; k < 2; k++) {
			if (sets[k] == NULL)
				continue;
			ctx->stats->matches += sets[k]->count;
			sluice_count_hits(ctx->hits[k == 0 ? SLUICE_SLOT_MAIN : SLUICE_SLOT_URGENT],
					  sets[k]);
			report_stream_matches(ctx, idx, side, sets[k], verdict, view);
		}
		if (overflow)
			ctx->stats->match_overflow++;
	}
	bool json = view != NULL && view->json;
	int applied = apply_verdict(s, s->text, msg->len, json, verdict, overflow, sets);
	if (applied < 0) {
		sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_BLOCKED);
		return false;
	}
	if (applied > 0 || changed)
		sluice_ws_message_write(msg, &f->half[side].store, &s->chunks, 0, s->text,
					msg->len);
	return true;
}

/* Scans one message alone and settles it. */
static bool judge_now(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
		      const struct sluice_ws_message *msg, const struct sluice_tcp_segment *seg)
{
	int repaired = read_text(ctx, idx, side, msg, seg, true);
	if (repaired < 0)
		return false;
	struct sluice_scan_view view;
	scan_view(ctx, msg->len, &view);
	count_scanned(ctx, &view);
	struct sluice_match_set *set = &ctx->match_set;
	struct sluice_match_set *urgent = ctx->urgent_scratch ? &ctx->urgent_set : NULL;
	/* A message may be longer than a datagram: the stream's room to fold. */
	struct sluice_norm_space *datagram_norm = set->norm;
	set->norm = &ctx->streams->norm;
	ctx->urgent_set.norm = &ctx->streams->norm;
	hs_error_t rc =
	    sluice_scan_message(set->pack, ctx->scratch, (const char *)view.text, view.len, set);
	if (urgent != NULL && rc == HS_SUCCESS)
		rc = sluice_scan_message(urgent->pack, ctx->urgent_scratch, (const char *)view.text,
					 view.len, urgent);
	set->norm = datagram_norm;
	ctx->urgent_set.norm = datagram_norm;
	if (rc != HS_SUCCESS) {
		sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_SCAN_ERROR);
		return false;
	}
	const struct sluice_match_set *sets[2] = {set, urgent};
	return settle(ctx, idx, side, msg, seg, sets, &view, repaired > 0);
}

/* Queues a message for the burst's scan. Returns false when the flow was
 * reset (its text failed the UTF-8 gate). */
static bool queue(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
		  const struct sluice_ws_message *msg, const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	int repaired = read_text(ctx, idx, side, msg, seg, true);
	if (repaired < 0)
		return false;
	struct sluice_scan_view view;
	scan_view(ctx, msg->len, &view);
	if (s->npending == SLUICE_BATCH_MESSAGES || !sluice_batch_fits(&s->batch, view.len)) {
		/* A message bigger than what is left of the batch, or the
		 * burst's 257th: scanned alone, now. Its side's release still
		 * waits for the ones queued before it. */
		return judge_now(ctx, idx, side, msg, seg);
	}
	count_scanned(ctx, &view);
	struct sluice_stream_pending *p = &s->pending[s->npending++];
	p->flow = idx;
	p->side = side;
	p->repaired = repaired > 0;
	p->batch_index = (uint16_t)sluice_batch_add(&s->batch, (const char *)view.text, view.len);
	p->msg = *msg;
	memcpy(p->frag, msg->frag, msg->nfrag * sizeof(p->frag[0]));
	p->msg.frag = p->frag;
	struct sluice_tcp_flow *f = &s->flows[idx];
	if (f->pending[side]++ == 0)
		f->pending_start[side] = msg->start;
	return true;
}

bool sluice_stream_on_message(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			      const struct sluice_ws_message *msg,
			      const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	if (msg->compressed) {
		sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_WS_COMPRESSED);
		return false;
	}
	if (msg->opcode == SLUICE_WS_BINARY) {
		if (s->cfg->binary == SLUICE_WS_BINARY_PASS) {
			ctx->stats->stream.ws_unscanned++;
			return true;
		}
		sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_WS_BINARY);
		return false;
	}
	if (ctx->burst == NULL)
		return judge_now(ctx, idx, side, msg, seg);
	return queue(ctx, idx, side, msg, seg);
}

/* Settles one queued message from the batch's results. */
static void settle_pending(struct sluice_packet_ctx *ctx, const struct sluice_stream_pending *p,
			   hs_error_t rc)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[p->flow];
	if (f->state == FLOW_RESET)
		return; /* reset since it was queued */
	if (rc != HS_SUCCESS) {
		sluice_stream_reset_flow(ctx, p->flow, p->side, NULL, SLUICE_STREAM_SCAN_ERROR);
		return;
	}
	const struct sluice_match_set *sets[2] = {
	    sluice_batch_result(&s->main, p->batch_index),
	    ctx->urgent_scratch ? sluice_batch_result(&s->urgent, p->batch_index) : NULL};
	bool acts = sets[0]->verdict != SLUICE_ACTION_NONE ||
		    (sets[1] != NULL && sets[1]->verdict != SLUICE_ACTION_NONE);
	struct sluice_scan_view view;
	bool again = acts || p->repaired;
	if (again) {
		/* The text again, and its JSON map, to report and write the verdict. */
		if (read_text(ctx, p->flow, p->side, &p->msg, NULL, false) < 0)
			return;
		scan_view(ctx, p->msg.len, &view);
	}
	settle(ctx, p->flow, p->side, &p->msg, NULL, sets, again ? &view : NULL, p->repaired);
}

void sluice_stream_flush(struct sluice_packet_ctx *ctx)
{
	struct sluice_stream_ctx *s = ctx->streams;
	/* Releasing can complete more messages (a 101 frees the client's): a
	 * few rounds at most, each bounded by the bytes already stored. */
	s->batch.fold_shared = ctx->fold_shared;
	while (s->npending > 0) {
		hs_error_t rc = sluice_batch_scan(ctx->match_set.pack, ctx->scratch, &s->batch,
						  &s->main, ctx->match_set.disabled, 0);
		if (ctx->urgent_scratch != NULL && rc == HS_SUCCESS)
			rc = sluice_batch_scan(ctx->urgent_set.pack, ctx->urgent_scratch, &s->batch,
					       &s->urgent, ctx->urgent_set.disabled, 0);
		uint32_t n = s->npending;
		for (uint32_t i = 0; i < n; i++)
			settle_pending(ctx, &s->pending[i], rc);
		/* Then what the settled messages held goes out. */
		uint32_t touched[SLUICE_BATCH_MESSAGES], nt = 0;
		for (uint32_t i = 0; i < n; i++) {
			struct sluice_tcp_flow *f = &s->flows[s->pending[i].flow];
			f->pending[s->pending[i].side] = 0;
			if (!f->touched) {
				f->touched = true;
				touched[nt++] = s->pending[i].flow;
			}
		}
		s->npending = 0;
		sluice_batch_reset(&s->batch);
		for (uint32_t i = 0; i < nt; i++) {
			struct sluice_tcp_flow *f = &s->flows[touched[i]];
			f->touched = false;
			if (f->state != FLOW_RESET)
				sluice_stream_release(ctx, touched[i]);
		}
	}
}
