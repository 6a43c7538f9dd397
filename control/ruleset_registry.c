#include "ruleset_registry.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "pack_sign.h"
#include "rcu_publish.h"

#define MIB (1024.0 * 1024.0)

/* From a quiet worker's fraction of a millisecond to a stalled one's
 * seconds (the watchdog's default bound is 1 s). */
const double sluice_grace_bucket_ms[SLUICE_GRACE_BUCKETS] = {0.1, 0.25, 0.5, 1,	  2.5,	5,
							     10,  25,	100, 250, 1000, 5000};

static const struct sluice_actor daemon_actor = {.kind = SLUICE_ACTOR_DAEMON};

void sluice_registry_init(struct sluice_registry *reg, unsigned worker_count, size_t keep)
{
	memset(reg, 0, sizeof(*reg));
	reg->worker_count = worker_count;
	reg->keep = keep < 2 ? 2 : (keep > SLUICE_HISTORY_MAX ? SLUICE_HISTORY_MAX : keep);
	reg->next_seq = 1;
}

/* ---- lookups ---- */

static struct sluice_kept_pack *find_kept(struct sluice_registry *reg, enum sluice_slot slot,
					  const struct sluice_pack *pack)
{
	struct sluice_slot_history *h = &reg->slots[slot];
	for (size_t i = 0; i < h->len; i++) {
		if (h->kept[i].pack == pack)
			return &h->kept[i];
	}
	return NULL;
}

static bool is_kept(const struct sluice_registry *reg, const struct sluice_pack *pack)
{
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		for (size_t i = 0; i < reg->slots[s].len; i++) {
			if (reg->slots[s].kept[i].pack == pack)
				return true;
		}
	}
	return false;
}

static const struct sluice_pack *in_force(const struct sluice_registry *reg, enum sluice_slot s)
{
	return reg->active != NULL ? reg->active->slot[s].pack : NULL;
}

static void current_packs(const struct sluice_registry *reg,
			  const struct sluice_pack *packs[SLUICE_SLOT_COUNT])
{
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++)
		packs[s] = in_force(reg, (enum sluice_slot)s);
}

void sluice_registry_memory(const struct sluice_registry *reg, struct sluice_memory_use *use)
{
	const struct sluice_generation *gen = reg->active;
	memset(use, 0, sizeof(*use));
	if (gen != NULL)
		use->active += sluice_generation_memory(gen);
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_gen_slot *gs = gen != NULL ? &gen->slot[s] : NULL;
		if (gs != NULL && gs->pack != NULL)
			use->active += sluice_pack_memory(gs->pack) +
				       gs->scratch->bytes * gs->scratch->worker_count;
	}
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_slot_history *h = &reg->slots[s];
		for (size_t i = 0; i < h->len; i++) {
			const struct sluice_pack *p = h->kept[i].pack;
			bool live = false;
			for (unsigned t = 0; gen != NULL && t < SLUICE_SLOT_COUNT; t++)
				live |= gen->slot[t].pack == p;
			if (live)
				continue;
			use->kept += sluice_pack_memory(p);
			use->kept_packs++;
		}
	}
}

uint64_t sluice_registry_rule_hits(const struct sluice_registry *reg, enum sluice_slot slot,
				   size_t rule)
{
	const struct sluice_pack *pack = in_force(reg, slot);
	if (pack == NULL || rule >= pack->rule_count)
		return 0;
	const struct sluice_kept_pack *kp = find_kept((struct sluice_registry *)reg, slot, pack);
	return (kp != NULL ? kp->hits[rule] : 0) +
	       sluice_generation_rule_hits(reg->active, slot, rule);
}

/* ---- audit ---- */

static void audit(struct sluice_registry *reg, const char *action, enum sluice_slot slot,
		  const char *reason, const struct sluice_actor *by, const char *path,
		  const struct sluice_pack *pack, const char *previous_version)
{
	struct sluice_audit_record rec = {
	    .action = action,
	    .slot = sluice_slot_name(slot),
	    .ok = reason == NULL,
	    .reason = reason,
	    .by = *by,
	    .path = path,
	    .pack = pack,
	    .previous_version = previous_version,
	};
	sluice_audit_write(reg->audit, &rec);
}

int64_t sluice_registry_now(const struct sluice_registry *reg)
{
	return (int64_t)time(NULL) + reg->clock_offset_s;
}

