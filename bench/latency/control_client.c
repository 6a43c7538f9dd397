#include "control_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control_protocol.h"
#include "json_value.h"

/* Sends request and parses the reply; a reply with "ok": false is an error
 * carrying the daemon's reason. Returns the parsed reply, or NULL with err. */
static struct sluice_json *ask(const char *socket, const char *request, char *err, size_t err_len)
{
	char *text = NULL;
	if (sluice_ctl_request(socket, request, CONTROL_REQUEST_TIMEOUT_MS, &text, err, err_len) !=
	    0)
		return NULL;
	struct sluice_json *reply = sluice_json_parse(text);
	if (reply == NULL || reply->type != SLUICE_JSON_OBJECT) {
		snprintf(err, err_len, "%s: the daemon's reply is not a JSON object: %.200s",
			 request, text);
		free(text);
		sluice_json_free(reply);
		return NULL;
	}
	free(text);
	if (!sluice_json_bool(reply, "ok", false)) {
		snprintf(err, err_len, "%s: %s", request,
			 sluice_json_str(reply, "error", "refused without a reason"));
		sluice_json_free(reply);
		return NULL;
	}
	return reply;
}

int control_wait_ready(const char *socket, double limit_s, const atomic_bool *give_up, char *err,
		       size_t err_len)
{
	double deadline = sluice_mono_s() + limit_s;
	for (;;) {
		struct sluice_json *reply = ask(socket, "status", err, err_len);
		if (reply != NULL) {
			sluice_json_free(reply);
			return 0;
		}
		if (atomic_load(give_up)) {
			snprintf(err, err_len,
				 "the daemon exited before its control socket answered");
			return -1;
		}
		if (sluice_mono_s() > deadline) {
			/* err still holds the last attempt's reason. */
			return -1;
		}
		usleep(20000);
	}
}

static uint64_t side_count(const struct sluice_json *total, const char *key, const char *side)
{
	return (uint64_t)sluice_json_num(sluice_json_get(total, key), side, 0);
}

int control_read_counters(const char *socket, struct daemon_counters *out, char *err,
			  size_t err_len)
{
	struct sluice_json *reply = ask(socket, "stats", err, err_len);
	if (reply == NULL)
		return -1;
	const struct sluice_json *total = sluice_json_get(sluice_json_get(reply, "stats"), "total");
	if (total == NULL || total->type != SLUICE_JSON_OBJECT) {
		snprintf(err, err_len, "stats: the reply has no stats.total object");
		sluice_json_free(reply);
		return -1;
	}
	static const char *const sides[2] = {"a", "b"};
	for (unsigned s = 0; s < 2; s++) {
		out->rx_packets[s] = side_count(total, "rx_packets", sides[s]);
		out->tx_packets[s] = side_count(total, "tx_packets", sides[s]);
		out->tx_dropped[s] = side_count(total, "tx_dropped", sides[s]);
	}
	out->datagrams_removed = (uint64_t)sluice_json_num(total, "datagrams_removed", 0);
	out->datagrams_dropped_bad = (uint64_t)sluice_json_num(total, "datagrams_dropped_bad", 0);
	out->messages = (uint64_t)sluice_json_num(total, "messages", 0);
	out->events_dropped = (uint64_t)sluice_json_num(total, "events_dropped", 0);
	out->max_iteration_ms = sluice_json_num(total, "max_iteration_ns", 0) / 1e6;
	out->max_gap_ms = sluice_json_num(total, "max_gap_ns", 0) / 1e6;
	out->bad_input = 0;
	memset(out->bad, 0, sizeof(out->bad));
	const struct sluice_json *bad = sluice_json_get(total, "bad_input");
	for (size_t i = 0; bad != NULL && bad->type == SLUICE_JSON_OBJECT && i < bad->count; i++) {
		if (bad->items[i]->type != SLUICE_JSON_NUMBER)
			continue;
		out->bad_input += (uint64_t)bad->items[i]->number;
		enum sluice_bad_reason reason;
		if (sluice_bad_reason_parse(bad->keys[i], &reason))
			out->bad[reason] = (uint64_t)bad->items[i]->number;
	}
	out->datagrams = (uint64_t)sluice_json_num(total, "datagrams", 0);
	out->datagrams_rewritten = (uint64_t)sluice_json_num(total, "datagrams_rewritten", 0);
	out->other_forwarded = (uint64_t)sluice_json_num(total, "other_forwarded", 0);
	out->matches = (uint64_t)sluice_json_num(total, "matches", 0);
	out->utf8_repaired = (uint64_t)sluice_json_num(total, "utf8_repaired", 0);
	out->match_overflow = (uint64_t)sluice_json_num(total, "match_overflow", 0);
	static const char *const verdicts[4] = {"passed", "flagged", "masked", "blocked"};
	const struct sluice_json *v = sluice_json_get(total, "verdicts");
	for (unsigned i = 0; i < 4; i++)
		out->verdicts[i] = (uint64_t)sluice_json_num(v, verdicts[i], 0);
	out->events_written = (uint64_t)sluice_json_num(reply, "events_written", 0);
	out->event_write_errors = (uint64_t)sluice_json_num(reply, "event_write_errors", 0);
	sluice_json_free(reply);
	return 0;
}

