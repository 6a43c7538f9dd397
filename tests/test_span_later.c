/* Bounded repeats of UTF-8 characters (issue 13): 'A.{0,50}B' is "Pattern is
 * too large" for Hyperscan with start-of-match tracking, so such a pattern is
 * scanned without it and the match path finds each start afterwards, in
 * messages where the pattern ended (pack.h: span databases; match.c). These
 * tests check that the spans are Hyperscan's own leftmost starts: on random
 * ASCII texts, against the same expressions compiled for bytes (where start
 * tracking fits); that Chinese, folded and word-edged matches map right;
 * that batches agree with single messages; that too many such regexes in
 * one message fall back to the set's overflow; that the pack file keeps it
 * all and refuses a map that points nowhere; and that a pattern too large
 * even without start tracking is a lint error naming its repeat. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_scan.h"
#include "lint.h"
#include "match.h"
#include "pack.h"
#include "pack_cache.h"
#include "pack_source.h"

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
	char err[4096] = "";

	cr_assert_eq(ts_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", name, err);
	free(path);
	return pack;
}

static long rule_index(const struct sluice_pack *pack, const char *id)
{
	for (size_t i = 0; i < pack->rule_count; i++)
		if (strcmp(pack->rules[i].id, id) == 0)
			return (long)i;
	cr_assert_fail("no rule %s", id);
	return -1;
}

struct scanner {
	const struct sluice_pack *pack;
	hs_scratch_t *scratch;
	struct sluice_norm_space norm;
	struct sluice_match matches[64];
	struct sluice_match_set set;
};

static void scanner_init(struct scanner *s, const struct sluice_pack *pack)
{
	memset(s, 0, sizeof(*s));
	s->pack = pack;
	cr_assert_eq(sluice_pack_alloc_scratch(pack, &s->scratch), HS_SUCCESS);
	cr_assert_eq(sluice_norm_space_init(&s->norm, 1 << 16, &sluice_libc_allocator), 0);
}

static void scanner_free(struct scanner *s)
{
	hs_free_scratch(s->scratch);
	sluice_norm_space_free(&s->norm);
}

static const struct sluice_match_set *scan(struct scanner *s, const char *text, size_t len)
{
	sluice_match_set_init(&s->set, s->matches, 64, s->pack);
	s->set.norm = &s->norm;
	cr_assert_eq(sluice_scan_message(s->pack, s->scratch, text, len, &s->set), HS_SUCCESS);
	return &s->set;
}

/* The one span of rule id in a set, or cr_assert fails. */
static struct sluice_match only_span(const struct sluice_match_set *set,
				     const struct sluice_pack *pack, const char *id)
{
	long r = rule_index(pack, id);
	const struct sluice_match *found = NULL;
	for (uint32_t i = 0; i < set->count; i++) {
		if (set->matches[i].rule != (uint32_t)r)
			continue;
		cr_assert_null(found, "rule %s has more than one span", id);
		found = &set->matches[i];
	}
	cr_assert_not_null(found, "rule %s did not match", id);
	return *found;
}

static size_t spans_of(const struct sluice_match_set *set, const struct sluice_pack *pack,
		       const char *id)
{
	long r = rule_index(pack, id);
	size_t n = 0;
	for (uint32_t i = 0; i < set->count; i++)
		n += set->matches[i].rule == (uint32_t)r;
	return n;
}

Test(span_later, bounded_repeats_compile_with_span_databases)
{
	struct sluice_pack *pack = load("lang_bounded_repeats.yaml");
	size_t spans = 0, later = 0, som = 0;

	for (size_t d = 0; d < pack->db_count; d++) {
		const struct sluice_pack_db *db = &pack->dbs[d];
		spans += db->kind == SLUICE_DB_SPAN;
		if (db->kind != SLUICE_DB_REGEX && db->kind != SLUICE_DB_ANCHORED)
			continue;
		cr_assert_neq(db->span_index, SLUICE_NO_SPAN);
		for (uint32_t k = 0; k < db->id_count; k++) {
			const struct sluice_pack_pattern *p = &db->map[k];
			bool short_one = p->rule == (uint32_t)rule_index(pack, "short-repeat");
			/* 'yy.{0,10}zz' fits start tracking and keeps it */
			cr_assert_eq(sluice_pat_span_later(p->len), !short_one, "rule %s",
				     pack->rules[p->rule].id);
			later += sluice_pat_span_later(p->len);
			som += p->len == SLUICE_PAT_SOM;
		}
	}
	cr_assert_eq(spans, 1, "one span database (every rule folds): %zu", spans);
	cr_assert_eq(later, 8);
	cr_assert_eq(som, 1);
	sluice_pack_free(pack);
}

