/* The events bus's spool file on its own (control/event_spool.h): what an
 * open makes of a file a crash or a damaged disk left, and that a reader
 * never stalls on it. The bus with a live NATS server is test_event_bus.c;
 * any bytes at all are fuzz_event_spool's.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "event_spool.h"
#include "test_support.h"

#define REC1 "sluice.events.match.contact.mask gw.1.0.1 {\"msg_id\":1}\n"
#define REC2 "sluice.events.match.contact.mask gw.1.0.2 {\"msg_id\":2}\n"

static char *spool_path(void)
{
	char *dir = ts_make_tmpdir("spool"), *path;
	cr_assert_neq(asprintf(&path, "%s/events.spool", dir), -1);
	free(dir);
	return path;
}

/* Removes the spool's directory and frees its path. */
static void drop_spool(char *path)
{
	*strrchr(path, '/') = '\0';
	ts_rmtree(path);
	free(path);
}

static void write_file(const char *path, const char *head, const char *body, size_t body_len)
{
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	char h[SLUICE_EVENT_SPOOL_HEADER];
	sluice_event_spool_header(h, strtoull(head, NULL, 10));
	cr_assert_eq(fwrite(h, 1, sizeof(h), f), sizeof(h));
	cr_assert_eq(fwrite(body, 1, body_len, f), body_len);
	fclose(f);
}

