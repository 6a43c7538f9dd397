/* Judging a finished soak: every check the issue asks for, each with a
 * verdict and a sentence of figures saying why.
 *
 * The checks, by name:
 *   run_completed      the daemon ran the whole time, the traffic settled
 *   messages_correct   every message out of port B was exactly as its text
 *                      must become, every packet well formed
 *   nothing_lost       missing messages = blocked + invalid UTF-8 + those in
 *                      datagrams with a broken frame, and none other
 *   no_duplicates      no message came out twice
 *   packets_out        packets out = datagrams with a message to forward
 *   counters_packets   rx = tx + datagrams removed + datagrams dropped as bad
 *   counters_verdicts  scanned = passed + flagged + masked + blocked, each
 *                      equal to what was sent; bad input by reason as sent
 *   counters_events    events written + dropped = the events due
 *   no_tx_drops        the workers never found the sink full
 *   reloads            every reload succeeded, and `status` counted each
 *   workers_never_stuck no worker reported stuck, no swap refused
 *   operator           every `status` of the operator was answered
 *   control_abuse      no misuse held the socket or got a wrong reply
 *   rss_flat           RSS flat (rss_sampler.h), when the run is long enough
 *                      to judge; a run too short passes, marked not judged
 *
 * Beside them, what the machine did (cpu_probe.h): the longest time a CPU
 * gave this process nothing, and the slowest reloads and `status` answers,
 * each with when it happened; a failed check about time (control_abuse,
 * operator, reloads) names a CPU stall of a second or more in its detail.
 *
 * Contract: call once the run has returned (every thread joined); reads the
 * run, its ledger and the packs, writes only the judgement.
 */
#ifndef SLUICE_BENCH_SOAK_SOAK_CHECKS_H
#define SLUICE_BENCH_SOAK_SOAK_CHECKS_H

#include <stdbool.h>

#include "msg_ledger.h"
#include "rss_sampler.h"
#include "soak_run.h"

#define SOAK_CHECK_MAX 16

struct soak_check {
	const char *name;
	bool ok;
	char detail[640];
};

struct soak_judgement {
	struct soak_check checks[SOAK_CHECK_MAX];
	unsigned count;
	bool all_ok;
	struct soak_ledger_totals totals;
	struct soak_rss_verdict rss;
	bool have_grace;
	double grace_median_ms, grace_p99_ms, grace_max_ms;
	double operator_median_ms, operator_max_ms;
	/* Datagrams the daemon dropped as bad input: the reasons counted per
	 * datagram, plus those whose every frame was invalid UTF-8 (counted per
	 * frame by the daemon, so taken from what was sent). */
	uint64_t dropped_bad_datagrams;
	/* Times are seconds since traffic started. */
	bool have_cpu_stall;
	unsigned cpu_stall_cpu;
	struct soak_stall cpu_stall;		    /* the longest of any CPU probe */
	struct soak_stall slow_reloads[PROBE_KEEP]; /* late_s: the grace period */
	unsigned slow_reload_count;
	struct soak_stall slow_status[PROBE_KEEP]; /* late_s: the answer's latency */
	unsigned slow_status_count;
	char stall_note[240]; /* "" unless a CPU stalled for a second or more */
};

void soak_judge(const struct soak_run *run, struct soak_judgement *j);

#endif
