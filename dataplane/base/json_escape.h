/* JSON string escaping, the one place it is decided.
 *
 * Contract: the output is always valid JSON string content in UTF-8: quote
 * and backslash are escaped, newline, tab and carriage return take their
 * short forms, other control characters and DEL are \u00XX, valid UTF-8
 * sequences pass whole (through the wire layer's UTF-8 gate), and a byte
 * that starts no valid sequence becomes U+FFFD. Every writer that puts text
 * into JSON (control replies, events, sluice-pack, the benchmarks) escapes
 * one character at a time with this, so a cut never splits a character or
 * an escape.
 */
#ifndef SLUICE_BASE_JSON_ESCAPE_H
#define SLUICE_BASE_JSON_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

#define SLUICE_JSON_ESCAPE_MAX 8 /* "\u00XX", "\ufffd" or a 4-byte sequence, and room */

/* Writes the JSON form of the character at s[0..rem) (rem > 0) to out and
 * returns its length; *consumed is how many input bytes it stood for. */
size_t sluice_json_escape_next(const uint8_t *s, size_t rem, char out[SLUICE_JSON_ESCAPE_MAX],
			       size_t *consumed);

#endif
