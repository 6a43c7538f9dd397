#include "telemetry.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_telemetry.h>

#include "control_server.h"
#include "event_bus.h"
#include "stats_report.h"

struct slot_snapshot {
	bool loaded;
	char name[RTE_TEL_MAX_STRING_LEN], version[RTE_TEL_MAX_STRING_LEN], sha256[65];
	uint64_t rules, disabled;
};

/* What the commands may not read from the control thread's own state. */
struct snapshot {
	uint64_t generation, swaps, refusals, grace_count, last_grace_us, max_grace_us;
	uint64_t events_written, event_write_errors, events_filtered, events_sampled_out;
	struct slot_snapshot slot[SLUICE_SLOT_COUNT];
	bool stuck[SLUICE_MAX_WORKERS];
	bool has_bus;
	struct sluice_event_bus_stats bus; /* zeros without a bus */
};

static struct {
	pthread_mutex_t lock;
	struct sluice_control *ctl; /* NULL: detached */
	struct snapshot snap;
	bool registered;
} T = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void take_snapshot(struct snapshot *s, const struct sluice_control *ctl)
{
	const struct sluice_registry *reg = ctl->registry;
	const struct sluice_generation *gen = reg != NULL ? sluice_registry_current(reg) : NULL;
	s->generation = gen != NULL ? gen->seq : 0;
	s->swaps = reg != NULL ? reg->swaps : 0;
	s->refusals = reg != NULL ? reg->refusals : 0;
	s->grace_count = reg != NULL ? reg->grace_count : 0;
	s->last_grace_us = reg != NULL ? (uint64_t)(reg->last_swap.grace_ms * 1e3) : 0;
	s->max_grace_us = reg != NULL ? (uint64_t)(reg->grace_ms_max * 1e3) : 0;
	const struct sluice_event_sink *sink = ctl->sink;
	s->events_written = sink != NULL ? sink->written : 0;
	s->event_write_errors = sink != NULL ? sink->write_errors : 0;
	s->events_filtered = sink != NULL ? sink->filtered : 0;
	s->events_sampled_out = sink != NULL ? sink->sampled_out : 0;
	for (unsigned i = 0; i < SLUICE_SLOT_COUNT; i++) {
		struct slot_snapshot *ss = &s->slot[i];
		const struct sluice_pack *p = gen != NULL ? gen->slot[i].pack : NULL;
		/* Strings are copied only when the pack changed: a pass stays cheap. */
		if (p == NULL) {
			ss->loaded = false;
			continue;
		}
		if (!ss->loaded || strcmp(ss->sha256, p->sha256_hex) != 0) {
			snprintf(ss->name, sizeof(ss->name), "%s", p->name);
			snprintf(ss->version, sizeof(ss->version), "%s", p->version);
			snprintf(ss->sha256, sizeof(ss->sha256), "%s", p->sha256_hex);
		}
		ss->loaded = true;
		ss->rules = p->rule_count;
		ss->disabled = gen->slot[i].disabled_count;
	}
	for (unsigned w = 0; w < ctl->worker_count; w++)
		s->stuck[w] = ctl->stuck[w];
	s->has_bus = sink != NULL && sink->bus != NULL;
	memset(&s->bus, 0, sizeof(s->bus));
	if (s->has_bus)
		sluice_event_bus_stats(sink->bus, &s->bus);
}

void sluice_telemetry_attach(struct sluice_control *ctl)
{
	pthread_mutex_lock(&T.lock);
	memset(&T.snap, 0, sizeof(T.snap));
	take_snapshot(&T.snap, ctl);
	T.ctl = ctl;
	pthread_mutex_unlock(&T.lock);
}

void sluice_telemetry_publish(struct sluice_control *ctl)
{
	pthread_mutex_lock(&T.lock);
	if (T.ctl == ctl)
		take_snapshot(&T.snap, ctl);
	pthread_mutex_unlock(&T.lock);
}

void sluice_telemetry_detach(void)
{
	pthread_mutex_lock(&T.lock);
	T.ctl = NULL;
	pthread_mutex_unlock(&T.lock);
}

