/* Serving the control socket's clients from one thread, so that no client can
 * hold that thread or delay another client.
 *
 * Contract:
 * - One thread (the control thread) owns the table and calls
 *   sluice_ctl_clients_serve() in its loop. Every socket is non-blocking and
 *   every wait is a poll() bounded by the caller's timeout, so a pass never
 *   takes longer than that timeout plus the handlers it runs.
 * - A client connects, writes one request line (at most SLUICE_CTL_MAX_REQUEST
 *   bytes before '\n', no NUL byte) within request_timeout_ms of connecting,
 *   and reads one reply line; then the server closes. Bytes after the '\n'
 *   are ignored. A line too long, a NUL byte, or no line in time gets an
 *   error reply and the connection is closed; each is counted.
 * - The handler runs once per complete line, on this thread; the reply it
 *   appends is sent as the client reads it, within reply_timeout_ms, and then
 *   the connection is closed. A client that goes away before reading its
 *   reply costs nothing: sends use MSG_NOSIGNAL, so there is no SIGPIPE.
 * - When the table is torn down (the daemon stops), a client still waiting for
 *   its line is told "the daemon is stopping" and one being answered gets
 *   what the socket takes now; nobody is reset, nothing waits.
 * - At most SLUICE_CTL_MAX_CLIENTS connections are held. When a new one
 *   arrives at the limit, the oldest connection still waiting for its request
 *   line is closed to make room, so idle connections can never lock out a
 *   client that speaks promptly. Peer credentials (SO_PEERCRED) are taken at
 *   accept and handed to the handler.
 */
#ifndef SLUICE_CONTROL_CONTROL_CLIENTS_H
#define SLUICE_CONTROL_CONTROL_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "control_protocol.h"
#include "strbuf.h"

#define SLUICE_CTL_MAX_CLIENTS 128

struct sluice_ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool known; /* SO_PEERCRED answered */
};

/* Handles one request line and appends the reply (without the newline). */
typedef void (*sluice_ctl_handler)(void *arg, const char *line, const struct sluice_ctl_peer *peer,
				   struct sluice_strbuf *reply);

/* What happened to connections since the table was set up. */
struct sluice_ctl_client_counters {
	uint64_t accepted;
	uint64_t served;	   /* a reply was sent whole */
	uint64_t request_timeouts; /* no complete line within request_timeout_ms */
	uint64_t bad_requests;	   /* line longer than SLUICE_CTL_MAX_REQUEST, or a NUL byte */
	uint64_t evicted;	   /* closed while idle to make room for a newer one */
	uint64_t vanished;	   /* went away before its reply was sent whole */
	uint64_t reply_timeouts;   /* did not read its reply within reply_timeout_ms */
};

struct sluice_ctl_client; /* control_clients.c */

struct sluice_ctl_clients {
	int listen_fd; /* non-blocking; owned by the caller */
	/* Another descriptor whose readiness ends the wait (the metrics
	 * server's), or -1; the caller handles it after serve returns. */
	int wake_fd;
	unsigned request_timeout_ms;
	unsigned reply_timeout_ms;
	unsigned count; /* connections held now */
	struct sluice_ctl_client *table;
	struct sluice_ctl_client_counters counters;
};

/* Sets up the table for listen_fd (already listening, non-blocking). Returns
 * 0, or -1 when out of memory. */
int sluice_ctl_clients_init(struct sluice_ctl_clients *c, int listen_fd);

/* Waits up to timeout_ms for something to do, then accepts, reads, runs the
 * handler for every complete line, writes replies and closes connections past
 * their deadline. */
void sluice_ctl_clients_serve(struct sluice_ctl_clients *c, int timeout_ms,
			      sluice_ctl_handler handler, void *arg);

/* Closes every connection (not listen_fd) and frees the table. */
void sluice_ctl_clients_fini(struct sluice_ctl_clients *c);

/* Outcome of adding received bytes to a connection's request buffer. */
enum sluice_ctl_line {
	SLUICE_CTL_LINE_PARTIAL = 0, /* no '\n' yet, and room for more */
	SLUICE_CTL_LINE_COMPLETE,    /* buf[0..*len) is the line, NUL-terminated */
	SLUICE_CTL_LINE_TOO_LONG,    /* SLUICE_CTL_MAX_REQUEST bytes without '\n' */
	SLUICE_CTL_LINE_NUL,	     /* a NUL byte before the '\n' */
};

/* Looks for the request line in buf[0..*len) (cap SLUICE_CTL_MAX_REQUEST + 1,
 * *len < cap) after new bytes were appended. On COMPLETE the '\n' (and a '\r'
 * before it) is replaced by NUL and *len is the line's length. Pure: the
 * connection loop and the fuzzer share it. */
enum sluice_ctl_line sluice_ctl_line_scan(char *buf, size_t *len);

#endif
