/* A pack's folding table cut down to what its rules can see (fold_scope.h):
 * what the reader sees in expressions, which mappings stay, the fold passing
 * blocks of lead bytes under which a table folds nothing, and, the point of
 * it all, packs that match exactly as they would with the whole table. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "fold_data.h"
#include "fold_scope.h"
#include "fold_table.h"
#include "match.h"
#include "support/checked_folds.h"
#include "support/match_sets.h"
#include "normalize.h"
#include "pack.h"
#include "pack_source.h"
#include "utf8.h"

static struct sluice_fold_table *whole;

static void setup(void)
{
	char err[256];
	whole = sluice_fold_narrow(err, sizeof(err));
	cr_assert_not_null(whole, "%s", err);
}

static void teardown(void)
{
	sluice_fold_table_free(whole);
	free(whole);
}

TestSuite(fold_scope, .init = setup, .fini = teardown);

static uint32_t cp_of(const char *utf8)
{
	uint32_t n;
	return sluice_utf8_decode((const uint8_t *)utf8, &n);
}

struct scope_case {
	const char *re;
	bool caseless;
	const char *sees;     /* every character of it is seen */
	const char *not_sees; /* none of it is */
	bool wild, all;
};

Test(fold_scope, the_reader_sees_what_an_expression_names_and_not_its_syntax)
{
	static const struct scope_case cases[] = {
	    {"1[3-9]\\d{9}", false, "1345678902", ",{}[]\\dA，", false, false},
	    {"(?:微信|VX)[:\\s]{0,3}", true, "微信VXvx: \t\u3000", ",?(|)，", false, false},
	    {"[Ａ-Ｃ]+\\x{FF0C}", false, "ＡＢＣ，", "ＤA,", false, false},
	    {"\\Q(,)\\E", false, "(,)", "Q", false, false},
	    {"(?i)ab", false, "abAB", "i", false, false},
	    {"\\bGHB\\b", false, "GHBz_09", "", false, false},
	    {"(?#, a comment)x", false, "x", ",", false, false},
	    {"a.{0,3}b", false, "ab", ".", true, false},
	    {"[^a]b", false, "ab", "^", true, false},
	    {"x\\Wy", false, "xyz_0", "", true, false},
	    {"\\p{Han}+", false, "", "", false, true},
	    {"(a)\\1", false, "a", "", false, true},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct scope_case *c = &cases[k];
		struct sluice_fold_scope s;
		cr_assert_eq(sluice_fold_scope_init(&s), 0);
		sluice_fold_scope_regex(&s, c->re, c->caseless);
		cr_expect_eq(s.wild, c->wild, "'%s': wild", c->re);
		cr_expect_eq(s.all, c->all, "'%s': all", c->re);
		for (const char *p = c->sees; *p;) {
			uint32_t n, cp = sluice_utf8_decode((const uint8_t *)p, &n);
			cr_expect(sluice_fold_scope_sees(&s, cp), "'%s' sees U+%04X", c->re, cp);
			p += n;
		}
		for (const char *p = c->not_sees; *p;) {
			uint32_t n, cp = sluice_utf8_decode((const uint8_t *)p, &n);
			cr_expect(!sluice_fold_scope_sees(&s, cp), "'%s' does not see U+%04X",
				  c->re, cp);
			p += n;
		}
		sluice_fold_scope_free(&s);
	}

	struct sluice_fold_scope s;
	cr_assert_eq(sluice_fold_scope_init(&s), 0);
	const char lit[] = "號碼ab";
	sluice_fold_scope_literal(&s, lit, strlen(lit), true);
	cr_expect(sluice_fold_scope_sees(&s, cp_of("號")) && sluice_fold_scope_sees(&s, 'B'));
	cr_expect(!s.all);
	sluice_fold_scope_literal(&s, "\xff", 1, false);
	cr_expect(s.all, "a literal that is not UTF-8 keeps every mapping");
	sluice_fold_scope_free(&s);
}

