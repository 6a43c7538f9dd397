#include "corpus_messages.h"

#include <stdio.h>
#include <stdlib.h>

#include "frame_decode.h"
#include "packet_classify.h"

static uint16_t frames_in(const uint8_t *pkt, uint32_t len, uint16_t udp_port)
{
	struct sluice_packet_view view;
	enum sluice_bad_reason why;
	if (sluice_packet_classify(pkt, len, udp_port, &view, &why) != SLUICE_PKT_MESSAGE)
		return 0;
	struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
	uint32_t count = 0;
	if (sluice_frames_decode(pkt + view.payload_off, view.payload_len, view.payload_off, frames,
				 SLUICE_MAX_FRAMES, &count) != SLUICE_BAD_NONE)
		return 0;
	return (uint16_t)count;
}

int corpus_messages_count(const struct corpus_packets *packets, uint16_t udp_port,
			  struct corpus_messages *out, char *err, size_t err_len)
{
	out->total = 0;
	out->message_packets = 0;
	out->per_packet = calloc(packets->count ? packets->count : 1, sizeof(*out->per_packet));
	if (out->per_packet == NULL) {
		snprintf(err, err_len, "out of memory counting the messages of %u packets",
			 packets->count);
		return -1;
	}
	for (uint32_t i = 0; i < packets->count; i++) {
		uint16_t n =
		    frames_in(packets->data + packets->offset[i], packets->len[i], udp_port);
		out->per_packet[i] = n;
		out->total += n;
		out->message_packets += n > 0;
	}
	return 0;
}

void corpus_messages_free(struct corpus_messages *m)
{
	free(m->per_packet);
	m->per_packet = NULL;
}
