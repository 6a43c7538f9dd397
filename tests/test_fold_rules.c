/* Normalisation in the rule language (issue 11): rule bodies folded at compile
 * time by the table messages are folded with, packs that scan the folded text
 * (and rules that opted out scanning the raw one), spans mapped back to whole
 * characters of the message, batch scanning equal to per-message scanning on
 * evasive messages, and what lint says when folding changes a rule. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_scan.h"
#include "fold_data.h"
#include "match.h"
#include "support/match_sets.h"
#include "pack.h"
#include "pack_compile.h"
#include "pack_source.h"
#include "rule_file.h"
#include "rule_fold.h"
#include "utf8.h"

static struct sluice_fold_table *table;

static void setup(void)
{
	char err[256];
	table = sluice_fold_narrow(err, sizeof(err));
	cr_assert_not_null(table, "%s", err);
}

static void teardown(void)
{
	sluice_fold_table_free(table);
	free(table);
}

TestSuite(fold_rules, .init = setup, .fini = teardown);

static char *fixture(const char *name)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	char *path;
	cr_assert_neq(asprintf(&path, "%s/tests/data/rules/%s", root && *root ? root : ".", name),
		      -1);
	return path;
}

static struct sluice_pack *load(const char *name)
{
	char *path = fixture(name);
	struct sluice_pack *pack = NULL;
	char err[2048] = "";
	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", name, err);
	free(path);
	return pack;
}

/* ---- folding rule bodies ---- */

Test(fold_rules, literals_fold_as_messages_do)
{
	struct sluice_fold_note note;
	char *out;
	size_t len;
	const char *lit = "ＶＸ\u200b號碼";
	cr_assert_eq(sluice_fold_literal(table, lit, strlen(lit), &out, &len, &note), 0);
	cr_assert_str_eq(out, "VX号码");
	cr_assert_eq(len, strlen("VX号码"));
	cr_assert_eq(note.folded, 5, "Ｖ Ｘ, the invisible one, 號 and 碼");
	cr_assert_eq(note.first_at, 0);
	cr_assert_str_eq(note.first_to, "V");
	free(out);
}

static void expect_pattern(const char *re, const char *want, uint32_t folded, uint32_t lost,
			   uint32_t negated)
{
	struct sluice_fold_note note;
	char *out;
	cr_assert_eq(sluice_fold_pattern(table, re, &out, &note), 0);
	cr_expect_str_eq(out, want, "folding '%s'", re);
	cr_expect_eq(note.folded, folded, "'%s': %u folded", re, note.folded);
	cr_expect_eq(note.class_lost, lost, "'%s': %u lost in classes", re, note.class_lost);
	cr_expect_eq(note.negated, negated, "'%s'", re);
	free(out);
}

Test(fold_rules, patterns_fold_their_literal_characters_and_nothing_else)
{
	/* plain characters; syntax and escapes untouched */
	expect_pattern("ＶＸ\\d+號", "VX\\d+号", 3, 0, 0);
	expect_pattern("(?:a|b)\\p{Han}{2}\\x41$", "(?:a|b)\\p{Han}{2}\\x41$", 0, 0, 0);
	/* a fold to several characters is one atom, its syntax escaped */
	expect_pattern("⑴+", "(?:\\(1\\))+", 1, 0, 0);
	/* a dropped character goes with its quantifier */
	expect_pattern("a\u200b*b\u200d{2}c", "abc", 2, 0, 0);
	/* escapes that name characters are characters */
	expect_pattern("\\x{FF36}\\x{FF38}", "VX", 2, 0, 0);
	expect_pattern("\\Q號.\\E+", "号\\.+", 1, 0, 0);
	/* classes: members fold; ranges gain their folded members */
	expect_pattern("[號碼]", "[号码]", 2, 0, 0);
	expect_pattern("[０-９]", "[０-９0123456789]", 10, 0, 0);
	expect_pattern("[Ａ-Ｃ]", "[Ａ-ＣABC]", 3, 0, 0);
	/* a class that lists the folded forms already gains nothing */
	expect_pattern("[0-9０-９]", "[0-9０-９]", 0, 0, 0);
	/* a member folding to several characters cannot be held */
	expect_pattern("[⑴a]", "[⑴a]", 0, 1, 0);
	/* a negated class keeps what it lists and excludes the folded forms */
	expect_pattern("[^１]", "[^１1]", 1, 0, 1);
	/* nothing to fold: the same pattern */
	expect_pattern("1[3-9]\\d{9}", "1[3-9]\\d{9}", 0, 0, 0);
}

