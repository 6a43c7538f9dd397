/* sluice-pack: reading wire-format messages out of packet captures.
 *
 * The gateway's own decoder (dataplane/packet_classify.c, frame_decode.c)
 * lives on the DPDK side of the tree, and patterns/ must stay free of it
 * (DESIGN.md), so this is a second reading of docs/wire-format.md. It follows
 * the gateway's rules exactly, so an analyst sees the messages the gateway
 * would scan and the datagrams it would drop, under the same reason names:
 * - Ethernet II with at most one 802.1Q tag; IPv4 (any IHL) or IPv6 with up to
 *   8 extension headers; UDP to the message port by destination port only;
 * - later IP fragments and everything else are "other" (forwarded unscanned);
 * - the first fragment of a datagram to the port, inconsistent IP/UDP lengths
 *   and any framing problem drop the whole datagram, so none of its messages
 *   are reported.
 * Captures from `tcpdump -i any` (Linux cooked), raw IP and loopback
 * interfaces are accepted too, since that is what analysts will have.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "sluice_pack_cli.h"

/* Wire format v1 (docs/wire-format.md): 32-byte big-endian frame header. */
#define WIRE_HEADER_LEN 32
#define WIRE_MAGIC0	0x53
#define WIRE_MAGIC1	0x4d
#define WIRE_VERSION	1
#define WIRE_MAX_FRAMES 256
#define ETHERTYPE_IPV4	0x0800
#define ETHERTYPE_IPV6	0x86dd
#define ETHERTYPE_VLAN	0x8100
#define IPPROTO_UDP_	17
#define LINKTYPE_SLL2	276

enum reason {
	R_TRUNCATED_HEADER,
	R_BAD_MAGIC,
	R_BAD_VERSION,
	R_BAD_TEXT_LENGTH,
	R_TRAILING_BYTES,
	R_TOO_MANY_FRAMES,
	R_EMPTY_PAYLOAD,
	R_IP_FRAGMENT,
	R_BAD_IP_LENGTH,
	R_TRUNCATED_CAPTURE,
	R_COUNT
};

static const char *const reason_names[R_COUNT] = {
    [R_TRUNCATED_HEADER] = "truncated_header", [R_BAD_MAGIC] = "bad_magic",
    [R_BAD_VERSION] = "bad_version",	       [R_BAD_TEXT_LENGTH] = "bad_text_length",
    [R_TRAILING_BYTES] = "trailing_bytes",     [R_TOO_MANY_FRAMES] = "too_many_frames",
    [R_EMPTY_PAYLOAD] = "empty_payload",       [R_IP_FRAGMENT] = "ip_fragment",
    [R_BAD_IP_LENGTH] = "bad_ip_length",       [R_TRUNCATED_CAPTURE] = "truncated_capture",
};

_Static_assert(R_COUNT <=
		   sizeof(((struct sp_capture_stats *)0)->bad_by_reason) / sizeof(unsigned long),
	       "bad_by_reason too small");

const char *sp_capture_reason_name(unsigned reason)
{
	return reason < R_COUNT ? reason_names[reason] : "unknown";
}

unsigned sp_capture_reason_count(void)
{
	return R_COUNT;
}

enum pkt_class { PKT_OTHER, PKT_MESSAGE, PKT_BAD };

struct udp_view {
	uint32_t payload_off;
	uint32_t payload_len;
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static bool port_is(const uint8_t *pkt, uint32_t len, uint32_t l4, uint16_t port)
{
	return l4 + 4 <= len && be16(pkt + l4 + 2) == port;
}

static enum pkt_class udp_payload(const uint8_t *pkt, uint32_t l4, uint32_t ip_end,
				  struct udp_view *v, enum reason *why)
{
	if (l4 + 8 > ip_end) {
		*why = R_BAD_IP_LENGTH;
		return PKT_BAD;
	}
	uint32_t udp_len = be16(pkt + l4 + 4);
	if (udp_len < 8 || l4 + udp_len != ip_end) {
		*why = R_BAD_IP_LENGTH;
		return PKT_BAD;
	}
	v->payload_off = l4 + 8;
	v->payload_len = udp_len - 8;
	return PKT_MESSAGE;
}

static enum pkt_class ipv4(const uint8_t *pkt, uint32_t len, uint32_t l3, uint16_t port,
			   struct udp_view *v, enum reason *why)
{
	if (l3 + 20 > len)
		return PKT_OTHER;
	const uint8_t *ip = pkt + l3;
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < 20 || l3 + ihl > len || ip[9] != IPPROTO_UDP_)
		return PKT_OTHER;
	uint32_t l4 = l3 + ihl;
	uint16_t frag = be16(ip + 6);
	if (frag & 0x1fff)
		return PKT_OTHER;
	if (frag & 0x2000) {
		if (l4 + 4 > len || port_is(pkt, len, l4, port)) {
			*why = R_IP_FRAGMENT;
			return PKT_BAD;
		}
		return PKT_OTHER;
	}
	if (!port_is(pkt, len, l4, port))
		return PKT_OTHER;
	uint32_t total = be16(ip + 2);
	if (total < ihl || l3 + total > len) {
		*why = R_BAD_IP_LENGTH;
		return PKT_BAD;
	}
	return udp_payload(pkt, l4, l3 + total, v, why);
}

