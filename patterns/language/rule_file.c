/* The rule loader (rule_file.h): YAML rule files, their includes and list
 * files into a rule list, every problem a diagnostic.
 *
 * A rule and the top level of a file are each a table of keys with a handler
 * per key; one walk over a mapping looks keys up in its table and reports
 * unknown and repeated keys, so a new key is one table entry and a handler.
 */
#include "rule_file.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <yaml.h>

#include "message.h"
#include "file_read.h"
#include "suggest.h"
#include "utf8.h"

/* Rule files are written by hand; anything this large is a mistake (or an
 * attack on the parser) and is refused before libyaml sees it. */
#define RULE_FILE_MAX_BYTES (64u << 20)
/* List files are generated and can be large (100,000 titles is ~2 MB). */
#define LIST_FILE_MAX_BYTES (256u << 20)
/* Deeper than this is a mistake, not a structure. */
#define INCLUDE_MAX_DEPTH 32

/* ---- small helpers ---- */

static const char *node_kind(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "a string";
	}
}

static bool scalar_is(const yaml_node_t *node, const char *word)
{
	size_t n = strlen(word);

	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == n &&
	       memcmp(node->data.scalar.value, word, n) == 0;
}

static const char *scalar_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* Shown in messages: long values are cut so a message stays one line. */
static int shown_len(const yaml_node_t *node)
{
	return (int)(node->data.scalar.length > 64 ? 64 : node->data.scalar.length);
}

/* hs_compile() and the C strings handed around later stop at a NUL, so a value
 * with an embedded one (possible through a "\0" escape) would silently mean
 * something other than what the analyst wrote. */
static bool scalar_has_nul(const yaml_node_t *node)
{
	return memchr(node->data.scalar.value, '\0', node->data.scalar.length) != NULL;
}

static char *dup_scalar(const yaml_node_t *node)
{
	return strndup(scalar_text(node), node->data.scalar.length);
}

static struct sluice_loc loc_of(yaml_mark_t mark)
{
	return (struct sluice_loc){.line = (unsigned)mark.line + 1,
				   .column = (unsigned)mark.column + 1};
}

/* Length of the UTF-8 sequence starting at s, so a bad character is quoted
 * whole in a message rather than as a broken byte. */
static size_t char_len(const unsigned char *s, size_t left)
{
	size_t n = 1;

	if (s[0] >= 0xf0)
		n = 4;
	else if (s[0] >= 0xe0)
		n = 3;
	else if (s[0] >= 0xc0)
		n = 2;
	return n < left ? n : left;
}

static size_t utf8_chars(const char *s, size_t n)
{
	return sluice_utf8_chars((const uint8_t *)s, n);
}

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static uint64_t hash_bytes(const char *s, size_t len, bool fold)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (fold && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h ^= c;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- names, dates ---- */

static bool parse_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool sluice_parse_expiry(const char *text, int64_t *out)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (strlen(text) != 10 || text[4] != '-' || text[7] != '-' || !parse_digits(text, 4, &y) ||
	    !parse_digits(text + 5, 2, &m) || !parse_digits(text + 8, 2, &d))
		return false;
	if (y < 1970 || m < 1 || m > 12 || d < 1)
		return false;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > days[m - 1] + (m == 2 && leap))
		return false;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d + 1};
	*out = (int64_t)timegm(&tm);
	return true;
}

bool sluice_parse_start(const char *text, int64_t *out)
{
	if (!sluice_parse_expiry(text, out))
		return false;
	*out -= 86400;
	return true;
}

/* ---- the loader ---- */

struct id_entry {
	char *id;
	const char *file;
	unsigned line;
};

struct loader {
	struct sluice_rule_list *list;
	struct sluice_diag_list *diags;
	size_t errors;
	bool oom;

	/* Every file read, by resolved path, with where it was included from. */
	char **real;
	size_t nreal;
	struct {
		const char *file;
		struct sluice_loc loc;
	} * included_at;
	/* Resolved paths of the files being loaded, outermost first. */
	const char *stack[INCLUDE_MAX_DEPTH + 1];
	const char *stack_shown[INCLUDE_MAX_DEPTH + 1];
	unsigned depth;

	/* ids seen so far, across files: open addressing, grown at half full. */
	struct id_entry *ids;
	size_t ids_mask;
	size_t ids_used;
	size_t rule_cap;
};

struct file_ctx {
	struct loader *ld;
	const char *path; /* as shown in messages */
	const char *text;
	size_t len;
	yaml_document_t *doc;
	bool is_root;
};

static void oom(struct loader *ld)
{
	ld->oom = true;
}

static void vreport(struct loader *ld, enum sluice_diag_level level, const char *file,
		    struct sluice_loc at, const char *rule, const char *code, const char *fmt,
		    va_list ap) __attribute__((format(printf, 7, 0)));

static void vreport(struct loader *ld, enum sluice_diag_level level, const char *file,
		    struct sluice_loc at, const char *rule, const char *code, const char *fmt,
		    va_list ap)
{
	if (level == SLUICE_DIAG_ERROR)
		ld->errors++;
	if (sluice_diag_vadd(ld->diags, level, file, at.line, at.column, rule, code, fmt, ap) != 0)
		oom(ld);
}

static int err_at(struct file_ctx *fc, struct sluice_loc at, const char *rule, const char *code,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int err_at(struct file_ctx *fc, struct sluice_loc at, const char *rule, const char *code,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fc->ld, SLUICE_DIAG_ERROR, fc->path, at, rule, code, fmt, ap);
	va_end(ap);
	return -1;
}

static void warn_at(struct file_ctx *fc, struct sluice_loc at, const char *rule, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void warn_at(struct file_ctx *fc, struct sluice_loc at, const char *rule, const char *code,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(fc->ld, SLUICE_DIAG_WARNING, fc->path, at, rule, code, fmt, ap);
	va_end(ap);
}

static void file_err(struct loader *ld, const char *file, struct sluice_loc at, const char *rule,
		     const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void file_err(struct loader *ld, const char *file, struct sluice_loc at, const char *rule,
		     const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, SLUICE_DIAG_ERROR, file, at, rule, code, fmt, ap);
	va_end(ap);
}

static void file_warn(struct loader *ld, const char *file, struct sluice_loc at, const char *rule,
		      const char *code, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void file_warn(struct loader *ld, const char *file, struct sluice_loc at, const char *rule,
		      const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ld, SLUICE_DIAG_WARNING, file, at, rule, code, fmt, ap);
	va_end(ap);
}

/* A message that is about a whole file, not a place in it, still names one:
 * line 1, column 1. */
static const struct sluice_loc file_start = {1, 1};

/* ids and categories end up in events, stats labels and file names, so they
 * are kept to a small, unambiguous alphabet. */
static int check_name(struct file_ctx *fc, const yaml_node_t *node, const char *rule,
		      const char *what, const char *code)
{
	const unsigned char *s = node->data.scalar.value;
	size_t len = node->data.scalar.length;
	struct sluice_loc at = loc_of(node->start_mark);

	if (len == 0)
		return err_at(fc, at, rule, code, "%s is empty; give it a value", what);
	if (len > SLUICE_RULE_ID_MAX)
		return err_at(fc, at, rule, code, "%s is %zu bytes long; shorten it to at most %d",
			      what, len, SLUICE_RULE_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		if (name_char_ok(s[i]))
			continue;
		size_t n = char_len(s + i, len - i);
		if (s[i] < 0x20 || s[i] == 0x7f)
			return err_at(fc, at, rule, code,
				      "%s contains control character 0x%02x; use only letters, "
				      "digits, '.', '_' and '-'",
				      what, s[i]);
		return err_at(fc, at, rule, code,
			      "%s contains '%.*s'; use only letters, digits, '.', '_' and '-'",
			      what, (int)n, (const char *)s + i);
	}
	return 0;
}

static int ids_grow(struct loader *ld)
{
	size_t cap = ld->ids_mask ? (ld->ids_mask + 1) * 2 : 64;
	struct id_entry *ids = calloc(cap, sizeof(*ids));

	if (!ids)
		return -1;
	for (size_t i = 0; ld->ids_mask && i <= ld->ids_mask; i++) {
		if (!ld->ids[i].id)
			continue;
		size_t slot =
		    (size_t)hash_bytes(ld->ids[i].id, strlen(ld->ids[i].id), false) & (cap - 1);
		while (ids[slot].id)
			slot = (slot + 1) & (cap - 1);
		ids[slot] = ld->ids[i];
	}
	free(ld->ids);
	ld->ids = ids;
	ld->ids_mask = cap - 1;
	return 0;
}

/* Returns the earlier definition of id, or NULL after remembering this one. */
static const struct id_entry *ids_add(struct loader *ld, const char *id, const char *file,
				      unsigned line)
{
	if ((ld->ids_used + 1) * 2 > ld->ids_mask + 1 && ids_grow(ld) != 0) {
		oom(ld);
		return NULL;
	}
	size_t slot = (size_t)hash_bytes(id, strlen(id), false) & ld->ids_mask;
	while (ld->ids[slot].id) {
		if (strcmp(ld->ids[slot].id, id) == 0)
			return &ld->ids[slot];
		slot = (slot + 1) & ld->ids_mask;
	}
	ld->ids[slot].id = strdup(id);
	ld->ids[slot].file = file;
	ld->ids[slot].line = line;
	if (!ld->ids[slot].id)
		oom(ld);
	else
		ld->ids_used++;
	return NULL;
}

static int read_whole_file(const char *path, size_t limit, const char *what, char **out,
			   size_t *out_len, char *err, size_t err_len)
{
	return sluice_file_read_all(path, limit, what, out, out_len, err, err_len);
}

/* libyaml reports reader (encoding) errors as a byte offset only; turn it into
 * the line and column the other messages use, counting characters as libyaml
 * does for its marks. */
static yaml_mark_t mark_from_offset(const char *text, size_t len, size_t offset)
{
	yaml_mark_t mark = {0};

	if (offset > len)
		offset = len;
	for (size_t i = 0; i < offset; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			mark.line++;
			mark.column = 0;
		} else if ((c & 0xc0) != 0x80) {
			mark.column++;
		}
	}
	return mark;
}

