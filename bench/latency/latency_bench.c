/* sluice-latency-bench: the whole data path — net_ring port, worker, decode,
 * scan, verdicts, the other port — measured in one process, with the daemon's
 * own code on a worker lcore and the traffic injected and collected beside its
 * control thread.
 *
 * One invocation runs one mode (EAL starts once per process): max (the rate
 * this harness sustains), latency (percentiles at a paced rate) or swap (pack
 * reloads under load, where nothing may be lost). The result is one JSON
 * object on stdout; everything else the process or the daemon prints goes to
 * stderr, because the daemon writes its banner and summary to stdout.
 *
 * Exit status: 0 success; 1 a measurement failed (lost packets, failed
 * reloads, a run that could not complete); 2 usage errors or unreadable input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_run.h"
#include "corpus_messages.h"
#include "corpus_reader.h"
#include "latency_histogram.h"
#include "latency_options.h"
#include "options.h"
#include "pack.h"
#include "pack_source.h"
#include "reload_cycle.h"
#include "ring_harness.h"
#include "strbuf.h"
#include "traffic_load.h"

#define PROG "sluice-latency-bench"

/* Warmup before anything is counted: the worker's caches, the scratch, the
 * rings reach their steady state. */
#define WARMUP_S 0.5
/* swap without a rate paces at this fraction of what a short unpaced probe
 * got through: busy, but with room for the worker to absorb a reload. */
#define SWAP_PROBE_S	    1.0
#define SWAP_PROBE_QUICK_S  0.5
#define SWAP_PROBE_FRACTION 0.8
#define SETTLE_LIMIT_S	    10.0
#define START_LIMIT_S	    120.0
/* A count bound on injection beside the time bound: no run of this harness
 * gets near it. */
#define MAX_PACKETS_PER_S 1e8

struct bench {
	struct latency_options opt;
	struct sluice_options daemon;
	bool daemon_parsed;
	struct corpus_packets corpus;
	bool corpus_loaded;
	struct corpus_messages messages;
	bool eal_up;
	struct ring_harness harness;
	struct latency_histogram histogram;
	FILE *histogram_file;
	bool histogram_written;
	struct traffic_load load;
	struct reload_cycle reloads;
	struct bench_run run;
	char placement[768]; /* where the lcores and the load thread run */
	char socket_dir[64];
	FILE *json;
};

/* The daemon's options: the bench's pack and a private control socket; the
 * caller's daemon options in between may change anything else. */
