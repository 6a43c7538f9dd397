#include "event_sink.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "json_escape.h"
#include "action.h"
#include "bad_input.h"
#include "pack.h"
#include "rule_kind.h"
#include "stream_stats.h"

/* Lines of a drain gather in the buffer (one write per drain); a line is at
 * most EVENT_LINE_MAX bytes. */
#define SINK_BUFFER    (256 * 1024)
#define EVENT_LINE_MAX 2048

/* The file for appending, and how many bytes it holds already. */
static FILE *open_append(const char *path, uint64_t *bytes, char *err, size_t err_len)
{
	FILE *f = fopen(path, "a");
	struct stat st;
	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open event file: %s", path, strerror(errno));
		return NULL;
	}
	*bytes = fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0;
	return f;
}

int sluice_event_sink_open(struct sluice_event_sink *sink, const char *path,
			   const struct sluice_tsc_clock *clock, char *err, size_t err_len)
{
	memset(sink, 0, sizeof(*sink));
	sink->clock = *clock;
	sink->path = strdup(path);
	sink->ts_second = UINT64_MAX;
	/* Without the buffer, lines are written one at a time. */
	sink->buf = malloc(SINK_BUFFER);
	sink->cap = sink->buf != NULL ? SINK_BUFFER : 0;
	if (strcmp(path, "-") == 0) {
		sink->out = stdout;
		return 0;
	}
	if (strcmp(path, "none") == 0)
		return 0;
	sink->out = open_append(path, &sink->file_bytes, err, err_len);
	if (sink->out == NULL) {
		free(sink->path);
		sink->path = NULL;
		free(sink->buf);
		sink->buf = NULL;
		return -1;
	}
	return 0;
}

uint64_t sluice_tsc_to_ns(const struct sluice_tsc_clock *clock, uint64_t tsc)
{
	if (clock->hz == 0)
		return clock->ns0;
	int64_t d = (int64_t)(tsc - clock->tsc0);
	__int128 ns = (__int128)d * 1000000000 / (__int128)clock->hz;
	return clock->ns0 + (uint64_t)(int64_t)ns;
}

size_t sluice_json_string(char *buf, size_t cap, const char *s)
{
	return sluice_json_string_n(buf, cap, s, strlen(s));
}

size_t sluice_json_string_n(char *buf, size_t cap, const void *s, size_t len)
{
	/* Always a whole JSON string: when s does not fit it is cut between two
	 * characters (never inside one or inside an escape), and the closing
	 * quote is still written. */
	const uint8_t *p = s;
	size_t n = 0;
	char piece[SLUICE_JSON_ESCAPE_MAX];
	if (cap < 3) {
		if (cap > 0)
			buf[0] = '\0';
		return 0;
	}
	buf[n++] = '"';
	for (size_t i = 0; i < len;) {
		size_t used;
		size_t k = sluice_json_escape_next(p + i, len - i, piece, &used);
		if (n + k + 2 > cap)
			break;
		memcpy(buf + n, piece, k);
		n += k;
		i += used;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return n;
}

/* ---- building a line ---- */

/* A line being built; bytes past cap are dropped (cut is set). */
struct line {
	char *p;
	size_t n, cap;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->n + n >= l->cap)
		n = l->n < l->cap - 1 ? l->cap - 1 - l->n : 0;
	memcpy(l->p + l->n, s, n);
	l->n += n;
}

