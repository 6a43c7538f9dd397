/* A worker's table of TCP connections: the 5-tuple, in either direction, to
 * a flow index; and idle timeouts (docs/streams.md, "Flows on one worker").
 *
 * The table holds keys and bookkeeping only. The caller keeps its per-flow
 * state in its own array, indexed by what sluice_flow_insert() returns.
 *
 * - Capacity is fixed at setup. Buckets are 8 (signature, index) pairs, one
 *   cache line. There are twice as many slots as flows, and an entry may
 *   spill into the next SLUICE_FLOW_SPILL buckets: a lookup reads one line,
 *   more only where a spill passed.
 * - Each flow is in one timeout class: opening, established or closing. Each
 *   class is an LRU list, so expiry reads list heads only.
 * - Full: sluice_flow_insert() returns SLUICE_FLOW_NONE. Nothing is evicted to
 *   make room (the caller drops the SYN and counts it).
 *
 * Contract: no allocation after sluice_flow_table_init(), no system calls.
 * Time is the caller's (TSC cycles in the daemon, anything monotonic in
 * tests).
 */
#ifndef SLUICE_STREAM_FLOW_TABLE_H
#define SLUICE_STREAM_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "allocator.h"

#define SLUICE_FLOW_NONE  UINT32_MAX
#define SLUICE_FLOW_SPILL 3

/* Side 0 is the endpoint whose (address, port) sorts first; a packet's
 * direction is the side it comes from. */
struct sluice_flow_key {
	uint8_t addr[2][16]; /* IPv4: the first 4 bytes, the rest zero */
	uint16_t port[2];
	uint8_t ipv6;
	uint8_t pad[3];
};

/* Builds the key of a packet from src to dst and says which side sent it. */
void sluice_flow_key_make(struct sluice_flow_key *key, const uint8_t *src, const uint8_t *dst,
			  uint16_t sport, uint16_t dport, bool ipv6, uint8_t *from_side);

/* The same for both directions of a connection. */
uint64_t sluice_flow_hash(const struct sluice_flow_key *key);

enum sluice_flow_class {
	SLUICE_FLOW_OPENING = 0,
	SLUICE_FLOW_ESTABLISHED,
	SLUICE_FLOW_CLOSING,
	SLUICE_FLOW_CLASSES,
};

struct sluice_flow_bucket;

struct sluice_flow_meta {
	uint64_t last_seen;
	uint32_t prev, next; /* in its class's list, or the free list */
	uint32_t home;	     /* its hash's bucket */
	uint8_t cls;
	bool used;
};

struct sluice_flow_table {
	struct sluice_flow_bucket *buckets;
	uint16_t *spilled; /* per bucket: entries homed before it that spilled past it */
	uint32_t bucket_mask;
	struct sluice_flow_key *keys;
	struct sluice_flow_meta *meta;
	uint32_t capacity, used, free_head;
	uint32_t head[SLUICE_FLOW_CLASSES], tail[SLUICE_FLOW_CLASSES];
	uint64_t timeout[SLUICE_FLOW_CLASSES];
	const struct sluice_allocator *alloc;
};

/* 0, or -1 (capacity 0 or above 2^28, or out of memory). timeouts: per class,
 * in the caller's time unit. */
int sluice_flow_table_init(struct sluice_flow_table *t, uint32_t capacity,
			   const uint64_t timeouts[SLUICE_FLOW_CLASSES],
			   const struct sluice_allocator *alloc);
void sluice_flow_table_fini(struct sluice_flow_table *t);

/* Bytes the table takes per flow of capacity (keys, bookkeeping, slots). */
size_t sluice_flow_table_bytes_per_flow(void);

uint32_t sluice_flow_lookup(const struct sluice_flow_table *t, const struct sluice_flow_key *key,
			    uint64_t hash);

/* A new flow (the key must not be in the table), or SLUICE_FLOW_NONE when
 * full. */
uint32_t sluice_flow_insert(struct sluice_flow_table *t, const struct sluice_flow_key *key,
			    uint64_t hash, enum sluice_flow_class cls, uint64_t now);

/* Seen now, in class cls: it moves to the end of that class's list. */
void sluice_flow_touch(struct sluice_flow_table *t, uint32_t idx, enum sluice_flow_class cls,
		       uint64_t now);

void sluice_flow_remove(struct sluice_flow_table *t, uint32_t idx);

/* Up to max flows idle past their class's timeout at now, oldest first per
 * class; they stay in the table until the caller removes them. */
uint32_t sluice_flow_expired(const struct sluice_flow_table *t, uint64_t now, uint32_t *out,
			     uint32_t max);

#endif
