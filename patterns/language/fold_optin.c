#include "fold_optin.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fold_data.h"
#include "message.h"
#include "unihan_file.h"
#include "utf8.h"

/* Han characters with readings: the URO block, where Unihan's frequency data
 * (kHanyuPinlu) lies. */
#define HAN_FIRST     0x4E00u
#define HAN_LAST      0x9FFFu
#define HAN_COUNT     (HAN_LAST - HAN_FIRST + 1)
#define READINGS_MAX  4	   /* per character */
#define NUMERALS_MAX  16   /* per digit */
#define READING_SLOTS 8192 /* more than twice the readings there are (about 1,500) */

struct reading {
	char text[16]; /* pinyin with its tone mark, UTF-8 */
	uint32_t *members;
	uint32_t count, cap;
};

struct sluice_optin_data {
	uint32_t numerals[10][NUMERALS_MAX]; /* folded */
	uint32_t numeral_count[10];
	/* per Han character (folded form): its readings, indexes into reading */
	uint16_t char_reading[HAN_COUNT][READINGS_MAX];
	uint8_t char_readings[HAN_COUNT];
	bool common[HAN_COUNT];	  /* has a frequency in kHanyuPinlu */
	bool standard[HAN_COUNT]; /* in the Table of General Standard Chinese Characters */
	struct reading *reading;
	uint32_t readings, readings_cap;
	uint16_t by_text[READING_SLOTS]; /* open addressing: reading index + 1 */
	char versions[256];
};

const char *sluice_optin_name(unsigned bit)
{
	switch (bit) {
	case SLUICE_OPTIN_HOMOPHONES:
		return "homophones";
	case SLUICE_OPTIN_DIGIT_WORDS:
		return "digit_words";
	case SLUICE_OPTIN_SEPARATORS:
		return "separators";
	default:
		return "?";
	}
}

/* Spaces, ASCII punctuation and symbols, the middle dot, dashes, quotes and
 * bullets, miscellaneous symbols and dingbats (hearts, stars), CJK punctuation
 * (not 〇, a numeral), and emoji. Full-width punctuation is folded to ASCII
 * before the scan. Kept this small on purpose: with start-of-match tracking,
 * Hyperscan refuses a pattern whose repeated classes span too many UTF-8
 * sequences ("Pattern is too large"). */
const char *sluice_optin_separators(bool spaces)
{
	return spaces ? "\\x20-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e\\x{b7}\\x{2010}-\\x{2027}"
			"\\x{2600}-\\x{27bf}\\x{3000}-\\x{3006}\\x{3008}-\\x{303f}\\x{1f300}-\\x{"
			"1faff}"
		      : "\\x21-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7e\\x{b7}\\x{2010}-\\x{2027}"
			"\\x{2600}-\\x{27bf}\\x{3001}-\\x{3006}\\x{3008}-\\x{303f}\\x{1f300}-\\x{"
			"1faff}";
}

const char *sluice_optin_versions(const struct sluice_optin_data *d)
{
	return d->versions;
}

/* cp in folded form: one code point, or cp itself when it folds to several
 * or none. */
static uint32_t folded(const struct sluice_fold_table *t, uint32_t cp)
{
	uint32_t e = cp < 0x80 ? 0 : sluice_fold_entry_of(t, cp);
	if (e == 0 || t->entry[e].len == 0)
		return cp;
	uint32_t n;
	uint32_t to = sluice_utf8_decode(t->bytes + t->entry[e].off, &n);
	return n == t->entry[e].len ? to : cp;
}

static bool add_unique(uint32_t *list, uint32_t *count, uint32_t cap, uint32_t cp)
{
	for (uint32_t k = 0; k < *count; k++)
		if (list[k] == cp)
			return true;
	if (*count == cap)
		return false;
	list[(*count)++] = cp;
	return true;
}

/* The reading's index, added when new; -1 when out of memory. */
static long reading_id(struct sluice_optin_data *d, const char *text, size_t len)
{
	if (len == 0 || len >= sizeof(d->reading[0].text))
		return -1;
	uint32_t h = 2166136261u;
	for (size_t k = 0; k < len; k++)
		h = (h ^ (uint8_t)text[k]) * 16777619u;
	uint32_t slot = h & (READING_SLOTS - 1);
	for (; d->by_text[slot] != 0; slot = (slot + 1) & (READING_SLOTS - 1)) {
		const char *t = d->reading[d->by_text[slot] - 1].text;
		if (strlen(t) == len && memcmp(t, text, len) == 0)
			return d->by_text[slot] - 1;
	}
	if (d->readings >= READING_SLOTS / 2)
		return -1;
	if (d->readings == d->readings_cap) {
		uint32_t cap = d->readings_cap ? d->readings_cap * 2 : 512;
		struct reading *r = realloc(d->reading, cap * sizeof(*r));
		if (r == NULL)
			return -1;
		d->reading = r;
		d->readings_cap = cap;
	}
	struct reading *r = &d->reading[d->readings];
	memset(r, 0, sizeof(*r));
	memcpy(r->text, text, len);
	d->by_text[slot] = (uint16_t)(d->readings + 1);
	return d->readings++;
}

