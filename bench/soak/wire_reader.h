/* Reading what the daemon forwards, written apart from dataplane/ so that the
 * soak does not judge Sluice's output with Sluice's own parser.
 *
 * It reads only the shapes the soak sends: Ethernet II with at most one
 * 802.1Q tag, IPv4 with a 20-byte header or IPv6 without extension headers,
 * UDP, then wire-format frames (docs/wire-format.md). Everything a rewrite
 * must keep right is checked on the way: IP and UDP lengths against the
 * packet's, the IPv4 header checksum, and the UDP checksum (which must be
 * valid, or 0 for an IPv4 datagram sent without one).
 *
 * Contract: pure functions over a byte buffer; no allocation, any thread.
 * Failures return a static string naming what is wrong.
 */
#ifndef SLUICE_BENCH_SOAK_WIRE_READER_H
#define SLUICE_BENCH_SOAK_WIRE_READER_H

#include <stdbool.h>
#include <stdint.h>

struct soak_packet {
	bool vlan;
	uint16_t vlan_id;
	bool ipv6;
	bool udp_checksum_zero;
	uint16_t src_port, dst_port;
	const uint8_t *payload; /* the UDP payload */
	uint32_t payload_len;
};

struct soak_frame {
	uint8_t version;
	uint8_t flags;
	uint16_t reserved;
	uint64_t msg_id, channel_id, user_id;
	const uint8_t *text;
	uint16_t text_len;
};

/* NULL when pkt[0..len) is a well-formed UDP datagram with good checksums,
 * described in *out; else what is wrong with it. */
const char *soak_packet_read(const uint8_t *pkt, uint32_t len, struct soak_packet *out);

/* Splits a UDP payload into frames that must fill it exactly, all with the
 * wire format's magic. Returns how many (at most max), or -1 with *why. */
int soak_frames_read(const uint8_t *payload, uint32_t len, struct soak_frame *frames, int max,
		     const char **why);

#endif
