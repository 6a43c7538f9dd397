/* The two packs the soak alternates between, and the check that they act on
 * the message table as the table says.
 *
 * Without --pack-a/--pack-b, the rule file is compiled twice into dir, as
 * versions "<its version>-soak-a" and "-soak-b": the same rules, so every
 * message's verdict is the same whichever pack scanned it, while each reload
 * really replaces the pack in force (the daemon sees a new version).
 *
 * Contract: soak_packs_check() loads each pack and scans every valid-UTF-8
 * text of the table with it, in this process, before EAL starts; a verdict
 * or a span count that differs from the table is an unusable input (the
 * soak's expectations would be wrong), reported with the text and the pack.
 * The daemon's output is never compared with these scans. It also records
 * each pack's name, version and rule count as loaded.
 */
#ifndef SLUICE_BENCH_SOAK_SOAK_PACKS_H
#define SLUICE_BENCH_SOAK_SOAK_PACKS_H

#include <stdbool.h>
#include <stddef.h>

#include "soak_options.h"

struct soak_packs {
	char *path[2]; /* absolute: [0] loaded at start, [1] the first reload */
	char version[2][128];
	char name[128];
	size_t rules;
	bool compiled_here; /* path[] are files in dir, removed by soak_packs_free() */
	double compile_ms;
};

/* Returns 0, or -1 with err. dir must exist and be absolute. */
int soak_packs_prepare(struct soak_packs *p, const struct soak_options *o, const char *dir,
		       char *err, size_t err_len);

int soak_packs_check(struct soak_packs *p, char *err, size_t err_len);

void soak_packs_free(struct soak_packs *p);

#endif
