/* The sluice daemon end to end: the real binary on two net_pcap ports in
 * --offline mode, checked packet by packet against outputs computed here from the
 * inputs, plus its events file, its --summary JSON and its exit status. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inet_checksum.h"
#include "nats_server.h"
#include "pack_sign.h"
#include "packet_build.h"
#include "test_support.h"
#include "wire_format.h"

#define MAX_PKTS 64
#define PKT_CAP	 16384

/* ---- packets ---- */

struct pkt_list {
	struct ts_packet p[MAX_PKTS];
	size_t n;
};

static void add_pkt(struct pkt_list *l, const uint8_t *data, size_t len)
{
	cr_assert_lt(l->n, MAX_PKTS);
	cr_assert_gt(len, 0, "packet %zu was not built", l->n);
	l->p[l->n].data = malloc(len);
	cr_assert_not_null(l->p[l->n].data);
	memcpy(l->p[l->n].data, data, len);
	l->p[l->n].len = len;
	l->n++;
}

static void free_pkts(struct pkt_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->p[i].data);
	l->n = 0;
}

static struct sluice_wire_message msg_flags(uint64_t id, const char *text, uint8_t flags)
{
	struct sluice_wire_message m = ts_msg(id, text);

	m.flags = flags;
	return m;
}

/* One datagram of msgs, IPv4 unless said otherwise, added to l. */
static void add_datagram(struct pkt_list *l, bool ipv6, bool vlan,
			 const struct sluice_wire_message *msgs, unsigned count)
{
	uint8_t buf[PKT_CAP];

	add_pkt(l, buf, ts_build_datagram(buf, sizeof(buf), ipv6, vlan, msgs, count));
}

/* A datagram with an arbitrary payload to the default endpoints and dst_port. */
static size_t build_udp(uint8_t *out, size_t cap, uint16_t dst_port, const uint8_t *payload,
			size_t len)
{
	struct sluice_endpoints ep;

	sluice_endpoints_default(&ep, false);
	ep.dst_port = dst_port;
	return sluice_udp_packet_build(out, cap, &ep, payload, len);
}

static size_t frame_of(uint8_t *out, size_t cap, uint64_t id, const char *text)
{
	struct sluice_wire_message m = ts_msg(id, text);

	return sluice_wire_frame_write(out, cap, &m);
}

/* An ARP request, padded to the Ethernet minimum. */
static size_t build_arp(uint8_t *out)
{
	static const uint8_t arp[42] = {
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06,
	    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01,
	    198,  18,	0,    1,    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 198,  18,   0,	  2};

	memset(out, 0, 60);
	memcpy(out, arp, sizeof(arp));
	return 60;
}

/* Text with the bytes of each needle (first occurrence) replaced by '*'. */
static char *masked(const char *text, const char *const *needles, unsigned count)
{
	char *out = strdup(text);

	for (unsigned i = 0; i < count; i++) {
		char *at = strstr(out, needles[i]);
		cr_assert_not_null(at, "'%s' not in '%s'", needles[i], text);
		memset(at, '*', strlen(needles[i]));
	}
	return out;
}

/* ---- the scenario: inputs and the outputs they must give ---- */

#define ID_V4	   1
#define ID_V6	   2
#define ID_VLAN	   3
#define ID_PHONE   4
#define ID_GAMBLE  5
#define ID_MULTI_A 6
#define ID_MULTI_B 7 /* blocked, inside a 3-frame datagram */
#define ID_MULTI_C 8
#define ID_FLAG	   9
#define ID_MAGIC   10
#define ID_VERSION 11
#define ID_TEXTLEN 12
#define ID_UTF8_A  13
#define ID_UTF8_B  14 /* invalid UTF-8 */
#define ID_UTF8_C  15
#define ID_FRAG	   16
#define ID_TWO	   17 /* two mask rules */

static const char T_V4[] = "hello world";
static const char T_V6[] = "你好，今天天气不错";
static const char T_VLAN[] = "see you tomorrow";
static const char T_PHONE[] = "call me 13812345678 tonight";
static const char T_GAMBLE[] = "join our online casino now";
static const char T_MULTI_A[] = "first clean";
static const char T_MULTI_B[] = "百家乐 open now";
static const char T_MULTI_C[] = "third clean";
static const char T_FLAG[] = "有问题私聊";
static const char T_UTF8_A[] = "valid one";
static const char T_UTF8_B[] = "bad \xff\xfe byte";
static const char T_UTF8_C[] = "valid two";
static const char T_TWO[] = "微信 abc12345 或 13912345678";

struct scenario {
	struct pkt_list in;
	struct pkt_list want; /* expected output, in order */
	const char *what[MAX_PKTS];
};

static void want_pkt(struct scenario *sc, const char *what, const uint8_t *data, size_t len)
{
	sc->what[sc->want.n] = what;
	add_pkt(&sc->want, data, len);
}

static void want_same(struct scenario *sc, const char *what)
{
	want_pkt(sc, what, sc->in.p[sc->in.n - 1].data, sc->in.p[sc->in.n - 1].len);
}

static void want_datagram(struct scenario *sc, const char *what, bool ipv6, bool vlan,
			  const struct sluice_wire_message *msgs, unsigned count)
{
	uint8_t buf[PKT_CAP];

	want_pkt(sc, what, buf, ts_build_datagram(buf, sizeof(buf), ipv6, vlan, msgs, count));
}

static void build_scenario(struct scenario *sc)
{
	uint8_t buf[PKT_CAP], payload[4096];
	size_t n, len;

	memset(sc, 0, sizeof(*sc));

	/* Clean messages pass byte for byte. */
	struct sluice_wire_message v4 = ts_msg(ID_V4, T_V4);
	add_datagram(&sc->in, false, false, &v4, 1);
	want_same(sc, "clean IPv4");
	struct sluice_wire_message v6 = ts_msg(ID_V6, T_V6);
	add_datagram(&sc->in, true, false, &v6, 1);
	want_same(sc, "clean IPv6");
	struct sluice_wire_message vl = ts_msg(ID_VLAN, T_VLAN);
	add_datagram(&sc->in, false, true, &vl, 1);
	want_same(sc, "clean VLAN");

	/* A phone number is masked in place and the masked bit set. */
	struct sluice_wire_message ph = ts_msg(ID_PHONE, T_PHONE);
	add_datagram(&sc->in, false, false, &ph, 1);
	static const char *const phone[] = {"13812345678"};
	char *ph_text = masked(T_PHONE, phone, 1);
	struct sluice_wire_message ph_out = msg_flags(ID_PHONE, ph_text, SLUICE_WIRE_FLAG_MASKED);
	want_datagram(sc, "masked phone", false, false, &ph_out, 1);
	free(ph_text);

	/* A gambling invitation alone: the datagram disappears. */
	struct sluice_wire_message gb = ts_msg(ID_GAMBLE, T_GAMBLE);
	add_datagram(&sc->in, false, false, &gb, 1);

	/* ... and inside three frames: only its frame goes. */
	struct sluice_wire_message three[3] = {ts_msg(ID_MULTI_A, T_MULTI_A),
					       ts_msg(ID_MULTI_B, T_MULTI_B),
					       ts_msg(ID_MULTI_C, T_MULTI_C)};
	add_datagram(&sc->in, false, false, three, 3);
	struct sluice_wire_message kept[2] = {three[0], three[2]};
	want_datagram(sc, "3 frames, middle blocked", false, false, kept, 2);

	/* A flag rule sets the flagged bit; the text is untouched. */
	struct sluice_wire_message fl = ts_msg(ID_FLAG, T_FLAG);
	add_datagram(&sc->in, false, false, &fl, 1);
	struct sluice_wire_message fl_out = msg_flags(ID_FLAG, T_FLAG, SLUICE_WIRE_FLAG_FLAGGED);
	want_datagram(sc, "flagged", false, false, &fl_out, 1);

	/* Not messages: forwarded untouched, even a blockable text to port 53. */
	add_pkt(&sc->in, buf, build_arp(buf));
	want_same(sc, "ARP");
	len = frame_of(payload, sizeof(payload), 99, T_GAMBLE);
	add_pkt(&sc->in, buf, build_udp(buf, sizeof(buf), 53, payload, len));
	want_same(sc, "UDP to port 53");

	/* Bad inputs: dropped by the default policy. */
	len = frame_of(payload, sizeof(payload), ID_MAGIC, "bad magic");
	payload[SLUICE_WIRE_OFF_MAGIC] = 'X';
	add_pkt(&sc->in, buf, build_udp(buf, sizeof(buf), 7700, payload, len));

	len = frame_of(payload, sizeof(payload), ID_VERSION, "bad version");
	payload[SLUICE_WIRE_OFF_VERSION] = 2;
	add_pkt(&sc->in, buf, build_udp(buf, sizeof(buf), 7700, payload, len));

	len = frame_of(payload, sizeof(payload), ID_TEXTLEN, "text length past the end");
	sluice_be16_store(payload + SLUICE_WIRE_OFF_TEXT_LEN,
			  (uint16_t)(len - SLUICE_WIRE_HEADER_LEN + 5));
	add_pkt(&sc->in, buf, build_udp(buf, sizeof(buf), 7700, payload, len));

	/* Invalid UTF-8 in the middle frame: that frame goes, the others stay. */
	struct sluice_wire_message utf[3] = {
	    ts_msg(ID_UTF8_A, T_UTF8_A), ts_msg(ID_UTF8_B, T_UTF8_B), ts_msg(ID_UTF8_C, T_UTF8_C)};
	add_datagram(&sc->in, false, false, utf, 3);
	struct sluice_wire_message utf_kept[2] = {utf[0], utf[2]};
	want_datagram(sc, "invalid UTF-8 frame removed", false, false, utf_kept, 2);

	/* The first fragment of a datagram to the message port. */
	struct sluice_wire_message fr = ts_msg(ID_FRAG, "fragment text");
	n = ts_build_datagram(buf, sizeof(buf), false, false, &fr, 1);
	buf[14 + 6] |= 0x20; /* more fragments */
	buf[14 + 10] = buf[14 + 11] = 0;
	sluice_be16_store(buf + 14 + 10, sluice_ipv4_header_checksum(buf + 14, 20));
	add_pkt(&sc->in, buf, n);

	/* Two mask rules in one message. */
	struct sluice_wire_message two = ts_msg(ID_TWO, T_TWO);
	add_datagram(&sc->in, false, false, &two, 1);
	static const char *const two_spans[] = {"微信 abc12345", "13912345678"};
	char *two_text = masked(T_TWO, two_spans, 2);
	struct sluice_wire_message two_out = msg_flags(ID_TWO, two_text, SLUICE_WIRE_FLAG_MASKED);
	want_datagram(sc, "two masked spans", false, false, &two_out, 1);
	free(two_text);
}

