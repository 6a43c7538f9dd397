/* libFuzzer harness: the folding table a pack carries (fold_table.h) and the
 * normaliser that uses it (normalize.h).
 *
 * Feeds (the first byte picks):
 * - even: the rest as a serialized table, straight to
 *   sluice_fold_table_parse(), as a crafted pack would bring it;
 * - odd: mapping records (a 3-byte code point, a length, that many bytes,
 *   repaired to UTF-8) built into a table with sluice_fold_table_set(),
 *   compacted, serialized and parsed back; then one byte of the serialized
 *   form changed (offset and value from the input) and parsed again; the
 *   input's last bytes, repaired to UTF-8, are the message.
 *
 * Oracle (each violation calls abort()):
 * - a built table always parses back, with the same mapping for every code
 *   point the records named;
 * - whatever table is accepted, normalising the message gives valid UTF-8 of
 *   at most SLUICE_FOLD_MAX_GROWTH times its length, every normalised byte
 *   maps to the start of a character of the message, in order, and a span
 *   maps back to whole characters containing every one behind it;
 * - a refused table is left empty.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fold_table.h"
#include "normalize.h"
#include "utf8.h"

#define MAX_MSG 512

static void check_normalize(const struct sluice_fold_table *t, const uint8_t *msg, uint32_t len)
{
	static uint8_t out[MAX_MSG * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	static uint32_t src[MAX_MSG * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	struct sluice_norm_view v;
	sluice_normalize(t, msg, len, out, src, &v);
	if (v.len > len * SLUICE_FOLD_MAX_GROWTH || !sluice_utf8_valid(v.text, v.len))
		abort();
	if (v.identity || v.len == 0)
		return;
	for (uint32_t j = 0; j < v.len; j++)
		if (src[j] >= len || (msg[src[j]] & 0xc0) == 0x80 || (j > 0 && src[j] < src[j - 1]))
			abort();
	uint32_t from = v.len / 3, to = v.len - v.len / 4;
	if (to <= from)
		return;
	uint32_t a = from, b = to;
	sluice_norm_span(&v, src, msg, &a, &b);
	if (a >= b || b > len || (msg[a] & 0xc0) == 0x80 || (b < len && (msg[b] & 0xc0) == 0x80))
		abort();
	for (uint32_t j = from; j < to; j++)
		if (src[j] < a || src[j] >= b)
			abort();
}

static void parse_and_check(const uint8_t *blob, size_t len, const uint8_t *msg, uint32_t mlen)
{
	struct sluice_fold_table t;
	char err[256];
	if (sluice_fold_table_parse(&t, blob, len, err, sizeof(err)) != 0) {
		if (t.slot != NULL || t.entry != NULL || t.bytes != NULL)
			abort();
		return;
	}
	check_normalize(&t, msg, mlen);
	sluice_fold_table_free(&t);
}

/* The message: the input's last bytes, made valid UTF-8. */
static uint32_t message(const uint8_t *data, size_t size, uint8_t *msg)
{
	uint32_t n = size < 64 ? (uint32_t)size : 64;
	memcpy(msg, data + size - n, n);
	sluice_utf8_repair(msg, n);
	return n;
}

static void built(const uint8_t *data, size_t size)
{
	struct sluice_fold_table t, back;
	char err[256];
	uint8_t msg[MAX_MSG];
	uint32_t mlen = message(data, size, msg);
	if (sluice_fold_table_init(&t) != 0)
		return;
	size_t i = 0;
	uint32_t cps[64], ncp = 0;
	while (i + 4 <= size && ncp < 64) {
		uint32_t cp = ((uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2]) %
			      SLUICE_FOLD_CODE_POINTS;
		uint8_t len = data[i + 3] % 13;
		i += 4;
		if (i + len > size)
			break;
		uint8_t rep[16];
		memcpy(rep, data + i, len);
		i += len;
		sluice_utf8_repair(rep, len);
		if (cp >= 0x80 && sluice_fold_table_set(&t, cp, rep, len) == 0)
			cps[ncp++] = cp;
	}
	uint8_t *blob;
	size_t blen;
	if (sluice_fold_table_compact(&t) != 0 ||
	    sluice_fold_table_serialize(&t, &blob, &blen) != 0) {
		sluice_fold_table_free(&t);
		return;
	}
	if (sluice_fold_table_parse(&back, blob, blen, err, sizeof(err)) != 0)
		abort();
	for (uint32_t k = 0; k < ncp; k++) {
		uint32_t a = sluice_fold_entry_of(&t, cps[k]),
			 b = sluice_fold_entry_of(&back, cps[k]);
		if (t.entry[a].len != back.entry[b].len ||
		    memcmp(t.bytes + t.entry[a].off, back.bytes + back.entry[b].off,
			   t.entry[a].len))
			abort();
	}
	check_normalize(&back, msg, mlen);
	sluice_fold_table_free(&back);
	/* One byte changed where the input says. */
	if (size >= 3) {
		size_t at = ((size_t)data[size - 1] << 8 | data[size - 2]) * 7 % blen;
		blob[at] ^= data[size - 3] | 1;
		parse_and_check(blob, blen, msg, mlen);
	}
	free(blob);
	sluice_fold_table_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		built(data + 1, size - 1);
	} else {
		uint8_t msg[MAX_MSG];
		uint32_t mlen = message(data + 1, size - 1, msg);
		parse_and_check(data + 1, size - 1, msg, mlen);
	}
	return 0;
}
