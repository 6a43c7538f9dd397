/* sluice-kernel-bench: Sluice's scan behind ordinary UDP sockets, to show what
 * kernel bypass buys.
 *
 * The load is the UDP payloads of a capture's datagrams to the message port. A
 * load thread (CPU 0) sends them over loopback to a scanner thread (CPU 1),
 * which runs the DPDK worker's own per-burst code on them and sends what it
 * forwards to a sink the load thread reads (scanner.h, load_generator.h).
 * Two runs: io_only (receive and send, nothing else: the kernel I/O ceiling)
 * and scan (the whole per-packet work). Each is measured after a warm-up.
 *
 * Output: one JSON object on stdout, progress on stderr. Counts in a run
 * object (datagrams, messages, payload_bytes, removed, flagged, masked,
 * blocked) are those of the measured interval; lost covers the whole run
 * (sent - received at the sink - removed by the scanner). The window keeps
 * it 0; a loss is reported (JSON and a warning), not failed, since dropping
 * datagrams is what a kernel path under pressure does.
 * Exit 0: both runs measured; 1: a measurement failed (a thread's system call
 * failed, the scanner forwarded bytes that are not frames, a bound was hit);
 * 2: usage or unreadable inputs.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corpus_reader.h"
#include "cpu_pin.h"
#include "generation.h"
#include "kernel_options.h"
#include "load_generator.h"
#include "loopback_path.h"
#include "message_decoder.h"
#include "message_payloads.h"
#include "pack.h"
#include "pack_source.h"
#include "run_shared.h"
#include "scanner.h"
#include "strbuf.h"

#define DRAIN_SECONDS	 1.0
#define SOCKET_BUFFER	 (8 << 20)
#define RECV_TIMEOUT_MS	 20
#define EVENT_RING_SLOTS 65536 /* the daemon's default --event-ring */
#define SCANNER_CPU	 1
#define LOAD_CPU	 0
/* No kernel path comes near this many datagrams a second: a bound on sending
 * that only a runaway loop could reach. */
#define MAX_DATAGRAMS_PER_S 50e6

/* What the program needs for both runs. */
struct bench_setup {
	const struct kernel_options *opt;
	const struct message_payloads *payloads;
	const struct sluice_generation *gen;
	const struct sluice_message_decoder *decoder;
	int scanner_cpu, load_cpu;
};

struct run_figures {
	const char *name;
	bool process;
	bool done; /* measured (possibly with losses) */
	uint32_t window;
	double seconds;
	uint64_t datagrams, messages, payload_bytes;
	uint64_t removed, flagged, masked, blocked;
	uint64_t sent, received, lost;
	uint64_t events, events_dropped, misordered, truncated, send_failures;
	uint64_t sink_unframed;
	uint64_t worker_messages; /* whole run, as the worker code counted them (scan) */
	uint64_t run_messages;	  /* whole run, as this program counted them */
	char err[300];
};

/* The window, lowered to what a receive queue surely holds. Returns 0 when
 * not even one batch fits. */
static uint32_t fit_window(const struct bench_setup *b, const struct loopback_path *path)
{
	uint32_t capacity = loopback_path_queue_capacity(path, b->payloads->max_len);
	uint32_t window = b->opt->window < capacity ? b->opt->window : capacity;
	if (window < LOAD_BATCH)
		return 0;
	if (window < b->opt->window)
		fprintf(stderr,
			PROGRAM ": window lowered from %u to %u datagrams: receive buffers of "
				"%d bytes hold no more of the largest payload (%u bytes)\n",
			b->opt->window, window, path->rcvbuf, b->payloads->max_len);
	return window;
}

static void take_figures(struct run_figures *fig, const struct load_generator *g,
			 const struct scanner *s)
{
	const uint64_t *a = g->at_start, *z = g->at_end;
	fig->seconds = g->measured_s;
	fig->datagrams = z[RUN_DATAGRAMS] - a[RUN_DATAGRAMS];
	fig->messages = z[RUN_MESSAGES] - a[RUN_MESSAGES];
	fig->payload_bytes = z[RUN_PAYLOAD_BYTES] - a[RUN_PAYLOAD_BYTES];
	fig->removed = z[RUN_REMOVED] - a[RUN_REMOVED];
	fig->flagged = z[RUN_FLAGGED] - a[RUN_FLAGGED];
	fig->masked = z[RUN_MASKED] - a[RUN_MASKED];
	fig->blocked = z[RUN_BLOCKED] - a[RUN_BLOCKED];
	/* Whole-run figures, from the threads' final counts. */
	fig->sent = g->sent;
	fig->received = g->received;
	uint64_t accounted = g->received + s->value[RUN_REMOVED];
	fig->lost = g->sent > accounted ? g->sent - accounted : 0;
	fig->events_dropped = s->stats.events_dropped;
	fig->misordered = s->value[RUN_MISORDERED];
	fig->truncated = s->value[RUN_TRUNCATED];
	fig->send_failures = s->send_failures;
	fig->sink_unframed = g->sink_unframed;
	fig->run_messages = s->value[RUN_MESSAGES];
	fig->worker_messages = s->stats.messages;
}

