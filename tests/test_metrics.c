/* The Prometheus exposition (control/metrics.c), rendered without HTTP from a
 * control state with real packs: the text format's rules (HELP and TYPE for
 * every family, families together, counters named _total, label values
 * escaped, no series twice), every counter of `sluicectl stats` present with
 * its value, and the bounded, stable choice of per-rule series.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_server.h"
#include "event_ring.h"
#include "metrics.h"
#include "control_protocol.h"
#include "metrics_http.h"
#include "ruleset_registry.h"
#include "strbuf.h"
#include "test_support.h"

static const struct sluice_actor test_actor = {.kind = SLUICE_ACTOR_DAEMON};

struct fixture {
	char *dir;
	struct sluice_registry reg;
	struct sluice_worker_stats stats[2];
	struct sluice_event_ring *rings[2];
	struct sluice_control ctl;
};

/* A rule file of `rules` flag rules r0, r1, ... named and versioned with
 * characters a label value must escape. */
static char *write_rules(const char *dir, const char *file, unsigned rules)
{
	char *path = NULL;
	cr_assert_neq(asprintf(&path, "%s/%s", dir, file), -1);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f, "name: \"odd \\\"pack\\\" \\\\ name\"\nversion: \"v1\\nline2\"\nrules:\n");
	for (unsigned r = 0; r < rules; r++)
		fprintf(f, "  - id: r%u\n    category: x\n    action: flag\n    literal: word%uz\n",
			r, r);
	fclose(f);
	return path;
}

static void fixture_start(struct fixture *fx, unsigned rules, size_t limit)
{
	char err[1024] = "";
	memset(fx, 0, sizeof(*fx));
	fx->dir = ts_make_tmpdir("metrics");
	char *path = write_rules(fx->dir, "rules.yaml", rules);
	sluice_registry_init(&fx->reg, 2, 8);
	fx->reg.loader = ts_pack_loader;
	cr_assert_eq(sluice_registry_load_slot(&fx->reg, SLUICE_SLOT_MAIN, path, &test_actor, NULL,
					       err, sizeof(err)),
		     0, "%s", err);
	free(path);
	fx->ctl.registry = &fx->reg;
	fx->ctl.worker_count = 2;
	fx->ctl.stall_ms = 60000;
	fx->ctl.tsc_hz = 1000000000ull;
	fx->ctl.metrics.rule_limit = limit;
	for (unsigned w = 0; w < 2; w++) {
		fx->rings[w] = sluice_event_ring_create(64);
		fx->ctl.stats[w] = &fx->stats[w];
		fx->ctl.rings[w] = fx->rings[w];
		fx->ctl.lcores[w] = w + 1;
	}
	cr_assert_eq(sluice_control_open(&fx->ctl, NULL, err, sizeof(err)), 0, "%s", err);
}

static void fixture_stop(struct fixture *fx)
{
	sluice_control_close(&fx->ctl);
	sluice_registry_destroy(&fx->reg);
	for (unsigned w = 0; w < 2; w++)
		sluice_event_ring_free(fx->rings[w]);
	ts_rmtree(fx->dir);
	free(fx->dir);
}

/* Sets worker w's hits of main rule r in the generation in force. */
static void set_hits(struct fixture *fx, unsigned w, size_t r, uint64_t hits)
{
	struct sluice_generation *gen =
	    (struct sluice_generation *)sluice_registry_current(&fx->reg);
	gen->slot[SLUICE_SLOT_MAIN].hits[w * gen->slot[SLUICE_SLOT_MAIN].hits_stride + r] = hits;
}

static char *render(struct fixture *fx)
{
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_metrics_render(&fx->ctl.metrics, &fx->ctl, &sb);
	cr_assert_not(sb.failed);
	return sb.data;
}

/* ---- a small reader of the text format, strict where Prometheus is ---- */

