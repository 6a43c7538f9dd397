/* sluice-norm-bench: what normalising costs next to the scan (issue 11).
 *
 * On one core, on the same messages and pack (one that normalises), rounds
 * interleaved: the batch scan as the worker runs it (the batch's texts
 * folded by the pack's table, the databases scanned on their views, spans
 * mapped back), the same databases scanned over the messages as they are
 * (sluice_pack_unfolded(): the scan alone), and normalisation alone
 * (sluice_fold(), as the scanners fold: the map back to the message's bytes
 * is made only for a message that matched, inside the batch scan).
 * Messages are split into ASCII-only ones (the fast path) and the others,
 * since the budget differs: nothing measurable for ASCII, at most 25%
 * more for Chinese text. Medians of the rounds; ratios taken within each
 * round.
 *
 * Prints one JSON object on stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_scan.h"
#include "cli_options.h"
#include "clock.h"
#include "corpus_reader.h"
#include "median.h"
#include "normalize.h"
#include "pack_source.h"
#include "utf8.h"

/* As the worker keeps (dataplane/datagram_process.h). */
#define MATCHES_PER_MESSAGE 64

struct options {
	const char *pack;
	const char *corpus;
	unsigned rounds;
};

static const struct cli_option options[] = {
    {.name = "pack",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, pack),
     .value_name = "FILE",
     .help = "rule file (.yaml) or pack",
     .required = true},
    {.name = "corpus",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, corpus),
     .value_name = "TEXTS",
     .help = "messages, 'msg_id<TAB>text' per line (sluice-gen --text-out)",
     .required = true},
    {.name = "rounds",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, rounds),
     .min = 1,
     .max = 99,
     .value_name = "N",
     .help = "timed rounds, median reported (default 7)"},
};

static const struct cli_program program = {
    .name = "sluice-norm-bench",
    .usage_head = "usage: sluice-norm-bench --pack PACK --corpus TEXTS [--rounds N]\n\n"
		  "Normalisation (the folding table) against the batch scan, one core.\n\n",
    .usage_tail = "\nPrints one JSON object on stdout.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 20,
};

struct subset {
	const char **text;
	uint32_t *len;
	uint32_t count;
	uint64_t bytes;
};

struct scanner {
	const struct sluice_pack *pack; /* the pack as it is, or unfolded */
	hs_scratch_t *scratch;
	struct sluice_batch batch;
	struct sluice_batch_results results;
	uint8_t *out; /* normalised text */
	uint64_t sink;
};

static void flush(struct scanner *sc)
{
	if (sc->batch.count == 0)
		return;
	if (sluice_batch_scan(sc->pack, sc->scratch, &sc->batch, &sc->results, NULL, 0) !=
	    HS_SUCCESS) {
		fprintf(stderr, "sluice-norm-bench: the batch scan failed\n");
		exit(1);
	}
	for (uint32_t j = 0; j < sc->batch.count; j++)
		sc->sink += sluice_batch_result(&sc->results, j)->verdict;
	sluice_batch_reset(&sc->batch);
}

static void add(struct scanner *sc, const char *text, uint32_t len)
{
	if (!sluice_batch_fits(&sc->batch, len))
		flush(sc);
	if (sluice_batch_add(&sc->batch, text, len) < 0) {
		fprintf(stderr, "sluice-norm-bench: a message does not fit a batch\n");
		exit(1);
	}
}

enum pass_kind { SCAN, NORMALIZE, BOTH };

/* One pass over a subset; returns its seconds. */
static double pass(struct scanner *sc, const struct sluice_pack *pack,
		   const struct sluice_pack *unfolded, const struct subset *s, enum pass_kind k)
{
	double start = sluice_mono_s();
	sc->pack = k == SCAN ? unfolded : pack;
	for (uint32_t i = 0; i < s->count; i++) {
		if (k != NORMALIZE) {
			add(sc, s->text[i], s->len[i]);
			continue;
		}
		struct sluice_norm_view v;
		sluice_fold(pack->fold, (const uint8_t *)s->text[i], s->len[i], sc->out, &v);
		sc->sink += v.len;
	}
	flush(sc);
	return sluice_mono_s() - start;
}

