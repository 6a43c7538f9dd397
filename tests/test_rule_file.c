/* Rule file parsing: every structural error names FILE:LINE:COL and says what
 * is wrong; a good file comes back exactly as written. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_file.h"

static char *fixture(const char *name)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	char *path;

	if (!root || !*root)
		root = ".";
	cr_assert_neq(asprintf(&path, "%s/tests/data/rules/%s", root, name), -1);
	return path;
}

static void assert_list_empty(const struct sluice_rule_list *list)
{
	cr_assert_null(list->rules, "a failed load must leave the list empty");
	cr_assert_eq(list->count, 0);
	cr_assert_null(list->name);
	cr_assert_null(list->version);
	cr_assert_null(list->source);
}

/* Loads a fixture that must fail, checks the message starts with exactly
 * "PATH:LINE:COL: " and contains each of the NULL-terminated words. */
static void expect_error(const char *name, unsigned line, unsigned column, ...)
{
	struct sluice_rule_list list;
	char err[1024] = "";
	char *path = fixture(name);
	char *prefix;
	va_list ap;

	cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), -1,
		     "%s should have been refused", name);
	assert_list_empty(&list);
	cr_assert_neq(asprintf(&prefix, "%s:%u:%u: ", path, line, column), -1);
	cr_assert_eq(strncmp(err, prefix, strlen(prefix)), 0, "expected prefix \"%s\" in \"%s\"",
		     prefix, err);
	va_start(ap, column);
	for (const char *word = va_arg(ap, const char *); word; word = va_arg(ap, const char *))
		cr_assert_not_null(strstr(err, word), "expected \"%s\" in \"%s\"", word, err);
	va_end(ap);
	free(prefix);
	free(path);
}

Test(rule_file, valid_file_parses_every_field)
{
	struct sluice_rule_list list;
	char err[1024] = "";
	char *path = fixture("valid.yaml");

	cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(list.source, path);
	cr_assert_str_eq(list.name, "test-pack");
	cr_assert_str_eq(list.version, "2026.01.02-3");
	cr_assert_eq(list.count, 3);

	cr_assert_str_eq(list.rules[0].id, "phone-cn-mobile");
	cr_assert_str_eq(list.rules[0].pattern, "1[3-9]\\d{9}");
	cr_assert_str_eq(list.rules[0].category, "contact");
	cr_assert_eq(list.rules[0].action, SLUICE_ACTION_MASK);
	cr_assert_eq(list.rules[0].caseless, false);
	cr_assert_eq(list.rules[0].line, 5);
	cr_assert_eq(list.rules[0].column, 5);

	cr_assert_str_eq(list.rules[1].id, "casino.en_1");
	cr_assert_str_eq(list.rules[1].pattern, "online\\s+casino");
	cr_assert_str_eq(list.rules[1].category, "gambling");
	cr_assert_eq(list.rules[1].action, SLUICE_ACTION_BLOCK);
	cr_assert_eq(list.rules[1].caseless, true);
	cr_assert_eq(list.rules[1].line, 11);
	cr_assert_eq(list.rules[1].column, 5);

	cr_assert_str_eq(list.rules[2].id, "minors.private-chat_2");
	cr_assert_str_eq(list.rules[2].pattern, "私聊");
	cr_assert_eq(list.rules[2].action, SLUICE_ACTION_FLAG);
	cr_assert_eq(list.rules[2].caseless, false);
	cr_assert_eq(list.rules[2].line, 17);

	sluice_rule_list_free(&list);
	cr_assert_null(list.rules);
	free(path);
}

Test(rule_file, name_and_version_default_to_base_name_and_zero)
{
	struct sluice_rule_list list;
	char err[1024] = "";
	char *path = fixture("minimal.yaml");

	cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(list.name, "minimal");
	cr_assert_str_eq(list.version, "0");
	cr_assert_eq(list.count, 1);
	cr_assert_str_eq(list.rules[0].id, "only");
	cr_assert_eq(list.rules[0].line, 2);
	cr_assert_eq(list.rules[0].column, 5, "a flow mapping starts at its '{'");
	sluice_rule_list_free(&list);
	free(path);
}

Test(rule_file, bundled_packs_parse)
{
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	const char *files[] = {"default.yaml", "flag-phones.yaml"};

	if (!root || !*root)
		root = ".";
	for (size_t i = 0; i < 2; i++) {
		struct sluice_rule_list list;
		char err[1024] = "";
		char *path;

		cr_assert_neq(asprintf(&path, "%s/patterns/rules/%s", root, files[i]), -1);
		cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), 0, "%s", err);
		cr_assert_gt(list.count, 0);
		sluice_rule_list_free(&list);
		free(path);
	}
}

Test(rule_file, missing_file_reports_cannot_open_with_strerror)
{
	struct sluice_rule_list list;
	char err[1024] = "";
	char *path = fixture("does-not-exist.yaml");
	char *want;

	cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), -1);
	assert_list_empty(&list);
	cr_assert_neq(asprintf(&want, "%s: cannot open: No such file or directory", path), -1);
	cr_assert_str_eq(err, want);
	free(want);
	free(path);
}

