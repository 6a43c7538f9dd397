/* Packs through the bus, end to end: three sluice daemons (net_ring ports,
 * no hugepages) watch one pack source on a real nats-server, one in group
 * canary and two in group main; `sluicectl fleet` rolls packs out to them.
 *
 * - a signed pack reaches the canary first (the main group still runs the
 *   old one during the hold), then every gateway;
 * - a tampered pack staged is refused by the canary and never reaches main;
 *   a tampered and an unsigned pack sent to every group at once are refused
 *   by all three, each keeping its pack, with the reason in `fleet status`;
 * - `fleet rollback` brings all three back to the previous pack;
 * - the urgent slot is pushed to every group at once.
 *
 * The daemons and every sluicectl run are child processes; the test reads
 * the status bucket itself to see the order things happen in. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fleet_gateway.h"
#include "fleet_store.h"
#include "nats_security.h"
#include "nats_server.h"
#include "child_process.h"
#include "test_support.h"

#define GATEWAYS 3
#define BUCKET	 "FLEET_TEST"

static const char *const names[GATEWAYS] = {"gw-canary", "gw-main-1", "gw-main-2"};
static const char *const groups[GATEWAYS] = {"canary", "main", "main"};

static struct {
	struct ts_nats nats;
	char *dir;
	pid_t pid[GATEWAYS];
	struct sluice_fleet *f;
} R;

static char *in_dir(const char *name)
{
	char *p = NULL;
	cr_assert_geq(asprintf(&p, "%s/%s", R.dir, name), 0);
	return p;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "rb");
	cr_assert_not_null(fp, "%s", path);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	rewind(fp);
	char *buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void write_all(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	cr_assert_not_null(fp, "%s", path);
	cr_assert_eq(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* Runs a project program to completion; returns its exit status. */
static int run_tool(const char *const *argv, char **output)
{
	return ts_run((char *const *)argv, 120, output);
}

/* rel.key and rel.pub in the test's directory: the release key packs are
 * signed with (make_pack) and the gateways trust. */
static void make_release_key(void)
{
	char *tool = ts_build_path("patterns/sluice-pack"), *key_base = in_dir("rel"), *out = NULL;
	const char *keygen[] = {tool, "keygen", key_base, NULL};
	cr_assert_eq(run_tool(keygen, &out), 0, "%s", out);
	free(out);
	free(key_base);
	free(tool);
}

/* rules/default.yaml with another version, compiled to NAME.pack (signed
 * with rel.key when sign). */
static char *make_pack(const char *rules_rel, const char *name, const char *version, bool sign)
{
	char *src = ts_source_path(rules_rel), *yaml_path, *pack_path, *out = NULL;
	char *text = read_all(src);
	char *v = strstr(text, "\nversion: ");
	cr_assert_not_null(v);
	char *eol = strchr(v + 1, '\n');
	char *yaml = NULL;
	cr_assert_geq(
	    asprintf(&yaml, "%.*s\nversion: \"%s\"%s", (int)(v - text), text, version, eol), 0);
	char file[64];
	snprintf(file, sizeof(file), "%s.yaml", name);
	yaml_path = in_dir(file);
	write_all(yaml_path, yaml, strlen(yaml));
	snprintf(file, sizeof(file), "%s.pack", name);
	pack_path = in_dir(file);
	char *tool = ts_build_path("patterns/sluice-pack");
	const char *compile[] = {tool, "compile", yaml_path, "-o", pack_path, NULL};
	cr_assert_eq(run_tool(compile, &out), 0, "%s", out);
	free(out);
	if (sign) {
		char *key = in_dir("rel.key");
		const char *sign_argv[] = {tool, "sign", pack_path, "--key", key, NULL};
		cr_assert_eq(run_tool(sign_argv, &out), 0, "%s", out);
		free(out);
		free(key);
	}
	free(tool);
	free(yaml);
	free(text);
	free(src);
	free(yaml_path);
	return pack_path;
}

/* Gateway i with rules, and more options (NULL-ended, may be NULL). */
static void start_gateway_with(unsigned i, const char *rules, const char *const *more)
{
	char *exe = ts_build_path("dataplane/sluice");
	char prefix[64], sock[32], cache[32], audit[32], logname[32];
	snprintf(prefix, sizeof(prefix), "fleet%d-%u", (int)getpid(), i);
	snprintf(sock, sizeof(sock), "gw%u.sock", i);
	snprintf(cache, sizeof(cache), "cache%u", i);
	snprintf(audit, sizeof(audit), "audit%u.jsonl", i);
	snprintf(logname, sizeof(logname), "gw%u.log", i);
	char *sock_path = in_dir(sock), *cache_path = in_dir(cache), *audit_path = in_dir(audit);
	char *log_path = in_dir(logname), *pub = in_dir("rel.pub");
	const struct ts_fleet_gateway gw = {.exe = exe,
					    .file_prefix = prefix,
					    .rules = rules,
					    .trusted_key = pub,
					    .control_socket = sock_path,
					    .audit_log = audit_path,
					    .bus = R.nats.urls,
					    .bucket = BUCKET,
					    .name = names[i],
					    .group = groups[i],
					    .cache = cache_path,
					    .heartbeat_ms = "300"};
	const char *argv[TS_FLEET_GATEWAY_ARGS];
	ts_fleet_gateway_argv(&gw, more, argv);
	/* Dies with the test, whatever ends it (child_process.h). */
	R.pid[i] = ts_spawn((char *const *)argv, log_path);
	free(exe);
	free(sock_path);
	free(cache_path);
	free(audit_path);
	free(log_path);
	free(pub);
}

