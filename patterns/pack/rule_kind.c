#include "rule_kind.h"

#include <string.h>

const char *const sluice_severity_words[SLUICE_SEVERITY_CRITICAL] = {"low", "medium", "high",
								     "critical"};

const char *sluice_severity_name(enum sluice_severity severity)
{
	if (severity >= SLUICE_SEVERITY_LOW && severity <= SLUICE_SEVERITY_CRITICAL)
		return sluice_severity_words[severity - 1];
	return "medium";
}

bool sluice_severity_parse(const char *word, enum sluice_severity *out)
{
	for (int v = SLUICE_SEVERITY_LOW; v <= SLUICE_SEVERITY_CRITICAL; v++)
		if (strcmp(word, sluice_severity_words[v - 1]) == 0) {
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
