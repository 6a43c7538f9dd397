/* libFuzzer harness: UTF-8 validation, repair and widening (dataplane/utf8.h).
 *
 * Feeds: the whole input as message text.
 *
 * Oracle (each violation calls abort(), which libFuzzer reports as a crash):
 * - sluice_utf8_valid() agrees with a reference decoder written here from
 *   RFC 3629 (decode each sequence to its code point, then refuse overlong
 *   forms, surrogates and anything above U+10FFFF), which shares no code and
 *   no tables with the one under test;
 * - sluice_utf8_repair() gives text of the same length that the reference
 *   accepts, leaves valid input byte for byte as it was (and reports 0), and
 *   otherwise replaces exactly the bytes the reference finds in no valid
 *   sequence with '?', reporting how many;
 * - sluice_utf8_widen() of valid text moves a span's ends outwards only, onto
 *   code-point boundaries, and no further than the code points they were in;
 * - sluice_fold_checked() (the fold that validates as it reads, for batches
 *   by reference), each way this CPU runs (SSE2, and AVX2 where it has it),
 *   accepts exactly what the reference accepts, and folds valid text as
 *   sluice_fold_unicode() does, with a small table that folds 2-, 3- and
 *   4-byte characters;
 * - sluice_batch_add_checked() (the copy that validates as it copies), each
 *   way this CPU runs, accepts exactly the same, adds nothing when it
 *   refuses, and copies valid text byte for byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "../support/checked_folds.h"
#include "fold_table.h"
#include "normalize.h"
#include "utf8.h"

/* Length of the well-formed sequence at s[0..rem), or 0. Written as a decoder
 * (value first, limits after) rather than as byte ranges, so that it fails
 * differently from the code under test if either is wrong. */
static size_t ref_sequence(const uint8_t *s, size_t rem)
{
	uint32_t cp;
	size_t need;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xE0) == 0xC0) {
		cp = s[0] & 0x1F;
		need = 2;
	} else if ((s[0] & 0xF0) == 0xE0) {
		cp = s[0] & 0x0F;
		need = 3;
	} else if ((s[0] & 0xF8) == 0xF0) {
		cp = s[0] & 0x07;
		need = 4;
	} else {
		return 0; /* a continuation byte, or a lead of 5 or more bytes */
	}
	if (rem < need)
		return 0;
	for (size_t k = 1; k < need; k++) {
		if ((s[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3F);
	}
	static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min_for_len[need])
		return 0; /* overlong */
	if (cp >= 0xD800 && cp <= 0xDFFF)
		return 0; /* UTF-16 surrogate */
	if (cp > 0x10FFFF)
		return 0;
	return need;
}

