/* Validating UTF-8 inside a caller's own pass over a text, 32 bytes at a time.
 *
 * The fold (patterns/scan/normalize.c) reads every text it folds in 32-byte
 * blocks anyway. Checking those same blocks costs a few instructions each,
 * where a pass of its own over every message (the packet path's gate) cost a
 * loop whose exit, mispredicted about once a message, was most of the gate's
 * 30 ns a message. Strict as sluice_utf8_valid() (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF, nothing cut short); tests and
 * the fuzz harness compare the two.
 *
 * How: bits 7..4 of every byte as four masks (one movemask each, after a
 * shift). A lead byte (11xxxxxx) needs one, two or three continuation bytes
 * (10xxxxxx) right after it, by its bits 5 and 4; the block is well formed
 * when the continuation bytes are exactly those its leads (and the last
 * block's) expect. The rare bytes (C0, C1 and F5..FF, never valid; E0, ED,
 * F0 and F4, whose second byte has a narrower range) are looked for with one
 * more mask, and checked exactly only in a block that has one.
 *
 * Contract: sluice_utf8_blocks_next() is given the text's blocks in order,
 * the first at the text's start and each where the last ended; left is how
 * many bytes of the text there are from the block's start (more than 0), and
 * bytes of the block past the text are ignored. It returns false as soon as
 * the text is known not to be valid UTF-8. The text is valid when every block
 * was accepted. Once a block is accepted, the continuation bytes every lead
 * in it needs lie inside the text (they may still prove invalid in the next
 * block), so a caller may read them; *leads gets the block's lead bytes, one
 * bit each. SSE2 only: every x86-64 CPU has it.
 *
 * The same check on one 256-bit vector, for CPUs with AVX2
 * (sluice_utf8_avx2_usable()): sluice_utf8_load_block256() and
 * sluice_utf8_blocks_next256(), same state and contract, called only from
 * functions built for AVX2 (SLUICE_TARGET_AVX2). A byte's lead and length
 * come from three signed comparisons rather than four bit planes, and every
 * mask from one movemask: about a third fewer instructions a block, which
 * the fold measured as a sixth of its time on a Zen 1 core. Such a function
 * must leave with the vectors' upper halves cleared, or the SSE code after
 * it pays: GCC adds the vzeroupper, but once made a call at the end of one
 * into a jump without it, which doubled the packet path's time;
 * tests/check-avx2-exits.py checks every way out in the built daemon.
 */
#ifndef SLUICE_WIRE_UTF8_BLOCKS_H
#define SLUICE_WIRE_UTF8_BLOCKS_H

#include <emmintrin.h>
#include <immintrin.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "over_read.h"

struct sluice_utf8_blocks {
	uint32_t expect; /* bits 0..2: continuation bytes the next block must start with */
	uint32_t narrow; /* the next block's byte 0 is the second byte of an E0, ED, F0 or
			    F4 sequence: bit 0 E0, 1 ED, 2 F0, 3 F4 */
	uint32_t high;	 /* any byte of 80..FF so far */
};

/* The 32 bytes at p, of which left (more than 0) are text: loaded in place,
 * or from a copy padded with NULs where fewer than 32 are left and the load
 * could cross into the next page (over_read.h). The caller ignores bytes past
 * the text. */
static inline void sluice_utf8_load_block(const uint8_t *p, uint32_t left, __m128i *lo, __m128i *hi)
{
	uint8_t tail[32];
	if (left < 32 && !sluice_over_read_ok(p, 32)) {
		memcpy(tail, p, left);
		memset(tail + left, 0, 32 - left);
		p = tail;
	}
	*lo = _mm_loadu_si128((const __m128i *)p);
	*hi = _mm_loadu_si128((const __m128i *)(p + 16));
}

static inline uint32_t sluice_utf8_mask32(__m128i lo, __m128i hi)
{
	return (uint32_t)_mm_movemask_epi8(lo) | (uint32_t)_mm_movemask_epi8(hi) << 16;
}

/* Bit 7 - shift of each byte, as a mask. */
static inline uint32_t sluice_utf8_bit_mask(__m128i lo, __m128i hi, int shift)
{
	return sluice_utf8_mask32(_mm_slli_epi16(lo, shift), _mm_slli_epi16(hi, shift));
}

static inline uint32_t sluice_utf8_eq_mask(__m128i lo, __m128i hi, uint8_t byte)
{
	__m128i v = _mm_set1_epi8((char)byte);
	return sluice_utf8_mask32(_mm_cmpeq_epi8(lo, v), _mm_cmpeq_epi8(hi, v));
}

/* Bytes that are never valid or narrow the next byte's range: C0, C1, E0,
 * ED and F0..FF, as a vector (0xff where one is). */
