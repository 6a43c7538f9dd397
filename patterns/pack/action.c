#include "action.h"

#include <string.h>

static const char *const action_names[SLUICE_ACTION_COUNT] = {
    [SLUICE_ACTION_NONE] = "none",
    [SLUICE_ACTION_FLAG] = "flag",
    [SLUICE_ACTION_MASK] = "mask",
    [SLUICE_ACTION_BLOCK] = "block",
};

const char *sluice_action_name(enum sluice_action action)
{
	if ((unsigned)action >= SLUICE_ACTION_COUNT)
		return "unknown";
	return action_names[action];
}

bool sluice_action_parse(const char *word, enum sluice_action *out)
{
	for (unsigned i = SLUICE_ACTION_FLAG; i < SLUICE_ACTION_COUNT; i++) {
		if (strcmp(word, action_names[i]) == 0) {
			*out = (enum sluice_action)i;
			return true;
		}
	}
	return false;
}
