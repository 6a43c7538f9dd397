#include "stream_process.h"

#include <string.h>

#include "datagram_process.h"
#include "datagram_process_internal.h"
#include "stream_process_internal.h"
#include "inet_checksum.h"
#include "packet_build.h"
#include "seq.h"
#include "tcp_options.h"
#include "wire_format.h"
#include "utf8.h"

/* The head and tail of the holding list live in slot `flows` of the array. */
#define HOLD_LIST(s) (&(s)->flows[(s)->cfg->flows])

void sluice_stream_config_default(struct sluice_stream_config *cfg, uint64_t hz)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->flows = 65536;
	cfg->flow_bytes = 256 * 1024;
	cfg->worker_bytes = 64u * 1024 * 1024;
	cfg->held_packets = 4096;
	cfg->max_message = 64 * 1024;
	cfg->strip_deflate = true;
	cfg->block = SLUICE_STREAM_BLOCK_BLANK;
	cfg->binary = SLUICE_WS_BINARY_RESET;
	cfg->hold_timeout = hz * 3;
	cfg->resend_gap = hz / 50;
	cfg->timeout[SLUICE_FLOW_OPENING] = hz * 10;
	cfg->timeout[SLUICE_FLOW_ESTABLISHED] = hz * 300;
	cfg->timeout[SLUICE_FLOW_CLOSING] = hz * 5;
}

void sluice_stream_config_add_port(struct sluice_stream_config *cfg, uint16_t port)
{
	cfg->tcp_ports[port >> 6] |= 1ull << (port & 63);
	cfg->any_port = true;
}

size_t sluice_stream_bytes_per_flow(void)
{
	return sizeof(struct sluice_tcp_flow) + sluice_flow_table_bytes_per_flow();
}

int sluice_stream_ctx_init(struct sluice_stream_ctx *s, const struct sluice_stream_config *cfg,
			   const struct sluice_allocator *alloc)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->alloc = alloc;
	uint32_t chunks = cfg->worker_bytes / SLUICE_CHUNK_BYTES;
	uint32_t text_cap = cfg->max_message + SLUICE_SCAN_SLACK;
	s->tx_cap = cfg->held_packets + 2 * 64 + 8;
	s->drop_cap = s->tx_cap;
	if (sluice_flow_table_init(&s->table, cfg->flows, cfg->timeout, alloc) != 0 ||
	    sluice_chunk_pool_init(&s->chunks, chunks ? chunks : 1, alloc) != 0 ||
	    sluice_held_pool_init(&s->held, cfg->held_packets, alloc) != 0)
		goto fail;
	s->flows = sluice_zalloc(alloc, ((size_t)cfg->flows + 1) * sizeof(*s->flows));
	s->head = sluice_zalloc(alloc, SLUICE_WS_MAX_HEAD);
	s->text = sluice_zalloc(alloc, text_cap);
	s->json.text = sluice_zalloc(alloc, text_cap);
	s->json.raw_at = sluice_zalloc(alloc, (size_t)text_cap * sizeof(uint32_t));
	s->json.cap = cfg->max_message;
	s->tx = sluice_zalloc(alloc, (size_t)s->tx_cap * sizeof(*s->tx));
	s->drop = sluice_zalloc(alloc, (size_t)s->drop_cap * sizeof(*s->drop));
	if (!s->flows || !s->head || !s->text || !s->json.text || !s->json.raw_at || !s->tx ||
	    !s->drop || sluice_stream_queue_init(s) != 0)
		goto fail;
	HOLD_LIST(s)->hold_next = cfg->flows; /* empty: the list head points at itself */
	HOLD_LIST(s)->hold_prev = cfg->flows;
	return 0;
fail:
	sluice_stream_ctx_fini(s);
	return -1;
}

