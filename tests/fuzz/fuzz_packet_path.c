/* libFuzzer harness: the packet path, sluice_burst_process() over a burst of
 * arbitrary Ethernet frames, scanned with real packs.
 *
 * Feeds: input[0] chooses the set-up (bit 0: the generation also holds the
 * urgent pack; bit 1: invalid_utf8 policy replace, else drop; bit 2: every
 * other reason drop_quiet; bit 3: invalid_utf8 drop_quiet unless replace).
 * The rest is up to 32 packets, each a big-endian u16 header (bit 15: the
 * packet arrives chained, so only these bytes are contiguous; bits 0-14: its
 * length, cut to what is left) and its bytes. Each packet gets a heap buffer
 * with 64 bytes after its end that ASan keeps poisoned, so the project's own
 * code is held to the exact length, while Hyperscan (not instrumented) may
 * read a vector past the end of a text as its AVX512VBMI literal matcher in
 * 5.4.0 does (tests/fuzz/README.md, "Findings"). With SLUICE_FUZZ_GUARD_PAGES
 * set, each packet ends instead at a page boundary followed by an inaccessible
 * page, so any read past a packet faults, instrumented or not (slow; for
 * replaying an input, as the README shows). The packs are compiled
 * once at start-up from tests/fuzz/rules/main.yaml and urgent.yaml (their
 * comments say which rules oracle (d) needs).
 *
 * Oracle (each violation calls abort(), which libFuzzer reports as a crash):
 * (a) the burst processed in batch mode and in per-message mode, on separate
 *     copies, gives the same fates, the same lengths and bytes for every
 *     forwarded packet, the same worker counters and the same event records in
 *     the same order (every event is popped from both rings);
 * (b) a forwarded packet that was a message datagram still is one, and its
 *     IPv4 header checksum and UDP checksum are valid whenever they were on
 *     input (an IPv4 UDP checksum of 0, "none", stays 0, and a real one never
 *     becomes 0);
 * (c) nothing is forwarded unscanned: a forwarded packet Sluice classified
 *     OTHER is byte for byte the input; no packet Sluice classified BAD is
 *     forwarded; and whenever the permissive receiver model below (any number
 *     of VLAN tags, any IPv4 header length, any chain of IPv6 extension
 *     headers, unfragmented datagrams only, UDP length within the IP payload)
 *     would deliver a packet to the message port, that packet is forwarded
 *     only if Sluice classified it as a message datagram, whole;
 * (d) processing every forwarded message datagram again (per-message mode,
 *     same packs and policies) forwards it whole, finds no bad input, gives no
 *     block and no mask verdict, and changes no text: masking is idempotent;
 * (e) every range the project hands to hs_scan() (linked with
 *     -Wl,--wrap=hs_scan) is addressable to ASan: the uninstrumented library
 *     is never asked to read outside a buffer.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "datagram_process.h"
#include "event_ring.h"
#include "generation.h"
#include "inet_checksum.h"
#include "message_decoder.h"
#include "pack.h"
#include "pack_source.h"
#include "packet_classify.h"
#include "wire_format.h"

#ifndef SLUICE_FUZZ_DIR
#define SLUICE_FUZZ_DIR "tests/fuzz"
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define WITH_ASAN 1
#endif
#endif
#ifndef WITH_ASAN
#define ASAN_POISON_MEMORY_REGION(addr, size)	((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#define PORT	   SLUICE_WIRE_DEFAULT_PORT
#define BURST	   32
#define RING_CAP   (1u << 15)
#define BURST_TSC  7
#define MAX_PACKET 0x7fff
#define SLACK	   64 /* one AVX-512 vector */

enum { RUN_MESSAGE, RUN_BATCH, RUN_AGAIN, RUN_COUNT };

struct run {
	struct sluice_packet_ctx ctx;
	struct sluice_worker_stats stats;
	struct sluice_event_ring *ring;
	struct sluice_event *events; /* popped after the burst */
	size_t event_count;
	uint8_t *pkts[BURST];
	uint32_t lens[BURST];
	enum sluice_packet_fate fates[BURST];
};

static struct sluice_message_decoder decoder;
static struct sluice_pack *main_pack, *urgent_pack;
static struct sluice_generation *gen_main, *gen_both;
static struct run runs[RUN_COUNT];
static bool guard_pages;