Test(fold_rules, folding_a_rule_twice_changes_nothing_more)
{
	const char *re[] = {"ＶＸ\\d+號", "[０-９]{3}", "⑴+", "\\x{FF36}"};
	for (size_t k = 0; k < sizeof(re) / sizeof(re[0]); k++) {
		struct sluice_fold_note note;
		char *once, *twice;
		cr_assert_eq(sluice_fold_pattern(table, re[k], &once, &note), 0);
		cr_assert_eq(sluice_fold_pattern(table, once, &twice, &note), 0);
		cr_expect_str_eq(twice, once, "'%s'", re[k]);
		free(once);
		free(twice);
	}
}

/* ---- packs that normalise ---- */

struct scan {
	struct sluice_match matches[64];
	struct sluice_match_set set;
	struct sluice_norm_space norm;
};

static const struct sluice_match *scan(const struct sluice_pack *pack, struct scan *s,
				       const char *text, const char *rule_id)
{
	hs_scratch_t *scratch = NULL;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	if (s->norm.cap == 0)
		cr_assert_eq(sluice_norm_space_init(&s->norm, 4096, &sluice_libc_allocator), 0);
	sluice_match_set_init(&s->set, s->matches, 64, pack);
	s->set.norm = &s->norm;
	cr_assert_eq(sluice_scan_message(pack, scratch, text, strlen(text), &s->set), HS_SUCCESS);
	hs_free_scratch(scratch);
	for (uint32_t i = 0; i < s->set.count; i++) {
		if (strcmp(pack->rules[s->set.matches[i].rule].id, rule_id) == 0)
			return &s->set.matches[i];
	}
	return NULL;
}

static void expect_span(const struct sluice_pack *pack, const char *text, const char *rule,
			const char *covered)
{
	struct scan s = {0};
	const struct sluice_match *m = scan(pack, &s, text, rule);
	cr_assert_not_null(m, "%s does not match \"%s\"", rule, text);
	const char *at = strstr(text, covered);
	cr_assert_not_null(at);
	cr_expect_eq(m->from, (uint32_t)(at - text), "\"%s\": span starts at %u", text, m->from);
	cr_expect_eq(m->to, (uint32_t)(at - text + strlen(covered)), "\"%s\": span ends at %u",
		     text, m->to);
	sluice_norm_space_free(&s.norm);
}

static void expect_no_match(const struct sluice_pack *pack, const char *text, const char *rule)
{
	struct scan s = {0};
	cr_expect_null(scan(pack, &s, text, rule), "%s matches \"%s\"", rule, text);
	sluice_norm_space_free(&s.norm);
}

Test(fold_rules, rules_written_once_match_evasions_and_spans_cover_the_original_characters)
{
	struct sluice_pack *pack = load("lang_normalize.yaml");
	cr_assert_not_null(pack->fold, "a rule file normalises by default");
	cr_assert(pack->views & (1u << SLUICE_VIEW_FOLDED));
	cr_assert(pack->views & (1u << SLUICE_VIEW_RAW), "exact-only opted out");

	/* traditional and invisible: the span runs from 微 to 號, the zero-width
	 * space inside included */
	expect_span(pack, "加微\u200b信號abc", "wechat", "微\u200b信號");
	/* circled, full-width, invisible between digits; the invisible one
	 * before the number did not contribute and stays out */
	expect_span(pack, "电话\u200d①③⑧\u200b1234５６７８。", "mobile", "①③⑧\u200b1234５６７８");
	/* look-alikes: Cyrillic З is the digit 3 */
	expect_span(pack, "tel 1З812345678", "mobile", "1З812345678");
	/* case is the rule's own: full-width capitals are capitals */
	expect_span(pack, "sell ＧＨＢ here", "acronym", "ＧＨＢ");
	expect_no_match(pack, "sell ｇｈｂ here", "acronym");
	expect_no_match(pack, "neighbor", "acronym");
	/* normalize: false: only the form written */
	expect_span(pack, "號碼多少", "exact-only", "號碼");
	expect_no_match(pack, "号码多少", "exact-only");
	/* allow rules exempt on the folded text too */
	struct scan s = {0};
	scan(pack, &s, "客服１３８０００００００００", "mobile");
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "the allowed number in full width");
	cr_expect_eq(s.set.exempted, 1);
	sluice_norm_space_free(&s.norm);
	sluice_pack_free(pack);
}

