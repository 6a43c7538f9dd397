#include "batch_scan.h"

#include <stdlib.h>
#include <string.h>

#include "match_internal.h"

#define SEPARATOR '\n'

int sluice_batch_init(struct sluice_batch *b, uint32_t max_messages, uint32_t max_bytes,
		      const struct sluice_allocator *alloc)
{
	memset(b, 0, sizeof(*b));
	b->alloc = alloc;
	if (max_messages == 0 || max_bytes < 2)
		return -1;
	/* Zeroed slack after the last byte a scan can cover (match.h). */
	b->buf = sluice_zalloc(alloc, (size_t)max_bytes + SLUICE_SCAN_SLACK);
	b->start = sluice_zalloc(alloc, max_messages * sizeof(*b->start));
	b->len = sluice_zalloc(alloc, max_messages * sizeof(*b->len));
	if (!b->buf || !b->start || !b->len) {
		sluice_batch_free(b);
		return -1;
	}
	b->buf_cap = max_bytes;
	b->cap = max_messages;
	return 0;
}

void sluice_batch_free(struct sluice_batch *b)
{
	if (b->alloc != NULL) {
		sluice_free(b->alloc, b->buf);
		sluice_free(b->alloc, b->start);
		sluice_free(b->alloc, b->len);
	}
	memset(b, 0, sizeof(*b));
}

int sluice_batch_results_init(struct sluice_batch_results *r, uint32_t max_messages,
			      uint32_t matches_per_message, const struct sluice_allocator *alloc)
{
	memset(r, 0, sizeof(*r));
	r->alloc = alloc;
	if (max_messages == 0 || matches_per_message == 0)
		return -1;
	r->sets = sluice_zalloc(alloc, max_messages * sizeof(*r->sets));
	r->storage =
	    sluice_zalloc(alloc, (size_t)max_messages * matches_per_message * sizeof(*r->storage));
	r->regex_hit = sluice_zalloc(alloc, max_messages * sizeof(*r->regex_hit));
	r->states = sluice_zalloc(alloc, max_messages * sizeof(*r->states));
	if (!r->sets || !r->storage || !r->regex_hit || !r->states) {
		sluice_batch_results_free(r);
		return -1;
	}
	r->cap = max_messages;
	r->matches_per_message = matches_per_message;
	for (uint32_t i = 0; i < max_messages; i++)
		sluice_match_set_init(&r->sets[i], r->storage + (size_t)i * matches_per_message,
				      matches_per_message, NULL);
	return 0;
}

void sluice_batch_results_free(struct sluice_batch_results *r)
{
	if (r->alloc != NULL) {
		sluice_free(r->alloc, r->sets);
		sluice_free(r->alloc, r->storage);
		sluice_free(r->alloc, r->regex_hit);
		sluice_free(r->alloc, r->states);
	}
	memset(r, 0, sizeof(*r));
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
	const struct sluice_batch *b;
	struct sluice_batch_results *r;
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
	const struct sluice_batch *b = ctx->b;
	struct sluice_batch_results *r = ctx->r;
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
		r->regex_hit[k] = 1;
		return 0;
	}
	/* The literal database: a literal's start is its end minus its length. */
	if (id >= ctx->db->id_count || to - b->start[k] < ctx->db->map[id].len)
		return 0; /* a literal across the separator; the ones inside are reported too */
	struct sluice_scan_state *st = &r->states[k];
	st->db = ctx->db;
	sluice_scan_report(st, id, 0, to - b->start[k]);
	return 0;
}

hs_error_t sluice_batch_scan(const struct sluice_pack *pack, hs_scratch_t *scratch,
			     const struct sluice_batch *b, struct sluice_batch_results *r,
			     const uint8_t *disabled, uint8_t keep)
{
	if (b->count == 0)
		return HS_SUCCESS;
	if (b->count > r->cap)
		return HS_INVALID;
	r->scans++;
	for (uint32_t k = 0; k < b->count; k++) {
		struct sluice_match_set *set = &r->sets[k];
		sluice_scan_begin(&r->states[k], pack, set, b->buf + b->start[k], b->len[k]);
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
	memset(r->regex_hit, ends == NULL, b->count);
	/* Literal and regex-ends over the whole batch; then, per message, in
	 * the order sluice_scan_message() scans them: the literal reports
	 * already in, the regex database if regex-ends picked the message, and
	 * the anchored database, so each message sees its reports in the same
	 * order as alone. */
	struct batch_scan_ctx ctx = {.b = b, .r = r};
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
		struct sluice_scan_state *st = &r->states[k];
		if (r->regex_hit[k] && regex != NULL) {
			r->regex_scans++;
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
