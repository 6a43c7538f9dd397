#include "json_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Where decoded bytes go: the caller's out buffers, or a key buffer (raw_at
 * NULL). Once a write does not fit, over is set and nothing more is written. */
struct sink {
	uint8_t *text;
	uint32_t *raw_at;
	uint32_t cap;
	uint32_t len;
	bool over;
};

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static uint32_t skip_ws(const uint8_t *json, uint32_t len, uint32_t pos)
{
	while (pos < len && is_ws(json[pos]))
		pos++;
	return pos;
}

static bool is_plain(uint8_t c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* How many leading bytes of p[0..n) are plain string bytes (not '"', '\\' or a
 * control character). Eight bytes at a time while none of them is special. */
static uint32_t plain_run(const uint8_t *p, uint32_t n)
{
	uint32_t i = 0;

	while (n - i >= 8) {
		uint64_t w, q, b, special;

		memcpy(&w, p + i, 8);
		q = w ^ (ONES * '"');
		b = w ^ (ONES * '\\');
		special = ((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b);
		if (special & HIGHS)
			break;
		i += 8;
	}
	while (i < n && is_plain(p[i]))
		i++;
	return i;
}

/* Appends the plain bytes src[0..n), which start at JSON offset raw. Each byte
 * maps to the lead byte of its UTF-8 sequence; a byte that is not part of a
 * valid sequence is a sequence of its own (as in raw_sequence_len). */
static void emit_run(struct sink *s, const uint8_t *src, uint32_t n, uint32_t raw)
{
	if (s == NULL || s->over || n == 0)
		return;
	if (n > s->cap - s->len) {
		s->over = true;
		return;
	}
	memcpy(s->text + s->len, src, n);
	if (s->raw_at != NULL) {
		uint32_t *at = s->raw_at + s->len;

		for (uint32_t j = 0; j < n;) {
			uint32_t k =
			    src[j] < 0x80 ? 1 : (uint32_t)sluice_utf8_sequence_len(src + j, n - j);
			uint32_t lead = raw + j;

			for (uint32_t end = j + (k ? k : 1); j < end; j++)
				at[j] = lead;
		}
	}
	s->len += n;
}

/* Appends code point cp (a scalar value) as UTF-8, every byte mapped to raw. */
static void emit_code(struct sink *s, uint32_t cp, uint32_t raw)
{
	uint8_t b[4];
	uint32_t n;

	if (s == NULL || s->over)
		return;
	n = sluice_utf8_encode(cp, b);
	if (n > s->cap - s->len) {
		s->over = true;
		return;
	}
	memcpy(s->text + s->len, b, n);
	if (s->raw_at != NULL)
		for (uint32_t j = 0; j < n; j++)
			s->raw_at[s->len + j] = raw;
	s->len += n;
}

static int hex_digit(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits at json[at..at+4), or -1. */
static int32_t hex4(const uint8_t *json, uint32_t len, uint32_t at)
{
	int32_t v = 0;

	if (at > len || len - at < 4)
		return -1;
	for (uint32_t k = 0; k < 4; k++) {
		int d = hex_digit(json[at + k]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* Decodes the \u escape whose backslash is at json[p] (json[p + 1] == 'u'):
 * the raw length (6, or 12 for a surrogate pair) with the code point in *cp, a
 * lone or reversed surrogate giving U+FFFD; 0 when the hex digits are bad.
 * The one definition of a \u sequence, shared by extraction and masking. */
static uint32_t decode_u(const uint8_t *json, uint32_t len, uint32_t p, uint32_t *cp)
{
	int32_t hi = hex4(json, len, p + 2), lo;

	if (hi < 0)
		return 0;
	if (hi < 0xD800 || hi > 0xDFFF) {
		*cp = (uint32_t)hi;
		return 6;
	}
	*cp = 0xFFFD;
	if (hi > 0xDBFF || len - p < 12 || json[p + 6] != '\\' || json[p + 7] != 'u')
		return 6;
	lo = hex4(json, len, p + 8);
	if (lo < 0xDC00 || lo > 0xDFFF)
		return 6;
	*cp = 0x10000 + ((uint32_t)(hi - 0xD800) << 10) + (uint32_t)(lo - 0xDC00);
	return 12;
}

/* Parses the string whose opening quote is at json[*pos], writing its decoded
 * bytes to s (NULL: validate only). On success *pos is past the closing quote. */
static bool parse_string(const uint8_t *json, uint32_t len, uint32_t *pos, struct sink *s)
{
	uint32_t i = *pos + 1;

	for (;;) {
		uint32_t run = plain_run(json + i, len - i), cp, n;
		uint8_t c;

		emit_run(s, json + i, run, i);
		i += run;
		if (i == len)
			return false; /* unterminated */
		c = json[i];
		if (c == '"') {
			*pos = i + 1;
			return true;
		}
		if (c != '\\' || len - i < 2)
			return false; /* control character, or a backslash at the end */
		switch (json[i + 1]) {
		case '"':
		case '\\':
		case '/':
			cp = json[i + 1];
			break;
		case 'b':
			cp = '\b';
			break;
		case 'f':
			cp = '\f';
			break;
		case 'n':
			cp = '\n';
			break;
		case 'r':
			cp = '\r';
			break;
		case 't':
			cp = '\t';
			break;
		case 'u':
			n = decode_u(json, len, i, &cp);
			if (n == 0)
				return false;
			emit_code(s, cp, i);
			i += n;
			continue;
		default:
			return false;
		}
		emit_code(s, cp, i);
		i += 2;
	}
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

static uint32_t skip_digits(const uint8_t *json, uint32_t len, uint32_t i)
{
	while (i < len && is_digit(json[i]))
		i++;
	return i;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool parse_number(const uint8_t *json, uint32_t len, uint32_t *pos)
{
	uint32_t i = *pos;

	if (json[i] == '-')
		i++;
	if (i == len || !is_digit(json[i]))
		return false;
	i = json[i] == '0' ? i + 1 : skip_digits(json, len, i);
	if (i < len && json[i] == '.') {
		i++;
		if (i == len || !is_digit(json[i]))
			return false;
		i = skip_digits(json, len, i);
	}
	if (i < len && (json[i] == 'e' || json[i] == 'E')) {
		i++;
		if (i < len && (json[i] == '+' || json[i] == '-'))
			i++;
		if (i == len || !is_digit(json[i]))
			return false;
		i = skip_digits(json, len, i);
	}
	*pos = i;
	return true;
}

static bool parse_literal(const uint8_t *json, uint32_t len, uint32_t *pos)
{
	static const char *const words[] = {"true", "false", "null"};

	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
		uint32_t n = (uint32_t)strlen(words[k]);

		if (len - *pos >= n && memcmp(json + *pos, words[k], n) == 0) {
			*pos += n;
			return true;
		}
	}
	return false;
}

static bool member_match(const struct sluice_json_members *m, const uint8_t *key, uint32_t len)
{
	for (uint32_t k = 0; k < m->count; k++)
		if (m->len[k] == len && memcmp(m->name[k], key, len) == 0)
			return true;
	return false;
}

#define FRAME_OBJECT  1u /* else an array */
#define FRAME_EXTRACT 2u /* an array whose string elements are extracted */

enum state { S_VALUE, S_KEY, S_AFTER };

enum sluice_json_outcome sluice_json_extract(const uint8_t *json, uint32_t len,
					     const struct sluice_json_members *m,
					     struct sluice_json_text *out)
{
	uint8_t frame[SLUICE_JSON_MAX_DEPTH];
	uint8_t key[SLUICE_JSON_MAX_NAME];
	struct sink sink = {out->text, out->raw_at, out->cap, 0, false};
	uint32_t depth = 0, values = 0, pos;
	bool extract = false; /* whether a string value parsed next is extracted */
	enum state state = S_VALUE;

	out->len = 0;
	out->values = 0;
	pos = skip_ws(json, len, 0);
	if (pos == len || (json[pos] != '{' && json[pos] != '['))
		return SLUICE_JSON_NOT_JSON;

	for (;;) {
		uint8_t c, top;

		pos = skip_ws(json, len, pos);
		if (state == S_AFTER && depth == 0)
			break;
		if (pos == len)
			return SLUICE_JSON_MALFORMED;
		c = json[pos];
		switch (state) {
		case S_VALUE:
			if (c == '{' || c == '[') {
				if (depth == SLUICE_JSON_MAX_DEPTH)
					return SLUICE_JSON_TOO_DEEP;
				pos = skip_ws(json, len, pos + 1);
				if (pos == len)
					return SLUICE_JSON_MALFORMED;
				if (c == '{') {
					frame[depth++] = FRAME_OBJECT;
					state = S_KEY;
					if (json[pos] == '}') {
						pos++;
						depth--;
						state = S_AFTER;
					}
				} else {
					frame[depth++] = extract ? FRAME_EXTRACT : 0;
					if (json[pos] == ']') {
						pos++;
						depth--;
						state = S_AFTER;
					}
				}
				break;
			}
			if (c == '"') {
				if (!parse_string(json, len, &pos, extract ? &sink : NULL))
					return SLUICE_JSON_MALFORMED;
				if (extract && !sink.over) {
					if (sink.len == sink.cap) {
						sink.over = true;
					} else {
						sink.text[sink.len] = '\n';
						sink.raw_at[sink.len] = SLUICE_JSON_NO_RAW;
						sink.len++;
						values++;
					}
				}
			} else if (c == '-' || is_digit(c)) {
				if (!parse_number(json, len, &pos))
					return SLUICE_JSON_MALFORMED;
			} else if (!parse_literal(json, len, &pos)) {
				return SLUICE_JSON_MALFORMED;
			}
			state = S_AFTER;
			break;
		case S_KEY: {
			struct sink k = {key, NULL, sizeof(key), 0, false};

			if (c != '"' || !parse_string(json, len, &pos, &k))
				return SLUICE_JSON_MALFORMED;
			pos = skip_ws(json, len, pos);
			if (pos == len || json[pos] != ':')
				return SLUICE_JSON_MALFORMED;
			pos++;
			extract = !k.over && member_match(m, key, k.len);
			state = S_VALUE;
			break;
		}
		case S_AFTER:
			top = frame[depth - 1];
			if (c == ',') {
				pos++;
				extract = (top & FRAME_EXTRACT) != 0;
				state = (top & FRAME_OBJECT) ? S_KEY : S_VALUE;
			} else if (c == ((top & FRAME_OBJECT) ? '}' : ']')) {
				pos++;
				depth--;
			} else {
				return SLUICE_JSON_MALFORMED;
			}
			break;
		}
	}
	if (pos != len)
		return SLUICE_JSON_MALFORMED; /* something after the top-level value */
	if (sink.over)
		return SLUICE_JSON_TOO_LONG;
	out->len = sink.len;
	out->values = values;
	return SLUICE_JSON_VALUES;
}

/* Raw length of the sequence at json[p]: a backslash escape, a UTF-8 sequence,
 * or (a byte that is neither, such as a mask's '*') one byte. */
static uint32_t raw_sequence_len(const uint8_t *json, uint32_t len, uint32_t p)
{
	uint32_t n, cp;

	if (json[p] == '\\' && len - p >= 2) {
		if (json[p + 1] != 'u')
			return 2;
		n = decode_u(json, len, p, &cp);
		return n ? n : 2;
	}
	n = (uint32_t)sluice_utf8_sequence_len(json + p, len - p);
	return n ? n : 1;
}

uint32_t sluice_json_mask(uint8_t *json, uint32_t json_len, const struct sluice_json_text *t,
			  uint32_t from, uint32_t to)
{
	uint32_t changed = 0, prev = SLUICE_JSON_NO_RAW;

	if (to > t->len)
		to = t->len;
	for (uint32_t i = from; i < to; i++) {
		uint32_t p = t->raw_at[i], n;

		if (p == SLUICE_JSON_NO_RAW || p == prev || p >= json_len)
			continue;
		prev = p;
		n = raw_sequence_len(json, json_len, p);
		for (uint32_t k = p; k < p + n; k++) {
			if (json[k] != '*') {
				json[k] = '*';
				changed++;
			}
		}
	}
	return changed;
}

uint32_t sluice_json_blank_values(uint8_t *json, uint32_t json_len,
				  const struct sluice_json_text *t)
{
	/* The sequences of a value tile it from quote to quote. */
	return sluice_json_mask(json, json_len, t, 0, t->len);
}

static bool name_ok(const uint8_t *s, size_t len)
{
	if (len == 0 || len > SLUICE_JSON_MAX_NAME || !sluice_utf8_valid(s, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7F || s[i] == '"' || s[i] == '\\')
			return false;
	return true;
}

int sluice_json_members_add(struct sluice_json_members *m, const char *name, size_t len)
{
	const uint8_t *s = (const uint8_t *)name;

	if (!name_ok(s, len))
		return -1;
	if (member_match(m, s, (uint32_t)len))
		return 0;
	if (m->count >= SLUICE_JSON_MAX_MEMBERS)
		return -1;
	memset(m->name[m->count], 0, SLUICE_JSON_MAX_NAME);
	memcpy(m->name[m->count], name, len);
	m->len[m->count] = (uint8_t)len;
	m->count++;
	return 0;
}

int sluice_json_members_parse(struct sluice_json_members *m, const char *list, char *err,
			      size_t err_len)
{
	struct sluice_json_members next;
	const char *p = list;
	size_t item = 0;

	if (err != NULL && err_len > 0)
		err[0] = '\0';
	memset(&next, 0, sizeof(next));
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *why = NULL;

		item++;
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0)
			why = "is empty";
		else if (len > SLUICE_JSON_MAX_NAME)
			why = "is longer than 32 bytes";
		else if (!name_ok((const uint8_t *)p, len))
			why = "is not valid UTF-8 or contains '\"', '\\' or a control character";
		else if (sluice_json_members_add(&next, p, len) != 0)
			why = "is one more than the 8 allowed";
		if (why != NULL) {
			if (err != NULL && err_len > 0)
				snprintf(err, err_len, "member name %zu %s", item, why);
			return -1;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	*m = next;
	return 0;
}

void sluice_json_scan_view(const uint8_t *msg, uint32_t len, const struct sluice_json_members *m,
			   struct sluice_json_text *jt, struct sluice_scan_view *out)
{
	out->text = msg;
	out->len = len;
	out->json = false;
	out->outcome = SLUICE_JSON_NOT_JSON;
	if (m == NULL || m->count == 0)
		return;
	out->outcome = sluice_json_extract(msg, len, m, jt);
	if (out->outcome == SLUICE_JSON_VALUES) {
		out->text = jt->text;
		out->len = jt->len;
		out->json = true;
	}
}
