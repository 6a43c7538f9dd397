/* Decoding the wire-format frames of one UDP payload (docs/wire-format.md).
 *
 * Contract: reads only payload[0..len). Either every frame is well formed and
 * together they exactly fill the payload (returns SLUICE_BAD_NONE, frames[0..*count)
 * filled in order), or the first problem found is returned and *count says how
 * many frames before it were good. Frame offsets are relative to `base`, so a
 * caller can pass the payload's offset in the packet and get packet offsets.
 */
#ifndef SLUICE_DATAPLANE_FRAME_DECODE_H
#define SLUICE_DATAPLANE_FRAME_DECODE_H

#include <stdint.h>

#include "bad_input.h"

/* A datagram of 9000 bytes holds at most 281 empty frames; real chat traffic far
 * fewer. More than this is refused as too_many_frames. */
#define SLUICE_MAX_FRAMES 256

struct sluice_frame_ref {
	uint32_t offset;   /* of the frame header, base-relative */
	uint16_t text_len; /* text starts at offset + SLUICE_WIRE_HEADER_LEN */
};

enum sluice_bad_reason sluice_frames_decode(const uint8_t *payload, uint32_t len, uint32_t base,
					    struct sluice_frame_ref *frames, uint32_t max,
					    uint32_t *count);

#endif
