/* Rule files: YAML written by trust-and-safety analysts, parsed into a rule list.
 *
 * Format (docs/rule-language.md):
 *
 *   name: contact-info          # optional, default: the file's base name
 *   version: "2026-11-23.1"     # optional, default: "0"
 *   rules:
 *     - id: phone-cn-mobile     # unique, [A-Za-z0-9._-]{1,64}
 *       pattern: '1[3-9]\d{9}'  # Hyperscan regex, UTF-8
 *       action: mask            # flag | mask | block
 *       category: contact
 *       caseless: false         # optional
 *
 * Contract: sluice_rule_file_load() either fills *out completely and returns 0,
 * or returns -1 with a message in err of the form "FILE:LINE:COL: rule ID: what
 * is wrong" (rule part omitted when no rule is involved) and leaves *out empty.
 * Only syntax and structure are checked here; whether Hyperscan accepts a
 * pattern is checked by sluice_pack_compile(), which reports the same location.
 */
#ifndef SLUICE_PATTERNS_RULE_FILE_H
#define SLUICE_PATTERNS_RULE_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "action.h"

#define SLUICE_RULE_ID_MAX 64

struct sluice_rule {
	char *id;
	char *pattern;
	char *category;
	enum sluice_action action;
	bool caseless;
	unsigned line;	 /* 1-based line of the rule's "- id:" mapping in its file */
	unsigned column; /* 1-based */
};

struct sluice_rule_list {
	char *source; /* path the rules came from */
	char *name;
	char *version;
	struct sluice_rule *rules;
	size_t count;
};

int sluice_rule_file_load(const char *path, struct sluice_rule_list *out, char *err,
			  size_t err_len);

void sluice_rule_list_free(struct sluice_rule_list *list);

#endif
