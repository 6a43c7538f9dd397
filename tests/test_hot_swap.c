/* Hot swap under traffic: the daemon, in this process on net_ring ports, takes a
 * continuous stream of messages while the control socket swaps 100 times between
 * two packs that give different verdicts.
 *
 * Pack A (default.yaml) masks phone numbers and blocks gambling; pack B
 * (flag-phones.yaml) flags phone numbers and has no gambling rule. Half the
 * messages carry a phone number, half a gambling term, so every message's fate
 * says which pack scanned it.
 *
 * What is shown:
 * - every message injected either comes out of port B once, or was removed and
 *   has a match event with verdict "block" (none lost, none duplicated), and the
 *   daemon's counters agree (nothing dropped on TX, no bad input);
 * - a message whose whole life (injection to being seen on the output, or for a
 *   removed one to the next message seen after it: one queue is FIFO) lies after
 *   reload k completed and before reload k+1 was requested got pack k's verdict;
 *   every other message got one of the two packs' verdicts;
 * - the worker's longest loop pass and longest gap between passes, read from
 *   `stats`, stay under a bound (printed, and asserted generously because the
 *   machine is shared).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "control_protocol.h"
#include "daemon.h"
#include "options.h"
#include "pack.h"
#include "pack_source.h"
#include "test_support.h"
#include "wire_format.h"

#define RELOADS	       100
#define MAX_MESSAGES   (1u << 20)
#define INJECT_BURST   16
#define RING_SIZE      65536
#define STALL_BOUND_MS 100.0

enum fate { UNSEEN = 0, OUT_MASKED, OUT_FLAGGED, OUT_CLEAN, OUT_OTHER };

struct message_record {
	uint64_t injected_ns;
	uint64_t seen_ns; /* when it (or, if removed, the next forwarded one) came out */
	uint8_t fate;
	uint8_t blocked_event; /* a block event names it */
	uint8_t out_count;
};

struct reload_record {
	uint64_t requested_ns;
	uint64_t completed_ns;
	char pack; /* 'A' or 'B': the pack active once it completed */
};

static struct {
	struct rte_ring *rx_a, *tx_a, *rx_b, *tx_b;
	struct rte_mempool *pool;
	char *dir, *socket, *events, *pack_a, *pack_b;
	struct message_record *msgs;
	atomic_uint_fast64_t injected;
	atomic_bool stop_injecting;
	atomic_bool injector_done;
	struct reload_record reloads[RELOADS + 1];
	int reloads_done;
	int reload_failures;
	char reload_error[512];
	double max_iteration_ns, max_gap_ns;
	double grace_ms[RELOADS + 1];
	uint64_t rx_total, tx_total, tx_dropped, removed, bad_total;
} S;