static void audit_rule_date(struct sluice_registry *reg, enum sluice_slot s,
			    const struct sluice_pack *pack, size_t r, const char *action)
{
	struct sluice_audit_record rec = {
	    .action = action,
	    .slot = sluice_slot_name(s),
	    .ok = true,
	    .by = daemon_actor,
	    .pack = pack,
	    .previous_version = pack->version,
	    .rule = pack->rules[r].id,
	    .expires_at = pack->rules[r].expires_at,
	    .starts_at = pack->rules[r].starts_at,
	};
	sluice_audit_write(reg->audit, &rec);
}

/* An "expiry" line the first time a pack's rule is disabled past its expiry
 * (rules already expired when the pack was loaded included; not again when
 * the same pack is loaded again: its kept entry inherits what was logged), and
 * a "start" line when a rule that waited for its start date in force
 * applies. */
static void audit_new_expiries(struct sluice_registry *reg)
{
	const struct sluice_generation *gen = reg->active;
	int64_t now = sluice_registry_now(reg);
	for (unsigned s = 0; gen != NULL && s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_gen_slot *gs = &gen->slot[s];
		struct sluice_kept_pack *kp =
		    gs->pack != NULL ? find_kept(reg, (enum sluice_slot)s, gs->pack) : NULL;
		for (size_t r = 0; kp != NULL && r < gs->pack->rule_count; r++) {
			const struct sluice_pack_rule *rule = &gs->pack->rules[r];
			uint8_t *logged = &kp->schedule_logged[r];
			bool disabled = gs->disabled != NULL && gs->disabled[r];
			if (disabled && rule->expires_at != 0 && rule->expires_at <= now &&
			    !(*logged & SLUICE_SCHEDULE_EXPIRY_LOGGED)) {
				*logged |= SLUICE_SCHEDULE_EXPIRY_LOGGED;
				audit_rule_date(reg, (enum sluice_slot)s, gs->pack, r, "expiry");
			} else if (disabled && rule->starts_at > now) {
				*logged |= SLUICE_SCHEDULE_WAITED;
			} else if (!disabled && (*logged & SLUICE_SCHEDULE_WAITED) &&
				   !(*logged & SLUICE_SCHEDULE_START_LOGGED)) {
				*logged |= SLUICE_SCHEDULE_START_LOGGED;
				audit_rule_date(reg, (enum sluice_slot)s, gs->pack, r, "start");
			}
		}
	}
}

/* ---- building and publishing generations ---- */

/* Adds a retired generation's hits to its packs' kept totals. Called after the
 * grace period, when no worker increments them any more. */
static void fold_hits(struct sluice_registry *reg, const struct sluice_generation *old)
{
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_pack *pack = old->slot[s].pack;
		struct sluice_kept_pack *kp =
		    pack != NULL ? find_kept(reg, (enum sluice_slot)s, pack) : NULL;
		for (size_t r = 0; kp != NULL && r < pack->rule_count; r++)
			kp->hits[r] += sluice_generation_rule_hits(old, (enum sluice_slot)s, r);
	}
}

/* Publishes gen and retires the generation it replaces. */
static void swap_in(struct sluice_registry *reg, struct sluice_generation *gen,
		    struct sluice_swap_report *report)
{
	double t0 = sluice_mono_ms();
	gen->seq = reg->next_seq++;
	gen->loaded_at_ns = sluice_realtime_ns();
	struct sluice_generation *old = sluice_rcu_publish(&reg->active, gen);
	if (reg->drain != NULL)
		reg->drain(reg->hook_arg);
	if (old != NULL) {
		fold_hits(reg, old);
		sluice_generation_free(old);
	}
	reg->swaps++;
	report->grace_ms = sluice_mono_ms() - t0;
	report->seq = gen->seq;
	reg->grace_count++;
	reg->grace_ms_sum += report->grace_ms;
	for (unsigned b = 0; b < SLUICE_GRACE_BUCKETS; b++)
		if (report->grace_ms <= sluice_grace_bucket_ms[b]) {
			reg->grace_buckets[b]++;
			break;
		}
	if (report->grace_ms > reg->grace_ms_max)
		reg->grace_ms_max = report->grace_ms;
	reg->last_swap = *report;
	reg->last_swap_ns = sluice_realtime_ns();
}

/* "1.50 MiB" from a MiB up, "4.9 KiB" below: packs range from a few rules to
 * hundreds of megabytes, and either figure must say something. */
static void human_bytes(char *buf, size_t cap, size_t bytes)
{
	if (bytes >= 1024 * 1024)
		snprintf(buf, cap, "%.2f MiB", (double)bytes / MIB);
	else
		snprintf(buf, cap, "%.1f KiB", (double)bytes / 1024.0);
}

/* Refuses (true, with err) when a new scratch set of scratch_bytes per worker
 * for pack, plus pack's database unless it is held already, plus `pending`
 * bytes already committed to this generation, would not fit under the cap
 * beside everything held now. */
