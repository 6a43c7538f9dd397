#include "packet_build.h"

#include <string.h>

#include "inet_checksum.h"
#include "wire_format.h"

#define ETH_HDR_LEN  14
#define VLAN_TAG_LEN 4
#define IPV4_HDR_LEN 20
#define IPV6_HDR_LEN 40
#define UDP_HDR_LEN  8
#define TCP_HDR_LEN  20

#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86DD
#define ETHERTYPE_VLAN	0x8100
#define IPPROTO_UDP_NUM 17
#define IPPROTO_TCP_NUM 6
#define DEFAULT_TTL	64

size_t sluice_wire_frame_write(uint8_t *out, size_t cap, const struct sluice_wire_message *msg)
{
	size_t need = SLUICE_WIRE_HEADER_LEN + (size_t)msg->text_len;

	if (!out || cap < need || (msg->text_len && !msg->text))
		return 0;
	out[SLUICE_WIRE_OFF_MAGIC] = SLUICE_WIRE_MAGIC0;
	out[SLUICE_WIRE_OFF_MAGIC + 1] = SLUICE_WIRE_MAGIC1;
	out[SLUICE_WIRE_OFF_VERSION] = SLUICE_WIRE_VERSION;
	out[SLUICE_WIRE_OFF_FLAGS] = msg->flags;
	sluice_be16_store(out + SLUICE_WIRE_OFF_TEXT_LEN, msg->text_len);
	sluice_be16_store(out + SLUICE_WIRE_OFF_RESERVED, 0);
	sluice_be64_store(out + SLUICE_WIRE_OFF_MSG_ID, msg->msg_id);
	sluice_be64_store(out + SLUICE_WIRE_OFF_CHANNEL_ID, msg->channel_id);
	sluice_be64_store(out + SLUICE_WIRE_OFF_USER_ID, msg->user_id);
	if (msg->text_len)
		memcpy(out + SLUICE_WIRE_HEADER_LEN, msg->text, msg->text_len);
	return need;
}

/* Writes Ethernet [+VLAN] and the IP header for an l4_len-byte transport
 * segment of protocol proto; returns where the segment starts, or 0 when it
 * does not fit in cap or in the headers' length fields. */
static size_t ip_headers(uint8_t *out, size_t cap, const struct sluice_endpoints *ep, uint8_t proto,
			 size_t l4_len)
{
	size_t l2_len = ETH_HDR_LEN + (ep->vlan ? VLAN_TAG_LEN : 0);
	size_t l3_len = ep->ipv6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;

	if (!out || ep->vlan_id > 0x0fff)
		return 0;
	/* IPv4 total length and the UDP length field are both 16 bits; IPv6 has
	 * jumbograms, but nothing here should ever need one. */
	if (l4_len > 0xffff || (!ep->ipv6 && l3_len + l4_len > 0xffff))
		return 0;
	if (cap < l2_len + l3_len + l4_len)
		return 0;

	uint8_t *eth = out;
	uint8_t *ip = out + l2_len;
	memcpy(eth, ep->dst_mac, 6);
	memcpy(eth + 6, ep->src_mac, 6);
	uint16_t ethertype = ep->ipv6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
	if (ep->vlan) {
		sluice_be16_store(eth + 12, ETHERTYPE_VLAN);
		sluice_be16_store(eth + 14, ep->vlan_id); /* PCP 0, DEI 0 */
		sluice_be16_store(eth + 16, ethertype);
	} else {
		sluice_be16_store(eth + 12, ethertype);
	}

	if (ep->ipv6) {
		ip[0] = 0x60; /* version 6, traffic class 0, flow label 0 */
		ip[1] = ip[2] = ip[3] = 0;
		sluice_be16_store(ip + 4, (uint16_t)l4_len);
		ip[6] = proto;
		ip[7] = DEFAULT_TTL;
		memcpy(ip + 8, ep->src_ip, 16);
		memcpy(ip + 24, ep->dst_ip, 16);
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		sluice_be16_store(ip + 2, (uint16_t)(l3_len + l4_len));
		/* id 0 with DF is what Linux sends for unfragmentable datagrams
		 * (RFC 6864), and keeps generated captures reproducible. */
		sluice_be16_store(ip + 4, 0);
		sluice_be16_store(ip + 6, 0x4000);
		ip[8] = DEFAULT_TTL;
		ip[9] = proto;
		memcpy(ip + 12, ep->src_ip, 4);
		memcpy(ip + 16, ep->dst_ip, 4);
		sluice_be16_store(ip + 10, sluice_ipv4_header_checksum(ip, IPV4_HDR_LEN));
	}
	return l2_len + l3_len;
}

