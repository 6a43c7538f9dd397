/* The compiler: checks a rule list, builds the pack's databases and checks
 * every rule's examples against the result, in that order: three phases,
 * each of which stops the build on an error unless it is partial (lint's).
 *
 * Why the work is split the way it is (see pack.h for the databases): literal
 * and list rules are what analysts add most and in bulk, and the literal API
 * compiles 100,000 of them in a fraction of the time the regex compiler
 * needs, with exact spans for free; regexes need start-of-match tracking for
 * masking, which is costly, so only they pay for it; combinations have no
 * database: the match path judges each from its operands' matches, per
 * message (scan/match.c), which batch scanning needs anyway. Their checks
 * are in compile_combinations.c; the state of a build, compile_build.h.
 */
#include "pack_compile.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "compile_build.h"
#include "fold_data.h"
#include "fold_optin.h"
#include "fold_scope.h"
#include "match.h"
#include "regex_analysis.h"
#include "rule_fold.h"

/* Examples are short; this many spans is more than any sensible one has. */
#define EXAMPLE_MATCHES 256

void sluice_compile_vdiag(struct build *b, enum sluice_diag_level level, const char *file,
			  struct sluice_loc at, const char *rule, const char *code, const char *fmt,
			  va_list ap)
{
	if (level == SLUICE_DIAG_ERROR)
		b->errors++;
	if (sluice_diag_vadd(b->diags, level, file, at.line, at.column, rule, code, fmt, ap) != 0)
		b->oom = true;
}

static void list_err(struct build *b, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void list_err(struct build *b, const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sluice_compile_vdiag(b, SLUICE_DIAG_ERROR, file, (struct sluice_loc){1, 1}, NULL, "compile",
			     fmt, ap);
	va_end(ap);
}

/* A rule built in code may leave the newer fields zero: a literal rule then
 * has its text in pattern only. */
static size_t literal_count(const struct sluice_rule *r)
{
	if (r->kind == SLUICE_RULE_LITERAL && !r->literals)
		return 1;
	return r->literal_count;
}

static struct sluice_literal literal_as_written(const struct sluice_rule *r, size_t k)
{
	if (r->kind == SLUICE_RULE_LITERAL && !r->literals)
		return (struct sluice_literal){.text = r->pattern,
					       .len = (uint32_t)strlen(r->pattern),
					       .line = r->line,
					       .column = r->column};
	return r->literals[k];
}

/* Literal k of input rule i as it is compiled: folded when the rule is. */
static struct sluice_literal literal_at(const struct build *b, size_t i, size_t k)
{
	if (b->lits && b->lits[i])
		return b->lits[i][k];
	return literal_as_written(&b->rules->rules[i], k);
}

/* The rule's body as compiled: its pattern folded when the rule is. */
static const char *body_of(const struct build *b, size_t i)
{
	return b->body && b->body[i] ? b->body[i] : b->rules->rules[i].pattern;
}

/* Case: the table folds it outside ASCII and keeps the case of ASCII letters
 * it makes (Ｇ is G), so a rule's own caseless flag still decides for ASCII. */
static unsigned rule_flags(const struct build *b, size_t i)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	return r->flags | (r->caseless ? SLUICE_RULE_CASELESS : 0);
}

/* ---- ids ---- */

static int cmp_id(const void *a, const void *b, void *ctx)
{
	const struct sluice_rule_list *rules = ctx;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c = strcmp(rules->rules[x].id, rules->rules[y].id);

	return c ? c : (x < y ? -1 : x > y);
}

static int index_ids(struct build *b)
{
	const struct sluice_rule_list *rules = b->rules;

	b->by_id = calloc(rules->count, sizeof(*b->by_id));
	if (!b->by_id)
		return -1;
	for (size_t i = 0; i < rules->count; i++)
		b->by_id[i] = (uint32_t)i;
	qsort_r(b->by_id, rules->count, sizeof(*b->by_id), cmp_id, (void *)rules);
	for (size_t k = 1; k < rules->count; k++) {
		const struct sluice_rule *first = &rules->rules[b->by_id[k - 1]];
		uint32_t i = b->by_id[k];
		const struct sluice_rule *r = &rules->rules[i];
		if (strcmp(first->id, r->id) != 0 || r->invalid || first->invalid)
			continue;
		if (strcmp(rule_file(b, first), rule_file(b, r)) == 0)
			rule_err(b, i, rule_loc(r), "duplicate-id",
				 "duplicate id; it is first defined at line %u; give each rule its "
				 "own id",
				 first->line);
		else
			rule_err(b, i, rule_loc(r), "duplicate-id",
				 "duplicate id; it is first defined at %s:%u; give each rule its "
				 "own id",
				 rule_file(b, first), first->line);
	}
	return 0;
}

/* ---- per-rule checks ---- */

/* Hyperscan's messages end in "at index N." when they know where. */
static bool hs_error_index(const char *msg, size_t *index)
{
	const char *p = strstr(msg, " at index ");
	char *end;

	if (!p)
		return false;
	unsigned long v = strtoul(p + 10, &end, 10);
	if (end == p + 10)
		return false;
	*index = v;
	return true;
}

/* A short quote of the pattern from byte at: whole characters, at most ~12. */
static int quote_len(const char *s, size_t at)
{
	size_t n = strlen(s), i = at, chars = 0;

	if (at >= n)
		return 0;
	while (i < n && chars < 12) {
		i++;
		while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		chars++;
	}
	return (int)(i - at);
}

static unsigned hs_flags_of(unsigned f)
{
	unsigned h = HS_FLAG_UTF8;

	if (f & SLUICE_RULE_CASELESS)
		h |= HS_FLAG_CASELESS;
	if (f & SLUICE_RULE_DOTALL)
		h |= HS_FLAG_DOTALL;
	if (f & SLUICE_RULE_MULTILINE)
		h |= HS_FLAG_MULTILINE;
	return h;
}

/* whole_word: \b goes only where the pattern's edge is always an ASCII word
 * character ("ass" must not hit "assessment"); where it never is (Chinese),
 * \b would wrongly demand a word character next to it; where it can be either,
 * the match path checks the edge itself, using the exact span. */
static int build_expression(struct build *b, size_t i)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	const char *body = body_of(b, i);
	unsigned first = 0, last = 0;
	bool known = sluice_regex_edges(body, &first, &last);
	bool left = false, right = false;

	if (rule_flags(b, i) & SLUICE_RULE_WHOLE_WORD) {
		if (!known) {
			b->edge_check[i] = 3;
		} else {
			left = first == SLUICE_EDGE_WORD;
			right = last == SLUICE_EDGE_WORD;
			if (first == (SLUICE_EDGE_WORD | SLUICE_EDGE_NONWORD))
				b->edge_check[i] |= 1;
			if (last == (SLUICE_EDGE_WORD | SLUICE_EDGE_NONWORD))
				b->edge_check[i] |= 2;
			if (!(first & SLUICE_EDGE_WORD) && !(last & SLUICE_EDGE_WORD))
				rule_warn(b, i,
					  r->whole_word_loc.line ? r->whole_word_loc : body_loc(r),
					  "whole-word-no-effect",
					  "whole_word has no effect: no match of this pattern can "
					  "begin or end with a Latin letter, digit or '_' (Chinese "
					  "needs no word boundaries); remove whole_word");
		}
	}
	if (left || right) {
		if (asprintf(&b->expr[i], "%s(?:%s)%s", left ? "\\b" : "", body,
			     right ? "\\b" : "") < 0)
			b->expr[i] = NULL;
		b->expr_prefix[i] = left ? 5 : 3;
	} else {
		b->expr[i] = strdup(body);
		b->expr_prefix[i] = 0;
	}
	if (!b->expr[i]) {
		b->oom = true;
		return -1;
	}
	return 0;
}