static void put_str(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void put_u64(struct line *l, uint64_t v)
{
	char d[20];
	size_t k = sizeof(d);
	do {
		d[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	put(l, d + k, sizeof(d) - k);
}

/* "YYYY-MM-DDTHH:MM:SS" of a second, into out (24 bytes). */
static void format_second(uint64_t second, char *out)
{
	time_t secs = (time_t)second;
	struct tm tm;
	gmtime_r(&secs, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* The timestamp: the second's text (prefix, cached by the sink) and the
 * nanoseconds. */
static void put_ts(struct line *l, const char *prefix, uint64_t ns)
{
	char frac[11];
	uint64_t v = ns % 1000000000ull;
	frac[0] = '.';
	for (int k = 9; k >= 1; k--) {
		frac[k] = (char)('0' + v % 10);
		v /= 10;
	}
	frac[10] = 'Z';
	put_str(l, prefix);
	put(l, frac, sizeof(frac));
}

static void put_ids(struct line *l, const struct sluice_event *ev)
{
	put_str(l, ",\"msg_id\":");
	put_u64(l, ev->msg_id);
	put_str(l, ",\"channel_id\":");
	put_u64(l, ev->channel_id);
	put_str(l, ",\"user_id\":");
	put_u64(l, ev->user_id);
}

/* The sender and receiver of a datagram or connection; a stream's also
 * the direction. */
static void put_addresses(struct line *l, const struct sluice_event *ev)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], who[256];
	int af = ev->ipv6 ? AF_INET6 : AF_INET;
	inet_ntop(af, ev->src, src, sizeof(src));
	inet_ntop(af, ev->dst, dst, sizeof(dst));
	if (ev->has_ports)
		snprintf(who, sizeof(who),
			 ",\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u", src, ev->sport,
			 dst, ev->dport);
	else
		snprintf(who, sizeof(who), ",\"src\":\"%s\",\"dst\":\"%s\"", src, dst);
	put_str(l, who);
	if (ev->stream)
		put_str(l, ev->from_client ? ",\"direction\":\"client_to_server\""
					   : ",\"direction\":\"server_to_client\"");
}

/* Who a message is from: its frame's ids and the datagram's addresses, or
 * its TCP connection. */
static void put_who(struct line *l, const struct sluice_event *ev)
{
	if (!ev->stream)
		put_ids(l, ev);
	if (ev->has_addr)
		put_addresses(l, ev);
}

static void put_mac(struct line *l, const uint8_t mac[6])
{
	char text[32];
	snprintf(text, sizeof(text), ",\"src_mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\"", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5]);
	put_str(l, text);
}

static void put_hash(struct line *l, uint64_t hash)
{
	static const char digits[] = "0123456789abcdef";
	char text[16];
	for (int k = 15; k >= 0; k--, hash >>= 4)
		text[k] = digits[hash & 15];
	put_str(l, ",\"text_hash\":\"");
	put(l, text, sizeof(text));
	put(l, "\"", 1);
}

/* The snippet's bytes as a JSON string: escaped, and what is not whole UTF-8
 * replaced (sluice_json_escape_next()); a line without room for all of it
 * gets it cut between characters, still closed. */
static void put_snippet(struct line *l, const uint8_t *text, size_t len)
{
	put_str(l, ",\"snippet\":");
	l->n += sluice_json_string_n(l->p + l->n, l->cap - l->n, text, len);
}

/* A pack's strings as they go in a line: from the sink's cache, or made for
 * this line. */
struct pack_text {
	const char *name, *version;
	const char *rule_id, *category; /* MATCH */
	char own_name[512], own_version[512], own_id[160], own_category[160];
};

static void pack_text_make(struct pack_text *t, const struct sluice_event *ev)
{
	const struct sluice_pack *pack = ev->pack;
	sluice_json_string(t->own_name, sizeof(t->own_name), pack != NULL ? pack->name : "");
	sluice_json_string(t->own_version, sizeof(t->own_version),
			   pack != NULL ? pack->version : "");
	t->name = t->own_name;
	t->version = t->own_version;
	t->rule_id = t->category = NULL;
	if (ev->kind == SLUICE_EVENT_MATCH && pack != NULL && ev->rule < pack->rule_count) {
		sluice_json_string(t->own_id, sizeof(t->own_id), pack->rules[ev->rule].id);
		sluice_json_string(t->own_category, sizeof(t->own_category),
				   pack->rules[ev->rule].category);
		t->rule_id = t->own_id;
		t->category = t->own_category;
	}
}

/* Closes the string before it and names the pack every event carries. */
static void put_pack(struct line *l, const struct pack_text *t)
{
	put_str(l, "\",\"pack\":");
	put_str(l, t->name);
	put_str(l, ",\"pack_version\":");
	put_str(l, t->version);
}

static size_t format_line(const struct sluice_event *ev, const uint8_t *snippet,
			  const char *ts_prefix, uint64_t ns, const struct pack_text *t, char *buf,
			  size_t cap)
{
	struct line l = {.p = buf, .cap = cap};
	const struct sluice_pack *pack = ev->pack;

	if (cap == 0)
		return 0;
	put_str(&l, "{\"ts\":\"");
	put_ts(&l, ts_prefix, ns);
	if (ev->kind == SLUICE_EVENT_MATCH && t->rule_id != NULL) {
		const struct sluice_pack_rule *rule = &pack->rules[ev->rule];
		put_str(&l, "\",\"event\":\"match\",\"worker\":");
		put_u64(&l, ev->worker);
		put_who(&l, ev);
		put_str(&l, ",\"rule\":");
		put_str(&l, t->rule_id);
		put_str(&l, ",\"category\":");
		put_str(&l, t->category);
		put_str(&l, ",\"severity\":\"");
		put_str(&l, sluice_severity_name(rule->severity));
		put_str(&l, "\",\"action\":\"");
		put_str(&l, sluice_action_name(rule->action));
		put_str(&l, "\",\"verdict\":\"");
		put_str(&l, sluice_action_name((enum sluice_action)ev->verdict));
		put_pack(&l, t);
		put_str(&l, ",\"from\":");
		put_u64(&l, ev->from);
		put_str(&l, ",\"to\":");
		put_u64(&l, ev->to);
		put_hash(&l, ev->text_hash);
		if (snippet != NULL && ev->snippet_len > 0)
			put_snippet(&l, snippet, ev->snippet_len);
		put_str(&l, "}\n");
	} else if (ev->kind == SLUICE_EVENT_STREAM) {
		put_str(&l, "\",\"event\":\"stream\",\"worker\":");
		put_u64(&l, ev->worker);
		put_who(&l, ev);
		put_str(&l, ",\"reason\":\"");
		put_str(&l, sluice_stream_reason_name((enum sluice_stream_reason)ev->reason));
		put_str(&l, "\",\"action\":\"");
		put_str(&l, ev->policy ? "reset" : "drop");
		put_pack(&l, t);
		put_str(&l, "}\n");
	} else {
		put_str(&l, "\",\"event\":\"bad_input\",\"worker\":");
		put_u64(&l, ev->worker);
		if (ev->has_ids)
			put_ids(&l, ev);
		if (ev->has_addr)
			put_addresses(&l, ev);
		if (ev->has_mac)
			put_mac(&l, ev->src_mac);
		put_str(&l, ",\"reason\":\"");
		put_str(&l, sluice_bad_reason_name((enum sluice_bad_reason)ev->reason));
		put_str(&l, "\",\"policy\":\"");
		put_str(&l, sluice_bad_policy_name((enum sluice_bad_policy)ev->policy));
		put_pack(&l, t);
		put_str(&l, "}\n");
	}
	l.p[l.n] = '\0';
	return l.n;
}

size_t sluice_event_format(const struct sluice_event *ev, const uint8_t *snippet,
			   const struct sluice_tsc_clock *clock, char *buf, size_t cap)
{
	uint64_t ns = sluice_tsc_to_ns(clock, ev->tsc);
	char prefix[24];
	struct pack_text t;
	format_second(ns / 1000000000ull, prefix);
	pack_text_make(&t, ev);
	return format_line(ev, snippet, prefix, ns, &t, buf, cap);
}

/* ---- the sink's caches ---- */

static void pack_strings_free(struct sluice_event_pack_strings *c)
{
	for (size_t r = 0; r < c->rules; r++) {
		free(c->rule_id[r]);
		free(c->category[r]);
	}
	free(c->rule_id);
	free(c->category);
	free(c->wanted);
	free(c->flag_seen);
	free(c->name);
	free(c->version);
	memset(c, 0, sizeof(*c));
}

static char *escaped(const char *s, size_t cap)
{
	char *buf = malloc(cap);
	if (buf != NULL)
		sluice_json_string(buf, cap, s);
	return buf;
}

/* Whether name is one of list's comma-separated words. */
static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; *p != '\0';) {
		const char *comma = strchr(p, ',');
		size_t k = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (k == n && memcmp(p, name, n) == 0)
			return true;
		p += k + (comma != NULL);
	}
	return false;
}

