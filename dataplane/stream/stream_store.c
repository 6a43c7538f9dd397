#include "stream_store.h"

#include <string.h>

#include "inet_checksum.h"
#include "seq.h"

int sluice_chunk_pool_init(struct sluice_chunk_pool *pool, uint32_t count,
			   const struct sluice_allocator *alloc)
{
	memset(pool, 0, sizeof(*pool));
	pool->alloc = alloc;
	if (count == 0 || count == SLUICE_CHUNK_NONE)
		return -1;
	pool->bytes = sluice_zalloc(alloc, (size_t)count * SLUICE_CHUNK_BYTES);
	pool->next = sluice_zalloc(alloc, (size_t)count * sizeof(*pool->next));
	if (pool->bytes == NULL || pool->next == NULL) {
		sluice_chunk_pool_fini(pool);
		return -1;
	}
	for (uint32_t i = 0; i < count; i++)
		pool->next[i] = i + 1 < count ? i + 1 : SLUICE_CHUNK_NONE;
	pool->count = count;
	pool->free = count;
	pool->free_head = 0;
	return 0;
}

void sluice_chunk_pool_fini(struct sluice_chunk_pool *pool)
{
	if (pool->alloc != NULL) {
		sluice_free(pool->alloc, pool->bytes);
		sluice_free(pool->alloc, pool->next);
	}
	memset(pool, 0, sizeof(*pool));
}

static uint32_t chunk_take(struct sluice_chunk_pool *pool)
{
	uint32_t c = pool->free_head;
	pool->free_head = pool->next[c];
	pool->next[c] = SLUICE_CHUNK_NONE;
	pool->free--;
	return c;
}

static void chunk_give(struct sluice_chunk_pool *pool, uint32_t c)
{
	pool->next[c] = pool->free_head;
	pool->free_head = c;
	pool->free++;
}

void sluice_store_init(struct sluice_stream_store *s, uint32_t seq)
{
	memset(s, 0, sizeof(*s));
	s->base = seq;
	s->contig = seq;
	s->head = SLUICE_CHUNK_NONE;
	s->tail = SLUICE_CHUNK_NONE;
}

void sluice_store_clear(struct sluice_stream_store *s, struct sluice_chunk_pool *pool)
{
	uint32_t c = s->head;
	while (c != SLUICE_CHUNK_NONE) {
		uint32_t next = pool->next[c];
		chunk_give(pool, c);
		c = next;
	}
	sluice_store_init(s, s->contig);
}

/* The byte at seq (which lies in the store's chunks) and how many bytes of its
 * chunk follow it, up to limit. */
static uint8_t *byte_at(const struct sluice_stream_store *s, const struct sluice_chunk_pool *pool,
			uint32_t seq, uint32_t limit, uint32_t *run)
{
	uint32_t off = seq - s->base;
	uint32_t k = off / SLUICE_CHUNK_BYTES;
	uint32_t c;
	if (k + 1 == s->chunks) {
		c = s->tail;
	} else {
		c = s->head;
		while (k-- > 0)
			c = pool->next[c];
	}
	uint32_t in = off % SLUICE_CHUNK_BYTES;
	uint32_t left = SLUICE_CHUNK_BYTES - in;
	*run = left < limit ? left : limit;
	return pool->bytes + (size_t)c * SLUICE_CHUNK_BYTES + in;
}

static bool in_ooo(const struct sluice_stream_store *s, uint32_t seq, uint32_t end)
{
	for (uint32_t i = 0; i < s->ooo_count; i++)
		if (sluice_seq_le(s->ooo[i].start, seq) && sluice_seq_le(end, s->ooo[i].end))
			return true;
	return false;
}

bool sluice_store_has(const struct sluice_stream_store *s, uint32_t seq, uint32_t len)
{
	uint32_t end = seq + len;
	if (sluice_seq_lt(seq, s->base))
		return false;
	if (sluice_seq_le(end, s->contig))
		return true;
	return in_ooo(s, seq, end);
}

/* The present ranges in order: [base, contig), then the out-of-order ones. */
static uint32_t present_ranges(const struct sluice_stream_store *s, struct sluice_seq_range *r)
{
	uint32_t n = 0;
	if (s->contig != s->base)
		r[n++] = (struct sluice_seq_range){s->base, s->contig};
	for (uint32_t i = 0; i < s->ooo_count; i++)
		r[n++] = s->ooo[i];
	return n;
}

/* Adds [seq, end) to the present ranges of a copy of the store's bookkeeping:
 * contig grows over it (and any range it reaches), or it joins the
 * out-of-order ranges. Returns false when that would need too many. */
