/* The compiler: a rule list (rule_file.h) into a pack (pack.h), with every
 * check lint reports (lint.h).
 *
 * Contract: Hyperscan databases are compiled here, on the caller's thread
 * (never a worker's); examples (`matches:` / `does_not_match:`) are checked
 * against the compiled pack; the same rules always give the same pack bytes.
 */
#ifndef SLUICE_LANGUAGE_PACK_COMPILE_H
#define SLUICE_LANGUAGE_PACK_COMPILE_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "pack.h"
#include "rule_file.h"

/* Compiles a rule list. On failure err names FILE:LINE:COL and the rule id
 * (of a pattern Hyperscan refused, a failing example, an unknown operand, ...)
 * and says what to change; the wording is lint's (lint.h). */
int sluice_pack_compile(const struct sluice_rule_list *rules, struct sluice_pack **out, char *err,
			size_t err_len);

/* The compiler behind sluice_pack_compile() and lint: every problem goes to
 * diags (errors and warnings). With partial, rules with errors are left out
 * and the rest is still compiled and checked (lint wants every problem, not
 * the first); otherwise any error stops it. Returns 0 with *out set, or -1. */
int sluice_pack_build(const struct sluice_rule_list *rules, bool partial,
		      struct sluice_diag_list *diags, struct sluice_pack **out);

#endif
