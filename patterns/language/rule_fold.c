#include "rule_fold.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fold_optin.h"
#include "hex.h"
#include "regex_analysis.h"
#include "strbuf.h"
#include "utf8.h"

/* cp's folded form into out (at most SLUICE_FOLD_MAX_BYTES); its length.
 * *kept says whether cp stays as it is. */
static uint32_t fold_cp(const struct sluice_fold_table *t, uint32_t cp, uint8_t *out, bool *kept)
{
	uint32_t e = cp < 0x80 || t == NULL ? 0 : sluice_fold_entry_of(t, cp);
	*kept = e == 0;
	if (e == 0)
		return sluice_utf8_encode(cp, out);
	memcpy(out, t->bytes + t->entry[e].off, t->entry[e].len);
	return t->entry[e].len;
}

static void note_fold(struct sluice_fold_note *note, size_t at, uint32_t len, const uint8_t *to,
		      uint32_t to_len)
{
	if (note->folded++ == 0) {
		note->first_at = at;
		note->first_len = len;
		memcpy(note->first_to, to, to_len);
		note->first_to[to_len] = '\0';
	}
}

int sluice_fold_literal(const struct sluice_fold_table *t, const char *text, size_t len, char **out,
			size_t *out_len, struct sluice_fold_note *note)
{
	const uint8_t *in = (const uint8_t *)text;
	uint8_t *o = malloc(len * SLUICE_FOLD_MAX_GROWTH + 1);
	size_t n = 0;

	memset(note, 0, sizeof(*note));
	if (o == NULL)
		return -1;
	for (size_t i = 0; i < len;) {
		uint32_t clen, flen;
		uint32_t cp = sluice_utf8_decode(in + i, &clen);
		bool kept;
		flen = fold_cp(t, cp, o + n, &kept);
		if (!kept)
			note_fold(note, i, clen, o + n, flen);
		n += flen;
		i += clen;
	}
	o[n] = '\0';
	*out = (char *)o;
	*out_len = n;
	return 0;
}

/* ---- patterns ---- */

struct folder {
	const struct sluice_fold_table *t; /* NULL: nothing folds */
	const char *re;
	size_t i, n;
	struct sluice_strbuf sb;
	struct sluice_fold_note *note;
	/* Opt-ins (fold_optin.h): what a character may also be written as,
	 * and separators between atoms. atom_before: the last thing written
	 * was an atom (a character, a class, a group), so separators may
	 * come between it and the next one. */
	const struct sluice_optin_data *d;
	unsigned optin;
	bool atom_before, word_before; /* word_before: it was a Latin letter or digit */
	/* atom_before where each open group began: its alternatives start
	 * there again ("门(?:赌场|新葡京)": separators may follow 门 before
	 * 赌 and before 新). */
	bool group_before[32], group_word[32];
	unsigned depth;
	/* The top-level alternative being written: where it began in re, the
	 * separator runs let into it, and whether it holds a character that
	 * is not ASCII (a Chinese character is three bytes, which Hyperscan
	 * can start from). */
	size_t alt_at;
	uint32_t alt_spread;
	bool alt_anchored;
};

static bool word_char(uint8_t c)
{
	return isalnum(c) || c == '_';
}

/* One character of folded text, escaped for where it goes: ASCII
 * punctuation is escaped in and out of classes (PCRE allows escaping any
 * of it). */
static void put_char(struct folder *f, const uint8_t *p, uint32_t len)
{
	if (len == 1 && !word_char(p[0]) && p[0] > 0x20 && p[0] < 0x7f)
		sluice_strbuf_printf(&f->sb, "\\%c", p[0]);
	else if (len == 1 && p[0] <= 0x20)
		sluice_strbuf_printf(&f->sb, "\\x%02x", p[0]);
	else
		sluice_strbuf_printf(&f->sb, "%.*s", (int)len, (const char *)p);
}

/* Characters in s[0..len). */
static uint32_t char_count(const uint8_t *s, uint32_t len)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < len; n++) {
		uint32_t k;
		sluice_utf8_decode(s + i, &k);
		i += k;
	}
	return n;
}

/* What cp may also be written as under the rule's opt-ins: how many, into
 * out (cp first). */
#define CLASS_MAX 256
static size_t widened(const struct folder *f, uint32_t cp, uint32_t *out)
{
	if (!(f->optin & (SLUICE_OPTIN_HOMOPHONES | SLUICE_OPTIN_DIGIT_WORDS)))
		return out[0] = cp, 1;
	return sluice_optin_class(f->d, f->optin, cp, out, CLASS_MAX);
}