static bool rule_wanted(const struct sluice_event_filter *f, const struct sluice_pack_rule *r)
{
	enum sluice_severity severity = r->severity != 0 ? r->severity : SLUICE_SEVERITY_MEDIUM;
	if (f->actions != 0 && (f->actions & (1u << r->action)) == 0)
		return false;
	if (f->min_severity != 0 && (unsigned)severity < f->min_severity)
		return false;
	return f->categories == NULL || in_list(f->categories, r->category);
}

/* The pack's strings, escaped once, and its rules' filter answers: NULL
 * when out of memory (the line is then made without the cache). */
static struct sluice_event_pack_strings *pack_strings(struct sluice_event_sink *sink,
						      const struct sluice_pack *pack)
{
	for (unsigned k = 0; k < SLUICE_EVENT_PACKS_CACHED; k++) {
		struct sluice_event_pack_strings *c = &sink->packs[k];
		if (c->pack == pack && memcmp(c->sha, pack->sha256_hex, 16) == 0)
			return c;
	}
	struct sluice_event_pack_strings *c = &sink->packs[sink->next_pack];
	sink->next_pack = (sink->next_pack + 1) % SLUICE_EVENT_PACKS_CACHED;
	pack_strings_free(c);
	size_t n = pack->rule_count;
	c->name = escaped(pack->name, 512);
	c->version = escaped(pack->version, 512);
	c->rule_id = calloc(n ? n : 1, sizeof(*c->rule_id));
	c->category = calloc(n ? n : 1, sizeof(*c->category));
	c->wanted = calloc(n ? n : 1, sizeof(*c->wanted));
	c->flag_seen = calloc(n ? n : 1, sizeof(*c->flag_seen));
	bool ok = c->name && c->version && c->rule_id && c->category && c->wanted && c->flag_seen;
	for (size_t r = 0; ok && r < n; r++) {
		c->rule_id[r] = escaped(pack->rules[r].id, 160);
		c->category[r] = escaped(pack->rules[r].category, 160);
		c->wanted[r] = rule_wanted(&sink->filter, &pack->rules[r]);
		c->rules = r + 1;
		ok = c->rule_id[r] && c->category[r];
	}
	if (!ok) {
		pack_strings_free(c);
		return NULL;
	}
	c->pack = pack;
	memcpy(c->sha, pack->sha256_hex, 16);
	c->sha[16] = '\0';
	return c;
}

