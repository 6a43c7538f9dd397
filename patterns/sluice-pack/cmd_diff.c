/* sluice-pack diff: what changes between two packs (or rule files).
 *
 * Two views: the rules themselves, matched by id (added, removed, and which
 * fields of a kept rule changed), and, given a sample of real messages, what
 * the change does to verdicts. The second is what a reviewer needs before
 * approving a pack: a pattern edit that looks harmless can turn hundreds of
 * ordinary messages into blocks, and only scanning a corpus with both packs
 * shows it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rule_file.h"
#include "cli.h"
#include "utf8.h"

static const char *cmd = "sluice-pack diff";

#define DEFAULT_EXAMPLES 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s diff OLD NEW [--corpus FILE] [--examples N] [--json]\n"
		"\n"
		"Compares two packs or rule files (any mix) rule by rule, by id: rules\n"
		"added, removed, and changed (pattern, literal, list entries, combination,\n"
		"flags, action, category, severity, quiet, expiry, description). List\n"
		"entries are compared one by one when both sides are rule files; a compiled\n"
		"pack keeps only their number.\n"
		"With --corpus (one message per line, '-': stdin; empty lines skipped) it\n"
		"scans every message with both and counts the messages whose verdict\n"
		"changes, per change (e.g. \"pass→mask: 12\"), with up to N examples each:\n"
		"the text and the rules that made the difference (+rule: matches only with\n"
		"NEW, -rule: only with OLD, rule (a→b): matches with both, action changed).\n"
		"\n"
		"  -c, --corpus FILE     sample messages, one per line\n"
		"  -n, --examples N      examples per verdict change (default %d; 0: none)\n"
		"      --exit-code       exit 1 if anything differs (like diff(1))\n"
		"      --json            one JSON document instead of text\n"
		"  -h, --help            this help\n"
		"\n"
		"Exit status: 0 compared (with --exit-code: and nothing differs), 1 a pack or\n"
		"rule file is invalid (with --exit-code: or something differs), 2 usage\n"
		"error or an unreadable file.\n",
		sp_prog, DEFAULT_EXAMPLES);
}

/* ---- one side ---- */

struct side {
	const char *path;
	struct sluice_pack *pack;
	struct sp_rule_index ix;
	/* A rule file's own rules, for line numbers and list entries, which a
	 * compiled pack does not keep; list.count is 0 for a pack. */
	struct sluice_rule_list list;
	const struct sluice_rule **src; /* per group: its rule in list, or NULL */
	struct sp_scanner *sc;		/* with --corpus */
	const char **matched;		/* per group: action word if it matched, else NULL */
	uint32_t *hit;			/* the groups that matched the last message */
	size_t nhit;
};

static void find_sources(struct side *s)
{
	char err[SP_ERR_LEN];

	s->src = calloc(s->ix.ngroups ? s->ix.ngroups : 1, sizeof(*s->src));
	if (!s->src || sp_is_pack_file(s->path) ||
	    sluice_rule_file_load(s->path, &s->list, err, sizeof(err)) != 0) {
		memset(&s->list, 0, sizeof(s->list));
		return;
	}
	for (size_t i = 0; i < s->list.count; i++) {
		long g = sp_rule_index_find(&s->ix, s->list.rules[i].id);
		if (g >= 0 && !s->src[g])
			s->src[g] = &s->list.rules[i];
	}
}

static int side_load(struct side *s, const char *path, char *err, size_t err_len)
{
	int status;

	s->path = path;
	status = sp_load(path, &s->pack, err, err_len);
	if (status != SP_EXIT_OK)
		return status;
	if (sp_rule_index_build(s->pack, &s->ix) != 0) {
		snprintf(err, err_len, "%s: out of memory", path);
		return SP_EXIT_FAIL;
	}
	find_sources(s);
	return SP_EXIT_OK;
}

static void side_free(struct side *s)
{
	if (s->sc) {
		sp_scanner_free(s->sc);
		free(s->sc);
	}
	free(s->matched);
	free(s->hit);
	free(s->src);
	sluice_rule_list_free(&s->list);
	sp_rule_index_free(&s->ix);
	sluice_pack_free(s->pack);
}

