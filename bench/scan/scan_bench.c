/* sluice-scan-bench: the scan path on one core, against the Hyperscan ceiling
 * and a PCRE2 baseline, on the same messages and the same pack.
 *
 * Stages (scan_stages.h, pcre2_baseline.h): ceiling, message, batch, pcre2.
 * Each is timed by stage_time() (stage_timing.h): a warm-up pass, then rounds
 * of whole passes over the corpus, the median round reported as ns per
 * message. Throughput ratios compare stages (msgs/s of the first over msgs/s
 * of the second).
 *
 * Correctness: the batch scanner promises the results of
 * sluice_scan_message() on each message alone, so when both stages run the
 * warm-up passes' verdicts are compared message by message; any difference
 * is a failed measurement (exit 1), reported with the first message that
 * differs.
 *
 * Output: one JSON object on stdout, progress on stderr:
 *   program, versions, options,
 *   pack: path, name, rules, databases [{kind, bytes, patterns, in_ceiling}],
 *         db_bytes, pack_bytes, scratch_bytes, compile_ms (null for a .pack),
 *         load_ms, rss_kib, peak_rss_kib (right after loading), ...
 *   corpus: path, messages, bytes (message text only), mean_bytes
 *   stages: {name: {ns_per_msg (median round), msgs_per_s, mbit_per_s,
 *            rounds_ns_per_msg, hs_calls_per_msg, matches, ...}
 *            or {skipped: reason} or {error: reason}}; stages not asked for
 *            are absent
 *   ratios: throughput ratios, null where a stage is missing
 *   cross_check: message against batch verdicts
 *   error: the first failure, only when the exit status is 1
 * With --stats-only, only program..corpus. Exit 0 measured, 1 a measurement
 * failed, 2 bad usage or unreadable inputs (nothing on stdout).
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#include <pcre2.h>

#include "corpus_reader.h"
#include "json_writer.h"
#include "pack_stats.h"
#include "pcre2_baseline.h"
#include "rule_file.h"
#include "scan_options.h"
#include "scan_stages.h"
#include "stage_timing.h"
#include "utf8.h"

#define ERR_LEN 1024
/* Room for an err and the words around it. */
#define TEXT_LEN (ERR_LEN + 256)

struct stage_outcome {
	bool ran;
	char skipped[TEXT_LEN]; /* why it did not run, or "" */
	char error[TEXT_LEN];	/* why it failed, or "" */
	struct stage_timing timing;
	uint8_t *verdicts; /* per message, from the warm-up pass */
};

struct bench_run {
	struct scan_options opt;
	struct sluice_pack *pack;
	struct pack_stats pack_stats;
	hs_scratch_t *scratch;
	struct corpus_texts corpus;
	bool corpus_loaded;
	struct stage_outcome stage[SCAN_STAGE_COUNT];
	uint32_t ceiling_dbs;
	struct pcre2_baseline pcre2; /* kept until the JSON is written (skip reasons) */
	bool pcre2_built;
	/* Cross-check of message and batch verdicts. */
	bool cross_checked;
	uint64_t verdicts_differ;
	long first_difference; /* message index, -1: none */
	uint64_t pcre2_acted_differs;
	long pcre2_first_difference; /* message index, -1: none */
	char error[TEXT_LEN];	     /* the first failure, for the JSON */
};

