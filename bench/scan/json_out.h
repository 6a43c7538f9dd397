/* A small streaming JSON writer for the program's one result object.
 *
 * Contract: calls must nest correctly (objects and arrays opened and closed
 * in order, keys only inside objects, up to JSON_OUT_MAX_DEPTH levels); the
 * writer places the commas. Strings are escaped (quotes, backslashes and
 * control characters; other bytes pass through, so UTF-8 stays UTF-8).
 * Non-finite numbers are written as null, since JSON has no NaN.
 */
#ifndef SLUICE_BENCH_SCAN_JSON_OUT_H
#define SLUICE_BENCH_SCAN_JSON_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_OUT_MAX_DEPTH 16

struct json_out {
	FILE *f;
	unsigned depth;
	bool has_items[JSON_OUT_MAX_DEPTH]; /* whether the next item needs a comma */
};

void json_init(struct json_out *j, FILE *f);

/* key is NULL inside arrays and for the outermost object. */
void json_object_begin(struct json_out *j, const char *key);
void json_object_end(struct json_out *j);
void json_array_begin(struct json_out *j, const char *key);
void json_array_end(struct json_out *j);

void json_string(struct json_out *j, const char *key, const char *value); /* NULL: null */
void json_u64(struct json_out *j, const char *key, uint64_t value);
void json_double(struct json_out *j, const char *key, double value);
void json_bool(struct json_out *j, const char *key, bool value);
void json_null(struct json_out *j, const char *key);

/* Ends the outermost object with a newline and flushes. */
void json_finish(struct json_out *j);

#endif
