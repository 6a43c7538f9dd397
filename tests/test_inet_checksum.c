/* The Internet checksum (dataplane/wire/inet_checksum.h) against RFC 1071 as
 * written, a byte at a time: the sum of a region at every length, start
 * address and parity, and the TCP and UDP checksums with their IPv4 and IPv6
 * pseudo-headers (RFC 793, RFC 768, RFC 8200 8.1) spelled out byte by byte.
 * The worker verifies every TCP segment's checksum before it acts on it, so
 * these sums are on its path for every WebSocket message. */
#include <criterion/criterion.h>

#include <string.h>

#include "inet_checksum.h"

/* RFC 1071 as written: big-endian 16-bit words, two bytes at a time, folded. */
static uint32_t reference_sum(const uint8_t *d, size_t len, bool odd)
{
	uint64_t acc = 0;
	for (size_t i = 0; i < len; i++) {
		/* Odd: the first byte is the low half of a word begun before it. */
		bool high = (i % 2 == 0) != odd;
		acc += high ? (uint32_t)d[i] << 8 : d[i];
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint32_t)acc;
}

static uint32_t next_random(uint32_t *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 16;
}

/* Bytes at random, all-ones runs in some (where carries pile up) and zero
 * runs in others. */
static void fill(uint8_t *buf, size_t len, uint32_t *x, int kind)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = kind == 0 ? 0xff : kind == 1 && i % 5 != 0 ? 0 : (uint8_t)next_random(x);
}

Test(inet_checksum, a_sum_agrees_with_rfc_1071_at_every_length_alignment_and_parity)
{
	static uint8_t buf[9100];
	uint32_t x = 12345;
	for (size_t len = 0; len <= 9000; len += len < 300 ? 1 : 97) {
		for (size_t at = 0; at < 8; at++) {
			fill(buf, sizeof(buf), &x, (int)((len + at) % 4));
			bool odd = (len + at) % 2 == 1;
			uint32_t got = sluice_csum_add(0, buf + at, len, odd);
			cr_assert_eq(sluice_csum_fold(got), reference_sum(buf + at, len, odd),
				     "length %zu at +%zu, odd %d", len, at, odd);
		}
	}
}

Test(inet_checksum, a_sum_adds_to_the_sum_it_is_given_with_the_carry_kept)
{
	uint8_t buf[64];
	uint32_t x = 99;
	const uint32_t starts[] = {0, 1, 0xffff, 0x10000, 0xfffffffe, 0xffffffff, 0x8000ffff};
	for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
		for (size_t len = 0; len <= sizeof(buf); len++) {
			fill(buf, len, &x, (int)(len % 3));
			uint32_t got = sluice_csum_add(starts[s], buf, len, false);
			/* The start folded with the region's folded sum. */
			uint64_t want =
			    (uint64_t)sluice_csum_fold(starts[s]) + reference_sum(buf, len, false);
			while (want >> 16)
				want = (want & 0xffff) + (want >> 16);
			cr_assert_eq(sluice_csum_fold(got), (uint32_t)want, "start %#x, length %zu",
				     starts[s], len);
		}
	}
}

Test(inet_checksum, only_a_region_of_zeros_sums_to_zero)
{
	uint8_t buf[40] = {0};
	cr_assert_eq(sluice_csum_add(0, buf, sizeof(buf), false), 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		/* A nonzero region whose sum is a multiple of 0xffff is 0xffff,
		 * never 0: 0xff in both halves of one word. */
		buf[i] = 0xff;
		buf[i ^ 1] = 0xff;
		cr_assert_eq(sluice_csum_fold(sluice_csum_add(0, buf, sizeof(buf), false)), 0xffff);
		buf[i] = buf[i ^ 1] = 0;
	}
}

/* The pseudo-header, then the segment, as one byte string. */
static size_t spell_out(uint8_t *out, const uint8_t *ip, bool ipv6, const uint8_t *l4,
			uint32_t l4_len, uint8_t proto)
{
	size_t n = 0;
	if (ipv6) {
		memcpy(out, ip + 8, 32);
		n = 32;
		out[n++] = (uint8_t)(l4_len >> 24);
		out[n++] = (uint8_t)(l4_len >> 16);
		out[n++] = (uint8_t)(l4_len >> 8);
		out[n++] = (uint8_t)l4_len;
		out[n++] = 0;
		out[n++] = 0;
		out[n++] = 0;
		out[n++] = proto;
	} else {
		memcpy(out, ip + 12, 8);
		n = 8;
		out[n++] = 0;
		out[n++] = proto;
		out[n++] = (uint8_t)(l4_len >> 8);
		out[n++] = (uint8_t)l4_len;
	}
	memcpy(out + n, l4, l4_len);
	return n + l4_len;
}