static void yaml_failure(struct file_ctx *fc, yaml_parser_t *parser)
{
	yaml_mark_t mark = parser->problem_mark;
	const char *problem = parser->problem ? parser->problem : "unknown problem";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		oom(fc->ld);
		return;
	case YAML_READER_ERROR:
		mark = mark_from_offset(fc->text, fc->len, parser->problem_offset);
		if (parser->problem_value != -1)
			err_at(fc, loc_of(mark), NULL, "yaml-syntax",
			       "YAML syntax error: %s (byte 0x%02x); save the file as UTF-8",
			       problem, parser->problem_value & 0xff);
		else
			err_at(fc, loc_of(mark), NULL, "yaml-syntax",
			       "YAML syntax error: %s; save the file as UTF-8", problem);
		return;
	default:
		break;
	}
	if (parser->context)
		err_at(fc, loc_of(mark), NULL, "yaml-syntax",
		       "YAML syntax error: %s (%s at line %zu, column %zu)", problem,
		       parser->context, parser->context_mark.line + 1,
		       parser->context_mark.column + 1);
	else
		err_at(fc, loc_of(mark), NULL, "yaml-syntax", "YAML syntax error: %s", problem);
}

/* A path written in a file is relative to that file's folder. */
static char *resolve_relative(const char *from_file, const char *rel)
{
	const char *slash = strrchr(from_file, '/');
	char *out;

	if (rel[0] == '/' || !slash)
		return strdup(rel);
	if (asprintf(&out, "%.*s/%s", (int)(slash - from_file), from_file, rel) < 0)
		return NULL;
	return out;
}

/* ---- keys of a mapping ---- */

/* A rule and the top level are both mappings of known keys: one table per
 * mapping names its keys, and the same code looks each key up, reports
 * unknown and repeated ones, then hands each value to its key's handler. */

#define KEYS_MAX 24

/* Close enough to suggest: two edits ('patern', 'catgory', 'flgs'). */
#define CLOSE_WORD 2

struct key_draft;

struct key_def {
	const char *name;
	/* The value must be a string (checked before apply sees it). */
	bool string;
	/* One of a rule's bodies; applied after every other key, since a list
	 * file is read with the flags in hand. */
	bool body;
	enum sluice_rule_kind kind;
	void (*apply)(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v);
};

/* A mapping's keys and values as written, by index into its table. */
struct key_draft {
	const yaml_node_t *k[KEYS_MAX];
	const yaml_node_t *v[KEYS_MAX];
	/* Keys an unknown key looks like a misspelling of: such a key is not
	 * reported missing as well, since the typo is the cause. */
	unsigned suggested;
	const char *label;	  /* the rule's label; NULL at the top level */
	struct sluice_rule *rule; /* NULL at the top level */
};

/* One kind of mapping: its table and the words its messages use. */
struct mapping_kind {
	const struct key_def *keys;
	size_t count;
	const char *key_word;	 /* "unknown KEY_WORD 'x'" */
	const char *valid;	 /* what follows an unknown key's message */
	const char *plain_words; /* what follows "a KEY_WORD is a list; " */
	const char *shape_code;	 /* a malformed mapping's code */
	/* "given twice (first at line N)" counts from the first value rather
	 * than the first key: the top level's messages always have. */
	bool first_at_value;
};

static size_t key_index(const struct mapping_kind *m, const yaml_node_t *k)
{
	size_t i;

	for (i = 0; i < m->count && !scalar_is(k, m->keys[i].name); i++)
		;
	return i;
}

static void suggest_key(const struct mapping_kind *m, const yaml_node_t *k,
			struct sluice_suggestion *s)
{
	sluice_suggest_begin(s, scalar_text(k), k->data.scalar.length, CLOSE_WORD);
	for (size_t i = 0; i < m->count; i++)
		sluice_suggest_offer(s, m->keys[i].name);
}

static void unknown_key(struct file_ctx *fc, const struct mapping_kind *m, struct key_draft *d,
			const yaml_node_t *k)
{
	struct sluice_suggestion s;
	char hint[SLUICE_SUGGEST_HINT_MAX];

	if (k->type != YAML_SCALAR_NODE) {
		err_at(fc, loc_of(k->start_mark), d->label, "unknown-key", "a %s is %s; %s",
		       m->key_word, node_kind(k), m->plain_words);
		return;
	}
	suggest_key(m, k, &s);
	if (s.best)
		d->suggested |= 1u << s.best_index;
	err_at(fc, loc_of(k->start_mark), d->label, "unknown-key", "unknown %s '%.*s'%s; %s",
	       m->key_word, shown_len(k), scalar_text(k),
	       sluice_suggest_hint(s.best, hint, sizeof(hint)), m->valid);
}

/* A string key's value; anything else is reported and dropped, so no
 * handler sees it. */
static bool string_value(struct file_ctx *fc, const struct key_draft *d, const char *key,
			 const yaml_node_t *v)
{
	if (v->type != YAML_SCALAR_NODE) {
		err_at(fc, loc_of(v->start_mark), d->label, "not-a-string",
		       "'%s' is %s; it must be a string", key, node_kind(v));
		return false;
	}
	if (scalar_has_nul(v)) {
		err_at(fc, loc_of(v->start_mark), d->label, "not-a-string",
		       "'%s' contains a NUL character; remove the \\0 escape", key);
		return false;
	}
	return true;
}

static void collect_keys(struct file_ctx *fc, const struct mapping_kind *m, const yaml_node_t *node,
			 struct key_draft *d)
{
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(fc->doc, p->value);