static bool too_large(const hs_compile_error_t *cerr)
{
	return cerr != NULL && cerr->message != NULL &&
	       strstr(cerr->message, "Pattern is too large") != NULL;
}

/* hs_expression_info() does not build the automaton, so it cannot tell a
 * pattern too large to build; a pattern with a counted repeat this large
 * is compiled alone to find out ('A.{0,30}B' builds with start-of-match
 * tracking, 'A.{0,50}B' only without). */
#define PROBE_REPEAT 16
/* ... or one this long: opt-ins widen every character into a class. */
#define PROBE_LENGTH 256

enum probed_size { FITS, FITS_WITHOUT_SOM, TOO_LARGE };

static enum probed_size probe_size(const char *expr, unsigned flags)
{
	hs_database_t *db = NULL;
	hs_compile_error_t *cerr = NULL;
	enum probed_size size = FITS;

	if (hs_compile(expr, flags | HS_FLAG_SOM_LEFTMOST, HS_MODE_BLOCK, NULL, &db, &cerr) ==
	    HS_SUCCESS) {
		hs_free_database(db);
		return FITS;
	}
	if (too_large(cerr)) {
		hs_free_compile_error(cerr);
		cerr = NULL;
		if (hs_compile(expr, flags, HS_MODE_BLOCK, NULL, &db, &cerr) == HS_SUCCESS) {
			hs_free_database(db);
			return FITS_WITHOUT_SOM;
		}
		size = too_large(cerr) ? TOO_LARGE : FITS;
	}
	/* Any other refusal is the database compile's to report. */
	hs_free_compile_error(cerr);
	return size;
}

/* Too large even without start-of-match tracking: almost always a bounded
 * repeat of hundreds of characters (each UTF-8 character is up to four
 * bytes, and Hyperscan unrolls the repeat). */
static void report_too_large(struct build *b, size_t i)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	struct sluice_regex_issue slow[8];
	size_t n = sluice_regex_find_slow(r->pattern, slow, 8);
	for (size_t k = 0; k < n; k++) {
		if (strcmp(slow[k].code, "slow-repeat") != 0)
			continue;
		rule_err(b, i, body_loc_at(r, slow[k].at), "pattern-too-large",
			 "pattern too large for Hyperscan: the repeat '%.*s' of up to %lu "
			 "characters is unrolled into an automaton Hyperscan cannot build; "
			 "bound it lower (a few hundred characters at most), or split the "
			 "pattern into two rules joined by a combination ('a and b')",
			 (int)slow[k].len, r->pattern + slow[k].at, slow[k].count);
		return;
	}
	rule_err(b, i, body_loc(r), "pattern-too-large",
		 "pattern too large for Hyperscan (even without tracking where matches start): "
		 "lower its bounded repeats or split it into rules joined by a combination "
		 "('a and b')");
}

static void check_pattern(struct build *b, size_t i)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	struct sluice_regex_issue issue, slow[8];
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;

	if (sluice_regex_find_unsupported(r->pattern, &issue)) {
		rule_err(b, i, body_loc_at(r, issue.at), issue.code,
			 "pattern rejected by Hyperscan: %s '%.*s' is not supported; %s",
			 issue.what, (int)issue.len, r->pattern + issue.at, issue.advice);
		return;
	}
	if (build_expression(b, i) != 0)
		return;
	unsigned flags = hs_flags_of(rule_flags(b, i));
	hs_error_t rc = hs_expression_info(b->expr[i], flags | HS_FLAG_SOM_LEFTMOST, &info, &cerr);
	if (rc != HS_SUCCESS && too_large(cerr)) {
		/* Sometimes the analysis alone finds start tracking too large. */
		hs_free_compile_error(cerr);
		cerr = NULL;
		rc = hs_expression_info(b->expr[i], flags, &info, &cerr);
	}
	if (rc == HS_SUCCESS && (sluice_regex_largest_repeat(b->expr[i]) >= PROBE_REPEAT ||
				 strlen(b->expr[i]) >= PROBE_LENGTH)) {
		switch (probe_size(b->expr[i], flags)) {
		case FITS:
			break;
		case FITS_WITHOUT_SOM:
			/* Start-of-match tracking is what is too large (a
			 * bounded repeat of UTF-8 characters: 'A.{0,50}B').
			 * The match path finds the start afterwards, only in
			 * messages where the pattern ended. */
			b->span_later[i] = true;
			b->span_window[i] = info->max_width == UINT_MAX ? 0 : info->max_width;
			break;
		case TOO_LARGE:
			report_too_large(b, i);
			free(info);
			return;
		}
	}
	if (info == NULL) {
		const char *msg = cerr && cerr->message ? cerr->message : "unknown error";
		size_t at;
		if (b->body[i] != NULL) {
			/* Positions are in the folded pattern, not the one
			 * written. */
			rule_err(b, i, body_loc(r), "hyperscan",
				 "pattern rejected by Hyperscan after normalisation folded it to "
				 "'%s': %s; fix the pattern, or add normalize: false",
				 b->body[i], msg);
		} else if (hs_error_index(msg, &at) && at >= b->expr_prefix[i] &&
			   at - b->expr_prefix[i] < strlen(r->pattern)) {
			/* "Unmatched parentheses at index 3." becomes "...
			 * at ')'": analysts count characters, not bytes. */
			int keep = (int)(strstr(msg, " at index ") - msg);
			at -= b->expr_prefix[i];
			rule_err(b, i, body_loc_at(r, at), "hyperscan",
				 "pattern rejected by Hyperscan: %.*s at '%.*s'; fix the pattern "
				 "there",
				 keep, msg, quote_len(r->pattern, at), r->pattern + at);
		} else {
			rule_err(b, i, body_loc(r), "hyperscan",
				 "pattern rejected by Hyperscan: %s", msg);
		}
		hs_free_compile_error(cerr);
		return;
	}
	if (info->min_width == 0)
		rule_err(b, i, body_loc(r), "empty-match",
			 "pattern can match the empty string, so it would match every message; "
			 "make at least one character required (for example 'a+' instead of "
			 "'a*')");
	/* hs_expression_info() allocates with Hyperscan's misc allocator,
	 * which is malloc unless someone installs another. */
	free(info);

	size_t n = sluice_regex_find_slow(r->pattern, slow, 8);
	for (size_t k = 0; k < n; k++) {
		if (strcmp(slow[k].code, "slow-repeat") == 0)
			rule_warn(b, i, body_loc_at(r, slow[k].at), slow[k].code,
				  "slow: %s '%.*s'; %s", slow[k].what, (int)slow[k].len,
				  r->pattern + slow[k].at, slow[k].advice);
		else if (strcmp(slow[k].code, "many-alternatives") == 0)
			rule_warn(b, i, body_loc(r), slow[k].code, "slow: %lu alternatives; %s",
				  slow[k].count, slow[k].advice);
		else
			rule_warn(b, i, body_loc_at(r, slow[k].at), slow[k].code, "slow: %s; %s",
				  slow[k].what, slow[k].advice);
	}
}