static bool over_cap(const struct sluice_registry *reg, const struct sluice_pack *pack,
		     size_t scratch_bytes, size_t pending, char *err, size_t err_len)
{
	if (reg->memory_cap == 0)
		return false;
	struct sluice_memory_use use;
	sluice_registry_memory(reg, &use);
	bool held = is_kept(reg, pack);
	size_t db = held ? 0 : sluice_pack_memory(pack);
	size_t need = db + scratch_bytes * reg->worker_count;
	if (use.active + use.kept + pending + need <= reg->memory_cap)
		return false;
	char t_need[32], t_db[32], t_scratch[32], t_active[32], t_kept[32], t_cap[32];
	human_bytes(t_need, sizeof(t_need), need);
	human_bytes(t_db, sizeof(t_db), sluice_pack_memory(pack));
	human_bytes(t_scratch, sizeof(t_scratch), scratch_bytes);
	human_bytes(t_active, sizeof(t_active), use.active);
	human_bytes(t_kept, sizeof(t_kept), use.kept);
	human_bytes(t_cap, sizeof(t_cap), reg->memory_cap);
	/* At start nothing is in force yet: then there is nothing to keep. */
	bool in_force = reg->active != NULL;
	snprintf(err, err_len,
		 "%s %s: %s pack needs %s (pack %s%s + scratch %s × %u worker%s), active holds %s "
		 "(+ %s in %u pack%s kept for rollback), cap %s; %s",
		 pack->name, pack->version, held ? "kept" : "new", t_need, t_db,
		 held ? " already held" : "", t_scratch, reg->worker_count,
		 reg->worker_count == 1 ? "" : "s", t_active, t_kept, use.kept_packs,
		 use.kept_packs == 1 ? "" : "s", t_cap,
		 in_force ? "the packs in force stay"
			  : "raise --memory-cap-mb or use fewer workers or a smaller pack");
	return true;
}

/* Builds the generation with packs[s] in each slot and publishes it. A slot
 * whose pack is the one in force keeps its scratch set (shared); the others get
 * fresh scratch. On failure nothing is published and err says why. */
static int compose(struct sluice_registry *reg, const struct sluice_pack *const *packs,
		   int64_t now_s, struct sluice_swap_report *report, char *err, size_t err_len)
{
	if (reg->check_workers != NULL && !reg->check_workers(reg->hook_arg, err, err_len))
		return -1;

	double t0 = sluice_mono_ms();
	const struct sluice_generation *old = reg->active;
	struct sluice_scratch_set *sets[SLUICE_SLOT_COUNT] = {NULL};
	bool fresh[SLUICE_SLOT_COUNT] = {false};
	struct sluice_generation *gen = NULL;
	size_t pending = 0;
	int rc = -1;

	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		if (packs[s] == NULL)
			continue;
		if (old != NULL && old->slot[s].pack == packs[s]) {
			sets[s] = old->slot[s].scratch;
			continue;
		}
		hs_scratch_t *proto;
		size_t bytes;
		if (sluice_scratch_prototype(packs[s], &proto, &bytes, err, err_len) != 0)
			goto out;
		if (over_cap(reg, packs[s], bytes, pending, err, err_len)) {
			hs_free_scratch(proto);
			goto out;
		}
		pending += bytes * reg->worker_count +
			   (is_kept(reg, packs[s]) ? 0 : sluice_pack_memory(packs[s]));
		sets[s] =
		    sluice_scratch_set_create(packs[s], proto, reg->worker_count, err, err_len);
		if (sets[s] == NULL)
			goto out;
		/* The builder's own reference, dropped below: the generation takes
		 * one, so on failure the set goes with the builder's. */
		sets[s]->refs = 1;
		fresh[s] = true;
	}
	gen = sluice_generation_alloc(reg->worker_count, err, err_len);
	if (gen == NULL)
		goto out;
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		if (packs[s] != NULL &&
		    sluice_generation_set_slot(gen, (enum sluice_slot)s, packs[s], sets[s], now_s,
					       err, err_len) != 0)
			goto out;
	}
	/* The shared fold only saves time: rather than refuse a pack for
	 * it, the generation goes without it when it would pass the cap. */
	size_t shared = sluice_generation_memory(gen);
	if (shared > 0 && reg->memory_cap != 0) {
		struct sluice_memory_use use;
		sluice_registry_memory(reg, &use);
		if (use.active + use.kept + pending + shared > reg->memory_cap) {
			sluice_generation_unshare_fold(gen);
			report->fold_unshared = true;
		}
	}
	report->build_ms = sluice_mono_ms() - t0;
	swap_in(reg, gen, report);
	gen = NULL;
	rc = 0;
