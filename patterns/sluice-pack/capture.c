/* sluice-pack: reading wire-format messages out of packet captures.
 *
 * Classification and frame decoding are the gateway's own (the wire library,
 * dataplane/wire/), so an analyst sees exactly the messages the gateway would
 * scan and the datagrams it would drop, under the same reason names. Only the
 * link header differs: captures from `tcpdump -i any` (Linux cooked, SLL2),
 * raw IP and loopback interfaces are accepted beside Ethernet, since that is
 * what analysts will have.
 */
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>

#include "frame_decode.h"
#include "packet_classify.h"
#include "cli.h"
#include "wire_format.h"

#define LINKTYPE_SLL2 276

/* The gateway's reasons, and one of the capture's own after them. */
#define R_TRUNCATED_CAPTURE SLUICE_BAD_REASON_COUNT

_Static_assert(R_TRUNCATED_CAPTURE <
		   sizeof(((struct sp_capture_stats *)0)->bad_by_reason) / sizeof(unsigned long),
	       "bad_by_reason too small");

_Static_assert(R_TRUNCATED_CAPTURE + 1 == SP_STREAM_REASON_BASE,
	       "stream reasons follow the capture's own");

const char *sp_capture_reason_name(unsigned reason)
{
	if (reason == R_TRUNCATED_CAPTURE)
		return "truncated_capture";
	if (reason >= SP_STREAM_REASON_BASE)
		return sluice_stream_reason_name(
		    (enum sluice_stream_reason)(reason - SP_STREAM_REASON_BASE));
	return sluice_bad_reason_name((enum sluice_bad_reason)reason);
}

unsigned sp_capture_reason_count(void)
{
	return SP_STREAM_REASON_BASE + SLUICE_STREAM_REASON_COUNT;
}

static enum sluice_pkt_class classify(int linktype, const uint8_t *pkt, uint32_t len,
				      const struct sp_capture_opts *opts,
				      struct sluice_packet_view *v, enum sluice_bad_reason *why)
{
	const struct sluice_port_set ports = {.udp = opts->udp_port, .tcp = opts->ws_ports};
	*why = SLUICE_BAD_NONE;
	switch (linktype) {
	case DLT_EN10MB:
		return sluice_packet_classify_ports(pkt, len, &ports, v, why);
	case DLT_LINUX_SLL: /* 16 bytes, protocol last */
		if (len < 16)
			return SLUICE_PKT_OTHER;
		return sluice_packet_classify_from(pkt, len, sluice_be16_load(pkt + 14), 16, &ports,
						   v, why);
	case LINKTYPE_SLL2: /* 20 bytes, protocol first */
		if (len < 20)
			return SLUICE_PKT_OTHER;
		return sluice_packet_classify_from(pkt, len, sluice_be16_load(pkt), 20, &ports, v,
						   why);
	case DLT_NULL:
	case DLT_LOOP:
		return sluice_packet_classify_ip(pkt, len, 4, &ports, v, why);
	default: /* DLT_RAW and its aliases; checked by the caller */
		return sluice_packet_classify_ip(pkt, len, 0, &ports, v, why);
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

static int one_packet(int linktype, unsigned long no, const uint8_t *pkt, uint32_t caplen,
		      uint32_t wirelen, const struct sp_capture_opts *opts,
		      struct sp_streams *streams, const struct sp_capture_cb *cb,
		      struct sp_capture_stats *st)
{
	struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
	uint32_t count = 0;
	struct sluice_packet_view v;
	enum sluice_bad_reason why;
	enum sluice_pkt_class c = classify(linktype, pkt, caplen, opts, &v, &why);
	unsigned reason = why;

	/* A snap length shorter than the packet leaves nothing to decode
	 * whole; say so rather than blame the sender's lengths. */
	if (c != SLUICE_PKT_OTHER && caplen < wirelen) {
		c = SLUICE_PKT_BAD;
		reason = R_TRUNCATED_CAPTURE;
	}
	if (c == SLUICE_PKT_STREAM)
		return sp_streams_segment(streams, no, pkt, &v, cb, st);
	if (c == SLUICE_PKT_MESSAGE) {
		why = sluice_frames_decode(pkt + v.payload_off, v.payload_len, v.payload_off,
					   frames, SLUICE_MAX_FRAMES, &count);
		if (why != SLUICE_BAD_NONE) {
			c = SLUICE_PKT_BAD;
			reason = why;
		}
	}
	if (c == SLUICE_PKT_OTHER) {
		st->other++;
		return 0;
	}
	if (c == SLUICE_PKT_BAD) {
		st->bad++;
		st->bad_by_reason[reason]++;
		return cb->bad ? cb->bad(cb->ctx, no, reason) : 0;
	}
	st->datagrams++;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *h = pkt + frames[i].offset;
		struct sp_wire_msg m = {
		    .msg_id = sluice_be64_load(h + SLUICE_WIRE_OFF_MSG_ID),
		    .channel_id = sluice_be64_load(h + SLUICE_WIRE_OFF_CHANNEL_ID),
		    .user_id = sluice_be64_load(h + SLUICE_WIRE_OFF_USER_ID),
		    .flags = h[SLUICE_WIRE_OFF_FLAGS],
		    .text = (const char *)h + SLUICE_WIRE_HEADER_LEN,
		    .text_len = frames[i].text_len,
		};
		st->messages++;
		int rc = cb->message ? cb->message(cb->ctx, no, &m) : 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}

int sp_capture_walk(const char *path, const struct sp_capture_opts *opts,
		    const struct sp_capture_cb *cb, struct sp_capture_stats *stats, char *err,
		    size_t err_len)
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
	struct sp_streams *streams = NULL;
	if (opts->ws_ports != NULL) {
		streams = sp_streams_new(opts->ws_ports, opts->ws_max_message);
		if (streams == NULL) {
			snprintf(err, err_len, "out of memory for the stream reader");
			pcap_close(p);
			return -1;
		}
	}
	linktype = pcap_datalink(p);
	if (!linktype_supported(linktype)) {
		const char *name = pcap_datalink_val_to_name(linktype);
		snprintf(err, err_len,
			 "%s: link type %s (%d) is not supported; capture on an Ethernet "
			 "interface or with -i any",
			 path, name ? name : "unknown", linktype);
		pcap_close(p);
		sp_streams_free(streams);
		return -1;
	}
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		stats->packets++;
		rc = one_packet(linktype, stats->packets, data, h->caplen, h->len, opts, streams,
				cb, stats);
		if (rc != 0)
			break;
	}
	if (rc == 0 && r == -1) {
		snprintf(err, err_len, "%s: cannot read packet %lu: %s", path, stats->packets + 1,
			 pcap_geterr(p));
		rc = -1;
	}
	pcap_close(p);
	sp_streams_free(streams);
	return rc;
}
