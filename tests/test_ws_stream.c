/* WebSocket over a stream store: the handshake (with the compression offer
 * renamed in the stream), frames split anywhere, fragmented messages with
 * control frames between fragments, how far a direction may be released,
 * reading messages unmasked and writing verdicts back masked, and each
 * protocol error by name. */
#include <criterion/criterion.h>

#include <string.h>

#include "websocket.h"
#include "ws_stream.h"

static struct sluice_chunk_pool pool;
static struct sluice_stream_store store;
static struct sluice_ws_half ws;
static uint8_t head[SLUICE_WS_MAX_HEAD];
static uint8_t stream[160000];
static uint32_t stream_len;

#define ISN 1000u

static const char request[] =
    "GET /chat HTTP/1.1\r\n"
    "Host: 198.18.0.2:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

static const char response[] = "HTTP/1.1 101 Switching Protocols\r\n"
			       "Upgrade: websocket\r\n"
			       "Connection: Upgrade\r\n"
			       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
			       "\r\n";

static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

static void setup(void)
{
	cr_assert_eq(sluice_chunk_pool_init(&pool, 64, &sluice_libc_allocator), 0);
	sluice_store_init(&store, ISN);
	stream_len = 0;
}

static void teardown(void)
{
	sluice_chunk_pool_fini(&pool);
}

TestSuite(ws_stream, .init = setup, .fini = teardown);

static void append(const void *p, size_t n)
{
	cr_assert_leq(stream_len + n, sizeof(stream));
	memcpy(stream + stream_len, p, n);
	stream_len += (uint32_t)n;
}

static void append_frame(bool fin, uint8_t opcode, bool masked, const char *payload)
{
	static uint8_t buf[80000];
	uint8_t hdr[SLUICE_WS_MAX_HEADER];
	size_t len = strlen(payload);
	size_t hl = sluice_ws_header_build(hdr, fin, 0, opcode, masked ? key : NULL, len);
	append(hdr, hl);
	memcpy(buf, payload, len);
	if (masked)
		sluice_ws_mask(buf, buf, len, key, 0);
	append(buf, len);
}

/* Feeds stream bytes [from, to) into the store, as a segment would. */
static void feed(uint32_t from, uint32_t to)
{
	cr_assert_eq(
	    sluice_store_write(&store, &pool, ISN + from, stream + from, to - from, 1u << 20, NULL),
	    SLUICE_STORE_OK);
}

static enum sluice_ws_event next(struct sluice_ws_result *r)
{
	return sluice_ws_half_next(&ws, &store, &pool, head, true, r);
}

static void read_text(const struct sluice_ws_message *m, char *out)
{
	sluice_ws_message_read(m, &store, &pool, (uint8_t *)out);
	out[m->len] = 0;
}

Test(ws_stream, client_handshake_strips_compression_then_frames_follow_the_101)
{
	sluice_ws_half_init(&ws, ISN, true, 65536);
	append(request, strlen(request));
	uint32_t head_end = stream_len;
	append_frame(true, SLUICE_WS_TEXT, true, "hello");
	struct sluice_ws_result r;

	/* Byte by byte: nothing until the blank line. */
	for (uint32_t i = 0; i + 1 < head_end; i++) {
		feed(i, i + 1);
		cr_assert_eq(next(&r), SLUICE_WS_EV_NONE, "event at byte %u", i);
		cr_assert_eq(sluice_ws_half_judged(&ws), ISN);
	}
	feed(head_end - 1, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_REQUEST);
	cr_assert(r.req.upgrade_websocket);
	cr_assert(r.req.deflate_offered);
	cr_assert(r.req.extensions_stripped);
	/* The store now says no extension, in the same number of bytes. */
	char got[sizeof(request)];
	sluice_store_read(&store, &pool, ISN, (uint8_t *)got, head_end);
	got[head_end] = 0;
	cr_assert_null(strstr(got, "Sec-WebSocket-Extensions"));
	cr_assert_not_null(strstr(got, SLUICE_WS_STRIPPED_EXTENSIONS_NAME ": permessage-deflate"));
	cr_assert_eq(sluice_ws_half_judged(&ws), ISN + head_end);

	/* The frame waits for the server's 101. */
	cr_assert_eq(next(&r), SLUICE_WS_EV_NONE);
	sluice_ws_half_upgraded(&ws, false);
	cr_assert_eq(next(&r), SLUICE_WS_EV_MESSAGE);
	cr_assert_eq(r.msg.opcode, SLUICE_WS_TEXT);
	char text[64];
	read_text(&r.msg, text);
	cr_assert_str_eq(text, "hello");
	cr_assert_eq(sluice_ws_half_judged(&ws), ISN + stream_len);
}

