/* One decoder: `sluice-pack test --pcap` (the analysts' tool) and the sluice
 * daemon give the same verdict to every message of a capture, because both
 * read it with the wire library.
 *
 * The capture is the benchmark's corpus (sluice-gen from fortunes, with the
 * pack's own examples as violations), plus packets at the edges of the
 * decoder: QinQ, IPv6 behind many extension headers, three VLAN tags, an
 * over-long header chain, an IPv4 first fragment, a broken frame and a frame
 * that is not UTF-8. For every message sluice-pack reports, the daemon's
 * output and events must agree: blocked messages absent, flagged and masked
 * ones carrying their flag bit, passed ones untouched, every acting rule span
 * the same; datagrams sluice-pack says the gateway drops are dropped, for the
 * same reasons.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_value.h"
#include "test_support.h"
#include "wire_format.h"

#define MAX_ID	   (1u << 20)
#define CRAFTED_ID 900000u

struct daemon_view {
	uint8_t out_count[MAX_ID];
	uint8_t out_flags[MAX_ID];
	char *spans[MAX_ID]; /* "rule:from-to;" per match event, in order */
	uint8_t bad_event[MAX_ID];
};

static char *run_tool(char *const argv[], double timeout_s)
{
	char *out = NULL;
	int rc = ts_run(argv, timeout_s, &out);
	cr_assert(rc == 0 || rc == 1, "%s exited %d:\n%.2000s", argv[0], rc, out);
	return out;
}

static void append(char **s, const char *more)
{
	size_t a = *s ? strlen(*s) : 0, b = strlen(more);
	*s = realloc(*s, a + b + 1);
	memcpy(*s + a, more, b + 1);
}

/* Packets at the decoder's edges, each carrying one message with a phone
 * number (masked by the default packs) under ids from CRAFTED_ID. */
static void add_crafted(struct ts_capture *cap)
{
	static uint8_t bufs[8][512];
	struct sluice_wire_message m;
	size_t n = 0, len;
	cap->packets = realloc(cap->packets, (cap->count + 8) * sizeof(cap->packets[0]));

	/* QinQ: an 802.1ad tag in front of an 802.1Q one. */
	m = ts_msg(CRAFTED_ID + 0, "qinq 13812345678");
	len = ts_build_datagram(bufs[n], sizeof(bufs[n]), false, true, &m, 1);
	memmove(bufs[n] + 16, bufs[n] + 12, len - 12);
	sluice_be16_store(bufs[n] + 12, 0x88a8);
	sluice_be16_store(bufs[n] + 14, 3);
	cap->packets[cap->count++] = (struct ts_packet){bufs[n], len + 4};
	n++;

	/* Three tags: fails closed (vlan_depth). */
	m = ts_msg(CRAFTED_ID + 1, "three tags 13812345678");
	len = ts_build_datagram(bufs[n], sizeof(bufs[n]), false, true, &m, 1);
	for (int k = 0; k < 2; k++) {
		memmove(bufs[n] + 16, bufs[n] + 12, len - 12);
		sluice_be16_store(bufs[n] + 12, 0x9100);
		sluice_be16_store(bufs[n] + 14, 4);
		len += 4;
	}
	cap->packets[cap->count++] = (struct ts_packet){bufs[n], len};
	n++;

	/* IPv6 behind 12 and behind 17 destination-options headers. */
	for (unsigned headers = 12; headers <= 17; headers += 5) {
		m = ts_msg(CRAFTED_ID + 2 + headers / 17, "ipv6 chain 13812345678");
		len = ts_build_datagram(bufs[n], sizeof(bufs[n]), true, false, &m, 1);
		uint32_t add = 8 * headers;
		memmove(bufs[n] + 54 + add, bufs[n] + 54, len - 54);
		for (unsigned i = 0; i < headers; i++) {
			uint8_t *h = bufs[n] + 54 + 8 * i;
			memset(h, 0, 8);
			h[0] = i + 1 < headers ? 60 : 17;
			h[2] = 1;
			h[3] = 4;
		}
		bufs[n][20] = 60;
		sluice_be16_store(bufs[n] + 18, (uint16_t)(sluice_be16_load(bufs[n] + 18) + add));
		cap->packets[cap->count++] = (struct ts_packet){bufs[n], len + add};
		n++;
	}

	/* An IPv4 first fragment. */
	m = ts_msg(CRAFTED_ID + 4, "fragment 13812345678");
	len = ts_build_datagram(bufs[n], sizeof(bufs[n]), false, false, &m, 1);
	sluice_be16_store(bufs[n] + 20, 0x2000);
	cap->packets[cap->count++] = (struct ts_packet){bufs[n], len};
	n++;

	/* A broken frame (bad magic) after a good one. */
	struct sluice_wire_message two[2] = {ts_msg(CRAFTED_ID + 5, "good 13812345678"),
					     ts_msg(CRAFTED_ID + 6, "broken")};
	len = ts_build_datagram(bufs[n], sizeof(bufs[n]), false, false, two, 2);
	bufs[n][42 + 32 + 16] = 'X';
	cap->packets[cap->count++] = (struct ts_packet){bufs[n], len};
	n++;

	/* A frame that is not UTF-8 beside a good one: only it is dropped. */
	struct sluice_wire_message utf[2] = {ts_msg(CRAFTED_ID + 7, "fine 13812345678"),
					     ts_msg(CRAFTED_ID + 8, "bad \xff byte")};
	len = ts_build_datagram(bufs[n], sizeof(bufs[n]), false, false, utf, 2);
	cap->packets[cap->count++] = (struct ts_packet){bufs[n], len};
	n++;
	cr_assert_leq(n, 8);
}

