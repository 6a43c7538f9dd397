/* sluice-pack, the analysts' tool, as they and CI jobs use it: the built binary
 * run on real fixtures (tests/data/cli/, patterns/rules/default.yaml), checking
 * what it prints and its exit status: 0 ok, 1 the rules or pack are at fault,
 * 2 usage or I/O. --json outputs are checked to be one well-formed JSON
 * document, then for their key fields. */
#include <criterion/criterion.h>

#include <pcap/pcap.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packet_build.h"
#include "test_support.h"

#define MAX_ARGS 24

/* ---- running the tool ---- */

struct run {
	int rc;
	char *out; /* stdout and stderr together */
};

/* Runs sluice-pack with the NULL-terminated arguments. */
static struct run sp(const char *arg, ...)
{
	const char *argv[MAX_ARGS + 2];
	char *tool = ts_build_path("patterns/sluice-pack");
	struct run r;
	va_list ap;
	int n = 0;

	argv[n++] = tool;
	va_start(ap, arg);
	for (const char *a = arg; a; a = va_arg(ap, const char *)) {
		cr_assert_lt(n, MAX_ARGS);
		argv[n++] = a;
	}
	va_end(ap);
	argv[n] = NULL;
	r.rc = ts_run((char *const *)argv, 60, &r.out);
	cr_assert_not_null(r.out);
	free(tool);
	return r;
}

static void run_free(struct run *r)
{
	free(r->out);
	r->out = NULL;
}

static void assert_has(const struct run *r, const char *want)
{
	cr_assert(strstr(r->out, want) != NULL, "missing \"%s\" in:\n%s", want, r->out);
}

static void assert_lacks(const struct run *r, const char *unwanted)
{
	cr_assert(strstr(r->out, unwanted) == NULL, "unexpected \"%s\" in:\n%s", unwanted, r->out);
}

static void assert_rc(const struct run *r, int want)
{
	cr_assert_eq(r->rc, want, "exit %d, want %d; output:\n%s", r->rc, want, r->out);
}

static char *path_in(const char *dir, const char *name)
{
	char *p = NULL;

	cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

static char *fixture(const char *name)
{
	char *rel = NULL, *p;

	cr_assert_geq(asprintf(&rel, "tests/data/cli/%s", name), 0);
	p = ts_source_path(rel);
	free(rel);
	return p;
}

/* ---- a small JSON checker: is the text exactly one JSON value? ---- */

static const char *json_value(const char *s, int depth);

static const char *json_ws(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	return s;
}

static const char *json_string(const char *s)
{
	if (*s++ != '"')
		return NULL;
	while (*s && *s != '"') {
		if ((unsigned char)*s < 0x20)
			return NULL;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++) {
					if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
						return NULL;
				}
				s += 4;
			} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
				return NULL;
			}
		}
		s++;
	}
	return *s == '"' ? s + 1 : NULL;
}

static const char *json_number(const char *s)
{
	const char *start = s;

	if (*s == '-')
		s++;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return s == start ? NULL : s;
}

static const char *json_value(const char *s, int depth)
{
	if (depth > 64)
		return NULL;
	s = json_ws(s);
	if (*s == '{' || *s == '[') {
		char close = *s == '{' ? '}' : ']';
		bool obj = *s == '{';
		s = json_ws(s + 1);
		if (*s == close)
			return s + 1;
		for (;;) {
			if (obj) {
				s = json_string(json_ws(s));
				if (!s)
					return NULL;
				s = json_ws(s);
				if (*s++ != ':')
					return NULL;
			}
			s = json_value(s, depth + 1);
			if (!s)
				return NULL;
			s = json_ws(s);
			if (*s == close)
				return s + 1;
			if (*s++ != ',')
				return NULL;
		}
	}
	if (*s == '"')
		return json_string(s);
	if (strncmp(s, "true", 4) == 0)
		return s + 4;
	if (strncmp(s, "false", 5) == 0)
		return s + 5;
	if (strncmp(s, "null", 4) == 0)
		return s + 4;
	return json_number(s);
}

/* The output is one JSON document and nothing else (a successful --json run
 * writes nothing to stderr). */
static void assert_json(const struct run *r)
{
	const char *end = json_value(r->out, 0);

	cr_assert_not_null(end, "not JSON:\n%s", r->out);
	cr_assert_eq(*json_ws(end), '\0', "more than one JSON document:\n%s", r->out);
	cr_assert_eq(r->out[0], '{', "not a JSON object:\n%s", r->out);
}

/* A failing --json run: the error went to stderr and the document, which is
 * the last line of the combined output, must still parse. */
static void assert_json_last_line(const struct run *r)
{
	const char *line = strstr(r->out, "{\"command\"");

	cr_assert_not_null(line, "no JSON document in:\n%s", r->out);
	const char *end = json_value(line, 0);
	cr_assert_not_null(end, "not JSON:\n%s", line);
	cr_assert_eq(*json_ws(end), '\0', "trailing text after JSON:\n%s", r->out);
}

/* ---- help and usage ---- */

Test(sluice_pack_cli, help_lists_every_command_and_the_exit_statuses)
{
	struct run r = sp("--help", NULL);

	assert_rc(&r, 0);
	const char *cmds[] = {"lint", "compile", "test",   "diff",     "info",
			      "sign", "verify",	 "keygen", "examples", "publish"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		char want[32];
		snprintf(want, sizeof(want), "  %s ", cmds[i]);
		assert_has(&r, want);

		struct run h = sp(cmds[i], "--help", NULL);
		assert_rc(&h, 0);
		snprintf(want, sizeof(want), "usage: sluice-pack %s", cmds[i]);
		assert_has(&h, want);
		assert_has(&h, "Exit status");
		run_free(&h);
	}
	assert_has(&r, "Exit status:");
	assert_has(&r, "  0  ok");
	assert_has(&r, "  1  the rules or pack are at fault");
	assert_has(&r, "  2  usage error");
	run_free(&r);

	r = sp("help", "diff", NULL);
	assert_rc(&r, 0);
	assert_has(&r, "usage: sluice-pack diff OLD NEW");
	run_free(&r);
}

Test(sluice_pack_cli, usage_errors_exit_2)
{
	char *rules = fixture("small.yaml");
	struct run r;

	r = sp(NULL);
	assert_rc(&r, 2);
	run_free(&r);

	r = sp("frobnicate", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "unknown command 'frobnicate'");
	run_free(&r);

	r = sp("compile", rules, NULL);
	assert_rc(&r, 2);
	assert_has(&r, "need -o OUT.pack");
	run_free(&r);

	r = sp("test", rules, NULL);
	assert_rc(&r, 2);
	run_free(&r);

	r = sp("diff", rules, NULL);
	assert_rc(&r, 2);
	run_free(&r);

	r = sp("info", "--bogus", rules, NULL);
	assert_rc(&r, 2);
	assert_has(&r, "Try 'sluice-pack info --help'");
	run_free(&r);

	r = sp("test", rules, "--udp-port", "70000", "x", NULL);
	assert_rc(&r, 2);
	run_free(&r);

	r = sp("test", rules, "--expect", "delete", "x", NULL);
	assert_rc(&r, 2);
	run_free(&r);

	r = sp("verify", rules, NULL);
	assert_rc(&r, 2);
	assert_has(&r, "--pubkey");
	run_free(&r);

	r = sp("keygen", NULL);
	assert_rc(&r, 2);
	run_free(&r);
	free(rules);
}

