/* Scanning packets end to end on plain buffers (dataplane/datagram_process.h)
 * with the default pack: verdicts, their effect on the datagram, bad input and
 * its policies, events and counters. */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datagram_process.h"
#include "event_ring.h"
#include "generation.h"
#include "pack.h"
#include "pack_source.h"
#include "siphash.h"
#include "test_support.h"
#include "utf8.h"
#include "wire_format.h"

#define PORT	 7700
#define PKT_CAP	 16384
#define TSC	 123456789ull
#define RING_CAP 256

static struct sluice_pack *pack;
static struct sluice_generation *gen;
static struct sluice_event_ring *ring;
static struct sluice_message_decoder dec;
static struct sluice_worker_stats stats;
static struct sluice_packet_ctx ctx;

static void setup(void)
{
	char err[1024] = "";
	char *path = ts_source_path("patterns/rules/default.yaml");

	cr_assert_eq(ts_pack_load(path, &pack, err, sizeof(err)), 0, "%s", err);
	free(path);
	gen = sluice_generation_create(pack, 1, err, sizeof(err));
	cr_assert_not_null(gen, "%s", err);
	ring = sluice_event_ring_create(RING_CAP);
	cr_assert_not_null(ring);
	sluice_udp_frame_decoder_init(&dec, PORT);
	memset(&stats, 0, sizeof(stats));
	sluice_packet_ctx_init(&ctx, 0, &dec, &stats, ring);
	cr_assert_eq(sluice_packet_ctx_set_scan_mode(&ctx, SLUICE_SCAN_MESSAGE), 0);
	sluice_packet_ctx_bind(&ctx, gen, TSC);
}

static void teardown(void)
{
	sluice_packet_ctx_fini(&ctx);
	sluice_event_ring_free(ring);
	sluice_generation_free(gen);
	sluice_pack_free(pack);
}

TestSuite(datagram_process, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static uint32_t rule_index(const char *id)
{
	for (size_t i = 0; i < pack->rule_count; i++) {
		if (strcmp(pack->rules[i].id, id) == 0)
			return (uint32_t)i;
	}
	cr_assert_fail("no rule %s in the default pack", id);
	return UINT32_MAX;
}

static struct sluice_wire_message msg(uint64_t id, uint8_t flags, const char *text)
{
	struct sluice_wire_message m = ts_msg(id, text);

	m.flags = flags;
	return m;
}

static uint32_t build(uint8_t *pkt, bool ipv6, bool vlan, const struct sluice_wire_message *msgs,
		      unsigned n)
{
	size_t len = ts_build_datagram(pkt, PKT_CAP, ipv6, vlan, msgs, n);

	cr_assert_gt(len, 0);
	return (uint32_t)len;
}

/* A UDP datagram to the message port carrying payload[0..len) as it is. */
static uint32_t build_raw(uint8_t *pkt, const uint8_t *payload, size_t len)
{
	struct sluice_endpoints ep;
	size_t n;

	sluice_endpoints_default(&ep, false);
	n = sluice_udp_packet_build(pkt, PKT_CAP, &ep, payload, len);
	cr_assert_gt(n, 0);
	return (uint32_t)n;
}

/* The packet is byte for byte the one built with msgs. */
static void expect_packet(const uint8_t *pkt, uint32_t len, bool ipv6, bool vlan,
			  const struct sluice_wire_message *msgs, unsigned n)
{
	static uint8_t want[PKT_CAP];
	uint32_t want_len = build(want, ipv6, vlan, msgs, n);

	cr_assert_eq(len, want_len);
	cr_assert_arr_eq(pkt, want, want_len);
	cr_assert(ts_checksums_valid(pkt, len));
}

static unsigned pop_events(struct sluice_event *evs, unsigned max)
{
	unsigned n = 0;

	while (n < max && sluice_event_ring_pop(ring, &evs[n]))
		n++;
	return n;
}

static void expect_no_events(void)
{
	struct sluice_event ev;

	cr_assert_not(sluice_event_ring_pop(ring, &ev));
}

static void expect_match_event(const struct sluice_event *ev, const struct sluice_wire_message *m,
			       const char *rule, uint32_t from, uint32_t to,
			       enum sluice_action verdict)
{
	cr_assert_eq(ev->kind, SLUICE_EVENT_MATCH);
	cr_assert_eq(ev->msg_id, m->msg_id);
	cr_assert_eq(ev->channel_id, m->channel_id);
	cr_assert_eq(ev->user_id, m->user_id);
	cr_assert_eq(ev->has_ids, 1);
	cr_assert_eq(ev->rule, rule_index(rule), "rule %u, want %s", ev->rule, rule);
	cr_assert_eq(ev->from, from);
	cr_assert_eq(ev->to, to);
	cr_assert_eq(ev->verdict, verdict);
	cr_assert_eq(ev->pack, pack);
	cr_assert_eq(ev->worker, 0);
	cr_assert_eq(ev->tsc, TSC);
}

/* The event among evs[0..n) for rule, which must be there once. */
static const struct sluice_event *event_for(const struct sluice_event *evs, unsigned n,
					    const char *rule)
{
	const struct sluice_event *found = NULL;
	uint32_t idx = rule_index(rule);

	for (unsigned i = 0; i < n; i++) {
		if (evs[i].kind == SLUICE_EVENT_MATCH && evs[i].rule == idx) {
			cr_assert_null(found, "two events for %s", rule);
			found = &evs[i];
		}
	}
	cr_assert_not_null(found, "no event for %s", rule);
	return found;
}

static void expect_bad_event(const struct sluice_event *ev, enum sluice_bad_reason reason,
			     enum sluice_bad_policy policy, const struct sluice_wire_message *ids)
{
	cr_assert_eq(ev->kind, SLUICE_EVENT_BAD_INPUT);
	cr_assert_eq(ev->reason, reason);
	cr_assert_eq(ev->policy, policy);
	cr_assert_eq(ev->verdict, SLUICE_ACTION_BLOCK);
	cr_assert_eq(ev->pack, pack);
	cr_assert_eq(ev->worker, 0);
	cr_assert_eq(ev->tsc, TSC);
	if (ids == NULL) {
		cr_assert_eq(ev->has_ids, 0);
	} else {
		cr_assert_eq(ev->has_ids, 1);
		cr_assert_eq(ev->msg_id, ids->msg_id);
		cr_assert_eq(ev->channel_id, ids->channel_id);
		cr_assert_eq(ev->user_id, ids->user_id);
	}
}

static void expect_no_bad_except(enum sluice_bad_reason reason)
{
	for (int r = 0; r < SLUICE_BAD_REASON_COUNT; r++) {
		if (r != (int)reason)
			cr_assert_eq(stats.bad[r], 0, "bad[%d]", r);
	}
}

/* ---- verdicts ---- */

Test(datagram_process, clean_message_forwarded_unchanged_and_counted_as_passed)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		struct sluice_wire_message in[2] = {msg(1, 0, "hello world"),
						    msg(2, 0, "今天天气很好")};
		static uint8_t pkt[PKT_CAP], orig[PKT_CAP];
		uint32_t len = build(pkt, ipv6, vlan, in, 2), orig_len = len;

		memcpy(orig, pkt, len);
		memset(&stats, 0, sizeof(stats));
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		cr_assert_eq(len, orig_len);
		cr_assert_arr_eq(pkt, orig, orig_len);
		cr_assert_eq(stats.datagrams, 1);
		cr_assert_eq(stats.messages, 2);
		cr_assert_eq(stats.bytes_scanned, 11 + 18);
		cr_assert_eq(stats.verdicts[SLUICE_ACTION_NONE], 2);
		cr_assert_eq(stats.matches, 0);
		cr_assert_eq(stats.datagrams_rewritten, 0);
		cr_assert_eq(stats.other_forwarded, 0);
		expect_no_bad_except(SLUICE_BAD_NONE);
		expect_no_events();
	}
}

