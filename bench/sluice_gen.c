/* sluice-gen: writes a pcap of wire-format chat traffic for tests, the demo and
 * benchmarks.
 *
 * The output depends only on the options, the seed and the corpus text, so a
 * capture can be regenerated instead of stored. Texts come from the fortune
 * files of Debian's fortunes and fortunes-zh packages (real English and Chinese
 * prose, freely licensed) or from bench/data/chat-sample.txt, cut to the sizes
 * chat messages have; a chosen share of messages carries a snippet the bundled
 * rules catch (or, with --violations-from, one of the lines of a file, such as
 * `sluice-pack examples` of the pack under test), so a run has a known number
 * of violations to find.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packet_build.h"
#include "utf8.h"
#include "wire_format.h"

/* SLUICE_MAX_FRAMES in frame_decode.h: more frames in one datagram are
 * too_many_frames. Not included from there, to keep sluice-gen's only inputs the
 * wire format and the packet builder. */
#define MAX_FRAMES_PER_DATAGRAM 256
#define MIN_MTU			256
#define MAX_MTU			9000
#define PKT_BUF_LEN		(MAX_MTU + 64)
#define MAX_PIECE_LEN		1024
#define MAX_TEXT_LEN		1024
#define ETH_MIN_FRAME		60
/* Worst case below the payload: IPv6 (40) + UDP (8); VLAN tags do not count
 * against the IP MTU. */
#define WORST_L3L4_LEN 48

/* ---- deterministic randomness ------------------------------------------ */

/* splitmix64: tiny, fast, and identical on every platform and libc, which
 * rand() is not. */
struct rng {
	uint64_t state;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-shift; its bias, about n / 2^32, is far below
 * anything a benchmark could notice for the n used here. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
	return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static uint32_t rng_range(struct rng *r, uint32_t lo, uint32_t hi)
{
	return lo + rng_below(r, hi - lo + 1);
}

static bool rng_chance(struct rng *r, double pct)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53 * 100.0 < pct;
}

/* ---- UTF-8 ------------------------------------------------------------- */

/* The corpus goes to a scanner that is undefined on invalid UTF-8, so every
 * text is cut and cleaned with the wire layer's UTF-8 gate (utf8.h). */
static size_t utf8_floor(const char *s, size_t len, size_t limit)
{
	return sluice_utf8_floor((const uint8_t *)s, len, limit);
}

static bool is_ascii_word(uint8_t c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_';
}

/* ---- growable byte buffer ---------------------------------------------- */

struct buf {
	char *data;
	size_t len, cap;
};

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "sluice-gen: out of memory\n");
		exit(1);
	}
	return q;
}

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

static void buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* ---- corpus ------------------------------------------------------------ */

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
static void corpus_add_clean(struct corpus *c, const char *s, size_t len)
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

enum cp_class { CP_TEXT, CP_SPACE, CP_INVISIBLE };

/* Non-ASCII spaces (no-break, typographic, ideographic) and C1 controls count as
 * whitespace; zero-width characters are dropped, because they are what evasion
 * looks like and the corpus should be ordinary text. */
static enum cp_class cp_classify(const uint8_t *p, size_t n)
{
	uint32_t cp;

	if (n == 1)
		return CP_TEXT;
	if (n == 2)
		cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
	else if (n == 3)
		cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) |
		     (p[2] & 0x3f);
	else
		return CP_TEXT;
	if ((cp >= 0x80 && cp <= 0xa0) || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	    cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
		return CP_SPACE;
	if ((cp >= 0x200b && cp <= 0x200f) || cp == 0x2060 || cp == 0xfeff || cp == 0x00ad)
		return CP_INVISIBLE;
	return CP_TEXT;
}

/* Turns one raw entry (a fortune, a line) into clean text: terminal escapes and
 * backspace overstriking (both common in fortune files) removed, invalid UTF-8
 * dropped, whitespace collapsed to single spaces. A line break inside Chinese
 * prose is not a word break, so whitespace between two non-ASCII characters
 * goes away entirely. */