static bool metric_name_ok(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Checks labels "{k="v",...}" starting at *p; leaves *p after the '}'. */
static void check_labels(const char **p, const char *line)
{
	const char *s = *p + 1;
	char keys[8][64];
	unsigned nkeys = 0;
	while (*s != '}') {
		const char *k = s;
		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		cr_assert(s > k && !isdigit((unsigned char)*k), "bad label name in: %s", line);
		cr_assert_lt(nkeys, 8u);
		cr_assert_lt((size_t)(s - k), sizeof(keys[0]));
		memcpy(keys[nkeys], k, (size_t)(s - k));
		keys[nkeys][s - k] = '\0';
		for (unsigned i = 0; i < nkeys; i++)
			cr_assert_str_neq(keys[i], keys[nkeys], "label twice in: %s", line);
		nkeys++;
		cr_assert(s[0] == '=' && s[1] == '"', "no =\" after a label name in: %s", line);
		s += 2;
		for (; *s != '"'; s++) {
			cr_assert(*s != '\0' && *s != '\n', "unterminated label value: %s", line);
			if (*s == '\\') {
				s++;
				cr_assert(*s == '\\' || *s == '"' || *s == 'n', "bad escape in: %s",
					  line);
			}
		}
		s++;
		if (*s == ',')
			s++;
		else
			cr_assert_eq(*s, '}', "labels not closed in: %s", line);
	}
	*p = s + 1;
}

struct family {
	char name[128];
	char type[16];
	bool help;
};

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Validates the whole page; returns how many samples it has. */
static size_t check_exposition(const char *text)
{
	struct family fam[512];
	size_t nfam = 0, samples = 0, nseries = 0, cap = 4096;
	char **series = calloc(cap, sizeof(char *));
	char *copy = strdup(text), *save = NULL;
	cr_assert_eq(text[strlen(text) - 1], '\n', "the page must end with a newline");
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			const char *n = line + 7;
			size_t len = strcspn(n, " ");
			cr_assert(metric_name_ok(n, len), "%s", line);
			cr_assert_lt(nfam, 512u);
			struct family *f = &fam[nfam++];
			cr_assert_lt(len, sizeof(f->name));
			memcpy(f->name, n, len);
			f->name[len] = '\0';
			f->help = true;
			f->type[0] = '\0';
			for (size_t i = 0; i + 1 < nfam; i++)
				cr_assert_str_neq(fam[i].name, f->name, "family twice: %s",
						  f->name);
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			cr_assert_gt(nfam, 0u);
			struct family *f = &fam[nfam - 1];
			char name[128], type[16];
			cr_assert_eq(sscanf(line + 7, "%127s %15s", name, type), 2, "%s", line);
			cr_assert_str_eq(name, f->name, "TYPE is not for the family of its HELP");
			cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				      strcmp(type, "histogram") == 0,
				  "%s", line);
			snprintf(f->type, sizeof(f->type), "%s", type);
			if (strcmp(type, "counter") == 0)
				cr_assert(ends_with(name, strlen(name), "_total"),
					  "counter not named _total: %s", name);
			else
				cr_assert_not(ends_with(name, strlen(name), "_total"),
					      "a %s named _total: %s", type, name);
			continue;
		}
		cr_assert_neq(line[0], '#', "unknown comment: %s", line);
		/* A sample: its family is the one just described. */
		cr_assert_gt(nfam, 0u, "sample before any family: %s", line);
		const struct family *f = &fam[nfam - 1];
		cr_assert(f->help && f->type[0] != '\0', "family without HELP/TYPE: %s", line);
		size_t len = strcspn(line, "{ ");
		cr_assert(metric_name_ok(line, len), "%s", line);
		cr_assert_eq(strncmp(line, "sluice_", 7), 0, "%s", line);
		bool same = strlen(f->name) == len && strncmp(line, f->name, len) == 0;
		if (!same && strcmp(f->type, "histogram") == 0) {
			size_t fl = strlen(f->name);
			const char *suffix = line + fl;
			same = strncmp(line, f->name, fl) == 0 &&
			       ((len == fl + 4 && strncmp(suffix, "_sum", 4) == 0) ||
				(len == fl + 6 && strncmp(suffix, "_count", 6) == 0) ||
				(len == fl + 7 && strncmp(suffix, "_bucket{le=\"", 12) == 0));
		}
		cr_assert(same, "sample outside its family %s: %s", f->name, line);
		const char *p = line + len;
		if (*p == '{')
			check_labels(&p, line);
		cr_assert_eq(*p, ' ', "%s", line);
		size_t key_len = (size_t)(p - line);
		char *end = NULL;
		errno = 0;
		double v = strtod(p + 1, &end);
		cr_assert(end != p + 1 && *end == '\0' && errno == 0, "bad value: %s", line);
		cr_assert_geq(v, 0.0, "%s", line);
		if (nseries == cap) {
			cap *= 2;
			series = realloc(series, cap * sizeof(char *));
		}
		series[nseries++] = strndup(line, key_len);
		samples++;
	}
	qsort(series, nseries, sizeof(char *), by_string);
	for (size_t i = 1; i < nseries; i++)
		cr_assert_str_neq(series[i - 1], series[i], "series twice: %s", series[i]);
	for (size_t i = 0; i < nseries; i++)
		free(series[i]);
	free(series);
	free(copy);
	return samples;
}

