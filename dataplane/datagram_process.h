/* Scanning one received packet and applying its messages' verdicts, in place.
 *
 * This is the body of the worker's per-packet work, kept free of DPDK so that it
 * can be tested on plain buffers: the worker hands it the packet's contiguous
 * bytes and acts on the returned fate (and new length).
 *
 * Contract:
 * - No allocation, no locks, no system calls. Everything it needs lives in the
 *   caller's struct sluice_packet_ctx (one per worker).
 * - Every message of a datagram for the message port is either scanned or
 *   removed: bad input is counted under its reason and handled by its policy.
 * - Events go to ctx->events; a full ring costs the event (counted), never time.
 * - ctx->gen, the scratch, mask and hit-counter pointers and ctx->burst_tsc are
 *   set by sluice_packet_ctx_bind() once per burst.
 * - Each message is scanned with the main pack and, when the generation has
 *   one, the urgent pack, each with its own scratch and disabled-rule mask. The
 *   strongest action of either wins; under mask, the spans of both packs'
 *   mask rules are masked; every match makes an event naming its own pack and
 *   counts one hit for its rule (in this worker's row of the generation).
 */
#ifndef SLUICE_DATAPLANE_DATAGRAM_PROCESS_H
#define SLUICE_DATAPLANE_DATAGRAM_PROCESS_H

#include <stdint.h>

#include "bad_input.h"
#include "event_ring.h"
#include "generation.h"
#include "match.h"
#include "message_decoder.h"
#include "worker_stats.h"

/* Packet headers are prefetched this many packets ahead of the one decoded:
 * the worker fetches the first ones, sluice_burst_process() the rest. */
#define SLUICE_PREFETCH_AHEAD 4

/* Distinct rule spans kept per message; more sets match_overflow and a message
 * whose verdict is mask is then masked whole. */
#define SLUICE_MAX_MATCHES 64

/* How messages are handed to Hyperscan (sluice_burst_process()). */
enum sluice_scan_mode {
	SLUICE_SCAN_BATCH = 0, /* one call per database for a burst's messages (default) */
	SLUICE_SCAN_MESSAGE,   /* one call per database per message */
};

struct sluice_burst_state; /* burst_process.c */
struct sluice_stream_ctx;  /* stream_process.h */

enum sluice_packet_fate {
	SLUICE_FATE_FORWARD = 0,  /* transmit, possibly rewritten and shortened */
	SLUICE_FATE_DROP_VERDICT, /* no message left; at least one was blocked by a verdict */
	SLUICE_FATE_DROP_BAD,	  /* removed by bad-input policy alone */
	SLUICE_FATE_STREAM,	  /* a chat service's TCP segment: the stream layer has it */
};

struct sluice_packet_ctx {
	/* Set up once. */
	uint16_t worker;
	const struct sluice_message_decoder *decoder;
	enum sluice_bad_policy policy[SLUICE_BAD_REASON_COUNT];
	struct sluice_worker_stats *stats;
	struct sluice_event_ring *events;
	/* A full ring: 0 drops the event at once (--events-full drop); else the
	 * worker waits up to this many TSC cycles for room (wait). */
	uint64_t event_wait_cycles;
	/* Match events: the key of their text hash, and how many bytes of the
	 * matched text they carry (0: none, the default; at most
	 * SLUICE_EVENT_SNIPPET_MAX). */
	uint64_t event_hash_key[2];
	unsigned event_snippet;
	/* Set once per burst. */
	const struct sluice_generation *gen;
	hs_scratch_t *scratch;	      /* main pack's, this worker's */
	hs_scratch_t *urgent_scratch; /* NULL: no urgent pack in this generation */
	/* The generation's table folding batches once for both packs, or NULL
	 * (struct sluice_generation). */
	const struct sluice_fold_table *fold_shared;
	uint64_t *hits[SLUICE_SLOT_COUNT];
	uint64_t burst_tsc;
	/* What the ports found of each packet's L4 checksum, indexed as the
	 * burst (enum sluice_rx_l4), or NULL: none looked. */
	const uint8_t *rx_l4;
	/* No pack of the generation scans raw text: batch scanning records the
	 * burst's texts where they are, in the packets (batch_scan.h). */
	bool texts_by_ref;
	/* Working space: one match set per slot. */
	struct sluice_match_set match_set;
	struct sluice_match matches[SLUICE_MAX_MATCHES];
	struct sluice_match_set urgent_set;
	struct sluice_match urgent_matches[SLUICE_MAX_MATCHES];
	struct sluice_decoded decoded;
	/* Batch scanning's working space; NULL: every message is scanned alone. */
	struct sluice_burst_state *burst;
	/* Room to fold one datagram's message for packs that normalise, used by
	 * both slots' sets (allocated with the scan mode). */
	struct sluice_norm_space norm;
	/* TCP chat services (stream_process.h); NULL: none configured. */
	struct sluice_stream_ctx *streams;
	/* Where the working space comes from (libc unless the caller sets it
	 * before sluice_packet_ctx_set_scan_mode(): the daemon's worker node). */
	const struct sluice_allocator *alloc;
};