static void corpus_add_entry(struct corpus *c, const char *raw, size_t len, struct buf *scratch)
{
	const uint8_t *p = (const uint8_t *)raw;
	bool pending_space = false;
	size_t i = 0;

	scratch->len = 0;
	buf_reserve(scratch, len);
	while (i < len) {
		uint8_t ch = p[i];

		if (ch == 0x1b) {
			i++;
			if (i < len && p[i] == '[') {
				i++;
				while (i < len && !(p[i] >= 0x40 && p[i] <= 0x7e))
					i++;
			}
			i++;
			continue;
		}
		if (ch == '\b') {
			/* Overstrike prints the next character over the last one. */
			while (scratch->len > 0 &&
			       ((uint8_t)scratch->data[scratch->len - 1] & 0xc0) == 0x80)
				scratch->len--;
			if (scratch->len > 0)
				scratch->len--;
			i++;
			continue;
		}
		if (ch <= 0x20 || ch == 0x7f) {
			pending_space = true;
			i++;
			continue;
		}
		size_t n = sluice_utf8_sequence_len(p + i, len - i);
		if (n == 0) {
			i++;
			continue;
		}
		enum cp_class cls = cp_classify(p + i, n);
		if (cls != CP_TEXT) {
			pending_space |= cls == CP_SPACE;
			i += n;
			continue;
		}
		if (pending_space && scratch->len > 0) {
			uint8_t prev = (uint8_t)scratch->data[scratch->len - 1];
			if (prev < 0x80 || ch < 0x80)
				scratch->data[scratch->len++] = ' ';
		}
		pending_space = false;
		memcpy(scratch->data + scratch->len, p + i, n);
		scratch->len += n;
		i += n;
	}
	if (scratch->len)
		corpus_add_clean(c, scratch->data, scratch->len);
}

static bool read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	if (!f)
		return false;
	out->len = 0;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(out, chunk, n);
	bool ok = !ferror(f);
	fclose(f);
	return ok;
}

/* A file of lines, or, if any line is a lone '%', of fortune entries. */
static bool corpus_load_file(struct corpus *c, const char *path, struct buf *scratch)
{
	struct buf raw = {0};

	if (!read_file(path, &raw)) {
		free(raw.data);
		return false;
	}
	bool fortune = false;
	for (size_t i = 0; i < raw.len; i++) {
		if (raw.data[i] == '%' && (i == 0 || raw.data[i - 1] == '\n') &&
		    (i + 1 == raw.len || raw.data[i + 1] == '\n')) {
			fortune = true;
			break;
		}
	}
	size_t start = 0, entry = 0;
	for (size_t i = 0; i <= raw.len; i++) {
		if (i < raw.len && raw.data[i] != '\n')
			continue;
		if (!fortune) {
			corpus_add_entry(c, raw.data + start, i - start, scratch);
		} else if (i - start == 1 && raw.data[start] == '%') {
			corpus_add_entry(c, raw.data + entry, start - entry, scratch);
			entry = i + 1;
		} else if (i == raw.len && entry < raw.len) {
			corpus_add_entry(c, raw.data + entry, raw.len - entry, scratch);
		}
		start = i + 1;
	}
	c->files++;
	free(raw.data);
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);
	return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* Regular files of a fortune directory in name order, so that the corpus (and
 * with it the output) does not depend on directory order. Symlinks are skipped:
 * Debian's *.u8 names point at the same files. Subdirectories are skipped: off/
 * holds the offensive set. */
static void corpus_load_fortune_dir(struct corpus *c, const char *dir, struct buf *scratch)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		if (e->d_name[0] == '.' || has_suffix(e->d_name, ".dat") ||
		    has_suffix(e->d_name, ".u8") || has_suffix(e->d_name, ".pdat"))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (lstat(path, &st) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n] = strdup(e->d_name);
		if (!names[n]) {
			fprintf(stderr, "sluice-gen: out of memory\n");
			exit(1);
		}
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		corpus_load_file(c, path, scratch);
		free(names[i]);
	}
	free(names);
}

static bool corpus_load_bundled(struct corpus *c, struct buf *scratch)
{
	static const char *const rel = "bench/data/chat-sample.txt";
	char exe[PATH_MAX], path[PATH_MAX];

	if (corpus_load_file(c, rel, scratch))
		return true;
	/* From the build tree: <build>/bench/sluice-gen next to <src>/bench/data. */
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(path, sizeof(path), "%s/../../%s", exe, rel) <
				(int)sizeof(path) &&
			    corpus_load_file(c, path, scratch))
				return true;
			if (snprintf(path, sizeof(path), "%s/../share/sluice/chat-sample.txt",
				     exe) < (int)sizeof(path) &&
			    corpus_load_file(c, path, scratch))
				return true;
		}
	}
	return corpus_load_file(c, "/usr/share/sluice/chat-sample.txt", scratch);
}

/* ---- violations -------------------------------------------------------- */

