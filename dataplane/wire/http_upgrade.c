#include "http_upgrade.h"

#include <string.h>

static bool is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	switch (c) {
	case '!':
	case '#':
	case '$':
	case '%':
	case '&':
	case '\'':
	case '*':
	case '+':
	case '-':
	case '.':
	case '^':
	case '_':
	case '`':
	case '|':
	case '~':
		return true;
	default:
		return false;
	}
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

static uint8_t ascii_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* Whether s[0..n) equals the lower-case literal lit, ignoring the case of s. */
static bool ieq(const uint8_t *s, size_t n, const char *lit)
{
	if (strlen(lit) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (ascii_lower(s[i]) != (uint8_t)lit[i])
			return false;
	}
	return true;
}

/* Finds the blank line that ends the head, checking every byte on the way:
 * control bytes other than HTAB, bare CR and bare LF are BAD as soon as they
 * are seen. */
static enum sluice_http_head find_head_end(const uint8_t *buf, size_t avail, size_t max_head,
					   size_t *head_len)
{
	size_t limit;

	if (max_head > UINT32_MAX)
		max_head = UINT32_MAX;
	limit = avail < max_head ? avail : max_head;
	for (size_t i = 0; i < limit; i++) {
		uint8_t b = buf[i];
		if (b == '\r') {
			if (i + 1 < avail && buf[i + 1] != '\n')
				return SLUICE_HTTP_BAD;
		} else if (b == '\n') {
			if (i == 0 || buf[i - 1] != '\r')
				return SLUICE_HTTP_BAD;
			/* buf[i - 2] is an LF, itself after a CR: CRLF CRLF. */
			if (i >= 3 && buf[i - 2] == '\n') {
				*head_len = i + 1;
				return SLUICE_HTTP_HEAD;
			}
		} else if ((b < 0x20 && b != '\t') || b == 0x7F) {
			return SLUICE_HTTP_BAD;
		}
	}
	return avail >= max_head ? SLUICE_HTTP_BAD : SLUICE_HTTP_NEED_MORE;
}

/* The line at *pos (every CR is known to be followed by an LF): [*start,
 * *end) without the CRLF; *pos moves past it. */
static void next_line(const uint8_t *buf, size_t head_len, size_t *pos, size_t *start, size_t *end)
{
	const uint8_t *cr = memchr(buf + *pos, '\r', head_len - *pos);

	*start = *pos;
	*end = (size_t)(cr - buf);
	*pos = *end + 2;
}

struct header {
	size_t name, name_len; /* offset of the name in buf, and its length */
	const uint8_t *value;  /* without leading or trailing whitespace */
	size_t value_len;
};

enum header_step { HEADER_FIELD, HEADER_END, HEADER_BAD };

/* The header line at *pos, or the blank line that ends the head. */
static enum header_step next_header(const uint8_t *buf, size_t head_len, size_t *pos,
				    struct header *h)
{
	size_t s, e, c;

	next_line(buf, head_len, pos, &s, &e);
	if (s == e)
		return HEADER_END;
	if (is_ows(buf[s]))
		return HEADER_BAD; /* obsolete line folding */
	for (c = s; c < e && is_tchar(buf[c]); c++)
		;
	if (c == s || c == e || buf[c] != ':')
		return HEADER_BAD; /* no name, no colon, or whitespace before it */
	h->name = s;
	h->name_len = c - s;
	c++;
	while (c < e && is_ows(buf[c]))
		c++;
	while (e > c && is_ows(buf[e - 1]))
		e--;
	h->value = buf + c;
	h->value_len = e - c;
	return HEADER_FIELD;
}

/* Walks a comma-separated list: each element's leading token (empty when the
 * element does not start with one), skipping its parameters, quoted strings
 * included. */
struct list_walk {
	const uint8_t *v;
	size_t n, pos;
};

static bool list_next(struct list_walk *w, const uint8_t **tok, size_t *tok_len)
{
	size_t start;
	bool quoted = false;

	while (w->pos < w->n && (is_ows(w->v[w->pos]) || w->v[w->pos] == ','))
		w->pos++;
	if (w->pos >= w->n)
		return false;
	start = w->pos;
	while (w->pos < w->n && is_tchar(w->v[w->pos]))
		w->pos++;
	*tok = w->v + start;
	*tok_len = w->pos - start;
	for (; w->pos < w->n; w->pos++) {
		uint8_t c = w->v[w->pos];
		if (quoted) {
			if (c == '\\' && w->pos + 1 < w->n)
				w->pos++;
			else if (c == '"')
				quoted = false;
		} else if (c == '"') {
			quoted = true;
		} else if (c == ',') {
			break;
		}
	}
	return true;
}

/* Whether the list v[0..n) has an element whose token is lit (lower case). */
static bool list_has(const uint8_t *v, size_t n, const char *lit)
{
	struct list_walk w = {v, n, 0};
	const uint8_t *tok;
	size_t tok_len;

	while (list_next(&w, &tok, &tok_len)) {
		if (ieq(tok, tok_len, lit))
			return true;
	}
	return false;
}

/* "HTTP/" DIGIT "." DIGIT */
static bool is_http_version(const uint8_t *s, size_t n)
{
	return n == 8 && memcmp(s, "HTTP/", 5) == 0 && s[5] >= '0' && s[5] <= '9' && s[6] == '.' &&
	       s[7] >= '0' && s[7] <= '9';
}