Test(datagram_process, phone_number_masked_as_in_wire_format_example)
{
	/* docs/wire-format.md, "Worked example". */
	struct sluice_wire_message in = {.msg_id = 7,
					 .channel_id = 1001,
					 .user_id = 42,
					 .text = "电话 13812345678",
					 .text_len = 18};
	static uint8_t pkt[PKT_CAP], orig[PKT_CAP];
	uint32_t len = build(pkt, false, false, &in, 1);
	struct sluice_event evs[4];

	cr_assert_eq(len, 92);
	cr_assert_eq(sluice_be16_load(pkt + 0x28), 0xef2a);
	memcpy(orig, pkt, len);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(len, 92);
	cr_assert_eq(pkt[0x2d], SLUICE_WIRE_FLAG_MASKED);
	cr_assert_arr_eq(pkt + 0x2a + 32, "电话 ***********", 18);
	cr_assert_eq(sluice_be16_load(pkt + 0x28), 0x206a);
	/* Nothing else changed: headers up to the checksum, the frame header
	 * around the flags byte, and the text before the digits. */
	cr_assert_arr_eq(pkt, orig, 0x28);
	cr_assert_arr_eq(pkt + 0x2a, orig + 0x2a, 3);
	cr_assert_arr_eq(pkt + 0x2e, orig + 0x2e, 28 + 7);
	cr_assert(ts_checksums_valid(pkt, len));

	cr_assert_eq(pop_events(evs, 4), 1);
	expect_match_event(&evs[0], &in, "phone-cn-mobile", 7, 18, SLUICE_ACTION_MASK);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1);
	cr_assert_eq(stats.matches, 1);
	cr_assert_eq(stats.datagrams_rewritten, 1);
}

Test(datagram_process, phone_number_masked_over_exactly_its_bytes_every_encapsulation)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		struct sluice_wire_message in[3] = {msg(1, 0, "hi"), msg(2, 0, "打13912345678给我"),
						    msg(3, 0, "bye")};
		struct sluice_wire_message out[3] = {
		    in[0], msg(2, SLUICE_WIRE_FLAG_MASKED, "打***********给我"), in[2]};
		static uint8_t pkt[PKT_CAP];
		uint32_t len = build(pkt, ipv6, vlan, in, 3);
		struct sluice_event evs[4];

		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		expect_packet(pkt, len, ipv6, vlan, out, 3);
		cr_assert_eq(pop_events(evs, 4), 1);
		expect_match_event(&evs[0], &in[1], "phone-cn-mobile", 3, 14, SLUICE_ACTION_MASK);
	}
}

/* The bundled rules normalise: an evasive number (circled, full-width and a
 * Cyrillic look-alike digit, zero-width spaces between) is masked over
 * exactly its own characters, the invisible ones inside included, and the
 * text stays valid UTF-8 of the same length; alone and in a burst alike. */
Test(datagram_process, evasive_number_is_masked_over_exactly_its_original_characters)
{
	const char *text = "打\u200d①③⑧\u200b１２３４З678给我";
	char want[128];
	size_t len_text = strlen(text);
	const char *from = strstr(text, "①"), *to = strstr(text, "给");
	memcpy(want, text, len_text + 1);
	memset(want + (from - text), '*', (size_t)(to - from));
	for (int mode = 0; mode < 2; mode++) {
		struct sluice_wire_message in[2] = {msg(1, 0, text), msg(2, 0, "hi")};
		struct sluice_wire_message out[2] = {msg(1, SLUICE_WIRE_FLAG_MASKED, want), in[1]};
		static uint8_t pkt[PKT_CAP];
		uint32_t len = build(pkt, false, false, in, 2);
		struct sluice_event evs[4];
		enum sluice_packet_fate fate;

		cr_assert_eq(sluice_packet_ctx_set_scan_mode(&ctx, mode ? SLUICE_SCAN_BATCH
									: SLUICE_SCAN_MESSAGE),
			     0);
		sluice_packet_ctx_bind(&ctx, gen, TSC);
		uint8_t *pkts[1] = {pkt};
		uint32_t lens[1] = {len};
		sluice_burst_process(&ctx, pkts, lens, NULL, 1, &fate);
		cr_assert_eq(fate, SLUICE_FATE_FORWARD);
		expect_packet(pkt, lens[0], false, false, out, 2);
		cr_assert(sluice_utf8_valid((const uint8_t *)want, len_text));
		cr_assert_eq(pop_events(evs, 4), 1);
		expect_match_event(&evs[0], &in[0], "phone-cn-mobile", (uint32_t)(from - text),
				   (uint32_t)(to - text), SLUICE_ACTION_MASK);
	}
}

/* Wraps an 802.1Q-tagged packet in an outer tag: pkt[12..16) becomes
 * tpid/5 and the original tag follows it. */
static uint32_t add_outer_tag(uint8_t *pkt, uint32_t len, uint16_t tpid)
{
	cr_assert_leq(len + 4, PKT_CAP);
	memmove(pkt + 16, pkt + 12, len - 12);
	sluice_be16_store(pkt + 12, tpid);
	sluice_be16_store(pkt + 14, 5);
	return len + 4;
}

/* Puts n 8-byte destination-options headers between an IPv6 header at l3 and
 * its UDP header. */
static uint32_t add_ipv6_extensions(uint8_t *pkt, uint32_t len, uint32_t l3, unsigned n)
{
	uint32_t add = 8 * n;
	cr_assert_leq(len + add, PKT_CAP);
	memmove(pkt + l3 + 40 + add, pkt + l3 + 40, len - l3 - 40);
	for (unsigned i = 0; i < n; i++) {
		uint8_t *h = pkt + l3 + 40 + 8 * i;
		memset(h, 0, 8);
		h[0] = i + 1 < n ? 60 : 17;
		h[2] = 0x01; /* PadN over the remaining 4 bytes */
		h[3] = 0x04;
	}
	pkt[l3 + 6] = 60;
	sluice_be16_store(pkt + l3 + 4, (uint16_t)(sluice_be16_load(pkt + l3 + 4) + add));
	return len + add;
}