hs_error_t __real_hs_scan(const hs_database_t *db, const char *data, unsigned int length,
			  unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
			  void *context);
hs_error_t __wrap_hs_scan(const hs_database_t *db, const char *data, unsigned int length,
			  unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
			  void *context);

/* Oracle (e). */
hs_error_t __wrap_hs_scan(const hs_database_t *db, const char *data, unsigned int length,
			  unsigned int flags, hs_scratch_t *scratch, match_event_handler on_event,
			  void *context)
{
#ifdef WITH_ASAN
	if (length > 0 && __asan_region_is_poisoned((void *)data, length) != NULL) {
		fprintf(stderr,
			"fuzz_packet_path: hs_scan() asked to read %u bytes at %p, not all "
			"of them a buffer's\n",
			length, (const void *)data);
		abort();
	}
#endif
	return __real_hs_scan(db, data, length, flags, scratch, on_event, context);
}

static void die(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_packet_path: %s: %s\n", what, err);
	exit(1);
}

static struct sluice_pack *compile(const char *name)
{
	char path[4096], err[2048] = "";
	const char *dir = getenv("SLUICE_FUZZ_DIR");
	struct sluice_pack *pack = NULL;

	snprintf(path, sizeof(path), "%s/rules/%s", dir != NULL ? dir : SLUICE_FUZZ_DIR, name);
	if (sluice_pack_load(path, &pack, err, sizeof(err)) != 0)
		die(path, err);
	return pack;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[2048] = "";
	(void)argc;
	(void)argv;

	guard_pages = getenv("SLUICE_FUZZ_GUARD_PAGES") != NULL;
	sluice_udp_frame_decoder_init(&decoder, PORT);
	main_pack = compile("main.yaml");
	urgent_pack = compile("urgent.yaml");
	gen_main = sluice_generation_create(main_pack, 1, err, sizeof(err));
	gen_both = sluice_generation_create(main_pack, 1, err, sizeof(err));
	if (gen_main == NULL || gen_both == NULL)
		die("generation", err);
	hs_scratch_t *proto = NULL;
	size_t bytes = 0;
	if (sluice_scratch_prototype(urgent_pack, &proto, &bytes, err, sizeof(err)) != 0)
		die("urgent scratch", err);
	struct sluice_scratch_set *set =
	    sluice_scratch_set_create(urgent_pack, proto, 1, err, sizeof(err));
	if (set == NULL || sluice_generation_set_slot(gen_both, SLUICE_SLOT_URGENT, urgent_pack,
						      set, 0, err, sizeof(err)) != 0)
		die("urgent slot", err);

	for (int r = 0; r < RUN_COUNT; r++) {
		struct run *run = &runs[r];
		run->ring = sluice_event_ring_create(RING_CAP);
		run->events = malloc(RING_CAP * sizeof(*run->events));
		if (run->ring == NULL || run->events == NULL)
			die("setup", "out of memory");
		sluice_packet_ctx_init(&run->ctx, 0, &decoder, &run->stats, run->ring);
		if (sluice_packet_ctx_set_scan_mode(
			&run->ctx, r == RUN_BATCH ? SLUICE_SCAN_BATCH : SLUICE_SCAN_MESSAGE) != 0)
			die("setup", "out of memory");
	}
	return 0;
}

static void set_policies(struct sluice_packet_ctx *ctx, uint8_t config)
{
	for (unsigned r = 0; r < SLUICE_BAD_REASON_COUNT; r++)
		ctx->policy[r] = (config & 4) ? SLUICE_POLICY_DROP_QUIET : SLUICE_POLICY_DROP;
	if (config & 2)
		ctx->policy[SLUICE_BAD_INVALID_UTF8] = SLUICE_POLICY_REPLACE;
	else if (config & 8)
		ctx->policy[SLUICE_BAD_INVALID_UTF8] = SLUICE_POLICY_DROP_QUIET;
	else
		ctx->policy[SLUICE_BAD_INVALID_UTF8] = SLUICE_POLICY_DROP;
}

/* Whole pages holding len bytes (at least one), for guard_pages. */
static size_t span_of(uint32_t len)
{
	size_t page = 4096;
	return len == 0 ? page : ((size_t)len + page - 1) / page * page;
}

