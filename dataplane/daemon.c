#include "daemon.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "clock.h"
#include "audit_log.h"
#include "config_check.h"
#include "control_server.h"
#include "pack_source.h"
#include "event_sink.h"
#include "ports.h"
#include "ruleset_registry.h"
#include "stats_report.h"
#include "telemetry.h"
#include "worker.h"

static volatile sig_atomic_t stop_signalled;
static volatile sig_atomic_t reopen_signalled;

void sluice_daemon_request_stop(void)
{
	stop_signalled = 1;
}

void sluice_daemon_request_reopen(void)
{
	reopen_signalled = 1;
}

struct daemon {
	const struct sluice_options *opt;
	/* One mbuf pool per NUMA node with workers; a worker's RX queues take
	 * their buffers from its own node's pool. */
	struct rte_mempool *pools[RTE_MAX_NUMA_NODES];
	struct sluice_allocator node_alloc[RTE_MAX_NUMA_NODES];
	unsigned worker_count;
	struct sluice_worker **workers; /* each on its own lcore's node */
	struct sluice_message_decoder decoder;
	struct sluice_stream_config stream_cfg; /* any_port false: no TCP service */
	struct sluice_registry registry;
	struct sluice_event_sink sink;
	bool sink_open;
	struct sluice_event_bus *bus;		/* NULL: no --events-bus */
	struct sluice_event_bus_stats bus_last; /* after it closed */
	struct sluice_fleet_watch *fleet;	/* NULL: no --pack-source */
	bool bus_closed;
	uint64_t event_hash_key[2];
	struct sluice_audit_log audit;
	bool audit_open;
	struct sluice_trust *trust;
	struct sluice_control control;
	bool stop_workers;
	bool ports_started[2];
	bool tcp_checksum_by_port[2]; /* asked to verify chat segments' checksums */
	char port_names[2][128];
	double started_s;
};

/* After logrotate moved the events file and the audit log (SIGHUP). */
static void reopen_files(struct daemon *d)
{
	char err[512];
	reopen_signalled = 0;
	if (d->sink_open && sluice_event_sink_reopen(&d->sink, err, sizeof(err)) != 0)
		fprintf(stderr, "sluice: %s; events go on to the old file\n", err);
	if (d->audit_open && sluice_audit_reopen(&d->audit, err, sizeof(err)) != 0)
		fprintf(stderr, "sluice: %s; audit lines go on to the old file\n", err);
}

/* The registry's loader: packs and rule files, signatures checked by trust. */
static int load_pack(const char *path, const struct sluice_load_limits *limits,
		     struct sluice_pack **out, char *err, size_t err_len, void *trust)
{
	return sluice_pack_load_within(path, trust, limits, out, err, err_len);
}

static void drain_hook(void *arg)
{
	sluice_control_drain_pushed(arg);
}

static bool port_counters(void *arg, unsigned side, struct sluice_port_counters *out)
{
	const struct daemon *d = arg;
	struct rte_eth_stats st;
	if (!d->ports_started[side] ||
	    rte_eth_stats_get(side ? d->opt->port_b : d->opt->port_a, &st) != 0)
		return false;
	*out = (struct sluice_port_counters){.rx_missed = st.imissed,
					     .rx_nombuf = st.rx_nombuf,
					     .rx_errors = st.ierrors,
					     .tx_errors = st.oerrors};
	return true;
}

/* The node an lcore's memory should come from. */
static unsigned lcore_node(unsigned lcore)
{
	unsigned node = rte_lcore_to_socket_id(lcore);
	return node < RTE_MAX_NUMA_NODES ? node : 0;
}

static void *node_zalloc(void *arg, size_t size)
{
	int node = (int)(intptr_t)arg;
	void *p = rte_zmalloc_socket("sluice_worker", size, RTE_CACHE_LINE_SIZE, node);
	/* A node without free memory still works, only slower. */
	return p != NULL ? p : rte_zmalloc("sluice_worker", size, RTE_CACHE_LINE_SIZE);
}

static void node_free(void *arg, void *p)
{
	(void)arg;
	rte_free(p);
}

/* mbufs for the RX queues of `workers` workers on one node. */
static unsigned pool_size(const struct daemon *d, unsigned workers)
{
	const struct sluice_options *o = d->opt;
	if (o->mbufs != 0)
		return o->mbufs;
	/* Every descriptor of every queue may hold one, plus bursts in flight. */
	unsigned need =
	    2 * workers * (o->rx_desc + o->tx_desc) + workers * 3 * SLUICE_MAX_BURST + 2048;
	/* Streams hold packets until their messages are judged. */
	if (d->stream_cfg.any_port)
		need += workers * d->stream_cfg.held_packets;
	unsigned n = 8191;
	while (n < need)
		n = n * 2 + 1;
	return n;
}

