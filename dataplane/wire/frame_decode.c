#include "frame_decode.h"

#include "wire_format.h"

/* Fewer than a header's bytes remain: a cut-off frame if they start like one,
 * otherwise bytes that are no frame at all. */
static enum sluice_bad_reason short_tail(const uint8_t *p, uint32_t rem)
{
	if (p[0] == SLUICE_WIRE_MAGIC0 && (rem < 2 || p[1] == SLUICE_WIRE_MAGIC1))
		return SLUICE_BAD_TRUNCATED_HEADER;
	return SLUICE_BAD_TRAILING_BYTES;
}

enum sluice_bad_reason sluice_frames_decode(const uint8_t *payload, uint32_t len, uint32_t base,
					    struct sluice_frame_ref *frames, uint32_t max,
					    uint32_t *count)
{
	uint32_t off = 0, n = 0;

	*count = 0;
	if (len == 0)
		return SLUICE_BAD_EMPTY_PAYLOAD;
	while (off < len) {
		const uint8_t *h = payload + off;
		uint32_t rem = len - off;
		if (rem < SLUICE_WIRE_HEADER_LEN)
			return short_tail(h, rem);
		if (h[0] != SLUICE_WIRE_MAGIC0 || h[1] != SLUICE_WIRE_MAGIC1)
			return SLUICE_BAD_MAGIC;
		if (h[SLUICE_WIRE_OFF_VERSION] != SLUICE_WIRE_VERSION)
			return SLUICE_BAD_VERSION;
		uint16_t text_len = sluice_be16_load(h + SLUICE_WIRE_OFF_TEXT_LEN);
		if (text_len > rem - SLUICE_WIRE_HEADER_LEN)
			return SLUICE_BAD_TEXT_LENGTH;
		if (n == max)
			return SLUICE_BAD_TOO_MANY_FRAMES;
		frames[n].offset = base + off;
		frames[n].text_len = text_len;
		*count = ++n;
		off += SLUICE_WIRE_HEADER_LEN + text_len;
	}
	return SLUICE_BAD_NONE;
}
