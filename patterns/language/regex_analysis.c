#include "regex_analysis.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

#define W  SLUICE_EDGE_WORD
#define NW SLUICE_EDGE_NONWORD

/* ---- syntax shared with the readers of patterns elsewhere ---- */

bool sluice_regex_hex_escape(const char *re, size_t n, size_t i, uint32_t *cp, size_t *end)
{
	size_t j = i + 2;
	uint32_t v = 0;
	if (j < n && re[j] == '{') {
		size_t k = j + 1;
		while (k < n && sluice_hex_digit(re[k]) >= 0 && k - j <= 6)
			v = v * 16 + (uint32_t)sluice_hex_digit(re[k++]);
		if (k == j + 1 || k >= n || re[k] != '}' || v >= 0x110000u ||
		    (v >= 0xd800 && v <= 0xdfff))
			return false;
		*cp = v;
		*end = k + 1;
		return true;
	}
	int a = j < n ? sluice_hex_digit(re[j]) : -1,
	    b = j + 1 < n ? sluice_hex_digit(re[j + 1]) : -1;
	if (a < 0)
		return false;
	*cp = b < 0 ? (uint32_t)a : (uint32_t)(a * 16 + b);
	*end = b < 0 ? j + 1 : j + 2;
	return true;
}

size_t sluice_regex_quantifier_end(const char *re, size_t n, size_t i)
{
	size_t j = i;
	if (j < n && (re[j] == '*' || re[j] == '+' || re[j] == '?')) {
		j++;
	} else if (j < n && re[j] == '{') {
		size_t k = j + 1;
		while (k < n && (re[k] >= '0' && re[k] <= '9'))
			k++;
		if (k == j + 1)
			return i;
		if (k < n && re[k] == ',') {
			k++;
			while (k < n && (re[k] >= '0' && re[k] <= '9'))
				k++;
		}
		if (k >= n || re[k] != '}')
			return i;
		j = k + 1;
	} else {
		return i;
	}
	if (j < n && (re[j] == '?' || re[j] == '+'))
		j++;
	return j;
}

/* ---- unsupported constructs ---- */

static bool set_issue(struct sluice_regex_issue *out, size_t at, size_t len, const char *code,
		      const char *what, const char *advice)
{
	*out = (struct sluice_regex_issue){
	    .at = at, .len = len, .code = code, .what = what, .advice = advice};
	return true;
}

/* Skips a character class starting at re[i] == '['; returns the index after
 * its closing ']' (or the end of the pattern). */
static size_t skip_class(const char *re, size_t i)
{
	size_t n = strlen(re);

	i++;
	if (i < n && re[i] == '^')
		i++;
	if (i < n && re[i] == ']') /* a leading ']' is a member */
		i++;
	while (i < n && re[i] != ']') {
		if (re[i] == '\\' && i + 1 < n) {
			i += 2;
			continue;
		}
		if (re[i] == '[' && i + 1 < n && re[i + 1] == ':') {
			const char *end = strstr(re + i + 2, ":]");
			if (end) {
				i = (size_t)(end - re) + 2;
				continue;
			}
		}
		i++;
	}
	return i < n ? i + 1 : n;
}

/* The index after the escape at re[i], or after the whole of a \Q...\E
 * quoted section. */
static size_t skip_escape(const char *re, size_t n, size_t i)
{
	const char *end;

	if (re[i + 1] != 'Q')
		return i + 2;
	end = strstr(re + i + 2, "\\E");
	return end ? (size_t)(end - re) + 2 : n;
}

static bool is_quant_start(char c)
{
	return c == '*' || c == '+' || c == '?' || c == '{';
}

/* Length of a {n}, {n,}, {n,m} quantifier at re[i], or 0 if '{' is literal
 * there (Hyperscan, like PCRE, reads a '{' that starts no valid bound as a
 * plain character). Fills the bounds; max is -1 for no upper bound. */
