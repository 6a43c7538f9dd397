#include "soak_run.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "soak_clock.h"

/* How long the daemon may take to load its pack and open its socket. */
#define READY_LIMIT_S 60.0
/* How long the traffic may take to drain once injection stops: the sink
 * rings hold a second or two of traffic, and the collector shares a CPU. */
#define SETTLE_LIMIT_S 60.0
#define SETTLE_POLL_S  0.05

static void fail(struct soak_run *run, const char *fmt, ...)
{
	if (run->error[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(run->error, sizeof(run->error), fmt, ap);
	va_end(ap);
}

int soak_run_init(struct soak_run *run, char *err, size_t err_len)
{
	const struct soak_options *o = run->opt;
	double run_s = o->duration_s;
	soak_injector_init(&run->injector, run->harness, run->ledger, o->rate_msgs,
			   run->daemon->udp_port);
	soak_collector_init(&run->collector, run->harness, run->ledger, run->daemon->udp_port);
	soak_abuse_init(&run->abuse, run->daemon->control_socket, o->abuse_idle,
			o->abuse_connects_per_s, o->abuse_stallers, o->abuse_rude_per_s);
	memset(&run->reloads, 0, sizeof(run->reloads));
	run->reloads.socket = run->daemon->control_socket;
	run->reloads.packs[0] = run->packs->path[0];
	run->reloads.packs[1] = run->packs->path[1];
	run->reloads.every_ms = o->reload_every_ms;
	run->reloads.max_reloads = (unsigned)(run_s * 1000 / o->reload_every_ms) + 1;
	atomic_init(&run->stop_reloads, false);
	atomic_init(&run->daemon_exited, false);
	int rc =
	    soak_operator_init(&run->op, run->daemon->control_socket, o->operator_every_s, run_s);
	if (rc == 0)
		rc = soak_rss_init(&run->rss, o->rss_every_s, run_s);
	if (rc != 0) {
		snprintf(err, err_len, "out of memory for the run's figures");
		return -1;
	}
	return 0;
}

void soak_run_free(struct soak_run *run)
{
	reload_cycle_free(&run->reloads);
	soak_operator_free(&run->op);
	soak_rss_free(&run->rss);
}

static bool keep_reloading(void *arg)
{
	struct soak_run *run = arg;
	return !atomic_load(&run->stop_reloads) && !atomic_load(&run->daemon_exited);
}

static void *reloader_main(void *arg)
{
	struct soak_run *run = arg;
	run->reload_rc = reload_cycle_run(&run->reloads, keep_reloading, run);
	return NULL;
}

static bool same_counters(const struct daemon_counters *a, const struct daemon_counters *b)
{
	return memcmp(a->rx_packets, b->rx_packets, sizeof(a->rx_packets)) == 0 &&
	       memcmp(a->tx_packets, b->tx_packets, sizeof(a->tx_packets)) == 0 &&
	       a->datagrams_removed == b->datagrams_removed && a->bad_input == b->bad_input &&
	       a->messages == b->messages && a->events_written == b->events_written &&
	       a->events_dropped == b->events_dropped;
}

/* Waits until the daemon took in every injected packet and the collector has
 * every packet it sent, the same counters twice in a row (so that a burst in
 * a worker's hands or events still in a ring are not missed). */
static void settle(struct soak_run *run)
{
	const char *sock = run->daemon->control_socket;
	double start = sluice_mono_s(), deadline = start + SETTLE_LIMIT_S;
	struct daemon_counters last = {0};
	bool have_last = false;
	char err[512];
	while (sluice_mono_s() < deadline && !atomic_load(&run->daemon_exited)) {
		struct daemon_counters now;
		if (control_read_counters(sock, &now, err, sizeof(err)) != 0) {
			fail(run, "reading the daemon's counters: %s", err);
			return;
		}
		run->counters = now;
		run->have_counters = true;
		uint64_t injected = atomic_load(&run->injector.datagrams);
		uint64_t collected = atomic_load(&run->collector.packets);
		bool agree = now.rx_packets[0] + now.rx_packets[1] == injected &&
			     now.tx_packets[0] + now.tx_packets[1] == collected;
		if (agree && have_last && same_counters(&now, &last)) {
			run->settled = true;
			run->settle_s = sluice_mono_s() - start;
			return;
		}
		last = now;
		have_last = agree;
		soak_nap(SETTLE_POLL_S);
	}
	const struct daemon_counters *c = &run->counters;
	fail(run,
	     "the traffic did not settle within %.0f s: injected %llu packets, the workers took "
	     "in %llu and sent %llu, the collector has %llu",
	     SETTLE_LIMIT_S, (unsigned long long)atomic_load(&run->injector.datagrams),
	     (unsigned long long)(c->rx_packets[0] + c->rx_packets[1]),
	     (unsigned long long)(c->tx_packets[0] + c->tx_packets[1]),
	     (unsigned long long)atomic_load(&run->collector.packets));
}

enum part { PART_COLLECTOR, PART_INJECTOR, PART_RSS, PART_RELOADER, PART_OPERATOR, PART_COUNT };

struct parts {
	pthread_t thread[PART_COUNT];
	bool started[PART_COUNT];
	bool abuse;
};

static bool start_part(struct parts *p, enum part which, void *(*main)(void *), void *arg)
{
	p->started[which] = pthread_create(&p->thread[which], NULL, main, arg) == 0;
	return p->started[which];
}

static void join_part(struct parts *p, enum part which)
{
	if (p->started[which])
		pthread_join(p->thread[which], NULL);
	p->started[which] = false;
}

/* Injection, reloads, abuse, the operator and the RSS samples end; the
 * collector goes on until the traffic has settled. */
static void stop_load(struct soak_run *run, struct parts *p)
{
	atomic_store(&run->injector.stop, true);
	join_part(p, PART_INJECTOR);
	atomic_store(&run->rss.stop, true);
	join_part(p, PART_RSS);
	if (p->abuse)
		soak_abuse_stop(&run->abuse);
	p->abuse = false;
	atomic_store(&run->stop_reloads, true);
	join_part(p, PART_RELOADER);
	atomic_store(&run->op.stop, true);
	join_part(p, PART_OPERATOR);
	if (run->probing)
		soak_cpu_probes_stop(&run->probes);
	run->probing = false;
}

static void conduct(struct soak_run *run, struct parts *p)
{
	const char *sock = run->daemon->control_socket;
	char err[512];
	if (control_wait_ready(sock, READY_LIMIT_S, &run->daemon_exited, err, sizeof(err)) != 0) {
		fail(run, "the daemon's control socket did not answer: %s", err);
		return;
	}
	if (control_read_status(sock, &run->status_start, err, sizeof(err)) != 0) {
		fail(run, "the first status failed: %s", err);
		return;
	}
	run->have_status_start = true;
	/* Every time in the figures counts from here, when traffic starts. */
	run->origin = sluice_mono_s();
	run->rss.origin = run->origin;
	soak_rss_take(&run->rss);
	if (soak_cpu_probes_start(&run->probes, run->cpus, run->cpu_count, run->origin) != 0) {
		fail(run, "cannot start the CPU probes");
		return;
	}
	run->probing = true;
	if (!start_part(p, PART_COLLECTOR, soak_collector_main, &run->collector) ||
	    !start_part(p, PART_INJECTOR, soak_injector_main, &run->injector) ||
	    !start_part(p, PART_RSS, soak_rss_main, &run->rss) ||
	    !start_part(p, PART_RELOADER, reloader_main, run) ||
	    !start_part(p, PART_OPERATOR, soak_operator_main, &run->op)) {
		fail(run, "cannot start the soak's threads");
		return;
	}
	if (soak_abuse_start(&run->abuse) != 0) {
		fail(run, "cannot start the abuse threads");
		return;
	}
	p->abuse = true;
	fprintf(stderr, "sluice-soak: daemon up; traffic, reloads and abuse for %.0f s\n",
		run->opt->duration_s);

	double start = sluice_mono_s();
	bool whole = soak_sleep_until(start + run->opt->duration_s, &run->daemon_exited);
	run->traffic_s = sluice_mono_s() - start;
	stop_load(run, p);
	soak_rss_take(&run->rss);
	if (!whole) {
		fail(run, "the daemon exited after %.1f s of the %.0f s run", run->traffic_s,
		     run->opt->duration_s);
		return;
	}
	settle(run);
	atomic_store(&run->collector.stop, true);
	join_part(p, PART_COLLECTOR);
	if (control_read_status(sock, &run->status_end, err, sizeof(err)) == 0)
		run->have_status_end = true;
	else
		fail(run, "the last status failed: %s", err);
}

static void *conductor_main(void *arg)
{
	struct soak_run *run = arg;
	struct parts p = {0};
	conduct(run, &p);
	/* Whatever happened, every thread ends and the daemon is told to stop. */
	stop_load(run, &p);
	atomic_store(&run->collector.stop, true);
	join_part(&p, PART_COLLECTOR);
	run->stop_requested = true;
	char err[512];
	if (!atomic_load(&run->daemon_exited) &&
	    control_stop(run->daemon->control_socket, err, sizeof(err)) != 0) {
		fprintf(stderr,
			"sluice-soak: stop over the socket failed (%s); stopping directly\n", err);
		sluice_daemon_request_stop();
	}
	return NULL;
}

int soak_run(struct soak_run *run)
{
	run->error[0] = '\0';
	pthread_t conductor;
	if (pthread_create(&conductor, NULL, conductor_main, run) != 0) {
		fail(run, "cannot start the conductor thread");
		return -1;
	}
	run->daemon_rc = sluice_daemon_run(run->daemon);
	atomic_store(&run->daemon_exited, true);
	pthread_join(conductor, NULL);
	if (run->daemon_rc != 0)
		fail(run, "the daemon failed with status %d (its reason is on stderr)",
		     run->daemon_rc);
	return run->error[0] != '\0' ? -1 : 0;
}
