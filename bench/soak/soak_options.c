#include "soak_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring_harness.h"

/* meson passes the source tree's rule file; --rules overrides it. */
#ifndef SOAK_DEFAULT_RULES
#define SOAK_DEFAULT_RULES "patterns/rules/default.yaml"
#endif

#define MAX_DURATION_S (7 * 24 * 3600.0)
#define MAX_RATE       1e7

enum {
	OPT_DURATION = 256,
	OPT_RATE,
	OPT_WORKERS,
	OPT_RULES,
	OPT_PACK_A,
	OPT_PACK_B,
	OPT_RELOAD_EVERY_MS,
	OPT_ABUSE_IDLE,
	OPT_ABUSE_CONNECTS,
	OPT_ABUSE_STALLERS,
	OPT_ABUSE_RUDE,
	OPT_OPERATOR_EVERY,
	OPT_RSS_EVERY,
	OPT_RSS_WARMUP,
	OPT_MEMORY_MB,
};

static const struct option long_options[] = {
    {"duration", required_argument, NULL, OPT_DURATION},
    {"rate", required_argument, NULL, OPT_RATE},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"rules", required_argument, NULL, OPT_RULES},
    {"pack-a", required_argument, NULL, OPT_PACK_A},
    {"pack-b", required_argument, NULL, OPT_PACK_B},
    {"reload-every-ms", required_argument, NULL, OPT_RELOAD_EVERY_MS},
    {"abuse-idle", required_argument, NULL, OPT_ABUSE_IDLE},
    {"abuse-connects", required_argument, NULL, OPT_ABUSE_CONNECTS},
    {"abuse-stallers", required_argument, NULL, OPT_ABUSE_STALLERS},
    {"abuse-rude", required_argument, NULL, OPT_ABUSE_RUDE},
    {"operator-every", required_argument, NULL, OPT_OPERATOR_EVERY},
    {"rss-every", required_argument, NULL, OPT_RSS_EVERY},
    {"rss-warmup", required_argument, NULL, OPT_RSS_WARMUP},
    {"memory-mb", required_argument, NULL, OPT_MEMORY_MB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

void soak_options_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [options]\n"
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
		"options:\n"
		"      --duration S          seconds of traffic (default 600)\n"
		"      --rate R              messages per second injected (default 200000)\n"
		"      --workers N           worker lcores (default 1; EAL -l 0-N)\n"
		"      --rules FILE          rule file compiled into two packs that differ only\n"
		"                            in version (default %s)\n"
		"      --pack-a FILE         the pack loaded at start (instead of compiling)\n"
		"      --pack-b FILE         the pack alternated with (give both or neither)\n"
		"      --reload-every-ms N   reload period (default 100)\n"
		"      --abuse-idle N        idle connections held at most (default 1000)\n"
		"      --abuse-connects N    idle connections opened per second, at most\n"
		"                            (default 500)\n"
		"      --abuse-stallers N    half-written requests in flight (default 16)\n"
		"      --abuse-rude N        other misuses per second: huge lines, NUL bytes,\n"
		"                            readers that vanish, connect-and-close, unknown\n"
		"                            commands (default 50)\n"
		"      --operator-every S    the operator's `status` period (default 1)\n"
		"      --rss-every S         RSS sample period (default 10)\n"
		"      --rss-warmup S        samples before this are not judged (default 30)\n"
		"      --memory-mb N         EAL memory without hugepages (default 1024)\n"
		"  -h, --help                this text\n"
		"\n"
		"The packs must act on the soak's message table as the default pack does;\n"
		"the soak checks that before it starts.\n"
		"\n"
		"exit status: 0 every check held; 1 a check failed or the run could not be\n"
		"carried through; 2 usage error or unusable input\n",
		prog, SOAK_DEFAULT_RULES);
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

static int parse_one(int c, const char *arg, struct soak_options *o, char *err, size_t err_len)
{
	switch (c) {
	case OPT_DURATION:
		return parse_double("duration", arg, 0, MAX_DURATION_S, &o->duration_s, err,
				    err_len);
	case OPT_RATE:
		return parse_double("rate", arg, 0, MAX_RATE, &o->rate_msgs, err, err_len);
	case OPT_WORKERS:
		return parse_unsigned("workers", arg, 1, RING_HARNESS_MAX_QUEUES, &o->workers, err,
				      err_len);
	case OPT_RULES:
		return resolve_input("rules", arg, &o->rules, err, err_len);
	case OPT_PACK_A:
		return resolve_input("pack-a", arg, &o->pack_a, err, err_len);
	case OPT_PACK_B:
		return resolve_input("pack-b", arg, &o->pack_b, err, err_len);
	case OPT_RELOAD_EVERY_MS:
		return parse_unsigned("reload-every-ms", arg, 1, 3600000, &o->reload_every_ms, err,
				      err_len);
	case OPT_ABUSE_IDLE:
		return parse_unsigned("abuse-idle", arg, 0, 100000, &o->abuse_idle, err, err_len);
	case OPT_ABUSE_CONNECTS:
		return parse_unsigned("abuse-connects", arg, 1, 100000, &o->abuse_connects_per_s,
				      err, err_len);
	case OPT_ABUSE_STALLERS:
		return parse_unsigned("abuse-stallers", arg, 0, 1000, &o->abuse_stallers, err,
				      err_len);
	case OPT_ABUSE_RUDE:
		return parse_unsigned("abuse-rude", arg, 0, 10000, &o->abuse_rude_per_s, err,
				      err_len);
	case OPT_OPERATOR_EVERY:
		return parse_double("operator-every", arg, 0, 3600, &o->operator_every_s, err,
				    err_len);
	case OPT_RSS_EVERY:
		return parse_double("rss-every", arg, 0, 3600, &o->rss_every_s, err, err_len);
	case OPT_RSS_WARMUP:
		if (strcmp(arg, "0") == 0) {
			o->rss_warmup_s = 0;
			return 0;
		}
		return parse_double("rss-warmup", arg, 0, MAX_DURATION_S, &o->rss_warmup_s, err,
				    err_len);
	case OPT_MEMORY_MB:
		return parse_unsigned("memory-mb", arg, 64, 1u << 20, &o->memory_mb, err, err_len);
	}
	snprintf(err, err_len, "unknown option");
	return -1;
}

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
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
		if (c == 'h') {
			o->help = true;
			return 0;
		}
		if (c == '?' || c == ':') {
			snprintf(err, err_len, "unknown option or missing value: %s (see --help)",
				 argv[optind - 1]);
			return -1;
		}
		if (parse_one(c, optarg, o, err, err_len) != 0)
			return -1;
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument %s", argv[optind]);
		return -1;
	}
	if ((o->pack_a == NULL) != (o->pack_b == NULL)) {
		snprintf(err, err_len, "--pack-a and --pack-b go together");
		return -1;
	}
	if (o->pack_a == NULL && o->rules == NULL &&
	    resolve_input("rules", SOAK_DEFAULT_RULES, &o->rules, err, err_len) != 0)
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
