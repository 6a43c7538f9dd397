#include "fold_data.h"

#include <unicode/uchar.h>
#include <unicode/uscript.h>
#include <unicode/uspoof.h>
#include <unicode/uversion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "unihan_file.h"
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

/* ASCII letters keep their case: rules say for themselves whether they are
 * caseless (Hyperscan folds ASCII case for those), so Ｇ is G, not g, and a
 * case-sensitive "GHB" still does not match inside "neighbor". Other letters
 * are folded to lower case, as NFKC_Casefold has them. Returns the mapping
 * to use: utf8 itself, or cased. */
static const uint8_t *keep_ascii_case(uint32_t cp, const uint8_t *utf8, size_t len, uint8_t *cased)
{
	if (!u_isUUppercase((UChar32)cp))
		return utf8;
	for (size_t i = 0; i < len; i++)
		cased[i] = utf8[i] >= 'a' && utf8[i] <= 'z' ? (uint8_t)(utf8[i] - 32) : utf8[i];
	return cased;
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
			uint8_t cased[64];
			int rc = sluice_fold_table_set(
			    t, cp, keep_ascii_case(cp, utf8, (size_t)len, cased), (uint32_t)len);
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

long sluice_fold_load_simplified(struct sluice_fold_table *t, const char *path, char *err,
				 size_t err_len)
{
	struct sluice_unihan_file r;
	if (sluice_unihan_open(&r, path, err, err_len) != 0)
		return -1;
	struct sluice_fold_table simp;
	if (sluice_fold_table_init(&simp) != 0) {
		sluice_unihan_close(&r);
		sluice_set_err(err, err_len, "out of memory");
		return -1;
	}
	char line[1024], version[96] = "";
	bool bad = false, named = false;
	long count = 0;
	unsigned lineno = 0;
	while (sluice_unihan_line(&r, line, sizeof(line), &bad)) {
		lineno++;
		if (strcmp(line, "# Unihan_Variants.txt") == 0)
			named = true;
		if (named && version[0] == '\0' && strncmp(line, "# Date: ", 8) == 0)
			snprintf(version, sizeof(version), "Unihan_Variants.txt %.10s", line + 8);
		const char *p = line;
		uint32_t from, to;
		if (line[0] == '#' || line[0] == '\0' || !sluice_unihan_cp(&p, &from))
			continue;
		if (strncmp(p, "\tkSimplifiedVariant\t", 20) != 0)
			continue;
		p += 20;
		/* The first simplified form, unless the character is one of its
		 * own (then it is simplified in some of its senses). */
		uint32_t first = 0;
		bool self = false;
		while (sluice_unihan_cp(&p, &to)) {
			if (first == 0)
				first = to;
			self |= to == from;
			while (*p == ' ')
				p++;
		}
		if (first == 0) {
			bad = true;
			break;
		}
		if (self || from < 0x80 || first < 0x80)
			continue;
		uint8_t utf8[4];
		if (sluice_fold_table_set(&simp, from, utf8, sluice_utf8_encode(first, utf8)) < 0) {
			bad = true;
			break;
		}
		count++;
	}
	sluice_unihan_close(&r);
	if (bad || version[0] == '\0') {
		sluice_fold_table_free(&simp);
		sluice_set_err(err, err_len, "%s:%u: %s", path, lineno,
			       bad ? "not a kSimplifiedVariant line, or a corrupt file"
				   : "no date line: not Unihan_Variants.txt");
		return -1;
	}
	int rc = sluice_fold_table_compose(t, &simp);
	sluice_fold_table_free(&simp);
	if (rc != 0) {
		sluice_set_err(err, err_len, "the folding table is full");
		return -1;
	}
	size_t used = strlen(t->versions);
	snprintf(t->versions + used, sizeof(t->versions) - used, "%s%s", used ? ", " : "", version);
	return count;
}

static bool skip_script(UChar32 c)
{
	UErrorCode st = U_ZERO_ERROR;
	UScriptCode sc = uscript_getScript(c, &st);
	return U_FAILURE(st) || sc == USCRIPT_HAN || sc == USCRIPT_HANGUL ||
	       sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA;
}

long sluice_fold_load_confusables(struct sluice_fold_table *t, char *err, size_t err_len)
{
	UErrorCode st = U_ZERO_ERROR;
	USpoofChecker *sc = uspoof_open(&st);
	struct sluice_fold_table conf;
	if (U_FAILURE(st)) {
		sluice_set_err(err, err_len, "ICU spoof checker: %s", u_errorName(st));
		return -1;
	}
	if (sluice_fold_table_init(&conf) != 0) {
		uspoof_close(sc);
		sluice_set_err(err, err_len, "out of memory");
		return -1;
	}
	long count = 0;
	int rc = 0;
	for (UChar32 c = 0x80; c < (UChar32)SLUICE_FOLD_CODE_POINTS && rc == 0; c++) {
		if (!u_isalnum(c) || skip_script(c))
			continue;
		UChar src[2], skel[8];
		int32_t slen = 0;
		U16_APPEND_UNSAFE(src, slen, c);
		st = U_ZERO_ERROR;
		int32_t n = uspoof_getSkeleton(sc, 0, src, slen, skel, 8, &st);
		if (U_FAILURE(st) || n != 1 || skel[0] >= 0x80 ||
		    !((skel[0] >= 'a' && skel[0] <= 'z') || (skel[0] >= 'A' && skel[0] <= 'Z') ||
		      (skel[0] >= '0' && skel[0] <= '9')))
			continue;
		/* The case of the character that imitates: skeletons do not
		 * keep it (Cyrillic В's is B, but capital Ι's is l, as I's is). */
		uint8_t to = (uint8_t)skel[0];
		if (to >= 'A' && to <= 'Z')
			to = (uint8_t)(to + 32);
		if (to >= 'a' && to <= 'z' && u_isUUppercase(c))
			to = to == 'l' ? 'I' : (uint8_t)(to - 32);
		rc = sluice_fold_table_set(&conf, (uint32_t)c, &to, 1);
		count++;
	}
	uspoof_close(sc);
	/* After the earlier stages (what they make of a character is folded
	 * too); and a character that itself imitates ASCII is that ASCII,
	 * whatever case folding made of it first (Cyrillic З is 3, though its
	 * lower case з imitates nothing). */
	if (rc == 0)
		rc = sluice_fold_table_compose(t, &conf);
	for (uint32_t c = 0x80; c < SLUICE_FOLD_CODE_POINTS && rc == 0; c++) {
		uint32_t e = c >= 0xd800 && c <= 0xdfff ? 0 : sluice_fold_entry_of(&conf, c);
		if (e != 0)
			rc = sluice_fold_table_set(t, c, conf.bytes + conf.entry[e].off, 1);
	}
	if (rc < 0) {
		sluice_fold_table_free(&conf);
		sluice_set_err(err, err_len, "the folding table is full");
		return -1;
	}
	sluice_fold_table_free(&conf);
	size_t used = strlen(t->versions);
	snprintf(t->versions + used, sizeof(t->versions) - used,
		 "%sICU %s confusables (Unicode %s)", used ? ", " : "", U_ICU_VERSION,
		 U_UNICODE_VERSION);
	return count;
}

int sluice_fold_build_narrow(struct sluice_fold_table *t, const char *dir, char *err,
			     size_t err_len)
{
	char nfkc[512], unihan[512];
	snprintf(nfkc, sizeof(nfkc), "%s/DerivedNormalizationProps.txt", dir);
	snprintf(unihan, sizeof(unihan), "%s/Unihan_Variants.txt.bz2", dir);
	if (sluice_fold_table_init(t) != 0) {
		sluice_set_err(err, err_len, "out of memory for the folding table");
		return -1;
	}
	if (sluice_fold_load_nfkc_cf(t, nfkc, err, err_len) < 0 ||
	    sluice_fold_load_simplified(t, unihan, err, err_len) < 0 ||
	    sluice_fold_load_confusables(t, err, err_len) < 0) {
		sluice_fold_table_free(t);
		return -1;
	}
	if (sluice_fold_table_settle(t) != 0 || sluice_fold_table_compact(t) != 0) {
		sluice_fold_table_free(t);
		sluice_set_err(err, err_len, "the folding table does not settle, or out of memory");
		return -1;
	}
	return 0;
}

/* The narrow table as pack bytes, built once per process: compiling a pack
 * (the daemon's start, every reload, every test) then costs a parse, not the
 * reading of Unicode's files. */
static pthread_mutex_t narrow_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *narrow_blob;
static size_t narrow_len;

struct sluice_fold_table *sluice_fold_narrow(char *err, size_t err_len)
{
	pthread_mutex_lock(&narrow_lock);
	if (narrow_blob == NULL) {
		struct sluice_fold_table t;
		if (sluice_fold_build_narrow(&t, SLUICE_UNICODE_DIR, err, err_len) != 0) {
			pthread_mutex_unlock(&narrow_lock);
			return NULL;
		}
		if (sluice_fold_table_serialize(&t, &narrow_blob, &narrow_len) != 0)
			narrow_blob = NULL;
		sluice_fold_table_free(&t);
	}
	struct sluice_fold_table *copy = narrow_blob ? malloc(sizeof(*copy)) : NULL;
	char why[160];
	if (copy != NULL &&
	    sluice_fold_table_parse(copy, narrow_blob, narrow_len, why, sizeof(why)) != 0) {
		free(copy);
		copy = NULL;
	}
	pthread_mutex_unlock(&narrow_lock);
	if (copy == NULL)
		sluice_set_err(err, err_len, "out of memory for the folding table");
	return copy;
}
