/* Writing the capture: message datagrams (wire-format frames over UDP, IPv4
 * or IPv6, some with a VLAN tag) and the traffic Sluice must forward
 * untouched (ARP requests, DNS queries), as pcap records with a fixed clock.
 *
 * Contract: a packet's content depends only on the generator's state and its
 * random stream, never on the time or the machine; every message written to a
 * datagram is also written to --text-out, in the same order.
 */
#ifndef SLUICE_GEN_PACKETS_H
#define SLUICE_GEN_PACKETS_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "gen_buffer.h"
#include "gen_corpus.h"
#include "gen_options.h"
#include "gen_rng.h"
#include "gen_snippets.h"

struct message {
	uint64_t msg_id, channel_id, user_id;
	bool violation;
	struct buf text;
};

struct generator {
	const struct gen_options *opt;
	const struct corpus *corpus;
	const struct snippets *snippets;
	struct rng rng;
	uint64_t next_msg_id;
	size_t text_limit; /* before a violation is inserted */
	FILE *text_out;
	uint64_t datagrams, messages, violations, others, bytes, packets;
};

/* A non-message packet: an ARP request or a DNS query. */
bool other_packet(struct generator *g, pcap_dumper_t *dumper);

/* One datagram of 1 or more messages. pending carries a message that did not
 * fit the last datagram over to the next; *have_pending says it does. */
bool message_datagram(struct generator *g, pcap_dumper_t *dumper, struct message *pending,
		      bool *have_pending);

#endif
