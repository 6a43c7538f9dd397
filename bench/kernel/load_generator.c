#include "load_generator.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpu_pin.h"
#include "wire_format.h"

/* Bytes of each datagram the sink copies out: enough for a frame header. */
#define SINK_PEEK_LEN 64
/* How long the thread sleeps when it can neither send nor receive; anything
 * that changes that (a datagram at the sink, a removal) wakes it sooner. */
#define IDLE_WAIT_MS 1

struct sender {
	struct mmsghdr msg[LOAD_BATCH];
	struct iovec iov[LOAD_BATCH];
	uint32_t cursor; /* next payload to send */
};

struct sink {
	struct mmsghdr msg[LOAD_BATCH];
	struct iovec iov[LOAD_BATCH];
	uint8_t buf[LOAD_BATCH][SINK_PEEK_LEN];
};

static void fail(struct load_generator *g, const char *what, int error)
{
	g->failed = true;
	snprintf(g->err, sizeof(g->err), "load: %s: %s", what, strerror(error));
}

static uint64_t in_flight(const struct load_generator *g)
{
	uint64_t removed = run_shared_read(g->shared, RUN_REMOVED);
	uint64_t done = g->received + removed;
	return g->sent > done ? g->sent - done : 0;
}

/* Sends up to count payloads from the cursor; returns how many, or -1. */
static int send_batch(struct load_generator *g, struct sender *s, unsigned count)
{
	const struct message_payloads *load = g->payloads;
	uint32_t c = s->cursor;
	for (unsigned i = 0; i < count; i++) {
		s->iov[i].iov_base = load->data[c];
		s->iov[i].iov_len = load->len[c];
		c = c + 1 == load->count ? 0 : c + 1;
	}
	int r = sendmmsg(g->tx_fd, s->msg, count, MSG_DONTWAIT);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS)
			return 0;
		fail(g, "sendmmsg", errno);
		return -1;
	}
	s->cursor = (uint32_t)((s->cursor + (uint64_t)r) % load->count);
	g->sent += (uint64_t)r;
	return r;
}

/* Receives what is waiting at the sink; returns how many, or -1. */
static int receive_batch(struct load_generator *g, struct sink *k)
{
	int r = recvmmsg(g->sink_fd, k->msg, LOAD_BATCH, MSG_DONTWAIT | MSG_TRUNC, NULL);
	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		fail(g, "recvmmsg", errno);
		return -1;
	}
	for (int i = 0; i < r; i++) {
		const uint8_t *frame = k->buf[i];
		g->sink_bytes += k->msg[i].msg_len;
		if (k->msg[i].msg_len < SLUICE_WIRE_HEADER_LEN ||
		    frame[SLUICE_WIRE_OFF_MAGIC] != SLUICE_WIRE_MAGIC0 ||
		    frame[SLUICE_WIRE_OFF_MAGIC + 1] != SLUICE_WIRE_MAGIC1 ||
		    frame[SLUICE_WIRE_OFF_VERSION] != SLUICE_WIRE_VERSION)
			g->sink_unframed++;
	}
	g->received += (uint64_t)r;
	return r;
}

static void wait_for_progress(struct load_generator *g)
{
	struct pollfd fds[2] = {{.fd = g->sink_fd, .events = POLLIN},
				{.fd = g->shared->wake_fd, .events = POLLIN}};
	if (poll(fds, 2, IDLE_WAIT_MS) > 0 && (fds[1].revents & POLLIN)) {
		uint64_t count;
		if (read(g->shared->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			fail(g, "eventfd", errno);
	}
}

static void drain(struct load_generator *g, struct sink *k)
{
	double until = sluice_mono_s() + g->drain_s;
	while (!g->failed && in_flight(g) > 0 && sluice_mono_s() < until &&
	       !run_shared_flag(&g->shared->scanner_failed)) {
		if (g->events != NULL)
			g->events_drained += load_generator_drain_events(g->events);
		int got = receive_batch(g, k);
		if (got == 0)
			wait_for_progress(g);
	}
}

uint64_t load_generator_drain_events(struct sluice_event_ring *ring)
{
	struct sluice_event ev;
	uint64_t count = 0;
	while (sluice_event_ring_pop(ring, &ev))
		count++;
	return count;
}

void *load_generator_main(void *arg)
{
	struct load_generator *g = arg;
	char pin_err[128];
	if (cpu_pin_self(g->cpu, pin_err, sizeof(pin_err)) != 0)
		fprintf(stderr, "sluice-kernel-bench: load: %s; running unpinned\n", pin_err);

	struct sender s;
	struct sink k;
	memset(&s, 0, sizeof(s));
	memset(&k, 0, sizeof(k));
	for (unsigned i = 0; i < LOAD_BATCH; i++) {
		s.msg[i].msg_hdr.msg_iov = &s.iov[i];
		s.msg[i].msg_hdr.msg_iovlen = 1;
		k.iov[i].iov_base = k.buf[i];
		k.iov[i].iov_len = SINK_PEEK_LEN;
		k.msg[i].msg_hdr.msg_iov = &k.iov[i];
		k.msg[i].msg_hdr.msg_iovlen = 1;
	}

	double start = sluice_mono_s();
	double warm_end = start + g->warmup_s, measure_end = warm_end + g->measure_s;
	double t0 = 0;
	bool started = false;
	while (!g->failed && g->sent < g->max_sent) {
		if (run_shared_flag(&g->shared->scanner_failed))
			break;
		double now = sluice_mono_s();
		if (!started && now >= warm_end) {
			run_shared_snapshot(g->shared, g->at_start);
			t0 = now;
			started = true;
		}
		if (now >= measure_end) {
			run_shared_snapshot(g->shared, g->at_end);
			g->measured_s = now - t0;
			g->measured = started;
			break;
		}
		if (g->events != NULL)
			g->events_drained += load_generator_drain_events(g->events);

		int progress = 0;
		if (in_flight(g) + LOAD_BATCH <= g->window) {
			int r = send_batch(g, &s, LOAD_BATCH);
			if (r < 0)
				break;
			progress += r;
		}
		int r = receive_batch(g, &k);
		if (r < 0)
			break;
		progress += r;
		if (progress == 0)
			wait_for_progress(g);
	}
	if (!g->failed && !g->measured && !run_shared_flag(&g->shared->scanner_failed)) {
		g->failed = true;
		snprintf(g->err, sizeof(g->err),
			 "load: reached its bound of %llu datagrams before the measured interval "
			 "ended",
			 (unsigned long long)g->sent);
	}
	drain(g, &k);
	g->removed = run_shared_read(g->shared, RUN_REMOVED);
	return NULL;
}
