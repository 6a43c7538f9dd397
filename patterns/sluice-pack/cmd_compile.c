/* sluice-pack compile and info: making a pack and describing one. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "pack_sign.h"
#include "cli.h"
#include "fold_optin.h"

static void usage_compile(FILE *f)
{
	fprintf(f,
		"usage: %s compile RULES.yaml -o OUT.pack [--json]\n"
		"\n"
		"Checks RULES.yaml, compiles its patterns with Hyperscan and writes a pack.\n"
		"Prints one line: name, version, rule count, compile time, pack and database\n"
		"sizes, and the SHA-256 that the gateway and its audit log name the pack by.\n"
		"When the rules have errors, writes nothing and lists every one of them\n"
		"('sluice-pack lint' also lists the warnings).\n"
		"\n"
		"  -o, --output FILE   the pack to write (replaced atomically)\n"
		"      --json          one JSON document instead of text\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 written, 1 the rules have an error, 2 usage error or a file\n"
		"that cannot be read or written.\n",
		sp_prog);
}

static void usage_info(FILE *f)
{
	fprintf(f,
		"usage: %s info PACK_OR_YAML [-r] [--json]\n"
		"\n"
		"Prints a pack's name, version, owner, SHA-256, whether it is signed, the\n"
		"Hyperscan version, the size of each database, and its rules per action,\n"
		"severity, kind and category. For a rule file, also how long it took to\n"
		"compile (a pack file does not record it, so equal rules give equal bytes).\n"
		"\n"
		"  -r, --rules   also list every rule\n"
		"      --json    one JSON document instead of text\n"
		"  -h, --help    this help\n"
		"\n"
		"Exit status: 0 ok, 1 not a valid pack or rule file, 2 usage error or an\n"
		"unreadable file.\n",
		sp_prog);
}

int sp_cmd_compile(int argc, char **argv)
{
	const char *output = NULL, *input;
	const struct sp_option opts[] = {
	    {.name = "output", .short_name = 'o', .value = &output},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack compile", .usage = usage_compile};
	struct sluice_pack *pack = NULL;
	char err[SP_ERR_LEN];
	double t0 = 0;
	struct sluice_json_writer j;
	bool json;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1)
		return sp_usage_error(args.cmd, "need exactly one rule file");
	if (!output)
		return sp_usage_error(args.cmd, "need -o OUT.pack");
	input = args.operands[0];
	json = args.json;
	if (json)
		sp_json_begin(&j, stdout, "compile");
	if (sp_is_pack_file(input)) {
		snprintf(err, sizeof(err),
			 "%s: is already a compiled pack; compile takes a rule file", input);
		status = SP_EXIT_USAGE;
		goto out;
	}

	t0 = sluice_mono_ms();
	status = sp_load(input, &pack, err, sizeof(err));
	if (status != SP_EXIT_OK)
		goto out;
	/* The library's own figure covers exactly the compiler; ours also
	 * covers reading the YAML, which is what an analyst waits for. */
	double compile_ms = (sluice_mono_ms() - t0);
	if (sluice_pack_write(pack, output, err, sizeof(err)) != 0) {
		status = SP_EXIT_USAGE;
		goto out;
	}
	struct stat st;
	long long pack_bytes = stat(output, &st) == 0 ? (long long)st.st_size : -1;
	struct sp_rule_index ix;
	size_t nrules = pack->rule_count;
	if (sp_rule_index_build(pack, &ix) == 0) {
		nrules = ix.ngroups;
		sp_rule_index_free(&ix);
	}
	if (json) {
		sluice_jw_string(&j, "source", input);
		sluice_jw_string(&j, "output", output);
		sluice_jw_string(&j, "name", pack->name);
		sluice_jw_string(&j, "version", pack->version);
		sluice_jw_uint(&j, "rules", nrules);
		sluice_jw_uint(&j, "patterns", pack->rule_count);
		sluice_jw_double(&j, "compile_ms", compile_ms, 3, false);
		sluice_jw_int(&j, "pack_bytes", pack_bytes);
		sluice_jw_uint(&j, "db_bytes", pack->db_bytes);
		sluice_jw_string(&j, "sha256", pack->sha256_hex);
	} else {
		printf("%s %s: %zu rules", pack->name, pack->version, nrules);
		if (nrules != pack->rule_count)
			printf(" (%zu patterns)", pack->rule_count);
		printf(", compiled in %.1f ms, %lld pack bytes (%zu db bytes), sha256 %s -> %s\n",
		       compile_ms, pack_bytes, pack->db_bytes, pack->sha256_hex, output);
	}