		if (!k || !v) {
			err_at(fc, loc_of(node->start_mark), d->label, m->shape_code,
			       "malformed mapping");
			continue;
		}
		size_t i = key_index(m, k);
		if (i == m->count) {
			unknown_key(fc, m, d, k);
			continue;
		}
		if (d->v[i]) {
			const yaml_node_t *first = m->first_at_value ? d->v[i] : d->k[i];
			err_at(fc, loc_of(k->start_mark), d->label, "duplicate-key",
			       "'%s' is given twice (first at line %zu); keep one", m->keys[i].name,
			       first->start_mark.line + 1);
			continue;
		}
		d->k[i] = k;
		d->v[i] = v;
		if (m->keys[i].string && !string_value(fc, d, m->keys[i].name, v))
			d->v[i] = NULL;
	}
}

/* In table order, which is the order the keys' messages come in. */
static void apply_keys(struct file_ctx *fc, const struct mapping_kind *m, struct key_draft *d)
{
	for (size_t i = 0; i < m->count; i++) {
		if (d->v[i] && m->keys[i].apply)
			m->keys[i].apply(fc, d, d->v[i]);
	}
}

/* ---- values ---- */

/* Words a value may be, and how a message about another word lists them. */
struct word_set {
	const char *const *words;
	size_t count;
	const char *what;
	const char *plural;
	const char *valid;
	const char *code;
};

static const char *const flag_words[] = {"caseless", "dotall", "multiline", "whole_word"};
static const char *const action_words[] = {"flag", "mask", "block", "allow"};
static const char *const profile_words[] = {"none", "narrow"};
/* In the order of the SLUICE_OPTIN_* bits. */
static const char *const optin_words[] = {"homophones", "digit_words", "separators"};

static const struct word_set flag_set = {
    .words = flag_words,
    .count = 4,
    .what = "flag",
    .plural = "flags",
    .valid = "caseless, dotall, multiline, whole_word",
    .code = "unknown-flag",
};
static const struct word_set severity_set = {
    .words = sluice_severity_words,
    .count = SLUICE_SEVERITY_CRITICAL,
    .what = "severity",
    .plural = "severities",
    .valid = "low, medium, high, critical",
    .code = "bad-severity",
};
/* The list leaves out allow, which only exempts: other teams' tools match
 * this message, and a close miss of 'allow' still gets the hint. */
static const struct word_set action_set = {
    .words = action_words,
    .count = 4,
    .what = "action",
    .plural = "actions",
    .valid = "flag, mask, block",
    .code = "bad-action",
};

static const struct word_set profile_set = {
    .words = profile_words,
    .count = 2,
    .what = "normalisation profile",
    .plural = "profiles",
    .valid = "narrow (the default), none",
    .code = "bad-profile",
};

static const struct word_set optin_set = {
    .words = optin_words,
    .count = 3,
    .what = "opt-in",
    .plural = "opt-ins",
    .valid = "homophones, digit_words, separators",
    .code = "bad-optin",
};

static int unknown_word(struct file_ctx *fc, const struct key_draft *d, const struct word_set *set,
			const yaml_node_t *v)
{
	char hint[SLUICE_SUGGEST_HINT_MAX];
	const char *near = sluice_suggest_among(scalar_text(v), v->data.scalar.length, set->words,
						set->count, CLOSE_WORD);

	return err_at(fc, loc_of(v->start_mark), d->label, set->code,
		      "unknown %s '%.*s'; valid %s are %s%s", set->what, shown_len(v),
		      scalar_text(v), set->plural, set->valid,
		      sluice_suggest_hint(near, hint, sizeof(hint)));
}

/* A plain true/false; a quoted "true" is a string in YAML, and accepting it
 * would hide a misunderstanding that bites elsewhere in the file. */
static int parse_bool(struct file_ctx *fc, const yaml_node_t *v, const char *rule, const char *key,
		      bool *out)
{
	bool plain = v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

	if (plain && (scalar_is(v, "true") || scalar_is(v, "True") || scalar_is(v, "TRUE"))) {
		*out = true;
		return 0;
	}
	if (plain && (scalar_is(v, "false") || scalar_is(v, "False") || scalar_is(v, "FALSE"))) {
		*out = false;
		return 0;
	}
	return err_at(fc, loc_of(v->start_mark), rule, "bad-bool",
		      "%s must be true or false (unquoted), not '%.*s'", key, shown_len(v),
		      scalar_text(v));
}

/* Where the body's characters are in the file, so a message about a part of
 * a pattern can point at that part. Only a one-line scalar written without
 * escapes maps character for character. */
static void body_columns(const yaml_node_t *v, struct sluice_rule *rule)
{
	size_t src = v->end_mark.column - v->start_mark.column;
	size_t val = utf8_chars(scalar_text(v), v->data.scalar.length);
	size_t quotes = 0;

	rule->body_loc = loc_of(v->start_mark);
	if (v->start_mark.line != v->end_mark.line || v->end_mark.column < v->start_mark.column)
		return;
	for (size_t i = 0; i < v->data.scalar.length; i++)
		quotes += scalar_text(v)[i] == '\'';
	switch (v->data.scalar.style) {
	case YAML_PLAIN_SCALAR_STYLE:
		rule->body_exact = src == val;
		break;
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
		rule->body_exact = src == val + 2 + quotes;
		rule->body_quote = 1;
		rule->body_single_quoted = true;
		break;
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		rule->body_exact = src == val + 2;
		rule->body_quote = 1;
		break;
	default:
		break;
	}
}

/* ---- list files ---- */

/* Reads the list file a `list:` names into rule->list_data. Problems with
 * the path are reported at the rule, where the path is written. */
static int read_list_file(struct file_ctx *fc, const yaml_node_t *v, const char *rule_id,
			  struct sluice_rule *rule, size_t *len)
{
	char why[256];

	rule->list_path = resolve_relative(fc->path, scalar_text(v));
	if (!rule->list_path) {
		oom(fc->ld);
		return -1;
	}
	if (read_whole_file(rule->list_path, LIST_FILE_MAX_BYTES, "list file", &rule->list_data,
			    len, why, sizeof(why)) != 0)
		return err_at(fc, loc_of(v->start_mark), rule_id, "list-file",
			      "list file %s: %s; the path is relative to %s", rule->list_path, why,
			      fc->path);
	return 0;
}

/* Whether a line of a list file is a literal: comment and empty lines are
 * not, nor is a line with a problem, which is reported at LIST:LINE since
 * that is the file the analyst has to edit. */
static bool list_line_is_literal(struct loader *ld, const char *path, const char *rule_id,
				 const char *line, size_t len, unsigned line_no)
{
	struct sluice_loc here = {line_no, 1};
	size_t lead = 0;

	if (len == 0)
		return false;
	while (lead < len && (line[lead] == ' ' || line[lead] == '\t'))
		lead++;
	if (lead < len && line[lead] == '#')
		return false;
	if (memchr(line, '\0', len)) {
		file_err(ld, path, here, rule_id, "list-file",
			 "line %u contains a NUL byte; save the list as UTF-8 text", line_no);
		return false;
	}
	size_t bad = sluice_utf8_invalid_at((const uint8_t *)line, len);
	if (bad < len) {
		here.column = (unsigned)utf8_chars(line, bad) + 1;
		file_err(ld, path, here, rule_id, "list-file",
			 "line %u is not valid UTF-8 (byte 0x%02x); save the list as UTF-8",
			 line_no, (unsigned char)line[bad]);
		return false;
	}
	if (lead == len) {
		file_err(ld, path, here, rule_id, "empty-literal",
			 "line %u is only whitespace, which would match every space in a "
			 "message; delete the line or write the literal",
			 line_no);
		return false;
	}
	if (lead || is_space((unsigned char)line[len - 1]))
		file_warn(ld, path, here, rule_id, "literal-whitespace",
			  "line %u has %s whitespace, which is part of the literal and must "
			  "appear in a message for it to match; remove it unless meant",
			  line_no, lead ? "leading" : "trailing");
	if (len > UINT32_MAX) {
		file_err(ld, path, here, rule_id, "list-file", "line %u is too long", line_no);
		return false;
	}
	return true;
}

