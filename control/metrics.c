#include "metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "control_server.h"
#include "event_bus.h"
#include "fleet_watch.h"
#include "ruleset_registry.h"
#include "worker_stats.h"

void sluice_metrics_label_value(struct sluice_strbuf *sb, const char *s)
{
	for (const char *run = s;; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
				  : *s == '"'  ? "\\\""
				  : *s == '\n' ? "\\n"
					       : NULL;
		if (esc == NULL && *s != '\0')
			continue;
		if (s > run)
			sluice_strbuf_printf(sb, "%.*s", (int)(s - run), run);
		if (*s == '\0')
			return;
		sluice_strbuf_printf(sb, "%s", esc);
		run = s + 1;
	}
}

static void family(struct sluice_strbuf *sb, const char *name, const char *type, const char *help)
{
	sluice_strbuf_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample with no label, or with one label. */
static void sample_u64(struct sluice_strbuf *sb, const char *name, uint64_t v)
{
	sluice_strbuf_printf(sb, "%s %llu\n", name, (unsigned long long)v);
}

static void sample_f(struct sluice_strbuf *sb, const char *name, double v)
{
	sluice_strbuf_printf(sb, "%s %.9g\n", name, v);
}

static void labelled_u64(struct sluice_strbuf *sb, const char *name, const char *label,
			 const char *value, uint64_t v)
{
	sluice_strbuf_printf(sb, "%s{%s=\"", name, label);
	sluice_metrics_label_value(sb, value);
	sluice_strbuf_printf(sb, "\"} %llu\n", (unsigned long long)v);
}

/* ---- per-worker counters, from a table so none is forgotten ---- */

#define WS(field) offsetof(struct sluice_worker_stats, field)

const struct sluice_metrics_worker_field sluice_metrics_worker_fields[] = {
    {"other_forwarded", "sluice_other_forwarded_total", "counter", false, WS(other_forwarded),
     "Packets not for the message port, forwarded untouched."},
    {"datagrams", "sluice_datagrams_total", "counter", false, WS(datagrams),
     "UDP datagrams for the message port."},
    {"datagrams_rewritten", "sluice_datagrams_rewritten_total", "counter", false,
     WS(datagrams_rewritten),
     "Datagrams rewritten in place (masked text, flag bits, frames removed)."},
    {"datagrams_removed", "sluice_datagrams_removed_total", "counter", false, WS(datagrams_removed),
     "Datagrams removed: no frame left, at least one blocked by a verdict."},
    {"datagrams_dropped_bad", "sluice_datagrams_dropped_bad_total", "counter", false,
     WS(datagrams_dropped_bad), "Datagrams dropped for bad input alone."},
    {"messages", "sluice_messages_total", "counter", false, WS(messages),
     "Messages (frames) scanned."},
    {"bytes_scanned", "sluice_scanned_bytes_total", "counter", false, WS(bytes_scanned),
     "Bytes of message text scanned."},
    {"matches", "sluice_matches_total", "counter", false, WS(matches), "Rule spans reported."},
    {"utf8_repaired", "sluice_utf8_repaired_total", "counter", false, WS(utf8_repaired),
     "Messages passed after invalid UTF-8 was repaired (policy replace)."},
    {"match_overflow", "sluice_match_overflow_total", "counter", false, WS(match_overflow),
     "Messages with more matches than a message records."},
    {"events_dropped", "sluice_events_dropped_total", "counter", false, WS(events_dropped),
     "Events dropped because the worker's event ring was full."},
    {"events_waited", "sluice_events_waited_total", "counter", false, WS(events_waited),
     "Events that found the ring full and waited for room (--events-full wait)."},
    {"event_wait_ns", "sluice_event_wait_seconds_total", "counter", true, WS(event_wait_cycles),
     "Time workers spent waiting for room in their event ring."},
    {"event_wait_timeouts", "sluice_event_wait_timeouts_total", "counter", false,
     WS(event_wait_timeouts), "Waits for room that ended without it: the event was dropped."},
    {"iterations", "sluice_worker_loop_passes_total", "counter", false, WS(iterations),
     "Worker loop passes (the heartbeat)."},
    {"max_iteration_ns", "sluice_worker_longest_pass_seconds", "gauge", true,
     WS(max_iteration_cycles), "Longest worker loop pass since start."},
    {"max_gap_ns", "sluice_worker_longest_gap_seconds", "gauge", true, WS(max_gap_cycles),
     "Longest time between the starts of two loop passes since start (a stall)."},
    {"generation", "sluice_worker_generation", "gauge", false, WS(generation),
     "Ruleset generation the worker used in its last burst."},
    {"streams/segments", "sluice_stream_segments_total", "counter", false, WS(stream.segments),
     "TCP segments of chat services."},
    {"streams/checksums_by_port", "sluice_stream_checksums_by_port_total", "counter", false,
     WS(stream.checksums_by_port),
     "Chat segments whose TCP checksum the receiving port verified (--tcp-checksum port)."},
    {"streams/segments_held", "sluice_stream_segments_held_total", "counter", false,
     WS(stream.segments_held), "Segments held at least once until their messages were judged."},
    {"streams/segments_released", "sluice_stream_segments_released_total", "counter", false,
     WS(stream.segments_released), "Held segments released."},
    {"streams/segments_dropped", "sluice_stream_segments_dropped_total", "counter", false,
     WS(stream.segments_dropped), "Segments dropped (reasons in sluice_stream_reasons_total)."},
    {"streams/retransmits_rewritten", "sluice_stream_retransmits_rewritten_total", "counter", false,
     WS(stream.retransmits_rewritten), "Segments written from the store on the way out."},
    {"streams/conflict_bytes", "sluice_stream_conflict_bytes_total", "counter", false,
     WS(stream.conflict_bytes), "Overlapping bytes that differed from the first copy."},
    {"streams/custody_acks", "sluice_stream_custody_acks_total", "counter", false,
     WS(stream.custody_acks), "ACKs sent to a sender retransmitting held bytes."},
    {"streams/custody_bytes", "sluice_stream_custody_bytes_total", "counter", false,
     WS(stream.custody_bytes), "Bytes acknowledged in the receiver's name."},
    {"streams/custody_resends", "sluice_stream_custody_resends_total", "counter", false,
     WS(stream.custody_resends), "Segments resent from the store to a receiver."},
    {"streams/acks_raised", "sluice_stream_acks_raised_total", "counter", false,
     WS(stream.acks_raised), "Receiver ACKs raised to the custody point."},
    {"streams/flows_opened", "sluice_stream_flows_opened_total", "counter", false,
     WS(stream.flows_opened), "TCP connections followed."},
    {"streams/flows_closed", "sluice_stream_flows_closed_total", "counter", false,
     WS(stream.flows_closed), "Connections closed (FIN both ways or RST)."},
    {"streams/flows_expired", "sluice_stream_flows_expired_total", "counter", false,
     WS(stream.flows_expired), "Connections forgotten after their idle timeout."},
    {"streams/flows_reset", "sluice_stream_flows_reset_total", "counter", false,
     WS(stream.flows_reset), "Connections reset by Sluice (policy)."},
    {"streams/flows_active", "sluice_stream_flows_active", "gauge", false, WS(stream.flows_active),
     "Connections followed now."},
    {"streams/held_packets", "sluice_stream_held_packets", "gauge", false, WS(stream.held_packets),
     "Packets held now until their messages are judged."},
    {"streams/held_bytes", "sluice_stream_held_bytes", "gauge", false, WS(stream.held_bytes),
     "Stream memory in use now (whole 2 KiB chunks)."},
    {"streams/ws_messages", "sluice_ws_messages_total", "counter", false, WS(stream.ws_messages),
     "WebSocket text messages scanned."},
    {"streams/ws_control", "sluice_ws_control_total", "counter", false, WS(stream.ws_control),
     "WebSocket control frames (ping, pong, close)."},
    {"streams/ws_unscanned", "sluice_ws_unscanned_total", "counter", false, WS(stream.ws_unscanned),
     "Binary WebSocket messages passed unscanned (--ws-binary pass)."},
    {"streams/json_messages", "sluice_ws_json_messages_total", "counter", false,
     WS(stream.json_messages), "Text messages scanned by their JSON members."},
    {"streams/json_malformed", "sluice_ws_json_malformed_total", "counter", false,
     WS(stream.json_malformed), "Text messages whose JSON could not be read (scanned whole)."},
};

const size_t sluice_metrics_worker_field_count =
    sizeof(sluice_metrics_worker_fields) / sizeof(sluice_metrics_worker_fields[0]);

static uint64_t field_of(const struct sluice_worker_stats *s, size_t offset)
{
	return *(const uint64_t *)((const char *)s + offset);
}

static void worker_families(struct sluice_strbuf *sb, const struct sluice_control *ctl)
{
	double hz = ctl->tsc_hz != 0 ? (double)ctl->tsc_hz : 0.0;
	for (size_t i = 0; i < sluice_metrics_worker_field_count; i++) {
		const struct sluice_metrics_worker_field *f = &sluice_metrics_worker_fields[i];
		family(sb, f->name, f->type, f->help);
		for (unsigned w = 0; w < ctl->worker_count; w++) {
			uint64_t v = field_of(ctl->stats[w], f->offset);
			if (f->cycles)
				sluice_strbuf_printf(sb, "%s{worker=\"%u\"} %.9g\n", f->name, w,
						     hz > 0 ? (double)v / hz : 0.0);
			else
				sluice_strbuf_printf(sb, "%s{worker=\"%u\"} %llu\n", f->name, w,
						     (unsigned long long)v);
		}
	}
}

static void port_family(struct sluice_strbuf *sb, const struct sluice_control *ctl,
			const char *name, const char *help, size_t offset)
{
	family(sb, name, "counter", help);
	for (unsigned w = 0; w < ctl->worker_count; w++)
		for (unsigned p = 0; p < SLUICE_PORT_COUNT; p++)
			sluice_strbuf_printf(sb, "%s{worker=\"%u\",port=\"%c\"} %llu\n", name, w,
					     p ? 'b' : 'a',
					     (unsigned long long)field_of(
						 ctl->stats[w], offset + p * sizeof(uint64_t)));
}

/* Families whose second label comes from an enumeration's names. */
static void worker_enum_family(struct sluice_strbuf *sb, const struct sluice_control *ctl,
			       const char *name, const char *help, const char *label,
			       unsigned first, unsigned count, const char *(*label_of)(unsigned),
			       size_t offset)
{
	family(sb, name, "counter", help);
	for (unsigned w = 0; w < ctl->worker_count; w++)
		for (unsigned k = first; k < count; k++) {
			sluice_strbuf_printf(sb, "%s{worker=\"%u\",%s=\"", name, w, label);
			sluice_metrics_label_value(sb, label_of(k));
			sluice_strbuf_printf(sb, "\"} %llu\n",
					     (unsigned long long)field_of(
						 ctl->stats[w], offset + k * sizeof(uint64_t)));
		}
}

const char *sluice_metrics_verdict_word(enum sluice_action a)
{
	static const char *const words[SLUICE_ACTION_COUNT] = {[SLUICE_ACTION_NONE] = "passed",
							       [SLUICE_ACTION_FLAG] = "flagged",
							       [SLUICE_ACTION_MASK] = "masked",
							       [SLUICE_ACTION_BLOCK] = "blocked"};
	return words[a];
}

static const char *verdict_word(unsigned a)
{
	return sluice_metrics_verdict_word((enum sluice_action)a);
}

static const char *bad_word(unsigned r)
{
	return sluice_bad_reason_name((enum sluice_bad_reason)r);
}

static const char *stream_word(unsigned r)
{
	return sluice_stream_reason_name((enum sluice_stream_reason)r);
}

static const char *ws_error_word(unsigned e)
{
	return sluice_ws_stream_error_name((enum sluice_ws_stream_error)e);
}

/* ---- packs and their rules ---- */

static void pack_families(struct sluice_strbuf *sb, const struct sluice_control *ctl,
			  const struct sluice_generation *gen)
{
	const struct sluice_registry *reg = ctl->registry;
	family(sb, "sluice_generation", "gauge",
	       "Ruleset generation in force: +1 per publication (load, rollback, unload, expiry).");
	sample_u64(sb, "sluice_generation", gen != NULL ? gen->seq : 0);
	family(sb, "sluice_pack_info", "gauge", "The pack in force in each slot (always 1).");
	for (unsigned s = 0; gen != NULL && s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_pack *p = gen->slot[s].pack;
		if (p == NULL)
			continue;
		sluice_strbuf_printf(sb, "sluice_pack_info{slot=\"%s\",pack=\"",
				     sluice_slot_name((enum sluice_slot)s));
		sluice_metrics_label_value(sb, p->name);
		sluice_strbuf_printf(sb, "\",version=\"");
		sluice_metrics_label_value(sb, p->version);
		sluice_strbuf_printf(sb, "\",sha256=\"%s\"} 1\n", p->sha256_hex);
	}
	family(sb, "sluice_pack_rules", "gauge", "Rules of the pack in force in each slot.");
	for (unsigned s = 0; gen != NULL && s < SLUICE_SLOT_COUNT; s++)
		if (gen->slot[s].pack != NULL)
			labelled_u64(sb, "sluice_pack_rules", "slot",
				     sluice_slot_name((enum sluice_slot)s),
				     gen->slot[s].pack->rule_count);
	family(sb, "sluice_pack_disabled_rules", "gauge",
	       "Rules of the pack in force disabled now (expired, or not started yet).");
	for (unsigned s = 0; gen != NULL && s < SLUICE_SLOT_COUNT; s++)
		if (gen->slot[s].pack != NULL)
			labelled_u64(sb, "sluice_pack_disabled_rules", "slot",
				     sluice_slot_name((enum sluice_slot)s),
				     gen->slot[s].disabled_count);
	family(sb, "sluice_pack_active_since_timestamp_seconds", "gauge",
	       "When the slot's pack was put in force (Unix time).");
	for (unsigned s = 0; gen != NULL && s < SLUICE_SLOT_COUNT; s++) {
		if (gen->slot[s].pack == NULL)
			continue;
		uint64_t since = reg->slots[s].active_since_ns;
		sluice_strbuf_printf(
		    sb, "sluice_pack_active_since_timestamp_seconds{slot=\"%s\"} %.3f\n",
		    sluice_slot_name((enum sluice_slot)s),
		    (double)(since != 0 ? since : gen->loaded_at_ns) / 1e9);
	}
	struct sluice_memory_use mem;
	sluice_registry_memory(reg, &mem);
	family(sb, "sluice_pack_memory_bytes", "gauge",
	       "Memory held for packs: active (in force, with scratch), kept (for rollback only).");
	labelled_u64(sb, "sluice_pack_memory_bytes", "use", "active", mem.active);
	labelled_u64(sb, "sluice_pack_memory_bytes", "use", "kept", mem.kept);
	family(sb, "sluice_pack_memory_cap_bytes", "gauge",
	       "--memory-cap-mb in bytes (0: no cap).");
	sample_u64(sb, "sluice_pack_memory_cap_bytes", reg->memory_cap);
	family(sb, "sluice_swaps_total", "counter", "Publications of a new generation.");
	sample_u64(sb, "sluice_swaps_total", reg->swaps);
	family(sb, "sluice_swap_refusals_total", "counter",
	       "Pack changes refused (bad pack, signature, memory cap, stuck worker...).");
	sample_u64(sb, "sluice_swap_refusals_total", reg->refusals);
	family(sb, "sluice_swap_grace_seconds", "histogram",
	       "Grace periods of publications: from the pointer exchange until no worker "
	       "can hold the old generation (the control thread waits that long).");
	uint64_t below = 0;
	for (unsigned b = 0; b < SLUICE_GRACE_BUCKETS; b++) {
		below += reg->grace_buckets[b];
		sluice_strbuf_printf(sb, "sluice_swap_grace_seconds_bucket{le=\"%.9g\"} %llu\n",
				     sluice_grace_bucket_ms[b] / 1e3, (unsigned long long)below);
	}
	sluice_strbuf_printf(sb, "sluice_swap_grace_seconds_bucket{le=\"+Inf\"} %llu\n",
			     (unsigned long long)reg->grace_count);
	sample_f(sb, "sluice_swap_grace_seconds_sum", reg->grace_ms_sum / 1e3);
	sample_u64(sb, "sluice_swap_grace_seconds_count", reg->grace_count);
	family(sb, "sluice_swap_grace_max_seconds", "gauge", "Longest grace period since start.");
	sample_f(sb, "sluice_swap_grace_max_seconds", reg->grace_ms_max / 1e3);
	family(sb, "sluice_last_swap_seconds", "gauge",
	       "The last publication's phases: load (read, verify, compile), build (scratch), "
	       "grace.");
	sluice_strbuf_printf(sb, "sluice_last_swap_seconds{phase=\"load\"} %.9g\n",
			     reg->last_swap.load_ms / 1e3);
	sluice_strbuf_printf(sb, "sluice_last_swap_seconds{phase=\"build\"} %.9g\n",
			     reg->last_swap.build_ms / 1e3);
	sluice_strbuf_printf(sb, "sluice_last_swap_seconds{phase=\"grace\"} %.9g\n",
			     reg->last_swap.grace_ms / 1e3);
	family(sb, "sluice_last_swap_timestamp_seconds", "gauge",
	       "When the last publication completed (Unix time; 0: none).");
	sample_f(sb, "sluice_last_swap_timestamp_seconds", (double)reg->last_swap_ns / 1e9);
}

/* Whether slot s's choice still describes pack p; if not, starts afresh. */
static int sync_slot(struct sluice_metrics_slot_rules *st, const struct sluice_pack *p)
{
	if (st->pack == p && (p == NULL || strcmp(st->sha, p->sha256_hex) == 0))
		return 0;
	free(st->own);
	memset(st, 0, sizeof(*st));
	if (p == NULL)
		return 0;
	st->own = calloc(p->rule_count > 0 ? p->rule_count : 1, 1);
	if (st->own == NULL)
		return -1;
	st->pack = p;
	snprintf(st->sha, sizeof(st->sha), "%s", p->sha256_hex);
	return 0;
}

struct candidate {
	uint64_t hits;
	unsigned slot;
	size_t rule;
};

static int by_hits(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	if (x->hits != y->hits)
		return x->hits < y->hits ? 1 : -1;
	if (x->slot != y->slot)
		return x->slot < y->slot ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* Gives rules their own series while there is room (metrics.h). */
static void choose_rules(struct sluice_metrics *m, const struct sluice_registry *reg,
			 const struct sluice_generation *gen)
{
	size_t limit = m->rule_limit != 0 ? m->rule_limit : SLUICE_METRICS_RULE_LIMIT_DEFAULT;
	size_t used = 0, total = 0, unowned_hit = 0;
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_pack *p = gen != NULL ? gen->slot[s].pack : NULL;
		if (sync_slot(&m->slot[s], p) != 0)
			return; /* out of memory: that slot shows _other alone */
		used += m->slot[s].own_count;
		total += p != NULL ? p->rule_count : 0;
	}
	if (used == total || used >= limit)
		return;
	if (total <= limit) {
		/* Everything fits: every rule from the start, zeros included. */
		for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
			struct sluice_metrics_slot_rules *st = &m->slot[s];
			if (st->pack == NULL)
				continue;
			memset(st->own, 1, st->pack->rule_count);
			st->own_count = st->pack->rule_count;
		}
		return;
	}
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++)
		for (size_t r = 0; m->slot[s].pack != NULL && r < m->slot[s].pack->rule_count; r++)
			unowned_hit += !m->slot[s].own[r] &&
				       sluice_registry_rule_hits(reg, (enum sluice_slot)s, r) > 0;
	if (unowned_hit == 0)
		return;
	struct candidate *c = malloc(unowned_hit * sizeof(*c));
	if (c == NULL)
		return;
	size_t n = 0;
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++)
		for (size_t r = 0; m->slot[s].pack != NULL && r < m->slot[s].pack->rule_count;
		     r++) {
			uint64_t h = sluice_registry_rule_hits(reg, (enum sluice_slot)s, r);
			if (!m->slot[s].own[r] && h > 0 && n < unowned_hit)
				c[n++] = (struct candidate){.hits = h, .slot = s, .rule = r};
		}
	qsort(c, n, sizeof(*c), by_hits);
	for (size_t i = 0; i < n && used < limit; i++, used++) {
		m->slot[c[i].slot].own[c[i].rule] = 1;
		m->slot[c[i].slot].own_count++;
	}
	free(c);
}