/* What one run holds while it runs; NULL / false: not set up (yet). */
struct run_parts {
	struct loopback_path path;
	struct run_shared shared;
	bool shared_ready;
	struct sluice_event_ring *events;
	struct scanner *scanner; /* initialised: scanner_free() owes it */
	struct load_generator *load;
};

/* Sockets, shared state, the event ring, and the two threads' arguments.
 * Returns -1 with fig->err set; run_release() undoes what was set up either
 * way. */
static int run_prepare(const struct bench_setup *b, struct run_figures *fig, struct run_parts *r)
{
	const struct kernel_options *opt = b->opt;
	char err[256];

	if (loopback_path_open(&r->path, SOCKET_BUFFER, RECV_TIMEOUT_MS, err, sizeof(err)) != 0) {
		snprintf(fig->err, sizeof(fig->err), "%s: %s", fig->name, err);
		return -1;
	}
	if (run_shared_init(&r->shared, err, sizeof(err)) != 0) {
		snprintf(fig->err, sizeof(fig->err), "%s: %s", fig->name, err);
		return -1;
	}
	r->shared_ready = true;
	fig->window = fit_window(b, &r->path);
	if (fig->window == 0) {
		snprintf(fig->err, sizeof(fig->err),
			 "%s: socket receive buffers of %d bytes cannot hold %d datagrams of %u "
			 "bytes; raise net.core.rmem_max",
			 fig->name, r->path.rcvbuf, LOAD_BATCH, b->payloads->max_len);
		return -1;
	}
	if (fig->process && (r->events = sluice_event_ring_create(EVENT_RING_SLOTS)) == NULL) {
		snprintf(fig->err, sizeof(fig->err), "%s: out of memory for the event ring",
			 fig->name);
		return -1;
	}
	struct scanner *scanner = malloc(sizeof(*scanner));
	r->load = calloc(1, sizeof(*r->load));
	if (scanner == NULL || r->load == NULL) {
		free(scanner);
		snprintf(fig->err, sizeof(fig->err), "%s: out of memory", fig->name);
		return -1;
	}
	double run_s = WARMUP_SECONDS + opt->seconds;
	if (scanner_init(scanner, r->path.scanner_rx, r->path.scanner_tx, b->payloads, fig->process,
			 b->decoder, opt->scan_mode, b->gen, r->events, opt->udp_port,
			 b->scanner_cpu, run_s + DRAIN_SECONDS + 5.0, &r->shared, err,
			 sizeof(err)) != 0) {
		snprintf(fig->err, sizeof(fig->err), "%s: %s", fig->name, err);
		free(scanner);
		return -1;
	}
	r->scanner = scanner;
	struct load_generator *load = r->load;
	load->tx_fd = r->path.load_tx;
	load->sink_fd = r->path.sink;
	load->payloads = b->payloads;
	load->window = fig->window;
	load->warmup_s = WARMUP_SECONDS;
	load->measure_s = opt->seconds;
	load->drain_s = DRAIN_SECONDS;
	load->max_sent = (uint64_t)(run_s * MAX_DATAGRAMS_PER_S);
	load->cpu = b->load_cpu;
	load->shared = &r->shared;
	load->events = r->events;
	return 0;
}

/* The scanner and load threads, from start to join; then the events left in
 * the ring. Returns -1 with fig->err set if a thread did not start. */
static int run_threads(const struct bench_setup *b, struct run_figures *fig, struct run_parts *r)
{
	fprintf(stderr, PROGRAM ": %s: %.1f s warm-up + %.1f s, window %u ...\n", fig->name,
		WARMUP_SECONDS, b->opt->seconds, fig->window);
	pthread_t scanner_thread, load_thread;
	int rc = pthread_create(&scanner_thread, NULL, scanner_main, r->scanner);
	if (rc != 0) {
		snprintf(fig->err, sizeof(fig->err), "%s: starting the scanner thread: %s",
			 fig->name, strerror(rc));
		return -1;
	}
	rc = pthread_create(&load_thread, NULL, load_generator_main, r->load);
	if (rc == 0)
		pthread_join(load_thread, NULL);
	run_shared_set_flag(&r->shared.stop);
	pthread_join(scanner_thread, NULL);
	if (rc != 0) {
		snprintf(fig->err, sizeof(fig->err), "%s: starting the load thread: %s", fig->name,
			 strerror(rc));
		return -1;
	}
	if (r->events != NULL)
		r->load->events_drained += load_generator_drain_events(r->events);
	fig->events = r->load->events_drained;
	return 0;
}

