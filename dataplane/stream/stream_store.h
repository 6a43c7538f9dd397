/* The bytes of one direction of a TCP connection, kept by sequence number in
 * fixed-size chunks from a per-worker pool (docs/streams.md, "The stream
 * store").
 *
 * The store is the truth about a stream. Bytes enter it once: a byte already
 * present keeps its value when another segment brings it again (first wins),
 * so overlapping or conflicting retransmissions cannot change what was
 * scanned. Verdicts rewrite bytes in the store; segments are then written
 * from it on their way out (sluice_store_normalise()), so a rewrite reaches
 * every segment and every retransmission that carries the byte.
 *
 * Chunk k of a store holds [base + k * SLUICE_CHUNK_BYTES, ...). Bytes in
 * [base, contig) are all present; up to SLUICE_STORE_MAX_OOO disjoint ranges
 * beyond contig may be present too (out-of-order arrivals). Acknowledged
 * bytes leave the store a whole chunk at a time (sluice_store_ack()).
 *
 * Contract: no allocation (chunks come from the pool, which is set up once),
 * no system calls. A write either stores every missing byte of the segment or
 * changes nothing and says why. Sequence numbers compare modulo 2^32.
 */
#ifndef SLUICE_STREAM_STREAM_STORE_H
#define SLUICE_STREAM_STREAM_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "allocator.h"

#define SLUICE_CHUNK_BYTES   2048u
#define SLUICE_CHUNK_NONE    UINT32_MAX
#define SLUICE_STORE_MAX_OOO 4

struct sluice_chunk_pool {
	uint8_t *bytes; /* count * SLUICE_CHUNK_BYTES */
	uint32_t *next; /* per chunk: the next chunk of its list */
	uint32_t count; /* chunks in the pool */
	uint32_t free;	/* chunks not in any store */
	uint32_t free_head;
	const struct sluice_allocator *alloc;
};

/* count chunks of SLUICE_CHUNK_BYTES. 0, or -1 when out of memory. */
int sluice_chunk_pool_init(struct sluice_chunk_pool *pool, uint32_t count,
			   const struct sluice_allocator *alloc);
void sluice_chunk_pool_fini(struct sluice_chunk_pool *pool);

struct sluice_seq_range {
	uint32_t start, end;
};

struct sluice_stream_store {
	uint32_t base;	 /* the first byte of the first chunk */
	uint32_t contig; /* every byte in [base, contig) is present */
	uint32_t head, tail;
	uint32_t chunks;
	uint32_t ooo_count;
	struct sluice_seq_range ooo[SLUICE_STORE_MAX_OOO]; /* sorted, disjoint, beyond contig */
	/* Where sluice_store_overwrite() changed bytes (empty: start == end). */
	uint32_t dirty_start, dirty_end;
};

enum sluice_store_result {
	SLUICE_STORE_OK = 0,
	SLUICE_STORE_TOO_FAR,	/* would hold more than max_bytes from base */
	SLUICE_STORE_NO_MEMORY, /* the pool has too few free chunks */
	SLUICE_STORE_OOO_LIMIT, /* would need more out-of-order ranges */
};

/* An empty store whose next byte is seq. */
void sluice_store_init(struct sluice_stream_store *s, uint32_t seq);

/* Returns every chunk to the pool; the store is empty at contig afterwards. */
void sluice_store_clear(struct sluice_stream_store *s, struct sluice_chunk_pool *pool);

/* Stores data[0..len), the bytes at seq. Bytes before base are ignored (they
 * were acknowledged); bytes already present are kept, and *conflicts (if not
 * NULL) is increased by how many of them differ from data. */
enum sluice_store_result sluice_store_write(struct sluice_stream_store *s,
					    struct sluice_chunk_pool *pool, uint32_t seq,
					    const uint8_t *data, uint32_t len, uint32_t max_bytes,
					    uint32_t *conflicts);

/* How many of data[0..len), the bytes at seq, differ from bytes the store
 * already has. */
uint32_t sluice_store_differing(const struct sluice_stream_store *s,
				const struct sluice_chunk_pool *pool, uint32_t seq,
				const uint8_t *data, uint32_t len);

/* Whether every byte of [seq, seq + len) is present. */
bool sluice_store_has(const struct sluice_stream_store *s, uint32_t seq, uint32_t len);

/* Copies present bytes [seq, seq + len) out of, or over, the store. */
void sluice_store_read(const struct sluice_stream_store *s, const struct sluice_chunk_pool *pool,
		       uint32_t seq, uint8_t *dst, uint32_t len);
void sluice_store_overwrite(struct sluice_stream_store *s, struct sluice_chunk_pool *pool,
			    uint32_t seq, const uint8_t *src, uint32_t len);

/* Whether sluice_store_overwrite() wrote any byte of [seq, seq + len) since
 * the dirty range was last emptied (the owner empties it, setting start to
 * end, once no held segment can reach into it). */
static inline bool sluice_store_dirty(const struct sluice_stream_store *s, uint32_t seq,
				      uint32_t len)
{
	return s->dirty_start != s->dirty_end && (int32_t)(seq - s->dirty_end) < 0 &&
	       (int32_t)(s->dirty_start - (seq + len)) < 0;
}

/* A contiguous view of up to len present bytes at seq (never across a chunk):
 * returns how many bytes *p points at. */
uint32_t sluice_store_peek(const struct sluice_stream_store *s,
			   const struct sluice_chunk_pool *pool, uint32_t seq, uint32_t len,
			   const uint8_t **p);

/* Writes the store's bytes over a segment's payload, the bytes at seq, where
 * the store has them. Where a byte changes, the Internet-checksum sums of the
 * old and new bytes are added to *old_sum and *new_sum (the payload starts at
 * an even offset of the checksummed data, as a TCP payload does), so the
 * caller can update the checksum (RFC 1624). Returns how many bytes changed. */
uint32_t sluice_store_normalise(const struct sluice_stream_store *s,
				const struct sluice_chunk_pool *pool, uint32_t seq,
				uint8_t *payload, uint32_t len, uint32_t *old_sum,
				uint32_t *new_sum);

/* The receiver has every byte before upto: chunks wholly before it (and before
 * contig) go back to the pool; all of them when upto reaches contig and
 * nothing lies beyond, so an idle connection holds no memory. */
void sluice_store_ack(struct sluice_stream_store *s, struct sluice_chunk_pool *pool, uint32_t upto);

#endif
