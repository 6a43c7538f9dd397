#include "soak_report.h"

#include <inttypes.h>

#include "bad_input.h"
#include "strbuf.h"

#define PROG "sluice-soak"

static double per_second(uint64_t count, double seconds)
{
	return seconds > 0 ? (double)count / seconds : 0;
}

static void json_string(struct sluice_strbuf *sb, const char *key, const char *value)
{
	sluice_strbuf_printf(sb, "\"%s\":", key);
	if (value != NULL)
		sluice_strbuf_json_string(sb, value);
	else
		sluice_strbuf_printf(sb, "null");
}

static void json_outcomes(struct sluice_strbuf *sb, const uint64_t *by_outcome)
{
	sluice_strbuf_printf(sb, "{");
	for (unsigned o = 0; o < SOAK_OUTCOME_COUNT; o++)
		sluice_strbuf_printf(sb, "%s\"%s\":%" PRIu64, o ? "," : "",
				     soak_outcome_name((enum soak_outcome)o), by_outcome[o]);
	sluice_strbuf_printf(sb, "}");
}

static void json_traffic(struct sluice_strbuf *sb, const struct soak_report *r)
{
	const struct soak_injected *in = &r->run->injector.tally;
	const struct soak_ledger_totals *t = &r->judgement->totals;
	sluice_strbuf_printf(sb,
			     ",\"rate\":{\"target_msgs_per_s\":%.0f,\"achieved_msgs_per_s\":%.0f,"
			     "\"achieved_pkts_per_s\":%.0f,\"injecting_s\":%.3f,"
			     "\"ring_full_ticks\":%" PRIu64 ",\"pool_empty_ticks\":%" PRIu64
			     ",\"debt_forgiven\":%" PRIu64 ",\"capacity_reached\":%s}",
			     r->opt->rate_msgs, per_second(in->messages, in->seconds),
			     per_second(in->datagrams, in->seconds), in->seconds, in->ring_full,
			     in->pool_empty, in->debt_forgiven,
			     in->capacity_reached ? "true" : "false");
	sluice_strbuf_printf(sb,
			     ",\"traffic\":{\"datagrams\":%" PRIu64 ",\"messages\":%" PRIu64
			     ",\"ipv4\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"vlan\":%" PRIu64
			     ",\"no_udp_checksum\":%" PRIu64 ",\"bad_magic_datagrams\":%" PRIu64
			     ",\"bad_magic_messages\":%" PRIu64 ",\"by_outcome\":",
			     in->datagrams, in->messages, in->ipv4, in->ipv6, in->vlan,
			     in->no_udp_checksum, in->bad_magic_datagrams, in->bad_magic_messages);
	json_outcomes(sb, in->by_outcome);
	sluice_strbuf_printf(sb, ",\"by_text\":{");
	for (size_t i = 0; i < soak_text_count(); i++)
		sluice_strbuf_printf(sb, "%s\"%s\":%" PRIu64, i ? "," : "", soak_text_at(i)->name,
				     in->by_text[i]);
	sluice_strbuf_printf(
	    sb,
	    "},\"expected\":{\"packets_out\":%" PRIu64 ",\"datagrams_removed\":%" PRIu64
	    ",\"datagrams_dropped_all_invalid_utf8\":%" PRIu64 ",\"events\":%" PRIu64
	    ",\"messages_absent\":%" PRIu64 "}}",
	    in->expect_out, in->expect_removed, in->expect_dropped_utf8, in->expect_events,
	    in->by_outcome[SOAK_BLOCK] + in->by_outcome[SOAK_BAD_UTF8] + in->bad_magic_messages);

	const struct soak_collected *c = &r->run->collector.tally;
	sluice_strbuf_printf(
	    sb,
	    ",\"collector\":{\"packets\":%" PRIu64 ",\"packets_wrong_side\":%" PRIu64
	    ",\"packets_malformed\":%" PRIu64 ",\"messages_correct\":%" PRIu64
	    ",\"messages_wrong\":%" PRIu64 ",\"duplicates\":%" PRIu64 ",\"missing\":%" PRIu64
	    ",\"missing_expected\":%" PRIu64 ",\"lost\":%" PRIu64 ",\"correct_by_outcome\":",
	    c->packets, c->packets_wrong_side, c->packets_malformed, c->messages_correct,
	    c->messages_wrong, c->duplicates, t->missing, t->missing_expected, t->lost);
	json_outcomes(sb, c->by_outcome);
	sluice_strbuf_printf(
	    sb,
	    ",\"changed_packets\":{\"ipv4\":%" PRIu64 ",\"ipv6\":%" PRIu64 ",\"vlan\":%" PRIu64
	    ",\"no_udp_checksum\":%" PRIu64 "},\"first_lost\":[",
	    c->changed_ipv4, c->changed_ipv6, c->changed_vlan, c->changed_no_checksum);
	for (unsigned i = 0; i < t->first_lost_count; i++)
		sluice_strbuf_printf(sb, "%s%" PRIu64, i ? "," : "", t->first_lost[i]);
	sluice_strbuf_printf(sb, "],\"problems\":[");
	for (unsigned i = 0; i < c->example_count; i++) {
		if (i > 0)
			sluice_strbuf_printf(sb, ",");
		sluice_strbuf_json_string(sb, c->examples[i]);
	}
	sluice_strbuf_printf(sb, "]}");
}

