/* sluice-pack test: which rules match a message, where, and the verdict.
 *
 * Messages come from the command line, from a file (one per line) or from a
 * packet capture of wire-format datagrams, decoded the way the gateway does.
 * Without --expect the command exits 0 whether or not anything matched, so a
 * script can tell "the rules are broken" (1) from "nothing matched" (0); with
 * --expect it exits 1 when any message gets another verdict, which is how a
 * CI job pins "these must be blocked" and "these must pass".
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "json_text.h"
#include "rule_file.h"
#include "utf8.h"

/* The gateway's default --ws-max-message. */
#define SP_WS_MAX_MESSAGE 65536

static const char *cmd = "sluice-pack test";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s test PACK_OR_YAML [TEXT...] [--file LINES.txt] [--cases CASES.tsv]\n"
		"                [--pcap CAPTURE]\n"
		"\n"
		"Scans each TEXT, each line of LINES.txt ('-': stdin) and each wire-format\n"
		"message in CAPTURE (pcap or pcapng; UDP datagrams to the message port,\n"
		"decoded as the gateway does) as one message. Prints the rules that match,\n"
		"with byte offsets [from..to), and the verdict (the strongest action: pass,\n"
		"flag, mask or block). Texts that are not valid UTF-8 are reported, not\n"
		"scanned, as the gateway drops them. Rules past their expiry are not\n"
		"applied. Put '--' before texts that start with '-'. When the pack normalises\n"
		"and a message folds, the folded text follows, with the characters folded.\n"
		"\n"
		"  -f, --file FILE         scan each line of FILE (empty lines are skipped)\n"
		"  -c, --cases FILE        regression cases: each line 'VERDICT<TAB>message'\n"
		"                          ('#' comments, empty lines skipped); prints the\n"
		"                          cases that get another verdict, as a diff, and\n"
		"                          exits 1 if any does\n"
		"  -p, --pcap FILE         scan each message in a packet capture\n"
		"      --udp-port PORT     the message port in the capture (default 7700)\n"
		"      --ws-port PORT[,PORT...]\n"
		"                          TCP ports of WebSocket chat services in the capture:\n"
		"                          their text messages are read as the gateway reads them\n"
		"      --ws-members NAME[,NAME...]\n"
		"                          in JSON messages scan only these members' string\n"
		"                          values, as the gateway's --ws-members does\n"
		"  -e, --expect VERDICT    every message must get VERDICT (pass, flag, mask,\n"
		"                          block); exit 1 if any does not\n"
		"  -m, --matched           print only messages that matched (and totals)\n"
		"  -a, --all               also show matches that do not act on their own:\n"
		"                          quiet operands of combinations and allow rules\n"
		"  -x, --explain           also show what the recipient gets (the text as\n"
		"                          forwarded, its flag bits, or its removal), which\n"
		"                          allow rule exempted which span, and each combination\n"
		"                          that holds or has an operand, with its operands' spans\n"
		"      --now YYYY-MM-DD    judge rules' start and expiry dates at the start of\n"
		"                          that day (UTC) instead of now: rehearse a date\n"
		"      --no-normalize      scan messages as they are, without folding them:\n"
		"                          what the pack would catch without normalisation\n"
		"      --json              one JSON document instead of text\n"
		"  -h, --help              this help\n"
		"\n"
		"Exit status: 0 scanned (and every --expect and case met), 1 the pack cannot\n"
		"be loaded or scanned, or an --expect or a case was not met, 2 usage error,\n"
		"unreadable input or a line of a case file that is not a case.\n",
		sp_prog);
}

struct totals {
	unsigned long messages;
	unsigned long verdicts[SLUICE_ACTION_COUNT];
	unsigned long invalid_utf8;
	unsigned long unexpected;
};

