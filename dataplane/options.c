#include "options.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file_read.h"
#include "metrics.h"
#include "metrics_http.h"
#include "pack.h"
#include "siphash.h"
#include "suggest.h"
#include "wire_format.h"

enum value_kind {
	V_STRING,
	V_U16,
	V_UINT,
	V_DOUBLE,
	V_FLAG,
	V_POLICY,
	V_SCAN,
	V_KEY,	      /* repeatable: appended to trusted_keys or revoked_keys */
	V_PORTS,      /* repeatable, comma lists: appended to ws_ports */
	V_MEMBERS,    /* a comma list of JSON member names */
	V_CHOICE,     /* one of choices[]: its index */
	V_ACTIONS,    /* a comma list of actions: bits */
	V_CATEGORIES, /* a comma list of categories: the string, checked */
	V_CONFIG,
	V_HELP
};

struct option_spec {
	const char *name;
	char short_name;
	enum value_kind kind;
	size_t offset;
	unsigned min, max;
	const char *arg;
	const char *help;
};

static const char *const deflate_choices[] = {"strip", "allow", NULL};
static const char *const binary_choices[] = {"reset", "pass", NULL};
static const char *const block_choices[] = {"blank", "reset", NULL};
static const char *const tcp_checksum_choices[] = {"port", "software", NULL};
static const char *const events_full_choices[] = {"drop", "wait", NULL};
static const char *const severity_choices[] = {"low", "medium", "high", "critical", NULL};

#define OFF(field) offsetof(struct sluice_options, field)

