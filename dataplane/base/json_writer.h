/* A streaming JSON writer for one document on a stdio stream: the reports of
 * sluice-pack and of the benchmark programs.
 *
 * Contract: calls nest (objects and arrays closed in the order opened, keys
 * given inside objects and NULL inside arrays and for the outermost value, at
 * most SLUICE_JW_MAX_DEPTH levels); the writer places the commas. Strings
 * are escaped by json_escape.h, so the document is valid UTF-8 JSON whatever
 * their bytes. Non-finite numbers are written as null (JSON has no NaN).
 */
#ifndef SLUICE_BASE_JSON_WRITER_H
#define SLUICE_BASE_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SLUICE_JW_MAX_DEPTH 16

struct sluice_json_writer {
	FILE *f;
	unsigned depth;
	bool has_items[SLUICE_JW_MAX_DEPTH]; /* the next item needs a comma */
	char closer[SLUICE_JW_MAX_DEPTH];    /* '}' or ']' */
};

void sluice_jw_init(struct sluice_json_writer *j, FILE *f);

void sluice_jw_object(struct sluice_json_writer *j, const char *key);
void sluice_jw_array(struct sluice_json_writer *j, const char *key);
/* Closes the innermost open object or array. */
void sluice_jw_end(struct sluice_json_writer *j);

void sluice_jw_string(struct sluice_json_writer *j, const char *key,
		      const char *s); /* NULL: null */
void sluice_jw_stringn(struct sluice_json_writer *j, const char *key, const char *s, size_t n);
void sluice_jw_int(struct sluice_json_writer *j, const char *key, long long v);
void sluice_jw_uint(struct sluice_json_writer *j, const char *key, unsigned long long v);
/* With `decimals` digits after the point; trim drops trailing zeros. */
void sluice_jw_double(struct sluice_json_writer *j, const char *key, double v, int decimals,
		      bool trim);
void sluice_jw_bool(struct sluice_json_writer *j, const char *key, bool v);
void sluice_jw_null(struct sluice_json_writer *j, const char *key);

/* Closes everything still open, ends the line and flushes. */
void sluice_jw_finish(struct sluice_json_writer *j);

#endif
