#include "file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "not a plain file";
}

int sluice_file_open_regular(const char *path, char *why, size_t why_len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, why_len, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(why, why_len, "cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, why_len, "not a regular file (%s)", file_kind(st.st_mode));
		close(fd);
		return -1;
	}
	/* A regular file reads the same either way; blocking reads keep the
	 * callers' loops simple. */
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return fd;
}

FILE *sluice_file_fopen_regular(const char *path, char *why, size_t why_len)
{
	int fd = sluice_file_open_regular(path, why, why_len);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "rb");
	if (f == NULL) {
		snprintf(why, why_len, "cannot open: %s", strerror(errno));
		close(fd);
	}
	return f;
}

int sluice_file_read_all(const char *path, uint64_t limit, const char *what, char **out,
			 size_t *len, char *why, size_t why_len)
{
	struct stat st;
	int fd = sluice_file_open_regular(path, why, why_len);
	*out = NULL;
	*len = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0) {
		snprintf(why, why_len, "cannot stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > limit) {
		snprintf(why, why_len,
			 "%lld bytes is larger than any %s this build reads (limit %llu)",
			 (long long)st.st_size, what, (unsigned long long)limit);
		close(fd);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (buf == NULL) {
		snprintf(why, why_len, "out of memory for %zu bytes", size);
		close(fd);
		return -1;
	}
	/* Read what is there rather than trusting st_size, so a file that
	 * changes underneath is caught by later length checks, not overrun. */
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, why_len, "cannot read: %s", strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

int sluice_file_read_private(const char *path, uint64_t limit, char **out, size_t *len, char *why,
			     size_t why_len)
{
	if (sluice_file_read_all(path, limit, "file", out, len, why, why_len) != 0)
		return -1;
	struct stat st;
	const char *bad = NULL;
	char mode[96];
	if (stat(path, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		snprintf(mode, sizeof(mode),
			 "others may read or write it (mode %03o): chmod 640, owner root, group "
			 "the daemon's",
			 (unsigned)(st.st_mode & 0777));
		bad = mode;
	} else if (strlen(*out) != *len) {
		bad = "holds a NUL byte";
	}
	if (bad == NULL)
		return 0;
	snprintf(why, why_len, "%s", bad);
	memset(*out, 0, *len);
	free(*out);
	*out = NULL;
	*len = 0;
	return -1;
}