static void free_scenario(struct scenario *sc)
{
	free_pkts(&sc->in);
	free_pkts(&sc->want);
}

/* ---- running sluice ---- */

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	cr_assert_neq(asprintf(&p, "%s/%s", dir, name), -1);
	return p;
}

static void write_inputs(struct ts_offline_run *r, const struct pkt_list *a,
			 const struct pkt_list *b)
{
	cr_assert_eq(ts_pcap_write(r->in_a, a ? a->p : NULL, a ? a->n : 0), 0);
	cr_assert_eq(ts_pcap_write(r->in_b, b ? b->p : NULL, b ? b->n : 0), 0);
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

static void hexdump_diff(const struct ts_packet *got, const struct ts_packet *want)
{
	size_t n = got->len < want->len ? got->len : want->len;

	for (size_t i = 0; i < n; i++) {
		if (got->data[i] != want->data[i]) {
			fprintf(stderr, "first difference at byte %zu: got 0x%02x want 0x%02x\n", i,
				got->data[i], want->data[i]);
			return;
		}
	}
}

/* Checks out against the scenario's expected packets, one by one. */
static void check_output(const struct scenario *sc, const char *out_path)
{
	struct ts_capture cap;

	cr_assert_eq(ts_pcap_read(out_path, &cap), 0, "cannot read %s", out_path);
	for (size_t i = 0; i < cap.count && i < sc->want.n; i++) {
		const struct ts_packet *got = &cap.packets[i];
		const struct ts_packet *want = &sc->want.p[i];
		if (got->len != want->len || memcmp(got->data, want->data, got->len) != 0)
			hexdump_diff(got, want);
		cr_assert_eq(got->len, want->len, "packet %zu (%s): length %zu, want %zu", i,
			     sc->what[i], got->len, want->len);
		cr_assert_eq(memcmp(got->data, want->data, got->len), 0,
			     "packet %zu (%s) differs from the expected bytes", i, sc->what[i]);
		if (strcmp(sc->what[i], "ARP") != 0)
			cr_assert(ts_checksums_valid(got->data, got->len),
				  "packet %zu (%s): bad checksum", i, sc->what[i]);
	}
	cr_assert_eq(cap.count, sc->want.n, "%zu packets out, want %zu", cap.count, sc->want.n);
	ts_capture_free(&cap);
}

/* Frame-level view of the rewritten packets, for readable failures. */
static void check_frames(const char *out_path)
{
	struct ts_capture cap;
	struct ts_frame fr[4];

	cr_assert_eq(ts_pcap_read(out_path, &cap), 0);
	cr_assert_geq(cap.count, 10);
	/* 3: masked phone */
	cr_assert_eq(ts_frames_of(cap.packets[3].data, cap.packets[3].len, 7700, fr, 4), 1);
	cr_assert_eq(fr[0].msg_id, ID_PHONE);
	cr_assert_eq(fr[0].flags, SLUICE_WIRE_FLAG_MASKED);
	cr_assert_str_eq(fr[0].text, "call me *********** tonight");
	/* 4: the 3-frame datagram, frames 6 and 8 left */
	cr_assert_eq(ts_frames_of(cap.packets[4].data, cap.packets[4].len, 7700, fr, 4), 2);
	cr_assert_eq(fr[0].msg_id, ID_MULTI_A);
	cr_assert_str_eq(fr[0].text, T_MULTI_A);
	cr_assert_eq(fr[0].flags, 0);
	cr_assert_eq(fr[1].msg_id, ID_MULTI_C);
	cr_assert_str_eq(fr[1].text, T_MULTI_C);
	cr_assert_eq(fr[1].flags, 0);
	/* 5: flagged */
	cr_assert_eq(ts_frames_of(cap.packets[5].data, cap.packets[5].len, 7700, fr, 4), 1);
	cr_assert_eq(fr[0].msg_id, ID_FLAG);
	cr_assert_eq(fr[0].flags, SLUICE_WIRE_FLAG_FLAGGED);
	cr_assert_str_eq(fr[0].text, T_FLAG);
	/* 8: invalid UTF-8 frame removed */
	cr_assert_eq(ts_frames_of(cap.packets[8].data, cap.packets[8].len, 7700, fr, 4), 2);
	cr_assert_eq(fr[0].msg_id, ID_UTF8_A);
	cr_assert_eq(fr[1].msg_id, ID_UTF8_C);
	/* 9: two spans masked: 6 + 1 + 8 bytes, then 11 digits */
	cr_assert_eq(ts_frames_of(cap.packets[9].data, cap.packets[9].len, 7700, fr, 4), 1);
	cr_assert_eq(fr[0].msg_id, ID_TWO);
	cr_assert_eq(fr[0].flags, SLUICE_WIRE_FLAG_MASKED);
	cr_assert_str_eq(fr[0].text, "*************** 或 ***********");
	ts_capture_free(&cap);
}

/* Expected event lines, in order: each entry's fragments all occur in its line. */
struct want_line {
	const char *frags[8];
};

static const struct want_line scenario_events[] = {
    {{"\"event\":\"match\"", "\"msg_id\":4,", "\"rule\":\"phone-cn-mobile\"",
      "\"category\":\"contact\",\"severity\":\"medium\"", "\"verdict\":\"mask\"",
      "\"from\":8,\"to\":19,\"text_hash\":\"",
      "\"user_id\":5004,\"src\":\"198.18.0.1\",\"sport\":40000,\"dst\":\"198.18.0.2\","
      "\"dport\":7700,\"rule\""}},
    {{"\"event\":\"match\"", "\"msg_id\":5,", "\"rule\":\"gambling-invite\"",
      "\"category\":\"gambling\"", "\"verdict\":\"block\"",
      "\"from\":9,\"to\":22,\"text_hash\":\""}},
    {{"\"event\":\"match\"", "\"msg_id\":7,", "\"rule\":\"gambling-invite\"",
      "\"verdict\":\"block\"", "\"from\":0,\"to\":9,\"text_hash\":\""}},
    {{"\"event\":\"match\"", "\"msg_id\":9,", "\"rule\":\"private-chat-lure\"",
      "\"action\":\"flag\"", "\"verdict\":\"flag\"", "\"from\":9,\"to\":15,\"text_hash\":\""}},
    /* No frame header to read: the sender is what names it. */
    {{"\"event\":\"bad_input\"", "\"reason\":\"bad_magic\"", "\"policy\":\"drop\"",
      "\"src\":\"198.18.0.1\",\"sport\":40000,\"dst\":\"198.18.0.2\",\"dport\":7700,",
      "\"src_mac\":\""}},
    /* A whole header that starts like a frame names its message. */
    {{"\"event\":\"bad_input\"", "\"msg_id\":11,", "\"reason\":\"bad_version\"",
      "\"policy\":\"drop\""}},
    {{"\"event\":\"bad_input\"", "\"msg_id\":12,", "\"reason\":\"bad_text_length\"",
      "\"policy\":\"drop\""}},
    {{"\"event\":\"bad_input\"", "\"msg_id\":14,", "\"user_id\":5014,",
      "\"reason\":\"invalid_utf8\"", "\"policy\":\"drop\""}},
    {{"\"event\":\"bad_input\"", "\"reason\":\"ip_fragment\"", "\"policy\":\"drop\"",
      "\"src\":\"198.18.0.1\",", "\"src_mac\":\""}},
    {{"\"event\":\"match\"", "\"msg_id\":17,", "\"rule\":\"wechat-id-lure\"",
      "\"verdict\":\"mask\"", "\"from\":0,\"to\":15,\"text_hash\":\""}},
    {{"\"event\":\"match\"", "\"msg_id\":17,", "\"rule\":\"phone-cn-mobile\"",
      "\"verdict\":\"mask\"", "\"from\":20,\"to\":31,\"text_hash\":\""}},
};

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" */
static bool iso8601_ns(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddddddZ\"";

	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i])
			return false;
	}
	return true;
}