/* Each matches a rule of the bundled pack (patterns/rules/default.yaml, checked
 * against its patterns by hand): contact details that move a conversation off
 * the platform, gambling, drugs, collectible resale, private-chat lures and
 * unlabelled AI text. Every snippet is harmless to carry in a test file. */
static const char *const violations[] = {
    /* phone-cn-mobile */
    "13812345678",
    "15900001111",
    "电话13700137000",
    /* wechat-id-lure (the first also private-chat-lure) */
    "加我微信 abc_12345",
    "加微信 lucky_8888",
    "VX: wxid_hello123",
    "vx: tea_time_2024",
    /* qq-number-lure */
    "QQ: 12345678",
    "QQ 987654321",
    /* telegram-handle-lure, email-address */
    "TG: @deals_bot01",
    "mail me: seller@example.com",
    /* gambling-invite, gambling-bonus-lure */
    "网上赌场",
    "百家乐",
    "online casino",
    "注册送彩金",
    /* drug-sale, collectible-resale, private-chat-lure, unlabelled-ai */
    "冰毒",
    "数字藏品 转卖 溢价",
    "私聊",
    "作为一个AI语言模型",
};

#define N_VIOLATIONS (sizeof(violations) / sizeof(violations[0]))

/* Longest snippet --violations-from accepts: a violation is a phrase inside a
 * chat message, and every byte it takes is a byte less of the message's text
 * limit (see text_limit in main). */
#define MAX_SNIPPET_LEN 200

/* The snippets a message with a violation draws from: the built-in list, or
 * the lines of --violations-from (pointing into data). */
struct snippets {
	const char **items;
	size_t n;
	struct buf data;
};

static void snippets_builtin(struct snippets *s)
{
	s->items = xrealloc(NULL, N_VIOLATIONS * sizeof(*s->items));
	for (size_t i = 0; i < N_VIOLATIONS; i++)
		s->items[i] = violations[i];
	s->n = N_VIOLATIONS;
}

/* A snippet must be clean one-line text: valid UTF-8 (the corpus goes to a
 * scanner that requires it) without control characters (--text-out writes
 * "msg_id<TAB>text" lines). */
static bool snippet_usable(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint8_t ch = (uint8_t)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
		size_t n = sluice_utf8_sequence_len((const uint8_t *)s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Reads one snippet per line; empty lines are skipped, and so (with a count on
 * stderr, since the share of violations then draws from fewer snippets) are
 * lines that are not clean text or are longer than MAX_SNIPPET_LEN. Returns
 * false with a message on stderr if the file cannot be read or leaves none. */
static bool snippets_load(struct snippets *s, const char *path)
{
	size_t cap = 0, skipped = 0;

	if (!read_file(path, &s->data)) {
		fprintf(stderr, "sluice-gen: --violations-from %s: %s\n", path, strerror(errno));
		return false;
	}
	buf_append(&s->data, "\n", 1);
	char *line = s->data.data, *end = s->data.data + s->data.len;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = (size_t)(nl - line);
		*nl = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > 0 && (len > MAX_SNIPPET_LEN || !snippet_usable(line, len))) {
			skipped++;
		} else if (len > 0) {
			if (s->n == cap) {
				cap = cap ? cap * 2 : 64;
				s->items = xrealloc(s->items, cap * sizeof(*s->items));
			}
			s->items[s->n++] = line;
		}
		line = nl + 1;
	}
	if (skipped)
		fprintf(stderr,
			"sluice-gen: --violations-from %s: skipped %zu line(s) that are not "
			"clean UTF-8 text of at most %d bytes\n",
			path, skipped, MAX_SNIPPET_LEN);
	if (s->n == 0) {
		fprintf(stderr, "sluice-gen: --violations-from %s: no usable snippet\n", path);
		return false;
	}
	return true;
}

static size_t max_violation_len(const struct snippets *s)
{
	size_t m = 0;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->items[i]) > m)
			m = strlen(s->items[i]);
	return m + 2; /* room for a space on each side */
}

/* ---- messages ---------------------------------------------------------- */

struct gen_options {
	const char *out_path;
	const char *text_out_path;
	uint64_t count;
	uint64_t seed;
	unsigned frames_min, frames_max;
	unsigned mtu;
	unsigned flows;
	uint16_t udp_port;
	double violations_pct, ipv6_pct, vlan_pct, other_pct;
	const char **corpus_paths;
	size_t n_corpus_paths;
	const char *violations_from;
};

struct message {
	uint64_t msg_id, channel_id, user_id;
	bool violation;
	struct buf text;
};

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

static void message_text(struct buf *t, const struct corpus *c, struct rng *r, size_t limit)
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

