/* sluice-pack: WebSocket messages out of TCP connections in a capture, read
 * with the gateway's own stream library (dataplane/stream/): the same flow
 * keys, the same first-bytes-win store, the same WebSocket parser and limits.
 * A capture is not a live path, so nothing is held or released here: each
 * direction's bytes are parsed as they become contiguous, and every message
 * the gateway would judge is handed to the caller, with the connection and
 * the direction. Where the gateway would reset a connection, the caller hears
 * why (SP_STREAM_REASON_BASE + enum sluice_stream_reason), and the
 * connection's later bytes are ignored, as the gateway drops them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "cli.h"
#include "flow_table.h"
#include "inet_checksum.h"
#include "packet_classify.h"
#include "stream_stats.h"
#include "utf8.h"
#include "ws_stream.h"

#define FLOWS	    4096
#define FLOW_BYTES  (1u << 20)
#define POOL_CHUNKS 8192

struct sp_flow {
	struct sluice_stream_store store[2];
	struct sluice_ws_half ws[2];
	bool known[2];
	bool reset;
	uint8_t client;
};

struct sp_streams {
	const uint64_t *ports;
	uint32_t max_message;
	struct sluice_flow_table table;
	struct sp_flow *flows;
	struct sluice_chunk_pool pool;
	uint8_t head[SLUICE_WS_MAX_HEAD];
	uint8_t *text;
};

struct sp_streams *sp_streams_new(const uint64_t *ports, uint32_t max_message)
{
	struct sp_streams *s = calloc(1, sizeof(*s));
	const uint64_t timeouts[SLUICE_FLOW_CLASSES] = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
	if (s == NULL)
		return NULL;
	s->ports = ports;
	s->max_message = max_message;
	s->flows = calloc(FLOWS, sizeof(*s->flows));
	s->text = malloc((size_t)max_message + 64);
	if (s->flows == NULL || s->text == NULL ||
	    sluice_flow_table_init(&s->table, FLOWS, timeouts, &sluice_libc_allocator) != 0 ||
	    sluice_chunk_pool_init(&s->pool, POOL_CHUNKS, &sluice_libc_allocator) != 0) {
		sp_streams_free(s);
		return NULL;
	}
	return s;
}

void sp_streams_free(struct sp_streams *s)
{
	if (s == NULL)
		return;
	sluice_flow_table_fini(&s->table);
	sluice_chunk_pool_fini(&s->pool);
	free(s->flows);
	free(s->text);
	free(s);
}

static void endpoint(char *out, size_t cap, const uint8_t *addr, bool ipv6, uint16_t port)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(ipv6 ? AF_INET6 : AF_INET, addr, a, sizeof(a));
	snprintf(out, cap, ipv6 ? "[%s]:%u" : "%s:%u", a, port);
}

static int reset(struct sp_flow *f, unsigned long no, enum sluice_stream_reason why,
		 const struct sp_capture_cb *cb, struct sp_capture_stats *st)
{
	f->reset = true;
	st->bad++;
	st->bad_by_reason[SP_STREAM_REASON_BASE + why]++;
	return cb->bad ? cb->bad(cb->ctx, no, SP_STREAM_REASON_BASE + why) : 0;
}

/* Hands over every whole message side has; returns a callback's result. */
static int parse_side(struct sp_streams *s, uint32_t idx, uint8_t side, unsigned long no,
		      const struct sp_capture_cb *cb, struct sp_capture_stats *st, bool *upgraded)
{
	struct sp_flow *f = &s->flows[idx];
	const struct sluice_flow_key *k = &s->table.keys[idx];
	struct sluice_ws_result r;
	for (;;) {
		enum sluice_ws_event ev =
		    sluice_ws_half_next(&f->ws[side], &f->store[side], &s->pool, s->head, true, &r);
		if (ev == SLUICE_WS_EV_NONE)
			return 0;
		if (ev == SLUICE_WS_EV_ERROR)
			return reset(f, no, SLUICE_STREAM_WS_PROTOCOL, cb, st);
		if (ev == SLUICE_WS_EV_RESPONSE) {
			if (!r.resp.upgraded)
				return reset(f, no, SLUICE_STREAM_NOT_UPGRADED, cb, st);
			sluice_ws_half_upgraded(&f->ws[f->client], r.resp.deflate_accepted);
			*upgraded = true;
			continue;
		}
		if (ev != SLUICE_WS_EV_MESSAGE)
			continue;
		if (r.msg.compressed)
			return reset(f, no, SLUICE_STREAM_WS_COMPRESSED, cb, st);
		if (r.msg.opcode == SLUICE_WS_BINARY)
			return reset(f, no, SLUICE_STREAM_WS_BINARY, cb, st);
		sluice_ws_message_read(&r.msg, &f->store[side], &s->pool, s->text);
		if (!sluice_utf8_valid(s->text, r.msg.len))
			return reset(f, no, SLUICE_STREAM_INVALID_UTF8, cb, st);
		struct sp_wire_msg m = {
		    .stream = true,
		    .from_client = side == f->client,
		    .text = (const char *)s->text,
		    .text_len = r.msg.len,
		};
		endpoint(m.src, sizeof(m.src), k->addr[side], k->ipv6, k->port[side]);
		endpoint(m.dst, sizeof(m.dst), k->addr[side ^ 1], k->ipv6, k->port[side ^ 1]);
		st->messages++;
		int rc = cb->message ? cb->message(cb->ctx, no, &m) : 0;
		if (rc != 0)
			return rc;
		/* Judged: the bytes are no longer needed. */
		sluice_store_ack(&f->store[side], &s->pool, sluice_ws_half_judged(&f->ws[side]));
	}
}

