/* Scanning one message against a pack and collecting its matches.
 *
 * Contract:
 * - No allocation: the caller owns the match array and the scratch (from
 *   sluice_pack_alloc_scratch(), valid for every database of the pack). Safe on
 *   a dataplane worker.
 * - The text must be valid UTF-8 (the databases are compiled with HS_FLAG_UTF8
 *   and Hyperscan's behaviour on invalid UTF-8 is undefined); the caller
 *   validates.
 * - A pack that folds (pack->views has SLUICE_VIEW_FOLDED) needs set->norm,
 *   room to normalise the message (normalize.h), at least as large as the
 *   message; without it the scan fails with HS_INVALID. Each database is
 *   scanned on its view of the message (pack.h), literal databases first,
 *   then the others in the pack's order, and every match is mapped back to
 *   whole characters of the message (sluice_norm_span()) before anything
 *   below: spans, exemptions, word edges (checked on the text the match was
 *   found in) and masks are all about the message's own bytes.
 * - Every database of the pack is scanned (a "logic" database of an older
 *   pack excepted), then the rule language applies:
 *   1. a span matched by an allow rule exempts overlapping spans of the other
 *      rules of its category (quiet operands included);
 *   2. combinations are judged on the whole message, after exemptions and
 *      expiry: "a and not b" holds when a matched and b matched nowhere;
 *   3. matches of quiet rules (operands) and of allow rules are removed: they
 *      never act on their own (set->keep asks to keep them, for tools).
 *   The set then holds the matches that act, sorted by (from, to, rule), and
 *   the verdict is the strongest of their actions.
 * - Matches of one rule that overlap or touch are merged into one span, so a
 *   13-digit run hit by an 11-digit rule is one span [0,13), not three. A
 *   combination's span is [0, end) where end is the end of its operands' last
 *   match.
 * - When more distinct spans match than the array holds, `overflow` is set and
 *   the verdict accounts for every acting match seen, ignoring exemptions (the
 *   strongest action seen), so a caller can fall back to a conservative
 *   treatment of the whole text.
 */
#ifndef SLUICE_PATTERNS_MATCH_H
#define SLUICE_PATTERNS_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "normalize.h"
#include "pack.h"

struct sluice_match {
	uint32_t rule; /* index into pack->rules */
	uint32_t from; /* byte offset of the first matched byte */
	uint32_t to;   /* byte offset one past the last matched byte */
};

/* Bytes that must stay readable after any text handed to Hyperscan.
 * Hyperscan 5.4.0's AVX512VBMI literal matcher (fat teddy) reads past the end
 * of the buffer it is given (Vectorscan issue 322, fixed there by PR 333),
 * which faults when the text ends just before an unmapped page; our fuzzer
 * found it. Batches keep this much zeroed slack after their texts; callers of
 * sluice_scan_message() keep at least this much readable memory after text
 * (an mbuf's tailroom or the next pool element, a line buffer's spare
 * capacity). */
#define SLUICE_SCAN_SLACK 64

/* A span an allow rule exempted, for tools that explain a verdict. */
struct sluice_exemption {
	uint32_t rule, from, to;	      /* the span that no longer acts */
	uint32_t allow, allow_from, allow_to; /* the allow rule's span that exempted it */
};

/* set->keep bits: matches a scan keeps although they never act. */
#define SLUICE_KEEP_QUIET (1u << 0) /* quiet rules (operands) */
#define SLUICE_KEEP_ALLOW (1u << 1) /* allow rules */

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
	uint8_t keep;	   /* SLUICE_KEEP_* (0: only what acts) */
	uint32_t exempted; /* spans removed by allow rules in the last scan */
	/* Which, for tools (caller's array; NULL: only counted): the first
	 * exemption_cap of them. */
	struct sluice_exemption *exemptions;
	uint32_t exemption_cap, exemption_count;
	/* Room to fold messages for packs that fold (caller's; NULL: none). */
	struct sluice_norm_space *norm;
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
	set->keep = 0;
	set->exempted = 0;
	set->exemptions = NULL;
	set->exemption_cap = set->exemption_count = 0;
	set->norm = NULL;
}

/* Resets the per-message part of a set for the next message. */
static inline void sluice_match_set_reset(struct sluice_match_set *set)
{
	set->count = 0;
	set->overflow = false;
	set->verdict = SLUICE_ACTION_NONE;
	set->exempted = 0;
	set->exemption_count = 0;
}

/* Whether match i of a set is masked when its verdict is mask: a span of a
 * rule whose action is mask (quiet operands and allow rules, which a tool may
 * keep, never act). The whole text is masked instead when the set
 * overflowed. */
static inline bool sluice_match_masks(const struct sluice_match_set *set, uint32_t i)
{
	const struct sluice_pack_rule *r = &set->pack->rules[set->matches[i].rule];
	return r->action == SLUICE_ACTION_MASK && !r->quiet && !r->allow;
}

/* Scans text[0..len) with every database of the pack. Returns HS_SUCCESS or
 * Hyperscan's error (the set is then incomplete). */
hs_error_t sluice_scan_message(const struct sluice_pack *pack, hs_scratch_t *scratch,
			       const char *text, size_t len, struct sluice_match_set *set);

#endif
