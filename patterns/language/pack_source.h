/* Where packs come from: a path that holds either a compiled pack or a rule
 * file. What the daemon, sluice-pack and the tests call with a path.
 *
 * Contract: a file that starts with the pack magic is read as a pack
 * (pack/pack_sign.h: envelope, signature, limits, all before any byte is
 * parsed); anything else is read as a rule file and compiled. With a trust
 * that requires signatures, rule files are refused (they cannot be signed).
 * Messages start with the path.
 */
#ifndef SLUICE_LANGUAGE_PACK_SOURCE_H
#define SLUICE_LANGUAGE_PACK_SOURCE_H

#include "pack.h"
#include "pack_sign.h"

/* A pack file or a rule file, without signature checks or limits. */
int sluice_pack_load(const char *path, struct sluice_pack **out, char *err, size_t err_len);

/* The same for a daemon that trusts only some signers (NULL: any pack). */
int sluice_pack_load_trusted(const char *path, const struct sluice_trust *trust,
			     struct sluice_pack **out, char *err, size_t err_len);

/* The same, held to limits (NULL: none) before each costly step: a pack
 * file's size before it is read, its databases' sizes before they are
 * deserialized. A rule file is compiled whatever limits say (the caller
 * checks the result). */
int sluice_pack_load_within(const char *path, const struct sluice_trust *trust,
			    const struct sluice_load_limits *limits, struct sluice_pack **out,
			    char *err, size_t err_len);

#endif
