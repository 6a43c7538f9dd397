/* sluicectl: talks to a running sluice daemon over its control socket.
 *
 * It sends one request line and prints the reply: for people by default
 * (status and swaps as text, rule hits as a table, counters as indented JSON),
 * or the daemon's raw JSON line with --json, for scripts.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control_protocol.h"
#include "json_value.h"
#include "sluicectl_fleet.h"

#define DEFAULT_SOCKET "/run/sluice/sluice.sock"
#define MIB	       (1024.0 * 1024.0)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: sluicectl [-s SOCKET] [--timeout MS] [--json] COMMAND [ARGS]\n"
		"\n"
		"A generation of packs is in force on every worker: the main pack, and optionally\n"
		"an urgent pack scanned beside it (the strongest action of the two wins). Each\n"
		"slot is swapped on its own and keeps its last packs in memory, in the order\n"
		"they were loaded, to roll back and forward among.\n"
		"\n"
		"Commands:\n"
		"  status\n"
		"      the pack in force in each slot (name, version, rules, sha256, when loaded,\n"
		"      rules expired), the packs kept for rollback, memory held against the cap,\n"
		"      and each worker's heartbeat\n"
		"  history [--slot main|urgent]\n"
		"      every kept pack of the slot (default both), newest first: position (@N),\n"
		"      name, version, sha256 prefix, when loaded; * marks the pack in force and\n"
		"      since when\n"
		"  stats\n"
		"      every counter, totals and per worker, as JSON\n"
		"  stats --rules\n"
		"      hits per rule of the packs in force, since each pack was loaded: slot,\n"
		"      pack, rule id, category, action, hits; finds dead and noisy rules\n"
		"  reload [--slot main|urgent] PACK\n"
		"      load PACK (.pack or .yaml) into the slot (default main) and swap it in on\n"
		"      every worker; a pack that fails to load, is over the memory cap or fails\n"
		"      its signature check is refused with the reason and the running one stays\n"
		"  reload --check [--slot main|urgent] PACK\n"
		"      what a reload would load, checked as a reload checks it (signature,\n"
		"      rules, memory cap, workers), without swapping: exit 0, or 1 with the\n"
		"      reason a reload would be refused\n"
		"  unload [--slot urgent]\n"
		"      empty the urgent slot (its pack stays kept for rollback); the main slot\n"
		"      cannot be emptied\n"
		"  rollback [--slot main|urgent] [--to TARGET | TARGET]\n"
		"      put an older kept pack in force in the slot (default main): the next\n"
		"      older one, or TARGET, from memory, within a swap's time; the newer packs\n"
		"      stay kept. TARGET is a VERSION, @N (a position in history, @0 the pack\n"
		"      loaded last) or 6 or more hex digits of a SHA-256. A TARGET that is\n"
		"      unknown, ambiguous, in force or newer is refused, kept versions listed\n"
		"  rollforward [--slot main|urgent] [--to TARGET | TARGET]\n"
		"      the same towards newer kept packs: the next newer one, or TARGET\n"
		"  health\n"
		"      exit 0 when a main pack is in force and every worker is passing through\n"
		"      its loop, 1 (with the reason) when not: for probes (systemd, Kubernetes)\n"
		"  stop\n"
		"      ask the daemon to finish and print its summary\n"
		"  fleet publish|status|rollback --bus URLS ...\n"
		"      packs through the bus to every gateway, canary first (sluicectl fleet\n"
		"      --help)\n"
		"\n"
		"Options:\n"
		"  -s, --socket PATH   control socket (default %s, or $SLUICE_SOCKET)\n"
		"  --timeout MS        give up after MS milliseconds (default 60000)\n"
		"  --json              print the daemon's raw JSON reply, one line (for scripts)\n"
		"  --compact           the same as --json\n"
		"  -h, --help          show this help\n"
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

/* ---- text renderings ---- */

/* "1.50 MiB" from a MiB up, "4.9 KiB" below (as the daemon's messages). */
static const char *human(char *buf, size_t cap, double bytes)
{
	if (bytes >= MIB)
		snprintf(buf, cap, "%.2f MiB", bytes / MIB);
	else
		snprintf(buf, cap, "%.1f KiB", bytes / 1024.0);
	return buf;
}