static void start_gateway(unsigned i, const char *rules)
{
	start_gateway_with(i, rules, NULL);
}

static void stop_gateways(void)
{
	for (unsigned i = 0; i < GATEWAYS; i++)
		if (R.pid[i] > 0)
			kill(R.pid[i], SIGTERM);
	double end = sluice_mono_s() + 10;
	for (unsigned i = 0; i < GATEWAYS; i++) {
		while (R.pid[i] > 0) {
			if (waitpid(R.pid[i], NULL, WNOHANG) == R.pid[i]) {
				R.pid[i] = 0;
			} else if (sluice_mono_s() > end) {
				kill(R.pid[i], SIGKILL);
				waitpid(R.pid[i], NULL, 0);
				R.pid[i] = 0;
			} else {
				sleep_ms(20);
			}
		}
	}
}

/* Stops every gateway with SIGTERM and checks that each exits 0 (under
 * the sanitizers: no error, no leak). */
static void stop_gateways_cleanly(void)
{
	for (unsigned i = 0; i < GATEWAYS; i++)
		if (R.pid[i] > 0)
			kill(R.pid[i], SIGTERM);
	for (unsigned i = 0; i < GATEWAYS; i++) {
		if (R.pid[i] <= 0)
			continue;
		int status = 0;
		cr_assert_eq(waitpid(R.pid[i], &status, 0), R.pid[i]);
		R.pid[i] = 0;
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "%s exit status %d (see gw%u.log)", names[i], status, i);
	}
}

static void fini(void)
{
	stop_gateways();
	sluice_fleet_close(R.f);
	R.f = NULL;
	ts_nats_stop(&R.nats);
	ts_rmtree(R.dir);
	free(R.dir);
}

/* The three gateways' statuses, by index; false when one is missing. */
static bool snapshot(struct sluice_fleet_status out[GATEWAYS])
{
	struct sluice_fleet_status *all = NULL;
	size_t n = 0;
	char err[512];
	if (sluice_fleet_list_status(R.f, &all, &n, NULL, err, sizeof(err)) != 0)
		return false;
	unsigned found = 0;
	for (unsigned i = 0; i < GATEWAYS; i++)
		for (size_t j = 0; j < n; j++)
			if (strcmp(all[j].name, names[i]) == 0) {
				out[i] = all[j];
				found++;
			}
	free(all);
	return found == GATEWAYS;
}

/* Waits until every gateway runs version in slot s; false after timeout_s. */
static bool all_run(int s, const char *version, double timeout_s)
{
	double end = sluice_mono_s() + timeout_s;
	struct sluice_fleet_status st[GATEWAYS];
	while (sluice_mono_s() < end) {
		if (snapshot(st)) {
			unsigned ok = 0;
			for (unsigned i = 0; i < GATEWAYS; i++)
				ok += strcmp(st[i].slot[s].version, version) == 0;
			if (ok == GATEWAYS)
				return true;
		}
		sleep_ms(50);
	}
	return false;
}

static void assert_contains(const char *text, const char *want)
{
	cr_assert(text != NULL && strstr(text, want) != NULL, "expected '%s' in:\n%s", want,
		  text ? text : "(null)");
}

/* sluicectl fleet ARGS... --bus URLS --bucket BUCKET, to completion. */
static int fleet(char **output, const char *a1, const char *a2, const char *a3, const char *a4,
		 const char *a5, const char *a6, const char *a7, const char *a8)
{
	char *ctl = ts_build_path("control/sluicectl");
	const char *argv[20] = {ctl, "fleet", "--bus", R.nats.urls, "--bucket", BUCKET};
	size_t n = 6;
	const char *more[] = {a1, a2, a3, a4, a5, a6, a7, a8};
	for (size_t i = 0; i < 8 && more[i] != NULL; i++)
		argv[n++] = more[i];
	argv[n] = NULL;
	int rc = run_tool(argv, output);
	free(ctl);
	return rc;
}

/* The reply of the daemon on socket gwI.sock to a request (status, stats). */
static char *daemon_status_request(unsigned i, const char *request)
{
	char *ctl = ts_build_path("control/sluicectl"), sock[32], *out = NULL;
	snprintf(sock, sizeof(sock), "gw%u.sock", i);
	char *sock_path = in_dir(sock);
	const char *argv[] = {ctl, "-s", sock_path, "--json", request, NULL};
	double end = sluice_mono_s() + 30;
	int rc;
	while ((rc = run_tool(argv, &out)) != 0 && sluice_mono_s() < end) {
		free(out);
		out = NULL;
		sleep_ms(100);
	}
	cr_assert_eq(rc, 0, "%s", out);
	free(ctl);
	free(sock_path);
	return out;
}

static char *daemon_status(unsigned i)
{
	return daemon_status_request(i, "status");
}

