/* sluice-event-bench: the event sink's rate on one core (issue 12, goal 2).
 *
 * Match events for the rules of a pack (rule ids, categories and actions as a
 * real pack has them; message ids, offsets and timestamps varied) are pushed
 * into a worker's event ring and drained by the sink into a file (default
 * /dev/null), as the control thread does, ring by ring. Also timed: the
 * stateless formatter (sluice_event_format(), which escapes every string of
 * every line) on the same events, as the figure without the sink's caches.
 * Medians of interleaved rounds. Prints one JSON object on stdout.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_options.h"
#include "clock.h"
#include "event_ring.h"
#include "event_sink.h"
#include "median.h"
#include "pack_source.h"

struct options {
	const char *pack;
	const char *out;
	unsigned events;
	unsigned rounds;
};

static const struct cli_option options[] = {
    {.name = "pack",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, pack),
     .value_name = "FILE",
     .help = "rule file (.yaml) or pack whose rules the events name",
     .required = true},
    {.name = "out",
     .kind = CLI_STRING,
     CLI_FIELD(struct options, out),
     .value_name = "FILE",
     .help = "where the sink writes (default /dev/null)"},
    {.name = "events",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, events),
     .min = 1000,
     .max = 100000000,
     .value_name = "N",
     .help = "events per round (default 2000000)"},
    {.name = "rounds",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, rounds),
     .min = 1,
     .max = 99,
     .value_name = "N",
     .help = "timed rounds, median reported (default 5)"},
};

static const struct cli_program program = {
    .name = "sluice-event-bench",
    .usage_head = "usage: sluice-event-bench --pack PACK [--out FILE] [--events N] [--rounds N]\n\n"
		  "Events formatted and written by the event sink, one core.\n\n",
    .usage_tail = "\nPrints one JSON object on stdout.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 20,
};

#define RING 4096

static struct sluice_event event_at(const struct sluice_pack *pack, uint64_t i, uint64_t hz)
{
	struct sluice_event ev = {
	    .tsc = 1000000 + i * (hz / 1000000 + 1), /* a microsecond apart */
	    .msg_id = 1000000 + i,
	    .channel_id = 1 + i % 97,
	    .user_id = 5000 + i % 1013,
	    .pack = pack,
	    .rule = (uint32_t)(i % pack->rule_count),
	    .from = (uint32_t)(i % 40),
	    .to = (uint32_t)(i % 40) + 11,
	    .worker = (uint16_t)(i % 2),
	    .kind = SLUICE_EVENT_MATCH,
	    .verdict = (uint8_t)(1 + i % 3),
	};
	return ev;
}

int main(int argc, char **argv)
{
	struct options o = {.out = "/dev/null", .events = 2000000, .rounds = 5};
	char err[512];
	int status = cli_parse_main(&program, argc, argv, &o, NULL);
	if (status != CLI_MAIN_RUN)
		return status;
	struct sluice_pack *pack;
	if (sluice_pack_load(o.pack, &pack, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-event-bench: %s\n", err);
		return 1;
	}
	struct sluice_tsc_clock clock = {
	    .tsc0 = 0, .ns0 = 1764927000000000000ull, .hz = 2000000000};
	struct sluice_event_ring *ring = sluice_event_ring_create(RING);
	struct sluice_event_sink sink;
	if (ring == NULL || sluice_event_sink_open(&sink, o.out, &clock, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-event-bench: %s\n", ring ? err : "out of memory");
		return 1;
	}
	double sink_s[99], format_s[99];
	uint64_t bytes = 0, sink_bytes = 0;
	char line[2048];
	for (unsigned r = 0; r < o.rounds; r++) {
		/* The sink: pushed a ring at a time, drained as the control
		 * thread drains. Pushing is the workers' cost, outside the
		 * time. */
		double total = 0;
		long before = ftell(sink.out);
		for (uint64_t i = 0; i < o.events;) {
			uint64_t n = o.events - i < RING ? o.events - i : RING;
			for (uint64_t k = 0; k < n; k++) {
				struct sluice_event ev = event_at(pack, i + k, clock.hz);
				sluice_event_ring_push(ring, &ev);
			}
			double t0 = sluice_mono_s();
			sluice_event_sink_drain(&sink, ring, (unsigned)n);
			total += sluice_mono_s() - t0;
			i += n;
		}
		double t0 = sluice_mono_s();
		sluice_event_sink_flush(&sink);
		sink_s[r] = total + (sluice_mono_s() - t0);
		long after = ftell(sink.out);
		if (before >= 0 && after >= before)
			sink_bytes = (uint64_t)(after - before);
		/* The stateless formatter on the same events, not written. */
		t0 = sluice_mono_s();
		bytes = 0;
		for (uint64_t i = 0; i < o.events; i++) {
			struct sluice_event ev = event_at(pack, i, clock.hz);
			bytes += sluice_event_format(&ev, NULL, &clock, line, sizeof(line));
		}
		format_s[r] = sluice_mono_s() - t0;
	}
	double sink_med = sluice_median(sink_s, o.rounds),
	       fmt_med = sluice_median(format_s, o.rounds);
	printf("{\"events\":%u,\"rounds\":%u,\"pack\":{\"name\":\"%s\",\"rules\":%zu},"
	       "\"out\":\"%s\",\"sink\":{\"events_per_s\":%.0f,\"ns_per_event\":%.1f,"
	       "\"mbyte_per_s\":%.1f,\"written\":%" PRIu64 ",\"write_errors\":%" PRIu64 "},"
	       "\"stateless_format\":{\"events_per_s\":%.0f,\"ns_per_event\":%.1f},"
	       "\"mean_line_bytes\":%.1f}\n",
	       o.events, o.rounds, pack->name, pack->rule_count, o.out, o.events / sink_med,
	       sink_med * 1e9 / o.events,
	       sink_bytes ? (double)sink_bytes / sink_med / 1e6 : (double)bytes / sink_med / 1e6,
	       sink.written, sink.write_errors, o.events / fmt_med, fmt_med * 1e9 / o.events,
	       (double)bytes / o.events);
	sluice_event_sink_close(&sink);
	sluice_event_ring_free(ring);
	sluice_pack_free(pack);
	return sink.write_errors ? 1 : 0;
}
