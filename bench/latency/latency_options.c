#include "latency_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "ring_harness.h"

#define PROG	    "sluice-latency-bench"
#define MAX_SECONDS 3600.0
#define MAX_RATE    1e8

/* Indexed by enum bench_mode: the --mode choices and the names results use. */
static const char *const mode_names[] = {
    [MODE_MAX] = "max", [MODE_LATENCY] = "latency", [MODE_SWAP] = "swap", NULL};

const char *bench_mode_name(enum bench_mode mode)
{
	return mode <= MODE_SWAP ? mode_names[mode] : "?";
}

enum {
	OPT_MODE,
	OPT_PCAP,
	OPT_PACK,
	OPT_PACK_B,
	OPT_SECONDS,
	OPT_QUICK,
	OPT_RATE_PPS,
	OPT_RATE_FRACTION,
	OPT_MAX_PPS,
	OPT_SWAP_EVERY_MS,
	OPT_HISTOGRAM_OUT,
	OPT_MEMORY_MB,
	OPT_COUNT
};

/* In the order --help lists them; --mode is in the usage line instead. */
static const struct cli_option options[OPT_COUNT] = {
    [OPT_MODE] = {.name = "mode",
		  .kind = CLI_CHOICE,
		  CLI_FIELD(struct latency_options, mode),
		  .choices = mode_names},
    [OPT_PCAP] = {.name = "pcap",
		  .kind = CLI_STRING,
		  CLI_FIELD(struct latency_options, pcap),
		  .value_name = "FILE",
		  .help = "corpus capture (sluice-gen's output)"},
    [OPT_PACK] = {.name = "pack",
		  .kind = CLI_INPUT_FILE,
		  CLI_FIELD(struct latency_options, pack),
		  .value_name = "FILE",
		  .help = "pack (.pack or .yaml) loaded at start"},
    [OPT_PACK_B] = {.name = "pack-b",
		    .kind = CLI_INPUT_FILE,
		    CLI_FIELD(struct latency_options, pack_b),
		    .value_name = "FILE",
		    .help = "swap: the pack to alternate with"},
    [OPT_SECONDS] = {.name = "seconds",
		     .kind = CLI_DOUBLE,
		     CLI_FIELD(struct latency_options, seconds),
		     .high = MAX_SECONDS,
		     .value_name = "S",
		     .help = "measured time (default: max 5, latency 10,\n"
			     "swap 60)"},
    [OPT_QUICK] = {.name = "quick",
		   .kind = CLI_FLAG,
		   CLI_FIELD(struct latency_options, quick),
		   .help = "shorter defaults: max 1, latency 2, swap 3"},
    [OPT_RATE_PPS] = {.name = "rate-pps",
		      .kind = CLI_DOUBLE,
		      CLI_FIELD(struct latency_options, rate_pps),
		      .high = MAX_RATE,
		      .value_name = "R",
		      .help = "paced injection, packets per second"},
    [OPT_RATE_FRACTION] = {.name = "rate-fraction",
			   .kind = CLI_DOUBLE,
			   CLI_FIELD(struct latency_options, rate_fraction),
			   .high = 4,
			   .value_name = "F",
			   .help = "pace at F * M instead, with --max-pps M"},
    [OPT_MAX_PPS] = {.name = "max-pps",
		     .kind = CLI_DOUBLE,
		     CLI_FIELD(struct latency_options, max_pps),
		     .high = MAX_RATE,
		     .value_name = "M",
		     .help = "the harness's maximum (pkts_per_s of --mode max)\n"
			     "swap without a rate paces at 80% of what a\n"
			     "short unpaced probe gets through"},
    [OPT_SWAP_EVERY_MS] = {.name = "swap-every-ms",
			   .kind = CLI_UNSIGNED,
			   CLI_FIELD(struct latency_options, swap_every_ms),
			   .min = 1,
			   .max = 600000,
			   .value_name = "N",
			   .help = "swap: reload period (default 100)"},
    [OPT_HISTOGRAM_OUT] = {.name = "histogram-out",
			   .kind = CLI_STRING,
			   CLI_FIELD(struct latency_options, histogram_out),
			   .value_name = "FILE",
			   .help = "latency: 'latency_us cumulative_fraction' lines"},
    [OPT_MEMORY_MB] = RING_HARNESS_MEMORY_OPTION(struct latency_options, memory_mb, "512"),
};