static void progress(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sluice-scan-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void fail(struct bench_run *run, const char *what)
{
	if (run->error[0] == '\0')
		snprintf(run->error, sizeof(run->error), "%s", what);
	progress("error: %s", what);
}

static double msgs_per_s(const struct stage_outcome *s)
{
	return s->ran && s->error[0] == '\0' && s->timing.ns_per_msg > 0
		   ? 1e9 / s->timing.ns_per_msg
		   : 0;
}

/* Messages whose text is not UTF-8 would put the scanners outside their
 * contract (undefined behaviour in Hyperscan, and PCRE2_NO_UTF_CHECK). */
static int check_corpus(const struct corpus_texts *t, char *err, size_t err_len)
{
	if (t->count == 0) {
		snprintf(err, err_len, "no messages");
		return -1;
	}
	for (uint32_t i = 0; i < t->count; i++) {
		if (!sluice_utf8_valid((const uint8_t *)t->text[i], t->len[i])) {
			snprintf(err, err_len, "message %u (msg_id %llu) is not valid UTF-8", i + 1,
				 (unsigned long long)t->msg_id[i]);
			return -1;
		}
	}
	return 0;
}

static void run_stage(struct bench_run *run, enum scan_stage_id id, stage_pass_fn pass, void *stage)
{
	struct stage_outcome *s = &run->stage[id];
	char err[ERR_LEN];

	progress("%s: %u rounds of at least %gs over %u messages", scan_stage_names[id],
		 run->opt.rounds, run->opt.min_seconds, run->corpus.count);
	s->ran = true;
	s->verdicts = calloc(run->corpus.count, 1);
	if (s->verdicts == NULL) {
		snprintf(s->error, sizeof(s->error), "out of memory");
	} else if (stage_time(pass, stage, &run->corpus, run->opt.rounds, run->opt.min_seconds,
			      run->opt.max_stage_seconds, s->verdicts, &s->timing, err,
			      sizeof(err)) != 0) {
		snprintf(s->error, sizeof(s->error), "%s", err);
	}
	if (s->error[0]) {
		char what[TEXT_LEN + 32];
		snprintf(what, sizeof(what), "%s: %s", scan_stage_names[id], s->error);
		fail(run, what);
		return;
	}
	progress("%s: %.1f ns/msg (median of %u rounds%s), %.0f msgs/s", scan_stage_names[id],
		 s->timing.ns_per_msg, s->timing.rounds,
		 s->timing.cut_short ? ", cut short by --max-stage-seconds" : "", msgs_per_s(s));
}

static void run_ceiling(struct bench_run *run)
{
	struct ceiling_stage stage;
	if (ceiling_stage_init(&stage, run->pack, run->scratch) != 0) {
		run->stage[SCAN_STAGE_CEILING].ran = true;
		snprintf(run->stage[SCAN_STAGE_CEILING].error, TEXT_LEN, "out of memory");
		fail(run, "ceiling: out of memory");
		return;
	}
	run->ceiling_dbs = (uint32_t)stage.db_count;
	run_stage(run, SCAN_STAGE_CEILING, ceiling_stage_pass, &stage);
	ceiling_stage_free(&stage);
}

static void run_message(struct bench_run *run)
{
	struct message_stage *stage = malloc(sizeof(*stage));
	if (stage == NULL) {
		fail(run, "message: out of memory");
		return;
	}
	message_stage_init(stage, run->pack, run->scratch);
	run_stage(run, SCAN_STAGE_MESSAGE, message_stage_pass, stage);
	message_stage_free(stage);
	free(stage);
}

static void run_batch(struct bench_run *run)
{
	struct stage_outcome *s = &run->stage[SCAN_STAGE_BATCH];
	struct batch_stage *stage = malloc(sizeof(*stage));
	char err[ERR_LEN];

	if (stage == NULL) {
		fail(run, "batch: out of memory");
		return;
	}
	if (batch_stage_init(stage, run->pack, run->scratch, run->opt.batch_messages,
			     run->opt.batch_bytes, err, sizeof(err)) != 0) {
		s->ran = true;
		snprintf(s->error, sizeof(s->error), "%s", err);
		char what[TEXT_LEN];
		snprintf(what, sizeof(what), "batch: %s", err);
		fail(run, what);
		free(stage);
		return;
	}
	run_stage(run, SCAN_STAGE_BATCH, batch_stage_pass, stage);
	batch_stage_free(stage);
	free(stage);
}

static void run_pcre2(struct bench_run *run)
{
	struct stage_outcome *s = &run->stage[SCAN_STAGE_PCRE2];
	struct sluice_rule_list rules;
	char err[ERR_LEN];

	if (!run->pack_stats.compiled_here) {
		snprintf(s->skipped, sizeof(s->skipped),
			 "the pack is a compiled .pack; the PCRE2 baseline needs its YAML rule "
			 "file");
		progress("pcre2: skipped: %s", s->skipped);
		return;
	}
	if (sluice_rule_file_load(run->opt.pack_path, &rules, err, sizeof(err)) != 0) {
		snprintf(s->skipped, sizeof(s->skipped), "cannot read the rule file: %s", err);
		progress("pcre2: skipped: %s", s->skipped);
		return;
	}
	int rc = pcre2_baseline_build(&rules, &run->pcre2, err, sizeof(err));
	sluice_rule_list_free(&rules);
	if (rc != 0) {
		s->ran = true;
		snprintf(s->error, sizeof(s->error), "%s", err);
		fail(run, err);
		return;
	}
	run->pcre2_built = true;
	progress("pcre2: %u patterns compiled, %u rules skipped", run->pcre2.patterns,
		 run->pcre2.skipped_rules);
	for (size_t i = 0; i < PCRE2_BASELINE_REASONS && run->pcre2.skips[i].rule_id; i++)
		progress("pcre2: skipped rule %s: %s", run->pcre2.skips[i].rule_id,
			 run->pcre2.skips[i].reason);
	run_stage(run, SCAN_STAGE_PCRE2, pcre2_baseline_pass, &run->pcre2);
	if (s->error[0] == '\0' && s->timing.counts.match_errors)
		progress("pcre2: warning: %llu matches failed (counted as no match)",
			 (unsigned long long)s->timing.counts.match_errors);
}

static bool stage_ok(const struct bench_run *run, enum scan_stage_id id)
{
	return run->stage[id].ran && run->stage[id].error[0] == '\0';
}

static void cross_check(struct bench_run *run)
{
	const struct stage_outcome *m = &run->stage[SCAN_STAGE_MESSAGE];
	const struct stage_outcome *b = &run->stage[SCAN_STAGE_BATCH];
	const struct stage_outcome *p = &run->stage[SCAN_STAGE_PCRE2];

	run->first_difference = -1;
	run->pcre2_first_difference = -1;
	/* The baseline has no allow exemptions (pcre2_baseline.h), so it may
	 * differ; the count says how far it is from Sluice's semantics. */
	if (stage_ok(run, SCAN_STAGE_MESSAGE) && stage_ok(run, SCAN_STAGE_PCRE2)) {
		for (uint32_t i = 0; i < run->corpus.count; i++) {
			if ((m->verdicts[i] != 0) == (p->verdicts[i] != 0))
				continue;
			if (run->pcre2_first_difference < 0)
				run->pcre2_first_difference = i;
			run->pcre2_acted_differs++;
		}
	}
	if (!stage_ok(run, SCAN_STAGE_MESSAGE) || !stage_ok(run, SCAN_STAGE_BATCH))
		return;
	run->cross_checked = true;
	for (uint32_t i = 0; i < run->corpus.count; i++) {
		if (m->verdicts[i] == b->verdicts[i])
			continue;
		if (run->first_difference < 0)
			run->first_difference = i;
		run->verdicts_differ++;
	}
	if (m->timing.counts.acted_messages != b->timing.counts.acted_messages ||
	    run->verdicts_differ) {
		char what[TEXT_LEN];
		long i = run->first_difference;
		snprintf(what, sizeof(what),
			 "batch results differ from sluice_scan_message(): %llu messages acted "
			 "alone, %llu in batches; %llu verdicts differ, the first at message %ld "
			 "(msg_id %llu): %s alone, %s in a batch",
			 (unsigned long long)m->timing.counts.acted_messages,
			 (unsigned long long)b->timing.counts.acted_messages,
			 (unsigned long long)run->verdicts_differ, i + 1,
			 i >= 0 ? (unsigned long long)run->corpus.msg_id[i] : 0ULL,
			 i >= 0 ? sluice_action_name((enum sluice_action)m->verdicts[i]) : "-",
			 i >= 0 ? sluice_action_name((enum sluice_action)b->verdicts[i]) : "-");
		fail(run, what);
	}
}

static void write_pack(struct sluice_json_writer *j, const struct bench_run *run)
{
	const struct sluice_pack *pack = run->pack;
	const struct pack_stats *ps = &run->pack_stats;

	sluice_jw_object(j, "pack");
	sluice_jw_string(j, "path", run->opt.pack_path);
	sluice_jw_string(j, "name", pack->name);
	sluice_jw_string(j, "version", pack->version);
	sluice_jw_string(j, "sha256", pack->sha256_hex);
	sluice_jw_uint(j, "rules", pack->rule_count);
	sluice_jw_uint(j, "combinations", pack->combination_count);
	sluice_jw_array(j, "databases");
	for (size_t i = 0; i < pack->db_count; i++) {
		const struct sluice_pack_db *db = &pack->dbs[i];
		sluice_jw_object(j, NULL);
		sluice_jw_string(j, "kind", sluice_db_kind_name(db->kind));
		sluice_jw_uint(j, "bytes", db->bytes);
		sluice_jw_uint(j, "patterns", db->patterns);
		sluice_jw_bool(j, "in_ceiling", scan_ceiling_scans(db->kind));
		sluice_jw_end(j);
	}
	sluice_jw_end(j);
	sluice_jw_uint(j, "db_bytes", pack->db_bytes);
	sluice_jw_uint(j, "memory_bytes", sluice_pack_memory(pack));
	sluice_jw_uint(j, "pack_bytes", ps->pack_bytes);
	sluice_jw_uint(j, "scratch_bytes", ps->scratch_bytes);
	if (ps->compiled_here)
		sluice_jw_double(j, "compile_ms", pack->compile_ms, 3, true);
	else
		sluice_jw_null(j, "compile_ms");
	sluice_jw_double(j, "load_ms", ps->load_ms, 3, true);
	sluice_jw_uint(j, "rss_kib", ps->rss_kib);
	sluice_jw_uint(j, "peak_rss_kib", ps->peak_rss_kib);
	sluice_jw_uint(j, "rss_before_load_kib", ps->rss_before_kib);
	sluice_jw_end(j);
}

static void write_corpus(struct sluice_json_writer *j, const struct bench_run *run)
{
	if (!run->corpus_loaded) {
		sluice_jw_null(j, "corpus");
		return;
	}
	sluice_jw_object(j, "corpus");
	sluice_jw_string(j, "path", run->opt.corpus_path);
	sluice_jw_uint(j, "messages", run->corpus.count);
	sluice_jw_uint(j, "bytes", run->corpus.bytes);
	sluice_jw_double(j, "mean_bytes", (double)run->corpus.bytes / run->corpus.count, 3, true);
	sluice_jw_end(j);
}

static void write_stage(struct sluice_json_writer *j, const struct bench_run *run,
			enum scan_stage_id id)
{
	const struct stage_outcome *s = &run->stage[id];
	const struct pass_counts *c = &s->timing.counts;
	double per_s = msgs_per_s(s);
	double messages = run->corpus.count;

	if (!s->ran) {
		if (!s->skipped[0])
			return;
		sluice_jw_object(j, scan_stage_names[id]);
		sluice_jw_string(j, "skipped", s->skipped);
		sluice_jw_end(j);
		return;
	}
	sluice_jw_object(j, scan_stage_names[id]);
	if (s->error[0]) {
		sluice_jw_string(j, "error", s->error);
		sluice_jw_end(j);
		return;
	}
	sluice_jw_double(j, "ns_per_msg", s->timing.ns_per_msg, 3, true);
	sluice_jw_double(j, "msgs_per_s", per_s, 3, true);
	sluice_jw_double(j, "mbit_per_s", per_s * ((double)run->corpus.bytes / messages) * 8 / 1e6,
			 3, true);
	sluice_jw_array(j, "rounds_ns_per_msg");
	for (unsigned r = 0; r < s->timing.rounds; r++)
		sluice_jw_double(j, NULL, s->timing.round_ns_per_msg[r], 3, true);
	sluice_jw_end(j);
	sluice_jw_uint(j, "rounds", s->timing.rounds);
	sluice_jw_bool(j, "rounds_cut_short", s->timing.cut_short);
	sluice_jw_uint(j, "timed_passes", s->timing.timed_passes);
	sluice_jw_double(j, "hs_calls_per_msg", (double)c->hs_calls / messages, 3, true);
	sluice_jw_uint(j, "matches", c->matches);
	switch (id) {
	case SCAN_STAGE_CEILING:
		sluice_jw_uint(j, "databases_scanned", run->ceiling_dbs);
		break;
	case SCAN_STAGE_MESSAGE:
		sluice_jw_uint(j, "acted_messages", c->acted_messages);
		sluice_jw_uint(j, "overflowed_messages", c->overflowed);
		break;
	case SCAN_STAGE_BATCH:
		sluice_jw_uint(j, "acted_messages", c->acted_messages);
		sluice_jw_uint(j, "overflowed_messages", c->overflowed);
		sluice_jw_uint(j, "batch_messages", run->opt.batch_messages);
		sluice_jw_uint(j, "batch_bytes", run->opt.batch_bytes);
		sluice_jw_uint(j, "batch_scans", c->batch_scans);
		sluice_jw_uint(j, "regex_scans", c->regex_scans);
		sluice_jw_uint(j, "scanned_alone", c->scanned_alone);
		break;
	case SCAN_STAGE_PCRE2:
		sluice_jw_uint(j, "acted_messages", c->acted_messages);
		sluice_jw_uint(j, "patterns", run->pcre2.patterns);
		sluice_jw_uint(j, "not_jit", run->pcre2.not_jit);
		sluice_jw_uint(j, "skipped_rules", run->pcre2.skipped_rules);
		sluice_jw_uint(j, "skipped_combinations", run->pcre2.skipped_combinations);
		sluice_jw_array(j, "skipped_details");
		for (size_t i = 0; i < PCRE2_BASELINE_REASONS && run->pcre2.skips[i].rule_id; i++) {
			sluice_jw_object(j, NULL);
			sluice_jw_string(j, "rule", run->pcre2.skips[i].rule_id);
			sluice_jw_string(j, "reason", run->pcre2.skips[i].reason);
			sluice_jw_end(j);
		}
		sluice_jw_end(j);
		sluice_jw_uint(j, "match_errors", c->match_errors);
		if (stage_ok(run, SCAN_STAGE_MESSAGE)) {
			sluice_jw_uint(j, "acted_differs_from_message", run->pcre2_acted_differs);
			if (run->pcre2_first_difference >= 0)
				sluice_jw_uint(j, "first_difference_msg_id",
					       run->corpus.msg_id[run->pcre2_first_difference]);
		}
		break;
	default:
		break;
	}
	sluice_jw_end(j);
}

static void write_ratio(struct sluice_json_writer *j, const struct bench_run *run, const char *key,
			enum scan_stage_id a, enum scan_stage_id b)
{
	double x = msgs_per_s(&run->stage[a]), y = msgs_per_s(&run->stage[b]);
	if (x > 0 && y > 0)
		sluice_jw_double(j, key, x / y, 3, true);
	else
		sluice_jw_null(j, key);
}

static void write_result(const struct bench_run *run)
{
	struct sluice_json_writer j;
	char pcre2_version[64] = "";

	pcre2_config(PCRE2_CONFIG_VERSION, pcre2_version);
	sluice_jw_init(&j, stdout);
	sluice_jw_object(&j, NULL);
	sluice_jw_string(&j, "program", "sluice-scan-bench");
	sluice_jw_object(&j, "versions");
	sluice_jw_string(&j, "hyperscan", hs_version());
	sluice_jw_string(&j, "pcre2", pcre2_version);
	sluice_jw_end(&j);
	sluice_jw_object(&j, "options");
	sluice_jw_uint(&j, "rounds", run->opt.rounds);
	sluice_jw_double(&j, "min_seconds", run->opt.min_seconds, 3, true);
	sluice_jw_double(&j, "max_stage_seconds", run->opt.max_stage_seconds, 3, true);
	if (run->opt.cpu >= 0)
		sluice_jw_uint(&j, "cpu", (uint64_t)run->opt.cpu);
	else
		sluice_jw_null(&j, "cpu");
	sluice_jw_bool(&j, "stats_only", run->opt.stats_only);
	sluice_jw_end(&j);
	write_pack(&j, run);
	write_corpus(&j, run);
	if (!run->opt.stats_only) {
		sluice_jw_object(&j, "stages");
		for (int id = 0; id < SCAN_STAGE_COUNT; id++)
			write_stage(&j, run, (enum scan_stage_id)id);
		sluice_jw_end(&j);
		sluice_jw_object(&j, "ratios");
		write_ratio(&j, run, "message_over_ceiling", SCAN_STAGE_MESSAGE,
			    SCAN_STAGE_CEILING);
		write_ratio(&j, run, "batch_over_ceiling", SCAN_STAGE_BATCH, SCAN_STAGE_CEILING);
		write_ratio(&j, run, "batch_over_pcre2", SCAN_STAGE_BATCH, SCAN_STAGE_PCRE2);
		write_ratio(&j, run, "message_over_pcre2", SCAN_STAGE_MESSAGE, SCAN_STAGE_PCRE2);
		write_ratio(&j, run, "batch_over_message", SCAN_STAGE_BATCH, SCAN_STAGE_MESSAGE);
		sluice_jw_end(&j);
		sluice_jw_object(&j, "cross_check");
		sluice_jw_bool(&j, "checked", run->cross_checked);
		if (run->cross_checked) {
			sluice_jw_uint(&j, "verdicts_differ", run->verdicts_differ);
			if (run->first_difference >= 0)
				sluice_jw_uint(&j, "first_difference_msg_id",
					       run->corpus.msg_id[run->first_difference]);
		}
		sluice_jw_end(&j);
	}
	if (run->error[0])
		sluice_jw_string(&j, "error", run->error);
	sluice_jw_end(&j);
	sluice_jw_finish(&j);
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		progress("warning: cannot pin to CPU %d; running unpinned", cpu);
}

static void release(struct bench_run *run)
{
	for (int id = 0; id < SCAN_STAGE_COUNT; id++)
		free(run->stage[id].verdicts);
	if (run->pcre2_built)
		pcre2_baseline_free(&run->pcre2);
	if (run->corpus_loaded)
		corpus_texts_free(&run->corpus);
	hs_free_scratch(run->scratch);
	sluice_pack_free(run->pack);
}

int main(int argc, char **argv)
{
	static struct bench_run run;
	char err[ERR_LEN];

	switch (scan_options_parse(argc, argv, &run.opt, err, sizeof(err))) {
	case SCAN_OPTIONS_HELP:
		return 0;
	case SCAN_OPTIONS_BAD:
		fprintf(stderr, "sluice-scan-bench: %s\n", err);
		return 2;
	case SCAN_OPTIONS_RUN:
		break;
	}
	if (run.opt.cpu >= 0)
		pin(run.opt.cpu);

	progress("loading %s", run.opt.pack_path);
	if (pack_stats_load(run.opt.pack_path, &run.pack, &run.pack_stats, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-scan-bench: %s\n", err);
		return 2;
	}
	progress("pack %s: %zu rules, %zu databases, %zu database bytes, loaded in %.0f ms",
		 run.pack->name, run.pack->rule_count, run.pack->db_count, run.pack->db_bytes,
		 run.pack_stats.load_ms);
	if (run.opt.corpus_path) {
		if (corpus_texts_load(run.opt.corpus_path, &run.corpus, err, sizeof(err)) != 0) {
			fprintf(stderr, "sluice-scan-bench: %s\n", err);
			release(&run);
			return 2;
		}
		run.corpus_loaded = true;
		if (check_corpus(&run.corpus, err, sizeof(err)) != 0) {
			fprintf(stderr, "sluice-scan-bench: %s: %s\n", run.opt.corpus_path, err);
			release(&run);
			return 2;
		}
		progress("corpus %s: %u messages, %llu bytes", run.opt.corpus_path,
			 run.corpus.count, (unsigned long long)run.corpus.bytes);
	}

	hs_error_t rc = sluice_pack_alloc_scratch(run.pack, &run.scratch);
	if (rc != HS_SUCCESS) {
		snprintf(err, sizeof(err), "cannot allocate scratch: Hyperscan error %d", (int)rc);
		fail(&run, err);
	} else if (pack_stats_measure(run.pack, run.scratch, &run.pack_stats, err, sizeof(err)) !=
		   0) {
		fail(&run, err);
	}

	if (!run.opt.stats_only && run.error[0] == '\0') {
		if (run.opt.stage[SCAN_STAGE_CEILING])
			run_ceiling(&run);
		if (run.opt.stage[SCAN_STAGE_MESSAGE])
			run_message(&run);
		if (run.opt.stage[SCAN_STAGE_BATCH])
			run_batch(&run);
		if (run.opt.stage[SCAN_STAGE_PCRE2])
			run_pcre2(&run);
		cross_check(&run);
	}
	write_result(&run);
	int status = run.error[0] ? 1 : 0;
	release(&run);
	return status;
}
