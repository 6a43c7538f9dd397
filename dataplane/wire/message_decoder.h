/* The decoder seam: how a received packet becomes messages to scan.
 *
 * A decoder looks at one packet and says whether it carries messages (and where
 * each message's header and text are), is other traffic to forward untouched, or
 * is bad input for a reason. The UDP frame decoder is the first implementation;
 * a TCP or WebSocket decoder (DESIGN.md roadmap 4) implements the same call over
 * its reassembled application messages, and the scan/verdict code stays as it is.
 */
#ifndef SLUICE_DATAPLANE_MESSAGE_DECODER_H
#define SLUICE_DATAPLANE_MESSAGE_DECODER_H

#include <stdint.h>

#include "bad_input.h"
#include "frame_decode.h"
#include "packet_classify.h"

struct sluice_decoded {
	struct sluice_udp_view view;
	uint32_t frame_count; /* frames decoded before any problem */
	struct sluice_frame_ref frames[SLUICE_MAX_FRAMES];
};

struct sluice_message_decoder {
	const char *name;
	enum sluice_pkt_class (*decode)(const struct sluice_message_decoder *self,
					const uint8_t *pkt, uint32_t len,
					struct sluice_decoded *out, enum sluice_bad_reason *why);
	uint16_t udp_port; /* configuration of the UDP frame decoder */
};

/* Wire format v1 frames in UDP datagrams to udp_port. */
void sluice_udp_frame_decoder_init(struct sluice_message_decoder *dec, uint16_t udp_port);

#endif
