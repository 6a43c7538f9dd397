/* The pack lifecycle (issue 3): the memory cap, history and rollback by
 * version, the urgent slot beside the main pack, the audit log, the control
 * socket's group and peer check, per-rule hit counters and rule expiry.
 *
 * Everything runs in this process on the real registry, control server and
 * packet code (no EAL): packs are compiled from small rule files written here,
 * messages go through sluice_packet_process() bound to the registry's active
 * generation, and requests go over the real socket.
 */
#include <criterion/criterion.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "audit_log.h"
#include "control_protocol.h"
#include "control_server.h"
#include "datagram_process.h"
#include "event_ring.h"
#include "pack.h"
#include "pack_source.h"
#include "pack_sign.h"
#include "ruleset_registry.h"
#include "test_support.h"
#include "wire_format.h"

#define PORT	7700
#define PKT_CAP 4096
#define NOBODY	65534

/* ---- files and packs ---- */

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	cr_assert_neq(asprintf(&p, "%s/%s", dir, name), -1);
	return p;
}

static char *write_file(const char *dir, const char *name, const char *text)
{
	char *path = path_in(dir, name);
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_geq(fputs(text, f), 0);
	cr_assert_eq(fclose(f), 0);
	return path;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The urgent pack: a takedown title (block), a leak code (mask), a rumour
 * word (flag); none of them is matched by the default pack. */
static char *urgent_rules(const char *dir, const char *version)
{
	char text[1024], name[64];

	snprintf(text, sizeof(text),
		 "name: urgent-notices\n"
		 "version: \"%s\"\n"
		 "rules:\n"
		 "  - id: takedown-title\n"
		 "    pattern: 'Forbidden Movie'\n"
		 "    action: block\n"
		 "    category: copyright\n"
		 "  - id: leak-code\n"
		 "    pattern: 'LEAK-[0-9]{4}'\n"
		 "    action: mask\n"
		 "    category: copyright\n"
		 "  - id: rumour\n"
		 "    pattern: 'rumour'\n"
		 "    action: flag\n"
		 "    category: misinformation\n",
		 version);
	snprintf(name, sizeof(name), "urgent-%s.yaml", version);
	return write_file(dir, name, text);
}

/* A one-rule main pack named "lifecycle" with the given version. */
static char *versioned_rules(const char *dir, const char *version)
{
	char text[512], name[64];

	snprintf(text, sizeof(text),
		 "name: lifecycle\n"
		 "version: \"%s\"\n"
		 "rules:\n"
		 "  - id: phone\n"
		 "    pattern: '1[3-9][0-9]{9}'\n"
		 "    action: flag\n"
		 "    category: contact\n",
		 version);
	snprintf(name, sizeof(name), "lifecycle-%s.yaml", version);
	return write_file(dir, name, text);
}

static char *default_rules(void)
{
	return ts_source_path("patterns/rules/default.yaml");
}

static size_t rule_index(const struct sluice_pack *pack, const char *id)
{
	for (size_t i = 0; i < pack->rule_count; i++) {
		if (strcmp(pack->rules[i].id, id) == 0)
			return i;
	}
	cr_assert_fail("no rule %s in %s", id, pack->name);
	return SIZE_MAX;
}

/* ---- registry fixture ---- */

static const struct sluice_actor client_actor = {
    .kind = SLUICE_ACTOR_CLIENT, .uid = 1234, .pid = 5678};

static void load_slot_ok(struct sluice_registry *reg, enum sluice_slot slot, const char *path)
{
	char err[1024] = "";

	cr_assert_eq(
	    sluice_registry_load_slot(reg, slot, path, &client_actor, NULL, err, sizeof(err)), 0,
	    "%s: %s", path, err);
}

static size_t scratch_size(const struct sluice_pack *pack)
{
	hs_scratch_t *s = NULL;
	size_t bytes = 0;

	cr_assert_eq(sluice_pack_alloc_scratch(pack, &s), HS_SUCCESS);
	cr_assert_eq(hs_scratch_size(s, &bytes), HS_SUCCESS);
	hs_free_scratch(s);
	return bytes;
}

static void kib(char *buf, size_t cap, size_t bytes)
{
	if (bytes >= 1024 * 1024)
		snprintf(buf, cap, "%.2f MiB", (double)bytes / (1024.0 * 1024.0));
	else
		snprintf(buf, cap, "%.1f KiB", (double)bytes / 1024.0);
}

/* ---- packets ---- */

struct worker_ctx {
	struct sluice_message_decoder dec;
	struct sluice_worker_stats stats;
	struct sluice_event_ring *ring;
	struct sluice_packet_ctx ctx;
};

static void worker_init(struct worker_ctx *w, uint16_t id)
{
	memset(w, 0, sizeof(*w));
	w->ring = sluice_event_ring_create(256);
	cr_assert_not_null(w->ring);
	sluice_udp_frame_decoder_init(&w->dec, PORT);
	sluice_packet_ctx_init(&w->ctx, id, &w->dec, &w->stats, w->ring);
	cr_assert_eq(sluice_packet_ctx_set_scan_mode(&w->ctx, SLUICE_SCAN_MESSAGE), 0);
}

static void worker_fini(struct worker_ctx *w)
{
	sluice_packet_ctx_fini(&w->ctx);
	sluice_event_ring_free(w->ring);
}

/* Runs one message through w bound to the registry's generation; returns the
 * fate and, when forwarded, the frame as it came out. */
static enum sluice_packet_fate scan_text(struct worker_ctx *w, const struct sluice_registry *reg,
					 uint64_t id, const char *text, struct ts_frame *out)
{
	static uint8_t pkt[PKT_CAP];
	struct sluice_wire_message m = ts_msg(id, text);
	uint32_t len = (uint32_t)ts_build_datagram(pkt, sizeof(pkt), false, false, &m, 1);

	cr_assert_gt(len, 0);
	sluice_packet_ctx_bind(&w->ctx, sluice_registry_current(reg), 1000);
	enum sluice_packet_fate fate = sluice_packet_process(&w->ctx, pkt, &len);
	if (fate == SLUICE_FATE_FORWARD && out != NULL) {
		cr_assert_eq(ts_frames_of(pkt, len, PORT, out, 1), 1);
		cr_assert(ts_checksums_valid(pkt, len));
	}
	return fate;
}

static unsigned pop_events(struct worker_ctx *w, struct sluice_event *evs, unsigned max)
{
	unsigned n = 0;

	while (n < max && sluice_event_ring_pop(w->ring, &evs[n]))
		n++;
	return n;
}

/* ---- memory cap ---- */

Test(memory_cap, load_over_the_cap_is_refused_with_the_figures_and_the_active_pack_stays)
{
	struct sluice_registry reg;
	char *dir = ts_make_tmpdir("lifecycle");
	char *a = default_rules(), *b = urgent_rules(dir, "u1");
	char err[1024] = "", want[1024];
	struct sluice_memory_use use;
	struct sluice_pack *pb = NULL;

	sluice_registry_init(&reg, 4, 8);
	reg.loader = ts_pack_loader;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	const struct sluice_generation *before = sluice_registry_current(&reg);
	const struct sluice_pack *pa = before->pack;
	sluice_registry_memory(&reg, &use);
	/* Active: A's database and its scratch on 4 workers; nothing else kept. */
	cr_assert_eq(use.active, sluice_pack_memory(pa) + 4 * scratch_size(pa));
	cr_assert_eq(use.kept, 0);
	cr_assert_eq(use.kept_packs, 0);

	/* B needs its database and scratch on 4 workers, while A is still held. */
	cr_assert_eq(ts_pack_load(b, &pb, err, sizeof(err)), 0, "%s", err);
	size_t b_scratch = scratch_size(pb), b_db = sluice_pack_memory(pb);
	size_t need = b_db + 4 * b_scratch;
	reg.memory_cap = use.active + need - 1;

	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, b, &client_actor, NULL, err,
					       sizeof(err)),
		     -1);
	char t_need[32], t_db[32], t_scratch[32], t_active[32], t_cap[32];
	kib(t_need, sizeof(t_need), need);
	kib(t_db, sizeof(t_db), b_db);
	kib(t_scratch, sizeof(t_scratch), b_scratch);
	kib(t_active, sizeof(t_active), use.active);
	kib(t_cap, sizeof(t_cap), reg.memory_cap);
	snprintf(want, sizeof(want),
		 "urgent-notices u1: new pack needs %s (pack %s + scratch %s × 4 workers), active "
		 "holds %s (+ 0.0 KiB in 0 packs kept for rollback), cap %s; the packs in force "
		 "stay",
		 t_need, t_db, t_scratch, t_active, t_cap);
	cr_assert_str_eq(err, want);
	cr_assert_eq(sluice_registry_current(&reg), before, "no generation was published");
	cr_assert_eq(sluice_registry_current(&reg)->pack, pa);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1);
	cr_assert_eq(reg.refusals, 1);
	cr_assert_eq(reg.swaps, 1);

	/* The cap is inclusive: exactly enough is allowed. */
	reg.memory_cap = use.active + need;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, b);
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->name, "urgent-notices");
	sluice_registry_memory(&reg, &use);
	cr_assert_eq(use.kept, sluice_pack_memory(pa), "A is kept for rollback: its db counts");
	cr_assert_eq(use.kept_packs, 1);

	sluice_pack_free(pb);
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
	ts_rmtree(dir);
	free(dir);
}

Test(memory_cap, rollback_over_the_cap_counts_only_scratch_since_the_db_is_held)
{
	struct sluice_registry reg;
	char *dir = ts_make_tmpdir("lifecycle");
	char *a = default_rules(), *b = versioned_rules(dir, "2.0");
	char err[1024] = "", want[1024];
	struct sluice_memory_use use;

	sluice_registry_init(&reg, 2, 8);
	reg.loader = ts_pack_loader;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, b);
	const struct sluice_pack *pa = reg.slots[SLUICE_SLOT_MAIN].kept[1].pack;
	sluice_registry_memory(&reg, &use);
	size_t need = 2 * scratch_size(pa);
	reg.memory_cap = use.active + use.kept + need - 1;
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &client_actor,
						   NULL, err, sizeof(err)),
		     -1);
	char t_need[32], t_db[32], t_scratch[32], t_active[32], t_kept[32], t_cap[32];
	kib(t_need, sizeof(t_need), need);
	kib(t_db, sizeof(t_db), sluice_pack_memory(pa));
	kib(t_scratch, sizeof(t_scratch), scratch_size(pa));
	kib(t_active, sizeof(t_active), use.active);
	kib(t_kept, sizeof(t_kept), use.kept);
	kib(t_cap, sizeof(t_cap), reg.memory_cap);
	snprintf(want, sizeof(want),
		 "sluice-default 2026.11.23-1: kept pack needs %s (pack %s already held + scratch "
		 "%s × 2 workers), active holds %s (+ %s in 1 pack kept for rollback), cap %s; "
		 "the packs in force stay",
		 t_need, t_db, t_scratch, t_active, t_kept, t_cap);
	cr_assert_str_eq(err, want);
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->version, "2.0");
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 2);
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
	ts_rmtree(dir);
	free(dir);
}

/* Loads the default pack in main, then the urgent notices beside it, on a
 * registry of 2 workers capped at what the first holds, plus what the urgent
 * pack needs, plus extra; returns the report of the urgent load. */
static struct sluice_swap_report main_and_urgent(struct sluice_registry *reg, const char *urgent,
						 size_t extra)
{
	char err[1024] = "";
	struct sluice_memory_use use;
	struct sluice_pack *pb = NULL;
	struct sluice_swap_report report = {0};

	sluice_registry_init(reg, 2, 8);
	reg->loader = ts_pack_loader;
	char *a = default_rules();
	load_slot_ok(reg, SLUICE_SLOT_MAIN, a);
	free(a);
	sluice_registry_memory(reg, &use);
	cr_assert_eq(ts_pack_load(urgent, &pb, err, sizeof(err)), 0, "%s", err);
	reg->memory_cap = use.active + sluice_pack_memory(pb) + 2 * scratch_size(pb) + extra;
	sluice_pack_free(pb);
	cr_assert_eq(sluice_registry_load_slot(reg, SLUICE_SLOT_URGENT, urgent, &client_actor,
					       &report, err, sizeof(err)),
		     0, "%s", err);
	return report;
}

/* A pack's memory counts its folding table; a generation's, the table its
 * two packs share. That table only saves time: a load it would push over
 * the cap goes ahead without it, and says so. */
Test(memory_cap, folding_tables_count_and_the_shared_one_is_left_out_at_the_cap)
{
	char *dir = ts_make_tmpdir("lifecycle");
	char *b = urgent_rules(dir, "u1");
	struct sluice_registry reg;
	struct sluice_memory_use use;

	/* Room for the shared table too. */
	struct sluice_swap_report rep = main_and_urgent(&reg, b, 1024 * 1024);
	const struct sluice_generation *gen = sluice_registry_current(&reg);
	const struct sluice_pack *pa = gen->slot[SLUICE_SLOT_MAIN].pack;
	const struct sluice_pack *pb = gen->slot[SLUICE_SLOT_URGENT].pack;
	cr_assert_not_null(pa->fold);
	cr_assert_not_null(pb->fold);
	const struct sluice_fold_table *t = pa->fold;
	cr_assert_geq(sluice_fold_table_memory(t), sizeof(*t) + (size_t)t->blocks * 256 * 2 +
						       (size_t)t->entries * sizeof(*t->entry) +
						       t->nbytes);
	struct sluice_pack bare = *pa;
	bare.fold = NULL;
	cr_assert_eq(sluice_pack_memory(pa),
		     sluice_pack_memory(&bare) + sluice_fold_table_memory(t),
		     "the folding table counts in the pack's memory");
	cr_assert_not_null(gen->fold_shared, "the two packs' tables differ: one table for both");
	cr_assert(!rep.fold_unshared);
	size_t shared = sluice_fold_table_memory(gen->fold_shared);
	cr_assert_eq(sluice_generation_memory(gen), shared);
	sluice_registry_memory(&reg, &use);
	cr_assert_eq(use.active, sluice_pack_memory(pa) + 2 * scratch_size(pa) +
				     sluice_pack_memory(pb) + 2 * scratch_size(pb) + shared);
	sluice_registry_destroy(&reg);

	/* Room for both packs and their scratch, one byte short of the
	 * shared table: loaded, folding apart. */
	rep = main_and_urgent(&reg, b, shared - 1);
	gen = sluice_registry_current(&reg);
	cr_assert_str_eq(gen->slot[SLUICE_SLOT_URGENT].pack->name, "urgent-notices");
	cr_assert_null(gen->fold_shared);
	cr_assert(rep.fold_unshared);
	cr_assert_eq(sluice_generation_memory(gen), 0);
	sluice_registry_memory(&reg, &use);
	cr_assert_leq(use.active, reg.memory_cap);
	sluice_registry_destroy(&reg);

	/* Exactly enough: shared. */
	rep = main_and_urgent(&reg, b, shared);
	cr_assert_not_null(sluice_registry_current(&reg)->fold_shared);
	cr_assert(!rep.fold_unshared);
	sluice_registry_destroy(&reg);
	free(b);
	ts_rmtree(dir);
	free(dir);
}

