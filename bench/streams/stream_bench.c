/* sluice-stream-bench: WebSocket chat in TCP against UDP frames on one core,
 * on the same messages and pack, through the worker's own per-burst code
 * (sluice_burst_process_from, DPDK-free): classification, the flow table,
 * the stream store, hold and release, the WebSocket parser, the scan, the
 * verdicts and the checksums. What it leaves out is the PMD, the same for
 * both.
 *
 * Stages (passes interleaved round by round; rates and per-round ratios are
 * medians over --rounds):
 * - udp: each message in its own wire-format datagram, batch scanning;
 * - ws: each message a masked WebSocket text frame in its own TCP segment,
 *   over --flows connections opened before timing, the server acking every
 *   16 messages;
 * - ws_json: the same, each message a JSON object scanned by member;
 * - ws_split: each frame cut into two segments (hold, then release);
 * - ws_port_checked: the ws stage's traffic as a port that verifies TCP
 *   checksums on receive delivers it (every segment's checksum found good,
 *   the daemon's --tcp-checksum port on a NIC): what the worker's own sum
 *   costs a message is the difference, saved_ns_per_msg;
 * - flows: --table-flows connections opened through the stream layer, the
 *   memory they take, and the ws stage's rate with all of them active.
 *
 * Packets are rebuilt between passes (untimed): verdicts rewrite them.
 * Prints one JSON object on stdout.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_options.h"
#include "clock.h"
#include "corpus_reader.h"
#include "datagram_process.h"
#include "event_ring.h"
#include "generation.h"
#include "json_escape.h"
#include "median.h"
#include "pack_source.h"
#include "packet_build.h"
#include "stream_process.h"
#include "websocket.h"

#define BURST	 32
#define WS_PORT	 8080
#define PKT_ROOM 2048

struct options {
	const char *pack;
	const char *corpus;
	unsigned messages;
	unsigned rounds;
	unsigned flows;
	unsigned table_flows;
	const char *write_pcap;
};

static const struct cli_option options[] = {
    {.name = "pack",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, pack),
     .value_name = "FILE",
     .help = "rule file (.yaml) or pack",
     .required = true},
    {.name = "corpus",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, corpus),
     .value_name = "TEXTS",
     .help = "messages, 'msg_id<TAB>text' per line (sluice-gen --text-out)",
     .required = true},
    {.name = "messages",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, messages),
     .min = 100,
     .max = 10000000,
     .value_name = "N",
     .help = "messages per pass (default 20000)"},
    {.name = "rounds",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, rounds),
     .min = 1,
     .max = 99,
     .value_name = "N",
     .help = "timed passes per stage, median reported (default 7)"},
    {.name = "flows",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, flows),
     .min = 1,
     .max = 65536,
     .value_name = "N",
     .help = "connections the messages share (default 256)"},
    {.name = "table-flows",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, table_flows),
     .min = 0,
     .max = 1000000,
     .value_name = "N",
     .help = "connections opened for the flow-table stage (default 100000; 0: skip)"},
    {.name = "write-pcap",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, write_pcap),
     .value_name = "PREFIX",
     .help = "only write one pass as captures for the daemon, PREFIX.udp.pcap and "
	     "PREFIX.ws.pcap (each connection opened and closed, so a capture replayed in a "
	     "loop opens them anew), then exit"},
};

static const struct cli_program program = {
    .name = "sluice-stream-bench",
    .usage_head = "usage: sluice-stream-bench --pack PACK --corpus TEXTS [options]\n\n"
		  "WebSocket in TCP against UDP frames, one core, same messages and pack.\n\n",
    .usage_tail = "\nPrints one JSON object on stdout.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 25,
    .wording = {.unknown_option = "unknown option '%s' (see --help)",
		.missing_value = "%s needs a value",
		.unexpected_argument = "unexpected argument '%s' (see --help)",
		.bad_value = "--%s: '%s' is not %s",
		.unsigned_range = "a whole number in %" PRIu64 "..%" PRIu64},
};

/* ---- the harness: one worker's packet context ---- */

