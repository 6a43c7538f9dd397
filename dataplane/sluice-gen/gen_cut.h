/* Cutting text the way chat is written: clean corpus text into sentence-sized
 * pieces, and pieces into messages of the lengths chat messages have.
 *
 * Contract: every cut falls on a UTF-8 code point boundary (the wire layer's
 * UTF-8 gate, utf8.h), because the corpus goes to a scanner that is undefined
 * on invalid UTF-8; a message is at most MAX_TEXT_LEN bytes.
 */
#ifndef SLUICE_GEN_CUT_H
#define SLUICE_GEN_CUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen_buffer.h"
#include "gen_corpus.h"
#include "gen_rng.h"

#define MAX_TEXT_LEN 1024

/* The longest prefix of s[0..len) of at most limit bytes that ends on a code
 * point boundary. */
size_t utf8_floor(const char *s, size_t len, size_t limit);

/* [0-9A-Za-z_]: a byte inside an ASCII word, to the rules' word boundaries. */
bool is_ascii_word(uint8_t c);

/* Adds clean text (one entry) to the corpus as sentence pieces. */
void corpus_add_clean(struct corpus *c, const char *s, size_t len);

/* t becomes a message cut from the corpus at a random place, of a random
 * chat-like length of at most limit bytes. */
void message_text(struct buf *t, const struct corpus *c, struct rng *r, size_t limit);

#endif