static void rule_labels(struct sluice_strbuf *sb, unsigned s, const struct sluice_pack *p,
			const char *rule)
{
	sluice_strbuf_printf(sb, "sluice_rule_hits_total{slot=\"%s\",pack=\"",
			     sluice_slot_name((enum sluice_slot)s));
	sluice_metrics_label_value(sb, p->name);
	sluice_strbuf_printf(sb, "\",version=\"");
	sluice_metrics_label_value(sb, p->version);
	sluice_strbuf_printf(sb, "\",rule=\"");
	sluice_metrics_label_value(sb, rule);
	sluice_strbuf_printf(sb, "\"}");
}

static void rule_family(struct sluice_strbuf *sb, struct sluice_metrics *m,
			const struct sluice_control *ctl, const struct sluice_generation *gen)
{
	choose_rules(m, ctl->registry, gen);
	family(sb, "sluice_rule_hits_total", "counter",
	       "Hits per rule of the packs in force since each was loaded (as `sluicectl stats "
	       "rules`); rule=\"_other\" sums the rules without a series of their own.");
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_metrics_slot_rules *st = &m->slot[s];
		const struct sluice_pack *p = gen != NULL ? gen->slot[s].pack : NULL;
		if (p == NULL)
			continue;
		uint64_t other = 0;
		for (size_t r = 0; r < p->rule_count; r++) {
			uint64_t h =
			    sluice_registry_rule_hits(ctl->registry, (enum sluice_slot)s, r);
			if (st->pack != p || !st->own[r]) {
				other += h;
				continue;
			}
			rule_labels(sb, s, p, p->rules[r].id);
			sluice_strbuf_printf(sb, " %llu\n", (unsigned long long)h);
		}
		if (st->pack != p || st->own_count < p->rule_count) {
			rule_labels(sb, s, p, "_other");
			sluice_strbuf_printf(sb, " %llu\n", (unsigned long long)other);
		}
	}
	size_t limit = m->rule_limit != 0 ? m->rule_limit : SLUICE_METRICS_RULE_LIMIT_DEFAULT;
	family(sb, "sluice_rule_series_limit", "gauge",
	       "--metrics-rule-limit: most rules with a hits series of their own.");
	sample_u64(sb, "sluice_rule_series_limit", limit);
}

