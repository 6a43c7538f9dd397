/* The rule language end to end: rule files compiled into packs and messages
 * scanned with them. Whole-word matching, literals and lists, allow rules,
 * combinations, expiry, examples checked at compile time, included files,
 * format-2 round trips with several databases, and a 100,000-literal list. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "match.h"
#include "pack.h"
#include "pack_compile.h"
#include "pack_source.h"
#include "rule_file.h"

/* ---- helpers ---- */

static char *fixture(const char *name)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	char *path;

	if (!root || !*root)
		root = ".";
	cr_assert_neq(asprintf(&path, "%s/tests/data/rules/%s", root, name), -1);
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

static char *load_error(const char *name)
{
	char *path = fixture(name);
	struct sluice_pack *pack = (struct sluice_pack *)0x1;
	char err[2048] = "";

	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), -1, "%s was accepted", name);
	cr_assert_null(pack);
	free(path);
	return strdup(err);
}

struct scan {
	struct sluice_match matches[64];
	struct sluice_match_set set;
	const struct sluice_pack *pack;
};

/* Room to fold one message, for packs that normalise (match.h). */
static struct sluice_norm_space *norm_space(void)
{
	static struct sluice_norm_space space;
	if (space.cap == 0)
		cr_assert_eq(sluice_norm_space_init(&space, 1 << 16, &sluice_libc_allocator), 0);
	return &space;
}

static void scan_keep(const struct sluice_pack *pack, const char *text, uint8_t keep,
		      const uint8_t *disabled, struct scan *s)
{
	hs_scratch_t *scratch = NULL;

	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	sluice_match_set_init(&s->set, s->matches, 64, pack);
	s->set.keep = keep;
	s->set.disabled = disabled;
	s->set.norm = norm_space();
	s->pack = pack;
	cr_assert_eq(sluice_scan_message(pack, scratch, text, strlen(text), &s->set), HS_SUCCESS);
	cr_assert_not(s->set.overflow);
	hs_free_scratch(scratch);
}

static void scan(const struct sluice_pack *pack, const char *text, struct scan *s)
{
	scan_keep(pack, text, 0, NULL, s);
}

static long rule_index(const struct sluice_pack *pack, const char *id)
{
	for (size_t i = 0; i < pack->rule_count; i++) {
		if (strcmp(pack->rules[i].id, id) == 0)
			return (long)i;
	}
	cr_assert_fail("no rule %s in the pack", id);
	return -1;
}

static bool matched(const struct scan *s, const char *id)
{
	long r = rule_index(s->pack, id);

	for (uint32_t i = 0; i < s->set.count; i++) {
		if ((long)s->set.matches[i].rule == r)
			return true;
	}
	return false;
}

static bool matched_at(const struct scan *s, const char *id, uint32_t from, uint32_t to)
{
	long r = rule_index(s->pack, id);

	for (uint32_t i = 0; i < s->set.count; i++) {
		const struct sluice_match *m = &s->set.matches[i];
		if ((long)m->rule == r && m->from == from && m->to == to)
			return true;
	}
	return false;
}

static const char *describe(const struct scan *s)
{
	static char buf[1024];
	size_t at = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < s->set.count && at < sizeof(buf) - 64; i++) {
		const struct sluice_match *m = &s->set.matches[i];
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s@%u..%u", i ? ", " : "",
				       s->pack->rules[m->rule].id, m->from, m->to);
	}
	snprintf(buf + at, sizeof(buf) - at, " -> %s", sluice_action_name(s->set.verdict));
	return buf;
}

static char *temp_dir(void)
{
	char *dir = strdup("/tmp/sluice-test-lang-XXXXXX");

	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
}

/* ---- whole words ---- */

