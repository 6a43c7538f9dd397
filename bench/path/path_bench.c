/* sluice-path-bench: what Sluice itself costs per packet of a capture, on one
 * core, without DPDK (issue 12, goal 1).
 *
 * The packets of the capture go through the worker's own burst code
 * (sluice_burst_process_from(), DPDK-free: classification, frames, the UTF-8
 * check and the fold, the batch scan with the main pack and, with --urgent,
 * the urgent one, verdicts, checksums), a burst at a time. Each burst is
 * first copied into fresh 64-byte-aligned buffers, as the pcap PMD copies
 * every packet into a fresh mbuf, so the path reads what was just written,
 * as in the daemon; the same copies are then timed alone, and their time is
 * taken off. What is left is Sluice's part of the daemon's cost per packet,
 * the part the packet_path stage compares with dpdk-testpmd's whole cost per
 * packet: with a pack that never matches, the whole path reaches 0.5x
 * testpmd's rate only when this figure is at most testpmd's nanoseconds per
 * packet.
 *
 * Without the PMD, the noise of the port and of the main lcore is gone, so
 * two builds can be told apart by a few percent (run both, alternately).
 * Events are drained after every burst and discarded. Prints one JSON object
 * on stdout; medians of --rounds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "clock.h"
#include "corpus_reader.h"
#include "datagram_process.h"
#include "event_ring.h"
#include "generation.h"
#include "median.h"
#include "pack_source.h"
#include "wire_format.h"

/* An mbuf's data room, and where its data starts (RTE_PKTMBUF_HEADROOM). */
#define ROOM	 2176
#define HEADROOM 128
/* The daemon's largest --burst. */
#define MAX_BURST 256

struct options {
	const char *pack, *urgent, *capture;
	double seconds;
	unsigned rounds, burst, udp_port;
};

static const struct cli_option options[] = {
    {.name = "pack",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, pack),
     .value_name = "FILE",
     .help = "the main slot's pack (.pack or .yaml)",
     .required = true},
    {.name = "urgent",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, urgent),
     .value_name = "FILE",
     .help = "a pack for the urgent slot beside it (default none)"},
    {.name = "capture",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, capture),
     .value_name = "PCAP",
     .help = "the packets (Ethernet pcap), e.g. bench/run-bench's corpus.pcap",
     .required = true},
    {.name = "seconds",
     .kind = CLI_DOUBLE,
     CLI_FIELD(struct options, seconds),
     .low = 0,
     .high = 600,
     .value_name = "S",
     .help = "time through the path per round (default 2)"},
    {.name = "rounds",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, rounds),
     .min = 1,
     .max = 99,
     .value_name = "N",
     .help = "rounds, median reported (default 5)"},
    {.name = "burst",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, burst),
     .min = 1,
     .max = MAX_BURST,
     .value_name = "N",
     .help = "packets per burst (default 32, as the daemon)"},
    {.name = "udp-port",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, udp_port),
     .min = 1,
     .max = 65535,
     .value_name = "N",
     .help = "the frame format's port (default 7700)"},
};

static const struct cli_program program = {
    .name = "sluice-path-bench",
    .usage_head = "usage: sluice-path-bench --pack PACK --capture PCAP [options]\n\n"
		  "Sluice's own nanoseconds per packet of the capture, one core, no DPDK.\n\n",
    .usage_tail = "\nPrints one JSON object on stdout.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 20,
};

struct bench {
	const struct corpus_packets *capture;
	unsigned burst;
	uint8_t *rooms; /* burst buffers of ROOM bytes */
	uint8_t *pkts[MAX_BURST];
	uint32_t lens[MAX_BURST];
	uint32_t next; /* the capture's next packet */
};

/* The next burst of the capture, wrapping, copied into the rooms. */
static void copy_burst(struct bench *b)
{
	const struct corpus_packets *c = b->capture;
	for (unsigned k = 0; k < b->burst; k++) {
		uint32_t i = b->next;
		b->next = i + 1 == c->count ? 0 : i + 1;
		b->pkts[k] = b->rooms + (size_t)k * ROOM + HEADROOM;
		b->lens[k] = c->len[i];
		memcpy(b->pkts[k], c->data + c->offset[i], c->len[i]);
	}
}

/* Bursts through the path for about seconds; returns how many. */
static uint64_t run_path(struct bench *b, struct sluice_packet_ctx *ctx,
			 const struct sluice_generation *gen, struct sluice_event_ring *ring,
			 double seconds, double *elapsed)
{
	enum sluice_packet_fate fates[MAX_BURST];
	struct sluice_event ev;
	uint64_t bursts = 0;
	double t0 = sluice_mono_s(), t = t0;
	while (t - t0 < seconds) {
		/* The clock is read every 64 bursts, not every one. */
		for (unsigned r = 0; r < 64; r++, bursts++) {
			copy_burst(b);
			sluice_packet_ctx_bind(ctx, gen, bursts);
			sluice_burst_process(ctx, b->pkts, b->lens, NULL, (uint16_t)b->burst,
					     fates);
			while (sluice_event_ring_pop(ring, &ev))
				;
		}
		t = sluice_mono_s();
	}
	*elapsed = t - t0;
	return bursts;
}

