/* What a pack's expressions can see, and the folding table cut down to the
 * mappings that can change what they match.
 *
 * Why: messages are folded so that evasive forms match the rules. A mapping
 * between characters that no expression of the pack can see (full-width '，'
 * to ',' for a pack of Chinese titles and phone numbers) changes no match,
 * yet it makes the worker rewrite the message wherever such a character
 * occurs: in ordinary Chinese chat, most messages. The pack carries only the
 * mappings its rules can see, so most messages have nothing to fold.
 *
 * What stays: a mapping c -> s when c or a character of s is seen; every
 * mapping that drops a character (it joins its neighbours); and, when an
 * expression has a wildcard (., a negated class, \D \W \S \H \V \N), every
 * mapping whose s is not exactly one character (a wildcard counts
 * characters). A match holds seen characters only, so on a text folded by
 * either table it covers the same characters of the message and maps back to
 * the same span; docs/normalization.md has the argument.
 *
 * Seen: every code point written in an expression (its syntax included: more
 * is always safe), those its escapes, ranges and classes name, both cases of
 * the ASCII letters of caseless ones, the ASCII word characters where word
 * edges matter (\b, \B, whole_word), '\n' (anchors), and what the table folds
 * a seen character to (a character's case variants fold alike). An escape
 * this reader does not know (\p, a backreference) keeps every mapping.
 *
 * Contract: compile time only; these functions allocate. Expressions are
 * Hyperscan's (PCRE syntax, UTF-8, no UCP: \d \w \s are ASCII classes).
 */
#ifndef SLUICE_LANGUAGE_FOLD_SCOPE_H
#define SLUICE_LANGUAGE_FOLD_SCOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fold_table.h"

struct sluice_fold_scope {
	uint64_t *seen; /* a bit per code point */
	bool all;	/* something unknown: keep every mapping */
	bool wild;	/* a wildcard: keep mappings to other than one character */
};

/* 0, or -1 when out of memory. */
int sluice_fold_scope_init(struct sluice_fold_scope *s);
void sluice_fold_scope_free(struct sluice_fold_scope *s);

/* A literal (Hyperscan's literal API: bytes, ASCII case folding). Text that
 * is not UTF-8 keeps every mapping. */
void sluice_fold_scope_literal(struct sluice_fold_scope *s, const char *text, size_t len,
			       bool caseless);

/* A regular expression, NUL-terminated; caseless as compiled (an inline
 * (?i) is found here). */
void sluice_fold_scope_regex(struct sluice_fold_scope *s, const char *re, bool caseless);

/* A rule whose matches' edges are checked against word characters. */
void sluice_fold_scope_word_edges(struct sluice_fold_scope *s);

bool sluice_fold_scope_sees(const struct sluice_fold_scope *s, uint32_t cp);

/* t cut down to what s sees (s is closed under t first): a new frozen table
 * with t's versions. NULL when out of memory. */
struct sluice_fold_table *sluice_fold_table_scoped(const struct sluice_fold_table *t,
						   struct sluice_fold_scope *s);

#endif