/* The value of the series whose name and labels are exactly `key`, or -1. */
static double value_of(const char *text, const char *key)
{
	size_t n = strlen(key);
	for (const char *p = text; (p = strstr(p, key)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* The hits series of rule in the fixture's main pack, or -1. */
static double rule_value(const char *page, const char *rule)
{
	char key[512];
	snprintf(key, sizeof(key),
		 "sluice_rule_hits_total{slot=\"main\",pack=\"odd \\\"pack\\\" \\\\ "
		 "name\",version=\"v1\\nline2\",rule=\"%s\"}",
		 rule);
	return value_of(page, key);
}

static size_t count_prefix_lines(const char *text, const char *prefix)
{
	size_t n = 0, k = strlen(prefix);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, k) == 0;
	return n;
}

/* ---- tests ---- */

Test(metrics, label_values_escape_backslash_quote_and_newline)
{
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_metrics_label_value(&sb, "a\"b\\c\nd");
	cr_assert_str_eq(sb.data, "a\\\"b\\\\c\\nd");
	sb.len = 0;
	sluice_metrics_label_value(&sb, "");
	cr_assert_eq(sb.len, 0);
	sluice_metrics_label_value(&sb, "plain-ünïcode");
	cr_assert_str_eq(sb.data, "plain-ünïcode");
	sluice_strbuf_free(&sb);
}

Test(metrics, page_is_valid_exposition_with_every_stats_counter)
{
	struct fixture fx;
	fixture_start(&fx, 4, 0);
	fx.stats[0].rx_packets[0] = 11;
	fx.stats[1].tx_packets[1] = 12;
	fx.stats[0].tx_dropped[1] = 13;
	fx.stats[1].messages = 42;
	fx.stats[0].verdicts[SLUICE_ACTION_MASK] = 7;
	fx.stats[1].verdicts[SLUICE_ACTION_NONE] = 9;
	fx.stats[0].bad[SLUICE_BAD_INVALID_UTF8] = 5;
	fx.stats[1].event_wait_cycles = 2500000000ull; /* 2.5 s at 1 GHz */
	fx.stats[0].max_gap_cycles = 3000000;	       /* 3 ms */
	fx.stats[1].stream.reason[SLUICE_STREAM_TLS] = 4;
	fx.stats[0].stream.flows_active = 6;
	set_hits(&fx, 0, 2, 3);
	set_hits(&fx, 1, 2, 4);

	char *page = render(&fx);
	size_t samples = check_exposition(page);
	cr_assert_gt(samples, 100u);
	cr_assert_eq(value_of(page, "sluice_rx_packets_total{worker=\"0\",port=\"a\"}"), 11);
	cr_assert_eq(value_of(page, "sluice_tx_packets_total{worker=\"1\",port=\"b\"}"), 12);
	cr_assert_eq(value_of(page, "sluice_tx_dropped_total{worker=\"0\",port=\"b\"}"), 13);
	cr_assert_eq(value_of(page, "sluice_messages_total{worker=\"1\"}"), 42);
	cr_assert_eq(value_of(page, "sluice_messages_total{worker=\"0\"}"), 0);
	cr_assert_eq(value_of(page, "sluice_verdicts_total{worker=\"0\",verdict=\"masked\"}"), 7);
	cr_assert_eq(value_of(page, "sluice_verdicts_total{worker=\"1\",verdict=\"passed\"}"), 9);
	cr_assert_eq(value_of(page, "sluice_bad_input_total{worker=\"0\",reason=\"invalid_utf8\"}"),
		     5);
	cr_assert_eq(value_of(page, "sluice_event_wait_seconds_total{worker=\"1\"}"), 2.5);
	cr_assert_eq(value_of(page, "sluice_worker_longest_gap_seconds{worker=\"0\"}"), 0.003);
	cr_assert_eq(
	    value_of(page, "sluice_stream_reasons_total{worker=\"1\",reason=\"tls_seen\"}"), 4);
	cr_assert_eq(value_of(page, "sluice_stream_flows_active{worker=\"0\"}"), 6);
	cr_assert_eq(value_of(page, "sluice_generation"), 1);
	cr_assert_eq(value_of(page, "sluice_swaps_total"), 1);
	cr_assert_eq(value_of(page, "sluice_swap_grace_seconds_count"), 1);
	/* A histogram Prometheus can add up across gateways: cumulative
	 * buckets at fixed bounds, the last one every grace period. */
	double last = 0;
	for (unsigned b = 0; b < SLUICE_GRACE_BUCKETS; b++) {
		char name[96];
		snprintf(name, sizeof(name), "sluice_swap_grace_seconds_bucket{le=\"%.9g\"}",
			 sluice_grace_bucket_ms[b] / 1e3);
		double v = value_of(page, name);
		cr_assert_geq(v, last, "%s falls", name);
		last = v;
	}
	cr_assert_eq(last, 1, "the one grace period took over 5 s?");
	cr_assert_eq(value_of(page, "sluice_swap_grace_seconds_bucket{le=\"+Inf\"}"), 1);
	cr_assert_eq(value_of(page, "sluice_events_written_total"), 0);
	/* The pack's name and version carry a quote, a backslash and a newline. */
	cr_assert_eq(rule_value(page, "r2"), 7, "%s", page);
	cr_assert_eq(rule_value(page, "r0"), 0, "every rule fits: zeros are there from the start");
	cr_assert_null(strstr(page, "rule=\"_other\"}"));
	cr_assert_not_null(strstr(page, "sluice_pack_info{slot=\"main\",pack=\"odd \\\"pack\\\" "
					"\\\\ name\",version=\"v1\\nline2\",sha256=\""));

	/* Every worker counter `sluicectl stats` prints, by its JSON name, is in
	 * the documented mapping; spot the ones the table holds. */
	static const char *const families[] = {
	    "sluice_other_forwarded_total",
	    "sluice_datagrams_total",
	    "sluice_datagrams_rewritten_total",
	    "sluice_datagrams_removed_total",
	    "sluice_datagrams_dropped_bad_total",
	    "sluice_scanned_bytes_total",
	    "sluice_matches_total",
	    "sluice_utf8_repaired_total",
	    "sluice_match_overflow_total",
	    "sluice_events_dropped_total",
	    "sluice_events_waited_total",
	    "sluice_event_wait_timeouts_total",
	    "sluice_worker_loop_passes_total",
	    "sluice_worker_longest_pass_seconds",
	    "sluice_worker_generation",
	    "sluice_stream_segments_total",
	    "sluice_stream_custody_bytes_total",
	    "sluice_stream_held_bytes",
	    "sluice_ws_json_malformed_total",
	    "sluice_ws_errors_total",
	    "sluice_event_write_errors_total",
	    "sluice_events_filtered_total",
	    "sluice_events_sampled_out_total",
	    "sluice_event_file_rotations_total",
	    "sluice_event_file_reopens_total",
	    "sluice_events_bus_published_total",
	    "sluice_events_bus_acked_total",
	    "sluice_events_bus_spooled_total",
	    "sluice_events_bus_lost_total",
	    "sluice_events_bus_in_flight",
	    "sluice_events_bus_spool_bytes",
	    "sluice_events_bus_connected",
	    "sluice_events_full_policy",
	    "sluice_port_rx_missed_total",
	    "sluice_pack_info",
	    "sluice_last_swap_seconds",
	    "sluice_worker_stuck",
	};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char help[160];
		snprintf(help, sizeof(help), "# TYPE %s ", families[i]);
		cr_assert_not_null(strstr(page, help), "no family %s", families[i]);
	}
	/* No ports in this fixture: the driver counters have no samples. */
	cr_assert_null(strstr(page, "sluice_port_rx_missed_total{"));
	free(page);
	fixture_stop(&fx);
}

Test(metrics, rule_series_are_bounded_and_stay_once_given)
{
	struct fixture fx;
	fixture_start(&fx, 30, 10);
	/* Twelve rules hit, r29 most: ten get series, the two least hit go to
	 * _other. */
	for (size_t r = 0; r < 12; r++)
		set_hits(&fx, 0, 29 - r, 100 - r);
	char *page = render(&fx);
	check_exposition(page);
	cr_assert_eq(count_prefix_lines(page, "sluice_rule_hits_total{"), 11, "%s", page);
	cr_assert_eq(rule_value(page, "r29"), 100);
	cr_assert_eq(rule_value(page, "r20"), 91);
	cr_assert_eq(rule_value(page, "r19"), -1, "r19 was 11th");
	cr_assert_eq(rule_value(page, "_other"), 90 + 89);
	free(page);

	/* Later a rule without a series overtakes everyone: the series stay the
	 * same ones, and _other only grows. */
	set_hits(&fx, 1, 0, 5000);
	page = render(&fx);
	check_exposition(page);
	cr_assert_eq(count_prefix_lines(page, "sluice_rule_hits_total{"), 11);
	cr_assert_eq(rule_value(page, "r29"), 100);
	cr_assert_eq(rule_value(page, "r0"), -1);
	cr_assert_eq(rule_value(page, "_other"), 90 + 89 + 5000);
	cr_assert_eq(value_of(page, "sluice_rule_series_limit"), 10);
	free(page);

	/* A new pack in the slot starts the choice afresh. */
	char err[1024] = "";
	char *path = write_rules(fx.dir, "again.yaml", 5);
	FILE *f = fopen(path, "a");
	fprintf(f, "  - id: extra\n    category: x\n    action: flag\n    literal: extraz\n");
	fclose(f);
	cr_assert_eq(sluice_registry_load_slot(&fx.reg, SLUICE_SLOT_MAIN, path, &test_actor, NULL,
					       err, sizeof(err)),
		     0, "%s", err);
	free(path);
	page = render(&fx);
	check_exposition(page);
	cr_assert_eq(count_prefix_lines(page, "sluice_rule_hits_total{"), 6, "%s", page);
	cr_assert_null(strstr(page, "rule=\"_other\"}"));
	cr_assert_eq(value_of(page, "sluice_generation"), 2);
	cr_assert_eq(value_of(page, "sluice_swaps_total"), 2);
	free(page);
	fixture_stop(&fx);
}

Test(metrics, listen_addresses_are_ip_literals_with_a_port)
{
	struct sockaddr_storage a;
	char err[256];
	cr_assert_eq(sluice_metrics_parse_listen("127.0.0.1:9470", &a, err, sizeof(err)), 0);
	cr_assert_eq(a.ss_family, AF_INET);
	cr_assert_eq(sluice_metrics_parse_listen("[::1]:9470", &a, err, sizeof(err)), 0);
	cr_assert_eq(a.ss_family, AF_INET6);
	cr_assert_eq(sluice_metrics_parse_listen("0.0.0.0:1", &a, err, sizeof(err)), 0);
	const char *bad[] = {"9470",	      ":9470",		 "127.0.0.1",
			     "127.0.0.1:0",   "127.0.0.1:70000", "127.0.0.1:9x",
			     "::1:9470",      "[::1:9470",	 "localhost:9470",
			     "[127.0.0.1]:9", "1.2.3.4:-1",	 "[]:9470"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(sluice_metrics_parse_listen(bad[i], &a, err, sizeof(err)), -1, "%s",
			     bad[i]);
		cr_assert_not_null(strstr(err, "--metrics-listen"), "%s", err);
	}
}

/* A counter added to struct sluice_worker_stats without a series would be
 * missing from /metrics and telemetry alike: every 64-bit word of it is a
 * table row or one of the labelled arrays. */
Test(metrics, every_worker_counter_has_a_series)
{
	enum {
		WORDS = (offsetof(struct sluice_worker_stats, stream) +
			 sizeof(struct sluice_stream_stats)) /
			sizeof(uint64_t)
	};
	bool covered[WORDS] = {false};
	for (size_t i = 0; i < sluice_metrics_worker_field_count; i++) {
		size_t w = sluice_metrics_worker_fields[i].offset / sizeof(uint64_t);
		cr_assert_lt(w, (size_t)WORDS);
		cr_assert_not(covered[w], "%s twice", sluice_metrics_worker_fields[i].name);
		covered[w] = true;
	}
	const struct {
		size_t offset, count;
	} arrays[] = {
	    {offsetof(struct sluice_worker_stats, rx_packets), SLUICE_PORT_COUNT},
	    {offsetof(struct sluice_worker_stats, tx_packets), SLUICE_PORT_COUNT},
	    {offsetof(struct sluice_worker_stats, tx_dropped), SLUICE_PORT_COUNT},
	    {offsetof(struct sluice_worker_stats, verdicts), SLUICE_ACTION_COUNT},
	    /* [0] of the reason arrays is "none": never counted */
	    {offsetof(struct sluice_worker_stats, bad), SLUICE_BAD_REASON_COUNT},
	    {offsetof(struct sluice_worker_stats, stream.reason), SLUICE_STREAM_REASON_COUNT},
	    {offsetof(struct sluice_worker_stats, stream.ws_error), SLUICE_WS_STREAM_ERROR_COUNT},
	};
	for (size_t a = 0; a < sizeof(arrays) / sizeof(arrays[0]); a++)
		for (size_t k = 0; k < arrays[a].count; k++) {
			size_t w = arrays[a].offset / sizeof(uint64_t) + k;
			cr_assert_not(covered[w]);
			covered[w] = true;
		}
	for (size_t w = 0; w < WORDS; w++)
		cr_assert(covered[w],
			  "word %zu (byte %zu) of struct sluice_worker_stats has no series", w,
			  w * sizeof(uint64_t));
}

/* ---- the endpoint, served by the control loop ---- */

static atomic_bool loop_stop;

static void *control_loop(void *arg)
{
	struct sluice_control *ctl = arg;
	while (!atomic_load(&loop_stop))
		sluice_control_run_once(ctl, 5);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scrapers that connect and stop halfway through their request, or ask and
 * never read: below the connection limit they delay no prompt scraper, and
 * even past it they delay no control socket client. */
Test(metrics_http, stalled_scrapers_delay_neither_scrapes_nor_the_control_socket, .timeout = 60)
{
	struct fixture fx;
	char err[512];
	fixture_start(&fx, 4, 0);
	/* The control socket too, so the endpoint shares its poll. */
	sluice_control_close(&fx.ctl);
	char *sock = NULL;
	cr_assert_neq(asprintf(&sock, "%s/ctl.sock", fx.dir), -1);
	cr_assert_eq(sluice_control_open(&fx.ctl, sock, err, sizeof(err)), 0, "%s", err);
	unsigned port = ts_free_tcp_port();
	char listen[32];
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	struct sluice_metrics_http_config cfg = {.listen = listen};
	cr_assert_eq(sluice_control_open_metrics(&fx.ctl, &cfg, err, sizeof(err)), 0, "%s", err);
	/* A second server on the same address is refused, not sharing it. */
	struct sluice_metrics_http *again =
	    sluice_metrics_http_open(&cfg, &fx.ctl, err, sizeof(err));
	cr_assert_null(again);
	char want[96];
	snprintf(want, sizeof(want), "--metrics-listen %s: cannot listen", listen);
	cr_assert_not_null(strstr(err, want), "%s", err);
	cr_assert_eq(sluice_control_open_metrics(&fx.ctl, &cfg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "metrics are already served");
	fx.stats[1].messages = 77;

	atomic_store(&loop_stop, false);
	pthread_t loop;
	cr_assert_eq(pthread_create(&loop, NULL, control_loop, &fx.ctl), 0);

	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	enum { CROWD = 2 * SLUICE_METRICS_MAX_CONN };
	int stalled[CROWD];
	double t0;
	char *head = NULL, *body = NULL;
	for (unsigned i = 0; i < CROWD; i++) {
		/* Below the connection limit, a prompt scraper is answered at
		 * once, whatever the others do. */
		if (i == SLUICE_METRICS_MAX_CONN / 2) {
			t0 = now_s();
			cr_assert_eq(ts_http(port, "GET", "/metrics", &head, &body), 200);
			cr_assert_lt(now_s() - t0, 1.0, "a scrape waited for stalled scrapers");
		}
		stalled[i] = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert_eq(connect(stalled[i], (struct sockaddr *)&a, sizeof(a)), 0);
		/* Half stop inside the request line, half ask and never read. */
		const char *req = i % 2 ? "GET /metr" : "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
		cr_assert_gt(send(stalled[i], req, strlen(req), MSG_NOSIGNAL), 0);
	}
	cr_assert_not_null(strstr(head, "Content-Type: text/plain; version=0.0.4"), "%s", head);
	cr_assert_eq(value_of(body, "sluice_messages_total{worker=\"1\"}"), 77);
	check_exposition(body);
	free(head);
	free(body);

	/* Past the limit, new scrapers wait (until idle ones time out, or go),
	 * but the control socket answers at once. */
	t0 = now_s();
	char *reply = NULL;
	cr_assert_eq(sluice_ctl_request(sock, "stats", 5000, &reply, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_lt(now_s() - t0, 1.0, "the control socket waited for the scrapers");
	cr_assert_not_null(strstr(reply, "\"ok\":true"));
	free(reply);
	for (unsigned i = 0; i < CROWD; i++)
		close(stalled[i]);
	int status = -1;
	double deadline = now_s() + SLUICE_METRICS_IDLE_S;
	while (status != 200 && now_s() < deadline)
		status = ts_http(port, "GET", "/metrics", NULL, NULL);
	cr_assert_eq(status, 200, "the crowd gone, scrapes are not answered again");
	cr_assert_eq(ts_http(port, "GET", "/", NULL, NULL), 404);
	head = NULL;
	cr_assert_eq(ts_http(port, "DELETE", "/metrics", &head, NULL), 405);
	cr_assert_not_null(strstr(head, "Allow: GET, HEAD"), "%s", head);
	free(head);

	atomic_store(&loop_stop, true);
	pthread_join(loop, NULL);
	free(sock);
	fixture_stop(&fx);
}

/* ---- authentication and TLS, with curl as the scraper ---- */

/* curl's status line and body, or its error, in *out; its exit status. */
static int curl(const char *url, const char *cacert, const char *user, char **out)
{
	const char *argv[16];
	unsigned a = 0;
	argv[a++] = "/usr/bin/curl";
	argv[a++] = "-sS";
	argv[a++] = "-i";
	argv[a++] = "--max-time";
	argv[a++] = "5";
	if (cacert != NULL) {
		argv[a++] = "--cacert";
		argv[a++] = cacert;
	}
	if (user != NULL) {
		argv[a++] = "-u";
		argv[a++] = user;
	}
	argv[a++] = url;
	argv[a] = NULL;
	return ts_run((char *const *)argv, 10, out);
}

Test(metrics_http, scrapers_must_authenticate_over_tls, .timeout = 60)
{
	struct fixture fx;
	char err[512];
	fixture_start(&fx, 4, 0);
	fx.stats[0].messages = 55;
	char *cert = NULL, *key = NULL;
	cr_assert_neq(asprintf(&cert, "%s/cert.pem", fx.dir), -1);
	cr_assert_neq(asprintf(&key, "%s/key.pem", fx.dir), -1);
	ts_self_signed_cert(cert, key);
	cr_assert_eq(chmod(key, 0600), 0);
	char *auth = ts_write_secret(fx.dir, "auth", "scraper:s3cret pass\n", 0640);

	unsigned port = ts_free_tcp_port();
	char listen[32], url[64], plain[64];
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/metrics", port);
	snprintf(plain, sizeof(plain), "http://127.0.0.1:%u/metrics", port);
	struct sluice_metrics_http_config cfg = {
	    .listen = listen, .auth_file = auth, .tls_cert = cert, .tls_key = key};
	cr_assert_eq(sluice_metrics_http_check(&cfg, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sluice_control_open_metrics(&fx.ctl, &cfg, err, sizeof(err)), 0, "%s", err);

	atomic_store(&loop_stop, false);
	pthread_t loop;
	cr_assert_eq(pthread_create(&loop, NULL, control_loop, &fx.ctl), 0);
	char *none = NULL, *wrong = NULL, *right = NULL, *clear = NULL, *untrusted = NULL;
	int rc_none = curl(url, cert, NULL, &none);
	int rc_wrong = curl(url, cert, "scraper:s3cret", &wrong);
	int rc_right = curl(url, cert, "scraper:s3cret pass", &right);
	int rc_clear = curl(plain, NULL, "scraper:s3cret pass", &clear);
	int rc_untrusted = curl(url, NULL, "scraper:s3cret pass", &untrusted);
	/* Assertions only once the loop is stopped: a failed one must not
	 * leave a thread running on this test's fixture. */
	atomic_store(&loop_stop, true);
	pthread_join(loop, NULL);

	cr_assert_eq(rc_none, 0, "%s", none);
	cr_assert_not_null(strstr(none, " 401"), "%s", none);
	cr_assert_not_null(strstr(none, "WWW-Authenticate: Basic realm=\"sluice metrics\""), "%s",
			   none);
	cr_assert_null(strstr(none, "sluice_messages_total"), "%s", none);
	cr_assert_eq(rc_wrong, 0, "%s", wrong);
	cr_assert_not_null(strstr(wrong, " 401"), "%s", wrong);
	cr_assert_null(strstr(wrong, "sluice_messages_total"), "%s", wrong);
	cr_assert_eq(rc_right, 0, "%s", right);
	cr_assert_not_null(strstr(right, " 200"), "%s", right);
	const char *body = strstr(right, "\r\n\r\n");
	cr_assert_not_null(body);
	cr_assert_eq(value_of(body + 4, "sluice_messages_total{worker=\"0\"}"), 55, "%s", right);
	/* Plain HTTP to the TLS port gets no page; nor does a client that
	 * does not trust the certificate. */
	cr_assert_neq(rc_clear, 0, "%s", clear);
	cr_assert_null(strstr(clear, "sluice_messages_total"), "%s", clear);
	cr_assert_eq(rc_untrusted, 60, "curl: %d %s", rc_untrusted, untrusted);
	free(none);
	free(wrong);
	free(right);
	free(clear);
	free(untrusted);
	sluice_control_close(&fx.ctl);

	/* What a start refuses, each for its own reason. */
	struct {
		struct sluice_metrics_http_config cfg;
		const char *says;
	} bad[] = {
	    {{listen, NULL, NULL, ts_write_secret(fx.dir, "open", "a:b\n", 0644)},
	     "others may read or write it (mode 644)"},
	    {{listen, NULL, NULL, ts_write_secret(fx.dir, "nocolon", "scraper\n", 0600)},
	     "the first line must be USER:PASSWORD"},
	    {{listen, NULL, NULL, ts_write_secret(fx.dir, "nopass", "scraper:\n", 0600)},
	     "the first line must be USER:PASSWORD"},
	    {{listen, NULL, NULL, ts_write_secret(fx.dir, "nouser", ":pw\n", 0600)},
	     "the first line must be USER:PASSWORD"},
	    {{listen, NULL, NULL, "/nonexistent/auth"}, "--metrics-auth /nonexistent/auth: "},
	    {{listen, cert, NULL, NULL}, "--metrics-tls-cert and --metrics-tls-key go together"},
	    {{listen, NULL, key, NULL}, "--metrics-tls-cert and --metrics-tls-key go together"},
	    {{listen, cert, ts_write_secret(fx.dir, "openkey", "x", 0644), NULL},
	     "--metrics-tls-key"},
	    {{listen, ts_write_secret(fx.dir, "notpem", "hello\n", 0644), key, NULL},
	     "want a PEM certificate and a PEM private key"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(sluice_metrics_http_check(&bad[i].cfg, err, sizeof(err)), -1, "%zu",
			     i);
		cr_assert_not_null(strstr(err, bad[i].says), "%zu: %s", i, err);
		cr_assert_null(sluice_metrics_http_open(&bad[i].cfg, &fx.ctl, err, sizeof(err)));
		cr_assert_not_null(strstr(err, bad[i].says), "%zu: %s", i, err);
	}
	for (size_t i = 0; i < 4; i++)
		free((char *)bad[i].cfg.auth_file);
	free((char *)bad[7].cfg.tls_key);
	free((char *)bad[8].cfg.tls_cert);
	free(cert);
	free(key);
	free(auth);
	fixture_stop(&fx);
}
