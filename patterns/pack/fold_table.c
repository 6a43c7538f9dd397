#include "fold_table.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "utf8.h"

#define ENTRY_LIMIT 65535u

/* The longest run of three-byte lead bytes under which nothing folds. */
static void find_quiet3(struct sluice_fold_table *t)
{
	uint32_t best = 0, best_at = 0;
	for (uint32_t at = 0; at < 16;) {
		uint32_t run = 0;
		while (at + run < 16 && !(t->lead3_folds >> (at + run) & 1))
			run++;
		if (run > best) {
			best = run;
			best_at = at;
		}
		at += run + 1;
	}
	t->quiet3_lo = best ? (uint8_t)(0xe0 + best_at) : 0;
	t->quiet3_hi = best ? (uint8_t)(0xe0 + best_at + best - 1) : 0;
}

int sluice_fold_table_init(struct sluice_fold_table *t)
{
	memset(t, 0, sizeof(*t));
	/* Block 0 keeps all of its code points; entry 0 is "keep". */
	t->slot = calloc(256, sizeof(*t->slot));
	t->entry = calloc(1, sizeof(*t->entry));
	/* Never NULL, so that an entry's bytes are always an address, even in a
	 * table that only drops characters. */
	t->bytes = malloc(16);
	if (t->slot == NULL || t->entry == NULL || t->bytes == NULL) {
		sluice_fold_table_free(t);
		return -1;
	}
	t->blocks = 1;
	t->entries = 1;
	t->blocks_cap = 1;
	t->entries_cap = 1;
	t->bytes_cap = 16;
	find_quiet3(t);
	return 0;
}

void sluice_fold_table_free(struct sluice_fold_table *t)
{
	free(t->slot);
	free(t->entry);
	free(t->bytes);
	memset(t, 0, sizeof(*t));
}

