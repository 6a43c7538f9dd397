/* The list files a `list:` rule names (rule_loader.h): one literal a line,
 * read relative to the rule file, with blank lines and comments skipped and
 * duplicates reported.
 */
#include <stdio.h>

#include "message.h"
#include "rule_loader.h"

/* ---- list files ---- */

/* Reads the list file a `list:` names into rule->list_data. Problems with
 * the path are reported at the rule, where the path is written. */
static int read_list_file(struct file_ctx *fc, const yaml_node_t *v, const char *rule_id,
			  struct sluice_rule *rule, size_t *len)
{
	char why[256];

	rule->list_path = sluice_loader_resolve_relative(fc->path, scalar_text(v));
	if (!rule->list_path) {
		oom(fc->ld);
		return -1;
	}
	if (read_whole_file(rule->list_path, LIST_FILE_MAX_BYTES, "list file", &rule->list_data,
			    len, why, sizeof(why)) != 0)
		return err_at(fc, loc_of(v->start_mark), rule_id, "list-file",
			      "list file %s: %s; the path is relative to %s", rule->list_path, why,
			      fc->path);
	return 0;
}

/* Whether a line of a list file is a literal: comment and empty lines are
 * not, nor is a line with a problem, which is reported at LIST:LINE since
 * that is the file the analyst has to edit. */
static bool list_line_is_literal(struct loader *ld, const char *path, const char *rule_id,
				 const char *line, size_t len, unsigned line_no)
{
	struct sluice_loc here = {line_no, 1};
	size_t lead = 0;

	if (len == 0)
		return false;
	while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	if (lead < len && line[lead] == '#')
		return false;
	if (memchr(line, '\0', len)) {
		file_err(ld, path, here, rule_id, "list-file",
			 "line %u contains a NUL byte; save the list as UTF-8 text", line_no);
		return false;
	}
	size_t bad = sluice_utf8_invalid_at((const uint8_t *)line, len);
	if (bad < len) {
		here.column = (unsigned)utf8_chars(line, bad) + 1;
		file_err(ld, path, here, rule_id, "list-file",
			 "line %u is not valid UTF-8 (byte 0x%02x); save the list as UTF-8",
			 line_no, (unsigned char)line[bad]);
		return false;
	}
	if (lead == len) {
		file_err(ld, path, here, rule_id, "empty-literal",
			 "line %u is only whitespace, which would match every space in a "
			 "message; delete the line or write the literal",
			 line_no);
		return false;
	}
	if (lead || is_space((unsigned char)line[len - 1]))
		file_warn(ld, path, here, rule_id, "literal-whitespace",
			  "line %u has %s whitespace, which is part of the literal and must "
			  "appear in a message for it to match; remove it unless meant",
			  line_no, lead ? "leading" : "trailing");
	if (len > UINT32_MAX) {
		file_err(ld, path, here, rule_id, "list-file", "line %u is too long", line_no);
		return false;
	}
	return true;
}

static int add_literal(struct sluice_rule *rule, size_t *cap, struct sluice_literal lit)
{
	if (rule->literal_count == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct sluice_literal *p = realloc(rule->literals, c * sizeof(*p));
		if (!p)
			return -1;
		rule->literals = p;
		*cap = c;
	}
	rule->literals[rule->literal_count++] = lit;
	return 0;
}

/* Splits rule->list_data into rule->literals, one per literal line; each
 * line is cut in place, so the literals point into list_data. */
static int split_list(struct loader *ld, const char *rule_id, struct sluice_rule *rule, size_t len)
{
	char *data = rule->list_data;
	size_t at = 0, cap = 0;
	unsigned line_no = 0;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		at = 3;
	while (at < len) {
		char *line = data + at;
		char *nl = memchr(line, '\n', len - at);
		size_t ll = nl ? (size_t)(nl - line) : len - at;

		at += ll + (nl ? 1 : 0);
		line_no++;
		line[ll] = '\0';
		if (ll && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (!list_line_is_literal(ld, rule->list_path, rule_id, line, ll, line_no))
			continue;
		if (add_literal(rule, &cap,
				(struct sluice_literal){.text = line,
							.len = (uint32_t)ll,
							.line = line_no,
							.column = 1}) != 0) {
			free(rule->literals);
			rule->literals = NULL;
			rule->literal_count = 0;
			oom(ld);
			return -1;
		}
	}
	return 0;
}

struct lit_set {
	uint32_t *slots; /* literal index + 1 */
	size_t mask;
};

/* The same literal twice is harmless to Hyperscan but usually means a list
 * was merged twice; say so once per duplicate. */
static int warn_duplicate_literals(struct loader *ld, const char *rule_id,
				   const struct sluice_rule *rule)
{
	const struct sluice_literal *lits = rule->literals;
	bool fold = rule->flags & SLUICE_RULE_CASELESS;
	struct lit_set set = {0};
	size_t slots = 64, n = rule->literal_count;

	while (slots < n * 2)
		slots *= 2;
	set.slots = calloc(slots, sizeof(*set.slots));
	set.mask = slots - 1;
	if (!set.slots) {
		oom(ld);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t slot = (size_t)hash_bytes(lits[i].text, lits[i].len, fold) & set.mask;
		bool dup = false;

		while (set.slots[slot]) {
			const struct sluice_literal *o = &lits[set.slots[slot] - 1];
			if (o->len == lits[i].len &&
			    (fold ? strncasecmp(o->text, lits[i].text, o->len) == 0
				  : memcmp(o->text, lits[i].text, o->len) == 0)) {
				file_warn(ld, rule->list_path, (struct sluice_loc){lits[i].line, 1},
					  rule_id, "duplicate-literal",
					  "line %u repeats line %u ('%.*s'); delete one",
					  lits[i].line, o->line,
					  lits[i].len > 64 ? 64 : (int)lits[i].len, lits[i].text);
				dup = true;
				break;
			}
			slot = (slot + 1) & set.mask;
		}
		if (!dup)
			set.slots[slot] = (uint32_t)(i + 1);
	}
	free(set.slots);
	return 0;
}

/* Reads a list file: one literal per line, '#' comment lines and empty
 * lines skipped. */
int sluice_loader_load_list(struct file_ctx *fc, const yaml_node_t *v, const char *rule_id,
			    struct sluice_rule *rule)
{
	struct loader *ld = fc->ld;
	size_t len = 0, errors_before = ld->errors;

	if (read_list_file(fc, v, rule_id, rule, &len) != 0 ||
	    split_list(ld, rule_id, rule, len) != 0)
		return -1;
	if (rule->literal_count == 0 && ld->errors == errors_before)
		return err_at(fc, loc_of(v->start_mark), rule_id, "empty-list",
			      "list file %s has no literals (only comments and empty lines); add "
			      "one per line",
			      rule->list_path);
	if (warn_duplicate_literals(ld, rule_id, rule) != 0)
		return -1;
	return ld->errors == errors_before ? 0 : -1;
}
