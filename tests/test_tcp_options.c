/* TCP options as the stream layer reads them (MSS, SACK-permitted, SACK
 * blocks, timestamps, window scale; a malformed list stops the walk), and the
 * segments Sluice builds in a side's name: a custody ACK (SACK blocks and
 * timestamps) and a resend with payload, valid checksums, back to the
 * template's sender. */
#include <criterion/criterion.h>

#include <string.h>

#include "inet_checksum.h"
#include "packet_build.h"
#include "packet_classify.h"
#include "tcp_options.h"
#include "wire_format.h"

Test(tcp_options, a_linux_syn_has_mss_sack_timestamps_and_window_scale)
{
	/* MSS 1460, SACK-permitted, TS 0x01020304/0, NOP, window scale 7. */
	const uint8_t opt[] = {2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7};
	struct sluice_tcp_options o;
	sluice_tcp_options_parse(opt, sizeof(opt), &o);
	cr_assert(o.sack_permitted && o.timestamps && o.window_scale && !o.malformed);
	cr_assert_eq(o.tsval, 0x01020304);
	cr_assert_eq(o.tsecr, 0);
	cr_assert_eq(o.shift, 7);
	cr_assert_eq(o.mss, 1460);
	cr_assert_eq(o.sack_blocks, 0);
}

Test(tcp_options, sack_blocks_are_counted_and_odd_lengths_ignored)
{
	/* NOP, NOP, TS, NOP, NOP, SACK with two blocks. */
	const uint8_t two[] = {1, 1, 8, 10, 0, 0, 0, 1,	 0, 0, 0, 2,  1, 1, 5, 18,
			       0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40};
	struct sluice_tcp_options o;
	sluice_tcp_options_parse(two, sizeof(two), &o);
	cr_assert(!o.malformed && o.timestamps);
	cr_assert_eq(o.sack_blocks, 2);
	cr_assert_eq(o.mss, 0);
	/* A SACK option whose length is not 2 + 8n is no block list. */
	const uint8_t odd[] = {5, 6, 0, 0, 0, 1};
	sluice_tcp_options_parse(odd, sizeof(odd), &o);
	cr_assert(!o.malformed);
	cr_assert_eq(o.sack_blocks, 0);
}

Test(tcp_options, a_resend_carries_its_payload_toward_the_templates_sender)
{
	uint8_t pkt[256], out[512];
	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, false);
	ep.src_port = 40001; /* the receiver's ACK, the template */
	ep.dst_port = 8080;
	struct sluice_tcp_fields f = {.seq = 70, .ack = 1000, .flags = 0x10, .window = 100};
	size_t n = sluice_tcp_packet_build(pkt, sizeof(pkt), &ep, &f, NULL, 0);
	cr_assert_gt(n, 0);
	static const char bytes[] = "call me ***********";
	struct sluice_tcp_reply r = {.seq = 1000,
				     .ack = 70,
				     .window = 501,
				     .payload = (const uint8_t *)bytes,
				     .payload_len = sizeof(bytes) - 1};
	size_t m = sluice_tcp_reply_build(out, sizeof(out), pkt, 14, 34, false, &r);
	cr_assert_eq(m, 34 + 20 + sizeof(bytes) - 1);
	static uint64_t ports[1024];
	ports[8080 >> 6] |= 1ull << (8080 & 63);
	const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	cr_assert_eq(sluice_packet_classify_ports(out, (uint32_t)m, &set, &v, &why),
		     SLUICE_PKT_STREAM);
	cr_assert_eq(v.sport, 8080);
	cr_assert_eq(v.dport, 40001);
	cr_assert_eq(v.seq, 1000);
	cr_assert_eq(v.ack, 70);
	cr_assert_eq(v.tcp_flags, 0x18, "PSH|ACK");
	cr_assert_eq(v.payload_len, sizeof(bytes) - 1);
	cr_assert(memcmp(out + v.payload_off, bytes, v.payload_len) == 0);
	cr_assert_eq(sluice_tcp_checksum_verify(out + 14, false, out + 34, (uint32_t)(m - 34)),
		     0xffff);
	cr_assert_eq(sluice_csum_fold(sluice_csum_add(0, out + 14, 20, false)), 0xffff);
	/* Too small a buffer builds nothing. */
	cr_assert_eq(sluice_tcp_reply_build(out, m - 1, pkt, 14, 34, false, &r), 0);
}

