#include "pcre2_baseline.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regex_analysis.h"

/* Enough for any pattern the default packs hold; the default (32 KiB) is
 * too small for long alternations. */
#define JIT_STACK_START (32 * 1024)
#define JIT_STACK_MAX	(4 * 1024 * 1024)

/* Growable text, for building patterns. */
struct text {
	char *s;
	size_t len, cap;
};

static bool text_reserve(struct text *t, size_t more)
{
	if (t->len + more + 1 <= t->cap)
		return true;
	size_t cap = t->cap ? t->cap : 256;
	while (cap < t->len + more + 1)
		cap *= 2;
	char *s = realloc(t->s, cap);
	if (s == NULL)
		return false;
	t->s = s;
	t->cap = cap;
	return true;
}

static bool text_add(struct text *t, const char *s, size_t n)
{
	if (!text_reserve(t, n))
		return false;
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	return true;
}

/* Appends a literal with ASCII punctuation escaped (a backslash before any
 * non-alphanumeric ASCII character makes it literal). */
static bool add_escaped(struct text *t, const struct sluice_literal *lit)
{
	const unsigned char *s = (const unsigned char *)lit->text;

	for (uint32_t i = 0; i < lit->len; i++) {
		if (s[i] < 0x80 && ispunct(s[i]) && !text_add(t, "\\", 1))
			return false;
		if (!text_add(t, (const char *)&s[i], 1))
			return false;
	}
	return true;
}

/* Which of a literal's edges whole_word checks: those that are ASCII word
 * characters (Sluice's rule for literal edges). Bit 0 start, bit 1 end. */
static unsigned word_edges(const struct sluice_literal *lit, bool whole_word)
{
	const unsigned char *s = (const unsigned char *)lit->text;
	if (!whole_word || lit->len == 0)
		return 0;
	return (sluice_ascii_word(s[0]) ? 1u : 0u) | (sluice_ascii_word(s[lit->len - 1]) ? 2u : 0u);
}

static void note_skip(struct pcre2_baseline *b, const char *rule_id, const char *reason)
{
	for (size_t i = 0; i < PCRE2_BASELINE_REASONS; i++) {
		if (b->skips[i].rule_id == NULL) {
			b->skips[i].rule_id = strdup(rule_id);
			b->skips[i].reason = strdup(reason);
			return;
		}
	}
}

static bool add_part(struct pcre2_rule *r, pcre2_code *code, struct pcre2_baseline *b)
{
	struct pcre2_part *parts = realloc(r->parts, (r->part_count + 1) * sizeof(*parts));
	if (parts == NULL)
		return false;
	r->parts = parts;
	r->parts[r->part_count].code = code;
	r->parts[r->part_count].jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	b->not_jit += !r->parts[r->part_count].jit;
	r->part_count++;
	b->patterns++;
	return true;
}

/* Outcome of compiling: a reason PCRE2 gave, or out of memory. */
enum compile_outcome { COMPILED, REFUSED, NO_MEMORY };

static enum compile_outcome compile_part(struct pcre2_rule *r, const char *pattern, size_t len,
					 uint32_t options, struct pcre2_baseline *b, int *error,
					 PCRE2_SIZE *error_at)
{
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, len, options, error, error_at, NULL);
	if (code == NULL)
		return *error == PCRE2_ERROR_HEAP_FAILED ? NO_MEMORY : REFUSED;
	if (!add_part(r, code, b)) {
		pcre2_code_free(code);
		return NO_MEMORY;
	}
	return COMPILED;
}

/* Literals entries[from, to) of a rule as one alternation, \b(?:a|b|c)\b
 * with \b on the edges given; halves it while PCRE2 finds it too large. */
static enum compile_outcome
compile_alternation(struct pcre2_rule *r, const struct sluice_rule *rule, const uint32_t *entries,
		    size_t from, size_t to, unsigned edges, uint32_t options,
		    struct pcre2_baseline *b, int *error, PCRE2_SIZE *error_at)
{
	struct text t = {0};
	bool ok = text_add(&t, (edges & 1) ? "\\b(?:" : "(?:", (edges & 1) ? 5 : 3);
	for (size_t i = from; ok && i < to; i++)
		ok = (i == from || text_add(&t, "|", 1)) &&
		     add_escaped(&t, &rule->literals[entries[i]]);
	ok = ok && text_add(&t, (edges & 2) ? ")\\b" : ")", (edges & 2) ? 3 : 1);
	if (!ok) {
		free(t.s);
		return NO_MEMORY;
	}
	enum compile_outcome out = compile_part(r, t.s, t.len, options, b, error, error_at);
	free(t.s);
	if (out == REFUSED && *error == PCRE2_ERROR_PATTERN_TOO_LARGE && to - from > 1) {
		size_t mid = from + (to - from) / 2;
		out = compile_alternation(r, rule, entries, from, mid, edges, options, b, error,
					  error_at);
		if (out == COMPILED)
			out = compile_alternation(r, rule, entries, mid, to, edges, options, b,
						  error, error_at);
	}
	return out;
}

