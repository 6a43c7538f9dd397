/* Combinations of rules ("a and not b"): parsed, their operands resolved to
 * the rules they name and inlined into one program each, and checked for what
 * cannot work (compile_build.h has the order). They have no database: the
 * match path judges each from its operands' matches (scan/match.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_build.h"
#include "suggest.h"

/* The first rule with this id, or NO_INDEX. */
static uint32_t find_id(const struct build *b, const char *id, size_t len)
{
	size_t lo = 0, hi = b->rules->count;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const char *s = b->rules->rules[b->by_id[mid]].id;
		int c = strncmp(s, id, len);
		if (c == 0 && s[len] != '\0')
			c = 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < b->rules->count) {
		const char *s = b->rules->rules[b->by_id[lo]].id;
		if (strncmp(s, id, len) == 0 && s[len] == '\0')
			return b->by_id[lo];
	}
	return NO_INDEX;
}

/* Close enough to suggest: ids are longer than keywords, so three edits. */
#define CLOSE_ID 3

/* The id closest to an operand that names no rule, or NULL. */
static const char *closest_id(const struct build *b, const char *name, size_t len)
{
	struct sluice_suggestion s;

	sluice_suggest_begin(&s, name, len, CLOSE_ID);
	for (size_t i = 0; i < b->rules->count; i++)
		sluice_suggest_offer(&s, b->rules->rules[i].id);
	return s.best;
}

/* Parses a combination and resolves its operands to input rule indexes. */
static void parse_combination(struct build *b, size_t i, struct sluice_logic_expr *e)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	size_t at;
	char msg[512];

	/* The loader says it of a rule it read (then checked for its body only). */
	if ((r->action == SLUICE_ACTION_MASK || r->allow) && !b->check_body[i]) {
		rule_err(b, i, r->action_loc.line ? r->action_loc : rule_loc(r),
			 "combination-action",
			 "a combination cannot %s: its match has no span of text of its own (it "
			 "spans the message up to where it became true); use flag or block, and "
			 "mask the operands with rules of their own",
			 r->allow ? "allow" : "mask");
		/* and on: its syntax and operands may be wrong as well */
	}
	if (sluice_logic_parse(r->pattern, e, &at, msg, sizeof(msg)) != 0) {
		rule_err(b, i, body_loc_at(r, at), "combination-syntax", "combination: %s", msg);
		return;
	}
	for (size_t k = 0; k < e->count; k++) {
		if (e->ops[k].op != SLUICE_LOGIC_RULE)
			continue;
		const char *name = r->pattern + e->at[k];
		uint32_t o = find_id(b, name, e->len[k]);
		if (o == NO_INDEX) {
			char hint[SLUICE_SUGGEST_HINT_MAX];
			rule_err(
			    b, i, body_loc_at(r, e->at[k]), "combination-operand",
			    "combination refers to '%.*s', which is not a rule in this pack%s; "
			    "operands are ids of rules in this file or the files it includes",
			    (int)e->len[k], name,
			    sluice_suggest_hint(closest_id(b, name, e->len[k]), hint,
						sizeof(hint)));
			continue;
		}
		if (b->rules->rules[o].allow) {
			rule_err(b, i, body_loc_at(r, e->at[k]), "combination-operand",
				 "combination refers to '%.*s', an allow rule; allow rules only "
				 "exempt spans and cannot be operands",
				 (int)e->len[k], name);
			continue;
		}
		e->ops[k].arg = o;
	}
}

/* Inlines combination operands, so the program refers to pattern, literal
 * and list rules only (Hyperscan does not nest combinations). Detects
 * cycles. Returns 0, or -1 after reporting on rule `root`. */
static int flatten(struct build *b, size_t root, size_t i, const struct sluice_logic_expr *parsed,
		   uint32_t *path, size_t depth, struct sluice_logic_op **out, size_t *n,
		   size_t *cap)
{
	const struct sluice_logic_expr *e = &parsed[i];

	for (size_t d = 0; d < depth; d++) {
		if (path[d] != i)
			continue;
		char chain[1024] = "";
		size_t at = 0;
		for (size_t k = d; k < depth && at < sizeof(chain); k++) {
			int w = snprintf(chain + at, sizeof(chain) - at, "%s -> ",
					 b->rules->rules[path[k]].id);
			if (w > 0)
				at += (size_t)w;
		}
		rule_err(b, root, body_loc(&b->rules->rules[root]), "combination-cycle",
			 "combination refers to itself: %s%s; a combination cannot depend on "
			 "itself",
			 chain, b->rules->rules[i].id);
		return -1;
	}
	if (depth >= 64) {
		rule_err(b, root, body_loc(&b->rules->rules[root]), "combination-depth",
			 "combinations are nested too deeply; simplify them");
		return -1;
	}
	path[depth] = (uint32_t)i;
	for (size_t k = 0; k < e->count; k++) {
		const struct sluice_logic_op *op = &e->ops[k];
		if (op->op == SLUICE_LOGIC_RULE &&
		    b->rules->rules[op->arg].kind == SLUICE_RULE_COMBINATION) {
			if (!parsed[op->arg].count) /* it has errors of its own */
				return -1;
			if (flatten(b, root, op->arg, parsed, path, depth + 1, out, n, cap) != 0)
				return -1;
			continue;
		}
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 16;
			struct sluice_logic_op *p = realloc(*out, c * sizeof(*p));
			if (!p) {
				b->oom = true;
				return -1;
			}
			*out = p;
			*cap = c;
		}
		(*out)[(*n)++] = *op;
	}
	return 0;
}

