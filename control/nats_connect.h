/* The connection options every NATS client of Sluice uses (the events bus,
 * the fleet's pack store): the server list, reconnecting for ever every
 * 250 ms, a 1 s connect timeout, and pings every second so that a dead
 * server is noticed within 2 to 3 s rather than cnats' default 4 minutes.
 * One place, so the bus and the fleet behave alike when a node goes, and
 * are secured alike (nats_security.h).
 */
#ifndef SLUICE_CONTROL_NATS_CONNECT_H
#define SLUICE_CONTROL_NATS_CONNECT_H

#include <stddef.h>

#include <nats/nats.h>

#include "nats_security.h"

/* servers: "nats://h:p[,nats://h:p...]" (at most 32). sec may be NULL (no
 * security). what names the option in err ("--events-bus"). Returns 0 with
 * *out (natsOptions_Destroy() it), or -1 with err. */
int sluice_nats_options(const char *servers, const char *what,
			const struct sluice_nats_security *sec, natsOptions **out, char *err,
			size_t err_len);

/* Why a client call failed with s: the thread's last error text from the
 * client, or s's own text when the client left none (a later call may have
 * cleared it). Never NULL, so a message never reads "(null)". */
const char *sluice_nats_reason(natsStatus s);

#endif
