#include "datagram_process.h"

#include <time.h>

#include "datagram_process_internal.h"

#include <stdbool.h>
#include <string.h>

#include "inet_checksum.h"
#include "normalize.h"
#include "pack.h"
#include "siphash.h"
#include "stream_process.h"
#include "utf8.h"
#include "verdict_apply.h"
#include "wire_format.h"

void sluice_packet_ctx_init(struct sluice_packet_ctx *ctx, uint16_t worker,
			    const struct sluice_message_decoder *decoder,
			    struct sluice_worker_stats *stats, struct sluice_event_ring *events)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->worker = worker;
	ctx->decoder = decoder;
	ctx->stats = stats;
	ctx->events = events;
	ctx->alloc = &sluice_libc_allocator;
	for (unsigned i = 0; i < SLUICE_BAD_REASON_COUNT; i++)
		ctx->policy[i] = SLUICE_POLICY_DROP;
	sluice_match_set_init(&ctx->match_set, ctx->matches, SLUICE_MAX_MATCHES, NULL);
	sluice_match_set_init(&ctx->urgent_set, ctx->urgent_matches, SLUICE_MAX_MATCHES, NULL);
}

static bool push(struct sluice_packet_ctx *ctx, const struct sluice_event *ev,
		 const struct sluice_event *snippet)
{
	return snippet == NULL ? sluice_event_ring_push(ctx->events, ev)
			       : sluice_event_ring_push_pair(ctx->events, ev, snippet);
}

/* Back-pressure: the worker holds here instead of dropping, so packets queue
 * at its port while the sink catches up. Bounded, so that a sink that is gone
 * (or a control thread waiting for this worker in a grace period, which
 * cannot drain meanwhile) costs a wait per event, never traffic for ever.
 * After a short spin it sleeps 20 us between tries, giving its CPU up: the
 * control thread that drains may share that CPU (the main lcore often does),
 * and a worker spinning there, or only yielding (which the kernel's fair
 * scheduler all but ignores), keeps it from running: measured, waits of
 * seconds. That is the one system call on a worker's path, made only while
 * it waits with nothing else to do. */
static bool wait_for_room(struct sluice_packet_ctx *ctx, const struct sluice_event *ev,
			  const struct sluice_event *snippet)
{
	uint64_t start = __builtin_ia32_rdtsc(), now = start;
	bool pushed = false;
	for (unsigned tries = 0; now - start < ctx->event_wait_cycles; tries++) {
		if (tries < 64) {
			__builtin_ia32_pause();
		} else {
			struct timespec nap = {0, 20000};
			nanosleep(&nap, NULL);
		}
		if (push(ctx, ev, snippet)) {
			pushed = true;
			break;
		}
		now = __builtin_ia32_rdtsc();
	}
	ctx->stats->events_waited++;
	ctx->stats->event_wait_cycles += __builtin_ia32_rdtsc() - start;
	ctx->stats->event_wait_timeouts += !pushed;
	return pushed;
}

/* snippet: NULL, or the slot that follows ev (both pushed or neither). */
static void emit(struct sluice_packet_ctx *ctx, const struct sluice_event *ev,
		 const struct sluice_event *snippet)
{
	if (__builtin_expect(push(ctx, ev, snippet), 1))
		return;
	if (ctx->event_wait_cycles != 0 && wait_for_room(ctx, ev, snippet))
		return;
	ctx->stats->events_dropped++;
}

void sluice_emit_event(struct sluice_packet_ctx *ctx, const struct sluice_event *ev)
{
	emit(ctx, ev, NULL);
}

/* The hash of a match's text in the form the pack's rules saw it: folded
 * by the pack's table, so that an evasive spelling of a number or an ID
 * (full-width, circled, with invisible characters between) hashes as the
 * plain one does. Spans too long for the stack buffer, and text a table
 * cannot take (not whole UTF-8), are hashed as written. */
