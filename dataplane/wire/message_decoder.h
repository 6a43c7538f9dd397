/* Decoding a received packet into messages to scan.
 *
 * The decoder looks at one packet and says whether it carries messages (and
 * where each message's header and text are), is other traffic to forward
 * untouched, or is bad input for a reason. Today there is one decoder, the UDP
 * frame decoder, and the packet path calls it directly (no indirect call per
 * packet). When the stream decoders arrive (TCP flows, WebSocket), each fills
 * the same struct sluice_decoded, and the choice between them is made once per
 * packet by what classification found, not through a function pointer.
 */
#ifndef SLUICE_WIRE_MESSAGE_DECODER_H
#define SLUICE_WIRE_MESSAGE_DECODER_H

#include <stdint.h>

#include "bad_input.h"
#include "frame_decode.h"
#include "packet_classify.h"

struct sluice_decoded {
	struct sluice_packet_view view;
	uint32_t frame_count; /* frames decoded before any problem */
	struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
};

/* What the decoders are configured with. */
struct sluice_message_decoder {
	const char *name;
	uint16_t udp_port;	   /* the UDP frame decoder's message port */
	const uint64_t *tcp_ports; /* WebSocket services (a 65,536-bit map), or NULL */
};

/* Wire format v1 frames in UDP datagrams to udp_port. */
void sluice_udp_frame_decoder_init(struct sluice_message_decoder *dec, uint16_t udp_port);

/* Classifies pkt[0..len) and, for a datagram to the message port, decodes its
 * frames into *out. A segment of a TCP service is SLUICE_PKT_STREAM with
 * out->view filled (the stream layer decodes it). Returns the class; *why is
 * set for SLUICE_PKT_BAD. */
enum sluice_pkt_class sluice_udp_frames_decode(const struct sluice_message_decoder *dec,
					       const uint8_t *pkt, uint32_t len,
					       struct sluice_decoded *out,
					       enum sluice_bad_reason *why);

#endif
