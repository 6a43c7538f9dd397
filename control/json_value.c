#include "json_value.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this is refused rather than recursed into. */
#define MAX_DEPTH 64

struct parser {
	const char *p;
	int depth;
};

static void skip_space(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

static struct sluice_json *value(struct parser *ps);

static struct sluice_json *new_value(enum sluice_json_type type)
{
	struct sluice_json *v = calloc(1, sizeof(*v));
	if (v != NULL)
		v->type = type;
	return v;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Parses a string at ps->p (on its opening quote); returns it decoded. */
static char *string(struct parser *ps)
{
	const char *s = ps->p + 1;
	size_t len = 0;
	/* Decoded text is never longer than its escaped form (a \uXXXX of six
	 * bytes decodes to at most three). */
	while (s[len] != '"') {
		if (s[len] == '\0')
			return NULL;
		if (s[len] == '\\' && s[len + 1] != '\0')
			len++;
		len++;
	}
	char *out = malloc(len + 1);
	size_t n = 0;
	if (out == NULL)
		return NULL;
	for (const char *q = s; q < s + len; q++) {
		if ((unsigned char)*q < 0x20)
			goto bad;
		if (*q != '\\') {
			out[n++] = *q;
			continue;
		}
		q++;
		switch (*q) {
		case '"':
		case '\\':
		case '/':
			out[n++] = *q;
			break;
		case 'b':
			out[n++] = '\b';
			break;
		case 'f':
			out[n++] = '\f';
			break;
		case 'n':
			out[n++] = '\n';
			break;
		case 'r':
			out[n++] = '\r';
			break;
		case 't':
			out[n++] = '\t';
			break;
		case 'u': {
			unsigned cp;
			if (q + 4 >= s + len || hex4(q + 1, &cp) != 0)
				goto bad;
			q += 4;
			/* A lone surrogate becomes U+FFFD: still text, never invalid. */
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD;
			n += put_utf8(out + n, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	out[n] = '\0';
	ps->p = s + len + 1;
	return out;
bad:
	free(out);
	return NULL;
}

static int append(struct sluice_json *v, char *key, struct sluice_json *item)
{
	struct sluice_json **items = realloc(v->items, (v->count + 1) * sizeof(*items));
	if (items == NULL)
		return -1;
	v->items = items;
	if (v->type == SLUICE_JSON_OBJECT) {
		char **keys = realloc(v->keys, (v->count + 1) * sizeof(*keys));
		if (keys == NULL)
			return -1;
		v->keys = keys;
		v->keys[v->count] = key;
	}
	v->items[v->count++] = item;
	return 0;
}

static struct sluice_json *container(struct parser *ps, enum sluice_json_type type)
{
	char close = type == SLUICE_JSON_OBJECT ? '}' : ']';
	struct sluice_json *v = new_value(type);
	if (v == NULL || ++ps->depth > MAX_DEPTH)
		goto bad;
	ps->p++;
	skip_space(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return v;
	}
	for (;;) {
		char *key = NULL;
		skip_space(ps);
		if (type == SLUICE_JSON_OBJECT) {
			if (*ps->p != '"' || (key = string(ps)) == NULL)
				goto bad;
			skip_space(ps);
			if (*ps->p != ':') {
				free(key);
				goto bad;
			}
			ps->p++;
		}
		struct sluice_json *item = value(ps);
		if (item == NULL || append(v, key, item) != 0) {
			free(key);
			sluice_json_free(item);
			goto bad;
		}
		skip_space(ps);
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		if (*ps->p != close)
			goto bad;
		ps->p++;
		ps->depth--;
		return v;
	}
bad:
	sluice_json_free(v);
	return NULL;
}

static struct sluice_json *value(struct parser *ps)
{
	struct sluice_json *v;
	skip_space(ps);
	switch (*ps->p) {
	case '{':
		return container(ps, SLUICE_JSON_OBJECT);
	case '[':
		return container(ps, SLUICE_JSON_ARRAY);
	case '"':
		v = new_value(SLUICE_JSON_STRING);
		if (v != NULL && (v->string = string(ps)) == NULL) {
			free(v);
			v = NULL;
		}
		return v;
	case 't':
	case 'f':
	case 'n': {
		static const char *const words[] = {"true", "false", "null"};
		for (int i = 0; i < 3; i++) {
			size_t len = strlen(words[i]);
			if (strncmp(ps->p, words[i], len) != 0)
				continue;
			ps->p += len;
			v = new_value(i == 2 ? SLUICE_JSON_NULL : SLUICE_JSON_BOOL);
			if (v != NULL)
				v->boolean = i == 0;
			return v;
		}
		return NULL;
	}
	default: {
		char *end;
		if (*ps->p != '-' && (*ps->p < '0' || *ps->p > '9'))
			return NULL;
		double d = strtod(ps->p, &end);
		if (end == ps->p)
			return NULL;
		ps->p = end;
		v = new_value(SLUICE_JSON_NUMBER);
		if (v != NULL)
			v->number = d;
		return v;
	}
	}
}

struct sluice_json *sluice_json_parse(const char *text)
{
	struct parser ps = {.p = text};
	struct sluice_json *v = value(&ps);
	skip_space(&ps);
	if (v != NULL && *ps.p != '\0') {
		sluice_json_free(v);
		return NULL;
	}
	return v;
}

void sluice_json_free(struct sluice_json *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->count; i++) {
		if (v->keys != NULL)
			free(v->keys[i]);
		sluice_json_free(v->items[i]);
	}
	free(v->keys);
	free(v->items);
	free(v->string);
	free(v);
}

const struct sluice_json *sluice_json_get(const struct sluice_json *object, const char *key)
{
	if (object == NULL || object->type != SLUICE_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < object->count; i++) {
		if (strcmp(object->keys[i], key) == 0)
			return object->items[i];
	}
	return NULL;
}

const char *sluice_json_str(const struct sluice_json *object, const char *key, const char *def)
{
	const struct sluice_json *v = sluice_json_get(object, key);
	return v != NULL && v->type == SLUICE_JSON_STRING ? v->string : def;
}

double sluice_json_num(const struct sluice_json *object, const char *key, double def)
{
	const struct sluice_json *v = sluice_json_get(object, key);
	return v != NULL && v->type == SLUICE_JSON_NUMBER ? v->number : def;
}

bool sluice_json_bool(const struct sluice_json *object, const char *key, bool def)
{
	const struct sluice_json *v = sluice_json_get(object, key);
	return v != NULL && v->type == SLUICE_JSON_BOOL ? v->boolean : def;
}
