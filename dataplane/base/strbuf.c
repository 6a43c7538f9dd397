#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_escape.h"

void sluice_strbuf_init(struct sluice_strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

static bool reserve(struct sluice_strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *p = realloc(sb->data, cap);
	if (p == NULL) {
		sb->failed = true;
		return false;
	}
	sb->data = p;
	sb->cap = cap;
	return true;
}

void sluice_strbuf_printf(struct sluice_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sluice_strbuf_json_string(struct sluice_strbuf *sb, const char *s)
{
	const uint8_t *p = (const uint8_t *)(s ? s : "");
	size_t len = strlen((const char *)p);
	char piece[SLUICE_JSON_ESCAPE_MAX];
	sluice_strbuf_printf(sb, "\"");
	for (size_t i = 0; i < len;) {
		size_t used;
		size_t n = sluice_json_escape_next(p + i, len - i, piece, &used);
		sluice_strbuf_printf(sb, "%.*s", (int)n, piece);
		i += used;
	}
	sluice_strbuf_printf(sb, "\"");
}

void sluice_strbuf_free(struct sluice_strbuf *sb)
{
	free(sb->data);
	sluice_strbuf_init(sb);
}
