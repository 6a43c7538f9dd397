/* The injector thread: builds datagrams of table messages (message_table.h)
 * with dataplane/packet_build.h and puts them on port A's RX rings, paced to
 * a target rate of messages per second.
 *
 * Pacing sleeps rather than spins: every tick it sends what the schedule says
 * is due, then sleeps TICK_S, so the thread costs the CPU it shares with the
 * daemon's control thread only the work of building packets. When a ring is
 * full (the worker is behind) it waits for room instead of dropping, so the
 * achieved rate, reported beside the target, can be lower; a debt of more
 * than MAX_DEBT_S of traffic is forgiven rather than sent in one burst.
 * Datagrams go to the workers' queues in turn, a burst at a time.
 *
 * While it builds, it tallies what the daemon must report: messages by text
 * and outcome, datagrams that must come out, be removed or be dropped as bad,
 * and the events the daemon must write; and it marks in the ledger every
 * message that must not come out.
 *
 * Contract: runs until stop is set or the ledger's capacity is reached.
 * `datagrams` and `messages` may be read from other threads at any time;
 * `tally` is complete once the thread has been joined.
 */
#ifndef SLUICE_BENCH_SOAK_INJECTOR_H
#define SLUICE_BENCH_SOAK_INJECTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "message_table.h"
#include "msg_ledger.h"
#include "ring_harness.h"

#define SOAK_TABLE_MAX 32
/* The most header a datagram gets (Ethernet, a VLAN tag, IPv6, UDP), and the
 * most payload the injector builds: injection mbufs must hold their sum. */
#define SOAK_MAX_HEADERS (14 + 4 + 40 + 8)
#define SOAK_PAYLOAD_CAP 2048

struct soak_injected {
	uint64_t datagrams;
	uint64_t messages;
	uint64_t by_text[SOAK_TABLE_MAX]; /* scanned messages (not in broken datagrams) */
	uint64_t by_outcome[SOAK_OUTCOME_COUNT];
	uint64_t ipv4, ipv6, vlan, no_udp_checksum; /* datagrams by shape */
	uint64_t bad_magic_datagrams;
	uint64_t bad_magic_messages;
	uint64_t expect_out;	      /* datagrams with a message left to forward */
	uint64_t expect_removed;      /* every frame gone, at least one blocked */
	uint64_t expect_dropped_utf8; /* every frame invalid UTF-8 */
	uint64_t expect_events;	      /* match events and bad_input events */
	uint64_t ring_full;	      /* ticks that found a ring with no room */
	uint64_t pool_empty;	      /* ticks that found no free mbuf */
	uint64_t debt_forgiven;	      /* times the schedule was reset */
	double seconds;		      /* first injection to the last */
	bool capacity_reached;
};

struct soak_injector {
	struct ring_harness *harness;
	struct soak_ledger *ledger;
	double rate_msgs;
	uint16_t udp_port;

	atomic_bool stop;
	atomic_uint_fast64_t datagrams; /* injected so far */
	atomic_uint_fast64_t messages;
	struct soak_injected tally;
};

void soak_injector_init(struct soak_injector *inj, struct ring_harness *harness,
			struct soak_ledger *ledger, double rate_msgs, uint16_t udp_port);

/* pthread entry point; arg is the struct soak_injector. */
void *soak_injector_main(void *arg);

#endif
