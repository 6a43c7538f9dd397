/* Packet classification (dataplane/packet_classify.h): which Ethernet frames are
 * message datagrams, where their IP, UDP and payload bytes lie, and which are bad
 * input or other traffic. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "inet_checksum.h"
#include "packet_build.h"
#include "packet_classify.h"
#include "test_support.h"
#include "wire_format.h"

#define PORT	7700
#define PKT_CAP 2048
/* Two frames: "hello" (5 bytes) and "电话 13812345678" (18 bytes). */
#define PAYLOAD_LEN (32 + 5 + 32 + 18)

static size_t build(uint8_t *pkt, bool ipv6, bool vlan)
{
	struct sluice_wire_message msgs[2] = {ts_msg(1, "hello"), ts_msg(2, "电话 13812345678")};
	size_t len = ts_build_datagram(pkt, PKT_CAP, ipv6, vlan, msgs, 2);

	cr_assert_gt(len, 0);
	return len;
}

static uint32_t l3_of(bool vlan)
{
	return vlan ? 18 : 14;
}

/* Inserts n bytes at pkt[at], moving the rest up; returns the new length. */
static size_t insert_at(uint8_t *pkt, size_t len, size_t at, const uint8_t *bytes, size_t n)
{
	cr_assert_leq(len + n, PKT_CAP);
	memmove(pkt + at + n, pkt + at, len - at);
	memcpy(pkt + at, bytes, n);
	return len + n;
}

/* Inserts an IPv6 extension header (ext[0], its next-header field, is filled in)
 * right after the fixed IPv6 header and fixes the payload length. */
static size_t ipv6_insert_ext(uint8_t *pkt, size_t len, uint32_t l3, uint8_t type,
			      const uint8_t *ext, size_t n)
{
	uint8_t hdr[64];

	cr_assert_leq(n, sizeof(hdr));
	memcpy(hdr, ext, n);
	hdr[0] = pkt[l3 + 6];
	len = insert_at(pkt, len, l3 + 40, hdr, n);
	pkt[l3 + 6] = type;
	sluice_be16_store(pkt + l3 + 4, (uint16_t)(sluice_be16_load(pkt + l3 + 4) + n));
	return len;
}

static const uint8_t hop_by_hop[8] = {0, 0, 0x01, 0x04, 0, 0, 0, 0}; /* PadN */
static const uint8_t dest_opts[16] = {0, 1, 0x01, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
static const uint8_t routing[8] = {0, 0, 0, 0, 0, 0, 0, 0};			/* type 0, 0 left */
static const uint8_t auth_hdr[24] = {0, 4, 0, 0, 0, 0, 0x10, 0x01, 0, 0, 0, 1}; /* 24 bytes */
static const uint8_t frag_first[8] = {0, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef}; /* off 0, M */
static const uint8_t frag_later[8] = {0, 0, 0x00, 0xb8, 0xde, 0xad, 0xbe, 0xef}; /* off 23 */

static enum sluice_pkt_class classify(const uint8_t *pkt, size_t len, struct sluice_packet_view *v,
				      enum sluice_bad_reason *why)
{
	memset(v, 0xa5, sizeof(*v));
	*why = SLUICE_BAD_REASON_COUNT;
	return sluice_packet_classify(pkt, (uint32_t)len, PORT, v, why);
}

static void expect_message(bool ipv6, bool vlan)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, ipv6, vlan);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	uint32_t l3 = l3_of(vlan);
	uint32_t l4 = l3 + (ipv6 ? 40 : 20);

	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
	cr_assert_eq(why, SLUICE_BAD_NONE);
	cr_assert_eq(v.l3_off, l3);
	cr_assert_eq(v.l4_off, l4);
	cr_assert_eq(v.payload_off, l4 + 8);
	cr_assert_eq(v.payload_len, PAYLOAD_LEN);
	cr_assert_eq(v.payload_off + v.payload_len, len);
	cr_assert_eq(v.ipv6, ipv6);
	cr_assert_eq(v.vlan, vlan);
	cr_assert_eq(pkt[v.payload_off], SLUICE_WIRE_MAGIC0);
	cr_assert_eq(pkt[v.payload_off + 1], SLUICE_WIRE_MAGIC1);
}

