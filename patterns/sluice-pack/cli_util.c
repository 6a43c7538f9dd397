/* sluice-pack: what the commands share (cli.h): option parsing, output,
 * loading and scanning. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file_read.h"
#include "cli.h"
#include "lint.h"
#include "utf8.h"

const char *const sp_prog = "sluice-pack";

int sp_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cmd);
	return SP_EXIT_USAGE;
}

/* ---- options ---- */

/* getopt_long's codes for the options without a short name: one each, from
 * here up, by their index in the command's table. */
enum { OPT_JSON = 256, OPT_HELP = 'h', OPT_LONG_ONLY = 257 };

/* Builds getopt_long's tables from the command's: its options in its order,
 * then --json and --help (ambiguous abbreviations are listed in that order). */
static void getopt_tables(const struct sp_option *opts, size_t n, struct option *longs,
			  char *shorts)
{
	size_t s = 0;

	for (size_t i = 0; i < n; i++) {
		bool takes_arg = !opts[i].flag;
		longs[i] = (struct option){.name = opts[i].name,
					   .has_arg = takes_arg ? required_argument : no_argument,
					   .val = opts[i].short_name ? opts[i].short_name
								     : OPT_LONG_ONLY + (int)i};
		if (opts[i].short_name) {
			shorts[s++] = opts[i].short_name;
			if (takes_arg)
				shorts[s++] = ':';
		}
	}
	longs[n] = (struct option){.name = "json", .has_arg = no_argument, .val = OPT_JSON};
	longs[n + 1] = (struct option){.name = "help", .has_arg = no_argument, .val = OPT_HELP};
	longs[n + 2] = (struct option){0};
	shorts[s++] = OPT_HELP;
	shorts[s] = '\0';
}

/* The table entry getopt_long's code stands for, or NULL. */
static const struct sp_option *option_of(const struct sp_option *opts, size_t n, int code)
{
	if (code >= OPT_LONG_ONLY && (size_t)(code - OPT_LONG_ONLY) < n)
		return &opts[code - OPT_LONG_ONLY];
	for (size_t i = 0; i < n; i++) {
		if (opts[i].short_name && opts[i].short_name == code)
			return &opts[i];
	}
	return NULL;
}

int sp_parse_options(struct sp_args *a, const struct sp_option *opts, int argc, char **argv)
{
	struct option longs[SP_OPTIONS_MAX + 3];
	char shorts[2 * SP_OPTIONS_MAX + 2];
	size_t n = 0;
	int code;

	while (n < SP_OPTIONS_MAX && opts[n].name)
		n++;
	getopt_tables(opts, n, longs, shorts);
	while ((code = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct sp_option *o = option_of(opts, n, code);
		int status;

		if (code == OPT_JSON) {
			a->json = true;
		} else if (code == OPT_HELP) {
			a->usage(stdout);
			return SP_EXIT_OK;
		} else if (!o) {
			/* getopt has already said which option; only point to
			 * the help. */
			fprintf(stderr, "Try '%s --help'.\n", a->cmd);
			return SP_EXIT_USAGE;
		} else if (o->flag) {
			*o->flag = true;
		} else if (o->value) {
			*o->value = optarg;
		} else if ((status = o->parse(a->cmd, optarg, o->target)) != 0) {
			return status;
		}
	}
	a->operands = argv + optind;
	a->count = argc - optind;
	return SP_PARSED;
}

/* ---- JSON ---- */

/* A sluice-pack JSON report: one object, "command" first, "ok" and "exit" last. */
void sp_json_begin(struct sluice_json_writer *j, FILE *f, const char *command)
{
	sluice_jw_init(j, f);
	sluice_jw_object(j, NULL);
	sluice_jw_string(j, "command", command);
}

int sp_json_finish(struct sluice_json_writer *j, int exit_status, const char *error)
{
	while (j->depth > 1)
		sluice_jw_end(j);
	if (error)
		sluice_jw_string(j, "error", error);
	sluice_jw_bool(j, "ok", exit_status == SP_EXIT_OK);
	sluice_jw_int(j, "exit", exit_status);
	sluice_jw_finish(j);
	return exit_status;
}

/* ---- text ---- */

void sp_print_quoted(FILE *f, const char *text, size_t len, bool escape_high)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f || (escape_high && c >= 0x80))
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