void sluice_compile_check_combinations(struct build *b)
{
	const struct sluice_rule_list *rules = b->rules;
	struct sluice_logic_expr *parsed = calloc(rules->count, sizeof(*parsed));
	uint32_t path[64];

	if (!parsed) {
		b->oom = true;
		return;
	}
	for (size_t i = 0; i < rules->count; i++) {
		if (rules->rules[i].kind == SLUICE_RULE_COMBINATION &&
		    (!b->bad[i] || b->check_body[i]))
			parse_combination(b, i, &parsed[i]);
		if (b->bad[i])
			sluice_logic_expr_free(&parsed[i]);
	}
	for (size_t i = 0; i < rules->count; i++) {
		size_t n = 0, cap = 0;
		struct sluice_logic_op *ops = NULL;

		if (rules->rules[i].kind != SLUICE_RULE_COMBINATION || !parsed[i].count)
			continue;
		if (flatten(b, i, i, parsed, path, 0, &ops, &n, &cap) != 0) {
			free(ops);
			b->bad[i] = true;
			continue;
		}
		if (!sluice_logic_check(ops, n, rules->count)) {
			rule_err(b, i, body_loc(&rules->rules[i]), "combination-depth",
				 "the combination (with the combinations it uses written out) is "
				 "too large or nested too deeply; simplify it");
			free(ops);
			continue;
		}
		b->flat[i] = ops;
		b->flat_len[i] = n;
	}
	for (size_t i = 0; i < rules->count; i++)
		sluice_logic_expr_free(&parsed[i]);
	free(parsed);
}

/* A combination whose operand was left out (lint keeps going past errors)
 * is left out too; then every operand still in is marked. */
void sluice_compile_settle_operands(struct build *b)
{
	const struct sluice_rule_list *rules = b->rules;
	bool changed = true;

	while (changed) {
		changed = false;
		for (size_t i = 0; i < rules->count; i++) {
			if (!b->flat[i] || b->bad[i])
				continue;
			for (size_t k = 0; k < b->flat_len[i]; k++) {
				if (b->flat[i][k].op == SLUICE_LOGIC_RULE &&
				    b->bad[b->flat[i][k].arg]) {
					b->bad[i] = true;
					changed = true;
					break;
				}
			}
		}
	}
	for (size_t i = 0; i < rules->count; i++) {
		if (!b->flat[i] || b->bad[i])
			continue;
		for (size_t k = 0; k < b->flat_len[i]; k++) {
			if (b->flat[i][k].op == SLUICE_LOGIC_RULE)
				b->operand[b->flat[i][k].arg] = true;
		}
	}
	/* Direct operands that are combinations count as used too, for the
	 * quiet-but-unused warning below. */
}

static bool used_as_operand(const struct build *b, size_t rule)
{
	const struct sluice_rule_list *rules = b->rules;
	const char *id = rules->rules[rule].id;
	size_t len = strlen(id);

	if (b->operand[rule])
		return true;
	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *c = &rules->rules[i];
		if (c->kind != SLUICE_RULE_COMBINATION || !c->pattern)
			continue;
		for (const char *p = strstr(c->pattern, id); p; p = strstr(p + 1, id)) {
			bool start =
			    p == c->pattern || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
						       "QRSTUVWXYZ0123456789._-",
						       p[-1]);
			bool end = !p[len] || !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
						      "QRSTUVWXYZ0123456789._-",
						      p[len]);
			if (start && end)
				return true;
		}
	}
	return false;
}

void sluice_compile_check_usage(struct build *b)
{
	const struct sluice_rule_list *rules = b->rules;

	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		if (b->bad[i])
			continue;
		if (r->quiet && !used_as_operand(b, i))
			rule_warn(b, i, r->quiet_loc.line ? r->quiet_loc : rule_loc(r),
				  "quiet-unused",
				  "the rule is quiet but no combination uses it, so it never acts; "
				  "use it in a combination or remove 'quiet: true'");
		if (r->allow) {
			bool other = false;
			/* Rules that failed to load may lack a category. */
			for (size_t k = 0; k < rules->count && !other; k++)
				other = k != i && !b->bad[k] && !rules->rules[k].allow &&
					rules->rules[k].category != NULL && r->category != NULL &&
					strcmp(rules->rules[k].category, r->category) == 0;
			if (!other)
				rule_warn(b, i, rule_loc(r), "allow-unused",
					  "no other rule has category '%s', so this allow rule "
					  "exempts nothing; give it the category of the rules it "
					  "should exempt",
					  r->category);
		}
	}
}