static void print_slot(const char *slot, const struct sluice_json *active,
		       const struct sluice_json *history)
{
	if (active == NULL || active->type != SLUICE_JSON_OBJECT) {
		printf("%-7s (empty)\n", slot);
	} else {
		printf("%-7s %s %s, %.0f rules, sha256 %.16s…, generation %.0f since %s\n", slot,
		       sluice_json_str(active, "name", "?"),
		       sluice_json_str(active, "version", "?"), sluice_json_num(active, "rules", 0),
		       sluice_json_str(active, "sha256", ""),
		       sluice_json_num(active, "generation", 0),
		       sluice_json_str(active, "loaded_at", "?"));
		char db[32], scratch[32];
		double off = sluice_json_num(active, "disabled_rules", 0);
		printf("        from %s; %.0f rule%s disabled (expired or not started); pack %s, "
		       "scratch %s per worker\n",
		       sluice_json_str(active, "source", "?"), off, off == 1 ? "" : "s",
		       human(db, sizeof(db), sluice_json_num(active, "db_bytes", 0)),
		       human(scratch, sizeof(scratch),
			     sluice_json_num(active, "scratch_bytes_per_worker", 0)));
	}
	printf("        kept:");
	if (history == NULL || history->count == 0)
		printf(" none");
	for (size_t i = 0; history != NULL && i < history->count; i++) {
		const struct sluice_json *h = history->items[i];
		printf("%s %s%s", i > 0 ? "," : "", sluice_json_str(h, "version", "?"),
		       sluice_json_bool(h, "active", false) ? " (active)" : "");
	}
	printf("\n");
}

static void print_status(const struct sluice_json *r)
{
	print_slot("main", sluice_json_get(r, "active"), sluice_json_get(r, "history"));
	print_slot("urgent", sluice_json_get(r, "urgent"), sluice_json_get(r, "urgent_history"));
	const struct sluice_json *mem = sluice_json_get(r, "memory");
	double cap = sluice_json_num(mem, "cap_bytes", 0);
	char in_force[32], kept[32], capbuf[32];
	printf("memory  %s in force, %s in %.0f packs kept for rollback, cap %s\n",
	       human(in_force, sizeof(in_force), sluice_json_num(mem, "active_bytes", 0)),
	       human(kept, sizeof(kept), sluice_json_num(mem, "kept_bytes", 0)),
	       sluice_json_num(mem, "kept_packs", 0),
	       cap > 0 ? human(capbuf, sizeof(capbuf), cap) : "none");
	printf("swaps   %.0f, refused %.0f, clients refused at the socket %.0f, started %s\n",
	       sluice_json_num(r, "swaps", 0), sluice_json_num(r, "refusals", 0),
	       sluice_json_num(r, "access_refusals", 0), sluice_json_str(r, "started_at", "?"));
	const struct sluice_json *cc = sluice_json_get(r, "control_clients");
	printf("socket  %.0f connected, %.0f served; cut off: %.0f silent, %.0f bad requests, "
	       "%.0f evicted when full, %.0f slow readers; %.0f gone before their reply\n",
	       sluice_json_num(cc, "connected", 0), sluice_json_num(cc, "served", 0),
	       sluice_json_num(cc, "request_timeouts", 0), sluice_json_num(cc, "bad_requests", 0),
	       sluice_json_num(cc, "evicted", 0), sluice_json_num(cc, "reply_timeouts", 0),
	       sluice_json_num(cc, "vanished", 0));
	const struct sluice_json *workers = sluice_json_get(r, "workers");
	for (size_t i = 0; workers != NULL && i < workers->count; i++) {
		const struct sluice_json *w = workers->items[i];
		printf("worker  %.0f (lcore %.0f): generation %.0f, last loop %.0f ms ago%s\n",
		       sluice_json_num(w, "id", 0), sluice_json_num(w, "lcore", 0),
		       sluice_json_num(w, "generation", 0),
		       sluice_json_num(w, "last_progress_ms_ago", 0),
		       sluice_json_bool(w, "stuck", false) ? ", STUCK (swaps are refused)" : "");
	}
}

