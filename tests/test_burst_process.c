/* The worker's burst processing (sluice_burst_process()) in batch mode does to
 * every packet exactly what per-message scanning does: the same bytes out, the
 * same fates, the same counters, and the same events in the same order, over
 * the benchmark corpus with damaged and chained packets mixed in, with and without an
 * urgent pack, under every bad-input policy that changes the path.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus_reader.h"
#include "datagram_process.h"
#include "event_ring.h"
#include "generation.h"
#include "pack.h"
#include "pack_source.h"
#include "test_support.h"
#include "wire_format.h"

#define PORT	 7700
#define RING_CAP (1u << 20)
#define BURST	 32

static struct corpus_packets corpus;

static void make_corpus(const char *count)
{
	char *dir = ts_make_tmpdir("burstcorpus");
	char *gen = ts_build_path("dataplane/sluice-gen");
	char pcap[512], err[512];
	snprintf(pcap, sizeof(pcap), "%s/corpus.pcap", dir);
	char *argv[] = {gen, "-o", pcap, "-s", "11", "-n", (char *)count, "--frames", "1-6", NULL};
	char *out = NULL;
	cr_assert_eq(ts_run(argv, 120, &out), 0, "sluice-gen failed: %s", out ? out : "");
	free(out);
	cr_assert_eq(corpus_packets_load(pcap, &corpus, err, sizeof(err)), 0, "%s", err);
	ts_rmtree(dir);
	free(dir);
	free(gen);
}

/* Damages every 37th packet in one of four ways, so bad input of several
 * reasons sits between good packets of the same burst. */
static void damage(uint8_t *pkt, uint32_t *len, uint32_t i)
{
	if (i % 37 != 0 || *len < 60)
		return;
	for (uint32_t off = 14; off + 2 < *len; off++) {
		if (pkt[off] != SLUICE_WIRE_MAGIC0 || pkt[off + 1] != SLUICE_WIRE_MAGIC1)
			continue;
		switch ((i / 37) % 4) {
		case 0: /* bad magic in the first frame */
			pkt[off] ^= 0xff;
			return;
		case 1: { /* invalid UTF-8 in the first frame's text, of each kind
			   * the batch's check and the gate must both refuse */
			static const char *const bad[] = {"\xff",	  "\x80",
							  "\xc0\xaf",	  "\xe0\x80\xaf",
							  "\xed\xa0\x80", "\xf4\x90\x80\x80",
							  "\xe4\xb8!"};
			const char *b = bad[(i / 148) % (sizeof(bad) / sizeof(bad[0]))];
			if (off + SLUICE_WIRE_HEADER_LEN + strlen(b) <= *len)
				memcpy(pkt + off + SLUICE_WIRE_HEADER_LEN, b, strlen(b));
			return;
		}
		case 2: /* truncated: the last bytes missing */
			*len -= 3;
			return;
		default: /* bad version */
			pkt[off + 2] = 0x7f;
			return;
		}
	}
}

struct run_result {
	uint8_t *bytes; /* output packets, each preceded by its u32 length and fate */
	size_t len;
	struct sluice_worker_stats stats;
	struct sluice_event *events;
	size_t event_count;
	/* Bursts in which nothing matched and nothing was bad, and the others. */
	uint32_t quiet_bursts, busy_bursts;
};

static uint64_t stats_noted(const struct sluice_worker_stats *s)
{
	uint64_t n = s->matches + s->utf8_repaired;
	for (unsigned i = 0; i < SLUICE_BAD_REASON_COUNT; i++)
		n += s->bad[i];
	return n;
}

/* damaged: bad input and chained packets mixed in (damage()). */
static void run(struct sluice_generation *gen, enum sluice_scan_mode mode,
		enum sluice_bad_policy utf8_policy, bool damaged, struct run_result *out)
{
	struct sluice_message_decoder dec;
	struct sluice_packet_ctx ctx;
	struct sluice_event_ring *ring = sluice_event_ring_create(RING_CAP);
	cr_assert_not_null(ring);
	memset(out, 0, sizeof(*out));
	sluice_udp_frame_decoder_init(&dec, PORT);
	sluice_packet_ctx_init(&ctx, 0, &dec, &out->stats, ring);
	ctx.policy[SLUICE_BAD_INVALID_UTF8] = utf8_policy;
	cr_assert_eq(sluice_packet_ctx_set_scan_mode(&ctx, mode), 0);

