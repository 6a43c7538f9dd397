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

/* Edit distance, bounded: enough to suggest 'pattern' for 'patern'. */
static unsigned edit_distance(const char *a, size_t la, const char *b)
{
	size_t lb = strlen(b);
	unsigned row[32];

	if (la >= 31 || lb >= 31)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *closest(const yaml_node_t *node, const char *const *words, size_t n)
{
	const char *best = NULL;
	unsigned best_d = 3;

	for (size_t i = 0; i < n; i++) {
		unsigned d = edit_distance(scalar_text(node), node->data.scalar.length, words[i]);
		if (d < best_d) {
			best_d = d;
			best = words[i];
		}
	}
	return best;
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

/* ---- rules ---- */

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
	K_EXPIRES,
	K_MATCHES,
	K_DOES_NOT_MATCH,
	K_COUNT
};

static const char *const rule_keys[K_COUNT] = {
    [K_ID] = "id",
    [K_CATEGORY] = "category",
    [K_ACTION] = "action",
    [K_SEVERITY] = "severity",
    [K_DESCRIPTION] = "description",
    [K_PATTERN] = "pattern",
    [K_LITERAL] = "literal",
    [K_LIST] = "list",
    [K_COMBINATION] = "combination",
    [K_FLAGS] = "flags",
    [K_CASELESS] = "caseless",
    [K_QUIET] = "quiet",
    [K_EXPIRES] = "expires",
    [K_MATCHES] = "matches",
    [K_DOES_NOT_MATCH] = "does_not_match",
};

#define RULE_KEY_LIST                                                                              \
	"id, category, action, severity, description, pattern, literal, list, combination, "       \
	"flags, caseless, quiet, expires, matches, does_not_match"

static const char *const flag_words[] = {"caseless", "dotall", "multiline", "whole_word"};

static const char *const severity_words[] = {"low", "medium", "high", "critical"};

static const char *const action_words[] = {"flag", "mask", "block", "allow"};

struct rule_draft {
	const yaml_node_t *v[K_COUNT];
	const yaml_node_t *k[K_COUNT];
	const char *label;
	bool bad;
};

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

struct lit_set {
	uint32_t *slots; /* literal index + 1 */
	size_t mask;
};

/* Reads a list file: one literal per line, '#' comment lines and empty lines
 * skipped. Problems are reported at LIST:LINE:COL, since that is the file
 * the analyst has to edit. */
static int load_list(struct file_ctx *fc, const yaml_node_t *v, const char *rule_id,
		     struct sluice_rule *rule)
{
	struct loader *ld = fc->ld;
	char *path, *data = NULL, why[256];
	size_t len = 0, n = 0, cap = 0, errors_before = ld->errors;
	struct sluice_literal *lits = NULL;
	bool fold = rule->flags & SLUICE_RULE_CASELESS;

	path = resolve_relative(fc->path, scalar_text(v));
	if (!path) {
		oom(ld);
		return -1;
	}
	rule->list_path = path;
	if (read_whole_file(path, LIST_FILE_MAX_BYTES, "list file", &data, &len, why,
			    sizeof(why)) != 0)
		return err_at(fc, loc_of(v->start_mark), rule_id, "list-file",
			      "list file %s: %s; the path is relative to %s", path, why, fc->path);
	rule->list_data = data;

	size_t at = 0;
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
		if (ll == 0)
			continue;
		size_t lead = 0;
		while (lead < ll && (line[lead] == ' ' || line[lead] == '\t'))
			lead++;
		if (lead < ll && line[lead] == '#')
			continue;
		struct sluice_loc here = {line_no, 1};
		if (memchr(line, '\0', ll)) {
			file_err(ld, path, here, rule_id, "list-file",
				 "line %u contains a NUL byte; save the list as UTF-8 text",
				 line_no);
			continue;
		}
		size_t bad = sluice_utf8_invalid_at((const uint8_t *)line, ll);
		if (bad < ll) {
			here.column = (unsigned)utf8_chars(line, bad) + 1;
			file_err(ld, path, here, rule_id, "list-file",
				 "line %u is not valid UTF-8 (byte 0x%02x); save the list as UTF-8",
				 line_no, (unsigned char)line[bad]);
			continue;
		}
		if (lead == ll) {
			file_err(ld, path, here, rule_id, "empty-literal",
				 "line %u is only whitespace, which would match every space in a "
				 "message; delete the line or write the literal",
				 line_no);
			continue;
		}
		if (lead || is_space((unsigned char)line[ll - 1]))
			file_warn(ld, path, here, rule_id, "literal-whitespace",
				  "line %u has %s whitespace, which is part of the literal and "
				  "must appear in a message for it to match; remove it unless "
				  "meant",
				  line_no, lead ? "leading" : "trailing");
		if (ll > UINT32_MAX) {
			file_err(ld, path, here, rule_id, "list-file", "line %u is too long",
				 line_no);
			continue;
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 64;
			struct sluice_literal *p = realloc(lits, c * sizeof(*p));
			if (!p) {
				oom(ld);
				free(lits);
				return -1;
			}
			lits = p;
			cap = c;
		}
		lits[n++] = (struct sluice_literal){
		    .text = line, .len = (uint32_t)ll, .line = line_no, .column = 1};
	}
	rule->literals = lits;
	rule->literal_count = n;
	if (n == 0 && ld->errors == errors_before)
		return err_at(fc, loc_of(v->start_mark), rule_id, "empty-list",
			      "list file %s has no literals (only comments and empty lines); add "
			      "one per line",
			      path);

	/* The same literal twice is harmless to Hyperscan but usually means a
	 * list was merged twice; say so once per duplicate. */
	struct lit_set set = {0};
	size_t slots = 64;
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
				file_warn(ld, path, (struct sluice_loc){lits[i].line, 1}, rule_id,
					  "duplicate-literal",
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
	return ld->errors == errors_before ? 0 : -1;
}

static int parse_flags(struct file_ctx *fc, const yaml_node_t *v, const char *label,
		       struct sluice_rule *rule)
{
	int rc = 0;

	rule->flags_loc = loc_of(v->start_mark);
	if (v->type != YAML_SEQUENCE_NODE)
		return err_at(fc, loc_of(v->start_mark), label, "bad-flags",
			      "flags is %s; write a list such as [caseless, whole_word]",
			      node_kind(v));
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *f = yaml_document_get_node(fc->doc, *it);
		unsigned bit = 0;

		if (!f || f->type != YAML_SCALAR_NODE) {
			rc = err_at(fc, loc_of(f ? f->start_mark : v->start_mark), label,
				    "unknown-flag",
				    "a flag is %s; flags are words: caseless, dotall, multiline, "
				    "whole_word",
				    f ? node_kind(f) : "missing");
			continue;
		}
		for (unsigned i = 0; i < 4; i++) {
			if (scalar_is(f, flag_words[i]))
				bit = 1u << i;
		}
		if (!bit) {
			const char *near = closest(f, flag_words, 4);
			char hint[64] = "";
			if (near)
				snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
			rc = err_at(fc, loc_of(f->start_mark), label, "unknown-flag",
				    "unknown flag '%.*s'; valid flags are caseless, dotall, "
				    "multiline, whole_word%s",
				    shown_len(f), scalar_text(f), hint);
			continue;
		}
		if (rule->flags & bit)
			warn_at(fc, loc_of(f->start_mark), label, "duplicate-flag",
				"flag '%s' is given twice; keep one", scalar_text(f));
		if (bit == SLUICE_RULE_WHOLE_WORD)
			rule->whole_word_loc = loc_of(f->start_mark);
		rule->flags |= bit;
	}
	return rc;
}

