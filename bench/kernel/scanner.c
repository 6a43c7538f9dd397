#include "scanner.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cpu_pin.h"
#include "packet_build.h"

/* Ethernet + IPv4 without options + UDP: what the synthetic header takes. */
#define HEADER_LEN (14 + 20 + 8)

/* The worker stamps bursts with the TSC (events carry it); so does this. */

int scanner_init(struct scanner *s, int rx_fd, int tx_fd, const struct message_payloads *payloads,
		 bool process, const struct sluice_message_decoder *decoder,
		 enum sluice_scan_mode mode, const struct sluice_generation *gen,
		 struct sluice_event_ring *events, uint16_t udp_port, int cpu, double max_seconds,
		 struct run_shared *shared, char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	s->rx_fd = rx_fd;
	s->tx_fd = tx_fd;
	s->payloads = payloads;
	s->process = process;
	s->gen = gen;
	s->udp_port = udp_port;
	s->cpu = cpu;
	s->max_seconds = max_seconds;
	s->shared = shared;
	/* Slots start on cache lines, as mbuf data does. */
	s->slot_size = (HEADER_LEN + (size_t)payloads->max_len + 63) & ~(size_t)63;
	s->slots = aligned_alloc(64, s->slot_size * SCANNER_BATCH);
	if (s->slots == NULL) {
		snprintf(err, err_len, "out of memory for %u slots of %zu bytes", SCANNER_BATCH,
			 s->slot_size);
		return -1;
	}
	memset(s->slots, 0, s->slot_size * SCANNER_BATCH);
	if (process) {
		sluice_packet_ctx_init(&s->ctx, 0, decoder, &s->stats, events);
		if (sluice_packet_ctx_set_scan_mode(&s->ctx, mode) != 0) {
			snprintf(err, err_len, "out of memory for the scan batches");
			scanner_free(s);
			return -1;
		}
		sluice_packet_ctx_bind(&s->ctx, gen, sluice_mono_ns());
	}
	return 0;
}

void scanner_free(struct scanner *s)
{
	if (s->process)
		sluice_packet_ctx_fini(&s->ctx);
	free(s->slots);
	s->slots = NULL;
}

static void fail(struct scanner *s, const char *what, int error)
{
	s->failed = true;
	snprintf(s->err, sizeof(s->err), "scanner: %s: %s", what, strerror(error));
	run_shared_set_flag(&s->shared->scanner_failed);
}

/* Sends out[0..count); a datagram the kernel refuses is lost, as it would be
 * for a real forwarder, and the load thread's accounting shows it. */
static void send_all(struct scanner *s, struct mmsghdr *out, unsigned count)
{
	unsigned sent = 0;
	while (sent < count) {
		int r = sendmmsg(s->tx_fd, out + sent, count - sent, 0);
		if (r > 0) {
			sent += (unsigned)r;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else {
			/* sendmmsg() reports the error of the first datagram it
			 * could not send; skip that one and go on. */
			s->send_failures++;
			sent++;
		}
	}
}

void *scanner_main(void *arg)
{
	struct scanner *s = arg;
	const struct message_payloads *load = s->payloads;
	char pin_err[128];
	if (cpu_pin_self(s->cpu, pin_err, sizeof(pin_err)) != 0)
		fprintf(stderr, "sluice-kernel-bench: scanner: %s; running unpinned\n", pin_err);

	struct sluice_endpoints ep;
	sluice_endpoints_default(&ep, false);
	ep.dst_port = s->udp_port;
	ep.no_udp_checksum = true;

	struct mmsghdr in[SCANNER_BATCH], out[SCANNER_BATCH];
	struct iovec in_iov[SCANNER_BATCH], out_iov[SCANNER_BATCH];
	uint8_t *pkts[SCANNER_BATCH];
	uint32_t lens[SCANNER_BATCH];
	enum sluice_packet_fate fates[SCANNER_BATCH];
	memset(in, 0, sizeof(in));
	memset(out, 0, sizeof(out));
	for (unsigned i = 0; i < SCANNER_BATCH; i++) {
		pkts[i] = s->slots + i * s->slot_size;
		in_iov[i].iov_base = pkts[i] + HEADER_LEN;
		in_iov[i].iov_len = load->max_len;
		in[i].msg_hdr.msg_iov = &in_iov[i];
		in[i].msg_hdr.msg_iovlen = 1;
		out[i].msg_hdr.msg_iov = &out_iov[i];
		out[i].msg_hdr.msg_iovlen = 1;
	}

	uint32_t next = 0; /* index of the payload expected next */
	double deadline = sluice_mono_s() + s->max_seconds;
	while (!run_shared_flag(&s->shared->stop)) {
		if (sluice_mono_s() > deadline) {
			fail(s, "still running at its time bound", ETIME);
			break;
		}
		int n = recvmmsg(s->rx_fd, in, SCANNER_BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			fail(s, "recvmmsg", errno);
			break;
		}

		for (int i = 0; i < n; i++) {
			uint32_t len = in[i].msg_len;
			if (in[i].msg_hdr.msg_flags & MSG_TRUNC)
				s->value[RUN_TRUNCATED]++;
			if (len != load->len[next])
				s->value[RUN_MISORDERED]++;
			s->value[RUN_MESSAGES] += load->frames[next];
			s->value[RUN_PAYLOAD_BYTES] += len;
			next = next + 1 == load->count ? 0 : next + 1;
		}

		unsigned forward = 0, removed = 0;
		if (s->process) {
			for (int i = 0; i < n; i++)
				lens[i] = (uint32_t)sluice_udp_packet_build(
				    pkts[i], s->slot_size, &ep, pkts[i] + HEADER_LEN,
				    in[i].msg_len);
			sluice_packet_ctx_bind(&s->ctx, s->gen, sluice_mono_ns());
			sluice_burst_process(&s->ctx, pkts, lens, NULL, (uint16_t)n, fates);
			for (int i = 0; i < n; i++) {
				if (fates[i] != SLUICE_FATE_FORWARD || lens[i] < HEADER_LEN) {
					removed++;
					continue;
				}
				out_iov[forward].iov_base = pkts[i] + HEADER_LEN;
				out_iov[forward].iov_len = lens[i] - HEADER_LEN;
				forward++;
			}
			s->value[RUN_FLAGGED] = s->stats.verdicts[SLUICE_ACTION_FLAG];
			s->value[RUN_MASKED] = s->stats.verdicts[SLUICE_ACTION_MASK];
			s->value[RUN_BLOCKED] = s->stats.verdicts[SLUICE_ACTION_BLOCK];
			s->value[RUN_EVENTS_DROPPED] = s->stats.events_dropped;
		} else {
			for (int i = 0; i < n; i++) {
				out_iov[i].iov_base = pkts[i] + HEADER_LEN;
				out_iov[i].iov_len = in[i].msg_len;
			}
			forward = (unsigned)n;
		}
		s->value[RUN_DATAGRAMS] += (uint64_t)n;
		s->value[RUN_REMOVED] += removed;
		/* Before sending: the load thread, woken by what arrives at the
		 * sink, must already see this batch's removals. */
		run_shared_publish(s->shared, s->value);
		if (forward == 0 && removed > 0) {
			uint64_t one = 1;
			if (write(s->shared->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
				fprintf(stderr, "sluice-kernel-bench: scanner: eventfd: %s\n",
					strerror(errno));
		}
		send_all(s, out, forward);
		s->batches++;
	}
	return NULL;
}