static bool checksum_ok(const uint8_t *pkt, const struct sluice_packet_view *v)
{
	uint32_t len = v->payload_off + v->payload_len - v->l4_off;
	return sluice_tcp_checksum_verify(pkt + v->l3_off, v->ipv6, pkt + v->l4_off, len) == 0xffff;
}

int sp_streams_segment(struct sp_streams *s, unsigned long no, const uint8_t *pkt,
		       const struct sluice_packet_view *v, const struct sp_capture_cb *cb,
		       struct sp_capture_stats *st)
{
	const uint8_t *ip = pkt + v->l3_off;
	struct sluice_flow_key key;
	uint8_t side;
	sluice_flow_key_make(&key, v->ipv6 ? ip + 8 : ip + 12, v->ipv6 ? ip + 24 : ip + 16,
			     v->sport, v->dport, v->ipv6, &side);
	uint64_t hash = sluice_flow_hash(&key);
	uint32_t idx = sluice_flow_lookup(&s->table, &key, hash);
	bool syn = v->tcp_flags & 0x02, ack = v->tcp_flags & 0x10;
	st->segments++;

	if (idx == SLUICE_FLOW_NONE) {
		if (!syn || ack) {
			if (v->payload_len > 0 || (v->tcp_flags & 0x01))
				st->bad_by_reason[SP_STREAM_REASON_BASE +
						  SLUICE_STREAM_MIDSTREAM]++;
			return 0;
		}
		idx = sluice_flow_insert(&s->table, &key, hash, SLUICE_FLOW_OPENING, 0);
		if (idx == SLUICE_FLOW_NONE)
			return 0;
		struct sp_flow *f = &s->flows[idx];
		memset(f, 0, sizeof(*f));
		f->client = side;
	}
	struct sp_flow *f = &s->flows[idx];
	if (f->reset)
		return 0;
	if (syn) {
		if (!f->known[side]) {
			sluice_store_init(&f->store[side], v->seq + 1);
			sluice_ws_half_init(&f->ws[side], v->seq + 1, side == f->client,
					    s->max_message);
			f->known[side] = true;
		}
		return 0;
	}
	if (v->payload_len == 0 || !f->known[0] || !f->known[1])
		return 0;
	if (!checksum_ok(pkt, v)) {
		st->bad_by_reason[SP_STREAM_REASON_BASE + SLUICE_STREAM_TCP_CHECKSUM]++;
		return 0;
	}
	const uint8_t *p = pkt + v->payload_off;
	if (f->ws[side].phase == SLUICE_WS_PHASE_HEAD && v->seq == f->ws[side].parsed &&
	    v->payload_len >= 3 && p[0] == 0x16 && p[1] == 0x03)
		return reset(f, no, SLUICE_STREAM_TLS, cb, st);
	enum sluice_store_result w = sluice_store_write(&f->store[side], &s->pool, v->seq, p,
							v->payload_len, FLOW_BYTES, NULL);
	if (w == SLUICE_STORE_TOO_FAR || w == SLUICE_STORE_NO_MEMORY)
		return reset(f, no, SLUICE_STREAM_FLOW_BYTES, cb, st);
	if (w != SLUICE_STORE_OK)
		return 0;
	bool upgraded = false;
	uint8_t c = f->client;
	int rc = parse_side(s, idx, c, no, cb, st, &upgraded);
	if (rc == 0 && !f->reset)
		rc = parse_side(s, idx, c ^ 1, no, cb, st, &upgraded);
	if (rc == 0 && !f->reset && upgraded)
		rc = parse_side(s, idx, c, no, cb, st, &upgraded);
	return rc;
}