/* Issue 8, findings 2 and 3: QinQ and deep IPv6 header chains passed
 * unscanned. Both are now scanned and rewritten in place like any datagram,
 * with valid checksums. */
Test(datagram_process, qinq_datagrams_are_scanned_and_masked)
{
	static const uint16_t tpids[3] = {0x88a8, 0x8100, 0x9100};
	for (int variant = 0; variant < 6; variant++) {
		bool ipv6 = variant & 1;
		uint16_t tpid = tpids[variant / 2];
		struct sluice_wire_message in[2] = {msg(1, 0, "hi"),
						    msg(2, 0, "打13912345678给我")};
		struct sluice_wire_message out[2] = {
		    in[0], msg(2, SLUICE_WIRE_FLAG_MASKED, "打***********给我")};
		static uint8_t pkt[PKT_CAP], want[PKT_CAP];
		uint32_t len = add_outer_tag(pkt, build(pkt, ipv6, true, in, 2), tpid);
		uint32_t want_len = add_outer_tag(want, build(want, ipv6, true, out, 2), tpid);
		struct sluice_event evs[4];

		memset(&stats, 0, sizeof(stats));
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		cr_assert_eq(len, want_len);
		cr_assert_arr_eq(pkt, want, len, "variant %d", variant);
		cr_assert(ts_checksums_valid(pkt, len));
		cr_assert_eq(stats.other_forwarded, 0);
		cr_assert_eq(pop_events(evs, 4), 1);
		expect_match_event(&evs[0], &in[1], "phone-cn-mobile", 3, 14, SLUICE_ACTION_MASK);
	}
}

Test(datagram_process, datagrams_behind_many_ipv6_extension_headers_are_scanned)
{
	struct sluice_wire_message in[1] = {msg(2, 0, "打13912345678给我")};
	struct sluice_wire_message out[1] = {msg(2, SLUICE_WIRE_FLAG_MASKED, "打***********给我")};
	static uint8_t pkt[PKT_CAP], want[PKT_CAP];
	uint32_t len = add_ipv6_extensions(pkt, build(pkt, true, false, in, 1), 14, 12);
	uint32_t want_len = add_ipv6_extensions(want, build(want, true, false, out, 1), 14, 12);

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(len, want_len);
	cr_assert_arr_eq(pkt, want, len);
	cr_assert(ts_checksums_valid(pkt, len));
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1);
	cr_assert_eq(stats.other_forwarded, 0);
}

/* What cannot be walked fails closed: dropped, counted by reason, with an
 * event that names no message (none could be read). */
Test(datagram_process, unwalkable_headers_are_dropped_by_reason)
{
	struct sluice_wire_message in[1] = {msg(2, 0, "打13912345678给我")};
	static uint8_t pkt[PKT_CAP];
	struct sluice_event evs[4];

	uint32_t len = add_outer_tag(pkt, build(pkt, false, true, in, 1), 0x88a8);
	len = add_outer_tag(pkt, len, 0x9100);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[SLUICE_BAD_VLAN_DEPTH], 1);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_bad_event(&evs[0], SLUICE_BAD_VLAN_DEPTH, SLUICE_POLICY_DROP, NULL);

	len = add_ipv6_extensions(pkt, build(pkt, true, false, in, 1), 14,
				  SLUICE_MAX_IPV6_EXTENSIONS + 1);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[SLUICE_BAD_IP_HEADER_CHAIN], 1);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_bad_event(&evs[0], SLUICE_BAD_IP_HEADER_CHAIN, SLUICE_POLICY_DROP, NULL);
	cr_assert_eq(stats.other_forwarded, 0);
	cr_assert_eq(stats.messages, 0, "nothing was scanned, and nothing forwarded");
}

/* Issue 8, finding 8: an event record carried uninitialised padding through
 * the ring. Every byte of a record is now a named field, set or zero. */
Test(datagram_process, event_records_have_no_uninitialised_bytes)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "打13912345678给我"), msg(2, 0, "\xff")};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, in, 2);
	struct sluice_event evs[4];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(pop_events(evs, 4), 2);
	for (int i = 0; i < 2; i++) {
		const uint8_t *raw = (const uint8_t *)&evs[i];
		size_t tail = offsetof(struct sluice_event, pad);
		for (size_t b = tail; b < sizeof(evs[i]); b++)
			cr_assert_eq(raw[b], 0, "event %d byte %zu", i, b);
	}
}

Test(datagram_process, block_rule_removes_its_frame_and_keeps_the_other_two)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		struct sluice_wire_message in[3] = {msg(1, 0, "hello"), msg(2, 0, "出售冰毒"),
						    msg(3, 0, "bye")};
		struct sluice_wire_message out[2] = {in[0], in[2]};
		static uint8_t pkt[PKT_CAP];
		uint32_t len = build(pkt, ipv6, vlan, in, 3);
		struct sluice_event evs[4];

		memset(&stats, 0, sizeof(stats));
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		expect_packet(pkt, len, ipv6, vlan, out, 2);
		cr_assert_eq(pop_events(evs, 4), 1);
		expect_match_event(&evs[0], &in[1], "drug-sale", 6, 12, SLUICE_ACTION_BLOCK);
		cr_assert_eq(stats.verdicts[SLUICE_ACTION_BLOCK], 1);
		cr_assert_eq(stats.verdicts[SLUICE_ACTION_NONE], 2);
		cr_assert_eq(stats.datagrams_rewritten, 1);
		cr_assert_eq(stats.datagrams_removed, 0);
	}
}

Test(datagram_process, datagram_whose_only_frame_is_blocked_is_drop_verdict)
{
	struct sluice_wire_message in = msg(4, 0, "在线赌场 注册送彩金");
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, true, true, &in, 1);
	struct sluice_event evs[4];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_VERDICT);
	cr_assert_eq(stats.datagrams_removed, 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_BLOCK], 1);
	cr_assert_eq(stats.datagrams_rewritten, 0);
	cr_assert_eq(pop_events(evs, 4), 2);
	expect_match_event(event_for(evs, 2, "gambling-invite"), &in, "gambling-invite", 0, 12,
			   SLUICE_ACTION_BLOCK);
	expect_match_event(event_for(evs, 2, "gambling-bonus-lure"), &in, "gambling-bonus-lure", 13,
			   28, SLUICE_ACTION_BLOCK);
}

Test(datagram_process, all_frames_blocked_is_drop_verdict)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "冰毒"), msg(2, 0, "约炮吗")};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, in, 2);

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_VERDICT);
	cr_assert_eq(stats.datagrams_removed, 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_BLOCK], 2);
}

