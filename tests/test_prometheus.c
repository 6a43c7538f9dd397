/* Metrics as an SRE gets them: the real sluice program, with --metrics-listen,
 * replays a capture of known messages on net_pcap ports and stays up; a real
 * Prometheus server (Debian's /usr/bin/prometheus) scrapes it every second;
 * the test asks Prometheus' HTTP API for the counters and checks them against
 * `sluicectl stats` taken after the traffic stopped. The same daemon answers
 * DPDK telemetry's /sluice/ commands on the EAL's telemetry socket, and
 * /metrics itself is checked for its status codes and content type.
 *
 * Prometheus missing is a failure, not a skip: CI installs it
 * (deploy/install-deps.sh).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "child_process.h"
#include "control_protocol.h"
#include "json_value.h"
#include "test_support.h"

#define PROMETHEUS   "/usr/bin/prometheus"
#define PROMTOOL     "/usr/bin/promtool"
#define TELEMETRY_PY "/usr/bin/dpdk-telemetry.py"

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	cr_assert_neq(vasprintf(&s, f, ap), -1);
	va_end(ap);
	return s;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	size_t got = fread(buf, 1, (size_t)n, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

static char *url_encode(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || c == '.')
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	*o = '\0';
	return out;
}

/* The value of an instant query that gives one series, or -1 when Prometheus
 * has none (yet). */
static double prom_value(unsigned port, const char *query)
{
	char *q = url_encode(query);
	char *target = fmt("/api/v1/query?query=%s", q);
	char *body = NULL;
	int status = ts_http(port, "GET", target, NULL, &body);
	free(q);
	free(target);
	double v = -1;
	struct sluice_json *j = status == 200 ? sluice_json_parse(body) : NULL;
	const struct sluice_json *data = j != NULL ? sluice_json_get(j, "data") : NULL;
	const struct sluice_json *result = data != NULL ? sluice_json_get(data, "result") : NULL;
	if (result != NULL && result->type == SLUICE_JSON_ARRAY && result->count == 1) {
		const struct sluice_json *value = sluice_json_get(result->items[0], "value");
		if (value != NULL && value->type == SLUICE_JSON_ARRAY && value->count == 2 &&
		    value->items[1]->type == SLUICE_JSON_STRING)
			v = strtod(value->items[1]->string, NULL);
	}
	sluice_json_free(j);
	free(body);
	return v;
}

/* ---- the daemon's side ---- */

static struct sluice_json *control(const char *sock, const char *req)
{
	char err[512], *reply = NULL;
	if (sluice_ctl_request(sock, req, 10000, &reply, err, sizeof(err)) != 0)
		return NULL;
	struct sluice_json *j = sluice_json_parse(reply);
	free(reply);
	return j;
}

/* A member by dotted path ("stats.total.verdicts.masked", "stats.workers.0.
 * messages"); -1 when absent. */
static double num_at(const struct sluice_json *j, const char *path)
{
	char *copy = strdup(path), *save = NULL;
	const struct sluice_json *at = j;
	for (char *k = strtok_r(copy, ".", &save); k != NULL && at != NULL;
	     k = strtok_r(NULL, ".", &save)) {
		if (at->type == SLUICE_JSON_ARRAY) /* "workers.0" */
			at = (size_t)atoi(k) < at->count ? at->items[atoi(k)] : NULL;
		else
			at = sluice_json_get(at, k);
	}
	free(copy);
	return at != NULL && at->type == SLUICE_JSON_NUMBER ? at->number : -1;
}

/* One DPDK telemetry request on the EAL's socket (SOCK_SEQPACKET: one
 * message each way, after the greeting). */
