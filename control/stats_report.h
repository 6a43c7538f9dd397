/* Summing the workers' counters and reporting them: JSON for `sluicectl stats`
 * and the --summary file, and the readable summary printed when sluice exits.
 */
#ifndef SLUICE_CONTROL_STATS_REPORT_H
#define SLUICE_CONTROL_STATS_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "strbuf.h"
#include "worker_stats.h"

/* Sums counters; maxima (max_iteration_cycles) are maxima, generation the lowest. */
void sluice_stats_sum(struct sluice_worker_stats *const *workers, unsigned count,
		      struct sluice_worker_stats *total);

/* Appends {"total":{...},"workers":[{...},...]} with cycles converted to ns. */
void sluice_stats_json(struct sluice_strbuf *sb, struct sluice_worker_stats *const *workers,
		       unsigned count, uint64_t tsc_hz);

/* Appends one stats struct as a JSON object. */
void sluice_stats_json_one(struct sluice_strbuf *sb, const struct sluice_worker_stats *s,
			   uint64_t tsc_hz);

#endif