/* One character, as a class of what it may be written as when an opt-in
 * widens it. */
static void put_widened(struct folder *f, uint32_t cp)
{
	uint32_t alt[CLASS_MAX];
	size_t n = widened(f, cp, alt);
	uint8_t u[4];
	if (n > 1)
		sluice_strbuf_printf(&f->sb, "[");
	for (size_t k = 0; k < n; k++)
		put_char(f, u, sluice_utf8_encode(alt[k], u));
	if (n > 1)
		sluice_strbuf_printf(&f->sb, "]");
}

/* Before an atom: with the separators opt-in, a bounded run of separators
 * may stand between it and the atom before; no spaces when both are Latin
 * letters or digits (word: this one is), since a space is how words are
 * separated and "GHB" must not match "HUGH BEAUMONT". */
static void begin_atom(struct folder *f, bool word)
{
	if ((f->optin & SLUICE_OPTIN_SEPARATORS) && f->atom_before) {
		sluice_strbuf_printf(&f->sb, "[%s]{0,%d}",
				     sluice_optin_separators(!(word && f->word_before)),
				     SLUICE_OPTIN_MAX_SEPARATORS);
		f->alt_spread++;
	}
	f->atom_before = true;
	f->word_before = word;
}

static bool ascii_word(uint32_t cp)
{
	return cp < 0x80 && isalnum((int)cp);
}

/* The top-level alternative that began at f->alt_at ends at end (a '|' or
 * the end of the body): noted when separators spread it and nothing in it
 * is wider than ASCII; the next one begins at next. */
static void end_alternative(struct folder *f, size_t end, size_t next)
{
	if (f->alt_spread > 0 && !f->alt_anchored && f->note->latin_spread++ == 0) {
		f->note->latin_at = f->alt_at;
		f->note->latin_len = (uint32_t)(end - f->alt_at);
	}
	f->alt_at = next;
	f->alt_spread = 0;
	f->alt_anchored = false;
}

/* Folded text as an atom: one character alone, several as a group, so that a
 * quantifier after it applies to all of them. */
static void put_atom(struct folder *f, const uint8_t *s, uint32_t len)
{
	bool group = char_count(s, len) > 1;
	begin_atom(f, len == 1 && ascii_word(s[0]));
	for (uint32_t i = 0; i < len; i++)
		f->alt_anchored |= s[i] >= 0x80;
	if (group)
		sluice_strbuf_printf(&f->sb, "(?:");
	for (uint32_t i = 0; i < len;) {
		uint32_t k;
		put_widened(f, sluice_utf8_decode(s + i, &k));
		i += k;
	}
	if (group)
		sluice_strbuf_printf(&f->sb, ")");
}

static void copy(struct folder *f, size_t from, size_t to)
{
	sluice_strbuf_printf(&f->sb, "%.*s", (int)(to - from), f->re + from);
}

/* A literal character of the pattern outside classes, written at
 * re[at..at+len), code point cp. */
static void literal_char(struct folder *f, uint32_t cp, size_t at, size_t len)
{
	uint8_t out[SLUICE_FOLD_MAX_BYTES + 4];
	bool kept;
	uint32_t n = fold_cp(f->t, cp, out, &kept);
	if (kept && f->optin == 0) {
		f->alt_anchored = true; /* cp is not ASCII */
		copy(f, at, at + len);
		return;
	}
	if (!kept)
		note_fold(f->note, at, (uint32_t)len, out, n);
	if (n == 0) {
		/* dropped, and with it any quantifier of it */
		f->i = sluice_regex_quantifier_end(f->re, f->n, f->i);
		return;
	}
	put_atom(f, out, n);
}

/* An ASCII character of the pattern that stands for itself, at f->i. */
static void ascii_literal(struct folder *f)
{
	uint8_t c = (uint8_t)f->re[f->i];
	uint32_t alt[CLASS_MAX];
	begin_atom(f, ascii_word(c));
	if (widened(f, c, alt) > 1)
		put_widened(f, c);
	else
		copy(f, f->i, f->i + 1);
	f->i++;
}