/* ---- events, ports, the control thread ---- */

/* The events bus (event_bus.h): zeros without one, so that a dashboard
 * made for a fleet reads every gateway the same way. */
static void bus_families(struct sluice_strbuf *sb, const struct sluice_control *ctl)
{
	struct sluice_event_bus_stats bus;
	memset(&bus, 0, sizeof(bus));
	bool has_bus = ctl->sink != NULL && ctl->sink->bus != NULL;
	if (has_bus)
		sluice_event_bus_stats(ctl->sink->bus, &bus);
	for (size_t i = 0; i < sluice_event_bus_field_count; i++) {
		const struct sluice_event_bus_field *f = &sluice_event_bus_fields[i];
		char name[96];
		snprintf(name, sizeof(name), "sluice_events_bus_%s%s", f->name,
			 f->counter ? "_total" : "");
		family(sb, name, f->counter ? "counter" : "gauge", f->help);
		sample_u64(sb, name, *(const uint64_t *)((const char *)&bus + f->offset));
	}
	family(sb, "sluice_events_bus_connected", "gauge",
	       "1 while connected to the bus with the stream found (0 also without a bus).");
	sample_u64(sb, "sluice_events_bus_connected", bus.connected && bus.stream_ready);
}

/* The fleet's pack source (fleet_watch.h): zeros without one. */
static void fleet_families(struct sluice_strbuf *sb, const struct sluice_control *ctl)
{
	struct sluice_fleet_status st;
	memset(&st, 0, sizeof(st));
	bool connected = false;
	if (ctl->fleet != NULL) {
		sluice_fleet_watch_status(ctl->fleet, &st);
		connected = sluice_fleet_watch_connected(ctl->fleet);
	}
	family(sb, "sluice_fleet_refusals_total", "counter",
	       "Fleet targets refused: a bad manifest or chunk, or a pack the load refused.");
	sample_u64(sb, "sluice_fleet_refusals_total", st.refusals);
	family(sb, "sluice_fleet_connected", "gauge",
	       "1 while connected to the pack source (0 also without one).");
	sample_u64(sb, "sluice_fleet_connected", connected);
}

