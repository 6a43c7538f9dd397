/* Batch scanning (patterns/batch_scan.h) gives exactly the results of scanning
 * each message alone: every match (rule, span), the verdict, overflow and
 * allow exemptions, over tricky texts, the benchmark corpus, several batch
 * sizes, packs whose patterns can cross the separator, anchored patterns,
 * combinations and expired rules.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "corpus_reader.h"
#include "match.h"
#include "pack.h"
#include "pack_source.h"
#include "test_support.h"
#include "utf8.h"

#define CAP 64

static struct sluice_pack *load(const char *rel)
{
	char *path = ts_source_path(rel);
	struct sluice_pack *pack = NULL;
	char err[2048] = "";
	cr_assert_eq(ts_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", rel, err);
	free(path);
	return pack;
}

struct texts {
	const char **text;
	uint32_t *len;
	size_t count;
};

/* Room to fold one message, for packs that normalise (match.h). */
static struct sluice_norm_space *norm_space(void)
{
	static struct sluice_norm_space space;
	if (space.cap == 0)
		cr_assert_eq(sluice_norm_space_init(&space, 1 << 16, &sluice_libc_allocator), 0);
	return &space;
}

static void expect_same(const struct sluice_pack *pack, const struct sluice_match_set *alone,
			const struct sluice_match_set *batched, const char *text, size_t len)
{
	cr_assert_eq(batched->verdict, alone->verdict, "verdict of '%.*s'", (int)len, text);
	cr_assert_eq(batched->count, alone->count, "match count of '%.*s'", (int)len, text);
	cr_assert_eq(batched->overflow, alone->overflow, "overflow of '%.*s'", (int)len, text);
	cr_assert_eq(batched->exempted, alone->exempted, "exemptions of '%.*s'", (int)len, text);
	for (uint32_t m = 0; m < alone->count; m++) {
		const struct sluice_match *a = &alone->matches[m], *b = &batched->matches[m];
		cr_assert(a->rule == b->rule && a->from == b->from && a->to == b->to,
			  "'%.*s': match %u is %s [%u,%u) alone, %s [%u,%u) batched", (int)len,
			  text, m, pack->rules[a->rule].id, a->from, a->to, pack->rules[b->rule].id,
			  b->from, b->to);
	}
}

struct batch_counts {
	uint64_t regex_scans; /* messages scanned alone with the regex database */
};

/* compare() adds the texts by reference (sluice_batch_add_ref()) instead of
 * copying them. */
static bool by_reference;

static bool scans_raw_text(const struct sluice_pack *pack)
{
	return (pack->views & (1u << SLUICE_VIEW_RAW)) != 0;
}

/* Scans every text alone and in batches of batch_size; returns what batch
 * scanning did on single messages. */
