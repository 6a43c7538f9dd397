#include "gen_corpus.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gen_cut.h"
#include "utf8.h"

enum cp_class { CP_TEXT, CP_SPACE, CP_INVISIBLE };

/* Non-ASCII spaces (no-break, typographic, ideographic) and C1 controls count as
 * whitespace; zero-width characters are dropped, because they are what evasion
 * looks like and the corpus should be ordinary text. */
static enum cp_class cp_classify(const uint8_t *p, size_t n)
{
	uint32_t cp;

	if (n == 1)
		return CP_TEXT;
	if (n == 2)
		cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
	else if (n == 3)
		cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) |
		     (p[2] & 0x3f);
	else
		return CP_TEXT;
	if ((cp >= 0x80 && cp <= 0xa0) || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return CP_SPACE;
	if ((cp >= 0x200b && cp <= 0x200f) || cp == 0x2060 || cp == 0xfeff || cp == 0x00ad)
		return CP_INVISIBLE;
	return CP_TEXT;
}

/* Turns one raw entry (a fortune, a line) into clean text: terminal escapes and
 * backspace overstriking (both common in fortune files) removed, invalid UTF-8
 * dropped, whitespace collapsed to single spaces. A line break inside Chinese
 * prose is not a word break, so whitespace between two non-ASCII characters
 * goes away entirely. */
static void corpus_add_entry(struct corpus *c, const char *raw, size_t len, struct buf *scratch)
{
	const uint8_t *p = (const uint8_t *)raw;
	bool pending_space = false;
	size_t i = 0;

	scratch->len = 0;
	buf_reserve(scratch, len);
	while (i < len) {
		uint8_t ch = p[i];

		if (ch == 0x1b) {
			i++;
			if (i < len && p[i] == '[') {
				i++;
				while (i < len && !(p[i] >= 0x40 && p[i] <= 0x7e))
					i++;
			}
			i++;
			continue;
		}
		if (ch == '\b') {
			/* Overstrike prints the next character over the last one. */
			while (scratch->len > 0 &&
			       ((uint8_t)scratch->data[scratch->len - 1] & 0xc0) == 0x80)
				scratch->len--;
			if (scratch->len > 0)
				scratch->len--;
			i++;
			continue;
		}
		if (ch <= 0x20 || ch == 0x7f) {
			pending_space = true;
			i++;
			continue;
		}
		size_t n = sluice_utf8_sequence_len(p + i, len - i);
		if (n == 0) {
			i++;
			continue;
		}
		enum cp_class cls = cp_classify(p + i, n);
		if (cls != CP_TEXT) {
			pending_space |= cls == CP_SPACE;
			i += n;
			continue;
		}
		if (pending_space && scratch->len > 0) {
			uint8_t prev = (uint8_t)scratch->data[scratch->len - 1];
			if (prev < 0x80 || ch < 0x80)
				scratch->data[scratch->len++] = ' ';
		}
		pending_space = false;
		memcpy(scratch->data + scratch->len, p + i, n);
		scratch->len += n;
		i += n;
	}
	if (scratch->len)
		corpus_add_clean(c, scratch->data, scratch->len);
}

/* A file of lines, or, if any line is a lone '%', of fortune entries. */
bool corpus_load_file(struct corpus *c, const char *path, struct buf *scratch)
{
	struct buf raw = {0};

	if (!read_file(path, &raw)) {
		free(raw.data);
		return false;
	}
	bool fortune = false;
	for (size_t i = 0; i < raw.len; i++) {
		if (raw.data[i] == '%' && (i == 0 || raw.data[i - 1] == '\n') &&
		    (i + 1 == raw.len || raw.data[i + 1] == '\n')) {
			fortune = true;
			break;
		}
	}
	size_t start = 0, entry = 0;
	for (size_t i = 0; i <= raw.len; i++) {
		if (i < raw.len && raw.data[i] != '\n')
			continue;
		if (!fortune) {
			corpus_add_entry(c, raw.data + start, i - start, scratch);
		} else if (i - start == 1 && raw.data[start] == '%') {
			corpus_add_entry(c, raw.data + entry, start - entry, scratch);
			entry = i + 1;
		} else if (i == raw.len && entry < raw.len) {
			corpus_add_entry(c, raw.data + entry, raw.len - entry, scratch);
		}
		start = i + 1;
	}
	c->files++;
	free(raw.data);
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* Regular files of a fortune directory in name order, so that the corpus (and
 * with it the output) does not depend on directory order. Symlinks are skipped:
 * Debian's *.u8 names point at the same files. Subdirectories are skipped: off/
 * holds the offensive set. */
void corpus_load_fortune_dir(struct corpus *c, const char *dir, struct buf *scratch)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.' || has_suffix(e->d_name, ".dat") ||
		    has_suffix(e->d_name, ".u8") || has_suffix(e->d_name, ".pdat"))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			fprintf(stderr, "sluice-gen: out of memory\n");
			exit(1);
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		corpus_load_file(c, path, scratch);
		free(names[i]);
	}
	free(names);
}

bool corpus_load_bundled(struct corpus *c, struct buf *scratch)
{
	static const char *const rel = "bench/data/chat-sample.txt";
	char exe[PATH_MAX], path[PATH_MAX];

	if (corpus_load_file(c, rel, scratch))
		return true;
	/* From the build tree: <build>/dataplane/sluice-gen next to
	 * <src>/bench/data. */
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(path, sizeof(path), "%s/../../%s", exe, rel) <
				(int)sizeof(path) &&
			    corpus_load_file(c, path, scratch))
				return true;
			if (snprintf(path, sizeof(path), "%s/../share/sluice/chat-sample.txt",
				     exe) < (int)sizeof(path) &&
			    corpus_load_file(c, path, scratch))
				return true;
		}
	}
	return corpus_load_file(c, "/usr/share/sluice/chat-sample.txt", scratch);
}

void corpus_free(struct corpus *c)
{
	free(c->text.data);
	free(c->pieces);
}
