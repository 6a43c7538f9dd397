/* Lint: every error and warning names FILE:LINE:COL and the rule, and says
 * what is wrong and what to do. Each fixture under tests/data/rules/lint_*
 * holds one group of problems at known places. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "pack.h"
#include "pack_compile.h"
#include "pack_source.h"

static char *fixture(const char *name)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	char *path;

	if (!root || !*root)
		root = ".";
	cr_assert_neq(asprintf(&path, "%s/tests/data/rules/%s", root, name), -1);
	return path;
}

struct lint_run {
	struct sluice_diag_list diags;
	size_t errors;
	size_t warnings;
};

/* now: 2026-11-23 12:00 UTC, so expiry is judged the same on every day. */
#define NOW 1795435200

static void lint(const char *name, const char *corpus, struct lint_run *run)
{
	struct sluice_lint_options opt = {.now = NOW};
	char *path = fixture(name);
	char *corpus_path = corpus ? fixture(corpus) : NULL;

	opt.corpus_path = corpus_path;
	memset(run, 0, sizeof(*run));
	run->errors = sluice_lint_file(path, &opt, &run->diags);
	for (size_t i = 0; i < run->diags.count; i++)
		run->warnings += run->diags.items[i].level == SLUICE_DIAG_WARNING;
	free(path);
	free(corpus_path);
}

static const char *dump(const struct lint_run *run)
{
	static char buf[8192];
	size_t at = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < run->diags.count && at < sizeof(buf) - 2; i++) {
		char line[1024];
		sluice_diag_format(&run->diags.items[i], line, sizeof(line));
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "\n  %s", line);
	}
	return buf;
}

/* Asserts the diagnostic at file:line:col with this code, and its whole
 * formatted line "FILE:LINE:COL: level: rule ID: message". */
static void expect(const struct lint_run *run, const char *file, unsigned line, unsigned col,
		   const char *code, const char *formatted_tail)
{
	char *path = fixture(file);
	char want[2048], got[2048];

	for (size_t i = 0; i < run->diags.count; i++) {
		const struct sluice_diag *d = &run->diags.items[i];
		if (strcmp(d->file, path) != 0 || d->line != line || d->column != col ||
		    strcmp(d->code, code) != 0)
			continue;
		snprintf(want, sizeof(want), "%s:%u:%u: %s", path, line, col, formatted_tail);
		sluice_diag_format(d, got, sizeof(got));
		cr_expect_str_eq(got, want);
		free(path);
		return;
	}
	cr_expect_fail("no %s at %s:%u:%u in:%s", code, path, line, col, dump(run));
	free(path);
}

/* ---- patterns ---- */

Test(lint, unsupported_constructs_are_quoted_where_they_are)
{
	struct lint_run run;

	lint("lint_patterns.yaml", NULL, &run);
	/* 'ab(?<=b)c' starts at column 14; its quote is 15, "(?<=" is at 17. */
	expect(&run, "lint_patterns.yaml", 8, 17, "unsupported",
	       "error: rule lookbehind: pattern rejected by Hyperscan: a lookbehind '(?<=' is not "
	       "supported; Hyperscan has no lookaround; to keep a match from counting after some "
	       "text, add an allow rule for the longer phrase, or use a combination with 'and "
	       "not'");
	expect(&run, "lint_patterns.yaml", 13, 18, "unsupported",
	       "error: rule backref: pattern rejected by Hyperscan: a backreference '\\1' is not "
	       "supported; Hyperscan cannot match text repeated from an earlier group; write the "
	       "alternatives out, or use two rules and a combination");
	sluice_diag_list_free(&run.diags);
}

Test(lint, hyperscan_refusal_points_at_the_character_it_names)
{
	struct lint_run run;

	lint("lint_patterns.yaml", NULL, &run);
	expect(&run, "lint_patterns.yaml", 18, 18, "hyperscan",
	       "error: rule unbalanced: pattern rejected by Hyperscan: Unmatched parentheses at "
	       "')'; fix the pattern there");
	sluice_diag_list_free(&run.diags);
}

Test(lint, pattern_matching_the_empty_string_is_an_error)
{
	struct lint_run run;

	lint("lint_patterns.yaml", NULL, &run);
	expect(&run, "lint_patterns.yaml", 23, 14, "empty-match",
	       "error: rule empty-match: pattern can match the empty string, so it would match "
	       "every message; make at least one character required (for example 'a+' instead "
	       "of 'a*')");
	sluice_diag_list_free(&run.diags);
}