const char *sp_verdict_name(enum sluice_action a)
{
	return a == SLUICE_ACTION_NONE ? "pass" : sluice_action_name(a);
}

bool sp_verdict_parse(const char *word, enum sluice_action *out)
{
	if (strcmp(word, "pass") == 0 || strcmp(word, "none") == 0) {
		*out = SLUICE_ACTION_NONE;
		return true;
	}
	return sluice_action_parse(word, out);
}

const char *sp_rule_action(const struct sluice_pack_rule *r)
{
	return sluice_rule_action_word(r->allow, r->action);
}

void sp_flags_text(unsigned flags, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
	    {SLUICE_RULE_CASELESS, "caseless"},
	    {SLUICE_RULE_DOTALL, "dotall"},
	    {SLUICE_RULE_MULTILINE, "multiline"},
	    {SLUICE_RULE_WHOLE_WORD, "whole_word"},
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(flags & names[i].bit))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
	if (!used)
		snprintf(buf, len, "none");
}

void sp_format_time(int64_t unix_seconds, char *buf, size_t len)
{
	time_t t = (time_t)unix_seconds;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "@%lld", (long long)unix_seconds);
}

/* ---- loading ---- */

bool sp_is_pack_file(const char *path)
{
	char magic[8], why[256];
	FILE *f = sluice_file_fopen_regular(path, why, sizeof(why));
	bool pack;

	if (!f)
		return false;
	pack = fread(magic, 1, sizeof(magic), f) == sizeof(magic) &&
	       memcmp(magic, SLUICE_PACK_MAGIC, sizeof(magic)) == 0;
	fclose(f);
	return pack;
}

int sp_check_readable(const char *path, char *err, size_t err_len)
{
	char why[256];
	int fd = sluice_file_open_regular(path, why, sizeof(why));

	if (fd < 0) {
		snprintf(err, err_len, "%s: %s", path, why);
		return -1;
	}
	close(fd);
	return 0;
}

/* A rule file that does not compile: every error in err, one per line, as
 * lint finds them (the compiler stops at its first), and a count. err keeps
 * the compiler's message when lint finds none. */
static void every_error(const char *path, char *err, size_t err_len)
{
	struct sluice_lint_options opt = {0};
	struct sluice_diag_list diags = {0};
	size_t errors = sluice_lint_file(path, &opt, &diags), shown = 0, at = 0;
	/* room kept for the closing line */
	const size_t tail = 160;

	if (errors == 0 || err_len <= tail) {
		sluice_diag_list_free(&diags);
		return;
	}
	for (size_t i = 0; i < diags.count; i++) {
		char line[SP_ERR_LINE];
		if (diags.items[i].level != SLUICE_DIAG_ERROR)
			continue;
		sluice_diag_format_short(&diags.items[i], line, sizeof(line));
		size_t n = strlen(line);
		if (at + n + 1 + tail > err_len)
			break;
		memcpy(err + at, line, n);
		err[at + n] = '\n';
		at += n + 1;
		shown++;
	}
	if (shown < errors)
		snprintf(err + at, err_len - at,
			 "%s: %zu errors (%zu more: 'sluice-pack lint' lists them all)", path,
			 errors, errors - shown);
	else
		snprintf(err + at, err_len - at, "%s: %zu error%s", path, errors,
			 errors == 1 ? "" : "s");
	sluice_diag_list_free(&diags);
}

int sp_load(const char *path, struct sluice_pack **pack, char *err, size_t err_len)
{
	*pack = NULL;
	/* Tells "cannot read the file" (exit 2) from "the file is not a good
	 * pack" (exit 1) before the library, which reports both alike, is asked. */
	if (sp_check_readable(path, err, err_len) != 0)
		return SP_EXIT_USAGE;
	if (sluice_pack_load(path, pack, err, err_len) != 0) {
		if (!sp_is_pack_file(path))
			every_error(path, err, err_len);
		return SP_EXIT_FAIL;
	}
	return SP_EXIT_OK;
}

/* ---- rules by id ---- */

static const struct sluice_pack *index_pack;