Test(fleet, three_gateways_canary_first_refusals_rollback_and_urgent, .fini = fini, .timeout = 240)
{
	char err[512], *out = NULL;
	double t_start = sluice_mono_s();
	R.dir = ts_make_tmpdir("fleet");
	cr_assert_eq(ts_nats_start(&R.nats, 1, R.dir, err, sizeof(err)), 0, "%s", err);

	make_release_key();
	char *v1 = make_pack("patterns/rules/default.yaml", "v1", "fleet-v1", true);
	char *v2 = make_pack("patterns/rules/default.yaml", "v2", "fleet-v2", true);
	char *v2b = make_pack("patterns/rules/default.yaml", "v2b", "fleet-v2b", true);
	char *v3 = make_pack("patterns/rules/default.yaml", "v3", "fleet-v3", true);
	char *unsigned_pack =
	    make_pack("patterns/rules/default.yaml", "v4", "fleet-unsigned", false);
	char *urgent = make_pack("patterns/rules/flag-phones.yaml", "u1", "notices-1", true);
	/* Tampered: one byte of the signed v3's signature trailer flipped; the
	 * body and its hash are intact, so only the signature can tell. */
	char *tampered = in_dir("tampered.pack");
	{
		FILE *fp = fopen(v3, "rb");
		cr_assert_not_null(fp);
		fseek(fp, 0, SEEK_END);
		long n = ftell(fp);
		rewind(fp);
		char *bytes = malloc((size_t)n);
		cr_assert_eq(fread(bytes, 1, (size_t)n, fp), (size_t)n);
		fclose(fp);
		bytes[n - 10] ^= 0x5a;
		write_all(tampered, bytes, (size_t)n);
		free(bytes);
	}

	for (unsigned i = 0; i < GATEWAYS; i++)
		start_gateway(i, v1);
	R.f = sluice_fleet_open(R.nats.urls, NULL, BUCKET, 1, 3000, err, sizeof(err));
	cr_assert_not_null(R.f, "%s", err);
	cr_assert(all_run(0, "fleet-v1", 60), "the three gateways did not report fleet-v1");
	double t_up = sluice_mono_s();

	/* 0. The fleet's first target: the pack they run from their files, so
	 * that later targets have a previous one to roll back to. */
	cr_assert_eq(fleet(&out, "publish", v1, "--at-once", "--wait", "30", NULL, NULL, NULL), 0,
		     "%s", out);
	assert_contains(out, "group main: 2 gateways running fleet-v1");
	free(out);

	/* 1. Staged: the canary first, the main group only after the hold. */
	char *ctl = ts_build_path("control/sluicectl");
	char *pub_log = in_dir("publish.log");
	const char *publish[] = {ctl,	      "fleet",	  "publish", v2,	 "--bus",
				 R.nats.urls, "--bucket", BUCKET,    "--groups", "canary,main",
				 "--hold",    "2",	  "--wait",  "30",	 NULL};
	double publish_started = sluice_mono_s();
	pid_t pub = ts_spawn((char *const *)publish, pub_log);
	bool canary_alone = false, main_before_canary = false;
	int status = 0;
	while (waitpid(pub, &status, WNOHANG) != pub) {
		struct sluice_fleet_status st[GATEWAYS];
		if (snapshot(st)) {
			bool c = strcmp(st[0].slot[0].version, "fleet-v2") == 0;
			bool m1 = strcmp(st[1].slot[0].version, "fleet-v2") == 0;
			bool m2 = strcmp(st[2].slot[0].version, "fleet-v2") == 0;
			if (c && !m1 && !m2)
				canary_alone = true;
			if ((m1 || m2) && !c)
				main_before_canary = true;
		}
		sleep_ms(50);
	}
	double staged_s = sluice_mono_s() - publish_started;
	char *log = read_all(pub_log);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "publish failed:\n%s", log);
	assert_contains(log, "group canary: 1 gateway running fleet-v2");
	assert_contains(log, "holding 2 s");
	assert_contains(log, "group main: 2 gateways running fleet-v2");
	cr_assert(canary_alone, "never saw the canary on fleet-v2 alone:\n%s", log);
	cr_assert(!main_before_canary, "a main gateway ran fleet-v2 before the canary");
	cr_assert(all_run(0, "fleet-v2", 5));
	free(log);

	/* 1b. A rise during the hold stops the rollout: once the canary runs
	 * fleet-v2b, it is made to refuse something else (a manifest that does
	 * not parse, in its urgent slot); the rollout sees its refusals rise,
	 * puts the canary back on fleet-v2, and main never gets fleet-v2b. */
	const char *publish_b[] = {ctl,		"fleet",    "publish", v2b,	   "--bus",
				   R.nats.urls, "--bucket", BUCKET,    "--groups", "canary,main",
				   "--hold",	"20",	    "--wait",  "30",	   NULL};
	pub = ts_spawn((char *const *)publish_b, pub_log);
	bool canary_on_b = false, main_on_b = false;
	double give_up = sluice_mono_s() + 30;
	while (waitpid(pub, &status, WNOHANG) != pub) {
		struct sluice_fleet_status st[GATEWAYS];
		if (snapshot(st)) {
			char *so_far = canary_on_b ? NULL : read_all(pub_log);
			/* Once the hold has begun: its baseline is taken by then. */
			if (!canary_on_b && strcmp(st[0].slot[0].version, "fleet-v2b") == 0 &&
			    strstr(so_far, "holding 20 s") != NULL) {
				canary_on_b = true;
				cr_assert_eq(sluice_fleet_raw_put(R.f, "target.urgent.canary", "{",
								  1, err, sizeof(err)),
					     0, "%s", err);
			}
			free(so_far);
			main_on_b |= strcmp(st[1].slot[0].version, "fleet-v2b") == 0 ||
				     strcmp(st[2].slot[0].version, "fleet-v2b") == 0;
		}
		if (sluice_mono_s() > give_up)
			kill(pub, SIGKILL);
		sleep_ms(50);
	}
	log = read_all(pub_log);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "publish did not stop:\n%s", log);
	cr_assert(canary_on_b, "%s", log);
	cr_assert(!main_on_b, "main ran fleet-v2b:\n%s", log);
	assert_contains(log,
			"gw-canary (group canary): refusals rose during the rollout (refusals ");
	assert_contains(log, "bad manifest: not a JSON object");
	assert_contains(log, "group canary: back on sluice-default fleet-v2");
	free(log);
	cr_assert(all_run(0, "fleet-v2", 5));

	/* 2. Tampered, staged: the canary refuses, the rollout stops before
	 * main, and the canary's target is put back. */
	cr_assert_eq(fleet(&out, "publish", tampered, "--hold", "1", "--wait", "30", NULL, NULL), 1,
		     "%s", out);
	assert_contains(out, "gw-canary refused it: ");
	assert_contains(out, "does not verify; the pack was altered after signing");
	assert_contains(out, "group canary: back on sluice-default fleet-v2");
	cr_assert(strstr(out, "group main: main target set") == NULL, "main was given it:\n%s",
		  out);
	free(out);
	struct sluice_fleet_target t;
	cr_assert_eq(sluice_fleet_get_target(R.f, "main", "main", &t, err, sizeof(err)), 1);
	cr_assert_str_eq(t.pack.version, "fleet-v2");
	cr_assert_eq(sluice_fleet_get_target(R.f, "main", "canary", &t, err, sizeof(err)), 1);
	cr_assert_str_eq(t.pack.version, "fleet-v2");
	cr_assert_str_eq(t.action, "revert");
	cr_assert_str_eq(t.previous.version, "fleet-v1", "a revert keeps the old previous");

	/* 3. Tampered and unsigned, to every group at once: all three refuse,
	 * and keep running fleet-v2. */
	static const struct {
		const char *what, *reason;
	} bad[] = {{"tampered", "does not verify; the pack was altered after signing"},
		   {"unsigned", "pack is not signed and this daemon requires signed packs"}};
	for (unsigned b = 0; b < 2; b++) {
		struct sluice_fleet_status before[GATEWAYS], after[GATEWAYS];
		cr_assert(snapshot(before));
		cr_assert_eq(fleet(&out, "publish", b == 0 ? tampered : unsigned_pack, "--at-once",
				   "--wait", "30", NULL, NULL, NULL),
			     1, "%s", out);
		assert_contains(out, "group canary: 1 of 1 gateways refused it");
		assert_contains(out, "group main: 2 of 2 gateways refused it");
		assert_contains(out, bad[b].reason);
		free(out);
		cr_assert(snapshot(after));
		for (unsigned i = 0; i < GATEWAYS; i++) {
			cr_assert_str_eq(after[i].slot[0].version, "fleet-v2", "%s: %s", names[i],
					 bad[b].what);
			cr_assert_gt(after[i].refusals, before[i].refusals, "%s", names[i]);
			cr_assert(after[i].has_refusal);
			assert_contains(after[i].refused_reason, bad[b].reason);
		}
	}
	cr_assert_eq(fleet(&out, "status", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 0, "%s", out);
	for (unsigned i = 0; i < GATEWAYS; i++)
		assert_contains(out, names[i]);
	assert_contains(out, "main fleet-unsigned: pack is not signed");
	assert_contains(out, "running  fleet-v2");
	assert_contains(out, "bucket " BUCKET ": 1 replica\n");
	free(out);
	cr_assert_eq(fleet(&out, "status", "--json", NULL, NULL, NULL, NULL, NULL, NULL), 0, "%s",
		     out);
	assert_contains(out, "\"state\":\"running\"");
	assert_contains(out, "{\"bucket\":{\"name\":\"" BUCKET "\",\"replicas\":1},");
	assert_contains(out, "\"last_refusal\":{\"slot\":\"main\"");
	free(out);

	/* 4. One command rolls the fleet back to fleet-v1. */
	double t_rb = sluice_mono_s();
	cr_assert_eq(fleet(&out, "rollback", "--wait", "30", NULL, NULL, NULL, NULL, NULL), 0, "%s",
		     out);
	assert_contains(out, "group canary: main target back to fleet-v1");
	assert_contains(out, "group main: main target back to fleet-v1");
	free(out);
	cr_assert(all_run(0, "fleet-v1", 5));
	double rollback_s = sluice_mono_s() - t_rb;
	char *audit_path = in_dir("audit1.jsonl");
	char *audit = read_all(audit_path);
	assert_contains(audit, "\"by\":\"fleet\"");
	assert_contains(audit, "\"version\":\"fleet-v1\",\"sha256\"");
	assert_contains(audit, "\"result\":\"refused\"");
	free(audit);
	free(audit_path);

	/* 5. The urgent slot, to every group at once. */
	double t_u = sluice_mono_s();
	cr_assert_eq(
	    fleet(&out, "publish", urgent, "--slot", "urgent", "--at-once", "--wait", "30", NULL),
	    0, "%s", out);
	double urgent_s = sluice_mono_s() - t_u;
	free(out);
	cr_assert(all_run(1, "notices-1", 5));
	cr_assert(all_run(0, "fleet-v1", 1), "the urgent slot touched main");

	out = daemon_status_request(0, "stats");
	assert_contains(out, "\"fleet\":true,\"fleet_connected\":true,\"fleet_group\":\"canary\"");
	assert_contains(out, "\"fleet_last_refusal\":\"pack is not signed");
	free(out);
	stop_gateways_cleanly();
	/* Gateways gone: three heartbeats later they are stale, and the
	 * status's exit says the fleet is not running its targets. */
	cr_assert_eq(fleet(&out, "status", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 0, "%s", out);
	free(out);
	sleep_ms(1200);
	cr_assert_eq(fleet(&out, "status", NULL, NULL, NULL, NULL, NULL, NULL, NULL), 1, "%s", out);
	assert_contains(out, "gw-main-2        main       stale");
	free(out);
	/* 6. A canary whose gateway is stale proves nothing: the staged
	 * rollout waits for it, then stops before main and puts the canary's
	 * target back. At once, nothing waits for stale gateways. */
	cr_assert_eq(
	    fleet(&out, "publish", v3, "--groups", "canary,main", "--hold", "0", "--wait", "2"), 1,
	    "%s", out);
	assert_contains(out, "group canary: no live gateway took it in 2 s, so it proves nothing "
			     "for the groups after it (stale: gw-canary)");
	assert_contains(out, "group canary: back on sluice-default fleet-v1");
	cr_assert(strstr(out, "group main:") == NULL, "main was reached:\n%s", out);
	free(out);
	cr_assert_eq(sluice_fleet_get_target(R.f, "main", "main", &t, err, sizeof(err)), 1, "%s",
		     err);
	cr_assert_str_eq(t.pack.version, "fleet-v1");
	cr_assert_eq(fleet(&out, "publish", v3, "--at-once", "--wait", "2", NULL, NULL, NULL), 0,
		     "%s", out);
	assert_contains(out, "group canary: 0 gateways running fleet-v3");
	assert_contains(out, "group main: 0 gateways running fleet-v3");
	free(out);
	cr_log_info(
	    "fleet: 3 gateways up %.1f s; staged publish (hold 2 s) %.2f s; rollback %.2f s;"
	    " urgent at once %.2f s; whole test %.1f s",
	    t_up - t_start, staged_s, rollback_s, urgent_s, sluice_mono_s() - t_start);
	free(ctl);
	free(pub_log);
	free(v1);
	free(v2);
	free(v2b);
	free(v3);
	free(unsigned_pack);
	free(urgent);
	free(tampered);
}

static void stop_gateway(unsigned i)
{
	kill(R.pid[i], SIGTERM);
	int status = 0;
	cr_assert_eq(waitpid(R.pid[i], &status, 0), R.pid[i]);
	R.pid[i] = 0;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "gateway exit status %d", status);
}