Test(lint, slow_constructs_are_warnings_that_say_why)
{
	struct lint_run run;

	lint("lint_patterns.yaml", NULL, &run);
	expect(&run, "lint_patterns.yaml", 28, 22, "slow-repeat",
	       "warning: rule big-repeat: slow: a large bounded repeat '{1000,}'; Hyperscan tracks "
	       "every count of a bounded repeat, so large bounds make the database big, slow to "
	       "compile and slow to scan (more so when it also reports where a match starts); "
	       "match a shorter distinctive part, or use a smaller bound");
	expect(&run, "lint_patterns.yaml", 33, 15, "dot-star",
	       "warning: rule dot-star: slow: '.*' at both ends; it changes no verdict but makes "
	       "the match, and so the mask and the event, run to the start or end of the message, "
	       "and makes Hyperscan track where matches start across the whole message; remove "
	       "it");
	expect(&run, "lint_patterns.yaml", 38, 14, "many-alternatives",
	       "warning: rule alternatives: slow: 60 alternatives; a long list of words in one "
	       "regular expression is slow to compile and hard to review; put plain words in a "
	       "list file ('list:'), which is compiled with the much faster literal matcher, or "
	       "split the rule");
	cr_expect_eq(run.errors, 4, "%s", dump(&run));
	cr_expect_eq(run.warnings, 3, "%s", dump(&run));
	sluice_diag_list_free(&run.diags);
}

/* ---- keys and values ---- */

Test(lint, bad_severity_date_and_flag)
{
	struct lint_run run;

	lint("lint_structure.yaml", NULL, &run);
	expect(&run, "lint_structure.yaml", 8, 15, "bad-severity",
	       "error: rule bad-severity: unknown severity 'urgent'; valid severities are low, "
	       "medium, high, critical");
	expect(&run, "lint_structure.yaml", 14, 14, "bad-date",
	       "error: rule bad-date: expires '2026-02-30' is not a date; write YYYY-MM-DD, for "
	       "example 2026-12-31 (the rule then stops applying after that day, UTC)");
	expect(&run, "lint_structure.yaml", 20, 23, "unknown-flag",
	       "error: rule bad-flag: unknown flag 'wholeword'; valid flags are caseless, dotall, "
	       "multiline, whole_word (did you mean 'whole_word'?)");
	sluice_diag_list_free(&run.diags);
}

Test(lint, literal_of_only_whitespace_is_an_error)
{
	struct lint_run run;

	lint("lint_structure.yaml", NULL, &run);
	expect(&run, "lint_structure.yaml", 26, 14, "empty-literal",
	       "error: rule whitespace-literal: literal is only whitespace, which would match "
	       "every space in a message; write the text to match");
	sluice_diag_list_free(&run.diags);
}

Test(lint, rule_needs_exactly_one_body)
{
	struct lint_run run;

	lint("lint_structure.yaml", NULL, &run);
	expect(&run, "lint_structure.yaml", 32, 5, "two-bodies",
	       "error: rule two-bodies: gives both 'pattern' (line 31) and 'literal'; give exactly "
	       "one of pattern, literal, list or combination (split it into two rules if both are "
	       "meant)");
	expect(&run, "lint_structure.yaml", 34, 5, "missing-key",
	       "error: rule no-body: missing 'pattern', 'literal', 'list' or 'combination'; give "
	       "exactly one: what the rule matches");
	sluice_diag_list_free(&run.diags);
}

Test(lint, duplicate_id_names_both_lines)
{
	struct lint_run run;

	lint("lint_structure.yaml", NULL, &run);
	expect(&run, "lint_structure.yaml", 43, 5, "duplicate-id",
	       "error: rule dup: duplicate id; it is first defined at line 38; give each rule its "
	       "own id");
	sluice_diag_list_free(&run.diags);
}

Test(lint, mask_on_a_combination_is_an_error)
{
	struct lint_run run;

	lint("lint_structure.yaml", NULL, &run);
	expect(&run, "lint_structure.yaml", 50, 13, "combination-action",
	       "error: rule masked-combination: a combination cannot mask: its match has no span "
	       "of text of its own (it spans the message up to where it became true); use flag or "
	       "block, and mask the operands with rules of their own");
	cr_expect_eq(run.errors, 8, "%s", dump(&run));
	cr_expect_eq(run.warnings, 0, "%s", dump(&run));
	sluice_diag_list_free(&run.diags);
}

/* ---- combinations ---- */

Test(lint, missing_operand_is_named_at_its_column)
{
	struct lint_run run;

	lint("lint_combinations.yaml", NULL, &run);
	expect(&run, "lint_combinations.yaml", 14, 31, "combination-operand",
	       "error: rule missing-operand: combination refers to 'nosuchrule', which is not a "
	       "rule in this pack; operands are ids of rules in this file or the files it "
	       "includes");
	sluice_diag_list_free(&run.diags);
}

