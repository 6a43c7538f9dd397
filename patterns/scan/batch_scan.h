/* Scanning many messages with one Hyperscan call per database.
 *
 * Hyperscan's fixed cost per call dominates chat-sized messages, so a worker
 * copies the messages of a burst into one buffer, one after another with a
 * '\n' between them, scans that buffer once per database, and hands every
 * report to the message it ended in. The results are exactly those of
 * sluice_scan_message() on each message alone (tests/test_batch_scan.c checks
 * this over the whole benchmark corpus):
 *
 * - A literal's start is its end minus its length; one that starts before its
 *   message (it ran across a separator) is dropped. Every occurrence wholly
 *   inside a message is reported anyway (Hyperscan reports all of them).
 * - Regexes: start-of-match tracking triples Hyperscan's cost, so the batch is
 *   scanned with the pack's regex-ends database (the same patterns without
 *   SOM), and only the messages in which some report ended are scanned with
 *   the regex database, each on its own. A match inside a message ends inside
 *   it in the batch too (the '\n' is not a word character, so \b and \B see a
 *   message's edges as they see the ends of a text), so no message with a
 *   match is missed; a report that began in an earlier message only costs a
 *   needless scan.
 * - A pack without a regex-ends database (built by an earlier version) has its
 *   regex database scanned per message, every message.
 * - Anchored regexes (^ $ \A \z \Z), whose meaning depends on where the text
 *   begins and ends, are compiled into a database of their own (kind
 *   SLUICE_DB_ANCHORED) that is scanned per message.
 * - Combinations are judged from their operands' matches per message
 *   (match.c), never by a database scan, so batching cannot mix messages.
 * - A message's scan state is made at its first report, or when it must be
 *   scanned alone (regexes, anchored patterns) or judged anyway (a
 *   combination that holds on nothing, "not a"); a message nothing reported
 *   in keeps its reset set, which is what its scan would have left.
 * - Word edges, allow exemptions, expiry, merging of touching spans and
 *   overflow are applied per message with the message's own offsets, by the
 *   same code sluice_scan_message() uses, in the same order of reports.
 * - Packs that fold: the batch's folded texts are made once per burst (and
 *   table: packs whose tables differ share one fold when the batch's owner
 *   gives it their union, fold_shared), one message after another in a
 *   buffer of their own (the map back to a message's bytes is made only for
 *   a message that matched, with the table that folded it); the folded databases are
 * scanned over that buffer as the raw ones are over the texts. While every message so far is its
 * own folded text (ASCII, or nothing to fold), nothing is copied: the folded buffer is the texts'
 * own.
 *
 * Contract: the texts (struct sluice_batch) and the results of one pack's
 * scan of them (struct sluice_batch_results) are separate, so one copy of a
 * burst's texts serves every pack a worker scans (its main and urgent slots).
 * The init functions allocate once; add/scan/result allocate nothing, take
 * no locks and make no system calls. The folded texts live in the batch,
 * made by the first scan that needs them after a reset, and shared by every
 * pack with the same table. Texts must be valid UTF-8 (as for
 * sluice_scan_message()); they are copied by sluice_batch_add(), so the
 * caller may change them afterwards (masking) without disturbing results.
 *
 * By reference: when no pack to be scanned reads raw text (every database on
 * the folded view, as with every rule file that normalises), the raw copy
 * serves nothing, and sluice_batch_add_ref() records where each text is
 * instead; its folded texts are then made straight from the caller's bytes,
 * which must stay as they are until the last scan of the batch. A batch is
 * one or the other from its reset; a pack with a raw view is refused on a
 * batch by reference (HS_INVALID).
 *
 * A copied text is checked as it is copied by sluice_batch_add_checked().
 * Texts by reference need not be known to be UTF-8: sluice_batch_check()
 * validates them in the fold's own pass over them (dataplane/wire/
 * utf8_blocks.h), which costs a few instructions a block where a gate of its
 * own cost a loop a message. It names the texts that are not valid; the
 * caller drops each (sluice_batch_drop()) or repairs it in place
 * (sluice_batch_repaired()), and only then may the batch be scanned
 * (sluice_batch_scan() refuses it with HS_INVALID before).
 */