static void event_families(struct sluice_strbuf *sb, const struct sluice_control *ctl)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} sink_fields[] = {
	    {"sluice_events_written_total", "Events written to the events file.",
	     offsetof(struct sluice_event_sink, written)},
	    {"sluice_event_write_errors_total", "Writes of events that failed.",
	     offsetof(struct sluice_event_sink, write_errors)},
	    {"sluice_events_filtered_total", "Match events the events filter left out.",
	     offsetof(struct sluice_event_sink, filtered)},
	    {"sluice_events_sampled_out_total", "Flag events left out by sampling.",
	     offsetof(struct sluice_event_sink, sampled_out)},
	    {"sluice_event_file_rotations_total", "Events file rotations by size.",
	     offsetof(struct sluice_event_sink, rotations)},
	    {"sluice_event_file_reopens_total", "Events file reopened (SIGHUP).",
	     offsetof(struct sluice_event_sink, reopens)},
	};
	for (size_t i = 0; i < sizeof(sink_fields) / sizeof(sink_fields[0]); i++) {
		family(sb, sink_fields[i].name, "counter", sink_fields[i].help);
		sample_u64(sb, sink_fields[i].name,
			   ctl->sink != NULL ? *(const uint64_t *)((const char *)ctl->sink +
								   sink_fields[i].offset)
					     : 0);
	}
	bus_families(sb, ctl);
	fleet_families(sb, ctl);
	bool waits = ctl->events_full != NULL && strcmp(ctl->events_full, "wait") == 0;
	family(sb, "sluice_events_full_policy", "gauge",
	       "What a worker does with an event its full ring refuses (--events-full), as 1.");
	labelled_u64(sb, "sluice_events_full_policy", "policy", waits ? "wait" : "drop", 1);
	family(sb, "sluice_events_wait_limit_seconds", "gauge",
	       "With --events-full wait, the longest one event waits (--events-wait-us).");
	sample_f(sb, "sluice_events_wait_limit_seconds", waits ? ctl->events_wait_us / 1e6 : 0.0);
}

