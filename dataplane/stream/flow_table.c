#include "flow_table.h"

#include <stddef.h>
#include <string.h>

#define BUCKET_SLOTS 8

struct sluice_flow_bucket {
	uint32_t sig[BUCKET_SLOTS]; /* 0: empty */
	uint32_t idx[BUCKET_SLOTS];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct sluice_flow_bucket) == 64, "a bucket is one cache line");
_Static_assert(sizeof(struct sluice_flow_key) == 40, "keys hash as five words");
_Static_assert(offsetof(struct sluice_flow_key, port) == 32 &&
		   offsetof(struct sluice_flow_key, ipv6) == 36,
	       "the last word: both ports, then the family");

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
	return __builtin_bswap64(x);
}

static inline uint32_t load_be32(const uint8_t *p)
{
	uint32_t x;
	memcpy(&x, p, 4);
	return __builtin_bswap32(x);
}

/* Which endpoint sorts first, by address (as big-endian numbers, which is
 * memcmp's order), then port. */
static inline bool src_sorts_first(const uint8_t *src, const uint8_t *dst, uint16_t sport,
				   uint16_t dport, bool ipv6)
{
	if (ipv6) {
		uint64_t s0 = load_be64(src), d0 = load_be64(dst);
		if (s0 != d0)
			return s0 < d0;
		uint64_t s1 = load_be64(src + 8), d1 = load_be64(dst + 8);
		if (s1 != d1)
			return s1 < d1;
	} else {
		uint32_t s0 = load_be32(src), d0 = load_be32(dst);
		if (s0 != d0)
			return s0 < d0;
	}
	return sport <= dport;
}

/* An IPv4 address as the first word of its 16 bytes: its 4 bytes in memory
 * order, then zeros. */
static inline uint64_t v4_word(const uint8_t *addr)
{
	uint32_t x;
	memcpy(&x, addr, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return x;
#else
	return (uint64_t)x << 32;
#endif
}

static inline void put_word(struct sluice_flow_key *key, int i, uint64_t x)
{
	memcpy((uint8_t *)key + 8 * i, &x, 8);
}

void sluice_flow_key_make(struct sluice_flow_key *key, const uint8_t *src, const uint8_t *dst,
			  uint16_t sport, uint16_t dport, bool ipv6, uint8_t *from_side)
{
	bool src_first = src_sorts_first(src, dst, sport, dport, ipv6);
	const uint8_t *first = src_first ? src : dst, *second = src_first ? dst : src;
	/* Stored a whole 8-byte word at a time, each made in a register: the
	 * hash and the lookup read the key back in such words, and a load that
	 * spans several narrower stores waits for them to reach the cache. */
	if (ipv6) {
		uint64_t x;
		for (int i = 0; i < 2; i++) {
			memcpy(&x, first + 8 * i, 8);
			put_word(key, i, x);
			memcpy(&x, second + 8 * i, 8);
			put_word(key, 2 + i, x);
		}
	} else {
		put_word(key, 0, v4_word(first));
		put_word(key, 1, 0);
		put_word(key, 2, v4_word(second));
		put_word(key, 3, 0);
	}
	uint16_t port0 = src_first ? sport : dport, port1 = src_first ? dport : sport;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	put_word(key, 4, (uint64_t)port0 | (uint64_t)port1 << 16 | (uint64_t)ipv6 << 32);
#else
	put_word(key, 4, (uint64_t)port0 << 48 | (uint64_t)port1 << 32 | (uint64_t)ipv6 << 24);
#endif
	*from_side = src_first ? 0 : 1;
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

/* The key's five 8-byte words, each loaded on its own (see key_make). */
static inline uint64_t key_word(const struct sluice_flow_key *key, int i)
{
	uint64_t x;
	memcpy(&x, (const uint8_t *)key + 8 * i, 8);
	return x;
}

uint64_t sluice_flow_hash(const struct sluice_flow_key *key)
{
	uint64_t w[5] = {key_word(key, 0), key_word(key, 1), key_word(key, 2), key_word(key, 3),
			 key_word(key, 4)};
#if defined(__SSE4_2__)
	/* Two CRC32-C lanes (one instruction per word, the lanes in
	 * parallel), then one mix so that every bit of the 64 depends on
	 * every word: the bucket takes the low bits, the signature the high. */
	uint64_t a = 0x9e3779b9u, b = 0x85ebca6bu;
	a = __builtin_ia32_crc32di(a, w[0]);
	b = __builtin_ia32_crc32di(b, w[1]);
	a = __builtin_ia32_crc32di(a, w[2]);
	b = __builtin_ia32_crc32di(b, w[3]);
	a = __builtin_ia32_crc32di(a, w[4]);
	return mix(a << 32 | b);
#else
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 5; i++)
		h = mix(h ^ w[i]) + 0x9e3779b97f4a7c15ull;
	return h;
#endif
}

static bool key_equal(const struct sluice_flow_key *a, const struct sluice_flow_key *b)
{
	uint64_t x[5], y[5];
	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4])) == 0;
}