/* A buffer for len bytes of packet. */
static uint8_t *packet_alloc(uint32_t len)
{
	if (guard_pages) {
		size_t span = span_of(len);
		uint8_t *m = mmap(NULL, span + 4096, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED || mprotect(m + span, 4096, PROT_NONE) != 0)
			abort();
		return m + span - len;
	}
	uint8_t *p = malloc((size_t)len + SLACK);
	if (p == NULL)
		abort();
	ASAN_POISON_MEMORY_REGION(p + len, SLACK);
	return p;
}

static void packet_free(uint8_t *p, uint32_t len)
{
	if (guard_pages) {
		size_t span = span_of(len);
		munmap(p + len - span, span + 4096);
		return;
	}
	ASAN_UNPOISON_MEMORY_REGION(p + len, SLACK);
	free(p);
}

/* Runs the burst src[0..n) (copied into buffers of their own) through run. */
static void process(struct run *run, const struct sluice_generation *gen, uint8_t config,
		    const uint8_t *const src[], const uint32_t src_len[], const bool *partial,
		    uint16_t n)
{
	memset(&run->stats, 0, sizeof(run->stats));
	set_policies(&run->ctx, config);
	for (uint16_t i = 0; i < n; i++) {
		run->pkts[i] = packet_alloc(src_len[i]);
		memcpy(run->pkts[i], src[i], src_len[i]);
		run->lens[i] = src_len[i];
	}
	sluice_packet_ctx_bind(&run->ctx, gen, BURST_TSC);
	sluice_burst_process(&run->ctx, run->pkts, run->lens, partial, n, run->fates);
	run->event_count = 0;
	while (run->event_count < RING_CAP &&
	       sluice_event_ring_pop(run->ring, &run->events[run->event_count]))
		run->event_count++;
}

static void release(struct run *run, const uint32_t src_len[], uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		packet_free(run->pkts[i], src_len[i]);
		run->pkts[i] = NULL;
	}
}

/* ---- oracle (a) ---- */

static void same_outcome(const struct run *a, const struct run *b, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		if (a->fates[i] != b->fates[i])
			abort();
		if (a->fates[i] != SLUICE_FATE_FORWARD)
			continue;
		if (a->lens[i] != b->lens[i] || memcmp(a->pkts[i], b->pkts[i], a->lens[i]) != 0)
			abort();
	}
	if (memcmp(&a->stats, &b->stats, sizeof(a->stats)) != 0)
		abort();
	if (a->event_count != b->event_count)
		abort();
	for (size_t e = 0; e < a->event_count; e++)
		if (memcmp(&a->events[e], &b->events[e], sizeof(a->events[e])) != 0)
			abort();
}

/* ---- oracle (b) ---- */

static bool ipv4_header_ok(const uint8_t *pkt, const struct sluice_packet_view *v)
{
	const uint8_t *ip = pkt + v->l3_off;
	return sluice_csum_fold(sluice_csum_add(0, ip, (ip[0] & 0x0fu) * 4u, false)) == 0xffff;
}

static uint16_t udp_field(const uint8_t *pkt, const struct sluice_packet_view *v)
{
	return sluice_be16_load(pkt + v->l4_off + 6);
}

static bool udp_ok(const uint8_t *pkt, const struct sluice_packet_view *v)
{
	if (!v->ipv6 && udp_field(pkt, v) == 0)
		return true;
	return sluice_udp_checksum_verify(pkt + v->l3_off, v->ipv6, pkt + v->l4_off,
					  v->payload_len + 8) == 0xffff;
}

static void checksums_kept(const uint8_t *in, uint32_t in_len, const uint8_t *out, uint32_t out_len)
{
	struct sluice_packet_view vi, vo;
	enum sluice_bad_reason why;
	if (sluice_packet_classify(in, in_len, PORT, &vi, &why) != SLUICE_PKT_MESSAGE)
		abort();
	if (sluice_packet_classify(out, out_len, PORT, &vo, &why) != SLUICE_PKT_MESSAGE)
		abort(); /* a forwarded message datagram must still be one */
	if (vi.ipv6 != vo.ipv6 || vi.l3_off != vo.l3_off || vi.l4_off != vo.l4_off)
		abort();
	if (!vi.ipv6 && ipv4_header_ok(in, &vi) && !ipv4_header_ok(out, &vo))
		abort();
	if (!vi.ipv6 && udp_field(in, &vi) == 0 && udp_field(out, &vo) != 0)
		abort();
	if (!vi.ipv6 && udp_field(in, &vi) != 0 && udp_field(out, &vo) == 0)
		abort();
	if (udp_ok(in, &vi) && !udp_ok(out, &vo))
		abort();
}