static inline __m128i sluice_utf8_rare(__m128i x)
{
	__m128i c0_c1 =
	    _mm_cmpeq_epi8(_mm_and_si128(x, _mm_set1_epi8((char)0xfe)), _mm_set1_epi8((char)0xc0));
	/* signed: F0..FF are -16..-1, and ASCII is positive (dropped by the
	 * caller's mask of high bytes) */
	__m128i f0_ff = _mm_cmpgt_epi8(x, _mm_set1_epi8((char)0xef));
	__m128i e0 = _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xe0));
	__m128i ed = _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xed));
	return _mm_or_si128(_mm_or_si128(c0_c1, f0_ff), _mm_or_si128(e0, ed));
}

/* The second bytes of a block's narrow leads (E0, ED, F0, F4: masks of where
 * they stand) and of the block before's last one (s->narrow), against their
 * ranges; b5 and b4 are the block's bit 5 and bit 4 masks. Notes the leads
 * whose second byte is in the next block. */
static inline bool sluice_utf8_narrow_ok(struct sluice_utf8_blocks *s, uint32_t text, uint32_t b5,
					 uint32_t b4, uint32_t at_e0, uint32_t at_ed,
					 uint32_t at_f0, uint32_t at_f4)
{
	/* Where each narrow lead's second byte is: the next position (the
	 * structure check made it a continuation byte), or byte 0 of the next
	 * block. */
	uint64_t e0 = (uint64_t)(at_e0 & text) << 1 | (s->narrow & 1);
	uint64_t ed = (uint64_t)(at_ed & text) << 1 | (s->narrow >> 1 & 1);
	uint64_t f0 = (uint64_t)(at_f0 & text) << 1 | (s->narrow >> 2 & 1);
	uint64_t f4 = (uint64_t)(at_f4 & text) << 1 | (s->narrow >> 3 & 1);
	uint32_t bad = ((uint32_t)e0 & ~b5) |	     /* E0 80..9F: overlong */
		       ((uint32_t)ed & b5) |	     /* ED A0..BF: surrogates */
		       ((uint32_t)f0 & ~(b5 | b4)) | /* F0 80..8F: overlong */
		       ((uint32_t)f4 & (b5 | b4));   /* F4 90..BF: past U+10FFFF */
	s->narrow = (uint32_t)(e0 >> 32 | (ed >> 32) << 1 | (f0 >> 32) << 2 | (f4 >> 32) << 3);
	return bad == 0;
}

/* The exact check of a block with a rare byte, or whose first byte is the
 * second byte of a narrow sequence; lead, b5 and b4 are its masks. */
static inline bool sluice_utf8_rare_ok(struct sluice_utf8_blocks *s, __m128i lo, __m128i hi,
				       uint32_t text, uint32_t lead, uint32_t b5, uint32_t b4)
{
	uint32_t never = (sluice_utf8_eq_mask(lo, hi, 0xc0) | sluice_utf8_eq_mask(lo, hi, 0xc1) |
			  sluice_utf8_mask32(_mm_cmpgt_epi8(lo, _mm_set1_epi8((char)0xf4)),
					     _mm_cmpgt_epi8(hi, _mm_set1_epi8((char)0xf4)))) &
			 lead & text;
	if (never != 0)
		return false;
	return sluice_utf8_narrow_ok(
	    s, text, b5, b4, sluice_utf8_eq_mask(lo, hi, 0xe0), sluice_utf8_eq_mask(lo, hi, 0xed),
	    sluice_utf8_eq_mask(lo, hi, 0xf0), sluice_utf8_eq_mask(lo, hi, 0xf4));
}

static inline bool sluice_utf8_blocks_next(struct sluice_utf8_blocks *s, __m128i lo, __m128i hi,
					   uint32_t left, uint32_t *leads)
{
	uint32_t text = left >= 32 ? UINT32_MAX : (1u << left) - 1;
	uint32_t b7 = sluice_utf8_mask32(lo, hi) & text;
	*leads = 0;
	if ((b7 | s->expect | s->narrow) == 0)
		return true; /* ASCII, nothing owed from the block before */
	s->high |= b7;
	uint32_t b6 = sluice_utf8_bit_mask(lo, hi, 1);
	uint32_t b5 = sluice_utf8_bit_mask(lo, hi, 2);
	uint32_t b4 = sluice_utf8_bit_mask(lo, hi, 3);
	uint32_t lead = b7 & b6, cont = b7 & ~b6;
	uint32_t three = lead & b5, four = three & b4;
	uint64_t expect =
	    (uint64_t)lead << 1 | (uint64_t)three << 2 | (uint64_t)four << 3 | s->expect;
	/* Continuation bytes exactly where leads put them, and none owed past
	 * the text's end. */
	if ((uint32_t)expect != cont || (left < 64 && (expect >> left) != 0))
		return false;
	s->expect = (uint32_t)(expect >> 32);
	uint32_t rare = sluice_utf8_mask32(sluice_utf8_rare(lo), sluice_utf8_rare(hi)) & b7;
	if ((rare | s->narrow) != 0 && !sluice_utf8_rare_ok(s, lo, hi, text, lead, b5, b4))
		return false;
	*leads = lead;
	return true;
}

