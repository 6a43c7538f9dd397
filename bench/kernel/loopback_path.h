/* The sockets of one run, all UDP on 127.0.0.1 and nowhere else:
 *
 *   load_tx ──► scanner_rx   (scanner thread)   scanner_tx ──► sink
 *   (load thread)                                           (load thread)
 *
 * scanner_rx and sink are bound to ephemeral ports; load_tx and scanner_tx are
 * connected to them, so each send skips the route lookup an unconnected
 * socket pays, as a real forwarder's long-lived sockets would. scanner_rx and
 * sink receive with a timeout (so a blocked receive still sees a stop flag)
 * and every socket's buffers are raised to buffer_bytes (SO_*BUFFORCE when
 * the process may, else as far as net.core.[rw]mem_max allows).
 */
#ifndef SLUICE_BENCH_KERNEL_LOOPBACK_PATH_H
#define SLUICE_BENCH_KERNEL_LOOPBACK_PATH_H

#include <stddef.h>
#include <stdint.h>

struct loopback_path {
	int load_tx;
	int scanner_rx;
	int scanner_tx;
	int sink;
	/* SO_RCVBUF as the kernel reports it for scanner_rx and sink (the
	 * smaller): the bytes of datagrams (skb truesize) either may queue. */
	int rcvbuf;
	uint16_t scanner_port, sink_port;
};

int loopback_path_open(struct loopback_path *p, int buffer_bytes, int recv_timeout_ms, char *err,
		       size_t err_len);
void loopback_path_close(struct loopback_path *p);

/* Datagrams of payload_len bytes that rcvbuf can surely queue: the kernel
 * charges each its buffer's true size, which is more than the payload. */
uint32_t loopback_path_queue_capacity(const struct loopback_path *p, uint32_t payload_len);

#endif
