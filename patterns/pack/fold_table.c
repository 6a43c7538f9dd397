#include "fold_table.h"

#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define ENTRY_LIMIT 65535u

int sluice_fold_table_init(struct sluice_fold_table *t)
{
	memset(t, 0, sizeof(*t));
	/* Block 0 keeps all of its code points; entry 0 is "keep". */
	t->slot = calloc(256, sizeof(*t->slot));
	t->entry = calloc(1, sizeof(*t->entry));
	if (t->slot == NULL || t->entry == NULL) {
		sluice_fold_table_free(t);
		return -1;
	}
	t->blocks = 1;
	t->entries = 1;
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

/* Gives cp's block a slot array of its own. */
static int own_block(struct sluice_fold_table *t, uint32_t cp)
{
	if (t->block[cp >> 8] != 0)
		return 0;
	if (t->blocks > UINT16_MAX)
		return -1;
	uint16_t *slot = realloc(t->slot, ((size_t)t->blocks + 1) * 256 * sizeof(*slot));
	if (slot == NULL)
		return -1;
	memset(slot + (size_t)t->blocks * 256, 0, 256 * sizeof(*slot));
	t->slot = slot;
	t->block[cp >> 8] = (uint16_t)t->blocks++;
	return 0;
}

int sluice_fold_table_set(struct sluice_fold_table *t, uint32_t cp, const uint8_t *utf8,
			  uint32_t len)
{
	if (cp >= SLUICE_FOLD_CODE_POINTS || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	if (len > SLUICE_FOLD_MAX_BYTES || len > SLUICE_FOLD_MAX_GROWTH * utf8_bytes(cp))
		return 1;
	if (t->entries >= ENTRY_LIMIT || own_block(t, cp) != 0)
		return -1;
	struct sluice_fold_entry *e = realloc(t->entry, ((size_t)t->entries + 1) * sizeof(*e));
	if (e == NULL)
		return -1;
	t->entry = e;
	uint8_t *b = t->bytes;
	if (len > 0) {
		b = realloc(t->bytes, (size_t)t->nbytes + len);
		if (b == NULL)
			return -1;
		memcpy(b + t->nbytes, utf8, len);
		t->bytes = b;
	}
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
			continue;
		if (sluice_fold_table_set(t, cp, out, olen) < 0)
			return -1;
	}
	return 0;
}