static void port_driver_families(struct sluice_strbuf *sb, const struct sluice_control *ctl)
{
	struct sluice_port_counters pc[2];
	bool known[2];
	for (unsigned side = 0; side < 2; side++) {
		memset(&pc[side], 0, sizeof(pc[side]));
		known[side] = ctl->port_counters != NULL &&
			      ctl->port_counters(ctl->port_counters_arg, side, &pc[side]);
	}
	static const struct {
		const char *name, *help;
		size_t offset;
	} fields[] = {
	    {"sluice_port_rx_missed_total", "Packets the port dropped: its RX ring was full.",
	     offsetof(struct sluice_port_counters, rx_missed)},
	    {"sluice_port_rx_nombuf_total", "Receives that failed: the mbuf pool ran dry.",
	     offsetof(struct sluice_port_counters, rx_nombuf)},
	    {"sluice_port_rx_errors_total", "Receive errors counted by the port's driver.",
	     offsetof(struct sluice_port_counters, rx_errors)},
	    {"sluice_port_tx_errors_total", "Send errors counted by the port's driver.",
	     offsetof(struct sluice_port_counters, tx_errors)},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		family(sb, fields[i].name, "counter", fields[i].help);
		for (unsigned side = 0; side < 2; side++)
			if (known[side])
				labelled_u64(sb, fields[i].name, "port", side ? "b" : "a",
					     *(const uint64_t *)((const char *)&pc[side] +
								 fields[i].offset));
	}
}

