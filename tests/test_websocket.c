/* RFC 6455 frames (dataplane/wire/websocket.h): header parsing and building,
 * masking, close payloads. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "websocket.h"

#define FROM_CLIENT true
#define FROM_SERVER false

/* Parses p[0..avail) from a buffer of exactly that size, so that a read past
 * the end is reported by ASan. */
static enum sluice_ws_parse parse_n(const void *p, size_t avail, bool from_client,
				    bool rsv1_allowed, struct sluice_ws_header *h,
				    enum sluice_ws_error *why)
{
	uint8_t *exact = malloc(avail ? avail : 1);
	enum sluice_ws_parse r;

	cr_assert_not_null(exact);
	memcpy(exact, p, avail);
	r = sluice_ws_header_parse(exact, avail, from_client, rsv1_allowed, h, why);
	free(exact);
	return r;
}

/* The header is BAD for `want`, from the first `at` bytes on (and with all of
 * them). */
static void expect_bad_from(const uint8_t *p, size_t len, size_t at, bool from_client,
			    bool rsv1_allowed, enum sluice_ws_error want)
{
	struct sluice_ws_header h;
	enum sluice_ws_error why;

	for (size_t n = at; n <= len; n++) {
		why = SLUICE_WS_OK;
		cr_assert_eq(parse_n(p, n, from_client, rsv1_allowed, &h, &why), SLUICE_WS_BAD,
			     "%zu of %zu bytes", n, len);
		cr_assert_eq(why, want, "%zu bytes: %s, want %s", n, sluice_ws_error_name(why),
			     sluice_ws_error_name(want));
	}
}

static void expect_bad(const uint8_t *p, size_t len, bool from_client, bool rsv1_allowed,
		       enum sluice_ws_error want)
{
	expect_bad_from(p, len, len, from_client, rsv1_allowed, want);
}

/* The header parses whole, and is NEED_MORE at every shorter length. */
static void expect_header(const uint8_t *p, size_t header_len, bool from_client, bool rsv1_allowed,
			  struct sluice_ws_header *h)
{
	enum sluice_ws_error why;

	for (size_t n = 0; n < header_len; n++) {
		why = SLUICE_WS_RESERVED_BITS;
		cr_assert_eq(parse_n(p, n, from_client, rsv1_allowed, h, &why), SLUICE_WS_NEED_MORE,
			     "%zu of %zu bytes", n, header_len);
		cr_assert_eq(why, SLUICE_WS_OK);
	}
	why = SLUICE_WS_RESERVED_BITS;
	cr_assert_eq(parse_n(p, header_len, from_client, rsv1_allowed, h, &why), SLUICE_WS_HEADER);
	cr_assert_eq(why, SLUICE_WS_OK);
	cr_assert_eq(h->header_len, header_len);
}

/* Byte-at-a-time reference for sluice_ws_mask. */
static void mask_reference(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t key[4],
			   uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = src[i] ^ key[(offset + i) % 4];
}

/* RFC 6455 section 5.7 examples. */

