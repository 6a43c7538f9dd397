#include "stats_report.h"

#include <stddef.h>
#include <string.h>

/* Every field of the stream counters is a uint64_t: sums field by field
 * (the gauges too: per worker, so their sum is the daemon's). */
static void stream_sum(struct sluice_stream_stats *total, const struct sluice_stream_stats *s)
{
	uint64_t *t = (uint64_t *)total;
	const uint64_t *w = (const uint64_t *)s;
	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		t[i] += w[i];
}

_Static_assert(sizeof(struct sluice_stream_stats) % sizeof(uint64_t) == 0,
	       "stream counters are all uint64_t");

void sluice_stats_sum(struct sluice_worker_stats *const *workers, unsigned count,
		      struct sluice_worker_stats *total)
{
	memset(total, 0, sizeof(*total));
	if (count > 0)
		total->generation = workers[0]->generation;
	for (unsigned w = 0; w < count; w++) {
		const struct sluice_worker_stats *s = workers[w];
		for (unsigned p = 0; p < SLUICE_PORT_COUNT; p++) {
			total->rx_packets[p] += s->rx_packets[p];
			total->tx_packets[p] += s->tx_packets[p];
			total->tx_dropped[p] += s->tx_dropped[p];
		}
		total->other_forwarded += s->other_forwarded;
		total->datagrams += s->datagrams;
		total->datagrams_rewritten += s->datagrams_rewritten;
		total->datagrams_removed += s->datagrams_removed;
		total->datagrams_dropped_bad += s->datagrams_dropped_bad;
		total->messages += s->messages;
		total->bytes_scanned += s->bytes_scanned;
		for (unsigned a = 0; a < SLUICE_ACTION_COUNT; a++)
			total->verdicts[a] += s->verdicts[a];
		total->matches += s->matches;
		for (unsigned r = 0; r < SLUICE_BAD_REASON_COUNT; r++)
			total->bad[r] += s->bad[r];
		total->utf8_repaired += s->utf8_repaired;
		total->match_overflow += s->match_overflow;
		total->events_dropped += s->events_dropped;
		total->events_waited += s->events_waited;
		total->event_wait_cycles += s->event_wait_cycles;
		total->event_wait_timeouts += s->event_wait_timeouts;
		total->iterations += s->iterations;
		if (s->max_iteration_cycles > total->max_iteration_cycles)
			total->max_iteration_cycles = s->max_iteration_cycles;
		if (s->max_gap_cycles > total->max_gap_cycles)
			total->max_gap_cycles = s->max_gap_cycles;
		if (s->generation < total->generation)
			total->generation = s->generation;
		stream_sum(&total->stream, &s->stream);
	}
}

static void stream_json(struct sluice_strbuf *sb, const struct sluice_stream_stats *s)
{
	sluice_strbuf_printf(
	    sb,
	    ",\"streams\":{\"segments\":%llu,\"checksums_by_port\":%llu,\"segments_held\":%llu,"
	    "\"segments_released\":%llu,"
	    "\"segments_dropped\":%llu,\"retransmits_rewritten\":%llu,\"conflict_bytes\":%llu,"
	    "\"custody_acks\":%llu,\"custody_bytes\":%llu,\"custody_resends\":%llu,"
	    "\"acks_raised\":%llu,"
	    "\"flows_opened\":%llu,\"flows_closed\":%llu,\"flows_expired\":%llu,"
	    "\"flows_reset\":%llu,\"flows_active\":%llu,\"held_packets\":%llu,"
	    "\"held_bytes\":%llu,\"ws_messages\":%llu,\"ws_control\":%llu,"
	    "\"ws_unscanned\":%llu,\"json_messages\":%llu,\"json_malformed\":%llu,"
	    "\"reasons\":{",
	    (unsigned long long)s->segments, (unsigned long long)s->checksums_by_port,
	    (unsigned long long)s->segments_held, (unsigned long long)s->segments_released,
	    (unsigned long long)s->segments_dropped, (unsigned long long)s->retransmits_rewritten,
	    (unsigned long long)s->conflict_bytes, (unsigned long long)s->custody_acks,
	    (unsigned long long)s->custody_bytes, (unsigned long long)s->custody_resends,
	    (unsigned long long)s->acks_raised, (unsigned long long)s->flows_opened,
	    (unsigned long long)s->flows_closed, (unsigned long long)s->flows_expired,
	    (unsigned long long)s->flows_reset, (unsigned long long)s->flows_active,
	    (unsigned long long)s->held_packets, (unsigned long long)s->held_bytes,
	    (unsigned long long)s->ws_messages, (unsigned long long)s->ws_control,
	    (unsigned long long)s->ws_unscanned, (unsigned long long)s->json_messages,
	    (unsigned long long)s->json_malformed);
	for (unsigned r = 1; r < SLUICE_STREAM_REASON_COUNT; r++)
		sluice_strbuf_printf(sb, "%s\"%s\":%llu", r > 1 ? "," : "",
				     sluice_stream_reason_name((enum sluice_stream_reason)r),
				     (unsigned long long)s->reason[r]);
	sluice_strbuf_printf(sb, "},\"ws_errors\":{");
	for (unsigned e = 1; e < SLUICE_WS_STREAM_ERROR_COUNT; e++)
		sluice_strbuf_printf(sb, "%s\"%s\":%llu", e > 1 ? "," : "",
				     sluice_ws_stream_error_name((enum sluice_ws_stream_error)e),
				     (unsigned long long)s->ws_error[e]);
	sluice_strbuf_printf(sb, "}}");
}

