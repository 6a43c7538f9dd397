#include "json_out.h"

#include <math.h>
#include <string.h>

void json_init(struct json_out *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void put_escaped(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* Comma and key before an item at the current depth. */
static void item(struct json_out *j, const char *key)
{
	if (j->depth > 0) {
		if (j->has_items[j->depth - 1])
			fputc(',', j->f);
		j->has_items[j->depth - 1] = true;
	}
	if (key) {
		put_escaped(j->f, key);
		fputc(':', j->f);
	}
}

static void open_level(struct json_out *j, const char *key, char bracket)
{
	item(j, key);
	fputc(bracket, j->f);
	if (j->depth < JSON_OUT_MAX_DEPTH)
		j->has_items[j->depth] = false;
	j->depth++;
}

static void close_level(struct json_out *j, char bracket)
{
	fputc(bracket, j->f);
	if (j->depth > 0)
		j->depth--;
}

void json_object_begin(struct json_out *j, const char *key)
{
	open_level(j, key, '{');
}

void json_object_end(struct json_out *j)
{
	close_level(j, '}');
}

void json_array_begin(struct json_out *j, const char *key)
{
	open_level(j, key, '[');
}

void json_array_end(struct json_out *j)
{
	close_level(j, ']');
}

void json_string(struct json_out *j, const char *key, const char *value)
{
	item(j, key);
	if (value)
		put_escaped(j->f, value);
	else
		fputs("null", j->f);
}

void json_u64(struct json_out *j, const char *key, uint64_t value)
{
	item(j, key);
	fprintf(j->f, "%llu", (unsigned long long)value);
}

void json_double(struct json_out *j, const char *key, double value)
{
	item(j, key);
	if (!isfinite(value)) {
		fputs("null", j->f);
		return;
	}
	/* Three decimals, trailing zeros dropped: readable, and precise enough
	 * for figures this noisy. */
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f", value);
	char *dot = strchr(buf, '.');
	if (dot) {
		char *end = buf + strlen(buf);
		while (end > dot + 1 && end[-1] == '0')
			*--end = '\0';
		if (end == dot + 1)
			*dot = '\0';
	}
	fputs(strcmp(buf, "-0") == 0 ? "0" : buf, j->f);
}

void json_bool(struct json_out *j, const char *key, bool value)
{
	item(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json_out *j, const char *key)
{
	item(j, key);
	fputs("null", j->f);
}

void json_finish(struct json_out *j)
{
	while (j->depth > 0)
		close_level(j, '}');
	fputc('\n', j->f);
	fflush(j->f);
}
