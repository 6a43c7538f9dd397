/* The active ruleset, its publication through RCU, and the pack history.
 *
 * Contract (DESIGN.md, RCU contract):
 * - Workers read `active` with rcu_dereference() once per burst and report a
 *   quiescent state after it. Everything else here runs on the control thread
 *   only; nothing is locked because nothing else writes.
 * - A publication builds the new generation completely (scratch for every
 *   worker) before one rcu_xchg_pointer(); then synchronize_rcu(); then calls
 *   the `drain` hook so that events naming the old pack are written while it is
 *   still alive; then frees the old generation.
 * - Before publishing, the `check_workers` hook must confirm every worker is
 *   passing through quiescent states; otherwise the swap is refused instead of
 *   waiting forever for a stuck worker, and the running pack stays.
 * - history[0] is the active pack; up to `keep` packs are kept for rollback.
 *   A pack leaves the history (and is freed) only after a grace period.
 */
#ifndef SLUICE_CONTROL_RULESET_REGISTRY_H
#define SLUICE_CONTROL_RULESET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "generation.h"
#include "pack.h"

#define SLUICE_HISTORY_MAX 64

struct sluice_swap_report {
	double load_ms;	 /* reading, verifying, deserialising or compiling */
	double build_ms; /* scratch for every worker */
	double grace_ms; /* publication to the end of the grace period */
	uint64_t seq;
};

struct sluice_registry {
	struct sluice_generation *active; /* RCU-protected */
	struct sluice_pack *history[SLUICE_HISTORY_MAX];
	size_t history_len;
	size_t keep;
	unsigned worker_count;
	uint64_t next_seq;
	uint64_t swaps;
	uint64_t refusals;
	void (*drain)(void *arg);
	bool (*check_workers)(void *arg, char *err, size_t err_len);
	void *hook_arg;
};

void sluice_registry_init(struct sluice_registry *reg, unsigned worker_count, size_t keep);

/* Loads a pack or rule file and makes it active. On failure err says why and the
 * active pack is unchanged. */
int sluice_registry_load(struct sluice_registry *reg, const char *path,
			 struct sluice_swap_report *report, char *err, size_t err_len);

/* Makes an already loaded pack active; takes ownership of it on success only. */
int sluice_registry_publish(struct sluice_registry *reg, struct sluice_pack *pack,
			    struct sluice_swap_report *report, char *err, size_t err_len);

/* Returns to the previous pack in the history; the pack rolled back from is
 * dropped from it. */
int sluice_registry_rollback(struct sluice_registry *reg, struct sluice_swap_report *report,
			     char *err, size_t err_len);

/* The active generation, for the control thread (workers use rcu_dereference). */
static inline const struct sluice_generation *
sluice_registry_current(const struct sluice_registry *reg)
{
	return reg->active;
}

/* Frees everything. Workers must be stopped (or offline and unregistered). */
void sluice_registry_destroy(struct sluice_registry *reg);

#endif