static void check_events(const char *path, const struct want_line *want, size_t count)
{
	char *text = read_text(path);
	char *save = NULL;
	size_t i = 0;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save), i++) {
		cr_assert_lt(i, count, "extra event line: %s", line);
		cr_assert_eq(strncmp(line, "{\"ts\":\"", 7), 0, "%s", line);
		cr_assert(iso8601_ns(line + 7), "ts is not ISO-8601 UTC with ns: %s", line);
		cr_assert_eq(line[strlen(line) - 1], '}', "%s", line);
		cr_assert_not_null(strstr(line, "\"pack\":\"sluice-default\",\"pack_version\":"
						"\"2026.11.23-1\""),
				   "%s", line);
		for (int f = 0; f < 8 && want[i].frags[f] != NULL; f++)
			cr_assert_not_null(strstr(line, want[i].frags[f]),
					   "event line %zu lacks %s: %s", i, want[i].frags[f],
					   line);
		/* Bad input with no readable frame header carries no ids. */
		if (strstr(line, "\"reason\":\"bad_magic\"") != NULL ||
		    strstr(line, "\"reason\":\"ip_fragment\"") != NULL)
			cr_assert_null(strstr(line, "msg_id"), "%s", line);
	}
	cr_assert_eq(i, count, "%zu event lines, want %zu", i, count);
	free(text);
}

/* The part of a summary or stats JSON between "total": and "workers":. */
static char *total_object(const char *json)
{
	const char *t = strstr(json, "\"total\":{");
	const char *w = t ? strstr(t, ",\"workers\":[") : NULL;

	cr_assert_not_null(w, "no total/workers in %s", json);
	return strndup(t, (size_t)(w - t));
}

static void assert_has(const char *text, const char *want)
{
	cr_assert_not_null(strstr(text, want), "lacks %s:\n%s", want, text);
}

#define SCENARIO_EVENTS (sizeof(scenario_events) / sizeof(scenario_events[0]))

/* ---- tests ---- */

static char *default_pack(const char *dir)
{
	char *pack = path_in(dir, "default.pack");
	char *yaml = ts_source_path("patterns/rules/default.yaml");
	char *tool = ts_build_path("patterns/sluice-pack");
	char *out = NULL;
	const char *argv[] = {tool, "compile", yaml, "-o", pack, NULL};

	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 0, "sluice-pack: %s", out);
	free(out);
	free(yaml);
	free(tool);
	return pack;
}

