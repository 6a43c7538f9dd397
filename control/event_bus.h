/* Events to NATS JetStream, at least once, with a bounded spool on disk.
 *
 * The sink formats an event's JSON line once (event_sink.h); the same bytes go
 * to the file and, through sluice_event_bus_put(), to the bus. Only the
 * control thread calls these functions; cnats' own threads only record acks
 * (under the bus's mutex) for the control thread to collect.
 *
 * Custody. An event leaves Sluice only when the stream acknowledged it. Until
 * then it is either in the in-flight window (memory, at most `max_pending`
 * events, published and waiting for their acks) or in the spool (a file,
 * at most `spool_max_bytes`). Order is window, then spool, then new events:
 * while the spool holds anything, new events are appended to it, not
 * published, so a worker's events reach the stream in the order it made them
 * (up to the resends below). Without a spool, a full window leaves events in
 * the workers' rings (sluice_event_bus_ready()). When the spool is full, the
 * event is lost and counted (`lost`).
 *
 * Failures. A publish that fails (an error from the server, an ack that did
 * not come within `ack_timeout_ms`, the connection gone) stops publishing:
 * the window waits until each of its events is acked or failed, then, once
 * connected, everything not acked is published again in order, after a
 * backoff. A resend may store nothing new: every message carries a
 * Nats-Msg-Id (gateway.boot.worker.sequence), so JetStream's duplicate window
 * drops the second copy and acks it as a duplicate (`duplicates`). Resent
 * events stored for the first time behind later ones that were acked are the
 * one way a consumer can see a worker's events out of order; the headers
 * Sluice-Worker and Sluice-Seq let it put them back and count duplicates.
 *
 * Subjects: PREFIX.match.CATEGORY.ACTION, PREFIX.bad_input.REASON,
 * PREFIX.stream.REASON (sluice_event_bus_subject()); every token is
 * sanitised to [A-Za-z0-9_-].
 *
 * Spool file (its contract in event_spool.h): a 64-byte header line
 * "sluice-spool 1 head=N" (N: the offset of the oldest record not yet
 * acknowledged, rewritten in place as acks come), then one record per line:
 * "SUBJECT MSG-ID BODY", BODY being the event's JSON line with its newline. A
 * record is appended with one write(); a record cut short by a crash is cut
 * off at the next open. The spool survives a restart and is drained first at
 * the next start. Events in the window and in the workers' rings are in
 * memory: a crash loses those (a clean stop waits for acks, bounded, and
 * spools what is still unacknowledged).
 */
#ifndef SLUICE_CONTROL_EVENT_BUS_H
#define SLUICE_CONTROL_EVENT_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "nats_security.h"

#define SLUICE_EVENT_BUS_WORKERS 256 /* per-worker sequences kept */
#define SLUICE_EVENT_BUS_SUBJECT 256 /* subject bytes, NUL included */
#define SLUICE_EVENT_BUS_MSG_ID	 128

struct sluice_event_bus_config {
	const char *servers;		      /* "nats://h:p[,nats://h:p...]" */
	const char *stream;		      /* created when missing, subjects PREFIX.> */
	const char *prefix;		      /* subject prefix; NULL: "sluice.events" */
	const char *gateway;		      /* in message ids; NULL: the host name */
	unsigned replicas;		      /* of a stream this creates; 0: 1 */
	unsigned max_pending;		      /* events in flight; 0: 1024 */
	unsigned ack_timeout_ms;	      /* 0: 5000 */
	const char *spool_path;		      /* NULL: no spool */
	struct sluice_nats_security security; /* TLS and credentials, nats_connect.h */
	uint64_t spool_max_bytes;
};

struct sluice_event_bus_stats {
	uint64_t published;  /* events published for the first time */
	uint64_t resent;     /* publishes again after a failure */
	uint64_t acked;	     /* events the stream acknowledged: out of custody */
	uint64_t duplicates; /* of them, acks saying "duplicate" */
	uint64_t failures;   /* publishes that failed or timed out */
	uint64_t spooled;    /* events written to the spool */
	uint64_t spool_bytes;
	uint64_t spool_events; /* in the spool now */
	uint64_t lost;	       /* events dropped: the spool full, or none and no room */
	uint64_t in_flight;
	uint64_t reconnects;
	bool connected;
	bool stream_ready;    /* the stream was found or created */
	char last_error[128]; /* the last failure's reason; "" while none */
};

/* The 64-bit counters and gauges of struct sluice_event_bus_stats, named
 * once for every reader (/metrics, DPDK telemetry): `name` is short
 * ("published"), `counter` false for a gauge. */
struct sluice_event_bus_field {
	const char *name, *help;
	bool counter;
	size_t offset; /* of a uint64_t in struct sluice_event_bus_stats */
};
extern const struct sluice_event_bus_field sluice_event_bus_fields[];
extern const size_t sluice_event_bus_field_count;

struct sluice_event_bus;

/* Connects (without waiting for the servers: an unreachable bus is not an
 * error, events spool) and opens the spool, whose old records are drained
 * first. Returns NULL with err on a bad option or an unusable spool. */
struct sluice_event_bus *sluice_event_bus_open(const struct sluice_event_bus_config *cfg, char *err,
					       size_t err_len);

/* The subject of an event: category and action are the rule's (MATCH);
 * NULL for other kinds. Returns its length. */
size_t sluice_event_bus_subject(const struct sluice_event_bus *bus, const struct sluice_event *ev,
				const char *category, const char *action, char *out, size_t cap);

/* Whether a put now keeps the event: the window has room (after a wait of
 * a few milliseconds at most, once per pass), or there is a spool. False:
 * the sink leaves events in the workers' rings (back-pressure; a full ring
 * then drops, counted by the worker, or makes it wait: --events-full). */
bool sluice_event_bus_ready(struct sluice_event_bus *bus);

/* Takes one event's line (body, len bytes, newline included) into custody:
 * published, spooled or counted lost. May wait a few milliseconds for room
 * in the window, never longer. */
void sluice_event_bus_put(struct sluice_event_bus *bus, const struct sluice_event *ev,
			  const char *subject, const char *body, size_t len);

/* The control thread's turn: collects acks, retires what is acknowledged,
 * resends after failures, drains the spool. Returns quickly. */
void sluice_event_bus_poll(struct sluice_event_bus *bus);

/* Whether events are in flight or spooled (the control loop should not
 * sleep long). */
bool sluice_event_bus_busy(const struct sluice_event_bus *bus);

void sluice_event_bus_stats(const struct sluice_event_bus *bus, struct sluice_event_bus_stats *out);

/* Waits up to wait_ms for what is in flight and the spool to be acked,
 * spools what is still unacknowledged (or counts it lost without a spool),
 * disconnects and frees; the last stats go to *last (NULL: none). NULL bus:
 * nothing. */
void sluice_event_bus_close(struct sluice_event_bus *bus, unsigned wait_ms,
			    struct sluice_event_bus_stats *last);

#endif
