#include "inet_checksum.h"

#include <string.h>

uint32_t sluice_csum_add(uint32_t sum, const uint8_t *data, size_t len, bool odd)
{
	uint64_t acc = 0;
	size_t i = 0;

	/* The one's-complement sum does not depend on byte order (RFC 1071,
	 * 2.B): words are summed as the host loads them, 8 bytes at a time,
	 * and the folded sum is swapped once on a little-endian host. */
	for (; i + 8 <= len; i += 8) {
		uint32_t a, b;
		memcpy(&a, data + i, 4);
		memcpy(&b, data + i + 4, 4);
		acc += (uint64_t)a + b;
	}
	for (; i + 2 <= len; i += 2) {
		uint16_t w;
		memcpy(&w, data + i, 2);
		acc += w;
	}
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	acc = ((acc & 0xff) << 8) | (acc >> 8);
#endif
	if (i < len) /* the last byte, the high half of a word */
		acc += (uint32_t)data[i] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	/* A region at an odd offset pairs its first byte with the byte before
	 * it, which is the same as summing it as if even and swapping. */
	if (odd)
		acc = ((acc & 0xff) << 8) | (acc >> 8);
	uint64_t total = (uint64_t)sum + acc;
	while (total >> 32)
		total = (total & 0xffffffffu) + (total >> 32);
	return (uint32_t)total;
}

uint32_t sluice_csum_pseudo_header_proto(const uint8_t *ip, bool ipv6, uint32_t l4_len,
					 uint8_t proto)
{
	uint32_t sum = 0;
	uint8_t tail[8];

	if (ipv6) {
		sum = sluice_csum_add(sum, ip + 8, 32, false); /* source, destination */
		tail[0] = (uint8_t)(l4_len >> 24);
		tail[1] = (uint8_t)(l4_len >> 16);
		tail[2] = (uint8_t)(l4_len >> 8);
		tail[3] = (uint8_t)l4_len;
		tail[4] = tail[5] = tail[6] = 0;
		tail[7] = proto;
		return sluice_csum_add(sum, tail, 8, false);
	}
	sum = sluice_csum_add(sum, ip + 12, 8, false);
	tail[0] = 0;
	tail[1] = proto;
	tail[2] = (uint8_t)(l4_len >> 8);
	tail[3] = (uint8_t)l4_len;
	return sluice_csum_add(sum, tail, 4, false);
}

uint32_t sluice_csum_pseudo_header(const uint8_t *ip, bool ipv6, uint32_t udp_len)
{
	return sluice_csum_pseudo_header_proto(ip, ipv6, udp_len, 17);
}

uint16_t sluice_tcp_checksum_verify(const uint8_t *ip, bool ipv6, const uint8_t *tcp,
				    uint32_t tcp_len)
{
	uint32_t sum = sluice_csum_pseudo_header_proto(ip, ipv6, tcp_len, 6);
	return sluice_csum_fold(sluice_csum_add(sum, tcp, tcp_len, false));
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
	uint32_t sum = sluice_csum_pseudo_header(ip, ipv6, udp_len);
	return sluice_csum_fold(sluice_csum_add(sum, udp, udp_len, false));
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