void sluice_stream_ctx_fini(struct sluice_stream_ctx *s)
{
	const struct sluice_allocator *a = s->alloc;
	if (a == NULL)
		return;
	sluice_stream_queue_fini(s);
	sluice_flow_table_fini(&s->table);
	sluice_chunk_pool_fini(&s->chunks);
	sluice_held_pool_fini(&s->held);
	sluice_free(a, s->flows);
	sluice_free(a, s->head);
	sluice_free(a, s->text);
	sluice_free(a, s->json.text);
	sluice_free(a, s->json.raw_at);
	sluice_free(a, s->tx);
	sluice_free(a, s->drop);
	memset(s, 0, sizeof(*s));
}

static void forget(struct sluice_packet_ctx *ctx, uint32_t idx);

/* ---- output lists ---- */

void sluice_stream_send(struct sluice_stream_ctx *s, void *pkt, uint8_t out_port)
{
	/* tx_cap covers every held packet and a burst of new ones. */
	if (s->tx_count < s->tx_cap)
		s->tx[s->tx_count++] = (struct sluice_stream_out){.pkt = pkt, .out_port = out_port};
	else if (s->drop_count < s->drop_cap)
		s->drop[s->drop_count++] = pkt;
}

void sluice_stream_drop_pkt(struct sluice_stream_ctx *s, void *pkt)
{
	if (s->drop_count < s->drop_cap)
		s->drop[s->drop_count++] = pkt;
}

/* ---- the holding list (hold-ms) ---- */

static void hold_list_remove(struct sluice_stream_ctx *s, uint32_t idx)
{
	struct sluice_tcp_flow *f = &s->flows[idx];
	if (!f->holding)
		return;
	s->flows[f->hold_prev].hold_next = f->hold_next;
	s->flows[f->hold_next].hold_prev = f->hold_prev;
	f->holding = false;
}

static void hold_list_update(struct sluice_stream_ctx *s, uint32_t idx, uint64_t now)
{
	struct sluice_tcp_flow *f = &s->flows[idx];
	bool holds = f->half[0].held_count + f->half[1].held_count > 0;
	if (holds == f->holding)
		return;
	if (!holds) {
		hold_list_remove(s, idx);
		return;
	}
	uint32_t head = s->cfg->flows;
	f->hold_since = now;
	f->hold_next = head;
	f->hold_prev = s->flows[head].hold_prev;
	s->flows[f->hold_prev].hold_next = idx;
	s->flows[head].hold_prev = idx;
	f->holding = true;
}

/* ---- events ---- */

void sluice_stream_identity(const struct sluice_stream_ctx *s, uint32_t idx, uint8_t side,
			    struct sluice_event *ev)
{
	const struct sluice_flow_key *k = &s->table.keys[idx];
	ev->stream = 1;
	ev->has_addr = 1;
	ev->has_ports = 1;
	ev->ipv6 = k->ipv6;
	ev->from_client = side == s->flows[idx].client;
	memcpy(ev->src, k->addr[side], 16);
	memcpy(ev->dst, k->addr[side ^ 1], 16);
	ev->sport = k->port[side];
	ev->dport = k->port[side ^ 1];
}

static void report_stream(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			  enum sluice_stream_reason reason, bool reset)
{
	struct sluice_event ev = {
	    .tsc = ctx->burst_tsc,
	    .pack = ctx->gen->pack,
	    .worker = ctx->worker,
	    .kind = SLUICE_EVENT_STREAM,
	    .verdict = SLUICE_ACTION_BLOCK,
	    .reason = (uint8_t)reason,
	    .policy = reset,
	};
	sluice_stream_identity(ctx->streams, idx, side, &ev);
	sluice_emit_event(ctx, &ev);
}

/* ---- resets ---- */

static void give_back_held(struct sluice_stream_ctx *s, struct sluice_tcp_half *h)
{
	struct sluice_tcp_segment out[64];
	uint32_t n;
	while ((n = sluice_tcp_half_drop_held(h, &s->chunks, &s->held, out, 64)) > 0)
		for (uint32_t i = 0; i < n; i++)
			sluice_stream_drop_pkt(s, out[i].pkt);
	sluice_store_clear(&h->store, &s->chunks);
}

