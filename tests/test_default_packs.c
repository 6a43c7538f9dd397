/* The default packs (patterns/packs/): every pack compiles (which also checks
 * every rule's matches/does_not_match examples), has the rules per category we
 * expect, and the packs behave together as documented: phone numbers masked at
 * exact byte spans, allow rules exempting everyday words, whole-word English
 * terms, combinations acting only when both halves appear, notified titles
 * blocked with an offer. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "match.h"
#include "pack.h"
#include "pack_source.h"

/* ---- helpers ---- */

static const char *source_root(void)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");

	return root && *root ? root : ".";
}

static char *pack_path(const char *name)
{
	char *path;

	cr_assert_neq(asprintf(&path, "%s/patterns/packs/%s", source_root(), name), -1);
	return path;
}

static struct sluice_pack *load_pack(const char *name)
{
	char *path = pack_path(name);
	struct sluice_pack *pack = NULL;
	char err[2048] = "";

	cr_assert_eq(sluice_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", name, err);
	cr_assert_not_null(pack, "%s", name);
	free(path);
	return pack;
}

/* Distinct rule ids of one category: a list rule may be compiled into many
 * Hyperscan patterns, but it is one rule to the analyst. */
static size_t rules_in_category(const struct sluice_pack *pack, const char *category)
{
	size_t n = 0;

	for (size_t i = 0; i < pack->rule_count; i++) {
		const struct sluice_pack_rule *r = &pack->rules[i];
		bool seen = false;

		if (strcmp(r->category, category) != 0)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(pack->rules[k].id, r->id) == 0;
		if (!seen)
			n++;
	}
	return n;
}

static size_t distinct_rules(const struct sluice_pack *pack)
{
	size_t n = 0;

	for (size_t i = 0; i < pack->rule_count; i++) {
		bool seen = false;

		for (size_t k = 0; k < i && !seen; k++)
			seen = strcmp(pack->rules[k].id, pack->rules[i].id) == 0;
		if (!seen)
			n++;
	}
	return n;
}

static bool has_rule(const struct sluice_pack *pack, const char *id)
{
	for (size_t i = 0; i < pack->rule_count; i++) {
		if (strcmp(pack->rules[i].id, id) == 0)
			return true;
	}
	return false;
}

struct scan {
	struct sluice_match matches[64];
	struct sluice_match_set set;
	const struct sluice_pack *pack;
};

static void scan_text(const struct sluice_pack *pack, const char *text, struct scan *s)
{
	hs_scratch_t *scratch = NULL;

	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	sluice_match_set_init(&s->set, s->matches, 64, pack);
	s->pack = pack;
	cr_assert_eq(sluice_scan_message(pack, scratch, text, strlen(text), &s->set), HS_SUCCESS,
		     "scanning \"%s\"", text);
	cr_assert(!s->set.overflow, "\"%s\": more matches than expected", text);
	hs_free_scratch(scratch);
}

/* True if the scan reported rule `id` (any span). */
static bool matched(const struct scan *s, const char *id)
{
	for (uint32_t i = 0; i < s->set.count; i++) {
		if (strcmp(s->pack->rules[s->set.matches[i].rule].id, id) == 0)
			return true;
	}
	return false;
}

/* True if the scan reported rule `id` at exactly [from, to). */
static bool matched_at(const struct scan *s, const char *id, uint32_t from, uint32_t to)
{
	for (uint32_t i = 0; i < s->set.count; i++) {
		const struct sluice_match *m = &s->set.matches[i];
		if (strcmp(s->pack->rules[m->rule].id, id) == 0 && m->from == from && m->to == to)
			return true;
	}
	return false;
}

/* Every reported match, for assertion messages. */
static const char *describe(const struct scan *s)
{
	static char buf[2048];
	size_t at = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < s->set.count && at < sizeof(buf) - 1; i++) {
		const struct sluice_match *m = &s->set.matches[i];
		int n = snprintf(buf + at, sizeof(buf) - at, "%s%s@%u..%u", i ? ", " : "",
				 s->pack->rules[m->rule].id, m->from, m->to);
		if (n < 0)
			break;
		at += (size_t)n;
	}
	if (at >= sizeof(buf))
		at = sizeof(buf) - 1;
	snprintf(buf + at, sizeof(buf) - at, " -> %s", sluice_action_name(s->set.verdict));
	return buf;
}