Test(daemon_pcap, a_to_b_applies_every_verdict_packet_by_packet, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;

	build_scenario(&sc);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	write_inputs(&r, &sc.in, NULL);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	cr_assert_lt(r.seconds, 60.0);
	check_output(&sc, r.out_b);
	check_frames(r.out_b);

	struct ts_capture back;
	cr_assert_eq(ts_pcap_read(r.out_a, &back), 0);
	cr_assert_eq(back.count, 0, "nothing came in on B, so nothing goes out on A");
	ts_capture_free(&back);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, events_file_has_one_line_per_rule_hit_and_per_bad_datagram, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;

	build_scenario(&sc);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	write_inputs(&r, &sc.in, NULL);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	check_events(r.events, scenario_events, SCENARIO_EVENTS);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, summary_json_counts_messages_verdicts_bad_input_and_other_traffic, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;

	build_scenario(&sc);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	write_inputs(&r, &sc.in, NULL);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);

	char *json = read_text(r.summary);
	assert_has(json, "{\"workers\":1,\"udp_port\":7700,\"events_written\":11,");
	assert_has(json, "\"pack\":\"sluice-default\",\"pack_version\":\"2026.11.23-1\","
			 "\"generation\":1,");
	char *total = total_object(json);
	assert_has(total, "\"rx_packets\":{\"a\":15,\"b\":0}");
	assert_has(total, "\"tx_packets\":{\"a\":0,\"b\":10}");
	assert_has(total, "\"tx_dropped\":{\"a\":0,\"b\":0}");
	assert_has(total, "\"other_forwarded\":2,");
	assert_has(total, "\"datagrams\":13,");
	assert_has(total, "\"datagrams_rewritten\":5,");
	/* Four datagrams dropped whole for bad input (magic, version, text length,
	 * fragment); the invalid UTF-8 frame left a message in its datagram. */
	assert_has(total, "\"datagrams_dropped_bad\":4,");
	assert_has(total, "\"messages\":12,");
	assert_has(total, "\"matches\":6,");
	assert_has(total, "\"verdicts\":{\"passed\":7,\"flagged\":1,\"masked\":2,\"blocked\":2}");
	assert_has(total, "\"bad_input\":{\"truncated_header\":0,\"bad_magic\":1,\"bad_version\":1,"
			  "\"bad_text_length\":1,\"trailing_bytes\":0,\"too_many_frames\":0,"
			  "\"empty_payload\":0,\"invalid_utf8\":1,\"ip_fragment\":1,"
			  "\"bad_ip_length\":0,\"multi_segment\":0,\"scan_error\":0,"
			  "\"vlan_depth\":0,\"ip_header_chain\":0,\"tcp_header\":0}");
	assert_has(total, "\"utf8_repaired\":0,\"match_overflow\":0,\"events_dropped\":0,");
	assert_has(total, "\"generation\":1,\"streams\":{");
	/* The readable summary says the same. */
	assert_has(r.output, "  other traffic   2 packets forwarded untouched\n");
	assert_has(r.output, "  masked          2\n");
	assert_has(r.output, "  bad input       5: bad_magic 1 (drop), bad_version 1 (drop), "
			     "bad_text_length 1 (drop), invalid_utf8 1 (drop), ip_fragment 1 "
			     "(drop)\n");
	free(total);
	free(json);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, b_to_a_is_scanned_the_same_way, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;

	build_scenario(&sc);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	write_inputs(&r, NULL, &sc.in);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	check_output(&sc, r.out_a);
	check_frames(r.out_a);
	check_events(r.events, scenario_events, SCENARIO_EVENTS);

	struct ts_capture other;
	cr_assert_eq(ts_pcap_read(r.out_b, &other), 0);
	cr_assert_eq(other.count, 0);
	ts_capture_free(&other);
	char *json = read_text(r.summary);
	char *total = total_object(json);
	assert_has(total, "\"rx_packets\":{\"a\":0,\"b\":15}");
	assert_has(total, "\"tx_packets\":{\"a\":10,\"b\":0}");
	assert_has(total, "\"verdicts\":{\"passed\":7,\"flagged\":1,\"masked\":2,\"blocked\":2}");
	free(total);
	free(json);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, both_directions_at_once_go_to_the_opposite_ports, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;
	struct pkt_list b = {0};

	build_scenario(&sc);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	/* B carries one clean and one phone message. */
	struct sluice_wire_message clean = ts_msg(50, "from the other side");
	struct sluice_wire_message phone = ts_msg(51, "ring 15912345678");
	add_datagram(&b, true, false, &clean, 1);
	add_datagram(&b, true, false, &phone, 1);
	write_inputs(&r, &sc.in, &b);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	check_output(&sc, r.out_b);

	struct ts_capture a_out;
	struct ts_frame fr[2];
	cr_assert_eq(ts_pcap_read(r.out_a, &a_out), 0);
	cr_assert_eq(a_out.count, 2);
	cr_assert_eq(a_out.packets[0].len, b.p[0].len);
	cr_assert_eq(memcmp(a_out.packets[0].data, b.p[0].data, b.p[0].len), 0);
	cr_assert_eq(ts_frames_of(a_out.packets[1].data, a_out.packets[1].len, 7700, fr, 2), 1);
	cr_assert_eq(fr[0].msg_id, 51);
	cr_assert_eq(fr[0].flags, SLUICE_WIRE_FLAG_MASKED);
	cr_assert_str_eq(fr[0].text, "ring ***********");
	cr_assert(ts_checksums_valid(a_out.packets[1].data, a_out.packets[1].len));
	ts_capture_free(&a_out);
	free_pkts(&b);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, policy_invalid_utf8_replace_forwards_the_repaired_frame, .timeout = 120)
{
	struct pkt_list in = {0};
	struct ts_offline_run r;
	struct ts_capture cap;
	uint8_t want[PKT_CAP];
	size_t want_len;
	static const char *const extra[] = {"--policy", "invalid_utf8=replace", NULL};

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	struct sluice_wire_message utf[3] = {
	    ts_msg(ID_UTF8_A, T_UTF8_A), ts_msg(ID_UTF8_B, T_UTF8_B), ts_msg(ID_UTF8_C, T_UTF8_C)};
	add_datagram(&in, false, false, utf, 3);
	/* The repaired text is what is scanned: the phone number is masked. */
	struct sluice_wire_message ph = ts_msg(18, "call\xff"
						   "13812345678");
	add_datagram(&in, true, false, &ph, 1);
	write_inputs(&r, &in, NULL);
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);

	cr_assert_eq(ts_pcap_read(r.out_b, &cap), 0);
	cr_assert_eq(cap.count, 2);
	struct sluice_wire_message fixed[3] = {utf[0], ts_msg(ID_UTF8_B, "bad ?? byte"), utf[2]};
	want_len = ts_build_datagram(want, sizeof(want), false, false, fixed, 3);
	cr_assert_eq(cap.packets[0].len, want_len);
	cr_assert_eq(memcmp(cap.packets[0].data, want, want_len), 0);
	cr_assert(ts_checksums_valid(cap.packets[0].data, cap.packets[0].len));
	struct sluice_wire_message ph_out =
	    msg_flags(18, "call?***********", SLUICE_WIRE_FLAG_MASKED);
	want_len = ts_build_datagram(want, sizeof(want), true, false, &ph_out, 1);
	cr_assert_eq(cap.packets[1].len, want_len);
	cr_assert_eq(memcmp(cap.packets[1].data, want, want_len), 0);
	cr_assert(ts_checksums_valid(cap.packets[1].data, cap.packets[1].len));
	ts_capture_free(&cap);

	static const struct want_line events[] = {
	    {{"\"event\":\"bad_input\"", "\"msg_id\":14,", "\"reason\":\"invalid_utf8\"",
	      "\"policy\":\"replace\""}},
	    {{"\"event\":\"bad_input\"", "\"msg_id\":18,", "\"reason\":\"invalid_utf8\"",
	      "\"policy\":\"replace\""}},
	    {{"\"event\":\"match\"", "\"msg_id\":18,", "\"rule\":\"phone-cn-mobile\"",
	      "\"from\":5,\"to\":16,\"text_hash\":\""}},
	};
	check_events(r.events, events, 3);

	char *json = read_text(r.summary);
	char *total = total_object(json);
	assert_has(total, "\"messages\":4,");
	assert_has(total, "\"verdicts\":{\"passed\":3,\"flagged\":0,\"masked\":1,\"blocked\":0}");
	assert_has(total, "\"invalid_utf8\":2,");
	assert_has(total, "\"utf8_repaired\":2,");
	free(total);
	free(json);
	free_pkts(&in);
	free(pack);
	ts_offline_free(&r);
}

Test(daemon_pcap, policy_drop_quiet_drops_without_events, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;
	static const char *const extra[] = {"--policy", "all=drop-quiet", NULL};

	build_scenario(&sc);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	write_inputs(&r, &sc.in, NULL);
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	check_output(&sc, r.out_b);
	/* Only the match lines are left. */
	static const struct want_line matches_only[] = {
	    scenario_events[0], scenario_events[1], scenario_events[2],
	    scenario_events[3], scenario_events[9], scenario_events[10],
	};
	check_events(r.events, matches_only, 6);
	char *json = read_text(r.summary);
	char *total = total_object(json);
	assert_has(total, "\"bad_magic\":1,\"bad_version\":1,\"bad_text_length\":1,");
	assert_has(total, "\"invalid_utf8\":1,\"ip_fragment\":1,");
	free(total);
	free(json);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, yaml_rule_file_works_the_same_as_its_pack, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;
	char *yaml = ts_source_path("patterns/rules/default.yaml");

	build_scenario(&sc);
	ts_offline_prepare(&r);
	write_inputs(&r, &sc.in, NULL);
	ts_offline_sluice(&r, yaml, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	check_output(&sc, r.out_b);
	check_frames(r.out_b);
	check_events(r.events, scenario_events, SCENARIO_EVENTS);
	char *json = read_text(r.summary);
	assert_has(json, "\"pack\":\"sluice-default\",\"pack_version\":\"2026.11.23-1\",");
	free(json);
	free(yaml);
	ts_offline_free(&r);
	free_scenario(&sc);
}

Test(daemon_pcap, rule_file_with_an_error_exits_nonzero_naming_file_and_line, .timeout = 120)
{
	struct ts_offline_run r;
	struct pkt_list in = {0};
	char want[1200];

	ts_offline_prepare(&r);
	char *bad = path_in(r.dir, "broken.yaml");
	FILE *f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("name: broken\n"
	      "rules:\n"
	      "  - id: fine-rule\n"
	      "    pattern: abc\n"
	      "    action: flag\n"
	      "    category: test\n"
	      "  - id: broken-rule\n"
	      "    pattern: xyz\n"
	      "    action: explode\n"
	      "    category: test\n",
	      f);
	fclose(f);
	struct sluice_wire_message m = ts_msg(1, "hello");
	add_datagram(&in, false, false, &m, 1);
	write_inputs(&r, &in, NULL);
	ts_offline_sluice(&r, bad, NULL);
	cr_assert_eq(r.rc, 1, "sluice exited %d (want 1, -1 is a crash or timeout):\n%s", r.rc,
		     r.output);
	snprintf(want, sizeof(want),
		 "sluice: %s:9:13: rule broken-rule: unknown action 'explode'; valid actions are "
		 "flag, mask, block\n",
		 bad);
	assert_has(r.output, want);
	cr_assert_null(strstr(r.output, "Sluice summary"), "no summary without a start");
	struct stat st;
	cr_assert_neq(stat(r.summary, &st), 0, "no summary file after a failed start");
	free(bad);
	free_pkts(&in);
	ts_offline_free(&r);
}

Test(daemon_pcap, missing_rule_file_exits_nonzero_naming_it, .timeout = 120)
{
	struct ts_offline_run r;
	char want[1200];

	ts_offline_prepare(&r);
	char *missing = path_in(r.dir, "nope.pack");
	write_inputs(&r, NULL, NULL);
	ts_offline_sluice(&r, missing, NULL);
	cr_assert_eq(r.rc, 1, "sluice exited %d:\n%s", r.rc, r.output);
	snprintf(want, sizeof(want), "sluice: %s: cannot open: No such file or directory\n",
		 missing);
	assert_has(r.output, want);
	free(missing);
	ts_offline_free(&r);
}

Test(daemon_pcap, help_exits_zero_and_mentions_rules_and_offline)
{
	char *exe = ts_build_path("dataplane/sluice");
	char *out = NULL;
	const char *argv[] = {exe, "--help", NULL};

	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 0, "%s", out);
	assert_has(out, "usage: ");
	assert_has(out, "--rules FILE");
	assert_has(out, "--offline");
	assert_has(out, "--policy REASON=ACTION");
	free(out);
	free(exe);
}

