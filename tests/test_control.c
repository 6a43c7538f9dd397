/* The control plane: event rings, event formatting, the ruleset registry (RCU
 * publication, history, rollback, refusals), the control socket and the worker
 * watchdog. */
#include <criterion/criterion.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control_protocol.h"
#include "control_server.h"
#include "event_ring.h"
#include "event_sink.h"
#include "pack.h"
#include "pack_source.h"
#include "ruleset_registry.h"
#include "test_support.h"

/* Who the tests act as, for the audit log. */
static const struct sluice_actor test_actor = {.kind = SLUICE_ACTOR_DAEMON};

/* ---- helpers ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static char *default_rules(void)
{
	return ts_source_path("patterns/rules/default.yaml");
}

static char *flag_rules(void)
{
	return ts_source_path("patterns/rules/flag-phones.yaml");
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	cr_assert_neq(asprintf(&p, "%s/%s", dir, name), -1);
	return p;
}

/* A one-rule pack "numbered" of version v, in dir: packs that differ, for
 * histories (the same pack loaded again is kept once). */
static char *numbered_rules(const char *dir, int v)
{
	char name[32];
	snprintf(name, sizeof(name), "numbered-%d.yaml", v);
	char *path = path_in(dir, name);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"name: numbered\nversion: \"%d\"\nrules:\n  - id: n%d\n    category: x\n"
		"    action: flag\n    literal: number%d\n",
		v, v, v);
	fclose(f);
	return path;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool is_hex64(const char *s)
{
	for (int i = 0; i < 64; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[64] == '\0' || s[64] == '"';
}

static void assert_prefix(const char *s, const char *prefix)
{
	cr_assert_eq(strncmp(s, prefix, strlen(prefix)), 0, "want prefix %s\ngot %s", prefix, s);
}

static struct sluice_event ev_with_id(uint64_t id)
{
	struct sluice_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.msg_id = id;
	ev.kind = SLUICE_EVENT_MATCH;
	return ev;
}

/* A pack with metadata only, enough for formatting events. */
static struct sluice_pack_rule fake_rules[] = {
    {.id = "phone-cn-mobile",
     .category = "contact",
     .action = SLUICE_ACTION_MASK,
     .severity = SLUICE_SEVERITY_HIGH},
    {.id = "gambling-invite", .category = "gambling", .action = SLUICE_ACTION_BLOCK},
};

static struct sluice_pack fake_pack(const char *name, const char *version)
{
	struct sluice_pack p;

	memset(&p, 0, sizeof(p));
	p.name = (char *)name;
	p.version = (char *)version;
	p.rule_count = 2;
	p.rules = fake_rules;
	return p;
}

/* 1700000000 s = 2023-11-14T22:13:20Z; one TSC tick per nanosecond. */
static const struct sluice_tsc_clock test_clock = {
    .tsc0 = 1000, .ns0 = 1700000000ull * 1000000000ull, .hz = 1000000000ull};

/* ---- event ring ---- */

Test(event_ring, pops_in_push_order)
{
	struct sluice_event_ring *ring = sluice_event_ring_create(8);
	struct sluice_event ev;

	cr_assert_not_null(ring);
	for (uint64_t i = 1; i <= 5; i++) {
		ev = ev_with_id(i);
		cr_assert(sluice_event_ring_push(ring, &ev), "push %llu", (unsigned long long)i);
	}
	for (uint64_t i = 1; i <= 5; i++) {
		cr_assert(sluice_event_ring_pop(ring, &ev));
		cr_assert_eq(ev.msg_id, i);
	}
	cr_assert_not(sluice_event_ring_pop(ring, &ev), "an empty ring pops nothing");
	sluice_event_ring_free(ring);
}

Test(event_ring, whole_record_is_copied)
{
	struct sluice_event_ring *ring = sluice_event_ring_create(64);
	struct sluice_event in, out;

	memset(&in, 0, sizeof(in));
	in.tsc = 123456789;
	in.msg_id = 7;
	in.channel_id = 3;
	in.user_id = 42;
	in.rule = 11;
	in.from = 8;
	in.to = 19;
	in.worker = 2;
	in.kind = SLUICE_EVENT_MATCH;
	in.verdict = SLUICE_ACTION_MASK;
	cr_assert(sluice_event_ring_push(ring, &in));
	cr_assert(sluice_event_ring_pop(ring, &out));
	cr_assert_eq(memcmp(&in, &out, sizeof(in)), 0);
	sluice_event_ring_free(ring);
}

Test(event_ring, wraps_around_many_times_keeping_order)
{
	struct sluice_event_ring *ring = sluice_event_ring_create(4);
	struct sluice_event ev;
	uint64_t next_in = 1, next_out = 1;

	cr_assert_not_null(ring);
	for (int round = 0; round < 50; round++) {
		for (int k = 0; k < 3; k++) {
			ev = ev_with_id(next_in++);
			cr_assert(sluice_event_ring_push(ring, &ev));
		}
		for (int k = 0; k < 3; k++) {
			cr_assert(sluice_event_ring_pop(ring, &ev));
			cr_assert_eq(ev.msg_id, next_out, "round %d", round);
			next_out++;
		}
	}
	cr_assert_eq(next_out, 151);
	cr_assert_not(sluice_event_ring_pop(ring, &ev));
	sluice_event_ring_free(ring);
}

Test(event_ring, full_ring_refuses_until_one_is_popped)
{
	struct sluice_event_ring *ring = sluice_event_ring_create(4);
	struct sluice_event ev;

	for (uint64_t i = 1; i <= 4; i++) {
		ev = ev_with_id(i);
		cr_assert(sluice_event_ring_push(ring, &ev));
	}
	ev = ev_with_id(5);
	cr_assert_not(sluice_event_ring_push(ring, &ev), "a full ring must refuse");
	cr_assert(sluice_event_ring_pop(ring, &ev));
	cr_assert_eq(ev.msg_id, 1);
	ev = ev_with_id(6);
	cr_assert(sluice_event_ring_push(ring, &ev), "one slot is free again");
	ev = ev_with_id(7);
	cr_assert_not(sluice_event_ring_push(ring, &ev));
	for (uint64_t want = 2; want <= 4; want++) {
		cr_assert(sluice_event_ring_pop(ring, &ev));
		cr_assert_eq(ev.msg_id, want);
	}
	cr_assert(sluice_event_ring_pop(ring, &ev));
	cr_assert_eq(ev.msg_id, 6, "the refused event 5 was not stored");
	cr_assert_not(sluice_event_ring_pop(ring, &ev));
	sluice_event_ring_free(ring);
}

Test(event_ring, capacity_not_a_power_of_two_is_refused)
{
	cr_assert_null(sluice_event_ring_create(6));
	cr_assert_null(sluice_event_ring_create(100));
	cr_assert_null(sluice_event_ring_create(0));
	struct sluice_event_ring *one = sluice_event_ring_create(1);
	cr_assert_not_null(one);
	cr_assert_eq(one->mask, 0);
	sluice_event_ring_free(one);
}

/* ---- event formatting ---- */

Test(event_format, match_event_has_every_field)
{
	struct sluice_pack pack = fake_pack("sluice-default", "2026.11.23-1");
	struct sluice_event ev;
	char line[1024];
	size_t n;

	memset(&ev, 0, sizeof(ev));
	ev.tsc = 1000 + 123456789; /* 123456789 ns after ns0 */
	ev.msg_id = 7;
	ev.channel_id = 3;
	ev.user_id = 42;
	ev.pack = &pack;
	ev.rule = 0;
	ev.from = 8;
	ev.to = 19;
	ev.worker = 1;
	ev.kind = SLUICE_EVENT_MATCH;
	ev.verdict = SLUICE_ACTION_BLOCK;
	ev.text_hash = 0x0123456789abcdefull;
	n = sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	cr_assert_eq(n, strlen(line));
	cr_assert_eq(line[n - 1], '\n', "one line, newline included");
	assert_prefix(line, "{\"ts\":\"2023-11-14T22:13:20.123456789Z\",");
	cr_assert_not_null(strstr(line, "\"event\":\"match\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"worker\":1,"), "%s", line);
	cr_assert_not_null(strstr(line, "\"msg_id\":7,"), "%s", line);
	cr_assert_not_null(strstr(line, "\"channel_id\":3,"), "%s", line);
	cr_assert_not_null(strstr(line, "\"user_id\":42,"), "%s", line);
	cr_assert_not_null(strstr(line, "\"rule\":\"phone-cn-mobile\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"category\":\"contact\",\"severity\":\"high\","), "%s",
			   line);
	cr_assert_not_null(strstr(line, "\"action\":\"mask\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"verdict\":\"block\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"pack\":\"sluice-default\""), "%s", line);
	cr_assert_not_null(strstr(line, "\"pack_version\":\"2026.11.23-1\""), "%s", line);
	cr_assert_not_null(
	    strstr(line, "\"from\":8,\"to\":19,\"text_hash\":\"0123456789abcdef\"}\n"), "%s", line);
	cr_assert_null(strstr(line, "snippet"), "no snippet unless the worker sent one: %s", line);
	cr_assert_null(strstr(line, "\"src\""), "no addresses unless set: %s", line);
}

Test(event_format, timestamp_is_iso8601_utc_with_nine_fraction_digits)
{
	struct sluice_pack pack = fake_pack("p", "1");
	/* 2 GHz: 2e9 + 2 ticks after tsc0 are 1 s and 1 ns. */
	struct sluice_tsc_clock clock = {
	    .tsc0 = 5000, .ns0 = 1700000000ull * 1000000000ull + 5, .hz = 2000000000ull};
	struct sluice_event ev;
	char line[1024];

	memset(&ev, 0, sizeof(ev));
	ev.tsc = 5000 + 2000000002ull;
	ev.pack = &pack;
	ev.kind = SLUICE_EVENT_MATCH;
	sluice_event_format(&ev, NULL, &clock, line, sizeof(line));
	assert_prefix(line, "{\"ts\":\"2023-11-14T22:13:21.000000006Z\"");
	cr_assert_eq(sluice_tsc_to_ns(&clock, 5000 + 2000000002ull),
		     1700000001ull * 1000000000ull + 6);
	/* Before tsc0 (a worker's burst started before the calibration). */
	cr_assert_eq(sluice_tsc_to_ns(&clock, 5000 - 2000), clock.ns0 - 1000);
}

Test(event_format, bad_input_event_with_ids)
{
	struct sluice_pack pack = fake_pack("sluice-default", "2026.11.23-1");
	struct sluice_event ev;
	char line[1024];

	memset(&ev, 0, sizeof(ev));
	ev.tsc = 1000;
	ev.msg_id = 14;
	ev.channel_id = 100;
	ev.user_id = 5014;
	ev.pack = &pack;
	ev.kind = SLUICE_EVENT_BAD_INPUT;
	ev.verdict = SLUICE_ACTION_BLOCK;
	ev.reason = SLUICE_BAD_INVALID_UTF8;
	ev.policy = SLUICE_POLICY_REPLACE;
	ev.has_ids = 1;
	sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ts\":\"2023-11-14T22:13:20.000000000Z\",\"event\":\"bad_input\","
			       "\"worker\":0,\"msg_id\":14,\"channel_id\":100,\"user_id\":5014,"
			       "\"reason\":\"invalid_utf8\",\"policy\":\"replace\","
			       "\"pack\":\"sluice-default\",\"pack_version\":\"2026.11.23-1\"}\n");
}