struct harness {
	struct sluice_packet_ctx ctx;
	struct sluice_message_decoder dec;
	struct sluice_worker_stats stats;
	struct sluice_event_ring *ring;
	struct sluice_stream_config cfg;
	struct sluice_stream_ctx streams;
	struct sluice_generation *gen;
	bool port_checked; /* every segment's checksum found good by the port */
};

static int harness_init(struct harness *h, struct sluice_generation *gen, bool streams,
			const struct sluice_json_members *members, uint32_t flows)
{
	memset(h, 0, sizeof(*h));
	h->gen = gen;
	h->ring = sluice_event_ring_create(1u << 16);
	sluice_udp_frame_decoder_init(&h->dec, 7700);
	sluice_packet_ctx_init(&h->ctx, 0, &h->dec, &h->stats, h->ring);
	if (sluice_packet_ctx_set_scan_mode(&h->ctx, SLUICE_SCAN_BATCH) != 0)
		return -1;
	if (!streams)
		return 0;
	sluice_stream_config_default(&h->cfg, 1000000000ull);
	sluice_stream_config_add_port(&h->cfg, WS_PORT);
	h->cfg.flows = flows;
	if (members != NULL)
		h->cfg.members = *members;
	h->cfg.worker_bytes = 256u << 20;
	if (sluice_stream_ctx_init(&h->streams, &h->cfg, &sluice_libc_allocator) != 0)
		return -1;
	h->dec.tcp_ports = h->cfg.tcp_ports;
	h->ctx.streams = &h->streams;
	return 0;
}

static void harness_fini(struct harness *h)
{
	sluice_packet_ctx_fini(&h->ctx);
	if (h->ctx.streams != NULL) {
		sluice_stream_drop_all(&h->streams);
		sluice_stream_ctx_fini(&h->streams);
	}
	sluice_event_ring_free(h->ring);
}

/* Runs pkts through the worker's burst code; returns packets the stream
 * layer dropped (must be 0 for a fair measurement). */
static uint32_t run_packets(struct harness *h, uint8_t **pkts, uint32_t *lens, uint32_t n)
{
	enum sluice_packet_fate fates[BURST];
	static uint8_t found_good[BURST];
	for (unsigned i = 0; i < BURST; i++)
		found_good[i] = SLUICE_RX_L4_GOOD;
	h->ctx.rx_l4 = h->port_checked ? found_good : NULL;
	uint32_t dropped = 0;
	struct sluice_event ev;
	for (uint32_t i = 0; i < n; i += BURST) {
		uint16_t k = (uint16_t)(n - i < BURST ? n - i : BURST);
		sluice_packet_ctx_bind(&h->ctx, h->gen, i);
		sluice_burst_process_from(&h->ctx, 0, (void *const *)(pkts + i), pkts + i, lens + i,
					  NULL, k, fates);
		if (h->ctx.streams != NULL) {
			dropped += h->streams.drop_count;
			sluice_stream_burst_done(&h->streams);
		}
		while (sluice_event_ring_pop(h->ring, &ev))
			;
	}
	return dropped;
}

/* ---- traffic ---- */

struct traffic {
	uint8_t *buf; /* PKT_ROOM per packet */
	uint8_t **pkts;
	uint32_t *lens;
	uint32_t n, cap;
	uint32_t messages;
};

static uint8_t *next_room(struct traffic *t)
{
	if (t->n == t->cap) {
		fprintf(stderr, "stream-bench: traffic buffer full\n");
		exit(1);
	}
	t->pkts[t->n] = t->buf + (size_t)t->n * PKT_ROOM;
	return t->pkts[t->n];
}

static void traffic_init(struct traffic *t, uint32_t cap)
{
	memset(t, 0, sizeof(*t));
	t->cap = cap;
	t->buf = malloc((size_t)cap * PKT_ROOM);
	t->pkts = calloc(cap, sizeof(*t->pkts));
	t->lens = calloc(cap, sizeof(*t->lens));
	if (!t->buf || !t->pkts || !t->lens) {
		fprintf(stderr, "stream-bench: out of memory\n");
		exit(1);
	}
}