/* PATH.k for rotation. */
static void rotated_name(char *out, size_t cap, const char *path, unsigned k)
{
	snprintf(out, cap, "%s.%u", path, k);
}

/* PATH.keep-1 .. PATH.1 move up one, PATH becomes PATH.1, and a new PATH
 * is opened. A file that cannot be opened leaves the old one in use. */
static void rotate(struct sluice_event_sink *sink)
{
	size_t cap = strlen(sink->path) + 16;
	char from[cap], to[cap], err[256];
	if (fflush(sink->out) != 0)
		sink->write_errors++;
	for (unsigned k = sink->rotation.keep; k > 1; k--) {
		rotated_name(from, cap, sink->path, k - 1);
		rotated_name(to, cap, sink->path, k);
		rename(from, to);
	}
	rotated_name(to, cap, sink->path, 1);
	if (rename(sink->path, to) != 0) {
		sink->write_errors++;
		return;
	}
	uint64_t bytes = 0;
	FILE *f = open_append(sink->path, &bytes, err, sizeof(err));
	if (f == NULL) {
		sink->write_errors++;
		return;
	}
	fclose(sink->out);
	sink->out = f;
	sink->file_bytes = bytes;
	sink->rotations++;
}

static void write_bytes(struct sluice_event_sink *sink, const char *p, size_t n)
{
	if (sink->out == NULL)
		return;
	if (sink->rotation.max_bytes != 0 && sink->file_bytes > 0 &&
	    sink->file_bytes + n > sink->rotation.max_bytes)
		rotate(sink);
	if (fwrite(p, 1, n, sink->out) != n)
		sink->write_errors++;
	sink->file_bytes += n;
}

static void write_out(struct sluice_event_sink *sink)
{
	if (sink->used > 0)
		write_bytes(sink, sink->buf, sink->used);
	sink->used = 0;
}