static size_t parse_bound(const char *re, size_t i, long *min, long *max)
{
	size_t j = i + 1;
	long a = 0, b;
	bool digits = false;

	while (re[j] >= '0' && re[j] <= '9') {
		if (a < 1000000)
			a = a * 10 + (re[j] - '0');
		j++;
		digits = true;
	}
	if (!digits)
		return 0;
	if (re[j] == '}') {
		*min = *max = a;
		return j - i + 1;
	}
	if (re[j] != ',')
		return 0;
	j++;
	if (re[j] == '}') {
		*min = a;
		*max = -1;
		return j - i + 1;
	}
	b = 0;
	digits = false;
	while (re[j] >= '0' && re[j] <= '9') {
		if (b < 1000000)
			b = b * 10 + (re[j] - '0');
		j++;
		digits = true;
	}
	if (!digits || re[j] != '}')
		return 0;
	*min = a;
	*max = b;
	return j - i + 1;
}

bool sluice_regex_find_unsupported(const char *re, struct sluice_regex_issue *out)
{
	size_t n = strlen(re);
	bool atom = false; /* something a quantifier can apply to precedes */

	for (size_t i = 0; i < n;) {
		char c = re[i];

		if (c == '[') {
			i = skip_class(re, i);
			atom = true;
			continue;
		}
		if (c == '\\' && i + 1 < n) {
			char e = re[i + 1];
			if (e == 'Q') {
				i = skip_escape(re, n, i);
				atom = true;
				continue;
			}
			if (e >= '1' && e <= '9')
				return set_issue(out, i, 2, "unsupported", "a backreference",
						 "Hyperscan cannot match text repeated from an "
						 "earlier group; write the alternatives out, or "
						 "use two rules and a combination");
			if (e == 'g' || e == 'k')
				return set_issue(out, i, 3, "unsupported", "a backreference",
						 "Hyperscan cannot match text repeated from an "
						 "earlier group; write the alternatives out, or "
						 "use two rules and a combination");
			if (e == 'C')
				return set_issue(out, i, 2, "unsupported", "\\C (a single byte)",
						 "in UTF-8 mode a match is made of whole "
						 "characters; use '.' instead");
			i += 2;
			atom = true;
			continue;
		}
		if (c == '(' && i + 1 < n && re[i + 1] == '?') {
			const char *p = re + i + 2;
			if (strncmp(p, "<=", 2) == 0 || strncmp(p, "<!", 2) == 0)
				return set_issue(out, i, 4, "unsupported", "a lookbehind",
						 "Hyperscan has no lookaround; to keep a match "
						 "from counting after some text, add an allow "
						 "rule for the longer phrase, or use a "
						 "combination with 'and not'");
			if (*p == '=' || *p == '!')
				return set_issue(out, i, 3, "unsupported", "a lookahead",
						 "Hyperscan has no lookaround; to keep a match "
						 "from counting before some text, add an allow "
						 "rule for the longer phrase, or use a "
						 "combination with 'and not'");
			if (*p == '>')
				return set_issue(out, i, 3, "unsupported", "an atomic group",
						 "write the group as a plain (?:...) group");
			if (*p == '(')
				return set_issue(out, i, 3, "unsupported", "a conditional group",
						 "split the alternatives into separate rules or "
						 "a plain alternation");
			if (*p == 'R' || (*p >= '0' && *p <= '9') || *p == '&' ||
			    (p[0] == 'P' && p[1] == '>'))
				return set_issue(out, i, 3, "unsupported", "a recursive pattern",
						 "write the nesting out to the depth you need");
			if (p[0] == 'P' && p[1] == '=')
				return set_issue(out, i, 4, "unsupported", "a backreference",
						 "Hyperscan cannot match text repeated from an "
						 "earlier group; write the alternatives out");
			if (*p == 'C')
				return set_issue(out, i, 3, "unsupported", "a callout",
						 "remove it");
			if (*p == '#') {
				const char *end = strchr(p, ')');
				i = end ? (size_t)(end - re) + 1 : n;
				continue;
			}
			i += 2;
			atom = false;
			continue;
		}
		if (c == '(' || c == '|') {
			i++;
			atom = false;
			continue;
		}
		if (is_quant_start(c) && atom) {
			size_t ql = 1;
			long lo, hi;
			if (c == '{') {
				ql = parse_bound(re, i, &lo, &hi);
				if (ql == 0) {
					i++;
					continue;
				}
			}
			if (re[i + ql] == '+')
				return set_issue(out, i, ql + 1, "unsupported",
						 "a possessive quantifier",
						 "drop the trailing '+': Hyperscan reports every "
						 "match anyway, so the plain quantifier means the "
						 "same here");
			i += ql;
			if (re[i] == '?')
				i++;
			atom = false;
			continue;
		}
		i++;
		atom = c != '^' && c != '$';
	}
	return false;
}

