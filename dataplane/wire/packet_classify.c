#include "packet_classify.h"

#include <string.h>

#include "wire_format.h"

#define ETHERTYPE_IPV4	   0x0800
#define ETHERTYPE_IPV6	   0x86DD
#define ETHERTYPE_VLAN	   0x8100
#define ETHERTYPE_QINQ	   0x88A8 /* 802.1ad service tag */
#define ETHERTYPE_QINQ_OLD 0x9100 /* pre-standard QinQ */
#define IPPROTO_UDP_	   17
#define IPPROTO_TCP_	   6

/* Whether a transport header at l4 is for a port that carries messages, as
 * far as it is visible. */
static bool l4_ours(const uint8_t *pkt, uint32_t len, uint32_t l4, uint8_t proto,
		    const struct sluice_port_set *ports)
{
	if (l4 + 4 > len)
		return false;
	if (proto == IPPROTO_UDP_)
		return sluice_be16_load(pkt + l4 + 2) == ports->udp;
	return proto == IPPROTO_TCP_ &&
	       (sluice_port_set_has_tcp(ports, sluice_be16_load(pkt + l4)) ||
		sluice_port_set_has_tcp(ports, sluice_be16_load(pkt + l4 + 2)));
}

static enum sluice_pkt_class bad(enum sluice_bad_reason reason, enum sluice_bad_reason *why)
{
	*why = reason;
	return SLUICE_PKT_BAD;
}

/* Fills the payload part of view once the UDP header's position and the IP
 * datagram's end are known. */
static enum sluice_pkt_class udp_payload(const uint8_t *pkt, uint32_t l4, uint32_t ip_end,
					 struct sluice_packet_view *view,
					 enum sluice_bad_reason *why)
{
	if (l4 + 8 > ip_end)
		return bad(SLUICE_BAD_IP_LENGTH, why);
	uint32_t udp_len = sluice_be16_load(pkt + l4 + 4);
	if (udp_len < 8 || l4 + udp_len != ip_end)
		return bad(SLUICE_BAD_IP_LENGTH, why);
	view->l4_off = l4;
	view->payload_off = l4 + 8;
	view->payload_len = udp_len - 8;
	return SLUICE_PKT_MESSAGE;
}

static enum sluice_pkt_class tcp_payload(const uint8_t *pkt, uint32_t l4, uint32_t ip_end,
					 struct sluice_packet_view *view,
					 enum sluice_bad_reason *why)
{
	if (l4 + 20 > ip_end)
		return bad(SLUICE_BAD_TCP_HEADER, why);
	const uint8_t *tcp = pkt + l4;
	uint32_t doff = (uint32_t)(tcp[12] >> 4) * 4;
	if (doff < 20 || l4 + doff > ip_end)
		return bad(SLUICE_BAD_TCP_HEADER, why);
	view->l4_off = l4;
	view->payload_off = l4 + doff;
	view->payload_len = ip_end - (l4 + doff);
	view->sport = sluice_be16_load(tcp);
	view->dport = sluice_be16_load(tcp + 2);
	view->seq = sluice_be32_load(tcp + 4);
	view->ack = sluice_be32_load(tcp + 8);
	view->tcp_flags = tcp[13];
	return SLUICE_PKT_STREAM;
}

static enum sluice_pkt_class l4_payload(const uint8_t *pkt, uint32_t l4, uint32_t ip_end,
					uint8_t proto, struct sluice_packet_view *view,
					enum sluice_bad_reason *why)
{
	if (proto == IPPROTO_TCP_)
		return tcp_payload(pkt, l4, ip_end, view, why);
	return udp_payload(pkt, l4, ip_end, view, why);
}

static enum sluice_pkt_class classify_ipv4(const uint8_t *pkt, uint32_t len,
					   const struct sluice_port_set *ports,
					   struct sluice_packet_view *view,
					   enum sluice_bad_reason *why)
{
	uint32_t l3 = view->l3_off;
	if (l3 + 20 > len)
		return SLUICE_PKT_OTHER;
	const uint8_t *ip = pkt + l3;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20 || l3 + ihl > len)
		return SLUICE_PKT_OTHER;
	uint8_t proto = ip[9];
	if (proto != IPPROTO_UDP_ && (proto != IPPROTO_TCP_ || ports->tcp == NULL))
		return SLUICE_PKT_OTHER;
	uint32_t l4 = l3 + ihl;
	uint16_t frag = sluice_be16_load(ip + 6);
	if (frag & 0x1fff)
		return SLUICE_PKT_OTHER; /* cannot be reassembled without its first fragment */
	if (frag & 0x2000) {
		/* A first fragment too short to show its port might be for us. */
		if (l4 + 4 > len)
			return bad(SLUICE_BAD_IP_FRAGMENT, why);
		if (!l4_ours(pkt, len, l4, proto, ports))
			return SLUICE_PKT_OTHER;
		view->tcp = proto == IPPROTO_TCP_;
		return bad(SLUICE_BAD_IP_FRAGMENT, why);
	}
	if (!l4_ours(pkt, len, l4, proto, ports))
		return SLUICE_PKT_OTHER;
	view->tcp = proto == IPPROTO_TCP_;
	uint32_t total = sluice_be16_load(ip + 2);
	if (total < ihl || l3 + total > len)
		return bad(SLUICE_BAD_IP_LENGTH, why);
	return l4_payload(pkt, l4, l3 + total, proto, view, why);
}