static char *telemetry(const char *prefix, const char *cmd)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof(a.sun_path), "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	cr_assert_geq(fd, 0);
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0, "%s: %s", a.sun_path,
		     strerror(errno));
	char *buf = malloc(1 << 16);
	ssize_t n = recv(fd, buf, (1 << 16) - 1, 0); /* the greeting */
	cr_assert_gt(n, 0);
	cr_assert_eq(send(fd, cmd, strlen(cmd), 0), (ssize_t)strlen(cmd));
	n = recv(fd, buf, (1 << 16) - 1, 0);
	cr_assert_gt(n, 0, "no answer to %s", cmd);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void write_capture(const char *path, unsigned count, unsigned *invalid)
{
	static const char *const texts[] = {
	    "call me on 13812345678 tonight", /* masked */
	    "see you at the concert",	      /* passed */
	    "出售冰毒 联系我",		      /* blocked */
	    "可以私聊吗",		      /* flagged */
	    "bad \xff\xfe bytes",	      /* invalid UTF-8: dropped */
	};
	struct ts_packet *p = calloc(count, sizeof(*p));
	*invalid = 0;
	for (unsigned i = 0; i < count; i++) {
		uint8_t buf[2048];
		const char *text = texts[i % 5];
		*invalid += i % 5 == 4;
		struct sluice_wire_message m = ts_msg(1000 + i, text);
		p[i].len = ts_build_datagram(buf, sizeof(buf), i % 3 == 0, false, &m, 1);
		p[i].data = malloc(p[i].len);
		memcpy(p[i].data, buf, p[i].len);
	}
	cr_assert_eq(ts_pcap_write(path, p, count), 0);
	for (unsigned i = 0; i < count; i++)
		free(p[i].data);
	free(p);
}

struct check {
	const char *query;
	const char *stats_path; /* in the `stats` reply */
};

/* The real sluice program on two net_pcap ports, replaying `count` known
 * datagrams and staying up (not --offline) to be scraped. */
struct gateway {
	char *dir, *sock, *log, *listen, *prefix;
	char *in_a, *in_b, *out_a, *out_b, *events, *vdev_a, *vdev_b, *exe, *rules;
	unsigned metrics_port, count, invalid;
	pid_t pid;
};

static void gateway_start(struct gateway *g, const char *dir, unsigned count,
			  const char *const *extra)
{
	memset(g, 0, sizeof(*g));
	g->dir = strdup(dir);
	g->count = count;
	g->in_a = fmt("%s/in_a.pcap", dir);
	g->in_b = fmt("%s/in_b.pcap", dir);
	g->out_a = fmt("%s/out_a.pcap", dir);
	g->out_b = fmt("%s/out_b.pcap", dir);
	g->sock = fmt("%s/ctl.sock", dir);
	g->events = fmt("%s/events.jsonl", dir);
	g->log = fmt("%s/sluice.log", dir);
	write_capture(g->in_a, count, &g->invalid);
	cr_assert_eq(ts_pcap_write(g->in_b, NULL, 0), 0);
	g->metrics_port = ts_free_tcp_port();
	g->listen = fmt("127.0.0.1:%u", g->metrics_port);
	g->prefix = fmt("sluice-prom-%d", (int)getpid());
	g->vdev_a = fmt("net_pcap0,rx_pcap=%s,tx_pcap=%s", g->in_a, g->out_a);
	g->vdev_b = fmt("net_pcap1,rx_pcap=%s,tx_pcap=%s", g->in_b, g->out_b);
	g->exe = ts_build_path("dataplane/sluice");
	g->rules = ts_source_path("patterns/rules/default.yaml");
	const char *argv[48] = {g->exe,
				"--no-huge",
				"-m",
				"256",
				"-l",
				"0-1",
				"--no-shconf",
				"--file-prefix",
				g->prefix,
				"--vdev",
				g->vdev_a,
				"--vdev",
				g->vdev_b,
				"--",
				"--rules",
				g->rules,
				"--events",
				g->events,
				"--control-socket",
				g->sock,
				"--metrics-listen",
				g->listen,
				"--duration",
				"280"};
	unsigned a = 0;
	while (argv[a] != NULL)
		a++;
	for (; extra != NULL && *extra != NULL && a < 47; extra++)
		argv[a++] = *extra;
	argv[a] = NULL;
	g->pid = ts_spawn((char *const *)argv, g->log);
}

/* Stats once the whole capture went through and the events written settled
 * (the control thread writes them after the workers count). */
static struct sluice_json *gateway_counted(struct gateway *g)
{
	struct sluice_json *stats = NULL;
	double end = ts_mono_s() + 120;
	while (ts_mono_s() < end) {
		if (!ts_child_alive(g->pid)) {
			char *log = slurp(g->log);
			cr_assert_fail("sluice exited: %s", log);
			free(log);
			return NULL;
		}
		sluice_json_free(stats);
		stats = control(g->sock, "stats");
		if (stats != NULL && num_at(stats, "stats.total.datagrams") == g->count)
			break;
		ts_sleep_ms(100);
	}
	cr_assert_not_null(stats, "no stats from %s", g->sock);
	cr_assert_eq(num_at(stats, "stats.total.datagrams"), g->count);
	for (double prev = -2; ts_mono_s() < end; ts_sleep_ms(300)) {
		sluice_json_free(stats);
		stats = control(g->sock, "stats");
		double now = num_at(stats, "events_written");
		if (now == prev)
			break;
		prev = now;
	}
	return stats;
}