Test(datagram_process, flag_rule_sets_flagged_bit_only)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "可以私聊吗"), msg(2, 0, "ok")};
	struct sluice_wire_message out[2] = {msg(1, SLUICE_WIRE_FLAG_FLAGGED, "可以私聊吗"), in[1]};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, true, false, in, 2);
	struct sluice_event evs[4];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, true, false, out, 2);
	cr_assert_eq(pkt[62 + SLUICE_WIRE_OFF_FLAGS], SLUICE_WIRE_FLAG_FLAGGED);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_match_event(&evs[0], &in[0], "private-chat-lure", 6, 12, SLUICE_ACTION_FLAG);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_FLAG], 1);
	cr_assert_eq(stats.datagrams_rewritten, 1);
}

Test(datagram_process, mask_beats_flag_and_flag_span_is_not_masked)
{
	struct sluice_wire_message in = msg(8, 0, "加我 13812345678");
	struct sluice_wire_message out = msg(8, SLUICE_WIRE_FLAG_MASKED, "加我 ***********");
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, true, &in, 1);
	struct sluice_event evs[4];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, false, true, &out, 1);
	cr_assert_eq(pkt[46 + SLUICE_WIRE_OFF_FLAGS], SLUICE_WIRE_FLAG_MASKED);
	cr_assert_eq(pop_events(evs, 4), 2);
	expect_match_event(event_for(evs, 2, "private-chat-lure"), &in, "private-chat-lure", 0, 6,
			   SLUICE_ACTION_MASK);
	expect_match_event(event_for(evs, 2, "phone-cn-mobile"), &in, "phone-cn-mobile", 7, 18,
			   SLUICE_ACTION_MASK);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_FLAG], 0);
	cr_assert_eq(stats.matches, 2);
}

Test(datagram_process, block_beats_mask)
{
	struct sluice_wire_message in[2] = {msg(1, 0, "冰毒 13812345678"), msg(2, 0, "ok")};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, true, true, in, 2);
	struct sluice_event evs[4];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, true, true, &in[1], 1);
	cr_assert_eq(pop_events(evs, 4), 2);
	expect_match_event(event_for(evs, 2, "drug-sale"), &in[0], "drug-sale", 0, 6,
			   SLUICE_ACTION_BLOCK);
	expect_match_event(event_for(evs, 2, "phone-cn-mobile"), &in[0], "phone-cn-mobile", 7, 18,
			   SLUICE_ACTION_BLOCK);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_BLOCK], 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 0);
}

Test(datagram_process, each_message_gets_its_own_verdict)
{
	struct sluice_wire_message in[4] = {msg(1, 0, "电话 13812345678"), msg(2, 0, "可以私聊吗"),
					    msg(3, 0, "冰毒"), msg(4, 0, "hello")};
	struct sluice_wire_message out[3] = {msg(1, SLUICE_WIRE_FLAG_MASKED, "电话 ***********"),
					     msg(2, SLUICE_WIRE_FLAG_FLAGGED, "可以私聊吗"), in[3]};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, in, 4);
	struct sluice_event evs[8];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, false, false, out, 3);
	cr_assert_eq(pop_events(evs, 8), 3);
	expect_match_event(event_for(evs, 3, "phone-cn-mobile"), &in[0], "phone-cn-mobile", 7, 18,
			   SLUICE_ACTION_MASK);
	expect_match_event(event_for(evs, 3, "private-chat-lure"), &in[1], "private-chat-lure", 6,
			   12, SLUICE_ACTION_FLAG);
	expect_match_event(event_for(evs, 3, "drug-sale"), &in[2], "drug-sale", 0, 6,
			   SLUICE_ACTION_BLOCK);
	cr_assert_eq(stats.messages, 4);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_NONE], 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_FLAG], 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_BLOCK], 1);
	cr_assert_eq(stats.datagrams_rewritten, 1);
}

Test(datagram_process, mask_on_message_that_arrived_masked_keeps_checksum_valid)
{
	/* A message already masked upstream, with a new phone number in it. */
	struct sluice_wire_message in = msg(9, SLUICE_WIRE_FLAG_MASKED, "*** 13812345678");
	struct sluice_wire_message out = msg(9, SLUICE_WIRE_FLAG_MASKED, "*** ***********");
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, &in, 1);

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_arr_eq(pkt + 42 + 32, "*** ***********", 15);
	cr_assert(ts_checksums_valid(pkt, len), "UDP checksum not updated for the masked text");
	expect_packet(pkt, len, false, false, &out, 1);
	cr_assert_eq(stats.datagrams_rewritten, 1);
}

/* ---- bad input: one test per reason and policy ---- */

/* Builds a packet that is bad input for the reason; *ids is the frame whose ids
 * the event should carry (NULL for none). */
typedef uint32_t (*bad_builder)(uint8_t *pkt, const struct sluice_wire_message **ids);

static const struct sluice_wire_message first_of_many = {
    .msg_id = 77, .channel_id = 7, .user_id = 777, .text = "", .text_len = 0};

static uint32_t one_frame_payload(uint8_t *payload, const char *text)
{
	struct sluice_wire_message m = msg(5, 0, text);

	return (uint32_t)sluice_wire_frame_write(payload, PKT_CAP, &m);
}

static uint32_t bad_truncated_header(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64] = {SLUICE_WIRE_MAGIC0, SLUICE_WIRE_MAGIC1, 1};

	*ids = NULL;
	return build_raw(pkt, payload, 20);
}

static uint32_t bad_magic(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64];
	uint32_t n = one_frame_payload(payload, "hello");

	payload[0] = 'X';
	*ids = NULL;
	return build_raw(pkt, payload, n);
}

static uint32_t bad_version(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64];
	uint32_t n = one_frame_payload(payload, "hello");

	static struct sluice_wire_message failing;

	payload[SLUICE_WIRE_OFF_VERSION] = 2;
	/* The header is whole and starts like a frame: the event names its message. */
	failing = msg(5, 0, "hello");
	*ids = &failing;
	return build_raw(pkt, payload, n);
}

static uint32_t bad_text_length(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64];
	uint32_t n = one_frame_payload(payload, "hello");

	static struct sluice_wire_message failing;

	sluice_be16_store(payload + SLUICE_WIRE_OFF_TEXT_LEN, 6);
	failing = msg(5, 0, "hello");
	*ids = &failing;
	return build_raw(pkt, payload, n);
}

static uint32_t bad_trailing_bytes(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64];
	uint32_t n = (uint32_t)sluice_wire_frame_write(payload, sizeof(payload), &first_of_many);

	memcpy(payload + n, "xyz", 3);
	/* "xyz" is no frame, so there is no message to name. */
	*ids = NULL;
	return build_raw(pkt, payload, n + 3);
}

