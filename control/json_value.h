/* A small JSON reader for sluicectl, which turns the daemon's replies into
 * text for people. It parses one document into a tree; it is not on any hot
 * path and trusts nothing: malformed input gives NULL, never a crash.
 *
 * Strings keep their escapes decoded (\uXXXX included, as UTF-8); numbers are
 * doubles, which hold every counter Sluice reports exactly up to 2^53.
 */
#ifndef SLUICE_CONTROL_JSON_VALUE_H
#define SLUICE_CONTROL_JSON_VALUE_H

#include <stdbool.h>
#include <stddef.h>

enum sluice_json_type {
	SLUICE_JSON_NULL,
	SLUICE_JSON_BOOL,
	SLUICE_JSON_NUMBER,
	SLUICE_JSON_STRING,
	SLUICE_JSON_ARRAY,
	SLUICE_JSON_OBJECT,
};

struct sluice_json {
	enum sluice_json_type type;
	bool boolean;
	double number;
	char *string; /* STRING */
	/* ARRAY and OBJECT: count items; keys[i] names items[i] in an OBJECT. */
	size_t count;
	char **keys;
	struct sluice_json **items;
};

/* Parses text (a whole document, whitespace around it allowed). NULL when it is
 * not JSON or memory ran out. */
struct sluice_json *sluice_json_parse(const char *text);

void sluice_json_free(struct sluice_json *value);

/* The member named key of an object, or NULL. */
const struct sluice_json *sluice_json_get(const struct sluice_json *object, const char *key);

/* Convenience readers: the member's value, or def when it is absent or of
 * another type. */
const char *sluice_json_str(const struct sluice_json *object, const char *key, const char *def);
double sluice_json_num(const struct sluice_json *object, const char *key, double def);
bool sluice_json_bool(const struct sluice_json *object, const char *key, bool def);

#endif
