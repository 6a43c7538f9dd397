/* sluice-gen's corpus: the text messages are cut from, read from fortune
 * files (Debian's fortunes and fortunes-zh), files of lines given with
 * --corpus, or the bundled chat sample.
 *
 * Contract: every entry is cleaned as it is read (terminal escapes and
 * overstriking removed, invalid UTF-8 dropped, whitespace collapsed) and cut
 * into pieces (gen_cut.h), so what the corpus holds is clean one-line UTF-8.
 * Pieces keep the order of the text; a fortune directory's files are read in
 * name order and --corpus files in the order given, so the same inputs always
 * give the same corpus.
 */
#ifndef SLUICE_GEN_CORPUS_H
#define SLUICE_GEN_CORPUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gen_buffer.h"

/* Pieces are sentence-sized runs of clean UTF-8 without newlines or tabs, kept
 * in source order so that a long message can continue into the next piece. */
struct piece {
	uint32_t off;
	uint16_t len;
};

struct corpus {
	struct buf text;
	struct piece *pieces;
	size_t n, cap;
	size_t files;
};

/* Reads one file; false (errno set) if it cannot be read. scratch is working
 * space the caller keeps between calls. */
bool corpus_load_file(struct corpus *c, const char *path, struct buf *scratch);

/* Every regular file of a fortune directory; a missing directory adds none. */
void corpus_load_fortune_dir(struct corpus *c, const char *dir, struct buf *scratch);

/* bench/data/chat-sample.txt, looked for from the working directory, the
 * build tree and the installed share directory. */
bool corpus_load_bundled(struct corpus *c, struct buf *scratch);

void corpus_free(struct corpus *c);

#endif
