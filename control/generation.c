#include "generation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const slot_names[SLUICE_SLOT_COUNT] = {"main", "urgent"};

const char *sluice_slot_name(enum sluice_slot slot)
{
	return (unsigned)slot < SLUICE_SLOT_COUNT ? slot_names[slot] : "?";
}

bool sluice_slot_parse(const char *name, enum sluice_slot *out)
{
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		if (strcmp(name, slot_names[s]) == 0) {
			*out = (enum sluice_slot)s;
			return true;
		}
	}
	return false;
}

int sluice_scratch_prototype(const struct sluice_pack *pack, hs_scratch_t **proto, size_t *bytes,
			     char *err, size_t err_len)
{
	*proto = NULL;
	hs_error_t rc = sluice_pack_alloc_scratch(pack, proto);
	if (rc != HS_SUCCESS) {
		snprintf(err, err_len, "%s: cannot allocate Hyperscan scratch (error %d)",
			 pack->source, rc);
		return -1;
	}
	if (hs_scratch_size(*proto, bytes) != HS_SUCCESS)
		*bytes = 0;
	return 0;
}

struct sluice_scratch_set *sluice_scratch_set_create(const struct sluice_pack *pack,
						     hs_scratch_t *proto, unsigned worker_count,
						     char *err, size_t err_len)
{
	struct sluice_scratch_set *set =
	    calloc(1, sizeof(*set) + worker_count * sizeof(hs_scratch_t *));
	if (set == NULL) {
		snprintf(err, err_len, "out of memory for a scratch set");
		hs_free_scratch(proto);
		return NULL;
	}
	set->worker_count = worker_count;
	if (hs_scratch_size(proto, &set->bytes) != HS_SUCCESS)
		set->bytes = 0;
	for (unsigned i = 0; i < worker_count; i++) {
		hs_error_t rc = hs_clone_scratch(proto, &set->scratch[i]);
		if (rc != HS_SUCCESS) {
			snprintf(err, err_len, "%s: cannot clone scratch for worker %u (error %d)",
				 pack->source, i, rc);
			hs_free_scratch(proto);
			for (unsigned j = 0; j < i; j++)
				hs_free_scratch(set->scratch[j]);
			free(set);
			return NULL;
		}
	}
	hs_free_scratch(proto);
	return set;
}

void sluice_scratch_set_put(struct sluice_scratch_set *set)
{
	if (set == NULL || --set->refs > 0)
		return;
	for (unsigned i = 0; i < set->worker_count; i++)
		hs_free_scratch(set->scratch[i]);
	free(set);
}

struct sluice_generation *sluice_generation_alloc(unsigned worker_count, char *err, size_t err_len)
{
	struct sluice_generation *gen = calloc(1, sizeof(*gen));
	if (gen == NULL) {
		snprintf(err, err_len, "out of memory for a ruleset generation");
		return NULL;
	}
	gen->worker_count = worker_count;
	return gen;
}

static void free_fold_shared(struct sluice_generation *gen)
{
	if (gen->fold_shared != NULL) {
		sluice_fold_table_free(gen->fold_shared);
		free(gen->fold_shared);
		gen->fold_shared = NULL;
	}
}

size_t sluice_generation_memory(const struct sluice_generation *gen)
{
	return gen->fold_shared != NULL ? sluice_fold_table_memory(gen->fold_shared) : 0;
}

void sluice_generation_unshare_fold(struct sluice_generation *gen)
{
	free_fold_shared(gen);
}

/* One fold for both slots where their packs' tables differ. Without it
 * (out of memory, tables from other data) each pack folds with its own:
 * slower, never wrong. */
static void share_fold(struct sluice_generation *gen)
{
	const struct sluice_pack *a = gen->slot[SLUICE_SLOT_MAIN].pack;
	const struct sluice_pack *b = gen->slot[SLUICE_SLOT_URGENT].pack;
	free_fold_shared(gen);
	if (a == NULL || b == NULL || a->fold == NULL || b->fold == NULL ||
	    !(a->views & b->views & (1u << SLUICE_VIEW_FOLDED)) ||
	    sluice_fold_table_serves(a->fold, b->fold))
		return;
	gen->fold_shared = sluice_fold_table_union(a->fold, b->fold);
}

int sluice_generation_set_slot(struct sluice_generation *gen, enum sluice_slot slot,
			       const struct sluice_pack *pack, struct sluice_scratch_set *set,
			       int64_t now_s, char *err, size_t err_len)
{
	struct sluice_gen_slot *gs = &gen->slot[slot];
	size_t rules = pack->rule_count;

	/* Whole cache lines per worker, so two workers never write one line. */
	gs->hits_stride = (rules + 7) & ~(size_t)7;
	if (gs->hits_stride == 0)
		gs->hits_stride = 8;
	size_t hits_bytes = gen->worker_count * gs->hits_stride * sizeof(uint64_t);
	gs->hits = aligned_alloc(64, hits_bytes > 0 ? hits_bytes : 64);
	if (gs->hits == NULL) {
		snprintf(err, err_len, "out of memory for rule hit counters");
		return -1;
	}
	memset(gs->hits, 0, hits_bytes);

	for (size_t r = 0; r < rules; r++) {
		if (sluice_rule_applies(&pack->rules[r], now_s))
			continue;
		if (gs->disabled == NULL) {
			gs->disabled = calloc(rules, 1);
			if (gs->disabled == NULL) {
				free(gs->hits);
				gs->hits = NULL;
				snprintf(err, err_len, "out of memory for a disabled-rule mask");
				return -1;
			}
		}
		gs->disabled[r] = 1;
		gs->disabled_count++;
	}
	gs->pack = pack;
	gs->scratch = set;
	set->refs++;
	if (slot == SLUICE_SLOT_MAIN) {
		gen->pack = pack;
	}
	share_fold(gen);
	return 0;
}

struct sluice_generation *sluice_generation_create(const struct sluice_pack *pack,
						   unsigned worker_count, char *err, size_t err_len)
{
	hs_scratch_t *proto;
	size_t bytes;
	if (sluice_scratch_prototype(pack, &proto, &bytes, err, err_len) != 0)
		return NULL;
	struct sluice_scratch_set *set =
	    sluice_scratch_set_create(pack, proto, worker_count, err, err_len);
	if (set == NULL)
		return NULL;
	struct sluice_generation *gen = sluice_generation_alloc(worker_count, err, err_len);
	if (gen == NULL || sluice_generation_set_slot(gen, SLUICE_SLOT_MAIN, pack, set,
						      (int64_t)time(NULL), err, err_len) != 0) {
		set->refs++;
		sluice_scratch_set_put(set);
		sluice_generation_free(gen);
		return NULL;
	}
	return gen;
}

uint64_t sluice_generation_rule_hits(const struct sluice_generation *gen, enum sluice_slot slot,
				     size_t rule)
{
	const struct sluice_gen_slot *gs = &gen->slot[slot];
	uint64_t sum = 0;
	if (gs->pack == NULL || rule >= gs->pack->rule_count)
		return 0;
	for (unsigned w = 0; w < gen->worker_count; w++)
		sum += __atomic_load_n(&gs->hits[w * gs->hits_stride + rule], __ATOMIC_RELAXED);
	return sum;
}

void sluice_generation_free(struct sluice_generation *gen)
{
	if (gen == NULL)
		return;
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		struct sluice_gen_slot *gs = &gen->slot[s];
		if (gs->scratch != NULL)
			sluice_scratch_set_put(gs->scratch);
		free(gs->disabled);
		free(gs->hits);
	}
	free_fold_shared(gen);
	free(gen);
}
