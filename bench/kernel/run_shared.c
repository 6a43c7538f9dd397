#include "run_shared.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int run_shared_init(struct run_shared *s, char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0) {
		snprintf(err, err_len, "eventfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void run_shared_close(struct run_shared *s)
{
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	s->wake_fd = -1;
}
