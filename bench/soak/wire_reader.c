#include "wire_reader.h"

#include <stddef.h>

#define ETH_LEN	       14
#define VLAN_LEN       4
#define IPV4_LEN       20
#define IPV6_LEN       40
#define UDP_LEN	       8
#define FRAME_HDR_LEN  32
#define TPID_8021Q     0x8100
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define PROTO_UDP      17

static uint16_t load16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* One's complement sum of big-endian 16-bit words, an odd byte padded. */
static uint32_t sum16(uint32_t acc, const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		acc += load16(p + i);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)acc;
}

/* A checksum is right when the data summed with it folds to 0xffff. */
static bool udp_checksum_ok(const uint8_t *ip, bool ipv6, const uint8_t *udp, uint32_t udp_len)
{
	uint32_t acc = 0;
	if (ipv6) {
		acc = sum16(acc, ip + 8, 32);
		acc += udp_len >> 16;
		acc += udp_len & 0xffff;
	} else {
		acc = sum16(acc, ip + 12, 8);
		acc += udp_len;
	}
	acc += PROTO_UDP;
	acc = sum16(acc, udp, udp_len);
	return fold(acc) == 0xffff;
}

const char *soak_packet_read(const uint8_t *pkt, uint32_t len, struct soak_packet *out)
{
	*out = (struct soak_packet){0};
	if (len < ETH_LEN)
		return "shorter than an Ethernet header";
	uint32_t off = ETH_LEN;
	uint16_t type = load16(pkt + 12);
	if (type == TPID_8021Q) {
		if (len < ETH_LEN + VLAN_LEN)
			return "cut short inside its VLAN tag";
		out->vlan = true;
		out->vlan_id = load16(pkt + 14) & 0x0fff;
		type = load16(pkt + 16);
		off += VLAN_LEN;
	}
	const uint8_t *ip = pkt + off;
	const uint8_t *udp;
	uint32_t udp_len;
	if (type == ETHERTYPE_IPV4) {
		if (len < off + IPV4_LEN)
			return "cut short inside its IPv4 header";
		if (ip[0] != 0x45)
			return "IPv4 header is not version 4 with 20 bytes";
		if (load16(ip + 2) != len - off)
			return "IPv4 total length disagrees with the packet";
		if (fold(sum16(0, ip, IPV4_LEN)) != 0xffff)
			return "IPv4 header checksum is wrong";
		if (ip[9] != PROTO_UDP)
			return "IPv4 protocol is not UDP";
		if ((load16(ip + 6) & 0x3fff) != 0)
			return "IPv4 datagram is a fragment";
		udp = ip + IPV4_LEN;
		udp_len = len - off - IPV4_LEN;
	} else if (type == ETHERTYPE_IPV6) {
		if (len < off + IPV6_LEN)
			return "cut short inside its IPv6 header";
		if ((ip[0] >> 4) != 6)
			return "IPv6 header is not version 6";
		if (load16(ip + 4) != len - off - IPV6_LEN)
			return "IPv6 payload length disagrees with the packet";
		if (ip[6] != PROTO_UDP)
			return "IPv6 next header is not UDP";
		out->ipv6 = true;
		udp = ip + IPV6_LEN;
		udp_len = len - off - IPV6_LEN;
	} else {
		return "neither IPv4 nor IPv6";
	}
	if (udp_len < UDP_LEN)
		return "cut short inside its UDP header";
	if (load16(udp + 4) != udp_len)
		return "UDP length disagrees with the IP length";
	out->src_port = load16(udp);
	out->dst_port = load16(udp + 2);
	if (load16(udp + 6) == 0) {
		if (out->ipv6)
			return "IPv6 UDP checksum is 0";
		out->udp_checksum_zero = true;
	} else if (!udp_checksum_ok(ip, out->ipv6, udp, udp_len)) {
		return "UDP checksum is wrong";
	}
	out->payload = udp + UDP_LEN;
	out->payload_len = udp_len - UDP_LEN;
	return NULL;
}

int soak_frames_read(const uint8_t *payload, uint32_t len, struct soak_frame *frames, int max,
		     const char **why)
{
	uint32_t off = 0;
	int n = 0;
	while (off < len) {
		if (n == max) {
			*why = "more frames than the datagram was sent with";
			return -1;
		}
		const uint8_t *f = payload + off;
		if (len - off < FRAME_HDR_LEN) {
			*why = "bytes after the last frame";
			return -1;
		}
		if (f[0] != 'S' || f[1] != 'M') {
			*why = "a frame without the wire format's magic";
			return -1;
		}
		struct soak_frame *fr = &frames[n];
		fr->version = f[2];
		fr->flags = f[3];
		fr->text_len = load16(f + 4);
		fr->reserved = load16(f + 6);
		fr->msg_id = load64(f + 8);
		fr->channel_id = load64(f + 16);
		fr->user_id = load64(f + 24);
		if (fr->text_len > len - off - FRAME_HDR_LEN) {
			*why = "a frame's text runs past the payload";
			return -1;
		}
		fr->text = f + FRAME_HDR_LEN;
		off += FRAME_HDR_LEN + fr->text_len;
		n++;
	}
	if (n == 0) {
		*why = "an empty payload";
		return -1;
	}
	return n;
}