Test(websocket, rfc_single_frame_unmasked_text)
{
	static const uint8_t frame[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	struct sluice_ws_header h;
	uint8_t built[SLUICE_WS_MAX_HEADER];

	expect_header(frame, 2, FROM_SERVER, false, &h);
	cr_assert(h.fin);
	cr_assert_eq(h.rsv, 0);
	cr_assert_eq(h.opcode, SLUICE_WS_TEXT);
	cr_assert_not(h.masked);
	cr_assert_eq(h.payload_len, 5);
	cr_assert_arr_eq(frame + h.header_len, "Hello", 5);
	cr_assert_eq(sluice_ws_header_build(built, true, 0, SLUICE_WS_TEXT, NULL, 5), 2);
	cr_assert_arr_eq(built, frame, 2);
	/* With the payload after it, the header is the same. */
	cr_assert_eq(parse_n(frame, sizeof(frame), FROM_SERVER, false, &h, NULL), SLUICE_WS_HEADER);
	cr_assert_eq(h.header_len, 2);
}

Test(websocket, rfc_single_frame_masked_text)
{
	static const uint8_t frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	struct sluice_ws_header h;
	uint8_t built[SLUICE_WS_MAX_HEADER], payload[5];

	expect_header(frame, 6, FROM_CLIENT, false, &h);
	cr_assert(h.fin);
	cr_assert_eq(h.opcode, SLUICE_WS_TEXT);
	cr_assert(h.masked);
	cr_assert_arr_eq(h.key, key, 4);
	cr_assert_eq(h.payload_len, 5);
	sluice_ws_mask(payload, frame + 6, 5, h.key, 0);
	cr_assert_arr_eq(payload, "Hello", 5);
	sluice_ws_mask(payload, (const uint8_t *)"Hello", 5, key, 0);
	cr_assert_arr_eq(payload, frame + 6, 5);
	cr_assert_eq(sluice_ws_header_build(built, true, 0, SLUICE_WS_TEXT, key, 5), 6);
	cr_assert_arr_eq(built, frame, 6);
}

Test(websocket, rfc_fragmented_unmasked_text)
{
	static const uint8_t first[] = {0x01, 0x03, 0x48, 0x65, 0x6c};
	static const uint8_t second[] = {0x80, 0x02, 0x6c, 0x6f};
	struct sluice_ws_header h;
	uint8_t built[SLUICE_WS_MAX_HEADER];

	expect_header(first, 2, FROM_SERVER, false, &h);
	cr_assert_not(h.fin);
	cr_assert_eq(h.opcode, SLUICE_WS_TEXT);
	cr_assert_eq(h.payload_len, 3);
	cr_assert_arr_eq(first + 2, "Hel", 3);
	cr_assert_eq(sluice_ws_header_build(built, false, 0, SLUICE_WS_TEXT, NULL, 3), 2);
	cr_assert_arr_eq(built, first, 2);

	expect_header(second, 2, FROM_SERVER, false, &h);
	cr_assert(h.fin);
	cr_assert_eq(h.opcode, SLUICE_WS_CONTINUATION);
	cr_assert_eq(h.payload_len, 2);
	cr_assert_arr_eq(second + 2, "lo", 2);
	cr_assert_eq(sluice_ws_header_build(built, true, 0, SLUICE_WS_CONTINUATION, NULL, 2), 2);
	cr_assert_arr_eq(built, second, 2);
}

Test(websocket, rfc_ping_and_masked_pong)
{
	static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
				       0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct sluice_ws_header h;
	uint8_t built[SLUICE_WS_MAX_HEADER], payload[5];

	expect_header(ping, 2, FROM_SERVER, false, &h);
	cr_assert(h.fin);
	cr_assert_eq(h.opcode, SLUICE_WS_PING);
	cr_assert_eq(h.payload_len, 5);
	cr_assert_eq(sluice_ws_header_build(built, true, 0, SLUICE_WS_PING, NULL, 5), 2);
	cr_assert_arr_eq(built, ping, 2);

	expect_header(pong, 6, FROM_CLIENT, false, &h);
	cr_assert_eq(h.opcode, SLUICE_WS_PONG);
	cr_assert_eq(h.payload_len, 5);
	sluice_ws_mask(payload, pong + 6, 5, h.key, 0);
	cr_assert_arr_eq(payload, "Hello", 5);
}

Test(websocket, rfc_256_byte_binary)
{
	static const uint8_t header[] = {0x82, 0x7E, 0x01, 0x00};
	struct sluice_ws_header h;
	uint8_t built[SLUICE_WS_MAX_HEADER];

	expect_header(header, 4, FROM_SERVER, false, &h);
	cr_assert(h.fin);
	cr_assert_eq(h.opcode, SLUICE_WS_BINARY);
	cr_assert_eq(h.payload_len, 256);
	cr_assert_eq(sluice_ws_header_build(built, true, 0, SLUICE_WS_BINARY, NULL, 256), 4);
	cr_assert_arr_eq(built, header, 4);
}

Test(websocket, rfc_64k_binary)
{
	static const uint8_t header[] = {0x82, 0x7F, 0x00, 0x00, 0x00,
					 0x00, 0x00, 0x01, 0x00, 0x00};
	struct sluice_ws_header h;
	uint8_t built[SLUICE_WS_MAX_HEADER];

	expect_header(header, 10, FROM_SERVER, false, &h);
	cr_assert_eq(h.opcode, SLUICE_WS_BINARY);
	cr_assert_eq(h.payload_len, 65536);
	cr_assert_eq(sluice_ws_header_build(built, true, 0, SLUICE_WS_BINARY, NULL, 65536), 10);
	cr_assert_arr_eq(built, header, 10);
}

/* Truncation of each length form, unmasked and masked. */

Test(websocket, need_more_at_every_truncation_point)
{
	static const uint8_t key[4] = {0xa1, 0xb2, 0xc3, 0xd4};
	static const uint64_t lens[] = {5, 300, 70000};
	static const size_t sizes[] = {2, 4, 10};
	struct sluice_ws_header h;
	uint8_t buf[SLUICE_WS_MAX_HEADER];

	for (size_t i = 0; i < 3; i++) {
		size_t n = sluice_ws_header_build(buf, true, 0, SLUICE_WS_BINARY, NULL, lens[i]);
		cr_assert_eq(n, sizes[i]);
		expect_header(buf, n, FROM_SERVER, false, &h);
		cr_assert_eq(h.payload_len, lens[i]);

		n = sluice_ws_header_build(buf, true, 0, SLUICE_WS_BINARY, key, lens[i]);
		cr_assert_eq(n, sizes[i] + 4);
		expect_header(buf, n, FROM_CLIENT, false, &h);
		cr_assert_eq(h.payload_len, lens[i]);
		cr_assert_arr_eq(h.key, key, 4);
	}
}

/* Errors, each with its reason. */

Test(websocket, reserved_opcodes_are_bad_from_the_first_byte)
{
	for (uint8_t op = 0; op < 16; op++) {
		uint8_t frame[6] = {(uint8_t)(0x80 | op), 0x80, 1, 2, 3, 4};
		struct sluice_ws_header h;
		bool reserved = (op >= 3 && op <= 7) || op >= 11;

		if (reserved) {
			expect_bad_from(frame, 6, 1, FROM_CLIENT, false, SLUICE_WS_RESERVED_OPCODE);
			expect_bad_from(frame, 6, 1, FROM_CLIENT, true, SLUICE_WS_RESERVED_OPCODE);
		} else {
			expect_header(frame, 6, FROM_CLIENT, false, &h);
			cr_assert_eq(h.opcode, op);
		}
	}
}

Test(websocket, rsv2_and_rsv3_are_always_bad)
{
	static const uint8_t rsv[] = {
	    SLUICE_WS_RSV2, SLUICE_WS_RSV3, SLUICE_WS_RSV2 | SLUICE_WS_RSV3,
	    SLUICE_WS_RSV1 | SLUICE_WS_RSV2, SLUICE_WS_RSV1 | SLUICE_WS_RSV3};
	uint8_t frame[SLUICE_WS_MAX_HEADER];

	for (size_t i = 0; i < sizeof(rsv); i++) {
		size_t n = sluice_ws_header_build(frame, true, rsv[i], SLUICE_WS_TEXT, NULL, 3);
		expect_bad_from(frame, n, 1, FROM_SERVER, false, SLUICE_WS_RESERVED_BITS);
		expect_bad_from(frame, n, 1, FROM_SERVER, true, SLUICE_WS_RESERVED_BITS);
	}
}

Test(websocket, rsv1_needs_deflate_and_a_data_frame_opcode)
{
	uint8_t frame[SLUICE_WS_MAX_HEADER];
	struct sluice_ws_header h;
	size_t n;

	/* Not negotiated: bad on every opcode. */
	n = sluice_ws_header_build(frame, true, SLUICE_WS_RSV1, SLUICE_WS_TEXT, NULL, 3);
	expect_bad_from(frame, n, 1, FROM_SERVER, false, SLUICE_WS_RESERVED_BITS);
	n = sluice_ws_header_build(frame, true, SLUICE_WS_RSV1, SLUICE_WS_BINARY, NULL, 3);
	expect_bad_from(frame, n, 1, FROM_SERVER, false, SLUICE_WS_RESERVED_BITS);

	/* Negotiated: allowed where a message may start (TEXT, BINARY). */
	n = sluice_ws_header_build(frame, false, SLUICE_WS_RSV1, SLUICE_WS_TEXT, NULL, 3);
	expect_header(frame, n, FROM_SERVER, true, &h);
	cr_assert_eq(h.rsv, SLUICE_WS_RSV1);
	cr_assert_not(h.fin);
	n = sluice_ws_header_build(frame, true, SLUICE_WS_RSV1, SLUICE_WS_BINARY, NULL, 3);
	expect_header(frame, n, FROM_SERVER, true, &h);
	cr_assert_eq(h.rsv, SLUICE_WS_RSV1);

	/* Never on a continuation frame or a control frame (RFC 7692 6.1). */
	static const uint8_t never[] = {SLUICE_WS_CONTINUATION, SLUICE_WS_CLOSE, SLUICE_WS_PING,
					SLUICE_WS_PONG};
	for (size_t i = 0; i < sizeof(never); i++) {
		n = sluice_ws_header_build(frame, true, SLUICE_WS_RSV1, never[i], NULL, 3);
		expect_bad_from(frame, n, 1, FROM_SERVER, true, SLUICE_WS_RESERVED_BITS);
	}
}

Test(websocket, control_frame_over_125_bytes_is_bad)
{
	static const uint8_t ops[] = {SLUICE_WS_CLOSE, SLUICE_WS_PING, SLUICE_WS_PONG};
	uint8_t frame[SLUICE_WS_MAX_HEADER];
	struct sluice_ws_header h;

	for (size_t i = 0; i < 3; i++) {
		size_t n = sluice_ws_header_build(frame, true, 0, ops[i], NULL, 125);
		expect_header(frame, n, FROM_SERVER, false, &h);
		cr_assert_eq(h.payload_len, 125);

		/* 126 and 65536 are known from the second byte. */
		n = sluice_ws_header_build(frame, true, 0, ops[i], NULL, 126);
		expect_bad_from(frame, n, 2, FROM_SERVER, false, SLUICE_WS_CONTROL_TOO_LONG);
		n = sluice_ws_header_build(frame, true, 0, ops[i], NULL, 65536);
		expect_bad_from(frame, n, 2, FROM_SERVER, false, SLUICE_WS_CONTROL_TOO_LONG);
	}
}

Test(websocket, control_frame_with_fin_clear_is_bad)
{
	static const uint8_t ops[] = {SLUICE_WS_CLOSE, SLUICE_WS_PING, SLUICE_WS_PONG};
	static const uint8_t key[4] = {1, 2, 3, 4};
	uint8_t frame[SLUICE_WS_MAX_HEADER];

	for (size_t i = 0; i < 3; i++) {
		size_t n = sluice_ws_header_build(frame, false, 0, ops[i], key, 2);
		expect_bad_from(frame, n, 1, FROM_CLIENT, false, SLUICE_WS_CONTROL_FRAGMENTED);
	}
}

Test(websocket, unmasked_client_frame_is_bad)
{
	static const uint8_t frame[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};

	expect_bad_from(frame, sizeof(frame), 2, FROM_CLIENT, false, SLUICE_WS_UNMASKED_CLIENT);
}

Test(websocket, masked_server_frame_is_bad)
{
	static const uint8_t frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
					0x7f, 0x9f, 0x4d, 0x51, 0x58};

	expect_bad_from(frame, sizeof(frame), 2, FROM_SERVER, false, SLUICE_WS_MASKED_SERVER);
}