/* What the table folds cp to: its bytes, or NULL when cp is kept. */
static const char *fold_of(const struct sluice_fold_table *t, const char *ch, char *buf)
{
	uint32_t e = sluice_fold_entry_of(t, cp_of(ch));
	if (e == 0)
		return NULL;
	memcpy(buf, t->bytes + t->entry[e].off, t->entry[e].len);
	buf[t->entry[e].len] = '\0';
	return buf;
}

static struct sluice_fold_table *scoped_by(const char *re, bool caseless)
{
	struct sluice_fold_scope s;
	cr_assert_eq(sluice_fold_scope_init(&s), 0);
	sluice_fold_scope_regex(&s, re, caseless);
	struct sluice_fold_table *t = sluice_fold_table_scoped(whole, &s);
	cr_assert_not_null(t);
	sluice_fold_scope_free(&s);
	return t;
}

static void free_table(struct sluice_fold_table *t)
{
	sluice_fold_table_free(t);
	free(t);
}

Test(fold_scope, mappings_stay_when_a_rule_can_see_them_and_drops_always)
{
	char buf[16];
	struct sluice_fold_table *t = scoped_by("sluice-bench-never-7f3a9c51", false);
	cr_expect_str_eq(fold_of(t, "ｓ", buf), "s", "full-width s: seen");
	cr_expect_str_eq(fold_of(t, "\u0435", buf), "e", "Cyrillic e imitates a seen e");
	cr_expect_str_eq(fold_of(t, "①", buf), "1", "circled one");
	cr_expect_null(fold_of(t, "，", buf), "no rule sees a comma");
	cr_expect_null(fold_of(t, "號", buf), "nor 号");
	cr_expect_null(fold_of(t, "㈱", buf), "nor (株)");
	cr_expect_str_eq(fold_of(t, "\u200b", buf), "", "dropped characters stay dropped");
	cr_expect_eq(t->dropped, whole->dropped);
	cr_expect_lt(t->mapped, whole->mapped / 4, "%u of %u", t->mapped, whole->mapped);
	cr_expect_str_eq(t->versions, whole->versions);
	cr_expect_neq(t->digest, whole->digest);
	/* Chinese text folds nowhere under this table: its leads are quiet. */
	cr_expect(t->quiet3_lo <= 0xe4 && t->quiet3_hi >= 0xe9, "quiet %02x..%02x", t->quiet3_lo,
		  t->quiet3_hi);
	free_table(t);

	/* A wildcard counts characters: a mapping to several stays. */
	t = scoped_by("a.b", false);
	cr_expect_str_eq(fold_of(t, "㈱", buf), "(株)");
	cr_expect_null(fold_of(t, "，", buf), "one character for one: a wildcard takes either");
	free_table(t);

	/* What a seen character folds to is seen: the other forms of a
	 * rule's character (ς, σ, Σ fold alike) keep their mappings. */
	char want[16];
	t = scoped_by("Σ", false);
	cr_assert_not_null(fold_of(whole, "ς", want));
	cr_expect_str_eq(fold_of(t, "ς", buf), want);
	free_table(t);

	/* Something the reader does not know keeps the whole table. */
	t = scoped_by("\\p{Han}", false);
	cr_expect_eq(t->mapped, whole->mapped);
	free_table(t);
}

/* ---- the fold, passing quiet leads ---- */

/* One character at a time, straight from the table. */
static uint32_t fold_by_hand(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			     uint8_t *out)
{
	uint32_t o = 0;
	for (uint32_t i = 0; i < len;) {
		uint32_t n, e = sluice_fold_entry_of(t, sluice_utf8_decode(in + i, &n));
		if (e == 0) {
			memcpy(out + o, in + i, n);
			o += n;
		} else {
			memcpy(out + o, t->bytes + t->entry[e].off, t->entry[e].len);
			o += t->entry[e].len;
		}
		i += n;
	}
	return o;
}