/* ---- slow constructs ---- */

static bool unbounded_dot_at(const char *re, size_t i, size_t *len)
{
	long lo, hi;

	if (re[i] != '.')
		return false;
	if (re[i + 1] == '*' || re[i + 1] == '+') {
		*len = 2 + (re[i + 2] == '?');
		return true;
	}
	if (re[i + 1] == '{') {
		size_t ql = parse_bound(re, i + 1, &lo, &hi);
		if (ql && hi < 0) {
			*len = 1 + ql + (re[i + 1 + ql] == '?');
			return true;
		}
	}
	return false;
}

/* What one pass over a pattern finds: large bounded repeats, as it meets
 * them, and how many alternatives there are and where. */
struct slow_scan {
	struct sluice_regex_issue *out;
	size_t max, found;
	size_t alternatives, first_bar;
	int depth;
	bool top_alternation;  /* a '|' outside every group */
	unsigned long largest; /* the largest finite bound of a counted repeat */
};

/* A bounded repeat at re[i], if '{' starts one there: reports it when its
 * bound is large. Returns its length, or 0 when the '{' is a plain one. */
static size_t bounded_repeat(const char *re, size_t i, struct slow_scan *s)
{
	long lo, hi;
	size_t ql = parse_bound(re, i, &lo, &hi);

	if (ql && (unsigned long)(hi > lo ? hi : lo) > s->largest)
		s->largest = (unsigned long)(hi > lo ? hi : lo);
	if (ql && (lo > SLUICE_REGEX_SLOW_REPEAT || hi > SLUICE_REGEX_SLOW_REPEAT) &&
	    s->found < s->max) {
		s->out[s->found++] = (struct sluice_regex_issue){
		    .at = i,
		    .len = ql,
		    .code = "slow-repeat",
		    .what = "a large bounded repeat",
		    .advice = "Hyperscan tracks every count of a bounded repeat, so large bounds "
			      "make the database big, slow to compile and slow to scan (more so "
			      "when it also reports where a match starts); match a shorter "
			      "distinctive part, or use a smaller bound",
		    .count = (unsigned long)(hi > lo ? hi : lo)};
	}
	return ql;
}

/* An opening parenthesis at re[i]; returns the index after it (after the
 * whole of a (?#...) comment). */
static size_t open_group(const char *re, size_t n, size_t i, struct slow_scan *s)
{
	s->depth++;
	i++;
	if (re[i] != '?')
		return i;
	if (re[i + 1] == '#') {
		const char *end = strchr(re + i, ')');
		s->depth--;
		return end ? (size_t)(end - re) + 1 : n;
	}
	return i + 1;
}

static void scan_slow(const char *re, struct slow_scan *s)
{
	size_t n = strlen(re);
	bool atom = false;

	for (size_t i = 0; i < n;) {
		char c = re[i];

		if (c == '[') {
			i = skip_class(re, i);
			atom = true;
		} else if (c == '\\' && i + 1 < n) {
			i = skip_escape(re, n, i);
			atom = true;
		} else if (c == '(') {
			i = open_group(re, n, i, s);
			atom = false;
		} else if (c == ')') {
			s->depth--;
			i++;
			atom = true;
		} else if (c == '|') {
			if (!s->alternatives || s->alternatives == 1)
				s->first_bar = i;
			s->alternatives++;
			if (s->depth == 0)
				s->top_alternation = true;
			i++;
			atom = false;
		} else {
			size_t ql = c == '{' && atom ? bounded_repeat(re, i, s) : 0;
			i += ql ? ql : 1;
			atom = !ql && c != '^' && c != '$' && c != '*' && c != '+' && c != '?';
		}
	}
}

