/* Writing events as JSON lines.
 *
 * One line per event, written by the control thread only. A match line:
 *   {"ts":"2026-11-23T09:01:39.123456789Z","event":"match","worker":0,"msg_id":7,
 *    "channel_id":3,"user_id":42,"src":"198.18.0.1","sport":40000,
 *    "dst":"198.18.0.2","dport":7700,"rule":"phone-cn-mobile","category":"contact",
 *    "severity":"high","action":"mask","verdict":"mask","pack":"sluice-default",
 *    "pack_version":"2026.11.23-1","from":8,"to":19,"text_hash":"9c3e...",
 *    "snippet":"13812345678"}
 * "snippet" only when the worker sent one (--event-snippet); "text_hash" (16
 * hex digits, siphash.h) always. A bad-input line has "event":"bad_input",
 * "reason", "policy", the ids when they could be read, and the sender: its
 * addresses and ports, or at least its "src_mac". Timestamps come from the
 * worker's burst TSC, converted with the clock calibration the sink was
 * opened with.
 *
 * What reaches the file can be narrowed (struct sluice_event_filter): match
 * events by their rule's action, category and severity, and flag rules'
 * events sampled. Bad-input and stream events are always written: each is
 * a datagram or a connection dropped. Every event left out is counted.
 *
 * The file can rotate by size (struct sluice_event_rotation), and
 * sluice_event_sink_reopen() opens the path again after an outside rotation
 * (logrotate, then SIGHUP): lines are never lost to copytruncate's race.
 *
 * With a bus (event_bus.h), each line written is also handed to it, byte for
 * byte, with a subject naming its kind, category and action; the path
 * "none" writes no file, so the bus alone gets the events.
 */
#ifndef SLUICE_CONTROL_EVENT_SINK_H
#define SLUICE_CONTROL_EVENT_SINK_H

#include <stdint.h>
#include <stdio.h>

#include "event.h"
#include "event_bus.h"
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
	bool *wanted;		    /* per rule: the filter lets its events through */
	uint64_t *flag_seen;	    /* per rule: flag events met, for sampling */
	size_t rules;
};

/* Which match events are written. Zeroed: every one. */
struct sluice_event_filter {
	unsigned actions;	   /* bits 1 << enum sluice_action of rules written; 0: all */
	unsigned min_severity;	   /* enum sluice_severity; 0: all */
	const char *categories;	   /* comma-separated list; NULL: all */
	unsigned long flag_sample; /* of each flag rule's events, the 1st, N+1st, ...; 0, 1: all */
};

/* Rotation by size. Zeroed: none. */
struct sluice_event_rotation {
	uint64_t max_bytes; /* a write that would take the file past this rotates it first */
	unsigned keep;	    /* PATH.1 (newest) .. PATH.keep are kept */
};

/* Parses "--events-actions"'s comma list of flag, mask, block into bits.
 * Returns 0, or -1 with why naming the word. */
int sluice_event_actions_parse(const char *list, unsigned *bits, char *why, size_t why_len);

/* Checks "--events-categories"'s comma list: words of a rule category's
 * characters (letters, digits, '.', '_', '-'), none empty. An empty list would filter out every
 * match event (a variable that expanded to nothing, say), where leaving the option out means all:
 * it is refused. 0, or -1 with why. */
int sluice_event_categories_check(const char *list, char *why, size_t why_len);

#define SLUICE_EVENT_PACKS_CACHED 4 /* main and urgent, and the ones they replace */

struct sluice_event_sink {
	FILE *out;		      /* NULL: no file ("none") */
	char *path;		      /* "-" for stdout */
	struct sluice_event_bus *bus; /* NULL: none; not owned */
	/* Hand every event to the bus even when it has no room (it counts
	 * them lost): for a drain that must empty the rings. */
	bool bus_force;
	struct sluice_tsc_clock clock;
	uint64_t written;
	uint64_t write_errors;
	uint64_t filtered;    /* match events the filter left out */
	uint64_t sampled_out; /* flag events sampling left out */
	uint64_t rotations;   /* by size */
	uint64_t reopens;     /* sluice_event_sink_reopen() that took */
	uint64_t file_bytes;  /* in the file now (rotation) */
	struct sluice_event_filter filter;
	char *categories; /* the filter's own copy */
	struct sluice_event_rotation rotation;
	/* Lines of a drain are gathered here and written with one call. */
	char *buf;
	size_t used, cap;
	uint64_t ts_second; /* UINT64_MAX: none yet */
	char ts_prefix[24]; /* "YYYY-MM-DDTHH:MM:SS" of ts_second */
	struct sluice_event_pack_strings packs[SLUICE_EVENT_PACKS_CACHED];
	unsigned next_pack;
};

/* Opens path for appending ("-": stdout, "none": no file). Returns 0 or -1
 * with err. */
int sluice_event_sink_open(struct sluice_event_sink *sink, const char *path,
			   const struct sluice_tsc_clock *clock, char *err, size_t err_len);

/* Sets what is written and when the file rotates. Rotation needs a file, not
 * stdout. Returns 0, or -1 with err. */
int sluice_event_sink_configure(struct sluice_event_sink *sink,
				const struct sluice_event_filter *filter,
				const struct sluice_event_rotation *rotation, char *err,
				size_t err_len);

/* Formats one event into buf (NUL-terminated, newline included); returns
 * length. snippet: the bytes of the slot after ev (ev->snippet_len of
 * them), or NULL. */
size_t sluice_event_format(const struct sluice_event *ev, const uint8_t *snippet,
			   const struct sluice_tsc_clock *clock, char *buf, size_t cap);

/* Pops and writes up to `budget` ring slots from ring; returns how many it
 * popped: an event and its snippet are popped together, so this may be
 * budget + 1. The lines are written with one call per drain (and whenever
 * the sink's buffer fills). With a bus that has no room (and bus_force
 * unset) it stops early and leaves the rest in the ring. */
unsigned sluice_event_sink_drain(struct sluice_event_sink *sink, struct sluice_event_ring *ring,
				 unsigned budget);

/* Writes what is buffered and opens the path again (after an outside
 * rotation moved the file). When it cannot be opened the old file stays in
 * use and -1 comes back with err. stdout: nothing to do. */
int sluice_event_sink_reopen(struct sluice_event_sink *sink, char *err, size_t err_len);

void sluice_event_sink_flush(struct sluice_event_sink *sink);
void sluice_event_sink_close(struct sluice_event_sink *sink);

/* Converts a TSC reading into CLOCK_REALTIME nanoseconds. */
uint64_t sluice_tsc_to_ns(const struct sluice_tsc_clock *clock, uint64_t tsc);

/* Writes s as a JSON string (quotes included) into buf and returns the bytes
 * written. The result is always a whole string: when s does not fit it is cut
 * before a character or escape that would not fit, and still closed. */
size_t sluice_json_string(char *buf, size_t cap, const char *s);

/* The same for the len bytes at s, which may hold anything (NULs included). */
size_t sluice_json_string_n(char *buf, size_t cap, const void *s, size_t len);

#endif
