#include "batch_scan.h"

#include <emmintrin.h>
#include <stdlib.h>
#include <string.h>

#include "match_internal.h"
#include "normalize.h"
#include "utf8.h"
#include "utf8_blocks.h"

#define SEPARATOR '\n'

int sluice_batch_init(struct sluice_batch *b, uint32_t max_messages, uint32_t max_bytes,
		      const struct sluice_allocator *alloc)
{
	memset(b, 0, sizeof(*b));
	b->alloc = alloc;
	if (max_messages == 0 || max_bytes < 2)
		return -1;
	/* Zeroed slack after the last byte a scan can cover (match.h). */
	size_t fold_bytes = (size_t)max_bytes * SLUICE_FOLD_MAX_GROWTH;
	b->buf = sluice_zalloc(alloc, (size_t)max_bytes + SLUICE_SCAN_SLACK);
	b->start = sluice_zalloc(alloc, max_messages * sizeof(*b->start));
	b->len = sluice_zalloc(alloc, max_messages * sizeof(*b->len));
	b->fold_buf = sluice_zalloc(alloc, fold_bytes + SLUICE_SCAN_SLACK);
	b->fold_src = sluice_zalloc(alloc, (fold_bytes + SLUICE_NORM_SLACK) * sizeof(*b->fold_src));
	b->fold_start = sluice_zalloc(alloc, max_messages * sizeof(*b->fold_start));
	b->fold_len = sluice_zalloc(alloc, max_messages * sizeof(*b->fold_len));
	b->fold_mapped = sluice_zalloc(alloc, max_messages);
	b->ascii = sluice_zalloc(alloc, max_messages);
	b->ref = sluice_zalloc(alloc, max_messages * sizeof(*b->ref));
	b->invalid = sluice_zalloc(alloc, max_messages);
	if (!b->ascii || !b->ref || !b->invalid || !b->buf || !b->start || !b->len ||
	    !b->fold_buf || !b->fold_src || !b->fold_start || !b->fold_len || !b->fold_mapped) {
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
		sluice_free(b->alloc, b->fold_buf);
		sluice_free(b->alloc, b->fold_src);
		sluice_free(b->alloc, b->fold_start);
		sluice_free(b->alloc, b->fold_len);
		sluice_free(b->alloc, b->fold_mapped);
		sluice_free(b->alloc, b->ascii);
		sluice_free(b->alloc, b->ref);
		sluice_free(b->alloc, b->invalid);
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
	r->begun = sluice_zalloc(alloc, max_messages);
	if (!r->sets || !r->storage || !r->regex_hit || !r->states || !r->begun) {
		sluice_batch_results_free(r);
		return -1;
	}
	r->cap = max_messages;
	r->matches_per_message = matches_per_message;
	for (uint32_t i = 0; i < max_messages; i++)
		sluice_match_set_init(&r->sets[i], r->storage + (size_t)i * matches_per_message,
				      matches_per_message, NULL);
	sluice_match_set_init(&r->none, NULL, 0, NULL);
	return 0;
}

void sluice_batch_results_free(struct sluice_batch_results *r)
{
	if (r->alloc != NULL) {
		sluice_free(r->alloc, r->sets);
		sluice_free(r->alloc, r->storage);
		sluice_free(r->alloc, r->regex_hit);
		sluice_free(r->alloc, r->states);
		sluice_free(r->alloc, r->begun);
	}
	memset(r, 0, sizeof(*r));
}

int32_t sluice_batch_add_ref(struct sluice_batch *b, const char *text, size_t len)
{
	if (!sluice_batch_fits(b, len) || (b->count > 0 && !b->by_ref))
		return -1;
	/* Read once: a byte stored through the arrays may alias the batch, and
	 * the compiler would read both again after every store. */
	uint32_t k = b->count, used = b->used;
	b->by_ref = true;
	b->ref[k] = text;
	/* Not ASCII until its check says so: the check reads it anyway. */
	b->ascii[k] = 0;
	b->invalid[k] = 0;
	b->unicode++;
	/* Offsets as if copied: the folded texts are laid out from them. */
	b->start[k] = used;
	b->len[k] = (uint32_t)len;
	b->used = used + (uint32_t)len + 1;
	b->folded_by = NULL;
	b->count = k + 1;
	return (int32_t)k;
}

/* Appends text[0, len), which fits and is valid (its ASCII-ness known), as
 * message b->count. */
static int32_t commit_copy(struct sluice_batch *b, size_t len, bool ascii)
{
	uint32_t k = b->count, used = b->used; /* as in sluice_batch_add_ref() */
	b->ascii[k] = ascii;
	b->unicode += !ascii;
	b->buf[used + len] = SEPARATOR;
	b->start[k] = used;
	b->len[k] = (uint32_t)len;
	b->used = used + (uint32_t)len + 1;
	b->folded_by = NULL;
	b->count = k + 1;
	return (int32_t)k;
}

/* Where a copy of len bytes goes, or NULL when it does not fit (or the
 * batch holds texts by reference). */
static uint8_t *copy_room(struct sluice_batch *b, size_t len)
{
	return sluice_batch_fits(b, len) && !b->by_ref ? (uint8_t *)b->buf + b->used : NULL;
}

int32_t sluice_batch_add(struct sluice_batch *b, const char *text, size_t len)
{
	/* Copied sixteen bytes at a time (the last sixteen overlapping the
	 * ones before: nothing past the text is read), noting on the way
	 * whether the text is all ASCII: folding skips such messages without
	 * reading them again. */
	const uint8_t *in = (const uint8_t *)text;
	uint8_t *to = copy_room(b, len);
	if (to == NULL)
		return -1;
	bool ascii;
	if (len >= 16) {
		__m128i any = _mm_setzero_si128();
		size_t i = 0;
		for (; i + 16 <= len; i += 16) {
			__m128i v = _mm_loadu_si128((const __m128i *)(in + i));
			_mm_storeu_si128((__m128i *)(to + i), v);
			any = _mm_or_si128(any, v);
		}
		if (i < len) {
			__m128i v = _mm_loadu_si128((const __m128i *)(in + len - 16));
			_mm_storeu_si128((__m128i *)(to + len - 16), v);
			any = _mm_or_si128(any, v);
		}
		ascii = _mm_movemask_epi8(any) == 0;
	} else {
		uint8_t any = 0;
		for (size_t i = 0; i < len; i++) {
			to[i] = in[i];
			any |= in[i];
		}
		ascii = any < 0x80;
	}
	return commit_copy(b, len, ascii);
}

/* Whole blocks of 32 are stored: past the text lie the next texts' room, or
 * the buffer's slack (SLUICE_SCAN_SLACK >= 32). */
_Static_assert(SLUICE_SCAN_SLACK >= 32, "a block stored past the last text fits");

int32_t sluice_batch_add_checked_sse2(struct sluice_batch *b, const char *text, size_t len)
{
	const uint8_t *in = (const uint8_t *)text;
	uint8_t *to = copy_room(b, len);
	if (to == NULL)
		return -1;
	struct sluice_utf8_blocks check = {0};
	for (size_t i = 0; i < len; i += 32) {
		__m128i lo, hi;
		uint32_t leads;
		sluice_utf8_load_block(in + i, (uint32_t)(len - i), &lo, &hi);
		if (!sluice_utf8_blocks_next(&check, lo, hi, (uint32_t)(len - i), &leads))
			return SLUICE_BATCH_INVALID;
		_mm_storeu_si128((__m128i *)(to + i), lo);
		_mm_storeu_si128((__m128i *)(to + i + 16), hi);
	}
	return commit_copy(b, len, check.high == 0);
}

/* The same, a block in one vector (utf8_blocks.h). */
SLUICE_TARGET_AVX2 int32_t sluice_batch_add_checked_avx2(struct sluice_batch *b, const char *text,
							 size_t len)
{
	const uint8_t *in = (const uint8_t *)text;
	uint8_t *to = copy_room(b, len);
	if (to == NULL)
		return -1;
	struct sluice_utf8_blocks check = {0};
	for (size_t i = 0; i < len; i += 32) {
		uint32_t leads;
		__m256i x = sluice_utf8_load_block256(in + i, (uint32_t)(len - i));
		if (!sluice_utf8_blocks_next256(&check, x, (uint32_t)(len - i), &leads))
			return SLUICE_BATCH_INVALID;
		_mm256_storeu_si256((__m256i *)(to + i), x);
	}
	/* Cleared here, not left to GCC: where commit_copy() is not inlined
	 * (-O2, the default build), GCC 12 made this call a jump without the
	 * vzeroupper, and the SSE code after it ran at half speed. */
	_mm256_zeroupper();
	return commit_copy(b, len, check.high == 0);
}

/* The CPU's features are read at each call, as sluice_fold_checked() does. */
int32_t sluice_batch_add_checked(struct sluice_batch *b, const char *text, size_t len)
{
	if (sluice_utf8_avx2_usable())
		return sluice_batch_add_checked_avx2(b, text, len);
	return sluice_batch_add_checked_sse2(b, text, len);
}

/* Text k, not yet checked, is valid or found invalid (its fold is then
 * empty, and the batch's to be made again once it is settled). */
static void check_text(struct sluice_batch *b, uint32_t k, const struct sluice_fold_table *t,
		       uint8_t *out, struct sluice_norm_view *v)
{
	const uint8_t *in = (const uint8_t *)b->ref[k];
	bool ascii;
	bool valid = t != NULL ? sluice_fold_checked(t, in, b->len[k], out, v, &ascii)
			       : sluice_utf8_valid_ascii(in, b->len[k], &ascii);
	if (!valid) {
		*v = (struct sluice_norm_view){.text = in, .len = 0, .identity = true};
		b->invalid[k] = 1;
		b->invalid_left++;
		return;
	}
	b->ascii[k] = ascii;
	b->unicode -= ascii;
}

/* The folded texts of a batch with some text not all ASCII, into fold_buf
 * from the first text that folds on (before it, the texts are their own);
 * texts by reference not yet checked are checked on the way. Returns
 * fold_buf's length, 0 when nothing folded. */
static uint32_t fold_unicode_texts(struct sluice_batch *b, const struct sluice_fold_table *t)
{
	/* By reference there is no buffer of texts to share: every text is
	 * copied (or folded) from where the caller has it. */
	bool copying = b->by_ref;
	uint32_t o = 0;

	for (uint32_t k = 0; k < b->count; k++) {
		const uint8_t *in =
		    b->by_ref ? (const uint8_t *)b->ref[k] : (const uint8_t *)b->buf + b->start[k];
		uint32_t at = copying ? o : b->start[k];
		struct sluice_norm_view v = {.text = in, .len = b->len[k], .identity = true};
		/* The check leaves a copy of a text that does not fold. */
		bool copied = k >= b->checked && b->by_ref;
		if (copied)
			check_text(b, k, t, (uint8_t *)b->fold_buf + at, &v);
		else if (!b->ascii[k])
			sluice_fold_unicode(t, in, b->len[k], (uint8_t *)b->fold_buf + at, &v);
		b->fold_mapped[k] = !v.identity;
		if (!copying && v.identity) {
			b->fold_start[k] = b->start[k];
			b->fold_len[k] = b->len[k];
			continue;
		}
		if (!copying) {
			/* The first message that folds: what came before it, as
			 * it is, separators included. */
			memcpy(b->fold_buf, b->buf, b->start[k]);
			o = b->start[k];
			copying = true;
		}
		if (v.identity && !copied)
			memcpy(b->fold_buf + o, in, v.len);
		b->fold_start[k] = o;
		b->fold_len[k] = v.len;
		o += v.len;
		b->fold_buf[o++] = SEPARATOR;
	}
	return o;
}

/* Folds every text of the batch with t, unless that was done since the last
 * change. An all-ASCII batch is its own folded texts: nothing is read. */
static void fold_texts(struct sluice_batch *b, const struct sluice_fold_table *t)
{
	if (b->folded_by != NULL && (b->folded_by == t || b->folded_digest == t->digest))
		return;
	uint32_t used = 0;
	if (b->unicode != 0 || b->by_ref) {
		used = fold_unicode_texts(b, t);
	} else {
		memcpy(b->fold_start, b->start, b->count * sizeof(*b->start));
		memcpy(b->fold_len, b->len, b->count * sizeof(*b->len));
		memset(b->fold_mapped, 0, b->count);
	}
	b->fold_text = used ? b->fold_buf : b->buf;
	b->fold_used = used ? used : b->used;
	b->folded_by = t;
	b->folded_digest = t->digest;
}

/* The table to fold the texts with for pack: the batch's shared one when
 * it serves the pack's (one fold for every pack of the batch), else the
 * pack's own. */
static const struct sluice_fold_table *fold_table_for(const struct sluice_batch *b,
						      const struct sluice_pack *pack)
{
	const struct sluice_fold_table *own = pack->fold;
	return b->fold_shared != NULL && sluice_fold_table_serves(b->fold_shared, own)
		   ? b->fold_shared
		   : own;
}

uint32_t sluice_batch_check(struct sluice_batch *b, const struct sluice_pack *pack,
			    uint32_t *invalid)
{
	if (!b->by_ref || b->checked == b->count)
		return 0;
	const struct sluice_fold_table *t =
	    pack->views & (1u << SLUICE_VIEW_FOLDED) ? fold_table_for(b, pack) : NULL;
	uint32_t from = b->checked, before = b->invalid_left;
	if (t != NULL) {
		b->folded_by = NULL;
		fold_texts(b, t);
	} else {
		for (uint32_t k = from; k < b->count; k++) {
			struct sluice_norm_view v;
			check_text(b, k, NULL, NULL, &v);
		}
	}
	b->checked = b->count;
	uint32_t n = 0;
	for (uint32_t k = from; k < b->count && n < b->invalid_left - before; k++) {
		if (b->invalid[k])
			invalid[n++] = k;
	}
	if (n > 0)
		b->folded_by = NULL; /* made again once they are settled */
	return n;
}

/* Text k, found invalid, is settled: dropped or repaired. */
static void settle_invalid(struct sluice_batch *b, uint32_t k)
{
	b->invalid[k] = 0;
	b->invalid_left--;
	b->folded_by = NULL;
}

void sluice_batch_drop(struct sluice_batch *b, uint32_t k)
{
	if (k >= b->count || !b->invalid[k])
		return;
	settle_invalid(b, k);
	b->len[k] = 0;
	b->ascii[k] = 1;
	b->unicode--;
}

void sluice_batch_repaired(struct sluice_batch *b, uint32_t k)
{
	if (k >= b->count || !b->invalid[k])
		return;
	settle_invalid(b, k);
	bool ascii = sluice_ascii_only((const uint8_t *)b->ref[k], b->len[k]);
	b->ascii[k] = ascii;
	b->unicode -= ascii;
}

/* One view of the batch's texts: the buffer, and where each message is. */
struct batch_view {
	const char *text;
	uint32_t used;
	const uint32_t *start, *len;
};

struct batch_scan_ctx {
	const struct batch_view *v;
	uint32_t count;
	struct sluice_batch_results *r;
	const struct sluice_pack_db *db;
	uint32_t cur; /* the message the last report ended in */
	const struct sluice_pack *pack;
	const struct sluice_batch *b;
	bool folded; /* the pack scans the folded view */
	const uint8_t *disabled;
	uint8_t keep;
};

/* Message k's scan state, made the first time the message needs it: most
 * messages of a batch get no report and need none (their result is the
 * results' empty set, sluice_batch_result()). */
static struct sluice_scan_state *message_state(const struct batch_scan_ctx *ctx, uint32_t k)
{
	struct sluice_batch_results *r = ctx->r;
	struct sluice_scan_state *st = &r->states[k];
	if (r->begun[k])
		return st;
	const struct sluice_batch *b = ctx->b;
	sluice_scan_begin(st, ctx->pack, &r->sets[k], b->by_ref ? b->ref[k] : b->buf + b->start[k],
			  b->len[k]);
	r->sets[k].disabled = ctx->disabled;
	r->sets[k].keep = ctx->keep;
	if (ctx->folded) {
		st->view[SLUICE_VIEW_FOLDED] = (struct sluice_view_text){
		    .text = b->fold_text + b->fold_start[k],
		    .len = b->fold_len[k],
		    .src = b->fold_mapped[k] ? b->fold_src + b->fold_start[k] : NULL};
		st->fold = b->folded_by; /* maps back as it folded */
	}
	r->begun[k] = 1;
	r->begun_count++;
	return st;
}

/* The message whose bytes include offset to - 1, or UINT32_MAX when that byte
 * is a separator. */
static uint32_t message_ending_at(const struct batch_view *v, uint32_t count, unsigned long long to)
{
	uint32_t lo = 0, hi = count;

	/* the last message that starts before `to` */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (v->start[mid] < to)
			lo = mid;
		else
			hi = mid;
	}
	if (to <= v->start[lo] || to > (unsigned long long)v->start[lo] + v->len[lo])
		return UINT32_MAX;
	return lo;
}

