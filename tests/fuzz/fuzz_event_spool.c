/* libFuzzer harness: the events bus's spool file (event_spool.h) as a crash,
 * a full disk or a stranger may leave it: any bytes where the spool is
 * opened, then read, appended to, acknowledged and opened again, as the bus
 * does across a restart.
 *
 * Feeds: byte 0 picks what happens (bits 0-1: the records' limit, none, 200,
 * 4096 or 1 MiB; bits 2-4: how many records are acknowledged before the
 * reopen, 7 all; bit 5: three records are appended, their bodies cut from
 * the input); the rest is the file.
 *
 * Oracle (each violation calls abort()):
 * - open refuses exactly a file of a header's length or more that does not
 *   start with the magic; a shorter one becomes an empty spool;
 * - after open, header <= head <= read <= end == the file's size <= what was
 *   there: head is the header's number when that lies within the file, else
 *   the header's end; end is one past the last newline from head on (the cut
 *   record is gone), the bytes before it are untouched, and the record count
 *   is the number of newlines in [head, end); the header on disk says head;
 * - every line read back lies within [read, end), is the file's bytes there,
 *   holds no newline and is followed by one; the lines number the records;
 *   a line that splits gives a subject and a message id without spaces and a
 *   body that ends at the line's newline, and one that does not has fewer
 *   than two spaces;
 * - an append succeeds exactly when the record fits the limit, moves end by
 *   the record's length (or not at all), and reads back as written;
 * - after acknowledging records and trimming, a reopen finds the head that
 *   was persisted (the header's end once everything was acknowledged) and
 *   the records not acknowledged, the same lines again.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "event_spool.h"
#include "fuzz_scratch.h"

#define HDR	  SLUICE_EVENT_SPOOL_HEADER
#define MAX_INPUT (64 * 1024) /* lines stay well inside the spool's read-ahead */
#define APPENDS	  3

static const char *path;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint64_t file_size(void)
{
	struct stat st;
	check(stat(path, &st) == 0);
	return (uint64_t)st.st_size;
}

static void read_file(uint8_t *out, size_t len)
{
	int fd = open(path, O_RDONLY);
	check(fd >= 0);
	check(pread(fd, out, len, 0) == (ssize_t)len);
	close(fd);
}

static size_t count_byte(const uint8_t *p, size_t len, uint8_t b)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += p[i] == b;
	return n;
}

/* The header on disk must say head. */
static void check_header(uint64_t head)
{
	uint8_t h[HDR];
	char want[HDR];
	read_file(h, HDR);
	sluice_event_spool_header(want, head);
	check(memcmp(h, want, HDR) == 0);
}

/* Reads every line from s->read to s->end against the file's bytes (image,
 * the whole file as it is now); returns how many. */
static uint64_t read_all(struct sluice_event_spool *s, const uint8_t *image)
{
	uint64_t lines = 0;
	size_t line_len;
	const char *line;
	while ((line = sluice_event_spool_peek(s, &line_len)) != NULL) {
		check(s->read + line_len + 1 <= s->end);
		check(memcmp(line, image + s->read, line_len) == 0);
		check(memchr(line, '\n', line_len) == NULL && line[line_len] == '\n');
		struct sluice_event_spool_record rec;
		if (sluice_event_spool_split(line, line_len, &rec)) {
			check(rec.subject == line);
			check(rec.subject_len + 1 + rec.msg_id_len + 1 + rec.body_len ==
			      line_len + 1);
			check(memchr(rec.subject, ' ', rec.subject_len) == NULL);
			check(memchr(rec.msg_id, ' ', rec.msg_id_len) == NULL);
			check(rec.body_len >= 1 && rec.body + rec.body_len - 1 == line + line_len);
		} else {
			check(count_byte((const uint8_t *)line, line_len, ' ') < 2);
		}
		s->read += line_len + 1;
		lines++;
	}
	check(s->read == s->end);
	return lines;
}

/* A record from the input: spaces and newlines where the format forbids them
 * are replaced, as the bus's subjects and message ids never hold them. */