static struct batch_counts compare(const struct sluice_pack *pack, const struct texts *t,
				   uint32_t batch_size, const uint8_t *disabled, uint8_t keep)
{
	hs_scratch_t *scratch = NULL;
	struct sluice_batch batch;
	struct sluice_batch_results results;
	struct sluice_match storage[CAP];
	struct sluice_match_set alone;

	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	cr_assert_eq(
	    sluice_batch_init(&batch, batch_size, SLUICE_BATCH_BYTES, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&results, batch_size, CAP, &sluice_libc_allocator),
		     0);
	sluice_match_set_init(&alone, storage, CAP, pack);
	alone.norm = norm_space();
	alone.disabled = disabled;
	alone.keep = keep;
	for (size_t first = 0; first < t->count;) {
		size_t n = 0;
		sluice_batch_reset(&batch);
		while (first + n < t->count && sluice_batch_fits(&batch, t->len[first + n])) {
			/* copies: every other one checked on the way, which
			 * must accept it as it is */
			const char *text = t->text[first + n];
			uint32_t len = t->len[first + n];
			int32_t k = by_reference      ? sluice_batch_add_ref(&batch, text, len)
				    : (first + n) % 2 ? sluice_batch_add_checked(&batch, text, len)
						      : sluice_batch_add(&batch, text, len);
			cr_assert_eq(k, (int32_t)n);
			n++;
		}
		cr_assert_gt(n, 0, "text %zu does not fit an empty batch", first);
		if (by_reference) {
			/* every text here is UTF-8: the check refuses none */
			cr_assert_eq(
			    sluice_batch_scan(pack, scratch, &batch, &results, disabled, keep),
			    HS_INVALID, "a batch by reference is checked before its scan");
			uint32_t *invalid = calloc(n, sizeof(*invalid));
			cr_assert_not_null(invalid);
			cr_assert_eq(sluice_batch_check(&batch, pack, invalid), 0);
			free(invalid);
		}
		cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, disabled, keep),
			     HS_SUCCESS);
		for (size_t k = 0; k < n; k++) {
			size_t i = first + k;
			cr_assert_eq(
			    sluice_scan_message(pack, scratch, t->text[i], t->len[i], &alone),
			    HS_SUCCESS);
			expect_same(pack, sluice_batch_result(&results, (uint32_t)k), &alone,
				    t->text[i], t->len[i]);
		}
		first += n;
	}
	struct batch_counts counts = {results.regex_scans};
	sluice_batch_free(&batch);
	sluice_batch_results_free(&results);
	hs_free_scratch(scratch);
	return counts;
}

static const char *const tricky[] = {
    "hi there",
    "oh hi",
    "hi",
    "gg everyone",
    "that is so lol",
    "lol",
    "",
    "13 8 1 2",
    "3 4 5 6 7 8 call me",
    "wow!!!",
    "!!!",
    "eyes",
    "e",
    "s",
    "1234",
    "x marks",
    "The end",
    "other theme the",
    "drink water",
    "water the plants",
    "加我微信 13812345678",
    "路口交通 口交",
    "你几岁了私聊",
    "加群领福利",
    "欢迎加群",
    "ASS and assessment",
    "400-820-8820",
    "13812345678901234",
    "x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x "
    "x "
    "x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x",
};

static struct texts tricky_texts(void)
{
	size_t n = sizeof(tricky) / sizeof(tricky[0]);
	struct texts t = {
	    .text = calloc(n, sizeof(char *)), .len = calloc(n, sizeof(uint32_t)), .count = n};
	for (size_t i = 0; i < n; i++) {
		t.text[i] = tricky[i];
		t.len[i] = (uint32_t)strlen(tricky[i]);
	}
	return t;
}

static void free_texts(struct texts *t)
{
	free(t->text);
	free(t->len);
}

static const char *const small_packs[] = {
    "tests/data/batch/crossing.yaml",	      "tests/data/rules/lang_mixed.yaml",
    "tests/data/rules/lang_combination.yaml", "tests/data/rules/lang_allow.yaml",
    "tests/data/rules/lang_whole_word.yaml",  "tests/data/rules/match_rules.yaml",
    "tests/data/batch/raw-view.yaml",	      "patterns/rules/default.yaml",
    "tests/data/batch/holds-on-nothing.yaml",
};

Test(batch_scan, equals_per_message_scanning_on_tricky_texts_at_every_batch_size)
{
	struct texts t = tricky_texts();
	static const uint32_t sizes[] = {1, 2, 3, 7, 64};
	for (size_t p = 0; p < sizeof(small_packs) / sizeof(small_packs[0]); p++) {
		struct sluice_pack *pack = load(small_packs[p]);
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			compare(pack, &t, sizes[s], NULL, 0);
			compare(pack, &t, sizes[s], NULL, SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW);
		}
		sluice_pack_free(pack);
	}
	free_texts(&t);
}

