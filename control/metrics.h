/* Prometheus metrics: everything `sluicectl stats` shows, and the state an SRE
 * watches beside it (packs in force, swaps and their grace periods, the
 * watchdog, the control socket's clients), rendered in the text exposition
 * format (version 0.0.4).
 *
 * Contract:
 * - Rendering runs on the control thread, from the same data reply_stats()
 *   reads: the registry and the sink directly, the workers' counters with
 *   plain loads (worker_stats.h says why those cannot tear). No lock is
 *   taken and nothing is written but the renderer's own state below.
 * - Every family has # HELP and # TYPE lines, its samples are together, names
 *   start with sluice_, counters end in _total, times are in seconds. Label
 *   values are escaped (backslash, double quote, newline).
 * - Worker counters are exported per worker (label worker="N") and never as
 *   a total beside them, so that sum() over a family is the daemon's total.
 * - Per-rule hits are bounded: at most `rule_limit` series with a rule label
 *   over both slots, plus one rule="_other" per slot whose pack has rules
 *   without a series of their own. When every rule of the packs in force fits,
 *   every rule has a series from the start (zeros included). Otherwise a rule
 *   gets a series the first scrape after its first hit, most hits first, while
 *   there is room; once given, a series stays for as long as that pack is in
 *   its slot, so a series never vanishes between scrapes and `_other` (the
 *   hits of the rules without one) never goes down: rate() stays meaningful.
 *   The choice is reset when the slot's pack changes.
 */
#ifndef SLUICE_CONTROL_METRICS_H
#define SLUICE_CONTROL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "action.h"
#include "generation.h"
#include "strbuf.h"

#define SLUICE_METRICS_RULE_LIMIT_DEFAULT 500

struct sluice_control;

/* One uint64_t counter of struct sluice_worker_stats, as both faces show it:
 * its name in `sluicectl stats` (nested objects joined with '/', e.g.
 * "streams/segments") and its metric family. Counters in TSC cycles are
 * exported in seconds here and in nanoseconds under their JSON name. The
 * arrays (ports, verdicts, reasons) are not in it: they take a label. */
struct sluice_metrics_worker_field {
	const char *json;
	const char *name;
	const char *type; /* "counter" or "gauge" */
	bool cycles;
	size_t offset;
	const char *help;
};

extern const struct sluice_metrics_worker_field sluice_metrics_worker_fields[];
extern const size_t sluice_metrics_worker_field_count;

/* Which rules of one slot's pack have a series of their own. */
struct sluice_metrics_slot_rules {
	const struct sluice_pack *pack; /* with sha: a freed pack's address may come back */
	char sha[65];
	uint8_t *own; /* per rule: 1 when it has its own series */
	size_t own_count;
};

struct sluice_metrics {
	size_t rule_limit; /* 0: SLUICE_METRICS_RULE_LIMIT_DEFAULT */
	struct sluice_metrics_slot_rules slot[SLUICE_SLOT_COUNT];
	uint64_t scrapes; /* renders so far, itself exported */
};

/* Appends the whole exposition for ctl. Updates m's choice of rule series.
 * Control thread only. */
void sluice_metrics_render(struct sluice_metrics *m, struct sluice_control *ctl,
			   struct sluice_strbuf *sb);

/* "passed", "flagged", "masked", "blocked": a verdict as `stats` names it. */
const char *sluice_metrics_verdict_word(enum sluice_action a);

/* Appends s as the inside of a label value (no quotes added). */
void sluice_metrics_label_value(struct sluice_strbuf *sb, const char *s);

/* Frees the renderer's state. */
void sluice_metrics_fini(struct sluice_metrics *m);

#endif
