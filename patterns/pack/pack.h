/* Packs: a compiled, immutable rule set, and its file format.
 *
 * A pack holds one entry per rule (id, category, action and the rest of the
 * rule's metadata) and up to four Hyperscan block-mode databases per view of
 * the message (below), each compiled for what it holds, so that no rule pays
 * for another's needs:
 *
 * - literal: literal and list rules, compiled with the literal API
 *   (hs_compile_lit_multi). A literal's length is known, so a match's start is
 *   its end minus that length: exact spans without start-of-match tracking.
 *   whole_word literals are here too; the match path checks their edges.
 * - regex: regular expressions, with HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST (exact
 *   spans for masking); whole_word adds \b where the pattern's edge is always
 *   a word character.
 * - anchored: regexes that use ^ $ \A \z \Z (flags as regex). Their meaning
 *   depends on where the text begins and ends, so batch scanning
 *   (batch_scan.h), which puts many messages in one buffer, scans this
 *   database per message.
 *
 * - regex-ends: the regex database's patterns again, without start-of-match
 *   tracking, which triples the cost of a scan. Batch scanning runs this one
 *   over many messages to learn which messages a regex matched in at all, and
 *   scans only those with the regex database. Never scanned per message.
 * - span: for regexes Hyperscan cannot track starts for (a bounded repeat of
 *   UTF-8 characters, 'A.{0,50}B': "Pattern is too large" with SOM), which
 *   the regex and anchored databases then hold without SOM, each pattern
 *   twice, anchored: \A(?:P) and \A(?s:.)(?:P). Never scanned over a whole
 *   message: where such a pattern reported an end, the match path finds the
 *   leftmost start by trying the character starts before it (match.c), the
 *   second form giving \b the character before the start.
 *
 * Combinations have no database: the match path judges them on the whole
 * message from their operands' matches (match.c). Packs written before that
 * may carry a "logic" database (kind 3); it is loaded but never scanned.
 *
 * Each database maps its Hyperscan ids to (rule, literal length); see
 * struct sluice_pack_pattern. A database with nothing to hold is left out.
 *
 * Views: a pack that normalises (it carries a folding table) compiles its
 * rules, folded by the same table, into databases scanned on the folded text;
 * rules that opted out (normalize: false) go into databases of their own,
 * scanned on the message as it is. Every match is mapped back to whole
 * characters of the message (scan/normalize.h) before the rule language
 * applies.
 *
 * File format version 4 (docs/pack-format.md): a 56-byte header (magic, format
 * version, reserved, body length, SHA-256 of the body), the body, and
 * optionally a 104-byte signature trailer (pack_sign.h).
 *
 * Contract for sluice_pack_read(): the file's length and SHA-256 are checked
 * before any byte of it is parsed, and the body is parsed with bounds checks
 * before the database bytes reach hs_deserialize_database(). A pack built by a
 * different Hyperscan version or for CPU features this machine lacks is
 * refused with both sides named. A version-1 pack is refused with a message
 * saying to recompile it.
 *
 * Packs are not reference counted: the control plane owns them (pack history)
 * and frees one only after no worker can hold it (RCU grace period).
 */
#ifndef SLUICE_PACK_PACK_H
#define SLUICE_PACK_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "action.h"
#include "fold_table.h"
#include "logic.h"
#include "rule_kind.h"

#define SLUICE_PACK_MAGIC	   "SLUICEPK"
#define SLUICE_PACK_FORMAT_VERSION 5
/* The oldest format this build still reads (2: no folding table; 3: no
 * views; 4: no start dates). */
#define SLUICE_PACK_FORMAT_OLDEST 2
#define SLUICE_PACK_HEADER_LEN	  56
/* Signature trailers after the body (pack_sign.h), each: magic, key id
 * (SHA-256 of the raw Ed25519 public key), Ed25519 signature of the header.
 * A file carries none or up to SLUICE_PACK_MAX_SIGS of them, by distinct
 * keys: enough for any approval policy, few enough that a file cannot make
 * the loader verify signatures without end. */
#define SLUICE_PACK_SIG_MAGIC "SLUICESG"
#define SLUICE_PACK_SIG_LEN   104
#define SLUICE_PACK_MAX_SIGS  8

struct sluice_pack_rule {
	char *id;
	char *category;
	enum sluice_action action; /* SLUICE_ACTION_NONE for allow rules */
	unsigned caseless : 1;
	char *pattern;	    /* the body as written, for `sluice-pack test` and diagnostics */
	int64_t expires_at; /* Unix seconds after which the rule stops applying; 0: never */
	int64_t starts_at;  /* Unix seconds from which it applies; 0: from the start */