static void check_literals(struct build *b, size_t i)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	size_t n = literal_count(r);
	bool any_word_edge = false;

	if (n == 0) {
		rule_err(b, i, body_loc(r), "empty-list",
			 "the rule has no literals; give a list file with one literal per line");
		return;
	}
	for (size_t k = 0; k < n; k++) {
		struct sluice_literal lit = literal_at(b, i, k);
		if (lit.len == 0 || memchr(lit.text, '\0', lit.len)) {
			if (literal_as_written(r, k).len != 0)
				rule_err(b, i, body_loc(r), "empty-literal",
					 "literal %zu is only invisible characters, which "
					 "normalisation removes; write the text to match",
					 k + 1);
			else
				rule_err(b, i, body_loc(r), "empty-literal",
					 "literal %zu is empty; write the text to match", k + 1);
			return;
		}
		if (sluice_ascii_word((unsigned char)lit.text[0]) ||
		    sluice_ascii_word((unsigned char)lit.text[lit.len - 1]))
			any_word_edge = true;
	}
	if ((rule_flags(b, i) & SLUICE_RULE_WHOLE_WORD) && any_word_edge)
		b->edge_check[i] = 3;
	if ((rule_flags(b, i) & SLUICE_RULE_WHOLE_WORD) && !any_word_edge)
		rule_warn(b, i, r->whole_word_loc.line ? r->whole_word_loc : body_loc(r),
			  "whole-word-no-effect",
			  "whole_word has no effect: no literal begins or ends with a Latin "
			  "letter, digit or '_' (Chinese needs no word boundaries); remove "
			  "whole_word");
}

/* ---- databases ---- */

struct db_input {
	const char **exprs;
	size_t *lens; /* literal API only */
	unsigned *flags;
	unsigned *ids;
	uint32_t *src_rule; /* input rule per expression */
	uint32_t *src_lit;  /* literal index per expression (or 0) */
	char **owned;	    /* expressions built here, freed after compiling */
	size_t count, cap;
	struct sluice_pack_pattern *map;
	size_t id_count, id_cap;
};

static int db_push(struct db_input *in, const char *expr, size_t len, unsigned flags, unsigned id,
		   uint32_t rule, uint32_t lit, char *owned)
{
	if (in->count == in->cap) {
		size_t cap = in->cap ? in->cap * 2 : 64;
		const char **e = realloc(in->exprs, cap * sizeof(*e));
		if (e)
			in->exprs = e;
		size_t *l = e ? realloc(in->lens, cap * sizeof(*l)) : NULL;
		if (l)
			in->lens = l;
		unsigned *f = l ? realloc(in->flags, cap * sizeof(*f)) : NULL;
		if (f)
			in->flags = f;
		unsigned *d = f ? realloc(in->ids, cap * sizeof(*d)) : NULL;
		if (d)
			in->ids = d;
		uint32_t *s = d ? realloc(in->src_rule, cap * sizeof(*s)) : NULL;
		if (s)
			in->src_rule = s;
		uint32_t *t = s ? realloc(in->src_lit, cap * sizeof(*t)) : NULL;
		if (t)
			in->src_lit = t;
		char **o = t ? realloc(in->owned, cap * sizeof(*o)) : NULL;
		if (!o) {
			free(owned);
			return -1;
		}
		in->owned = o;
		in->cap = cap;
	}
	in->exprs[in->count] = expr;
	in->lens[in->count] = len;
	in->flags[in->count] = flags;
	in->ids[in->count] = id;
	in->src_rule[in->count] = rule;
	in->src_lit[in->count] = lit;
	in->owned[in->count] = owned;
	in->count++;
	return 0;
}

/* Allocates the next Hyperscan id, standing for (rule, len). */
static int db_new_id(struct db_input *in, uint32_t rule, uint32_t len, unsigned *id)
{
	if (in->id_count == in->id_cap) {
		size_t cap = in->id_cap ? in->id_cap * 2 : 64;
		struct sluice_pack_pattern *m = realloc(in->map, cap * sizeof(*m));
		if (!m)
			return -1;
		in->map = m;
		in->id_cap = cap;
	}
	if (in->id_count >= UINT32_MAX - 2)
		return -1;
	in->map[in->id_count] = (struct sluice_pack_pattern){.rule = rule, .len = len};
	*id = (unsigned)in->id_count++;
	return 0;
}

static void db_input_free(struct db_input *in)
{
	for (size_t i = 0; i < in->count; i++)
		free(in->owned[i]);
	free(in->exprs);
	free(in->lens);
	free(in->flags);
	free(in->ids);
	free(in->src_rule);
	free(in->src_lit);
	free(in->owned);
	free(in->map);
	memset(in, 0, sizeof(*in));
}

struct built_db {
	enum sluice_db_kind kind;
	hs_database_t *db;
	size_t bytes;
	uint32_t patterns;
};

/* compile_db(): the database is to be compiled again (a rule changed how). */
#define COMPILE_AGAIN (-3)

/* Rule r's pattern made its database too large to build: when start-of-match
 * tracking is the cause (the pattern alone builds without it: check_pattern()
 * guesses most such patterns, not all), its starts are found afterwards and
 * COMPILE_AGAIN; when it is too large even without, it is reported and r is
 * returned; otherwise -2 (not this pattern alone). */
static long defer_starts(struct build *b, uint32_t r)
{
	const struct sluice_rule *rule = &b->rules->rules[r];
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *cerr = NULL;

	if (rule->kind != SLUICE_RULE_PATTERN || b->span_later[r] || b->expr[r] == NULL)
		return -2;
	unsigned flags = hs_flags_of(rule_flags(b, r));
	switch (probe_size(b->expr[r], flags)) {
	case FITS:
		return -2;
	case TOO_LARGE:
		report_too_large(b, r);
		return r;
	case FITS_WITHOUT_SOM:
		break;
	}
	if (hs_expression_info(b->expr[r], flags, &info, &cerr) != HS_SUCCESS) {
		hs_free_compile_error(cerr);
		return -2;
	}
	b->span_later[r] = true;
	b->span_window[r] = info->max_width == UINT_MAX ? 0 : info->max_width;
	free(info);
	return COMPILE_AGAIN;
}

