#include "msg_ledger.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static uint64_t *map_bits(size_t bytes)
{
	/* MAP_POPULATE: resident from the start, zero-filled by the kernel. */
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int soak_ledger_create(struct soak_ledger *l, uint64_t capacity, char *err, size_t err_len)
{
	memset(l, 0, sizeof(*l));
	l->capacity = capacity;
	/* Bit seq for seq in 1..capacity, so capacity + 1 bits. */
	l->bytes = (size_t)((capacity + 64) / 64) * sizeof(uint64_t);
	l->absent = map_bits(l->bytes);
	l->seen = l->absent != NULL ? map_bits(l->bytes) : NULL;
	if (l->seen == NULL) {
		snprintf(err, err_len, "cannot map 2 x %zu bytes for the message ledger: %s",
			 l->bytes, strerror(errno));
		soak_ledger_destroy(l);
		return -1;
	}
	return 0;
}

void soak_ledger_destroy(struct soak_ledger *l)
{
	if (l->absent != NULL)
		munmap(l->absent, l->bytes);
	if (l->seen != NULL)
		munmap(l->seen, l->bytes);
	l->absent = l->seen = NULL;
}

void soak_ledger_settle(const struct soak_ledger *l, uint64_t injected,
			struct soak_ledger_totals *out)
{
	memset(out, 0, sizeof(*out));
	for (uint64_t seq = 1; seq <= injected && seq <= l->capacity; seq++) {
		bool seen = (l->seen[seq / 64] >> (seq % 64)) & 1;
		if (seen) {
			out->seen++;
			continue;
		}
		out->missing++;
		if (soak_ledger_is_absent(l, seq)) {
			out->missing_expected++;
			continue;
		}
		out->lost++;
		if (out->first_lost_count < sizeof(out->first_lost) / sizeof(out->first_lost[0]))
			out->first_lost[out->first_lost_count++] = seq;
	}
}
