/* sluice: the gateway message scanner daemon. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "config_check.h"
#include "daemon.h"
#include "options.h"

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		sluice_daemon_request_reopen();
	else
		sluice_daemon_request_stop();
}

/* --help must work without initialising EAL, which wants devices and memory. */
static bool wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* Index of "--" in argv, or 0 when there is none. */
static int separator(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0)
			return i;
	return 0;
}

/* A Sluice option before "--" (or with no "--" at all) makes DPDK print its
 * whole usage, twice naming the option: say what is wrong instead. */
static bool misplaced_option(int argc, char **argv)
{
	int end = separator(argc, argv);
	for (int i = 1; i < (end ? end : argc); i++) {
		if (!sluice_options_is_known(argv[i]))
			continue;
		fprintf(stderr,
			"sluice: '%s' is a Sluice option, but it comes %s: EAL options go first, "
			"then '--', then Sluice's, for example\n"
			"  sluice --no-huge -m 512 -l 0-1 --vdev net_null0 --vdev net_null1 -- "
			"--rules rules.yaml\n",
			argv[i], end ? "before '--'" : "without a '--' before it");
		return true;
	}
	return false;
}

/* After a failed EAL start: the one cause operators hit first, hugepages,
 * with what to do (the EAL's own message says only "Permission denied" or
 * "Cannot allocate memory"). */
static void eal_advice(int argc, char **argv)
{
	int end = separator(argc, argv);
	for (int i = 1; i < (end ? end : argc); i++)
		if (strcmp(argv[i], "--no-huge") == 0 || strcmp(argv[i], "--in-memory") == 0)
			return;
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long free_pages = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &free_pages) == 1)
			break;
	if (f != NULL)
		fclose(f);
	if (free_pages == 0)
		fprintf(stderr,
			"sluice: no hugepages are free: reserve some (as root: "
			"deploy/hugepages.sh 512, for 512 pages of 2 MiB per node), or run without "
			"them: --no-huge -m 512 before "
			"'--'\n");
	if (geteuid() != 0)
		fprintf(stderr, "sluice: DPDK needs root (or CAP_SYS_ADMIN, CAP_IPC_LOCK and "
				"CAP_NET_RAW for af_packet) for hugepages and devices\n");
}

/* sluice --check-config [--config FILE] [options]: the Sluice options are the
 * ones after "--", or all of them when there is none; no EAL. */
static int check_config(int argc, char **argv)
{
	int end = separator(argc, argv);
	char **args = end ? argv + end : argv;
	int n = end ? argc - end : argc;
	struct sluice_options opt;
	char err[2048];
	sluice_options_defaults(&opt);
	int rc = sluice_options_parse(n, args, &opt, err, sizeof(err)) == 0 &&
			 sluice_check_config(&opt, stdout, err, sizeof(err)) == 0
		     ? 0
		     : 2;
	if (rc != 0)
		fprintf(stderr, "sluice: check-config: %s\n", err);
	sluice_options_free(&opt);
	return rc;
}

static bool wants_check(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--check-config") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		sluice_options_usage(stdout, argv[0]);
		return 0;
	}
	if (wants_check(argc, argv))
		return check_config(argc, argv);
	if (misplaced_option(argc, argv))
		return 2;
	int consumed = rte_eal_init(argc, argv);
	if (consumed < 0) {
		fprintf(stderr, "sluice: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
		eal_advice(argc, argv);
		return 1;
	}
	argc -= consumed;
	argv += consumed;

	struct sluice_options opt;
	char err[1024];
	sluice_options_defaults(&opt);
	if (sluice_options_parse(argc, argv, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice: %s\n", err);
		sluice_options_free(&opt);
		rte_eal_cleanup();
		return 2;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A control client or an event reader that goes away must cost an error
	 * on that descriptor, never the daemon (and its data plane). */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	int rc = sluice_daemon_run(&opt);
	sluice_options_free(&opt);
	rte_eal_cleanup();
	return rc;
}
