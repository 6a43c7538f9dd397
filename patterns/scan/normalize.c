#include "normalize.h"

#include <string.h>

#include "match.h"
#include "utf8.h"

int sluice_norm_space_init(struct sluice_norm_space *space, uint32_t cap,
			   const struct sluice_allocator *alloc)
{
	memset(space, 0, sizeof(*space));
	space->alloc = alloc;
	if (cap == 0)
		return -1;
	size_t bytes = (size_t)cap * SLUICE_FOLD_MAX_GROWTH;
	space->out = sluice_zalloc(alloc, bytes + SLUICE_SCAN_SLACK);
	space->src = sluice_zalloc(alloc, (bytes + SLUICE_NORM_SLACK) * sizeof(*space->src));
	if (space->out == NULL || space->src == NULL) {
		sluice_norm_space_free(space);
		return -1;
	}
	space->cap = cap;
	return 0;
}

int sluice_norm_space_reserve(struct sluice_norm_space *space, size_t len,
			      const struct sluice_allocator *alloc)
{
	if (space->cap != 0 && len <= space->cap)
		return 0;
	if (len > UINT32_MAX / (SLUICE_FOLD_MAX_GROWTH * sizeof(uint32_t)))
		return -1;
	size_t cap = space->cap ? space->cap : 4096;
	while (cap < len)
		cap *= 2;
	sluice_norm_space_free(space);
	return sluice_norm_space_init(space, (uint32_t)cap, alloc);
}

void sluice_norm_space_free(struct sluice_norm_space *space)
{
	if (space->alloc != NULL) {
		sluice_free(space->alloc, space->out);
		sluice_free(space->alloc, space->src);
	}
	memset(space, 0, sizeof(*space));
}

/* The end of the ASCII run at in[i] (Latin words, digits, punctuation
 * between Chinese ones: never folded), eight bytes at a time. */
static inline uint32_t ascii_run_end(const uint8_t *in, uint32_t i, uint32_t len)
{
	while (i + 8 <= len) {
		uint64_t w;
		memcpy(&w, in + i, 8);
		if (w & 0x8080808080808080ull)
			break;
		i += 8;
	}
	while (i < len && in[i] < 0x80)
		i++;
	return i;
}

/* Offset of the first character of in[0..len) that t folds, or len. */
static uint32_t first_folding(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len)
{
	uint32_t i = 0;
	while (i < len) {
		if (in[i] < 0x80) {
			i = ascii_run_end(in, i, len);
			continue;
		}
		uint32_t n;
		uint32_t cp = sluice_utf8_decode(in + i, &n);
		if (sluice_fold_entry_of(t, cp) != 0)
			return i;
		i += n;
	}
	return len;
}

void sluice_fold_unicode(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
			 uint8_t *out, struct sluice_norm_view *view)
{
	/* Most messages have nothing to fold: they are read, never copied. */
	uint32_t i = first_folding(t, in, len);
	if (i == len) {
		*view = (struct sluice_norm_view){.text = in, .len = len, .identity = true};
		return;
	}
	memcpy(out, in, i);
	uint32_t o = i, folded = 0;
	while (i < len) {
		if (in[i] < 0x80) {
			uint32_t end = ascii_run_end(in, i, len);
			memcpy(out + o, in + i, end - i);
			o += end - i;
			i = end;
			continue;
		}
		uint32_t n;
		uint32_t cp = sluice_utf8_decode(in + i, &n);
		uint32_t e = sluice_fold_entry_of(t, cp);
		if (__builtin_expect(e == 0, 1)) {
			/* Kept: four bytes stored whatever its length (out has
			 * slack), o advanced by n. The input is read only
			 * within the message. */
			if (__builtin_expect(i + 4 <= len, 1))
				memcpy(out + o, in + i, 4);
			else
				memcpy(out + o, in + i, n);
			o += n;
			i += n;
			continue;
		}
		uint32_t take = t->entry[e].len;
		memcpy(out + o, t->bytes + t->entry[e].off, take);
		folded++;
		o += take;
		i += n;
	}
	*view = (struct sluice_norm_view){.text = out, .len = o, .folded = folded};
}

void sluice_fold(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len, uint8_t *out,
		 struct sluice_norm_view *view)
{
	if (sluice_ascii_only(in, len)) {
		*view = (struct sluice_norm_view){.text = in, .len = len, .identity = true};
		return;
	}
	sluice_fold_unicode(t, in, len, out, view);
}

void sluice_fold_map(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		     uint32_t *src)
{
	uint32_t o = 0;
	for (uint32_t i = 0; i < len;) {
		uint32_t n = 1, take = 1;
		if (in[i] >= 0x80) {
			uint32_t e = sluice_fold_entry_of(t, sluice_utf8_decode(in + i, &n));
			take = e == 0 ? n : t->entry[e].len;
		}
		for (uint32_t k = 0; k < take; k++)
			src[o + k] = i;
		o += take;
		i += n;
	}
}

void sluice_normalize(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		      uint8_t *out, uint32_t *src, struct sluice_norm_view *view)
{
	sluice_fold(t, in, len, out, view);
	if (!view->identity)
		sluice_fold_map(t, in, len, src);
}

void sluice_norm_span(const struct sluice_norm_view *view, const uint32_t *src, const uint8_t *in,
		      uint32_t *from, uint32_t *to)
{
	if (!view->identity)
		sluice_norm_map(src, in, from, to);
}
