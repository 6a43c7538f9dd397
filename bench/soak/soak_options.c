#include "soak_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "ring_harness.h"

/* meson passes the source tree's rule file; --rules overrides it. */
#ifndef SOAK_DEFAULT_RULES
#define SOAK_DEFAULT_RULES "patterns/rules/default.yaml"
#endif

#define PROG	       "sluice-soak"
#define MAX_DURATION_S (7 * 24 * 3600.0)
#define MAX_RATE       1e7

/* 0 turns the warm-up off; any other value must be above 0 as usual. */
static bool parse_rss_warmup(const struct cli_option *opt, const char *value, void *target,
			     char *err, size_t err_len)
{
	(void)err, (void)err_len;
	double *warmup = cli_field(opt, target);
	if (strcmp(value, "0") == 0) {
		*warmup = 0;
		return true;
	}
	return cli_read_double(value, opt->low, opt->high, opt->low_included, warmup);
}

/* In the order --help lists them. */
static const struct cli_option options[] = {
    {.name = "duration",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct soak_options, duration_s),
     .high = MAX_DURATION_S,
     .value_name = "S",
     .help = "seconds of traffic (default 600)"},
    {.name = "rate",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct soak_options, rate_msgs),
     .high = MAX_RATE,
     .value_name = "R",
     .help = "messages per second injected (default 200000)"},
    {.name = "workers",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct soak_options, workers),
     .min = 1,
     .max = RING_HARNESS_MAX_QUEUES,
     .value_name = "N",
     .help = "worker lcores (default 1; EAL -l 0-N)"},
    {.name = "rules",
     .kind = CLI_INPUT_FILE,
     CLI_FIELD(struct soak_options, rules),
     .value_name = "FILE",
     .help = "rule file compiled into two packs that differ only\n"
	     "in version (default " SOAK_DEFAULT_RULES ")"},
    {.name = "pack-a",
     .kind = CLI_INPUT_FILE,
     CLI_FIELD(struct soak_options, pack_a),
     .value_name = "FILE",
     .help = "the pack loaded at start (instead of compiling)"},
    {.name = "pack-b",
     .kind = CLI_INPUT_FILE,
     CLI_FIELD(struct soak_options, pack_b),
     .value_name = "FILE",
     .help = "the pack alternated with (give both or neither)"},
    {.name = "reload-every-ms",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct soak_options, reload_every_ms),
     .min = 1,
     .max = 3600000,
     .value_name = "N",
     .help = "reload period (default 100)"},
    {.name = "abuse-idle",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct soak_options, abuse_idle),
     .max = 100000,
     .value_name = "N",
     .help = "idle connections held at most (default 1000)"},
    {.name = "abuse-connects",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct soak_options, abuse_connects_per_s),
     .min = 1,
     .max = 100000,
     .value_name = "N",
     .help = "idle connections opened per second, at most\n"
	     "(default 500)"},
    {.name = "abuse-stallers",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct soak_options, abuse_stallers),
     .max = 1000,
     .value_name = "N",
     .help = "half-written requests in flight (default 16)"},
    {.name = "abuse-rude",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct soak_options, abuse_rude_per_s),
     .max = 10000,
     .value_name = "N",
     .help = "other misuses per second: huge lines, NUL bytes,\n"
	     "readers that vanish, connect-and-close, unknown\n"
	     "commands (default 50)"},
    {.name = "operator-every",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct soak_options, operator_every_s),
     .high = 3600,
     .value_name = "S",
     .help = "the operator's `status` period (default 1)"},
    {.name = "rss-every",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct soak_options, rss_every_s),
     .high = 3600,
     .value_name = "S",
     .help = "RSS sample period (default 10)"},
    {.name = "rss-warmup",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct soak_options, rss_warmup_s),
     .high = MAX_DURATION_S,
     .parse = parse_rss_warmup,
     .value_name = "S",
     .help = "samples before this are not judged (default 30)"},
    RING_HARNESS_MEMORY_OPTION(struct soak_options, memory_mb, "1024"),
};

static const struct cli_program program = {
    .usage_head = "usage: " PROG " [options]\n"
		  "\n"
		  "Runs the sluice daemon in this process on two net_ring ports for a long\n"
		  "time: paced traffic whose every message has a known outcome, the main pack\n"
		  "reloaded every --reload-every-ms, the control socket misused by several\n"
		  "threads while an operator asks `status` once a second. Checks that every\n"
		  "message came out as it must (or not at all, when it must not), that the\n"
		  "daemon's counters add up, that every reload succeeded, that no misuse held\n"
		  "the control socket, and that RSS stayed flat.\n"
		  "Prints one JSON object on stdout, a summary on stderr.\n"
		  "\n"
		  "options:\n",
    .usage_tail = "\n"
		  "The packs must act on the soak's message table as the default pack does;\n"
		  "the soak checks that before it starts.\n"
		  "\n"
		  "exit status: 0 every check held; 1 a check failed or the run could not be\n"
		  "carried through; 2 usage error or unusable input\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 28,
    .align_long_names = true,
};

int soak_options_parse(int argc, char **argv, struct soak_options *o, char *err, size_t err_len)
{
	memset(o, 0, sizeof(*o));
	o->duration_s = 600;
	o->rate_msgs = 200000;
	o->workers = 1;
	o->reload_every_ms = 100;
	o->abuse_idle = 1000;
	o->abuse_connects_per_s = 500;
	o->abuse_stallers = 16;
	o->abuse_rude_per_s = 50;
	o->operator_every_s = 1;
	o->rss_every_s = 10;
	o->rss_warmup_s = 30;
	o->memory_mb = 1024;
	enum cli_result result = cli_parse(&program, argc, argv, o, NULL, err, err_len);
	o->help = result == CLI_HELP;
	if (result != CLI_RUN)
		return o->help ? 0 : -1;
	if ((o->pack_a == NULL) != (o->pack_b == NULL)) {
		snprintf(err, err_len, "--pack-a and --pack-b go together");
		return -1;
	}
	if (o->pack_a == NULL && o->rules == NULL &&
	    cli_input_file("rules", SOAK_DEFAULT_RULES, &o->rules, err, err_len) != 0)
		return -1;
	return 0;
}

void soak_options_free(struct soak_options *o)
{
	free(o->rules);
	free(o->pack_a);
	free(o->pack_b);
	o->rules = o->pack_a = o->pack_b = NULL;
}