/* An unbounded '.' repeat at either end of the whole pattern changes no
 * verdict (a match is found either way) but stretches the match, and so the
 * mask and the event, to the start or end of the message, and makes
 * Hyperscan track match starts over the whole message. */
static bool dot_star_at_ends(const char *re, struct sluice_regex_issue *out)
{
	size_t n = strlen(re), lead = 0, len = 0, trail_len = 0, trail_at = 0;
	bool has_lead, has_trail = false;

	if (re[lead] == '^')
		lead++;
	has_lead = unbounded_dot_at(re, lead, &len);
	/* ".*", ".*?", ".+", ".{n,}" as the last thing, before an optional
	 * final '$'. */
	size_t end = n >= 1 && re[n - 1] == '$' && (n < 2 || re[n - 2] != '\\') ? n - 1 : n;
	for (size_t k = 2; k <= 12 && k <= end; k++) {
		size_t at = end - k, l;
		if (at > lead && (at == 0 || re[at - 1] != '\\') && unbounded_dot_at(re, at, &l) &&
		    at + l == end) {
			has_trail = true;
			trail_at = at;
			trail_len = l;
			break;
		}
	}
	if (!has_lead && !has_trail)
		return false;
	*out = (struct sluice_regex_issue){
	    .at = has_lead ? lead : trail_at,
	    .len = has_lead ? len : trail_len,
	    .code = "dot-star",
	    .what = has_lead && has_trail ? "'.*' at both ends"
		    : has_lead		  ? "'.*' at the start"
					  : "'.*' at the end",
	    .advice = "it changes no verdict but makes the match, and so the mask and the event, "
		      "run to the start or end of the message, and makes Hyperscan track where "
		      "matches start across the whole message; remove it",
	    .count = (has_lead && has_trail) ? 2 : 1};
	return true;
}

static struct sluice_regex_issue many_alternatives(const struct slow_scan *s)
{
	return (struct sluice_regex_issue){
	    .at = s->first_bar,
	    .len = 1,
	    .code = "many-alternatives",
	    .what = "many alternatives in one pattern",
	    .advice = "a long list of words in one regular expression is slow to compile and "
		      "hard to review; put plain words in a list file ('list:'), which is "
		      "compiled with the much faster literal matcher, or split the rule",
	    .count = s->alternatives};
}

unsigned long sluice_regex_largest_repeat(const char *re)
{
	struct slow_scan s = {0};
	scan_slow(re, &s);
	return s.largest;
}

size_t sluice_regex_find_slow(const char *re, struct sluice_regex_issue *out, size_t max)
{
	struct slow_scan s = {.out = out, .max = max, .alternatives = 1};

	scan_slow(re, &s);
	/* With a '|' outside every group, neither end of the pattern is an
	 * end of every match. */
	if (!s.top_alternation && s.found < max && dot_star_at_ends(re, &out[s.found]))
		s.found++;
	if (s.alternatives > SLUICE_REGEX_MANY_ALTERNATIVES && s.found < max)
		out[s.found++] = many_alternatives(&s);
	return s.found;
}

/* ---- first and last characters ---- */

struct edge_node {
	bool nullable;
	unsigned first, last;
};

struct edge_parser {
	const char *re;
	size_t i, n;
	bool unknown;
};

static unsigned class_of_cp(uint32_t cp)
{
	return cp < 0x80 && sluice_ascii_word((unsigned char)cp) ? W : NW;
}

static unsigned range_class(uint32_t lo, uint32_t hi)
{
	unsigned k = 0;

	if (lo > hi)
		return 0;
	for (uint32_t c = lo; c <= hi && c < 0x80; c++)
		k |= class_of_cp(c);
	if (hi >= 0x80)
		k |= NW;
	return k;
}

