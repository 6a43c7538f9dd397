#include "ruleset_registry.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <urcu-qsbr.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sluice_registry_init(struct sluice_registry *reg, unsigned worker_count, size_t keep)
{
	memset(reg, 0, sizeof(*reg));
	reg->worker_count = worker_count;
	reg->keep = keep < 2 ? 2 : (keep > SLUICE_HISTORY_MAX ? SLUICE_HISTORY_MAX : keep);
	reg->next_seq = 1;
}

/* Publishes gen and retires the generation it replaces. */
static void swap_in(struct sluice_registry *reg, struct sluice_generation *gen,
		    struct sluice_swap_report *report)
{
	double t0 = now_ms();
	gen->seq = reg->next_seq++;
	gen->loaded_at_ns = realtime_ns();
	struct sluice_generation *old = rcu_xchg_pointer(&reg->active, gen);
	synchronize_rcu();
	if (reg->drain != NULL)
		reg->drain(reg->hook_arg);
	sluice_generation_free(old);
	reg->swaps++;
	if (report != NULL) {
		report->grace_ms = now_ms() - t0;
		report->seq = gen->seq;
	}
}

static int build(struct sluice_registry *reg, const struct sluice_pack *pack,
		 struct sluice_generation **out, struct sluice_swap_report *report, char *err,
		 size_t err_len)
{
	if (reg->check_workers != NULL && !reg->check_workers(reg->hook_arg, err, err_len))
		return -1;
	double t0 = now_ms();
	*out = sluice_generation_create(pack, reg->worker_count, err, err_len);
	if (*out == NULL)
		return -1;
	if (report != NULL)
		report->build_ms = now_ms() - t0;
	return 0;
}

int sluice_registry_publish(struct sluice_registry *reg, struct sluice_pack *pack,
			    struct sluice_swap_report *report, char *err, size_t err_len)
{
	struct sluice_generation *gen;
	if (build(reg, pack, &gen, report, err, err_len) != 0) {
		reg->refusals++;
		return -1;
	}
	swap_in(reg, gen, report);

	/* The grace period is over: packs beyond the history's length are unused. */
	if (reg->history_len == reg->keep) {
		sluice_pack_free(reg->history[reg->keep - 1]);
		reg->history_len--;
	}
	memmove(&reg->history[1], &reg->history[0], reg->history_len * sizeof(reg->history[0]));
	reg->history[0] = pack;
	reg->history_len++;
	return 0;
}

int sluice_registry_load(struct sluice_registry *reg, const char *path,
			 struct sluice_swap_report *report, char *err, size_t err_len)
{
	double t0 = now_ms();
	struct sluice_pack *pack = NULL;
	if (sluice_pack_load(path, &pack, err, err_len) != 0) {
		reg->refusals++;
		return -1;
	}
	if (report != NULL)
		report->load_ms = now_ms() - t0;
	if (sluice_registry_publish(reg, pack, report, err, err_len) != 0) {
		sluice_pack_free(pack);
		return -1;
	}
	return 0;
}

int sluice_registry_rollback(struct sluice_registry *reg, struct sluice_swap_report *report,
			     char *err, size_t err_len)
{
	if (reg->history_len < 2) {
		snprintf(err, err_len, "no earlier pack to roll back to (history holds %zu)",
			 reg->history_len);
		reg->refusals++;
		return -1;
	}
	struct sluice_generation *gen;
	if (report != NULL)
		report->load_ms = 0;
	if (build(reg, reg->history[1], &gen, report, err, err_len) != 0) {
		reg->refusals++;
		return -1;
	}
	swap_in(reg, gen, report);
	struct sluice_pack *dropped = reg->history[0];
	memmove(&reg->history[0], &reg->history[1],
		(reg->history_len - 1) * sizeof(reg->history[0]));
	reg->history_len--;
	sluice_pack_free(dropped);
	return 0;
}

void sluice_registry_destroy(struct sluice_registry *reg)
{
	sluice_generation_free(reg->active);
	reg->active = NULL;
	for (size_t i = 0; i < reg->history_len; i++)
		sluice_pack_free(reg->history[i]);
	reg->history_len = 0;
}