static void gateway_stop(struct gateway *g)
{
	struct sluice_json *bye = control(g->sock, "stop");
	cr_assert(bye != NULL && sluice_json_bool(bye, "ok", false));
	sluice_json_free(bye);
	int status = ts_child_stop(g->pid, false, 30);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "sluice ended with status %d",
		  status);
	/* EAL's runtime directory, empty once sluice is gone (--no-shconf). */
	char *runtime = fmt("/var/run/dpdk/%s", g->prefix);
	rmdir(runtime);
	free(runtime);
	char **all[] = {&g->dir,    &g->sock,	&g->log,   &g->listen, &g->prefix,
			&g->in_a,   &g->in_b,	&g->out_a, &g->out_b,  &g->events,
			&g->vdev_a, &g->vdev_b, &g->exe,   &g->rules};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		free(*all[i]);
		*all[i] = NULL;
	}
}

/* A real Prometheus server with this configuration; its port in *port. */
static pid_t prometheus_start(const char *dir, const char *yml_text, unsigned *port)
{
	*port = ts_free_tcp_port();
	char *yml = fmt("%s/prometheus.yml", dir);
	FILE *f = fopen(yml, "w");
	cr_assert_not_null(f);
	fputs(yml_text, f);
	fclose(f);
	char *config = fmt("--config.file=%s", yml);
	char *storage = fmt("--storage.tsdb.path=%s/tsdb", dir);
	char *web = fmt("--web.listen-address=127.0.0.1:%u", *port);
	char *log = fmt("%s/prometheus.log", dir);
	char *const argv[] = {PROMETHEUS, config, storage, web, NULL};
	pid_t pid = ts_spawn(argv, log);
	free(yml);
	free(config);
	free(storage);
	free(web);
	free(log);
	return pid;
}

