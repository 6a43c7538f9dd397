/* Reading a corpus back into memory: the pcap (-o) and the text file
 * (--text-out) that sluice-gen writes for the same messages. The benchmarks
 * measure with them and the tests compare scan modes over them.
 *
 * Contract: each loader reads the whole file once into one allocation and
 * returns views into it, so a benchmark loop touches no I/O and no allocator.
 * On failure it returns -1 with a message naming the file in err.
 */
#ifndef SLUICE_GEN_CORPUS_READER_H
#define SLUICE_GEN_CORPUS_READER_H

#include <stddef.h>
#include <stdint.h>

struct corpus_packets {
	uint8_t *data;	  /* all packets, back to back */
	uint32_t *offset; /* packet i is data[offset[i], offset[i] + len[i]) */
	uint32_t *len;
	uint32_t count;
	uint64_t bytes; /* sum of len */
};

/* Every packet of an Ethernet pcap (DLT_EN10MB); truncated captures refused. */
int corpus_packets_load(const char *path, struct corpus_packets *out, char *err, size_t err_len);
void corpus_packets_free(struct corpus_packets *p);

struct corpus_texts {
	char *data;	   /* the file's bytes */
	const char **text; /* message i: text[i][0..len[i]), not NUL-terminated */
	uint32_t *len;
	uint64_t *msg_id;
	uint32_t count;
	uint64_t bytes; /* sum of len */
};

/* Lines of `msg_id<TAB>text` (sluice-gen --text-out); a line without a tab is
 * taken whole as the text, with msg_id its line number. */
int corpus_texts_load(const char *path, struct corpus_texts *out, char *err, size_t err_len);
void corpus_texts_free(struct corpus_texts *t);

#endif