/* A list (or a whole_word literal): one alternation per kind of word edges
 * among its entries, so \b is written once around each alternation rather
 * than on every entry (PCRE2 is several times slower with an assertion at
 * the start of every branch). Without whole_word that is one alternation. */
static enum compile_outcome compile_list(struct pcre2_rule *r, const struct sluice_rule *rule,
					 uint32_t options, struct pcre2_baseline *b, int *error,
					 PCRE2_SIZE *error_at)
{
	bool whole_word = rule->flags & SLUICE_RULE_WHOLE_WORD;
	uint32_t *entries = malloc(rule->literal_count * sizeof(*entries));
	enum compile_outcome out = COMPILED;

	if (entries == NULL)
		return NO_MEMORY;
	for (unsigned edges = 0; edges < 4 && out == COMPILED; edges++) {
		size_t n = 0;
		for (size_t i = 0; i < rule->literal_count; i++)
			if (word_edges(&rule->literals[i], whole_word) == edges)
				entries[n++] = (uint32_t)i;
		if (n > 0)
			out = compile_alternation(r, rule, entries, 0, n, edges, options, b, error,
						  error_at);
	}
	free(entries);
	return out;
}

static uint32_t pcre2_options(const struct sluice_rule *rule)
{
	uint32_t options = PCRE2_UTF;
	if (rule->flags & SLUICE_RULE_CASELESS || rule->caseless)
		options |= PCRE2_CASELESS;
	if (rule->flags & SLUICE_RULE_DOTALL)
		options |= PCRE2_DOTALL;
	if (rule->flags & SLUICE_RULE_MULTILINE)
		options |= PCRE2_MULTILINE;
	return options;
}

/* Compiles one non-combination rule into r. Returns COMPILED, REFUSED (with
 * reason) or NO_MEMORY. */
static enum compile_outcome compile_rule(struct pcre2_rule *r, const struct sluice_rule *rule,
					 struct pcre2_baseline *b, char *reason, size_t reason_len)
{
	uint32_t options = pcre2_options(rule);
	bool whole_word = rule->flags & SLUICE_RULE_WHOLE_WORD;
	int error = 0;
	PCRE2_SIZE error_at = 0;
	enum compile_outcome out;

	if (rule->kind == SLUICE_RULE_PATTERN) {
		struct text t = {0};
		if (!(whole_word ? text_add(&t, "\\b(?:", 5) &&
				       text_add(&t, rule->pattern, strlen(rule->pattern)) &&
				       text_add(&t, ")\\b", 3)
				 : text_add(&t, rule->pattern, strlen(rule->pattern)))) {
			free(t.s);
			return NO_MEMORY;
		}
		out = compile_part(r, t.s, t.len, options, b, &error, &error_at);
		free(t.s);
	} else if (rule->kind == SLUICE_RULE_LITERAL && !whole_word && rule->literal_count == 1) {
		out = compile_part(r, rule->literals[0].text, rule->literals[0].len,
				   options | PCRE2_LITERAL, b, &error, &error_at);
	} else if (rule->literal_count == 0) {
		snprintf(reason, reason_len, "no literals");
		return REFUSED;
	} else {
		out = compile_list(r, rule, options, b, &error, &error_at);
	}
	if (out == REFUSED) {
		char message[256];
		pcre2_get_error_message(error, (PCRE2_UCHAR *)message, sizeof(message));
		snprintf(reason, reason_len, "PCRE2 refused it at offset %zu: %s", (size_t)error_at,
			 message);
	}
	return out;
}

static long find_rule(const struct sluice_rule_list *rules, const char *name, size_t len)
{
	for (size_t i = 0; i < rules->count; i++)
		if (strlen(rules->rules[i].id) == len && memcmp(rules->rules[i].id, name, len) == 0)
			return (long)i;
	return -1;
}