static const struct option_spec specs[] = {
    {"config", 'c', V_CONFIG, 0, 0, 0, "FILE",
     "read options from FILE (`name = value` lines; command line wins)"},
    {"rules", 'r', V_STRING, OFF(rules), 0, 0, "FILE",
     "pack (.pack) or rule file (.yaml) to load at start (required)"},
    {"port-a", 0, V_U16, OFF(port_a), 0, 1023, "N", "DPDK port id of side A (default 0)"},
    {"port-b", 0, V_U16, OFF(port_b), 0, 1023, "N", "DPDK port id of side B (default 1)"},
    {"udp-port", 'p', V_U16, OFF(udp_port), 1, 65535, "N",
     "UDP destination port carrying messages (default 7700)"},
    {"events", 'e', V_STRING, OFF(events), 0, 0, "FILE",
     "append JSON-lines events to FILE; '-' is stdout, 'none' no file (with --events-bus)"
     " (default -)"},
    {"control-socket", 's', V_STRING, OFF(control_socket), 0, 0, "PATH",
     "control socket for sluicectl; 'none' for none (default " SLUICE_DEFAULT_CONTROL_SOCKET ")"},
    {"summary", 0, V_STRING, OFF(summary), 0, 0, "FILE",
     "also write the exit summary as JSON to FILE"},
    {"burst", 'b', V_UINT, OFF(burst), 1, 256, "N", "packets per RX/TX burst (default 32)"},
    {"scan", 0, V_SCAN, OFF(scan_mode), 0, 0, "MODE",
     "batch (default): a burst's messages go to Hyperscan together, one call per database,"
     " with the same results as message: one call per database per message"},
    {"mbufs", 0, V_UINT, OFF(mbufs), 1023, 4194303, "N",
     "mbufs in the packet pool (default: enough for every queue)"},
    {"rx-desc", 0, V_UINT, OFF(rx_desc), 32, 32768, "N", "RX descriptors per queue (1024)"},
    {"tx-desc", 0, V_UINT, OFF(tx_desc), 32, 32768, "N", "TX descriptors per queue (1024)"},
    {"event-ring", 0, V_UINT, OFF(event_ring), 64, 1u << 24, "N",
     "events buffered per worker, a power of two (default 65536)"},
    {"events-full", 0, V_CHOICE, OFF(events_full), 0, 0, "drop|wait",
     "a worker whose event ring is full: drop (default) counts the event as dropped and"
     " never delays traffic; wait holds the worker until the sink makes room, for at most"
     " --events-wait-us per event (back-pressure: packets queue at the port meanwhile, and"
     " past its descriptors the port drops them, counted as rx_missed), then drops it"},
    {"events-wait-us", 0, V_UINT, OFF(events_wait_us), 1, 10000000, "US",
     "with --events-full wait, the longest one event waits for room (default 1000)"},
    {"event-snippet", 0, V_UINT, OFF(event_snippet), 0, SLUICE_EVENT_SNIPPET_MAX, "BYTES",
     "match events carry up to BYTES of the matched text, cut before a character"
     " (default 0: none, for privacy; at most 128)"},
    {"event-hash-key", 0, V_STRING, OFF(event_hash_key), 0, 0, "FILE",
     "key of the matched text's hash in match events: 32 hex digits (openssl rand -hex"
     " 16), the same on every gateway; without it the hash is unkeyed and a short text"
     " such as a phone number can be found from it by trying every one"},
    {"events-actions", 0, V_ACTIONS, OFF(events_actions), 0, 0, "ACTION[,ACTION...]",
     "write match events only of rules with these actions: flag, mask, block"
     " (default: all)"},
    {"events-categories", 0, V_CATEGORIES, OFF(events_categories), 0, 0, "NAME[,NAME...]",
     "write match events only of rules in these categories (default: all)"},
    {"events-min-severity", 0, V_CHOICE, OFF(events_severity), 0, 0, "low|medium|high|critical",
     "write match events only of rules this severe or more"
     " (default low: all)"},
    {"events-flag-sample", 0, V_UINT, OFF(events_flag_sample), 1, 1000000, "N",
     "write the 1st, N+1st, 2N+1st ... event of each flag rule, counting the rest as"
     " sampled out (default 1: all)"},
    {"events-max-mb", 0, V_UINT, OFF(events_max_mb), 0, 1048576, "MB",
     "rotate the events file before it passes MB MiB: FILE becomes FILE.1, FILE.1"
     " FILE.2 ... (default 0: never; SIGHUP reopens FILE after an outside rotation)"},
    {"events-keep", 0, V_UINT, OFF(events_keep), 1, 1000, "N",
     "rotated events files kept, FILE.1 to FILE.N (default 5)"},
    {"metrics-listen", 0, V_STRING, OFF(metrics_listen), 0, 0, "ADDR:PORT",
     "serve Prometheus metrics at http://ADDR:PORT/metrics from the control thread;"
     " ADDR an IPv4 address or a bracketed IPv6 one, e.g. 127.0.0.1:9470 or [::1]:9470"
     " (default: off)"},
    {"metrics-auth", 0, V_STRING, OFF(metrics_auth), 0, 0, "FILE",
     "require HTTP basic authentication of scrapers: FILE's first line is USER:PASSWORD"
     " (FILE readable by its owner and group only; use with --metrics-tls-cert, or the"
     " password travels in clear)"},
    {"metrics-tls-cert", 0, V_STRING, OFF(metrics_tls_cert), 0, 0, "FILE",
     "serve /metrics over HTTPS only, with this PEM certificate (chain) and"
     " --metrics-tls-key"},
    {"metrics-tls-key", 0, V_STRING, OFF(metrics_tls_key), 0, 0, "FILE",
     "the PEM private key of --metrics-tls-cert (readable by its owner and group only)"},
    {"metrics-rule-limit", 0, V_UINT, OFF(metrics_rule_limit), 1, 100000, "N",
     "most rules with a sluice_rule_hits_total series of their own; the others are"
     " summed in rule=\"_other\" (default 500)"},
    {"events-bus", 0, V_STRING, OFF(events_bus), 0, 0, "nats://HOST:PORT[,nats://...]",
     "also publish every event written to NATS JetStream, at least once: an event leaves"
     " Sluice's custody when the stream acknowledges it (--events none: the bus alone;"
     " default: no bus)"},
    {"events-stream", 0, V_STRING, OFF(events_stream), 0, 0, "NAME",
     "JetStream stream taking sluice.events.>; created when missing (default SLUICE_EVENTS)"},
    {"events-stream-replicas", 0, V_UINT, OFF(events_stream_replicas), 1, 5, "N",
     "replicas of a stream Sluice creates (default 1; 3 on a three-node cluster)"},
    {"events-bus-pending", 0, V_UINT, OFF(events_bus_pending), 1, 65536, "N",
     "events published and not yet acknowledged, at most (default 1024)"},
    {"events-bus-ack-ms", 0, V_UINT, OFF(events_bus_ack_ms), 100, 600000, "MS",
     "an ack not back within MS counts as a failure: the event is sent again"
     " (default 5000)"},
    {"events-spool", 0, V_STRING, OFF(events_spool), 0, 0, "FILE",
     "while the bus is unreachable or behind, events wait in FILE, drained in order when it"
     " returns and at the next start (default: none: events the window cannot hold are"
     " lost, and counted)"},
    {"events-spool-mb", 0, V_UINT, OFF(events_spool_mb), 1, 1048576, "MB",
     "the spool's size limit; past it events are lost, and counted (default 256)"},
    {"gateway-name", 0, V_STRING, OFF(gateway_name), 0, 0, "NAME",
     "this gateway's name in the fleet's status and in event message ids; 1 to 63 of"
     " A-Z a-z 0-9 _ - (default: the host name)"},
    {"pack-source", 0, V_STRING, OFF(pack_source), 0, 0, "nats://HOST:PORT[,nats://...]",
     "watch this NATS JetStream bucket for the packs the fleet's operators publish"
     " (sluicectl fleet publish) to this gateway's group, load each through the same"
     " checks as a reload, and report what runs to the status bucket (default: none)"},
    {"pack-bucket", 0, V_STRING, OFF(pack_bucket), 0, 0, "NAME",
     "the key-value bucket of packs and targets; the status bucket is NAME_STATUS"
     " (default SLUICE_PACKS)"},
    {"pack-bucket-replicas", 0, V_UINT, OFF(pack_bucket_replicas), 1, 5, "N",
     "replicas of the two buckets when this gateway creates them (default 1; 3 on a"
     " three-node cluster); buckets that exist are used as they are"},
    {"fleet-group", 0, V_STRING, OFF(fleet_group), 0, 0, "GROUP",
     "this gateway's rollout group, e.g. canary (default main)"},
    {"pack-cache", 0, V_STRING, OFF(pack_cache), 0, 0, "DIR",
     "where packs fetched from --pack-source are kept; the last one loaded in each slot"
     " is loaded at the next start, before the bus is reached (default"
     " /var/lib/sluice/fleet)"},
    {"fleet-heartbeat-ms", 0, V_UINT, OFF(fleet_heartbeat_ms), 100, 600000, "MS",
     "how often the gateway rewrites its status; three missed make it stale"
     " (default 2000)"},
    {"bus-ca", 0, V_STRING, OFF(bus_ca), 0, 0, "FILE",
     "speak TLS to the events bus and the pack source, trusting these CAs (PEM)"},
    {"bus-cert", 0, V_STRING, OFF(bus_cert), 0, 0, "FILE",
     "this gateway's TLS certificate (PEM), for NATS servers that verify clients"},
    {"bus-key", 0, V_STRING, OFF(bus_key), 0, 0, "FILE",
     "the private key of --bus-cert (readable by its owner and group only)"},
    {"bus-user-file", 0, V_STRING, OFF(bus_user_file), 0, 0, "FILE",
     "log in to NATS as USER:PASSWORD, FILE's first line (readable by its owner and"
     " group only)"},
    {"bus-creds", 0, V_STRING, OFF(bus_creds), 0, 0, "FILE",
     "log in to NATS with a credentials file (user JWT and NKey seed)"},
    {"now", 0, V_STRING, OFF(now), 0, 0, "TIME",
     "judge rules' start and expiry dates as if the clock read TIME (YYYY-MM-DD or"
     " YYYY-MM-DDTHH:MM:SSZ, UTC) at start, and ran on from there: a rehearsal of a date;"
     " audit lines, events and stats keep the real time (default: the clock)"},
    {"history", 0, V_UINT, OFF(history), 2, 64, "N",
     "packs kept for rollback per slot, the active one included (default 8)"},
    {"urgent-rules", 0, V_STRING, OFF(urgent_rules), 0, 0, "FILE",
     "pack (.pack or .yaml) for the urgent slot, scanned beside the main pack"
     " and swapped on its own (default: none)"},
    {"memory-cap-mb", 0, V_UINT, OFF(memory_cap_mb), 0, 1048576, "N",
     "refuse a load or rollback that would take the memory held for packs past N MiB:"
     " databases and scratch of the running and the new generation, which live together"
     " until the swap's grace period ends, and the packs kept for rollback (default 0:"
     " no cap)"},
    {"audit-log", 0, V_STRING, OFF(audit_log), 0, 0, "FILE",
     "append one JSON line per load, rollback, unload, expiry and refusal to FILE;"
     " '-' is stderr (default: none)"},
    {"socket-group", 0, V_STRING, OFF(socket_group), 0, 0, "NAME",
     "group that owns the control socket; other non-root clients are refused"
     " (default: the daemon's group)"},
    {"trusted-key", 0, V_KEY, OFF(trusted_keys), 0, 0, "FILE",
     "public key (PEM, Ed25519) whose signatures are trusted; a signed pack needs"
     " --signatures-required of them, and one whose trusted signature does not verify"
     " is refused; repeatable"},
    {"signatures-required", 0, V_UINT, OFF(signatures_required), 1, SLUICE_PACK_MAX_SIGS, "N",
     "distinct --trusted-key keys that must have signed a pack (two-person approval: 2);"
     " signatures by other keys are not counted (default 1; at most the keys trusted;"
     " above 1 needs --require-signed)"},
    {"revoked-key", 0, V_KEY, OFF(revoked_keys), 0, 0, "KEY",
     "a key whose packs are refused, at start and on every reload, whatever other"
     " signatures they carry: its id (64 hex digits, as sluice-pack keygen and verify"
     " print it) or a PEM file of either half; never also a --trusted-key; repeatable"},
    {"require-signed", 0, V_FLAG, OFF(require_signed), 0, 0, NULL,
     "load only packs signed by --signatures-required --trusted-key keys (no unsigned"
     " packs, no .yaml rule files), at start and on every reload"},
    {"check-config", 0, V_FLAG, OFF(check_config), 0, 0, NULL,
     "check the options, the config file and the packs (signatures, memory cap), the"
     " socket group and where files go, without starting DPDK; print them and exit"
     " (0 ok, 2 not). EAL options and '--' may be left out"},
    {"offline", 'o', V_FLAG, OFF(offline), 0, 0, NULL,
     "replay mode: exit once every RX queue has been idle for --idle-ms"},
    {"idle-ms", 0, V_UINT, OFF(idle_ms), 1, 3600000, "MS",
     "idle time that ends --offline (default 500)"},
    {"duration", 'd', V_DOUBLE, OFF(duration_s), 0, 0, "SECONDS",
     "stop after this long (default: run until SIGINT/SIGTERM or `sluicectl stop`)"},
    {"stall-ms", 0, V_UINT, OFF(stall_ms), 1, 3600000, "MS",
     "a worker that has not finished a loop for this long is reported stuck and swaps"
     " are refused (default 1000)"},
    {"policy", 0, V_POLICY, 0, 0, 0, "REASON=ACTION",
     "bad-input policy; REASON is a reason name or 'all', ACTION is drop (default,"
     " with an event), drop-quiet, or replace (invalid_utf8 only: invalid bytes become"
     " '?' and the repaired text is scanned and forwarded); repeatable"},
    {"ws-port", 0, V_PORTS, 0, 1, 65535, "PORT[,PORT...]",
     "TCP port of a WebSocket chat service behind TLS termination: its connections are"
     " followed and every text message is scanned before any byte of it is forwarded;"
     " repeatable (default: none)"},
    {"ws-members", 0, V_MEMBERS, 0, 0, 0, "NAME[,NAME...]",
     "in JSON text messages, scan only the string values of these members, at any depth"
     " (e.g. text,content); other text is scanned whole (default: scan whole messages)"},
    {"flows", 0, V_UINT, OFF(flows), 1, 16777216, "N",
     "TCP connections followed per worker; a new one beyond is refused (default 65536)"},
    {"flow-kib", 0, V_UINT, OFF(flow_kib), 4, 65536, "KIB",
     "bytes held per direction of a connection, unacknowledged and incomplete messages;"
     " beyond, the connection is reset (default 256)"},
    {"stream-memory-mb", 0, V_UINT, OFF(stream_memory_mb), 1, 65536, "MB",
     "stream bytes per worker, all connections together (default 64)"},
    {"hold-ms", 0, V_UINT, OFF(hold_ms), 1, 600000, "MS",
     "longest a message may stay incomplete before its connection is reset (default 500)"},
    {"ws-max-message", 0, V_UINT, OFF(ws_max_message), 16, 16777216, "BYTES",
     "largest WebSocket message scanned; a larger one resets its connection"
     " (default 65536)"},
    {"ws-deflate", 0, V_CHOICE, OFF(ws_deflate), 0, 0, "strip|allow",
     "strip (default): rename the client's Sec-WebSocket-Extensions header in place so"
     " the connection is not compressed; allow: leave it (compressed messages cannot be"
     " scanned and reset their connection)"},
    {"ws-binary", 0, V_CHOICE, OFF(ws_binary), 0, 0, "reset|pass",
     "binary WebSocket messages: reset the connection (default) or pass them unscanned"
     " (counted)"},
    {"tcp-checksum", 0, V_CHOICE, OFF(tcp_checksum), 0, 0, "port|software",
     "who verifies chat segments' TCP checksums: port (default): a port that can verify"
     " them on receive is asked to, and its verdict stands (a bad one is dropped as"
     " tcp_checksum); segments it did not verify are summed by the worker; software: the"
     " worker sums every one"},
    {"stream-block", 0, V_CHOICE, OFF(stream_block), 0, 0, "blank|reset",
     "a blocked message in a stream: blank its text in place, same length (default), or"
     " reset the connection both ways"},
    {"help", 'h', V_HELP, 0, 0, 0, NULL, "show this help"},
};

