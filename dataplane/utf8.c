#include "utf8.h"

#include <string.h>

/* Length of the valid sequence at s[0..rem), or 0 if it is not one. */
static size_t sequence_len(const uint8_t *s, size_t rem)
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

bool sluice_utf8_valid(const uint8_t *s, size_t len)
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
		size_t n = sequence_len(s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

size_t sluice_utf8_repair(uint8_t *s, size_t len)
{
	size_t i = 0, replaced = 0;
	while (i < len) {
		size_t n = sequence_len(s + i, len - i);
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