static const struct sluice_pack_rule *rule_of(const struct side *s, size_t g)
{
	return sp_group_rule(&s->ix, g, 0);
}

/* The group in other with the id of group g of s, or -1. */
static long counterpart(const struct side *s, size_t g, const struct side *other)
{
	return sp_rule_index_find(&other->ix, rule_of(s, g)->id);
}

/* ---- rule changes ---- */

enum field {
	F_KIND,
	F_BODY,
	F_ENTRIES,
	F_FLAGS,
	F_ACTION,
	F_CATEGORY,
	F_SEVERITY,
	F_QUIET,
	F_EXPIRES,
	F_DESCRIPTION,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
    [F_KIND] = "kind",	       [F_BODY] = "body",
    [F_ENTRIES] = "entries",   [F_FLAGS] = "flags",
    [F_ACTION] = "action",     [F_CATEGORY] = "category",
    [F_SEVERITY] = "severity", [F_QUIET] = "quiet",
    [F_EXPIRES] = "expires",   [F_DESCRIPTION] = "description",
};

/* The body is named after what it is: a pattern, a literal, a list file, a
 * combination expression. */
static const char *field_name(const struct side *n, size_t g, enum field f)
{
	return f == F_BODY ? sluice_rule_kind_name(rule_of(n, g)->kind) : field_names[f];
}

