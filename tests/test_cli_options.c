/* Command lines from option tables (dataplane/base/cli_options.h): values
 * land in their fields, refusals say why, required options are required,
 * and cli_parse_main() turns each outcome into what main() exits with.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include <string.h>

#include "cli_options.h"

struct opts {
	const char *pack;
	const char *capture;
	unsigned rounds;
	bool quick;
};

static const struct cli_option table[] = {
    {.name = "pack", .kind = CLI_STRING, CLI_FIELD(struct opts, pack), .required = true},
    {.name = "capture", .kind = CLI_STRING, CLI_FIELD(struct opts, capture)},
    {.name = "rounds", .kind = CLI_UNSIGNED, CLI_FIELD(struct opts, rounds), .min = 1, .max = 9},
    {.name = "quick", .kind = CLI_FLAG, CLI_FIELD(struct opts, quick)},
};

static const struct cli_program program = {
    .name = "sluice-test-bench",
    .usage_head = "usage: sluice-test-bench --pack PACK\n",
    .options = table,
    .option_count = sizeof(table) / sizeof(table[0]),
    .help_column = 20,
};

static enum cli_result parse(char **argv, struct opts *o, char *err)
{
	int argc = 0;
	while (argv[argc] != NULL)
		argc++;
	return cli_parse(&program, argc, argv, o, NULL, err, 256);
}

Test(cli_options, values_land_in_their_fields_and_defaults_stay)
{
	struct opts o = {.rounds = 3};
	char err[256] = "";
	char *argv[] = {"bench", "--pack", "p.pack", "--quick", NULL};
	cr_assert_eq(parse(argv, &o, err), CLI_RUN, "%s", err);
	cr_assert_str_eq(o.pack, "p.pack");
	cr_assert(o.quick);
	cr_assert_eq(o.rounds, 3);
	cr_assert_null(o.capture);
}

Test(cli_options, a_required_option_left_out_is_refused_by_name)
{
	struct opts o = {0};
	char err[256] = "";
	char *argv[] = {"bench", "--capture", "c.pcap", NULL};
	cr_assert_eq(parse(argv, &o, err), CLI_BAD_VALUE);
	cr_assert_str_eq(err, "--pack is required (see --help)");
}

Test(cli_options, a_value_out_of_range_is_refused_with_the_range)
{
	struct opts o = {0};
	char err[256] = "";
	char *argv[] = {"bench", "--pack", "p", "--rounds", "10", NULL};
	cr_assert_eq(parse(argv, &o, err), CLI_BAD_VALUE);
	cr_assert_str_eq(err, "--rounds 10: want an integer from 1 to 9");
}

Test(cli_options, main_gets_run_help_or_a_usage_error, .init = cr_redirect_stderr)
{
	struct opts o = {0};
	char *run[] = {"bench", "--pack", "p", NULL};
	cr_assert_eq(cli_parse_main(&program, 3, run, &o, NULL), CLI_MAIN_RUN);
	char *missing[] = {"bench", NULL};
	cr_assert_eq(cli_parse_main(&program, 1, missing, &o, NULL), 2);
	char *unknown[] = {"bench", "--pack", "p", "--bogus", NULL};
	cr_assert_eq(cli_parse_main(&program, 4, unknown, &o, NULL), 2);
	fflush(stderr);
	cr_assert_stderr_eq_str("sluice-test-bench: --pack is required (see --help)\n"
				"sluice-test-bench: unknown option or missing value: --bogus (see "
				"--help)\n");
}

Test(cli_options, help_is_printed_and_main_exits_0, .init = cr_redirect_stdout)
{
	struct opts o = {0};
	char *help[] = {"bench", "--help", NULL};
	cr_assert_eq(cli_parse_main(&program, 2, help, &o, NULL), 0);
	fflush(stdout);
	cr_assert_stdout_eq_str("usage: sluice-test-bench --pack PACK\n"
				"  -h, --help        this text\n");
}