int control_read_status(const char *socket, struct daemon_status *out, char *err, size_t err_len)
{
	struct sluice_json *reply = ask(socket, "status", err, err_len);
	if (reply == NULL)
		return -1;
	memset(out, 0, sizeof(*out));
	out->swaps = (uint64_t)sluice_json_num(reply, "swaps", 0);
	out->refusals = (uint64_t)sluice_json_num(reply, "refusals", 0);
	out->access_refusals = (uint64_t)sluice_json_num(reply, "access_refusals", 0);
	snprintf(out->main_version, sizeof(out->main_version), "%s",
		 sluice_json_str(sluice_json_get(reply, "active"), "version", ""));
	const struct sluice_json *cc = sluice_json_get(reply, "control_clients");
	out->clients.connected = (uint64_t)sluice_json_num(cc, "connected", 0);
	out->clients.accepted = (uint64_t)sluice_json_num(cc, "accepted", 0);
	out->clients.served = (uint64_t)sluice_json_num(cc, "served", 0);
	out->clients.request_timeouts = (uint64_t)sluice_json_num(cc, "request_timeouts", 0);
	out->clients.bad_requests = (uint64_t)sluice_json_num(cc, "bad_requests", 0);
	out->clients.evicted = (uint64_t)sluice_json_num(cc, "evicted", 0);
	out->clients.vanished = (uint64_t)sluice_json_num(cc, "vanished", 0);
	out->clients.reply_timeouts = (uint64_t)sluice_json_num(cc, "reply_timeouts", 0);
	const struct sluice_json *workers = sluice_json_get(reply, "workers");
	for (size_t i = 0;
	     workers != NULL && workers->type == SLUICE_JSON_ARRAY && i < workers->count; i++) {
		out->workers++;
		if (sluice_json_bool(workers->items[i], "stuck", false))
			out->workers_stuck++;
	}
	sluice_json_free(reply);
	return 0;
}

int control_reload_main(const char *socket, const char *path, double *grace_ms, char *err,
			size_t err_len)
{
	char request[SLUICE_CTL_MAX_REQUEST];
	int len = snprintf(request, sizeof(request), "reload main %s", path);
	if (len < 0 || (size_t)len >= sizeof(request)) {
		snprintf(err, err_len, "pack path too long for a control request: %.200s", path);
		return -1;
	}
	struct sluice_json *reply = ask(socket, request, err, err_len);
	if (reply == NULL)
		return -1;
	*grace_ms = sluice_json_num(reply, "grace_ms", -1);
	sluice_json_free(reply);
	return 0;
}

int control_stop(const char *socket, char *err, size_t err_len)
{
	struct sluice_json *reply = ask(socket, "stop", err, err_len);
	if (reply == NULL)
		return -1;
	sluice_json_free(reply);
	return 0;
}
