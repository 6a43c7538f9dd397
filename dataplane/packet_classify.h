/* Classifying a received Ethernet frame: is it a UDP datagram for the message
 * port, and where are its IP, UDP and payload bytes?
 *
 * Contract: reads only pkt[0..len); never writes. Returns
 * - SLUICE_PKT_OTHER for anything that is not a UDP datagram to msg_port (ARP,
 *   TCP, other ports, non-first IP fragments, unknown encapsulations): the caller
 *   forwards it untouched;
 * - SLUICE_PKT_MESSAGE with *view filled, payload bounds checked against both the
 *   IP/UDP lengths and len;
 * - SLUICE_PKT_BAD with *why set for a datagram to msg_port that cannot be scanned
 *   whole (first IP fragment, inconsistent lengths).
 * Ethernet padding after the IP datagram is allowed and not part of the payload.
 */
#ifndef SLUICE_DATAPLANE_PACKET_CLASSIFY_H
#define SLUICE_DATAPLANE_PACKET_CLASSIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "bad_input.h"

enum sluice_pkt_class {
	SLUICE_PKT_OTHER = 0,
	SLUICE_PKT_MESSAGE,
	SLUICE_PKT_BAD,
};

struct sluice_udp_view {
	uint32_t l3_off;
	uint32_t l4_off;
	uint32_t payload_off;
	uint32_t payload_len;
	bool ipv6;
	bool vlan;
};

enum sluice_pkt_class sluice_packet_classify(const uint8_t *pkt, uint32_t len, uint16_t msg_port,
					     struct sluice_udp_view *view,
					     enum sluice_bad_reason *why);

#endif