/* One worker's counters, or their sum, under `sluicectl stats`'s names. */
static void stats_dict(struct rte_tel_data *d, const struct sluice_worker_stats *s, uint64_t tsc_hz)
{
	static const char *const side[SLUICE_PORT_COUNT] = {"a", "b"};
	char key[96];
	for (unsigned p = 0; p < SLUICE_PORT_COUNT; p++) {
		snprintf(key, sizeof(key), "rx_packets/%s", side[p]);
		rte_tel_data_add_dict_u64(d, key, s->rx_packets[p]);
		snprintf(key, sizeof(key), "tx_packets/%s", side[p]);
		rte_tel_data_add_dict_u64(d, key, s->tx_packets[p]);
		snprintf(key, sizeof(key), "tx_dropped/%s", side[p]);
		rte_tel_data_add_dict_u64(d, key, s->tx_dropped[p]);
	}
	for (unsigned a = 0; a < SLUICE_ACTION_COUNT; a++) {
		snprintf(key, sizeof(key), "verdicts/%s",
			 sluice_metrics_verdict_word((enum sluice_action)a));
		rte_tel_data_add_dict_u64(d, key, s->verdicts[a]);
	}
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++) {
		snprintf(key, sizeof(key), "bad_input/%s",
			 sluice_bad_reason_name((enum sluice_bad_reason)r));
		rte_tel_data_add_dict_u64(d, key, s->bad[r]);
	}
	/* The scalars, from the table the metrics use: none is left out. */
	double hz = tsc_hz != 0 ? (double)tsc_hz : 1.0;
	for (size_t i = 0; i < sluice_metrics_worker_field_count; i++) {
		const struct sluice_metrics_worker_field *f = &sluice_metrics_worker_fields[i];
		uint64_t v = *(const uint64_t *)((const char *)s + f->offset);
		rte_tel_data_add_dict_u64(d, f->json,
					  f->cycles ? (uint64_t)((double)v * 1e9 / hz) : v);
	}
}

/* Counters of the snapshot a command answers with, under their telemetry
 * names: one table per command, one loop to add them. */
struct snap_field {
	const char *key;
	size_t offset; /* of a uint64_t in struct snapshot */
};

#define SNAP_FIELD(key, field)                                                                     \
	{                                                                                          \
		key, offsetof(struct snapshot, field)                                              \
	}

/* "pack_generation" is the generation in force; the workers' "generation"
 * (stats_dict) is their lowest, as in `sluicectl stats`'s stats.total. */
static const struct snap_field stats_fields[] = {
    SNAP_FIELD("pack_generation", generation),
    SNAP_FIELD("events_written", events_written),
    SNAP_FIELD("event_write_errors", event_write_errors),
    SNAP_FIELD("events_filtered", events_filtered),
    SNAP_FIELD("events_sampled_out", events_sampled_out),
};

static const struct snap_field swap_fields[] = {
    SNAP_FIELD("swaps", swaps),
    SNAP_FIELD("refusals", refusals),
    SNAP_FIELD("grace_periods", grace_count),
    SNAP_FIELD("last_grace_us", last_grace_us),
    SNAP_FIELD("max_grace_us", max_grace_us),
};

/* Under the lock. */
static void add_snap_fields(struct rte_tel_data *d, const struct snap_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rte_tel_data_add_dict_u64(d, f[i].key,
					  *(const uint64_t *)((const char *)&T.snap + f[i].offset));
}

/* Takes the lock while a daemon is attached; otherwise says so in d and
 * leaves the lock free. */
static bool enter(struct rte_tel_data *d)
{
	pthread_mutex_lock(&T.lock);
	if (T.ctl != NULL)
		return true;
	pthread_mutex_unlock(&T.lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "error", "sluice is not running");
	return false;
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!enter(d))
		return 0;
	struct sluice_worker_stats total;
	sluice_stats_sum(T.ctl->stats, T.ctl->worker_count, &total);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "workers", T.ctl->worker_count);
	stats_dict(d, &total, T.ctl->tsc_hz);
	add_snap_fields(d, stats_fields, sizeof(stats_fields) / sizeof(stats_fields[0]));
	pthread_mutex_unlock(&T.lock);
	return 0;
}

