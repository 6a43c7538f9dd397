/* Reasons a datagram for the message port cannot be scanned as it is, and the
 * policy applied to each.
 *
 * Contract: every reason has its own counter and a policy chosen by the operator;
 * no policy lets a message through unscanned. DROP removes the datagram (or, for
 * invalid_utf8, the one frame) and emits an event; DROP_QUIET does the same
 * without the event; REPLACE (invalid_utf8 only) turns each invalid byte into '?'
 * and scans the repaired text, which is what is forwarded.
 */
#ifndef SLUICE_DATAPLANE_BAD_INPUT_H
#define SLUICE_DATAPLANE_BAD_INPUT_H

#include <stdbool.h>

enum sluice_bad_reason {
	SLUICE_BAD_NONE = 0,
	SLUICE_BAD_TRUNCATED_HEADER, /* fewer than 32 bytes left, starting like a frame */
	SLUICE_BAD_MAGIC,
	SLUICE_BAD_VERSION,
	SLUICE_BAD_TEXT_LENGTH,	   /* text runs past the end of the payload */
	SLUICE_BAD_TRAILING_BYTES, /* bytes after the last frame that are not a frame */
	SLUICE_BAD_TOO_MANY_FRAMES,
	SLUICE_BAD_EMPTY_PAYLOAD,
	SLUICE_BAD_INVALID_UTF8,
	SLUICE_BAD_IP_FRAGMENT,	    /* first fragment of a datagram for the message port */
	SLUICE_BAD_IP_LENGTH,	    /* IP/UDP lengths disagree with each other or the packet */
	SLUICE_BAD_MULTI_SEGMENT,   /* chained mbuf: too large for one buffer */
	SLUICE_BAD_SCAN_ERROR,	    /* Hyperscan returned an error */
	SLUICE_BAD_VLAN_DEPTH,	    /* more than two VLAN tags: the payload cannot be placed */
	SLUICE_BAD_IP_HEADER_CHAIN, /* IPv6 extension headers too many or cut short */
	SLUICE_BAD_TCP_HEADER,	    /* a chat service's TCP header cut short or inconsistent */
	SLUICE_BAD_REASON_COUNT
};

enum sluice_bad_policy {
	SLUICE_POLICY_DROP = 0,
	SLUICE_POLICY_DROP_QUIET,
	SLUICE_POLICY_REPLACE,
	SLUICE_POLICY_COUNT
};

/* Snake-case names used in counters, events, options and docs. */
const char *sluice_bad_reason_name(enum sluice_bad_reason reason);
bool sluice_bad_reason_parse(const char *name, enum sluice_bad_reason *out);

const char *sluice_bad_policy_name(enum sluice_bad_policy policy);
bool sluice_bad_policy_parse(const char *name, enum sluice_bad_policy *out);

/* Whether the reason was found inside a datagram's payload (the frames), so
 * that the headers before it were read and a frame header may name the
 * message; false for reasons found in the packet's own headers. */
bool sluice_bad_reason_in_payload(enum sluice_bad_reason reason);

/* Whether `policy` may be applied to `reason` (REPLACE only fits invalid_utf8). */
bool sluice_bad_policy_allowed(enum sluice_bad_reason reason, enum sluice_bad_policy policy);

#endif