static const char *const phone_text = "call me on 13812345678 tonight";
static const char *const gambling_text = "best odds at 网上赌场 tonight";

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void compile_pack(const char *yaml_rel, const char *out)
{
	char err[1024];
	char *yaml = ts_source_path(yaml_rel);
	struct sluice_pack *pack = NULL;
	cr_assert_eq(ts_pack_load(yaml, &pack, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_write(pack, out, err, sizeof(err)), 0, "%s", err);
	sluice_pack_free(pack);
	free(yaml);
}

static struct rte_mbuf *make_packet(uint64_t msg_id)
{
	uint8_t buf[512];
	bool phone = (msg_id % 2) == 0;
	struct sluice_wire_message m = ts_msg(msg_id, phone ? phone_text : gambling_text);
	size_t len =
	    ts_build_datagram(buf, sizeof(buf), (msg_id % 3) == 0, (msg_id % 5) == 0, &m, 1);
	struct rte_mbuf *mb = rte_pktmbuf_alloc(S.pool);
	if (mb == NULL || len == 0)
		return NULL;
	char *dst = rte_pktmbuf_append(mb, (uint16_t)len);
	memcpy(dst, buf, len);
	return mb;
}

/* Classifies one output packet and records it against its message. */
static void record_output(struct rte_mbuf *mb, uint64_t t)
{
	struct ts_frame frames[4];
	int n = ts_frames_of(rte_pktmbuf_mtod(mb, uint8_t *), mb->data_len,
			     SLUICE_WIRE_DEFAULT_PORT, frames, 4);
	if (n != 1)
		return;
	uint64_t id = frames[0].msg_id;
	if (id == 0 || id >= MAX_MESSAGES)
		return;
	struct message_record *r = &S.msgs[id];
	r->out_count++;
	r->seen_ns = t;
	bool phone = (id % 2) == 0;
	const char *orig = phone ? phone_text : gambling_text;
	if (phone && frames[0].flags == SLUICE_WIRE_FLAG_MASKED &&
	    strcmp(frames[0].text, "call me on *********** tonight") == 0)
		r->fate = OUT_MASKED;
	else if (phone && frames[0].flags == SLUICE_WIRE_FLAG_FLAGGED &&
		 strcmp(frames[0].text, orig) == 0)
		r->fate = OUT_FLAGGED;
	else if (!phone && frames[0].flags == 0 && strcmp(frames[0].text, orig) == 0)
		r->fate = OUT_CLEAN;
	else
		r->fate = OUT_OTHER;
}

static void drain_output(void)
{
	struct rte_mbuf *out[64];
	unsigned n;
	while ((n = rte_ring_dequeue_burst(S.tx_b, (void **)out, 64, NULL)) > 0) {
		uint64_t t = now_ns();
		for (unsigned i = 0; i < n; i++) {
			record_output(out[i], t);
			rte_pktmbuf_free(out[i]);
		}
	}
	/* Nothing is sent towards A: port B's RX ring stays empty. */
	while ((n = rte_ring_dequeue_burst(S.tx_a, (void **)out, 64, NULL)) > 0)
		rte_pktmbuf_free_bulk(out, n);
}

/* Injects bursts at a steady pace and collects the output, until told to stop
 * and everything injected has been accounted for or a deadline passes. */
static void *injector(void *arg)
{
	(void)arg;
	uint64_t next_id = 1;
	struct timespec pause = {0, 500000};
	while (!atomic_load(&S.stop_injecting) && next_id + INJECT_BURST < MAX_MESSAGES) {
		struct rte_mbuf *burst[INJECT_BURST];
		unsigned n = 0;
		uint64_t t = now_ns();
		for (; n < INJECT_BURST; n++) {
			burst[n] = make_packet(next_id + n);
			if (burst[n] == NULL)
				break;
			S.msgs[next_id + n].injected_ns = t;
		}
		unsigned q = rte_ring_enqueue_burst(S.rx_a, (void **)burst, n, NULL);
		for (unsigned i = q; i < n; i++) {
			S.msgs[next_id + i].injected_ns = 0;
			rte_pktmbuf_free(burst[i]);
		}
		next_id += q;
		atomic_store(&S.injected, next_id - 1);
		drain_output();
		nanosleep(&pause, NULL);
	}
	uint64_t deadline = now_ns() + 5000000000ull;
	while (now_ns() < deadline) {
		drain_output();
		if (rte_ring_count(S.rx_a) == 0) {
			/* Let the last burst through the worker and out. */
			struct timespec settle = {0, 50000000};
			nanosleep(&settle, NULL);
			drain_output();
			break;
		}
	}
	atomic_store(&S.injector_done, true);
	return NULL;
}

static int request(const char *req, char **reply)
{
	char err[512];
	int rc = sluice_ctl_request(S.socket, req, 30000, reply, err, sizeof(err));
	if (rc != 0)
		snprintf(S.reload_error, sizeof(S.reload_error), "%.100s: %.400s", req, err);
	return rc;
}

static double json_number(const char *json, const char *key)
{
	const char *p = strstr(json, key);
	return p ? strtod(p + strlen(key), NULL) : -1;
}

static void *reloader(void *arg)
{
	(void)arg;
	char *reply = NULL;
	/* The daemon is up once its socket answers. */
	for (int i = 0; i < 500 && request("status", &reply) != 0; i++)
		usleep(20000);
	free(reply);
	reply = NULL;
	S.reloads[0] = (struct reload_record){.requested_ns = 0, .completed_ns = 0, .pack = 'A'};
	usleep(100000);

	char req[1024];
	for (int k = 1; k <= RELOADS; k++) {
		char pack = (k % 2) ? 'B' : 'A';
		snprintf(req, sizeof(req), "reload %s", pack == 'B' ? S.pack_b : S.pack_a);
		S.reloads[k].requested_ns = now_ns();
		int rc = request(req, &reply);
		S.reloads[k].completed_ns = now_ns();
		S.reloads[k].pack = pack;
		if (rc == 0)
			S.grace_ms[k] = json_number(reply, "\"grace_ms\":");
		if (rc != 0 || strncmp(reply, "{\"ok\":true", 10) != 0) {
			S.reload_failures++;
			if (rc == 0)
				snprintf(S.reload_error, sizeof(S.reload_error), "%.500s", reply);
		}
		free(reply);
		reply = NULL;
		S.reloads_done = k;
		/* Traffic keeps flowing between reloads: ~20 bursts each. */
		usleep(10000);
	}
	atomic_store(&S.stop_injecting, true);
	while (!atomic_load(&S.injector_done))
		usleep(10000);

	if (request("stats", &reply) == 0) {
		const char *total = strstr(reply, "\"total\":");
		S.max_iteration_ns = json_number(total, "\"max_iteration_ns\":");
		S.max_gap_ns = json_number(total, "\"max_gap_ns\":");
		S.rx_total = (uint64_t)json_number(total, "\"rx_packets\":{\"a\":");
		S.tx_total = (uint64_t)json_number(total, "\"tx_packets\":{\"a\":0,\"b\":");
		S.tx_dropped = (uint64_t)json_number(total, "\"tx_dropped\":{\"a\":0,\"b\":");
		S.removed = (uint64_t)json_number(total, "\"datagrams_removed\":");
		const char *bad = strstr(total, "\"bad_input\":{");
		S.bad_total = 0;
		for (const char *p = bad ? strchr(bad, '{') : NULL; p && *p && *p != '}'; p++) {
			if (*p == ':')
				S.bad_total += strtoull(p + 1, NULL, 10);
		}
		free(reply);
		reply = NULL;
	}
	request("stop", &reply);
	free(reply);
	return NULL;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Marks every message named by a block event from pack A (version_a). */
static unsigned read_block_events(const char *version_a)
{
	char want_version[128];
	snprintf(want_version, sizeof(want_version), "\"pack_version\":\"%s\"", version_a);
	FILE *f = fopen(S.events, "r");
	cr_assert_not_null(f, "no event file at %s", S.events);
	char line[2048];
	unsigned blocks = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "\"verdict\":\"block\"") == NULL)
			continue;
		const char *p = strstr(line, "\"msg_id\":");
		cr_assert_not_null(p, "block event without msg_id: %s", line);
		uint64_t id = strtoull(p + 9, NULL, 10);
		cr_assert(id > 0 && id < MAX_MESSAGES, "block event for unknown message: %s", line);
		cr_assert_not_null(strstr(line, "\"rule\":\"gambling-invite\""), "%s", line);
		cr_assert_not_null(strstr(line, want_version), "%s", line);
		S.msgs[id].blocked_event++;
		blocks++;
	}
	fclose(f);
	return blocks;
}

