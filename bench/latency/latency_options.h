/* sluice-latency-bench's command line: its own options, then, after "--", the
 * daemon's (struct sluice_options), so that every sluice option — a scan mode
 * among them — reaches the in-process daemon as it would reach `sluice`.
 *
 * Contract: latency_options_parse() checks everything that can be checked
 * before EAL starts (values, combinations, that the input files can be read)
 * and says which option is wrong. It resolves defaults that depend on the mode
 * and --quick.
 */
#ifndef SLUICE_BENCH_LATENCY_LATENCY_OPTIONS_H
#define SLUICE_BENCH_LATENCY_LATENCY_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

enum bench_mode {
	MODE_MAX,
	MODE_LATENCY,
	MODE_SWAP,
};

struct latency_options {
	enum bench_mode mode;
	const char *pcap;
	char *pack;   /* absolute */
	char *pack_b; /* absolute; swap only */
	double seconds;
	bool quick;
	double rate_pps; /* 0: none given (max mode, or swap's probe decides) */
	double rate_fraction;
	double max_pps;
	unsigned swap_every_ms;
	const char *histogram_out;
	unsigned memory_mb;
	int daemon_argc; /* the arguments after "--" */
	char **daemon_argv;
	bool help; /* --help: the usage was printed, nothing more to do */
};

/* Returns 0, or -1 with err (a usage error: exit 2). With --help, 0 and
 * help set: the usage was printed on stdout. */
int latency_options_parse(int argc, char **argv, struct latency_options *opt, char *err,
			  size_t err_len);

void latency_options_free(struct latency_options *opt);

const char *bench_mode_name(enum bench_mode mode);

#endif
