#include "config_check.h"

#include <errno.h>
#include <stdbool.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "action.h"
#include "control_server.h"
#include "pack_sign.h"
#include "pack_source.h"

/* A file the daemon will append to or create: the file writable if it is
 * there, else its directory; with make_dir (the control socket's, which
 * the daemon makes), a missing directory whose parent is writable will do. */
static int writable_path(const char *what, const char *path, bool make_dir, char *err,
			 size_t err_len)
{
	if (path == NULL || strcmp(path, "-") == 0)
		return 0;
	if (access(path, F_OK) == 0) {
		if (access(path, W_OK) != 0) {
			snprintf(err, err_len, "%s %s: cannot be written: %s", what, path,
				 strerror(errno));
			return -1;
		}
		return 0;
	}
	char *copy = strdup(path);
	if (copy == NULL) {
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	const char *dir = dirname(copy);
	int rc = access(dir, W_OK);
	if (rc != 0 && errno == ENOENT && make_dir) {
		char *parent = strdup(dir);
		rc = parent != NULL ? access(dirname(parent), W_OK) : -1;
		free(parent);
		if (rc == 0) {
			free(copy);
			return 0;
		}
		errno = ENOENT;
	}
	if (rc != 0)
		snprintf(err, err_len, "%s %s: its directory %s cannot be written: %s", what, path,
			 dir, strerror(errno));
	free(copy);
	return rc == 0 ? 0 : -1;
}

static int check_pack(const char *what, const char *path, const struct sluice_trust *trust,
		      size_t *memory_left, FILE *out, char *err, size_t err_len)
{
	struct sluice_load_limits limits = {.max_bytes = *memory_left};
	struct sluice_pack *pack = NULL;
	char why[2048];
	if (sluice_pack_load_within(path, trust, &limits, &pack, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "%s: %s", what, why);
		return -1;
	}
	size_t bytes = sluice_pack_memory(pack);
	if (*memory_left != 0) {
		if (bytes > *memory_left) {
			snprintf(err, err_len,
				 "%s: %s needs %zu bytes, more than the memory cap leaves (%zu)",
				 what, path, bytes, *memory_left);
			sluice_pack_free(pack);
			return -1;
		}
		*memory_left -= bytes;
	}
	fprintf(out, "%s: %s %s, %zu rules, %zu bytes of databases, sha256 %s (%s)\n", what,
		pack->name, pack->version, pack->rule_count, pack->db_bytes, pack->sha256_hex,
		path);
	sluice_pack_free(pack);
	return 0;
}

/* What events carry and which are written, as the daemon will do it. */
static void describe_events(const struct sluice_options *opt, FILE *out)
{
	static const char *const severity[] = {"low", "medium", "high", "critical"};
	fprintf(out, "event text: %s, hash %s\n", opt->event_snippet ? "a snippet" : "no snippet",
		opt->event_hash_key ? "keyed" : "unkeyed (set event-hash-key)");
	if (opt->event_snippet)
		fprintf(out, "event snippet: up to %u bytes of the matched text\n",
			opt->event_snippet);
	if (opt->events_actions != 0 || opt->events_categories != NULL ||
	    opt->events_severity != 0 || opt->events_flag_sample > 1) {
		fprintf(out, "events written: ");
		const char *sep = "";
		if (opt->events_actions != 0) {
			const char *comma = " ";
			fprintf(out, "actions");
			for (unsigned a = SLUICE_ACTION_FLAG; a < SLUICE_ACTION_COUNT; a++) {
				if ((opt->events_actions & (1u << a)) == 0)
					continue;
				fprintf(out, "%s%s", comma,
					sluice_action_name((enum sluice_action)a));
				comma = ",";
			}
			sep = "; ";
		}
		if (opt->events_categories != NULL) {
			fprintf(out, "%scategories %s", sep, opt->events_categories);
			sep = "; ";
		}
		if (opt->events_severity != 0) {
			fprintf(out, "%sseverity %s or more", sep, severity[opt->events_severity]);
			sep = "; ";
		}
		if (opt->events_flag_sample > 1)
			fprintf(out, "%s1 in %u flag events per rule", sep,
				opt->events_flag_sample);
		fprintf(out, "\n");
	}
	if (opt->events_max_mb != 0)
		fprintf(out, "events file rotates at %u MiB, %u kept\n", opt->events_max_mb,
			opt->events_keep);
}

struct sluice_trust *sluice_options_trust(const struct sluice_options *opt, char *err,
					  size_t err_len)
{
	struct sluice_trust *trust = sluice_trust_new(opt->require_signed);
	char why[1024];
	if (trust == NULL) {
		snprintf(err, err_len, "out of memory for the trusted keys");
		return NULL;
	}
	for (unsigned i = 0; i < opt->trusted_key_count; i++)
		if (sluice_trust_add_key(trust, opt->trusted_keys[i], err, err_len) != 0)
			goto fail;
	for (unsigned i = 0; i < opt->revoked_key_count; i++)
		if (sluice_trust_revoke(trust, opt->revoked_keys[i], err, err_len) != 0)
			goto fail;
	if (opt->signatures_required != 0 &&
	    sluice_trust_set_required(trust, opt->signatures_required, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "--signatures-required %u: %s", opt->signatures_required,
			 why);
		goto fail;
	}
	return trust;
fail:
	sluice_trust_free(trust);
	return NULL;
}

int sluice_check_config(const struct sluice_options *opt, FILE *out, char *err, size_t err_len)
{
	struct sluice_trust *trust = sluice_options_trust(opt, err, err_len);
	int rc = -1;
	if (trust == NULL)
		return -1;
	if (sluice_trust_key_count(trust))
		fprintf(out, "trusted keys: %zu, %u signature%s required%s\n",
			sluice_trust_key_count(trust), sluice_trust_required(trust),
			sluice_trust_required(trust) == 1 ? "" : "s",
			opt->require_signed ? ", unsigned packs refused" : "");
	if (sluice_trust_revoked_count(trust))
		fprintf(out, "revoked keys: %zu\n", sluice_trust_revoked_count(trust));
	/* 0: no cap */
	size_t memory_left = (size_t)opt->memory_cap_mb * 1024 * 1024;
	if (check_pack("main pack", opt->rules, trust, &memory_left, out, err, err_len) != 0 ||
	    (opt->urgent_rules != NULL && check_pack("urgent pack", opt->urgent_rules, trust,
						     &memory_left, out, err, err_len) != 0))
		goto out;
	gid_t gid;
	if (opt->socket_group != NULL &&
	    sluice_control_resolve_group(opt->socket_group, &gid, err, err_len) != 0)
		goto out;
	bool socket = opt->control_socket != NULL && opt->control_socket[0] != '\0' &&
		      strcmp(opt->control_socket, "none") != 0;
	bool no_file = opt->events != NULL && strcmp(opt->events, "none") == 0;
	if ((!no_file && writable_path("events file", opt->events, false, err, err_len) != 0) ||
	    (opt->events_bus != NULL &&
	     writable_path("events spool", opt->events_spool, false, err, err_len) != 0) ||
	    writable_path("audit log", opt->audit_log, false, err, err_len) != 0 ||
	    (socket &&
	     writable_path("control socket", opt->control_socket, true, err, err_len) != 0))
		goto out;
	uint64_t key[2];
	if (sluice_options_hash_key(opt, key, err, err_len) != 0)
		goto out;
	/* The credentials and certificate are read now, not at the first
	 * scrape: a bad one stops the start, as it would here. */
	struct sluice_metrics_http_config metrics = {.listen = opt->metrics_listen,
						     .auth_file = opt->metrics_auth,
						     .tls_cert = opt->metrics_tls_cert,
						     .tls_key = opt->metrics_tls_key};
	if (opt->metrics_listen != NULL && sluice_metrics_http_check(&metrics, err, err_len) != 0)
		goto out;
	if (opt->events_max_mb != 0 && opt->events != NULL && strcmp(opt->events, "-") == 0) {
		snprintf(err, err_len, "--events-max-mb: events go to stdout; only a file rotates");
		goto out;
	}
	if (opt->events_spool != NULL && opt->events_bus == NULL) {
		snprintf(err, err_len, "--events-spool: there is no --events-bus to spool for");
		goto out;
	}
	struct sluice_nats_security bus_security = sluice_options_bus_security(opt);
	if (sluice_nats_security_check(&bus_security, err, err_len) != 0)
		goto out;
	fprintf(out, "events: %s\n", opt->events ? opt->events : "(none)");
	describe_events(opt, out);
	/* The servers are not contacted here: a bus down at start is not an
	 * error (events spool), so neither is it for the check. */
	if (opt->events_bus != NULL)
		fprintf(out,
			"events bus: %s, stream %s (created with %u replica%s if missing), %u in"
			" flight, ack timeout %u ms, spool %s%s\n",
			opt->events_bus, opt->events_stream, opt->events_stream_replicas,
			opt->events_stream_replicas == 1 ? "" : "s", opt->events_bus_pending,
			opt->events_bus_ack_ms, opt->events_spool ? opt->events_spool : "none",
			opt->events_spool ? "" : " (events the window cannot hold are lost)");
	if (opt->pack_source != NULL) {
		/* Like the events bus, the servers are not contacted here. */
		const char *gw = opt->gateway_name != NULL ? opt->gateway_name : "(the host name)";
		if ((opt->gateway_name != NULL && !sluice_fleet_name_ok(opt->gateway_name)) ||
		    !sluice_fleet_name_ok(opt->fleet_group) ||
		    !sluice_fleet_name_ok(opt->pack_bucket)) {
			snprintf(err, err_len,
				 "--gateway-name, --fleet-group and --pack-bucket: 1 to 63 of A-Z "
				 "a-z 0-9 _ - (they are keys and bucket names on the bus)");
			goto out;
		}
		fprintf(out,
			"pack source: %s, bucket %s (status in %s_STATUS), gateway %s, group %s,"
			" cache %s, heartbeat %u ms\n",
			opt->pack_source, opt->pack_bucket, opt->pack_bucket, gw, opt->fleet_group,
			opt->pack_cache, opt->fleet_heartbeat_ms);
	}
	if (opt->audit_log)
		fprintf(out, "audit log: %s\n", opt->audit_log);
	fprintf(out, "control socket: %s\n", socket ? opt->control_socket : "(none)");
	if (opt->metrics_listen != NULL)
		fprintf(out, "metrics: %s://%s/metrics (at most %u rule series)%s\n",
			opt->metrics_tls_cert != NULL ? "https" : "http", opt->metrics_listen,
			opt->metrics_rule_limit,
			opt->metrics_auth != NULL ? ", basic authentication required" : "");
	fprintf(out, "config ok\n");
	rc = 0;
out:
	sluice_trust_free(trust);
	return rc;
}