/* \Q...\E: every character literal. f->i is past "\Q". */
static void quoted(struct folder *f)
{
	while (f->i < f->n) {
		if (f->re[f->i] == '\\' && f->i + 1 < f->n && f->re[f->i + 1] == 'E') {
			f->i += 2;
			return;
		}
		uint32_t len;
		size_t at = f->i;
		uint32_t cp = sluice_utf8_decode((const uint8_t *)f->re + at, &len);
		f->i += len;
		if (cp < 0x80) {
			begin_atom(f, ascii_word(cp));
			put_widened(f, cp);
		} else {
			literal_char(f, cp, at, len);
		}
	}
}

/* An escape outside classes; f->i is at the backslash. */
static void escape(struct folder *f)
{
	const char *re = f->re;
	size_t i = f->i, end;
	uint32_t cp;

	if (i + 1 >= f->n) {
		copy(f, i, f->n);
		f->i = f->n;
		return;
	}
	char c = re[i + 1];
	if (c == 'Q') {
		f->i = i + 2;
		quoted(f);
		return;
	}
	if (c == 'x' && sluice_regex_hex_escape(re, f->n, i, &cp, &end)) {
		f->i = end;
		if (cp < 0x80) {
			begin_atom(f, ascii_word(cp));
			copy(f, i, end);
		} else {
			literal_char(f, cp, i, end - i);
		}
		return;
	}
	if ((c == 'p' || c == 'P') && i + 2 < f->n && re[i + 2] == '{') {
		const char *close = memchr(re + i + 2, '}', f->n - i - 2);
		end = close ? (size_t)(close - re) + 1 : f->n;
		begin_atom(f, false);
		copy(f, i, end);
		f->i = end;
		return;
	}
	if (strchr("bBAzZG", c) != NULL) {
		/* anchors: nothing to separate */
		copy(f, i, i + 2);
		f->i = i + 2;
		f->atom_before = false;
		return;
	}
	if (c == 'd' && (f->optin & SLUICE_OPTIN_DIGIT_WORDS)) {
		/* a digit, or the numerals of any digit */
		begin_atom(f, true);
		sluice_strbuf_printf(&f->sb, "[0-9");
		for (uint32_t v = 0; v < 10; v++) {
			uint32_t alt[CLASS_MAX];
			size_t n = widened(f, '0' + v, alt);
			uint8_t u[4];
			for (size_t k = 1; k < n; k++)
				if (alt[k] >= 0x80)
					put_char(f, u, sluice_utf8_encode(alt[k], u));
		}
		sluice_strbuf_printf(&f->sb, "]");
		f->i = i + 2;
		return;
	}
	if ((unsigned char)c >= 0x80) {
		/* an escaped non-ASCII character is that character */
		uint32_t len;
		cp = sluice_utf8_decode((const uint8_t *)re + i + 1, &len);
		f->i = i + 1 + len;
		literal_char(f, cp, i, 1 + len);
		return;
	}
	end = c == 'c' && i + 2 < f->n ? i + 3 : i + 2;
	begin_atom(f, c == 'd' || c == 'w');
	copy(f, i, end);
	f->i = end;
}

/* ---- classes ---- */

struct class_member {
	uint32_t lo, hi;
};

/* Reads one class member's code point at f->i: a character or \x escape.
 * Returns false for anything else (other escapes, POSIX classes), which is
 * copied by the caller. */
static bool class_cp(struct folder *f, size_t i, uint32_t *cp, size_t *end)
{
	const char *re = f->re;
	if (re[i] == '\\') {
		if (i + 1 < f->n && re[i + 1] == 'x')
			return sluice_regex_hex_escape(re, f->n, i, cp, end);
		if (i + 1 < f->n && (unsigned char)re[i + 1] >= 0x80) {
			uint32_t len;
			*cp = sluice_utf8_decode((const uint8_t *)re + i + 1, &len);
			*end = i + 1 + len;
			return true;
		}
		if (i + 1 < f->n && !isalnum((unsigned char)re[i + 1])) {
			*cp = (uint8_t)re[i + 1];
			*end = i + 2;
			return true;
		}
		return false;
	}
	if (re[i] == '[' && i + 1 < f->n && re[i + 1] == ':')
		return false;
	uint32_t len;
	*cp = sluice_utf8_decode((const uint8_t *)re + i, &len);
	*end = i + len;
	return true;
}

/* Skips something in a class that is not a character (an escape like \d or
 * \p{..}, or [:alpha:]); its end. */