/* ---- history and rollback ---- */

struct three {
	char *dir;
	char *paths[3];
	struct sluice_registry reg;
};

/* Loads versions 1.0, 2.0, 3.0 of the lifecycle pack, in that order. */
static void three_versions(struct three *t)
{
	static const char *const versions[] = {"1.0", "2.0", "3.0"};

	t->dir = ts_make_tmpdir("lifecycle");
	sluice_registry_init(&t->reg, 2, 8);
	t->reg.loader = ts_pack_loader;
	for (int i = 0; i < 3; i++) {
		t->paths[i] = versioned_rules(t->dir, versions[i]);
		load_slot_ok(&t->reg, SLUICE_SLOT_MAIN, t->paths[i]);
	}
	cr_assert_eq(t->reg.slots[SLUICE_SLOT_MAIN].len, 3);
}

static void three_free(struct three *t)
{
	sluice_registry_destroy(&t->reg);
	for (int i = 0; i < 3; i++)
		free(t->paths[i]);
	ts_rmtree(t->dir);
	free(t->dir);
}

Test(rollback, without_version_returns_to_the_previous_pack_from_memory)
{
	struct three t;
	struct sluice_swap_report rep;
	char err[1024] = "";

	three_versions(&t);
	struct sluice_pack *v2 = t.reg.slots[SLUICE_SLOT_MAIN].kept[1].pack;
	/* Nothing is read from disk: the files can be gone. */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(unlink(t.paths[i]), 0);
	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_MAIN, NULL, &client_actor,
						   &rep, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(sluice_registry_current(&t.reg)->pack, v2, "the very pack 2.0 is back");
	cr_assert_eq(rep.load_ms, 0.0);
	cr_assert_str_eq(rep.previous_version, "3.0");
	cr_assert_eq(rep.dropped, 0);
	cr_assert_eq(rep.seq, 4);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].len, 3, "3.0 stays kept");
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].current, 1);
	cr_assert_str_eq(t.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->version, "3.0");
	three_free(&t);
}

Test(rollback, to_an_older_version_keeps_the_newer_ones)
{
	struct three t;
	struct sluice_swap_report rep;
	char err[1024] = "";

	three_versions(&t);
	struct sluice_pack *v1 = t.reg.slots[SLUICE_SLOT_MAIN].kept[2].pack;
	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_MAIN, "1.0", &client_actor,
						   &rep, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(sluice_registry_current(&t.reg)->pack, v1);
	cr_assert_str_eq(rep.previous_version, "3.0");
	cr_assert_eq(rep.dropped, 0);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].len, 3);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].current, 2);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].kept[2].pack, v1);
	three_free(&t);
}

Test(rollback, unknown_version_is_refused_listing_the_kept_versions)
{
	struct three t;
	char err[1024] = "";

	three_versions(&t);
	const struct sluice_generation *before = sluice_registry_current(&t.reg);
	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_MAIN, "9.9", &client_actor,
						   NULL, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "no kept pack with version '9.9' in the main slot; kept: 3.0 "
			      "(active), 2.0, 1.0");
	cr_assert_eq(sluice_registry_current(&t.reg), before);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].len, 3);
	cr_assert_eq(t.reg.refusals, 1);

	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_MAIN, "3.0", &client_actor,
						   NULL, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "version '3.0' is already active in the main slot; kept: 3.0 "
			      "(active), 2.0, 1.0");
	cr_assert_eq(sluice_registry_current(&t.reg), before);
	cr_assert_eq(t.reg.refusals, 2);
	three_free(&t);
}

Test(rollback, takes_about_as_long_as_a_swap)
{
	struct three t;
	struct sluice_swap_report rep;
	char err[1024] = "";

	three_versions(&t);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_MAIN, "1.0", &client_actor,
						   &rep, err, sizeof(err)),
		     0, "%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	/* No compile, no read: scratch for 2 workers and a grace period. */
	cr_assert_lt(ms, 100.0, "rollback took %.1f ms", ms);
	cr_assert_eq(rep.load_ms, 0.0);
	three_free(&t);
}

/* ---- roll forward: the kept packs on either side of the one in force ---- */

/* "3.0 2.0* 1.0": the slot's kept versions, loaded last first, * on the
 * slot's pack. */
static const char *versions(const struct sluice_registry *reg, enum sluice_slot slot)
{
	static char buf[512];
	const struct sluice_slot_history *h = &reg->slots[slot];
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < h->len; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s%s", i ? " " : "",
					 h->kept[i].pack->version, i == h->current ? "*" : "");
	return buf;
}

static int move(struct sluice_registry *reg, enum sluice_slot slot, bool forward, const char *to,
		struct sluice_swap_report *rep, char *err, size_t err_len)
{
	return forward
		   ? sluice_registry_rollforward_slot(reg, slot, to, &client_actor, rep, err,
						      err_len)
		   : sluice_registry_rollback_slot(reg, slot, to, &client_actor, rep, err, err_len);
}

/* A move that must succeed, leaving the history as `after` (versions()). */
static void move_ok(struct sluice_registry *reg, enum sluice_slot slot, bool forward,
		    const char *to, const char *after)
{
	char err[1024] = "";
	struct sluice_swap_report rep;

	cr_assert_eq(move(reg, slot, forward, to, &rep, err, sizeof(err)), 0, "%s %s: %s",
		     forward ? "rollforward" : "rollback", to ? to : "(next)", err);
	cr_assert_str_eq(versions(reg, slot), after);
	cr_assert_eq(rep.load_ms, 0.0, "nothing is read for a move");
	cr_assert_eq(rep.dropped, 0, "a move keeps every pack");
	const struct sluice_slot_history *h = &reg->slots[slot];
	cr_assert_eq(sluice_registry_current(reg)->slot[slot].pack, h->kept[h->current].pack);
	cr_assert(h->active);
	cr_assert_eq(h->active_since_ns, sluice_registry_current(reg)->loaded_at_ns,
		     "the slot is in force since the swap");
}

/* A move that must be refused with exactly `want`, publishing nothing. */
static void move_refused(struct sluice_registry *reg, enum sluice_slot slot, bool forward,
			 const char *to, const char *want)
{
	char err[1024] = "";
	const struct sluice_generation *before = sluice_registry_current(reg);
	uint64_t refusals = reg->refusals;
	char history[512];

	snprintf(history, sizeof(history), "%s", versions(reg, slot));
	cr_assert_eq(move(reg, slot, forward, to, NULL, err, sizeof(err)), -1, "%s %s",
		     forward ? "rollforward" : "rollback", to ? to : "(next)");
	cr_assert_str_eq(err, want);
	cr_assert_eq(sluice_registry_current(reg), before, "a refused move published");
	cr_assert_eq(reg->refusals, refusals + 1);
	cr_assert_str_eq(versions(reg, slot), history);
}

Test(roll_forward, rollback_then_forward_again_to_the_very_packs_from_memory)
{
	struct three t;
	struct sluice_memory_use use;
	char sha[16];

	three_versions(&t);
	struct sluice_pack *v3 = t.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack;
	struct sluice_pack *v2 = t.reg.slots[SLUICE_SLOT_MAIN].kept[1].pack;
	struct sluice_pack *v1 = t.reg.slots[SLUICE_SLOT_MAIN].kept[2].pack;
	/* Nothing is read from disk, either way: the files can be gone. */
	for (int i = 0; i < 3; i++)
		cr_assert_eq(unlink(t.paths[i]), 0);

	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, "1.0", "3.0 2.0 1.0*");
	cr_assert_eq(sluice_registry_current(&t.reg)->pack, v1);
	/* The newer packs are held for rolling forward, and counted so. */
	sluice_registry_memory(&t.reg, &use);
	cr_assert_eq(use.kept_packs, 2);
	cr_assert_eq(use.kept, sluice_pack_memory(v2) + sluice_pack_memory(v3));

	move_ok(&t.reg, SLUICE_SLOT_MAIN, true, "3.0", "3.0* 2.0 1.0");
	cr_assert_eq(sluice_registry_current(&t.reg)->pack, v3, "the very pack 3.0 is back");
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, "@2", "3.0 2.0 1.0*");
	move_ok(&t.reg, SLUICE_SLOT_MAIN, true, NULL, "3.0 2.0* 1.0");
	cr_assert_eq(sluice_registry_current(&t.reg)->pack, v2);
	move_ok(&t.reg, SLUICE_SLOT_MAIN, true, "@0", "3.0* 2.0 1.0");
	/* A SHA-256 prefix, in either case. */
	snprintf(sha, sizeof(sha), "%.10s", v1->sha256_hex);
	for (char *c = sha; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, sha, "3.0 2.0 1.0*");
	snprintf(sha, sizeof(sha), "%.6s", v2->sha256_hex);
	move_ok(&t.reg, SLUICE_SLOT_MAIN, true, sha, "3.0 2.0* 1.0");
	cr_assert_eq(t.reg.swaps, 3 + 7);
	three_free(&t);
}

struct refusal {
	bool forward;
	const char *to, *want;
};

/* In force: the newest of 3.0, 2.0, 1.0. */
static const struct refusal at_newest[] = {
    {true, NULL,
     "no newer pack to roll forward to (history holds 3); kept: 3.0 (active), 2.0, 1.0"},
    {true, "3.0", "version '3.0' is already active in the main slot; kept: 3.0 (active), 2.0, 1.0"},
    {true, "1.0",
     "version '1.0' is older than 3.0, in force in the main slot: roll back to it instead; kept: "
     "3.0 (active), 2.0, 1.0"},
};

/* In force: the oldest. */
#define KEPT_OLDEST "kept: 3.0, 2.0, 1.0 (active)"
#define BAD_POSITION(p)                                                                            \
	{                                                                                          \
		true, p,                                                                           \
		    "bad position '" p                                                             \
		    "': expected @N, N a number from 0 (the pack loaded last); kept in "           \
		    "the main slot: 3.0, 2.0, 1.0 (active)"                                        \
	}
static const struct refusal at_oldest[] = {
    {false, NULL, "no earlier pack to roll back to (history holds 3); " KEPT_OLDEST},
    {false, "3.0",
     "version '3.0' is newer than 1.0, in force in the main slot: roll forward to it "
     "instead; " KEPT_OLDEST},
    {false, "@0",
     "position @0 (3.0) is newer than 1.0, in force in the main slot: roll forward to it "
     "instead; " KEPT_OLDEST},
    {true, "@3", "no kept pack at position @3 in the main slot (history holds 3); " KEPT_OLDEST},
    BAD_POSITION("@"),
    BAD_POSITION("@x"),
    BAD_POSITION("@-1"),
    BAD_POSITION("@1x"),
    BAD_POSITION("@ 1"),
    BAD_POSITION("@+1"),
    {true, "9.9", "no kept pack with version '9.9' in the main slot; " KEPT_OLDEST},
    /* Under 6 hex digits a name is only a version: too short to be sure. */
    {true, "abc12", "no kept pack with version 'abc12' in the main slot; " KEPT_OLDEST},
    {true, "00000000deadbeef",
     "no kept pack with version or SHA-256 prefix '00000000deadbeef' in the main "
     "slot; " KEPT_OLDEST},
};

static void refused_all(struct sluice_registry *reg, const struct refusal *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		move_refused(reg, SLUICE_SLOT_MAIN, cases[i].forward, cases[i].to, cases[i].want);
}

Test(roll_forward, already_newest_and_bad_targets_are_refused_each_with_its_reason)
{
	struct three t;
	char want[1024], prefix[16], saved[65];

	three_versions(&t);
	struct sluice_registry *r = &t.reg;
	struct sluice_pack *v3 = r->slots[SLUICE_SLOT_MAIN].kept[0].pack;
	struct sluice_pack *v2 = r->slots[SLUICE_SLOT_MAIN].kept[1].pack;
	struct sluice_pack *v1 = r->slots[SLUICE_SLOT_MAIN].kept[2].pack;

	refused_all(r, at_newest, sizeof(at_newest) / sizeof(at_newest[0]));
	move_ok(r, SLUICE_SLOT_MAIN, false, "1.0", "3.0 2.0 1.0*");
	refused_all(r, at_oldest, sizeof(at_oldest) / sizeof(at_oldest[0]));
	snprintf(prefix, sizeof(prefix), "%.8s", v1->sha256_hex);
	snprintf(want, sizeof(want),
		 "SHA-256 prefix '%s' (1.0) is already active in the main slot; " KEPT_OLDEST,
		 prefix);
	move_refused(r, SLUICE_SLOT_MAIN, false, prefix, want);

	/* Two kept packs that begin alike (made so here: 32 bits agree by chance
	 * once in 4 billion pairs) are not told apart by a guess. */
	memcpy(saved, v2->sha256_hex, sizeof(saved));
	memcpy(v2->sha256_hex, v3->sha256_hex, 8);
	snprintf(prefix, sizeof(prefix), "%.8s", v3->sha256_hex);
	snprintf(want, sizeof(want),
		 "SHA-256 prefix '%s' begins 2 kept packs in the main slot (3.0 %.12s, 2.0 %.12s): "
		 "give more digits",
		 prefix, v3->sha256_hex, v2->sha256_hex);
	move_refused(r, SLUICE_SLOT_MAIN, true, prefix, want);
	memcpy(v2->sha256_hex, saved, sizeof(saved));
	three_free(&t);
}

/* A load while rolled back: the new pack is loaded last, so it goes first and
 * is in force; the packs rolled back from stay kept between it and the pack
 * it replaced, in the order they were loaded. */
Test(roll_forward, a_load_while_rolled_back_goes_first_and_the_newer_packs_stay_kept)
{
	struct three t;
	struct sluice_swap_report rep;
	char err[1024] = "";

	three_versions(&t);
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, "1.0", "3.0 2.0 1.0*");
	char *v4 = versioned_rules(t.dir, "4.0");
	cr_assert_eq(sluice_registry_load_slot(&t.reg, SLUICE_SLOT_MAIN, v4, &client_actor, &rep,
					       err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(versions(&t.reg, SLUICE_SLOT_MAIN), "4.0* 3.0 2.0 1.0");
	cr_assert_str_eq(rep.previous_version, "1.0");
	cr_assert_eq(rep.dropped, 0);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].active_since_ns,
		     sluice_registry_current(&t.reg)->loaded_at_ns);
	/* One step back is the next pack in load order. */
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, NULL, "4.0 3.0* 2.0 1.0");
	move_ok(&t.reg, SLUICE_SLOT_MAIN, true, NULL, "4.0* 3.0 2.0 1.0");
	free(v4);
	three_free(&t);
}