static int on_batch_match(unsigned int id, unsigned long long from, unsigned long long to,
			  unsigned int flags, void *arg)
{
	struct batch_scan_ctx *ctx = arg;
	const struct batch_view *v = ctx->v;
	struct sluice_batch_results *r = ctx->r;
	uint32_t k = ctx->cur;
	(void)from; /* no SOM in the databases scanned over a batch */
	(void)flags;

	/* Reports come in order of end offset, so nearly always in the message
	 * of the last one. */
	if (to <= v->start[k] || to > (unsigned long long)v->start[k] + v->len[k]) {
		k = message_ending_at(v, ctx->count, to);
		if (k == UINT32_MAX)
			return 0; /* it ends on a separator: it crossed one */
		ctx->cur = k;
	}
	if (ctx->db->kind == SLUICE_DB_REGEX_ENDS) {
		r->regex_hit[k] |= (uint8_t)(1u << ctx->db->view);
		return 0;
	}
	/* The literal database: a literal's start is its end minus its length. */
	if (id >= ctx->db->id_count || to - v->start[k] < ctx->db->map[id].len)
		return 0; /* a literal across the separator; the ones inside are reported too */
	struct sluice_scan_state *st = message_state(ctx, k);
	st->db = ctx->db;
	st->cur = &st->view[ctx->db->view];
	sluice_scan_report(st, id, 0, to - v->start[k]);
	return 0;
}

