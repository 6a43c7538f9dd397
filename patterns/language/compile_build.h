/* One build of a pack (pack_compile.c): the rules, the diagnostics and the
 * per-rule tables that the compiler's phases fill in, shared with the parts of
 * the compiler that live in files of their own (compile_combinations.c).
 * Internal to the language library.
 *
 * Contract: a rule with an error is marked bad[i] (rule_err() does it) and is
 * left out of the pack; b->oom means an allocation failed and the build
 * stops.
 */
#ifndef SLUICE_LANGUAGE_COMPILE_BUILD_H
#define SLUICE_LANGUAGE_COMPILE_BUILD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "diag.h"
#include "fold_optin.h"
#include "fold_table.h"
#include "logic.h"
#include "rule_file.h"

#define NO_INDEX UINT32_MAX

struct build {
	const struct sluice_rule_list *rules;
	struct sluice_diag_list *diags;
	bool partial;
	size_t errors;
	bool oom;

	bool *bad; /* per input rule: has an error, left out */
	/* per input rule: the loader found errors elsewhere in it, but its body
	 * is there to check, so that one run reports every error */
	bool *check_body;
	bool *operand;		       /* per input rule: used by a combination */
	struct sluice_logic_op **flat; /* per combination rule: flattened, input indexes */
	size_t *flat_len;
	uint8_t *edge_check; /* per input rule */
	char **expr;	     /* per pattern rule: the expression compiled (whole_word added) */
	size_t *expr_prefix; /* bytes added before the pattern in expr */
	/* per pattern rule: Hyperscan cannot track its starts (a bounded repeat
	 * of UTF-8 characters), so the match path finds them afterwards within
	 * span_window[i] bytes of the end (0: no bound) */
	bool *span_later;
	uint32_t *span_window;
	uint32_t *pack_index; /* input rule -> pack rule, or NO_INDEX */

	/* ids sorted, for operand lookup */
	uint32_t *by_id;

	/* Normalisation (rule_fold.h): the pack's table, NULL when it folds
	 * nothing; per input rule, whether it is matched on the folded text,
	 * its folded pattern (NULL: as written) and its folded literals (NULL:
	 * as written). */
	struct sluice_fold_table *fold;
	bool *folded;
	char **body;
	struct sluice_literal **lits;
	/* Opt-ins (fold_optin.h): the data, and per literal or list rule that
	 * opted in, each literal widened into a pattern (NULL: none). */
	const struct sluice_optin_data *optin;
	char ***wide;
};

static inline const char *rule_file(const struct build *b, const struct sluice_rule *r)
{
	if (r->file)
		return r->file;
	return b->rules->source ? b->rules->source : "(rules)";
}

static inline struct sluice_loc rule_loc(const struct sluice_rule *r)
{
	return (struct sluice_loc){r->line ? r->line : 1, r->column ? r->column : 1};
}

static inline struct sluice_loc body_loc(const struct sluice_rule *r)
{
	return r->body_loc.line ? r->body_loc : rule_loc(r);
}

/* Column of byte `at` of the body, when the file shows it character for
 * character; otherwise the start of the body. */
static inline struct sluice_loc body_loc_at(const struct sluice_rule *r, size_t at)
{
	struct sluice_loc loc = body_loc(r);
	size_t n = strlen(r->pattern);

	if (!r->body_loc.line || !r->body_exact)
		return loc;
	if (at > n)
		at = n;
	unsigned col = loc.column + r->body_quote;
	for (size_t i = 0; i < at; i++) {
		unsigned char c = (unsigned char)r->pattern[i];
		if ((c & 0xc0) != 0x80)
			col++;
		if (c == '\'' && r->body_single_quoted)
			col++;
	}
	loc.column = col;
	return loc;
}

/* Adds a diagnostic, counting errors and noting a failed allocation. */
void sluice_compile_vdiag(struct build *b, enum sluice_diag_level level, const char *file,
			  struct sluice_loc at, const char *rule, const char *code, const char *fmt,
			  va_list ap) __attribute__((format(printf, 7, 0)));

/* A diagnostic about input rule i, in its file. */
static inline void rule_vdiag(struct build *b, enum sluice_diag_level level, size_t i,
			      struct sluice_loc at, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static inline void rule_vdiag(struct build *b, enum sluice_diag_level level, size_t i,
			      struct sluice_loc at, const char *code, const char *fmt, va_list ap)
{
	const struct sluice_rule *r = &b->rules->rules[i];
	sluice_compile_vdiag(b, level, rule_file(b, r), at, r->id, code, fmt, ap);
}

/* An error in input rule i, which is then left out. */
static inline void rule_err(struct build *b, size_t i, struct sluice_loc at, const char *code,
			    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline void rule_err(struct build *b, size_t i, struct sluice_loc at, const char *code,
			    const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rule_vdiag(b, SLUICE_DIAG_ERROR, i, at, code, fmt, ap);
	va_end(ap);
	b->bad[i] = true;
}

static inline void rule_warn(struct build *b, size_t i, struct sluice_loc at, const char *code,
			     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline void rule_warn(struct build *b, size_t i, struct sluice_loc at, const char *code,
			     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rule_vdiag(b, SLUICE_DIAG_WARNING, i, at, code, fmt, ap);
	va_end(ap);
}

/* Combinations (compile_combinations.c), in this order: each combination is
 * parsed, its operands resolved by id and inlined (cycles and missing
 * operands are errors); a combination whose operand was left out is left out
 * too (called again after the databases, which can leave out more); and a
 * quiet rule no combination uses is warned about. Needs b->by_id. */
void sluice_compile_check_combinations(struct build *b);
void sluice_compile_settle_operands(struct build *b);
void sluice_compile_check_usage(struct build *b);

#endif
