/* What a message looks like to the packs: folded by the pack's table in one
 * pass, and a map from every byte of the normalised text back to the
 * character of the message it came from (docs/normalization.md), made only
 * when a match needs it.
 *
 * ASCII is never folded (rules match it caseless), so an ASCII-only message
 * is its own normalised text: the fast path copies nothing and maps nothing;
 * a message with nothing to fold is read, not copied. Otherwise each
 * character is kept, dropped or replaced as the table says, and src[j] is the
 * offset in the message of the character that produced normalised byte j.
 * A span of the normalised text maps back to whole characters of the
 * message: from the first contributing character to the end of the last,
 * taking in whatever was dropped between them, so a mask over it keeps the
 * message valid UTF-8.
 *
 * Contract: no allocation, no system calls. in must be valid UTF-8 (the UTF-8
 * gate runs first), except for sluice_fold_checked(), which proves it in its
 * own pass; bytes past its end may be loaded, within the page
 * (over_read.h), and are never used. out and src hold
 * len * SLUICE_FOLD_MAX_GROWTH entries and SLUICE_NORM_SLACK more: the text
 * is copied in whole blocks of 32 bytes.
 */
#ifndef SLUICE_SCAN_NORMALIZE_H
#define SLUICE_SCAN_NORMALIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "allocator.h"
#include "fold_table.h"

#define SLUICE_NORM_SLACK 32

struct sluice_norm_view {
	const uint8_t *text; /* the normalised text: out, or the message itself */
	uint32_t len;
	bool identity;	 /* nothing changed: spans are the message's own */
	uint32_t folded; /* characters replaced or dropped */
};

/* Room to normalise one message of up to cap bytes: out and src for
 * sluice_normalize(), plus SLUICE_SCAN_SLACK readable bytes after out (match.h).
 * Allocated once, at setup; a match set points at one (struct
 * sluice_match_set.norm) to scan with packs that fold. */
struct sluice_norm_space {
	const struct sluice_allocator *alloc;
	uint8_t *out;
	uint32_t *src;
	uint32_t cap; /* message bytes */
};

/* 0, or -1 when out of memory or cap is 0. */
int sluice_norm_space_init(struct sluice_norm_space *space, uint32_t cap,
			   const struct sluice_allocator *alloc);
void sluice_norm_space_free(struct sluice_norm_space *space);

/* For tools, which scan messages of any length: makes space hold a message
 * of len bytes (allocating from alloc when it must grow). 0, or -1 when out of
 * memory (space is then empty). Never on the packet path. */
int sluice_norm_space_reserve(struct sluice_norm_space *space, size_t len,
			      const struct sluice_allocator *alloc);

/* The normalised text and its map: for tools and tests, which want both. */
void sluice_normalize(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		      uint8_t *out, uint32_t *src, struct sluice_norm_view *view);

/* The scanners' way: the normalised text alone, and the map later, only for
 * a message that matched in a view that changed (a few in a hundred).
 * sluice_fold() writes nothing for a message with nothing to fold. */
void sluice_fold(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len, uint8_t *out,
		 struct sluice_norm_view *view);

/* The same for a text known not to be all ASCII (batch scanning learns it
 * while copying), without looking again. */
void sluice_fold_unicode(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			 uint8_t *out, struct sluice_norm_view *view);

/* The same for text not yet known to be UTF-8, checked in the fold's own
 * pass (dataplane/wire/utf8_blocks.h): false when it is not valid UTF-8 (out
 * and *view are then to be ignored), else as sluice_fold_unicode(), with
 * *ascii saying whether every byte is ASCII, and out[0, len) a copy of the
 * text when it is its own fold (view->identity). Reads nothing outside in[0,
 * len) but what sluice_over_read_ok() allows. Checked with AVX2 where the
 * CPU has it (sluice_utf8_avx2_usable()), else with SSE2. */
bool sluice_fold_checked(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			 uint8_t *out, struct sluice_norm_view *view, bool *ascii);

/* Each way of sluice_fold_checked(), for the tests that compare them; the
 * AVX2 one only where sluice_utf8_avx2_usable(). */
bool sluice_fold_checked_sse2(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			      uint8_t *out, struct sluice_norm_view *view, bool *ascii);
bool sluice_fold_checked_avx2(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			      uint8_t *out, struct sluice_norm_view *view, bool *ascii);

/* The map of a text sluice_fold() changed: src[j] for each byte j of the
 * normalised text, exactly view->len entries (no slack written). */
void sluice_fold_map(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		     uint32_t *src);

/* The message's bytes [*from, *to) behind the span [*from, *to) of a folded
 * text whose bytes came from the message's characters at src: from the first
 * character that contributed to the end of the last, with whatever was
 * dropped between them. */
static inline void sluice_norm_map(const uint32_t *src, const uint8_t *in, uint32_t *from,
				   uint32_t *to)
{
	uint32_t last = src[*to - 1];
	uint8_t lead = in[last];
	*from = src[*from];
	*to = last + (lead < 0x80 ? 1u : lead < 0xe0 ? 2u : lead < 0xf0 ? 3u : 4u);
}

/* The same for a view sluice_normalize() made: nothing to map when it is the
 * message itself (from < to <= view->len). */
void sluice_norm_span(const struct sluice_norm_view *view, const uint32_t *src, const uint8_t *in,
		      uint32_t *from, uint32_t *to);

#endif
