#include "control_server.h"
#include "fleet_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "control_clients.h"
#include "control_protocol.h"
#include "metrics_http.h"
#include "stats_report.h"
#include "strbuf.h"

static int make_parent_dir(const char *path)
{
	char *copy = strdup(path);
	if (copy == NULL)
		return -1;
	const char *dir = dirname(copy);
	int rc = 0;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		rc = -1;
	free(copy);
	return rc;
}

int sluice_control_resolve_group(const char *name, gid_t *gid, char *err, size_t err_len)
{
	struct group grp, *found = NULL;
	char buf[16384];
	int rc = getgrnam_r(name, &grp, buf, sizeof(buf), &found);
	if (found == NULL) {
		snprintf(err, err_len, "socket group '%s': %s", name,
			 rc != 0 ? strerror(rc) : "no such group");
		return -1;
	}
	*gid = found->gr_gid;
	return 0;
}

int sluice_control_open(struct sluice_control *ctl, const char *socket_path, char *err,
			size_t err_len)
{
	ctl->listen_fd = -1;
	ctl->started_ns = sluice_realtime_ns();
	double now = sluice_mono_ms();
	for (unsigned w = 0; w < SLUICE_MAX_WORKERS; w++)
		ctl->progress_ms[w] = now;
	ctl->last_expiry_ms = now;
	ctl->socket_gid = getegid();
	if (ctl->socket_group != NULL &&
	    sluice_control_resolve_group(ctl->socket_group, &ctl->socket_gid, err, err_len) != 0)
		return -1;
	if (socket_path == NULL)
		return 0;

	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "%s: control socket path too long", socket_path);
		return -1;
	}
	strcpy(addr.sun_path, socket_path);
	if (make_parent_dir(socket_path) != 0) {
		snprintf(err, err_len, "%s: cannot create its directory: %s", socket_path,
			 strerror(errno));
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(socket_path);
	/* Created with 0660 from the start, so there is no moment when others could
	 * connect. */
	mode_t old = umask(0117);
	int brc = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (brc != 0 || listen(fd, SOMAXCONN) != 0) {
		snprintf(err, err_len, "%s: cannot listen: %s", socket_path, strerror(errno));
		close(fd);
		return -1;
	}
	/* The owner stays who created it (root, for the service). Until the group
	 * changes only the daemon's own group can connect, and the peer check in
	 * serve_one() holds for them too. */
	if (ctl->socket_group != NULL && chown(socket_path, (uid_t)-1, ctl->socket_gid) != 0) {
		snprintf(err, err_len, "%s: cannot give the socket to group '%s': %s", socket_path,
			 ctl->socket_group, strerror(errno));
		close(fd);
		unlink(socket_path);
		return -1;
	}
	if (sluice_ctl_clients_init(&ctl->clients, fd) != 0) {
		snprintf(err, err_len, "out of memory for the control socket's clients");
		close(fd);
		unlink(socket_path);
		return -1;
	}
	ctl->listen_fd = fd;
	ctl->socket_path = strdup(socket_path);
	return 0;
}

int sluice_control_open_metrics(struct sluice_control *ctl,
				const struct sluice_metrics_http_config *cfg, char *err,
				size_t err_len)
{
	if (ctl->metrics_http != NULL) {
		snprintf(err, err_len, "metrics are already served");
		return -1;
	}
	ctl->metrics_http = sluice_metrics_http_open(cfg, ctl, err, err_len);
	return ctl->metrics_http != NULL ? 0 : -1;
}

void sluice_control_close(struct sluice_control *ctl)
{
	sluice_metrics_http_close(ctl->metrics_http);
	ctl->metrics_http = NULL;
	sluice_metrics_fini(&ctl->metrics);
	if (ctl->listen_fd >= 0) {
		sluice_ctl_clients_fini(&ctl->clients);
		close(ctl->listen_fd);
		unlink(ctl->socket_path);
	}
	ctl->listen_fd = -1;
	free(ctl->socket_path);
	ctl->socket_path = NULL;
}

void sluice_control_drain(struct sluice_control *ctl)
{
	if (ctl->sink == NULL)
		return;
	/* Bounded per ring and pass: workers that make events as fast as the
	 * sink writes them must not keep the control thread from its clients.
	 * What is left waits for the next pass (or, in a full ring, is dropped
	 * and counted by the worker). */
	for (unsigned w = 0; w < ctl->worker_count; w++)
		sluice_event_sink_drain(ctl->sink, ctl->rings[w], SLUICE_DRAIN_BUDGET);
	sluice_event_sink_flush(ctl->sink);
	if (ctl->sink->bus != NULL)
		sluice_event_bus_poll(ctl->sink->bus);
}