struct test_ctx {
	struct sp_scanner sc;
	/* WebSocket messages: the members scanned, and their decoded text. */
	struct sluice_json_members members;
	struct sluice_json_text json;
	uint8_t json_bytes[SP_WS_MAX_MESSAGE + 64];
	uint32_t json_raw_at[SP_WS_MAX_MESSAGE + 64];
	bool json_mode;
	struct sluice_json_writer j;
	bool has_expect;
	enum sluice_action expect;
	bool matched_only;
	bool no_normalize;
	bool explain;
	struct sp_explain ex;
	const char *file; /* of the lines being scanned */
	bool bad_case;	  /* a case file's line is not a case (err says which) */
	struct totals t;
	/* JSON mode: dropped datagrams, written after the messages array. */
	struct drop {
		unsigned long packet;
		unsigned reason;
	} * drops;
	size_t ndrops, drops_cap;
	char err[SP_ERR_LEN];
};

/* What a match does: its action, or "quiet" for an operand (shown with --all)
 * that never acts on its own. */
static const char *match_action(const struct sluice_pack_rule *r)
{
	return r->quiet ? "quiet" : sp_rule_action(r);
}

/* Where a message came from, for its output line. */
struct origin {
	enum { FROM_ARG, FROM_FILE, FROM_CASES, FROM_PCAP } kind;
	unsigned long line;
	unsigned long packet;
	const struct sp_wire_msg *wire;
	bool has_expect; /* a case's own expected verdict */
	enum sluice_action expect;
};

static void text_prefix(const struct test_ctx *c, const struct origin *o)
{
	if (o->kind == FROM_FILE || o->kind == FROM_CASES)
		printf("%s:%lu: ", c->file, o->line);
	else if (o->kind == FROM_PCAP && o->wire->stream)
		printf("packet %lu ws %s -> %s: ", o->packet, o->wire->src, o->wire->dst);
	else if (o->kind == FROM_PCAP)
		printf("packet %lu msg %llu: ", o->packet, (unsigned long long)o->wire->msg_id);
}

static void json_origin(struct test_ctx *c, const struct origin *o)
{
	if (o->kind == FROM_FILE || o->kind == FROM_CASES) {
		sluice_jw_string(&c->j, "file", c->file);
		sluice_jw_uint(&c->j, "line", o->line);
	} else if (o->kind == FROM_PCAP && o->wire->stream) {
		sluice_jw_uint(&c->j, "packet", o->packet);
		sluice_jw_string(&c->j, "src", o->wire->src);
		sluice_jw_string(&c->j, "dst", o->wire->dst);
		sluice_jw_string(&c->j, "direction",
				 o->wire->from_client ? "client_to_server" : "server_to_client");
	} else if (o->kind == FROM_PCAP) {
		sluice_jw_uint(&c->j, "packet", o->packet);
		sluice_jw_uint(&c->j, "msg_id", o->wire->msg_id);
		sluice_jw_uint(&c->j, "channel_id", o->wire->channel_id);
		sluice_jw_uint(&c->j, "user_id", o->wire->user_id);
		sluice_jw_uint(&c->j, "flags", o->wire->flags);
	}
}

static void json_matches(struct test_ctx *c)
{
	const struct sluice_match_set *set = &c->sc.set;

	sluice_jw_array(&c->j, "matches");
	for (uint32_t i = 0; i < set->count; i++) {
		const struct sluice_match *m = &set->matches[i];
		const struct sluice_pack_rule *r = &c->sc.pack->rules[m->rule];
		sluice_jw_object(&c->j, NULL);
		sluice_jw_string(&c->j, "rule", r->id);
		sluice_jw_string(&c->j, "category", r->category);
		sluice_jw_string(&c->j, "action", match_action(r));
		sluice_jw_string(&c->j, "severity", sluice_severity_name(r->severity));
		sluice_jw_uint(&c->j, "from", m->from);
		sluice_jw_uint(&c->j, "to", m->to);
		sluice_jw_end(&c->j);
	}
	sluice_jw_end(&c->j);
}

/* Which allow rule exempted which rule's span. */
static void text_exempted(const struct test_ctx *c)
{
	const struct sluice_match_set *set = &c->sc.set;
	if (c->explain)
		return; /* explain lists them, with the allow rules' spans */
	for (uint32_t i = 0; i < set->exemption_count; i++) {
		const struct sluice_exemption *e = &set->exemptions[i];
		printf("%s%s at %u..%u by allow rule %s",
		       i ? ", " : " (exempted: ", c->sc.pack->rules[e->rule].id, e->from, e->to,
		       c->sc.pack->rules[e->allow].id);
	}
	if (set->exemption_count)
		putchar(')');
}

