#include "stage_timing.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hs_call_count.h"
#include "median.h"

/* The counts a pass itself reports (hs_calls is measured around it). */
static bool same_counts(const struct pass_counts *a, const struct pass_counts *b)
{
	return a->matches == b->matches && a->acted_messages == b->acted_messages &&
	       a->overflowed == b->overflowed && a->batch_scans == b->batch_scans &&
	       a->regex_scans == b->regex_scans && a->scanned_alone == b->scanned_alone &&
	       a->match_errors == b->match_errors;
}

int stage_time(stage_pass_fn pass, void *stage, const struct corpus_texts *corpus, unsigned rounds,
	       double min_seconds, double max_seconds, uint8_t *verdicts, struct stage_timing *out,
	       char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	if (rounds < 1 || rounds > STAGE_MAX_ROUNDS || corpus->count == 0) {
		snprintf(err, err_len, "bad timing request: %u rounds, %u messages", rounds,
			 corpus->count);
		return -1;
	}

	double stage_start = (double)sluice_mono_ns();
	uint64_t calls_before = hs_call_count;
	if (pass(stage, corpus, &out->counts, verdicts, err, err_len) != 0)
		return -1;
	out->counts.hs_calls = hs_call_count - calls_before;

	unsigned r;
	for (r = 0; r < rounds; r++) {
		if (r > 0 && (double)sluice_mono_ns() - stage_start >= max_seconds * 1e9)
			break;
		uint64_t passes = 0;
		double start = (double)sluice_mono_ns(), elapsed;
		do {
			struct pass_counts c = {0};
			if (pass(stage, corpus, &c, NULL, err, err_len) != 0)
				return -1;
			if (!same_counts(&c, &out->counts)) {
				snprintf(err, err_len,
					 "counts changed between passes over the same messages "
					 "(matches %llu then %llu, acted %llu then %llu)",
					 (unsigned long long)out->counts.matches,
					 (unsigned long long)c.matches,
					 (unsigned long long)out->counts.acted_messages,
					 (unsigned long long)c.acted_messages);
				return -1;
			}
			passes++;
			elapsed = (double)sluice_mono_ns() - start;
		} while (elapsed < min_seconds * 1e9 && passes < STAGE_MAX_PASSES_PER_ROUND);
		out->round_ns_per_msg[r] = elapsed / ((double)passes * corpus->count);
		out->timed_passes += passes;
	}
	out->rounds = r;
	out->cut_short = r < rounds;
	out->ns_per_msg = sluice_median(out->round_ns_per_msg, r);
	return 0;
}
