/* Building the folding table (fold_table.h) from Unicode's data as Debian
 * ships it (unicode-data, /usr/share/unicode), at pack-compile time.
 *
 * Narrow folding starts from NFKC_Casefold (DerivedNormalizationProps.txt):
 * full-width and other compatibility forms, enclosed and circled characters,
 * case, and the removal of default-ignorable (invisible) characters, in one
 * per-character mapping that Unicode maintains. Traditional characters then
 * become simplified ones (Unihan's kSimplifiedVariant), after whatever
 * NFKC_Casefold made of them, and look-alike letters and digits of other
 * scripts become the ASCII ones they imitate (ICU's spoof checker: Cyrillic
 * о is o). ASCII is left alone: rules match it caseless.
 *
 * Contract: reads files, allocates through the table; the table records the
 * data's version, so the same data always gives the same table.
 */
#ifndef SLUICE_LANGUAGE_FOLD_DATA_H
#define SLUICE_LANGUAGE_FOLD_DATA_H

#include <stddef.h>

#include "fold_table.h"

#define SLUICE_UNICODE_DIR "/usr/share/unicode"

/* Adds the NFKC_Casefold mapping of every code point above ASCII from
 * path (DerivedNormalizationProps.txt). Returns the number of code points
 * mapped or dropped, or -1 with err set. */
long sluice_fold_load_nfkc_cf(struct sluice_fold_table *t, const char *path, char *err,
			      size_t err_len);

/* Then maps each traditional character to its simplified form, from
 * Unihan_Variants.txt.bz2 (kSimplifiedVariant; a character listed among its
 * own simplified forms, as 乾 is, stays). Returns the number of characters
 * that have a simplified form, or -1 with err set. */
long sluice_fold_load_simplified(struct sluice_fold_table *t, const char *path, char *err,
				 size_t err_len);

/* Then maps every letter or digit outside ASCII whose confusable skeleton
 * (UTS #39, ICU's data) is one ASCII letter or digit to it (lower case),
 * after what the earlier stages made of it; Han, Hangul and kana are left
 * alone. Returns how many it maps, or -1 with err set. */
long sluice_fold_load_confusables(struct sluice_fold_table *t, char *err, size_t err_len);

/* The narrow table: the three stages above from the files in dir, settled
 * (folding is idempotent) and compacted. 0, or -1 with err set (naming the
 * file, and the package that has it when it is missing). */
int sluice_fold_build_narrow(struct sluice_fold_table *t, const char *dir, char *err,
			     size_t err_len);

/* A copy of the narrow table from SLUICE_UNICODE_DIR for a new pack (the
 * caller frees it with sluice_fold_table_free() and free()). Built on first
 * use and kept for the process; safe from any thread. NULL with err set. */
struct sluice_fold_table *sluice_fold_narrow(char *err, size_t err_len);

#endif