Test(fold_rules, views_and_opted_out_rules_survive_the_pack_file)
{
	struct sluice_pack *pack = load("lang_normalize.yaml"), *back = NULL;
	char path[] = "/tmp/sluice-test-fold-XXXXXX", err[1024] = "";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_read(path, &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back->db_count, pack->db_count);
	for (size_t d = 0; d < pack->db_count; d++) {
		cr_expect_eq(back->dbs[d].kind, pack->dbs[d].kind);
		cr_expect_eq(back->dbs[d].view, pack->dbs[d].view);
	}
	cr_expect_eq(back->views, pack->views);
	cr_expect_eq(back->fold->digest, pack->fold->digest);
	cr_expect_str_eq(back->sha256_hex, pack->sha256_hex);
	for (size_t r = 0; r < pack->rule_count; r++)
		cr_expect_eq(back->rules[r].raw, strcmp(pack->rules[r].id, "exact-only") == 0, "%s",
			     pack->rules[r].id);
	expect_span(back, "加微\u200b信號abc", "wechat", "微\u200b信號");
	expect_no_match(back, "号码多少", "exact-only");
	unlink(path);
	sluice_pack_free(back);
	sluice_pack_free(pack);
}

Test(fold_rules, a_pack_that_does_not_normalise_matches_text_as_it_is)
{
	struct sluice_pack *pack = load("lang_normalize_none.yaml");
	cr_assert_null(pack->fold);
	cr_assert_eq(pack->views, 1u << SLUICE_VIEW_RAW);
	expect_span(pack, "加微信号abc", "wechat", "微信号");
	expect_no_match(pack, "加微\u200b信号abc", "wechat");
	sluice_pack_free(pack);
}

/* ---- mask exactness and batch = per message, on evasive messages ---- */

/* Pieces around a number; none holds a digit or a digit look-alike, so the
 * number's span is exactly what was inserted. */
static const char *const around[] = {"你好",	   "abc ", "😀", "ｘｙｚ", "\u200d", "。",
				     "Ｈｅｌｌｏ", "號",   "é", "\u200b", "—",	    "ok"};
/* Ways to write each digit. */
static const char *const digit_forms[10][4] = {
    {"0", "０", "⓪", "0"}, {"1", "１", "①", "1"}, {"2", "２", "②", "2"}, {"3", "３", "③", "З"},
    {"4", "４", "④", "4"}, {"5", "５", "⑤", "5"}, {"6", "６", "⑥", "6"}, {"7", "７", "⑦", "7"},
    {"8", "８", "⑧", "8"}, {"9", "９", "⑨", "9"}};
static const char *const invisible[] = {"\u200b", "\u200c", "\u2060", "\ufeff", "\u00ad"};

struct evasive {
	char text[512];
	size_t len;
	uint32_t from, to; /* where the number is; from == to: none */
};

static void append(struct evasive *e, const char *s)
{
	size_t n = strlen(s);
	cr_assert_lt(e->len + n, sizeof(e->text));
	memcpy(e->text + e->len, s, n);
	e->len += n;
	e->text[e->len] = '\0';
}

static void make_evasive(struct evasive *e, unsigned *seed)
{
	memset(e, 0, sizeof(*e));
	for (int k = rand_r(seed) % 4; k > 0; k--)
		append(e, around[rand_r(seed) % (sizeof(around) / sizeof(around[0]))]);
	append(e, "：");
	if (rand_r(seed) % 4 != 0) {
		const char digits[] = "13812345678";
		e->from = (uint32_t)e->len;
		for (int d = 0; d < 11; d++) {
			if (d > 0 && rand_r(seed) % 3 == 0)
				append(e, invisible[rand_r(seed) % 5]);
			append(e, digit_forms[digits[d] - '0'][rand_r(seed) % 4]);
		}
		e->to = (uint32_t)e->len;
		append(e, "。");
	}
	for (int k = rand_r(seed) % 4; k > 0; k--)
		append(e, around[rand_r(seed) % (sizeof(around) / sizeof(around[0]))]);
}

