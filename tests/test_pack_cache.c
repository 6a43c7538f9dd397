/* The suite's cache of compiled fixtures (support/pack_cache.h) gives the
 * pack a compile gives, and keeps only rule files of the source tree. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack.h"
#include "test_support.h"

static unsigned files_in(const char *dir)
{
	DIR *d = opendir(dir);
	cr_assert_not_null(d);
	unsigned n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct sluice_pack *load(const char *path)
{
	struct sluice_pack *pack = NULL;
	char err[2048] = "";
	cr_assert_eq(ts_pack_load(path, &pack, err, sizeof(err)), 0, "%s: %s", path, err);
	return pack;
}

Test(pack_cache, a_rule_file_read_back_is_the_pack_its_compile_gave)
{
	char *cache = ts_make_tmpdir("pack-cache");
	cr_assert_eq(setenv("SLUICE_TEST_PACK_CACHE", cache, 1), 0);
	char *rules = ts_source_path("patterns/rules/default.yaml");

	struct sluice_pack *compiled = load(rules);
	cr_assert_gt(compiled->compile_ms, 0, "the first load compiles");
	cr_assert_eq(files_in(cache), 1);
	struct sluice_pack *kept = load(rules);
	cr_assert_eq(kept->compile_ms, 0, "the second load reads the kept pack");
	cr_assert_eq(files_in(cache), 1);

	cr_assert_str_eq(kept->sha256_hex, compiled->sha256_hex);
	cr_assert_str_eq(kept->source, rules);
	cr_assert_str_eq(kept->name, compiled->name);
	cr_assert_str_eq(kept->version, compiled->version);
	cr_assert_eq(kept->rule_count, compiled->rule_count);
	cr_assert_eq(kept->db_count, compiled->db_count);
	for (size_t i = 0; i < kept->rule_count; i++)
		cr_assert_str_eq(kept->rules[i].id, compiled->rules[i].id);
	sluice_pack_free(compiled);
	sluice_pack_free(kept);
	free(rules);
	ts_rmtree(cache);
	free(cache);
}

Test(pack_cache, rule_files_outside_the_source_tree_are_compiled_every_time)
{
	char *cache = ts_make_tmpdir("pack-cache");
	char *dir = ts_make_tmpdir("pack-cache-rules");
	cr_assert_eq(setenv("SLUICE_TEST_PACK_CACHE", cache, 1), 0);
	char path[4096];
	snprintf(path, sizeof(path), "%s/rules.yaml", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(
	    "name: outside\nversion: \"1\"\nrules:\n  - id: phone\n    pattern: '1[3-9][0-9]{9}'\n"
	    "    action: flag\n    category: contact\n",
	    f);
	fclose(f);

	struct sluice_pack *a = load(path), *b = load(path);
	cr_assert_gt(a->compile_ms, 0);
	cr_assert_gt(b->compile_ms, 0, "a test's own rule file may change: never kept");
	cr_assert_eq(files_in(cache), 0);
	sluice_pack_free(a);
	sluice_pack_free(b);
	ts_rmtree(dir);
	ts_rmtree(cache);
	free(dir);
	free(cache);
}

Test(pack_cache, without_a_cache_directory_every_load_compiles)
{
	cr_assert_eq(unsetenv("SLUICE_TEST_PACK_CACHE"), 0);
	char *rules = ts_source_path("patterns/rules/flag-phones.yaml");
	struct sluice_pack *a = load(rules), *b = load(rules);
	cr_assert_gt(a->compile_ms, 0);
	cr_assert_gt(b->compile_ms, 0);
	cr_assert_str_eq(a->sha256_hex, b->sha256_hex);
	sluice_pack_free(a);
	sluice_pack_free(b);
	free(rules);
}