#define SPEC_COUNT (sizeof(specs) / sizeof(specs[0]))

void sluice_options_defaults(struct sluice_options *opt)
{
	memset(opt, 0, sizeof(*opt));
	opt->port_a = 0;
	opt->port_b = 1;
	opt->udp_port = SLUICE_WIRE_DEFAULT_PORT;
	opt->events = strdup("-");
	opt->control_socket = strdup(SLUICE_DEFAULT_CONTROL_SOCKET);
	opt->burst = 32;
	opt->rx_desc = 1024;
	opt->tx_desc = 1024;
	opt->event_ring = 65536;
	opt->events_wait_us = 1000;
	opt->events_flag_sample = 1;
	opt->events_keep = 5;
	opt->events_stream = strdup("SLUICE_EVENTS");
	opt->events_stream_replicas = 1;
	opt->events_bus_pending = 1024;
	opt->events_bus_ack_ms = 5000;
	opt->events_spool_mb = 256;
	opt->fleet_group = strdup(SLUICE_FLEET_DEFAULT_GROUP);
	opt->pack_cache = strdup(SLUICE_FLEET_DEFAULT_CACHE);
	opt->pack_bucket = strdup(SLUICE_FLEET_BUCKET);
	opt->pack_bucket_replicas = 1;
	opt->fleet_heartbeat_ms = SLUICE_FLEET_HEARTBEAT_MS;
	opt->history = 8;
	opt->idle_ms = 500;
	opt->stall_ms = 1000;
	opt->metrics_rule_limit = SLUICE_METRICS_RULE_LIMIT_DEFAULT;
	opt->flows = 65536;
	opt->flow_kib = 256;
	opt->stream_memory_mb = 64;
	opt->hold_ms = 3000;
	opt->ws_max_message = 65536;
	for (unsigned i = 0; i < SLUICE_BAD_REASON_COUNT; i++)
		opt->policy[i] = SLUICE_POLICY_DROP;
}

