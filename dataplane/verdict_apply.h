/* Applying verdicts to a datagram in a contiguous packet buffer.
 *
 * Contract: the calls for one datagram are: any number of sluice_frame_mask() and
 * sluice_frame_set_flags(), then at most one sluice_datagram_remove_frames(), then
 * sluice_datagram_finish(), all with the same struct sluice_rewrite (zeroed before
 * the first). Text keeps its length under masking; frames are removed by moving
 * the rest of the payload down. finish() writes the IP and UDP lengths and updates
 * the IPv4 header and UDP checksums incrementally (RFC 1624) from the sums of the
 * bytes before and after each change, so a checksum that was wrong on arrival is
 * still wrong, and one that was right is right. An IPv4 UDP checksum of 0 ("none")
 * stays 0. Untouched datagrams need no finish() and stay byte-for-byte unchanged.
 */
#ifndef SLUICE_DATAPLANE_VERDICT_APPLY_H
#define SLUICE_DATAPLANE_VERDICT_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "frame_decode.h"
#include "packet_classify.h"

struct sluice_rewrite {
	uint32_t old_sum; /* one's-complement sums of the UDP bytes as they were ... */
	uint32_t new_sum; /* ... and as they are now, over the same changes */
	bool changed;
};

/* Replaces text bytes [from, to) of the frame with '*', widened to whole UTF-8 code
 * points, and sets the masked bit. from/to are text-relative; the text must be
 * valid UTF-8. */
void sluice_frame_mask(uint8_t *pkt, const struct sluice_packet_view *view,
		       const struct sluice_frame_ref *frame, uint32_t from, uint32_t to,
		       struct sluice_rewrite *rw);

/* ORs bits into the frame's flags byte. */
void sluice_frame_set_flags(uint8_t *pkt, const struct sluice_packet_view *view,
			    const struct sluice_frame_ref *frame, uint8_t bits,
			    struct sluice_rewrite *rw);

/* Removes the frames whose bit is set in `removed` (bit i = frames[i]) and
 * shrinks the payload; updates view->payload_len. Returns the new length of the
 * packet: the end of the IP datagram (Ethernet padding is dropped). Returns 0 if
 * no frame is left, in which case the datagram must be dropped. */
uint32_t sluice_datagram_remove_frames(uint8_t *pkt, struct sluice_packet_view *view,
				       const struct sluice_frame_ref *frames, uint32_t count,
				       const uint64_t *removed, struct sluice_rewrite *rw);

/* Writes lengths and checksums after the changes recorded in rw. */
void sluice_datagram_finish(uint8_t *pkt, const struct sluice_packet_view *view,
			    struct sluice_rewrite *rw);

#endif
