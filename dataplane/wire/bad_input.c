#include "bad_input.h"

#include <string.h>

static const char *const reason_names[SLUICE_BAD_REASON_COUNT] = {
    [SLUICE_BAD_NONE] = "none",
    [SLUICE_BAD_TRUNCATED_HEADER] = "truncated_header",
    [SLUICE_BAD_MAGIC] = "bad_magic",
    [SLUICE_BAD_VERSION] = "bad_version",
    [SLUICE_BAD_TEXT_LENGTH] = "bad_text_length",
    [SLUICE_BAD_TRAILING_BYTES] = "trailing_bytes",
    [SLUICE_BAD_TOO_MANY_FRAMES] = "too_many_frames",
    [SLUICE_BAD_EMPTY_PAYLOAD] = "empty_payload",
    [SLUICE_BAD_INVALID_UTF8] = "invalid_utf8",
    [SLUICE_BAD_IP_FRAGMENT] = "ip_fragment",
    [SLUICE_BAD_IP_LENGTH] = "bad_ip_length",
    [SLUICE_BAD_MULTI_SEGMENT] = "multi_segment",
    [SLUICE_BAD_SCAN_ERROR] = "scan_error",
    [SLUICE_BAD_VLAN_DEPTH] = "vlan_depth",
    [SLUICE_BAD_IP_HEADER_CHAIN] = "ip_header_chain",
    [SLUICE_BAD_TCP_HEADER] = "tcp_header",
};

static const char *const policy_names[SLUICE_POLICY_COUNT] = {
    [SLUICE_POLICY_DROP] = "drop",
    [SLUICE_POLICY_DROP_QUIET] = "drop-quiet",
    [SLUICE_POLICY_REPLACE] = "replace",
};

const char *sluice_bad_reason_name(enum sluice_bad_reason reason)
{
	if ((unsigned)reason >= SLUICE_BAD_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

bool sluice_bad_reason_parse(const char *name, enum sluice_bad_reason *out)
{
	for (unsigned i = 1; i < SLUICE_BAD_REASON_COUNT; i++) {
		if (strcmp(name, reason_names[i]) == 0) {
			*out = (enum sluice_bad_reason)i;
			return true;
		}
	}
	return false;
}

const char *sluice_bad_policy_name(enum sluice_bad_policy policy)
{
	if ((unsigned)policy >= SLUICE_POLICY_COUNT)
		return "unknown";
	return policy_names[policy];
}

bool sluice_bad_policy_parse(const char *name, enum sluice_bad_policy *out)
{
	for (unsigned i = 0; i < SLUICE_POLICY_COUNT; i++) {
		if (strcmp(name, policy_names[i]) == 0) {
			*out = (enum sluice_bad_policy)i;
			return true;
		}
	}
	return false;
}

bool sluice_bad_policy_allowed(enum sluice_bad_reason reason, enum sluice_bad_policy policy)
{
	if (policy == SLUICE_POLICY_REPLACE)
		return reason == SLUICE_BAD_INVALID_UTF8;
	return reason != SLUICE_BAD_NONE && reason < SLUICE_BAD_REASON_COUNT;
}

bool sluice_bad_reason_in_payload(enum sluice_bad_reason reason)
{
	switch (reason) {
	case SLUICE_BAD_TRUNCATED_HEADER:
	case SLUICE_BAD_MAGIC:
	case SLUICE_BAD_VERSION:
	case SLUICE_BAD_TEXT_LENGTH:
	case SLUICE_BAD_TRAILING_BYTES:
	case SLUICE_BAD_TOO_MANY_FRAMES:
	case SLUICE_BAD_EMPTY_PAYLOAD:
	case SLUICE_BAD_INVALID_UTF8:
	case SLUICE_BAD_SCAN_ERROR:
		return true;
	default:
		return false;
	}
}
