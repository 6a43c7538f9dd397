#include "unihan_file.h"

#include <stdlib.h>
#include <string.h>

#include "fold_table.h"
#include "message.h"

int sluice_unihan_open(struct sluice_unihan_file *r, const char *path, char *err, size_t err_len)
{
	memset(r, 0, sizeof(*r));
	r->f = fopen(path, "rb");
	int bzerr = BZ_OK;
	if (r->f != NULL)
		r->bz = BZ2_bzReadOpen(&bzerr, r->f, 0, 0, NULL, 0);
	if (r->f == NULL || bzerr != BZ_OK) {
		if (r->f != NULL)
			fclose(r->f);
		sluice_set_err(err, err_len,
			       "%s: cannot read (Debian: apt-get install unicode-data)", path);
		return -1;
	}
	return 0;
}

void sluice_unihan_close(struct sluice_unihan_file *r)
{
	int bzerr;
	BZ2_bzReadClose(&bzerr, r->bz);
	fclose(r->f);
}

bool sluice_unihan_line(struct sluice_unihan_file *r, char *line, size_t cap, bool *bad)
{
	size_t n = 0;
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				return n > 0 ? (line[n] = '\0', true) : false;
			int bzerr;
			int got = BZ2_bzRead(&bzerr, r->bz, r->buf, sizeof(r->buf));
			if (bzerr != BZ_OK && bzerr != BZ_STREAM_END) {
				*bad = true;
				return false;
			}
			r->len = got > 0 ? (size_t)got : 0;
			r->pos = 0;
			r->eof = bzerr == BZ_STREAM_END;
			continue;
		}
		char c = r->buf[r->pos++];
		if (c == '\n') {
			line[n] = '\0';
			return true;
		}
		if (n + 1 < cap)
			line[n++] = c;
	}
}

bool sluice_unihan_cp(const char **p, uint32_t *cp)
{
	if ((*p)[0] != 'U' || (*p)[1] != '+')
		return false;
	char *end;
	unsigned long v = strtoul(*p + 2, &end, 16);
	if (end == *p + 2 || v >= SLUICE_FOLD_CODE_POINTS)
		return false;
	*cp = (uint32_t)v;
	*p = end;
	return true;
}