/* Decodes one UTF-8 character (the pattern is valid UTF-8). */
static uint32_t next_cp(struct edge_parser *p)
{
	const unsigned char *s = (const unsigned char *)p->re + p->i;
	uint32_t cp = s[0];
	size_t len = 1;

	if (cp >= 0xf0) {
		cp &= 0x07;
		len = 4;
	} else if (cp >= 0xe0) {
		cp &= 0x0f;
		len = 3;
	} else if (cp >= 0xc0) {
		cp &= 0x1f;
		len = 2;
	}
	for (size_t k = 1; k < len && p->i + k < p->n; k++)
		cp = (cp << 6) | (s[k] & 0x3f);
	p->i += len;
	return cp;
}

/* Reads an escape after '\' (p->i at the backslash). Returns the character
 * class bits, and *cp / *single when it is one character (for ranges). */
static unsigned read_escape(struct edge_parser *p, uint32_t *cp, bool *single, bool *zero_width)
{
	char e = p->i + 1 < p->n ? p->re[p->i + 1] : '\\';

	*single = false;
	*zero_width = false;
	p->i += 2;
	switch (e) {
	case 'd':
	case 'w':
		return W;
	case 's':
	case 'W':
	case 'h':
	case 'v':
	case 'R':
		return NW;
	case 'D':
	case 'S':
	case 'H':
	case 'V':
	case 'N':
	case 'X':
		return W | NW;
	case 'b':
	case 'B':
	case 'A':
	case 'z':
	case 'Z':
	case 'G':
		*zero_width = true;
		return 0;
	case 'n':
	case 't':
	case 'r':
	case 'f':
	case 'e':
	case 'a':
		*single = true;
		*cp = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : 0;
		return NW;
	case 'x': {
		uint32_t v = 0;
		if (p->i < p->n && p->re[p->i] == '{') {
			p->i++;
			while (p->i < p->n && sluice_hex_digit(p->re[p->i]) >= 0)
				v = v * 16 + (uint32_t)sluice_hex_digit(p->re[p->i++]);
			if (p->i < p->n && p->re[p->i] == '}')
				p->i++;
		} else {
			for (int k = 0; k < 2 && p->i < p->n && sluice_hex_digit(p->re[p->i]) >= 0;
			     k++)
				v = v * 16 + (uint32_t)sluice_hex_digit(p->re[p->i++]);
		}
		*single = true;
		*cp = v;
		return class_of_cp(v);
	}
	case 'p':
	case 'P': {
		/* Scripts without ASCII letters are all non-word for \b;
		 * anything else may be either. */
		size_t start = p->i;
		if (p->i < p->n && p->re[p->i] == '{') {
			const char *end = strchr(p->re + p->i, '}');
			p->i = end ? (size_t)(end - p->re) + 1 : p->n;
		} else {
			p->i++;
		}
		if (e == 'p') {
			static const char *const scripts[] = {
			    "{Han}",	  "{Hiragana}", "{Katakana}", "{Hangul}",
			    "{Cyrillic}", "{Greek}",	"{Arabic}",   "{Thai}"};
			for (size_t k = 0; k < sizeof(scripts) / sizeof(scripts[0]); k++) {
				size_t l = strlen(scripts[k]);
				if (p->i - start == l && strncmp(p->re + start, scripts[k], l) == 0)
					return NW;
			}
		}
		return W | NW;
	}
	case 'Q':
		/* \Q...\E is handled by the caller. */
		return W | NW;
	default:
		if (e >= '0' && e <= '9') {
			if (e == '0') {
				*single = true;
				*cp = 0;
				return NW;
			}
			p->unknown = true; /* backreference */
			return W | NW;
		}
		if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z')) {
			p->unknown = true;
			return W | NW;
		}
		*single = true;
		*cp = (unsigned char)e;
		if ((unsigned char)e >= 0x80) {
			p->i -= 1;
			*cp = next_cp(p);
		}
		return class_of_cp(*cp);
	}
}