static uint32_t bad_too_many_frames(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	static uint8_t payload[PKT_CAP];
	uint32_t n = 0;

	for (int i = 0; i < SLUICE_MAX_FRAMES + 1; i++) {
		struct sluice_wire_message m = first_of_many;
		m.msg_id += (uint64_t)i;
		n += (uint32_t)sluice_wire_frame_write(payload + n, PKT_CAP - n, &m);
	}
	/* The event names the frame that did not fit. */
	static struct sluice_wire_message failing;
	failing = first_of_many;
	failing.msg_id += SLUICE_MAX_FRAMES;
	*ids = &failing;
	return build_raw(pkt, payload, n);
}

static uint32_t bad_empty_payload(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	*ids = NULL;
	return build_raw(pkt, NULL, 0);
}

static uint32_t bad_ip_fragment(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64];
	uint32_t len = build_raw(pkt, payload, one_frame_payload(payload, "13812345678"));

	sluice_be16_store(pkt + 14 + 6, 0x2000); /* MF, offset 0 */
	*ids = NULL;
	return len;
}

static uint32_t bad_ip_length(uint8_t *pkt, const struct sluice_wire_message **ids)
{
	uint8_t payload[64];
	uint32_t len = build_raw(pkt, payload, one_frame_payload(payload, "hello"));

	sluice_be16_store(pkt + 34 + 4, (uint16_t)(sluice_be16_load(pkt + 34 + 4) - 1));
	*ids = NULL;
	return len;
}

static void bad_dropped_with_event(bad_builder make, enum sluice_bad_reason reason)
{
	static uint8_t pkt[PKT_CAP];
	const struct sluice_wire_message *ids;
	uint32_t len = make(pkt, &ids);
	struct sluice_event evs[4];

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[reason], 1);
	expect_no_bad_except(reason);
	cr_assert_eq(stats.datagrams, 1);
	cr_assert_eq(stats.messages, 0);
	cr_assert_eq(stats.other_forwarded, 0);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_bad_event(&evs[0], reason, SLUICE_POLICY_DROP, ids);
}

static void bad_drop_quiet_without_event(bad_builder make, enum sluice_bad_reason reason)
{
	static uint8_t pkt[PKT_CAP];
	const struct sluice_wire_message *ids;
	uint32_t len = make(pkt, &ids);

	ctx.policy[reason] = SLUICE_POLICY_DROP_QUIET;
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[reason], 1);
	expect_no_bad_except(reason);
	cr_assert_eq(stats.datagrams, 1);
	cr_assert_eq(stats.events_dropped, 0);
	expect_no_events();
}

#define BAD_CASE(name, reason)                                                                     \
	Test(datagram_process, name##_dropped_with_event)                                          \
	{                                                                                          \
		bad_dropped_with_event(name, reason);                                              \
	}                                                                                          \
	Test(datagram_process, name##_drop_quiet_counts_without_event)                             \
	{                                                                                          \
		bad_drop_quiet_without_event(name, reason);                                        \
	}

BAD_CASE(bad_truncated_header, SLUICE_BAD_TRUNCATED_HEADER)
BAD_CASE(bad_magic, SLUICE_BAD_MAGIC)
BAD_CASE(bad_version, SLUICE_BAD_VERSION)
BAD_CASE(bad_text_length, SLUICE_BAD_TEXT_LENGTH)
BAD_CASE(bad_trailing_bytes, SLUICE_BAD_TRAILING_BYTES)
BAD_CASE(bad_too_many_frames, SLUICE_BAD_TOO_MANY_FRAMES)
BAD_CASE(bad_empty_payload, SLUICE_BAD_EMPTY_PAYLOAD)
BAD_CASE(bad_ip_fragment, SLUICE_BAD_IP_FRAGMENT)
BAD_CASE(bad_ip_length, SLUICE_BAD_IP_LENGTH)

Test(datagram_process, bad_magic_in_second_frame_event_names_no_message)
{
	struct sluice_wire_message in[2] = {msg(31, 0, "fine"), msg(32, 0, "broken")};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, in, 2);
	struct sluice_event evs[4];

	pkt[42 + 36] = 'X';
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[SLUICE_BAD_MAGIC], 1);
	cr_assert_eq(stats.messages, 0);
	cr_assert_eq(pop_events(evs, 4), 1);
	/* The first frame was fine; the event must not pin the problem on it. */
	expect_bad_event(&evs[0], SLUICE_BAD_MAGIC, SLUICE_POLICY_DROP, NULL);
}

/* ---- what events tell a reviewer ---- */

Test(datagram_process, match_event_names_sender_and_hashes_exactly_the_matched_bytes)
{
	static const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	struct sluice_wire_message in = msg(41, 0, "电话 13812345678 谢谢");
	static uint8_t pkt[PKT_CAP];
	struct sluice_event evs[4];

	for (int ipv6 = 0; ipv6 <= 1; ipv6++) {
		uint32_t len = build(pkt, ipv6, ipv6, &in, 1);
		memcpy(ctx.event_hash_key, key, sizeof(key));
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		cr_assert_eq(pop_events(evs, 4), 1);
		expect_match_event(&evs[0], &in, "phone-cn-mobile", 7, 18, SLUICE_ACTION_MASK);
		cr_assert_eq(evs[0].text_hash, sluice_siphash24(key, "13812345678", 11));
		cr_assert_neq(evs[0].text_hash,
			      sluice_siphash24((uint64_t[2]){0, 0}, "13812345678", 11),
			      "the key is used");
		cr_assert_eq(evs[0].snippet_len, 0, "no snippet by default");
		cr_assert_eq(evs[0].has_addr, 1);
		cr_assert_eq(evs[0].has_ports, 1);
		cr_assert_eq(evs[0].ipv6, ipv6);
		cr_assert_eq(evs[0].stream, 0, "ids name a datagram's message, not a connection");
		cr_assert_eq(evs[0].sport, 40000);
		cr_assert_eq(evs[0].dport, PORT);
		static const uint8_t src4[4] = {198, 18, 0, 1},
				     src6[16] = {0x20, 0x01, 0, 2, [15] = 1};
		cr_assert_arr_eq(evs[0].src, ipv6 ? src6 : src4, ipv6 ? 16 : 4);
		cr_assert_eq(evs[0].dst[ipv6 ? 15 : 3], 2);
	}
}

Test(datagram_process, evasive_spelling_hashes_as_the_plain_number)
{
	/* Circled and full-width digits with a zero-width space: the rule sees
	 * 13812345678, and so does the hash; the span is the original bytes. */
	struct sluice_wire_message in = msg(44, 0, "电话 ①③⑧\u200b１２３４５６７８ 谢谢");
	static uint8_t pkt[PKT_CAP];
	struct sluice_event evs[4];
	uint32_t len = build(pkt, false, false, &in, 1);

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(pop_events(evs, 4), 1);
	cr_assert_eq(evs[0].rule, rule_index("phone-cn-mobile"));
	cr_assert_eq(evs[0].to - evs[0].from, 3 * 3 + 3 + 8 * 3, "the span as written");
	cr_assert_eq(evs[0].text_hash, sluice_siphash24(ctx.event_hash_key, "13812345678", 11));
}