Test(event_format, bad_input_event_without_ids)
{
	struct sluice_pack pack = fake_pack("sluice-default", "2026.11.23-1");
	struct sluice_event ev;
	char line[1024];

	memset(&ev, 0, sizeof(ev));
	ev.tsc = 1000 + 1;
	ev.msg_id = 99; /* not readable: must not be written */
	ev.pack = &pack;
	ev.worker = 3;
	ev.kind = SLUICE_EVENT_BAD_INPUT;
	ev.reason = SLUICE_BAD_MAGIC;
	ev.policy = SLUICE_POLICY_DROP;
	ev.has_ids = 0;
	sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	cr_assert_str_eq(line, "{\"ts\":\"2023-11-14T22:13:20.000000001Z\",\"event\":\"bad_input\","
			       "\"worker\":3,\"reason\":\"bad_magic\",\"policy\":\"drop\","
			       "\"pack\":\"sluice-default\",\"pack_version\":\"2026.11.23-1\"}\n");
	cr_assert_null(strstr(line, "msg_id"));
}

Test(event_format, pack_name_quotes_backslashes_and_control_chars_are_escaped)
{
	struct sluice_pack pack = fake_pack("we\"ird\\na\tme\x01", "v\n1");
	struct sluice_event ev;
	char line[1024];

	memset(&ev, 0, sizeof(ev));
	ev.tsc = 1000;
	ev.pack = &pack;
	ev.kind = SLUICE_EVENT_MATCH;
	ev.rule = 1;
	sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	/* Short forms for tab and newline, \u00XX for other control characters
	 * (json_escape.h). */
	cr_assert_not_null(strstr(line, "\"pack\":\"we\\\"ird\\\\na\\tme\\u0001\","), "%s", line);
	cr_assert_not_null(strstr(line, "\"pack_version\":\"v\\n1\","), "%s", line);
	cr_assert_not_null(strstr(line, "\"rule\":\"gambling-invite\""), "%s", line);
	cr_assert_eq(strchr(line, '\t'), NULL, "no raw control character in the line");
	cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "only the final newline");
}

Test(event_format, json_string_escapes_and_cuts_to_a_whole_string)
{
	char buf[64];
	char small[8];

	cr_assert_eq(sluice_json_string(buf, sizeof(buf), "a\"b\\c\x1f"), 15);
	cr_assert_str_eq(buf, "\"a\\\"b\\\\c\\u001f\"");
	cr_assert_eq(sluice_json_string(buf, sizeof(buf), ""), 2);
	cr_assert_str_eq(buf, "\"\"");
	/* UTF-8 passes through untouched. */
	cr_assert_eq(sluice_json_string(buf, sizeof(buf), "微信"), 8);
	cr_assert_str_eq(buf, "\"微信\"");
	/* Too small: cut, but still a whole JSON string; the length written is returned. */
	cr_assert_eq(sluice_json_string(small, sizeof(small), "abcdefghij"), 7);
	cr_assert_str_eq(small, "\"abcde\"");
	/* Never half a character or half an escape. */
	cr_assert_eq(sluice_json_string(small, 6, "微信"), 5);
	cr_assert_str_eq(small, "\"微\"");
	cr_assert_eq(sluice_json_string(small, 5, "微信"), 2);
	cr_assert_str_eq(small, "\"\"");
	cr_assert_eq(sluice_json_string(small, sizeof(small),
					"ab\x01"
					"cd"),
		     4);
	cr_assert_str_eq(small, "\"ab\"");
}

/* Pack names and versions have no length limit in rule files (only ids and
 * categories do), so a long one must still make a whole JSON line. */