static long size_of(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

Test(event_spool, a_torn_last_record_is_cut_and_the_head_kept_across_opens)
{
	char *path = spool_path();
	const char body[] = REC1 REC2 "sluice.events.match.contact.mask gw.1.0.3 {\"ms";
	write_file(path, "64", body, sizeof(body) - 1);
	struct sluice_event_spool s;
	uint64_t records;
	char err[256];
	cr_assert_eq(sluice_event_spool_open(&s, path, 0, &records, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(records, 2);
	cr_assert_eq(s.end, SLUICE_EVENT_SPOOL_HEADER + strlen(REC1 REC2));
	cr_assert_eq(size_of(path), (long)s.end, "the torn record is cut off the file");

	size_t len;
	const char *line = sluice_event_spool_peek(&s, &len);
	cr_assert_not_null(line);
	struct sluice_event_spool_record rec;
	cr_assert(sluice_event_spool_split(line, len, &rec));
	cr_assert_eq(rec.msg_id_len, strlen("gw.1.0.1"));
	cr_assert_eq(memcmp(rec.msg_id, "gw.1.0.1", rec.msg_id_len), 0);
	cr_assert_eq(rec.body_len, strlen("{\"msg_id\":1}\n"));
	s.read += len + 1;
	s.head = s.read; /* the first record acknowledged */
	cr_assert_eq(sluice_event_spool_trim(&s), 0);
	sluice_event_spool_close(&s);

	cr_assert_eq(sluice_event_spool_open(&s, path, 0, &records, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(records, 1, "only the unacknowledged record is found again");
	cr_assert_eq(s.head, SLUICE_EVENT_SPOOL_HEADER + strlen(REC1));
	line = sluice_event_spool_peek(&s, &len);
	cr_assert(line != NULL && len + 1 == strlen(REC2) && memcmp(line, REC2, len) == 0);
	sluice_event_spool_close(&s);
	drop_spool(path);
}

/* A line longer than the reader's read-ahead cannot be a record; before, the
 * reader returned nothing for it again and again, so the spool never drained
 * past it and every later event was spooled behind it until the spool was
 * full. */
Test(event_spool, a_line_longer_than_any_record_is_skipped_and_counted)
{
	char *path = spool_path();
	size_t long_len = 300 * 1024;
	size_t n = long_len + 1 + strlen(REC1);
	char *body = malloc(n);
	cr_assert_not_null(body);
	memset(body, 'x', long_len);
	body[long_len] = '\n';
	memcpy(body + long_len + 1, REC1, strlen(REC1));
	write_file(path, "64", body, n);

	struct sluice_event_spool s;
	uint64_t records;
	char err[256];
	cr_assert_eq(sluice_event_spool_open(&s, path, 0, &records, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(records, 2);
	size_t len;
	const char *line = sluice_event_spool_peek(&s, &len);
	cr_assert_not_null(line, "the record after the long line is read");
	cr_assert(len + 1 == strlen(REC1) && memcmp(line, REC1, len) == 0);
	cr_assert_eq(sluice_event_spool_take_skipped(&s), 1);
	cr_assert_eq(sluice_event_spool_take_skipped(&s), 0);
	s.read += len + 1;
	cr_assert_null(sluice_event_spool_peek(&s, &len));
	sluice_event_spool_close(&s);
	free(body);
	drop_spool(path);
}

Test(event_spool, a_file_that_is_not_a_spool_is_refused_and_left_alone)
{
	char *path = spool_path();
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	for (int i = 0; i < 10; i++)
		fputs("not a spool at all\n", f);
	fclose(f);
	struct sluice_event_spool s;
	uint64_t records;
	char err[256];
	cr_assert_eq(sluice_event_spool_open(&s, path, 0, &records, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "not an events spool"), "%s", err);
	cr_assert_eq(size_of(path), 190);
	drop_spool(path);
}

/* A bus that comes and goes may never let the spool empty: acknowledged
 * records must give their disk back while later ones stay, or a full spool
 * of mostly delivered events would lose new ones. */
Test(event_spool, acknowledged_records_give_their_disk_back_while_others_remain)
{
	char *path = spool_path();
	struct sluice_event_spool s;
	uint64_t records;
	char err[256];
	const uint64_t max = 512 * 1024;
	cr_assert_eq(sluice_event_spool_open(&s, path, max, &records, err, sizeof(err)), 0, "%s",
		     err);
	char body[600], id[32];
	memset(body, 'x', sizeof(body));
	body[0] = '{';
	body[sizeof(body) - 2] = '}';
	body[sizeof(body) - 1] = '\n';
	uint64_t ends[2048], n = 0;
	for (; n < 2048; n++) {
		snprintf(id, sizeof(id), "gw.1.0.%llu", (unsigned long long)n + 1);
		if (!sluice_event_spool_append(&s, "sluice.events.match.contact.mask", id, body,
					       sizeof(body)))
			break;
		ends[n] = s.end;
	}
	cr_assert_gt(n, 100);
	cr_assert_lt(n, 2048, "max_bytes never refused a record");
	cr_assert_leq(s.end - SLUICE_EVENT_SPOOL_HEADER, max);

	/* Three quarters acknowledged: their blocks are punched out, and as
	 * many records fit again, though the file's offsets only grow. */
	uint64_t acked = n * 3 / 4;
	s.head = s.read = ends[acked - 1];
	cr_assert_eq(sluice_event_spool_trim(&s), 0);
	cr_assert_not(s.cannot_punch, "ext4, xfs and tmpfs punch holes");
	cr_assert_geq(s.reclaimed + 4096, s.head);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_lt((uint64_t)st.st_blocks * 512, (uint64_t)st.st_size / 2,
		     "%lld bytes on disk of %lld", (long long)st.st_blocks * 512,
		     (long long)st.st_size);
	uint64_t more = 0;
	for (; n + more < 2048; more++) {
		snprintf(id, sizeof(id), "gw.1.0.%llu", (unsigned long long)(n + more + 1));
		if (!sluice_event_spool_append(&s, "sluice.events.match.contact.mask", id, body,
					       sizeof(body)))
			break;
	}
	cr_assert_geq(more + 8, acked, "%llu acknowledged, %llu fit again",
		      (unsigned long long)acked, (unsigned long long)more);
	sluice_event_spool_close(&s);

	/* Reopened, the unacknowledged records come back in order, first to
	 * last, from the head the header kept. */
	cr_assert_eq(sluice_event_spool_open(&s, path, max, &records, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(records, n - acked + more);
	for (uint64_t k = acked; k < n + more; k++) {
		size_t len;
		const char *line = sluice_event_spool_peek(&s, &len);
		cr_assert_not_null(line, "record %llu", (unsigned long long)k + 1);
		struct sluice_event_spool_record rec;
		cr_assert(sluice_event_spool_split(line, len, &rec));
		snprintf(id, sizeof(id), "gw.1.0.%llu", (unsigned long long)k + 1);
		cr_assert(rec.msg_id_len == strlen(id) &&
			      memcmp(rec.msg_id, id, rec.msg_id_len) == 0,
			  "record %llu is %.*s", (unsigned long long)k + 1, (int)rec.msg_id_len,
			  rec.msg_id);
		s.read += len + 1;
	}
	size_t len;
	cr_assert_null(sluice_event_spool_peek(&s, &len));
	/* All acknowledged: the file is back to its header. */
	s.head = s.read;
	cr_assert_eq(sluice_event_spool_trim(&s), 0);
	cr_assert_eq(size_of(path), SLUICE_EVENT_SPOOL_HEADER);
	cr_assert_eq(s.reclaimed, 0);
	sluice_event_spool_close(&s);
	drop_spool(path);
}