void sluice_control_drain_pushed(struct sluice_control *ctl)
{
	if (ctl->sink == NULL)
		return;
	/* A bus without room holds the drain back (event_bus.h): the events
	 * must still be written before their packs go, so it gets a bounded
	 * while to make room, and then takes them anyway, counting what it
	 * cannot keep. */
	double until = sluice_mono_ms() + SLUICE_DRAIN_BUS_WAIT_MS;
	for (unsigned w = 0; w < ctl->worker_count; w++) {
		uint64_t pending = sluice_event_ring_pending(ctl->rings[w]);
		while (pending > 0) {
			unsigned n =
			    pending > SLUICE_DRAIN_BUDGET ? SLUICE_DRAIN_BUDGET : (unsigned)pending;
			unsigned got = sluice_event_sink_drain(ctl->sink, ctl->rings[w], n);
			pending = got < pending ? pending - got : 0;
			if (got < n && ctl->sink->bus != NULL && pending > 0) {
				sluice_event_bus_poll(ctl->sink->bus);
				ctl->sink->bus_force = sluice_mono_ms() >= until;
				continue;
			}
			if (got < n)
				break;
		}
	}
	ctl->sink->bus_force = false;
	sluice_event_sink_flush(ctl->sink);
	if (ctl->sink->bus != NULL)
		sluice_event_bus_poll(ctl->sink->bus);
}

static void watchdog_sample(struct sluice_control *ctl)
{
	double now = sluice_mono_ms();
	for (unsigned w = 0; w < ctl->worker_count; w++) {
		uint64_t it = __atomic_load_n(&ctl->stats[w]->iterations, __ATOMIC_RELAXED);
		if (it != ctl->seen_iterations[w]) {
			ctl->seen_iterations[w] = it;
			ctl->progress_ms[w] = now;
			ctl->stuck[w] = false;
		} else if (now - ctl->progress_ms[w] > ctl->stall_ms) {
			if (!ctl->stuck[w])
				ctl->stalls++;
			ctl->stuck[w] = true;
		}
	}
}

bool sluice_control_check_workers(void *arg, char *err, size_t err_len)
{
	struct sluice_control *ctl = arg;
	watchdog_sample(ctl);
	for (unsigned w = 0; w < ctl->worker_count; w++) {
		if (ctl->stuck[w]) {
			snprintf(
			    err, err_len,
			    "worker %u (lcore %u) has not finished a loop for %.0f ms; refusing "
			    "to swap, since the swap would wait for it (the running pack stays)",
			    w, ctl->lcores[w], sluice_mono_ms() - ctl->progress_ms[w]);
			return false;
		}
	}
	return true;
}

static void format_time(struct sluice_strbuf *sb, uint64_t ns)
{
	time_t secs = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	char buf[40];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	sluice_strbuf_printf(sb, "\"%s.%03lluZ\"", buf,
			     (unsigned long long)(ns % 1000000000ull / 1000000ull));
}

static void pack_json(struct sluice_strbuf *sb, const struct sluice_pack *pack)
{
	sluice_strbuf_printf(sb, "{\"name\":");
	sluice_strbuf_json_string(sb, pack->name);
	sluice_strbuf_printf(sb, ",\"version\":");
	sluice_strbuf_json_string(sb, pack->version);
	sluice_strbuf_printf(sb, ",\"rules\":%zu,\"sha256\":\"%s\",\"source\":", pack->rule_count,
			     pack->sha256_hex);
	sluice_strbuf_json_string(sb, pack->source);
	sluice_strbuf_printf(sb, ",\"db_bytes\":%zu}", sluice_pack_memory(pack));
}

/* The pack in force in one slot, with the facts of its generation and the
 * time the slot itself last changed; null when the slot is empty. */