	enum sluice_rule_kind kind;
	enum sluice_severity severity;
	unsigned flags;		 /* SLUICE_RULE_CASELESS | DOTALL | MULTILINE | WHOLE_WORD */
	bool quiet;		 /* never acts on its own; an operand of combinations */
	bool raw;		 /* normalize: false: scanned on the message as it is */
	uint8_t optin;		 /* opt-in folding the rule was widened with (fold_optin.h) */
	bool allow;		 /* exempts overlapping spans of its category's other rules */
	bool operand;		 /* used (directly or not) by some combination */
	char *description;	 /* "" when none was given */
	uint32_t literal_count;	 /* literal: 1; list: its entries */
	uint32_t category_index; /* equal for rules of one category */
	/* whole_word edges the match path checks itself, start (bit 0) and
	 * end (bit 1): a match whose edge character is a word character must
	 * not touch another word character there. Used for literals (whose
	 * edges are fixed) and for patterns whose edge can be either kind of
	 * character, where no \b can be added. */
	uint8_t edge_check;
	/* combination: its program (operands flattened to non-combination
	 * rules), pack->logic[logic_off, logic_off + logic_len). */
	uint32_t logic_off, logic_len;
	bool logic_has_not;
};

/* Whether a rule applies at now (Unix seconds): started, and not expired. */
static inline bool sluice_rule_applies(const struct sluice_pack_rule *r, int64_t now)
{
	return (r->starts_at == 0 || now >= r->starts_at) &&
	       (r->expires_at == 0 || now < r->expires_at);
}

enum sluice_db_kind {
	SLUICE_DB_LITERAL = 1,
	SLUICE_DB_REGEX = 2,
	SLUICE_DB_LOGIC = 3,	  /* packs built before batch scanning; never scanned */
	SLUICE_DB_ANCHORED = 4,	  /* regexes with anchors: scanned per message */
	SLUICE_DB_REGEX_ENDS = 5, /* the regex database's patterns without SOM: batch only */
	SLUICE_DB_SPAN = 6,	  /* anchored copies of patterns without SOM: starts found later */
};
#define SLUICE_DB_KIND_MAX SLUICE_DB_SPAN

/* Which text of a message a database is scanned on (docs/normalization.md):
 * the message as it is, or as the pack's folding table makes it. Matches are
 * mapped back to the message's own bytes before the rule language applies,
 * so allow rules, combinations and masks work across views. */
enum sluice_text_view {
	SLUICE_VIEW_RAW = 0,
	SLUICE_VIEW_FOLDED = 1, /* needs pack->fold */
};
#define SLUICE_VIEW_COUNT 2

/* What a Hyperscan id of a database stands for. */
#define SLUICE_PAT_SOM	 0u	     /* span from Hyperscan (SOM_LEFTMOST) */
#define SLUICE_PAT_QUIET 0xfffffffeu /* operand copy in the logic database: never reported */
#define SLUICE_PAT_COMBO 0xffffffffu /* a combination: span [0, end) */
/* A regex whose start the match path finds afterwards: pair k of the span
 * database of its view (ids 2k and 2k + 1). */
#define SLUICE_PAT_SPAN_LATER 0x80000000u
#define SLUICE_PAT_SPAN_LAST  0xfffffffdu
struct sluice_pack_pattern {
	uint32_t rule;
	/* literal byte length (start = end - len), SLUICE_PAT_SPAN_LATER + k, or
	 * SLUICE_PAT_*; in a span database: the most bytes a match can take
	 * (0: no bound) */
	uint32_t len;
};

static inline bool sluice_pat_span_later(uint32_t len)
{
	return len >= SLUICE_PAT_SPAN_LATER && len <= SLUICE_PAT_SPAN_LAST;
}

struct sluice_pack_db {
	enum sluice_db_kind kind;
	enum sluice_text_view view;
	hs_database_t *db;
	size_t bytes;			 /* hs_database_size() */
	uint32_t patterns;		 /* expressions compiled into it */
	uint32_t id_count;		 /* entries of map */
	struct sluice_pack_pattern *map; /* by Hyperscan id */
	/* regex and anchored: index in the pack's dbs of the span database of
	 * the same view, or SLUICE_NO_SPAN (sluice_pack_link_spans()) */
	uint32_t span_index;
};
#define SLUICE_NO_SPAN UINT32_MAX

struct sluice_pack {
	char *name;
	char *version;
	char *source;	     /* file it was loaded from */
	char sha256_hex[65]; /* of the body as it is (or would be) written */
	size_t rule_count;
	struct sluice_pack_rule *rules; /* indexed by sluice_match.rule */
	size_t db_bytes;		/* total hs_database_size() of all databases */