Test(sluice_pack_cli, unreadable_files_exit_2_and_are_named)
{
	char *rules = fixture("small.yaml");
	struct run r;

	r = sp("info", "/nonexistent/x.pack", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "/nonexistent/x.pack: cannot open");
	run_free(&r);

	r = sp("test", rules, "--file", "/nonexistent/lines.txt", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "/nonexistent/lines.txt: cannot open");
	run_free(&r);

	r = sp("test", rules, "--pcap", "/nonexistent/c.pcap", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "/nonexistent/c.pcap");
	run_free(&r);

	r = sp("diff", rules, "/nonexistent/new.yaml", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "/nonexistent/new.yaml: cannot open");
	run_free(&r);

	r = sp("info", "--json", "/nonexistent/x.pack", NULL);
	assert_rc(&r, 2);
	assert_json_last_line(&r);
	assert_has(&r, "\"ok\":false,\"exit\":2");
	run_free(&r);
	free(rules);
}

/* ---- compile and info ---- */

static char *compile_small(const char *dir, char sha[65])
{
	char *rules = fixture("small.yaml");
	char *pack = path_in(dir, "small.pack");
	struct run r = sp("compile", rules, "-o", pack, NULL);

	assert_rc(&r, 0);
	assert_has(&r, "cli-test 1: 3 rules, compiled in ");
	assert_has(&r, " pack bytes (");
	const char *h = strstr(r.out, "sha256 ");
	cr_assert_not_null(h);
	memcpy(sha, h + 7, 64);
	sha[64] = '\0';
	cr_assert_eq(strspn(sha, "0123456789abcdef"), 64, "%s", r.out);
	run_free(&r);
	free(rules);
	return pack;
}

Test(sluice_pack_cli, compile_then_info_describe_the_same_pack)
{
	char *dir = ts_make_tmpdir("cli");
	char sha[65], want[128];
	char *pack = compile_small(dir, sha);
	struct stat st;
	struct run r;

	cr_assert_eq(stat(pack, &st), 0);
	r = sp("info", pack, NULL);
	assert_rc(&r, 0);
	assert_has(&r, "name:       cli-test\n");
	assert_has(&r, "version:    1\n");
	snprintf(want, sizeof(want), "sha256:     %s\n", sha);
	assert_has(&r, want);
	assert_has(&r, "rules:      3 (block 1, mask 1, flag 1)\n");
	assert_has(&r, "categories: contact 1, drugs 1, minors 1\n");
	assert_has(&r, "hyperscan:  ");
	assert_has(&r, "database:   ");
	assert_lacks(&r, "drug-word");
	run_free(&r);

	r = sp("info", "-r", pack, NULL);
	assert_rc(&r, 0);
	assert_has(&r, "drug-word");
	assert_has(&r, "1[3-9]\\d{9}");
	run_free(&r);

	r = sp("info", "--json", "-r", pack, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"command\":\"info\"");
	assert_has(&r, "\"name\":\"cli-test\"");
	assert_has(&r, "\"rules\":3");
	assert_has(&r, "\"actions\":{\"block\":1,\"mask\":1,\"flag\":1,\"allow\":0}");
	snprintf(want, sizeof(want), "\"sha256\":\"%s\"", sha);
	assert_has(&r, want);
	assert_has(&r, "\"id\":\"drug-word\"");
	assert_has(&r, "\"ok\":true,\"exit\":0");
	run_free(&r);

	char *rules = fixture("small.yaml");
	char *out2 = path_in(dir, "again.pack");
	r = sp("compile", "--json", rules, "-o", out2, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"rules\":3");
	assert_has(&r, "\"compile_ms\":");
	snprintf(want, sizeof(want), "\"pack_bytes\":%lld", (long long)st.st_size);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "\"sha256\":\"%s\"", sha);
	assert_has(&r, want);
	run_free(&r);

	free(out2);
	free(rules);
	free(pack);
	ts_rmtree(dir);
	free(dir);
}

/* The rule language's other kinds: counted by info, and their matches shown
 * by test --all although they do not act on their own. */
Test(sluice_pack_cli, info_and_test_know_every_kind_of_rule)
{
	char *rules = fixture("v2.yaml");
	struct run r = sp("info", rules, NULL);

	assert_rc(&r, 0);
	assert_has(&r, "owner:      cli tests\n");
	assert_has(&r, "about:      Rules of every kind for the sluice-pack tests.\n");
	assert_has(&r, "compiled:   in ");
	assert_has(&r, "rules:      5 (block 3, mask 1, flag 0, allow 1)\n");
	assert_has(&r, "severity:   critical 0, high 3, medium 1, low 1\n");
	assert_has(&r, "kinds:      pattern 2, literal 1, list 1, combination 1 (2 quiet)\n");
	assert_has(&r, "categories: contact 2, copyright 3\n");
	assert_has(&r, ": literal ");
	assert_has(&r, ", regex ");
	assert_lacks(&r, "logic");
	assert_lacks(&r, "signature:");
	run_free(&r);

	r = sp("info", "--json", "-r", rules, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"owner\":\"cli tests\"");
	assert_has(&r, "\"databases\":[{\"kind\":\"literal\",\"view\":\"folded\",\"bytes\":");
	assert_has(&r, "\"normalization\":{\"data\":\"DerivedNormalizationProps-");
	assert_has(&r, "\"kinds\":{\"pattern\":2,\"literal\":1,\"list\":1,\"combination\":1}");
	assert_has(&r, "\"id\":\"titles\",\"action\":\"block\",\"severity\":\"high\","
		       "\"category\":\"copyright\",\"kind\":\"list\",\"body\":\"v2-titles.txt\","
		       "\"entries\":2");
	run_free(&r);

	r = sp("test", rules, "星河铁道2047 全集网盘", "热线 13800138000 或 13912345678",
	       "星河铁道2047", NULL);
	assert_rc(&r, 0);
	assert_has(&r, "\"星河铁道2047 全集网盘\": title-offer [copyright, block] at 0..29 -> "
		       "verdict block\n");
	assert_has(
	    &r, "\"热线 13800138000 或 13912345678\": phone [contact, mask] at 23..34 (exempted: "
		"phone at 7..18 by allow rule allow-hotline) -> verdict mask\n");
	assert_has(&r, "\"星河铁道2047\": no match\n");
	run_free(&r);

	r = sp("test", "--all", rules, "星河铁道2047 全集网盘", "热线 13800138000 或 13912345678",
	       NULL);
	assert_rc(&r, 0);
	assert_has(&r, "\"星河铁道2047 全集网盘\": titles [copyright, quiet] at 0..16, title-offer "
		       "[copyright, block] at 0..29, offer [copyright, quiet] at 17..29 -> verdict "
		       "block\n");
	assert_has(&r,
		   "\"热线 13800138000 或 13912345678\": allow-hotline [contact, allow] at 7..18, "
		   "phone [contact, mask] at 23..34 (exempted: phone at 7..18 by allow rule "
		   "allow-hotline) -> verdict mask\n");
	run_free(&r);
	free(rules);
}