Test(websocket, length_with_top_bit_set_is_bad)
{
	static const uint8_t top[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t all[] = {0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
	uint8_t frame[SLUICE_WS_MAX_HEADER];
	struct sluice_ws_header h;
	size_t n;

	expect_bad_from(top, sizeof(top), 10, FROM_SERVER, false, SLUICE_WS_LENGTH_TOO_BIG);
	expect_bad_from(all, sizeof(all), 10, FROM_SERVER, false, SLUICE_WS_LENGTH_TOO_BIG);
	for (size_t i = 2; i < 10; i++)
		cr_assert_eq(parse_n(top, i, FROM_SERVER, false, &h, NULL), SLUICE_WS_NEED_MORE);

	/* The largest allowed length. */
	n = sluice_ws_header_build(frame, true, 0, SLUICE_WS_BINARY, NULL, INT64_MAX);
	expect_header(frame, n, FROM_SERVER, false, &h);
	cr_assert_eq(h.payload_len, (uint64_t)INT64_MAX);
}

Test(websocket, non_minimal_lengths_are_bad)
{
	static const uint8_t len16_125[] = {0x82, 0x7E, 0x00, 0x7D};
	static const uint8_t len16_0[] = {0x82, 0x7E, 0x00, 0x00};
	static const uint8_t len64_65535[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const uint8_t len64_0[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t len64_125[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7D};
	static const uint8_t len16_126[] = {0x82, 0x7E, 0x00, 0x7E};
	static const uint8_t len64_65536[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0, 0};
	static const uint8_t masked[] = {0x82, 0xFE, 0x00, 0x10, 1, 2, 3, 4};
	struct sluice_ws_header h;

	expect_bad(len16_125, 4, FROM_SERVER, false, SLUICE_WS_LENGTH_NOT_MINIMAL);
	expect_bad(len16_0, 4, FROM_SERVER, false, SLUICE_WS_LENGTH_NOT_MINIMAL);
	expect_bad(len64_65535, 10, FROM_SERVER, false, SLUICE_WS_LENGTH_NOT_MINIMAL);
	expect_bad(len64_0, 10, FROM_SERVER, false, SLUICE_WS_LENGTH_NOT_MINIMAL);
	expect_bad(len64_125, 10, FROM_SERVER, false, SLUICE_WS_LENGTH_NOT_MINIMAL);
	/* Known before the masking key arrives. */
	expect_bad_from(masked, sizeof(masked), 4, FROM_CLIENT, false,
			SLUICE_WS_LENGTH_NOT_MINIMAL);

	expect_header(len16_126, 4, FROM_SERVER, false, &h);
	cr_assert_eq(h.payload_len, 126);
	expect_header(len64_65536, 10, FROM_SERVER, false, &h);
	cr_assert_eq(h.payload_len, 65536);
}

Test(websocket, bad_header_keeps_the_fields_read_before_the_error)
{
	static const uint8_t frame[] = {0x89, 0x7E, 0x01, 0x00};
	struct sluice_ws_header h;
	enum sluice_ws_error why;

	cr_assert_eq(parse_n(frame, 4, FROM_SERVER, false, &h, &why), SLUICE_WS_BAD);
	cr_assert_eq(why, SLUICE_WS_CONTROL_TOO_LONG);
	cr_assert_eq(h.opcode, SLUICE_WS_PING);
	cr_assert(h.fin);
	cr_assert_eq(h.header_len, 0);
}

Test(websocket, error_names)
{
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_OK), "ok");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_RESERVED_OPCODE), "reserved_opcode");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_RESERVED_BITS), "reserved_bits");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_CONTROL_TOO_LONG), "control_too_long");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_CONTROL_FRAGMENTED), "control_fragmented");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_UNMASKED_CLIENT), "unmasked_client");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_MASKED_SERVER), "masked_server");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_LENGTH_TOO_BIG), "length_too_big");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_LENGTH_NOT_MINIMAL), "length_not_minimal");
	cr_assert_str_eq(sluice_ws_error_name(SLUICE_WS_ERROR_COUNT), "unknown");
	cr_assert_str_eq(sluice_ws_error_name((enum sluice_ws_error) - 1), "unknown");
	for (int a = 0; a < SLUICE_WS_ERROR_COUNT; a++) {
		const char *name = sluice_ws_error_name((enum sluice_ws_error)a);
		for (const char *c = name; *c; c++)
			cr_assert((*c >= 'a' && *c <= 'z') || *c == '_', "%s", name);
		for (int b = a + 1; b < SLUICE_WS_ERROR_COUNT; b++)
			cr_assert_str_neq(name, sluice_ws_error_name((enum sluice_ws_error)b));
	}
}

