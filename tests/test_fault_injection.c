/* Fault injection: the daemon runs in this process with two workers (where the
 * machine has two CPUs) on net_ring ports (port A on net_pcap for the mbuf-pool
 * fault), while an injector sends messages whose verdicts are known and a
 * collector checks every message that comes out. Each test makes one fault
 * happen under that traffic and asserts what Sluice does about it:
 *
 * - nothing is forwarded unscanned: every message out carries exactly its
 *   verdict (masked bytes, flag bits), no blocked message comes out;
 * - every loss is counted under its own reason, and the counters add up to
 *   what was injected;
 * - the fault stalls no worker and the control plane keeps answering.
 *
 * The texts: even ids a phone number (masked), ids = 1 mod 4 clean, ids = 3
 * mod 8 a drug sale (blocked: the datagram is removed), ids = 7 mod 8 a
 * private-chat lure (flagged). Each datagram carries one message.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hs.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "control_protocol.h"
#include "nats_server.h"
#include "daemon.h"
#include "siphash.h"
#include "json_value.h"
#include "options.h"
#include "pack.h"
#include "pack_source.h"
#include "pack_sign.h"
#include "child_process.h"
#include "test_support.h"
#include "wire_format.h"

#define MAX_WORKERS  2
#define MAX_MESSAGES (1u << 21)
#define INJECT_BURST 16
#define RX_RING	     4096

enum kind { K_PHONE, K_CLEAN, K_DRUG, K_FLAG };

static const char *const phone_text = "call me on 13812345678 tonight";
static const char *const phone_masked = "call me on *********** tonight";
static const char *const clean_text = "see you at the concert";
static const char *const drug_text = "出售冰毒 联系我";
static const char *const flag_text = "可以私聊吗";

static enum kind kind_of(uint64_t id)
{
	if (id % 2 == 0)
		return K_PHONE;
	if (id % 4 == 1)
		return K_CLEAN;
	return id % 8 == 3 ? K_DRUG : K_FLAG;
}

static const char *text_of(uint64_t id)
{
	switch (kind_of(id)) {
	case K_PHONE:
		return phone_text;
	case K_CLEAN:
		return clean_text;
	case K_DRUG:
		return drug_text;
	default:
		return flag_text;
	}
}

/* The whole fixture: ports, traffic, the daemon's options and what the
 * collector saw. One per test process (Criterion forks each test). */
static struct {
	unsigned workers;
	bool pcap_a; /* port A is a net_pcap vdev reading pcap_files */
	char pcap_files[MAX_WORKERS][256];
	uint64_t pcap_packets;
	unsigned tx_ring_b; /* size of port B's TX rings */
	struct rte_ring *rx_a[MAX_WORKERS], *tx_a[MAX_WORKERS];
	struct rte_ring *rx_b[MAX_WORKERS], *tx_b[MAX_WORKERS];
	struct rte_mempool *inject_pool;
	char *dir, *socket, *events, *pack_a, *pack_a2;
	struct sluice_options opt;
	/* traffic */
	uint8_t *out_count; /* per message id */
	atomic_uint_fast64_t injected;
	atomic_bool stop_injecting, injector_done, collect_paused, stop_collecting;
	atomic_uint_fast64_t collected;
	atomic_uint_fast64_t wrong;
	char wrong_what[256];
	unsigned inject_pause_us;
	/* the scenario */
	void (*scenario)(void);
	void (*after_eal)(void); /* run once EAL is up, before the daemon */
	char failure[1024];
} F;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Threads created after rte_eal_init() inherit the main lcore's single CPU;
 * the test's own threads may run anywhere. */
