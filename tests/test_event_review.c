/* Events a reviewer can use (control/event_sink.h, dataplane/base/siphash.h):
 * the matched text's keyed hash, snippets, the sender's addresses, filters
 * and sampling with their counters, rotation by size and reopening after an
 * outside rotation. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "event_ring.h"
#include "event_sink.h"
#include "pack.h"
#include "rule_kind.h"
#include "siphash.h"
#include "test_support.h"

/* 1700000000 s = 2023-11-14T22:13:20Z; one TSC tick per nanosecond. */
static const struct sluice_tsc_clock test_clock = {
    .tsc0 = 1000, .ns0 = 1700000000ull * 1000000000ull, .hz = 1000000000ull};

static struct sluice_pack_rule rules[] = {
    {.id = "phone",
     .category = "contact",
     .action = SLUICE_ACTION_MASK,
     .severity = SLUICE_SEVERITY_HIGH},
    {.id = "casino",
     .category = "gambling",
     .action = SLUICE_ACTION_BLOCK,
     .severity = SLUICE_SEVERITY_CRITICAL},
    {.id = "chat-lure",
     .category = "contact",
     .action = SLUICE_ACTION_FLAG,
     .severity = SLUICE_SEVERITY_LOW},
    {.id = "rumour", .category = "misinformation", .action = SLUICE_ACTION_FLAG},
};

static struct sluice_pack test_pack(void)
{
	struct sluice_pack p;
	memset(&p, 0, sizeof(p));
	p.name = "review";
	p.version = "1";
	p.rule_count = sizeof(rules) / sizeof(rules[0]);
	p.rules = rules;
	memcpy(p.sha256_hex, "0123456789abcdef0123", 21);
	return p;
}

static struct sluice_event match(const struct sluice_pack *pack, uint32_t rule, uint64_t id)
{
	struct sluice_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.tsc = test_clock.tsc0;
	ev.kind = SLUICE_EVENT_MATCH;
	ev.pack = pack;
	ev.rule = rule;
	ev.msg_id = id;
	ev.verdict = (uint8_t)rules[rule].action;
	ev.has_ids = 1;
	return ev;
}

static char *read_text(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	FILE *mem = open_memstream(&text, &len);
	char buf[4096];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, mem);
	fclose(f);
	fclose(mem);
	return text;
}

static unsigned count_lines(const char *text)
{
	unsigned n = 0;
	for (const char *p = text; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

static unsigned count_of(const char *text, const char *what)
{
	unsigned n = 0;
	for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what))
		n++;
	return n;
}

struct fixture {
	char *dir, *path;
	struct sluice_event_sink sink;
	struct sluice_event_ring *ring;
	struct sluice_pack pack;
};

