/* Folding before the scan (issue 11, first steps): the folding table built
 * from Debian's Unicode data (NFKC_Casefold, then Unihan's simplified
 * forms), the one-pass normaliser, and spans mapped back to whole original
 * characters. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checked_folds.h"
#include "fold_data.h"
#include "fold_table.h"
#include "normalize.h"
#include "test_support.h"
#include "utf8.h"

#define NFKC_CF SLUICE_UNICODE_DIR "/DerivedNormalizationProps.txt"
#define UNIHAN	SLUICE_UNICODE_DIR "/Unihan_Variants.txt.bz2"

static struct sluice_fold_table table;

static void setup(void)
{
	char err[256];
	cr_assert_eq(sluice_fold_build_narrow(&table, SLUICE_UNICODE_DIR, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_gt(table.mapped, 10000);
}

static void teardown(void)
{
	sluice_fold_table_free(&table);
}

TestSuite(normalize, .init = setup, .fini = teardown);

struct normalized {
	uint8_t out[1024 * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	uint32_t src[1024 * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	struct sluice_norm_view v;
};

static char *norm_text(const char *in, struct normalized *n)
{
	sluice_normalize(&table, (const uint8_t *)in, (uint32_t)strlen(in), n->out, n->src, &n->v);
	static char text[4096];
	memcpy(text, n->v.text, n->v.len);
	text[n->v.len] = '\0';
	return text;
}

Test(normalize, full_width_circled_enclosed_and_invisible_forms_fold_to_plain_text)
{
	static struct normalized n;
	cr_assert_str_eq(norm_text("加ＶＸ：１３８①③⑧ⓠⓠ", &n), "加VX:138138qq");
	cr_assert_eq(n.v.folded, 11);
	cr_assert_str_eq(norm_text("微\u200b信\u2060号", &n), "微信号",
			 "zero-width characters drop");
	cr_assert_str_eq(norm_text("ＷｅＣｈａｔ", &n), "WeChat");
	cr_assert_str_eq(norm_text("㊙ Ⓠ⒬", &n), "秘 Q(q)");
	cr_assert_str_eq(table.versions,
			 "DerivedNormalizationProps-15.0.0.txt, Unihan_Variants.txt 2022-08-01, "
			 "ICU 72.1 confusables (Unicode 15.0)");
}

Test(normalize, traditional_characters_become_simplified_after_compatibility_folding)
{
	static struct normalized n;
	cr_assert_str_eq(norm_text("加微信 號碼 後來", &n), "加微信 号码 后来");
	cr_assert_eq(n.v.folded, 4);
	/* The Kangxi radical "cart" is 車 to NFKC, and 車 is 车 simplified. */
	cr_assert_str_eq(norm_text("⾞", &n), "车");
	/* 乾 is listed among its own simplified forms (乾坤): it stays. */
	cr_assert_str_eq(norm_text("乾", &n), "乾");
	cr_assert(n.v.identity, "nothing folded: the message is its own text");
	cr_assert_str_eq(norm_text("微信号码", &n), "微信号码");
	cr_assert(n.v.identity);
}

Test(normalize, look_alike_letters_of_other_scripts_become_the_ascii_they_imitate)
{
	static struct normalized n;
	/* Cyrillic С, о, х and Greek ο, ν among Latin letters. */
	cr_assert_str_eq(norm_text("Сall mе vх gον", &n), "Call me vx gov");
	cr_assert_eq(n.v.folded, 5);
	/* Cyrillic З imitates a digit: a phone number written with it folds. */
	cr_assert_str_eq(norm_text("1З8", &n), "138");
	/* Han, Hangul and kana are never look-alikes of ASCII here. */
	cr_assert_str_eq(norm_text("口工 ロ 이", &n), "口工 ロ 이");
	cr_assert(n.v.identity);
}

Test(normalize, ascii_is_its_own_text_and_never_folded)
{
	static struct normalized n;
	const char *msg = "Call ME at 13812345678, ok?";
	sluice_normalize(&table, (const uint8_t *)msg, (uint32_t)strlen(msg), n.out, n.src, &n.v);
	cr_assert(n.v.identity);
	cr_assert_eq((const char *)n.v.text, msg, "no copy");
	cr_assert_eq(n.v.len, strlen(msg));
	/* ASCII letters keep their case, and so do the ASCII letters folding
	 * makes: a rule says for itself whether it is caseless. */
	cr_assert_str_eq(norm_text("Call ＭＥ ｍｅ", &n), "Call ME me");
}