Test(span_later, spans_are_the_leftmost_start_of_each_end)
{
	struct sluice_pack *pack = load("lang_bounded_repeats.yaml");
	struct scanner s;
	struct sluice_match m;

	scanner_init(&s, pack);
	/* ends at 7, 10 and 23, each reachable from the A at 2: one span */
	const char *t = "xxA123BzzB and A then B";
	m = only_span(scan(&s, t, strlen(t)), pack, "a-to-b");
	cr_assert_eq(m.from, 2);
	cr_assert_eq(m.to, 23);
	/* the B at 3 has no A before it; the one at 7 starts at 5 */
	t = "zzzB A B";
	m = only_span(scan(&s, t, strlen(t)), pack, "a-to-b");
	cr_assert_eq(m.from, 5);
	cr_assert_eq(m.to, 8);
	/* A, 51 characters, B: out of reach; A, 50 characters, B: in */
	char far[53];
	memset(far, '-', sizeof(far));
	far[0] = 'A';
	far[52] = 'B';
	cr_assert_eq(scan(&s, far, 53)->count, 0);
	far[51] = 'B';
	m = only_span(scan(&s, far, 52), pack, "a-to-b");
	cr_assert_eq(m.from, 0);
	cr_assert_eq(m.to, 52);
	sluice_pack_free(pack);
	scanner_free(&s);
}

Test(span_later, chinese_folded_and_word_edged_spans_map_to_whole_characters)
{
	struct sluice_pack *pack = load("lang_bounded_repeats.yaml");
	struct scanner s;
	struct sluice_match m;

	scanner_init(&s, pack);
	/* "请" is 3 bytes: 加 at 3, 信 ends at 18 */
	const char *t = "请加我的微信号";
	m = only_span(scan(&s, t, strlen(t)), pack, "add-wechat");
	cr_assert_eq(m.from, 3);
	cr_assert_eq(m.to, 18);
	/* folded: ＶＸ： are 9 bytes in the message, 3 in the folded text; the
	 * span is the message's own bytes */
	t = "请加ＶＸ：我的微信";
	m = only_span(scan(&s, t, strlen(t)), pack, "add-wechat");
	cr_assert_eq(m.from, 3);
	cr_assert_eq(m.to, strlen(t));
	cr_assert_eq(s.set.verdict, SLUICE_ACTION_MASK);
	/* \b at the start sees the character before it: "zab" is no word start */
	t = "zab ab 1 cd";
	m = only_span(scan(&s, t, strlen(t)), pack, "word-ab-cd");
	cr_assert_eq(m.from, 4);
	cr_assert_eq(m.to, 11);
	/* \b at the end sees the character after it: "cdx" is no word end */
	t = "ab 1 cdx";
	cr_assert_eq(spans_of(scan(&s, t, strlen(t)), pack, "word-ab-cd"), 0);
	/* $ sees the real end, not the end of what the search scanned */
	t = "c--a c--a";
	m = only_span(scan(&s, t, strlen(t)), pack, "ends-line");
	cr_assert_eq(m.from, 0, "the leftmost c reaches the last a");
	cr_assert_eq(m.to, 9);
	t = "c--a\nmore";
	cr_assert_eq(scan(&s, t, strlen(t))->count, 0, "a before a newline that is not the last");
	/* an opt-in's widened pattern: the number in Chinese numerals, from 一
	 * (after "电话", 6 bytes) to 八, spaces inside */
	t = "电话一三八 一二三四 五六七八 谢谢";
	m = only_span(scan(&s, t, strlen(t)), pack, "phone-digit-words");
	cr_assert_eq(m.from, 6);
	cr_assert_eq(m.to, 41);
	sluice_pack_free(pack);
	scanner_free(&s);
}