/* A reset of Sluice's own toward one side, built from a template segment. */
static void send_rst(struct sluice_stream_ctx *s, const struct sluice_tcp_segment *tmpl,
		     bool reverse, uint32_t seq, uint32_t ack)
{
	if (s->factory.alloc == NULL)
		return;
	uint8_t *data;
	uint32_t cap = tmpl->payload_off + 64u;
	void *pkt = s->factory.alloc(s->factory.arg, &data, cap);
	if (pkt == NULL)
		return;
	size_t len =
	    sluice_tcp_rst_build(data, cap, tmpl->data, tmpl->l3_off, (uint32_t)tmpl->csum_off - 16,
				 tmpl->ipv6, reverse, seq, ack);
	if (len == 0) {
		sluice_stream_drop_pkt(s, pkt);
		return;
	}
	s->factory.set_len(s->factory.arg, pkt, (uint32_t)len);
	/* Toward the template's receiver: its out port; back: the other one. */
	sluice_stream_send(s, pkt, reverse ? tmpl->out_port ^ 1 : tmpl->out_port);
}

/* Resets the flow both ways, as `tmpl` (a segment of side `side`, or NULL)
 * allows: what was held is dropped, and the flow's later segments too. */
void sluice_stream_reset_flow(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			      const struct sluice_tcp_segment *tmpl,
			      enum sluice_stream_reason reason)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	struct sluice_stream_stats *st = &ctx->stats->stream;
	st->reason[reason]++;
	st->flows_reset++;

	/* Without a segment in hand, the side that has held longest names the
	 * reset and lends its headers. The template's bytes stay valid after the
	 * held packets go to drop[]: the caller frees them at the end of the
	 * burst. */
	struct sluice_tcp_segment t;
	bool have = tmpl != NULL;
	if (have) {
		t = *tmpl;
	} else {
		uint64_t oldest = UINT64_MAX;
		for (uint8_t k = 0; k < 2; k++) {
			uint64_t since;
			if (sluice_tcp_half_oldest(&f->half[k], &s->held, &since) &&
			    since < oldest) {
				oldest = since;
				t = s->held.rec[f->half[k].held_head].seg;
				side = k;
				have = true;
			}
		}
	}
	report_stream(ctx, idx, side, reason, true);
	uint32_t to_receiver = 0, to_sender = 0;
	if (have) {
		to_receiver = f->known[side] ? f->half[side].released : t.seq;
		to_sender = f->known[side ^ 1] ? f->half[side ^ 1].released : t.ack;
	}
	give_back_held(s, &f->half[0]);
	give_back_held(s, &f->half[1]);
	if (have) {
		send_rst(s, &t, false, to_receiver, to_sender);
		send_rst(s, &t, true, to_sender, to_receiver);
	}
	hold_list_remove(s, idx);
	f->state = FLOW_RESET;
	sluice_flow_touch(&s->table, idx, SLUICE_FLOW_CLOSING, ctx->burst_tsc);
}

/* Parses what side has, judges its messages and releases what may go.
 * Returns false when the flow was reset. */
