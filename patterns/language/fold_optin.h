/* Opt-in folding (docs/normalization.md): wider, riskier equivalences a rule
 * asks for by name, `normalize: [homophones, digit_words, separators]`.
 *
 * Unlike narrow folding, these change the rule, not the message: the rule's
 * characters become classes of what they may be written as, and a bounded
 * run of separators may stand between them (rule_fold.h). So the worker
 * does nothing more, each rule gets exactly the equivalences it asked for,
 * and a match's span is the message's own characters, separators included.
 *
 * - homophones: a Han character of the rule matches any character in common
 *   use (with a frequency in Unihan's kHanyuPinlu, or in the Table of General
 *   Standard Chinese Characters, kTGHZ2013) that shares one of its Mandarin
 *   readings, tone included (kHanyuPinlu and kMandarin): 微 matches 威 and 薇
 *   (wēi), not 维 (wéi).
 * - digit_words: a digit matches the Han numerals of its value (Unihan's
 *   kPrimaryNumeric, kAccountingNumeric, kOtherNumeric, among the characters
 *   of the Table of General Standard Chinese Characters, kTGHZ2013): 1
 *   matches 一 壹 幺; the rule's numerals match their digit.
 * - separators: up to SLUICE_OPTIN_MAX_SEPARATORS spaces, punctuation marks,
 *   symbols or emoji between two characters of the rule; between two Latin
 *   letters or digits, no spaces (a space is how Latin words are separated:
 *   "GHB" must not match "HUGH BEAUMONT").
 *
 * The members of every class are given in their folded form (the narrow
 * table's), since the message is folded before the scan.
 *
 * Contract: the data is built from Debian's Unihan files on first use and
 * kept for the process (safe from any thread); lookups never allocate.
 */
#ifndef SLUICE_LANGUAGE_FOLD_OPTIN_H
#define SLUICE_LANGUAGE_FOLD_OPTIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fold_table.h"

#define SLUICE_OPTIN_HOMOPHONES	    1u
#define SLUICE_OPTIN_DIGIT_WORDS    2u
#define SLUICE_OPTIN_SEPARATORS	    4u
#define SLUICE_OPTIN_ALL	    7u
#define SLUICE_OPTIN_MAX_SEPARATORS 3

/* The words rule files use, by bit. */
const char *sluice_optin_name(unsigned bit);

struct sluice_optin_data;

/* The process's data (built with the narrow table, which gives the folded
 * form of every member). NULL with err set when Unihan's files are missing. */
const struct sluice_optin_data *sluice_optin_data(char *err, size_t err_len);

/* The characters cp may be written as under the opt-ins (cp itself first),
 * at most cap of them, into out; returns how many (1 when none applies). */
size_t sluice_optin_class(const struct sluice_optin_data *d, unsigned optin, uint32_t cp,
			  uint32_t *out, size_t cap);

/* The separators class as a regex class body (for "[...]"), with or without
 * spaces. */
const char *sluice_optin_separators(bool spaces);

/* The data's versions, for diagnostics. */
const char *sluice_optin_versions(const struct sluice_optin_data *d);

#endif