static void print_rules(const struct sluice_json *r)
{
	const struct sluice_json *rules = sluice_json_get(r, "rules");
	printf("%-7s %-24s %-16s %-28s %-14s %-6s %12s\n", "SLOT", "PACK", "VERSION", "RULE",
	       "CATEGORY", "ACTION", "HITS");
	for (size_t i = 0; rules != NULL && i < rules->count; i++) {
		const struct sluice_json *rule = rules->items[i];
		printf("%-7s %-24s %-16s %-28s %-14s %-6s %12.0f%s\n",
		       sluice_json_str(rule, "slot", "?"), sluice_json_str(rule, "pack", "?"),
		       sluice_json_str(rule, "version", "?"), sluice_json_str(rule, "id", "?"),
		       sluice_json_str(rule, "category", "?"), sluice_json_str(rule, "action", "?"),
		       sluice_json_num(rule, "hits", 0),
		       sluice_json_bool(rule, "expired", false)	  ? "  (expired)"
		       : sluice_json_bool(rule, "waiting", false) ? "  (not started)"
								  : "");
	}
	if (sluice_json_bool(r, "rehearsal", false))
		printf("rules judged at %s (a rehearsal: sluice --now)\n",
		       sluice_json_str(r, "rules_clock", "?"));
}

/* reload --check: what a reload would load; nothing was swapped. */
static void print_check(const struct sluice_json *r)
{
	char db[32], scratch[32];
	double off = sluice_json_num(r, "disabled_rules", 0);
	printf("%s slot: %s %s would load: %.0f rules (%.0f disabled now), sha256 %.16s…, pack %s, "
	       "scratch %s per worker%s; nothing swapped\n",
	       sluice_json_str(r, "slot", "main"), sluice_json_str(r, "name", "?"),
	       sluice_json_str(r, "version", "?"), sluice_json_num(r, "rules", 0), off,
	       sluice_json_str(r, "sha256", ""),
	       human(db, sizeof(db), sluice_json_num(r, "db_bytes", 0)),
	       human(scratch, sizeof(scratch), sluice_json_num(r, "scratch_bytes_per_worker", 0)),
	       sluice_json_bool(r, "same_as_in_force", false) ? " (the pack in force)" : "");
}

/* One slot's kept packs, newest first, as history_json() gives them. */
static void print_history(const char *slot, const struct sluice_json *history)
{
	size_t n = history != NULL ? history->count : 0;
	printf("%s slot: %zu pack%s kept, newest first\n", slot, n, n == 1 ? "" : "s");
	for (size_t i = 0; i < n; i++) {
		const struct sluice_json *h = history->items[i];
		bool active = sluice_json_bool(h, "active", false);
		printf("%c @%-2zu %-24s %-16s sha256 %.12s  loaded %s", active ? '*' : ' ', i,
		       sluice_json_str(h, "name", "?"), sluice_json_str(h, "version", "?"),
		       sluice_json_str(h, "sha256", ""), sluice_json_str(h, "kept_since", "?"));
		if (active)
			printf(", in force since %s", sluice_json_str(h, "active_since", "?"));
		else if (sluice_json_bool(h, "unloaded", false))
			printf(", unloaded (rollback brings it back)");
		printf("\n");
	}
}

static void print_swap(const struct sluice_json *r)
{
	if (sluice_json_bool(r, "check", false)) {
		print_check(r);
		return;
	}
	const struct sluice_json *active = sluice_json_get(r, "active");
	const char *slot = sluice_json_str(r, "slot", "main");
	const char *prev = sluice_json_str(r, "previous_version", NULL);
	if (active != NULL && active->type == SLUICE_JSON_OBJECT)
		printf("%s slot: %s %s in force, generation %.0f", slot,
		       sluice_json_str(active, "name", "?"),
		       sluice_json_str(active, "version", "?"),
		       sluice_json_num(active, "generation", 0));
	else
		printf("%s slot: empty", slot);
	printf(" (was %s)", prev != NULL ? prev : "empty");
	double dropped = sluice_json_num(r, "dropped", 0);
	if (dropped > 0)
		printf("; the oldest kept pack left the history");
	if (sluice_json_bool(r, "fold_unshared", false))
		printf("; the two packs fold apart (one table for both would pass the memory cap)");
	printf("\n  load %.1f ms, scratch %.1f ms, grace period %.1f ms\n",
	       sluice_json_num(r, "load_ms", 0), sluice_json_num(r, "build_ms", 0),
	       sluice_json_num(r, "grace_ms", 0));
}

/* ---- arguments ---- */

/* What the command line said after the global options. */
struct invocation {
	const char *cmd;
	const char *slot; /* --slot, or NULL */
	const char *to;	  /* --to, or NULL */
	const char *positional[2];
	int npos;
	bool rules; /* --rules */
	bool check; /* reload --check */
};