static size_t class_other_end(const char *re, size_t n, size_t i)
{
	if (re[i] == '[') {
		const char *close = strstr(re + i, ":]");
		return close ? (size_t)(close - re) + 2 : n;
	}
	if (i + 2 < n && (re[i + 1] == 'p' || re[i + 1] == 'P') && re[i + 2] == '{') {
		const char *close = memchr(re + i + 2, '}', n - i - 2);
		return close ? (size_t)(close - re) + 1 : n;
	}
	return i + 2 <= n ? i + 2 : n;
}

/* Code point ranges: what a class lists, and the single code points it gains
 * (each once, and only when it does not list them already, so that folding a
 * folded pattern changes nothing). */
struct ranges {
	struct class_member *r;
	size_t n, cap;
	bool oom;
};

static bool ranges_hold(const struct ranges *x, uint32_t cp)
{
	for (size_t k = 0; k < x->n; k++)
		if (x->r[k].lo <= cp && cp <= x->r[k].hi)
			return true;
	return false;
}

static void ranges_add(struct ranges *x, uint32_t lo, uint32_t hi)
{
	if (x->n == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 16;
		struct class_member *p = realloc(x->r, cap * sizeof(*p));
		if (p == NULL) {
			x->oom = true;
			return;
		}
		x->r = p;
		x->cap = cap;
	}
	x->r[x->n++] = (struct class_member){lo, hi};
}

/* The gains of one class, and what it lists. */
struct extras {
	struct ranges gained, listed;
};

static void extras_add(struct extras *x, uint32_t cp)
{
	if (!ranges_hold(&x->gained, cp))
		ranges_add(&x->gained, cp, cp);
}

/* Adds the folded forms of lo..hi that are one character outside lo..hi;
 * counts those that fold to several. */
static void fold_range(struct folder *f, uint32_t lo, uint32_t hi, size_t at, size_t len,
		       struct extras *x)
{
	for (uint32_t cp = lo < 0x80 ? 0x80 : lo; cp <= hi; cp++) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		uint8_t out[SLUICE_FOLD_MAX_BYTES + 4];
		bool kept;
		uint32_t n = fold_cp(f->t, cp, out, &kept);
		if (kept || n == 0)
			continue;
		uint32_t k;
		uint32_t to = sluice_utf8_decode(out, &k);
		if (k != n) {
			if (f->note->class_lost++ == 0) {
				f->note->class_lost_at = at;
				f->note->class_lost_len = (uint32_t)len;
			}
			continue;
		}
		if ((to < lo || to > hi) && !ranges_hold(&x->listed, to)) {
			note_fold(f->note, at, (uint32_t)len, out, n);
			extras_add(x, to);
		}
	}
}

/* The opt-ins' alternatives of the characters lo..hi (folded) join the
 * class. */
static void widen_range(struct folder *f, uint32_t lo, uint32_t hi, struct extras *x)
{
	if (!(f->optin & (SLUICE_OPTIN_HOMOPHONES | SLUICE_OPTIN_DIGIT_WORDS)) || hi - lo > 64)
		return;
	for (uint32_t cp = lo; cp <= hi; cp++) {
		uint8_t out[SLUICE_FOLD_MAX_BYTES + 4];
		bool kept;
		uint32_t n = fold_cp(f->t, cp, out, &kept), k;
		uint32_t c = n ? sluice_utf8_decode(out, &k) : cp;
		uint32_t alt[CLASS_MAX];
		size_t m = widened(f, kept || n == 0 ? cp : c, alt);
		for (size_t j = 1; j < m; j++)
			extras_add(x, alt[j]);
	}
}

