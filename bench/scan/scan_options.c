#include "scan_options.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "batch_scan.h"
#include "cli_options.h"
#include "stage_timing.h"

const char *const scan_stage_names[SCAN_STAGE_COUNT] = {"ceiling", "message", "batch", "pcre2"};

/* The defaults are spelt as the help prints them: the help text is built
 * from their spelling (the _TEXT names below). */
#define DEFAULT_ROUNDS		  5
#define DEFAULT_MIN_SECONDS	  0.5
#define QUICK_ROUNDS		  3
#define QUICK_MIN_SECONDS	  0.1
#define DEFAULT_BATCH		  64
#define DEFAULT_BATCH_BYTES	  65536
#define DEFAULT_MAX_STAGE_SECONDS 120
#define MAX_MIN_SECONDS		  60.0
#define MAX_BATCH		  (1u << 20)
#define MAX_BATCH_BYTES		  (1u << 30)
#define MAX_MAX_STAGE_SECONDS	  3600.0

#define STR_(x)			       #x
#define STR(x)			       STR_(x)
#define DEFAULT_ROUNDS_TEXT	       STR(DEFAULT_ROUNDS)
#define MAX_ROUNDS_TEXT		       STR(STAGE_MAX_ROUNDS)
#define DEFAULT_MIN_SECONDS_TEXT       STR(DEFAULT_MIN_SECONDS)
#define QUICK_ROUNDS_TEXT	       STR(QUICK_ROUNDS)
#define QUICK_MIN_SECONDS_TEXT	       STR(QUICK_MIN_SECONDS)
#define DEFAULT_BATCH_TEXT	       STR(DEFAULT_BATCH)
#define DEFAULT_BATCH_BYTES_TEXT       STR(DEFAULT_BATCH_BYTES)
#define DEFAULT_MAX_STAGE_SECONDS_TEXT STR(DEFAULT_MAX_STAGE_SECONDS)

_Static_assert(DEFAULT_BATCH_BYTES == SLUICE_BATCH_BYTES,
	       "the help's default --batch-bytes is the batch scanner's");

static bool parse_stages(const struct cli_option *opt, const char *list, void *target, char *err,
			 size_t err_len)
{
	bool *stage = cli_field(opt, target);
	memset(stage, 0, SCAN_STAGE_COUNT * sizeof(*stage));
	const char *p = list;
	bool any = false;
	while (*p) {
		size_t n = strcspn(p, ",");
		int found = -1;
		for (int s = 0; s < SCAN_STAGE_COUNT; s++)
			if (strlen(scan_stage_names[s]) == n &&
			    strncmp(p, scan_stage_names[s], n) == 0)
				found = s;
		if (found < 0) {
			snprintf(err, err_len,
				 "--stages: unknown stage '%.*s' (known: ceiling, message, batch, "
				 "pcre2)",
				 (int)n, p);
			return false;
		}
		stage[found] = any = true;
		p += n;
		if (*p == ',')
			p++;
	}
	if (!any)
		snprintf(err, err_len, "--stages: no stage named");
	return any;
}

enum {
	OPT_PACK,
	OPT_CORPUS,
	OPT_STAGES,
	OPT_ROUNDS,
	OPT_MIN_SECONDS,
	OPT_MAX_STAGE_SECONDS,
	OPT_QUICK,
	OPT_BATCH,
	OPT_BATCH_BYTES,
	OPT_CPU,
	OPT_STATS_ONLY,
	OPT_COUNT
};

