#include "traffic_load.h"

#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_pause.h>

/* Packets taken from the sink per look: one look stays short next to the
 * injector's pacing, and a full one is followed by another straight away. */
#define COLLECT_BURST 64

struct tally {
	uint64_t packets;
	uint64_t messages;
};

void traffic_load_init(struct traffic_load *load, struct ring_harness *harness,
		       const uint16_t *messages_per_packet, const struct load_plan *plan,
		       struct latency_histogram *histogram)
{
	memset(load, 0, sizeof(*load));
	load->harness = harness;
	load->messages_per_packet = messages_per_packet;
	load->plan = *plan;
	load->histogram = histogram;
	atomic_init(&load->phase, LOAD_WAITING);
	atomic_init(&load->injected, 0);
	atomic_init(&load->received, 0);
	atomic_init(&load->started, false);
	atomic_init(&load->finish, false);
	atomic_init(&load->abort, false);
}

void traffic_load_start(struct traffic_load *load)
{
	atomic_store(&load->started, true);
}

void traffic_load_finish(struct traffic_load *load)
{
	atomic_store(&load->finish, true);
}

void traffic_load_abort(struct traffic_load *load)
{
	atomic_store(&load->abort, true);
}

enum load_phase traffic_load_phase(const struct traffic_load *load)
{
	return (enum load_phase)atomic_load(&load->phase);
}

const char *load_phase_name(enum load_phase phase)
{
	static const char *const names[] = {"waiting", "probe",	 "warmup",
					    "measure", "settle", "done"};
	return (unsigned)phase < sizeof(names) / sizeof(names[0]) ? names[phase] : "?";
}

/* Takes one look at the sink; window (may be NULL) counts what it saw, and the
 * histogram gets each packet's latency when record is set. */
static unsigned collect(struct traffic_load *load, struct tally *window, bool record)
{
	struct packet_stamp stamps[COLLECT_BURST];
	uint64_t now;
	unsigned n = ring_harness_receive(load->harness, stamps, COLLECT_BURST, &now);
	if (n == 0)
		return 0;
	load->figures.received += n;
	atomic_store_explicit(&load->received, load->figures.received, memory_order_release);
	if (window != NULL) {
		window->packets += n;
		for (unsigned i = 0; i < n; i++)
			window->messages += load->messages_per_packet[stamps[i].corpus_index];
	}
	if (record) {
		/* Injection and collection run on this one thread, so both stamps
		 * come from the same core's TSC. */
		double ns_per_tick = 1e9 / (double)load->harness->tsc_hz;
		for (unsigned i = 0; i < n; i++)
			latency_histogram_record(
			    load->histogram,
			    (uint64_t)((double)(now - stamps[i].tsc) * ns_per_tick),
			    load->messages_per_packet[stamps[i].corpus_index]);
	}
	return n;
}

static void inject(struct traffic_load *load, unsigned want, uint64_t *sent_in_phase)
{
	uint64_t left = load->plan.max_packets - load->figures.injected;
	if (want > left)
		want = (unsigned)left;
	if (want == 0)
		return;
	unsigned got = ring_harness_inject(load->harness, want);
	*sent_in_phase += got;
	load->figures.injected += got;
	atomic_store_explicit(&load->injected, load->figures.injected, memory_order_release);
}

/* Runs one injecting phase for seconds at rate_pps (0: unpaced). Returns how
 * long it really lasted, in seconds. */
static double run_phase(struct traffic_load *load, enum load_phase phase, double seconds,
			double rate_pps, struct tally *window, bool record)
{
	atomic_store(&load->phase, phase);
	uint64_t hz = load->harness->tsc_hz;
	uint64_t start = rte_rdtsc();
	uint64_t end = start + (uint64_t)(seconds * (double)hz);
	double due_per_tick = rate_pps / (double)hz;
	uint64_t sent = 0;
	uint64_t now = start;
	while (now < end && !atomic_load_explicit(&load->abort, memory_order_relaxed)) {
		if (rate_pps <= 0) {
			inject(load, UINT32_MAX, &sent);
		} else {
			/* Packet k is due at start + k / rate, the first one at start. */
			uint64_t due = (uint64_t)((double)(now - start) * due_per_tick) + 1;
			if (due > sent) {
				uint64_t behind = due - sent;
				inject(load,
				       behind < PACED_BURST_MAX ? (unsigned)behind
								: PACED_BURST_MAX,
				       &sent);
			}
		}
		collect(load, window, record);
		now = rte_rdtsc();
	}
	return (double)(now - start) / (double)hz;
}

static bool wait_for_start(struct traffic_load *load)
{
	uint64_t hz = load->harness->tsc_hz;
	uint64_t deadline = rte_rdtsc() + (uint64_t)(load->plan.start_limit_s * (double)hz);
	while (!atomic_load(&load->started)) {
		if (atomic_load(&load->abort) || rte_rdtsc() > deadline)
			return false;
		usleep(1000);
	}
	return true;
}

static void settle(struct traffic_load *load)
{
	atomic_store(&load->phase, LOAD_SETTLE);
	uint64_t hz = load->harness->tsc_hz;
	uint64_t deadline = rte_rdtsc() + (uint64_t)(load->plan.settle_limit_s * (double)hz);
	while (!atomic_load_explicit(&load->abort, memory_order_relaxed) &&
	       rte_rdtsc() < deadline) {
		if (atomic_load(&load->finish)) {
			load->figures.finished = true;
			break;
		}
		if (collect(load, NULL, false) == 0)
			rte_pause();
	}
}

void *traffic_load_main(void *arg)
{
	struct traffic_load *load = arg;
	const struct load_plan *plan = &load->plan;
	struct load_figures *fig = &load->figures;

	if (wait_for_start(load)) {
		double rate = plan->rate_pps;
		if (plan->probe_s > 0) {
			struct tally probe = {0};
			double secs = run_phase(load, LOAD_PROBE, plan->probe_s, 0, &probe, false);
			fig->probe_pps = secs > 0 ? (double)probe.packets / secs : 0;
			rate = plan->probe_fraction * fig->probe_pps;
		}
		fig->rate_pps = rate;
		if (plan->warmup_s > 0)
			run_phase(load, LOAD_WARMUP, plan->warmup_s, rate, NULL, false);
		struct tally window = {0};
		fig->window_s = run_phase(load, LOAD_MEASURE, plan->measure_s, rate, &window,
					  plan->record_latency);
		fig->window_packets = window.packets;
		fig->window_messages = window.messages;
		settle(load);
	}
	atomic_store(&load->phase, LOAD_DONE);
	return NULL;
}