/* Whether a match event passes the filter and the sampling; counts it when
 * not. c: its pack's cache, or NULL (then every event of a wanted rule is
 * written: the sampling counters live in the cache). */
static bool match_written(struct sluice_event_sink *sink, struct sluice_event_pack_strings *c,
			  const struct sluice_event *ev)
{
	const struct sluice_pack_rule *rule = &ev->pack->rules[ev->rule];
	bool wanted = c != NULL ? c->wanted[ev->rule] : rule_wanted(&sink->filter, rule);
	if (!wanted) {
		sink->filtered++;
		return false;
	}
	if (c == NULL || rule->action != SLUICE_ACTION_FLAG || sink->filter.flag_sample <= 1)
		return true;
	if (c->flag_seen[ev->rule]++ % sink->filter.flag_sample != 0) {
		sink->sampled_out++;
		return false;
	}
	return true;
}

/* The line, as written, to the bus: the subject names what a reviewer
 * subscribes to. */
static void to_bus(struct sluice_event_bus *bus, const struct sluice_event *ev, const char *line,
		   size_t len)
{
	char subject[SLUICE_EVENT_BUS_SUBJECT];
	const char *what = NULL, *action = NULL;
	if (ev->kind == SLUICE_EVENT_MATCH && ev->pack != NULL && ev->rule < ev->pack->rule_count) {
		what = ev->pack->rules[ev->rule].category;
		action = sluice_action_name(ev->pack->rules[ev->rule].action);
	} else if (ev->kind == SLUICE_EVENT_STREAM) {
		what = sluice_stream_reason_name((enum sluice_stream_reason)ev->reason);
	} else if (ev->kind != SLUICE_EVENT_MATCH) {
		what = sluice_bad_reason_name((enum sluice_bad_reason)ev->reason);
	}
	sluice_event_bus_subject(bus, ev, what, action, subject, sizeof(subject));
	sluice_event_bus_put(bus, ev, subject, line, len);
}

unsigned sluice_event_sink_drain(struct sluice_event_sink *sink, struct sluice_event_ring *ring,
				 unsigned budget)
{
	struct sluice_event ev;
	union sluice_event_slot snippet;
	unsigned n = 0;
	char fallback[EVENT_LINE_MAX];
	while (n < budget &&
	       (sink->bus == NULL || sink->bus_force || sluice_event_bus_ready(sink->bus)) &&
	       sluice_event_ring_pop(ring, &ev)) {
		n++;
		/* The worker pushed both slots at once: the snippet is there. */
		bool with_snippet = ev.kind == SLUICE_EVENT_MATCH && ev.snippet_len > 0 &&
				    sluice_event_ring_pop(ring, &snippet.event);
		n += with_snippet;
		struct sluice_event_pack_strings *c =
		    ev.pack != NULL ? pack_strings(sink, ev.pack) : NULL;
		bool match = ev.kind == SLUICE_EVENT_MATCH && ev.pack != NULL &&
			     ev.rule < ev.pack->rule_count;
		if (match && !match_written(sink, c, &ev))
			continue;
		uint64_t ns = sluice_tsc_to_ns(&sink->clock, ev.tsc);
		uint64_t second = ns / 1000000000ull;
		if (second != sink->ts_second) {
			format_second(second, sink->ts_prefix);
			sink->ts_second = second;
		}
		struct pack_text t;
		if (c != NULL) {
			t.name = c->name;
			t.version = c->version;
			bool rule = ev.kind == SLUICE_EVENT_MATCH && ev.rule < c->rules;
			t.rule_id = rule ? c->rule_id[ev.rule] : NULL;
			t.category = rule ? c->category[ev.rule] : NULL;
		} else {
			pack_text_make(&t, &ev);
		}
		if (sink->buf != NULL && sink->cap - sink->used < EVENT_LINE_MAX)
			write_out(sink);
		char *at = sink->buf != NULL ? sink->buf + sink->used : fallback;
		size_t len = format_line(&ev, with_snippet ? snippet.text : NULL, sink->ts_prefix,
					 ns, &t, at, EVENT_LINE_MAX);
		if (sink->bus != NULL)
			to_bus(sink->bus, &ev, at, len);
		if (sink->buf != NULL)
			sink->used += len;
		else
			write_bytes(sink, fallback, len);
		sink->written++;
	}
	if (sink->buf != NULL)
		write_out(sink);
	return n;
}

