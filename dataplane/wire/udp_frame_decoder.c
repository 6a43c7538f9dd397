#include "message_decoder.h"

enum sluice_pkt_class sluice_udp_frames_decode(const struct sluice_message_decoder *dec,
					       const uint8_t *pkt, uint32_t len,
					       struct sluice_decoded *out,
					       enum sluice_bad_reason *why)
{
	out->frame_count = 0;
	const struct sluice_port_set ports = {.udp = dec->udp_port, .tcp = dec->tcp_ports};
	enum sluice_pkt_class cls = sluice_packet_classify_ports(pkt, len, &ports, &out->view, why);
	if (cls != SLUICE_PKT_MESSAGE)
		return cls;
	*why = sluice_frames_decode(pkt + out->view.payload_off, out->view.payload_len,
				    out->view.payload_off, out->frames, SLUICE_MAX_FRAMES,
				    &out->frame_count);
	return *why == SLUICE_BAD_NONE ? SLUICE_PKT_MESSAGE : SLUICE_PKT_BAD;
}

void sluice_udp_frame_decoder_init(struct sluice_message_decoder *dec, uint16_t udp_port)
{
	dec->name = "udp-frames-v1";
	dec->udp_port = udp_port;
	dec->tcp_ports = NULL;
}
