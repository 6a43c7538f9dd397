/* "Did you mean": the close word to offer when an analyst writes a word that
 * is not one of those allowed where it stands (a key, a flag, an action, a
 * combination operand).
 *
 * Contract: the suggestion is the first candidate, in the order they were
 * offered, at the smallest edit distance (byte insertions, deletions and
 * substitutions) from the word, and only if that distance is at most the
 * caller's bound; no word or candidate longer than SLUICE_SUGGEST_WORD_MAX
 * bytes is ever close. Nothing here allocates. sluice_suggest_hint() is the
 * one place the wording " (did you mean 'WORD'?)" is made.
 */
#ifndef SLUICE_LANGUAGE_SUGGEST_H
#define SLUICE_LANGUAGE_SUGGEST_H

#include <stddef.h>

/* As long as a rule id may be, so every id can be suggested. */
#define SLUICE_SUGGEST_WORD_MAX 64
/* Room for a hint naming the longest word, and its NUL. */
#define SLUICE_SUGGEST_HINT_MAX (SLUICE_SUGGEST_WORD_MAX + 32)

/* Edit distance between two byte strings; more than any bound a caller uses
 * when either is longer than SLUICE_SUGGEST_WORD_MAX. */
unsigned sluice_edit_distance(const char *a, size_t a_len, const char *b, size_t b_len);

/* The search for the closest candidate, for callers whose candidates are not
 * a plain array of words: begin, offer each candidate, then read best. */
struct sluice_suggestion {
	const char *word;
	size_t len;
	unsigned max_distance;
	const char *best;  /* NULL while no candidate is close enough */
	size_t best_index; /* how many candidates were offered before best */
	unsigned best_distance;
	size_t offered;
};

void sluice_suggest_begin(struct sluice_suggestion *s, const char *word, size_t len,
			  unsigned max_distance);
void sluice_suggest_offer(struct sluice_suggestion *s, const char *candidate);

/* The closest of words[0..count), or NULL. */
const char *sluice_suggest_among(const char *word, size_t len, const char *const *words,
				 size_t count, unsigned max_distance);

/* Writes " (did you mean 'SUGGESTION'?)" into hint, or "" when suggestion is
 * NULL, and returns hint; size is at least SLUICE_SUGGEST_HINT_MAX. */
const char *sluice_suggest_hint(const char *suggestion, char *hint, size_t size);

#endif
