#include "utf8.h"

#include <emmintrin.h>
#include <string.h>

size_t sluice_utf8_sequence_len(const uint8_t *s, size_t rem)
{
	uint8_t b0 = s[0];
	if (b0 < 0x80)
		return 1;
	if (b0 < 0xC2 || b0 > 0xF4)
		return 0; /* continuation byte, overlong 2-byte lead, or beyond U+10FFFF */
	if (b0 < 0xE0) {
		if (rem < 2 || (s[1] & 0xC0) != 0x80)
			return 0;
		return 2;
	}
	if (b0 < 0xF0) {
		if (rem < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if (b0 == 0xE0 && s[1] < 0xA0)
			return 0; /* overlong */
		if (b0 == 0xED && s[1] > 0x9F)
			return 0; /* surrogate */
		return 3;
	}
	if (rem < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
		return 0;
	if (b0 == 0xF0 && s[1] < 0x90)
		return 0; /* overlong */
	if (b0 == 0xF4 && s[1] > 0x8F)
		return 0; /* beyond U+10FFFF */
	return 4;
}

static size_t invalid_at_scalar(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (i + 8 <= len) {
			uint64_t word;
			memcpy(&word, s + i, 8);
			if ((word & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		size_t n = sluice_utf8_sequence_len(s + i, len - i);
		if (n == 0)
			return i;
		i += n;
	}
	return len;
}

bool sluice_ascii_only(const uint8_t *s, size_t len)
{
	if (len < 16) {
		uint8_t any = 0;
		for (size_t i = 0; i < len; i++)
			any |= s[i];
		return any < 0x80;
	}
	/* the last sixteen bytes overlap the ones before: nothing past s is read */
	__m128i any = _mm_loadu_si128((const __m128i *)(s + len - 16));
	for (size_t i = 0; i + 16 <= len; i += 16)
		any = _mm_or_si128(any, _mm_loadu_si128((const __m128i *)(s + i)));
	return _mm_movemask_epi8(any) == 0;
}

bool sluice_utf8_valid_scalar(const uint8_t *s, size_t len)
{
	return invalid_at_scalar(s, len) == len;
}

/* The CPU's features are read at each call: a test of one bit that the
 * runtime set at start, cheaper than an indirect call and free of state. */
bool sluice_utf8_valid(const uint8_t *s, size_t len)
{
	bool ascii;
	return sluice_utf8_valid_ascii(s, len, &ascii);
}

bool sluice_utf8_valid_ascii(const uint8_t *s, size_t len, bool *ascii)
{
	if (sluice_utf8_avx2_usable())
		return sluice_utf8_valid_avx2(s, len, ascii);
	if (!sluice_utf8_valid_scalar(s, len))
		return false;
	*ascii = sluice_ascii_only(s, len);
	return true;
}

/* Valid text (nearly all of it) is settled by the fast validator; only
 * invalid text is walked to find where. */
size_t sluice_utf8_invalid_at(const uint8_t *s, size_t len)
{
	if (sluice_utf8_valid(s, len))
		return len;
	return invalid_at_scalar(s, len);
}

size_t sluice_utf8_repair(uint8_t *s, size_t len)
{
	size_t i = 0, replaced = 0;
	while (i < len) {
		size_t n = sluice_utf8_sequence_len(s + i, len - i);
		if (n == 0) {
			s[i++] = '?';
			replaced++;
		} else {
			i += n;
		}
	}
	return replaced;
}

void sluice_utf8_widen(const uint8_t *s, size_t len, uint32_t *from, uint32_t *to)
{
	while (*from > 0 && *from < len && (s[*from] & 0xC0) == 0x80)
		(*from)--;
	while (*to < len && (s[*to] & 0xC0) == 0x80)
		(*to)++;
}

size_t sluice_utf8_floor(const uint8_t *s, size_t len, size_t limit)
{
	if (limit >= len)
		return len;
	while (limit > 0 && (s[limit] & 0xC0) == 0x80)
		limit--;
	return limit;
}

size_t sluice_utf8_chars(const uint8_t *s, size_t len)
{
	size_t chars = 0;
	for (size_t i = 0; i < len; i++)
		chars += (s[i] & 0xC0) != 0x80;
	return chars;
}

uint32_t sluice_utf8_encode(uint32_t cp, uint8_t *out)
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xc0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xe0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (uint8_t)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (uint8_t)(0xf0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (uint8_t)(0x80 | (cp & 0x3f));
	return 4;
}