void sluice_options_free(struct sluice_options *opt)
{
	free(opt->rules);
	free(opt->events);
	free(opt->control_socket);
	free(opt->summary);
	free(opt->urgent_rules);
	free(opt->audit_log);
	free(opt->socket_group);
	free(opt->now);
	free(opt->metrics_listen);
	opt->metrics_listen = NULL;
	free(opt->metrics_auth);
	free(opt->metrics_tls_cert);
	free(opt->metrics_tls_key);
	opt->metrics_auth = opt->metrics_tls_cert = opt->metrics_tls_key = NULL;
	free(opt->event_hash_key);
	free(opt->events_categories);
	opt->event_hash_key = opt->events_categories = NULL;
	free(opt->events_bus);
	free(opt->events_stream);
	free(opt->events_spool);
	opt->events_bus = opt->events_stream = opt->events_spool = NULL;
	free(opt->gateway_name);
	free(opt->pack_source);
	free(opt->pack_bucket);
	free(opt->fleet_group);
	free(opt->pack_cache);
	opt->gateway_name = opt->pack_source = opt->pack_bucket = NULL;
	opt->fleet_group = opt->pack_cache = NULL;
	char **bus_files[] = {&opt->bus_ca, &opt->bus_cert, &opt->bus_key, &opt->bus_user_file,
			      &opt->bus_creds};
	for (size_t i = 0; i < sizeof(bus_files) / sizeof(bus_files[0]); i++) {
		free(*bus_files[i]);
		*bus_files[i] = NULL;
	}
	for (unsigned i = 0; i < opt->trusted_key_count; i++) {
		free(opt->trusted_keys[i]);
		opt->trusted_keys[i] = NULL;
	}
	opt->trusted_key_count = 0;
	for (unsigned i = 0; i < opt->revoked_key_count; i++) {
		free(opt->revoked_keys[i]);
		opt->revoked_keys[i] = NULL;
	}
	opt->revoked_key_count = 0;
	opt->rules = opt->events = opt->control_socket = opt->summary = NULL;
	opt->urgent_rules = opt->audit_log = opt->socket_group = opt->now = NULL;
}