static bool advance_side(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			 const struct sluice_tcp_segment *seg, bool *upgraded)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	struct sluice_tcp_half *h = &f->half[side];
	struct sluice_ws_half *ws = &f->ws[side];
	struct sluice_ws_result r;

	for (;;) {
		enum sluice_ws_event ev = sluice_ws_half_next(ws, &h->store, &s->chunks, s->head,
							      s->cfg->strip_deflate, &r);
		if (ev == SLUICE_WS_EV_NONE)
			break;
		switch (ev) {
		case SLUICE_WS_EV_RESPONSE:
			if (!r.resp.upgraded) {
				sluice_stream_reset_flow(ctx, idx, side, seg,
							 SLUICE_STREAM_NOT_UPGRADED);
				return false;
			}
			sluice_ws_half_upgraded(&f->ws[f->client], r.resp.deflate_accepted);
			*upgraded = true;
			break;
		case SLUICE_WS_EV_MESSAGE:
			if (!sluice_stream_on_message(ctx, idx, side, &r.msg, seg))
				return false;
			break;
		case SLUICE_WS_EV_CONTROL:
			ctx->stats->stream.ws_control++;
			break;
		case SLUICE_WS_EV_ERROR:
			ctx->stats->stream.ws_error[r.error]++;
			sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_WS_PROTOCOL);
			return false;
		default:
			break;
		}
	}
	uint32_t judged = sluice_ws_half_judged(ws);
	if (h->fin && h->store.contig == h->fin_seq) {
		/* The stream ended: nothing after judged can complete. */
		if (judged != h->fin_seq) {
			sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_WS_TRUNCATED);
			return false;
		}
	}
	/* Messages queued for the burst's scan are not judged yet. */
	sluice_tcp_half_judge(h, f->pending[side] ? f->pending_start[side] : judged);
	struct sluice_tcp_segment out[64];
	uint32_t n;
	while ((n = sluice_tcp_half_release(h, &s->chunks, &s->held, out, 64)) > 0) {
		ctx->stats->stream.segments_released += n;
		for (uint32_t i = 0; i < n; i++) {
			/* Held before Sluice took custody the other way. */
			sluice_stream_raise_ack(ctx, f, side, &out[i]);
			sluice_stream_send(s, out[i].pkt, out[i].out_port);
		}
	}
	return true;
}

bool sluice_stream_advance(struct sluice_packet_ctx *ctx, uint32_t idx,
			   const struct sluice_tcp_segment *seg)
{
	struct sluice_tcp_flow *f = &ctx->streams->flows[idx];
	uint8_t c = f->client;
	bool upgraded = false;
	if (f->known[c] && !advance_side(ctx, idx, c, seg, &upgraded))
		return false;
	if (f->known[c ^ 1] && !advance_side(ctx, idx, c ^ 1, seg, &upgraded))
		return false;
	/* The 101 lets the client's frames through. */
	if (upgraded && !advance_side(ctx, idx, c, seg, &upgraded))
		return false;
	return true;
}

void sluice_stream_release(struct sluice_packet_ctx *ctx, uint32_t idx)
{
	struct sluice_tcp_flow *f = &ctx->streams->flows[idx];
	if (sluice_stream_advance(ctx, idx, NULL) && f->half[0].fin_released &&
	    f->half[1].fin_released)
		f->state = FLOW_CLOSING;
	hold_list_update(ctx->streams, idx, ctx->burst_tsc);
}

/* ---- segments ---- */

static void open_side(struct sluice_stream_ctx *s, struct sluice_tcp_flow *f, uint8_t side,
		      uint32_t isn)
{
	sluice_tcp_half_init(&f->half[side], isn + 1);
	sluice_ws_half_init(&f->ws[side], isn + 1, side == f->client, s->cfg->max_message);
	f->known[side] = true;
}

