/* WebSocket chat through the sluice program, offline: a capture of one
 * connection (handshake with a compression offer, masked JSON messages from
 * the client, a fragmented message with a ping between its fragments, plain
 * text from the server, segments cut at awkward places, FIN both ways) is
 * replayed through two net_pcap ports. The output is reassembled per
 * direction and its WebSocket messages read back: each is exactly what its
 * verdict says, the JSON around the values is untouched, the offer is gone,
 * every checksum is valid, and the events name the connection. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inet_checksum.h"
#include "packet_build.h"
#include "packet_classify.h"
#include "test_support.h"
#include "websocket.h"
#include "wire_format.h"

#define WS_PORT	  8080
#define CLIENT_PT 40001
#define MAX_PKTS  256
#define STREAM	  65536

struct conv {
	struct ts_packet pkts[MAX_PKTS];
	size_t n;
	struct sluice_endpoints c2s, s2c;
	uint32_t isn[2], next[2]; /* [0] client, [1] server */
};

static void conv_init(struct conv *cv, bool ipv6)
{
	memset(cv, 0, sizeof(*cv));
	sluice_endpoints_default(&cv->c2s, ipv6);
	cv->c2s.src_port = CLIENT_PT;
	cv->c2s.dst_port = WS_PORT;
	cv->s2c = cv->c2s;
	memcpy(cv->s2c.src_mac, cv->c2s.dst_mac, 6);
	memcpy(cv->s2c.dst_mac, cv->c2s.src_mac, 6);
	memcpy(cv->s2c.src_ip, cv->c2s.dst_ip, 16);
	memcpy(cv->s2c.dst_ip, cv->c2s.src_ip, 16);
	cv->s2c.src_port = WS_PORT;
	cv->s2c.dst_port = CLIENT_PT;
	cv->isn[0] = 0xfffff000u; /* wraps during the test */
	cv->isn[1] = 0x12345678u;
	cv->next[0] = cv->isn[0];
	cv->next[1] = cv->isn[1];
}

static void segment(struct conv *cv, int from, uint8_t flags, const uint8_t *payload, size_t len)
{
	cr_assert_lt(cv->n, MAX_PKTS);
	struct sluice_tcp_fields f = {
	    .seq = cv->next[from], .ack = cv->next[from ^ 1], .flags = flags, .window = 65535};
	if (!(flags & 0x10))
		f.ack = 0;
	uint8_t *buf = malloc(2048);
	size_t n =
	    sluice_tcp_packet_build(buf, 2048, from == 0 ? &cv->c2s : &cv->s2c, &f, payload, len);
	cr_assert_gt(n, 0);
	cv->pkts[cv->n++] = (struct ts_packet){.data = buf, .len = n};
	cv->next[from] += (uint32_t)len + ((flags & 0x03) ? 1 : 0); /* SYN, FIN */
}

/* Sends bytes in segments of at most mss, PSH|ACK. */
static void send_bytes(struct conv *cv, int from, const void *bytes, size_t len, size_t mss)
{
	const uint8_t *p = bytes;
	while (len > 0) {
		size_t n = len < mss ? len : mss;
		segment(cv, from, 0x18, p, n);
		p += n;
		len -= n;
	}
}

static size_t frame(uint8_t *out, bool fin, uint8_t opcode, bool masked, const char *text)
{
	static const uint8_t key[4] = {0xa1, 0x02, 0xc3, 0x44};
	size_t len = strlen(text);
	size_t h = sluice_ws_header_build(out, fin, 0, opcode, masked ? key : NULL, len);
	memcpy(out + h, text, len);
	if (masked)
		sluice_ws_mask(out + h, out + h, len, key, 0);
	return h + len;
}

static const char request[] =
    "GET /room/7 HTTP/1.1\r\n"
    "Host: chat.example\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";
static const char response[] = "HTTP/1.1 101 Switching Protocols\r\n"
			       "Upgrade: websocket\r\n"
			       "Connection: Upgrade\r\n"
			       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			       "\r\n";

/* Client messages; the uid is a phone-shaped number that must not be
 * scanned (it is not a configured member). */
static const char *const client_msgs[] = {
    "{\"type\":\"chat\",\"uid\":13812345678,\"data\":{\"text\":\"hello everyone\"}}",
    "{\"type\":\"chat\",\"uid\":13812345678,\"data\":{\"text\":\"call me 13812345678 tonight\"}}",
    "{\"type\":\"chat\",\"data\":{\"content\":\"join our online casino now\"}}",
    "{\"type\":\"chat\",\"data\":{\"text\":\"有问题私聊\"}}",
    "{\"text\":\"call me \\u0031\\u0033812345678 tonight\"}",
};
/* What the server must receive. */
static const char *const client_want[] = {
    "{\"type\":\"chat\",\"uid\":13812345678,\"data\":{\"text\":\"hello everyone\"}}",
    "{\"type\":\"chat\",\"uid\":13812345678,\"data\":{\"text\":\"call me *********** tonight\"}}",
    "{\"type\":\"chat\",\"data\":{\"content\":\"**************************\"}}",
    "{\"type\":\"chat\",\"data\":{\"text\":\"有问题私聊\"}}",
    "{\"text\":\"call me ********************* tonight\"}",
};
#define FRAGMENTED_IN  "call me 138"
#define FRAGMENTED_IN2 "12345678 tonight"
#define FRAGMENTED_OUT "call me *********** tonight"
#define SERVER_IN      "welcome! questions? call 13812345678"
#define SERVER_OUT     "welcome! questions? call ***********"