/* Build -> parse round trips at every length boundary. */

Test(websocket, build_parse_round_trip_at_length_boundaries)
{
	static const uint64_t lens[] = {
	    0, 1, 125, 126, 127, 65535, 65536, 65537, 0x100000000ull, 0x100000001ull, INT64_MAX,
	};
	static const uint8_t ops[] = {SLUICE_WS_CONTINUATION, SLUICE_WS_TEXT, SLUICE_WS_BINARY};
	static const uint8_t key[4] = {0x00, 0xff, 0x7f, 0x80};

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t want = lens[i] < 126 ? 2 : lens[i] <= 65535 ? 4 : 10;
		for (size_t o = 0; o < sizeof(ops); o++) {
			for (int m = 0; m < 2; m++) {
				for (int fin = 0; fin < 2; fin++) {
					uint8_t frame[SLUICE_WS_MAX_HEADER];
					struct sluice_ws_header h;
					size_t n = sluice_ws_header_build(frame, fin, 0, ops[o],
									  m ? key : NULL, lens[i]);
					cr_assert_eq(n, want + (m ? 4 : 0));
					expect_header(frame, n, m, false, &h);
					cr_assert_eq(h.payload_len, lens[i]);
					cr_assert_eq(h.opcode, ops[o]);
					cr_assert_eq(h.fin, fin);
					cr_assert_eq(h.masked, m);
					cr_assert_eq(h.rsv, 0);
					if (m)
						cr_assert_arr_eq(h.key, key, 4);
				}
			}
		}
	}
}