	out->bytes = malloc(corpus.bytes + corpus.count * 8);
	out->events = malloc(sizeof(*out->events) * RING_CAP);
	cr_assert(out->bytes && out->events);
	uint8_t *copy = malloc(corpus.bytes);
	memcpy(copy, corpus.data, corpus.bytes);
	for (uint32_t first = 0; first < corpus.count; first += BURST) {
		uint8_t *pkts[BURST];
		uint32_t lens[BURST];
		enum sluice_packet_fate fates[BURST];
		bool partial[BURST];
		uint16_t n =
		    (uint16_t)(corpus.count - first < BURST ? corpus.count - first : BURST);
		for (uint16_t k = 0; k < n; k++) {
			pkts[k] = copy + corpus.offset[first + k];
			lens[k] = corpus.len[first + k];
			if (damaged)
				damage(pkts[k], &lens[k], first + k);
			/* Every 53rd packet arrives chained: only its first 64
			 * bytes are contiguous. */
			partial[k] = damaged && (first + k) % 53 == 0;
			if (partial[k] && lens[k] > 64)
				lens[k] = 64;
		}
		sluice_packet_ctx_bind(&ctx, gen, first);
		uint64_t noted = stats_noted(&out->stats);
		sluice_burst_process(&ctx, pkts, lens, partial, n, fates);
		if (stats_noted(&out->stats) == noted)
			out->quiet_bursts++;
		else
			out->busy_bursts++;
		for (uint16_t k = 0; k < n; k++) {
			uint32_t head[2] = {fates[k] == SLUICE_FATE_FORWARD ? lens[k] : 0,
					    (uint32_t)fates[k]};
			memcpy(out->bytes + out->len, head, sizeof(head));
			out->len += sizeof(head);
			if (fates[k] == SLUICE_FATE_FORWARD) {
				memcpy(out->bytes + out->len, pkts[k], lens[k]);
				out->len += lens[k];
			}
		}
		while (sluice_event_ring_pop(ring, &out->events[out->event_count]))
			out->event_count++;
	}
	free(copy);
	sluice_packet_ctx_fini(&ctx);
	sluice_event_ring_free(ring);
}

static void free_result(struct run_result *r)
{
	free(r->bytes);
	free(r->events);
}

/* Runs the corpus through both modes and asserts they agree in everything;
 * the caller frees the runs. */
static void compare_runs(const char *pack_rel, const char *urgent_rel,
			 enum sluice_bad_policy utf8_policy, bool damaged, struct run_result *alone,
			 struct run_result *batched);

static void expect_same_runs(const char *pack_rel, const char *urgent_rel,
			     enum sluice_bad_policy utf8_policy)
{
	struct run_result alone, batched;
	compare_runs(pack_rel, urgent_rel, utf8_policy, true, &alone, &batched);
	cr_assert_gt(alone.stats.messages, 10000);
	cr_assert_gt(alone.stats.verdicts[SLUICE_ACTION_BLOCK] +
			 alone.stats.verdicts[SLUICE_ACTION_MASK] +
			 alone.stats.verdicts[SLUICE_ACTION_FLAG],
		     100, "the corpus must exercise verdicts");
	cr_assert_gt(alone.stats.bad[SLUICE_BAD_MAGIC], 0, "the corpus must hold bad input");
	cr_assert_gt(alone.stats.bad[SLUICE_BAD_INVALID_UTF8] + alone.stats.utf8_repaired, 5,
		     "and invalid text");
	cr_assert_gt(alone.stats.bad[SLUICE_BAD_MULTI_SEGMENT], 0, "and chained packets");
	free_result(&alone);
	free_result(&batched);
}

static void compare_runs(const char *pack_rel, const char *urgent_rel,
			 enum sluice_bad_policy utf8_policy, bool damaged, struct run_result *alone,
			 struct run_result *batched)
{
	char err[2048] = "";
	struct sluice_pack *pack = NULL, *urgent = NULL;
	char *path = ts_source_path(pack_rel);
	cr_assert_eq(ts_pack_load(path, &pack, err, sizeof(err)), 0, "%s", err);
	free(path);
	struct sluice_generation *gen = sluice_generation_create(pack, 1, err, sizeof(err));
	cr_assert_not_null(gen, "%s", err);
	if (urgent_rel != NULL) {
		path = ts_source_path(urgent_rel);
		cr_assert_eq(ts_pack_load(path, &urgent, err, sizeof(err)), 0, "%s", err);
		free(path);
		hs_scratch_t *proto = NULL;
		size_t bytes = 0;
		cr_assert_eq(sluice_scratch_prototype(urgent, &proto, &bytes, err, sizeof(err)), 0,
			     "%s", err);
		struct sluice_scratch_set *set =
		    sluice_scratch_set_create(urgent, proto, 1, err, sizeof(err));
		cr_assert_not_null(set, "%s", err);
		cr_assert_eq(sluice_generation_set_slot(gen, SLUICE_SLOT_URGENT, urgent, set, 0,
							err, sizeof(err)),
			     0, "%s", err);
		/* Two packs folding with tables cut to their own rules: batches
		 * fold once, with the union, and must still match as each pack
		 * does alone (per-message mode uses each pack's own table). */
		if (pack->fold != NULL && urgent->fold != NULL &&
		    pack->fold->digest != urgent->fold->digest) {
			cr_assert_not_null(gen->fold_shared);
			cr_assert(sluice_fold_table_serves(gen->fold_shared, pack->fold) &&
				  sluice_fold_table_serves(gen->fold_shared, urgent->fold));
		}
	}