out:
	sluice_generation_free(gen);
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		if (fresh[s])
			sluice_scratch_set_put(sets[s]);
	}
	return rc;
}

static void drop_kept(struct sluice_kept_pack *kp)
{
	sluice_pack_free(kp->pack);
	free(kp->hits);
	free(kp->schedule_logged);
	memset(kp, 0, sizeof(*kp));
}

/* The oldest kept pack other than the current one leaves the history: the
 * pack a load replaces is the one to return to should the new pack misbehave,
 * even when it was rolled back to from newer ones. keep >= 2, so there is
 * always another. */
static void evict_oldest(struct sluice_slot_history *h)
{
	size_t victim = h->len - 1;
	if (victim == h->current)
		victim--;
	drop_kept(&h->kept[victim]);
	memmove(&h->kept[victim], &h->kept[victim + 1], (h->len - victim - 1) * sizeof(h->kept[0]));
	h->len--;
	if (h->current > victim)
		h->current--;
}

/* After a publication that put kept[i] in force in its slot. */
static void make_current(const struct sluice_registry *reg, struct sluice_slot_history *h, size_t i)
{
	h->current = i;
	h->active = true;
	h->active_since_ns = reg->active->loaded_at_ns;
}

static void report_previous(struct sluice_swap_report *report, const char *version)
{
	snprintf(report->previous_version, sizeof(report->previous_version), "%s",
		 version != NULL ? version : "");
}

static int refuse(struct sluice_registry *reg, const char *action, enum sluice_slot slot,
		  const char *reason, const struct sluice_actor *by, const char *path,
		  const struct sluice_pack *pack, const char *previous_version)
{
	reg->refusals++;
	audit(reg, action, slot, reason, by, path, pack, previous_version);
	return -1;
}

/* ---- operations ---- */

/* A pack the slot keeps already (same SHA-256, from any file: a rule file,
 * its pack, the pack signed) loaded again: it takes its kept entry's place at
 * the front, keeping what the audit log has of its rules' dates, instead of
 * a second entry in the history; its hits start again, as for any load. The
 * copy it replaces is freed once no worker can hold it. Returns false when the
 * slot keeps no such pack; otherwise sets *rc (0, or -1 with err after a
 * refused swap). */
static bool publish_again(struct sluice_registry *reg, enum sluice_slot slot,
			  struct sluice_pack *pack, const struct sluice_actor *by, const char *prev,
			  struct sluice_swap_report *report, char *err, size_t err_len, int *rc)
{
	struct sluice_slot_history *h = &reg->slots[slot];
	size_t k = 0;
	while (k < h->len && strcmp(h->kept[k].pack->sha256_hex, pack->sha256_hex) != 0)
		k++;
	if (k == h->len)
		return false;
	const struct sluice_pack *packs[SLUICE_SLOT_COUNT];
	current_packs(reg, packs);
	packs[slot] = pack;
	if (compose(reg, packs, sluice_registry_now(reg), report, err, err_len) != 0) {
		*rc = refuse(reg, "load", slot, err, by, pack->source, pack, prev);
		return true;
	}
	/* The grace period is over: no generation holds the old copy. */
	struct sluice_kept_pack again = h->kept[k];
	sluice_pack_free(again.pack);
	again.pack = pack;
	again.loaded_at_ns = sluice_realtime_ns();
	memset(again.hits, 0, (pack->rule_count ? pack->rule_count : 1) * sizeof(uint64_t));
	/* Loaded last, so first, whichever pack was current: the history stays
	 * in load order. */
	memmove(&h->kept[1], &h->kept[0], k * sizeof(h->kept[0]));
	h->kept[0] = again;
	make_current(reg, h, 0);
	audit(reg, "load", slot, NULL, by, pack->source, pack, prev);
	audit_new_expiries(reg);
	*rc = 0;
	return true;
}

