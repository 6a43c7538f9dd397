#include "normalize.h"

#include <emmintrin.h>
#include <string.h>

#include "match.h"
#include "utf8.h"
#include "utf8_blocks.h"

int sluice_norm_space_init(struct sluice_norm_space *space, uint32_t cap,
			   const struct sluice_allocator *alloc)
{
	memset(space, 0, sizeof(*space));
	space->alloc = alloc;
	if (cap == 0)
		return -1;
	size_t bytes = (size_t)cap * SLUICE_FOLD_MAX_GROWTH;
	_Static_assert(SLUICE_SCAN_SLACK >= SLUICE_NORM_SLACK, "out's slack serves the fold too");
	space->out = sluice_zalloc(alloc, bytes + SLUICE_SCAN_SLACK);
	space->src = sluice_zalloc(alloc, (bytes + SLUICE_NORM_SLACK) * sizeof(*space->src));
	if (space->out == NULL || space->src == NULL) {
		sluice_norm_space_free(space);
		return -1;
	}
	space->cap = cap;
	return 0;
}

int sluice_norm_space_reserve(struct sluice_norm_space *space, size_t len,
			      const struct sluice_allocator *alloc)
{
	if (space->cap != 0 && len <= space->cap)
		return 0;
	if (len > UINT32_MAX / (SLUICE_FOLD_MAX_GROWTH * sizeof(uint32_t)))
		return -1;
	size_t cap = space->cap ? space->cap : 4096;
	while (cap < len)
		cap *= 2;
	sluice_norm_space_free(space);
	return sluice_norm_space_init(space, (uint32_t)cap, alloc);
}

void sluice_norm_space_free(struct sluice_norm_space *space)
{
	if (space->alloc != NULL) {
		sluice_free(space->alloc, space->out);
		sluice_free(space->alloc, space->src);
	}
	memset(space, 0, sizeof(*space));
}

/* Whether t folds the character at p, which is not ASCII. Chinese text is
 * three-byte characters: one read of the bitmap their bytes index. */
static inline bool folds_at(const struct sluice_fold_table *t, const uint8_t *p)
{
	if (__builtin_expect((uint8_t)(p[0] - 0xe0) < 0x10, 1))
		return sluice_fold_table_folds3(t, p);
	/* Past U+10FFFF only in text not yet fully checked (a lead's next
	 * block, sluice_fold_checked()): it is refused there anyway. */
	uint32_t n, cp = sluice_utf8_decode(p, &n);
	return cp <= 0x10ffff && sluice_fold_entry_of(t, cp) != 0;
}

/* The text is looked at 32 bytes at a time, and only at its lead bytes
 * (C0..FF): ASCII never folds, and a character's continuation bytes are
 * read where its lead is (valid UTF-8 keeps them inside the text, even when
 * they lie in the next block). A byte-by-byte walk mispredicted a branch at
 * every change between Latin and Chinese script (about seven a message) and
 * on characters' lengths; here the loop over a block's leads is the one
 * branch that is hard to predict. */
struct block {
	__m128i lo, hi;
	uint32_t bytes; /* of the text: 32, or fewer at its end */
};

/* in[i..len) from i, i < len (utf8_blocks.h). Bytes past the text are never
 * used. */
static inline struct block load_block(const uint8_t *in, uint32_t i, uint32_t len)
{
	struct block b = {.bytes = len - i < 32 ? len - i : 32};
	sluice_utf8_load_block(in + i, len - i, &b.lo, &b.hi);
	return b;
}

/* A bit per lead byte of the block's text. */
static inline uint32_t block_leads(const struct block *b)
{
	/* Leads: high bit set and, as a signed byte, above BF. */
	const __m128i continuation_max = _mm_set1_epi8((char)0xbf);
	uint32_t high = (uint32_t)_mm_movemask_epi8(b->lo) | (uint32_t)_mm_movemask_epi8(b->hi)
								 << 16;
	uint32_t above = (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(b->lo, continuation_max)) |
			 (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(b->hi, continuation_max)) << 16;
	uint32_t text = b->bytes == 32 ? UINT32_MAX : (1u << b->bytes) - 1;
	return high & above & text;
}

/* Of a block's leads, those whose character t may fold: not those in the
 * run of lead bytes under which t folds nothing (fold_table.h), which for a
 * table cut to what a pack's rules see is often every lead of Chinese text. */
