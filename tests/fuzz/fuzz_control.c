/* libFuzzer harness: the control protocol, from received bytes to replies.
 *
 * Feeds: input[0] picks how the rest is cut into the chunks recv() would
 * return (bit 7: one chunk per connection; else chunks of 1 to (input[0] & 0x7f)
 * + 1 bytes, sizes drawn from a generator seeded with input[0]). The rest is a
 * byte stream read the way control_clients.c reads a connection: chunks are
 * appended to a request buffer and sluice_ctl_line_scan() looks for the line.
 * A complete line is handled by sluice_control_handle_from() as a client's
 * request, and the bytes after its '\n' start the next connection (the daemon
 * ignores them; here they make more requests, at most 16 an input). A line too
 * long or holding a NUL ends its connection, as in the daemon. Then the whole
 * input goes to the JSON parser (control/json_value.h) as a document.
 *
 * The fixture is rebuilt for every input, so a crash replays alone: a registry
 * of 2 workers (fake stats and event rings, no DPDK) with a small pack (from
 * tests/fuzz/rules/urgent.yaml, compiled at start-up) loaded, a 64 MiB memory
 * cap, the watchdog hook, and an audit log to /dev/null. The harness runs in
 * an empty temporary directory, so request paths name nothing by accident;
 * the pack and a rule file sit beside it, as ../packs/small.pack and
 * ../packs/rules.yaml, for the seeds' reloads to find.
 *
 * Oracle (each violation calls abort(), which libFuzzer reports as a crash):
 * - sluice_ctl_line_scan() agrees with a reference reading of the bytes fed so
 *   far: NUL before any '\n', else a complete line (without "\r\n" or "\n"),
 *   else too long at SLUICE_CTL_MAX_REQUEST bytes, else partial;
 * - every reply is exactly one line (no '\n', no NUL inside, nothing lost to
 *   memory) of JSON that json_value.h parses into an object with a boolean
 *   "ok", and a string "error" when "ok" is false;
 * - no crash and no leak in the handlers, the registry or the JSON parser.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_log.h"
#include "control_clients.h"
#include "control_server.h"
#include "event_ring.h"
#include "json_value.h"
#include "pack_source.h"
#include "pack.h"
#include "ruleset_registry.h"
#include "strbuf.h"

#ifndef SLUICE_FUZZ_DIR
#define SLUICE_FUZZ_DIR "tests/fuzz"
#endif

#define WORKERS	     2
#define MAX_REQUESTS 16

#define DIR_MAX 1024

static char dir[DIR_MAX];
static char pack_path[DIR_MAX + 32];
static struct sluice_audit_log audit;
static struct sluice_event_ring *rings[WORKERS];
static struct sluice_worker_stats stats[WORKERS];

static void die(const char *what, const char *why)
{
	fprintf(stderr, "fuzz_control: %s: %s\n", what, why);
	exit(1);
}

static void remove_dir(void)
{
	char cmd[DIR_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_control: could not remove %s\n", dir);
}

/* Under $TMPDIR when it is set: run-fuzz.sh points it into the run's own
 * directory, which it removes, so a harness that stops at a crash (and runs
 * no exit handler) leaves nothing behind. */
static int make_dir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	if (tmp == NULL || tmp[0] == '\0' || strchr(tmp, '\'') != NULL ||
	    strlen(tmp) > DIR_MAX - 64)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/sluice-fuzz-%s-XXXXXX", tmp, tag);
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* The harness leaves the directory it was started in, so paths libFuzzer
 * takes from the command line (corpus directories, inputs, artifact and
 * dictionary paths) are made absolute first, and crash files get the old
 * directory as their prefix unless one was given. libFuzzer reads its
 * arguments after LLVMFuzzerInitialize() returns. */