static int publish(struct sluice_registry *reg, enum sluice_slot slot, struct sluice_pack *pack,
		   const struct sluice_actor *by, struct sluice_swap_report *report, char *err,
		   size_t err_len)
{
	const struct sluice_pack *before = in_force(reg, slot);
	char *prev = before != NULL ? strdup(before->version) : NULL;
	int rc = -1;

	report_previous(report, prev);
	if (slot != SLUICE_SLOT_MAIN && reg->active == NULL) {
		snprintf(err, err_len,
			 "no main pack is loaded yet: the %s slot goes beside a main pack",
			 sluice_slot_name(slot));
		refuse(reg, "load", slot, err, by, pack->source, pack, prev);
		goto out;
	}
	if (publish_again(reg, slot, pack, by, prev, report, err, err_len, &rc))
		goto out;
	struct sluice_kept_pack entry = {.pack = pack, .loaded_at_ns = sluice_realtime_ns()};
	size_t n = pack->rule_count > 0 ? pack->rule_count : 1;
	entry.hits = calloc(n, sizeof(uint64_t));
	entry.schedule_logged = calloc(n, 1);
	if (entry.hits == NULL || entry.schedule_logged == NULL) {
		free(entry.hits);
		free(entry.schedule_logged);
		snprintf(err, err_len, "out of memory for the pack history");
		refuse(reg, "load", slot, err, by, pack->source, pack, prev);
		goto out;
	}

	const struct sluice_pack *packs[SLUICE_SLOT_COUNT];
	current_packs(reg, packs);
	packs[slot] = pack;
	if (compose(reg, packs, sluice_registry_now(reg), report, err, err_len) != 0) {
		free(entry.hits);
		free(entry.schedule_logged);
		refuse(reg, "load", slot, err, by, pack->source, pack, prev);
		goto out;
	}

	/* The grace period is over: a pack beyond the history's length is unused. */
	struct sluice_slot_history *h = &reg->slots[slot];
	if (h->len == reg->keep) {
		evict_oldest(h);
		report->dropped = 1;
	}
	memmove(&h->kept[1], &h->kept[0], h->len * sizeof(h->kept[0]));
	h->kept[0] = entry;
	h->len++;
	make_current(reg, h, 0);
	audit(reg, "load", slot, NULL, by, pack->source, pack, prev);
	audit_new_expiries(reg);
	rc = 0;
out:
	free(prev);
	return rc;
}

int sluice_registry_publish_slot(struct sluice_registry *reg, enum sluice_slot slot,
				 struct sluice_pack *pack, const struct sluice_actor *by,
				 struct sluice_swap_report *report, char *err, size_t err_len)
{
	struct sluice_swap_report local;
	if (report == NULL)
		report = &local;
	memset(report, 0, sizeof(*report));
	return publish(reg, slot, pack, by, report, err, err_len);
}

/* What a pack may cost before it is read: what the memory cap leaves free
 * (checked again with its scratch when the generation is built). */
static struct sluice_load_limits load_limits(const struct sluice_registry *reg)
{
	struct sluice_load_limits limits = {0};
	if (reg->memory_cap != 0) {
		struct sluice_memory_use use;
		sluice_registry_memory(reg, &use);
		size_t held = use.active + use.kept;
		limits.max_bytes = held < reg->memory_cap ? reg->memory_cap - held : 1;
	}
	return limits;
}

static int read_pack(const struct sluice_registry *reg, const char *path,
		     const struct sluice_load_limits *limits, struct sluice_pack **pack, char *err,
		     size_t err_len)
{
	return reg->loader != NULL
		   ? reg->loader(path, limits, pack, err, err_len, reg->loader_arg)
		   : sluice_pack_read_trusted(path, NULL, limits, pack, err, err_len);
}

int sluice_registry_check_slot(struct sluice_registry *reg, enum sluice_slot slot, const char *path,
			       struct sluice_load_check *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	if (slot != SLUICE_SLOT_MAIN && reg->active == NULL) {
		snprintf(err, err_len,
			 "no main pack is loaded yet: the %s slot goes beside a main pack",
			 sluice_slot_name(slot));
		return -1;
	}
	struct sluice_load_limits limits = load_limits(reg);
	struct sluice_pack *pack = NULL;
	int rc = read_pack(reg, path, &limits, &pack, err, err_len);
	if (rc != 0)
		return -1;
	hs_scratch_t *scratch = NULL;
	size_t scratch_bytes = 0;
	if (sluice_pack_alloc_scratch(pack, &scratch) != HS_SUCCESS ||
	    hs_scratch_size(scratch, &scratch_bytes) != HS_SUCCESS) {
		snprintf(err, err_len, "%s: cannot allocate Hyperscan scratch", path);
		rc = -1;
	} else if (over_cap(reg, pack, scratch_bytes, 0, err, err_len) ||
		   (reg->check_workers != NULL &&
		    !reg->check_workers(reg->hook_arg, err, err_len))) {
		rc = -1;
	} else {
		const struct sluice_pack *now = in_force(reg, slot);
		int64_t at = sluice_registry_now(reg);
		snprintf(out->name, sizeof(out->name), "%s", pack->name);
		snprintf(out->version, sizeof(out->version), "%s", pack->version);
		memcpy(out->sha256, pack->sha256_hex, sizeof(out->sha256));
		out->rules = pack->rule_count;
		for (size_t r = 0; r < pack->rule_count; r++)
			out->disabled += !sluice_rule_applies(&pack->rules[r], at);
		out->db_bytes = sluice_pack_memory(pack);
		out->scratch_bytes = scratch_bytes;
		out->same_as_in_force =
		    now != NULL && strcmp(now->sha256_hex, pack->sha256_hex) == 0;
	}
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
	return rc;
}