static int add_literal(struct sluice_rule *rule, size_t *cap, struct sluice_literal lit)
{
	if (rule->literal_count == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct sluice_literal *p = realloc(rule->literals, c * sizeof(*p));
		if (!p)
			return -1;
		rule->literals = p;
		*cap = c;
	}
	rule->literals[rule->literal_count++] = lit;
	return 0;
}

/* Splits rule->list_data into rule->literals, one per literal line; each
 * line is cut in place, so the literals point into list_data. */
static int split_list(struct loader *ld, const char *rule_id, struct sluice_rule *rule, size_t len)
{
	char *data = rule->list_data;
	size_t at = 0, cap = 0;
	unsigned line_no = 0;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		at = 3;
	while (at < len) {
		char *line = data + at;
		char *nl = memchr(line, '\n', len - at);
		size_t ll = nl ? (size_t)(nl - line) : len - at;

		at += ll + (nl ? 1 : 0);
		line_no++;
		line[ll] = '\0';
		if (ll && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (!list_line_is_literal(ld, rule->list_path, rule_id, line, ll, line_no))
			continue;
		if (add_literal(rule, &cap,
				(struct sluice_literal){.text = line,
							.len = (uint32_t)ll,
							.line = line_no,
							.column = 1}) != 0) {
			free(rule->literals);
			rule->literals = NULL;
			rule->literal_count = 0;
			oom(ld);
			return -1;
		}
	}
	return 0;
}

struct lit_set {
	uint32_t *slots; /* literal index + 1 */
	size_t mask;
};

/* The same literal twice is harmless to Hyperscan but usually means a list
 * was merged twice; say so once per duplicate. */
static int warn_duplicate_literals(struct loader *ld, const char *rule_id,
				   const struct sluice_rule *rule)
{
	const struct sluice_literal *lits = rule->literals;
	bool fold = rule->flags & SLUICE_RULE_CASELESS;
	struct lit_set set = {0};
	size_t slots = 64, n = rule->literal_count;

	while (slots < n * 2)
		slots *= 2;
	set.slots = calloc(slots, sizeof(*set.slots));
	set.mask = slots - 1;
	if (!set.slots) {
		oom(ld);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		size_t slot = (size_t)hash_bytes(lits[i].text, lits[i].len, fold) & set.mask;
		bool dup = false;

		while (set.slots[slot]) {
			const struct sluice_literal *o = &lits[set.slots[slot] - 1];
			if (o->len == lits[i].len &&
			    (fold ? strncasecmp(o->text, lits[i].text, o->len) == 0
				  : memcmp(o->text, lits[i].text, o->len) == 0)) {
				file_warn(ld, rule->list_path, (struct sluice_loc){lits[i].line, 1},
					  rule_id, "duplicate-literal",
					  "line %u repeats line %u ('%.*s'); delete one",
					  lits[i].line, o->line,
					  lits[i].len > 64 ? 64 : (int)lits[i].len, lits[i].text);
				dup = true;
				break;
			}
			slot = (slot + 1) & set.mask;
		}
		if (!dup)
			set.slots[slot] = (uint32_t)(i + 1);
	}
	free(set.slots);
	return 0;
}

/* Reads a list file: one literal per line, '#' comment lines and empty
 * lines skipped. */
static int load_list(struct file_ctx *fc, const yaml_node_t *v, const char *rule_id,
		     struct sluice_rule *rule)
{
	struct loader *ld = fc->ld;
	size_t len = 0, errors_before = ld->errors;

	if (read_list_file(fc, v, rule_id, rule, &len) != 0 ||
	    split_list(ld, rule_id, rule, len) != 0)
		return -1;
	if (rule->literal_count == 0 && ld->errors == errors_before)
		return err_at(fc, loc_of(v->start_mark), rule_id, "empty-list",
			      "list file %s has no literals (only comments and empty lines); add "
			      "one per line",
			      rule->list_path);
	if (warn_duplicate_literals(ld, rule_id, rule) != 0)
		return -1;
	return ld->errors == errors_before ? 0 : -1;
}

/* ---- a rule's keys ---- */

static void add_flag(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *f)
{
	struct sluice_rule *rule = d->rule;
	unsigned bit = 0;

	for (unsigned i = 0; i < flag_set.count; i++) {
		if (scalar_is(f, flag_words[i]))
			bit = 1u << i;
	}
	if (!bit) {
		unknown_word(fc, d, &flag_set, f);
		return;
	}
	if (rule->flags & bit)
		warn_at(fc, loc_of(f->start_mark), d->label, "duplicate-flag",
			"flag '%s' is given twice; keep one", scalar_text(f));
	if (bit == SLUICE_RULE_WHOLE_WORD)
		rule->whole_word_loc = loc_of(f->start_mark);
	rule->flags |= bit;
}

static void apply_flags(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	d->rule->flags_loc = loc_of(v->start_mark);
	if (v->type != YAML_SEQUENCE_NODE) {
		err_at(fc, loc_of(v->start_mark), d->label, "bad-flags",
		       "flags is %s; write a list such as [caseless, whole_word]", node_kind(v));
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *f = yaml_document_get_node(fc->doc, *it);

		if (!f || f->type != YAML_SCALAR_NODE)
			err_at(fc, loc_of(f ? f->start_mark : v->start_mark), d->label,
			       "unknown-flag", "a flag is %s; flags are words: %s",
			       f ? node_kind(f) : "missing", flag_set.valid);
		else
			add_flag(fc, d, f);
	}
}

static void add_examples(struct file_ctx *fc, const struct key_draft *d, const yaml_node_t *v,
			 const char *key, bool should_match)
{
	struct sluice_rule *rule = d->rule;

	if (v->type != YAML_SEQUENCE_NODE) {
		err_at(fc, loc_of(v->start_mark), d->label, "bad-examples",
		       "'%s' is %s; write a list of example messages, one per '- ' line", key,
		       node_kind(v));
		return;
	}
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	struct sluice_example *ex =
	    realloc(rule->examples, (rule->example_count + n + 1) * sizeof(*ex));
	if (!ex) {
		oom(fc->ld);
		return;
	}
	rule->examples = ex;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(fc->doc, *it);

		if (!e || e->type != YAML_SCALAR_NODE) {
			err_at(fc, loc_of(e ? e->start_mark : v->start_mark), d->label,
			       "bad-examples", "an example in '%s' is %s; write it as a string",
			       key, e ? node_kind(e) : "missing");
			continue;
		}
		if (scalar_has_nul(e)) {
			err_at(fc, loc_of(e->start_mark), d->label, "bad-examples",
			       "an example contains a NUL character; remove the \\0 escape");
			continue;
		}
		struct sluice_example *x = &rule->examples[rule->example_count];
		x->text = dup_scalar(e);
		x->should_match = should_match;
		x->loc = loc_of(e->start_mark);
		if (!x->text) {
			oom(fc->ld);
			return;
		}
		rule->example_count++;
	}
}

static void apply_id(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	d->rule->id_loc = loc_of(v->start_mark);
	if (check_name(fc, v, d->label, "id", "bad-id") == 0)
		d->rule->id = dup_scalar(v);
}

static void apply_category(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	if (check_name(fc, v, d->label, "category", "bad-category") == 0)
		d->rule->category = dup_scalar(v);
}

static void apply_action(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	struct sluice_rule *rule = d->rule;

	rule->action_loc = loc_of(v->start_mark);
	if (scalar_is(v, "allow")) {
		rule->allow = true;
		rule->action = SLUICE_ACTION_NONE;
	} else if (!sluice_action_parse(scalar_text(v), &rule->action)) {
		unknown_word(fc, d, &action_set, v);
	}
}

static void apply_severity(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	enum sluice_severity severity;
	d->rule->severity_loc = loc_of(v->start_mark);
	/* A scalar with a NUL inside ("low\0") is no word, whatever its start. */
	if (v->type == YAML_SCALAR_NODE && strlen(scalar_text(v)) == v->data.scalar.length &&
	    sluice_severity_parse(scalar_text(v), &severity)) {
		d->rule->severity = severity;
		return;
	}
	unknown_word(fc, d, &severity_set, v);
}