static const struct cli_program program = {
    .usage_head = "usage: " PROG " --mode max|latency|swap --pcap FILE --pack FILE [options]"
		  " [-- SLUICE_OPTIONS]\n"
		  "\n"
		  "Runs the sluice daemon in this process on two net_ring ports (worker on\n"
		  "lcore 1), injects the capture's packets, cycled, into port A and collects\n"
		  "them from port B. Prints one JSON object on stdout; progress on stderr.\n"
		  "\n"
		  "modes:\n"
		  "  max      inject as fast as the worker's RX ring accepts; packets and\n"
		  "           messages per second out of port B\n"
		  "  latency  paced at --rate-pps, or --rate-fraction of --max-pps;\n"
		  "           injection-to-output latency p50/p99/p99.9/max\n"
		  "  swap     paced load while the main pack is reloaded every\n"
		  "           --swap-every-ms, alternating --pack and --pack-b; nothing may\n"
		  "           be lost\n"
		  "\n"
		  "options:\n",
    .usage_tail = "\n"
		  "After '--', options for the daemon itself, as `sluice --help` lists them\n"
		  "(e.g. --burst 64); --rules, --control-socket, --port-a/--port-b and\n"
		  "--offline are set by the benchmark. Events go to /dev/null unless\n"
		  "--events is given.\n"
		  "\n"
		  "exit status: 0 success, 1 a measurement failed (lost packets included),\n"
		  "2 usage error or unreadable input\n",
    .options = options,
    .option_count = OPT_COUNT,
    .help_column = 28,
    .align_long_names = true,
    .rest_after_dashes = true,
    .wording = {.unexpected_argument = "unexpected argument %s (daemon options go after '--')"},
};

/* Checks the combinations and fills in the defaults that depend on them. */
static int finish(struct latency_options *o, bool mode_given, bool seconds_given, char *err,
		  size_t err_len)
{
	if (!mode_given) {
		snprintf(err, err_len, "--mode is required (max, latency or swap)");
		return -1;
	}
	if (o->pcap == NULL || o->pack == NULL) {
		snprintf(err, err_len, "--pcap and --pack are required");
		return -1;
	}
	if (o->mode == MODE_SWAP && o->pack_b == NULL) {
		snprintf(err, err_len, "--mode swap needs --pack-b, the pack to alternate with");
		return -1;
	}
	if (o->mode != MODE_SWAP && o->pack_b != NULL) {
		snprintf(err, err_len, "--pack-b is for --mode swap only");
		return -1;
	}
	if (o->mode != MODE_SWAP && o->swap_every_ms != 100) {
		snprintf(err, err_len, "--swap-every-ms is for --mode swap only");
		return -1;
	}
	if (o->mode != MODE_LATENCY && o->histogram_out != NULL) {
		snprintf(err, err_len, "--histogram-out is for --mode latency only");
		return -1;
	}
	bool fraction = o->rate_fraction > 0, max_pps = o->max_pps > 0;
	if (fraction != max_pps) {
		snprintf(err, err_len, "--rate-fraction and --max-pps go together");
		return -1;
	}
	if (fraction && o->rate_pps > 0) {
		snprintf(err, err_len,
			 "give --rate-pps or --rate-fraction with --max-pps, not both");
		return -1;
	}
	if (fraction)
		o->rate_pps = o->rate_fraction * o->max_pps;
	if (o->mode == MODE_MAX && o->rate_pps > 0) {
		snprintf(err, err_len, "--mode max injects unpaced: it takes no rate");
		return -1;
	}
	if (o->mode == MODE_LATENCY && o->rate_pps <= 0) {
		snprintf(err, err_len,
			 "--mode latency needs --rate-pps, or --rate-fraction with --max-pps");
		return -1;
	}
	if (!seconds_given) {
		static const double normal[] = {
		    [MODE_MAX] = 5, [MODE_LATENCY] = 10, [MODE_SWAP] = 60};
		static const double quick[] = {[MODE_MAX] = 1, [MODE_LATENCY] = 2, [MODE_SWAP] = 3};
		o->seconds = o->quick ? quick[o->mode] : normal[o->mode];
	}
	return 0;
}

int latency_options_parse(int argc, char **argv, struct latency_options *o, char *err,
			  size_t err_len)
{
	memset(o, 0, sizeof(*o));
	o->swap_every_ms = 100;
	o->memory_mb = 512;
	struct cli_parsed parsed;
	enum cli_result result = cli_parse(&program, argc, argv, o, &parsed, err, err_len);
	o->help = result == CLI_HELP;
	if (result != CLI_RUN)
		return o->help ? 0 : -1;
	if (parsed.rest < argc) {
		o->daemon_argc = argc - parsed.rest;
		o->daemon_argv = argv + parsed.rest;
	}
	return finish(o, parsed.seen[OPT_MODE], parsed.seen[OPT_SECONDS], err, err_len);
}

void latency_options_free(struct latency_options *o)
{
	free(o->pack);
	free(o->pack_b);
	o->pack = o->pack_b = NULL;
}