/* A segment of no known flow. Returns the flow it opened, or NONE. */
static uint32_t new_flow(struct sluice_packet_ctx *ctx, const struct sluice_flow_key *key,
			 uint64_t hash, uint8_t side, const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_stream_stats *st = &ctx->stats->stream;
	bool syn = seg->flags & SLUICE_TCP_SYN, ack = seg->flags & SLUICE_TCP_ACK;

	if (!syn || ack || seg->payload_len > 0) {
		/* Data of a connection Sluice did not see open cannot be placed
		 * in its framing; a bare ACK or RST carries nothing to scan. */
		if (seg->payload_len > 0 || (seg->flags & SLUICE_TCP_FIN)) {
			sluice_stream_count_drop(st, syn ? SLUICE_STREAM_SYN_DATA
							 : SLUICE_STREAM_MIDSTREAM);
			sluice_stream_drop_pkt(s, seg->pkt);
		} else {
			sluice_stream_send(s, seg->pkt, seg->out_port);
		}
		return SLUICE_FLOW_NONE;
	}
	uint32_t idx =
	    sluice_flow_insert(&s->table, key, hash, SLUICE_FLOW_OPENING, ctx->burst_tsc);
	if (idx == SLUICE_FLOW_NONE) {
		sluice_stream_count_drop(st, SLUICE_STREAM_TABLE_FULL);
		sluice_stream_drop_pkt(s, seg->pkt);
		return SLUICE_FLOW_NONE;
	}
	struct sluice_tcp_flow *f = &s->flows[idx];
	memset(f, 0, sizeof(*f));
	f->client = side;
	f->client_isn = seg->seq;
	f->state = FLOW_OPENING;
	open_side(s, f, side, seg->seq);
	st->flows_opened++;
	st->flows_active = s->table.used;
	sluice_stream_send(s, seg->pkt, seg->out_port);
	return idx;
}

static bool checksum_ok(const struct sluice_tcp_segment *seg, uint32_t l4_off, uint32_t len)
{
	return sluice_tcp_checksum_verify(seg->data + seg->l3_off, seg->ipv6, seg->data + l4_off,
					  len - l4_off) == 0xffff;
}

/* Keeps what a segment's options and window say, for the segments Sluice
 * sends in a side's name. */
static void note_options(struct sluice_tcp_flow *f, uint8_t side, const uint8_t *data,
			 const struct sluice_packet_view *view, struct sluice_tcp_segment *seg)
{
	const uint8_t *tcp = data + view->l4_off;
	f->window[side] = sluice_be16_load(tcp + 14);
	if (view->tcp_flags & SLUICE_TCP_ACK)
		f->last_ack[side] = view->ack;
	uint32_t olen = view->payload_off - view->l4_off - 20;
	if (olen == 0)
		return;
	struct sluice_tcp_options o;
	sluice_tcp_options_parse(tcp + 20, olen, &o);
	seg->sack_blocks = o.sack_blocks;
	if (view->tcp_flags & SLUICE_TCP_SYN) {
		f->sack_permitted[side] = o.sack_permitted;
		f->window_scale[side] = o.window_scale;
		f->shift[side] = o.shift > 14 ? 14 : o.shift;
		f->mss[side] = o.mss;
		f->timestamps = o.timestamps && (side == f->client || f->timestamps);
	}
	if (o.timestamps)
		f->tsval[side] = o.tsval;
}

static enum sluice_stream_reason refusal_reason(enum sluice_seg_refusal why)
{
	switch (why) {
	case SLUICE_SEG_FLOW_BYTES:
		return SLUICE_STREAM_FLOW_BYTES;
	case SLUICE_SEG_NO_MEMORY:
		return SLUICE_STREAM_NO_MEMORY;
	case SLUICE_SEG_OOO_LIMIT:
		return SLUICE_STREAM_OOO_LIMIT;
	case SLUICE_SEG_DUPLICATE:
		return SLUICE_STREAM_DUPLICATE;
	case SLUICE_SEG_AFTER_FIN:
		return SLUICE_STREAM_AFTER_FIN;
	case SLUICE_SEG_OK:
		break;
	}
	return SLUICE_STREAM_OK;
}