static void active_json(struct sluice_strbuf *sb, const struct sluice_registry *reg,
			const struct sluice_generation *gen, enum sluice_slot slot)
{
	const struct sluice_gen_slot *gs = &gen->slot[slot];
	if (gs->pack == NULL) {
		sluice_strbuf_printf(sb, "null");
		return;
	}
	pack_json(sb, gs->pack);
	/* Replace the closing brace of the pack object to add generation facts. */
	sb->len--;
	uint64_t since = reg->slots[slot].active_since_ns;
	sluice_strbuf_printf(sb,
			     ",\"generation\":%llu,\"loaded_at\":", (unsigned long long)gen->seq);
	format_time(sb, since != 0 ? since : gen->loaded_at_ns);
	sluice_strbuf_printf(sb, ",\"scratch_bytes_per_worker\":%zu,\"disabled_rules\":%zu}",
			     gs->scratch->bytes, gs->disabled_count);
}

/* The slot's kept packs in load order, newest first (a position, @N, is an
 * index here); the slot's pack says since when it is in force, or, in an
 * unloaded slot, that it is the one a rollback brings back. */
static void history_json(struct sluice_strbuf *sb, const struct sluice_slot_history *h)
{
	sluice_strbuf_printf(sb, "[");
	for (size_t i = 0; i < h->len; i++) {
		bool current = i == h->current;
		if (i > 0)
			sluice_strbuf_printf(sb, ",");
		pack_json(sb, h->kept[i].pack);
		sb->len--;
		sluice_strbuf_printf(
		    sb, ",\"active\":%s,\"kept_since\":", current && h->active ? "true" : "false");
		format_time(sb, h->kept[i].loaded_at_ns);
		if (current && h->active) {
			sluice_strbuf_printf(sb, ",\"active_since\":");
			format_time(sb, h->active_since_ns);
		} else if (current) {
			sluice_strbuf_printf(sb, ",\"unloaded\":true");
		}
		sluice_strbuf_printf(sb, "}");
	}
	sluice_strbuf_printf(sb, "]");
}

static void reply_status(struct sluice_control *ctl, struct sluice_strbuf *sb)
{
	const struct sluice_registry *reg = ctl->registry;
	const struct sluice_generation *gen = sluice_registry_current(reg);
	struct sluice_memory_use mem;
	watchdog_sample(ctl);
	sluice_registry_memory(reg, &mem);
	sluice_strbuf_printf(sb, "{\"ok\":true,\"active\":");
	active_json(sb, reg, gen, SLUICE_SLOT_MAIN);
	sluice_strbuf_printf(sb, ",\"history\":");
	history_json(sb, &reg->slots[SLUICE_SLOT_MAIN]);
	sluice_strbuf_printf(sb, ",\"urgent\":");
	active_json(sb, reg, gen, SLUICE_SLOT_URGENT);
	sluice_strbuf_printf(sb, ",\"urgent_history\":");
	history_json(sb, &reg->slots[SLUICE_SLOT_URGENT]);
	sluice_strbuf_printf(sb,
			     ",\"memory\":{\"active_bytes\":%zu,\"kept_bytes\":%zu,"
			     "\"kept_packs\":%u,\"cap_bytes\":%zu}",
			     mem.active, mem.kept, mem.kept_packs, reg->memory_cap);
	sluice_strbuf_printf(sb,
			     ",\"swaps\":%llu,\"refusals\":%llu,\"access_refusals\":%llu,"
			     "\"started_at\":",
			     (unsigned long long)reg->swaps, (unsigned long long)reg->refusals,
			     (unsigned long long)ctl->access_refusals);
	format_time(sb, ctl->started_ns);
	const struct sluice_ctl_client_counters *cc = &ctl->clients.counters;
	sluice_strbuf_printf(
	    sb,
	    ",\"control_clients\":{\"connected\":%u,\"accepted\":%llu,\"served\":%llu,"
	    "\"request_timeouts\":%llu,\"bad_requests\":%llu,\"evicted\":%llu,"
	    "\"vanished\":%llu,\"reply_timeouts\":%llu}",
	    ctl->clients.count, (unsigned long long)cc->accepted, (unsigned long long)cc->served,
	    (unsigned long long)cc->request_timeouts, (unsigned long long)cc->bad_requests,
	    (unsigned long long)cc->evicted, (unsigned long long)cc->vanished,
	    (unsigned long long)cc->reply_timeouts);
	sluice_strbuf_printf(sb, ",\"workers\":[");
	double now = sluice_mono_ms();
	for (unsigned w = 0; w < ctl->worker_count; w++) {
		const struct sluice_worker_stats *s = ctl->stats[w];
		sluice_strbuf_printf(sb,
				     "%s{\"id\":%u,\"lcore\":%u,\"iterations\":%llu,"
				     "\"generation\":%llu,\"last_progress_ms_ago\":%.0f,"
				     "\"stuck\":%s}",
				     w > 0 ? "," : "", w, ctl->lcores[w],
				     (unsigned long long)s->iterations,
				     (unsigned long long)s->generation, now - ctl->progress_ms[w],
				     ctl->stuck[w] ? "true" : "false");
	}
	sluice_strbuf_printf(sb, "]}");
}