static void run_anywhere(void)
{
	cpu_set_t all;
	CPU_ZERO(&all);
	for (int c = 0; c < CPU_SETSIZE; c++)
		CPU_SET(c, &all);
	pthread_setaffinity_np(pthread_self(), sizeof(all), &all);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	if (F.failure[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(F.failure, sizeof(F.failure), fmt, ap);
	va_end(ap);
}

static size_t build_packet(uint8_t *buf, size_t cap, uint64_t id)
{
	struct sluice_wire_message m = ts_msg(id, text_of(id));
	return ts_build_datagram(buf, cap, id % 3 == 0, id % 5 == 0, &m, 1);
}

/* ---- control socket ---- */

/* Sends req and returns the parsed reply, or NULL (with the failure noted
 * unless quiet). */
static struct sluice_json *control(const char *req, bool quiet)
{
	char err[512], *reply = NULL;
	if (sluice_ctl_request(F.socket, req, 60000, &reply, err, sizeof(err)) != 0) {
		if (!quiet)
			fail("%s: %s", req, err);
		return NULL;
	}
	struct sluice_json *j = sluice_json_parse(reply);
	if (j == NULL && !quiet)
		fail("%s: reply is not JSON: %.300s", req, reply);
	free(reply);
	return j;
}

static bool control_ok(const char *req, char *why, size_t why_len)
{
	struct sluice_json *j = control(req, false);
	bool ok = j != NULL && sluice_json_bool(j, "ok", false);
	if (why != NULL)
		snprintf(why, why_len, "%s", j != NULL ? sluice_json_str(j, "error", "") : "");
	sluice_json_free(j);
	return ok;
}

static void wait_for_daemon(void)
{
	for (int i = 0; i < 1000; i++) {
		struct sluice_json *j = control("status", true);
		if (j != NULL) {
			sluice_json_free(j);
			return;
		}
		sleep_ms(10);
	}
	fail("the daemon never answered status");
}

static const struct sluice_json *path(const struct sluice_json *j, const char *a, const char *b)
{
	const struct sluice_json *x = sluice_json_get(j, a);
	return b != NULL ? sluice_json_get(x, b) : x;
}

/* A counter of the total worker stats: "rx_packets.a", "messages", ... */
static uint64_t total(const struct sluice_json *stats, const char *name)
{
	const struct sluice_json *t = path(stats, "stats", "total");
	char key[64];
	snprintf(key, sizeof(key), "%s", name);
	char *dot = strchr(key, '.');
	if (dot != NULL) {
		*dot = '\0';
		return (uint64_t)sluice_json_num(sluice_json_get(t, key), dot + 1, -1);
	}
	return (uint64_t)sluice_json_num(t, key, -1);
}

static const char *active_version(void)
{
	static char version[128];
	struct sluice_json *j = control("status", false);
	snprintf(version, sizeof(version), "%s",
		 j != NULL ? sluice_json_str(path(j, "active", NULL), "version", "?") : "?");
	sluice_json_free(j);
	return version;
}

/* ---- traffic ---- */

static void *injector(void *arg)
{
	(void)arg;
	run_anywhere();
	uint64_t next = 1;
	unsigned q = 0;
	while (!atomic_load(&F.stop_injecting) && next + INJECT_BURST < MAX_MESSAGES) {
		struct rte_mbuf *burst[INJECT_BURST];
		unsigned n = 0;
		for (; n < INJECT_BURST; n++) {
			struct rte_mbuf *mb = rte_pktmbuf_alloc(F.inject_pool);
			if (mb == NULL)
				break;
			uint8_t buf[256];
			size_t len = build_packet(buf, sizeof(buf), next + n);
			memcpy(rte_pktmbuf_append(mb, (uint16_t)len), buf, len);
			burst[n] = mb;
		}
		unsigned put = rte_ring_enqueue_burst(F.rx_a[q], (void **)burst, n, NULL);
		for (unsigned i = put; i < n; i++)
			rte_pktmbuf_free(burst[i]);
		next += put;
		atomic_store(&F.injected, next - 1);
		q = (q + 1) % F.workers;
		struct timespec pause = {0, (long)F.inject_pause_us * 1000L};
		nanosleep(&pause, NULL);
	}
	atomic_store(&F.injector_done, true);
	return NULL;
}

static void check_output(const uint8_t *pkt, size_t len)
{
	struct ts_frame frames[2];
	int n = ts_frames_of(pkt, len, SLUICE_WIRE_DEFAULT_PORT, frames, 2);
	atomic_fetch_add(&F.collected, 1);
	if (n != 1) {
		atomic_fetch_add(&F.wrong, 1);
		snprintf(F.wrong_what, sizeof(F.wrong_what), "a packet out with %d frames", n);
		return;
	}
	uint64_t id = frames[0].msg_id;
	if (id == 0 || id >= MAX_MESSAGES) {
		atomic_fetch_add(&F.wrong, 1);
		snprintf(F.wrong_what, sizeof(F.wrong_what), "unknown message id %llu",
			 (unsigned long long)id);
		return;
	}
	F.out_count[id]++;
	const char *want_text = text_of(id);
	uint8_t want_flags = 0;
	switch (kind_of(id)) {
	case K_PHONE:
		want_text = phone_masked;
		want_flags = SLUICE_WIRE_FLAG_MASKED;
		break;
	case K_FLAG:
		want_flags = SLUICE_WIRE_FLAG_FLAGGED;
		break;
	case K_DRUG:
		want_text = NULL; /* must never come out */
		break;
	default:
		break;
	}
	if (want_text == NULL || strcmp(frames[0].text, want_text) != 0 ||
	    frames[0].flags != want_flags) {
		atomic_fetch_add(&F.wrong, 1);
		snprintf(F.wrong_what, sizeof(F.wrong_what),
			 "message %llu came out as \"%.80s\" flags %u", (unsigned long long)id,
			 frames[0].text, frames[0].flags);
	}
}

static void *collector(void *arg)
{
	(void)arg;
	run_anywhere();
	struct rte_mbuf *out[64];
	while (!atomic_load(&F.stop_collecting)) {
		bool got = false;
		for (unsigned q = 0; q < F.workers; q++) {
			if (!atomic_load(&F.collect_paused)) {
				unsigned n =
				    rte_ring_dequeue_burst(F.tx_b[q], (void **)out, 64, NULL);
				for (unsigned i = 0; i < n; i++) {
					check_output(rte_pktmbuf_mtod(out[i], uint8_t *),
						     out[i]->data_len);
					rte_pktmbuf_free(out[i]);
				}
				got |= n > 0;
			}
			/* Nothing should go towards A. */
			if (F.tx_a[q] != NULL) {
				unsigned n =
				    rte_ring_dequeue_burst(F.tx_a[q], (void **)out, 64, NULL);
				if (n > 0) {
					atomic_fetch_add(&F.wrong, n);
					rte_pktmbuf_free_bulk(out, n);
				}
			}
		}
		if (!got)
			usleep(100);
	}
	return NULL;
}

/* Stops injecting and waits until the daemon has received everything
 * injected and the collector has everything sent (or deadline). */
static void settle(void)
{
	atomic_store(&F.stop_injecting, true);
	while (!atomic_load(&F.injector_done))
		sleep_ms(5);
	uint64_t deadline = now_ns() + 20000000000ull, last = UINT64_MAX;
	while (now_ns() < deadline) {
		struct sluice_json *j = control("stats", false);
		uint64_t seen = j != NULL ? total(j, "rx_packets.a") : 0;
		uint64_t out = j != NULL ? total(j, "tx_packets.b") : 0;
		sluice_json_free(j);
		bool in_done = F.pcap_a ? seen == last : seen == atomic_load(&F.injected);
		if (in_done && atomic_load(&F.collected) >= out) {
			sleep_ms(100);
			break;
		}
		last = seen;
		sleep_ms(200);
	}
}

/* ---- setup ---- */

static void compile_to(const char *yaml_rel, const char *out, const char *version)
{
	char err[1024];
	char *yaml = ts_source_path(yaml_rel);
	struct sluice_pack *pack = NULL;
	cr_assert_eq(ts_pack_load(yaml, &pack, err, sizeof(err)), 0, "%s", err);
	if (version != NULL) {
		free(pack->version);
		pack->version = strdup(version);
	}
	cr_assert_eq(sluice_pack_write(pack, out, err, sizeof(err)), 0, "%s", err);
	sluice_pack_free(pack);
	free(yaml);
}

static char *in_dir(const char *name)
{
	char *p;
	cr_assert_neq(asprintf(&p, "%s/%s", F.dir, name), -1);
	return p;
}

static void write_pcap_inputs(uint64_t packets)
{
	struct ts_packet *pk[MAX_WORKERS];
	size_t count[MAX_WORKERS] = {0};
	for (unsigned q = 0; q < F.workers; q++) {
		pk[q] = calloc(packets, sizeof(*pk[q]));
		cr_assert_not_null(pk[q]);
	}
	for (uint64_t id = 1; id <= packets; id++) {
		unsigned q = (unsigned)(id % F.workers);
		uint8_t *buf = malloc(256);
		size_t len = build_packet(buf, 256, id);
		pk[q][count[q]++] = (struct ts_packet){.data = buf, .len = len};
	}
	for (unsigned q = 0; q < F.workers; q++) {
		snprintf(F.pcap_files[q], sizeof(F.pcap_files[q]), "%s/in%u.pcap", F.dir, q);
		cr_assert_eq(ts_pcap_write(F.pcap_files[q], pk[q], count[q]), 0);
		for (size_t i = 0; i < count[q]; i++)
			free(pk[q][i].data);
		free(pk[q]);
	}
	F.pcap_packets = packets;
}

static void setup_eal(void)
{
	char prefix[64], lcores[64], vdev[1024] = "";
	snprintf(prefix, sizeof(prefix), "fault%d", (int)getpid());
	/* Two workers need their own CPUs to be worth it; the main lcore shares. */
	F.workers = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
	if (F.workers == 2)
		snprintf(lcores, sizeof(lcores), "0@0,1@1,2@0");
	else
		snprintf(lcores, sizeof(lcores), "0@0,1@0");
	char *args[32] = {"test_fault_injection",
			  "--no-huge",
			  "-m",
			  "512",
			  "--lcores",
			  lcores,
			  "--no-shconf",
			  "--no-pci",
			  "--file-prefix",
			  prefix,
			  "--log-level",
			  "*:error"};
	int argc = 12;
	if (F.pcap_a) {
		int used = snprintf(vdev, sizeof(vdev), "net_pcap_fault0");
		for (unsigned q = 0; q < F.workers; q++)
			used += snprintf(vdev + used, sizeof(vdev) - (size_t)used,
					 ",rx_pcap=%s,tx_pcap=%s/out-a%u.pcap", F.pcap_files[q],
					 F.dir, q);
		args[argc++] = "--vdev";
		args[argc++] = vdev;
	}
	cr_assert_geq(rte_eal_init(argc, args), 0, "EAL init failed");

	char name[32];
	for (unsigned q = 0; q < F.workers; q++) {
		snprintf(name, sizeof(name), "fi_rx_a%u", q);
		F.rx_a[q] = rte_ring_create(name, RX_RING, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "fi_tx_a%u", q);
		F.tx_a[q] = rte_ring_create(name, RX_RING, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "fi_rx_b%u", q);
		F.rx_b[q] = rte_ring_create(name, 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "fi_tx_b%u", q);
		F.tx_b[q] = rte_ring_create(name, F.tx_ring_b, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
		cr_assert(F.rx_a[q] && F.tx_a[q] && F.rx_b[q] && F.tx_b[q]);
	}
	if (F.pcap_a) {
		/* Port 0 is the pcap vdev; its TX goes to files, not rings. */
		for (unsigned q = 0; q < F.workers; q++) {
			rte_ring_free(F.tx_a[q]);
			F.tx_a[q] = NULL;
		}
	} else {
		cr_assert_eq(rte_eth_from_rings("fault_a", F.rx_a, F.workers, F.tx_a, F.workers, 0),
			     0);
	}
	cr_assert_eq(rte_eth_from_rings("fault_b", F.rx_b, F.workers, F.tx_b, F.workers, 0), 1);
	F.inject_pool =
	    rte_pktmbuf_pool_create("fi_inject", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	cr_assert_not_null(F.inject_pool);
}

/* Prepares everything but EAL; pcap_packets > 0 puts port A on net_pcap. */
static void fixture(uint64_t pcap_packets)
{
	memset(&F, 0, sizeof(F));
	F.dir = ts_make_tmpdir("fault");
	F.socket = in_dir("sluice.sock");
	F.events = in_dir("events.jsonl");
	F.pack_a = in_dir("a.pack");
	F.pack_a2 = in_dir("a2.pack");
	F.tx_ring_b = 16384;
	F.inject_pause_us = 300;
	compile_to("patterns/rules/default.yaml", F.pack_a, NULL);
	compile_to("patterns/rules/default.yaml", F.pack_a2, "same-rules-2");
	F.out_count = calloc(MAX_MESSAGES, 1);
	cr_assert_not_null(F.out_count);
	F.pcap_a = pcap_packets > 0;
	F.workers = sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1;
	if (F.pcap_a)
		write_pcap_inputs(pcap_packets);

	sluice_options_defaults(&F.opt);
	free(F.opt.events);
	free(F.opt.control_socket);
	F.opt.rules = strdup(F.pack_a);
	F.opt.events = strdup(F.events);
	F.opt.control_socket = strdup(F.socket);
	F.opt.event_ring = 1u << 16;
}

static void *scenario_main(void *arg)
{
	(void)arg;
	run_anywhere();
	wait_for_daemon();
	if (F.failure[0] == '\0')
		F.scenario();
	atomic_store(&F.stop_injecting, true);
	control_ok("stop", NULL, 0);
	return NULL;
}

/* Runs the daemon with the fixture's options until the scenario stops it. */
static void run(void (*scenario)(void), bool inject)
{
	setup_eal();
	if (F.after_eal != NULL)
		F.after_eal();
	F.scenario = scenario;
	pthread_t inj, col, scn;
	if (inject)
		pthread_create(&inj, NULL, injector, NULL);
	else
		atomic_store(&F.injector_done, true);
	pthread_create(&col, NULL, collector, NULL);
	pthread_create(&scn, NULL, scenario_main, NULL);
	int rc = sluice_daemon_run(&F.opt);
	pthread_join(scn, NULL);
	atomic_store(&F.stop_injecting, true);
	if (inject)
		pthread_join(inj, NULL);
	atomic_store(&F.stop_collecting, true);
	pthread_join(col, NULL);
	cr_assert_eq(rc, 0, "the daemon failed");
	cr_assert_str_empty(F.failure, "%s", F.failure);
	cr_assert_eq(atomic_load(&F.wrong), 0, "%llu messages came out wrong, e.g. %s",
		     (unsigned long long)atomic_load(&F.wrong), F.wrong_what);
}

/* Every message id in [1, upto] came out at most once, and no blocked one
 * came out; returns how many came out. */
static uint64_t messages_out(uint64_t upto, uint64_t *blocked)
{
	uint64_t out = 0;
	*blocked = 0;
	for (uint64_t id = 1; id <= upto; id++) {
		cr_assert_leq(F.out_count[id], 1, "message %llu came out %u times",
			      (unsigned long long)id, F.out_count[id]);
		out += F.out_count[id];
		*blocked += kind_of(id) == K_DRUG;
	}
	return out;
}

static void teardown(void)
{
	sluice_options_free(&F.opt);
	free(F.out_count);
	ts_rmtree(F.dir);
	free(F.dir);
	free(F.socket);
	free(F.events);
	free(F.pack_a);
	free(F.pack_a2);
}

/* ---- TX queue full for long stretches ---- */

static struct {
	uint64_t iterations_during_pause[MAX_WORKERS][2];
	struct sluice_json *stats;
} tx_full;

static void worker_iterations(uint64_t *out)
{
	struct sluice_json *j = control("stats", false);
	const struct sluice_json *w = path(j, "stats", "workers");
	for (unsigned i = 0; i < F.workers; i++)
		out[i] = w != NULL && i < w->count
			     ? (uint64_t)sluice_json_num(w->items[i], "iterations", 0)
			     : 0;
	sluice_json_free(j);
}

static void scenario_tx_full(void)
{
	sleep_ms(300);
	for (int round = 0; round < 3; round++) {
		atomic_store(&F.collect_paused, true);
		sleep_ms(200);
		uint64_t a[MAX_WORKERS], b[MAX_WORKERS];
		worker_iterations(a);
		sleep_ms(200);
		worker_iterations(b);
		for (unsigned w = 0; w < F.workers; w++) {
			if (b[w] <= a[w])
				fail("worker %u made no progress while its TX queue was full", w);
		}
		atomic_store(&F.collect_paused, false);
		sleep_ms(300);
	}
	settle();
	tx_full.stats = control("stats", false);
}

Test(fault_injection, tx_queue_full_for_long_stretches_costs_counted_packets_never_a_worker,
     .timeout = 180)
{
	fixture(0);
	F.tx_ring_b = 512;
	run(scenario_tx_full, true);
	const struct sluice_json *s = tx_full.stats;
	cr_assert_not_null(s);
	uint64_t injected = atomic_load(&F.injected), blocked;
	uint64_t out = messages_out(injected, &blocked);
	uint64_t dropped = total(s, "tx_dropped.b");
	cr_log_info("tx full: %llu injected, %llu out, %llu tx_dropped",
		    (unsigned long long)injected, (unsigned long long)out,
		    (unsigned long long)dropped);
	cr_assert_gt(dropped, 0, "the TX queue was never full");
	cr_assert_eq(total(s, "rx_packets.a"), injected);
	cr_assert_eq(total(s, "tx_packets.b"), out);
	/* Everything received went out, was removed by a verdict, or was dropped
	 * at TX and counted. */
	cr_assert_eq(injected, out + total(s, "datagrams_removed") + dropped);
	cr_assert_eq(total(s, "datagrams_removed"), total(s, "verdicts.blocked"));
	cr_assert_eq(total(s, "messages"), injected, "every message received was scanned");
	sluice_json_free(tx_full.stats);
	teardown();
}

/* ---- mbuf pool exhausted ---- */

static struct {
	atomic_uint_fast64_t taken;
	uint64_t lost;
	pthread_t thread;
	struct sluice_json *stats;
} pool;

/* Takes every mbuf of the daemon's pool as soon as it exists and keeps taking
 * what comes back until the driver has failed `lost` receives (or a deadline),
 * then returns them all. */
static void *exhaust_pool(void *arg)
{
	(void)arg;
	run_anywhere();
	struct rte_mempool *mp = NULL;
	for (uint64_t deadline = now_ns() + 10000000000ull; mp == NULL && now_ns() < deadline;)
		mp = rte_mempool_lookup("sluice_mbufs_s0");
	if (mp == NULL) {
		fail("the daemon's mbuf pool never appeared");
		return NULL;
	}
	size_t cap = mp->size, n = 0;
	void **held = calloc(cap, sizeof(*held));
	uint64_t until = now_ns() + 10000000000ull;
	struct rte_eth_stats st = {0};
	while (now_ns() < until && st.rx_nombuf < pool.lost) {
		while (n < cap && rte_mempool_get(mp, &held[n]) == 0)
			n++;
		rte_eth_stats_get(0, &st);
	}
	atomic_store(&pool.taken, n);
	rte_mempool_put_bulk(mp, held, (unsigned)n);
	free(held);
	return NULL;
}

static void start_exhausting(void)
{
	pthread_create(&pool.thread, NULL, exhaust_pool, NULL);
}

static void scenario_pool(void)
{
	/* The pcap files are read once; wait until the worker has read them. */
	settle();
	pool.stats = control("stats", false);
}

Test(fault_injection, mbuf_pool_exhausted_loses_packets_at_rx_counted_never_unscanned,
     .timeout = 240)
{
	fixture(120000);
	pool.lost = 2000;
	F.after_eal = start_exhausting;
	run(scenario_pool, false);
	pthread_join(pool.thread, NULL);
	const struct sluice_json *s = pool.stats;
	cr_assert_not_null(s);
	uint64_t blocked;
	uint64_t out = messages_out(F.pcap_packets, &blocked);
	uint64_t nombuf = (uint64_t)sluice_json_num(path(s, "ports", "a"), "rx_nombuf", -1);
	uint64_t received = total(s, "rx_packets.a");
	cr_log_info("pool: %llu mbufs held, %llu packets, %llu received, %llu no-mbuf, %llu out",
		    (unsigned long long)atomic_load(&pool.taken),
		    (unsigned long long)F.pcap_packets, (unsigned long long)received,
		    (unsigned long long)nombuf, (unsigned long long)out);
	cr_assert_gt(atomic_load(&pool.taken), 0);
	cr_assert_geq(nombuf, pool.lost, "the pool never ran dry for the driver");
	/* The driver read every packet: each was received or lost for want of an
	 * mbuf, and counted there. */
	cr_assert_eq(received + nombuf, F.pcap_packets);
	cr_assert_eq(total(s, "messages"), received, "every message received was scanned");
	cr_assert_eq(out + total(s, "datagrams_removed") + total(s, "tx_dropped.b"), received);
	cr_assert_gt(out, 0, "traffic came back once the pool refilled");
	sluice_json_free(pool.stats);
	teardown();
}

/* ---- event ring full ---- */

static struct sluice_json *event_stats;

static void scenario_events(void)
{
	sleep_ms(2000);
	settle();
	event_stats = control("stats", false);
}

static uint64_t count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	uint64_t n = 0;
	int c;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A run with a 64-event ring under injected traffic, and what it did. */
struct full_ring_run {
	const struct sluice_json *s; /* stats at the end of the traffic */
	uint64_t injected, blocked, out, acted, written;
};

static struct full_ring_run run_full_ring(unsigned events_full, unsigned wait_us)
{
	fixture(0);
	F.opt.event_ring = 64;
	F.opt.events_full = events_full;
	F.opt.events_wait_us = wait_us;
	F.inject_pause_us = 100;
	run(scenario_events, true);
	struct full_ring_run r = {.s = event_stats};
	cr_assert_not_null(r.s);
	r.injected = atomic_load(&F.injected);
	r.out = messages_out(r.injected, &r.blocked);
	r.acted = total(r.s, "verdicts.masked") + total(r.s, "verdicts.blocked") +
		  total(r.s, "verdicts.flagged");
	r.written = count_lines(F.events);
	cr_log_info("events: %llu messages acted on, %llu written, %llu dropped, %llu waited",
		    (unsigned long long)r.acted, (unsigned long long)r.written,
		    (unsigned long long)total(r.s, "events_dropped"),
		    (unsigned long long)total(r.s, "events_waited"));
	/* Out, removed by a verdict, or dropped at a full TX queue and counted. */
	cr_assert_eq(r.out + total(r.s, "datagrams_removed") + total(r.s, "tx_dropped.b"),
		     r.injected);
	cr_assert_eq(total(r.s, "verdicts.blocked"), r.blocked);
	cr_assert_eq((uint64_t)sluice_json_num(r.s, "events_written", -1), r.written);
	return r;
}

Test(fault_injection, event_ring_full_drops_counted_events_and_verdicts_still_apply, .timeout = 180)
{
	struct full_ring_run r = run_full_ring(SLUICE_EVENTS_DROP, 1000);
	uint64_t dropped = total(r.s, "events_dropped");
	cr_assert_gt(dropped, 0, "the event ring never filled");
	cr_assert_str_eq(sluice_json_str(sluice_json_get(r.s, "events_full"), "policy", ""),
			 "drop");
	cr_assert_eq(total(r.s, "events_waited"), 0);
	/* One event per message acted on (each matches one rule), every one
	 * written or counted as dropped. */
	cr_assert_eq(r.written + dropped, r.acted);
	sluice_json_free(event_stats);
	teardown();
}

/* --events-full wait: the same full ring, and the worker waits for the sink
 * instead of dropping. The bound is ten seconds, far beyond any drain, so that a
 * busy CI machine cannot turn a wait into a drop. */
Test(fault_injection, event_ring_full_under_wait_policy_loses_no_event, .timeout = 180)
{
	struct full_ring_run r = run_full_ring(SLUICE_EVENTS_WAIT, 10000000);
	const struct sluice_json *policy = sluice_json_get(r.s, "events_full");
	cr_assert_str_eq(sluice_json_str(policy, "policy", ""), "wait");
	cr_assert_eq(sluice_json_num(policy, "wait_us", -1), 10000000);
	cr_assert_gt(total(r.s, "events_waited"), 0, "the ring never filled");
	cr_assert_gt(total(r.s, "event_wait_ns"), 0);
	cr_assert_eq(total(r.s, "event_wait_timeouts"), 0);
	cr_assert_eq(total(r.s, "events_dropped"), 0);
	cr_assert_eq(r.written, r.acted, "every event written");
	sluice_json_free(event_stats);
	teardown();
}

/* ---- the events file moved by logrotate, then SIGHUP ---- */

static struct {
	char moved[512];
	struct sluice_json *stats;
} reopen_run;

static void scenario_reopen(void)
{
	sleep_ms(500);
	if (rename(F.events, reopen_run.moved) != 0) {
		fail("rename %s: %s", F.events, strerror(errno));
		return;
	}
	/* Until the daemon hears of it, lines go on into the moved file. */
	sleep_ms(200);
	sluice_daemon_request_reopen(); /* what SIGHUP does */
	sleep_ms(500);
	settle();
	reopen_run.stats = control("stats", false);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	rewind(f);
	char *buf = malloc((size_t)size + 1);
	cr_assert_not_null(buf);
	size_t got = fread(buf, 1, (size_t)size, f);
	fclose(f);
	buf[got] = '\0';
	return buf;
}

/* Phone lines carry the matched number as snippet, and its hash under the
 * configured key; returns the file's line count. */
static uint64_t check_phone_lines(const char *path, const char *want_hash)
{
	char *text = slurp(path), *save = NULL;
	uint64_t lines = 0, phones = 0;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), lines++) {
		cr_assert_eq(line[strlen(line) - 1], '}', "a whole line: %s", line);
		if (strstr(line, "\"rule\":\"phone-cn-mobile\"") == NULL)
			continue;
		phones++;
		cr_assert_not_null(strstr(line, want_hash), "%s", line);
		cr_assert_not_null(strstr(line, ",\"snippet\":\"13812345678\"}"), "%s", line);
	}
	cr_assert_gt(phones, 0, "%s has phone events", path);
	free(text);
	return lines;
}

Test(fault_injection, events_file_moved_then_reopened_loses_no_line, .timeout = 180)
{
	fixture(0);
	char *key_path = in_dir("event-hash.key");
	FILE *kf = fopen(key_path, "w");
	cr_assert_not_null(kf);
	fputs("00112233445566778899aabbccddeeff\n", kf);
	fclose(kf);
	F.opt.event_hash_key = key_path;
	F.opt.event_snippet = 64;
	snprintf(reopen_run.moved, sizeof(reopen_run.moved), "%s.1", F.events);
	run(scenario_reopen, true);
	struct sluice_json *s = reopen_run.stats;
	cr_assert_not_null(s);

	uint64_t key[2];
	cr_assert_eq(sluice_siphash_key_parse("00112233445566778899aabbccddeeff", key), 0);
	char want_hash[64];
	snprintf(want_hash, sizeof(want_hash), "\"text_hash\":\"%016llx\"",
		 (unsigned long long)sluice_siphash24(key, "13812345678", 11));
	uint64_t before = check_phone_lines(reopen_run.moved, want_hash);
	uint64_t after = check_phone_lines(F.events, want_hash);
	cr_log_info("events: %llu lines before the reopen, %llu after", (unsigned long long)before,
		    (unsigned long long)after);
	cr_assert_eq(sluice_json_num(s, "event_file_reopens", -1), 1);
	cr_assert_eq(total(s, "events_dropped"), 0);
	/* One event per match; every one in one of the two files. */
	cr_assert_eq(before + after, total(s, "matches"));
	sluice_json_free(s);
	teardown();
}

/* ---- a pack load failing at each step of the swap ---- */

static atomic_int hs_fail_at;	  /* fail the n-th allocation from now (0: never) */
static atomic_int hs_allocations; /* counted while armed */
static atomic_bool hs_armed;

static void *failing_alloc(size_t size)
{
	if (atomic_load(&hs_armed)) {
		int n = atomic_fetch_add(&hs_allocations, 1) + 1;
		if (n == atomic_load(&hs_fail_at))
			return NULL;
	}
	return malloc(size);
}

static struct {
	int steps;
	int hs_points;
	char last_error[1024];
	struct sluice_json *stats;
} load_fail;

static void expect_refused(const char *what, const char *req, const char *want_in_error)
{
	char why[1024];
	if (control_ok(req, why, sizeof(why))) {
		fail("%s: reload was accepted", what);
		return;
	}
	if (want_in_error != NULL && strstr(why, want_in_error) == NULL)
		fail("%s: refusal \"%s\" lacks \"%s\"", what, why, want_in_error);
	if (strstr(why, "SECRET") != NULL)
		fail("%s: refusal \"%s\" quotes the file", what, why);
	if (strcmp(active_version(), "2026.11.23-1") != 0)
		fail("%s: the running pack changed to %s", what, active_version());
	snprintf(load_fail.last_error, sizeof(load_fail.last_error), "%s", why);
	load_fail.steps++;
	sleep_ms(50); /* traffic keeps flowing under the running pack */
}

static void scenario_load_failures(void)
{
	char req[1024];
	char *fifo = in_dir("rules.fifo"), *junk = in_dir("junk.yaml"), *trunc = in_dir("t.pack");
	char *altered = in_dir("altered.pack"), *foreign = in_dir("foreign.pack");
	char *bad_yaml = in_dir("bad.yaml"), *big = in_dir("big.pack");
	char err[1024];
	sleep_ms(200);

	snprintf(req, sizeof(req), "reload %s/missing.pack", F.dir);
	expect_refused("missing file", req, "cannot open");

	mkfifo(fifo, 0600);
	snprintf(req, sizeof(req), "reload %s", fifo);
	expect_refused("FIFO", req, "not a regular file");

	FILE *f = fopen(junk, "w");
	fputs("root:x:0:0:SECRET:/root:/bin/sh\n", f);
	fclose(f);
	snprintf(req, sizeof(req), "reload %s", junk);
	expect_refused("not a rule file", req, "not a YAML mapping");

	f = fopen(bad_yaml, "w");
	fputs("name: bad\nversion: '1'\nrules:\n  - id: x\n    category: c\n    action: block\n"
	      "    pattern: '(unclosed'\n",
	      f);
	fclose(f);
	snprintf(req, sizeof(req), "reload %s", bad_yaml);
	expect_refused("rule that does not compile", req, "rule x");

	/* Pack files damaged in each part of the envelope and body. */
	uint8_t *img;
	size_t len;
	struct stat st;
	cr_assert_eq(stat(F.pack_a2, &st), 0);
	len = (size_t)st.st_size;
	img = malloc(len);
	f = fopen(F.pack_a2, "rb");
	cr_assert_eq(fread(img, 1, len, f), len);
	fclose(f);
	f = fopen(trunc, "wb");
	fwrite(img, 1, len / 2, f);
	fclose(f);
	snprintf(req, sizeof(req), "reload %s", trunc);
	expect_refused("truncated pack", req, "length mismatch");
	img[len - 10] ^= 0x5a;
	f = fopen(altered, "wb");
	fwrite(img, 1, len, f);
	fclose(f);
	img[len - 10] ^= 0x5a;
	snprintf(req, sizeof(req), "reload %s", altered);
	expect_refused("altered body", req, "SHA-256");

	/* Signed by a key the daemon does not trust. */
	char *key = in_dir("other.key"), *pub = in_dir("other.pub");
	cr_assert_eq(sluice_keygen(key, pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(
	    sluice_pack_sign(F.pack_a2, key, foreign, SLUICE_SIGN_ADD, NULL, err, sizeof(err)), 0,
	    "%s", err);
	snprintf(req, sizeof(req), "reload %s", foreign);
	expect_refused("foreign signature", req, "signed by unknown key");

	/* Larger than the memory cap leaves free: refused on its size. */
	f = fopen(big, "wb");
	fwrite(img, 1, len, f);
	static uint8_t zeros[1 << 16];
	for (int i = 0; i < 64; i++)
		fwrite(zeros, 1, sizeof(zeros), f);
	fclose(f);
	snprintf(req, sizeof(req), "reload %s", big);
	expect_refused("over the memory cap", req, "memory cap");
	free(img);

	/* Every allocation Hyperscan makes for a good reload, failed in turn:
	 * deserializing each database, the trial scratch, the scratch of each
	 * worker. First count them on a reload that succeeds, then back. */
	snprintf(req, sizeof(req), "reload %s", F.pack_a2);
	atomic_store(&hs_fail_at, 0);
	atomic_store(&hs_allocations, 0);
	atomic_store(&hs_armed, true);
	bool ok = control_ok(req, err, sizeof(err));
	atomic_store(&hs_armed, false);
	int points = atomic_load(&hs_allocations);
	if (!ok || strcmp(active_version(), "same-rules-2") != 0)
		fail("the good reload failed: %s", err);
	snprintf(req, sizeof(req), "reload %s", F.pack_a);
	if (!control_ok(req, err, sizeof(err)))
		fail("reload back to A failed: %s", err);
	load_fail.hs_points = points;
	for (int k = 1; k <= points; k++) {
		snprintf(req, sizeof(req), "reload %s", F.pack_a2);
		atomic_store(&hs_allocations, 0);
		atomic_store(&hs_fail_at, k);
		atomic_store(&hs_armed, true);
		char what[64];
		snprintf(what, sizeof(what), "Hyperscan allocation %d of %d failing", k, points);
		expect_refused(what, req, NULL);
		atomic_store(&hs_armed, false);
	}
	/* After all that, a good reload still works. */
	snprintf(req, sizeof(req), "reload %s", F.pack_a2);
	if (!control_ok(req, err, sizeof(err)) || strcmp(active_version(), "same-rules-2") != 0)
		fail("the reload after the failures did not take: %s", err);
	sleep_ms(200);
	settle();
	load_fail.stats = control("stats", false);
	free(fifo);
	free(junk);
	free(trunc);
	free(altered);
	free(foreign);
	free(bad_yaml);
	free(big);
	free(key);
	free(pub);
}

Test(fault_injection, pack_load_failing_at_each_step_keeps_the_running_pack, .timeout = 300)
{
	fixture(0);
	char err[1024];
	char *key = in_dir("release.key"), *pub = in_dir("release.pub");
	cr_assert_eq(sluice_keygen(key, pub, err, sizeof(err)), 0, "%s", err);
	F.opt.trusted_keys[0] = strdup(pub);
	F.opt.trusted_key_count = 1;
	/* The default pack and its scratch fit; a 4 MiB file does not. */
	F.opt.memory_cap_mb = 3;
	cr_assert_eq(hs_set_allocator(failing_alloc, free), HS_SUCCESS);
	run(scenario_load_failures, true);
	hs_set_allocator(NULL, NULL);
	const struct sluice_json *s = load_fail.stats;
	cr_assert_not_null(s);
	cr_log_info("load failures: %d refused reloads (%d Hyperscan allocation points), "
		    "last: %s",
		    load_fail.steps, load_fail.hs_points, load_fail.last_error);
	cr_assert_geq(load_fail.hs_points, 3, "a reload makes at least a database and scratch");
	cr_assert_eq(load_fail.steps, 8 + load_fail.hs_points);
	uint64_t injected = atomic_load(&F.injected), blocked;
	uint64_t out = messages_out(injected, &blocked);
	/* Out, removed by a verdict, or dropped at a full TX queue and counted. */
	cr_assert_eq(out + total(s, "datagrams_removed") + total(s, "tx_dropped.b"), injected);
	cr_assert_eq(total(s, "messages"), injected);
	sluice_json_free(load_fail.stats);
	free(key);
	free(pub);
	teardown();
}

/* ---- a worker stalled past --stall-ms ---- */

static atomic_bool stall_armed;
static atomic_uint_fast64_t stall_ms_wanted;

/* An RX callback on worker 1's queue: the worker runs it inside
 * rte_eth_rx_burst(), so a busy wait here is a stalled worker. */
static uint16_t stall_rx(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n,
			 uint16_t max, void *arg)
{
	(void)port, (void)queue, (void)pkts, (void)max, (void)arg;
	if (atomic_exchange(&stall_armed, false)) {
		uint64_t until = now_ns() + atomic_load(&stall_ms_wanted) * 1000000ull;
		while (now_ns() < until)
			;
	}
	return n;
}

static struct {
	char refusal[512];
	bool stuck_seen, stuck_cleared, reload_after;
	uint64_t w0_progress;
	struct sluice_json *stats;
} stall;

static bool worker_stuck(unsigned w)
{
	struct sluice_json *j = control("status", false);
	const struct sluice_json *ws = sluice_json_get(j, "workers");
	bool stuck = ws != NULL && w < ws->count && sluice_json_bool(ws->items[w], "stuck", false);
	sluice_json_free(j);
	return stuck;
}

static void scenario_stall(void)
{
	unsigned victim = F.workers - 1;
	char req[1024];
	sleep_ms(300);
	atomic_store(&stall_ms_wanted, 2500);
	atomic_store(&stall_armed, true);
	sleep_ms(900); /* past --stall-ms (500) */
	uint64_t before[MAX_WORKERS], after[MAX_WORKERS];
	worker_iterations(before);
	stall.stuck_seen = worker_stuck(victim);
	snprintf(req, sizeof(req), "reload %s", F.pack_a2);
	char why[1024] = "";
	if (control_ok(req, why, sizeof(why)))
		fail("a reload was accepted while worker %u was stalled", victim);
	snprintf(stall.refusal, sizeof(stall.refusal), "%.*s", (int)sizeof(stall.refusal) - 1, why);
	/* A refusal takes milliseconds; on a loaded 2-vCPU machine the other
	 * worker may not finish a loop in so short a window: give it 100 ms. */
	sleep_ms(100);
	worker_iterations(after);
	stall.w0_progress = F.workers > 1 ? after[0] - before[0] : 1;
	/* Wait for the stall to end, then everything works again. */
	sleep_ms(2500);
	stall.stuck_cleared = !worker_stuck(victim);
	stall.reload_after =
	    control_ok(req, why, sizeof(why)) && strcmp(active_version(), "same-rules-2") == 0;
	settle();
	stall.stats = control("stats", false);
}

Test(fault_injection, worker_stalled_past_stall_ms_is_reported_and_blocks_no_swap_forever,
     .timeout = 180)
{
	fixture(0);
	F.opt.stall_ms = 500;
	setup_eal();
	unsigned victim = F.workers - 1;
	/* Port A (0) queue `victim` is polled only by that worker. */
	cr_assert_not_null(rte_eth_add_rx_callback(0, (uint16_t)victim, stall_rx, NULL));
	F.scenario = scenario_stall;
	pthread_t inj, col, scn;
	pthread_create(&inj, NULL, injector, NULL);
	pthread_create(&col, NULL, collector, NULL);
	pthread_create(&scn, NULL, scenario_main, NULL);
	int rc = sluice_daemon_run(&F.opt);
	pthread_join(scn, NULL);
	pthread_join(inj, NULL);
	atomic_store(&F.stop_collecting, true);
	pthread_join(col, NULL);
	cr_assert_eq(rc, 0);
	cr_assert_str_empty(F.failure, "%s", F.failure);
	cr_assert_eq(atomic_load(&F.wrong), 0, "%s", F.wrong_what);
	cr_log_info("stall: refusal \"%s\"", stall.refusal);
	cr_assert(stall.stuck_seen, "status never showed worker %u stuck", victim);
	char want[64];
	snprintf(want, sizeof(want), "worker %u (lcore %u) has not finished a loop", victim,
		 victim + 1);
	cr_assert_not_null(strstr(stall.refusal, want), "refusal: %s", stall.refusal);
	cr_assert_not_null(strstr(stall.refusal, "the running pack stays"), "%s", stall.refusal);
	cr_assert_gt(stall.w0_progress, 0, "the other worker stopped too");
	cr_assert(stall.stuck_cleared, "the worker was still shown stuck after the stall");
	cr_assert(stall.reload_after, "no reload after the stall");
	const struct sluice_json *s = stall.stats;
	uint64_t injected = atomic_load(&F.injected), blocked;
	uint64_t out = messages_out(injected, &blocked);
	/* Packets queued behind the stalled worker waited: none was lost
	 * unless counted. */
	/* Out, removed by a verdict, or dropped at a full TX queue and counted. */
	cr_assert_eq(out + total(s, "datagrams_removed") + total(s, "tx_dropped.b"), injected);
	cr_assert_eq(total(s, "messages"), injected);
	sluice_json_free(stall.stats);
	teardown();
}

/* ---- the control socket under concurrent misuse ---- */

#define IDLE_CONNECTIONS 1000

static struct {
	atomic_bool stop;
	atomic_uint_fast64_t abuses;
	int reloads_ok, reloads_failed;
	int status_ok, status_failed;
	double status_worst_ms;
	struct sluice_json *status, *stats;
} misuse;

static int raw_connect(void)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", F.socket);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Idle connections, half-written and huge requests, NUL bytes, clients that
 * vanish before or during their reply, and garbage, in a loop. */
static void *abuser(void *arg)
{
	unsigned kind = *(unsigned *)arg;
	run_anywhere();
	static int idle[IDLE_CONNECTIONS];
	int held = 0;
	char huge[10240];
	memset(huge, 'r', sizeof(huge));
	while (!atomic_load(&misuse.stop)) {
		int fd = raw_connect();
		if (fd < 0) {
			usleep(1000);
			continue;
		}
		switch (kind) {
		case 0: /* idle, recycled once all are held */
			if (held == IDLE_CONNECTIONS) {
				for (int i = 0; i < held; i++)
					close(idle[i]);
				held = 0;
			}
			idle[held++] = fd;
			if (held % 2)
				send(fd, "stat", 4, MSG_NOSIGNAL);
			fd = -1;
			break;
		case 1: /* huge request, no newline */
			send(fd, huge, sizeof(huge), MSG_NOSIGNAL);
			break;
		case 2: /* vanishing before or during a big reply */
			send(fd, "stats rules\n", 12, MSG_NOSIGNAL);
			break;
		default: /* NUL bytes and garbage */
			send(fd, "stop\0\n\xff\xfe garbage\n", 18, MSG_NOSIGNAL);
			break;
		}
		atomic_fetch_add(&misuse.abuses, 1);
		if (fd >= 0)
			close(fd);
		usleep(kind == 0 ? 200 : 2000);
	}
	for (int i = 0; i < held; i++)
		close(idle[i]);
	return NULL;
}

static void scenario_misuse(void)
{
	unsigned kinds[4] = {0, 1, 2, 3};
	pthread_t abusers[4];
	for (unsigned k = 0; k < 4; k++)
		pthread_create(&abusers[k], NULL, abuser, &kinds[k]);
	char req[1024];
	/* At least 20 rounds, and 5 s: slow machines and sanitizers get the same
	 * amount of misuse per swap. */
	uint64_t until = now_ns() + 5000000000ull, limit = now_ns() + 60000000000ull;
	for (int i = 0; (now_ns() < until || i < 20) && now_ns() < limit; i++) {
		/* A legitimate operator asks for status; a swap happens too. */
		uint64_t t0 = now_ns();
		struct sluice_json *j = control("status", true);
		double ms = (double)(now_ns() - t0) / 1e6;
		if (j != NULL && sluice_json_bool(j, "ok", false)) {
			misuse.status_ok++;
			if (ms > misuse.status_worst_ms)
				misuse.status_worst_ms = ms;
		} else {
			misuse.status_failed++;
		}
		sluice_json_free(j);
		snprintf(req, sizeof(req), "reload %s", i % 2 ? F.pack_a : F.pack_a2);
		char why[512];
		if (control_ok(req, why, sizeof(why)))
			misuse.reloads_ok++;
		else
			misuse.reloads_failed++;
		sleep_ms(100);
	}
	atomic_store(&misuse.stop, true);
	for (unsigned k = 0; k < 4; k++)
		pthread_join(abusers[k], NULL);
	settle();
	misuse.status = control("status", false);
	misuse.stats = control("stats", false);
}

Test(fault_injection, control_socket_misuse_under_traffic_and_swaps_delays_no_one, .timeout = 240)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
		rl.rlim_cur = 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	fixture(0);
	run(scenario_misuse, true);
	cr_assert_not_null(misuse.status);
	const struct sluice_json *cc = sluice_json_get(misuse.status, "control_clients");
	cr_log_info("misuse: %llu abusive connections, %d status ok (worst %.1f ms), %d reloads; "
		    "evicted %.0f, bad requests %.0f, vanished %.0f, request timeouts %.0f",
		    (unsigned long long)atomic_load(&misuse.abuses), misuse.status_ok,
		    misuse.status_worst_ms, misuse.reloads_ok, sluice_json_num(cc, "evicted", -1),
		    sluice_json_num(cc, "bad_requests", -1), sluice_json_num(cc, "vanished", -1),
		    sluice_json_num(cc, "request_timeouts", -1));
	cr_assert_eq(misuse.status_failed, 0, "a legitimate status went unanswered");
	cr_assert_eq(misuse.reloads_failed, 0, "a reload failed under misuse");
	cr_assert_geq(misuse.reloads_ok, 20);
	cr_assert_gt(sluice_json_num(cc, "evicted", 0), 0);
	cr_assert_gt(sluice_json_num(cc, "bad_requests", 0), 0);
	cr_assert_gt(sluice_json_num(cc, "served", 0), misuse.status_ok);
	const struct sluice_json *s = misuse.stats;
	uint64_t injected = atomic_load(&F.injected), blocked;
	uint64_t out = messages_out(injected, &blocked);
	/* Out, removed by a verdict, or dropped at a full TX queue and counted. */
	cr_assert_eq(out + total(s, "datagrams_removed") + total(s, "tx_dropped.b"), injected);
	cr_assert_eq(total(s, "messages"), injected);
	sluice_json_free(misuse.status);
	sluice_json_free(misuse.stats);
	teardown();
}

/* ---- SIGTERM and SIGINT during a swap (the sluice program itself) ---- */

/* Waits up to timeout_s for pid; its exit status, or -1 (then it is killed). */
static int wait_exit(pid_t pid, double timeout_s)
{
	int status;
	if (ts_child_wait(pid, timeout_s, &status))
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

struct reload_call {
	const char *socket;
	char request[1024];
	int rc;
	char *reply;
	char err[512];
};

static void *reload_thread(void *arg)
{
	struct reload_call *c = arg;
	c->rc =
	    sluice_ctl_request(c->socket, c->request, 120000, &c->reply, c->err, sizeof(c->err));
	return NULL;
}

/* The daemon swaps in a pack that takes seconds to compile while traffic
 * flows; `signals` arrive during the compile. The swap in progress completes,
 * then the daemon stops cleanly: exit 0, its client answered, its summary,
 * events and audit log whole, its counters adding up. */
static void signal_during_swap(const int *signals, unsigned count)
{
	char *dir = ts_make_tmpdir("fault-signal");
	char file[8][512];
	const char *names[8] = {"in.pcap", "a.pack",	   "sluice.sock", "events.jsonl",
				"log",	   "summary.json", "audit.jsonl", "empty.pcap"};
	for (int i = 0; i < 8; i++)
		snprintf(file[i], sizeof(file[i]), "%s/%s", dir, names[i]);
	/* Mostly clean traffic, one phone number in 64: events stay few, so the
	 * swap and the signal are what the control thread is busy with. */
	struct ts_packet pk[64];
	uint8_t bufs[64][256];
	for (uint64_t id = 1; id <= 64; id++) {
		pk[id - 1].data = bufs[id - 1];
		uint64_t as = id == 64 ? 2 : 1; /* the texts of ids 2 and 1 */
		struct sluice_wire_message m = ts_msg(id, text_of(as));
		pk[id - 1].len = ts_build_datagram(bufs[id - 1], sizeof(bufs[0]), id % 3 == 0,
						   id % 5 == 0, &m, 1);
	}
	cr_assert_eq(ts_pcap_write(file[0], pk, 64), 0);
	compile_to("patterns/rules/default.yaml", file[1], NULL);
	/* 20,000 literals: a compile of a few hundred ms or more, with the default
	 * rules, so the new pack gives the same verdicts. */
	char *slow, *list, *rules_rel = ts_source_path("patterns/rules/default.yaml");
	int watch = inotify_init1(IN_CLOEXEC);
	cr_assert_geq(watch, 0);
	cr_assert_neq(asprintf(&slow, "%s/slow.yaml", dir), -1);
	cr_assert_neq(asprintf(&list, "%s/titles.txt", dir), -1);
	FILE *lf = fopen(list, "w");
	for (unsigned i = 0; i < 20000; i++)
		fprintf(lf, "catalogue work %06u %c%c\n", i * 7919 % 1000003, 'a' + i % 26,
			'a' + i / 26 % 26);
	fclose(lf);
	lf = fopen(slow, "w");
	fprintf(lf,
		"name: slow\nversion: slow-1\ninclude:\n  - %s\nrules:\n  - id: titles\n"
		"    list: titles.txt\n    action: block\n    category: copyright\n",
		rules_rel);
	fclose(lf);
	free(rules_rel);
	/* The swap has read its list (and compiles next) when the file is closed. */
	cr_assert_geq(inotify_add_watch(watch, list, IN_CLOSE_NOWRITE), 0);
	free(list);
	char *sluice = ts_build_path("dataplane/sluice");
	char vdev_a[1100], vdev_b[64], prefix[64];
	snprintf(vdev_a, sizeof(vdev_a), "net_pcap0,rx_pcap=%s,infinite_rx=1", file[0]);
	snprintf(vdev_b, sizeof(vdev_b), "net_null0,no-rx=1");
	snprintf(prefix, sizeof(prefix), "fsig%d", (int)getpid());
	char *argv[] = {
	    sluice,	   "--no-huge",	  "-m",	      "512",	       "-l",
	    "0-1",	   "--no-shconf", "--no-pci", "--file-prefix", prefix,
	    "--vdev",	   vdev_a,	  "--vdev",   vdev_b,	       "--log-level",
	    "*:error",	   "--",	  "--rules",  file[1],	       "--control-socket",
	    file[2],	   "--events",	  file[3],    "--summary",     file[5],
	    "--audit-log", file[6],	  NULL};
	pid_t pid = ts_spawn(argv, file[4]);

	struct reload_call call = {.socket = file[2]};
	snprintf(call.request, sizeof(call.request), "reload %s", slow);
	char *reply = NULL, err[512];
	bool up = false;
	for (int i = 0; i < 1000 && !up; i++) {
		up = sluice_ctl_request(file[2], "status", 2000, &reply, err, sizeof(err)) == 0;
		free(reply);
		reply = NULL;
		if (!up)
			sleep_ms(20);
	}
	cr_assert(up, "the daemon never answered: %s", slurp(file[4]));
	pthread_t t;
	pthread_create(&t, NULL, reload_thread, &call);
	struct pollfd pfd = {.fd = watch, .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, 60000), 1, "the swap never read its list");
	close(watch);
	for (unsigned i = 0; i < count; i++) {
		kill(pid, signals[i]);
		sleep_ms(100);
	}
	int rc = wait_exit(pid, 240);
	pthread_join(t, NULL);
	char *log = slurp(file[4]);
	cr_assert_eq(rc, 0, "sluice exited %d:\n%s", rc, log);
	cr_assert_not_null(strstr(log, "Sluice summary"), "%s", log);
	/* The client of the swap got its answer: the swap completed. */
	cr_assert_eq(call.rc, 0, "the reload's client got no reply: %s\n%s", call.err, log);
	cr_assert_not_null(strstr(call.reply, "\"ok\":true"), "%s", call.reply);
	cr_assert_not_null(strstr(call.reply, "\"version\":\"slow-1\""), "%s", call.reply);

	/* Counters add up: everything received was forwarded, removed or
	 * dropped at TX, and every datagram was scanned. */
	char *summary = slurp(file[5]);
	struct sluice_json *sum = sluice_json_parse(summary);
	free(summary);
	cr_assert_not_null(sum, "no summary JSON");
	const struct sluice_json *t2 = path(sum, "stats", "total");
	uint64_t rx = (uint64_t)sluice_json_num(sluice_json_get(t2, "rx_packets"), "a", -1);
	uint64_t tx = (uint64_t)sluice_json_num(sluice_json_get(t2, "tx_packets"), "b", -1);
	uint64_t txd = (uint64_t)sluice_json_num(sluice_json_get(t2, "tx_dropped"), "b", -1);
	uint64_t removed = (uint64_t)sluice_json_num(t2, "datagrams_removed", -1) +
			   (uint64_t)sluice_json_num(t2, "datagrams_dropped_bad", -1);
	uint64_t messages = (uint64_t)sluice_json_num(t2, "messages", -1);
	cr_assert_gt(rx, 0);
	cr_assert_eq(rx, tx + txd + removed);
	cr_assert_eq(messages, rx);
	cr_assert_str_eq(sluice_json_str(sum, "pack_version", ""), "slow-1");
	sluice_json_free(sum);

	/* Every event line and audit line is whole. */
	const char *files[2] = {file[3], file[6]};
	for (int i = 0; i < 2; i++) {
		char *text = slurp(files[i]);
		size_t len = strlen(text);
		cr_assert_gt(len, 0, "%s is empty", files[i]);
		cr_assert_eq(text[len - 1], '\n', "%s ends in a partial line", files[i]);
		for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
			struct sluice_json *j = sluice_json_parse(line);
			cr_assert_not_null(j, "%s: not JSON: %.200s", files[i], line);
			sluice_json_free(j);
		}
		free(text);
	}
	char *audit = slurp(file[6]);
	cr_assert_not_null(strstr(audit, "\"version\":\"slow-1\""), "%s", audit);
	free(audit);
	free(call.reply);
	free(log);
	free(slow);
	free(sluice);
	ts_rmtree(dir);
	free(dir);
}

Test(signals, sigterm_during_a_swap_completes_it_then_stops_cleanly, .timeout = 300)
{
	const int sig[1] = {SIGTERM};
	signal_during_swap(sig, 1);
}

Test(signals, sigint_twice_during_a_swap_completes_it_then_stops_cleanly, .timeout = 300)
{
	const int sig[2] = {SIGINT, SIGINT};
	signal_during_swap(sig, 2);
}

/* ---- events to a NATS JetStream cluster that loses a node, then all ---- */

static struct {
	struct ts_nats nats;
	struct sluice_json *stats; /* once the bus had settled */
} B;

static uint64_t stat_of(const struct sluice_json *j, const char *name)
{
	return (uint64_t)sluice_json_num(j, name, -1);
}

static void log_bus(const char *when)
{
	struct sluice_json *j = control("stats", false);
	if (j == NULL)
		return;
	cr_log_info("%s: published %llu, acked %llu, resent %llu, spooled %llu, in the spool %llu, "
		    "lost %llu, connected %s",
		    when, (unsigned long long)stat_of(j, "events_bus_published"),
		    (unsigned long long)stat_of(j, "events_bus_acked"),
		    (unsigned long long)stat_of(j, "events_bus_resent"),
		    (unsigned long long)stat_of(j, "events_bus_spooled"),
		    (unsigned long long)stat_of(j, "events_bus_spool_events"),
		    (unsigned long long)stat_of(j, "events_bus_lost"),
		    sluice_json_bool(j, "bus_connected", false) ? "yes" : "no");
	sluice_json_free(j);
}

/* Under traffic: node 2 killed at 3 s and back at 7 s, the whole cluster
 * killed at 11 s and back at 16 s; traffic stops at 19 s, and the scenario
 * waits for the bus to have every event acknowledged. */
static void scenario_bus(void)
{
	sleep_ms(3000);
	log_bus("before");
	ts_nats_node_kill(&B.nats, 1);
	sleep_ms(4000);
	if (ts_nats_node_start(&B.nats, 1) != 0)
		fail("node 2 did not start again");
	sleep_ms(4000);
	for (unsigned i = 0; i < 3; i++)
		ts_nats_node_kill(&B.nats, i);
	sleep_ms(5000);
	log_bus("cluster down");
	for (unsigned i = 0; i < 3; i++)
		if (ts_nats_node_start(&B.nats, i) != 0)
			fail("node %u did not start again", i + 1);
	sleep_ms(3000);
	settle();
	uint64_t deadline = now_ns() + 90000000000ull;
	for (;;) {
		struct sluice_json *j = control("stats", false);
		bool done = j != NULL && stat_of(j, "events_bus_in_flight") == 0 &&
			    stat_of(j, "events_bus_spool_events") == 0 &&
			    stat_of(j, "events_bus_acked") == stat_of(j, "events_written");
		if (done || now_ns() > deadline) {
			B.stats = j;
			break;
		}
		sluice_json_free(j);
		sleep_ms(200);
	}
	log_bus("settled");
	/* Shut down, not killed: the nodes die with this thread (their death
	 * signal), and a SIGKILL of all three right after the last
	 * acknowledgements can lose what the servers had not yet written out
	 * (nats-server's durability, not Sluice's: CI saw the read-back short). */
	for (unsigned i = 0; i < 3; i++)
		ts_nats_node_shutdown(&B.nats, i);
}

Test(fault_injection, events_bus_cluster_loses_a_node_then_all_and_no_event, .timeout = 300)
{
#if defined(__SANITIZE_ADDRESS__)
	/* 45 s of a 3-node cluster's elections under traffic, timing-bound
	 * and dominated by nats-server: the main build runs it, and the
	 * bus's own code meets the same node loss and outage under the
	 * sanitizers in test_event_bus (cluster_node_loss_and_outage). */
	cr_skip_test("the daemon-under-traffic cluster scenario runs in the main build");
#endif
	char err[512];
	fixture(0);
	char *store = in_dir("nats");
	cr_assert_eq(mkdir(store, 0755), 0);
	cr_assert_eq(ts_nats_start(&B.nats, 3, store, err, sizeof(err)), 0, "%s", err);
	char *spool = in_dir("events.spool");
	F.opt.events_bus = strdup(B.nats.urls);
	F.opt.events_stream_replicas = 3;
	F.opt.events_bus_ack_ms = 2000;
	F.opt.events_spool = strdup(spool);
	/* About 3,000 events/s: under what one JetStream server on this VM
	 * acknowledges, so that the spool fills in the outage and drains after
	 * it, not for the whole run. */
	F.inject_pause_us = 4000;
	/* Every event must reach the sink: a full ring makes the worker wait. */
	F.opt.events_full = SLUICE_EVENTS_WAIT;
	F.opt.events_wait_us = 10000000;
	run(scenario_bus, true);
	cr_assert_not_null(B.stats);
	uint64_t written = count_lines(F.events);
	uint64_t acked = stat_of(B.stats, "events_bus_acked");
	cr_log_info("%llu events written to the file, %llu acknowledged by the stream, %llu "
		    "duplicates acked, %llu resent, %llu reconnects",
		    (unsigned long long)written, (unsigned long long)acked,
		    (unsigned long long)stat_of(B.stats, "events_bus_duplicates"),
		    (unsigned long long)stat_of(B.stats, "events_bus_resent"),
		    (unsigned long long)stat_of(B.stats, "bus_reconnects"));
	cr_assert_gt(written, 10000, "too little traffic to mean anything");
	cr_assert_gt(stat_of(B.stats, "events_bus_spooled"), 0,
		     "the outage never reached the spool");
	cr_assert_eq(total(B.stats, "events_dropped"), 0);
	cr_assert_eq(stat_of(B.stats, "events_bus_lost"), 0);
	cr_assert_eq(acked, stat_of(B.stats, "events_written"), "every event acknowledged");

	/* Nodes started by the scenario's thread went with it (their death
	 * signal); the stores are whole: start the cluster again and read. */
	ts_nats_stop(&B.nats);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(ts_nats_node_start(&B.nats, i), 0);
	struct ts_bus_seen seen;
	cr_assert_eq(ts_nats_read_events(B.nats.urls, "SLUICE_EVENTS", "check", NULL, NULL, &seen,
					 err, sizeof(err)),
		     0, "%s", err);
	cr_log_info("stream: %llu messages, %llu unique, %llu duplicates, %llu out of order, %llu "
		    "missing",
		    (unsigned long long)seen.messages, (unsigned long long)seen.unique,
		    (unsigned long long)seen.duplicates, (unsigned long long)seen.out_of_order,
		    (unsigned long long)seen.missing);
	cr_assert_eq(seen.unique, written, "sent = received");
	cr_assert_eq(seen.missing, 0);
	cr_assert_eq(seen.bad, 0);
	/* In order per worker, but for events sent again after a failure: a
	 * publish lost with the stream's leader while later ones reached the
	 * new leader is stored after them (docs/operations.md; consumers that
	 * need strict order sort by Sluice-Seq). */
	uint64_t resent = stat_of(B.stats, "events_bus_resent");
	cr_assert_leq(seen.out_of_order, resent, "%llu events out of order per worker, %llu resent",
		      (unsigned long long)seen.out_of_order, (unsigned long long)resent);
	ts_nats_stop(&B.nats);
	sluice_json_free(B.stats);
	free(store);
	free(spool);
	teardown();
}