Test(event_format, json_strings_stay_utf8_whatever_the_input)
{
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	/* valid 2- and 3-byte characters, a lone continuation byte, a truncated
	 * sequence, an overlong form, 0xff */
	sluice_strbuf_json_string(&sb, "a\xc3\xa9\xe4\xbd\xa0\x80"
				       "b\xe4\xbd\xc0\xaf\xff");
	cr_assert_str_eq(sb.data, "\"a\xc3\xa9\xe4\xbd\xa0\\ufffd"
				  "b\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
	sluice_strbuf_free(&sb);
}

Test(event_format, long_pack_name_is_written_whole)
{
	char name[201];
	char want[256];
	struct sluice_event ev;
	char line[2048];

	memset(name, 'n', 200);
	name[200] = '\0';
	struct sluice_pack pack = fake_pack(name, "1");
	memset(&ev, 0, sizeof(ev));
	ev.pack = &pack;
	ev.kind = SLUICE_EVENT_MATCH;
	sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	snprintf(want, sizeof(want), "\"pack\":\"%s\",\"pack_version\":\"1\"", name);
	cr_assert_not_null(strstr(line, want), "pack name cut short, line is not JSON: %s", line);
}

/* ---- event sink ---- */

/* The sink caches the date of the current second and each pack's escaped
 * strings: its lines must be the stateless formatter's, across seconds, across
 * packs, and when a pack's address is reused by another pack. */
Test(event_sink, cached_lines_equal_the_formatters_across_seconds_and_packs)
{
	char *dir = ts_make_tmpdir("control");
	char *path = path_in(dir, "events.jsonl");
	static struct sluice_pack a, b;
	a = fake_pack("main \"pack\"", "1");
	b = fake_pack("urgent", "7");
	memcpy(a.sha256_hex, "aaaaaaaaaaaaaaaaaaaa", 21);
	memcpy(b.sha256_hex, "bbbbbbbbbbbbbbbbbbbb", 21);
	struct sluice_event_sink sink;
	struct sluice_event_ring *ring = sluice_event_ring_create(64);
	char err[512];
	cr_assert_eq(sluice_event_sink_open(&sink, path, &test_clock, err, sizeof(err)), 0, "%s",
		     err);
	/* Two seconds' worth, alternating packs, both rules. */
	static char want[16][2048];
	unsigned n = 0;
	for (uint64_t i = 0; i < 8; i++, n++) {
		struct sluice_event ev = ev_with_id(100 + i);
		ev.pack = i % 2 ? &b : &a;
		ev.rule = (uint32_t)(i % 2);
		ev.tsc = test_clock.tsc0 + i * 300000000ull; /* 0.3 s apart */
		ev.verdict = SLUICE_ACTION_MASK;
		sluice_event_format(&ev, NULL, &test_clock, want[n], sizeof(want[n]));
		cr_assert(sluice_event_ring_push(ring, &ev));
	}
	cr_assert_eq(sluice_event_sink_drain(&sink, ring, 100), 8);
	/* Pack a's address now holds another pack: its strings are not reused. */
	a = fake_pack("replacement", "2");
	memcpy(a.sha256_hex, "cccccccccccccccccccc", 21);
	struct sluice_event ev = ev_with_id(200);
	ev.pack = &a;
	sluice_event_format(&ev, NULL, &test_clock, want[n++], sizeof(want[0]));
	cr_assert(sluice_event_ring_push(ring, &ev));
	cr_assert_eq(sluice_event_sink_drain(&sink, ring, 100), 1);
	sluice_event_sink_close(&sink);

	char *text = read_text(path);
	const char *p = text;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(want[i]);
		cr_assert_eq(strncmp(p, want[i], len), 0, "line %u:\nwant %sgot  %.*s", i, want[i],
			     (int)len, p);
		p += len;
	}
	cr_assert_eq(*p, '\0');
	cr_assert_not_null(strstr(text, "\"pack\":\"replacement\""));
	cr_assert_not_null(strstr(text, "2023-11-14T22:13:21."), "the next second's date");
	free(text);
	sluice_event_ring_free(ring);
	free(path);
	ts_rmtree(dir);
	free(dir);
}

Test(event_sink, drain_writes_one_line_per_event_in_order)
{
	char *dir = ts_make_tmpdir("control");
	char *path = path_in(dir, "events.jsonl");
	struct sluice_pack pack = fake_pack("p", "1");
	struct sluice_event_sink sink;
	struct sluice_event_ring *ring = sluice_event_ring_create(16);
	struct sluice_event ev;
	char err[512];
	char *text;

	cr_assert_eq(sluice_event_sink_open(&sink, path, &test_clock, err, sizeof(err)), 0, "%s",
		     err);
	for (uint64_t i = 1; i <= 5; i++) {
		ev = ev_with_id(i);
		ev.pack = &pack;
		cr_assert(sluice_event_ring_push(ring, &ev));
	}
	cr_assert_eq(sluice_event_sink_drain(&sink, ring, 3), 3, "budget bounds a drain");
	cr_assert_eq(sluice_event_sink_drain(&sink, ring, 100), 2);
	cr_assert_eq(sink.written, 5);
	sluice_event_sink_close(&sink);
	text = read_text(path);
	cr_assert_eq(count_lines(text), 5);
	const char *p = text;
	for (int i = 1; i <= 5; i++) {
		char want[32];
		snprintf(want, sizeof(want), "\"msg_id\":%d,", i);
		p = strstr(p, want);
		cr_assert_not_null(p, "msg %d missing or out of order:\n%s", i, text);
	}
	free(text);
	sluice_event_ring_free(ring);
	free(path);
	ts_rmtree(dir);
	free(dir);
}

Test(event_sink, open_in_missing_directory_fails_with_path)
{
	struct sluice_event_sink sink;
	char err[512];

	cr_assert_eq(sluice_event_sink_open(&sink, "/nonexistent/dir/ev.jsonl", &test_clock, err,
					    sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "/nonexistent/dir/ev.jsonl: cannot open event file: No such file or "
			      "directory");
}

/* ---- ruleset registry ---- */

static unsigned drain_calls;
static void *drain_arg_seen;

static void count_drain(void *arg)
{
	drain_calls++;
	drain_arg_seen = arg;
}

static void registry_with_hooks(struct sluice_registry *reg, size_t keep)
{
	sluice_registry_init(reg, 2, keep);
	reg->loader = ts_pack_loader;
	drain_calls = 0;
	drain_arg_seen = NULL;
	reg->drain = count_drain;
	reg->hook_arg = reg;
}

static void load_ok(struct sluice_registry *reg, const char *path)
{
	char err[1024] = "";

	cr_assert_eq(sluice_registry_load_slot(reg, SLUICE_SLOT_MAIN, path, &test_actor, NULL, err,
					       sizeof(err)),
		     0, "%s: %s", path, err);
}

Test(registry, load_a_then_b_publishes_generations_in_order)
{
	struct sluice_registry reg;
	struct sluice_swap_report rep;
	char *a = default_rules(), *b = flag_rules();
	char err[1024] = "";
	const struct sluice_generation *gen;

	registry_with_hooks(&reg, 8);
	cr_assert_null(sluice_registry_current(&reg));

	/* The report is filled by the registry, whatever was in it. */
	memset(&rep, 0xff, sizeof(rep));
	double t0 = now_ms();
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, a, &test_actor, &rep, err,
					       sizeof(err)),
		     0, "%s", err);
	double wall = now_ms() - t0;
	gen = sluice_registry_current(&reg);
	cr_assert_not_null(gen);
	cr_assert_eq(gen->seq, 1);
	cr_assert_eq(rep.seq, 1);
	cr_assert_str_eq(gen->pack->name, "sluice-default");
	cr_assert_str_eq(gen->pack->version, "2026.11.23-1");
	cr_assert_eq(gen->pack->rule_count, 13);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].kept[0].pack, gen->pack);
	cr_assert_eq(drain_calls, 1);
	cr_assert_eq(drain_arg_seen, &reg);
	cr_assert_eq(reg.swaps, 1);
	cr_assert_eq(gen->worker_count, 2);
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[0]);
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[1]);
	cr_assert_neq(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[0],
		      gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[1], "one scratch per worker");
	cr_assert_gt(gen->slot[SLUICE_SLOT_MAIN].scratch->bytes, 0);
	cr_assert_gt(gen->loaded_at_ns, 1700000000ull * 1000000000ull);
	/* Compiling the rules takes time; the three phases happen within the call
	 * and one after another, so they fit in its wall time. */
	cr_assert_gt(rep.load_ms, 0.0);
	cr_assert_geq(rep.build_ms, 0.0);
	cr_assert_geq(rep.grace_ms, 0.0);
	cr_assert_leq(rep.load_ms + rep.build_ms + rep.grace_ms, wall, "%.3f + %.3f + %.3f > %.3f",
		      rep.load_ms, rep.build_ms, rep.grace_ms, wall);
	cr_assert_str_eq(rep.previous_version, "", "nothing was in force before");

	struct sluice_pack *pack_a = reg.slots[SLUICE_SLOT_MAIN].kept[0].pack;
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, b, &test_actor, &rep, err,
					       sizeof(err)),
		     0, "%s", err);
	gen = sluice_registry_current(&reg);
	cr_assert_eq(gen->seq, 2);
	cr_assert_eq(rep.seq, 2);
	cr_assert_str_eq(gen->pack->name, "sluice-flag-phones");
	cr_assert_str_eq(gen->pack->version, "2026.11.23-2");
	cr_assert_eq(gen->pack->rule_count, 2);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 2);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].kept[0].pack, gen->pack,
		     "history[0] is the active pack");
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].kept[1].pack, pack_a,
		     "the previous pack is kept for rollback");
	cr_assert_eq(drain_calls, 2, "drain once per swap");
	cr_assert_eq(reg.swaps, 2);
	cr_assert_eq(reg.refusals, 0);
	cr_assert_eq(gen->worker_count, 2);
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[0]);
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[1]);
	cr_assert_neq(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[0],
		      gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[1]);
	sluice_registry_destroy(&reg);
	cr_assert_null(sluice_registry_current(&reg));
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 0);
	free(a);
	free(b);
}