/* ---- every pack compiles, with the rules we expect ---- */

struct category_count {
	const char *category;
	size_t rules;
};

static void check_pack(const char *file, const char *name, const struct category_count *want,
		       size_t nwant)
{
	struct sluice_pack *pack = load_pack(file);
	size_t total = 0;

	cr_expect_str_eq(pack->name, name, "%s: pack name", file);
	for (size_t i = 0; i < nwant; i++) {
		size_t got = rules_in_category(pack, want[i].category);
		cr_expect_eq(got, want[i].rules, "%s: %zu rules in category %s, expected %zu", file,
			     got, want[i].category, want[i].rules);
		total += want[i].rules;
	}
	cr_expect_eq(distinct_rules(pack), total, "%s: %zu rules in all, expected %zu", file,
		     distinct_rules(pack), total);
	sluice_pack_free(pack);
}

#define CHECK_PACK(file, name, ...)                                                                \
	do {                                                                                       \
		static const struct category_count want_[] = {__VA_ARGS__};                        \
		check_pack(file, name, want_, sizeof(want_) / sizeof(want_[0]));                   \
	} while (0)

Test(default_packs, contact)
{
	CHECK_PACK("contact.yaml", "contact", {"contact", 11});
}

Test(default_packs, minors)
{
	CHECK_PACK("minors.yaml", "minors", {"minors", 10});
}

Test(default_packs, sexual)
{
	CHECK_PACK("sexual.yaml", "sexual", {"sexual", 9}, {"child_exploitation", 15});
}

Test(default_packs, gambling)
{
	CHECK_PACK("gambling.yaml", "gambling", {"gambling", 6});
}

Test(default_packs, drugs)
{
	CHECK_PACK("drugs.yaml", "drugs", {"drugs", 9});
}

Test(default_packs, collectibles)
{
	CHECK_PACK("collectibles.yaml", "collectibles", {"digital_collectibles", 4});
}

Test(default_packs, ai_content)
{
	CHECK_PACK("ai-content.yaml", "ai-content", {"ai_content", 6});
}

Test(default_packs, copyright)
{
	CHECK_PACK("copyright.yaml", "copyright", {"copyright", 4});
}

Test(default_packs, all)
{
	CHECK_PACK("all.yaml", "sluice-regulated", {"contact", 11}, {"minors", 10}, {"sexual", 9},
		   {"child_exploitation", 15}, {"gambling", 6}, {"drugs", 9},
		   {"digital_collectibles", 4}, {"ai_content", 6}, {"copyright", 4});

	struct sluice_pack *pack = load_pack("all.yaml");
	cr_expect_str_eq(pack->version, "2026.11.23-1");
	sluice_pack_free(pack);
}

/* The 100,000-title list is generated, not committed (see scale-100k.yaml). */
Test(default_packs, scale_100k, .timeout = 170)
{
	char *list = pack_path("lists/generated/titles-100k.txt");

	if (access(list, R_OK) != 0) {
		free(list);
		cr_skip_test("lists/generated/titles-100k.txt not generated; see "
			     "patterns/packs/scale-100k.yaml");
	}
	free(list);
	CHECK_PACK("scale-100k.yaml", "sluice-scale-100k", {"copyright", 1});

	struct sluice_pack *pack = load_pack("scale-100k.yaml");
	struct scan s;
	scan_text(pack, "求Northern Station Forever的资源", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));
	scan_text(pack, "今天天气不错", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));
	sluice_pack_free(pack);
}

/* ---- the packs together (all.yaml) ---- */

static struct sluice_pack *regulated;

static void load_regulated(void)
{
	regulated = load_pack("all.yaml");
}

static void free_regulated(void)
{
	sluice_pack_free(regulated);
	regulated = NULL;
}

TestSuite(regulated, .init = load_regulated, .fini = free_regulated);

struct phone_case {
	const char *text;
	uint32_t from, to;
};

/* Byte spans: ASCII digits are 1 byte, full-width digits and 电/话/加/我/吧 are
 * 3 bytes each. The mask covers the number and nothing around it. */