Test(lint, cyclic_combinations_name_the_cycle)
{
	struct lint_run run;

	lint("lint_combinations.yaml", NULL, &run);
	expect(&run, "lint_combinations.yaml", 19, 18, "combination-cycle",
	       "error: rule cycle-one: combination refers to itself: cycle-one -> cycle-two -> "
	       "cycle-one; a combination cannot depend on itself");
	expect(&run, "lint_combinations.yaml", 24, 18, "combination-cycle",
	       "error: rule cycle-two: combination refers to itself: cycle-two -> cycle-one -> "
	       "cycle-two; a combination cannot depend on itself");
	sluice_diag_list_free(&run.diags);
}

Test(lint, combination_syntax_error_points_at_the_unclosed_parenthesis)
{
	struct lint_run run;

	lint("lint_combinations.yaml", NULL, &run);
	expect(&run, "lint_combinations.yaml", 29, 31, "combination-syntax",
	       "error: rule bad-syntax: combination: this '(' is not closed (found the end of the "
	       "combination where ')' was expected); add the missing ')'");
	sluice_diag_list_free(&run.diags);
}

Test(lint, quiet_rule_no_combination_uses_and_allow_rule_without_targets_are_warnings)
{
	struct lint_run run;

	lint("lint_combinations.yaml", NULL, &run);
	expect(&run, "lint_combinations.yaml", 34, 12, "quiet-unused",
	       "warning: rule unused-quiet: the rule is quiet but no combination uses it, so it "
	       "never acts; use it in a combination or remove 'quiet: true'");
	expect(&run, "lint_combinations.yaml", 37, 5, "allow-unused",
	       "warning: rule lonely-allow: no other rule has category 'nobody-else', so this "
	       "allow rule exempts nothing; give it the category of the rules it should exempt");
	cr_expect_eq(run.errors, 4, "%s", dump(&run));
	cr_expect_eq(run.warnings, 2, "%s", dump(&run));
	sluice_diag_list_free(&run.diags);
}

/* ---- examples, expiry, literals, lists ---- */

Test(lint, failing_examples_are_quoted)
{
	struct lint_run run;

	lint("lint_examples.yaml", NULL, &run);
	expect(&run, "lint_examples.yaml", 11, 9, "example",
	       "error: rule phone: example '1381234567' should match but does not; fix the pattern "
	       "or the example");
	expect(&run, "lint_examples.yaml", 13, 9, "example",
	       "error: rule phone: example 'call 13912345678' should not match, but the rule "
	       "matches '13912345678' (bytes 5..16); fix the pattern or the example");
	sluice_diag_list_free(&run.diags);
}

Test(lint, expired_rule_is_a_warning)
{
	struct lint_run run;

	lint("lint_examples.yaml", NULL, &run);
	expect(&run, "lint_examples.yaml", 18, 14, "expired",
	       "warning: rule expired-notice: the rule expired on 2020-01-01 and has not applied "
	       "since 2020-01-02 00:00 UTC; delete it, or move the date if its notice was "
	       "extended");
	sluice_diag_list_free(&run.diags);
}

Test(lint, whole_word_on_chinese_only_literal_has_no_effect)
{
	struct lint_run run;

	lint("lint_examples.yaml", NULL, &run);
	expect(&run, "lint_examples.yaml", 25, 13, "whole-word-no-effect",
	       "warning: rule zh-whole-word: whole_word has no effect: no literal begins or ends "
	       "with a Latin letter, digit or '_' (Chinese needs no word boundaries); remove "
	       "whole_word");
	expect(
	    &run, "lint_examples.yaml", 30, 14, "literal-whitespace",
	    "warning: rule spaced-literal: literal has trailing whitespace, which is part of the "
	    "literal and must appear in a message for it to match; remove it unless meant");
	sluice_diag_list_free(&run.diags);
}