Test(inet_checksum, tcp_and_udp_sums_agree_with_their_pseudo_headers_spelled_out)
{
	static uint8_t ip[40], seg[1600], spelled[1700];
	uint32_t x = 7;
	for (int v6 = 0; v6 < 2; v6++) {
		for (uint32_t len = 8; len <= sizeof(seg); len += len < 200 ? 1 : 61) {
			fill(ip, sizeof(ip), &x, 2);
			fill(seg, len, &x, (int)(len % 4));
			size_t n = spell_out(spelled, ip, v6, seg, len, 6);
			cr_assert_eq(sluice_tcp_checksum_verify(ip, v6, seg, len),
				     reference_sum(spelled, n, false), "TCP, IPv%d, length %u",
				     v6 ? 6 : 4, len);
			n = spell_out(spelled, ip, v6, seg, len, 17);
			cr_assert_eq(sluice_udp_checksum_verify(ip, v6, seg, len),
				     reference_sum(spelled, n, false), "UDP, IPv%d, length %u",
				     v6 ? 6 : 4, len);
			/* The pseudo-header alone: the spelled-out bytes before the
			 * segment. */
			cr_assert_eq(
			    sluice_csum_fold(sluice_csum_pseudo_header_proto(ip, v6, len, 17)),
			    reference_sum(spelled, n - len, false));
			cr_assert_eq(sluice_csum_fold(sluice_csum_pseudo_header(ip, v6, len)),
				     reference_sum(spelled, n - len, false));
		}
	}
}

Test(inet_checksum, a_computed_checksum_verifies_and_any_one_flipped_bit_fails_it)
{
	static uint8_t ip[40], seg[300];
	uint32_t x = 31;
	for (int v6 = 0; v6 < 2; v6++) {
		for (uint32_t len = 20; len <= 141; len += 11) {
			fill(ip, sizeof(ip), &x, 2);
			fill(seg, len, &x, 2);
			uint16_t c = sluice_tcp_checksum_compute(ip, v6, seg, len);
			seg[16] = (uint8_t)(c >> 8);
			seg[17] = (uint8_t)c;
			cr_assert_eq(sluice_tcp_checksum_verify(ip, v6, seg, len), 0xffff);
			/* Every bit of the segment counts, the last odd byte's too. */
			for (uint32_t bit = 0; bit < len * 8; bit++) {
				seg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
				cr_assert_neq(sluice_tcp_checksum_verify(ip, v6, seg, len), 0xffff,
					      "IPv%d, length %u, bit %u", v6 ? 6 : 4, len, bit);
				seg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			/* And the addresses, through the pseudo-header. */
			ip[v6 ? 8 : 12] ^= 1;
			cr_assert_neq(sluice_tcp_checksum_verify(ip, v6, seg, len), 0xffff);
			ip[v6 ? 8 : 12] ^= 1;

			c = sluice_udp_checksum_compute(ip, v6, seg, len);
			seg[6] = (uint8_t)(c >> 8);
			seg[7] = (uint8_t)c;
			cr_assert_eq(sluice_udp_checksum_verify(ip, v6, seg, len), 0xffff);
		}
	}
}

Test(inet_checksum, a_udp_checksum_that_computes_to_zero_is_sent_as_all_ones)
{
	uint8_t ip[20] = {0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2};
	uint8_t udp[16] = {0x1e, 0x14, 0x1e, 0x14, 0, 16, 0, 0, 'h', 'e', 'l', 'l', 'o', '!'};
	/* The last two bytes that make the sum all ones, so that the
	 * complement is 0: found by trying them all. */
	bool found = false;
	for (uint32_t w = 0; w <= 0xffff && !found; w++) {
		udp[14] = (uint8_t)(w >> 8);
		udp[15] = (uint8_t)w;
		found = sluice_udp_checksum_verify(ip, false, udp, sizeof(udp)) == 0xffff;
	}
	cr_assert(found);
	/* 0 would say "no checksum" (RFC 768): it is sent as 0xffff, which
	 * verifies as well. */
	cr_assert_eq(sluice_udp_checksum_compute(ip, false, udp, sizeof(udp)), 0xffff);
	udp[6] = udp[7] = 0xff;
	cr_assert_eq(sluice_udp_checksum_verify(ip, false, udp, sizeof(udp)), 0xffff);
}

Test(inet_checksum, an_ipv4_header_checksum_verifies_with_options_of_every_length)
{
	uint8_t ip[60];
	uint32_t x = 5;
	for (unsigned ihl = 5; ihl <= 15; ihl++) {
		fill(ip, sizeof(ip), &x, 2);
		ip[0] = (uint8_t)(0x40 | ihl);
		uint16_t c = sluice_ipv4_header_checksum(ip, ihl * 4);
		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
		cr_assert_eq(reference_sum(ip, ihl * 4, false), 0xffff, "IHL %u", ihl);
		/* The checksum field itself is left out of the sum. */
		cr_assert_eq(sluice_ipv4_header_checksum(ip, ihl * 4), c, "IHL %u", ihl);
	}
}