Test(roll_forward, the_history_bound_spares_the_pack_in_force_and_the_one_a_load_replaces)
{
	struct sluice_registry reg;
	struct sluice_swap_report rep;
	char *dir = ts_make_tmpdir("lifecycle");
	static const char *const names[] = {"1.0", "2.0", "3.0", "4.0", "5.0", "6.0"};
	char *paths[6];
	char err[1024] = "";

	for (int i = 0; i < 6; i++)
		paths[i] = versioned_rules(dir, names[i]);
	sluice_registry_init(&reg, 1, 3);
	reg.loader = ts_pack_loader;
	for (int i = 0; i < 3; i++)
		load_slot_ok(&reg, SLUICE_SLOT_MAIN, paths[i]);
	move_ok(&reg, SLUICE_SLOT_MAIN, false, "1.0", "3.0 2.0 1.0*");

	/* 1.0, the oldest, was in force: 2.0 goes instead. */
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, paths[3], &client_actor,
					       &rep, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(rep.dropped, 1);
	cr_assert_str_eq(versions(&reg, SLUICE_SLOT_MAIN), "4.0* 3.0 1.0");
	move_ok(&reg, SLUICE_SLOT_MAIN, false, "1.0", "4.0 3.0 1.0*");
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, paths[4]);
	cr_assert_str_eq(versions(&reg, SLUICE_SLOT_MAIN), "5.0* 4.0 1.0");
	/* In force in the middle: the oldest goes, as it always did. */
	move_ok(&reg, SLUICE_SLOT_MAIN, false, "4.0", "5.0 4.0* 1.0");
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, paths[5]);
	cr_assert_str_eq(versions(&reg, SLUICE_SLOT_MAIN), "6.0* 5.0 4.0");
	sluice_registry_destroy(&reg);

	/* The shortest history: the new pack and the one it replaced. */
	sluice_registry_init(&reg, 1, 2);
	reg.loader = ts_pack_loader;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, paths[0]);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, paths[1]);
	move_ok(&reg, SLUICE_SLOT_MAIN, false, NULL, "2.0 1.0*");
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, paths[2]);
	cr_assert_str_eq(versions(&reg, SLUICE_SLOT_MAIN), "3.0* 1.0");
	sluice_registry_destroy(&reg);
	for (int i = 0; i < 6; i++)
		free(paths[i]);
	ts_rmtree(dir);
	free(dir);
}

Test(roll_forward, the_same_pack_loaded_again_while_rolled_back_takes_its_entry_s_place)
{
	struct three t;
	struct sluice_swap_report rep;
	char err[1024] = "";

	three_versions(&t);
	char sha3[65];
	memcpy(sha3, t.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->sha256_hex, sizeof(sha3));
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, "1.0", "3.0 2.0 1.0*");
	/* A newer kept pack loaded again: one entry, first, in force. */
	cr_assert_eq(sluice_registry_load_slot(&t.reg, SLUICE_SLOT_MAIN, t.paths[2], &client_actor,
					       &rep, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(versions(&t.reg, SLUICE_SLOT_MAIN), "3.0* 2.0 1.0");
	cr_assert_str_eq(rep.previous_version, "1.0");
	cr_assert_str_eq(sluice_registry_current(&t.reg)->pack->sha256_hex, sha3);

	/* The pack in force loaded again: loaded last, so first. */
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, "1.0", "3.0 2.0 1.0*");
	load_slot_ok(&t.reg, SLUICE_SLOT_MAIN, t.paths[0]);
	cr_assert_str_eq(versions(&t.reg, SLUICE_SLOT_MAIN), "1.0* 3.0 2.0");
	move_refused(&t.reg, SLUICE_SLOT_MAIN, true, NULL,
		     "no newer pack to roll forward to (history holds 3); kept: 1.0 (active), 3.0, "
		     "2.0");
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, NULL, "1.0 3.0* 2.0");
	three_free(&t);
}

/* ---- urgent slot ---- */

struct two_slots {
	char *dir;
	char *main_path, *urgent_path;
	struct sluice_registry reg;
	struct worker_ctx w;
};

static void two_slots_init(struct two_slots *t)
{
	t->dir = ts_make_tmpdir("lifecycle");
	t->main_path = default_rules();
	t->urgent_path = urgent_rules(t->dir, "u1");
	sluice_registry_init(&t->reg, 1, 8);
	t->reg.loader = ts_pack_loader;
	load_slot_ok(&t->reg, SLUICE_SLOT_MAIN, t->main_path);
	load_slot_ok(&t->reg, SLUICE_SLOT_URGENT, t->urgent_path);
	worker_init(&t->w, 0);
}

static void two_slots_fini(struct two_slots *t)
{
	worker_fini(&t->w);
	sluice_registry_destroy(&t->reg);
	free(t->main_path);
	free(t->urgent_path);
	ts_rmtree(t->dir);
	free(t->dir);
}

Test(urgent_slot, message_blocked_only_by_the_urgent_pack_is_blocked)
{
	struct two_slots t;
	struct sluice_event evs[4];
	struct ts_frame fr;

	two_slots_init(&t);
	const struct sluice_generation *gen = sluice_registry_current(&t.reg);
	const struct sluice_pack *urgent = gen->slot[SLUICE_SLOT_URGENT].pack;
	cr_assert_str_eq(gen->pack->name, "sluice-default");
	cr_assert_str_eq(urgent->name, "urgent-notices");

	/* The main pack alone lets it pass. */
	cr_assert_eq(scan_text(&t.w, &t.reg, 1, "hello there", &fr), SLUICE_FATE_FORWARD);
	cr_assert_eq(scan_text(&t.w, &t.reg, 2, "watch Forbidden Movie free", NULL),
		     SLUICE_FATE_DROP_VERDICT);
	cr_assert_eq(t.w.stats.verdicts[SLUICE_ACTION_BLOCK], 1);
	cr_assert_eq(t.w.stats.verdicts[SLUICE_ACTION_NONE], 1);
	cr_assert_eq(pop_events(&t.w, evs, 4), 1);
	cr_assert_eq(evs[0].kind, SLUICE_EVENT_MATCH);
	cr_assert_eq(evs[0].msg_id, 2);
	cr_assert_eq(evs[0].pack, urgent, "the event names the urgent pack");
	cr_assert_eq(evs[0].rule, rule_index(urgent, "takedown-title"));
	cr_assert_eq(evs[0].from, 6);
	cr_assert_eq(evs[0].to, 21);
	cr_assert_eq(evs[0].verdict, SLUICE_ACTION_BLOCK);
	two_slots_fini(&t);
}

Test(urgent_slot, masked_by_main_and_flagged_by_urgent_is_masked_with_events_from_both)
{
	struct two_slots t;
	struct sluice_event evs[4];
	struct ts_frame fr;

	two_slots_init(&t);
	const struct sluice_generation *gen = sluice_registry_current(&t.reg);
	const struct sluice_pack *main_pack = gen->pack;
	const struct sluice_pack *urgent = gen->slot[SLUICE_SLOT_URGENT].pack;

	cr_assert_eq(scan_text(&t.w, &t.reg, 7, "call 13812345678 rumour", &fr),
		     SLUICE_FATE_FORWARD);
	cr_assert_str_eq(fr.text, "call *********** rumour");
	cr_assert_eq(fr.flags, SLUICE_WIRE_FLAG_MASKED, "mask is the stronger verdict");
	cr_assert_eq(t.w.stats.verdicts[SLUICE_ACTION_MASK], 1);
	cr_assert_eq(t.w.stats.matches, 2);
	cr_assert_eq(pop_events(&t.w, evs, 4), 2);
	cr_assert_eq(evs[0].pack, main_pack);
	cr_assert_eq(evs[0].rule, rule_index(main_pack, "phone-cn-mobile"));
	cr_assert_eq(evs[0].from, 5);
	cr_assert_eq(evs[0].to, 16);
	cr_assert_eq(evs[0].verdict, SLUICE_ACTION_MASK);
	cr_assert_eq(evs[1].pack, urgent);
	cr_assert_eq(evs[1].rule, rule_index(urgent, "rumour"));
	cr_assert_eq(evs[1].from, 17);
	cr_assert_eq(evs[1].to, 23);
	cr_assert_eq(evs[1].verdict, SLUICE_ACTION_MASK, "the message's combined verdict");
	two_slots_fini(&t);
}

Test(urgent_slot, mask_spans_of_both_packs_are_masked)
{
	struct two_slots t;
	struct ts_frame fr;

	two_slots_init(&t);
	cr_assert_eq(scan_text(&t.w, &t.reg, 8, "LEAK-2046 or 13912345678", &fr),
		     SLUICE_FATE_FORWARD);
	cr_assert_str_eq(fr.text, "********* or ***********");
	cr_assert_eq(fr.flags, SLUICE_WIRE_FLAG_MASKED);
	two_slots_fini(&t);
}

Test(urgent_slot, block_by_main_wins_over_flag_by_urgent)
{
	struct two_slots t;
	struct sluice_event evs[4];

	two_slots_init(&t);
	cr_assert_eq(scan_text(&t.w, &t.reg, 9, "rumour: online casino", NULL),
		     SLUICE_FATE_DROP_VERDICT);
	cr_assert_eq(pop_events(&t.w, evs, 4), 2);
	cr_assert_eq(evs[0].verdict, SLUICE_ACTION_BLOCK);
	cr_assert_eq(evs[1].verdict, SLUICE_ACTION_BLOCK);
	two_slots_fini(&t);
}

Test(urgent_slot, unload_stops_its_verdicts_and_keeps_it_for_rollback)
{
	struct two_slots t;
	struct sluice_swap_report rep;
	char err[1024] = "";

	two_slots_init(&t);
	const struct sluice_pack *urgent = sluice_registry_current(&t.reg)->slot[1].pack;
	cr_assert_eq(sluice_registry_unload(&t.reg, SLUICE_SLOT_URGENT, &client_actor, &rep, err,
					    sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(rep.previous_version, "u1");
	cr_assert_null(sluice_registry_current(&t.reg)->slot[SLUICE_SLOT_URGENT].pack);
	cr_assert_eq(scan_text(&t.w, &t.reg, 1, "watch Forbidden Movie free", NULL),
		     SLUICE_FATE_FORWARD);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_URGENT].len, 1);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_URGENT].active, false);

	cr_assert_eq(sluice_registry_unload(&t.reg, SLUICE_SLOT_URGENT, &client_actor, NULL, err,
					    sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "the urgent slot is empty: nothing to unload");
	cr_assert_eq(
	    sluice_registry_unload(&t.reg, SLUICE_SLOT_MAIN, &client_actor, NULL, err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "the main slot cannot be unloaded: every message must be scanned by "
			      "a main pack (reload another or roll back instead)");
	cr_assert_not_null(sluice_registry_current(&t.reg)->pack);

	/* Rolling the urgent slot back undoes the unload. */
	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_URGENT, NULL, &client_actor,
						   &rep, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(sluice_registry_current(&t.reg)->slot[SLUICE_SLOT_URGENT].pack, urgent);
	cr_assert_str_eq(rep.previous_version, "");
	cr_assert_eq(scan_text(&t.w, &t.reg, 2, "watch Forbidden Movie free", NULL),
		     SLUICE_FATE_DROP_VERDICT);
	two_slots_fini(&t);
}

Test(urgent_slot, reload_and_rollback_of_urgent_leave_main_untouched)
{
	struct two_slots t;
	char err[1024] = "";

	two_slots_init(&t);
	const struct sluice_generation *g1 = sluice_registry_current(&t.reg);
	const struct sluice_pack *main_pack = g1->pack;
	const struct sluice_pack *u1 = g1->slot[SLUICE_SLOT_URGENT].pack;
	struct sluice_scratch_set *main_scratch = g1->slot[SLUICE_SLOT_MAIN].scratch;
	hs_scratch_t *main_worker0 = g1->slot[SLUICE_SLOT_MAIN].scratch->scratch[0];
	uint64_t seq = g1->seq;

	char *u2 = urgent_rules(t.dir, "u2");
	load_slot_ok(&t.reg, SLUICE_SLOT_URGENT, u2);
	const struct sluice_generation *g2 = sluice_registry_current(&t.reg);
	cr_assert_eq(g2->seq, seq + 1);
	cr_assert_str_eq(g2->slot[SLUICE_SLOT_URGENT].pack->version, "u2");
	cr_assert_eq(g2->pack, main_pack, "the main pack is the same object");
	cr_assert_eq(g2->slot[SLUICE_SLOT_MAIN].scratch, main_scratch,
		     "main keeps its scratch: nothing of main was rebuilt");
	cr_assert_eq(g2->slot[SLUICE_SLOT_MAIN].scratch->scratch[0], main_worker0);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].len, 1, "main's history did not move");
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack, main_pack);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_URGENT].len, 2);

	cr_assert_eq(sluice_registry_rollback_slot(&t.reg, SLUICE_SLOT_URGENT, NULL, &client_actor,
						   NULL, err, sizeof(err)),
		     0, "%s", err);
	const struct sluice_generation *g3 = sluice_registry_current(&t.reg);
	cr_assert_eq(g3->slot[SLUICE_SLOT_URGENT].pack, u1);
	cr_assert_eq(g3->pack, main_pack);
	cr_assert_eq(g3->slot[SLUICE_SLOT_MAIN].scratch, main_scratch);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].len, 1);

	/* And the other way round: reloading main keeps the urgent pack. */
	char *v2 = versioned_rules(t.dir, "2.0");
	load_slot_ok(&t.reg, SLUICE_SLOT_MAIN, v2);
	cr_assert_eq(sluice_registry_current(&t.reg)->slot[SLUICE_SLOT_URGENT].pack, u1);
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_URGENT].len, 2, "u2 stays kept");
	free(u2);
	free(v2);
	two_slots_fini(&t);
}

