/* sluice-pack publish PACK --to nats://...: the analysts' way to send a
 * signed pack to the fleet, canary first.
 *
 * The rollout itself is `sluicectl fleet publish` (control/sluicectl_fleet.c:
 * the bus, the targets, the status bucket, the holds and the revert). This
 * command hands over to it, so that there is one rollout and sluice-pack
 * stays free of the control layer and of NATS: the same sluicectl from
 * sluice-pack's own directory (installed side by side), or from the build
 * tree's control/ beside patterns/, or from PATH. $SLUICECTL names another.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: sluice-pack publish PACK --to nats://HOST:PORT[,...] [--groups canary,main]\n"
	    "           [--hold S] [--wait S] [--slot main|urgent] [--at-once] [--no-wait]\n"
	    "           [--bucket NAME] [--publisher NAME]\n"
	    "\n"
	    "Stores the signed PACK in the fleet's JetStream bucket and rolls it out group by\n"
	    "group, canary first: each group's gateways verify and load it, the next group\n"
	    "gets it only after --hold seconds without the canary's refusals, scan errors or\n"
	    "stalls rising; a refusal puts every group back. --at-once: all groups together\n"
	    "(the urgent slot's copyright notices). This is `sluicectl fleet publish`\n"
	    "(docs/operations.md, \"Fleet\"); `sluicectl fleet status` shows the fleet.\n"
	    "\n"
	    "Exit status:\n"
	    "  0  every live gateway runs the pack\n"
	    "  1  refused, stopped or not converged (the reason is printed; groups put back)\n"
	    "  2  usage error, an unreadable pack, or the bus unreachable\n");
}

/* The sluicectl to run, or NULL. */
static const char *find_sluicectl(char *buf, size_t len)
{
	const char *env = getenv("SLUICECTL");
	if (env != NULL && *env != '\0')
		return env;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		const char *dir = dirname(self);
		const char *places[] = {"%s/sluicectl", "%s/../control/sluicectl"};
		for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
			snprintf(buf, len, places[i], dir);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "sluicectl"; /* from PATH */
}

int sp_cmd_publish(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return SP_EXIT_OK;
		}
	bool to = false;
	for (int i = 1; i < argc; i++)
		to = to || strcmp(argv[i], "--to") == 0;
	if (!to && getenv("SLUICE_PACK_SOURCE") == NULL)
		return sp_usage_error("publish", "--to nats://HOST:PORT is needed (or "
						 "$SLUICE_PACK_SOURCE)");
	char **args = calloc((size_t)argc + 3, sizeof(char *));
	if (args == NULL)
		return SP_EXIT_USAGE;
	char path[PATH_MAX + 32];
	const char *ctl = find_sluicectl(path, sizeof(path));
	int n = 0;
	args[n++] = (char *)ctl;
	args[n++] = (char *)"fleet";
	args[n++] = (char *)"publish";
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fflush(NULL);
	execvp(ctl, args);
	fprintf(stderr,
		"sluice-pack publish: cannot run %s: %s (install sluicectl beside "
		"sluice-pack, or set $SLUICECTL)\n",
		ctl, strerror(errno));
	free(args);
	return SP_EXIT_USAGE;
}
