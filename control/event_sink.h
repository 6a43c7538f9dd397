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

/* What the sink keeps between events so that a line costs copies, not
 * formatting: the date and time of the current second, and each recent
 * pack's name, version, rule ids and categories, JSON-escaped once. */
struct sluice_event_pack_strings {
	const struct sluice_pack *pack; /* with sha below: a freed pack's address */
	char sha[17];			/* may come back as another pack */
	char *name, *version;
	char **rule_id, **category; /* per rule, escaped (quotes included) */
	size_t rules;
};

#define SLUICE_EVENT_PACKS_CACHED 4 /* main and urgent, and the ones they replace */

struct sluice_event_sink {
	FILE *out;
	char *path; /* "-" for stdout */
	struct sluice_tsc_clock clock;
	uint64_t written;
	uint64_t write_errors;
	/* Lines of a drain are gathered here and written with one call. */
	char *buf;
	size_t used, cap;
	uint64_t ts_second; /* UINT64_MAX: none yet */
	char ts_prefix[24]; /* "YYYY-MM-DDTHH:MM:SS" of ts_second */
	struct sluice_event_pack_strings packs[SLUICE_EVENT_PACKS_CACHED];
	unsigned next_pack;
};

/* Opens path for appending ("-": stdout). Returns 0 or -1 with err. */
int sluice_event_sink_open(struct sluice_event_sink *sink, const char *path,
			   const struct sluice_tsc_clock *clock, char *err, size_t err_len);

/* Formats one event into buf (NUL-terminated, newline included); returns length. */
size_t sluice_event_format(const struct sluice_event *ev, const struct sluice_tsc_clock *clock,
			   char *buf, size_t cap);

/* Pops and writes up to `budget` events from ring; returns how many. The
 * lines are written with one call per drain (and whenever the sink's buffer
 * fills). */
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