static void json_exempted(struct test_ctx *c)
{
	const struct sluice_match_set *set = &c->sc.set;
	sluice_jw_array(&c->j, "exemptions");
	for (uint32_t i = 0; i < set->exemption_count; i++) {
		const struct sluice_exemption *e = &set->exemptions[i];
		sluice_jw_object(&c->j, NULL);
		sluice_jw_string(&c->j, "rule", c->sc.pack->rules[e->rule].id);
		sluice_jw_uint(&c->j, "from", e->from);
		sluice_jw_uint(&c->j, "to", e->to);
		sluice_jw_string(&c->j, "allow", c->sc.pack->rules[e->allow].id);
		sluice_jw_uint(&c->j, "allow_from", e->allow_from);
		sluice_jw_uint(&c->j, "allow_to", e->allow_to);
		sluice_jw_end(&c->j);
	}
	sluice_jw_end(&c->j);
}

static void text_matches(const struct test_ctx *c)
{
	const struct sluice_match_set *set = &c->sc.set;

	for (uint32_t i = 0; i < set->count; i++) {
		const struct sluice_match *m = &set->matches[i];
		const struct sluice_pack_rule *r = &c->sc.pack->rules[m->rule];
		printf("%s%s [%s, %s] at %u..%u", i ? ", " : "", r->id, r->category,
		       match_action(r), m->from, m->to);
	}
	if (set->overflow)
		printf(", and more than %d spans in all", SP_MATCH_CAPACITY);
	text_exempted(c);
}

/* What the pack's folding table makes of a message (after sp_scan(), whose
 * room to fold is large enough): NULL view text when nothing folds. */
static void fold_view(struct test_ctx *c, const char *text, size_t len, struct sluice_norm_view *v)
{
	v->text = NULL;
	if (!(c->sc.pack->views & (1u << SLUICE_VIEW_FOLDED)) || len == 0)
		return;
	sluice_normalize(c->sc.pack->fold, (const uint8_t *)text, (uint32_t)len, c->sc.norm.out,
			 c->sc.norm.src, v);
	if (v->identity)
		v->text = NULL;
}

/* Calls fn for each character of text the table folds: its offset, bytes,
 * code point, and what it becomes (len 0: dropped). */
static void each_fold(const struct sluice_fold_table *t, const char *text, size_t len,
		      void (*fn)(void *, size_t, const char *, uint32_t, uint32_t, const char *,
				 uint32_t),
		      void *arg)
{
	for (size_t i = 0; i < len;) {
		uint32_t n;
		uint32_t cp = sluice_utf8_decode((const uint8_t *)text + i, &n);
		uint32_t e = cp < 0x80 ? 0 : sluice_fold_entry_of(t, cp);
		if (e != 0)
			fn(arg, i, text + i, n, cp, (const char *)t->bytes + t->entry[e].off,
			   t->entry[e].len);
		i += n;
	}
}

struct fold_printer {
	unsigned shown, total;
};

#define FOLDS_SHOWN 8

static void print_fold(void *arg, size_t at, const char *from, uint32_t from_len, uint32_t cp,
		       const char *to, uint32_t to_len)
{
	struct fold_printer *p = arg;
	(void)at;
	if (p->total++ >= FOLDS_SHOWN)
		return;
	fputs(p->shown++ ? ", " : "", stdout);
	/* Invisible characters are named, not printed. */
	if (to_len == 0)
		printf("U+%04X dropped", cp);
	else
		printf("'%.*s' -> '%.*s'", (int)from_len, from, (int)to_len, to);
}

static void text_folds(struct test_ctx *c, const char *text, size_t len)
{
	struct sluice_norm_view v;
	fold_view(c, text, len, &v);
	if (v.text == NULL)
		return;
	struct fold_printer p = {0};
	fputs("\n  normalised: ", stdout);
	sp_print_quoted(stdout, (const char *)v.text, v.len, false);
	printf(" (%u character%s folded: ", v.folded, v.folded == 1 ? "" : "s");
	each_fold(c->sc.pack->fold, text, len, print_fold, &p);
	printf("%s)", p.total > FOLDS_SHOWN ? ", ..." : "");
}

