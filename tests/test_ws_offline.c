/* WebSocket chat through the sluice program, offline: a capture of one
 * connection (handshake with a compression offer, masked JSON messages from
 * the client, a fragmented message with a ping between its fragments, plain
 * text from the server, segments cut at awkward places, FIN both ways) is
 * replayed through two net_pcap ports. The output is reassembled per
 * direction and its WebSocket messages read back: each is exactly what its
 * verdict says, the JSON around the values is untouched, the offer is gone,
 * every checksum is valid, and the events name the connection. One test runs
 * on two net_tap ports instead, which verify TCP checksums on receive. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "inet_checksum.h"
#include "json_value.h"
#include "packet_build.h"
#include "packet_classify.h"
#include "siphash.h"
#include "test_support.h"
#include "websocket.h"
#include "wire_format.h"

#define WS_PORT	  8080
#define CLIENT_PT 40001
#define MAX_PKTS  1024
#define STREAM	  65536

/* The packets of a capture, from one or more conversations. */
struct pkt_list {
	struct ts_packet pkts[MAX_PKTS];
	size_t n;
};

struct conv {
	struct pkt_list *out;
	struct sluice_endpoints c2s, s2c;
	uint32_t isn[2], next[2]; /* [0] client, [1] server */
};

static void conv_open(struct conv *cv, struct pkt_list *out, bool ipv6, uint16_t client_port)
{
	memset(cv, 0, sizeof(*cv));
	cv->out = out;
	sluice_endpoints_default(&cv->c2s, ipv6);
	cv->c2s.src_port = client_port;
	cv->c2s.dst_port = WS_PORT;
	cv->s2c = cv->c2s;
	memcpy(cv->s2c.src_mac, cv->c2s.dst_mac, 6);
	memcpy(cv->s2c.dst_mac, cv->c2s.src_mac, 6);
	memcpy(cv->s2c.src_ip, cv->c2s.dst_ip, 16);
	memcpy(cv->s2c.dst_ip, cv->c2s.src_ip, 16);
	cv->s2c.src_port = WS_PORT;
	cv->s2c.dst_port = client_port;
	cv->isn[0] = 0xfffff000u; /* wraps during the test */
	cv->isn[1] = 0x12345678u;
	cv->next[0] = cv->isn[0];
	cv->next[1] = cv->isn[1];
}

static void segment(struct conv *cv, int from, uint8_t flags, const uint8_t *payload, size_t len)
{
	cr_assert_lt(cv->out->n, MAX_PKTS);
	struct sluice_tcp_fields f = {
	    .seq = cv->next[from], .ack = cv->next[from ^ 1], .flags = flags, .window = 65535};
	if (!(flags & 0x10))
		f.ack = 0;
	size_t cap = len + 128 > 2048 ? len + 128 : 2048;
	uint8_t *buf = malloc(cap);
	size_t n =
	    sluice_tcp_packet_build(buf, cap, from == 0 ? &cv->c2s : &cv->s2c, &f, payload, len);
	cr_assert_gt(n, 0);
	cv->out->pkts[cv->out->n++] = (struct ts_packet){.data = buf, .len = n};
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
    /* Normalised as UDP frames are: circled and full-width digits, a
     * zero-width space escaped in the JSON; every byte behind the match is
     * masked, the escape whole. */
    "{\"text\":\"call me ①③⑧\\u200b１２３４５６７８ tonight\"}",
};
/* What the server must receive. */
static const char *const client_want[] = {
    "{\"type\":\"chat\",\"uid\":13812345678,\"data\":{\"text\":\"hello everyone\"}}",
    "{\"type\":\"chat\",\"uid\":13812345678,\"data\":{\"text\":\"call me *********** tonight\"}}",
    "{\"type\":\"chat\",\"data\":{\"content\":\"**************************\"}}",
    "{\"type\":\"chat\",\"data\":{\"text\":\"有问题私聊\"}}",
    "{\"text\":\"call me ********************* tonight\"}",
    "{\"text\":\"call me *************************************** tonight\"}",
};
#define FRAGMENTED_IN  "call me 138"
#define FRAGMENTED_IN2 "12345678 tonight"
#define FRAGMENTED_OUT "call me *********** tonight"
#define SERVER_IN      "welcome! questions? call 13812345678"
#define SERVER_OUT     "welcome! questions? call ***********"