#ifndef SLUICE_PATTERNS_BATCH_SCAN_H
#define SLUICE_PATTERNS_BATCH_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#include "allocator.h"
#include "match.h"
#include "pack.h"

/* Defaults a worker uses: a burst's messages fit comfortably. */
#define SLUICE_BATCH_MESSAGES 256
#define SLUICE_BATCH_BYTES    (64 * 1024)

struct sluice_scan_state;

/* The texts: one buffer, each text followed by '\n', and SLUICE_SCAN_SLACK
 * readable bytes after the last byte a scan can cover (zeroed in buf; the
 * fold writes whole blocks, so fold_buf's may hold its bytes). */
struct sluice_batch {
	const struct sluice_allocator *alloc;
	char *buf;
	uint32_t buf_cap, used;
	uint32_t cap, count;
	uint32_t *start; /* message i is buf[start[i], start[i] + len[i]) */
	uint32_t *len;
	uint8_t *ascii;	  /* per message: all ASCII (its own folded text) */
	bool by_ref;	  /* since reset: texts recorded by address, buf unused */
	const char **ref; /* by_ref: message i is ref[i][0, len[i]) */
	uint32_t checked; /* by_ref: texts [0, checked) have been through sluice_batch_check() */
	uint8_t *invalid; /* per message: found invalid, neither dropped nor repaired yet */
	uint32_t invalid_left;
	uint32_t unicode; /* messages that are not all ASCII */
	/* The texts folded (by folded_by, whose digest is folded_digest), laid
	 * out as buf is: fold_text is fold_buf, or buf while nothing folded. */
	const struct sluice_fold_table *folded_by; /* NULL: not made since reset */
	uint64_t folded_digest;
	const char *fold_text;
	uint32_t fold_used;
	char *fold_buf;
	uint32_t *fold_src; /* per byte of fold_buf: offset in its message, made for a message
			       only when a match in it needs mapping (match_internal.h) */
	uint32_t *fold_start, *fold_len;
	uint8_t *fold_mapped; /* per message: fold_src applies (else offsets are equal) */
	/* Set by the owner, kept across resets: a union of the tables of the
	 * packs it scans (sluice_fold_table_union()), to fold the texts once
	 * for all of them; NULL: each pack's own table. A pack whose table it
	 * does not serve folds with its own. */
	const struct sluice_fold_table *fold_shared;
};

/* One pack's results over a batch's texts. */
struct sluice_batch_results {
	const struct sluice_allocator *alloc;
	uint32_t cap;
	struct sluice_match_set *sets; /* one per message */
	struct sluice_match *storage;  /* cap * matches_per_message */
	uint32_t matches_per_message;
	uint8_t *regex_hit; /* per message: bit (1 << view): a regex-ends report ended in it */
	struct sluice_scan_state *states; /* per message, during a scan */
	uint8_t *begun;			  /* per message: states[k] made in this scan */
	uint32_t begun_count;		  /* messages with begun set: 0, every result is none */
	/* The result of every message of the last scan that no report reached
	 * (most of them): one empty set, not one reset per message. */
	struct sluice_match_set none;
	/* Counters since init, for benchmarks and stats. */
	uint64_t scans;	      /* sluice_batch_scan() calls */
	uint64_t regex_scans; /* messages scanned alone with the regex database */
};

/* Allocates a batch for up to max_messages texts of max_bytes in all (the
 * separators included) from alloc. Returns 0 or -1 (out of memory or a zero
 * size). */
int sluice_batch_init(struct sluice_batch *b, uint32_t max_messages, uint32_t max_bytes,
		      const struct sluice_allocator *alloc);

void sluice_batch_free(struct sluice_batch *b);

/* Allocates results for up to max_messages texts, each with room for
 * matches_per_message spans, from alloc. Returns 0 or -1. */