Test(ws_stream, server_response_then_unmasked_frames)
{
	sluice_ws_half_init(&ws, ISN, false, 65536);
	append(response, strlen(response));
	append_frame(true, SLUICE_WS_TEXT, false, "{\"text\":\"hi\"}");
	feed(0, stream_len);
	struct sluice_ws_result r;
	cr_assert_eq(next(&r), SLUICE_WS_EV_RESPONSE);
	cr_assert(r.resp.upgraded);
	cr_assert_eq(r.resp.status, 101);
	cr_assert_eq(next(&r), SLUICE_WS_EV_MESSAGE);
	char text[64];
	read_text(&r.msg, text);
	cr_assert_str_eq(text, "{\"text\":\"hi\"}");
	cr_assert_eq(next(&r), SLUICE_WS_EV_NONE);
}

static void open_frames(bool from_client)
{
	sluice_ws_half_init(&ws, ISN, from_client, 65536);
	ws.phase = SLUICE_WS_PHASE_FRAMES;
}

Test(ws_stream, a_fragmented_message_is_one_message_and_holds_the_ping_inside_it)
{
	open_frames(true);
	append_frame(false, SLUICE_WS_TEXT, true, "加我微");
	uint32_t first_end = stream_len;
	append_frame(true, SLUICE_WS_PING, true, "p");
	append_frame(false, SLUICE_WS_CONTINUATION, true, "信 138");
	append_frame(true, SLUICE_WS_CONTINUATION, true, "00138000");
	struct sluice_ws_result r;

	feed(0, first_end);
	cr_assert_eq(next(&r), SLUICE_WS_EV_NONE);
	cr_assert_eq(sluice_ws_half_judged(&ws), ISN); /* the message is open */
	feed(first_end, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_CONTROL);
	cr_assert_eq(r.msg.opcode, SLUICE_WS_PING);
	cr_assert_eq(sluice_ws_half_judged(&ws), ISN);
	cr_assert_eq(next(&r), SLUICE_WS_EV_MESSAGE);
	cr_assert_eq(r.msg.nfrag, 3);
	cr_assert_eq(r.msg.start, ISN);
	cr_assert_eq(r.msg.end, ISN + stream_len);
	char text[128];
	read_text(&r.msg, text);
	cr_assert_str_eq(text, "加我微信 13800138000");
	cr_assert_eq(sluice_ws_half_judged(&ws), ISN + stream_len);

	/* A verdict written across the fragments lands masked in each. */
	uint32_t off = (uint32_t)strlen("加我微信 ");
	sluice_ws_message_write(&r.msg, &store, &pool, 3, (const uint8_t *)"*********", 9);
	sluice_ws_message_write(&r.msg, &store, &pool, off, (const uint8_t *)"***********", 11);
	read_text(&r.msg, text);
	cr_assert_str_eq(text, "加********* ***********");
	/* The ping between the fragments is untouched. */
	uint8_t ping[3];
	sluice_store_read(&store, &pool, ISN + first_end + 6, ping, 1);
	cr_assert_eq(ping[0] ^ key[0], 'p');
}

/* A masked message is unmasked as it is read from the store, run by run:
 * the key's phase must carry over the store's 2 KiB chunk boundaries, which
 * fall anywhere in the fragments. */
Test(ws_stream, a_masked_message_across_the_store_s_chunks_reads_back_as_sent)
{
	open_frames(true);
	append_frame(true, SLUICE_WS_TEXT, true, "x"); /* shifts the chunk boundaries */
	static char a[3000], b[3002], want[6002];
	uint32_t x = 77;
	for (size_t i = 0; i < sizeof(a) - 1; i++) {
		x = x * 1103515245u + 12345u;
		a[i] = (char)('!' + (x >> 16) % 90);
	}
	for (size_t i = 0; i < sizeof(b) - 1; i++) {
		x = x * 1103515245u + 12345u;
		b[i] = (char)('!' + (x >> 16) % 90);
	}
	append_frame(false, SLUICE_WS_TEXT, true, a);
	append_frame(true, SLUICE_WS_CONTINUATION, true, b);
	feed(0, stream_len);
	struct sluice_ws_result r;
	cr_assert_eq(next(&r), SLUICE_WS_EV_MESSAGE);
	cr_assert_eq(r.msg.len, 1);
	cr_assert_eq(next(&r), SLUICE_WS_EV_MESSAGE);
	cr_assert_eq(r.msg.nfrag, 2);
	cr_assert_eq(r.msg.len, strlen(a) + strlen(b));
	static char got[6002];
	read_text(&r.msg, got);
	strcpy(want, a);
	strcat(want, b);
	cr_assert_str_eq(got, want);
}