static void build_conversation(struct conv *cv, struct pkt_list *out, bool ipv6)
{
	conv_open(cv, out, ipv6, CLIENT_PT);
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
	static struct pkt_list in;
	in.n = 0;
	build_conversation(&cv, &in, ipv6);
	struct ts_offline_run r;
	ts_offline_prepare(&r);
	cr_assert_eq(ts_pcap_write(r.in_a, in.pkts, in.n), 0);
	cr_assert_eq(ts_pcap_write(r.in_b, NULL, 0), 0);
	char *rules = ts_source_path("patterns/rules/default.yaml");
	const char *extra[] = {
	    "--ws-port", "8080", "--ws-members", "text,content", "--event-snippet", "64", NULL};
	ts_offline_sluice(&r, rules, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);

	struct ts_capture out;
	cr_assert_eq(ts_pcap_read(r.out_b, &out), 0);
	cr_assert_eq(out.count, in.n, "every packet of the conversation comes out (%zu of %zu)",
		     out.count, in.n);
	static struct direction dir[2];
	memset(dir, 0, sizeof(dir));
	size_t segments;
	reassemble(&out, dir, &segments);

	/* The offer is renamed in place, the rest of the head unchanged. */
	cr_assert_eq(memcmp(dir[0].bytes, request, 20), 0);
	cr_assert_null(memmem(dir[0].bytes, strlen(request), "Sec-WebSocket-Extensions", 24));
	cr_assert_not_null(memmem(dir[0].bytes, strlen(request), "permessage-deflate", 18));

	static char got[10][512];
	int n = messages_of(&dir[0], got, 10);
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
	int plain_phones = 0, evasive_phones = 0;
	char plain_hash[64];
	snprintf(plain_hash, sizeof(plain_hash), "\"text_hash\":\"%016llx\"",
		 (unsigned long long)sluice_siphash24((uint64_t[2]){0, 0}, "13812345678", 11));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (!strstr(line, "\"event\":\"match\""))
			continue;
		/* The snippet is the text as scanned: a JSON member's decoded value. */
		if (strstr(line, "phone-cn-mobile") &&
		    strstr(line, "\"snippet\":\"13812345678\"}")) {
			cr_assert_not_null(strstr(line, plain_hash), "%s", line);
			plain_phones++;
		}
		/* The snippet as written; the hash as the rule saw it (folded),
		 * the plain number's. */
		if (strstr(line, "\"snippet\":\"①③⑧\u200b１２３４５６７８\"}") != NULL) {
			cr_assert_not_null(strstr(line, plain_hash), "%s", line);
			evasive_phones++;
		}
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
	cr_assert_eq(phone_events, 5,
		     "the phone in three JSON values (one evasive), the fragmented message and "
		     "the server's: the uid is never scanned");
	cr_assert_eq(plain_phones, 4,
		     "the two plain phones in JSON, the fragmented message's and the server's");
	cr_assert_eq(evasive_phones, 1, "the evasive one, its \\u200b decoded");
	cr_assert_eq(server_events, 1);
	cr_assert_geq(block_events, 1);
	cr_assert_eq(flag_events, 1);

	/* Counters. */
	char *summary = read_all(r.summary);
	cr_assert_not_null(strstr(summary, "\"ws_messages\":8"), "%s", summary);
	cr_assert_not_null(strstr(summary, "\"json_messages\":6"), "%s", summary);
	cr_assert_not_null(strstr(summary, "\"flows_opened\":1"), "%s", summary);
	cr_assert_not_null(strstr(summary, "\"segments_dropped\":0"), "%s", summary);
	free(summary);
	ts_capture_free(&out);
	for (size_t i = 0; i < in.n; i++)
		free(in.pkts[i].data);
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

/* ---- crafted connections: evasions, violations, limits ---- */

/* One connection's handshake, both heads and the server's ACK. */
static void open_ws(struct conv *cv, struct pkt_list *out, uint16_t port)
{
	conv_open(cv, out, false, port);
	segment(cv, 0, 0x02, NULL, 0);
	segment(cv, 1, 0x12, NULL, 0);
	segment(cv, 0, 0x10, NULL, 0);
	send_bytes(cv, 0, request, strlen(request), 1400);
	send_bytes(cv, 1, response, strlen(response), 1400);
	segment(cv, 0, 0x10, NULL, 0);
}

static void close_ws(struct conv *cv)
{
	segment(cv, 0, 0x11, NULL, 0);
	segment(cv, 1, 0x11, NULL, 0);
	segment(cv, 0, 0x10, NULL, 0);
}

/* A segment at an explicit offset of the client's stream (from its next
 * byte), without advancing it. */
static void client_at(struct conv *cv, uint32_t off, const uint8_t *bytes, size_t len)
{
	uint32_t keep = cv->next[0];
	cv->next[0] = keep + off;
	segment(cv, 0, 0x18, bytes, len);
	cv->next[0] = keep;
}

struct conn_out {
	uint8_t bytes[8192];
	bool have[8192];
	uint32_t len; /* client payload bytes after its SYN */
	unsigned rst_to_server, rst_to_client;
	unsigned segments;
};

/* What left on each port for the connection from client_port. */
static void conn_output(const struct ts_capture *to_server, const struct ts_capture *to_client,
			uint16_t client_port, struct conn_out *c)
{
	static uint64_t ports[1024];
	ports[WS_PORT >> 6] |= 1ull << (WS_PORT & 63);
	const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
	memset(c, 0, sizeof(*c));
	const struct ts_capture *caps[2] = {to_server, to_client};
	uint32_t isn = 0;
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < caps[k]->count; i++) {
			const uint8_t *p = caps[k]->packets[i].data;
			struct sluice_packet_view v;
			enum sluice_bad_reason why;
			if (sluice_packet_classify_ports(p, (uint32_t)caps[k]->packets[i].len, &set,
							 &v, &why) != SLUICE_PKT_STREAM)
				continue;
			if (v.sport != client_port && v.dport != client_port)
				continue;
			uint32_t tcp_len = v.payload_off + v.payload_len - v.l4_off;
			cr_assert_eq(
			    sluice_tcp_checksum_verify(p + v.l3_off, v.ipv6, p + v.l4_off, tcp_len),
			    0xffff);
			if (v.tcp_flags & 0x04) {
				if (v.dport == WS_PORT)
					c->rst_to_server++;
				else
					c->rst_to_client++;
				continue;
			}
			if (v.dport != WS_PORT)
				continue;
			if (v.tcp_flags & 0x02) {
				isn = v.seq;
				continue;
			}
			uint32_t off = v.seq - isn - 1;
			for (uint32_t b = 0; b < v.payload_len; b++) {
				cr_assert_lt(off + b, sizeof(c->bytes));
				if (c->have[off + b])
					cr_assert_eq(c->bytes[off + b], p[v.payload_off + b],
						     "port %u: byte %u sent twice differently",
						     client_port, off + b);
				c->bytes[off + b] = p[v.payload_off + b];
				c->have[off + b] = true;
			}
			if (v.payload_len > 0 && off + v.payload_len > c->len)
				c->len = off + v.payload_len;
			c->segments++;
		}
}

/* The client's first text message after its head, unmasked. */
static void first_message(const struct conn_out *c, char *out)
{
	uint32_t pos = (uint32_t)strlen(request);
	for (uint32_t i = 0; i < c->len; i++)
		cr_assert(c->have[i], "gap at %u", i);
	struct sluice_ws_header h;
	enum sluice_ws_error e;
	cr_assert_eq(sluice_ws_header_parse(c->bytes + pos, c->len - pos, true, false, &h, &e),
		     SLUICE_WS_HEADER);
	memcpy(out, c->bytes + pos + h.header_len, h.payload_len);
	sluice_ws_mask((uint8_t *)out, (uint8_t *)out, h.payload_len, h.key, 0);
	out[h.payload_len] = 0;
}

struct crafted_run {
	struct ts_offline_run r;
	struct ts_capture to_server, to_client;
	char *summary;
};

static void run_crafted(struct crafted_run *cr, struct pkt_list *in, const char *const *extra)
{
	ts_offline_prepare(&cr->r);
	cr_assert_eq(ts_pcap_write(cr->r.in_a, in->pkts, in->n), 0);
	cr_assert_eq(ts_pcap_write(cr->r.in_b, NULL, 0), 0);
	char *rules = ts_source_path("patterns/rules/default.yaml");
	ts_offline_sluice(&cr->r, rules, extra);
	free(rules);
	cr_assert_eq(cr->r.rc, 0, "sluice exited %d:\n%s", cr->r.rc, cr->r.output);
	cr_assert_eq(ts_pcap_read(cr->r.out_b, &cr->to_server), 0);
	cr_assert_eq(ts_pcap_read(cr->r.out_a, &cr->to_client), 0);
	cr->summary = read_all(cr->r.summary);
	for (size_t i = 0; i < in->n; i++)
		free(in->pkts[i].data);
}

static void crafted_free(struct crafted_run *cr)
{
	ts_capture_free(&cr->to_server);
	ts_capture_free(&cr->to_client);
	free(cr->summary);
	ts_offline_free(&cr->r);
}