Test(websocket, build_parse_round_trip_of_control_frames_and_rsv1)
{
	static const uint8_t ops[] = {SLUICE_WS_CLOSE, SLUICE_WS_PING, SLUICE_WS_PONG};
	static const uint64_t lens[] = {0, 2, 125};
	uint8_t frame[SLUICE_WS_MAX_HEADER];
	struct sluice_ws_header h;

	for (size_t o = 0; o < 3; o++) {
		for (size_t l = 0; l < 3; l++) {
			size_t n = sluice_ws_header_build(frame, true, 0, ops[o], NULL, lens[l]);
			expect_header(frame, n, FROM_SERVER, true, &h);
			cr_assert_eq(h.opcode, ops[o]);
			cr_assert_eq(h.payload_len, lens[l]);
		}
	}
	for (size_t l = 0; l < 3; l++) {
		size_t n = sluice_ws_header_build(frame, true, SLUICE_WS_RSV1, SLUICE_WS_TEXT, NULL,
						  65536 + lens[l]);
		expect_header(frame, n, FROM_SERVER, true, &h);
		cr_assert_eq(h.rsv, SLUICE_WS_RSV1);
		cr_assert_eq(h.payload_len, 65536 + lens[l]);
	}
}

Test(websocket, build_top_bit_length_parses_as_too_big)
{
	uint8_t frame[SLUICE_WS_MAX_HEADER];
	size_t n = sluice_ws_header_build(frame, true, 0, SLUICE_WS_BINARY, NULL, 1ull << 63);

	cr_assert_eq(n, 10);
	expect_bad(frame, n, FROM_SERVER, false, SLUICE_WS_LENGTH_TOO_BIG);
}

