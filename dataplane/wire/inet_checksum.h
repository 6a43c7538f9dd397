/* Internet checksum (RFC 1071) and its incremental update (RFC 1624).
 *
 * Sums are 32-bit accumulators of 16-bit big-endian words, folded on demand.
 * `odd` says the region starts at an odd offset from the start of the checksummed
 * stream, so its bytes pair the other way round; this lets a rewrite re-sum only
 * the bytes it changed, wherever they start. Rewrites update checksums
 * incrementally so that a datagram that arrived with a bad checksum still has
 * one: Sluice never launders corruption into a valid packet.
 */
#ifndef SLUICE_DATAPLANE_INET_CHECKSUM_H
#define SLUICE_DATAPLANE_INET_CHECKSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Adds data[0..len) to sum. */
uint32_t sluice_csum_add(uint32_t sum, const uint8_t *data, size_t len, bool odd);

static inline uint16_t sluice_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Adds one 16-bit word to sum, keeping the carry. */
static inline uint32_t sluice_csum_add_word(uint32_t sum, uint16_t word)
{
	uint64_t total = (uint64_t)sum + word;
	return (uint32_t)((total & 0xffffffffu) + (total >> 32));
}

/* Incremental update of a checksum field: the covered data whose folded sum was
 * old_sum now sums to new_sum (RFC 1624, eqn. 3). */
static inline uint16_t sluice_csum_update(uint16_t field, uint16_t old_sum, uint16_t new_sum)
{
	uint32_t sum = (uint16_t)~field;
	sum += (uint16_t)~old_sum;
	sum += new_sum;
	return (uint16_t)~sluice_csum_fold(sum);
}

/* Sum of the IPv4 or IPv6 pseudo-header for UDP. ip points at the IP header. */
uint32_t sluice_csum_pseudo_header(const uint8_t *ip, bool ipv6, uint32_t udp_len);

/* The same for any transport protocol (6: TCP). */
uint32_t sluice_csum_pseudo_header_proto(const uint8_t *ip, bool ipv6, uint32_t l4_len,
					 uint8_t proto);

/* Full TCP checksum of a segment (tcp_len: header and payload). Returns the
 * folded sum: 0xffff means valid. */
uint16_t sluice_tcp_checksum_verify(const uint8_t *ip, bool ipv6, const uint8_t *tcp,
				    uint32_t tcp_len);

/* The value to store in a TCP checksum field, computed from scratch. */
uint16_t sluice_tcp_checksum_compute(const uint8_t *ip, bool ipv6, uint8_t *tcp, uint32_t tcp_len);

/* Full UDP checksum of a datagram (pseudo-header + UDP header with the checksum
 * field as it is + payload). Returns the folded sum: 0xffff means valid. */
uint16_t sluice_udp_checksum_verify(const uint8_t *ip, bool ipv6, const uint8_t *udp,
				    uint32_t udp_len);

/* The value to store in a UDP checksum field, computed from scratch. */
uint16_t sluice_udp_checksum_compute(const uint8_t *ip, bool ipv6, uint8_t *udp, uint32_t udp_len);

/* The value to store in an IPv4 header checksum field, computed from scratch. */
uint16_t sluice_ipv4_header_checksum(const uint8_t *ip, unsigned header_len);

#endif
