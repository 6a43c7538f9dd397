#include "event_sink.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json_escape.h"
#include "action.h"
#include "bad_input.h"
#include "pack.h"
#include "stream_stats.h"

int sluice_event_sink_open(struct sluice_event_sink *sink, const char *path,
			   const struct sluice_tsc_clock *clock, char *err, size_t err_len)
{
	memset(sink, 0, sizeof(*sink));
	sink->clock = *clock;
	sink->path = strdup(path);
	if (strcmp(path, "-") == 0) {
		sink->out = stdout;
		return 0;
	}
	sink->out = fopen(path, "a");
	if (sink->out == NULL) {
		snprintf(err, err_len, "%s: cannot open event file: %s", path, strerror(errno));
		free(sink->path);
		sink->path = NULL;
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

static size_t format_ts(uint64_t ns, char *buf, size_t cap)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	return (size_t)snprintf(buf, cap, "%s.%09lluZ", date,
				(unsigned long long)(ns % 1000000000ull));
}

/* Who a message is from: its frame's ids, or its TCP connection. */
static void format_who(const struct sluice_event *ev, char *buf, size_t cap)
{
	if (!ev->stream) {
		snprintf(buf, cap, "\"msg_id\":%llu,\"channel_id\":%llu,\"user_id\":%llu",
			 (unsigned long long)ev->msg_id, (unsigned long long)ev->channel_id,
			 (unsigned long long)ev->user_id);
		return;
	}
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int af = ev->ipv6 ? AF_INET6 : AF_INET;
	inet_ntop(af, ev->src, src, sizeof(src));
	inet_ntop(af, ev->dst, dst, sizeof(dst));
	snprintf(buf, cap,
		 "\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"direction\":\"%s\"",
		 src, ev->sport, dst, ev->dport,
		 ev->from_client ? "client_to_server" : "server_to_client");
}

size_t sluice_event_format(const struct sluice_event *ev, const struct sluice_tsc_clock *clock,
			   char *buf, size_t cap)
{
	char ts[48], pack_name[512], pack_version[512];
	format_ts(sluice_tsc_to_ns(clock, ev->tsc), ts, sizeof(ts));
	const struct sluice_pack *pack = ev->pack;
	sluice_json_string(pack_name, sizeof(pack_name), pack != NULL ? pack->name : "");
	sluice_json_string(pack_version, sizeof(pack_version), pack != NULL ? pack->version : "");
	size_t n;

	if (ev->kind == SLUICE_EVENT_MATCH && pack != NULL && ev->rule < pack->rule_count) {
		const struct sluice_pack_rule *rule = &pack->rules[ev->rule];
		char id[160], category[160];
		sluice_json_string(id, sizeof(id), rule->id);
		sluice_json_string(category, sizeof(category), rule->category);
		char who[256];
		format_who(ev, who, sizeof(who));
		n = (size_t)snprintf(
		    buf, cap,
		    "{\"ts\":\"%s\",\"event\":\"match\",\"worker\":%u,%s,\"rule\":%s,"
		    "\"category\":%s,\"action\":\"%s\",\"verdict\":\"%s\",\"pack\":%s,"
		    "\"pack_version\":%s,\"from\":%u,\"to\":%u}\n",
		    ts, ev->worker, who, id, category, sluice_action_name(rule->action),
		    sluice_action_name((enum sluice_action)ev->verdict), pack_name, pack_version,
		    ev->from, ev->to);
	} else if (ev->kind == SLUICE_EVENT_STREAM) {
		char who[256];
		format_who(ev, who, sizeof(who));
		n = (size_t)snprintf(
		    buf, cap,
		    "{\"ts\":\"%s\",\"event\":\"stream\",\"worker\":%u,%s,\"reason\":\"%s\","
		    "\"action\":\"%s\",\"pack\":%s,\"pack_version\":%s}\n",
		    ts, ev->worker, who,
		    sluice_stream_reason_name((enum sluice_stream_reason)ev->reason),
		    ev->policy ? "reset" : "drop", pack_name, pack_version);
	} else {
		char ids[128] = "";
		if (ev->has_ids)
			snprintf(ids, sizeof(ids),
				 ",\"msg_id\":%llu,\"channel_id\":%llu,\"user_id\":%llu",
				 (unsigned long long)ev->msg_id, (unsigned long long)ev->channel_id,
				 (unsigned long long)ev->user_id);
		n = (size_t)snprintf(
		    buf, cap,
		    "{\"ts\":\"%s\",\"event\":\"bad_input\",\"worker\":%u%s,\"reason\":\"%s\","
		    "\"policy\":\"%s\",\"pack\":%s,\"pack_version\":%s}\n",
		    ts, ev->worker, ids, sluice_bad_reason_name((enum sluice_bad_reason)ev->reason),
		    sluice_bad_policy_name((enum sluice_bad_policy)ev->policy), pack_name,
		    pack_version);
	}
	return n < cap ? n : cap - 1;
}

unsigned sluice_event_sink_drain(struct sluice_event_sink *sink, struct sluice_event_ring *ring,
				 unsigned budget)
{
	struct sluice_event ev;
	char line[2048];
	unsigned n = 0;
	while (n < budget && sluice_event_ring_pop(ring, &ev)) {
		size_t len = sluice_event_format(&ev, &sink->clock, line, sizeof(line));
		if (fwrite(line, 1, len, sink->out) != len)
			sink->write_errors++;
		else
			sink->written++;
		n++;
	}
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
}