static uint32_t signature(uint64_t hash)
{
	return (uint32_t)(hash >> 32) | 1u;
}

int sluice_flow_table_init(struct sluice_flow_table *t, uint32_t capacity,
			   const uint64_t timeouts[SLUICE_FLOW_CLASSES],
			   const struct sluice_allocator *alloc)
{
	memset(t, 0, sizeof(*t));
	t->alloc = alloc;
	if (capacity == 0 || capacity > (1u << 28))
		return -1;
	uint32_t buckets = 1;
	while ((uint64_t)buckets * BUCKET_SLOTS < 2ull * capacity)
		buckets <<= 1;
	/* The spill buckets past the last wrap round to the first. */
	t->buckets = sluice_zalloc(alloc, (size_t)buckets * sizeof(*t->buckets));
	t->spilled = sluice_zalloc(alloc, (size_t)buckets * sizeof(*t->spilled));
	t->keys = sluice_zalloc(alloc, (size_t)capacity * sizeof(*t->keys));
	t->meta = sluice_zalloc(alloc, (size_t)capacity * sizeof(*t->meta));
	if (!t->buckets || !t->spilled || !t->keys || !t->meta) {
		sluice_flow_table_fini(t);
		return -1;
	}
	t->bucket_mask = buckets - 1;
	t->capacity = capacity;
	for (uint32_t i = 0; i < capacity; i++)
		t->meta[i].next = i + 1 < capacity ? i + 1 : SLUICE_FLOW_NONE;
	t->free_head = 0;
	for (int c = 0; c < SLUICE_FLOW_CLASSES; c++) {
		t->head[c] = t->tail[c] = SLUICE_FLOW_NONE;
		t->timeout[c] = timeouts[c];
	}
	return 0;
}

void sluice_flow_table_fini(struct sluice_flow_table *t)
{
	if (t->alloc != NULL) {
		sluice_free(t->alloc, t->buckets);
		sluice_free(t->alloc, t->spilled);
		sluice_free(t->alloc, t->keys);
		sluice_free(t->alloc, t->meta);
	}
	memset(t, 0, sizeof(*t));
}

size_t sluice_flow_table_bytes_per_flow(void)
{
	/* Two slots (8 bytes each) and a quarter of a spill counter per flow. */
	return sizeof(struct sluice_flow_key) + sizeof(struct sluice_flow_meta) + 16 + 1;
}

uint32_t sluice_flow_lookup(const struct sluice_flow_table *t, const struct sluice_flow_key *key,
			    uint64_t hash)
{
	uint32_t sig = signature(hash);
	uint32_t b = (uint32_t)hash & t->bucket_mask;
	for (int k = 0; k <= SLUICE_FLOW_SPILL; k++) {
		const struct sluice_flow_bucket *bk = &t->buckets[b];
		for (int s = 0; s < BUCKET_SLOTS; s++)
			if (bk->sig[s] == sig && key_equal(&t->keys[bk->idx[s]], key))
				return bk->idx[s];
		if (t->spilled[b] == 0)
			break;
		b = (b + 1) & t->bucket_mask;
	}
	return SLUICE_FLOW_NONE;
}