static int need_slot(const char *value, const char **slot)
{
	if (strcmp(value, "main") != 0 && strcmp(value, "urgent") != 0) {
		fprintf(stderr, "sluicectl: --slot '%s': expected main or urgent\n", value);
		return -1;
	}
	*slot = value;
	return 0;
}

/* ---- commands: each checks its arguments and writes its request line ---- */

typedef int (*build_fn)(const struct invocation *inv, char *request, size_t cap);
typedef void (*render_fn)(const struct invocation *inv, const struct sluice_json *reply,
			  const char *raw);

static int build_reload(const struct invocation *inv, char *request, size_t cap)
{
	if (inv->npos != 1) {
		fprintf(stderr, "sluicectl: reload needs one PACK argument\n");
		return 2;
	}
	/* The daemon's working directory is not ours. */
	char abs[PATH_MAX];
	if (realpath(inv->positional[0], abs) == NULL) {
		fprintf(stderr, "sluicectl: %s: %s\n", inv->positional[0], strerror(errno));
		return 2;
	}
	if ((size_t)snprintf(request, cap, "%s %s %s", inv->check ? "reload-check" : "reload",
			     inv->slot ? inv->slot : "main", abs) >= cap) {
		fprintf(stderr, "sluicectl: %s: path too long\n", abs);
		return 2;
	}
	return 0;
}

/* rollback, rollforward: the TARGET as --to or alone (VERSION, before --to). */
static int build_move(const struct invocation *inv, char *request, size_t cap)
{
	if (inv->npos > 1 || (inv->npos == 1 && inv->to != NULL)) {
		fprintf(stderr, "sluicectl: %s takes one TARGET, with --to or alone\n", inv->cmd);
		return 2;
	}
	const char *to = inv->to != NULL ? inv->to : inv->npos ? inv->positional[0] : "";
	if (inv->to != NULL && *to == '\0') {
		fprintf(stderr, "sluicectl: %s: --to needs a VERSION, @N or SHA-256 prefix\n",
			inv->cmd);
		return 2;
	}
	if ((size_t)snprintf(request, cap, "%s %s%s%s", inv->cmd, inv->slot ? inv->slot : "main",
			     *to ? " " : "", to) >= cap) {
		fprintf(stderr, "sluicectl: target too long\n");
		return 2;
	}
	return 0;
}

/* Only the urgent slot can be emptied, so it is the default. */
static int build_unload(const struct invocation *inv, char *request, size_t cap)
{
	if (inv->npos != 0) {
		fprintf(stderr, "sluicectl: unload takes no arguments (only --slot urgent)\n");
		return 2;
	}
	snprintf(request, cap, "unload %s", inv->slot != NULL ? inv->slot : "urgent");
	return 0;
}

/* status, stats [--rules], stop: the command itself is the request. */
static int build_plain(const struct invocation *inv, char *request, size_t cap)
{
	if (inv->npos != 0) {
		fprintf(stderr, "sluicectl: %s takes no argument\n", inv->cmd);
		return 2;
	}
	snprintf(request, cap, "%s%s", inv->cmd, inv->rules ? " rules" : "");
	return 0;
}

static void render_status(const struct invocation *inv, const struct sluice_json *reply,
			  const char *raw)
{
	(void)inv, (void)raw;
	print_status(reply);
}

/* health is judged from the status reply. */
static int build_status(const struct invocation *inv, char *request, size_t cap)
{
	if (inv->npos != 0) {
		fprintf(stderr, "sluicectl: %s takes no argument\n", inv->cmd);
		return 2;
	}
	snprintf(request, cap, "status");
	return 0;
}

/* history is read from the status reply, which lists every kept pack. */
static int build_history(const struct invocation *inv, char *request, size_t cap)
{
	if (inv->npos != 0) {
		fprintf(stderr, "sluicectl: history takes no argument (only --slot)\n");
		return 2;
	}
	snprintf(request, cap, "status");
	return 0;
}

static void render_history(const struct invocation *inv, const struct sluice_json *reply,
			   const char *raw)
{
	(void)raw;
	if (inv->slot == NULL || strcmp(inv->slot, "main") == 0)
		print_history("main", sluice_json_get(reply, "history"));
	if (inv->slot == NULL || strcmp(inv->slot, "urgent") == 0)
		print_history("urgent", sluice_json_get(reply, "urgent_history"));
}

