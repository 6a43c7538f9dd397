#include "json_writer.h"

#include <math.h>
#include <string.h>

#include "json_escape.h"

void sluice_jw_init(struct sluice_json_writer *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void put_string(FILE *f, const char *s, size_t n)
{
	const uint8_t *u = (const uint8_t *)s;
	char piece[SLUICE_JSON_ESCAPE_MAX];
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		size_t used;
		size_t len = sluice_json_escape_next(u + i, n - i, piece, &used);
		fwrite(piece, 1, len, f);
		i += used;
	}
	fputc('"', f);
}

/* The comma and key before an item at the current depth. */
static void item(struct sluice_json_writer *j, const char *key)
{
	if (j->depth > 0 && j->depth <= SLUICE_JW_MAX_DEPTH) {
		if (j->has_items[j->depth - 1])
			fputc(',', j->f);
		j->has_items[j->depth - 1] = true;
	}
	if (key != NULL) {
		put_string(j->f, key, strlen(key));
		fputc(':', j->f);
	}
}

static void open_level(struct sluice_json_writer *j, const char *key, char opener, char closer)
{
	item(j, key);
	fputc(opener, j->f);
	if (j->depth < SLUICE_JW_MAX_DEPTH) {
		j->has_items[j->depth] = false;
		j->closer[j->depth] = closer;
	}
	j->depth++;
}

void sluice_jw_object(struct sluice_json_writer *j, const char *key)
{
	open_level(j, key, '{', '}');
}

void sluice_jw_array(struct sluice_json_writer *j, const char *key)
{
	open_level(j, key, '[', ']');
}

void sluice_jw_end(struct sluice_json_writer *j)
{
	if (j->depth == 0)
		return;
	j->depth--;
	fputc(j->depth < SLUICE_JW_MAX_DEPTH ? j->closer[j->depth] : '}', j->f);
}

void sluice_jw_stringn(struct sluice_json_writer *j, const char *key, const char *s, size_t n)
{
	item(j, key);
	put_string(j->f, s, n);
}

void sluice_jw_string(struct sluice_json_writer *j, const char *key, const char *s)
{
	if (s == NULL) {
		sluice_jw_null(j, key);
		return;
	}
	sluice_jw_stringn(j, key, s, strlen(s));
}

void sluice_jw_int(struct sluice_json_writer *j, const char *key, long long v)
{
	item(j, key);
	fprintf(j->f, "%lld", v);
}

void sluice_jw_uint(struct sluice_json_writer *j, const char *key, unsigned long long v)
{
	item(j, key);
	fprintf(j->f, "%llu", v);
}

void sluice_jw_double(struct sluice_json_writer *j, const char *key, double v, int decimals,
		      bool trim)
{
	item(j, key);
	if (!isfinite(v)) {
		fputs("null", j->f);
		return;
	}
	char buf[64];
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	char *dot = strchr(buf, '.');
	if (trim && dot != NULL) {
		char *end = buf + strlen(buf);
		while (end > dot + 1 && end[-1] == '0')
			*--end = '\0';
		if (end == dot + 1)
			*dot = '\0';
	}
	fputs(strcmp(buf, "-0") == 0 ? "0" : buf, j->f);
}

void sluice_jw_bool(struct sluice_json_writer *j, const char *key, bool v)
{
	item(j, key);
	fputs(v ? "true" : "false", j->f);
}

void sluice_jw_null(struct sluice_json_writer *j, const char *key)
{
	item(j, key);
	fputs("null", j->f);
}

void sluice_jw_finish(struct sluice_json_writer *j)
{
	while (j->depth > 0)
		sluice_jw_end(j);
	fputc('\n', j->f);
	fflush(j->f);
}
