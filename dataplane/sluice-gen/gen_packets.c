#include "gen_packets.h"

#include <inttypes.h>
#include <string.h>

#include "gen_cut.h"
#include "packet_build.h"
#include "wire_format.h"

#define PKT_BUF_LEN   (MAX_MTU + 64)
#define ETH_MIN_FRAME 60

static const uint64_t channels[] = {1001, 1002, 1003, 1007, 2048, 31337, 500000, 9000001};

static void message_make(struct generator *g, struct message *m)
{
	m->msg_id = g->next_msg_id++;
	m->channel_id = channels[rng_below(&g->rng, sizeof(channels) / sizeof(channels[0]))];
	/* A population of a million users, so that users repeat as they do. */
	m->user_id = 1 + rng_below(&g->rng, 1000000);
	m->violation = rng_chance(&g->rng, g->opt->violations_pct);
	message_text(&m->text, g->corpus, &g->rng, g->text_limit);
	if (m->violation)
		insert_violation(&m->text, &g->rng,
				 g->snippets->items[rng_below(&g->rng, (uint32_t)g->snippets->n)]);
}

/* Flow 0 is the library's default pair; others vary the client address and
 * port so that RSS spreads the traffic over queues. */
static void flow_endpoints(struct sluice_endpoints *ep, unsigned flow, bool ipv6)
{
	sluice_endpoints_default(ep, ipv6);
	if (flow == 0)
		return;
	if (ipv6) {
		ep->src_ip[13] = 0x01; /* 2001:2::1:<flow> */
		ep->src_ip[14] = (uint8_t)(flow >> 8);
		ep->src_ip[15] = (uint8_t)flow;
	} else {
		ep->src_ip[1] = 19; /* 198.19.<flow>, inside 198.18.0.0/15 */
		ep->src_ip[2] = (uint8_t)(flow >> 8);
		ep->src_ip[3] = (uint8_t)flow;
	}
	ep->src_port = (uint16_t)(40000 + flow % 20000);
}

static const uint16_t vlan_ids[] = {100, 200, 300, 4000};

static void endpoints_pick(struct generator *g, struct sluice_endpoints *ep)
{
	bool ipv6 = rng_chance(&g->rng, g->opt->ipv6_pct);
	unsigned flow = rng_below(&g->rng, g->opt->flows);

	flow_endpoints(ep, flow, ipv6);
	ep->dst_port = g->opt->udp_port;
	ep->vlan = rng_chance(&g->rng, g->opt->vlan_pct);
	if (ep->vlan)
		ep->vlan_id = vlan_ids[rng_below(&g->rng, sizeof(vlan_ids) / sizeof(vlan_ids[0]))];
}

static bool packet_write(struct generator *g, pcap_dumper_t *dumper, const uint8_t *pkt, size_t len)
{
	struct pcap_pkthdr h;
	/* Fixed clock, 10 us apart: timestamps must not break reproducibility. */
	uint64_t us = g->packets * 10;

	if (len == 0) {
		fprintf(stderr, "sluice-gen: internal error: packet did not fit\n");
		return false;
	}
	h.ts.tv_sec = (time_t)(1700000000 + us / 1000000);
	h.ts.tv_usec = (suseconds_t)(us % 1000000);
	h.caplen = h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)dumper, &h, pkt);
	g->packets++;
	g->bytes += len;
	return true;
}