Test(batch_scan, by_reference_equals_per_message_scanning_and_refuses_raw_views)
{
	struct texts t = tricky_texts();
	static const uint32_t sizes[] = {1, 3, 64};
	unsigned compared = 0, refused = 0;
	by_reference = true;
	for (size_t p = 0; p < sizeof(small_packs) / sizeof(small_packs[0]); p++) {
		struct sluice_pack *pack = load(small_packs[p]);
		if (scans_raw_text(pack)) {
			/* raw text is what a batch by reference does not have */
			hs_scratch_t *scratch = NULL;
			struct sluice_batch batch;
			struct sluice_batch_results results;
			cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
			cr_assert_eq(sluice_batch_init(&batch, 4, 1024, &sluice_libc_allocator), 0);
			cr_assert_eq(
			    sluice_batch_results_init(&results, 4, CAP, &sluice_libc_allocator), 0);
			cr_assert_eq(sluice_batch_add_ref(&batch, "hi", 2), 0);
			cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0),
				     HS_INVALID);
			sluice_batch_free(&batch);
			sluice_batch_results_free(&results);
			hs_free_scratch(scratch);
			refused++;
		} else {
			for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
				compare(pack, &t, sizes[s], NULL, 0);
			compared++;
		}
		sluice_pack_free(pack);
	}
	by_reference = false;
	cr_assert_gt(compared, 0);
	cr_log_info("by reference: %u packs compared, %u refused (raw views)", compared, refused);
	free_texts(&t);
}

/* Texts by reference are checked by the batch (in its fold): it names the
 * invalid ones, refuses to scan until each is dropped or repaired, and then
 * gives every other text the results it has alone. */
Test(batch_scan, a_batch_by_reference_names_its_invalid_texts_and_scans_once_they_are_settled)
{
	static const char *const texts[] = {
	    "加我微信 13812345678",
	    "bad \xff here 加我微信 13812345678",
	    "ok",
	    "cut short \xe4\xb8",
	    "微信 號碼 ＶＸ 13812345678",
	    "surrogate \xed\xa0\x80 加我微信",
	    "overlong \xe0\x80\xaf",
	};
	const uint32_t n = sizeof(texts) / sizeof(texts[0]);
	char *copy[sizeof(texts) / sizeof(texts[0])];
	struct sluice_pack *pack = load("patterns/rules/default.yaml");
	cr_assert_not(scans_raw_text(pack));
	hs_scratch_t *scratch = NULL;
	struct sluice_batch batch;
	struct sluice_batch_results results;
	struct sluice_match storage[CAP];
	struct sluice_match_set alone;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	cr_assert_eq(sluice_batch_init(&batch, n, 4096, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&results, n, CAP, &sluice_libc_allocator), 0);
	for (uint32_t i = 0; i < n; i++) {
		copy[i] = strdup(texts[i]);
		cr_assert_eq(sluice_batch_add_ref(&batch, copy[i], strlen(copy[i])), (int32_t)i);
	}
	cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0), HS_INVALID,
		     "not checked yet");
	uint32_t invalid[sizeof(texts) / sizeof(texts[0])];
	cr_assert_eq(sluice_batch_check(&batch, pack, invalid), 4);
	cr_assert(invalid[0] == 1 && invalid[1] == 3 && invalid[2] == 5 && invalid[3] == 6,
		  "invalid: %u %u %u %u", invalid[0], invalid[1], invalid[2], invalid[3]);
	cr_assert_eq(sluice_batch_check(&batch, pack, invalid), 0, "checked once");
	cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0), HS_INVALID,
		     "invalid texts not settled");
	sluice_batch_drop(&batch, 1);
	sluice_batch_drop(&batch, 2); /* valid: nothing to drop, it stays */
	cr_assert_eq(sluice_utf8_repair((uint8_t *)copy[3], strlen(copy[3])), 2);
	sluice_batch_repaired(&batch, 3);
	cr_assert_eq(sluice_utf8_repair((uint8_t *)copy[5], strlen(copy[5])), 3);
	sluice_batch_repaired(&batch, 5);
	cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0), HS_INVALID,
		     "one invalid text still unsettled");
	sluice_batch_drop(&batch, 6);
	cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0), HS_SUCCESS);
	for (uint32_t i = 0; i < n; i++) {
		const struct sluice_match_set *got = sluice_batch_result(&results, i);
		if (i == 1 || i == 6) {
			cr_assert_eq(got->count, 0, "a dropped text has no match");
			cr_assert_eq(got->verdict, SLUICE_ACTION_NONE);
			continue;
		}
		sluice_match_set_init(&alone, storage, CAP, pack);
		alone.norm = norm_space();
		cr_assert_eq(sluice_scan_message(pack, scratch, copy[i], strlen(copy[i]), &alone),
			     HS_SUCCESS);
		expect_same(pack, &alone, got, copy[i], strlen(copy[i]));
	}
	/* the surrogate's text, repaired, still matched what it holds */
	cr_assert_gt(sluice_batch_result(&results, 5)->count, 0);
	cr_assert_gt(sluice_batch_result(&results, 0)->count, 0);
	for (uint32_t i = 0; i < n; i++)
		free(copy[i]);
	sluice_batch_free(&batch);
	sluice_batch_results_free(&results);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
}

