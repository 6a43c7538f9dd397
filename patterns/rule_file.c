#include "rule_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

/* Rule files are written by hand; anything this large is a mistake (or an
 * attack on the parser) and is refused before libyaml sees it. */
#define RULE_FILE_MAX_BYTES (64u << 20)

#define KEY_ID	     (1u << 0)
#define KEY_PATTERN  (1u << 1)
#define KEY_ACTION   (1u << 2)
#define KEY_CATEGORY (1u << 3)
#define KEY_CASELESS (1u << 4)

struct loader {
	const char *path;
	yaml_document_t *doc;
	char *err;
	size_t err_len;
};

/* Remembers where each id was first defined, so a duplicate can name both
 * lines without a quadratic scan over large rule files. */
struct id_set {
	size_t *slots; /* rule index + 1; 0 is empty */
	size_t mask;
};

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

/* Formats "FILE:LINE:COL: [rule ID: ]message"; libyaml marks are 0-based. */
static int fail_at(struct loader *ld, yaml_mark_t mark, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(struct loader *ld, yaml_mark_t mark, const char *rule, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rule)
		set_err(ld->err, ld->err_len, "%s:%zu:%zu: rule %s: %s", ld->path, mark.line + 1,
			mark.column + 1, rule, msg);
	else
		set_err(ld->err, ld->err_len, "%s:%zu:%zu: %s", ld->path, mark.line + 1,
			mark.column + 1, msg);
	return -1;
}

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

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* ids and categories end up in events, stats labels and file names, so they
 * are kept to a small, unambiguous alphabet. */
