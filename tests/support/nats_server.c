#include "nats_server.h"

#include <nats/nats.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *ts_nats_server_path(void)
{
	static const char *const candidates[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server",
						 "/usr/local/bin/nats-server"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
		if (access(candidates[i], X_OK) == 0)
			return candidates[i];
	return NULL;
}

/* n loopback ports nobody listens on now, all different: every socket stays
 * bound until all are picked (ports picked one after another, each socket
 * closed at once, can come back twice: a JetStream node then died on its
 * route port, taken by another node of its own cluster). 0, or -1. */
static int free_ports(int *ports, unsigned n)
{
	int fds[2 * TS_NATS_MAX_NODES];
	int rc = 0;
	if (n > sizeof(fds) / sizeof(fds[0]))
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(a);
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		ports[i] = -1;
		if (fds[i] >= 0 && bind(fds[i], (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    getsockname(fds[i], (struct sockaddr *)&a, &len) == 0)
			ports[i] = ntohs(a.sin_port);
		else
			rc = -1;
	}
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static bool accepts(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int ts_nats_node_start(struct ts_nats *c, unsigned i)
{
	const char *server = ts_nats_server_path();
	struct ts_nats_node *n = &c->node[i];
	if (server == NULL || n->pid != 0)
		return -1;
	char port[16], name[16], store[600], log[600], cluster[64], routes[256] = "";
	snprintf(port, sizeof(port), "%d", n->port);
	snprintf(name, sizeof(name), "n%u", i + 1);
	snprintf(store, sizeof(store), "%s/%s", c->dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", c->dir, name);
	snprintf(cluster, sizeof(cluster), "nats://127.0.0.1:%d", n->cluster_port);
	for (unsigned k = 0, used = 0; k < c->nodes; k++)
		if (k != i)
			used += (unsigned)snprintf(routes + used, sizeof(routes) - used,
						   "%snats://127.0.0.1:%d", used ? "," : "",
						   c->node[k].cluster_port);
	const char *argv[40];
	unsigned a = 0;
	argv[a++] = server;
	argv[a++] = "-a";
	argv[a++] = "127.0.0.1";
	argv[a++] = "-p";
	argv[a++] = port;
	if (c->config != NULL) {
		argv[a++] = "-c";
		argv[a++] = c->config;
	} else {
		argv[a++] = "-n";
		argv[a++] = name;
		argv[a++] = "-js";
		argv[a++] = "-sd";
		argv[a++] = store;
	}
	for (unsigned k = 0; c->extra != NULL && c->extra[k] != NULL && k < 12; k++)
		argv[a++] = c->extra[k];
	if (c->nodes > 1) {
		argv[a++] = "--cluster_name";
		argv[a++] = "sluice-test";
		argv[a++] = "--cluster";
		argv[a++] = cluster;
		argv[a++] = "--routes";
		argv[a++] = routes;
	}
	argv[a] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* A test that fails an assertion exits at once: its servers go
		 * with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(server, (char *const *)argv);
		_exit(127);
	}
	n->pid = pid;
	for (int tries = 0; tries < 200; tries++) {
		if (accepts(n->port))
			return 0;
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			n->pid = 0;
			return -1;
		}
		struct timespec pause = {0, 50000000};
		nanosleep(&pause, NULL);
	}
	return -1;
}

static int start_nodes(struct ts_nats *c, unsigned nodes, const char *dir, const char *const *extra,
		       const char *config, char *err, size_t err_len)
{
	memset(c, 0, sizeof(*c));
	c->extra = extra;
	c->config = config;
	if (ts_nats_server_path() == NULL) {
		snprintf(err, err_len,
			 "nats-server is not installed (Debian: apt-get install nats-server;"
			 " deploy/install-deps.sh installs it)");
		return -1;
	}
	if (nodes == 0 || nodes > TS_NATS_MAX_NODES) {
		snprintf(err, err_len, "%u nodes: 1 to %d", nodes, TS_NATS_MAX_NODES);
		return -1;
	}
	c->nodes = nodes;
	snprintf(c->dir, sizeof(c->dir), "%s", dir);
	/* A client and a route port for each node, all different. */
	int ports[2 * TS_NATS_MAX_NODES];
	if (free_ports(ports, 2 * nodes) != 0) {
		snprintf(err, err_len, "no %u free loopback ports", 2 * nodes);
		return -1;
	}
	for (unsigned i = 0, used = 0; i < nodes; i++) {
		c->node[i].port = ports[2 * i];
		c->node[i].cluster_port = ports[2 * i + 1];
		used += (unsigned)snprintf(c->urls + used, sizeof(c->urls) - used,
					   "%snats://127.0.0.1:%d", i ? "," : "", c->node[i].port);
	}
	for (unsigned i = 0; i < nodes; i++)
		if (ts_nats_node_start(c, i) != 0) {
			snprintf(err, err_len, "nats-server node %u did not start (see %s/n%u.log)",
				 i + 1, dir, i + 1);
			ts_nats_stop(c);
			return -1;
		}
	return 0;
}

int ts_nats_start(struct ts_nats *c, unsigned nodes, const char *dir, char *err, size_t err_len)
{
	return start_nodes(c, nodes, dir, NULL, NULL, err, err_len);
}

int ts_nats_start_with(struct ts_nats *c, unsigned nodes, const char *dir, const char *const *extra,
		       char *err, size_t err_len)
{
	return start_nodes(c, nodes, dir, extra, NULL, err, err_len);
}

int ts_nats_start_configured(struct ts_nats *c, const char *dir, const char *config, char *err,
			     size_t err_len)
{
	return start_nodes(c, 1, dir, NULL, config, err, err_len);
}

void ts_nats_config_head(char *out, size_t len, const char *dir)
{
	snprintf(out, len, "server_name: \"n1\"\njetstream { store_dir: \"%s/n1\" }\n", dir);
}

/* Lines of node i's log that say how its last reload went, counted. */
static void count_reloads(const struct ts_nats *c, unsigned i, unsigned *done, unsigned *failed)
{
	char path[600], line[2048];
	snprintf(path, sizeof(path), "%s/n%u.log", c->dir, i + 1);
	*done = *failed = 0;
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		*done += strstr(line, "Reloaded server configuration") != NULL;
		*failed += strstr(line, "Failed to reload server configuration") != NULL;
	}
	fclose(f);
}

int ts_nats_node_reload(struct ts_nats *c, unsigned i)
{
	unsigned done0, failed0, done, failed;
	count_reloads(c, i, &done0, &failed0);
	if (c->node[i].pid <= 0 || kill(c->node[i].pid, SIGHUP) != 0)
		return -1;
	for (int tries = 0; tries < 200; tries++) {
		count_reloads(c, i, &done, &failed);
		if (failed > failed0)
			return -1;
		if (done > done0)
			return 0;
		struct timespec pause = {0, 50000000};
		nanosleep(&pause, NULL);
	}
	return -1;
}

void ts_nats_node_kill(struct ts_nats *c, unsigned i)
{
	struct ts_nats_node *n = &c->node[i];
	if (n->pid == 0)
		return;
	kill(n->pid, SIGKILL);
	waitpid(n->pid, NULL, 0);
	n->pid = 0;
}

void ts_nats_node_shutdown(struct ts_nats *c, unsigned i)
{
	struct ts_nats_node *n = &c->node[i];
	if (n->pid == 0)
		return;
	kill(n->pid, SIGTERM);
	bool gone = false;
	for (int k = 0; k < 200 && !(gone = waitpid(n->pid, NULL, WNOHANG) == n->pid); k++)
		usleep(50 * 1000);
	if (!gone) {
		kill(n->pid, SIGKILL);
		waitpid(n->pid, NULL, 0);
	}
	n->pid = 0;
}

void ts_nats_stop(struct ts_nats *c)
{
	for (unsigned i = 0; i < c->nodes; i++)
		ts_nats_node_kill(c, i);
}

/* ---- reading the stream back ---- */

struct seen_bits {
	uint8_t *bits;
	uint64_t cap; /* sequences */
};

static bool seen_mark(struct seen_bits *b, uint64_t seq, bool *was)
{
	if (seq >= b->cap) {
		uint64_t cap = b->cap ? b->cap : 4096;
		while (cap <= seq)
			cap *= 2;
		uint8_t *n = realloc(b->bits, cap / 8);
		if (n == NULL)
			return false;
		memset(n + b->cap / 8, 0, (cap - b->cap) / 8);
		b->bits = n;
		b->cap = cap;
	}
	*was = (b->bits[seq / 8] >> (seq % 8)) & 1;
	b->bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return true;
}

long long ts_nats_stream_messages(const char *urls, const char *stream)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	long long n = -1;
	if (natsConnection_ConnectTo(&nc, urls) == NATS_OK &&
	    natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
	    js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK)
		n = (long long)si->State.Msgs;
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return n;
}

/* Refusals a cluster gives while its leaders are being elected again; 0 is
 * a refusal with no JetStream code (no responders yet). */
static bool consumer_refusal_passes(jsErrCode jerr)
{
	return jerr == 0 || jerr == JSClusterNotAvailErr || jerr == JSClusterNotLeaderErr ||
	       jerr == JSClusterNoPeersErr;
}

int ts_nats_read_events(const char *urls, const char *stream, const char *durable,
			bool (*check)(const char *subject, const char *data, int len, void *arg),
			void *arg, struct ts_bus_seen *seen, char *err, size_t err_len)
{
	memset(seen, 0, sizeof(*seen));
	long long total = -1;
	/* The stream may need a moment after a cluster restart. */
	for (int tries = 0; tries < 50 && total < 0; tries++) {
		total = ts_nats_stream_messages(urls, stream);
		if (total < 0) {
			struct timespec pause = {0, 200000000};
			nanosleep(&pause, NULL);
		}
	}
	if (total < 0) {
		snprintf(err, err_len, "stream %s cannot be read at %s", stream, urls);
		return -1;
	}
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	natsSubscription *sub = NULL;
	jsErrCode jerr = 0;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = stream;
	so.Config.DeliverPolicy = js_DeliverAll;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.MaxAckPending = 100000;
	natsStatus s = natsConnection_ConnectTo(&nc, urls);
	if (s == NATS_OK)
		s = natsConnection_JetStream(&js, nc, NULL);
	/* After a cluster restart the stream answers info before its leader
	 * takes consumers: creating one may time out, or be refused while the
	 * meta group or the stream's group has no leader yet (CI saw 10008). */
	for (int tries = 0; s == NATS_OK && tries < 30; tries++) {
		s = js_PullSubscribe(&sub, js, "sluice.events.>", durable, NULL, &so, &jerr);
		if (s != NATS_TIMEOUT && !(s == NATS_ERR && consumer_refusal_passes(jerr)))
			break;
		struct timespec pause = {0, 500000000};
		nanosleep(&pause, NULL);
		s = NATS_OK;
	}
	if (s == NATS_OK && sub == NULL)
		s = NATS_TIMEOUT;
	struct seen_bits bits[TS_BUS_WORKERS] = {{0}};
	/* Give up after 10 fetches in a row bring nothing (20 s): a slow
	 * machine under a just re-elected leader can pause that long. */
	int misses = 0;
	while (s == NATS_OK && seen->messages < (uint64_t)total && misses < 10) {
		natsMsgList list = {0};
		natsStatus f = natsSubscription_Fetch(&list, sub, 1000, 2000, &jerr);
		if (f != NATS_OK) {
			misses++;
			continue;
		}
		misses = 0;
		for (int k = 0; k < list.Count; k++) {
			natsMsg *m = list.Msgs[k];
			const char *w = NULL, *q = NULL;
			seen->messages++;
			natsMsgHeader_Get(m, "Sluice-Worker", &w);
			natsMsgHeader_Get(m, "Sluice-Seq", &q);
			bool ok = w != NULL && q != NULL &&
				  (check == NULL || check(natsMsg_GetSubject(m), natsMsg_GetData(m),
							  natsMsg_GetDataLength(m), arg));
			unsigned worker = w != NULL ? (unsigned)strtoul(w, NULL, 10) : 0;
			uint64_t seq = q != NULL ? strtoull(q, NULL, 10) : 0;
			bool was = false;
			if (!ok || worker >= TS_BUS_WORKERS ||
			    !seen_mark(&bits[worker], seq, &was)) {
				seen->bad++;
			} else if (was) {
				seen->duplicates++;
			} else {
				seen->unique++;
				if (seq < seen->highest[worker])
					seen->out_of_order++;
				else
					seen->highest[worker] = seq;
			}
			natsMsg_Ack(m, NULL);
		}
		natsMsgList_Destroy(&list);
	}
	for (unsigned w = 0; w < TS_BUS_WORKERS; w++) {
		for (uint64_t q = 1; q <= seen->highest[w]; q++)
			if (q >= bits[w].cap || !((bits[w].bits[q / 8] >> (q % 8)) & 1))
				seen->missing++;
		free(bits[w].bits);
	}
	if (s != NATS_OK)
		snprintf(err, err_len, "reading stream %s: %s (JetStream error %d)", stream,
			 natsStatus_GetText(s), (int)jerr);
	else if (seen->messages < (uint64_t)total) {
		snprintf(err, err_len,
			 "stream %s: read %llu of its %lld messages, then nothing for 20 s", stream,
			 (unsigned long long)seen->messages, total);
		s = NATS_TIMEOUT;
	}
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return s == NATS_OK ? 0 : -1;
}
