#include "bench_run.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "clock.h"
#include "daemon.h"

/* How long the daemon may take to load its pack and open its socket. */
#define READY_LIMIT_S 60.0
/* Slack on top of a phase's own length before the conductor gives up on it:
 * the load thread may be descheduled on a shared machine. */
#define PHASE_SLACK_S 30.0
/* Counter reads while waiting for the traffic to settle. */
#define SETTLE_POLL_US 20000

static void fail(struct bench_run *run, const char *fmt, ...)
{
	if (run->error[0] != '\0')
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(run->error, sizeof(run->error), fmt, ap);
	va_end(ap);
}

/* Waits until the load reaches phase (or a later one). */
static bool wait_phase(struct bench_run *run, enum load_phase phase, double limit_s)
{
	double deadline = sluice_mono_s() + limit_s;
	while (traffic_load_phase(run->load) < phase) {
		if (atomic_load(&run->daemon_exited)) {
			fail(run, "the daemon exited while the load was in phase %s",
			     load_phase_name(traffic_load_phase(run->load)));
			return false;
		}
		if (sluice_mono_s() > deadline) {
			fail(run, "the load did not reach phase %s within %.0f s (stuck in %s)",
			     load_phase_name(phase), limit_s,
			     load_phase_name(traffic_load_phase(run->load)));
			return false;
		}
		usleep(5000);
	}
	return true;
}

static bool measuring(void *arg)
{
	struct bench_run *run = arg;
	return traffic_load_phase(run->load) == LOAD_MEASURE && !atomic_load(&run->daemon_exited);
}

static bool same_counters(const struct daemon_counters *a, const struct daemon_counters *b)
{
	return memcmp(a->rx_packets, b->rx_packets, sizeof(a->rx_packets)) == 0 &&
	       memcmp(a->tx_packets, b->tx_packets, sizeof(a->tx_packets)) == 0 &&
	       a->datagrams_removed == b->datagrams_removed && a->bad_input == b->bad_input;
}

/* Everything injected was taken in by the worker, and everything it sent was
 * collected at the sink. */
static bool accounted(const struct daemon_counters *c, uint64_t injected, uint64_t received)
{
	return c->rx_packets[0] + c->rx_packets[1] == injected &&
	       c->tx_packets[0] + c->tx_packets[1] == received;
}

static bool settle(struct bench_run *run)
{
	const char *sock = run->daemon->control_socket;
	struct traffic_load *load = run->load;
	double deadline = sluice_mono_s() + load->plan.settle_limit_s;
	struct daemon_counters last = {0};
	bool have_last = false;
	char err[512];
	while (sluice_mono_s() < deadline && traffic_load_phase(load) == LOAD_SETTLE) {
		struct daemon_counters now;
		if (control_read_counters(sock, &now, err, sizeof(err)) != 0) {
			fail(run, "reading the daemon's counters: %s", err);
			return false;
		}
		uint64_t injected = atomic_load(&load->injected);
		uint64_t received = atomic_load(&load->received);
		bool agree = accounted(&now, injected, received);
		if (agree && have_last && same_counters(&now, &last)) {
			run->counters = now;
			return true;
		}
		last = now;
		have_last = agree;
		usleep(SETTLE_POLL_US);
	}
	uint64_t injected = atomic_load(&load->injected);
	uint64_t received = atomic_load(&load->received);
	run->counters = last;
	fail(run,
	     "the traffic did not settle within %.1f s: injected %llu, the worker received %llu "
	     "and sent %llu, the sink collected %llu",
	     load->plan.settle_limit_s, (unsigned long long)injected,
	     (unsigned long long)(last.rx_packets[0] + last.rx_packets[1]),
	     (unsigned long long)(last.tx_packets[0] + last.tx_packets[1]),
	     (unsigned long long)received);
	return false;
}

static void conduct_load(struct bench_run *run)
{
	const struct load_plan *plan = &run->load->plan;
	char err[512];
	if (control_wait_ready(run->daemon->control_socket, READY_LIMIT_S, &run->daemon_exited, err,
			       sizeof(err)) != 0) {
		fail(run, "the daemon's control socket did not answer: %s", err);
		return;
	}
	traffic_load_start(run->load);
	fprintf(stderr, "sluice-latency-bench: daemon up, load started\n");

	if (!wait_phase(run, LOAD_MEASURE, plan->probe_s + plan->warmup_s + PHASE_SLACK_S))
		return;
	if (run->reloads != NULL && reload_cycle_run(run->reloads, measuring, run) != 0) {
		fail(run, "out of memory for the reload figures");
		return;
	}
	if (!wait_phase(run, LOAD_SETTLE, plan->measure_s + PHASE_SLACK_S))
		return;
	bool settled = settle(run);
	traffic_load_finish(run->load);
	if (settled)
		wait_phase(run, LOAD_DONE, PHASE_SLACK_S);
}

static void *conductor_main(void *arg)
{
	struct bench_run *run = arg;
	conduct_load(run);
	/* Whatever happened, the load ends and the daemon is told to stop. */
	traffic_load_abort(run->load);
	char err[512];
	if (!atomic_load(&run->daemon_exited) &&
	    control_stop(run->daemon->control_socket, err, sizeof(err)) != 0) {
		fprintf(stderr,
			"sluice-latency-bench: stop over the socket failed (%s); "
			"stopping directly\n",
			err);
		sluice_daemon_request_stop();
	}
	return NULL;
}

/* The load thread on its own CPU when there is one; else it shares the main
 * lcore's CPU with the daemon's control thread. Either way the worker's core
 * stays the worker's alone. */
static int start_load_thread(struct bench_run *run, pthread_t *thread)
{
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	rte_cpuset_t cpus = rte_lcore_cpuset(rte_get_main_lcore());
	if (run->load_own_cpu) {
		CPU_ZERO(&cpus);
		CPU_SET(run->load_cpu, &cpus);
	}
	pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	int rc = pthread_create(thread, &attr, traffic_load_main, run->load);
	pthread_attr_destroy(&attr);
	return rc;
}

int bench_run(struct bench_run *run)
{
	atomic_init(&run->daemon_exited, false);
	run->error[0] = '\0';
	memset(&run->counters, 0, sizeof(run->counters));

	pthread_t load_thread, conductor;
	if (start_load_thread(run, &load_thread) != 0) {
		fail(run, "cannot start the load thread");
		return -1;
	}
	if (pthread_create(&conductor, NULL, conductor_main, run) != 0) {
		traffic_load_abort(run->load);
		pthread_join(load_thread, NULL);
		fail(run, "cannot start the conductor thread");
		return -1;
	}
	run->daemon_rc = sluice_daemon_run(run->daemon);
	atomic_store(&run->daemon_exited, true);
	traffic_load_abort(run->load);
	pthread_join(conductor, NULL);
	pthread_join(load_thread, NULL);
	if (run->daemon_rc != 0)
		snprintf(run->error, sizeof(run->error),
			 "the daemon failed (its reason is on stderr)");
	return run->error[0] != '\0' ? -1 : 0;
}
