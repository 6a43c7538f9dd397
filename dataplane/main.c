/* sluice: the gateway message scanner daemon. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "daemon.h"
#include "options.h"

static void on_signal(int sig)
{
	(void)sig;
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

int main(int argc, char **argv)
{
	if (wants_help(argc, argv)) {
		sluice_options_usage(stdout, argv[0]);
		return 0;
	}
	int consumed = rte_eal_init(argc, argv);
	if (consumed < 0) {
		fprintf(stderr, "sluice: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
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
	/* A control client or an event reader that goes away must cost an error
	 * on that descriptor, never the daemon (and its data plane). */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	int rc = sluice_daemon_run(&opt);
	sluice_options_free(&opt);
	rte_eal_cleanup();
	return rc;
}
