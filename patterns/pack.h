/* Packs: a compiled, immutable rule set, and its file format.
 *
 * A pack holds the rules' metadata (id, category, action) indexed by the
 * Hyperscan pattern id, and one Hyperscan block-mode database compiled with
 * HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST (plus HS_FLAG_CASELESS per rule), so every
 * match has exact start and end byte offsets.
 *
 * File format version 1 (all integers little-endian; docs/pack-format.md):
 *
 *   0   8  magic "SLUICEPK"
 *   8   4  format version (1)
 *  12   4  reserved, 0
 *  16   8  body length in bytes
 *  24  32  SHA-256 of the body
 *  56   …  body: name, version, Hyperscan version, platform, rules, database
 *
 * Contract for sluice_pack_read(): the file's length and SHA-256 are checked
 * before any byte of it is parsed, and the body is parsed with bounds checks
 * before the database bytes reach hs_deserialize_database(). A pack built by a
 * different Hyperscan version is refused with both versions in the message.
 *
 * Packs are not reference counted: the control plane owns them (pack history)
 * and frees one only after no worker can hold it (RCU grace period).
 */
#ifndef SLUICE_PATTERNS_PACK_H
#define SLUICE_PATTERNS_PACK_H

#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "action.h"
#include "rule_file.h"

#define SLUICE_PACK_MAGIC	   "SLUICEPK"
#define SLUICE_PACK_FORMAT_VERSION 1
#define SLUICE_PACK_HEADER_LEN	   56

struct sluice_pack_rule {
	char *id;
	char *category;
	enum sluice_action action;
	unsigned caseless : 1;
	char *pattern;	    /* kept for `sluice-pack test` and diagnostics */
	int64_t expires_at; /* Unix seconds after which the rule stops applying; 0: never */
};

struct sluice_pack {
	char *name;
	char *version;
	char *source;	     /* file it was loaded from */
	char sha256_hex[65]; /* of the body as it is (or would be) written */
	size_t rule_count;
	struct sluice_pack_rule *rules; /* indexed by Hyperscan pattern id */
	hs_database_t *db;
	size_t db_bytes; /* hs_database_size() */
};

/* Compiles a rule list. On failure err names FILE:LINE:COL and the rule id of
 * the pattern Hyperscan refused, with Hyperscan's reason. */
int sluice_pack_compile(const struct sluice_rule_list *rules, struct sluice_pack **out, char *err,
			size_t err_len);

int sluice_pack_write(const struct sluice_pack *pack, const char *path, char *err, size_t err_len);

/* Reads and verifies a pack file (see contract above). */
int sluice_pack_read(const char *path, struct sluice_pack **out, char *err, size_t err_len);

/* Loads either a pack file (by its magic) or a YAML rule file (compiled). */
int sluice_pack_load(const char *path, struct sluice_pack **out, char *err, size_t err_len);

/* Builds the whole file image (header and body) of a pack in memory, as
 * sluice_pack_write() would write it; the caller frees *image. Fills hex (if
 * not NULL, 65 bytes) with the SHA-256 of the body. */
int sluice_pack_serialize(const struct sluice_pack *pack, uint8_t **image, size_t *image_len,
			  char hex[65], char *err, size_t err_len);

/* Allocates (or grows) one scratch valid for every database of the pack. Scratch
 * is per (pack, thread): clone it once per worker. */
hs_error_t sluice_pack_alloc_scratch(const struct sluice_pack *pack, hs_scratch_t **scratch);

/* Bytes the pack's databases take; a worker's scratch comes on top of it. */
size_t sluice_pack_memory(const struct sluice_pack *pack);

void sluice_pack_free(struct sluice_pack *pack);

#endif
