/* What stream_process.c (flows, segments, release) and stream_judge.c
 * (scanning messages, verdicts) share. Not a public interface.
 */
#ifndef SLUICE_DATAPLANE_STREAM_PROCESS_INTERNAL_H
#define SLUICE_DATAPLANE_STREAM_PROCESS_INTERNAL_H

#include "datagram_process.h"
#include "event.h"
#include "stream_process.h"

enum flow_state {
	FLOW_OPENING = 0, /* the client's SYN seen */
	FLOW_OPEN,	  /* the server answered */
	FLOW_CLOSING,	  /* FIN both ways or RST: forgotten on its timeout */
	FLOW_RESET,	  /* reset by Sluice or by a side: later segments are dropped */
};

struct sluice_tcp_flow {
	struct sluice_tcp_half half[2]; /* by side of the flow key */
	struct sluice_ws_half ws[2];
	uint8_t client;	     /* the side that sent the SYN */
	uint32_t client_isn; /* its initial sequence number */
	uint8_t state;	     /* enum flow_state */
	bool known[2];	     /* the side's initial sequence number is known */
	/* Flows holding packets, oldest hold first (hold-ms). */
	uint32_t hold_prev, hold_next;
	uint64_t hold_since;
	bool holding;
	/* Messages of a side queued for the burst's scan, and where the first
	 * starts: nothing from there on is released before they are judged. */
	uint16_t pending[2];
	uint32_t pending_start[2];
	bool touched; /* queued in this flush */
	/* What each side's segments said, for the segments Sluice sends in its
	 * name (custody ACKs and resends). */
	bool sack_permitted[2];
	bool window_scale[2];
	bool timestamps;
	uint8_t shift[2];   /* window scale of the windows the side advertises */
	uint16_t mss[2];    /* the most the side takes in a segment */
	uint16_t window[2]; /* raw, as last advertised by the side */
	uint32_t tsval[2];
	uint32_t last_ack[2]; /* the side's last acknowledgement, as it sent it */
};

/* The scale of the windows side advertises: its SYN's shift when both SYNs
 * offered scaling (RFC 7323), else none. */
static inline uint8_t sluice_stream_window_shift(const struct sluice_tcp_flow *f, uint8_t side)
{
	return f->window_scale[0] && f->window_scale[1] ? f->shift[side] : 0;
}

/* The connection and direction of a message, for its events. */
void sluice_stream_identity(const struct sluice_stream_ctx *s, uint32_t idx, uint8_t side,
			    struct sluice_event *ev);

/* Resets the flow both ways as tmpl (a segment of side, or NULL: a held one)
 * allows; what was held is dropped, and the flow's later segments too. */
void sluice_stream_reset_flow(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			      const struct sluice_tcp_segment *tmpl,
			      enum sluice_stream_reason reason);

/* Parses both sides, judges or queues their messages and releases what may
 * go. Returns false when the flow was reset. */
bool sluice_stream_advance(struct sluice_packet_ctx *ctx, uint32_t idx,
			   const struct sluice_tcp_segment *seg);

/* Parses and releases what a flow may, after queued messages were settled. */
void sluice_stream_release(struct sluice_packet_ctx *ctx, uint32_t idx);

/* The burst's output: a packet to send on out_port, or to free. */
void sluice_stream_send(struct sluice_stream_ctx *s, void *pkt, uint8_t out_port);
void sluice_stream_drop_pkt(struct sluice_stream_ctx *s, void *pkt);

/* seg, of side, duplicates bytes Sluice holds: Sluice acknowledges what it
 * holds in order, in the receiver's name, and takes custody of it
 * (stream_custody.c). */
void sluice_stream_custody_ack(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			       const struct sluice_tcp_segment *seg);

/* seg, from the receiver of bytes in custody, says it lacks some: Sluice
 * resends them from the store, toward it. */
void sluice_stream_custody_resend(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t receiver,
				  const struct sluice_tcp_segment *seg);

/* Raises the ACK of seg (from receiver, on its way to the sender) to the
 * custody point, lowering its window by as much. */
void sluice_stream_raise_ack(struct sluice_packet_ctx *ctx, const struct sluice_tcp_flow *f,
			     uint8_t receiver, const struct sluice_tcp_segment *seg);

/* Allocates and frees the batch-mode queue (stream_judge.c). */
int sluice_stream_queue_init(struct sluice_stream_ctx *s);
void sluice_stream_queue_fini(struct sluice_stream_ctx *s);

/* A whole data message of side: judged now, or queued for the burst's scan
 * (batch mode). Returns false when the flow was reset. */
bool sluice_stream_on_message(struct sluice_packet_ctx *ctx, uint32_t idx, uint8_t side,
			      const struct sluice_ws_message *msg,
			      const struct sluice_tcp_segment *seg);

#endif
