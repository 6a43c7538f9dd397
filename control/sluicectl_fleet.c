/* sluicectl fleet: packs through the bus (fleet_store.h), for the operators.
 *
 *   publish PACK   stores the pack's chunks, then sets the target of each
 *                  group in turn (canary first), waits until every live
 *                  gateway of the group runs it or one refuses it, holds while
 *                  watching the group's refusals, scan errors and stalls, and
 *                  goes on to the next group. A refusal, a rise, or a group
 *                  that does not converge in time stops the rollout: every
 *                  group already given the pack is put back on its previous
 *                  target, and the exit status is 1 with the reason.
 *                  --at-once sets every group's target together (the urgent
 *                  slot's copyright notices cannot wait for a hold).
 *   status         which gateway runs which pack, and why one refused.
 *   rollback       every group's target back to its previous one, in one
 *                  command, then waits for the fleet to converge.
 *   prune          removes the chunks of packs nothing names any more.
 *
 * The commands talk to the bus only, never to a gateway's socket: the
 * gateways report to the status bucket, and that is what an SRE sees
 * wherever they run this. Lives in sluicectl (the control layer's tool,
 * which already knows the bus) rather than sluice-pack, which must not
 * depend on the control layer: `sluice-pack publish PACK --to URLS` runs
 * this same command (patterns/sluice-pack/cmd_publish.c).
 */
#include "sluicectl_fleet.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "clock.h"
#include "file_read.h"
#include "fleet_store.h"
#include "nats_security.h"
#include "pack.h"

#define MAX_GROUPS 32

struct fleet_args {
	const char *bus, *bucket, *slot, *pack, *publisher;
	const char *back_to; /* rollback --pack VERSION|SHA */
	unsigned replicas;   /* of buckets this creates */
	struct sluice_nats_security security;
	char groups_text[1024];
	double hold_s, wait_s;
	bool at_once, json, groups_given, no_wait, dry_run;
	/* publish: the pack, read before the bus is contacted */
	struct sluice_fleet_pack_ref ref;
	uint8_t *data;
	size_t len;
};

static void fleet_usage(FILE *out)
{
	fprintf(out,
		"usage: sluicectl fleet COMMAND --bus nats://HOST:PORT[,...] [OPTIONS]\n"
		"\n"
		"  publish PACK [--slot main|urgent] [--groups canary,main] [--hold SECONDS]\n"
		"               [--wait SECONDS] [--at-once] [--publisher NAME]\n"
		"      store PACK in the bus and roll it out group by group: the first group\n"
		"      (canary) first; the next only after every live gateway of the group runs\n"
		"      it and --hold seconds (default 60) pass without the group's refusals,\n"
		"      scan errors or stalls rising. Groups seen in the fleet but not listed\n"
		"      come last. A refusal, a rise, or a group not running it within --wait\n"
		"      seconds (default 120) puts every group given the pack back on its\n"
		"      previous target and exits 1. --at-once: every group together, no hold\n"
		"      (urgent notices)\n"
		"  status [--json]\n"
		"      each group's target, and each gateway: group, state (running, behind,\n"
		"      refused, stale), the packs in force, the last refusal and its reason;\n"
		"      exit 1 when any gateway is not running its targets\n"
		"  rollback [--slot main|urgent] [--pack VERSION|SHA] [--wait S] [--no-wait]\n"
		"      every group's target back to its previous pack (--pack: to that one, from\n"
		"      the target's history of %u revisions), then wait for the gateways\n"
		"  prune [--dry-run]\n"
		"      remove the chunks of every pack that no target (current or previous)\n"
		"      names and no gateway runs, so the bucket does not grow with releases\n"
		"\n"
		"  --bus URLS      the pack source the gateways watch (or $SLUICE_PACK_SOURCE)\n"
		"  --bucket NAME   its bucket (default %s)\n"
		"  --replicas N    copies of the buckets if this creates them (1 to 5,\n"
		"                  default 1; 3 on a three-node cluster); status shows them\n"
		"  --bus-ca FILE, --bus-cert FILE --bus-key FILE, --bus-user-file FILE,\n"
		"  --bus-creds FILE\n"
		"                  TLS and credentials, as the gateways' options of the same\n"
		"                  names (docs/operations.md)\n"
		"\n"
		"Exit status: 0 done, 1 refused or stopped (the reason is printed), 2 usage or\n"
		"bus error.\n",
		SLUICE_FLEET_HISTORY, SLUICE_FLEET_BUCKET);
}

static double now_s(void)
{
	return sluice_mono_s();
}