static void json_control(struct sluice_strbuf *sb, const struct soak_report *r)
{
	const struct soak_run *run = r->run;
	const struct soak_judgement *j = r->judgement;
	const struct reload_cycle *rl = &run->reloads;
	sluice_strbuf_printf(sb, ",\"reloads\":{\"every_ms\":%u,\"done\":%u,\"failed\":%u,",
			     rl->every_ms, rl->done, rl->failed);
	json_string(sb, "last_error", rl->failed ? rl->last_error : NULL);
	if (j->have_grace)
		sluice_strbuf_printf(sb,
				     ",\"grace_ms\":{\"median\":%.3f,\"p99\":%.3f,\"max\":%.3f}",
				     j->grace_median_ms, j->grace_p99_ms, j->grace_max_ms);
	else
		sluice_strbuf_printf(sb, ",\"grace_ms\":null");
	sluice_strbuf_printf(sb, ",\"swaps_counted_by_status\":%" PRIu64 ",",
			     run->have_status_end && run->have_status_start
				 ? run->status_end.swaps - run->status_start.swaps
				 : 0);
	json_string(sb, "main_version_at_end",
		    run->have_status_end ? run->status_end.main_version : NULL);
	sluice_strbuf_printf(sb, "}");

	const struct soak_abuse *a = &run->abuse;
	sluice_strbuf_printf(
	    sb,
	    ",\"abuse\":{\"idle_max\":%u,\"idle_connects_per_s\":%u,"
	    "\"idle_most_open\":%u,\"stallers\":%u,\"rude_per_s\":%u,\"misuses\":{",
	    a->idle_max, a->connects_per_s, a->idle_most_open, a->stallers, a->rude_per_s);
	for (unsigned m = 0; m < MISUSE_COUNT; m++) {
		const struct soak_misuse_figures *f = &a->fig[m];
		sluice_strbuf_printf(
		    sb,
		    "%s\"%s\":{\"attempts\":%" PRIu64 ",\"refused\":%" PRIu64
		    ",\"answered\":%" PRIu64 ",\"cut\":%" PRIu64 ",\"left\":%" PRIu64
		    ",\"held\":%" PRIu64 ",\"unexpected\":%" PRIu64 ",",
		    m ? "," : "", soak_misuse_name((enum soak_misuse)m), f->attempts, f->refused,
		    f->answered, f->cut, f->left, f->held, f->unexpected);
		json_string(sb, "unexpected_example", f->unexpected ? f->unexpected_example : NULL);
		sluice_strbuf_printf(sb, "}");
	}
	sluice_strbuf_printf(sb, "}}");

	const struct soak_operator *op = &run->op;
	sluice_strbuf_printf(sb,
			     ",\"operator\":{\"every_s\":%.3f,\"asked\":%" PRIu64
			     ",\"failures\":%" PRIu64 ",\"latency_ms\":{\"median\":%.3f,"
			     "\"max\":%.3f},",
			     op->every_s, op->asked, op->failures, j->operator_median_ms,
			     j->operator_max_ms);
	json_string(sb, "last_error", op->failures ? op->last_error : NULL);
	sluice_strbuf_printf(sb, "}");
}