/* A segment with payload or FIN on a known side. */
static void data_segment(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			 const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	struct sluice_stream_stats *st = &ctx->stats->stream;
	struct sluice_tcp_half *h = &f->half[side];

	/* TLS on a chat port: a handshake record where the HTTP head belongs. */
	const uint8_t *p = seg->data + seg->payload_off;
	if (f->ws[side].phase == SLUICE_WS_PHASE_HEAD && seg->seq == f->ws[side].parsed &&
	    seg->payload_len >= 3 && p[0] == 0x16 && p[1] == 0x03) {
		sluice_stream_reset_flow(ctx, idx, side, seg, SLUICE_STREAM_TLS);
		sluice_stream_drop_pkt(s, seg->pkt);
		return;
	}
	enum sluice_seg_refusal why;
	uint32_t conflicts = 0;
	enum sluice_seg_action a = sluice_tcp_half_accept(
	    h, &s->chunks, &s->held, seg, s->cfg->flow_bytes, ctx->burst_tsc, &why, &conflicts);
	st->conflict_bytes += conflicts;
	switch (a) {
	case SLUICE_SEG_FORWARD:
		if (sluice_tcp_half_normalise(h, &s->chunks, seg) > 0)
			st->retransmits_rewritten++;
		sluice_stream_send(s, seg->pkt, seg->out_port);
		return;
	case SLUICE_SEG_HELD:
		st->segments_held++;
		break;
	case SLUICE_SEG_DROP: {
		enum sluice_stream_reason r = refusal_reason(why);
		if ((why == SLUICE_SEG_FLOW_BYTES || why == SLUICE_SEG_NO_MEMORY) &&
		    !sluice_seq_lt(h->acked, h->released)) {
			/* Nothing in flight whose acknowledgement would make room:
			 * a message that cannot be held whole cannot be judged.
			 * With bytes in flight, the segment is dropped and TCP
			 * sends it again later, like a full queue. */
			sluice_stream_reset_flow(ctx, idx, side, seg, r);
			sluice_stream_drop_pkt(s, seg->pkt);
			return;
		}
		sluice_stream_count_drop(st, r);
		if (why == SLUICE_SEG_DUPLICATE)
			sluice_stream_custody_ack(ctx, idx, side, seg);
		sluice_stream_drop_pkt(s, seg->pkt);
		return;
	}
	}
	if (sluice_stream_advance(ctx, idx, seg) && f->half[0].fin_released &&
	    f->half[1].fin_released)
		f->state = FLOW_CLOSING;
	hold_list_update(s, idx, ctx->burst_tsc);
}

/* Whether a RST of side carries a sequence number its receiver could accept:
 * from what the receiver acknowledged to the end of its window. A side Sluice
 * has no sequence for (a refused SYN) is believed. */
static bool rst_in_stream(const struct sluice_tcp_flow *f, uint8_t side,
			  const struct sluice_tcp_segment *seg)
{
	if (!f->known[side])
		return true;
	const struct sluice_tcp_half *h = &f->half[side];
	uint8_t shift = sluice_stream_window_shift(f, side ^ 1);
	uint32_t window = (uint32_t)f->window[side ^ 1] << shift;
	uint32_t last = sluice_seq_max(h->store.contig, h->released) + window;
	return sluice_seq_le(h->acked, seg->seq) && sluice_seq_le(seg->seq, last);
}