/* A bus that is down costs nothing: the gateway starts on its local pack,
 * catches up when the bus comes, and after a restart with the bus down runs
 * what the fleet last gave it, from its cache, without loading it again
 * when the bus returns. */
Test(fleet, bus_down_at_start_and_restart_from_the_cache, .fini = fini, .timeout = 180)
{
	char err[512], *out = NULL;
	R.dir = ts_make_tmpdir("fleet-offline");
	cr_assert_eq(ts_nats_start(&R.nats, 1, R.dir, err, sizeof(err)), 0, "%s", err);
	ts_nats_node_kill(&R.nats, 0);

	make_release_key();
	char *v1 = make_pack("patterns/rules/default.yaml", "v1", "fleet-v1", true);
	char *v2 = make_pack("patterns/rules/default.yaml", "v2", "fleet-v2", true);

	start_gateway(0, v1);
	out = daemon_status(0);
	assert_contains(out, "\"version\":\"fleet-v1\"");
	free(out);

	cr_assert_eq(ts_nats_node_start(&R.nats, 0), 0);
	R.f = sluice_fleet_open(R.nats.urls, NULL, BUCKET, 1, 3000, err, sizeof(err));
	cr_assert_not_null(R.f, "%s", err);
	double end = sluice_mono_s() + 20;
	struct sluice_fleet_status *all = NULL;
	size_t n = 0;
	while (sluice_mono_s() < end) {
		cr_assert_eq(sluice_fleet_list_status(R.f, &all, &n, NULL, err, sizeof(err)), 0);
		free(all);
		if (n == 1)
			break;
		sleep_ms(100);
	}
	cr_assert_eq(n, 1, "the gateway did not report once the bus came");
	cr_assert_eq(fleet(&out, "publish", v2, "--groups", "canary", "--wait", "30", NULL, NULL),
		     0, "%s", out);
	free(out);

	ts_nats_node_kill(&R.nats, 0);
	stop_gateway(0);
	start_gateway(0, v1); /* the local pack is still fleet-v1 */
	out = daemon_status(0);
	assert_contains(out, "\"version\":\"fleet-v2\"");
	free(out);
	char *log_path = in_dir("gw0.log");
	char *log = read_all(log_path);
	assert_contains(log, "sluice: fleet: main slot: sluice-default fleet-v2 from the cache");
	free(log);

	cr_assert_eq(ts_nats_node_start(&R.nats, 0), 0);
	sluice_fleet_close(R.f);
	R.f = sluice_fleet_open(R.nats.urls, NULL, BUCKET, 1, 3000, err, sizeof(err));
	cr_assert_not_null(R.f, "%s", err);
	end = sluice_mono_s() + 20;
	struct sluice_fleet_status st = {0};
	while (sluice_mono_s() < end) {
		cr_assert_eq(sluice_fleet_list_status(R.f, &all, &n, NULL, err, sizeof(err)), 0);
		if (n == 1)
			st = all[0];
		free(all);
		if (n == 1 && strcmp(st.slot[0].result, "ok") == 0 && st.boot_ns != 0 &&
		    st.slot[0].target_rev > 0)
			break;
		sleep_ms(100);
	}
	cr_assert_str_eq(st.slot[0].version, "fleet-v2");
	cr_assert_str_eq(st.slot[0].result, "ok");
	cr_assert_neq(st.slot[0].file_sha[0], '\0', "the cached pack is known as the fleet's");
	/* Already in force: no second load by the fleet after the start. */
	char *audit_path = in_dir("audit0.jsonl");
	char *audit = read_all(audit_path);
	const char *last_start = strstr(audit, "\"by\":\"startup\"");
	const char *p = last_start;
	while (p != NULL && (p = strstr(p + 1, "\"by\":\"startup\"")) != NULL)
		last_start = p;
	cr_assert_not_null(last_start);
	const char *cached = strstr(last_start, "\"by\":\"fleet\"");
	cr_assert_not_null(cached, "the cache load is audited as the fleet's:\n%s", audit);
	cr_assert_null(strstr(cached + 1, "\"by\":\"fleet\""), "loaded again:\n%s", audit);
	free(audit);
	free(audit_path);
	free(log_path);
	free(v1);
	free(v2);
}