/* A class; f->i is at '['. */
static void char_class(struct folder *f)
{
	const char *re = f->re;
	size_t i = f->i + 1;
	bool negated = i < f->n && re[i] == '^';
	uint32_t folded_before = f->note->folded;
	struct extras x = {0};

	if (negated)
		i++;
	/* First what the class lists, so that it gains only what it lacks. */
	for (size_t j = i, first_member = 1; j < f->n && (re[j] != ']' || first_member);) {
		uint32_t lo, hi;
		size_t end, end2;
		first_member = 0;
		if (!class_cp(f, j, &lo, &end)) {
			j = class_other_end(re, f->n, j);
			continue;
		}
		if (end + 1 < f->n && re[end] == '-' && re[end + 1] != ']' &&
		    class_cp(f, end + 1, &hi, &end2) && hi >= lo) {
			ranges_add(&x.listed, lo, hi);
			j = end2;
			continue;
		}
		ranges_add(&x.listed, lo, lo);
		j = end;
	}
	/* A class of Latin letters and digits only is a word character. */
	bool word = !negated && x.listed.n > 0;
	for (size_t k = 0; k < x.listed.n; k++)
		word &= x.listed.r[k].hi < 0x80 && ascii_word(x.listed.r[k].lo) &&
			ascii_word(x.listed.r[k].hi);
	begin_atom(f, word);
	/* Lenient, for a warning: a class listing any wider character. */
	for (size_t k = 0; k < x.listed.n && !negated; k++)
		f->alt_anchored |= x.listed.r[k].hi >= 0x80;
	copy(f, f->i, i);
	bool first = true;
	while (i < f->n && (re[i] != ']' || first)) {
		uint32_t lo, hi;
		size_t end, end2;
		first = false;
		if (!class_cp(f, i, &lo, &end)) {
			end = class_other_end(re, f->n, i);
			if (end == i + 2 && re[i] == '\\' && re[i + 1] == 'd')
				widen_range(f, '0', '9', &x);
			copy(f, i, end);
			i = end;
			continue;
		}
		if (end + 1 < f->n && re[end] == '-' && re[end + 1] != ']' &&
		    class_cp(f, end + 1, &hi, &end2) && hi >= lo) {
			copy(f, i, end2);
			if (hi >= 0x80)
				fold_range(f, lo, hi, i, end2 - i, &x);
			if (lo >= '0' && hi <= '9')
				widen_range(f, lo, hi, &x);
			i = end2;
			continue;
		}
		widen_range(f, lo, lo, &x);
		if (lo < 0x80) {
			copy(f, i, end);
		} else if (negated) {
			copy(f, i, end);
			fold_range(f, lo, lo, i, end - i, &x);
		} else {
			uint8_t out[SLUICE_FOLD_MAX_BYTES + 4];
			bool kept;
			uint32_t n = fold_cp(f->t, lo, out, &kept);
			uint32_t k = 0;
			if (n > 0)
				sluice_utf8_decode(out, &k);
			if (kept) {
				copy(f, i, end);
			} else if (n > 0 && k == n) {
				note_fold(f->note, i, (uint32_t)(end - i), out, n);
				put_char(f, out, n);
			} else {
				/* Dropped, or several characters: kept as written
				 * (it can never match, and is reported). */
				copy(f, i, end);
				if (n == 0) {
					note_fold(f->note, i, (uint32_t)(end - i), out, 0);
				} else if (f->note->class_lost++ == 0) {
					f->note->class_lost_at = i;
					f->note->class_lost_len = (uint32_t)(end - i);
				}
			}
		}
		i = end;
	}
	for (size_t k = 0; k < x.gained.n; k++) {
		uint32_t cp = x.gained.r[k].lo;
		uint8_t u[4];
		if (!ranges_hold(&x.listed, cp))
			put_char(f, u, sluice_utf8_encode(cp, u));
	}
	if (x.gained.oom || x.listed.oom)
		f->sb.failed = true;
	free(x.gained.r);
	free(x.listed.r);
	if (negated && f->note->folded != folded_before)
		f->note->negated++;
	if (i < f->n)
		copy(f, i, i + 1);
	f->i = i < f->n ? i + 1 : f->n;
}

static void open_group(struct folder *f)
{
	if (f->depth < sizeof(f->group_before) / sizeof(f->group_before[0])) {
		f->group_before[f->depth] = f->atom_before;
		f->group_word[f->depth] = f->word_before;
	}
	f->depth++;
}

/* '|': the next alternative starts where its group did. */
static void alternative(struct folder *f)
{
	unsigned k = f->depth - 1;
	bool known = f->depth > 0 && k < sizeof(f->group_before) / sizeof(f->group_before[0]);
	f->atom_before = known ? f->group_before[k] : false;
	f->word_before = known ? f->group_word[k] : false;
}

/* "(?" and what follows it up to the group's body: flags and ':' or ')',
 * a lookaround's sign, a group's name. f->i is at '('. */
static void group_open(struct folder *f)
{
	const char *re = f->re;
	size_t i = f->i + 2;
	if (i < f->n && (re[i] == '=' || re[i] == '!'))
		i++;
	else if (i + 1 < f->n && re[i] == '<' && (re[i + 1] == '=' || re[i + 1] == '!'))
		i += 2;
	else if (i < f->n && (re[i] == '<' || re[i] == 'P' || re[i] == '\'')) {
		const char *close = strpbrk(re + i, ">'");
		i = close ? (size_t)(close - re) + 1 : f->n;
	} else {
		while (i < f->n && (isalpha((unsigned char)re[i]) || re[i] == '-' || re[i] == '^'))
			i++;
		if (i < f->n && (re[i] == ':' || re[i] == ')'))
			i++;
	}
	copy(f, f->i, i);
	f->i = i;
	open_group(f);
}