static enum pkt_class ipv6(const uint8_t *pkt, uint32_t len, uint32_t l3, uint16_t port,
			   struct udp_view *v, enum reason *why)
{
	if (l3 + 40 > len || (pkt[l3] >> 4) != 6)
		return PKT_OTHER;
	uint32_t ip_end = l3 + 40 + be16(pkt + l3 + 4);
	uint8_t next = pkt[l3 + 6];
	uint32_t off = l3 + 40;
	bool fragment = false;

	for (int hops = 0; hops < 8 && next != IPPROTO_UDP_; hops++) {
		if (off + 8 > len)
			return PKT_OTHER;
		const uint8_t *h = pkt + off;
		switch (next) {
		case 0:	 /* hop-by-hop options */
		case 43: /* routing */
		case 60: /* destination options */
			next = h[0];
			off += ((uint32_t)h[1] + 1) * 8;
			break;
		case 51: /* authentication header */
			next = h[0];
			off += ((uint32_t)h[1] + 2) * 4;
			break;
		case 44: /* fragment */
			if (be16(h + 2) & 0xfff8)
				return PKT_OTHER;
			fragment = true;
			next = h[0];
			off += 8;
			break;
		default:
			return PKT_OTHER;
		}
	}
	if (next != IPPROTO_UDP_) {
		if (!fragment)
			return PKT_OTHER;
		*why = R_IP_FRAGMENT;
		return PKT_BAD;
	}
	if (fragment) {
		if (off + 4 > len || port_is(pkt, len, off, port)) {
			*why = R_IP_FRAGMENT;
			return PKT_BAD;
		}
		return PKT_OTHER;
	}
	if (!port_is(pkt, len, off, port))
		return PKT_OTHER;
	if (ip_end > len || off > ip_end) {
		*why = R_BAD_IP_LENGTH;
		return PKT_BAD;
	}
	return udp_payload(pkt, off, ip_end, v, why);
}

/* A packet whose link header gave EtherType `type` with the network header
 * at l3, with the one VLAN tag the gateway accepts. */
static enum pkt_class by_ethertype(const uint8_t *pkt, uint32_t len, uint16_t type, uint32_t l3,
				   uint16_t port, struct udp_view *v, enum reason *why)
{
	if (type == ETHERTYPE_VLAN) {
		if (l3 + 4 > len)
			return PKT_OTHER;
		type = be16(pkt + l3 + 2);
		l3 += 4;
	}
	if (type == ETHERTYPE_IPV4)
		return ipv4(pkt, len, l3, port, v, why);
	if (type == ETHERTYPE_IPV6)
		return ipv6(pkt, len, l3, port, v, why);
	return PKT_OTHER;
}

/* Raw IP, or IP after a fixed link header: the version nibble decides. */
static enum pkt_class by_version(const uint8_t *pkt, uint32_t len, uint32_t l3, uint16_t port,
				 struct udp_view *v, enum reason *why)
{
	if (l3 >= len)
		return PKT_OTHER;
	if ((pkt[l3] >> 4) == 4)
		return ipv4(pkt, len, l3, port, v, why);
	if ((pkt[l3] >> 4) == 6)
		return ipv6(pkt, len, l3, port, v, why);
	return PKT_OTHER;
}

static enum pkt_class classify(int linktype, const uint8_t *pkt, uint32_t len, uint16_t port,
			       struct udp_view *v, enum reason *why)
{
	switch (linktype) {
	case DLT_EN10MB: /* dst, src, EtherType */
		if (len < 14)
			return PKT_OTHER;
		return by_ethertype(pkt, len, be16(pkt + 12), 14, port, v, why);
	case DLT_LINUX_SLL: /* 16 bytes, protocol last */
		if (len < 16)
			return PKT_OTHER;
		return by_ethertype(pkt, len, be16(pkt + 14), 16, port, v, why);
	case LINKTYPE_SLL2: /* 20 bytes, protocol first */
		if (len < 20)
			return PKT_OTHER;
		return by_ethertype(pkt, len, be16(pkt), 20, port, v, why);
	case DLT_NULL:
	case DLT_LOOP:
		return by_version(pkt, len, 4, port, v, why);
	default: /* DLT_RAW and its aliases; checked by the caller */
		return by_version(pkt, len, 0, port, v, why);
	}
}