out:
	sluice_pack_free(pack);
	if (status != SP_EXIT_OK)
		fprintf(stderr, "%s\n", err);
	if (json)
		return sp_json_finish(&j, status, status == SP_EXIT_OK ? NULL : err);
	return status;
}

struct tally {
	const char *name;
	size_t count;
};

static int cmp_tally(const void *x, const void *y)
{
	const struct tally *a = x, *b = y;

	return strcmp(a->name, b->name);
}

/* Counts per rule (by id), in the words of the rule language. */
#define NACTIONS  4
#define NSEVERITY 4
#define NKINDS	  4
static const char *const action_words[NACTIONS] = {"block", "mask", "flag", "allow"};
static const enum sluice_severity severities[NSEVERITY] = {
    SLUICE_SEVERITY_CRITICAL, SLUICE_SEVERITY_HIGH, SLUICE_SEVERITY_MEDIUM, SLUICE_SEVERITY_LOW};
static const enum sluice_rule_kind kinds[NKINDS] = {SLUICE_RULE_PATTERN, SLUICE_RULE_LITERAL,
						    SLUICE_RULE_LIST, SLUICE_RULE_COMBINATION};

struct info {
	const char *path;
	const struct sp_rule_index *ix;
	bool is_pack;
	int signed_state;		     /* 1 signed, 0 unsigned, -1 unknown */
	struct sluice_verify_report signers; /* when signed: by whom, unverified */
	size_t actions[NACTIONS], severity[NSEVERITY], kinds[NKINDS];
	size_t quiet, expiring, expired, starting, waiting;
	struct tally *cats;
	size_t ncats;
};

static int count(struct info *in, int64_t now)
{
	const struct sp_rule_index *ix = in->ix;

	in->cats = calloc(ix->ngroups ? ix->ngroups : 1, sizeof(*in->cats));
	if (!in->cats)
		return -1;
	for (size_t g = 0; g < ix->ngroups; g++) {
		const struct sluice_pack_rule *r = sp_group_rule(ix, g, 0);
		const char *word = sp_rule_action(r);
		const char *sev = sluice_severity_name(r->severity);
		size_t k;

		for (k = 0; k < NACTIONS; k++)
			in->actions[k] += strcmp(word, action_words[k]) == 0;
		for (k = 0; k < NSEVERITY; k++)
			in->severity[k] += strcmp(sev, sluice_severity_name(severities[k])) == 0;
		for (k = 0; k < NKINDS; k++)
			in->kinds[k] += r->kind == kinds[k];
		in->quiet += r->quiet;
		in->expiring += r->expires_at != 0;
		in->expired += r->expires_at != 0 && r->expires_at <= now;
		in->starting += r->starts_at != 0;
		in->waiting += r->starts_at > now;
		for (k = 0; k < in->ncats; k++) {
			if (strcmp(in->cats[k].name, r->category) == 0)
				break;
		}
		if (k == in->ncats)
			in->cats[in->ncats++].name = r->category;
		in->cats[k].count++;
	}
	qsort(in->cats, in->ncats, sizeof(*in->cats), cmp_tally);
	return 0;
}

/* Whether the pack is signed, and by which keys. Whether they are to be
 * trusted is for `sluice-pack verify` to say, given the trusted keys. */
static int signature_of(const char *path, struct sluice_verify_report *signers)
{
	struct sluice_trust *none = sluice_trust_new(false);
	char err[SP_ERR_LEN];

	memset(signers, 0, sizeof(*signers));
	if (!none)
		return -1;
	/* With no keys it cannot succeed; it still reports the signers. */
	sluice_pack_verify(path, none, signers, err, sizeof(err));
	sluice_trust_free(none);
	return signers->count ? 1 : 0;
}