static int parse_examples(struct file_ctx *fc, const yaml_node_t *v, const char *label,
			  const char *key, bool should_match, struct sluice_rule *rule)
{
	int rc = 0;

	if (v->type != YAML_SEQUENCE_NODE)
		return err_at(fc, loc_of(v->start_mark), label, "bad-examples",
			      "'%s' is %s; write a list of example messages, one per '- ' line",
			      key, node_kind(v));
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	struct sluice_example *ex =
	    realloc(rule->examples, (rule->example_count + n + 1) * sizeof(*ex));
	if (!ex) {
		oom(fc->ld);
		return -1;
	}
	rule->examples = ex;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(fc->doc, *it);

		if (!e || e->type != YAML_SCALAR_NODE) {
			rc =
			    err_at(fc, loc_of(e ? e->start_mark : v->start_mark), label,
				   "bad-examples", "an example in '%s' is %s; write it as a string",
				   key, e ? node_kind(e) : "missing");
			continue;
		}
		if (scalar_has_nul(e)) {
			rc = err_at(fc, loc_of(e->start_mark), label, "bad-examples",
				    "an example contains a NUL character; remove the \\0 escape");
			continue;
		}
		struct sluice_example *x = &rule->examples[rule->example_count];
		x->text = dup_scalar(e);
		x->should_match = should_match;
		x->loc = loc_of(e->start_mark);
		if (!x->text) {
			oom(fc->ld);
			return -1;
		}
		rule->example_count++;
	}
	return rc;
}

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

