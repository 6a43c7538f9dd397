/* WebSocket (RFC 6455) over one direction of a TCP stream: the opening
 * handshake, then frames, assembled into whole messages for the scanner
 * (docs/streams.md, "WebSocket").
 *
 * The parser reads the direction's stream store from `parsed` up to
 * store.contig and returns one event at a time. A data message is returned
 * only when its last fragment is complete; its payload stays in the store,
 * described by fragments (sequence number, length, masking key and key phase),
 * so the caller can read it unmasked (sluice_ws_message_read()) and write
 * verdicts back masked (sluice_ws_message_write()).
 *
 * sluice_ws_half_judged() says how far the direction may be released: up to
 * the first byte of a message or frame not yet complete, so no byte of a
 * message leaves before the message is judged.
 *
 * Contract: no allocation, no system calls; at most SLUICE_WS_MAX_FRAGMENTS
 * data frames per message and ws->max_message payload bytes, or the error
 * says which limit.
 */
#ifndef SLUICE_STREAM_WS_STREAM_H
#define SLUICE_STREAM_WS_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "http_upgrade.h"
#include "stream_store.h"
#include "websocket.h"

#define SLUICE_WS_MAX_FRAGMENTS 8
#define SLUICE_WS_MAX_HEAD	8192 /* bytes of an HTTP request or response head */

enum sluice_ws_phase {
	SLUICE_WS_PHASE_HEAD = 0, /* the client's request or the server's response */
	SLUICE_WS_PHASE_WAIT,	  /* the client after its request, until the 101 */
	SLUICE_WS_PHASE_FRAMES,
	SLUICE_WS_PHASE_CLOSED, /* a close frame was sent: nothing may follow */
	SLUICE_WS_PHASE_FAILED,
};

/* A frame's payload in the stream; each frame has its own key, from its
 * first payload byte. */
struct sluice_ws_fragment {
	uint32_t seq; /* of its first payload byte */
	uint32_t len;
	uint8_t key[4];
	bool masked;
};

/* One direction's parser. */
struct sluice_ws_half {
	uint8_t phase;	      /* enum sluice_ws_phase */
	bool from_client;     /* client frames are masked */
	bool deflate;	      /* permessage-deflate was negotiated: RSV1 allowed */
	bool in_message;      /* a fragmented message is open */
	uint8_t msg_opcode;   /* TEXT or BINARY */
	bool msg_compressed;  /* its first frame had RSV1 */
	uint8_t nfrag;	      /* fragments of the open message */
	uint32_t parsed;      /* next byte to parse */
	uint32_t msg_start;   /* first byte of the open message's first frame */
	uint32_t msg_len;     /* payload bytes of the open message so far */
	uint32_t max_message; /* payload bytes a message may have */
	struct sluice_ws_fragment frag[SLUICE_WS_MAX_FRAGMENTS];
};

enum sluice_ws_event {
	SLUICE_WS_EV_NONE = 0, /* nothing complete: wait for more bytes */
	SLUICE_WS_EV_REQUEST,  /* the client's head (req filled; the store may be rewritten) */
	SLUICE_WS_EV_RESPONSE, /* the server's head (resp filled) */
	SLUICE_WS_EV_MESSAGE,  /* a whole data message (msg filled) */
	SLUICE_WS_EV_CONTROL,  /* a whole ping, pong or close frame (msg filled) */
	SLUICE_WS_EV_ERROR,    /* the stream is not WebSocket as it must be (why) */
};

enum sluice_ws_stream_error {
	SLUICE_WS_STREAM_OK = 0,
	SLUICE_WS_STREAM_FRAME,		 /* a frame header is invalid (frame_error) */
	SLUICE_WS_STREAM_HEAD,		 /* an HTTP head is malformed or too long */
	SLUICE_WS_STREAM_NOT_UPGRADE,	 /* the request is not a WebSocket upgrade */
	SLUICE_WS_STREAM_CONTINUATION,	 /* a continuation with no message open */
	SLUICE_WS_STREAM_INTERLEAVED,	 /* a new data message while one is open */
	SLUICE_WS_STREAM_TOO_BIG,	 /* a message over max_message */
	SLUICE_WS_STREAM_TOO_FRAGMENTED, /* more than SLUICE_WS_MAX_FRAGMENTS */
	SLUICE_WS_STREAM_AFTER_CLOSE,	 /* bytes after a close frame */
	SLUICE_WS_STREAM_BAD_CLOSE,	 /* a close frame's payload is invalid */
	SLUICE_WS_STREAM_ERROR_COUNT
};

const char *sluice_ws_stream_error_name(enum sluice_ws_stream_error e);

struct sluice_ws_message {
	uint8_t opcode;	 /* TEXT, BINARY, CLOSE, PING, PONG */
	bool compressed; /* RSV1 on its first frame */
	uint8_t nfrag;
	uint32_t len;	     /* payload bytes */
	uint32_t start, end; /* its bytes in the stream, headers included */
	const struct sluice_ws_fragment *frag;
	struct sluice_ws_fragment control; /* the fragment of a control frame */
};

struct sluice_ws_result {
	enum sluice_ws_stream_error error;
	enum sluice_ws_error frame_error;
	struct sluice_ws_request req;
	struct sluice_ws_response resp;
	struct sluice_ws_message msg;
};

/* A direction whose first byte is seq, starting with its HTTP head. */
void sluice_ws_half_init(struct sluice_ws_half *ws, uint32_t seq, bool from_client,
			 uint32_t max_message);

/* The next event of the direction. head is a caller's buffer of
 * SLUICE_WS_MAX_HEAD bytes for the HTTP head; strip_extensions renames the
 * client's Sec-WebSocket-Extensions (http_upgrade.h) in the store. */
enum sluice_ws_event sluice_ws_half_next(struct sluice_ws_half *ws,
					 struct sluice_stream_store *store,
					 struct sluice_chunk_pool *pool, uint8_t *head,
					 bool strip_extensions, struct sluice_ws_result *out);

/* The client's half after the server's response: frames if it upgraded. */
void sluice_ws_half_upgraded(struct sluice_ws_half *ws, bool deflate);

/* Every byte before this belongs to complete, returned events. */
uint32_t sluice_ws_half_judged(const struct sluice_ws_half *ws);

/* Copies a message's payload, unmasked, to dst (msg->len bytes). */
void sluice_ws_message_read(const struct sluice_ws_message *msg,
			    const struct sluice_stream_store *store,
			    const struct sluice_chunk_pool *pool, uint8_t *dst);

/* Writes payload bytes [off, off + len) of a message from src, masked as the
 * sender masked them, into the store. */
void sluice_ws_message_write(const struct sluice_ws_message *msg, struct sluice_stream_store *store,
			     struct sluice_chunk_pool *pool, uint32_t off, const uint8_t *src,
			     uint32_t len);

#endif
