/* sluice-gen: writes a pcap of wire-format chat traffic for tests, the demo and
 * benchmarks.
 *
 * The output depends only on the options, the seed and the corpus text, so a
 * capture can be regenerated instead of stored. Texts come from the fortune
 * files of Debian's fortunes and fortunes-zh packages (real English and Chinese
 * prose, freely licensed) or from bench/data/chat-sample.txt, cut to the sizes
 * chat messages have (gen_corpus.h, gen_cut.h); a chosen share of messages
 * carries a snippet the bundled rules catch (or, with --violations-from, one of
 * the lines of a file, such as `sluice-pack examples` of the pack under test;
 * gen_snippets.h), so a run has a known number of violations to find.
 *
 * Exit status: 0 written; 1 an input could not be read or the output not
 * written; 2 a usage error. A summary goes to stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_corpus.h"
#include "gen_cut.h"
#include "gen_options.h"
#include "gen_packets.h"
#include "gen_snippets.h"
#include "wire_format.h"

/* Worst case below the payload: IPv6 (40) + UDP (8); VLAN tags do not count
 * against the IP MTU. */
#define WORST_L3L4_LEN 48

/* The snippets, then the corpus; returns 0 or the exit status. */
static int load_inputs(const struct gen_options *opt, struct corpus *corpus,
		       struct snippets *snippets)
{
	if (!opt->violations_from)
		snippets_builtin(snippets);
	else if (!snippets_load(snippets, opt->violations_from))
		return 1;
	/* Any single message must fit any datagram, IPv6 included, after its
	 * violation snippet is added; a message needs room for some text too. */
	if (max_violation_len(snippets) + 10 > opt->mtu - WORST_L3L4_LEN - SLUICE_WIRE_HEADER_LEN) {
		fprintf(stderr,
			"sluice-gen: --mtu %u is too small for the longest violation snippet\n",
			opt->mtu);
		return 2;
	}

	struct buf scratch = {0};
	int status = 0;
	for (size_t i = 0; status == 0 && i < opt->corpus_paths.count; i++) {
		const char *path = opt->corpus_paths.items[i];
		if (!corpus_load_file(corpus, path, &scratch)) {
			fprintf(stderr, "sluice-gen: %s: %s\n", path, strerror(errno));
			status = 1;
		}
	}
	if (status == 0 && !opt->corpus_paths.count) {
		corpus_load_fortune_dir(corpus, "/usr/share/games/fortunes", &scratch);
		if (!corpus->n && !corpus_load_bundled(corpus, &scratch)) {
			fprintf(stderr, "sluice-gen: no corpus: install the fortunes and "
					"fortunes-zh packages, or pass --corpus FILE\n");
			status = 1;
		}
	}
	if (status == 0 && !corpus->n) {
		fprintf(stderr, "sluice-gen: the corpus holds no usable text\n");
		status = 1;
	}
	free(scratch.data);
	return status;
}

/* --count packets into the dumper; false once one cannot be written. */
static bool write_packets(struct generator *g, pcap_dumper_t *dumper)
{
	struct message pending = {0};
	bool have_pending = false;
	bool ok = true;
	for (uint64_t i = 0; ok && i < g->opt->count; i++) {
		if (rng_chance(&g->rng, g->opt->other_pct))
			ok = other_packet(g, dumper);
		else
			ok = message_datagram(g, dumper, &pending, &have_pending);
	}
	free(pending.text.data);
	return ok;
}

/* --text-out and the capture, opened; false with a message on stderr. */
static bool open_outputs(const struct gen_options *opt, struct generator *g, pcap_t **pd,
			 pcap_dumper_t **dumper)
{
	if (opt->text_out_path) {
		g->text_out =
		    strcmp(opt->text_out_path, "-") ? fopen(opt->text_out_path, "w") : stdout;
		if (!g->text_out) {
			fprintf(stderr, "sluice-gen: %s: %s\n", opt->text_out_path,
				strerror(errno));
			return false;
		}
	}
	*pd = pcap_open_dead(DLT_EN10MB, 65535);
	if (!*pd) {
		fprintf(stderr, "sluice-gen: pcap_open_dead failed\n");
		return false;
	}
	*dumper = pcap_dump_open(*pd, opt->out_path);
	if (!*dumper) {
		fprintf(stderr, "sluice-gen: %s\n", pcap_geterr(*pd));
		pcap_close(*pd);
		return false;
	}
	return true;
}

/* Flushes and closes both outputs; false if what was written did not all
 * reach them. */
static bool close_outputs(const struct gen_options *opt, struct generator *g, pcap_t *pd,
			  pcap_dumper_t *dumper)
{
	bool ok = true;
	if (pcap_dump_flush(dumper) != 0) {
		fprintf(stderr, "sluice-gen: %s: write failed\n", opt->out_path);
		ok = false;
	}
	pcap_dump_close(dumper);
	pcap_close(pd);
	if (g->text_out && g->text_out != stdout && fclose(g->text_out) != 0) {
		fprintf(stderr, "sluice-gen: %s: %s\n", opt->text_out_path, strerror(errno));
		ok = false;
	} else if (g->text_out == stdout && fflush(stdout) != 0) {
		ok = false;
	}
	return ok;
}

/* Writes the capture; returns the exit status. */
static int generate(const struct gen_options *opt, const struct corpus *corpus,
		    const struct snippets *snippets)
{
	struct generator g = {
	    .opt = opt,
	    .corpus = corpus,
	    .snippets = snippets,
	    .rng = {opt->seed},
	    .next_msg_id = 1,
	};
	g.text_limit =
	    opt->mtu - WORST_L3L4_LEN - SLUICE_WIRE_HEADER_LEN - max_violation_len(snippets);
	if (g.text_limit > MAX_TEXT_LEN)
		g.text_limit = MAX_TEXT_LEN;

	pcap_t *pd;
	pcap_dumper_t *dumper;
	if (!open_outputs(opt, &g, &pd, &dumper))
		return 1;
	bool ok = write_packets(&g, dumper);
	ok = close_outputs(opt, &g, pd, dumper) && ok;
	fprintf(stderr,
		"sluice-gen: %" PRIu64 " datagrams, %" PRIu64 " messages, %" PRIu64
		" violations, %" PRIu64 " non-message packets, %" PRIu64 " bytes (corpus: %zu "
		"pieces from %zu files)\n",
		g.datagrams, g.messages, g.violations, g.others, g.bytes, corpus->n, corpus->files);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct gen_options opt;
	int status;
	if (gen_options_parse(argc, argv, &opt, &status)) {
		struct corpus corpus = {0};
		struct snippets snippets = {0};
		status = load_inputs(&opt, &corpus, &snippets);
		if (status == 0)
			status = generate(&opt, &corpus, &snippets);
		corpus_free(&corpus);
		snippets_free(&snippets);
	}
	gen_options_free(&opt);
	return status;
}
