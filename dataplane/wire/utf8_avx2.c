/* UTF-8 validation 32 bytes at a time with AVX2 (see utf8.h for the contract).
 *
 * The method is Keiser and Lemire's "lookup" validator ("Validating UTF-8 In
 * Less Than One Instruction Per Byte", 2021), written here from the paper:
 * every error of two consecutive bytes is one of a few kinds, and which kinds
 * a pair can be is a function of three nibbles (the first byte's high and low
 * nibbles, the second byte's high nibble). Three 16-entry tables, looked up
 * with one byte shuffle each and ANDed, give a bit per kind that the pair is;
 * a non-zero result is an error, except for the one "kind" that is legal in
 * the right place: a continuation byte after a continuation byte is the third
 * or fourth byte of a sequence exactly when the byte two (three) back is a
 * 3-byte (4-byte) lead. A block that ends inside a sequence is an error
 * unless the next block completes it, which the next block's pairs check.
 *
 * Only this file is built for AVX2; the dispatcher in utf8.c calls it when the
 * CPU has AVX2, and the scalar validator otherwise.
 */
#include "utf8.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "over_read.h"

#define AVX2 __attribute__((target("avx2")))

/* The kinds of error a pair of bytes (first, second) can be. */
enum {
	TOO_SHORT = 1 << 0,  /* a lead not followed by a continuation */
	TOO_LONG = 1 << 1,   /* ASCII followed by a continuation */
	OVERLONG_3 = 1 << 2, /* E0 followed by 80..9F */
	TOO_LARGE = 1 << 3,  /* F4 followed by 90..BF, or F5..FF */
	SURROGATE = 1 << 4,  /* ED followed by A0..BF */
	OVERLONG_2 = 1 << 5, /* C0 or C1 followed by a continuation */
	/* F0 followed by 80..8F (overlong), or F5..FF followed by 80..8F (too
	 * large): the first byte's low nibble tells them apart, so one bit
	 * serves both */
	OVERLONG_4 = 1 << 6,
	TOO_LARGE_1000 = 1 << 6,
	TWO_CONTS = 1 << 7, /* continuation after continuation: legal in place */
};
#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTS)

/* The kinds of error a pair can be, by the first byte's high nibble, its low
 * nibble, and the second byte's high nibble. */
static const uint8_t by_first_high[16] = {TOO_LONG,
					  TOO_LONG,
					  TOO_LONG,
					  TOO_LONG,
					  TOO_LONG,
					  TOO_LONG,
					  TOO_LONG,
					  TOO_LONG,
					  TWO_CONTS,
					  TWO_CONTS,
					  TWO_CONTS,
					  TWO_CONTS,
					  TOO_SHORT | OVERLONG_2,
					  TOO_SHORT,
					  TOO_SHORT | OVERLONG_3 | SURROGATE,
					  TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4};
static const uint8_t by_first_low[16] = {CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
					 CARRY | OVERLONG_2,
					 CARRY,
					 CARRY,
					 CARRY | TOO_LARGE,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
					 CARRY | TOO_LARGE | TOO_LARGE_1000,
					 CARRY | TOO_LARGE | TOO_LARGE_1000};
static const uint8_t by_second_high[16] = {
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT};

/* A 16-entry table in both 128-bit lanes: vpshufb looks up per lane. */
AVX2 static inline __m256i lanes(const uint8_t table[16])
{
	return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table));
}

AVX2 static inline __m256i high_nibbles(__m256i v)
{
	return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0f));
}

/* Errors of each pair (byte i - 1, byte i) of in, with prev the block before. */
AVX2 static inline __m256i block_errors(__m256i in, __m256i prev)
{
	/* prevK: the 32 bytes that end K bytes before in's last one */
	__m256i joined = _mm256_permute2x128_si256(prev, in, 0x21);
	__m256i prev1 = _mm256_alignr_epi8(in, joined, 16 - 1);
	__m256i prev2 = _mm256_alignr_epi8(in, joined, 16 - 2);
	__m256i prev3 = _mm256_alignr_epi8(in, joined, 16 - 3);

	__m256i kinds = _mm256_and_si256(
	    _mm256_and_si256(_mm256_shuffle_epi8(lanes(by_first_high), high_nibbles(prev1)),
			     _mm256_shuffle_epi8(lanes(by_first_low),
						 _mm256_and_si256(prev1, _mm256_set1_epi8(0x0f)))),
	    _mm256_shuffle_epi8(lanes(by_second_high), high_nibbles(in)));

	/* Bit 7 where byte i must be a continuation: 2 after a lead of 3 or 4
	 * bytes (E0..FF), or 3 after a lead of 4 (F0..FF). Saturating
	 * subtraction leaves bit 7 set exactly for those leads. */
	__m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xe0 - 0x80)));
	__m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xf0 - 0x80)));
	__m256i must_continue =
	    _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
	return _mm256_xor_si256(must_continue, kinds);
}

/* Non-zero where the block's last bytes begin a sequence it does not finish. */
AVX2 static inline __m256i unfinished(__m256i in)
{
	/* byte 31 below C0, byte 30 below E0, byte 29 below F0 */
	const __m256i limit = _mm256_setr_epi8(
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, (char)(0xf0 - 1), (char)(0xe0 - 1), (char)(0xc0 - 1));
	return _mm256_subs_epu8(in, limit);
}

/* s[0..n), 0 < n < 32, then NULs. Most messages are one short tail, so it is
 * loaded in place where it may be (over_read.h) and the rest masked off. */
AVX2 static inline __m256i load_tail(const uint8_t *s, size_t n)
{
	static const uint8_t keep[64] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	if (sluice_over_read_ok(s, 32)) {
		__m256i v = _mm256_loadu_si256((const __m256i *)s);
		__m256i m = _mm256_loadu_si256((const __m256i *)(keep + 32 - n));
		return _mm256_and_si256(v, m);
	}
	uint8_t tail[32] = {0};
	memcpy(tail, s, n);
	return _mm256_loadu_si256((const __m256i *)tail);
}

AVX2 bool sluice_utf8_valid_avx2(const uint8_t *s, size_t len, bool *ascii)
{
	__m256i prev = _mm256_setzero_si256();
	__m256i errors = _mm256_setzero_si256();
	__m256i open = _mm256_setzero_si256(); /* prev ended inside a sequence */
	int unicode = 0;
	size_t i = 0;

	for (; i + 32 <= len; i += 32) {
		__m256i in = _mm256_loadu_si256((const __m256i *)(s + i));
		int high = _mm256_movemask_epi8(in);
		unicode |= high;
		if (high == 0) {
			/* ASCII: right only if the block before was finished */
			errors = _mm256_or_si256(errors, open);
			open = _mm256_setzero_si256();
		} else {
			errors = _mm256_or_si256(errors, block_errors(in, prev));
			open = unfinished(in);
		}
		prev = in;
	}
	if (i < len) {
		/* The tail, padded with NULs: a sequence it leaves unfinished is
		 * followed by a NUL, which its pairs report. */
		__m256i in = load_tail(s + i, len - i);
		int high = _mm256_movemask_epi8(in);
		unicode |= high;
		if (high == 0)
			errors = _mm256_or_si256(errors, open);
		else
			errors = _mm256_or_si256(errors, block_errors(in, prev));
	} else {
		errors = _mm256_or_si256(errors, open);
	}
	if (!_mm256_testz_si256(errors, errors))
		return false;
	*ascii = unicode == 0;
	return true;
}