Test(urgent_slot, an_unloaded_slot_comes_back_by_rollback_not_by_rollforward)
{
	struct two_slots t;

	two_slots_init(&t);
	char *u2 = urgent_rules(t.dir, "u2");
	load_slot_ok(&t.reg, SLUICE_SLOT_URGENT, u2);
	char err[1024] = "";
	cr_assert_eq(sluice_registry_unload(&t.reg, SLUICE_SLOT_URGENT, &client_actor, NULL, err,
					    sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(versions(&t.reg, SLUICE_SLOT_URGENT), "u2* u1");
	cr_assert_not(t.reg.slots[SLUICE_SLOT_URGENT].active);

	move_refused(&t.reg, SLUICE_SLOT_URGENT, true, NULL,
		     "no newer pack to roll forward to in the urgent slot (history holds 2); kept: "
		     "u2 (unloaded), u1");
	move_refused(
	    &t.reg, SLUICE_SLOT_URGENT, true, "u2",
	    "version 'u2' is the same as u2, last in force in the urgent slot: roll back to "
	    "it instead; kept: u2 (unloaded), u1");
	move_ok(&t.reg, SLUICE_SLOT_URGENT, false, "u1", "u2 u1*");
	move_ok(&t.reg, SLUICE_SLOT_URGENT, true, NULL, "u2* u1");
	cr_assert_str_eq(versions(&t.reg, SLUICE_SLOT_MAIN), "2026.11.23-1*");
	free(u2);
	two_slots_fini(&t);
}

Test(urgent_slot, urgent_pack_before_any_main_pack_is_refused)
{
	struct sluice_registry reg;
	char *dir = ts_make_tmpdir("lifecycle");
	char *u = urgent_rules(dir, "u1");
	char err[1024] = "";

	sluice_registry_init(&reg, 1, 8);
	reg.loader = ts_pack_loader;
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_URGENT, u, &client_actor, NULL,
					       err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err,
			 "no main pack is loaded yet: the urgent slot goes beside a main pack");
	cr_assert_null(sluice_registry_current(&reg));
	cr_assert_eq(reg.slots[SLUICE_SLOT_URGENT].len, 0);
	sluice_registry_destroy(&reg);
	free(u);
	ts_rmtree(dir);
	free(dir);
}

/* ---- audit log ---- */

/* The lines of an audit file, each checked to start with an ISO-8601 UTC
 * timestamp; *count is set. */
static char **audit_lines(const char *path, size_t *count)
{
	char *text = read_text(path);
	char **lines = calloc(64, sizeof(char *));
	char *save = NULL;
	size_t n = 0;

	for (char *l = strtok_r(text, "\n", &save); l != NULL && n < 64;
	     l = strtok_r(NULL, "\n", &save)) {
		cr_assert_eq(strncmp(l, "{\"ts\":\"20", 9), 0, "%s", l);
		cr_assert_eq(strncmp(l + 36, "Z\",", 3), 0, "ts is not ...T..:..:..nnnnnnnnnZ: %s",
			     l);
		lines[n++] = strdup(strchr(l, ',') + 1); /* without the timestamp */
	}
	free(text);
	*count = n;
	return lines;
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* The audit line (after its timestamp) of client_actor's rollback or roll
 * forward in the main slot from version `from` to pack `to`. */
static void move_line(char *buf, size_t cap, const char *action, const struct sluice_pack *to,
		      const char *from)
{
	snprintf(buf, cap,
		 "\"action\":\"%s\",\"slot\":\"main\",\"result\":\"ok\",\"by\":\"client\",\"uid\":"
		 "1234,\"pid\":5678,\"pack\":\"%s\",\"version\":\"%s\",\"sha256\":\"%s\","
		 "\"previous_version\":\"%s\"}",
		 action, to->name, to->version, to->sha256_hex, from);
}

/* A registry of one worker that writes its audit lines to path. */
static void audited_registry(struct sluice_registry *reg, struct sluice_audit_log *log,
			     const char *path)
{
	char err[512] = "";

	cr_assert_eq(sluice_audit_open(log, path, err, sizeof(err)), 0, "%s", err);
	sluice_registry_init(reg, 1, 8);
	reg->loader = ts_pack_loader;
	reg->audit = log;
}

Test(audit_log, one_line_per_load_refusal_rollback_unload_and_expiry)
{
	struct sluice_registry reg;
	struct sluice_audit_log log;
	char *dir = ts_make_tmpdir("lifecycle");
	char *audit_path = path_in(dir, "audit.jsonl");
	char *a = versioned_rules(dir, "1.0"), *b = versioned_rules(dir, "2.0");
	char *u = urgent_rules(dir, "u1");
	char *missing = path_in(dir, "missing.pack");
	char err[1024] = "", want[2048];

	audited_registry(&reg, &log, audit_path);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, missing, &client_actor, NULL,
					       err, sizeof(err)),
		     -1);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, b);
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &client_actor,
						   NULL, err, sizeof(err)),
		     0, "%s", err);
	load_slot_ok(&reg, SLUICE_SLOT_URGENT, u);
	cr_assert_eq(
	    sluice_registry_unload(&reg, SLUICE_SLOT_URGENT, &client_actor, NULL, err, sizeof(err)),
	    0, "%s", err);
	/* Expiry: rule 0 of 1.0 expired a second ago. */
	struct sluice_pack *v1 = reg.slots[SLUICE_SLOT_MAIN].kept[1].pack;
	v1->rules[0].expires_at = (int64_t)time(NULL) - 1;
	cr_assert_eq(sluice_registry_expire(&reg, (int64_t)time(NULL), err, sizeof(err)), 1, "%s",
		     err);
	sluice_audit_close(&log);

	size_t n;
	char **lines = audit_lines(audit_path, &n);
	cr_assert_eq(n, 7, "%zu audit lines", n);
	const struct sluice_pack *urgent = reg.slots[SLUICE_SLOT_URGENT].kept[0].pack;
	snprintf(want, sizeof(want),
		 "\"action\":\"load\",\"slot\":\"main\",\"result\":\"ok\",\"by\":\"client\","
		 "\"uid\":1234,\"pid\":5678,\"path\":\"%s\",\"pack\":\"lifecycle\",\"version\":"
		 "\"1.0\",\"sha256\":\"%s\",\"previous_version\":null}",
		 a, v1->sha256_hex);
	cr_assert_str_eq(lines[0], want);
	snprintf(want, sizeof(want),
		 "\"action\":\"load\",\"slot\":\"main\",\"result\":\"refused\",\"reason\":\"%s: "
		 "cannot open: No such file or directory\",\"by\":\"client\",\"uid\":1234,\"pid\":"
		 "5678,\"path\":\"%s\",\"previous_version\":\"1.0\"}",
		 missing, missing);
	cr_assert_str_eq(lines[1], want);
	cr_assert_not_null(strstr(lines[2], "\"action\":\"load\",\"slot\":\"main\",\"result\":"
					    "\"ok\""),
			   "%s", lines[2]);
	cr_assert_not_null(strstr(lines[2], "\"version\":\"2.0\""), "%s", lines[2]);
	cr_assert_not_null(strstr(lines[2], "\"previous_version\":\"1.0\"}"), "%s", lines[2]);
	move_line(want, sizeof(want), "rollback", v1, "2.0");
	cr_assert_str_eq(lines[3], want);
	cr_assert_not_null(strstr(lines[4], "\"action\":\"load\",\"slot\":\"urgent\",\"result\":"
					    "\"ok\""),
			   "%s", lines[4]);
	cr_assert_not_null(strstr(lines[4], "\"pack\":\"urgent-notices\",\"version\":\"u1\""), "%s",
			   lines[4]);
	snprintf(want, sizeof(want),
		 "\"action\":\"unload\",\"slot\":\"urgent\",\"result\":\"ok\",\"by\":\"client\","
		 "\"uid\":1234,\"pid\":5678,\"pack\":\"urgent-notices\",\"version\":\"u1\","
		 "\"sha256\":\"%s\",\"previous_version\":\"u1\"}",
		 urgent->sha256_hex);
	cr_assert_str_eq(lines[5], want);
	cr_assert_eq(
	    strncmp(lines[6],
		    "\"action\":\"expiry\",\"slot\":\"main\",\"result\":\"ok\",\"by\":"
		    "\"daemon\",\"pack\":\"lifecycle\",\"version\":\"1.0\"",
		    strlen("\"action\":\"expiry\",\"slot\":\"main\",\"result\":\"ok\",\"by\":"
			   "\"daemon\",\"pack\":\"lifecycle\",\"version\":\"1.0\"")),
	    0, "%s", lines[6]);
	cr_assert_not_null(strstr(lines[6], "\"previous_version\":\"1.0\",\"rule\":\"phone\","
					    "\"expires_at\":\""),
			   "%s", lines[6]);
	free_lines(lines, n);
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
	free(u);
	free(missing);
	free(audit_path);
	ts_rmtree(dir);
	free(dir);
}

Test(audit_log, rollback_and_rollforward_lines_name_the_action_and_both_versions)
{
	struct three t;
	struct sluice_audit_log log;
	char err[512] = "", want[1024];

	three_versions(&t);
	char *audit_path = path_in(t.dir, "audit.jsonl");
	cr_assert_eq(sluice_audit_open(&log, audit_path, err, sizeof(err)), 0, "%s", err);
	t.reg.audit = &log;
	const struct sluice_pack *v3 = t.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack;
	const struct sluice_pack *v2 = t.reg.slots[SLUICE_SLOT_MAIN].kept[1].pack;
	move_ok(&t.reg, SLUICE_SLOT_MAIN, false, NULL, "3.0 2.0* 1.0");
	move_ok(&t.reg, SLUICE_SLOT_MAIN, true, "3.0", "3.0* 2.0 1.0");
	move_refused(&t.reg, SLUICE_SLOT_MAIN, true, NULL,
		     "no newer pack to roll forward to (history holds 3); kept: 3.0 (active), 2.0, "
		     "1.0");
	t.reg.audit = NULL;
	sluice_audit_close(&log);

	size_t n;
	char **lines = audit_lines(audit_path, &n);
	cr_assert_eq(n, 3, "a rollback, a roll forward, a refusal: %zu", n);
	move_line(want, sizeof(want), "rollback", v2, "3.0");
	cr_assert_str_eq(lines[0], want);
	move_line(want, sizeof(want), "rollforward", v3, "2.0");
	cr_assert_str_eq(lines[1], want);
	cr_assert_str_eq(
	    lines[2], "\"action\":\"rollforward\",\"slot\":\"main\",\"result\":\"refused\","
		      "\"reason\":\"no newer pack to roll forward to (history holds 3); kept: 3.0 "
		      "(active), 2.0, 1.0\",\"by\":\"client\",\"uid\":1234,\"pid\":5678,"
		      "\"previous_version\":\"3.0\"}");
	free_lines(lines, n);
	free(audit_path);
	three_free(&t);
}

Test(audit_log, memory_cap_refusal_line_names_the_pack_and_the_reason)
{
	struct sluice_registry reg;
	struct sluice_audit_log log;
	char *dir = ts_make_tmpdir("lifecycle");
	char *audit_path = path_in(dir, "audit.jsonl");
	char *a = versioned_rules(dir, "1.0"), *b = default_rules();
	char err[1024] = "";

	audited_registry(&reg, &log, audit_path);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	reg.memory_cap = 1;
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, b, &client_actor, NULL, err,
					       sizeof(err)),
		     -1);
	sluice_audit_close(&log);
	size_t n;
	char **lines = audit_lines(audit_path, &n);
	cr_assert_eq(n, 2);
	cr_assert_not_null(strstr(lines[1], "\"action\":\"load\",\"slot\":\"main\",\"result\":"
					    "\"refused\",\"reason\":\"sluice-default "
					    "2026.11.23-1: new pack needs "),
			   "%s", lines[1]);
	cr_assert_not_null(strstr(lines[1], "\"pack\":\"sluice-default\",\"version\":"
					    "\"2026.11.23-1\",\"sha256\":\""),
			   "%s", lines[1]);
	cr_assert_not_null(strstr(lines[1], "\"previous_version\":\"1.0\"}"), "%s", lines[1]);
	free_lines(lines, n);
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
	free(audit_path);
	ts_rmtree(dir);
	free(dir);
}

Test(audit_log, dash_means_stderr_and_a_bad_path_is_refused)
{
	struct sluice_audit_log log;
	char err[512];

	cr_assert_eq(sluice_audit_open(&log, "-", err, sizeof(err)), 0);
	cr_assert_eq(log.out, stderr);
	sluice_audit_close(&log);
	cr_assert_eq(sluice_audit_open(&log, "/nonexistent/dir/audit.jsonl", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "/nonexistent/dir/audit.jsonl: cannot open audit log: No such file "
			      "or directory");
}

/* ---- control server fixture ---- */

struct server {
	char *dir;
	char *sock;
	char *audit_path;
	struct sluice_audit_log audit;
	struct sluice_registry reg;
	struct sluice_worker_stats stats[2];
	struct sluice_event_ring *rings[2];
	struct sluice_control ctl;
	pthread_t thread;
	atomic_bool stop;
};

static void server_start(struct server *s, const char *group)
{
	char err[1024] = "";
	char *a = default_rules();

	memset(s, 0, sizeof(*s));
	s->dir = ts_make_tmpdir("lifecycle");
	/* Others may pass through to the socket; its own mode decides. */
	cr_assert_eq(chmod(s->dir, 0755), 0);
	s->sock = path_in(s->dir, "ctl.sock");
	s->audit_path = path_in(s->dir, "audit.jsonl");
	cr_assert_eq(sluice_audit_open(&s->audit, s->audit_path, err, sizeof(err)), 0, "%s", err);
	sluice_registry_init(&s->reg, 2, 8);
	s->reg.loader = ts_pack_loader;
	s->reg.audit = &s->audit;
	load_slot_ok(&s->reg, SLUICE_SLOT_MAIN, a);
	free(a);
	s->ctl.registry = &s->reg;
	s->ctl.worker_count = 2;
	s->ctl.stall_ms = 60000;
	s->ctl.tsc_hz = 1000000000ull;
	s->ctl.socket_group = group;
	for (unsigned w = 0; w < 2; w++) {
		s->rings[w] = sluice_event_ring_create(64);
		s->ctl.stats[w] = &s->stats[w];
		s->ctl.rings[w] = s->rings[w];
		s->ctl.lcores[w] = w + 1;
	}
	cr_assert_eq(sluice_control_open(&s->ctl, s->sock, err, sizeof(err)), 0, "%s", err);
}

static void server_stop(struct server *s)
{
	sluice_control_close(&s->ctl);
	sluice_registry_destroy(&s->reg);
	sluice_audit_close(&s->audit);
	for (unsigned w = 0; w < 2; w++)
		sluice_event_ring_free(s->rings[w]);
	free(s->sock);
	free(s->audit_path);
	ts_rmtree(s->dir);
	free(s->dir);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	while (!atomic_load(&s->stop))
		sluice_control_run_once(&s->ctl, 10);
	return NULL;
}

/* Serves from a thread of its own, so this one can run clients that block. */
static void server_run_in_thread(struct server *s)
{
	atomic_store(&s->stop, false);
	cr_assert_eq(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void server_join(struct server *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
}

static char *handle(struct server *s, const char *req)
{
	struct sluice_strbuf sb;

	sluice_strbuf_init(&sb);
	sluice_control_handle_from(&s->ctl, req, &client_actor, &sb);
	cr_assert_not(sb.failed);
	return sb.data;
}

static void assert_has(const char *text, const char *want)
{
	cr_assert_not_null(strstr(text, want), "lacks %s:\n%s", want, text);
}

/* ---- the protocol ---- */

Test(protocol, reload_rollback_and_unload_per_slot)
{
	struct server s;
	char req[1200];

	server_start(&s, NULL);
	char *u = urgent_rules(s.dir, "u1");
	snprintf(req, sizeof(req), "reload urgent %s", u);
	char *reply = handle(&s, req);
	cr_assert_eq(strncmp(reply,
			     "{\"ok\":true,\"active\":{\"name\":\"urgent-notices\","
			     "\"version\":\"u1\",\"rules\":3,",
			     strlen("{\"ok\":true,\"active\":{\"name\":\"urgent-notices\","
				    "\"version\":\"u1\",\"rules\":3,")),
		     0, "%s", reply);
	assert_has(reply, "\"generation\":2,");
	assert_has(
	    reply,
	    "\"slot\":\"urgent\",\"previous_version\":null,\"dropped\":0,\"fold_unshared\":false,");
	free(reply);

	reply = handle(&s, "status");
	assert_has(reply, "\"active\":{\"name\":\"sluice-default\"");
	assert_has(reply, "\"history\":[{\"name\":\"sluice-default\",\"version\":\"2026.11.23-1\"");
	assert_has(reply, "\"urgent\":{\"name\":\"urgent-notices\",\"version\":\"u1\"");
	assert_has(reply, "\"urgent_history\":[{\"name\":\"urgent-notices\",\"version\":\"u1\"");
	assert_has(reply, "\"active\":true,\"kept_since\":\"");
	assert_has(reply, "\"memory\":{\"active_bytes\":");
	assert_has(reply, "\"cap_bytes\":0},\"swaps\":2,\"refusals\":0,");
	free(reply);

	reply = handle(&s, "stats");
	assert_has(reply, "\"packs\":{\"main\":{\"name\":\"sluice-default\",\"version\":"
			  "\"2026.11.23-1\"},\"urgent\":{\"name\":\"urgent-notices\",\"version\":"
			  "\"u1\"}},\"ports\":{\"a\":null,\"b\":null},\"stats\":{");
	free(reply);

	reply = handle(&s, "unload urgent");
	cr_assert_eq(strncmp(reply,
			     "{\"ok\":true,\"active\":null,\"slot\":\"urgent\","
			     "\"previous_version\":\"u1\",",
			     strlen("{\"ok\":true,\"active\":null,\"slot\":\"urgent\","
				    "\"previous_version\":\"u1\",")),
		     0, "%s", reply);
	free(reply);
	reply = handle(&s, "status");
	assert_has(reply, "\"urgent\":null,\"urgent_history\":[{\"name\":\"urgent-notices\"");
	assert_has(reply, "\"active\":false,");
	free(reply);

	reply = handle(&s, "rollback urgent u1");
	assert_has(reply, "{\"ok\":true,\"active\":{\"name\":\"urgent-notices\"");
	free(reply);

	reply = handle(&s, "rollback urgent u1");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"version 'u1' is already active in the "
				"urgent slot; kept: u1 (active)\"}");
	free(reply);
	reply = handle(&s, "rollback main 0.9");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"no kept pack with version '0.9' in the "
				"main slot; kept: 2026.11.23-1 (active)\"}");
	free(reply);
	reply = handle(&s, "rollback 0.9");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"no kept pack with version '0.9' in the "
				"main slot; kept: 2026.11.23-1 (active)\"}");
	free(reply);
	reply = handle(&s, "unload main");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"the main slot cannot be unloaded: every "
				"message must be scanned by a main pack (reload another or roll "
				"back instead)\"}");
	free(reply);
	reply = handle(&s, "unload");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"unload needs a slot: unload urgent\"}");
	free(reply);
	free(u);
	server_stop(&s);
}