/* In the order --help lists them. */
static const struct cli_option options[OPT_COUNT] = {
    [OPT_PACK] = {.name = "pack",
		  .short_name = 'p',
		  .kind = CLI_STRING,
		  CLI_FIELD(struct scan_options, pack_path),
		  .value_name = "FILE",
		  .help = "a YAML rule file (compiled here) or a compiled .pack",
		  .required = true},
    [OPT_CORPUS] = {.name = "corpus",
		    .short_name = 'c',
		    .kind = CLI_STRING,
		    CLI_FIELD(struct scan_options, corpus_path),
		    .value_name = "FILE",
		    .help = "messages, 'msg_id<TAB>text' per line\n"
			    "(sluice-gen --text-out)"},
    [OPT_STAGES] = {.name = "stages",
		    .kind = CLI_STRING,
		    CLI_FIELD(struct scan_options, stage),
		    .parse = parse_stages,
		    .value_name = "LIST",
		    .help = "comma-separated subset of ceiling,message,batch,pcre2\n"
			    "(default: all; pcre2 needs a YAML rule file)"},
    [OPT_ROUNDS] = {.name = "rounds",
		    .short_name = 'r',
		    .kind = CLI_UNSIGNED,
		    CLI_FIELD(struct scan_options, rounds),
		    .min = 1,
		    .max = STAGE_MAX_ROUNDS,
		    .value_name = "N",
		    .help = "timed rounds per stage, median reported (default " DEFAULT_ROUNDS_TEXT
			    ",\n"
			    "at most " MAX_ROUNDS_TEXT ")"},
    [OPT_MIN_SECONDS] = {.name = "min-seconds",
			 .kind = CLI_DOUBLE,
			 CLI_FIELD(struct scan_options, min_seconds),
			 .high = MAX_MIN_SECONDS,
			 .low_included = true,
			 .value_name = "S",
			 .help = "minimum length of a round (default " DEFAULT_MIN_SECONDS_TEXT
				 "); a round is\n"
				 "whole passes over the corpus, at least one"},
    [OPT_MAX_STAGE_SECONDS] = {.name = "max-stage-seconds",
			       .kind = CLI_DOUBLE,
			       CLI_FIELD(struct scan_options, max_stage_seconds),
			       .high = MAX_MAX_STAGE_SECONDS,
			       .low_included = true,
			       .value_name = "S",
			       .help = "stop a stage's rounds once it has run S seconds\n"
				       "(default " DEFAULT_MAX_STAGE_SECONDS_TEXT
				       "; at least one timed round runs)"},
    [OPT_QUICK] = {.name = "quick",
		   .kind = CLI_FLAG,
		   CLI_FIELD(struct scan_options, quick),
		   .help = "--rounds " QUICK_ROUNDS_TEXT " --min-seconds " QUICK_MIN_SECONDS_TEXT},
    [OPT_BATCH] = {.name = "batch",
		   .short_name = 'b',
		   .kind = CLI_UNSIGNED,
		   CLI_FIELD(struct scan_options, batch_messages),
		   .min = 1,
		   .max = MAX_BATCH,
		   .value_name = "N",
		   .help = "messages per batch scan (default " DEFAULT_BATCH_TEXT ")"},
    [OPT_BATCH_BYTES] = {.name = "batch-bytes",
			 .kind = CLI_UNSIGNED,
			 CLI_FIELD(struct scan_options, batch_bytes),
			 .min = 2,
			 .max = MAX_BATCH_BYTES,
			 .value_name = "N",
			 .help = "batch buffer size (default " DEFAULT_BATCH_BYTES_TEXT ")"},
    [OPT_CPU] = {.name = "cpu",
		 .kind = CLI_UNSIGNED,
		 CLI_FIELD(struct scan_options, cpu),
		 .max = 4095,
		 .want = "a CPU number",
		 .value_name = "N",
		 .help = "pin to CPU N first"},
    [OPT_STATS_ONLY] = {.name = "stats-only",
			.kind = CLI_FLAG,
			CLI_FIELD(struct scan_options, stats_only),
			.help = "pack (and corpus, if given) statistics only"},
};

static const struct cli_program program = {
    .usage_head = "usage: sluice-scan-bench --pack PACK --corpus TEXTS [options]\n"
		  "\n"
		  "Measures the scan path on one core, on the same messages and pack:\n"
		  "ceiling (hs_scan per database, counting callback), message\n"
		  "(sluice_scan_message), batch (sluice_batch_scan) and pcre2 (PCRE2 JIT, each\n"
		  "rule in turn). Prints one JSON object on stdout, progress on stderr.\n"
		  "\n",
    .usage_tail = "\n"
		  "Exit status: 0 measured, 1 a measurement failed (the JSON says which),\n"
		  "2 bad usage or unreadable inputs.\n",
    .options = options,
    .option_count = OPT_COUNT,
    .help_column = 25,
    .align_long_names = true,
    .wording =
	{
	    .unknown_option = "unknown option '%s' (see --help)",
	    .missing_value = "%s needs a value",
	    .unexpected_argument = "unexpected argument '%s' (see --help)",
	    .bad_value = "--%s: '%s' is not %s",
	    .unsigned_range = "a whole number in %" PRIu64 "..%" PRIu64,
	    .double_range = "a number of seconds in %g..%g",
	},
};

enum scan_options_result scan_options_parse(int argc, char **argv, struct scan_options *o,
					    char *err, size_t err_len)
{
	memset(o, 0, sizeof(*o));
	for (int s = 0; s < SCAN_STAGE_COUNT; s++)
		o->stage[s] = true;
	o->batch_messages = DEFAULT_BATCH;
	o->batch_bytes = SLUICE_BATCH_BYTES;
	o->cpu = -1;
	o->max_stage_seconds = DEFAULT_MAX_STAGE_SECONDS;

	struct cli_parsed parsed;
	switch (cli_parse(&program, argc, argv, o, &parsed, err, err_len)) {
	case CLI_RUN:
		break;
	case CLI_HELP:
		return SCAN_OPTIONS_HELP;
	case CLI_BAD_VALUE:
	case CLI_BAD_OPTION:
		return SCAN_OPTIONS_BAD;
	}
	/* Explicit --rounds / --min-seconds win over --quick, in any order. */
	if (!parsed.seen[OPT_ROUNDS])
		o->rounds = o->quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	if (!parsed.seen[OPT_MIN_SECONDS])
		o->min_seconds = o->quick ? QUICK_MIN_SECONDS : DEFAULT_MIN_SECONDS;
	if (o->corpus_path == NULL && !o->stats_only) {
		snprintf(err, err_len, "--corpus is required unless --stats-only (see --help)");
		return SCAN_OPTIONS_BAD;
	}
	return SCAN_OPTIONS_RUN;
}