static bool mark_present(struct sluice_stream_store *s, uint32_t seq, uint32_t end)
{
	struct sluice_seq_range all[SLUICE_STORE_MAX_OOO + 1];
	uint32_t n = 0;
	bool placed = false;
	for (uint32_t i = 0; i <= s->ooo_count; i++) {
		bool last = i == s->ooo_count;
		if (!placed && (last || sluice_seq_le(seq, s->ooo[i].start))) {
			all[n++] = (struct sluice_seq_range){seq, end};
			placed = true;
		}
		if (!last)
			all[n++] = s->ooo[i];
	}
	/* Merge in order: into contig first, then among themselves. */
	uint32_t contig = s->contig, out = 0;
	struct sluice_seq_range merged[SLUICE_STORE_MAX_OOO + 1];
	for (uint32_t i = 0; i < n; i++) {
		if (sluice_seq_le(all[i].start, contig)) {
			contig = sluice_seq_max(contig, all[i].end);
		} else if (out > 0 && sluice_seq_le(all[i].start, merged[out - 1].end)) {
			merged[out - 1].end = sluice_seq_max(merged[out - 1].end, all[i].end);
		} else {
			merged[out++] = all[i];
		}
	}
	/* A range that reached contig only after later merges joins it too. */
	uint32_t first = 0;
	while (first < out && sluice_seq_le(merged[first].start, contig))
		contig = sluice_seq_max(contig, merged[first++].end);
	if (out - first > SLUICE_STORE_MAX_OOO)
		return false;
	s->contig = contig;
	s->ooo_count = out - first;
	for (uint32_t i = 0; i < s->ooo_count; i++)
		s->ooo[i] = merged[first + i];
	return true;
}

static void copy_in(struct sluice_stream_store *s, struct sluice_chunk_pool *pool, uint32_t seq,
		    const uint8_t *src, uint32_t len)
{
	while (len > 0) {
		uint32_t run;
		uint8_t *p = byte_at(s, pool, seq, len, &run);
		memcpy(p, src, run);
		seq += run;
		src += run;
		len -= run;
	}
}

static uint32_t count_conflicts(const struct sluice_stream_store *s,
				const struct sluice_chunk_pool *pool, uint32_t seq,
				const uint8_t *src, uint32_t len)
{
	uint32_t differ = 0;
	while (len > 0) {
		uint32_t run;
		const uint8_t *p = byte_at(s, pool, seq, len, &run);
		if (memcmp(p, src, run) != 0)
			for (uint32_t i = 0; i < run; i++)
				differ += p[i] != src[i];
		seq += run;
		src += run;
		len -= run;
	}
	return differ;
}

uint32_t sluice_store_differing(const struct sluice_stream_store *s,
				const struct sluice_chunk_pool *pool, uint32_t seq,
				const uint8_t *data, uint32_t len)
{
	struct sluice_seq_range present[SLUICE_STORE_MAX_OOO + 1];
	uint32_t n = present_ranges(s, present), differ = 0, end = seq + len;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t ps = sluice_seq_max(present[i].start, seq);
		uint32_t pe = sluice_seq_min(present[i].end, end);
		if (sluice_seq_lt(ps, pe))
			differ += count_conflicts(s, pool, ps, data + (ps - seq), pe - ps);
	}
	return differ;
}