Test(lint, list_problems_are_reported_at_the_list_file_line)
{
	struct lint_run run;
	char *list = fixture("lists/no-such-list.txt");
	char *rules = fixture("lint_examples.yaml");
	char want[2048];

	lint("lint_examples.yaml", NULL, &run);
	expect(&run, "lists/lint-list.txt", 3, 1, "empty-literal",
	       "error: rule list-with-problems: line 3 is only whitespace, which would match every "
	       "space in a message; delete the line or write the literal");
	expect(&run, "lists/lint-list.txt", 4, 1, "literal-whitespace",
	       "warning: rule list-with-problems: line 4 has trailing whitespace, which is part of "
	       "the literal and must appear in a message for it to match; remove it unless meant");
	expect(&run, "lists/lint-list.txt", 5, 1, "duplicate-literal",
	       "warning: rule list-with-problems: line 5 repeats line 2 ('good'); delete one");
	/* "bad" is 3 characters: the bad byte is the 4th. */
	expect(&run, "lists/lint-list.txt", 6, 4, "list-file",
	       "error: rule list-with-problems: line 6 is not valid UTF-8 (byte 0xff); save the "
	       "list as UTF-8");
	snprintf(want, sizeof(want),
		 "error: rule missing-list: list file %s: cannot open: No such file or directory; "
		 "the path is relative to %s",
		 list, rules);
	expect(&run, "lint_examples.yaml", 40, 11, "list-file", want);
	cr_expect_eq(run.errors, 5, "%s", dump(&run));
	cr_expect_eq(run.warnings, 5, "%s", dump(&run));
	sluice_diag_list_free(&run.diags);
	free(list);
	free(rules);
}

/* ---- corpus ---- */

Test(lint, rule_matching_most_of_the_corpus_is_too_broad)
{
	struct lint_run run;

	lint("lint_broad.yaml", "lint_corpus.txt", &run);
	expect(&run, "lint_broad.yaml", 7, 14, "too-broad",
	       "warning: rule broad: the rule matches 6 of 10 sample messages (60%), more than the "
	       "50% limit, so it would flag ordinary conversation; make it more specific, or add "
	       "allow rules for the innocent uses");
	cr_expect_eq(run.errors, 0, "%s", dump(&run));
	cr_expect_eq(run.warnings, 1, "narrow (1 of 10) is fine:%s", dump(&run));
	sluice_diag_list_free(&run.diags);

	/* A higher limit lets it pass. */
	struct sluice_lint_options opt = {.now = NOW, .broad_share = 0.7};
	char *path = fixture("lint_broad.yaml");
	opt.corpus_path = fixture("lint_corpus.txt");
	struct sluice_diag_list diags = {0};
	cr_expect_eq(sluice_lint_file(path, &opt, &diags), 0);
	cr_expect_eq(diags.count, 0);
	sluice_diag_list_free(&diags);
	free((char *)opt.corpus_path);
	free(path);
}

/* ---- includes, output, clean files ---- */

Test(lint, include_problems_name_the_including_line)
{
	struct lint_run run;

	lint("include/twice.yaml", NULL, &run);
	cr_assert_eq(run.errors, 1, "%s", dump(&run));
	cr_expect_str_eq(run.diags.items[0].code, "duplicate-include");
	cr_expect_eq(run.diags.items[0].line, 4);
	cr_expect_eq(run.diags.items[0].column, 5);
	cr_expect_null(run.diags.items[0].rule_id);
	sluice_diag_list_free(&run.diags);

	char *a = fixture("include/cycle_a.yaml"), *b = fixture("include/cycle_b.yaml"), tail[2048];
	lint("include/cycle_a.yaml", NULL, &run);
	cr_assert_eq(run.errors, 1, "%s", dump(&run));
	snprintf(tail, sizeof(tail),
		 "error: include cycle: %s includes %s, which includes %s again; remove this "
		 "include",
		 a, b, a);
	expect(&run, "include/cycle_b.yaml", 2, 5, "include-cycle", tail);
	sluice_diag_list_free(&run.diags);
	free(a);
	free(b);
}

Test(lint, every_problem_of_a_file_not_just_the_first, .description = "lint keeps going")
{
	struct lint_run run;
	char *path = fixture("lint_structure.yaml");

	lint("lint_structure.yaml", NULL, &run);
	/* Sorted by line: the first is the severity at line 8, the last the
	 * combination at line 50. */
	cr_assert_eq(run.diags.count, 8);
	cr_expect_eq(run.diags.items[0].line, 8);
	cr_expect_eq(run.diags.items[7].line, 50);
	for (size_t i = 0; i < run.diags.count; i++) {
		cr_expect_str_eq(run.diags.items[i].file, path);
		cr_expect_not_null(run.diags.items[i].rule_id);
	}
	sluice_diag_list_free(&run.diags);
	cr_expect_null(run.diags.items);
	cr_expect_eq(run.diags.count, 0);
	free(path);
}

Test(lint, clean_files_have_no_diagnostics)
{
	static const char *const clean[] = {"lang_mixed.yaml", "lang_combination.yaml",
					    "lang_allow.yaml", "include/main.yaml", "valid.yaml"};

	for (size_t i = 0; i < sizeof(clean) / sizeof(clean[0]); i++) {
		struct lint_run run;
		lint(clean[i], NULL, &run);
		cr_expect_eq(run.diags.count, 0, "%s:%s", clean[i], dump(&run));
		sluice_diag_list_free(&run.diags);
	}
}