/* ---- against Hyperscan's own start tracking, on ASCII ---- */

/* The rules of lang_bounded_repeats.yaml as compiled (whole_word adds \b
 * where the edges are always word characters), for bytes: on ASCII text '.'
 * is one byte either way, and start tracking fits. */
static const struct {
	const char *id, *expr;
	unsigned flags;
} reference[] = {
    {"a-to-b", "A.{0,50}B", 0},
    {"x-to-z", "x[^y]{3,40}z", 0},
    {"ab-or-b-to-c", "(?:ab|b).{0,45}c", HS_FLAG_CASELESS},
    {"a-far-b", "a.{20,60}b", 0},
    {"word-ab-cd", "\\b(?:ab.{0,40}cd)\\b", 0},
    {"ends-line", "c.{0,40}a$", 0},
    {"short-repeat", "yy.{0,10}zz", 0},
};
#define REFERENCES (sizeof(reference) / sizeof(reference[0]))

struct interval {
	uint32_t from, to;
};

struct collected {
	struct interval iv[4096];
	size_t n;
};

static int collect(unsigned int id, unsigned long long from, unsigned long long to,
		   unsigned int flags, void *ctx)
{
	struct collected *c = ctx;
	(void)id;
	(void)flags;
	cr_assert_lt(c->n, 4096);
	c->iv[c->n++] = (struct interval){(uint32_t)from, (uint32_t)to};
	return 0;
}

static int by_from(const void *a, const void *b)
{
	const struct interval *x = a, *y = b;
	return x->from != y->from ? (x->from < y->from ? -1 : 1)
				  : (x->to > y->to) - (x->to < y->to);
}

/* Hyperscan's spans, merged as the match set merges a rule's spans that
 * overlap or touch. */
static size_t expected_spans(hs_database_t *db, hs_scratch_t *scratch, const char *text, size_t len,
			     struct interval *out)
{
	static struct collected c;
	c.n = 0;
	cr_assert_eq(hs_scan(db, text, (unsigned)len, 0, scratch, collect, &c), HS_SUCCESS);
	qsort(c.iv, c.n, sizeof(c.iv[0]), by_from);
	size_t n = 0;
	for (size_t i = 0; i < c.n; i++) {
		if (n > 0 && c.iv[i].from <= out[n - 1].to) {
			if (c.iv[i].to > out[n - 1].to)
				out[n - 1].to = c.iv[i].to;
			continue;
		}
		out[n++] = c.iv[i];
	}
	return n;
}

static uint64_t rng_state = 0x5eed5eed12345ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

/* Texts the patterns above match now and then: their letters, spaces, a few
 * newlines, in runs of every length a repeat can reach and beyond. */
static size_t random_text(char *buf, size_t cap)
{
	static const char alphabet[] = "AaBbcdxyzAB   -\n";
	size_t len = rng() % (cap < 180 ? cap : 180);
	for (size_t i = 0; i < len; i++)
		buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
	buf[len] = '\0';
	return len;
}