int sluice_event_sink_reopen(struct sluice_event_sink *sink, char *err, size_t err_len)
{
	if (sink->out == NULL || sink->out == stdout)
		return 0;
	write_out(sink);
	uint64_t bytes = 0;
	FILE *f = open_append(sink->path, &bytes, err, err_len);
	if (f == NULL)
		return -1;
	if (fclose(sink->out) != 0)
		sink->write_errors++;
	sink->out = f;
	sink->file_bytes = bytes;
	sink->reopens++;
	return 0;
}

int sluice_event_actions_parse(const char *list, unsigned *bits, char *why, size_t why_len)
{
	*bits = 0;
	for (const char *p = list;;) {
		const char *comma = strchr(p, ',');
		size_t k = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char word[16];
		enum sluice_action action;
		if (k == 0 || k >= sizeof(word)) {
			snprintf(why, why_len, "expected a comma list of flag, mask, block");
			return -1;
		}
		memcpy(word, p, k);
		word[k] = '\0';
		if (!sluice_action_parse(word, &action) || action == SLUICE_ACTION_NONE) {
			snprintf(why, why_len, "'%s' is not flag, mask or block", word);
			return -1;
		}
		*bits |= 1u << action;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int sluice_event_categories_check(const char *list, char *why, size_t why_len)
{
	for (const char *p = list;;) {
		size_t k = strcspn(p, ",");
		if (k == 0) {
			snprintf(why, why_len,
				 "expected a comma list of categories, none empty (leave the "
				 "option out for all)");
			return -1;
		}
		/* A rule's category is made of these (rule_file.c): a word
		 * of anything else can never match. */
		for (size_t i = 0; i < k; i++) {
			char c = p[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) {
				snprintf(why, why_len,
					 "'%.*s' is not a category name (letters, digits, '.', "
					 "'_', '-')",
					 (int)k, p);
				return -1;
			}
		}
		if (p[k] == '\0')
			return 0;
		p += k + 1;
	}
}

int sluice_event_sink_configure(struct sluice_event_sink *sink,
				const struct sluice_event_filter *filter,
				const struct sluice_event_rotation *rotation, char *err,
				size_t err_len)
{
	if (rotation != NULL && rotation->max_bytes != 0 && sink->out == stdout) {
		snprintf(err, err_len, "events go to stdout: only a file can rotate");
		return -1;
	}
	free(sink->categories);
	sink->categories = NULL;
	memset(&sink->filter, 0, sizeof(sink->filter));
	if (filter != NULL) {
		sink->filter = *filter;
		if (filter->categories != NULL) {
			sink->categories = strdup(filter->categories);
			if (sink->categories == NULL) {
				snprintf(err, err_len, "out of memory");
				return -1;
			}
		}
		sink->filter.categories = sink->categories;
	}
	memset(&sink->rotation, 0, sizeof(sink->rotation));
	if (rotation != NULL)
		sink->rotation = *rotation;
	if (sink->rotation.max_bytes != 0 && sink->rotation.keep == 0)
		sink->rotation.keep = 1;
	/* Cached answers were made under the old filter. */
	for (unsigned k = 0; k < SLUICE_EVENT_PACKS_CACHED; k++)
		pack_strings_free(&sink->packs[k]);
	return 0;
}

void sluice_event_sink_flush(struct sluice_event_sink *sink)
{
	if (sink->out != NULL && fflush(sink->out) != 0)
		sink->write_errors++;
}

void sluice_event_sink_close(struct sluice_event_sink *sink)
{
	if (sink->out != NULL) {
		fflush(sink->out);
		if (sink->out != stdout)
			fclose(sink->out);
	}
	sink->out = NULL;
	free(sink->path);
	sink->path = NULL;
	free(sink->buf);
	sink->buf = NULL;
	free(sink->categories);
	sink->categories = NULL;
	for (unsigned k = 0; k < SLUICE_EVENT_PACKS_CACHED; k++)
		pack_strings_free(&sink->packs[k]);
}