static int add_member(struct reading *r, uint32_t cp)
{
	for (uint32_t k = 0; k < r->count; k++)
		if (r->members[k] == cp)
			return 0;
	if (r->count == r->cap) {
		uint32_t cap = r->cap ? r->cap * 2 : 8;
		uint32_t *m = realloc(r->members, cap * sizeof(*m));
		if (m == NULL)
			return -1;
		r->members = m;
		r->cap = cap;
	}
	r->members[r->count++] = cp;
	return 0;
}

/* One reading of a character (folded form f); common characters are also
 * members of the reading. */
static int note_reading(struct sluice_optin_data *d, uint32_t f, const char *text, size_t len,
			bool common)
{
	if (f < HAN_FIRST || f > HAN_LAST)
		return 0;
	long id = reading_id(d, text, len);
	if (id < 0)
		return -1;
	uint32_t i = f - HAN_FIRST;
	bool have = false;
	for (uint8_t k = 0; k < d->char_readings[i]; k++)
		have |= d->char_reading[i][k] == (uint16_t)id;
	if (!have && d->char_readings[i] < READINGS_MAX)
		d->char_reading[i][d->char_readings[i]++] = (uint16_t)id;
	if (common)
		d->common[i] = true;
	return 0;
}

/* Each space-separated value of a kHanyuPinlu ("wēi(511)") or kMandarin
 * ("wēi") field. */
static int note_readings(struct sluice_optin_data *d, uint32_t f, const char *values, bool common)
{
	const char *p = values;
	while (*p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " (");
		if (n > 0 && note_reading(d, f, p, n, common) != 0)
			return -1;
		p += strcspn(p, " ");
	}
	return 0;
}

/* One pass: a character's lines come in the order of their field names, so
 * its kHanyuPinlu (which makes it common, and a member of its readings) comes
 * before its kMandarin (more readings) and its kTGHZ2013. */
static int load_readings(struct sluice_optin_data *d, const struct sluice_fold_table *t,
			 const char *path, char *err, size_t err_len)
{
	struct sluice_unihan_file r;
	if (sluice_unihan_open(&r, path, err, err_len) != 0)
		return -1;
	char line[4096];
	bool bad = false;
	int rc = 0;
	while (rc == 0 && sluice_unihan_line(&r, line, sizeof(line), &bad)) {
		const char *p = line;
		uint32_t cp;
		if (line[0] != 'U' || !sluice_unihan_cp(&p, &cp) || *p != '\t' || cp < HAN_FIRST ||
		    cp > HAN_LAST)
			continue;
		p++;
		bool pinlu = strncmp(p, "kHanyuPinlu\t", 12) == 0;
		bool mandarin = strncmp(p, "kMandarin\t", 10) == 0;
		bool standard = strncmp(p, "kTGHZ2013\t", 10) == 0;
		if (!pinlu && !mandarin && !standard)
			continue;
		uint32_t f = folded(t, cp);
		if (f < HAN_FIRST || f > HAN_LAST)
			continue;
		if (standard)
			d->standard[f - HAN_FIRST] = true;
		else
			rc = note_readings(d, f, p + (pinlu ? 12 : 10), pinlu);
	}
	sluice_unihan_close(&r);
	/* Members of their readings: the characters in common use (with a
	 * frequency, or in the standard table), which are what people type. */
	for (uint32_t i = 0; i < HAN_COUNT && rc == 0; i++) {
		if (!d->common[i] && !d->standard[i])
			continue;
		for (uint8_t k = 0; k < d->char_readings[i] && rc == 0; k++)
			rc = add_member(&d->reading[d->char_reading[i][k]], HAN_FIRST + i);
	}
	if (bad || rc != 0) {
		sluice_set_err(err, err_len, "%s: %s", path,
			       bad ? "a corrupt file" : "out of memory, or too many readings");
		return -1;
	}
	return 0;
}

static int load_numerals(struct sluice_optin_data *d, const struct sluice_fold_table *t,
			 const char *path, char *err, size_t err_len)
{
	struct sluice_unihan_file r;
	if (sluice_unihan_open(&r, path, err, err_len) != 0)
		return -1;
	char line[512];
	bool bad = false;
	while (sluice_unihan_line(&r, line, sizeof(line), &bad)) {
		const char *p = line;
		uint32_t cp;
		if (!sluice_unihan_cp(&p, &cp) || *p != '\t' || cp < 0x3000 || cp > HAN_LAST)
			continue;
		p++;
		const char *tab = strchr(p, '\t');
		if (tab == NULL || (strncmp(p, "kPrimaryNumeric", 15) != 0 &&
				    strncmp(p, "kAccountingNumeric", 18) != 0 &&
				    strncmp(p, "kOtherNumeric", 13) != 0))
			continue;
		if (tab[1] < '0' || tab[1] > '9' || tab[2] != '\0')
			continue;
		/* Numerals of today's Chinese only (kTGHZ2013: 壹 and 幺 are,
		 * 弌 and the Japanese 壱 are not): every class member costs
		 * the scan, and an archaic one is never used to write a number. */
		uint32_t f = folded(t, cp);
		if (f < HAN_FIRST || f > HAN_LAST || !d->standard[f - HAN_FIRST])
			continue;
		int v = tab[1] - '0';
		add_unique(d->numerals[v], &d->numeral_count[v], NUMERALS_MAX, f);
	}
	sluice_unihan_close(&r);
	if (bad) {
		sluice_set_err(err, err_len, "%s: a corrupt file", path);
		return -1;
	}
	return 0;
}

