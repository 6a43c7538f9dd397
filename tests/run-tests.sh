#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing,
# builds, runs every test (unit tests in parallel, integration tests one at a
# time since they share the two cores; the benchmark smoke test, bench/run-bench
# --quick, among them), then all of them again (but the compile-heavy
# default-pack suite, the style check and the benchmark smoke test, which only
# measures) under ASan and UBSan, then the libFuzzer harnesses (clang, ASan and
# UBSan; a short run of each from its seeds, tests/fuzz/README.md). Ends with
# one line: "N passed, N failed".
#
# usage: sudo tests/run-tests.sh       (root: the network test creates namespaces)
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
deploy/install-deps.sh || exit 1

build() {
	local dir=$1
	shift
	if [[ ! -f $dir/build.ninja ]]; then
		meson setup "$dir" "$@" >/dev/null || return 1
	else
		meson setup --reconfigure "$dir" "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >/dev/null || ninja -C "$dir"
}

# The 100,000-title copyright list is generated, not committed (deterministic).
mkdir -p patterns/packs/lists/generated
if [[ ! -s patterns/packs/lists/generated/titles-100k.txt ]]; then
	sh patterns/packs/tools/gen-titles.sh 100000 >patterns/packs/lists/generated/titles-100k.txt
fi

# Rule files the tests use as fixtures are compiled once per run
# (tests/support/pack_cache.h): Hyperscan's compiler is slow under ASan.
SLUICE_TEST_PACK_CACHE=$(mktemp -d /tmp/sluice-pack-cache.XXXXXX) || exit 1
export SLUICE_TEST_PACK_CACHE
trap 'rm -rf "$SLUICE_TEST_PACK_CACHE"' EXIT

status=0
logs=()
broken=() # builds that failed: each counts as a failure in the closing line
# The main build is the release build deploy/demo.sh makes and the benchmarks
# measure: -O3 warns (as errors) where -O2 does not.
if build build --buildtype=release; then
	meson test -C build --print-errorlogs --num-processes 2 || status=1
	logs+=(build/meson-logs/testlog.json)
else
	echo "run-tests: build failed"
	broken+=(--broken "main build")
	status=1
fi

# Sanitizers: the libc allocator (not jemalloc) so ASan sees every allocation.
if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Djemalloc=false; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --no-suite lint --no-suite packs --no-suite bench --no-suite demo --print-errorlogs --num-processes 2 || status=1
	logs+=(build-asan/meson-logs/testlog.json)
else
	echo "run-tests: sanitizer build failed"
	broken+=(--broken "sanitizer build")
	status=1
fi

# Fuzzing: every library coverage-instrumented by clang, each harness run for
# 15 s (tests/fuzz/meson.build; the suite's 25-minute budget), two at a time.
if CC=clang build build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined \
	-Db_lundef=false -Djemalloc=false; then
	meson test -C build-fuzz --suite fuzz --print-errorlogs --num-processes 2 || status=1
	logs+=(build-fuzz/meson-logs/testlog.json)
else
	echo "run-tests: fuzz build failed"
	broken+=(--broken "fuzz build")
	status=1
fi

python3 tests/tap-summary.py "${broken[@]}" "${logs[@]}" || status=1
exit $status
