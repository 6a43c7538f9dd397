#include "event_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (256 * 1024)
#define BLOCK	   4096 /* punched ranges are whole blocks, after the header's */

void sluice_event_spool_header(char h[SLUICE_EVENT_SPOOL_HEADER], uint64_t head)
{
	memset(h, ' ', SLUICE_EVENT_SPOOL_HEADER);
	int n =
	    snprintf(h, SLUICE_EVENT_SPOOL_HEADER, SLUICE_EVENT_SPOOL_MAGIC "%020" PRIu64, head);
	h[n] = ' ';
	h[SLUICE_EVENT_SPOOL_HEADER - 1] = '\n';
}

static int write_header(struct sluice_event_spool *s)
{
	char h[SLUICE_EVENT_SPOOL_HEADER];
	sluice_event_spool_header(h, s->head);
	if (pwrite(s->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return -1;
	s->head_written = s->head;
	return 0;
}

/* Punches the whole blocks between the header's block and head out of the
 * file, the header first made durable: a crash must never leave a header
 * pointing into a hole. */
static void reclaim(struct sluice_event_spool *s)
{
	uint64_t from = s->reclaimed > BLOCK ? s->reclaimed : BLOCK;
	uint64_t to = s->head / BLOCK * BLOCK;
	if (s->cannot_punch || to <= from)
		return;
	if (s->head_written != s->head && write_header(s) != 0)
		return;
	if (fdatasync(s->fd) != 0)
		return;
	if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)from,
		      (off_t)(to - from)) == 0)
		s->reclaimed = to;
	else if (errno == EOPNOTSUPP || errno == ENOSYS)
		s->cannot_punch = true;
}

/* The bytes max_bytes counts: those on disk after the header. */
static uint64_t bytes_held(const struct sluice_event_spool *s)
{
	uint64_t from = SLUICE_EVENT_SPOOL_HEADER;
	if (!s->cannot_punch && s->reclaimed > from)
		from = s->reclaimed;
	return s->end - from;
}

void sluice_event_spool_close(struct sluice_event_spool *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->rbuf);
	free(s->path);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* An existing spool is checked from its head to its end, and a last record
 * cut short is cut off. */
static int open_existing(struct sluice_event_spool *s, uint64_t size, uint64_t *records, char *err,
			 size_t err_len)
{
	char h[SLUICE_EVENT_SPOOL_HEADER + 1];
	if (pread(s->fd, h, SLUICE_EVENT_SPOOL_HEADER, 0) != SLUICE_EVENT_SPOOL_HEADER ||
	    memcmp(h, SLUICE_EVENT_SPOOL_MAGIC, strlen(SLUICE_EVENT_SPOOL_MAGIC)) != 0) {
		snprintf(err, err_len, "%s: not an events spool (no '%s' header)", s->path,
			 SLUICE_EVENT_SPOOL_MAGIC);
		return -1;
	}
	h[SLUICE_EVENT_SPOOL_HEADER] = '\0';
	uint64_t head = strtoull(h + strlen(SLUICE_EVENT_SPOOL_MAGIC), NULL, 10);
	if (head < SLUICE_EVENT_SPOOL_HEADER || head > size)
		head = SLUICE_EVENT_SPOOL_HEADER;
	/* Count whole records; what follows the last newline was cut by a crash. */
	uint64_t off = head, last_end = head, n_records = 0;
	while (off < size) {
		ssize_t n = pread(s->fd, s->rbuf, READ_CHUNK, (off_t)off);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (s->rbuf[i] == '\n') {
				n_records++;
				last_end = off + (uint64_t)i + 1;
			}
		off += (uint64_t)n;
	}
	if (last_end < size && ftruncate(s->fd, (off_t)last_end) != 0) {
		snprintf(err, err_len, "%s: cannot cut a torn record: %s", s->path,
			 strerror(errno));
		return -1;
	}
	s->head = s->read = head;
	s->end = last_end;
	*records = n_records;
	if (write_header(s) != 0)
		return -1;
	/* What an earlier run acknowledged goes now (already a hole, or a
	 * file from before holes were punched). */
	reclaim(s);
	return 0;
}

int sluice_event_spool_open(struct sluice_event_spool *s, const char *path, uint64_t max_bytes,
			    uint64_t *records, char *err, size_t err_len)
{
	memset(s, 0, sizeof(*s));
	*records = 0;
	s->max_bytes = max_bytes;
	s->path = strdup(path);
	s->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->fd < 0) {
		snprintf(err, err_len, "%s: cannot open the events spool: %s", path,
			 strerror(errno));
		sluice_event_spool_close(s);
		return -1;
	}
	struct stat st;
	if (fstat(s->fd, &st) != 0)
		st.st_size = 0;
	s->rbuf = malloc(READ_CHUNK);
	if (s->rbuf == NULL || s->path == NULL) {
		snprintf(err, err_len, "out of memory");
		sluice_event_spool_close(s);
		return -1;
	}
	int rc;
	if (st.st_size < SLUICE_EVENT_SPOOL_HEADER) {
		s->head = s->read = s->end = SLUICE_EVENT_SPOOL_HEADER;
		rc = ftruncate(s->fd, SLUICE_EVENT_SPOOL_HEADER) != 0 || write_header(s) != 0 ? -1
											      : 0;
		if (rc != 0)
			snprintf(err, err_len, "%s: cannot write the events spool: %s", path,
				 strerror(errno));
	} else {
		rc = open_existing(s, (uint64_t)st.st_size, records, err, err_len);
	}
	if (rc != 0)
		sluice_event_spool_close(s);
	return rc;
}

