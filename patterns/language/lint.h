/* Lint: every problem in a rule file (and the files it includes), not just
 * the first, for analysts and CI.
 *
 * Contract: sluice_lint_file() runs the loader and the compiler in their
 * keep-going mode (rule_file.h, pack.h: a rule with an error is left out and
 * the rest is still compiled and its examples checked), then adds what only
 * lint judges: rules past their expiry date, and, with a sample corpus, rules
 * that act on more than broad_share of its lines. Errors are what stops a pack
 * from compiling, with the same wording sluice_pack_compile() uses; warnings
 * are rules that compile but probably do not do what was meant, or are slow.
 * Diagnostics are sorted by file (in loading order), line and column. Every
 * code is listed in docs/rule-language.md.
 */
#ifndef SLUICE_PATTERNS_LINT_H
#define SLUICE_PATTERNS_LINT_H

#include <stddef.h>
#include <stdint.h>

#include "diag.h"

#define SLUICE_LINT_BROAD_SHARE 0.5

struct sluice_lint_options {
	const char *corpus_path; /* one message per line; NULL: no corpus checks */
	double broad_share;	 /* 0: SLUICE_LINT_BROAD_SHARE */
	int64_t now;		 /* Unix seconds to judge expiry at; 0: the current time */
};

/* Appends every diagnostic to out; returns the number of errors. */
size_t sluice_lint_file(const char *rules_path, const struct sluice_lint_options *opt,
			struct sluice_diag_list *out);

#endif