static uint64_t match_hash(const struct sluice_packet_ctx *ctx, const struct sluice_pack *pack,
			   const uint8_t *span, uint32_t len)
{
	uint8_t folded[SLUICE_EVENT_FOLD_MAX * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	if (pack == NULL || pack->fold == NULL || len > SLUICE_EVENT_FOLD_MAX ||
	    !sluice_utf8_valid(span, len))
		return sluice_siphash24(ctx->event_hash_key, span, len);
	struct sluice_norm_view view;
	sluice_fold(pack->fold, span, len, folded, &view);
	return sluice_siphash24(ctx->event_hash_key, view.text, view.len);
}

void sluice_emit_match(struct sluice_packet_ctx *ctx, struct sluice_event *ev, const uint8_t *text,
		       uint32_t text_len)
{
	uint32_t from = ev->from < text_len ? ev->from : text_len;
	uint32_t to = ev->to < text_len ? ev->to : text_len;
	if (to < from)
		to = from;
	ev->text_hash = match_hash(ctx, ev->pack, text + from, to - from);
	uint32_t n = to - from;
	if (ctx->event_snippet == 0 || n == 0) {
		ev->snippet_len = 0;
		emit(ctx, ev, NULL);
		return;
	}
	if (n > ctx->event_snippet) {
		/* Cut before a character, never inside one. */
		n = ctx->event_snippet;
		while (n > 0 && (text[from + n] & 0xc0) == 0x80)
			n--;
	}
	union sluice_event_slot snippet;
	memcpy(snippet.text, text + from, n);
	memset(snippet.text + n, 0, sizeof(snippet.text) - n);
	ev->snippet_len = (uint8_t)n;
	emit(ctx, ev, n > 0 ? &snippet.event : NULL);
}

static void event_ids(struct sluice_event *ev, const uint8_t *header)
{
	ev->msg_id = sluice_be64_load(header + SLUICE_WIRE_OFF_MSG_ID);
	ev->channel_id = sluice_be64_load(header + SLUICE_WIRE_OFF_CHANNEL_ID);
	ev->user_id = sluice_be64_load(header + SLUICE_WIRE_OFF_USER_ID);
}

/* Who sent the datagram and to whom; pkt NULL: unknown. */
static void event_endpoints(struct sluice_event *ev, const uint8_t *pkt, uint32_t len,
			    const struct sluice_packet_view *view)
{
	if (pkt == NULL)
		return;
	struct sluice_packet_addresses e;
	sluice_packet_addresses_read(pkt, len, view, &e);
	if (!e.ip)
		return;
	ev->has_addr = 1;
	ev->ipv6 = e.ipv6;
	memcpy(ev->src, e.src, sizeof(ev->src));
	memcpy(ev->dst, e.dst, sizeof(ev->dst));
	ev->has_ports = e.ports;
	ev->sport = e.sport;
	ev->dport = e.dport;
}

void sluice_report_bad(struct sluice_packet_ctx *ctx, enum sluice_bad_reason reason,
		       const uint8_t *header, const uint8_t *pkt, uint32_t len,
		       const struct sluice_packet_view *view)
{
	ctx->stats->bad[reason]++;
	enum sluice_bad_policy policy = ctx->policy[reason];
	if (policy == SLUICE_POLICY_DROP_QUIET)
		return;
	struct sluice_event ev = {
	    .tsc = ctx->burst_tsc,
	    .pack = ctx->gen->pack,
	    .worker = ctx->worker,
	    .kind = SLUICE_EVENT_BAD_INPUT,
	    .verdict = SLUICE_ACTION_BLOCK,
	    .reason = (uint8_t)reason,
	    .policy = (uint8_t)policy,
	};
	if (header != NULL) {
		event_ids(&ev, header);
		ev.has_ids = 1;
	}
	event_endpoints(&ev, pkt, len, view);
	/* The link's source names the sender even when no IP header could be
	 * read (a frame behind too many VLAN tags). */
	if (pkt != NULL && view->l3_off >= 14 && len >= 14) {
		memcpy(ev.src_mac, pkt + 6, sizeof(ev.src_mac));
		ev.has_mac = 1;
	}
	sluice_emit_event(ctx, &ev);
}

/* One event per span of set, naming set's own pack, with the message's
 * combined verdict. */
static void report_matches(struct sluice_packet_ctx *ctx, const struct sluice_match_set *set,
			   enum sluice_action verdict, const uint8_t *pkt,
			   const struct sluice_packet_view *view,
			   const struct sluice_frame_ref *frame)
{
	const uint8_t *header = pkt + frame->offset;
	struct sluice_event ev = {
	    .tsc = ctx->burst_tsc,
	    .pack = set->pack,
	    .worker = ctx->worker,
	    .kind = SLUICE_EVENT_MATCH,
	    .verdict = (uint8_t)verdict,
	    .has_ids = 1,
	};
	event_ids(&ev, header);
	event_endpoints(&ev, pkt, view->payload_off + view->payload_len, view);
	for (uint32_t i = 0; i < set->count; i++) {
		ev.rule = set->matches[i].rule;
		ev.from = set->matches[i].from;
		ev.to = set->matches[i].to;
		sluice_emit_match(ctx, &ev, header + SLUICE_WIRE_HEADER_LEN, frame->text_len);
	}
}

/* Counted after the scan, in this worker's own row: plain increments. */
void sluice_count_hits(uint64_t *hits, const struct sluice_match_set *set)
{
	for (uint32_t i = 0; i < set->count; i++)
		hits[set->matches[i].rule]++;
}

static void mask_spans(uint8_t *pkt, const struct sluice_packet_view *view,
		       const struct sluice_frame_ref *frame, const struct sluice_match_set *set,
		       struct sluice_rewrite *rw)
{
	for (uint32_t i = 0; i < set->count; i++) {
		const struct sluice_match *m = &set->matches[i];
		if (sluice_match_masks(set, i))
			sluice_frame_mask(pkt, view, frame, m->from, m->to, rw);
	}
}

enum sluice_text_check sluice_frame_text_check(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					       const struct sluice_packet_view *view,
					       const struct sluice_frame_ref *frame,
					       struct sluice_rewrite *rw, bool *ascii)
{
	uint8_t *text = pkt + frame->offset + SLUICE_WIRE_HEADER_LEN;

	if (sluice_utf8_valid_ascii(text, frame->text_len, ascii))
		return SLUICE_TEXT_OK;
	if (ctx->policy[SLUICE_BAD_INVALID_UTF8] != SLUICE_POLICY_REPLACE)
		return SLUICE_TEXT_BAD;
	/* The repaired text is what is scanned and what is forwarded. */
	bool odd = ((text - pkt - view->l4_off) & 1) != 0;
	rw->old_sum = sluice_csum_add(rw->old_sum, text, frame->text_len, odd);
	sluice_utf8_repair(text, frame->text_len);
	rw->new_sum = sluice_csum_add(rw->new_sum, text, frame->text_len, odd);
	rw->changed = true;
	ctx->stats->utf8_repaired++;
	*ascii = sluice_ascii_only(text, frame->text_len);
	return SLUICE_TEXT_REPAIRED;
}

enum sluice_frame_outcome sluice_frame_verdict(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					       const struct sluice_packet_view *view,
					       const struct sluice_frame_ref *frame,
					       const struct sluice_match_set *set,
					       const struct sluice_match_set *urgent, hs_error_t rc,
					       struct sluice_rewrite *rw)
{
	struct sluice_worker_stats *st = ctx->stats;
	const uint8_t *header = pkt + frame->offset;

	if (sluice_frame_unacted(set, urgent, rc)) {
		sluice_count_unacted(st, 1, frame->text_len);
		return SLUICE_FRAME_KEPT;
	}
	st->messages++;
	st->bytes_scanned += frame->text_len;
	if (rc != HS_SUCCESS) {
		sluice_report_bad(ctx, SLUICE_BAD_SCAN_ERROR, header, pkt,
				  view->payload_off + view->payload_len, view);
		return SLUICE_FRAME_BAD;
	}
	enum sluice_action verdict = set->verdict;
	bool overflow = set->overflow;
	if (urgent != NULL) {
		if (urgent->verdict > verdict)
			verdict = urgent->verdict;
		overflow |= urgent->overflow;
	}
	st->verdicts[verdict]++;
	st->matches += set->count;
	sluice_count_hits(ctx->hits[SLUICE_SLOT_MAIN], set);
	report_matches(ctx, set, verdict, pkt, view, frame);
	if (urgent != NULL) {
		st->matches += urgent->count;
		sluice_count_hits(ctx->hits[SLUICE_SLOT_URGENT], urgent);
		report_matches(ctx, urgent, verdict, pkt, view, frame);
	}
	if (overflow)
		st->match_overflow++;

	switch (verdict) {
	case SLUICE_ACTION_BLOCK:
		return SLUICE_FRAME_BLOCKED;
	case SLUICE_ACTION_MASK:
		if (overflow) {
			sluice_frame_mask(pkt, view, frame, 0, frame->text_len, rw);
			break;
		}
		mask_spans(pkt, view, frame, set, rw);
		if (urgent != NULL)
			mask_spans(pkt, view, frame, urgent, rw);
		break;
	case SLUICE_ACTION_FLAG:
		sluice_frame_set_flags(pkt, view, frame, SLUICE_WIRE_FLAG_FLAGGED, rw);
		break;
	default:
		break;
	}
	return SLUICE_FRAME_KEPT;
}

/* Scans one frame alone and applies its verdict, except removal, which is
 * returned so the datagram can be compacted once. */
static enum sluice_frame_outcome scan_frame(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					    const struct sluice_frame_ref *frame,
					    struct sluice_rewrite *rw)
{
	const struct sluice_packet_view *view = &ctx->decoded.view;

	bool ascii;
	enum sluice_text_check text_check =
	    sluice_frame_text_check(ctx, pkt, view, frame, rw, &ascii);
	if (text_check != SLUICE_TEXT_OK)
		sluice_report_bad(ctx, SLUICE_BAD_INVALID_UTF8, pkt + frame->offset, pkt,
				  view->payload_off + view->payload_len, view);
	if (text_check == SLUICE_TEXT_BAD)
		return SLUICE_FRAME_BAD;
	const char *text = (const char *)pkt + frame->offset + SLUICE_WIRE_HEADER_LEN;
	struct sluice_match_set *set = &ctx->match_set;
	struct sluice_match_set *urgent = ctx->urgent_scratch ? &ctx->urgent_set : NULL;
	hs_error_t rc = sluice_scan_message(set->pack, ctx->scratch, text, frame->text_len, set);
	if (urgent != NULL && rc == HS_SUCCESS)
		rc = sluice_scan_message(urgent->pack, ctx->urgent_scratch, text, frame->text_len,
					 urgent);
	return sluice_frame_verdict(ctx, pkt, view, frame, set, urgent, rc, rw);
}

const uint8_t *sluice_failed_frame_header(const uint8_t *pkt, const struct sluice_decoded *d)
{
	uint32_t off = d->view.payload_off;
	if (d->frame_count > 0) {
		const struct sluice_frame_ref *last = &d->frames[d->frame_count - 1];
		off = last->offset + SLUICE_WIRE_HEADER_LEN + last->text_len;
	}
	uint32_t end = d->view.payload_off + d->view.payload_len;
	if (off + SLUICE_WIRE_HEADER_LEN > end || pkt[off] != SLUICE_WIRE_MAGIC0 ||
	    pkt[off + 1] != SLUICE_WIRE_MAGIC1)
		return NULL;
	return pkt + off;
}

enum sluice_packet_fate sluice_packet_process(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					      uint32_t *len)
{
	return sluice_packet_process_from(ctx, NULL, 0, SLUICE_RX_L4_UNCHECKED, pkt, len);
}

enum sluice_packet_fate sluice_packet_process_from(struct sluice_packet_ctx *ctx, void *handle,
						   uint8_t in_port, enum sluice_rx_l4 rx_l4,
						   uint8_t *pkt, uint32_t *len)
{
	struct sluice_decoded *d = &ctx->decoded;
	enum sluice_bad_reason why;
	enum sluice_pkt_class cls = sluice_udp_frames_decode(ctx->decoder, pkt, *len, d, &why);

	if (cls == SLUICE_PKT_STREAM && ctx->streams != NULL) {
		sluice_stream_segment(ctx, handle != NULL ? handle : pkt, pkt, &d->view, in_port,
				      rx_l4);
		return SLUICE_FATE_STREAM;
	}
	if (cls == SLUICE_PKT_OTHER || cls == SLUICE_PKT_STREAM) {
		ctx->stats->other_forwarded++;
		return SLUICE_FATE_FORWARD;
	}
	if (!d->view.tcp)
		ctx->stats->datagrams++;
	if (cls == SLUICE_PKT_BAD) {
		/* Lengths that failed at the IP/UDP layer leave no payload to read. */
		bool framed = sluice_bad_reason_in_payload(why);
		sluice_report_bad(ctx, why, framed ? sluice_failed_frame_header(pkt, d) : NULL, pkt,
				  *len, &d->view);
		ctx->stats->datagrams_dropped_bad++;
		return SLUICE_FATE_DROP_BAD;
	}

	struct sluice_rewrite rw = {0};
	uint8_t outcome[SLUICE_MAX_FRAMES];
	for (uint32_t i = 0; i < d->frame_count; i++)
		outcome[i] = (uint8_t)scan_frame(ctx, pkt, &d->frames[i], &rw);
	return sluice_datagram_settle(ctx, pkt, len, &d->view, d->frames, outcome, d->frame_count,
				      &rw);
}

enum sluice_packet_fate sluice_datagram_settle(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					       uint32_t *len, struct sluice_packet_view *view,
					       const struct sluice_frame_ref *frames,
					       const uint8_t *outcome, uint32_t count,
					       struct sluice_rewrite *rw)
{
	uint64_t removed[SLUICE_MAX_FRAMES / 64] = {0};
	uint32_t blocked = 0, bad = 0;
	for (uint32_t i = 0; i < count; i++) {
		if (outcome[i] == SLUICE_FRAME_KEPT)
			continue;
		removed[i / 64] |= 1ull << (i % 64);
		if (outcome[i] == SLUICE_FRAME_BLOCKED)
			blocked++;
		else
			bad++;
	}
	if (blocked + bad > 0) {
		uint32_t new_len =
		    sluice_datagram_remove_frames(pkt, view, frames, count, removed, rw);
		if (new_len == 0) {
			if (blocked == 0) {
				ctx->stats->datagrams_dropped_bad++;
				return SLUICE_FATE_DROP_BAD;
			}
			ctx->stats->datagrams_removed++;
			return SLUICE_FATE_DROP_VERDICT;
		}
		*len = new_len;
	}
	if (rw->changed) {
		sluice_datagram_finish(pkt, view, rw);
		ctx->stats->datagrams_rewritten++;
	}
	return SLUICE_FATE_FORWARD;
}

enum sluice_packet_fate sluice_packet_process_segmented(struct sluice_packet_ctx *ctx,
							const uint8_t *first, uint32_t first_len)
{
	struct sluice_decoded *d = &ctx->decoded;
	enum sluice_bad_reason why;
	enum sluice_pkt_class cls =
	    sluice_udp_frames_decode(ctx->decoder, first, first_len, d, &why);
	if (cls == SLUICE_PKT_OTHER || (cls == SLUICE_PKT_STREAM && ctx->streams == NULL)) {
		ctx->stats->other_forwarded++;
		return SLUICE_FATE_FORWARD;
	}
	if (d->view.tcp)
		sluice_stream_count_drop(&ctx->stats->stream, SLUICE_STREAM_MULTI_SEGMENT);
	else
		ctx->stats->datagrams++;
	sluice_report_bad(ctx, SLUICE_BAD_MULTI_SEGMENT, NULL, first, first_len, &d->view);
	ctx->stats->datagrams_dropped_bad++;
	return SLUICE_FATE_DROP_BAD;
}