/* The pack in force for the whole of [from, to], or 0 if a reload was requested
 * inside it or had not completed before it. */
static char pack_for_interval(uint64_t from, uint64_t to)
{
	for (int k = 0; k <= S.reloads_done; k++) {
		uint64_t start = S.reloads[k].completed_ns;
		uint64_t end = k < S.reloads_done ? S.reloads[k + 1].requested_ns : UINT64_MAX;
		if (from >= start && to < end)
			return S.reloads[k].pack;
	}
	return 0;
}

static void setup_eal(void)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "swap%d", (int)getpid());
	char *args[] = {"test_hot_swap", "--no-huge",	"-m",	    "512",	     "-l",
			"0-1",		 "--no-shconf", "--no-pci", "--file-prefix", prefix,
			"--log-level",	 "*:warning"};
	int argc = (int)(sizeof(args) / sizeof(args[0]));
	cr_assert_geq(rte_eal_init(argc, args), 0, "EAL init failed");

	S.rx_a = rte_ring_create("swap_rx_a", RING_SIZE, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	S.tx_a = rte_ring_create("swap_tx_a", RING_SIZE, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	S.rx_b = rte_ring_create("swap_rx_b", RING_SIZE, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	S.tx_b = rte_ring_create("swap_tx_b", RING_SIZE, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
	cr_assert(S.rx_a && S.tx_a && S.rx_b && S.tx_b);
	cr_assert_eq(rte_eth_from_rings("swap_a", &S.rx_a, 1, &S.tx_a, 1, 0), 0);
	cr_assert_eq(rte_eth_from_rings("swap_b", &S.rx_b, 1, &S.tx_b, 1, 0), 1);
	S.pool = rte_pktmbuf_pool_create("swap_inject", 65535, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	cr_assert_not_null(S.pool);
}

static void run_swaps(const char *yaml_a, const char *yaml_b, const char *version_a)
{
	S.dir = ts_make_tmpdir("swap");
	cr_assert_neq(asprintf(&S.socket, "%s/sluice.sock", S.dir), -1);
	cr_assert_neq(asprintf(&S.events, "%s/events.jsonl", S.dir), -1);
	cr_assert_neq(asprintf(&S.pack_a, "%s/a.pack", S.dir), -1);
	cr_assert_neq(asprintf(&S.pack_b, "%s/b.pack", S.dir), -1);
	compile_pack(yaml_a, S.pack_a);
	compile_pack(yaml_b, S.pack_b);
	S.msgs = calloc(MAX_MESSAGES, sizeof(*S.msgs));
	cr_assert_not_null(S.msgs);

	setup_eal();

	struct sluice_options opt;
	sluice_options_defaults(&opt);
	free(opt.events);
	free(opt.control_socket);
	opt.rules = strdup(S.pack_a);
	opt.events = strdup(S.events);
	opt.control_socket = strdup(S.socket);
	opt.event_ring = 1u << 18;

	pthread_t inj, rel;
	pthread_create(&inj, NULL, injector, NULL);
	pthread_create(&rel, NULL, reloader, NULL);
	int rc = sluice_daemon_run(&opt);
	pthread_join(rel, NULL);
	atomic_store(&S.stop_injecting, true);
	pthread_join(inj, NULL);
	sluice_options_free(&opt);
	cr_assert_eq(rc, 0, "daemon failed");
	cr_assert_eq(S.reload_failures, 0, "%d reloads failed, last: %s", S.reload_failures,
		     S.reload_error);
	cr_assert_eq(S.reloads_done, RELOADS);

	uint64_t injected = atomic_load(&S.injected);
	unsigned blocks = read_block_events(version_a);
	uint64_t exact = 0, forwarded = 0;
	uint64_t verdict_count[5] = {0};
	for (uint64_t id = 1; id <= injected; id++) {
		struct message_record *r = &S.msgs[id];
		bool phone = (id % 2) == 0;
		cr_assert_neq(r->fate, OUT_OTHER, "message %llu came out altered wrongly",
			      (unsigned long long)id);
		cr_assert(r->out_count + r->blocked_event == 1,
			  "message %llu: %u copies out, %u block events (want exactly one fate)",
			  (unsigned long long)id, r->out_count, r->blocked_event);
		if (r->blocked_event)
			cr_assert(!phone, "phone message %llu blocked", (unsigned long long)id);
		forwarded += r->out_count;
		verdict_count[r->blocked_event ? 4 : r->fate]++;

		/* A removed message was processed before the next one that came out. */
		uint64_t seen = r->seen_ns;
		for (uint64_t next = id + 1; seen == 0 && next <= injected; next++)
			seen = S.msgs[next].out_count ? S.msgs[next].seen_ns : 0;
		if (seen == 0)
			continue;
		char pack = pack_for_interval(r->injected_ns, seen);
		if (pack == 0)
			continue;
		exact++;
		if (pack == 'A')
			cr_assert(phone ? r->fate == OUT_MASKED : r->blocked_event == 1,
				  "message %llu lived wholly under pack A but got pack B's verdict",
				  (unsigned long long)id);
		else
			cr_assert(phone ? r->fate == OUT_FLAGGED : r->fate == OUT_CLEAN,
				  "message %llu lived wholly under pack B but got pack A's verdict",
				  (unsigned long long)id);
	}

	cr_log_info("hot swap: %llu messages, %u reloads, %llu forwarded (%llu masked, %llu "
		    "flagged, %llu clean), %u blocked; %llu checked against an exact pack; "
		    "worker longest pass %.1f us, longest gap %.1f us",
		    (unsigned long long)injected, RELOADS, (unsigned long long)forwarded,
		    (unsigned long long)verdict_count[OUT_MASKED],
		    (unsigned long long)verdict_count[OUT_FLAGGED],
		    (unsigned long long)verdict_count[OUT_CLEAN], blocks, (unsigned long long)exact,
		    S.max_iteration_ns / 1e3, S.max_gap_ns / 1e3);
	double grace[RELOADS];
	memcpy(grace, &S.grace_ms[1], sizeof(grace));
	qsort(grace, RELOADS, sizeof(grace[0]), by_value);
	fprintf(stderr,
		"# hot swap figures: messages=%llu reloads=%u exact=%llu "
		"max_iteration_us=%.1f max_gap_us=%.1f swap_grace_ms median=%.3f max=%.3f\n",
		(unsigned long long)injected, RELOADS, (unsigned long long)exact,
		S.max_iteration_ns / 1e3, S.max_gap_ns / 1e3, grace[RELOADS / 2],
		grace[RELOADS - 1]);

	cr_assert_gt(injected, 10000, "too little traffic to show anything: %llu",
		     (unsigned long long)injected);
	cr_assert_eq(forwarded + blocks, injected);
	/* Both packs really were in force, each for many messages. */
	cr_assert_gt(verdict_count[OUT_MASKED], 100);
	cr_assert_gt(verdict_count[OUT_FLAGGED], 100);
	/* Enough messages lived wholly between two reloads to make the exact check
	 * meaningful; how many depends on how long reloads take (slow under ASan). */
	cr_assert_gt(exact, 5000, "only %llu of %llu messages fell wholly between reloads",
		     (unsigned long long)exact, (unsigned long long)injected);
	/* The daemon's own accounting agrees. */
	cr_assert_eq(S.rx_total, injected);
	cr_assert_eq(S.tx_total, forwarded);
	cr_assert_eq(S.removed, blocks);
	cr_assert_eq(S.tx_dropped, 0);
	cr_assert_eq(S.bad_total, 0);
	cr_assert_gt(S.max_iteration_ns, 0);
	cr_assert_lt(S.max_iteration_ns / 1e6, STALL_BOUND_MS, "a worker loop pass took %.3f ms",
		     S.max_iteration_ns / 1e6);

	free(S.msgs);
	ts_rmtree(S.dir);
	free(S.dir);
	free(S.socket);
	free(S.events);
	free(S.pack_a);
	free(S.pack_b);
}

Test(hot_swap, hundred_reloads_under_traffic_lose_nothing_and_never_apply_a_retired_pack,
     .timeout = 240)
{
	run_swaps("patterns/rules/default.yaml", "patterns/rules/flag-phones.yaml", "2026.11.23-1");
}

/* The same with both packs carrying the 100,000-title literal list
 * (tests/run-tests.sh generates it; see patterns/packs/scale-100k.yaml). */
Test(hot_swap, hundred_reloads_of_100k_literal_packs_under_traffic, .timeout = 300)
{
	run_swaps("tests/data/swap/scale-mask.yaml", "tests/data/swap/scale-flag.yaml", "scale-a");
}
