/* Writing events as JSON lines.
 *
 * One line per event, written by the control thread only. A match line:
 *   {"ts":"2026-11-23T09:01:39.123456789Z","event":"match","worker":0,"msg_id":7,
 *    "channel_id":3,"user_id":42,"rule":"phone-cn-mobile","category":"contact",
 *    "action":"mask","verdict":"mask","pack":"sluice-default",
 *    "pack_version":"2026.11.23-1","from":8,"to":19}
 * A bad-input line has "event":"bad_input", "reason", "policy" and the ids when
 * they could be read. Timestamps come from the worker's burst TSC, converted with
 * the clock calibration the sink was opened with.
 */
#ifndef SLUICE_CONTROL_EVENT_SINK_H
#define SLUICE_CONTROL_EVENT_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "event_ring.h"

struct sluice_tsc_clock {
	uint64_t tsc0; /* TSC at ... */
	uint64_t ns0;  /* ... this CLOCK_REALTIME instant */
	uint64_t hz;   /* TSC frequency */
};

struct sluice_event_sink {
	FILE *out;
	char *path; /* "-" for stdout */
	struct sluice_tsc_clock clock;
	uint64_t written;
	uint64_t write_errors;
};

/* Opens path for appending ("-": stdout). Returns 0 or -1 with err. */
int sluice_event_sink_open(struct sluice_event_sink *sink, const char *path,
			   const struct sluice_tsc_clock *clock, char *err, size_t err_len);

/* Formats one event into buf (NUL-terminated, newline included); returns length. */
size_t sluice_event_format(const struct sluice_event *ev, const struct sluice_tsc_clock *clock,
			   char *buf, size_t cap);

/* Pops and writes up to `budget` events from ring; returns how many. */
unsigned sluice_event_sink_drain(struct sluice_event_sink *sink, struct sluice_event_ring *ring,
				 unsigned budget);

void sluice_event_sink_flush(struct sluice_event_sink *sink);
void sluice_event_sink_close(struct sluice_event_sink *sink);

/* Converts a TSC reading into CLOCK_REALTIME nanoseconds. */
uint64_t sluice_tsc_to_ns(const struct sluice_tsc_clock *clock, uint64_t tsc);

/* Writes s as a JSON string (quotes included) into buf and returns the bytes
 * written. The result is always a whole string: when s does not fit it is cut
 * before a character or escape that would not fit, and still closed. */
size_t sluice_json_string(char *buf, size_t cap, const char *s);

#endif