size_t sluice_udp_packet_build(uint8_t *out, size_t cap, const struct sluice_endpoints *ep,
			       const uint8_t *payload, size_t len)
{
	size_t udp_len = UDP_HDR_LEN + len;
	size_t l3_len = ep->ipv6 ? IPV6_HDR_LEN : IPV4_HDR_LEN;
	size_t l2_len = ETH_HDR_LEN + (ep->vlan ? VLAN_TAG_LEN : 0);

	if (len && !payload)
		return 0;
	if (!out || cap < l2_len + l3_len + udp_len || udp_len > 0xffff)
		return 0;
	/* memmove first: callers may have built the payload in place, where it
	 * already sits at its final offset or overlaps the headers' room. */
	if (len)
		memmove(out + l2_len + l3_len + UDP_HDR_LEN, payload, len);
	size_t l4 = ip_headers(out, cap, ep, IPPROTO_UDP_NUM, udp_len);
	if (l4 == 0)
		return 0;
	uint8_t *ip = out + l2_len;
	uint8_t *udp = out + l4;
	sluice_be16_store(udp, ep->src_port);
	sluice_be16_store(udp + 2, ep->dst_port);
	sluice_be16_store(udp + 4, (uint16_t)udp_len);
	sluice_be16_store(udp + 6, 0);
	if (ep->ipv6 || !ep->no_udp_checksum)
		sluice_be16_store(
		    udp + 6, sluice_udp_checksum_compute(ip, ep->ipv6, udp, (uint32_t)udp_len));
	return l4 + udp_len;
}

size_t sluice_tcp_packet_build(uint8_t *out, size_t cap, const struct sluice_endpoints *ep,
			       const struct sluice_tcp_fields *tcp, const uint8_t *payload,
			       size_t len)
{
	size_t tcp_len = TCP_HDR_LEN + len;
	size_t l2_len = ETH_HDR_LEN + (ep->vlan ? VLAN_TAG_LEN : 0);

	if (len && !payload)
		return 0;
	size_t l4 = ip_headers(out, cap, ep, IPPROTO_TCP_NUM, tcp_len);
	if (l4 == 0)
		return 0;
	uint8_t *seg = out + l4;
	if (len)
		memmove(seg + TCP_HDR_LEN, payload, len);
	sluice_be16_store(seg, ep->src_port);
	sluice_be16_store(seg + 2, ep->dst_port);
	sluice_be32_store(seg + 4, tcp->seq);
	sluice_be32_store(seg + 8, tcp->ack);
	seg[12] = (TCP_HDR_LEN / 4) << 4;
	seg[13] = tcp->flags;
	sluice_be16_store(seg + 14, tcp->window);
	sluice_be16_store(seg + 16, 0);
	sluice_be16_store(seg + 18, 0);
	sluice_be16_store(
	    seg + 16, sluice_tcp_checksum_compute(out + l2_len, ep->ipv6, seg, (uint32_t)tcp_len));
	return l4 + tcp_len;
}

static void swap_bytes(uint8_t *a, uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t t = a[i];
		a[i] = b[i];
		b[i] = t;
	}
}

/* Writes the options of a reply: timestamps, then SACK blocks, each padded
 * with NOPs to whole words. Returns their length. */
static size_t reply_options(uint8_t *o, const struct sluice_tcp_reply *a)
{
	size_t n = 0;
	if (a->timestamps) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 8;
		o[n++] = 10;
		sluice_be32_store(o + n, a->tsval);
		sluice_be32_store(o + n + 4, a->tsecr);
		n += 8;
	}
	uint32_t blocks = a->sack_count > 3 ? 3 : a->sack_count;
	if (a->timestamps && blocks > 3)
		blocks = 3;
	if (blocks > 0) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 5;
		o[n++] = (uint8_t)(2 + 8 * blocks);
		for (uint32_t b = 0; b < blocks; b++) {
			sluice_be32_store(o + n, a->sack[b][0]);
			sluice_be32_store(o + n + 4, a->sack[b][1]);
			n += 8;
		}
	}
	return n;
}