static void render_stats(const struct invocation *inv, const struct sluice_json *reply,
			 const char *raw)
{
	(void)inv;
	/* stats --rules is a table; plain stats, indented JSON. */
	if (sluice_json_get(reply, "rules") != NULL)
		print_rules(reply);
	else
		print_pretty(raw);
}

static void render_swap(const struct invocation *inv, const struct sluice_json *reply,
			const char *raw)
{
	(void)inv, (void)raw;
	print_swap(reply);
}

static void render_stop(const struct invocation *inv, const struct sluice_json *reply,
			const char *raw)
{
	(void)inv, (void)reply, (void)raw;
	printf("sluice is stopping\n");
}

/* What a probe wants to know: the daemon answers (or the probe failed
 * already), a main pack is in force, and no worker is stuck. Returns the
 * exit status; why gets the lines that say so. */
static int judge_health(const struct sluice_json *reply, char *why, size_t why_len)
{
	const struct sluice_json *active = sluice_json_get(reply, "active");
	const char *version = sluice_json_str(active, "version", NULL);
	if (version == NULL) {
		snprintf(why, why_len, "unhealthy: no main pack in force\n");
		return 1;
	}
	const struct sluice_json *workers = sluice_json_get(reply, "workers");
	size_t n = workers != NULL ? workers->count : 0, used = 0;
	int status = 0;
	why[0] = '\0';
	for (size_t i = 0; i < n && used < why_len; i++) {
		const struct sluice_json *w = workers->items[i];
		if (!sluice_json_bool(w, "stuck", false))
			continue;
		used += (size_t)snprintf(
		    why + used, why_len - used,
		    "unhealthy: worker %.0f (lcore %.0f) has not finished a loop for %.0f ms\n",
		    sluice_json_num(w, "id", -1), sluice_json_num(w, "lcore", -1),
		    sluice_json_num(w, "last_progress_ms_ago", -1));
		status = 1;
	}
	if (status == 0)
		snprintf(why, why_len, "healthy: %s %s in force, %zu worker%s passing\n",
			 sluice_json_str(active, "name", "?"), version, n, n == 1 ? "" : "s");
	return status;
}

static void render_health(const struct invocation *inv, const struct sluice_json *reply,
			  const char *raw)
{
	(void)inv, (void)reply, (void)raw; /* the judgement is what it prints */
}

static const struct command {
	const char *name;
	bool takes_slot;
	bool takes_rules;
	bool takes_to;
	build_fn build;
	render_fn render;
	/* The exit status of an answered request, from its reply, and the
	 * lines that explain it; NULL: 0. */
	int (*judge)(const struct sluice_json *reply, char *why, size_t why_len);
} commands[] = {
    {"status", false, false, false, build_plain, render_status, NULL},
    {"history", true, false, false, build_history, render_history, NULL},
    {"stats", false, true, false, build_plain, render_stats, NULL},
    {"reload", true, false, false, build_reload, render_swap, NULL},
    {"rollback", true, false, true, build_move, render_swap, NULL},
    {"rollforward", true, false, true, build_move, render_swap, NULL},
    {"unload", true, false, false, build_unload, render_swap, NULL},
    {"health", false, false, false, build_status, render_health, judge_health},
    {"stop", false, false, false, build_plain, render_stop, NULL},
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* ---- main ---- */

struct globals {
	const char *socket_path;
	int timeout_ms;
	bool raw;
};

/* Options before the command. Returns the index of the command, or -1 with
 * *exit_status set. */
static int parse_globals(int argc, char **argv, struct globals *g, int *exit_status)
{
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			*exit_status = 0;
			return -1;
		} else if ((strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--socket") == 0) &&
			   i + 1 < argc) {
			g->socket_path = argv[++i];
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			g->timeout_ms = atoi(argv[++i]);
			if (g->timeout_ms <= 0) {
				fprintf(stderr, "sluicectl: --timeout needs a positive number\n");
				*exit_status = 2;
				return -1;
			}
		} else if (strcmp(argv[i], "--compact") == 0 || strcmp(argv[i], "--json") == 0) {
			g->raw = true;
		} else {
			fprintf(stderr, "sluicectl: unknown option '%s'\n", argv[i]);
			usage(stderr);
			*exit_status = 2;
			return -1;
		}
	}
	if (i >= argc) {
		usage(stderr);
		*exit_status = 2;
		return -1;
	}
	return i;
}