static void known_flow(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
		       const struct sluice_tcp_segment *seg)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	struct sluice_stream_stats *st = &ctx->stats->stream;
	uint8_t flags = seg->flags;

	if (f->state == FLOW_RESET) {
		sluice_stream_count_drop(st, SLUICE_STREAM_AFTER_RESET);
		sluice_stream_drop_pkt(s, seg->pkt);
		return;
	}
	if (flags & SLUICE_TCP_RST) {
		if (!rst_in_stream(f, side, seg)) {
			/* The endpoint would ignore it too (RFC 5961); obeying it
			 * would let a blind reset cut the flow. */
			sluice_stream_count_drop(st, SLUICE_STREAM_RST_OUTSIDE);
			sluice_stream_drop_pkt(s, seg->pkt);
			return;
		}
		/* Either side gave up: what is held can no longer be delivered, and
		 * nothing after it can be placed in the stream (its store is gone):
		 * later segments are dropped, as after a reset of Sluice's own. */
		give_back_held(s, &f->half[0]);
		give_back_held(s, &f->half[1]);
		hold_list_remove(s, idx);
		f->state = FLOW_RESET;
		sluice_flow_touch(&s->table, idx, SLUICE_FLOW_CLOSING, ctx->burst_tsc);
		sluice_stream_send(s, seg->pkt, seg->out_port);
		return;
	}
	if (flags & SLUICE_TCP_SYN) {
		if (seg->payload_len > 0) {
			/* Data before the handshake completed (TCP Fast Open,
			 * either way) cannot be placed in the stream unjudged. */
			sluice_stream_count_drop(st, SLUICE_STREAM_SYN_DATA);
			sluice_stream_drop_pkt(s, seg->pkt);
			return;
		}
		if (side != f->client && (flags & SLUICE_TCP_ACK) && !f->known[side]) {
			open_side(s, f, side, seg->seq);
			f->state = FLOW_OPEN;
		}
		sluice_stream_send(s, seg->pkt, seg->out_port);
		return;
	}
	enum sluice_flow_class cls =
	    f->state == FLOW_CLOSING ? SLUICE_FLOW_CLOSING : SLUICE_FLOW_ESTABLISHED;
	sluice_flow_touch(&s->table, idx, cls, ctx->burst_tsc);
	if ((flags & SLUICE_TCP_ACK) && f->known[side ^ 1]) {
		if (sluice_tcp_half_in_custody(&f->half[side ^ 1])) {
			sluice_stream_custody_resend(ctx, idx, side, seg);
			sluice_stream_raise_ack(ctx, f, side, seg);
		}
		sluice_tcp_half_ack(&f->half[side ^ 1], &s->chunks, seg->ack);
	}
	if (seg->payload_len == 0 && !(flags & SLUICE_TCP_FIN)) {
		sluice_stream_send(s, seg->pkt, seg->out_port);
		return;
	}
	if (!f->known[side] || !f->known[side ^ 1]) {
		/* Data before the handshake completed. */
		sluice_stream_count_drop(st, SLUICE_STREAM_MIDSTREAM);
		sluice_stream_drop_pkt(s, seg->pkt);
		return;
	}
	data_segment(ctx, idx, side, seg);
}