static unsigned read_class(struct edge_parser *p)
{
	bool negated = false;
	unsigned k = 0;
	bool first = true;

	p->i++; /* '[' */
	if (p->i < p->n && p->re[p->i] == '^') {
		negated = true;
		p->i++;
	}
	while (p->i < p->n && (p->re[p->i] != ']' || first)) {
		uint32_t lo = 0;
		bool single = false, zw;
		unsigned bits;

		first = false;
		if (p->re[p->i] == '[' && p->i + 1 < p->n && p->re[p->i + 1] == ':') {
			const char *end = strstr(p->re + p->i, ":]");
			size_t len = end ? (size_t)(end - (p->re + p->i)) + 2 : p->n - p->i;
			bool alpha = strncmp(p->re + p->i, "[:alpha:]", 9) == 0 ||
				     strncmp(p->re + p->i, "[:digit:]", 9) == 0 ||
				     strncmp(p->re + p->i, "[:alnum:]", 9) == 0 ||
				     strncmp(p->re + p->i, "[:upper:]", 9) == 0 ||
				     strncmp(p->re + p->i, "[:lower:]", 9) == 0 ||
				     strncmp(p->re + p->i, "[:word:]", 8) == 0;
			bool non = strncmp(p->re + p->i, "[:space:]", 9) == 0 ||
				   strncmp(p->re + p->i, "[:punct:]", 9) == 0 ||
				   strncmp(p->re + p->i, "[:blank:]", 9) == 0 ||
				   strncmp(p->re + p->i, "[:cntrl:]", 9) == 0;
			k |= alpha ? W : non ? NW : (W | NW);
			p->i += len;
			continue;
		}
		if (p->re[p->i] == '\\') {
			bits = read_escape(p, &lo, &single, &zw);
			if (zw) /* \b in a class is a backspace */
				bits = NW;
		} else {
			lo = next_cp(p);
			single = true;
			bits = class_of_cp(lo);
		}
		if (single && p->i + 1 < p->n && p->re[p->i] == '-' && p->re[p->i + 1] != ']') {
			uint32_t hi;
			bool s2;
			p->i++;
			if (p->re[p->i] == '\\') {
				unsigned b2 = read_escape(p, &hi, &s2, &zw);
				if (!s2) {
					k |= bits | b2 | NW; /* '-' itself */
					continue;
				}
			} else {
				hi = next_cp(p);
			}
			k |= range_class(lo, hi);
			continue;
		}
		k |= bits;
	}
	if (p->i < p->n)
		p->i++; /* ']' */
	else
		p->unknown = true;
	return negated ? (W | NW) : k;
}

static struct edge_node parse_alt(struct edge_parser *p);

static struct edge_node seq_append(struct edge_node a, struct edge_node b)
{
	struct edge_node r;

	r.first = a.first | (a.nullable ? b.first : 0);
	r.last = b.last | (b.nullable ? a.last : 0);
	r.nullable = a.nullable && b.nullable;
	return r;
}