static const struct option_spec *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < SPEC_COUNT; i++) {
		if (strlen(specs[i].name) == len && strncmp(specs[i].name, name, len) == 0)
			return &specs[i];
	}
	return NULL;
}

/* " (did you mean 'history'?)" for a misspelt option name, or "". */
static const char *closest_option(const char *name, size_t len, bool in_file, char *hint,
				  size_t size)
{
	struct sluice_suggestion s;
	sluice_suggest_begin(&s, name, len, 2);
	for (size_t i = 0; i < SPEC_COUNT; i++)
		if (specs[i].kind != V_HELP && !(in_file && specs[i].kind == V_CONFIG))
			sluice_suggest_offer(&s, specs[i].name);
	return sluice_suggest_hint(s.best, hint, size);
}

bool sluice_options_is_known(const char *arg)
{
	if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
		return false;
	const char *eq = strchr(arg + 2, '=');
	return find_long(arg + 2, eq != NULL ? (size_t)(eq - arg - 2) : strlen(arg + 2)) != NULL;
}

static const struct option_spec *find_short(char c)
{
	for (size_t i = 0; i < SPEC_COUNT; i++) {
		if (specs[i].short_name == c)
			return &specs[i];
	}
	return NULL;
}

static int parse_policy(const char *value, struct sluice_options *opt, char *err, size_t err_len,
			const char *where)
{
	const char *eq = strchr(value, '=');
	if (eq == NULL) {
		snprintf(err, err_len,
			 "%s--policy '%s': expected REASON=ACTION, e.g. "
			 "invalid_utf8=replace",
			 where, value);
		return -1;
	}
	char reason_name[64];
	size_t n = (size_t)(eq - value);
	if (n >= sizeof(reason_name))
		n = sizeof(reason_name) - 1;
	memcpy(reason_name, value, n);
	reason_name[n] = '\0';
	enum sluice_bad_policy policy;
	if (!sluice_bad_policy_parse(eq + 1, &policy)) {
		snprintf(err, err_len,
			 "%s--policy '%s': unknown action '%s' (drop, drop-quiet, "
			 "replace)",
			 where, value, eq + 1);
		return -1;
	}
	if (strcmp(reason_name, "all") == 0) {
		for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++) {
			if (sluice_bad_policy_allowed((enum sluice_bad_reason)r, policy))
				opt->policy[r] = policy;
		}
		return 0;
	}
	enum sluice_bad_reason reason;
	if (!sluice_bad_reason_parse(reason_name, &reason)) {
		int len =
		    snprintf(err, err_len, "%s--policy '%s': unknown reason '%s'; reasons:", where,
			     value, reason_name);
		for (unsigned r = 1;
		     r < SLUICE_BAD_REASON_COUNT && len > 0 && (size_t)len < err_len; r++)
			len += snprintf(err + len, err_len - (size_t)len, " %s",
					sluice_bad_reason_name((enum sluice_bad_reason)r));
		return -1;
	}
	if (!sluice_bad_policy_allowed(reason, policy)) {
		snprintf(err, err_len, "%s--policy '%s': %s applies only to invalid_utf8", where,
			 value, sluice_bad_policy_name(policy));
		return -1;
	}
	opt->policy[reason] = policy;
	return 0;
}