/* Parses one rule into rule; returns 0 when it is complete and valid. Every
 * problem is reported; the caller keeps a rule with problems out of the
 * compiled set but still knows its id. */
static int parse_rule(struct file_ctx *fc, const yaml_node_t *node, size_t index,
		      struct sluice_rule *rule)
{
	struct rule_draft d = {0};
	char label[SLUICE_RULE_ID_MAX + 32];
	size_t errors_before = fc->ld->errors;
	/* Keys an unknown key looks like a misspelling of: that key is then
	 * not reported missing as well, since the typo is the cause. */
	unsigned suggested = 0;

	snprintf(label, sizeof(label), "#%zu", index + 1);
	d.label = label;
	rule->line = (unsigned)node->start_mark.line + 1;
	rule->column = (unsigned)node->start_mark.column + 1;
	if (node->type != YAML_MAPPING_NODE)
		return err_at(fc, loc_of(node->start_mark), label, "rule-shape",
			      "is %s, not a mapping; write each rule as '- id: ...' followed by "
			      "category, action and a pattern, literal, list or combination",
			      node_kind(node));

	/* The id names the rule in every later message, so find it first even
	 * when the analyst wrote it after the other keys. */
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(fc->doc, p->value);
		if (k && v && scalar_is(k, "id") && v->type == YAML_SCALAR_NODE &&
		    v->data.scalar.length > 0 && !scalar_has_nul(v)) {
			snprintf(label, sizeof(label), "%.*s",
				 (int)(v->data.scalar.length > SLUICE_RULE_ID_MAX
					   ? SLUICE_RULE_ID_MAX
					   : v->data.scalar.length),
				 scalar_text(v));
			break;
		}
	}

	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(fc->doc, p->value);
		unsigned which = K_COUNT;

		if (!k || !v) {
			err_at(fc, loc_of(node->start_mark), label, "rule-shape",
			       "malformed mapping");
			continue;
		}
		if (k->type != YAML_SCALAR_NODE) {
			err_at(fc, loc_of(k->start_mark), label, "unknown-key",
			       "a key is %s; keys are plain words: " RULE_KEY_LIST, node_kind(k));
			continue;
		}
		for (unsigned i = 0; i < K_COUNT; i++) {
			if (scalar_is(k, rule_keys[i])) {
				which = i;
				break;
			}
		}
		if (which == K_COUNT) {
			const char *near = closest(k, rule_keys, K_COUNT);
			char hint[64] = "";
			if (near) {
				snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
				for (unsigned i = 0; i < K_COUNT; i++) {
					if (rule_keys[i] == near)
						suggested |= 1u << i;
				}
			}
			err_at(fc, loc_of(k->start_mark), label, "unknown-key",
			       "unknown key '%.*s'%s; valid keys are " RULE_KEY_LIST, shown_len(k),
			       scalar_text(k), hint);
			continue;
		}
		if (d.v[which]) {
			err_at(fc, loc_of(k->start_mark), label, "duplicate-key",
			       "'%s' is given twice (first at line %zu); keep one",
			       rule_keys[which], d.k[which]->start_mark.line + 1);
			continue;
		}
		d.k[which] = k;
		d.v[which] = v;
		if (which == K_FLAGS || which == K_MATCHES || which == K_DOES_NOT_MATCH)
			continue;
		if (v->type != YAML_SCALAR_NODE) {
			err_at(fc, loc_of(v->start_mark), label, "not-a-string",
			       "'%s' is %s; it must be a string", rule_keys[which], node_kind(v));
			d.v[which] = NULL;
			continue;
		}
		if (scalar_has_nul(v)) {
			err_at(fc, loc_of(v->start_mark), label, "not-a-string",
			       "'%s' contains a NUL character; remove the \\0 escape",
			       rule_keys[which]);
			d.v[which] = NULL;
		}
	}

	static const unsigned required[3] = {K_ID, K_ACTION, K_CATEGORY};
	for (unsigned i = 0; i < 3; i++) {
		if (!d.k[required[i]] && !(suggested & (1u << required[i])))
			err_at(fc, loc_of(node->start_mark), label, "missing-key",
			       "missing '%s'; every rule needs id, category, action and one of "
			       "pattern, literal, list or combination",
			       rule_keys[required[i]]);
	}

	/* Exactly one body. */
	unsigned body = K_COUNT;
	for (unsigned i = K_PATTERN; i <= K_COMBINATION; i++) {
		if (!d.k[i])
			continue;
		if (body == K_COUNT) {
			body = i;
			continue;
		}
		err_at(fc, loc_of(d.k[i]->start_mark), label, "two-bodies",
		       "gives both '%s' (line %zu) and '%s'; give exactly one of pattern, "
		       "literal, list or combination (split it into two rules if both are "
		       "meant)",
		       rule_keys[body], d.k[body]->start_mark.line + 1, rule_keys[i]);
	}
	unsigned body_keys =
	    (1u << K_PATTERN) | (1u << K_LITERAL) | (1u << K_LIST) | (1u << K_COMBINATION);
	if (body == K_COUNT && !(suggested & body_keys))
		err_at(fc, loc_of(node->start_mark), label, "missing-key",
		       "missing 'pattern', 'literal', 'list' or 'combination'; give exactly one: "
		       "what the rule matches");

	if (d.v[K_ID]) {
		rule->id_loc = loc_of(d.v[K_ID]->start_mark);
		if (check_name(fc, d.v[K_ID], label, "id", "bad-id") == 0)
			rule->id = dup_scalar(d.v[K_ID]);
	}
	if (d.v[K_CATEGORY] &&
	    check_name(fc, d.v[K_CATEGORY], label, "category", "bad-category") == 0)
		rule->category = dup_scalar(d.v[K_CATEGORY]);

	if (d.v[K_ACTION]) {
		const yaml_node_t *v = d.v[K_ACTION];
		rule->action_loc = loc_of(v->start_mark);
		if (scalar_is(v, "allow")) {
			rule->allow = true;
			rule->action = SLUICE_ACTION_NONE;
		} else if (!sluice_action_parse(scalar_text(v), &rule->action)) {
			const char *near = closest(v, action_words, 4);
			char hint[64] = "";
			if (near)
				snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
			/* The list leaves out allow, which only exempts: other
			 * teams' tools match this message, and a close miss of
			 * 'allow' still gets the hint. */
			err_at(fc, rule->action_loc, label, "bad-action",
			       "unknown action '%.*s'; valid actions are flag, mask, block%s",
			       shown_len(v), scalar_text(v), hint);
		}
	}

	rule->severity = SLUICE_SEVERITY_MEDIUM;
	if (d.v[K_SEVERITY]) {
		const yaml_node_t *v = d.v[K_SEVERITY];
		unsigned i;
		rule->severity_loc = loc_of(v->start_mark);
		for (i = 0; i < 4 && !scalar_is(v, severity_words[i]); i++)
			;
		if (i < 4) {
			rule->severity = (enum sluice_severity)(i + 1);
		} else {
			const char *near = closest(v, severity_words, 4);
			char hint[64] = "";
			if (near)
				snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
			err_at(fc, rule->severity_loc, label, "bad-severity",
			       "unknown severity '%.*s'; valid severities are low, medium, high, "
			       "critical%s",
			       shown_len(v), scalar_text(v), hint);
		}
	}

	if (d.v[K_DESCRIPTION])
		rule->description = dup_scalar(d.v[K_DESCRIPTION]);

	if (d.v[K_FLAGS])
		parse_flags(fc, d.v[K_FLAGS], label, rule);
	if (d.v[K_CASELESS]) {
		bool c;
		if (parse_bool(fc, d.v[K_CASELESS], label, "caseless", &c) == 0) {
			if (!c && (rule->flags & SLUICE_RULE_CASELESS))
				err_at(fc, loc_of(d.v[K_CASELESS]->start_mark), label, "bad-bool",
				       "caseless: false contradicts flags: [caseless]; keep one");
			if (c)
				rule->flags |= SLUICE_RULE_CASELESS;
		}
	}
	rule->caseless = rule->flags & SLUICE_RULE_CASELESS;

	if (d.v[K_QUIET]) {
		rule->quiet_loc = loc_of(d.v[K_QUIET]->start_mark);
		parse_bool(fc, d.v[K_QUIET], label, "quiet", &rule->quiet);
	}

	if (d.v[K_EXPIRES]) {
		const yaml_node_t *v = d.v[K_EXPIRES];
		rule->expires_loc = loc_of(v->start_mark);
		if (!sluice_parse_expiry(scalar_text(v), &rule->expires_at))
			err_at(fc, rule->expires_loc, label, "bad-date",
			       "expires '%.*s' is not a date; write YYYY-MM-DD, for example "
			       "2026-12-31 (the rule then stops applying after that day, UTC)",
			       shown_len(v), scalar_text(v));
	}

	if (d.v[K_MATCHES])
		parse_examples(fc, d.v[K_MATCHES], label, "matches", true, rule);
	if (d.v[K_DOES_NOT_MATCH])
		parse_examples(fc, d.v[K_DOES_NOT_MATCH], label, "does_not_match", false, rule);

	if (body != K_COUNT && d.v[body]) {
		const yaml_node_t *v = d.v[body];
		size_t n = v->data.scalar.length;

		body_columns(v, rule);
		rule->kind = body == K_PATTERN	 ? SLUICE_RULE_PATTERN
			     : body == K_LITERAL ? SLUICE_RULE_LITERAL
			     : body == K_LIST	 ? SLUICE_RULE_LIST
						 : SLUICE_RULE_COMBINATION;
		rule->pattern = dup_scalar(v);
		if (!rule->pattern) {
			oom(fc->ld);
		} else if (n == 0) {
			static const char *const what[] = {
			    "pattern is empty; write the regular expression to match",
			    "literal is empty; write the text to match",
			    "list is empty; write the path of a list file",
			    "combination is empty; write an expression such as 'a and not b'"};
			err_at(fc, rule->body_loc, label,
			       rule->kind == SLUICE_RULE_LITERAL ? "empty-literal" : "empty-body",
			       "%s", what[rule->kind]);
		} else if (rule->kind == SLUICE_RULE_LITERAL) {
			size_t sp = 0;
			while (sp < n && is_space((unsigned char)rule->pattern[sp]))
				sp++;
			if (sp == n)
				err_at(fc, rule->body_loc, label, "empty-literal",
				       "literal is only whitespace, which would match every space "
				       "in a message; write the text to match");
			else if (sp || is_space((unsigned char)rule->pattern[n - 1]))
				warn_at(
				    fc, rule->body_loc, label, "literal-whitespace",
				    "literal has %s whitespace, which is part of the literal and "
				    "must appear in a message for it to match; remove it unless "
				    "meant",
				    sp ? "leading" : "trailing");
			rule->literals = calloc(1, sizeof(*rule->literals));
			if (!rule->literals) {
				oom(fc->ld);
			} else {
				rule->literals[0] =
				    (struct sluice_literal){.text = rule->pattern,
							    .len = (uint32_t)n,
							    .line = rule->body_loc.line,
							    .column = rule->body_loc.column};
				rule->literal_count = 1;
			}
		} else if (rule->kind == SLUICE_RULE_LIST) {
			load_list(fc, v, label, rule);
		}
	}

	if (rule->kind == SLUICE_RULE_COMBINATION && d.v[K_ACTION]) {
		if (rule->allow || rule->action == SLUICE_ACTION_MASK)
			err_at(fc, rule->action_loc, label, "combination-action",
			       "a combination cannot %s: its match has no span of text of its "
			       "own (it spans the message up to where it became true); use flag "
			       "or block, and mask the operands with rules of their own",
			       rule->allow ? "allow" : "mask");
	}
	if (rule->allow && rule->quiet)
		err_at(fc, rule->quiet_loc, label, "quiet-allow",
		       "an allow rule cannot be quiet: it never acts on its own anyway and "
		       "cannot be an operand of a combination; remove 'quiet'");

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