static int parse_daemon_options(struct bench *b, char *err, size_t err_len)
{
	const struct latency_options *o = &b->opt;
	int argc = 5 + o->daemon_argc;
	char **argv = calloc((size_t)argc + 1, sizeof(char *));
	if (argv == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	argv[0] = PROG;
	argv[1] = "--rules";
	argv[2] = o->pack;
	argv[3] = "--events";
	argv[4] = "/dev/null";
	for (int i = 0; i < o->daemon_argc; i++)
		argv[5 + i] = o->daemon_argv[i];
	sluice_options_defaults(&b->daemon);
	b->daemon_parsed = true;
	int rc = sluice_options_parse(argc, argv, &b->daemon, err, err_len);
	free(argv);
	if (rc != 0)
		return -1;
	free(b->daemon.rules);
	b->daemon.rules = strdup(o->pack);
	b->daemon.offline = false;
	return b->daemon.rules != NULL ? 0 : -1;
}

/* A pack the daemon would refuse is an unreadable input, told apart here from
 * a failed measurement; loading a .pack costs milliseconds, a .yaml a compile. */
static int check_pack(const char *option, const char *path, char *err, size_t err_len)
{
	struct sluice_pack *pack = NULL;
	char why[768];
	if (sluice_pack_load(path, &pack, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "--%s: %s", option, why);
		return -1;
	}
	sluice_pack_free(pack);
	return 0;
}

static int load_inputs(struct bench *b, char *err, size_t err_len)
{
	if (check_pack("pack", b->opt.pack, err, err_len) != 0 ||
	    (b->opt.pack_b != NULL && check_pack("pack-b", b->opt.pack_b, err, err_len) != 0))
		return -1;
	if (corpus_packets_load(b->opt.pcap, &b->corpus, err, err_len) != 0)
		return -1;
	b->corpus_loaded = true;
	if (b->corpus.count == 0) {
		snprintf(err, err_len, "%s holds no packets", b->opt.pcap);
		return -1;
	}
	if (b->opt.histogram_out != NULL) {
		b->histogram_file = fopen(b->opt.histogram_out, "w");
		if (b->histogram_file == NULL) {
			snprintf(err, err_len, "--histogram-out %s: cannot write it: %s",
				 b->opt.histogram_out, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void plan_for_mode(const struct bench *b, struct load_plan *plan)
{
	const struct latency_options *o = &b->opt;
	memset(plan, 0, sizeof(*plan));
	plan->measure_s = o->seconds;
	plan->rate_pps = o->rate_pps;
	plan->settle_limit_s = SETTLE_LIMIT_S;
	plan->start_limit_s = START_LIMIT_S;
	switch (o->mode) {
	case MODE_MAX:
		plan->warmup_s = WARMUP_S;
		break;
	case MODE_LATENCY:
		plan->warmup_s = WARMUP_S;
		plan->record_latency = true;
		break;
	case MODE_SWAP:
		if (o->rate_pps <= 0) {
			plan->probe_s = o->quick ? SWAP_PROBE_QUICK_S : SWAP_PROBE_S;
			plan->probe_fraction = SWAP_PROBE_FRACTION;
		}
		break;
	}
	double total_s = plan->probe_s + plan->warmup_s + plan->measure_s;
	plan->max_packets = (uint64_t)(MAX_PACKETS_PER_S * total_s);
}

static int setup_run(struct bench *b, char *err, size_t err_len)
{
	if (corpus_messages_count(&b->corpus, b->daemon.udp_port, &b->messages, err, err_len) != 0)
		return -1;
	char lcores[640];
	if (ring_harness_eal_init(PROG, 1, b->opt.memory_mb, lcores, sizeof(lcores), err,
				  err_len) != 0)
		return -1;
	b->eal_up = true;
	if (ring_harness_create(&b->harness, &b->corpus, err, err_len) != 0)
		return -1;

	snprintf(b->socket_dir, sizeof(b->socket_dir), "/tmp/sluice-latency-XXXXXX");
	if (mkdtemp(b->socket_dir) == NULL) {
		snprintf(err, err_len, "cannot create a directory for the control socket: %s",
			 strerror(errno));
		b->socket_dir[0] = '\0';
		return -1;
	}
	free(b->daemon.control_socket);
	if (asprintf(&b->daemon.control_socket, "%s/sluice.sock", b->socket_dir) < 0) {
		b->daemon.control_socket = NULL;
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	b->daemon.port_a = b->harness.port_a;
	b->daemon.port_b = b->harness.port_b;

	struct load_plan plan;
	plan_for_mode(b, &plan);
	latency_histogram_init(&b->histogram);
	traffic_load_init(&b->load, &b->harness, b->messages.per_packet, &plan, &b->histogram);

	memset(&b->run, 0, sizeof(b->run));
	b->run.daemon = &b->daemon;
	b->run.load = &b->load;
	/* Injector and collector on a CPU of their own where the machine has
	 * one: then the latency is the worker's and the rings', not a shared
	 * CPU's. */
	int spare = ring_harness_spare_cpu(1);
	b->run.load_own_cpu = spare >= 0;
	b->run.load_cpu = spare >= 0 ? (unsigned)spare : 0;
	if (spare >= 0)
		snprintf(b->placement, sizeof(b->placement),
			 "%s; the load thread (injector, collector) on CPU %d, alone", lcores,
			 spare);
	else
		snprintf(b->placement, sizeof(b->placement),
			 "%s; the load thread (injector, collector) shares the main lcore's CPU"
			 " with the control thread (no CPU left for it)",
			 lcores);
	if (b->opt.mode == MODE_SWAP) {
		b->reloads.socket = b->daemon.control_socket;
		b->reloads.packs[0] = b->opt.pack;
		b->reloads.packs[1] = b->opt.pack_b;
		b->reloads.every_ms = b->opt.swap_every_ms;
		b->reloads.max_reloads =
		    (unsigned)(b->opt.seconds * 1000 / b->opt.swap_every_ms) + 1;
		b->run.reloads = &b->reloads;
	}
	return 0;
}

/* Packets the daemon took in that neither came out nor were removed on purpose. */
static long long lost_packets(const struct bench *b)
{
	const struct daemon_counters *c = &b->run.counters;
	return (long long)b->load.figures.injected - (long long)b->load.figures.received -
	       (long long)c->datagrams_removed - (long long)c->datagrams_dropped_bad;
}

static double per_second(uint64_t count, double seconds)
{
	return seconds > 0 ? (double)count / seconds : 0;
}

static void json_accounting(struct sluice_strbuf *sb, const struct bench *b)
{
	const struct daemon_counters *c = &b->run.counters;
	sluice_strbuf_printf(
	    sb, ",\"injected\":%llu,\"received\":%llu,\"removed\":%llu,\"lost\":%lld",
	    (unsigned long long)b->load.figures.injected,
	    (unsigned long long)b->load.figures.received,
	    (unsigned long long)(c->datagrams_removed + c->datagrams_dropped_bad), lost_packets(b));
}

static void json_latency(struct sluice_strbuf *sb, const struct bench *b)
{
	const struct latency_histogram *h = &b->histogram;
	const struct load_figures *f = &b->load.figures;
	double msgs_per_packet = (double)b->messages.total / (double)b->corpus.count;
	sluice_strbuf_printf(sb,
			     ",\"rate_pps\":%.0f,\"rate_msgs_per_s\":%.0f,\"seconds\":%.3f,"
			     "\"achieved_pps\":%.0f",
			     f->rate_pps, f->rate_pps * msgs_per_packet, f->window_s,
			     per_second(f->window_packets, f->window_s));
	json_accounting(sb, b);
	sluice_strbuf_printf(sb,
			     ",\"latency_us\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,"
			     "\"max\":%.3f,\"samples\":%llu}",
			     latency_histogram_quantile_ns(h, 0.50) / 1e3,
			     latency_histogram_quantile_ns(h, 0.99) / 1e3,
			     latency_histogram_quantile_ns(h, 0.999) / 1e3, (double)h->max_ns / 1e3,
			     (unsigned long long)h->samples);
	sluice_strbuf_printf(sb, ",\"histogram\":");
	if (b->histogram_written)
		sluice_strbuf_json_string(sb, b->opt.histogram_out);
	else
		sluice_strbuf_printf(sb, "null");
}

static void json_swap(struct sluice_strbuf *sb, const struct bench *b)
{
	const struct load_figures *f = &b->load.figures;
	const struct daemon_counters *c = &b->run.counters;
	sluice_strbuf_printf(sb,
			     ",\"seconds\":%.3f,\"swap_every_ms\":%u,\"reloads\":%u,"
			     "\"reload_failures\":%u,\"rate_pps\":%.0f,\"achieved_pps\":%.0f,"
			     "\"msgs_per_s\":%.0f",
			     f->window_s, b->opt.swap_every_ms, b->reloads.done, b->reloads.failed,
			     f->rate_pps, per_second(f->window_packets, f->window_s),
			     per_second(f->window_messages, f->window_s));
	json_accounting(sb, b);
	sluice_strbuf_printf(sb, ",\"worst_stall_ms\":%.3f,\"worst_gap_ms\":%.3f,\"grace_ms\":",
			     c->max_iteration_ms, c->max_gap_ms);
	double median, max;
	if (reload_cycle_grace(&b->reloads, &median, &max))
		sluice_strbuf_printf(sb, "{\"median\":%.3f,\"max\":%.3f}", median, max);
	else
		sluice_strbuf_printf(sb, "null");
}

static int print_result(const struct bench *b, const char *error)
{
	const struct load_figures *f = &b->load.figures;
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_strbuf_printf(&sb, "{\"program\":\"%s\",\"mode\":\"%s\",\"placement\":", PROG,
			     bench_mode_name(b->opt.mode));
	sluice_strbuf_json_string(&sb, b->placement);
	switch (b->opt.mode) {
	case MODE_MAX:
		sluice_strbuf_printf(&sb,
				     ",\"seconds\":%.3f,\"pkts_per_s\":%.0f,\"msgs_per_s\":%.0f",
				     f->window_s, per_second(f->window_packets, f->window_s),
				     per_second(f->window_messages, f->window_s));
		json_accounting(&sb, b);
		break;
	case MODE_LATENCY:
		json_latency(&sb, b);
		break;
	case MODE_SWAP:
		json_swap(&sb, b);
		break;
	}
	sluice_strbuf_printf(&sb, ",\"error\":");
	if (error != NULL)
		sluice_strbuf_json_string(&sb, error);
	else
		sluice_strbuf_printf(&sb, "null");
	sluice_strbuf_printf(&sb, "}\n");
	int rc = sb.failed ? -1 : 0;
	if (rc == 0 && (fwrite(sb.data, 1, sb.len, b->json) != sb.len || fflush(b->json) != 0))
		rc = -1;
	sluice_strbuf_free(&sb);
	return rc;
}

/* What makes the figures unusable, or NULL when they stand. */
static const char *judge(struct bench *b, char *why, size_t why_len)
{
	const struct load_figures *f = &b->load.figures;
	if (b->run.error[0] != '\0')
		return b->run.error;
	long long lost = lost_packets(b);
	const struct daemon_counters *c = &b->run.counters;
	if (lost != 0) {
		snprintf(why, why_len,
			 "%lld packets lost (worker send drops: %llu towards B, %llu towards A)",
			 lost, (unsigned long long)c->tx_dropped[1],
			 (unsigned long long)c->tx_dropped[0]);
		return why;
	}
	if (f->window_packets == 0)
		return "no packet came out of the worker while measuring";
	if (b->opt.mode == MODE_SWAP && b->reloads.failed > 0) {
		snprintf(why, why_len, "%u of %u reloads failed, the last: %s", b->reloads.failed,
			 b->reloads.failed + b->reloads.done, b->reloads.last_error);
		return why;
	}
	if (b->opt.mode == MODE_SWAP && b->reloads.done == 0)
		return "no reload was made while measuring";
	if (b->opt.histogram_out != NULL && !b->histogram_written) {
		snprintf(why, why_len, "writing the histogram to %s failed", b->opt.histogram_out);
		return why;
	}
	return NULL;
}

static void write_histogram(struct bench *b)
{
	if (b->histogram_file == NULL)
		return;
	int rc = latency_histogram_write_cdf(&b->histogram, b->histogram_file);
	if (fclose(b->histogram_file) != 0)
		rc = -1;
	b->histogram_file = NULL;
	b->histogram_written = rc == 0;
}

static void report_progress(const struct bench *b)
{
	const struct load_figures *f = &b->load.figures;
	const struct daemon_counters *c = &b->run.counters;
	fprintf(stderr,
		PROG ": %s: %.2f s measured at %s%.0f pps%s; injected %llu, collected %llu, "
		     "removed %llu by verdicts and %llu as bad input; worker longest pass %.3f ms, "
		     "longest gap %.3f ms\n",
		bench_mode_name(b->opt.mode), f->window_s, f->rate_pps > 0 ? "" : "unpaced, ",
		f->rate_pps > 0 ? f->rate_pps : per_second(f->window_packets, f->window_s),
		f->probe_pps > 0 ? " (a share of the probe's rate)" : "",
		(unsigned long long)f->injected, (unsigned long long)f->received,
		(unsigned long long)c->datagrams_removed, (unsigned long long)c->bad_input,
		c->max_iteration_ms, c->max_gap_ms);
}

static void cleanup(struct bench *b)
{
	if (b->histogram_file != NULL)
		fclose(b->histogram_file);
	if (b->daemon.control_socket != NULL)
		unlink(b->daemon.control_socket);
	if (b->socket_dir[0] != '\0')
		rmdir(b->socket_dir);
	reload_cycle_free(&b->reloads);
	corpus_messages_free(&b->messages);
	if (b->corpus_loaded)
		corpus_packets_free(&b->corpus);
	if (b->daemon_parsed)
		sluice_options_free(&b->daemon);
	latency_options_free(&b->opt);
	if (b->eal_up)
		ring_harness_eal_cleanup();
}

int main(int argc, char **argv)
{
	static struct bench b; /* the histogram is large for a stack */
	char err[1024];

	if (latency_options_parse(argc, argv, &b.opt, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		latency_options_free(&b.opt);
		return 2;
	}
	if (b.opt.help) {
		latency_options_free(&b.opt);
		return 0;
	}
	if (parse_daemon_options(&b, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": daemon options: %s\n", err);
		cleanup(&b);
		return 2;
	}
	if (b.daemon.help) {
		sluice_options_usage(stdout, "sluice");
		cleanup(&b);
		return 0;
	}
	if (load_inputs(&b, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		cleanup(&b);
		return 2;
	}

	/* Only the result goes to the real stdout. */
	fflush(stdout);
	int json_fd = dup(STDOUT_FILENO);
	b.json = json_fd >= 0 ? fdopen(json_fd, "w") : NULL;
	if (b.json == NULL || dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
		fprintf(stderr, PROG ": cannot set stdout aside for the result: %s\n",
			strerror(errno));
		cleanup(&b);
		return 1;
	}

	if (setup_run(&b, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		cleanup(&b);
		return 1;
	}
	fprintf(stderr,
		PROG ": %s mode, %u corpus packets (%u with messages, %llu messages), %.1f s\n",
		bench_mode_name(b.opt.mode), b.corpus.count, b.messages.message_packets,
		(unsigned long long)b.messages.total, b.opt.seconds);

	bench_run(&b.run);
	report_progress(&b);
	write_histogram(&b);
	char why[1024];
	const char *failure = judge(&b, why, sizeof(why));
	if (failure != NULL)
		fprintf(stderr, PROG ": measurement failed: %s\n", failure);
	int rc = failure != NULL ? 1 : 0;
	if (print_result(&b, failure) != 0) {
		fprintf(stderr, PROG ": cannot write the result to stdout\n");
		rc = 1;
	}
	fclose(b.json);
	cleanup(&b);
	return rc;
}
