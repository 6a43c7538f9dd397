/* One direction of a TCP connection through the gateway: which segments go
 * on now, which are held until the messages they carry are judged, and which
 * are dropped (docs/streams.md, "Hold, then release").
 *
 *   acked <= released <= judged <= store.contig,   acked <= custody <= contig
 *
 * - A segment's payload enters the store (first wins). A segment whose bytes
 *   were all released already (a retransmission) goes on at once, its payload
 *   written from the store; so does a segment without payload or FIN.
 * - Any other segment with payload, or a FIN, is held: the packet itself, in
 *   sequence order, in a record from the per-worker pool.
 * - The application layer reads [judged, contig) from the store, rewrites it
 *   where verdicts say, and advances judged (sluice_tcp_half_judge()).
 * - sluice_tcp_half_release() hands back, in order, the held packets that end
 *   at or before judged, their payload written from the store and their TCP
 *   checksum updated for the bytes that changed (RFC 1624: a bad checksum
 *   stays bad).
 * - An acknowledgement from the other side frees the store up to it.
 * - Custody: when the sender is stuck resending bytes Sluice holds (the
 *   segment after them was lost before Sluice, and the receiver, which has
 *   none of the message, cannot ask for it), Sluice acknowledges the bytes it
 *   holds on the receiver's behalf and owes their delivery: the store keeps
 *   them until the receiver's own acknowledgement, Sluice resends what the
 *   receiver lacks (sluice_tcp_half_owed()), and the receiver's ACKs toward
 *   the sender are raised to the custody point.
 *
 * Contract: no allocation, no system calls. The packet handles are the
 * caller's (mbufs in the daemon); a held packet stays untouched until it is
 * released or given back by sluice_tcp_half_drop_held().
 */
#ifndef SLUICE_STREAM_TCP_HALF_H
#define SLUICE_STREAM_TCP_HALF_H

#include <stdbool.h>
#include <stdint.h>

#include "stream_store.h"

#define SLUICE_HELD_NONE UINT32_MAX

/* A segment as the classifier found it. */
struct sluice_tcp_segment {
	void *pkt;	      /* the caller's handle */
	uint8_t *data;	      /* the packet's bytes */
	uint32_t seq;	      /* of the first payload byte */
	uint32_t ack;	      /* valid with ACK */
	uint32_t payload_len; /* bytes */
	uint16_t payload_off; /* from data */
	uint16_t csum_off;    /* of the TCP checksum field, from data */
	uint16_t l3_off;      /* of the IP header (a template for resets) */
	uint8_t flags;	      /* TCP flags (SLUICE_TCP_*) */
	uint8_t out_port;     /* where the packet goes */
	uint8_t sack_blocks;  /* in its options */
	bool ipv6;
};

#define SLUICE_TCP_FIN 0x01
#define SLUICE_TCP_SYN 0x02
#define SLUICE_TCP_RST 0x04
#define SLUICE_TCP_PSH 0x08
#define SLUICE_TCP_ACK 0x10

struct sluice_held {
	struct sluice_tcp_segment seg;
	uint64_t since; /* when it was held (the caller's clock) */
	uint32_t next;
	bool exact; /* its bytes were all new to the store: they are the store's */
};

/* Held-packet records for one worker. */
struct sluice_held_pool {
	struct sluice_held *rec;
	uint32_t count, free, free_head;
	const struct sluice_allocator *alloc;
};

int sluice_held_pool_init(struct sluice_held_pool *pool, uint32_t count,
			  const struct sluice_allocator *alloc);
void sluice_held_pool_fini(struct sluice_held_pool *pool);

struct sluice_tcp_half {
	struct sluice_stream_store store;
	uint32_t released;
	uint32_t judged;
	uint32_t acked;
	uint32_t held_head, held_tail, held_count;
	uint32_t held_bytes;  /* payload bytes in held packets */
	bool fin;	      /* a FIN was accepted */
	bool fin_released;    /* and sent on */
	uint32_t fin_seq;     /* the FIN's sequence number */
	uint32_t custody;     /* Sluice acknowledged every byte before it to the sender */
	uint32_t resent_from; /* where Sluice's last resend toward the receiver began */
	uint64_t resent_at;   /* and when (the caller's clock) */
};

