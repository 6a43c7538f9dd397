/* sluice-pack: the analysts' tool for rule files and packs.
 *
 * Exit status: 0 ok, 1 a rule or pack error (reason on stderr), 2 a usage
 * error. `test` exits 0 whether or not anything matched, so scripts can tell
 * "the rules are broken" from "the rules did not match".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"
#include "pack.h"
#include "rule_file.h"

#define EXIT_RULES 1
#define EXIT_USAGE 2

/* Plenty for a human reading the output; beyond it the line says so. */
#define TEST_MATCH_CAPACITY 256

static const char *prog = "sluice-pack";

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: %s COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  compile RULES.yaml -o OUT.pack   compile a rule file into a pack\n"
		"  test PACK_OR_YAML TEXT...        show which rules match each text\n"
		"  test PACK_OR_YAML --file LINES   ... each line of a file ('-': stdin)\n"
		"  info PACK_OR_YAML                summarise a pack\n"
		"\n"
		"Run '%s COMMAND --help' for a command's options.\n"
		"Exit status: 0 ok, 1 rule or pack error, 2 usage error.\n",
		prog, prog);
}

static void usage_compile(FILE *f)
{
	fprintf(f,
		"usage: %s compile RULES.yaml -o OUT.pack\n"
		"\n"
		"Checks RULES.yaml, compiles its patterns with Hyperscan and writes a pack.\n"
		"Prints one line: name, version, rule count, database size and SHA-256.\n"
		"\n"
		"  -o, --output FILE   the pack to write (replaced atomically)\n"
		"  -h, --help          this help\n",
		prog);
}

static void usage_test(FILE *f)
{
	fprintf(f,
		"usage: %s test PACK_OR_YAML [TEXT...] [--file LINES.txt]\n"
		"\n"
		"Scans each TEXT (and each line of LINES.txt, '-' for stdin) as one message\n"
		"and prints the rules that match, with byte offsets, and the verdict (the\n"
		"strongest action). Texts that are not valid UTF-8 are reported, not scanned.\n"
		"Put '--' before texts that start with '-'.\n"
		"\n"
		"  -f, --file FILE   scan each line of FILE\n"
		"  -h, --help        this help\n",
		prog);
}

static void usage_info(FILE *f)
{
	fprintf(f,
		"usage: %s info PACK_OR_YAML\n"
		"\n"
		"Prints a pack's name, version, rules per action and category, database size,\n"
		"SHA-256 and Hyperscan version.\n"
		"\n"
		"  -r, --rules   also list every rule\n"
		"  -h, --help    this help\n",
		prog);
}

/* Returns the byte offset of the first invalid sequence, or len if valid.
 * Strict RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF,
 * because Hyperscan's UTF-8 mode assumes exactly that. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned lo = 0x80, hi = 0xbf;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (len - i <= n)
			return i;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		}
		i += n + 1;
	}
	return len;
}

/* Quotes a message for one output line: escapes what would break the line
 * or the quoting, and, for text known to be invalid UTF-8, every non-ASCII
 * byte, so the terminal is never fed broken sequences. */
static void print_quoted(const char *text, size_t len, bool escape_high)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		switch (c) {
		case '"':
			fputs("\\\"", stdout);
			break;
		case '\\':
			fputs("\\\\", stdout);
			break;
		case '\n':
			fputs("\\n", stdout);
			break;
		case '\r':
			fputs("\\r", stdout);
			break;
		case '\t':
			fputs("\\t", stdout);
			break;
		default:
			if (c < 0x20 || c == 0x7f || (escape_high && c >= 0x80))
				printf("\\x%02x", c);
			else
				putchar(c);
		}
	}
	putchar('"');
}

