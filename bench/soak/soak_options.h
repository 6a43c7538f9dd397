/* sluice-soak's command line.
 *
 * Contract: soak_options_parse() checks every value and combination it can
 * before EAL starts, resolves input paths to absolute ones (the daemon is
 * asked to reload them by path), and fills in the defaults; -1 means a usage
 * error (exit 2) with the option named in err.
 */
#ifndef SLUICE_BENCH_SOAK_SOAK_OPTIONS_H
#define SLUICE_BENCH_SOAK_SOAK_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct soak_options {
	double duration_s;
	double rate_msgs; /* messages per second injected */
	unsigned workers;
	char *rules;	       /* absolute; compiled into two packs unless both are given */
	char *pack_a, *pack_b; /* absolute, or NULL */
	unsigned reload_every_ms;
	unsigned abuse_idle;	       /* idle connections held at most */
	unsigned abuse_connects_per_s; /* the idle holder's connects, at most */
	unsigned abuse_stallers;       /* half-written requests in flight */
	unsigned abuse_rude_per_s;     /* other misuses per second, all kinds together */
	double operator_every_s;
	double rss_every_s;
	double rss_warmup_s;
	unsigned memory_mb;
	bool help; /* --help: the usage was printed, nothing more to do */
};

/* With --help, 0 and help set: the usage was printed on stdout. */
int soak_options_parse(int argc, char **argv, struct soak_options *opt, char *err, size_t err_len);

void soak_options_free(struct soak_options *opt);

#endif