static size_t make_body(char *body, size_t cap, const uint8_t *in, size_t len)
{
	size_t n = len < cap - 1 ? len : cap - 1;
	for (size_t i = 0; i < n; i++)
		body[i] = in[i] == '\n' ? ' ' : (char)in[i];
	body[n] = '\n';
	return n + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	path = fuzz_scratch_file("events.spool");
	if (size < 1 || size > MAX_INPUT)
		return 0;
	static const uint64_t limits[4] = {0, 200, 4096, 1 << 20};
	uint8_t mode = data[0];
	uint64_t max_bytes = limits[mode & 3];
	unsigned acks = (mode >> 2) & 7;
	bool append = mode & 0x20;
	const uint8_t *file = data + 1;
	size_t len = size - 1;

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check(fd >= 0);
	check(write(fd, file, len) == (ssize_t)len);
	close(fd);

	struct sluice_event_spool s;
	uint64_t records;
	char err[256];
	bool foreign = len >= HDR && memcmp(file, SLUICE_EVENT_SPOOL_MAGIC,
					    strlen(SLUICE_EVENT_SPOOL_MAGIC)) != 0;
	int rc = sluice_event_spool_open(&s, path, max_bytes, &records, err, sizeof(err));
	check((rc != 0) == foreign);
	if (rc != 0) {
		check(err[0] != '\0');
		check(file_size() == len); /* not ours: left alone */
		return 0;
	}

	/* The reference reading of the file. */
	uint64_t head = HDR, end = HDR, want_records = 0;
	if (len >= HDR) {
		char h[HDR + 1];
		memcpy(h, file, HDR);
		h[HDR] = '\0';
		head = strtoull(h + strlen(SLUICE_EVENT_SPOOL_MAGIC), NULL, 10);
		if (head < HDR || head > len)
			head = HDR;
		end = head;
		for (uint64_t i = head; i < len; i++)
			if (file[i] == '\n')
				end = i + 1;
		want_records = count_byte(file + head, (size_t)(end - head), '\n');
	}
	check(s.head == head && s.read == head && s.end == end);
	check(records == want_records);
	check(file_size() == end && end <= (len > HDR ? len : HDR));
	check_header(head);

	uint8_t *image = malloc(end + APPENDS * SLUICE_EVENT_SPOOL_RECORD_MAX);
	check(image != NULL);
	read_file(image, (size_t)end);
	check(memcmp(image + HDR, file + HDR, (size_t)(end - HDR)) == 0);
	check(read_all(&s, image) == records);

	/* Appends, read back as written. */
	uint64_t appended = 0;
	for (unsigned k = 0; append && k < APPENDS; k++) {
		char subject[64], msg_id[64], body[SLUICE_EVENT_SPOOL_RECORD_MAX];
		snprintf(subject, sizeof(subject), "sluice.events.match.contact.mask%u", k);
		snprintf(msg_id, sizeof(msg_id), "gw.1a2b.%u.%u", k, (unsigned)len);
		size_t cut = len / APPENDS * k;
		size_t body_len = make_body(body, sizeof(body) / (k + 1), file + cut, len - cut);
		size_t n = strlen(subject) + 1 + strlen(msg_id) + 1 + body_len;
		bool fits = n <= SLUICE_EVENT_SPOOL_RECORD_MAX &&
			    (max_bytes == 0 || s.end - HDR + n <= max_bytes);
		uint64_t before = s.end;
		bool ok = sluice_event_spool_append(&s, subject, msg_id, body, body_len);
		check(ok == fits);
		check(s.end == before + (ok ? n : 0) && file_size() == s.end);
		if (!ok)
			continue;
		appended++;
		read_file(image, (size_t)s.end);
		size_t line_len;
		const char *line = sluice_event_spool_peek(&s, &line_len);
		struct sluice_event_spool_record rec;
		check(line != NULL && line_len + 1 == n);
		check(sluice_event_spool_split(line, line_len, &rec));
		check(rec.subject_len == strlen(subject) &&
		      memcmp(rec.subject, subject, rec.subject_len) == 0);
		check(rec.msg_id_len == strlen(msg_id) &&
		      memcmp(rec.msg_id, msg_id, rec.msg_id_len) == 0);
		check(rec.body_len == body_len && memcmp(rec.body, body, body_len) == 0);
		check(read_all(&s, image) == 1);
	}
	uint64_t total = records + appended;

	/* Acknowledge the first records, as the bus moves head on acks. */
	uint64_t acked = acks == 7 || acks > total ? total : acks;
	s.read = s.head;
	for (uint64_t k = 0; k < acked; k++) {
		size_t line_len;
		check(sluice_event_spool_peek(&s, &line_len) != NULL);
		s.read += line_len + 1;
	}
	s.head = s.read;
	bool emptied = s.head == s.end;
	uint64_t new_head = emptied ? HDR : s.head;
	check(sluice_event_spool_trim(&s) == 0);
	check(s.head == new_head && s.head_written == new_head);
	check(file_size() == (emptied ? HDR : s.end));
	sluice_event_spool_close(&s);

	/* What the next start finds. */
	uint64_t again;
	check(sluice_event_spool_open(&s, path, max_bytes, &again, err, sizeof(err)) == 0);
	check(s.head == new_head && again == total - acked);
	check_header(new_head);
	read_file(image, (size_t)s.end);
	check(read_all(&s, image) == again);
	sluice_event_spool_close(&s);
	free(image);
	return 0;
}
