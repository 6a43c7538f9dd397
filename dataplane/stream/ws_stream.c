#include "ws_stream.h"

#include <string.h>

static const char *const error_names[SLUICE_WS_STREAM_ERROR_COUNT] = {
    [SLUICE_WS_STREAM_OK] = "ok",
    [SLUICE_WS_STREAM_FRAME] = "ws_frame",
    [SLUICE_WS_STREAM_HEAD] = "ws_http_head",
    [SLUICE_WS_STREAM_NOT_UPGRADE] = "ws_not_upgrade",
    [SLUICE_WS_STREAM_CONTINUATION] = "ws_orphan_continuation",
    [SLUICE_WS_STREAM_INTERLEAVED] = "ws_interleaved_message",
    [SLUICE_WS_STREAM_TOO_BIG] = "ws_message_too_big",
    [SLUICE_WS_STREAM_TOO_FRAGMENTED] = "ws_too_fragmented",
    [SLUICE_WS_STREAM_AFTER_CLOSE] = "ws_after_close",
    [SLUICE_WS_STREAM_BAD_CLOSE] = "ws_bad_close",
};

const char *sluice_ws_stream_error_name(enum sluice_ws_stream_error e)
{
	if ((unsigned)e >= SLUICE_WS_STREAM_ERROR_COUNT)
		return "unknown";
	return error_names[e];
}

void sluice_ws_half_init(struct sluice_ws_half *ws, uint32_t seq, bool from_client,
			 uint32_t max_message)
{
	memset(ws, 0, sizeof(*ws));
	ws->phase = SLUICE_WS_PHASE_HEAD;
	ws->from_client = from_client;
	ws->parsed = seq;
	ws->msg_start = seq;
	ws->max_message = max_message;
}

void sluice_ws_half_upgraded(struct sluice_ws_half *ws, bool deflate)
{
	if (ws->phase == SLUICE_WS_PHASE_WAIT) {
		ws->phase = SLUICE_WS_PHASE_FRAMES;
		ws->deflate = deflate;
	}
}

uint32_t sluice_ws_half_judged(const struct sluice_ws_half *ws)
{
	return ws->in_message ? ws->msg_start : ws->parsed;
}

static enum sluice_ws_event fail(struct sluice_ws_half *ws, struct sluice_ws_result *out,
				 enum sluice_ws_stream_error e)
{
	ws->phase = SLUICE_WS_PHASE_FAILED;
	out->error = e;
	return SLUICE_WS_EV_ERROR;
}

static enum sluice_ws_event read_head(struct sluice_ws_half *ws, struct sluice_stream_store *store,
				      struct sluice_chunk_pool *pool, uint8_t *head,
				      bool strip_extensions, struct sluice_ws_result *out)
{
	uint32_t avail = store->contig - ws->parsed;
	if (avail == 0)
		return SLUICE_WS_EV_NONE;
	uint32_t n = avail < SLUICE_WS_MAX_HEAD ? avail : SLUICE_WS_MAX_HEAD;
	sluice_store_read(store, pool, ws->parsed, head, n);
	enum sluice_http_head r;
	uint32_t head_len;
	if (ws->from_client) {
		r = sluice_ws_request_parse(head, n, SLUICE_WS_MAX_HEAD, strip_extensions,
					    &out->req);
		head_len = out->req.head_len;
	} else {
		r = sluice_ws_response_parse(head, n, SLUICE_WS_MAX_HEAD, &out->resp);
		head_len = out->resp.head_len;
	}
	if (r == SLUICE_HTTP_NEED_MORE)
		return n == SLUICE_WS_MAX_HEAD ? fail(ws, out, SLUICE_WS_STREAM_HEAD)
					       : SLUICE_WS_EV_NONE;
	if (r == SLUICE_HTTP_BAD)
		return fail(ws, out, SLUICE_WS_STREAM_HEAD);
	if (ws->from_client) {
		if (!out->req.upgrade_websocket)
			return fail(ws, out, SLUICE_WS_STREAM_NOT_UPGRADE);
		if (out->req.extensions_stripped)
			sluice_store_overwrite(store, pool, ws->parsed, head, head_len);
		ws->phase = SLUICE_WS_PHASE_WAIT;
	} else {
		/* Not upgraded: the caller decides (the flow is not WebSocket). */
		ws->phase = out->resp.upgraded ? SLUICE_WS_PHASE_FRAMES : SLUICE_WS_PHASE_FAILED;
		ws->deflate = out->resp.deflate_accepted;
	}
	ws->parsed += head_len;
	ws->msg_start = ws->parsed;
	return ws->from_client ? SLUICE_WS_EV_REQUEST : SLUICE_WS_EV_RESPONSE;
}

