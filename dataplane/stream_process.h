/* TCP chat services on a worker: every segment of a configured port goes
 * through its flow, WebSocket messages are judged whole with the packs, and
 * packets leave only when every byte they carry was judged
 * (docs/streams.md).
 *
 * The worker hands each segment over (sluice_stream_segment()); from then on
 * the stream layer owns the packet. At the end of the burst the worker sends
 * ctx->tx[0..tx_count) (each to its out_port, in order) and frees
 * ctx->drop[0..drop_count); held packets stay with the stream layer until a
 * later burst releases them, or until their flow is reset or forgotten.
 *
 * Contract: no allocation on the data path (pools are set up once), no
 * locks, no system calls. Every message is scanned before any of its bytes
 * leave, or its flow is reset (a stated policy, counted by reason); nothing
 * is forwarded unscanned unless --ws-binary pass says so for binary
 * messages.
 */
#ifndef SLUICE_DATAPLANE_STREAM_PROCESS_H
#define SLUICE_DATAPLANE_STREAM_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "batch_scan.h"
#include "flow_table.h"
#include "json_text.h"
#include "packet_classify.h"
#include "stream_stats.h"
#include "tcp_half.h"
#include "ws_stream.h"

struct sluice_packet_ctx;

enum sluice_stream_block { SLUICE_STREAM_BLOCK_BLANK = 0, SLUICE_STREAM_BLOCK_RESET };
enum sluice_ws_binary { SLUICE_WS_BINARY_RESET = 0, SLUICE_WS_BINARY_PASS };

struct sluice_stream_config {
	uint64_t tcp_ports[1024];	    /* WebSocket services: a 65,536-bit map */
	bool any_port;			    /* at least one is set */
	struct sluice_json_members members; /* count 0: scan text messages whole */
	uint32_t flows;			    /* flow table capacity */
	uint32_t flow_bytes;		    /* stored bytes per direction */
	uint32_t worker_bytes;		    /* stream memory per worker */
	uint32_t held_packets;		    /* held packets per worker */
	uint32_t max_message;		    /* WebSocket message payload bytes */
	bool strip_deflate;		    /* rename the client's extension offer */
	enum sluice_stream_block block;
	enum sluice_ws_binary binary;
	/* In the caller's clock units (TSC cycles in the daemon). */
	uint64_t hold_timeout;
	uint64_t resend_gap; /* between two resends of the same bytes in custody */
	uint64_t timeout[SLUICE_FLOW_CLASSES];
};

/* Defaults: no port; 65,536 flows; 256 KiB per direction; 64 MiB and 4,096
 * held packets per worker; 64 KiB messages; strip compression; block blanks the text; binary
 * messages reset the flow. Times in ms are converted with hz (units per
 * second): hold 3 s; resends of bytes in custody 20 ms apart; opening 10 s,
 * established 300 s, closing 5 s. */
void sluice_stream_config_default(struct sluice_stream_config *cfg, uint64_t hz);

/* Marks a port as a WebSocket service. */
void sluice_stream_config_add_port(struct sluice_stream_config *cfg, uint16_t port);

struct sluice_stream_out {
	void *pkt;
	uint8_t out_port;
};

struct sluice_tcp_flow;
struct sluice_stream_pending; /* stream_judge.c */

/* Builds packets Sluice sends of its own (resets, ACKs and resends of bytes
 * in its custody): a buffer of at least cap
 * bytes, or NULL. Optional: without it only the receiver of the packet in
 * hand is reset. */
struct sluice_packet_factory {
	void *(*alloc)(void *arg, uint8_t **data, uint32_t cap);
	void (*set_len)(void *arg, void *pkt, uint32_t len);
	void *arg;
};

struct sluice_stream_ctx {
	const struct sluice_stream_config *cfg;
	struct sluice_flow_table table;
	struct sluice_tcp_flow *flows;
	struct sluice_chunk_pool chunks;
	struct sluice_held_pool held;
	struct sluice_packet_factory factory;
	uint8_t *head; /* SLUICE_WS_MAX_HEAD */
	uint8_t *text; /* a message, max_message bytes */
	struct sluice_json_text json;
	/* Room to fold a message of max_message bytes, for a message scanned
	 * alone (the packet context's is sized for datagrams). */
	struct sluice_norm_space norm;
	/* Batch mode: the burst's messages, scanned together at its end. */
	struct sluice_batch batch;
	struct sluice_batch_results main, urgent;
	struct sluice_stream_pending *pending;
	uint32_t npending;
	/* This burst's output. */
	struct sluice_stream_out *tx;
	uint32_t tx_count, tx_cap;
	void **drop;
	uint32_t drop_count, drop_cap;
	const struct sluice_allocator *alloc;
};

/* 0, or -1 when out of memory. */
int sluice_stream_ctx_init(struct sluice_stream_ctx *s, const struct sluice_stream_config *cfg,
			   const struct sluice_allocator *alloc);

/* Moves every held packet to drop[] (for the caller to free) and forgets
 * every flow: at shutdown. */
void sluice_stream_drop_all(struct sluice_stream_ctx *s);

/* Frees the pools (held packets are not freed: sluice_stream_drop_all()). */
void sluice_stream_ctx_fini(struct sluice_stream_ctx *s);

/* Takes one segment that classification found for a chat service. pkt is the
 * caller's handle, data its bytes (as classified into view), in_port where
 * it arrived, rx_l4 what that port found of its checksum: one the port found
 * good is not summed again, one it found bad is dropped as tcp_checksum, and
 * SLUICE_RX_L4_UNCHECKED (no offload, a port that did not look) is verified
 * here. */
void sluice_stream_segment(struct sluice_packet_ctx *ctx, void *pkt, uint8_t *data,
			   const struct sluice_packet_view *view, uint8_t in_port,
			   enum sluice_rx_l4 rx_l4);

/* At the end of a burst (batch mode): scans the messages queued in it,
 * applies their verdicts and releases what they held. */
void sluice_stream_flush(struct sluice_packet_ctx *ctx);

/* Once per burst: flows idle past their timeout are forgotten and their held
 * packets dropped; messages held past hold_timeout follow the policy. */
void sluice_stream_expire(struct sluice_packet_ctx *ctx, uint64_t now);

/* Empties this burst's output lists (after the caller sent and freed them). */
static inline void sluice_stream_burst_done(struct sluice_stream_ctx *s)
{
	s->tx_count = 0;
	s->drop_count = 0;
}

/* Bytes a flow takes in the table and its record (not its stream bytes). */
size_t sluice_stream_bytes_per_flow(void);

#endif
