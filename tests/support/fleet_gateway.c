#include "fleet_gateway.h"

size_t ts_fleet_gateway_argv(const struct ts_fleet_gateway *g, const char *const *more,
			     const char *args[TS_FLEET_GATEWAY_ARGS])
{
	const char *const line[] = {g->exe,
				    "-l",
				    "0,1",
				    "--no-pci",
				    "--no-huge",
				    "-m",
				    "256",
				    "--no-shconf",
				    "--file-prefix",
				    g->file_prefix,
				    "--vdev",
				    "net_ring0",
				    "--vdev",
				    "net_ring1",
				    "--",
				    "--rules",
				    g->rules,
				    "--trusted-key",
				    g->trusted_key,
				    "--require-signed",
				    "--events",
				    "none",
				    "--control-socket",
				    g->control_socket,
				    "--stall-ms",
				    "3000",
				    "--pack-source",
				    g->bus,
				    "--pack-bucket",
				    g->bucket,
				    "--gateway-name",
				    g->name,
				    "--fleet-group",
				    g->group,
				    "--pack-cache",
				    g->cache,
				    "--fleet-heartbeat-ms",
				    g->heartbeat_ms};
	size_t n = 0;
	for (size_t k = 0; k < sizeof(line) / sizeof(line[0]); k++)
		args[n++] = line[k];
	if (g->audit_log != NULL) {
		args[n++] = "--audit-log";
		args[n++] = g->audit_log;
	}
	for (size_t k = 0; more != NULL && more[k] != NULL && n + 1 < TS_FLEET_GATEWAY_ARGS; k++)
		args[n++] = more[k];
	args[n] = NULL;
	return n;
}
