#include "soak_checks.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bad_input.h"

static void add(struct soak_judgement *j, const char *name, bool ok, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(struct soak_judgement *j, const char *name, bool ok, const char *fmt, ...)
{
	if (j->count >= SOAK_CHECK_MAX)
		return;
	struct soak_check *c = &j->checks[j->count++];
	c->name = name;
	c->ok = ok;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	j->all_ok = j->all_ok && ok;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void grace_figures(const struct reload_cycle *r, struct soak_judgement *j)
{
	if (r->done == 0 || r->grace_ms == NULL)
		return;
	double *sorted = malloc(r->done * sizeof(double));
	if (sorted == NULL)
		return;
	memcpy(sorted, r->grace_ms, r->done * sizeof(double));
	qsort(sorted, r->done, sizeof(double), by_value);
	unsigned n = r->done;
	j->grace_median_ms = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
	j->grace_p99_ms = sorted[(size_t)((n - 1) * 0.99)];
	j->grace_max_ms = sorted[n - 1];
	j->have_grace = true;
	free(sorted);
}

static void check_messages(const struct soak_run *run, struct soak_judgement *j)
{
	const struct soak_collected *c = &run->collector.tally;
	const struct soak_injected *in = &run->injector.tally;
	const struct soak_ledger_totals *t = &j->totals;
	add(j, "messages_correct",
	    c->messages_wrong == 0 && c->packets_malformed == 0 && c->packets_wrong_side == 0,
	    "%" PRIu64 " messages seen correct, %" PRIu64 " wrong; %" PRIu64
	    " packets malformed, %" PRIu64 " sent back towards A%s%s",
	    c->messages_correct, c->messages_wrong, c->packets_malformed, c->packets_wrong_side,
	    c->example_count > 0 ? "; first: " : "", c->example_count > 0 ? c->examples[0] : "");

	uint64_t must_miss =
	    in->by_outcome[SOAK_BLOCK] + in->by_outcome[SOAK_BAD_UTF8] + in->bad_magic_messages;
	char first_lost[160] = "";
	size_t used = 0;
	for (unsigned i = 0; i < t->first_lost_count && used < sizeof(first_lost); i++)
		used += (size_t)snprintf(first_lost + used, sizeof(first_lost) - used, "%s%" PRIu64,
					 i ? ", " : "; first lost msg_ids: ", t->first_lost[i]);
	add(j, "nothing_lost", t->lost == 0 && t->missing == must_miss,
	    "%" PRIu64 " of %" PRIu64 " messages missing; expected %" PRIu64 " = %" PRIu64
	    " blocked + %" PRIu64 " invalid UTF-8 + %" PRIu64
	    " in datagrams with a broken frame; lost %" PRIu64 "%s",
	    t->missing, in->messages, must_miss, in->by_outcome[SOAK_BLOCK],
	    in->by_outcome[SOAK_BAD_UTF8], in->bad_magic_messages, t->lost, first_lost);
	add(j, "no_duplicates", c->duplicates == 0, "%" PRIu64 " messages came out twice",
	    c->duplicates);
	add(j, "packets_out", c->packets == in->expect_out,
	    "%" PRIu64 " packets out of port B, %" PRIu64
	    " datagrams sent with a message to forward",
	    c->packets, in->expect_out);
}

static void check_counters(const struct soak_run *run, struct soak_judgement *j)
{
	const struct daemon_counters *d = &run->counters;
	const struct soak_injected *in = &run->injector.tally;
	const struct soak_collected *c = &run->collector.tally;
	if (!run->have_counters) {
		add(j, "counters_packets", false, "the daemon's counters were never read");
		add(j, "counters_verdicts", false, "the daemon's counters were never read");
		add(j, "counters_events", false, "the daemon's counters were never read");
		add(j, "no_tx_drops", false, "the daemon's counters were never read");
		return;
	}
	uint64_t framed_bad = 0, other_bad = 0;
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++) {
		/* invalid_utf8 and scan_error are counted per frame, not per datagram. */
		if (r == SLUICE_BAD_INVALID_UTF8 || r == SLUICE_BAD_SCAN_ERROR)
			continue;
		framed_bad += d->bad[r];
		if (r != SLUICE_BAD_MAGIC)
			other_bad += d->bad[r];
	}
	j->dropped_bad_datagrams = d->datagrams_dropped_bad;
	uint64_t rx = d->rx_packets[0] + d->rx_packets[1];
	uint64_t tx = d->tx_packets[0] + d->tx_packets[1];
	bool packets_ok = d->rx_packets[0] == in->datagrams && d->rx_packets[1] == 0 &&
			  d->tx_packets[0] == 0 && d->tx_packets[1] == c->packets &&
			  rx == tx + d->datagrams_removed + d->datagrams_dropped_bad &&
			  d->datagrams_dropped_bad == framed_bad + in->expect_dropped_utf8 &&
			  d->datagrams == in->datagrams && d->other_forwarded == 0;
	add(j, "counters_packets", packets_ok,
	    "rx %" PRIu64 " (A %" PRIu64 ", B %" PRIu64 "; sent %" PRIu64 ") = tx %" PRIu64
	    " (B %" PRIu64 ", A %" PRIu64 "; collected %" PRIu64 ") + removed %" PRIu64
	    " (sent %" PRIu64 " wholly blocked) + dropped as bad %" PRIu64 " (expected %" PRIu64
	    " by datagram reasons + %" PRIu64 " whose every frame was invalid UTF-8); "
	    "datagrams %" PRIu64 ", other traffic %" PRIu64,
	    rx, d->rx_packets[0], d->rx_packets[1], in->datagrams, tx, d->tx_packets[1],
	    d->tx_packets[0], c->packets, d->datagrams_removed, in->expect_removed,
	    j->dropped_bad_datagrams, framed_bad, in->expect_dropped_utf8, d->datagrams,
	    d->other_forwarded);

	const uint64_t *v = d->verdicts;
	const uint64_t *sent = in->by_outcome;
	uint64_t judged = v[0] + v[1] + v[2] + v[3];
	uint64_t scanned = sent[SOAK_PASS] + sent[SOAK_FLAG] + sent[SOAK_MASK] + sent[SOAK_BLOCK];
	bool verdicts_ok = d->messages == judged && d->messages == scanned &&
			   v[0] == sent[SOAK_PASS] && v[1] == sent[SOAK_FLAG] &&
			   v[2] == sent[SOAK_MASK] && v[3] == sent[SOAK_BLOCK] &&
			   d->bad[SLUICE_BAD_INVALID_UTF8] == sent[SOAK_BAD_UTF8] &&
			   d->bad[SLUICE_BAD_MAGIC] == in->bad_magic_datagrams && other_bad == 0 &&
			   d->bad[SLUICE_BAD_SCAN_ERROR] == 0 &&
			   d->datagrams_removed == in->expect_removed && d->match_overflow == 0;
	add(j, "counters_verdicts", verdicts_ok,
	    "scanned %" PRIu64 " = passed %" PRIu64 " + flagged %" PRIu64 " + masked %" PRIu64
	    " + blocked %" PRIu64 " (sent %" PRIu64 ": %" PRIu64 " / %" PRIu64 " / %" PRIu64
	    " / %" PRIu64 "); invalid_utf8 %" PRIu64 " (sent %" PRIu64 "), bad_magic %" PRIu64
	    " (sent %" PRIu64 "), other reasons %" PRIu64 ", scan errors %" PRIu64
	    ", match overflows %" PRIu64,
	    d->messages, v[0], v[1], v[2], v[3], scanned, sent[SOAK_PASS], sent[SOAK_FLAG],
	    sent[SOAK_MASK], sent[SOAK_BLOCK], d->bad[SLUICE_BAD_INVALID_UTF8], sent[SOAK_BAD_UTF8],
	    d->bad[SLUICE_BAD_MAGIC], in->bad_magic_datagrams, other_bad,
	    d->bad[SLUICE_BAD_SCAN_ERROR], d->match_overflow);

	add(j, "counters_events",
	    d->events_written + d->events_dropped == in->expect_events &&
		d->event_write_errors == 0,
	    "written %" PRIu64 " + dropped (ring full) %" PRIu64 " = %" PRIu64 "; due %" PRIu64
	    " (one per acting span, one per bad input); write errors %" PRIu64,
	    d->events_written, d->events_dropped, d->events_written + d->events_dropped,
	    in->expect_events, d->event_write_errors);
	add(j, "no_tx_drops", d->tx_dropped[0] + d->tx_dropped[1] == 0,
	    "send drops: towards B %" PRIu64 ", towards A %" PRIu64
	    " (the sink rings were never full)",
	    d->tx_dropped[1], d->tx_dropped[0]);
}

static void check_control(const struct soak_run *run, struct soak_judgement *j)
{
	const struct reload_cycle *r = &run->reloads;
	const struct daemon_status *s0 = &run->status_start, *s1 = &run->status_end;
	bool have_status = run->have_status_start && run->have_status_end;
	uint64_t swaps = have_status ? s1->swaps - s0->swaps : 0;
	/* Reload k loads packs[k % 2]; after `done` of them, packs[done % 2] is in force. */
	const char *last = run->packs->version[r->done % 2];
	bool in_force = have_status && strcmp(s1->main_version, last) == 0;
	add(j, "reloads",
	    r->failed == 0 && r->done > 0 && run->reload_rc == 0 && swaps == r->done && in_force,
	    "%u reloads every %u ms succeeded, %u failed%s%s; `status` counted %" PRIu64
	    " swaps; in force at the end: %s (expected %s)",
	    r->done, r->every_ms, r->failed, r->failed ? ", the last: " : "",
	    r->failed ? r->last_error : "", swaps, have_status ? s1->main_version : "?", last);
	add(j, "workers_never_stuck",
	    have_status && s1->workers_stuck == 0 && s1->refusals == s0->refusals,
	    "%u of %u workers stuck at the end; %" PRIu64 " swaps refused during the run",
	    have_status ? s1->workers_stuck : 0, have_status ? s1->workers : 0,
	    have_status ? s1->refusals - s0->refusals : 0);

	const struct soak_operator *op = &run->op;
	soak_operator_figures(op, &j->operator_median_ms, &j->operator_max_ms);
	add(j, "operator", op->failures == 0 && op->asked > 0,
	    "%" PRIu64 " status requests, %" PRIu64 " failed%s%s; latency median %.2f ms, max "
	    "%.2f ms",
	    op->asked, op->failures, op->failures ? ", the last: " : "",
	    op->failures ? op->last_error : "", j->operator_median_ms, j->operator_max_ms);

	uint64_t held = 0, unexpected = 0;
	const char *example = "";
	char idle[160] = "";
	bool enabled_ran = true;
	for (unsigned m = 0; m < MISUSE_COUNT; m++) {
		const struct soak_misuse_figures *f = &run->abuse.fig[m];
		held += f->held;
		unexpected += f->unexpected;
		if (f->unexpected > 0 && example[0] == '\0')
			example = f->unexpected_example;
	}
	const struct soak_abuse *a = &run->abuse;
	enabled_ran = (a->idle_max == 0 || a->fig[MISUSE_IDLE].attempts > 0) &&
		      (a->stallers == 0 || a->fig[MISUSE_HALF].attempts > 0) &&
		      (a->rude_per_s == 0 || a->fig[MISUSE_UNKNOWN].attempts > 0);
	snprintf(idle, sizeof(idle),
		 "idle connections: %u open at once at most, %" PRIu64 " opened", a->idle_most_open,
		 a->fig[MISUSE_IDLE].attempts);
	add(j, "control_abuse", held == 0 && unexpected == 0 && enabled_ran,
	    "%" PRIu64 " connections held past the server's deadline, %" PRIu64
	    " wrong replies%s%s; %s%s",
	    held, unexpected, unexpected ? ", e.g. " : "", example, idle,
	    enabled_ran ? "" : "; a misuse thread made no attempt");
}

static void machine_stalls(const struct soak_run *run, struct soak_judgement *j)
{
	uint64_t late_1s = 0;
	for (unsigned i = 0; i < run->probes.count; i++) {
		const struct soak_cpu_probe *pr = &run->probes.cpu[i];
		late_1s += pr->late_1s;
		if (pr->kept > 0 &&
		    (!j->have_cpu_stall || pr->worst[0].late_s > j->cpu_stall.late_s)) {
			j->have_cpu_stall = true;
			j->cpu_stall = pr->worst[0];
			j->cpu_stall_cpu = pr->cpu;
		}
	}
	const struct reload_cycle *r = &run->reloads;
	for (unsigned i = 0; r->done_at != NULL && i < r->done; i++)
		soak_stall_keep(j->slow_reloads, &j->slow_reload_count,
				(struct soak_stall){.at_s = r->done_at[i] - run->origin,
						    .late_s = r->grace_ms[i] / 1e3});
	const struct soak_operator *op = &run->op;
	for (size_t i = 0; i < op->kept; i++)
		soak_stall_keep(j->slow_status, &j->slow_status_count,
				(struct soak_stall){.at_s = op->asked_at[i] - run->origin,
						    .late_s = op->latency_ms[i] / 1e3});
	if (j->have_cpu_stall && j->cpu_stall.late_s >= 1.0)
		snprintf(j->stall_note, sizeof(j->stall_note),
			 "CPU %u gave this process no time for %.2f s at t=%.1f s (%" PRIu64
			 " probe wake-ups a second or more late, all CPUs)",
			 j->cpu_stall_cpu, j->cpu_stall.late_s, j->cpu_stall.at_s, late_1s);
}

/* A failed check about time says when the machine itself stalled. */
static void note_stalls(struct soak_judgement *j)
{
	static const char *const timed[] = {"control_abuse", "operator", "reloads"};
	if (j->stall_note[0] == '\0')
		return;
	for (unsigned i = 0; i < j->count; i++) {
		struct soak_check *c = &j->checks[i];
		for (unsigned k = 0; k < sizeof(timed) / sizeof(timed[0]); k++) {
			if (c->ok || strcmp(c->name, timed[k]) != 0)
				continue;
			size_t len = strlen(c->detail);
			snprintf(c->detail + len, sizeof(c->detail) - len, "; meanwhile %s",
				 j->stall_note);
		}
	}
}

void soak_judge(const struct soak_run *run, struct soak_judgement *j)
{
	memset(j, 0, sizeof(*j));
	j->all_ok = true;
	machine_stalls(run, j);
	add(j, "run_completed", run->error[0] == '\0' && run->settled && run->daemon_rc == 0, "%s",
	    run->error[0] != '\0' ? run->error
				  : "the daemon ran the whole time and the traffic settled");
	soak_ledger_settle(run->ledger, run->injector.tally.messages, &j->totals);
	check_messages(run, j);
	check_counters(run, j);
	grace_figures(&run->reloads, j);
	check_control(run, j);

	soak_rss_judge(&run->rss, run->opt->rss_warmup_s, run->traffic_s, &j->rss);
	const struct soak_rss_verdict *v = &j->rss;
	if (v->judged)
		add(j, "rss_flat", v->flat,
		    "largest sample of the second half %" PRIu64 " KiB, of the first half after "
		    "%.0f s of warm-up %" PRIu64 " KiB, growth allowed %" PRIu64 " KiB",
		    v->second_half_max_kib, run->opt->rss_warmup_s, v->first_half_max_kib,
		    v->allowed_growth_kib);
	else
		add(j, "rss_flat", true, "not judged: %s", v->why);
	note_stalls(j);
}