/* Compiles one database; on a refused expression reports it at its rule and
 * returns the input rule (so a partial build can leave it out and retry), or
 * NO_INDEX after an error not tied to one rule; COMPILE_AGAIN (above).
 * Returns -2 on success. */
static long compile_db(struct build *b, enum sluice_db_kind kind, struct db_input *in,
		       struct built_db *out)
{
	hs_compile_error_t *cerr = NULL;
	hs_error_t rc;

	out->kind = kind;
	out->db = NULL;
	out->patterns = (uint32_t)in->count;
	if (in->count == 0)
		return -2;
	/* NULL platform: tune for the machine compiling, which is also the
	 * platform recorded in the pack file. */
	if (kind == SLUICE_DB_LITERAL)
		rc =
		    hs_compile_lit_multi(in->exprs, in->flags, in->ids, in->lens,
					 (unsigned)in->count, HS_MODE_BLOCK, NULL, &out->db, &cerr);
	else
		rc = hs_compile_multi(in->exprs, in->flags, in->ids, (unsigned)in->count,
				      HS_MODE_BLOCK, NULL, &out->db, &cerr);
	if (rc == HS_SUCCESS) {
		if (hs_database_size(out->db, &out->bytes) != HS_SUCCESS)
			out->bytes = 0;
		return -2;
	}
	if ((kind == SLUICE_DB_REGEX || kind == SLUICE_DB_ANCHORED) && too_large(cerr) &&
	    cerr->expression >= 0 && (size_t)cerr->expression < in->count) {
		long handled = defer_starts(b, in->src_rule[cerr->expression]);
		if (handled != -2) {
			hs_free_compile_error(cerr);
			return handled;
		}
	}
	const char *msg = cerr && cerr->message ? cerr->message : "unknown error";
	long who = NO_INDEX;
	if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < in->count) {
		uint32_t r = in->src_rule[cerr->expression];
		const struct sluice_rule *rule = &b->rules->rules[r];
		who = r;
		if (rule->kind == SLUICE_RULE_LIST) {
			const struct sluice_literal *lit =
			    &rule->literals[in->src_lit[cerr->expression]];
			b->errors++;
			if (sluice_diag_add(b->diags, SLUICE_DIAG_ERROR,
					    rule->list_path ? rule->list_path : rule_file(b, rule),
					    lit->line, 1, rule->id, "hyperscan",
					    "literal rejected by Hyperscan: %s", msg) != 0)
				b->oom = true;
			b->bad[r] = true;
		} else if (rule->kind == SLUICE_RULE_COMBINATION) {
			rule_err(b, r, body_loc(rule), "hyperscan",
				 "combination rejected by Hyperscan: %s", msg);
		} else {
			rule_err(b, r, body_loc(rule), "hyperscan",
				 "pattern rejected by Hyperscan: %s", msg);
		}
	} else {
		list_err(b, b->rules->source ? b->rules->source : "(rules)",
			 "Hyperscan could not compile the %s database: %s",
			 sluice_db_kind_name(kind), msg);
	}
	hs_free_compile_error(cerr);
	return who;
}

/* What gather() fills in[0..9] with: five kinds of database per view. */
#define DB_KINDS  5
#define DB_INPUTS (DB_KINDS * SLUICE_VIEW_COUNT)
static const enum sluice_db_kind db_kinds[DB_KINDS] = {
    SLUICE_DB_LITERAL, SLUICE_DB_REGEX, SLUICE_DB_ANCHORED, SLUICE_DB_REGEX_ENDS, SLUICE_DB_SPAN};

/* A pattern whose start the match path finds afterwards (pack.h): scanned
 * without SOM, and twice into the span database, anchored at a candidate
 * start, alone and after the character before it. */
static int push_span_later(struct build *b, size_t i, struct db_input *to, struct db_input *span)
{
	uint32_t p = b->pack_index[i];
	unsigned f = hs_flags_of(rule_flags(b, i));
	uint32_t pair = (uint32_t)(span->id_count / 2);
	unsigned id;
	char *alone = NULL, *after = NULL;

	if (pair > SLUICE_PAT_SPAN_LAST - SLUICE_PAT_SPAN_LATER)
		return -1;
	if (db_new_id(to, p, SLUICE_PAT_SPAN_LATER + pair, &id) != 0 ||
	    db_push(to, b->expr[i], 0, f, id, (uint32_t)i, 0, NULL) != 0)
		return -1;
	if (asprintf(&alone, "\\A(?:%s)", b->expr[i]) < 0)
		return -1;
	if (db_new_id(span, p, b->span_window[i], &id) != 0) {
		free(alone);
		return -1;
	}
	if (db_push(span, alone, 0, f, id, (uint32_t)i, 0, alone) != 0)
		return -1;
	if (asprintf(&after, "\\A(?s:.)(?:%s)", b->expr[i]) < 0)
		return -1;
	if (db_new_id(span, p, b->span_window[i], &id) != 0) {
		free(after);
		return -1;
	}
	return db_push(span, after, 0, f, id, (uint32_t)i, 0, after);
}

static int gather(struct build *b, struct db_input in[DB_INPUTS])
{
	const struct sluice_rule_list *rules = b->rules;
	unsigned id;

	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		uint32_t p = b->pack_index[i];
		unsigned f = rule_flags(b, i);
		struct db_input *view =
		    in + DB_KINDS * (b->folded[i] ? SLUICE_VIEW_FOLDED : SLUICE_VIEW_RAW);
		struct db_input *lit = &view[0], *re = &view[1], *anchored = &view[2],
				*ends = &view[3], *span = &view[4];

		if (b->bad[i] || r->kind == SLUICE_RULE_COMBINATION)
			continue;
		if (r->kind == SLUICE_RULE_PATTERN) {
			/* Anchored patterns mean something only at the ends of
			 * the text, so batch scanning (batch_scan.h) scans
			 * them per message: a database of their own. */
			bool is_anchored = sluice_regex_anchored(b->expr[i]);
			struct db_input *to = is_anchored ? anchored : re;
			if (b->span_later[i]) {
				if (push_span_later(b, i, to, span) != 0)
					return -1;
			} else if (db_new_id(to, p, SLUICE_PAT_SOM, &id) != 0 ||
				   db_push(to, b->expr[i], 0, hs_flags_of(f) | HS_FLAG_SOM_LEFTMOST,
					   id, (uint32_t)i, 0, NULL) != 0)
				return -1;
			if (!is_anchored && (db_new_id(ends, p, SLUICE_PAT_SOM, &id) != 0 ||
					     db_push(ends, b->expr[i], 0, hs_flags_of(f), id,
						     (uint32_t)i, 0, NULL) != 0))
				return -1;
			continue;
		}
		if (b->wide[i] != NULL) {
			/* Widened literals are patterns now (with exact spans from
			 * start-of-match tracking). */
			for (size_t k = 0; k < literal_count(r); k++) {
				const char *w = b->wide[i][k];
				if (w == NULL)
					continue;
				if (db_new_id(re, p, SLUICE_PAT_SOM, &id) != 0 ||
				    db_push(re, w, 0, hs_flags_of(f) | HS_FLAG_SOM_LEFTMOST, id,
					    (uint32_t)i, (uint32_t)k, NULL) != 0 ||
				    db_new_id(ends, p, SLUICE_PAT_SOM, &id) != 0 ||
				    db_push(ends, w, 0, hs_flags_of(f), id, (uint32_t)i,
					    (uint32_t)k, NULL) != 0)
					return -1;
			}
			continue;
		}
		/* whole_word literals too: a literal's edges are fixed, so the
		 * match path's check of a match's edges (edge_check, set in
		 * check_literals()) is exactly a \b on each side whose edge is a
		 * word character, and the literal matcher compiles a word list
		 * far faster than the regex compiler would. */
		for (size_t k = 0; k < literal_count(r); k++) {
			struct sluice_literal l = literal_at(b, i, k);
			/* The literal API takes no UTF-8 flag: it matches bytes,
			 * and a valid UTF-8 literal can only match at character
			 * boundaries of valid UTF-8 text. Its case folding is
			 * ASCII only, so a match's length is the literal's. */
			unsigned hf = (f & SLUICE_RULE_CASELESS) ? HS_FLAG_CASELESS : 0;
			if (db_new_id(lit, p, l.len, &id) != 0 ||
			    db_push(lit, l.text, l.len, hf, id, (uint32_t)i, (uint32_t)k, NULL) !=
				0)
				return -1;
		}
	}

	return 0;
}