static int parse_ports(const struct option_spec *spec, const char *value,
		       struct sluice_options *opt, char *err, size_t err_len, const char *where)
{
	const char *p = value;
	for (;;) {
		char *end = NULL;
		errno = 0;
		unsigned long v = isdigit((unsigned char)*p) ? strtoul(p, &end, 10) : 0;
		if (end == NULL || errno != 0 || v < 1 || v > 65535 ||
		    (*end != ',' && *end != '\0')) {
			snprintf(err, err_len,
				 "%s--%s '%s': expected ports from 1 to 65535, e.g. 8080,8443",
				 where, spec->name, value);
			return -1;
		}
		bool seen = false;
		for (unsigned i = 0; i < opt->ws_port_count; i++)
			seen |= opt->ws_ports[i] == v;
		if (!seen) {
			if (opt->ws_port_count == SLUICE_MAX_WS_PORTS) {
				snprintf(err, err_len, "%s--%s: at most %u ports", where,
					 spec->name, SLUICE_MAX_WS_PORTS);
				return -1;
			}
			opt->ws_ports[opt->ws_port_count++] = (uint16_t)v;
		}
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

static int apply(const struct option_spec *spec, const char *value, struct sluice_options *opt,
		 char *err, size_t err_len, const char *where)
{
	char *base = (char *)opt;
	char *end = NULL;

	switch (spec->kind) {
	case V_STRING: {
		char **slot = (char **)(base + spec->offset);
		free(*slot);
		*slot = strdup(value);
		return 0;
	}
	case V_U16:
	case V_UINT: {
		errno = 0;
		unsigned long v = strtoul(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' || !isdigit((unsigned char)*value) ||
		    v < spec->min || v > spec->max) {
			snprintf(err, err_len, "%s--%s '%s': expected a whole number from %u to %u",
				 where, spec->name, value, spec->min, spec->max);
			return -1;
		}
		if (spec->kind == V_U16)
			*(uint16_t *)(base + spec->offset) = (uint16_t)v;
		else
			*(unsigned *)(base + spec->offset) = (unsigned)v;
		return 0;
	}
	case V_DOUBLE: {
		errno = 0;
		double v = strtod(value, &end);
		if (errno != 0 || end == value || *end != '\0' || !(v >= 0)) {
			snprintf(err, err_len, "%s--%s '%s': expected a number of seconds >= 0",
				 where, spec->name, value);
			return -1;
		}
		*(double *)(base + spec->offset) = v;
		return 0;
	}
	case V_FLAG: {
		bool v;
		if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
		    strcmp(value, "1") == 0) {
			v = true;
		} else if (strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
			   strcmp(value, "0") == 0) {
			v = false;
		} else {
			snprintf(err, err_len, "%s%s = '%s': expected true or false", where,
				 spec->name, value);
			return -1;
		}
		*(bool *)(base + spec->offset) = v;
		return 0;
	}
	case V_POLICY:
		return parse_policy(value, opt, err, err_len, where);
	case V_SCAN:
		if (strcmp(value, "batch") == 0) {
			opt->scan_mode = SLUICE_SCAN_BATCH;
		} else if (strcmp(value, "message") == 0) {
			opt->scan_mode = SLUICE_SCAN_MESSAGE;
		} else {
			snprintf(err, err_len, "%s--%s '%s': expected batch or message", where,
				 spec->name, value);
			return -1;
		}
		return 0;
	case V_KEY: {
		bool trust = spec->offset == OFF(trusted_keys);
		char **keys = trust ? opt->trusted_keys : opt->revoked_keys;
		unsigned *count = trust ? &opt->trusted_key_count : &opt->revoked_key_count;
		if (*count == SLUICE_MAX_TRUSTED_KEYS) {
			snprintf(err, err_len, "%s--%s '%s': at most %u %s keys", where, spec->name,
				 value, SLUICE_MAX_TRUSTED_KEYS, trust ? "trusted" : "revoked");
			return -1;
		}
		keys[(*count)++] = strdup(value);
		return 0;
	}
	case V_PORTS:
		return parse_ports(spec, value, opt, err, err_len, where);
	case V_MEMBERS: {
		char why[256];
		if (sluice_json_members_parse(&opt->ws_members, value, why, sizeof(why)) != 0) {
			snprintf(err, err_len, "%s--%s '%s': %s", where, spec->name, value, why);
			return -1;
		}
		return 0;
	}
	case V_CHOICE: {
		const char *const *choices =
		    spec->offset == OFF(ws_deflate)	   ? deflate_choices
		    : spec->offset == OFF(ws_binary)	   ? binary_choices
		    : spec->offset == OFF(events_full)	   ? events_full_choices
		    : spec->offset == OFF(events_severity) ? severity_choices
		    : spec->offset == OFF(tcp_checksum)	   ? tcp_checksum_choices
							   : block_choices;
		for (unsigned c = 0; choices[c] != NULL; c++)
			if (strcmp(value, choices[c]) == 0) {
				*(unsigned *)(base + spec->offset) = c;
				return 0;
			}
		snprintf(err, err_len, "%s--%s '%s': expected %s", where, spec->name, value,
			 spec->arg);
		return -1;
	}
	case V_ACTIONS: {
		char why[256];
		if (sluice_event_actions_parse(value, (unsigned *)(base + spec->offset), why,
					       sizeof(why)) != 0) {
			snprintf(err, err_len, "%s--%s '%s': %s", where, spec->name, value, why);
			return -1;
		}
		return 0;
	}
	case V_CATEGORIES: {
		char why[256];
		if (sluice_event_categories_check(value, why, sizeof(why)) != 0) {
			snprintf(err, err_len, "%s--%s '%s': %s", where, spec->name, value, why);
			return -1;
		}
		char **slot = (char **)(base + spec->offset);
		free(*slot);
		*slot = strdup(value);
		return 0;
	}
	case V_CONFIG:
		return sluice_options_load_file(value, opt, err, err_len);
	case V_HELP:
		opt->help = true;
		return 0;
	}
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int sluice_options_load_file(const char *path, struct sluice_options *opt, char *err,
			     size_t err_len)
{
	char why[256];
	FILE *f = sluice_file_fopen_regular(path, why, sizeof(why));
	if (f == NULL) {
		snprintf(err, err_len, "%s: config file: %s", path, why);
		return -1;
	}
	char line[4096];
	unsigned lineno = 0;
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		char *s = trim(line);
		if (*s == '\0')
			continue;
		char where[512];
		snprintf(where, sizeof(where), "%s:%u: ", path, lineno);
		char *eq = strchr(s, '=');
		char *name = s, *value = NULL;
		if (eq != NULL) {
			*eq = '\0';
			name = trim(s);
			value = trim(eq + 1);
		}
		const struct option_spec *spec = find_long(name, strlen(name));
		if (spec == NULL || spec->kind == V_HELP || spec->kind == V_CONFIG) {
			char hint[SLUICE_SUGGEST_HINT_MAX];
			snprintf(err, err_len, "%sunknown option '%s'%s (see sluice --help)", where,
				 name,
				 closest_option(name, strlen(name), true, hint, sizeof(hint)));
			rc = -1;
		} else if (value == NULL && spec->kind != V_FLAG) {
			snprintf(err, err_len, "%s'%s' needs a value: %s = %s", where, name, name,
				 spec->arg);
			rc = -1;
		} else {
			rc = apply(spec, value, opt, err, err_len, where);
		}
	}
	fclose(f);
	return rc;
}

/* Walks the arguments; the first pass applies only --config, the second all the
 * rest, so the file is read first and the command line wins wherever it sits. */
static int walk_arguments(int argc, char **argv, struct sluice_options *opt, bool config_pass,
			  char *err, size_t err_len)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const struct option_spec *spec = NULL;
		const char *value = NULL;