Test(datagram_process, snippet_follows_its_event_cut_before_a_character)
{
	struct sluice_wire_message in = msg(42, 0, "微信 abc_12345 谢谢");
	static uint8_t pkt[PKT_CAP];
	union sluice_event_slot slots[4];
	uint32_t len = build(pkt, false, false, &in, 1);

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(pop_events(&slots[0].event, 1), 1);
	const struct sluice_event *ev = &slots[0].event;
	uint32_t span = ev->to - ev->from;
	cr_assert_gt(span, 8, "the span starts with CJK characters: rule %s, %u..%u",
		     pack->rules[ev->rule].id, ev->from, ev->to);

	/* The same message with a snippet: the record after the event holds the
	 * matched bytes; a bound inside a character cuts before it. */
	for (unsigned bound = 1; bound <= span + 2; bound++) {
		len = build(pkt, false, false, &in, 1);
		ctx.event_snippet = bound;
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		unsigned want = bound < span ? bound : span;
		const uint8_t *text = (const uint8_t *)in.text + ev->from;
		while (want < span && want > 0 && (text[want] & 0xc0) == 0x80)
			want--;
		cr_assert_eq(pop_events(&slots[1].event, 1), 1);
		cr_assert_eq(slots[1].event.text_hash, ev->text_hash);
		cr_assert_eq(slots[1].event.snippet_len, want, "bound %u", bound);
		if (want == 0) {
			expect_no_events();
			continue;
		}
		cr_assert_eq(pop_events(&slots[2].event, 1), 1, "the snippet came with it");
		cr_assert_arr_eq(slots[2].text, text, want, "bound %u", bound);
		for (size_t i = want; i < sizeof(slots[2].text); i++)
			cr_assert_eq(slots[2].text[i], 0, "no stale bytes past the snippet");
		cr_assert(sluice_utf8_valid(slots[2].text, want));
		expect_no_events();
	}
	cr_assert_eq(stats.events_dropped, 0);
}

Test(datagram_process, bad_input_event_names_the_sender)
{
	struct sluice_wire_message in = msg(43, 0, "hello");
	static uint8_t pkt[PKT_CAP];
	struct sluice_event evs[4];
	uint32_t len = build(pkt, false, false, &in, 1);

	pkt[42] = 'X'; /* bad magic: no frame header to read ids from */
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_bad_event(&evs[0], SLUICE_BAD_MAGIC, SLUICE_POLICY_DROP, NULL);
	cr_assert_eq(evs[0].has_addr, 1);
	cr_assert_eq(evs[0].has_ports, 1);
	cr_assert_eq(evs[0].sport, 40000);
	cr_assert_arr_eq(evs[0].src, ((uint8_t[4]){198, 18, 0, 1}), 4);
	cr_assert_eq(evs[0].has_mac, 1);
	cr_assert_arr_eq(evs[0].src_mac, ((uint8_t[6]){2, 0, 0, 0, 0, 1}), 6);

	/* A datagram cut inside its IPv4 header (IP length): the addresses are
	 * read only if the header is whole, never past the packet. */
	len = build(pkt, false, false, &in, 1);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &(uint32_t){14 + 20 + 6}),
		     SLUICE_FATE_DROP_BAD);
	cr_assert_eq(pop_events(evs, 4), 1);
	cr_assert_eq(evs[0].reason, SLUICE_BAD_IP_LENGTH);
	cr_assert_eq(evs[0].has_addr, 1);
	cr_assert_eq(evs[0].has_ports, 1, "the UDP ports lie within the 40 bytes");
	cr_assert_eq(evs[0].dport, PORT);
}

Test(datagram_process, multi_segment_message_datagram_dropped_with_event)
{
	static uint8_t pkt[PKT_CAP];
	struct sluice_wire_message in = msg(1, 0, "hello");
	uint32_t len = build(pkt, false, false, &in, 1);
	struct sluice_event evs[4];

	/* Only the first segment (the headers and part of the payload) is given. */
	cr_assert_eq(sluice_packet_process_segmented(&ctx, pkt, len - 20), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[SLUICE_BAD_MULTI_SEGMENT], 1);
	expect_no_bad_except(SLUICE_BAD_MULTI_SEGMENT);
	cr_assert_eq(stats.datagrams, 1);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_bad_event(&evs[0], SLUICE_BAD_MULTI_SEGMENT, SLUICE_POLICY_DROP, NULL);
}

Test(datagram_process, multi_segment_drop_quiet_counts_without_event)
{
	static uint8_t pkt[PKT_CAP];
	struct sluice_wire_message in = msg(1, 0, "hello");
	uint32_t len = build(pkt, true, false, &in, 1);

	ctx.policy[SLUICE_BAD_MULTI_SEGMENT] = SLUICE_POLICY_DROP_QUIET;
	cr_assert_eq(sluice_packet_process_segmented(&ctx, pkt, len), SLUICE_FATE_DROP_BAD);
	cr_assert_eq(stats.bad[SLUICE_BAD_MULTI_SEGMENT], 1);
	expect_no_events();
}

Test(datagram_process, multi_segment_other_traffic_is_forwarded)
{
	static uint8_t pkt[PKT_CAP];
	struct sluice_wire_message in = msg(1, 0, "13812345678");
	uint32_t len = build(pkt, false, false, &in, 1);

	sluice_be16_store(pkt + 34 + 2, 53);
	cr_assert_eq(sluice_packet_process_segmented(&ctx, pkt, len), SLUICE_FATE_FORWARD);
	cr_assert_eq(stats.other_forwarded, 1);
	cr_assert_eq(stats.datagrams, 0);
	expect_no_bad_except(SLUICE_BAD_NONE);
	expect_no_events();
}

/* ---- invalid UTF-8 ---- */

Test(datagram_process, invalid_utf8_removes_only_its_frame_under_drop)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		struct sluice_wire_message in[3] = {msg(1, 0, "hello"), msg(2, 0, "bad \xff text"),
						    msg(3, 0, "bye")};
		struct sluice_wire_message out[2] = {in[0], in[2]};
		static uint8_t pkt[PKT_CAP];
		uint32_t len = build(pkt, ipv6, vlan, in, 3);
		struct sluice_event evs[4];

		memset(&stats, 0, sizeof(stats));
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		expect_packet(pkt, len, ipv6, vlan, out, 2);
		cr_assert_eq(stats.bad[SLUICE_BAD_INVALID_UTF8], 1);
		expect_no_bad_except(SLUICE_BAD_INVALID_UTF8);
		cr_assert_eq(stats.messages, 2);
		cr_assert_eq(stats.utf8_repaired, 0);
		cr_assert_eq(pop_events(evs, 4), 1);
		expect_bad_event(&evs[0], SLUICE_BAD_INVALID_UTF8, SLUICE_POLICY_DROP, &in[1]);
	}
}