static void assign_pack_indexes(struct build *b)
{
	uint32_t p = 0;

	for (size_t i = 0; i < b->rules->count; i++)
		b->pack_index[i] = b->bad[i] ? NO_INDEX : p++;
}

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static int fill_rules(struct build *b, struct sluice_pack *pack)
{
	const struct sluice_rule_list *rules = b->rules;
	size_t n = 0, logic_len = 0, combos = 0;

	for (size_t i = 0; i < rules->count; i++) {
		if (b->bad[i])
			continue;
		n++;
		if (b->flat[i]) {
			logic_len += b->flat_len[i];
			combos++;
		}
	}
	pack->rules = calloc(n ? n : 1, sizeof(*pack->rules));
	pack->logic = calloc(logic_len ? logic_len : 1, sizeof(*pack->logic));
	pack->combinations = calloc(combos ? combos : 1, sizeof(*pack->combinations));
	if (!pack->rules || !pack->logic || !pack->combinations)
		return -1;
	pack->rule_count = n;
	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		if (b->bad[i])
			continue;
		uint32_t p = b->pack_index[i];
		struct sluice_pack_rule *pr = &pack->rules[p];

		pr->id = strdup(r->id);
		pr->category = strdup(r->category);
		pr->pattern = strdup(r->pattern);
		pr->description = dup_or_empty(r->description);
		if (!pr->id || !pr->category || !pr->pattern || !pr->description)
			return -1;
		pr->action = r->allow ? SLUICE_ACTION_NONE : r->action;
		pr->flags = rule_flags(b, i);
		pr->raw = r->raw && b->fold != NULL;
		pr->optin = (uint8_t)r->optin;
		pr->caseless = (pr->flags & SLUICE_RULE_CASELESS) != 0;
		pr->expires_at = r->expires_at;
		pr->starts_at = r->starts_at;
		pr->kind = r->kind;
		pr->severity = r->severity ? r->severity : SLUICE_SEVERITY_MEDIUM;
		pr->quiet = r->quiet;
		pr->allow = r->allow;
		pr->operand = b->operand[i];
		pr->literal_count = r->kind == SLUICE_RULE_LITERAL || r->kind == SLUICE_RULE_LIST
					? (uint32_t)literal_count(r)
					: 0;
		pr->edge_check = b->edge_check[i];

		if (b->flat[i]) {
			pr->logic_off = (uint32_t)pack->logic_len;
			pr->logic_len = (uint32_t)b->flat_len[i];
			for (size_t k = 0; k < b->flat_len[i]; k++) {
				struct sluice_logic_op op = b->flat[i][k];
				if (op.op == SLUICE_LOGIC_RULE)
					op.arg = b->pack_index[op.arg];
				pack->logic[pack->logic_len++] = op;
			}
			pack->combinations[pack->combination_count++] = p;
		}
	}
	return sluice_pack_derive(pack);
}

static void check_examples(struct build *b, const struct sluice_pack *pack)
{
	const struct sluice_rule_list *rules = b->rules;
	struct sluice_match *storage = calloc(EXAMPLE_MATCHES, sizeof(*storage));
	hs_scratch_t *scratch = NULL;
	struct sluice_match_set set;
	struct sluice_norm_space space = {0};
	size_t longest = 1;

	for (size_t i = 0; i < rules->count; i++) {
		for (size_t k = 0; !b->bad[i] && k < rules->rules[i].example_count; k++) {
			size_t len = strlen(rules->rules[i].examples[k].text);
			longest = len > longest ? len : longest;
		}
	}
	if (!storage || longest > UINT32_MAX ||
	    sluice_norm_space_init(&space, (uint32_t)longest, &sluice_libc_allocator) != 0 ||
	    sluice_pack_alloc_scratch(pack, &scratch) != HS_SUCCESS) {
		b->oom = true;
		free(storage);
		sluice_norm_space_free(&space);
		return;
	}
	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		uint32_t p = b->pack_index[i];

		if (b->bad[i])
			continue;
		for (size_t k = 0; k < r->example_count; k++) {
			const struct sluice_example *ex = &r->examples[k];
			const struct sluice_match *hit = NULL;
			struct sluice_loc at = ex->loc.line ? ex->loc : rule_loc(r);
			size_t len = strlen(ex->text);

			sluice_match_set_init(&set, storage, EXAMPLE_MATCHES, pack);
			set.keep = SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW;
			set.norm = &space;
			if (len > UINT32_MAX ||
			    sluice_scan_message(pack, scratch, ex->text, len, &set) != HS_SUCCESS) {
				rule_err(b, i, at, "example",
					 "example '%.60s' could not be scanned", ex->text);
				continue;
			}
			for (uint32_t m = 0; m < set.count && !hit; m++) {
				if (set.matches[m].rule == p)
					hit = &set.matches[m];
			}
			if (ex->should_match && !hit)
				rule_err(
				    b, i, at, "example",
				    "example '%.60s' should match but does not; fix the %s or the "
				    "example",
				    ex->text, sluice_rule_kind_name(r->kind));
			else if (!ex->should_match && hit && r->kind == SLUICE_RULE_COMBINATION)
				rule_err(
				    b, i, at, "example",
				    "example '%.60s' should not match, but the combination holds "
				    "for it; fix the combination or the example",
				    ex->text);
			else if (!ex->should_match && hit)
				rule_err(b, i, at, "example",
					 "example '%.60s' should not match, but the rule matches "
					 "'%.*s' (bytes %u..%u); fix the %s or the example",
					 ex->text, (int)(hit->to - hit->from), ex->text + hit->from,
					 hit->from, hit->to, sluice_rule_kind_name(r->kind));
		}
	}
	hs_free_scratch(scratch);
	free(storage);
	sluice_norm_space_free(&space);
}