int sluice_registry_load_slot(struct sluice_registry *reg, enum sluice_slot slot, const char *path,
			      const struct sluice_actor *by, struct sluice_swap_report *report,
			      char *err, size_t err_len)
{
	struct sluice_swap_report local;
	if (report == NULL)
		report = &local;
	memset(report, 0, sizeof(*report));

	double t0 = sluice_mono_ms();
	struct sluice_pack *pack = NULL;
	/* The cap is checked before the pack is read or deserialized, on what it
	 * leaves free, and again with the scratch when the generation is built. */
	struct sluice_load_limits limits = load_limits(reg);
	int rc = read_pack(reg, path, &limits, &pack, err, err_len);
	if (rc != 0) {
		const struct sluice_pack *before = in_force(reg, slot);
		report_previous(report, before != NULL ? before->version : NULL);
		return refuse(reg, "load", slot, err, by, path, NULL,
			      before != NULL ? before->version : NULL);
	}
	report->load_ms = sluice_mono_ms() - t0;
	if (publish(reg, slot, pack, by, report, err, err_len) != 0) {
		sluice_pack_free(pack);
		return -1;
	}
	return 0;
}

/* "2026.11.23-3, 2026.11.23-2 (active), 2026.11.23-1", newest first; an
 * unloaded slot marks the pack last in force "(unloaded)". */
static void list_kept(const struct sluice_slot_history *h, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	if (h->len == 0)
		snprintf(buf, cap, "none");
	for (size_t i = 0; i < h->len && used < cap; i++) {
		const char *mark = i != h->current ? "" : h->active ? " (active)" : " (unloaded)";
		int n = snprintf(buf + used, cap - used, "%s%s%s", i > 0 ? ", " : "",
				 h->kept[i].pack->version, mark);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Whether kept[i] lies where the move goes from the slot's pack: newer for a
 * roll forward, older for a rollback, which in an unloaded slot may also
 * bring back the pack last in force. */
static bool in_direction(const struct sluice_slot_history *h, size_t i, bool forward)
{
	if (forward)
		return i < h->current;
	return i > h->current || (i == h->current && !h->active);
}

/* The next kept pack in the move's direction, or h->len with err. */
static size_t next_target(const struct sluice_slot_history *h, enum sluice_slot slot, bool forward,
			  const char *kept, char *err, size_t err_len)
{
	size_t t = h->len;
	if (forward && h->len > 0 && h->current > 0)
		t = h->current - 1;
	else if (!forward && h->len > 0)
		t = h->active ? h->current + 1 : h->current;
	if (t < h->len)
		return t;
	snprintf(err, err_len, "no %s pack to %s%s (history holds %zu)%s%s",
		 forward ? "newer" : "earlier", forward ? "roll forward to" : "roll back to",
		 slot == SLUICE_SLOT_MAIN ? "" : " in the urgent slot", h->len,
		 h->len > 1 ? "; kept: " : "", h->len > 1 ? kept : "");
	return h->len;
}

/* "@N": position N of the history; h->len with err when malformed or past
 * its end. */
static size_t position_target(const struct sluice_slot_history *h, enum sluice_slot slot,
			      const char *to, const char *kept, char *err, size_t err_len)
{
	char *end = NULL;
	errno = 0;
	unsigned long n = strtoul(to + 1, &end, 10);
	if (to[1] < '0' || to[1] > '9' || *end != '\0' || errno != 0) {
		snprintf(
		    err, err_len,
		    "bad position '%s': expected @N, N a number from 0 (the pack loaded last); "
		    "kept in the %s slot: %s",
		    to, sluice_slot_name(slot), kept);
		return h->len;
	}
	if (n >= h->len) {
		snprintf(err, err_len,
			 "no kept pack at position %s in the %s slot (history holds %zu); kept: %s",
			 to, sluice_slot_name(slot), h->len, kept);
		return h->len;
	}
	return (size_t)n;
}

/* Whether to could begin a SHA-256 in hex: short prefixes would name packs
 * by accident. */
static bool sha_prefix_like(const char *to)
{
	size_t n = strlen(to);
	if (n < 6 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)to[i]))
			return false;
	}
	return true;
}

