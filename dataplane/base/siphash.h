/* SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash of a few bytes.
 *
 * Events carry the matched text's hash so reviewers can group the same
 * words, numbers and IDs without the text itself. Keyed, because an unkeyed
 * hash of a phone number is the phone number to anyone who hashes every
 * number: with a key kept secret (and shared across a fleet so hashes agree)
 * the hash names a text only to those who hold the key.
 */
#ifndef SLUICE_BASE_SIPHASH_H
#define SLUICE_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* key[0] and key[1] are the key's bytes 0-7 and 8-15, little-endian. */
uint64_t sluice_siphash24(const uint64_t key[2], const void *data, size_t len);

/* Reads a key written as 32 hex digits (16 bytes, e.g. `openssl rand -hex 16`),
 * surrounding white space allowed. Returns 0, or -1 for anything else. */
int sluice_siphash_key_parse(const char *hex, uint64_t key[2]);

#endif
