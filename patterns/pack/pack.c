#include "pack.h"

#include <stdlib.h>
#include <string.h>

const char *sluice_view_name(enum sluice_text_view view)
{
	return view == SLUICE_VIEW_FOLDED ? "folded" : "raw";
}

const char *sluice_db_kind_name(enum sluice_db_kind kind)
{
	switch (kind) {
	case SLUICE_DB_LITERAL:
		return "literal";
	case SLUICE_DB_REGEX:
		return "regex";
	case SLUICE_DB_LOGIC:
		return "logic";
	case SLUICE_DB_ANCHORED:
		return "anchored";
	case SLUICE_DB_REGEX_ENDS:
		return "regex-ends";
	case SLUICE_DB_SPAN:
		return "span";
	default:
		return "unknown";
	}
}

void sluice_pack_free(struct sluice_pack *pack)
{
	if (!pack)
		return;
	if (pack->rules) {
		for (size_t i = 0; i < pack->rule_count; i++) {
			free(pack->rules[i].id);
			free(pack->rules[i].category);
			free(pack->rules[i].pattern);
			free(pack->rules[i].description);
		}
	}
	free(pack->rules);
	free(pack->name);
	free(pack->version);
	free(pack->source);
	free(pack->owner);
	free(pack->description);
	for (size_t i = 0; pack->dbs && i < pack->db_count; i++) {
		if (pack->dbs[i].db)
			hs_free_database(pack->dbs[i].db);
		free(pack->dbs[i].map);
	}
	free(pack->dbs);
	if (pack->fold != NULL)
		sluice_fold_table_free(pack->fold);
	free(pack->fold);
	free(pack->logic);
	free(pack->combinations);
	free(pack);
}

hs_error_t sluice_pack_alloc_scratch(const struct sluice_pack *pack, hs_scratch_t **scratch)
{
	for (size_t i = 0; i < pack->db_count; i++) {
		hs_error_t rc = hs_alloc_scratch(pack->dbs[i].db, scratch);
		if (rc != HS_SUCCESS)
			return rc;
	}
	return pack->db_count ? HS_SUCCESS : HS_INVALID;
}

size_t sluice_pack_memory(const struct sluice_pack *pack)
{
	size_t n = pack->db_bytes;

	for (size_t i = 0; i < pack->db_count; i++)
		n += (size_t)pack->dbs[i].id_count * sizeof(struct sluice_pack_pattern);
	if (pack->fold != NULL)
		n += sluice_fold_table_memory(pack->fold);
	return n;
}

unsigned sluice_pack_views(const struct sluice_pack *pack)
{
	unsigned views = 0;

	for (size_t d = 0; d < pack->db_count; d++) {
		if (pack->dbs[d].kind != SLUICE_DB_LOGIC)
			views |= 1u << pack->dbs[d].view;
	}
	return views;
}

void sluice_pack_unfolded(const struct sluice_pack *pack, struct sluice_pack *copy,
			  struct sluice_pack_db *dbs)
{
	*copy = *pack;
	for (size_t d = 0; d < pack->db_count; d++) {
		dbs[d] = pack->dbs[d];
		dbs[d].view = SLUICE_VIEW_RAW;
	}
	copy->dbs = dbs;
	copy->views = sluice_pack_views(copy);
}

void sluice_pack_link_spans(struct sluice_pack *pack)
{
	for (size_t d = 0; d < pack->db_count; d++) {
		struct sluice_pack_db *db = &pack->dbs[d];
		db->span_index = SLUICE_NO_SPAN;
		for (size_t s = 0; s < pack->db_count; s++)
			if (pack->dbs[s].kind == SLUICE_DB_SPAN && pack->dbs[s].view == db->view &&
			    (db->kind == SLUICE_DB_REGEX || db->kind == SLUICE_DB_ANCHORED))
				db->span_index = (uint32_t)s;
	}
}

int sluice_pack_derive(struct sluice_pack *pack)
{
	/* categories[c]: the first rule of category c. */
	uint32_t *first = calloc(pack->rule_count ? pack->rule_count : 1, sizeof(*first));
	if (first == NULL)
		return -1;
	pack->category_count = 0;
	pack->has_allow = pack->has_quiet = pack->has_edge_check = false;
	pack->has_not_combination = pack->combination_when_none = false;
	for (size_t i = 0; i < pack->rule_count; i++) {
		struct sluice_pack_rule *rule = &pack->rules[i];
		size_t c = 0;
		while (c < pack->category_count &&
		       strcmp(pack->rules[first[c]].category, rule->category) != 0)
			c++;
		if (c == pack->category_count)
			first[pack->category_count++] = (uint32_t)i;
		rule->category_index = (uint32_t)c;
		pack->has_allow |= rule->allow;
		pack->has_quiet |= rule->quiet;
		pack->has_edge_check |= rule->edge_check != 0;
		if (rule->kind != SLUICE_RULE_COMBINATION)
			continue;
		const struct sluice_logic_op *prog = pack->logic + rule->logic_off;
		rule->logic_has_not = sluice_logic_has_not(prog, rule->logic_len);
		pack->has_not_combination |= rule->logic_has_not;
		pack->combination_when_none |= sluice_logic_holds_when_none(prog, rule->logic_len);
	}
	pack->has_combination = pack->combination_count != 0;
	pack->views = sluice_pack_views(pack);
	free(first);
	return 0;
}
