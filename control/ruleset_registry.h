/* The pack lifecycle: which packs are in force (the active generation),
 * slots, history and rollback, the memory cap, rule expiry and the audit log.
 *
 * Contract (docs/architecture.md, "RCU contract" and "Ownership"):
 * - Workers read `active` once per pass (rcu_publish.h). Everything else here
 *   runs on the control thread only; nothing is locked because nothing else
 *   writes.
 * - Every change (load, rollback, roll forward, unload, expiry) builds the
 *   next generation completely (scratch for every worker) and publishes it
 *   with sluice_rcu_publish(); then calls the `drain` hook so that events
 *   naming the old packs are written while they are alive; then adds the old
 *   generation's rule hits to its packs' totals and frees it.
 * - Before publishing, the `check_workers` hook must confirm every worker is
 *   passing through quiescent states; otherwise the change is refused instead
 *   of waiting forever for a stuck worker, and the packs in force stay.
 * - A change that fails for any reason leaves the packs in force unchanged,
 *   is counted in `refusals`, and writes a refused audit line with its reason.
 *   No change ever leaves the main slot empty: traffic is never unscanned.
 * - Memory cap: a change whose new generation would need more than fits beside
 *   what is held now (the active generation's packs and scratch, and the packs
 *   kept for rollback, all alive until the grace period ends) is refused with
 *   the figures.
 * - Each slot keeps up to `keep` packs, in the order they were loaded, newest
 *   first. kept[current] is the slot's pack: in force when `active` (always,
 *   for main, once loaded); an unloaded urgent slot keeps its packs, and
 *   `current` names the one last in force. A rollback or roll forward makes
 *   another kept pack current without reading anything from disk and without
 *   dropping any: the packs on either side of it stay kept, so an operator
 *   can roll back and then forward again. A load puts its pack in front and
 *   makes it current, wherever `current` was. Past `keep`, the oldest pack
 *   leaves the history, sparing the pack just loaded and the one it replaced
 *   (the known-good pack to return to if the new one misbehaves). A pack
 *   leaves the history (and is freed) only after a grace period.
 * - Rule hits are counted per worker in each generation, and added to the
 *   pack's kept totals when the generation retires, so a pack's counts run
 *   from when it was loaded, across swaps of the other slot and expiries.
 */
#ifndef SLUICE_CONTROL_RULESET_REGISTRY_H
#define SLUICE_CONTROL_RULESET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit_log.h"
#include "generation.h"
#include "pack.h"

#define SLUICE_HISTORY_MAX 64

struct sluice_swap_report {
	double load_ms;	 /* reading, verifying, deserialising or compiling */
	double build_ms; /* scratch for every worker */
	double grace_ms; /* publication to the end of the grace period */
	uint64_t seq;
	char previous_version[128]; /* in force in the slot before; "" when empty */
	unsigned dropped;	    /* kept packs that left the history (a load at `keep`) */
	/* The two slots' packs fold with tables of their own: one table for
	 * both would have passed the memory cap (sluice_generation_memory()). */
	bool fold_unshared;
};

struct sluice_kept_pack {
	struct sluice_pack *pack;
	uint64_t loaded_at_ns;
	uint64_t *hits; /* per rule, from this pack's retired generations */
	/* per rule, SLUICE_SCHEDULE_*: what the audit log has of its dates */
	uint8_t *schedule_logged;
};

struct sluice_slot_history {
	struct sluice_kept_pack kept[SLUICE_HISTORY_MAX]; /* [0] loaded last */
	size_t len;
	size_t current; /* kept[current]: the slot's pack (when len > 0) */
	bool active;	/* kept[current] is in the active generation */
	/* The publication (CLOCK_REALTIME) that last changed the slot's pack
	 * (load, rollback, roll forward), whatever the other slot did since */
	uint64_t active_since_ns;
};

/* Reads a pack, held to limits (what the memory cap leaves free, so that an
 * oversized pack is refused before it is read or deserialized). Without one
 * the registry reads compiled pack files only (sluice_pack_read_trusted()
 * with no trust); the daemon installs one that checks signatures and
 * compiles rule files (language/pack_source.h), a layer above this one. */
typedef int (*sluice_pack_loader)(const char *path, const struct sluice_load_limits *limits,
				  struct sluice_pack **out, char *err, size_t err_len, void *arg);

/* Upper bounds (ms) of the grace-period histogram's buckets: fixed, so that
 * Prometheus can add the histograms of a fleet's gateways together. */
#define SLUICE_GRACE_BUCKETS 12
extern const double sluice_grace_bucket_ms[SLUICE_GRACE_BUCKETS];

struct sluice_registry {
	struct sluice_generation *active; /* RCU-protected */
	struct sluice_slot_history slots[SLUICE_SLOT_COUNT];
	size_t keep;
	unsigned worker_count;
	uint64_t next_seq;
	uint64_t swaps;
	uint64_t refusals;
	/* Every publication's grace period (loads, rollbacks, unloads,
	 * expiries), for metrics: how long swaps hold the control thread.
	 * grace_buckets[i] counts those of at most sluice_grace_bucket_ms[i]
	 * (not cumulative); longer ones are only in grace_count. */
	uint64_t grace_count;
	double grace_ms_sum, grace_ms_max;
	uint64_t grace_buckets[SLUICE_GRACE_BUCKETS];
	struct sluice_swap_report last_swap; /* the last publication's report */
	uint64_t last_swap_ns;		     /* when it completed (CLOCK_REALTIME); 0: none */
	size_t memory_cap;		     /* bytes; 0: no cap */
	struct sluice_audit_log *audit;	     /* NULL: no audit log */
	bool expiry_refusal_logged;
	/* Added to the wall clock when rules' start and expiry dates are judged
	 * (sluice --now rehearses a date); audit and event times stay real. */
	int64_t clock_offset_s;
	sluice_pack_loader loader;
	void *loader_arg;
	void (*drain)(void *arg);
	bool (*check_workers)(void *arg, char *err, size_t err_len);
	void *hook_arg;
};