static enum sluice_ws_event control_frame(struct sluice_ws_half *ws,
					  struct sluice_stream_store *store,
					  struct sluice_chunk_pool *pool,
					  const struct sluice_ws_header *h, uint32_t start,
					  struct sluice_ws_result *out)
{
	struct sluice_ws_message *msg = &out->msg;
	uint32_t len = (uint32_t)h->payload_len;
	msg->opcode = h->opcode;
	msg->compressed = false;
	msg->nfrag = 1;
	msg->len = len;
	msg->start = start;
	msg->end = start + h->header_len + len;
	msg->control = (struct sluice_ws_fragment){
	    .seq = start + h->header_len, .len = len, .masked = h->masked};
	memcpy(msg->control.key, h->key, 4);
	msg->frag = &msg->control;
	if (h->opcode == SLUICE_WS_CLOSE) {
		uint8_t payload[SLUICE_WS_MAX_CONTROL_PAYLOAD];
		sluice_ws_message_read(msg, store, pool, payload);
		if (!sluice_ws_close_payload_valid(payload, len))
			return fail(ws, out, SLUICE_WS_STREAM_BAD_CLOSE);
		ws->phase = SLUICE_WS_PHASE_CLOSED;
	}
	ws->parsed = msg->end;
	if (!ws->in_message)
		ws->msg_start = ws->parsed;
	return SLUICE_WS_EV_CONTROL;
}

/* A complete data frame: it opens, continues or ends the message. */
static enum sluice_ws_event data_frame(struct sluice_ws_half *ws, const struct sluice_ws_header *h,
				       uint32_t start, struct sluice_ws_result *out)
{
	if (h->opcode == SLUICE_WS_CONTINUATION) {
		if (!ws->in_message)
			return fail(ws, out, SLUICE_WS_STREAM_CONTINUATION);
	} else {
		if (ws->in_message)
			return fail(ws, out, SLUICE_WS_STREAM_INTERLEAVED);
		ws->in_message = true;
		ws->msg_start = start;
		ws->msg_len = 0;
		ws->nfrag = 0;
		ws->msg_opcode = h->opcode;
		ws->msg_compressed = (h->rsv & SLUICE_WS_RSV1) != 0;
	}
	if (ws->nfrag == SLUICE_WS_MAX_FRAGMENTS)
		return fail(ws, out, SLUICE_WS_STREAM_TOO_FRAGMENTED);
	uint32_t len = (uint32_t)h->payload_len;
	struct sluice_ws_fragment *f = &ws->frag[ws->nfrag++];
	*f = (struct sluice_ws_fragment){
	    .seq = start + h->header_len, .len = len, .masked = h->masked};
	memcpy(f->key, h->key, 4);
	ws->msg_len += len;
	ws->parsed = start + h->header_len + len;
	if (!h->fin)
		return SLUICE_WS_EV_NONE;

	struct sluice_ws_message *msg = &out->msg;
	msg->opcode = ws->msg_opcode;
	msg->compressed = ws->msg_compressed;
	msg->nfrag = ws->nfrag;
	msg->len = ws->msg_len;
	msg->start = ws->msg_start;
	msg->end = ws->parsed;
	msg->frag = ws->frag;
	ws->in_message = false;
	ws->msg_start = ws->parsed;
	return SLUICE_WS_EV_MESSAGE;
}