static int fold(struct folder *f, char **out)
{
	const char *re = f->re;

	memset(f->note, 0, sizeof(*f->note));
	sluice_strbuf_init(&f->sb);
	while (f->i < f->n) {
		uint8_t c = (uint8_t)re[f->i];
		size_t q;
		if (c == '\\') {
			escape(f);
		} else if (c == '[') {
			char_class(f);
		} else if (c == '(' && f->i + 2 < f->n && re[f->i + 1] == '?' &&
			   re[f->i + 2] == '#') {
			const char *close = memchr(re + f->i, ')', f->n - f->i);
			size_t end = close ? (size_t)(close - re) + 1 : f->n;
			copy(f, f->i, end);
			f->i = end;
		} else if (c == '(' && f->i + 1 < f->n && re[f->i + 1] == '?') {
			group_open(f);
		} else if (c == '(') {
			copy(f, f->i, f->i + 1);
			f->i++;
			open_group(f);
		} else if (c == '|') {
			if (f->depth == 0)
				end_alternative(f, f->i, f->i + 1);
			copy(f, f->i, f->i + 1);
			f->i++;
			alternative(f);
		} else if (c == '^' || c == '$') {
			copy(f, f->i, f->i + 1);
			f->i++;
			f->atom_before = false;
		} else if (c == ')') {
			copy(f, f->i, f->i + 1);
			f->i++;
			f->depth -= f->depth > 0;
			f->atom_before = true;
			f->word_before = false;
		} else if ((q = sluice_regex_quantifier_end(re, f->n, f->i)) > f->i) {
			/* a quantifier: the atom before it is still an atom */
			copy(f, f->i, q);
			f->i = q;
		} else if (c == '.') {
			begin_atom(f, false);
			copy(f, f->i, f->i + 1);
			f->i++;
		} else if (c < 0x80) {
			ascii_literal(f);
		} else {
			uint32_t len;
			size_t at = f->i;
			uint32_t cp = sluice_utf8_decode((const uint8_t *)re + at, &len);
			f->i += len;
			literal_char(f, cp, at, len);
		}
	}
	end_alternative(f, f->n, f->n);
	if (f->sb.failed) {
		sluice_strbuf_free(&f->sb);
		return -1;
	}
	if (f->sb.data == NULL) {
		f->sb.data = strdup("");
		if (f->sb.data == NULL)
			return -1;
	}
	*out = f->sb.data;
	return 0;
}

int sluice_fold_pattern(const struct sluice_fold_table *t, const char *re, char **out,
			struct sluice_fold_note *note)
{
	struct folder f = {.t = t, .re = re, .n = strlen(re), .note = note};
	return fold(&f, out);
}

int sluice_widen_pattern(const struct sluice_fold_table *t, const struct sluice_optin_data *d,
			 unsigned optin, const char *re, char **out, struct sluice_fold_note *note)
{
	struct folder f = {.t = t, .re = re, .n = strlen(re), .note = note, .d = d, .optin = optin};
	return fold(&f, out);
}

int sluice_widen_literal(const struct sluice_fold_table *t, const struct sluice_optin_data *d,
			 unsigned optin, const char *text, size_t len, char **out,
			 struct sluice_fold_note *note)
{
	struct folder f = {.t = t, .re = text, .n = len, .note = note, .d = d, .optin = optin};

	memset(note, 0, sizeof(*note));
	sluice_strbuf_init(&f.sb);
	while (f.i < f.n) {
		uint32_t clen;
		size_t at = f.i;
		uint32_t cp = sluice_utf8_decode((const uint8_t *)text + at, &clen);
		f.i += clen;
		if (cp < 0x80) {
			begin_atom(&f, ascii_word(cp));
			put_widened(&f, cp);
		} else {
			literal_char(&f, cp, at, clen);
		}
	}
	end_alternative(&f, f.n, f.n);
	if (f.sb.failed || f.sb.data == NULL) {
		sluice_strbuf_free(&f.sb);
		return -1;
	}
	*out = f.sb.data;
	return 0;
}
