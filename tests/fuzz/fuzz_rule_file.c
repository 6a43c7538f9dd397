/* libFuzzer harness: the rule-file loader, the compiler and lint.
 *
 * Feeds: the whole input as a rule file, written to one path in a private
 * temporary directory (the same path every run). That directory also holds
 * copies of the test data's `lists/` and `include/` files and the default
 * packs' lists, so that `list:` and `include:` lines taken from the seeds
 * resolve and the fuzzer reaches what lies behind them.
 *
 * Oracle (each violation calls abort(), which libFuzzer reports as a crash;
 * ASan's leak check runs after every input):
 * - sluice_rule_file_load_diags() returns the number of errors it appended;
 *   sluice_lint_file() the number of errors in its list;
 * - every diagnostic names a file, a line >= 1 and a column >= 1, and has a
 *   code and a message, none of them empty;
 * - the plain loader (sluice_rule_file_load()) fails exactly when the
 *   keep-going loader reports an error, and then says why;
 * - lint reports an error exactly when compiling the file
 *   (the loader, then sluice_pack_compile(): what sluice-pack compile and
 *   the daemon do with a rule file) fails: lint's errors are what stops a pack from compiling.
 *
 * Hyperscan compiles what the input's patterns say, and lint and the
 * compiler each compile them (under ASan, seconds for a few dozen regexes).
 * Its compile time grows with counted repeats, so an input with a repeat
 * count of three digits or more ('{100', '{1000,}': lint's slow-repeat) is
 * skipped: it would measure Hyperscan, not this code, and exceed
 * run-fuzz.sh's -timeout=10. Other slow patterns can still time out; the
 * seeds are the rule files that take well under that (tests/fuzz/README.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "lint.h"
#include "pack.h"
#include "pack_compile.h"
#include "rule_file.h"

#ifndef SLUICE_FUZZ_DIR
#define SLUICE_FUZZ_DIR "tests/fuzz"
#endif

#define DIR_MAX 1024

static char dir[DIR_MAX];
static char rules_path[DIR_MAX + 16];

static void remove_dir(void)
{
	char cmd[DIR_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_rule_file: could not remove %s\n", dir);
}

/* Under $TMPDIR when it is set: run-fuzz.sh points it into the run's own
 * directory, which it removes, so a harness that stops at a crash (and runs
 * no exit handler) leaves nothing behind. */
static int make_dir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0' || strchr(tmp, '\'') != NULL ||
	    strlen(tmp) > DIR_MAX - 64)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/sluice-fuzz-%s-XXXXXX", tmp, tag);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Copies the data the seeds refer to by relative path. */
static void copy_data(const char *root)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p '%s/lists' && cp -R '%s/tests/data/rules/lists/.' '%s/lists/' && "
		 "cp -R '%s/tests/data/rules/include' '%s/include' && "
		 "cp '%s/patterns/packs/lists/'*.txt '%s/lists/' && "
		 "cp '%s/tests/data/cli/v2-titles.txt' '%s/'",
		 dir, root, dir, root, dir, root, dir, root, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_rule_file: could not copy the lists (seeds lose reach)\n");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (make_dir("rules") != 0) {
		perror("fuzz_rule_file: mkdtemp");
		exit(1);
	}
	atexit(remove_dir);
	snprintf(rules_path, sizeof(rules_path), "%s/input.yaml", dir);
	const char *root = getenv("SLUICE_SOURCE_ROOT");
	if (root == NULL) {
		static char guess[4096];
		snprintf(guess, sizeof(guess), "%s/../..", SLUICE_FUZZ_DIR);
		root = guess;
	}
	copy_data(root);
	return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
	FILE *f = fopen(rules_path, "wb");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		fprintf(stderr, "fuzz_rule_file: %s: %s\n", rules_path, strerror(errno));
		abort();
	}
}

static bool filled(const char *s)
{
	return s != NULL && s[0] != '\0';
}

static void check_diags(const struct sluice_diag_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct sluice_diag *d = &list->items[i];
		if (!filled(d->file) || d->line < 1 || d->column < 1 || !filled(d->code) ||
		    !filled(d->message))
			abort();
		if (d->level != SLUICE_DIAG_ERROR && d->level != SLUICE_DIAG_WARNING)
			abort();
		char line[1024];
		sluice_diag_format(d, line, sizeof(line));
	}
}

static bool large_repeat(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 3 < size; i++) {
		if (data[i] == '{' && data[i + 1] >= '0' && data[i + 1] <= '9' &&
		    data[i + 2] >= '0' && data[i + 2] <= '9' && data[i + 3] >= '0' &&
		    data[i + 3] <= '9')
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (large_repeat(data, size))
		return -1;
	write_input(data, size);

	struct sluice_diag_list diags = {0};
	struct sluice_rule_list rules;
	size_t errors = sluice_rule_file_load_diags(rules_path, &rules, &diags);
	if (errors != sluice_diag_errors(&diags))
		abort();
	check_diags(&diags);
	sluice_rule_list_free(&rules);
	sluice_diag_list_free(&diags);

	char err[2048] = "";
	int rc = sluice_rule_file_load(rules_path, &rules, err, sizeof(err));
	if ((rc != 0) != (errors != 0))
		abort();
	if (rc != 0 && err[0] == '\0')
		abort();
	if (rc == 0)
		sluice_rule_list_free(&rules);

	struct sluice_lint_options opt = {.now = 1767225600}; /* 2026-01-01: a fixed "today" */
	struct sluice_diag_list lint = {0};
	size_t lint_errors = sluice_lint_file(rules_path, &opt, &lint);
	if (lint_errors != sluice_diag_errors(&lint))
		abort();
	check_diags(&lint);
	if (errors != 0 && lint_errors == 0)
		abort(); /* lint runs the same loader */
	sluice_diag_list_free(&lint);

	/* What sluice_pack_load() does with a rule file, without its sniffing
	 * for the pack magic (an input may start with it). */
	struct sluice_pack *pack = NULL;
	err[0] = '\0';
	rc = sluice_rule_file_load(rules_path, &rules, err, sizeof(err));
	if (rc == 0) {
		rc = sluice_pack_compile(&rules, &pack, err, sizeof(err));
		sluice_rule_list_free(&rules);
	}
	if ((rc != 0) != (lint_errors != 0)) {
		fprintf(stderr, "fuzz_rule_file: lint found %zu errors, compile says %s\n",
			lint_errors, rc == 0 ? "ok" : err);
		abort();
	}
	sluice_pack_free(pack);
	return 0;
}
