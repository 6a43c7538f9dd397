/* UTF-8 validation, repair and code-point boundaries.
 *
 * Validation is strict (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF, no truncated sequences. It is the gate in front of Hyperscan's
 * UTF-8 mode, whose behaviour on invalid input is undefined, so it must accept
 * nothing that is not UTF-8. ASCII runs are checked eight bytes at a time.
 */
#ifndef SLUICE_DATAPLANE_UTF8_H
#define SLUICE_DATAPLANE_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

bool sluice_utf8_valid(const uint8_t *s, size_t len);

/* Replaces every byte that is not part of a valid sequence with '?', so the
 * text keeps its length and becomes valid. Returns how many bytes it replaced. */
size_t sluice_utf8_repair(uint8_t *s, size_t len);

/* Widens [*from, *to) of valid UTF-8 text s[0..len) to whole code points. */
void sluice_utf8_widen(const uint8_t *s, size_t len, uint32_t *from, uint32_t *to);

#endif