typedef int32_t (*checked_add_fn)(struct sluice_batch *, const char *, size_t);

/* A copy checked on the way refuses text that is not UTF-8 and adds nothing;
 * it takes valid text as sluice_batch_add() does, reading nothing past it. */
static void expect_checked_copies(checked_add_fn add, const char *way)
{
	static const char *const bad[] = {
	    "\xff", "\x80 lone", "ab\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80 surrogate",
	    "\xf4\x90\x80\x80", "cut \xe4\xb8", "\xf5\x80\x80\x80",
	    "0123456789012345678901234567890\xe4\xb8", "加我微信 \xf0\x9f\x98",
	    /* in the third block: a surrogate */
	    "中文中文中文中文中文中文中文中文中文中文中文\xed\xa0\x80"};
	struct sluice_batch batch;
	cr_assert_eq(sluice_batch_init(&batch, 64, 4096, &sluice_libc_allocator), 0);
	cr_assert_eq(add(&batch, "ok", 2), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *text = ts_page_end_copy(bad[i], strlen(bad[i]));
		cr_assert_eq(add(&batch, (const char *)text, strlen(bad[i])), SLUICE_BATCH_INVALID,
			     "%s: text %zu", way, i);
		ts_page_end_free(text);
	}
	cr_assert_eq(batch.count, 1, "nothing was added");
	cr_assert_eq(batch.used, 3);
	static const char *const good[] = {"",
					   "plain",
					   "加我微信 13812345678",
					   "ＶＸ😀é",
					   "0123456789012345678901234567890中",
					   "中文中文中文中文中文中文中文中文中文中文中文 ok 😀"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		size_t len = strlen(good[i]);
		uint8_t *text = len ? ts_page_end_copy(good[i], len) : NULL;
		int32_t k = add(&batch, len ? (const char *)text : good[i], len);
		cr_assert_eq(k, (int32_t)(i + 1), "%s: text %zu", way, i);
		cr_assert_eq(batch.len[k], len);
		cr_assert_eq(memcmp(batch.buf + batch.start[k], good[i], len), 0);
		cr_assert_eq(batch.buf[batch.start[k] + len], '\n', "its separator");
		cr_assert_eq(batch.ascii[k], sluice_ascii_only((const uint8_t *)good[i], len));
		if (text != NULL)
			ts_page_end_free(text);
	}
	sluice_batch_free(&batch);
}

Test(batch_scan, a_checked_copy_refuses_invalid_text_and_adds_nothing)
{
	expect_checked_copies(sluice_batch_add_checked, "as the CPU chooses");
	expect_checked_copies(sluice_batch_add_checked_sse2, "SSE2");
	if (sluice_utf8_avx2_usable())
		expect_checked_copies(sluice_batch_add_checked_avx2, "AVX2");
}