static void rule_json(struct sluice_json_writer *j, const struct sluice_pack_rule *r, size_t i)
{
	char flags[128];

	sluice_jw_object(j, NULL);
	sluice_jw_uint(j, "index", i);
	sluice_jw_string(j, "id", r->id);
	sluice_jw_string(j, "action", sp_rule_action(r));
	sluice_jw_string(j, "severity", sluice_severity_name(r->severity));
	sluice_jw_string(j, "category", r->category);
	sluice_jw_string(j, "kind", sluice_rule_kind_name(r->kind));
	sluice_jw_string(j, "body", r->pattern);
	if (r->kind == SLUICE_RULE_LIST)
		sluice_jw_uint(j, "entries", r->literal_count);
	sp_flags_text(r->flags | (r->caseless ? SLUICE_RULE_CASELESS : 0), flags, sizeof(flags));
	sluice_jw_string(j, "flags", flags);
	sluice_jw_bool(j, "quiet", r->quiet);
	if (r->raw)
		sluice_jw_bool(j, "raw", true);
	sluice_jw_array(j, "opt_in");
	for (unsigned bit = 1; bit <= SLUICE_OPTIN_ALL; bit <<= 1)
		if (r->optin & bit)
			sluice_jw_string(j, NULL, sluice_optin_name(bit));
	sluice_jw_end(j);
	if (r->expires_at)
		sluice_jw_int(j, "expires_at", r->expires_at);
	if (r->description && r->description[0])
		sluice_jw_string(j, "description", r->description);
	sluice_jw_end(j);
}

/* What a loaded pack costs a daemon: the databases, one scratch per worker, and
 * this process's resident memory now and at its peak (loading included). */
struct memory_figures {
	size_t scratch_bytes;
	long rss_kib;
	long peak_kib;
};

static long status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, n) == 0) {
			v = strtol(line + n, NULL, 10);
			break;
		}
	}
	if (f != NULL)
		fclose(f);
	return v;
}

static void memory_figures(const struct sluice_pack *pack, struct memory_figures *m)
{
	hs_scratch_t *scratch = NULL;
	m->scratch_bytes = 0;
	if (sluice_pack_alloc_scratch(pack, &scratch) == HS_SUCCESS) {
		hs_scratch_size(scratch, &m->scratch_bytes);
		hs_free_scratch(scratch);
	}
	m->rss_kib = status_kib("VmRSS:");
	m->peak_kib = status_kib("VmHWM:");
}

static void info_json(struct sluice_json_writer *j, const struct info *in, bool list_rules)
{
	const struct sluice_pack *pack = in->ix->pack;

	sluice_jw_string(j, "file", in->path);
	sluice_jw_string(j, "format", in->is_pack ? "pack" : "rules");
	sluice_jw_string(j, "name", pack->name);
	sluice_jw_string(j, "version", pack->version);
	sluice_jw_string(j, "owner", pack->owner && pack->owner[0] ? pack->owner : NULL);
	sluice_jw_string(j, "description",
			 pack->description && pack->description[0] ? pack->description : NULL);
	sluice_jw_string(j, "sha256", pack->sha256_hex);
	if (in->signed_state < 0)
		sluice_jw_null(j, "signed");
	else
		sluice_jw_bool(j, "signed", in->signed_state == 1);
	if (in->signers.count) {
		sluice_jw_string(j, "key_id", in->signers.sigs[0].key_id);
		sluice_jw_array(j, "key_ids");
		for (size_t i = 0; i < in->signers.count; i++)
			sluice_jw_string(j, NULL, in->signers.sigs[i].key_id);
		sluice_jw_end(j);
	}
	if (pack->compile_ms > 0)
		sluice_jw_double(j, "compile_ms", pack->compile_ms, 3, false);
	sluice_jw_string(j, "hyperscan", hs_version());
	sluice_jw_uint(j, "db_bytes", pack->db_bytes);
	struct memory_figures mem;
	memory_figures(pack, &mem);
	sluice_jw_uint(j, "scratch_bytes_per_worker", mem.scratch_bytes);
	sluice_jw_uint(j, "resident_kib", (size_t)(mem.rss_kib < 0 ? 0 : mem.rss_kib));
	sluice_jw_uint(j, "peak_resident_kib", (size_t)(mem.peak_kib < 0 ? 0 : mem.peak_kib));
	sluice_jw_array(j, "databases");
	for (size_t d = 0; d < pack->db_count; d++) {
		sluice_jw_object(j, NULL);
		sluice_jw_string(j, "kind", sluice_db_kind_name(pack->dbs[d].kind));
		sluice_jw_string(j, "view", sluice_view_name(pack->dbs[d].view));
		sluice_jw_uint(j, "bytes", pack->dbs[d].bytes);
		sluice_jw_uint(j, "patterns", pack->dbs[d].patterns);
		sluice_jw_end(j);
	}
	sluice_jw_end(j);
	if (pack->fold != NULL) {
		sluice_jw_object(j, "normalization");
		sluice_jw_string(j, "data", pack->fold->versions);
		sluice_jw_uint(j, "code_points_mapped", pack->fold->mapped);
		sluice_jw_uint(j, "code_points_dropped", pack->fold->dropped);
		sluice_jw_end(j);
	}
	sluice_jw_uint(j, "rules", in->ix->ngroups);
	sluice_jw_object(j, "actions");
	for (int k = 0; k < NACTIONS; k++)
		sluice_jw_uint(j, action_words[k], in->actions[k]);
	sluice_jw_end(j);
	sluice_jw_object(j, "severities");
	for (int k = 0; k < NSEVERITY; k++)
		sluice_jw_uint(j, sluice_severity_name(severities[k]), in->severity[k]);
	sluice_jw_end(j);
	sluice_jw_object(j, "kinds");
	for (int k = 0; k < NKINDS; k++)
		sluice_jw_uint(j, sluice_rule_kind_name(kinds[k]), in->kinds[k]);
	sluice_jw_end(j);
	sluice_jw_uint(j, "quiet", in->quiet);
	sluice_jw_uint(j, "expiring", in->expiring);
	sluice_jw_uint(j, "expired", in->expired);
	sluice_jw_uint(j, "starting", in->starting);
	sluice_jw_uint(j, "not_started", in->waiting);
	sluice_jw_object(j, "categories");
	for (size_t k = 0; k < in->ncats; k++)
		sluice_jw_uint(j, in->cats[k].name, in->cats[k].count);
	sluice_jw_end(j);
	if (!list_rules)
		return;
	sluice_jw_array(j, "rule_list");
	for (size_t i = 0; i < pack->rule_count; i++)
		rule_json(j, &pack->rules[i], i);
	sluice_jw_end(j);
}