static int cmd_workers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!enter(d))
		return 0;
	rte_tel_data_start_array(d, RTE_TEL_U64_VAL);
	for (unsigned w = 0; w < T.ctl->worker_count; w++)
		rte_tel_data_add_array_u64(d, w);
	pthread_mutex_unlock(&T.lock);
	return 0;
}

static int cmd_worker(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	char *end = NULL;
	unsigned long w = params != NULL ? strtoul(params, &end, 10) : 0;
	if (params == NULL || end == params || *end != '\0')
		return -1; /* telemetry answers null: give a worker id, /sluice/worker,0 */
	if (!enter(d))
		return 0;
	if (w >= T.ctl->worker_count) {
		pthread_mutex_unlock(&T.lock);
		return -1;
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "id", w);
	rte_tel_data_add_dict_u64(d, "lcore", T.ctl->lcores[w]);
	rte_tel_data_add_dict_u64(d, "stuck", T.snap.stuck[w]);
	stats_dict(d, T.ctl->stats[w], T.ctl->tsc_hz);
	pthread_mutex_unlock(&T.lock);
	return 0;
}

static int cmd_packs(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	char key[64];
	if (!enter(d))
		return 0;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "generation", T.snap.generation);
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct slot_snapshot *ss = &T.snap.slot[s];
		const char *slot = sluice_slot_name((enum sluice_slot)s);
		if (!ss->loaded)
			continue;
		snprintf(key, sizeof(key), "%s/name", slot);
		rte_tel_data_add_dict_string(d, key, ss->name);
		snprintf(key, sizeof(key), "%s/version", slot);
		rte_tel_data_add_dict_string(d, key, ss->version);
		snprintf(key, sizeof(key), "%s/sha256", slot);
		rte_tel_data_add_dict_string(d, key, ss->sha256);
		snprintf(key, sizeof(key), "%s/rules", slot);
		rte_tel_data_add_dict_u64(d, key, ss->rules);
		snprintf(key, sizeof(key), "%s/disabled_rules", slot);
		rte_tel_data_add_dict_u64(d, key, ss->disabled);
	}
	add_snap_fields(d, swap_fields, sizeof(swap_fields) / sizeof(swap_fields[0]));
	pthread_mutex_unlock(&T.lock);
	return 0;
}

/* The events bus, under the names /metrics gives it (event_bus.h). */
static int cmd_bus(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	if (!enter(d))
		return 0;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "configured", T.snap.has_bus);
	rte_tel_data_add_dict_u64(d, "connected", T.snap.bus.connected && T.snap.bus.stream_ready);
	for (size_t i = 0; i < sluice_event_bus_field_count; i++)
		rte_tel_data_add_dict_u64(d, sluice_event_bus_fields[i].name,
					  *(const uint64_t *)((const char *)&T.snap.bus +
							      sluice_event_bus_fields[i].offset));
	rte_tel_data_add_dict_string(d, "last_error", T.snap.bus.last_error);
	pthread_mutex_unlock(&T.lock);
	return 0;
}

int sluice_telemetry_register(void)
{
	static const struct {
		const char *cmd;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
	    {"/sluice/stats", cmd_stats,
	     "Returns Sluice's counters summed over the workers, events and the generation."},
	    {"/sluice/workers", cmd_workers, "Returns the ids of Sluice's workers."},
	    {"/sluice/worker", cmd_worker,
	     "Returns one Sluice worker's counters, lcore and watchdog state. Parameters: int "
	     "worker_id"},
	    {"/sluice/packs", cmd_packs,
	     "Returns the packs in force, the generation, swaps and grace periods."},
	    {"/sluice/bus", cmd_bus,
	     "Returns the events bus's counters (published, acked, spooled, lost...) and state."},
	};
	if (T.registered)
		return 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		int rc = rte_telemetry_register_cmd(cmds[i].cmd, cmds[i].fn, cmds[i].help);
		if (rc != 0)
			return rc;
	}
	T.registered = true;
	return 0;
}