Test(sluice_pack_cli, compile_error_names_file_line_column_and_exits_1)
{
	char *dir = ts_make_tmpdir("cli");
	char *bad = ts_source_path("tests/data/rules/bad_action.yaml");
	char *out = path_in(dir, "x.pack");
	struct run r = sp("compile", bad, "-o", out, NULL);

	assert_rc(&r, 1);
	assert_has(&r, "bad_action.yaml:4:13: rule wrong-action: unknown action 'delete'");
	cr_assert_neq(access(out, F_OK), 0, "a pack was written despite the error");
	run_free(&r);

	r = sp("compile", "--json", bad, "-o", out, NULL);
	assert_rc(&r, 1);
	assert_json_last_line(&r);
	assert_has(&r, "\"error\":\"");
	assert_has(&r, "\"ok\":false,\"exit\":1");
	run_free(&r);

	free(out);
	free(bad);
	ts_rmtree(dir);
	free(dir);
}

/* compile, test and diff print every error of a rule file, not the first. */
Test(sluice_pack_cli, compile_and_test_print_every_error_of_a_rule_file)
{
	char *dir = ts_make_tmpdir("cli");
	char *bad = ts_source_path("tests/data/rules/lint_every_error.yaml");
	char *out = path_in(dir, "x.pack");
	char want[512];
	struct run r = sp("compile", bad, "-o", out, NULL);

	assert_rc(&r, 1);
	cr_assert_neq(access(out, F_OK), 0, "a pack was written despite the errors");
	for (int pass = 0; pass < 2; pass++) {
		snprintf(want, sizeof(want), "%s:13:15: rule first: pattern rejected", bad);
		assert_has(&r, want);
		snprintf(want, sizeof(want),
			 "%s:17:29: rule masked-combination: combination:", bad);
		assert_has(&r, want);
		snprintf(want, sizeof(want), "%s:26:14: rule bad-date: expires", bad);
		assert_has(&r, want);
		snprintf(want, sizeof(want), "%s: 8 errors", bad);
		assert_has(&r, want);
		run_free(&r);
		r = sp("test", bad, "foo", NULL);
		assert_rc(&r, 1);
	}
	run_free(&r);
	free(out);
	free(bad);
	ts_rmtree(dir);
	free(dir);
}

/* --explain: what the recipient gets, which allow rule exempted which span,
 * and how each combination's operands came out. */
Test(sluice_pack_cli, test_explain_shows_delivery_exemptions_and_combinations)
{
	char *allow = ts_source_path("tests/data/rules/lang_allow.yaml");
	char *combos = ts_source_path("tests/data/rules/lang_combination.yaml");
	const char *mixed = "路口交通 call 13812345678 or 400-820-8820";
	struct run r = sp("test", allow, mixed, NULL);

	assert_rc(&r, 0);
	/* without --explain the exemptions are named on the message's line */
	assert_has(&r, "(exempted: kou-jiao at 3..9 by allow rule allow-kou-compounds, phone at "
		       "33..45 by allow rule allow-hotline)");
	run_free(&r);

	r = sp("test", "--explain", allow, mixed, "去赌场", "口交", NULL);
	assert_rc(&r, 0);
	assert_has(&r, "delivered: \"路口交通 call *********** or 400-820-8820\" (flags: masked)");
	assert_has(&r, "exempted: kou-jiao at 3..9, by allow rule allow-kou-compounds at 0..9");
	assert_has(&r, "exempted: phone at 33..45, by allow rule allow-hotline at 33..45");
	assert_has(&r, "delivered: nothing (blocked");
	assert_has(&r, "delivered: \"口交\" (flags: flagged)");
	run_free(&r);

	r = sp("test", "-x", combos, "溜冰鞋 面交", "作为AI我觉得", NULL);
	assert_rc(&r, 0);
	assert_has(&r, "combination slang-for-sale 'slang AND sale': does not hold; slang absent "
		       "(exempted); sale at 10..16");
	assert_has(&r, "combination unlabelled 'cue and not label': holds; cue at 0..8; label "
		       "absent (not found)");
	run_free(&r);

	r = sp("test", "--json", "--explain", allow, mixed, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"exemptions\":[{\"rule\":\"kou-jiao\",\"from\":3,\"to\":9,"
		       "\"allow\":\"allow-kou-compounds\",\"allow_from\":0,\"allow_to\":9}");
	assert_has(&r, "\"explain\":{\"removed\":false,\"delivered\":\"");
	assert_has(&r, "\"flags\":[\"masked\"]");
	run_free(&r);
	free(allow);
	free(combos);
}

/* --cases: a regression file with an expected verdict per message; only
 * what fails is printed, as a diff, and fails the run. */
Test(sluice_pack_cli, test_cases_pass_fail_and_refuse_a_line_that_is_no_case)
{
	char *dir = ts_make_tmpdir("cli");
	char *allow = ts_source_path("tests/data/rules/lang_allow.yaml");
	char *good = fixture("allow_cases.tsv");
	char *failing = fixture("allow_cases_failing.tsv");
	char *bad = path_in(dir, "bad.tsv");
	char want[512];
	struct run r = sp("test", allow, "--cases", good, NULL);

	assert_rc(&r, 0);
	assert_has(&r,
		   "totals: 5 messages (pass 2, flag 1, mask 1, block 1), 5 as expected, 0 not");
	assert_lacks(&r, "allow_cases.tsv:");
	run_free(&r);

	r = sp("test", allow, "--cases", failing, NULL);
	assert_rc(&r, 1);
	snprintf(want, sizeof(want),
		 "%s:2: \"去赌场\": gamble [gambling, block] at 3..9 -> verdict "
		 "block\n  - pass\n  + block\n",
		 failing);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "%s:3:", failing);
	assert_lacks(&r, want);
	assert_has(&r, "1 as expected, 1 not");
	run_free(&r);

	r = sp("test", "--json", allow, "--cases", failing, NULL);
	assert_rc(&r, 1);
	assert_json(&r);
	assert_has(&r, "\"expected\":\"pass\",\"as_expected\":false");
	assert_has(&r, "\"unexpected\":1");
	run_free(&r);

	FILE *f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("block\tfine\nbloc\tnot a verdict\n", f);
	fclose(f);
	r = sp("test", allow, "--cases", bad, NULL);
	assert_rc(&r, 2);
	snprintf(want, sizeof(want), "%s:2: 'bloc' is not a verdict", bad);
	assert_has(&r, want);
	run_free(&r);

	/* --file: empty lines are no messages */
	f = fopen(bad, "w");
	cr_assert_not_null(f);
	fputs("a\n\nb\n\n", f);
	fclose(f);
	r = sp("test", allow, "--file", bad, NULL);
	assert_rc(&r, 0);
	assert_has(&r, "totals: 2 messages");
	run_free(&r);

	free(bad);
	free(failing);
	free(good);
	free(allow);
	ts_rmtree(dir);
	free(dir);
}

