#include "pack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int copy_rules(const struct sluice_rule_list *rules, struct sluice_pack *pack)
{
	pack->rules = calloc(rules->count, sizeof(*pack->rules));
	if (!pack->rules)
		return -1;
	pack->rule_count = rules->count;
	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		struct sluice_pack_rule *p = &pack->rules[i];

		p->id = strdup(r->id);
		p->category = strdup(r->category);
		p->pattern = strdup(r->pattern);
		p->action = r->action;
		p->caseless = r->caseless;
		if (!p->id || !p->category || !p->pattern)
			return -1;
	}
	pack->name = strdup(rules->name ? rules->name : "unnamed");
	pack->version = strdup(rules->version ? rules->version : "0");
	pack->source = strdup(rules->source ? rules->source : "(rules)");
	return pack->name && pack->version && pack->source ? 0 : -1;
}

int sluice_pack_compile(const struct sluice_rule_list *rules, struct sluice_pack **out, char *err,
			size_t err_len)
{
	const char *src = rules->source ? rules->source : "(rules)";
	const char **exprs = NULL;
	unsigned int *flags = NULL, *ids = NULL;
	hs_compile_error_t *cerr = NULL;
	struct sluice_pack *pack = NULL;
	hs_database_t *db = NULL;
	int rc = -1;

	*out = NULL;
	if (rules->count == 0) {
		set_err(err, err_len, "%s: no rules to compile", src);
		return -1;
	}
	if (rules->count > UINT32_MAX) {
		set_err(err, err_len, "%s: %zu rules is more than a pack can hold", src,
			rules->count);
		return -1;
	}
	exprs = calloc(rules->count, sizeof(*exprs));
	flags = calloc(rules->count, sizeof(*flags));
	ids = calloc(rules->count, sizeof(*ids));
	pack = calloc(1, sizeof(*pack));
	if (!exprs || !flags || !ids || !pack) {
		set_err(err, err_len, "%s: out of memory", src);
		goto out;
	}
	for (size_t i = 0; i < rules->count; i++) {
		exprs[i] = rules->rules[i].pattern;
		/* Start-of-match is what lets a mask cover exactly the matched
		 * bytes; UTF-8 mode makes '.' and classes mean characters. */
		flags[i] = HS_FLAG_UTF8 | HS_FLAG_SOM_LEFTMOST;
		if (rules->rules[i].caseless)
			flags[i] |= HS_FLAG_CASELESS;
		ids[i] = (unsigned int)i;
	}

	/* NULL platform: tune for the machine compiling, which is also the
	 * platform recorded in the pack file. */
	if (hs_compile_multi(exprs, flags, ids, (unsigned int)rules->count, HS_MODE_BLOCK, NULL,
			     &db, &cerr) != HS_SUCCESS) {
		const char *msg = cerr && cerr->message ? cerr->message : "unknown error";
		if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < rules->count) {
			const struct sluice_rule *r = &rules->rules[cerr->expression];
			set_err(err, err_len,
				"%s:%u:%u: rule %s: pattern rejected by Hyperscan: %s", src,
				r->line, r->column, r->id, msg);
		} else {
			set_err(err, err_len, "%s: Hyperscan could not compile the rules: %s", src,
				msg);
		}
		hs_free_compile_error(cerr);
		goto out;
	}

	pack->db = db;
	db = NULL;
	if (hs_database_size(pack->db, &pack->db_bytes) != HS_SUCCESS) {
		set_err(err, err_len, "%s: cannot size the compiled database", src);
		goto out;
	}
	if (copy_rules(rules, pack) != 0) {
		set_err(err, err_len, "%s: out of memory", src);
		goto out;
	}

	/* The hash identifies a pack in audit lines and swaps whether or not it
	 * was ever written, so it is the hash of the body a write would produce. */
	uint8_t *image = NULL;
	size_t image_len = 0;
	if (sluice_pack_serialize(pack, &image, &image_len, pack->sha256_hex, err, err_len) != 0)
		goto out;
	free(image);

	*out = pack;
	pack = NULL;
	rc = 0;
out:
	sluice_pack_free(pack);
	free(exprs);
	free(flags);
	free(ids);
	return rc;
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
		}
	}
	free(pack->rules);
	free(pack->name);
	free(pack->version);
	free(pack->source);
	if (pack->db)
		hs_free_database(pack->db);
	free(pack);
}

hs_error_t sluice_pack_alloc_scratch(const struct sluice_pack *pack, hs_scratch_t **scratch)
{
	return hs_alloc_scratch(pack->db, scratch);
}

size_t sluice_pack_memory(const struct sluice_pack *pack)
{
	return pack->db_bytes;
}
