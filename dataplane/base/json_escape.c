#include "json_escape.h"

#include <stdio.h>
#include <string.h>

#include "utf8.h"

size_t sluice_json_escape_next(const uint8_t *s, size_t rem, char out[SLUICE_JSON_ESCAPE_MAX],
			       size_t *consumed)
{
	uint8_t c = s[0];
	*consumed = 1;
	switch (c) {
	case '"':
	case '\\':
		out[0] = '\\';
		out[1] = (char)c;
		return 2;
	case '\n':
		memcpy(out, "\\n", 2);
		return 2;
	case '\t':
		memcpy(out, "\\t", 2);
		return 2;
	case '\r':
		memcpy(out, "\\r", 2);
		return 2;
	default:
		break;
	}
	if (c < 0x20 || c == 0x7f)
		return (size_t)snprintf(out, SLUICE_JSON_ESCAPE_MAX, "\\u%04x", c);
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	size_t n = sluice_utf8_sequence_len(s, rem);
	if (n == 0) {
		memcpy(out, "\\ufffd", 6);
		return 6;
	}
	memcpy(out, s, n);
	*consumed = n;
	return n;
}
