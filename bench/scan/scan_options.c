#include "scan_options.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "stage_timing.h"

const char *const scan_stage_names[SCAN_STAGE_COUNT] = {"ceiling", "message", "batch", "pcre2"};

#define DEFAULT_ROUNDS		  5
#define DEFAULT_MIN_SECONDS	  0.5
#define QUICK_ROUNDS		  3
#define QUICK_MIN_SECONDS	  0.1
#define MAX_MIN_SECONDS		  60.0
#define DEFAULT_BATCH		  64
#define MAX_BATCH_BYTES		  (1u << 30)
#define DEFAULT_MAX_STAGE_SECONDS 120.0
#define MAX_MAX_STAGE_SECONDS	  3600.0

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-scan-bench --pack PACK --corpus TEXTS [options]\n"
		"\n"
		"Measures the scan path on one core, on the same messages and pack:\n"
		"ceiling (hs_scan per database, counting callback), message\n"
		"(sluice_scan_message), batch (sluice_batch_scan) and pcre2 (PCRE2 JIT, each\n"
		"rule in turn). Prints one JSON object on stdout, progress on stderr.\n"
		"\n"
		"  -p, --pack FILE        a YAML rule file (compiled here) or a compiled .pack\n"
		"  -c, --corpus FILE      messages, 'msg_id<TAB>text' per line\n"
		"                         (sluice-gen --text-out)\n"
		"      --stages LIST      comma-separated subset of ceiling,message,batch,pcre2\n"
		"                         (default: all; pcre2 needs a YAML rule file)\n"
		"  -r, --rounds N         timed rounds per stage, median reported (default %d,\n"
		"                         at most %d)\n"
		"      --min-seconds S    minimum length of a round (default %g); a round is\n"
		"                         whole passes over the corpus, at least one\n"
		"      --max-stage-seconds S  stop a stage's rounds once it has run S seconds\n"
		"                         (default %g; at least one timed round runs)\n"
		"      --quick            --rounds %d --min-seconds %g\n"
		"  -b, --batch N          messages per batch scan (default %d)\n"
		"      --batch-bytes N    batch buffer size (default %d)\n"
		"      --cpu N            pin to CPU N first\n"
		"      --stats-only       pack (and corpus, if given) statistics only\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 measured, 1 a measurement failed (the JSON says which),\n"
		"2 bad usage or unreadable inputs.\n",
		DEFAULT_ROUNDS, STAGE_MAX_ROUNDS, DEFAULT_MIN_SECONDS, DEFAULT_MAX_STAGE_SECONDS,
		QUICK_ROUNDS, QUICK_MIN_SECONDS, DEFAULT_BATCH, SLUICE_BATCH_BYTES);
}

static bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_seconds(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= min) || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_stages(const char *list, bool stage[SCAN_STAGE_COUNT], char *err, size_t err_len)
{
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

enum scan_options_result scan_options_parse(int argc, char **argv, struct scan_options *o,
					    char *err, size_t err_len)
{
	enum {
		OPT_STAGES = 256,
		OPT_MIN_SECONDS,
		OPT_QUICK,
		OPT_BATCH_BYTES,
		OPT_CPU,
		OPT_STATS,
		OPT_MAX_STAGE
	};
	static const struct option long_options[] = {
	    {"pack", required_argument, NULL, 'p'},
	    {"corpus", required_argument, NULL, 'c'},
	    {"stages", required_argument, NULL, OPT_STAGES},
	    {"rounds", required_argument, NULL, 'r'},
	    {"min-seconds", required_argument, NULL, OPT_MIN_SECONDS},
	    {"max-stage-seconds", required_argument, NULL, OPT_MAX_STAGE},
	    {"quick", no_argument, NULL, OPT_QUICK},
	    {"batch", required_argument, NULL, 'b'},
	    {"batch-bytes", required_argument, NULL, OPT_BATCH_BYTES},
	    {"cpu", required_argument, NULL, OPT_CPU},
	    {"stats-only", no_argument, NULL, OPT_STATS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	/* Explicit --rounds / --min-seconds win over --quick, in any order. */
	long rounds = -1;
	double min_seconds = -1;
	bool quick = false;
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	for (int s = 0; s < SCAN_STAGE_COUNT; s++)
		o->stage[s] = true;
	o->batch_messages = DEFAULT_BATCH;
	o->batch_bytes = SLUICE_BATCH_BYTES;
	o->cpu = -1;
	o->max_stage_seconds = DEFAULT_MAX_STAGE_SECONDS;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:c:r:b:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'p':
			o->pack_path = optarg;
			break;
		case 'c':
			o->corpus_path = optarg;
			break;
		case OPT_STAGES:
			if (!parse_stages(optarg, o->stage, err, err_len))
				return SCAN_OPTIONS_BAD;
			break;
		case 'r':
			if (!parse_u64(optarg, 1, STAGE_MAX_ROUNDS, &v)) {
				snprintf(err, err_len,
					 "--rounds: '%s' is not a whole number in 1..%d", optarg,
					 STAGE_MAX_ROUNDS);
				return SCAN_OPTIONS_BAD;
			}
			rounds = (long)v;
			break;
		case OPT_MIN_SECONDS:
			if (!parse_seconds(optarg, 0, MAX_MIN_SECONDS, &min_seconds)) {
				snprintf(err, err_len,
					 "--min-seconds: '%s' is not a number of seconds in 0..%g",
					 optarg, MAX_MIN_SECONDS);
				return SCAN_OPTIONS_BAD;
			}
			break;
		case OPT_MAX_STAGE:
			if (!parse_seconds(optarg, 0, MAX_MAX_STAGE_SECONDS,
					   &o->max_stage_seconds)) {
				snprintf(err, err_len,
					 "--max-stage-seconds: '%s' is not a number of seconds in "
					 "0..%g",
					 optarg, MAX_MAX_STAGE_SECONDS);
				return SCAN_OPTIONS_BAD;
			}
			break;
		case OPT_QUICK:
			quick = true;
			break;
		case 'b':
			if (!parse_u64(optarg, 1, 1u << 20, &v)) {
				snprintf(err, err_len,
					 "--batch: '%s' is not a whole number in 1..%u", optarg,
					 1u << 20);
				return SCAN_OPTIONS_BAD;
			}
			o->batch_messages = (uint32_t)v;
			break;
		case OPT_BATCH_BYTES:
			if (!parse_u64(optarg, 2, MAX_BATCH_BYTES, &v)) {
				snprintf(err, err_len,
					 "--batch-bytes: '%s' is not a whole number in 2..%u",
					 optarg, MAX_BATCH_BYTES);
				return SCAN_OPTIONS_BAD;
			}
			o->batch_bytes = (uint32_t)v;
			break;
		case OPT_CPU:
			if (!parse_u64(optarg, 0, 4095, &v)) {
				snprintf(err, err_len, "--cpu: '%s' is not a CPU number", optarg);
				return SCAN_OPTIONS_BAD;
			}
			o->cpu = (int)v;
			break;
		case OPT_STATS:
			o->stats_only = true;
			break;
		case 'h':
			usage(stdout);
			return SCAN_OPTIONS_HELP;
		case ':':
			snprintf(err, err_len, "%s needs a value", argv[optind - 1]);
			return SCAN_OPTIONS_BAD;
		default:
			snprintf(err, err_len, "unknown option '%s' (see --help)",
				 argv[optind - 1]);
			return SCAN_OPTIONS_BAD;
		}
	}
	if (optind < argc) {
		snprintf(err, err_len, "unexpected argument '%s' (see --help)", argv[optind]);
		return SCAN_OPTIONS_BAD;
	}
	o->rounds = rounds > 0 ? (unsigned)rounds : quick ? QUICK_ROUNDS : DEFAULT_ROUNDS;
	o->min_seconds = min_seconds >= 0 ? min_seconds
			 : quick	  ? QUICK_MIN_SECONDS
					  : DEFAULT_MIN_SECONDS;
	if (o->pack_path == NULL) {
		snprintf(err, err_len, "--pack is required (see --help)");
		return SCAN_OPTIONS_BAD;
	}
	if (o->corpus_path == NULL && !o->stats_only) {
		snprintf(err, err_len, "--corpus is required unless --stats-only (see --help)");
		return SCAN_OPTIONS_BAD;
	}
	return SCAN_OPTIONS_RUN;
}