static void slot_pack_brief(struct sluice_strbuf *sb, const struct sluice_pack *pack)
{
	if (pack == NULL) {
		sluice_strbuf_printf(sb, "null");
		return;
	}
	sluice_strbuf_printf(sb, "{\"name\":");
	sluice_strbuf_json_string(sb, pack->name);
	sluice_strbuf_printf(sb, ",\"version\":");
	sluice_strbuf_json_string(sb, pack->version);
	sluice_strbuf_printf(sb, "}");
}

static void reply_stats(struct sluice_control *ctl, struct sluice_strbuf *sb)
{
	const struct sluice_generation *gen = sluice_registry_current(ctl->registry);
	sluice_strbuf_printf(sb,
			     "{\"ok\":true,\"generation\":%llu,\"events_written\":%llu,"
			     "\"event_write_errors\":%llu,\"events_filtered\":%llu,"
			     "\"events_sampled_out\":%llu,\"event_file_rotations\":%llu,"
			     "\"event_file_reopens\":%llu,\"events_full\":",
			     (unsigned long long)gen->seq,
			     (unsigned long long)(ctl->sink ? ctl->sink->written : 0),
			     (unsigned long long)(ctl->sink ? ctl->sink->write_errors : 0),
			     (unsigned long long)(ctl->sink ? ctl->sink->filtered : 0),
			     (unsigned long long)(ctl->sink ? ctl->sink->sampled_out : 0),
			     (unsigned long long)(ctl->sink ? ctl->sink->rotations : 0),
			     (unsigned long long)(ctl->sink ? ctl->sink->reopens : 0));
	bool waits = ctl->events_full != NULL && strcmp(ctl->events_full, "wait") == 0;
	sluice_strbuf_printf(sb, "{\"policy\":\"%s\",\"wait_us\":%u},", waits ? "wait" : "drop",
			     waits ? ctl->events_wait_us : 0);
	struct sluice_event_bus_stats bus = {0};
	bool has_bus = ctl->sink != NULL && ctl->sink->bus != NULL;
	if (has_bus)
		sluice_event_bus_stats(ctl->sink->bus, &bus);
	sluice_strbuf_printf(
	    sb,
	    "\"events_bus\":%s,\"bus_connected\":%s,\"bus_stream_ready\":%s,"
	    "\"events_bus_published\":%llu,\"events_bus_resent\":%llu,\"events_bus_acked\":%llu,"
	    "\"events_bus_duplicates\":%llu,\"events_bus_failures\":%llu,"
	    "\"events_bus_in_flight\":%llu,\"events_bus_spooled\":%llu,"
	    "\"events_bus_spool_events\":%llu,\"events_bus_spool_bytes\":%llu,"
	    "\"events_bus_lost\":%llu,\"bus_reconnects\":%llu,",
	    has_bus ? "true" : "false", bus.connected ? "true" : "false",
	    bus.stream_ready ? "true" : "false", (unsigned long long)bus.published,
	    (unsigned long long)bus.resent, (unsigned long long)bus.acked,
	    (unsigned long long)bus.duplicates, (unsigned long long)bus.failures,
	    (unsigned long long)bus.in_flight, (unsigned long long)bus.spooled,
	    (unsigned long long)bus.spool_events, (unsigned long long)bus.spool_bytes,
	    (unsigned long long)bus.lost, (unsigned long long)bus.reconnects);
	sluice_strbuf_printf(sb, "\"events_bus_last_error\":");
	sluice_strbuf_json_string(sb, bus.last_error);
	struct sluice_fleet_status fleet = {0};
	if (ctl->fleet != NULL)
		sluice_fleet_watch_status(ctl->fleet, &fleet);
	sluice_strbuf_printf(
	    sb,
	    ",\"fleet\":%s,\"fleet_connected\":%s,\"fleet_group\":", ctl->fleet ? "true" : "false",
	    ctl->fleet && sluice_fleet_watch_connected(ctl->fleet) ? "true" : "false");
	sluice_strbuf_json_string(sb, fleet.group);
	sluice_strbuf_printf(sb, ",\"fleet_refusals\":%llu,\"fleet_last_refusal\":",
			     (unsigned long long)fleet.refusals);
	sluice_strbuf_json_string(sb, fleet.has_refusal ? fleet.refused_reason : "");
	sluice_strbuf_printf(sb, ",\"packs\":{\"main\":");
	slot_pack_brief(sb, gen->slot[SLUICE_SLOT_MAIN].pack);
	sluice_strbuf_printf(sb, ",\"urgent\":");
	slot_pack_brief(sb, gen->slot[SLUICE_SLOT_URGENT].pack);
	sluice_strbuf_printf(sb, "},\"ports\":{");
	for (unsigned side = 0; side < 2; side++) {
		struct sluice_port_counters pc = {0};
		bool known = ctl->port_counters != NULL &&
			     ctl->port_counters(ctl->port_counters_arg, side, &pc);
		sluice_strbuf_printf(sb, "%s\"%c\":", side ? "," : "", side ? 'b' : 'a');
		if (!known) {
			sluice_strbuf_printf(sb, "null");
			continue;
		}
		sluice_strbuf_printf(
		    sb,
		    "{\"rx_missed\":%llu,\"rx_nombuf\":%llu,\"rx_errors\":%llu,\"tx_errors\":%llu}",
		    (unsigned long long)pc.rx_missed, (unsigned long long)pc.rx_nombuf,
		    (unsigned long long)pc.rx_errors, (unsigned long long)pc.tx_errors);
	}
	sluice_strbuf_printf(sb, "},\"stats\":");
	sluice_stats_json(sb, ctl->stats, ctl->worker_count, ctl->tsc_hz);
	sluice_strbuf_printf(sb, "}");
}

