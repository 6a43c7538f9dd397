/* A growable string for building JSON replies and reports (control thread
 * and tools; never the packet path, which does not allocate). */
#ifndef SLUICE_BASE_STRBUF_H
#define SLUICE_BASE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sluice_strbuf {
	char *data;
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed; data holds what fitted */
};

void sluice_strbuf_init(struct sluice_strbuf *sb);
void sluice_strbuf_printf(struct sluice_strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string (json_escape.h). */
void sluice_strbuf_json_string(struct sluice_strbuf *sb, const char *s);
void sluice_strbuf_free(struct sluice_strbuf *sb);

#endif