Test(fold_rules, masks_cover_exactly_the_evasive_characters_and_batches_agree, .timeout = 120)
{
	enum { MESSAGES = 3000 };
	struct sluice_pack *pack = load("lang_normalize.yaml");
	hs_scratch_t *scratch = NULL;
	struct sluice_batch batch;
	struct sluice_batch_results results;
	struct scan alone = {0};
	static struct evasive msgs[MESSAGES];
	unsigned seed = 20261205;
	uint32_t mobile = UINT32_MAX;

	for (uint32_t r = 0; r < pack->rule_count; r++)
		if (strcmp(pack->rules[r].id, "mobile") == 0)
			mobile = r;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	cr_assert_eq(sluice_norm_space_init(&alone.norm, 4096, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_init(&batch, 256, SLUICE_BATCH_BYTES, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&results, 256, 64, &sluice_libc_allocator), 0);
	for (uint32_t i = 0; i < MESSAGES; i++)
		make_evasive(&msgs[i], &seed);

	uint32_t numbers = 0, batches = 0;
	for (uint32_t first = 0; first < MESSAGES;) {
		uint32_t n = 0;
		sluice_batch_reset(&batch);
		while (first + n < MESSAGES && sluice_batch_fits(&batch, msgs[first + n].len)) {
			cr_assert_eq(
			    sluice_batch_add(&batch, msgs[first + n].text, msgs[first + n].len),
			    (int32_t)n);
			n++;
		}
		cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0),
			     HS_SUCCESS);
		batches++;
		for (uint32_t k = 0; k < n; k++) {
			const struct evasive *e = &msgs[first + k];
			sluice_match_set_init(&alone.set, alone.matches, 64, pack);
			alone.set.norm = &alone.norm;
			cr_assert_eq(
			    sluice_scan_message(pack, scratch, e->text, e->len, &alone.set),
			    HS_SUCCESS);
			cr_assert(ts_same_sets(&alone.set, sluice_batch_result(&results, k)),
				  "message %u (\"%s\"): batch and per-message results differ",
				  first + k, e->text);
			const struct sluice_match *m = NULL;
			for (uint32_t j = 0; j < alone.set.count; j++)
				if (alone.set.matches[j].rule == mobile)
					m = &alone.set.matches[j];
			if (e->from == e->to) {
				cr_assert_null(m, "\"%s\": a number where none was put", e->text);
				continue;
			}
			numbers++;
			cr_assert_not_null(m, "\"%s\": the number is missed", e->text);
			cr_assert(m->from == e->from && m->to == e->to,
				  "\"%s\": span [%u, %u), the number is [%u, %u)", e->text, m->from,
				  m->to, e->from, e->to);
			/* masked in place: valid UTF-8 of the same length */
			char masked[512];
			memcpy(masked, e->text, e->len);
			memset(masked + m->from, '*', m->to - m->from);
			cr_assert(sluice_utf8_valid((const uint8_t *)masked, e->len));
		}
		first += n;
	}
	cr_assert_gt(numbers, MESSAGES / 2);
	cr_assert_gt(batches, 1);
	sluice_batch_free(&batch);
	sluice_batch_results_free(&results);
	sluice_norm_space_free(&alone.norm);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
}

/* ---- lint ---- */

static bool has_warning(const struct sluice_diag_list *d, const char *code, const char *rule,
			unsigned line)
{
	for (size_t i = 0; i < d->count; i++) {
		const struct sluice_diag *x = &d->items[i];
		if (x->level == SLUICE_DIAG_WARNING && strcmp(x->code, code) == 0 &&
		    x->rule_id != NULL && strcmp(x->rule_id, rule) == 0 &&
		    (!line || x->line == line))
			return true;
	}
	return false;
}

static void build_with_diags(const char *name, struct sluice_diag_list *diags)
{
	char *path = fixture(name);
	struct sluice_rule_list rules;
	struct sluice_pack *pack = NULL;
	cr_assert_eq(sluice_rule_file_load_diags(path, &rules, diags), 0);
	cr_assert_eq(sluice_pack_build(&rules, false, diags, &pack), 0);
	sluice_pack_free(pack);
	sluice_rule_list_free(&rules);
	free(path);
}