static void build_free(struct build *b)
{
	size_t n = b->rules->count;

	for (size_t i = 0; b->flat && i < n; i++)
		free(b->flat[i]);
	for (size_t i = 0; b->expr && i < n; i++)
		free(b->expr[i]);
	free(b->flat);
	free(b->flat_len);
	free(b->expr);
	free(b->expr_prefix);
	free(b->span_later);
	free(b->span_window);
	free(b->edge_check);
	free(b->bad);
	free(b->check_body);
	free(b->operand);
	free(b->pack_index);
	free(b->by_id);
	for (size_t i = 0; b->body && i < n; i++)
		free(b->body[i]);
	for (size_t i = 0; b->lits && i < n; i++) {
		for (size_t k = 0; b->lits[i] && k < literal_count(&b->rules->rules[i]); k++)
			free((char *)b->lits[i][k].text);
		free(b->lits[i]);
	}
	for (size_t i = 0; b->wide && i < n; i++) {
		for (size_t k = 0; b->wide[i] && k < literal_count(&b->rules->rules[i]); k++)
			free(b->wide[i][k]);
		free(b->wide[i]);
	}
	free(b->wide);
	free(b->body);
	free(b->lits);
	free(b->folded);
	if (b->fold != NULL)
		sluice_fold_table_free(b->fold);
	free(b->fold);
}

/* ---- the build, in three phases ---- */

/* How a phase ended: go on, stop (the problems are reported), or stop out of
 * memory (reported once, by sluice_pack_build()). */
enum phase { PHASE_OK, PHASE_FAILED, PHASE_OOM };

static enum phase phase_end(const struct build *b)
{
	if (b->oom)
		return PHASE_OOM;
	if (b->errors && !b->partial)
		return PHASE_FAILED;
	return PHASE_OK;
}

static const char *source_name(const struct build *b)
{
	return b->rules->source ? b->rules->source : "(rules)";
}

static int alloc_per_rule(struct build *b, size_t n)
{
	b->bad = calloc(n, sizeof(*b->bad));
	b->check_body = calloc(n, sizeof(*b->check_body));
	b->operand = calloc(n, sizeof(*b->operand));
	b->flat = calloc(n, sizeof(*b->flat));
	b->flat_len = calloc(n, sizeof(*b->flat_len));
	b->expr = calloc(n, sizeof(*b->expr));
	b->expr_prefix = calloc(n, sizeof(*b->expr_prefix));
	b->span_later = calloc(n, sizeof(*b->span_later));
	b->span_window = calloc(n, sizeof(*b->span_window));
	b->edge_check = calloc(n, sizeof(*b->edge_check));
	b->pack_index = calloc(n, sizeof(*b->pack_index));
	b->folded = calloc(n, sizeof(*b->folded));
	b->body = calloc(n, sizeof(*b->body));
	b->lits = calloc(n, sizeof(*b->lits));
	b->wide = calloc(n, sizeof(*b->wide));
	return b->bad && b->check_body && b->operand && b->flat && b->flat_len && b->expr &&
		       b->expr_prefix && b->span_later && b->span_window && b->edge_check &&
		       b->pack_index && b->folded && b->body && b->lits && b->wide
		   ? 0
		   : -1;
}

/* The loader reported its invalid rules already; a rule built in code without
 * an id, category or pattern is the caller's bug. Either is left out. */
static void leave_out_unusable(struct build *b)
{
	for (size_t i = 0; i < b->rules->count; i++) {
		const struct sluice_rule *r = &b->rules->rules[i];
		if (!r->invalid && r->id && r->category && r->pattern)
			continue;
		b->bad[i] = true;
		b->check_body[i] = r->invalid && r->id && r->pattern;
		if (!r->invalid)
			list_err(b, source_name(b), "rule %zu lacks an id, category or pattern",
				 i + 1);
		else if (!b->partial)
			b->errors++;
	}
}

/* ---- normalisation (rule_fold.h) ---- */

/* Which rules are matched on the folded text, and the pack's table when any
 * is. A table that cannot be built is an error: without it every rule would
 * quietly match less than its author expects. Returns -1 after reporting. */
static int choose_views(struct build *b)
{
	const struct sluice_rule_list *rules = b->rules;
	bool any = false, optin = false;
	char why[512];

	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		if (b->bad[i] || r->kind == SLUICE_RULE_COMBINATION)
			continue;
		optin |= r->optin != 0;
		if (rules->normalize == SLUICE_NORM_NONE) {
			if (r->raw)
				rule_warn(b, i,
					  r->normalize_loc.line ? r->normalize_loc : rule_loc(r),
					  "normalize-no-effect",
					  "normalize: false has no effect: the pack does not "
					  "normalise (normalize: none at its top)");
			continue;
		}
		b->folded[i] = !r->raw;
		any |= !r->raw;
	}
	if (optin && (b->optin = sluice_optin_data(why, sizeof(why))) == NULL) {
		list_err(b, source_name(b), "cannot build the opt-in folding data: %s", why);
		return -1;
	}
	if (!any)
		return 0;
	b->fold = sluice_fold_narrow(why, sizeof(why));
	if (b->fold == NULL) {
		list_err(b, source_name(b),
			 "cannot build the folding table for normalisation: %s; or write "
			 "'normalize: none' at the top of the rule file to match text as it is",
			 why);
		return -1;
	}
	return 0;
}

/* Lint's view of what folding did to a rule: where it changed what the rule
 * means, say so. */
static void warn_folds(struct build *b, size_t i, const char *written,
		       const struct sluice_fold_note *n, size_t literal)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	char which[48] = "";

	if (literal)
		snprintf(which, sizeof(which), "literal %zu: ", literal);
	if (n->folded)
		rule_warn(b, i, body_loc_at(r, literal ? 0 : n->first_at), "normalize-folds",
			  "%snormalisation matches '%.*s' as %s%s%s, as it folds messages, so the "
			  "rule also matches the other forms of it%s; write the folded form, or "
			  "add normalize: false to match only what is written",
			  which, (int)n->first_len, written + n->first_at,
			  n->first_to[0] ? "'" : "nothing (it is invisible)", n->first_to,
			  n->first_to[0] ? "'" : "",
			  n->folded > 1 ? " (and more characters of the rule fold)" : "");
	if (n->class_lost)
		rule_warn(b, i, body_loc_at(r, n->class_lost_at), "normalize-class",
			  "'%.*s' in a character class folds to several characters, which a "
			  "class cannot hold, so it never matches a normalised message; write "
			  "it as an alternative, (?:a|b), or add normalize: false",
			  (int)n->class_lost_len, written + n->class_lost_at);
	if (n->negated)
		rule_warn(b, i, body_loc(r), "normalize-negated-class",
			  "a negated class now also excludes the folded forms of what it lists "
			  "(a message's folded text has only those); check that this is meant, "
			  "or add normalize: false");
}

