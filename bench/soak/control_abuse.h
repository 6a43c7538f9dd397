/* Threads that misuse the daemon's control socket, continuously and within
 * bounds, while the soak runs (control/control_clients.h says what the
 * server promises about each):
 *
 * - the idle holder keeps up to idle_max connections open that never send a
 *   byte: each is held 3 to 6 s unless the server closes it first, then
 *   closed and reopened after a pause; at most connects_per_s new ones a
 *   second. The server must close every one within its request deadline
 *   (1 s), with an error reply, or at once to make room for a newer client.
 * - stallers keep `stallers` connections that wrote half a request ("stat"),
 *   no newline, and wait: each must get the deadline's error reply or be
 *   closed.
 * - the rude thread, rude_per_s times a second in turn: 10 KiB without a
 *   newline (must be refused as too long), a line with NUL bytes (refused),
 *   `stats rules` and `status` from clients that close before reading the
 *   reply, a connect closed at once, and unknown commands (refused as
 *   unknown; never a command that changes anything).
 *
 * Each outcome is counted by misuse. A connection the server neither answered
 * nor closed within HOLD_LIMIT_S is `held`: the server failed its deadlines.
 * A reply a misuse must never get (an "ok":true to garbage, a wrong error) is
 * `unexpected`. Both must stay 0.
 *
 * Contract: soak_abuse_start() starts the threads (those with nothing to do
 * are not started) and soak_abuse_stop() stops and joins them, closing every
 * connection; each thread writes only its own misuses' figures, which are
 * complete after the stop. RLIMIT_NOFILE must allow idle_max + stallers more
 * descriptors (the caller raises it).
 */
#ifndef SLUICE_BENCH_SOAK_CONTROL_ABUSE_H
#define SLUICE_BENCH_SOAK_CONTROL_ABUSE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum soak_misuse {
	MISUSE_IDLE,	      /* connected, never a byte */
	MISUSE_HALF,	      /* half a request, then silence */
	MISUSE_HUGE,	      /* 10 KiB without a newline */
	MISUSE_NUL,	      /* a request line with NUL bytes */
	MISUSE_VANISH_RULES,  /* `stats rules`, closed before the reply */
	MISUSE_VANISH_STATUS, /* `status`, closed before the reply */
	MISUSE_CONNECT_CLOSE, /* connected and closed at once */
	MISUSE_UNKNOWN,	      /* an unknown command */
	MISUSE_COUNT
};

struct soak_misuse_figures {
	uint64_t attempts;
	uint64_t refused;    /* connect failed: the listen queue was full */
	uint64_t answered;   /* got the error reply this misuse must get */
	uint64_t cut;	     /* closed without a reply (evicted to make room) */
	uint64_t left;	     /* we closed first, as this misuse does */
	uint64_t held;	     /* neither answered nor closed within HOLD_LIMIT_S */
	uint64_t unexpected; /* a reply this misuse must never get */
	char unexpected_example[160];
};

struct soak_abuse {
	const char *socket;
	unsigned idle_max;
	unsigned connects_per_s;
	unsigned stallers;
	unsigned rude_per_s;

	atomic_bool stop;
	struct soak_misuse_figures fig[MISUSE_COUNT];
	unsigned idle_most_open; /* idle connections open at once, at most */
	pthread_t threads[3];
	bool started[3];
};

void soak_abuse_init(struct soak_abuse *a, const char *socket, unsigned idle_max,
		     unsigned connects_per_s, unsigned stallers, unsigned rude_per_s);

/* Returns 0, or -1 when a thread could not be started (the others are stopped). */
int soak_abuse_start(struct soak_abuse *a);

void soak_abuse_stop(struct soak_abuse *a);

const char *soak_misuse_name(enum soak_misuse misuse);

#endif
