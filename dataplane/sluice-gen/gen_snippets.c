#include "gen_snippets.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_cut.h"
#include "utf8.h"

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

void snippets_builtin(struct snippets *s)
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
bool snippets_load(struct snippets *s, const char *path)
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

size_t max_violation_len(const struct snippets *s)
{
	size_t m = 0;
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->items[i]) > m)
			m = strlen(s->items[i]);
	return m + 2; /* room for a space on each side */
}

/* Inserts the snippet at a code point boundary that is not inside an ASCII
 * word, with spaces against ASCII neighbours so it stays a separate token to
 * the rules' word and digit boundaries. */
void insert_violation(struct buf *t, struct rng *r, const char *snippet)
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

void snippets_free(struct snippets *s)
{
	free(s->items);
	free(s->data.data);
}
