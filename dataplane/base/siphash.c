#include "siphash.h"

#include <ctype.h>

#include "hex.h"

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void sip_absorb(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t sluice_siphash24(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	struct sip_state s = {
	    .v0 = key[0] ^ 0x736f6d6570736575ull,
	    .v1 = key[1] ^ 0x646f72616e646f6dull,
	    .v2 = key[0] ^ 0x6c7967656e657261ull,
	    .v3 = key[1] ^ 0x7465646279746573ull,
	};
	size_t whole = len & ~(size_t)7;
	for (size_t i = 0; i < whole; i += 8)
		sip_absorb(&s, load_le64(p + i));
	/* The last word: the remaining bytes, and the length's low byte on top. */
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	for (size_t i = whole; i < len; i++)
		last |= (uint64_t)p[i] << (8 * (i - whole));
	sip_absorb(&s, last);
	s.v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

int sluice_siphash_key_parse(const char *hex, uint64_t key[2])
{
	while (isspace((unsigned char)*hex))
		hex++;
	uint8_t bytes[16];
	for (int i = 0; i < 16; i++) {
		int hi = sluice_hex_digit(hex[2 * i]),
		    lo = hi < 0 ? -1 : sluice_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	for (const char *rest = hex + 32; *rest != '\0'; rest++)
		if (!isspace((unsigned char)*rest))
			return -1;
	key[0] = load_le64(bytes);
	key[1] = load_le64(bytes + 8);
	return 0;
}
