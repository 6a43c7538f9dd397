#include "event_sink.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_escape.h"
#include "action.h"
#include "bad_input.h"
#include "pack.h"
#include "stream_stats.h"

/* Lines of a drain gather in the buffer (one write per drain); a line is at
 * most EVENT_LINE_MAX bytes. */
#define SINK_BUFFER    (256 * 1024)
#define EVENT_LINE_MAX 2048

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
	sink->out = fopen(path, "a");
	if (sink->out == NULL) {
		snprintf(err, err_len, "%s: cannot open event file: %s", path, strerror(errno));
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
	/* Always a whole JSON string: when s does not fit it is cut between two
	 * characters (never inside one or inside an escape), and the closing
	 * quote is still written. */
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s), n = 0;
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

/* Who a message is from: its frame's ids, or its TCP connection. */
static void put_who(struct line *l, const struct sluice_event *ev)
{
	if (!ev->stream) {
		put_str(l, "\"msg_id\":");
		put_u64(l, ev->msg_id);
		put_str(l, ",\"channel_id\":");
		put_u64(l, ev->channel_id);
		put_str(l, ",\"user_id\":");
		put_u64(l, ev->user_id);
		return;
	}
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], who[256];
	int af = ev->ipv6 ? AF_INET6 : AF_INET;
	inet_ntop(af, ev->src, src, sizeof(src));
	inet_ntop(af, ev->dst, dst, sizeof(dst));
	snprintf(who, sizeof(who),
		 "\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"direction\":\"%s\"",
		 src, ev->sport, dst, ev->dport,
		 ev->from_client ? "client_to_server" : "server_to_client");
	put_str(l, who);
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

static size_t format_line(const struct sluice_event *ev, const char *ts_prefix, uint64_t ns,
			  const struct pack_text *t, char *buf, size_t cap)
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
		put(&l, ",", 1);
		put_who(&l, ev);
		put_str(&l, ",\"rule\":");
		put_str(&l, t->rule_id);
		put_str(&l, ",\"category\":");
		put_str(&l, t->category);
		put_str(&l, ",\"action\":\"");
		put_str(&l, sluice_action_name(rule->action));
		put_str(&l, "\",\"verdict\":\"");
		put_str(&l, sluice_action_name((enum sluice_action)ev->verdict));
		put_pack(&l, t);
		put_str(&l, ",\"from\":");
		put_u64(&l, ev->from);
		put_str(&l, ",\"to\":");
		put_u64(&l, ev->to);
		put_str(&l, "}\n");
	} else if (ev->kind == SLUICE_EVENT_STREAM) {
		put_str(&l, "\",\"event\":\"stream\",\"worker\":");
		put_u64(&l, ev->worker);
		put(&l, ",", 1);
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
		if (ev->has_ids) {
			put_str(&l, ",\"msg_id\":");
			put_u64(&l, ev->msg_id);
			put_str(&l, ",\"channel_id\":");
			put_u64(&l, ev->channel_id);
			put_str(&l, ",\"user_id\":");
			put_u64(&l, ev->user_id);
		}
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

size_t sluice_event_format(const struct sluice_event *ev, const struct sluice_tsc_clock *clock,
			   char *buf, size_t cap)
{
	uint64_t ns = sluice_tsc_to_ns(clock, ev->tsc);
	char prefix[24];
	struct pack_text t;
	format_second(ns / 1000000000ull, prefix);
	pack_text_make(&t, ev);
	return format_line(ev, prefix, ns, &t, buf, cap);
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

/* The pack's strings, escaped once: NULL when out of memory (the line is
 * then made without the cache). */
static const struct sluice_event_pack_strings *pack_strings(struct sluice_event_sink *sink,
							    const struct sluice_pack *pack)
{
	for (unsigned k = 0; k < SLUICE_EVENT_PACKS_CACHED; k++) {
		const struct sluice_event_pack_strings *c = &sink->packs[k];
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
	bool ok = c->name && c->version && c->rule_id && c->category;
	for (size_t r = 0; ok && r < n; r++) {
		c->rule_id[r] = escaped(pack->rules[r].id, 160);
		c->category[r] = escaped(pack->rules[r].category, 160);
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

static void write_out(struct sluice_event_sink *sink)
{
	if (sink->used > 0 && fwrite(sink->buf, 1, sink->used, sink->out) != sink->used)
		sink->write_errors++;
	sink->used = 0;
}

unsigned sluice_event_sink_drain(struct sluice_event_sink *sink, struct sluice_event_ring *ring,
				 unsigned budget)
{
	struct sluice_event ev;
	unsigned n = 0;
	char fallback[EVENT_LINE_MAX];
	while (n < budget && sluice_event_ring_pop(ring, &ev)) {
		uint64_t ns = sluice_tsc_to_ns(&sink->clock, ev.tsc);
		uint64_t second = ns / 1000000000ull;
		if (second != sink->ts_second) {
			format_second(second, sink->ts_prefix);
			sink->ts_second = second;
		}
		struct pack_text t;
		const struct sluice_event_pack_strings *c =
		    ev.pack != NULL ? pack_strings(sink, ev.pack) : NULL;
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
		size_t len = format_line(&ev, sink->ts_prefix, ns, &t, at, EVENT_LINE_MAX);
		if (sink->buf != NULL)
			sink->used += len;
		else if (fwrite(fallback, 1, len, sink->out) != len)
			sink->write_errors++;
		sink->written++;
		n++;
	}
	if (sink->buf != NULL)
		write_out(sink);
	return n;
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
	for (unsigned k = 0; k < SLUICE_EVENT_PACKS_CACHED; k++)
		pack_strings_free(&sink->packs[k]);
}