/* A pool on every node that has workers. */
static int create_pools(struct daemon *d, char *err, size_t err_len)
{
	unsigned per_node[RTE_MAX_NUMA_NODES] = {0}, lcore;
	RTE_LCORE_FOREACH_WORKER(lcore)
	per_node[lcore_node(lcore)]++;
	for (unsigned node = 0; node < RTE_MAX_NUMA_NODES; node++) {
		d->node_alloc[node] = (struct sluice_allocator){
		    .zalloc = node_zalloc, .free = node_free, .arg = (void *)(intptr_t)node};
		if (per_node[node] == 0)
			continue;
		char name[RTE_MEMPOOL_NAMESIZE];
		snprintf(name, sizeof(name), "sluice_mbufs_s%u", node);
		unsigned n = pool_size(d, per_node[node]);
		d->pools[node] =
		    rte_pktmbuf_pool_create(name, n, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, (int)node);
		if (d->pools[node] == NULL) {
			snprintf(err, err_len,
				 "cannot create a pool of %u mbufs on node %u: %s (give EAL more "
				 "memory with -m, or fewer with --mbufs)",
				 n, node, rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

/* TCP chat services from the options; times in TSC cycles. */
static void configure_streams(struct daemon *d)
{
	const struct sluice_options *o = d->opt;
	struct sluice_stream_config *c = &d->stream_cfg;
	uint64_t hz = rte_get_tsc_hz();
	sluice_stream_config_default(c, hz);
	for (unsigned i = 0; i < o->ws_port_count; i++)
		sluice_stream_config_add_port(c, o->ws_ports[i]);
	c->members = o->ws_members;
	c->flows = o->flows;
	c->flow_bytes = o->flow_kib * 1024u;
	c->worker_bytes = o->stream_memory_mb << 20;
	c->max_message = o->ws_max_message;
	c->hold_timeout = hz * o->hold_ms / 1000;
	c->strip_deflate = o->ws_deflate == 0;
	c->binary = o->ws_binary ? SLUICE_WS_BINARY_PASS : SLUICE_WS_BINARY_RESET;
	c->block = o->stream_block ? SLUICE_STREAM_BLOCK_RESET : SLUICE_STREAM_BLOCK_BLANK;
	if (c->any_port)
		d->decoder.tcp_ports = c->tcp_ports;
}

static int setup_workers(struct daemon *d, char *err, size_t err_len)
{
	d->workers = rte_zmalloc("sluice_workers", d->worker_count * sizeof(*d->workers), 0);
	if (d->workers == NULL) {
		snprintf(err, err_len, "out of memory for %u workers", d->worker_count);
		return -1;
	}
	unsigned i = 0, lcore;
	double hz = (double)rte_get_tsc_hz();
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		const struct sluice_allocator *alloc = &d->node_alloc[lcore_node(lcore)];
		struct sluice_worker *w = sluice_zalloc(alloc, sizeof(*w));
		if (w == NULL) {
			snprintf(err, err_len, "out of memory for worker %u", i);
			return -1;
		}
		d->workers[i] = w;
		w->id = i;
		w->lcore = lcore;
		w->ports[0] = d->opt->port_a;
		w->ports[1] = d->opt->port_b;
		w->queue = (uint16_t)i;
		w->burst = d->opt->burst;
		w->active = &d->registry.active;
		w->stop = &d->stop_workers;
		w->idle_cycles = d->opt->offline ? (uint64_t)(hz * d->opt->idle_ms / 1e3) : 0;
		struct sluice_event_ring *ring =
		    sluice_event_ring_create_from(d->opt->event_ring, alloc);
		if (ring == NULL) {
			snprintf(err, err_len, "out of memory for worker %u's event ring", i);
			return -1;
		}
		sluice_packet_ctx_init(&w->ctx, (uint16_t)i, &d->decoder, &w->stats, ring);
		w->ctx.alloc = alloc;
		memcpy(w->ctx.policy, d->opt->policy, sizeof(w->ctx.policy));
		if (d->opt->events_full == SLUICE_EVENTS_WAIT)
			w->ctx.event_wait_cycles = (uint64_t)(hz * d->opt->events_wait_us / 1e6);
		w->ctx.event_snippet = d->opt->event_snippet;
		memcpy(w->ctx.event_hash_key, d->event_hash_key, sizeof(d->event_hash_key));
		if (sluice_packet_ctx_set_scan_mode(&w->ctx, d->opt->scan_mode) != 0) {
			snprintf(err, err_len, "out of memory for worker %u's scan batches", i);
			return -1;
		}
		if (d->stream_cfg.any_port) {
			if (sluice_stream_ctx_init(&w->streams, &d->stream_cfg, alloc) != 0) {
				snprintf(err, err_len,
					 "out of memory for worker %u's streams (%u flows, %u MiB:"
					 " see --flows and --stream-memory-mb)",
					 i, d->stream_cfg.flows, d->stream_cfg.worker_bytes >> 20);
				return -1;
			}
			sluice_worker_packet_factory(&w->streams.factory,
						     d->pools[lcore_node(lcore)]);
			w->ctx.streams = &w->streams;
		}
		d->control.stats[i] = &w->stats;
		d->control.rings[i] = ring;
		d->control.lcores[i] = lcore;
		i++;
	}
	d->control.worker_count = d->worker_count;
	return 0;
}

static bool all_idle(const struct daemon *d)
{
	for (unsigned i = 0; i < d->worker_count; i++) {
		if (!__atomic_load_n(&d->workers[i]->idle, __ATOMIC_RELAXED))
			return false;
	}
	return true;
}

/* The WebSocket services' lines of the summary. */
static void print_streams(FILE *out, const struct sluice_stream_stats *st)
{
	fprintf(out,
		"  websocket       %llu connections opened, %llu reset; %llu text messages"
		" scanned (%llu by JSON members), %llu control frames\n",
		(unsigned long long)st->flows_opened, (unsigned long long)st->flows_reset,
		(unsigned long long)st->ws_messages, (unsigned long long)st->json_messages,
		(unsigned long long)st->ws_control);
	fprintf(out,
		"  tcp segments    %llu: %llu held, %llu released, %llu dropped;"
		" %llu retransmissions rewritten; %llu checksums verified by the port\n",
		(unsigned long long)st->segments, (unsigned long long)st->segments_held,
		(unsigned long long)st->segments_released, (unsigned long long)st->segments_dropped,
		(unsigned long long)st->retransmits_rewritten,
		(unsigned long long)st->checksums_by_port);
	if (st->custody_acks > 0)
		fprintf(out,
			"  tcp custody     %llu ACKs for %llu held bytes in the receiver's name,"
			" %llu segments resent from the store, %llu receiver ACKs raised\n",
			(unsigned long long)st->custody_acks, (unsigned long long)st->custody_bytes,
			(unsigned long long)st->custody_resends,
			(unsigned long long)st->acks_raised);
	const char *sep = "  stream reasons  ";
	for (unsigned r = 1; r < SLUICE_STREAM_REASON_COUNT; r++) {
		if (st->reason[r] == 0)
			continue;
		fprintf(out, "%s%s %llu", sep,
			sluice_stream_reason_name((enum sluice_stream_reason)r),
			(unsigned long long)st->reason[r]);
		sep = ", ";
	}
	if (sep[0] == ',')
		fprintf(out, "\n");
}

static void print_summary(struct daemon *d, FILE *out, const struct sluice_worker_stats *t)
{
	const struct sluice_generation *gen = sluice_registry_current(&d->registry);
	double secs = sluice_mono_s() - d->started_s;
	fprintf(out, "\nSluice summary (%.2f s, %u worker%s)\n", secs, d->worker_count,
		d->worker_count == 1 ? "" : "s");
	if (gen != NULL)
		fprintf(out, "  pack            %s %s, %zu rules, sha256 %.16s…, generation %llu\n",
			gen->pack->name, gen->pack->version, gen->pack->rule_count,
			gen->pack->sha256_hex, (unsigned long long)gen->seq);
	const struct sluice_pack *urgent = gen != NULL ? gen->slot[SLUICE_SLOT_URGENT].pack : NULL;
	if (urgent != NULL)
		fprintf(out, "  urgent pack     %s %s, %zu rules, sha256 %.16s…\n", urgent->name,
			urgent->version, urgent->rule_count, urgent->sha256_hex);
	fprintf(out, "  side A          %s: received %llu, sent %llu, send drops %llu\n",
		d->port_names[0], (unsigned long long)t->rx_packets[0],
		(unsigned long long)t->tx_packets[0], (unsigned long long)t->tx_dropped[0]);
	fprintf(out, "  side B          %s: received %llu, sent %llu, send drops %llu\n",
		d->port_names[1], (unsigned long long)t->rx_packets[1],
		(unsigned long long)t->tx_packets[1], (unsigned long long)t->tx_dropped[1]);
	for (unsigned side = 0; side < 2; side++) {
		struct sluice_port_counters pc;
		if (port_counters(d, side, &pc) &&
		    pc.rx_missed + pc.rx_nombuf + pc.rx_errors + pc.tx_errors > 0)
			fprintf(out,
				"  side %c driver   lost before a worker saw them: %llu (ring full "
				"%llu, no mbuf %llu, errors %llu); send errors %llu\n",
				side ? 'B' : 'A',
				(unsigned long long)(pc.rx_missed + pc.rx_nombuf + pc.rx_errors),
				(unsigned long long)pc.rx_missed, (unsigned long long)pc.rx_nombuf,
				(unsigned long long)pc.rx_errors, (unsigned long long)pc.tx_errors);
	}
	fprintf(out, "  other traffic   %llu packets forwarded untouched\n",
		(unsigned long long)t->other_forwarded);
	fprintf(out,
		"  message port    %u: %llu datagrams, %llu messages, %llu bytes of text scanned\n",
		d->opt->udp_port, (unsigned long long)t->datagrams, (unsigned long long)t->messages,
		(unsigned long long)t->bytes_scanned);
	fprintf(out, "  passed          %llu messages unchanged\n",
		(unsigned long long)t->verdicts[SLUICE_ACTION_NONE]);
	fprintf(out, "  flagged         %llu\n",
		(unsigned long long)t->verdicts[SLUICE_ACTION_FLAG]);
	fprintf(out, "  masked          %llu\n",
		(unsigned long long)t->verdicts[SLUICE_ACTION_MASK]);
	fprintf(out, "  blocked         %llu (datagrams left empty and removed: %llu)\n",
		(unsigned long long)t->verdicts[SLUICE_ACTION_BLOCK],
		(unsigned long long)t->datagrams_removed);
	uint64_t bad_total = 0;
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++)
		bad_total += t->bad[r];
	fprintf(out, "  bad input       %llu", (unsigned long long)bad_total);
	const char *sep = ": ";
	for (unsigned r = 1; r < SLUICE_BAD_REASON_COUNT; r++) {
		if (t->bad[r] == 0)
			continue;
		fprintf(out, "%s%s %llu (%s)", sep,
			sluice_bad_reason_name((enum sluice_bad_reason)r),
			(unsigned long long)t->bad[r], sluice_bad_policy_name(d->opt->policy[r]));
		sep = ", ";
	}
	fprintf(out, "\n");
	if (t->datagrams_dropped_bad > 0)
		fprintf(out, "                  %llu datagrams dropped for bad input alone\n",
			(unsigned long long)t->datagrams_dropped_bad);
	if (d->stream_cfg.any_port)
		print_streams(out, &t->stream);
	double hz = (double)rte_get_tsc_hz();
	if (d->sink_open) {
		fprintf(out, "  events          %llu written to %s, %llu dropped (ring full)",
			(unsigned long long)d->sink.written,
			strcmp(d->sink.path, "-") == 0	    ? "stdout"
			: strcmp(d->sink.path, "none") == 0 ? "the bus alone"
							    : d->sink.path,
			(unsigned long long)t->events_dropped);
		if (d->sink.filtered + d->sink.sampled_out > 0)
			fprintf(out, ", %llu filtered out, %llu sampled out",
				(unsigned long long)d->sink.filtered,
				(unsigned long long)d->sink.sampled_out);
		if (d->sink.rotations > 0)
			fprintf(out, ", file rotated %llu time%s",
				(unsigned long long)d->sink.rotations,
				d->sink.rotations == 1 ? "" : "s");
		if (d->opt->events_full == SLUICE_EVENTS_WAIT)
			fprintf(out,
				"; --events-full wait: %llu waited for room, %.1f ms in all, %llu"
				" of them in vain",
				(unsigned long long)t->events_waited,
				t->event_wait_cycles / hz * 1e3,
				(unsigned long long)t->event_wait_timeouts);
		fprintf(out, "\n");
	}
	if (d->bus_closed) {
		const struct sluice_event_bus_stats *b = &d->bus_last;
		fprintf(
		    out,
		    "  events bus      %llu published, %llu acked (%llu duplicates), %llu resent,"
		    " %llu spooled, %llu left in the spool (%s), %llu lost, %llu reconnects\n",
		    (unsigned long long)b->published, (unsigned long long)b->acked,
		    (unsigned long long)b->duplicates, (unsigned long long)b->resent,
		    (unsigned long long)b->spooled, (unsigned long long)b->spool_events,
		    d->opt->events_spool != NULL ? d->opt->events_spool : "no spool",
		    (unsigned long long)b->lost, (unsigned long long)b->reconnects);
	}
	fprintf(out, "  worker loop     longest pass %.1f us, longest gap between passes %.1f us\n",
		(double)t->max_iteration_cycles * 1e6 / hz, (double)t->max_gap_cycles * 1e6 / hz);
}

static int write_summary_json(struct daemon *d, const char *path)
{
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	sluice_strbuf_printf(&sb,
			     "{\"workers\":%u,\"udp_port\":%u,\"events_written\":%llu,"
			     "\"events_filtered\":%llu,\"events_sampled_out\":%llu,",
			     d->worker_count, d->opt->udp_port,
			     (unsigned long long)(d->sink_open ? d->sink.written : 0),
			     (unsigned long long)(d->sink_open ? d->sink.filtered : 0),
			     (unsigned long long)(d->sink_open ? d->sink.sampled_out : 0));
	if (d->bus_closed)
		sluice_strbuf_printf(&sb,
				     "\"events_bus_published\":%llu,\"events_bus_acked\":%llu,"
				     "\"events_bus_duplicates\":%llu,\"events_bus_resent\":%llu,"
				     "\"events_bus_spooled\":%llu,\"events_bus_spool_events\":%llu,"
				     "\"events_bus_lost\":%llu,\"bus_reconnects\":%llu,",
				     (unsigned long long)d->bus_last.published,
				     (unsigned long long)d->bus_last.acked,
				     (unsigned long long)d->bus_last.duplicates,
				     (unsigned long long)d->bus_last.resent,
				     (unsigned long long)d->bus_last.spooled,
				     (unsigned long long)d->bus_last.spool_events,
				     (unsigned long long)d->bus_last.lost,
				     (unsigned long long)d->bus_last.reconnects);
	const struct sluice_generation *gen = sluice_registry_current(&d->registry);
	if (gen != NULL) {
		sluice_strbuf_printf(&sb, "\"pack\":");
		sluice_strbuf_json_string(&sb, gen->pack->name);
		sluice_strbuf_printf(&sb, ",\"pack_version\":");
		sluice_strbuf_json_string(&sb, gen->pack->version);
		sluice_strbuf_printf(&sb, ",\"generation\":%llu,", (unsigned long long)gen->seq);
		const struct sluice_pack *urgent = gen->slot[SLUICE_SLOT_URGENT].pack;
		if (urgent != NULL) {
			sluice_strbuf_printf(&sb, "\"urgent_pack\":");
			sluice_strbuf_json_string(&sb, urgent->name);
			sluice_strbuf_printf(&sb, ",\"urgent_pack_version\":");
			sluice_strbuf_json_string(&sb, urgent->version);
			sluice_strbuf_printf(&sb, ",");
		}
	}
	sluice_strbuf_printf(&sb, "\"stats\":");
	sluice_stats_json(&sb, d->control.stats, d->worker_count, rte_get_tsc_hz());
	sluice_strbuf_printf(&sb, "}\n");
	FILE *f = fopen(path, "w");
	int rc = -1;
	if (f != NULL && !sb.failed) {
		rc = fwrite(sb.data, 1, sb.len, f) == sb.len ? 0 : -1;
	}
	if (f != NULL && fclose(f) != 0)
		rc = -1;
	sluice_strbuf_free(&sb);
	return rc;
}

/* The bus last of all events: what it could not get acknowledged within
 * BUS_CLOSE_WAIT_MS goes to the spool for the next start. */
#define BUS_CLOSE_WAIT_MS 5000

static void close_bus(struct daemon *d)
{
	if (d->bus == NULL)
		return;
	d->sink.bus = NULL;
	sluice_event_bus_close(d->bus, BUS_CLOSE_WAIT_MS, &d->bus_last);
	d->bus = NULL;
	d->bus_closed = true;
}

static void teardown(struct daemon *d)
{
	d->control.fleet = NULL;
	sluice_fleet_watch_stop(d->fleet);
	d->fleet = NULL;
	sluice_telemetry_detach();
	close_bus(d);
	sluice_control_close(&d->control);
	for (unsigned p = 0; p < 2; p++) {
		if (d->ports_started[p])
			sluice_port_close(p == 0 ? d->opt->port_a : d->opt->port_b);
	}
	sluice_registry_destroy(&d->registry);
	for (unsigned i = 0; d->workers != NULL && i < d->worker_count; i++) {
		struct sluice_worker *w = d->workers[i];
		if (w == NULL)
			continue;
		sluice_event_ring_free(w->ctx.events);
		sluice_packet_ctx_fini(&w->ctx);
		if (w->ctx.streams != NULL) {
			sluice_stream_drop_all(&w->streams);
			rte_pktmbuf_free_bulk((struct rte_mbuf **)w->streams.drop,
					      w->streams.drop_count);
			sluice_stream_ctx_fini(&w->streams);
		}
		rte_free(w);
	}
	rte_free(d->workers);
	if (d->sink_open)
		sluice_event_sink_close(&d->sink);
	if (d->audit_open)
		sluice_audit_close(&d->audit);
	sluice_trust_free(d->trust);
	for (unsigned node = 0; node < RTE_MAX_NUMA_NODES; node++)
		rte_mempool_free(d->pools[node]);
}

static int start(struct daemon *d, char *err, size_t err_len)
{
	const struct sluice_options *o = d->opt;
	d->worker_count = rte_lcore_count() - 1;
	if (d->worker_count == 0) {
		snprintf(err, err_len,
			 "no worker lcore: give EAL at least two cores, e.g. -l 0-1 "
			 "(the first runs the control thread)");
		return -1;
	}
	if (d->worker_count > SLUICE_MAX_WORKERS) {
		snprintf(err, err_len, "%u workers: at most %u are supported", d->worker_count,
			 SLUICE_MAX_WORKERS);
		return -1;
	}
	sluice_udp_frame_decoder_init(&d->decoder, o->udp_port);
	configure_streams(d);

	/* The audit log first, so that the start's own loads are in it. */
	if (o->audit_log != NULL) {
		if (sluice_audit_open(&d->audit, o->audit_log, err, err_len) != 0)
			return -1;
		d->audit_open = true;
	}
	gid_t gid;
	if (o->socket_group != NULL &&
	    sluice_control_resolve_group(o->socket_group, &gid, err, err_len) != 0)
		return -1;

	/* Every pack, at start and on every reload, goes through the trust: with
	 * keys, signatures are checked before a byte of the pack is parsed. */
	d->trust = sluice_options_trust(o, err, err_len);
	if (d->trust == NULL)
		return -1;

	/* Rules next: a bad rule file should fail before any port is touched. */
	static const struct sluice_actor startup = {.kind = SLUICE_ACTOR_STARTUP};
	sluice_registry_init(&d->registry, d->worker_count, o->history);
	d->registry.memory_cap = (size_t)o->memory_cap_mb * 1024 * 1024;
	if (o->now != NULL) /* a rehearsal: the rules' clock runs on from --now */
		d->registry.clock_offset_s = o->now_s - (int64_t)time(NULL);
	d->registry.audit = d->audit_open ? &d->audit : NULL;
	d->registry.loader = load_pack;
	d->registry.loader_arg = d->trust;
	if (sluice_registry_load_slot(&d->registry, SLUICE_SLOT_MAIN, o->rules, &startup, NULL, err,
				      err_len) != 0)
		return -1;
	if (o->urgent_rules != NULL) {
		/* The reason names the file; say which option gave it. */
		static const char prefix[] = "urgent rules: ";
		if (err_len > sizeof(prefix) &&
		    sluice_registry_load_slot(&d->registry, SLUICE_SLOT_URGENT, o->urgent_rules,
					      &startup, NULL, err + sizeof(prefix) - 1,
					      err_len - sizeof(prefix) + 1) != 0) {
			memcpy(err, prefix, sizeof(prefix) - 1);
			return -1;
		}
	}

	if (o->pack_source != NULL) {
		/* A host name may hold dots; the gateway's name is one key token. */
		char host[64] = "sluice";
		gethostname(host, sizeof(host) - 1);
		for (char *c = host; *c != '\0'; c++)
			if (!sluice_fleet_name_ok((char[]){*c, '\0'}))
				*c = '_';
		struct sluice_fleet_watch_config fc;
		sluice_options_fleet(o, host, &fc);
		d->fleet = sluice_fleet_watch_start(&fc, err, err_len);
		if (d->fleet == NULL)
			return -1;
		/* What the fleet last gave this gateway, before the bus is reached. */
		sluice_fleet_watch_load_cache(d->fleet, &d->registry);
	}

	if (create_pools(d, err, err_len) != 0)
		return -1;
	/* Queue q is worker q's: its buffers and rings on that worker's node. */
	struct rte_mempool *queue_pool[SLUICE_MAX_WORKERS];
	unsigned queue_node[SLUICE_MAX_WORKERS], q = 0, lcore;
	RTE_LCORE_FOREACH_WORKER(lcore)
	{
		queue_node[q] = lcore_node(lcore);
		queue_pool[q++] = d->pools[lcore_node(lcore)];
	}
	uint16_t ports[2] = {o->port_a, o->port_b};
	for (unsigned p = 0; p < 2; p++) {
		/* Only chat services' TCP segments are verified (datagrams keep
		 * their checksum, adjusted when rewritten). */
		if (sluice_port_start(ports[p], d->worker_count, o->rx_desc, o->tx_desc, queue_pool,
				      queue_node, d->stream_cfg.any_port,
				      d->stream_cfg.any_port && o->tcp_checksum == 0,
				      &d->tcp_checksum_by_port[p], err, err_len) != 0)
			return -1;
		d->ports_started[p] = true;
		sluice_port_describe(ports[p], d->port_names[p], sizeof(d->port_names[p]));
		char warning[768];
		if (sluice_port_offload_warning(ports[p], warning, sizeof(warning)))
			fprintf(stderr, "sluice: warning: %s\n", warning);
	}

	struct sluice_tsc_clock clock = {
	    .tsc0 = rte_rdtsc(), .ns0 = sluice_realtime_ns(), .hz = rte_get_tsc_hz()};
	if (sluice_event_sink_open(&d->sink, o->events, &clock, err, err_len) != 0)
		return -1;
	d->sink_open = true;
	struct sluice_event_filter filter;
	struct sluice_event_rotation rotation;
	sluice_options_event_sink(o, &filter, &rotation);
	if (sluice_event_sink_configure(&d->sink, &filter, &rotation, err, err_len) != 0 ||
	    sluice_options_hash_key(o, d->event_hash_key, err, err_len) != 0)
		return -1;

	if (o->events_spool != NULL && o->events_bus == NULL) {
		snprintf(err, err_len, "--events-spool: there is no --events-bus to spool for");
		return -1;
	}
	if (o->events_bus != NULL) {
		struct sluice_event_bus_config bus;
		sluice_options_event_bus(o, &bus);
		d->bus = sluice_event_bus_open(&bus, err, err_len);
		if (d->bus == NULL)
			return -1;
		d->sink.bus = d->bus;
	}

	d->control.registry = &d->registry;
	d->control.sink = &d->sink;
	d->control.tsc_hz = rte_get_tsc_hz();
	d->control.stall_ms = o->stall_ms;
	d->control.events_full = o->events_full == SLUICE_EVENTS_WAIT ? "wait" : "drop";
	d->control.events_wait_us = o->events_wait_us;
	d->control.socket_group = o->socket_group;
	if (setup_workers(d, err, err_len) != 0)
		return -1;
	const char *sock = o->control_socket;
	if (sock != NULL && (*sock == '\0' || strcmp(sock, "none") == 0))
		sock = NULL;
	if (sluice_control_open(&d->control, sock, err, err_len) != 0)
		return -1;
	d->control.port_counters = port_counters;
	d->control.port_counters_arg = d;
	d->registry.drain = drain_hook;
	d->registry.check_workers = sluice_control_check_workers;
	d->registry.hook_arg = &d->control;
	d->control.fleet = d->fleet;
	d->control.metrics.rule_limit = o->metrics_rule_limit;
	struct sluice_metrics_http_config metrics = {.listen = o->metrics_listen,
						     .auth_file = o->metrics_auth,
						     .tls_cert = o->metrics_tls_cert,
						     .tls_key = o->metrics_tls_key};
	if (o->metrics_listen != NULL &&
	    sluice_control_open_metrics(&d->control, &metrics, err, err_len) != 0)
		return -1;
	/* Without telemetry (--no-telemetry) the commands are registered but
	 * never asked: no error. */
	int trc = sluice_telemetry_register();
	if (trc != 0)
		fprintf(stderr, "sluice: warning: telemetry commands not registered: %s\n",
			strerror(-trc));
	sluice_telemetry_attach(&d->control);
	return 0;
}

static bool any_worker_running(const struct daemon *d)
{
	for (unsigned i = 0; i < d->worker_count; i++)
		if (rte_eal_get_lcore_state(d->workers[i]->lcore) == RUNNING)
			return true;
	return false;
}

int sluice_daemon_run(const struct sluice_options *opt)
{
	struct daemon *d = calloc(1, sizeof(*d));
	char err[1024];
	if (d == NULL) {
		fprintf(stderr, "sluice: out of memory\n");
		return 1;
	}
	d->opt = opt;
	d->started_s = sluice_mono_s();
	stop_signalled = 0;
	if (start(d, err, sizeof(err)) != 0) {
		fprintf(stderr, "sluice: %s\n", err);
		teardown(d);
		free(d);
		return 1;
	}

	FILE *info = strcmp(opt->events, "-") == 0 ? stderr : stdout;
	const struct sluice_generation *gen = sluice_registry_current(&d->registry);
	const struct sluice_pack *urgent = gen->slot[SLUICE_SLOT_URGENT].pack;
	char urgent_text[512] = "";
	if (urgent != NULL)
		snprintf(urgent_text, sizeof(urgent_text), ", urgent pack %s %s (%zu rules)",
			 urgent->name, urgent->version, urgent->rule_count);
	fprintf(info, "sluice: %u worker%s, %s <-> %s, pack %s %s (%zu rules)%s, control %s\n",
		d->worker_count, d->worker_count == 1 ? "" : "s", d->port_names[0],
		d->port_names[1], gen->pack->name, gen->pack->version, gen->pack->rule_count,
		urgent_text, d->control.socket_path ? d->control.socket_path : "off");
	for (unsigned p = 0; p < 2; p++)
		if (d->tcp_checksum_by_port[p])
			fprintf(info,
				"sluice: %s verifies chat segments' TCP checksums on receive"
				" (--tcp-checksum port)\n",
				d->port_names[p]);
	if (opt->metrics_listen != NULL)
		fprintf(info, "sluice: metrics at %s://%s/metrics%s%s\n",
			opt->metrics_tls_cert != NULL ? "https" : "http", opt->metrics_listen,
			opt->metrics_auth != NULL ? ", basic authentication" : "",
			opt->metrics_auth != NULL && opt->metrics_tls_cert == NULL
			    ? " in clear (no --metrics-tls-cert): anyone on the path reads the"
			      " password"
			    : "");
	fflush(info);

	for (unsigned i = 0; i < d->worker_count; i++)
		rte_eal_remote_launch(sluice_worker_main, d->workers[i], d->workers[i]->lcore);

	double deadline = opt->duration_s > 0 ? sluice_mono_s() + opt->duration_s : 0;
	while (!stop_signalled && !d->control.stop_requested) {
		sluice_control_run_once(&d->control, 5);
		sluice_fleet_watch_poll(d->fleet, &d->control);
		sluice_telemetry_publish(&d->control);
		if (reopen_signalled)
			reopen_files(d);
		if (deadline > 0 && sluice_mono_s() >= deadline)
			break;
		if (opt->offline && all_idle(d))
			break;
	}

	__atomic_store_n(&d->stop_workers, true, __ATOMIC_RELAXED);
	/* Workers finish their bursts; one waiting for room in its event ring
	 * (--events-full wait) finishes only if the rings are still drained. */
	while (any_worker_running(d)) {
		sluice_control_drain(&d->control);
		struct timespec pause = {0, 200000};
		nanosleep(&pause, NULL);
	}
	rte_eal_mp_wait_lcore();
	sluice_control_drain_pushed(&d->control);
	close_bus(d);
	sluice_fleet_watch_stop(d->fleet); /* a last status, then off the bus */
	d->fleet = NULL;
	d->control.fleet = NULL;

	struct sluice_worker_stats total;
	sluice_stats_sum(d->control.stats, d->worker_count, &total);
	print_summary(d, info, &total);
	int rc = 0;
	if (opt->summary != NULL && write_summary_json(d, opt->summary) != 0) {
		fprintf(stderr, "sluice: cannot write summary to %s\n", opt->summary);
		rc = 1;
	}
	fflush(info);
	teardown(d);
	free(d);
	return rc;
}
