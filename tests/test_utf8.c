/* UTF-8 validation, repair and widening to code points (dataplane/utf8.h),
 * and the validators that must accept exactly what it does: the AVX2 gate and
 * the block check inside the fold (utf8_blocks.h). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "utf8.h"
#include "utf8_blocks.h"

/* Validates s[0..len) from a buffer of exactly that size, so that a read past
 * the end is reported by ASan. */
static bool valid_n(const void *s, size_t len)
{
	uint8_t *exact = malloc(len ? len : 1);
	bool ok;

	cr_assert_not_null(exact);
	memcpy(exact, s, len);
	ok = sluice_utf8_valid(exact, len);
	free(exact);
	return ok;
}

static bool valid(const char *s)
{
	return valid_n(s, strlen(s));
}

/* Repairs a copy of s[0..len); checks the result against want and its count. */
static void expect_repair(const void *s, size_t len, const char *want, size_t want_count)
{
	uint8_t *buf = malloc(len ? len : 1);

	cr_assert_not_null(buf);
	memcpy(buf, s, len);
	cr_assert_eq(sluice_utf8_repair(buf, len), want_count);
	cr_assert_eq(strlen(want), len);
	cr_assert_arr_eq(buf, want, len);
	cr_assert(sluice_utf8_valid(buf, len));
	free(buf);
}

Test(utf8, empty_text_is_valid)
{
	cr_assert(valid_n("", 0));
}

Test(utf8, ascii_is_valid)
{
	cr_assert(valid("a"));
	cr_assert(valid("hello"));
	cr_assert(valid("exactly8"));
	cr_assert(valid("a longer ASCII text of more than sixteen bytes, \x01\x7f too"));
}

Test(utf8, chinese_is_valid)
{
	cr_assert(valid("电话 13812345678"));
	cr_assert(valid("数字藏品二级市场"));
}

Test(utf8, emoji_is_valid)
{
	cr_assert(valid("😀"));
	cr_assert(valid("ok 👍🏽 ok 🇨🇳"));
}