static void nap_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void utc(char *buf, size_t cap, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int split_groups(const char *text, char groups[][SLUICE_FLEET_NAME], size_t *n)
{
	char copy[1024];
	snprintf(copy, sizeof(copy), "%s", text);
	*n = 0;
	for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!sluice_fleet_name_ok(tok)) {
			fprintf(stderr, "sluicectl: --groups: '%s' is not a group name\n", tok);
			return -1;
		}
		if (*n == MAX_GROUPS) {
			fprintf(stderr, "sluicectl: --groups: at most %d groups\n", MAX_GROUPS);
			return -1;
		}
		for (size_t i = 0; i < *n; i++)
			if (strcmp(groups[i], tok) == 0) {
				fprintf(stderr, "sluicectl: --groups: '%s' twice\n", tok);
				return -1;
			}
		snprintf(groups[(*n)++], SLUICE_FLEET_NAME, "%s", tok);
	}
	if (*n == 0) {
		fprintf(stderr, "sluicectl: --groups: no group\n");
		return -1;
	}
	return 0;
}

static void add_group(char groups[][SLUICE_FLEET_NAME], size_t *n, const char *g)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(groups[i], g) == 0)
			return;
	if (*n < MAX_GROUPS && sluice_fleet_name_ok(g))
		snprintf(groups[(*n)++], SLUICE_FLEET_NAME, "%s", g);
}

/* ---- waiting for a group ---- */

enum wait_result { CONVERGED, REFUSED, TIMED_OUT, BUS_ERROR };

/* Waits until every live gateway of group has handled target revision rev of
 * slot s: running sha, or refused it. A refusal does not end the wait: every
 * gateway's outcome is collected, so that the report names each one that
 * refused and why. why says that, or which gateways did not answer. *live
 * counts the gateways waited for.
 *
 * A stale gateway is not waited for: it takes the target when it returns.
 * But a stage that later groups wait on (prove) must have been taken by at
 * least one live gateway: a canary whose gateways all missed a heartbeat
 * proves nothing, so the wait goes on for one of them to come back, and
 * fails naming them at the deadline. A group with no gateway at all, live
 * or stale, converges at once: that is how a fleet is seeded. */
static enum wait_result wait_group(struct sluice_fleet *f, int s, const char *group, uint64_t rev,
				   const char *sha, double wait_s, bool prove, unsigned *live,
				   char *why, size_t why_len)
{
	double deadline = now_s() + wait_s;
	for (;;) {
		struct sluice_fleet_status *gws = NULL;
		size_t n = 0;
		char err[512];
		if (sluice_fleet_list_status(f, &gws, &n, NULL, err, sizeof(err)) != 0) {
			snprintf(why, why_len, "reading the status bucket: %s", err);
			return BUS_ERROR;
		}
		uint64_t now = sluice_realtime_ns();
		unsigned waiting = 0, refused = 0, stale = 0;
		char behind[512] = "", refusals[2048] = "", stale_names[512] = "";
		*live = 0;
		for (size_t i = 0; i < n; i++) {
			const struct sluice_fleet_status *g = &gws[i];
			if (strcmp(g->group, group) != 0)
				continue;
			if (sluice_fleet_status_stale(g, now)) {
				size_t used = strlen(stale_names);
				snprintf(stale_names + used, sizeof(stale_names) - used, "%s%s",
					 used ? ", " : "", g->name);
				stale++;
				continue;
			}
			(*live)++;
			const struct sluice_fleet_slot_state *ss = &g->slot[s];
			if (ss->target_rev > rev) {
				snprintf(why, why_len,
					 "%s: a newer target (rev %" PRIu64
					 ") was set meanwhile; this rollout is superseded",
					 g->name, ss->target_rev);
				free(gws);
				return REFUSED;
			}
			if (ss->target_rev == rev && strcmp(ss->result, "refused") == 0) {
				size_t used = strlen(refusals);
				snprintf(refusals + used, sizeof(refusals) - used,
					 "%s%s refused it: %s", used ? "; " : "", g->name,
					 ss->reason);
				refused++;
				continue;
			}
			if (ss->target_rev == rev && strcmp(ss->result, "ok") == 0 &&
			    strcmp(ss->file_sha, sha) == 0)
				continue;
			waiting++;
			size_t used = strlen(behind);
			snprintf(behind + used, sizeof(behind) - used, "%s%s", used ? ", " : "",
				 g->name);
		}
		free(gws);
		bool unproven = prove && *live == 0 && stale > 0;
		if (waiting == 0 && refused == 0 && !unproven)
			return CONVERGED;
		if ((waiting == 0 && !unproven) || now_s() >= deadline) {
			if (refused > 0) {
				int n = snprintf(why, why_len,
						 "group %s: %u of %u gateways refused it: %s",
						 group, refused, *live, refusals);
				/* The gateways' reasons did not all fit: say so. */
				if (n >= (int)why_len && why_len > 4)
					memcpy(why + why_len - 4, "...", 4);
			} else if (unproven)
				snprintf(
				    why, why_len,
				    "group %s: no live gateway took it in %.0f s, so it proves "
				    "nothing for the groups after it (stale: %s)",
				    group, wait_s, stale_names);
			else
				snprintf(
				    why, why_len,
				    "group %s: %u of %u live gateways not running it after %.0f "
				    "s: %s",
				    group, waiting, *live, wait_s, behind);
			return refused > 0 ? REFUSED : TIMED_OUT;
		}
		nap_ms(100);
	}
}

