/* sluice-fleet-bench: how long a pack published to the bus takes to be in
 * force on every gateway (issue 14).
 *
 * Starts its own one-node nats-server (tests/support/nats_server.c) and
 * three sluice daemons (net_ring ports, --no-huge) watching it, two groups
 * (canary: 1, main: 2), every pack signed and checked. Then, for each of N
 * publishes of a fresh pack version, starts `sluicectl fleet publish` and
 * polls the status bucket every few milliseconds until all three gateways
 * report the new version in force: that interval, from the command's start
 * to the last gateway's report, is the figure (what an SRE waits for). Two
 * modes: --at-once (every group together) and staged with --hold 0 (canary,
 * then main: the cost of the canary step without its hold). The median, min
 * and max of each are printed as one JSON object on stdout.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_options.h"
#include "clock.h"
#include "fleet_store.h"
#include "median.h"
#include "fleet_gateway.h"
#include "nats_server.h"

#define GATEWAYS   3
#define MAX_ROUNDS 99
#define BUCKET	   "FLEET_BENCH"

struct options {
	unsigned publishes;
	const char *build;
	const char *rules;
};

static const struct cli_option options[] = {
    {.name = "publishes",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, publishes),
     .min = 1,
     .max = MAX_ROUNDS,
     .value_name = "N",
     .help = "publishes per mode, median reported (default 7)"},
    {.name = "build",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, build),
     .value_name = "DIR",
     .help = "the build directory with sluice, sluicectl, sluice-pack (default build)"},
    {.name = "rules",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, rules),
     .value_name = "YAML",
     .help = "the rule file compiled into each pack (default patterns/rules/default.yaml)"},
};

static const struct cli_program program = {
    .name = "sluice-fleet-bench",
    .usage_head = "usage: sluice-fleet-bench [--publishes N] [--build DIR] [--rules YAML]\n\n"
		  "Time from `sluicectl fleet publish` to every one of three gateways running"
		  " the new pack; starts its own nats-server and daemons.\n\n",
    .usage_tail = "\nPrints one JSON object on stdout.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 20,
};

static const char *const names[GATEWAYS] = {"bench-canary", "bench-main-1", "bench-main-2"};
static const char *const groups[GATEWAYS] = {"canary", "main", "main"};
static pid_t gw_pid[GATEWAYS];
static struct ts_nats nats;
static char dir[] = "/tmp/sluice-fleet-bench-XXXXXX";

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static pid_t spawn(const char *const *argv, const char *log)
{
	pid_t pid = fork();
	if (pid == 0) {
		/* Gateways go with the bench, however it ends. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static int run(const char *const *argv, const char *log)
{
	int status = 0;
	pid_t pid = spawn(argv, log);
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void cleanup(void)
{
	for (unsigned i = 0; i < GATEWAYS; i++)
		if (gw_pid[i] > 0) {
			kill(gw_pid[i], SIGTERM);
			waitpid(gw_pid[i], NULL, 0);
			gw_pid[i] = 0;
		}
	ts_nats_stop(&nats);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "sluice-fleet-bench: could not remove %s\n", dir);
}

static int compile(const struct options *o, const char *version, char *pack, size_t cap,
		   const char *log)
{
	char yaml[600], tool[600], key[600], line[4096];
	snprintf(yaml, sizeof(yaml), "%s/%s.yaml", dir, version);
	snprintf(pack, cap, "%s/%s.pack", dir, version);
	snprintf(tool, sizeof(tool), "%s/patterns/sluice-pack", o->build);
	snprintf(key, sizeof(key), "%s/rel.key", dir);
	FILE *in = fopen(o->rules, "r"), *out = fopen(yaml, "w");
	if (in == NULL || out == NULL) {
		fprintf(stderr, "sluice-fleet-bench: %s: cannot read\n", o->rules);
		return -1;
	}
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "version:", 8) == 0)
			fprintf(out, "version: \"%s\"\n", version);
		else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	const char *c[] = {tool, "compile", yaml, "-o", pack, NULL};
	const char *s[] = {tool, "sign", pack, "--key", key, NULL};
	return run(c, log) == 0 && run(s, log) == 0 ? 0 : -1;
}

/* Polls until every gateway reports version in its main slot. */
static int wait_all(struct sluice_fleet *f, const char *version, double timeout_s)
{
	double end = sluice_mono_s() + timeout_s;
	while (sluice_mono_s() < end) {
		struct sluice_fleet_status *st = NULL;
		size_t n = 0;
		char err[256];
		unsigned ok = 0;
		if (sluice_fleet_list_status(f, &st, &n, NULL, err, sizeof(err)) == 0)
			for (size_t i = 0; i < n; i++)
				ok += strcmp(st[i].slot[0].version, version) == 0;
		free(st);
		if (ok == GATEWAYS)
			return 0;
		pause_ms(5);
	}
	return -1;
}

struct mode_result {
	double all_ms[MAX_ROUNDS], cmd_ms[MAX_ROUNDS];
};