int main(int argc, char **argv)
{
	struct options o = {.rounds = 7};
	char err[512];
	int status = cli_parse_main(&program, argc, argv, &o, NULL);
	if (status != CLI_MAIN_RUN)
		return status;
	struct sluice_pack *pack;
	struct corpus_texts corpus;
	if (sluice_pack_load(o.pack, &pack, err, sizeof(err)) != 0 ||
	    corpus_texts_load(o.corpus, &corpus, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-norm-bench: %s\n", err);
		return 1;
	}
	if (!(pack->views & (1u << SLUICE_VIEW_FOLDED))) {
		fprintf(stderr,
			"sluice-norm-bench: %s does not normalise (normalize: none, or "
			"every rule opted out): nothing to measure\n",
			o.pack);
		return 1;
	}
	const struct sluice_fold_table *table = pack->fold;
	static struct sluice_pack unfolded;
	struct sluice_pack_db *unfolded_dbs = calloc(pack->db_count, sizeof(*unfolded_dbs));
	if (unfolded_dbs == NULL) {
		fprintf(stderr, "sluice-norm-bench: out of memory\n");
		return 1;
	}
	sluice_pack_unfolded(pack, &unfolded, unfolded_dbs);
	struct subset sub[2] = {0}; /* ASCII-only, other */
	for (int k = 0; k < 2; k++) {
		sub[k].text = calloc(corpus.count, sizeof(*sub[k].text));
		sub[k].len = calloc(corpus.count, sizeof(*sub[k].len));
	}
	uint32_t longest = 0;
	for (uint32_t i = 0; i < corpus.count; i++) {
		struct subset *s =
		    &sub[sluice_ascii_only((const uint8_t *)corpus.text[i], corpus.len[i]) ? 0 : 1];
		s->text[s->count] = corpus.text[i];
		s->len[s->count++] = corpus.len[i];
		s->bytes += corpus.len[i];
		if (corpus.len[i] > longest)
			longest = corpus.len[i];
	}
	struct scanner sc = {.pack = pack};
	sc.out = malloc((size_t)longest * SLUICE_FOLD_MAX_GROWTH + SLUICE_NORM_SLACK);
	if (sc.out == NULL || sluice_pack_alloc_scratch(pack, &sc.scratch) != 0 ||
	    sluice_batch_init(&sc.batch, SLUICE_BATCH_MESSAGES, SLUICE_BATCH_BYTES,
			      &sluice_libc_allocator) != 0 ||
	    sluice_batch_results_init(&sc.results, SLUICE_BATCH_MESSAGES, MATCHES_PER_MESSAGE,
				      &sluice_libc_allocator) != 0) {
		fprintf(stderr, "sluice-norm-bench: out of memory\n");
		return 1;
	}
	static const char *const names[2] = {"ascii", "other"};
	double t[2][3][99], ratio[2][99];
	for (unsigned r = 0; r < o.rounds; r++)
		for (int k = 0; k < 2; k++) {
			if (sub[k].count == 0)
				continue;
			for (int p = 0; p < 3; p++)
				t[k][p][r] = pass(&sc, pack, &unfolded, &sub[k], (enum pass_kind)p);
			ratio[k][r] = t[k][BOTH][r] / t[k][SCAN][r];
		}
	printf("{\"rounds\":%u,\"table\":{\"versions\":\"%s\",\"mapped\":%u,\"dropped\":%u,"
	       "\"blocks\":%u,\"bytes\":%zu}",
	       o.rounds, table->versions, table->mapped, table->dropped, table->blocks,
	       sizeof(table->block) + (size_t)table->blocks * 256 * sizeof(*table->slot) +
		   (size_t)table->entries * sizeof(*table->entry) + table->nbytes);
	for (int k = 0; k < 2; k++) {
		printf(",\"%s\":{\"messages\":%u,\"bytes\":%" PRIu64, names[k], sub[k].count,
		       sub[k].bytes);
		if (sub[k].count > 0) {
			double n = sub[k].count;
			printf(",\"scan_ns_per_msg\":%.1f,\"normalize_ns_per_msg\":%.1f,"
			       "\"both_ns_per_msg\":%.1f,\"both_over_scan\":%.3f",
			       sluice_median(t[k][SCAN], o.rounds) * 1e9 / n,
			       sluice_median(t[k][NORMALIZE], o.rounds) * 1e9 / n,
			       sluice_median(t[k][BOTH], o.rounds) * 1e9 / n,
			       sluice_median(ratio[k], o.rounds));
		}
		printf("}");
	}
	printf(",\"sink\":%" PRIu64 "}\n", sc.sink % 2);
	sluice_batch_free(&sc.batch);
	sluice_batch_results_free(&sc.results);
	hs_free_scratch(sc.scratch);
	free(sc.out);
	for (int k = 0; k < 2; k++) {
		free(sub[k].text);
		free(sub[k].len);
	}
	free(unfolded_dbs);
	corpus_texts_free(&corpus);
	sluice_pack_free(pack);
	return 0;
}
