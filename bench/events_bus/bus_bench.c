/* sluice-event-bus-bench: events per second to NATS JetStream (issue 14).
 *
 * A worker's ring is filled with --events match events, then drained as the
 * control thread does it: the sink formats each line (no file: --events
 * none) and hands it to the bus. Three figures per round, each from a fresh
 * nats-server with JetStream (a one-node stream on loopback, the store in a
 * temporary directory):
 *   direct: the bus up, no spool; from the first event drained to the last
 *           one acknowledged by the stream;
 *   spool_write: the bus down; events drained into the spool file;
 *   spool_drain: the bus back; from the moment it is connected and the
 *           stream found until the spool's last event is acknowledged.
 * Medians of the rounds. Prints one JSON object on stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_options.h"
#include "clock.h"
#include "event_bus.h"
#include "event_ring.h"
#include "event_sink.h"
#include "median.h"
#include "nats_server.h"
#include "pack.h"
#include "rule_kind.h"

struct options {
	unsigned events;
	unsigned rounds;
	unsigned pending;
};

static const struct cli_option options[] = {
    {.name = "events",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, events),
     .min = 1000,
     .max = 4000000,
     .value_name = "N",
     .help = "events per round (default 200000)"},
    {.name = "rounds",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, rounds),
     .min = 1,
     .max = 99,
     .value_name = "N",
     .help = "rounds, median reported (default 5)"},
    {.name = "pending",
     .kind = CLI_UNSIGNED,
     CLI_FIELD(struct options, pending),
     .min = 1,
     .max = 65536,
     .value_name = "N",
     .help = "events in flight (--events-bus-pending; default 1024)"},
};

static const struct cli_program program = {
    .name = "sluice-event-bus-bench",
    .usage_head = "usage: sluice-event-bus-bench [--events N] [--rounds N] [--pending N]\n\n"
		  "Events published to NATS JetStream through the sink and the bus, with and"
		  " without the spool; starts its own nats-server.\n\n",
    .usage_tail = "\nPrints one JSON object on stdout.\n",
    .options = options,
    .option_count = sizeof(options) / sizeof(options[0]),
    .help_column = 20,
};

static struct sluice_pack_rule rules[] = {
    {.id = "phone-cn-mobile", .category = "contact", .action = SLUICE_ACTION_MASK},
    {.id = "casino-invite", .category = "gambling", .action = SLUICE_ACTION_BLOCK},
    {.id = "qq-number", .category = "contact", .action = SLUICE_ACTION_FLAG},
    {.id = "rumour", .category = "misinformation", .action = SLUICE_ACTION_FLAG},
};

static const struct sluice_tsc_clock clock_ = {
    .tsc0 = 0, .ns0 = 1764927000000000000ull, .hz = 2000000000};

static void fill(struct sluice_event_ring *ring, const struct sluice_pack *pack, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct sluice_event ev;
		memset(&ev, 0, sizeof(ev));
		ev.tsc = (uint64_t)i * 1000;
		ev.kind = SLUICE_EVENT_MATCH;
		ev.pack = pack;
		ev.rule = i % 4;
		ev.verdict = (uint8_t)rules[ev.rule].action;
		ev.msg_id = i;
		ev.channel_id = i % 97;
		ev.user_id = i % 1009;
		ev.from = 3;
		ev.to = 14;
		ev.text_hash = 0x9c3e5a1fULL * i;
		sluice_event_ring_push(ring, &ev);
	}
}

#define DEADLINE_S 120 /* for any one phase: a stuck bus fails the round */

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

struct round {
	double direct, spool_write, spool_drain; /* events/s */
	uint64_t lost;
};

