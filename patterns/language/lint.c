#include "lint.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file_read.h"
#include "match.h"
#include "pack_compile.h"
#include "rule_file.h"
#include "utf8.h"

#define CORPUS_MATCHES 512

static void format_day(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

static const char *rule_file(const struct sluice_rule_list *rules, const struct sluice_rule *r)
{
	return r->file ? r->file : rules->source;
}

static void check_expiry(const struct sluice_rule_list *rules, int64_t now,
			 struct sluice_diag_list *out)
{
	for (size_t i = 0; i < rules->count; i++) {
		const struct sluice_rule *r = &rules->rules[i];
		char last[16], from[32];

		if (!r->expires_at || r->expires_at > now)
			continue;
		/* expires_at is the first second after the expiry day. */
		format_day(r->expires_at - 1, last, sizeof(last));
		format_day(r->expires_at, from, sizeof(from));
		sluice_diag_add(out, SLUICE_DIAG_WARNING, rule_file(rules, r),
				r->expires_loc.line ? r->expires_loc.line : r->line,
				r->expires_loc.line ? r->expires_loc.column : r->column, r->id,
				"expired",
				"the rule expired on %s and has not applied since %s 00:00 UTC; "
				"delete it, or move the date if its notice was extended",
				last, from);
	}
}

struct corpus_ctx {
	const struct sluice_pack *pack;
	hs_scratch_t *scratch;
	struct sluice_match_set set;
	struct sluice_norm_space norm;
	uint32_t *hits; /* lines per rule */
	uint32_t *last; /* line a rule was last counted for */
	unsigned long lines;
	unsigned long skipped; /* not valid UTF-8 */
};

static void scan_line(struct corpus_ctx *c, const char *text, size_t len)
{
	if (len == 0)
		return;
	if (len > UINT32_MAX || !sluice_utf8_valid((const uint8_t *)text, len)) {
		c->skipped++;
		return;
	}
	c->lines++;
	if (sluice_norm_space_reserve(&c->norm, len, &sluice_libc_allocator) != 0 ||
	    sluice_scan_message(c->pack, c->scratch, text, len, &c->set) != HS_SUCCESS)
		return;
	for (uint32_t i = 0; i < c->set.count; i++) {
		uint32_t r = c->set.matches[i].rule;
		if (c->last[r] != c->lines) {
			c->last[r] = (uint32_t)c->lines;
			c->hits[r]++;
		}
	}
}

/* A rule that acts on most of a sample of real messages is a collision, not
 * a catch: it would flag, mask or block ordinary conversation. */
static void check_corpus(const struct sluice_rule_list *rules, const struct sluice_pack *pack,
			 const char *path, double share, struct sluice_diag_list *out)
{
	struct sluice_match storage[CORPUS_MATCHES];
	struct corpus_ctx c = {.pack = pack};
	char why[256];
	FILE *f = sluice_file_fopen_regular(path, why, sizeof(why));
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f) {
		sluice_diag_add(out, SLUICE_DIAG_ERROR, path, 1, 1, NULL, "corpus",
				"sample corpus: %s", why);
		return;
	}
	c.hits = calloc(pack->rule_count, sizeof(*c.hits));
	c.last = calloc(pack->rule_count, sizeof(*c.last));
	if (!c.hits || !c.last || sluice_pack_alloc_scratch(pack, &c.scratch) != HS_SUCCESS) {
		sluice_diag_add(out, SLUICE_DIAG_ERROR, path, 1, 1, NULL, "corpus",
				"out of memory while scanning the sample corpus");
		goto out;
	}
	sluice_match_set_init(&c.set, storage, CORPUS_MATCHES, pack);
	c.set.norm = &c.norm;
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		scan_line(&c, line, len);
	}
	if (c.lines == 0)
		goto out;
	for (size_t p = 0, i = 0; p < pack->rule_count; p++) {
		const struct sluice_pack_rule *pr = &pack->rules[p];
		/* Pack rules are the input rules that compiled, in order. */
		while (i < rules->count && strcmp(rules->rules[i].id, pr->id) != 0)
			i++;
		if (i == rules->count)
			break;
		const struct sluice_rule *r = &rules->rules[i];
		double got = (double)c.hits[p] / (double)c.lines;
		if (pr->quiet || pr->allow || got <= share)
			continue;
		struct sluice_loc at =
		    r->body_loc.line ? r->body_loc : (struct sluice_loc){r->line, r->column};
		sluice_diag_add(
		    out, SLUICE_DIAG_WARNING, rule_file(rules, r), at.line, at.column, r->id,
		    "too-broad",
		    "the rule matches %u of %lu sample messages (%.0f%%), more than the "
		    "%.0f%% limit, so it would %s ordinary conversation; make it more "
		    "specific, or add allow rules for the innocent uses",
		    c.hits[p], c.lines, got * 100.0, share * 100.0, sluice_action_name(pr->action));
	}
out:
	free(line);
	fclose(f);
	hs_free_scratch(c.scratch);
	sluice_norm_space_free(&c.norm);
	free(c.hits);
	free(c.last);
}

size_t sluice_lint_file(const char *rules_path, const struct sluice_lint_options *opt,
			struct sluice_diag_list *out)
{
	struct sluice_rule_list rules;
	struct sluice_pack *pack = NULL;
	int64_t now = opt && opt->now ? opt->now : (int64_t)time(NULL);
	double share = opt && opt->broad_share > 0 ? opt->broad_share : SLUICE_LINT_BROAD_SHARE;

	sluice_rule_file_load_diags(rules_path, &rules, out);
	if (rules.count) {
		sluice_pack_build(&rules, true, out, &pack);
		check_expiry(&rules, now, out);
		if (pack && pack->db_count && opt && opt->corpus_path)
			check_corpus(&rules, pack, opt->corpus_path, share, out);
	}
	sluice_pack_free(pack);
	sluice_rule_list_free(&rules);
	sluice_diag_sort(out);
	return sluice_diag_errors(out);
}