/* Whether an IPv6 next-header value is an extension header that a receiver
 * walks past to reach the transport header. ESP (50) is not: what follows it
 * is encrypted, and no inline scanner can read it. */
static bool ipv6_extension(uint8_t next)
{
	switch (next) {
	case 0:	  /* hop-by-hop options */
	case 43:  /* routing */
	case 44:  /* fragment */
	case 51:  /* authentication header */
	case 60:  /* destination options */
	case 135: /* mobility */
	case 139: /* host identity protocol */
	case 140: /* shim6 */
	case 253: /* experimentation and testing */
	case 254:
		return true;
	default:
		return false;
	}
}

static bool l4_proto(uint8_t next, const struct sluice_port_set *ports)
{
	return next == IPPROTO_UDP_ || (next == IPPROTO_TCP_ && ports->tcp != NULL);
}

static enum sluice_pkt_class classify_ipv6(const uint8_t *pkt, uint32_t len,
					   const struct sluice_port_set *ports,
					   struct sluice_packet_view *view,
					   enum sluice_bad_reason *why)
{
	uint32_t l3 = view->l3_off;
	if (l3 + 40 > len || (pkt[l3] >> 4) != 6)
		return SLUICE_PKT_OTHER;
	uint32_t ip_end = l3 + 40 + sluice_be16_load(pkt + l3 + 4);
	uint8_t next = pkt[l3 + 6];
	uint32_t off = l3 + 40;
	bool fragment = false;

	/* A receiver walks any number of extension headers; a chain this walk
	 * cannot finish might end in a datagram for the message port, so it
	 * fails closed instead of passing as other traffic. */
	for (unsigned hops = 0; !l4_proto(next, ports); hops++) {
		if (!ipv6_extension(next))
			break;
		if (hops == SLUICE_MAX_IPV6_EXTENSIONS || off + 8 > len)
			return bad(SLUICE_BAD_IP_HEADER_CHAIN, why);
		const uint8_t *h = pkt + off;
		uint32_t hdr_len;
		if (next == 44) {
			if (sluice_be16_load(h + 2) & 0xfff8)
				return SLUICE_PKT_OTHER; /* not the first fragment */
			fragment = true;
			hdr_len = 8;
		} else if (next == 51) {
			hdr_len = ((uint32_t)h[1] + 2) * 4;
		} else {
			hdr_len = ((uint32_t)h[1] + 1) * 8;
		}
		if (off + hdr_len > len)
			return bad(SLUICE_BAD_IP_HEADER_CHAIN, why);
		off += hdr_len;
		next = h[0];
	}
	if (!l4_proto(next, ports)) {
		/* An unfinished header chain in a first fragment may hide our port. */
		return fragment ? bad(SLUICE_BAD_IP_FRAGMENT, why) : SLUICE_PKT_OTHER;
	}
	if (fragment) {
		if (off + 4 > len)
			return bad(SLUICE_BAD_IP_FRAGMENT, why);
		if (!l4_ours(pkt, len, off, next, ports))
			return SLUICE_PKT_OTHER;
		view->tcp = next == IPPROTO_TCP_;
		return bad(SLUICE_BAD_IP_FRAGMENT, why);
	}
	if (!l4_ours(pkt, len, off, next, ports))
		return SLUICE_PKT_OTHER;
	view->tcp = next == IPPROTO_TCP_;
	if (ip_end > len || off > ip_end)
		return bad(SLUICE_BAD_IP_LENGTH, why);
	return l4_payload(pkt, off, ip_end, next, view, why);
}

static bool vlan_tpid(uint16_t ethertype)
{
	return ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ ||
	       ethertype == ETHERTYPE_QINQ_OLD;
}

