/* sluice-gen's growable byte buffer, and reading a whole file into one.
 *
 * Contract: sluice-gen is a short-lived generator, so running out of memory
 * ends the process (status 1, a message on stderr) instead of being reported
 * by every caller.
 */
#ifndef SLUICE_GEN_BUFFER_H
#define SLUICE_GEN_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data;
	size_t len, cap;
};

/* realloc that exits on failure; n == 0 still returns a pointer. */
void *xrealloc(void *p, size_t n);

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);

/* out's bytes become the file's; false (errno set) if it cannot be read. */
bool read_file(const char *path, struct buf *out);

#endif
