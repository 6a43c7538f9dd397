/* Combinations: the expressions analysts write over rule ids
 * ("phone and (add-me or private-chat)", "a and not b"), parsed into a small
 * postfix program.
 *
 * Contract: sluice_logic_parse() accepts ids made of letters, digits, '.',
 * '_' and '-', the words and / or / not (any letter case; '&', '|', '!' are
 * accepted too) and parentheses; not binds tightest, then and, then or.
 * Operands are names here; the compiler resolves them to rule indexes. A
 * program that passes sluice_logic_check() evaluates with a stack of at most
 * SLUICE_LOGIC_MAX_DEPTH entries, so the match path can evaluate it without
 * allocating.
 */
#ifndef SLUICE_PATTERNS_LOGIC_H
#define SLUICE_PATTERNS_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLUICE_LOGIC_MAX_DEPTH 32
#define SLUICE_LOGIC_MAX_OPS   4096

enum sluice_logic_opcode {
	SLUICE_LOGIC_RULE = 1, /* push: rule `arg` matched */
	SLUICE_LOGIC_NOT = 2,
	SLUICE_LOGIC_AND = 3,
	SLUICE_LOGIC_OR = 4,
};

struct sluice_logic_op {
	uint32_t op;
	uint32_t arg;
};

/* A parsed expression: ops in postfix order; for RULE ops, the operand's
 * name is expr[at, at + len). */
struct sluice_logic_expr {
	struct sluice_logic_op *ops;
	size_t *at;
	size_t *len;
	size_t count;
};

/* Returns 0, or -1 with *err_at (byte offset into expr) and msg set. */
int sluice_logic_parse(const char *expr, struct sluice_logic_expr *out, size_t *err_at, char *msg,
		       size_t msg_len);
void sluice_logic_expr_free(struct sluice_logic_expr *e);

/* Whether ops is a well-formed program over rules [0, rule_count) that
 * leaves one value and needs at most SLUICE_LOGIC_MAX_DEPTH stack entries. */
bool sluice_logic_check(const struct sluice_logic_op *ops, size_t n, size_t rule_count);

/* Evaluates a checked program; present(ctx, rule) says whether a rule matched. */
bool sluice_logic_eval(const struct sluice_logic_op *ops, size_t n,
		       bool (*present)(const void *ctx, uint32_t rule), const void *ctx);

/* Whether the value can turn from true to false as more operands match (the
 * program contains a NOT): such combinations must be judged on the whole
 * message, not where Hyperscan first found them true. */
bool sluice_logic_has_not(const struct sluice_logic_op *ops, size_t n);

/* Whether the program holds when no operand matched ("not a"). */
bool sluice_logic_holds_when_none(const struct sluice_logic_op *ops, size_t n);

#endif