static void assert_summary(const struct crafted_run *cr, const char *needle)
{
	const char *streams = strstr(cr->summary, "\"streams\"");
	cr_assert_not_null(strstr(cr->summary, needle), "summary lacks %s:\n%.1500s", needle,
			   streams ? streams : cr->summary);
}

#define PHONE_TEXT "call me 13812345678 tonight"
#define PHONE_MASK "call me *********** tonight"

Test(ws_offline, overlaps_reordering_bad_checksums_and_retransmits_leave_as_scanned, .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv;
	uint8_t fr[256];
	size_t n;

	/* 41001: copies with other bytes over bytes already seen: one inside a
	 * held segment (dropped whole), one reaching past it (its old part
	 * normalised to the first bytes). */
	open_ws(&cv, &in, 41001);
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	uint8_t evil[10];
	for (int i = 0; i < 10; i++)
		evil[i] = fr[5 + i] ^ 0x55;
	client_at(&cv, 0, fr, 20);
	client_at(&cv, 5, evil, 10);
	memcpy(evil, fr + 15, 10);
	for (int i = 0; i < 5; i++)
		evil[i] ^= 0x55;
	client_at(&cv, 15, evil, 10);
	client_at(&cv, 20, fr + 20, n - 20);
	cv.next[0] += (uint32_t)n;
	close_ws(&cv);

	/* 41002: the message's three segments in the order 3, 1, 2. */
	open_ws(&cv, &in, 41002);
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	client_at(&cv, 20, fr + 20, n - 20);
	client_at(&cv, 0, fr, 10);
	client_at(&cv, 10, fr + 10, 10);
	cv.next[0] += (uint32_t)n;
	close_ws(&cv);

	/* 41003: a copy with a corrupted payload (its checksum now wrong) first. */
	open_ws(&cv, &in, 41003);
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	client_at(&cv, 0, fr, n);
	uint8_t *bad = in.pkts[in.n - 1].data;
	bad[in.pkts[in.n - 1].len - 3] ^= 0x20; /* in the text */
	client_at(&cv, 0, fr, n);
	cv.next[0] += (uint32_t)n;
	close_ws(&cv);

	/* 41004: the whole message again after it left, as a sender's
	 * retransmission carries it: the original bytes. Forty bare ACKs
	 * between put it in a later burst (a burst is at most 32 packets), so
	 * the first copy has been judged and sent. */
	open_ws(&cv, &in, 41004);
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	client_at(&cv, 0, fr, n);
	for (int i = 0; i < 40; i++)
		segment(&cv, 0, 0x10, NULL, 0);
	client_at(&cv, 0, fr, n);
	cv.next[0] += (uint32_t)n;
	close_ws(&cv);

	/* 41006: then a server ACK of the whole message with a broken checksum
	 * (the receiver would discard it): it frees nothing, so the sender's
	 * retransmission after it is still rewritten. */
	open_ws(&cv, &in, 41006);
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	client_at(&cv, 0, fr, n);
	for (int i = 0; i < 40; i++)
		segment(&cv, 0, 0x10, NULL, 0);
	cv.next[0] += (uint32_t)n;
	segment(&cv, 1, 0x10, NULL, 0);
	in.pkts[in.n - 1].data[in.pkts[in.n - 1].len - 6] ^= 0x01; /* its window */
	client_at(&cv, (uint32_t)-n, fr, n);
	close_ws(&cv);

	struct crafted_run cr;
	run_crafted(&cr, &in, (const char *const[]){"--ws-port", "8080", NULL});
	for (uint16_t port = 41001; port <= 41006; port = port == 41004 ? 41006 : port + 1) {
		struct conn_out c;
		char text[256];
		conn_output(&cr.to_server, &cr.to_client, port, &c);
		first_message(&c, text);
		cr_assert_str_eq(text, PHONE_MASK, "port %u", port);
		cr_assert_eq(c.rst_to_server + c.rst_to_client, 0, "port %u", port);
	}
	assert_summary(&cr, "\"conflict_bytes\":5,");
	assert_summary(&cr, "\"tcp_duplicate\":1,");
	assert_summary(&cr, "\"tcp_checksum\":2,");
	assert_summary(&cr, "\"retransmits_rewritten\":2,");
	assert_summary(&cr, "\"ws_messages\":5,");
	assert_summary(&cr, "\"flows_reset\":0,");
	crafted_free(&cr);
}

/* The ACKs that reached the client of port from the server's side (Sluice's
 * own among them), in order. */
/* ---- ports that verify checksums themselves ---- */

struct tap_run {
	char *const *argv;
	char *output;
	int rc;
};

static void *run_sluice(void *arg)
{
	struct tap_run *t = arg;
	t->rc = ts_run(t->argv, 60, &t->output);
	return NULL;
}

/* Whether network interface name is up, within timeout_s. */
static bool wait_up(const char *name, double timeout_s)
{
	char path[64];
	snprintf(path, sizeof(path), "/sys/class/net/%s/flags", name);
	for (double waited = 0; waited < timeout_s; waited += 0.05) {
		FILE *f = fopen(path, "r");
		unsigned flags = 0;
		bool read = f != NULL && fscanf(f, "%x", &flags) == 1;
		if (f != NULL)
			fclose(f);
		if (read && (flags & IFF_UP))
			return true;
		usleep(50000);
	}
	return false;
}

static int packet_socket(const char *ifname)
{
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	cr_assert_geq(fd, 0, "packet socket: %s", strerror(errno));
	struct sockaddr_ll at = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_ALL),
				 .sll_ifindex = (int)if_nametoindex(ifname)};
	cr_assert_gt(at.sll_ifindex, 0, "%s: no such interface", ifname);
	cr_assert_eq(bind(fd, (struct sockaddr *)&at, sizeof(at)), 0, "bind %s: %s", ifname,
		     strerror(errno));
	return fd;
}

/* Runs sluice between two net_tap ports with --tcp-checksum mode: in is
 * written into the first tap (the kernel hands it to the port), and what
 * the second port sends is read from the second tap until the run ends. */
