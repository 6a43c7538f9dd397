#include "gen_cut.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

#define MAX_PIECE_LEN 1024

/* The corpus goes to a scanner that is undefined on invalid UTF-8, so every
 * text is cut and cleaned with the wire layer's UTF-8 gate (utf8.h). */
size_t utf8_floor(const char *s, size_t len, size_t limit)
{
	return sluice_utf8_floor((const uint8_t *)s, len, limit);
}

bool is_ascii_word(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_';
}

static void corpus_add_piece(struct corpus *c, const char *s, size_t len)
{
	size_t letters = 0, visible = 0;

	for (size_t i = 0; i < len; i++) {
		uint8_t ch = (uint8_t)s[i];
		if (ch == ' ')
			continue;
		visible++;
		if (ch >= 0x80 || is_ascii_word(ch))
			letters++;
	}
	/* Drops ASCII art, rulers and bare attributions, which no one chats. */
	if (letters < 2 || letters * 10 < visible * 6)
		return;
	if (c->text.len + len > UINT32_MAX) {
		fprintf(stderr, "sluice-gen: corpus too large\n");
		exit(1);
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 1024;
		c->pieces = xrealloc(c->pieces, c->cap * sizeof(*c->pieces));
	}
	c->pieces[c->n].off = (uint32_t)c->text.len;
	c->pieces[c->n].len = (uint16_t)len;
	c->n++;
	buf_append(&c->text, s, len);
}

/* Cuts a long piece where a reader would: at the last space in its second half
 * if there is one, else at a code point boundary. */
static void corpus_add_long(struct corpus *c, const char *s, size_t len)
{
	while (len > MAX_PIECE_LEN) {
		size_t cut = utf8_floor(s, len, MAX_PIECE_LEN);
		for (size_t i = cut; i > MAX_PIECE_LEN / 2; i--) {
			if (s[i] == ' ') {
				cut = i;
				break;
			}
		}
		corpus_add_piece(c, s, cut);
		while (cut < len && s[cut] == ' ')
			cut++;
		s += cut;
		len -= cut;
	}
	if (len)
		corpus_add_piece(c, s, len);
}

static bool is_terminator(const char *s, size_t n)
{
	if (n == 1)
		return s[0] == '.' || s[0] == '!' || s[0] == '?';
	/* 。！？； */
	return n == 3 && (!memcmp(s, "\xe3\x80\x82", 3) || !memcmp(s, "\xef\xbc\x81", 3) ||
			  !memcmp(s, "\xef\xbc\x9f", 3) || !memcmp(s, "\xef\xbc\x9b", 3));
}

static bool is_closer(const char *s, size_t n)
{
	if (n == 1)
		return s[0] == '"' || s[0] == '\'' || s[0] == ')';
	/* ’ ” 」 』 ） */
	return n == 3 && (!memcmp(s, "\xe2\x80\x99", 3) || !memcmp(s, "\xe2\x80\x9d", 3) ||
			  !memcmp(s, "\xe3\x80\x8d", 3) || !memcmp(s, "\xe3\x80\x8f", 3) ||
			  !memcmp(s, "\xef\xbc\x89", 3));
}

/* Splits clean text into sentences. A sentence keeps its closing quotes and
 * brackets; an English one must be followed by a space (so "3.14" and "e.g.,"
 * stay whole), a Chinese one need not be. Once an attribution ("-- Name")
 * starts, the rest of the entry stays in one piece with it. */
void corpus_add_clean(struct corpus *c, const char *s, size_t len)
{
	size_t start = 0, i = 0;

	while (i < len) {
		size_t n = sluice_utf8_sequence_len((const uint8_t *)s + i, len - i);
		bool ascii = n == 1;

		i += n;
		if (!is_terminator(s + i - n, n))
			continue;
		while (i < len) {
			n = sluice_utf8_sequence_len((const uint8_t *)s + i, len - i);
			if (!is_closer(s + i, n) && !is_terminator(s + i, n))
				break;
			i += n;
		}
		if (ascii && i < len && s[i] != ' ')
			continue;
		size_t next = i;
		while (next < len && s[next] == ' ')
			next++;
		if (next + 1 < len && s[next] == '-' && s[next + 1] == '-')
			break;
		corpus_add_long(c, s + start, i - start);
		start = i = next;
	}
	if (start < len)
		corpus_add_long(c, s + start, len - start);
}

static void text_join(struct buf *t, const char *s, size_t len)
{
	/* Chinese joins without a space; anything next to ASCII gets one. */
	if (t->len && ((uint8_t)t->data[t->len - 1] < 0x80 || (uint8_t)s[0] < 0x80))
		buf_append(t, " ", 1);
	buf_append(t, s, len);
}

/* Chat is mostly short: 80% of targets are 10-60 bytes, the rest a tail that
 * reaches 1 KiB, so both the per-call overhead and long-text scanning show up. */
static size_t target_len(struct rng *r)
{
	uint32_t p = rng_below(r, 100);
	if (p < 80)
		return rng_range(r, 10, 60);
	if (p < 95)
		return rng_range(r, 61, 250);
	return rng_range(r, 251, MAX_TEXT_LEN);
}

void message_text(struct buf *t, const struct corpus *c, struct rng *r, size_t limit)
{
	size_t want = target_len(r);
	size_t i = rng_below(r, (uint32_t)c->n);

	if (want > limit)
		want = limit;
	/* A few tries for a piece that fits whole: a message cut mid-sentence now
	 * and then is realistic, but most people finish theirs. */
	for (int tries = 0; tries < 8 && c->pieces[i].len > want; tries++)
		i = rng_below(r, (uint32_t)c->n);
	t->len = 0;
	for (size_t taken = 0; taken < c->n; taken++, i = (i + 1) % c->n) {
		const struct piece *p = &c->pieces[i];
		if (t->len >= 10 && t->len + 1 + p->len > want)
			break;
		text_join(t, c->text.data + p->off, p->len);
		if (t->len >= want)
			break;
	}
	if (t->len > want) {
		size_t cut = utf8_floor(t->data, t->len, want);
		for (size_t j = cut; j > want / 2; j--) {
			if (t->data[j] == ' ') {
				cut = j;
				break;
			}
		}
		t->len = cut;
	}
	while (t->len && t->data[t->len - 1] == ' ')
		t->len--;
}
