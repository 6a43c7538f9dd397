#!/usr/bin/env bash
# Runs one libFuzzer harness for a while from the committed seeds and reports
# the outcome as one TAP test (meson test --suite fuzz runs one per harness).
#
# usage: tests/fuzz/run-fuzz.sh HARNESS SECONDS [LIBFUZZER_FLAG...]
#   HARNESS  a harness binary, or its name (looked up in
#            $SLUICE_BUILD_ROOT/tests/fuzz, default build-fuzz/tests/fuzz)
#
# The seeds (tests/fuzz/seeds/NAME/) are copied into a fresh corpus under
# /tmp, so runs never write into the tree. Prints "1..1" and then
#   ok 1 - NAME: N runs, cov C, ft F, no crash
# or "not ok 1 - NAME: ..." with the path of the saved crashing input and the
# last 30 lines of libFuzzer's log as comments; exits 0 or 1. Crashing inputs
# (crash-*, leak-*, timeout-*, oom-*) are kept in $FUZZ_ARTIFACTS (default
# /tmp/sluice-fuzz-artifacts/NAME/); set FUZZ_KEEP_CORPUS=1 to keep the grown
# corpus and the whole log too (their directory is printed).
set -uo pipefail

if [[ $# -lt 2 ]]; then
	echo "usage: $0 HARNESS SECONDS [LIBFUZZER_FLAG...]" >&2
	exit 2
fi
harness=$1
seconds=$2
shift 2

here=$(cd "$(dirname "$0")" && pwd)
root=${SLUICE_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
if [[ $harness != */* ]]; then
	harness=${SLUICE_BUILD_ROOT:-$root/build-fuzz}/tests/fuzz/$harness
fi
name=$(basename "$harness")

echo "1..1"
if [[ ! -x $harness ]]; then
	echo "not ok 1 - $name: no harness at $harness (build with -Dfuzz=true)"
	exit 1
fi

work=$(mktemp -d "/tmp/sluice-fuzz-$name-XXXXXX")
corpus=$work/corpus
artifacts=${FUZZ_ARTIFACTS:-/tmp/sluice-fuzz-artifacts/$name}
mkdir -p "$corpus" "$artifacts"
if [[ -d $here/seeds/$name ]]; then
	cp -R "$here/seeds/$name/." "$corpus/"
fi
cleanup() {
	if [[ ${FUZZ_KEEP_CORPUS:-0} == 1 ]]; then
		echo "# corpus and fuzz.log kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

export SLUICE_SOURCE_ROOT=$root
export SLUICE_FUZZ_DIR=${SLUICE_FUZZ_DIR:-$here}
# The harnesses' own scratch directories go here too, so that one stopped by
# a crash (which skips its exit handlers) leaves nothing in /tmp.
export TMPDIR=$work
# UBSan findings must stop the run like ASan's, and leaks are findings too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

log=$work/fuzz.log
"$harness" "$corpus" \
	-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
	-print_final_stats=1 -artifact_prefix="$artifacts/" "$@" >"$log" 2>&1
rc=$?

# libFuzzer's last status line: "#N DONE cov: C ft: F corp: ..." (or the
# last "#N ... cov: ..." line before a crash).
stats=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
[[ -n $runs ]] || runs=$(sed -E -n 's/^#([0-9]+).*/\1/p' <<<"$stats")
cov=$(sed -E -n 's/.*cov: ([0-9]+).*/\1/p' <<<"$stats")
ft=$(sed -E -n 's/.*ft: ([0-9]+).*/\1/p' <<<"$stats")

speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
corp=$(sed -E -n 's/.*corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<<"$stats")
if [[ $rc -eq 0 ]]; then
	echo "ok 1 - $name: ${runs:-?} runs, cov ${cov:-?}, ft ${ft:-?}, no crash"
	echo "# ${speed:-?} exec/s, corpus ${corp:-?} (units/bytes), ${seconds} s"
	exit 0
fi
input=$(sed -E -n 's/.*Test unit written to (.*)$/\1/p' "$log" | tail -n 1)
echo "not ok 1 - $name: exit $rc after ${runs:-?} runs; input ${input:-not saved}"
echo "# reproduce: $harness ${input:-<input>}"
tail -n 30 "$log" | sed 's/^/# /'
exit 1