/* Masking. */

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 37 + seed * 11 + (i >> 3));
}

Test(websocket, mask_matches_bytewise_reference_at_every_offset_and_alignment)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	static const uint64_t offsets[] = {0, 1, 2, 3, 4, 5, 6, 7, 1ull << 32, (1ull << 32) + 3};
	uint8_t src[160], got[160], want[160];

	fill_pattern(src, sizeof(src), 1);
	for (size_t o = 0; o < sizeof(offsets) / sizeof(offsets[0]); o++) {
		for (size_t start = 0; start < 9; start++) {
			for (size_t len = 0; start + len <= sizeof(src); len += 7) {
				mask_reference(want, src + start, len, key, offsets[o]);
				memset(got, 0xEE, sizeof(got));
				sluice_ws_mask(got + start, src + start, len, key, offsets[o]);
				cr_assert_arr_eq(got + start, want, len,
						 "offset %llu start %zu len %zu",
						 (unsigned long long)offsets[o], start, len);
				/* Nothing outside dst[0..len) is written. */
				for (size_t i = start + len; i < sizeof(got); i++)
					cr_assert_eq(got[i], 0xEE);
			}
		}
	}
}

Test(websocket, mask_piecewise_at_every_split_equals_mask_whole)
{
	static const uint8_t key[4] = {0x9a, 0x01, 0xfe, 0x42};
	uint8_t src[100], whole[100], pieces[100];

	fill_pattern(src, sizeof(src), 2);
	for (size_t len = 0; len <= sizeof(src); len++) {
		sluice_ws_mask(whole, src, len, key, 0);
		for (size_t a = 0; a <= len; a++) {
			/* Two pieces split at a. */
			sluice_ws_mask(pieces, src, a, key, 0);
			sluice_ws_mask(pieces + a, src + a, len - a, key, a);
			cr_assert_arr_eq(pieces, whole, len, "len %zu split %zu", len, a);
			/* Three pieces: [0, a), [a, b), [b, len) for a few b. */
			for (size_t b = a; b <= len; b += 5) {
				sluice_ws_mask(pieces, src, a, key, 0);
				sluice_ws_mask(pieces + a, src + a, b - a, key, a);
				sluice_ws_mask(pieces + b, src + b, len - b, key, b);
				cr_assert_arr_eq(pieces, whole, len, "len %zu at %zu, %zu", len, a,
						 b);
			}
		}
	}
}