/* Sluice options before "--": a sentence saying so, not DPDK's whole usage. */
Test(daemon_pcap, a_sluice_option_before_the_separator_is_named_without_starting_dpdk)
{
	char *exe = ts_build_path("dataplane/sluice");
	char *out = NULL;
	const char *argv[] = {exe, "--no-huge", "-m", "256", "--rules", "x.yaml", NULL};

	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 2, "%s", out);
	assert_has(out, "sluice: '--rules' is a Sluice option, but it comes without a '--' before "
			"it: EAL options go first, then '--', then Sluice's");
	cr_assert(strstr(out, "EAL:") == NULL, "DPDK was started:\n%s", out);
	free(out);
	free(exe);
}

/* Without hugepages and without --no-huge, the EAL's "Permission denied"
 * comes with what to do. Only where no hugepage is free (as on CI). */
Test(daemon_pcap, no_hugepages_gets_advice_after_the_eal_error)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long free_pages = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "HugePages_Free: %ld", &free_pages) == 1)
			break;
	if (f != NULL)
		fclose(f);
	if (free_pages != 0)
		cr_skip_test("this machine has hugepages free (%ld)", free_pages);
	char *exe = ts_build_path("dataplane/sluice");
	char *out = NULL, prefix[32];
	snprintf(prefix, sizeof(prefix), "huge%d", (int)getpid());
	const char *argv[] = {
	    exe,       "-l",	 "0",	      "--no-pci", "--no-shconf", "--file-prefix",
	    prefix,    "--vdev", "net_null0", "--vdev",	  "net_null1",	 "--",
	    "--rules", "x.yaml", NULL};

	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 1, "%s", out);
	assert_has(out, "sluice: EAL initialisation failed:");
	assert_has(out,
		   "sluice: no hugepages are free: reserve some (as root: deploy/hugepages.sh");
	assert_has(out, "--no-huge -m 512 before '--'");
	free(out);
	free(exe);
}

/* --check-config names the metrics endpoint, and refuses an address that is
 * not one before DPDK starts. */
Test(daemon_pcap, check_config_shows_the_metrics_endpoint_and_refuses_a_bad_address, .timeout = 120)
{
	char *exe = ts_build_path("dataplane/sluice");
	char *rules = ts_source_path("patterns/rules/default.yaml");
	char *out = NULL;
	const char *ok[] = {exe,
			    "--check-config",
			    "--rules",
			    rules,
			    "--events",
			    "/dev/null",
			    "--metrics-listen",
			    "[::1]:9470",
			    "--metrics-rule-limit",
			    "50",
			    NULL};
	cr_assert_eq(ts_run((char *const *)ok, 60, &out), 0, "%s", out);
	assert_has(out, "metrics: http://[::1]:9470/metrics (at most 50 rule series)\n");
	free(out);
	const char *bad[] = {exe,	  "--check-config",   "--rules",	  rules, "--events",
			     "/dev/null", "--metrics-listen", "example.net:9470", NULL};
	cr_assert_eq(ts_run((char *const *)bad, 60, &out), 2, "%s", out);
	assert_has(out,
		   "--metrics-listen 'example.net:9470': 'example.net' is not an IPv4 address");
	cr_assert(strstr(out, "EAL:") == NULL, "DPDK was started:\n%s", out);
	free(out);
	free(rules);
	free(exe);
}

/* --check-config: packs, paths and options checked without DPDK; nothing is
 * written. */
Test(daemon_pcap, check_config_loads_the_packs_and_checks_paths_without_dpdk, .timeout = 120)
{
	char *exe = ts_build_path("dataplane/sluice");
	char *rules = ts_source_path("patterns/rules/default.yaml");
	char *dir = ts_make_tmpdir("checkcfg");
	char events[512], conf[512], missing[512];
	char *out = NULL;
	snprintf(events, sizeof(events), "%s/events.jsonl", dir);
	snprintf(missing, sizeof(missing), "%s/no-such-dir/events.jsonl", dir);
	const char *ok[] = {exe, "--check-config", "--rules", rules, "--events", events, NULL};

	cr_assert_eq(ts_run((char *const *)ok, 60, &out), 0, "%s", out);
	assert_has(out, "main pack: sluice-default ");
	assert_has(out, "config ok");
	cr_assert(strstr(out, "EAL:") == NULL, "DPDK was started:\n%s", out);
	cr_assert_neq(access(events, F_OK), 0, "the events file was created");
	free(out);

	const char *bad_path[] = {exe,	      "--check-config", "--rules", rules,
				  "--events", missing,		NULL};
	cr_assert_eq(ts_run((char *const *)bad_path, 60, &out), 2, "%s", out);
	assert_has(out, "sluice: check-config: events file ");
	assert_has(out, "no-such-dir cannot be written");
	free(out);

	snprintf(conf, sizeof(conf), "%s/sluice.conf", dir);
	FILE *f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "rules = %s\nhistroy = 3\n", rules);
	fclose(f);
	const char *typo[] = {exe, "--check-config", "--config", conf, NULL};
	cr_assert_eq(ts_run((char *const *)typo, 60, &out), 2, "%s", out);
	assert_has(out, "unknown option 'histroy' (did you mean 'history'?)");
	free(out);

	f = fopen(conf, "w");
	cr_assert_not_null(f);
	fprintf(f, "rules = %s/bad.yaml\n", dir);
	fclose(f);
	char bad[512];
	snprintf(bad, sizeof(bad), "%s/bad.yaml", dir);
	f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("name: bad\nversion: \"1\"\nrules:\n  - id: x\n    category: x\n"
	      "    action: blok\n    literal: x\n",
	      f);
	fclose(f);
	cr_assert_eq(ts_run((char *const *)typo, 60, &out), 2, "%s", out);
	assert_has(out, "sluice: check-config: main pack: ");
	assert_has(out, "unknown action 'blok'");
	free(out);

	ts_rmtree(dir);
	free(dir);
	free(rules);
	free(exe);
}