Test(batch_scan, a_batch_is_by_reference_or_by_copy_until_its_reset)
{
	struct sluice_batch batch;
	cr_assert_eq(sluice_batch_init(&batch, 4, 1024, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_add(&batch, "copied", 6), 0);
	cr_assert_eq(sluice_batch_add_ref(&batch, "referenced", 10), -1);
	sluice_batch_reset(&batch);
	cr_assert_eq(sluice_batch_add_ref(&batch, "referenced", 10), 0);
	cr_assert_eq(sluice_batch_add(&batch, "copied", 6), -1);
	cr_assert_eq(sluice_batch_add_ref(&batch, "again", 5), 1);
	sluice_batch_reset(&batch);
	cr_assert_eq(sluice_batch_add(&batch, "copied", 6), 0);
	sluice_batch_free(&batch);
}

Test(batch_scan, a_regex_report_across_the_separator_costs_a_scan_not_a_match)
{
	struct sluice_pack *pack = load("tests/data/batch/crossing.yaml");
	/* "call 1 2 3" then "4 5 now": spaced-digits matches across the
	 * separator; alone, neither message holds enough spaced digits. */
	const char *pair[] = {"call 1 2 3", "4 5 now"};
	uint32_t lens[] = {10, 7};
	struct texts t = {.text = pair, .len = lens, .count = 2};
	struct batch_counts two = compare(pack, &t, 2, NULL, 0);
	struct batch_counts one = compare(pack, &t, 1, NULL, 0);
	cr_expect_eq(one.regex_scans, 0, "alone, no regex matches either message");
	cr_expect_eq(two.regex_scans, 1,
		     "the crossing report picked the second message for a scan alone");
	sluice_pack_free(pack);
}

Test(batch_scan, anchored_patterns_match_at_each_message_start)
{
	struct sluice_pack *pack = load("tests/data/batch/crossing.yaml");
	hs_scratch_t *scratch = NULL;
	struct sluice_batch batch;
	struct sluice_batch_results results;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &scratch), HS_SUCCESS);
	cr_assert_eq(sluice_batch_init(&batch, 4, 1024, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&results, 4, CAP, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_add(&batch, "oh hi", 5), 0);
	cr_assert_eq(sluice_batch_add(&batch, "hi there", 8), 1);
	cr_assert_eq(sluice_batch_scan(pack, scratch, &batch, &results, NULL, 0), HS_SUCCESS);
	const struct sluice_match_set *second = sluice_batch_result(&results, 1);
	cr_assert_eq(second->count, 1);
	cr_expect_str_eq(pack->rules[second->matches[0].rule].id, "starts-with-hi");
	cr_expect_eq(second->matches[0].from, 0);
	cr_expect_eq(second->matches[0].to, 2);
	cr_expect_eq(sluice_batch_result(&results, 0)->count, 0, "'oh hi' does not start with hi");
	sluice_batch_free(&batch);
	sluice_batch_results_free(&results);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
}

Test(batch_scan, expired_rules_are_ignored_the_same_way)
{
	struct sluice_pack *pack = load("tests/data/batch/crossing.yaml");
	struct texts t = tricky_texts();
	uint8_t *disabled = calloc(pack->rule_count, 1);
	for (size_t r = 0; r < pack->rule_count; r++)
		disabled[r] = strcmp(pack->rules[r].id, "word-the") == 0 ||
			      strcmp(pack->rules[r].id, "punct-run") == 0;
	compare(pack, &t, 5, disabled, 0);
	free(disabled);
	free_texts(&t);
	sluice_pack_free(pack);
}