/* The request line: method SP request-target SP HTTP-version. */
static bool parse_request_line(const uint8_t *buf, size_t s, size_t e, bool *get, bool *http11)
{
	size_t m = s, t;

	while (m < e && is_tchar(buf[m]))
		m++;
	if (m == s || m == e || buf[m] != ' ')
		return false;
	t = m + 1;
	while (t < e && buf[t] > ' ' && buf[t] != 0x7F)
		t++;
	if (t == m + 1 || t == e || buf[t] != ' ')
		return false;
	if (!is_http_version(buf + t + 1, e - t - 1))
		return false;
	*get = m - s == 3 && memcmp(buf + s, "GET", 3) == 0;
	*http11 = memcmp(buf + t + 1, "HTTP/1.1", 8) == 0;
	return true;
}

enum sluice_http_head sluice_ws_request_parse(uint8_t *buf, size_t avail, size_t max_head,
					      bool strip_extensions, struct sluice_ws_request *req)
{
	enum sluice_http_head r;
	enum header_step step;
	struct header h;
	size_t head_len, pos = 0, s, e;
	bool get, http11, upgrade = false, connection = false, key = false, version = false;
	bool extensions = false;

	memset(req, 0, sizeof(*req));
	r = find_head_end(buf, avail, max_head, &head_len);
	if (r != SLUICE_HTTP_HEAD)
		return r;

	next_line(buf, head_len, &pos, &s, &e);
	if (!parse_request_line(buf, s, e, &get, &http11))
		return SLUICE_HTTP_BAD;
	while ((step = next_header(buf, head_len, &pos, &h)) == HEADER_FIELD) {
		const uint8_t *name = buf + h.name;
		if (ieq(name, h.name_len, "upgrade")) {
			upgrade |= list_has(h.value, h.value_len, "websocket");
		} else if (ieq(name, h.name_len, "connection")) {
			connection |= list_has(h.value, h.value_len, "upgrade");
		} else if (ieq(name, h.name_len, "sec-websocket-key")) {
			key |= h.value_len > 0;
		} else if (ieq(name, h.name_len, "sec-websocket-version")) {
			version |= list_has(h.value, h.value_len, "13");
		} else if (ieq(name, h.name_len, "sec-websocket-extensions")) {
			extensions = true;
			req->deflate_offered |=
			    list_has(h.value, h.value_len, "permessage-deflate");
		}
	}
	if (step == HEADER_BAD) {
		req->deflate_offered = false;
		return SLUICE_HTTP_BAD;
	}

	/* The whole head is good: only now is it changed. */
	if (strip_extensions && extensions) {
		pos = 0;
		next_line(buf, head_len, &pos, &s, &e);
		while (next_header(buf, head_len, &pos, &h) == HEADER_FIELD) {
			if (ieq(buf + h.name, h.name_len, "sec-websocket-extensions"))
				memcpy(buf + h.name, SLUICE_WS_STRIPPED_EXTENSIONS_NAME,
				       h.name_len);
		}
		req->extensions_stripped = true;
	}
	req->head_len = (uint32_t)head_len;
	req->upgrade_websocket = get && http11 && upgrade && connection && key && version;
	return SLUICE_HTTP_HEAD;
}

/* The status line: HTTP-version SP 3DIGIT [SP reason-phrase]. */
static bool parse_status_line(const uint8_t *buf, size_t s, size_t e, uint16_t *status,
			      bool *http11)
{
	const uint8_t *c;

	if (e - s < 12 || !is_http_version(buf + s, 8) || buf[s + 8] != ' ')
		return false;
	c = buf + s + 9;
	for (size_t i = 0; i < 3; i++) {
		if (c[i] < '0' || c[i] > '9')
			return false;
	}
	if (e - s > 12 && buf[s + 12] != ' ')
		return false;
	*status = (uint16_t)((c[0] - '0') * 100 + (c[1] - '0') * 10 + (c[2] - '0'));
	*http11 = memcmp(buf + s, "HTTP/1.1", 8) == 0;
	return true;
}

enum sluice_http_head sluice_ws_response_parse(const uint8_t *buf, size_t avail, size_t max_head,
					       struct sluice_ws_response *resp)
{
	enum sluice_http_head r;
	enum header_step step;
	struct header h;
	size_t head_len, pos = 0, s, e;
	size_t prefix = avail < 5 ? avail : 5;
	uint16_t status;
	bool http11, upgrade = false, connection = false;
	bool deflate = false, other = false;

	memset(resp, 0, sizeof(*resp));
	if (prefix && memcmp(buf, "HTTP/", prefix) != 0)
		return SLUICE_HTTP_BAD;
	r = find_head_end(buf, avail, max_head, &head_len);
	if (r != SLUICE_HTTP_HEAD)
		return r;

	next_line(buf, head_len, &pos, &s, &e);
	if (!parse_status_line(buf, s, e, &status, &http11))
		return SLUICE_HTTP_BAD;
	while ((step = next_header(buf, head_len, &pos, &h)) == HEADER_FIELD) {
		const uint8_t *name = buf + h.name;
		if (ieq(name, h.name_len, "upgrade")) {
			upgrade |= list_has(h.value, h.value_len, "websocket");
		} else if (ieq(name, h.name_len, "connection")) {
			connection |= list_has(h.value, h.value_len, "upgrade");
		} else if (ieq(name, h.name_len, "sec-websocket-extensions")) {
			struct list_walk w = {h.value, h.value_len, 0};
			const uint8_t *tok;
			size_t tok_len;
			while (list_next(&w, &tok, &tok_len)) {
				if (ieq(tok, tok_len, "permessage-deflate"))
					deflate = true;
				else
					other = true;
			}
		}
	}
	if (step == HEADER_BAD)
		return SLUICE_HTTP_BAD;

	resp->head_len = (uint32_t)head_len;
	resp->status = status;
	resp->upgraded = status == 101 && http11 && upgrade && connection;
	resp->deflate_accepted = deflate;
	resp->other_extension = other;
	return SLUICE_HTTP_HEAD;
}