/* The run's figures, if both threads measured; what they say on stderr. */
static void run_judge(struct run_figures *fig, const struct run_parts *r)
{
	const struct scanner *scanner = r->scanner;
	if (scanner->failed) {
		snprintf(fig->err, sizeof(fig->err), "%s: %s", fig->name, scanner->err);
		return;
	}
	if (r->load->failed || !r->load->measured) {
		snprintf(fig->err, sizeof(fig->err), "%s: %s", fig->name, r->load->err);
		return;
	}
	take_figures(fig, r->load, scanner);
	fig->done = true;
	if (fig->process && fig->sink_unframed > 0)
		snprintf(fig->err, sizeof(fig->err),
			 "%s: %" PRIu64 " forwarded datagrams do not start with a wire-format "
			 "frame: the scanner sent the wrong bytes",
			 fig->name, fig->sink_unframed);
	else if (fig->lost > 0)
		fprintf(stderr,
			PROGRAM ": %s: warning: %" PRIu64 " of %" PRIu64 " datagrams lost (%" PRIu64
				" refused by sendmmsg): a socket queue overflowed; a smaller "
				"--window avoids that\n",
			fig->name, fig->lost, fig->sent, fig->send_failures);
	fprintf(stderr,
		PROGRAM ": %s: %.3f s, %" PRIu64 " datagrams, %" PRIu64 " messages; whole run: "
			"sent %" PRIu64 ", at the sink %" PRIu64 ", removed %" PRIu64
			", lost %" PRIu64 ", events %" PRIu64 " (%" PRIu64
			" dropped), misordered %" PRIu64 "\n",
		fig->name, fig->seconds, fig->datagrams, fig->messages, fig->sent, fig->received,
		scanner->value[RUN_REMOVED], fig->lost, fig->events, fig->events_dropped,
		fig->misordered);
	if (fig->process)
		fprintf(stderr,
			PROGRAM ": %s: whole run: %" PRIu64 " messages in the datagrams handled, "
				"%" PRIu64 " scanned by the worker code\n",
			fig->name, fig->run_messages, fig->worker_messages);
	else if (fig->sink_unframed > 0)
		fprintf(stderr,
			PROGRAM ": %s: warning: %" PRIu64 " datagrams of the load do not start "
				"with a frame header\n",
			fig->name, fig->sink_unframed);
	if (fig->misordered > 0 || fig->truncated > 0)
		fprintf(stderr,
			PROGRAM ": %s: warning: %" PRIu64 " datagrams out of order and %" PRIu64
				" truncated: message counts are approximate\n",
			fig->name, fig->misordered, fig->truncated);
}

static void run_release(struct run_parts *r)
{
	if (r->scanner != NULL) {
		scanner_free(r->scanner);
		free(r->scanner);
	}
	free(r->load);
	sluice_event_ring_free(r->events);
	if (r->shared_ready)
		run_shared_close(&r->shared);
	loopback_path_close(&r->path);
}

/* One run; fig->done says whether it was measured, fig->err why not. */
static void run_once(const struct bench_setup *b, struct run_figures *fig)
{
	struct run_parts r = {0};
	if (run_prepare(b, fig, &r) == 0 && run_threads(b, fig, &r) == 0)
		run_judge(fig, &r);
	run_release(&r);
}

static void json_run(struct sluice_strbuf *sb, const struct run_figures *f,
		     enum sluice_scan_mode mode)
{
	double s = f->seconds > 0 ? f->seconds : 1;
	sluice_strbuf_printf(sb,
			     "\"%s\":{\"seconds\":%.3f,\"datagrams\":%" PRIu64
			     ",\"messages\":%" PRIu64 ",\"payload_bytes\":%" PRIu64
			     ",\"datagrams_per_s\":%.0f,\"msgs_per_s\":%.0f,\"gbit_per_s\":%.4f"
			     ",\"lost\":%" PRIu64 ",\"window\":%u",
			     f->name, f->seconds, f->datagrams, f->messages, f->payload_bytes,
			     (double)f->datagrams / s, (double)f->messages / s,
			     (double)f->payload_bytes * 8 / s / 1e9, f->lost, f->window);
	if (f->process)
		sluice_strbuf_printf(sb,
				     ",\"removed\":%" PRIu64 ",\"flagged\":%" PRIu64
				     ",\"masked\":%" PRIu64 ",\"blocked\":%" PRIu64
				     ",\"scan_mode\":\"%s\"",
				     f->removed, f->flagged, f->masked, f->blocked,
				     mode == SLUICE_SCAN_BATCH ? "batch" : "message");
	sluice_strbuf_printf(sb, "}");
}

