/* The baseline a team might write without Sluice: PCRE2 with JIT, every rule
 * of the rule file tried in turn on every message.
 *
 * How each rule becomes PCRE2 (all with PCRE2_UTF):
 * - pattern: compiled as written, with the rule's caseless, dotall and
 *   multiline flags; whole_word wraps it in \b(?:...)\b.
 * - literal: PCRE2_LITERAL (plus caseless). A whole_word literal is escaped
 *   instead and compiled as a list of one.
 * - list: one alternation of all entries, each escaped. That is what a team
 *   would do, and it is much faster than one pattern per entry. With
 *   whole_word, \b goes on each edge that is an ASCII word character
 *   (Sluice's rule for literal edges): entries are grouped by which edges
 *   those are, and each group is one alternation with \b outside it,
 *   \b(?:a|b)\b, at most four patterns. An alternation PCRE2 finds too
 *   large is split in halves until each part compiles, so big lists still
 *   run.
 * - combination: judged per message from its operands' results
 *   (sluice_logic_eval); combinations of combinations are judged in
 *   dependency order. One whose operand is missing or was skipped, or that
 *   does not parse, is skipped and counted.
 * A rule PCRE2 refuses is skipped and counted, with the reason kept.
 *
 * Per message each rule is matched once (pcre2_jit_match, PCRE2_NO_UTF_CHECK:
 * messages are validated upstream, as in Sluice) with the rule's own
 * match_data, allocated up front; a rule with several parts stops at its
 * first matching part. Only whether a rule matched is needed: no spans, no
 * allow exemptions (allow rules are matched but exempt nothing), so the
 * baseline does less than Sluice does and its cost is a lower bound. A
 * message acts when any rule matched that is neither allow nor quiet (or a
 * combination that is not quiet held); its verdict is the strongest action
 * of those. matches = (message, rule) pairs that matched.
 *
 * Contract: build allocates everything (and fails only when out of memory);
 * a pass allocates nothing. A match error other than "no match" is counted
 * in match_errors, and the rule counts as not matched.
 */
#ifndef SLUICE_BENCH_SCAN_PCRE2_BASELINE_H
#define SLUICE_BENCH_SCAN_PCRE2_BASELINE_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pcre2.h>

#include "corpus_reader.h"
#include "logic.h"
#include "rule_file.h"
#include "stage_timing.h"

#define PCRE2_BASELINE_REASONS 8

struct pcre2_part {
	pcre2_code *code;
	bool jit; /* false: JIT refused it, matched with the interpreter */
};

struct pcre2_rule {
	struct pcre2_part *parts; /* NULL for combinations and skipped rules */
	uint32_t part_count;
	/* One pair of offsets is enough: only whether it matched is used
	 * (a match that fills no more pairs returns 0, still a match). */
	pcre2_match_data *match_data;
	bool usable; /* compiled, or a combination that can be judged */
	bool acts;   /* neither allow nor quiet */
	uint8_t action;
};

struct pcre2_combination {
	uint32_t rule;
	struct sluice_logic_op *ops; /* operands resolved to rule indexes */
	size_t op_count;
};

struct pcre2_skip {
	char *rule_id;
	char *reason;
};

struct pcre2_baseline {
	struct pcre2_rule *rules;
	size_t rule_count;
	struct pcre2_combination *combinations; /* in an order that judges operands first */
	size_t combination_count;
	uint8_t *matched; /* per rule, for the message being judged */
	pcre2_match_context *match_context;
	pcre2_jit_stack *jit_stack;

	uint32_t patterns;	       /* compiled pcre2_code objects */
	uint32_t not_jit;	       /* of those, ones JIT refused (interpreted) */
	uint32_t skipped_rules;	       /* rules PCRE2 refused, and combinations skipped */
	uint32_t skipped_combinations; /* of skipped_rules */
	struct pcre2_skip skips[PCRE2_BASELINE_REASONS]; /* the first few */
};

/* Returns 0, or -1 (out of memory) with err set. */
int pcre2_baseline_build(const struct sluice_rule_list *rules, struct pcre2_baseline *out,
			 char *err, size_t err_len);
void pcre2_baseline_free(struct pcre2_baseline *b);
int pcre2_baseline_pass(void *stage, const struct corpus_texts *corpus, struct pass_counts *counts,
			uint8_t *verdicts, char *err, size_t err_len);

#endif
