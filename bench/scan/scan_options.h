/* Command line of sluice-scan-bench.
 *
 * Contract: scan_options_parse() fills every field (defaults included) and
 * returns SCAN_OPTIONS_RUN, SCAN_OPTIONS_HELP (usage was printed on stdout),
 * or SCAN_OPTIONS_BAD with the reason in err. Values are range-checked here,
 * so the rest of the program can trust them.
 */
#ifndef SLUICE_BENCH_SCAN_SCAN_OPTIONS_H
#define SLUICE_BENCH_SCAN_SCAN_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum scan_stage_id {
	SCAN_STAGE_CEILING,
	SCAN_STAGE_MESSAGE,
	SCAN_STAGE_BATCH,
	SCAN_STAGE_PCRE2,
	SCAN_STAGE_COUNT,
};

/* "ceiling", "message", "batch", "pcre2". */
extern const char *const scan_stage_names[SCAN_STAGE_COUNT];

struct scan_options {
	const char *pack_path;
	const char *corpus_path; /* NULL only with stats_only */
	bool stage[SCAN_STAGE_COUNT];
	unsigned rounds;
	double min_seconds;
	double max_stage_seconds;
	uint32_t batch_messages;
	uint32_t batch_bytes;
	bool stats_only;
	bool quick; /* shorter defaults for rounds and min_seconds */
	int cpu;    /* -1: not pinned */
};

enum scan_options_result { SCAN_OPTIONS_RUN, SCAN_OPTIONS_HELP, SCAN_OPTIONS_BAD };

enum scan_options_result scan_options_parse(int argc, char **argv, struct scan_options *o,
					    char *err, size_t err_len);

#endif