static void run_on_taps(struct pkt_list *in, const char *mode, struct ts_capture *out,
			char **summary)
{
	cr_assert_eq(geteuid(), 0, "net_tap ports need root");
	char *dir = ts_make_tmpdir("ws-tap");
	char if_a[16], if_b[16], vdev_a[64], vdev_b[64], prefix[32], summary_path[512];
	snprintf(if_a, sizeof(if_a), "slta%d", (int)getpid() % 100000);
	snprintf(if_b, sizeof(if_b), "sltb%d", (int)getpid() % 100000);
	snprintf(vdev_a, sizeof(vdev_a), "net_tap0,iface=%s", if_a);
	snprintf(vdev_b, sizeof(vdev_b), "net_tap1,iface=%s", if_b);
	snprintf(prefix, sizeof(prefix), "wstap%d", (int)getpid());
	snprintf(summary_path, sizeof(summary_path), "%s/summary.json", dir);
	char *rules = ts_source_path("patterns/rules/default.yaml");
	char **argv = ts_sluice_argv(
	    vdev_a, vdev_b, prefix,
	    (const char *const[]){"--rules", rules, "--ws-port", "8080", "--tcp-checksum", mode,
				  "--control-socket", "none", "--events", "/dev/null", "--summary",
				  summary_path, "--duration", "5", NULL});
	struct tap_run t = {.argv = argv};
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, run_sluice, &t), 0);
	bool up = wait_up(if_a, 30) && wait_up(if_b, 30);
	int rx = up ? packet_socket(if_b) : -1, tx = up ? packet_socket(if_a) : -1;
	if (up) {
		usleep(300000); /* the worker polling */
		for (size_t i = 0; i < in->n; i++)
			cr_assert_eq(send(tx, in->pkts[i].data, in->pkts[i].len, 0),
				     (ssize_t)in->pkts[i].len, "send: %s", strerror(errno));
		/* Until nothing more comes for a second: the run lasts 5 s. */
		out->packets = calloc(MAX_PKTS, sizeof(*out->packets));
		out->count = 0;
		struct timeval tv = {.tv_sec = 1};
		setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		uint8_t buf[4096];
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;
		while (out->count < MAX_PKTS &&
		       (n = recvfrom(rx, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl)) > 0) {
			fl = sizeof(from);
			if (from.sll_pkttype == PACKET_OUTGOING) /* the kernel's own */
				continue;
			uint8_t *copy = malloc((size_t)n);
			memcpy(copy, buf, (size_t)n);
			out->packets[out->count++] =
			    (struct ts_packet){.data = copy, .len = (size_t)n};
		}
		close(rx);
		close(tx);
	}
	pthread_join(th, NULL);
	cr_assert(up, "the tap interfaces never came up:\n%s", t.output);
	cr_assert_eq(t.rc, 0, "sluice exited %d:\n%s", t.rc, t.output);
	*summary = read_all(summary_path);
	cr_assert_not_null(*summary);
	free(t.output);
	ts_sluice_argv_free(argv);
	free(rules);
	ts_rmtree(dir);
	free(dir);
}

static double streams_counter(const char *summary, const char *name)
{
	struct sluice_json *doc = sluice_json_parse(summary);
	cr_assert_not_null(doc, "summary is not JSON: %s", summary);
	const struct sluice_json *streams =
	    sluice_json_get(sluice_json_get(sluice_json_get(doc, "stats"), "total"), "streams");
	double v = sluice_json_num(streams, name, -1);
	const struct sluice_json *reasons = sluice_json_get(streams, "reasons");
	if (v < 0)
		v = sluice_json_num(reasons, name, -1);
	sluice_json_free(doc);
	return v;
}

/* DPDK's tap PMD verifies TCP checksums on receive when asked, and sets the
 * mbufs' RX L4 flags. A connection with a corrupted copy of its message
 * before the real one: under --tcp-checksum port every chat segment's
 * checksum is the port's word, and the corrupted copy is dropped as
 * tcp_checksum on it; under software the worker sums each one, with the
 * same outcome. Either way the message leaves masked, and once. */
Test(ws_offline, a_port_that_verifies_checksums_is_taken_at_its_word, .timeout = 180)
{
	static const char *const modes[] = {"port", "software"};
	for (unsigned m = 0; m < 2; m++) {
		struct pkt_list in = {.n = 0};
		struct conv cv;
		uint8_t fr[256];
		open_ws(&cv, &in, 41011);
		size_t n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
		client_at(&cv, 0, fr, n);
		in.pkts[in.n - 1].data[in.pkts[in.n - 1].len - 3] ^= 0x20; /* in the text */
		client_at(&cv, 0, fr, n);
		cv.next[0] += (uint32_t)n;
		close_ws(&cv);
		size_t sent = in.n;

		struct ts_capture out = {0};
		char *summary = NULL;
		run_on_taps(&in, modes[m], &out, &summary);
		struct conn_out c;
		char text[256];
		conn_output(&out, &out, 41011, &c);
		first_message(&c, text);
		cr_assert_str_eq(text, PHONE_MASK, "%s", modes[m]);
		cr_assert_eq(c.rst_to_server + c.rst_to_client, 0, "%s", modes[m]);
		double segments = streams_counter(summary, "segments");
		cr_assert_eq(segments, (double)sent, "%s: %.0f segments of %zu\n%s", modes[m],
			     segments, sent, summary);
		cr_assert_eq(streams_counter(summary, "tcp_checksum"), 1, "%s\n%s", modes[m],
			     summary);
		cr_assert_eq(streams_counter(summary, "checksums_by_port"), m == 0 ? segments : 0,
			     "%s\n%s", modes[m], summary);
		cr_assert_eq(streams_counter(summary, "ws_messages"), 1, "%s\n%s", modes[m],
			     summary);
		free(summary);
		ts_capture_free(&out);
		for (size_t i = 0; i < in.n; i++)
			free(in.pkts[i].data);
	}
}

static size_t acks_to_client(const struct ts_capture *to_client, uint16_t port, uint32_t *ack,
			     uint16_t *window, size_t max)
{
	static uint64_t ports[1024];
	ports[WS_PORT >> 6] |= 1ull << (WS_PORT & 63);
	const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
	size_t n = 0;
	for (size_t i = 0; i < to_client->count && n < max; i++) {
		const uint8_t *p = to_client->packets[i].data;
		struct sluice_packet_view v;
		enum sluice_bad_reason why;
		if (sluice_packet_classify_ports(p, (uint32_t)to_client->packets[i].len, &set, &v,
						 &why) != SLUICE_PKT_STREAM ||
		    v.dport != port || v.payload_len > 0 || (v.tcp_flags & 0x07))
			continue;
		ack[n] = v.ack;
		window[n++] = sluice_be16_load(p + v.l4_off + 14);
	}
	return n;
}