void sluice_stream_segment(struct sluice_packet_ctx *ctx, void *pkt, uint8_t *data,
			   const struct sluice_packet_view *view, uint8_t in_port,
			   enum sluice_rx_l4 rx_l4)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_stream_stats *st = &ctx->stats->stream;
	const uint8_t *ip = data + view->l3_off;
	const uint8_t *src = view->ipv6 ? ip + 8 : ip + 12;
	const uint8_t *dst = view->ipv6 ? ip + 24 : ip + 16;
	struct sluice_flow_key key;
	uint8_t side;

	st->segments++;
	sluice_flow_key_make(&key, src, dst, view->sport, view->dport, view->ipv6, &side);
	uint64_t hash = sluice_flow_hash(&key);
	struct sluice_tcp_segment seg = {
	    .pkt = pkt,
	    .data = data,
	    .seq = view->seq,
	    .ack = view->ack,
	    .payload_len = view->payload_len,
	    .payload_off = (uint16_t)view->payload_off,
	    .csum_off = (uint16_t)(view->l4_off + 16),
	    .l3_off = (uint16_t)view->l3_off,
	    .flags = view->tcp_flags,
	    .out_port = in_port ^ 1,
	    .ipv6 = view->ipv6,
	};
	/* Every field Sluice acts on must be the sender's: an ACK number
	 * frees stored bytes, and a payload is what gets scanned. */
	if (rx_l4 != SLUICE_RX_L4_UNCHECKED)
		st->checksums_by_port++;
	if (rx_l4 == SLUICE_RX_L4_BAD ||
	    (rx_l4 == SLUICE_RX_L4_UNCHECKED &&
	     !checksum_ok(&seg, view->l4_off, view->payload_off + view->payload_len))) {
		sluice_stream_count_drop(st, SLUICE_STREAM_TCP_CHECKSUM);
		sluice_stream_drop_pkt(s, pkt);
		return;
	}
	uint32_t idx = sluice_flow_lookup(&s->table, &key, hash);
	if (idx != SLUICE_FLOW_NONE &&
	    (seg.flags & (SLUICE_TCP_SYN | SLUICE_TCP_ACK)) == SLUICE_TCP_SYN &&
	    (s->flows[idx].state >= FLOW_CLOSING || side != s->flows[idx].client ||
	     seg.seq != s->flows[idx].client_isn)) {
		/* A new connection on the same addresses and ports (a SYN after
		 * the close, or with another initial sequence number): its
		 * sequence numbers mean nothing in the old flow's store (a byte
		 * "already released" there would pass unscanned), so the old
		 * flow goes. Only a copy of the open flow's own SYN is not new. */
		const struct sluice_tcp_flow *old = &s->flows[idx];
		if (old->state == FLOW_CLOSING || old->state == FLOW_RESET)
			st->flows_closed++;
		else
			st->reason[SLUICE_STREAM_SYN_REOPEN]++;
		forget(ctx, idx);
		idx = SLUICE_FLOW_NONE;
	}
	if (idx == SLUICE_FLOW_NONE) {
		idx = new_flow(ctx, &key, hash, side, &seg);
		if (idx != SLUICE_FLOW_NONE)
			note_options(&s->flows[idx], side, data, view, &seg);
	} else {
		note_options(&s->flows[idx], side, data, view, &seg);
		known_flow(ctx, idx, side, &seg);
	}
	st->held_packets = s->held.count - s->held.free;
	st->held_bytes = (uint64_t)(s->chunks.count - s->chunks.free) * SLUICE_CHUNK_BYTES;
}

void sluice_stream_drop_all(struct sluice_stream_ctx *s)
{
	for (uint32_t i = 0; i < s->cfg->flows; i++) {
		if (!s->table.meta[i].used)
			continue;
		give_back_held(s, &s->flows[i].half[0]);
		give_back_held(s, &s->flows[i].half[1]);
		hold_list_remove(s, i);
		sluice_flow_remove(&s->table, i);
	}
}

static void forget(struct sluice_packet_ctx *ctx, uint32_t idx)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_tcp_flow *f = &s->flows[idx];
	give_back_held(s, &f->half[0]);
	give_back_held(s, &f->half[1]);
	hold_list_remove(s, idx);
	sluice_flow_remove(&s->table, idx);
	ctx->stats->stream.flows_active = s->table.used;
}

void sluice_stream_expire(struct sluice_packet_ctx *ctx, uint64_t now)
{
	struct sluice_stream_ctx *s = ctx->streams;
	struct sluice_stream_stats *st = &ctx->stats->stream;
	uint32_t expired[16];
	uint32_t n = sluice_flow_expired(&s->table, now, expired, 16);
	for (uint32_t i = 0; i < n; i++) {
		struct sluice_tcp_flow *f = &s->flows[expired[i]];
		if (f->state == FLOW_CLOSING || f->state == FLOW_RESET)
			st->flows_closed++;
		else
			st->flows_expired++;
		forget(ctx, expired[i]);
	}
	/* Messages incomplete for too long: the oldest holds first. */
	uint32_t head = s->cfg->flows;
	for (int k = 0; k < 16; k++) {
		uint32_t idx = s->flows[head].hold_next;
		if (idx == head || now - s->flows[idx].hold_since <= s->cfg->hold_timeout)
			break;
		sluice_stream_reset_flow(ctx, idx, s->flows[idx].client, NULL,
					 SLUICE_STREAM_HOLD_TIMEOUT);
	}
	st->held_packets = s->held.count - s->held.free;
	st->held_bytes = (uint64_t)(s->chunks.count - s->chunks.free) * SLUICE_CHUNK_BYTES;
}
