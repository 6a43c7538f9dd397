/* JSON member text: the string values of chosen members of a JSON chat message,
 * unescaped for scanning, with a map from every decoded byte back onto the raw
 * JSON so that spans found in the decoded text can be masked in place.
 *
 * Contract:
 *  - The input is valid UTF-8 (the caller's gate ran first); if it is not, each
 *    byte outside a valid sequence is mapped and masked as a sequence of its own
 *    and the decoded text is not valid UTF-8 either. The grammar is
 *    strict RFC 8259: objects, arrays, strings, numbers, true/false/null and the
 *    four whitespace bytes; nothing but whitespace may follow the top-level value.
 *    Only an object or an array is taken as JSON: a message whose first
 *    non-whitespace byte is neither '{' nor '[' (plain text, a bare scalar, an
 *    empty or blank message) is NOT_JSON and is scanned whole by the caller.
 *  - A member matches by its DECODED name, at any nesting depth: "te\u0078t" is
 *    the member text. Only string values are extracted. A matching member whose
 *    value is an array has every string element of that array extracted, and of
 *    arrays nested in it ("text":["a",["b"]] gives a and b); an object inside such
 *    an array, or an object value of a matching member, is searched by member name
 *    like any other object. Numbers, true, false and null are never extracted.
 *  - The decoded text is every extracted value in document order, each followed
 *    by one '\n' separator (also after an empty value). Escapes \" \\ \/ \b \f
 *    \n \r \t and \uXXXX are decoded; a surrogate pair becomes one 4-byte UTF-8
 *    sequence; a lone or reversed surrogate becomes U+FFFD; \u0000 becomes a NUL
 *    byte. The decoded text is therefore valid UTF-8.
 *  - raw_at[i] is the JSON offset of the first raw byte of the sequence that
 *    produced text[i]: a backslash escape (2 bytes, 6 for \uXXXX, 12 for a
 *    surrogate pair) or a raw UTF-8 sequence (1-4 bytes; all bytes of a raw
 *    multi-byte character share the offset of its lead byte). Separators have
 *    SLUICE_JSON_NO_RAW. The raw extent of text[i] runs from raw_at[i] to the
 *    next different raw_at of the same value, or to the value's closing quote;
 *    every raw byte of a string value belongs to exactly one such extent.
 *  - Hot path: one forward pass, no allocation, no system calls; runs of plain
 *    bytes are found eight at a time and copied with memcpy.
 *
 * Outcome precedence: the first structural error (MALFORMED or TOO_DEEP) in
 * document order wins; TOO_LONG is returned only for an otherwise valid
 * document. Unless the outcome is VALUES, out->len and out->values are 0.
 */
#ifndef SLUICE_WIRE_JSON_TEXT_H
#define SLUICE_WIRE_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLUICE_JSON_MAX_MEMBERS 8
#define SLUICE_JSON_MAX_NAME	32	   /* bytes of a member name */
#define SLUICE_JSON_MAX_DEPTH	32	   /* nested objects and arrays, top level included */
#define SLUICE_JSON_NO_RAW	UINT32_MAX /* raw_at[] of a separator byte */

/* The member names to extract. name[i] holds len[i] bytes and is NUL-terminated
 * only when shorter than SLUICE_JSON_MAX_NAME. Zero-initialise before use. */
struct sluice_json_members {
	uint32_t count;
	uint8_t len[SLUICE_JSON_MAX_MEMBERS];
	char name[SLUICE_JSON_MAX_MEMBERS][SLUICE_JSON_MAX_NAME];
};

/* Adds one name of 1..SLUICE_JSON_MAX_NAME bytes: 0, or -1 when the set is full
 * or the name is empty, too long, not valid UTF-8, or contains '"', '\\', a
 * control character or DEL. A name already present is ignored (0). */
int sluice_json_members_add(struct sluice_json_members *m, const char *name, size_t len);

/* Parses a comma-separated list such as "text,content" (spaces and tabs around
 * a name are ignored) into m, replacing its contents. 0, or -1 with a reason in
 * err (when err_len > 0) and m unchanged: an empty list or name, a bad name, or
 * more than SLUICE_JSON_MAX_MEMBERS distinct names. Duplicates are ignored. */
int sluice_json_members_parse(struct sluice_json_members *m, const char *list, char *err,
			      size_t err_len);

enum sluice_json_outcome {
	SLUICE_JSON_VALUES,    /* an object or array; the matching values are in out (maybe none) */
	SLUICE_JSON_NOT_JSON,  /* first non-whitespace byte is not '{' or '[': scan it whole */
	SLUICE_JSON_MALFORMED, /* starts like JSON but is not valid JSON */
	SLUICE_JSON_TOO_DEEP,  /* nesting beyond SLUICE_JSON_MAX_DEPTH */
	SLUICE_JSON_TOO_LONG,  /* valid, but the decoded values do not fit out->cap */
};

struct sluice_json_text {
	uint8_t *text;	  /* caller's buffer of cap bytes: the decoded values and separators */
	uint32_t *raw_at; /* caller's buffer of cap entries: see the contract above */
	uint32_t cap;	  /* set by the caller */
	uint32_t len;	  /* decoded bytes in text, separators included */
	uint32_t values;  /* extracted values (= separators) */
};

/* Extracts the string values of the members m from json[0..len) into out (the
 * caller sets out->text, out->raw_at and out->cap; text may be written to even
 * when the outcome is not VALUES). */
enum sluice_json_outcome sluice_json_extract(const uint8_t *json, uint32_t len,
					     const struct sluice_json_members *m,
					     struct sluice_json_text *out);

/* Masks decoded bytes [from, to) of t->text in the raw JSON: every raw byte of
 * the whole escape or UTF-8 sequence that produced a byte in [from, to) becomes
 * '*' (to is clamped to t->len). Separators, quotes and everything outside the
 * string values are never touched, so the JSON keeps its length and stays valid.
 * json must be the buffer t was extracted from with the outcome VALUES, changed
 * since only by these mask functions. Returns the number of raw bytes changed
 * (bytes that were '*' already are not counted). */
uint32_t sluice_json_mask(uint8_t *json, uint32_t json_len, const struct sluice_json_text *t,
			  uint32_t from, uint32_t to);

/* Rewrites every extracted string value wholly (every raw byte between its
 * quotes) to '*': the in-stream "block" verdict. Returns the bytes changed. */
uint32_t sluice_json_blank_values(uint8_t *json, uint32_t json_len,
				  const struct sluice_json_text *t);

/* What of a message is scanned, in one place for the gateway and the
 * analysts' tool: the configured members' decoded values when the message is
 * JSON and members are configured (json true, text in jt), else the whole
 * message. outcome says which, and why a JSON-looking message was scanned
 * whole (MALFORMED, TOO_DEEP, TOO_LONG). */
struct sluice_scan_view {
	const uint8_t *text;
	uint32_t len;
	bool json;
	enum sluice_json_outcome outcome;
};

void sluice_json_scan_view(const uint8_t *msg, uint32_t len, const struct sluice_json_members *m,
			   struct sluice_json_text *jt, struct sluice_scan_view *out);

#endif