Test(datagram_process, invalid_utf8_drop_quiet_removes_frame_without_event)
{
	struct sluice_wire_message in[3] = {msg(1, 0, "hello"), msg(2, 0, "\xc0\x80"),
					    msg(3, 0, "bye")};
	struct sluice_wire_message out[2] = {in[0], in[2]};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, in, 3);

	ctx.policy[SLUICE_BAD_INVALID_UTF8] = SLUICE_POLICY_DROP_QUIET;
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, false, false, out, 2);
	cr_assert_eq(stats.bad[SLUICE_BAD_INVALID_UTF8], 1);
	expect_no_events();
}

Test(datagram_process, invalid_utf8_replace_forwards_repaired_and_scanned_text)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		struct sluice_wire_message in[3] = {
		    msg(1, 0, "hello"), msg(2, 0, "\xff 13812345678 \xc0\x80"), msg(3, 0, "bye")};
		struct sluice_wire_message out[3] = {
		    in[0], msg(2, SLUICE_WIRE_FLAG_MASKED, "? *********** ??"), in[2]};
		static uint8_t pkt[PKT_CAP];
		uint32_t len = build(pkt, ipv6, vlan, in, 3);
		struct sluice_event evs[4];

		memset(&stats, 0, sizeof(stats));
		ctx.policy[SLUICE_BAD_INVALID_UTF8] = SLUICE_POLICY_REPLACE;
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		expect_packet(pkt, len, ipv6, vlan, out, 3);
		cr_assert_eq(stats.bad[SLUICE_BAD_INVALID_UTF8], 1);
		cr_assert_eq(stats.utf8_repaired, 1);
		cr_assert_eq(stats.messages, 3);
		cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1);
		cr_assert_eq(stats.datagrams_rewritten, 1);
		cr_assert_eq(pop_events(evs, 4), 2);
		expect_bad_event(&evs[0], SLUICE_BAD_INVALID_UTF8, SLUICE_POLICY_REPLACE, &in[1]);
		expect_match_event(&evs[1], &in[1], "phone-cn-mobile", 2, 13, SLUICE_ACTION_MASK);
	}
}

Test(datagram_process, invalid_utf8_replace_without_match_keeps_checksum_valid)
{
	/* A truncated 3-byte sequence at an odd offset, and no rule matching. */
	struct sluice_wire_message in[2] = {msg(1, 0, "odd"), msg(2, 0, "x\xe4\xb8 ok")};
	struct sluice_wire_message out[2] = {in[0], msg(2, 0, "x?? ok")};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, true, false, in, 2);

	ctx.policy[SLUICE_BAD_INVALID_UTF8] = SLUICE_POLICY_REPLACE;
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, true, false, out, 2);
	cr_assert_eq(stats.utf8_repaired, 1);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_NONE], 2);
	cr_assert_eq(stats.datagrams_rewritten, 1);
}

Test(datagram_process, invalid_utf8_in_only_frame_under_drop_is_drop_bad)
{
	struct sluice_wire_message in = msg(6, 0, "\xed\xa0\x80");
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, &in, 1);
	struct sluice_event evs[4];

	cr_assert_eq(pop_events(evs, 4), 0);
	enum sluice_packet_fate fate = sluice_packet_process(&ctx, pkt, &len);
	cr_assert_eq(stats.bad[SLUICE_BAD_INVALID_UTF8], 1);
	cr_assert_eq(stats.messages, 0);
	cr_assert_eq(pop_events(evs, 4), 1);
	expect_bad_event(&evs[0], SLUICE_BAD_INVALID_UTF8, SLUICE_POLICY_DROP, &in);
	cr_assert_eq(fate, SLUICE_FATE_DROP_BAD,
		     "a datagram removed by bad-input policy alone is reported as fate %d", fate);
}

Test(datagram_process, scan_error_removes_frames_with_event)
{
	/* No scratch: Hyperscan refuses every scan. */
	struct sluice_wire_message in[2] = {msg(1, 0, "hello"), msg(2, 0, "world")};
	static uint8_t pkt[PKT_CAP];
	uint32_t len = build(pkt, false, false, in, 2);
	struct sluice_event evs[4];

	ctx.scratch = NULL;
	cr_assert_neq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(stats.bad[SLUICE_BAD_SCAN_ERROR], 2);
	expect_no_bad_except(SLUICE_BAD_SCAN_ERROR);
	cr_assert_eq(pop_events(evs, 4), 2);
	expect_bad_event(&evs[0], SLUICE_BAD_SCAN_ERROR, SLUICE_POLICY_DROP, &in[0]);
	expect_bad_event(&evs[1], SLUICE_BAD_SCAN_ERROR, SLUICE_POLICY_DROP, &in[1]);
}

/* ---- other traffic ---- */