static void apply_description(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	(void)fc;
	d->rule->description = dup_scalar(v);
}

/* Runs after flags, which it must agree with. */
static void apply_caseless(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	bool caseless;

	if (parse_bool(fc, v, d->label, "caseless", &caseless) != 0)
		return;
	if (!caseless && (d->rule->flags & SLUICE_RULE_CASELESS))
		err_at(fc, loc_of(v->start_mark), d->label, "bad-bool",
		       "caseless: false contradicts flags: [caseless]; keep one");
	if (caseless)
		d->rule->flags |= SLUICE_RULE_CASELESS;
}

static void apply_quiet(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	d->rule->quiet_loc = loc_of(v->start_mark);
	parse_bool(fc, v, d->label, "quiet", &d->rule->quiet);
}

/* normalize: true or false, or a list of the opt-ins the rule wants on top
 * of the pack's folding (fold_optin.h). */
static void apply_normalize(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	bool folded = true;

	d->rule->normalize_loc = loc_of(v->start_mark);
	if (v->type == YAML_SCALAR_NODE) {
		if (parse_bool(fc, v, d->label, "normalize", &folded) == 0)
			d->rule->raw = !folded;
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE ||
	    v->data.sequence.items.top == v->data.sequence.items.start) {
		err_at(fc, loc_of(v->start_mark), d->label, "bad-optin",
		       "normalize is %s; write true, false, or a list of %s", node_kind(v),
		       optin_set.valid);
		return;
	}
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *w = yaml_document_get_node(fc->doc, *it);
		unsigned k = 0;
		while (w && w->type == YAML_SCALAR_NODE && k < optin_set.count &&
		       !scalar_is(w, optin_words[k]))
			k++;
		if (!w || w->type != YAML_SCALAR_NODE)
			err_at(fc, loc_of(w ? w->start_mark : v->start_mark), d->label, "bad-optin",
			       "an opt-in is %s; opt-ins are words: %s",
			       w ? node_kind(w) : "missing", optin_set.valid);
		else if (k == optin_set.count)
			unknown_word(fc, d, &optin_set, w);
		else
			d->rule->optin |= 1u << k;
	}
}

static void apply_expires(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	struct sluice_rule *rule = d->rule;

	rule->expires_loc = loc_of(v->start_mark);
	if (!sluice_parse_expiry(scalar_text(v), &rule->expires_at))
		err_at(fc, rule->expires_loc, d->label, "bad-date",
		       "expires '%.*s' is not a date; write YYYY-MM-DD, for example 2026-12-31 "
		       "(the rule then stops applying after that day, UTC)",
		       shown_len(v), scalar_text(v));
}

static void apply_starts(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	struct sluice_rule *rule = d->rule;

	rule->starts_loc = loc_of(v->start_mark);
	if (!sluice_parse_start(scalar_text(v), &rule->starts_at))
		err_at(fc, rule->starts_loc, d->label, "bad-date",
		       "starts '%.*s' is not a date; write YYYY-MM-DD, for example 2026-12-31 "
		       "(the rule then applies from the start of that day, UTC)",
		       shown_len(v), scalar_text(v));
}

static void apply_matches(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	add_examples(fc, d, v, "matches", true);
}

static void apply_does_not_match(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	add_examples(fc, d, v, "does_not_match", false);
}

enum rule_key {
	K_ID,
	K_CATEGORY,
	K_ACTION,
	K_SEVERITY,
	K_DESCRIPTION,
	K_PATTERN,
	K_LITERAL,
	K_LIST,
	K_COMBINATION,
	K_FLAGS,
	K_CASELESS,
	K_QUIET,
	K_NORMALIZE,
	K_EXPIRES,
	K_STARTS,
	K_MATCHES,
	K_DOES_NOT_MATCH,
	K_COUNT
};

static const struct key_def rule_keys[K_COUNT] = {
    [K_ID] = {"id", .string = true, .apply = apply_id},
    [K_CATEGORY] = {"category", .string = true, .apply = apply_category},
    [K_ACTION] = {"action", .string = true, .apply = apply_action},
    [K_SEVERITY] = {"severity", .string = true, .apply = apply_severity},
    [K_DESCRIPTION] = {"description", .string = true, .apply = apply_description},
    [K_PATTERN] = {"pattern", .string = true, .body = true, .kind = SLUICE_RULE_PATTERN},
    [K_LITERAL] = {"literal", .string = true, .body = true, .kind = SLUICE_RULE_LITERAL},
    [K_LIST] = {"list", .string = true, .body = true, .kind = SLUICE_RULE_LIST},
    [K_COMBINATION] = {"combination", .string = true, .body = true,
		       .kind = SLUICE_RULE_COMBINATION},
    [K_FLAGS] = {"flags", .apply = apply_flags},
    [K_CASELESS] = {"caseless", .string = true, .apply = apply_caseless},
    [K_QUIET] = {"quiet", .string = true, .apply = apply_quiet},
    [K_NORMALIZE] = {"normalize", .apply = apply_normalize},
    [K_EXPIRES] = {"expires", .string = true, .apply = apply_expires},
    [K_STARTS] = {"starts", .string = true, .apply = apply_starts},
    [K_MATCHES] = {"matches", .apply = apply_matches},
    [K_DOES_NOT_MATCH] = {"does_not_match", .apply = apply_does_not_match},
};

_Static_assert(K_COUNT <= KEYS_MAX, "a rule's keys fit a key_draft");

#define RULE_KEY_LIST                                                                              \
	"id, category, action, severity, description, pattern, literal, list, combination, "       \
	"flags, caseless, quiet, normalize, expires, starts, matches, does_not_match"

static const struct mapping_kind rule_mapping = {
    .keys = rule_keys,
    .count = K_COUNT,
    .key_word = "key",
    .valid = "valid keys are " RULE_KEY_LIST,
    .plain_words = "keys are plain words: " RULE_KEY_LIST,
    .shape_code = "rule-shape",
};

/* ---- rules ---- */

static void free_rule(struct sluice_rule *r)
{
	free(r->id);
	free(r->pattern);
	free(r->category);
	free(r->description);
	free(r->file);
	free(r->literals);
	free(r->list_path);
	free(r->list_data);
	for (size_t i = 0; i < r->example_count; i++)
		free(r->examples[i].text);
	free(r->examples);
	memset(r, 0, sizeof(*r));
}

static struct sluice_rule *new_rule(struct loader *ld)
{
	struct sluice_rule_list *list = ld->list;

	if (list->count == ld->rule_cap) {
		size_t cap = ld->rule_cap ? ld->rule_cap * 2 : 16;
		struct sluice_rule *r = realloc(list->rules, cap * sizeof(*r));
		if (!r) {
			oom(ld);
			return NULL;
		}
		list->rules = r;
		ld->rule_cap = cap;
	}
	struct sluice_rule *r = &list->rules[list->count];
	memset(r, 0, sizeof(*r));
	return r;
}

/* The id names the rule in every later message, so it is found first even
 * when the analyst wrote it after the other keys. */
static void label_by_id(struct file_ctx *fc, const yaml_node_t *node, char *label, size_t size)
{
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(fc->doc, p->value);
		if (k && v && scalar_is(k, "id") && v->type == YAML_SCALAR_NODE &&
		    v->data.scalar.length > 0 && !scalar_has_nul(v)) {
			snprintf(label, size, "%.*s",
				 (int)(v->data.scalar.length > SLUICE_RULE_ID_MAX
					   ? SLUICE_RULE_ID_MAX
					   : v->data.scalar.length),
				 scalar_text(v));
			return;
		}
	}
}

static void report_missing_keys(struct file_ctx *fc, const struct key_draft *d,
				const yaml_node_t *node)
{
	static const unsigned required[3] = {K_ID, K_ACTION, K_CATEGORY};

	for (unsigned i = 0; i < 3; i++) {
		if (!d->k[required[i]] && !(d->suggested & (1u << required[i])))
			err_at(fc, loc_of(node->start_mark), d->label, "missing-key",
			       "missing '%s'; every rule needs id, category, action and one of "
			       "pattern, literal, list or combination",
			       rule_keys[required[i]].name);
	}
}

