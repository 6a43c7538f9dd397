/* RFC 6455 WebSocket frames: header parsing and building, payload masking and
 * the close frame's payload check.
 *
 * Contract: the parser reads one direction of one connection as contiguous
 * bytes handed over by the TCP stream layer; it keeps no state, allocates
 * nothing and never reads past p[avail). It answers NEED_MORE while the header
 * is cut short and no error is visible yet, HEADER with the whole header
 * decoded, or BAD with the first error found (checked in the order of the
 * bytes, so a bad first byte is reported as soon as it arrives). A BAD frame
 * fails the connection: the header checks here are those a browser applies
 * before it fails one.
 *
 * Bits only: the parser does not know the message state. What it checks from
 * the header alone:
 *  - opcodes 3-7 and 11-15 are reserved (SLUICE_WS_RESERVED_OPCODE);
 *  - RSV2 and RSV3 are always bad; RSV1 is bad unless rsv1_allowed
 *    (permessage-deflate negotiated), and even then it is allowed only on TEXT
 *    and BINARY frames, since RFC 7692 section 6.1 forbids it on control frames
 *    and on continuation frames (SLUICE_WS_RESERVED_BITS in every case);
 *  - control frames (opcode >= 8) must have FIN set and a payload of at most
 *    125 bytes;
 *  - client frames must be masked, server frames must not;
 *  - lengths must use the shortest encoding, and a 64-bit length must not have
 *    its top bit set.
 * The caller, which tracks messages, checks the rest: a continuation frame
 * with no message open, TEXT or BINARY while one is open (so RSV1 on a data
 * frame that does not start a message), and UTF-8 across fragments.
 */
#ifndef SLUICE_WIRE_WEBSOCKET_H
#define SLUICE_WIRE_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest frame header: 2 bytes, an 8-byte length and a 4-byte key. */
#define SLUICE_WS_MAX_HEADER 14
/* The largest payload of a control frame. */
#define SLUICE_WS_MAX_CONTROL_PAYLOAD 125

enum sluice_ws_opcode {
	SLUICE_WS_CONTINUATION = 0,
	SLUICE_WS_TEXT = 1,
	SLUICE_WS_BINARY = 2,
	SLUICE_WS_CLOSE = 8,
	SLUICE_WS_PING = 9,
	SLUICE_WS_PONG = 10
};

/* RSV bits as they appear in sluice_ws_header.rsv (and sluice_ws_header_build). */
#define SLUICE_WS_RSV1 0x4
#define SLUICE_WS_RSV2 0x2
#define SLUICE_WS_RSV3 0x1

struct sluice_ws_header {
	bool fin;
	uint8_t rsv; /* RSV1..3 as SLUICE_WS_RSV1, _RSV2, _RSV3 */
	uint8_t opcode;
	bool masked;
	uint8_t header_len; /* 2..14: the payload starts at p[header_len] */
	uint8_t key[4];	    /* zero when not masked */
	uint64_t payload_len;
};

enum sluice_ws_parse { SLUICE_WS_NEED_MORE, SLUICE_WS_HEADER, SLUICE_WS_BAD };

enum sluice_ws_error {
	SLUICE_WS_OK = 0,
	SLUICE_WS_RESERVED_OPCODE,    /* opcode 3-7 or 11-15 */
	SLUICE_WS_RESERVED_BITS,      /* RSV2/RSV3, or RSV1 where it is not allowed */
	SLUICE_WS_CONTROL_TOO_LONG,   /* control frame payload over 125 bytes */
	SLUICE_WS_CONTROL_FRAGMENTED, /* control frame with FIN clear */
	SLUICE_WS_UNMASKED_CLIENT,    /* client frame without a masking key */
	SLUICE_WS_MASKED_SERVER,      /* server frame with a masking key */
	SLUICE_WS_LENGTH_TOO_BIG,     /* 64-bit length with the top bit set */
	SLUICE_WS_LENGTH_NOT_MINIMAL, /* 16-bit length < 126 or 64-bit length < 65536 */
	SLUICE_WS_ERROR_COUNT
};

/* Parses the frame header at p[0..avail). from_client: the direction of the
 * bytes. rsv1_allowed: permessage-deflate was negotiated on this connection.
 * *h is zeroed, then filled as the header is decoded: complete on HEADER; on
 * BAD it holds the fields decoded before the error. *why (which may be NULL)
 * is SLUICE_WS_OK unless the answer is BAD. */
enum sluice_ws_parse sluice_ws_header_parse(const uint8_t *p, size_t avail, bool from_client,
					    bool rsv1_allowed, struct sluice_ws_header *h,
					    enum sluice_ws_error *why);

/* Short snake_case names for counters and events ("reserved_opcode", ...);
 * "unknown" for a value outside the enum. */
const char *sluice_ws_error_name(enum sluice_ws_error e);

/* XORs src[0..len) with the masking key into dst, as bytes at payload offset
 * `offset` onwards, so a payload split across TCP segments can be (un)masked
 * piece by piece. dst may equal src; other overlaps are not allowed. Works
 * eight bytes at a time. */
void sluice_ws_mask(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
		    uint64_t offset);

/* Whether a close frame's payload (already unmasked) is valid: empty, or a
 * status code that may be sent on the wire followed by a UTF-8 reason. Valid
 * codes: 1000-1003, 1007-1014 (1012-1014 are registered with IANA: service
 * restart, try again later, bad gateway), 3000-4999. 1004-1006, 1015 and
 * every other code are invalid, as is a 1-byte payload. */
bool sluice_ws_close_payload_valid(const uint8_t *p, size_t len);

/* Builds a frame header into out[0..SLUICE_WS_MAX_HEADER) and returns its
 * length. rsv uses the SLUICE_WS_RSV* bits; key NULL builds an unmasked
 * header. The length uses the shortest encoding. Nothing is validated, so
 * tests can build bad headers (a reserved opcode, a length with the top bit
 * set). */
size_t sluice_ws_header_build(uint8_t *out, bool fin, uint8_t rsv, uint8_t opcode,
			      const uint8_t *key, uint64_t payload_len);

#endif