/* ",KEY:\"YYYY-MM-DDTHH:MM:SSZ\"" for Unix seconds t. */
static void put_utc(struct sluice_strbuf *sb, const char *key, int64_t t)
{
	struct tm tm;
	char when[32];
	time_t tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)t);
	sluice_strbuf_printf(sb, ",\"%s\":\"%s\"", key, when);
}

/* Hits per rule of the packs in force, since each pack was loaded, and
 * whether each applies now (its dates judged at the rules' clock, which
 * --now may have set for a rehearsal). */
static void reply_rule_stats(struct sluice_control *ctl, struct sluice_strbuf *sb)
{
	const struct sluice_generation *gen = sluice_registry_current(ctl->registry);
	int64_t now = sluice_registry_now(ctl->registry);
	bool first = true;
	sluice_strbuf_printf(sb, "{\"ok\":true,\"generation\":%llu", (unsigned long long)gen->seq);
	put_utc(sb, "rules_clock", now);
	sluice_strbuf_printf(sb, ",\"rehearsal\":%s,\"rules\":[",
			     ctl->registry->clock_offset_s != 0 ? "true" : "false");
	for (unsigned s = 0; s < SLUICE_SLOT_COUNT; s++) {
		const struct sluice_gen_slot *gs = &gen->slot[s];
		for (size_t r = 0; gs->pack != NULL && r < gs->pack->rule_count; r++) {
			const struct sluice_pack_rule *rule = &gs->pack->rules[r];
			sluice_strbuf_printf(sb, "%s{\"slot\":\"%s\",\"pack\":", first ? "" : ",",
					     sluice_slot_name((enum sluice_slot)s));
			first = false;
			sluice_strbuf_json_string(sb, gs->pack->name);
			sluice_strbuf_printf(sb, ",\"version\":");
			sluice_strbuf_json_string(sb, gs->pack->version);
			sluice_strbuf_printf(sb, ",\"id\":");
			sluice_strbuf_json_string(sb, rule->id);
			sluice_strbuf_printf(sb, ",\"category\":");
			sluice_strbuf_json_string(sb, rule->category);
			bool off = gs->disabled != NULL && gs->disabled[r];
			sluice_strbuf_printf(
			    sb, ",\"action\":\"%s\",\"hits\":%llu,\"expired\":%s,\"waiting\":%s",
			    sluice_rule_action_word(rule->allow, rule->action),
			    (unsigned long long)sluice_registry_rule_hits(ctl->registry,
									  (enum sluice_slot)s, r),
			    off && rule->expires_at != 0 && rule->expires_at <= now ? "true"
										    : "false",
			    off && rule->starts_at > now ? "true" : "false");
			if (rule->starts_at != 0)
				put_utc(sb, "starts_at", rule->starts_at);
			if (rule->expires_at != 0)
				put_utc(sb, "expires_at", rule->expires_at);
			sluice_strbuf_printf(sb, "}");
		}
	}
	sluice_strbuf_printf(sb, "]}");
}