Test(whole_word, latin_literal_does_not_match_inside_longer_words)
{
	struct sluice_pack *pack = load("lang_whole_word.yaml");
	struct scan s;

	scan(pack, "assessment", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE);
	scan(pack, "classic passion", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	scan(pack, "rapper", &s);
	cr_expect_eq(s.set.count, 0, "\"rape\" must not hit \"rapper\": %s", describe(&s));
	scan(pack, "pornography", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(whole_word, latin_literal_alone_or_between_non_letters_matches)
{
	struct sluice_pack *pack = load("lang_whole_word.yaml");
	struct scan s;

	scan(pack, "ass", &s);
	cr_expect(matched_at(&s, "en-words", 0, 3), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_FLAG);
	scan(pack, "what an ASS.", &s);
	cr_expect(matched_at(&s, "en-words", 8, 11), "caseless whole word: %s", describe(&s));
	/* Chinese characters are not word characters, so they bound a word:
	 * "这个" is 6 bytes. */
	scan(pack, "这个ass链接", &s);
	cr_expect(matched_at(&s, "en-words", 6, 9), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(whole_word, boundary_only_on_the_sides_that_are_word_characters)
{
	struct sluice_pack *pack = load("lang_whole_word.yaml");
	struct scan s;

	/* "c++" ends in '+', so only its start needs a boundary. */
	scan(pack, "I like c++ code", &s);
	cr_expect(matched_at(&s, "en-words", 7, 10), "%s", describe(&s));
	scan(pack, "c++11", &s);
	cr_expect(matched_at(&s, "en-words", 0, 3), "%s", describe(&s));
	scan(pack, "abc++", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(whole_word, chinese_is_unaffected)
{
	struct sluice_pack *pack = load("lang_whole_word.yaml");
	struct scan s;

	scan(pack, "他口交了", &s);
	cr_expect(matched_at(&s, "zh-word", 3, 9), "%s", describe(&s));
	scan(pack, "abc口交def", &s);
	cr_expect(matched_at(&s, "zh-word", 3, 9), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(whole_word, pattern_gets_boundaries_from_its_possible_edges)
{
	struct sluice_pack *pack = load("lang_whole_word.yaml");
	struct scan s;

	scan(pack, "rapist", &s);
	cr_expect(matched_at(&s, "rap-words", 0, 6), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK);
	scan(pack, "a rape", &s);
	cr_expect(matched_at(&s, "rap-words", 2, 6), "%s", describe(&s));
	scan(pack, "therapist", &s);
	cr_expect_not(matched(&s, "rap-words"), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(whole_word, pattern_with_latin_or_chinese_edges_is_checked_per_match)
{
	struct sluice_pack *pack = load("lang_whole_word.yaml");
	long r = rule_index(pack, "porn-mixed");
	struct scan s;

	/* 'porn|色情' can start with a letter or a Chinese character: no \b
	 * can be added, so the match path checks each match's edges. */
	cr_expect_eq(pack->rules[r].edge_check, 3);
	scan(pack, "pornography", &s);
	cr_expect_not(matched(&s, "porn-mixed"), "%s", describe(&s));
	scan(pack, "色情片", &s);
	cr_expect(matched_at(&s, "porn-mixed", 0, 6), "%s", describe(&s));
	scan(pack, "这是porn", &s);
	cr_expect(matched_at(&s, "porn-mixed", 6, 10), "%s", describe(&s));
	sluice_pack_free(pack);
}

/* ---- literals and lists ---- */

Test(literals, chinese_literal_offsets_are_bytes)
{
	struct sluice_pack *pack = load("lang_literals.yaml");
	struct scan s;

	scan(pack, "加我微信", &s);
	cr_expect(matched_at(&s, "wechat-literal", 6, 12), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_MASK);
	/* "求" is 3 bytes; 星河铁道 12 more, then "2047". */
	scan(pack, "求星河铁道2047全集", &s);
	cr_expect(matched_at(&s, "titles", 3, 19), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(literals, caseless_literal_and_list_ignore_latin_case)
{
	struct sluice_pack *pack = load("lang_literals.yaml");
	struct scan s;

	scan(pack, "CASINO night", &s);
	cr_expect(matched_at(&s, "casino-literal", 0, 6), "%s", describe(&s));
	scan(pack, "watch the LANTERN keepers", &s);
	cr_expect(matched_at(&s, "titles", 6, 25), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(literals, regex_characters_in_a_literal_are_plain_characters)
{
	struct sluice_pack *pack = load("lang_literals.yaml");
	struct scan s;

	scan(pack, "axbbb", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	scan(pack, "x a.b* y", &s);
	cr_expect(matched_at(&s, "dot-literal", 2, 6), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(literals, list_skips_comments_and_blank_lines_and_goes_to_the_literal_database)
{
	struct sluice_pack *pack = load("lang_literals.yaml");
	long r = rule_index(pack, "titles");

	cr_expect_eq(pack->rules[r].kind, SLUICE_RULE_LIST);
	cr_expect_eq(pack->rules[r].literal_count, 3);
	cr_expect_eq(pack->db_count, 1, "literal rules only: one database");
	cr_expect_eq(pack->dbs[0].kind, SLUICE_DB_LITERAL);
	cr_expect_eq(pack->dbs[0].patterns, 6, "three single literals and three list lines");
	sluice_pack_free(pack);
}

/* ---- allow rules ---- */

Test(allow, longer_allowed_term_exempts_the_blocked_term_inside_it)
{
	struct sluice_pack *pack = load("lang_allow.yaml");
	struct scan s;

	scan(pack, "路口交通", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE);
	cr_expect_eq(s.set.exempted, 1);

	scan(pack, "口交", &s);
	cr_expect(matched_at(&s, "kou-jiao", 0, 6), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_FLAG);

	/* Only the overlapping span is exempt: the second 口交 stands. */
	scan(pack, "路口交通口交", &s);
	cr_expect_eq(s.set.count, 1, "%s", describe(&s));
	cr_expect(matched_at(&s, "kou-jiao", 12, 18), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_FLAG);
	sluice_pack_free(pack);
}

Test(allow, official_number_passes_beside_a_masked_phone_number)
{
	struct sluice_pack *pack = load("lang_allow.yaml");
	struct scan s;

	/* 客服 is 6 bytes, the hotline 12, "，或" 6: the mobile number is at
	 * 24..35. */
	scan(pack, "客服400-820-8820，或13812345678", &s);
	cr_expect_eq(s.set.count, 1, "%s", describe(&s));
	cr_expect(matched_at(&s, "phone", 24, 35), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_MASK);

	scan(pack, "客服400-820-8821", &s);
	cr_expect(matched_at(&s, "phone", 6, 18), "another 400 number is masked: %s", describe(&s));
	sluice_pack_free(pack);
}

Test(allow, allow_rule_of_another_category_exempts_nothing)
{
	struct sluice_pack *pack = load("lang_allow.yaml");
	struct scan s;

	scan(pack, "13900000000", &s);
	cr_expect(matched_at(&s, "phone", 0, 11), "%s", describe(&s));
	cr_expect_eq(s.set.exempted, 0);
	sluice_pack_free(pack);
}

Test(allow, allow_matches_are_kept_only_when_asked_and_never_set_the_verdict)
{
	struct sluice_pack *pack = load("lang_allow.yaml");
	struct scan s;

	scan_keep(pack, "路口交通", SLUICE_KEEP_ALLOW, NULL, &s);
	cr_expect_eq(s.set.count, 1, "%s", describe(&s));
	cr_expect(matched_at(&s, "allow-kou-compounds", 0, 9), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE);
	sluice_pack_free(pack);
}

/* ---- combinations ---- */

Test(combination, a_and_b_needs_both)
{
	struct sluice_pack *pack = load("lang_combination.yaml");
	struct scan s;

	scan(pack, "你几岁了", &s);
	cr_expect_eq(s.set.count, 0, "quiet operands never act alone: %s", describe(&s));
	scan(pack, "私聊", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));

	/* 私聊 ends the message at byte 18: the combination spans [0, 18). */
	scan(pack, "你几岁了私聊", &s);
	cr_expect(matched_at(&s, "grooming", 0, 18), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK);
	cr_expect_not(matched(&s, "age"), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(combination, a_and_not_b_is_judged_on_the_whole_message)
{
	struct sluice_pack *pack = load("lang_combination.yaml");
	struct scan s;

	scan(pack, "作为AI我认为", &s);
	cr_expect(matched_at(&s, "unlabelled", 0, 8), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_FLAG);
	/* The label after the cue still counts: Hyperscan alone would report
	 * the combination where the cue ends. */
	scan(pack, "作为AI我认为，AI生成", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	scan(pack, "AI生成。作为AI", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(combination, combination_of_combinations_and_keywords_in_any_case)
{
	struct sluice_pack *pack = load("lang_combination.yaml");
	struct scan s;

	scan(pack, "你几岁了私聊", &s);
	cr_expect(matched_at(&s, "either", 0, 18), "%s", describe(&s));
	scan(pack, "作为AI我认为", &s);
	cr_expect(matched_at(&s, "either", 0, 8), "%s", describe(&s));
	/* "slang AND sale" */
	scan(pack, "溜冰面交", &s);
	cr_expect(matched_at(&s, "slang-for-sale", 0, 12), "%s", describe(&s));
	sluice_pack_free(pack);
}

Test(combination, allow_rule_exempts_an_operand_so_the_combination_does_not_hold)
{
	struct sluice_pack *pack = load("lang_combination.yaml");
	struct scan s;

	scan(pack, "二手溜冰鞋面交", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE);
	sluice_pack_free(pack);
}

Test(combination, expired_operand_counts_as_absent)
{
	struct sluice_pack *pack = load("lang_combination.yaml");
	uint8_t *disabled = calloc(pack->rule_count, 1);
	struct scan s;

	disabled[rule_index(pack, "label")] = 1;
	scan_keep(pack, "AI生成。作为AI", 0, disabled, &s);
	/* AI生成 is 8 bytes, 。 3, 作为AI 8: the cue ends at 19. */
	cr_expect(matched_at(&s, "unlabelled", 0, 19), "%s", describe(&s));
	disabled[rule_index(pack, "label")] = 0;
	disabled[rule_index(pack, "private")] = 1;
	scan_keep(pack, "你几岁了私聊", 0, disabled, &s);
	cr_expect_not(matched(&s, "grooming"), "%s", describe(&s));
	free(disabled);
	sluice_pack_free(pack);
}

Test(combination, has_no_database_of_its_own)
{
	struct sluice_pack *pack = load("lang_combination.yaml");

	/* Combinations are judged from their operands' matches (match.c), so
	 * batch scanning never lets two messages' operands meet. */
	for (size_t i = 0; i < pack->db_count; i++)
		cr_expect_neq(pack->dbs[i].kind, SLUICE_DB_LOGIC);
	cr_expect_eq(pack->combination_count, 4);
	cr_expect(pack->rules[rule_index(pack, "age")].operand);
	cr_expect_not(pack->rules[rule_index(pack, "allow-skates")].operand);
	sluice_pack_free(pack);
}

Test(combination, mask_on_a_combination_is_refused)
{
	struct sluice_rule rules[2] = {
	    {.id = "a", .pattern = "abc", .category = "t", .action = SLUICE_ACTION_FLAG},
	    {.id = "c",
	     .pattern = "a and a",
	     .category = "t",
	     .action = SLUICE_ACTION_MASK,
	     .kind = SLUICE_RULE_COMBINATION,
	     .line = 9,
	     .column = 5},
	};
	struct sluice_rule_list list = {
	    .source = "inline.yaml", .name = "x", .version = "1", .rules = rules, .count = 2};
	struct sluice_pack *pack;
	char err[1024];

	cr_assert_eq(sluice_pack_compile(&list, &pack, err, sizeof(err)), -1);
	cr_expect_str_eq(err,
			 "inline.yaml:9:5: rule c: a combination cannot mask: its match has no "
			 "span of text of its own (it spans the message up to where it became "
			 "true); use flag or block, and mask the operands with rules of their "
			 "own");
}

/* ---- expiry ---- */

Test(expiry, date_means_the_end_of_that_day_utc)
{
	int64_t t;

	cr_assert(sluice_parse_expiry("2020-01-01", &t));
	cr_expect_eq(t, 1577923200, "2020-01-02T00:00:00Z");
	cr_assert(sluice_parse_expiry("2024-02-29", &t));
	cr_expect_eq(t, 1709251200, "2024-03-01T00:00:00Z");
	cr_expect_not(sluice_parse_expiry("2023-02-29", &t));
	cr_expect_not(sluice_parse_expiry("2026-13-01", &t));
	cr_expect_not(sluice_parse_expiry("26-01-01", &t));
}

Test(expiry, start_date_means_the_start_of_that_day_and_the_pack_keeps_it)
{
	char *dir = temp_dir();
	char path[512];
	struct sluice_pack *pack = NULL, *back = NULL;
	char err[2048] = "";

	snprintf(path, sizeof(path), "%s/starts.yaml", dir);
	write_text(path, "name: starts\nversion: \"1\"\nrules:\n"
			 "  - id: premiere\n    category: copyright\n    action: block\n"
			 "    literal: 新片名\n    starts: 2026-12-10\n    expires: 2027-01-31\n");
	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(pack->rules[0].starts_at, 1796860800, "2026-12-10T00:00:00Z");
	cr_assert_eq(pack->rules[0].expires_at, 1801440000, "2027-02-01T00:00:00Z");
	cr_assert_not(sluice_rule_applies(&pack->rules[0], 1796860799));
	cr_assert(sluice_rule_applies(&pack->rules[0], 1796860800));
	cr_assert(sluice_rule_applies(&pack->rules[0], 1801439999));
	cr_assert_not(sluice_rule_applies(&pack->rules[0], 1801440000));
	snprintf(path, sizeof(path), "%s/starts.pack", dir);
	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_read(path, &back, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(back->rules[0].starts_at, pack->rules[0].starts_at);
	cr_assert_eq(back->rules[0].expires_at, pack->rules[0].expires_at);
	sluice_pack_free(back);
	sluice_pack_free(pack);

	/* a start after the expiry, and a start that is no date */
	snprintf(path, sizeof(path), "%s/never.yaml", dir);
	write_text(path, "name: never\nversion: \"1\"\nrules:\n"
			 "  - id: never\n    category: x\n    action: block\n    literal: x\n"
			 "    starts: 2026-12-10\n    expires: 2026-12-09\n"
			 "  - id: typo\n    category: x\n    action: block\n    literal: y\n"
			 "    starts: 2026-12-32\n");
	pack = (struct sluice_pack *)0x1;
	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), -1);
	struct sluice_rule_list rules;
	struct sluice_diag_list diags = {0};
	cr_assert_eq(sluice_rule_file_load_diags(path, &rules, &diags), 1, "typo only: %s",
		     diags.count ? diags.items[0].message : "");
	cr_assert(strstr(diags.items[0].message, "starts '2026-12-32' is not a date") != NULL);
	sluice_diag_list_free(&diags);
	sluice_rule_list_free(&rules);
	const char *made[] = {"starts.yaml", "starts.pack", "never.yaml"};
	for (size_t i = 0; i < sizeof(made) / sizeof(made[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, made[i]);
		unlink(path);
	}
	cr_assert_eq(rmdir(dir), 0, "%s holds only what the test made", dir);
	free(dir);
}

Test(expiry, compile_keeps_an_expired_rule_with_its_expiry)
{
	struct sluice_rule_list list;
	struct sluice_pack *pack = NULL;
	char err[2048] = "";
	char *path = fixture("lint_examples.yaml");
	struct sluice_diag_list diags = {0};

	/* lint_examples.yaml has other problems; the keep-going loader still
	 * returns its good rules, and the compiler in partial mode builds them. */
	sluice_rule_file_load_diags(path, &list, &diags);
	cr_assert_eq(sluice_pack_build(&list, true, &diags, &pack), 0);
	long r = rule_index(pack, "expired-notice");
	cr_expect_eq(pack->rules[r].expires_at, 1577923200);
	struct scan s;
	scan(pack, "an old notice", &s);
	cr_expect(matched_at(&s, "expired-notice", 3, 13), "still scanned: %s", describe(&s));
	uint8_t *disabled = calloc(pack->rule_count, 1);
	disabled[r] = 1;
	scan_keep(pack, "an old notice", 0, disabled, &s);
	cr_expect_eq(s.set.count, 0, "disabled once expired: %s", describe(&s));
	free(disabled);
	(void)err;
	sluice_pack_free(pack);
	sluice_rule_list_free(&list);
	sluice_diag_list_free(&diags);
	free(path);
}

/* ---- examples ---- */

Test(examples, failing_example_is_a_compile_error_naming_it)
{
	char *err = load_error("lang_examples_bad.yaml");
	char *path = fixture("lang_examples_bad.yaml");
	char *want;

	cr_assert_neq(asprintf(&want,
			       "%s:10:9: rule phone: example '1381234567' should match but does "
			       "not; fix the pattern or the example",
			       path),
		      -1);
	cr_expect_str_eq(err, want);
	free(want);
	free(path);
	free(err);
}

Test(examples, does_not_match_example_that_matches_names_the_span)
{
	char *err = load_error("lang_examples_bad2.yaml");
	char *path = fixture("lang_examples_bad2.yaml");
	char *want;

	cr_assert_neq(
	    asprintf(&want,
		     "%s:11:9: rule titles: example '求星河铁道2047' should not match, but "
		     "the rule matches '星河铁道2047' (bytes 3..19); fix the list or the "
		     "example",
		     path),
	    -1);
	cr_expect_str_eq(err, want);
	free(want);
	free(path);
	free(err);
}

Test(examples, passing_examples_compile)
{
	struct sluice_pack *pack = load("lang_examples_ok.yaml");

	cr_expect_eq(pack->rule_count, 3);
	sluice_pack_free(pack);
}

/* ---- includes ---- */

Test(include, rules_of_included_files_join_the_pack)
{
	struct sluice_pack *pack = load("include/main.yaml");
	struct scan s;

	cr_expect_str_eq(pack->name, "include-main", "the including file names the pack");
	cr_expect_str_eq(pack->version, "7");
	cr_expect_eq(pack->rule_count, 3);
	cr_expect_str_eq(pack->rules[0].id, "from-a", "included files first, in order");
	cr_expect_str_eq(pack->rules[1].id, "from-b");
	cr_expect_str_eq(pack->rules[2].id, "a-and-b");
	/* from-b's list path is relative to sub/b.yaml. */
	scan(pack, "alpha and beta", &s);
	cr_expect(matched_at(&s, "a-and-b", 0, 14), "%s", describe(&s));
	cr_expect(matched_at(&s, "from-a", 0, 5), "%s", describe(&s));
	cr_expect(matched_at(&s, "from-b", 10, 14), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK);
	sluice_pack_free(pack);
}

Test(include, loader_records_every_file_read)
{
	struct sluice_rule_list list;
	char err[1024] = "";
	char *path = fixture("include/main.yaml");

	cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(list.file_count, 3);
	cr_expect_str_eq(list.files[0], path);
	cr_expect_not_null(strstr(list.files[2], "include/sub/b.yaml"), "%s", list.files[2]);
	cr_expect_not_null(strstr(list.rules[1].file, "include/sub/b.yaml"), "%s",
			   list.rules[1].file);
	cr_expect_eq(list.rules[1].line, 3);
	sluice_rule_list_free(&list);
	free(path);
}

Test(include, cycle_is_refused_naming_the_chain)
{
	char *err = load_error("include/cycle_a.yaml");
	char *a = fixture("include/cycle_a.yaml");
	char *b = fixture("include/cycle_b.yaml");
	char *want;

	cr_assert_neq(asprintf(&want,
			       "%s:2:5: include cycle: %s includes %s, which includes %s again; "
			       "remove this include",
			       b, a, b, a),
		      -1);
	cr_expect_str_eq(err, want);
	free(want);
	free(a);
	free(b);
	free(err);
}

Test(include, file_included_twice_is_refused)
{
	char *err = load_error("include/twice.yaml");
	char *twice = fixture("include/twice.yaml");
	char *want;

	cr_assert_neq(asprintf(&want, "%s:4:5: ", twice), -1);
	cr_expect_eq(strncmp(err, want, strlen(want)), 0, "%s", err);
	cr_expect_not_null(strstr(err, "is already included (at "), "%s", err);
	cr_expect_not_null(strstr(err, "twice.yaml:3:5); include each file once"), "%s", err);
	free(want);
	free(twice);
	free(err);
}

Test(include, id_defined_in_two_files_names_both)
{
	char *err = load_error("include/dup_id.yaml");
	char *main = fixture("include/dup_id.yaml");
	char *a = fixture("include/a.yaml");
	char *want;

	cr_assert_neq(
	    asprintf(&want,
		     "%s:5:5: rule from-a: duplicate id; it is first defined at %s:3; ids "
		     "are unique across included files, so give each rule its own id",
		     main, a),
	    -1);
	cr_expect_str_eq(err, want);
	free(want);
	free(main);
	free(a);
	free(err);
}

/* ---- pack format 2 ---- */

static char *write_pack(const struct sluice_pack *pack)
{
	char *path = strdup("/tmp/sluice-test-lang-pack-XXXXXX");
	char err[1024] = "";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	return path;
}

static void expect_same_scan(const struct sluice_pack *a, const struct sluice_pack *b,
			     const char *text)
{
	struct scan x, y;

	scan_keep(a, text, SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW, NULL, &x);
	scan_keep(b, text, SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW, NULL, &y);
	cr_expect_eq(x.set.count, y.set.count, "\"%s\": %s", text, describe(&x));
	cr_expect_eq(x.set.verdict, y.set.verdict, "\"%s\"", text);
	for (uint32_t i = 0; i < x.set.count && i < y.set.count; i++) {
		cr_expect_eq(x.matches[i].rule, y.matches[i].rule, "\"%s\" match %u", text, i);
		cr_expect_eq(x.matches[i].from, y.matches[i].from, "\"%s\" match %u", text, i);
		cr_expect_eq(x.matches[i].to, y.matches[i].to, "\"%s\" match %u", text, i);
	}
}

Test(pack_v2, round_trip_keeps_every_database_and_field_and_scans_the_same)
{
	struct sluice_pack *compiled = load("lang_mixed.yaml"), *read = NULL;
	char *path = write_pack(compiled);
	char err[1024] = "";
	static const char *const texts[] = {
	    "加我微信 13812345678", "路口交通 口交",  "你几岁了私聊",
	    "作为AI我认为",	    "作为AI，AI生成", "ASS and assessment",
	    "nothing here",	    "400-820-8820",   "加群领福利",
	};

	cr_assert_eq(compiled->db_count, 4);
	cr_assert_eq(sluice_pack_read(path, &read, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(read->sha256_hex, compiled->sha256_hex);
	cr_expect_str_eq(read->owner, "test team");
	cr_expect_str_eq(read->description, "every kind of rule");
	cr_expect_eq(read->db_count, compiled->db_count);
	cr_expect_eq(read->db_bytes, compiled->db_bytes);
	cr_expect_eq(read->compile_ms, 0.0, "compile time is not stored");
	cr_expect_gt(compiled->compile_ms, 0.0);
	for (size_t d = 0; d < read->db_count; d++) {
		cr_expect_eq(read->dbs[d].kind, compiled->dbs[d].kind);
		cr_expect_eq(read->dbs[d].patterns, compiled->dbs[d].patterns);
		cr_expect_eq(read->dbs[d].id_count, compiled->dbs[d].id_count);
		cr_expect_eq(read->dbs[d].bytes, compiled->dbs[d].bytes);
		cr_expect_eq(memcmp(read->dbs[d].map, compiled->dbs[d].map,
				    read->dbs[d].id_count * sizeof(*read->dbs[d].map)),
			     0);
	}
	cr_expect_eq(read->dbs[0].kind, SLUICE_DB_LITERAL);
	cr_expect_eq(read->dbs[1].kind, SLUICE_DB_REGEX);
	cr_expect_eq(read->dbs[2].kind, SLUICE_DB_ANCHORED);
	cr_expect_eq(read->dbs[2].patterns, 1, "only ^加群 is anchored");
	cr_expect_eq(read->dbs[3].kind, SLUICE_DB_REGEX_ENDS);
	cr_expect_eq(read->dbs[3].patterns, read->dbs[1].patterns,
		     "the regex patterns, without SOM");
	cr_assert_eq(read->rule_count, compiled->rule_count);
	for (size_t i = 0; i < read->rule_count; i++) {
		const struct sluice_pack_rule *x = &compiled->rules[i], *y = &read->rules[i];
		cr_expect_str_eq(y->id, x->id);
		cr_expect_str_eq(y->category, x->category);
		cr_expect_str_eq(y->pattern, x->pattern);
		cr_expect_str_eq(y->description, x->description);
		cr_expect_eq(y->action, x->action, "%s", x->id);
		cr_expect_eq(y->kind, x->kind, "%s", x->id);
		cr_expect_eq(y->severity, x->severity, "%s", x->id);
		cr_expect_eq(y->flags, x->flags, "%s", x->id);
		cr_expect_eq(y->caseless, x->caseless, "%s", x->id);
		cr_expect_eq(y->quiet, x->quiet, "%s", x->id);
		cr_expect_eq(y->allow, x->allow, "%s", x->id);
		cr_expect_eq(y->operand, x->operand, "%s", x->id);
		cr_expect_eq(y->expires_at, x->expires_at, "%s", x->id);
		cr_expect_eq(y->literal_count, x->literal_count, "%s", x->id);
		cr_expect_eq(y->category_index, x->category_index, "%s", x->id);
		cr_expect_eq(y->edge_check, x->edge_check, "%s", x->id);
		cr_expect_eq(y->logic_len, x->logic_len, "%s", x->id);
	}
	cr_expect_eq(read->rules[rule_index(read, "severe")].severity, SLUICE_SEVERITY_CRITICAL);
	cr_expect_eq(read->rules[rule_index(read, "severe")].expires_at, 1893542400);
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++)
		expect_same_scan(compiled, read, texts[t]);

	sluice_pack_free(read);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;

	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(*len + SLUICE_PACK_HEADER_LEN);
	cr_assert_eq(fread(buf, 1, *len, f), *len);
	fclose(f);
	return buf;
}

static void write_all(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
}

static void reseal(uint8_t *img, size_t len)
{
	uint64_t body = len - SLUICE_PACK_HEADER_LEN;
	unsigned int n = 0;

	for (int i = 0; i < 8; i++)
		img[16 + i] = (uint8_t)(body >> (8 * i));
	cr_assert_eq(
	    EVP_Digest(img + SLUICE_PACK_HEADER_LEN, body, img + 24, &n, EVP_sha256(), NULL), 1);
}

Test(pack_v2, version_1_pack_is_refused_with_a_clear_message)
{
	struct sluice_pack *compiled = load("lang_literals.yaml"), *read = NULL;
	char *path = write_pack(compiled);
	char err[1024] = "", *want;
	size_t len;
	uint8_t *img = read_all(path, &len);

	img[8] = 1; /* format version 1 */
	write_all(path, img, len);
	cr_assert_eq(sluice_pack_read(path, &read, err, sizeof(err)), -1);
	cr_assert_neq(asprintf(&want,
			       "%s: pack format version 1 is not supported; this build reads "
			       "versions 2 to 5 (several databases, the full rule language): "
			       "compile the rules again with this version of sluice-pack",
			       path),
		      -1);
	cr_expect_str_eq(err, want);
	free(want);
	free(img);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

Test(pack_v2, resealed_body_with_a_bad_database_map_is_refused_before_hyperscan)
{
	struct sluice_pack *compiled = load("lang_literals.yaml"), *read = NULL;
	char *path = write_pack(compiled);
	char err[1024] = "";
	size_t len;
	uint8_t *img = read_all(path, &len);
	/* The literal database: kind 1, folded view (1), 6 expressions, 6 ids,
	 * then its id map, whose first entry is rule 0 with the length of "微信"
	 * (6). Point that entry at a rule that does not exist. */
	static const uint8_t db_start[18] = {1, 1, 6, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0};
	uint8_t *at = memmem(img + SLUICE_PACK_HEADER_LEN, len - SLUICE_PACK_HEADER_LEN, db_start,
			     sizeof(db_start));

	cr_assert_not_null(at);
	at[10] = 99;
	reseal(img, len);
	write_all(path, img, len);
	cr_assert_eq(sluice_pack_read(path, &read, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "malformed pack body: database id 0 names rule 99 of 4"),
			   "%s", err);
	free(img);
	sluice_pack_free(compiled);
	unlink(path);
	free(path);
}

/* ---- 100,000 literals ---- */

static long rss_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, strlen(field)) == 0)
			v = strtol(line + strlen(field) + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Titles as analysts' lists hold them: Latin ones and Chinese ones. */
static void title(unsigned i, char *buf, size_t len)
{
	static const char *const zh[] = {"星河", "铁道", "雾港", "来信", "青铜",
					 "巷口", "往事", "远山", "捕梦", "灯塔"};

	if (i % 2)
		snprintf(buf, len, "title-%06u", i);
	else
		snprintf(buf, len, "%s%s%s第%u集", zh[i % 10], zh[(i / 10) % 10],
			 zh[(i / 100) % 10], i);
}

Test(scale, hundred_thousand_literal_list_compiles_and_matches, .timeout = 240)
{
	char *dir = temp_dir(), *list, *rules;
	char buf[64];
	FILE *f;

	cr_assert_neq(asprintf(&list, "%s/titles.txt", dir), -1);
	cr_assert_neq(asprintf(&rules, "%s/rules.yaml", dir), -1);
	f = fopen(list, "w");
	cr_assert_not_null(f);
	fprintf(f, "# generated by test_rule_language.c\n");
	for (unsigned i = 0; i < 100000; i++) {
		title(i, buf, sizeof(buf));
		fprintf(f, "%s\n", buf);
	}
	cr_assert_eq(fclose(f), 0);
	write_text(rules, "name: scale\n"
			  "rules:\n"
			  "  - id: titles\n"
			  "    category: copyright\n"
			  "    action: block\n"
			  "    list: titles.txt\n"
			  "    matches: ['求title-099999全集']\n");

	long before = rss_kib("VmRSS:");
	double start = now_ms();
	struct sluice_pack *pack = NULL;
	char err[1024] = "";
	cr_assert_eq(sluice_pack_load(rules, &pack, err, sizeof(err)), 0, "%s", err);
	double ms = now_ms() - start;
	uint8_t *image;
	size_t image_len;
	cr_assert_eq(sluice_pack_serialize(pack, &image, &image_len, NULL, err, sizeof(err)), 0);
	free(image);
	cr_log_info("100,000 literals: compiled in %.0f ms (compile_ms %.0f), database %zu bytes, "
		    "pack file %zu bytes, VmRSS %ld KiB (before %ld), VmHWM %ld KiB",
		    ms, pack->compile_ms, pack->db_bytes, image_len, rss_kib("VmRSS:"), before,
		    rss_kib("VmHWM:"));

	cr_expect_eq(pack->db_count, 1);
	cr_expect_eq(pack->dbs[0].kind, SLUICE_DB_LITERAL);
	cr_expect_eq(pack->dbs[0].patterns, 100000);
	cr_expect_eq(pack->rules[0].literal_count, 100000);

	/* A sample of the titles, each inside a message: exact byte spans. */
	for (unsigned i = 0; i < 100000; i += 997) {
		char text[128];
		struct scan s;
		title(i, buf, sizeof(buf));
		snprintf(text, sizeof(text), "求%s的资源", buf);
		scan(pack, text, &s);
		cr_assert(matched_at(&s, "titles", 3, 3 + (uint32_t)strlen(buf)), "\"%s\": %s",
			  text, describe(&s));
	}
	struct scan s;
	scan(pack, "title-0000011", &s);
	cr_expect(matched_at(&s, "titles", 0, 12), "title-000001 is a prefix of it: %s",
		  describe(&s));
	scan(pack, "今天天气不错", &s);
	cr_expect_eq(s.set.count, 0, "%s", describe(&s));

	sluice_pack_free(pack);
	unlink(list);
	unlink(rules);
	rmdir(dir);
	free(list);
	free(rules);
	free(dir);
}