static int one_round(const struct options *o, const struct sluice_pack *pack,
		     struct sluice_event_ring *ring, unsigned index, struct round *out)
{
	char dir[] = "/tmp/sluice-bus-bench-XXXXXX", err[512], spool[600];
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(spool, sizeof(spool), "%s/events.spool", dir);
	struct ts_nats nats;
	struct sluice_event_sink sink;
	int rc = -1;
	if (ts_nats_start(&nats, 1, dir, err, sizeof(err)) != 0 ||
	    sluice_event_sink_open(&sink, "none", &clock_, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice-event-bus-bench: %s\n", err);
		return -1;
	}
	struct sluice_event_bus_config cfg = {
	    .servers = nats.urls, .stream = "SLUICE_EVENTS", .max_pending = o->pending};
	struct sluice_event_bus_stats st;
	struct sluice_event_bus *bus = NULL;

	/* direct */
	bus = sluice_event_bus_open(&cfg, err, sizeof(err));
	if (bus == NULL) {
		fprintf(stderr, "sluice-event-bus-bench: %s\n", err);
		goto out;
	}
	sink.bus = bus;
	double deadline = sluice_mono_s() + DEADLINE_S;
	do {
		sluice_event_bus_poll(bus);
		sluice_event_bus_stats(bus, &st);
		pause_ms(10);
	} while (!st.stream_ready && sluice_mono_s() < deadline);
	fill(ring, pack, o->events);
	double t0 = sluice_mono_s();
	do {
		sluice_event_sink_drain(&sink, ring, 8192);
		sluice_event_bus_poll(bus);
		sluice_event_bus_stats(bus, &st);
	} while (st.acked + st.lost < o->events && sluice_mono_s() < t0 + DEADLINE_S);
	if (st.acked + st.lost < o->events) {
		fprintf(stderr, "sluice-event-bus-bench: direct: %llu of %u acked in %d s\n",
			(unsigned long long)st.acked, o->events, DEADLINE_S);
		goto out;
	}
	out->direct = o->events / (sluice_mono_s() - t0);
	out->lost = st.lost;
	sink.bus = NULL;
	sluice_event_bus_close(bus, 1000, NULL);
	bus = NULL;

	/* spool_write: a stream of its own would overlap the first's subjects;
	 * the same one takes the events again, under new message ids. */
	ts_nats_node_kill(&nats, 0);
	cfg.spool_path = spool;
	cfg.spool_max_bytes = 4ull << 30;
	bus = sluice_event_bus_open(&cfg, err, sizeof(err));
	if (bus == NULL) {
		fprintf(stderr, "sluice-event-bus-bench: %s\n", err);
		goto out;
	}
	sink.bus = bus;
	fill(ring, pack, o->events);
	t0 = sluice_mono_s();
	while (sluice_event_ring_pending(ring) > 0)
		sluice_event_sink_drain(&sink, ring, 8192);
	out->spool_write = o->events / (sluice_mono_s() - t0);

	/* spool_drain */
	if (ts_nats_node_start(&nats, 0) != 0)
		goto out;
	deadline = sluice_mono_s() + DEADLINE_S;
	do {
		sluice_event_bus_poll(bus);
		sluice_event_bus_stats(bus, &st);
		pause_ms(1);
	} while (!(st.connected && st.stream_ready) && sluice_mono_s() < deadline);
	uint64_t acked0 = st.acked;
	t0 = sluice_mono_s();
	do {
		sluice_event_bus_poll(bus);
		sluice_event_bus_stats(bus, &st);
	} while (st.acked + st.lost < o->events && sluice_mono_s() < t0 + DEADLINE_S);
	if (st.acked + st.lost < o->events) {
		fprintf(stderr, "sluice-event-bus-bench: spool drain: %llu of %u acked in %d s\n",
			(unsigned long long)st.acked, o->events, DEADLINE_S);
		goto out;
	}
	out->spool_drain = (double)(st.acked - acked0) / (sluice_mono_s() - t0);
	out->lost += st.lost;
	rc = 0;
	(void)index;
out:
	sink.bus = NULL;
	sluice_event_bus_close(bus, rc == 0 ? 1000 : 0, NULL);
	sluice_event_sink_close(&sink);
	ts_nats_stop(&nats);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "sluice-event-bus-bench: cannot remove %s\n", dir);
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {.events = 200000, .rounds = 5, .pending = 1024};
	int status = cli_parse_main(&program, argc, argv, &o, NULL);
	if (status != CLI_MAIN_RUN)
		return status;
	if (ts_nats_server_path() == NULL) {
		fprintf(stderr, "sluice-event-bus-bench: nats-server is not installed\n");
		return 1;
	}
	struct sluice_pack pack;
	memset(&pack, 0, sizeof(pack));
	pack.name = "bench";
	pack.version = "1";
	pack.rules = rules;
	pack.rule_count = 4;
	memcpy(pack.sha256_hex, "0123456789abcdef", 17);
	uint32_t cap = 1;
	while (cap < o.events)
		cap <<= 1;
	struct sluice_event_ring *ring = sluice_event_ring_create(cap);
	if (ring == NULL) {
		fprintf(stderr, "sluice-event-bus-bench: out of memory\n");
		return 1;
	}
	double direct[SLUICE_MEDIAN_MAX], write_[SLUICE_MEDIAN_MAX], drain[SLUICE_MEDIAN_MAX];
	uint64_t lost = 0;
	for (unsigned r = 0; r < o.rounds; r++) {
		struct round one = {0};
		if (one_round(&o, &pack, ring, r, &one) != 0) {
			fprintf(stderr, "sluice-event-bus-bench: round %u failed\n", r + 1);
			return 1;
		}
		direct[r] = one.direct;
		write_[r] = one.spool_write;
		drain[r] = one.spool_drain;
		lost += one.lost;
	}
	printf("{\"events\":%u,\"rounds\":%u,\"pending\":%u,\"direct_events_per_s\":%.0f,"
	       "\"spool_write_events_per_s\":%.0f,\"spool_drain_events_per_s\":%.0f,"
	       "\"lost\":%llu}\n",
	       o.events, o.rounds, o.pending, sluice_median(direct, o.rounds),
	       sluice_median(write_, o.rounds), sluice_median(drain, o.rounds),
	       (unsigned long long)lost);
	sluice_event_ring_free(ring);
	return 0;
}