/* The server configuration of the permissions test: the operator may do
 * anything; the gateway may read everything but, while `deny`, the packs'
 * chunks (a direct get names the key in its subject). The whole of it, name
 * and store too, so that the server can read it again (SIGHUP). */
static void write_acl_conf(const char *path, bool deny)
{
	FILE *c = fopen(path, "w");
	cr_assert_not_null(c);
	char head[1024];
	ts_nats_config_head(head, sizeof(head), R.dir);
	fputs(head, c);
	fprintf(c,
		"authorization {\n"
		"  users = [\n"
		"    { user: \"op\", password: \"op-pass\" }\n"
		"    { user: \"gw\", password: \"gw-pass\", permissions: {\n"
		"        publish: { allow: \">\"%s }\n"
		"        subscribe: \">\" } }\n"
		"  ]\n"
		"}\n",
		deny ? ", deny: [\"$JS.API.DIRECT.GET.KV_" BUCKET ".$KV." BUCKET ".blob.>\", "
		       "\"$JS.API.STREAM.MSG.GET.KV_" BUCKET "\"]"
		     : "");
	fclose(c);
}

/* A fetch the bus fails (here the gateway may not read the chunks: an
 * operator's mistake in the server's permissions) is not a refusal of the
 * pack: the gateway keeps its pack, says in its status that it will try
 * again, and once the permissions are mended (the server's file changed and
 * reloaded, nothing published again) it fetches and runs the target. */