bool sluice_event_spool_append(struct sluice_event_spool *s, const char *subject,
			       const char *msg_id, const char *body, size_t len)
{
	size_t sl = strlen(subject), il = strlen(msg_id);
	size_t n = sl + 1 + il + 1 + len;
	if (len == 0 || body[len - 1] != '\n' || n > SLUICE_EVENT_SPOOL_RECORD_MAX)
		return false;
	if (s->max_bytes != 0 && bytes_held(s) + n > s->max_bytes)
		return false;
	char rec[SLUICE_EVENT_SPOOL_RECORD_MAX];
	memcpy(rec, subject, sl);
	rec[sl] = ' ';
	memcpy(rec + sl + 1, msg_id, il);
	rec[sl + 1 + il] = ' ';
	memcpy(rec + sl + il + 2, body, len);
	if (pwrite(s->fd, rec, n, (off_t)s->end) != (ssize_t)n) {
		/* A partial record would be cut at the next open; cut it now. */
		if (ftruncate(s->fd, (off_t)s->end) != 0)
			return false;
		return false;
	}
	s->end += n;
	return true;
}

static const char *peek_line(struct sluice_event_spool *s, size_t *line_len);

/* Moves read past the line at read, which is longer than the read-ahead:
 * no record is (SLUICE_EVENT_SPOOL_RECORD_MAX), so it is skipped and counted,
 * as a line that does not split is. false on a read error. */
static bool skip_long_line(struct sluice_event_spool *s)
{
	for (uint64_t off = s->read + s->rbuf_len; off < s->end;) {
		uint64_t want = s->end - off < READ_CHUNK ? s->end - off : READ_CHUNK;
		ssize_t n = pread(s->fd, s->rbuf, (size_t)want, (off_t)off);
		if (n <= 0)
			break;
		const char *nl = memchr(s->rbuf, '\n', (size_t)n);
		if (nl != NULL) {
			s->read = off + (uint64_t)(nl - s->rbuf) + 1;
			s->rbuf_len = 0;
			s->skipped++;
			return true;
		}
		off += (uint64_t)n;
	}
	s->rbuf_len = 0;
	return false;
}

const char *sluice_event_spool_peek(struct sluice_event_spool *s, size_t *line_len)
{
	while (s->read < s->end) {
		const char *line = peek_line(s, line_len);
		if (line != NULL)
			return line;
		/* Without a newline in a whole read-ahead, the line is too long. */
		if (s->rbuf_off != s->read || s->rbuf_len != READ_CHUNK || !skip_long_line(s))
			return NULL;
	}
	return NULL;
}

uint64_t sluice_event_spool_take_skipped(struct sluice_event_spool *s)
{
	uint64_t n = s->skipped;
	s->skipped = 0;
	return n;
}

/* The line at read from the read-ahead, reading it again from there when it
 * is not all in it. */
static const char *peek_line(struct sluice_event_spool *s, size_t *line_len)
{
	for (int pass = 0; pass < 2; pass++) {
		if (s->read >= s->rbuf_off && s->read < s->rbuf_off + s->rbuf_len) {
			const char *p = s->rbuf + (s->read - s->rbuf_off);
			size_t left = s->rbuf_len - (size_t)(s->read - s->rbuf_off);
			const char *nl = memchr(p, '\n', left);
			if (nl != NULL) {
				*line_len = (size_t)(nl - p);
				return p;
			}
		}
		uint64_t want = s->end - s->read;
		if (want > READ_CHUNK)
			want = READ_CHUNK;
		ssize_t n = pread(s->fd, s->rbuf, (size_t)want, (off_t)s->read);
		if (n <= 0)
			return NULL;
		s->rbuf_off = s->read;
		s->rbuf_len = (size_t)n;
	}
	return NULL;
}

bool sluice_event_spool_split(const char *line, size_t line_len,
			      struct sluice_event_spool_record *out)
{
	const char *sp1 = memchr(line, ' ', line_len);
	const char *sp2 =
	    sp1 != NULL ? memchr(sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - line)) : NULL;
	if (sp2 == NULL)
		return false;
	*out = (struct sluice_event_spool_record){
	    .subject = line,
	    .subject_len = (size_t)(sp1 - line),
	    .msg_id = sp1 + 1,
	    .msg_id_len = (size_t)(sp2 - sp1 - 1),
	    .body = sp2 + 1,
	    .body_len = line_len - (size_t)(sp2 + 1 - line) + 1,
	};
	return true;
}

int sluice_event_spool_trim(struct sluice_event_spool *s)
{
	int rc = 0;
	if (s->head == s->end && s->end > SLUICE_EVENT_SPOOL_HEADER) {
		s->head = s->read = s->end = SLUICE_EVENT_SPOOL_HEADER;
		s->rbuf_len = 0;
		s->reclaimed = 0;
		if (ftruncate(s->fd, SLUICE_EVENT_SPOOL_HEADER) != 0)
			rc = -1;
	}
	if (s->head != s->head_written)
		write_header(s);
	uint64_t from = s->reclaimed > BLOCK ? s->reclaimed : BLOCK;
	if (s->head >= from + SLUICE_EVENT_SPOOL_RECLAIM)
		reclaim(s);
	return rc;
}
