/* Classifying a received Ethernet frame: is it a UDP datagram for the message
 * port, or a TCP segment of a chat service, and where are its IP, transport
 * and payload bytes?
 *
 * Contract: reads only pkt[0..len); never writes. Up to SLUICE_MAX_VLAN_TAGS
 * tags (802.1Q 0x8100, 802.1ad 0x88A8, pre-standard QinQ 0x9100) in any order
 * and up to SLUICE_MAX_IPV6_EXTENSIONS IPv6 extension headers are walked.
 * Returns
 * - SLUICE_PKT_OTHER for anything that is not a UDP datagram to msg_port (ARP,
 *   TCP, other ports, non-first IP fragments, ESP, frames too short to be
 *   delivered): the caller forwards it untouched;
 * - SLUICE_PKT_MESSAGE with *view filled, payload bounds checked against both the
 *   IP/UDP lengths and len;
 * - SLUICE_PKT_STREAM (sluice_packet_classify_ports() only) for a TCP segment
 *   from or to a port in ports->tcp, *view filled with its TCP fields, the
 *   payload bounded by the IP length and the TCP data offset (tcp_header when
 *   they disagree). Its checksum is not verified here;
 * - SLUICE_PKT_BAD with *why set for a datagram to msg_port that cannot be scanned
 *   whole (first IP fragment, inconsistent lengths), and for any frame whose
 *   headers cannot be walked to the end (a third VLAN tag, an IPv6 header chain
 *   too long or cut short): such a frame might carry messages, so it fails
 *   closed rather than passing as other traffic.
 * Ethernet padding after the IP datagram is allowed and not part of the payload.
 */
#ifndef SLUICE_DATAPLANE_PACKET_CLASSIFY_H
#define SLUICE_DATAPLANE_PACKET_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bad_input.h"

/* Deeper stacks are bad input (vlan_depth). */
#define SLUICE_MAX_VLAN_TAGS 2
/* Longer chains are bad input (ip_header_chain); real traffic carries a few. */
#define SLUICE_MAX_IPV6_EXTENSIONS 16

enum sluice_pkt_class {
	SLUICE_PKT_OTHER = 0,
	SLUICE_PKT_MESSAGE,
	SLUICE_PKT_BAD,
	SLUICE_PKT_STREAM,
};

/* What the receiving port found of a packet's L4 checksum: the mbuf's RX L4
 * flags, where the port was asked to verify (the daemon's --tcp-checksum
 * port). Set by the caller; classification does not look at it. */
enum sluice_rx_l4 { SLUICE_RX_L4_UNCHECKED = 0, SLUICE_RX_L4_GOOD, SLUICE_RX_L4_BAD };

struct sluice_packet_view {
	uint32_t l3_off;
	uint32_t l4_off;
	uint32_t payload_off;
	uint32_t payload_len;
	bool ipv6;
	bool vlan;	   /* at least one tag */
	uint8_t vlan_tags; /* 0..SLUICE_MAX_VLAN_TAGS */
	/* TCP to a chat port: set once the transport is known, before its
	 * lengths are checked, so that a packet refused for them (or one in
	 * several buffers) is still known to be a chat segment. */
	bool tcp;
	/* TCP (SLUICE_PKT_STREAM) only. */
	uint8_t tcp_flags;
	uint16_t sport, dport;
	uint32_t seq, ack;
};

/* Which ports carry messages. */
struct sluice_port_set {
	uint16_t udp;	     /* the frame format's port */
	const uint64_t *tcp; /* a 65,536-bit map of chat services' ports, or NULL */
};

static inline bool sluice_port_set_has_tcp(const struct sluice_port_set *ports, uint16_t port)
{
	return ports->tcp != NULL && (ports->tcp[port >> 6] >> (port & 63)) & 1;
}

/* An Ethernet II frame, as the gateway's ports receive it. */
enum sluice_pkt_class sluice_packet_classify(const uint8_t *pkt, uint32_t len, uint16_t msg_port,
					     struct sluice_packet_view *view,
					     enum sluice_bad_reason *why);

/* The same, for UDP frames and TCP chat services. */
enum sluice_pkt_class sluice_packet_classify_ports(const uint8_t *pkt, uint32_t len,
						   const struct sluice_port_set *ports,
						   struct sluice_packet_view *view,
						   enum sluice_bad_reason *why);

/* The same for captures with other link headers (Linux cooked, SLL2): the
 * link header said `ethertype` (possibly a VLAN TPID, whose tags are walked
 * as on Ethernet), and what follows it starts at off. */
enum sluice_pkt_class sluice_packet_classify_from(const uint8_t *pkt, uint32_t len,
						  uint16_t ethertype, uint32_t off,
						  const struct sluice_port_set *ports,
						  struct sluice_packet_view *view,
						  enum sluice_bad_reason *why);

/* The same for a bare IP packet at l3_off (raw and loopback captures): the
 * version nibble says which. */
enum sluice_pkt_class sluice_packet_classify_ip(const uint8_t *pkt, uint32_t len, uint32_t l3_off,
						const struct sluice_port_set *ports,
						struct sluice_packet_view *view,
						enum sluice_bad_reason *why);

/* Who sent a packet and to whom, for events about it. */
struct sluice_packet_addresses {
	bool ip;    /* src, dst and ipv6 are set */
	bool ports; /* sport and dport are set (UDP or TCP) */
	bool ipv6;
	uint8_t src[16], dst[16]; /* IPv4: the first 4 bytes */
	uint16_t sport, dport;
};

/* Reads a packet's addresses and ports where view (filled by a classify
 * call on the same bytes) says the IP header starts. Only bytes within len
 * are read and nothing the classifier set past the IP header is trusted, so
 * it serves packets the classifier refused too (SLUICE_PKT_BAD): addresses
 * when the IP header is whole, ports when the transport header's first four
 * bytes are there and follow the IP header directly (an IPv6 extension
 * chain, or a later IPv4 fragment, gives no ports). */
void sluice_packet_addresses_read(const uint8_t *pkt, uint32_t len,
				  const struct sluice_packet_view *view,
				  struct sluice_packet_addresses *out);

#endif