/* Exactly one body; returns its key, or K_COUNT. */
static unsigned choose_body(struct file_ctx *fc, const struct key_draft *d, const yaml_node_t *node)
{
	unsigned body = K_COUNT, body_keys = 0;

	for (unsigned i = 0; i < K_COUNT; i++) {
		if (!rule_keys[i].body)
			continue;
		body_keys |= 1u << i;
		if (!d->k[i])
			continue;
		if (body == K_COUNT) {
			body = i;
			continue;
		}
		err_at(fc, loc_of(d->k[i]->start_mark), d->label, "two-bodies",
		       "gives both '%s' (line %zu) and '%s'; give exactly one of pattern, "
		       "literal, list or combination (split it into two rules if both are "
		       "meant)",
		       rule_keys[body].name, d->k[body]->start_mark.line + 1, rule_keys[i].name);
	}
	if (body == K_COUNT && !(d->suggested & body_keys))
		err_at(fc, loc_of(node->start_mark), d->label, "missing-key",
		       "missing 'pattern', 'literal', 'list' or 'combination'; give exactly one: "
		       "what the rule matches");
	return body;
}

/* A literal rule's one literal is its body, whitespace and all. */
static void literal_body(struct file_ctx *fc, const struct key_draft *d, struct sluice_rule *rule,
			 size_t n)
{
	size_t sp = 0;

	while (sp < n && is_space((unsigned char)rule->pattern[sp]))
		sp++;
	if (sp == n)
		err_at(fc, rule->body_loc, d->label, "empty-literal",
		       "literal is only whitespace, which would match every space in a message; "
		       "write the text to match");
	else if (sp || is_space((unsigned char)rule->pattern[n - 1]))
		warn_at(fc, rule->body_loc, d->label, "literal-whitespace",
			"literal has %s whitespace, which is part of the literal and must appear "
			"in a message for it to match; remove it unless meant",
			sp ? "leading" : "trailing");
	rule->literals = calloc(1, sizeof(*rule->literals));
	if (!rule->literals) {
		oom(fc->ld);
		return;
	}
	rule->literals[0] = (struct sluice_literal){.text = rule->pattern,
						    .len = (uint32_t)n,
						    .line = rule->body_loc.line,
						    .column = rule->body_loc.column};
	rule->literal_count = 1;
}

static void apply_body(struct file_ctx *fc, const struct key_draft *d, const struct key_def *key,
		       const yaml_node_t *v)
{
	static const char *const empty[] = {
	    [SLUICE_RULE_PATTERN] = "pattern is empty; write the regular expression to match",
	    [SLUICE_RULE_LITERAL] = "literal is empty; write the text to match",
	    [SLUICE_RULE_LIST] = "list is empty; write the path of a list file",
	    [SLUICE_RULE_COMBINATION] =
		"combination is empty; write an expression such as 'a and not b'"};
	struct sluice_rule *rule = d->rule;
	size_t n = v->data.scalar.length;

	body_columns(v, rule);
	rule->kind = key->kind;
	rule->pattern = dup_scalar(v);
	if (!rule->pattern)
		oom(fc->ld);
	else if (n == 0)
		err_at(fc, rule->body_loc, d->label,
		       rule->kind == SLUICE_RULE_LITERAL ? "empty-literal" : "empty-body", "%s",
		       empty[rule->kind]);
	else if (rule->kind == SLUICE_RULE_LITERAL)
		literal_body(fc, d, rule, n);
	else if (rule->kind == SLUICE_RULE_LIST)
		load_list(fc, v, d->label, rule);
}

/* Checks between keys, once every key has been read. */
static void check_rule_as_a_whole(struct file_ctx *fc, const struct key_draft *d,
				  const struct sluice_rule *rule)
{
	if (rule->kind == SLUICE_RULE_COMBINATION && d->v[K_ACTION] &&
	    (rule->allow || rule->action == SLUICE_ACTION_MASK))
		err_at(fc, rule->action_loc, d->label, "combination-action",
		       "a combination cannot %s: its match has no span of text of its own (it "
		       "spans the message up to where it became true); use flag or block, and "
		       "mask the operands with rules of their own",
		       rule->allow ? "allow" : "mask");
	if (rule->allow && rule->quiet)
		err_at(fc, rule->quiet_loc, d->label, "quiet-allow",
		       "an allow rule cannot be quiet: it never acts on its own anyway and "
		       "cannot be an operand of a combination; remove 'quiet'");
}

/* Parses one rule into rule; returns 0 when it is complete and valid. Every
 * problem is reported; the caller keeps a rule with problems out of the
 * compiled set but still knows its id. */
static int parse_rule(struct file_ctx *fc, const yaml_node_t *node, size_t index,
		      struct sluice_rule *rule)
{
	char label[SLUICE_RULE_ID_MAX + 32];
	struct key_draft d = {.label = label, .rule = rule};
	size_t errors_before = fc->ld->errors;

	snprintf(label, sizeof(label), "#%zu", index + 1);
	rule->line = (unsigned)node->start_mark.line + 1;
	rule->column = (unsigned)node->start_mark.column + 1;
	if (node->type != YAML_MAPPING_NODE)
		return err_at(fc, loc_of(node->start_mark), label, "rule-shape",
			      "is %s, not a mapping; write each rule as '- id: ...' followed by "
			      "category, action and a pattern, literal, list or combination",
			      node_kind(node));
	label_by_id(fc, node, label, sizeof(label));
	collect_keys(fc, &rule_mapping, node, &d);
	report_missing_keys(fc, &d, node);
	unsigned body = choose_body(fc, &d, node);

	rule->severity = SLUICE_SEVERITY_MEDIUM;
	apply_keys(fc, &rule_mapping, &d);
	rule->caseless = rule->flags & SLUICE_RULE_CASELESS;
	if (body != K_COUNT && d.v[body])
		apply_body(fc, &d, &rule_keys[body], d.v[body]);
	check_rule_as_a_whole(fc, &d, rule);
	return fc->ld->errors == errors_before ? 0 : -1;
}

/* ---- documents and includes ---- */

static int parse_header_string(struct file_ctx *fc, const yaml_node_t *v, const char *key,
			       bool allow_empty, char **out)
{
	if (v->type != YAML_SCALAR_NODE)
		return err_at(fc, loc_of(v->start_mark), NULL, "not-a-string",
			      "'%s' is %s; it must be a string", key, node_kind(v));
	if (v->data.scalar.length == 0 && !allow_empty)
		return err_at(fc, loc_of(v->start_mark), NULL, "empty-value",
			      "'%s' is empty; give it a value", key);
	if (scalar_has_nul(v))
		return err_at(fc, loc_of(v->start_mark), NULL, "not-a-string",
			      "'%s' contains a NUL character; remove the \\0 escape", key);
	if (out) {
		*out = dup_scalar(v);
		if (!*out)
			oom(fc->ld);
	}
	return 0;
}

/* Only the file named on the command line names the pack; an included
 * file's own name and version are checked but describe only itself. */
static char **root_only(struct file_ctx *fc, char **field)
{
	return fc->is_root ? field : NULL;
}

static void apply_name(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	(void)d;
	parse_header_string(fc, v, "name", false, root_only(fc, &fc->ld->list->name));
}

static void apply_version(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	(void)d;
	parse_header_string(fc, v, "version", false, root_only(fc, &fc->ld->list->version));
}

static void apply_owner(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	(void)d;
	parse_header_string(fc, v, "owner", true, root_only(fc, &fc->ld->list->owner));
}

/* The pack's profile is the root file's; an included file's is checked
 * only. */
static void apply_profile(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	if (parse_header_string(fc, v, "normalize", false, NULL) != 0)
		return;
	for (unsigned i = 0; i < profile_set.count; i++) {
		if (scalar_is(v, profile_words[i])) {
			if (fc->is_root)
				fc->ld->list->normalize = (enum sluice_norm_profile)i;
			return;
		}
	}
	unknown_word(fc, d, &profile_set, v);
}