static inline uint32_t loud_leads(const struct sluice_fold_table *t, const struct block *b,
				  uint32_t leads)
{
	if (leads == 0)
		return 0;
	/* Unsigned x - lo <= hi - lo, as max(x - lo, hi - lo) == hi - lo. */
	const __m128i from = _mm_set1_epi8((char)t->quiet3_lo);
	const __m128i span = _mm_set1_epi8((char)(t->quiet3_hi - t->quiet3_lo));
	__m128i lo = _mm_sub_epi8(b->lo, from), hi = _mm_sub_epi8(b->hi, from);
	uint32_t quiet = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(lo, span), span)) |
			 (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(hi, span), span))
			     << 16;
	return leads & ~quiet;
}

/* Offset from p of the first of these leads (a bit each) whose character t
 * folds, or none. */
static inline uint32_t first_folding_lead(const struct sluice_fold_table *t, const uint8_t *p,
					  uint32_t leads, uint32_t none)
{
	for (; leads != 0; leads &= leads - 1) {
		uint32_t k = (uint32_t)__builtin_ctz(leads);
		if (__builtin_expect(folds_at(t, p + k), 0))
			return k;
	}
	return none;
}

/* Offset in the block at in + i of the first character t folds, or the
 * block's length. */
static inline uint32_t block_first_folding(const struct sluice_fold_table *t, const uint8_t *in,
					   uint32_t i, const struct block *b)
{
	return first_folding_lead(t, in + i, loud_leads(t, b, block_leads(b)), b->bytes);
}

/* Copies a replacement (at most SLUICE_FOLD_MAX_BYTES) without a call. */
static inline void copy_replacement(uint8_t *to, const uint8_t *from, uint32_t n)
{
	_Static_assert(SLUICE_FOLD_MAX_BYTES <= 16, "two overlapping 8-byte copies");
	if (n >= 8) {
		memcpy(to, from, 8);
		memcpy(to + n - 8, from + n - 8, 8);
	} else if (n >= 4) {
		memcpy(to, from, 4);
		memcpy(to + n - 4, from + n - 4, 4);
	} else if (n > 0) {
		to[0] = from[0];
		to[n / 2] = from[n / 2];
		to[n - 1] = from[n - 1];
	}
}

/* The fold of in[0, len) from i, the first character t folds, on. */
static void fold_from(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		      uint32_t i, uint8_t *out, struct sluice_norm_view *view)
{
	uint32_t k;
	memcpy(out, in, i);
	/* Each block is stored whole before it is looked at (out has slack):
	 * up to its first folding character it is the output, and the rest is
	 * written over from there. */
	uint32_t o = i, folded = 0;
	for (;;) {
		/* The folding character at i, and the characters right after
		 * it while they fold: text that folds throughout (full-width
		 * letters, a traditional phrase) is folded character by
		 * character, not a block looked at again after each one. */
		for (;;) {
			uint32_t n, e = sluice_fold_entry_of(t, sluice_utf8_decode(in + i, &n));
			if (e == 0)
				break; /* kept: the blocks go on from it */
			copy_replacement(out + o, t->bytes + t->entry[e].off, t->entry[e].len);
			o += t->entry[e].len;
			i += n;
			folded++;
			if (i == len || in[i] < 0xc0)
				break;
		}
		do {
			if (i == len) {
				*view = (struct sluice_norm_view){
				    .text = out, .len = o, .folded = folded};
				return;
			}
			struct block b = load_block(in, i, len);
			_mm_storeu_si128((__m128i *)(out + o), b.lo);
			_mm_storeu_si128((__m128i *)(out + o + 16), b.hi);
			k = block_first_folding(t, in, i, &b);
			i += k;
			o += k;
		} while (k == 32 || i == len);
	}
}

void sluice_fold_unicode(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			 uint8_t *out, struct sluice_norm_view *view)
{
	/* Most messages have nothing to fold: they are read, never copied. */
	for (uint32_t i = 0; i < len;) {
		struct block b = load_block(in, i, len);
		uint32_t k = block_first_folding(t, in, i, &b);
		if (k < b.bytes) {
			fold_from(t, in, len, i + k, out, view);
			return;
		}
		i += b.bytes;
	}
	*view = (struct sluice_norm_view){.text = in, .len = len, .identity = true};
}

/* The view of a checked text once its first folding character is known. */
static void fold_checked_from(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			      uint32_t first, uint8_t *out, struct sluice_norm_view *view)
{
	if (first == len)
		*view = (struct sluice_norm_view){.text = in, .len = len, .identity = true};
	else
		fold_from(t, in, len, first, out, view);
}