Test(span_later, spans_equal_hyperscan_start_tracking_on_random_ascii, .timeout = 120)
{
	struct sluice_pack *pack = load("lang_bounded_repeats.yaml");
	struct scanner s;
	hs_database_t *db[REFERENCES];
	hs_scratch_t *scratch = NULL;
	size_t compared = 0, matched = 0;

	scanner_init(&s, pack);
	for (size_t r = 0; r < REFERENCES; r++) {
		hs_compile_error_t *cerr = NULL;
		cr_assert_eq(hs_compile(reference[r].expr,
					reference[r].flags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK,
					NULL, &db[r], &cerr),
			     HS_SUCCESS, "%s: %s", reference[r].expr, cerr ? cerr->message : "");
		cr_assert_eq(hs_alloc_scratch(db[r], &scratch), HS_SUCCESS);
	}
	for (int k = 0; k < 4000; k++) {
		char text[200];
		size_t len = random_text(text, sizeof(text) - 1);
		const struct sluice_match_set *set = scan(&s, text, len);
		cr_assert_not(set->overflow);
		for (size_t r = 0; r < REFERENCES; r++) {
			struct interval want[256];
			size_t n = expected_spans(db[r], scratch, text, len, want);
			long rule = rule_index(pack, reference[r].id);
			size_t got = 0;
			for (uint32_t i = 0; i < set->count; i++) {
				const struct sluice_match *m = &set->matches[i];
				if (m->rule != (uint32_t)rule)
					continue;
				cr_assert_lt(got, n, "%s on \"%s\": extra span [%u, %u)",
					     reference[r].id, text, m->from, m->to);
				cr_assert(
				    m->from == want[got].from && m->to == want[got].to,
				    "%s on \"%s\": span %zu is [%u, %u), Hyperscan's [%u, %u)",
				    reference[r].id, text, got, m->from, m->to, want[got].from,
				    want[got].to);
				got++;
			}
			cr_assert_eq(got, n, "%s on \"%s\": %zu spans, Hyperscan %zu",
				     reference[r].id, text, got, n);
			compared++;
			matched += n != 0;
		}
	}
	/* the texts exercise the patterns, not only their absence */
	cr_assert_gt(matched, compared / 10, "%zu of %zu matched", matched, compared);
	for (size_t r = 0; r < REFERENCES; r++)
		hs_free_database(db[r]);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
	scanner_free(&s);
}

Test(span_later, batch_scanning_gives_what_each_message_gives_alone, .timeout = 120)
{
	struct sluice_pack *pack = load("lang_bounded_repeats.yaml");
	struct scanner s;
	struct sluice_batch b;
	struct sluice_batch_results r;
	char texts[64][200];
	size_t lens[64];

	scanner_init(&s, pack);
	cr_assert_eq(sluice_batch_init(&b, 64, 64 * 256, &sluice_libc_allocator), 0);
	cr_assert_eq(sluice_batch_results_init(&r, 64, 64, &sluice_libc_allocator), 0);
	for (int round = 0; round < 60; round++) {
		sluice_batch_reset(&b);
		for (int i = 0; i < 64; i++) {
			lens[i] = random_text(texts[i], sizeof(texts[i]) - 1);
			if (i % 8 == 0) /* some Chinese among them */
				lens[i] =
				    (size_t)snprintf(texts[i], sizeof(texts[i]), "请加 %s 的微信",
						     round % 2 ? "我" : "ＶＸ");
			cr_assert_geq(sluice_batch_add(&b, texts[i], lens[i]), 0);
		}
		cr_assert_eq(sluice_batch_scan(pack, s.scratch, &b, &r, NULL, 0), HS_SUCCESS);
		for (int i = 0; i < 64; i++) {
			const struct sluice_match_set *one = scan(&s, texts[i], lens[i]);
			const struct sluice_match_set *in_batch =
			    sluice_batch_result(&r, (uint32_t)i);
			cr_assert_eq(in_batch->count, one->count, "\"%s\"", texts[i]);
			cr_assert_eq(in_batch->verdict, one->verdict);
			cr_assert_eq(in_batch->overflow, one->overflow);
			for (uint32_t k = 0; k < one->count; k++)
				cr_assert(memcmp(&in_batch->matches[k], &one->matches[k],
						 sizeof(one->matches[k])) == 0,
					  "\"%s\": match %u differs", texts[i], k);
		}
	}
	sluice_batch_results_free(&r);
	sluice_batch_free(&b);
	sluice_pack_free(pack);
	scanner_free(&s);
}