Test(ws_offline, a_segment_lost_behind_a_held_one_is_delivered_through_custody, .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv;
	uint8_t fr[256];

	/* 41005: the message's first 20 bytes, held. Its second segment is
	 * "lost": the sender's timer resends the first, which Sluice holds. */
	open_ws(&cv, &in, 41005);
	size_t n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	uint32_t start = cv.next[0];
	client_at(&cv, 0, fr, 20);
	for (int i = 0; i < 40; i++)
		segment(&cv, 0, 0x10, NULL, 0);
	client_at(&cv, 0, fr, 20);
	/* Acknowledged, the sender sends what follows: the message is whole,
	 * judged and released. */
	client_at(&cv, 20, fr + 20, n - 20);
	for (int i = 0; i < 40; i++)
		segment(&cv, 0, 0x10, NULL, 0);
	/* The first segment is lost after Sluice: the server asks again for the
	 * bytes after the head (a duplicate ACK). */
	segment(&cv, 1, 0x10, NULL, 0);
	cv.next[0] += (uint32_t)n;
	close_ws(&cv);

	struct crafted_run cr;
	run_crafted(&cr, &in, (const char *const[]){"--ws-port", "8080", NULL});
	struct conn_out c;
	char text[256];
	conn_output(&cr.to_server, &cr.to_client, 41005, &c);
	first_message(&c, text);
	cr_assert_str_eq(text, PHONE_MASK, "the bytes resent from the store are the masked ones");
	cr_assert_eq(c.rst_to_server + c.rst_to_client, 0);
	/* The held bytes went twice to the server: released, then resent. */
	assert_summary(&cr, "\"custody_acks\":1,\"custody_bytes\":20,\"custody_resends\":1,");
	assert_summary(&cr, "\"flows_reset\":0,");

	/* A capture replayed on one port leaves on the other, so the server's
	 * segments are in to_server, and Sluice's own toward the client in
	 * to_client: one ACK of the held 20 bytes with the server's window. */
	uint32_t ack[8];
	uint16_t window[8];
	uint32_t custody = start + 20;
	cr_assert_eq(acks_to_client(&cr.to_client, 41005, ack, window, 8), 1);
	cr_assert_eq(ack[0], custody);
	cr_assert_eq(window[0], 65535);
	/* The server's one bare ACK, its duplicate, raised to the custody
	 * point, its window lowered by as much. */
	cr_assert_eq(acks_to_client(&cr.to_server, 41005, ack, window, 8), 1);
	cr_assert_eq(ack[0], custody, "the server's duplicate ACK was not raised");
	cr_assert_eq(window[0], 65535 - 20);
	assert_summary(&cr, "\"acks_raised\":1,");
	crafted_free(&cr);
}

/* Payload bytes that left from sport to dport. */
static uint32_t payload_between(const struct ts_capture *cap, uint16_t sport, uint16_t dport)
{
	static uint64_t ports[1024];
	ports[WS_PORT >> 6] |= 1ull << (WS_PORT & 63);
	const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
	uint32_t bytes = 0;
	for (size_t i = 0; i < cap->count; i++) {
		struct sluice_packet_view v;
		enum sluice_bad_reason why;
		if (sluice_packet_classify_ports(cap->packets[i].data,
						 (uint32_t)cap->packets[i].len, &set, &v,
						 &why) == SLUICE_PKT_STREAM &&
		    v.sport == sport && v.dport == dport)
			bytes += v.payload_len;
	}
	return bytes;
}

Test(ws_offline, syn_data_blind_resets_and_a_full_flow_budget_are_handled_without_loss,
     .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv;
	uint8_t fr[4096];
	size_t n;

	/* 44001: the server answers the SYN with data (TCP Fast Open). */
	conv_open(&cv, &in, false, 44001);
	segment(&cv, 0, 0x02, NULL, 0);
	segment(&cv, 1, 0x12, (const uint8_t *)response, strlen(response));

	/* 44002: a reset from far outside the client's stream (a blind one),
	 * then the client's message. */
	open_ws(&cv, &in, 44002);
	cv.next[0] += 10u * 1000 * 1000;
	segment(&cv, 0, 0x14, NULL, 0);
	cv.next[0] -= 10u * 1000 * 1000;
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	send_bytes(&cv, 0, fr, n, 1400);
	close_ws(&cv);

	/* 44003: --flow-kib 4. A 2,000-byte message is released but not yet
	 * acknowledged; the next one does not fit beside it and is dropped
	 * (not reset); once the server acknowledges the first, the client
	 * sends the second again and it passes, judged. */
	open_ws(&cv, &in, 44003);
	static char big[2001];
	memset(big, 'a', 2000);
	memcpy(big + 1950, PHONE_TEXT, strlen(PHONE_TEXT));
	n = frame(fr, true, SLUICE_WS_TEXT, true, big);
	size_t big_frame = n;
	send_bytes(&cv, 0, fr, n, 1400);
	for (int i = 0; i < 40; i++)
		segment(&cv, 0, 0x10, NULL, 0);
	uint32_t first_end = cv.next[0];
	send_bytes(&cv, 0, fr, n, 1400);
	uint32_t end = cv.next[0];
	cv.next[0] = first_end;
	segment(&cv, 1, 0x10, NULL, 0); /* the first message's ACK */
	for (int i = 0; i < 40; i++)
		segment(&cv, 0, 0x10, NULL, 0);
	send_bytes(&cv, 0, fr, n, 1400);
	cr_assert_eq(cv.next[0], end);
	close_ws(&cv);

	/* 44004: the client's port used again after a closed connection, with
	 * a lower initial sequence number, so that in the old flow's store the
	 * new bytes would look released already; and 44005: a new SYN while the
	 * first connection is still open. Each second connection's message must
	 * be judged (its bytes equal the first's, masked). */
	for (uint16_t port = 44004; port <= 44005; port++) {
		open_ws(&cv, &in, port);
		n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
		send_bytes(&cv, 0, fr, n, 1400);
		if (port == 44004)
			close_ws(&cv);
		for (int i = 0; i < 40; i++)
			segment(&cv, 1, 0x10, NULL, 0);
		struct pkt_list *keep = cv.out;
		conv_open(&cv, keep, false, port);
		cv.isn[0] = cv.next[0] = 0xffff0000u - 5000;
		segment(&cv, 0, 0x02, NULL, 0);
		segment(&cv, 1, 0x12, NULL, 0);
		segment(&cv, 0, 0x10, NULL, 0);
		send_bytes(&cv, 0, request, strlen(request), 1400);
		send_bytes(&cv, 1, response, strlen(response), 1400);
		send_bytes(&cv, 0, fr, n, 1400);
		close_ws(&cv);
	}

	struct crafted_run cr;
	run_crafted(&cr, &in, (const char *const[]){"--ws-port", "8080", "--flow-kib", "4", NULL});
	cr_assert_eq(payload_between(&cr.to_client, WS_PORT, 44001) +
			 payload_between(&cr.to_server, WS_PORT, 44001),
		     0, "data on the SYN-ACK left");
	assert_summary(&cr, "\"tcp_syn_data\":1,");

	struct conn_out c;
	char text[4096];
	conn_output(&cr.to_server, &cr.to_client, 44002, &c);
	first_message(&c, text);
	cr_assert_str_eq(text, PHONE_MASK, "the flow stopped at the blind reset");
	cr_assert_eq(c.rst_to_server + c.rst_to_client, 0);
	assert_summary(&cr, "\"tcp_rst_outside\":1,");

	conn_output(&cr.to_server, &cr.to_client, 44003, &c);
	cr_assert_eq(c.len, strlen(request) + 2 * big_frame, "both messages, whole: %u of %zu",
		     c.len, strlen(request) + 2 * big_frame);
	first_message(&c, text);
	cr_assert(strstr(text, PHONE_MASK) != NULL);
	cr_assert_eq(
	    memcmp(c.bytes + strlen(request), c.bytes + strlen(request) + big_frame, big_frame), 0,
	    "the second message left as judged as the first");
	cr_assert_eq(c.rst_to_server + c.rst_to_client, 0);
	assert_summary(&cr, "\"flows_reset\":0,");
	/* The second message's first segment fitted and was held; its second
	 * was dropped; the client's copy of the first came back as a
	 * duplicate of a held one, which Sluice acknowledged (custody). */
	assert_summary(&cr, "\"flow_bytes\":1,");
	assert_summary(&cr, "\"custody_acks\":1,");

	for (uint16_t port = 44004; port <= 44005; port++) {
		conn_output(&cr.to_server, &cr.to_client, port, &c);
		first_message(&c, text);
		cr_assert_str_eq(text, PHONE_MASK, "port %u", port);
		cr_assert_eq(c.rst_to_server + c.rst_to_client, 0, "port %u", port);
	}
	assert_summary(&cr, "\"tcp_syn_reopen\":1,");
	assert_summary(&cr, "\"ws_messages\":7,");
	crafted_free(&cr);
}

