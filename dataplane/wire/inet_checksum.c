#include "inet_checksum.h"

#include <string.h>

/* The one's-complement sum does not depend on byte order (RFC 1071, 2.B):
 * a region is summed as the host loads it, and the folded sum is swapped
 * once on a little-endian host. */

/* data[0, len) as whole 8-byte words, the last one zero-padded, summed in
 * 32-bit halves (two sums, so that the adds do not wait on each other); a
 * last odd byte is then the high half of its word, as RFC 1071 pads it.
 * Not folded: the caller folds once, however many regions it adds. Exact for
 * regions under 4 GiB. */
static inline uint64_t sum_host(const uint8_t *data, size_t len)
{
	uint64_t a = 0, b = 0, x, y;
	size_t i = 0;
	for (; i + 16 <= len; i += 16) {
		memcpy(&x, data + i, 8);
		memcpy(&y, data + i + 8, 8);
		a += (x & 0xffffffffu) + (x >> 32);
		b += (y & 0xffffffffu) + (y >> 32);
	}
	if (i + 8 <= len) {
		memcpy(&x, data + i, 8);
		a += (x & 0xffffffffu) + (x >> 32);
		i += 8;
	}
	/* The last 0 to 7 bytes, as the word they would be zero-padded. */
	size_t n = len - i;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (n >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, data + i, 4);
		memcpy(&hi, data + i + n - 4, 4);
		/* The two loads overlap when n < 8: the bytes they share are
		 * the same bytes at the same places. */
		x = lo | (uint64_t)hi << ((n - 4) * 8);
	} else {
		x = 0;
		if (n > 0)
			x = data[i] | (uint64_t)data[i + n / 2] << (n / 2 * 8) |
			    (uint64_t)data[i + n - 1] << ((n - 1) * 8);
	}
#else
	uint8_t last[8] = {0};
	memcpy(last, data + i, n);
	memcpy(&x, last, 8);
#endif
	return a + b + (x & 0xffffffffu) + (x >> 32);
}

/* A host-order sum folded to 16 bits, in network byte order. */
static inline uint32_t fold_host(uint64_t acc)
{
	acc = (acc & 0xffffffffu) + (acc >> 32);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	acc = ((acc & 0xff) << 8) | (acc >> 8);
#endif
	return (uint32_t)acc;
}

uint32_t sluice_csum_add(uint32_t sum, const uint8_t *data, size_t len, bool odd)
{
	uint32_t acc = fold_host(sum_host(data, len));
	/* A region at an odd offset pairs its first byte with the byte before
	 * it, which is the same as summing it as if even and swapping. */
	if (odd)
		acc = ((acc & 0xff) << 8) | (acc >> 8);
	uint64_t total = (uint64_t)sum + acc;
	return (uint32_t)((total & 0xffffffffu) + (total >> 32));
}

/* The pseudo-header's sum in host order, unfolded. */
static inline uint64_t pseudo_host(const uint8_t *ip, bool ipv6, uint32_t l4_len, uint8_t proto)
{
	if (ipv6) {
		uint8_t tail[8] = {(uint8_t)(l4_len >> 24),
				   (uint8_t)(l4_len >> 16),
				   (uint8_t)(l4_len >> 8),
				   (uint8_t)l4_len,
				   0,
				   0,
				   0,
				   proto};
		return sum_host(ip + 8, 32) + sum_host(tail, 8); /* source, destination */
	}
	uint8_t tail[4] = {0, proto, (uint8_t)(l4_len >> 8), (uint8_t)l4_len};
	return sum_host(ip + 12, 8) + sum_host(tail, 4);
}

uint32_t sluice_csum_pseudo_header_proto(const uint8_t *ip, bool ipv6, uint32_t l4_len,
					 uint8_t proto)
{
	return fold_host(pseudo_host(ip, ipv6, l4_len, proto));
}

uint32_t sluice_csum_pseudo_header(const uint8_t *ip, bool ipv6, uint32_t udp_len)
{
	return sluice_csum_pseudo_header_proto(ip, ipv6, udp_len, 17);
}

/* The pseudo-header is 12 or 40 bytes, so the segment's words start even
 * after it: one host-order sum over both, folded once. */
static uint16_t l4_verify(const uint8_t *ip, bool ipv6, const uint8_t *l4, uint32_t l4_len,
			  uint8_t proto)
{
	return (uint16_t)fold_host(pseudo_host(ip, ipv6, l4_len, proto) + sum_host(l4, l4_len));
}

uint16_t sluice_tcp_checksum_verify(const uint8_t *ip, bool ipv6, const uint8_t *tcp,
				    uint32_t tcp_len)
{
	return l4_verify(ip, ipv6, tcp, tcp_len, 6);
}

uint16_t sluice_tcp_checksum_compute(const uint8_t *ip, bool ipv6, uint8_t *tcp, uint32_t tcp_len)
{
	uint8_t saved[2];
	memcpy(saved, tcp + 16, 2);
	tcp[16] = tcp[17] = 0;
	uint16_t c = (uint16_t)~sluice_tcp_checksum_verify(ip, ipv6, tcp, tcp_len);
	memcpy(tcp + 16, saved, 2);
	return c;
}

uint16_t sluice_udp_checksum_verify(const uint8_t *ip, bool ipv6, const uint8_t *udp,
				    uint32_t udp_len)
{
	return l4_verify(ip, ipv6, udp, udp_len, 17);
}

uint16_t sluice_udp_checksum_compute(const uint8_t *ip, bool ipv6, uint8_t *udp, uint32_t udp_len)
{
	uint8_t saved[2];
	memcpy(saved, udp + 6, 2);
	udp[6] = udp[7] = 0;
	uint16_t c = (uint16_t)~sluice_udp_checksum_verify(ip, ipv6, udp, udp_len);
	memcpy(udp + 6, saved, 2);
	/* 0 means "no checksum" in UDP over IPv4 and is forbidden over IPv6. */
	return c == 0 ? 0xffff : c;
}

uint16_t sluice_ipv4_header_checksum(const uint8_t *ip, unsigned header_len)
{
	uint32_t sum = sluice_csum_add(0, ip, 10, false);
	sum = sluice_csum_add(sum, ip + 12, header_len - 12, false);
	return (uint16_t)~sluice_csum_fold(sum);
}
