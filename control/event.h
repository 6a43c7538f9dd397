/* Event records: what a worker reports about one message, passed by value
 * through the worker's event ring to the control thread, which formats them.
 *
 * A record is one cache line and holds no string: rule metadata is looked up in
 * `pack`, which the control thread keeps alive until it has drained every ring
 * after the grace period that retires the pack (see ruleset_registry.h).
 */
#ifndef SLUICE_CONTROL_EVENT_H
#define SLUICE_CONTROL_EVENT_H

#include <stddef.h>
#include <stdint.h>

struct sluice_pack;

enum sluice_event_kind {
	SLUICE_EVENT_MATCH = 1,	    /* a rule matched a message */
	SLUICE_EVENT_BAD_INPUT = 2, /* a datagram or frame was handled by bad-input policy */
};

struct sluice_event {
	uint64_t tsc; /* TSC at the start of the worker's burst */
	uint64_t msg_id;
	uint64_t channel_id;
	uint64_t user_id;
	const struct sluice_pack *pack; /* pack in force for the message */
	uint32_t rule;			/* index into pack->rules (MATCH) */
	uint32_t from;			/* byte offsets in the text (MATCH) */
	uint32_t to;
	uint16_t worker;
	uint8_t kind;	 /* enum sluice_event_kind */
	uint8_t verdict; /* enum sluice_action applied to the message */
	uint8_t reason;	 /* enum sluice_bad_reason (BAD_INPUT) */
	uint8_t policy;	 /* enum sluice_bad_policy (BAD_INPUT) */
	uint8_t has_ids; /* BAD_INPUT: whether msg/channel/user ids could be read */
	uint8_t pad[5];	 /* named, so initialisers zero it: no stale bytes in the ring */
};

_Static_assert(sizeof(struct sluice_event) == 64, "an event is one cache line");
_Static_assert(offsetof(struct sluice_event, pad) + sizeof(((struct sluice_event *)0)->pad) == 64,
	       "an event has no implicit padding");

#endif