/* Initialises ctx with every policy set to drop. */
void sluice_packet_ctx_init(struct sluice_packet_ctx *ctx, uint16_t worker,
			    const struct sluice_message_decoder *decoder,
			    struct sluice_worker_stats *stats, struct sluice_event_ring *events);

/* Chooses how sluice_burst_process() scans, and allocates the working space
 * for it: room to fold a message (about 1 MiB) and, for SLUICE_SCAN_BATCH, the
 * batch buffers (about 1.2 MiB with their folded copies). Call it at setup,
 * never on the data path. Returns 0, or -1 when out of memory (ctx then scans
 * per message, and fails the scan of a message a pack would fold). */
int sluice_packet_ctx_set_scan_mode(struct sluice_packet_ctx *ctx, enum sluice_scan_mode mode);

/* Frees what sluice_packet_ctx_set_scan_mode() allocated. */
void sluice_packet_ctx_fini(struct sluice_packet_ctx *ctx);

/* Binds ctx to a generation for the next burst. */
static inline void sluice_packet_ctx_bind(struct sluice_packet_ctx *ctx,
					  const struct sluice_generation *gen, uint64_t tsc)
{
	const struct sluice_gen_slot *main_slot = &gen->slot[SLUICE_SLOT_MAIN];
	const struct sluice_gen_slot *urgent = &gen->slot[SLUICE_SLOT_URGENT];

	ctx->gen = gen;
	ctx->scratch = main_slot->scratch->scratch[ctx->worker];
	ctx->match_set.pack = main_slot->pack;
	ctx->match_set.disabled = main_slot->disabled;
	ctx->hits[SLUICE_SLOT_MAIN] = main_slot->hits + ctx->worker * main_slot->hits_stride;
	if (urgent->pack != NULL) {
		ctx->urgent_scratch = urgent->scratch->scratch[ctx->worker];
		ctx->urgent_set.disabled = urgent->disabled;
		ctx->hits[SLUICE_SLOT_URGENT] = urgent->hits + ctx->worker * urgent->hits_stride;
	} else {
		ctx->urgent_scratch = NULL;
		ctx->urgent_set.disabled = NULL;
		ctx->hits[SLUICE_SLOT_URGENT] = NULL;
	}
	ctx->urgent_set.pack = urgent->pack;
	ctx->fold_shared = gen->fold_shared;
	ctx->burst_tsc = tsc;
	unsigned views = main_slot->pack->views | (urgent->pack != NULL ? urgent->pack->views : 0);
	ctx->texts_by_ref = (views & (1u << SLUICE_VIEW_RAW)) == 0;
}

/* Processes pkt[0..*len) in place; on FORWARD *len is the length to transmit. */
enum sluice_packet_fate sluice_packet_process(struct sluice_packet_ctx *ctx, uint8_t *pkt,
					      uint32_t *len);

/* The same for a packet whose handle (an mbuf) the stream layer may keep,
 * received on in_port, whose port found its L4 checksum rx_l4:
 * SLUICE_FATE_STREAM when the stream layer took the packet. */
enum sluice_packet_fate sluice_packet_process_from(struct sluice_packet_ctx *ctx, void *handle,
						   uint8_t in_port, enum sluice_rx_l4 rx_l4,
						   uint8_t *pkt, uint32_t *len);

/* Processes a burst: pkts[i][0..lens[i]) in place, fates[i] set and, on
 * FORWARD, lens[i] the length to transmit. partial (or NULL) marks packets the
 * caller cannot present contiguously: pkts[i][0..lens[i]) is then only their
 * first segment, and they are handled as sluice_packet_process_segmented()
 * does, in their place in the burst. The outcome of every packet, and the order
 * of events, are those of processing the packets one by one, in either scan
 * mode. */
void sluice_burst_process(struct sluice_packet_ctx *ctx, uint8_t *const pkts[], uint32_t lens[],
			  const bool *partial, uint16_t n, enum sluice_packet_fate fates[]);

/* The same for packets received on in_port whose handles (mbufs) the stream
 * layer may keep: a TCP segment of a chat service gets SLUICE_FATE_STREAM, and
 * what becomes of it is in ctx->streams' output lists. handles may be NULL
 * (the data pointers are the handles). */
void sluice_burst_process_from(struct sluice_packet_ctx *ctx, uint8_t in_port,
			       void *const handles[], uint8_t *const pkts[], uint32_t lens[],
			       const bool *partial, uint16_t n, enum sluice_packet_fate fates[]);

/* Handles a packet the caller cannot present contiguously: forwarded if it is
 * not for the message port, otherwise dropped as multi_segment. first/first_len
 * are its first segment. */
enum sluice_packet_fate sluice_packet_process_segmented(struct sluice_packet_ctx *ctx,
							const uint8_t *first, uint32_t first_len);

#endif