/* One atom with its quantifier. */
static bool parse_atom(struct edge_parser *p, struct edge_node *out)
{
	char c = p->re[p->i];
	struct edge_node a = {.nullable = false, .first = 0, .last = 0};

	if (c == '|' || c == ')')
		return false;
	if (c == '(') {
		p->i++;
		if (p->re[p->i] == '?') {
			p->i++;
			char k = p->re[p->i];
			if (k == '#') {
				const char *end = strchr(p->re + p->i, ')');
				p->i = end ? (size_t)(end - p->re) + 1 : p->n;
				*out = (struct edge_node){.nullable = true};
				return true;
			}
			if (k == ':') {
				p->i++;
			} else if (k == '<' || k == 'P' || k == '\'') {
				/* named group: skip the name */
				const char *end = strpbrk(p->re + p->i, ">'");
				if (!end) {
					p->unknown = true;
					p->i = p->n;
					return false;
				}
				p->i = (size_t)(end - p->re) + 1;
			} else {
				/* inline options: (?i) or (?i:...) */
				while (p->i < p->n && strchr("imsx-", p->re[p->i]))
					p->i++;
				if (p->re[p->i] == ')') {
					p->i++;
					*out = (struct edge_node){.nullable = true};
					return true;
				}
				if (p->re[p->i] != ':') {
					p->unknown = true;
					p->i = p->n;
					return false;
				}
				p->i++;
			}
		}
		a = parse_alt(p);
		if (p->i < p->n && p->re[p->i] == ')')
			p->i++;
		else
			p->unknown = true;
	} else if (c == '[') {
		unsigned k = read_class(p);
		a.first = a.last = k;
	} else if (c == '\\') {
		if (p->i + 1 < p->n && p->re[p->i + 1] == 'Q') {
			const char *end = strstr(p->re + p->i + 2, "\\E");
			size_t stop = end ? (size_t)(end - p->re) : p->n;
			p->i += 2;
			struct edge_node seq = {.nullable = true};
			while (p->i < stop) {
				uint32_t cp = next_cp(p);
				struct edge_node ch = {.first = class_of_cp(cp),
						       .last = class_of_cp(cp)};
				seq = seq_append(seq, ch);
			}
			p->i = end ? stop + 2 : p->n;
			*out = seq;
			return true;
		}
		uint32_t cp;
		bool single, zw;
		unsigned k = read_escape(p, &cp, &single, &zw);
		if (zw) {
			*out = (struct edge_node){.nullable = true};
			return true;
		}
		a.first = a.last = k;
	} else if (c == '^' || c == '$') {
		p->i++;
		*out = (struct edge_node){.nullable = true};
		return true;
	} else if (c == '.') {
		p->i++;
		a.first = a.last = W | NW;
	} else {
		uint32_t cp = next_cp(p);
		a.first = a.last = class_of_cp(cp);
	}

	/* quantifier */
	for (;;) {
		char q = p->i < p->n ? p->re[p->i] : '\0';
		long lo = 1, hi;
		if (q == '*' || q == '?') {
			a.nullable = true;
			p->i++;
		} else if (q == '+') {
			p->i++;
		} else if (q == '{') {
			size_t ql = parse_bound(p->re, p->i, &lo, &hi);
			if (!ql)
				break;
			if (lo == 0)
				a.nullable = true;
			if (hi == 0)
				a = (struct edge_node){.nullable = true};
			p->i += ql;
		} else {
			break;
		}
		if (p->i < p->n && (p->re[p->i] == '?' || p->re[p->i] == '+'))
			p->i++;
	}
	*out = a;
	return true;
}

static struct edge_node parse_seq(struct edge_parser *p)
{
	struct edge_node seq = {.nullable = true};
	struct edge_node a;

	while (p->i < p->n && parse_atom(p, &a))
		seq = seq_append(seq, a);
	return seq;
}

static struct edge_node parse_alt(struct edge_parser *p)
{
	struct edge_node r = parse_seq(p);

	while (p->i < p->n && p->re[p->i] == '|') {
		p->i++;
		struct edge_node b = parse_seq(p);
		r.first |= b.first;
		r.last |= b.last;
		r.nullable = r.nullable || b.nullable;
	}
	return r;
}

bool sluice_regex_edges(const char *re, unsigned *first, unsigned *last)
{
	struct edge_parser p = {.re = re, .n = strlen(re)};
	struct edge_node r = parse_alt(&p);

	if (p.i < p.n)
		p.unknown = true; /* an unbalanced ')' */
	if (p.unknown) {
		*first = *last = W | NW;
		return false;
	}
	*first = r.first;
	*last = r.last;
	return true;
}

bool sluice_regex_anchored(const char *re)
{
	size_t n = strlen(re);

	for (size_t i = 0; i < n;) {
		char c = re[i];
		if (c == '^' || c == '$')
			return true;
		if (c == '[') {
			i = skip_class(re, i);
			continue;
		}
		if (c != '\\') {
			i++;
			continue;
		}
		if (i + 1 >= n)
			return true;
		char e = re[i + 1];
		if (strchr("AzZGQ", e))
			return true;
		i += 2;
		/* \p{^L}, \x{..}, \o{..}, \N{..}, \g{..}, \k{..}: braces hold no
		 * anchors, only names and numbers. */
		if (strchr("pPxoNgk", e) && i < n && re[i] == '{') {
			const char *end = strchr(re + i, '}');
			if (!end)
				return true;
			i = (size_t)(end - re) + 1;
		}
	}
	return false;
}