Test(tcp_options, malformed_lists_stop_and_keep_what_came_before)
{
	struct sluice_tcp_options o;
	const uint8_t zero_len[] = {4, 2, 8, 0, 1, 1};
	sluice_tcp_options_parse(zero_len, sizeof(zero_len), &o);
	cr_assert(o.malformed && o.sack_permitted && !o.timestamps);
	const uint8_t past_end[] = {1, 8, 10, 1, 2};
	sluice_tcp_options_parse(past_end, sizeof(past_end), &o);
	cr_assert(o.malformed && !o.timestamps);
	const uint8_t cut[] = {1, 1, 4};
	sluice_tcp_options_parse(cut, sizeof(cut), &o);
	cr_assert(o.malformed && !o.sack_permitted);
	/* End of list: what follows is padding. */
	const uint8_t eol[] = {0, 4, 2};
	sluice_tcp_options_parse(eol, sizeof(eol), &o);
	cr_assert(!o.malformed && !o.sack_permitted);
	/* A timestamp option of the wrong length is not read as one. */
	const uint8_t odd[] = {8, 6, 1, 2, 3, 4};
	sluice_tcp_options_parse(odd, sizeof(odd), &o);
	cr_assert(!o.malformed && !o.timestamps);
}

Test(tcp_options, the_custody_ack_goes_back_to_the_sender_with_valid_checksums)
{
	for (int v6 = 0; v6 < 2; v6++) {
		uint8_t pkt[256], out[256];
		struct sluice_endpoints ep;
		sluice_endpoints_default(&ep, v6);
		ep.src_port = 8080;
		ep.dst_port = 40001;
		struct sluice_tcp_fields f = {
		    .seq = 5000, .ack = 900, .flags = 0x18, .window = 100};
		size_t n =
		    sluice_tcp_packet_build(pkt, sizeof(pkt), &ep, &f, (const uint8_t *)"x", 1);
		cr_assert_gt(n, 0);
		uint32_t l4 = v6 ? 54 : 34;
		struct sluice_tcp_reply a = {.seq = 900,
					     .ack = 5000,
					     .window = 777,
					     .sack = {{5001, 7896}, {9000, 9100}},
					     .sack_count = 2,
					     .timestamps = true,
					     .tsval = 11,
					     .tsecr = 22};
		size_t m = sluice_tcp_reply_build(out, sizeof(out), pkt, 14, l4, v6, &a);
		cr_assert_eq(m, l4 + 20 + 12 + 20);
		static uint64_t ports[1024];
		ports[8080 >> 6] |= 1ull << (8080 & 63);
		const struct sluice_port_set set = {.udp = 7700, .tcp = ports};
		struct sluice_packet_view v;
		enum sluice_bad_reason why;
		cr_assert_eq(sluice_packet_classify_ports(out, (uint32_t)m, &set, &v, &why),
			     SLUICE_PKT_STREAM);
		cr_assert_eq(v.sport, 40001);
		cr_assert_eq(v.dport, 8080);
		cr_assert_eq(v.seq, 900);
		cr_assert_eq(v.ack, 5000);
		cr_assert_eq(v.tcp_flags, 0x10);
		cr_assert_eq(v.payload_len, 0);
		cr_assert_eq(sluice_be16_load(out + l4 + 14), 777);
		cr_assert_eq(sluice_tcp_checksum_verify(out + 14, v6, out + l4, (uint32_t)(m - l4)),
			     0xffff);
		if (!v6)
			cr_assert_eq(sluice_csum_fold(sluice_csum_add(0, out + 14, 20, false)),
				     0xffff);
		cr_assert(memcmp(out, pkt + 6, 6) == 0, "back to the sender's MAC");
		struct sluice_tcp_options o;
		sluice_tcp_options_parse(out + l4 + 20, 32, &o);
		cr_assert(o.timestamps && !o.malformed);
		cr_assert_eq(o.tsval, 11);
		cr_assert_eq(o.tsecr, 22);
		/* The SACK option: kind 5, two blocks. */
		const uint8_t *sack = out + l4 + 20 + 12;
		cr_assert_eq(sack[2], 5);
		cr_assert_eq(sack[3], 18);
		cr_assert_eq(sluice_be32_load(sack + 4), 5001);
		cr_assert_eq(sluice_be32_load(sack + 8), 7896);
		cr_assert_eq(sluice_be32_load(sack + 12), 9000);
	}
}