Test(fleet, a_fetch_the_bus_fails_is_tried_again_until_it_succeeds, .fini = fini, .timeout = 180)
{
	char err[512], *out = NULL;
	R.dir = ts_make_tmpdir("fleet-acl");
	char *conf = in_dir("nats.conf");
	write_acl_conf(conf, true);
	cr_assert_eq(ts_nats_start_configured(&R.nats, R.dir, conf, err, sizeof(err)), 0, "%s",
		     err);
	char *op = ts_write_secret(R.dir, "op.user", "op:op-pass\n", 0600);
	char *gw = ts_write_secret(R.dir, "gw.user", "gw:gw-pass\n", 0600);
	struct sluice_nats_security op_sec = {.user_file = op};
	R.f = sluice_fleet_open(R.nats.urls, &op_sec, BUCKET, 1, 3000, err, sizeof(err));
	cr_assert_not_null(R.f, "%s", err);

	make_release_key();
	char *v1 = make_pack("patterns/rules/default.yaml", "v1", "fleet-v1", true);
	char *v2 = make_pack("patterns/rules/default.yaml", "v2", "fleet-v2", true);
	const char *as_gw[] = {"--bus-user-file", gw, NULL};
	start_gateway_with(0, v1, as_gw);

	/* The target, as sluicectl fleet publish writes it (which would roll
	 * back when the gateway does not follow). */
	struct sluice_fleet_target t = {.slot = "main", .group = "canary", .action = "publish"};
	char *bytes = read_all(v2);
	struct stat sb;
	cr_assert_eq(stat(v2, &sb), 0);
	cr_assert_eq(sluice_fleet_put_pack(R.f, (const uint8_t *)bytes, (size_t)sb.st_size, &t.pack,
					   err, sizeof(err)),
		     0, "%s", err);
	snprintf(t.pack.name, sizeof(t.pack.name), "sluice-default");
	snprintf(t.pack.version, sizeof(t.pack.version), "fleet-v2");
	cr_assert_eq(sluice_fleet_put_target(R.f, &t, err, sizeof(err)), 0, "%s", err);

	struct sluice_fleet_status *all = NULL, st = {0};
	size_t n = 0;
	bool told = false;
	for (double end = sluice_mono_s() + 30; !told && sluice_mono_s() < end; sleep_ms(100)) {
		cr_assert_eq(sluice_fleet_list_status(R.f, &all, &n, NULL, err, sizeof(err)), 0);
		if (n == 1)
			st = all[0];
		free(all);
		told = n == 1 &&
		       strstr(st.slot[0].reason, "fetch failed, trying again: chunk 1 of") != NULL;
	}
	cr_assert(told, "no retry announced: result '%s', reason '%s'", st.slot[0].result,
		  st.slot[0].reason);
	cr_assert_str_neq(st.slot[0].result, "refused", "a bus failure refused the pack");
	out = daemon_status(0);
	assert_contains(out, "\"version\":\"fleet-v1\"");
	free(out);

	/* Mended as an operator would: the same users, the deny gone, and the
	 * server told to read its file again (SIGHUP). Nothing is published
	 * again and the gateway keeps its connection. */
	write_acl_conf(conf, false);
	cr_assert_eq(ts_nats_node_reload(&R.nats, 0), 0,
		     "nats-server refused its file (see %s/n1.log)", R.dir);
	bool runs = false;
	for (double end = sluice_mono_s() + 40; !runs && sluice_mono_s() < end; sleep_ms(100)) {
		if (sluice_fleet_list_status(R.f, &all, &n, NULL, err, sizeof(err)) != 0)
			continue;
		if (n == 1)
			st = all[0];
		free(all);
		runs = n == 1 && strcmp(st.slot[0].version, "fleet-v2") == 0 &&
		       strcmp(st.slot[0].result, "ok") == 0;
	}
	cr_assert(runs, "not running fleet-v2 after the permissions were mended: %s, '%s'",
		  st.slot[0].result, st.slot[0].reason);
	out = daemon_status(0);
	assert_contains(out, "\"version\":\"fleet-v2\"");
	free(out);
	free(bytes);
	free(v1);
	free(v2);
	free(op);
	free(gw);
	free(conf);
}