hs_error_t sluice_batch_scan(const struct sluice_pack *pack, hs_scratch_t *scratch,
			     struct sluice_batch *b, struct sluice_batch_results *r,
			     const uint8_t *disabled, uint8_t keep)
{
	r->begun_count = 0;
	if (b->count == 0)
		return HS_SUCCESS;
	if (b->count > r->cap)
		return HS_INVALID;
	if (b->by_ref && (pack->views & (1u << SLUICE_VIEW_RAW)))
		return HS_INVALID; /* no raw texts to scan */
	if (b->by_ref && (b->checked < b->count || b->invalid_left > 0))
		return HS_INVALID; /* text not known to be UTF-8 */
	r->scans++;
	struct batch_view views[SLUICE_VIEW_COUNT] = {
	    [SLUICE_VIEW_RAW] = {
		.text = b->buf, .used = b->used, .start = b->start, .len = b->len}};
	bool folded = (pack->views & (1u << SLUICE_VIEW_FOLDED)) != 0;
	if (folded) {
		fold_texts(b, fold_table_for(b, pack));
		views[SLUICE_VIEW_FOLDED] = (struct batch_view){.text = b->fold_text,
								.used = b->fold_used,
								.start = b->fold_start,
								.len = b->fold_len};
	}
	sluice_match_set_reset(&r->none);
	r->none.pack = pack;
	r->none.disabled = disabled;
	r->none.keep = keep;
	memset(r->begun, 0, b->count);
	/* A view with a regex database but no regex-ends (a pack built before
	 * it existed) has every message scanned alone with the regex database;
	 * so has every message a pack with anchored regexes. A combination
	 * that holds on nothing ("not a") is judged for every message. */
	uint8_t every = 0;
	bool each_alone = pack->combination_when_none;
	for (size_t d = 0; d < pack->db_count; d++) {
		if (pack->dbs[d].kind == SLUICE_DB_REGEX)
			every |= (uint8_t)(1u << pack->dbs[d].view);
		each_alone |= pack->dbs[d].kind == SLUICE_DB_ANCHORED;
	}
	for (size_t d = 0; d < pack->db_count; d++) {
		if (pack->dbs[d].kind == SLUICE_DB_REGEX_ENDS)
			every &= (uint8_t) ~(1u << pack->dbs[d].view);
	}
	memset(r->regex_hit, every, b->count);
	/* Literal and regex-ends databases over the whole batch (its view);
	 * then, per message, in the order sluice_scan_message() scans them:
	 * the literal reports already in, then in the pack's order a regex
	 * database if regex-ends picked the message, and the anchored ones, so
	 * each message sees its reports in the same order as alone. */
	struct batch_scan_ctx ctx = {.r = r,
				     .count = b->count,
				     .pack = pack,
				     .b = b,
				     .folded = folded,
				     .disabled = disabled,
				     .keep = keep};
	for (size_t d = 0; d < pack->db_count; d++) {
		const struct sluice_pack_db *db = &pack->dbs[d];
		if (db->kind != SLUICE_DB_LITERAL && db->kind != SLUICE_DB_REGEX_ENDS)
			continue;
		ctx.v = &views[db->view];
		ctx.db = db;
		ctx.cur = 0;
		hs_error_t rc =
		    hs_scan(db->db, ctx.v->text, ctx.v->used, 0, scratch, on_batch_match, &ctx);
		if (rc != HS_SUCCESS)
			return rc;
	}
	for (uint32_t k = 0; k < b->count; k++) {
		if (!each_alone && !r->regex_hit[k] && !r->begun[k])
			continue; /* no report: its reset set is its result */
		struct sluice_scan_state *st = message_state(&ctx, k);
		for (size_t d = 0; d < pack->db_count; d++) {
			const struct sluice_pack_db *db = &pack->dbs[d];
			if (db->kind == SLUICE_DB_REGEX) {
				if (!(r->regex_hit[k] & (1u << db->view)))
					continue;
				r->regex_scans++;
			} else if (db->kind != SLUICE_DB_ANCHORED) {
				continue;
			}
			hs_error_t rc = sluice_scan_db(st, db, scratch);
			if (rc != HS_SUCCESS)
				return rc;
		}
		sluice_scan_end(st);
	}
	return HS_SUCCESS;
}