enum sluice_pkt_class sluice_packet_classify_from(const uint8_t *pkt, uint32_t len,
						  uint16_t ethertype, uint32_t off,
						  const struct sluice_port_set *ports,
						  struct sluice_packet_view *view,
						  enum sluice_bad_reason *why)
{
	*why = SLUICE_BAD_NONE;
	view->tcp = false;
	view->vlan = false;
	view->vlan_tags = 0;
	view->l3_off = off;
	while (vlan_tpid(ethertype)) {
		/* Receivers that terminate a third tag exist; where the payload
		 * is then cannot be known, so the frame fails closed. */
		if (view->vlan_tags == SLUICE_MAX_VLAN_TAGS)
			return bad(SLUICE_BAD_VLAN_DEPTH, why);
		if (len < view->l3_off + 4)
			return SLUICE_PKT_OTHER;
		ethertype = sluice_be16_load(pkt + view->l3_off + 2);
		view->l3_off += 4;
		view->vlan_tags++;
		view->vlan = true;
	}
	if (ethertype == ETHERTYPE_IPV4) {
		view->ipv6 = false;
		return classify_ipv4(pkt, len, ports, view, why);
	}
	if (ethertype == ETHERTYPE_IPV6) {
		view->ipv6 = true;
		return classify_ipv6(pkt, len, ports, view, why);
	}
	return SLUICE_PKT_OTHER;
}

enum sluice_pkt_class sluice_packet_classify_ports(const uint8_t *pkt, uint32_t len,
						   const struct sluice_port_set *ports,
						   struct sluice_packet_view *view,
						   enum sluice_bad_reason *why)
{
	if (len < 14) {
		*why = SLUICE_BAD_NONE;
		view->tcp = false;
		return SLUICE_PKT_OTHER;
	}
	return sluice_packet_classify_from(pkt, len, sluice_be16_load(pkt + 12), 14, ports, view,
					   why);
}

enum sluice_pkt_class sluice_packet_classify(const uint8_t *pkt, uint32_t len, uint16_t msg_port,
					     struct sluice_packet_view *view,
					     enum sluice_bad_reason *why)
{
	const struct sluice_port_set udp_only = {.udp = msg_port};
	return sluice_packet_classify_ports(pkt, len, &udp_only, view, why);
}

enum sluice_pkt_class sluice_packet_classify_ip(const uint8_t *pkt, uint32_t len, uint32_t l3_off,
						const struct sluice_port_set *ports,
						struct sluice_packet_view *view,
						enum sluice_bad_reason *why)
{
	uint16_t ethertype = 0;
	if (l3_off < len && (pkt[l3_off] >> 4) == 4)
		ethertype = ETHERTYPE_IPV4;
	else if (l3_off < len && (pkt[l3_off] >> 4) == 6)
		ethertype = ETHERTYPE_IPV6;
	return sluice_packet_classify_from(pkt, len, ethertype, l3_off, ports, view, why);
}

static bool ethertype_is_ip(const uint8_t *pkt, uint32_t l3)
{
	/* Without a link header before it (bare IP captures) the version
	 * nibble alone says; with one, a VLAN stack too deep to walk leaves l3
	 * on a tag, which this refuses. */
	if (l3 < 2)
		return true;
	uint16_t ethertype = sluice_be16_load(pkt + l3 - 2);
	return ethertype == ETHERTYPE_IPV4 || ethertype == ETHERTYPE_IPV6;
}

void sluice_packet_addresses_read(const uint8_t *pkt, uint32_t len,
				  const struct sluice_packet_view *view,
				  struct sluice_packet_addresses *out)
{
	memset(out, 0, sizeof(*out));
	uint32_t l3 = view->l3_off, l4;
	uint8_t proto;
	if (l3 >= len || !ethertype_is_ip(pkt, l3))
		return;
	const uint8_t *ip = pkt + l3;
	if ((ip[0] >> 4) == 4 && l3 + 20 <= len) {
		memcpy(out->src, ip + 12, 4);
		memcpy(out->dst, ip + 16, 4);
		proto = ip[9];
		uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
		l4 = l3 + ihl;
		if (ihl < 20 || (sluice_be16_load(ip + 6) & 0x1fff) != 0)
			proto = 0; /* no header, or a later fragment: no ports */
	} else if ((ip[0] >> 4) == 6 && l3 + 40 <= len) {
		out->ipv6 = true;
		memcpy(out->src, ip + 8, 16);
		memcpy(out->dst, ip + 24, 16);
		proto = ip[6];
		l4 = l3 + 40;
	} else {
		return;
	}
	out->ip = true;
	if ((proto == IPPROTO_UDP_ || proto == IPPROTO_TCP_) && l4 + 4 <= len) {
		out->ports = true;
		out->sport = sluice_be16_load(pkt + l4);
		out->dport = sluice_be16_load(pkt + l4 + 2);
	}
}
