#include "batch_scan.h"

#include <stdlib.h>
#include <string.h>

#include "match_internal.h"

#define SEPARATOR '\n'

int sluice_batch_init(struct sluice_batch *b, uint32_t max_messages, uint32_t max_bytes,
		      uint32_t matches_per_message)
{
	memset(b, 0, sizeof(*b));
	if (max_messages == 0 || max_bytes < 2 || matches_per_message == 0)
		return -1;
	/* Zeroed slack after the last byte a scan can cover (match.h). */
	b->buf = calloc(1, (size_t)max_bytes + SLUICE_SCAN_SLACK);
	b->start = calloc(max_messages, sizeof(*b->start));
	b->len = calloc(max_messages, sizeof(*b->len));
	b->sets = calloc(max_messages, sizeof(*b->sets));
	b->storage = calloc((size_t)max_messages * matches_per_message, sizeof(*b->storage));
	b->regex_hit = calloc(max_messages, sizeof(*b->regex_hit));
	b->states = calloc(max_messages, sizeof(*b->states));
	if (!b->buf || !b->start || !b->len || !b->sets || !b->storage || !b->regex_hit ||
	    !b->states) {
		sluice_batch_free(b);
		return -1;
	}
	b->buf_cap = max_bytes;
	b->cap = max_messages;
	b->matches_per_message = matches_per_message;
	for (uint32_t i = 0; i < max_messages; i++)
		sluice_match_set_init(&b->sets[i], b->storage + (size_t)i * matches_per_message,
				      matches_per_message, NULL);
	return 0;
}

void sluice_batch_free(struct sluice_batch *b)
{
	free(b->buf);
	free(b->start);
	free(b->len);
	free(b->sets);
	free(b->storage);
	free(b->regex_hit);
	free(b->states);
	memset(b, 0, sizeof(*b));
}

int32_t sluice_batch_add(struct sluice_batch *b, const char *text, size_t len)
{
	if (!sluice_batch_fits(b, len))
		return -1;
	memcpy(b->buf + b->used, text, len);
	b->buf[b->used + len] = SEPARATOR;
	b->start[b->count] = b->used;
	b->len[b->count] = (uint32_t)len;
	b->used += (uint32_t)len + 1;
	return (int32_t)b->count++;
}

struct batch_scan_ctx {
	struct sluice_batch *b;
	const struct sluice_pack_db *db;
	uint32_t cur; /* the message the last report ended in */
};

/* The message whose bytes include offset to - 1, or UINT32_MAX when that byte
 * is a separator. */
static uint32_t message_ending_at(const struct sluice_batch *b, unsigned long long to)
{
	uint32_t lo = 0, hi = b->count;

	/* the last message that starts before `to` */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (b->start[mid] < to)
			lo = mid;
		else
			hi = mid;
	}
	if (to <= b->start[lo] || to > (unsigned long long)b->start[lo] + b->len[lo])
		return UINT32_MAX;
	return lo;
}

static int on_batch_match(unsigned int id, unsigned long long from, unsigned long long to,
			  unsigned int flags, void *arg)
{
	struct batch_scan_ctx *ctx = arg;
	struct sluice_batch *b = ctx->b;
	uint32_t k = ctx->cur;
	(void)from; /* no SOM in the databases scanned over a batch */
	(void)flags;

	/* Reports come in order of end offset, so nearly always in the message
	 * of the last one. */
	if (to <= b->start[k] || to > (unsigned long long)b->start[k] + b->len[k]) {
		k = message_ending_at(b, to);
		if (k == UINT32_MAX)
			return 0; /* it ends on a separator: it crossed one */
		ctx->cur = k;
	}
	if (ctx->db->kind == SLUICE_DB_REGEX_ENDS) {
		b->regex_hit[k] = 1;
		return 0;
	}
	/* The literal database: a literal's start is its end minus its length. */
	if (id >= ctx->db->id_count || to - b->start[k] < ctx->db->map[id].len)
		return 0; /* a literal across the separator; the ones inside are reported too */
	struct sluice_scan_state *st = &b->states[k];
	st->db = ctx->db;
	sluice_scan_report(st, id, 0, to - b->start[k]);
	return 0;
}

hs_error_t sluice_batch_scan(const struct sluice_pack *pack, hs_scratch_t *scratch,
			     struct sluice_batch *b, const uint8_t *disabled, uint8_t keep)
{
	if (b->count == 0)
		return HS_SUCCESS;
	b->scans++;
	for (uint32_t k = 0; k < b->count; k++) {
		struct sluice_match_set *set = &b->sets[k];
		sluice_scan_begin(&b->states[k], pack, set, b->buf + b->start[k], b->len[k]);
		set->disabled = disabled;
		set->keep = keep;
	}
	const struct sluice_pack_db *regex = NULL, *ends = NULL;
	for (size_t d = 0; d < pack->db_count; d++) {
		if (pack->dbs[d].kind == SLUICE_DB_REGEX)
			regex = &pack->dbs[d];
		else if (pack->dbs[d].kind == SLUICE_DB_REGEX_ENDS)
			ends = &pack->dbs[d];
	}
	/* Without regex-ends (a pack built before it existed) every message is
	 * scanned alone with the regex database. */
	memset(b->regex_hit, ends == NULL, b->count);
	/* Literal and regex-ends over the whole batch; then, per message, in
	 * the order sluice_scan_message() scans them: the literal reports
	 * already in, the regex database if regex-ends picked the message, and
	 * the anchored database, so each message sees its reports in the same
	 * order as alone. */
	struct batch_scan_ctx ctx = {.b = b};
	for (size_t d = 0; d < pack->db_count; d++) {
		const struct sluice_pack_db *db = &pack->dbs[d];
		if (db->kind != SLUICE_DB_LITERAL && db->kind != SLUICE_DB_REGEX_ENDS)
			continue;
		ctx.db = db;
		ctx.cur = 0;
		hs_error_t rc = hs_scan(db->db, b->buf, b->used, 0, scratch, on_batch_match, &ctx);
		if (rc != HS_SUCCESS)
			return rc;
	}
	for (uint32_t k = 0; k < b->count; k++) {
		struct sluice_scan_state *st = &b->states[k];
		if (b->regex_hit[k] && regex != NULL) {
			b->regex_scans++;
			hs_error_t rc = sluice_scan_db(st, regex, scratch);
			if (rc != HS_SUCCESS)
				return rc;
		}
		for (size_t d = 0; d < pack->db_count; d++) {
			if (pack->dbs[d].kind != SLUICE_DB_ANCHORED)
				continue;
			hs_error_t rc = sluice_scan_db(st, &pack->dbs[d], scratch);
			if (rc != HS_SUCCESS)
				return rc;
		}
		sluice_scan_end(st);
	}
	return HS_SUCCESS;
}
