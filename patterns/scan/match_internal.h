/* The steps of sluice_scan_message(), for scanners that feed reports from
 * elsewhere (batch_scan.c hands each message the reports of a shared buffer).
 *
 * Contract: begin() resets the set and makes the message its own raw view (the
 * caller fills st->view[SLUICE_VIEW_FOLDED] for a pack that folds); report()
 * takes every Hyperscan report of database st->db, in the order Hyperscan gave
 * them, with offsets relative to the first byte of st->cur, the view st->db is
 * scanned on; end() finds the starts of the regexes that need it (with the
 * scratch of the last sluice_scan_db(), so never from inside a Hyperscan
 * callback), then applies the rule language (allow
 * exemptions, combinations, removal of what does not act, sorting, verdict)
 * exactly as sluice_scan_message() does. No allocation.
 */
#ifndef SLUICE_PATTERNS_MATCH_INTERNAL_H
#define SLUICE_PATTERNS_MATCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "match.h"

/* One view of the message (pack.h): its text, and room for the offset of
 * the message character each of its bytes came from (NULL: the message's own
 * bytes, offsets equal). The map is made the first time a match in the view
 * needs it (normalize.h), which mapped then records. */
struct sluice_view_text {
	const char *text;
	size_t len;
	uint32_t *src;
	bool mapped;
};

/* The reports of one regex whose starts are found after the scans (pack.h,
 * SLUICE_PAT_SPAN_LATER), until sluice_scan_end(): where its ends lie in its
 * view and how many there were. */
struct sluice_span_pending {
	uint32_t span; /* index of the span database in the pack's dbs */
	uint32_t pair; /* in it */
	uint32_t view;
	uint32_t first_to, last_to; /* Hyperscan reports ends in order */
	uint32_t ends;
};
/* Such regexes reported in one message, at most; past it the set overflows. */
#define SLUICE_SPAN_PENDING 8

struct sluice_scan_state {
	struct sluice_match_set *set;
	const struct sluice_pack *pack;
	const struct sluice_pack_db *db; /* the database whose reports come in */
	const char *text;		 /* the message */
	size_t len;
	struct sluice_view_text view[SLUICE_VIEW_COUNT];
	/* The table the folded view was made with (the pack's, or a batch's
	 * shared union): its map back to the message is made with it. */
	const struct sluice_fold_table *fold;
	struct sluice_view_text *cur; /* db's view */
	enum sluice_action seen;      /* strongest acting action reported, before any filtering */
	/* An operand match was ignored (expired, failed its word edge, or
	 * exempted): combinations are judged on what is left. */
	bool operand_dropped;
	bool operand_seen;
	bool any_allow;
	/* The scratch of the last database scanned: sluice_scan_end() scans
	 * the span databases with it, Hyperscan's scans being over. */
	hs_scratch_t *scratch;
	uint32_t pending_count;
	struct sluice_span_pending pending[SLUICE_SPAN_PENDING];
};

void sluice_scan_begin(struct sluice_scan_state *st, const struct sluice_pack *pack,
		       struct sluice_match_set *set, const char *text, size_t len);

void sluice_scan_report(struct sluice_scan_state *st, unsigned int id, unsigned long long from,
			unsigned long long to);

/* Scans the database's view of the message, reporting into st. */
hs_error_t sluice_scan_db(struct sluice_scan_state *st, const struct sluice_pack_db *db,
			  hs_scratch_t *scratch);

void sluice_scan_end(struct sluice_scan_state *st);

#endif