Test(daemon_pcap, rewrites_in_vlan_ipv6_and_checksumless_datagrams_are_exact, .timeout = 120)
{
	struct pkt_list in = {0}, want = {0};
	struct ts_offline_run r;
	struct ts_capture cap;
	uint8_t buf[PKT_CAP], payload[1024];
	size_t len;

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);

	/* VLAN + IPv4: mask. */
	struct sluice_wire_message ph = ts_msg(60, "号码13712345678谢谢");
	add_datagram(&in, false, true, &ph, 1);
	struct sluice_wire_message ph_out = msg_flags(60, "号码***********谢谢", 2);
	add_datagram(&want, false, true, &ph_out, 1);
	/* VLAN + IPv6: first of three frames blocked, last flagged. */
	struct sluice_wire_message three[3] = {ts_msg(61, "卖冰毒"), ts_msg(62, "plain"),
					       ts_msg(63, "加我好友")};
	add_datagram(&in, true, true, three, 3);
	struct sluice_wire_message three_out[2] = {three[1], msg_flags(63, "加我好友", 1)};
	add_datagram(&want, true, true, three_out, 2);
	/* IPv6 without VLAN: mask in the second of two frames. */
	struct sluice_wire_message pair[2] = {ts_msg(64, "ok"), ts_msg(65, "qq 123456789")};
	add_datagram(&in, true, false, pair, 2);
	struct sluice_wire_message pair_out[2] = {pair[0], msg_flags(65, "************", 2)};
	add_datagram(&want, true, false, pair_out, 2);
	/* IPv4 sent without a UDP checksum keeps none after a rewrite. */
	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, false);
	ep.no_udp_checksum = true;
	struct sluice_wire_message nc[2] = {ts_msg(66, "online  casino"),
					    ts_msg(67, "13312345678")};
	len = sluice_wire_frame_write(payload, sizeof(payload), &nc[0]);
	len += sluice_wire_frame_write(payload + len, sizeof(payload) - len, &nc[1]);
	add_pkt(&in, buf, sluice_udp_packet_build(buf, sizeof(buf), &ep, payload, len));
	struct sluice_wire_message nc_out = msg_flags(67, "***********", 2);
	len = sluice_wire_frame_write(payload, sizeof(payload), &nc_out);
	add_pkt(&want, buf, sluice_udp_packet_build(buf, sizeof(buf), &ep, payload, len));

	write_inputs(&r, &in, NULL);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	cr_assert_eq(ts_pcap_read(r.out_b, &cap), 0);
	cr_assert_eq(cap.count, want.n);
	for (size_t i = 0; i < cap.count; i++) {
		if (cap.packets[i].len != want.p[i].len ||
		    memcmp(cap.packets[i].data, want.p[i].data, want.p[i].len) != 0)
			hexdump_diff(&cap.packets[i], &want.p[i]);
		cr_assert_eq(cap.packets[i].len, want.p[i].len, "packet %zu", i);
		cr_assert_eq(memcmp(cap.packets[i].data, want.p[i].data, want.p[i].len), 0,
			     "packet %zu differs from the expected bytes", i);
		cr_assert(ts_checksums_valid(cap.packets[i].data, cap.packets[i].len), "packet %zu",
			  i);
	}
	/* UDP checksum field of the last one is still 0. */
	cr_assert_eq(cap.packets[3].data[14 + 20 + 6], 0);
	cr_assert_eq(cap.packets[3].data[14 + 20 + 7], 0);
	ts_capture_free(&cap);
	free_pkts(&in);
	free_pkts(&want);
	free(pack);
	ts_offline_free(&r);
}

Test(daemon_pcap, udp_port_option_moves_the_message_port, .timeout = 120)
{
	struct pkt_list in = {0};
	struct ts_offline_run r;
	struct ts_capture cap;
	uint8_t buf[PKT_CAP], payload[1024];
	size_t len;
	static const char *const extra[] = {"--udp-port", "9000", NULL};

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	len = frame_of(payload, sizeof(payload), 70, T_GAMBLE);
	add_pkt(&in, buf, build_udp(buf, sizeof(buf), 7700, payload, len));
	add_pkt(&in, buf, build_udp(buf, sizeof(buf), 9000, payload, len));
	len = frame_of(payload, sizeof(payload), 71, T_PHONE);
	add_pkt(&in, buf, build_udp(buf, sizeof(buf), 9000, payload, len));
	write_inputs(&r, &in, NULL);
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);

	cr_assert_eq(ts_pcap_read(r.out_b, &cap), 0);
	cr_assert_eq(cap.count, 2, "7700 passes untouched, 9000's gambling is removed");
	cr_assert_eq(cap.packets[0].len, in.p[0].len);
	cr_assert_eq(memcmp(cap.packets[0].data, in.p[0].data, in.p[0].len), 0);
	struct ts_frame fr[2];
	cr_assert_eq(ts_frames_of(cap.packets[1].data, cap.packets[1].len, 9000, fr, 2), 1);
	cr_assert_eq(fr[0].msg_id, 71);
	cr_assert_str_eq(fr[0].text, "call me *********** tonight");
	cr_assert(ts_checksums_valid(cap.packets[1].data, cap.packets[1].len));
	ts_capture_free(&cap);
	char *json = read_text(r.summary);
	assert_has(json, "\"udp_port\":9000,");
	char *total = total_object(json);
	assert_has(total, "\"other_forwarded\":1,\"datagrams\":2,");
	free(total);
	free(json);
	free_pkts(&in);
	free(pack);
	ts_offline_free(&r);
}

Test(daemon_pcap, every_one_of_3000_datagrams_comes_out_in_order, .timeout = 120)
{
	enum { COUNT = 3000 };
	struct ts_packet *in = calloc(COUNT, sizeof(*in));
	struct ts_offline_run r;
	struct ts_capture cap;
	uint8_t buf[PKT_CAP];
	char text[64];

	cr_assert_not_null(in);
	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	for (unsigned i = 0; i < COUNT; i++) {
		/* Every third message has a phone number; every tenth is blocked. */
		if (i % 10 == 9)
			snprintf(text, sizeof(text), "%u online casino", i);
		else if (i % 3 == 0)
			snprintf(text, sizeof(text), "%u call 138%08u", i, i);
		else
			snprintf(text, sizeof(text), "%u hello", i);
		struct sluice_wire_message m = ts_msg(1000 + i, text);
		in[i].len = ts_build_datagram(buf, sizeof(buf), i % 2 == 1, false, &m, 1);
		in[i].data = malloc(in[i].len);
		memcpy(in[i].data, buf, in[i].len);
	}
	cr_assert_eq(ts_pcap_write(r.in_a, in, COUNT), 0);
	cr_assert_eq(ts_pcap_write(r.in_b, NULL, 0), 0);
	ts_offline_sluice(&r, pack, NULL);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);

	cr_assert_eq(ts_pcap_read(r.out_b, &cap), 0);
	cr_assert_eq(cap.count, COUNT - COUNT / 10);
	size_t o = 0;
	for (unsigned i = 0; i < COUNT; i++) {
		if (i % 10 == 9)
			continue;
		struct ts_frame fr[1];
		cr_assert_eq(ts_frames_of(cap.packets[o].data, cap.packets[o].len, 7700, fr, 1), 1);
		cr_assert_eq(fr[0].msg_id, 1000 + i, "output %zu", o);
		if (i % 3 == 0) {
			snprintf(text, sizeof(text), "%u call ***********", i);
			cr_assert_eq(fr[0].flags, SLUICE_WIRE_FLAG_MASKED);
		} else {
			snprintf(text, sizeof(text), "%u hello", i);
			cr_assert_eq(fr[0].flags, 0);
		}
		cr_assert_str_eq(fr[0].text, text);
		cr_assert(ts_checksums_valid(cap.packets[o].data, cap.packets[o].len));
		o++;
	}
	ts_capture_free(&cap);
	char *json = read_text(r.summary);
	char *total = total_object(json);
	assert_has(total,
		   "\"rx_packets\":{\"a\":3000,\"b\":0},\"tx_packets\":{\"a\":0,\"b\":2700}");
	assert_has(total, "\"verdicts\":{\"passed\":1800,\"flagged\":0,\"masked\":900,"
			  "\"blocked\":300}");
	assert_has(total, "\"events_dropped\":0,");
	free(total);
	free(json);
	for (unsigned i = 0; i < COUNT; i++)
		free(in[i].data);
	free(in);
	free(pack);
	ts_offline_free(&r);
}

/* ---- pack lifecycle at start: urgent slot, audit log, socket group, cap ---- */

static char *write_urgent_rules(const char *dir)
{
	char *path = path_in(dir, "urgent.yaml");
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs("name: urgent-notices\n"
	      "version: \"u1\"\n"
	      "rules:\n"
	      "  - id: takedown-title\n"
	      "    pattern: 'Forbidden Movie'\n"
	      "    action: block\n"
	      "    category: copyright\n"
	      "  - id: leak-code\n"
	      "    pattern: 'LEAK-[0-9]{4}'\n"
	      "    action: mask\n"
	      "    category: copyright\n",
	      f);
	fclose(f);
	return path;
}

