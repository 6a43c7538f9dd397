/* libFuzzer harness: TCP segments of WebSocket services through the worker's
 * burst code (stream_process.c, stream_judge.c and everything under them).
 *
 * Feeds: four connections opened properly (handshake, upgrade request, 101),
 * then the input as a program of segments: each op picks a connection, a
 * direction, TCP flags, an offset from that direction's next byte (so
 * overlaps, gaps and retransmissions are all reachable), a payload and
 * whether to corrupt the checksum. Ops go through in bursts of up to 8, in
 * batch or message mode, with JSON members or without (the first byte).
 *
 * Oracle (each violation calls abort()):
 * - every packet handed over comes back exactly once, transmitted or
 *   dropped, by the end (held ones when the streams are dropped);
 * - a packet that arrived with a valid TCP checksum leaves with a valid one,
 *   and one that arrived with a bad one never leaves with a good one;
 * - once everything is dropped, every stream chunk and held record is back in
 *   its pool.
 * ASan and UBSan watch everything else; each input packet sits in a buffer of
 * its exact length.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datagram_process.h"
#include "event_ring.h"
#include "generation.h"
#include "inet_checksum.h"
#include "pack_source.h"
#include "packet_build.h"
#include "packet_classify.h"
#include "stream_process.h"
#include "websocket.h"

#define WS_PORT	  8080
#define FLOWS	  4
#define MAX_PKTS  512
#define BURST_MAX 8

struct tracked {
	uint8_t *data;
	uint32_t len;
	bool valid_csum;
	bool built; /* by the stream layer (a reset, a custody ACK or a resend) */
	int seen;   /* times it came back */
};

static struct tracked pkts[MAX_PKTS + 256];
static uint32_t npkts;
static struct sluice_pack *pack;
static struct sluice_generation *gen;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_stream: %s\n", what);
	abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4096], err[2048] = "";
	const char *dir = getenv("SLUICE_FUZZ_DIR");
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/rules/main.yaml", dir != NULL ? dir : SLUICE_FUZZ_DIR);
	if (sluice_pack_load(path, &pack, err, sizeof(err)) != 0)
		die(err);
	gen = sluice_generation_create(pack, 1, err, sizeof(err));
	if (gen == NULL)
		die(err);
	return 0;
}

static struct tracked *find(void *handle)
{
	for (uint32_t i = 0; i < npkts; i++)
		if (pkts[i].data == handle)
			return &pkts[i];
	die("a handle that was never handed over came back");
	return NULL;
}

static bool csum_valid(const uint8_t *p, uint32_t len)
{
	uint64_t ports[1024] = {0};
	ports[WS_PORT >> 6] |= 1ull << (WS_PORT & 63);
	const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	if (sluice_packet_classify_ports(p, len, &set, &v, &why) != SLUICE_PKT_STREAM)
		return false;
	return sluice_tcp_checksum_verify(p + v.l3_off, v.ipv6, p + v.l4_off,
					  v.payload_off + v.payload_len - v.l4_off) == 0xffff;
}

static void *factory_alloc(void *arg, uint8_t **data, uint32_t cap)
{
	(void)arg;
	if (npkts == sizeof(pkts) / sizeof(pkts[0]))
		return NULL;
	struct tracked *t = &pkts[npkts++];
	*t = (struct tracked){.data = malloc(cap), .len = cap, .built = true};
	*data = t->data;
	return t->data;
}

static void factory_set_len(void *arg, void *pkt, uint32_t len)
{
	(void)arg;
	struct tracked *t = find(pkt);
	if (len > t->len)
		die("a built packet longer than its buffer");
	t->len = len;
	t->valid_csum = true;
}

static void collect(struct sluice_stream_ctx *s)
{
	for (uint32_t i = 0; i < s->tx_count; i++) {
		struct tracked *t = find(s->tx[i].pkt);
		if (t->seen++)
			die("a packet came back twice");
		bool ok = csum_valid(t->data, t->len);
		if (t->valid_csum && !ok)
			die("a valid checksum was broken");
		if (!t->valid_csum && ok)
			die("a bad checksum was made valid");
	}
	for (uint32_t i = 0; i < s->drop_count; i++)
		if (find(s->drop[i])->seen++)
			die("a packet came back twice");
	sluice_stream_burst_done(s);
}

struct conn {
	struct sluice_endpoints ep[2];
	uint32_t next[2];
};

static void add(struct conn *c, int dir, uint8_t flags, uint32_t seq, const uint8_t *payload,
		uint32_t len, bool corrupt)
{
	if (npkts >= MAX_PKTS)
		return;
	uint8_t buf[2048];
	struct sluice_tcp_fields f = {
	    .seq = seq, .ack = c->next[dir ^ 1], .flags = flags, .window = 65535};
	size_t n = sluice_tcp_packet_build(buf, sizeof(buf), &c->ep[dir], &f, payload, len);
	if (n == 0)
		return;
	if (corrupt && len > 0)
		buf[n - 1] ^= 0x40;
	struct tracked *t = &pkts[npkts++];
	*t = (struct tracked){.data = malloc(n), .len = (uint32_t)n};
	memcpy(t->data, buf, n);
	t->valid_csum = csum_valid(t->data, t->len);
}

static const char request[] =
    "GET / HTTP/1.1\r\nHost: f\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5a2V5\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n";