Test(regulated, phone_numbers_masked_at_exact_spans)
{
	static const struct phone_case cases[] = {
	    {"13812345678", 0, 11},
	    {"电话138 1234 5678", 6, 19},
	    {"138-1234-5678", 0, 13},
	    {"１３８１２３４５６７８", 0, 33},
	    {"加我１３８-1234-5678吧", 6, 25},
	    {"call 139 1234-5678 now", 5, 18},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scan s;

		scan_text(regulated, cases[i].text, &s);
		cr_expect(matched_at(&s, "phone-cn-mobile", cases[i].from, cases[i].to),
			  "\"%s\": expected phone-cn-mobile at %u..%u, got %s", cases[i].text,
			  cases[i].from, cases[i].to, describe(&s));
		cr_expect_eq(s.set.verdict, SLUICE_ACTION_MASK, "\"%s\": %s", cases[i].text,
			     describe(&s));
	}
}

Test(regulated, official_hotline_allowed)
{
	struct scan s;

	scan_text(regulated, "官方客服400-820-8820", &s);
	cr_expect(!matched(&s, "phone-cn-service"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "客服400-123-4567", &s);
	cr_expect(matched_at(&s, "phone-cn-service", 6, 18), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_MASK, "%s", describe(&s));
}

Test(regulated, allow_rule_exempts_kou_jiao_in_lukou_jiaotong)
{
	struct scan s;

	scan_text(regulated, "路口交通", &s);
	cr_expect(!matched(&s, "nw-zh"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "口交", &s);
	cr_expect(matched_at(&s, "nw-zh", 0, 6), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_FLAG, "%s", describe(&s));
}

Test(regulated, english_list_is_whole_word)
{
	struct scan s;

	scan_text(regulated, "assessment", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "ass", &s);
	cr_expect(matched_at(&s, "nw-en", 0, 3), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_FLAG, "%s", describe(&s));

	scan_text(regulated, "what an ASS.", &s);
	cr_expect(matched_at(&s, "nw-en", 8, 11), "%s", describe(&s));
}

Test(regulated, minors_combination_needs_both_halves)
{
	struct scan s;

	/* The operands are quiet: alone they neither act nor are reported. */
	scan_text(regulated, "你几岁了？", &s);
	cr_expect(!matched(&s, "minors-grooming-age-private"), "%s", describe(&s));
	cr_expect(!matched(&s, "minors-age-question-zh"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "加我私聊", &s);
	cr_expect(!matched(&s, "minors-grooming-age-private"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "你几岁了？加我私聊", &s);
	cr_expect(matched(&s, "minors-grooming-age-private"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));

	scan_text(regulated, "how old are you? dm me", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));
}

Test(regulated, notified_title_with_offer_blocked)
{
	struct scan s;

	scan_text(regulated, "求星河铁道2047全集网盘", &s);
	cr_expect(matched(&s, "copyright-offer-notified"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));

	scan_text(regulated, "The Lantern Keepers full episodes", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));

	/* A mention alone is not an infringement. */
	scan_text(regulated, "昨晚看了雾港来信，太好看了", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));
}

Test(regulated, slang_needs_sale_context_and_allow_covers_everyday_words)
{
	struct scan s;

	scan_text(regulated, "冰糖纯度高，同城配送", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));

	scan_text(regulated, "周末去溜冰", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "二手溜冰鞋面交", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));
}

Test(regulated, child_exploitation_blocked_fandom_cp_not)
{
	struct scan s;

	scan_text(regulated, "萝莉裸照", &s);
	cr_expect(matched(&s, "csae-minor-sexual"), "%s", describe(&s));
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_BLOCK, "%s", describe(&s));

	scan_text(regulated, "小学生都在嗑cp", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));

	scan_text(regulated, "萝莉裙出售", &s);
	cr_expect_eq(s.set.verdict, SLUICE_ACTION_NONE, "%s", describe(&s));
}

Test(regulated, every_category_is_present)
{
	static const char *const ids[] = {
	    "phone-cn-mobile",
	    "allow-official-hotline",
	    "minors-grooming-age-private",
	    "nw-zh",
	    "nw-en",
	    "csae-minor-sexual",
	    "gambling-bonus-lure",
	    "drugs-named-for-sale",
	    "collectibles-speculation",
	    "ai-unlabelled-text",
	    "copyright-offer-notified",
	};

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		cr_expect(has_rule(regulated, ids[i]), "all.yaml lacks rule %s", ids[i]);
}
