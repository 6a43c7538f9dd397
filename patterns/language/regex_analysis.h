/* A light reading of a rule's regular expression, for what Hyperscan does not
 * tell us: where exactly an unsupported construct is (so lint can quote it),
 * which constructs are slow, and whether a match can begin or end with an
 * ASCII word character (so whole_word adds \b only where it means something).
 *
 * Contract: this is not a validator. Hyperscan remains the judge of what
 * compiles; these functions only look for known shapes and never fail on
 * syntax they do not understand (they answer "unknown" instead). Offsets are
 * byte offsets into the pattern.
 */
#ifndef SLUICE_LANGUAGE_REGEX_ANALYSIS_H
#define SLUICE_LANGUAGE_REGEX_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule_kind.h"

struct sluice_regex_issue {
	size_t at;	     /* byte offset of the construct */
	size_t len;	     /* bytes to quote */
	const char *code;    /* lint code */
	const char *what;    /* plain words: "a lookbehind" */
	const char *advice;  /* how to fix it */
	unsigned long count; /* for repeats: the bound; for alternations: how many */
};

/* Pieces of the syntax, for the other readers of patterns (rule_fold.c,
 * fold_scope.c). At re[i] == '\\' and re[i + 1] == 'x': the code point of
 * \xHH or \x{H...} and the escape's end; false when it is not one (no digit,
 * no closing brace, a surrogate or past U+10FFFF). */
bool sluice_regex_hex_escape(const char *re, size_t n, size_t i, uint32_t *cp, size_t *end);

/* A quantifier at re[i] (*, +, ?, {n}, {n,}, {n,m}, maybe lazy or
 * possessive): its end, or i when there is none. */
size_t sluice_regex_quantifier_end(const char *re, size_t n, size_t i);

/* The first construct Hyperscan cannot compile (lookaround, backreference,
 * atomic group, possessive quantifier, conditional, recursion, \C), if any. */
bool sluice_regex_find_unsupported(const char *re, struct sluice_regex_issue *out);

/* Constructs that compile but are slow to compile or to scan: bounded
 * repeats above SLUICE_REGEX_SLOW_REPEAT, an unbounded '.' repeat at the
 * start or end, more than SLUICE_REGEX_MANY_ALTERNATIVES alternatives. Fills
 * up to max issues; returns how many were found. */
#define SLUICE_REGEX_SLOW_REPEAT       100
#define SLUICE_REGEX_MANY_ALTERNATIVES 50
size_t sluice_regex_find_slow(const char *re, struct sluice_regex_issue *out, size_t max);

/* The largest finite bound of a counted repeat ({n}, {n,}, {n,m}), 0 if none. */
unsigned long sluice_regex_largest_repeat(const char *re);

/* What the first and last character of a match can be. */
#define SLUICE_EDGE_WORD    1u /* an ASCII letter, digit or '_' */
#define SLUICE_EDGE_NONWORD 2u /* anything else (incl. every non-ASCII character) */

/* Fills *first and *last with SLUICE_EDGE_* bits; returns false when the
 * pattern uses something this reader does not model (then treat both as
 * both kinds). */
bool sluice_regex_edges(const char *re, unsigned *first, unsigned *last);

/* Whether the pattern may use an anchor (^ $ \A \z \Z \G), whose meaning
 * depends on where the scanned text begins and ends. Errs towards true: a
 * quoted section (\Q) or anything it cannot read counts as anchored. */
bool sluice_regex_anchored(const char *re);

#endif
