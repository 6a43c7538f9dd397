#include "audit_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

int sluice_audit_open(struct sluice_audit_log *log, const char *path, char *err, size_t err_len)
{
	memset(log, 0, sizeof(*log));
	if (strcmp(path, "-") == 0) {
		log->out = stderr;
	} else {
		log->out = fopen(path, "a");
		if (log->out == NULL) {
			snprintf(err, err_len, "%s: cannot open audit log: %s", path,
				 strerror(errno));
			return -1;
		}
	}
	log->path = strdup(path);
	return 0;
}

static void iso8601(struct sluice_strbuf *sb, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char date[32];
	gmtime_r(&secs, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	sluice_strbuf_printf(sb, "\"%s.%09lluZ\"", date, (unsigned long long)(ns % 1000000000ull));
}

static const char *actor_name(enum sluice_actor_kind kind)
{
	switch (kind) {
	case SLUICE_ACTOR_CLIENT:
		return "client";
	case SLUICE_ACTOR_STARTUP:
		return "startup";
	case SLUICE_ACTOR_FLEET:
		return "fleet";
	default:
		return "daemon";
	}
}

void sluice_audit_format(struct sluice_strbuf *sb, const struct sluice_audit_record *rec,
			 uint64_t ts_ns)
{
	sluice_strbuf_printf(sb, "{\"ts\":");
	iso8601(sb, ts_ns);
	sluice_strbuf_printf(sb, ",\"action\":");
	sluice_strbuf_json_string(sb, rec->action);
	if (rec->slot != NULL) {
		sluice_strbuf_printf(sb, ",\"slot\":");
		sluice_strbuf_json_string(sb, rec->slot);
	}
	sluice_strbuf_printf(sb, ",\"result\":\"%s\"", rec->ok ? "ok" : "refused");
	if (!rec->ok) {
		sluice_strbuf_printf(sb, ",\"reason\":");
		sluice_strbuf_json_string(sb, rec->reason ? rec->reason : "");
	}
	sluice_strbuf_printf(sb, ",\"by\":\"%s\"", actor_name(rec->by.kind));
	if (rec->by.kind == SLUICE_ACTOR_CLIENT)
		sluice_strbuf_printf(sb, ",\"uid\":%u,\"pid\":%d", rec->by.uid, rec->by.pid);
	if (rec->path != NULL) {
		sluice_strbuf_printf(sb, ",\"path\":");
		sluice_strbuf_json_string(sb, rec->path);
	}
	if (rec->pack != NULL) {
		sluice_strbuf_printf(sb, ",\"pack\":");
		sluice_strbuf_json_string(sb, rec->pack->name);
		sluice_strbuf_printf(sb, ",\"version\":");
		sluice_strbuf_json_string(sb, rec->pack->version);
		sluice_strbuf_printf(sb, ",\"sha256\":\"%s\"", rec->pack->sha256_hex);
	}
	if (rec->slot != NULL) {
		sluice_strbuf_printf(sb, ",\"previous_version\":");
		if (rec->previous_version != NULL)
			sluice_strbuf_json_string(sb, rec->previous_version);
		else
			sluice_strbuf_printf(sb, "null");
	}
	if (rec->rule != NULL) {
		sluice_strbuf_printf(sb, ",\"rule\":");
		sluice_strbuf_json_string(sb, rec->rule);
		if (rec->starts_at != 0) {
			sluice_strbuf_printf(sb, ",\"starts_at\":");
			iso8601(sb, (uint64_t)rec->starts_at * 1000000000ull);
		}
		if (rec->expires_at != 0) {
			sluice_strbuf_printf(sb, ",\"expires_at\":");
			iso8601(sb, (uint64_t)rec->expires_at * 1000000000ull);
		}
	}
	sluice_strbuf_printf(sb, "}\n");
}

void sluice_audit_write(struct sluice_audit_log *log, const struct sluice_audit_record *rec)
{
	if (log == NULL || log->out == NULL)
		return;
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_audit_format(&sb, rec, sluice_realtime_ns());
	if (sb.failed || fwrite(sb.data, 1, sb.len, log->out) != sb.len || fflush(log->out) != 0)
		log->write_errors++;
	else
		log->written++;
	sluice_strbuf_free(&sb);
}

int sluice_audit_reopen(struct sluice_audit_log *log, char *err, size_t err_len)
{
	if (log->out == NULL || log->out == stderr)
		return 0;
	FILE *f = fopen(log->path, "a");
	if (f == NULL) {
		snprintf(err, err_len, "%s: cannot open audit log: %s", log->path, strerror(errno));
		return -1;
	}
	fclose(log->out);
	log->out = f;
	return 0;
}

void sluice_audit_close(struct sluice_audit_log *log)
{
	if (log->out != NULL) {
		fflush(log->out);
		if (log->out != stderr)
			fclose(log->out);
	}
	log->out = NULL;
	free(log->path);
	log->path = NULL;
}
