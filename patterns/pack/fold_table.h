/* The folding table: what each Unicode code point becomes before a message is
 * scanned (issue 11, docs/normalization.md). Built at pack-compile time from
 * Unicode's data (patterns/language/fold_data.c), applied by the worker
 * (patterns/scan/normalize.c), and stored in the pack with the versions of
 * the data it came from.
 *
 * A code point either stays as it is, is dropped (an invisible format
 * character), or is replaced by a short UTF-8 string. The replacement is at
 * most SLUICE_FOLD_MAX_GROWTH times the bytes of the code point it replaces,
 * so a normalised message is never more than that many times its length.
 *
 * Lookup is two array reads (a 256-code-point block, then the entry), with no
 * branch on the kind of character. The arrays are plain, position-independent
 * data: indices, not pointers. Whether a three-byte character folds at all is
 * also one bit of a bitmap derived from them (changes3), which the fold asks
 * first: nearly every character of Chinese text is kept.
 *
 * Contract: the builder allocates; lookups never do. A table is immutable
 * once built and may be shared by any number of threads.
 */
#ifndef SLUICE_PACK_FOLD_TABLE_H
#define SLUICE_PACK_FOLD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLUICE_FOLD_CODE_POINTS 0x110000u
#define SLUICE_FOLD_BLOCKS	(SLUICE_FOLD_CODE_POINTS >> 8)
#define SLUICE_FOLD_MAX_GROWTH	3u  /* output bytes per input byte, at most */
#define SLUICE_FOLD_MAX_BYTES	12u /* bytes of one replacement */

/* Entry 0 is "keep"; every other entry replaces its code point by
 * bytes[off, off + len) of the pool, or drops it when len is 0. */
struct sluice_fold_entry {
	uint32_t off;
	uint8_t len;
};

struct sluice_fold_table {
	uint16_t block[SLUICE_FOLD_BLOCKS]; /* code point >> 8 -> block (0: all keep) */
	uint16_t *slot;			    /* blocks * 256 -> entry */
	struct sluice_fold_entry *entry;
	uint8_t *bytes; /* the replacements, UTF-8 (never NULL in a live table) */
	uint32_t blocks, entries, nbytes;
	uint32_t blocks_cap, entries_cap, bytes_cap; /* allocated, while building */
	bool frozen;		  /* compacted or parsed: blocks may be shared, no more sets */
	uint32_t mapped, dropped; /* code points */
	/* Of the mapping as laid out, set when frozen: two frozen tables with
	 * the same digest fold alike (batch scanning shares their work). */
	uint64_t digest;
	char versions[128]; /* the data it was built from, for the pack */
	/* Derived, never stored: bit cp & 63 of changes3[cp >> 6] is set when
	 * a code point of three UTF-8 bytes (U+0800..U+FFFF, nearly every
	 * character of Chinese text) is not kept. The fold asks this 8 KiB
	 * bitmap, indexed by the character's own bytes, instead of decoding it
	 * and reading the block and slot arrays (sluice_fold_table_folds3()).
	 * Kept up to date by every function here that changes a mapping. */
	uint64_t changes3[0x10000 >> 6];
	/* Derived as well: bit L of lead3_folds when some character whose
	 * lead byte is E0 + L is not kept, and the longest run of lead bytes
	 * under which none is, [quiet3_lo, quiet3_hi] (both 0 when there is
	 * none). Where a table folds no Chinese character (a pack's table cut
	 * to what its rules see, fold_scope.h), a block of Chinese text has
	 * only leads in that run, and the fold passes it without asking
	 * changes3 character by character. */
	uint16_t lead3_folds;
	uint8_t quiet3_lo, quiet3_hi;
	/* A union's (sluice_fold_table_union()): the digests of the two
	 * tables it was made from, whose packs may scan what it folds. */
	uint64_t covers[2];
};

/* An empty table: every code point stays (entry 0, block 0). 0 or -1. */
int sluice_fold_table_init(struct sluice_fold_table *t);
void sluice_fold_table_free(struct sluice_fold_table *t);

/* Replaces cp by utf8[0..len) (len 0: drops it). Returns 0; 1 when the
 * replacement is too long to keep the growth bound (cp then stays as it
 * is); -1 on a bad code point, out of memory or a frozen table. A later
 * mapping of the same code point replaces the earlier one. */
int sluice_fold_table_set(struct sluice_fold_table *t, uint32_t cp, const uint8_t *utf8,
			  uint32_t len);

/* t becomes "t, then next": every replacement t makes is passed through
 * next character by character, and code points t keeps take next's mapping.
 * A result past the growth bound keeps t's mapping. 0, or -1 when out of
 * memory. */
int sluice_fold_table_compose(struct sluice_fold_table *t, const struct sluice_fold_table *next);

/* Makes folding idempotent: every replacement is passed through the table
 * again until nothing changes, so text already folded (a rule written in the
 * folded form) stays as it is. 0, or -1 when out of memory or it does not
 * settle within a few rounds. */
int sluice_fold_table_settle(struct sluice_fold_table *t);

/* Shrinks a finished table: equal replacements share one entry, entries no
 * code point uses go, and blocks with equal slots share one array. Every
 * code point keeps its mapping. The table is frozen afterwards. 0, or -1
 * when out of memory (the table is then unchanged). */
int sluice_fold_table_compact(struct sluice_fold_table *t);

/* One table for two packs whose tables were cut from the same data
 * (patterns/language/fold_scope.h), so that a batch is folded once for both:
 * every code point maps as it does in either. Each pack's table holds every
 * mapping its rules can see, and a mapping only the other holds changes none
 * of its matches. NULL when out of memory, or when the tables come from
 * other data (versions) or map a code point differently. */
struct sluice_fold_table *sluice_fold_table_union(const struct sluice_fold_table *a,
						  const struct sluice_fold_table *b);

/* Whether a pack whose table is t may scan text that by folded: the same
 * mapping, or a union made from t. */
static inline bool sluice_fold_table_serves(const struct sluice_fold_table *by,
					    const struct sluice_fold_table *t)
{
	return by == t || by->digest == t->digest ||
	       (by->covers[0] != 0 && (by->covers[0] == t->digest || by->covers[1] == t->digest));
}

/* The table as bytes, for the pack file (docs/pack-format.md): *blob is
 * malloc'd. 0, or -1 when out of memory. */
int sluice_fold_table_serialize(const struct sluice_fold_table *t, uint8_t **blob, size_t *len);

/* A table from sluice_fold_table_serialize()'s bytes, checked so that the
 * normaliser can trust it: every index in range, every replacement valid
 * UTF-8 within the growth bound, ASCII kept. 0, or -1 with err set (t is
 * then empty). */
int sluice_fold_table_parse(struct sluice_fold_table *t, const uint8_t *blob, size_t len, char *err,
			    size_t err_len);

/* Bytes t holds: the structure and its arrays as allocated. */
size_t sluice_fold_table_memory(const struct sluice_fold_table *t);

/* Whether t folds the character of three bytes at p (lead E0..EF, valid). */
static inline bool sluice_fold_table_folds3(const struct sluice_fold_table *t, const uint8_t *p)
{
	uint32_t group = (uint32_t)(p[0] & 0x0f) << 6 | (p[1] & 0x3f);
	return (t->changes3[group] >> (p[2] & 0x3f)) & 1;
}

/* The entry of cp (0: keep). */
static inline uint32_t sluice_fold_entry_of(const struct sluice_fold_table *t, uint32_t cp)
{
	return t->slot[((uint32_t)t->block[cp >> 8] << 8) | (cp & 0xff)];
}

#endif