static void json_fold(void *arg, size_t at, const char *from, uint32_t from_len, uint32_t cp,
		      const char *to, uint32_t to_len)
{
	struct sluice_json_writer *j = arg;
	sluice_jw_object(j, NULL);
	sluice_jw_uint(j, "at", at);
	sluice_jw_stringn(j, "from", from, from_len);
	sluice_jw_uint(j, "code_point", cp);
	sluice_jw_stringn(j, "to", to, to_len);
	sluice_jw_end(j);
}

static void json_folds(struct test_ctx *c, const char *text, size_t len)
{
	struct sluice_norm_view v;
	fold_view(c, text, len, &v);
	if (v.text == NULL)
		return;
	sluice_jw_stringn(&c->j, "normalized", (const char *)v.text, v.len);
	sluice_jw_array(&c->j, "folded");
	each_fold(c->sc.pack->fold, text, len, json_fold, &c->j);
	sluice_jw_end(&c->j);
}

/* Scans and reports one message. Returns 0, or -1 on a scan error. */
static int one_message(struct test_ctx *c, const struct origin *o, const char *text, size_t len)
{
	size_t bad = sluice_utf8_invalid_at((const uint8_t *)text, len);
	bool scanned = bad == len && len <= UINT32_MAX;
	bool met;

	c->t.messages++;
	if (scanned && sp_scan(&c->sc, text, len, c->err, sizeof(c->err)) != 0)
		return -1;
	if (!scanned)
		c->t.invalid_utf8++;
	else
		c->t.verdicts[c->sc.set.verdict]++;
	/* An unscanned message meets no expectation: the gateway removes it,
	 * whatever the rules say. */
	bool has_expect = o->has_expect || c->has_expect;
	enum sluice_action expect = o->has_expect ? o->expect : c->expect;
	met = !has_expect || (scanned && c->sc.set.verdict == expect);
	if (!met)
		c->t.unexpected++;
	if (c->matched_only && scanned && c->sc.set.count == 0 && met)
		return 0;
	if (o->kind == FROM_CASES && met && !c->json_mode)
		return 0; /* a case file shows what fails */

	if (c->json_mode) {
		sluice_jw_object(&c->j, NULL);
		json_origin(c, o);
		sluice_jw_stringn(&c->j, "text", text, len);
		sluice_jw_uint(&c->j, "bytes", len);
		sluice_jw_bool(&c->j, "scanned", scanned);
		if (!scanned) {
			sluice_jw_uint(&c->j, "invalid_utf8_at", bad);
		} else {
			json_folds(c, text, len);
			json_matches(c);
			sluice_jw_bool(&c->j, "overflow", c->sc.set.overflow);
			sluice_jw_uint(&c->j, "exempted", c->sc.set.exempted);
			json_exempted(c);
			sluice_jw_string(&c->j, "verdict", sp_verdict_name(c->sc.set.verdict));
			if (c->explain && sp_explain_json(&c->sc, &c->ex, &c->j, text, len, c->err,
							  sizeof(c->err)) != 0)
				return -1;
		}
		if (has_expect) {
			sluice_jw_string(&c->j, "expected", sp_verdict_name(expect));
			sluice_jw_bool(&c->j, "as_expected", met);
		}
		sluice_jw_end(&c->j);
		return 0;
	}

	text_prefix(c, o);
	if (!scanned) {
		sp_print_quoted(stdout, text, len, true);
		if (bad != len)
			printf(": invalid UTF-8 at byte %zu, not scanned", bad);
		else
			printf(": %zu bytes is too long to scan, not scanned", len);
	} else {
		sp_print_quoted(stdout, text, len, false);
		if (c->sc.set.count == 0 && c->sc.set.verdict == SLUICE_ACTION_NONE) {
			fputs(": no match", stdout);
			text_exempted(c);
		} else {
			fputs(": ", stdout);
			text_matches(c);
			printf(" -> verdict %s", sp_verdict_name(c->sc.set.verdict));
		}
		text_folds(c, text, len);
		if (c->explain &&
		    sp_explain_text(&c->sc, &c->ex, text, len, c->err, sizeof(c->err)) != 0)
			return -1;
	}
	if (!met && o->kind == FROM_CASES)
		printf("\n  - %s\n  + %s", sp_verdict_name(expect),
		       scanned ? sp_verdict_name(c->sc.set.verdict) : "not scanned");
	else if (!met)
		printf("  [UNEXPECTED: expected %s]", sp_verdict_name(expect));
	putchar('\n');
	return 0;
}