static void load_includes(struct file_ctx *fc, const yaml_node_t *inc)
{
	struct loader *ld = fc->ld;

	if (inc->type != YAML_SEQUENCE_NODE) {
		err_at(fc, loc_of(inc->start_mark), NULL, "bad-include",
		       "'include' is %s; write a list of rule files, one per '- ' line",
		       node_kind(inc));
		return;
	}
	for (yaml_node_item_t *it = inc->data.sequence.items.start;
	     it < inc->data.sequence.items.top; it++) {
		yaml_node_t *v = yaml_document_get_node(fc->doc, *it);
		struct sluice_loc at;

		if (!v || v->type != YAML_SCALAR_NODE || v->data.scalar.length == 0 ||
		    scalar_has_nul(v)) {
			err_at(fc, loc_of(v ? v->start_mark : inc->start_mark), NULL, "bad-include",
			       "an include is %s; write the path of a rule file, relative to this "
			       "file",
			       v && v->type != YAML_SCALAR_NODE ? node_kind(v) : "empty");
			continue;
		}
		at = loc_of(v->start_mark);
		char *path = resolve_relative(fc->path, scalar_text(v));
		if (!path) {
			oom(ld);
			return;
		}
		load_file(ld, path, fc->path, at);
		free(path);
	}
}