static void read_daemon(struct daemon_view *d, const struct ts_offline_run *r)
{
	struct ts_capture out;
	cr_assert_eq(ts_pcap_read(r->out_b, &out), 0);
	for (size_t i = 0; i < out.count; i++) {
		struct ts_frame frames[256];
		int n = ts_frames_of(out.packets[i].data, out.packets[i].len,
				     SLUICE_WIRE_DEFAULT_PORT, frames, 256);
		for (int f = 0; f < n; f++) {
			cr_assert_lt(frames[f].msg_id, MAX_ID);
			d->out_count[frames[f].msg_id]++;
			d->out_flags[frames[f].msg_id] = frames[f].flags;
		}
	}
	ts_capture_free(&out);
	FILE *ev = fopen(r->events, "r");
	cr_assert_not_null(ev);
	char line[4096];
	while (fgets(line, sizeof(line), ev) != NULL) {
		struct sluice_json *j = sluice_json_parse(line);
		cr_assert_not_null(j, "%s", line);
		double id = sluice_json_num(j, "msg_id", -1);
		if (id >= 0 && id < MAX_ID) {
			if (strcmp(sluice_json_str(j, "event", ""), "match") == 0) {
				char span[256];
				snprintf(span, sizeof(span), "%s:%.0f-%.0f;",
					 sluice_json_str(j, "rule", "?"),
					 sluice_json_num(j, "from", -1),
					 sluice_json_num(j, "to", -1));
				append(&d->spans[(size_t)id], span);
			} else {
				d->bad_event[(size_t)id]++;
			}
		}
		sluice_json_free(j);
	}
	fclose(ev);
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "rule:from-to;" spans in a canonical order. */
static char *canonical(const char *spans)
{
	char *copy = strdup(spans ? spans : ""), *parts[256];
	size_t n = 0;
	for (char *t = strtok(copy, ";"); t != NULL && n < 256; t = strtok(NULL, ";"))
		parts[n++] = t;
	qsort(parts, n, sizeof(parts[0]), by_string);
	char *out = strdup("");
	for (size_t i = 0; i < n; i++) {
		append(&out, parts[i]);
		append(&out, ";");
	}
	free(copy);
	return out;
}

static void compare(const char *rules_rel, unsigned packets, unsigned *checked_out)
{
	struct ts_offline_run r;
	ts_offline_prepare(&r);
	char *rules = ts_source_path(rules_rel);
	char *pack_tool = ts_build_path("patterns/sluice-pack");
	char *gen = ts_build_path("dataplane/sluice-gen");
	char *pack_file, *examples, *corpus, *count;
	cr_assert_neq(asprintf(&pack_file, "%s/pack.pack", r.dir), -1);
	cr_assert_neq(asprintf(&examples, "%s/examples.txt", r.dir), -1);
	cr_assert_neq(asprintf(&corpus, "%s/corpus.pcap", r.dir), -1);
	cr_assert_neq(asprintf(&count, "%u", packets), -1);

	char *compile[] = {pack_tool, "compile", rules, "-o", pack_file, NULL};
	free(run_tool(compile, 300));
	char *ex[] = {pack_tool, "examples", "--acting", rules, NULL};
	char *ex_text = run_tool(ex, 120);
	FILE *f = fopen(examples, "w");
	fputs(ex_text, f);
	fclose(f);
	/* A pack without examples gets sluice-gen's own violations. */
	bool own = ex_text[0] != '\0';
	free(ex_text);
	char *gen_argv[] = {gen,      "-o", corpus,	    "-n", count,
			    "-s",     "7",  "--violations", "10", own ? "--violations-from" : NULL,
			    examples, NULL};
	free(run_tool(gen_argv, 120));

	struct ts_capture cap;
	cr_assert_eq(ts_pcap_read(corpus, &cap), 0);
	size_t generated = cap.count;
	add_crafted(&cap);
	cr_assert_eq(ts_pcap_write(r.in_a, cap.packets, cap.count), 0);
	cr_assert_eq(ts_pcap_write(r.in_b, NULL, 0), 0);
	cap.count = generated; /* the crafted packets are static */
	ts_capture_free(&cap);

	ts_offline_sluice(&r, pack_file, NULL);
	cr_assert_eq(r.rc, 0, "sluice failed:\n%s", r.output);
	struct daemon_view *d = calloc(1, sizeof(*d));
	read_daemon(d, &r);

	char *test_argv[] = {pack_tool, "test", pack_file, "--pcap", r.in_a, "--json", NULL};
	char *json = run_tool(test_argv, 300);
	struct sluice_json *doc = sluice_json_parse(json);
	cr_assert_not_null(doc, "sluice-pack test --json gave no JSON");
	const struct sluice_json *msgs = sluice_json_get(doc, "messages");
	cr_assert_not_null(msgs);
	unsigned verdicts[4] = {0}, invalid = 0;
	for (size_t i = 0; i < msgs->count; i++) {
		const struct sluice_json *m = msgs->items[i];
		size_t id = (size_t)sluice_json_num(m, "msg_id", -1);
		cr_assert_lt(id, MAX_ID);
		const char *verdict = sluice_json_str(m, "verdict", "?");
		uint8_t in_flags = (uint8_t)sluice_json_num(m, "flags", 0);
		if (!sluice_json_bool(m, "scanned", true)) {
			/* Not UTF-8: the gateway drops the frame with an event. */
			invalid++;
			cr_assert_eq(d->out_count[id], 0, "message %zu: invalid UTF-8 forwarded",
				     id);
			cr_assert_eq(d->bad_event[id], 1, "message %zu: no bad-input event", id);
			continue;
		}
		char *tool_spans = NULL;
		const struct sluice_json *matches = sluice_json_get(m, "matches");
		for (size_t k = 0; matches != NULL && k < matches->count; k++) {
			char span[256];
			snprintf(span, sizeof(span), "%s:%.0f-%.0f;",
				 sluice_json_str(matches->items[k], "rule", "?"),
				 sluice_json_num(matches->items[k], "from", -1),
				 sluice_json_num(matches->items[k], "to", -1));
			append(&tool_spans, span);
		}
		if (strcmp(verdict, "pass") == 0) {
			verdicts[0]++;
			cr_assert_eq(d->out_count[id], 1, "message %zu (pass) did not come out",
				     id);
			cr_assert_eq(d->out_flags[id], in_flags, "message %zu (pass) was changed",
				     id);
			cr_assert_null(d->spans[id], "message %zu (pass): events %s", id,
				       d->spans[id]);
		} else {
			bool block = strcmp(verdict, "block") == 0;
			uint8_t bit = strcmp(verdict, "flag") == 0   ? SLUICE_WIRE_FLAG_FLAGGED
				      : strcmp(verdict, "mask") == 0 ? SLUICE_WIRE_FLAG_MASKED
								     : 0;
			verdicts[block ? 3 : bit == SLUICE_WIRE_FLAG_FLAGGED ? 1 : 2]++;
			cr_assert_eq(d->out_count[id], block ? 0 : 1,
				     "message %zu (%s): out %u times", id, verdict,
				     d->out_count[id]);
			if (!block)
				cr_assert_eq(d->out_flags[id] & bit, bit,
					     "message %zu (%s): flags %u", id, verdict,
					     d->out_flags[id]);
			char *a = canonical(tool_spans), *b = canonical(d->spans[id]);
			cr_assert_str_eq(a, b, "message %zu (%s): sluice-pack %s, daemon %s", id,
					 verdict, a, b);
			free(a);
			free(b);
		}
		free(tool_spans);
	}
	/* Datagrams dropped whole, by reason. */
	const struct sluice_json *totals = sluice_json_get(doc, "totals");
	const struct sluice_json *reasons = sluice_json_get(totals, "dropped_by_reason");
	FILE *sf = fopen(r.summary, "r");
	cr_assert_not_null(sf);
	static char buf[65536];
	size_t got = fread(buf, 1, sizeof(buf) - 1, sf);
	buf[got] = '\0';
	fclose(sf);
	struct sluice_json *summary = sluice_json_parse(buf);
	cr_assert_not_null(summary);
	const struct sluice_json *total =
	    sluice_json_get(sluice_json_get(summary, "stats"), "total");
	const struct sluice_json *bad = sluice_json_get(total, "bad_input");
	for (size_t k = 0; reasons != NULL && k < reasons->count; k++)
		cr_assert_eq(sluice_json_num(bad, reasons->keys[k], -1), reasons->items[k]->number,
			     "reason %s: sluice-pack %.0f, daemon %.0f", reasons->keys[k],
			     reasons->items[k]->number, sluice_json_num(bad, reasons->keys[k], -1));
	/* Equal here because no datagram holds only invalid UTF-8 (sluice-pack
	 * reports such frames as messages it did not scan, not as drops). */
	cr_assert_eq(sluice_json_num(totals, "dropped_datagrams", -1),
		     sluice_json_num(total, "datagrams_dropped_bad", -2),
		     "datagrams dropped: sluice-pack %.0f, daemon %.0f",
		     sluice_json_num(totals, "dropped_datagrams", -1),
		     sluice_json_num(total, "datagrams_dropped_bad", -2));
	cr_assert_eq(sluice_json_num(bad, "invalid_utf8", -1), invalid);
	const struct sluice_json *v = sluice_json_get(total, "verdicts");
	cr_assert_eq(sluice_json_num(v, "passed", -1), verdicts[0]);
	cr_assert_eq(sluice_json_num(v, "flagged", -1), verdicts[1]);
	cr_assert_eq(sluice_json_num(v, "masked", -1), verdicts[2]);
	cr_assert_eq(sluice_json_num(v, "blocked", -1), verdicts[3]);
	cr_log_info("%s: %zu messages agree (%u pass, %u flag, %u mask, %u block, %u invalid "
		    "UTF-8)",
		    rules_rel, msgs->count, verdicts[0], verdicts[1], verdicts[2], verdicts[3],
		    invalid);
	*checked_out = (unsigned)msgs->count;

	/* The crafted packets took the paths they were made for. */
	cr_assert_eq(d->out_count[CRAFTED_ID + 0], 1, "QinQ message not forwarded");
	cr_assert_eq(d->out_flags[CRAFTED_ID + 0], SLUICE_WIRE_FLAG_MASKED);
	cr_assert_eq(d->out_flags[CRAFTED_ID + 2], SLUICE_WIRE_FLAG_MASKED, "12 headers");
	cr_assert_eq(d->out_count[CRAFTED_ID + 1] + d->out_count[CRAFTED_ID + 3], 0,
		     "what cannot be walked was forwarded");
	cr_assert_eq(sluice_json_num(bad, "vlan_depth", -1), 1);
	cr_assert_eq(sluice_json_num(bad, "ip_header_chain", -1), 1);

	sluice_json_free(summary);
	sluice_json_free(doc);
	free(json);
	for (size_t i = 0; i < MAX_ID; i++)
		free(d->spans[i]);
	free(d);
	free(rules);
	free(pack_tool);
	free(gen);
	free(pack_file);
	free(examples);
	free(corpus);
	free(count);
	ts_offline_free(&r);
}

Test(pcap_verdicts, sluice_pack_and_the_daemon_agree_on_every_message_default_rules, .timeout = 300)
{
	unsigned checked;
	compare("patterns/rules/default.yaml", 4000, &checked);
	cr_assert_gt(checked, 7000);
}

/* The benchmark's corpus and pack: 50,000 packets, the default packs. */
Test(pcap_verdicts_corpus, sluice_pack_and_the_daemon_agree_on_the_benchmark_corpus, .timeout = 900)
{
	unsigned checked;
	compare("patterns/packs/all.yaml", 50000, &checked);
	cr_assert_gt(checked, 90000);
}