/* ---- the hold ---- */

struct baseline {
	char name[SLUICE_FLEET_NAME];
	uint64_t boot_ns, refusals, scan_errors, stalls;
};

/* Every gateway's counters now. */
static size_t take_baseline(struct sluice_fleet *f, struct baseline *b, size_t cap)
{
	struct sluice_fleet_status *gws = NULL;
	size_t n = 0, k = 0;
	char err[512];
	if (sluice_fleet_list_status(f, &gws, &n, NULL, err, sizeof(err)) != 0)
		return 0;
	for (size_t i = 0; i < n && k < cap; i++) {
		b[k] = (struct baseline){.boot_ns = gws[i].boot_ns,
					 .refusals = gws[i].refusals,
					 .scan_errors = gws[i].scan_errors,
					 .stalls = gws[i].stalls};
		snprintf(b[k].name, sizeof(b[k].name), "%s", gws[i].name);
		k++;
	}
	free(gws);
	return k;
}

/* Watches the gateways of groups for hold_s: 0, or 1 with why when a
 * refusal, a scan error or a stall was counted since base was taken (at the
 * start of the rollout, so that nothing counted while the group was taking
 * the pack escapes). A gateway not in base (it appeared since) gets its
 * first values as its baseline. */
static int hold(struct sluice_fleet *f, char groups[][SLUICE_FLEET_NAME], size_t ng, double hold_s,
		struct baseline *base, size_t *nb, size_t cap, char *why, size_t why_len)
{
	double end = now_s() + hold_s;
	while (now_s() < end) {
		nap_ms(250);
		struct sluice_fleet_status *gws = NULL;
		size_t n = 0;
		char err[512];
		if (sluice_fleet_list_status(f, &gws, &n, NULL, err, sizeof(err)) != 0)
			continue; /* the bus may blink; the hold goes on */
		for (size_t i = 0; i < n; i++) {
			const struct sluice_fleet_status *g = &gws[i];
			bool watched = false;
			for (size_t j = 0; j < ng; j++)
				watched |= strcmp(g->group, groups[j]) == 0;
			if (!watched)
				continue;
			struct baseline *b = NULL;
			for (size_t j = 0; j < *nb && b == NULL; j++)
				if (strcmp(g->name, base[j].name) == 0)
					b = &base[j];
			if (b == NULL || g->boot_ns != b->boot_ns) {
				/* New, or restarted: its counters start here. */
				if (b == NULL && *nb == cap)
					continue;
				if (b == NULL)
					b = &base[(*nb)++];
				*b = (struct baseline){.boot_ns = g->boot_ns,
						       .refusals = g->refusals,
						       .scan_errors = g->scan_errors,
						       .stalls = g->stalls};
				snprintf(b->name, sizeof(b->name), "%s", g->name);
				continue;
			}
			const char *what = g->refusals > b->refusals	     ? "refusals"
					   : g->scan_errors > b->scan_errors ? "scan errors"
					   : g->stalls > b->stalls	     ? "stalls"
									     : NULL;
			if (what != NULL) {
				snprintf(why, why_len,
					 "%s (group %s): %s rose during the rollout (refusals "
					 "%" PRIu64 "->%" PRIu64 ", scan errors %" PRIu64
					 "->%" PRIu64 ", stalls %" PRIu64 "->%" PRIu64 ")%s%s",
					 g->name, g->group, what, b->refusals, g->refusals,
					 b->scan_errors, g->scan_errors, b->stalls, g->stalls,
					 g->has_refusal ? ": " : "",
					 g->has_refusal ? g->refused_reason : "");
				free(gws);
				return 1;
			}
		}
		free(gws);
	}
	return 0;
}

/* ---- publish ---- */

static void publisher_name(char *buf, size_t cap, const char *given)
{
	if (given != NULL) {
		snprintf(buf, cap, "%s", given);
		return;
	}
	char host[64] = "?";
	const struct passwd *pw = getpwuid(getuid());
	const char *user = pw != NULL ? pw->pw_name : getenv("USER");
	gethostname(host, sizeof(host) - 1);
	snprintf(buf, cap, "%s@%s", user != NULL ? user : "?", host);
}

/* Sets group's target in slot to pack (action), the target before it kept
 * as previous (and returned in *before, found or not). */