static size_t arp_request_build(uint8_t *out, const struct sluice_endpoints *ep)
{
	size_t l2 = ep->vlan ? 18 : 14;

	memset(out, 0, ETH_MIN_FRAME);
	memset(out, 0xff, 6);
	memcpy(out + 6, ep->src_mac, 6);
	if (ep->vlan) {
		sluice_be16_store(out + 12, 0x8100);
		sluice_be16_store(out + 14, ep->vlan_id);
	}
	sluice_be16_store(out + l2 - 2, 0x0806);
	uint8_t *a = out + l2;
	sluice_be16_store(a, 1); /* Ethernet */
	sluice_be16_store(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	sluice_be16_store(a + 6, 1); /* request */
	memcpy(a + 8, ep->src_mac, 6);
	memcpy(a + 14, ep->src_ip, 4);
	memcpy(a + 24, ep->dst_ip, 4);
	/* Padded to the Ethernet minimum, as it is on the wire. */
	return ETH_MIN_FRAME;
}

static const char *const dns_names[] = {"chat.example.com", "cdn.example.net", "api.example.org",
					"img.example.com", "ntp.example.net"};

static size_t dns_query_build(struct generator *g, uint8_t *out, size_t cap,
			      struct sluice_endpoints *ep)
{
	uint8_t q[300];
	size_t n = 12;
	const char *name = dns_names[rng_below(&g->rng, sizeof(dns_names) / sizeof(dns_names[0]))];

	memset(q, 0, 12);
	sluice_be16_store(q, (uint16_t)rng_next(&g->rng));
	sluice_be16_store(q + 2, 0x0100); /* standard query, recursion desired */
	sluice_be16_store(q + 4, 1);
	for (const char *s = name; *s;) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		q[n++] = (uint8_t)l;
		memcpy(q + n, s, l);
		n += l;
		s += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	sluice_be16_store(q + n, ep->ipv6 ? 28 : 1); /* AAAA or A */
	sluice_be16_store(q + n + 2, 1);
	n += 4;
	ep->dst_port = 53;
	ep->src_port = (uint16_t)rng_range(&g->rng, 49152, 65535);
	return sluice_udp_packet_build(out, cap, ep, q, n);
}

/* Traffic Sluice must pass through untouched: ARP, and UDP to other ports. */
bool other_packet(struct generator *g, pcap_dumper_t *dumper)
{
	uint8_t pkt[512];
	struct sluice_endpoints ep;
	size_t len;

	endpoints_pick(g, &ep);
	if (rng_below(&g->rng, 100) < 40) {
		bool vlan = ep.vlan;
		uint16_t vlan_id = ep.vlan_id;
		/* ARP resolves IPv4 only; keep the tag that was drawn. */
		sluice_endpoints_default(&ep, false);
		ep.vlan = vlan;
		ep.vlan_id = vlan_id;
		len = arp_request_build(pkt, &ep);
	} else {
		len = dns_query_build(g, pkt, sizeof(pkt), &ep);
	}
	g->others++;
	return packet_write(g, dumper, pkt, len);
}

static bool text_out_write(struct generator *g, const struct message *m)
{
	if (!g->text_out)
		return true;
	fprintf(g->text_out, "%" PRIu64 "\t", m->msg_id);
	fwrite(m->text.data, 1, m->text.len, g->text_out);
	return fputc('\n', g->text_out) != EOF;
}

bool message_datagram(struct generator *g, pcap_dumper_t *dumper, struct message *pending,
		      bool *have_pending)
{
	static uint8_t payload[PKT_BUF_LEN], pkt[PKT_BUF_LEN];
	struct sluice_endpoints ep;

	endpoints_pick(g, &ep);
	size_t max_payload = g->opt->mtu - (ep.ipv6 ? 40 : 20) - 8;
	unsigned frames = rng_range(&g->rng, g->opt->frames_min, g->opt->frames_max);
	size_t len = 0;

	for (unsigned f = 0; f < frames; f++) {
		if (!*have_pending) {
			message_make(g, pending);
			*have_pending = true;
		}
		/* Does not fit: it opens the next datagram instead. The text limit
		 * guarantees that a message alone always fits. */
		if (len + SLUICE_WIRE_HEADER_LEN + pending->text.len > max_payload)
			break;
		struct sluice_wire_message wm = {
		    .msg_id = pending->msg_id,
		    .channel_id = pending->channel_id,
		    .user_id = pending->user_id,
		    .flags = 0,
		    .text = pending->text.data,
		    .text_len = (uint16_t)pending->text.len,
		};
		size_t w = sluice_wire_frame_write(payload + len, max_payload - len, &wm);
		if (w == 0) {
			fprintf(stderr, "sluice-gen: internal error: frame did not fit\n");
			return false;
		}
		len += w;
		*have_pending = false;
		g->messages++;
		g->violations += pending->violation;
		if (!text_out_write(g, pending)) {
			fprintf(stderr, "sluice-gen: %s: write failed\n", g->opt->text_out_path);
			return false;
		}
	}
	g->datagrams++;
	return packet_write(g, dumper, pkt,
			    sluice_udp_packet_build(pkt, sizeof(pkt), &ep, payload, len));
}
