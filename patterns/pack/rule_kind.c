#include "rule_kind.h"

#include <string.h>

const char *sluice_severity_name(enum sluice_severity severity)
{
	switch (severity) {
	case SLUICE_SEVERITY_LOW:
		return "low";
	case SLUICE_SEVERITY_HIGH:
		return "high";
	case SLUICE_SEVERITY_CRITICAL:
		return "critical";
	default:
		return "medium";
	}
}

bool sluice_severity_parse(const char *word, enum sluice_severity *out)
{
	for (int v = SLUICE_SEVERITY_LOW; v <= SLUICE_SEVERITY_CRITICAL; v++)
		if (strcmp(word, sluice_severity_name((enum sluice_severity)v)) == 0) {
			*out = (enum sluice_severity)v;
			return true;
		}
	return false;
}

const char *sluice_rule_action_word(bool allow, enum sluice_action action)
{
	return allow ? "allow" : sluice_action_name(action);
}

const char *sluice_rule_kind_name(enum sluice_rule_kind kind)
{
	switch (kind) {
	case SLUICE_RULE_LITERAL:
		return "literal";
	case SLUICE_RULE_LIST:
		return "list";
	case SLUICE_RULE_COMBINATION:
		return "combination";
	default:
		return "pattern";
	}
}