/* Inserts the snippet at a code point boundary that is not inside an ASCII
 * word, with spaces against ASCII neighbours so it stays a separate token to
 * the rules' word and digit boundaries. */
static void insert_violation(struct buf *t, struct rng *r, const char *snippet)
{
	size_t pos = utf8_floor(t->data, t->len, rng_below(r, (uint32_t)t->len + 1));

	while (pos > 0 && pos < t->len && is_ascii_word((uint8_t)t->data[pos - 1]) &&
	       is_ascii_word((uint8_t)t->data[pos]))
		pos++;
	bool space_before = pos > 0 && (uint8_t)t->data[pos - 1] < 0x80 && t->data[pos - 1] != ' ';
	bool space_after = pos < t->len && (uint8_t)t->data[pos] < 0x80 && t->data[pos] != ' ';
	size_t slen = strlen(snippet);
	size_t add = slen + space_before + space_after;

	buf_reserve(t, add);
	memmove(t->data + pos + add, t->data + pos, t->len - pos);
	char *w = t->data + pos;
	if (space_before)
		*w++ = ' ';
	memcpy(w, snippet, slen);
	w += slen;
	if (space_after)
		*w = ' ';
	t->len += add;
}

struct generator {
	const struct gen_options *opt;
	const struct corpus *corpus;
	const struct snippets *snippets;
	struct rng rng;
	uint64_t next_msg_id;
	size_t text_limit; /* before a violation is inserted */
	FILE *text_out;
	uint64_t datagrams, messages, violations, others, bytes, packets;
};

static const uint64_t channels[] = {1001, 1002, 1003, 1007, 2048, 31337, 500000, 9000001};

static void message_make(struct generator *g, struct message *m)
{
	m->msg_id = g->next_msg_id++;
	m->channel_id = channels[rng_below(&g->rng, sizeof(channels) / sizeof(channels[0]))];
	/* A population of a million users, so that users repeat as they do. */
	m->user_id = 1 + rng_below(&g->rng, 1000000);
	m->violation = rng_chance(&g->rng, g->opt->violations_pct);
	message_text(&m->text, g->corpus, &g->rng, g->text_limit);
	if (m->violation)
		insert_violation(&m->text, &g->rng,
				 g->snippets->items[rng_below(&g->rng, (uint32_t)g->snippets->n)]);
}

/* ---- packets ----------------------------------------------------------- */

/* Flow 0 is the library's default pair; others vary the client address and
 * port so that RSS spreads the traffic over queues. */
static void flow_endpoints(struct sluice_udp_endpoints *ep, unsigned flow, bool ipv6)
{
	sluice_udp_endpoints_default(ep, ipv6);
	if (flow == 0)
		return;
	if (ipv6) {
		ep->src_ip[13] = 0x01; /* 2001:2::1:<flow> */
		ep->src_ip[14] = (uint8_t)(flow >> 8);
		ep->src_ip[15] = (uint8_t)flow;
	} else {
		ep->src_ip[1] = 19; /* 198.19.<flow>, inside 198.18.0.0/15 */
		ep->src_ip[2] = (uint8_t)(flow >> 8);
		ep->src_ip[3] = (uint8_t)flow;
	}
	ep->src_port = (uint16_t)(40000 + flow % 20000);
}

static const uint16_t vlan_ids[] = {100, 200, 300, 4000};

static void endpoints_pick(struct generator *g, struct sluice_udp_endpoints *ep)
{
	bool ipv6 = rng_chance(&g->rng, g->opt->ipv6_pct);
	unsigned flow = rng_below(&g->rng, g->opt->flows);

	flow_endpoints(ep, flow, ipv6);
	ep->dst_port = g->opt->udp_port;
	ep->vlan = rng_chance(&g->rng, g->opt->vlan_pct);
	if (ep->vlan)
		ep->vlan_id = vlan_ids[rng_below(&g->rng, sizeof(vlan_ids) / sizeof(vlan_ids[0]))];
}

static bool packet_write(struct generator *g, pcap_dumper_t *dumper, const uint8_t *pkt, size_t len)
{
	struct pcap_pkthdr h;
	/* Fixed clock, 10 us apart: timestamps must not break reproducibility. */
	uint64_t us = g->packets * 10;

	if (len == 0) {
		fprintf(stderr, "sluice-gen: internal error: packet did not fit\n");
		return false;
	}
	h.ts.tv_sec = (time_t)(1700000000 + us / 1000000);
	h.ts.tv_usec = (suseconds_t)(us % 1000000);
	h.caplen = h.len = (bpf_u_int32)len;
	pcap_dump((u_char *)dumper, &h, pkt);
	g->packets++;
	g->bytes += len;
	return true;
}