static int on_line(void *ctx, unsigned long line_no, const char *text, size_t len)
{
	struct origin o = {.kind = FROM_FILE, .line = line_no};

	if (len == 0)
		return 0; /* an empty line is no message */

	/* 1, not -1: sp_each_line() keeps -1 for "cannot read the file". */
	return one_message(ctx, &o, text, len) != 0 ? 1 : 0;
}

static int on_case(void *ctx, unsigned long line_no, const char *line, size_t len)
{
	struct test_ctx *c = ctx;
	struct origin o = {.kind = FROM_CASES, .line = line_no, .has_expect = true};
	const char *text;
	size_t text_len;
	char why[256];

	switch (sp_case_parse(line, len, &o.expect, &text, &text_len, why, sizeof(why))) {
	case 0:
		return 0;
	case 1:
		return one_message(c, &o, text, text_len) != 0 ? 1 : 0;
	default:
		snprintf(c->err, sizeof(c->err), "%s:%lu: %s", c->file, line_no, why);
		c->bad_case = true;
		return 1;
	}
}

static int on_wire_msg(void *ctx, unsigned long packet_no, const struct sp_wire_msg *m)
{
	struct test_ctx *c = ctx;
	struct origin o = {.kind = FROM_PCAP, .packet = packet_no, .wire = m};
	if (!m->stream)
		return one_message(c, &o, m->text, m->text_len) != 0 ? 1 : 0;
	/* What the gateway scans of a WebSocket message: its members' values,
	 * or the whole text. */
	struct sluice_scan_view view;
	c->json = (struct sluice_json_text){
	    .text = c->json_bytes, .raw_at = c->json_raw_at, .cap = SP_WS_MAX_MESSAGE};
	sluice_json_scan_view((const uint8_t *)m->text, m->text_len, &c->members, &c->json, &view);
	return one_message(c, &o, (const char *)view.text, view.len) != 0 ? 1 : 0;
}

static int on_bad_datagram(void *ctx, unsigned long packet_no, unsigned reason)
{
	struct test_ctx *c = ctx;

	if (c->json_mode) {
		if (c->ndrops == c->drops_cap) {
			size_t cap = c->drops_cap ? 2 * c->drops_cap : 64;
			struct drop *d = realloc(c->drops, cap * sizeof(*d));
			if (!d) {
				snprintf(c->err, sizeof(c->err), "out of memory");
				return 1;
			}
			c->drops = d;
			c->drops_cap = cap;
		}
		c->drops[c->ndrops++] = (struct drop){.packet = packet_no, .reason = reason};
	} else {
		printf("packet %lu: datagram dropped by the gateway: %s\n", packet_no,
		       sp_capture_reason_name(reason));
	}
	return 0;
}

static void text_totals(const struct test_ctx *c, const struct sp_capture_stats *cap, uint16_t port,
			bool cases)
{
	printf("totals: %lu messages (", c->t.messages);
	for (int a = 0; a < SLUICE_ACTION_COUNT; a++)
		printf("%s%s %lu", a ? ", " : "", sp_verdict_name(a), c->t.verdicts[a]);
	printf(")");
	if (c->t.invalid_utf8)
		printf(", %lu invalid UTF-8", c->t.invalid_utf8);
	if (c->has_expect)
		printf(", %lu not %s", c->t.unexpected, sp_verdict_name(c->expect));
	else if (cases)
		printf(", %lu as expected, %lu not", c->t.messages - c->t.unexpected,
		       c->t.unexpected);
	if (cap) {
		printf("; %lu packets: %lu datagrams to port %u, %lu dropped", cap->packets,
		       cap->datagrams, port, cap->bad);
		bool first = true;
		for (unsigned r = 0; r < sp_capture_reason_count(); r++) {
			if (!cap->bad_by_reason[r])
				continue;
			printf("%s%s %lu", first ? " (" : ", ", sp_capture_reason_name(r),
			       cap->bad_by_reason[r]);
			first = false;
		}
		printf("%s, %lu other", first ? "" : ")", cap->other);
		if (cap->segments)
			printf(", %lu WebSocket segments", cap->segments);
	}
	putchar('\n');
}