static int cmp_id_then_index(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(index_pack->rules[x].id, index_pack->rules[y].id);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

int sp_rule_index_build(const struct sluice_pack *pack, struct sp_rule_index *ix)
{
	size_t n = pack->rule_count;

	memset(ix, 0, sizeof(*ix));
	ix->pack = pack;
	ix->order = malloc((n ? n : 1) * sizeof(*ix->order));
	ix->group_start = malloc((n + 1) * sizeof(*ix->group_start));
	ix->group_of = malloc((n ? n : 1) * sizeof(*ix->group_of));
	if (!ix->order || !ix->group_start || !ix->group_of) {
		sp_rule_index_free(ix);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		ix->order[i] = i;
	index_pack = pack;
	qsort(ix->order, n, sizeof(*ix->order), cmp_id_then_index);
	for (size_t k = 0; k < n; k++) {
		if (k == 0 ||
		    strcmp(pack->rules[ix->order[k]].id, pack->rules[ix->order[k - 1]].id) != 0)
			ix->group_start[ix->ngroups++] = k;
		ix->group_of[ix->order[k]] = ix->ngroups - 1;
	}
	ix->group_start[ix->ngroups] = n;
	return 0;
}

void sp_rule_index_free(struct sp_rule_index *ix)
{
	free(ix->order);
	free(ix->group_start);
	free(ix->group_of);
	memset(ix, 0, sizeof(*ix));
}

long sp_rule_index_find(const struct sp_rule_index *ix, const char *id)
{
	size_t lo = 0, hi = ix->ngroups;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sp_group_rule(ix, mid, 0)->id, id);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- scanning ---- */

static int cmp_match(const void *a, const void *b)
{
	const struct sluice_match *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

int sp_scanner_init(struct sp_scanner *s, const struct sluice_pack *pack, int64_t now, char *err,
		    size_t err_len)
{
	hs_error_t e;

	memset(s, 0, sizeof(*s));
	s->pack = pack;
	s->now = now;
	s->disabled = calloc(pack->rule_count ? pack->rule_count : 1, 1);
	if (!s->disabled) {
		snprintf(err, err_len, "%s: out of memory", pack->source);
		return -1;
	}
	for (size_t i = 0; i < pack->rule_count; i++) {
		if (!sluice_rule_applies(&pack->rules[i], now)) {
			s->disabled[i] = 1;
			s->expired++;
			s->waiting += pack->rules[i].starts_at > now;
		}
	}
	e = sluice_pack_alloc_scratch(pack, &s->scratch);
	if (e != HS_SUCCESS) {
		snprintf(err, err_len, "%s: cannot allocate Hyperscan scratch (error %d)",
			 pack->source, e);
		free(s->disabled);
		s->disabled = NULL;
		return -1;
	}
	sluice_match_set_init(&s->set, s->storage, SP_MATCH_CAPACITY, pack);
	s->set.disabled = s->expired ? s->disabled : NULL; /* expired or waiting */
	s->set.norm = &s->norm;
	s->set.exemptions = s->exemptions;
	s->set.exemption_cap = SP_MATCH_CAPACITY;
	return 0;
}

void sp_scanner_free(struct sp_scanner *s)
{
	if (s->scratch)
		hs_free_scratch(s->scratch);
	sluice_norm_space_free(&s->norm);
	free(s->disabled);
	memset(s, 0, sizeof(*s));
}

int sp_scan(struct sp_scanner *s, const char *text, size_t len, char *err, size_t err_len)
{
	if (s->pack->fold != NULL &&
	    sluice_norm_space_reserve(&s->norm, len, &sluice_libc_allocator) != 0) {
		snprintf(err, err_len, "out of memory to normalise a message of %zu bytes", len);
		return -1;
	}
	hs_error_t e = sluice_scan_message(s->pack, s->scratch, text, len, &s->set);

	if (e != HS_SUCCESS) {
		snprintf(err, err_len, "%s: scan failed with Hyperscan error %d", s->pack->source,
			 e);
		return -1;
	}
	qsort(s->set.matches, s->set.count, sizeof(*s->set.matches), cmp_match);
	return 0;
}

int sp_each_line(const char *path, sp_line_fn fn, void *ctx, char *err, size_t err_len)
{
	bool use_stdin = strcmp(path, "-") == 0;
	FILE *f = use_stdin ? stdin : fopen(path, "rb");
	unsigned long line_no = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		snprintf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	errno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		rc = fn(ctx, ++line_no, line, len);
		if (rc != 0)
			break;
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, err_len, "%s: cannot read: %s", use_stdin ? "(stdin)" : path,
			 strerror(errno));
		rc = -1;
	}
	free(line);
	if (!use_stdin)
		fclose(f);
	return rc;
}