Test(span_later, more_such_regexes_in_a_message_than_it_tracks_overflow_the_set)
{
	struct sluice_pack *pack = load("lang_span_overflow.yaml");
	struct scanner s;

	scanner_init(&s, pack);
	/* eight: each found, leftmost, and nothing lost */
	const char *t = "Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8 Z";
	const struct sluice_match_set *set = scan(&s, t, strlen(t));
	cr_assert_not(set->overflow);
	cr_assert_eq(set->count, 8);
	for (uint32_t i = 0; i < 8; i++) {
		cr_assert_eq(set->matches[i].from, 3 * i);
		cr_assert_eq(set->matches[i].to, strlen(t));
	}
	cr_assert_eq(set->verdict, SLUICE_ACTION_FLAG);
	/* nine: the ninth's span is not looked for; the set overflows and the
	 * verdict is the strongest action seen (match.h), q9's block */
	t = "Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8 Q9 Z";
	set = scan(&s, t, strlen(t));
	cr_assert(set->overflow);
	cr_assert_eq(set->count, 8);
	cr_assert_eq(set->verdict, SLUICE_ACTION_BLOCK);
	sluice_pack_free(pack);
	scanner_free(&s);
}

Test(span_later, pack_file_keeps_span_databases_and_refuses_a_pair_that_is_not_there)
{
	struct sluice_pack *pack = load("lang_bounded_repeats.yaml"), *back = NULL;
	char path[] = "/tmp/sluice-span-XXXXXX";
	char err[1024] = "";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_read(path, &back, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	struct scanner a, b;
	scanner_init(&a, pack);
	scanner_init(&b, back);
	const char *texts[] = {"xxA123BzzB and A then B", "请加ＶＸ：我的微信", "zab ab 1 cd",
			       "c--a c--a", "nothing"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const struct sluice_match_set *x = scan(&a, texts[i], strlen(texts[i]));
		const struct sluice_match_set *y = scan(&b, texts[i], strlen(texts[i]));
		cr_assert_eq(x->count, y->count, "%s", texts[i]);
		for (uint32_t k = 0; k < x->count; k++)
			cr_assert(memcmp(&x->matches[k], &y->matches[k], sizeof(x->matches[k])) ==
				      0,
				  "%s: match %u", texts[i], k);
	}
	scanner_free(&a);
	scanner_free(&b);
	sluice_pack_free(back);

	/* A regex map entry naming a pair past the span database's end. */
	struct sluice_pack_pattern *entry = NULL;
	for (size_t d = 0; d < pack->db_count && !entry; d++)
		for (uint32_t k = 0; k < pack->dbs[d].id_count && !entry; k++)
			if (sluice_pat_span_later(pack->dbs[d].map[k].len))
				entry = &pack->dbs[d].map[k];
	cr_assert_not_null(entry);
	entry->len = SLUICE_PAT_SPAN_LATER + 999;
	uint8_t *image = NULL;
	size_t image_len = 0;
	cr_assert_eq(sluice_pack_serialize(pack, &image, &image_len, NULL, err, sizeof(err)), 0,
		     "%s", err);
	back = (struct sluice_pack *)0x1;
	cr_assert_eq(sluice_pack_parse_image("tampered.pack", image, image_len, NULL, &back, err,
					     sizeof(err)),
		     -1);
	cr_assert_null(back);
	cr_assert(strstr(err, "span pattern that is not there") != NULL, "%s", err);
	free(image);
	sluice_pack_free(pack);
}

Test(span_later, a_pattern_too_large_even_without_start_tracking_names_its_repeat)
{
	char *path = fixture("lint_too_large.yaml");
	struct sluice_lint_options opt = {.now = 1795435200};
	struct sluice_diag_list diags = {0};

	cr_assert_eq(sluice_lint_file(path, &opt, &diags), 1);
	const struct sluice_diag *d = &diags.items[0];
	cr_assert_str_eq(d->rule_id, "huge-window");
	cr_assert_str_eq(d->code, "pattern-too-large");
	cr_assert_eq(d->line, 7);
	cr_assert_eq(d->column, 17, "at the repeat's '{': column %u", d->column);
	cr_assert(strstr(d->message, "'{0,1000}'") != NULL, "%s", d->message);
	cr_assert(strstr(d->message, "combination") != NULL, "%s", d->message);
	for (size_t i = 1; i < diags.count; i++)
		cr_assert_neq(diags.items[i].level, SLUICE_DIAG_ERROR, "only huge-window fails");
	sluice_diag_list_free(&diags);
	free(path);
}