/* A list's entries, sorted, to compare as sets. */
struct entries {
	const char **p;
	size_t n;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Entries of a list rule, when its rule file was read; -1 otherwise. */
static int entries_of(const struct side *s, size_t g, struct entries *out)
{
	const struct sluice_rule *r = s->src ? s->src[g] : NULL;

	out->p = NULL;
	out->n = 0;
	if (!r || r->kind != SLUICE_RULE_LIST)
		return -1;
	out->p = malloc((r->literal_count ? r->literal_count : 1) * sizeof(*out->p));
	if (!out->p)
		return -1;
	for (size_t k = 0; k < r->literal_count; k++)
		out->p[k] = r->literals[k].text;
	out->n = r->literal_count;
	qsort(out->p, out->n, sizeof(*out->p), cmp_str);
	return 0;
}

/* Calls fn for each entry only in a (sign '-') or only in b ('+'). */
static void entries_delta(const struct entries *a, const struct entries *b,
			  void (*fn)(void *ctx, char sign, const char *entry), void *ctx)
{
	size_t i = 0, k = 0;

	while (i < a->n || k < b->n) {
		int c = i == a->n ? 1 : k == b->n ? -1 : strcmp(a->p[i], b->p[k]);
		if (c < 0) {
			fn(ctx, '-', a->p[i++]);
		} else if (c > 0) {
			fn(ctx, '+', b->p[k++]);
		} else {
			i++;
			k++;
		}
	}
}

static void count_delta(void *ctx, char sign, const char *entry)
{
	(void)sign;
	(void)entry;
	(*(size_t *)ctx)++;
}

/* Whether two list rules have different entries: by content when both rule
 * files were read, else by number (all a pack keeps). */
static bool entries_differ(const struct side *o, size_t og, const struct side *n, size_t ng)
{
	struct entries a, b;
	size_t delta = 0;

	if (rule_of(o, og)->kind != SLUICE_RULE_LIST || rule_of(n, ng)->kind != SLUICE_RULE_LIST)
		return false;
	if (entries_of(o, og, &a) != 0 || entries_of(n, ng, &b) != 0) {
		free(a.p);
		return rule_of(o, og)->literal_count != rule_of(n, ng)->literal_count;
	}
	entries_delta(&a, &b, count_delta, &delta);
	free(a.p);
	free(b.p);
	return delta != 0;
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Bit f set when field f differs between the rules. */
static unsigned rule_changes(const struct side *o, size_t og, const struct side *n, size_t ng)
{
	const struct sluice_pack_rule *a = rule_of(o, og), *b = rule_of(n, ng);
	unsigned m = 0;

	if (a->kind != b->kind)
		m |= 1u << F_KIND;
	if (!same_str(a->pattern, b->pattern))
		m |= 1u << F_BODY;
	if (entries_differ(o, og, n, ng))
		m |= 1u << F_ENTRIES;
	if (a->flags != b->flags || a->caseless != b->caseless)
		m |= 1u << F_FLAGS;
	if (a->action != b->action || a->allow != b->allow)
		m |= 1u << F_ACTION;
	if (!same_str(a->category, b->category))
		m |= 1u << F_CATEGORY;
	if (strcmp(sluice_severity_name(a->severity), sluice_severity_name(b->severity)) != 0)
		m |= 1u << F_SEVERITY;
	if (a->quiet != b->quiet)
		m |= 1u << F_QUIET;
	if (a->expires_at != b->expires_at)
		m |= 1u << F_EXPIRES;
	if (!same_str(a->description, b->description))
		m |= 1u << F_DESCRIPTION;
	return m;
}

/* A field's value as text, for both outputs. */
static void field_value(const struct side *s, size_t g, enum field f, char *buf, size_t len)
{
	const struct sluice_pack_rule *r = rule_of(s, g);

	switch (f) {
	case F_KIND:
		snprintf(buf, len, "%s", sluice_rule_kind_name(r->kind));
		break;
	case F_BODY:
		snprintf(buf, len, "%s", r->pattern ? r->pattern : "");
		break;
	case F_ENTRIES:
		snprintf(buf, len, "%u entries", r->literal_count);
		break;
	case F_FLAGS:
		sp_flags_text(r->flags | (r->caseless ? SLUICE_RULE_CASELESS : 0), buf, len);
		break;
	case F_ACTION:
		snprintf(buf, len, "%s", sp_rule_action(r));
		break;
	case F_CATEGORY:
		snprintf(buf, len, "%s", r->category);
		break;
	case F_SEVERITY:
		snprintf(buf, len, "%s", sluice_severity_name(r->severity));
		break;
	case F_QUIET:
		snprintf(buf, len, "%s", r->quiet ? "true" : "false");
		break;
	case F_EXPIRES:
		if (r->expires_at)
			sp_format_time(r->expires_at, buf, len);
		else
			snprintf(buf, len, "never");
		break;
	case F_DESCRIPTION:
		snprintf(buf, len, "%s", r->description ? r->description : "");
		break;
	default:
		buf[0] = '\0';
	}
}

/* A removed rule with the same kind and body as added rule ng: most likely a
 * rename, which a reviewer should see as one change, not two. */
static const char *renamed_from(const struct side *o, const struct side *n, size_t ng)
{
	const struct sluice_pack_rule *b = rule_of(n, ng);

	for (size_t og = 0; og < o->ix.ngroups; og++) {
		const struct sluice_pack_rule *a = rule_of(o, og);
		if (counterpart(o, og, n) < 0 && a->kind == b->kind &&
		    same_str(a->pattern, b->pattern) && !entries_differ(o, og, n, ng))
			return a->id;
	}
	return NULL;
}

struct rule_diff {
	size_t added, removed, changed, unchanged;
};

static void count_rules(const struct side *o, const struct side *n, struct rule_diff *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t g = 0; g < n->ix.ngroups; g++) {
		long og = counterpart(n, g, o);
		if (og < 0)
			d->added++;
		else if (rule_changes(o, (size_t)og, n, g))
			d->changed++;
		else
			d->unchanged++;
	}
	for (size_t g = 0; g < o->ix.ngroups; g++) {
		if (counterpart(o, g, n) < 0)
			d->removed++;
	}
}

/* Text list entries: at most this many each way per list, the rest counted. */
#define TEXT_LIST_ENTRIES 5
/* JSON list entries: enough for any hand-edited list; a regenerated 100k
 * list would otherwise flood the document. */
#define JSON_LIST_ENTRIES 1000

struct delta_out {
	struct sluice_json_writer *j; /* NULL: text */
	char sign;		      /* which side this pass reports */
	size_t shown, total, limit;
};

static void delta_entry(void *ctx, char sign, const char *entry)
{
	struct delta_out *d = ctx;

	if (sign != d->sign)
		return;
	if (d->shown < d->limit) {
		if (d->j) {
			sluice_jw_string(d->j, NULL, entry);
		} else {
			printf("             %c ", sign);
			sp_print_quoted(stdout, entry, strlen(entry), false);
			putchar('\n');
		}
		d->shown++;
	}
	d->total++;
}

/* The entries added and removed, when both rule files were read. */
static void list_delta(struct sluice_json_writer *j, const struct side *o, size_t og,
		       const struct side *n, size_t ng)
{
	struct entries a, b;

	if (entries_of(o, og, &a) != 0)
		return;
	if (entries_of(n, ng, &b) == 0) {
		for (int pass = 0; pass < 2; pass++) {
			struct delta_out d = {.j = j,
					      .sign = pass ? '+' : '-',
					      .limit = j ? JSON_LIST_ENTRIES : TEXT_LIST_ENTRIES};
			if (j)
				sluice_jw_array(j, pass ? "added" : "removed");
			entries_delta(&a, &b, delta_entry, &d);
			if (j) {
				sluice_jw_end(j);
				sluice_jw_uint(j, pass ? "added_count" : "removed_count", d.total);
			} else if (d.total > d.shown) {
				printf("             %c ... %zu more\n", d.sign, d.total - d.shown);
			}
		}
		free(b.p);
	}
	free(a.p);
}

static void print_where(const struct side *s, size_t g)
{
	if (s->src && s->src[g])
		printf("  (%s:%u)", s->src[g]->file ? s->src[g]->file : s->path, s->src[g]->line);
}

static void text_rule_head(const char *what, const struct side *s, size_t g)
{
	const struct sluice_pack_rule *r = rule_of(s, g);

	printf("  %-8s %s [%s, %s] %s '%s'", what, r->id, r->category, sp_rule_action(r),
	       sluice_rule_kind_name(r->kind), r->pattern);
	if (r->kind == SLUICE_RULE_LIST)
		printf(" (%u entries)", r->literal_count);
	print_where(s, g);
}

static void text_changed(const struct side *o, size_t og, const struct side *n, size_t g,
			 unsigned m)
{
	char a[1024], b[1024];

	printf("  changed  %s", rule_of(n, g)->id);
	print_where(n, g);
	putchar('\n');
	for (int f = 0; f < F_COUNT; f++) {
		if (!(m & (1u << f)))
			continue;
		field_value(o, og, f, a, sizeof(a));
		field_value(n, g, f, b, sizeof(b));
		if (f == F_BODY || f == F_DESCRIPTION)
			printf("             %s '%s' → '%s'\n", field_name(n, g, f), a, b);
		else
			printf("             %s %s → %s\n", field_name(n, g, f), a, b);
		if (f == F_ENTRIES)
			list_delta(NULL, o, og, n, g);
	}
}

/* Rules in file order: NEW's for added and changed, OLD's for removed. */
static void text_rules(const struct side *o, const struct side *n)
{
	for (size_t i = 0; i < n->pack->rule_count; i++) {
		size_t g = n->ix.group_of[i];
		if (!sp_group_leader(&n->ix, i) || counterpart(n, g, o) >= 0)
			continue;
		const char *was = renamed_from(o, n, g);
		text_rule_head("added", n, g);
		if (was)
			printf("  (same body as removed %s: renamed?)", was);
		putchar('\n');
	}
	for (size_t i = 0; i < o->pack->rule_count; i++) {
		size_t g = o->ix.group_of[i];
		if (!sp_group_leader(&o->ix, i) || counterpart(o, g, n) >= 0)
			continue;
		text_rule_head("removed", o, g);
		putchar('\n');
	}
	for (size_t i = 0; i < n->pack->rule_count; i++) {
		size_t g = n->ix.group_of[i];
		long og = counterpart(n, g, o);
		unsigned m;

		if (sp_group_leader(&n->ix, i) && og >= 0 &&
		    (m = rule_changes(o, (size_t)og, n, g)))
			text_changed(o, (size_t)og, n, g, m);
	}
}

static void json_rule(struct sluice_json_writer *j, const struct side *s, size_t g, const char *was)
{
	const struct sluice_pack_rule *r = rule_of(s, g);

	sluice_jw_object(j, NULL);
	sluice_jw_string(j, "id", r->id);
	sluice_jw_string(j, "action", sp_rule_action(r));
	sluice_jw_string(j, "category", r->category);
	sluice_jw_string(j, "severity", sluice_severity_name(r->severity));
	sluice_jw_string(j, "kind", sluice_rule_kind_name(r->kind));
	sluice_jw_string(j, "body", r->pattern);
	if (r->kind == SLUICE_RULE_LIST)
		sluice_jw_uint(j, "entries", r->literal_count);
	if (s->src && s->src[g]) {
		sluice_jw_string(j, "file", s->src[g]->file ? s->src[g]->file : s->path);
		sluice_jw_uint(j, "line", s->src[g]->line);
	}
	if (was)
		sluice_jw_string(j, "renamed_from", was);
	sluice_jw_end(j);
}

static void json_changed(struct sluice_json_writer *j, const struct side *o, size_t og,
			 const struct side *n, size_t g, unsigned m)
{
	char a[1024], b[1024];

	sluice_jw_object(j, NULL);
	sluice_jw_string(j, "id", rule_of(n, g)->id);
	if (n->src && n->src[g]) {
		sluice_jw_string(j, "file", n->src[g]->file ? n->src[g]->file : n->path);
		sluice_jw_uint(j, "line", n->src[g]->line);
	}
	sluice_jw_array(j, "changes");
	for (int f = 0; f < F_COUNT; f++) {
		if (!(m & (1u << f)))
			continue;
		field_value(o, og, f, a, sizeof(a));
		field_value(n, g, f, b, sizeof(b));
		sluice_jw_object(j, NULL);
		sluice_jw_string(j, "field", field_name(n, g, f));
		sluice_jw_string(j, "old", a);
		sluice_jw_string(j, "new", b);
		if (f == F_ENTRIES)
			list_delta(j, o, og, n, g);
		sluice_jw_end(j);
	}
	sluice_jw_end(j);
	sluice_jw_end(j);
}

static void json_rules(struct sluice_json_writer *j, const struct side *o, const struct side *n,
		       const struct rule_diff *d)
{
	sluice_jw_object(j, "rules");
	sluice_jw_array(j, "added");
	for (size_t i = 0; i < n->pack->rule_count; i++) {
		size_t g = n->ix.group_of[i];
		if (sp_group_leader(&n->ix, i) && counterpart(n, g, o) < 0)
			json_rule(j, n, g, renamed_from(o, n, g));
	}
	sluice_jw_end(j);
	sluice_jw_array(j, "removed");
	for (size_t i = 0; i < o->pack->rule_count; i++) {
		size_t g = o->ix.group_of[i];
		if (sp_group_leader(&o->ix, i) && counterpart(o, g, n) < 0)
			json_rule(j, o, g, NULL);
	}
	sluice_jw_end(j);
	sluice_jw_array(j, "changed");
	for (size_t i = 0; i < n->pack->rule_count; i++) {
		size_t g = n->ix.group_of[i];
		long og = counterpart(n, g, o);
		unsigned m;

		if (sp_group_leader(&n->ix, i) && og >= 0 &&
		    (m = rule_changes(o, (size_t)og, n, g)))
			json_changed(j, o, (size_t)og, n, g, m);
	}
	sluice_jw_end(j);
	sluice_jw_uint(j, "unchanged", d->unchanged);
	sluice_jw_end(j);
}

/* ---- corpus ---- */

/* One rule that matched with one pack and not the other, or with both
 * under different actions. */
struct cause {
	const char *id;
	const char *old_action; /* NULL: did not match with OLD */
	const char *new_action; /* NULL: did not match with NEW */
};

struct example {
	unsigned long line;
	char *text;
	struct cause *causes;
	size_t ncauses;
};

struct transition {
	unsigned long count;
	struct example *examples; /* up to max_examples */
	size_t nexamples;
};

struct corpus {
	const char *path;
	struct side *old, *new;
	size_t max_examples;
	unsigned long messages, changed, matches_only, invalid_utf8, skipped_empty;
	struct transition tr[SLUICE_ACTION_COUNT][SLUICE_ACTION_COUNT];
	char err[SP_ERR_LEN];
};

/* Fills s->matched and s->hit for the rules of the last scan. Only the
 * previous message's rules are reset, so a message costs its matches, not
 * the size of the pack. */
static void collect(struct side *s)
{
	const struct sluice_match_set *set = &s->sc->set;

	for (size_t i = 0; i < s->nhit; i++)
		s->matched[s->hit[i]] = NULL;
	s->nhit = 0;
	for (uint32_t i = 0; i < set->count; i++) {
		uint32_t r = set->matches[i].rule;
		size_t g = s->ix.group_of[r];
		if (!s->matched[g]) {
			s->hit[s->nhit++] = (uint32_t)g;
			s->matched[g] = sp_rule_action(&s->pack->rules[r]);
		}
	}
}

/* The rules that made the difference for one message, OLD's first. */
static size_t causes_of(const struct side *o, const struct side *n, struct cause *out)
{
	size_t k = 0;

	for (size_t h = 0; h < o->nhit; h++) {
		size_t g = o->hit[h];
		long j = counterpart(o, g, n);
		const char *na = j >= 0 ? n->matched[j] : NULL;
		if (!na || strcmp(na, o->matched[g]) != 0) {
			if (out)
				out[k] = (struct cause){rule_of(o, g)->id, o->matched[g], na};
			k++;
		}
	}
	for (size_t h = 0; h < n->nhit; h++) {
		size_t g = n->hit[h];
		long j = counterpart(n, g, o);
		if (j < 0 || !o->matched[j]) {
			if (out)
				out[k] = (struct cause){rule_of(n, g)->id, NULL, n->matched[g]};
			k++;
		}
	}
	return k;
}

static int add_example(struct corpus *c, struct transition *t, unsigned long line, const char *text,
		       size_t len)
{
	struct example *e;

	if (!t->examples) {
		t->examples = calloc(c->max_examples, sizeof(*t->examples));
		if (!t->examples)
			return -1;
	}
	e = &t->examples[t->nexamples];
	e->line = line;
	e->text = strndup(text, len);
	e->ncauses = causes_of(c->old, c->new, NULL);
	e->causes = calloc(e->ncauses ? e->ncauses : 1, sizeof(*e->causes));
	if (!e->text || !e->causes) {
		free(e->text);
		free(e->causes);
		return -1;
	}
	causes_of(c->old, c->new, e->causes);
	t->nexamples++;
	return 0;
}

static int on_corpus_line(void *ctx, unsigned long line_no, const char *text, size_t len)
{
	struct corpus *c = ctx;

	if (len == 0) {
		c->skipped_empty++;
		return 0;
	}
	c->messages++;
	if (sluice_utf8_invalid_at((const uint8_t *)text, len) != len || len > UINT32_MAX) {
		c->invalid_utf8++;
		return 0;
	}
	if (sp_scan(c->old->sc, text, len, c->err, sizeof(c->err)) != 0 ||
	    sp_scan(c->new->sc, text, len, c->err, sizeof(c->err)) != 0)
		return 1;
	collect(c->old);
	collect(c->new);
	enum sluice_action va = c->old->sc->set.verdict, vb = c->new->sc->set.verdict;
	if (va == vb) {
		if (causes_of(c->old, c->new, NULL) > 0)
			c->matches_only++;
		return 0;
	}
	c->changed++;
	struct transition *t = &c->tr[va][vb];
	t->count++;
	if (t->nexamples < c->max_examples && add_example(c, t, line_no, text, len) != 0) {
		snprintf(c->err, sizeof(c->err), "%s: out of memory", c->path);
		return 1;
	}
	return 0;
}

static int corpus_prepare(struct side *s, char *err, size_t err_len)
{
	s->sc = calloc(1, sizeof(*s->sc));
	s->matched = calloc(s->ix.ngroups ? s->ix.ngroups : 1, sizeof(*s->matched));
	s->hit = calloc(SP_MATCH_CAPACITY, sizeof(*s->hit));
	if (!s->sc || !s->matched || !s->hit) {
		snprintf(err, err_len, "%s: out of memory", s->path);
		return -1;
	}
	if (sp_scanner_init(s->sc, s->pack, (int64_t)time(NULL), err, err_len) != 0) {
		free(s->sc);
		s->sc = NULL;
		return -1;
	}
	return 0;
}

static void corpus_free(struct corpus *c)
{
	for (int a = 0; a < SLUICE_ACTION_COUNT; a++) {
		for (int b = 0; b < SLUICE_ACTION_COUNT; b++) {
			struct transition *t = &c->tr[a][b];
			for (size_t i = 0; i < t->nexamples; i++) {
				free(t->examples[i].text);
				free(t->examples[i].causes);
			}
			free(t->examples);
		}
	}
}

static void text_cause(const struct cause *k)
{
	if (!k->old_action)
		printf("+%s (%s)", k->id, k->new_action);
	else if (!k->new_action)
		printf("-%s (%s)", k->id, k->old_action);
	else
		printf("%s (%s→%s)", k->id, k->old_action, k->new_action);
}

static void text_corpus(const struct corpus *c)
{
	printf(
	    "corpus %s: %lu messages, %lu change verdict, %lu keep their verdict with other rules",
	    c->path, c->messages, c->changed, c->matches_only);
	if (c->invalid_utf8)
		printf(", %lu invalid UTF-8 (not scanned)", c->invalid_utf8);
	putchar('\n');
	for (int a = 0; a < SLUICE_ACTION_COUNT; a++) {
		for (int b = 0; b < SLUICE_ACTION_COUNT; b++) {
			const struct transition *t = &c->tr[a][b];
			if (!t->count)
				continue;
			printf("  %s→%s: %lu\n", sp_verdict_name(a), sp_verdict_name(b), t->count);
			for (size_t i = 0; i < t->nexamples; i++) {
				const struct example *e = &t->examples[i];
				printf("    %s:%lu: ", c->path, e->line);
				sp_print_quoted(stdout, e->text, strlen(e->text), false);
				for (size_t k = 0; k < e->ncauses; k++) {
					fputs(k ? ", " : "  ", stdout);
					text_cause(&e->causes[k]);
				}
				putchar('\n');
			}
		}
	}
}

static void json_corpus(struct sluice_json_writer *j, const struct corpus *c)
{
	sluice_jw_object(j, "corpus");
	sluice_jw_string(j, "file", c->path);
	sluice_jw_uint(j, "messages", c->messages);
	sluice_jw_uint(j, "changed_verdict", c->changed);
	sluice_jw_uint(j, "changed_matches_only", c->matches_only);
	sluice_jw_uint(j, "invalid_utf8", c->invalid_utf8);
	sluice_jw_uint(j, "empty_lines", c->skipped_empty);
	sluice_jw_array(j, "transitions");
	for (int a = 0; a < SLUICE_ACTION_COUNT; a++) {
		for (int b = 0; b < SLUICE_ACTION_COUNT; b++) {
			const struct transition *t = &c->tr[a][b];
			if (!t->count)
				continue;
			sluice_jw_object(j, NULL);
			sluice_jw_string(j, "from", sp_verdict_name(a));
			sluice_jw_string(j, "to", sp_verdict_name(b));
			sluice_jw_uint(j, "count", t->count);
			sluice_jw_array(j, "examples");
			for (size_t i = 0; i < t->nexamples; i++) {
				const struct example *e = &t->examples[i];
				sluice_jw_object(j, NULL);
				sluice_jw_uint(j, "line", e->line);
				sluice_jw_string(j, "text", e->text);
				sluice_jw_array(j, "rules");
				for (size_t k = 0; k < e->ncauses; k++) {
					sluice_jw_object(j, NULL);
					sluice_jw_string(j, "rule", e->causes[k].id);
					sluice_jw_string(j, "old", e->causes[k].old_action);
					sluice_jw_string(j, "new", e->causes[k].new_action);
					sluice_jw_end(j);
				}
				sluice_jw_end(j);
				sluice_jw_end(j);
			}
			sluice_jw_end(j);
			sluice_jw_end(j);
		}
	}
	sluice_jw_end(j);
	sluice_jw_end(j);
}

/* ---- command ---- */

static void json_side(struct sluice_json_writer *j, const char *key, const struct side *s)
{
	sluice_jw_object(j, key);
	sluice_jw_string(j, "file", s->path);
	sluice_jw_string(j, "name", s->pack->name);
	sluice_jw_string(j, "version", s->pack->version);
	sluice_jw_string(j, "sha256", s->pack->sha256_hex);
	sluice_jw_uint(j, "rules", s->pack->rule_count);
	sluice_jw_end(j);
}

static void text_side(const char *label, const struct side *s)
{
	printf("%s %s: %s %s, %zu rules, sha256 %.16s\n", label, s->path, s->pack->name,
	       s->pack->version, s->pack->rule_count, s->pack->sha256_hex);
}

static int parse_examples(const char *cmd_name, const char *arg, void *max_examples)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (*arg == '\0' || *arg == '-' || *end != '\0' || v > 100000)
		return sp_usage_error(cmd_name, "--examples: '%s' is not a count", arg);
	*(size_t *)max_examples = v;
	return 0;
}