static bool ref_valid(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = ref_sequence(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Continuation bytes never start a sequence, so the well-formed sequences of a
 * text are found by one walk from the left; every other byte becomes '?'. */
static size_t ref_repair(uint8_t *s, size_t len)
{
	size_t replaced = 0;
	for (size_t i = 0; i < len;) {
		size_t n = ref_sequence(s + i, len - i);
		if (n == 0) {
			s[i++] = '?';
			replaced++;
		} else {
			i += n;
		}
	}
	return replaced;
}

static bool boundary(const uint8_t *s, size_t len, size_t off)
{
	return off == 0 || off >= len || (s[off] & 0xC0) != 0x80;
}

static void check_widen(const uint8_t *s, size_t len, uint32_t from, uint32_t to)
{
	uint32_t f = from, t = to;
	sluice_utf8_widen(s, len, &f, &t);
	if (f > from || t < to)
		abort(); /* moved inwards */
	if (from <= len && !boundary(s, len, f))
		abort();
	if (to <= len && !boundary(s, len, t))
		abort();
	/* Only continuation bytes were stepped over: no whole code point added. */
	for (uint32_t k = f + 1; k <= from && k < len; k++)
		if ((s[k] & 0xC0) != 0x80)
			abort();
	for (uint32_t k = to; k < t; k++)
		if (k >= len || (s[k] & 0xC0) != 0x80)
			abort();
}

static const struct sluice_fold_table *small_table(void)
{
	static struct sluice_fold_table t;
	static bool made;
	static const struct {
		uint32_t cp;
		const char *to;
	} map[] = {
	    {0xe9, "e"},   {0xff21, "a"},   {0x865f, "\xe5\x8f\xb7"}, {0x200b, ""}, {0x1f600, ":)"},
	    {0x2460, "1"}, {0x10ffff, "x"}, {0xd7a3, "\xea\xb0\x80"}, {0x0a00, "i"}};
	if (!made) {
		if (sluice_fold_table_init(&t) != 0)
			abort();
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (sluice_fold_table_set(&t, map[i].cp, (const uint8_t *)map[i].to,
						  (uint32_t)strlen(map[i].to)) != 0)
				abort();
		made = true;
	}
	return &t;
}

static void check_fold(const uint8_t *data, size_t size, bool valid)
{
	if (size > UINT16_MAX)
		return;
	uint8_t *text = malloc(size ? size : 1);
	uint8_t *out = malloc(size * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK);
	uint8_t *want = malloc(size * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK);
	if (text == NULL || out == NULL || want == NULL)
		abort();
	memcpy(text, data, size);
	const struct sluice_fold_table *t = small_table();
	struct sluice_norm_view v, w;
	bool ascii;
	if (valid)
		sluice_fold_unicode(t, text, (uint32_t)size, want, &w);
	for (unsigned k = 0; k < ts_checked_fold_count(); k++) {
		if (ts_checked_folds[k].fold(t, text, (uint32_t)size, out, &v, &ascii) != valid)
			abort();
		if (valid && (ascii != sluice_ascii_only(text, size) || v.len != w.len ||
			      v.identity != w.identity || v.folded != w.folded ||
			      memcmp(v.text, w.text, v.len) != 0 ||
			      (v.identity && memcmp(out, text, size) != 0)))
			abort();
	}
	free(text);
	free(out);
	free(want);
}

static void check_copy(const uint8_t *data, size_t size, bool valid)
{
	static struct sluice_batch batch;
	if (batch.cap == 0 && sluice_batch_init(&batch, 4, 1u << 17, &sluice_libc_allocator) != 0)
		abort();
	uint8_t *text = malloc(size ? size : 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	/* Both ways the CPU allows give the same answer (the check below is
	 * then made on the one it chooses). */
	sluice_batch_reset(&batch);
	int32_t sse2 = sluice_batch_add_checked_sse2(&batch, (const char *)text, size);
	if (sluice_utf8_avx2_usable()) {
		sluice_batch_reset(&batch);
		if (sluice_batch_add_checked_avx2(&batch, (const char *)text, size) != sse2)
			abort();
	}
	sluice_batch_reset(&batch);
	int32_t k = sluice_batch_add_checked(&batch, (const char *)text, size);
	if (!sluice_batch_fits(&batch, size) && batch.count == 0) {
		if (k != -1)
			abort(); /* too long for the batch: refused as such */
	} else if (!valid) {
		if (k != SLUICE_BATCH_INVALID || batch.count != 0)
			abort();
	} else if (k != 0 || batch.len[0] != size || memcmp(batch.buf, data, size) != 0 ||
		   batch.ascii[0] != sluice_ascii_only(data, size)) {
		abort();
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so ASan sees any read past the end. */
	uint8_t *text = malloc(size ? size : 1);
	uint8_t *want = malloc(size ? size : 1);
	if (text == NULL || want == NULL)
		abort();
	memcpy(text, data, size);
	memcpy(want, data, size);

	bool valid = ref_valid(data, size);
	if (sluice_utf8_valid(text, size) != valid)
		abort();
	check_fold(data, size, valid);
	check_copy(data, size, valid);

	size_t replaced = sluice_utf8_repair(text, size);
	size_t want_replaced = ref_repair(want, size);
	if (replaced != want_replaced || memcmp(text, want, size) != 0)
		abort();
	if (!ref_valid(text, size) || !sluice_utf8_valid(text, size))
		abort();
	if (valid && (replaced != 0 || memcmp(text, data, size) != 0))
		abort();

	/* Spans picked from the input's own bytes, over the repaired (valid) text,
	 * as the mask code uses it. */
	if (size >= 2) {
		uint32_t a = (uint32_t)(data[0] * 256u + data[size - 1]) % (uint32_t)(size + 1);
		uint32_t b = (uint32_t)(data[1] * 131u + data[size / 2]) % (uint32_t)(size + 1);
		check_widen(text, size, a < b ? a : b, a < b ? b : a);
	}
	free(text);
	free(want);
	return 0;
}
