/* Sluice's state in DPDK telemetry, beside the ports': dpdk-telemetry.py (or
 * any client of the EAL's telemetry socket) can ask
 *   /sluice/stats          the workers' counters summed, events, generation
 *   /sluice/workers        the worker ids
 *   /sluice/worker,ID      one worker's counters, its lcore and watchdog state
 *   /sluice/packs          the packs in force, swaps and the last grace period
 * with the same names as `sluicectl stats` (nested objects flattened with
 * '/', e.g. "verdicts/masked", since a telemetry dict holds no dicts).
 *
 * Contract: the commands run on the EAL's telemetry thread, never on the
 * control thread, so they must not touch the registry or the sink, which
 * only the control thread may read while it changes them. The control thread
 * copies what they need into a snapshot under a mutex once per loop pass
 * (sluice_telemetry_publish(): a copy, no allocation); the commands read the
 * snapshot under the same mutex, and the workers' counters directly, as the
 * control thread does (worker_stats.h). Between detach and the next attach
 * the commands answer that the daemon is not running, so nothing freed at
 * teardown is reached.
 */
#ifndef SLUICE_DATAPLANE_TELEMETRY_H
#define SLUICE_DATAPLANE_TELEMETRY_H

struct sluice_control;

/* Registers the commands (once per process; later calls do nothing). Returns
 * 0, or a negative errno from rte_telemetry_register_cmd(). */
int sluice_telemetry_register(void);

/* Points the commands at ctl (workers set up) and takes a first snapshot. */
void sluice_telemetry_attach(struct sluice_control *ctl);

/* Refreshes the snapshot from the control thread. */
void sluice_telemetry_publish(struct sluice_control *ctl);

/* Before the workers and the control state are freed. */
void sluice_telemetry_detach(void);

#endif
