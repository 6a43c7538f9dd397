#include "fold_scope.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "regex_analysis.h"
#include "utf8.h"

int sluice_fold_scope_init(struct sluice_fold_scope *s)
{
	*s = (struct sluice_fold_scope){0};
	s->seen = calloc(SLUICE_FOLD_CODE_POINTS / 64, sizeof(uint64_t));
	if (s->seen == NULL)
		return -1;
	/* Anchors and '.' without DOTALL see line ends. */
	s->seen['\n' / 64] |= 1ull << ('\n' % 64);
	return 0;
}

void sluice_fold_scope_free(struct sluice_fold_scope *s)
{
	free(s->seen);
	*s = (struct sluice_fold_scope){0};
}

bool sluice_fold_scope_sees(const struct sluice_fold_scope *s, uint32_t cp)
{
	return cp < SLUICE_FOLD_CODE_POINTS && (s->seen[cp / 64] >> (cp % 64) & 1);
}

static void see(struct sluice_fold_scope *s, uint32_t cp, bool caseless)
{
	if (cp >= SLUICE_FOLD_CODE_POINTS)
		return;
	s->seen[cp / 64] |= 1ull << (cp % 64);
	if (caseless && ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z'))
		s->seen[(cp ^ 0x20) / 64] |= 1ull << ((cp ^ 0x20) % 64);
}

static void see_range(struct sluice_fold_scope *s, uint32_t lo, uint32_t hi, bool caseless)
{
	for (uint32_t cp = lo; cp <= hi && cp < SLUICE_FOLD_CODE_POINTS; cp++)
		see(s, cp, caseless);
}

static void see_list(struct sluice_fold_scope *s, const uint32_t *cps, size_t n)
{
	for (size_t k = 0; k < n; k++)
		see(s, cps[k], false);
}

void sluice_fold_scope_word_edges(struct sluice_fold_scope *s)
{
	see_range(s, '0', '9', false);
	see_range(s, 'A', 'Z', false);
	see_range(s, 'a', 'z', false);
	see(s, '_', false);
}

/* Every white space character PCRE's \s, \h and \v may name, whatever the
 * mode: seeing more than a class holds is always safe. */
static void see_spaces(struct sluice_fold_scope *s)
{
	static const uint32_t unicode[] = {0x85,   0xa0,   0x1680, 0x180e, 0x2028,
					   0x2029, 0x202f, 0x205f, 0x3000};
	see_range(s, 0x09, 0x0d, false);
	see(s, ' ', false);
	see_range(s, 0x2000, 0x200a, false);
	see_list(s, unicode, sizeof(unicode) / sizeof(unicode[0]));
}

void sluice_fold_scope_literal(struct sluice_fold_scope *s, const char *text, size_t len,
			       bool caseless)
{
	const uint8_t *p = (const uint8_t *)text;
	for (size_t i = 0; i < len;) {
		size_t n = sluice_utf8_sequence_len(p + i, len - i);
		if (n == 0) {
			s->all = true;
			return;
		}
		uint32_t k;
		see(s, sluice_utf8_decode(p + i, &k), caseless);
		i += n;
	}
}

struct reader {
	struct sluice_fold_scope *s;
	const char *re;
	size_t i, n;
	bool caseless;
};

/* The code point at r->i, which it passes; NUL past the end. */
static uint32_t next_cp(struct reader *r)
{
	if (r->i >= r->n)
		return 0;
	const uint8_t *p = (const uint8_t *)r->re + r->i;
	size_t n = sluice_utf8_sequence_len(p, r->n - r->i);
	if (n == 0) {
		r->s->all = true;
		r->i++;
		return p[0];
	}
	uint32_t k;
	r->i += n;
	return sluice_utf8_decode(p, &k);
}

static uint32_t read_number(struct reader *r, int base, size_t max_digits)
{
	uint32_t v = 0;
	for (size_t k = 0; k < max_digits && r->i < r->n; k++) {
		int d = sluice_hex_digit((unsigned char)r->re[r->i]);
		if (d < 0 || d >= base)
			break;
		v = v * (uint32_t)base + (uint32_t)d;
		if (v >= SLUICE_FOLD_CODE_POINTS)
			v = SLUICE_FOLD_CODE_POINTS;
		r->i++;
	}
	return v;
}

/* \o{...} (r->i after the 'o'). */
static uint32_t read_octal_braced(struct reader *r)
{
	if (r->i >= r->n || r->re[r->i] != '{')
		return 0;
	r->i++;
	uint32_t v = read_number(r, 8, 8);
	if (r->i < r->n && r->re[r->i] == '}')
		r->i++;
	return v;
}

/* Reads the escape at r->i (a backslash). Returns true with *cp when it
 * names one character (a range may end there); else it has seen the
 * characters it names. */
static bool read_escape(struct reader *r, bool in_class, uint32_t *cp)
{
	struct sluice_fold_scope *s = r->s;
	r->i++;
	if (r->i >= r->n) {
		*cp = '\\';
		return true;
	}
	char e = r->re[r->i];
	if ((unsigned char)e >= 0x80) {
		*cp = next_cp(r);
		return true;
	}
	r->i++;
	switch (e) {
	case 'D':
	case 'W':
	case 'S':
	case 'H':
	case 'V':
	case 'N':
		/* Everything but a set: both sides of a mapping outside the
		 * set match alike when it replaces one character by one. */
		s->wild = true;
		/* fall through */
	case 'd':
	case 'w':
	case 's':
	case 'h':
	case 'v':
	case 'R':
		if (e == 'd' || e == 'D' || e == 'w' || e == 'W')
			see_range(s, '0', '9', false);
		if (e == 'w' || e == 'W') {
			see_range(s, 'A', 'Z', false);
			see_range(s, 'a', 'z', false);
			see(s, '_', false);
		}
		if (e == 's' || e == 'S' || e == 'h' || e == 'H' || e == 'v' || e == 'V' ||
		    e == 'R')
			see_spaces(s);
		return false;
	case 'b':
		if (in_class) {
			*cp = 0x08;
			return true;
		}
		/* fall through */
	case 'B':
		sluice_fold_scope_word_edges(s);
		return false;
	case 'A':
	case 'z':
	case 'Z':
	case 'G':
	case 'E':
		return false; /* '\n' is always seen */
	case 'n':
		*cp = '\n';
		return true;
	case 't':
		*cp = '\t';
		return true;
	case 'r':
		*cp = '\r';
		return true;
	case 'f':
		*cp = '\f';
		return true;
	case 'e':
		*cp = 0x1b;
		return true;
	case 'a':
		*cp = 0x07;
		return true;
	case 'c':
		*cp = r->i < r->n ? ((unsigned char)r->re[r->i++] & 0x1f) : 0;
		return true;
	case 'x': {
		size_t end;
		if (!sluice_regex_hex_escape(r->re, r->n, r->i - 2, cp, &end)) {
			s->all = true; /* Hyperscan's to refuse */
			return false;
		}
		r->i = end;
		return true;
	}
	case 'o':
		*cp = read_octal_braced(r);
		return true;
	case '0':
		*cp = read_number(r, 8, 2);
		return true;
	default:
		if ((e >= '1' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
			/* \p, \X, \C, a backreference, ...: not modelled */
			s->all = true;
			return false;
		}
		*cp = (unsigned char)e;
		return true;
	}
}

/* \Q...\E (r->i after \Q): every character as written. */
static void read_quoted(struct reader *r)
{
	while (r->i < r->n) {
		if (r->re[r->i] == '\\' && r->i + 1 < r->n && r->re[r->i + 1] == 'E') {
			r->i += 2;
			return;
		}
		see(r->s, next_cp(r), r->caseless);
	}
}

/* A class (r->i at '['): its members, its ranges whole; a negated one is a
 * wildcard. POSIX classes name ASCII characters only: all of ASCII is seen. */
static void read_class(struct reader *r)
{
	r->i++;
	if (r->i < r->n && r->re[r->i] == '^') {
		r->s->wild = true;
		r->i++;
	}
	bool first = true;
	while (r->i < r->n && (r->re[r->i] != ']' || first)) {
		first = false;
		if (r->re[r->i] == '[' && r->i + 1 < r->n && r->re[r->i + 1] == ':') {
			const char *end = strstr(r->re + r->i + 2, ":]");
			if (r->i + 2 < r->n && r->re[r->i + 2] == '^')
				r->s->wild = true;
			see_range(r->s, 0, 0x7f, false);
			r->i = end != NULL ? (size_t)(end - r->re) + 2 : r->n;
			continue;
		}
		uint32_t lo;
		if (r->re[r->i] == '\\') {
			if (r->i + 1 < r->n && r->re[r->i + 1] == 'Q') {
				r->i += 2;
				read_quoted(r);
				continue;
			}
			if (!read_escape(r, true, &lo))
				continue;
		} else {
			lo = next_cp(r);
		}
		see(r->s, lo, r->caseless);
		if (r->i + 1 < r->n && r->re[r->i] == '-' && r->re[r->i + 1] != ']') {
			uint32_t hi;
			r->i++;
			see(r->s, '-', false);
			if (r->re[r->i] == '\\') {
				if (!read_escape(r, true, &hi))
					continue; /* [a-\d]: '-' is itself */
			} else {
				hi = next_cp(r);
			}
			if (hi >= lo)
				see_range(r->s, lo, hi, r->caseless);
			see(r->s, hi, r->caseless);
		}
	}
	if (r->i < r->n)
		r->i++;
}

/* Whether the expression turns caseless matching on inline: a group of
 * options, (?i) or (?s-i:...), with an 'i' (turning it off is counted too:
 * seeing more is safe). */
static bool inline_caseless(const char *re)
{
	for (const char *p = strstr(re, "(?"); p != NULL; p = strstr(p + 2, "(?")) {
		for (const char *q = p + 2; (*q >= 'a' && *q <= 'z') || *q == '-' || *q == '^'; q++)
			if (*q == 'i')
				return true;
	}
	return false;
}

/* Syntax is not seen: a pack whose patterns count repeats ({0,2}) need not
 * fold every full-width comma. What is not taken for syntax here is seen,
 * which is safe. */

/* A group's opening (r->i at '('): ( (?: (?= (?! (?<= (?<! (?> (?| (?i)
 * (?i: (?<name> (?P<name> (?'name', and a comment (?#...) whole. */
static void skip_group_head(struct reader *r)
{
	const char *re = r->re;
	r->i++;
	if (r->i >= r->n || re[r->i] != '?')
		return;
	r->i++;
	if (r->i < r->n && re[r->i] == '#') {
		const char *end = strchr(re + r->i, ')');
		r->i = end != NULL ? (size_t)(end - re) + 1 : r->n;
		return;
	}
	if (r->i < r->n && (re[r->i] == '<' || re[r->i] == 'P' || re[r->i] == '\'')) {
		if (re[r->i] == '<' && r->i + 1 < r->n &&
		    (re[r->i + 1] == '=' || re[r->i + 1] == '!')) {
			r->i += 2; /* a lookbehind: its text follows */
			return;
		}
		if (re[r->i] == 'P')
			r->i++;
		char close = re[r->i] == '\'' ? '\'' : '>';
		const char *end = strchr(re + r->i + 1, close);
		r->i = end != NULL ? (size_t)(end - re) + 1 : r->n;
		return;
	}
	while (r->i < r->n &&
	       ((re[r->i] >= 'a' && re[r->i] <= 'z') || re[r->i] == '-' || re[r->i] == '^'))
		r->i++;
	if (r->i < r->n && strchr(":)=!>|", re[r->i]) != NULL)
		r->i++;
}

void sluice_fold_scope_regex(struct sluice_fold_scope *s, const char *re, bool caseless)
{
	struct reader r = {
	    .s = s, .re = re, .n = strlen(re), .caseless = caseless || inline_caseless(re)};
	while (r.i < r.n) {
		char c = re[r.i];
		uint32_t cp;
		size_t q;
		if (c == '[') {
			read_class(&r);
		} else if (c == '\\') {
			if (r.i + 1 < r.n && re[r.i + 1] == 'Q') {
				r.i += 2;
				read_quoted(&r);
			} else if (read_escape(&r, false, &cp)) {
				see(s, cp, r.caseless);
			}
		} else if (c == '.') {
			s->wild = true;
			r.i++;
		} else if (c == '(') {
			skip_group_head(&r);
		} else if ((q = sluice_regex_quantifier_end(re, r.n, r.i)) > r.i) {
			r.i = q;
		} else if (strchr(")|^$", c) != NULL) {
			r.i++;
		} else {
			see(s, next_cp(&r), r.caseless);
		}
	}
}

/* The table's mapping of cp: its bytes in *to, its length (0: dropped);
 * -1 when cp is kept. */
static int mapping_of(const struct sluice_fold_table *t, uint32_t cp, const uint8_t **to)
{
	uint32_t e = sluice_fold_entry_of(t, cp);
	if (e == 0)
		return -1;
	*to = t->bytes + t->entry[e].off;
	return t->entry[e].len;
}

/* Whether the replacement sees anything, and how many characters it has. */
static bool replacement_seen(const struct sluice_fold_scope *s, const uint8_t *to, int len,
			     uint32_t *chars)
{
	bool seen = false;
	*chars = 0;
	for (int i = 0; i < len;) {
		uint32_t n;
		seen |= sluice_fold_scope_sees(s, sluice_utf8_decode(to + i, &n));
		i += (int)n;
		(*chars)++;
	}
	return seen;
}

/* What a seen character folds to is seen too: a rule's characters are folded
 * already, and another case of one folds to it. */
static void close_under(struct sluice_fold_scope *s, const struct sluice_fold_table *t)
{
	for (uint32_t w = 0; w < SLUICE_FOLD_CODE_POINTS / 64; w++) {
		for (uint64_t bits = s->seen[w]; bits != 0; bits &= bits - 1) {
			uint32_t cp = w * 64 + (uint32_t)__builtin_ctzll(bits);
			const uint8_t *to;
			int len = mapping_of(t, cp, &to);
			for (int i = 0; i < len;) {
				uint32_t n;
				see(s, sluice_utf8_decode(to + i, &n), false);
				i += (int)n;
			}
		}
	}
}

struct sluice_fold_table *sluice_fold_table_scoped(const struct sluice_fold_table *t,
						   struct sluice_fold_scope *s)
{
	struct sluice_fold_table *out = calloc(1, sizeof(*out));
	if (out == NULL || sluice_fold_table_init(out) != 0) {
		free(out);
		return NULL;
	}
	close_under(s, t);
	for (uint32_t cp = 0x80; cp < SLUICE_FOLD_CODE_POINTS; cp++) {
		if (t->block[cp >> 8] == 0) {
			cp |= 0xff; /* a block that keeps all its code points */
			continue;
		}
		const uint8_t *to;
		int len = mapping_of(t, cp, &to);
		uint32_t chars = 1;
		if (len < 0)
			continue;
		bool keep = s->all || len == 0 || sluice_fold_scope_sees(s, cp) ||
			    replacement_seen(s, to, len, &chars) || (s->wild && chars != 1);
		if (keep && sluice_fold_table_set(out, cp, to, (uint32_t)len) < 0)
			goto fail;
	}
	memcpy(out->versions, t->versions, sizeof(out->versions));
	if (sluice_fold_table_compact(out) != 0)
		goto fail;
	return out;
fail:
	sluice_fold_table_free(out);
	free(out);
	return NULL;
}
