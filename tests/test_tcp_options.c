/* TCP options as the stream layer reads them (SACK-permitted, timestamps,
 * window scale; a malformed list stops the walk), and the ACK Sluice builds
 * to hint a sender (SACK blocks and timestamps, valid checksums, back to the
 * sender). */
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

Test(tcp_options, the_sack_hint_goes_back_to_the_sender_with_valid_checksums)
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
		struct sluice_tcp_ack a = {.seq = 900,
					   .ack = 5000,
					   .window = 777,
					   .sack = {{5001, 7896}, {9000, 9100}},
					   .sack_count = 2,
					   .timestamps = true,
					   .tsval = 11,
					   .tsecr = 22};
		size_t m = sluice_tcp_ack_build(out, sizeof(out), pkt, 14, l4, v6, &a);
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