		if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq != NULL ? (size_t)(eq - name) : strlen(name);
			spec = find_long(name, len);
			if (spec == NULL) {
				char hint[SLUICE_SUGGEST_HINT_MAX];
				snprintf(err, err_len, "unknown option '%.*s'%s (see --help)",
					 (int)(len + 2), arg,
					 closest_option(name, len, false, hint, sizeof(hint)));
				return -1;
			}
			if (eq != NULL)
				value = eq + 1;
		} else if (arg[0] == '-' && arg[1] != '\0' && arg[2] == '\0') {
			spec = find_short(arg[1]);
			if (spec == NULL) {
				snprintf(err, err_len, "unknown option '%s' (see --help)", arg);
				return -1;
			}
		} else {
			snprintf(err, err_len, "unexpected argument '%s' (see --help)", arg);
			return -1;
		}
		bool takes_value = spec->kind != V_FLAG && spec->kind != V_HELP;
		if (takes_value && value == NULL) {
			if (i + 1 >= argc) {
				snprintf(err, err_len, "--%s needs a value: --%s %s", spec->name,
					 spec->name, spec->arg);
				return -1;
			}
			value = argv[++i];
		}
		if ((spec->kind == V_CONFIG) != config_pass)
			continue;
		if (apply(spec, value, opt, err, err_len, "") != 0)
			return -1;
	}
	return 0;
}

int sluice_options_parse(int argc, char **argv, struct sluice_options *opt, char *err,
			 size_t err_len)
{
	if (walk_arguments(argc, argv, opt, true, err, err_len) != 0 ||
	    walk_arguments(argc, argv, opt, false, err, err_len) != 0)
		return -1;
	if (opt->help)
		return 0;
	if (opt->rules == NULL) {
		snprintf(err, err_len,
			 "no rules: give --rules FILE (a .pack or a .yaml rule file)");
		return -1;
	}
	if (opt->require_signed && opt->trusted_key_count == 0) {
		snprintf(err, err_len,
			 "--require-signed needs at least one --trusted-key: no pack could load");
		return -1;
	}
	/* How many trusted keys there are is the trust's to count (two files
	 * may hold one key): sluice_options_trust(). */
	if (opt->signatures_required > 1 && !opt->require_signed) {
		snprintf(err, err_len,
			 "--signatures-required %u needs --require-signed: without it an unsigned "
			 "pack would still load",
			 opt->signatures_required);
		return -1;
	}
	if (opt->socket_group != NULL && opt->socket_group[0] == '\0') {
		snprintf(err, err_len, "--socket-group: needs a group name");
		return -1;
	}
	if (opt->port_a == opt->port_b) {
		snprintf(err, err_len, "--port-a and --port-b are both %u: they must differ",
			 opt->port_a);
		return -1;
	}
	for (unsigned i = 0; i < opt->ws_port_count; i++)
		if (opt->ws_ports[i] == opt->udp_port) {
			snprintf(err, err_len,
				 "--ws-port %u is also --udp-port: a port carries one format",
				 opt->udp_port);
			return -1;
		}
	if ((opt->event_ring & (opt->event_ring - 1)) != 0) {
		snprintf(err, err_len, "--event-ring %u: must be a power of two", opt->event_ring);
		return -1;
	}
	if (opt->metrics_listen != NULL && opt->metrics_listen[0] == '\0') {
		free(opt->metrics_listen);
		opt->metrics_listen = NULL;
	}
	struct sockaddr_storage metrics_addr;
	if (opt->metrics_listen != NULL &&
	    sluice_metrics_parse_listen(opt->metrics_listen, &metrics_addr, err, err_len) != 0)
		return -1;
	if (opt->metrics_listen == NULL &&
	    (opt->metrics_auth != NULL || opt->metrics_tls_cert != NULL ||
	     opt->metrics_tls_key != NULL)) {
		snprintf(err, err_len,
			 "--metrics-auth and --metrics-tls-cert/-key secure --metrics-listen,"
			 " which is not given");
		return -1;
	}
	if (opt->events_bus == NULL && opt->pack_source == NULL &&
	    (opt->bus_ca != NULL || opt->bus_cert != NULL || opt->bus_key != NULL ||
	     opt->bus_user_file != NULL || opt->bus_creds != NULL)) {
		snprintf(err, err_len,
			 "--bus-ca, --bus-cert, --bus-key, --bus-user-file and --bus-creds secure"
			 " --events-bus and --pack-source, and neither is given");
		return -1;
	}
	if ((opt->metrics_tls_cert == NULL) != (opt->metrics_tls_key == NULL)) {
		snprintf(err, err_len, "--metrics-tls-cert and --metrics-tls-key go together");
		return -1;
	}
	if (opt->now != NULL && !sluice_options_parse_time(opt->now, &opt->now_s)) {
		snprintf(err, err_len,
			 "--now '%s': write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC), for example "
			 "2026-12-31 or 2026-12-31T23:59:00Z",
			 opt->now);
		return -1;
	}
	return 0;
}