Test(prometheus, scraped_counters_equal_sluicectl_stats, .timeout = 300)
{
	cr_assert_eq(access(PROMETHEUS, X_OK), 0,
		     "%s not found: the test needs a real Prometheus server (Debian package "
		     "prometheus; deploy/install-deps.sh installs it)",
		     PROMETHEUS);
	char *dir = ts_make_tmpdir("prometheus");
	char *prom_log = fmt("%s/prometheus.log", dir);
	struct gateway g;
	gateway_start(&g, dir, 400, NULL);
	unsigned metrics_port = g.metrics_port, invalid = g.invalid;
	const char *prefix = g.prefix, *sock = g.sock, *listen = g.listen;
	struct sluice_json *stats = gateway_counted(&g);
	cr_assert_eq(num_at(stats, "stats.total.bad_input.invalid_utf8"), invalid);
	cr_assert_gt(num_at(stats, "stats.total.verdicts.masked"), 0);
	cr_assert_gt(num_at(stats, "stats.total.verdicts.blocked"), 0);
	cr_assert_gt(num_at(stats, "stats.total.verdicts.flagged"), 0);

	/* /metrics itself. */
	char *head = NULL, *body = NULL;
	cr_assert_eq(ts_http(metrics_port, "GET", "/metrics", &head, &body), 200);
	cr_assert_not_null(strstr(head, "Content-Type: text/plain; version=0.0.4"), "%s", head);
	cr_assert_not_null(strstr(body, "# TYPE sluice_messages_total counter\n"));
	/* Prometheus' own linter on the page: names, types, help, units. */
	char *page = fmt("%s/metrics.txt", dir);
	FILE *pf = fopen(page, "w");
	cr_assert_not_null(pf);
	fputs(body, pf);
	fclose(pf);
	char *lint_cmd = fmt("%s check metrics < %s", PROMTOOL, page);
	char *const lint[] = {"/bin/sh", "-c", lint_cmd, NULL};
	char *lint_out = NULL;
	cr_assert_eq(ts_run(lint, 30, &lint_out), 0, "%s: %s", lint_cmd, lint_out);
	cr_assert_str_empty(lint_out, "promtool: %s", lint_out);
	free(lint_out);
	free(lint_cmd);
	free(page);
	free(head);
	free(body);
	cr_assert_eq(ts_http(metrics_port, "GET", "/", NULL, NULL), 404);
	cr_assert_eq(ts_http(metrics_port, "GET", "/metrics/x", NULL, NULL), 404);
	head = NULL;
	cr_assert_eq(ts_http(metrics_port, "POST", "/metrics", &head, NULL), 405);
	cr_assert_not_null(strstr(head, "Allow: GET, HEAD"), "%s", head);
	free(head);
	cr_assert_eq(ts_http(metrics_port, "HEAD", "/metrics", NULL, NULL), 200);

	/* DPDK telemetry, beside the ports' own commands. */
	char *tel = telemetry(prefix, "/sluice/stats");
	char *want = fmt("\"messages\":%.0f", num_at(stats, "stats.total.messages"));
	cr_assert_not_null(strstr(tel, want), "%s lacks %s", tel, want);
	free(want);
	want = fmt("\"verdicts/masked\":%.0f", num_at(stats, "stats.total.verdicts.masked"));
	cr_assert_not_null(strstr(tel, want), "%s lacks %s", tel, want);
	free(want);
	want = fmt("\"bad_input/invalid_utf8\":%u", invalid);
	cr_assert_not_null(strstr(tel, want), "%s lacks %s", tel, want);
	free(want);
	free(tel);
	tel = telemetry(prefix, "/sluice/packs");
	cr_assert_not_null(strstr(tel, "\"main/name\":\"sluice-default\""), "%s", tel);
	free(tel);
	tel = telemetry(prefix, "/sluice/worker,0");
	cr_assert_not_null(strstr(tel, "\"lcore\":1"), "%s", tel);
	free(tel);
	/* No --events-bus: the bus's command says so, with its counters at 0
	 * (the same fields /metrics gives: event_bus.h). */
	tel = telemetry(prefix, "/sluice/bus");
	cr_assert_not_null(strstr(tel, "\"configured\":0,\"connected\":0,\"published\":0,"), "%s",
			   tel);
	cr_assert_not_null(strstr(tel, "\"spool_bytes\":0"), "%s", tel);
	free(tel);
	tel = telemetry(prefix, "/");
	cr_assert_not_null(strstr(tel, "\"/sluice/bus\""), "%s", tel);
	cr_assert_not_null(strstr(tel, "\"/sluice/stats\""), "%s", tel);
	cr_assert_not_null(strstr(tel, "\"/ethdev/stats\""), "%s", tel);
	free(tel);
	/* And through DPDK's own client, as an operator would ask. */
	cr_assert_eq(access(TELEMETRY_PY, X_OK), 0,
		     "%s not found (Debian package dpdk-dev; deploy/install-deps.sh installs it)",
		     TELEMETRY_PY);
	char *pipeline =
	    fmt("printf '/sluice/packs\\n/ethdev/list\\n' | %s -f %s", TELEMETRY_PY, prefix);
	char *const sh[] = {"/bin/sh", "-c", pipeline, NULL};
	char *said = NULL;
	cr_assert_eq(ts_run(sh, 30, &said), 0, "%s: %s", pipeline, said);
	cr_assert_not_null(strstr(said, "\"/sluice/packs\": {\"generation\": 1"), "%s", said);
	cr_assert_not_null(strstr(said, "\"/ethdev/list\": [0, 1]"), "%s", said);
	free(said);
	free(pipeline);

	/* The busiest rule, from `stats rules`. */
	struct sluice_json *rs = control(sock, "stats rules");
	const struct sluice_json *list = rs != NULL ? sluice_json_get(rs, "rules") : NULL;
	cr_assert(list != NULL && list->type == SLUICE_JSON_ARRAY && list->count > 0);
	const struct sluice_json *top = list->items[0];
	for (size_t i = 1; i < list->count; i++)
		if (sluice_json_num(list->items[i], "hits", 0) > sluice_json_num(top, "hits", 0))
			top = list->items[i];
	cr_assert_gt(sluice_json_num(top, "hits", 0), 0);
	char *rule_query = fmt("sluice_rule_hits_total{slot=\"main\",rule=\"%s\"}",
			       sluice_json_str(top, "id", ""));

	/* Prometheus, scraping every second. */
	unsigned prom_port;
	char *yml = fmt("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
			"scrape_configs:\n  - job_name: sluice\n    static_configs:\n"
			"      - targets: ['%s']\n",
			listen);
	pid_t prom = prometheus_start(dir, yml, &prom_port);
	free(yml);

	const struct check checks[] = {
	    {"sum(sluice_messages_total)", "stats.total.messages"},
	    {"sum(sluice_datagrams_total)", "stats.total.datagrams"},
	    {"sum(sluice_rx_packets_total{port=\"a\"})", "stats.total.rx_packets.a"},
	    {"sum(sluice_tx_packets_total{port=\"b\"})", "stats.total.tx_packets.b"},
	    {"sum(sluice_verdicts_total{verdict=\"passed\"})", "stats.total.verdicts.passed"},
	    {"sum(sluice_verdicts_total{verdict=\"flagged\"})", "stats.total.verdicts.flagged"},
	    {"sum(sluice_verdicts_total{verdict=\"masked\"})", "stats.total.verdicts.masked"},
	    {"sum(sluice_verdicts_total{verdict=\"blocked\"})", "stats.total.verdicts.blocked"},
	    {"sum(sluice_bad_input_total{reason=\"invalid_utf8\"})",
	     "stats.total.bad_input.invalid_utf8"},
	    {"sum(sluice_datagrams_removed_total)", "stats.total.datagrams_removed"},
	    {"sum(sluice_matches_total)", "stats.total.matches"},
	    {"sum(sluice_scanned_bytes_total)", "stats.total.bytes_scanned"},
	    {"sum(sluice_events_dropped_total)", "stats.total.events_dropped"},
	    {"sluice_events_written_total", "events_written"},
	    {"sluice_generation", "generation"},
	    {"sluice_messages_total{worker=\"0\"}", "stats.workers.0.messages"},
	    {"sluice_verdicts_total{worker=\"0\",verdict=\"masked\"}",
	     "stats.workers.0.verdicts.masked"},
	};
	const size_t nchecks = sizeof(checks) / sizeof(checks[0]);
	double got[sizeof(checks) / sizeof(checks[0])], rule_got = -1, up = -1, pack_info = -1;
	bool all = false;
	double end = ts_mono_s() + 40;
	while (!all && ts_mono_s() < end) {
		ts_sleep_ms(500);
		if (!ts_child_alive(prom)) {
			char *why = slurp(prom_log);
			cr_assert_fail("prometheus exited: %s", why);
			free(why);
		}
		up = prom_value(prom_port, "up{job=\"sluice\"}");
		all = up == 1;
		for (size_t i = 0; i < nchecks; i++) {
			got[i] = prom_value(prom_port, checks[i].query);
			all = all && got[i] == num_at(stats, checks[i].stats_path);
		}
		rule_got = prom_value(prom_port, rule_query);
		pack_info = prom_value(prom_port,
				       "sluice_pack_info{slot=\"main\",pack=\"sluice-default\"}");
		all = all && pack_info == 1;
		all = all && rule_got == sluice_json_num(top, "hits", 0);
	}
	char *log = slurp(prom_log);
	cr_assert_eq(up, 1, "Prometheus never scraped the daemon: %s", log);
	for (size_t i = 0; i < nchecks; i++)
		cr_expect_eq(got[i], num_at(stats, checks[i].stats_path),
			     "%s: Prometheus %.0f, stats %.0f", checks[i].query, got[i],
			     num_at(stats, checks[i].stats_path));
	cr_expect_eq(pack_info, 1, "sluice_pack_info of the main pack: %.0f", pack_info);
	cr_expect_eq(rule_got, sluice_json_num(top, "hits", 0), "%s: Prometheus %.0f", rule_query,
		     rule_got);
	free(log);

	ts_child_stop(prom, true, 10);
	gateway_stop(&g);
	sluice_json_free(rs);
	sluice_json_free(stats);
	free(rule_query);
	free(prom_log);
	ts_rmtree(dir);
	free(dir);
}

