/* Every way of sluice_fold_checked() this CPU can run (normalize.h), for the
 * tests and fuzz harnesses that must hold each of them to the same answers:
 * SSE2 always, AVX2 where the CPU has it. Test-only. */
#ifndef SLUICE_TEST_CHECKED_FOLDS_H
#define SLUICE_TEST_CHECKED_FOLDS_H

#include "normalize.h"
#include "utf8.h"

typedef bool (*ts_checked_fold)(const struct sluice_fold_table *t, const uint8_t *in, uint32_t len,
				uint8_t *out, struct sluice_norm_view *view, bool *ascii);

static const struct {
	const char *name;
	ts_checked_fold fold;
} ts_checked_folds[] = {{"SSE2", sluice_fold_checked_sse2}, {"AVX2", sluice_fold_checked_avx2}};

/* How many of ts_checked_folds[] this CPU runs. */
static inline unsigned ts_checked_fold_count(void)
{
	return sluice_utf8_avx2_usable() ? 2 : 1;
}

#endif
