/* The rule loader (rule_file.h): YAML rule files, their includes and list
 * files into a rule list, every problem a diagnostic.
 *
 * A rule and the top level of a file are each a table of keys with a handler
 * per key; one walk over a mapping looks keys up in its table and reports
 * unknown and repeated keys, so a new key is one table entry and a handler
 * (rule_mapping.c). This file reads files, their includes and documents and
 * the top-level keys; a rule's keys are rule_keys.c's, list files
 * rule_list_file.c's (rule_loader.h).
 */
#include "rule_file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "message.h"
#include "rule_loader.h"
#include "suggest.h"

/* ---- reporting ---- */

void sluice_loader_vreport(struct loader *ld, enum sluice_diag_level level, const char *file,
			   struct sluice_loc at, const char *rule, const char *code,
			   const char *fmt, va_list ap)
{
	if (level == SLUICE_DIAG_ERROR)
		ld->errors++;
	if (sluice_diag_vadd(ld->diags, level, file, at.line, at.column, rule, code, fmt, ap) != 0)
		oom(ld);
}

/* A message that is about a whole file, not a place in it, still names one:
 * line 1, column 1. */
static const struct sluice_loc file_start = {1, 1};

/* ---- ids ---- */

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

/* ---- YAML ---- */

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
char *sluice_loader_resolve_relative(const char *from_file, const char *rel)
{
	const char *slash = strrchr(from_file, '/');
	char *out;

	if (rel[0] == '/' || !slash)
		return strdup(rel);
	if (asprintf(&out, "%.*s/%s", (int)(slash - from_file), from_file, rel) < 0)
		return NULL;
	return out;
}

/* ---- the top level's values ---- */

static const char *const profile_words[] = {"none", "narrow"};

static const struct word_set profile_set = {
    .words = profile_words,
    .count = 2,
    .what = "normalisation profile",
    .plural = "profiles",
    .valid = "narrow (the default), none",
    .code = "bad-profile",
};

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
	sluice_loader_unknown_word(fc, d, &profile_set, v);
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
		char *path = sluice_loader_resolve_relative(fc->path, scalar_text(v));
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
	int rc = sluice_loader_parse_rule(fc, item, index, rule);

	rule->file = strdup(fc->path);
	if (!rule->file)
		oom(ld);
	if (rule->id && check_unique_id(fc, rule) != 0)
		rc = -1;
	if (!rule->id) {
		sluice_loader_free_rule(rule);
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
		struct sluice_rule *rule = sluice_loader_new_rule(ld);

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
		if (sluice_loader_key_index(&top_level, k) < top_level.count)
			return true;
		sluice_loader_suggest_key(&top_level, k, &s);
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
	sluice_loader_collect_keys(fc, &top_level, root, &d);
	sluice_loader_apply_keys(fc, &top_level, &d);
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
		sluice_loader_free_rule(&list->rules[i]);
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