Test(fold_scope, the_fold_passes_quiet_leads_and_folds_everything_else)
{
	/* Small tables folding a few characters with three-byte leads
	 * spread over E0..EF, on text drawn near them: every fold agrees
	 * with the table read character by character. */
	unsigned seed = 20261206;
	static uint8_t text[600], out[600 * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK],
	    want[600 * SLUICE_FOLD_MAX_GROWTH];
	uint32_t quiet_seen = 0, folded = 0;
	for (int round = 0; round < 300; round++) {
		struct sluice_fold_table t;
		uint32_t mapped[4];
		cr_assert_eq(sluice_fold_table_init(&t), 0);
		int count = 1 + rand_r(&seed) % 4;
		for (int k = 0; k < count; k++) {
			mapped[k] = 0x800 + (uint32_t)rand_r(&seed) % (0x10000 - 0x800);
			if (mapped[k] >= 0xd800 && mapped[k] < 0xe000)
				mapped[k] = 0x865f; /* 號 */
			cr_assert_eq(sluice_fold_table_set(&t, mapped[k], (const uint8_t *)"x", 1),
				     0);
		}
		cr_assert_eq(sluice_fold_table_compact(&t), 0);
		for (uint32_t lead = 0xe0; lead <= 0xef; lead++) {
			bool folds = false;
			for (int k = 0; k < count; k++)
				folds |= (mapped[k] >> 12) == (lead & 0xf);
			bool quiet = t.quiet3_hi != 0 && lead >= t.quiet3_lo && lead <= t.quiet3_hi;
			cr_assert(!(quiet && folds), "lead %02x is quiet but folds", lead);
			quiet_seen += quiet;
		}
		uint32_t len = 0;
		while (len + 8 < sizeof(text)) {
			uint32_t cp, pick = (uint32_t)rand_r(&seed) % 8;
			if (pick == 0)
				cp = 'a' + (uint32_t)rand_r(&seed) % 26;
			else if (pick < 3)
				cp = mapped[rand_r(&seed) % count] ^ ((uint32_t)rand_r(&seed) % 3);
			else
				cp = 0x4e00 + (uint32_t)rand_r(&seed) % 0x5000;
			if (cp >= 0xd800 && cp < 0xe000)
				cp = 0x4e00;
			len += sluice_utf8_encode(cp, text + len);
			if (rand_r(&seed) % 50 == 0)
				break;
		}
		struct sluice_norm_view v;
		bool ascii;
		uint32_t n = fold_by_hand(&t, text, len, want);
		for (unsigned w = 0; w < ts_checked_fold_count(); w++) {
			cr_assert(ts_checked_folds[w].fold(&t, text, len, out, &v, &ascii));
			cr_assert_eq(v.len, n, "round %d, %s", round, ts_checked_folds[w].name);
			cr_assert(memcmp(v.text, want, n) == 0, "round %d, %s: the fold differs",
				  round, ts_checked_folds[w].name);
		}
		folded += !v.identity;
		sluice_fold_unicode(&t, text, len, out, &v);
		cr_assert(v.len == n && memcmp(v.text, want, n) == 0, "round %d", round);
		sluice_fold_table_free(&t);
	}
	cr_assert_gt(quiet_seen, 300, "quiet runs were made and used");
	cr_assert_gt(folded, 100);
}

