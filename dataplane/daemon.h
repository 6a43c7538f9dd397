/* The sluice daemon: ports, workers and the control thread, from options to a
 * summary.
 *
 * Contract: call after rte_eal_init(). sluice_daemon_run() brings up both ports
 * with one queue pair per worker lcore, loads the rules, starts the workers and
 * runs the control loop on the calling (main) lcore until it is asked to stop
 * (sluice_daemon_request_stop(), which is async-signal-safe, `sluicectl stop`,
 * --duration, or --offline once input is consumed). Then it stops the workers,
 * writes the remaining events, prints the summary and closes the ports. Returns
 * 0, or 1 with the reason printed on stderr.
 */
#ifndef SLUICE_DATAPLANE_DAEMON_H
#define SLUICE_DATAPLANE_DAEMON_H

#include "options.h"

int sluice_daemon_run(const struct sluice_options *opt);

void sluice_daemon_request_stop(void);

/* Asks the running daemon to open its events file and audit log again
 * (SIGHUP, after logrotate moved them). Async-signal-safe. */
void sluice_daemon_request_reopen(void);

#endif
