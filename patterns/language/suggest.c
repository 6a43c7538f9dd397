/* Close-word suggestions for the rule loader and the compiler (suggest.h).
 *
 * Words here are keys, flags and rule ids, never longer than
 * SLUICE_SUGGEST_WORD_MAX, so the distance keeps one row on the stack and
 * gives up on anything longer rather than allocate.
 */
#include "suggest.h"

#include <stdio.h>
#include <string.h>

/* Farther than any caller's bound: "not close". */
#define FAR 99

unsigned sluice_edit_distance(const char *a, size_t a_len, const char *b, size_t b_len)
{
	unsigned row[SLUICE_SUGGEST_WORD_MAX + 1];

	if (a_len > SLUICE_SUGGEST_WORD_MAX || b_len > SLUICE_SUGGEST_WORD_MAX)
		return FAR;
	for (size_t j = 0; j <= b_len; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= a_len; i++) {
		unsigned diagonal = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= b_len; j++) {
			unsigned above = row[j];
			unsigned best = diagonal + (a[i - 1] != b[j - 1]);
			if (above + 1 < best)
				best = above + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[b_len];
}

void sluice_suggest_begin(struct sluice_suggestion *s, const char *word, size_t len,
			  unsigned max_distance)
{
	*s = (struct sluice_suggestion){
	    .word = word, .len = len, .max_distance = max_distance, .best_distance = FAR};
}

void sluice_suggest_offer(struct sluice_suggestion *s, const char *candidate)
{
	size_t index = s->offered++;

	if (!candidate)
		return;
	unsigned d = sluice_edit_distance(s->word, s->len, candidate, strlen(candidate));
	/* Strictly closer only: on a tie the candidate offered first stays,
	 * so the table order the caller chose decides. */
	if (d <= s->max_distance && d < s->best_distance) {
		s->best = candidate;
		s->best_index = index;
		s->best_distance = d;
	}
}

const char *sluice_suggest_among(const char *word, size_t len, const char *const *words,
				 size_t count, unsigned max_distance)
{
	struct sluice_suggestion s;

	sluice_suggest_begin(&s, word, len, max_distance);
	for (size_t i = 0; i < count; i++)
		sluice_suggest_offer(&s, words[i]);
	return s.best;
}

const char *sluice_suggest_hint(const char *suggestion, char *hint, size_t size)
{
	if (suggestion)
		snprintf(hint, size, " (did you mean '%s'?)", suggestion);
	else if (size)
		hint[0] = '\0';
	return hint;
}
