/* libFuzzer harness: what a pack's expressions can see, and the folding
 * table cut to it (patterns/language/fold_scope.h).
 *
 * Feeds: byte 0 picks caseless (bit 0) and whether the rest is a literal
 * (bit 1) or a regular expression (up to its first NUL); the rest is the
 * expression, any bytes at all (the reader must not fail on syntax it does
 * not know, nor read past the expression).
 *
 * Oracle (each violation calls abort()):
 * - reading is deterministic, and a caseless reading sees at least what a
 *   case-sensitive one sees (and is no less wild, no less "all");
 * - a literal that is valid UTF-8 sees each of its code points and is never
 *   wild or "all"; one that is not valid is "all";
 * - a regex with none of \ [ ( { . that is valid UTF-8 sees each of its code
 *   points but ) | * + ? ^ $, and is neither wild nor "all";
 * - after sluice_fold_table_scoped() with a small table (2-, 3- and 4-byte
 *   characters, a drop, a replacement of several characters): what a seen
 *   character folds to is seen; each mapping of the table is kept, as it
 *   was, exactly when the rule says (all, a drop, its character or a
 *   character of its replacement seen, or a wildcard and not one character
 *   for one); nothing else is mapped;
 * - the union of the cut table and the whole one maps as the whole one and
 *   serves both.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fold_scope.h"
#include "fold_table.h"
#include "utf8.h"

static const struct {
	uint32_t cp;
	const char *to;
} map[] = {{0xe9, "e"},		{0xff21, "A"},	 {0xff0c, ","},	  {0x865f, "\xe5\x8f\xb7"},
	   {0x200b, ""},	{0x2474, "(1)"}, {0x1f600, ":)"}, {0x3c2, "\xcf\x83"},
	   {0x3a3, "\xcf\x83"}, {0x3000, " "},	 {0x2460, "1"}};
#define MAPS (sizeof(map) / sizeof(map[0]))

static const struct sluice_fold_table *small_table(void)
{
	static struct sluice_fold_table t;
	static bool made;
	if (!made) {
		if (sluice_fold_table_init(&t) != 0)
			abort();
		for (size_t i = 0; i < MAPS; i++)
			if (sluice_fold_table_set(&t, map[i].cp, (const uint8_t *)map[i].to,
						  (uint32_t)strlen(map[i].to)) != 0)
				abort();
		if (sluice_fold_table_compact(&t) != 0)
			abort();
		made = true;
	}
	return &t;
}

static void read_into(struct sluice_fold_scope *s, bool literal, const char *text, size_t len,
		      bool caseless)
{
	if (sluice_fold_scope_init(s) != 0)
		abort();
	if (literal)
		sluice_fold_scope_literal(s, text, len, caseless);
	else
		sluice_fold_scope_regex(s, text, caseless);
}

static bool same(const struct sluice_fold_scope *a, const struct sluice_fold_scope *b)
{
	return a->all == b->all && a->wild == b->wild &&
	       memcmp(a->seen, b->seen, SLUICE_FOLD_CODE_POINTS / 8) == 0;
}

static bool includes(const struct sluice_fold_scope *big, const struct sluice_fold_scope *small)
{
	if (small->all > big->all || small->wild > big->wild)
		return false;
	for (size_t w = 0; w < SLUICE_FOLD_CODE_POINTS / 64; w++)
		if (small->seen[w] & ~big->seen[w])
			return false;
	return true;
}

/* Every code point of valid text seen, but those listed in skip. */
static bool sees_each(const struct sluice_fold_scope *s, const uint8_t *p, size_t len,
		      const char *skip)
{
	for (size_t i = 0; i < len;) {
		uint32_t n, cp = sluice_utf8_decode(p + i, &n);
		if (!(cp < 0x80 && cp != 0 && strchr(skip, (int)cp) != NULL) &&
		    !sluice_fold_scope_sees(s, cp))
			return false;
		i += n;
	}
	return true;
}

static void check_cut(struct sluice_fold_scope *s)
{
	const struct sluice_fold_table *t = small_table();
	struct sluice_fold_table *cut = sluice_fold_table_scoped(t, s);
	if (cut == NULL)
		abort();
	for (size_t i = 0; i < MAPS; i++) {
		const char *to = map[i].to;
		uint32_t len = (uint32_t)strlen(to), chars = 0;
		bool to_seen = false;
		for (uint32_t k = 0; k < len;) {
			uint32_t n, cp = sluice_utf8_decode((const uint8_t *)to + k, &n);
			to_seen |= sluice_fold_scope_sees(s, cp);
			k += n;
			chars++;
		}
		if (sluice_fold_scope_sees(s, map[i].cp) && len > 0 && !to_seen)
			abort(); /* what a seen character folds to is seen */
		bool keep = s->all || len == 0 || sluice_fold_scope_sees(s, map[i].cp) || to_seen ||
			    (s->wild && chars != 1);
		uint32_t e = sluice_fold_entry_of(cut, map[i].cp);
		if (keep != (e != 0))
			abort();
		if (e != 0 && (cut->entry[e].len != len ||
			       memcmp(cut->bytes + cut->entry[e].off, to, len) != 0))
			abort();
	}
	if (cut->mapped + cut->dropped > t->mapped + t->dropped)
		abort();
	struct sluice_fold_table *u = sluice_fold_table_union(cut, t);
	if (u == NULL || !sluice_fold_table_serves(u, cut) || !sluice_fold_table_serves(u, t))
		abort();
	for (size_t i = 0; i < MAPS; i++) {
		uint32_t e = sluice_fold_entry_of(u, map[i].cp);
		if (e == 0 || u->entry[e].len != strlen(map[i].to))
			abort();
	}
	if (u->mapped != t->mapped || u->dropped != t->dropped)
		abort();
	sluice_fold_table_free(u);
	free(u);
	sluice_fold_table_free(cut);
	free(cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	bool caseless = data[0] & 1, literal = (data[0] & 2) != 0;
	size_t len = size - 1;
	char *text = malloc(len + 1);
	if (text == NULL)
		abort();
	memcpy(text, data + 1, len);
	text[len] = '\0';
	if (!literal)
		len = strlen(text);

	struct sluice_fold_scope a, b, plain;
	read_into(&a, literal, text, len, caseless);
	read_into(&b, literal, text, len, caseless);
	read_into(&plain, literal, text, len, false);
	if (!same(&a, &b) || !includes(&a, &plain))
		abort();

	bool valid = sluice_utf8_valid((const uint8_t *)text, len);
	if (literal) {
		if (valid ? (a.all || a.wild || !sees_each(&a, (const uint8_t *)text, len, ""))
			  : !a.all)
			abort();
	} else if (valid && strpbrk(text, "\\[({.") == NULL) {
		if (a.all || a.wild || !sees_each(&a, (const uint8_t *)text, len, ")|*+?^$"))
			abort();
	}

	check_cut(&a);
	sluice_fold_scope_free(&a);
	sluice_fold_scope_free(&b);
	sluice_fold_scope_free(&plain);
	free(text);
	return 0;
}