/* ---- oracle (c): what a permissive receiver would deliver ---- */

static bool vlan_tpid(uint16_t t)
{
	return t == 0x8100 || t == 0x88a8 || t == 0x9100;
}

/* Whether any receiver that walks every header it knows would hand this
 * frame's UDP payload to a socket bound to the message port. */
static bool receiver_delivers(const uint8_t *p, uint32_t len)
{
	if (len < 14)
		return false;
	uint32_t l3 = 14;
	uint16_t type = sluice_be16_load(p + 12);
	while (vlan_tpid(type)) {
		if (l3 + 4 > len)
			return false;
		type = sluice_be16_load(p + l3 + 2);
		l3 += 4;
	}
	uint32_t l4, ip_end;
	if (type == 0x0800) {
		if (l3 + 20 > len || (p[l3] >> 4) != 4)
			return false;
		uint32_t ihl = (p[l3] & 0x0fu) * 4u;
		uint32_t total = sluice_be16_load(p + l3 + 2);
		if (ihl < 20 || total < ihl || l3 + total > len)
			return false;
		if (sluice_be16_load(p + l3 + 6) & 0x3fff)
			return false; /* a fragment: needs reassembly first */
		if (p[l3 + 9] != 17)
			return false;
		l4 = l3 + ihl;
		ip_end = l3 + total;
	} else if (type == 0x86dd) {
		if (l3 + 40 > len || (p[l3] >> 4) != 6)
			return false;
		ip_end = l3 + 40 + sluice_be16_load(p + l3 + 4);
		if (ip_end > len)
			return false;
		uint8_t next = p[l3 + 6];
		uint32_t off = l3 + 40;
		while (next != 17) {
			uint32_t hl;
			if (off + 8 > ip_end)
				return false;
			switch (next) {
			case 0:
			case 43:
			case 60:
			case 135:
			case 139:
			case 140:
			case 253:
			case 254:
				hl = (p[off + 1] + 1u) * 8u;
				break;
			case 51:
				hl = (p[off + 1] + 2u) * 4u;
				break;
			case 44:
				/* Offset 0 and no more fragments: an atomic
				 * fragment, delivered as it is. */
				if (sluice_be16_load(p + off + 2) & 0xfff9)
					return false;
				hl = 8;
				break;
			default:
				return false;
			}
			if (off + hl > ip_end)
				return false;
			next = p[off];
			off += hl;
		}
		l4 = off;
	} else {
		return false;
	}
	if (l4 + 8 > ip_end || sluice_be16_load(p + l4 + 2) != PORT)
		return false;
	uint32_t udp_len = sluice_be16_load(p + l4 + 4);
	return udp_len >= 8 && udp_len <= ip_end - l4;
}

/* ---- oracle (d) ---- */

static void frames_unchanged(const uint8_t *before, uint32_t before_len, const uint8_t *after,
			     uint32_t after_len)
{
	static struct sluice_decoded a, b;
	enum sluice_bad_reason why;
	if (sluice_udp_frames_decode(&decoder, before, before_len, &a, &why) !=
		SLUICE_PKT_MESSAGE ||
	    sluice_udp_frames_decode(&decoder, after, after_len, &b, &why) != SLUICE_PKT_MESSAGE)
		abort();
	if (a.frame_count != b.frame_count || before_len != after_len)
		abort();
	for (uint32_t f = 0; f < a.frame_count; f++) {
		const uint8_t *x = before + a.frames[f].offset;
		const uint8_t *y = after + b.frames[f].offset;
		if (a.frames[f].offset != b.frames[f].offset ||
		    a.frames[f].text_len != b.frames[f].text_len)
			abort();
		/* Only the flagged bit may be added (a message masked before
		 * can be flagged now that the masked text is gone). */
		uint8_t fx = x[SLUICE_WIRE_OFF_FLAGS], fy = y[SLUICE_WIRE_OFF_FLAGS];
		if ((fx & ~fy) != 0 || ((fy & ~fx) & ~SLUICE_WIRE_FLAG_FLAGGED) != 0)
			abort();
		if (memcmp(x, y, SLUICE_WIRE_OFF_FLAGS) != 0 ||
		    memcmp(x + SLUICE_WIRE_OFF_FLAGS + 1, y + SLUICE_WIRE_OFF_FLAGS + 1,
			   SLUICE_WIRE_HEADER_LEN - SLUICE_WIRE_OFF_FLAGS - 1 +
			       a.frames[f].text_len) != 0)
			abort();
	}
}

