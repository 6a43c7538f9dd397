/* The load of the kernel-path benchmark: the UDP payloads of a capture's
 * datagrams to the message port, as a sender would hand them to a socket.
 *
 * Contract: payloads point into the packets they were found in (no copy), so
 * the corpus_packets must outlive them. Only datagrams that
 * sluice_packet_classify() calls SLUICE_PKT_MESSAGE are kept, in capture
 * order; everything else is counted and skipped. Each payload's frame count is
 * what sluice_frames_decode() finds before any problem, so a run can turn the
 * datagrams it moved into messages without decoding them on the hot path.
 */
#ifndef SLUICE_BENCH_KERNEL_MESSAGE_PAYLOADS_H
#define SLUICE_BENCH_KERNEL_MESSAGE_PAYLOADS_H

#include <stddef.h>
#include <stdint.h>

#include "corpus_reader.h"

/* The largest UDP payload an IPv4 socket can send. */
#define KERNEL_MAX_UDP_PAYLOAD 65507u

struct message_payloads {
	uint8_t **data; /* payload i is data[i][0..len[i]) */
	uint32_t *len;
	uint32_t *frames;
	uint32_t count;
	uint32_t max_len;
	uint64_t bytes; /* sum of len */
	uint64_t frames_total;
	uint32_t other; /* packets skipped: not UDP to the message port */
	uint32_t bad;	/* skipped: to the port but not scannable whole (fragments, lengths) */
};

/* Fills out from packets. Returns 0, or -1 with err when no payload is left or
 * one cannot be sent over IPv4 UDP. path names the capture in messages. */
int message_payloads_collect(const struct corpus_packets *packets, const char *path,
			     uint16_t udp_port, struct message_payloads *out, char *err,
			     size_t err_len);
void message_payloads_free(struct message_payloads *p);

#endif