static void build_conversation(struct conv *cv, bool ipv6)
{
	conv_init(cv, ipv6);
	segment(cv, 0, 0x02, NULL, 0); /* SYN */
	segment(cv, 1, 0x12, NULL, 0); /* SYN-ACK */
	segment(cv, 0, 0x10, NULL, 0); /* ACK */
	send_bytes(cv, 0, request, strlen(request), 60);
	send_bytes(cv, 1, response, strlen(response), 1400);
	segment(cv, 0, 0x10, NULL, 0);

	/* Client messages, cut into 23-byte segments: headers and values split. */
	static uint8_t buf[8192];
	size_t n = 0;
	for (size_t i = 0; i < sizeof(client_msgs) / sizeof(client_msgs[0]); i++)
		n += frame(buf + n, true, SLUICE_WS_TEXT, true, client_msgs[i]);
	send_bytes(cv, 0, buf, n, 23);
	/* A fragmented message with a ping between its fragments. */
	n = frame(buf, false, SLUICE_WS_TEXT, true, FRAGMENTED_IN);
	n += frame(buf + n, true, SLUICE_WS_PING, true, "ping");
	n += frame(buf + n, true, SLUICE_WS_CONTINUATION, true, FRAGMENTED_IN2);
	send_bytes(cv, 0, buf, n, 9);
	segment(cv, 1, 0x10, NULL, 0);
	/* The server answers in plain text, unmasked. */
	n = frame(buf, true, SLUICE_WS_TEXT, false, SERVER_IN);
	send_bytes(cv, 1, buf, n, 1400);
	segment(cv, 0, 0x10, NULL, 0);
	segment(cv, 0, 0x11, NULL, 0); /* FIN */
	segment(cv, 1, 0x11, NULL, 0);
	segment(cv, 0, 0x10, NULL, 0);
}

struct direction {
	uint8_t bytes[STREAM];
	bool have[STREAM];
	uint32_t isn;
	bool isn_known;
	uint32_t len;
};

/* Reassembles the output per direction (by sequence number) and checks each
 * segment's checksum. */
static void reassemble(const struct ts_capture *cap, struct direction dir[2], size_t *segments)
{
	static uint64_t ports[1024];
	ports[WS_PORT >> 6] |= 1ull << (WS_PORT & 63);
	const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
	*segments = 0;
	for (size_t i = 0; i < cap->count; i++) {
		const uint8_t *p = cap->packets[i].data;
		struct sluice_packet_view v;
		enum sluice_bad_reason why;
		cr_assert_eq(
		    sluice_packet_classify_ports(p, (uint32_t)cap->packets[i].len, &set, &v, &why),
		    SLUICE_PKT_STREAM);
		uint32_t tcp_len = v.payload_off + v.payload_len - v.l4_off;
		cr_assert_eq(
		    sluice_tcp_checksum_verify(p + v.l3_off, v.ipv6, p + v.l4_off, tcp_len), 0xffff,
		    "packet %zu: bad TCP checksum", i);
		struct direction *d = &dir[v.sport == WS_PORT];
		if (v.tcp_flags & 0x02) {
			d->isn = v.seq;
			d->isn_known = true;
			continue;
		}
		cr_assert(d->isn_known, "data before the SYN");
		uint32_t off = v.seq - d->isn - 1;
		for (uint32_t k = 0; k < v.payload_len; k++) {
			cr_assert_lt(off + k, STREAM);
			if (d->have[off + k])
				cr_assert_eq(d->bytes[off + k], p[v.payload_off + k],
					     "a byte sent twice differently");
			d->bytes[off + k] = p[v.payload_off + k];
			d->have[off + k] = true;
		}
		if (v.payload_len > 0 && off + v.payload_len > d->len)
			d->len = off + v.payload_len;
		(*segments)++;
	}
}

