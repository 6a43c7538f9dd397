#include "control_protocol.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

int sluice_ctl_request(const char *socket_path, const char *request, int timeout_ms, char **reply,
		       char *err, size_t err_len)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	double t0 = sluice_mono_ms();
	*reply = NULL;

	if (strlen(socket_path) >= sizeof(addr.sun_path)) {
		snprintf(err, err_len, "%s: socket path too long", socket_path);
		return -1;
	}
	if (strlen(request) + 1 > SLUICE_CTL_MAX_REQUEST) {
		snprintf(err, err_len, "request too long");
		return -1;
	}
	strcpy(addr.sun_path, socket_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, err_len, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
		snprintf(err, err_len, "%s: cannot connect: %s (is sluice running?)", socket_path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	char line[SLUICE_CTL_MAX_REQUEST + 1];
	int len = snprintf(line, sizeof(line), "%s\n", request);
	/* MSG_NOSIGNAL: a daemon that went away is an error to report, not a
	 * SIGPIPE that kills the client. */
	if (send(fd, line, (size_t)len, MSG_NOSIGNAL) != len) {
		snprintf(err, err_len, "%s: write: %s", socket_path, strerror(errno));
		close(fd);
		return -1;
	}

	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);
	int rc = -1;
	while (buf != NULL) {
		long left = timeout_ms - (long)(sluice_mono_ms() - t0);
		if (left <= 0) {
			snprintf(err, err_len, "%s: no reply within %d ms", socket_path,
				 timeout_ms);
			break;
		}
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (used + 1024 > cap) {
			char *bigger = realloc(buf, cap * 2);
			if (bigger == NULL)
				break;
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + used, cap - used - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, err_len, "%s: read: %s", socket_path, strerror(errno));
			break;
		}
		if (n == 0) {
			buf[used] = '\0';
			if (used == 0) {
				snprintf(err, err_len, "%s: connection closed without a reply",
					 socket_path);
				break;
			}
			rc = 0;
			break;
		}
		used += (size_t)n;
	}
	close(fd);
	if (rc == 0) {
		*reply = buf;
	} else {
		free(buf);
	}
	return rc;
}