Test(normalize, a_replacement_longer_than_the_growth_bound_is_not_made)
{
	/* U+FDFA, one Arabic ligature for 18 characters. */
	cr_assert_eq(sluice_fold_entry_of(&table, 0xfdfa), 0);
	cr_assert_neq(sluice_fold_entry_of(&table, 0xff21), 0);
	cr_assert_eq(sluice_fold_entry_of(&table, 'A'), 0, "ASCII is left alone");
}

/* The original span of normalised [from, to) of message in. */
static void span_of(const struct normalized *n, const char *in, uint32_t from, uint32_t to,
		    uint32_t *a, uint32_t *b)
{
	*a = from;
	*b = to;
	sluice_norm_span(&n->v, n->src, (const uint8_t *)in, a, b);
}

Test(normalize, spans_map_back_to_whole_characters_with_what_was_dropped_inside)
{
	static struct normalized n;
	const char *msg = "加\u200bＶＸ123"; /* 加 3, ZWSP 3, Ｖ 3, Ｘ 3, then 1 2 3 */
	cr_assert_str_eq(norm_text(msg, &n), "加VX123");
	uint32_t a, b;
	span_of(&n, msg, 3, 5, &a, &b); /* "vx" */
	cr_assert_eq(a, 6);
	cr_assert_eq(b, 12);
	span_of(&n, msg, 0, 4, &a, &b); /* "加v": the invisible one between too */
	cr_assert_eq(a, 0);
	cr_assert_eq(b, 9);
	span_of(&n, msg, 5, 8, &a, &b); /* "123" */
	cr_assert_eq(a, 12);
	cr_assert_eq(b, 15);
}

/* Pieces an evader mixes: plain and folded forms, invisible characters,
 * symbols and emoji. */
static const char *const pieces[] = {
    "a",  "Z",	    "7",      " ",	"微", "信", "加", "號", "ＶＸ", "１３８", "①",	"⑧", "ⓠ",
    "㊙", "\u200b", "\u2060", "\ufeff", "❤",  "😀",  "．", "－", "é",	"ﬁ",	  "㎖", "ｶ",
};

