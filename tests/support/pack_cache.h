/* Rule files compiled once per test run.
 *
 * Compiling a rule file costs seconds under ASan (Hyperscan's compiler
 * allocates heavily and the sanitizer's allocator is slow), and many tests
 * load a bundled rule file only as a fixture: the compiler has tests of its
 * own (pack, rule_language, default_packs). ts_pack_load_within() is
 * sluice_pack_load_within() for them, with one difference: when
 * SLUICE_TEST_PACK_CACHE names a directory (tests/run-tests.sh sets a fresh
 * one for each run) and the path is a rule file under the source tree, the
 * first load compiles it and writes the pack there, and later loads, in any
 * test process, read that pack back (the source tree is not edited while the
 * suite runs; the key also holds the file's size, mtime and contents). A pack
 * read back is the pack written: same rules, databases and hash; its
 * `source` is the rule file's path as for a compile, compile_ms is 0.
 *
 * Everything else (pack files, rule files the tests write, a trust given,
 * no cache directory) goes straight to sluice_pack_load_within(). */
#ifndef SLUICE_TESTS_PACK_CACHE_H
#define SLUICE_TESTS_PACK_CACHE_H

#include <stddef.h>

#include "pack.h"
#include "pack_sign.h"

int ts_pack_load_within(const char *path, const struct sluice_trust *trust,
			const struct sluice_load_limits *limits, struct sluice_pack **out,
			char *err, size_t err_len);

/* ts_pack_load_within(path, NULL, NULL, ...). */
int ts_pack_load(const char *path, struct sluice_pack **out, char *err, size_t err_len);

#endif