static int check_name(struct loader *ld, const yaml_node_t *node, const char *rule,
		      const char *what)
{
	const unsigned char *s = node->data.scalar.value;
	size_t len = node->data.scalar.length;

	if (len == 0)
		return fail_at(ld, node->start_mark, rule, "%s is empty; give it a value", what);
	if (len > SLUICE_RULE_ID_MAX)
		return fail_at(ld, node->start_mark, rule,
			       "%s is %zu bytes long; shorten it to at most %d", what, len,
			       SLUICE_RULE_ID_MAX);
	for (size_t i = 0; i < len; i++) {
		if (name_char_ok(s[i]))
			continue;
		size_t n = char_len(s + i, len - i);
		if (s[i] < 0x20 || s[i] == 0x7f)
			return fail_at(ld, node->start_mark, rule,
				       "%s contains control character 0x%02x; use only letters, "
				       "digits, '.', '_' and '-'",
				       what, s[i]);
		return fail_at(ld, node->start_mark, rule,
			       "%s contains '%.*s'; use only letters, digits, '.', '_' and '-'",
			       what, (int)n, (const char *)s + i);
	}
	return 0;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static int id_set_init(struct id_set *set, size_t count)
{
	size_t cap = 16;

	while (cap < count * 2)
		cap *= 2;
	set->slots = calloc(cap, sizeof(*set->slots));
	set->mask = cap - 1;
	return set->slots ? 0 : -1;
}

/* Returns the index of an earlier rule with the same id, or SIZE_MAX after
 * remembering this one. */
static size_t id_set_add(struct id_set *set, const struct sluice_rule *rules, size_t index)
{
	const char *id = rules[index].id;
	size_t len = strlen(id);
	size_t slot = (size_t)hash_bytes(id, len) & set->mask;

	while (set->slots[slot]) {
		size_t other = set->slots[slot] - 1;
		if (strcmp(rules[other].id, id) == 0)
			return other;
		slot = (slot + 1) & set->mask;
	}
	set->slots[slot] = index + 1;
	return SIZE_MAX;
}

static int read_whole_file(const char *path, char **out, size_t *out_len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t got;

	if (!f) {
		set_err(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) != 0) {
		set_err(err, err_len, "%s: cannot stat: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, err_len, "%s: not a regular file", path);
		fclose(f);
		return -1;
	}
	if ((uint64_t)st.st_size > RULE_FILE_MAX_BYTES) {
		set_err(err, err_len, "%s: %lld bytes is too large for a rule file (limit %u)",
			path, (long long)st.st_size, RULE_FILE_MAX_BYTES);
		fclose(f);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		set_err(err, err_len, "%s: out of memory", path);
		fclose(f);
		return -1;
	}
	got = fread(buf, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		set_err(err, err_len, "%s: cannot read: %s", path, strerror(errno));
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[got] = '\0';
	*out = buf;
	*out_len = got;
	return 0;
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

static int yaml_failure(struct loader *ld, yaml_parser_t *parser, const char *text, size_t len)
{
	yaml_mark_t mark = parser->problem_mark;
	const char *problem = parser->problem ? parser->problem : "unknown problem";

	switch (parser->error) {
	case YAML_MEMORY_ERROR:
		set_err(ld->err, ld->err_len, "%s: out of memory while parsing YAML", ld->path);
		return -1;
	case YAML_READER_ERROR:
		mark = mark_from_offset(text, len, parser->problem_offset);
		if (parser->problem_value != -1)
			return fail_at(
			    ld, mark, NULL,
			    "YAML syntax error: %s (byte 0x%02x); save the file as UTF-8", problem,
			    parser->problem_value & 0xff);
		return fail_at(ld, mark, NULL, "YAML syntax error: %s; save the file as UTF-8",
			       problem);
	default:
		break;
	}
	if (parser->context)
		return fail_at(ld, mark, NULL, "YAML syntax error: %s (%s at line %zu, column %zu)",
			       problem, parser->context, parser->context_mark.line + 1,
			       parser->context_mark.column + 1);
	return fail_at(ld, mark, NULL, "YAML syntax error: %s", problem);
}

static int parse_rule(struct loader *ld, const yaml_node_t *node, size_t index,
		      struct sluice_rule *rule)
{
	const yaml_node_t *values[5] = {0};
	static const char *const keys[5] = {"id", "pattern", "action", "category", "caseless"};
	char label[SLUICE_RULE_ID_MAX + 32];
	const char *name = label;
	unsigned seen = 0;

	snprintf(label, sizeof(label), "#%zu", index + 1);
	if (node->type != YAML_MAPPING_NODE)
		return fail_at(ld, node->start_mark, label,
			       "is %s, not a mapping; write each rule as '- id: ...' followed by "
			       "pattern, action and category",
			       node_kind(node));

	/* The id names the rule in every later message, so find it first even
	 * when the analyst wrote it after the other keys. */
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
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
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
		unsigned which = 5;

		if (!k || !v)
			return fail_at(ld, node->start_mark, name, "malformed mapping");
		if (k->type != YAML_SCALAR_NODE)
			return fail_at(ld, k->start_mark, name,
				       "a key is %s; keys are plain words: id, pattern, action, "
				       "category, caseless",
				       node_kind(k));
		for (unsigned i = 0; i < 5; i++) {
			if (scalar_is(k, keys[i])) {
				which = i;
				break;
			}
		}
		if (which == 5)
			return fail_at(
			    ld, k->start_mark, name,
			    "unknown key '%.*s'; valid keys are id, pattern, action, "
			    "category, caseless",
			    (int)(k->data.scalar.length > 64 ? 64 : k->data.scalar.length),
			    scalar_text(k));
		if (seen & (1u << which))
			return fail_at(ld, k->start_mark, name,
				       "'%s' is given twice (first at line %zu); keep one",
				       keys[which], values[which]->start_mark.line + 1);
		if (v->type != YAML_SCALAR_NODE)
			return fail_at(ld, v->start_mark, name, "'%s' is %s; it must be a string",
				       keys[which], node_kind(v));
		if (scalar_has_nul(v))
			return fail_at(ld, v->start_mark, name,
				       "'%s' contains a NUL character; remove the \\0 escape",
				       keys[which]);
		seen |= 1u << which;
		values[which] = v;
	}

	static const unsigned required[4] = {KEY_ID, KEY_PATTERN, KEY_ACTION, KEY_CATEGORY};
	for (unsigned i = 0; i < 4; i++) {
		if (!(seen & required[i]))
			return fail_at(ld, node->start_mark, name,
				       "missing '%s'; every rule needs id, pattern, action and "
				       "category",
				       keys[i]);
	}

	if (check_name(ld, values[0], name, "id") != 0)
		return -1;
	if (values[1]->data.scalar.length == 0)
		return fail_at(ld, values[1]->start_mark, name,
			       "pattern is empty; write the regular expression to match");
	if (check_name(ld, values[3], name, "category") != 0)
		return -1;

	enum sluice_action action;
	if (!sluice_action_parse(scalar_text(values[2]), &action))
		return fail_at(
		    ld, values[2]->start_mark, name,
		    "unknown action '%.*s'; valid actions are flag, mask, block",
		    (int)(values[2]->data.scalar.length > 64 ? 64 : values[2]->data.scalar.length),
		    scalar_text(values[2]));

	bool caseless = false;
	if (values[4]) {
		const yaml_node_t *v = values[4];
		/* A quoted "true" is a string in YAML; accepting it would hide a
		 * misunderstanding that bites elsewhere in the file. */
		bool plain = v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (plain && (scalar_is(v, "true") || scalar_is(v, "True") || scalar_is(v, "TRUE")))
			caseless = true;
		else if (plain &&
			 (scalar_is(v, "false") || scalar_is(v, "False") || scalar_is(v, "FALSE")))
			caseless = false;
		else
			return fail_at(
			    ld, v->start_mark, name,
			    "caseless must be true or false (unquoted), not '%.*s'",
			    (int)(v->data.scalar.length > 64 ? 64 : v->data.scalar.length),
			    scalar_text(v));
	}

	rule->id = dup_scalar(values[0]);
	rule->pattern = dup_scalar(values[1]);
	rule->category = dup_scalar(values[3]);
	rule->action = action;
	rule->caseless = caseless;
	rule->line = (unsigned)node->start_mark.line + 1;
	rule->column = (unsigned)node->start_mark.column + 1;
	if (!rule->id || !rule->pattern || !rule->category) {
		set_err(ld->err, ld->err_len, "%s: out of memory", ld->path);
		return -1;
	}
	return 0;
}

static int parse_header_string(struct loader *ld, const yaml_node_t *v, const char *key, char **out)
{
	if (v->type != YAML_SCALAR_NODE)
		return fail_at(ld, v->start_mark, NULL, "'%s' is %s; it must be a string", key,
			       node_kind(v));
	if (v->data.scalar.length == 0)
		return fail_at(ld, v->start_mark, NULL, "'%s' is empty; give it a value", key);
	if (scalar_has_nul(v))
		return fail_at(ld, v->start_mark, NULL,
			       "'%s' contains a NUL character; remove the \\0 escape", key);
	*out = dup_scalar(v);
	if (!*out) {
		set_err(ld->err, ld->err_len, "%s: out of memory", ld->path);
		return -1;
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

static int parse_document(struct loader *ld, struct sluice_rule_list *list)
{
	yaml_node_t *root = yaml_document_get_root_node(ld->doc);
	yaml_node_t *rules_node = NULL;
	yaml_node_t *seen_name = NULL, *seen_version = NULL;

	if (!root) {
		yaml_mark_t start = {0};
		return fail_at(ld, start, NULL,
			       "the file is empty; expected a mapping with a 'rules:' list");
	}
	if (root->type != YAML_MAPPING_NODE)
		return fail_at(ld, root->start_mark, NULL,
			       "the top level is %s, not a YAML mapping; start the file with "
			       "'name:', 'version:' and 'rules:'",
			       node_kind(root));

	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(ld->doc, p->value);
		yaml_node_t **slot;

		if (!k || !v)
			return fail_at(ld, root->start_mark, NULL, "malformed mapping");
		if (scalar_is(k, "name"))
			slot = &seen_name;
		else if (scalar_is(k, "version"))
			slot = &seen_version;
		else if (scalar_is(k, "rules"))
			slot = &rules_node;
		else if (k->type == YAML_SCALAR_NODE)
			return fail_at(
			    ld, k->start_mark, NULL,
			    "unknown top-level key '%.*s'; valid keys are name, "
			    "version, rules",
			    (int)(k->data.scalar.length > 64 ? 64 : k->data.scalar.length),
			    scalar_text(k));
		else
			return fail_at(ld, k->start_mark, NULL,
				       "a top-level key is %s; valid keys are name, version, rules",
				       node_kind(k));
		if (*slot)
			return fail_at(ld, k->start_mark, NULL,
				       "'%s' is given twice (first at line %zu); keep one",
				       scalar_text(k), (*slot)->start_mark.line + 1);
		*slot = v;
	}

	if (!rules_node)
		return fail_at(ld, root->start_mark, NULL,
			       "missing 'rules:' list; add 'rules:' followed by '- id: ...' items");
	if (rules_node->type != YAML_SEQUENCE_NODE)
		return fail_at(ld, rules_node->start_mark, NULL,
			       "'rules' is %s; it must be a list of rules, each starting with "
			       "'- id:'",
			       node_kind(rules_node));
	if (seen_name && parse_header_string(ld, seen_name, "name", &list->name) != 0)
		return -1;
	if (seen_version && parse_header_string(ld, seen_version, "version", &list->version) != 0)
		return -1;

	size_t count =
	    (size_t)(rules_node->data.sequence.items.top - rules_node->data.sequence.items.start);
	if (count == 0)
		return fail_at(ld, rules_node->start_mark, NULL,
			       "'rules' is an empty list; add at least one rule");

	list->rules = calloc(count, sizeof(*list->rules));
	if (!list->rules) {
		set_err(ld->err, ld->err_len, "%s: out of memory", ld->path);
		return -1;
	}

	struct id_set ids;
	if (id_set_init(&ids, count) != 0) {
		set_err(ld->err, ld->err_len, "%s: out of memory", ld->path);
		return -1;
	}
	int rc = 0;
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item =
		    yaml_document_get_node(ld->doc, rules_node->data.sequence.items.start[i]);
		if (!item) {
			rc = fail_at(ld, rules_node->start_mark, NULL, "malformed list");
			break;
		}
		list->count = i + 1; /* so a partly filled rule is freed */
		if (parse_rule(ld, item, i, &list->rules[i]) != 0) {
			rc = -1;
			break;
		}
		size_t first = id_set_add(&ids, list->rules, i);
		if (first != SIZE_MAX) {
			yaml_mark_t at = {.line = list->rules[i].line - 1,
					  .column = list->rules[i].column - 1};
			rc = fail_at(ld, at, list->rules[i].id,
				     "duplicate id; it is first defined at line %u; give each "
				     "rule its own id",
				     list->rules[first].line);
			break;
		}
	}
	free(ids.slots);
	return rc;
}

int sluice_rule_file_load(const char *path, struct sluice_rule_list *out, char *err, size_t err_len)
{
	struct sluice_rule_list list = {0};
	yaml_parser_t parser;
	yaml_document_t doc;
	struct loader ld = {.path = path, .doc = &doc, .err = err, .err_len = err_len};
	char *text;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (read_whole_file(path, &text, &len, err, err_len) != 0)
		return -1;

	if (!yaml_parser_initialize(&parser)) {
		set_err(err, err_len, "%s: out of memory", path);
		free(text);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = yaml_failure(&ld, &parser, text, len);
		goto out_parser;
	}

	rc = parse_document(&ld, &list);
	if (rc == 0) {
		/* A second document would be silently ignored by a loader that
		 * stops at the first; an analyst who concatenated two files
		 * expects both to count. */
		yaml_document_t next;
		if (!yaml_parser_load(&parser, &next)) {
			rc = yaml_failure(&ld, &parser, text, len);
		} else {
			if (yaml_document_get_root_node(&next))
				rc = fail_at(&ld, next.start_mark, NULL,
					     "a second YAML document starts here; a rule file "
					     "holds one document, so merge the rules lists");
			yaml_document_delete(&next);
		}
	}
	if (rc == 0) {
		list.source = strdup(path);
		if (!list.name)
			list.name = default_name(path);
		if (!list.version)
			list.version = strdup("0");
		if (!list.source || !list.name || !list.version) {
			set_err(err, err_len, "%s: out of memory", path);
			rc = -1;
		}
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&parser);
	free(text);
	if (rc != 0) {
		sluice_rule_list_free(&list);
		return -1;
	}
	*out = list;
	return 0;
}

void sluice_rule_list_free(struct sluice_rule_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->count; i++) {
		free(list->rules[i].id);
		free(list->rules[i].pattern);
		free(list->rules[i].category);
	}
	free(list->rules);
	free(list->source);
	free(list->name);
	free(list->version);
	memset(list, 0, sizeof(*list));
}