Test(packet_classify, ipv4_datagram_to_port_is_message_with_offsets)
{
	expect_message(false, false);
}

Test(packet_classify, ipv6_datagram_to_port_is_message_with_offsets)
{
	expect_message(true, false);
}

Test(packet_classify, vlan_ipv4_datagram_to_port_is_message_with_offsets)
{
	expect_message(false, true);
}

Test(packet_classify, vlan_ipv6_datagram_to_port_is_message_with_offsets)
{
	expect_message(true, true);
}

Test(packet_classify, ipv4_with_options_is_message_after_options)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);
	static const uint8_t nops[4] = {1, 1, 1, 0};
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = insert_at(pkt, len, 14 + 20, nops, 4);
	pkt[14] = 0x46;
	sluice_be16_store(pkt + 16, (uint16_t)(sluice_be16_load(pkt + 16) + 4));
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
	cr_assert_eq(v.l3_off, 14);
	cr_assert_eq(v.l4_off, 38);
	cr_assert_eq(v.payload_off, 46);
	cr_assert_eq(v.payload_len, PAYLOAD_LEN);
}

Test(packet_classify, other_udp_destination_port_is_other)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, ipv6, vlan);
		uint32_t l4 = l3_of(vlan) + (ipv6 ? 40 : 20);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		sluice_be16_store(pkt + l4 + 2, 53);
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER, "variant %d", variant);
		cr_assert_eq(why, SLUICE_BAD_NONE);
	}
}

Test(packet_classify, reply_from_message_port_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	sluice_be16_store(pkt + 34, PORT);	/* source port 7700 ... */
	sluice_be16_store(pkt + 34 + 2, 40000); /* ... to an ephemeral port */
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
}

Test(packet_classify, ipv4_tcp_to_port_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	pkt[14 + 9] = 6; /* TCP; ports at the same place as UDP's */
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
	cr_assert_eq(why, SLUICE_BAD_NONE);
}

Test(packet_classify, ipv6_tcp_to_port_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	pkt[14 + 6] = 6;
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
}

Test(packet_classify, arp_is_other)
{
	uint8_t pkt[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0,	 0,
			   1,	 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	cr_assert_eq(classify(pkt, sizeof(pkt), &v, &why), SLUICE_PKT_OTHER);
	cr_assert_eq(why, SLUICE_BAD_NONE);
}

/* Issue 8: QinQ-tagged datagrams passed unscanned. Two tags of any of the
 * three TPIDs are decoded; the payload is found behind them. */
Test(packet_classify, two_vlan_tags_of_each_tpid_are_decoded)
{
	static const uint16_t tpids[3] = {0x8100, 0x88a8, 0x9100};
	for (unsigned outer = 0; outer < 3; outer++) {
		for (unsigned ipv6 = 0; ipv6 < 2; ipv6++) {
			uint8_t pkt[PKT_CAP];
			size_t len = build(pkt, ipv6, true);
			uint8_t inner[4] = {0x81, 0x00, 0x00, 0x07};
			struct sluice_packet_view v;
			enum sluice_bad_reason why;

			/* Outer tag TPID/42, inner 0x8100/7, then IP to port 7700. */
			len = insert_at(pkt, len, 16, inner, 4);
			sluice_be16_store(pkt + 12, tpids[outer]);
			cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE,
				     "outer 0x%04x ipv6 %u", tpids[outer], ipv6);
			cr_assert_eq(v.l3_off, 22);
			cr_assert_eq(v.vlan_tags, 2);
			cr_assert(v.vlan);
			cr_assert_eq(v.l4_off, 22 + (ipv6 ? 40 : 20));
			cr_assert_eq(v.payload_len, PAYLOAD_LEN);
		}
	}
}

Test(packet_classify, single_service_tag_is_decoded)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, true);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	sluice_be16_store(pkt + 12, 0x88a8);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
	cr_assert_eq(v.l3_off, 18);
	cr_assert_eq(v.vlan_tags, 1);
}