Test(batch_scan, packs_without_a_regex_ends_database_scan_regexes_per_message)
{
	struct texts t = tricky_texts();
	for (size_t p = 0; p < sizeof(small_packs) / sizeof(small_packs[0]); p++) {
		struct sluice_pack *pack = load(small_packs[p]);
		/* As a pack written before regex-ends existed: it comes last. */
		if (pack->dbs[pack->db_count - 1].kind == SLUICE_DB_REGEX_ENDS) {
			pack->db_count--;
			hs_free_database(pack->dbs[pack->db_count].db);
			free(pack->dbs[pack->db_count].map);
		}
		bool has_regex = false;
		for (size_t d = 0; d < pack->db_count; d++)
			has_regex |= pack->dbs[d].kind == SLUICE_DB_REGEX;
		struct batch_counts counts = compare(pack, &t, 7, NULL, 0);
		cr_expect_eq(counts.regex_scans, has_regex ? t.count : 0, "%s", small_packs[p]);
		sluice_pack_free(pack);
	}
	free_texts(&t);
}

/* The worker scans its main and urgent packs over one copy of a burst's
 * texts: each pack's results are its own, and each equals scanning the
 * messages alone with that pack. */
Test(batch_scan, two_packs_over_one_copy_of_the_texts)
{
	struct sluice_pack *a = load("patterns/rules/default.yaml");
	struct sluice_pack *b = load("tests/data/batch/crossing.yaml");
	struct texts t = tricky_texts();
	hs_scratch_t *sa = NULL, *sb = NULL;
	struct sluice_batch batch;
	struct sluice_batch_results ra, rb;
	struct sluice_match storage[CAP];
	struct sluice_match_set alone;
	cr_assert_eq(sluice_pack_alloc_scratch(a, &sa), HS_SUCCESS);
	cr_assert_eq(sluice_pack_alloc_scratch(b, &sb), HS_SUCCESS);
	cr_assert_eq(sluice_batch_init(&batch, (uint32_t)t.count, SLUICE_BATCH_BYTES,
				       &sluice_libc_allocator),
		     0);
	cr_assert_eq(sluice_batch_results_init(&ra, (uint32_t)t.count, CAP, &sluice_libc_allocator),
		     0);
	cr_assert_eq(sluice_batch_results_init(&rb, (uint32_t)t.count, CAP, &sluice_libc_allocator),
		     0);
	for (size_t i = 0; i < t.count; i++)
		cr_assert_eq(sluice_batch_add(&batch, t.text[i], t.len[i]), (int32_t)i);
	cr_assert_eq(sluice_batch_scan(a, sa, &batch, &ra, NULL, 0), HS_SUCCESS);
	cr_assert_eq(sluice_batch_scan(b, sb, &batch, &rb, NULL, 0), HS_SUCCESS);
	for (size_t i = 0; i < t.count; i++) {
		sluice_match_set_init(&alone, storage, CAP, a);
		alone.norm = norm_space();
		cr_assert_eq(sluice_scan_message(a, sa, t.text[i], t.len[i], &alone), HS_SUCCESS);
		expect_same(a, sluice_batch_result(&ra, (uint32_t)i), &alone, t.text[i], t.len[i]);
		sluice_match_set_init(&alone, storage, CAP, b);
		alone.norm = norm_space();
		cr_assert_eq(sluice_scan_message(b, sb, t.text[i], t.len[i], &alone), HS_SUCCESS);
		expect_same(b, sluice_batch_result(&rb, (uint32_t)i), &alone, t.text[i], t.len[i]);
	}
	sluice_batch_free(&batch);
	sluice_batch_results_free(&ra);
	sluice_batch_results_free(&rb);
	hs_free_scratch(sa);
	hs_free_scratch(sb);
	free_texts(&t);
	sluice_pack_free(a);
	sluice_pack_free(b);
}