static int set_target(struct sluice_fleet *f, const char *slot, const char *group,
		      const struct sluice_fleet_pack_ref *pack, const char *action,
		      const char *publisher, struct sluice_fleet_target *before, bool *had,
		      uint64_t *rev, char *err, size_t err_len)
{
	int rc = sluice_fleet_get_target(f, slot, group, before, err, err_len);
	if (rc < 0 && strstr(err, "manifest") == NULL)
		return -1;
	*had = rc == 1;
	struct sluice_fleet_target t = {0};
	snprintf(t.slot, sizeof(t.slot), "%s", slot);
	snprintf(t.group, sizeof(t.group), "%s", group);
	t.pack = *pack;
	if (*had) {
		t.has_previous = true;
		t.previous = before->pack;
	}
	snprintf(t.action, sizeof(t.action), "%s", action);
	snprintf(t.publisher, sizeof(t.publisher), "%s", publisher);
	t.time_ns = sluice_realtime_ns();
	if (sluice_fleet_put_target(f, &t, err, err_len) != 0)
		return -1;
	struct sluice_fleet_target back;
	if (sluice_fleet_get_target(f, slot, group, &back, err, err_len) != 1)
		return -1;
	*rev = back.revision;
	return 0;
}

struct given {
	char group[SLUICE_FLEET_NAME];
	bool had;
	struct sluice_fleet_target before;
};

/* Puts every group given the new pack back on the target it had. */
static void revert(struct sluice_fleet *f, const char *slot, struct given *given, size_t n,
		   const struct sluice_fleet_pack_ref *pack, const char *publisher, double wait_s)
{
	int s = sluice_fleet_slot_index(slot);
	for (size_t i = 0; i < n; i++) {
		char err[512];
		uint64_t rev;
		if (!given[i].had) {
			printf("group %s: had no earlier target; its gateways keep what they run "
			       "(roll back with sluicectl rollback on a gateway that runs %s)\n",
			       given[i].group, pack->version);
			continue;
		}
		/* The target as it was, its own previous included: a later
		 * rollback goes where it would have gone before this rollout. */
		const struct sluice_fleet_pack_ref *back = &given[i].before.pack;
		struct sluice_fleet_target t = given[i].before;
		snprintf(t.action, sizeof(t.action), "revert");
		snprintf(t.publisher, sizeof(t.publisher), "%s", publisher);
		t.time_ns = sluice_realtime_ns();
		if (sluice_fleet_put_target(f, &t, err, sizeof(err)) != 0 ||
		    sluice_fleet_get_target(f, slot, given[i].group, &t, err, sizeof(err)) != 1) {
			fprintf(stderr, "sluicectl: group %s: cannot put the target back: %s\n",
				given[i].group, err);
			continue;
		}
		rev = t.revision;
		unsigned live = 0;
		char why[1024];
		enum wait_result w = wait_group(f, s, given[i].group, rev, back->sha256, wait_s,
						false, &live, why, sizeof(why));
		if (w == CONVERGED)
			printf("group %s: back on %s %s (%.12s), %u gateway%s\n", given[i].group,
			       back->name, back->version, back->sha256, live, live == 1 ? "" : "s");
		else
			fprintf(stderr, "sluicectl: group %s: back to %s, but: %s\n",
				given[i].group, back->version, why);
	}
}

