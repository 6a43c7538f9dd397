/* Loading the pack under test, and what the rule-scale chart needs to know
 * about it: sizes of its databases, of its file image and of a scratch, how
 * long it took to load, and the process's memory right after loading.
 *
 * Contract: pack_stats_load() loads with sluice_pack_load() (a compiled pack,
 * or a YAML rule file compiled here) and reads VmRSS and VmHWM before
 * anything else is allocated. pack_stats_measure() then fills the sizes that
 * need more work (serializing the pack, sizing the scratch). Both return 0,
 * or -1 with the reason in err.
 */
#ifndef SLUICE_BENCH_SCAN_PACK_STATS_H
#define SLUICE_BENCH_SCAN_PACK_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "pack.h"

struct pack_stats {
	bool compiled_here;		/* from a rule file, not a .pack */
	double load_ms;			/* wall time of sluice_pack_load() */
	uint64_t rss_kib, peak_rss_kib; /* 0 when /proc/self/status is unreadable */
	uint64_t rss_before_kib; /* just before loading: the pack's share is the difference */
	size_t pack_bytes;	 /* sluice_pack_serialize() image, header included */
	size_t scratch_bytes;	 /* hs_scratch_size() */
};

int pack_stats_load(const char *path, struct sluice_pack **pack, struct pack_stats *stats,
		    char *err, size_t err_len);

int pack_stats_measure(const struct sluice_pack *pack, const hs_scratch_t *scratch,
		       struct pack_stats *stats, char *err, size_t err_len);

/* Whether path starts with the pack file magic (else it is a rule file). */
bool pack_file_is_compiled(const char *path);

#endif
