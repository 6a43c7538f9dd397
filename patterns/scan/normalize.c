#include "normalize.h"

#include <string.h>

#include "utf8.h"

void sluice_normalize(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
		      uint8_t *out, uint32_t *src, struct sluice_norm_view *view)
{
	view->folded = 0;
	if (sluice_ascii_only(in, len)) {
		view->text = in;
		view->len = len;
		view->identity = true;
		return;
	}
	uint32_t i = 0, o = 0;
	while (i < len) {
		if (in[i] < 0x80) {
			out[o] = in[i];
			src[o++] = i++;
			continue;
		}
		uint32_t n;
		uint32_t cp = sluice_utf8_decode(in + i, &n);
		uint32_t e = sluice_fold_entry_of(t, cp);
		const uint8_t *from = in + i;
		uint32_t take = n;
		if (e != 0) {
			from = t->bytes + t->entry[e].off;
			take = t->entry[e].len;
			view->folded++;
		}
		for (uint32_t k = 0; k < take; k++) {
			out[o + k] = from[k];
			src[o + k] = i;
		}
		o += take;
		i += n;
	}
	view->text = out;
	view->len = o;
	view->identity = view->folded == 0;
	if (view->identity)
		view->text = in;
}

void sluice_norm_span(const struct sluice_norm_view *view, const uint32_t *src, const uint8_t *in,
		      uint32_t *from, uint32_t *to)
{
	if (view->identity)
		return;
	uint32_t last = src[*to - 1];
	*from = src[*from];
	uint32_t n;
	sluice_utf8_decode(in + last, &n);
	*to = last + n;
}