Test(daemon_pcap, urgent_rules_are_scanned_beside_the_main_pack_and_audited, .timeout = 120)
{
	struct ts_offline_run r;
	struct pkt_list in = {0};
	struct ts_capture out;
	struct ts_frame fr[2];

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	char *urgent = write_urgent_rules(r.dir);
	char *audit = path_in(r.dir, "audit.jsonl");
	struct sluice_wire_message m1 = ts_msg(1, "watch Forbidden Movie free");
	struct sluice_wire_message m2 = ts_msg(2, "LEAK-2046 call 13812345678");
	struct sluice_wire_message m3 = ts_msg(3, "hello");
	add_datagram(&in, false, false, &m1, 1);
	add_datagram(&in, false, false, &m2, 1);
	add_datagram(&in, false, false, &m3, 1);
	write_inputs(&r, &in, NULL);
	const char *extra[] = {"--urgent-rules", urgent, "--audit-log", audit, NULL};
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	assert_has(r.output, ", urgent pack urgent-notices u1 (2 rules), control ");
	assert_has(r.output, "  urgent pack     urgent-notices u1, 2 rules, sha256 ");

	cr_assert_eq(ts_pcap_read(r.out_b, &out), 0);
	cr_assert_eq(out.count, 2, "the urgent pack's block removed message 1");
	cr_assert_eq(ts_frames_of(out.packets[0].data, out.packets[0].len, 7700, fr, 2), 1);
	cr_assert_eq(fr[0].msg_id, 2);
	cr_assert_str_eq(fr[0].text, "********* call ***********", "spans of both packs masked");
	cr_assert_eq(fr[0].flags, SLUICE_WIRE_FLAG_MASKED);
	ts_capture_free(&out);

	char *events = read_text(r.events);
	assert_has(events, "\"msg_id\":1,\"channel_id\":");
	assert_has(events, "\"rule\":\"takedown-title\",\"category\":\"copyright\",\"severity\":"
			   "\"medium\",\"action\":"
			   "\"block\",\"verdict\":\"block\",\"pack\":\"urgent-notices\","
			   "\"pack_version\":\"u1\",\"from\":6,\"to\":21,\"text_hash\":\"");
	assert_has(events, "\"rule\":\"leak-code\",\"category\":\"copyright\",\"severity\":"
			   "\"medium\",\"action\":\"mask\","
			   "\"verdict\":\"mask\",\"pack\":\"urgent-notices\"");
	assert_has(events, "\"rule\":\"phone-cn-mobile\",\"category\":\"contact\",\"severity\":"
			   "\"medium\",\"action\":"
			   "\"mask\",\"verdict\":\"mask\",\"pack\":\"sluice-default\"");
	free(events);

	char *json = read_text(r.summary);
	assert_has(json, "\"pack\":\"sluice-default\",\"pack_version\":\"2026.11.23-1\","
			 "\"generation\":2,\"urgent_pack\":\"urgent-notices\","
			 "\"urgent_pack_version\":\"u1\",");
	free(json);

	char *lines = read_text(audit);
	char want[1200];
	snprintf(want, sizeof(want),
		 "\"action\":\"load\",\"slot\":\"main\",\"result\":\"ok\",\"by\":\"startup\","
		 "\"path\":\"%s\",\"pack\":\"sluice-default\",\"version\":\"2026.11.23-1\"",
		 pack);
	assert_has(lines, want);
	snprintf(want, sizeof(want),
		 "\"action\":\"load\",\"slot\":\"urgent\",\"result\":\"ok\",\"by\":\"startup\","
		 "\"path\":\"%s\",\"pack\":\"urgent-notices\",\"version\":\"u1\"",
		 urgent);
	assert_has(lines, want);
	free(lines);
	free(audit);
	free(urgent);
	free(pack);
	free_pkts(&in);
	ts_offline_free(&r);
}

Test(daemon_pcap, unknown_socket_group_exits_nonzero_naming_it, .timeout = 120)
{
	struct ts_offline_run r;

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	write_inputs(&r, NULL, NULL);
	const char *extra[] = {"--socket-group", "no-such-group-sluice", NULL};
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 1, "sluice exited %d:\n%s", r.rc, r.output);
	assert_has(r.output, "sluice: socket group 'no-such-group-sluice': no such group\n");
	cr_assert_null(strstr(r.output, "Sluice summary"), "no summary without a start");
	free(pack);
	ts_offline_free(&r);
}

Test(daemon_pcap, urgent_rules_with_an_error_exit_nonzero_naming_the_option, .timeout = 120)
{
	struct ts_offline_run r;
	char want[1200];

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	char *missing = path_in(r.dir, "missing-urgent.pack");
	write_inputs(&r, NULL, NULL);
	const char *extra[] = {"--urgent-rules", missing, NULL};
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 1, "sluice exited %d:\n%s", r.rc, r.output);
	snprintf(want, sizeof(want),
		 "sluice: urgent rules: %s: cannot open: No such file or directory\n", missing);
	assert_has(r.output, want);
	free(missing);
	free(pack);
	ts_offline_free(&r);
}