struct violation {
	uint16_t port;
	const char *reason; /* in the summary's reasons */
};

Test(ws_offline, protocol_violations_reset_both_sides_and_leak_no_byte, .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv;
	uint8_t fr[256];
	size_t n;

	/* 42001: the first segment of a message never comes: held, then reset. */
	open_ws(&cv, &in, 42001);
	n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
	client_at(&cv, 10, fr + 10, n - 10);
	/* 42002: a client frame without a mask; then the client sends it again,
	 * to a flow Sluice has reset: dropped, and counted. */
	open_ws(&cv, &in, 42002);
	n = frame(fr, true, SLUICE_WS_TEXT, false, PHONE_TEXT);
	send_bytes(&cv, 0, fr, n, 1400);
	cv.next[0] -= (uint32_t)n;
	send_bytes(&cv, 0, fr, n, 1400);
	/* 42003: a length of 2^40 bytes. */
	open_ws(&cv, &in, 42003);
	static const uint8_t key[4] = {1, 2, 3, 4};
	n = sluice_ws_header_build(fr, true, 0, SLUICE_WS_TEXT, key, 1ull << 40);
	memcpy(fr + n, "abcdefgh", 8);
	send_bytes(&cv, 0, fr, n + 8, 1400);
	/* 42004: text that is not UTF-8. */
	open_ws(&cv, &in, 42004);
	n = frame(fr, true, SLUICE_WS_TEXT, true, "bad \xff\xfe bytes");
	send_bytes(&cv, 0, fr, n, 1400);
	/* 42005: a binary message. */
	open_ws(&cv, &in, 42005);
	n = frame(fr, true, SLUICE_WS_BINARY, true, "\x01\x02\x03");
	send_bytes(&cv, 0, fr, n, 1400);
	/* 42006: TLS where the HTTP request belongs. */
	conv_open(&cv, &in, false, 42006);
	segment(&cv, 0, 0x02, NULL, 0);
	segment(&cv, 1, 0x12, NULL, 0);
	segment(&cv, 0, 0x10, NULL, 0);
	static const uint8_t hello[] = {0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x03};
	send_bytes(&cv, 0, hello, sizeof(hello), 1400);

	struct crafted_run cr;
	run_crafted(&cr, &in, (const char *const[]){"--ws-port", "8080", "--hold-ms", "100", NULL});
	static const struct violation v[] = {
	    {42001, "\"hold_timeout\":1"},	 {42002, "\"ws_frame\":1"},
	    {42003, "\"ws_message_too_big\":1"}, {42004, "\"invalid_utf8\":1"},
	    {42005, "\"ws_binary\":1"},		 {42006, "\"tls_seen\":1"},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct conn_out c;
		conn_output(&cr.to_server, &cr.to_client, v[i].port, &c);
		/* Nothing after the request head reached the server. */
		uint32_t head = v[i].port == 42006 ? 0 : (uint32_t)strlen(request);
		cr_assert_eq(c.len, head, "port %u: %u client bytes left, %u before the bad ones",
			     v[i].port, c.len, head);
		cr_assert_eq(c.rst_to_server, 1, "port %u", v[i].port);
		cr_assert_eq(c.rst_to_client, 1, "port %u", v[i].port);
		assert_summary(&cr, v[i].reason);
	}
	assert_summary(&cr, "\"flows_reset\":6,");
	assert_summary(&cr, "\"tcp_after_reset\":1,");
	assert_summary(&cr, "\"ws_protocol\":2,");
	assert_summary(&cr, "\"ws_messages\":0,");
	/* The events name each reset. */
	FILE *f = fopen(cr.r.events, "r");
	cr_assert_not_null(f);
	char line[4096];
	unsigned resets = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		resets +=
		    strstr(line, "\"event\":\"stream\"") && strstr(line, "\"action\":\"reset\"");
	fclose(f);
	cr_assert_eq(resets, 6);
	crafted_free(&cr);
}

/* A segment larger than one packet buffer (a jumbo frame, or one a receive
 * offload coalesced) reaches the worker in chained mbufs, which the stream
 * cannot take in place: it is dropped, counted as bad input and among the
 * stream's reasons (before, it was a drop with no reason), and nothing of it
 * passes. A later segment of the flow lies past its gap and is held. */
Test(ws_offline, a_segment_in_several_buffers_is_dropped_with_its_reason, .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv;
	open_ws(&cv, &in, 42101);
	static char text[3001];
	memset(text, 'a', sizeof(text) - 1);
	static uint8_t big[3100];
	size_t n = frame(big, true, SLUICE_WS_TEXT, true, text);
	segment(&cv, 0, 0x18, big, n); /* PSH|ACK, one frame of about 3 KB */
	uint8_t fr[256];
	n = frame(fr, true, SLUICE_WS_TEXT, true, "hello");
	send_bytes(&cv, 0, fr, n, 1400);

	struct crafted_run cr;
	run_crafted(&cr, &in, (const char *const[]){"--ws-port", "8080", NULL});
	struct conn_out c;
	conn_output(&cr.to_server, &cr.to_client, 42101, &c);
	cr_assert_eq(c.len, (uint32_t)strlen(request),
		     "%u client bytes reached the server, %u of them the request", c.len,
		     (unsigned)strlen(request));
	assert_summary(&cr, "\"tcp_multi_segment\":1,");
	assert_summary(&cr, "\"multi_segment\":1,");
	assert_summary(&cr, "\"segments_dropped\":1,");
	assert_summary(&cr, "\"datagrams\":0,"); /* a chat segment is no datagram */
	assert_summary(&cr, "\"ws_messages\":0,");
	crafted_free(&cr);
}