Test(utf8, boundary_code_points_are_valid)
{
	cr_assert(valid_n("\x7f", 1));		   /* U+007F */
	cr_assert(valid_n("\xc2\x80", 2));	   /* U+0080 */
	cr_assert(valid_n("\xdf\xbf", 2));	   /* U+07FF */
	cr_assert(valid_n("\xe0\xa0\x80", 3));	   /* U+0800 */
	cr_assert(valid_n("\xed\x9f\xbf", 3));	   /* U+D7FF */
	cr_assert(valid_n("\xee\x80\x80", 3));	   /* U+E000 */
	cr_assert(valid_n("\xef\xbf\xbf", 3));	   /* U+FFFF */
	cr_assert(valid_n("\xf0\x90\x80\x80", 4)); /* U+10000 */
	cr_assert(valid_n("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
}

Test(utf8, multibyte_chars_are_valid_at_every_alignment)
{
	static const char *chars[] = {"\xc3\xa9", "中", "😀"};

	for (size_t c = 0; c < 3; c++) {
		for (size_t pre = 0; pre < 20; pre++) {
			char buf[64];
			memset(buf, 'a', pre);
			strcpy(buf + pre, chars[c]);
			strcat(buf, "tail-of-ascii");
			cr_assert(valid(buf), "char %zu after %zu bytes", c, pre);
		}
	}
}

Test(utf8, lone_continuation_byte_is_invalid)
{
	cr_assert_not(valid_n("\x80", 1));
	cr_assert_not(valid_n("\xbf", 1));
	cr_assert_not(valid_n("a\x80z", 3));
	cr_assert_not(valid_n("中\xad", 4)); /* one continuation too many */
}

Test(utf8, overlong_forms_are_invalid)
{
	cr_assert_not(valid_n("\xc0\x80", 2));	       /* 2-byte NUL */
	cr_assert_not(valid_n("\xc1\xbf", 2));	       /* 2-byte U+007F */
	cr_assert_not(valid_n("\xe0\x80\x80", 3));     /* 3-byte NUL */
	cr_assert_not(valid_n("\xe0\x9f\xbf", 3));     /* 3-byte U+07FF */
	cr_assert_not(valid_n("\xf0\x80\x80\x80", 4)); /* 4-byte NUL */
	cr_assert_not(valid_n("\xf0\x8f\xbf\xbf", 4)); /* 4-byte U+FFFF */
}

Test(utf8, surrogates_are_invalid)
{
	cr_assert_not(valid_n("\xed\xa0\x80", 3));	       /* U+D800 */
	cr_assert_not(valid_n("\xed\xaf\xbf", 3));	       /* U+DBFF */
	cr_assert_not(valid_n("\xed\xb0\x80", 3));	       /* U+DC00 */
	cr_assert_not(valid_n("\xed\xbf\xbf", 3));	       /* U+DFFF */
	cr_assert_not(valid_n("\xed\xa0\xbd\xed\xb8\x80", 6)); /* CESU-8 pair */
}

Test(utf8, beyond_u10ffff_is_invalid)
{
	cr_assert_not(valid_n("\xf4\x90\x80\x80", 4)); /* U+110000 */
	cr_assert_not(valid_n("\xf4\xbf\xbf\xbf", 4));
	for (unsigned lead = 0xf5; lead <= 0xff; lead++) {
		uint8_t s[4] = {(uint8_t)lead, 0x80, 0x80, 0x80};
		cr_assert_not(valid_n(s, 4), "lead 0x%02x", lead);
		cr_assert_not(valid_n(s, 1), "lead 0x%02x alone", lead);
	}
}

Test(utf8, truncated_sequences_at_end_are_invalid)
{
	cr_assert_not(valid_n("\xc3", 1));
	cr_assert_not(valid_n("ab\xe4\xb8", 4));
	cr_assert_not(valid_n("ab\xe4", 3));
	cr_assert_not(valid_n("\xf0\x9f\x98", 3));
	cr_assert_not(valid_n("\xf0\x9f", 2));
	cr_assert_not(valid_n("\xf0", 1));
	cr_assert_not(valid_n("abcdefgh\xf0\x9f\x98", 11));
}

Test(utf8, truncated_sequences_before_ascii_are_invalid)
{
	cr_assert_not(valid_n("\xc3"
			      "A",
			      2));
	cr_assert_not(valid_n("\xe4\xb8"
			      "A",
			      3));
	cr_assert_not(valid_n("\xe4"
			      "AB",
			      3));
	cr_assert_not(valid_n("\xf0\x9f\x98"
			      "A",
			      4));
	cr_assert_not(valid_n("\xf0\x9f"
			      "AB",
			      4));
	cr_assert_not(valid_n("\xe4\xb8"
			      "abcdefghijklmnop",
			      18));
}

Test(utf8, invalid_byte_after_eight_byte_ascii_run_is_invalid)
{
	cr_assert_not(valid_n("abcdefgh\x80", 9));
	cr_assert_not(valid_n("abcdefghijklmnop\xc0\x80", 18));
	cr_assert_not(valid_n("abcdefgh\xed\xa0\x80"
			      "abcdefgh",
			      19));
	cr_assert_not(valid_n("abcdefgh"
			      "abc\xff"
			      "defg",
			      16));
	cr_assert_not(valid_n("abcdefgh"
			      "abcdefg\xf4\x90\x80\x80",
			      19));
}

Test(utf8, any_bad_byte_at_any_position_of_ascii_is_invalid)
{
	static const uint8_t bad[] = {0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff};

	for (size_t b = 0; b < sizeof(bad); b++) {
		for (size_t pos = 0; pos < 40; pos++) {
			uint8_t s[40];
			memset(s, 'a', sizeof(s));
			s[pos] = bad[b];
			cr_assert_not(valid_n(s, sizeof(s)), "0x%02x at %zu", bad[b], pos);
		}
	}
}

Test(utf8, valid_text_is_not_repaired)
{
	expect_repair("电话 13812345678 😀", strlen("电话 13812345678 😀"), "电话 13812345678 😀", 0);
}

Test(utf8, repair_replaces_lone_continuation)
{
	expect_repair("a\x80z", 3, "a?z", 1);
	expect_repair("中\xad文", 7, "中?文", 1);
}

Test(utf8, repair_replaces_each_byte_of_overlong_forms)
{
	expect_repair("\xc0\x80", 2, "??", 2);
	expect_repair("x\xe0\x80\x80y", 5, "x???y", 3);
	expect_repair("\xf0\x80\x80\x80", 4, "????", 4);
}

Test(utf8, repair_replaces_surrogates_and_beyond_u10ffff)
{
	expect_repair("\xed\xa0\x80", 3, "???", 3);
	expect_repair("\xf4\x90\x80\x80"
		      "ok",
		      6, "????ok", 4);
	expect_repair("\xf5"
		      "a\xff",
		      3, "?a?", 2);
}

Test(utf8, repair_replaces_truncated_sequences)
{
	expect_repair("ab\xe4\xb8", 4, "ab??", 2);
	expect_repair("\xe4\xb8"
		      "A",
		      3, "??A", 2);
	expect_repair("\xf0\x9f\x98", 3, "???", 3);
	expect_repair("\xc3", 1, "?", 1);
}

Test(utf8, repair_keeps_a_valid_sequence_after_a_bad_lead)
{
	/* The stray lead is replaced; the whole character after it survives. */
	expect_repair("\xe4"
		      "中",
		      4, "?中", 1);
	expect_repair("\xf0"
		      "😀x",
		      6, "?😀x", 1);
}

Test(utf8, repair_after_ascii_runs)
{
	expect_repair("abcdefgh\x80"
		      "abcdefgh\xff",
		      18, "abcdefgh?abcdefgh?", 2);
}

Test(utf8, widen_moves_start_inside_three_byte_char_back)
{
	/* "a中b😀c": a 0, 中 1..4, b 4, 😀 5..9, c 9. */
	const uint8_t *s = (const uint8_t *)"a中b😀c";
	uint32_t from, to;

	from = 2, to = 4;
	sluice_utf8_widen(s, 10, &from, &to);
	cr_assert_eq(from, 1);
	cr_assert_eq(to, 4);
	from = 3, to = 4;
	sluice_utf8_widen(s, 10, &from, &to);
	cr_assert_eq(from, 1);
	cr_assert_eq(to, 4);
}

Test(utf8, widen_moves_end_inside_four_byte_char_forward)
{
	const uint8_t *s = (const uint8_t *)"a中b😀c";
	uint32_t from, to;

	for (uint32_t end = 6; end <= 8; end++) {
		from = 4, to = end;
		sluice_utf8_widen(s, 10, &from, &to);
		cr_assert_eq(from, 4);
		cr_assert_eq(to, 9, "end %u", end);
	}
}

Test(utf8, widen_moves_both_edges)
{
	const uint8_t *s = (const uint8_t *)"a中b😀c";
	uint32_t from = 2, to = 7;

	sluice_utf8_widen(s, 10, &from, &to);
	cr_assert_eq(from, 1);
	cr_assert_eq(to, 9);
}

Test(utf8, widen_keeps_spans_on_boundaries)
{
	const uint8_t *s = (const uint8_t *)"a中b😀c";
	static const uint32_t spans[][2] = {{0, 1}, {1, 4}, {4, 5}, {5, 9}, {0, 10}, {9, 10}};

	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		uint32_t from = spans[i][0], to = spans[i][1];
		sluice_utf8_widen(s, 10, &from, &to);
		cr_assert_eq(from, spans[i][0]);
		cr_assert_eq(to, spans[i][1]);
	}
}

Test(utf8, widen_at_text_end_stays_in_bounds)
{
	/* The 4-byte character ends the text: the end stops at len. */
	const uint8_t *s = (const uint8_t *)"ab😀";
	uint32_t from = 3, to = 5;

	sluice_utf8_widen(s, 6, &from, &to);
	cr_assert_eq(from, 2);
	cr_assert_eq(to, 6);
}

Test(utf8, ascii_only_sees_a_high_byte_anywhere_at_every_length)
{
	for (size_t len = 0; len <= 70; len++) {
		uint8_t *exact = malloc(len ? len : 1);
		cr_assert_not_null(exact);
		memset(exact, 'a', len);
		cr_assert(sluice_ascii_only(exact, len), "%zu ASCII bytes", len);
		for (size_t at = 0; at < len; at++) {
			exact[at] = 0x80;
			cr_assert(!sluice_ascii_only(exact, len), "0x80 at %zu of %zu", at, len);
			exact[at] = 'a';
		}
		free(exact);
	}
}

/* The packet path learns "all ASCII" from the gate: a two-byte character
 * anywhere, at every length across the validator's 32-byte blocks and its
 * tail, makes it false; its absence true; invalid text leaves it unset. */
Test(utf8, valid_ascii_reports_a_character_anywhere)
{
	uint8_t buf[100];
	for (size_t len = 0; len <= 96; len++) {
		memset(buf, 'a', sizeof(buf));
		bool ascii = false;
		cr_assert(sluice_utf8_valid_ascii(buf, len, &ascii));
		cr_assert(ascii, "%zu ASCII bytes", len);
		for (size_t at = 0; at + 2 <= len; at++) {
			memset(buf, 'a', sizeof(buf));
			memcpy(buf + at, "\xc3\xa9", 2); /* é */
			ascii = true;
			cr_assert(sluice_utf8_valid_ascii(buf, len, &ascii));
			cr_assert(!ascii, "é at %zu of %zu", at, len);
		}
	}
	bool untouched = true;
	cr_assert_not(sluice_utf8_valid_ascii((const uint8_t *)"ok\xff", 3, &untouched));
	cr_assert(untouched);
}

/* ---- the AVX2 validator and the block check against the scalar one ---- */

/* One block of the check, SSE2 or AVX2. */
static bool block_sse2(struct sluice_utf8_blocks *check, const uint8_t *p, uint32_t left,
		       uint32_t *leads)
{
	return sluice_utf8_blocks_next(check, _mm_loadu_si128((const __m128i *)p),
				       _mm_loadu_si128((const __m128i *)(p + 16)), left, leads);
}

static SLUICE_TARGET_AVX2 bool block_avx2(struct sluice_utf8_blocks *check, const uint8_t *p,
					  uint32_t left, uint32_t *leads)
{
	return sluice_utf8_blocks_next256(check, _mm256_loadu_si256((const __m256i *)p), left,
					  leads);
}

/* The block check as the fold drives it, 32 bytes at a time, from a copy
 * whose bytes past the text are never valid (80 and FF): it must ignore them.
 * Each accepted block's leads must be exactly its bytes C0..FF. */
static bool blocks_valid(bool (*block)(struct sluice_utf8_blocks *, const uint8_t *, uint32_t,
				       uint32_t *),
			 const uint8_t *s, size_t len, bool *ascii)
{
	uint8_t *padded = malloc(len + 32);
	cr_assert_not_null(padded);
	memcpy(padded, s, len);
	for (size_t i = 0; i < 32; i++)
		padded[len + i] = i % 2 ? 0xff : 0x80;
	struct sluice_utf8_blocks check = {0};
	bool ok = true;
	for (size_t i = 0; i < len && ok; i += 32) {
		uint32_t leads, want = 0;
		ok = block(&check, padded + i, (uint32_t)(len - i), &leads);
		for (size_t k = 0; k < 32 && i + k < len; k++)
			want |= (uint32_t)(padded[i + k] >= 0xc0) << k;
		if (ok && leads != want)
			cr_assert_fail("block at %zu of %zu: leads %08x, want %08x", i, len, leads,
				       want);
	}
	*ascii = check.high == 0;
	free(padded);
	return ok;
}

static void disagree(const char *what, bool scalar, bool other, const uint8_t *s, size_t len)
{
	char hex[3 * 80 + 1] = "";
	for (size_t i = 0; i < len && i < 80; i++)
		snprintf(hex + 3 * i, 4, "%02x ", s[i]);
	cr_assert_fail("scalar says %s, %s %s, on %zu bytes: %s", scalar ? "valid" : "invalid",
		       what, other ? "valid" : "invalid", len, hex);
}

/* The validators on s[0..len), from a buffer of exactly that size (a read
 * past the end is ASan's to report); they must agree, and on whether valid
 * text is all ASCII. */
static void expect_agree(const uint8_t *s, size_t len)
{
	uint8_t *exact = malloc(len ? len : 1);

	cr_assert_not_null(exact);
	memcpy(exact, s, len);
	bool scalar = sluice_utf8_valid_scalar(exact, len);
	bool all_ascii = sluice_ascii_only(exact, len);
	if (sluice_utf8_avx2_usable()) {
		bool ascii = false, avx2 = sluice_utf8_valid_avx2(exact, len, &ascii);
		if (avx2 && ascii != all_ascii)
			cr_assert_fail("AVX2 says %s ASCII on %zu bytes", ascii ? "all" : "not all",
				       len);
		if (scalar != avx2)
			disagree("AVX2", scalar, avx2, exact, len);
	}
	bool ascii = false, blocks = blocks_valid(block_sse2, exact, len, &ascii);
	if (blocks && ascii != all_ascii)
		cr_assert_fail("the block check says %s ASCII on %zu bytes",
			       ascii ? "all" : "not all", len);
	if (scalar != blocks)
		disagree("the block check", scalar, blocks, exact, len);
	if (sluice_utf8_avx2_usable()) {
		blocks = blocks_valid(block_avx2, exact, len, &ascii);
		if (blocks && ascii != all_ascii)
			cr_assert_fail("the AVX2 block check says %s ASCII on %zu bytes",
				       ascii ? "all" : "not all", len);
		if (scalar != blocks)
			disagree("the AVX2 block check", scalar, blocks, exact, len);
	}
	free(exact);
}

/* Fills buf[0..len) with a valid background: ASCII, or 3-byte characters
 * (cut short at the end by ASCII so that the background alone is valid). */
static void background(uint8_t *buf, size_t len, bool chinese)
{
	memset(buf, 'a', len);
	for (size_t i = 0; chinese && i + 3 <= len; i += 3)
		memcpy(buf + i, "\xe4\xb8\xad", 3); /* 中 */
}

/* Where a 32-byte block begins, ends, or is crossed. */
static const size_t positions[] = {0, 1, 2, 13, 15, 16, 17, 28, 29, 30, 31, 32, 33, 61, 62, 63};

Test(utf8_validators, agrees_on_every_byte_pair_at_block_edges)
{
	uint8_t buf[96];
	for (int chinese = 0; chinese < 2; chinese++) {
		for (size_t p = 0; p < sizeof(positions) / sizeof(positions[0]); p++) {
			size_t at = positions[p];
			for (unsigned pair = 0; pair < 65536; pair++) {
				background(buf, sizeof(buf), chinese);
				buf[at] = (uint8_t)(pair >> 8);
				buf[at + 1] = (uint8_t)pair;
				/* the pair at the end of the text, then inside it */
				expect_agree(buf, at + 2);
				expect_agree(buf, at + 2 + 32 - (at + 2) % 32);
			}
		}
	}
}

Test(utf8_validators, agrees_on_sequences_of_four_edge_bytes_across_blocks)
{
	/* Each byte value where a table's answer changes. */
	static const uint8_t edge[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
				       0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
				       0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
	const size_t n = sizeof(edge);
	static const size_t starts[] = {0, 28, 29, 30, 31, 60};
	uint8_t buf[96];
	for (size_t p = 0; p < sizeof(starts) / sizeof(starts[0]); p++) {
		size_t at = starts[p];
		for (size_t q = 0; q < n * n * n * n; q++) {
			background(buf, sizeof(buf), false);
			buf[at] = edge[q % n];
			buf[at + 1] = edge[q / n % n];
			buf[at + 2] = edge[q / n / n % n];
			buf[at + 3] = edge[q / n / n / n];
			expect_agree(buf, at + 4);
			expect_agree(buf, 64);
		}
	}
}

Test(utf8_validators, agrees_on_random_texts_with_random_damage)
{
	static const char *const chars[] = {"a",
					    " ",
					    "7",
					    "\xc3\xa9",
					    "\xd0\x96",
					    "\xe4\xb8\xad",
					    "\xef\xbc\x91",
					    "\xe2\x80\x8b",
					    "\xf0\x9f\x98\x80",
					    "\xf4\x8f\xbf\xbf"};
	uint8_t buf[300];
	uint32_t seed = 20261205;
#define NEXT() (seed = seed * 1103515245u + 12345u)
	size_t invalid = 0;
	for (int round = 0; round < 200000; round++) {
		size_t len = 0;
		size_t want = (NEXT() >> 16) % 260;
		while (len < want) {
			const char *c = chars[(NEXT() >> 16) % 10];
			size_t cl = strlen(c);
			memcpy(buf + len, c, cl);
			len += cl;
		}
		if (len > 0 && (NEXT() >> 16) % 2 == 0) {
			/* one byte changed, dropped or cut off */
			size_t at = (NEXT() >> 8) % len;
			switch ((NEXT() >> 16) % 3) {
			case 0:
				buf[at] = (uint8_t)(seed >> 3);
				break;
			case 1:
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
				break;
			default:
				len = at;
			}
		}
		invalid += !sluice_utf8_valid_scalar(buf, len);
		expect_agree(buf, len);
	}
#undef NEXT
	/* the damage made both kinds of text */
	cr_assert_gt(invalid, 20000);
	cr_assert_lt(invalid, 100000);
}

/* The gate loads a whole 32-byte block where fewer bytes are left; a text
 * that ends just before an unmapped page must be judged from its own bytes,
 * without a fault, valid or not, at every tail length. */
Test(utf8, a_text_that_ends_before_an_unmapped_page_is_judged_without_a_fault)
{
	static const char text[] =
	    "号码 ab 微信號碼😀 plain words and 12345 digits 中文中文中文中文中文";
	uint32_t tried = 0;
	for (size_t len = 1; len <= 64 && len < sizeof(text); len++) {
		uint8_t *s = ts_page_end_copy(text, len);
		/* Valid exactly when the cut falls between characters. */
		bool whole = ((uint8_t)text[len] & 0xc0) != 0x80;
		bool ascii = !whole;
		cr_assert_eq(sluice_utf8_valid_ascii(s, len, &ascii), whole, "%zu bytes", len);
		if (whole)
			cr_assert_eq(ascii, sluice_ascii_only(s, len), "%zu bytes", len);
		/* The last byte made one that is never valid. */
		s[len - 1] = 0xff;
		cr_assert_not(sluice_utf8_valid_ascii(s, len, &ascii), "%zu bytes, bad end", len);
		ts_page_end_free(s);
		tried++;
	}
	cr_assert_eq(tried, 64);
}
