/* sluice-pack examples: the `matches:` examples of a rule file, one per line.
 *
 * Contract: reads RULES.yaml (and everything it includes) with the rule-file
 * loader and prints, in file order, the text of every `matches:` example of
 * every rule, one per line and nothing else, so the output can be fed to
 * `sluice-gen --violations-from` and a generated corpus carries violations of
 * exactly the pack under test. With --acting only the rules that give a verdict
 * of their own are used (flag, mask or block, and not quiet): an allow rule's
 * examples turn a verdict off, and a quiet rule's act only through a
 * combination. An example that cannot be one line (it holds a line break) is
 * left out and counted on stderr. Exit status as every command (0 ok, 1 the
 * rules do not load, 2 usage or unreadable file); --json gives
 * {"examples":[{"rule","text"}],"printed","left_out"} instead.
 *
 * Examples live only in rule files: a compiled pack does not keep them, so a
 * pack file is refused with a pointer to its rule file.
 */
#include <string.h>

#include "rule_file.h"
#include "cli.h"

static const char *cmd = "sluice-pack examples";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s examples RULES.yaml [--acting] [--json]\n"
		"\n"
		"Prints the text of every rule's `matches:` examples, one per line, in\n"
		"file order (included files too): sample violations of the rules, for\n"
		"example for 'sluice-gen --violations-from'. Examples holding a line\n"
		"break are left out (counted on stderr).\n"
		"\n"
		"      --acting              only rules that give a verdict themselves:\n"
		"                            flag, mask or block, and not quiet\n"
		"      --json                one JSON document instead of text\n"
		"  -h, --help                this help\n"
		"\n"
		"Exit status: 0 ok, 1 the rule file does not load, 2 usage error or\n"
		"unreadable file.\n",
		sp_prog);
}

static bool rule_acts(const struct sluice_rule *r)
{
	return !r->allow && !r->quiet && r->action != SLUICE_ACTION_NONE;
}

static bool one_line(const char *text)
{
	return strpbrk(text, "\n\r") == NULL;
}

int sp_cmd_examples(int argc, char **argv)
{
	bool json, acting = false;
	const struct sp_option opts[] = {
	    {.name = "acting", .flag = &acting},
	    {0},
	};
	struct sp_args args = {.cmd = cmd, .usage = usage};
	struct sluice_rule_list list = {0};
	unsigned long printed = 0, left_out = 0;
	char err[SP_ERR_LEN];
	struct sluice_json_writer j;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1)
		return sp_usage_error(cmd, "need exactly one rule file");
	status = SP_EXIT_OK;
	json = args.json;
	const char *path = args.operands[0];
	if (json)
		sp_json_begin(&j, stdout, "examples");
	if (sp_check_readable(path, err, sizeof(err)) != 0) {
		status = SP_EXIT_USAGE;
		goto out;
	}
	if (sp_is_pack_file(path)) {
		snprintf(err, sizeof(err),
			 "%s: a compiled pack keeps no examples; give the rule file it was "
			 "compiled from",
			 path);
		status = SP_EXIT_USAGE;
		goto out;
	}
	if (sluice_rule_file_load(path, &list, err, sizeof(err)) != 0) {
		status = SP_EXIT_FAIL;
		goto out;
	}
	if (json)
		sluice_jw_array(&j, "examples");
	for (size_t i = 0; i < list.count; i++) {
		const struct sluice_rule *r = &list.rules[i];
		if (acting && !rule_acts(r))
			continue;
		for (size_t e = 0; e < r->example_count; e++) {
			const struct sluice_example *ex = &r->examples[e];
			if (!ex->should_match)
				continue;
			if (!one_line(ex->text)) {
				left_out++;
				continue;
			}
			if (json) {
				sluice_jw_object(&j, NULL);
				sluice_jw_string(&j, "rule", r->id);
				sluice_jw_string(&j, "text", ex->text);
				sluice_jw_end(&j);
			} else {
				printf("%s\n", ex->text);
			}
			printed++;
		}
	}
	if (json) {
		sluice_jw_end(&j);
		sluice_jw_uint(&j, "printed", printed);
		sluice_jw_uint(&j, "left_out", left_out);
	}
	if (left_out)
		fprintf(stderr, "%s: %lu example(s) holding a line break left out\n", path,
			left_out);
out:
	sluice_rule_list_free(&list);
	if (status != SP_EXIT_OK)
		fprintf(stderr, "%s\n", err);
	if (json)
		return sp_json_finish(&j, status, status == SP_EXIT_OK ? NULL : err);
	return status;
}
