/* Counters of a worker's TCP streams, and the reasons a segment or a flow is
 * dropped or reset. Part of struct sluice_worker_stats: one writer (the
 * worker), plain increments; gauges are stored, not added.
 */
#ifndef SLUICE_STREAM_STREAM_STATS_H
#define SLUICE_STREAM_STREAM_STATS_H

#include <stdint.h>

#include "ws_stream.h"

enum sluice_stream_reason {
	SLUICE_STREAM_OK = 0,
	SLUICE_STREAM_TCP_CHECKSUM,  /* a segment with a bad TCP checksum: dropped */
	SLUICE_STREAM_MIDSTREAM,     /* data of a flow not in the table: dropped */
	SLUICE_STREAM_TABLE_FULL,    /* a SYN found no room: dropped */
	SLUICE_STREAM_FLOW_BYTES,    /* past the per-direction byte limit */
	SLUICE_STREAM_NO_MEMORY,     /* the worker's stream memory is used up */
	SLUICE_STREAM_OOO_LIMIT,     /* too many out-of-order ranges: dropped */
	SLUICE_STREAM_DUPLICATE,     /* every byte already in a held packet: dropped */
	SLUICE_STREAM_AFTER_FIN,     /* data beyond the FIN: dropped */
	SLUICE_STREAM_SYN_DATA,	     /* data on a SYN: dropped (TCP Fast Open) */
	SLUICE_STREAM_RST_OUTSIDE,   /* a RST whose sequence is outside the stream: dropped */
	SLUICE_STREAM_SYN_REOPEN,    /* a new SYN on a flow not closed: the old flow is forgotten */
	SLUICE_STREAM_AFTER_RESET,   /* a segment of a flow reset (by Sluice or an end): dropped */
	SLUICE_STREAM_MULTI_SEGMENT, /* a segment in several mbufs: dropped (bad input too) */
	SLUICE_STREAM_HOLD_TIMEOUT,  /* a message stayed incomplete past hold-ms */
	SLUICE_STREAM_TLS,	     /* TLS on a chat port: it cannot be scanned */
	SLUICE_STREAM_NOT_UPGRADED,  /* the server did not switch to WebSocket */
	SLUICE_STREAM_WS_PROTOCOL,   /* a WebSocket protocol error (ws_stream.h) */
	SLUICE_STREAM_WS_COMPRESSED, /* a compressed message: it cannot be scanned */
	SLUICE_STREAM_WS_BINARY,     /* a binary message under --ws-binary reset */
	SLUICE_STREAM_WS_TRUNCATED,  /* the stream ended inside a message */
	SLUICE_STREAM_INVALID_UTF8,  /* a text message that is not UTF-8 */
	SLUICE_STREAM_SCAN_ERROR,    /* Hyperscan failed on a message */
	SLUICE_STREAM_BLOCKED,	     /* a block verdict under --stream-block reset */
	SLUICE_STREAM_REASON_COUNT
};

const char *sluice_stream_reason_name(enum sluice_stream_reason r);

struct sluice_stream_stats {
	uint64_t segments;	    /* TCP segments of chat services */
	uint64_t checksums_by_port; /* of those, checksums the port verified */
	uint64_t segments_held;	    /* held at least once */
	uint64_t segments_released;
	uint64_t segments_dropped;	/* by reason below */
	uint64_t retransmits_rewritten; /* segments written from the store on the way out */
	uint64_t conflict_bytes;	/* overlapping bytes that differed from the first copy */
	uint64_t custody_acks;		/* ACKs sent to a sender retransmitting held bytes */
	uint64_t custody_bytes;		/* bytes they acknowledged in the receiver's name */
	uint64_t custody_resends;	/* segments resent from the store to a receiver */
	uint64_t acks_raised;		/* receiver ACKs raised to the custody point */
	uint64_t flows_opened;
	uint64_t flows_closed;	/* FIN both ways or RST, then forgotten */
	uint64_t flows_expired; /* idle past their timeout */
	uint64_t flows_reset;	/* reset by Sluice (policy) */
	uint64_t ws_messages;	/* text messages scanned */
	uint64_t ws_control;	/* ping, pong, close */
	uint64_t ws_unscanned;	/* binary messages passed under --ws-binary pass */
	uint64_t json_messages; /* text messages scanned by their JSON members */
	uint64_t json_malformed;
	uint64_t reason[SLUICE_STREAM_REASON_COUNT];
	uint64_t ws_error[SLUICE_WS_STREAM_ERROR_COUNT]; /* ws_protocol, by error */
	/* Gauges. */
	uint64_t flows_active;
	uint64_t held_bytes;   /* stream chunks in use, whole 2 KiB chunks: held and
				* unacknowledged bytes */
	uint64_t held_packets; /* packets waiting for their messages to be judged */
};

/* A segment dropped, and why: every drop has its reason, so the reasons add
 * up to segments_dropped. */
static inline void sluice_stream_count_drop(struct sluice_stream_stats *st,
					    enum sluice_stream_reason why)
{
	st->reason[why]++;
	st->segments_dropped++;
}

#endif
