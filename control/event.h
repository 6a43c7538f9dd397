/* Event records: what a worker reports about one message, passed by value
 * through the worker's event ring to the control thread, which formats them.
 *
 * A record is two cache lines and holds no string: rule metadata is looked up in
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
	SLUICE_EVENT_STREAM = 3,    /* a TCP flow was reset or a segment dropped (reason) */
};

struct sluice_event {
	uint64_t tsc; /* TSC at the start of the worker's burst */
	uint64_t msg_id;
	uint64_t channel_id;
	uint64_t user_id;
	/* MATCH: SipHash-2-4 of the matched bytes [from, to) of the text as
	 * scanned, folded by the pack's table (so evasive spellings hash as the
	 * plain one), keyed with --event-hash-key (siphash.h). */
	uint64_t text_hash;
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
	/* A message of a TCP stream is named by its connection instead of ids:
	 * src is the message's sender. */
	uint8_t stream; /* MATCH and STREAM: the fields below are set */
	uint8_t ipv6;
	uint8_t from_client; /* the message went client to server */
	/* A datagram's addresses and ports are set (src, dst, sport, dport):
	 * who sent a message or a malformed frame. */
	uint8_t has_addr;
	/* MATCH: the next slot of the ring holds this many bytes of the matched
	 * text (union sluice_event_slot), pushed with this one. 0: none. */
	uint8_t snippet_len;
	uint16_t sport, dport;
	uint8_t src[16], dst[16]; /* IPv4: the first 4 bytes */
	uint8_t src_mac[6];	  /* BAD_INPUT of a datagram: the Ethernet source */
	uint8_t has_mac;
	uint8_t has_ports; /* with has_addr: sport and dport are set */
	uint8_t pad[12];   /* named, so initialisers zero it: no stale bytes in the ring */
};

_Static_assert(sizeof(struct sluice_event) == 128, "an event is two cache lines");
_Static_assert(offsetof(struct sluice_event, pad) + sizeof(((struct sluice_event *)0)->pad) == 128,
	       "an event has no implicit padding");
_Static_assert(offsetof(struct sluice_event, sport) ==
		   offsetof(struct sluice_event, snippet_len) + 1,
	       "an event has no implicit padding");

/* A ring slot: an event, or the matched text's first bytes that follow a
 * MATCH event with snippet_len set. A snippet travels in a slot of its own,
 * so that events without one (the default) stay two cache lines. */
union sluice_event_slot {
	struct sluice_event event;
	uint8_t text[sizeof(struct sluice_event)];
};

#define SLUICE_EVENT_SNIPPET_MAX ((unsigned)sizeof(union sluice_event_slot))

#endif