static void absolute_arguments(int *argc, char ***argv)
{
	static const char *const path_flags[] = {
	    "-artifact_prefix=", "-exact_artifact_path=", "-dict=", NULL};
	char cwd[4096];
	bool has_prefix = false;

	if (getcwd(cwd, sizeof(cwd)) == NULL)
		die("getcwd", strerror(errno));
	char **args = calloc((size_t)*argc + 2, sizeof(*args));
	if (args == NULL)
		die("arguments", "out of memory");
	for (int i = 0; i < *argc; i++) {
		const char *arg = (*argv)[i];
		const char *value = arg;
		size_t flag_len = 0;
		if (arg[0] == '-') {
			value = NULL;
			for (int f = 0; path_flags[f] != NULL; f++) {
				size_t n = strlen(path_flags[f]);
				if (strncmp(arg, path_flags[f], n) == 0) {
					value = arg + n;
					flag_len = n;
					has_prefix |= f == 0;
				}
			}
		}
		args[i] = (char *)arg;
		if (i == 0 || value == NULL || value[0] == '/' || value[0] == '\0')
			continue;
		if (asprintf(&args[i], "%.*s%s/%s", (int)flag_len, arg, cwd, value) < 0)
			die("arguments", "out of memory");
	}
	if (!has_prefix && asprintf(&args[(*argc)++], "-artifact_prefix=%s/", cwd) < 0)
		die("arguments", "out of memory");
	*argv = args;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char rules[4096], cmd[8192], empty[DIR_MAX + 16], err[2048] = "";
	const char *fuzz_dir = getenv("SLUICE_FUZZ_DIR");
	struct sluice_pack *pack = NULL;

	absolute_arguments(argc, argv);
	if (make_dir("control") != 0)
		die("mkdtemp", strerror(errno));
	atexit(remove_dir);
	snprintf(rules, sizeof(rules), "%s/rules/urgent.yaml",
		 fuzz_dir != NULL ? fuzz_dir : SLUICE_FUZZ_DIR);
	snprintf(pack_path, sizeof(pack_path), "%s/packs/small.pack", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	snprintf(cmd, sizeof(cmd), "mkdir '%s/packs' '%s' && cp '%s' '%s/packs/rules.yaml'", dir,
		 empty, rules, dir);
	if (system(cmd) != 0)
		die(dir, "cannot set up");
	if (sluice_pack_load(rules, &pack, err, sizeof(err)) != 0 ||
	    sluice_pack_write(pack, pack_path, err, sizeof(err)) != 0)
		die(rules, err);
	sluice_pack_free(pack);
	if (chdir(empty) != 0)
		die(empty, strerror(errno));
	if (sluice_audit_open(&audit, "/dev/null", err, sizeof(err)) != 0)
		die("audit log", err);
	for (unsigned w = 0; w < WORKERS; w++) {
		rings[w] = sluice_event_ring_create(64);
		if (rings[w] == NULL)
			die("event ring", "out of memory");
	}
	return 0;
}

struct fixture {
	struct sluice_registry reg;
	struct sluice_control ctl;
};

static void drain(void *arg)
{
	sluice_control_drain(arg);
}

/* The daemon's kind of loader: compiled packs and rule files. */
static int load_any(const char *path, const struct sluice_load_limits *limits,
		    struct sluice_pack **out, char *err, size_t err_len, void *arg)
{
	(void)arg;
	return sluice_pack_load_within(path, NULL, limits, out, err, err_len);
}

static const struct sluice_actor fixture_actor = {.kind = SLUICE_ACTOR_DAEMON};

static void fixture_start(struct fixture *fx)
{
	char err[2048] = "";

	memset(fx, 0, sizeof(*fx));
	memset(stats, 0, sizeof(stats));
	sluice_registry_init(&fx->reg, WORKERS, 8);
	fx->reg.loader = load_any;
	fx->reg.audit = &audit;
	fx->reg.memory_cap = 64u << 20;
	fx->reg.check_workers = sluice_control_check_workers;
	fx->reg.drain = drain;
	fx->reg.hook_arg = &fx->ctl;
	fx->ctl.registry = &fx->reg;
	fx->ctl.worker_count = WORKERS;
	fx->ctl.stall_ms = 60000;
	fx->ctl.tsc_hz = 1000000000ull;
	for (unsigned w = 0; w < WORKERS; w++) {
		fx->ctl.stats[w] = &stats[w];
		fx->ctl.rings[w] = rings[w];
		fx->ctl.lcores[w] = w + 1;
	}
	if (sluice_control_open(&fx->ctl, NULL, err, sizeof(err)) != 0 ||
	    sluice_registry_load_slot(&fx->reg, SLUICE_SLOT_MAIN, pack_path, &fixture_actor, NULL,
				      err, sizeof(err)) != 0)
		die("fixture", err);
}

static void fixture_stop(struct fixture *fx)
{
	sluice_control_close(&fx->ctl);
	sluice_registry_destroy(&fx->reg);
}

static void check_reply(const struct sluice_strbuf *sb)
{
	if (sb->failed || sb->data == NULL || strlen(sb->data) != sb->len ||
	    memchr(sb->data, '\n', sb->len) != NULL)
		abort();
	struct sluice_json *v = sluice_json_parse(sb->data);
	if (v == NULL || v->type != SLUICE_JSON_OBJECT) {
		fprintf(stderr, "fuzz_control: reply is not a JSON object: %s\n", sb->data);
		abort();
	}
	const struct sluice_json *ok = sluice_json_get(v, "ok");
	if (ok == NULL || ok->type != SLUICE_JSON_BOOL)
		abort();
	if (!ok->boolean) {
		const struct sluice_json *e = sluice_json_get(v, "error");
		if (e == NULL || e->type != SLUICE_JSON_STRING)
			abort();
	}
	sluice_json_free(v);
}

/* What sluice_ctl_line_scan() must say about the bytes fed to one
 * connection so far, seg[0..n). */
static enum sluice_ctl_line expected_scan(const uint8_t *seg, size_t n, size_t *line_len)
{
	const uint8_t *nl = memchr(seg, '\n', n);
	size_t upto = nl != NULL ? (size_t)(nl - seg) : n;
	if (memchr(seg, '\0', upto) != NULL)
		return SLUICE_CTL_LINE_NUL;
	if (nl == NULL)
		return n >= SLUICE_CTL_MAX_REQUEST ? SLUICE_CTL_LINE_TOO_LONG
						   : SLUICE_CTL_LINE_PARTIAL;
	if (upto > 0 && seg[upto - 1] == '\r')
		upto--;
	*line_len = upto;
	return SLUICE_CTL_LINE_COMPLETE;
}

static void serve(struct fixture *fx, const uint8_t *data, size_t size, uint8_t cut)
{
	static char buf[SLUICE_CTL_MAX_REQUEST + 1];
	const struct sluice_actor by = {.kind = SLUICE_ACTOR_CLIENT, .uid = 0, .pid = 1};
	uint32_t rng = 0x9e3779b9u ^ cut;
	size_t pos = 0;
	unsigned requests = 0;

	while (pos < size && requests < MAX_REQUESTS) {
		size_t start = pos, used = 0;
		for (;;) {
			size_t room = SLUICE_CTL_MAX_REQUEST - used;
			size_t chunk = size - pos;
			if (!(cut & 0x80)) {
				rng = rng * 1103515245u + 12345u;
				size_t most = (size_t)(cut & 0x7f) + 1;
				size_t pick = 1 + (rng >> 16) % most;
				if (pick < chunk)
					chunk = pick;
			}
			if (chunk > room)
				chunk = room;
			if (chunk == 0)
				return; /* the client went away without a whole line */
			memcpy(buf + used, data + pos, chunk);
			used += chunk;
			pos += chunk;
			size_t want_len = 0;
			enum sluice_ctl_line want =
			    expected_scan(data + start, pos - start, &want_len);
			enum sluice_ctl_line got = sluice_ctl_line_scan(buf, &used);
			if (got != want)
				abort();
			if (got == SLUICE_CTL_LINE_PARTIAL)
				continue;
			if (got != SLUICE_CTL_LINE_COMPLETE)
				break; /* the daemon replies with an error and closes */
			if (used != want_len || memcmp(buf, data + start, used) != 0 ||
			    buf[used] != '\0')
				abort();
			struct sluice_strbuf sb;
			sluice_strbuf_init(&sb);
			sluice_control_handle_from(&fx->ctl, buf, &by, &sb);
			check_reply(&sb);
			sluice_strbuf_free(&sb);
			requests++;
			pos = start +
			      (size_t)((const uint8_t *)memchr(data + start, '\n', pos - start) -
				       (data + start)) +
			      1;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return -1;
	struct fixture fx;
	fixture_start(&fx);
	serve(&fx, data + 1, size - 1, data[0]);
	fixture_stop(&fx);

	char *text = malloc(size + 1);
	if (text == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	struct sluice_json *v = sluice_json_parse(text);
	if (v != NULL) {
		/* The readers sluicectl uses, on whatever came back. */
		(void)sluice_json_str(v, "error", NULL);
		(void)sluice_json_num(v, "swaps", 0);
		(void)sluice_json_bool(v, "ok", false);
		sluice_json_free(v);
	}
	free(text);
	return 0;
}
