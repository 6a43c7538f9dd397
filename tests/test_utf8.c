/* UTF-8 validation, repair and widening to code points (dataplane/utf8.h). */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

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