/* The value of "key":"..." after the first occurrence of after in json. */
static void json_after(const char *json, const char *after, const char *key, char *out, size_t len)
{
	const char *p = strstr(json, after);
	cr_assert_not_null(p, "no %s in %s", after, json);
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(p, pat);
	cr_assert_not_null(p, "no %s after %s in %s", key, after, json);
	p += strlen(pat);
	size_t n = strcspn(p, "\"");
	cr_assert_lt(n, len);
	memcpy(out, p, n);
	out[n] = '\0';
}

/* Each slot says when its own pack came into force: a swap of the urgent slot
 * does not move the main slot's time. */
Test(protocol, each_slot_is_in_force_since_its_own_swap)
{
	struct server s;
	char main_since[64], urgent_since[64], main_after[64];

	server_start(&s, NULL);
	char *reply = handle(&s, "status");
	json_after(reply, "\"active\":{", "loaded_at", main_since, sizeof(main_since));
	free(reply);
	usleep(20000);
	char *u = urgent_rules(s.dir, "u1");
	load_slot_ok(&s.reg, SLUICE_SLOT_URGENT, u);
	reply = handle(&s, "status");
	json_after(reply, "\"active\":{", "loaded_at", main_after, sizeof(main_after));
	json_after(reply, "\"urgent\":{", "loaded_at", urgent_since, sizeof(urgent_since));
	free(reply);
	cr_assert_str_eq(main_after, main_since, "the urgent swap moved main's time");
	cr_assert(strcmp(urgent_since, main_since) > 0, "urgent %s, main %s", urgent_since,
		  main_since);
	free(u);
	server_stop(&s);
}

/* reload --check: a reload's checks, no swap, nothing kept. */
Test(protocol, reload_check_loads_nothing_and_says_what_a_reload_would_do)
{
	struct server s;
	char req[1024];

	server_start(&s, NULL);
	const struct sluice_generation *before = sluice_registry_current(&s.reg);
	size_t kept = s.reg.slots[SLUICE_SLOT_MAIN].len;
	char *u = urgent_rules(s.dir, "u1");
	snprintf(req, sizeof(req), "reload-check urgent %s", u);
	char *reply = handle(&s, req);
	assert_has(reply, "{\"ok\":true,\"check\":true,\"slot\":\"urgent\",\"name\":"
			  "\"urgent-notices\",\"version\":\"u1\",\"sha256\":\"");
	assert_has(reply, "\"rules\":3,\"disabled_rules\":0,\"db_bytes\":");
	assert_has(reply, "\"same_as_in_force\":false,\"swapped\":false}");
	free(reply);
	cr_assert_eq(sluice_registry_current(&s.reg), before, "a generation was published");
	cr_assert_eq(s.reg.slots[SLUICE_SLOT_MAIN].len, kept);
	cr_assert_eq(s.reg.slots[SLUICE_SLOT_URGENT].len, 0, "the checked pack was kept");

	/* what a reload would refuse, a check refuses with the same reason */
	char *bad = write_file(s.dir, "bad.yaml",
			       "name: bad\nversion: \"1\"\nrules:\n  - id: x\n    category: x\n"
			       "    action: blok\n    literal: x\n");
	snprintf(req, sizeof(req), "reload-check main %s", bad);
	reply = handle(&s, req);
	assert_has(reply, "{\"ok\":false,\"error\":\"");
	assert_has(reply, "unknown action 'blok'");
	free(reply);
	cr_assert_eq(sluice_registry_current(&s.reg), before);
	free(bad);
	free(u);
	server_stop(&s);
}

Test(protocol, audit_lines_from_the_socket_carry_the_peer_uid_and_pid)
{
	struct server s;
	char req[1200], err[512];
	char *reply = NULL;

	server_start(&s, NULL);
	char *u = urgent_rules(s.dir, "u1");
	snprintf(req, sizeof(req), "reload urgent %s", u);
	server_run_in_thread(&s);
	cr_assert_eq(sluice_ctl_request(s.sock, req, 10000, &reply, err, sizeof(err)), 0, "%s",
		     err);
	assert_has(reply, "{\"ok\":true,");
	free(reply);
	cr_assert_eq(sluice_ctl_request(s.sock, "unload urgent", 10000, &reply, err, sizeof(err)),
		     0, "%s", err);
	free(reply);
	server_join(&s);

	size_t n;
	char **lines = audit_lines(s.audit_path, &n);
	char want[128];
	cr_assert_eq(n, 3, "startup load, urgent load, unload: %zu", n);
	snprintf(want, sizeof(want), "\"by\":\"client\",\"uid\":%u,\"pid\":%d,", (unsigned)getuid(),
		 (int)getpid());
	assert_has(lines[1], "\"action\":\"load\",\"slot\":\"urgent\",\"result\":\"ok\",");
	assert_has(lines[1], want);
	assert_has(lines[2], "\"action\":\"unload\",\"slot\":\"urgent\",\"result\":\"ok\",");
	assert_has(lines[2], want);
	free_lines(lines, n);
	free(u);
	server_stop(&s);
}

/* The line sluicectl history prints for kept[i] of a slot, up to its load
 * time. */
static void history_row(char *buf, size_t cap, const struct sluice_slot_history *h, size_t i)
{
	const struct sluice_pack *p = h->kept[i].pack;
	snprintf(buf, cap, "%c @%-2zu %-24s %-16s sha256 %.12s  loaded 20",
		 i == h->current && h->active ? '*' : ' ', i, p->name, p->version, p->sha256_hex);
}

/* sluicectl health, as systemd and Kubernetes probes run it. Workers that
 * loop are played by a thread that moves their counters, as long as the
 * probe may take to start (a sanitizer build is slow). */
static struct {
	struct server *s;
	atomic_uint looping; /* bit w: worker w loops */
	atomic_bool stop;
} ticker;

static void *tick(void *arg)
{
	(void)arg;
	while (!atomic_load(&ticker.stop)) {
		for (unsigned w = 0; w < 2; w++)
			if (atomic_load(&ticker.looping) & (1u << w))
				__atomic_add_fetch(&ticker.s->stats[w].iterations, 1,
						   __ATOMIC_RELAXED);
		usleep(2000);
	}
	return NULL;
}

Test(protocol, sluicectl_health_says_why_a_probe_fails)
{
	struct server s;
	pthread_t ticking;
	char *ctl = ts_build_path("control/sluicectl");
	char *out = NULL;

	server_start(&s, NULL);
	s.ctl.stall_ms = 100;
	ticker.s = &s;
	atomic_store(&ticker.looping, 3u);
	atomic_store(&ticker.stop, false);
	cr_assert_eq(pthread_create(&ticking, NULL, tick, NULL), 0);
	server_run_in_thread(&s);
	const char *health[] = {ctl, "-s", s.sock, "health", NULL};
	const char *json[] = {ctl, "-s", s.sock, "--json", "health", NULL};
	const char *extra[] = {ctl, "-s", s.sock, "health", "now", NULL};
	int healthy = ts_run((char *const *)health, 30, &out);
	char *healthy_out = out;

	/* Worker 1 stops looping, for longer than stall_ms. */
	atomic_store(&ticker.looping, 1u);
	usleep(300 * 1000);
	int stuck = ts_run((char *const *)health, 30, &out);
	char *stuck_out = out;
	int stuck_json = ts_run((char *const *)json, 30, &out);
	char *json_out = out;
	int bad_use = ts_run((char *const *)extra, 30, &out);
	char *bad_use_out = out;
	char sock[512];
	snprintf(sock, sizeof(sock), "%s", s.sock);
	/* The server stops before anything is asserted: a failed assertion
	 * must not leave its thread serving from this frame. */
	server_join(&s);
	atomic_store(&ticker.stop, true);
	pthread_join(ticking, NULL);
	server_stop(&s);

	cr_assert_eq(healthy, 0, "%s", healthy_out);
	cr_assert_str_eq(healthy_out,
			 "healthy: sluice-default 2026.11.23-1 in force, 2 workers passing\n");
	cr_assert_eq(stuck, 1, "%s", stuck_out);
	assert_has(stuck_out, "unhealthy: worker 1 (lcore 2) has not finished a loop for ");
	cr_assert_null(strstr(stuck_out, "worker 0"), "worker 0 is looping: %s", stuck_out);
	/* --json: the reply for scripts, and still the probe's exit status. */
	cr_assert_eq(stuck_json, 1, "%s", json_out);
	assert_has(json_out, "{\"ok\":true,");
	assert_has(json_out, "\"id\":1,\"lcore\":2,");
	cr_assert_null(strstr(json_out, "unhealthy"), "%s", json_out);
	cr_assert_eq(bad_use, 2, "%s", bad_use_out);
	cr_assert_str_eq(bad_use_out, "sluicectl: health takes no argument\n");
	free(healthy_out);
	free(stuck_out);
	free(json_out);
	free(bad_use_out);

	/* No daemon: the probe fails as a connection error. */
	const char *gone[] = {ctl, "-s", sock, "health", NULL};
	cr_assert_eq(ts_run((char *const *)gone, 30, &out), 2, "%s", out);
	assert_has(out, "sluicectl: ");
	free(out);
	free(ctl);
}

Test(protocol, sluicectl_history_rollback_and_rollforward)
{
	struct server s;
	char *ctl = ts_build_path("control/sluicectl");
	char *out = NULL;
	char row[256];

	server_start(&s, NULL);
	char *a = versioned_rules(s.dir, "1.0"), *b = versioned_rules(s.dir, "2.0");
	load_slot_ok(&s.reg, SLUICE_SLOT_MAIN, a);
	load_slot_ok(&s.reg, SLUICE_SLOT_MAIN, b);
	const struct sluice_slot_history *h = &s.reg.slots[SLUICE_SLOT_MAIN];
	server_run_in_thread(&s);

	const char *back[] = {ctl, "-s", s.sock, "rollback", "--to", "2026.11.23-1", NULL};
	cr_assert_eq(ts_run((char *const *)back, 30, &out), 0, "%s", out);
	assert_has(out,
		   "main slot: sluice-default 2026.11.23-1 in force, generation 4 (was 2.0)\n");
	free(out);

	const char *history[] = {ctl, "-s", s.sock, "history", NULL};
	cr_assert_eq(ts_run((char *const *)history, 30, &out), 0, "%s", out);
	assert_has(out, "main slot: 3 packs kept, newest first\n");
	for (size_t i = 0; i < 3; i++) {
		history_row(row, sizeof(row), h, i);
		assert_has(out, row);
	}
	assert_has(out, "Z, in force since 20");
	assert_has(out, "urgent slot: 0 packs kept, newest first\n");
	free(out);
	const char *urgent[] = {ctl, "-s", s.sock, "history", "--slot", "urgent", NULL};
	cr_assert_eq(ts_run((char *const *)urgent, 30, &out), 0, "%s", out);
	cr_assert_str_eq(out, "urgent slot: 0 packs kept, newest first\n");
	free(out);

	const char *fwd[] = {ctl, "-s", s.sock, "rollforward", "--to=@0", NULL};
	cr_assert_eq(ts_run((char *const *)fwd, 30, &out), 0, "%s", out);
	assert_has(out, "main slot: lifecycle 2.0 in force, generation 5 (was 2026.11.23-1)\n");
	free(out);
	const char *newest[] = {ctl, "-s", s.sock, "rollforward", NULL};
	cr_assert_eq(ts_run((char *const *)newest, 30, &out), 1, "%s", out);
	cr_assert_str_eq(out, "sluicectl: refused: no newer pack to roll forward to (history holds "
			      "3); kept: 2.0 (active), 1.0, 2026.11.23-1\n");
	free(out);
	/* VERSION alone, as before --to */
	const char *plain[] = {ctl, "-s", s.sock, "rollback", "1.0", NULL};
	cr_assert_eq(ts_run((char *const *)plain, 30, &out), 0, "%s", out);
	assert_has(out, "main slot: lifecycle 1.0 in force, generation 6 (was 2.0)\n");
	free(out);

	const char *both[] = {ctl, "-s", s.sock, "rollback", "--to", "1.0", "2.0", NULL};
	cr_assert_eq(ts_run((char *const *)both, 30, &out), 2, "%s", out);
	cr_assert_str_eq(out, "sluicectl: rollback takes one TARGET, with --to or alone\n");
	free(out);
	const char *empty[] = {ctl, "-s", s.sock, "rollforward", "--to=", NULL};
	cr_assert_eq(ts_run((char *const *)empty, 30, &out), 2, "%s", out);
	cr_assert_str_eq(out, "sluicectl: rollforward: --to needs a VERSION, @N or SHA-256 "
			      "prefix\n");
	free(out);
	const char *status_to[] = {ctl, "-s", s.sock, "status", "--to", "1.0", NULL};
	cr_assert_eq(ts_run((char *const *)status_to, 30, &out), 2, "%s", out);
	cr_assert_str_eq(out, "sluicectl: only rollback and rollforward take --to\n");
	free(out);
	server_join(&s);

	/* status --json marks the pack in force, wherever it is, with its time */
	char *reply = handle(&s, "status");
	const char *entry = strstr(reply, "\"history\":[");
	cr_assert_not_null(entry, "%s", reply);
	entry = strstr(entry, "{\"name\":\"lifecycle\",\"version\":\"1.0\"");
	cr_assert_not_null(entry, "%s", reply);
	cr_assert_not_null(strstr(entry, "\"active\":true,\"kept_since\":\""), "%s", entry);
	cr_assert_lt(strstr(entry, "\"active\":"), strstr(entry, "}"), "%s", entry);
	assert_has(strstr(entry, "\"kept_since\":"), "\"active_since\":\"20");
	assert_has(reply, "\"history\":[{\"name\":\"lifecycle\",\"version\":\"2.0\"");
	free(reply);
	reply = handle(&s, "rollforward urgent");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"no newer pack to roll forward to in the "
				"urgent slot (history holds 0)\"}");
	free(reply);

	size_t n;
	char **lines = audit_lines(s.audit_path, &n);
	cr_assert_eq(n, 8, "3 loads, 3 moves, 2 refusals: %zu", n);
	assert_has(lines[4], "\"action\":\"rollforward\",\"slot\":\"main\",\"result\":\"ok\",");
	assert_has(lines[4], "\"version\":\"2.0\",");
	assert_has(lines[4], "\"previous_version\":\"2026.11.23-1\"}");
	assert_has(lines[5],
		   "\"action\":\"rollforward\",\"slot\":\"main\",\"result\":\"refused\",");
	free_lines(lines, n);
	free(a);
	free(b);
	free(ctl);
	server_stop(&s);
}

