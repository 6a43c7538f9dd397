/* The audit log: one JSON line for every change to the packs in force, and for
 * every refusal of one.
 *
 * Contract: written by the control thread only; each line is flushed as it is
 * written, so an audit trail survives a crash of the daemon. A line:
 *
 *   {"ts":"2026-11-23T09:01:39.123456789Z","action":"load","slot":"main",
 *    "result":"ok","by":"client","uid":0,"pid":4242,"path":"/var/lib/p.pack",
 *    "pack":"sluice-default","version":"2026.11.23-1","sha256":"…",
 *    "previous_version":"2026.11.23-0"}
 *
 * - action: load, rollback, rollforward, unload, expiry, start, or, for a
 *   client refused at the socket, the request's own word (status, stats, …).
 * - result: ok or refused; "reason" says why when refused.
 * - by: client (with its SO_PEERCRED uid and pid), startup, or daemon.
 * - pack/version/sha256: the pack the action is about (loaded, rolled back or
 *   forward to, unloaded, whose rule expired), when it is known; a load refused
 *   before the file could be read has only "path".
 * - previous_version: the version in force in the slot before the action
 *   (null when the slot was empty).
 * - expiry and start lines add "rule" and the rule's "starts_at" and "expires_at".
 */
#ifndef SLUICE_CONTROL_AUDIT_LOG_H
#define SLUICE_CONTROL_AUDIT_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "pack.h"
#include "strbuf.h"

enum sluice_actor_kind {
	SLUICE_ACTOR_DAEMON = 0, /* the daemon's own decision (expiry, tests) */
	SLUICE_ACTOR_STARTUP,	 /* options given at start */
	SLUICE_ACTOR_CLIENT,	 /* a control-socket client */
	SLUICE_ACTOR_FLEET,	 /* a target read from the pack source (fleet_watch.h) */
};

struct sluice_actor {
	enum sluice_actor_kind kind;
	uint32_t uid; /* CLIENT only */
	int32_t pid;  /* CLIENT only */
};

struct sluice_audit_record {
	const char *action;
	const char *slot; /* NULL: not about a slot */
	bool ok;
	const char *reason; /* when refused */
	struct sluice_actor by;
	const char *path;		/* pack file, for loads */
	const struct sluice_pack *pack; /* NULL when not known */
	const char *previous_version;	/* NULL: the slot was empty */
	const char *rule;		/* expiry, start */
	int64_t expires_at;		/* expiry, start: the rule's dates (0: none) */
	int64_t starts_at;
};

struct sluice_audit_log {
	FILE *out;
	char *path; /* "-" for stderr */
	uint64_t written;
	uint64_t write_errors;
};

/* Opens path for appending ("-": stderr). Returns 0 or -1 with err. */
int sluice_audit_open(struct sluice_audit_log *log, const char *path, char *err, size_t err_len);

/* Appends the line for rec (newline included) to sb, stamped ts_ns
 * (CLOCK_REALTIME nanoseconds). */
void sluice_audit_format(struct sluice_strbuf *sb, const struct sluice_audit_record *rec,
			 uint64_t ts_ns);

/* Writes one line stamped now and flushes it. log may be NULL (no audit log). */
void sluice_audit_write(struct sluice_audit_log *log, const struct sluice_audit_record *rec);

/* Opens the path again after an outside rotation moved the file (SIGHUP).
 * When it cannot be opened, the old file stays in use and -1 comes back
 * with err. stderr: nothing to do. */
int sluice_audit_reopen(struct sluice_audit_log *log, char *err, size_t err_len);

void sluice_audit_close(struct sluice_audit_log *log);

#endif