	run(gen, SLUICE_SCAN_MESSAGE, utf8_policy, damaged, alone);
	run(gen, SLUICE_SCAN_BATCH, utf8_policy, damaged, batched);
	cr_assert_eq(
	    memcmp(&alone->stats, &batched->stats, sizeof(alone->stats)), 0,
	    "counters differ (messages %llu vs %llu, matches %llu vs %llu)",
	    (unsigned long long)alone->stats.messages, (unsigned long long)batched->stats.messages,
	    (unsigned long long)alone->stats.matches, (unsigned long long)batched->stats.matches);
	cr_assert_eq(alone->len, batched->len, "output lengths differ");
	cr_assert_eq(memcmp(alone->bytes, batched->bytes, alone->len), 0, "output bytes differ");
	cr_assert_eq(alone->event_count, batched->event_count);
	for (size_t e = 0; e < alone->event_count; e++)
		cr_assert_eq(
		    memcmp(&alone->events[e], &batched->events[e], sizeof(alone->events[e])), 0,
		    "event %zu differs (kind %u/%u, msg %llu/%llu)", e, alone->events[e].kind,
		    batched->events[e].kind, (unsigned long long)alone->events[e].msg_id,
		    (unsigned long long)batched->events[e].msg_id);
	cr_log_info("%s: %llu messages, %zu events, identical", pack_rel,
		    (unsigned long long)alone->stats.messages, alone->event_count);
	sluice_generation_free(gen);
	sluice_pack_free(urgent);
	sluice_pack_free(pack);
}

static void small_corpus(void)
{
	make_corpus("6000");
}

TestSuite(burst_process, .init = small_corpus);

Test(burst_process, batch_mode_equals_per_message_mode_packet_for_packet, .timeout = 300)
{
	expect_same_runs("patterns/rules/default.yaml", NULL, SLUICE_POLICY_DROP);
	expect_same_runs("tests/data/batch/crossing.yaml", NULL, SLUICE_POLICY_DROP);
}

Test(burst_process, urgent_pack_and_utf8_repair_change_nothing_between_modes, .timeout = 300)
{
	expect_same_runs("patterns/rules/default.yaml", "tests/data/rules/lang_mixed.yaml",
			 SLUICE_POLICY_REPLACE);
	/* a pack that scans raw text: texts copied, and checked as they are */
	expect_same_runs("tests/data/batch/raw-contact.yaml", NULL, SLUICE_POLICY_REPLACE);
}

Test(burst_process, rounds_nothing_reached_are_counted_and_forwarded_as_alone, .timeout = 300)
{
	/* Undamaged traffic and a pack that matches now and then: a burst in
	 * which no report reaches any message is forwarded and counted in
	 * bulk (close_round()), the others frame by frame. Both must come out
	 * as per-message mode's, and the corpus must hold both. */
	struct run_result alone, batched;
	compare_runs("tests/data/batch/rare.yaml", NULL, SLUICE_POLICY_DROP, false, &alone,
		     &batched);
	cr_log_info("bursts: %u quiet, %u with a match", batched.quiet_bursts, batched.busy_bursts);
	cr_assert_gt(batched.quiet_bursts, 20);
	cr_assert_gt(batched.busy_bursts, 10);
	cr_assert_gt(alone.stats.verdicts[SLUICE_ACTION_NONE], 10000);
	cr_assert_gt(alone.stats.bytes_scanned, 100000);
	free_result(&alone);
	free_result(&batched);
}

static void large_corpus(void)
{
	make_corpus("30000");
}

TestSuite(burst_corpus, .init = large_corpus);

Test(burst_corpus, default_packs_give_the_same_packets_and_events_in_both_modes, .timeout = 600)
{
	expect_same_runs("patterns/packs/all.yaml", "patterns/packs/copyright.yaml",
			 SLUICE_POLICY_DROP);
}