/* Whether some top-level key is a rule-file key, or a misspelling of one.
 * When none is, the file is something else (a password file, a log) and
 * messages must not quote it: a daemon running as root reads the files that
 * control clients name, and its refusals go back to them. */
static bool looks_like_rule_file(struct file_ctx *fc, yaml_node_t *root, const char *const *keys,
				 size_t key_count)
{
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		if (k == NULL || k->type != YAML_SCALAR_NODE)
			continue;
		for (size_t i = 0; i < key_count; i++) {
			if (scalar_is(k, keys[i]))
				return true;
		}
		if (closest(k, keys, key_count) != NULL)
			return true;
	}
	return false;
}

static void parse_document(struct file_ctx *fc)
{
	struct loader *ld = fc->ld;
	struct sluice_rule_list *list = ld->list;
	yaml_node_t *root = yaml_document_get_root_node(fc->doc);
	yaml_node_t *rules_node = NULL, *include_node = NULL;
	yaml_node_t *seen[6] = {0};
	bool rules_misspelt = false;
	static const char *const top_keys[6] = {"name",	       "version", "owner",
						"description", "include", "rules"};

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

	if (!looks_like_rule_file(fc, root, top_keys, 6)) {
		err_at(fc, file_start, NULL, "structure",
		       "not a Sluice rule file: no top-level key is name, version, owner, "
		       "description, include or rules (nothing of the file is shown)");
		return;
	}

	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(fc->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(fc->doc, p->value);
		unsigned which = 6;

		if (!k || !v) {
			err_at(fc, loc_of(root->start_mark), NULL, "structure",
			       "malformed mapping");
			continue;
		}
		for (unsigned i = 0; i < 6; i++) {
			if (scalar_is(k, top_keys[i]))
				which = i;
		}
		if (which == 6) {
			if (k->type == YAML_SCALAR_NODE) {
				const char *near = closest(k, top_keys, 6);
				char hint[64] = "";
				if (near)
					snprintf(hint, sizeof(hint), " (did you mean '%s'?)", near);
				if (near && strcmp(near, "rules") == 0)
					rules_misspelt = true;
				err_at(fc, loc_of(k->start_mark), NULL, "unknown-key",
				       "unknown top-level key '%.*s'%s; valid keys are name, "
				       "version, owner, description, include, rules",
				       shown_len(k), scalar_text(k), hint);
			} else {
				err_at(
				    fc, loc_of(k->start_mark), NULL, "unknown-key",
				    "a top-level key is %s; valid keys are name, version, owner, "
				    "description, include, rules",
				    node_kind(k));
			}
			continue;
		}
		if (seen[which]) {
			err_at(fc, loc_of(k->start_mark), NULL, "duplicate-key",
			       "'%s' is given twice (first at line %zu); keep one", top_keys[which],
			       seen[which]->start_mark.line + 1);
			continue;
		}
		seen[which] = v;
	}
	include_node = seen[4];
	rules_node = seen[5];

	/* Only the file named on the command line names the pack; an included
	 * file's own name and version are checked but describe only itself. */
	if (seen[0])
		parse_header_string(fc, seen[0], "name", false, fc->is_root ? &list->name : NULL);
	if (seen[1])
		parse_header_string(fc, seen[1], "version", false,
				    fc->is_root ? &list->version : NULL);
	if (seen[2])
		parse_header_string(fc, seen[2], "owner", true, fc->is_root ? &list->owner : NULL);
	if (seen[3])
		parse_header_string(fc, seen[3], "description", true,
				    fc->is_root ? &list->description : NULL);

	if (include_node)
		load_includes(fc, include_node);

	if (!rules_node) {
		if (!include_node && !rules_misspelt)
			err_at(fc, loc_of(root->start_mark), NULL, "structure",
			       "missing 'rules:' list; add 'rules:' followed by '- id: ...' items");
		return;
	}
	if (rules_node->type != YAML_SEQUENCE_NODE) {
		err_at(fc, loc_of(rules_node->start_mark), NULL, "structure",
		       "'rules' is %s; it must be a list of rules, each starting with '- id:'",
		       node_kind(rules_node));
		return;
	}
	size_t count =
	    (size_t)(rules_node->data.sequence.items.top - rules_node->data.sequence.items.start);
	if (count == 0 && !include_node) {
		err_at(fc, loc_of(rules_node->start_mark), NULL, "structure",
		       "'rules' is an empty list; add at least one rule");
		return;
	}

	for (size_t i = 0; i < count && !ld->oom; i++) {
		yaml_node_t *item =
		    yaml_document_get_node(fc->doc, rules_node->data.sequence.items.start[i]);
		struct sluice_rule *rule = new_rule(ld);

		if (!rule)
			return;
		if (!item) {
			err_at(fc, loc_of(rules_node->start_mark), NULL, "structure",
			       "malformed list");
			continue;
		}
		int rc = parse_rule(fc, item, i, rule);
		rule->file = strdup(fc->path);
		if (!rule->file)
			oom(ld);
		if (rule->id) {
			const struct id_entry *first = ids_add(ld, rule->id, fc->path, rule->line);
			if (first) {
				struct sluice_loc at = {rule->line, rule->column};
				if (strcmp(first->file, fc->path) == 0)
					err_at(fc, at, rule->id, "duplicate-id",
					       "duplicate id; it is first defined at line %u; give "
					       "each rule its own id",
					       first->line);
				else
					err_at(
					    fc, at, rule->id, "duplicate-id",
					    "duplicate id; it is first defined at %s:%u; ids are "
					    "unique across included files, so give each rule "
					    "its own id",
					    first->file, first->line);
				rc = -1;
			}
		}
		if (!rule->id) {
			free_rule(rule);
			continue;
		}
		rule->invalid = rc != 0;
		ld->list->count++;
	}
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

static void load_file(struct loader *ld, const char *path, const char *from_file,
		      struct sluice_loc from_loc)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct file_ctx fc = {.ld = ld, .path = path, .doc = &doc, .is_root = from_file == NULL};
	char why[256], *text = NULL, *real;
	size_t len;

	real = realpath(path, NULL);
	if (!real) {
		if (from_file)
			file_err(ld, from_file, from_loc, NULL, "include",
				 "cannot include %s: %s; the path is relative to %s", path,
				 strerror(errno), from_file);
		else
			file_err(ld, path, file_start, NULL, "open", "cannot open: %s",
				 strerror(errno));
		return;
	}
	unsigned cycle_at;
	if (in_stack(ld, real, &cycle_at)) {
		char chain[1024];
		size_t at = 0;
		/* "a includes b, which includes a again" */
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
		free(real);
		return;
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
		return;
	}
	if (ld->depth >= INCLUDE_MAX_DEPTH) {
		file_err(ld, from_file, from_loc, NULL, "include",
			 "includes are nested more than %d deep; flatten them", INCLUDE_MAX_DEPTH);
		free(real);
		return;
	}

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
		return;
	}
	ld->list->files[ld->list->file_count++] = shown;
	ld->real[ld->nreal] = real;
	ld->included_at[ld->nreal].file = from_file;
	ld->included_at[ld->nreal].loc = from_loc;
	ld->nreal++;
	fc.path = shown;

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
	ld->stack_shown[ld->depth] = shown;
	ld->depth++;

	if (!yaml_parser_initialize(&parser)) {
		oom(ld);
		goto out_text;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_failure(&fc, &parser);
		goto out_parser;
	}
	size_t errors_before = ld->errors;
	parse_document(&fc);
	if (ld->errors == errors_before) {
		/* A second document would be silently ignored by a loader that
		 * stops at the first; an analyst who concatenated two files
		 * expects both to count. */
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			yaml_failure(&fc, &parser);
		} else {
			if (yaml_document_get_root_node(&next))
				err_at(&fc, loc_of(next.start_mark), NULL, "structure",
				       "a second YAML document starts here; a rule file holds one "
				       "document, so merge the rules lists");
			yaml_document_delete(&next);
		}
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
out_text:
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
