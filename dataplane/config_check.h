/* sluice --check-config: everything the daemon would refuse at start that
 * can be checked without DPDK, before a maintenance window rather than in it.
 *
 * Contract: the options (and their config file) are already parsed; this
 * builds the trust from the keys and the signature policy, loads the main and urgent packs through
 * it with the memory cap, resolves the socket group, and checks that the events file, the audit log
 * and the control socket can be written where they are to go. It starts no EAL, touches no port and
 * leaves no file behind. Prints what it checked on out; returns 0, or -1 with the first problem in
 * err.
 */
#ifndef SLUICE_DATAPLANE_CONFIG_CHECK_H
#define SLUICE_DATAPLANE_CONFIG_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "options.h"
#include "pack_sign.h"

int sluice_check_config(const struct sluice_options *opt, FILE *out, char *err, size_t err_len);

/* The trust the options describe, as the daemon and the check build it: the
 * trusted keys read, the revoked ones added (a key both trusted and revoked
 * is refused), the signatures required (more than the distinct keys trusted
 * is refused). NULL with the reason in err. */
struct sluice_trust *sluice_options_trust(const struct sluice_options *opt, char *err,
					  size_t err_len);

#endif
