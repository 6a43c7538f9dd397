/* The rule loader's parts share this: the loader's state, the file being
 * read, the tables of keys a mapping is read with, and the helpers every part
 * uses. Internal to patterns/language:
 *
 * - rule_file.c: files, includes, documents and their top-level keys, the
 *   ids seen so far, the public entry points (rule_file.h);
 * - rule_mapping.c: a mapping read against its table of keys, and the
 *   values every key shares (a word from a set, true or false);
 * - rule_keys.c: a rule, key by key, and the rule as a whole;
 * - rule_list_file.c: the list files a `list:` rule names.
 *
 * Every problem is a diagnostic in the loader's list (err_at() and friends),
 * never a stop: the loader reads on to report as much as it can at once.
 */
#ifndef SLUICE_LANGUAGE_RULE_LOADER_H
#define SLUICE_LANGUAGE_RULE_LOADER_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "file_read.h"
#include "rule_file.h"
#include "utf8.h"

/* Rule files are written by hand; anything this large is a mistake (or an
 * attack on the parser) and is refused before libyaml sees it. */
#define RULE_FILE_MAX_BYTES (64u << 20)
/* List files are generated and can be large (100,000 titles is ~2 MB). */
#define LIST_FILE_MAX_BYTES (256u << 20)
/* Deeper than this is a mistake, not a structure. */
#define INCLUDE_MAX_DEPTH 32

/* ---- small helpers ---- */

static inline const char *node_kind(const yaml_node_t *node)
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

static inline bool scalar_is(const yaml_node_t *node, const char *word)
{
	size_t n = strlen(word);

	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == n &&
	       memcmp(node->data.scalar.value, word, n) == 0;
}

static inline const char *scalar_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* Shown in messages: long values are cut so a message stays one line. */
static inline int shown_len(const yaml_node_t *node)
{
	return (int)(node->data.scalar.length > 64 ? 64 : node->data.scalar.length);
}

/* hs_compile() and the C strings handed around later stop at a NUL, so a value
 * with an embedded one (possible through a "\0" escape) would silently mean
 * something other than what the analyst wrote. */
static inline bool scalar_has_nul(const yaml_node_t *node)
{
	return memchr(node->data.scalar.value, '\0', node->data.scalar.length) != NULL;
}

static inline char *dup_scalar(const yaml_node_t *node)
{
	return strndup(scalar_text(node), node->data.scalar.length);
}

static inline struct sluice_loc loc_of(yaml_mark_t mark)
{
	return (struct sluice_loc){.line = (unsigned)mark.line + 1,
				   .column = (unsigned)mark.column + 1};
}

/* Length of the UTF-8 sequence starting at s, so a bad character is quoted
 * whole in a message rather than as a broken byte. */
static inline size_t char_len(const unsigned char *s, size_t left)
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

static inline size_t utf8_chars(const char *s, size_t n)
{
	return sluice_utf8_chars((const uint8_t *)s, n);
}

static inline bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static inline uint64_t hash_bytes(const char *s, size_t len, bool fold)
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

static inline int read_whole_file(const char *path, size_t limit, const char *what, char **out,
				  size_t *out_len, char *err, size_t err_len)
{
	return sluice_file_read_all(path, limit, what, out, out_len, err, err_len);
}

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

static inline void oom(struct loader *ld)
{
	ld->oom = true;
}

/* Adds a diagnostic (counting errors); rule_file.c. */
void sluice_loader_vreport(struct loader *ld, enum sluice_diag_level level, const char *file,
			   struct sluice_loc at, const char *rule, const char *code,
			   const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));

static inline int err_at(struct file_ctx *fc, struct sluice_loc at, const char *rule,
			 const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static inline int err_at(struct file_ctx *fc, struct sluice_loc at, const char *rule,
			 const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sluice_loader_vreport(fc->ld, SLUICE_DIAG_ERROR, fc->path, at, rule, code, fmt, ap);
	va_end(ap);
	return -1;
}

static inline void warn_at(struct file_ctx *fc, struct sluice_loc at, const char *rule,
			   const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static inline void warn_at(struct file_ctx *fc, struct sluice_loc at, const char *rule,
			   const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sluice_loader_vreport(fc->ld, SLUICE_DIAG_WARNING, fc->path, at, rule, code, fmt, ap);
	va_end(ap);
}

static inline void file_err(struct loader *ld, const char *file, struct sluice_loc at,
			    const char *rule, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static inline void file_err(struct loader *ld, const char *file, struct sluice_loc at,
			    const char *rule, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sluice_loader_vreport(ld, SLUICE_DIAG_ERROR, file, at, rule, code, fmt, ap);
	va_end(ap);
}

static inline void file_warn(struct loader *ld, const char *file, struct sluice_loc at,
			     const char *rule, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static inline void file_warn(struct loader *ld, const char *file, struct sluice_loc at,
			     const char *rule, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sluice_loader_vreport(ld, SLUICE_DIAG_WARNING, file, at, rule, code, fmt, ap);
	va_end(ap);
}

/* A path written in a file is relative to that file's folder; rule_file.c. */
char *sluice_loader_resolve_relative(const char *from_file, const char *rel);

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

/* rule_mapping.c: the index of key k in m's table (m->count: none), the
 * closest key to suggest for an unknown one, every key of a mapping node
 * into d (unknown, repeated and malformed keys reported), and the handlers
 * of d's keys in table order. */
size_t sluice_loader_key_index(const struct mapping_kind *m, const yaml_node_t *k);
struct sluice_suggestion;
void sluice_loader_suggest_key(const struct mapping_kind *m, const yaml_node_t *k,
			       struct sluice_suggestion *s);
void sluice_loader_collect_keys(struct file_ctx *fc, const struct mapping_kind *m,
				const yaml_node_t *node, struct key_draft *d);
void sluice_loader_apply_keys(struct file_ctx *fc, const struct mapping_kind *m,
			      struct key_draft *d);

/* Words a value may be, and how a message about another word lists them. */
struct word_set {
	const char *const *words;
	size_t count;
	const char *what;
	const char *plural;
	const char *valid;
	const char *code;
};

/* rule_mapping.c: reports v, a word not in set (with the closest one to
 * suggest); returns -1. */
int sluice_loader_unknown_word(struct file_ctx *fc, const struct key_draft *d,
			       const struct word_set *set, const yaml_node_t *v);

/* rule_mapping.c: a plain true or false into *out; 0, or -1 reported. */
int sluice_loader_parse_bool(struct file_ctx *fc, const yaml_node_t *v, const char *rule,
			     const char *key, bool *out);

/* rule_keys.c: a new rule at the end of the loader's list (NULL: out of
 * memory, noted), freeing one, and reading item (the index-th of its file's
 * rules) into rule. */
struct sluice_rule *sluice_loader_new_rule(struct loader *ld);
void sluice_loader_free_rule(struct sluice_rule *r);
int sluice_loader_parse_rule(struct file_ctx *fc, const yaml_node_t *node, size_t index,
			     struct sluice_rule *rule);

/* rule_list_file.c: the list file v names, read into rule's literals; 0,
 * or -1 reported. */
int sluice_loader_load_list(struct file_ctx *fc, const yaml_node_t *v, const char *rule_id,
			    struct sluice_rule *rule);

#endif