/* Lint's warning for separators let in between ASCII characters only: each
 * Latin letter then starts a match attempt (docs/rule-language.md). */
static void warn_latin_spread(struct build *b, size_t i, const char *written,
			      const struct sluice_fold_note *n, size_t literal)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	char which[48] = "";

	if (n->latin_spread == 0)
		return;
	if (literal)
		snprintf(which, sizeof(which), "literal %zu: ", literal);
	rule_warn(b, i, body_loc_at(r, literal ? 0 : n->latin_at), "separators-latin",
		  "%sslow: separators between the characters of '%.*s'%s leave Hyperscan no "
		  "literal longer than one character to start from, and such starts are "
		  "everywhere in text; give Latin terms a rule of their own without "
		  "separators, or keep a Chinese character in the alternative",
		  which, (int)n->latin_len, written + n->latin_at,
		  n->latin_spread > 1 ? " (and of more alternatives like it)" : "");
}

/* A literal or list rule that opted in: each literal widened into a pattern
 * (rule_fold.h), compiled as a regex. -1 when out of memory. */
static int widen_literals(struct build *b, size_t i, const struct sluice_fold_table *t)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	size_t n = literal_count(r);
	struct sluice_fold_note note;
	bool warned = false;

	b->wide[i] = calloc(n ? n : 1, sizeof(**b->wide));
	if (b->wide[i] == NULL) {
		b->oom = true;
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		struct sluice_literal l = literal_as_written(r, k);
		if (l.len > 0 && sluice_widen_literal(t, b->optin, r->optin, l.text, l.len,
						      &b->wide[i][k], &note) != 0) {
			b->oom = true;
			return -1;
		}
		/* One warning per rule: a list can hold thousands. */
		if (l.len > 0 && note.latin_spread > 0 && !warned) {
			warn_latin_spread(b, i, l.text, &note,
					  n > 1 || r->kind == SLUICE_RULE_LIST ? k + 1 : 0);
			warned = true;
		}
	}
	return 0;
}

/* Folds rule i's body. Returns -1 when out of memory. */
static int fold_rule(struct build *b, size_t i)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	struct sluice_fold_note note;
	bool pattern = r->kind == SLUICE_RULE_PATTERN;
	const struct sluice_fold_table *t = b->folded[i] ? b->fold : NULL;

	if (r->optin && !pattern && widen_literals(b, i, t) != 0)
		return -1;
	if (pattern) {
		char *folded;
		if (sluice_widen_pattern(t, b->optin, r->optin, r->pattern, &folded, &note) != 0) {
			b->oom = true;
			return -1;
		}
		if (strcmp(folded, r->pattern) == 0)
			free(folded);
		else
			b->body[i] = folded;
		warn_folds(b, i, r->pattern, &note, 0);
		warn_latin_spread(b, i, r->pattern, &note, 0);
	} else {
		size_t n = literal_count(r);
		bool warned = false;
		b->lits[i] = calloc(n ? n : 1, sizeof(**b->lits));
		if (b->lits[i] == NULL) {
			b->oom = true;
			return -1;
		}
		for (size_t k = 0; k < n; k++) {
			struct sluice_literal l = literal_as_written(r, k);
			char *text;
			size_t len;
			if (sluice_fold_literal(t, l.text, l.len, &text, &len, &note) != 0) {
				b->oom = true;
				return -1;
			}
			b->lits[i][k] = l;
			b->lits[i][k].text = text;
			b->lits[i][k].len = (uint32_t)len;
			/* One warning per rule: a list can hold thousands. */
			if (note.folded && !warned) {
				warn_folds(b, i, l.text, &note,
					   n > 1 || r->kind == SLUICE_RULE_LIST ? k + 1 : 0);
				warned = true;
			}
		}
	}
	return 0;
}

static void check_rule_bodies(struct build *b)
{
	for (size_t i = 0; i < b->rules->count; i++) {
		const struct sluice_rule *r = &b->rules->rules[i];
		if (b->check_body[i]) {
			/* As written (its view was never chosen), for errors only:
			 * it is never compiled. */
			if (r->kind == SLUICE_RULE_PATTERN)
				check_pattern(b, i);
			continue;
		}
		if (b->bad[i])
			continue;
		if (!r->allow &&
		    (r->action < SLUICE_ACTION_FLAG || r->action > SLUICE_ACTION_BLOCK)) {
			rule_err(b, i, rule_loc(r), "bad-action",
				 "the action is not one of flag, mask, block, allow");
			continue;
		}
		if (r->starts_at != 0 && r->expires_at != 0 && r->starts_at >= r->expires_at)
			rule_err(b, i, r->starts_loc.line ? r->starts_loc : rule_loc(r), "bad-date",
				 "the rule starts after the day it expires, so it never applies; "
				 "fix one of the dates");
		if ((b->folded[i] || r->optin) && fold_rule(b, i) != 0)
			return;
		if (r->kind == SLUICE_RULE_PATTERN)
			check_pattern(b, i);
		else if (r->kind == SLUICE_RULE_LITERAL || r->kind == SLUICE_RULE_LIST)
			check_literals(b, i);
	}
}

/* Phase 1, before any database is compiled: the rule list as a whole (ids,
 * each rule's body, combinations and their operands, how rules are used). */
static enum phase check_rules(struct build *b)
{
	size_t n = b->rules->count;

	if (n == 0) {
		list_err(b, source_name(b), "no rules to compile; add at least one rule");
		return PHASE_FAILED;
	}
	if (n > UINT32_MAX - 2) {
		list_err(b, source_name(b), "%zu rules is more than a pack can hold", n);
		return PHASE_FAILED;
	}
	if (alloc_per_rule(b, n) != 0)
		return PHASE_OOM;
	leave_out_unusable(b);
	if (index_ids(b) != 0)
		return PHASE_OOM;
	if (choose_views(b) != 0)
		return phase_end(b) == PHASE_OK ? PHASE_FAILED : phase_end(b);
	check_rule_bodies(b);
	sluice_compile_check_combinations(b);
	sluice_compile_settle_operands(b);
	sluice_compile_check_usage(b);
	return phase_end(b);
}

/* The pack's databases: what each is compiled from, and what came of it. */
struct databases {
	struct db_input in[DB_INPUTS];
	struct built_db built[DB_INPUTS];
};

static void free_built(struct databases *dbs)
{
	for (int k = 0; k < DB_INPUTS; k++) {
		if (dbs->built[k].db)
			hs_free_database(dbs->built[k].db);
		dbs->built[k].db = NULL;
	}
}

static void databases_free(struct databases *dbs)
{
	free_built(dbs);
	for (int k = 0; k < DB_INPUTS; k++)
		db_input_free(&dbs->in[k]);
}

/* Phase 2: the Hyperscan databases. A partial build leaves out each rule
 * Hyperscan refuses and compiles the rest again, at most once per rule. */
