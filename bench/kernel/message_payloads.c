#include "message_payloads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_decode.h"
#include "packet_classify.h"

int message_payloads_collect(const struct corpus_packets *packets, const char *path,
			     uint16_t udp_port, struct message_payloads *out, char *err,
			     size_t err_len)
{
	memset(out, 0, sizeof(*out));
	size_t n = packets->count > 0 ? packets->count : 1;
	out->data = calloc(n, sizeof(*out->data));
	out->len = calloc(n, sizeof(*out->len));
	out->frames = calloc(n, sizeof(*out->frames));
	if (!out->data || !out->len || !out->frames) {
		message_payloads_free(out);
		snprintf(err, err_len, "%s: out of memory for %u payloads", path, packets->count);
		return -1;
	}

	struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
	for (uint32_t i = 0; i < packets->count; i++) {
		uint8_t *pkt = packets->data + packets->offset[i];
		struct sluice_packet_view view;
		enum sluice_bad_reason why;
		enum sluice_pkt_class cls =
		    sluice_packet_classify(pkt, packets->len[i], udp_port, &view, &why);
		if (cls == SLUICE_PKT_OTHER) {
			out->other++;
			continue;
		}
		if (cls == SLUICE_PKT_BAD) {
			out->bad++;
			continue;
		}
		if (view.payload_len > KERNEL_MAX_UDP_PAYLOAD) {
			snprintf(err, err_len,
				 "%s: packet %u has a %u-byte UDP payload; IPv4 sockets send at "
				 "most %u",
				 path, i, view.payload_len, KERNEL_MAX_UDP_PAYLOAD);
			message_payloads_free(out);
			return -1;
		}
		uint32_t frame_count = 0;
		sluice_frames_decode(pkt + view.payload_off, view.payload_len, 0, frames,
				     SLUICE_MAX_FRAMES, &frame_count);
		uint32_t k = out->count++;
		out->data[k] = pkt + view.payload_off;
		out->len[k] = view.payload_len;
		out->frames[k] = frame_count;
		out->bytes += view.payload_len;
		out->frames_total += frame_count;
		if (view.payload_len > out->max_len)
			out->max_len = view.payload_len;
	}
	if (out->count == 0) {
		snprintf(err, err_len,
			 "%s: no UDP datagram to port %u in %u packets (%u other, %u bad); "
			 "check --udp-port",
			 path, udp_port, packets->count, out->other, out->bad);
		message_payloads_free(out);
		return -1;
	}
	return 0;
}

void message_payloads_free(struct message_payloads *p)
{
	free(p->data);
	free(p->len);
	free(p->frames);
	memset(p, 0, sizeof(*p));
}
