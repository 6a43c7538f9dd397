/* Helpers the pack modules share (pack_file.c, pack_sign.c). Not part of the
 * library's interface. */
#ifndef SLUICE_PATTERNS_PACK_INTERNAL_H
#define SLUICE_PATTERNS_PACK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pack.h"

/* Reads a whole regular pack file of at most the largest pack this build
 * reads and, with limits, at most limits->max_bytes; the size is checked
 * before a byte is read. Messages start with the path. */
int sluice_read_file(const char *path, const struct sluice_load_limits *limits, uint8_t **out,
		     size_t *out_len, char *err, size_t err_len);

int sluice_sha256(const uint8_t *data, size_t len, uint8_t digest[32]);

/* Lower-case hex of n bytes into hex (2n + 1 bytes). */
void sluice_to_hex(const uint8_t *bytes, size_t n, char *hex);

#endif