/* 〇, which Unihan leaves out (it is not a unified ideograph): the characters
 * UnicodeData.txt names IDEOGRAPHIC NUMBER with a digit value. */
static int load_ideographic_numbers(struct sluice_optin_data *d, const char *path, char *err,
				    size_t err_len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		sluice_set_err(err, err_len,
			       "%s: cannot read (Debian: apt-get install unicode-data)", path);
		return -1;
	}
	char line[512];
	while (fgets(line, sizeof(line), f) != NULL) {
		char *name = strchr(line, ';');
		if (name == NULL || strncmp(name + 1, "IDEOGRAPHIC NUMBER ", 19) != 0)
			continue;
		/* code;name;gc;ccc;bidi;decomposition;decimal;digit;numeric;... */
		char *field = name;
		for (int k = 1; k < 8 && field != NULL; k++)
			field = strchr(field + 1, ';');
		if (field == NULL || field[1] < '0' || field[1] > '9' || field[2] != ';')
			continue;
		uint32_t cp = (uint32_t)strtoul(line, NULL, 16);
		int v = field[1] - '0';
		add_unique(d->numerals[v], &d->numeral_count[v], NUMERALS_MAX, cp);
	}
	fclose(f);
	return 0;
}

static void data_free(struct sluice_optin_data *d)
{
	if (d == NULL)
		return;
	for (uint32_t k = 0; k < d->readings; k++)
		free(d->reading[k].members);
	free(d->reading);
	free(d);
}

static struct sluice_optin_data *build(char *err, size_t err_len)
{
	struct sluice_fold_table *t = sluice_fold_narrow(err, err_len);
	if (t == NULL)
		return NULL;
	struct sluice_optin_data *d = calloc(1, sizeof(*d));
	char readings[512], numerals[512], unicode_data[512];
	snprintf(readings, sizeof(readings), "%s/Unihan_Readings.txt.bz2", SLUICE_UNICODE_DIR);
	snprintf(numerals, sizeof(numerals), "%s/Unihan_NumericValues.txt.bz2", SLUICE_UNICODE_DIR);
	snprintf(unicode_data, sizeof(unicode_data), "%s/UnicodeData.txt", SLUICE_UNICODE_DIR);
	if (d == NULL) {
		sluice_set_err(err, err_len, "out of memory");
	} else if (load_readings(d, t, readings, err, err_len) != 0 ||
		   load_numerals(d, t, numerals, err, err_len) != 0 ||
		   load_ideographic_numbers(d, unicode_data, err, err_len) != 0) {
		data_free(d);
		d = NULL;
	} else {
		snprintf(d->versions, sizeof(d->versions),
			 "Unihan_Readings (kHanyuPinlu, kMandarin, kTGHZ2013), "
			 "Unihan_NumericValues, UnicodeData; %s",
			 t->versions);
	}
	sluice_fold_table_free(t);
	free(t);
	return d;
}

static pthread_mutex_t data_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sluice_optin_data *data;

const struct sluice_optin_data *sluice_optin_data(char *err, size_t err_len)
{
	pthread_mutex_lock(&data_lock);
	if (data == NULL)
		data = build(err, err_len);
	struct sluice_optin_data *d = data;
	pthread_mutex_unlock(&data_lock);
	return d;
}

size_t sluice_optin_class(const struct sluice_optin_data *d, unsigned optin, uint32_t cp,
			  uint32_t *out, size_t cap)
{
	uint32_t n = 0;
	if (cap == 0)
		return 0;
	out[n++] = cp;
	if (optin & SLUICE_OPTIN_DIGIT_WORDS) {
		int v = cp >= '0' && cp <= '9' ? (int)(cp - '0') : -1;
		for (int k = 0; k < 10 && v < 0; k++)
			for (uint32_t j = 0; j < d->numeral_count[k]; j++)
				if (d->numerals[k][j] == cp)
					v = k;
		if (v >= 0) {
			add_unique(out, &n, (uint32_t)cap, (uint32_t)('0' + v));
			for (uint32_t j = 0; j < d->numeral_count[v]; j++)
				add_unique(out, &n, (uint32_t)cap, d->numerals[v][j]);
		}
	}
	if ((optin & SLUICE_OPTIN_HOMOPHONES) && cp >= HAN_FIRST && cp <= HAN_LAST) {
		uint32_t i = cp - HAN_FIRST;
		for (uint8_t k = 0; k < d->char_readings[i]; k++) {
			const struct reading *r = &d->reading[d->char_reading[i][k]];
			for (uint32_t j = 0; j < r->count; j++)
				add_unique(out, &n, (uint32_t)cap, r->members[j]);
		}
	}
	return n;
}