/* Every bad invocation has its own message and exit status 2, before any
 * bus is contacted (there is none here). */
Test(fleet, sluicectl_fleet_refuses_bad_input_before_the_bus)
{
	char *ctl = ts_build_path("control/sluicectl"), *out = NULL;
	R.dir = ts_make_tmpdir("fleet-cli");
	char *cut = in_dir("cut.pack"), *text = in_dir("text.pack");
	write_all(cut, "SLUICEPK", 8);
	write_all(text, "hello, this is not a pack at all, but long enough for a header....", 66);
	static const struct {
		const char *args[6];
		const char *message;
	} cases[] = {
	    {{"publish", NULL}, "fleet publish needs a PACK"},
	    {{"status", "extra", NULL}, "fleet status takes no PACK"},
	    {{"publish", "x.pack", "--slot", "spare", NULL}, "--slot main or urgent, not 'spare'"},
	    {{"publish", "x.pack", "--groups", "canary,can.ary", NULL},
	     "--groups: 'can.ary' is not a group name"},
	    {{"publish", "x.pack", "--groups", "main,main", NULL}, "--groups: 'main' twice"},
	    {{"publish", "x.pack", "--hold", "-1", NULL}, "--hold: seconds, 0 to 86400"},
	    {{"publish", "x.pack", "--frobnicate", NULL}, "unknown option --frobnicate"},
	    {{"launch", NULL}, "unknown command 'launch'"},
	    {{"publish", "/nonexistent/x.pack", NULL}, "/nonexistent/x.pack: cannot open"},
	    {{"publish", "CUT", NULL}, "truncated pack: 8 bytes, shorter than the 56-byte header"},
	    {{"publish", "TEXT", NULL}, "not a Sluice pack"},
	    {{"status", NULL}, "nats://127.0.0.1:1: "},
	    {{"status", "--bus-ca", "/nonexistent/ca.pem", NULL},
	     "--bus-ca /nonexistent/ca.pem: cannot open"},
	    {{"status", "--bus-cert", "x.pem", NULL}, "--bus-cert and --bus-key go together"},
	    {{"status", "--bus-token", "x", NULL}, "unknown option --bus-token"},
	    {{"status", "--replicas", "0", NULL}, "--replicas: 1 to 5"},
	    {{"status", "--replicas", "6", NULL}, "--replicas: 1 to 5"},
	    {{"status", "--replicas", "3x", NULL}, "--replicas: 1 to 5"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[16] = {ctl, "fleet", "--bus", "nats://127.0.0.1:1"};
		size_t n = 4;
		for (size_t j = 0; j < 6 && cases[i].args[j] != NULL; j++) {
			const char *a = cases[i].args[j];
			argv[n++] = strcmp(a, "CUT") == 0 ? cut : strcmp(a, "TEXT") == 0 ? text : a;
		}
		argv[n] = NULL;
		int rc = run_tool(argv, &out);
		cr_assert_eq(rc, 2, "case %zu: exit %d:\n%s", i, rc, out);
		assert_contains(out, cases[i].message);
		free(out);
	}
	const char *no_bus[] = {ctl, "fleet", "status", NULL};
	unsetenv("SLUICE_PACK_SOURCE");
	cr_assert_eq(run_tool(no_bus, &out), 2);
	assert_contains(out, "--bus nats://HOST:PORT (or $SLUICE_PACK_SOURCE) is needed");
	free(out);
	free(cut);
	free(text);
	free(ctl);
	ts_rmtree(R.dir);
	free(R.dir);
	R.dir = NULL;
}

/* The analysts' spelling, `sluice-pack publish PACK --to nats://...`, is the
 * same rollout as `sluicectl fleet publish` (it hands over to it): the
 * targets it sets are the ones the gateways watch. */
Test(fleet, sluice_pack_publish_sets_the_targets_sluicectl_sets, .fini = fini, .timeout = 120)
{
	char err[512], *out = NULL;
	R.dir = ts_make_tmpdir("fleet-sp");
	cr_assert_eq(ts_nats_start(&R.nats, 1, R.dir, err, sizeof(err)), 0, "%s", err);
	char *pack = make_pack("patterns/rules/flag-phones.yaml", "sp", "sp-1", false);
	char *tool = ts_build_path("patterns/sluice-pack");
	unsetenv("SLUICE_PACK_SOURCE");

	const char *no_bus[] = {tool, "publish", pack, NULL};
	cr_assert_eq(run_tool(no_bus, &out), 2, "%s", out);
	assert_contains(out, "--to nats://HOST:PORT is needed");
	free(out);
	const char *help[] = {tool, "publish", "--help", NULL};
	cr_assert_eq(run_tool(help, &out), 0, "%s", out);
	assert_contains(out, "usage: sluice-pack publish PACK --to nats://");
	assert_contains(out, "Exit status");
	free(out);
	const char *missing[] = {tool, "publish", "/nonexistent/x.pack", "--to", R.nats.urls, NULL};
	cr_assert_eq(run_tool(missing, &out), 2, "%s", out);
	assert_contains(out, "/nonexistent/x.pack: cannot open");
	free(out);

	/* No gateway yet: every group converges at once. */
	const char *publish[] = {tool,		"publish",  pack,   "--to",
				 R.nats.urls,	"--bucket", BUCKET, "--groups",
				 "canary,main", "--hold",   "0",    NULL};
	cr_assert_eq(run_tool(publish, &out), 0, "%s", out);
	assert_contains(out, "stored sluice-flag-phones sp-1");
	free(out);
	R.f = sluice_fleet_open(R.nats.urls, NULL, BUCKET, 1, 3000, err, sizeof(err));
	cr_assert_not_null(R.f, "%s", err);
	const char *grp[] = {"canary", "main"};
	for (size_t i = 0; i < 2; i++) {
		struct sluice_fleet_target t;
		cr_assert_eq(sluice_fleet_get_target(R.f, "main", grp[i], &t, err, sizeof(err)), 1,
			     "%s: %s", grp[i], err);
		cr_assert_str_eq(t.pack.version, "sp-1");
		cr_assert_str_eq(t.action, "publish");
	}
	/* Two more releases, then a rollback past the previous one, to the
	 * first, by version and by hash prefix, from the targets' history. */
	char *ctl = ts_build_path("control/sluicectl");
	char *p2 = make_pack("patterns/rules/flag-phones.yaml", "sp2", "sp-2", false);
	char *p3 = make_pack("patterns/rules/flag-phones.yaml", "sp3", "sp-3", false);
	const char *pubs[2] = {p2, p3};
	for (unsigned k = 0; k < 2; k++) {
		const char *again[] = {ctl,	 "fleet",     "publish",  pubs[k],
				       "--bus",	 R.nats.urls, "--bucket", BUCKET,
				       "--hold", "0",	      NULL};
		cr_assert_eq(run_tool(again, &out), 0, "%s", out);
		free(out);
	}
	struct sluice_fleet_target first;
	const char *nope[] = {ctl,	  "fleet", "rollback", "--bus", R.nats.urls,
			      "--bucket", BUCKET,  "--pack",   "sp-9",	NULL};
	cr_assert_eq(run_tool(nope, &out), 1, "%s", out);
	assert_contains(out, "no main pack 'sp-9' in the last 8 targets");
	assert_contains(out, "nothing rolled back");
	free(out);
	cr_assert_eq(sluice_fleet_get_target(R.f, "main", "main", &first, err, sizeof(err)), 1);
	cr_assert_str_eq(first.pack.version, "sp-3", "a refused rollback moves no target");
	const char *to_first[] = {ctl,	       "fleet",	    "rollback", "--bus",
				  R.nats.urls, "--bucket",  BUCKET,	"--pack",
				  "sp-1",      "--no-wait", NULL};
	cr_assert_eq(run_tool(to_first, &out), 0, "%s", out);
	free(out);
	for (size_t i = 0; i < 2; i++) {
		struct sluice_fleet_target t;
		cr_assert_eq(sluice_fleet_get_target(R.f, "main", grp[i], &t, err, sizeof(err)), 1);
		cr_assert_str_eq(t.pack.version, "sp-1", "%s", grp[i]);
		cr_assert_str_eq(t.previous.version, "sp-3", "%s", grp[i]);
		cr_assert_str_eq(t.action, "rollback");
	}
	struct sluice_fleet_pack_ref by_sha;
	char prefix[13];
	snprintf(prefix, sizeof(prefix), "%.12s", first.previous.sha256); /* sp-2's */
	cr_assert_eq(
	    sluice_fleet_find_in_history(R.f, "main", "canary", prefix, &by_sha, err, sizeof(err)),
	    1, "%s", err);
	cr_assert_str_eq(by_sha.version, "sp-2");
	cr_assert_eq(
	    sluice_fleet_find_in_history(R.f, "main", "canary", "abc", &by_sha, err, sizeof(err)),
	    0, "a prefix under 6 digits names nothing");
	free(p2);
	free(p3);

	/* sp-1 is every target, sp-3 their previous: prune takes sp-2 alone. */
	const char *prune[] = {ctl,	    "fleet",	"prune", "--bus",
			       R.nats.urls, "--bucket", BUCKET,	 NULL};
	cr_assert_eq(run_tool(prune, &out), 0, "%s", out);
	assert_contains(out, "removed 1 chunk of 1 pack that nothing names");
	free(out);
	free(ctl);
	free(tool);
	free(pack);
}