Test(ws_offline, a_full_flow_table_refuses_new_connections_and_forwards_nothing_of_them,
     .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv[3];
	uint8_t fr[256];
	for (int i = 0; i < 3; i++)
		open_ws(&cv[i], &in, (uint16_t)(43001 + i));
	for (int i = 0; i < 3; i++) {
		size_t n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
		send_bytes(&cv[i], 0, fr, n, 1400);
	}
	struct crafted_run cr;
	run_crafted(&cr, &in, (const char *const[]){"--ws-port", "8080", "--flows", "2", NULL});
	for (int i = 0; i < 2; i++) {
		struct conn_out c;
		char text[256];
		conn_output(&cr.to_server, &cr.to_client, (uint16_t)(43001 + i), &c);
		first_message(&c, text);
		cr_assert_str_eq(text, PHONE_MASK);
	}
	struct conn_out c;
	conn_output(&cr.to_server, &cr.to_client, 43003, &c);
	cr_assert_eq(c.len, 0, "no byte of the refused connection goes through");
	assert_summary(&cr, "\"flow_table_full\":1,");
	/* Its request, the 101 and its message. */
	assert_summary(&cr, "\"tcp_midstream\":3,");
	assert_summary(&cr, "\"flows_opened\":2,");
	crafted_free(&cr);
}

/* ---- the analysts' tool gives the gateway's verdicts ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct keys {
	char *k[256];
	size_t n;
};

static void add_key(struct keys *ks, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_key(struct keys *ks, const char *fmt, ...)
{
	cr_assert_lt(ks->n, 256);
	va_list ap;
	va_start(ap, fmt);
	cr_assert_neq(vasprintf(&ks->k[ks->n++], fmt, ap), -1);
	va_end(ap);
}

static void free_keys(struct keys *ks)
{
	for (size_t i = 0; i < ks->n; i++)
		free(ks->k[i]);
	ks->n = 0;
}

/* "src|dst|rule|from|to|verdict" for every match, and "reset|reason" for every
 * reset, as sluice-pack reports them. */
static void tool_keys(const char *capture, struct keys *ks)
{
	char *tool = ts_build_path("patterns/sluice-pack");
	char *rules = ts_source_path("patterns/rules/default.yaml");
	const char *argv[] = {tool,	      "test",	   rules,  "--pcap",
			      capture,	      "--ws-port", "8080", "--ws-members",
			      "text,content", "--json",	   NULL};
	char *out = NULL;
	int rc = ts_run((char *const *)argv, 60, &out);
	cr_assert_eq(rc, 0, "sluice-pack exited %d: %.2000s", rc, out);
	struct sluice_json *doc = sluice_json_parse(out);
	cr_assert_not_null(doc, "not JSON: %.2000s", out);
	const struct sluice_json *msgs = sluice_json_get(doc, "messages");
	cr_assert_not_null(msgs);
	for (size_t i = 0; i < msgs->count; i++) {
		const struct sluice_json *m = msgs->items[i];
		const struct sluice_json *matches = sluice_json_get(m, "matches");
		for (size_t j = 0; matches && j < matches->count; j++)
			add_key(ks, "%s|%s|%s|%.0f|%.0f|%s", sluice_json_str(m, "src", "?"),
				sluice_json_str(m, "dst", "?"),
				sluice_json_str(matches->items[j], "rule", "?"),
				sluice_json_num(matches->items[j], "from", -1),
				sluice_json_num(matches->items[j], "to", -1),
				sluice_json_str(m, "verdict", "?"));
	}
	const struct sluice_json *dropped = sluice_json_get(doc, "dropped");
	for (size_t i = 0; dropped && i < dropped->count; i++)
		add_key(ks, "reset|%s", sluice_json_str(dropped->items[i], "reason", "?"));
	sluice_json_free(doc);
	free(out);
	free(tool);
	free(rules);
}

/* The same from the daemon's events. */
static void daemon_keys(const char *events, struct keys *ks)
{
	FILE *f = fopen(events, "r");
	cr_assert_not_null(f);
	char line[4096];
	while (fgets(line, sizeof(line), f) != NULL) {
		struct sluice_json *ev = sluice_json_parse(line);
		cr_assert_not_null(ev, "%s", line);
		const char *kind = sluice_json_str(ev, "event", "");
		bool v6 = strchr(sluice_json_str(ev, "src", ""), ':') != NULL;
		char src[96], dst[96];
		snprintf(src, sizeof(src), v6 ? "[%s]:%.0f" : "%s:%.0f",
			 sluice_json_str(ev, "src", "?"), sluice_json_num(ev, "sport", -1));
		snprintf(dst, sizeof(dst), v6 ? "[%s]:%.0f" : "%s:%.0f",
			 sluice_json_str(ev, "dst", "?"), sluice_json_num(ev, "dport", -1));
		if (strcmp(kind, "match") == 0)
			add_key(ks, "%s|%s|%s|%.0f|%.0f|%s", src, dst,
				sluice_json_str(ev, "rule", "?"), sluice_json_num(ev, "from", -1),
				sluice_json_num(ev, "to", -1), sluice_json_str(ev, "verdict", "?"));
		else if (strcmp(kind, "stream") == 0)
			add_key(ks, "reset|%s", sluice_json_str(ev, "reason", "?"));
		sluice_json_free(ev);
	}
	fclose(f);
}

static void expect_same_verdicts(const char *capture, const char *events)
{
	struct keys tool = {0}, gw = {0};
	tool_keys(capture, &tool);
	daemon_keys(events, &gw);
	qsort(tool.k, tool.n, sizeof(char *), cmp_str);
	qsort(gw.k, gw.n, sizeof(char *), cmp_str);
	cr_assert_gt(gw.n, 0);
	for (size_t i = 0; i < tool.n || i < gw.n; i++)
		cr_assert(i < tool.n && i < gw.n && strcmp(tool.k[i], gw.k[i]) == 0,
			  "item %zu: sluice-pack '%s', gateway '%s'", i,
			  i < tool.n ? tool.k[i] : "-", i < gw.n ? gw.k[i] : "-");
	free_keys(&tool);
	free_keys(&gw);
}