static void reply_check(struct sluice_strbuf *sb, enum sluice_slot slot,
			const struct sluice_load_check *c)
{
	sluice_strbuf_printf(
	    sb, "{\"ok\":true,\"check\":true,\"slot\":\"%s\",\"name\":", sluice_slot_name(slot));
	sluice_strbuf_json_string(sb, c->name);
	sluice_strbuf_printf(sb, ",\"version\":");
	sluice_strbuf_json_string(sb, c->version);
	sluice_strbuf_printf(sb,
			     ",\"sha256\":\"%s\",\"rules\":%zu,\"disabled_rules\":%zu,"
			     "\"db_bytes\":%zu,\"scratch_bytes_per_worker\":%zu,"
			     "\"same_as_in_force\":%s,\"swapped\":false}",
			     c->sha256, c->rules, c->disabled, c->db_bytes, c->scratch_bytes,
			     c->same_as_in_force ? "true" : "false");
}

static void reply_error(struct sluice_strbuf *sb, const char *msg)
{
	sluice_strbuf_printf(sb, "{\"ok\":false,\"error\":");
	sluice_strbuf_json_string(sb, msg);
	sluice_strbuf_printf(sb, "}");
}

static void reply_swap(struct sluice_control *ctl, struct sluice_strbuf *sb, enum sluice_slot slot,
		       const struct sluice_swap_report *rep)
{
	sluice_strbuf_printf(sb, "{\"ok\":true,\"active\":");
	active_json(sb, ctl->registry, sluice_registry_current(ctl->registry), slot);
	sluice_strbuf_printf(sb, ",\"slot\":\"%s\",\"previous_version\":", sluice_slot_name(slot));
	if (rep->previous_version[0] != '\0')
		sluice_strbuf_json_string(sb, rep->previous_version);
	else
		sluice_strbuf_printf(sb, "null");
	sluice_strbuf_printf(sb,
			     ",\"dropped\":%u,\"fold_unshared\":%s,\"load_ms\":%.3f,"
			     "\"build_ms\":%.3f,\"grace_ms\":%.3f,\"completed_at_ns\":%llu}",
			     rep->dropped, rep->fold_unshared ? "true" : "false", rep->load_ms,
			     rep->build_ms, rep->grace_ms,
			     (unsigned long long)sluice_realtime_ns());
}

#define REQUESTS                                                                                   \
	"status, stats, stats rules, reload [main|urgent] PATH, reload-check [main|urgent] PATH, " \
	"rollback [main|urgent] [TARGET], rollforward [main|urgent] [TARGET], unload urgent, stop"

/* Splits "[main|urgent] REST": *slot is set when the first word names a slot,
 * and the rest (possibly "") is returned. */
static const char *take_slot(const char *args, enum sluice_slot *slot)
{
	const char *sp = strchr(args, ' ');
	size_t len = sp != NULL ? (size_t)(sp - args) : strlen(args);
	char word[16];
	if (len == 0 || len >= sizeof(word))
		return args;
	memcpy(word, args, len);
	word[len] = '\0';
	if (!sluice_slot_parse(word, slot))
		return args;
	return sp != NULL ? sp + 1 : args + len;
}

/* Whether the first max bytes of s are printable ASCII. */
static bool printable_ascii(const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i] != '\0'; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	}
	return true;
}

/* What follows verb in request ("" or " ..."), or NULL when request is
 * another verb. */
static const char *verb_args(const char *request, const char *verb)
{
	size_t n = strlen(verb);
	if (strncmp(request, verb, n) != 0 || (request[n] != '\0' && request[n] != ' '))
		return NULL;
	return request + n;
}