/* The one kept pack whose SHA-256 begins with to, or h->len with err. */
static size_t sha_target(const struct sluice_slot_history *h, enum sluice_slot slot, const char *to,
			 const char *kept, char *err, size_t err_len)
{
	size_t found = h->len, count = 0;
	char which[512] = "";
	size_t used = 0;
	for (size_t i = 0; sha_prefix_like(to) && i < h->len; i++) {
		if (strncasecmp(h->kept[i].pack->sha256_hex, to, strlen(to)) != 0)
			continue;
		found = i;
		count++;
		int n = snprintf(which + used, sizeof(which) - used, "%s%s %.12s",
				 count > 1 ? ", " : "", h->kept[i].pack->version,
				 h->kept[i].pack->sha256_hex);
		if (n > 0 && (size_t)n < sizeof(which) - used)
			used += (size_t)n;
	}
	if (count == 1)
		return found;
	if (count > 1)
		snprintf(err, err_len,
			 "SHA-256 prefix '%s' begins %zu kept packs in the %s slot (%s): give more "
			 "digits",
			 to, count, sluice_slot_name(slot), which);
	else
		snprintf(err, err_len, "no kept pack with version %s'%s' in the %s slot; kept: %s",
			 sha_prefix_like(to) ? "or SHA-256 prefix " : "", to,
			 sluice_slot_name(slot), kept);
	return h->len;
}

/* The kept pack with version `to` nearest the slot's pack in the move's
 * direction (a version kept twice, rebuilt, means that one); else the slot's
 * pack or another with it, for the caller to refuse; h->len when none. */
static size_t version_target(const struct sluice_slot_history *h, const char *to, bool forward)
{
	size_t best = h->len, other = h->len;
	for (size_t i = 0; i < h->len; i++) {
		if (strcmp(h->kept[i].pack->version, to) != 0)
			continue;
		if (in_direction(h, i, forward)) {
			if (best == h->len || (forward ? i > best : i < best))
				best = i;
		} else if (other == h->len || i == h->current) {
			other = i;
		}
	}
	return best < h->len ? best : other;
}

/* The kept pack `to` names for the move (sluice_registry_rollback_slot()), or
 * h->len with err saying why there is none. */
static size_t find_target(const struct sluice_slot_history *h, enum sluice_slot slot, bool forward,
			  const char *to, char *err, size_t err_len)
{
	char kept[1024], what[256];
	list_kept(h, kept, sizeof(kept));
	if (to == NULL)
		return next_target(h, slot, forward, kept, err, err_len);

	size_t t;
	if (to[0] == '@') {
		t = position_target(h, slot, to, kept, err, err_len);
		if (t == h->len)
			return t;
		snprintf(what, sizeof(what), "position %s (%s)", to, h->kept[t].pack->version);
	} else if ((t = version_target(h, to, forward)) < h->len) {
		snprintf(what, sizeof(what), "version '%s'", to);
	} else {
		t = sha_target(h, slot, to, kept, err, err_len);
		if (t == h->len)
			return t;
		snprintf(what, sizeof(what), "SHA-256 prefix '%s' (%s)", to,
			 h->kept[t].pack->version);
	}
	if (in_direction(h, t, forward))
		return t;
	const char *name = sluice_slot_name(slot);
	if (t == h->current && h->active)
		snprintf(err, err_len, "%s is already active in the %s slot; kept: %s", what, name,
			 kept);
	else
		snprintf(err, err_len, "%s is %s %s, %s the %s slot: %s it instead; kept: %s", what,
			 !forward	   ? "newer than"
			 : t == h->current ? "the same as"
					   : "older than",
			 h->kept[h->current].pack->version,
			 h->active ? "in force in" : "last in force in", name,
			 forward ? "roll back to" : "roll forward to", kept);
	return h->len;
}

/* A rollback or roll forward: kept[target] becomes the slot's pack; every
 * kept pack stays. */
static int move_slot(struct sluice_registry *reg, enum sluice_slot slot, bool forward,
		     const char *to, const struct sluice_actor *by,
		     struct sluice_swap_report *report, char *err, size_t err_len)
{
	struct sluice_swap_report local;
	if (report == NULL)
		report = &local;
	memset(report, 0, sizeof(*report));

	const char *action = forward ? "rollforward" : "rollback";
	struct sluice_slot_history *h = &reg->slots[slot];
	const struct sluice_pack *before = in_force(reg, slot);
	/* Kept packs stay alive across the swap: `prev` stays valid. */
	const char *prev = before != NULL ? before->version : NULL;
	report_previous(report, prev);
	size_t target = find_target(h, slot, forward, to != NULL && *to ? to : NULL, err, err_len);
	if (target == h->len)
		return refuse(reg, action, slot, err, by, NULL, NULL, prev);