Test(fold_rules, lint_says_where_folding_changes_a_rule)
{
	struct sluice_diag_list d = {0};
	build_with_diags("lang_normalize_lint.yaml", &d);
	cr_expect(has_warning(&d, "normalize-folds", "traditional", 7));
	cr_expect(has_warning(&d, "normalize-class", "class-lost", 12));
	cr_expect(has_warning(&d, "normalize-negated-class", "negated", 0));
	sluice_diag_list_free(&d);

	struct sluice_diag_list none = {0};
	build_with_diags("lang_normalize_none.yaml", &none);
	cr_expect(has_warning(&none, "normalize-no-effect", "pointless", 0));
	sluice_diag_list_free(&none);

	struct sluice_diag_list clean = {0};
	build_with_diags("lang_normalize.yaml", &clean);
	cr_expect_eq(clean.count, 0, "rules written in folded form need no warning");
	sluice_diag_list_free(&clean);
}

/* The warning for code on rule at line, or NULL. */
static const struct sluice_diag *warning_at(const struct sluice_diag_list *d, const char *code,
					    const char *rule)
{
	for (size_t i = 0; i < d->count; i++) {
		const struct sluice_diag *x = &d->items[i];
		if (x->level == SLUICE_DIAG_WARNING && strcmp(x->code, code) == 0 &&
		    x->rule_id != NULL && strcmp(x->rule_id, rule) == 0)
			return x;
	}
	return NULL;
}

Test(fold_rules, lint_warns_of_separators_between_latin_letters_only)
{
	struct sluice_diag_list d = {0};
	build_with_diags("lang_optin_lint.yaml", &d);
	/* Where the Latin alternative begins, named in the message. */
	const struct sluice_diag *w = warning_at(&d, "separators-latin", "latin-alternative");
	cr_assert_not_null(w);
	cr_expect_eq(w->line, 10);
	cr_expect_eq(w->column, 18);
	cr_expect(strstr(w->message, "'online\\s+casino'") != NULL, "%s", w->message);
	w = warning_at(&d, "separators-latin", "latin-literal");
	cr_assert_not_null(w);
	cr_expect(strstr(w->message, "'weixin'") != NULL, "%s", w->message);
	/* A list names the line, once for the rule. */
	w = warning_at(&d, "separators-latin", "latin-list");
	cr_assert_not_null(w);
	cr_expect(strstr(w->message, "literal 2: ") != NULL && strstr(w->message, "'vx'") != NULL,
		  "%s", w->message);
	/* A Chinese character in the alternative, no separators, or one
	 * character with nothing to put separators between: no warning. */
	cr_expect_null(warning_at(&d, "separators-latin", "anchored"));
	cr_expect_null(warning_at(&d, "separators-latin", "no-separators"));
	cr_expect_null(warning_at(&d, "separators-latin", "one-letter"));
	size_t latin = 0;
	for (size_t i = 0; i < d.count; i++)
		latin += strcmp(d.items[i].code, "separators-latin") == 0;
	cr_expect_eq(latin, 3);
	sluice_diag_list_free(&d);
}

Test(fold_rules, missing_unicode_data_is_refused_naming_the_package)
{
	struct sluice_fold_table t;
	char err[512] = "";
	cr_assert_eq(sluice_fold_build_narrow(&t, "/nonexistent", err, sizeof(err)), -1);
	cr_expect(strstr(err, "/nonexistent/DerivedNormalizationProps.txt") != NULL, "%s", err);
	cr_expect(strstr(err, "unicode-data") != NULL, "%s", err);
}

/* ---- opt-ins ---- */