/* ---- AVX2 ---- */

#define SLUICE_TARGET_AVX2 __attribute__((target("avx2")))

/* The 32 bytes at p as sluice_utf8_load_block() loads them. */
static inline SLUICE_TARGET_AVX2 __m256i sluice_utf8_load_block256(const uint8_t *p, uint32_t left)
{
	uint8_t tail[32];
	if (left < 32 && !sluice_over_read_ok(p, 32)) {
		memcpy(tail, p, left);
		memset(tail + left, 0, 32 - left);
		p = tail;
	}
	return _mm256_loadu_si256((const __m256i *)p);
}

static inline SLUICE_TARGET_AVX2 uint32_t sluice_utf8_mask256(__m256i v)
{
	return (uint32_t)_mm256_movemask_epi8(v);
}

static inline SLUICE_TARGET_AVX2 uint32_t sluice_utf8_eq_mask256(__m256i x, uint8_t byte)
{
	return sluice_utf8_mask256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)byte)));
}

/* sluice_utf8_rare_ok() on one vector. */
static inline SLUICE_TARGET_AVX2 bool
sluice_utf8_rare_ok256(struct sluice_utf8_blocks *s, __m256i x, uint32_t text, uint32_t lead)
{
	uint32_t b5 = sluice_utf8_mask256(_mm256_slli_epi16(x, 2));
	uint32_t b4 = sluice_utf8_mask256(_mm256_slli_epi16(x, 3));
	uint32_t never = (sluice_utf8_eq_mask256(x, 0xc0) | sluice_utf8_eq_mask256(x, 0xc1) |
			  sluice_utf8_mask256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8((char)0xf4)))) &
			 lead & text;
	if (never != 0)
		return false;
	return sluice_utf8_narrow_ok(
	    s, text, b5, b4, sluice_utf8_eq_mask256(x, 0xe0), sluice_utf8_eq_mask256(x, 0xed),
	    sluice_utf8_eq_mask256(x, 0xf0), sluice_utf8_eq_mask256(x, 0xf4));
}

static inline SLUICE_TARGET_AVX2 bool
sluice_utf8_blocks_next256(struct sluice_utf8_blocks *s, __m256i x, uint32_t left, uint32_t *leads)
{
	uint32_t text = left >= 32 ? UINT32_MAX : (1u << left) - 1;
	uint32_t b7 = sluice_utf8_mask256(x) & text;
	*leads = 0;
	if ((b7 | s->expect | s->narrow) == 0)
		return true;
	s->high |= b7;
	/* Signed: C0..FF, E0..FF and F0..FF are above BF, DF and EF; ASCII is
	 * too, and b7 drops it. */
	uint32_t lead =
	    sluice_utf8_mask256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8((char)0xbf))) & b7;
	uint32_t three =
	    sluice_utf8_mask256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8((char)0xdf))) & b7;
	uint32_t four =
	    sluice_utf8_mask256(_mm256_cmpgt_epi8(x, _mm256_set1_epi8((char)0xef))) & b7;
	uint32_t cont = b7 & ~lead;
	uint64_t expect =
	    (uint64_t)lead << 1 | (uint64_t)three << 2 | (uint64_t)four << 3 | s->expect;
	if ((uint32_t)expect != cont || (left < 64 && (expect >> left) != 0))
		return false;
	s->expect = (uint32_t)(expect >> 32);
	/* C0, C1, E0, ED and F0..FF (the last are four). */
	__m256i c0_c1 = _mm256_cmpeq_epi8(_mm256_and_si256(x, _mm256_set1_epi8((char)0xfe)),
					  _mm256_set1_epi8((char)0xc0));
	__m256i e0_ed = _mm256_or_si256(_mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)0xe0)),
					_mm256_cmpeq_epi8(x, _mm256_set1_epi8((char)0xed)));
	uint32_t rare = (sluice_utf8_mask256(_mm256_or_si256(c0_c1, e0_ed)) & b7) | four;
	if ((rare | s->narrow) != 0 && !sluice_utf8_rare_ok256(s, x, text, lead))
		return false;
	*leads = lead;
	return true;
}

#endif
