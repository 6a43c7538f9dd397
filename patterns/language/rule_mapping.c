/* A mapping read against its table of keys (rule_loader.h): a rule and the
 * top level of a file are both mappings of known keys, so the same code looks
 * each key up, reports unknown and repeated ones, then hands each value to
 * its key's handler; and the values several keys share: a word from a set,
 * true or false.
 */
#include "rule_loader.h"
#include "suggest.h"

size_t sluice_loader_key_index(const struct mapping_kind *m, const yaml_node_t *k)
{
	size_t i;

	for (i = 0; i < m->count && !scalar_is(k, m->keys[i].name); i++)
		;
	return i;
}

void sluice_loader_suggest_key(const struct mapping_kind *m, const yaml_node_t *k,
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
	sluice_loader_suggest_key(m, k, &s);
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

void sluice_loader_collect_keys(struct file_ctx *fc, const struct mapping_kind *m,
				const yaml_node_t *node, struct key_draft *d)
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
		size_t i = sluice_loader_key_index(m, k);
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
void sluice_loader_apply_keys(struct file_ctx *fc, const struct mapping_kind *m,
			      struct key_draft *d)
{
	for (size_t i = 0; i < m->count; i++) {
		if (d->v[i] && m->keys[i].apply)
			m->keys[i].apply(fc, d, d->v[i]);
	}
}

int sluice_loader_unknown_word(struct file_ctx *fc, const struct key_draft *d,
			       const struct word_set *set, const yaml_node_t *v)
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
int sluice_loader_parse_bool(struct file_ctx *fc, const yaml_node_t *v, const char *rule,
			     const char *key, bool *out)
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
