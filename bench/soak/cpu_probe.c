#include "cpu_probe.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "soak_clock.h"

void soak_stall_keep(struct soak_stall *list, unsigned *kept, struct soak_stall s)
{
	unsigned n = *kept;
	if (n == PROBE_KEEP && s.late_s <= list[n - 1].late_s)
		return;
	unsigned at = n < PROBE_KEEP ? n : PROBE_KEEP - 1;
	while (at > 0 && list[at - 1].late_s < s.late_s) {
		list[at] = list[at - 1];
		at--;
	}
	list[at] = s;
	if (n < PROBE_KEEP)
		*kept = n + 1;
}

static void *probe_main(void *arg)
{
	struct soak_cpu_probe *pr = arg;
	struct soak_cpu_probes *p = pr->owner;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(pr->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	double due = sluice_mono_s();
	while (!atomic_load_explicit(&p->stop, memory_order_relaxed)) {
		due += PROBE_PERIOD_S;
		struct timespec ts = {.tv_sec = (time_t)due,
				      .tv_nsec = (long)((due - (double)(time_t)due) * 1e9)};
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		double now = sluice_mono_s(), late = now - due;
		pr->wakeups++;
		if (late > pr->max_late_s)
			pr->max_late_s = late;
		if (late >= PROBE_STALL_S) {
			pr->late_100ms++;
			pr->late_1s += late >= 1.0;
			soak_stall_keep(
			    pr->worst, &pr->kept,
			    (struct soak_stall){.at_s = due - p->origin, .late_s = late});
		}
		/* After a stall, the next wake-up is a period from now, not a
		 * burst of overdue ones. */
		if (late > PROBE_PERIOD_S)
			due = now;
	}
	return NULL;
}

int soak_cpu_probes_start(struct soak_cpu_probes *p, const unsigned *cpus, unsigned count,
			  double origin)
{
	memset(p, 0, sizeof(*p));
	atomic_init(&p->stop, false);
	p->origin = origin;
	p->count = count < PROBE_MAX_CPUS ? count : PROBE_MAX_CPUS;
	for (unsigned i = 0; i < p->count; i++) {
		struct soak_cpu_probe *pr = &p->cpu[i];
		pr->cpu = cpus[i];
		pr->owner = p;
		if (pthread_create(&pr->thread, NULL, probe_main, pr) != 0) {
			soak_cpu_probes_stop(p);
			return -1;
		}
		pr->started = true;
	}
	return 0;
}

void soak_cpu_probes_stop(struct soak_cpu_probes *p)
{
	atomic_store(&p->stop, true);
	for (unsigned i = 0; i < p->count; i++) {
		if (p->cpu[i].started)
			pthread_join(p->cpu[i].thread, NULL);
		p->cpu[i].started = false;
	}
}