Test(normalize, random_messages_map_every_span_to_whole_contributing_characters)
{
	static struct normalized n;
	static char msg[1024], masked[1024];
	uint32_t x = 20261205;
	for (int round = 0; round < 3000; round++) {
		size_t len = 0;
		int count = 1 + round % 40;
		for (int i = 0; i < count; i++) {
			x = x * 1103515245u + 12345u;
			const char *p = pieces[(x >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			memcpy(msg + len, p, strlen(p));
			len += strlen(p);
		}
		msg[len] = '\0';
		sluice_normalize(&table, (const uint8_t *)msg, (uint32_t)len, n.out, n.src, &n.v);
		cr_assert_leq(n.v.len, len * SLUICE_FOLD_MAX_GROWTH);
		cr_assert_eq(sluice_utf8_invalid_at(n.v.text, n.v.len), n.v.len,
			     "normalised text is UTF-8");
		if (n.v.identity || n.v.len == 0)
			continue;
		for (uint32_t j = 0; j < n.v.len; j++) {
			cr_assert_lt(n.src[j], len);
			cr_assert((msg[n.src[j]] & 0xc0) != 0x80,
				  "src points at a character start");
			if (j > 0)
				cr_assert_geq(n.src[j], n.src[j - 1], "the map keeps order");
		}
		x = x * 1103515245u + 12345u;
		uint32_t from = (x >> 8) % n.v.len;
		uint32_t to = from + 1 + (x >> 20) % (n.v.len - from);
		uint32_t a, b;
		span_of(&n, msg, from, to, &a, &b);
		cr_assert(a < b && b <= len);
		/* Every character that produced a byte of the span lies inside. */
		for (uint32_t j = from; j < to; j++)
			cr_assert(n.src[j] >= a && n.src[j] < b);
		/* And the span is whole characters: masked, the text stays UTF-8
		 * of the same length. */
		memcpy(masked, msg, len);
		memset(masked + a, '*', b - a);
		cr_assert_eq(sluice_utf8_invalid_at((const uint8_t *)masked, (uint32_t)len), len,
			     "round %d: [%u, %u) splits a character", round, a, b);
	}
}

/* The table applied one character after another: what the fold must make.
 * Returns its length; *changed: the characters replaced or dropped. */
static uint32_t fold_by_table(const uint8_t *msg, uint32_t len, uint8_t *want, uint32_t *changed)
{
	uint32_t wlen = 0;
	*changed = 0;
	for (uint32_t i = 0; i < len;) {
		uint32_t n, e = sluice_fold_entry_of(&table, sluice_utf8_decode(msg + i, &n));
		const uint8_t *from = e ? table.bytes + table.entry[e].off : msg + i;
		uint32_t take = e ? table.entry[e].len : n;
		memcpy(want + wlen, from, take);
		wlen += take;
		*changed += e != 0;
		i += n;
	}
	return wlen;
}

/* Each way of sluice_fold_checked() (checked_folds.h) on msg[0, len) from a
 * buffer of exactly that size (a read past it is ASan's to report): it accepts
 * exactly the valid texts, and folds those as the table says. */
static void expect_checked_fold(const uint8_t *msg, uint32_t len, int round)
{
	static uint8_t want[1024 * SLUICE_FOLD_MAX_GROWTH];
	static uint8_t out[1024 * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	uint8_t *exact = malloc(len ? len : 1);
	cr_assert_not_null(exact);
	memcpy(exact, msg, len);
	bool valid = sluice_utf8_valid(exact, len);
	for (unsigned w = 0; w < ts_checked_fold_count(); w++) {
		const char *way = ts_checked_folds[w].name;
		bool ascii = !sluice_ascii_only(exact, len);
		struct sluice_norm_view v;
		cr_assert_eq(ts_checked_folds[w].fold(&table, exact, len, out, &v, &ascii), valid,
			     "round %d, %s: the check says %s of %u bytes", round, way,
			     valid ? "invalid" : "valid", len);
		if (!valid)
			continue;
		uint32_t changed, wlen = fold_by_table(exact, len, want, &changed);
		cr_assert_eq(ascii, sluice_ascii_only(exact, len), "round %d, %s", round, way);
		cr_assert_eq(v.identity, changed == 0, "round %d, %s", round, way);
		cr_assert_eq(v.folded, changed, "round %d, %s", round, way);
		cr_assert_eq(v.len, wlen, "round %d, %s", round, way);
		cr_assert_eq(memcmp(v.text, want, wlen), 0, "round %d, %s", round, way);
		/* a batch by reference takes the copy the check leaves */
		cr_assert(!v.identity || memcmp(out, exact, len) == 0, "round %d, %s: no copy",
			  round, way);
	}
	free(exact);
}

/* The folder looks at the lead bytes of 32 at a time and copies whole
 * blocks; the text it makes must be the table applied one character after
 * another, at every length and mix. */
Test(normalize, the_folded_text_is_the_table_applied_character_by_character)
{
	static const char *const more[] = {"hello, world ", "1234567890", "號碼", "ＡＢＣ"};
	static uint8_t msg[1024], want[1024 * SLUICE_FOLD_MAX_GROWTH];
	static uint8_t out[1024 * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	uint32_t x = 20261206, invalid = 0;
	size_t npieces = sizeof(pieces) / sizeof(pieces[0]), nmore = sizeof(more) / sizeof(more[0]);
	for (int round = 0; round < 5000; round++) {
		uint32_t len = 0;
		for (int i = 0; i < 1 + round % 60; i++) {
			x = x * 1103515245u + 12345u;
			uint32_t pick = (x >> 16) % (npieces + nmore);
			const char *p = pick < npieces ? pieces[pick] : more[pick - npieces];
			memcpy(msg + len, p, strlen(p));
			len += (uint32_t)strlen(p);
		}
		uint32_t changed, wlen = fold_by_table(msg, len, want, &changed);
		memset(out, 0xee, sizeof(out));
		struct sluice_norm_view v;
		sluice_fold(&table, msg, len, out, &v);
		cr_assert_eq(v.identity, changed == 0, "round %d", round);
		cr_assert_eq(v.folded, changed, "round %d", round);
		cr_assert_eq(v.len, wlen, "round %d: %u bytes, want %u", round, v.len, wlen);
		cr_assert_eq(memcmp(v.text, want, wlen), 0, "round %d: %.*s", round, (int)len, msg);
		if (changed) {
			static uint32_t src[1024 * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
			src[wlen] = UINT32_MAX;
			sluice_fold_map(&table, msg, len, src);
			cr_assert_eq(src[wlen], UINT32_MAX,
				     "the map has exactly the text's length");
		}
		/* Checked as it is folded: the same text, then damaged (a
		 * byte changed, dropped, or the text cut short). */
		expect_checked_fold(msg, len, round);
		x = x * 1103515245u + 12345u;
		uint32_t at = (x >> 8) % len;
		switch ((x >> 16) % 3) {
		case 0:
			msg[at] = (uint8_t)(x >> 24 | 0x80);
			break;
		case 1:
			memmove(msg + at, msg + at + 1, len - at - 1);
			len--;
			break;
		default:
			len = at;
		}
		invalid += !sluice_utf8_valid(msg, len);
		expect_checked_fold(msg, len, round);
	}
	/* the damage made both kinds of text */
	cr_assert_gt(invalid, 1000);
	cr_assert_lt(invalid, 4500);
}

/* The fold loads 32 bytes where fewer are left; a message that ends just
 * before an unmapped page must be folded from its own bytes, without a
 * fault. Every length from 1 to 100 bytes (at character boundaries) of a
 * mixed text, each placed so that its last byte is the page's last. */
Test(normalize, a_message_that_ends_before_an_unmapped_page_is_folded_without_a_fault)
{
	static const char text[] =
	    "號碼ＶＸ微信 138１３８號a\u200b號碼b後 ok 號碼號碼號碼號碼ＡＢＣ號碼é號碼號碼"
	    "號碼😀號碼號碼 plain ascii words here 號";
	static uint8_t want[sizeof(text) * SLUICE_FOLD_MAX_GROWTH];
	static uint8_t out[sizeof(text) * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK];
	uint32_t tried = 0;
	for (uint32_t len = 1; len <= 100 && len < sizeof(text); len++) {
		if (((uint8_t)text[len] & 0xc0) == 0x80)
			continue; /* not a character boundary */
		uint8_t *msg = ts_page_end_copy(text, len);
		uint32_t changed, wlen = fold_by_table(msg, len, want, &changed);
		struct sluice_norm_view v;
		sluice_fold(&table, msg, len, out, &v);
		cr_assert_eq(v.folded, changed, "%u bytes", len);
		cr_assert_eq(v.len, wlen, "%u bytes", len);
		cr_assert_eq(memcmp(v.text, want, wlen), 0, "%u bytes", len);
		ts_page_end_free(msg);
		tried++;
	}
	cr_assert_gt(tried, 30);
	/* Checked as it is folded, every length: a cut inside a character is
	 * refused, and nothing past the page is read either way. */
	for (uint32_t len = 1; len <= 100 && len < sizeof(text); len++) {
		uint8_t *msg = ts_page_end_copy(text, len);
		bool whole = ((uint8_t)text[len] & 0xc0) != 0x80, ascii;
		for (unsigned w = 0; w < ts_checked_fold_count(); w++) {
			struct sluice_norm_view v;
			cr_assert_eq(ts_checked_folds[w].fold(&table, msg, len, out, &v, &ascii),
				     whole, "%u bytes, %s", len, ts_checked_folds[w].name);
			if (whole)
				cr_assert_eq(v.len, fold_by_table(msg, len, want, &(uint32_t){0}),
					     "%u bytes, %s", len, ts_checked_folds[w].name);
		}
		ts_page_end_free(msg);
	}
}

Test(normalize, missing_or_foreign_data_files_are_refused_with_a_reason)
{
	struct sluice_fold_table t;
	char err[256];
	cr_assert_eq(sluice_fold_table_init(&t), 0);
	cr_assert_eq(sluice_fold_load_nfkc_cf(&t, "/nonexistent/DerivedNormalizationProps.txt", err,
					      sizeof(err)),
		     -1);
	cr_assert(strstr(err, "unicode-data") != NULL, "%s", err);
	char path[] = "/tmp/sluice-fold-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("00C0 ; NFKC_CF; 00E0 # no version line\n", f);
	fclose(f);
	cr_assert_eq(sluice_fold_load_nfkc_cf(&t, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, "no version line") != NULL, "%s", err);
	f = fopen(path, "w");
	fputs("# DerivedNormalizationProps-15.0.0.txt\n00C0 ; NFKC_CF; 0ZZ0\n", f);
	fclose(f);
	cr_assert_eq(sluice_fold_load_nfkc_cf(&t, path, err, sizeof(err)), -1);
	cr_assert(strstr(err, ":2: not an NFKC_CF line") != NULL, "%s", err);
	unlink(path);
	/* Unihan's file must be bzip2 (the plain text is refused), and its own. */
	cr_assert_eq(sluice_fold_load_simplified(&t, NFKC_CF, err, sizeof(err)), -1);
	cr_assert(strstr(err, "corrupt") != NULL, "%s", err);
	cr_assert_eq(sluice_fold_load_simplified(&t, "/nonexistent.bz2", err, sizeof(err)), -1);
	cr_assert(strstr(err, "unicode-data") != NULL, "%s", err);
	sluice_fold_table_free(&t);
}

Test(normalize, the_table_serialized_parses_back_the_same_and_damage_is_refused)
{
	uint8_t *blob;
	size_t len;
	cr_assert_eq(sluice_fold_table_serialize(&table, &blob, &len), 0);
	struct sluice_fold_table back;
	char err[256];
	cr_assert_eq(sluice_fold_table_parse(&back, blob, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(back.versions, table.versions);
	cr_assert_eq(back.mapped, table.mapped);
	cr_assert_eq(back.dropped, table.dropped);
	static struct normalized a, b;
	const char *msg = "加ＶＸ號碼​①С";
	sluice_normalize(&table, (const uint8_t *)msg, (uint32_t)strlen(msg), a.out, a.src, &a.v);
	sluice_normalize(&back, (const uint8_t *)msg, (uint32_t)strlen(msg), b.out, b.src, &b.v);
	cr_assert_eq(a.v.len, b.v.len);
	cr_assert(memcmp(a.v.text, b.v.text, a.v.len) == 0);
	sluice_fold_table_free(&back);

	/* Damage: each is refused with its reason, and the table left empty. */
	size_t vlen = strlen(table.versions);
	size_t blocks_at = 4 + vlen, block_at = blocks_at + 4;
	size_t slots_at = block_at + 2 * (size_t)SLUICE_FOLD_BLOCKS;
	size_t entries_at = slots_at + 2 * (size_t)table.blocks * 256;
	size_t entry1_at = entries_at + 4 + 5;
	const struct {
		size_t at;
		uint8_t value;
		const char *why;
	} damage[] = {
	    {block_at + 2 * (0xff21 >> 8) + 1, 0xff, "block index out of range"},
	    {slots_at + 2 * 256 + 1, 0xff, "entry index out of range"},
	    {entry1_at + 4, 200, "not valid UTF-8 in range"},
	    {entries_at + 4 + 4, 1, "entry 0"},
	    {0, 200, "versions field"},
	};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		uint8_t *bad = malloc(len);
		memcpy(bad, blob, len);
		bad[damage[i].at] = damage[i].value;
		cr_assert_eq(sluice_fold_table_parse(&back, bad, len, err, sizeof(err)), -1,
			     "damage %zu accepted", i);
		cr_assert(strstr(err, damage[i].why) != NULL, "damage %zu: %s", i, err);
		cr_assert_null(back.slot);
		free(bad);
	}
	cr_assert_eq(sluice_fold_table_parse(&back, blob, len - 1, err, sizeof(err)), -1);
	cr_assert(strstr(err, "replacement bytes") != NULL, "%s", err);
	/* A table that folds ASCII is refused: the normaliser never looks. */
	struct sluice_fold_table ascii;
	cr_assert_eq(sluice_fold_table_init(&ascii), 0);
	uint8_t *ablob;
	size_t alen;
	static const uint8_t x[] = "x";
	cr_assert_eq(sluice_fold_table_set(&ascii, 0x100, x, 1), 0);
	ascii.slot[((uint32_t)ascii.block[1] << 8) | 0] = 0;
	ascii.block[0] = ascii.block[1]; /* block 0 now holds U+0100's slots */
	ascii.slot[((uint32_t)ascii.block[0] << 8) | 'A'] = 1;
	cr_assert_eq(sluice_fold_table_serialize(&ascii, &ablob, &alen), 0);
	cr_assert_eq(sluice_fold_table_parse(&back, ablob, alen, err, sizeof(err)), -1);
	cr_assert(strstr(err, "ASCII") != NULL, "%s", err);
	free(ablob);
	sluice_fold_table_free(&ascii);
	free(blob);
}

/* What cp becomes in t: its replacement, "" when dropped, NULL when kept. */
static const char *fold_of(const struct sluice_fold_table *t, uint32_t cp, char *buf)
{
	uint32_t e = sluice_fold_entry_of(t, cp);
	if (e == 0)
		return NULL;
	memcpy(buf, t->bytes + t->entry[e].off, t->entry[e].len);
	buf[t->entry[e].len] = '\0';
	return buf;
}

Test(normalize, compacting_shares_blocks_and_entries_and_changes_no_mapping)
{
	struct sluice_fold_table raw;
	char err[256];
	cr_assert_eq(sluice_fold_table_init(&raw), 0);
	cr_assert_gt(sluice_fold_load_nfkc_cf(&raw, NFKC_CF, err, sizeof(err)), 0);
	cr_assert_gt(sluice_fold_load_simplified(&raw, UNIHAN, err, sizeof(err)), 0);
	cr_assert_gt(sluice_fold_load_confusables(&raw, err, sizeof(err)), 0);
	cr_assert_eq(sluice_fold_table_settle(&raw), 0);
	/* table (the fixture) is the same data, settled and compacted. */
	cr_assert_lt(table.blocks, raw.blocks);
	cr_assert_lt(table.entries, raw.entries);
	cr_assert_leq(table.nbytes, raw.nbytes);
	cr_assert_eq(table.mapped, raw.mapped);
	cr_assert_eq(table.dropped, raw.dropped);
	char a[16], b[16];
	for (uint32_t cp = 0; cp < SLUICE_FOLD_CODE_POINTS; cp++) {
		const char *x = fold_of(&raw, cp, a), *y = fold_of(&table, cp, b);
		cr_assert((x == NULL) == (y == NULL), "U+%04X kept in one table only", cp);
		if (x != NULL)
			cr_assert_str_eq(x, y, "U+%04X", cp);
	}
	/* A frozen table takes no more mappings. */
	static const uint8_t z[] = "z";
	cr_assert_eq(sluice_fold_table_set(&table, 0x100, z, 1), -1);
	sluice_fold_table_free(&raw);
}

Test(normalize, a_table_that_only_drops_characters_travels_and_drops_them)
{
	/* Found by fuzz_fold_table: such a table has no replacement bytes at
	 * all, which once left its byte pool a null pointer. */
	struct sluice_fold_table t, back;
	char err[256];
	cr_assert_eq(sluice_fold_table_init(&t), 0);
	cr_assert_eq(sluice_fold_table_set(&t, 0x200b, NULL, 0), 0);
	uint8_t *blob;
	size_t len;
	cr_assert_eq(sluice_fold_table_serialize(&t, &blob, &len), 0);
	cr_assert_eq(sluice_fold_table_parse(&back, blob, len, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(back.bytes);
	cr_assert_eq(back.dropped, 1);
	static struct normalized n;
	const char *msg = "a\u200bb";
	sluice_normalize(&back, (const uint8_t *)msg, (uint32_t)strlen(msg), n.out, n.src, &n.v);
	cr_assert_eq(n.v.len, 2);
	cr_assert(memcmp(n.v.text, "ab", 2) == 0);
	free(blob);
	sluice_fold_table_free(&back);
	sluice_fold_table_free(&t);
}

/* Rules are folded by the same table as messages, so a rule written in an
 * already folded form must stay as it is: folding twice is folding once. */
Test(normalize, folding_is_idempotent_for_every_code_point)
{
	uint32_t bad = 0, first = 0;
	for (uint32_t cp = 0x80; cp < SLUICE_FOLD_CODE_POINTS; cp++) {
		uint32_t e = sluice_fold_entry_of(&table, cp);
		if (e == 0 || table.entry[e].len == 0)
			continue;
		const uint8_t *once = table.bytes + table.entry[e].off;
		uint32_t len = table.entry[e].len;
		static uint8_t out[64];
		static uint32_t src[64];
		struct sluice_norm_view v;
		sluice_normalize(&table, once, len, out, src, &v);
		if (v.len != len || memcmp(v.text, once, len) != 0) {
			if (bad++ == 0)
				first = cp;
		}
	}
	cr_assert_eq(bad, 0, "%u code points fold again after folding (first U+%04X)", bad, first);
}