/* The data messages in a direction after its HTTP head. */
static int messages_of(const struct direction *d, char out[][512], int max)
{
	for (uint32_t i = 0; i < d->len; i++)
		cr_assert(d->have[i], "gap at %u of %u", i, d->len);
	const uint8_t *end_head = (const uint8_t *)memmem(d->bytes, d->len, "\r\n\r\n", 4);
	cr_assert_not_null(end_head);
	uint32_t pos = (uint32_t)(end_head - d->bytes) + 4;
	int count = 0;
	size_t cur = 0;
	while (pos < d->len) {
		struct sluice_ws_header h;
		enum sluice_ws_error e;
		bool from_client = d->bytes[pos + 1] & 0x80;
		cr_assert_eq(sluice_ws_header_parse(d->bytes + pos, d->len - pos, from_client,
						    false, &h, &e),
			     SLUICE_WS_HEADER, "frame at %u: %s", pos, sluice_ws_error_name(e));
		uint8_t payload[512];
		cr_assert_lt(h.payload_len, sizeof(payload));
		memcpy(payload, d->bytes + pos + h.header_len, h.payload_len);
		if (h.masked)
			sluice_ws_mask(payload, payload, h.payload_len, h.key, 0);
		pos += h.header_len + (uint32_t)h.payload_len;
		if (h.opcode >= SLUICE_WS_CLOSE)
			continue;
		cr_assert_lt(count, max);
		memcpy(out[count] + cur, payload, h.payload_len);
		cur += h.payload_len;
		if (h.fin) {
			out[count][cur] = 0;
			count++;
			cur = 0;
		}
	}
	return count;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strdup(buf);
}

static void run_conversation(bool ipv6)
{
	struct conv cv;
	build_conversation(&cv, ipv6);
	struct ts_offline_run r;
	ts_offline_prepare(&r);
	cr_assert_eq(ts_pcap_write(r.in_a, cv.pkts, cv.n), 0);
	cr_assert_eq(ts_pcap_write(r.in_b, NULL, 0), 0);
	char *rules = ts_source_path("patterns/rules/default.yaml");
	const char *extra[] = {"--ws-port", "8080", "--ws-members", "text,content", NULL};
	ts_offline_sluice(&r, rules, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);

	struct ts_capture out;
	cr_assert_eq(ts_pcap_read(r.out_b, &out), 0);
	cr_assert_eq(out.count, cv.n, "every packet of the conversation comes out (%zu of %zu)",
		     out.count, cv.n);
	static struct direction dir[2];
	memset(dir, 0, sizeof(dir));
	size_t segments;
	reassemble(&out, dir, &segments);

	/* The offer is renamed in place, the rest of the head unchanged. */
	cr_assert_eq(memcmp(dir[0].bytes, request, 20), 0);
	cr_assert_null(memmem(dir[0].bytes, strlen(request), "Sec-WebSocket-Extensions", 24));
	cr_assert_not_null(memmem(dir[0].bytes, strlen(request), "permessage-deflate", 18));

	static char got[8][512];
	int n = messages_of(&dir[0], got, 8);
	size_t want_n = sizeof(client_want) / sizeof(client_want[0]);
	cr_assert_eq(n, (int)want_n + 1);
	for (size_t i = 0; i < want_n; i++)
		cr_assert_str_eq(got[i], client_want[i], "client message %zu", i);
	cr_assert_str_eq(got[want_n], FRAGMENTED_OUT);
	n = messages_of(&dir[1], got, 8);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(got[0], SERVER_OUT);

	/* Events name the connection and the direction. */
	FILE *f = fopen(r.events, "r");
	cr_assert_not_null(f);
	char line[4096];
	int phone_events = 0, server_events = 0, block_events = 0, flag_events = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!strstr(line, "\"event\":\"match\""))
			continue;
		cr_assert_not_null(strstr(line, "\"dport\":"), "%s", line);
		cr_assert_null(strstr(line, "\"msg_id\""), "%s", line);
		phone_events += strstr(line, "phone-cn-mobile") != NULL;
		server_events += strstr(line, "server_to_client") != NULL;
		block_events += strstr(line, "\"verdict\":\"block\"") != NULL;
		flag_events += strstr(line, "\"verdict\":\"flag\"") != NULL;
		if (strstr(line, "client_to_server"))
			cr_assert_not_null(
			    strstr(line, ipv6 ? "\"sport\":40001" : "\"src\":\"198.18.0.1\""), "%s",
			    line);
	}
	fclose(f);
	cr_assert_eq(phone_events, 4,
		     "the phone in two JSON values, the fragmented message and "
		     "the server's: the uid is never scanned");
	cr_assert_eq(server_events, 1);
	cr_assert_geq(block_events, 1);
	cr_assert_eq(flag_events, 1);

	/* Counters. */
	char *summary = read_all(r.summary);
	cr_assert_not_null(strstr(summary, "\"ws_messages\":7"), "%s", summary);
	cr_assert_not_null(strstr(summary, "\"json_messages\":5"), "%s", summary);
	cr_assert_not_null(strstr(summary, "\"flows_opened\":1"), "%s", summary);
	cr_assert_not_null(strstr(summary, "\"segments_dropped\":0"), "%s", summary);
	free(summary);
	ts_capture_free(&out);
	for (size_t i = 0; i < cv.n; i++)
		free(cv.pkts[i].data);
	free(rules);
	ts_offline_free(&r);
}

Test(ws_offline, ipv4_conversation_comes_out_judged_message_by_message, .timeout = 120)
{
	run_conversation(false);
}

Test(ws_offline, ipv6_conversation_comes_out_judged_message_by_message, .timeout = 120)
{
	run_conversation(true);
}