static int print_result(const struct kernel_options *opt, const struct run_figures runs[],
			size_t count, const char *error)
{
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_strbuf_printf(&sb, "{\"program\":\"" PROGRAM "\",\"pack\":");
	sluice_strbuf_json_string(&sb, opt->pack);
	sluice_strbuf_printf(&sb, ",\"pcap\":");
	sluice_strbuf_json_string(&sb, opt->pcap);
	sluice_strbuf_printf(&sb, ",\"runs\":{");
	bool first = true;
	for (size_t i = 0; i < count; i++) {
		if (!runs[i].done)
			continue;
		if (!first)
			sluice_strbuf_printf(&sb, ",");
		json_run(&sb, &runs[i], opt->scan_mode);
		first = false;
	}
	sluice_strbuf_printf(&sb, "}");
	if (error != NULL) {
		sluice_strbuf_printf(&sb, ",\"error\":");
		sluice_strbuf_json_string(&sb, error);
	}
	sluice_strbuf_printf(&sb, "}\n");
	int rc = 0;
	if (sb.failed || fputs(sb.data, stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, PROGRAM ": writing the result failed\n");
		rc = -1;
	}
	sluice_strbuf_free(&sb);
	return rc;
}

int main(int argc, char **argv)
{
	struct kernel_options opt;
	int status;
	if (!kernel_options_parse(argc, argv, &opt, &status))
		return status;

	char err[512];
	struct corpus_packets packets;
	if (corpus_packets_load(opt.pcap, &packets, err, sizeof(err)) != 0) {
		fprintf(stderr, PROGRAM ": %s\n", err);
		return 2;
	}
	struct message_payloads payloads;
	if (message_payloads_collect(&packets, opt.pcap, opt.udp_port, &payloads, err,
				     sizeof(err)) != 0) {
		fprintf(stderr, PROGRAM ": %s\n", err);
		corpus_packets_free(&packets);
		return 2;
	}
	fprintf(stderr,
		PROGRAM ": %s: %u message datagrams (%" PRIu64 " messages, %" PRIu64
			" payload bytes, largest %u); skipped %u other and %u bad packets\n",
		opt.pcap, payloads.count, payloads.frames_total, payloads.bytes, payloads.max_len,
		payloads.other, payloads.bad);

	struct sluice_pack *pack = NULL;
	if (sluice_pack_load(opt.pack, &pack, err, sizeof(err)) != 0) {
		fprintf(stderr, PROGRAM ": %s\n", err);
		message_payloads_free(&payloads);
		corpus_packets_free(&packets);
		return 2;
	}
	status = 0;
	struct sluice_generation *gen = sluice_generation_create(pack, 1, err, sizeof(err));
	if (gen == NULL) {
		fprintf(stderr, PROGRAM ": %s: %s\n", opt.pack, err);
		status = 1;
		goto out;
	}
	fprintf(stderr, PROGRAM ": pack %s %s: %zu rules\n", pack->name, pack->version,
		pack->rule_count);

	struct sluice_message_decoder decoder;
	sluice_udp_frame_decoder_init(&decoder, opt.udp_port);
	struct bench_setup setup = {
	    .opt = &opt,
	    .payloads = &payloads,
	    .gen = gen,
	    .decoder = &decoder,
	    .scanner_cpu = cpu_pin_allowed(SCANNER_CPU) ? SCANNER_CPU : -1,
	    .load_cpu = cpu_pin_allowed(LOAD_CPU) ? LOAD_CPU : -1,
	};
	if (setup.scanner_cpu < 0)
		fprintf(stderr, PROGRAM ": CPU %d is not available: the scanner runs unpinned\n",
			SCANNER_CPU);
	if (setup.load_cpu < 0)
		fprintf(stderr, PROGRAM ": CPU %d is not available: the load runs unpinned\n",
			LOAD_CPU);

	struct run_figures runs[2] = {{.name = "io_only", .process = false},
				      {.name = "scan", .process = true}};
	const char *error = NULL;
	for (size_t i = 0; i < 2; i++) {
		run_once(&setup, &runs[i]);
		if (runs[i].err[0] != '\0') {
			fprintf(stderr, PROGRAM ": %s\n", runs[i].err);
			if (error == NULL)
				error = runs[i].err;
		}
	}
	if (print_result(&opt, runs, 2, error) != 0 || error != NULL)
		status = 1;
	sluice_generation_free(gen);
out:
	sluice_pack_free(pack);
	message_payloads_free(&payloads);
	corpus_packets_free(&packets);
	return status;
}
