/* What the soak sends, and what must come back: a fixed table of message
 * texts, each with its outcome under the default pack
 * (patterns/rules/default.yaml), and the pure functions that decide, from
 * sequence numbers alone, which text a message carries and what shape a
 * datagram has.
 *
 * Because everything is a function of a number, the injector and the
 * collector need no shared ledger to agree on expectations: the collector
 * reads a frame's ids and recomputes what the injector sent.
 *
 * Ids on the wire (docs/wire-format.md):
 * - msg_id: the message's sequence number, from 1, unique over the run;
 * - channel_id: the datagram's sequence number, from 1;
 * - user_id: a check word of the msg_id (high 32 bits), the number of frames
 *   the datagram was sent with (bits 8-15) and this frame's index in it
 *   (bits 0-7), so a datagram with frames removed can still be told whole.
 *
 * Contract: soak_table_init() runs once before any other call; afterwards
 * everything here is read-only and safe from any thread.
 */
#ifndef SLUICE_BENCH_SOAK_MESSAGE_TABLE_H
#define SLUICE_BENCH_SOAK_MESSAGE_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum soak_outcome {
	SOAK_PASS,     /* forwarded unchanged, flags 0 */
	SOAK_FLAG,     /* forwarded unchanged, flags 0x01 */
	SOAK_MASK,     /* forwarded with `masked` as its text, flags 0x02 */
	SOAK_BLOCK,    /* removed from its datagram, match events written */
	SOAK_BAD_UTF8, /* removed as invalid_utf8, one bad_input event */
	SOAK_OUTCOME_COUNT
};

struct soak_text {
	const char *name;
	const char *text;   /* as sent; NUL-free, so strlen gives its length */
	const char *masked; /* SOAK_MASK: the exact bytes that must come back */
	enum soak_outcome outcome;
	unsigned spans;	 /* acting spans the pack reports: one event each */
	unsigned weight; /* share of messages, per 1000 */
};

/* Datagrams carry 1 to this many frames. */
#define SOAK_MAX_FRAMES 3

struct soak_shape {
	unsigned frames;
	bool ipv6;
	bool vlan;
	uint16_t vlan_id;
	bool no_udp_checksum; /* IPv4 only */
	bool bad_magic;	      /* frame bad_frame's magic is broken: the whole datagram is dropped */
	unsigned bad_frame;
};

void soak_table_init(void);

size_t soak_text_count(void);
const struct soak_text *soak_text_at(size_t index);

/* The text message seq carries, and its index in the table. */
const struct soak_text *soak_text_of(uint64_t seq);
size_t soak_text_index_of(uint64_t seq);

/* The shape of datagram seq. */
void soak_shape_of(uint64_t datagram, struct soak_shape *shape);

uint64_t soak_user_id(uint64_t msg_seq, unsigned index, unsigned frames);

/* Splits a user_id; false when its check word does not belong to msg_seq. */
bool soak_user_id_split(uint64_t user_id, uint64_t msg_seq, unsigned *index, unsigned *frames);

/* Flags byte a forwarded message must carry. */
uint8_t soak_expected_flags(enum soak_outcome outcome);

/* Whether the message must come out of the daemon at all. */
static inline bool soak_outcome_forwarded(enum soak_outcome outcome)
{
	return outcome == SOAK_PASS || outcome == SOAK_FLAG || outcome == SOAK_MASK;
}

const char *soak_outcome_name(enum soak_outcome outcome);

/* The longest UDP payload a datagram of the table can need. */
size_t soak_max_payload(void);

#endif