int sp_cmd_diff(int argc, char **argv)
{
	struct corpus corpus = {.max_examples = DEFAULT_EXAMPLES};
	const char *corpus_path = NULL;
	bool json, exit_code = false;
	const struct sp_option opts[] = {
	    {.name = "corpus", .short_name = 'c', .value = &corpus_path},
	    {.name = "examples",
	     .short_name = 'n',
	     .parse = parse_examples,
	     .target = &corpus.max_examples},
	    {.name = "exit-code", .flag = &exit_code},
	    {0},
	};
	struct sp_args args = {.cmd = cmd, .usage = usage};
	struct side old = {0}, new = {0};
	char err[SP_ERR_LEN];
	struct rule_diff d;
	struct sluice_json_writer j;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 2)
		return sp_usage_error(cmd, "need two packs or rule files, OLD and NEW");
	json = args.json;
	if (json)
		sp_json_begin(&j, stdout, "diff");
	status = side_load(&old, args.operands[0], err, sizeof(err));
	if (status == SP_EXIT_OK)
		status = side_load(&new, args.operands[1], err, sizeof(err));
	if (status != SP_EXIT_OK)
		goto out;

	count_rules(&old, &new, &d);
	if (json) {
		json_side(&j, "old", &old);
		json_side(&j, "new", &new);
		json_rules(&j, &old, &new, &d);
	} else {
		text_side("old:", &old);
		text_side("new:", &new);
		printf("rules: %zu added, %zu removed, %zu changed, %zu unchanged\n", d.added,
		       d.removed, d.changed, d.unchanged);
		text_rules(&old, &new);
	}
	/* A compiled pack keeps a list's size, not its entries: two packs can
	 * differ where no rule shows it. Say so rather than look identical. */
	if (!d.added && !d.removed && !d.changed &&
	    strcmp(old.pack->sha256_hex, new.pack->sha256_hex) != 0) {
		const char *note = "the packs' bytes differ in what is not compared rule by rule "
				   "(list entries of compiled packs, name, version, owner); diff "
				   "the rule files to see list entries";
		if (json)
			sluice_jw_string(&j, "note", note);
		else
			printf("note: %s\n", note);
	}

	if (corpus_path) {
		corpus.path = strcmp(corpus_path, "-") == 0 ? "(stdin)" : corpus_path;
		corpus.old = &old;
		corpus.new = &new;
		if (corpus_prepare(&old, err, sizeof(err)) != 0 ||
		    corpus_prepare(&new, err, sizeof(err)) != 0) {
			status = SP_EXIT_FAIL;
			goto out;
		}
		int rc = sp_each_line(corpus_path, on_corpus_line, &corpus, corpus.err,
				      sizeof(corpus.err));
		if (rc != 0) {
			snprintf(err, sizeof(err), "%s", corpus.err);
			status = rc == -1 ? SP_EXIT_USAGE : SP_EXIT_FAIL;
			goto out;
		}
		if (json)
			json_corpus(&j, &corpus);
		else
			text_corpus(&corpus);
	}
	if (exit_code && (d.added || d.removed || d.changed || corpus.changed))
		status = SP_EXIT_FAIL;
	err[0] = '\0';
out:
	corpus_free(&corpus);
	side_free(&old);
	side_free(&new);
	/* err is empty when the only failure is --exit-code's "differs". */
	if (err[0])
		fprintf(stderr, "%s\n", err);
	if (json)
		return sp_json_finish(&j, status, err[0] ? err : NULL);
	return status;
}
