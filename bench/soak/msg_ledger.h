/* One bit per message of the run, twice: whether the injector expects it to
 * be removed (blocked, invalid UTF-8, or in a datagram with a broken frame),
 * and whether the collector has seen it come out. At the end, every message
 * must have been seen exactly once or expected to be absent.
 *
 * Contract: the capacity is fixed at creation (the injector stops there) and
 * all of it is mapped and touched up front, so the soak's own memory does not
 * grow during the run and the RSS samples show the daemon's. The injector
 * alone writes `absent`, the collector alone writes `seen`; they are different
 * words of memory, and soak_ledger_settle() runs after both threads have
 * been joined.
 */
#ifndef SLUICE_BENCH_SOAK_MSG_LEDGER_H
#define SLUICE_BENCH_SOAK_MSG_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct soak_ledger {
	uint64_t capacity; /* message sequence numbers 1..capacity */
	uint64_t *absent;
	uint64_t *seen;
	size_t bytes; /* of each map */
};

struct soak_ledger_totals {
	uint64_t seen;		   /* distinct messages seen */
	uint64_t missing;	   /* not seen */
	uint64_t missing_expected; /* not seen, and expected absent */
	uint64_t lost;		   /* not seen, though expected to come out */
	uint64_t first_lost[8];	   /* the first few, for the report */
	unsigned first_lost_count;
};

/* Returns 0, or -1 with err when the memory cannot be mapped. */
int soak_ledger_create(struct soak_ledger *l, uint64_t capacity, char *err, size_t err_len);
void soak_ledger_destroy(struct soak_ledger *l);

static inline void soak_ledger_mark_absent(struct soak_ledger *l, uint64_t seq)
{
	l->absent[seq / 64] |= 1ull << (seq % 64);
}

static inline bool soak_ledger_is_absent(const struct soak_ledger *l, uint64_t seq)
{
	return (l->absent[seq / 64] >> (seq % 64)) & 1;
}

/* Marks seq seen; false when it had been seen before (a duplicate). */
static inline bool soak_ledger_mark_seen(struct soak_ledger *l, uint64_t seq)
{
	uint64_t bit = 1ull << (seq % 64);
	bool fresh = (l->seen[seq / 64] & bit) == 0;
	l->seen[seq / 64] |= bit;
	return fresh;
}

/* Walks messages 1..injected. */
void soak_ledger_settle(const struct soak_ledger *l, uint64_t injected,
			struct soak_ledger_totals *out);

#endif
