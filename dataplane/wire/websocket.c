#include "websocket.h"

#include <string.h>

#include "utf8.h"

static enum sluice_ws_parse bad(enum sluice_ws_error *why, enum sluice_ws_error e)
{
	if (why)
		*why = e;
	return SLUICE_WS_BAD;
}

/* The checks that need only the first byte. */
static enum sluice_ws_error check_first_byte(const struct sluice_ws_header *h, bool rsv1_allowed)
{
	bool control = h->opcode >= 8;

	if ((h->opcode > SLUICE_WS_BINARY && h->opcode < SLUICE_WS_CLOSE) ||
	    h->opcode > SLUICE_WS_PONG)
		return SLUICE_WS_RESERVED_OPCODE;
	if (h->rsv & (SLUICE_WS_RSV2 | SLUICE_WS_RSV3))
		return SLUICE_WS_RESERVED_BITS;
	if ((h->rsv & SLUICE_WS_RSV1) &&
	    (!rsv1_allowed || control || h->opcode == SLUICE_WS_CONTINUATION))
		return SLUICE_WS_RESERVED_BITS;
	if (control && !h->fin)
		return SLUICE_WS_CONTROL_FRAGMENTED;
	return SLUICE_WS_OK;
}

enum sluice_ws_parse sluice_ws_header_parse(const uint8_t *p, size_t avail, bool from_client,
					    bool rsv1_allowed, struct sluice_ws_header *h,
					    enum sluice_ws_error *why)
{
	enum sluice_ws_error e;
	size_t ext, need;
	uint64_t len;

	memset(h, 0, sizeof(*h));
	if (why)
		*why = SLUICE_WS_OK;
	if (avail < 1)
		return SLUICE_WS_NEED_MORE;

	h->fin = (p[0] & 0x80) != 0;
	h->rsv = (p[0] >> 4) & 0x7;
	h->opcode = p[0] & 0x0F;
	e = check_first_byte(h, rsv1_allowed);
	if (e != SLUICE_WS_OK)
		return bad(why, e);
	if (avail < 2)
		return SLUICE_WS_NEED_MORE;

	h->masked = (p[1] & 0x80) != 0;
	len = p[1] & 0x7F;
	if (from_client && !h->masked)
		return bad(why, SLUICE_WS_UNMASKED_CLIENT);
	if (!from_client && h->masked)
		return bad(why, SLUICE_WS_MASKED_SERVER);
	if (h->opcode >= 8 && len > SLUICE_WS_MAX_CONTROL_PAYLOAD)
		return bad(why, SLUICE_WS_CONTROL_TOO_LONG);

	ext = len == 126 ? 2 : len == 127 ? 8 : 0;
	if (avail < 2 + ext)
		return SLUICE_WS_NEED_MORE;
	if (ext) {
		len = 0;
		for (size_t i = 0; i < ext; i++)
			len = (len << 8) | p[2 + i];
		h->payload_len = len;
		if (len >> 63)
			return bad(why, SLUICE_WS_LENGTH_TOO_BIG);
		if (len < (ext == 2 ? 126u : 65536u))
			return bad(why, SLUICE_WS_LENGTH_NOT_MINIMAL);
	}
	h->payload_len = len;

	need = 2 + ext + (h->masked ? 4 : 0);
	if (avail < need)
		return SLUICE_WS_NEED_MORE;
	if (h->masked)
		memcpy(h->key, p + 2 + ext, 4);
	h->header_len = (uint8_t)need;
	return SLUICE_WS_HEADER;
}

const char *sluice_ws_error_name(enum sluice_ws_error e)
{
	static const char *const names[SLUICE_WS_ERROR_COUNT] = {
	    [SLUICE_WS_OK] = "ok",
	    [SLUICE_WS_RESERVED_OPCODE] = "reserved_opcode",
	    [SLUICE_WS_RESERVED_BITS] = "reserved_bits",
	    [SLUICE_WS_CONTROL_TOO_LONG] = "control_too_long",
	    [SLUICE_WS_CONTROL_FRAGMENTED] = "control_fragmented",
	    [SLUICE_WS_UNMASKED_CLIENT] = "unmasked_client",
	    [SLUICE_WS_MASKED_SERVER] = "masked_server",
	    [SLUICE_WS_LENGTH_TOO_BIG] = "length_too_big",
	    [SLUICE_WS_LENGTH_NOT_MINIMAL] = "length_not_minimal",
	};

	if ((unsigned)e >= SLUICE_WS_ERROR_COUNT)
		return "unknown";
	return names[e];
}

void sluice_ws_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
		    uint64_t offset)
{
	uint8_t rotated[8];
	uint64_t k;
	size_t i = 0;

	/* The key repeats every four bytes, so eight bytes of it starting at the
	 * right phase serve every eight-byte step; built from bytes, the word is
	 * right whatever the byte order. */
	for (size_t j = 0; j < 8; j++)
		rotated[j] = key[(offset + j) & 3];
	memcpy(&k, rotated, 8);

	for (; i + 32 <= len; i += 32) {
		uint64_t w[4];
		memcpy(w, src + i, 32);
		w[0] ^= k;
		w[1] ^= k;
		w[2] ^= k;
		w[3] ^= k;
		memcpy(dst + i, w, 32);
	}
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, src + i, 8);
		w ^= k;
		memcpy(dst + i, &w, 8);
	}
	for (; i < len; i++)
		dst[i] = src[i] ^ rotated[i & 7];
}

static bool close_code_valid(unsigned code)
{
	if (code >= 1000 && code <= 1003)
		return true;
	if (code >= 1007 && code <= 1014)
		return true;
	return code >= 3000 && code <= 4999;
}

bool sluice_ws_close_payload_valid(const uint8_t *p, size_t len)
{
	if (len == 0)
		return true;
	if (len < 2)
		return false;
	if (!close_code_valid((unsigned)p[0] << 8 | p[1]))
		return false;
	return sluice_utf8_valid(p + 2, len - 2);
}

size_t sluice_ws_header_build(uint8_t *out, bool fin, uint8_t rsv, uint8_t opcode,
			      const uint8_t *key, uint64_t payload_len)
{
	size_t n = 2;

	out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 0x7) << 4 | (opcode & 0x0F));
	out[1] = key ? 0x80 : 0;
	if (payload_len < 126) {
		out[1] |= (uint8_t)payload_len;
	} else if (payload_len <= 0xFFFF) {
		out[1] |= 126;
		out[2] = (uint8_t)(payload_len >> 8);
		out[3] = (uint8_t)payload_len;
		n = 4;
	} else {
		out[1] |= 127;
		for (size_t i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		n = 10;
	}
	if (key) {
		memcpy(out + n, key, 4);
		n += 4;
	}
	return n;
}
