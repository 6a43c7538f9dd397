/* The events bus's spool file (event_bus.h): events not yet acknowledged by
 * JetStream, kept on disk in order, across restarts. This module is the
 * file alone, with no NATS in it, so that its reader can be tested and fuzzed
 * on any bytes a crash or a stranger may leave behind.
 *
 * Format. A 64-byte header line "sluice-spool 1 head=N" (N: the offset of
 * the oldest record not yet acknowledged, padded with spaces, ending in a
 * newline; rewritten in place as acks come), then one record per line:
 * "SUBJECT MSG-ID BODY", BODY being an event's JSON line with its newline.
 *
 * Contract:
 * - Opening checks an existing file from its head to its end: a head outside
 *   [header, size] is taken as the header's end; whatever follows the last
 *   newline (a record a crash cut short) is cut off, so that afterwards
 *   header <= head <= read <= end == the file's size, and every byte in
 *   [head, end) belongs to a line that ends with a newline at or before end.
 *   A file shorter than the header is made an empty spool; a longer one
 *   without the header's magic is refused (it is not ours to truncate).
 * - A record is appended with one write(), after the caller's subject and
 *   message id (neither holding a space or a newline) and a body that ends
 *   with its only newline. The spool refuses a record that would take the
 *   records past max_bytes (0: no limit), or longer than
 *   SLUICE_EVENT_SPOOL_RECORD_MAX; a failed write is cut off at once.
 * - Lines are read from `read` on, each returned without its newline from a
 *   read-ahead buffer the spool owns, valid until the next call on it. A line
 *   that is not "SUBJECT MSG-ID BODY" (two spaces at least) is the caller's
 *   to skip: sluice_event_spool_split() says which. A line longer than the
 *   read-ahead (256 KiB: no record is) is skipped by the reader itself and
 *   counted (sluice_event_spool_take_skipped()), so that a damaged file never
 *   stops the spool from draining.
 * - The caller moves `head` as records are acknowledged; trim persists it,
 *   and empties the file back to its header once everything is acknowledged.
 * - Disk given back while records remain (a bus that comes and goes may
 *   never let the spool empty): once SLUICE_EVENT_SPOOL_RECLAIM bytes below
 *   head are acknowledged, trim syncs the header and punches those blocks
 *   out of the file (fallocate PUNCH_HOLE; offsets stay, the blocks are
 *   freed), as open does for a file left with a head. max_bytes bounds the
 *   bytes on disk, from the first block not punched to the end; on a file
 *   system without hole punching it bounds everything after the header, as
 *   until the spool empties nothing is given back there.
 * - Not thread-safe: one thread (the control thread) owns a spool.
 */
#ifndef SLUICE_CONTROL_EVENT_SPOOL_H
#define SLUICE_CONTROL_EVENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLUICE_EVENT_SPOOL_HEADER     64
#define SLUICE_EVENT_SPOOL_MAGIC      "sluice-spool 1 head="
#define SLUICE_EVENT_SPOOL_RECORD_MAX (256 + 128 + 4096) /* subject, message id, body */
#define SLUICE_EVENT_SPOOL_RECLAIM    (64 * 1024)	 /* acknowledged bytes per punch */

struct sluice_event_spool {
	int fd;
	char *path;
	uint64_t max_bytes;    /* of records; 0: no limit */
	uint64_t head;	       /* persisted: oldest unacknowledged record */
	uint64_t head_written; /* what the header says now */
	uint64_t read;	       /* next record to read */
	uint64_t end;	       /* past the last whole record: the file's size */
	uint64_t skipped;      /* lines too long to be records, skipped by peek */
	uint64_t reclaimed;    /* blocks before this offset are punched out; 0: none */
	bool cannot_punch;     /* the file system has no hole punching */
	char *rbuf;	       /* records read ahead from rbuf_off */
	uint64_t rbuf_off;
	size_t rbuf_len;
};

/* One line split at its first two spaces; body runs to the line's end and
 * takes its newline (body_len counts it). */
struct sluice_event_spool_record {
	const char *subject, *msg_id, *body;
	size_t subject_len, msg_id_len, body_len;
};

/* Opens or creates path (0640). *records: the whole lines from head to end.
 * Returns 0, or -1 with err (and the spool closed). */
int sluice_event_spool_open(struct sluice_event_spool *s, const char *path, uint64_t max_bytes,
			    uint64_t *records, char *err, size_t err_len);

/* Appends one record; false when it does not fit or the write failed. */
bool sluice_event_spool_append(struct sluice_event_spool *s, const char *subject,
			       const char *msg_id, const char *body, size_t len);

/* The line at `read` (without its newline) and its length; NULL at the end
 * or on a read error. Does not move `read`: the caller adds line_len + 1
 * (peek itself moves it past lines too long to be records). */
const char *sluice_event_spool_peek(struct sluice_event_spool *s, size_t *line_len);

/* How many lines peek skipped since the last call, for the caller's counts. */
uint64_t sluice_event_spool_take_skipped(struct sluice_event_spool *s);

/* Splits a line from peek (its newline at line[line_len]). False: not a
 * record. */
bool sluice_event_spool_split(const char *line, size_t line_len,
			      struct sluice_event_spool_record *out);

/* Persists `head`; when everything is acknowledged (head == end), empties
 * the file back to its header. -1: the file could not be cut. */
int sluice_event_spool_trim(struct sluice_event_spool *s);

/* The 64-byte header line saying head. */
void sluice_event_spool_header(char h[SLUICE_EVENT_SPOOL_HEADER], uint64_t head);

void sluice_event_spool_close(struct sluice_event_spool *s);

#endif
