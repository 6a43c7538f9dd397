#include "corpus_reader.h"

#include <errno.h>
#include <stdbool.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int corpus_packets_load(const char *path, struct corpus_packets *out, char *err, size_t err_len)
{
	char perr[PCAP_ERRBUF_SIZE];
	memset(out, 0, sizeof(*out));
	pcap_t *pc = pcap_open_offline(path, perr);
	if (pc == NULL) {
		snprintf(err, err_len, "%s: %s", path, perr);
		return -1;
	}
	if (pcap_datalink(pc) != DLT_EN10MB) {
		snprintf(err, err_len, "%s: not an Ethernet capture", path);
		pcap_close(pc);
		return -1;
	}
	size_t cap = 1024, data_cap = 1 << 20;
	out->offset = malloc(cap * sizeof(*out->offset));
	out->len = malloc(cap * sizeof(*out->len));
	out->data = malloc(data_cap);
	struct pcap_pkthdr *h;
	const u_char *bytes;
	int rc;
	while (out->offset && out->len && out->data && (rc = pcap_next_ex(pc, &h, &bytes)) == 1) {
		if (h->caplen != h->len) {
			snprintf(err, err_len, "%s: packet %u truncated in the capture", path,
				 out->count + 1);
			goto fail;
		}
		if (out->count == cap) {
			cap *= 2;
			uint32_t *o = realloc(out->offset, cap * sizeof(*o));
			if (o)
				out->offset = o;
			uint32_t *l = realloc(out->len, cap * sizeof(*l));
			if (l)
				out->len = l;
			if (!o || !l)
				break;
		}
		if (out->bytes + h->caplen > UINT32_MAX) {
			snprintf(err, err_len, "%s: more than 4 GiB of packets", path);
			goto fail;
		}
		while (out->bytes + h->caplen > data_cap) {
			data_cap *= 2;
			uint8_t *d = realloc(out->data, data_cap);
			if (d == NULL)
				goto oom;
			out->data = d;
		}
		memcpy(out->data + out->bytes, bytes, h->caplen);
		out->offset[out->count] = (uint32_t)out->bytes;
		out->len[out->count] = h->caplen;
		out->bytes += h->caplen;
		out->count++;
	}
	if (!out->offset || !out->len || !out->data)
		goto oom;
	if (rc == -1) {
		snprintf(err, err_len, "%s: %s", path, pcap_geterr(pc));
		goto fail;
	}
	pcap_close(pc);
	return 0;
oom:
	snprintf(err, err_len, "%s: out of memory", path);
fail:
	pcap_close(pc);
	corpus_packets_free(out);
	return -1;
}

void corpus_packets_free(struct corpus_packets *p)
{
	free(p->data);
	free(p->offset);
	free(p->len);
	memset(p, 0, sizeof(*p));
}

int corpus_texts_load(const char *path, struct corpus_texts *out, char *err, size_t err_len)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 0, len = 0;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			char *d = realloc(out->data, cap);
			if (d == NULL) {
				fclose(f);
				snprintf(err, err_len, "%s: out of memory", path);
				corpus_texts_free(out);
				return -1;
			}
			out->data = d;
		}
		memcpy(out->data + len, chunk, n);
		len += n;
	}
	bool read_error = ferror(f);
	fclose(f);
	if (read_error || len == 0) {
		snprintf(err, err_len, "%s: %s", path, read_error ? "read error" : "empty file");
		corpus_texts_free(out);
		return -1;
	}
	uint32_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += out->data[i] == '\n';
	if (out->data[len - 1] != '\n')
		lines++;
	out->text = malloc(lines * sizeof(*out->text));
	out->len = malloc(lines * sizeof(*out->len));
	out->msg_id = malloc(lines * sizeof(*out->msg_id));
	if (!out->text || !out->len || !out->msg_id) {
		snprintf(err, err_len, "%s: out of memory", path);
		corpus_texts_free(out);
		return -1;
	}
	size_t pos = 0;
	uint32_t line_no = 0;
	while (pos < len) {
		char *line = out->data + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos;
		pos += line_len + 1;
		line_no++;
		char *tab = memchr(line, '\t', line_len);
		uint64_t id = line_no;
		const char *text = line;
		size_t text_len = line_len;
		if (tab != NULL) {
			id = strtoull(line, NULL, 10);
			text = tab + 1;
			text_len = line_len - (size_t)(tab + 1 - line);
		}
		out->text[out->count] = text;
		out->len[out->count] = (uint32_t)text_len;
		out->msg_id[out->count] = id;
		out->bytes += text_len;
		out->count++;
	}
	return 0;
}

void corpus_texts_free(struct corpus_texts *t)
{
	free(t->data);
	free(t->text);
	free(t->len);
	free(t->msg_id);
	memset(t, 0, sizeof(*t));
}
