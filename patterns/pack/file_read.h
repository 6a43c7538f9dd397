/* Opening and reading the files that rules and packs are made of: rule files,
 * lists, packs, keys, corpora, configuration.
 *
 * Contract: only regular files are read. The open itself never blocks
 * (O_NONBLOCK) and the file's type is checked on the open descriptor before a
 * byte is read, so a FIFO, socket or device named by mistake or on purpose is
 * refused at once ("not a regular file") instead of hanging the reader: the
 * daemon's control thread reads packs, and nothing may hold it. Messages
 * (`why`) do not name the file; callers put the path in front.
 */
#ifndef SLUICE_PATTERNS_FILE_READ_H
#define SLUICE_PATTERNS_FILE_READ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* An open descriptor (O_CLOEXEC, blocking again once checked) for a regular
 * file, or -1 with why. */
int sluice_file_open_regular(const char *path, char *why, size_t why_len);

/* The same as a stdio stream ("rb"), for line readers. */
FILE *sluice_file_fopen_regular(const char *path, char *why, size_t why_len);

/* Reads a whole regular file of at most limit bytes into *out (malloc'd, with
 * a NUL after the last byte, which *len does not count). `what` names the
 * kind of file in the too-large message ("rule file", "pack"). */
int sluice_file_read_all(const char *path, uint64_t limit, const char *what, char **out,
			 size_t *len, char *why, size_t why_len);

/* The same for a secret (a password, a private key, credentials): also
 * refused when others than its owner and group may read or write it, or
 * when it holds a NUL byte, so that *out is one C string of *len bytes. */
int sluice_file_read_private(const char *path, uint64_t limit, char **out, size_t *len, char *why,
			     size_t why_len);

#endif