static void print_stats(const char *key, const double *v, unsigned n, bool last)
{
	double lo = v[0], hi = v[0];
	for (unsigned i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	printf("\"%s\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"all\":[", key,
	       sluice_median(v, n), lo, hi);
	for (unsigned i = 0; i < n; i++)
		printf("%s%.1f", i ? "," : "", v[i]);
	printf("]}%s", last ? "" : ",");
}

int main(int argc, char **argv)
{
	struct options o = {
	    .publishes = 7, .build = "build", .rules = "patterns/rules/default.yaml"};
	char err[512];
	int status = cli_parse_main(&program, argc, argv, &o, NULL);
	if (status != CLI_MAIN_RUN)
		return status;
	char log[600], ctl[600], exe[600], tool[600], base[600], pub[600];
	if (mkdtemp(dir) == NULL)
		return 1;
	atexit(cleanup);
	snprintf(log, sizeof(log), "%s/bench.log", dir);
	snprintf(ctl, sizeof(ctl), "%s/control/sluicectl", o.build);
	snprintf(exe, sizeof(exe), "%s/dataplane/sluice", o.build);
	snprintf(tool, sizeof(tool), "%s/patterns/sluice-pack", o.build);
	snprintf(base, sizeof(base), "%s/rel", dir);
	snprintf(pub, sizeof(pub), "%s/rel.pub", dir);
	if (ts_nats_start(&nats, 1, dir, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-fleet-bench: %s\n", err);
		return 1;
	}
	const char *keygen[] = {tool, "keygen", base, NULL};
	char first[600];
	if (run(keygen, log) != 0 || compile(&o, "bench-0", first, sizeof(first), log) != 0) {
		fprintf(stderr, "sluice-fleet-bench: keygen or compile failed (see %s)\n", log);
		return 1;
	}
	struct stat sb;
	stat(first, &sb);
	for (unsigned i = 0; i < GATEWAYS; i++) {
		char prefix[64], sock[600], cache[600];
		snprintf(prefix, sizeof(prefix), "fleetbench%d-%u", (int)getpid(), i);
		snprintf(sock, sizeof(sock), "%s/gw%u.sock", dir, i);
		snprintf(cache, sizeof(cache), "%s/cache%u", dir, i);
		const struct ts_fleet_gateway gw = {.exe = exe,
						    .file_prefix = prefix,
						    .rules = first,
						    .trusted_key = pub,
						    .control_socket = sock,
						    .bus = nats.urls,
						    .bucket = BUCKET,
						    .name = names[i],
						    .group = groups[i],
						    .cache = cache,
						    .heartbeat_ms = "500"};
		const char *a[TS_FLEET_GATEWAY_ARGS];
		ts_fleet_gateway_argv(&gw, NULL, a);
		gw_pid[i] = spawn(a, log);
	}
	struct sluice_fleet *f =
	    sluice_fleet_open(nats.urls, NULL, BUCKET, 1, 3000, err, sizeof(err));
	if (f == NULL || wait_all(f, "bench-0", 60) != 0) {
		fprintf(stderr, "sluice-fleet-bench: gateways did not come up (see %s)\n", log);
		return 1;
	}
	static const char *const modes[2] = {"at_once", "staged_hold_0"};
	struct mode_result res[2];
	unsigned version = 1;
	for (unsigned m = 0; m < 2; m++) {
		for (unsigned r = 0; r < o.publishes; r++, version++) {
			char v[32], pack[600];
			snprintf(v, sizeof(v), "bench-%u", version);
			if (compile(&o, v, pack, sizeof(pack), log) != 0) {
				fprintf(stderr, "sluice-fleet-bench: compile failed (see %s)\n",
					log);
				return 1;
			}
			const char *p[] = {ctl,
					   "fleet",
					   "publish",
					   pack,
					   "--bus",
					   nats.urls,
					   "--bucket",
					   BUCKET,
					   "--wait",
					   "60",
					   m == 0 ? "--at-once" : "--hold",
					   m == 0 ? NULL : "0",
					   NULL};
			double t0 = sluice_mono_s();
			pid_t pid = spawn(p, log);
			if (wait_all(f, v, 60) != 0) {
				fprintf(stderr,
					"sluice-fleet-bench: %s never reached all (see %s)\n", v,
					log);
				return 1;
			}
			res[m].all_ms[r] = (sluice_mono_s() - t0) * 1e3;
			int status = 0;
			waitpid(pid, &status, 0);
			res[m].cmd_ms[r] = (sluice_mono_s() - t0) * 1e3;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				fprintf(stderr, "sluice-fleet-bench: publish %s failed (see %s)\n",
					v, log);
				return 1;
			}
		}
	}
	sluice_fleet_close(f);
	printf("{\"gateways\":%d,\"groups\":{\"canary\":1,\"main\":2},\"publishes\":%u,"
	       "\"pack_bytes\":%lld,",
	       GATEWAYS, o.publishes, (long long)sb.st_size);
	for (unsigned m = 0; m < 2; m++) {
		char key[64];
		printf("\"%s\":{", modes[m]);
		print_stats("publish_to_all_running_ms", res[m].all_ms, o.publishes, false);
		snprintf(key, sizeof(key), "publish_command_ms");
		print_stats(key, res[m].cmd_ms, o.publishes, true);
		printf("}%s", m == 0 ? "," : "");
	}
	printf("}\n");
	return 0;
}