Test(lint, diag_format_without_a_rule_and_truncated)
{
	struct sluice_diag d = {.level = SLUICE_DIAG_ERROR,
				.file = "f.yaml",
				.line = 3,
				.column = 7,
				.rule_id = NULL,
				.code = "structure",
				.message = "something is wrong"};
	char buf[64], tiny[10];

	sluice_diag_format(&d, buf, sizeof(buf));
	cr_expect_str_eq(buf, "f.yaml:3:7: error: something is wrong");
	d.level = SLUICE_DIAG_WARNING;
	d.rule_id = "r1";
	sluice_diag_format(&d, buf, sizeof(buf));
	cr_expect_str_eq(buf, "f.yaml:3:7: warning: rule r1: something is wrong");
	sluice_diag_format(&d, tiny, sizeof(tiny));
	cr_expect_str_eq(tiny, "f.yaml:3:");
}

Test(lint, compile_reports_lints_first_error_in_the_same_words)
{
	struct sluice_diag_list diags = {0};
	struct sluice_lint_options opt = {.now = NOW};
	struct sluice_rule_list rules;
	struct sluice_pack *pack = NULL;
	char *path = fixture("lint_patterns.yaml");
	char line[2048], err[2048] = "";

	sluice_lint_file(path, &opt, &diags);
	cr_assert_geq(diags.count, 1);
	sluice_diag_format_short(&diags.items[0], line, sizeof(line));
	cr_assert_eq(sluice_rule_file_load(path, &rules, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_compile(&rules, &pack, err, sizeof(err)), -1);
	cr_expect_str_eq(err, line);
	cr_expect_not_null(strstr(err, ":8:17: rule lookbehind: pattern rejected by Hyperscan: "),
			   "%s", err);
	sluice_rule_list_free(&rules);
	sluice_diag_list_free(&diags);
	free(path);
}

Test(lint, allow_rule_beside_rules_that_failed_to_load_is_reported_not_a_crash)
{
	struct lint_run run;

	lint("lint_allow_beside_broken_rule.yaml", NULL, &run);
	cr_assert_eq(run.errors, 6, "%s", dump(&run));
	expect(&run, "lint_allow_beside_broken_rule.yaml", 9, 5, "missing-key",
	       "error: rule b: missing 'action'; every rule needs id, category, action and one "
	       "of pattern, literal, list or combination");
	/* The broken rules do not count as rules of category c. */
	expect(&run, "lint_allow_beside_broken_rule.yaml", 5, 5, "allow-unused",
	       "warning: rule a: no other rule has category 'c', so this allow rule exempts "
	       "nothing; give it the category of the rules it should exempt");
	sluice_diag_list_free(&run.diags);
}

/* Each rule's loader error used to hide the error in its body (a duplicate id
 * hid a lookbehind; mask on a combination hid an unclosed parenthesis). */
Test(lint, every_error_of_every_rule_in_one_run)
{
	struct lint_run run;
	static const struct {
		unsigned line, column;
		const char *rule, *code;
	} want[] = {
	    {10, 5, "first", "duplicate-id"},
	    {13, 15, "first", "unsupported"},
	    {16, 13, "masked-combination", "combination-action"},
	    {17, 29, "masked-combination", "combination-syntax"},
	    {20, 13, "misspelt-action", "bad-action"},
	    {21, 16, "misspelt-action", "unsupported"},
	    {25, 17, "bad-date", "hyperscan"},
	    {26, 14, "bad-date", "bad-date"},
	};
	const size_t n = sizeof(want) / sizeof(want[0]);

	lint("lint_every_error.yaml", NULL, &run);
	cr_assert_eq(run.errors, n, "%zu errors:%s", run.errors, dump(&run));
	cr_assert_eq(run.diags.count, n, "%s", dump(&run));
	for (size_t i = 0; i < n; i++) {
		const struct sluice_diag *d = &run.diags.items[i];
		cr_assert(d->line == want[i].line && d->column == want[i].column &&
			      strcmp(d->rule_id, want[i].rule) == 0 &&
			      strcmp(d->code, want[i].code) == 0,
			  "diagnostic %zu is %u:%u %s %s, want %u:%u %s %s:%s", i, d->line,
			  d->column, d->rule_id, d->code, want[i].line, want[i].column,
			  want[i].rule, want[i].code, dump(&run));
	}
	sluice_diag_list_free(&run.diags);
}
