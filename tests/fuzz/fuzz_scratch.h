/* A private scratch file for harnesses whose code under test reads or writes
 * a path (the events spool, the hash key file). Test-only, header-only: each
 * harness is one translation unit.
 *
 * Contract: the first call makes a fresh directory in /dev/shm (in /tmp
 * where there is none); every call returns the same path in it, which the
 * harness may create, truncate and delete at will; both are removed when the
 * harness exits normally. Aborts when no directory can be made.
 */
#ifndef SLUICE_FUZZ_SCRATCH_H
#define SLUICE_FUZZ_SCRATCH_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char fuzz_scratch_dir[64];
static char fuzz_scratch_path[64];

static void fuzz_scratch_remove(void)
{
	unlink(fuzz_scratch_path);
	rmdir(fuzz_scratch_dir);
}

static inline const char *fuzz_scratch_file(const char *name)
{
	if (fuzz_scratch_path[0] == '\0') {
		/* Memory first: with a file system under it, the harness spends
		 * half its time in the kernel. */
		static const char *const bases[] = {"/dev/shm", "/tmp"};
		bool made = false;
		for (unsigned i = 0; i < 2 && !made; i++) {
			snprintf(fuzz_scratch_dir, sizeof(fuzz_scratch_dir),
				 "%s/sluice-fuzz-scratch-XXXXXX", bases[i]);
			made = mkdtemp(fuzz_scratch_dir) != NULL;
		}
		if (!made)
			abort();
		snprintf(fuzz_scratch_path, sizeof(fuzz_scratch_path), "%s/%s", fuzz_scratch_dir,
			 name);
		atexit(fuzz_scratch_remove);
	}
	return fuzz_scratch_path;
}

#endif