static void json_rss(struct sluice_strbuf *sb, const struct soak_report *r)
{
	const struct soak_rss *rss = &r->run->rss;
	const struct soak_rss_verdict *v = &r->judgement->rss;
	sluice_strbuf_printf(sb, ",\"rss\":{\"every_s\":%.3f,\"warmup_s\":%.3f,\"samples\":[",
			     rss->every_s, r->opt->rss_warmup_s);
	for (size_t i = 0; i < rss->count; i++)
		sluice_strbuf_printf(sb, "%s[%.1f,%" PRIu64 "]", i ? "," : "", rss->samples[i].t,
				     rss->samples[i].kib);
	sluice_strbuf_printf(
	    sb,
	    "],\"start_kib\":%" PRIu64 ",\"end_kib\":%" PRIu64 ",\"max_kib\":%" PRIu64
	    ",\"first_half_max_kib\":%" PRIu64 ",\"second_half_max_kib\":%" PRIu64
	    ",\"allowed_growth_kib\":%" PRIu64 ",\"judged\":%s,\"flat\":%s,",
	    v->start_kib, v->end_kib, v->max_kib, v->first_half_max_kib, v->second_half_max_kib,
	    v->allowed_growth_kib, v->judged ? "true" : "false", v->flat ? "true" : "false");
	json_string(sb, "not_judged_because", v->judged ? NULL : v->why);
	sluice_strbuf_printf(sb, "}");
}

static void json_stalls(struct sluice_strbuf *sb, const char *key, const struct soak_stall *list,
			unsigned count)
{
	sluice_strbuf_printf(sb, "\"%s\":[", key);
	for (unsigned i = 0; i < count; i++)
		sluice_strbuf_printf(sb, "%s[%.1f,%.3f]", i ? "," : "", list[i].at_s,
				     list[i].late_s * 1e3);
	sluice_strbuf_printf(sb, "]");
}

/* What the machine did: [seconds since traffic started, milliseconds]. */
static void json_machine(struct sluice_strbuf *sb, const struct soak_report *r)
{
	const struct soak_run *run = r->run;
	const struct soak_judgement *j = r->judgement;
	sluice_strbuf_printf(sb, ",\"machine_stalls\":{\"probe_period_ms\":%.0f,\"cpus\":[",
			     PROBE_PERIOD_S * 1e3);
	for (unsigned i = 0; i < run->probes.count; i++) {
		const struct soak_cpu_probe *pr = &run->probes.cpu[i];
		sluice_strbuf_printf(sb,
				     "%s{\"cpu\":%u,\"wakeups\":%" PRIu64 ",\"max_late_ms\":%.3f,"
				     "\"late_100ms\":%" PRIu64 ",\"late_1s\":%" PRIu64 ",",
				     i ? "," : "", pr->cpu, pr->wakeups, pr->max_late_s * 1e3,
				     pr->late_100ms, pr->late_1s);
		json_stalls(sb, "worst", pr->worst, pr->kept);
		sluice_strbuf_printf(sb, "}");
	}
	sluice_strbuf_printf(sb, "],");
	json_stalls(sb, "slowest_reloads", j->slow_reloads, j->slow_reload_count);
	sluice_strbuf_printf(sb, ",");
	json_stalls(sb, "slowest_status", j->slow_status, j->slow_status_count);
	sluice_strbuf_printf(sb, ",\"worker_longest_pass_ms\":%.3f,",
			     run->counters.max_iteration_ms);
	json_string(sb, "note", j->stall_note[0] != '\0' ? j->stall_note : NULL);
	sluice_strbuf_printf(sb, "}");
}