/* Parses a combination and resolves its operands to rule indexes. Returns
 * false with reason when it cannot be judged here. */
static bool parse_combination(const struct sluice_rule_list *rules, size_t index,
			      struct pcre2_combination *c, char *reason, size_t reason_len)
{
	const struct sluice_rule *rule = &rules->rules[index];
	struct sluice_logic_expr expr = {0};
	size_t err_at = 0;
	char message[128];

	c->rule = (uint32_t)index;
	if (sluice_logic_parse(rule->pattern, &expr, &err_at, message, sizeof(message)) != 0) {
		snprintf(reason, reason_len, "combination does not parse at %zu: %s", err_at,
			 message);
		return false;
	}
	for (size_t k = 0; k < expr.count; k++) {
		if (expr.ops[k].op != SLUICE_LOGIC_RULE)
			continue;
		long operand = find_rule(rules, rule->pattern + expr.at[k], expr.len[k]);
		if (operand < 0) {
			snprintf(reason, reason_len, "unknown operand '%.*s'", (int)expr.len[k],
				 rule->pattern + expr.at[k]);
			sluice_logic_expr_free(&expr);
			return false;
		}
		expr.ops[k].arg = (uint32_t)operand;
	}
	if (!sluice_logic_check(expr.ops, expr.count, rules->count)) {
		snprintf(reason, reason_len, "combination too deep or malformed");
		sluice_logic_expr_free(&expr);
		return false;
	}
	c->ops = malloc(expr.count * sizeof(*c->ops));
	if (c->ops == NULL) {
		sluice_logic_expr_free(&expr);
		snprintf(reason, reason_len, "out of memory");
		return false;
	}
	memcpy(c->ops, expr.ops, expr.count * sizeof(*c->ops));
	c->op_count = expr.count;
	sluice_logic_expr_free(&expr);
	return true;
}

/* Whether every operand of c is a rule whose result is known by the time c
 * is judged: compiled, or a combination already placed in the order. */
static bool operands_ready(const struct pcre2_combination *c, const struct pcre2_rule *rules)
{
	for (size_t k = 0; k < c->op_count; k++)
		if (c->ops[k].op == SLUICE_LOGIC_RULE && !rules[c->ops[k].arg].usable)
			return false;
	return true;
}

/* Puts the combinations in an order that judges operands first. Those that
 * never become ready (an operand skipped, or a cycle) are skipped. */
static void order_combinations(struct pcre2_baseline *b, const struct sluice_rule_list *rules,
			       struct pcre2_combination *pending, size_t pending_count)
{
	size_t placed = 0;
	bool progress = true;

	/* Each round places at least one, so at most pending_count rounds. */
	for (size_t round = 0; progress && round < pending_count; round++) {
		progress = false;
		for (size_t i = 0; i < pending_count; i++) {
			if (pending[i].ops == NULL || b->rules[pending[i].rule].usable ||
			    !operands_ready(&pending[i], b->rules))
				continue;
			b->combinations[placed++] = pending[i];
			b->rules[pending[i].rule].usable = true;
			pending[i].ops = NULL;
			progress = true;
		}
	}
	b->combination_count = placed;
	for (size_t i = 0; i < pending_count; i++) {
		if (pending[i].ops == NULL)
			continue;
		note_skip(b, rules->rules[pending[i].rule].id,
			  "an operand was skipped, or the combinations form a cycle");
		b->skipped_rules++;
		b->skipped_combinations++;
		free(pending[i].ops);
	}
}

