/* Rule files: YAML written by trust-and-safety analysts, parsed into a rule list.
 *
 * Format (docs/rule-language.md has the full description, for analysts):
 *
 *   name: contact-info          # optional, default: the file's base name
 *   version: "2026-11-23.1"     # optional, default: "0"
 *   owner: trust-and-safety     # optional
 *   description: ...            # optional
 *   include: [other.yaml]       # optional; paths relative to this file
 *   rules:
 *     - id: phone-cn-mobile     # unique across all included files
 *       category: contact
 *       action: mask            # flag | mask | block | allow
 *       severity: high          # low | medium | high | critical (default medium)
 *       pattern: '1[3-9]\d{9}'  # exactly one of pattern, literal, list, combination
 *       flags: [caseless]       # caseless, dotall, multiline, whole_word
 *       quiet: false            # true: acts only as an operand of combinations
 *       expires: 2026-12-31     # stops applying after that day (UTC)
 *       matches: ['13812345678']
 *       does_not_match: ['12345']
 *
 * Contract: sluice_rule_file_load() either fills *out completely and returns 0,
 * or returns -1 with a message in err of the form "FILE:LINE:COL: rule ID: what
 * is wrong" (rule part left out when no rule is involved) and leaves *out
 * empty. It reads the file, every file it includes and every list file, and
 * checks syntax and structure: keys, values, ids unique across files, include
 * cycles, list files. Whether Hyperscan accepts a pattern, whether combination
 * operands exist and whether the examples hold is checked by
 * sluice_pack_compile(), which reports the same way.
 *
 * sluice_rule_file_load_diags() is the same loader for lint: it keeps going
 * after an error, appends every problem to diags, and returns in *out every
 * rule that parsed (so later checks can still look at them).
 */
#ifndef SLUICE_LANGUAGE_RULE_FILE_H
#define SLUICE_LANGUAGE_RULE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "rule_kind.h"

#define SLUICE_RULE_ID_MAX 64

/* Where something was written: 1-based line and column (in characters). */
struct sluice_loc {
	unsigned line;
	unsigned column;
};

/* One literal of a `literal:` or `list:` rule. text is NUL-terminated and
 * valid UTF-8; line is its line in the list file (or the rule file). */
struct sluice_literal {
	const char *text;
	uint32_t len;
	unsigned line;
	unsigned column;
};

struct sluice_example {
	char *text;
	bool should_match; /* from matches: (true) or does_not_match: (false) */
	struct sluice_loc loc;
};

/* What a pack folds messages with before the scan (docs/normalization.md).
 * A rule file's packs default to narrow; a list built in code to none. */
enum sluice_norm_profile {
	SLUICE_NORM_NONE = 0,
	SLUICE_NORM_NARROW, /* width, case, compatibility forms, invisible
			       characters, traditional -> simplified, look-alikes */
};

struct sluice_rule {
	char *id;
	/* The body as written: the regex, the literal, the list path or the
	 * combination expression. Never NULL in a loaded rule. */
	char *pattern;
	char *category;
	/* flag, mask or block; SLUICE_ACTION_NONE for an allow rule. */
	enum sluice_action action;
	bool caseless;	 /* same as flags & SLUICE_RULE_CASELESS */
	unsigned line;	 /* 1-based line of the rule's "- id:" mapping in its file */
	unsigned column; /* 1-based */

	/* Everything below is zero in a rule built by hand with the fields
	 * above, which then compiles as it always did. */
	enum sluice_rule_kind kind;
	bool allow;
	bool quiet;
	bool raw;	/* normalize: false: matched against the message as it is */
	unsigned optin; /* normalize: [...]: SLUICE_OPTIN_* (fold_optin.h) */
	enum sluice_severity severity;
	unsigned flags;
	int64_t expires_at; /* Unix seconds; 0: never */
	int64_t starts_at;  /* Unix seconds; 0: from the start */
	char *description;
	char *file; /* file the rule is in; NULL: the list's source */

	/* Where each part was written, for diagnostics (0 when unknown). */
	struct sluice_loc id_loc, body_loc, action_loc, severity_loc, flags_loc, expires_loc,
	    starts_loc, quiet_loc;
	struct sluice_loc whole_word_loc, normalize_loc;
	/* Whether body_loc.column + character index is the column of a
	 * character of the body: true for a one-line plain or quoted scalar
	 * without escapes. body_quote is the width of the opening quote. */
	bool body_exact;
	unsigned body_quote;
	bool body_single_quoted; /* '' in the source is one ' in the value */

	/* literal: one entry (pointing into pattern); list: one per line. */
	struct sluice_literal *literals;
	size_t literal_count;
	char *list_path; /* list: resolved path of the list file */
	char *list_data; /* list: the literals' bytes */

	struct sluice_example *examples;
	size_t example_count;

	/* Set only by sluice_rule_file_load_diags() on a rule that had errors:
	 * it is kept so later checks know its id, and is never compiled. */
	bool invalid;
};

struct sluice_rule_list {
	char *source; /* path the rules came from */
	char *name;
	char *version;
	struct sluice_rule *rules;
	size_t count;

	char *owner;	   /* NULL when not given */
	char *description; /* NULL when not given */
	enum sluice_norm_profile normalize;
	char **files; /* every rule file read, the source first */
	size_t file_count;
};

int sluice_rule_file_load(const char *path, struct sluice_rule_list *out, char *err,
			  size_t err_len);

/* Returns the number of errors appended to diags (0: the list is complete). */
size_t sluice_rule_file_load_diags(const char *path, struct sluice_rule_list *out,
				   struct sluice_diag_list *diags);

void sluice_rule_list_free(struct sluice_rule_list *list);

/* Parses YYYY-MM-DD into the first second after that day ends (UTC): a rule
 * that expires on a day still applies for all of it. */
bool sluice_parse_expiry(const char *text, int64_t *out);

/* Parses YYYY-MM-DD into the first second of that day (UTC): a rule that
 * starts on a day applies for all of it. */
bool sluice_parse_start(const char *text, int64_t *out);

#endif