Test(registry, missing_file_is_refused_and_active_pack_stays)
{
	struct sluice_registry reg;
	char *a = default_rules();
	char err[1024] = "";
	const struct sluice_generation *before;

	registry_with_hooks(&reg, 8);
	load_ok(&reg, a);
	before = sluice_registry_current(&reg);
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, "/nonexistent/next.pack",
					       &test_actor, NULL, err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "/nonexistent/next.pack: cannot open: No such file or directory");
	cr_assert_eq(sluice_registry_current(&reg), before);
	cr_assert_eq(before->seq, 1);
	cr_assert_str_eq(before->pack->name, "sluice-default");
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1);
	cr_assert_eq(reg.refusals, 1);
	cr_assert_eq(reg.swaps, 1);
	cr_assert_eq(drain_calls, 1, "no swap, no drain");
	sluice_registry_destroy(&reg);
	free(a);
}

Test(registry, bad_rule_file_is_refused_naming_file_and_line)
{
	struct sluice_registry reg;
	char *a = default_rules();
	char *bad = ts_source_path("tests/data/rules/bad_action.yaml");
	char err[1024] = "", want[1200];
	const struct sluice_generation *before;

	registry_with_hooks(&reg, 8);
	load_ok(&reg, a);
	before = sluice_registry_current(&reg);
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, bad, &test_actor, NULL, err,
					       sizeof(err)),
		     -1);
	snprintf(want, sizeof(want),
		 "%s:4:13: rule wrong-action: unknown action 'delete'; valid actions are flag, "
		 "mask, block",
		 bad);
	cr_assert_str_eq(err, want);
	cr_assert_eq(sluice_registry_current(&reg), before);
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->name, "sluice-default");
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1);
	cr_assert_eq(reg.refusals, 1);
	sluice_registry_destroy(&reg);
	free(a);
	free(bad);
}

Test(registry, rollback_returns_to_a_and_keeps_b)
{
	struct sluice_registry reg;
	struct sluice_swap_report rep;
	char *a = default_rules(), *b = flag_rules();
	char err[1024] = "";

	registry_with_hooks(&reg, 8);
	load_ok(&reg, a);
	struct sluice_pack *pack_a = reg.slots[SLUICE_SLOT_MAIN].kept[0].pack;
	load_ok(&reg, b);
	memset(&rep, 0xff, sizeof(rep));
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &test_actor, &rep,
						   err, sizeof(err)),
		     0, "%s", err);
	const struct sluice_generation *gen = sluice_registry_current(&reg);
	cr_assert_eq(gen->pack, pack_a, "the very pack A is active again");
	cr_assert_str_eq(gen->pack->name, "sluice-default");
	cr_assert_eq(gen->seq, 3, "a rollback is a new publication");
	cr_assert_eq(rep.seq, 3);
	cr_assert_eq(rep.load_ms, 0.0, "nothing is loaded for a rollback");
	cr_assert_eq(rep.dropped, 0);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 2, "B stays kept, to roll forward to");
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].kept[1].pack, pack_a);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].current, 1);
	cr_assert_eq(drain_calls, 3);
	cr_assert_eq(reg.swaps, 3);
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[0]);
	cr_assert_not_null(gen->slot[SLUICE_SLOT_MAIN].scratch->scratch[1]);
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
}

Test(registry, rollback_with_one_pack_is_refused)
{
	struct sluice_registry reg;
	char *a = default_rules();
	char err[1024] = "";

	registry_with_hooks(&reg, 8);
	load_ok(&reg, a);
	const struct sluice_generation *before = sluice_registry_current(&reg);
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &test_actor, NULL,
						   err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "no earlier pack to roll back to (history holds 1)");
	cr_assert_eq(sluice_registry_current(&reg), before);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 1);
	cr_assert_eq(reg.refusals, 1);
	cr_assert_eq(drain_calls, 1);
	sluice_registry_destroy(&reg);
	free(a);
}

Test(registry, rollback_with_empty_history_is_refused)
{
	struct sluice_registry reg;
	char err[1024] = "";

	registry_with_hooks(&reg, 8);
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &test_actor, NULL,
						   err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "no earlier pack to roll back to (history holds 0)");
	cr_assert_null(sluice_registry_current(&reg));
	sluice_registry_destroy(&reg);
}

Test(registry, history_is_capped_at_keep)
{
	struct sluice_registry reg;
	char *a = default_rules(), *b = flag_rules();

	char *dir = ts_make_tmpdir("control");
	char *c = numbered_rules(dir, 3), *d = numbered_rules(dir, 4);
	registry_with_hooks(&reg, 3);
	cr_assert_eq(reg.keep, 3);
	load_ok(&reg, a);
	load_ok(&reg, b);
	load_ok(&reg, c);
	load_ok(&reg, d);
	load_ok(&reg, a);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 3);
	cr_assert_str_eq(reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->name, "sluice-default");
	cr_assert_str_eq(reg.slots[SLUICE_SLOT_MAIN].kept[1].pack->version, "4");
	cr_assert_str_eq(reg.slots[SLUICE_SLOT_MAIN].kept[2].pack->version, "3");
	cr_assert_eq(sluice_registry_current(&reg)->pack, reg.slots[SLUICE_SLOT_MAIN].kept[0].pack);
	cr_assert_eq(sluice_registry_current(&reg)->seq, 5);
	cr_assert_eq(drain_calls, 5);
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
	free(c);
	free(d);
	ts_rmtree(dir);
	free(dir);
}

Test(registry, keep_is_clamped_to_two_and_history_max)
{
	struct sluice_registry reg;

	sluice_registry_init(&reg, 1, 0);
	reg.loader = ts_pack_loader;
	cr_assert_eq(reg.keep, 2);
	sluice_registry_init(&reg, 1, 1);
	reg.loader = ts_pack_loader;
	cr_assert_eq(reg.keep, 2);
	sluice_registry_init(&reg, 1, 1000);
	reg.loader = ts_pack_loader;
	cr_assert_eq(reg.keep, SLUICE_HISTORY_MAX);
	cr_assert_eq(reg.next_seq, 1);
	cr_assert_eq(reg.worker_count, 1);
}

Test(registry, keep_two_drops_oldest_after_second_swap)
{
	struct sluice_registry reg;
	char *a = default_rules(), *b = flag_rules();
	char err[1024] = "";

	char *dir = ts_make_tmpdir("control");
	char *c = numbered_rules(dir, 3);
	registry_with_hooks(&reg, 2);
	load_ok(&reg, a);
	load_ok(&reg, b);
	load_ok(&reg, c);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 2);
	cr_assert_str_eq(reg.slots[SLUICE_SLOT_MAIN].kept[0].pack->name, "numbered");
	cr_assert_str_eq(reg.slots[SLUICE_SLOT_MAIN].kept[1].pack->name, "sluice-flag-phones");
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &test_actor, NULL,
						   err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->name, "sluice-flag-phones",
			 "pack A fell out of a history of 2");
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
	free(c);
	ts_rmtree(dir);
	free(dir);
}

static unsigned check_calls;

static bool refuse_workers(void *arg, char *err, size_t err_len)
{
	(void)arg;
	check_calls++;
	snprintf(err, err_len, "worker 1 (lcore 3) is stuck");
	return false;
}

static bool accept_workers(void *arg, char *err, size_t err_len)
{
	(void)arg;
	(void)err;
	(void)err_len;
	check_calls++;
	return true;
}