static int read_pack(const char *path, struct sluice_fleet_pack_ref *ref, uint8_t **data,
		     size_t *len)
{
	char err[1024];
	char *bytes = NULL;
	if (sluice_file_read_all(path, (uint64_t)SLUICE_FLEET_MAX_CHUNKS * SLUICE_FLEET_CHUNK_BYTES,
				 "pack", &bytes, len, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: %s: %s\n", path, err);
		return -1;
	}
	/* The envelope (header, length, body hash) as a gateway checks it
	 * first: a file that is not a pack, or is cut short, is stopped here
	 * rather than by every gateway. Nothing else is parsed, so the
	 * publisher's machine need not be able to load the pack; signatures
	 * are the gateways' to judge, against their own trusted keys. */
	if (sluice_pack_identity(path, (const uint8_t *)bytes, *len, ref->name, sizeof(ref->name),
				 ref->version, sizeof(ref->version), err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: %s\n", err);
		free(bytes);
		return -1;
	}
	*data = (uint8_t *)bytes;
	return 0;
}

static int fleet_publish(struct sluice_fleet *f, const struct fleet_args *a)
{
	char groups[MAX_GROUPS][SLUICE_FLEET_NAME];
	size_t ng = 0;
	char err[1024], why[2048], publisher[SLUICE_FLEET_TEXT];
	int s = sluice_fleet_slot_index(a->slot);
	if (split_groups(a->groups_text, groups, &ng) != 0)
		return 2;
	publisher_name(publisher, sizeof(publisher), a->publisher);

	struct sluice_fleet_pack_ref ref = a->ref;
	double t0 = now_s();
	if (sluice_fleet_put_pack(f, a->data, a->len, &ref, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: storing %s: %s\n", a->pack, err);
		return 2;
	}
	printf("stored %s %s (sha256 %.12s, %" PRIu64 " bytes in %u chunk%s) in %.2f s\n", ref.name,
	       ref.version, ref.sha256, ref.size, ref.chunks, ref.chunks == 1 ? "" : "s",
	       now_s() - t0);

	/* Groups seen in the fleet and not listed come last: a rollout reaches
	 * every gateway. */
	struct sluice_fleet_status *gws = NULL;
	size_t n = 0;
	if (sluice_fleet_list_status(f, &gws, &n, NULL, err, sizeof(err)) == 0)
		for (size_t i = 0; i < n; i++)
			add_group(groups, &ng, gws[i].group);
	free(gws);

	/* The counters the holds compare against: from before any target. */
	static struct baseline base[1024];
	size_t nb = take_baseline(f, base, 1024);
	struct given given[MAX_GROUPS];
	size_t ngiven = 0;
	uint64_t revs[MAX_GROUPS];
	/* With --at-once every group is one stage; otherwise one group a stage. */
	size_t stage_size = a->at_once ? ng : 1;
	for (size_t first = 0; first < ng; first += stage_size) {
		size_t last = first + stage_size < ng ? first + stage_size : ng;
		for (size_t g = first; g < last; g++) {
			struct given *gv = &given[ngiven];
			snprintf(gv->group, sizeof(gv->group), "%s", groups[g]);
			if (set_target(f, a->slot, groups[g], &ref, "publish", publisher,
				       &gv->before, &gv->had, &revs[g], err, sizeof(err)) != 0) {
				fprintf(stderr, "sluicectl: group %s: setting the target: %s\n",
					groups[g], err);
				revert(f, a->slot, given, ngiven, &ref, publisher, a->wait_s);
				return 2;
			}
			ngiven++;
			printf("group %s: %s target set to %s (rev %" PRIu64 ")\n", groups[g],
			       a->slot, ref.version, revs[g]);
		}
		if (a->no_wait)
			continue;
		/* Every group of the stage is waited for, so that the report
		 * has each gateway's outcome; then the first failure decides. */
		enum wait_result worst = CONVERGED;
		char first_why[2048] = "";
		for (size_t g = first; g < last; g++) {
			unsigned live = 0;
			enum wait_result w =
			    wait_group(f, s, groups[g], revs[g], ref.sha256, a->wait_s, last < ng,
				       &live, why, sizeof(why));
			if (w != CONVERGED) {
				fprintf(stderr, "sluicectl: %s\n", why);
				if (worst == CONVERGED) {
					worst = w;
					snprintf(first_why, sizeof(first_why), "%s", why);
				}
				continue;
			}
			printf("group %s: %u gateway%s running %s, %.2f s after the upload\n",
			       groups[g], live, live == 1 ? "" : "s", ref.version, now_s() - t0);
		}
		if (worst != CONVERGED) {
			fprintf(stderr, "sluicectl: rollout stopped: %s\n", first_why);
			revert(f, a->slot, given, ngiven, &ref, publisher, a->wait_s);
			return worst == BUS_ERROR ? 2 : 1;
		}
		if (last < ng && a->hold_s > 0) {
			printf("holding %.0f s: watching refusals, scan errors and stalls\n",
			       a->hold_s);
			fflush(stdout);
			if (hold(f, groups, last, a->hold_s, base, &nb, 1024, why, sizeof(why)) !=
			    0) {
				fprintf(stderr, "sluicectl: rollout stopped: %s\n", why);
				revert(f, a->slot, given, ngiven, &ref, publisher, a->wait_s);
				return 1;
			}
		}
		fflush(stdout);
	}
	printf("done: %s %s is the %s target of %zu group%s, %.2f s after the upload\n", ref.name,
	       ref.version, a->slot, ng, ng == 1 ? "" : "s", now_s() - t0);
	return 0;
}

/* ---- rollback ---- */

static int fleet_prune(struct sluice_fleet *f, const struct fleet_args *a)
{
	unsigned packs, chunks;
	char err[1024];
	if (sluice_fleet_prune(f, a->dry_run, &packs, &chunks, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: fleet prune: %s\n", err);
		return 2;
	}
	printf("%s %u chunk%s of %u pack%s that nothing names\n",
	       a->dry_run ? "would remove" : "removed", chunks, chunks == 1 ? "" : "s", packs,
	       packs == 1 ? "" : "s");
	return 0;
}

static int fleet_rollback(struct sluice_fleet *f, const struct fleet_args *a)
{
	struct sluice_fleet_target *ts = NULL;
	size_t n = 0;
	char err[1024], publisher[SLUICE_FLEET_TEXT];
	int s = sluice_fleet_slot_index(a->slot);
	publisher_name(publisher, sizeof(publisher), a->publisher);
	if (sluice_fleet_list_targets(f, a->slot, &ts, &n, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: %s\n", err);
		return 2;
	}
	if (n == 0) {
		fprintf(stderr, "sluicectl: no %s target in the bucket: nothing to roll back\n",
			a->slot);
		free(ts);
		return 1;
	}
	uint64_t revs[256];
	bool moved[256] = {false};
	int status = 0;
	/* Where each group goes: its previous pack, or the one --pack names,
	 * found in every group's history before any target moves. */
	static struct sluice_fleet_pack_ref dest[256];
	for (size_t i = 0; i < n && i < 256; i++) {
		dest[i] = ts[i].previous;
		if (a->back_to == NULL)
			continue;
		int found = sluice_fleet_find_in_history(f, a->slot, ts[i].group, a->back_to,
							 &dest[i], err, sizeof(err));
		if (found < 0) {
			fprintf(stderr, "sluicectl: group %s: %s\n", ts[i].group, err);
			status = 2;
		} else if (found == 0) {
			fprintf(stderr,
				"sluicectl: group %s: no %s pack '%s' in the last %u targets: "
				"publish it instead\n",
				ts[i].group, a->slot, a->back_to, SLUICE_FLEET_HISTORY);
			status = 1;
		}
	}
	if (status != 0) {
		fprintf(stderr, "sluicectl: nothing rolled back\n");
		free(ts);
		return status;
	}
	for (size_t i = 0; i < n && i < 256; i++) {
		struct sluice_fleet_target before;
		bool had;
		if (a->back_to == NULL && !ts[i].has_previous) {
			fprintf(stderr,
				"sluicectl: group %s: no previous %s target to go back to\n",
				ts[i].group, a->slot);
			status = 1;
			continue;
		}
		if (set_target(f, a->slot, ts[i].group, &dest[i], "rollback", publisher, &before,
			       &had, &revs[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "sluicectl: group %s: %s\n", ts[i].group, err);
			status = 2;
			continue;
		}
		moved[i] = true;
		printf("group %s: %s target back to %s (%.12s) from %s (rev %" PRIu64 ")\n",
		       ts[i].group, a->slot, dest[i].version, dest[i].sha256, ts[i].pack.version,
		       revs[i]);
	}
	double t0 = now_s();
	for (size_t i = 0; i < n && i < 256 && !a->no_wait; i++) {
		if (!moved[i])
			continue;
		unsigned live = 0;
		char why[1024];
		enum wait_result w = wait_group(f, s, ts[i].group, revs[i], dest[i].sha256,
						a->wait_s, false, &live, why, sizeof(why));
		if (w != CONVERGED) {
			fprintf(stderr, "sluicectl: group %s: %s\n", ts[i].group, why);
			status = status ? status : 1;
		} else {
			printf("group %s: %u gateway%s running %s (%.2f s)\n", ts[i].group, live,
			       live == 1 ? "" : "s", dest[i].version, now_s() - t0);
		}
	}
	free(ts);
	return status;
}

/* ---- status ---- */

static const char *gateway_state(const struct sluice_fleet_status *g,
				 const struct sluice_fleet_target *ts, size_t nt, uint64_t now)
{
	if (sluice_fleet_status_stale(g, now))
		return "stale";
	const char *state = "running";
	for (size_t i = 0; i < nt; i++) {
		if (strcmp(ts[i].group, g->group) != 0)
			continue;
		int s = sluice_fleet_slot_index(ts[i].slot);
		const struct sluice_fleet_slot_state *ss = &g->slot[s];
		if (ss->target_rev == ts[i].revision && strcmp(ss->result, "refused") == 0)
			return "refused";
		if (strcmp(ss->file_sha, ts[i].pack.sha256) != 0)
			state = "behind";
	}
	return state;
}

static void slot_text(char *buf, size_t cap, const struct sluice_fleet_slot_state *ss)
{
	if (ss->version[0] == '\0')
		snprintf(buf, cap, "-");
	else
		snprintf(buf, cap, "%s (%.12s)%s", ss->version,
			 ss->file_sha[0] ? ss->file_sha : ss->pack_sha,
			 ss->file_sha[0] ? "" : " local");
}

static int fleet_status(struct sluice_fleet *f, const struct fleet_args *a)
{
	struct sluice_fleet_target *ts = NULL;
	struct sluice_fleet_status *gws = NULL;
	size_t nt = 0, ng = 0, bad = 0;
	char err[1024];
	if (sluice_fleet_list_targets(f, NULL, &ts, &nt, err, sizeof(err)) != 0 ||
	    sluice_fleet_list_status(f, &gws, &ng, &bad, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluicectl: %s\n", err);
		free(ts);
		return 2;
	}
	uint64_t now = sluice_realtime_ns();
	/* For scripts and probes: 0 only when every gateway runs its targets. */
	int status = 0;
	for (size_t i = 0; i < ng; i++)
		if (strcmp(gateway_state(&gws[i], ts, nt, now), "running") != 0)
			status = 1;
	/* A bucket on one node of a cluster loses every pack with that node. */
	unsigned replicas = sluice_fleet_replicas(f);
	if (a->json) {
		struct sluice_strbuf sb;
		sluice_strbuf_init(&sb);
		sluice_strbuf_printf(&sb, "{\"bucket\":{\"name\":");
		sluice_strbuf_json_string(&sb, a->bucket);
		sluice_strbuf_printf(&sb, ",\"replicas\":%u},\"targets\":[", replicas);
		for (size_t i = 0; i < nt; i++) {
			sluice_strbuf_printf(&sb, "%s{\"revision\":%" PRIu64 ",\"target\":",
					     i ? "," : "", ts[i].revision);
			sluice_fleet_target_format(&ts[i], &sb);
			sluice_strbuf_printf(&sb, "}");
		}
		sluice_strbuf_printf(&sb, "],\"gateways\":[");
		for (size_t i = 0; i < ng; i++) {
			sluice_strbuf_printf(
			    &sb, "%s{\"state\":\"%s\",\"age_ms\":%.0f,\"status\":", i ? "," : "",
			    gateway_state(&gws[i], ts, nt, now),
			    now > gws[i].updated_ns ? (double)(now - gws[i].updated_ns) / 1e6
						    : 0.0);
			sluice_fleet_status_format(&gws[i], &sb);
			sluice_strbuf_printf(&sb, "}");
		}
		sluice_strbuf_printf(&sb, "],\"unreadable\":%zu}\n", bad);
		fputs(sb.data != NULL ? sb.data : "", stdout);
		sluice_strbuf_free(&sb);
	} else {
		printf("bucket %s: %u replica%s\n", a->bucket, replicas, replicas == 1 ? "" : "s");
		printf("targets:\n");
		if (nt == 0)
			printf("  (none: nothing published yet)\n");
		for (size_t i = 0; i < nt; i++) {
			char when[32];
			utc(when, sizeof(when), ts[i].time_ns);
			printf("  %-6s %-12s %s %s (%.12s)  %s by %s at %s", ts[i].slot,
			       ts[i].group, ts[i].pack.name, ts[i].pack.version, ts[i].pack.sha256,
			       ts[i].action, ts[i].publisher, when);
			if (ts[i].has_previous)
				printf("  (previous %s)", ts[i].previous.version);
			printf("\n");
		}
		printf("gateways:\n");
		if (ng == 0)
			printf("  (none has reported)\n");
		else
			printf("  %-16s %-10s %-8s %-36s %-36s %8s  %s\n", "GATEWAY", "GROUP",
			       "STATE", "MAIN", "URGENT", "UPDATED", "LAST REFUSAL");
		for (size_t i = 0; i < ng; i++) {
			char main_text[160], urgent_text[160], refusal[700] = "-";
			slot_text(main_text, sizeof(main_text), &gws[i].slot[0]);
			slot_text(urgent_text, sizeof(urgent_text), &gws[i].slot[1]);
			if (gws[i].has_refusal)
				snprintf(refusal, sizeof(refusal), "%s %s: %s", gws[i].refused_slot,
					 gws[i].refused_version, gws[i].refused_reason);
			double age =
			    now > gws[i].updated_ns ? (double)(now - gws[i].updated_ns) / 1e9 : 0;
			printf("  %-16s %-10s %-8s %-36s %-36s %6.1f s  %s\n", gws[i].name,
			       gws[i].group, gateway_state(&gws[i], ts, nt, now), main_text,
			       urgent_text, age, refusal);
		}
		if (bad > 0)
			printf("  (%zu status entr%s unreadable)\n", bad, bad == 1 ? "y" : "ies");
	}
	free(ts);
	free(gws);
	return status;
}

/* ---- arguments ---- */

static int parse(int argc, char **argv, struct fleet_args *a, const char **cmd)
{
	*a = (struct fleet_args){.bus = getenv("SLUICE_PACK_SOURCE"),
				 .bucket = SLUICE_FLEET_BUCKET,
				 .slot = "main",
				 .hold_s = 60,
				 .wait_s = 120};
	snprintf(a->groups_text, sizeof(a->groups_text), "canary,main");
	*cmd = NULL;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = strcmp(o, "--bus") == 0 || strcmp(o, "--to") == 0 ||
			     strcmp(o, "--bucket") == 0 || strcmp(o, "--slot") == 0 ||
			     strcmp(o, "--groups") == 0 || strcmp(o, "--hold") == 0 ||
			     strcmp(o, "--wait") == 0 || strcmp(o, "--publisher") == 0 ||
			     strcmp(o, "--pack") == 0 || strcmp(o, "--replicas") == 0 ||
			     strncmp(o, "--bus-", 6) == 0;
		if (takes && v == NULL) {
			fprintf(stderr, "sluicectl: fleet: %s needs a value\n", o);
			return -1;
		}
		if (strcmp(o, "--bus") == 0 || strcmp(o, "--to") == 0)
			a->bus = v;
		else if (strcmp(o, "--bucket") == 0)
			a->bucket = v;
		else if (strcmp(o, "--replicas") == 0) {
			char *end;
			unsigned long n = strtoul(v, &end, 10);
			if (*end != '\0' || *v < '1' || *v > '9' || n < 1 || n > 5) {
				fprintf(stderr, "sluicectl: fleet: --replicas: 1 to 5\n");
				return -1;
			}
			a->replicas = (unsigned)n;
		} else if (strcmp(o, "--pack") == 0)
			a->back_to = v;
		else if (strcmp(o, "--bus-ca") == 0)
			a->security.ca_file = v;
		else if (strcmp(o, "--bus-cert") == 0)
			a->security.cert_file = v;
		else if (strcmp(o, "--bus-key") == 0)
			a->security.key_file = v;
		else if (strcmp(o, "--bus-user-file") == 0)
			a->security.user_file = v;
		else if (strcmp(o, "--bus-creds") == 0)
			a->security.creds_file = v;
		else if (strncmp(o, "--bus-", 6) == 0) {
			fprintf(stderr, "sluicectl: fleet: unknown option %s\n", o);
			return -1;
		} else if (strcmp(o, "--slot") == 0)
			a->slot = v;
		else if (strcmp(o, "--groups") == 0) {
			snprintf(a->groups_text, sizeof(a->groups_text), "%s", v);
			a->groups_given = true;
		} else if (strcmp(o, "--hold") == 0 || strcmp(o, "--wait") == 0) {
			char *end;
			double d = strtod(v, &end);
			if (*end != '\0' || d < 0 || d > 86400) {
				fprintf(stderr, "sluicectl: fleet: %s: seconds, 0 to 86400\n", o);
				return -1;
			}
			*(strcmp(o, "--hold") == 0 ? &a->hold_s : &a->wait_s) = d;
		} else if (strcmp(o, "--publisher") == 0)
			a->publisher = v;
		else if (strcmp(o, "--at-once") == 0)
			a->at_once = true;
		else if (strcmp(o, "--no-wait") == 0)
			a->no_wait = true;
		else if (strcmp(o, "--dry-run") == 0)
			a->dry_run = true;
		else if (strcmp(o, "--json") == 0)
			a->json = true;
		else if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
			fleet_usage(stdout);
			exit(0);
		} else if (o[0] == '-') {
			fprintf(stderr, "sluicectl: fleet: unknown option %s\n", o);
			return -1;
		} else if (*cmd == NULL)
			*cmd = o;
		else if (a->pack == NULL)
			a->pack = o;
		else {
			fprintf(stderr, "sluicectl: fleet: unexpected argument %s\n", o);
			return -1;
		}
		if (takes)
			i++;
	}
	if (*cmd == NULL) {
		fleet_usage(stderr);
		return -1;
	}
	if (a->bus == NULL || a->bus[0] == '\0') {
		fprintf(stderr, "sluicectl: fleet: --bus nats://HOST:PORT (or $SLUICE_PACK_SOURCE) "
				"is needed\n");
		return -1;
	}
	char why[512];
	if (sluice_nats_security_check(&a->security, why, sizeof(why)) != 0) {
		fprintf(stderr, "sluicectl: fleet: %s\n", why);
		return -1;
	}
	if (sluice_fleet_slot_index(a->slot) < 0) {
		fprintf(stderr, "sluicectl: fleet: --slot main or urgent, not '%s'\n", a->slot);
		return -1;
	}
	char check[MAX_GROUPS][SLUICE_FLEET_NAME];
	size_t ng = 0;
	if (split_groups(a->groups_text, check, &ng) != 0)
		return -1;
	bool publish = strcmp(*cmd, "publish") == 0;
	if (publish != (a->pack != NULL)) {
		fprintf(stderr,
			publish ? "sluicectl: fleet publish needs a PACK\n"
				: "sluicectl: fleet %s takes no PACK\n",
			*cmd);
		return -1;
	}
	return 0;
}

int sluicectl_fleet(int argc, char **argv)
{
	struct fleet_args a;
	const char *cmd;
	if (parse(argc, argv, &a, &cmd) != 0)
		return 2;
	int (*run)(struct sluice_fleet *, const struct fleet_args *) =
	    strcmp(cmd, "publish") == 0	   ? fleet_publish
	    : strcmp(cmd, "status") == 0   ? fleet_status
	    : strcmp(cmd, "rollback") == 0 ? fleet_rollback
	    : strcmp(cmd, "prune") == 0	   ? fleet_prune
					   : NULL;
	if (run == NULL) {
		fprintf(stderr, "sluicectl: fleet: unknown command '%s'\n", cmd);
		fleet_usage(stderr);
		return 2;
	}
	char err[1024];
	if (run == fleet_publish && read_pack(a.pack, &a.ref, &a.data, &a.len) != 0)
		return 2;
	struct sluice_fleet *f =
	    sluice_fleet_open(a.bus, &a.security, a.bucket, a.replicas, 3000, err, sizeof(err));
	if (f == NULL) {
		fprintf(stderr, "sluicectl: fleet: %s\n", err);
		free(a.data);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int rc = run(f, &a);
	free(a.data);
	sluice_fleet_close(f);
	nats_Close();
	return rc;
}
