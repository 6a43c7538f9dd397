/* UTF-8 validation, repair and code-point boundaries.
 *
 * Validation is strict (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF, no truncated sequences. It is the gate in front of Hyperscan's
 * UTF-8 mode, whose behaviour on invalid input is undefined, so it must accept
 * nothing that is not UTF-8. On x86-64 CPUs with AVX2 (chosen at each call
 * from the CPU's feature bits) text is validated 32 bytes at a time
 * (utf8_avx2.c); elsewhere byte by byte, ASCII runs eight bytes at a time.
 * Both accept exactly the same texts (tests compare them).
 *
 * This is the project's one UTF-8 gate: the packet path, the rule language,
 * lint, sluice-pack and sluice-gen all use it. Its one sibling,
 * utf8_blocks.h, runs the same check inside a caller's own pass over a text
 * (the fold of a batch by reference), and accepts exactly the same texts.
 */
#ifndef SLUICE_WIRE_UTF8_H
#define SLUICE_WIRE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool sluice_utf8_valid(const uint8_t *s, size_t len);

/* The same, and *ascii: whether every byte is ASCII, learnt on the way (the
 * packet path's batch needs both, and reading the text twice cost a tenth of
 * the gate). *ascii is set only when the text is valid. */
bool sluice_utf8_valid_ascii(const uint8_t *s, size_t len, bool *ascii);

/* The two validators behind sluice_utf8_valid(), for tests and benches.
 * sluice_utf8_valid_avx2() may be called only when sluice_utf8_avx2_usable(). */
bool sluice_utf8_valid_scalar(const uint8_t *s, size_t len);
bool sluice_utf8_valid_avx2(const uint8_t *s, size_t len, bool *ascii);

/* Whether the CPU has AVX2: one bit the runtime set at start, read inline,
 * since the fold asks it for every message (sluice_fold_checked()). Never in
 * a build at an optimisation level where GCC would not clear the vectors'
 * upper halves on leaving the AVX2 code (meson.build, SLUICE_AVX2_OFF). */
#ifdef SLUICE_AVX2_OFF
/* A constant, so that even -O0 leaves no call to the AVX2 code. */
#define sluice_utf8_avx2_usable() false
#else
static inline bool sluice_utf8_avx2_usable(void)
{
	return __builtin_cpu_supports("avx2");
}
#endif

/* Whether s[0..len) is all ASCII, sixteen bytes at a time. */
bool sluice_ascii_only(const uint8_t *s, size_t len);

/* Byte offset of the first invalid sequence, or len when s is valid. */
size_t sluice_utf8_invalid_at(const uint8_t *s, size_t len);

/* Length (1-4) of the valid sequence at s[0..rem), or 0 if it is not one. */
size_t sluice_utf8_sequence_len(const uint8_t *s, size_t rem);

/* The largest code-point boundary <= limit in valid text s[0..len). */
size_t sluice_utf8_floor(const uint8_t *s, size_t len, size_t limit);

/* Writes scalar value cp (not a surrogate, at most U+10FFFF) as UTF-8 into
 * out[0..4); returns its length. */
uint32_t sluice_utf8_encode(uint32_t cp, uint8_t *out);

/* The code point of the valid sequence at s, and its length in *n. */
static inline uint32_t sluice_utf8_decode(const uint8_t *s, uint32_t *n)
{
	uint8_t c = s[0];
	if (c < 0x80) {
		*n = 1;
		return c;
	}
	if (c < 0xe0) {
		*n = 2;
		return (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
	}
	if (c < 0xf0) {
		*n = 3;
		return (uint32_t)(c & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
	}
	*n = 4;
	return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	       (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* Code points in valid text (lead bytes; continuation bytes are not counted). */
size_t sluice_utf8_chars(const uint8_t *s, size_t len);

/* Replaces every byte that is not part of a valid sequence with '?', so the
 * text keeps its length and becomes valid. Returns how many bytes it replaced. */
size_t sluice_utf8_repair(uint8_t *s, size_t len);

/* Widens [*from, *to) of valid UTF-8 text s[0..len) to whole code points. */
void sluice_utf8_widen(const uint8_t *s, size_t len, uint32_t *from, uint32_t *to);

#endif