static bool linktype_supported(int linktype)
{
	switch (linktype) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case LINKTYPE_SLL2:
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		return true;
	default:
		return false;
	}
}

/* Frames of one payload; a framing problem drops the datagram whole, as on
 * the gateway, because the frames after it cannot be trusted either. */
static bool frames_decode(const uint8_t *p, uint32_t len, uint32_t *offs, uint32_t *count,
			  enum reason *why)
{
	uint32_t off = 0, n = 0;

	*count = 0;
	if (len == 0) {
		*why = R_EMPTY_PAYLOAD;
		return false;
	}
	while (off < len) {
		const uint8_t *h = p + off;
		uint32_t rem = len - off;
		if (rem < WIRE_HEADER_LEN) {
			bool starts_like_frame =
			    h[0] == WIRE_MAGIC0 && (rem < 2 || h[1] == WIRE_MAGIC1);
			*why = starts_like_frame ? R_TRUNCATED_HEADER : R_TRAILING_BYTES;
			return false;
		}
		if (h[0] != WIRE_MAGIC0 || h[1] != WIRE_MAGIC1) {
			*why = R_BAD_MAGIC;
			return false;
		}
		if (h[2] != WIRE_VERSION) {
			*why = R_BAD_VERSION;
			return false;
		}
		uint16_t text_len = be16(h + 4);
		if (text_len > rem - WIRE_HEADER_LEN) {
			*why = R_BAD_TEXT_LENGTH;
			return false;
		}
		if (n == WIRE_MAX_FRAMES) {
			*why = R_TOO_MANY_FRAMES;
			return false;
		}
		offs[n++] = off;
		off += WIRE_HEADER_LEN + text_len;
	}
	*count = n;
	return true;
}

static int one_packet(int linktype, unsigned long no, const uint8_t *pkt, uint32_t caplen,
		      uint32_t wirelen, uint16_t port, const struct sp_capture_cb *cb,
		      struct sp_capture_stats *st)
{
	uint32_t offs[WIRE_MAX_FRAMES], count = 0;
	struct udp_view v;
	enum reason why = R_COUNT;
	enum pkt_class c = classify(linktype, pkt, caplen, port, &v, &why);

	/* A snap length shorter than the packet leaves nothing to decode
	 * whole; say so rather than blame the sender's lengths. */
	if (c != PKT_OTHER && caplen < wirelen) {
		c = PKT_BAD;
		why = R_TRUNCATED_CAPTURE;
	}
	if (c == PKT_MESSAGE &&
	    !frames_decode(pkt + v.payload_off, v.payload_len, offs, &count, &why))
		c = PKT_BAD;
	if (c == PKT_OTHER) {
		st->other++;
		return 0;
	}
	if (c == PKT_BAD) {
		st->bad++;
		st->bad_by_reason[why]++;
		return cb->bad ? cb->bad(cb->ctx, no, why) : 0;
	}
	st->datagrams++;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *h = pkt + v.payload_off + offs[i];
		struct sp_wire_msg m = {
		    .msg_id = be64(h + 8),
		    .channel_id = be64(h + 16),
		    .user_id = be64(h + 24),
		    .flags = h[3],
		    .text = (const char *)h + WIRE_HEADER_LEN,
		    .text_len = be16(h + 4),
		};
		st->messages++;
		int rc = cb->message ? cb->message(cb->ctx, no, &m) : 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}

int sp_capture_walk(const char *path, uint16_t udp_port, const struct sp_capture_cb *cb,
		    struct sp_capture_stats *stats, char *err, size_t err_len)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *p;
	int linktype, r, rc = 0;

	memset(stats, 0, sizeof(*stats));
	p = pcap_open_offline(path, errbuf);
	if (!p) {
		snprintf(err, err_len, "%s: cannot read capture: %s", path, errbuf);
		return -1;
	}
	linktype = pcap_datalink(p);
	if (!linktype_supported(linktype)) {
		const char *name = pcap_datalink_val_to_name(linktype);
		snprintf(err, err_len,
			 "%s: link type %s (%d) is not supported; capture on an Ethernet "
			 "interface or with -i any",
			 path, name ? name : "unknown", linktype);
		pcap_close(p);
		return -1;
	}
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		stats->packets++;
		rc = one_packet(linktype, stats->packets, data, h->caplen, h->len, udp_port, cb,
				stats);
		if (rc != 0)
			break;
	}
	if (rc == 0 && r == -1) {
		snprintf(err, err_len, "%s: cannot read packet %lu: %s", path, stats->packets + 1,
			 pcap_geterr(p));
		rc = -1;
	}
	pcap_close(p);
	return rc;
}