bool sluice_fold_checked_sse2(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			      uint8_t *out, struct sluice_norm_view *view, bool *ascii)
{
	/* One pass checks every block and, until it finds one, looks for the
	 * first character to fold among the leads the check found; folding
	 * starts only once the whole text is known to be valid. */
	struct sluice_utf8_blocks check = {0};
	uint32_t first = len;
	for (uint32_t i = 0; i < len; i += 32) {
		struct block b = load_block(in, i, len);
		uint32_t leads;
		/* Stored as it is read (out has slack for whole blocks): a
		 * batch by reference needs the text copied anyway, and a
		 * memcpy of it afterwards read it a second time. */
		_mm_storeu_si128((__m128i *)(out + i), b.lo);
		_mm_storeu_si128((__m128i *)(out + i + 16), b.hi);
		if (!sluice_utf8_blocks_next(&check, b.lo, b.hi, len - i, &leads))
			return false;
		if (first == len)
			first =
			    i + first_folding_lead(t, in + i, loud_leads(t, &b, leads), len - i);
	}
	*ascii = check.high == 0;
	fold_checked_from(t, in, len, first, out, view);
	return true;
}

/* loud_leads() on one 256-bit vector. */
static inline SLUICE_TARGET_AVX2 uint32_t loud_leads256(const struct sluice_fold_table *t,
							__m256i x, uint32_t leads)
{
	if (leads == 0)
		return 0;
	const __m256i from = _mm256_set1_epi8((char)t->quiet3_lo);
	const __m256i span = _mm256_set1_epi8((char)(t->quiet3_hi - t->quiet3_lo));
	__m256i d = _mm256_sub_epi8(x, from);
	return leads & ~sluice_utf8_mask256(_mm256_cmpeq_epi8(_mm256_max_epu8(d, span), span));
}

/* sluice_fold_checked_sse2(), a block in one vector (utf8_blocks.h). */
SLUICE_TARGET_AVX2 bool sluice_fold_checked_avx2(const struct sluice_fold_table *t,
						 const uint8_t *in, uint32_t len, uint8_t *out,
						 struct sluice_norm_view *view, bool *ascii)
{
	struct sluice_utf8_blocks check = {0};
	uint32_t first = len;
	for (uint32_t i = 0; i < len; i += 32) {
		__m256i x = sluice_utf8_load_block256(in + i, len - i);
		uint32_t leads;
		_mm256_storeu_si256((__m256i *)(out + i), x);
		if (!sluice_utf8_blocks_next256(&check, x, len - i, &leads))
			return false;
		if (first == len)
			first =
			    i + first_folding_lead(t, in + i, loud_leads256(t, x, leads), len - i);
	}
	*ascii = check.high == 0;
	fold_checked_from(t, in, len, first, out, view);
	return true;
}

/* The CPU's features are read at each call, as sluice_utf8_valid() does: one
 * bit the runtime set at start. */
bool sluice_fold_checked(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			 uint8_t *out, struct sluice_norm_view *view, bool *ascii)
{
	if (sluice_utf8_avx2_usable())
		return sluice_fold_checked_avx2(t, in, len, out, view, ascii);
	return sluice_fold_checked_sse2(t, in, len, out, view, ascii);
}

void sluice_fold(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len, uint8_t *out,
		 struct sluice_norm_view *view)
{
	if (sluice_ascii_only(in, len)) {
		*view = (struct sluice_norm_view){.text = in, .len = len, .identity = true};
		return;
	}
	sluice_fold_unicode(t, in, len, out, view);
}

void sluice_fold_map(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		     uint32_t *src)
{
	uint32_t o = 0;
	for (uint32_t i = 0; i < len;) {
		uint32_t n = 1, take = 1;
		if (in[i] >= 0x80) {
			uint32_t e = sluice_fold_entry_of(t, sluice_utf8_decode(in + i, &n));
			take = e == 0 ? n : t->entry[e].len;
		}
		for (uint32_t k = 0; k < take; k++)
			src[o + k] = i;
		o += take;
		i += n;
	}
}

void sluice_normalize(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		      uint8_t *out, uint32_t *src, struct sluice_norm_view *view)
{
	sluice_fold(t, in, len, out, view);
	if (!view->identity)
		sluice_fold_map(t, in, len, src);
}

void sluice_norm_span(const struct sluice_norm_view *view, const uint32_t *src, const uint8_t *in,
		      uint32_t *from, uint32_t *to)
{
	if (!view->identity)
		sluice_norm_map(src, in, from, to);
}
