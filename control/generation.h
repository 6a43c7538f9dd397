/* A ruleset generation: one pack plus one Hyperscan scratch per worker.
 *
 * This is the unit that RCU publishes (DESIGN.md, RCU contract). The control
 * thread builds it completely, scratch for every worker included, before it is
 * published; a worker reads `scratch[its id]` and nothing else writes it; it is
 * freed only after the grace period that follows its replacement. The pack is
 * not owned: the registry's history owns packs (see ruleset_registry.h).
 */
#ifndef SLUICE_CONTROL_GENERATION_H
#define SLUICE_CONTROL_GENERATION_H

#include <stdint.h>

#include <hs/hs.h>

#include "pack.h"

struct sluice_generation {
	const struct sluice_pack *pack;
	uint64_t seq;	       /* 1 for the first pack loaded, +1 per publication */
	uint64_t loaded_at_ns; /* CLOCK_REALTIME when published */
	size_t scratch_bytes;  /* per worker */
	unsigned worker_count;
	hs_scratch_t *scratch[];
};

/* Allocates scratch for every worker. Returns NULL with a reason in err. */
struct sluice_generation *sluice_generation_create(const struct sluice_pack *pack,
						   unsigned worker_count, char *err,
						   size_t err_len);

void sluice_generation_free(struct sluice_generation *gen);

#endif