Test(sluice_pack_cli, corrupt_pack_is_refused_with_exit_1)
{
	char *dir = ts_make_tmpdir("cli");
	char sha[65];
	char *pack = compile_small(dir, sha);
	FILE *f = fopen(pack, "r+b");

	cr_assert_not_null(f);
	fseek(f, -10, SEEK_END);
	int c = fgetc(f);
	fseek(f, -10, SEEK_END);
	fputc(c ^ 0xff, f);
	fclose(f);

	struct run r = sp("info", pack, NULL);
	assert_rc(&r, 1);
	assert_has(&r, pack);
	assert_has(&r, "SHA-256 mismatch");
	run_free(&r);

	r = sp("test", pack, "x", NULL);
	assert_rc(&r, 1);
	run_free(&r);

	free(pack);
	ts_rmtree(dir);
	free(dir);
}

/* ---- test ---- */

Test(sluice_pack_cli, test_texts_print_matches_offsets_and_verdict)
{
	char *rules = fixture("small.yaml");
	struct run r =
	    sp("test", rules, "电话 13812345678", "hello", "加我 13912345678 冰毒", NULL);

	assert_rc(&r, 0);
	assert_has(&r, "\"电话 13812345678\": phone-cn-mobile [contact, mask] at 7..18 -> "
		       "verdict mask\n");
	assert_has(&r, "\"hello\": no match\n");
	assert_has(&r, "\"加我 13912345678 冰毒\": private-chat [minors, flag] at 0..6, "
		       "phone-cn-mobile [contact, mask] at 7..18, drug-word [drugs, block] at "
		       "19..25 -> verdict block\n");
	run_free(&r);

	r = sp("test", "--json", rules, "电话 13812345678", "\xff", NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"text\":\"电话 13812345678\"");
	assert_has(&r, "\"matches\":[{\"rule\":\"phone-cn-mobile\",\"category\":\"contact\","
		       "\"action\":\"mask\",\"severity\":\"medium\",\"from\":7,\"to\":18}]");
	assert_has(&r, "\"verdict\":\"mask\"");
	assert_has(&r, "\"scanned\":false,\"invalid_utf8_at\":0");
	assert_has(&r, "\"totals\":{\"messages\":2,\"pass\":0,\"flag\":0,\"mask\":1,\"block\":0,"
		       "\"invalid_utf8\":1}");
	run_free(&r);
	free(rules);
}

/* What a message becomes: the folded text and the characters folded, in text
 * and JSON; --no-normalize scans messages as they are. */
Test(sluice_pack_cli, test_shows_what_normalisation_makes_of_a_message)
{
	char *rules = fixture("small.yaml");
	const char *evasive = "电话 １３８\u200b12345678";
	struct run r = sp("test", rules, "电话 13812345678", evasive, NULL);

	assert_rc(&r, 0);
	assert_has(&r, "phone-cn-mobile [contact, mask] at 7..27 -> verdict mask\n"
		       "  normalised: \"电话 13812345678\" (4 characters folded: '１' -> '1', "
		       "'３' -> '3', '８' -> '8', U+200B dropped)\n");
	/* nothing folds in the plain one: the next message follows at once */
	assert_has(&r, "\"电话 13812345678\": phone-cn-mobile [contact, mask] at 7..18 -> "
		       "verdict mask\n\"电话 １３８");
	run_free(&r);

	r = sp("test", "--json", rules, evasive, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"normalized\":\"电话 13812345678\",\"folded\":[{\"at\":7,"
		       "\"from\":\"１\",\"code_point\":65297,\"to\":\"1\"}");
	assert_has(&r, "{\"at\":16,\"from\":\"\u200b\",\"code_point\":8203,\"to\":\"\"}");
	run_free(&r);

	r = sp("test", "--no-normalize", rules, evasive, NULL);
	assert_rc(&r, 0);
	assert_has(&r, ": no match\n");
	assert_lacks(&r, "normalised:");
	run_free(&r);
	free(rules);
}

Test(sluice_pack_cli, test_file_prints_file_line_per_message_and_totals)
{
	char *rules = fixture("small.yaml");
	char *lines = fixture("messages.txt");
	struct run r = sp("test", rules, "--file", lines, NULL);
	char want[512];

	assert_rc(&r, 0);
	snprintf(want, sizeof(want),
		 "%s:1: \"电话 13812345678\": phone-cn-mobile [contact, mask] at 7..18 -> "
		 "verdict mask\n",
		 lines);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "%s:2: \"hello\": no match\n", lines);
	assert_has(&r, want);
	snprintf(want, sizeof(want),
		 "%s:3: \"出售冰毒\": drug-word [drugs, block] at 6..12 -> verdict block\n", lines);
	assert_has(&r, want);
	snprintf(want, sizeof(want),
		 "%s:4: \"私聊 13912345678\": private-chat [minors, flag] at 0..6, "
		 "phone-cn-mobile [contact, mask] at 7..18 -> verdict mask\n",
		 lines);
	assert_has(&r, want);
	assert_has(&r, "totals: 4 messages (pass 1, flag 0, mask 2, block 1)\n");
	run_free(&r);

	/* --matched leaves out what did not match, not the totals. */
	r = sp("test", rules, "--file", lines, "--matched", NULL);
	assert_rc(&r, 0);
	assert_lacks(&r, "hello");
	assert_has(&r, "totals: 4 messages");
	run_free(&r);
	free(lines);
	free(rules);
}

Test(sluice_pack_cli, test_expect_fails_with_exit_1_on_another_verdict)
{
	char *rules = fixture("small.yaml");
	struct run r = sp("test", rules, "--expect", "block", "出售冰毒", "买冰毒吗", NULL);

	assert_rc(&r, 0);
	assert_has(&r, "totals: 2 messages (pass 0, flag 0, mask 0, block 2), 0 not block\n");
	run_free(&r);

	r = sp("test", rules, "--expect", "block", "出售冰毒", "hello", NULL);
	assert_rc(&r, 1);
	assert_has(&r, "\"hello\": no match  [UNEXPECTED: expected block]\n");
	assert_has(&r, "1 not block");
	run_free(&r);

	r = sp("test", rules, "--json", "--expect", "pass", "hello", NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"expected\":\"pass\",\"as_expected\":true");
	run_free(&r);
	free(rules);
}

static void add_pkt(struct ts_packet *pkts, size_t *n, const uint8_t *data, size_t len)
{
	cr_assert_gt(len, 0, "packet %zu was not built", *n);
	pkts[*n].data = malloc(len);
	cr_assert_not_null(pkts[*n].data);
	memcpy(pkts[*n].data, data, len);
	pkts[*n].len = len;
	(*n)++;
}

static size_t build_udp(uint8_t *out, size_t cap, uint16_t port, const void *payload, size_t len)
{
	struct sluice_endpoints ep;

	sluice_endpoints_default(&ep, false);
	ep.dst_port = port;
	return sluice_udp_packet_build(out, cap, &ep, payload, len);
}

/* Five packets: two messages (IPv4), one (IPv6 in a VLAN), a datagram to
 * another port, one with a broken frame, and one message that is not UTF-8. */
