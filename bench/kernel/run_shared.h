/* What the scanner thread and the load thread share during one run.
 *
 * The scanner owns the counters and publishes all of them after each batch
 * through a sequence lock, so the load thread's two snapshots (end of warm-up,
 * end of the measured interval) see one batch boundary, never a mix of two.
 * The load thread also reads RUN_REMOVED on its own, at every step, to know
 * how many datagrams are still in flight; a counter that only grows needs no
 * lock for that, and a stale value only makes the window look fuller.
 *
 * wake_fd is an eventfd: when a batch sent nothing on (every datagram was
 * removed), no datagram reaches the sink to wake the load thread, so the
 * scanner writes it instead.
 */
#ifndef SLUICE_BENCH_KERNEL_RUN_SHARED_H
#define SLUICE_BENCH_KERNEL_RUN_SHARED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include <time.h>

enum run_counter {
	RUN_DATAGRAMS,	   /* received by the scanner and sent on or removed */
	RUN_MESSAGES,	   /* frames in those datagrams */
	RUN_PAYLOAD_BYTES, /* their UDP payload bytes as received */
	RUN_REMOVED,	   /* datagrams not sent on: fate other than forward */
	RUN_FLAGGED,	   /* messages by verdict (scan runs) */
	RUN_MASKED,
	RUN_BLOCKED,
	RUN_EVENTS_DROPPED, /* event ring full */
	RUN_MISORDERED,	    /* datagrams whose length is not the next payload's */
	RUN_TRUNCATED,	    /* datagrams longer than any payload of the load */
	RUN_COUNTER_COUNT
};

struct run_shared {
	uint64_t seq; /* odd while the scanner writes value[] */
	uint64_t value[RUN_COUNTER_COUNT];
	int stop;	    /* set by the main thread: the scanner leaves its loop */
	int scanner_failed; /* set by the scanner: the load thread gives up early */
	int wake_fd;
} __attribute__((aligned(64)));

/* Zeroes the counters and creates wake_fd. Returns 0 or -1 with err. */
int run_shared_init(struct run_shared *s, char *err, size_t err_len);
void run_shared_close(struct run_shared *s);

static inline void run_shared_publish(struct run_shared *s, const uint64_t value[])
{
	uint64_t seq = s->seq;
	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (unsigned i = 0; i < RUN_COUNTER_COUNT; i++)
		__atomic_store_n(&s->value[i], value[i], __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELEASE);
}

static inline void run_shared_snapshot(const struct run_shared *s, uint64_t value[])
{
	for (;;) {
		uint64_t before = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		if (before & 1)
			continue;
		for (unsigned i = 0; i < RUN_COUNTER_COUNT; i++)
			value[i] = __atomic_load_n(&s->value[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) == before)
			return;
	}
}

static inline uint64_t run_shared_read(const struct run_shared *s, enum run_counter which)
{
	return __atomic_load_n(&s->value[which], __ATOMIC_ACQUIRE);
}

static inline bool run_shared_flag(const int *flag)
{
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE) != 0;
}

static inline void run_shared_set_flag(int *flag)
{
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
}

#endif