int pcre2_baseline_build(const struct sluice_rule_list *rules, struct pcre2_baseline *out,
			 char *err, size_t err_len)
{
	struct pcre2_baseline *b = out;
	struct pcre2_combination *pending = NULL;
	size_t pending_count = 0;
	char reason[512];

	memset(b, 0, sizeof(*b));
	b->rule_count = rules->count;
	b->rules = calloc(rules->count ? rules->count : 1, sizeof(*b->rules));
	b->matched = calloc(rules->count ? rules->count : 1, sizeof(*b->matched));
	b->combinations = calloc(rules->count ? rules->count : 1, sizeof(*b->combinations));
	pending = calloc(rules->count ? rules->count : 1, sizeof(*pending));
	b->match_context = pcre2_match_context_create(NULL);
	b->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
	if (!b->rules || !b->matched || !b->combinations || !pending || !b->match_context ||
	    !b->jit_stack)
		goto no_memory;
	pcre2_jit_stack_assign(b->match_context, NULL, b->jit_stack);

	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *rule = &rules->rules[i];
		struct pcre2_rule *r = &b->rules[i];
		r->acts = !rule->allow && !rule->quiet;
		r->action = (uint8_t)rule->action;
		if (rule->kind == SLUICE_RULE_COMBINATION) {
			if (parse_combination(rules, i, &pending[pending_count], reason,
					      sizeof(reason))) {
				pending_count++;
			} else {
				note_skip(b, rule->id, reason);
				b->skipped_rules++;
				b->skipped_combinations++;
			}
			continue;
		}
		r->match_data = pcre2_match_data_create(1, NULL);
		if (r->match_data == NULL)
			goto no_memory;
		enum compile_outcome outcome = compile_rule(r, rule, b, reason, sizeof(reason));
		if (outcome == NO_MEMORY)
			goto no_memory;
		if (outcome == REFUSED) {
			note_skip(b, rule->id, reason);
			b->skipped_rules++;
			continue;
		}
		r->usable = true;
	}
	order_combinations(b, rules, pending, pending_count);
	free(pending);
	return 0;

no_memory:
	for (size_t i = 0; i < pending_count; i++)
		free(pending[i].ops);
	free(pending);
	pcre2_baseline_free(b);
	snprintf(err, err_len, "out of memory building the PCRE2 baseline");
	return -1;
}

void pcre2_baseline_free(struct pcre2_baseline *b)
{
	for (size_t i = 0; b->rules && i < b->rule_count; i++) {
		for (uint32_t p = 0; p < b->rules[i].part_count; p++)
			pcre2_code_free(b->rules[i].parts[p].code);
		free(b->rules[i].parts);
		pcre2_match_data_free(b->rules[i].match_data);
	}
	for (size_t i = 0; i < b->combination_count; i++)
		free(b->combinations[i].ops);
	for (size_t i = 0; i < PCRE2_BASELINE_REASONS; i++) {
		free(b->skips[i].rule_id);
		free(b->skips[i].reason);
	}
	free(b->rules);
	free(b->combinations);
	free(b->matched);
	pcre2_jit_stack_free(b->jit_stack);
	pcre2_match_context_free(b->match_context);
	memset(b, 0, sizeof(*b));
}

static bool operand_matched(const void *ctx, uint32_t rule)
{
	return ((const uint8_t *)ctx)[rule] != 0;
}

/* Whether one of the rule's parts matches text. */
static bool rule_matches(const struct pcre2_baseline *b, const struct pcre2_rule *r,
			 const char *text, size_t len, struct pass_counts *counts)
{
	for (uint32_t p = 0; p < r->part_count; p++) {
		const struct pcre2_part *part = &r->parts[p];
		int rc = part->jit
			     ? pcre2_jit_match(part->code, (PCRE2_SPTR)text, len, 0,
					       PCRE2_NO_UTF_CHECK, r->match_data, b->match_context)
			     : pcre2_match(part->code, (PCRE2_SPTR)text, len, 0, PCRE2_NO_UTF_CHECK,
					   r->match_data, b->match_context);
		if (rc >= 0)
			return true;
		if (rc != PCRE2_ERROR_NOMATCH)
			counts->match_errors++;
	}
	return false;
}

int pcre2_baseline_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
			uint8_t *verdicts, char *err, size_t err_len)
{
	struct pcre2_baseline *b = stage;

	(void)err;
	(void)err_len;
	for (uint32_t i = 0; i < corpus->count; i++) {
		const char *text = corpus->text[i];
		size_t len = corpus->len[i];
		uint8_t verdict = 0;

		for (size_t r = 0; r < b->rule_count; r++) {
			const struct pcre2_rule *rule = &b->rules[r];
			b->matched[r] =
			    rule->part_count && rule_matches(b, rule, text, len, counts);
		}
		for (size_t c = 0; c < b->combination_count; c++) {
			const struct pcre2_combination *combination = &b->combinations[c];
			b->matched[combination->rule] = sluice_logic_eval(
			    combination->ops, combination->op_count, operand_matched, b->matched);
		}
		for (size_t r = 0; r < b->rule_count; r++) {
			if (!b->matched[r])
				continue;
			counts->matches++;
			if (b->rules[r].acts && b->rules[r].action > verdict)
				verdict = b->rules[r].action;
		}
		counts->acted_messages += verdict != 0;
		if (verdicts)
			verdicts[i] = verdict;
	}
	return 0;
}
