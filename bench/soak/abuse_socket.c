#include "abuse_socket.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "soak_clock.h"

int abuse_connect(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* A Unix socket connects at once or not at all (EAGAIN: the listen
	 * queue is full), never "in progress". */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int ms_until(double deadline)
{
	double left = deadline - sluice_mono_s();
	return left <= 0 ? 0 : (int)(left * 1e3) + 1;
}

bool abuse_send(int fd, const void *buf, size_t len, double deadline)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			if (sluice_mono_s() >= deadline || poll(&pfd, 1, ms_until(deadline)) < 0)
				return false;
			continue;
		}
		return false;
	}
	return true;
}

/* Reads what is there; *got grows. Returns ANSWER_NONE while the line is
 * not whole and the connection still open. */
static enum abuse_answer read_some(int fd, char *buf, size_t cap, size_t *got)
{
	for (;;) {
		ssize_t n = recv(fd, buf + *got, cap - 1 - *got, MSG_DONTWAIT);
		if (n > 0) {
			*got += (size_t)n;
			buf[*got] = '\0';
			if (memchr(buf, '\n', *got) != NULL || *got == cap - 1)
				return ANSWER_REPLY;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return ANSWER_NONE;
		/* Closed, or reset because our request was left unread: what
		 * arrived before is the answer. */
		return *got > 0 ? ANSWER_REPLY : ANSWER_CLOSED;
	}
}

enum abuse_answer abuse_await(int fd, char *buf, size_t cap, double deadline)
{
	size_t got = 0;
	buf[0] = '\0';
	for (;;) {
		enum abuse_answer a = read_some(fd, buf, cap, &got);
		if (a != ANSWER_NONE)
			return a;
		if (sluice_mono_s() >= deadline)
			return ANSWER_NONE;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, ms_until(deadline)) < 0 && errno != EINTR)
			return ANSWER_NONE;
	}
}
