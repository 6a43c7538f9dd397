/* Unihan's files as Debian ships them (unicode-data: bzip2-compressed, in
 * /usr/share/unicode), read line by line, for the folding tables
 * (fold_data.c, fold_optin.c).
 *
 * Contract: reads the file; allocates nothing beyond the reader.
 */
#ifndef SLUICE_LANGUAGE_UNIHAN_FILE_H
#define SLUICE_LANGUAGE_UNIHAN_FILE_H

#include <bzlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct sluice_unihan_file {
	FILE *f;
	BZFILE *bz;
	char buf[65536];
	size_t len, pos;
	bool eof;
};

/* 0, or -1 with err set (naming the file and the package that has it) when
 * it cannot be opened or is not bzip2. */
int sluice_unihan_open(struct sluice_unihan_file *r, const char *path, char *err, size_t err_len);
void sluice_unihan_close(struct sluice_unihan_file *r);

/* The next line (without its newline) into line, cut to cap - 1 bytes; false
 * at the end or on a corrupt stream (*bad then set). */
bool sluice_unihan_line(struct sluice_unihan_file *r, char *line, size_t cap, bool *bad);

/* "U+XXXX" at *p as a code point; advances past it. */
bool sluice_unihan_cp(const char **p, uint32_t *cp);

#endif