Test(batch_scan, full_batch_refuses_more_and_reset_empties_it)
{
	struct sluice_batch batch;
	cr_assert_eq(sluice_batch_init(&batch, 2, 16, &sluice_libc_allocator), 0);
	cr_expect_eq(sluice_batch_add(&batch, "0123456789", 10), 0);
	cr_expect_eq(sluice_batch_add(&batch, "0123456", 7), -1, "11 + 8 bytes > 16");
	cr_expect_eq(sluice_batch_add(&batch, "01234", 4), 1);
	cr_expect_eq(sluice_batch_add(&batch, "", 0), -1, "two messages at most");
	sluice_batch_reset(&batch);
	cr_expect_eq(sluice_batch_add(&batch, "0123456789abcde", 15), 0);
	cr_expect_eq(sluice_batch_add(&batch, "0123456789abcdef", 16), -1);
	sluice_batch_free(&batch);
	cr_expect_eq(sluice_batch_init(&batch, 0, 16, &sluice_libc_allocator), -1);
}

/* Hyperscan 5.4.0 reads past the end of what it scans on AVX512VBMI machines
 * (match.h, SLUICE_SCAN_SLACK): a full batch keeps zeroed, readable slack
 * after its last byte. Under ASan a read of it past the allocation fails. */
Test(batch_scan, a_full_batch_keeps_readable_slack_after_its_texts)
{
	struct sluice_batch batch;
	cr_assert_eq(sluice_batch_init(&batch, 2, 16, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_add(&batch, "0123456789abcde", 15), 0);
	for (uint32_t i = 0; i < SLUICE_SCAN_SLACK; i++)
		cr_assert_eq(((volatile const char *)batch.buf)[batch.buf_cap + i], 0,
			     "slack byte %u", i);
	sluice_batch_free(&batch);
}

/* The benchmark corpus: what sluice-gen writes for bench/run-bench. */
static struct corpus_texts corpus;

static void make_corpus(void)
{
	char *dir = ts_make_tmpdir("batchcorpus");
	char *gen = ts_build_path("dataplane/sluice-gen");
	char pcap[512], txt[512], err[512];
	snprintf(pcap, sizeof(pcap), "%s/corpus.pcap", dir);
	snprintf(txt, sizeof(txt), "%s/corpus.txt", dir);
	char *argv[] = {gen, "-o", pcap, "--text-out", txt, "-s", "7", "-n", "50000", NULL};
	char *out = NULL;
	cr_assert_eq(ts_run(argv, 120, &out), 0, "sluice-gen failed: %s", out ? out : "");
	free(out);
	cr_assert_eq(corpus_texts_load(txt, &corpus, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(corpus.count, 50000);
	ts_rmtree(dir);
	free(dir);
	free(gen);
}

static void compare_corpus(const char *rel)
{
	struct sluice_pack *pack = load(rel);
	struct texts t = {.text = corpus.text, .len = corpus.len, .count = corpus.count};
	struct batch_counts counts = compare(pack, &t, SLUICE_BATCH_MESSAGES, NULL, 0);
	cr_log_info("%s: %zu messages equal; %llu scanned alone with the regex database", rel,
		    t.count, (unsigned long long)counts.regex_scans);
	compare(pack, &t, 64, NULL, SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW);
	sluice_pack_free(pack);
}

TestSuite(batch_corpus, .init = make_corpus);

Test(batch_corpus, default_packs_give_the_same_results_over_the_whole_corpus, .timeout = 600)
{
	compare_corpus("patterns/packs/all.yaml");
}

Test(batch_corpus, default_packs_by_reference_give_the_same_results, .timeout = 600)
{
	struct sluice_pack *pack = load("patterns/packs/all.yaml");
	cr_assert(!scans_raw_text(pack), "the default packs all normalise");
	struct texts t = {.text = corpus.text, .len = corpus.len, .count = corpus.count};
	by_reference = true;
	compare(pack, &t, SLUICE_BATCH_MESSAGES, NULL, 0);
	by_reference = false;
	sluice_pack_free(pack);
}

Test(batch_corpus, bundled_rules_give_the_same_results_over_the_whole_corpus, .timeout = 600)
{
	compare_corpus("patterns/rules/default.yaml");
	compare_corpus("tests/data/batch/crossing.yaml");
}