Test(ws_offline, sluice_pack_test_pcap_gives_the_gateways_verdicts, .timeout = 180)
{
	for (int v6 = 0; v6 < 2; v6++) {
		static struct pkt_list in;
		in.n = 0;
		struct conv cv;
		build_conversation(&cv, &in, v6);
		/* The violations too: the tool must report the same resets. */
		uint8_t fr[256];
		open_ws(&cv, &in, 42002);
		size_t n = frame(fr, true, SLUICE_WS_TEXT, false, PHONE_TEXT);
		send_bytes(&cv, 0, fr, n, 1400);
		open_ws(&cv, &in, 42005);
		n = frame(fr, true, SLUICE_WS_BINARY, true, "\x01\x02");
		send_bytes(&cv, 0, fr, n, 1400);
		struct crafted_run cr;
		run_crafted(&cr, &in,
			    (const char *const[]){"--ws-port", "8080", "--ws-members",
						  "text,content", NULL});
		expect_same_verdicts(cr.r.in_a, cr.r.events);
		crafted_free(&cr);
	}
}

static int cmp_packet(const void *a, const void *b)
{
	const struct ts_packet *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->data, y->data, x->len);
}

/* Batch mode queues a burst's stream messages for one scan; message mode
 * scans each alone: the packets out and the verdicts must be the same. With
 * JSON members the packs see extracted text; without, the whole message,
 * checked as it is copied into the batch. Under invalid_utf8=replace a text
 * that is not UTF-8 is repaired either way. */
static void batch_and_message_agree(const char *members)
{
	struct ts_capture outs[2];
	static struct keys verdicts[2];
	memset(verdicts, 0, sizeof(verdicts));
	const char *modes[2] = {"batch", "message"};
	for (int m = 0; m < 2; m++) {
		static struct pkt_list in;
		in.n = 0;
		struct conv cv;
		build_conversation(&cv, &in, false);
		uint8_t fr[256];
		for (uint16_t port = 44001; port < 44009; port++) {
			open_ws(&cv, &in, port);
			size_t n = frame(fr, true, SLUICE_WS_TEXT, true, PHONE_TEXT);
			n += frame(fr + n, true, SLUICE_WS_TEXT, true, "有问题私聊");
			n += frame(fr + n, true, SLUICE_WS_TEXT, true, "bad \xff\xfe 加微信 bytes");
			send_bytes(&cv, 0, fr, n, 7);
		}
		struct crafted_run cr;
		const char *with[] = {"--ws-port", "8080",   "--policy",     "invalid_utf8=replace",
				      "--scan",	   modes[m], "--ws-members", members,
				      NULL};
		if (members == NULL)
			with[6] = NULL;
		run_crafted(&cr, &in, with);
		/* Repaired and scanned, every connection's, the flows kept:
		 * three messages on each of the 8, and the conversation's 8. */
		assert_summary(&cr, "\"invalid_utf8\":8");
		assert_summary(&cr, "\"flows_reset\":0,");
		assert_summary(&cr, "\"ws_messages\":32,");
		daemon_keys(cr.r.events, &verdicts[m]);
		qsort(verdicts[m].k, verdicts[m].n, sizeof(char *), cmp_str);
		outs[m] = cr.to_server;
		cr.to_server = (struct ts_capture){0};
		crafted_free(&cr);
	}
	/* The same packets, byte for byte; batch mode may send a burst's held
	 * packets after its bare ACKs, so the order can differ. */
	cr_assert_eq(outs[0].count, outs[1].count);
	for (int m = 0; m < 2; m++)
		qsort(outs[m].packets, outs[m].count, sizeof(struct ts_packet), cmp_packet);
	for (size_t i = 0; i < outs[0].count; i++)
		cr_assert(outs[0].packets[i].len == outs[1].packets[i].len &&
			      memcmp(outs[0].packets[i].data, outs[1].packets[i].data,
				     outs[0].packets[i].len) == 0,
			  "packet %zu differs", i);
	cr_assert_eq(verdicts[0].n, verdicts[1].n);
	cr_assert_gt(verdicts[0].n, 8);
	for (size_t i = 0; i < verdicts[0].n; i++)
		cr_assert_str_eq(verdicts[0].k[i], verdicts[1].k[i]);
	for (int m = 0; m < 2; m++) {
		free_keys(&verdicts[m]);
		ts_capture_free(&outs[m]);
	}
}

Test(ws_offline, batch_and_message_scanning_give_the_same_stream_output, .timeout = 180)
{
	batch_and_message_agree("text,content");
}

Test(ws_offline, batch_and_message_scanning_agree_on_whole_messages_too, .timeout = 180)
{
	batch_and_message_agree(NULL);
}

/* A message that is not UTF-8, under invalid_utf8=replace: the server gets
 * it with each bad byte as '?', scanned (its contact lure masked), the flow
 * kept open. */
Test(ws_offline, invalid_utf8_replace_forwards_the_message_repaired_and_scanned, .timeout = 120)
{
	static struct pkt_list in;
	in.n = 0;
	struct conv cv;
	build_conversation(&cv, &in, false);
	open_ws(&cv, &in, 42201);
	uint8_t fr[256];
	size_t n = frame(fr, true, SLUICE_WS_TEXT, true, "bad \xff\xfe ok");
	send_bytes(&cv, 0, fr, n, 1400);
	struct crafted_run cr;
	run_crafted(
	    &cr, &in,
	    (const char *const[]){"--ws-port", "8080", "--policy", "invalid_utf8=replace", NULL});
	struct conn_out c;
	conn_output(&cr.to_server, &cr.to_client, 42201, &c);
	char text[256];
	first_message(&c, text);
	cr_assert_str_eq(text, "bad ?? ok");
	cr_assert_eq(c.rst_to_server, 0);
	assert_summary(&cr, "\"invalid_utf8\":1");
	assert_summary(&cr, "\"flows_reset\":0,");
	crafted_free(&cr);
}

/* Two workers need both directions of a connection on one of them: a device
 * that cannot hash symmetrically is refused with the fallback named. */
Test(ws_offline, ws_ports_with_two_workers_on_ports_without_rss_are_refused, .timeout = 60)
{
	char *sluice = ts_build_path("dataplane/sluice");
	char *rules = ts_source_path("patterns/rules/default.yaml");
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "wsrss%d", (int)getpid());
	const char *argv[] = {
	    sluice,	   "--no-huge",	    "-m",	 "256",	      "--no-pci",
	    "--no-shconf", "--file-prefix", prefix,	 "--lcores",  "0@0,1@1,2@1",
	    "--vdev",	   "net_null0",	    "--vdev",	 "net_null1", "--",
	    "--rules",	   rules,	    "--ws-port", "8080",      "--control-socket",
	    "none",	   "--duration",    "5",	 NULL};
	char *out = NULL;
	int rc = ts_run((char *const *)argv, 60, &out);
	cr_assert_neq(rc, 0, "sluice started:\n%s", out);
	cr_assert_not_null(strstr(out, "cannot hash connections symmetrically"), "%s", out);
	cr_assert_not_null(strstr(out, "run one worker"), "%s", out);
	free(out);
	free(sluice);
	free(rules);
}