Test(fold_scope, a_parsed_table_finds_its_quiet_leads_again)
{
	struct sluice_fold_table *t = scoped_by("微信[0-9]", false), back;
	uint8_t *blob = NULL;
	size_t len = 0;
	char err[256];
	cr_assert_eq(sluice_fold_table_serialize(t, &blob, &len), 0);
	cr_assert_eq(sluice_fold_table_parse(&back, blob, len, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(back.lead3_folds, t->lead3_folds);
	cr_expect_eq(back.quiet3_lo, t->quiet3_lo);
	cr_expect_eq(back.quiet3_hi, t->quiet3_hi);
	cr_expect_neq(t->quiet3_hi, 0);
	cr_expect_eq(back.digest, t->digest);
	free(blob);
	sluice_fold_table_free(&back);
	free_table(t);
}

/* ---- packs: the same matches as with the whole table ---- */

static const char *const pieces[] = {
    /* what the test packs look for, plain and evasive */
    "微信号", "微\u200b信号", "微信號", "微信", "13812345678", "１３８１２３４５６７８", "①③⑧",
    "GHB", "ＧＨＢ", "G\u200bHB", "ghb", "號碼", "号码", "VX", "ｖｘ", "口交", "rape", "ｒａｐｅ",
    "porn", "色情", "QQ", "Ｑｑ", "12345", "13800000000", "加", "V信", "扣扣",
    /* folds no test rule sees */
    "，", "！", "？", "：", "（", "）", "後", "說", "ａ", "é", "Ⅻ", "㈱", "ﬀ", "…", "—", "·",
    "\u3000", "Ｈｅｌｌｏ",
    /* and plain text */
    "你好", "abc", " ", "😀", "。", "x", "_", "-", "1", "\n"};

/* 1 to 12 pieces in a row, into out (400 bytes); returns the length. */
static size_t random_message(char *out, unsigned *seed)
{
	size_t len = 0;
	for (int k = 1 + rand_r(seed) % 12; k > 0; k--) {
		const char *p = pieces[rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
		memcpy(out + len, p, strlen(p));
		len += strlen(p);
	}
	out[len] = '\0';
	return len;
}

static void expect_same_as_whole_table(const char *file)
{
	char *path, err[2048] = "";
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	cr_assert_neq(asprintf(&path, "%s/%s", root && *root ? root : ".", file), -1);
	struct sluice_pack *pack = NULL;
	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", file, err);
	free(path);
	cr_assert_not_null(pack->fold);
	cr_assert_lt(pack->fold->mapped, whole->mapped, "%s: the table was cut", file);
	/* The same pack with the whole table (its databases shared). */
	struct sluice_pack twin = *pack;
	twin.fold = whole;

	hs_scratch_t *scratch = NULL;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	static struct sluice_match ma[64], mb[64];
	struct sluice_match_set a, b;
	struct sluice_norm_space na, nb;
	cr_assert_eq(sluice_norm_space_init(&na, 4096, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_norm_space_init(&nb, 4096, &sluice_libc_allocator), 0);
	struct sluice_batch batch;
	struct sluice_batch_results ra, rb;
	cr_assert_eq(sluice_batch_init(&batch, 64, SLUICE_BATCH_BYTES, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&ra, 64, 64, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&rb, 64, 64, &sluice_libc_allocator), 0);

	unsigned seed = 1206;
	uint32_t matched = 0, differently_folded = 0;
	static char text[64][400];
	for (int round = 0; round < 60; round++) {
		sluice_batch_reset(&batch);
		for (uint32_t m = 0; m < 64; m++) {
			size_t len = random_message(text[m], &seed);
			sluice_match_set_init(&a, ma, 64, pack);
			sluice_match_set_init(&b, mb, 64, &twin);
			a.norm = &na;
			b.norm = &nb;
			cr_assert_eq(sluice_scan_message(pack, scratch, text[m], len, &a),
				     HS_SUCCESS);
			cr_assert_eq(sluice_scan_message(&twin, scratch, text[m], len, &b),
				     HS_SUCCESS);
			cr_assert(ts_same_sets(&a, &b),
				  "%s: \"%s\": %u matches, %u with the whole table", file, text[m],
				  a.count, b.count);
			matched += a.count > 0;
			struct sluice_norm_view va, vb;
			sluice_fold(pack->fold, (const uint8_t *)text[m], (uint32_t)len, na.out,
				    &va);
			sluice_fold(whole, (const uint8_t *)text[m], (uint32_t)len, nb.out, &vb);
			differently_folded +=
			    va.len != vb.len || memcmp(va.text, vb.text, va.len) != 0;
			cr_assert_eq(sluice_batch_add(&batch, text[m], len), (int32_t)m);
		}
		cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &ra, NULL, 0), HS_SUCCESS);
		cr_assert_eq(sluice_batch_scan(&twin, scratch, &batch, &rb, NULL, 0), HS_SUCCESS);
		for (uint32_t m = 0; m < 64; m++)
			cr_assert(
			    ts_same_sets(sluice_batch_result(&ra, m), sluice_batch_result(&rb, m)),
			    "%s: batch, \"%s\"", file, text[m]);
	}
	cr_assert_gt(matched, 500, "%s: %u messages matched", file, matched);
	cr_assert_gt(differently_folded, 500, "%s: %u messages folded differently", file,
		     differently_folded);
	sluice_batch_free(&batch);
	sluice_batch_results_free(&ra);
	sluice_batch_results_free(&rb);
	sluice_norm_space_free(&na);
	sluice_norm_space_free(&nb);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
}

Test(fold_scope, packs_match_exactly_as_with_the_whole_table, .timeout = 300)
{
	expect_same_as_whole_table("tests/data/rules/lang_normalize.yaml");
	expect_same_as_whole_table("tests/data/rules/lang_optin.yaml");
	expect_same_as_whole_table("tests/data/rules/lang_whole_word.yaml");
	expect_same_as_whole_table("tests/data/rules/lang_allow.yaml");
	expect_same_as_whole_table("patterns/rules/default.yaml");
}

/* ---- two packs, one fold ---- */

static struct sluice_pack *load_pack(const char *file)
{
	char *path, err[2048] = "";
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	cr_assert_neq(asprintf(&path, "%s/%s", root && *root ? root : ".", file), -1);
	struct sluice_pack *pack = NULL;
	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", file, err);
	free(path);
	return pack;
}

/* Packs a and b scanning batches folded once, with the union of their
 * tables: each matches as it does alone, with its own. */
static void expect_one_fold(const char *a_file, const char *b_file, bool by_ref)
{
	struct sluice_pack *a = load_pack(a_file);
	struct sluice_pack *b = load_pack(b_file);
	cr_assert_neq(a->fold->digest, b->fold->digest);
	cr_assert(!sluice_fold_table_serves(a->fold, b->fold));
	struct sluice_fold_table *u = sluice_fold_table_union(a->fold, b->fold);
	cr_assert_not_null(u);
	cr_assert(sluice_fold_table_serves(u, a->fold) && sluice_fold_table_serves(u, b->fold));
	cr_assert(!sluice_fold_table_serves(u, whole));
	cr_assert_gt(u->mapped, a->fold->mapped);
	cr_assert_gt(u->mapped, b->fold->mapped);

	hs_scratch_t *sa = NULL, *sb = NULL;
	cr_assert_eq(sluice_pack_alloc_scratch(a, &sa), HS_SUCCESS);
	cr_assert_eq(sluice_pack_alloc_scratch(b, &sb), HS_SUCCESS);
	struct sluice_batch batch;
	struct sluice_batch_results ra, rb;
	cr_assert_eq(sluice_batch_init(&batch, 64, SLUICE_BATCH_BYTES, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&ra, 64, 64, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&rb, 64, 64, &sluice_libc_allocator), 0);
	batch.fold_shared = u;
	static struct sluice_match ma[64];
	struct sluice_match_set alone;
	struct sluice_norm_space norm;
	cr_assert_eq(sluice_norm_space_init(&norm, 4096, &sluice_libc_allocator), 0);

	unsigned seed = 612;
	uint32_t matched[2] = {0, 0};
	static char text[64][400];
	for (int round = 0; round < 40; round++) {
		sluice_batch_reset(&batch);
		for (uint32_t m = 0; m < 64; m++) {
			size_t len = random_message(text[m], &seed);
			cr_assert_eq(by_ref ? sluice_batch_add_ref(&batch, text[m], len)
					    : sluice_batch_add(&batch, text[m], len),
				     (int32_t)m);
		}
		uint32_t invalid[64];
		if (by_ref) /* checked in the fold's pass: with the union too */
			cr_assert_eq(sluice_batch_check(&batch, a, invalid), 0);
		cr_assert_eq(sluice_batch_scan(a, sa, &batch, &ra, NULL, 0), HS_SUCCESS);
		cr_assert_eq(sluice_batch_scan(b, sb, &batch, &rb, NULL, 0), HS_SUCCESS);
		cr_assert_eq(batch.folded_by, u, "one fold, with the union, for both packs");
		for (uint32_t m = 0; m < 64; m++) {
			const struct sluice_pack *packs[2] = {a, b};
			const struct sluice_batch_results *res[2] = {&ra, &rb};
			hs_scratch_t *scratch[2] = {sa, sb};
			for (int p = 0; p < 2; p++) {
				sluice_match_set_init(&alone, ma, 64, packs[p]);
				alone.norm = &norm;
				cr_assert_eq(sluice_scan_message(packs[p], scratch[p], text[m],
								 strlen(text[m]), &alone),
					     HS_SUCCESS);
				cr_assert(ts_same_sets(&alone, sluice_batch_result(res[p], m)),
					  "pack %d, \"%s\": the union's fold changed its matches",
					  p, text[m]);
				matched[p] += alone.count > 0;
			}
		}
	}
	cr_assert_gt(matched[0], 300, "%s", a_file);
	cr_assert_gt(matched[1], 300, "%s", b_file);
	sluice_norm_space_free(&norm);
	sluice_batch_free(&batch);
	sluice_batch_results_free(&ra);
	sluice_batch_results_free(&rb);
	hs_free_scratch(sa);
	hs_free_scratch(sb);
	free_table(u);
	sluice_pack_free(a);
	sluice_pack_free(b);
}

Test(fold_scope, a_union_folds_a_batch_once_for_two_packs_and_each_matches_as_alone, .timeout = 120)
{
	/* lang_normalize.yaml scans raw text too: its texts are copied. Each
	 * way round: "微信號" needs lang_normalize's 號 -> 号, which
	 * lang_whole_word's table lacks. */
	expect_one_fold("tests/data/rules/lang_normalize.yaml",
			"tests/data/rules/lang_whole_word.yaml", false);
	expect_one_fold("tests/data/rules/lang_whole_word.yaml",
			"tests/data/rules/lang_normalize.yaml", false);
	expect_one_fold("patterns/rules/default.yaml", "tests/data/rules/lang_whole_word.yaml",
			true);
}

Test(fold_scope, tables_from_other_data_or_mapping_otherwise_are_not_joined)
{
	struct sluice_fold_table *a = scoped_by("微信", false), *b = scoped_by("GHB", false);
	struct sluice_fold_table *u = sluice_fold_table_union(a, b);
	cr_assert_not_null(u, "tables cut from the same data join");
	free_table(u);
	/* Tables from other data, or mapping a character otherwise, are not
	 * joined: each pack then folds with its own. */
	struct sluice_fold_table other = *b;
	snprintf(other.versions, sizeof(other.versions), "other data");
	cr_assert_null(sluice_fold_table_union(a, &other));
	struct sluice_fold_table x, y;
	cr_assert_eq(sluice_fold_table_init(&x), 0);
	cr_assert_eq(sluice_fold_table_init(&y), 0);
	cr_assert_eq(sluice_fold_table_set(&x, 0x865f, (const uint8_t *)"x", 1), 0);
	cr_assert_eq(sluice_fold_table_set(&y, 0x865f, (const uint8_t *)"y", 1), 0);
	cr_assert_null(sluice_fold_table_union(&x, &y));
	sluice_fold_table_free(&x);
	sluice_fold_table_free(&y);
	free_table(a);
	free_table(b);
}