static void rule_text(const struct sluice_pack_rule *r)
{
	char flags[128], when[64];

	printf("  %-28s %-5s %-8s %-20s %s '%s'", r->id, sp_rule_action(r),
	       sluice_severity_name(r->severity), r->category, sluice_rule_kind_name(r->kind),
	       r->pattern);
	if (r->kind == SLUICE_RULE_LIST)
		printf(" (%u entries)", r->literal_count);
	sp_flags_text(r->flags | (r->caseless ? SLUICE_RULE_CASELESS : 0), flags, sizeof(flags));
	if (strcmp(flags, "none") != 0)
		printf("  [%s]", flags);
	if (r->quiet)
		printf("  quiet");
	if (r->starts_at) {
		sp_format_time(r->starts_at, when, sizeof(when));
		printf("  starts %s", when);
	}
	if (r->expires_at) {
		sp_format_time(r->expires_at, when, sizeof(when));
		printf("  expires %s", when);
	}
	putchar('\n');
}

static void info_text(const struct info *in, bool list_rules)
{
	const struct sluice_pack *pack = in->ix->pack;
	bool first;

	printf("file:       %s (%s)\n", in->path,
	       in->is_pack ? "pack" : "rule file, compiled in memory");
	printf("name:       %s\n", pack->name);
	printf("version:    %s\n", pack->version);
	if (pack->owner && pack->owner[0])
		printf("owner:      %s\n", pack->owner);
	if (pack->description && pack->description[0])
		printf("about:      %s\n", pack->description);
	printf("sha256:     %s\n", pack->sha256_hex);
	if (in->signed_state == 1 && in->signers.count == 1) {
		printf("signature:  signed by key %s (not verified; use 'sluice-pack verify')\n",
		       in->signers.sigs[0].key_id);
	} else if (in->signed_state == 1) {
		printf("signatures: %zu, by keys", in->signers.count);
		for (size_t i = 0; i < in->signers.count; i++)
			printf("%s %s", i ? "," : "", in->signers.sigs[i].key_id);
		printf(" (not verified; use 'sluice-pack verify')\n");
	} else if (in->signed_state == 0)
		printf("signature:  unsigned\n");
	if (pack->compile_ms > 0)
		printf("compiled:   in %.1f ms\n", pack->compile_ms);
	printf("hyperscan:  %s\n", hs_version());
	printf("database:   %zu bytes", pack->db_bytes);
	for (size_t d = 0; d < pack->db_count; d++)
		printf("%s%s%s %zu bytes (%u patterns)", d ? ", " : ": ",
		       pack->fold != NULL && pack->dbs[d].view == SLUICE_VIEW_RAW ? "raw " : "",
		       sluice_db_kind_name(pack->dbs[d].kind), pack->dbs[d].bytes,
		       pack->dbs[d].patterns);
	putchar('\n');
	if (pack->fold != NULL)
		printf("normalise:  narrow (%u code points folded, %u dropped; from %s)\n",
		       pack->fold->mapped, pack->fold->dropped, pack->fold->versions);
	else
		printf("normalise:  none (messages are scanned as they are)\n");
	struct memory_figures mem;
	memory_figures(pack, &mem);
	printf("memory:     scratch %zu bytes per worker; this process resident %ld KiB now, "
	       "%ld KiB at peak\n",
	       mem.scratch_bytes, mem.rss_kib, mem.peak_kib);
	printf("rules:      %zu (", in->ix->ngroups);
	for (int k = 0; k < NACTIONS; k++) {
		/* allow only where there are any: most packs have none. */
		if (k < 3 || in->actions[k])
			printf("%s%s %zu", k ? ", " : "", action_words[k], in->actions[k]);
	}
	printf(")\n");
	printf("severity:  ");
	for (int k = 0; k < NSEVERITY; k++)
		printf("%s %s %zu", k ? "," : "", sluice_severity_name(severities[k]),
		       in->severity[k]);
	putchar('\n');
	printf("kinds:     ");
	first = true;
	for (int k = 0; k < NKINDS; k++) {
		if (!in->kinds[k])
			continue;
		printf("%s %s %zu", first ? "" : ",", sluice_rule_kind_name(kinds[k]),
		       in->kinds[k]);
		first = false;
	}
	if (in->quiet)
		printf(" (%zu quiet)", in->quiet);
	putchar('\n');
	if (in->expiring)
		printf("expiry:     %zu rule%s expire%s, %zu already expired\n", in->expiring,
		       in->expiring == 1 ? "" : "s", in->expiring == 1 ? "s" : "", in->expired);
	if (in->starting)
		printf("start:      %zu rule%s start%s on a date, %zu not started yet\n",
		       in->starting, in->starting == 1 ? "" : "s", in->starting == 1 ? "s" : "",
		       in->waiting);
	printf("categories:");
	for (size_t k = 0; k < in->ncats; k++)
		printf("%s %s %zu", k ? "," : "", in->cats[k].name, in->cats[k].count);
	putchar('\n');
	if (!list_rules)
		return;
	for (size_t i = 0; i < pack->rule_count; i++)
		rule_text(&pack->rules[i]);
}