	char *owner;	   /* "" when none was given */
	char *description; /* "" when none was given */
	struct sluice_pack_db *dbs;
	size_t db_count;
	struct sluice_fold_table *fold; /* what messages are folded with; NULL: nothing */
	unsigned views;			/* derived: bit (1 << view) for each view scanned */
	struct sluice_logic_op *logic;	/* all combination programs */
	size_t logic_len;
	uint32_t *combinations; /* indexes of the combination rules */
	size_t combination_count;
	size_t category_count;
	/* Wall time of sluice_pack_compile(), databases and example checks
	 * included; 0 for a pack read from a file (it is not stored, so the
	 * same rules always give the same bytes and hash). */
	double compile_ms;
	bool has_allow, has_quiet, has_combination, has_edge_check;
	/* Derived from the programs: some combination uses 'not', or holds
	 * when none of its operands matched; such packs judge combinations
	 * more often (see match.c). */
	bool has_not_combination, combination_when_none;
};

int sluice_pack_write(const struct sluice_pack *pack, const char *path, char *err, size_t err_len);

/* Reads and verifies a pack file (see contract above). A signature trailer,
 * if present, is accepted but not checked: use sluice_pack_read_trusted()
 * (pack_sign.h). Rule files are read by language/pack_source.h. */
int sluice_pack_read(const char *path, struct sluice_pack **out, char *err, size_t err_len);

/* Builds the whole file image (header and body) of a pack in memory, as
 * sluice_pack_write() would write it; the caller frees *image. Fills hex (if
 * not NULL, 65 bytes) with the SHA-256 of the body. */
int sluice_pack_serialize(const struct sluice_pack *pack, uint8_t **image, size_t *image_len,
			  char hex[65], char *err, size_t err_len);

/* What a load may cost, checked before each costly step rather than after:
 * max_bytes (0: no limit) bounds the file's size before it is read and the
 * databases' deserialized sizes (hs_serialized_database_size()) before each
 * is deserialized. The daemon passes what its memory cap leaves free. */
struct sluice_load_limits {
	size_t max_bytes;
};

/* Parses a file image whose envelope (length, header, hash, and signature if
 * the caller requires one) has already been verified. path names it in
 * messages; limits may be NULL. */
int sluice_pack_parse_image(const char *path, const uint8_t *image, size_t len,
			    const struct sluice_load_limits *limits, struct sluice_pack **out,
			    char *err, size_t err_len);

/* Checks an image's envelope: at least a header, magic, format version,
 * reserved field, body length (a file is exactly header + body + 0 to
 * SLUICE_PACK_MAX_SIGS whole signature trailers, each with its magic, no two
 * naming the same key) and SHA-256 of the body. *sig_count (may be NULL)
 * gets the number of trailers; they are the image's last
 * *sig_count * SLUICE_PACK_SIG_LEN bytes. Nothing in the body is interpreted
 * and no signature is verified. */
int sluice_pack_check_envelope(const char *path, const uint8_t *image, size_t len,
			       size_t *sig_count, char *err, size_t err_len);

/* The name and version of a pack image after sluice_pack_check_envelope(),
 * without parsing the rest or touching Hyperscan: for tools that move packs
 * (`sluicectl fleet publish`) on machines that need not be able to load
 * them. */
int sluice_pack_identity(const char *path, const uint8_t *image, size_t len, char *name,
			 size_t name_cap, char *version, size_t version_cap, char *err,
			 size_t err_len);

/* Allocates (or grows) one scratch valid for every database of the pack. Scratch
 * is per (pack, thread): clone it once per worker. */
hs_error_t sluice_pack_alloc_scratch(const struct sluice_pack *pack, hs_scratch_t **scratch);

/* Bytes the pack's databases, id maps and folding table take; a worker's
 * scratch comes on top. */
size_t sluice_pack_memory(const struct sluice_pack *pack);

/* "literal", "regex", "logic". */
const char *sluice_db_kind_name(enum sluice_db_kind kind);

/* "raw", "folded". */
const char *sluice_view_name(enum sluice_text_view view);

/* A shallow copy of pack whose databases are all scanned on the message as it
 * is: what the pack catches when messages are not normalised (sluice-pack test
 * --no-normalize, the normalisation benchmark). dbs has room for
 * pack->db_count entries; copy borrows everything else from pack, which must
 * outlive it, and is never freed. */
void sluice_pack_unfolded(const struct sluice_pack *pack, struct sluice_pack *copy,
			  struct sluice_pack_db *dbs);

/* Points each regex and anchored database at the span database of its view
 * (span_index), for the compiler and the file reader once the databases are
 * in place. */
void sluice_pack_link_spans(struct sluice_pack *pack);

/* The views some database of the pack is scanned on (bit 1 << view). */
unsigned sluice_pack_views(const struct sluice_pack *pack);

/* Fills the fields a pack derives from its rules and combination programs
 * (category indexes, logic_has_not, the has_* summaries the match path
 * branches on), for the compiler and the file reader alike. Returns 0, or -1
 * when out of memory. */
int sluice_pack_derive(struct sluice_pack *pack);

void sluice_pack_free(struct sluice_pack *pack);

#endif
