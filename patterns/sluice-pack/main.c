/* sluice-pack: the analysts' tool for rule files and packs.
 *
 * Trust-and-safety analysts run it by hand many times a day and CI jobs run
 * it on every rule change, so every command keeps the same contract (see
 * cli.h): exit 0 ok, 1 the rules or pack are at fault, 2 usage or
 * I/O; errors name their file; --json gives one JSON document on stdout.
 * This file only dispatches; each command lives in cmd_*.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

struct command {
	const char *name;
	const char *full; /* getopt's argv[0], so its complaints name the command */
	int (*run)(int argc, char **argv);
	const char *args;
	const char *what;
};

static const struct command commands[] = {
    {"lint", "sluice-pack lint", sp_cmd_lint, "RULES.yaml... [--corpus FILE]",
     "every error and warning in rules"},
    {"compile", "sluice-pack compile", sp_cmd_compile, "RULES.yaml -o OUT.pack",
     "compile a rule file into a pack"},
    {"test", "sluice-pack test", sp_cmd_test, "PACK TEXT...|--file F|--pcap F",
     "which rules match, the verdict"},
    {"diff", "sluice-pack diff", sp_cmd_diff, "OLD NEW [--corpus FILE]",
     "rule and verdict changes"},
    {"info", "sluice-pack info", sp_cmd_info, "PACK [-r]", "summarise a pack"},
    {"sign", "sluice-pack sign", sp_cmd_sign, "PACK --key PRIVATE.pem [-o OUT]",
     "sign or co-sign a pack"},
    {"verify", "sluice-pack verify", sp_cmd_verify, "PACK --pubkey PUBLIC.pem...",
     "check a pack's signatures against a policy"},
    {"keygen", "sluice-pack keygen", sp_cmd_keygen, "NAME", "new key pair NAME.key, NAME.pub"},
    {"examples", "sluice-pack examples", sp_cmd_examples, "RULES.yaml [--acting]",
     "the rules' matches: examples, one per line"},
    {"publish", "sluice-pack publish", sp_cmd_publish, "PACK --to nats://HOST:PORT",
     "roll a signed pack out to the fleet, canary first"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage_main(FILE *f)
{
	fprintf(f, "usage: %s COMMAND [ARGS] [--json]\n\ncommands:\n", sp_prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %-32s %s\n", commands[i].name, commands[i].args,
			commands[i].what);
	fprintf(f,
		"\n"
		"PACK is a compiled pack or a rule file (compiled in memory). Every command\n"
		"takes --json (one JSON document on stdout, with \"ok\" and \"exit\") and\n"
		"--help; '%s help COMMAND' is the same as '%s COMMAND --help'.\n"
		"\n"
		"Exit status:\n"
		"  0  ok: the command did what was asked (lint: no errors, warnings allowed)\n"
		"  1  the rules or pack are at fault: lint or compile errors, an invalid or\n"
		"     corrupt pack, a failed signature check, an unmet test --expect\n"
		"  2  usage error, or a file that cannot be read or written\n",
		sp_prog, sp_prog);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage_main(stderr);
		return SP_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage_main(stdout);
		return SP_EXIT_OK;
	}
	if (strcmp(argv[1], "help") == 0) {
		if (argc == 2) {
			usage_main(stdout);
			return SP_EXIT_OK;
		}
		c = find_command(argv[2]);
		if (!c) {
			fprintf(stderr, "%s: unknown command '%s'\n", sp_prog, argv[2]);
			return SP_EXIT_USAGE;
		}
		char *help_argv[] = {(char *)c->full, (char *)"--help", NULL};
		return c->run(2, help_argv);
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sluice-pack (pack format %d), Hyperscan %s\n", SLUICE_PACK_FORMAT_VERSION,
		       hs_version());
		return SP_EXIT_OK;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", sp_prog, argv[1],
			sp_prog);
		return SP_EXIT_USAGE;
	}
	/* getopt sees "COMMAND ARGS..." with the command in argv[0]'s place. */
	argv[1] = (char *)c->full;
	return c->run(argc - 1, argv + 1);
}