/* A third tag fails closed, whatever follows it: some receivers terminate
 * it, and then the frame could carry messages. */
Test(packet_classify, third_vlan_tag_is_bad_vlan_depth)
{
	for (unsigned to_port = 0; to_port < 2; to_port++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, false, true);
		static const uint8_t tag[4] = {0x81, 0x00, 0x00, 0x07};
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		len = insert_at(pkt, len, 16, tag, 4);
		len = insert_at(pkt, len, 16, tag, 4);
		if (!to_port)
			sluice_be16_store(pkt + 26 + 20 + 2, 53);
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_VLAN_DEPTH);
	}
}

Test(packet_classify, truncated_second_tag_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, true);
	static const uint8_t inner[4] = {0x81, 0x00, 0x00, 0x07};
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = insert_at(pkt, len, 16, inner, 4);
	for (size_t cut = 14; cut < 22; cut++) {
		uint8_t *exact = malloc(cut);
		cr_assert_not_null(exact);
		memcpy(exact, pkt, cut);
		cr_assert_eq(classify(exact, cut, &v, &why), SLUICE_PKT_OTHER, "len %zu", cut);
		free(exact);
	}
}

Test(packet_classify, ipv4_first_fragment_to_port_is_bad_ip_fragment)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, false, vlan);
		uint32_t l3 = l3_of(vlan);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		sluice_be16_store(pkt + l3 + 6, 0x2000); /* MF, offset 0 */
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT);
		cr_assert_not(v.tcp, "a datagram's fragment");
	}
}

Test(packet_classify, ipv4_first_fragment_to_other_port_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	sluice_be16_store(pkt + 14 + 6, 0x2000);
	sluice_be16_store(pkt + 34 + 2, 53);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
	cr_assert_eq(why, SLUICE_BAD_NONE);
}

Test(packet_classify, ipv4_non_first_fragment_is_other)
{
	static const uint16_t frag_fields[] = {0x00b9, 0x20b9, 0x0001, 0x3fff};

	for (size_t i = 0; i < sizeof(frag_fields) / sizeof(frag_fields[0]); i++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, false, false);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		sluice_be16_store(pkt + 14 + 6, frag_fields[i]);
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER, "frag 0x%04x",
			     frag_fields[i]);
		cr_assert_eq(why, SLUICE_BAD_NONE);
	}
}

Test(packet_classify, ipv4_first_fragment_too_short_to_show_port_is_bad_ip_fragment)
{
	/* The fragment ends before the UDP destination port: it may be for us. */
	for (uint32_t cut = 34; cut < 34 + 4; cut++) {
		uint8_t pkt[PKT_CAP];
		build(pkt, false, false);
		sluice_be16_store(pkt + 14 + 6, 0x2000);
		sluice_be16_store(pkt + 14 + 2, (uint16_t)(cut - 14));
		uint8_t *exact = malloc(cut);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		cr_assert_not_null(exact);
		memcpy(exact, pkt, cut);
		cr_assert_eq(classify(exact, cut, &v, &why), SLUICE_PKT_BAD, "cut %u", cut);
		cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT, "cut %u", cut);
		free(exact);
	}
}

Test(packet_classify, ipv6_fragment_header_first_fragment_to_port_is_bad_ip_fragment)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, true, vlan);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		len = ipv6_insert_ext(pkt, len, l3_of(vlan), 44, frag_first, 8);
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT);
		cr_assert_not(v.tcp, "a datagram's fragment");
	}
}

Test(packet_classify, ipv6_fragment_header_after_hop_by_hop_to_port_is_bad_ip_fragment)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = ipv6_insert_ext(pkt, len, 14, 44, frag_first, 8);
	len = ipv6_insert_ext(pkt, len, 14, 0, hop_by_hop, 8);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT);
}