int sp_cmd_info(int argc, char **argv)
{
	bool list_rules = false, json;
	const struct sp_option opts[] = {
	    {.name = "rules", .short_name = 'r', .flag = &list_rules},
	    {0},
	};
	struct sp_args args = {.cmd = "sluice-pack info", .usage = usage_info};
	struct sluice_pack *pack = NULL;
	struct sp_rule_index ix = {0};
	struct info in = {0};
	char err[SP_ERR_LEN];
	struct sluice_json_writer j;
	int status = sp_parse_options(&args, opts, argc, argv);

	if (status != SP_PARSED)
		return status;
	if (args.count != 1)
		return sp_usage_error(args.cmd, "need exactly one pack or rule file");
	in.path = args.operands[0];
	json = args.json;
	if (json)
		sp_json_begin(&j, stdout, "info");
	status = sp_load(in.path, &pack, err, sizeof(err));
	if (status != SP_EXIT_OK)
		goto out;
	in.ix = &ix;
	in.is_pack = sp_is_pack_file(in.path);
	/* A rule file is never signed: -1 leaves the line out. */
	in.signed_state = in.is_pack ? signature_of(in.path, &in.signers) : -1;
	if (sp_rule_index_build(pack, &ix) != 0 || count(&in, (int64_t)time(NULL)) != 0) {
		snprintf(err, sizeof(err), "%s: out of memory", in.path);
		status = SP_EXIT_FAIL;
		goto out;
	}
	if (json)
		info_json(&j, &in, list_rules);
	else
		info_text(&in, list_rules);
out:
	free(in.cats);
	sp_rule_index_free(&ix);
	sluice_pack_free(pack);
	if (status != SP_EXIT_OK)
		fprintf(stderr, "%s\n", err);
	if (json)
		return sp_json_finish(&j, status, status == SP_EXIT_OK ? NULL : err);
	return status;
}