static void apply_file_description(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	(void)d;
	parse_header_string(fc, v, "description", true, root_only(fc, &fc->ld->list->description));
}

/* The pack's default name is the rule file's base name without extension. */
static char *default_name(const char *path)
{
	const char *base = strrchr(path, '/');
	const char *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		return strdup(*base ? base : "rules");
	return strndup(base, (size_t)(dot - base));
}

static void load_file(struct loader *ld, const char *path, const char *from_file,
		      struct sluice_loc from_loc);

static void apply_include(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *inc)
{
	(void)d;
	if (inc->type != YAML_SEQUENCE_NODE) {
		err_at(fc, loc_of(inc->start_mark), NULL, "bad-include",
		       "'include' is %s; write a list of rule files, one per '- ' line",
		       node_kind(inc));
		return;
	}
	for (yaml_node_item_t *it = inc->data.sequence.items.start;
	     it < inc->data.sequence.items.top; it++) {
		yaml_node_t *v = yaml_document_get_node(fc->doc, *it);

		if (!v || v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0 ||
		    scalar_has_nul(v)) {
			err_at(fc, loc_of(v ? v->start_mark : inc->start_mark), NULL, "bad-include",
			       "an include is %s; write the path of a rule file, relative to this "
			       "file",
			       v && v->type != YAML_SCALAR_NODE ? node_kind(v) : "empty");
			continue;
		}
		char *path = resolve_relative(fc->path, scalar_text(v));
		if (!path) {
			oom(fc->ld);
			return;
		}
		load_file(fc->ld, path, fc->path, loc_of(v->start_mark));
		free(path);
	}
}

/* ids are unique across every file of the pack. Returns -1 after reporting
 * a rule whose id came earlier. */
static int check_unique_id(struct file_ctx *fc, const struct sluice_rule *rule)
{
	const struct id_entry *first = ids_add(fc->ld, rule->id, fc->path, rule->line);
	struct sluice_loc at = {rule->line, rule->column};

	if (!first)
		return 0;
	if (strcmp(first->file, fc->path) == 0)
		return err_at(fc, at, rule->id, "duplicate-id",
			      "duplicate id; it is first defined at line %u; give each rule its "
			      "own id",
			      first->line);
	return err_at(fc, at, rule->id, "duplicate-id",
		      "duplicate id; it is first defined at %s:%u; ids are unique across "
		      "included files, so give each rule its own id",
		      first->file, first->line);
}

/* A rule without an id is dropped: nothing could name it. Any other rule
 * with problems is kept, marked invalid, so later checks know its id. */
static void add_rule(struct file_ctx *fc, const yaml_node_t *item, size_t index,
		     struct sluice_rule *rule)
{
	struct loader *ld = fc->ld;
	int rc = parse_rule(fc, item, index, rule);

	rule->file = strdup(fc->path);
	if (!rule->file)
		oom(ld);
	if (rule->id && check_unique_id(fc, rule) != 0)
		rc = -1;
	if (!rule->id) {
		free_rule(rule);
		return;
	}
	rule->invalid = rc != 0;
	ld->list->count++;
}

enum top_key {
	TOP_NAME,
	TOP_VERSION,
	TOP_OWNER,
	TOP_DESCRIPTION,
	TOP_NORMALIZE,
	TOP_INCLUDE,
	TOP_RULES,
	TOP_COUNT
};

static void apply_rules(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *rules)
{
	struct loader *ld = fc->ld;

	if (rules->type != YAML_SEQUENCE_NODE) {
		err_at(fc, loc_of(rules->start_mark), NULL, "structure",
		       "'rules' is %s; it must be a list of rules, each starting with '- id:'",
		       node_kind(rules));
		return;
	}
	size_t count = (size_t)(rules->data.sequence.items.top - rules->data.sequence.items.start);
	if (count == 0 && !d->v[TOP_INCLUDE]) {
		err_at(fc, loc_of(rules->start_mark), NULL, "structure",
		       "'rules' is an empty list; add at least one rule");
		return;
	}
	for (size_t i = 0; i < count && !ld->oom; i++) {
		yaml_node_t *item =
		    yaml_document_get_node(fc->doc, rules->data.sequence.items.start[i]);
		struct sluice_rule *rule = new_rule(ld);

		if (!rule)
			return;
		if (!item)
			err_at(fc, loc_of(rules->start_mark), NULL, "structure", "malformed list");
		else
			add_rule(fc, item, i, rule);
	}
}

#define TOP_KEY_LIST "name, version, owner, description, normalize, include, rules"

/* Headers first, then includes, then the file's own rules: the order their
 * messages and rules come in. */
static const struct key_def top_keys[TOP_COUNT] = {
    [TOP_NAME] = {"name", .apply = apply_name},
    [TOP_VERSION] = {"version", .apply = apply_version},
    [TOP_OWNER] = {"owner", .apply = apply_owner},
    [TOP_DESCRIPTION] = {"description", .apply = apply_file_description},
    [TOP_NORMALIZE] = {"normalize", .apply = apply_profile},
    [TOP_INCLUDE] = {"include", .apply = apply_include},
    [TOP_RULES] = {"rules", .apply = apply_rules},
};

static const struct mapping_kind top_level = {
    .keys = top_keys,
    .count = TOP_COUNT,
    .key_word = "top-level key",
    .valid = "valid keys are " TOP_KEY_LIST,
    .plain_words = "valid keys are " TOP_KEY_LIST,
    .shape_code = "structure",
    .first_at_value = true,
};

/* Whether some top-level key is a rule-file key, or a misspelling of one.
 * When none is, the file is something else (a password file, a log) and
 * messages must not quote it: a daemon running as root reads the files that
 * control clients name, and its refusals go back to them. */
static bool looks_like_rule_file(struct file_ctx *fc, const yaml_node_t *root)
{
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		struct sluice_suggestion s;

		if (k == NULL || k->type != YAML_SCALAR_NODE)
			continue;
		if (key_index(&top_level, k) < top_level.count)
			return true;
		suggest_key(&top_level, k, &s);
		if (s.best)
			return true;
	}
	return false;
}

static void parse_document(struct file_ctx *fc)
{
	yaml_node_t *root = yaml_document_get_root_node(fc->doc);
	struct key_draft d = {0};

	if (!root) {
		err_at(fc, file_start, NULL, "structure",
		       "the file is empty; expected a mapping with a 'rules:' list");
		return;
	}
	if (root->type != YAML_MAPPING_NODE) {
		err_at(fc, loc_of(root->start_mark), NULL, "structure",
		       "the top level is %s, not a YAML mapping; start the file with 'name:', "
		       "'version:' and 'rules:'",
		       node_kind(root));
		return;
	}
	if (!looks_like_rule_file(fc, root)) {
		err_at(fc, file_start, NULL, "structure",
		       "not a Sluice rule file: no top-level key is name, version, owner, "
		       "description, include or rules (nothing of the file is shown)");
		return;
	}
	collect_keys(fc, &top_level, root, &d);
	apply_keys(fc, &top_level, &d);
	if (!d.v[TOP_RULES] && !d.v[TOP_INCLUDE] && !(d.suggested & (1u << TOP_RULES)))
		err_at(fc, loc_of(root->start_mark), NULL, "structure",
		       "missing 'rules:' list; add 'rules:' followed by '- id: ...' items");
}

static bool in_stack(struct loader *ld, const char *real, unsigned *at)
{
	for (unsigned i = 0; i < ld->depth; i++) {
		if (strcmp(ld->stack[i], real) == 0) {
			*at = i;
			return true;
		}
	}
	return false;
}

/* "a includes b, which includes a again", from where the cycle starts. */
static void report_cycle(struct loader *ld, const char *path, const char *from_file,
			 struct sluice_loc from_loc, unsigned cycle_at)
{
	char chain[1024];
	size_t at = 0;

