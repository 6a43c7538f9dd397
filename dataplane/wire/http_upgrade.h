/* The WebSocket opening handshake (RFC 6455 section 4): the client's HTTP/1.1
 * upgrade request and the server's response, as the gateway sees them inline.
 *
 * Contract: each parser reads the head at the start of buf[0..avail), the
 * bytes of one direction handed over by the TCP stream layer, and keeps no
 * state: while the head is incomplete the caller calls again with more bytes
 * (the whole head is scanned again; max_head bounds the work). It allocates
 * nothing and reads nothing past the blank line that ends the head, so the
 * bytes after head_len (WebSocket frames after a 101) are left to the caller.
 * Answers: NEED_MORE (no error seen yet and fewer than max_head bytes without
 * the blank line), HEAD (head_len bytes through the blank line, the struct
 * filled in), or BAD. The struct is zeroed first and filled only on HEAD.
 *
 * What is BAD (so the gateway and the server cannot disagree on where the head
 * ends or what it says):
 *  - a head longer than max_head bytes;
 *  - any control byte (0x00-0x1F, 0x7F) other than CR and LF that end lines
 *    and HTAB inside header values; this is found as soon as it arrives;
 *  - a bare LF or a bare CR: lines end in CRLF only. Python websockets,
 *    Chromium, Firefox and Node ws all send CRLF; accepting a bare LF would
 *    let the gateway and a strict server split the head differently;
 *  - obsolete line folding (a header line starting with SP or HTAB), an empty
 *    line before the start line, whitespace before a header's colon, a header
 *    name that is not a token, a malformed start line.
 * A well-formed head that is not a WebSocket upgrade (a POST, HTTP/1.0, a
 * missing header) is HEAD with upgrade_websocket (or upgraded) false.
 *
 * Header names are matched without regard to case; headers may repeat, and a
 * token found in any of the repeats counts. Values are comma-separated lists
 * of tokens with optional whitespace and ';' parameters (quoted strings in
 * parameters may hold commas); tokens are matched without regard to case.
 */
#ifndef SLUICE_WIRE_HTTP_UPGRADE_H
#define SLUICE_WIRE_HTTP_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sluice_http_head { SLUICE_HTTP_NEED_MORE, SLUICE_HTTP_HEAD, SLUICE_HTTP_BAD };

/* The name that strip_extensions gives to every Sec-WebSocket-Extensions
 * header: the same length (24), a token no server knows, the value left as it
 * was. */
#define SLUICE_WS_STRIPPED_EXTENSIONS_NAME "X-Sluice-WS-Ext-Stripped"

struct sluice_ws_request {
	uint32_t head_len; /* through the blank line */
	/* GET, HTTP/1.1, Upgrade lists websocket, Connection lists upgrade,
	 * Sec-WebSocket-Key present and not empty (not decoded), and
	 * Sec-WebSocket-Version lists 13. */
	bool upgrade_websocket;
	/* A Sec-WebSocket-Extensions header lists permessage-deflate (as the
	 * client sent it: still true when this call stripped it). */
	bool deflate_offered;
	/* strip_extensions renamed at least one Sec-WebSocket-Extensions header. */
	bool extensions_stripped;
};

/* Parses the client's request head in buf[0..avail); heads longer than
 * max_head are BAD. strip_extensions: on HEAD, rename every
 * Sec-WebSocket-Extensions header in place to
 * SLUICE_WS_STRIPPED_EXTENSIONS_NAME, so that the server negotiates no
 * extension and the connection is not compressed; the head keeps its length
 * and every other byte. buf is changed only then. */
enum sluice_http_head sluice_ws_request_parse(uint8_t *buf, size_t avail, size_t max_head,
					      bool strip_extensions, struct sluice_ws_request *req);

struct sluice_ws_response {
	uint32_t head_len; /* through the blank line; frames may follow */
	uint16_t status;
	/* 101, HTTP/1.1, Upgrade lists websocket, Connection lists upgrade. */
	bool upgraded;
	/* A Sec-WebSocket-Extensions header lists permessage-deflate. */
	bool deflate_accepted;
	/* A Sec-WebSocket-Extensions header lists any other extension. */
	bool other_extension;
};

/* Parses the server's response head in buf[0..avail); heads longer than
 * max_head are BAD, and so is a reply that does not start with "HTTP/" (found
 * from its first bytes). The status line is HTTP/d.d, a space, three digits,
 * then a space and a reason phrase (which may be empty); "HTTP/1.1 101" with
 * no space after the code is accepted too. */
enum sluice_http_head sluice_ws_response_parse(const uint8_t *buf, size_t avail, size_t max_head,
					       struct sluice_ws_response *resp);

#endif