enum sluice_store_result sluice_store_write(struct sluice_stream_store *s,
					    struct sluice_chunk_pool *pool, uint32_t seq,
					    const uint8_t *data, uint32_t len, uint32_t max_bytes,
					    uint32_t *conflicts)
{
	if (len == 0)
		return SLUICE_STORE_OK;
	if (sluice_seq_lt(seq, s->base)) {
		uint32_t old = s->base - seq;
		if (old >= len)
			return SLUICE_STORE_OK;
		seq += old;
		data += old;
		len -= old;
	}
	uint32_t end = seq + len;
	uint32_t span = end - s->base;
	if (span > max_bytes || span < len)
		return SLUICE_STORE_TOO_FAR;
	uint32_t need = (span + SLUICE_CHUNK_BYTES - 1) / SLUICE_CHUNK_BYTES;
	if (need > s->chunks && need - s->chunks > pool->free)
		return SLUICE_STORE_NO_MEMORY;
	struct sluice_stream_store after = *s;
	if (!mark_present(&after, seq, end))
		return SLUICE_STORE_OOO_LIMIT;

	while (s->chunks < need) {
		uint32_t c = chunk_take(pool);
		if (s->tail == SLUICE_CHUNK_NONE)
			s->head = c;
		else
			pool->next[s->tail] = c;
		s->tail = c;
		s->chunks++;
	}
	/* First wins: fill the gaps between present ranges, compare the rest. */
	struct sluice_seq_range present[SLUICE_STORE_MAX_OOO + 1];
	uint32_t n = present_ranges(s, present), differ = 0, cur = seq;
	for (uint32_t i = 0; i < n && sluice_seq_lt(cur, end); i++) {
		uint32_t ps = sluice_seq_max(present[i].start, cur);
		uint32_t pe = sluice_seq_min(present[i].end, end);
		if (!sluice_seq_lt(ps, pe))
			continue;
		if (sluice_seq_lt(cur, ps))
			copy_in(s, pool, cur, data + (cur - seq), ps - cur);
		differ += count_conflicts(s, pool, ps, data + (ps - seq), pe - ps);
		cur = pe;
	}
	if (sluice_seq_lt(cur, end))
		copy_in(s, pool, cur, data + (cur - seq), end - cur);
	s->contig = after.contig;
	s->ooo_count = after.ooo_count;
	memcpy(s->ooo, after.ooo, sizeof(s->ooo));
	if (conflicts != NULL)
		*conflicts += differ;
	return SLUICE_STORE_OK;
}

void sluice_store_read(const struct sluice_stream_store *s, const struct sluice_chunk_pool *pool,
		       uint32_t seq, uint8_t *dst, uint32_t len)
{
	while (len > 0) {
		uint32_t run;
		const uint8_t *p = byte_at(s, pool, seq, len, &run);
		memcpy(dst, p, run);
		seq += run;
		dst += run;
		len -= run;
	}
}

void sluice_store_overwrite(struct sluice_stream_store *s, struct sluice_chunk_pool *pool,
			    uint32_t seq, const uint8_t *src, uint32_t len)
{
	copy_in(s, pool, seq, src, len);
	if (len == 0)
		return;
	if (s->dirty_start == s->dirty_end) {
		s->dirty_start = seq;
		s->dirty_end = seq + len;
		return;
	}
	if ((int32_t)(seq - s->dirty_start) < 0)
		s->dirty_start = seq;
	if ((int32_t)(seq + len - s->dirty_end) > 0)
		s->dirty_end = seq + len;
}

uint32_t sluice_store_peek(const struct sluice_stream_store *s,
			   const struct sluice_chunk_pool *pool, uint32_t seq, uint32_t len,
			   const uint8_t **p)
{
	uint32_t run = 0;
	*p = len > 0 ? byte_at(s, pool, seq, len, &run) : NULL;
	return run;
}

uint32_t sluice_store_normalise(const struct sluice_stream_store *s,
				const struct sluice_chunk_pool *pool, uint32_t seq,
				uint8_t *payload, uint32_t len, uint32_t *old_sum,
				uint32_t *new_sum)
{
	struct sluice_seq_range present[SLUICE_STORE_MAX_OOO + 1];
	uint32_t n = present_ranges(s, present), changed = 0, end = seq + len;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t cur = sluice_seq_max(present[i].start, seq);
		uint32_t pe = sluice_seq_min(present[i].end, end);
		while (sluice_seq_lt(cur, pe)) {
			uint32_t run;
			const uint8_t *from = byte_at(s, pool, cur, pe - cur, &run);
			uint32_t off = cur - seq;
			uint8_t *to = payload + off;
			if (memcmp(to, from, run) != 0) {
				for (uint32_t k = 0; k < run; k++)
					changed += to[k] != from[k];
				*old_sum = sluice_csum_add(*old_sum, to, run, off & 1);
				memcpy(to, from, run);
				*new_sum = sluice_csum_add(*new_sum, to, run, off & 1);
			}
			cur += run;
		}
	}
	return changed;
}

void sluice_store_ack(struct sluice_stream_store *s, struct sluice_chunk_pool *pool, uint32_t upto)
{
	upto = sluice_seq_min(upto, s->contig);
	while (s->chunks > 0 && sluice_seq_le(s->base + SLUICE_CHUNK_BYTES, upto)) {
		uint32_t c = s->head;
		s->head = pool->next[c];
		chunk_give(pool, c);
		s->chunks--;
		s->base += SLUICE_CHUNK_BYTES;
	}
	if (s->chunks == 0) {
		s->head = SLUICE_CHUNK_NONE;
		s->tail = SLUICE_CHUNK_NONE;
	}
}