/* ---- socket group and peer credentials ---- */

/* A group that exists and that the user nobody is not in. */
static const char *other_group(gid_t *gid)
{
	static const char *const names[] = {"users", "staff", "daemon", "bin", "sys"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct group *g = getgrnam(names[i]);
		if (g == NULL || g->gr_gid == NOBODY)
			continue;
		bool member = false;
		for (char **m = g->gr_mem; *m != NULL; m++)
			member |= strcmp(*m, "nobody") == 0;
		if (!member) {
			*gid = g->gr_gid;
			return names[i];
		}
	}
	cr_skip_test("no suitable group on this system");
	return NULL;
}

Test(socket_group, socket_is_owned_by_the_group_with_mode_0660)
{
	struct server s;
	struct stat st;
	gid_t gid;
	const char *group = other_group(&gid);

	server_start(&s, group);
	cr_assert_eq(stat(s.sock, &st), 0, "%s", strerror(errno));
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0660, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_gid, gid, "group %u, want %s (%u)", st.st_gid, group, gid);
	cr_assert_eq(st.st_uid, geteuid());
	cr_assert_eq(s.ctl.socket_gid, gid);
	server_stop(&s);
}

Test(socket_group, unknown_group_is_refused_at_open)
{
	struct sluice_control ctl;
	char err[512] = "";
	gid_t gid;

	memset(&ctl, 0, sizeof(ctl));
	ctl.socket_group = "no-such-group-sluice";
	cr_assert_eq(sluice_control_open(&ctl, "/tmp/never-created.sock", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "socket group 'no-such-group-sluice': no such group");
	cr_assert_eq(access("/tmp/never-created.sock", F_OK), -1);
	cr_assert_eq(sluice_control_resolve_group("no-such-group-sluice", &gid, err, sizeof(err)),
		     -1);
}

/* In a child running as nobody (plus `extra_group` when not -1): connects,
 * sends "status" and writes to fd either "errno N" or the reply. */
static void nobody_client(const char *sock, long extra_group, int fd)
{
	gid_t extra = (gid_t)extra_group;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char buf[4096];
	size_t used = 0;

	if ((extra_group >= 0 ? setgroups(1, &extra) : setgroups(0, NULL)) != 0 ||
	    setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
		_exit(3);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(addr.sun_path, sock);
	if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int n = snprintf(buf, sizeof(buf), "errno %d", errno);
		if (write(fd, buf, (size_t)n) != n)
			_exit(4);
		_exit(0);
	}
	if (write(s, "status\n", 7) != 7)
		_exit(5);
	ssize_t n;
	while (used < sizeof(buf) && (n = read(s, buf + used, sizeof(buf) - used)) > 0)
		used += (size_t)n;
	if (write(fd, buf, used) != (ssize_t)used)
		_exit(6);
	_exit(0);
}

/* Forks nobody_client and serves until it exits; returns what it wrote. */
static char *run_nobody(struct server *s, long extra_group, pid_t *child)
{
	int pfd[2];
	int status = 0;
	char *out = calloc(1, 8192);
	size_t used = 0;

	cr_assert_eq(pipe(pfd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(pfd[0]);
		nobody_client(s->sock, extra_group, pfd[1]);
	}
	close(pfd[1]);
	for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
		sluice_control_run_once(&s->ctl, 10);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
	ssize_t n;
	while ((n = read(pfd[0], out + used, 8191 - used)) > 0)
		used += (size_t)n;
	close(pfd[0]);
	*child = pid;
	return out;
}

Test(socket_group, client_running_as_nobody_cannot_connect)
{
	struct server s;
	gid_t gid;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root to run a client as another user");
	server_start(&s, other_group(&gid));
	char *out = run_nobody(&s, -1, &pid);
	char want[32];
	snprintf(want, sizeof(want), "errno %d", EACCES);
	cr_assert_str_eq(out, want, "the file mode 0660 stops nobody at connect");
	free(out);
	server_stop(&s);
}

Test(socket_group, client_as_nobody_past_the_file_mode_is_refused_and_audited)
{
	struct server s;
	gid_t gid;
	pid_t pid;
	char want[512];

	if (geteuid() != 0)
		cr_skip_test("needs root to run a client as another user");
	const char *group = other_group(&gid);
	server_start(&s, group);
	/* As if the mode had been loosened by mistake: the daemon still refuses. */
	cr_assert_eq(chmod(s.sock, 0666), 0);
	char *out = run_nobody(&s, -1, &pid);
	snprintf(want, sizeof(want),
		 "{\"ok\":false,\"error\":\"permission denied: uid %d (pid %d) is not root and "
		 "not in the control socket's group '%s'\"}\n",
		 NOBODY, (int)pid, group);
	cr_assert_str_eq(out, want);
	free(out);

	size_t n;
	char **lines = audit_lines(s.audit_path, &n);
	cr_assert_eq(n, 2);
	snprintf(want, sizeof(want),
		 "\"action\":\"status\",\"result\":\"refused\",\"reason\":\"permission denied: "
		 "uid %d (pid %d) is not root and not in the control socket's group '%s'\","
		 "\"by\":\"client\",\"uid\":%d,\"pid\":%d}",
		 NOBODY, (int)pid, group, NOBODY, (int)pid);
	cr_assert_str_eq(lines[1], want);
	free_lines(lines, n);
	cr_assert_eq(s.ctl.access_refusals, 1);
	cr_assert_eq(s.reg.refusals, 0, "no pack change was refused");
	char *reply = handle(&s, "status");
	assert_has(reply, "\"swaps\":1,\"refusals\":0,\"access_refusals\":1,");
	free(reply);
	server_stop(&s);
}

Test(socket_group, client_with_the_group_as_a_supplementary_group_is_served)
{
	struct server s;
	gid_t gid;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root to run a client as another user");
	server_start(&s, other_group(&gid));
	char *out = run_nobody(&s, (long)gid, &pid);
	cr_assert_eq(strncmp(out, "{\"ok\":true,\"active\":{\"name\":\"sluice-default\"",
			     strlen("{\"ok\":true,\"active\":{\"name\":\"sluice-default\"")),
		     0, "%s", out);
	free(out);
	server_stop(&s);
}

Test(socket_group, peer_check_allows_root_own_uid_and_group_members_only)
{
	struct sluice_control ctl;
	char why[256] = "";

	memset(&ctl, 0, sizeof(ctl));
	ctl.socket_gid = 4242;
	cr_assert(sluice_control_peer_allowed(&ctl, 0, 9, 1, why, sizeof(why)));
	cr_assert(sluice_control_peer_allowed(&ctl, geteuid(), 9, 1, why, sizeof(why)));
	cr_assert(sluice_control_peer_allowed(&ctl, 1001, 4242, 1, why, sizeof(why)));
	if (geteuid() != 0)
		return;
	/* pid 1's groups do not include 4242. */
	cr_assert_not(sluice_control_peer_allowed(&ctl, 1001, 1001, 1, why, sizeof(why)));
	cr_assert_str_eq(why, "permission denied: uid 1001 (pid 1) is not root and not in the "
			      "control socket's group 4242");
}

/* ---- per-rule hits ---- */

Test(rule_hits, stats_rules_counts_hits_per_rule_summed_over_workers)
{
	struct server s;
	struct worker_ctx w0, w1;

	server_start(&s, NULL);
	worker_init(&w0, 0);
	worker_init(&w1, 1);
	scan_text(&w0, &s.reg, 1, "call 13812345678", NULL);
	scan_text(&w0, &s.reg, 2, "13812345678 or 13912345678", NULL); /* two spans */
	scan_text(&w1, &s.reg, 3, "call 13712345678 at the online casino", NULL);
	scan_text(&w1, &s.reg, 4, "nothing to see", NULL);

	/* Each worker counted in its own row of the generation. */
	const struct sluice_gen_slot *gs = &sluice_registry_current(&s.reg)->slot[0];
	size_t phone = rule_index(gs->pack, "phone-cn-mobile");
	cr_assert_eq(gs->hits_stride % 8, 0, "rows are whole cache lines");
	cr_assert_eq(gs->hits[0 * gs->hits_stride + phone], 3);
	cr_assert_eq(gs->hits[1 * gs->hits_stride + phone], 1);

	char *reply = handle(&s, "stats rules");
	assert_has(reply, "{\"ok\":true,\"generation\":1,\"rules_clock\":\"");
	assert_has(reply, "\"rehearsal\":false,\"rules\":[{\"slot\":\"main\","
			  "\"pack\":\"sluice-default\",\"version\":\"2026.11.23-1\","
			  "\"id\":\"phone-cn-mobile\",\"category\":\"contact\",\"action\":"
			  "\"mask\",\"hits\":4,\"expired\":false,\"waiting\":false},");
	assert_has(reply, "\"id\":\"gambling-invite\",\"category\":\"gambling\",\"action\":"
			  "\"block\",\"hits\":1,");
	assert_has(reply, "\"id\":\"email-address\",\"category\":\"contact\",\"action\":\"mask\","
			  "\"hits\":0,");
	free(reply);

	/* A swap of the urgent slot makes a new generation; main's counts carry on. */
	char *u = urgent_rules(s.dir, "u1");
	load_slot_ok(&s.reg, SLUICE_SLOT_URGENT, u);
	scan_text(&w1, &s.reg, 5, "13812345678 Forbidden Movie", NULL);
	reply = handle(&s, "stats rules");
	assert_has(reply, "\"id\":\"phone-cn-mobile\",\"category\":\"contact\",\"action\":\"mask\","
			  "\"hits\":5,");
	assert_has(reply, "{\"slot\":\"urgent\",\"pack\":\"urgent-notices\",\"version\":\"u1\","
			  "\"id\":\"takedown-title\",\"category\":\"copyright\",\"action\":"
			  "\"block\",\"hits\":1,\"expired\":false,\"waiting\":false}");
	assert_has(reply, "\"id\":\"rumour\",\"category\":\"misinformation\",\"action\":\"flag\","
			  "\"hits\":0,\"expired\":false,\"waiting\":false}]}");

	free(reply);
	cr_assert_eq(sluice_registry_rule_hits(
			 &s.reg, SLUICE_SLOT_MAIN,
			 rule_index(sluice_registry_current(&s.reg)->pack, "phone-cn-mobile")),
		     5);

	/* A newly loaded pack starts from zero. */
	char *d = default_rules();
	load_slot_ok(&s.reg, SLUICE_SLOT_MAIN, d);
	reply = handle(&s, "stats rules");
	assert_has(reply, "\"id\":\"phone-cn-mobile\",\"category\":\"contact\",\"action\":\"mask\","
			  "\"hits\":0,");
	free(reply);
	free(d);

	/* An allow rule is "allow", not "none". */
	char *allow =
	    write_file(s.dir, "allow.yaml",
		       "name: with-allow\nversion: \"1\"\nrules:\n"
		       "  - id: title\n    literal: 'Forbidden Movie'\n    action: block\n"
		       "    category: copyright\n"
		       "  - id: trailer-ok\n    literal: 'Forbidden Movie trailer'\n"
		       "    action: allow\n    category: copyright\n");
	load_slot_ok(&s.reg, SLUICE_SLOT_MAIN, allow);
	reply = handle(&s, "stats rules");
	assert_has(reply, "\"id\":\"trailer-ok\",\"category\":\"copyright\",\"action\":"
			  "\"allow\",\"hits\":0,");
	free(reply);
	free(allow);
	free(u);
	worker_fini(&w0);
	worker_fini(&w1);
	server_stop(&s);
}

Test(rule_hits, sluicectl_prints_a_table_and_json_on_request)
{
	struct server s;
	struct worker_ctx w0;
	char *ctl = ts_build_path("control/sluicectl");
	char *out = NULL;
	char row[256];

	server_start(&s, NULL);
	worker_init(&w0, 0);
	scan_text(&w0, &s.reg, 1, "call 13812345678", NULL);
	server_run_in_thread(&s);

	const char *table[] = {ctl, "-s", s.sock, "stats", "--rules", NULL};
	cr_assert_eq(ts_run((char *const *)table, 30, &out), 0, "%s", out);
	snprintf(row, sizeof(row), "%-7s %-24s %-16s %-28s %-14s %-6s %12s\n", "SLOT", "PACK",
		 "VERSION", "RULE", "CATEGORY", "ACTION", "HITS");
	cr_assert_eq(strncmp(out, row, strlen(row)), 0, "%s", out);
	snprintf(row, sizeof(row), "%-7s %-24s %-16s %-28s %-14s %-6s %12d\n", "main",
		 "sluice-default", "2026.11.23-1", "phone-cn-mobile", "contact", "mask", 1);
	assert_has(out, row);
	free(out);

	const char *raw[] = {ctl, "-s", s.sock, "--json", "stats", "--rules", NULL};
	cr_assert_eq(ts_run((char *const *)raw, 30, &out), 0, "%s", out);
	const char *head = "{\"ok\":true,\"generation\":1,\"rules_clock\":\"";
	cr_assert_eq(strncmp(out, head, strlen(head)), 0, "%s", out);
	cr_assert_eq(out[strlen(out) - 1], '\n');
	free(out);

	const char *status[] = {ctl, "-s", s.sock, "status", NULL};
	cr_assert_eq(ts_run((char *const *)status, 30, &out), 0, "%s", out);
	assert_has(out, "main    sluice-default 2026.11.23-1, 13 rules, sha256 ");
	assert_has(out, "        kept: 2026.11.23-1 (active)\n");
	assert_has(out, "urgent  (empty)\n        kept: none\n");
	assert_has(out, "cap none\n");
	free(out);

	const char *bad[] = {ctl, "-s", s.sock, "rollback", "--slot", "urgent", "7", NULL};
	cr_assert_eq(ts_run((char *const *)bad, 30, &out), 1, "%s", out);
	cr_assert_str_eq(out, "sluicectl: refused: no kept pack with version '7' in the urgent "
			      "slot; kept: none\n");
	free(out);

	const char *usage[] = {ctl, "unload", "u1", NULL};
	cr_assert_eq(ts_run((char *const *)usage, 30, &out), 2, "%s", out);
	cr_assert_str_eq(out, "sluicectl: unload takes no arguments (only --slot urgent)\n");
	free(out);

	char *u = urgent_rules(s.dir, "u1");
	const char *reload[] = {ctl, "-s", s.sock, "reload", "--slot", "urgent", u, NULL};
	cr_assert_eq(ts_run((char *const *)reload, 30, &out), 0, "%s", out);
	assert_has(out, "urgent slot: urgent-notices u1 in force, generation 2 (was empty)\n");
	free(out);
	/* the urgent slot, the only one that can be emptied, is the default */
	const char *unload[] = {ctl, "-s", s.sock, "unload", NULL};
	cr_assert_eq(ts_run((char *const *)unload, 30, &out), 0, "%s", out);
	assert_has(out, "urgent slot: empty (was u1)\n");
	free(out);

	server_join(&s);
	free(u);
	free(ctl);
	worker_fini(&w0);
	server_stop(&s);
}

Test(rule_hits, help_explains_every_command)
{
	char *ctl = ts_build_path("control/sluicectl");
	char *out = NULL;
	const char *argv[] = {ctl, "--help", NULL};
	static const char *const words[] = {
	    "  status\n",
	    "  stats\n",
	    "  stats --rules\n",
	    "  reload [--slot main|urgent] PACK\n",
	    "  reload --check [--slot main|urgent] PACK\n",
	    "  unload [--slot urgent]\n",
	    "  history [--slot main|urgent]\n",
	    "  rollback [--slot main|urgent] [--to TARGET | TARGET]\n",
	    "  rollforward [--slot main|urgent] [--to TARGET | TARGET]\n",
	    "  stop\n",
	    "  --json ",
	    "Exit status: 0 done, 1 refused by the daemon"};

	cr_assert_eq(ts_run((char *const *)argv, 30, &out), 0);
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		assert_has(out, words[i]);
	free(out);
	free(ctl);
}

/* ---- expiry ---- */

Test(expiry, expired_rule_stops_applying_within_two_seconds_and_is_audited)
{
	struct server s;
	struct worker_ctx w;
	struct ts_frame fr;

	server_start(&s, NULL);
	worker_init(&w, 0);
	struct sluice_pack *pack = s.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack;
	size_t phone = rule_index(pack, "phone-cn-mobile");
	cr_assert_eq(scan_text(&w, &s.reg, 1, "call 13812345678", &fr), SLUICE_FATE_FORWARD);
	cr_assert_str_eq(fr.text, "call ***********", "the rule applies before it expires");

	time_t at = time(NULL) + 1;
	pack->rules[phone].expires_at = (int64_t)at;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	double waited = 0;
	const struct sluice_generation *gen;
	for (;;) {
		sluice_control_run_once(&s.ctl, 20);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		gen = sluice_registry_current(&s.reg);
		if (gen->slot[SLUICE_SLOT_MAIN].disabled != NULL || waited > 5)
			break;
	}
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].disabled, "not disabled after %.1f s",
			   waited);
	cr_assert_leq(waited, 2.5, "disabled only after %.1f s", waited);
	cr_assert_geq((double)time(NULL), (double)at, "never before it expires");
	cr_assert_eq(gen->slot[SLUICE_SLOT_MAIN].disabled[phone], 1);
	cr_assert_eq(gen->slot[SLUICE_SLOT_MAIN].disabled_count, 1);
	cr_assert_eq(gen->seq, 2, "a new generation");
	cr_assert_eq(gen->pack, pack, "of the same pack, with no reload");

	cr_assert_eq(scan_text(&w, &s.reg, 2, "call 13812345678", &fr), SLUICE_FATE_FORWARD);
	cr_assert_str_eq(fr.text, "call 13812345678", "the expired rule no longer applies");
	cr_assert_eq(fr.flags, 0);
	cr_assert_eq(scan_text(&w, &s.reg, 3, "online casino", NULL), SLUICE_FATE_DROP_VERDICT,
		     "the other rules still apply");

	char *reply = handle(&s, "stats rules");
	assert_has(reply, "\"id\":\"phone-cn-mobile\",\"category\":\"contact\",\"action\":\"mask\","
			  "\"hits\":1,\"expired\":true,\"waiting\":false,\"expires_at\":\"");
	free(reply);
	reply = handle(&s, "status");
	assert_has(reply, "\"disabled_rules\":1}");
	free(reply);

	/* Checked again: nothing new expired, so nothing is published. */
	sluice_control_check_expiry(&s.ctl);
	cr_assert_eq(sluice_registry_current(&s.reg)->seq, 2);

	size_t n;
	char **lines = audit_lines(s.audit_path, &n);
	cr_assert_eq(n, 2, "the startup load and one expiry");
	char iso[32], want[1024];
	struct tm tm;
	gmtime_r(&at, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(want, sizeof(want),
		 "\"action\":\"expiry\",\"slot\":\"main\",\"result\":\"ok\",\"by\":\"daemon\","
		 "\"pack\":\"sluice-default\",\"version\":\"2026.11.23-1\",\"sha256\":\"%s\","
		 "\"previous_version\":\"2026.11.23-1\",\"rule\":\"phone-cn-mobile\","
		 "\"expires_at\":\"%s.000000000Z\"}",
		 pack->sha256_hex, iso);
	cr_assert_str_eq(lines[1], want);
	free_lines(lines, n);
	worker_fini(&w);
	server_stop(&s);
}

Test(expiry, rule_already_expired_when_published_is_disabled_from_the_start)
{
	struct sluice_registry reg;
	struct sluice_audit_log log;
	struct worker_ctx w;
	struct ts_frame fr;
	struct sluice_pack *pack = NULL;
	char *dir = ts_make_tmpdir("lifecycle");
	char *audit_path = path_in(dir, "audit.jsonl");
	char *a = default_rules();
	char err[1024] = "";

	cr_assert_eq(ts_pack_load(a, &pack, err, sizeof(err)), 0, "%s", err);
	pack->rules[rule_index(pack, "gambling-invite")].expires_at = 1700000000;
	audited_registry(&reg, &log, audit_path);
	cr_assert_eq(sluice_registry_publish_slot(&reg, SLUICE_SLOT_MAIN, pack, &client_actor, NULL,
						  err, sizeof(err)),
		     0, "%s", err);
	worker_init(&w, 0);
	cr_assert_eq(scan_text(&w, &reg, 1, "online casino", &fr), SLUICE_FATE_FORWARD);
	cr_assert_str_eq(fr.text, "online casino");
	cr_assert_eq(sluice_registry_expire(&reg, (int64_t)time(NULL), err, sizeof(err)), 0,
		     "already disabled: nothing to publish");
	sluice_audit_close(&log);
	size_t n;
	char **lines = audit_lines(audit_path, &n);
	cr_assert_eq(n, 2);
	assert_has(lines[0], "\"action\":\"load\",");
	assert_has(lines[1], "\"action\":\"expiry\",");
	assert_has(lines[1], "\"rule\":\"gambling-invite\",\"expires_at\":\"2023-11-14T22:13:20."
			     "000000000Z\"}");
	free_lines(lines, n);
	worker_fini(&w);
	sluice_registry_destroy(&reg);
	free(a);
	free(audit_path);
	ts_rmtree(dir);
	free(dir);
}

/* A rule with a start date waits, disabled, until the rules' clock reaches
 * it; then one generation enables it and one "start" line says so. The clock
 * can be set ahead (sluice --now), and the same pack loaded again does not log
 * its expired rule a second time. */
Test(expiry, a_rule_starts_on_its_date_and_a_rehearsal_clock_moves_it)
{
	struct sluice_registry reg;
	struct sluice_audit_log log;
	struct worker_ctx w;
	struct ts_frame fr;
	struct sluice_pack *pack = NULL;
	char *dir = ts_make_tmpdir("lifecycle");
	char *audit_path = path_in(dir, "audit.jsonl");
	char *a = default_rules();
	char err[1024] = "";
	int64_t now = (int64_t)time(NULL);

	cr_assert_eq(ts_pack_load(a, &pack, err, sizeof(err)), 0, "%s", err);
	pack->rules[rule_index(pack, "gambling-invite")].starts_at = now + 86400;
	audited_registry(&reg, &log, audit_path);
	cr_assert_eq(sluice_registry_publish_slot(&reg, SLUICE_SLOT_MAIN, pack, &client_actor, NULL,
						  err, sizeof(err)),
		     0, "%s", err);
	worker_init(&w, 0);
	cr_assert_eq(scan_text(&w, &reg, 1, "online casino", &fr), SLUICE_FATE_FORWARD,
		     "not started: the rule does not apply");
	cr_assert_eq(sluice_registry_expire(&reg, sluice_registry_now(&reg), err, sizeof(err)), 0,
		     "nothing changes before the date");
	/* A rehearsal: the rules' clock a day and a minute ahead. */
	reg.clock_offset_s = 86400 + 60;
	cr_assert_geq(sluice_registry_now(&reg), now + 86400);
	cr_assert_eq(sluice_registry_expire(&reg, sluice_registry_now(&reg), err, sizeof(err)), 1,
		     "%s", err);
	cr_assert_eq(scan_text(&w, &reg, 2, "online casino", &fr), SLUICE_FATE_DROP_VERDICT,
		     "started: the rule blocks");
	cr_assert_eq(sluice_registry_expire(&reg, sluice_registry_now(&reg), err, sizeof(err)), 0,
		     "started once");
	worker_fini(&w);
	sluice_audit_close(&log);
	size_t n;
	char **lines = audit_lines(audit_path, &n);
	cr_assert_eq(n, 2);
	assert_has(lines[0], "\"action\":\"load\",");
	assert_has(lines[1], "\"action\":\"start\",");
	assert_has(lines[1], "\"rule\":\"gambling-invite\",\"starts_at\":\"");
	free_lines(lines, n);
	sluice_registry_destroy(&reg);
	free(a);
	free(audit_path);
	ts_rmtree(dir);
	free(dir);
}

Test(expiry, the_same_pack_loaded_again_does_not_log_its_expired_rule_again)
{
	struct sluice_registry reg;
	struct sluice_audit_log log;
	char *dir = ts_make_tmpdir("lifecycle");
	char *audit_path = path_in(dir, "audit.jsonl");
	char *rules = path_in(dir, "rules.yaml");
	FILE *f = fopen(rules, "w");

	cr_assert_not_null(f);
	fputs("name: dated\nversion: \"1\"\nrules:\n"
	      "  - id: gone\n    category: x\n    action: block\n    literal: gone\n"
	      "    expires: 2020-01-01\n"
	      "  - id: kept\n    category: x\n    action: block\n    literal: kept\n",
	      f);
	fclose(f);
	audited_registry(&reg, &log, audit_path);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, rules);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, rules);
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, rules);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1, "one pack, kept once");
	sluice_audit_close(&log);
	size_t n, expiries = 0;
	char **lines = audit_lines(audit_path, &n);
	for (size_t i = 0; i < n; i++)
		expiries += strstr(lines[i], "\"action\":\"expiry\"") != NULL;
	cr_assert_eq(n, 4, "three loads and one expiry");
	cr_assert_eq(expiries, 1);
	free_lines(lines, n);
	sluice_registry_destroy(&reg);
	free(rules);
	free(audit_path);
	ts_rmtree(dir);
	free(dir);
}

