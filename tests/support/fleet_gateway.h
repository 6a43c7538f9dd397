/* The command line of a fleet gateway, shared by the fleet tests
 * (tests/test_fleet.c) and the fleet bench (bench/fleet/fleet_bench.c), so
 * that the bench times the gateway the tests prove.
 *
 * Contract: a gateway is a sluice daemon on two net_ring ports, without
 * hugepages or a shared config, on lcores 0 and 1, events off, signed packs
 * only (trusted_key), taking its group's targets from bucket on the bus.
 * ts_fleet_gateway_argv() only fills an array: it starts nothing and
 * allocates nothing; the strings must outlive the array's use.
 */
#ifndef SLUICE_TEST_FLEET_GATEWAY_H
#define SLUICE_TEST_FLEET_GATEWAY_H

#include <stddef.h>

struct ts_fleet_gateway {
	const char *exe;	    /* the sluice daemon */
	const char *file_prefix;    /* DPDK's, unique per gateway */
	const char *rules;	    /* its local pack */
	const char *trusted_key;    /* the release key's public half */
	const char *control_socket; /* path */
	const char *audit_log;	    /* path, or NULL: none */
	const char *bus, *bucket;   /* nats:// URLs, and the bucket */
	const char *name, *group;
	const char *cache;	  /* the pack cache's directory */
	const char *heartbeat_ms; /* how often it writes its status */
};

/* Room for the whole command line, with a few more arguments and the NULL. */
#define TS_FLEET_GATEWAY_ARGS 56

/* Writes g's command line into args, then more (NULL-terminated; NULL:
 * none) as far as room allows, then NULL. Returns how many arguments. */
size_t ts_fleet_gateway_argv(const struct ts_fleet_gateway *g, const char *const *more,
			     const char *args[TS_FLEET_GATEWAY_ARGS]);

#endif
