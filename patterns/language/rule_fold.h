/* Folding a rule's body with its pack's folding table, at compile time, so
 * that rule and message meet in one form (docs/normalization.md): a literal
 * is folded as a message would be; a pattern has its literal characters
 * folded, and nothing else.
 *
 * In a pattern:
 * - A character outside a class becomes its folded form, escaped where that
 *   is regex syntax ('⑴' is "(1)": "(?:\(1\))", so a quantifier after it
 *   still applies to all of it). A dropped character goes, with any
 *   quantifier on it.
 * - A class member becomes its folded form when that is one character; a
 *   range (or a negated class) keeps what was written and gains the folded
 *   form of each member that folds to one character outside it ([０-９]
 *   gains 0-9). A member that folds to several characters cannot be held by
 *   a class: it stays, can never match, and is reported.
 * - \x{...} escapes are characters like any other; \Q...\E quotes are
 *   folded character by character; everything else (escapes, properties,
 *   groups, quantifiers, anchors, ASCII) is copied as written.
 *
 * ASCII is never folded (the table keeps it): rules that fold are compiled
 * caseless instead (pack_compile.c).
 *
 * Contract: allocates the result; never fails on syntax it does not
 * understand (Hyperscan judges the result, and the compiler reports a
 * pattern that no longer compiles).
 */
#ifndef SLUICE_LANGUAGE_RULE_FOLD_H
#define SLUICE_LANGUAGE_RULE_FOLD_H

#include <stddef.h>
#include <stdint.h>

#include "fold_optin.h"
#include "fold_table.h"

/* What folding changed, for lint. */
struct sluice_fold_note {
	uint32_t folded;			  /* characters replaced or dropped */
	size_t first_at;			  /* byte offset in the body of the first of them */
	uint32_t first_len;			  /* its bytes */
	char first_to[SLUICE_FOLD_MAX_BYTES + 1]; /* what it became ("" dropped) */
	uint32_t class_lost;			  /* class members folding to several characters */
	size_t class_lost_at;
	uint32_t class_lost_len;
	uint32_t negated; /* negated classes that gained folded forms */
	/* With separators: top-level alternatives (a widened literal is one)
	 * whose characters are all ASCII, with separators let in between
	 * them; the first's bytes in the body. Hyperscan has no literal
	 * longer than one character to start such an alternative from. */
	uint32_t latin_spread;
	size_t latin_at;
	uint32_t latin_len;
};

/* text[0..len) folded: *out is malloc'd and NUL-terminated, *out_len its
 * length. 0, or -1 when out of memory. */
int sluice_fold_literal(const struct sluice_fold_table *t, const char *text, size_t len, char **out,
			size_t *out_len, struct sluice_fold_note *note);

/* The pattern re (NUL-terminated) with its literal characters folded; *out
 * is malloc'd. 0, or -1 when out of memory. */
int sluice_fold_pattern(const struct sluice_fold_table *t, const char *re, char **out,
			struct sluice_fold_note *note);

/* The same, widened by the rule's opt-ins (fold_optin.h; optin a set of
 * SLUICE_OPTIN_* bits): each character (after folding) becomes the class of
 * what it may be written as, and with separators, a bounded run of
 * separators may stand between two atoms (characters, classes, groups). t may
 * be NULL (a pack that does not fold). 0, or -1 when out of memory. */
int sluice_widen_pattern(const struct sluice_fold_table *t, const struct sluice_optin_data *d,
			 unsigned optin, const char *re, char **out, struct sluice_fold_note *note);

/* A literal widened into a pattern the same way (every character a literal,
 * its regex syntax escaped). 0, or -1 when out of memory (or empty). */
int sluice_widen_literal(const struct sluice_fold_table *t, const struct sluice_optin_data *d,
			 unsigned optin, const char *text, size_t len, char **out,
			 struct sluice_fold_note *note);

#endif
