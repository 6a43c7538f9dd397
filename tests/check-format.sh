#!/usr/bin/env bash
# Every C file follows .clang-format. Reported as one TAP test so it counts in
# the suite's summary; the diff says what to change (run clang-format -i FILE).
set -uo pipefail
root=${SLUICE_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 1
echo "1..1"
mapfile -t files < <(find patterns dataplane control bench tests -name '*.[ch]' | sort)
out=$(clang-format --dry-run --Werror "${files[@]}" 2>&1)
if [[ -z $out ]]; then
	echo "ok 1 - ${#files[@]} C files follow .clang-format"
else
	echo "not ok 1 - files differ from .clang-format"
	printf '%s\n' "$out" | head -n 40 | sed 's/^/# /'
fi
