/* The Hyperscan stages of sluice-scan-bench, each a pass over the corpus
 * (stage_pass_fn) on one pack and one scratch:
 *
 * - ceiling: what Hyperscan alone does: per message, one hs_scan() per
 *   database the match path must scan (literal, regex, anchored), with a
 *   callback that only counts. A logic database (packs built before
 *   combinations were judged from their operands' matches) is left out: the
 *   match path does not scan it.
 *   matches = callback reports.
 * - message: sluice_scan_message() per message, the full rule semantics.
 *   matches = acting spans left in the match sets.
 * - batch: the batch scanner; messages are added until the batch holds
 *   batch_messages or the next one does not fit, then scanned together and
 *   every result read. A message longer than the whole buffer is scanned
 *   alone with sluice_scan_message(), as a worker would. matches as message.
 *
 * Contract: init functions allocate everything; passes allocate nothing.
 * Match sets hold SLUICE_MAX_MATCHES spans, as the worker's do. A failed
 * hs_scan() fails the pass with Hyperscan's error code in err.
 */
#ifndef SLUICE_BENCH_SCAN_SCAN_STAGES_H
#define SLUICE_BENCH_SCAN_SCAN_STAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "batch_scan.h"
#include "corpus_reader.h"
#include "datagram_process.h"
#include "match.h"
#include "pack.h"
#include "stage_timing.h"

/* Whether the ceiling scans a database of this kind. */
bool scan_ceiling_scans(enum sluice_db_kind kind);

struct ceiling_stage {
	hs_scratch_t *scratch;
	const hs_database_t **dbs; /* the databases scanned, in pack order */
	size_t db_count;
};

int ceiling_stage_init(struct ceiling_stage *s, const struct sluice_pack *pack,
		       hs_scratch_t *scratch);
void ceiling_stage_free(struct ceiling_stage *s);
int ceiling_stage_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
		       uint8_t *verdicts, char *err, size_t err_len);

struct message_stage {
	const struct sluice_pack *pack;
	hs_scratch_t *scratch;
	struct sluice_match_set set;
	struct sluice_match storage[SLUICE_MAX_MATCHES];
	struct sluice_norm_space norm; /* grown to the longest message */
};

void message_stage_init(struct message_stage *s, const struct sluice_pack *pack,
			hs_scratch_t *scratch);
void message_stage_free(struct message_stage *s);
int message_stage_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
		       uint8_t *verdicts, char *err, size_t err_len);

struct batch_stage {
	struct sluice_batch batch;
	struct sluice_batch_results results;
	uint32_t *corpus_index;	    /* batch slot -> message index in the corpus */
	uint32_t *invalid;	    /* batch slots sluice_batch_check() refused */
	struct message_stage alone; /* for messages longer than the whole batch */
	bool by_ref; /* as the worker does for packs without a raw view (batch_scan.h) */
};

/* Returns 0, or -1 (sizes refused or out of memory) with err set. */
int batch_stage_init(struct batch_stage *s, const struct sluice_pack *pack, hs_scratch_t *scratch,
		     uint32_t batch_messages, uint32_t batch_bytes, char *err, size_t err_len);
void batch_stage_free(struct batch_stage *s);
int batch_stage_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
		     uint8_t *verdicts, char *err, size_t err_len);

#endif
