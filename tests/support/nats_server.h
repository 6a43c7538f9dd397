/* Real nats-server processes with JetStream on loopback, for the bus tests
 * and the bus bench: free ports, a store directory per node, a cluster of
 * up to three nodes routed to each other. Every node can be killed (SIGKILL:
 * what a crash looks like to the others) and started again on the same
 * ports and store. */
#ifndef SLUICE_TESTS_NATS_SERVER_H
#define SLUICE_TESTS_NATS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TS_NATS_MAX_NODES 3

struct ts_nats_node {
	pid_t pid; /* 0: not running */
	int port, cluster_port;
};

struct ts_nats {
	unsigned nodes;
	char dir[512];
	char urls[512]; /* every node's client URL, comma-separated */
	struct ts_nats_node node[TS_NATS_MAX_NODES];
	const char *const *extra; /* more server arguments (TLS, users), NULL-ended */
	const char *config;	  /* ts_nats_start_configured()'s file, or NULL */
};

/* The nats-server program, or NULL when it is not installed. */
const char *ts_nats_server_path(void);

/* Starts `nodes` nodes (1: no cluster) with their stores under dir, and
 * waits until each takes connections. Returns 0, or -1 with err. */
int ts_nats_start(struct ts_nats *c, unsigned nodes, const char *dir, char *err, size_t err_len);

/* The same with more arguments for every node (at most 12; they must stay
 * valid while the nodes may be started again), e.g. --tls ... --user ... */
int ts_nats_start_with(struct ts_nats *c, unsigned nodes, const char *dir, const char *const *extra,
		       char *err, size_t err_len);

/* One node whose configuration file says everything a reload (SIGHUP) may
 * change: it must name the server "n1" (server_name) and keep its JetStream
 * store in dir/n1 (jetstream { store_dir }), as ts_nats_config_head() writes.
 * nats-server 2.9 refuses to reload a file that leaves to the command line
 * what the running server was started with (its name, its store). 0 or -1
 * with err. */
int ts_nats_start_configured(struct ts_nats *c, const char *dir, const char *config, char *err,
			     size_t err_len);

/* The lines that begin such a file, for dir. */
void ts_nats_config_head(char *out, size_t len, const char *dir);

/* Makes node i read its configuration file again (SIGHUP) and waits until
 * its log says it did. 0, or -1 when it refused the file (its log says
 * why) or did not answer within 10 s. */
int ts_nats_node_reload(struct ts_nats *c, unsigned i);

/* Starts node i again (same ports and store); waits for it. 0 or -1. */
int ts_nats_node_start(struct ts_nats *c, unsigned i);

/* SIGKILL, and waits for the process. */
void ts_nats_node_kill(struct ts_nats *c, unsigned i);

/* SIGTERM: the server closes its stores (writing what it buffered) and
 * exits; waits up to 10 s, then kills. */
void ts_nats_node_shutdown(struct ts_nats *c, unsigned i);

/* Kills every node still running. */
void ts_nats_stop(struct ts_nats *c);

/* What a reader found in a stream of Sluice events (one boot's events: a
 * worker's sequence starts at 1). */
#define TS_BUS_WORKERS 16
struct ts_bus_seen {
	uint64_t messages;     /* read from the stream */
	uint64_t unique;       /* distinct (worker, sequence) */
	uint64_t duplicates;   /* a (worker, sequence) seen again */
	uint64_t out_of_order; /* first seen after a later sequence of its worker */
	uint64_t missing;      /* below a worker's highest sequence, never seen */
	uint64_t highest[TS_BUS_WORKERS];
	uint64_t bad; /* no Sluice-Worker/Sluice-Seq, or check() said no */
};

/* Reads the whole stream with a pull consumer named durable. check (may be
 * NULL) judges each message's subject and body. Returns 0 or -1 with err. */
int ts_nats_read_events(const char *urls, const char *stream, const char *durable,
			bool (*check)(const char *subject, const char *data, int len, void *arg),
			void *arg, struct ts_bus_seen *seen, char *err, size_t err_len);

/* Messages in a stream now; -1 when it cannot be asked. */
long long ts_nats_stream_messages(const char *urls, const char *stream);

#endif
