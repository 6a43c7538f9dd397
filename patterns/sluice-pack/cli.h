/* sluice-pack internals: what the command files share.
 *
 * Only the sluice-pack executable uses this (patterns/sluice-pack/); the
 * library knows nothing of it. Conventions every command follows:
 * - exit status SP_EXIT_OK (0) when the command did what was asked,
 *   SP_EXIT_FAIL (1) when the rules or pack are at fault (errors, a refused
 *   pack, a failed verification, an unmet --expect), SP_EXIT_USAGE (2) for a
 *   bad command line or a file that cannot be read or written;
 * - every error message on stderr starts with the file it is about;
 * - with --json, stdout carries exactly one JSON document, ending in "ok" and
 *   "exit", even when the command fails after its options were understood.
 */
#ifndef SLUICE_PACK_CLI_H
#define SLUICE_PACK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bad_input.h"
#include "stream_stats.h"
#include "json_writer.h"
#include "match.h"
#include "pack_source.h"
#include "pack.h"

#define SP_EXIT_OK    0
#define SP_EXIT_FAIL  1
#define SP_EXIT_USAGE 2

/* Enough for a human reading the output; beyond it the output says so. */
#define SP_MATCH_CAPACITY 256

#define SP_ERR_LEN  16384
#define SP_ERR_LINE 2048 /* one diagnostic */

extern const char *const sp_prog;

/* ---- commands (argv[0] is "sluice-pack COMMAND") ---- */

int sp_cmd_lint(int argc, char **argv);
int sp_cmd_compile(int argc, char **argv);
int sp_cmd_test(int argc, char **argv);
int sp_cmd_diff(int argc, char **argv);
int sp_cmd_info(int argc, char **argv);
int sp_cmd_sign(int argc, char **argv);
int sp_cmd_verify(int argc, char **argv);
int sp_cmd_keygen(int argc, char **argv);
int sp_cmd_examples(int argc, char **argv);
int sp_cmd_publish(int argc, char **argv);

/* Prints "CMD: message" and a pointer to CMD --help on stderr; returns
 * SP_EXIT_USAGE so callers can `return sp_usage_error(...)`. */
int sp_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- options ---- */

/* One option of a command; --json and --help are every command's and are
 * not listed. Exactly one of flag, value and parse says what it does. */
struct sp_option {
	const char *name;   /* the long name, without "--" */
	char short_name;    /* 0: none */
	bool *flag;	    /* takes no argument; set when given */
	const char **value; /* takes an argument, kept as given (the last one wins) */
	/* Takes an argument that the command checks and keeps in target;
	 * returns 0, or an exit status after sp_usage_error(). */
	int (*parse)(const char *cmd, const char *arg, void *target);
	void *target;
};

#define SP_OPTIONS_MAX 12

/* A command line, once its options are read. */
struct sp_args {
	const char *cmd;	/* "sluice-pack test", as messages name it */
	void (*usage)(FILE *f); /* the command's --help */
	bool json;		/* --json */
	char **operands;	/* what is left after the options */
	int count;
};

/* sp_parse_options()'s "go on": every exit status is 0 or more. */
#define SP_PARSED (-1)

/* Reads argv (argv[0] names the command in getopt's own messages) against
 * opts, a table of at most SP_OPTIONS_MAX ended by {0}, plus --json and
 * --help. Returns SP_PARSED with a->json and a->operands filled; or an exit
 * status for the command to return: SP_EXIT_OK once --help printed the
 * usage on stdout, SP_EXIT_USAGE after an unknown option or a missing
 * argument (getopt has said which), or what a parse callback returned. */
int sp_parse_options(struct sp_args *a, const struct sp_option *opts, int argc, char **argv);

/* ---- JSON output ---- */

void sp_json_begin(struct sluice_json_writer *j, FILE *f, const char *command);
/* Closes whatever is open below the top object, adds "error" (if not NULL),
 * "ok" and "exit", closes the document and returns exit_status. */
int sp_json_finish(struct sluice_json_writer *j, int exit_status, const char *error);

/* ---- text output ---- */

/* Writes text as one double-quoted line: quotes, backslashes and control
 * characters escaped, and every byte >= 0x80 too when escape_high (for text
 * known to be invalid UTF-8, so a terminal is never fed broken sequences). */
void sp_print_quoted(FILE *f, const char *text, size_t len, bool escape_high);

/* "pass" for SLUICE_ACTION_NONE (what a message nothing matched gets), else
 * the action's name: the words analysts see in the gateway's events. */
