/* The reloader: swaps the main slot back and forth between two packs on a
 * fixed schedule, through the control socket, while traffic flows.
 *
 * Reload k (from 1) is requested at start + k * every_ms and loads packs[k % 2],
 * so with packs[0] loaded at start the first one swaps to packs[1]. A reload
 * that overruns its slot delays the next one rather than piling up behind it.
 *
 * Contract: runs while keep_going(arg) says so, at most max_reloads times,
 * each request bounded by CONTROL_REQUEST_TIMEOUT_MS; keeps each successful
 * reload's grace period, when its answer came (CLOCK_MONOTONIC seconds), and
 * the last failure's reason.
 */
#ifndef SLUICE_BENCH_LATENCY_RELOAD_CYCLE_H
#define SLUICE_BENCH_LATENCY_RELOAD_CYCLE_H

#include <stdbool.h>
#include <stdint.h>

struct reload_cycle {
	const char *socket;
	const char *packs[2]; /* absolute paths; packs[0] is the one loaded at start */
	unsigned every_ms;
	unsigned max_reloads;

	unsigned done;	  /* succeeded */
	unsigned failed;  /* refused by the daemon or lost on the socket */
	double *grace_ms; /* done of them, in order */
	double *done_at;  /* and when each was answered */
	char last_error[512];
};

/* Returns 0, or -1 when memory for the figures ran out (no reload is made). */
int reload_cycle_run(struct reload_cycle *cycle, bool (*keep_going)(void *), void *arg);

/* Median and maximum of the grace periods; false when there are none. */
bool reload_cycle_grace(const struct reload_cycle *cycle, double *median_ms, double *max_ms);

void reload_cycle_free(struct reload_cycle *cycle);

#endif
