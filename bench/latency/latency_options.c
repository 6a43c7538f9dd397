#include "latency_options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SECONDS 3600.0
#define MAX_RATE    1e8

enum {
	OPT_MODE = 256,
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
};

static const struct option long_options[] = {
    {"mode", required_argument, NULL, OPT_MODE},
    {"pcap", required_argument, NULL, OPT_PCAP},
    {"pack", required_argument, NULL, OPT_PACK},
    {"pack-b", required_argument, NULL, OPT_PACK_B},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"quick", no_argument, NULL, OPT_QUICK},
    {"rate-pps", required_argument, NULL, OPT_RATE_PPS},
    {"rate-fraction", required_argument, NULL, OPT_RATE_FRACTION},
    {"max-pps", required_argument, NULL, OPT_MAX_PPS},
    {"swap-every-ms", required_argument, NULL, OPT_SWAP_EVERY_MS},
    {"histogram-out", required_argument, NULL, OPT_HISTOGRAM_OUT},
    {"memory-mb", required_argument, NULL, OPT_MEMORY_MB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

const char *bench_mode_name(enum bench_mode mode)
{
	switch (mode) {
	case MODE_MAX:
		return "max";
	case MODE_LATENCY:
		return "latency";
	case MODE_SWAP:
		return "swap";
	}
	return "?";
}

void latency_options_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s --mode max|latency|swap --pcap FILE --pack FILE [options]"
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
		"options:\n"
		"      --pcap FILE           corpus capture (sluice-gen's output)\n"
		"      --pack FILE           pack (.pack or .yaml) loaded at start\n"
		"      --pack-b FILE         swap: the pack to alternate with\n"
		"      --seconds S           measured time (default: max 5, latency 10,\n"
		"                            swap 60)\n"
		"      --quick               shorter defaults: max 1, latency 2, swap 3\n"
		"      --rate-pps R          paced injection, packets per second\n"
		"      --rate-fraction F     pace at F * M instead, with --max-pps M\n"
		"      --max-pps M           the harness's maximum (pkts_per_s of --mode max)\n"
		"                            swap without a rate paces at 80%% of what a\n"
		"                            short unpaced probe gets through\n"
		"      --swap-every-ms N     swap: reload period (default 100)\n"
		"      --histogram-out FILE  latency: 'latency_us cumulative_fraction' lines\n"
		"      --memory-mb N         EAL memory without hugepages (default 512)\n"
		"  -h, --help                this text\n"
		"\n"
		"After '--', options for the daemon itself, as `sluice --help` lists them\n"
		"(e.g. --burst 64); --rules, --control-socket, --port-a/--port-b and\n"
		"--offline are set by the benchmark. Events go to /dev/null unless\n"
		"--events is given.\n"
		"\n"
		"exit status: 0 success, 1 a measurement failed (lost packets included),\n"
		"2 usage error or unreadable input\n",
		prog);
}

static int parse_double(const char *name, const char *text, double min, double max, double *out,
			char *err, size_t err_len)
{
	char *end;
	errno = 0;
	double v = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(v > min) || v > max) {
		snprintf(err, err_len, "--%s %s: want a number above %g and at most %g", name, text,
			 min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_unsigned(const char *name, const char *text, unsigned min, unsigned max,
			  unsigned *out, char *err, size_t err_len)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v < min || v > max) {
		snprintf(err, err_len, "--%s %s: want an integer from %u to %u", name, text, min,
			 max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static int resolve_input(const char *name, const char *path, char **out, char *err, size_t err_len)
{
	char *abs = realpath(path, NULL);
	if (abs == NULL || access(abs, R_OK) != 0) {
		snprintf(err, err_len, "--%s %s: cannot read it: %s", name, path, strerror(errno));
		free(abs);
		return -1;
	}
	free(*out);
	*out = abs;
	return 0;
}

static int parse_mode(const char *text, enum bench_mode *mode, char *err, size_t err_len)
{
	static const enum bench_mode modes[] = {MODE_MAX, MODE_LATENCY, MODE_SWAP};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(text, bench_mode_name(modes[i])) == 0) {
			*mode = modes[i];
			return 0;
		}
	}
	snprintf(err, err_len, "--mode %s: want max, latency or swap", text);
	return -1;
}

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
	bool mode_given = false, seconds_given = false;
	int c;
	opterr = 0;
	/* '+': stop at the first non-option, so that "--" hands the rest over. */
	while ((c = getopt_long(argc, argv, "+h", long_options, NULL)) != -1) {
		int rc = 0;
		switch (c) {
		case OPT_MODE:
			rc = parse_mode(optarg, &o->mode, err, err_len);
			mode_given = true;
			break;
		case OPT_PCAP:
			o->pcap = optarg;
			break;
		case OPT_PACK:
			rc = resolve_input("pack", optarg, &o->pack, err, err_len);
			break;
		case OPT_PACK_B:
			rc = resolve_input("pack-b", optarg, &o->pack_b, err, err_len);
			break;
		case OPT_SECONDS:
			rc = parse_double("seconds", optarg, 0, MAX_SECONDS, &o->seconds, err,
					  err_len);
			seconds_given = true;
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_RATE_PPS:
			rc = parse_double("rate-pps", optarg, 0, MAX_RATE, &o->rate_pps, err,
					  err_len);
			break;
		case OPT_RATE_FRACTION:
			rc = parse_double("rate-fraction", optarg, 0, 4, &o->rate_fraction, err,
					  err_len);
			break;
		case OPT_MAX_PPS:
			rc =
			    parse_double("max-pps", optarg, 0, MAX_RATE, &o->max_pps, err, err_len);
			break;
		case OPT_SWAP_EVERY_MS:
			rc = parse_unsigned("swap-every-ms", optarg, 1, 600000, &o->swap_every_ms,
					    err, err_len);
			break;
		case OPT_HISTOGRAM_OUT:
			o->histogram_out = optarg;
			break;
		case OPT_MEMORY_MB:
			rc = parse_unsigned("memory-mb", optarg, 64, 1u << 20, &o->memory_mb, err,
					    err_len);
			break;
		case 'h':
			o->help = true;
			return 0;
		default:
			snprintf(err, err_len, "unknown option or missing value: %s (see --help)",
				 argv[optind - 1]);
			return -1;
		}
		if (rc != 0)
			return -1;
	}
	if (optind < argc) {
		if (strcmp(argv[optind - 1], "--") != 0) {
			snprintf(err, err_len,
				 "unexpected argument %s (daemon options go after '--')",
				 argv[optind]);
			return -1;
		}
		o->daemon_argc = argc - optind;
		o->daemon_argv = argv + optind;
	}
	return finish(o, mode_given, seconds_given, err, err_len);
}

void latency_options_free(struct latency_options *o)
{
	free(o->pack);
	free(o->pack_b);
	o->pack = o->pack_b = NULL;
}