Test(websocket, mask_in_place_and_twice_is_identity)
{
	static const uint8_t key[4] = {0xde, 0xad, 0xbe, 0xef};
	uint8_t orig[257], buf[257], copy[257];

	fill_pattern(orig, sizeof(orig), 3);
	for (uint64_t off = 0; off < 8; off++) {
		memcpy(buf, orig, sizeof(buf));
		sluice_ws_mask(copy, orig, sizeof(orig), key, off);
		sluice_ws_mask(buf, buf, sizeof(buf), key, off); /* dst == src */
		cr_assert_arr_eq(buf, copy, sizeof(buf));
		cr_assert_arr_neq(buf, orig, sizeof(buf));
		sluice_ws_mask(buf, buf, sizeof(buf), key, off);
		cr_assert_arr_eq(buf, orig, sizeof(buf), "offset %llu", (unsigned long long)off);
	}
}

/* Close payloads. */

static bool close_valid(const void *p, size_t len)
{
	uint8_t *exact = malloc(len ? len : 1);
	bool ok;

	cr_assert_not_null(exact);
	memcpy(exact, p, len);
	ok = sluice_ws_close_payload_valid(exact, len);
	free(exact);
	return ok;
}

static bool code_valid(unsigned code)
{
	uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	return close_valid(p, 2);
}

Test(websocket, close_payload_empty_is_valid_one_byte_is_not)
{
	cr_assert(close_valid("", 0));
	cr_assert_not(close_valid("\x03", 1));
	cr_assert_not(close_valid("\xe8", 1));
}

Test(websocket, close_codes_valid_on_the_wire)
{
	static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
					 1012, 1013, 1014, 3000, 3001, 3999, 4000, 4001, 4999};
	static const unsigned invalid[] = {0,	 1,    999,  1004, 1005, 1006, 1015, 1016,
					   1100, 2000, 2999, 5000, 5001, 9999, 65535};

	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		cr_assert(code_valid(valid[i]), "%u", valid[i]);
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		cr_assert_not(code_valid(invalid[i]), "%u", invalid[i]);
	/* Every code: the valid ones are exactly the three ranges. */
	for (unsigned c = 0; c <= 65535; c++) {
		bool want = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
			    (c >= 3000 && c <= 4999);
		cr_assert_eq(code_valid(c), want, "%u", c);
	}
}

Test(websocket, close_reason_must_be_utf8)
{
	cr_assert(close_valid("\x03\xe8"
			      "bye",
			      5));
	cr_assert(close_valid("\x03\xe9"
			      "再见",
			      8));
	cr_assert(close_valid("\x0f\xa0"
			      "😀 going away",
			      2 + strlen("😀 going away")));
	cr_assert_not(close_valid("\x03\xe8\xc3", 3));	       /* truncated */
	cr_assert_not(close_valid("\x03\xe8\xed\xa0\x80", 5)); /* surrogate */
	cr_assert_not(close_valid("\x03\xe8\xc0\x80", 4));     /* overlong */
	cr_assert_not(close_valid("\x03\xe8"
				  "ok\xff",
				  5));
	/* A good reason does not save a bad code. */
	cr_assert_not(close_valid("\x03\xed"
				  "abnormal",
				  10));
}
