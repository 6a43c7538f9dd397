/* A rule, key by key (rule_loader.h): its id and category, action,
 * severity, flags, body (a pattern, a literal, a list file or a combination),
 * normalisation, validity dates and examples; then the rule as a whole.
 */
#include <stdio.h>
#include <time.h>

#include "message.h"
#include "rule_loader.h"
#include "suggest.h"

/* ---- names, dates ---- */

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

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

/* ---- values ---- */

static const char *const flag_words[] = {"caseless", "dotall", "multiline", "whole_word"};
static const char *const action_words[] = {"flag", "mask", "block", "allow"};
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

static const struct word_set optin_set = {
    .words = optin_words,
    .count = 3,
    .what = "opt-in",
    .plural = "opt-ins",
    .valid = "homophones, digit_words, separators",
    .code = "bad-optin",
};

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
		sluice_loader_unknown_word(fc, d, &flag_set, f);
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
		sluice_loader_unknown_word(fc, d, &action_set, v);
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
	sluice_loader_unknown_word(fc, d, &severity_set, v);
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

	if (sluice_loader_parse_bool(fc, v, d->label, "caseless", &caseless) != 0)
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
	sluice_loader_parse_bool(fc, v, d->label, "quiet", &d->rule->quiet);
}

/* normalize: true or false, or a list of the opt-ins the rule wants on top
 * of the pack's folding (fold_optin.h). */
static void apply_normalize(struct file_ctx *fc, struct key_draft *d, const yaml_node_t *v)
{
	bool folded = true;

	d->rule->normalize_loc = loc_of(v->start_mark);
	if (v->type == YAML_SCALAR_NODE) {
		if (sluice_loader_parse_bool(fc, v, d->label, "normalize", &folded) == 0)
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
			sluice_loader_unknown_word(fc, d, &optin_set, w);
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

void sluice_loader_free_rule(struct sluice_rule *r)
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

struct sluice_rule *sluice_loader_new_rule(struct loader *ld)
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
		sluice_loader_load_list(fc, v, d->label, rule);
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
int sluice_loader_parse_rule(struct file_ctx *fc, const yaml_node_t *node, size_t index,
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
	sluice_loader_collect_keys(fc, &rule_mapping, node, &d);
	report_missing_keys(fc, &d, node);
	unsigned body = choose_body(fc, &d, node);

	rule->severity = SLUICE_SEVERITY_MEDIUM;
	sluice_loader_apply_keys(fc, &rule_mapping, &d);
	rule->caseless = rule->flags & SLUICE_RULE_CASELESS;
	if (body != K_COUNT && d.v[body])
		apply_body(fc, &d, &rule_keys[body], d.v[body]);
	check_rule_as_a_whole(fc, &d, rule);
	return fc->ld->errors == errors_before ? 0 : -1;
}