/* The command's own arguments and options (after its name). */
static int parse_command_args(int argc, char **argv, int i, struct invocation *inv, bool *raw)
{
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "--compact") == 0) {
			*raw = true;
		} else if (strcmp(argv[i], "--slot") == 0 && i + 1 < argc) {
			if (need_slot(argv[++i], &inv->slot) != 0)
				return 2;
		} else if (strncmp(argv[i], "--slot=", 7) == 0) {
			if (need_slot(argv[i] + 7, &inv->slot) != 0)
				return 2;
		} else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
			inv->to = argv[++i];
		} else if (strncmp(argv[i], "--to=", 5) == 0) {
			inv->to = argv[i] + 5;
		} else if (strcmp(argv[i], "--rules") == 0) {
			inv->rules = true;
		} else if (strcmp(argv[i], "--check") == 0 && strcmp(inv->cmd, "reload") == 0) {
			inv->check = true;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "sluicectl: %s: unknown option '%s'\n", inv->cmd, argv[i]);
			return 2;
		} else if (inv->npos < 2) {
			inv->positional[inv->npos++] = argv[i];
		} else {
			fprintf(stderr, "sluicectl: %s: too many arguments\n", inv->cmd);
			return 2;
		}
	}
	return 0;
}

/* Sends the request and shows the reply; the exit status. */
static int exchange(const struct globals *g, const struct command *c, const struct invocation *inv,
		    const char *request)
{
	char err[512];
	char *reply = NULL;
	if (sluice_ctl_request(g->socket_path, request, g->timeout_ms, &reply, err, sizeof(err)) !=
	    0) {
		fprintf(stderr, "sluicectl: %s\n", err);
		return 2;
	}
	bool ok = strncmp(reply, "{\"ok\":true", 10) == 0;
	if (g->raw && c->judge == NULL) {
		fputs(reply, stdout);
		free(reply);
		return ok ? 0 : 1;
	}
	struct sluice_json *doc = sluice_json_parse(reply);
	int status = ok ? 0 : 1;
	if (doc == NULL) {
		fputs(reply, stdout); /* not JSON we can read: show it as it came */
	} else if (!ok) {
		fprintf(stderr, "sluicectl: refused: %s\n", sluice_json_str(doc, "error", reply));
	} else {
		if (g->raw)
			fputs(reply, stdout);
		else
			c->render(inv, doc, reply);
		char why[2048];
		if (c->judge != NULL) {
			status = c->judge(doc, why, sizeof(why));
			if (!g->raw)
				fputs(why, stdout);
		}
	}
	sluice_json_free(doc);
	free(reply);
	return status;
}

int main(int argc, char **argv)
{
	struct globals g = {.socket_path = getenv("SLUICE_SOCKET"), .timeout_ms = 60000};
	int status = 0;
	/* The fleet's commands talk to the bus, not to a daemon's socket. */
	if (argc > 1 && strcmp(argv[1], "fleet") == 0)
		return sluicectl_fleet(argc - 1, argv + 1);
	if (g.socket_path == NULL || *g.socket_path == '\0')
		g.socket_path = DEFAULT_SOCKET;
	int i = parse_globals(argc, argv, &g, &status);
	if (i < 0)
		return status;

	struct invocation inv = {.cmd = argv[i]};
	if (parse_command_args(argc, argv, i + 1, &inv, &g.raw) != 0)
		return 2;
	const struct command *c = find_command(inv.cmd);
	if (c == NULL) {
		fprintf(stderr, "sluicectl: unknown command '%s'\n", inv.cmd);
		usage(stderr);
		return 2;
	}
	if (inv.slot != NULL && !c->takes_slot) {
		fprintf(stderr, "sluicectl: %s takes no --slot\n", inv.cmd);
		return 2;
	}
	if (inv.rules && !c->takes_rules) {
		fprintf(stderr, "sluicectl: only stats takes --rules\n");
		return 2;
	}
	if (inv.to != NULL && !c->takes_to) {
		fprintf(stderr, "sluicectl: only rollback and rollforward take --to\n");
		return 2;
	}
	char request[SLUICE_CTL_MAX_REQUEST];
	status = c->build(&inv, request, sizeof(request));
	if (status != 0)
		return status;
	return exchange(&g, c, &inv, request);
}