Test(packet_classify, ipv6_first_fragment_to_other_port_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	sluice_be16_store(pkt + 54 + 2, 53);
	len = ipv6_insert_ext(pkt, len, 14, 44, frag_first, 8);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
	cr_assert_eq(why, SLUICE_BAD_NONE);
}

Test(packet_classify, ipv6_non_first_fragment_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = ipv6_insert_ext(pkt, len, 14, 44, frag_later, 8);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
	cr_assert_eq(why, SLUICE_BAD_NONE);
}

Test(packet_classify, ipv6_first_fragment_too_short_to_show_port_is_bad_ip_fragment)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);

	len = ipv6_insert_ext(pkt, len, 14, 44, frag_first, 8);
	/* UDP header at 62; its destination port ends at 66. */
	for (uint32_t cut = 62; cut < 66; cut++) {
		uint8_t *exact = malloc(cut);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		cr_assert_not_null(exact);
		memcpy(exact, pkt, cut);
		cr_assert_eq(classify(exact, cut, &v, &why), SLUICE_PKT_BAD, "cut %u", cut);
		cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT, "cut %u", cut);
		free(exact);
	}
}

Test(packet_classify, ipv6_hop_by_hop_and_dest_options_then_udp_is_message)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, true, vlan);
		uint32_t l3 = l3_of(vlan);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		len = ipv6_insert_ext(pkt, len, l3, 60, dest_opts, sizeof(dest_opts));
		len = ipv6_insert_ext(pkt, len, l3, 0, hop_by_hop, sizeof(hop_by_hop));
		cr_assert_eq(pkt[l3 + 6], 0);
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
		cr_assert_eq(why, SLUICE_BAD_NONE);
		cr_assert_eq(v.l3_off, l3);
		cr_assert_eq(v.l4_off, l3 + 40 + 8 + 16);
		cr_assert_eq(v.payload_off, l3 + 40 + 8 + 16 + 8);
		cr_assert_eq(v.payload_len, PAYLOAD_LEN);
		cr_assert(v.ipv6);
		cr_assert_eq(v.vlan, (bool)vlan);
	}
}

Test(packet_classify, ipv6_routing_and_auth_headers_then_udp_is_message)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = ipv6_insert_ext(pkt, len, 14, 51, auth_hdr, sizeof(auth_hdr));
	len = ipv6_insert_ext(pkt, len, 14, 43, routing, sizeof(routing));
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
	cr_assert_eq(v.l4_off, 14 + 40 + 8 + 24);
	cr_assert_eq(v.payload_len, PAYLOAD_LEN);
}

Test(packet_classify, ipv6_eight_extension_headers_are_followed)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	for (int i = 0; i < 8; i++)
		len = ipv6_insert_ext(pkt, len, 14, 60, hop_by_hop, 8);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
	cr_assert_eq(v.l4_off, 14 + 40 + 64);
	cr_assert_eq(v.payload_len, PAYLOAD_LEN);
}

/* Issue 8: nine or more extension headers passed unscanned as other
 * traffic. Up to SLUICE_MAX_IPV6_EXTENSIONS are walked; beyond, the packet
 * fails closed whether or not it ends in a datagram to the message port. */
Test(packet_classify, ipv6_nine_to_sixteen_extension_headers_are_followed)
{
	for (int n = 9; n <= SLUICE_MAX_IPV6_EXTENSIONS; n++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, true, n % 2);
		uint32_t l3 = l3_of(n % 2);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		for (int i = 0; i < n; i++)
			len = ipv6_insert_ext(pkt, len, l3, i % 3 ? 60 : 0, hop_by_hop, 8);
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE, "%d headers", n);
		cr_assert_eq(v.l4_off, l3 + 40 + 8 * (uint32_t)n);
		cr_assert_eq(v.payload_len, PAYLOAD_LEN);
	}
}

