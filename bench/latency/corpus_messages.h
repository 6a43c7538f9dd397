/* How many messages (wire-format frames) each corpus packet carries, counted
 * once before a run so that the sink can turn packets into messages with one
 * table lookup.
 *
 * Contract: a packet that is not a well-formed datagram for udp_port (ARP,
 * DNS, anything the daemon forwards untouched or refuses) counts 0 messages.
 */
#ifndef SLUICE_BENCH_LATENCY_CORPUS_MESSAGES_H
#define SLUICE_BENCH_LATENCY_CORPUS_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "corpus_reader.h"

struct corpus_messages {
	uint16_t *per_packet; /* messages in corpus packet i */
	uint64_t total;	      /* over the whole corpus */
	uint32_t message_packets;
};

/* Returns 0, or -1 with err when memory ran out. */
int corpus_messages_count(const struct corpus_packets *packets, uint16_t udp_port,
			  struct corpus_messages *out, char *err, size_t err_len);

void corpus_messages_free(struct corpus_messages *m);

#endif