static void traffic_free(struct traffic *t)
{
	free(t->buf);
	free(t->pkts);
	free(t->lens);
}

struct conn {
	struct sluice_endpoints c2s, s2c;
	uint32_t next[2];
	uint32_t since_ack;
};

static void conn_init(struct conn *c, uint32_t id)
{
	sluice_endpoints_default(&c->c2s, false);
	c->c2s.src_ip[2] = (uint8_t)(id >> 16);
	c->c2s.src_ip[3] = (uint8_t)(id >> 8);
	c->c2s.src_port = (uint16_t)(1024 + (id & 0xff) * 200 + (id >> 24));
	c->c2s.dst_port = WS_PORT;
	c->s2c = c->c2s;
	memcpy(c->s2c.src_ip, c->c2s.dst_ip, 16);
	memcpy(c->s2c.dst_ip, c->c2s.src_ip, 16);
	c->s2c.src_port = WS_PORT;
	c->s2c.dst_port = c->c2s.src_port;
	c->next[0] = 1000 + id * 7919u;
	c->next[1] = 5000 + id * 104729u;
	c->since_ack = 0;
}

static void seg(struct traffic *t, struct conn *c, int from, uint8_t flags, const void *p,
		uint32_t len)
{
	uint8_t *room = next_room(t);
	struct sluice_tcp_fields f = {
	    .seq = c->next[from], .ack = c->next[from ^ 1], .flags = flags, .window = 65535};
	size_t n = sluice_tcp_packet_build(room, PKT_ROOM, from ? &c->s2c : &c->c2s, &f, p, len);
	if (n == 0) {
		fprintf(stderr, "stream-bench: a segment does not fit\n");
		exit(1);
	}
	t->lens[t->n++] = (uint32_t)n;
	c->next[from] += len + ((flags & 0x03) ? 1 : 0);
}

static const char request[] =
    "GET /chat HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";
static const char response[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\n"
			       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

static void handshake(struct traffic *t, struct conn *c)
{
	seg(t, c, 0, 0x02, NULL, 0);
	seg(t, c, 1, 0x12, NULL, 0);
	seg(t, c, 0, 0x10, NULL, 0);
	seg(t, c, 0, 0x18, request, sizeof(request) - 1);
	seg(t, c, 1, 0x18, response, sizeof(response) - 1);
}

/* A message as a masked text frame, whole or in two segments; the server
 * acknowledges every 16 messages. */
static void ws_message(struct traffic *t, struct conn *c, const char *text, uint32_t len, bool json,
		       bool split)
{
	static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
	uint8_t fr[1400];
	char body[1200];
	uint32_t blen = len;
	const char *b = text;
	if (json) {
		int n = snprintf(body, sizeof(body),
				 "{\"type\":\"chat\",\"uid\":13812345678,\"text\":");
		/* The text as a JSON string (escaped), then the closing brace. */
		size_t el = (size_t)n;
		body[el++] = '"';
		for (uint32_t i = 0; i < len && el + SLUICE_JSON_ESCAPE_MAX + 2 < sizeof(body);) {
			size_t used;
			el += sluice_json_escape_next((const uint8_t *)text + i, len - i, body + el,
						      &used);
			i += (uint32_t)used;
		}
		body[el++] = '"';
		body[el++] = '}';
		blen = (uint32_t)el;
		b = body;
	}
	if (blen > 1200)
		blen = 1200;
	size_t h = sluice_ws_header_build(fr, true, 0, SLUICE_WS_TEXT, key, blen);
	memcpy(fr + h, b, blen);
	sluice_ws_mask(fr + h, fr + h, blen, key, 0);
	uint32_t total = (uint32_t)h + blen;
	if (split && total > 8) {
		seg(t, c, 0, 0x18, fr, total / 2);
		seg(t, c, 0, 0x18, fr + total / 2, total - total / 2);
	} else {
		seg(t, c, 0, 0x18, fr, total);
	}
	t->messages++;
	if (++c->since_ack == 16) {
		seg(t, c, 1, 0x10, NULL, 0);
		c->since_ack = 0;
	}
}

/* Both sides close: FIN, FIN, ACK. */
static void close_conn(struct traffic *t, struct conn *c)
{
	seg(t, c, 0, 0x11, NULL, 0);
	seg(t, c, 1, 0x11, NULL, 0);
	seg(t, c, 0, 0x10, NULL, 0);
}

static void udp_message(struct traffic *t, uint64_t id, const char *text, uint32_t len)
{
	uint8_t payload[1400];
	struct sluice_wire_message m = {
	    .msg_id = id, .text = text, .text_len = (uint16_t)(len < 1200 ? len : 1200)};
	size_t fl = sluice_wire_frame_write(payload, sizeof(payload), &m);
	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, false);
	uint8_t *room = next_room(t);
	t->lens[t->n++] = (uint32_t)sluice_udp_packet_build(room, PKT_ROOM, &ep, payload, fl);
	t->messages++;
}