/* The same bursts' copies alone. */
static double time_copies(struct bench *b, uint64_t bursts)
{
	double t0 = sluice_mono_s();
	for (uint64_t r = 0; r < bursts; r++) {
		copy_burst(b);
		/* The copies must happen: the compiler sees no reader. */
		__asm__ volatile("" : : "r"(b->rooms) : "memory");
	}
	return sluice_mono_s() - t0;
}

static int add_urgent(struct sluice_generation *gen, const char *path, char *err, size_t err_len)
{
	struct sluice_pack *urgent;
	hs_scratch_t *proto = NULL;
	size_t bytes = 0;
	if (sluice_pack_load(path, &urgent, err, err_len) != 0 ||
	    sluice_scratch_prototype(urgent, &proto, &bytes, err, err_len) != 0)
		return -1;
	struct sluice_scratch_set *set = sluice_scratch_set_create(urgent, proto, 1, err, err_len);
	if (set == NULL)
		return -1;
	return sluice_generation_set_slot(gen, SLUICE_SLOT_URGENT, urgent, set, 0, err, err_len);
}

int main(int argc, char **argv)
{
	struct options o = {
	    .seconds = 2, .rounds = 5, .burst = 32, .udp_port = SLUICE_WIRE_DEFAULT_PORT};
	char err[1024];
	int status = cli_parse_main(&program, argc, argv, &o, NULL);
	if (status != CLI_MAIN_RUN)
		return status;
	struct sluice_pack *pack;
	struct corpus_packets capture;
	if (sluice_pack_load(o.pack, &pack, err, sizeof(err)) != 0 ||
	    corpus_packets_load(o.capture, &capture, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-path-bench: %s\n", err);
		return 2;
	}
	if (capture.count == 0) {
		fprintf(stderr, "sluice-path-bench: %s: no packet\n", o.capture);
		return 2;
	}
	struct sluice_generation *gen = sluice_generation_create(pack, 1, err, sizeof(err));
	if (gen == NULL || (o.urgent != NULL && add_urgent(gen, o.urgent, err, sizeof(err)) != 0)) {
		fprintf(stderr, "sluice-path-bench: %s\n", err);
		return 1;
	}

	struct sluice_message_decoder dec;
	struct sluice_worker_stats stats;
	struct sluice_packet_ctx ctx;
	struct sluice_event_ring *ring = sluice_event_ring_create(1u << 16);
	struct bench b = {.capture = &capture, .burst = o.burst};
	b.rooms = aligned_alloc(64, (size_t)o.burst * ROOM);
	if (ring == NULL || b.rooms == NULL) {
		fprintf(stderr, "sluice-path-bench: out of memory\n");
		return 1;
	}
	memset(&stats, 0, sizeof(stats));
	sluice_udp_frame_decoder_init(&dec, (uint16_t)o.udp_port);
	sluice_packet_ctx_init(&ctx, 0, &dec, &stats, ring);
	if (sluice_packet_ctx_set_scan_mode(&ctx, SLUICE_SCAN_BATCH) != 0) {
		fprintf(stderr, "sluice-path-bench: out of memory for the batches\n");
		return 1;
	}

	/* One pass over the capture first: caches, tables and branch history
	 * as a running worker has them. */
	double warm;
	run_path(&b, &ctx, gen, ring, 0.2, &warm);
	memset(&stats, 0, sizeof(stats));
	double own[99], copy[99];
	uint64_t packets = 0;
	for (unsigned r = 0; r < o.rounds; r++) {
		double whole;
		uint64_t bursts = run_path(&b, &ctx, gen, ring, o.seconds, &whole);
		double copies = time_copies(&b, bursts);
		double n = (double)bursts * o.burst;
		packets += (uint64_t)n;
		own[r] = (whole - copies) / n * 1e9;
		copy[r] = copies / n * 1e9;
		fprintf(stderr, "path-bench: round %u: %.1f ns/packet (copy %.1f)\n", r + 1, own[r],
			copy[r]);
	}
	double own_ns = sluice_median(own, o.rounds);
	printf("{\"capture_packets\":%u,\"burst\":%u,\"rounds\":%u,\"packets\":%" PRIu64
	       ",\"own_ns_per_packet\":{\"median\":%.1f,\"all\":[",
	       capture.count, o.burst, o.rounds, packets, own_ns);
	for (unsigned r = 0; r < o.rounds; r++)
		printf("%s%.1f", r ? "," : "", own[r]);
	printf("]},\"copy_ns_per_packet\":%.1f,\"own_packets_per_s\":%.0f,"
	       "\"messages_per_packet\":%.3f,\"share_other\":%.4f,\"matched_messages\":%" PRIu64
	       ",\"events_dropped\":%" PRIu64 "}\n",
	       sluice_median(copy, o.rounds), 1e9 / own_ns,
	       packets ? (double)stats.messages / (double)packets : 0.0,
	       packets ? (double)stats.other_forwarded / (double)packets : 0.0,
	       stats.messages - stats.verdicts[SLUICE_ACTION_NONE], stats.events_dropped);
	sluice_packet_ctx_fini(&ctx);
	const struct sluice_pack *urgent = gen->slot[SLUICE_SLOT_URGENT].pack;
	sluice_generation_free(gen);
	sluice_pack_free((struct sluice_pack *)urgent);
	sluice_pack_free(pack);
	sluice_event_ring_free(ring);
	free(b.rooms);
	corpus_packets_free(&capture);
	return 0;
}
