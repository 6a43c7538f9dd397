/* The default packs (patterns/packs/): every pack compiles (which also checks
 * every rule's matches/does_not_match examples), has the rules per category we
 * expect, and the packs behave together as documented: phone numbers masked at
 * exact byte spans, allow rules exempting everyday words, whole-word English
 * terms, combinations acting only when both halves appear, notified titles
 * blocked with an offer. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "match.h"
#include "pack.h"
#include "pack_source.h"
#include "rule_file.h"

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

/* Room to fold one message, for packs that normalise (match.h). */
static struct sluice_norm_space *norm_space(void)
{
	static struct sluice_norm_space space;
	if (space.cap == 0)
		cr_assert_eq(sluice_norm_space_init(&space, 1 << 16, &sluice_libc_allocator), 0);
	return &space;
}

static void scan_text(const struct sluice_pack *pack, const char *text, struct scan *s)
{
	hs_scratch_t *scratch = NULL;

	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	sluice_match_set_init(&s->set, s->matches, 64, pack);
	s->set.norm = norm_space();
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

/* ---- every pack compiles, and every rule does what its examples say ---- */

/* Behaviour, not counts: rules come and go as trust-and-safety works, and a
 * new or removed rule is not a defect. A rule that stops matching its own
 * examples (or starts matching its counter-examples), a rule filed under a
 * category its pack does not cover, or an acting rule with no example to show
 * what it catches, is. The examples are scanned here with the compiled pack,
 * independently of the compiler's own check. */
static void check_pack(const char *file, const char *name, const char *const *categories,
		       size_t ncategories)
{
	char err[2048] = "";
	char *path = pack_path(file);
	struct sluice_rule_list rules;
	cr_assert_eq(sluice_rule_file_load(path, &rules, err, sizeof(err)), 0, "%s", err);
	struct sluice_pack *pack = load_pack(file);
	cr_expect_str_eq(pack->name, name, "%s: pack name", file);
	cr_assert_gt(pack->rule_count, 0, "%s has no rules", file);

	size_t acting = 0, examples = 0;
	for (size_t i = 0; i < rules.count; i++) {
		const struct sluice_rule *r = &rules.rules[i];
		bool covered = false;
		for (size_t c = 0; c < ncategories; c++)
			covered |= strcmp(r->category, categories[c]) == 0;
		cr_expect(covered, "%s: rule %s has category %s, which this pack does not cover",
			  file, r->id, r->category);
		if (r->allow || r->quiet)
			continue;
		acting++;
		cr_expect_gt(r->example_count, 0, "%s: rule %s acts but shows no example", file,
			     r->id);
		for (size_t k = 0; k < r->example_count; k++) {
			const struct sluice_example *e = &r->examples[k];
			struct scan sc;
			scan_text(pack, e->text, &sc);
			if (e->should_match)
				cr_expect(matched(&sc, r->id),
					  "%s: rule %s misses its example \"%s\": %s", file, r->id,
					  e->text, describe(&sc));
			else
				cr_expect(!matched(&sc, r->id),
					  "%s: rule %s matches its counter-example \"%s\": %s",
					  file, r->id, e->text, describe(&sc));
			examples++;
		}
	}
	cr_assert_gt(acting, 0, "%s: no rule acts", file);
	cr_log_info("%s: %zu rules, %zu acting, %zu examples hold", file, rules.count, acting,
		    examples);
	sluice_rule_list_free(&rules);
	sluice_pack_free(pack);
	free(path);
}

#define CHECK_PACK(file, name, ...)                                                                \
	do {                                                                                       \
		static const char *const categories_[] = {__VA_ARGS__};                            \
		check_pack(file, name, categories_, sizeof(categories_) / sizeof(categories_[0])); \
	} while (0)

Test(default_packs, contact)
{
	CHECK_PACK("contact.yaml", "contact", "contact");
}

Test(default_packs, minors)
{
	CHECK_PACK("minors.yaml", "minors", "minors");
}

Test(default_packs, sexual)
{
	CHECK_PACK("sexual.yaml", "sexual", "sexual", "child_exploitation");
}

Test(default_packs, gambling)
{
	CHECK_PACK("gambling.yaml", "gambling", "gambling");
}

Test(default_packs, drugs)
{
	CHECK_PACK("drugs.yaml", "drugs", "drugs");
}

Test(default_packs, collectibles)
{
	CHECK_PACK("collectibles.yaml", "collectibles", "digital_collectibles");
}

Test(default_packs, ai_content)
{
	CHECK_PACK("ai-content.yaml", "ai-content", "ai_content");
}

Test(default_packs, copyright)
{
	CHECK_PACK("copyright.yaml", "copyright", "copyright");
}

/* all.yaml is every category pack together: each of their rules is in it,
 * under the same id, and acts the same. */
Test(default_packs, all)
{
	static const char *const parts[] = {"contact.yaml",    "minors.yaml",	"sexual.yaml",
					    "gambling.yaml",   "drugs.yaml",	"collectibles.yaml",
					    "ai-content.yaml", "copyright.yaml"};
	CHECK_PACK("all.yaml", "sluice-regulated", "contact", "minors", "sexual",
		   "child_exploitation", "gambling", "drugs", "digital_collectibles", "ai_content",
		   "copyright");
	struct sluice_pack *all = load_pack("all.yaml");
	for (size_t f = 0; f < sizeof(parts) / sizeof(parts[0]); f++) {
		struct sluice_pack *part = load_pack(parts[f]);
		for (size_t i = 0; i < part->rule_count; i++) {
			const struct sluice_pack_rule *r = &part->rules[i];
			const struct sluice_pack_rule *in_all = NULL;
			for (size_t k = 0; k < all->rule_count && in_all == NULL; k++)
				if (strcmp(all->rules[k].id, r->id) == 0)
					in_all = &all->rules[k];
			cr_expect_not_null(in_all, "all.yaml lacks %s's rule %s", parts[f], r->id);
			if (in_all != NULL)
				cr_expect(
				    in_all->action == r->action && in_all->allow == r->allow &&
					strcmp(in_all->category, r->category) == 0,
				    "rule %s differs between %s and all.yaml", r->id, parts[f]);
		}
		sluice_pack_free(part);
	}
	sluice_pack_free(all);
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
	CHECK_PACK("scale-100k.yaml", "sluice-scale-100k", "copyright");

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
