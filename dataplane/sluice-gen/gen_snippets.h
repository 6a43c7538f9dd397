/* Violation snippets: what sluice-gen inserts into the chosen share of
 * messages, so that a run has a known number of violations to find. The
 * built-in list matches rules of the bundled pack; --violations-from draws
 * them from a file instead (such as `sluice-pack examples` of the pack under
 * test).
 *
 * Contract: every snippet is clean one-line UTF-8 of at most MAX_SNIPPET_LEN
 * bytes, and is inserted so that it stays a token of its own to the rules'
 * word and digit boundaries.
 */
#ifndef SLUICE_GEN_SNIPPETS_H
#define SLUICE_GEN_SNIPPETS_H

#include <stdbool.h>
#include <stddef.h>

#include "gen_buffer.h"
#include "gen_rng.h"

/* Longest snippet --violations-from accepts: a violation is a phrase inside a
 * chat message, and every byte it takes is a byte less of the message's text
 * limit (see text_limit in gen_main.c). */
#define MAX_SNIPPET_LEN 200

/* The snippets a message with a violation draws from: the built-in list, or
 * the lines of --violations-from (pointing into data). */
struct snippets {
	const char **items;
	size_t n;
	struct buf data;
};

void snippets_builtin(struct snippets *s);

/* Reads one snippet per line; false with a message on stderr if the file
 * cannot be read or leaves none. */
bool snippets_load(struct snippets *s, const char *path);

/* The longest snippet, with room for a space on each side. */
size_t max_violation_len(const struct snippets *s);

void snippets_free(struct snippets *s);

/* Inserts snippet into t at a random place. */
void insert_violation(struct buf *t, struct rng *r, const char *snippet);

#endif