struct sluice_memory_use {
	size_t active;	     /* packs of the active generation and their scratch */
	size_t kept;	     /* packs kept for rollback only */
	unsigned kept_packs; /* how many those are */
};

void sluice_registry_init(struct sluice_registry *reg, unsigned worker_count, size_t keep);

/* Loads a pack or rule file into slot and makes it active there. On failure err
 * says why and the packs in force are unchanged. */
int sluice_registry_load_slot(struct sluice_registry *reg, enum sluice_slot slot, const char *path,
			      const struct sluice_actor *by, struct sluice_swap_report *report,
			      char *err, size_t err_len);

/* What a load would find, without loading (reload --check). */
struct sluice_load_check {
	char name[128], version[128], sha256[65];
	size_t rules, disabled;		/* disabled: expired or not started now */
	size_t db_bytes, scratch_bytes; /* scratch per worker */
	bool same_as_in_force;
};

/* Everything a load of path into slot checks (the pack's signature through
 * the loader, its rules, the memory cap with its scratch, the urgent slot's
 * need of a main pack, workers able to take a swap), without swapping,
 * keeping or auditing anything. 0 with out filled, or -1 with the reason a
 * load would be refused in err. */
int sluice_registry_check_slot(struct sluice_registry *reg, enum sluice_slot slot, const char *path,
			       struct sluice_load_check *out, char *err, size_t err_len);

/* Makes an already loaded pack active in slot; takes ownership of it on success
 * only. */
int sluice_registry_publish_slot(struct sluice_registry *reg, enum sluice_slot slot,
				 struct sluice_pack *pack, const struct sluice_actor *by,
				 struct sluice_swap_report *report, char *err, size_t err_len);

/* Makes an older kept pack current in slot (rollback) or a newer one (roll
 * forward); no kept pack is dropped. `to` names the pack:
 * - NULL or "": the next one in that direction (rollback in an unloaded slot: the
 *   pack last in force);
 * - "@N": position N in the history, 0 the pack loaded last;
 * - a version: the nearest kept pack in that direction with it;
 * - otherwise, 6 to 64 hex digits: the one kept pack whose SHA-256 begins so.
 * A pack that is not in that direction, the active one, an unknown or
 * ambiguous name, and an empty history are refused, each with its own
 * message (kept versions listed). */
int sluice_registry_rollback_slot(struct sluice_registry *reg, enum sluice_slot slot,
				  const char *to, const struct sluice_actor *by,
				  struct sluice_swap_report *report, char *err, size_t err_len);
int sluice_registry_rollforward_slot(struct sluice_registry *reg, enum sluice_slot slot,
				     const char *to, const struct sluice_actor *by,
				     struct sluice_swap_report *report, char *err, size_t err_len);

/* Empties the urgent slot (its packs stay kept for rollback). The main slot
 * cannot be emptied. */
int sluice_registry_unload(struct sluice_registry *reg, enum sluice_slot slot,
			   const struct sluice_actor *by, struct sluice_swap_report *report,
			   char *err, size_t err_len);

/* What the audit log has of a kept pack's rule (schedule_logged bits). */
#define SLUICE_SCHEDULE_EXPIRY_LOGGED 1u /* an "expiry" line */
#define SLUICE_SCHEDULE_START_LOGGED  2u /* a "start" line */
#define SLUICE_SCHEDULE_WAITED	      4u /* disabled before its start in some generation */

/* The time rules' dates are judged at: the wall clock plus clock_offset_s. */
int64_t sluice_registry_now(const struct sluice_registry *reg);

/* Publishes a generation in which exactly the rules of the packs in force
 * that apply at now_s are enabled (sluice_rule_applies(): started, not
 * expired), if that changes any, and writes an audit line per rule that
 * expired ("expiry", once per kept pack) or started ("start", for a rule that
 * waited for its date while its pack was in force). Returns how many rules
 * changed (0: none), or -1 with err when the publication was refused. */
int sluice_registry_expire(struct sluice_registry *reg, int64_t now_s, char *err, size_t err_len);

/* What is held now for packs (control thread). */
void sluice_registry_memory(const struct sluice_registry *reg, struct sluice_memory_use *use);

/* Hits of rule r of the pack in force in slot since that pack was loaded. */
uint64_t sluice_registry_rule_hits(const struct sluice_registry *reg, enum sluice_slot slot,
				   size_t rule);

/* The active generation, for the control thread (workers use rcu_dereference). */
static inline const struct sluice_generation *
sluice_registry_current(const struct sluice_registry *reg)
{
	return reg->active;
}

/* Frees everything. Workers must be stopped (or offline and unregistered). */
void sluice_registry_destroy(struct sluice_registry *reg);

#endif