Test(packet_classify, ipv6_chain_longer_than_the_limit_is_bad_header_chain)
{
	for (unsigned to_port = 0; to_port < 2; to_port++) {
		for (int n = SLUICE_MAX_IPV6_EXTENSIONS + 1; n <= 40; n += 23) {
			uint8_t pkt[PKT_CAP];
			size_t len = build(pkt, true, false);
			struct sluice_packet_view v;
			enum sluice_bad_reason why;

			if (!to_port)
				sluice_be16_store(pkt + 14 + 40 + 2, 53);
			for (int i = 0; i < n; i++)
				len = ipv6_insert_ext(pkt, len, 14, 60, hop_by_hop, 8);
			cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD, "%d headers", n);
			cr_assert_eq(why, SLUICE_BAD_IP_HEADER_CHAIN);
		}
	}
}

Test(packet_classify, ipv6_esp_is_other)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	pkt[14 + 6] = 50;
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_OTHER);
}

Test(packet_classify, ipv4_total_length_past_frame_is_bad_ip_length)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, false, vlan);
		uint32_t l3 = l3_of(vlan);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		sluice_be16_store(pkt + l3 + 2, (uint16_t)(sluice_be16_load(pkt + l3 + 2) + 1));
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
	}
}

Test(packet_classify, ipv4_total_length_below_header_is_bad_ip_length)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	sluice_be16_store(pkt + 16, 19);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
	sluice_be16_store(pkt + 16, 20 + 7); /* no room for a UDP header */
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
}

Test(packet_classify, ipv6_payload_length_past_frame_is_bad_ip_length)
{
	for (int vlan = 0; vlan < 2; vlan++) {
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, true, vlan);
		uint32_t l3 = l3_of(vlan);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		sluice_be16_store(pkt + l3 + 4, (uint16_t)(sluice_be16_load(pkt + l3 + 4) + 1));
		cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
	}
}

Test(packet_classify, udp_length_disagreeing_with_ip_length_is_bad_ip_length)
{
	static const int deltas[] = {-1, +1, -PAYLOAD_LEN};

	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		for (size_t d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
			uint8_t pkt[PKT_CAP];
			size_t len = build(pkt, ipv6, vlan);
			uint32_t l4 = l3_of(vlan) + (ipv6 ? 40 : 20);
			struct sluice_packet_view v;
			enum sluice_bad_reason why;

			sluice_be16_store(pkt + l4 + 4,
					  (uint16_t)(sluice_be16_load(pkt + l4 + 4) + deltas[d]));
			cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD,
				     "variant %d delta %d", variant, deltas[d]);
			cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
		}
	}
}

Test(packet_classify, udp_length_below_header_is_bad_ip_length)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	sluice_be16_store(pkt + 34 + 4, 7);
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
}

Test(packet_classify, ethernet_padding_is_allowed_and_not_payload)
{
	for (int variant = 0; variant < 4; variant++) {
		bool ipv6 = variant & 1, vlan = variant & 2;
		uint8_t pkt[PKT_CAP];
		size_t len = build(pkt, ipv6, vlan);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		memset(pkt + len, 0, 12);
		cr_assert_eq(classify(pkt, len + 12, &v, &why), SLUICE_PKT_MESSAGE);
		cr_assert_eq(v.payload_len, PAYLOAD_LEN);
		cr_assert_eq(v.payload_off + v.payload_len, len);
	}
}

Test(packet_classify, short_datagram_with_padding_to_minimum_frame)
{
	/* One empty frame over IPv4 is 14 + 20 + 8 + 32 = 74 bytes; 40 bytes of
	 * trailing zeros are padding, not payload. */
	struct sluice_wire_message m = ts_msg(9, "");
	uint8_t pkt[PKT_CAP];
	size_t len = ts_build_datagram(pkt, sizeof(pkt), false, false, &m, 1);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	cr_assert_eq(len, 74);
	memset(pkt + len, 0, 40);
	cr_assert_eq(classify(pkt, len + 40, &v, &why), SLUICE_PKT_MESSAGE);
	cr_assert_eq(v.payload_off, 42);
	cr_assert_eq(v.payload_len, 32);
}