static bool workers_stuck;

static bool fake_check_workers(void *arg, char *err, size_t err_len)
{
	(void)arg;
	if (workers_stuck)
		snprintf(err, err_len, "worker 0 (lcore 1) is stuck");
	return !workers_stuck;
}

Test(expiry, a_refused_expiry_is_retried_and_audited_once)
{
	struct sluice_registry reg;
	struct sluice_audit_log log;
	char *dir = ts_make_tmpdir("lifecycle");
	char *audit_path = path_in(dir, "audit.jsonl");
	char *a = versioned_rules(dir, "1.0");
	char err[1024] = "";

	audited_registry(&reg, &log, audit_path);
	reg.check_workers = fake_check_workers;
	workers_stuck = false;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->rules[0].expires_at = 1700000000;
	workers_stuck = true;
	cr_assert_eq(sluice_registry_expire(&reg, (int64_t)time(NULL), err, sizeof(err)), -1);
	cr_assert_str_eq(err, "worker 0 (lcore 1) is stuck");
	cr_assert_eq(sluice_registry_expire(&reg, (int64_t)time(NULL), err, sizeof(err)), -1);
	cr_assert_eq(sluice_registry_current(&reg)->seq, 1);
	cr_assert_eq(reg.refusals, 2);
	workers_stuck = false;
	cr_assert_eq(sluice_registry_expire(&reg, (int64_t)time(NULL), err, sizeof(err)), 1, "%s",
		     err);
	cr_assert_eq(sluice_registry_current(&reg)->seq, 2);
	sluice_audit_close(&log);

	size_t n;
	char **lines = audit_lines(audit_path, &n);
	cr_assert_eq(n, 3, "load, one refusal (not two), expiry: %zu", n);
	assert_has(lines[1], "\"action\":\"expiry\",\"slot\":\"main\",\"result\":\"refused\","
			     "\"reason\":\"worker 0 (lcore 1) is stuck\",\"by\":\"daemon\",");
	assert_has(lines[2], "\"action\":\"expiry\",\"slot\":\"main\",\"result\":\"ok\",");
	free_lines(lines, n);
	sluice_registry_destroy(&reg);
	free(a);
	free(audit_path);
	ts_rmtree(dir);
	free(dir);
}