static void json_totals(struct test_ctx *c, const struct sp_capture_stats *cap, uint16_t port,
			bool cases)
{
	sluice_jw_object(&c->j, "totals");
	sluice_jw_uint(&c->j, "messages", c->t.messages);
	for (int a = 0; a < SLUICE_ACTION_COUNT; a++)
		sluice_jw_uint(&c->j, sp_verdict_name(a), c->t.verdicts[a]);
	sluice_jw_uint(&c->j, "invalid_utf8", c->t.invalid_utf8);
	if (c->has_expect || cases)
		sluice_jw_uint(&c->j, "unexpected", c->t.unexpected);
	if (cap) {
		sluice_jw_uint(&c->j, "udp_port", port);
		sluice_jw_uint(&c->j, "packets", cap->packets);
		sluice_jw_uint(&c->j, "datagrams", cap->datagrams);
		sluice_jw_uint(&c->j, "dropped_datagrams", cap->bad);
		sluice_jw_object(&c->j, "dropped_by_reason");
		for (unsigned r = 0; r < sp_capture_reason_count(); r++) {
			if (cap->bad_by_reason[r])
				sluice_jw_uint(&c->j, sp_capture_reason_name(r),
					       cap->bad_by_reason[r]);
		}
		sluice_jw_end(&c->j);
		sluice_jw_uint(&c->j, "other_packets", cap->other);
		sluice_jw_uint(&c->j, "ws_segments", cap->segments);
	}
	sluice_jw_end(&c->j);
}

/* What the command line asks to scan, besides the texts it gives. */
struct test_request {
	const char *file;
	const char *cases;
	const char *now; /* --now: judge rules' dates at this day */
	int64_t now_s;
	const char *pcap;
	uint16_t port;		 /* the message port in the capture */
	uint64_t ws_ports[1024]; /* WebSocket services in the capture */
	bool any_ws;
	bool all; /* keep quiet and allow matches */
	char **texts;
	int ntexts;
};

static int parse_port(const char *cmd_name, const char *arg, void *port)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 1 || v > 65535)
		return sp_usage_error(cmd_name, "--udp-port: '%s' is not a port 1-65535", arg);
	*(uint16_t *)port = (uint16_t)v;
	return 0;
}