Test(packet_classify, frames_shorter_than_ethernet_header_are_other)
{
	uint8_t pkt[PKT_CAP];
	build(pkt, false, true);
	for (uint32_t len = 0; len < 18; len++) {
		uint8_t *exact = malloc(len ? len : 1);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		cr_assert_not_null(exact);
		memcpy(exact, pkt, len);
		cr_assert_eq(classify(exact, len, &v, &why), SLUICE_PKT_OTHER, "len %u", len);
		cr_assert_eq(why, SLUICE_BAD_NONE);
		free(exact);
	}
}

/* Every prefix of a good packet, each in a buffer of exactly its size so that
 * ASan reports any read past it: before the UDP destination port is visible the
 * packet is other traffic; after that it is bad_ip_length until it is whole. */
static void truncations(uint8_t *pkt, size_t full, uint32_t l4)
{
	for (size_t len = 0; len <= full; len++) {
		uint8_t *exact = malloc(len ? len : 1);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		cr_assert_not_null(exact);
		memcpy(exact, pkt, len);
		enum sluice_pkt_class cls = classify(exact, len, &v, &why);
		if (len == full) {
			cr_assert_eq(cls, SLUICE_PKT_MESSAGE);
			cr_assert_eq(v.payload_off + v.payload_len, len);
		} else if (len < l4 + 4) {
			cr_assert_eq(cls, SLUICE_PKT_OTHER, "len %zu", len);
			cr_assert_eq(why, SLUICE_BAD_NONE, "len %zu", len);
		} else {
			cr_assert_eq(cls, SLUICE_PKT_BAD, "len %zu", len);
			cr_assert_eq(why, SLUICE_BAD_IP_LENGTH, "len %zu", len);
		}
		free(exact);
	}
}

Test(packet_classify, truncated_ipv4_frames_never_read_past_len)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, false);

	truncations(pkt, len, 34);
}

Test(packet_classify, truncated_ipv6_frames_never_read_past_len)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);

	truncations(pkt, len, 54);
}

Test(packet_classify, truncated_vlan_ipv4_frames_never_read_past_len)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, false, true);

	truncations(pkt, len, 38);
}

Test(packet_classify, truncated_vlan_ipv6_frames_never_read_past_len)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, true);

	truncations(pkt, len, 58);
}

/* Packets with extension headers, fragments or options: whatever a prefix is
 * classified as, it is never a message (the IP length is past it). */
static void truncations_never_message(uint8_t *pkt, size_t full)
{
	for (size_t len = 0; len < full; len++) {
		uint8_t *exact = malloc(len ? len : 1);
		struct sluice_packet_view v;
		enum sluice_bad_reason why;

		cr_assert_not_null(exact);
		memcpy(exact, pkt, len);
		cr_assert_neq(classify(exact, len, &v, &why), SLUICE_PKT_MESSAGE, "len %zu", len);
		free(exact);
	}
}

Test(packet_classify, truncated_ipv6_extension_header_frames_never_message)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, true);
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = ipv6_insert_ext(pkt, len, 18, 51, auth_hdr, sizeof(auth_hdr));
	len = ipv6_insert_ext(pkt, len, 18, 60, dest_opts, sizeof(dest_opts));
	len = ipv6_insert_ext(pkt, len, 18, 0, hop_by_hop, sizeof(hop_by_hop));
	cr_assert_eq(classify(pkt, len, &v, &why), SLUICE_PKT_MESSAGE);
	truncations_never_message(pkt, len);
}

Test(packet_classify, truncated_ipv6_fragment_frames_never_message)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);

	len = ipv6_insert_ext(pkt, len, 14, 44, frag_first, 8);
	len = ipv6_insert_ext(pkt, len, 14, 0, hop_by_hop, 8);
	truncations_never_message(pkt, len + 1);
}

Test(packet_classify, ipv6_extension_header_length_past_frame_is_bad_header_chain)
{
	/* A destination-options header claiming 2048 bytes: where the chain ends
	 * cannot be seen, so it fails closed. */
	uint8_t pkt[PKT_CAP];
	size_t len = build(pkt, true, false);
	uint8_t huge[8] = {0, 255, 0x01, 0x04, 0, 0, 0, 0};
	struct sluice_packet_view v;
	enum sluice_bad_reason why;

	len = ipv6_insert_ext(pkt, len, 14, 60, huge, 8);
	uint8_t *exact = malloc(len);
	cr_assert_not_null(exact);
	memcpy(exact, pkt, len);
	cr_assert_eq(classify(exact, len, &v, &why), SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_HEADER_CHAIN);
	free(exact);
}