static void json_daemon(struct sluice_strbuf *sb, const struct soak_report *r)
{
	const struct soak_run *run = r->run;
	const struct daemon_counters *d = &run->counters;
	sluice_strbuf_printf(
	    sb,
	    ",\"daemon\":{\"settle_s\":%.3f,\"stats\":{\"rx_packets\":{\"a\":%" PRIu64
	    ",\"b\":%" PRIu64 "},\"tx_packets\":{\"a\":%" PRIu64 ",\"b\":%" PRIu64
	    "},\"tx_dropped\":{\"a\":%" PRIu64 ",\"b\":%" PRIu64 "},\"datagrams\":%" PRIu64
	    ",\"datagrams_rewritten\":%" PRIu64 ",\"datagrams_removed\":%" PRIu64
	    ",\"datagrams_dropped_bad\":%" PRIu64 ",\"other_forwarded\":%" PRIu64
	    ",\"messages\":%" PRIu64 ",\"matches\":%" PRIu64 ",\"verdicts\":{\"passed\":%" PRIu64
	    ",\"flagged\":%" PRIu64 ",\"masked\":%" PRIu64 ",\"blocked\":%" PRIu64
	    "},\"bad_input\":{",
	    run->settle_s, d->rx_packets[0], d->rx_packets[1], d->tx_packets[0], d->tx_packets[1],
	    d->tx_dropped[0], d->tx_dropped[1], d->datagrams, d->datagrams_rewritten,
	    d->datagrams_removed, r->judgement->dropped_bad_datagrams, d->other_forwarded,
	    d->messages, d->matches, d->verdicts[0], d->verdicts[1], d->verdicts[2],
	    d->verdicts[3]);
	for (unsigned reason = 1; reason < SLUICE_BAD_REASON_COUNT; reason++)
		sluice_strbuf_printf(sb, "%s\"%s\":%" PRIu64, reason > 1 ? "," : "",
				     sluice_bad_reason_name((enum sluice_bad_reason)reason),
				     d->bad[reason]);
	sluice_strbuf_printf(sb,
			     "},\"events_written\":%" PRIu64 ",\"events_dropped\":%" PRIu64
			     ",\"event_write_errors\":%" PRIu64 ",\"match_overflow\":%" PRIu64
			     ",\"worst_stall_ms\":%.3f,\"worst_gap_ms\":%.3f}",
			     d->events_written, d->events_dropped, d->event_write_errors,
			     d->match_overflow, d->max_iteration_ms, d->max_gap_ms);
	const struct daemon_status *s = &run->status_end;
	sluice_strbuf_printf(
	    sb,
	    ",\"status\":{\"swaps\":%" PRIu64 ",\"refusals\":%" PRIu64
	    ",\"access_refusals\":%" PRIu64 ",\"workers\":%u,\"workers_stuck\":%u},"
	    "\"control_clients\":{\"connected\":%" PRIu64 ",\"accepted\":%" PRIu64
	    ",\"served\":%" PRIu64 ",\"request_timeouts\":%" PRIu64 ",\"bad_requests\":%" PRIu64
	    ",\"evicted\":%" PRIu64 ",\"vanished\":%" PRIu64 ",\"reply_timeouts\":%" PRIu64 "}}",
	    s->swaps, s->refusals, s->access_refusals, s->workers, s->workers_stuck,
	    s->clients.connected, s->clients.accepted, s->clients.served,
	    s->clients.request_timeouts, s->clients.bad_requests, s->clients.evicted,
	    s->clients.vanished, s->clients.reply_timeouts);
}

