/* A ruleset generation: the packs in force, one per slot, each with one
 * Hyperscan scratch per worker, its disabled-rule mask and its per-worker
 * rule hit counters.
 *
 * Slots: `main` always holds a pack once the daemon runs; `urgent` optionally
 * holds a small pack (fresh takedown notices, say) that is swapped on its own.
 * Workers scan each message with both and combine the verdicts.
 *
 * This is the unit that RCU publishes (docs/architecture.md, "RCU contract"). The control
 * thread builds it completely, scratch for every worker included, before it is
 * published; worker w reads `slot[s].scratch->scratch[w]` and its own row of
 * `slot[s].hits` and nothing else writes them; it is freed only after the grace
 * period that follows its replacement. Packs are not owned: the registry's
 * history owns them (see ruleset_registry.h).
 *
 * Scratch sets are shared by consecutive generations that keep the same pack
 * in the same slot (a swap of the other slot, an expiry): worker w uses set
 * entry w from whichever of the two generations it holds, never both at once,
 * so sharing keeps one scratch per (pack, worker). A set is freed with the
 * last generation that holds it, i.e. after the grace period that retires
 * that generation. Reference counts are touched by the control thread only.
 *
 * Disabled masks and hit counters are allocated with the generation, so a
 * worker never allocates; hit rows are padded to whole cache lines so workers
 * do not share lines.
 */
#ifndef SLUICE_CONTROL_GENERATION_H
#define SLUICE_CONTROL_GENERATION_H

#include <stdbool.h>
#include <stdint.h>

#include <hs/hs.h>

#include "pack.h"

enum sluice_slot {
	SLUICE_SLOT_MAIN = 0,
	SLUICE_SLOT_URGENT = 1,
};
#define SLUICE_SLOT_COUNT 2

/* "main", "urgent". */
const char *sluice_slot_name(enum sluice_slot slot);
bool sluice_slot_parse(const char *name, enum sluice_slot *out);

struct sluice_scratch_set {
	unsigned refs; /* generations holding it; control thread only */
	unsigned worker_count;
	size_t bytes; /* per worker, from hs_scratch_size() */
	hs_scratch_t *scratch[];
};

/* Allocates one scratch for pack and measures it, so that a memory cap can be
 * checked before the per-worker clones are made. Returns 0 or -1 with err. */
int sluice_scratch_prototype(const struct sluice_pack *pack, hs_scratch_t **proto, size_t *bytes,
			     char *err, size_t err_len);

/* Clones proto once per worker; proto is freed in every case. The set starts
 * with no reference: sluice_generation_set_slot() takes one. */
struct sluice_scratch_set *sluice_scratch_set_create(const struct sluice_pack *pack,
						     hs_scratch_t *proto, unsigned worker_count,
						     char *err, size_t err_len);

/* Drops one reference; frees the set with the last one. */
void sluice_scratch_set_put(struct sluice_scratch_set *set);

struct sluice_gen_slot {
	const struct sluice_pack *pack; /* NULL: the slot is empty */
	struct sluice_scratch_set *scratch;
	uint8_t *disabled;     /* pack->rule_count bytes, or NULL when no rule is disabled */
	size_t disabled_count; /* rules disabled (expired) in this generation */
	uint64_t *hits;	       /* worker w's counter of rule r: hits[w * hits_stride + r] */
	size_t hits_stride;
};

struct sluice_generation {
	const struct sluice_pack *pack; /* the main slot's pack (slot[MAIN].pack) */
	uint64_t seq;			/* 1 for the first pack loaded, +1 per publication */
	uint64_t loaded_at_ns;		/* CLOCK_REALTIME when published */
	unsigned worker_count;
	struct sluice_gen_slot slot[SLUICE_SLOT_COUNT];
	/* When both slots' packs fold, with tables that differ (each cut to
	 * what its rules see): their union, with which a worker folds a batch
	 * once for both (sluice_fold_table_union()). NULL otherwise, or when
	 * the tables cannot be joined (then each pack folds with its own). */
	struct sluice_fold_table *fold_shared;
};

/* Bytes the generation holds beside its packs and their scratch: the shared
 * fold's table (0 without one). */
size_t sluice_generation_memory(const struct sluice_generation *gen);

/* Drops the shared fold: each pack then folds with its own table, slower and
 * never wrong. For a generation that would pass the memory cap with it. */
void sluice_generation_unshare_fold(struct sluice_generation *gen);

/* An empty generation (no slot filled). Returns NULL with err. */
struct sluice_generation *sluice_generation_alloc(unsigned worker_count, char *err, size_t err_len);

/* Fills an empty slot with pack and set (a reference is taken), and disables
 * every rule that does not apply at now_s (expired, or not started yet:
 * sluice_rule_applies()). Returns 0 or -1. */
int sluice_generation_set_slot(struct sluice_generation *gen, enum sluice_slot slot,
			       const struct sluice_pack *pack, struct sluice_scratch_set *set,
			       int64_t now_s, char *err, size_t err_len);

/* A generation with pack in the main slot and fresh scratch for every worker.
 * Returns NULL with a reason in err. */
struct sluice_generation *sluice_generation_create(const struct sluice_pack *pack,
						   unsigned worker_count, char *err,
						   size_t err_len);

/* Hits of rule in slot, summed over the workers (control thread). */
uint64_t sluice_generation_rule_hits(const struct sluice_generation *gen, enum sluice_slot slot,
				     size_t rule);

void sluice_generation_free(struct sluice_generation *gen);

#endif