/* ---- TCP segments of chat services (sluice_packet_classify_ports) ---- */

#define WS_PORT 8080

static uint64_t ws_ports[1024];

static const struct sluice_port_set *chat_ports(void)
{
	static struct sluice_port_set ports;
	memset(ws_ports, 0, sizeof(ws_ports));
	ws_ports[WS_PORT >> 6] |= 1ull << (WS_PORT & 63);
	ports.udp = PORT;
	ports.tcp = ws_ports;
	return &ports;
}

static size_t build_tcp(uint8_t *pkt, bool ipv6, bool vlan, uint16_t sport, uint16_t dport,
			const char *payload)
{
	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, ipv6);
	ep.vlan = vlan;
	ep.src_port = sport;
	ep.dst_port = dport;
	struct sluice_tcp_fields f = {
	    .seq = 0x01020304, .ack = 0xa0b0c0d0, .flags = 0x18, .window = 512};
	size_t len = sluice_tcp_packet_build(pkt, PKT_CAP, &ep, &f, (const uint8_t *)payload,
					     strlen(payload));
	cr_assert_gt(len, 0);
	return len;
}

static void expect_stream(bool ipv6, bool vlan, uint16_t sport, uint16_t dport)
{
	uint8_t pkt[PKT_CAP];
	size_t len = build_tcp(pkt, ipv6, vlan, sport, dport, "{\"text\":\"hi\"}");
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_STREAM);
	uint32_t l3 = l3_of(vlan);
	cr_assert_eq(v.l3_off, l3);
	cr_assert_eq(v.l4_off, l3 + (ipv6 ? 40 : 20));
	cr_assert_eq(v.payload_off, v.l4_off + 20);
	cr_assert_eq(v.payload_len, 13);
	cr_assert_eq(v.sport, sport);
	cr_assert_eq(v.dport, dport);
	cr_assert_eq(v.seq, 0x01020304);
	cr_assert_eq(v.ack, 0xa0b0c0d0);
	cr_assert_eq(v.tcp_flags, 0x18);
	cr_assert(v.tcp);
	cr_assert(memcmp(pkt + v.payload_off, "{\"text\":\"hi\"}", 13) == 0);
	cr_assert_eq(sluice_tcp_checksum_verify(pkt + v.l3_off, ipv6, pkt + v.l4_off,
						(uint32_t)len - v.l4_off),
		     0xffff);
}

Test(packet_classify, tcp_to_and_from_a_chat_port_is_stream_in_every_encapsulation)
{
	for (int ipv6 = 0; ipv6 < 2; ipv6++)
		for (int vlan = 0; vlan < 2; vlan++) {
			expect_stream(ipv6, vlan, 40000, WS_PORT); /* client to server */
			expect_stream(ipv6, vlan, WS_PORT, 40000); /* server to client */
		}
}

Test(packet_classify, tcp_to_other_ports_and_without_chat_ports_is_other)
{
	uint8_t pkt[PKT_CAP];
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	size_t len = build_tcp(pkt, false, false, 40000, 8081, "x");
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_OTHER);
	len = build_tcp(pkt, true, false, 40000, WS_PORT, "x");
	cr_assert_eq(sluice_packet_classify(pkt, (uint32_t)len, PORT, &v, &why), SLUICE_PKT_OTHER);
	/* UDP frames are still found with chat ports configured. */
	len = build(pkt, false, false);
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_MESSAGE);
	cr_assert_not(v.tcp);
}

/* The first buffer of a chained packet holds less than its IP length says:
 * refused for that length, but still known as a chat segment (counted among
 * the stream's drops) or as a datagram. */