static void open_fixture(struct fixture *f, const struct sluice_event_filter *filter,
			 const struct sluice_event_rotation *rotation)
{
	char err[512];
	f->dir = ts_make_tmpdir("review");
	cr_assert_neq(asprintf(&f->path, "%s/events.jsonl", f->dir), -1);
	f->ring = sluice_event_ring_create(1024);
	cr_assert_not_null(f->ring);
	f->pack = test_pack();
	cr_assert_eq(sluice_event_sink_open(&f->sink, f->path, &test_clock, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(sluice_event_sink_configure(&f->sink, filter, rotation, err, sizeof(err)), 0,
		     "%s", err);
}

static void close_fixture(struct fixture *f)
{
	sluice_event_sink_close(&f->sink);
	sluice_event_ring_free(f->ring);
	ts_rmtree(f->dir);
	free(f->dir);
	free(f->path);
}

static void push(struct fixture *f, const struct sluice_event *ev)
{
	cr_assert(sluice_event_ring_push(f->ring, ev));
}

/* ---- the keyed hash ---- */

/* The reference vectors of SipHash-2-4 (Aumasson and Bernstein's paper and
 * vectors.h): key 00 01 .. 0f, messages 00 01 .. (n-1). */
Test(siphash, reference_vectors)
{
	const uint64_t key[2] = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};
	uint8_t msg[64];
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	cr_assert_eq(sluice_siphash24(key, msg, 0), 0x726fdb47dd0e0e31ull);
	cr_assert_eq(sluice_siphash24(key, msg, 1), 0x74f839c593dc67fdull);
	cr_assert_eq(sluice_siphash24(key, msg, 8), 0x93f5f5799a932462ull);
	cr_assert_eq(sluice_siphash24(key, msg, 15), 0xa129ca6149be45e5ull);
	cr_assert_eq(sluice_siphash24(key, msg, 63), 0x958a324ceb064572ull);
}

Test(siphash, key_is_32_hex_digits_and_nothing_else)
{
	uint64_t key[2] = {1, 1};
	cr_assert_eq(sluice_siphash_key_parse("000102030405060708090a0b0c0d0e0F\n", key), 0);
	cr_assert_eq(key[0], 0x0706050403020100ull);
	cr_assert_eq(key[1], 0x0f0e0d0c0b0a0908ull);
	cr_assert_eq(sluice_siphash_key_parse("  00112233445566778899aabbccddeeff  ", key), 0);
	cr_assert_eq(sluice_siphash_key_parse("000102030405060708090a0b0c0d0e0", key), -1,
		     "31 digits");
	cr_assert_eq(sluice_siphash_key_parse("000102030405060708090a0b0c0d0e0f0", key), -1,
		     "33 digits");
	cr_assert_eq(sluice_siphash_key_parse("000102030405060708090a0b0c0d0e0g", key), -1);
	cr_assert_eq(sluice_siphash_key_parse("00010203 0405060708090a0b0c0d0e0f", key), -1);
	cr_assert_eq(sluice_siphash_key_parse("", key), -1);
}

/* ---- a snippet rides in the slot after its event ---- */

Test(event_ring, a_pair_is_pushed_whole_or_not_at_all)
{
	struct sluice_event_ring *ring = sluice_event_ring_create(64);
	struct sluice_event ev, second, out;
	memset(&ev, 0, sizeof(ev));
	memset(&second, 0, sizeof(second));
	for (int i = 0; i < 63; i++)
		cr_assert(sluice_event_ring_push(ring, &ev));
	second.msg_id = 99;
	cr_assert_not(sluice_event_ring_push_pair(ring, &ev, &second), "one slot left");
	cr_assert_eq(sluice_event_ring_pending(ring), 63, "nothing half pushed");
	cr_assert(sluice_event_ring_pop(ring, &out));
	cr_assert(sluice_event_ring_push_pair(ring, &ev, &second));
	cr_assert_eq(sluice_event_ring_pending(ring), 64);
	for (int i = 0; i < 64; i++)
		cr_assert(sluice_event_ring_pop(ring, &out));
	cr_assert_eq(out.msg_id, 99, "the pair's second slot comes last");
	cr_assert_not(sluice_event_ring_pop(ring, &out));
	sluice_event_ring_free(ring);
}

Test(event_format, snippet_and_hash_are_written_escaped)
{
	struct sluice_pack pack = test_pack();
	struct sluice_event ev = match(&pack, 0, 7);
	union sluice_event_slot snippet;
	char line[2048];
	static const char text[] = "a\"b\\c\n微信\x01";

	memset(&snippet, 0, sizeof(snippet));
	memcpy(snippet.text, text, sizeof(text) - 1);
	ev.snippet_len = sizeof(text) - 1;
	ev.text_hash = 0xfedcba9876543210ull;
	sluice_event_format(&ev, snippet.text, &test_clock, line, sizeof(line));
	cr_assert_not_null(strstr(line, ",\"text_hash\":\"fedcba9876543210\","
					"\"snippet\":\"a\\\"b\\\\c\\n微信\\u0001\"}\n"),
			   "%s", line);
	cr_assert_not_null(strstr(line, "\"category\":\"contact\",\"severity\":\"high\","), "%s",
			   line);
}

Test(event_format, datagram_addresses_ipv4_with_ports_ipv6_without)
{
	struct sluice_pack pack = test_pack();
	struct sluice_event ev = match(&pack, 1, 8);
	char line[2048];

	ev.has_addr = ev.has_ports = 1;
	memcpy(ev.src, (uint8_t[4]){198, 18, 3, 4}, 4);
	memcpy(ev.dst, (uint8_t[4]){198, 19, 0, 1}, 4);
	ev.sport = 41000;
	ev.dport = 7700;
	sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	cr_assert_not_null(strstr(line,
				  "\"user_id\":0,\"src\":\"198.18.3.4\",\"sport\":41000,"
				  "\"dst\":\"198.19.0.1\",\"dport\":7700,\"rule\":\"casino\""),
			   "%s", line);
	cr_assert_null(strstr(line, "direction"), "a datagram has no direction: %s", line);

	memset(&ev, 0, sizeof(ev));
	ev.tsc = test_clock.tsc0;
	ev.kind = SLUICE_EVENT_BAD_INPUT;
	ev.pack = &pack;
	ev.has_addr = 1;
	ev.ipv6 = 1;
	ev.src[0] = 0x20, ev.src[1] = 0x01, ev.src[15] = 1;
	ev.dst[0] = 0x20, ev.dst[1] = 0x01, ev.dst[15] = 2;
	ev.has_mac = 1;
	memcpy(ev.src_mac, (uint8_t[6]){0x02, 0xab, 0, 0, 0, 0x1f}, 6);
	sluice_event_format(&ev, NULL, &test_clock, line, sizeof(line));
	cr_assert_not_null(strstr(line, "\"worker\":0,\"src\":\"2001::1\",\"dst\":\"2001::2\","
					"\"src_mac\":\"02:ab:00:00:00:1f\",\"reason\":"),
			   "%s", line);
	cr_assert_null(strstr(line, "sport"), "no ports were read: %s", line);
}

Test(event_sink, snippet_slot_is_popped_with_its_event_past_the_budget)
{
	struct fixture f;
	open_fixture(&f, NULL, NULL);
	struct sluice_event ev = match(&f.pack, 0, 1);
	union sluice_event_slot snippet;
	memset(&snippet, 0, sizeof(snippet));
	memcpy(snippet.text, "13812345678", 11);
	ev.snippet_len = 11;
	cr_assert(sluice_event_ring_push_pair(f.ring, &ev, &snippet.event));
	struct sluice_event plain = match(&f.pack, 1, 2);
	push(&f, &plain);
	cr_assert_eq(sluice_event_sink_drain(&f.sink, f.ring, 1), 2,
		     "the event and its snippet: one past a budget of 1");
	cr_assert_eq(sluice_event_sink_drain(&f.sink, f.ring, 1), 1);
	cr_assert_eq(f.sink.written, 2);
	sluice_event_sink_flush(&f.sink);
	char *text = read_text(f.path);
	cr_assert_eq(count_lines(text), 2);
	cr_assert_not_null(strstr(text, "\"msg_id\":1,"));
	cr_assert_not_null(strstr(text, "\"snippet\":\"13812345678\"}\n{"), "%s", text);
	cr_assert_eq(count_of(text, "snippet"), 1, "%s", text);
	free(text);
	close_fixture(&f);
}

/* ---- filters and sampling ---- */

/* Rules 0..3 (mask high, block critical, flag low, flag medium), twice
 * each, and a bad-input event; returns the file's text. */
static char *write_each_rule_twice(struct fixture *f)
{
	for (uint32_t r = 0; r < 4; r++)
		for (uint64_t k = 0; k < 2; k++) {
			struct sluice_event ev = match(&f->pack, r, 10 * r + k);
			push(f, &ev);
		}
	struct sluice_event bad;
	memset(&bad, 0, sizeof(bad));
	bad.kind = SLUICE_EVENT_BAD_INPUT;
	bad.pack = &f->pack;
	push(f, &bad);
	sluice_event_sink_drain(&f->sink, f->ring, 100);
	sluice_event_sink_flush(&f->sink);
	return read_text(f->path);
}

Test(event_filter, by_action_keeps_bad_input_and_counts_the_rest)
{
	struct fixture f;
	struct sluice_event_filter filter = {0};
	char why[256];
	cr_assert_eq(sluice_event_actions_parse("block,mask", &filter.actions, why, sizeof(why)),
		     0);
	open_fixture(&f, &filter, NULL);
	char *text = write_each_rule_twice(&f);
	cr_assert_eq(count_of(text, "\"rule\":\"phone\""), 2);
	cr_assert_eq(count_of(text, "\"rule\":\"casino\""), 2);
	cr_assert_eq(count_of(text, "\"action\":\"flag\""), 0, "%s", text);
	cr_assert_eq(count_of(text, "\"event\":\"bad_input\""), 1, "bad input is always written");
	cr_assert_eq(f.sink.written, 5);
	cr_assert_eq(f.sink.filtered, 4);
	cr_assert_eq(f.sink.sampled_out, 0);
	free(text);
	close_fixture(&f);
}

Test(event_filter, by_category_and_severity_together)
{
	struct fixture f;
	struct sluice_event_filter filter = {.categories = "contact,misinformation",
					     .min_severity = SLUICE_SEVERITY_MEDIUM};
	open_fixture(&f, &filter, NULL);
	char *text = write_each_rule_twice(&f);
	/* casino: wrong category; chat-lure: low; rumour: medium by default. */
	cr_assert_eq(count_of(text, "\"rule\":\"phone\""), 2, "%s", text);
	cr_assert_eq(count_of(text, "\"rule\":\"rumour\",\"category\":\"misinformation\","
				    "\"severity\":\"medium\""),
		     2, "%s", text);
	cr_assert_eq(count_of(text, "\"rule\":\"casino\""), 0);
	cr_assert_eq(count_of(text, "\"rule\":\"chat-lure\""), 0);
	cr_assert_eq(f.sink.filtered, 4);
	free(text);
	close_fixture(&f);
}

Test(event_filter, a_category_list_matches_whole_names_only)
{
	struct fixture f;
	struct sluice_event_filter filter = {.categories = "contac,gambling2"};
	open_fixture(&f, &filter, NULL);
	char *text = write_each_rule_twice(&f);
	cr_assert_eq(count_of(text, "\"event\":\"match\""), 0, "%s", text);
	cr_assert_eq(f.sink.filtered, 8);
	free(text);
	close_fixture(&f);
}

Test(event_filter, flag_events_are_sampled_per_rule_others_never)
{
	struct fixture f;
	struct sluice_event_filter filter = {.flag_sample = 3};
	open_fixture(&f, &filter, NULL);
	/* 10 events of each flag rule, interleaved, and 10 of a mask rule. */
	for (uint64_t k = 0; k < 10; k++)
		for (uint32_t r = 0; r < 4; r++) {
			if (r == 1)
				continue;
			struct sluice_event ev = match(&f.pack, r, 100 * r + k);
			push(&f, &ev);
		}
	sluice_event_sink_drain(&f.sink, f.ring, 100);
	sluice_event_sink_flush(&f.sink);
	char *text = read_text(f.path);
	cr_assert_eq(count_of(text, "\"rule\":\"phone\""), 10, "mask events are never sampled");
	/* The 1st, 4th, 7th and 10th of each flag rule. */
	for (uint64_t k = 0; k < 10; k++) {
		char want[64];
		snprintf(want, sizeof(want), "\"msg_id\":%llu,", (unsigned long long)(200 + k));
		cr_assert_eq(count_of(text, want), k % 3 == 0, "chat-lure event %llu: %s",
			     (unsigned long long)k, text);
		snprintf(want, sizeof(want), "\"msg_id\":%llu,", (unsigned long long)(300 + k));
		cr_assert_eq(count_of(text, want), k % 3 == 0, "rumour event %llu",
			     (unsigned long long)k);
	}
	cr_assert_eq(f.sink.written, 18);
	cr_assert_eq(f.sink.sampled_out, 12);
	cr_assert_eq(f.sink.filtered, 0);
	free(text);
	close_fixture(&f);
}

Test(event_filter, action_list_errors_name_the_word)
{
	unsigned bits = 7;
	char why[256];
	cr_assert_eq(sluice_event_actions_parse("flag", &bits, why, sizeof(why)), 0);
	cr_assert_eq(bits, 1u << SLUICE_ACTION_FLAG);
	cr_assert_eq(sluice_event_actions_parse("mask,allow", &bits, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "'allow' is not flag, mask or block");
	cr_assert_eq(sluice_event_actions_parse("none", &bits, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "'none' is not flag, mask or block");
	cr_assert_eq(sluice_event_actions_parse("flag,,mask", &bits, why, sizeof(why)), -1);
	cr_assert_str_eq(why, "expected a comma list of flag, mask, block");
	cr_assert_eq(sluice_event_actions_parse("", &bits, why, sizeof(why)), -1);
	cr_assert_eq(sluice_event_actions_parse("block,", &bits, why, sizeof(why)), -1);
}

/* ---- rotation and reopening ---- */

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

Test(event_rotation, files_stay_under_the_bound_and_only_keep_are_kept)
{
	struct fixture f;
	struct sluice_event_rotation rotation = {.max_bytes = 4096, .keep = 2};
	open_fixture(&f, NULL, &rotation);
	/* About 300 bytes a line; drained a few at a time as the control loop
	 * does, so that rotations fall between drains and inside them. */
	uint64_t id = 0;
	for (int round = 0; round < 20; round++) {
		for (int k = 0; k < 7; k++) {
			struct sluice_event ev = match(&f.pack, 0, ++id);
			push(&f, &ev);
		}
		sluice_event_sink_drain(&f.sink, f.ring, 100);
	}
	sluice_event_sink_flush(&f.sink);
	cr_assert_gt(f.sink.rotations, 2);
	char p1[512], p2[512], p3[512];
	snprintf(p1, sizeof(p1), "%s.1", f.path);
	snprintf(p2, sizeof(p2), "%s.2", f.path);
	snprintf(p3, sizeof(p3), "%s.3", f.path);
	cr_assert_leq(file_size(f.path), 4096);
	cr_assert_gt(file_size(p1), 2048, "a rotated file is nearly full");
	cr_assert_leq(file_size(p1), 4096);
	cr_assert_leq(file_size(p2), 4096);
	cr_assert_eq(file_size(p3), -1, "keep 2: no third file");
	/* The newest lines are in FILE, the ones before them in FILE.1: the
	 * last ids written, in order, with no line cut. */
	char *now = read_text(f.path), *before = read_text(p1), *older = read_text(p2);
	cr_assert_eq(f.sink.written, id);
	char want[64];
	snprintf(want, sizeof(want), "\"msg_id\":%llu,", (unsigned long long)id);
	cr_assert_not_null(strstr(now, want));
	unsigned lines = count_lines(now) + count_lines(before) + count_lines(older);
	for (uint64_t k = id - lines + 1; k <= id; k++) {
		snprintf(want, sizeof(want), "\"msg_id\":%llu,", (unsigned long long)k);
		cr_assert_eq(count_of(now, want) + count_of(before, want) + count_of(older, want),
			     1, "id %llu", (unsigned long long)k);
	}
	cr_assert_eq(now[strlen(now) - 1], '\n');
	cr_assert_eq(before[strlen(before) - 1], '\n');
	free(now);
	free(before);
	free(older);
	close_fixture(&f);
}

Test(event_rotation, reopen_after_an_outside_move_writes_to_the_new_file)
{
	struct fixture f;
	char err[512], moved[512];
	open_fixture(&f, NULL, NULL);
	struct sluice_event ev = match(&f.pack, 0, 1);
	push(&f, &ev);
	sluice_event_sink_drain(&f.sink, f.ring, 100);
	sluice_event_sink_flush(&f.sink);
	snprintf(moved, sizeof(moved), "%s.moved", f.path);
	cr_assert_eq(rename(f.path, moved), 0);
	ev = match(&f.pack, 0, 2);
	push(&f, &ev);
	/* Drained but not yet written when the reopen comes: it lands in the old file. */
	sluice_event_sink_drain(&f.sink, f.ring, 100);
	cr_assert_eq(sluice_event_sink_reopen(&f.sink, err, sizeof(err)), 0, "%s", err);
	ev = match(&f.pack, 0, 3);
	push(&f, &ev);
	sluice_event_sink_drain(&f.sink, f.ring, 100);
	sluice_event_sink_flush(&f.sink);
	char *old = read_text(moved), *now = read_text(f.path);
	cr_assert_eq(count_lines(old), 2);
	cr_assert_not_null(strstr(old, "\"msg_id\":2,"));
	cr_assert_eq(count_lines(now), 1);
	cr_assert_not_null(strstr(now, "\"msg_id\":3,"));
	cr_assert_eq(f.sink.reopens, 1);
	free(old);
	free(now);

	/* The directory gone: the old file stays in use, and the error says so. */
	char *gone = f.path;
	f.path = moved;
	free(f.sink.path);
	f.sink.path = strdup("/nonexistent/dir/events.jsonl");
	cr_assert_eq(sluice_event_sink_reopen(&f.sink, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "/nonexistent/dir/events.jsonl: cannot open event file"),
			   "%s", err);
	ev = match(&f.pack, 0, 4);
	push(&f, &ev);
	sluice_event_sink_drain(&f.sink, f.ring, 100);
	sluice_event_sink_flush(&f.sink);
	now = read_text(gone);
	cr_assert_not_null(strstr(now, "\"msg_id\":4,"), "still written: %s", now);
	cr_assert_eq(f.sink.reopens, 1);
	free(now);
	f.path = gone;
	close_fixture(&f);
}

Test(event_rotation, stdout_cannot_rotate)
{
	struct sluice_event_sink sink;
	struct sluice_event_rotation rotation = {.max_bytes = 1 << 20, .keep = 3};
	char err[512];
	cr_assert_eq(sluice_event_sink_open(&sink, "-", &test_clock, err, sizeof(err)), 0);
	cr_assert_eq(sluice_event_sink_configure(&sink, NULL, &rotation, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "events go to stdout: only a file can rotate");
	cr_assert_eq(sluice_event_sink_reopen(&sink, err, sizeof(err)), 0, "nothing to reopen");
	sluice_event_sink_close(&sink);
}
