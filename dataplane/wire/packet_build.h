/* Building Ethernet frames that carry wire-format messages, and TCP segments.
 *
 * Used by the traffic generator (bench/), the demo and the tests to make the
 * bytes that Sluice receives. It is not on the worker's path. Builders write
 * into a caller's buffer and return the number of bytes written, or 0 when the
 * buffer is too small. Checksums are computed (IPv4 header, UDP over the
 * pseudo-header); an IPv4 UDP checksum can be left 0 ("none") on request.
 */
#ifndef SLUICE_DATAPLANE_PACKET_BUILD_H
#define SLUICE_DATAPLANE_PACKET_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sluice_wire_message {
	uint64_t msg_id;
	uint64_t channel_id;
	uint64_t user_id;
	uint8_t flags;
	const char *text; /* not necessarily NUL-terminated */
	uint16_t text_len;
};

/* Appends one frame (header + text) at out; returns bytes written or 0. */
size_t sluice_wire_frame_write(uint8_t *out, size_t cap, const struct sluice_wire_message *msg);

struct sluice_endpoints {
	bool ipv6;
	bool vlan;	  /* add one 802.1Q tag */
	uint16_t vlan_id; /* 0..4095 */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint8_t src_ip[16]; /* first 4 bytes used for IPv4 */
	uint8_t dst_ip[16];
	uint16_t src_port;
	uint16_t dst_port;
	bool no_udp_checksum; /* IPv4 only: send UDP checksum 0 */
};

/* Builds Ethernet [+VLAN] + IPv4/IPv6 + UDP around payload[0..len). */
size_t sluice_udp_packet_build(uint8_t *out, size_t cap, const struct sluice_endpoints *ep,
			       const uint8_t *payload, size_t len);

/* A TCP segment's header fields. */
struct sluice_tcp_fields {
	uint32_t seq, ack;
	uint8_t flags; /* FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 */
	uint16_t window;
};

/* Builds Ethernet [+VLAN] + IPv4/IPv6 + TCP (20-byte header, no options)
 * around payload[0..len), with valid checksums. */
size_t sluice_tcp_packet_build(uint8_t *out, size_t cap, const struct sluice_endpoints *ep,
			       const struct sluice_tcp_fields *tcp, const uint8_t *payload,
			       size_t len);

/* Builds a TCP reset from a received segment's headers (tmpl, with its IP
 * header at l3_off and TCP header at l4_off): toward the segment's receiver
 * (reverse false) or back to its sender (reverse true, addresses and ports
 * swapped). RST|ACK, no payload, no options, checksums computed. out may be
 * tmpl itself when reverse is false. Returns the length, or 0 when cap is too
 * small. */
size_t sluice_tcp_rst_build(uint8_t *out, size_t cap, const uint8_t *tmpl, uint32_t l3_off,
			    uint32_t l4_off, bool ipv6, bool reverse, uint32_t seq, uint32_t ack);

/* A segment of Sluice's own: an ACK toward a sender, or a resend of stored
 * bytes toward a receiver. Up to 3 SACK blocks [start, end) and, when the
 * connection uses them, timestamps. */
struct sluice_tcp_reply {
	uint32_t seq, ack;
	uint16_t window; /* the raw field, as the side it speaks for last sent it */
	uint32_t sack[3][2];
	uint32_t sack_count;
	bool timestamps;
	uint32_t tsval, tsecr;
	const uint8_t *payload; /* PSH|ACK with these bytes; NULL: a bare ACK */
	uint32_t payload_len;
};

/* Builds a segment from a received segment's headers, back to its sender
 * (addresses and ports swapped), with the options and payload of r. Returns
 * the length, or 0 when cap is too small. */
size_t sluice_tcp_reply_build(uint8_t *out, size_t cap, const uint8_t *tmpl, uint32_t l3_off,
			      uint32_t l4_off, bool ipv6, const struct sluice_tcp_reply *r);

/* Default endpoints in 198.18.0.0/15 (and 2001:2::/48 for IPv6, the benchmarking
 * range), destination port 7700. */
void sluice_endpoints_default(struct sluice_endpoints *ep, bool ipv6);

#endif
