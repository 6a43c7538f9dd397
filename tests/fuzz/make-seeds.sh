#!/usr/bin/env bash
# Regenerates the seed corpora of the libFuzzer harnesses, tests/fuzz/seeds/,
# from the project's own data: a capture sluice-gen writes (fixed seed, the
# bundled chat sample as its text, violations drawn from the fuzz packs'
# examples), packs sluice-pack compiles, the rule files under patterns/ and
# tests/data/, and request lines. The same tree gives the same files (packs
# carry the Hyperscan version and CPU features of the machine that compiled
# them; the harness re-derives what it needs at start-up). tests/fuzz/seeds.py
# does the cutting and writing; see tests/fuzz/README.md for each format.
#
# usage: tests/fuzz/make-seeds.sh [BUILD_DIR]   (default build-fuzz, else build)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-}
if [[ -z $build ]]; then
	build=$root/build-fuzz
	[[ -x $build/dataplane/sluice-gen ]] || build=$root/build
fi
gen=$build/dataplane/sluice-gen
pack=$build/patterns/sluice-pack
for program in "$gen" "$pack"; do
	if [[ ! -x $program ]]; then
		echo "make-seeds: $program is missing; build the tree first" >&2
		exit 1
	fi
done

work=$(mktemp -d /tmp/sluice-fuzz-seeds-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$root"

{
	"$pack" examples tests/fuzz/rules/main.yaml
	"$pack" examples tests/fuzz/rules/urgent.yaml
	printf '%s\n' 'casino royale night' 'card 1234-5678-9012-3456' '加我微信号 abc123' \
		'As an AI language model' 'test message' 'begin then end' '验证码123456' \
		'great livestream'
} >"$work/violations.txt"
"$gen" -o "$work/traffic.pcap" -s 8 -n 300 --frames 1-4 --violations 40 \
	--violations-from "$work/violations.txt" --corpus bench/data/chat-sample.txt \
	--ipv6-share 30 --vlan-share 20 --other-share 10 >/dev/null

# Packs without a folding table (normalize: none, through a wrapper that
# includes the rule file) keep the loader's seeds small; one pack with the
# table (about 320 KiB) covers format 4's table and views.
mkdir "$work/raw"
for rules in tests/fuzz/rules/urgent.yaml tests/data/cli/small.yaml tests/data/rules/minimal.yaml; do
	name=$(basename "$rules" .yaml)
	printf 'normalize: none\ninclude:\n  - %s\nrules: []\n' "$root/$rules" >"$work/raw/$name.yaml"
	"$pack" compile "$work/raw/$name.yaml" -o "$work/$name.pack" >/dev/null
done
"$pack" compile tests/data/rules/minimal.yaml -o "$work/minimal-folded.pack" >/dev/null

/usr/bin/python3 "$here/seeds.py" "$work" "$here/seeds" "$root"
echo "make-seeds: $(find "$here/seeds" -type f | wc -l) files, $(du -sh "$here/seeds" | cut -f1)"