int soak_report_json(const struct soak_report *r, FILE *out)
{
	const struct soak_run *run = r->run;
	const struct soak_packs *p = r->packs;
	const struct soak_judgement *j = r->judgement;
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_strbuf_printf(&sb,
			     "{\"program\":\"" PROG "\",\"duration_s\":%.3f,\"traffic_s\":%.3f,"
			     "\"workers\":%u,",
			     r->opt->duration_s, run->traffic_s, r->opt->workers);
	json_string(&sb, "placement", r->placement);
	sluice_strbuf_printf(&sb, ",\"packs\":{");
	json_string(&sb, "name", p->name);
	sluice_strbuf_printf(&sb, ",\"rules\":%zu,\"versions\":[", p->rules);
	sluice_strbuf_json_string(&sb, p->version[0]);
	sluice_strbuf_printf(&sb, ",");
	sluice_strbuf_json_string(&sb, p->version[1]);
	sluice_strbuf_printf(&sb, "],");
	json_string(&sb, "rules_file", p->compiled_here ? r->opt->rules : NULL);
	sluice_strbuf_printf(&sb, "}");
	json_traffic(&sb, r);
	json_control(&sb, r);
	json_rss(&sb, r);
	json_machine(&sb, r);
	json_daemon(&sb, r);
	sluice_strbuf_printf(&sb, ",\"checks\":[");
	for (unsigned i = 0; i < j->count; i++) {
		const struct soak_check *c = &j->checks[i];
		sluice_strbuf_printf(&sb, "%s{\"name\":\"%s\",\"ok\":%s,", i ? "," : "", c->name,
				     c->ok ? "true" : "false");
		json_string(&sb, "detail", c->detail);
		sluice_strbuf_printf(&sb, "}");
	}
	sluice_strbuf_printf(&sb, "],\"ok\":%s,", j->all_ok ? "true" : "false");
	json_string(&sb, "error", run->error[0] != '\0' ? run->error : NULL);
	sluice_strbuf_printf(&sb, "}\n");
	int rc = sb.failed ? -1 : 0;
	if (rc == 0 && (fwrite(sb.data, 1, sb.len, out) != sb.len || fflush(out) != 0))
		rc = -1;
	sluice_strbuf_free(&sb);
	return rc;
}

void soak_report_summary(const struct soak_report *r, FILE *out)
{
	const struct soak_run *run = r->run;
	const struct soak_judgement *j = r->judgement;
	const struct soak_injected *in = &run->injector.tally;
	const struct soak_collected *c = &run->collector.tally;
	fprintf(out,
		"\n" PROG ": %.0f s, %u worker%s; %" PRIu64 " messages in %" PRIu64
		" datagrams (%.0f msg/s of %.0f asked); %" PRIu64 " correct out, %" PRIu64
		" wrong, %" PRIu64 " missing (%" PRIu64 " expected)\n",
		run->traffic_s, r->opt->workers, r->opt->workers == 1 ? "" : "s", in->messages,
		in->datagrams, per_second(in->messages, in->seconds), r->opt->rate_msgs,
		c->messages_correct, c->messages_wrong, j->totals.missing,
		j->totals.missing_expected);
	fprintf(out,
		PROG ": %u reloads (grace median %.2f ms, max %.2f ms); operator status median "
		     "%.2f ms, max %.2f ms; RSS %" PRIu64 " -> %" PRIu64 " KiB (max %" PRIu64 ")\n",
		run->reloads.done, j->grace_median_ms, j->grace_max_ms, j->operator_median_ms,
		j->operator_max_ms, j->rss.start_kib, j->rss.end_kib, j->rss.max_kib);
	if (j->stall_note[0] != '\0')
		fprintf(out, PROG ": the machine stalled: %s; the worker's longest pass %.0f ms\n",
			j->stall_note, run->counters.max_iteration_ms);
	for (unsigned i = 0; i < j->count; i++)
		fprintf(out, "  %-20s %s  %s\n", j->checks[i].name,
			j->checks[i].ok ? "ok  " : "FAIL", j->checks[i].detail);
	fprintf(out, PROG ": %s\n", j->all_ok ? "every check held" : "SOME CHECKS FAILED");
}
