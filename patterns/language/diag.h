/* Diagnostics: what the rule loader, the compiler and lint say about a rule
 * file, one entry per problem.
 *
 * Contract: every diagnostic names a file, a 1-based line and column (columns
 * count characters, as editors do), the rule id when a rule is involved, a
 * short stable code (for tooling and tests) and a message in plain words that
 * says what is wrong and how to fix it. sluice_diag_format() renders
 *
 *   FILE:LINE:COL: error|warning: rule ID: message
 *
 * ("rule ID: " left out when no rule is involved). Lists own their strings;
 * sluice_diag_list_free() releases them and leaves the list empty.
 */
#ifndef SLUICE_PATTERNS_DIAG_H
#define SLUICE_PATTERNS_DIAG_H

#include <stdarg.h>
#include <stddef.h>

enum sluice_diag_level {
	SLUICE_DIAG_ERROR,
	SLUICE_DIAG_WARNING,
};

struct sluice_diag {
	enum sluice_diag_level level;
	char *file;
	unsigned line, column;
	char *rule_id; /* NULL when no rule is involved */
	char *code;
	char *message;
};

struct sluice_diag_list {
	struct sluice_diag *items;
	size_t count;
};

/* Appends one diagnostic; the strings are copied. Returns -1 only when out of
 * memory (the diagnostic is then lost, and so is nothing else). */
int sluice_diag_add(struct sluice_diag_list *list, enum sluice_diag_level level, const char *file,
		    unsigned line, unsigned column, const char *rule_id, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 8, 9)));
int sluice_diag_vadd(struct sluice_diag_list *list, enum sluice_diag_level level, const char *file,
		     unsigned line, unsigned column, const char *rule_id, const char *code,
		     const char *fmt, va_list ap) __attribute__((format(printf, 8, 0)));

/* Number of errors (not warnings) in the list. */
size_t sluice_diag_errors(const struct sluice_diag_list *list);

/* "FILE:LINE:COL: error|warning: rule ID: message", truncated to len. */
void sluice_diag_format(const struct sluice_diag *d, char *buf, size_t len);

/* The older one-line form the loader and compiler return in err:
 * "FILE:LINE:COL: rule ID: message" (no level). */
void sluice_diag_format_short(const struct sluice_diag *d, char *buf, size_t len);

/* The first error in the list's order, or NULL. */
const struct sluice_diag *sluice_diag_first_error(const struct sluice_diag_list *list);

/* Sorts by file (in the order files first appear in the list), line, column;
 * diagnostics at one place keep the order they were added in. */
void sluice_diag_sort(struct sluice_diag_list *list);

void sluice_diag_list_free(struct sluice_diag_list *list);

#endif