static const char response[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			       "Connection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n";

static void open_conn(struct conn *c, int i, bool ipv6)
{
	sluice_endpoints_default(&c->ep[0], ipv6);
	c->ep[0].src_port = (uint16_t)(40000 + i);
	c->ep[0].dst_port = WS_PORT;
	c->ep[1] = c->ep[0];
	memcpy(c->ep[1].src_ip, c->ep[0].dst_ip, 16);
	memcpy(c->ep[1].dst_ip, c->ep[0].src_ip, 16);
	memcpy(c->ep[1].src_mac, c->ep[0].dst_mac, 6);
	memcpy(c->ep[1].dst_mac, c->ep[0].src_mac, 6);
	c->ep[1].src_port = WS_PORT;
	c->ep[1].dst_port = c->ep[0].src_port;
	c->next[0] = 1000u * (uint32_t)(i + 1);
	c->next[1] = 0xfffff000u + (uint32_t)i; /* wraps */
	add(c, 0, 0x02, c->next[0]++, NULL, 0, false);
	add(c, 1, 0x12, c->next[1]++, NULL, 0, false);
	add(c, 0, 0x18, c->next[0], (const uint8_t *)request, sizeof(request) - 1, false);
	c->next[0] += sizeof(request) - 1;
	add(c, 1, 0x18, c->next[1], (const uint8_t *)response, sizeof(response) - 1, false);
	c->next[1] += sizeof(response) - 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t config = data[0];
	data++;
	size--;

	static struct sluice_worker_stats stats;
	memset(&stats, 0, sizeof(stats));
	struct sluice_event_ring *ring = sluice_event_ring_create(1024);
	struct sluice_message_decoder dec;
	struct sluice_packet_ctx ctx;
	static struct sluice_stream_config cfg;
	static struct sluice_stream_ctx streams;
	sluice_udp_frame_decoder_init(&dec, 7700);
	sluice_stream_config_default(&cfg, 1000);
	sluice_stream_config_add_port(&cfg, WS_PORT);
	cfg.flows = 8;
	cfg.worker_bytes = 64 * 2048;
	cfg.held_packets = 64;
	cfg.max_message = 4096;
	cfg.flow_bytes = 16384;
	if (config & 1)
		sluice_json_members_parse(&cfg.members, "text,content", NULL, 0);
	cfg.block = (config & 4) ? SLUICE_STREAM_BLOCK_RESET : SLUICE_STREAM_BLOCK_BLANK;
	dec.tcp_ports = cfg.tcp_ports;
	sluice_packet_ctx_init(&ctx, 0, &dec, &stats, ring);
	if (sluice_packet_ctx_set_scan_mode(&ctx, (config & 2) ? SLUICE_SCAN_BATCH
							       : SLUICE_SCAN_MESSAGE) != 0)
		die("scan mode");
	if (sluice_stream_ctx_init(&streams, &cfg, &sluice_libc_allocator) != 0)
		die("streams");
	streams.factory = (struct sluice_packet_factory){
	    .alloc = factory_alloc, .set_len = factory_set_len, .arg = NULL};
	ctx.streams = &streams;

	npkts = 0;
	struct conn conns[FLOWS];
	for (int i = 0; i < FLOWS; i++)
		open_conn(&conns[i], i, (config & 8) != 0);
	/* The program: op, connection, offset (2), length, payload. */
	while (size >= 5 && npkts < MAX_PKTS) {
		uint8_t op = data[0];
		struct conn *c = &conns[data[1] % FLOWS];
		int dir = op & 1;
		uint8_t flags = (uint8_t)(0x10 | ((op & 2) ? 0x08 : 0) | ((op & 4) ? 0x01 : 0) |
					  ((op & 8) ? 0x04 : 0) | ((op & 16) ? 0x02 : 0));
		int16_t off = (int16_t)(data[2] << 8 | data[3]);
		uint32_t len = data[4];
		data += 5;
		size -= 5;
		if (len > size)
			len = (uint32_t)size;
		uint32_t seq = c->next[dir] + (uint32_t)(int32_t)off;
		add(c, dir, flags, seq, data, len, (op & 32) != 0);
		if (off >= 0 && seq + len - c->next[dir] < 0x8000)
			c->next[dir] = seq + len;
		data += len;
		size -= len;
	}

	uint8_t *bytes[BURST_MAX];
	uint32_t lens[BURST_MAX];
	void *handles[BURST_MAX];
	enum sluice_packet_fate fates[BURST_MAX];
	uint32_t handed = npkts;
	for (uint32_t i = 0; i < handed; i += BURST_MAX) {
		uint16_t n = (uint16_t)(handed - i < BURST_MAX ? handed - i : BURST_MAX);
		for (uint16_t k = 0; k < n; k++) {
			bytes[k] = pkts[i + k].data;
			lens[k] = pkts[i + k].len;
			handles[k] = pkts[i + k].data;
		}
		sluice_packet_ctx_bind(&ctx, gen, i * 1000u);
		sluice_burst_process_from(&ctx, (uint8_t)(i & 1), handles, bytes, lens, NULL, n,
					  fates);
		for (uint16_t k = 0; k < n; k++)
			if (fates[k] != SLUICE_FATE_STREAM)
				die("a chat service's segment was not the stream layer's");
		sluice_stream_expire(&ctx, i * 1000u);
		collect(&streams);
		struct sluice_event ev;
		while (sluice_event_ring_pop(ring, &ev))
			;
	}
	sluice_stream_drop_all(&streams);
	collect(&streams);
	for (uint32_t i = 0; i < npkts; i++) {
		if (pkts[i].seen != 1)
			die("a packet never came back");
		free(pkts[i].data);
	}
	if (streams.chunks.free != streams.chunks.count || streams.held.free != streams.held.count)
		die("stream memory not returned");
	sluice_stream_ctx_fini(&streams);
	sluice_packet_ctx_fini(&ctx);
	sluice_event_ring_free(ring);
	return 0;
}