static uint32_t utf8_bytes(uint32_t cp)
{
	return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Makes room for n more items of size bytes in *arr (capacity *cap, in
 * items), doubling, so that building a table is linear. */
static int reserve(void **arr, uint32_t *cap, uint32_t used, uint32_t n, size_t size)
{
	if ((uint64_t)used + n <= *cap)
		return 0;
	uint64_t want = *cap ? *cap : 64;
	while (want < (uint64_t)used + n)
		want *= 2;
	if (want > UINT32_MAX)
		return -1;
	void *p = realloc(*arr, (size_t)want * size);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = (uint32_t)want;
	return 0;
}

/* changes3's bit for cp, when it is a three-byte character. */
static void note_not_kept(struct sluice_fold_table *t, uint32_t cp)
{
	if (cp >= 0x800 && cp < 0x10000) {
		t->changes3[cp >> 6] |= 1ull << (cp & 63);
		if (!(t->lead3_folds >> (cp >> 12) & 1)) {
			t->lead3_folds |= (uint16_t)(1u << (cp >> 12));
			find_quiet3(t);
		}
	}
}

/* Gives cp's block a slot array of its own. */
static int own_block(struct sluice_fold_table *t, uint32_t cp)
{
	if (t->block[cp >> 8] != 0)
		return 0;
	if (t->blocks > UINT16_MAX)
		return -1;
	uint32_t slots_cap = t->blocks_cap * 256;
	if (reserve((void **)&t->slot, &slots_cap, t->blocks * 256, 256, sizeof(*t->slot)) != 0)
		return -1;
	t->blocks_cap = slots_cap / 256;
	memset(t->slot + (size_t)t->blocks * 256, 0, 256 * sizeof(*t->slot));
	t->block[cp >> 8] = (uint16_t)t->blocks++;
	return 0;
}

int sluice_fold_table_set(struct sluice_fold_table *t, uint32_t cp, const uint8_t *utf8,
			  uint32_t len)
{
	if (t->frozen || cp >= SLUICE_FOLD_CODE_POINTS || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	if (len > SLUICE_FOLD_MAX_BYTES || len > SLUICE_FOLD_MAX_GROWTH * utf8_bytes(cp))
		return 1;
	if (t->entries >= ENTRY_LIMIT || own_block(t, cp) != 0 ||
	    reserve((void **)&t->entry, &t->entries_cap, t->entries, 1, sizeof(*t->entry)) != 0 ||
	    reserve((void **)&t->bytes, &t->bytes_cap, t->nbytes, len, 1) != 0)
		return -1;
	struct sluice_fold_entry *e = t->entry;
	if (len > 0)
		memcpy(t->bytes + t->nbytes, utf8, len);
	uint16_t *slot = &t->slot[((uint32_t)t->block[cp >> 8] << 8) | (cp & 0xff)];
	if (*slot != 0) {
		if (e[*slot].len == 0)
			t->dropped--;
		else
			t->mapped--;
	}
	if (len == 0)
		t->dropped++;
	else
		t->mapped++;
	note_not_kept(t, cp);
	e[t->entries] = (struct sluice_fold_entry){.off = t->nbytes, .len = (uint8_t)len};
	t->nbytes += len;
	*slot = (uint16_t)t->entries++;
	return 0;
}

/* next's replacement of the character at p (n bytes) into out; its length. */
static uint32_t apply_one(const struct sluice_fold_table *next, const uint8_t *p, uint32_t n,
			  uint8_t *out)
{
	uint32_t len;
	uint32_t cp = sluice_utf8_decode(p, &len);
	uint32_t e = cp < 0x80 ? 0 : sluice_fold_entry_of(next, cp);
	if (e == 0) {
		memcpy(out, p, n);
		return n;
	}
	memcpy(out, next->bytes + next->entry[e].off, next->entry[e].len);
	return next->entry[e].len;
}

/* Passes t's replacement of cp (entry mine) through next. 1 when it changed,
 * 0 when not, -1 when out of memory. */
static int refold(struct sluice_fold_table *t, const struct sluice_fold_table *next, uint32_t cp,
		  uint32_t mine)
{
	const uint8_t *r = t->bytes + t->entry[mine].off;
	uint32_t rlen = t->entry[mine].len;
	uint8_t out[SLUICE_FOLD_MAX_BYTES * SLUICE_FOLD_MAX_BYTES];
	uint32_t olen = 0;
	for (uint32_t i = 0; i < rlen;) {
		uint32_t n;
		sluice_utf8_decode(r + i, &n);
		olen += apply_one(next, r + i, n, out + olen);
		i += n;
	}
	if (olen == rlen && memcmp(out, r, rlen) == 0)
		return 0;
	/* A result past the growth bound keeps the earlier mapping (set()
	 * returns 1): no change. */
	int rc = sluice_fold_table_set(t, cp, out, olen);
	return rc < 0 ? -1 : rc == 0;
}

int sluice_fold_table_compose(struct sluice_fold_table *t, const struct sluice_fold_table *next)
{
	for (uint32_t cp = 0x80; cp < SLUICE_FOLD_CODE_POINTS; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		uint32_t mine = sluice_fold_entry_of(t, cp);
		if (mine == 0) {
			uint32_t e = sluice_fold_entry_of(next, cp);
			if (e != 0 && sluice_fold_table_set(t, cp, next->bytes + next->entry[e].off,
							    next->entry[e].len) < 0)
				return -1;
			continue;
		}
		if (refold(t, next, cp, mine) < 0)
			return -1;
	}
	return 0;
}

int sluice_fold_table_settle(struct sluice_fold_table *t)
{
	for (int round = 0; round < 8; round++) {
		uint32_t changed = 0;
		for (uint32_t cp = 0x80; cp < SLUICE_FOLD_CODE_POINTS; cp++) {
			if (cp >= 0xd800 && cp <= 0xdfff)
				continue;
			uint32_t mine = sluice_fold_entry_of(t, cp);
			if (mine == 0)
				continue;
			int rc = refold(t, t, cp, mine);
			if (rc < 0)
				return -1;
			changed += (uint32_t)rc;
		}
		if (changed == 0)
			return 0;
	}
	return -1;
}

/* ---- the pack's encoding: little-endian, sizes first ----
 *
 *   u32 versions length, versions bytes
 *   u32 blocks B; u16 block[SLUICE_FOLD_BLOCKS]; u16 slot[B * 256]
 *   u32 entries E; E times: u32 off, u8 len
 *   u32 bytes N; N bytes
 */

static uint8_t *put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + n;
}

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

int sluice_fold_table_serialize(const struct sluice_fold_table *t, uint8_t **blob, size_t *len)
{
	size_t vlen = strlen(t->versions);
	size_t n = 4 + vlen + 4 + 2 * (size_t)SLUICE_FOLD_BLOCKS + 2 * (size_t)t->blocks * 256 + 4 +
		   5 * (size_t)t->entries + 4 + t->nbytes;
	uint8_t *b = malloc(n), *p = b;
	if (b == NULL)
		return -1;
	p = put(p, vlen, 4);
	memcpy(p, t->versions, vlen);
	p += vlen;
	p = put(p, t->blocks, 4);
	for (uint32_t i = 0; i < SLUICE_FOLD_BLOCKS; i++)
		p = put(p, t->block[i], 2);
	for (size_t i = 0; i < (size_t)t->blocks * 256; i++)
		p = put(p, t->slot[i], 2);
	p = put(p, t->entries, 4);
	for (uint32_t e = 0; e < t->entries; e++) {
		p = put(p, t->entry[e].off, 4);
		p = put(p, t->entry[e].len, 1);
	}
	p = put(p, t->nbytes, 4);
	if (t->nbytes > 0)
		memcpy(p, t->bytes, t->nbytes);
	*blob = b;
	*len = n;
	return 0;
}

struct reader {
	const uint8_t *p;
	size_t left;
};

static bool take(struct reader *r, size_t n, const uint8_t **at)
{
	if (n > r->left)
		return false;
	*at = r->p;
	r->p += n;
	r->left -= n;
	return true;
}

static bool take_u32(struct reader *r, uint32_t *v)
{
	const uint8_t *at;
	if (!take(r, 4, &at))
		return false;
	*v = (uint32_t)get(at, 4);
	return true;
}

static int refuse(struct sluice_fold_table *t, char *err, size_t err_len, const char *why)
{
	sluice_fold_table_free(t);
	sluice_set_err(err, err_len, "folding table: %s", why);
	return -1;
}

/* Every code point's replacement within the bound, ASCII kept; counts the
 * code points mapped and dropped. */
static const char *check_mappings(struct sluice_fold_table *t)
{
	/* Only the code points of blocks with a mapping at all: a few of the
	 * 4,352 ranges in any real table. */
	bool *used = calloc(t->blocks, sizeof(*used));
	if (used == NULL)
		return "out of memory";
	for (size_t i = 0; i < (size_t)t->blocks * 256; i++)
		used[i / 256] |= t->slot[i] != 0;
	const char *why = NULL;
	for (uint32_t cp = 0; cp < SLUICE_FOLD_CODE_POINTS && why == NULL; cp++) {
		if (!used[t->block[cp >> 8]]) {
			cp |= 0xff; /* the rest of this block keeps everything */
			continue;
		}
		uint32_t e = sluice_fold_entry_of(t, cp);
		if (e == 0)
			continue;
		if (cp < 0x80)
			why = "an ASCII character is folded";
		else if (t->entry[e].len > SLUICE_FOLD_MAX_GROWTH * utf8_bytes(cp))
			why = "a replacement past the growth bound";
		else if (t->entry[e].len == 0)
			t->dropped++;
		else
			t->mapped++;
	}
	free(used);
	return why;
}

#define FNV_BASIS 0xcbf29ce484222325ull

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t table_digest(const struct sluice_fold_table *t)
{
	uint64_t h = fnv1a(FNV_BASIS, t->block, sizeof(t->block));
	h = fnv1a(h, t->slot, (size_t)t->blocks * 256 * sizeof(*t->slot));
	for (uint32_t e = 0; e < t->entries; e++) {
		h = fnv1a(h, &t->entry[e].off, sizeof(t->entry[e].off));
		h = fnv1a(h, &t->entry[e].len, sizeof(t->entry[e].len));
	}
	return fnv1a(h, t->bytes, t->nbytes);
}

int sluice_fold_table_parse(struct sluice_fold_table *t, const uint8_t *blob, size_t len, char *err,
			    size_t err_len)
{
	struct reader r = {.p = blob, .left = len};
	const uint8_t *at;
	uint32_t vlen, blocks, entries, nbytes;
	memset(t, 0, sizeof(*t));
	if (!take_u32(&r, &vlen) || vlen >= sizeof(t->versions) || !take(&r, vlen, &at))
		return refuse(t, err, err_len, "versions field");
	memcpy(t->versions, at, vlen);
	t->versions[vlen] = '\0';
	if (memchr(t->versions, '\0', vlen) != NULL)
		return refuse(t, err, err_len, "versions field");
	if (!take_u32(&r, &blocks) || blocks == 0 || blocks > UINT16_MAX + 1u ||
	    !take(&r, 2 * (size_t)SLUICE_FOLD_BLOCKS, &at))
		return refuse(t, err, err_len, "block count");
	for (uint32_t i = 0; i < SLUICE_FOLD_BLOCKS; i++) {
		t->block[i] = (uint16_t)get(at + 2 * i, 2);
		if (t->block[i] >= blocks)
			return refuse(t, err, err_len, "a block index out of range");
	}
	t->blocks = blocks;
	t->slot = malloc((size_t)blocks * 256 * sizeof(*t->slot));
	if (t->slot == NULL || !take(&r, 2 * (size_t)blocks * 256, &at))
		return refuse(t, err, err_len,
			      t->slot ? "slots run past the end" : "out of memory");
	for (size_t i = 0; i < (size_t)blocks * 256; i++)
		t->slot[i] = (uint16_t)get(at + 2 * i, 2);
	if (!take_u32(&r, &entries) || entries == 0 || entries > UINT16_MAX + 1u ||
	    !take(&r, 5 * (size_t)entries, &at))
		return refuse(t, err, err_len, "entry count");
	t->entries = entries;
	t->entry = malloc((size_t)entries * sizeof(*t->entry));
	if (t->entry == NULL)
		return refuse(t, err, err_len, "out of memory");
	for (uint32_t e = 0; e < entries; e++) {
		t->entry[e].off = (uint32_t)get(at + 5 * e, 4);
		t->entry[e].len = (uint8_t)get(at + 5 * e + 4, 1);
	}
	for (size_t i = 0; i < (size_t)blocks * 256; i++)
		if (t->slot[i] >= entries)
			return refuse(t, err, err_len, "an entry index out of range");
	if (!take_u32(&r, &nbytes) || !take(&r, nbytes, &at) || r.left != 0)
		return refuse(t, err, err_len, "replacement bytes");
	t->nbytes = nbytes;
	t->bytes = malloc(nbytes ? nbytes : 1);
	if (t->bytes == NULL)
		return refuse(t, err, err_len, "out of memory");
	if (nbytes)
		memcpy(t->bytes, at, nbytes);
	t->blocks_cap = blocks;
	t->entries_cap = entries;
	t->bytes_cap = nbytes;
	t->frozen = true;
	if (t->entry[0].len != 0)
		return refuse(t, err, err_len, "entry 0 is not \"keep\"");
	for (uint32_t e = 1; e < entries; e++) {
		const struct sluice_fold_entry *x = &t->entry[e];
		if (x->len > SLUICE_FOLD_MAX_BYTES || (uint64_t)x->off + x->len > nbytes ||
		    !sluice_utf8_valid(t->bytes + x->off, x->len))
			return refuse(t, err, err_len,
				      "a replacement that is not valid UTF-8 in range");
	}
	const char *why = check_mappings(t);
	if (why != NULL)
		return refuse(t, err, err_len, why);
	find_quiet3(t);
	for (uint32_t cp = 0x800; cp < 0x10000; cp++)
		if (sluice_fold_entry_of(t, cp) != 0)
			note_not_kept(t, cp);
	t->digest = table_digest(t);
	return 0;
}

/* ---- compaction ---- */

static uint64_t hash_bytes(const void *p, size_t n)
{
	return fnv1a(FNV_BASIS, p, n);
}

/* An open-addressing set of indices into items of `size` bytes each (all
 * equal-size keys: a block's slots, or an entry's length and bytes). */
struct dedupe {
	uint32_t *slot; /* index + 1; 0 empty */
	uint32_t mask;
};

static int dedupe_init(struct dedupe *d, uint32_t items)
{
	uint32_t n = 16;
	while (n < 2 * items)
		n *= 2;
	d->slot = calloc(n, sizeof(*d->slot));
	d->mask = n - 1;
	return d->slot ? 0 : -1;
}

/* The index of an item equal to key (kept in `keys`), inserting `index`
 * when there is none. */
static uint32_t dedupe_find(struct dedupe *d, const uint8_t *keys, size_t size, const uint8_t *key,
			    uint32_t index)
{
	uint32_t i = (uint32_t)hash_bytes(key, size) & d->mask;
	while (d->slot[i] != 0) {
		uint32_t at = d->slot[i] - 1;
		if (memcmp(keys + (size_t)at * size, key, size) == 0)
			return at;
		i = (i + 1) & d->mask;
	}
	d->slot[i] = index + 1;
	return index;
}

int sluice_fold_table_compact(struct sluice_fold_table *t)
{
	/* Entries: a key of (length, bytes, zero padding) per entry in use. */
	enum { KEY = 1 + SLUICE_FOLD_MAX_BYTES };
	uint32_t *remap = calloc(t->entries, sizeof(*remap));
	uint8_t *keys = calloc((size_t)t->entries + 1, KEY);
	struct sluice_fold_entry *entry = calloc(t->entries, sizeof(*entry));
	uint8_t *bytes = malloc(t->nbytes + 1);
	struct dedupe d = {0}, db = {0};
	uint16_t *slot = malloc((size_t)t->blocks * 256 * sizeof(*slot));
	uint16_t *block_remap = malloc((size_t)t->blocks * sizeof(*block_remap));
	int rc = -1;
	if (!remap || !keys || !entry || !bytes || !slot || !block_remap ||
	    dedupe_init(&d, t->entries) != 0 || dedupe_init(&db, t->blocks) != 0)
		goto out;
	bool *used = (bool *)calloc(t->entries, sizeof(bool));
	if (used == NULL)
		goto out;
	for (size_t i = 0; i < (size_t)t->blocks * 256; i++)
		used[t->slot[i]] = true;
	uint32_t entries = 1, nbytes = 0; /* entry 0: keep */
	for (uint32_t e = 1; e < t->entries; e++) {
		if (!used[e])
			continue;
		uint8_t *key = keys + (size_t)entries * KEY;
		key[0] = t->entry[e].len;
		memcpy(key + 1, t->bytes + t->entry[e].off, t->entry[e].len);
		uint32_t at = dedupe_find(&d, keys, KEY, key, entries);
		if (at == entries) {
			entry[entries] = (struct sluice_fold_entry){.off = nbytes, .len = key[0]};
			memcpy(bytes + nbytes, key + 1, key[0]);
			nbytes += key[0];
			entries++;
		} else {
			memset(key, 0, KEY);
		}
		remap[e] = at;
	}
	free(used);
	/* Blocks: rewritten through the entry map, then shared when equal.
	 * Block 0 (all keep) comes first and stays 0. */
	uint32_t blocks = 0;
	for (uint32_t b = 0; b < t->blocks; b++) {
		uint16_t *mine = slot + (size_t)blocks * 256;
		for (int i = 0; i < 256; i++)
			mine[i] = (uint16_t)remap[t->slot[(size_t)b * 256 + i]];
		uint32_t at = dedupe_find(&db, (const uint8_t *)slot, 256 * sizeof(*slot),
					  (const uint8_t *)mine, blocks);
		if (at == blocks)
			blocks++;
		block_remap[b] = (uint16_t)at;
	}
	for (uint32_t i = 0; i < SLUICE_FOLD_BLOCKS; i++)
		t->block[i] = block_remap[t->block[i]];
	free(t->slot);
	free(t->entry);
	free(t->bytes);
	t->slot = slot;
	t->entry = entry;
	t->bytes = bytes;
	slot = NULL;
	entry = NULL;
	bytes = NULL;
	t->blocks = t->blocks_cap = blocks;
	t->entries = t->entries_cap = entries;
	t->nbytes = t->bytes_cap = nbytes;
	t->frozen = true;
	t->digest = table_digest(t);
	rc = 0;
out:
	free(remap);
	free(keys);
	free(entry);
	free(bytes);
	free(slot);
	free(block_remap);
	free(d.slot);
	free(db.slot);
	return rc;
}

struct sluice_fold_table *sluice_fold_table_union(const struct sluice_fold_table *a,
						  const struct sluice_fold_table *b)
{
	if (strcmp(a->versions, b->versions) != 0)
		return NULL;
	struct sluice_fold_table *u = calloc(1, sizeof(*u));
	if (u == NULL || sluice_fold_table_init(u) != 0) {
		free(u);
		return NULL;
	}
	for (uint32_t cp = 0x80; cp < SLUICE_FOLD_CODE_POINTS; cp++) {
		if (a->block[cp >> 8] == 0 && b->block[cp >> 8] == 0) {
			cp |= 0xff; /* blocks that keep all their code points */
			continue;
		}
		uint32_t ea = sluice_fold_entry_of(a, cp), eb = sluice_fold_entry_of(b, cp);
		if (ea == 0 && eb == 0)
			continue;
		const struct sluice_fold_table *from = ea != 0 ? a : b;
		const struct sluice_fold_entry *e = &from->entry[ea != 0 ? ea : eb];
		if (ea != 0 && eb != 0 &&
		    (e->len != b->entry[eb].len ||
		     memcmp(a->bytes + e->off, b->bytes + b->entry[eb].off, e->len) != 0))
			goto fail;
		if (sluice_fold_table_set(u, cp, from->bytes + e->off, e->len) < 0)
			goto fail;
	}
	memcpy(u->versions, a->versions, sizeof(u->versions));
	if (sluice_fold_table_compact(u) != 0)
		goto fail;
	u->covers[0] = a->digest;
	u->covers[1] = b->digest;
	return u;
fail:
	sluice_fold_table_free(u);
	free(u);
	return NULL;
}

size_t sluice_fold_table_memory(const struct sluice_fold_table *t)
{
	return sizeof(*t) + (size_t)t->blocks_cap * 256 * sizeof(*t->slot) +
	       (size_t)t->entries_cap * sizeof(*t->entry) + t->bytes_cap;
}
