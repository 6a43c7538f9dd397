/* Loading benchmark corpora into memory: the pcap and the text file that
 * sluice-gen writes for the same messages.
 *
 * Contract: each loader reads the whole file once into one allocation and
 * returns views into it, so a benchmark loop touches no I/O and no allocator.
 * On failure it returns -1 with a message naming the file in err.
 */
#ifndef SLUICE_BENCH_CORPUS_FILES_H
#define SLUICE_BENCH_CORPUS_FILES_H

#include <stddef.h>
#include <stdint.h>

struct bench_packets {
	uint8_t *data;	  /* all packets, back to back */
	uint32_t *offset; /* packet i is data[offset[i], offset[i] + len[i]) */
	uint32_t *len;
	uint32_t count;
	uint64_t bytes; /* sum of len */
};

/* Every packet of an Ethernet pcap (DLT_EN10MB); truncated captures refused. */
int bench_packets_load(const char *path, struct bench_packets *out, char *err, size_t err_len);
void bench_packets_free(struct bench_packets *p);

struct bench_texts {
	char *data;	   /* the file's bytes */
	const char **text; /* message i: text[i][0..len[i]), not NUL-terminated */
	uint32_t *len;
	uint64_t *msg_id;
	uint32_t count;
	uint64_t bytes; /* sum of len */
};

/* Lines of `msg_id<TAB>text` (sluice-gen --text-out); a line without a tab is
 * taken whole as the text, with msg_id its line number. */
int bench_texts_load(const char *path, struct bench_texts *out, char *err, size_t err_len);
void bench_texts_free(struct bench_texts *t);

#endif