static enum sluice_ws_event next_frame(struct sluice_ws_half *ws, struct sluice_stream_store *store,
				       struct sluice_chunk_pool *pool, struct sluice_ws_result *out)
{
	for (;;) {
		uint32_t avail = store->contig - ws->parsed;
		if (avail < 2)
			return SLUICE_WS_EV_NONE;
		uint8_t hb[SLUICE_WS_MAX_HEADER];
		uint32_t n = avail < sizeof(hb) ? avail : (uint32_t)sizeof(hb);
		sluice_store_read(store, pool, ws->parsed, hb, n);
		struct sluice_ws_header h;
		enum sluice_ws_parse r = sluice_ws_header_parse(hb, n, ws->from_client, ws->deflate,
								&h, &out->frame_error);
		if (r == SLUICE_WS_NEED_MORE)
			return SLUICE_WS_EV_NONE;
		if (r == SLUICE_WS_BAD)
			return fail(ws, out, SLUICE_WS_STREAM_FRAME);
		/* Refused on its header: a message this large is never waited for. */
		bool control = h.opcode >= SLUICE_WS_CLOSE;
		uint64_t so_far = control ? 0 : (ws->in_message ? ws->msg_len : 0);
		if (h.payload_len > ws->max_message - so_far)
			return fail(ws, out, SLUICE_WS_STREAM_TOO_BIG);
		if ((uint64_t)avail < h.header_len + h.payload_len)
			return SLUICE_WS_EV_NONE;
		uint32_t start = ws->parsed;
		if (control)
			return control_frame(ws, store, pool, &h, start, out);
		enum sluice_ws_event ev = data_frame(ws, &h, start, out);
		if (ev != SLUICE_WS_EV_NONE)
			return ev;
	}
}

enum sluice_ws_event sluice_ws_half_next(struct sluice_ws_half *ws,
					 struct sluice_stream_store *store,
					 struct sluice_chunk_pool *pool, uint8_t *head,
					 bool strip_extensions, struct sluice_ws_result *out)
{
	out->error = SLUICE_WS_STREAM_OK;
	out->frame_error = SLUICE_WS_OK;
	switch ((enum sluice_ws_phase)ws->phase) {
	case SLUICE_WS_PHASE_HEAD:
		return read_head(ws, store, pool, head, strip_extensions, out);
	case SLUICE_WS_PHASE_FRAMES:
		return next_frame(ws, store, pool, out);
	case SLUICE_WS_PHASE_CLOSED:
		if (store->contig != ws->parsed)
			return fail(ws, out, SLUICE_WS_STREAM_AFTER_CLOSE);
		return SLUICE_WS_EV_NONE;
	case SLUICE_WS_PHASE_WAIT:
	case SLUICE_WS_PHASE_FAILED:
		break;
	}
	return SLUICE_WS_EV_NONE;
}

void sluice_ws_message_read(const struct sluice_ws_message *msg,
			    const struct sluice_stream_store *store,
			    const struct sluice_chunk_pool *pool, uint8_t *dst)
{
	for (uint32_t i = 0; i < msg->nfrag; i++) {
		const struct sluice_ws_fragment *f = &msg->frag[i];
		if (!f->masked) {
			sluice_store_read(store, pool, f->seq, dst, f->len);
			dst += f->len;
			continue;
		}
		/* Unmasked as it is read, run by run of the store: one pass. */
		for (uint32_t done = 0; done < f->len;) {
			const uint8_t *p;
			uint32_t run =
			    sluice_store_peek(store, pool, f->seq + done, f->len - done, &p);
			sluice_ws_mask(dst, p, run, f->key, done);
			dst += run;
			done += run;
		}
	}
}

void sluice_ws_message_write(const struct sluice_ws_message *msg, struct sluice_stream_store *store,
			     struct sluice_chunk_pool *pool, uint32_t off, const uint8_t *src,
			     uint32_t len)
{
	uint8_t buf[256];
	uint32_t base = 0;
	for (uint32_t i = 0; i < msg->nfrag && len > 0; i++) {
		const struct sluice_ws_fragment *f = &msg->frag[i];
		if (off >= base + f->len) {
			base += f->len;
			continue;
		}
		/* Masked again with the frame's own key, at the byte's own phase. */
		while (len > 0 && off < base + f->len) {
			uint32_t in = off - base;
			uint32_t run = f->len - in;
			if (run > len)
				run = len;
			if (run > sizeof(buf))
				run = sizeof(buf);
			memcpy(buf, src, run);
			if (f->masked)
				sluice_ws_mask(buf, buf, run, f->key, in);
			sluice_store_overwrite(store, pool, f->seq + in, buf, run);
			off += run;
			src += run;
			len -= run;
		}
		base += f->len;
	}
}
