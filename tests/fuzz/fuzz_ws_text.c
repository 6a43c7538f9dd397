/* libFuzzer harness: the WebSocket text decoders on bytes as they come off a
 * stream: the HTTP upgrade heads (http_upgrade.h), WebSocket frame headers
 * and masking (websocket.h), and JSON member extraction and masking
 * (json_text.h).
 *
 * Feeds: the first byte picks the decoder and its options, the rest is the
 * input.
 *
 * Oracle (each violation calls abort()):
 * - a request head rewritten by stripping keeps its length and every byte
 *   outside the renamed header names, and parses again with no offer left;
 * - a frame header that parses has a length within the bytes it claims, and
 *   masking twice at any phase gives the input back;
 * - JSON that extracts as values stays valid after masking every decoded byte
 *   (same length, same number of values), and the decoded text is UTF-8.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_upgrade.h"
#include "json_text.h"
#include "utf8.h"
#include "websocket.h"

#define CAP 8192

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void fuzz_request(const uint8_t *in, size_t len)
{
	static uint8_t buf[CAP], before[CAP];
	memcpy(buf, in, len);
	memcpy(before, in, len);
	struct sluice_ws_request req;
	if (sluice_ws_request_parse(buf, len, CAP, true, &req) != SLUICE_HTTP_HEAD)
		return;
	check(req.head_len <= len);
	if (req.extensions_stripped) {
		struct sluice_ws_request again;
		check(sluice_ws_request_parse(buf, len, CAP, false, &again) == SLUICE_HTTP_HEAD);
		check(!again.deflate_offered && again.head_len == req.head_len);
	} else {
		check(memcmp(buf, before, len) == 0);
	}
	struct sluice_ws_response resp;
	(void)sluice_ws_response_parse(in, len, CAP, &resp);
}

static void fuzz_frame(const uint8_t *in, size_t len, uint8_t opt)
{
	struct sluice_ws_header h;
	enum sluice_ws_error e;
	if (sluice_ws_header_parse(in, len, opt & 1, opt & 2, &h, &e) == SLUICE_WS_HEADER)
		check(h.header_len >= 2 && h.header_len <= SLUICE_WS_MAX_HEADER &&
		      h.header_len <= len);
	static uint8_t a[CAP];
	const uint8_t key[4] = {in[0], len > 1 ? in[1] : 0, 0x5a, 0xa5};
	uint64_t phase = opt >> 2;
	sluice_ws_mask(a, in, len, key, phase);
	sluice_ws_mask(a, a, len, key, phase);
	check(memcmp(a, in, len) == 0);
}

static void fuzz_json(const uint8_t *in, size_t len, uint8_t opt)
{
	static uint8_t text[CAP], json[CAP];
	static uint32_t raw_at[CAP];
	struct sluice_json_members m = {0};
	check(sluice_json_members_parse(&m, (opt & 1) ? "text,content" : "text", NULL, 0) == 0);
	if (!sluice_utf8_valid(in, len))
		return;
	struct sluice_json_text t = {.text = text, .raw_at = raw_at, .cap = CAP};
	if (sluice_json_extract(in, (uint32_t)len, &m, &t) != SLUICE_JSON_VALUES)
		return;
	check(t.len <= CAP && sluice_utf8_valid(text, t.len));
	uint32_t values = t.values;
	memcpy(json, in, len);
	sluice_json_mask(json, (uint32_t)len, &t, 0, t.len);
	struct sluice_json_text t2 = {.text = text, .raw_at = raw_at, .cap = CAP};
	check(sluice_json_extract(json, (uint32_t)len, &m, &t2) == SLUICE_JSON_VALUES);
	check(t2.values == values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > CAP + 1)
		return 0;
	uint8_t sel = data[0];
	data++;
	size--;
	switch (sel % 3) {
	case 0:
		fuzz_request(data, size);
		break;
	case 1:
		fuzz_frame(data, size, sel >> 2);
		break;
	default:
		fuzz_json(data, size, sel >> 2);
		break;
	}
	return 0;
}