static void list_unlink(struct sluice_flow_table *t, uint32_t idx)
{
	struct sluice_flow_meta *m = &t->meta[idx];
	if (m->prev != SLUICE_FLOW_NONE)
		t->meta[m->prev].next = m->next;
	else
		t->head[m->cls] = m->next;
	if (m->next != SLUICE_FLOW_NONE)
		t->meta[m->next].prev = m->prev;
	else
		t->tail[m->cls] = m->prev;
}

static void list_append(struct sluice_flow_table *t, uint32_t idx, enum sluice_flow_class cls)
{
	struct sluice_flow_meta *m = &t->meta[idx];
	m->cls = (uint8_t)cls;
	m->next = SLUICE_FLOW_NONE;
	m->prev = t->tail[cls];
	if (m->prev != SLUICE_FLOW_NONE)
		t->meta[m->prev].next = idx;
	else
		t->head[cls] = idx;
	t->tail[cls] = idx;
}

uint32_t sluice_flow_insert(struct sluice_flow_table *t, const struct sluice_flow_key *key,
			    uint64_t hash, enum sluice_flow_class cls, uint64_t now)
{
	if (t->free_head == SLUICE_FLOW_NONE)
		return SLUICE_FLOW_NONE;
	uint32_t home = (uint32_t)hash & t->bucket_mask;
	uint32_t b = home;
	for (int k = 0; k <= SLUICE_FLOW_SPILL; k++) {
		struct sluice_flow_bucket *bk = &t->buckets[b];
		for (int s = 0; s < BUCKET_SLOTS; s++) {
			if (bk->sig[s] != 0)
				continue;
			uint32_t idx = t->free_head;
			t->free_head = t->meta[idx].next;
			bk->sig[s] = signature(hash);
			bk->idx[s] = idx;
			for (uint32_t p = home, j = 0; j < (uint32_t)k;
			     j++, p = (p + 1) & t->bucket_mask)
				t->spilled[p]++;
			t->keys[idx] = *key;
			t->meta[idx] =
			    (struct sluice_flow_meta){.last_seen = now, .home = home, .used = true};
			list_append(t, idx, cls);
			t->used++;
			return idx;
		}
		b = (b + 1) & t->bucket_mask;
	}
	return SLUICE_FLOW_NONE;
}

void sluice_flow_touch(struct sluice_flow_table *t, uint32_t idx, enum sluice_flow_class cls,
		       uint64_t now)
{
	t->meta[idx].last_seen = now;
	if (t->tail[cls] == idx)
		return;
	list_unlink(t, idx);
	list_append(t, idx, cls);
}

void sluice_flow_remove(struct sluice_flow_table *t, uint32_t idx)
{
	struct sluice_flow_meta *m = &t->meta[idx];
	if (!m->used)
		return;
	uint32_t b = m->home;
	for (int k = 0; k <= SLUICE_FLOW_SPILL; k++) {
		struct sluice_flow_bucket *bk = &t->buckets[b];
		for (int s = 0; s < BUCKET_SLOTS; s++) {
			if (bk->sig[s] == 0 || bk->idx[s] != idx)
				continue;
			bk->sig[s] = 0;
			for (uint32_t p = m->home, j = 0; j < (uint32_t)k;
			     j++, p = (p + 1) & t->bucket_mask)
				t->spilled[p]--;
			k = SLUICE_FLOW_SPILL;
			break;
		}
		b = (b + 1) & t->bucket_mask;
	}
	list_unlink(t, idx);
	m->used = false;
	m->next = t->free_head;
	t->free_head = idx;
	t->used--;
}

uint32_t sluice_flow_expired(const struct sluice_flow_table *t, uint64_t now, uint32_t *out,
			     uint32_t max)
{
	uint32_t n = 0;
	for (int c = 0; c < SLUICE_FLOW_CLASSES; c++)
		for (uint32_t i = t->head[c]; i != SLUICE_FLOW_NONE && n < max;
		     i = t->meta[i].next) {
			if (now - t->meta[i].last_seen <= t->timeout[c])
				break;
			out[n++] = i;
		}
	return n;
}
