/* Rule actions and their order of strength.
 *
 * Contract: when several rules match one message the numerically largest action
 * wins. NONE is never stored in a rule; it is the verdict of a message nothing
 * matched. Names are the words used in rule files, events and stats.
 */
#ifndef SLUICE_PATTERNS_ACTION_H
#define SLUICE_PATTERNS_ACTION_H

#include <stdbool.h>

enum sluice_action {
	SLUICE_ACTION_NONE = 0,
	SLUICE_ACTION_FLAG = 1,
	SLUICE_ACTION_MASK = 2,
	SLUICE_ACTION_BLOCK = 3,
};
#define SLUICE_ACTION_COUNT 4

/* "none", "flag", "mask", "block". */
const char *sluice_action_name(enum sluice_action action);

/* Parses a rule file's action word; false if it is not one of flag/mask/block. */
bool sluice_action_parse(const char *word, enum sluice_action *out);

#endif
