#include "scan_stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool scan_ceiling_scans(enum sluice_db_kind kind)
{
	return kind == SLUICE_DB_LITERAL || kind == SLUICE_DB_REGEX || kind == SLUICE_DB_ANCHORED;
}

int ceiling_stage_init(struct ceiling_stage *s, const struct sluice_pack *pack,
		       hs_scratch_t *scratch)
{
	memset(s, 0, sizeof(*s));
	s->scratch = scratch;
	s->dbs = calloc(pack->db_count ? pack->db_count : 1, sizeof(*s->dbs));
	if (s->dbs == NULL)
		return -1;
	for (size_t i = 0; i < pack->db_count; i++)
		if (scan_ceiling_scans(pack->dbs[i].kind))
			s->dbs[s->db_count++] = pack->dbs[i].db;
	return 0;
}

void ceiling_stage_free(struct ceiling_stage *s)
{
	free(s->dbs);
	memset(s, 0, sizeof(*s));
}

static int count_report(unsigned int id, unsigned long long from, unsigned long long to,
			unsigned int flags, void *ctx)
{
	(void)id;
	(void)from;
	(void)to;
	(void)flags;
	(*(uint64_t *)ctx)++;
	return 0;
}

int ceiling_stage_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
		       uint8_t *verdicts, char *err, size_t err_len)
{
	struct ceiling_stage *s = stage;
	uint64_t reports = 0;

	(void)verdicts; /* the ceiling has no verdicts */
	for (uint32_t i = 0; i < corpus->count; i++) {
		for (size_t d = 0; d < s->db_count; d++) {
			hs_error_t rc = hs_scan(s->dbs[d], corpus->text[i], corpus->len[i], 0,
						s->scratch, count_report, &reports);
			if (rc != HS_SUCCESS) {
				snprintf(err, err_len, "hs_scan failed on message %u: error %d",
					 i + 1, (int)rc);
				return -1;
			}
		}
	}
	counts->matches = reports;
	return 0;
}

void message_stage_init(struct message_stage *s, const struct sluice_pack *pack,
			hs_scratch_t *scratch)
{
	s->pack = pack;
	s->scratch = scratch;
	sluice_match_set_init(&s->set, s->storage, SLUICE_MAX_MATCHES, pack);
	memset(&s->norm, 0, sizeof(s->norm));
	s->set.norm = &s->norm;
}

/* Adds one message's results to the counts. */
static void tally(const struct sluice_match_set *set, struct pass_counts *counts)
{
	counts->matches += set->count;
	counts->acted_messages += set->verdict != SLUICE_ACTION_NONE;
	counts->overflowed += set->overflow;
}

static int scan_one(struct message_stage *s, const struct corpus_texts *corpus, uint32_t i,
		    struct pass_counts *counts, uint8_t *verdicts, char *err, size_t err_len)
{
	hs_error_t rc = sluice_norm_space_reserve(&s->norm, corpus->len[i], &sluice_libc_allocator)
			    ? HS_NOMEM
			    : sluice_scan_message(s->pack, s->scratch, corpus->text[i],
						  corpus->len[i], &s->set);
	if (rc != HS_SUCCESS) {
		snprintf(err, err_len, "sluice_scan_message failed on message %u: error %d", i + 1,
			 (int)rc);
		return -1;
	}
	tally(&s->set, counts);
	if (verdicts)
		verdicts[i] = (uint8_t)s->set.verdict;
	return 0;
}

int message_stage_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
		       uint8_t *verdicts, char *err, size_t err_len)
{
	struct message_stage *s = stage;

	for (uint32_t i = 0; i < corpus->count; i++)
		if (scan_one(s, corpus, i, counts, verdicts, err, err_len) != 0)
			return -1;
	return 0;
}