/* ---- stages ---- */

enum kind { K_UDP, K_WS, K_WS_JSON, K_WS_SPLIT, K_WS_PORT_CHECKED, KINDS };

/* Builds a pass of traffic: messages [0, count) over the connections. */
static void build_pass(struct traffic *t, enum kind k, const struct corpus_texts *corpus,
		       uint32_t count, struct conn *conns, uint32_t flows)
{
	t->n = 0;
	t->messages = 0;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t m = i % corpus->count;
		if (k == K_UDP)
			udp_message(t, i, corpus->text[m], corpus->len[m]);
		else
			ws_message(t, &conns[i % flows], corpus->text[m], corpus->len[m],
				   k == K_WS_JSON, k == K_WS_SPLIT);
	}
}

/* One stage: its own worker context, connections and traffic, timed one
 * pass at a time so that the stages' passes can be interleaved. */
struct stage {
	enum kind kind;
	struct harness h;
	struct conn *conns;
	uint32_t flows;
	struct traffic t;
	double rate[99];
	uint32_t dropped;
};

static void stage_open(struct stage *st, enum kind k, struct sluice_generation *gen,
		       const struct sluice_json_members *members, const struct options *o)
{
	st->kind = k;
	st->flows = k == K_UDP ? 0 : o->flows;
	st->conns = calloc(o->flows, sizeof(*st->conns));
	if (st->conns == NULL ||
	    harness_init(&st->h, gen, k != K_UDP, k == K_WS_JSON ? members : NULL, 65536) != 0) {
		fprintf(stderr, "sluice-stream-bench: out of memory\n");
		exit(1);
	}
	st->h.port_checked = k == K_WS_PORT_CHECKED;
	traffic_init(&st->t, o->messages * 3 + st->flows * 6 + 64);
	/* Open the connections (untimed). */
	for (uint32_t f = 0; f < st->flows; f++) {
		conn_init(&st->conns[f], f);
		handshake(&st->t, &st->conns[f]);
	}
	if (st->t.n > 0)
		run_packets(&st->h, st->t.pkts, st->t.lens, st->t.n);
}

static void stage_pass(struct stage *st, unsigned round, const struct corpus_texts *corpus,
		       const struct options *o)
{
	build_pass(&st->t, st->kind, corpus, o->messages, st->conns, st->flows);
	double start = sluice_mono_s();
	st->dropped += run_packets(&st->h, st->t.pkts, st->t.lens, st->t.n);
	st->rate[round] = st->t.messages / (sluice_mono_s() - start);
}

static void stage_close(struct stage *st)
{
	harness_fini(&st->h);
	traffic_free(&st->t);
	free(st->conns);
}