Test(packet_classify, a_packet_cut_short_by_its_buffer_is_still_known_as_tcp_or_udp)
{
	uint8_t pkt[PKT_CAP];
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		size_t len = build_tcp(pkt, ipv6, false, 40000, WS_PORT, "a longer payload");
		cr_assert_eq(
		    sluice_packet_classify_ports(pkt, (uint32_t)len - 5, chat_ports(), &v, &why),
		    SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
		cr_assert(v.tcp, "ipv6 %d", ipv6);
		/* a TCP segment to another port is other traffic, however cut */
		len = build_tcp(pkt, ipv6, false, 40000, 8081, "a longer payload");
		cr_assert_eq(
		    sluice_packet_classify_ports(pkt, (uint32_t)len - 5, chat_ports(), &v, &why),
		    SLUICE_PKT_OTHER);
		cr_assert_not(v.tcp);
	}
	size_t len = build(pkt, false, false);
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len - 5, chat_ports(), &v, &why),
		     SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_LENGTH);
	cr_assert_not(v.tcp);
}

Test(packet_classify, tcp_header_cut_short_or_inconsistent_is_bad_tcp_header)
{
	uint8_t pkt[PKT_CAP];
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	for (int ipv6 = 0; ipv6 < 2; ipv6++) {
		uint32_t l4 = 14 + (ipv6 ? 40 : 20);
		/* Data offset 4 words (below the minimum). */
		size_t len = build_tcp(pkt, ipv6, false, 40000, WS_PORT, "payload");
		pkt[l4 + 12] = 4 << 4;
		cr_assert_eq(
		    sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		    SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_TCP_HEADER);
		/* Data offset past the end of the IP datagram. */
		len = build_tcp(pkt, ipv6, false, 40000, WS_PORT, "payload");
		pkt[l4 + 12] = 15 << 4;
		cr_assert_eq(
		    sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		    SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_TCP_HEADER);
		/* An IP length that leaves less than a TCP header. */
		len = build_tcp(pkt, ipv6, false, WS_PORT, 40000, "");
		if (ipv6)
			sluice_be16_store(pkt + 14 + 4, 12);
		else
			sluice_be16_store(pkt + 14 + 2, 20 + 12);
		cr_assert_eq(
		    sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		    SLUICE_PKT_BAD);
		cr_assert_eq(why, SLUICE_BAD_TCP_HEADER);
	}
}

Test(packet_classify, tcp_first_fragment_to_a_chat_port_is_bad_ip_fragment)
{
	uint8_t pkt[PKT_CAP];
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	size_t len = build_tcp(pkt, false, false, 40000, WS_PORT, "part one");
	sluice_be16_store(pkt + 14 + 6, 0x2000); /* MF, offset 0 */
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT);
	cr_assert(v.tcp, "a chat segment, not a datagram");
	len = build_tcp(pkt, true, false, 40000, WS_PORT, "part one");
	len = ipv6_insert_ext(pkt, len, 14, 44, frag_first, 8);
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_BAD);
	cr_assert_eq(why, SLUICE_BAD_IP_FRAGMENT);
	cr_assert(v.tcp, "over IPv6 too");
	/* The same to another port is someone else's traffic. */
	len = build_tcp(pkt, false, false, 40000, 9999, "part one");
	sluice_be16_store(pkt + 14 + 6, 0x2000);
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_OTHER);
}

Test(packet_classify, tcp_behind_ipv6_extension_headers_is_stream)
{
	uint8_t pkt[PKT_CAP];
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	size_t len = build_tcp(pkt, true, false, 40000, WS_PORT, "behind options");
	len = ipv6_insert_ext(pkt, len, 14, 0, hop_by_hop, sizeof(hop_by_hop));
	len = ipv6_insert_ext(pkt, len, 14, 60, dest_opts, sizeof(dest_opts));
	cr_assert_eq(sluice_packet_classify_ports(pkt, (uint32_t)len, chat_ports(), &v, &why),
		     SLUICE_PKT_STREAM);
	cr_assert_eq(v.l4_off, 14 + 40 + 8 + 16);
	cr_assert_eq(v.payload_len, 14);
}