Test(ws_stream, lengths_of_7_16_and_64_bits_at_every_split)
{
	static char big[70001];
	memset(big, 'a', 70000);
	sluice_ws_half_init(&ws, ISN, false, 1u << 20);
	ws.phase = SLUICE_WS_PHASE_FRAMES;
	append_frame(true, SLUICE_WS_TEXT, false, "short");
	uint32_t ends[3];
	ends[0] = stream_len;
	append_frame(true, SLUICE_WS_TEXT, false, big + 70000 - 300); /* 16-bit length */
	ends[1] = stream_len;
	append_frame(true, SLUICE_WS_BINARY, false, big); /* 64-bit length */
	ends[2] = stream_len;
	cr_assert_eq(ends[2] - ends[1], 10 + 70000);
	struct sluice_ws_result r;
	uint32_t messages = 0;
	for (uint32_t i = 0; i < stream_len; i += 7) {
		uint32_t to = i + 7 < stream_len ? i + 7 : stream_len;
		feed(i, to);
		while (next(&r) == SLUICE_WS_EV_MESSAGE) {
			cr_assert_lt(messages, 3);
			cr_assert_eq(r.msg.end, ISN + ends[messages]);
			cr_assert_leq(r.msg.end, ISN + to);
			messages++;
		}
		/* Never released past a frame not yet whole. */
		uint32_t judged = sluice_ws_half_judged(&ws) - ISN;
		cr_assert(judged == 0 || judged == ends[0] || judged == ends[1] ||
			  judged == ends[2]);
	}
	cr_assert_eq(messages, 3);
	cr_assert_eq(r.msg.opcode, SLUICE_WS_BINARY);
}

Test(ws_stream, protocol_errors_are_named)
{
	struct sluice_ws_result r;

	/* An unmasked client frame: the frame parser's error. */
	open_frames(true);
	append_frame(true, SLUICE_WS_TEXT, false, "x");
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_FRAME);
	cr_assert_eq(r.frame_error, SLUICE_WS_UNMASKED_CLIENT);
	cr_assert_eq(ws.phase, SLUICE_WS_PHASE_FAILED);
	cr_assert_eq(next(&r), SLUICE_WS_EV_NONE); /* failed stays failed */

	/* A continuation with nothing open. */
	teardown();
	setup();
	open_frames(true);
	append_frame(true, SLUICE_WS_CONTINUATION, true, "x");
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_CONTINUATION);

	/* A new text message inside an open one. */
	teardown();
	setup();
	open_frames(true);
	append_frame(false, SLUICE_WS_TEXT, true, "a");
	append_frame(true, SLUICE_WS_TEXT, true, "b");
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_INTERLEAVED);

	/* Over max_message, refused on its header before the payload arrives. */
	teardown();
	setup();
	sluice_ws_half_init(&ws, ISN, true, 16);
	ws.phase = SLUICE_WS_PHASE_FRAMES;
	append_frame(true, SLUICE_WS_TEXT, true, "seventeen bytes!!");
	feed(0, 6);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_TOO_BIG);

	/* Over max_message across fragments. */
	teardown();
	setup();
	sluice_ws_half_init(&ws, ISN, true, 16);
	ws.phase = SLUICE_WS_PHASE_FRAMES;
	append_frame(false, SLUICE_WS_TEXT, true, "ten bytes!");
	append_frame(true, SLUICE_WS_CONTINUATION, true, "ten bytes!");
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_TOO_BIG);

	/* Nine fragments. */
	teardown();
	setup();
	open_frames(true);
	append_frame(false, SLUICE_WS_TEXT, true, "0");
	for (int i = 1; i < SLUICE_WS_MAX_FRAGMENTS; i++)
		append_frame(false, SLUICE_WS_CONTINUATION, true, "1");
	append_frame(true, SLUICE_WS_CONTINUATION, true, "2");
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_TOO_FRAGMENTED);

	/* A close with a reserved code, and bytes after a good close. */
	teardown();
	setup();
	open_frames(true);
	append_frame(true, SLUICE_WS_CLOSE, true, "\x03\xed"); /* 1005: never on the wire */
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_BAD_CLOSE);
	teardown();
	setup();
	open_frames(true);
	append_frame(true, SLUICE_WS_CLOSE, true,
		     "\x03\xe8"
		     "bye");
	append_frame(true, SLUICE_WS_TEXT, true, "late");
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_CONTROL);
	cr_assert_eq(ws.phase, SLUICE_WS_PHASE_CLOSED);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_AFTER_CLOSE);

	/* A request that is not an upgrade, and a head that never ends. */
	teardown();
	setup();
	sluice_ws_half_init(&ws, ISN, true, 65536);
	append("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_NOT_UPGRADE);
	teardown();
	setup();
	sluice_ws_half_init(&ws, ISN, true, 65536);
	append("GET / HTTP/1.1\r\n", 16);
	while (stream_len < SLUICE_WS_MAX_HEAD + 100)
		append("X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 42);
	feed(0, stream_len);
	cr_assert_eq(next(&r), SLUICE_WS_EV_ERROR);
	cr_assert_eq(r.error, SLUICE_WS_STREAM_HEAD);
	cr_assert_str_eq(sluice_ws_stream_error_name(SLUICE_WS_STREAM_HEAD), "ws_http_head");
}