Test(registry, check_workers_refusal_stops_the_swap_with_its_message)
{
	struct sluice_registry reg;
	char *a = default_rules(), *b = flag_rules();
	char err[1024] = "";

	registry_with_hooks(&reg, 8);
	check_calls = 0;
	reg.check_workers = accept_workers;
	load_ok(&reg, a);
	load_ok(&reg, b);
	cr_assert_eq(check_calls, 2, "the hook is asked before every publication");
	const struct sluice_generation *before = sluice_registry_current(&reg);

	reg.check_workers = refuse_workers;
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, a, &test_actor, NULL, err,
					       sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "worker 1 (lcore 3) is stuck");
	cr_assert_eq(sluice_registry_current(&reg), before);
	cr_assert_str_eq(before->pack->name, "sluice-flag-phones");
	cr_assert_eq(before->seq, 2);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 2);
	cr_assert_eq(reg.refusals, 1);
	cr_assert_eq(drain_calls, 2);

	err[0] = '\0';
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &test_actor, NULL,
						   err, sizeof(err)),
		     -1);
	cr_assert_str_eq(err, "worker 1 (lcore 3) is stuck");
	cr_assert_eq(sluice_registry_current(&reg), before);
	cr_assert_eq(reg.slots[SLUICE_SLOT_MAIN].len, 2, "a refused rollback drops nothing");
	cr_assert_eq(reg.refusals, 2);
	cr_assert_eq(check_calls, 4);

	reg.check_workers = accept_workers;
	cr_assert_eq(sluice_registry_rollback_slot(&reg, SLUICE_SLOT_MAIN, NULL, &test_actor, NULL,
						   err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->name, "sluice-default");
	cr_assert_eq(sluice_registry_current(&reg)->seq, 3, "refusals use no sequence number");
	sluice_registry_destroy(&reg);
	free(a);
	free(b);
}

/* ---- control server ---- */

struct server {
	char *dir;
	char *sock;
	struct sluice_registry reg;
	struct sluice_worker_stats stats[2];
	struct sluice_event_ring *rings[2];
	struct sluice_control ctl;
};

static void server_start_at(struct server *s, const char *sock_name)
{
	char err[1024] = "";
	char *a = default_rules();

	memset(s, 0, sizeof(*s));
	s->dir = ts_make_tmpdir("control");
	s->sock = path_in(s->dir, sock_name);
	sluice_registry_init(&s->reg, 2, 8);
	s->reg.loader = ts_pack_loader;
	load_ok(&s->reg, a);
	free(a);
	s->ctl.registry = &s->reg;
	s->ctl.worker_count = 2;
	s->ctl.stall_ms = 60000;
	s->ctl.tsc_hz = 1000000000ull;
	for (unsigned w = 0; w < 2; w++) {
		s->rings[w] = sluice_event_ring_create(64);
		s->ctl.stats[w] = &s->stats[w];
		s->ctl.rings[w] = s->rings[w];
		s->ctl.lcores[w] = w + 1;
	}
	cr_assert_eq(sluice_control_open(&s->ctl, s->sock, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(s->ctl.listen_fd, 0);
	cr_assert_str_eq(s->ctl.socket_path, s->sock);
}

static void server_start(struct server *s)
{
	server_start_at(s, "ctl.sock");
}

static void server_stop(struct server *s)
{
	sluice_control_close(&s->ctl);
	sluice_registry_destroy(&s->reg);
	for (unsigned w = 0; w < 2; w++)
		sluice_event_ring_free(s->rings[w]);
	free(s->sock);
	ts_rmtree(s->dir);
	free(s->dir);
}

struct client {
	const char *path;
	const char *request;
	char *reply;
	char err[512];
	int rc;
	int done;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	c->rc = sluice_ctl_request(c->path, c->request, 5000, &c->reply, c->err, sizeof(c->err));
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Sends request from a client thread while this thread runs the control loop;
 * returns the reply (malloc'd). */
static char *request(struct server *s, const char *req)
{
	struct client c = {.path = s->sock, .request = req};
	pthread_t t;
	double deadline = now_ms() + 10000;

	cr_assert_eq(pthread_create(&t, NULL, client_main, &c), 0);
	while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE) && now_ms() < deadline)
		sluice_control_run_once(&s->ctl, 20);
	pthread_join(t, NULL);
	cr_assert_eq(c.rc, 0, "request '%s' failed: %s", req, c.err);
	cr_assert_not_null(c.reply);
	cr_assert_eq(c.reply[strlen(c.reply) - 1], '\n', "a reply is one line: %s", c.reply);
	return c.reply;
}

static void assert_has(const char *reply, const char *want)
{
	cr_assert_not_null(strstr(reply, want), "reply lacks %s:\n%s", want, reply);
}

Test(control_server, status_names_the_active_pack)
{
	struct server s;
	char want[256];

	server_start(&s);
	char *reply = request(&s, "status");
	const struct sluice_pack *pack = sluice_registry_current(&s.reg)->pack;

	cr_assert(is_hex64(pack->sha256_hex), "%s", pack->sha256_hex);
	snprintf(
	    want, sizeof(want),
	    "{\"ok\":true,\"active\":{\"name\":\"sluice-default\",\"version\":\"2026.11.23-1\","
	    "\"rules\":13,\"sha256\":\"%s\",",
	    pack->sha256_hex);
	assert_prefix(reply, want);
	assert_has(reply, "\"generation\":1,");
	assert_has(reply, "\"swaps\":1,\"refusals\":0,");
	assert_has(reply, "\"workers\":[{\"id\":0,\"lcore\":1,");
	assert_has(reply, "{\"id\":1,\"lcore\":2,");
	assert_has(reply, "\"stuck\":false}]}\n");
	free(reply);
	server_stop(&s);
}

Test(control_server, stats_reply_has_total_and_per_worker_counters)
{
	struct server s;

	server_start(&s);
	s.stats[0].rx_packets[0] = 10;
	s.stats[0].messages = 3;
	s.stats[0].verdicts[SLUICE_ACTION_MASK] = 1;
	s.stats[0].bad[SLUICE_BAD_MAGIC] = 2;
	s.stats[0].generation = 1;
	s.stats[1].rx_packets[0] = 5;
	s.stats[1].rx_packets[1] = 4;
	s.stats[1].messages = 4;
	s.stats[1].verdicts[SLUICE_ACTION_MASK] = 2;
	s.stats[1].other_forwarded = 6;
	s.stats[1].generation = 1;
	char *reply = request(&s, "stats");

	assert_prefix(reply, "{\"ok\":true,\"generation\":1,");
	assert_has(reply, "\"stats\":{\"total\":{\"rx_packets\":{\"a\":15,\"b\":4},");
	assert_has(reply, "\"other_forwarded\":6,");
	assert_has(reply, "\"messages\":7,");
	assert_has(reply, "\"verdicts\":{\"passed\":0,\"flagged\":0,\"masked\":3,\"blocked\":0}");
	assert_has(reply, "\"bad_input\":{\"truncated_header\":0,\"bad_magic\":2,");
	assert_has(reply, "\"workers\":[{\"rx_packets\":{\"a\":10,\"b\":0},");
	assert_has(reply, "},{\"rx_packets\":{\"a\":5,\"b\":4},");
	/* Per worker: 3 and 4 messages; the total's 7 is checked above. */
	const char *w = strstr(reply, "\"workers\":[");
	cr_assert_not_null(strstr(w, "\"messages\":3,"), "%s", reply);
	cr_assert_not_null(strstr(w, "\"messages\":4,"), "%s", reply);
	cr_assert_eq(strcmp(reply + strlen(reply) - 4, "]}}\n"), 0, "%s", reply);
	free(reply);
	server_stop(&s);
}

Test(control_server, reload_of_a_good_pack_swaps)
{
	struct server s;
	char *b = flag_rules();
	char err[1024] = "";
	struct sluice_pack *compiled = NULL;
	char req[1200], want[256];

	server_start(&s);
	char *pack_path = path_in(s.dir, "flag-phones.pack");
	cr_assert_eq(ts_pack_load(b, &compiled, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_pack_write(compiled, pack_path, err, sizeof(err)), 0, "%s", err);
	snprintf(req, sizeof(req), "reload %s", pack_path);

	char *reply = request(&s, req);
	snprintf(want, sizeof(want),
		 "{\"ok\":true,\"active\":{\"name\":\"sluice-flag-phones\",\"version\":"
		 "\"2026.11.23-2\",\"rules\":2,\"sha256\":\"%s\",",
		 compiled->sha256_hex);
	assert_prefix(reply, want);
	assert_has(reply, "\"generation\":2,");
	assert_has(reply, "\"grace_ms\":");
	free(reply);
	cr_assert_eq(sluice_registry_current(&s.reg)->seq, 2);
	cr_assert_str_eq(sluice_registry_current(&s.reg)->pack->source, pack_path);

	reply = request(&s, "status");
	assert_has(reply,
		   "\"active\":{\"name\":\"sluice-flag-phones\",\"version\":\"2026.11.23-2\"");
	assert_has(reply, "\"history\":[{\"name\":\"sluice-flag-phones\"");
	assert_has(reply, "},{\"name\":\"sluice-default\",\"version\":\"2026.11.23-1\"");
	assert_has(reply, "\"swaps\":2,");
	free(reply);

	reply = request(&s, "rollback");
	assert_prefix(reply, "{\"ok\":true,\"active\":{\"name\":\"sluice-default\",");
	assert_has(reply, "\"generation\":3,");
	free(reply);

	sluice_pack_free(compiled);
	free(pack_path);
	free(b);
	server_stop(&s);
}

Test(control_server, reload_of_a_missing_file_says_why)
{
	struct server s;
	char req[1200], want[1400];

	server_start(&s);
	char *missing = path_in(s.dir, "missing.pack");
	snprintf(req, sizeof(req), "reload %s", missing);
	char *reply = request(&s, req);

	snprintf(want, sizeof(want),
		 "{\"ok\":false,\"error\":\"%s: cannot open: No such file or directory\"}\n",
		 missing);
	cr_assert_str_eq(reply, want);
	free(reply);
	cr_assert_eq(sluice_registry_current(&s.reg)->seq, 1);
	reply = request(&s, "status");
	assert_has(reply, "\"version\":\"2026.11.23-1\"");
	assert_has(reply, "\"refusals\":1,");
	free(reply);
	free(missing);
	server_stop(&s);
}

Test(control_server, rollback_with_one_pack_replies_ok_false)
{
	struct server s;

	server_start(&s);
	char *reply = request(&s, "rollback");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"no earlier pack to roll back to "
				"(history holds 1)\"}\n");
	free(reply);
	server_stop(&s);
}

Test(control_server, unknown_command_replies_ok_false)
{
	struct server s;

	server_start(&s);
	char *reply = request(&s, "frobnicate");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"unknown request 'frobnicate' (status, "
				"stats, stats rules, reload [main|urgent] PATH, reload-check "
				"[main|urgent] PATH, rollback [main|urgent] [TARGET], rollforward "
				"[main|urgent] [TARGET], unload urgent, stop)\"}\n");
	free(reply);
	reply = request(&s, "reload");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"unknown request 'reload' (status, "
				"stats, stats rules, reload [main|urgent] PATH, reload-check "
				"[main|urgent] PATH, rollback [main|urgent] [TARGET], rollforward "
				"[main|urgent] [TARGET], unload urgent, stop)\"}\n");
	free(reply);
	/* Bytes that are not printable ASCII are not echoed: the reply stays
	 * UTF-8 JSON (found by fuzz_control). */
	reply = request(&s, "frob\xff\xfe\xe4\xbd");
	cr_assert_str_eq(reply,
			 "{\"ok\":false,\"error\":\"unknown request (not shown: it is not "
			 "printable ASCII) (status, stats, stats rules, reload "
			 "[main|urgent] PATH, reload-check [main|urgent] PATH, rollback "
			 "[main|urgent] [TARGET], rollforward [main|urgent] [TARGET], unload "
			 "urgent, stop)\"}\n");
	free(reply);
	server_stop(&s);
}