static int cmp_match(const void *a, const void *b)
{
	const struct sluice_match *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	if (x->to != y->to)
		return x->to < y->to ? -1 : 1;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/* One line per message: its matches, in text order, then the verdict. */
static int test_one(const struct sluice_pack *pack, hs_scratch_t *scratch, const char *text,
		    size_t len)
{
	static struct sluice_match storage[TEST_MATCH_CAPACITY];
	struct sluice_match_set set;
	size_t bad = utf8_invalid_at((const unsigned char *)text, len);

	if (bad != len) {
		print_quoted(text, len, true);
		printf(": invalid UTF-8 at byte %zu, not scanned\n", bad);
		return 0;
	}
	if (len > UINT32_MAX) {
		print_quoted(text, 0, false);
		printf(": %zu bytes is too long to scan, not scanned\n", len);
		return 0;
	}
	sluice_match_set_init(&set, storage, TEST_MATCH_CAPACITY, pack);
	hs_error_t e = sluice_scan_message(pack, scratch, text, len, &set);
	if (e != HS_SUCCESS) {
		fprintf(stderr, "%s: %s: scan failed with Hyperscan error %d\n", prog, pack->source,
			e);
		return -1;
	}
	print_quoted(text, len, false);
	if (set.count == 0 && set.verdict == SLUICE_ACTION_NONE) {
		fputs(": no match\n", stdout);
		return 0;
	}
	qsort(set.matches, set.count, sizeof(*set.matches), cmp_match);
	fputs(": ", stdout);
	for (uint32_t i = 0; i < set.count; i++) {
		const struct sluice_match *m = &set.matches[i];
		const struct sluice_pack_rule *r = &pack->rules[m->rule];
		printf("%s%s [%s, %s] at %u..%u", i ? ", " : "", r->id, r->category,
		       sluice_action_name(r->action), m->from, m->to);
	}
	if (set.overflow)
		printf(", and more than %d spans in all", TEST_MATCH_CAPACITY);
	printf(" -> verdict %s\n", sluice_action_name(set.verdict));
	return 0;
}

static int test_file(const struct sluice_pack *pack, hs_scratch_t *scratch, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	if (!f) {
		fprintf(stderr, "%s: %s: cannot open: %s\n", prog, path, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n;
		if (len && line[len - 1] == '\n')
			len--;
		if (len && line[len - 1] == '\r')
			len--;
		if (test_one(pack, scratch, line, len) != 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		fprintf(stderr, "%s: %s: cannot read: %s\n", prog, path, strerror(errno));
		rc = -1;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int load(const char *path, struct sluice_pack **pack)
{
	char err[1024];

	if (sluice_pack_load(path, pack, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int cmd_compile(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *output = NULL;
	struct sluice_rule_list rules;
	struct sluice_pack *pack;
	char err[1024];
	int c;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage_compile(stdout);
			return 0;
		default:
			usage_compile(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !output) {
		fprintf(stderr, "%s compile: need one rule file and -o OUT.pack\n", prog);
		usage_compile(stderr);
		return EXIT_USAGE;
	}
	if (sluice_rule_file_load(argv[optind], &rules, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_RULES;
	}
	int rc = sluice_pack_compile(&rules, &pack, err, sizeof(err));
	sluice_rule_list_free(&rules);
	if (rc != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_RULES;
	}
	if (sluice_pack_write(pack, output, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		sluice_pack_free(pack);
		return EXIT_RULES;
	}
	printf("%s %s: %zu rules, %zu db bytes, sha256 %s -> %s\n", pack->name, pack->version,
	       pack->rule_count, pack->db_bytes, pack->sha256_hex, output);
	sluice_pack_free(pack);
	return 0;
}

static int cmd_test(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *file = NULL;
	struct sluice_pack *pack;
	hs_scratch_t *scratch = NULL;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'h':
			usage_test(stdout);
			return 0;
		default:
			usage_test(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc || (optind == argc - 1 && !file)) {
		fprintf(stderr, "%s test: need a pack or rule file, then texts or --file\n", prog);
		usage_test(stderr);
		return EXIT_USAGE;
	}
	if (load(argv[optind], &pack) != 0)
		return EXIT_RULES;
	hs_error_t e = hs_alloc_scratch(pack->db, &scratch);
	if (e != HS_SUCCESS) {
		fprintf(stderr, "%s: cannot allocate Hyperscan scratch (error %d)\n", pack->source,
			e);
		sluice_pack_free(pack);
		return EXIT_RULES;
	}
	for (int i = optind + 1; i < argc && rc == 0; i++)
		rc = test_one(pack, scratch, argv[i], strlen(argv[i]));
	if (rc == 0 && file)
		rc = test_file(pack, scratch, file);
	hs_free_scratch(scratch);
	sluice_pack_free(pack);
	return rc == 0 ? 0 : EXIT_RULES;
}

struct tally {
	const char *name;
	size_t count;
};

static int cmp_tally(const void *a, const void *b)
{
	const struct tally *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rules", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	size_t per_action[SLUICE_ACTION_COUNT] = {0};
	struct sluice_pack *pack;
	struct tally *cats;
	size_t ncats = 0;
	bool list_rules = false;
	int c;

	while ((c = getopt_long(argc, argv, "rh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			list_rules = true;
			break;
		case 'h':
			usage_info(stdout);
			return 0;
		default:
			usage_info(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "%s info: need exactly one pack or rule file\n", prog);
		usage_info(stderr);
		return EXIT_USAGE;
	}
	if (load(argv[optind], &pack) != 0)
		return EXIT_RULES;

	cats = calloc(pack->rule_count, sizeof(*cats));
	if (!cats) {
		fprintf(stderr, "%s: out of memory\n", pack->source);
		sluice_pack_free(pack);
		return EXIT_RULES;
	}
	for (size_t i = 0; i < pack->rule_count; i++) {
		const struct sluice_pack_rule *r = &pack->rules[i];
		size_t k;

		per_action[r->action]++;
		for (k = 0; k < ncats; k++) {
			if (strcmp(cats[k].name, r->category) == 0)
				break;
		}
		if (k == ncats)
			cats[ncats++].name = r->category;
		cats[k].count++;
	}
	qsort(cats, ncats, sizeof(*cats), cmp_tally);

	printf("name:       %s\n", pack->name);
	printf("version:    %s\n", pack->version);
	printf("source:     %s\n", pack->source);
	printf("sha256:     %s\n", pack->sha256_hex);
	printf("hyperscan:  %s\n", hs_version());
	printf("database:   %zu bytes\n", pack->db_bytes);
	printf("rules:      %zu (block %zu, mask %zu, flag %zu)\n", pack->rule_count,
	       per_action[SLUICE_ACTION_BLOCK], per_action[SLUICE_ACTION_MASK],
	       per_action[SLUICE_ACTION_FLAG]);
	printf("categories:");
	for (size_t k = 0; k < ncats; k++)
		printf("%s %s %zu", k ? "," : "", cats[k].name, cats[k].count);
	putchar('\n');
	if (list_rules) {
		for (size_t i = 0; i < pack->rule_count; i++) {
			const struct sluice_pack_rule *r = &pack->rules[i];
			printf("  %-28s %-5s %-20s %s%s\n", r->id, sluice_action_name(r->action),
			       r->category, r->pattern, r->caseless ? "  (caseless)" : "");
		}
	}
	free(cats);
	sluice_pack_free(pack);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage_main(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sluice-pack (pack format %d), Hyperscan %s\n", SLUICE_PACK_FORMAT_VERSION,
		       hs_version());
		return 0;
	}
	/* getopt sees "COMMAND ARGS..." with the command in argv[0]'s place,
	 * renamed so its complaints read "sluice-pack test: ...". */
	static char name_compile[] = "sluice-pack compile";
	static char name_test[] = "sluice-pack test";
	static char name_info[] = "sluice-pack info";
	if (strcmp(argv[1], "compile") == 0) {
		argv[1] = name_compile;
		return cmd_compile(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "test") == 0) {
		argv[1] = name_test;
		return cmd_test(argc - 1, argv + 1);
	}
	if (strcmp(argv[1], "info") == 0) {
		argv[1] = name_info;
		return cmd_info(argc - 1, argv + 1);
	}
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	usage_main(stderr);
	return EXIT_USAGE;
}