static double cycles_to_ns(uint64_t cycles, uint64_t hz)
{
	return hz ? (double)cycles * 1e9 / (double)hz : 0.0;
}

void sluice_stats_json_one(struct sluice_strbuf *sb, const struct sluice_worker_stats *s,
			   uint64_t tsc_hz)
{
	sluice_strbuf_printf(
	    sb,
	    "{\"rx_packets\":{\"a\":%llu,\"b\":%llu},"
	    "\"tx_packets\":{\"a\":%llu,\"b\":%llu},"
	    "\"tx_dropped\":{\"a\":%llu,\"b\":%llu},",
	    (unsigned long long)s->rx_packets[0], (unsigned long long)s->rx_packets[1],
	    (unsigned long long)s->tx_packets[0], (unsigned long long)s->tx_packets[1],
	    (unsigned long long)s->tx_dropped[0], (unsigned long long)s->tx_dropped[1]);
	sluice_strbuf_printf(
	    sb,
	    "\"other_forwarded\":%llu,\"datagrams\":%llu,\"datagrams_rewritten\":%llu,"
	    "\"datagrams_removed\":%llu,\"datagrams_dropped_bad\":%llu,\"messages\":%llu,"
	    "\"bytes_scanned\":%llu,\"matches\":%llu,",
	    (unsigned long long)s->other_forwarded, (unsigned long long)s->datagrams,
	    (unsigned long long)s->datagrams_rewritten, (unsigned long long)s->datagrams_removed,
	    (unsigned long long)s->datagrams_dropped_bad, (unsigned long long)s->messages,
	    (unsigned long long)s->bytes_scanned, (unsigned long long)s->matches);
	sluice_strbuf_printf(sb,
			     "\"verdicts\":{\"passed\":%llu,\"flagged\":%llu,\"masked\":%llu,"
			     "\"blocked\":%llu},\"bad_input\":{",
			     (unsigned long long)s->verdicts[SLUICE_ACTION_NONE],
			     (unsigned long long)s->verdicts[SLUICE_ACTION_FLAG],
			     (unsigned long long)s->verdicts[SLUICE_ACTION_MASK],
			     (unsigned long long)s->verdicts[SLUICE_ACTION_BLOCK]);
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++)
		sluice_strbuf_printf(sb, "%s\"%s\":%llu", r > 1 ? "," : "",
				     sluice_bad_reason_name((enum sluice_bad_reason)r),
				     (unsigned long long)s->bad[r]);
	sluice_strbuf_printf(
	    sb,
	    "},\"utf8_repaired\":%llu,\"match_overflow\":%llu,\"events_dropped\":%llu,"
	    "\"events_waited\":%llu,\"event_wait_ns\":%.0f,\"event_wait_timeouts\":%llu,"
	    "\"iterations\":%llu,\"max_iteration_ns\":%.0f,\"max_gap_ns\":%.0f,"
	    "\"generation\":%llu",
	    (unsigned long long)s->utf8_repaired, (unsigned long long)s->match_overflow,
	    (unsigned long long)s->events_dropped, (unsigned long long)s->events_waited,
	    cycles_to_ns(s->event_wait_cycles, tsc_hz), (unsigned long long)s->event_wait_timeouts,
	    (unsigned long long)s->iterations, cycles_to_ns(s->max_iteration_cycles, tsc_hz),
	    cycles_to_ns(s->max_gap_cycles, tsc_hz), (unsigned long long)s->generation);
	stream_json(sb, &s->stream);
	sluice_strbuf_printf(sb, "}");
}

void sluice_stats_json(struct sluice_strbuf *sb, struct sluice_worker_stats *const *workers,
		       unsigned count, uint64_t tsc_hz)
{
	struct sluice_worker_stats total;
	sluice_stats_sum(workers, count, &total);
	sluice_strbuf_printf(sb, "{\"total\":");
	sluice_stats_json_one(sb, &total, tsc_hz);
	sluice_strbuf_printf(sb, ",\"workers\":[");
	for (unsigned w = 0; w < count; w++) {
		if (w > 0)
			sluice_strbuf_printf(sb, ",");
		sluice_stats_json_one(sb, workers[w], tsc_hz);
	}
	sluice_strbuf_printf(sb, "]}");
}