bool sluice_options_parse_time(const char *text, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	size_t len = strlen(text);

	if (len != 10 && len != 20)
		return false;
	for (size_t i = 0; i < len; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)text[i]) : text[i] != shape[i])
			return false;
	int y = atoi(text), mo = atoi(text + 5), d = atoi(text + 8);
	int h = len == 20 ? atoi(text + 11) : 0, mi = len == 20 ? atoi(text + 14) : 0;
	int sec = len == 20 ? atoi(text + 17) : 0;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days[mo - 1] + (mo == 2 && leap) ||
	    h > 23 || mi > 59 || sec > 59)
		return false;
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = sec};
	*out = (int64_t)timegm(&tm);
	return true;
}

void sluice_options_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [EAL options] -- [sluice options]\n"
		"\n"
		"Sluice scans chat and comment messages carried in UDP between two DPDK ports,\n"
		"applies each message's verdict (pass, flag, mask, block) in the packet and\n"
		"forwards everything else untouched, in both directions. One worker per EAL\n"
		"worker lcore polls one RX queue on each port; the main lcore runs the\n"
		"control thread.\n"
		"\n"
		"EAL options (DPDK's; common ones): -l CORES (main + workers, e.g. -l 0-2),\n"
		"  --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap, -a PCI_ADDRESS,\n"
		"  --no-huge -m MB, --file-prefix NAME. See dpdk-testpmd --help for all.\n"
		"\n"
		"Sluice options:\n",
		prog);
	for (size_t i = 0; i < SPEC_COUNT; i++) {
		const struct option_spec *s = &specs[i];
		char left[64];
		if (s->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", s->short_name, s->name,
				 s->arg ? " " : "", s->arg ? s->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", s->name, s->arg ? " " : "",
				 s->arg ? s->arg : "");
		fprintf(out, "  %-28s %s\n", left, s->help);
	}
	fprintf(out, "\nBad-input reasons:");
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++)
		fprintf(out, " %s", sluice_bad_reason_name((enum sluice_bad_reason)r));
	fprintf(out,
		"\n\nExample (replay a capture, 1 worker, no hugepages):\n"
		"  %s --no-huge -l 0-1 --vdev net_pcap0,rx_pcap=in.pcap,tx_pcap=out-a.pcap \\\n"
		"     --vdev net_pcap1,rx_pcap=empty.pcap,tx_pcap=out-b.pcap -- \\\n"
		"     --rules patterns/rules/default.yaml --offline --events events.jsonl\n",
		prog);
}

void sluice_options_event_sink(const struct sluice_options *opt, struct sluice_event_filter *filter,
			       struct sluice_event_rotation *rotation)
{
	*filter = (struct sluice_event_filter){
	    .actions = opt->events_actions,
	    .min_severity = opt->events_severity + 1,
	    .categories = opt->events_categories,
	    .flag_sample = opt->events_flag_sample,
	};
	*rotation = (struct sluice_event_rotation){
	    .max_bytes = (uint64_t)opt->events_max_mb << 20,
	    .keep = opt->events_keep,
	};
}

struct sluice_nats_security sluice_options_bus_security(const struct sluice_options *opt)
{
	return (struct sluice_nats_security){.ca_file = opt->bus_ca,
					     .cert_file = opt->bus_cert,
					     .key_file = opt->bus_key,
					     .user_file = opt->bus_user_file,
					     .creds_file = opt->bus_creds};
}

void sluice_options_event_bus(const struct sluice_options *opt, struct sluice_event_bus_config *cfg)
{
	*cfg = (struct sluice_event_bus_config){
	    .servers = opt->events_bus,
	    .stream = opt->events_stream,
	    .replicas = opt->events_stream_replicas,
	    .max_pending = opt->events_bus_pending,
	    .ack_timeout_ms = opt->events_bus_ack_ms,
	    .spool_path = opt->events_spool,
	    .spool_max_bytes = (uint64_t)opt->events_spool_mb << 20,
	    .gateway = opt->gateway_name,
	    .security = sluice_options_bus_security(opt),
	};
}

void sluice_options_fleet(const struct sluice_options *opt, const char *host,
			  struct sluice_fleet_watch_config *cfg)
{
	*cfg = (struct sluice_fleet_watch_config){
	    .servers = opt->pack_source,
	    .bucket = opt->pack_bucket,
	    .gateway = opt->gateway_name != NULL ? opt->gateway_name : host,
	    .group = opt->fleet_group,
	    .cache_dir = opt->pack_cache,
	    .heartbeat_ms = opt->fleet_heartbeat_ms,
	    .replicas = opt->pack_bucket_replicas,
	    .security = sluice_options_bus_security(opt),
	};
}

int sluice_options_hash_key(const struct sluice_options *opt, uint64_t key[2], char *err,
			    size_t err_len)
{
	key[0] = key[1] = 0;
	if (opt->event_hash_key == NULL)
		return 0;
	char why[256], text[128];
	FILE *f = sluice_file_fopen_regular(opt->event_hash_key, why, sizeof(why));
	if (f == NULL) {
		snprintf(err, err_len, "%s: event hash key: %s", opt->event_hash_key, why);
		return -1;
	}
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	if (sluice_siphash_key_parse(text, key) != 0) {
		snprintf(err, err_len,
			 "%s: event hash key: expected 32 hex digits (openssl rand -hex 16)",
			 opt->event_hash_key);
		return -1;
	}
	return 0;
}
