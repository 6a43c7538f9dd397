/* sluicectl: talks to a running sluice daemon over its control socket. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_protocol.h"

#define DEFAULT_SOCKET "/run/sluice/sluice.sock"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: sluicectl [-s SOCKET] [--timeout MS] [--compact] COMMAND [ARG]\n"
	    "\n"
	    "Commands:\n"
	    "  status         active pack (name, version, rules, sha256, loaded at), the packs\n"
	    "                 kept for rollback, and each worker's heartbeat\n"
	    "  stats          every counter, totals and per worker, as JSON\n"
	    "  reload PACK    load PACK (.pack or .yaml) and swap it in on every worker; a pack\n"
	    "                 that fails to load is refused with its reason and the running\n"
	    "                 one stays\n"
	    "  rollback       return to the previous pack\n"
	    "  stop           ask the daemon to finish and print its summary\n"
	    "\n"
	    "Options:\n"
	    "  -s, --socket PATH   control socket (default %s, or $SLUICE_SOCKET)\n"
	    "  --timeout MS        give up after MS milliseconds (default 60000)\n"
	    "  --compact           print the reply as one JSON line\n"
	    "\n"
	    "Exit status: 0 done, 1 refused by the daemon, 2 usage or connection error.\n",
	    DEFAULT_SOCKET);
}

/* Indents a JSON document for people; strings are copied as they are. */
static void print_pretty(const char *json)
{
	int depth = 0;
	bool in_string = false;
	for (const char *p = json; *p && *p != '\n'; p++) {
		char c = *p;
		if (in_string) {
			putchar(c);
			if (c == '\\' && p[1]) {
				putchar(*++p);
			} else if (c == '"') {
				in_string = false;
			}
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			putchar(c);
			break;
		case '{':
		case '[':
			if (p[1] == '}' || p[1] == ']') {
				putchar(c);
				putchar(*++p);
				break;
			}
			putchar(c);
			depth++;
			printf("\n%*s", depth * 2, "");
			break;
		case '}':
		case ']':
			depth--;
			printf("\n%*s%c", depth * 2, "", c);
			break;
		case ',':
			printf(",\n%*s", depth * 2, "");
			break;
		case ':':
			printf(": ");
			break;
		default:
			putchar(c);
		}
	}
	putchar('\n');
}

int main(int argc, char **argv)
{
	const char *socket_path = getenv("SLUICE_SOCKET");
	int timeout_ms = 60000;
	bool compact = false;
	int i = 1;

	if (socket_path == NULL || *socket_path == '\0')
		socket_path = DEFAULT_SOCKET;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) &&
			   i + 1 < argc) {
			socket_path = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			timeout_ms = atoi(argv[++i]);
			if (timeout_ms <= 0) {
				fprintf(stderr, "sluicectl: --timeout needs a positive number\n");
				return 2;
			}
		} else if (strcmp(argv[i], "--compact") == 0) {
			compact = true;
		} else {
			fprintf(stderr, "sluicectl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}

	const char *cmd = argv[i];
	char request[SLUICE_CTL_MAX_REQUEST];
	int nargs = argc - i - 1;
	if (strcmp(cmd, "reload") == 0) {
		if (nargs != 1) {
			fprintf(stderr, "sluicectl: reload needs one PACK argument\n");
			return 2;
		}
		/* The daemon's working directory is not ours. */
		char abs[PATH_MAX];
		if (realpath(argv[i + 1], abs) == NULL) {
			fprintf(stderr, "sluicectl: %s: %s\n", argv[i + 1], strerror(errno));
			return 2;
		}
		if (strlen(abs) + 8 > sizeof(request)) {
			fprintf(stderr, "sluicectl: %s: path too long\n", abs);
			return 2;
		}
		memcpy(request, "reload ", 7);
		memcpy(request + 7, abs, strlen(abs) + 1);
	} else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "stats") == 0 ||
		   strcmp(cmd, "rollback") == 0 || strcmp(cmd, "stop") == 0) {
		if (nargs != 0) {
			fprintf(stderr, "sluicectl: %s takes no argument\n", cmd);
			return 2;
		}
		snprintf(request, sizeof(request), "%s", cmd);
	} else {
		fprintf(stderr, "sluicectl: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}

	char err[512];
	char *reply = NULL;
	if (sluice_ctl_request(socket_path, request, timeout_ms, &reply, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: %s\n", err);
		return 2;
	}
	bool ok = strncmp(reply, "{\"ok\":true", 10) == 0;
	if (compact)
		fputs(reply, stdout);
	else
		print_pretty(reply);
	free(reply);
	return ok ? 0 : 1;
}
