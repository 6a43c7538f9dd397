/* The control thread: the control socket, event draining, the worker watchdog
 * and rule expiry.
 *
 * Contract: everything here runs on one thread, the control thread. Its loop
 * calls sluice_control_run_once(), which serves the socket's clients
 * (control_clients.h: many at once, each with deadlines, none able to hold the
 * thread or delay another), drains every worker's event ring into the sink,
 * samples the workers' heartbeats and, once a second, lets the registry
 * disable expired rules. Requests themselves run one after another on this
 * thread: a reload that compiles rules delays the requests behind it.
 *
 * The socket is created with mode 0660 after removing a stale one (its
 * directory is created if missing), then given to `socket_group` when one is
 * set. The file mode is the first gate; the second is the peer's credentials
 * (SO_PEERCRED): a client that is not root, not the daemon's own user, and
 * not in the socket's group (primary or supplementary, read from
 * /proc/PID/status) gets an error reply and a refused audit line, whatever
 * the file mode says.
 */
#ifndef SLUICE_CONTROL_CONTROL_SERVER_H
#define SLUICE_CONTROL_CONTROL_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "control_clients.h"
#include "event_ring.h"
#include "event_sink.h"
#include "metrics.h"
#include "metrics_http.h"
#include "ruleset_registry.h"
#include "strbuf.h"
#include "worker_stats.h"

#define SLUICE_MAX_WORKERS 128

struct sluice_fleet_watch; /* fleet_watch.h */

/* What a port's driver counted that no worker saw: packets lost before Sluice
 * (no free mbuf, a full RX ring) and errors. Sides are 0 (A) and 1 (B). */
struct sluice_port_counters {
	uint64_t rx_missed; /* the RX ring was full */
	uint64_t rx_nombuf; /* no mbuf to receive into: the pool ran dry */
	uint64_t rx_errors;
	uint64_t tx_errors;
};

/* Fills *out for one side; false when the driver cannot say. */
typedef bool (*sluice_port_counters_fn)(void *arg, unsigned side, struct sluice_port_counters *out);

struct sluice_control {
	struct sluice_registry *registry;
	struct sluice_event_sink *sink;
	unsigned worker_count;
	struct sluice_worker_stats *stats[SLUICE_MAX_WORKERS];
	struct sluice_event_ring *rings[SLUICE_MAX_WORKERS];
	unsigned lcores[SLUICE_MAX_WORKERS];
	uint64_t tsc_hz;
	unsigned stall_ms;
	/* What workers do with an event when their ring is full (--events-full),
	 * shown by `stats`: "drop", or "wait" up to events_wait_us. */
	const char *events_full;
	unsigned events_wait_us;
	char *socket_path;	  /* NULL: no socket */
	const char *socket_group; /* group to own the socket; NULL: the daemon's */
	gid_t socket_gid;	  /* resolved by sluice_control_open() */
	int listen_fd;
	struct sluice_ctl_clients clients; /* connections to listen_fd */
	bool stop_requested;		   /* by a `stop` request; read by the same thread */
	uint64_t started_ns;
	/* watchdog */
	uint64_t seen_iterations[SLUICE_MAX_WORKERS];
	double progress_ms[SLUICE_MAX_WORKERS];
	bool stuck[SLUICE_MAX_WORKERS];
	uint64_t stalls;	  /* times a worker was found stuck (a fleet rollout watches it) */
	double last_expiry_ms;	  /* when rule expiry was last checked */
	uint64_t access_refusals; /* clients refused by the peer check */
	sluice_port_counters_fn port_counters; /* NULL: no ports (tests) */
	void *port_counters_arg;
	struct sluice_metrics metrics;		  /* the /metrics renderer's state */
	struct sluice_metrics_http *metrics_http; /* NULL: no --metrics-listen */
	struct sluice_fleet_watch *fleet;	  /* NULL: no --pack-source */
};

/* Looks a group up by name; -1 with err naming it when there is none. */
int sluice_control_resolve_group(const char *name, gid_t *gid, char *err, size_t err_len);

/* Sets up ctl (workers and registry must be filled in by the caller before the
 * first run_once, socket_group before this call) and opens the socket unless
 * socket_path is NULL. */
int sluice_control_open(struct sluice_control *ctl, const char *socket_path, char *err,
			size_t err_len);

/* Serves Prometheus metrics as cfg says (metrics_http.h) from the control
 * loop, until sluice_control_close(). Returns 0 or -1 with err. */
int sluice_control_open_metrics(struct sluice_control *ctl,
				const struct sluice_metrics_http_config *cfg, char *err,
				size_t err_len);

/* One pass of the control loop; waits up to timeout_ms for a request or a
 * scrape. */
void sluice_control_run_once(struct sluice_control *ctl, int timeout_ms);

/* Events written per ring and pass of the control loop. */
#define SLUICE_DRAIN_BUDGET	 8192
#define SLUICE_DRAIN_BUS_WAIT_MS 5000

/* Writes up to SLUICE_DRAIN_BUDGET events of each ring into the sink and
 * flushes it: one pass's share, so that serving clients goes on however fast
 * workers make events. */
void sluice_control_drain(struct sluice_control *ctl);

/* Writes every event pushed before the call, and no more: it does not chase
 * what workers push meanwhile. After a grace period that retires a
 * generation, that is every event naming its packs, so they are written
 * before the packs are freed; after the workers stop, it is everything. A
 * bus without room is given up to SLUICE_DRAIN_BUS_WAIT_MS to make some;
 * past that it takes the events anyway and counts those it loses. */
void sluice_control_drain_pushed(struct sluice_control *ctl);

/* Registry hook: false (with err) when a worker has made no progress for
 * stall_ms, since a grace period would wait for it forever. */
bool sluice_control_check_workers(void *ctl, char *err, size_t err_len);

/* Handles one request line from `by`; the reply is appended to sb. */
void sluice_control_handle_from(struct sluice_control *ctl, const char *request,
				const struct sluice_actor *by, struct sluice_strbuf *sb);

/* The same, as the daemon itself (for tests). */
void sluice_control_handle(struct sluice_control *ctl, const char *request,
			   struct sluice_strbuf *sb);

/* Whether a peer with these credentials may use the socket; if not, why. */
bool sluice_control_peer_allowed(const struct sluice_control *ctl, uid_t uid, gid_t gid, pid_t pid,
				 char *why, size_t why_len);

/* Checks rule expiry now (run_once does it once a second). */
void sluice_control_check_expiry(struct sluice_control *ctl);

void sluice_control_close(struct sluice_control *ctl);

#endif