int batch_stage_init(struct batch_stage *s, const struct sluice_pack *pack, hs_scratch_t *scratch,
		     uint32_t batch_messages, uint32_t batch_bytes, char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	message_stage_init(&s->alone, pack, scratch);
	s->corpus_index = calloc(batch_messages ? batch_messages : 1, sizeof(*s->corpus_index));
	s->invalid = calloc(batch_messages ? batch_messages : 1, sizeof(*s->invalid));
	if (s->corpus_index == NULL || s->invalid == NULL ||
	    sluice_batch_init(&s->batch, batch_messages, batch_bytes, &sluice_libc_allocator) !=
		0 ||
	    sluice_batch_results_init(&s->results, batch_messages, SLUICE_MAX_MATCHES,
				      &sluice_libc_allocator) != 0) {
		sluice_batch_free(&s->batch);
		snprintf(err, err_len,
			 "cannot set up a batch of %u messages in %u bytes (zero size or out of "
			 "memory)",
			 batch_messages, batch_bytes);
		free(s->corpus_index);
		free(s->invalid);
		s->corpus_index = NULL;
		s->invalid = NULL;
		return -1;
	}
	s->by_ref = (pack->views & (1u << SLUICE_VIEW_RAW)) == 0;
	return 0;
}

void message_stage_free(struct message_stage *s)
{
	sluice_norm_space_free(&s->norm);
}

void batch_stage_free(struct batch_stage *s)
{
	message_stage_free(&s->alone);
	if (s->corpus_index) {
		sluice_batch_free(&s->batch);
		sluice_batch_results_free(&s->results);
	}
	free(s->corpus_index);
	free(s->invalid);
	memset(s, 0, sizeof(*s));
}

/* Scans what the batch holds, reads every result and empties it. */
static int flush(struct batch_stage *s, struct pass_counts *counts, uint8_t *verdicts, char *err,
		 size_t err_len)
{
	struct sluice_batch *b = &s->batch;
	const struct sluice_pack *pack = s->alone.pack;

	/* As the worker does: texts by reference are checked by the batch in
	 * its fold (the corpus is valid UTF-8, so none is refused). */
	if (sluice_batch_check(b, pack, s->invalid) != 0) {
		snprintf(err, err_len, "message %u of the corpus is not UTF-8",
			 s->corpus_index[s->invalid[0]] + 1);
		return -1;
	}
	hs_error_t rc = sluice_batch_scan(pack, s->alone.scratch, b, &s->results, NULL, 0);
	if (rc != HS_SUCCESS) {
		snprintf(err, err_len,
			 "sluice_batch_scan failed on the batch that starts with message %u: "
			 "error %d",
			 s->corpus_index[0] + 1, (int)rc);
		return -1;
	}
	counts->batch_scans++;
	for (uint32_t j = 0; j < b->count; j++) {
		const struct sluice_match_set *set = sluice_batch_result(&s->results, j);
		tally(set, counts);
		if (verdicts)
			verdicts[s->corpus_index[j]] = (uint8_t)set->verdict;
	}
	sluice_batch_reset(b);
	return 0;
}

int batch_stage_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
		     uint8_t *verdicts, char *err, size_t err_len)
{
	struct batch_stage *s = stage;
	struct sluice_batch *b = &s->batch;
	uint64_t regex_scans_before = s->results.regex_scans;

	sluice_batch_reset(b);
	for (uint32_t i = 0; i < corpus->count; i++) {
		size_t len = corpus->len[i];
		if (!sluice_batch_fits(b, len) && b->count > 0 &&
		    flush(s, counts, verdicts, err, err_len) != 0)
			return -1;
		if (!sluice_batch_fits(b, len)) {
			/* Longer than the whole buffer: no batch can take it. */
			if (scan_one(&s->alone, corpus, i, counts, verdicts, err, err_len) != 0)
				return -1;
			counts->scanned_alone++;
			continue;
		}
		int32_t slot = s->by_ref ? sluice_batch_add_ref(b, corpus->text[i], len)
					 : sluice_batch_add(b, corpus->text[i], len);
		if (slot < 0) {
			snprintf(err, err_len,
				 "sluice_batch_add refused message %u although it fits", i + 1);
			return -1;
		}
		s->corpus_index[slot] = i;
		if (b->count == b->cap && flush(s, counts, verdicts, err, err_len) != 0)
			return -1;
	}
	if (b->count > 0 && flush(s, counts, verdicts, err, err_len) != 0)
		return -1;
	counts->regex_scans = s->results.regex_scans - regex_scans_before;
	return 0;
}