static enum phase compile_databases(struct build *b, struct databases *dbs)
{
	for (size_t attempt = 0;; attempt++) {
		long who = -2;

		assign_pack_indexes(b);
		for (int k = 0; k < DB_INPUTS; k++)
			db_input_free(&dbs->in[k]);
		if (gather(b, dbs->in) != 0)
			return PHASE_OOM;
		for (int k = 0; k < DB_INPUTS && who == -2; k++)
			who = compile_db(b, db_kinds[k % DB_KINDS], &dbs->in[k], &dbs->built[k]);
		if (who == -2)
			return PHASE_OK;
		free_built(dbs);
		if (who == COMPILE_AGAIN)
			continue; /* a pattern's starts are found afterwards now */
		if (!b->partial || who == (long)NO_INDEX || attempt > b->rules->count)
			return PHASE_FAILED;
		b->bad[who] = true;
		sluice_compile_settle_operands(b);
	}
}

/* Hands the compiled databases to the pack, which frees them from then on. */
static void adopt_databases(struct sluice_pack *pack, struct databases *dbs)
{
	for (int k = 0; k < DB_INPUTS; k++) {
		struct sluice_pack_db *d;
		if (!dbs->built[k].db)
			continue;
		d = &pack->dbs[pack->db_count++];
		d->kind = dbs->built[k].kind;
		d->view = (enum sluice_text_view)(k / DB_KINDS);
		d->db = dbs->built[k].db;
		d->bytes = dbs->built[k].bytes;
		d->patterns = dbs->built[k].patterns;
		d->id_count = (uint32_t)dbs->in[k].id_count;
		d->map = dbs->in[k].map;
		dbs->in[k].map = NULL;
		dbs->built[k].db = NULL;
		pack->db_bytes += d->bytes;
	}
}

/* The hash identifies a pack in audit lines and swaps whether or not it was
 * ever written, so it is the hash of the body a write would produce. */
static int hash_pack(struct build *b, struct sluice_pack *pack)
{
	uint8_t *image = NULL;
	size_t image_len = 0;
	char why[512];

	if (sluice_pack_serialize(pack, &image, &image_len, pack->sha256_hex, why, sizeof(why)) !=
	    0) {
		list_err(b, source_name(b), "%s", why);
		return -1;
	}
	free(image);
	return 0;
}

/* The pack's table cut down to the mappings its folded databases can see
 * (fold_scope.h): a message with only unseen characters to fold is read,
 * not rewritten. -1 when out of memory. */
static int scope_fold(struct build *b, const struct databases *dbs)
{
	struct sluice_fold_scope scope;
	if (sluice_fold_scope_init(&scope) != 0)
		return -1;
	for (int k = 0; k < DB_KINDS; k++) {
		const struct db_input *in = &dbs->in[DB_KINDS * SLUICE_VIEW_FOLDED + k];
		for (size_t j = 0; j < in->count; j++) {
			bool caseless = (in->flags[j] & HS_FLAG_CASELESS) != 0;
			if (db_kinds[k] == SLUICE_DB_LITERAL)
				sluice_fold_scope_literal(&scope, in->exprs[j], in->lens[j],
							  caseless);
			else
				sluice_fold_scope_regex(&scope, in->exprs[j], caseless);
		}
	}
	for (size_t i = 0; i < b->rules->count; i++) {
		if (!b->bad[i] && b->folded[i] && (rule_flags(b, i) & SLUICE_RULE_WHOLE_WORD))
			sluice_fold_scope_word_edges(&scope);
	}
	struct sluice_fold_table *scoped = sluice_fold_table_scoped(b->fold, &scope);
	sluice_fold_scope_free(&scope);
	if (scoped == NULL)
		return -1;
	sluice_fold_table_free(b->fold);
	free(b->fold);
	b->fold = scoped;
	return 0;
}

/* Phase 3: the pack around the databases, and every rule's examples checked
 * against it. *pack is set even when this fails, for the caller to free. */
static enum phase assemble_pack(struct build *b, struct databases *dbs, struct sluice_pack **out)
{
	const struct sluice_rule_list *rules = b->rules;
	struct sluice_pack *pack = calloc(1, sizeof(*pack));

	*out = pack;
	if (!pack)
		return PHASE_OOM;
	pack->name = strdup(rules->name ? rules->name : "unnamed");
	pack->version = strdup(rules->version ? rules->version : "0");
	pack->source = strdup(source_name(b));
	pack->owner = dup_or_empty(rules->owner);
	pack->description = dup_or_empty(rules->description);
	pack->dbs = calloc(DB_INPUTS, sizeof(*pack->dbs));
	if (!pack->name || !pack->version || !pack->source || !pack->owner || !pack->description ||
	    !pack->dbs || fill_rules(b, pack) != 0)
		return PHASE_OOM;
	adopt_databases(pack, dbs);
	sluice_pack_link_spans(pack);
	pack->views = sluice_pack_views(pack);
	if (pack->views & (1u << SLUICE_VIEW_FOLDED)) {
		if (scope_fold(b, dbs) != 0)
			return PHASE_OOM;
		pack->fold = b->fold;
		b->fold = NULL;
	}
	if (pack->db_count) {
		if (hash_pack(b, pack) != 0)
			return PHASE_FAILED;
		check_examples(b, pack);
	}
	return phase_end(b);
}

int sluice_pack_build(const struct sluice_rule_list *rules, bool partial,
		      struct sluice_diag_list *diags, struct sluice_pack **out)
{
	struct build b = {.rules = rules, .diags = diags, .partial = partial};
	struct databases dbs = {0};
	struct sluice_pack *pack = NULL;
	double start = sluice_mono_ms();
	enum phase phase;

	*out = NULL;
	phase = check_rules(&b);
	if (phase == PHASE_OK)
		phase = compile_databases(&b, &dbs);
	if (phase == PHASE_OK)
		phase = assemble_pack(&b, &dbs, &pack);
	if (phase == PHASE_OOM)
		list_err(&b, source_name(&b), "out of memory while compiling the rules");
	if (phase == PHASE_OK) {
		pack->compile_ms = sluice_mono_ms() - start;
		*out = pack;
		pack = NULL;
	}
	databases_free(&dbs);
	sluice_pack_free(pack);
	build_free(&b);
	return phase == PHASE_OK ? 0 : -1;
}

int sluice_pack_compile(const struct sluice_rule_list *rules, struct sluice_pack **out, char *err,
			size_t err_len)
{
	struct sluice_diag_list diags = {0};
	int rc = sluice_pack_build(rules, false, &diags, out);

	if (rc != 0) {
		const struct sluice_diag *d;
		sluice_diag_sort(&diags);
		d = sluice_diag_first_error(&diags);
		if (d && err && err_len) {
			/* Problems with no place in a file keep the "FILE: why"
			 * form. */
			if (strcmp(d->code, "compile") == 0)
				snprintf(err, err_len, "%s: %s", d->file, d->message);
			else
				sluice_diag_format_short(d, err, err_len);
		} else if (err && err_len) {
			snprintf(err, err_len, "%s: the rules did not compile",
				 rules->source ? rules->source : "(rules)");
		}
	}
	sluice_diag_list_free(&diags);
	return rc;
}