Test(rule_file, top_level_list_is_not_a_mapping)
{
	expect_error("top_not_mapping.yaml", 1, 1, "not a YAML mapping", "rules:", NULL);
}

Test(rule_file, empty_file_is_refused_at_line_one)
{
	expect_error("empty_file.yaml", 1, 1, "empty", "rules:", NULL);
}

Test(rule_file, missing_rules_list_is_named)
{
	expect_error("missing_rules.yaml", 1, 1, "missing 'rules:' list", NULL);
}

Test(rule_file, rules_that_is_not_a_list_is_refused_at_its_value)
{
	expect_error("rules_not_list.yaml", 2, 8, "'rules' is a string", "list", NULL);
}

Test(rule_file, empty_rules_list_is_refused)
{
	expect_error("empty_rules.yaml", 2, 8, "empty list", "at least one rule", NULL);
}

Test(rule_file, unknown_top_level_key_is_named)
{
	expect_error("unknown_top_key.yaml", 2, 1, "unknown top-level key 'rule'",
		     "(did you mean 'rules'?)",
		     "name, version, owner, description, normalize, include, rules", NULL);
}

Test(rule_file, rule_missing_id_is_numbered_and_located)
{
	expect_error("missing_id.yaml", 6, 5, "rule #2:", "missing 'id'", NULL);
}

Test(rule_file, rule_missing_pattern_names_rule)
{
	expect_error("missing_pattern.yaml", 2, 5, "rule no-pattern:", "missing 'pattern'", NULL);
}

Test(rule_file, rule_missing_action_names_rule)
{
	expect_error("missing_action.yaml", 2, 5, "rule no-action:", "missing 'action'", NULL);
}

Test(rule_file, rule_missing_category_names_rule)
{
	expect_error("missing_category.yaml", 2, 5, "rule no-category:", "missing 'category'",
		     NULL);
}

Test(rule_file, unknown_rule_key_is_named_at_the_key)
{
	expect_error("unknown_key.yaml", 3, 5, "rule typo:", "unknown key 'patern'",
		     "(did you mean 'pattern'?)",
		     "id, category, action, severity, description, pattern, literal, list, "
		     "combination, flags, caseless, quiet, normalize, expires, starts, matches, "
		     "does_not_match",
		     NULL);
}

Test(rule_file, bad_action_lists_valid_actions)
{
	expect_error("bad_action.yaml", 4, 13, "rule wrong-action:", "unknown action 'delete'",
		     "flag, mask, block", NULL);
}

Test(rule_file, id_with_bad_character_names_the_character)
{
	expect_error("bad_id_chars.yaml", 2, 9, "rule phone/cn:", "id contains '/'",
		     "letters, digits", NULL);
}

Test(rule_file, id_longer_than_64_bytes_is_refused)
{
	expect_error("id_too_long.yaml", 2, 9, "id is 65 bytes long", "at most 64", NULL);
}

Test(rule_file, duplicate_id_names_both_lines)
{
	expect_error("duplicate_id.yaml", 12, 5, "rule same:", "duplicate id",
		     "first defined at line 2", NULL);
}

Test(rule_file, duplicate_key_in_a_rule_names_first_line)
{
	expect_error("duplicate_key.yaml", 5, 5, "rule twice:", "'pattern' is given twice",
		     "line 3", NULL);
}

Test(rule_file, empty_pattern_is_refused_at_the_value)
{
	expect_error("empty_pattern.yaml", 3, 14, "rule empty-pattern:", "pattern is empty", NULL);
}

Test(rule_file, pattern_that_is_a_list_is_refused)
{
	expect_error("pattern_not_string.yaml", 3, 14, "rule list-pattern:", "'pattern' is a list",
		     "must be a string", NULL);
}

Test(rule_file, caseless_must_be_a_boolean)
{
	expect_error("caseless_not_bool.yaml", 6, 15,
		     "rule caseless-word:", "caseless must be true or false", "'sometimes'", NULL);
}

Test(rule_file, rule_that_is_not_a_mapping_is_refused)
{
	expect_error("rule_not_mapping.yaml", 2, 5, "rule #1:", "not a mapping", NULL);
}

Test(rule_file, yaml_syntax_error_gives_libyaml_problem_and_mark)
{
	expect_error("syntax_error.yaml", 3, 17, "YAML syntax error",
		     "mapping values are not allowed", NULL);
}

Test(rule_file, invalid_utf8_is_a_syntax_error_at_the_bad_byte)
{
	expect_error("bad_utf8.yaml", 3, 16, "YAML syntax error", "UTF-8", "0xff", NULL);
}

Test(rule_file, second_yaml_document_is_refused)
{
	expect_error("two_documents.yaml", 6, 1, "second YAML document", NULL);
}

Test(rule_file, tiny_error_buffer_is_truncated_not_overrun)
{
	struct sluice_rule_list list;
	char err[8];
	char *path = fixture("bad_action.yaml");

	memset(err, 'x', sizeof(err));
	cr_assert_eq(sluice_rule_file_load(path, &list, err, sizeof(err)), -1);
	cr_assert_eq(strlen(err), sizeof(err) - 1);
	cr_assert_eq(sluice_rule_file_load(path, &list, NULL, 0), -1);
	free(path);
}