/* The endpoint secured as docs/operations.md shows: HTTPS with a certificate
 * Prometheus is told to trust, and basic authentication. Prometheus with the
 * password scrapes the counters; a job with a wrong password, and one that
 * does not trust the certificate, get nothing (up = 0). */
Test(prometheus, scrapes_over_tls_with_basic_authentication, .timeout = 300)
{
	char *dir = ts_make_tmpdir("prometheus-tls");
	char *cert = fmt("%s/metrics.crt", dir), *key = fmt("%s/metrics.key", dir);
	char *auth = fmt("%s/metrics.auth", dir), *pass = fmt("%s/password", dir);
	char *wrong = fmt("%s/wrong", dir);
	ts_self_signed_cert(cert, key);
	const struct {
		const char *path, *text;
		mode_t mode;
	} files[] = {{auth, "scraper:fleet-0f-gateways\n", 0640},
		     {pass, "fleet-0f-gateways", 0600},
		     {wrong, "fleet-of-gateways", 0600},
		     {key, NULL, 0600}};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i].text != NULL) {
			FILE *f = fopen(files[i].path, "w");
			cr_assert_not_null(f);
			fputs(files[i].text, f);
			fclose(f);
		}
		cr_assert_eq(chmod(files[i].path, files[i].mode), 0);
	}

	struct gateway g;
	const char *secure[] = {
	    "--metrics-auth", auth, "--metrics-tls-cert", cert, "--metrics-tls-key", key, NULL};
	gateway_start(&g, dir, 200, secure);
	struct sluice_json *stats = gateway_counted(&g);
	/* Plain HTTP gets no page from the TLS endpoint. */
	cr_assert_lt(ts_http(g.metrics_port, "GET", "/metrics", NULL, NULL), 0);

	unsigned prom_port;
	char *yml = fmt("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
			"scrape_configs:\n"
			"  - job_name: sluice\n    scheme: https\n"
			"    tls_config:\n      ca_file: %s\n"
			"    basic_auth:\n      username: scraper\n      password_file: %s\n"
			"    static_configs:\n      - targets: ['%s']\n"
			"  - job_name: wrong-password\n    scheme: https\n"
			"    tls_config:\n      ca_file: %s\n"
			"    basic_auth:\n      username: scraper\n      password_file: %s\n"
			"    static_configs:\n      - targets: ['%s']\n"
			"  - job_name: untrusted\n    scheme: https\n"
			"    basic_auth:\n      username: scraper\n      password_file: %s\n"
			"    static_configs:\n      - targets: ['%s']\n",
			cert, pass, g.listen, cert, wrong, g.listen, pass, g.listen);
	pid_t prom = prometheus_start(dir, yml, &prom_port);
	free(yml);

	double up = -1, wrong_up = -1, untrusted_up = -1, messages = -1;
	double want = num_at(stats, "stats.total.messages");
	for (double end = ts_mono_s() + 40; ts_mono_s() < end; ts_sleep_ms(500)) {
		if (!ts_child_alive(prom))
			break;
		up = prom_value(prom_port, "up{job=\"sluice\"}");
		wrong_up = prom_value(prom_port, "up{job=\"wrong-password\"}");
		untrusted_up = prom_value(prom_port, "up{job=\"untrusted\"}");
		messages = prom_value(prom_port, "sum(sluice_messages_total{job=\"sluice\"})");
		if (up == 1 && messages == want && wrong_up == 0 && untrusted_up == 0)
			break;
	}
	bool alive = ts_child_alive(prom);
	ts_child_stop(prom, true, 10);
	char *prom_log = fmt("%s/prometheus.log", dir);
	char *log = slurp(prom_log);
	cr_assert(alive, "prometheus exited: %s", log);
	cr_assert_eq(up, 1, "Prometheus with the password never scraped: %s", log);
	cr_assert_eq(messages, want, "Prometheus %.0f messages, stats %.0f", messages, want);
	cr_assert_eq(wrong_up, 0, "a wrong password scraped (up %.0f)", wrong_up);
	cr_assert_eq(untrusted_up, 0, "a scraper that does not trust the certificate scraped");
	char *sluice_log = slurp(g.log);
	cr_assert_not_null(strstr(sluice_log, "metrics at https://"), "%s", sluice_log);
	free(sluice_log);
	free(log);
	free(prom_log);

	gateway_stop(&g);
	sluice_json_free(stats);
	free(cert);
	free(key);
	free(auth);
	free(pass);
	free(wrong);
	ts_rmtree(dir);
	free(dir);
}