static char *write_capture(const char *dir)
{
	struct ts_packet pkts[8];
	uint8_t buf[4096], frame[256];
	size_t n = 0;
	char *path = path_in(dir, "msgs.pcap");

	struct sluice_wire_message m1[] = {ts_msg(7, "电话 13812345678"), ts_msg(8, "hello")};
	add_pkt(pkts, &n, buf, ts_build_datagram(buf, sizeof(buf), false, false, m1, 2));
	struct sluice_wire_message m2[] = {ts_msg(9, "出售冰毒")};
	add_pkt(pkts, &n, buf, ts_build_datagram(buf, sizeof(buf), true, true, m2, 1));
	struct sluice_wire_message m3 = ts_msg(11, "冰毒 to another port");
	size_t fl = sluice_wire_frame_write(frame, sizeof(frame), &m3);
	add_pkt(pkts, &n, buf, build_udp(buf, sizeof(buf), 5353, frame, fl));
	frame[0] = 'X'; /* bad magic: the gateway drops the datagram */
	add_pkt(pkts, &n, buf, build_udp(buf, sizeof(buf), 7700, frame, fl));
	struct sluice_wire_message m5[] = {ts_msg(10, "\xff\xfe")};
	add_pkt(pkts, &n, buf, ts_build_datagram(buf, sizeof(buf), false, false, m5, 1));

	cr_assert_eq(ts_pcap_write(path, pkts, n), 0);
	for (size_t i = 0; i < n; i++)
		free(pkts[i].data);
	return path;
}

Test(sluice_pack_cli, test_pcap_decodes_messages_like_the_gateway)
{
	char *dir = ts_make_tmpdir("cli");
	char *rules = fixture("small.yaml");
	char *pcap = write_capture(dir);
	struct run r = sp("test", rules, "--pcap", pcap, NULL);

	assert_rc(&r, 0);
	assert_has(&r, "packet 1 msg 7: \"电话 13812345678\": phone-cn-mobile [contact, mask] at "
		       "7..18 -> verdict mask\n");
	assert_has(&r, "packet 1 msg 8: \"hello\": no match\n");
	assert_has(
	    &r,
	    "packet 2 msg 9: \"出售冰毒\": drug-word [drugs, block] at 6..12 -> verdict block\n");
	assert_lacks(&r, "msg 11");
	assert_has(&r, "packet 4: datagram dropped by the gateway: bad_magic\n");
	assert_has(&r, "packet 5 msg 10: \"\\xff\\xfe\": invalid UTF-8 at byte 0, not scanned\n");
	assert_has(&r, "totals: 4 messages (pass 1, flag 0, mask 1, block 1), 1 invalid UTF-8; "
		       "5 packets: 3 datagrams to port 7700, 1 dropped (bad_magic 1), 1 other\n");
	run_free(&r);

	/* Another message port: everything is someone else's traffic. */
	r = sp("test", rules, "--pcap", pcap, "--udp-port", "5353", NULL);
	assert_rc(&r, 0);
	assert_has(&r, "packet 3 msg 11: \"冰毒 to another port\": drug-word [drugs, block] at "
		       "0..6 -> verdict block\n");
	assert_has(&r, "5 packets: 1 datagrams to port 5353, 0 dropped, 4 other\n");
	run_free(&r);

	r = sp("test", "--json", rules, "--pcap", pcap, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "{\"packet\":1,\"msg_id\":7,\"channel_id\":100,\"user_id\":5007,\"flags\":0,"
		       "\"text\":\"电话 13812345678\"");
	assert_has(&r, "\"dropped\":[{\"packet\":4,\"reason\":\"bad_magic\"}]");
	assert_has(&r, "\"packets\":5,\"datagrams\":3,\"dropped_datagrams\":1,"
		       "\"dropped_by_reason\":{\"bad_magic\":1},\"other_packets\":1");
	run_free(&r);

	/* A file that is not a capture is an input error, named. */
	r = sp("test", rules, "--pcap", rules, NULL);
	assert_rc(&r, 2);
	assert_has(&r, rules);
	run_free(&r);

	free(pcap);
	free(rules);
	ts_rmtree(dir);
	free(dir);
}

/* `tcpdump -i any` writes Linux cooked (SLL) headers instead of Ethernet. */
Test(sluice_pack_cli, test_pcap_reads_linux_cooked_captures)
{
	char *dir = ts_make_tmpdir("cli");
	char *rules = fixture("small.yaml");
	char *pcap = path_in(dir, "any.pcap");
	uint8_t eth[2048], sll[2048];
	struct sluice_wire_message m[] = {ts_msg(21, "电话 13812345678")};
	size_t n = ts_build_datagram(eth, sizeof(eth), false, false, m, 1);

	cr_assert_gt(n, 14);
	memset(sll, 0, 16);
	sll[1] = 4;	/* packet sent by us */
	sll[14] = 0x08; /* protocol: IPv4 */
	memcpy(sll + 16, eth + 14, n - 14);
	pcap_t *dead = pcap_open_dead(DLT_LINUX_SLL, 65535);
	pcap_dumper_t *d = pcap_dump_open(dead, pcap);
	cr_assert_not_null(d);
	struct pcap_pkthdr h = {.caplen = (bpf_u_int32)(n + 2), .len = (bpf_u_int32)(n + 2)};
	pcap_dump((u_char *)d, &h, sll);
	pcap_dump_close(d);
	pcap_close(dead);

	struct run r = sp("test", rules, "--pcap", pcap, NULL);
	assert_rc(&r, 0);
	assert_has(&r, "packet 1 msg 21: \"电话 13812345678\": phone-cn-mobile [contact, mask] at "
		       "7..18 -> verdict mask\n");
	run_free(&r);
	free(pcap);
	free(rules);
	ts_rmtree(dir);
	free(dir);
}

/* ---- diff ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(getdelim(&buf, &len, '\0', f) > 0, true, "%s is empty", path);
	fclose(f);
	return buf;
}

/* Replaces text[at, at + len) with with; returns the new malloc'd text. */
static char *splice(char *text, size_t at, size_t len, const char *with)
{
	char *out = NULL;

	cr_assert_geq(asprintf(&out, "%.*s%s%s", (int)at, text, with, text + at + len), 0);
	free(text);
	return out;
}

/* The start of a rule's "- id: ID" line in a rule file. */
static size_t rule_at(const char *text, const char *id)
{
	char key[128];

	snprintf(key, sizeof(key), "\n  - id: %s\n", id);
	const char *p = strstr(text, key);
	cr_assert_not_null(p, "default.yaml has no rule %s", id);
	return (size_t)(p - text) + 1;
}

/* Offset of the first needle at or after from. */
static size_t find_from(const char *text, size_t from, const char *needle)
{
	const char *p = strstr(text + from, needle);

	cr_assert_not_null(p, "no \"%s\" in default.yaml after byte %zu", needle, from);
	return (size_t)(p - text);
}

/* patterns/rules/default.yaml with four edits, made here rather than kept as
 * a copy so the test follows the default pack as it evolves: phone-cn-mobile
 * blocks instead of masking, email-address only matches .com addresses,
 * drug-sale is gone and lottery-group-lure is new. */