Test(datagram_process, non_message_packets_forwarded_unchanged)
{
	static uint8_t arp[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0,	0,
				  1,	0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
	static uint8_t dns[PKT_CAP], reply[PKT_CAP], copy[PKT_CAP];
	struct sluice_wire_message in = msg(1, 0, "冰毒 13812345678");
	struct sluice_endpoints ep;
	uint8_t payload[128];
	uint32_t n = (uint32_t)sluice_wire_frame_write(payload, sizeof(payload), &in);
	uint32_t len;

	sluice_endpoints_default(&ep, false);
	ep.dst_port = 53;
	uint32_t dns_len = (uint32_t)sluice_udp_packet_build(dns, PKT_CAP, &ep, payload, n);
	ep.dst_port = 40000;
	ep.src_port = PORT;
	uint32_t reply_len = (uint32_t)sluice_udp_packet_build(reply, PKT_CAP, &ep, payload, n);

	len = sizeof(arp);
	memcpy(copy, arp, len);
	cr_assert_eq(sluice_packet_process(&ctx, arp, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(len, sizeof(arp));
	cr_assert_arr_eq(arp, copy, sizeof(arp));

	len = dns_len;
	memcpy(copy, dns, len);
	cr_assert_eq(sluice_packet_process(&ctx, dns, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(len, dns_len);
	cr_assert_arr_eq(dns, copy, dns_len);

	len = reply_len;
	memcpy(copy, reply, len);
	cr_assert_eq(sluice_packet_process(&ctx, reply, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(len, reply_len);
	cr_assert_arr_eq(reply, copy, reply_len);

	cr_assert_eq(stats.other_forwarded, 3);
	cr_assert_eq(stats.datagrams, 0);
	cr_assert_eq(stats.messages, 0);
	expect_no_bad_except(SLUICE_BAD_NONE);
	expect_no_events();
}

/* ---- events and overflow ---- */

Test(datagram_process, full_event_ring_counts_dropped_events_and_never_blocks)
{
	struct sluice_wire_message in = msg(3, 0, "电话 13812345678");
	struct sluice_wire_message out = msg(3, SLUICE_WIRE_FLAG_MASKED, "电话 ***********");
	static uint8_t pkt[PKT_CAP];
	struct sluice_event evs[128];

	sluice_event_ring_free(ring);
	ring = sluice_event_ring_create(64);
	cr_assert_not_null(ring);
	ctx.events = ring;
	for (int i = 0; i < 70; i++) {
		uint32_t len = build(pkt, false, false, &in, 1);
		cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
		expect_packet(pkt, len, false, false, &out, 1);
	}
	cr_assert_eq(stats.events_dropped, 6);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 70);
	cr_assert_eq(pop_events(evs, 128), 64);
	for (int i = 0; i < 64; i++)
		expect_match_event(&evs[i], &in, "phone-cn-mobile", 7, 18, SLUICE_ACTION_MASK);

	/* Drained, the ring takes events again. */
	uint32_t len = build(pkt, false, false, &in, 1);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(stats.events_dropped, 6);
	cr_assert_eq(pop_events(evs, 128), 1);
}

/* --events-full wait: a full ring holds the worker for room, bounded. */

static void fill_ring(struct sluice_event_ring *r)
{
	struct sluice_event ev = {0};
	while (sluice_event_ring_push(r, &ev))
		;
}

Test(datagram_process, full_ring_under_wait_policy_waits_its_bound_then_drops_and_counts)
{
	struct sluice_wire_message in = msg(3, 0, "电话 13812345678");
	static uint8_t pkt[PKT_CAP];

	fill_ring(ring);
	ctx.event_wait_cycles = 2000000; /* about a millisecond: nobody drains */
	uint64_t before = __builtin_ia32_rdtsc();
	uint32_t len = build(pkt, false, false, &in, 1);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	uint64_t took = __builtin_ia32_rdtsc() - before;
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1, "the verdict applies all the same");
	cr_assert_eq(stats.events_waited, 1);
	cr_assert_eq(stats.event_wait_timeouts, 1);
	cr_assert_eq(stats.events_dropped, 1);
	cr_assert_geq(stats.event_wait_cycles, 2000000);
	cr_assert_geq(took, stats.event_wait_cycles);
}

static void *drain_later(void *arg)
{
	struct sluice_event *got = arg;
	struct timespec pause = {0, 2000000}; /* 2 ms: the worker is waiting by then */
	nanosleep(&pause, NULL);
	struct sluice_event ev;
	/* Make room for one, then take everything, the waiting event last
	 * (bounded: a worker that never pushes fails the test, not hangs it). */
	time_t give_up = time(NULL) + 10;
	for (unsigned n = 0; n < RING_CAP + 1 && time(NULL) < give_up;) {
		if (sluice_event_ring_pop(ring, &ev)) {
			*got = ev;
			n++;
		}
	}
	return NULL;
}

Test(datagram_process, full_ring_under_wait_policy_delivers_once_the_sink_makes_room)
{
	struct sluice_wire_message in = msg(77, 0, "电话 13812345678");
	static uint8_t pkt[PKT_CAP];
	static struct sluice_event last;
	pthread_t sink;

	fill_ring(ring);
	ctx.event_wait_cycles = UINT64_MAX / 2; /* as long as it takes */
	cr_assert_eq(pthread_create(&sink, NULL, drain_later, &last), 0);
	uint32_t len = build(pkt, false, false, &in, 1);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(pthread_join(sink, NULL), 0);
	cr_assert_eq(stats.events_waited, 1);
	cr_assert_eq(stats.event_wait_timeouts, 0);
	cr_assert_eq(stats.events_dropped, 0, "nothing dropped: the worker waited");
	cr_assert_gt(stats.event_wait_cycles, 0);
	expect_match_event(&last, &in, "phone-cn-mobile", 7, 18, SLUICE_ACTION_MASK);
}

Test(datagram_process, full_ring_under_drop_policy_never_waits)
{
	struct sluice_wire_message in = msg(3, 0, "电话 13812345678");
	static uint8_t pkt[PKT_CAP];

	fill_ring(ring);
	cr_assert_eq(ctx.event_wait_cycles, 0, "drop is the default");
	uint32_t len = build(pkt, false, false, &in, 1);
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	cr_assert_eq(stats.events_dropped, 1);
	cr_assert_eq(stats.events_waited, 0);
	cr_assert_eq(stats.event_wait_cycles, 0);
}

Test(datagram_process, more_than_max_matches_masks_whole_text)
{
	/* SLUICE_MAX_MATCHES + 1 phone numbers, each its own span. */
	static char text[2048], stars[2048];
	static uint8_t pkt[PKT_CAP];
	struct sluice_event evs[RING_CAP];
	size_t used = 0;

	for (int i = 0; i < SLUICE_MAX_MATCHES + 1; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "1381234%04d ", i);
	memset(stars, '*', used);
	struct sluice_wire_message in = msg(12, 0, text);
	struct sluice_wire_message out = msg(12, SLUICE_WIRE_FLAG_MASKED, stars);
	uint32_t len = build(pkt, true, true, &in, 1);

	cr_assert_eq(used, 12 * (SLUICE_MAX_MATCHES + 1));
	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, true, true, &out, 1);
	cr_assert_eq(stats.match_overflow, 1);
	cr_assert_eq(stats.matches, SLUICE_MAX_MATCHES);
	cr_assert_eq(stats.verdicts[SLUICE_ACTION_MASK], 1);
	cr_assert_eq(pop_events(evs, RING_CAP), SLUICE_MAX_MATCHES);
	for (int i = 0; i < SLUICE_MAX_MATCHES; i++)
		expect_match_event(&evs[i], &in, "phone-cn-mobile", (uint32_t)(12 * i),
				   (uint32_t)(12 * i + 11), SLUICE_ACTION_MASK);
}

Test(datagram_process, exactly_max_matches_masks_only_the_spans)
{
	static char text[2048], masked[2048];
	static uint8_t pkt[PKT_CAP];
	size_t used = 0;

	for (int i = 0; i < SLUICE_MAX_MATCHES; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used, "1381234%04d ", i);
	for (size_t i = 0; i < used; i++)
		masked[i] = (i % 12 == 11) ? ' ' : '*';
	struct sluice_wire_message in = msg(13, 0, text);
	struct sluice_wire_message out = msg(13, SLUICE_WIRE_FLAG_MASKED, masked);
	uint32_t len = build(pkt, false, false, &in, 1);

	cr_assert_eq(sluice_packet_process(&ctx, pkt, &len), SLUICE_FATE_FORWARD);
	expect_packet(pkt, len, false, false, &out, 1);
	cr_assert_eq(stats.match_overflow, 0);
	cr_assert_eq(stats.matches, SLUICE_MAX_MATCHES);
}