static int parse_ws_ports(const char *cmd_name, const char *arg, void *target)
{
	struct test_request *rq = target;
	const char *p = arg;
	for (;;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 1 || v > 65535 || (*end != ',' && *end != '\0'))
			return sp_usage_error(
			    cmd_name, "--ws-port: '%s' is not a list of ports 1-65535", arg);
		rq->ws_ports[v >> 6] |= 1ull << (v & 63);
		rq->any_ws = true;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

static int parse_members(const char *cmd_name, const char *arg, void *ctx)
{
	struct test_ctx *c = ctx;
	char why[256];
	if (sluice_json_members_parse(&c->members, arg, why, sizeof(why)) != 0)
		return sp_usage_error(cmd_name, "--ws-members '%s': %s", arg, why);
	return 0;
}

static int parse_expect(const char *cmd_name, const char *arg, void *ctx)
{
	struct test_ctx *c = ctx;

	if (!sp_verdict_parse(arg, &c->expect))
		return sp_usage_error(cmd_name, "--expect: '%s' is not pass, flag, mask or block",
				      arg);
	c->has_expect = true;
	return 0;
}

/* Ends the command: the error (if any) on stderr and in the JSON document. */
static int finish(struct test_ctx *c, int status, const char *error)
{
	if (error)
		fprintf(stderr, "%s\n", error);
	if (c->json_mode)
		return sp_json_finish(&c->j, status, error);
	return status;
}

/* What is scanned with, before any message: the pack, and the rules that no
 * longer apply. */
static void report_pack(struct test_ctx *c, const struct sluice_pack *pack)
{
	if (c->json_mode) {
		sluice_jw_object(&c->j, "pack");
		sluice_jw_string(&c->j, "source", pack->source);
		sluice_jw_string(&c->j, "name", pack->name);
		sluice_jw_string(&c->j, "version", pack->version);
		sluice_jw_string(&c->j, "sha256", pack->sha256_hex);
		sluice_jw_int(&c->j, "now", c->sc.now);
		sluice_jw_uint(&c->j, "expired_rules", c->sc.expired - c->sc.waiting);
		sluice_jw_uint(&c->j, "not_started_rules", c->sc.waiting);
		sluice_jw_end(&c->j);
		sluice_jw_array(&c->j, "messages");
	} else if (c->sc.expired) {
		char when[64];
		sp_format_time(c->sc.now, when, sizeof(when));
		size_t gone = c->sc.expired - c->sc.waiting;
		printf("note: at %s, %zu rule%s of %s %s expired and %zu %s not started: not "
		       "applied\n",
		       when, gone, gone == 1 ? "" : "s", pack->source, gone == 1 ? "has" : "have",
		       c->sc.waiting, c->sc.waiting == 1 ? "has" : "have");
	}
}

/* Scans the texts, then the file's lines, then the capture's messages.
 * Returns the error that stopped it (with *status set), or NULL. */
static const char *scan_request(struct test_ctx *c, const struct test_request *rq,
				struct sp_capture_stats *cap, int *status)
{
	for (int i = 0; i < rq->ntexts; i++) {
		struct origin o = {.kind = FROM_ARG};
		if (one_message(c, &o, rq->texts[i], strlen(rq->texts[i])) != 0) {
			*status = SP_EXIT_FAIL;
			return c->err;
		}
	}
	if (rq->file) {
		c->file = strcmp(rq->file, "-") == 0 ? "(stdin)" : rq->file;
		int rc = sp_each_line(rq->file, on_line, c, c->err, sizeof(c->err));
		if (rc != 0) {
			/* -1: the file could not be read; 1: a scan error. */
			*status = rc == -1 ? SP_EXIT_USAGE : SP_EXIT_FAIL;
			return c->err;
		}
	}
	if (rq->cases) {
		c->file = strcmp(rq->cases, "-") == 0 ? "(stdin)" : rq->cases;
		int rc = sp_each_line(rq->cases, on_case, c, c->err, sizeof(c->err));
		if (rc != 0) {
			*status = rc == -1 || c->bad_case ? SP_EXIT_USAGE : SP_EXIT_FAIL;
			return c->err;
		}
	}
	if (rq->pcap) {
		struct sp_capture_cb cb = {
		    .message = on_wire_msg, .bad = on_bad_datagram, .ctx = c};
		struct sp_capture_opts opts = {.udp_port = rq->port,
					       .ws_ports = rq->any_ws ? rq->ws_ports : NULL,
					       .ws_max_message = SP_WS_MAX_MESSAGE};
		int rc = sp_capture_walk(rq->pcap, &opts, &cb, cap, c->err, sizeof(c->err));
		if (rc != 0) {
			*status = rc == -1 ? SP_EXIT_USAGE : SP_EXIT_FAIL;
			return c->err;
		}
	}
	return NULL;
}

static void json_drops(struct test_ctx *c)
{
	sluice_jw_array(&c->j, "dropped");
	for (size_t i = 0; i < c->ndrops; i++) {
		sluice_jw_object(&c->j, NULL);
		sluice_jw_uint(&c->j, "packet", c->drops[i].packet);
		sluice_jw_string(&c->j, "reason", sp_capture_reason_name(c->drops[i].reason));
		sluice_jw_end(&c->j);
	}
	sluice_jw_end(&c->j);
}

/* After every message: the JSON document's closing parts, or the text
 * totals when messages came from a file or a capture or met an --expect. */
static void report_totals(struct test_ctx *c, const struct test_request *rq,
			  const struct sp_capture_stats *cap)
{
	if (c->json_mode) {
		sluice_jw_end(&c->j);
		if (rq->pcap)
			json_drops(c);
		json_totals(c, cap, rq->port, rq->cases != NULL);
	} else if (rq->file || rq->cases || rq->pcap || c->has_expect) {
		text_totals(c, cap, rq->port, rq->cases != NULL);
	}
}

int sp_cmd_test(int argc, char **argv)
{
	static struct test_ctx ctx; /* large: the scanner's match storage */
	struct test_ctx *c = &ctx;
	static struct test_request rq;
	rq = (struct test_request){.port = 7700};
	const struct sp_option opts[] = {
	    {.name = "file", .short_name = 'f', .value = &rq.file},
	    {.name = "cases", .short_name = 'c', .value = &rq.cases},
	    {.name = "now", .value = &rq.now},
	    {.name = "pcap", .short_name = 'p', .value = &rq.pcap},
	    {.name = "udp-port", .parse = parse_port, .target = &rq.port},
	    {.name = "ws-port", .parse = parse_ws_ports, .target = &rq},
	    {.name = "ws-members", .parse = parse_members, .target = c},
	    {.name = "expect", .short_name = 'e', .parse = parse_expect, .target = c},
	    {.name = "matched", .short_name = 'm', .flag = &c->matched_only},
	    {.name = "all", .short_name = 'a', .flag = &rq.all},
	    {.name = "no-normalize", .flag = &c->no_normalize},
	    {.name = "explain", .short_name = 'x', .flag = &c->explain},
	    {0},
	};
	struct sp_args args = {.cmd = cmd, .usage = usage};
	struct sp_capture_stats cap;
	struct sluice_pack *pack;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count < 1)
		return sp_usage_error(cmd, "need a pack or rule file");
	if (args.count == 1 && !rq.file && !rq.cases && !rq.pcap)
		return sp_usage_error(cmd, "need texts to scan, --file, --cases or --pcap");
	if (rq.now != NULL && !sluice_parse_start(rq.now, &rq.now_s))
		return sp_usage_error(cmd, "--now: '%s' is not a date YYYY-MM-DD", rq.now);
	rq.texts = args.operands + 1;
	rq.ntexts = args.count - 1;
	c->json_mode = args.json;

	if (c->json_mode)
		sp_json_begin(&c->j, stdout, "test");
	status = sp_load(args.operands[0], &pack, c->err, sizeof(c->err));
	if (status != SP_EXIT_OK)
		return finish(c, status, c->err);
	/* --no-normalize: the same databases over the raw text. */
	static struct sluice_pack unfolded;
	struct sluice_pack_db *unfolded_dbs = NULL;
	const struct sluice_pack *scanned = pack;
	if (c->no_normalize) {
		unfolded_dbs = calloc(pack->db_count ? pack->db_count : 1, sizeof(*unfolded_dbs));
		if (unfolded_dbs == NULL) {
			sluice_pack_free(pack);
			return finish(c, SP_EXIT_FAIL, "out of memory");
		}
		sluice_pack_unfolded(pack, &unfolded, unfolded_dbs);
		scanned = &unfolded;
	}
	if (sp_scanner_init(&c->sc, scanned, rq.now ? rq.now_s : (int64_t)time(NULL), c->err,
			    sizeof(c->err)) != 0) {
		free(unfolded_dbs);
		sluice_pack_free(pack);
		return finish(c, SP_EXIT_FAIL, c->err);
	}
	if (rq.all)
		c->sc.set.keep = SLUICE_KEEP_QUIET | SLUICE_KEEP_ALLOW;
	report_pack(c, pack);

	const char *error = scan_request(c, &rq, &cap, &status);
	if (!error && (c->has_expect || rq.cases) && c->t.unexpected)
		status = SP_EXIT_FAIL;
	if (!error)
		report_totals(c, &rq, rq.pcap ? &cap : NULL);
	free(c->drops);
	sp_scanner_free(&c->sc);
	free(unfolded_dbs);
	sluice_pack_free(pack);
	return finish(c, status, error);
}