	struct sluice_pack *pack = h->kept[target].pack;
	const struct sluice_pack *packs[SLUICE_SLOT_COUNT];
	current_packs(reg, packs);
	packs[slot] = pack;
	if (compose(reg, packs, sluice_registry_now(reg), report, err, err_len) != 0)
		return refuse(reg, action, slot, err, by, NULL, pack, prev);
	make_current(reg, h, target);
	audit(reg, action, slot, NULL, by, NULL, pack, prev);
	audit_new_expiries(reg);
	return 0;
}

int sluice_registry_rollback_slot(struct sluice_registry *reg, enum sluice_slot slot,
				  const char *to, const struct sluice_actor *by,
				  struct sluice_swap_report *report, char *err, size_t err_len)
{
	return move_slot(reg, slot, false, to, by, report, err, err_len);
}

int sluice_registry_rollforward_slot(struct sluice_registry *reg, enum sluice_slot slot,
				     const char *to, const struct sluice_actor *by,
				     struct sluice_swap_report *report, char *err, size_t err_len)
{
	return move_slot(reg, slot, true, to, by, report, err, err_len);
}

int sluice_registry_unload(struct sluice_registry *reg, enum sluice_slot slot,
			   const struct sluice_actor *by, struct sluice_swap_report *report,
			   char *err, size_t err_len)
{
	struct sluice_swap_report local;
	if (report == NULL)
		report = &local;
	memset(report, 0, sizeof(*report));

	struct sluice_slot_history *h = &reg->slots[slot];
	const struct sluice_pack *before = in_force(reg, slot);
	const char *prev = before != NULL ? before->version : NULL;
	report_previous(report, prev);
	if (slot == SLUICE_SLOT_MAIN) {
		snprintf(err, err_len,
			 "the main slot cannot be unloaded: every message must be scanned by a "
			 "main pack (reload another or roll back instead)");
		return refuse(reg, "unload", slot, err, by, NULL, before, prev);
	}
	if (!h->active || before == NULL) {
		snprintf(err, err_len, "the %s slot is empty: nothing to unload",
			 sluice_slot_name(slot));
		return refuse(reg, "unload", slot, err, by, NULL, NULL, NULL);
	}
	const struct sluice_pack *packs[SLUICE_SLOT_COUNT];
	current_packs(reg, packs);
	packs[slot] = NULL;
	if (compose(reg, packs, sluice_registry_now(reg), report, err, err_len) != 0)
		return refuse(reg, "unload", slot, err, by, NULL, before, prev);
	/* The pack stays kept (alive): `before` and prev are still valid. */
	h->active = false;
	audit(reg, "unload", slot, NULL, by, NULL, before, prev);
	return 0;
}

int sluice_registry_expire(struct sluice_registry *reg, int64_t now_s, char *err, size_t err_len)
{
	const struct sluice_generation *gen = reg->active;
	int newly = 0;
	for (unsigned s = 0; gen != NULL && s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_gen_slot *gs = &gen->slot[s];
		for (size_t r = 0; gs->pack != NULL && r < gs->pack->rule_count; r++) {
			bool disabled = gs->disabled != NULL && gs->disabled[r];
			if (disabled == sluice_rule_applies(&gs->pack->rules[r], now_s))
				newly++;
		}
	}
	if (newly == 0)
		return 0;

	const struct sluice_pack *packs[SLUICE_SLOT_COUNT];
	struct sluice_swap_report report = {0};
	current_packs(reg, packs);
	if (compose(reg, packs, now_s, &report, err, err_len) != 0) {
		reg->refusals++;
		/* Retried every second; written once until it succeeds. */
		if (!reg->expiry_refusal_logged) {
			for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
				if (packs[s] != NULL)
					audit(reg, "expiry", (enum sluice_slot)s, err,
					      &daemon_actor, NULL, packs[s], packs[s]->version);
			}
			reg->expiry_refusal_logged = true;
		}
		return -1;
	}
	reg->expiry_refusal_logged = false;
	audit_new_expiries(reg);
	return newly;
}

void sluice_registry_destroy(struct sluice_registry *reg)
{
	sluice_generation_free(reg->active);
	reg->active = NULL;
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		struct sluice_slot_history *h = &reg->slots[s];
		for (size_t i = 0; i < h->len; i++)
			drop_kept(&h->kept[i]);
		h->len = 0;
		h->current = 0;
		h->active = false;
	}
}
