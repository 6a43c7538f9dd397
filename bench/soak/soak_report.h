/* What a soak prints: one JSON object on stdout with every figure and check
 * (bench/README.md, "Soak", lists the fields), and a short summary for people
 * on stderr.
 *
 * Contract: both read a finished, judged run and write nothing else; the JSON
 * is one line ending in a newline. soak_report_json() returns -1 when the
 * object could not be built or written whole.
 */
#ifndef SLUICE_BENCH_SOAK_SOAK_REPORT_H
#define SLUICE_BENCH_SOAK_SOAK_REPORT_H

#include <stdio.h>

#include "soak_checks.h"
#include "soak_options.h"
#include "soak_packs.h"
#include "soak_run.h"

struct soak_report {
	const struct soak_options *opt;
	const struct soak_packs *packs;
	const struct soak_run *run;
	const struct soak_judgement *judgement;
	const char *placement;
};

int soak_report_json(const struct soak_report *r, FILE *out);

void soak_report_summary(const struct soak_report *r, FILE *out);

#endif
