/* The collector thread: takes every packet the workers send, reads it with
 * wire_reader.h and judges every message in it against the message table.
 *
 * A packet must be a datagram the injector sent (its shape: IP version, VLAN
 * tag, UDP checksum or none, recomputed from the datagram number in
 * channel_id), with good lengths and checksums. Each message in it must:
 * carry ids that belong together (msg_id, channel_id and user_id's check
 * word), come in the order it was sent, be one that must come out at all
 * (not blocked, not invalid UTF-8, not in a datagram with a broken frame),
 * carry exactly the flags its outcome sets (0x01 flagged, 0x02 masked, never
 * both), the reserved field as sent, and exactly the expected bytes: the text
 * as sent, or for a masked message the table's masked text. A message seen a
 * second time is a duplicate. Whatever is not seen is counted at the end from
 * the ledger (msg_ledger.h).
 *
 * Contract: the only consumer of the harness's TX rings. It sleeps briefly
 * when they are empty and runs until stop is set; set stop only once the
 * daemon's counters show everything it sent has been collected. `packets`
 * may be read from other threads at any time; `tally` once joined.
 */
#ifndef SLUICE_BENCH_SOAK_COLLECTOR_H
#define SLUICE_BENCH_SOAK_COLLECTOR_H

#include <stdatomic.h>
#include <stdint.h>

#include "message_table.h"
#include "msg_ledger.h"
#include "ring_harness.h"

#define SOAK_EXAMPLES	   8
#define SOAK_EXAMPLE_CHARS 240

struct soak_collected {
	uint64_t packets;	     /* out of port B */
	uint64_t packets_wrong_side; /* sent back out of port A */
	uint64_t packets_malformed;  /* unreadable, or not a datagram the injector sent */
	uint64_t messages_correct;
	uint64_t messages_wrong;
	uint64_t duplicates;
	uint64_t by_outcome[SOAK_OUTCOME_COUNT]; /* correct messages */
	/* Packets whose bytes Sluice had to change (a flag, a mask, a frame
	 * removed), by shape: each had its checksums updated and checked here. */
	uint64_t changed_ipv4, changed_ipv6, changed_vlan, changed_no_checksum;
	char examples[SOAK_EXAMPLES][SOAK_EXAMPLE_CHARS]; /* the first problems */
	unsigned example_count;
};

struct soak_collector {
	struct ring_harness *harness;
	struct soak_ledger *ledger;
	uint16_t udp_port;

	atomic_bool stop;
	atomic_uint_fast64_t packets; /* collected so far, both sides */
	struct soak_collected tally;
};

void soak_collector_init(struct soak_collector *c, struct ring_harness *harness,
			 struct soak_ledger *ledger, uint16_t udp_port);

/* pthread entry point; arg is the struct soak_collector. */
void *soak_collector_main(void *arg);

#endif