size_t sluice_tcp_reply_build(uint8_t *out, size_t cap, const uint8_t *tmpl, uint32_t l3_off,
			      uint32_t l4_off, bool ipv6, const struct sluice_tcp_reply *r)
{
	uint8_t opts[40];
	size_t olen = reply_options(opts, r);
	size_t tcp_len = TCP_HDR_LEN + olen;
	uint32_t plen = r->payload != NULL ? r->payload_len : 0;
	size_t l4_len = tcp_len + plen;
	if (cap < l4_off + l4_len || tcp_len > 60 || l4_off - l3_off + l4_len > 0xffff)
		return 0;
	/* A reset toward the sender has the headers wanted; then the rest. */
	if (sluice_tcp_rst_build(out, cap, tmpl, l3_off, l4_off, ipv6, true, r->seq, r->ack) == 0)
		return 0;
	uint8_t *ip = out + l3_off;
	uint8_t *tcp = out + l4_off;
	memcpy(tcp + TCP_HDR_LEN, opts, olen);
	if (plen > 0)
		memcpy(tcp + tcp_len, r->payload, plen);
	tcp[12] = (uint8_t)((tcp_len / 4) << 4);
	tcp[13] = plen > 0 ? 0x18 : 0x10; /* PSH|ACK or ACK */
	sluice_be16_store(tcp + 14, r->window);
	if (ipv6) {
		sluice_be16_store(ip + 4, (uint16_t)(l4_off - l3_off - IPV6_HDR_LEN + l4_len));
	} else {
		sluice_be16_store(ip + 2, (uint16_t)(l4_off - l3_off + l4_len));
		sluice_be16_store(ip + 10, 0);
		sluice_be16_store(ip + 10,
				  sluice_ipv4_header_checksum(ip, (unsigned)(l4_off - l3_off)));
	}
	sluice_be16_store(tcp + 16, 0);
	sluice_be16_store(tcp + 16, sluice_tcp_checksum_compute(ip, ipv6, tcp, (uint32_t)l4_len));
	return l4_off + l4_len;
}

size_t sluice_tcp_rst_build(uint8_t *out, size_t cap, const uint8_t *tmpl, uint32_t l3_off,
			    uint32_t l4_off, bool ipv6, bool reverse, uint32_t seq, uint32_t ack)
{
	size_t total = (size_t)l4_off + TCP_HDR_LEN;
	if (cap < total)
		return 0;
	uint8_t sport[2], dport[2];
	memcpy(sport, tmpl + l4_off, 2);
	memcpy(dport, tmpl + l4_off + 2, 2);
	memmove(out, tmpl, l4_off);
	uint8_t *ip = out + l3_off;
	uint8_t *tcp = out + l4_off;
	if (reverse) {
		swap_bytes(out, out + 6, 6);
		if (ipv6)
			swap_bytes(ip + 8, ip + 24, 16);
		else
			swap_bytes(ip + 12, ip + 16, 4);
	}
	memcpy(tcp, reverse ? dport : sport, 2);
	memcpy(tcp + 2, reverse ? sport : dport, 2);
	sluice_be32_store(tcp + 4, seq);
	sluice_be32_store(tcp + 8, ack);
	tcp[12] = (TCP_HDR_LEN / 4) << 4;
	tcp[13] = 0x14; /* RST, ACK */
	sluice_be16_store(tcp + 14, 0);
	sluice_be16_store(tcp + 16, 0);
	sluice_be16_store(tcp + 18, 0);
	uint32_t l4_len = TCP_HDR_LEN;
	if (ipv6) {
		sluice_be16_store(ip + 4, (uint16_t)(l4_off - l3_off - IPV6_HDR_LEN + l4_len));
	} else {
		sluice_be16_store(ip + 2, (uint16_t)(l4_off - l3_off + l4_len));
		if (reverse)
			ip[8] = DEFAULT_TTL;
		sluice_be16_store(ip + 10, 0);
		sluice_be16_store(ip + 10,
				  sluice_ipv4_header_checksum(ip, (unsigned)(l4_off - l3_off)));
	}
	sluice_be16_store(tcp + 16, sluice_tcp_checksum_compute(ip, ipv6, tcp, l4_len));
	return total;
}

void sluice_endpoints_default(struct sluice_endpoints *ep, bool ipv6)
{
	static const uint8_t src_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
	static const uint8_t dst_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
	static const uint8_t src_v4[4] = {198, 18, 0, 1};
	static const uint8_t dst_v4[4] = {198, 18, 0, 2};
	static const uint8_t src_v6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x01};
	static const uint8_t dst_v6[16] = {0x20, 0x01, 0x00, 0x02, [15] = 0x02};

	memset(ep, 0, sizeof(*ep));
	ep->ipv6 = ipv6;
	memcpy(ep->src_mac, src_mac, 6);
	memcpy(ep->dst_mac, dst_mac, 6);
	if (ipv6) {
		memcpy(ep->src_ip, src_v6, 16);
		memcpy(ep->dst_ip, dst_v6, 16);
	} else {
		memcpy(ep->src_ip, src_v4, 4);
		memcpy(ep->dst_ip, dst_v4, 4);
	}
	ep->src_port = 40000;
	ep->dst_port = SLUICE_WIRE_DEFAULT_PORT;
}