Test(fold_rules, opt_ins_widen_only_the_rules_that_ask_and_spans_cover_the_separators)
{
	/* lang_optin.yaml's examples (checked when it compiles) are the main
	 * test; here the spans, and what a rule without opt-ins still misses. */
	struct sluice_pack *pack = load("lang_optin.yaml");
	expect_span(pack, "加威.信abc", "wechat", "威.信");
	expect_span(pack, "加微😀❤信 abc", "wechat", "微😀❤信");
	expect_span(pack, "电话 幺三八一二三四五六七八。", "mobile", "幺三八一二三四五六七八");
	expect_span(pack, "K * 粉", "drug", "K * 粉");
	expect_no_match(pack, "麻.古", "plain");
	for (size_t r = 0; r < pack->rule_count; r++) {
		unsigned want = strcmp(pack->rules[r].id, "wechat") == 0
				    ? SLUICE_OPTIN_HOMOPHONES | SLUICE_OPTIN_SEPARATORS
				: strcmp(pack->rules[r].id, "mobile") == 0
				    ? SLUICE_OPTIN_DIGIT_WORDS
				: strcmp(pack->rules[r].id, "drug") == 0 ? SLUICE_OPTIN_SEPARATORS
									 : 0;
		cr_expect_eq(pack->rules[r].optin, want, "%s", pack->rules[r].id);
	}

	/* The opt-ins travel in the pack file. */
	struct sluice_pack *back = NULL;
	char path[] = "/tmp/sluice-test-optin-XXXXXX", err[1024] = "";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_read(path, &back, err, sizeof(err)), 0, "%s", err);
	for (size_t r = 0; r < pack->rule_count; r++)
		cr_expect_eq(back->rules[r].optin, pack->rules[r].optin);
	expect_span(back, "加威.信abc", "wechat", "威.信");
	unlink(path);
	sluice_pack_free(back);

	/* Batches agree with messages alone on widened rules too. */
	static const char *const texts[] = {"加威.信abc", "电话 幺三八一二三四五六七八",
					    "K*粉",	  "冰箱",
					    "加微😀❤信",	  "1三8壹2三4五6七8",
					    "麻.古",	  "ＫＫ粉 and 冰\u200b-毒"};
	enum { N = sizeof(texts) / sizeof(texts[0]) };
	hs_scratch_t *scratch = NULL;
	struct sluice_batch batch;
	struct sluice_batch_results results;
	struct scan alone = {0};
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	cr_assert_eq(sluice_norm_space_init(&alone.norm, 4096, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_init(&batch, N, 4096, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&results, N, 64, &sluice_libc_allocator), 0);
	for (uint32_t i = 0; i < N; i++)
		cr_assert_eq(sluice_batch_add(&batch, texts[i], strlen(texts[i])), (int32_t)i);
	cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0), HS_SUCCESS);
	uint32_t acted = 0;
	for (uint32_t i = 0; i < N; i++) {
		sluice_match_set_init(&alone.set, alone.matches, 64, pack);
		alone.set.norm = &alone.norm;
		cr_assert_eq(
		    sluice_scan_message(pack, scratch, texts[i], strlen(texts[i]), &alone.set),
		    HS_SUCCESS);
		cr_assert(ts_same_sets(&alone.set, sluice_batch_result(&results, i)), "\"%s\"",
			  texts[i]);
		acted += alone.set.count > 0;
	}
	cr_assert_eq(acted, 6);
	sluice_batch_free(&batch);
	sluice_batch_results_free(&results);
	sluice_norm_space_free(&alone.norm);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
}

Test(fold_rules, an_unknown_opt_in_is_refused_with_a_suggestion)
{
	char path[] = "/tmp/sluice-test-optin-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	cr_assert_geq(fd, 0);
	const char *yaml = "rules:\n"
			   "  - id: a\n    category: c\n    action: flag\n"
			   "    normalize: [homophone]\n    literal: x\n"
			   "  - id: b\n    category: c\n    action: flag\n"
			   "    normalize: {separators: 1}\n    literal: y\n";
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	struct sluice_diag_list d = {0};
	struct sluice_rule_list rules;
	cr_assert_eq(sluice_rule_file_load_diags(path, &rules, &d), 2);
	bool suggested = false, shape = false;
	for (size_t i = 0; i < d.count; i++) {
		cr_expect_str_eq(d.items[i].code, "bad-optin");
		suggested |=
		    d.items[i].line == 5 && strstr(d.items[i].message, "homophones") != NULL;
		shape |= d.items[i].line == 10 && strstr(d.items[i].message, "mapping") != NULL;
	}
	cr_expect(suggested, "the typo gets the word it looks like");
	cr_expect(shape, "a mapping is named as one");
	sluice_rule_list_free(&rules);
	sluice_diag_list_free(&d);
	unlink(path);
}