const char *sp_verdict_name(enum sluice_action a);
/* Parses "pass"/"none"/"flag"/"mask"/"block". */
bool sp_verdict_parse(const char *word, enum sluice_action *out);

/* The word the analyst wrote: flag, mask, block or allow. */
const char *sp_rule_action(const struct sluice_pack_rule *r);

/* "caseless,whole_word", or "none". */
void sp_flags_text(unsigned flags, char *buf, size_t len);

/* "2026-11-23 09:00:00 UTC". */
void sp_format_time(int64_t unix_seconds, char *buf, size_t len);

/* ---- loading and scanning ---- */

/* Loads a pack file, or a rule file (compiled in memory). Returns SP_EXIT_OK,
 * SP_EXIT_USAGE if the file cannot be opened (err says why), or SP_EXIT_FAIL
 * if it is not a valid pack or rule file: err is the library's message for a
 * pack, and every error of a rule file, one "FILE:LINE:COL: rule ID: ..." per
 * line, then a count. */
int sp_load(const char *path, struct sluice_pack **pack, char *err, size_t err_len);

/* 0 if path can be opened for reading and is not a directory; else -1 with
 * "PATH: why" in err. */
int sp_check_readable(const char *path, char *err, size_t err_len);

/* Whether path starts like a pack file (as opposed to YAML). */
bool sp_is_pack_file(const char *path);

/* Rules by id, for lookups between two packs (diff) and counts per rule
 * (info). Ids are unique in a pack today; should entries ever share an id (a
 * rule split over several entries), they form one group, because analysts
 * think in rules. Groups are sorted by id; members of a group by index. */
struct sp_rule_index {
	const struct sluice_pack *pack;
	size_t *order;	     /* rule indexes sorted by (id, index) */
	size_t *group_start; /* ngroups + 1 offsets into order */
	size_t ngroups;
	size_t *group_of; /* per rule index */
};

int sp_rule_index_build(const struct sluice_pack *pack, struct sp_rule_index *ix);
void sp_rule_index_free(struct sp_rule_index *ix);
/* The group of the rule with this id, or -1. */
long sp_rule_index_find(const struct sp_rule_index *ix, const char *id);

/* Member k of group g; member 0 (the lowest index) stands for the rule. */
static inline const struct sluice_pack_rule *sp_group_rule(const struct sp_rule_index *ix, size_t g,
							   size_t k)
{
	return &ix->pack->rules[ix->order[ix->group_start[g] + k]];
}

/* Whether rule index i is the first member of its group: iterating rule
 * indexes and keeping these gives the rules in file order. */
static inline bool sp_group_leader(const struct sp_rule_index *ix, size_t i)
{
	return ix->order[ix->group_start[ix->group_of[i]]] == i;
}

/* One pack's scratch and match storage, for scanning messages one by one.
 * Rules whose expiry is at or before `now` are disabled, as on the gateway. */
struct sp_scanner {
	const struct sluice_pack *pack;
	hs_scratch_t *scratch;
	uint8_t *disabled; /* one byte per rule */
	size_t expired;	   /* how many rules are disabled: past their expiry ... */
	size_t waiting;	   /* ... or before their start (these) */
	int64_t now;	   /* the time their dates were judged at */
	struct sluice_match storage[SP_MATCH_CAPACITY];
	struct sluice_exemption exemptions[SP_MATCH_CAPACITY];
	struct sluice_match_set set;
	struct sluice_norm_space norm; /* grown to the longest message */
};

int sp_scanner_init(struct sp_scanner *s, const struct sluice_pack *pack, int64_t now, char *err,
		    size_t err_len);
void sp_scanner_free(struct sp_scanner *s);

/* ---- sluice-pack test --cases (test_cases.c) ---- */

/* One line of a case file: "VERDICT<TAB>TEXT" (VERDICT pass, flag, mask or
 * block; TEXT the rest of the line, tabs and all). Returns 1 for a case, 0
 * for a line that is none (empty, or a comment: '#' first), -1 with err for
 * anything else. */
int sp_case_parse(const char *line, size_t len, enum sluice_action *verdict, const char **text,
		  size_t *text_len, char *err, size_t err_len);

/* ---- sluice-pack test --explain (test_explain.c) ---- */

/* Room for the second scan explain makes (every match kept). */
struct sp_explain {
	struct sluice_match storage[SP_MATCH_CAPACITY];
	struct sluice_match_set kept;
};