static void control_families(struct sluice_strbuf *sb, const struct sluice_control *ctl)
{
	double now = sluice_mono_ms();
	family(sb, "sluice_worker_info", "gauge", "Each worker and the lcore it runs on (1).");
	for (unsigned w = 0; w < ctl->worker_count; w++)
		sluice_strbuf_printf(sb, "sluice_worker_info{worker=\"%u\",lcore=\"%u\"} 1\n", w,
				     ctl->lcores[w]);
	family(sb, "sluice_worker_stuck", "gauge",
	       "1 when the worker has not finished a loop pass for --stall-ms (swaps are "
	       "refused meanwhile).");
	for (unsigned w = 0; w < ctl->worker_count; w++)
		sluice_strbuf_printf(sb, "sluice_worker_stuck{worker=\"%u\"} %d\n", w,
				     ctl->stuck[w] ? 1 : 0);
	family(sb, "sluice_worker_last_progress_age_seconds", "gauge",
	       "Time since the control thread last saw the worker finish a pass.");
	for (unsigned w = 0; w < ctl->worker_count; w++)
		sluice_strbuf_printf(
		    sb, "sluice_worker_last_progress_age_seconds{worker=\"%u\"} %.3f\n", w,
		    (now - ctl->progress_ms[w]) / 1e3);
	family(sb, "sluice_start_time_seconds", "gauge", "When the daemon started (Unix time).");
	sample_f(sb, "sluice_start_time_seconds", (double)ctl->started_ns / 1e9);
	const struct sluice_ctl_client_counters *cc = &ctl->clients.counters;
	family(sb, "sluice_control_clients_connected", "gauge",
	       "Connections to the control socket now.");
	sample_u64(sb, "sluice_control_clients_connected", ctl->clients.count);
	family(sb, "sluice_control_clients_total", "counter",
	       "Control socket connections by outcome: accepted, served, and the failures.");
	static const char *const outcome[] = {"accepted",     "served",	 "request_timeout",
					      "bad_request",  "evicted", "vanished",
					      "reply_timeout"};
	const uint64_t counts[] = {cc->accepted,      cc->served,  cc->request_timeouts,
				   cc->bad_requests,  cc->evicted, cc->vanished,
				   cc->reply_timeouts};
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		labelled_u64(sb, "sluice_control_clients_total", "outcome", outcome[i], counts[i]);
	family(sb, "sluice_control_access_refusals_total", "counter",
	       "Control socket clients refused by the peer credential check.");
	sample_u64(sb, "sluice_control_access_refusals_total", ctl->access_refusals);
}