static int write_capture(const char *path, const struct traffic *t)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
	pcap_dumper_t *d = dead ? pcap_dump_open(dead, path) : NULL;
	if (d == NULL) {
		fprintf(stderr, "sluice-stream-bench: cannot write %s\n", path);
		if (dead)
			pcap_close(dead);
		return -1;
	}
	for (uint32_t i = 0; i < t->n; i++) {
		struct pcap_pkthdr h = {.caplen = t->lens[i], .len = t->lens[i]};
		h.ts.tv_usec = (suseconds_t)(i % 1000000);
		pcap_dump((u_char *)d, &h, t->pkts[i]);
	}
	pcap_dump_close(d);
	pcap_close(dead);
	return 0;
}

/* One pass of the same messages as UDP frames and as WebSocket: the
 * connections open, carry the messages and close inside the capture. */
static int write_captures(const struct options *o, const struct corpus_texts *corpus)
{
	struct traffic t;
	struct conn *conns = calloc(o->flows, sizeof(*conns));
	char path[4096];
	int rc = 0;
	traffic_init(&t, o->messages * 3 + o->flows * 10 + 64);
	if (conns == NULL)
		return -1;
	build_pass(&t, K_UDP, corpus, o->messages, NULL, 0);
	snprintf(path, sizeof(path), "%s.udp.pcap", o->write_pcap);
	rc |= write_capture(path, &t);
	printf("{\"udp\":{\"path\":\"%s\",\"packets\":%u,\"messages\":%u}", path, t.n, t.messages);
	t.n = 0;
	t.messages = 0;
	for (uint32_t f = 0; f < o->flows; f++) {
		conn_init(&conns[f], f);
		handshake(&t, &conns[f]);
	}
	for (uint32_t i = 0; i < o->messages; i++) {
		uint32_t m = i % corpus->count;
		ws_message(&t, &conns[i % o->flows], corpus->text[m], corpus->len[m], false, false);
	}
	for (uint32_t f = 0; f < o->flows; f++)
		close_conn(&t, &conns[f]);
	snprintf(path, sizeof(path), "%s.ws.pcap", o->write_pcap);
	rc |= write_capture(path, &t);
	printf(",\"ws\":{\"path\":\"%s\",\"packets\":%u,\"messages\":%u}}\n", path, t.n,
	       t.messages);
	traffic_free(&t);
	free(conns);
	return rc;
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

int main(int argc, char **argv)
{
	struct options o = {.messages = 20000, .rounds = 7, .flows = 256, .table_flows = 100000};
	char err[512];
	int status = cli_parse_main(&program, argc, argv, &o, NULL);
	if (status != CLI_MAIN_RUN)
		return status;
	struct sluice_pack *pack;
	struct corpus_texts corpus;
	if (sluice_pack_load(o.pack, &pack, err, sizeof(err)) != 0 ||
	    corpus_texts_load(o.corpus, &corpus, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-stream-bench: %s\n", err);
		return 2;
	}
	if (o.write_pcap != NULL) {
		int rc = write_captures(&o, &corpus);
		corpus_texts_free(&corpus);
		sluice_pack_free(pack);
		return rc == 0 ? 0 : 1;
	}
	struct sluice_generation *gen = sluice_generation_create(pack, 1, err, sizeof(err));
	if (gen == NULL) {
		fprintf(stderr, "sluice-stream-bench: %s\n", err);
		return 1;
	}
	struct sluice_json_members members = {0};
	sluice_json_members_parse(&members, "text", err, sizeof(err));
	struct conn *conns =
	    calloc(o.table_flows > o.flows ? o.table_flows : o.flows, sizeof(*conns));
	static struct stage stages[KINDS];
	static const char *const names[KINDS] = {"udp", "ws", "ws_json", "ws_split",
						 "ws_port_checked"};
	for (int k = 0; k < KINDS; k++)
		stage_open(&stages[k], (enum kind)k, gen, &members, &o);
	/* Interleaved passes, so that a noisy moment costs every stage alike;
	 * ratios are taken within each round, then their median. */
	double ratio[KINDS][99], added[99], saved[99];
	for (unsigned r = 0; r < o.rounds; r++) {
		fprintf(stderr, "stream-bench: round %u\n", r + 1);
		for (int k = 0; k < KINDS; k++)
			stage_pass(&stages[k], r, &corpus, &o);
		for (int k = 0; k < KINDS; k++)
			ratio[k][r] = stages[k].rate[r] / stages[0].rate[r];
		added[r] = 1e9 / stages[K_WS_SPLIT].rate[r] - 1e9 / stages[K_WS].rate[r];
		saved[r] = 1e9 / stages[K_WS].rate[r] - 1e9 / stages[K_WS_PORT_CHECKED].rate[r];
	}
	printf("{\"messages_per_pass\":%u,\"rounds\":%u,\"flows\":%u", o.messages, o.rounds,
	       o.flows);
	for (int k = 0; k < KINDS; k++) {
		double rate = sluice_median(stages[k].rate, o.rounds);
		printf(",\"%s\":{\"msgs_per_s\":%.0f,\"ns_per_msg\":%.1f,\"dropped\":%u", names[k],
		       rate, 1e9 / rate, stages[k].dropped);
		if (k > 0)
			printf(",\"ratio_to_udp\":%.3f", sluice_median(ratio[k], o.rounds));
		if (k == K_WS_SPLIT)
			printf(",\"added_ns_per_msg\":%.1f", sluice_median(added, o.rounds));
		if (k == K_WS_PORT_CHECKED)
			printf(",\"saved_ns_per_msg\":%.1f", sluice_median(saved, o.rounds));
		printf("}");
	}
	double ws_rate = sluice_median(stages[K_WS].rate, o.rounds);
	for (int k = 0; k < KINDS; k++)
		stage_close(&stages[k]);

	if (o.table_flows > 0) {
		fprintf(stderr, "stream-bench: flows (%u)\n", o.table_flows);
		long before = rss_kib();
		static struct harness big;
		uint32_t cap = o.table_flows + o.table_flows / 4;
		if (harness_init(&big, gen, true, NULL, cap) != 0) {
			fprintf(stderr, "sluice-stream-bench: out of memory for %u flows\n", cap);
			return 1;
		}
		long allocated = rss_kib();
		struct traffic t;
		traffic_init(&t, o.table_flows * 5 + 64);
		for (uint32_t f = 0; f < o.table_flows; f++) {
			conn_init(&conns[f], f);
			handshake(&t, &conns[f]);
		}
		run_packets(&big, t.pkts, t.lens, t.n);
		traffic_free(&t);
		long opened = rss_kib();
		struct options o2 = o;
		o2.messages = o.table_flows > o.messages ? o.table_flows : o.messages;
		o2.rounds = 3;
		/* Reuse the open connections: the stage would reopen them. */
		struct traffic p;
		traffic_init(&p, o2.messages * 2 + 64);
		double rates[3];
		for (int r = 0; r < 3; r++) {
			build_pass(&p, K_WS, &corpus, o2.messages, conns, o.table_flows);
			double start = sluice_mono_s();
			run_packets(&big, p.pkts, p.lens, p.n);
			rates[r] = p.messages / (sluice_mono_s() - start);
		}
		traffic_free(&p);
		printf(",\"flow_table\":{\"flows\":%u,\"capacity\":%u,\"active\":%" PRIu64
		       ",\"bytes_per_flow\":%zu,\"table_mib\":%.1f,\"rss_mib_allocated\":%.1f,"
		       "\"rss_mib_opened\":%.1f,\"msgs_per_s_all_active\":%.0f,"
		       "\"ratio_to_ws\":%.3f}",
		       o.table_flows, cap, big.stats.stream.flows_active,
		       sluice_stream_bytes_per_flow(),
		       (double)sluice_stream_bytes_per_flow() * cap / 1048576.0,
		       (double)(allocated - before) / 1024.0, (double)(opened - before) / 1024.0,
		       sluice_median(rates, 3), sluice_median(rates, 3) / ws_rate);
		harness_fini(&big);
	}
	printf("}\n");
	free(conns);
	sluice_generation_free(gen);
	corpus_texts_free(&corpus);
	sluice_pack_free(pack);
	return 0;
}
