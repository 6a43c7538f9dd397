#include "reload_cycle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "control_client.h"

static void add_ms(struct timespec *t, unsigned ms)
{
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static bool before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int reload_cycle_run(struct reload_cycle *cycle, bool (*keep_going)(void *), void *arg)
{
	cycle->done = cycle->failed = 0;
	cycle->last_error[0] = '\0';
	size_t room = cycle->max_reloads ? cycle->max_reloads : 1;
	cycle->grace_ms = calloc(room, sizeof(double));
	cycle->done_at = calloc(room, sizeof(double));
	if (cycle->grace_ms == NULL || cycle->done_at == NULL)
		return -1;

	struct timespec due;
	clock_gettime(CLOCK_MONOTONIC, &due);
	for (unsigned k = 1; k <= cycle->max_reloads; k++) {
		add_ms(&due, cycle->every_ms);
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (before(&due, &now)) {
			/* The last reload overran its slot: start the schedule again. */
			due = now;
		} else {
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
				;
		}
		if (!keep_going(arg))
			break;
		double grace = 0;
		char err[sizeof(cycle->last_error)];
		if (control_reload_main(cycle->socket, cycle->packs[k % 2], &grace, err,
					sizeof(err)) == 0) {
			cycle->done_at[cycle->done] = sluice_mono_s();
			cycle->grace_ms[cycle->done++] = grace;
		} else {
			cycle->failed++;
			snprintf(cycle->last_error, sizeof(cycle->last_error), "%s", err);
		}
	}
	return 0;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

bool reload_cycle_grace(const struct reload_cycle *cycle, double *median_ms, double *max_ms)
{
	if (cycle->done == 0)
		return false;
	double *sorted = malloc(cycle->done * sizeof(double));
	if (sorted == NULL)
		return false;
	memcpy(sorted, cycle->grace_ms, cycle->done * sizeof(double));
	qsort(sorted, cycle->done, sizeof(double), by_value);
	unsigned n = cycle->done;
	*median_ms = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	*max_ms = sorted[n - 1];
	free(sorted);
	return true;
}

void reload_cycle_free(struct reload_cycle *cycle)
{
	free(cycle->grace_ms);
	free(cycle->done_at);
	cycle->grace_ms = NULL;
	cycle->done_at = NULL;
}