enum sluice_seg_action {
	SLUICE_SEG_FORWARD = 0, /* send it now, after sluice_tcp_half_normalise() */
	SLUICE_SEG_HELD,	/* kept: it comes back from sluice_tcp_half_release() */
	SLUICE_SEG_DROP,	/* refused; *why says which limit */
};

enum sluice_seg_refusal {
	SLUICE_SEG_OK = 0,
	SLUICE_SEG_FLOW_BYTES, /* past the per-direction byte limit */
	SLUICE_SEG_NO_MEMORY,  /* the worker's chunk or held-record pool is empty */
	SLUICE_SEG_OOO_LIMIT,  /* too many out-of-order ranges */
	SLUICE_SEG_DUPLICATE,  /* every byte is in a packet already held */
	SLUICE_SEG_AFTER_FIN,  /* payload beyond an accepted FIN */
};

/* A direction whose first payload byte is seq (its SYN's sequence + 1). */
void sluice_tcp_half_init(struct sluice_tcp_half *h, uint32_t seq);

/* Takes one segment of this direction. max_bytes bounds the store. now is
 * kept with a held packet (sluice_tcp_half_oldest()). */
enum sluice_seg_action sluice_tcp_half_accept(struct sluice_tcp_half *h,
					      struct sluice_chunk_pool *chunks,
					      struct sluice_held_pool *held,
					      const struct sluice_tcp_segment *seg,
					      uint32_t max_bytes, uint64_t now,
					      enum sluice_seg_refusal *why, uint32_t *conflicts);

/* Writes the store's bytes over a segment going out and fixes its checksum.
 * Returns the bytes that changed. */
uint32_t sluice_tcp_half_normalise(const struct sluice_tcp_half *h,
				   const struct sluice_chunk_pool *chunks,
				   const struct sluice_tcp_segment *seg);

/* Every byte before upto belongs to a judged message. */
static inline void sluice_tcp_half_judge(struct sluice_tcp_half *h, uint32_t upto)
{
	h->judged = upto;
}

/* Moves up to max released packets into out[] (normalised), in order, and
 * returns how many. */
uint32_t sluice_tcp_half_release(struct sluice_tcp_half *h, struct sluice_chunk_pool *chunks,
				 struct sluice_held_pool *held, struct sluice_tcp_segment *out,
				 uint32_t max);

/* The other side acknowledged every byte before ack. */
void sluice_tcp_half_ack(struct sluice_tcp_half *h, struct sluice_chunk_pool *chunks, uint32_t ack);

/* Sluice takes over delivering every byte it holds in order: returns the
 * acknowledgement to send to the sender on the receiver's behalf (the end of
 * the contiguous bytes). The bytes stay in the store until the receiver's own
 * acknowledgement. */
uint32_t sluice_tcp_half_take_custody(struct sluice_tcp_half *h);

/* Whether Sluice acknowledged bytes the receiver has not: true while the
 * receiver's acknowledgement is below the custody point. */
static inline bool sluice_tcp_half_in_custody(const struct sluice_tcp_half *h)
{
	return (int32_t)(h->custody - h->acked) > 0;
}

/* The bytes Sluice owes a receiver that acknowledged ack: [*from, *end),
 * released, in custody and not acknowledged. False when there are none (or
 * ack is older than what the receiver acknowledged before). */
bool sluice_tcp_half_owed(const struct sluice_tcp_half *h, uint32_t ack, uint32_t *from,
			  uint32_t *end);

/* Gives back held packets (into out[], up to max, for the caller to free):
 * the flow is being reset or forgotten. Returns how many; call again until it
 * returns 0. The store's chunks go back with the last packet. */
uint32_t sluice_tcp_half_drop_held(struct sluice_tcp_half *h, struct sluice_chunk_pool *chunks,
				   struct sluice_held_pool *held, struct sluice_tcp_segment *out,
				   uint32_t max);

/* When the oldest held packet was held; false when none is. */
bool sluice_tcp_half_oldest(const struct sluice_tcp_half *h, const struct sluice_held_pool *held,
			    uint64_t *since);

#endif