static char *modified_default(const char *dir)
{
	char *src = ts_source_path("patterns/rules/default.yaml");
	char *text = slurp(src);
	char *path = path_in(dir, "default_modified.yaml");
	size_t at, end;

	at = find_from(text, rule_at(text, "phone-cn-mobile"), "action: mask");
	text = splice(text, at, strlen("action: mask"), "action: block");

	at = find_from(text, rule_at(text, "email-address"), "pattern: ");
	end = find_from(text, at, "\n");
	text = splice(text, at, end - at, "pattern: '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\\.com'");

	/* The rule runs to the next rule, comment or blank line. */
	at = rule_at(text, "drug-sale");
	end = at + strlen("  - id: drug-sale\n");
	while (strncmp(text + end, "    ", 4) == 0)
		end = find_from(text, end, "\n") + 1;
	text = splice(text, at, end - at, "");

	/* rules: is the file's last key, so a rule appended at the end is in it. */
	size_t len = strlen(text);
	text = splice(text, len, 0,
		      "\n  - id: lottery-group-lure\n    pattern: '彩票群'\n    action: mask\n"
		      "    category: gambling\n");

	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	free(text);
	free(src);
	return path;
}

Test(sluice_pack_cli, diff_shows_rule_changes_and_verdict_changes_on_a_corpus)
{
	char *dir = ts_make_tmpdir("cli");
	char *old = ts_source_path("patterns/rules/default.yaml");
	char *new = modified_default(dir);
	char *corpus = fixture("corpus.txt");
	struct run r = sp("diff", old, new, "--corpus", corpus, "--examples", "1", NULL);
	char want[512];

	assert_rc(&r, 0);
	assert_has(&r, "rules: 1 added, 1 removed, 2 changed, ");
	assert_has(&r, "  added    lottery-group-lure [gambling, mask] pattern '彩票群'");
	assert_has(&r, "default_modified.yaml:");
	assert_has(&r, "  removed  drug-sale [drugs, block]");
	assert_has(&r, "  changed  phone-cn-mobile");
	assert_has(&r, "             action mask → block\n");
	assert_has(&r, "  changed  email-address");
	assert_has(&r, "             pattern '");
	snprintf(want, sizeof(want), "corpus %s: 7 messages, 5 change verdict", corpus);
	assert_has(&r, want);
	assert_has(&r, "  pass→mask: 1\n");
	assert_has(&r, "  mask→pass: 1\n");
	assert_has(&r, "  mask→block: 2\n");
	assert_has(&r, "  block→pass: 1\n");
	snprintf(want, sizeof(want), "    %s:4: \"进彩票群了吗\"  +lottery-group-lure (mask)\n",
		 corpus);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "    %s:3: \"出售冰毒\"  -drug-sale (block)\n", corpus);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "    %s:8: \"邮箱 a@b.org\"  -email-address (mask)\n", corpus);
	assert_has(&r, want);
	/* One example per change: line 1 shows, line 2 does not. */
	snprintf(want, sizeof(want),
		 "    %s:1: \"加我 13812345678\"  phone-cn-mobile (mask→block)\n", corpus);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "    %s:2:", corpus);
	assert_lacks(&r, want);
	run_free(&r);

	r = sp("diff", "--json", old, new, "--corpus", corpus, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"added\":[{\"id\":\"lottery-group-lure\",\"action\":\"mask\"");
	assert_has(&r, "\"removed\":[{\"id\":\"drug-sale\"");
	assert_has(&r, "{\"field\":\"action\",\"old\":\"mask\",\"new\":\"block\"}");
	assert_has(&r, "\"messages\":7,\"changed_verdict\":5");
	assert_has(&r, "{\"from\":\"mask\",\"to\":\"block\",\"count\":2,\"examples\":[{\"line\":1,"
		       "\"text\":\"加我 13812345678\",\"rules\":[{\"rule\":\"phone-cn-mobile\","
		       "\"old\":\"mask\",\"new\":\"block\"}]},{\"line\":2,");
	assert_has(&r, "{\"from\":\"block\",\"to\":\"pass\",\"count\":1");
	assert_has(&r, "{\"rule\":\"lottery-group-lure\",\"old\":null,\"new\":\"mask\"}");
	run_free(&r);

	/* Like diff(1): --exit-code says whether anything differs. */
	r = sp("diff", "--exit-code", old, new, NULL);
	assert_rc(&r, 1);
	run_free(&r);
	r = sp("diff", "--exit-code", old, old, "--corpus", corpus, NULL);
	assert_rc(&r, 0);
	assert_has(&r, "rules: 0 added, 0 removed, 0 changed, ");
	assert_has(&r, "0 change verdict");
	run_free(&r);

	free(corpus);
	free(new);
	free(old);
	ts_rmtree(dir);
	free(dir);
}

Test(sluice_pack_cli, diff_compares_a_pack_with_a_rule_file)
{
	char *dir = ts_make_tmpdir("cli");
	char sha[65];
	char *pack = compile_small(dir, sha);
	char *rules = fixture("small.yaml");
	struct run r = sp("diff", pack, rules, NULL);

	assert_rc(&r, 0);
	assert_has(&r, "rules: 0 added, 0 removed, 0 changed, 3 unchanged\n");
	run_free(&r);
	free(rules);
	free(pack);
	ts_rmtree(dir);
	free(dir);
}

/* ---- lint ---- */

Test(sluice_pack_cli, lint_reports_every_error_with_its_location_and_exits_1)
{
	char *bad = fixture("lint_errors.yaml");
	char want[512];
	struct run r = sp("lint", bad, NULL);

	assert_rc(&r, 1);
	snprintf(want, sizeof(want), "%s:12:13: error: rule wrong-action: ", bad);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "%s:15:", bad);
	assert_has(&r, want);
	assert_has(&r, "rule fine: ");
	assert_has(&r, "2 errors");
	run_free(&r);

	r = sp("lint", "--json", bad, NULL);
	assert_rc(&r, 1);
	assert_json(&r);
	assert_has(&r, "\"level\":\"error\"");
	assert_has(&r, "\"line\":12,\"column\":13");
	assert_has(&r, "\"rule\":\"wrong-action\"");
	assert_has(&r, "\"errors\":2");
	assert_has(&r, "\"ok\":false,\"exit\":1");
	run_free(&r);
	free(bad);
}

Test(sluice_pack_cli, lint_of_a_clean_file_exits_0)
{
	char *good = fixture("small.yaml");
	struct run r = sp("lint", good, NULL);

	assert_rc(&r, 0);
	assert_has(&r, ": 0 errors");
	run_free(&r);

	r = sp("lint", "--json", good, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"errors\":0");
	run_free(&r);
	free(good);
}