Test(daemon_pcap, memory_cap_too_small_for_the_first_pack_refuses_to_start, .timeout = 120)
{
	struct ts_offline_run r;
	char path[1200];

	ts_offline_prepare(&r);
	/* A pack larger than 1 MiB: a thousand rules (about 1.8 MiB of database). */
	snprintf(path, sizeof(path), "%s/big.yaml", r.dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("name: big\nversion: \"1\"\nrules:\n", f);
	for (int i = 0; i < 1000; i++)
		fprintf(f,
			"  - id: r%d\n    pattern: 'w%05d[a-z]{3,12}q[0-9]{2,5}'\n"
			"    action: flag\n    category: test\n",
			i, i);
	fclose(f);
	write_inputs(&r, NULL, NULL);
	const char *extra[] = {"--memory-cap-mb", "1", NULL};
	ts_offline_sluice(&r, path, extra);
	cr_assert_eq(r.rc, 1, "sluice exited %d:\n%s", r.rc, r.output);
	assert_has(r.output, "sluice: big 1: new pack needs ");
	assert_has(r.output, " × 1 worker), active holds 0.0 KiB (+ 0.0 KiB in 0 packs kept for "
			     "rollback), cap 1.00 MiB; raise --memory-cap-mb or use fewer workers "
			     "or a smaller pack\n");
	ts_offline_free(&r);
}

/* ---- signed packs ---- */

Test(daemon_pcap, require_signed_runs_a_signed_pack_and_refuses_an_unsigned_one, .timeout = 120)
{
	struct ts_offline_run r;
	struct pkt_list in = {0};
	char err[1024] = "", want[1400];

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	char *key = path_in(r.dir, "release.key"), *pub = path_in(r.dir, "release.pub");
	char *signed_pack = path_in(r.dir, "signed.pack");
	cr_assert_eq(sluice_keygen(key, pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(
	    sluice_pack_sign(pack, key, signed_pack, SLUICE_SIGN_ADD, NULL, err, sizeof(err)), 0,
	    "%s", err);
	struct sluice_wire_message m = ts_msg(1, "call me 13812345678 tonight");
	add_datagram(&in, false, false, &m, 1);
	write_inputs(&r, &in, NULL);

	const char *extra[] = {"--trusted-key", pub, "--require-signed", NULL};
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 1, "an unsigned pack must not start: %d\n%s", r.rc, r.output);
	snprintf(want, sizeof(want),
		 "sluice: %s: pack is not signed and this daemon requires signed packs\n", pack);
	assert_has(r.output, want);
	free(r.output);
	r.output = NULL;

	ts_offline_sluice(&r, signed_pack, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	struct ts_capture out;
	struct ts_frame fr;
	cr_assert_eq(ts_pcap_read(r.out_b, &out), 0);
	cr_assert_eq(out.count, 1);
	cr_assert_eq(ts_frames_of(out.packets[0].data, out.packets[0].len, 7700, &fr, 1), 1);
	cr_assert_str_eq(fr.text, "call me *********** tonight");
	ts_capture_free(&out);
	free(key);
	free(pub);
	free(signed_pack);
	free(pack);
	free_pkts(&in);
	ts_offline_free(&r);
}

/* Two-person approval and revocation where an operator meets them: at start
 * and in --check-config. */
Test(daemon_pcap, signature_policy_and_revoked_keys_at_start_and_in_check_config, .timeout = 120)
{
	struct ts_offline_run r;
	char err[1024] = "", want[1400], ids[3][65];
	char *keys[3], *pubs[3];

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	char *approved = path_in(r.dir, "approved.pack");
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "k%d.key", i);
		keys[i] = path_in(r.dir, name);
		snprintf(name, sizeof(name), "k%d.pub", i);
		pubs[i] = path_in(r.dir, name);
		cr_assert_eq(sluice_keygen(keys[i], pubs[i], err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(sluice_key_id(pubs[i], ids[i], err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(sluice_pack_sign(i ? approved : pack, keys[i], approved,
					      SLUICE_SIGN_ADD, NULL, err, sizeof(err)),
			     0, "%s", err);
	}
	char *exe = ts_build_path("dataplane/sluice");
	char *out = NULL;

	/* Two of the two trusted keys signed (the third is a stranger): the
	 * check passes and says what it checked. */
	const char *argv[] = {exe,
			      "--check-config",
			      "--rules",
			      approved,
			      "--trusted-key",
			      pubs[0],
			      "--trusted-key",
			      pubs[1],
			      "--signatures-required",
			      "2",
			      "--require-signed",
			      NULL,
			      NULL,
			      NULL};
	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 0, "%s", out);
	assert_has(out, "trusted keys: 2, 2 signatures required, unsigned packs refused\n");
	assert_has(out, "config ok");
	free(out);

	/* Three required of two keys. */
	argv[9] = "3";
	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 2, "%s", out);
	assert_has(out,
		   "sluice: check-config: --signatures-required 3: 3 signatures by trusted "
		   "keys required, but only 2 distinct keys are trusted: no pack could load\n");
	free(out);

	/* The third signer's key revoked: refused though the two trusted
	 * signatures would do. */
	argv[9] = "2";
	argv[11] = "--revoked-key";
	argv[12] = ids[2];
	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 2, "%s", out);
	assert_has(out, "revoked keys: 1\n");
	snprintf(want, sizeof(want),
		 "sluice: check-config: main pack: %s: signed by revoked key %s; ", approved,
		 ids[2]);
	assert_has(out, want);
	free(out);

	/* A key both trusted and revoked. */
	argv[12] = ids[0];
	cr_assert_eq(ts_run((char *const *)argv, 60, &out), 2, "%s", out);
	snprintf(want, sizeof(want),
		 "sluice: check-config: %s: key %s is both trusted and revoked; remove it from "
		 "the trusted keys\n",
		 ids[0], ids[0]);
	assert_has(out, want);
	free(out);

	/* And at start, revoked by its private key file. */
	write_inputs(&r, NULL, NULL);
	const char *extra[] = {"--trusted-key", pubs[0], "--revoked-key", keys[2], NULL};
	ts_offline_sluice(&r, approved, extra);
	cr_assert_eq(r.rc, 1, "a pack a revoked key signed must not start: %d\n%s", r.rc, r.output);
	snprintf(want, sizeof(want), "sluice: %s: signed by revoked key %s; ", approved, ids[2]);
	assert_has(r.output, want);

	for (int i = 0; i < 3; i++) {
		free(keys[i]);
		free(pubs[i]);
	}
	free(exe);
	free(approved);
	free(pack);
	ts_offline_free(&r);
}

Test(daemon_pcap, trusted_key_that_cannot_be_read_stops_the_start, .timeout = 120)
{
	struct ts_offline_run r;
	char want[1400];

	ts_offline_prepare(&r);
	char *pack = default_pack(r.dir);
	char *missing = path_in(r.dir, "missing.pub");
	write_inputs(&r, NULL, NULL);
	const char *extra[] = {"--trusted-key", missing, NULL};
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 1, "sluice exited %d:\n%s", r.rc, r.output);
	snprintf(want, sizeof(want), "sluice: %s: cannot open: No such file or directory\n",
		 missing);
	assert_has(r.output, want);
	free(missing);
	free(pack);
	ts_offline_free(&r);
}

/* The file's lines, to compare with the bus's bodies. */
struct file_lines {
	char *text;
	unsigned matched, count;
};

static bool body_is_a_file_line(const char *subject, const char *data, int len, void *arg)
{
	struct file_lines *f = arg;
	bool found = false;
	for (const char *p = f->text; *p != '\0' && !found;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : strlen(p);
		found = n == (size_t)len && memcmp(p, data, n) == 0;
		p += n;
	}
	f->matched += found;
	f->count++;
	if (!found)
		cr_log_error("%s: a body that is no line of the events file: %.*s", subject, len,
			     data);
	return found && strncmp(subject, "sluice.events.", 14) == 0;
}

/* The daemon with --events-bus: every event of the replay reaches a
 * one-node JetStream stream, once, its body the events file's line. */
Test(daemon_pcap, events_bus_gets_every_line_of_the_file, .timeout = 120)
{
	struct scenario sc;
	struct ts_offline_run r;
	struct ts_nats nats;
	char err[512];

	build_scenario(&sc);
	ts_offline_prepare(&r);
	cr_assert_eq(ts_nats_start(&nats, 1, r.dir, err, sizeof(err)), 0, "%s", err);
	char *pack = default_pack(r.dir);
	write_inputs(&r, &sc.in, NULL);
	const char *extra[] = {"--events-bus", nats.urls, "--events-stream", "REVIEW", NULL};
	ts_offline_sluice(&r, pack, extra);
	cr_assert_eq(r.rc, 0, "sluice exited %d:\n%s", r.rc, r.output);
	check_events(r.events, scenario_events, SCENARIO_EVENTS);
	char *json = read_text(r.summary);
	assert_has(json, "\"events_bus_published\":11,\"events_bus_acked\":11,");
	assert_has(json, "\"events_bus_lost\":0,");
	cr_assert(strstr(r.output, "events bus      11 published, 11 acked") != NULL, "%s",
		  r.output);

	struct file_lines lines = {.text = read_text(r.events)};
	struct ts_bus_seen seen;
	cr_assert_eq(ts_nats_read_events(nats.urls, "REVIEW", "check", body_is_a_file_line, &lines,
					 &seen, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(seen.messages, SCENARIO_EVENTS);
	cr_assert_eq(seen.unique, SCENARIO_EVENTS);
	cr_assert_eq(seen.bad, 0);
	cr_assert_eq(lines.matched, SCENARIO_EVENTS);
	ts_nats_stop(&nats);
	free(lines.text);
	free(json);
	free(pack);
	ts_offline_free(&r);
	free_scenario(&sc);
}

/* --check-config with the bus: its settings described, the servers not
 * contacted (a bus down at start is no error), a spool without a bus
 * refused. */
Test(daemon_pcap, check_config_describes_the_events_bus, .timeout = 120)
{
	char *exe = ts_build_path("dataplane/sluice");
	char *rules = ts_source_path("patterns/rules/default.yaml");
	char *dir = ts_make_tmpdir("checkbus");
	char spool[512];
	char *out = NULL;
	snprintf(spool, sizeof(spool), "%s/events.spool", dir);
	const char *ok[] = {exe,
			    "--check-config",
			    "--rules",
			    rules,
			    "--events",
			    "none",
			    "--events-bus",
			    "nats://127.0.0.1:1,nats://127.0.0.1:2",
			    "--events-stream-replicas",
			    "3",
			    "--events-spool",
			    spool,
			    NULL};
	cr_assert_eq(ts_run((char *const *)ok, 60, &out), 0, "%s", out);
	assert_has(out, "events: none\n");
	assert_has(out,
		   "events bus: nats://127.0.0.1:1,nats://127.0.0.1:2, stream SLUICE_EVENTS "
		   "(created with 3 replicas if missing), 1024 in flight, ack timeout 5000 ms, "
		   "spool ");
	assert_has(out, "config ok");
	free(out);

	const char *no_bus[] = {exe, "--check-config", "--rules", rules, "--events-spool", spool,
				NULL};
	cr_assert_eq(ts_run((char *const *)no_bus, 60, &out), 2, "%s", out);
	assert_has(out, "--events-spool: there is no --events-bus to spool for");
	free(out);
	ts_rmtree(dir);
	free(dir);
	free(rules);
	free(exe);
}
