/* A gateway's side of the fleet: watches its group's targets in the pack
 * source (fleet_store.h), fetches each new target's pack, and has the
 * control thread load it exactly as `sluicectl reload` would; reports what
 * it runs, and why it refused, to the status bucket.
 *
 * Threads. One thread of its own (the watcher) does all the bus work, which
 * can block: connecting, watching target.*.GROUP, fetching chunks, checking
 * the SHA-256, writing the pack into the cache directory
 * (CACHE/SLOT-SHA256.pack, written to a temporary name and renamed), and
 * writing the gateway's status every heartbeat. It never touches the
 * registry. It leaves the path of a fetched pack in a mailbox (one per slot,
 * the newest wins) under a mutex; the control thread takes it in
 * sluice_fleet_watch_poll() and loads it with sluice_registry_load_slot()
 * (actor "fleet"): signature, trust, revocation, memory cap, the workers'
 * watchdog, the RCU swap, history, audit log and metrics are those of any
 * load. The outcome goes back through the same mutex into the status.
 *
 * Failures. Nothing the bus does can stop the gateway or change its packs
 * except a target whose pack loads: a bus that is down (at start or later),
 * a manifest that does not parse, a missing or altered chunk, a pack the
 * registry refuses, each leaves the packs in force, counts a refusal where a
 * target was refused, and shows its reason in the status. The watcher
 * reconnects by itself and, besides the watch, reads its group's targets
 * again every few seconds, so a change missed while disconnected is picked
 * up. CACHE/SLOT.last names the last pack loaded from the bus in each slot:
 * at start it is loaded after the local packs (the same checks), so a
 * gateway restarted while the bus is down runs what the fleet last gave it.
 */
#ifndef SLUICE_CONTROL_FLEET_WATCH_H
#define SLUICE_CONTROL_FLEET_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "control_server.h"
#include "fleet_store.h"
#include "nats_security.h"
#include "ruleset_registry.h"

struct sluice_fleet_watch_config {
	const char *servers;   /* --pack-source */
	const char *bucket;    /* NULL: SLUICE_FLEET_BUCKET */
	const char *gateway;   /* this gateway's name (a key token) */
	const char *group;     /* its group */
	const char *cache_dir; /* created when missing */
	unsigned heartbeat_ms; /* 0: SLUICE_FLEET_HEARTBEAT_MS */
	unsigned replicas;     /* of buckets it creates (0: 1) */
	/* TLS and credentials (nats_connect.h). Unlike the strings above, which
	 * are copied, its paths must stay valid until the watcher stops: they
	 * are the daemon's options. */
	struct sluice_nats_security security;
};

struct sluice_fleet_watch;

/* Checks the names and the cache directory, then starts the watcher thread
 * (which connects in the background: a bus down is not an error). NULL with
 * err. */
struct sluice_fleet_watch *sluice_fleet_watch_start(const struct sluice_fleet_watch_config *cfg,
						    char *err, size_t err_len);

/* Control thread, at start after the local packs: loads CACHE/SLOT.last of
 * each slot, if any. A refusal is printed and leaves the local packs. */
void sluice_fleet_watch_load_cache(struct sluice_fleet_watch *fw, struct sluice_registry *reg);

/* Control thread, every pass: loads what the watcher fetched, and refreshes
 * what the status reports (packs in force, scan errors, stalls). */
void sluice_fleet_watch_poll(struct sluice_fleet_watch *fw, struct sluice_control *ctl);

/* A copy of the status as the next heartbeat would write it. */
void sluice_fleet_watch_status(struct sluice_fleet_watch *fw, struct sluice_fleet_status *out);

/* Whether the watcher is connected to the pack source now. */
bool sluice_fleet_watch_connected(struct sluice_fleet_watch *fw);

/* Stops and joins the watcher (writing a last status), frees. NULL: nothing. */
void sluice_fleet_watch_stop(struct sluice_fleet_watch *fw);

#endif