Test(sluice_pack_cli, lint_warnings_pass_unless_strict)
{
	char *rules = fixture("small.yaml");
	char *corpus = fixture("messages.txt");
	char want[512];
	/* phone-cn-mobile matches 2 of the 4 lines: too broad at 30%. */
	struct run r = sp("lint", rules, "--corpus", corpus, "--broad-share", "0.3", NULL);

	assert_rc(&r, 0);
	snprintf(want, sizeof(want), "%s:", rules);
	assert_has(&r, want);
	assert_has(&r, ": warning: rule phone-cn-mobile: ");
	assert_has(&r, ": 0 errors, ");
	run_free(&r);

	r = sp("lint", "--strict", rules, "--corpus", corpus, "--broad-share", "0.3", NULL);
	assert_rc(&r, 1);
	run_free(&r);

	r = sp("lint", rules, "--broad-share", "2", NULL);
	assert_rc(&r, 2);
	run_free(&r);

	r = sp("lint", rules, "--corpus", "/nonexistent/corpus.txt", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "/nonexistent/corpus.txt: cannot open");
	run_free(&r);
	free(corpus);
	free(rules);
}

/* ---- signing ---- */

static mode_t mode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s missing", path);
	return st.st_mode & 0777;
}

Test(sluice_pack_cli, keygen_sign_verify_round_trip)
{
	char *dir = ts_make_tmpdir("cli");
	char sha[65];
	char *pack = compile_small(dir, sha);
	char *alice = path_in(dir, "alice"), *bob = path_in(dir, "bob");
	char *alice_key = path_in(dir, "alice.key"), *alice_pub = path_in(dir, "alice.pub");
	char *bob_pub = path_in(dir, "bob.pub");
	char *signed_pack = path_in(dir, "signed.pack");
	struct run r;

	r = sp("keygen", alice, NULL);
	assert_rc(&r, 0);
	run_free(&r);
	cr_assert_eq(mode_of(alice_key), 0600, "private key mode %o", mode_of(alice_key));
	mode_of(alice_pub);
	r = sp("keygen", "--json", bob, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	assert_has(&r, "\"public_key\":");
	run_free(&r);

	/* A key is never overwritten by accident. */
	r = sp("keygen", alice, NULL);
	assert_rc(&r, 2);
	assert_has(&r, "already exists");
	run_free(&r);

	/* The key id keygen reports is the one sign, verify and info report. */
	r = sp("keygen", "--json", "--force", alice, NULL);
	assert_rc(&r, 0);
	const char *at = strstr(r.out, "\"key_id\":\"");
	cr_assert_not_null(at, "%s", r.out);
	char key_id[65], want[256];
	memcpy(key_id, at + 10, 64);
	key_id[64] = '\0';
	cr_assert_eq(strspn(key_id, "0123456789abcdef"), 64, "%s", r.out);
	run_free(&r);
	cr_assert_eq(mode_of(alice_key), 0600);

	r = sp("sign", pack, "--key", alice_key, "-o", signed_pack, NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want), "signed with key %s", key_id);
	assert_has(&r, want);
	run_free(&r);

	r = sp("verify", signed_pack, "--pubkey", alice_pub, NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want),
		 "%s: signature 1 of 1: key %s, trusted, valid\n"
		 "%s: OK, 1 valid signature by trusted keys, 1 required\n",
		 signed_pack, key_id, signed_pack);
	cr_assert_str_eq(r.out, want);
	run_free(&r);

	r = sp("info", signed_pack, NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want), "signature:  signed by key %s", key_id);
	assert_has(&r, want);
	run_free(&r);
	r = sp("info", pack, NULL);
	assert_rc(&r, 0);
	assert_has(&r, "signature:  unsigned\n");
	run_free(&r);

	r = sp("verify", "--json", signed_pack, "--pubkey", bob_pub, "--pubkey", alice_pub, NULL);
	assert_rc(&r, 0);
	assert_json(&r);
	snprintf(want, sizeof(want),
		 "\"verified\":true,\"key_id\":\"%s\",\"signatures\":[{\"key_id\":\"%s\","
		 "\"key\":\"trusted\",\"signature\":\"valid\"}],\"valid_trusted\":1,"
		 "\"required\":1,",
		 key_id, key_id);
	assert_has(&r, want);
	run_free(&r);

	/* The wrong key, or no signature at all, fails with exit 1 and names the
	 * pack. */
	r = sp("verify", signed_pack, "--pubkey", bob_pub, NULL);
	assert_rc(&r, 1);
	assert_has(&r, signed_pack);
	assert_has(&r, key_id);
	run_free(&r);
	r = sp("verify", "--json", signed_pack, "--pubkey", bob_pub, NULL);
	assert_rc(&r, 1);
	assert_json_last_line(&r);
	assert_has(&r, "\"verified\":false");
	assert_has(&r, "\"ok\":false,\"exit\":1");
	run_free(&r);
	r = sp("verify", pack, "--pubkey", alice_pub, NULL);
	assert_rc(&r, 1);
	assert_has(&r, pack);
	run_free(&r);

	/* A signed pack is still a pack for every other command. */
	r = sp("test", signed_pack, "出售冰毒", NULL);
	assert_rc(&r, 0);
	assert_has(&r, "-> verdict block");
	run_free(&r);

	free(signed_pack);
	free(bob_pub);
	free(alice_pub);
	free(alice_key);
	free(bob);
	free(alice);
	free(pack);
	ts_rmtree(dir);
	free(dir);
}

/* Two-person approval as an operator runs it: two people sign in turn, verify
 * with a two-of-three policy lists both, and a revoked signer sinks it. */
