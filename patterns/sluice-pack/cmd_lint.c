/* sluice-pack lint: every problem in a rule file, not just the first.
 *
 * compile and test list every error of a rule file that fails (with lint's
 * checks) but not its warnings; an analyst fixing a file wants the whole list
 * at once, in the FILE:LINE:COL form editors and
 * CI annotations understand. The checks are the library's (lint.h); this
 * command only chooses what to run, prints, counts and sets the exit status:
 * errors fail (1), warnings are printed and pass unless --strict.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lint.h"
#include "cli.h"

static const char *cmd = "sluice-pack lint";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s lint RULES.yaml... [--corpus FILE] [--strict] [--json]\n"
		"\n"
		"Checks rule files and prints every error and warning, one per line:\n"
		"  FILE:LINE:COL: error|warning: rule ID: message\n"
		"then a summary. Errors stop a pack from compiling or loading; warnings\n"
		"point at rules that compile but probably do not do what was meant.\n"
		"With --corpus (one message per line), rules are also scanned against real\n"
		"messages, and a rule matching too large a share of them is reported as too\n"
		"broad.\n"
		"\n"
		"  -c, --corpus FILE         sample messages, one per line\n"
		"      --broad-share F       share of corpus messages (0..1) above which a\n"
		"                            rule is too broad (default: the library's)\n"
		"      --now TIME            judge expiry at TIME (Unix seconds or\n"
		"                            YYYY-MM-DD) instead of now\n"
		"      --strict              warnings fail too (exit 1)\n"
		"      --json                one JSON document instead of text\n"
		"  -h, --help                this help\n"
		"\n"
		"Exit status: 0 no errors (warnings may have been printed), 1 at least one\n"
		"error (or, with --strict, a warning), 2 usage error or unreadable file.\n",
		sp_prog);
}

static int parse_time(const char *s, int64_t *out)
{
	struct tm tm = {0};
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*s && *end == '\0' && errno == 0 && v >= 0) {
		*out = v;
		return 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (!end || *end != '\0')
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void json_diag(struct sluice_json_writer *j, const struct sluice_diag *d)
{
	sluice_jw_object(j, NULL);
	sluice_jw_string(j, "file", d->file);
	sluice_jw_uint(j, "line", d->line);
	sluice_jw_uint(j, "column", d->column);
	sluice_jw_string(j, "level", d->level == SLUICE_DIAG_ERROR ? "error" : "warning");
	sluice_jw_string(j, "rule", d->rule_id);
	sluice_jw_string(j, "code", d->code);
	sluice_jw_string(j, "message", d->message);
	sluice_jw_end(j);
}

static int parse_broad_share(const char *cmd_name, const char *arg, void *share)
{
	char *end;
	double v = strtod(arg, &end);

	if (*arg == '\0' || *end != '\0' || !(v > 0) || v > 1)
		return sp_usage_error(cmd_name, "--broad-share: '%s' is not a share in (0, 1]",
				      arg);
	*(double *)share = v;
	return 0;
}

static int parse_now(const char *cmd_name, const char *arg, void *now)
{
	if (parse_time(arg, now) != 0)
		return sp_usage_error(cmd_name,
				      "--now: '%s' is neither Unix seconds nor YYYY-MM-DD", arg);
	return 0;
}

int sp_cmd_lint(int argc, char **argv)
{
	struct sluice_lint_options lo = {.now = (int64_t)time(NULL)};
	bool json, strict = false;
	const struct sp_option opts[] = {
	    {.name = "corpus", .short_name = 'c', .value = &lo.corpus_path},
	    {.name = "broad-share", .parse = parse_broad_share, .target = &lo.broad_share},
	    {.name = "now", .parse = parse_now, .target = &lo.now},
	    {.name = "strict", .flag = &strict},
	    {0},
	};
	struct sp_args args = {.cmd = cmd, .usage = usage};
	unsigned long errors = 0, warnings = 0;
	char err[SP_ERR_LEN], line[4096];
	struct sluice_json_writer j;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count < 1)
		return sp_usage_error(cmd, "need at least one rule file");
	status = SP_EXIT_OK;
	json = args.json;
	char **files = args.operands;
	int nfiles = args.count;
	if (json) {
		sp_json_begin(&j, stdout, "lint");
		sluice_jw_array(&j, "diagnostics");
	}
	/* Unreadable inputs are the caller's mistake (2), not the rules' (1):
	 * find them before linting anything. */
	if (lo.corpus_path && strcmp(lo.corpus_path, "-") != 0 &&
	    sp_check_readable(lo.corpus_path, err, sizeof(err)) != 0)
		status = SP_EXIT_USAGE;
	for (int i = 0; i < nfiles && status == SP_EXIT_OK; i++) {
		if (sp_check_readable(files[i], err, sizeof(err)) != 0)
			status = SP_EXIT_USAGE;
	}
	if (status != SP_EXIT_OK) {
		fprintf(stderr, "%s\n", err);
		return json ? sp_json_finish(&j, status, err) : status;
	}

	for (int i = 0; i < nfiles; i++) {
		struct sluice_diag_list list = {0};

		sluice_lint_file(files[i], &lo, &list);
		for (size_t k = 0; k < list.count; k++) {
			const struct sluice_diag *d = &list.items[k];
			if (d->level == SLUICE_DIAG_ERROR)
				errors++;
			else
				warnings++;
			if (json) {
				json_diag(&j, d);
			} else {
				sluice_diag_format(d, line, sizeof(line));
				printf("%s\n", line);
			}
		}
		sluice_diag_list_free(&list);
	}
	if (errors || (strict && warnings))
		status = SP_EXIT_FAIL;
	if (json) {
		sluice_jw_end(&j);
		sluice_jw_array(&j, "files");
		for (int i = 0; i < nfiles; i++)
			sluice_jw_string(&j, NULL, files[i]);
		sluice_jw_end(&j);
		sluice_jw_uint(&j, "errors", errors);
		sluice_jw_uint(&j, "warnings", warnings);
		return sp_json_finish(&j, status, NULL);
	}
	if (nfiles == 1)
		printf("%s: ", files[0]);
	else
		printf("%d files: ", nfiles);
	printf("%lu error%s, %lu warning%s\n", errors, errors == 1 ? "" : "s", warnings,
	       warnings == 1 ? "" : "s");
	return status;
}