static size_t arp_request_build(uint8_t *out, const struct sluice_udp_endpoints *ep)
{
	size_t l2 = ep->vlan ? 18 : 14;

	memset(out, 0, ETH_MIN_FRAME);
	memset(out, 0xff, 6);
	memcpy(out + 6, ep->src_mac, 6);
	if (ep->vlan) {
		sluice_be16_store(out + 12, 0x8100);
		sluice_be16_store(out + 14, ep->vlan_id);
	}
	sluice_be16_store(out + l2 - 2, 0x0806);
	uint8_t *a = out + l2;
	sluice_be16_store(a, 1); /* Ethernet */
	sluice_be16_store(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	sluice_be16_store(a + 6, 1); /* request */
	memcpy(a + 8, ep->src_mac, 6);
	memcpy(a + 14, ep->src_ip, 4);
	memcpy(a + 24, ep->dst_ip, 4);
	/* Padded to the Ethernet minimum, as it is on the wire. */
	return ETH_MIN_FRAME;
}

static const char *const dns_names[] = {"chat.example.com", "cdn.example.net", "api.example.org",
					"img.example.com", "ntp.example.net"};

static size_t dns_query_build(struct generator *g, uint8_t *out, size_t cap,
			      struct sluice_udp_endpoints *ep)
{
	uint8_t q[300];
	size_t n = 12;
	const char *name = dns_names[rng_below(&g->rng, sizeof(dns_names) / sizeof(dns_names[0]))];

	memset(q, 0, 12);
	sluice_be16_store(q, (uint16_t)rng_next(&g->rng));
	sluice_be16_store(q + 2, 0x0100); /* standard query, recursion desired */
	sluice_be16_store(q + 4, 1);
	for (const char *s = name; *s;) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		q[n++] = (uint8_t)l;
		memcpy(q + n, s, l);
		n += l;
		s += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	sluice_be16_store(q + n, ep->ipv6 ? 28 : 1); /* AAAA or A */
	sluice_be16_store(q + n + 2, 1);
	n += 4;
	ep->dst_port = 53;
	ep->src_port = (uint16_t)rng_range(&g->rng, 49152, 65535);
	return sluice_udp_packet_build(out, cap, ep, q, n);
}

/* Traffic Sluice must pass through untouched: ARP, and UDP to other ports. */
static bool other_packet(struct generator *g, pcap_dumper_t *dumper)
{
	uint8_t pkt[512];
	struct sluice_udp_endpoints ep;
	size_t len;

	endpoints_pick(g, &ep);
	if (rng_below(&g->rng, 100) < 40) {
		bool vlan = ep.vlan;
		uint16_t vlan_id = ep.vlan_id;
		/* ARP resolves IPv4 only; keep the tag that was drawn. */
		sluice_udp_endpoints_default(&ep, false);
		ep.vlan = vlan;
		ep.vlan_id = vlan_id;
		len = arp_request_build(pkt, &ep);
	} else {
		len = dns_query_build(g, pkt, sizeof(pkt), &ep);
	}
	g->others++;
	return packet_write(g, dumper, pkt, len);
}

static bool text_out_write(struct generator *g, const struct message *m)
{
	if (!g->text_out)
		return true;
	fprintf(g->text_out, "%" PRIu64 "\t", m->msg_id);
	fwrite(m->text.data, 1, m->text.len, g->text_out);
	return fputc('\n', g->text_out) != EOF;
}

static bool message_datagram(struct generator *g, pcap_dumper_t *dumper, struct message *pending,
			     bool *have_pending)
{
	static uint8_t payload[PKT_BUF_LEN], pkt[PKT_BUF_LEN];
	struct sluice_udp_endpoints ep;

	endpoints_pick(g, &ep);
	size_t max_payload = g->opt->mtu - (ep.ipv6 ? 40 : 20) - 8;
	unsigned frames = rng_range(&g->rng, g->opt->frames_min, g->opt->frames_max);
	size_t len = 0;

	for (unsigned f = 0; f < frames; f++) {
		if (!*have_pending) {
			message_make(g, pending);
			*have_pending = true;
		}
		/* Does not fit: it opens the next datagram instead. The text limit
		 * guarantees that a message alone always fits. */
		if (len + SLUICE_WIRE_HEADER_LEN + pending->text.len > max_payload)
			break;
		struct sluice_wire_message wm = {
		    .msg_id = pending->msg_id,
		    .channel_id = pending->channel_id,
		    .user_id = pending->user_id,
		    .flags = 0,
		    .text = pending->text.data,
		    .text_len = (uint16_t)pending->text.len,
		};
		size_t w = sluice_wire_frame_write(payload + len, max_payload - len, &wm);
		if (w == 0) {
			fprintf(stderr, "sluice-gen: internal error: frame did not fit\n");
			return false;
		}
		len += w;
		*have_pending = false;
		g->messages++;
		g->violations += pending->violation;
		if (!text_out_write(g, pending)) {
			fprintf(stderr, "sluice-gen: %s: write failed\n", g->opt->text_out_path);
			return false;
		}
	}
	g->datagrams++;
	return packet_write(g, dumper, pkt,
			    sluice_udp_packet_build(pkt, sizeof(pkt), &ep, payload, len));
}

/* ---- options ----------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sluice-gen -o OUT.pcap [options]\n"
		"\n"
		"Writes Ethernet frames (pcap, DLT_EN10MB) carrying wire-format v1 chat\n"
		"messages over UDP, plus some traffic Sluice must pass untouched. The output\n"
		"is the same for the same options, seed and corpus.\n"
		"\n"
		"  -o, --output FILE            pcap to write ('-' = stdout; required)\n"
		"  -n, --count N                packets to write, message datagrams and\n"
		"                               others together (default 10000)\n"
		"  -s, --seed N                 random seed (default 1)\n"
		"      --frames MIN-MAX         frames per message datagram (default 1-3;\n"
		"                               fewer when the next one would exceed --mtu)\n"
		"      --frames-per-datagram N  the same as --frames N-N\n"
		"      --mtu N                  IP MTU a datagram must fit (default 1500)\n"
		"      --violations PCT         share of messages carrying a snippet the\n"
		"                               bundled rules catch (default 10)\n"
		"      --violations-from FILE   draw those snippets from FILE, one per line,\n"
		"                               instead (e.g. the output of 'sluice-pack\n"
		"                               examples RULES.yaml' for the pack under test)\n"
		"      --corpus FILE            text to cut messages from: one per line, or\n"
		"                               fortune format ('%%' lines); repeatable.\n"
		"                               Default: /usr/share/games/fortunes/* (packages\n"
		"                               fortunes, fortunes-zh), else\n"
		"                               bench/data/chat-sample.txt\n"
		"      --ipv6-share PCT         share of packets over IPv6 (default 20)\n"
		"      --vlan-share PCT         share of packets with an 802.1Q tag (default 10)\n"
		"      --other-share PCT        share of non-message packets: ARP requests and\n"
		"                               DNS queries to UDP port 53 (default 5)\n"
		"      --flows N                client address/port pairs (default 64)\n"
		"      --udp-port N             message port (default 7700)\n"
		"      --text-out FILE          also write each message as 'msg_id<TAB>text'\n"
		"  -h, --help                   this text\n");
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool parse_pct(const char *s, double *out)
{
	char *end;

	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.0 && v <= 100.0))
		return false;
	*out = v;
	return true;
}

static bool parse_frames(const char *s, struct gen_options *o)
{
	char lo_s[32];
	const char *dash = strchr(s, '-');
	uint64_t lo, hi;

	if (!dash) {
		if (!parse_u64(s, 1, MAX_FRAMES_PER_DATAGRAM, &lo))
			return false;
		o->frames_min = o->frames_max = (unsigned)lo;
		return true;
	}
	if ((size_t)(dash - s) >= sizeof(lo_s))
		return false;
	memcpy(lo_s, s, (size_t)(dash - s));
	lo_s[dash - s] = '\0';
	if (!parse_u64(lo_s, 1, MAX_FRAMES_PER_DATAGRAM, &lo) ||
	    !parse_u64(dash + 1, 1, MAX_FRAMES_PER_DATAGRAM, &hi) || lo > hi)
		return false;
	o->frames_min = (unsigned)lo;
	o->frames_max = (unsigned)hi;
	return true;
}

enum {
	OPT_FRAMES = 256,
	OPT_FRAMES_PER_DATAGRAM,
	OPT_MTU,
	OPT_VIOLATIONS,
	OPT_CORPUS,
	OPT_IPV6_SHARE,
	OPT_VLAN_SHARE,
	OPT_OTHER_SHARE,
	OPT_FLOWS,
	OPT_UDP_PORT,
	OPT_TEXT_OUT,
	OPT_VIOLATIONS_FROM,
};

static int bad_value(const char *opt, const char *value, const char *want)
{
	fprintf(stderr, "sluice-gen: --%s %s: expected %s\n", opt, value, want);
	return 2;
}

static int parse_options(int argc, char **argv, struct gen_options *o)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"count", required_argument, NULL, 'n'},
	    {"seed", required_argument, NULL, 's'},
	    {"frames", required_argument, NULL, OPT_FRAMES},
	    {"frames-per-datagram", required_argument, NULL, OPT_FRAMES_PER_DATAGRAM},
	    {"mtu", required_argument, NULL, OPT_MTU},
	    {"violations", required_argument, NULL, OPT_VIOLATIONS},
	    {"corpus", required_argument, NULL, OPT_CORPUS},
	    {"ipv6-share", required_argument, NULL, OPT_IPV6_SHARE},
	    {"vlan-share", required_argument, NULL, OPT_VLAN_SHARE},
	    {"other-share", required_argument, NULL, OPT_OTHER_SHARE},
	    {"flows", required_argument, NULL, OPT_FLOWS},
	    {"udp-port", required_argument, NULL, OPT_UDP_PORT},
	    {"text-out", required_argument, NULL, OPT_TEXT_OUT},
	    {"violations-from", required_argument, NULL, OPT_VIOLATIONS_FROM},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "o:n:s:h", longopts, NULL)) != -1) {
		const char *name = NULL;
		for (const struct option *lo = longopts; lo->name; lo++)
			if (lo->val == c)
				name = lo->name;
		switch (c) {
		case 'o':
			o->out_path = optarg;
			break;
		case 'n':
			if (!parse_u64(optarg, 0, UINT64_MAX, &o->count))
				return bad_value(name, optarg, "a count");
			break;
		case 's':
			if (!parse_u64(optarg, 0, UINT64_MAX, &o->seed))
				return bad_value(name, optarg, "an unsigned integer");
			break;
		case OPT_FRAMES:
		case OPT_FRAMES_PER_DATAGRAM:
			if ((c == OPT_FRAMES_PER_DATAGRAM && strchr(optarg, '-')) ||
			    !parse_frames(optarg, o))
				return bad_value(name, optarg, "N or MIN-MAX within 1-256");
			break;
		case OPT_MTU:
			if (!parse_u64(optarg, MIN_MTU, MAX_MTU, &v))
				return bad_value(name, optarg, "256 to 9000");
			o->mtu = (unsigned)v;
			break;
		case OPT_VIOLATIONS:
		case OPT_IPV6_SHARE:
		case OPT_VLAN_SHARE:
		case OPT_OTHER_SHARE: {
			double *dst = c == OPT_VIOLATIONS   ? &o->violations_pct
				      : c == OPT_IPV6_SHARE ? &o->ipv6_pct
				      : c == OPT_VLAN_SHARE ? &o->vlan_pct
							    : &o->other_pct;
			if (!parse_pct(optarg, dst))
				return bad_value(name, optarg, "a percentage 0-100");
			break;
		}
		case OPT_CORPUS:
			o->corpus_paths = xrealloc(o->corpus_paths, (o->n_corpus_paths + 1) *
									sizeof(*o->corpus_paths));
			o->corpus_paths[o->n_corpus_paths++] = optarg;
			break;
		case OPT_FLOWS:
			if (!parse_u64(optarg, 1, 65535, &v))
				return bad_value(name, optarg, "1 to 65535");
			o->flows = (unsigned)v;
			break;
		case OPT_UDP_PORT:
			if (!parse_u64(optarg, 1, 65535, &v))
				return bad_value(name, optarg, "a port 1-65535");
			o->udp_port = (uint16_t)v;
			break;
		case OPT_TEXT_OUT:
			o->text_out_path = optarg;
			break;
		case OPT_VIOLATIONS_FROM:
			o->violations_from = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "sluice-gen: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o->out_path) {
		fprintf(stderr, "sluice-gen: -o OUT.pcap is required (see --help)\n");
		return 2;
	}
	if (o->text_out_path && !strcmp(o->out_path, "-") && !strcmp(o->text_out_path, "-")) {
		fprintf(stderr, "sluice-gen: -o - and --text-out - would share stdout\n");
		return 2;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct gen_options opt = {
	    .count = 10000,
	    .seed = 1,
	    .frames_min = 1,
	    .frames_max = 3,
	    .mtu = 1500,
	    .flows = 64,
	    .udp_port = SLUICE_WIRE_DEFAULT_PORT,
	    .violations_pct = 10,
	    .ipv6_pct = 20,
	    .vlan_pct = 10,
	    .other_pct = 5,
	};
	struct corpus corpus = {0};
	struct snippets snippets = {0};
	struct buf scratch = {0};
	int rc = parse_options(argc, argv, &opt);

	if (rc)
		return rc;
	if (!opt.violations_from)
		snippets_builtin(&snippets);
	else if (!snippets_load(&snippets, opt.violations_from))
		return 1;
	/* Any single message must fit any datagram, IPv6 included, after its
	 * violation snippet is added; a message needs room for some text too. */
	if (max_violation_len(&snippets) + 10 > opt.mtu - WORST_L3L4_LEN - SLUICE_WIRE_HEADER_LEN) {
		fprintf(stderr,
			"sluice-gen: --mtu %u is too small for the longest violation snippet\n",
			opt.mtu);
		return 2;
	}

	for (size_t i = 0; i < opt.n_corpus_paths; i++) {
		if (!corpus_load_file(&corpus, opt.corpus_paths[i], &scratch)) {
			fprintf(stderr, "sluice-gen: %s: %s\n", opt.corpus_paths[i],
				strerror(errno));
			return 1;
		}
	}
	if (!opt.n_corpus_paths) {
		corpus_load_fortune_dir(&corpus, "/usr/share/games/fortunes", &scratch);
		if (!corpus.n && !corpus_load_bundled(&corpus, &scratch)) {
			fprintf(stderr, "sluice-gen: no corpus: install the fortunes and "
					"fortunes-zh packages, or pass --corpus FILE\n");
			return 1;
		}
	}
	if (!corpus.n) {
		fprintf(stderr, "sluice-gen: the corpus holds no usable text\n");
		return 1;
	}

	struct generator g = {
	    .opt = &opt,
	    .corpus = &corpus,
	    .snippets = &snippets,
	    .rng = {opt.seed},
	    .next_msg_id = 1,
	};
	g.text_limit =
	    opt.mtu - WORST_L3L4_LEN - SLUICE_WIRE_HEADER_LEN - max_violation_len(&snippets);
	if (g.text_limit > MAX_TEXT_LEN)
		g.text_limit = MAX_TEXT_LEN;

	if (opt.text_out_path) {
		g.text_out =
		    strcmp(opt.text_out_path, "-") ? fopen(opt.text_out_path, "w") : stdout;
		if (!g.text_out) {
			fprintf(stderr, "sluice-gen: %s: %s\n", opt.text_out_path, strerror(errno));
			return 1;
		}
	}

	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 65535);
	if (!pd) {
		fprintf(stderr, "sluice-gen: pcap_open_dead failed\n");
		return 1;
	}
	pcap_dumper_t *dumper = pcap_dump_open(pd, opt.out_path);
	if (!dumper) {
		fprintf(stderr, "sluice-gen: %s\n", pcap_geterr(pd));
		pcap_close(pd);
		return 1;
	}

	struct message pending = {0};
	bool have_pending = false;
	bool ok = true;
	for (uint64_t i = 0; ok && i < opt.count; i++) {
		if (rng_chance(&g.rng, opt.other_pct))
			ok = other_packet(&g, dumper);
		else
			ok = message_datagram(&g, dumper, &pending, &have_pending);
	}

	if (pcap_dump_flush(dumper) != 0) {
		fprintf(stderr, "sluice-gen: %s: write failed\n", opt.out_path);
		ok = false;
	}
	pcap_dump_close(dumper);
	pcap_close(pd);
	if (g.text_out && g.text_out != stdout && fclose(g.text_out) != 0) {
		fprintf(stderr, "sluice-gen: %s: %s\n", opt.text_out_path, strerror(errno));
		ok = false;
	} else if (g.text_out == stdout && fflush(stdout) != 0) {
		ok = false;
	}

	fprintf(stderr,
		"sluice-gen: %" PRIu64 " datagrams, %" PRIu64 " messages, %" PRIu64
		" violations, %" PRIu64 " non-message packets, %" PRIu64 " bytes (corpus: %zu "
		"pieces from %zu files)\n",
		g.datagrams, g.messages, g.violations, g.others, g.bytes, corpus.n, corpus.files);

	free(pending.text.data);
	free(corpus.text.data);
	free(corpus.pieces);
	free(scratch.data);
	free(opt.corpus_paths);
	free(snippets.items);
	free(snippets.data.data);
	return ok ? 0 : 1;
}