Test(expiry, needs_no_new_memory_since_scratch_is_shared)
{
	struct sluice_registry reg;
	char *dir = ts_make_tmpdir("lifecycle");
	char *a = versioned_rules(dir, "1.0");
	char err[1024] = "";

	sluice_registry_init(&reg, 2, 8);
	reg.loader = ts_pack_loader;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	struct sluice_scratch_set *set = sluice_registry_current(&reg)->slot[0].scratch;
	reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->rules[0].expires_at = 1700000000;
	reg.memory_cap = 1; /* nothing new could fit */
	cr_assert_eq(sluice_registry_expire(&reg, (int64_t)time(NULL), err, sizeof(err)), 1, "%s",
		     err);
	cr_assert_eq(sluice_registry_current(&reg)->slot[0].scratch, set);
	cr_assert_eq(set->refs, 1, "the retired generation gave its reference back");
	sluice_registry_destroy(&reg);
	free(a);
	ts_rmtree(dir);
	free(dir);
}

/* ---- signatures ---- */

/* Compiles yaml into dir/name.pack; signed with private_key unless NULL. */
static char *compiled_pack(const char *dir, const char *yaml, const char *name,
			   const char *private_key)
{
	char err[1024] = "", file[64];
	struct sluice_pack *pack = NULL;

	snprintf(file, sizeof(file), "%s.pack", name);
	char *path = path_in(dir, file);
	cr_assert_eq(ts_pack_load(yaml, &pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_write(pack, path, err, sizeof(err)), 0, "%s", err);
	sluice_pack_free(pack);
	if (private_key != NULL)
		cr_assert_eq(sluice_pack_sign(path, private_key, path, SLUICE_SIGN_ADD, NULL, err,
					      sizeof(err)),
			     0, "%s", err);
	return path;
}

struct signing {
	char *dir;
	char *key, *pub, *other_key, *other_pub;
	struct sluice_trust *trust;
	struct sluice_audit_log audit;
	char *audit_path;
	struct sluice_registry reg;
};

static void signing_init(struct signing *t, bool require_signed)
{
	char err[1024] = "";

	t->dir = ts_make_tmpdir("lifecycle");
	t->key = path_in(t->dir, "release.key");
	t->pub = path_in(t->dir, "release.pub");
	t->other_key = path_in(t->dir, "other.key");
	t->other_pub = path_in(t->dir, "other.pub");
	t->audit_path = path_in(t->dir, "audit.jsonl");
	cr_assert_eq(sluice_keygen(t->key, t->pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_keygen(t->other_key, t->other_pub, err, sizeof(err)), 0, "%s", err);
	t->trust = sluice_trust_new(require_signed);
	cr_assert_not_null(t->trust);
	cr_assert_eq(sluice_trust_add_key(t->trust, t->pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_audit_open(&t->audit, t->audit_path, err, sizeof(err)), 0, "%s", err);
	sluice_registry_init(&t->reg, 1, 8);
	t->reg.loader = ts_pack_loader;
	t->reg.audit = &t->audit;
	t->reg.loader = ts_pack_loader;
	t->reg.loader_arg = t->trust;
}

static void signing_fini(struct signing *t)
{
	sluice_registry_destroy(&t->reg);
	sluice_audit_close(&t->audit);
	sluice_trust_free(t->trust);
	free(t->key);
	free(t->pub);
	free(t->other_key);
	free(t->other_pub);
	free(t->audit_path);
	ts_rmtree(t->dir);
	free(t->dir);
}

Test(signatures, with_signatures_required_only_packs_signed_by_a_trusted_key_load)
{
	struct signing t;
	char err[1024] = "", want[1400], other_id[65];

	signing_init(&t, true);
	char *yaml = default_rules();
	char *signed_pack = compiled_pack(t.dir, yaml, "signed", t.key);
	char *unsigned_pack = compiled_pack(t.dir, yaml, "unsigned", NULL);
	char *foreign = compiled_pack(t.dir, yaml, "foreign", t.other_key);
	char *urgent_yaml = urgent_rules(t.dir, "u1");
	cr_assert_eq(sluice_key_id(t.other_pub, other_id, err, sizeof(err)), 0, "%s", err);

	load_slot_ok(&t.reg, SLUICE_SLOT_MAIN, signed_pack);
	const struct sluice_generation *before = sluice_registry_current(&t.reg);

	cr_assert_eq(sluice_registry_load_slot(&t.reg, SLUICE_SLOT_MAIN, unsigned_pack,
					       &client_actor, NULL, err, sizeof(err)),
		     -1);
	snprintf(want, sizeof(want), "%s: pack is not signed and this daemon requires signed packs",
		 unsigned_pack);
	cr_assert_str_eq(err, want);

	cr_assert_eq(sluice_registry_load_slot(&t.reg, SLUICE_SLOT_MAIN, foreign, &client_actor,
					       NULL, err, sizeof(err)),
		     -1);
	snprintf(want, sizeof(want),
		 "%s: signed by unknown key %s; add that key's public key to the trusted keys, or "
		 "sign the pack with a trusted key",
		 foreign, other_id);
	cr_assert_str_eq(err, want);

	/* The urgent slot goes through the same trust. */
	cr_assert_eq(sluice_registry_load_slot(&t.reg, SLUICE_SLOT_URGENT, urgent_yaml,
					       &client_actor, NULL, err, sizeof(err)),
		     -1);
	snprintf(want, sizeof(want),
		 "%s: not a compiled pack; this daemon requires signed packs, so rule files "
		 "cannot be loaded: compile and sign the pack first",
		 urgent_yaml);
	cr_assert_str_eq(err, want);

	cr_assert_eq(sluice_registry_current(&t.reg), before, "nothing was published");
	cr_assert_eq(t.reg.refusals, 3);
	cr_assert_null(before->slot[SLUICE_SLOT_URGENT].pack);

	size_t n;
	char **lines = audit_lines(t.audit_path, &n);
	cr_assert_eq(n, 4);
	snprintf(want, sizeof(want),
		 "\"action\":\"load\",\"slot\":\"main\",\"result\":\"refused\",\"reason\":\"%s: "
		 "pack is not signed and this daemon requires signed packs\"",
		 unsigned_pack);
	assert_has(lines[1], want);
	assert_has(lines[2], "signed by unknown key ");
	assert_has(lines[3], "\"action\":\"load\",\"slot\":\"urgent\",\"result\":\"refused\",");
	free_lines(lines, n);
	free(yaml);
	free(signed_pack);
	free(unsigned_pack);
	free(foreign);
	free(urgent_yaml);
	signing_fini(&t);
}

Test(signatures, altered_signed_pack_is_refused_even_when_signatures_are_optional)
{
	struct signing t;
	char err[1024] = "";

	signing_init(&t, false);
	char *yaml = default_rules();
	char *unsigned_pack = compiled_pack(t.dir, yaml, "unsigned", NULL);
	char *signed_pack = compiled_pack(t.dir, yaml, "signed", t.key);
	/* Optional signatures: an unsigned pack and a rule file still load. */
	load_slot_ok(&t.reg, SLUICE_SLOT_MAIN, unsigned_pack);
	load_slot_ok(&t.reg, SLUICE_SLOT_MAIN, yaml);
	load_slot_ok(&t.reg, SLUICE_SLOT_MAIN, signed_pack);

	/* Flip one byte of the signature. */
	FILE *f = fopen(signed_pack, "r+b");
	cr_assert_not_null(f);
	cr_assert_eq(fseek(f, -1, SEEK_END), 0);
	int c = fgetc(f);
	cr_assert_eq(fseek(f, -1, SEEK_END), 0);
	fputc(c ^ 0x01, f);
	fclose(f);
	cr_assert_eq(sluice_registry_load_slot(&t.reg, SLUICE_SLOT_MAIN, signed_pack, &client_actor,
					       NULL, err, sizeof(err)),
		     -1);
	assert_has(err, ": bad signature: the signature by key ");
	assert_has(err, " does not verify; the pack was altered after signing");
	/* One pack loaded three ways (same SHA-256): kept once, the signed copy
	 * in force; the refusal changed nothing. */
	cr_assert_eq(t.reg.slots[SLUICE_SLOT_MAIN].len, 1);
	cr_assert_str_eq(t.reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->source, signed_pack);
	free(yaml);
	free(unsigned_pack);
	free(signed_pack);
	signing_fini(&t);
}

/* Two-person approval and revocation on the control path: sluicectl reload
 * and reload --check refuse a pack a revoked key signed, or with too few
 * trusted signatures, with the same reason; the reload's refusal is audited
 * with it. */
Test(signatures, revoked_or_under_signed_packs_are_refused_on_reload_and_its_check)
{
	struct server s;
	char err[1024] = "", req[1400], want[1400], gone_id[65];

	server_start(&s, NULL);
	char *keys[3], *pubs[3];
	const char *names[3] = {"release", "approver", "gone"};
	for (int i = 0; i < 3; i++) {
		char file[32];
		snprintf(file, sizeof(file), "%s.key", names[i]);
		keys[i] = path_in(s.dir, file);
		snprintf(file, sizeof(file), "%s.pub", names[i]);
		pubs[i] = path_in(s.dir, file);
		cr_assert_eq(sluice_keygen(keys[i], pubs[i], err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(sluice_key_id(pubs[2], gone_id, err, sizeof(err)), 0, "%s", err);
	struct sluice_trust *trust = sluice_trust_new(true);
	cr_assert_not_null(trust);
	cr_assert_eq(sluice_trust_add_key(trust, pubs[0], err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_trust_add_key(trust, pubs[1], err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_trust_set_required(trust, 2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_trust_revoke(trust, gone_id, err, sizeof(err)), 0, "%s", err);
	s.reg.loader_arg = trust;

	char *v1 = versioned_rules(s.dir, "1"), *v2 = versioned_rules(s.dir, "2");
	char *approved = compiled_pack(s.dir, v1, "approved", keys[0]);
	char *revoked = compiled_pack(s.dir, v2, "revoked", keys[0]);
	char *alone = compiled_pack(s.dir, v2, "alone", keys[0]);
	cr_assert_eq(
	    sluice_pack_sign(approved, keys[1], approved, SLUICE_SIGN_ADD, NULL, err, sizeof(err)),
	    0, "%s", err);
	for (int i = 1; i < 3; i++)
		cr_assert_eq(sluice_pack_sign(revoked, keys[i], revoked, SLUICE_SIGN_ADD, NULL, err,
					      sizeof(err)),
			     0, "%s", err);

	snprintf(req, sizeof(req), "reload main %s", approved);
	char *reply = handle(&s, req);
	assert_has(reply, "{\"ok\":true,");
	free(reply);
	const struct sluice_generation *before = sluice_registry_current(&s.reg);

	/* Two trusted signatures, and the revoked key's: refused by both. */
	snprintf(want, sizeof(want),
		 "%s: signed by revoked key %s; a pack a revoked key signed is refused whatever "
		 "other signatures it carries",
		 revoked, gone_id);
	for (int check = 1; check >= 0; check--) {
		snprintf(req, sizeof(req), "%s main %s", check ? "reload-check" : "reload",
			 revoked);
		reply = handle(&s, req);
		assert_has(reply, "{\"ok\":false,\"error\":\"");
		assert_has(reply, want);
		free(reply);
	}
	snprintf(req, sizeof(req), "reload main %s", alone);
	reply = handle(&s, req);
	snprintf(want, sizeof(want),
		 "%s: 1 of the 2 required signatures by trusted keys (signed by trusted key ",
		 alone);
	assert_has(reply, want);
	free(reply);
	cr_assert_eq(sluice_registry_current(&s.reg), before, "nothing was published");

	size_t n;
	char **lines = audit_lines(s.audit_path, &n);
	cr_assert_eq(n, 4, "start, the approved load, two refusals (a check audits nothing)");
	snprintf(want, sizeof(want),
		 "\"action\":\"load\",\"slot\":\"main\",\"result\":\"refused\",\"reason\":\"%s: "
		 "signed by revoked key %s; ",
		 revoked, gone_id);
	assert_has(lines[2], want);
	snprintf(want, sizeof(want),
		 "\"result\":\"refused\",\"reason\":\"%s: 1 of the 2 required signatures by "
		 "trusted keys",
		 alone);
	assert_has(lines[3], want);
	free_lines(lines, n);

	server_stop(&s);
	sluice_trust_free(trust);
	for (int i = 0; i < 3; i++) {
		free(keys[i]);
		free(pubs[i]);
	}
	free(v1);
	free(v2);
	free(approved);
	free(revoked);
	free(alone);
}

/* ---- memory cap before the costly steps (issue 8, finding 8) ---- */

static atomic_int db_allocations;

static void *counting_db_alloc(size_t size)
{
	atomic_fetch_add(&db_allocations, 1);
	return malloc(size);
}

/* A compiled pack larger than the cap leaves free is refused on its size:
 * not read, and no database deserialized (Hyperscan allocates nothing). */
Test(memory_cap, oversized_pack_file_is_refused_before_it_is_read_or_deserialized)
{
	struct sluice_registry reg;
	char *dir = ts_make_tmpdir("lifecycle");
	char *a = default_rules();
	char *big = compiled_pack(dir, a, "big", NULL);
	char err[1024] = "";
	struct sluice_memory_use use;
	struct stat st;

	cr_assert_eq(stat(big, &st), 0);
	sluice_registry_init(&reg, 1, 8);
	reg.loader = ts_pack_loader;
	load_slot_ok(&reg, SLUICE_SLOT_MAIN, a);
	sluice_registry_memory(&reg, &use);
	reg.memory_cap = use.active + (size_t)st.st_size / 2;

	cr_assert_eq(hs_set_database_allocator(counting_db_alloc, free), HS_SUCCESS);
	atomic_store(&db_allocations, 0);
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, big, &client_actor, NULL,
					       err, sizeof(err)),
		     -1);
	cr_assert_eq(atomic_load(&db_allocations), 0, "a database was deserialized: %s", err);
	cr_assert_not_null(strstr(err, "bytes is larger than any pack within the memory cap's "
				       "free room"),
			   "%s", err);
	cr_assert_eq(reg.refusals, 1);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1);

	/* With a limit its databases exceed, the image is parsed up to the first
	 * database, which is refused on its size before it is deserialized. */
	uint8_t *image = NULL;
	size_t len = 0;
	FILE *f = fopen(big, "rb");
	cr_assert_not_null(f);
	image = malloc((size_t)st.st_size);
	cr_assert_not_null(image);
	len = fread(image, 1, (size_t)st.st_size, f);
	fclose(f);
	struct sluice_load_limits tight = {.max_bytes = 64};
	struct sluice_pack *pack = NULL;
	cr_assert_eq(sluice_pack_parse_image(big, image, len, &tight, &pack, err, sizeof(err)), -1);
	cr_assert_null(pack);
	cr_assert_eq(atomic_load(&db_allocations), 0, "a database was deserialized: %s", err);
	cr_assert_not_null(strstr(err, "refused before deserializing them"), "%s", err);
	/* Without limits the same image loads. */
	cr_assert_eq(sluice_pack_parse_image(big, image, len, NULL, &pack, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_gt(atomic_load(&db_allocations), 0);
	sluice_pack_free(pack);
	free(image);
	hs_set_database_allocator(NULL, NULL);

	sluice_registry_destroy(&reg);
	free(a);
	free(big);
	ts_rmtree(dir);
	free(dir);
}