	for (unsigned i = cycle_at; i <= ld->depth && at < sizeof(chain); i++) {
		const char *name = i < ld->depth ? ld->stack_shown[i] : path;
		const char *join = i == cycle_at       ? ""
				   : i == cycle_at + 1 ? " includes "
						       : ", which includes ";
		int n = snprintf(chain + at, sizeof(chain) - at, "%s%s", join, name);
		if (n > 0)
			at += (size_t)n;
	}
	file_err(ld, from_file, from_loc, NULL, "include-cycle",
		 "include cycle: %s again; remove this include", chain);
}

/* Whether the file may be read: it exists, is not being loaded already (a
 * cycle), was not read before and is not nested too deep. Returns its
 * resolved path, or NULL after reporting why not. */
static char *admit_file(struct loader *ld, const char *path, const char *from_file,
			struct sluice_loc from_loc)
{
	char *real = realpath(path, NULL);
	unsigned cycle_at;

	if (!real) {
		if (from_file)
			file_err(ld, from_file, from_loc, NULL, "include",
				 "cannot include %s: %s; the path is relative to %s", path,
				 strerror(errno), from_file);
		else
			file_err(ld, path, file_start, NULL, "open", "cannot open: %s",
				 strerror(errno));
		return NULL;
	}
	if (in_stack(ld, real, &cycle_at)) {
		report_cycle(ld, path, from_file, from_loc, cycle_at);
		free(real);
		return NULL;
	}
	for (size_t i = 0; i < ld->nreal; i++) {
		if (strcmp(ld->real[i], real) != 0)
			continue;
		if (from_file && ld->included_at[i].file)
			file_err(ld, from_file, from_loc, NULL, "duplicate-include",
				 "%s is already included (at %s:%u:%u); include each file once",
				 path, ld->included_at[i].file, ld->included_at[i].loc.line,
				 ld->included_at[i].loc.column);
		else if (from_file)
			file_err(ld, from_file, from_loc, NULL, "duplicate-include",
				 "%s is the file being loaded; a file cannot include itself", path);
		free(real);
		return NULL;
	}
	if (ld->depth >= INCLUDE_MAX_DEPTH) {
		file_err(ld, from_file, from_loc, NULL, "include",
			 "includes are nested more than %d deep; flatten them", INCLUDE_MAX_DEPTH);
		free(real);
		return NULL;
	}
	return real;
}

/* Records the file as read (real is kept) and returns the path messages
 * name it by, or NULL when out of memory (real is freed). */
static const char *remember_file(struct loader *ld, char *real, const char *path,
				 const char *from_file, struct sluice_loc from_loc)
{
	char **r = realloc(ld->real, (ld->nreal + 1) * sizeof(*r));
	if (r)
		ld->real = r;
	void *ia = realloc(ld->included_at, (ld->nreal + 1) * sizeof(*ld->included_at));
	if (ia)
		ld->included_at = ia;
	char **files = realloc(ld->list->files, (ld->list->file_count + 1) * sizeof(*files));
	if (files)
		ld->list->files = files;
	char *shown = strdup(path);
	if (!r || !ia || !files || !shown) {
		free(shown);
		free(real);
		oom(ld);
		return NULL;
	}
	ld->list->files[ld->list->file_count++] = shown;
	ld->real[ld->nreal] = real;
	ld->included_at[ld->nreal].file = from_file;
	ld->included_at[ld->nreal].loc = from_loc;
	ld->nreal++;
	return shown;
}

/* A second document would be silently ignored by a loader that stops at the
 * first; an analyst who concatenated two files expects both to count. */
static void refuse_second_document(struct file_ctx *fc, yaml_parser_t *parser)
{
	yaml_document_t next;

	if (!yaml_parser_load(parser, &next)) {
		yaml_failure(fc, parser);
		return;
	}
	if (yaml_document_get_root_node(&next))
		err_at(fc, loc_of(next.start_mark), NULL, "structure",
		       "a second YAML document starts here; a rule file holds one document, so "
		       "merge the rules lists");
	yaml_document_delete(&next);
}

static void parse_text(struct file_ctx *fc)
{
	yaml_parser_t parser;
	yaml_document_t doc;

	if (!yaml_parser_initialize(&parser)) {
		oom(fc->ld);
		return;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)fc->text, fc->len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_failure(fc, &parser);
		yaml_parser_delete(&parser);
		return;
	}
	size_t errors_before = fc->ld->errors;
	fc->doc = &doc;
	parse_document(fc);
	if (fc->ld->errors == errors_before)
		refuse_second_document(fc, &parser);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

static void load_file(struct loader *ld, const char *path, const char *from_file,
		      struct sluice_loc from_loc)
{
	struct file_ctx fc = {.ld = ld, .is_root = from_file == NULL};
	char why[256], *text = NULL;
	size_t len;
	char *real = admit_file(ld, path, from_file, from_loc);

	if (!real)
		return;
	fc.path = remember_file(ld, real, path, from_file, from_loc);
	if (!fc.path)
		return;
	if (read_whole_file(path, RULE_FILE_MAX_BYTES, "rule file", &text, &len, why,
			    sizeof(why)) != 0) {
		if (from_file)
			file_err(ld, from_file, from_loc, NULL, "include", "cannot include %s: %s",
				 path, why);
		else
			file_err(ld, path, file_start, NULL, "open", "%s", why);
		return;
	}
	fc.text = text;
	fc.len = len;
	ld->stack[ld->depth] = real;
	ld->stack_shown[ld->depth] = fc.path;
	ld->depth++;
	parse_text(&fc);
	ld->depth--;
	free(text);
}

static void loader_free(struct loader *ld)
{
	for (size_t i = 0; i < ld->nreal; i++)
		free(ld->real[i]);
	free(ld->real);
	free(ld->included_at);
	for (size_t i = 0; ld->ids_mask && i <= ld->ids_mask; i++)
		free(ld->ids[i].id);
	free(ld->ids);
}

size_t sluice_rule_file_load_diags(const char *path, struct sluice_rule_list *out,
				   struct sluice_diag_list *diags)
{
	struct loader ld = {.list = out, .diags = diags};

	memset(out, 0, sizeof(*out));
	out->normalize = SLUICE_NORM_NARROW;
	load_file(&ld, path, NULL, file_start);
	if (!ld.oom) {
		out->source = strdup(path);
		if (!out->name)
			out->name = default_name(path);
		if (!out->version)
			out->version = strdup("0");
		if (!out->source || !out->name || !out->version)
			ld.oom = true;
	}
	if (ld.oom) {
		ld.errors++;
		sluice_diag_add(diags, SLUICE_DIAG_ERROR, path, 1, 1, NULL, "oom",
				"out of memory while loading the rules");
	}
	loader_free(&ld);
	return ld.errors;
}

int sluice_rule_file_load(const char *path, struct sluice_rule_list *out, char *err, size_t err_len)
{
	struct sluice_diag_list diags = {0};
	struct sluice_rule_list list;

	memset(out, 0, sizeof(*out));
	if (sluice_rule_file_load_diags(path, &list, &diags) == 0) {
		sluice_diag_list_free(&diags);
		*out = list;
		return 0;
	}
	sluice_diag_sort(&diags);
	const struct sluice_diag *d = sluice_diag_first_error(&diags);
	/* Whole-file problems (cannot open, too large) keep the plain
	 * "FILE: why" form scripts and older tests expect. */
	if (d && strcmp(d->code, "open") == 0)
		sluice_set_err(err, err_len, "%s: %s", d->file, d->message);
	else if (d)
		sluice_diag_format_short(d, err, err_len);
	else
		sluice_set_err(err, err_len, "%s: cannot load the rules", path);
	sluice_diag_list_free(&diags);
	sluice_rule_list_free(&list);
	return -1;
}

void sluice_rule_list_free(struct sluice_rule_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++)
		free_rule(&list->rules[i]);
	free(list->rules);
	free(list->source);
	free(list->name);
	free(list->version);
	free(list->owner);
	free(list->description);
	for (size_t i = 0; i < list->file_count; i++)
		free(list->files[i]);
	free(list->files);
	memset(list, 0, sizeof(*list));
}