/* After sp_scan() of text: what its recipient gets, the exemptions, and the
 * combinations and their operands, as lines after the message's own line, or
 * as an "explain" member of the message's JSON object. 0, or -1 with err. */
int sp_explain_text(struct sp_scanner *sc, struct sp_explain *x, const char *text, size_t len,
		    char *err, size_t err_len);
int sp_explain_json(struct sp_scanner *sc, struct sp_explain *x, struct sluice_json_writer *j,
		    const char *text, size_t len, char *err, size_t err_len);

/* Scans one message, which must be valid UTF-8 and shorter than 4 GiB. On
 * return s->set holds the matches in text order. */
int sp_scan(struct sp_scanner *s, const char *text, size_t len, char *err, size_t err_len);

/* Reads lines (without "\n" or "\r\n") from path ('-': stdin), calling fn for
 * each with its 1-based number; stops early if fn returns a positive value and
 * returns it. Returns -1 with err set if the file cannot be read. */
typedef int (*sp_line_fn)(void *ctx, unsigned long line_no, const char *text, size_t len);
int sp_each_line(const char *path, sp_line_fn fn, void *ctx, char *err, size_t err_len);

/* ---- captures (capture.c) ---- */

/* One message found in a capture: a wire-format frame (text points into the
 * packet), or a WebSocket text message of a TCP chat service (stream true;
 * text points into the stream reader's buffer, valid during the callback). */
struct sp_wire_msg {
	uint64_t msg_id;
	uint64_t channel_id;
	uint64_t user_id;
	uint8_t flags;
	const char *text;
	uint32_t text_len;
	bool stream;
	bool from_client;
	char src[64], dst[64]; /* "address:port" of sender and receiver */
};

/* Reasons at and after this are the gateway's stream reasons
 * (stream_stats.h): connections it would reset. */
#define SP_STREAM_REASON_BASE (SLUICE_BAD_REASON_COUNT + 1)

struct sp_capture_stats {
	unsigned long packets;
	unsigned long segments;	 /* TCP segments of the WebSocket ports */
	unsigned long datagrams; /* UDP to the message port, decoded whole */
	unsigned long other;	 /* everything the gateway forwards unscanned */
	unsigned long bad;	 /* datagrams the gateway drops (see reasons) */
	unsigned long messages;
	unsigned long bad_by_reason[SP_STREAM_REASON_BASE + SLUICE_STREAM_REASON_COUNT];
};

/* Names of the reasons counted in bad_by_reason: the gateway's own words
 * (docs/wire-format.md), plus "truncated_capture" for a packet the capture
 * cut short (snap length), which the gateway never sees. */
const char *sp_capture_reason_name(unsigned reason);
unsigned sp_capture_reason_count(void);

struct sp_capture_cb {
	/* A message of packet packet_no (1-based); a positive result stops the
	 * walk and is returned (-1 is kept for "cannot read the capture"). */
	int (*message)(void *ctx, unsigned long packet_no, const struct sp_wire_msg *m);
	/* A datagram to the message port the gateway would drop whole. */
	int (*bad)(void *ctx, unsigned long packet_no, unsigned reason);
	void *ctx;
};

struct sp_capture_opts {
	uint16_t udp_port;
	const uint64_t *ws_ports; /* WebSocket services (65,536-bit map), or NULL */
	uint32_t ws_max_message;
};

/* Decodes every packet of a pcap or pcapng file (Ethernet, Linux cooked, raw
 * IP or BSD loopback) the way the gateway does: frames to the UDP port, and
 * WebSocket messages in connections to the WebSocket ports. Returns 0, a
 * callback's non-zero result, or -1 with err set if the file cannot be read. */
int sp_capture_walk(const char *path, const struct sp_capture_opts *opts,
		    const struct sp_capture_cb *cb, struct sp_capture_stats *stats, char *err,
		    size_t err_len);

/* ---- WebSocket streams in captures (capture_streams.c) ---- */

struct sp_streams;
struct sluice_packet_view;

struct sp_streams *sp_streams_new(const uint64_t *ports, uint32_t max_message);
void sp_streams_free(struct sp_streams *s);

/* One TCP segment of a WebSocket port (packet number no). */
int sp_streams_segment(struct sp_streams *s, unsigned long no, const uint8_t *pkt,
		       const struct sluice_packet_view *v, const struct sp_capture_cb *cb,
		       struct sp_capture_stats *st);

#endif
