/* The words a rule is made of that a pack keeps: what its body is, how severe
 * it is, its flags (actions are in action.h). The rule language parses them;
 * packs store them; events and tools print them.
 */
#ifndef SLUICE_PACK_RULE_KIND_H
#define SLUICE_PACK_RULE_KIND_H

#include <stdbool.h>

#include "action.h"

/* What a rule's body is. The zero value is a regular expression, so a rule
 * built in code with only id/pattern/category/action set means what it did
 * before the other kinds existed. */
enum sluice_rule_kind {
	SLUICE_RULE_PATTERN = 0,
	SLUICE_RULE_LITERAL = 1,
	SLUICE_RULE_LIST = 2,
	SLUICE_RULE_COMBINATION = 3,
};

/* 0 (unset) means medium. */
enum sluice_severity {
	SLUICE_SEVERITY_LOW = 1,
	SLUICE_SEVERITY_MEDIUM = 2,
	SLUICE_SEVERITY_HIGH = 3,
	SLUICE_SEVERITY_CRITICAL = 4,
};

/* Rule flags (sluice_rule.flags and sluice_pack_rule.flags). */
#define SLUICE_RULE_CASELESS   (1u << 0)
#define SLUICE_RULE_DOTALL     (1u << 1)
#define SLUICE_RULE_MULTILINE  (1u << 2)
#define SLUICE_RULE_WHOLE_WORD (1u << 3)
#define SLUICE_RULE_FLAG_MASK  0xfu

/* Whether the byte is an ASCII word character, as \b sees it: what
 * SLUICE_RULE_WHOLE_WORD's edges are made of. */
static inline bool sluice_ascii_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* The severities' words, from SLUICE_SEVERITY_LOW on (index severity - 1):
 * the one list that names, parsing and rule files' suggestions read. */
extern const char *const sluice_severity_words[SLUICE_SEVERITY_CRITICAL];

/* "low", "medium", "high", "critical"; 0 reads as medium. */
const char *sluice_severity_name(enum sluice_severity severity);

/* The severity a name above names; false for any other word. */
bool sluice_severity_parse(const char *word, enum sluice_severity *out);

/* The word an analyst wrote for the rule's action: flag, mask, block, allow. */
const char *sluice_rule_action_word(bool allow, enum sluice_action action);

/* "pattern", "literal", "list", "combination". */
const char *sluice_rule_kind_name(enum sluice_rule_kind kind);

#endif
