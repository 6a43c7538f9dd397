#include "fold_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "utf8.h"

/* "XXXX" or "XXXX..YYYY" at the start of line. */
static bool parse_range(const char *line, uint32_t *first, uint32_t *last)
{
	char *end;
	errno = 0;
	unsigned long a = strtoul(line, &end, 16);
	if (end == line || errno != 0 || a >= SLUICE_FOLD_CODE_POINTS)
		return false;
	unsigned long b = a;
	if (end[0] == '.' && end[1] == '.') {
		const char *p = end + 2;
		b = strtoul(p, &end, 16);
		if (end == p || b < a || b >= SLUICE_FOLD_CODE_POINTS)
			return false;
	}
	*first = (uint32_t)a;
	*last = (uint32_t)b;
	return true;
}

/* The replacement after the second ';' (hex code points, maybe none), as
 * UTF-8 into out. Returns its length, or -1 when malformed or too long. */
static long parse_mapping(const char *field, uint8_t *out, size_t cap)
{
	size_t len = 0;
	const char *p = field;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#' || *p == '\n' || *p == '\r')
			return (long)len;
		char *end;
		unsigned long cp = strtoul(p, &end, 16);
		if (end == p || cp >= SLUICE_FOLD_CODE_POINTS || len + 4 > cap)
			return -1;
		len += sluice_utf8_encode((uint32_t)cp, out + len);
		p = end;
	}
}

long sluice_fold_load_nfkc_cf(struct sluice_fold_table *t, const char *path, char *err,
			      size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		sluice_set_err(err, err_len, "%s: %s (Debian: apt-get install unicode-data)", path,
			       strerror(errno));
		return -1;
	}
	char line[1024];
	long count = 0;
	unsigned lineno = 0;
	bool versioned = false;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (!versioned && strncmp(line, "# DerivedNormalizationProps-", 28) == 0) {
			char *v = line + 2;
			v[strcspn(v, "\r\n")] = '\0';
			size_t used = strlen(t->versions);
			snprintf(t->versions + used, sizeof(t->versions) - used, "%s%s",
				 used ? ", " : "", v);
			versioned = true;
		}
		char *prop = strchr(line, ';');
		if (line[0] == '#' || prop == NULL)
			continue;
		char *name = prop + 1;
		while (*name == ' ')
			name++;
		if (strncmp(name, "NFKC_CF", 7) != 0 || (name[7] != ';' && name[7] != ' '))
			continue;
		char *map = strchr(name, ';');
		uint32_t first, last;
		uint8_t utf8[64];
		long len = map ? parse_mapping(map + 1, utf8, sizeof(utf8)) : -1;
		if (len < 0 || !parse_range(line, &first, &last)) {
			sluice_set_err(err, err_len, "%s:%u: not an NFKC_CF line", path, lineno);
			fclose(f);
			return -1;
		}
		for (uint32_t cp = first; cp <= last; cp++) {
			if (cp < 0x80 || (cp >= 0xd800 && cp <= 0xdfff))
				continue;
			int rc = sluice_fold_table_set(t, cp, utf8, (uint32_t)len);
			if (rc < 0) {
				sluice_set_err(err, err_len, "%s:%u: the table is full", path,
					       lineno);
				fclose(f);
				return -1;
			}
			count += rc == 0;
		}
	}
	fclose(f);
	if (!versioned) {
		sluice_set_err(err, err_len,
			       "%s: no version line: not DerivedNormalizationProps.txt", path);
		return -1;
	}
	return count;
}
