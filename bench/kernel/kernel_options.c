#include "kernel_options.h"

#include <inttypes.h>
#include <stdio.h>

#include "cli_options.h"
#include "load_generator.h"

/* Spelt as the help prints them: the help text is built from their spelling
 * (the _TEXT names below). */
#define DEFAULT_SECONDS 5
#define QUICK_SECONDS	1
#define MAX_SECONDS	3600.0
#define DEFAULT_WINDOW	512
#define MAX_WINDOW	65536

#define STR_(x)		     #x
#define STR(x)		     STR_(x)
#define WARMUP_SECONDS_TEXT  STR(WARMUP_SECONDS)
#define DEFAULT_SECONDS_TEXT STR(DEFAULT_SECONDS)
#define QUICK_SECONDS_TEXT   STR(QUICK_SECONDS)
#define MIN_WINDOW_TEXT	     STR(LOAD_BATCH)
#define MAX_WINDOW_TEXT	     STR(MAX_WINDOW)
#define DEFAULT_WINDOW_TEXT  STR(DEFAULT_WINDOW)

/* --quick is --seconds QUICK_SECONDS: of the two, the last given counts. */
static bool quick_seconds(const struct cli_option *opt, const char *value, void *target, char *err,
			  size_t err_len)
{
	(void)value, (void)err, (void)err_len;
	*(double *)cli_field(opt, target) = QUICK_SECONDS;
	return true;
}

/* Indexed by enum sluice_scan_mode. */
static const char *const scan_modes[] = {
    [SLUICE_SCAN_BATCH] = "batch", [SLUICE_SCAN_MESSAGE] = "message", NULL};

/* In the order --help lists them. */
static const struct cli_option options[] = {
    {.name = "pcap",
     .kind = CLI_STRING,
     CLI_FIELD(struct kernel_options, pcap),
     .value_name = "FILE",
     .help = "Ethernet capture of wire-format datagrams (sluice-gen)"},
    {.name = "pack",
     .kind = CLI_STRING,
     CLI_FIELD(struct kernel_options, pack),
     .value_name = "FILE",
     .help = "pack to scan with: compiled (.pack) or rules (.yaml)"},
    {.name = "seconds",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct kernel_options, seconds),
     .high = MAX_SECONDS,
     .value_name = "S",
     .help = "measured seconds per run, after " WARMUP_SECONDS_TEXT " s of warm-up\n"
	     "(default " DEFAULT_SECONDS_TEXT ")"},
    {.name = "quick",
     .kind = CLI_FLAG,
     CLI_FIELD(struct kernel_options, seconds),
     .parse = quick_seconds,
     .help = "the same as --seconds " QUICK_SECONDS_TEXT " (of the two, the last given\n"
	     "counts)"},
    {.name = "udp-port",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct kernel_options, udp_port),
     .min = 1,
     .max = 65535,
     .value_name = "N",
     .help = "message port of the capture's datagrams (default 7700)"},
    {.name = "window",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct kernel_options, window),
     .min = LOAD_BATCH,
     .max = MAX_WINDOW,
     .value_name = "N",
     .help = "datagrams in flight, " MIN_WINDOW_TEXT " to " MAX_WINDOW_TEXT
	     " (default " DEFAULT_WINDOW_TEXT "); lowered to\n"
	     "what the socket receive buffers surely hold"},
    {.name = "scan",
     .kind = CLI_CHOICE,
     CLI_FIELD(struct kernel_options, scan_mode),
     .choices = scan_modes,
     .value_name = "MODE",
     .help = "batch (default) or message: how the worker code hands\n"
	     "a burst's messages to Hyperscan, as sluice's --scan"},
};

static const struct cli_program program = {
    .usage_head = "usage: " PROGRAM " --pcap FILE --pack FILE [options]\n"
		  "\n"
		  "Runs Sluice's per-burst processing behind UDP sockets on 127.0.0.1: a load\n"
		  "thread sends the capture's message payloads to a scanner thread, which\n"
		  "processes them as a DPDK worker would and forwards them to a sink. Two\n"
		  "runs: io_only (sockets only) and scan. Prints one JSON object.\n"
		  "\n",
    .usage_tail = "\n"
		  "Exit status: 0 measured, 1 a measurement failed, 2 usage or input error.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 19,
    .wording =
	{
	    .unknown_option = "unknown option or missing value: '%s'",
	    .unknown_short_option = "unknown option '%s'",
	    .unexpected_argument = "unexpected argument '%s'",
	    .bad_value = "--%s '%s': expected %s",
	    .unsigned_range = "%" PRIu64 " to %" PRIu64,
	    .double_range = "a number of seconds above %g, at most %g",
	},
};

bool kernel_options_parse(int argc, char **argv, struct kernel_options *o, int *status)
{
	*o = (struct kernel_options){.seconds = DEFAULT_SECONDS,
				     .udp_port = 7700,
				     .window = DEFAULT_WINDOW,
				     .scan_mode = SLUICE_SCAN_BATCH};
	char err[512];
	*status = 2;
	switch (cli_parse(&program, argc, argv, o, NULL, err, sizeof(err))) {
	case CLI_RUN:
		break;
	case CLI_HELP:
		*status = 0;
		return false;
	case CLI_BAD_OPTION:
		fprintf(stderr, PROGRAM ": %s\n", err);
		cli_usage(&program, stderr);
		return false;
	case CLI_BAD_VALUE:
		fprintf(stderr, PROGRAM ": %s\n", err);
		return false;
	}
	if (o->pcap == NULL || o->pack == NULL) {
		fprintf(stderr, PROGRAM ": --pcap and --pack are required\n");
		cli_usage(&program, stderr);
		return false;
	}
	return true;
}