Test(control_server, stop_sets_stop_requested)
{
	struct server s;

	server_start(&s);
	cr_assert_eq(s.ctl.stop_requested, false);
	char *reply = request(&s, "stop");
	cr_assert_str_eq(reply, "{\"ok\":true,\"stopping\":true}\n");
	cr_assert_eq(s.ctl.stop_requested, true);
	free(reply);
	server_stop(&s);
}

Test(control_server, socket_file_has_mode_0660)
{
	struct server s;
	struct stat st;

	server_start(&s);
	cr_assert_eq(stat(s.sock, &st), 0, "%s", strerror(errno));
	cr_assert(S_ISSOCK(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0660, "mode %o", st.st_mode & 07777);
	sluice_control_close(&s.ctl);
	cr_assert_eq(stat(s.sock, &st), -1, "close removes the socket file");
	server_stop(&s);
}

Test(control_server, missing_socket_directory_is_created)
{
	struct server s;
	struct stat st;

	server_start_at(&s, "run/ctl.sock");
	cr_assert_eq(stat(s.sock, &st), 0);
	cr_assert(S_ISSOCK(st.st_mode));
	char *reply = request(&s, "status");
	assert_prefix(reply, "{\"ok\":true,");
	free(reply);
	server_stop(&s);
}

Test(control_server, stale_socket_file_is_replaced)
{
	char *dir = ts_make_tmpdir("control");
	char *sock = path_in(dir, "ctl.sock");
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;

	/* A socket file left behind by a process that died. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(addr.sun_path, sock);
	cr_assert_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0, "%s", strerror(errno));
	close(fd);
	cr_assert_eq(stat(sock, &st), 0);
	char err[512];
	char *reply = NULL;
	cr_assert_eq(sluice_ctl_request(sock, "status", 500, &reply, err, sizeof(err)), -1,
		     "nobody listens on the stale socket");

	struct server s;
	server_start(&s);
	/* Re-point the server fixture at the stale path. */
	sluice_control_close(&s.ctl);
	char open_err[1024] = "";
	cr_assert_eq(sluice_control_open(&s.ctl, sock, open_err, sizeof(open_err)), 0, "%s",
		     open_err);
	free(s.sock);
	s.sock = sock;
	reply = request(&s, "status");
	assert_prefix(reply, "{\"ok\":true,\"active\":{\"name\":\"sluice-default\"");
	free(reply);
	cr_assert_eq(stat(sock, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0660);
	server_stop(&s);
	ts_rmtree(dir);
	free(dir);
}

/* Connects a non-blocking client to the server's socket; -1 when the
 * listen backlog is full. */
static int connect_client(const struct server *s)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	strcpy(addr.sun_path, s->sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	cr_assert_geq(fd, 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Runs the control loop until fd has its whole reply (the server closes after
 * it) or deadline_ms passes; returns the reply. */
static char *collect_reply(struct server *s, int fd, double deadline_ms)
{
	static char buf[8192];
	size_t used = 0;
	while (now_ms() < deadline_ms) {
		sluice_control_run_once(&s->ctl, 10);
		ssize_t n = recv(fd, buf + used, sizeof(buf) - used - 1, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			used += (size_t)n;
	}
	buf[used] = '\0';
	return buf;
}

Test(control_server, silent_client_gets_an_error_after_a_second_without_holding_the_loop)
{
	struct server s;
	server_start(&s);
	int fd = connect_client(&s);
	cr_assert_geq(fd, 0);
	/* Connected, says nothing: a pass of the loop still ends on time. */
	double t0 = now_ms();
	sluice_control_run_once(&s.ctl, 50);
	double took = now_ms() - t0;
	cr_assert_lt(took, 500.0, "one pass waited %.0f ms for a silent client", took);

	char *buf = collect_reply(&s, fd, t0 + 3000);
	double answered = now_ms() - t0;
	close(fd);
	cr_assert_str_eq(buf,
			 "{\"ok\":false,\"error\":\"no complete request line within 1000 ms\"}\n");
	cr_assert_geq(answered, 900.0, "the silent client was cut off after %.0f ms", answered);
	cr_assert_eq(s.ctl.clients.counters.request_timeouts, 1);

	/* The server goes on serving. */
	char *reply = request(&s, "status");
	assert_prefix(reply, "{\"ok\":true,");
	free(reply);
	server_stop(&s);
}

/* The attack of issue 8: a client that closes before reading its reply
 * killed the daemon with SIGPIPE. With SIGPIPE at its default action here, a
 * server that still raised it would kill this test. */
Test(control_server, client_closing_before_its_reply_costs_nothing)
{
	struct server s;
	server_start(&s);
	signal(SIGPIPE, SIG_DFL);
	for (int i = 0; i < 50; i++) {
		int fd = connect_client(&s);
		cr_assert_geq(fd, 0);
		/* A reply larger than the socket buffer forces a second send. */
		const char *req = (i % 2) ? "stats rules\n" : "status\n";
		cr_assert_eq(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
		close(fd);
		sluice_control_run_once(&s.ctl, 5);
	}
	for (int i = 0; i < 20; i++)
		sluice_control_run_once(&s.ctl, 5);
	cr_assert_eq(s.ctl.clients.count, 0, "%u connections still held", s.ctl.clients.count);
	cr_assert_eq(s.ctl.clients.counters.accepted, 50);
	cr_assert_eq(s.ctl.clients.counters.served + s.ctl.clients.counters.vanished, 50);
	char *reply = request(&s, "status");
	assert_prefix(reply, "{\"ok\":true,");
	free(reply);
	server_stop(&s);
}

Test(control_server, request_written_in_pieces_is_served_when_whole)
{
	struct server s;
	server_start(&s);
	int fd = connect_client(&s);
	cr_assert_geq(fd, 0);
	cr_assert_eq(send(fd, "sta", 3, 0), 3);
	for (int i = 0; i < 10; i++)
		sluice_control_run_once(&s.ctl, 10);
	cr_assert_eq(s.ctl.clients.count, 1, "a half-written request is waited for");
	cr_assert_eq(send(fd, "tus\r\n", 5, 0), 5);
	char *buf = collect_reply(&s, fd, now_ms() + 3000);
	close(fd);
	assert_prefix(buf, "{\"ok\":true,\"active\":");
	cr_assert_eq(s.ctl.clients.counters.served, 1);
	server_stop(&s);
}

Test(control_server, huge_request_is_refused_and_the_connection_closed)
{
	struct server s;
	server_start(&s);
	int fd = connect_client(&s);
	cr_assert_geq(fd, 0);
	char big[6000];
	memset(big, 'x', sizeof(big));
	size_t put = 0;
	double deadline = now_ms() + 3000;
	while (put < sizeof(big) && now_ms() < deadline) {
		ssize_t n = send(fd, big + put, sizeof(big) - put, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0)
			put += (size_t)n;
		else if (n < 0 && errno != EAGAIN)
			break;
		sluice_control_run_once(&s.ctl, 5);
	}
	char *buf = collect_reply(&s, fd, now_ms() + 3000);
	close(fd);
	cr_assert_str_eq(buf, "{\"ok\":false,\"error\":\"request line longer than 4096 "
			      "bytes\"}\n");
	cr_assert_eq(s.ctl.clients.counters.bad_requests, 1);
	cr_assert_eq(s.ctl.clients.count, 0);
	server_stop(&s);
}

Test(control_server, request_with_a_nul_byte_is_refused)
{
	struct server s;
	server_start(&s);
	int fd = connect_client(&s);
	cr_assert_geq(fd, 0);
	/* "reload /a" would be handled if the line were cut at the NUL. */
	cr_assert_eq(send(fd, "stop\0 now\n", 10, 0), 10);
	char *buf = collect_reply(&s, fd, now_ms() + 3000);
	close(fd);
	cr_assert_str_eq(buf, "{\"ok\":false,\"error\":\"request line contains a NUL byte\"}\n");
	cr_assert_not(s.ctl.stop_requested);
	server_stop(&s);
}

/* Issue 8: 18 silent connections delayed a status by 18 s. A thousand of them
 * now cost a prompt client nothing: beyond the table's size the oldest idle
 * ones are closed to make room. */
Test(control_server, a_thousand_idle_connections_do_not_delay_a_prompt_client, .timeout = 60)
{
	struct rlimit rl;
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 1200 && rl.rlim_max >= 1200) {
		rl.rlim_cur = 1200;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	int idle_target = rl.rlim_cur >= 1200 ? 1000 : (int)rl.rlim_cur - 100;

	struct server s;
	server_start(&s);
	static int idle[1000];
	int held = 0;
	for (int tries = 0; held < idle_target && tries < 20 * idle_target; tries++) {
		int fd = connect_client(&s);
		if (fd >= 0)
			idle[held++] = fd;
		else
			sluice_control_run_once(&s.ctl, 0); /* backlog full: accept some */
	}
	cr_assert_eq(held, idle_target);
	/* Half of them have started a request and stopped. */
	for (int i = 0; i < held; i += 2)
		send(idle[i], "stat", 4, MSG_NOSIGNAL | MSG_DONTWAIT);
	sluice_control_run_once(&s.ctl, 0);

	double t0 = now_ms();
	char *reply = request(&s, "status");
	double took = now_ms() - t0;
	assert_prefix(reply, "{\"ok\":true,\"active\":");
	free(reply);
	/* Bounded far below a request timeout, so no idle client was waited for. */
	cr_assert_lt(took, 900.0, "status took %.0f ms behind %d idle connections", took, held);
	cr_assert_leq(s.ctl.clients.count, SLUICE_CTL_MAX_CLIENTS);
	cr_assert_geq(s.ctl.clients.counters.evicted, (uint64_t)(held - SLUICE_CTL_MAX_CLIENTS));
	for (int i = 0; i < held; i++)
		close(idle[i]);
	server_stop(&s);
}

/* Issue 8, finding 4: reloading a FIFO blocked the control thread forever
 * (status, stats, stop and event draining with it). */
Test(control_server, reload_of_a_fifo_is_refused_at_once, .timeout = 20)
{
	struct server s;
	char req[1024], want[1024];
	server_start(&s);
	char *fifo = path_in(s.dir, "rules.fifo");
	cr_assert_eq(mkfifo(fifo, 0600), 0, "%s", strerror(errno));
	snprintf(req, sizeof(req), "reload %s", fifo);
	char *reply = request(&s, req);
	snprintf(want, sizeof(want),
		 "{\"ok\":false,\"error\":\"%s: not a regular file (a FIFO)\"}\n", fifo);
	cr_assert_str_eq(reply, want);
	free(reply);
	/* Devices and directories, the same. */
	reply = request(&s, "reload /dev/zero");
	cr_assert_str_eq(reply, "{\"ok\":false,\"error\":\"/dev/zero: not a regular file (a "
				"character device)\"}\n");
	free(reply);
	reply = request(&s, "reload urgent /tmp");
	cr_assert_str_eq(reply,
			 "{\"ok\":false,\"error\":\"/tmp: not a regular file (a directory)\"}\n");
	free(reply);
	reply = request(&s, "status");
	assert_prefix(reply, "{\"ok\":true,\"active\":{\"name\":\"sluice-default\"");
	free(reply);
	free(fifo);
	server_stop(&s);
}

/* Issue 8, finding 5: a reload of /etc/shadow replied with its first line.
 * A file that is not a rule file is refused without any of its content. */
Test(control_server, refusing_a_file_that_is_not_rules_shows_none_of_it)
{
	struct server s;
	char req[1024];
	server_start(&s);
	static const char *const secrets[] = {
	    "root:$6$SECRETSALT$SECRETHASH:20228:0:99999:7:::\n"
	    "daemon:*:20228:0:99999:7:::\n",
	    "SECRETTOKEN=abc\nOTHER=def\n",
	    "SECRET_KEY: 1234\nSECRET_ID: 5678\n",
	};
	for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "secret%zu", i);
		char *path = path_in(s.dir, name);
		FILE *f = fopen(path, "w");
		cr_assert_not_null(f);
		fputs(secrets[i], f);
		fclose(f);
		chmod(path, 0600);
		snprintf(req, sizeof(req), "reload %s", path);
		char *reply = request(&s, req);
		assert_prefix(reply, "{\"ok\":false,\"error\":");
		cr_assert_null(strstr(reply, "SECRET"), "the refusal quotes the file: %s", reply);
		cr_assert_null(strstr(reply, "abc"), "the refusal quotes the file: %s", reply);
		free(reply);
		free(path);
	}
	server_stop(&s);
}

Test(control_server, run_once_drains_every_workers_events_into_the_sink)
{
	struct server s;
	struct sluice_event_sink sink;
	char err[512];

	server_start(&s);
	char *path = path_in(s.dir, "events.jsonl");
	cr_assert_eq(sluice_event_sink_open(&sink, path, &test_clock, err, sizeof(err)), 0, "%s",
		     err);
	s.ctl.sink = &sink;
	const struct sluice_pack *pack = sluice_registry_current(&s.reg)->pack;
	for (uint64_t i = 1; i <= 3; i++) {
		struct sluice_event ev = ev_with_id(i);
		ev.pack = pack;
		ev.worker = (uint16_t)(i % 2);
		ev.tsc = 1000;
		cr_assert(sluice_event_ring_push(s.rings[i % 2], &ev));
	}
	sluice_control_run_once(&s.ctl, 0);
	cr_assert_eq(sink.written, 3);
	char *text = read_text(path);
	cr_assert_eq(count_lines(text), 3, "%s", text);
	assert_has(text, "\"worker\":0,\"msg_id\":2,");
	assert_has(text, "\"worker\":1,\"msg_id\":1,");
	assert_has(text, "\"worker\":1,\"msg_id\":3,");
	assert_has(text, "\"pack\":\"sluice-default\"");
	free(text);
	s.ctl.sink = NULL;
	sluice_event_sink_close(&sink);
	free(path);
	server_stop(&s);
}

struct event_flood {
	struct sluice_event_ring *ring;
	const struct sluice_pack *pack;
	atomic_bool stop;
	atomic_uint_fast64_t pushed;
};

static void *flood_events(void *arg)
{
	struct event_flood *f = arg;
	struct sluice_event ev = ev_with_id(1);
	ev.pack = f->pack;
	while (!atomic_load(&f->stop)) {
		if (sluice_event_ring_push(f->ring, &ev))
			atomic_fetch_add(&f->pushed, 1);
	}
	return NULL;
}

/* Found by the fault-injection tests: a worker making events as fast as the
 * sink wrote them kept the control thread draining, and no client was served.
 * A pass now writes a bounded share and goes back to its clients. */
Test(control_server, clients_are_served_while_workers_flood_the_event_sink, .timeout = 60)
{
	struct server s;
	struct sluice_event_sink sink;
	char err[512];

	server_start(&s);
	sluice_event_ring_free(s.rings[0]);
	s.rings[0] = s.ctl.rings[0] = sluice_event_ring_create(1u << 16);
	char *path = path_in(s.dir, "events.jsonl");
	cr_assert_eq(sluice_event_sink_open(&sink, path, &test_clock, err, sizeof(err)), 0, "%s",
		     err);
	s.ctl.sink = &sink;
	struct event_flood flood = {.ring = s.rings[0],
				    .pack = sluice_registry_current(&s.reg)->pack};
	pthread_t t;
	pthread_create(&t, NULL, flood_events, &flood);
	/* The flood is on before the first request: on a busy machine the
	 * thread could start after all five were served (CI saw it). */
	for (double end = sluice_mono_s() + 10;
	     atomic_load(&flood.pushed) == 0 && sluice_mono_s() < end;)
		usleep(1000);
	cr_assert_gt(atomic_load(&flood.pushed), 0, "the flooding thread never pushed");
	for (int i = 0; i < 5; i++) {
		char *reply = request(&s, "status");
		assert_prefix(reply, "{\"ok\":true,");
		free(reply);
	}
	atomic_store(&flood.stop, true);
	pthread_join(t, NULL);
	cr_assert_gt(sink.written, 0);
	/* What was pushed and not dropped is written by a drain of what is there. */
	sluice_control_drain_pushed(&s.ctl);
	cr_assert_eq(sluice_event_ring_pending(s.rings[0]), 0);
	s.ctl.sink = NULL;
	sluice_event_sink_close(&sink);
	free(path);
	server_stop(&s);
}

/* ---- watchdog ---- */

Test(watchdog, worker_without_progress_for_stall_ms_is_named)
{
	static struct sluice_control ctl;
	struct sluice_worker_stats stats[2];
	char err[512] = "";

	memset(&ctl, 0, sizeof(ctl));
	memset(stats, 0, sizeof(stats));
	stats[1].iterations = 41; /* never changes */
	ctl.worker_count = 2;
	ctl.stall_ms = 50;
	ctl.stats[0] = &stats[0];
	ctl.stats[1] = &stats[1];
	ctl.lcores[0] = 4;
	ctl.lcores[1] = 7;
	cr_assert_eq(sluice_control_open(&ctl, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ctl.listen_fd, -1);

	stats[0].iterations++;
	cr_assert(sluice_control_check_workers(&ctl, err, sizeof(err)), "%s", err);
	sleep_ms(100);
	stats[0].iterations++; /* worker 0 keeps going */
	cr_assert_not(sluice_control_check_workers(&ctl, err, sizeof(err)));
	assert_prefix(err, "worker 1 (lcore 7) has not finished a loop for ");
	assert_has(err, " ms; refusing to swap, since the swap would wait for it (the running "
			"pack stays)");
	int ms = atoi(err + strlen("worker 1 (lcore 7) has not finished a loop for "));
	cr_assert_geq(ms, 90, "%s", err);
	cr_assert_lt(ms, 5000, "%s", err);
	cr_assert(ctl.stuck[1]);
	cr_assert_not(ctl.stuck[0]);

	stats[1].iterations++; /* it moves again */
	cr_assert(sluice_control_check_workers(&ctl, err, sizeof(err)), "%s", err);
	cr_assert_not(ctl.stuck[1]);
	sluice_control_close(&ctl);
}

Test(watchdog, stuck_worker_makes_the_registry_refuse_a_reload)
{
	static struct sluice_control ctl;
	struct sluice_worker_stats stats[1];
	struct sluice_registry reg;
	char *a = default_rules(), *b = flag_rules();
	char err[1024] = "";

	memset(&ctl, 0, sizeof(ctl));
	memset(stats, 0, sizeof(stats));
	ctl.worker_count = 1;
	ctl.stall_ms = 50;
	ctl.stats[0] = &stats[0];
	ctl.lcores[0] = 2;
	ctl.registry = &reg;
	cr_assert_eq(sluice_control_open(&ctl, NULL, err, sizeof(err)), 0, "%s", err);
	sluice_registry_init(&reg, 1, 8);
	reg.loader = ts_pack_loader;
	reg.check_workers = sluice_control_check_workers;
	reg.hook_arg = &ctl;
	/* The worker is moving while A loads (compiling may take longer than
	 * stall_ms), then stops. */
	stats[0].iterations = 1;
	load_ok(&reg, a);
	sleep_ms(100);
	cr_assert_eq(sluice_registry_load_slot(&reg, SLUICE_SLOT_MAIN, b, &test_actor, NULL, err,
					       sizeof(err)),
		     -1);
	assert_prefix(err, "worker 0 (lcore 2) has not finished a loop for ");
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->name, "sluice-default");
	cr_assert_eq(sluice_registry_current(&reg)->seq, 1);

	/* The same refusal through the control protocol's handler. */
	struct sluice_strbuf sb;
	char req[1200];
	snprintf(req, sizeof(req), "reload %s", b);
	sluice_strbuf_init(&sb);
	sluice_control_handle(&ctl, req, &sb);
	assert_prefix(sb.data,
		      "{\"ok\":false,\"error\":\"worker 0 (lcore 2) has not finished a loop "
		      "for ");
	sluice_strbuf_free(&sb);

	stats[0].iterations++;
	load_ok(&reg, b);
	cr_assert_str_eq(sluice_registry_current(&reg)->pack->name, "sluice-flag-phones");
	sluice_registry_destroy(&reg);
	sluice_control_close(&ctl);
	free(a);
	free(b);
}
