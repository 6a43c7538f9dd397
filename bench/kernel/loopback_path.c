#include "loopback_path.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int udp_socket(char *err, size_t err_len)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		snprintf(err, err_len, "socket(AF_INET, SOCK_DGRAM): %s", strerror(errno));
	return fd;
}

/* The FORCE variant ignores [rw]mem_max but needs CAP_NET_ADMIN; the plain one
 * is capped silently, which is why callers read the result back. */
static void raise_buffer(int fd, int force_opt, int opt, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof(bytes)) == 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof(bytes));
}

static int bind_loopback(int fd, uint16_t *port, char *err, size_t err_len)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t addr_len = sizeof(addr);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&addr, &addr_len) != 0) {
		snprintf(err, err_len, "bind 127.0.0.1:0: %s", strerror(errno));
		return -1;
	}
	*port = ntohs(addr.sin_port);
	return 0;
}

static int connect_loopback(int fd, uint16_t port, char *err, size_t err_len)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		snprintf(err, err_len, "connect 127.0.0.1:%u: %s", port, strerror(errno));
		return -1;
	}
	return 0;
}

static int set_recv_timeout(int fd, int ms, char *err, size_t err_len)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		snprintf(err, err_len, "SO_RCVTIMEO: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int rcvbuf_of(int fd)
{
	int bytes = 0;
	socklen_t len = sizeof(bytes);
	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, &len) != 0)
		return 0;
	return bytes;
}

int loopback_path_open(struct loopback_path *p, int buffer_bytes, int recv_timeout_ms, char *err,
		       size_t err_len)
{
	p->load_tx = p->scanner_rx = p->scanner_tx = p->sink = -1;
	int *fds[] = {&p->load_tx, &p->scanner_rx, &p->scanner_tx, &p->sink};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		*fds[i] = udp_socket(err, err_len);
		if (*fds[i] < 0)
			goto fail;
		raise_buffer(*fds[i], SO_RCVBUFFORCE, SO_RCVBUF, buffer_bytes);
		raise_buffer(*fds[i], SO_SNDBUFFORCE, SO_SNDBUF, buffer_bytes);
	}
	if (bind_loopback(p->scanner_rx, &p->scanner_port, err, err_len) != 0 ||
	    bind_loopback(p->sink, &p->sink_port, err, err_len) != 0 ||
	    connect_loopback(p->load_tx, p->scanner_port, err, err_len) != 0 ||
	    connect_loopback(p->scanner_tx, p->sink_port, err, err_len) != 0 ||
	    set_recv_timeout(p->scanner_rx, recv_timeout_ms, err, err_len) != 0 ||
	    set_recv_timeout(p->sink, recv_timeout_ms, err, err_len) != 0)
		goto fail;
	int a = rcvbuf_of(p->scanner_rx), b = rcvbuf_of(p->sink);
	p->rcvbuf = a < b ? a : b;
	return 0;
fail:
	loopback_path_close(p);
	return -1;
}

void loopback_path_close(struct loopback_path *p)
{
	int *fds[] = {&p->load_tx, &p->scanner_rx, &p->scanner_tx, &p->sink};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

uint32_t loopback_path_queue_capacity(const struct loopback_path *p, uint32_t payload_len)
{
	/* An skb's data area holds headroom, the IP and UDP headers and the
	 * payload, plus skb_shared_info (about 320 bytes), rounded up to a
	 * power of two by the slab; the sk_buff itself adds about 256. */
	uint64_t data = (uint64_t)payload_len + 128 + 320, slab = 512;
	while (slab < data)
		slab <<= 1;
	uint64_t truesize = slab + 256;
	return (uint32_t)((uint64_t)(p->rcvbuf > 0 ? p->rcvbuf : 0) / truesize);
}
