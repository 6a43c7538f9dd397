/* Scanning one message against a pack and collecting its matches.
 *
 * Contract:
 * - No allocation: the caller owns the match array and the scratch (allocated for
 *   pack->db). Safe on a dataplane worker.
 * - The text must be valid UTF-8 (the database is compiled with HS_FLAG_UTF8 and
 *   Hyperscan's behaviour on invalid UTF-8 is undefined); the caller validates.
 * - Matches of one rule that overlap or touch are merged into one span, so a
 *   13-digit run hit by an 11-digit rule is one span [0,13), not three.
 * - When more distinct spans match than the array holds, `overflow` is set and
 *   the verdict still accounts for every match (the strongest action seen), so a
 *   caller can fall back to a conservative treatment of the whole text.
 */
#ifndef SLUICE_PATTERNS_MATCH_H
#define SLUICE_PATTERNS_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "pack.h"

struct sluice_match {
	uint32_t rule; /* index into pack->rules */
	uint32_t from; /* byte offset of the first matched byte */
	uint32_t to;   /* byte offset one past the last matched byte */
};

struct sluice_match_set {
	struct sluice_match *matches; /* caller's array */
	uint32_t capacity;
	uint32_t count;
	bool overflow;
	enum sluice_action verdict; /* strongest action among all matches */
	const struct sluice_pack *pack;
	/* Rules that no longer apply (expired), one byte per rule, or NULL. Their
	 * matches are ignored. Owned by the caller's ruleset generation. */
	const uint8_t *disabled;
};

static inline void sluice_match_set_init(struct sluice_match_set *set, struct sluice_match *storage,
					 uint32_t capacity, const struct sluice_pack *pack)
{
	set->matches = storage;
	set->capacity = capacity;
	set->count = 0;
	set->overflow = false;
	set->verdict = SLUICE_ACTION_NONE;
	set->pack = pack;
	set->disabled = NULL;
}

/* Resets the per-message part of a set for the next message. */
static inline void sluice_match_set_reset(struct sluice_match_set *set)
{
	set->count = 0;
	set->overflow = false;
	set->verdict = SLUICE_ACTION_NONE;
}

/* Scans text[0..len) with pack->db. Returns HS_SUCCESS or Hyperscan's error. */
hs_error_t sluice_scan_message(const struct sluice_pack *pack, hs_scratch_t *scratch,
			       const char *text, size_t len, struct sluice_match_set *set);

#endif