static void reprocess(const struct run *first, const struct sluice_generation *gen, uint8_t config,
		      uint16_t n)
{
	static struct sluice_decoded decoded;
	const uint8_t *src[BURST];
	uint32_t len[BURST];
	uint16_t m = 0;
	enum sluice_bad_reason why;

	for (uint16_t i = 0; i < n; i++) {
		if (first->fates[i] != SLUICE_FATE_FORWARD ||
		    sluice_udp_frames_decode(&decoder, first->pkts[i], first->lens[i], &decoded,
					     &why) != SLUICE_PKT_MESSAGE)
			continue;
		src[m] = first->pkts[i];
		len[m] = first->lens[i];
		m++;
	}
	if (m == 0)
		return;
	struct run *again = &runs[RUN_AGAIN];
	process(again, gen, config, src, len, NULL, m);
	const struct sluice_worker_stats *st = &again->stats;
	if (st->verdicts[SLUICE_ACTION_BLOCK] != 0 || st->verdicts[SLUICE_ACTION_MASK] != 0)
		abort();
	for (unsigned r = 0; r < SLUICE_BAD_REASON_COUNT; r++)
		if (st->bad[r] != 0)
			abort();
	for (uint16_t k = 0; k < m; k++) {
		if (again->fates[k] != SLUICE_FATE_FORWARD)
			abort();
		frames_unchanged(src[k], len[k], again->pkts[k], again->lens[k]);
	}
	release(again, len, m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	uint8_t config = data[0];
	const struct sluice_generation *gen = (config & 1) ? gen_both : gen_main;
	const uint8_t *src[BURST];
	uint32_t src_len[BURST];
	bool partial[BURST];
	uint16_t n = 0;

	for (size_t off = 1; n < BURST && off + 2 <= size;) {
		uint16_t head = sluice_be16_load(data + off);
		off += 2;
		uint32_t len = head & MAX_PACKET;
		if (len > size - off)
			len = (uint32_t)(size - off);
		partial[n] = (head & 0x8000) != 0;
		src[n] = data + off;
		src_len[n] = len;
		n++;
		off += len;
	}

	struct run *msg = &runs[RUN_MESSAGE], *batch = &runs[RUN_BATCH];
	process(msg, gen, config, src, src_len, partial, n);
	process(batch, gen, config, src, src_len, partial, n);
	same_outcome(msg, batch, n);

	for (uint16_t i = 0; i < n; i++) {
		struct sluice_packet_view view;
		enum sluice_bad_reason why;
		enum sluice_pkt_class cls =
		    sluice_packet_classify(src[i], src_len[i], PORT, &view, &why);
		if (msg->fates[i] != SLUICE_FATE_FORWARD)
			continue;
		if (cls == SLUICE_PKT_BAD)
			abort();
		if (receiver_delivers(src[i], src_len[i]) &&
		    (cls != SLUICE_PKT_MESSAGE || partial[i]))
			abort();
		if (cls == SLUICE_PKT_OTHER) {
			if (msg->lens[i] != src_len[i] ||
			    memcmp(msg->pkts[i], src[i], src_len[i]) != 0)
				abort();
			continue;
		}
		checksums_kept(src[i], src_len[i], msg->pkts[i], msg->lens[i]);
	}
	reprocess(msg, gen, config, n);
	release(msg, src_len, n);
	release(batch, src_len, n);
	return 0;
}
