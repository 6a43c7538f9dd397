#include "control_server.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_protocol.h"
#include "stats_report.h"
#include "strbuf.h"

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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

int sluice_control_open(struct sluice_control *ctl, const char *socket_path, char *err,
			size_t err_len)
{
	ctl->listen_fd = -1;
	ctl->started_ns = realtime_ns();
	double now = mono_ms();
	for (unsigned w = 0; w < SLUICE_MAX_WORKERS; w++)
		ctl->progress_ms[w] = now;
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
	if (brc != 0 || listen(fd, 16) != 0) {
		snprintf(err, err_len, "%s: cannot listen: %s", socket_path, strerror(errno));
		close(fd);
		return -1;
	}
	ctl->listen_fd = fd;
	ctl->socket_path = strdup(socket_path);
	return 0;
}

void sluice_control_close(struct sluice_control *ctl)
{
	if (ctl->listen_fd >= 0) {
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
	for (unsigned w = 0; w < ctl->worker_count; w++) {
		while (sluice_event_sink_drain(ctl->sink, ctl->rings[w], 4096) == 4096)
			;
	}
	sluice_event_sink_flush(ctl->sink);
}

static void watchdog_sample(struct sluice_control *ctl)
{
	double now = mono_ms();
	for (unsigned w = 0; w < ctl->worker_count; w++) {
		uint64_t it = __atomic_load_n(&ctl->stats[w]->iterations, __ATOMIC_RELAXED);
		if (it != ctl->seen_iterations[w]) {
			ctl->seen_iterations[w] = it;
			ctl->progress_ms[w] = now;
			ctl->stuck[w] = false;
		} else if (now - ctl->progress_ms[w] > ctl->stall_ms) {
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
			    w, ctl->lcores[w], mono_ms() - ctl->progress_ms[w]);
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
	sluice_strbuf_printf(sb, ",\"db_bytes\":%zu}", pack->db_bytes);
}

static void active_json(struct sluice_strbuf *sb, const struct sluice_generation *gen)
{
	pack_json(sb, gen->pack);
	/* Replace the closing brace of the pack object to add generation facts. */
	sb->len--;
	sluice_strbuf_printf(sb,
			     ",\"generation\":%llu,\"loaded_at\":", (unsigned long long)gen->seq);
	format_time(sb, gen->loaded_at_ns);
	sluice_strbuf_printf(sb, ",\"scratch_bytes_per_worker\":%zu}", gen->scratch_bytes);
}

static void reply_status(struct sluice_control *ctl, struct sluice_strbuf *sb)
{
	const struct sluice_registry *reg = ctl->registry;
	watchdog_sample(ctl);
	sluice_strbuf_printf(sb, "{\"ok\":true,\"active\":");
	active_json(sb, sluice_registry_current(reg));
	sluice_strbuf_printf(sb, ",\"history\":[");
	for (size_t i = 0; i < reg->history_len; i++) {
		if (i > 0)
			sluice_strbuf_printf(sb, ",");
		pack_json(sb, reg->history[i]);
	}
	sluice_strbuf_printf(sb, "],\"swaps\":%llu,\"refusals\":%llu,\"started_at\":",
			     (unsigned long long)reg->swaps, (unsigned long long)reg->refusals);
	format_time(sb, ctl->started_ns);
	sluice_strbuf_printf(sb, ",\"workers\":[");
	double now = mono_ms();
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

static void reply_stats(struct sluice_control *ctl, struct sluice_strbuf *sb)
{
	sluice_strbuf_printf(sb,
			     "{\"ok\":true,\"generation\":%llu,\"events_written\":%llu,"
			     "\"event_write_errors\":%llu,\"stats\":",
			     (unsigned long long)sluice_registry_current(ctl->registry)->seq,
			     (unsigned long long)(ctl->sink ? ctl->sink->written : 0),
			     (unsigned long long)(ctl->sink ? ctl->sink->write_errors : 0));
	sluice_stats_json(sb, ctl->stats, ctl->worker_count, ctl->tsc_hz);
	sluice_strbuf_printf(sb, "}");
}

static void reply_error(struct sluice_strbuf *sb, const char *msg)
{
	sluice_strbuf_printf(sb, "{\"ok\":false,\"error\":");
	sluice_strbuf_json_string(sb, msg);
	sluice_strbuf_printf(sb, "}");
}

static void reply_swap(struct sluice_control *ctl, struct sluice_strbuf *sb,
		       const struct sluice_swap_report *rep)
{
	sluice_strbuf_printf(sb, "{\"ok\":true,\"active\":");
	active_json(sb, sluice_registry_current(ctl->registry));
	sluice_strbuf_printf(sb,
			     ",\"load_ms\":%.3f,\"build_ms\":%.3f,\"grace_ms\":%.3f,"
			     "\"completed_at_ns\":%llu}",
			     rep->load_ms, rep->build_ms, rep->grace_ms,
			     (unsigned long long)realtime_ns());
}

void sluice_control_handle(struct sluice_control *ctl, const char *request,
			   struct sluice_strbuf *sb)
{
	char err[1024];
	struct sluice_swap_report rep = {0};

	if (strcmp(request, "status") == 0) {
		reply_status(ctl, sb);
	} else if (strcmp(request, "stats") == 0) {
		reply_stats(ctl, sb);
	} else if (strncmp(request, "reload ", 7) == 0 && request[7] != '\0') {
		if (sluice_registry_load(ctl->registry, request + 7, &rep, err, sizeof(err)) != 0)
			reply_error(sb, err);
		else
			reply_swap(ctl, sb, &rep);
	} else if (strcmp(request, "rollback") == 0) {
		if (sluice_registry_rollback(ctl->registry, &rep, err, sizeof(err)) != 0)
			reply_error(sb, err);
		else
			reply_swap(ctl, sb, &rep);
	} else if (strcmp(request, "stop") == 0) {
		ctl->stop_requested = true;
		sluice_strbuf_printf(sb, "{\"ok\":true,\"stopping\":true}");
	} else {
		snprintf(err, sizeof(err),
			 "unknown request '%.200s' (status, stats, reload PATH, rollback, stop)",
			 request);
		reply_error(sb, err);
	}
}

/* Reads one request line, waiting at most a second for it. */
static int read_request(int fd, char *line, size_t cap)
{
	size_t used = 0;
	double deadline = mono_ms() + 1000;
	while (used + 1 < cap) {
		double left = deadline - mono_ms();
		if (left <= 0)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left + 1) <= 0)
			continue;
		ssize_t n = read(fd, line + used, cap - used - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		used += (size_t)n;
		line[used] = '\0';
		char *nl = memchr(line, '\n', used);
		if (nl != NULL) {
			*nl = '\0';
			return 0;
		}
	}
	return -1;
}

static void write_all(int fd, const char *data, size_t len)
{
	double deadline = mono_ms() + 1000;
	while (len > 0 && mono_ms() < deadline) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			poll(&pfd, 1, 10);
			continue;
		}
		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

static void serve_one(struct sluice_control *ctl)
{
	int fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	char line[SLUICE_CTL_MAX_REQUEST + 1];
	struct sluice_strbuf sb;
	sluice_strbuf_init(&sb);
	if (read_request(fd, line, sizeof(line)) != 0)
		reply_error(&sb, "no complete request line within 1 s");
	else
		sluice_control_handle(ctl, line, &sb);
	sluice_strbuf_printf(&sb, "\n");
	if (!sb.failed)
		write_all(fd, sb.data, sb.len);
	sluice_strbuf_free(&sb);
	close(fd);
}

void sluice_control_run_once(struct sluice_control *ctl, int timeout_ms)
{
	if (ctl->listen_fd >= 0) {
		struct pollfd pfd = {.fd = ctl->listen_fd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) > 0)
			serve_one(ctl);
	} else if (timeout_ms > 0) {
		struct timespec ts = {.tv_sec = timeout_ms / 1000,
				      .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	sluice_control_drain(ctl);
	watchdog_sample(ctl);
}
