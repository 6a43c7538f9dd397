#include "soak_packs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "match.h"
#include "message_table.h"
#include "pack.h"
#include "pack_compile.h"
#include "pack_source.h"
#include "rule_file.h"

#define MATCH_CAPACITY 64

static const char *const suffix[2] = {"-soak-a", "-soak-b"};

static int compile_version(struct soak_packs *p, const char *rules_path, unsigned which,
			   const char *dir, char *err, size_t err_len)
{
	struct sluice_rule_list rules;
	if (sluice_rule_file_load(rules_path, &rules, err, err_len) != 0)
		return -1;
	const char *base = rules.version != NULL ? rules.version : "0";
	snprintf(p->version[which], sizeof(p->version[which]), "%s%s", base, suffix[which]);
	char *version = strdup(p->version[which]);
	int rc = -1;
	struct sluice_pack *pack = NULL;
	if (version == NULL) {
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	free(rules.version);
	rules.version = version;
	if (sluice_pack_compile(&rules, &pack, err, err_len) != 0)
		goto out;
	if (asprintf(&p->path[which], "%s/main%s.pack", dir, suffix[which]) < 0) {
		p->path[which] = NULL;
		snprintf(err, err_len, "out of memory");
		goto out;
	}
	rc = sluice_pack_write(pack, p->path[which], err, err_len);
out:
	sluice_pack_free(pack);
	sluice_rule_list_free(&rules);
	return rc;
}

int soak_packs_prepare(struct soak_packs *p, const struct soak_options *o, const char *dir,
		       char *err, size_t err_len)
{
	memset(p, 0, sizeof(*p));
	if (o->pack_a != NULL) {
		p->path[0] = strdup(o->pack_a);
		p->path[1] = strdup(o->pack_b);
		if (p->path[0] == NULL || p->path[1] == NULL) {
			snprintf(err, err_len, "out of memory");
			return -1;
		}
		return 0;
	}
	p->compiled_here = true;
	double start = sluice_mono_ms();
	for (unsigned which = 0; which < 2; which++) {
		if (compile_version(p, o->rules, which, dir, err, err_len) != 0)
			return -1;
	}
	p->compile_ms = sluice_mono_ms() - start;
	return 0;
}

/* Scans every text the pack must judge and compares with the table. */
static int check_one(struct soak_packs *p, unsigned which, char *err, size_t err_len)
{
	struct sluice_pack *pack = NULL;
	char why[768];
	if (sluice_pack_load(p->path[which], &pack, why, sizeof(why)) != 0) {
		snprintf(err, err_len, "%s", why);
		return -1;
	}
	snprintf(p->version[which], sizeof(p->version[which]), "%s", pack->version);
	snprintf(p->name, sizeof(p->name), "%s", pack->name);
	p->rules = pack->rule_count;
	hs_scratch_t *scratch = NULL;
	if (sluice_pack_alloc_scratch(pack, &scratch) != HS_SUCCESS) {
		snprintf(err, err_len, "%s: cannot allocate Hyperscan scratch", p->path[which]);
		sluice_pack_free(pack);
		return -1;
	}
	static const enum sluice_action action_of[SOAK_OUTCOME_COUNT] = {
	    [SOAK_PASS] = SLUICE_ACTION_NONE,
	    [SOAK_FLAG] = SLUICE_ACTION_FLAG,
	    [SOAK_MASK] = SLUICE_ACTION_MASK,
	    [SOAK_BLOCK] = SLUICE_ACTION_BLOCK,
	};
	struct sluice_match storage[MATCH_CAPACITY];
	struct sluice_match_set set;
	struct sluice_norm_space norm = {0};
	sluice_match_set_init(&set, storage, MATCH_CAPACITY, pack);
	set.norm = &norm;
	int rc = 0;
	for (size_t i = 0; i < soak_text_count() && rc == 0; i++) {
		const struct soak_text *t = soak_text_at(i);
		if (t->outcome == SOAK_BAD_UTF8)
			continue;
		sluice_match_set_reset(&set);
		if (sluice_norm_space_reserve(&norm, strlen(t->text), &sluice_libc_allocator) !=
			0 ||
		    sluice_scan_message(pack, scratch, t->text, strlen(t->text), &set) !=
			HS_SUCCESS) {
			snprintf(err, err_len, "%s: Hyperscan failed on text %s", p->path[which],
				 t->name);
			rc = -1;
		} else if (set.verdict != action_of[t->outcome] ||
			   (t->outcome != SOAK_PASS && set.count != t->spans)) {
			snprintf(err, err_len,
				 "%s (%s %s) does not act on the soak's text %s (\"%s\") as its "
				 "table says: verdict %s with %u span(s), the table expects %s "
				 "with %u; use a pack built from patterns/rules/default.yaml",
				 p->path[which], pack->name, pack->version, t->name, t->text,
				 sluice_action_name(set.verdict), set.count,
				 soak_outcome_name(t->outcome), t->spans);
			rc = -1;
		}
	}
	hs_free_scratch(scratch);
	sluice_norm_space_free(&norm);
	sluice_pack_free(pack);
	return rc;
}

int soak_packs_check(struct soak_packs *p, char *err, size_t err_len)
{
	for (unsigned which = 0; which < 2; which++) {
		if (check_one(p, which, err, err_len) != 0)
			return -1;
	}
	if (strcmp(p->version[0], p->version[1]) == 0) {
		snprintf(err, err_len,
			 "--pack-a and --pack-b have the same version (%s): a reload between them "
			 "would not show in `status`; give packs that differ in version",
			 p->version[0]);
		return -1;
	}
	return 0;
}

void soak_packs_free(struct soak_packs *p)
{
	for (unsigned which = 0; which < 2; which++) {
		if (p->compiled_here && p->path[which] != NULL)
			unlink(p->path[which]);
		free(p->path[which]);
		p->path[which] = NULL;
	}
}