/* rollback or rollforward [main|urgent] [TARGET]: args as verb_args() gives. */
static void move(struct sluice_control *ctl, const char *args, bool forward,
		 const struct sluice_actor *by, struct sluice_strbuf *sb)
{
	char err[1024];
	struct sluice_swap_report rep;
	enum sluice_slot slot = SLUICE_SLOT_MAIN;
	const char *to = *args == ' ' ? take_slot(args + 1, &slot) : "";
	int rc = forward ? sluice_registry_rollforward_slot(ctl->registry, slot, to, by, &rep, err,
							    sizeof(err))
			 : sluice_registry_rollback_slot(ctl->registry, slot, to, by, &rep, err,
							 sizeof(err));
	if (rc != 0)
		reply_error(sb, err);
	else
		reply_swap(ctl, sb, slot, &rep);
}

void sluice_control_handle_from(struct sluice_control *ctl, const char *request,
				const struct sluice_actor *by, struct sluice_strbuf *sb)
{
	char err[1024];
	struct sluice_swap_report rep = {0};
	enum sluice_slot slot = SLUICE_SLOT_MAIN;
	struct sluice_registry *reg = ctl->registry;
	const char *args;

	if (strcmp(request, "status") == 0) {
		reply_status(ctl, sb);
	} else if (strcmp(request, "stats") == 0) {
		reply_stats(ctl, sb);
	} else if (strcmp(request, "stats rules") == 0) {
		reply_rule_stats(ctl, sb);
	} else if (strncmp(request, "reload-check ", 13) == 0 && request[13] != '\0') {
		struct sluice_load_check chk;
		const char *path = take_slot(request + 13, &slot);
		if (*path == '\0')
			reply_error(sb, "reload-check needs a PATH");
		else if (sluice_registry_check_slot(reg, slot, path, &chk, err, sizeof(err)) != 0)
			reply_error(sb, err);
		else
			reply_check(sb, slot, &chk);
	} else if (strncmp(request, "reload ", 7) == 0 && request[7] != '\0') {
		const char *path = take_slot(request + 7, &slot);
		if (*path == '\0')
			reply_error(sb, "reload needs a PATH");
		else if (sluice_registry_load_slot(reg, slot, path, by, &rep, err, sizeof(err)) !=
			 0)
			reply_error(sb, err);
		else
			reply_swap(ctl, sb, slot, &rep);
	} else if ((args = verb_args(request, "rollback")) != NULL) {
		move(ctl, args, false, by, sb);
	} else if ((args = verb_args(request, "rollforward")) != NULL) {
		move(ctl, args, true, by, sb);
	} else if (strcmp(request, "unload") == 0 || strncmp(request, "unload ", 7) == 0) {
		const char *rest = request[6] == ' ' ? take_slot(request + 7, &slot) : request;
		if (rest == request || rest == request + 7 || *rest != '\0')
			reply_error(sb, "unload needs a slot: unload urgent");
		else if (sluice_registry_unload(reg, slot, by, &rep, err, sizeof(err)) != 0)
			reply_error(sb, err);
		else
			reply_swap(ctl, sb, slot, &rep);
	} else if (strcmp(request, "stop") == 0) {
		ctl->stop_requested = true;
		sluice_strbuf_printf(sb, "{\"ok\":true,\"stopping\":true}");
	} else if (printable_ascii(request, 200)) {
		snprintf(err, sizeof(err), "unknown request '%.200s' (" REQUESTS ")", request);
		reply_error(sb, err);
	} else {
		/* Echoing other bytes could make the reply invalid UTF-8 JSON. */
		reply_error(sb, "unknown request (not shown: it is not printable ASCII) (" REQUESTS
				")");
	}
}

void sluice_control_handle(struct sluice_control *ctl, const char *request,
			   struct sluice_strbuf *sb)
{
	static const struct sluice_actor self = {.kind = SLUICE_ACTOR_DAEMON};
	sluice_control_handle_from(ctl, request, &self, sb);
}

/* Whether the "Groups:" line of /proc/PID/status lists gid. */
static bool supplementary_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	bool found = false;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		char *p = line + 7, *end;
		for (;;) {
			unsigned long g = strtoul(p, &end, 10);
			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = true;
			p = end;
		}
		break;
	}
	fclose(f);
	return found;
}

