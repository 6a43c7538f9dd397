/* Timing one stage: a function that makes one pass over the whole corpus,
 * run in rounds, the median round reported.
 *
 * Contract of stage_time():
 * - One untimed warm-up pass first (caches, page faults, JIT code, branch
 *   predictors). Its counts are the stage's counts, and it is the only pass
 *   that fills `verdicts` (one byte per message, for cross-checks) and is
 *   counted in hs_calls (hs_call_count.h).
 * - Then `rounds` rounds; a round is as many whole passes as fit in
 *   min_seconds (at least one, at most STAGE_MAX_PASSES_PER_ROUND), timed with
 *   CLOCK_MONOTONIC around the round. Each round gives ns per message; the
 *   result is their median.
 * - Rounds stop early once the stage has run max_seconds in all (warm-up
 *   included), after at least one timed round, so a very slow stage (PCRE2
 *   on a huge list) ends in bounded time; `rounds` says how many ran.
 * - Every timed pass must give the warm-up pass's counts: a stage that is not
 *   deterministic on the same input is a failed measurement.
 * Returns 0, or -1 with the reason in err (a failed pass, or counts that
 * changed between passes).
 */
#ifndef SLUICE_BENCH_SCAN_STAGE_TIMING_H
#define SLUICE_BENCH_SCAN_STAGE_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corpus_reader.h"

#define STAGE_MAX_ROUNDS	   99
#define STAGE_MAX_PASSES_PER_ROUND 1000000u

/* What one pass over the corpus saw. Fields a stage has no use for stay 0. */
struct pass_counts {
	uint64_t matches;	 /* callback reports, or spans, or rule hits: see the stage */
	uint64_t acted_messages; /* verdict other than none */
	uint64_t hs_calls;	 /* filled by stage_time() for the warm-up pass */
	uint64_t overflowed;	 /* messages with more spans than the match set holds */
	uint64_t batch_scans;	 /* sluice_batch_scan() calls */
	uint64_t regex_scans; /* messages the batch scanner scanned alone with the regex database */
	uint64_t scanned_alone; /* messages too long for any batch */
	uint64_t match_errors;	/* PCRE2 matches that failed (not "no match") */
};

/* One pass over corpus. verdicts: NULL, or one byte per message to receive
 * its verdict (enum sluice_action). Returns 0, or -1 with err set. */
typedef int (*stage_pass_fn)(void *stage, const struct corpus_texts *corpus,
			     struct pass_counts *counts, uint8_t *verdicts, char *err,
			     size_t err_len);

struct stage_timing {
	unsigned rounds; /* timed rounds that ran */
	bool cut_short;	 /* fewer than asked, because of max_seconds */
	double round_ns_per_msg[STAGE_MAX_ROUNDS];
	double ns_per_msg; /* median of the rounds */
	uint64_t timed_passes;
	struct pass_counts counts; /* of one pass */
};

int stage_time(stage_pass_fn pass, void *stage, const struct corpus_texts *corpus, unsigned rounds,
	       double min_seconds, double max_seconds, uint8_t *verdicts, struct stage_timing *out,
	       char *err, size_t err_len);

#endif