Test(sluice_pack_cli, co_signed_pack_meets_a_two_of_three_policy)
{
	char *dir = ts_make_tmpdir("cli");
	char sha[65], want[1024], ids[3][65];
	char *pack = compile_small(dir, sha);
	char *names[3], *keys[3], *pubs[3];
	char *signed_pack = path_in(dir, "approved.pack");
	struct run r;

	for (int i = 0; i < 3; i++) {
		char file[32];
		snprintf(file, sizeof(file), "p%d", i);
		names[i] = path_in(dir, file);
		snprintf(file, sizeof(file), "p%d.key", i);
		keys[i] = path_in(dir, file);
		snprintf(file, sizeof(file), "p%d.pub", i);
		pubs[i] = path_in(dir, file);
		r = sp("keygen", "--json", names[i], NULL);
		assert_rc(&r, 0);
		const char *at = strstr(r.out, "\"key_id\":\"");
		cr_assert_not_null(at, "%s", r.out);
		memcpy(ids[i], at + 10, 64);
		ids[i][64] = '\0';
		run_free(&r);
	}

	r = sp("sign", pack, "--key", keys[0], "-o", signed_pack, NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want), "%s: signed with key %s (%s) -> %s, 1 signature\n", pack,
		 ids[0], keys[0], signed_pack);
	cr_assert_str_eq(r.out, want);
	run_free(&r);

	/* One signature of the two required: exit 1, and the message says so. */
	r = sp("verify", signed_pack, "-k", pubs[0], "-k", pubs[1], "-k", pubs[2],
	       "--signatures-required", "2", NULL);
	assert_rc(&r, 1);
	snprintf(want, sizeof(want),
		 "%s: 1 of the 2 required signatures by trusted keys (signed by trusted key %s); "
		 "have another trusted key co-sign it",
		 signed_pack, ids[0]);
	assert_has(&r, want);
	run_free(&r);

	/* The second person co-signs; again changes nothing. */
	r = sp("sign", signed_pack, "--key", keys[2], NULL);
	assert_rc(&r, 0);
	assert_has(&r, ", 2 signatures\n");
	run_free(&r);
	r = sp("sign", "--json", signed_pack, "--key", keys[2], NULL);
	assert_rc(&r, 0);
	assert_has(&r, "\"signatures\":2,\"already_signed\":true,\"replaced\":false,");
	run_free(&r);

	r = sp("verify", signed_pack, "-k", pubs[0], "-k", pubs[1], "-k", pubs[2], "-n", "2", NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want),
		 "%s: signature 1 of 2: key %s, trusted, valid\n"
		 "%s: signature 2 of 2: key %s, trusted, valid\n"
		 "%s: OK, 2 valid signatures by trusted keys, 2 required\n",
		 signed_pack, ids[0], signed_pack, ids[2], signed_pack);
	cr_assert_str_eq(r.out, want);
	run_free(&r);

	/* Only two keys trusted, one of them the second signer: the first
	 * signature is listed as unknown and not counted. */
	r = sp("verify", "--json", signed_pack, "-k", pubs[1], "-k", pubs[2], "-n", "2", NULL);
	assert_rc(&r, 1);
	snprintf(want, sizeof(want),
		 "{\"key_id\":\"%s\",\"key\":\"unknown\",\"signature\":\"unchecked\"},"
		 "{\"key_id\":\"%s\",\"key\":\"trusted\",\"signature\":\"valid\"}],"
		 "\"valid_trusted\":1,\"required\":2,",
		 ids[0], ids[2]);
	assert_has(&r, want);
	run_free(&r);

	/* The first signer's key is revoked (by id): refused, and listed. */
	r = sp("verify", signed_pack, "-k", pubs[1], "-k", pubs[2], "--revoked-key", ids[0], NULL);
	assert_rc(&r, 1);
	snprintf(want, sizeof(want), "%s: signature 1 of 2: key %s, revoked, unchecked\n",
		 signed_pack, ids[0]);
	assert_has(&r, want);
	snprintf(want, sizeof(want), "%s: signed by revoked key %s; ", signed_pack, ids[0]);
	assert_has(&r, want);
	run_free(&r);

	/* Policies no pack could meet are the command line's fault. */
	r = sp("verify", signed_pack, "-k", pubs[0], "-n", "2", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "--signatures-required 2: 2 signatures by trusted keys required, but only "
		       "1 distinct key is trusted: no pack could load");
	run_free(&r);
	r = sp("verify", signed_pack, "-k", pubs[0], "-n", "9", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "--signatures-required: '9' is not a number 1-8");
	run_free(&r);
	r = sp("verify", signed_pack, "-k", pubs[0], "-r", keys[0], NULL);
	assert_rc(&r, 2);
	snprintf(want, sizeof(want),
		 "%s: key %s is both trusted and revoked; remove it from the trusted keys", keys[0],
		 ids[0]);
	assert_has(&r, want);
	run_free(&r);

	/* --replace: the last signer's alone; info lists every signer. */
	r = sp("sign", signed_pack, "--key", keys[1], NULL);
	assert_rc(&r, 0);
	run_free(&r);
	r = sp("info", signed_pack, NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want),
		 "signatures: 3, by keys %s, %s, %s (not verified; use 'sluice-pack verify')\n",
		 ids[0], ids[2], ids[1]);
	assert_has(&r, want);
	run_free(&r);
	r = sp("sign", signed_pack, "--key", keys[1], "--replace", NULL);
	assert_rc(&r, 0);
	assert_has(&r, ", replacing the signatures there -> ");
	assert_has(&r, ", 1 signature\n");
	run_free(&r);
	r = sp("info", "--json", signed_pack, NULL);
	assert_rc(&r, 0);
	snprintf(want, sizeof(want), "\"signed\":true,\"key_id\":\"%s\",\"key_ids\":[\"%s\"]",
		 ids[1], ids[1]);
	assert_has(&r, want);
	run_free(&r);

	for (int i = 0; i < 3; i++) {
		free(names[i]);
		free(keys[i]);
		free(pubs[i]);
	}
	free(signed_pack);
	free(pack);
	ts_rmtree(dir);
	free(dir);
}

Test(sluice_pack_cli, examples_prints_every_matches_example_in_file_order)
{
	char *rules = ts_source_path("tests/data/batch/crossing.yaml");
	struct run r = sp("examples", rules, NULL);

	assert_rc(&r, 0);
	cr_assert_str_eq(r.out, "call 13 8 1 2 3 4 5 6 7 8\nwow!!!\neyes\n1234x\nhi there\n"
				"that is so lol\ngg everyone\nThe end\ndrink water\n");
	run_free(&r);

	char *errors = fixture("lint_errors.yaml");
	r = sp("examples", errors, NULL);
	assert_rc(&r, 1);
	run_free(&r);
	r = sp("examples", "/nonexistent/rules.yaml", NULL);
	assert_rc(&r, 2);
	assert_has(&r, "/nonexistent/rules.yaml");
	run_free(&r);
	r = sp("examples", NULL);
	assert_rc(&r, 2);
	run_free(&r);
	free(errors);
	free(rules);
}

Test(sluice_pack_cli, sluice_gen_draws_violations_from_the_examples_file)
{
	char *dir = ts_make_tmpdir("genviol");
	char *snippets = path_in(dir, "snippets.txt"), *pcap = path_in(dir, "c.pcap");
	char *text = path_in(dir, "c.txt");
	FILE *f = fopen(snippets, "w");
	cr_assert_not_null(f);
	fputs("ZQXJ-first-snippet\nZQXJ-second-snippet\n", f);
	fclose(f);
	char *gen = ts_build_path("dataplane/sluice-gen");
	char *argv[] = {gen,	  "-o",
			pcap,	  "--text-out",
			text,	  "-n",
			"300",	  "-s",
			"5",	  "--violations",
			"100",	  "--other-share",
			"0",	  "--violations-from",
			snippets, NULL};
	char *out = NULL;
	cr_assert_eq(ts_run(argv, 60, &out), 0, "%s", out);
	free(out);

	f = fopen(text, "r");
	cr_assert_not_null(f);
	char line[4096];
	unsigned lines = 0, first = 0, second = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		first += strstr(line, "ZQXJ-first-snippet") != NULL;
		second += strstr(line, "ZQXJ-second-snippet") != NULL;
	}
	fclose(f);
	cr_assert_gt(lines, 300);
	cr_expect_eq(first + second, lines, "every message carries one of the snippets");
	cr_expect_gt(first, 0);
	cr_expect_gt(second, 0);

	char *empty = path_in(dir, "empty.txt");
	f = fopen(empty, "w");
	fclose(f);
	argv[13] = empty;
	cr_expect_neq(ts_run(argv, 60, &out), 0, "an empty snippets file is refused: %s", out);
	free(out);
	ts_rmtree(dir);
	free(empty);
	free(gen);
	free(text);
	free(pcap);
	free(snippets);
	free(dir);
}