void sluice_metrics_render(struct sluice_metrics *m, struct sluice_control *ctl,
			   struct sluice_strbuf *sb)
{
	const struct sluice_generation *gen =
	    ctl->registry != NULL ? sluice_registry_current(ctl->registry) : NULL;
	m->scrapes++;
	port_family(sb, ctl, "sluice_rx_packets_total", "Packets received, by worker and side.",
		    WS(rx_packets));
	port_family(sb, ctl, "sluice_tx_packets_total", "Packets sent, by worker and side.",
		    WS(tx_packets));
	port_family(sb, ctl, "sluice_tx_dropped_total",
		    "Packets dropped because the TX queue stayed full after retries.",
		    WS(tx_dropped));
	worker_families(sb, ctl);
	worker_enum_family(sb, ctl, "sluice_verdicts_total",
			   "Messages by verdict (passed: unchanged).", "verdict", 0,
			   SLUICE_ACTION_COUNT, verdict_word, WS(verdicts));
	worker_enum_family(sb, ctl, "sluice_bad_input_total",
			   "Bad input by reason (each under its --policy).", "reason", 1,
			   SLUICE_BAD_REASON_COUNT, bad_word, WS(bad));
	worker_enum_family(sb, ctl, "sluice_stream_reasons_total",
			   "TCP stream segments dropped and connections reset, by reason.",
			   "reason", 1, SLUICE_STREAM_REASON_COUNT, stream_word, WS(stream.reason));
	worker_enum_family(sb, ctl, "sluice_ws_errors_total",
			   "WebSocket protocol errors (reason ws_protocol), by error.", "error", 1,
			   SLUICE_WS_STREAM_ERROR_COUNT, ws_error_word, WS(stream.ws_error));
	port_driver_families(sb, ctl);
	event_families(sb, ctl);
	if (ctl->registry != NULL) {
		pack_families(sb, ctl, gen);
		rule_family(sb, m, ctl, gen);
	}
	control_families(sb, ctl);
	family(sb, "sluice_metrics_scrapes_total", "counter", "Scrapes of this endpoint.");
	sample_u64(sb, "sluice_metrics_scrapes_total", m->scrapes);
}

void sluice_metrics_fini(struct sluice_metrics *m)
{
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		free(m->slot[s].own);
		memset(&m->slot[s], 0, sizeof(m->slot[s]));
	}
}