bool sluice_control_peer_allowed(const struct sluice_control *ctl, uid_t uid, gid_t gid, pid_t pid,
				 char *why, size_t why_len)
{
	if (uid == 0 || uid == geteuid() || gid == ctl->socket_gid ||
	    supplementary_group(pid, ctl->socket_gid))
		return true;
	struct group grp, *found = NULL;
	char buf[4096], name[128];
	if (getgrgid_r(ctl->socket_gid, &grp, buf, sizeof(buf), &found) == 0 && found != NULL)
		snprintf(name, sizeof(name), "'%s'", found->gr_name);
	else
		snprintf(name, sizeof(name), "%u", (unsigned)ctl->socket_gid);
	snprintf(why, why_len,
		 "permission denied: uid %u (pid %d) is not root and not in the control socket's "
		 "group %s",
		 (unsigned)uid, (int)pid, name);
	return false;
}

/* The audit word for a refused request: its verb, with reload as "load". */
static void request_action(const char *request, char *action, size_t cap)
{
	size_t len = strcspn(request, " ");
	if (len >= cap)
		len = cap - 1;
	memcpy(action, request, len);
	action[len] = '\0';
	if (strcmp(action, "reload") == 0)
		snprintf(action, cap, "load");
}

/* A request line from a client of the socket: checked against the peer's
 * credentials, then handled. */
static void serve_request(void *arg, const char *line, const struct sluice_ctl_peer *peer,
			  struct sluice_strbuf *sb)
{
	struct sluice_control *ctl = arg;
	char why[256];
	struct sluice_actor by = {
	    .kind = SLUICE_ACTOR_CLIENT, .uid = (uint32_t)peer->uid, .pid = (int32_t)peer->pid};
	/* Without credentials nobody can be told apart: refuse. */
	if (!peer->known ||
	    !sluice_control_peer_allowed(ctl, peer->uid, peer->gid, peer->pid, why, sizeof(why))) {
		if (!peer->known)
			snprintf(why, sizeof(why),
				 "permission denied: the peer's credentials "
				 "cannot be read");
		char action[32];
		request_action(line, action, sizeof(action));
		struct sluice_audit_record rec = {
		    .action = action, .ok = false, .reason = why, .by = by};
		ctl->access_refusals++;
		if (ctl->registry != NULL)
			sluice_audit_write(ctl->registry->audit, &rec);
		reply_error(sb, why);
		return;
	}
	sluice_control_handle_from(ctl, line, &by, sb);
}

void sluice_control_check_expiry(struct sluice_control *ctl)
{
	char err[1024];
	ctl->last_expiry_ms = sluice_mono_ms();
	if (ctl->registry != NULL && sluice_registry_current(ctl->registry) != NULL)
		sluice_registry_expire(ctl->registry, sluice_registry_now(ctl->registry), err,
				       sizeof(err));
}

/* Whether a worker's ring holds events the sink has not written. */
static bool events_waiting(const struct sluice_control *ctl)
{
	for (unsigned w = 0; ctl->sink != NULL && w < ctl->worker_count; w++)
		if (sluice_event_ring_pending(ctl->rings[w]) > 0)
			return true;
	/* Acks to collect, or a spool to drain: the bus's turn comes each pass. */
	return ctl->sink != NULL && ctl->sink->bus != NULL && sluice_event_bus_busy(ctl->sink->bus);
}

void sluice_control_run_once(struct sluice_control *ctl, int timeout_ms)
{
	/* While events wait, the pass does not sleep on the socket: rings fill
	 * at the workers' rate, and a ring that fills costs events. */
	if (events_waiting(ctl))
		timeout_ms = 0;
	int scrape_fd = ctl->metrics_http != NULL ? sluice_metrics_http_fd(ctl->metrics_http) : -1;
	if (ctl->listen_fd >= 0) {
		ctl->clients.wake_fd = scrape_fd;
		sluice_ctl_clients_serve(&ctl->clients, timeout_ms, serve_request, ctl);
	} else if (scrape_fd >= 0) {
		struct pollfd pfd = {.fd = scrape_fd, .events = POLLIN};
		poll(&pfd, 1, timeout_ms);
	} else if (timeout_ms > 0) {
		struct timespec ts = {.tv_sec = timeout_ms / 1000,
				      .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	/* Called every pass, ready or not: MHD's own timeouts (idle scrapers)
	 * run here too, and a pass that finds nothing to do costs one
	 * epoll_wait without waiting. */
	if (ctl->metrics_http != NULL)
		sluice_metrics_http_run(ctl->metrics_http);
	sluice_control_drain(ctl);
	watchdog_sample(ctl);
	if (sluice_mono_ms() - ctl->last_expiry_ms >= 1000)
		sluice_control_check_expiry(ctl);
}
