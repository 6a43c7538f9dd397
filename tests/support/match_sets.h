/* Comparing two scans' results, for tests that scan the same messages two
 * ways (batch and alone, two folding tables). Header only: the tests that
 * use it link the pattern libraries, not the support library. */
#ifndef SLUICE_TEST_MATCH_SETS_H
#define SLUICE_TEST_MATCH_SETS_H

#include <stdbool.h>

#include "match.h"

/* The same verdict, overflow and matches (rule and span), in order. */
static inline bool ts_same_sets(const struct sluice_match_set *a, const struct sluice_match_set *b)
{
	if (a->count != b->count || a->verdict != b->verdict || a->overflow != b->overflow)
		return false;
	for (uint32_t i = 0; i < a->count; i++) {
		if (a->matches[i].rule != b->matches[i].rule ||
		    a->matches[i].from != b->matches[i].from ||
		    a->matches[i].to != b->matches[i].to)
			return false;
	}
	return true;
}

#endif
