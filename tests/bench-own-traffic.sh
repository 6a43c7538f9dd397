#!/usr/bin/env bash
# run-bench on the user's own traffic and pack (issue 12), with a rule file
# without any `matches:` example:
#   capture: a capture that is not run-bench's (another seed, corpus and
#            message port), --capture --udp-port; scan and whole_path stages;
#   text:    messages of the user's, --text (and the default 10% violations,
#            which a pack without examples cannot have: a warning); scan.
# bench/check-quick.py --run checks that every stage gave a number and, for a
# capture, that the report says what it holds. TAP from check-quick.
set -euo pipefail
mode=${1:?usage: bench-own-traffic.sh capture|text}
root=${SLUICE_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
build=${SLUICE_BUILD_ROOT:-$root/build}
work=$(mktemp -d /tmp/sluice-own-traffic-XXXXXX)
trap 'rm -rf "$work"' EXIT
# A capture of someone else's making: another seed, another corpus, more
# other traffic, and a message port that is not the default.
"$build/dataplane/sluice-gen" -o "$work/mine.pcap" -s 99 -n 3000 --frames 1-2 \
	--corpus "$root/bench/data/chat-sample.txt" --other-share 20 --udp-port 9000 >/dev/null 2>&1
cat >"$work/mine.yaml" <<'RULES'
name: mine
rules:
  - id: phone
    category: contact
    action: mask
    pattern: '1[3-9]\d{9}'
  - id: casino
    category: gambling
    action: block
    literal: casino
    flags: [caseless]
RULES
if [[ $mode == capture ]]; then
	/usr/bin/python3 "$root/bench/check-quick.py" --run --build "$build" -- \
		--stages scan,whole_path --no-charts --capture "$work/mine.pcap" --udp-port 9000 \
		--pack "$work/mine.yaml"
else
	/usr/bin/python3 "$root/bench/check-quick.py" --run --build "$build" -- \
		--stages scan --no-charts --text "$root/bench/data/chat-sample.txt" \
		--pack "$work/mine.yaml"
fi