int sluice_batch_results_init(struct sluice_batch_results *r, uint32_t max_messages,
			      uint32_t matches_per_message, const struct sluice_allocator *alloc);

void sluice_batch_results_free(struct sluice_batch_results *r);

static inline void sluice_batch_reset(struct sluice_batch *b)
{
	b->count = 0;
	b->used = 0;
	b->unicode = 0;
	b->folded_by = NULL;
	b->by_ref = false;
	b->checked = 0;
	b->invalid_left = 0;
}

/* Whether a text of len bytes still fits. */
static inline bool sluice_batch_fits(const struct sluice_batch *b, size_t len)
{
	return b->count < b->cap && len < b->buf_cap && b->used + len + 1 <= b->buf_cap;
}

/* Appends a copy of text; returns its index, or -1 when it does not fit (scan,
 * reset and add again; a text longer than the whole buffer never fits and must
 * be scanned with sluice_scan_message()). */
int32_t sluice_batch_add(struct sluice_batch *b, const char *text, size_t len);

/* sluice_batch_add() for text not yet known to be UTF-8, checked as it is
 * copied (utf8_blocks.h): SLUICE_BATCH_INVALID, adding nothing, when it is
 * not valid UTF-8. */
#define SLUICE_BATCH_INVALID (-2)
int32_t sluice_batch_add_checked(struct sluice_batch *b, const char *text, size_t len);

/* Each way of sluice_batch_add_checked(), for the tests that compare them:
 * SSE2, and AVX2 (only where sluice_utf8_avx2_usable()), chosen by the CPU
 * as sluice_fold_checked() is. */
int32_t sluice_batch_add_checked_sse2(struct sluice_batch *b, const char *text, size_t len);
int32_t sluice_batch_add_checked_avx2(struct sluice_batch *b, const char *text, size_t len);

/* The same without the copy (see "By reference" above): text must stay
 * unchanged until the batch's last scan, and need not be UTF-8 (it is
 * checked by sluice_batch_check()). -1 as sluice_batch_add(), and when the
 * batch already holds copies. */
int32_t sluice_batch_add_ref(struct sluice_batch *b, const char *text, size_t len);

/* Validates the texts added by reference since the last check, folding
 * every text on the way as pack folds (its scan then finds that done; a pack
 * that does not fold has them only validated). Writes the indexes of the
 * texts that are not valid UTF-8 to invalid[] (room for every text of the
 * batch), in order, and returns how many. Each of them must then be dropped
 * or repaired before the batch is scanned. */
uint32_t sluice_batch_check(struct sluice_batch *b, const struct sluice_pack *pack,
			    uint32_t *invalid);

/* Text k, found invalid, is scanned as an empty text: its results hold no
 * match. */
void sluice_batch_drop(struct sluice_batch *b, uint32_t k);

/* Text k, found invalid, has been made valid UTF-8 in place, its length the
 * same (sluice_utf8_repair()). */
void sluice_batch_repaired(struct sluice_batch *b, uint32_t k);

/* Scans every text added since the last reset against the pack, into r
 * (which must hold as many messages as b). disabled (or NULL) and keep are
 * applied to every message's set as in struct sluice_match_set. Returns
 * HS_SUCCESS, or Hyperscan's error (the results are then unusable);
 * HS_INVALID, scanning nothing, for a batch by reference with texts not
 * checked, or found invalid and neither dropped nor repaired. */
hs_error_t sluice_batch_scan(const struct sluice_pack *pack, hs_scratch_t *scratch,
			     struct sluice_batch *b, struct sluice_batch_results *r,
			     const uint8_t *disabled, uint8_t keep);

/* The results for message i of the last scan, as sluice_scan_message() would
 * have left them. */
static inline const struct sluice_match_set *
sluice_batch_result(const struct sluice_batch_results *r, uint32_t i)
{
	return r->begun[i] ? &r->sets[i] : &r->none;
}

#endif
