#!/usr/bin/env bash
# The README's first command, deploy/demo.sh, on the build under test (its
# install step is the test command's own): it must run to the end and leave
# what it says it leaves. A release build that did not compile once broke it
# unnoticed; this keeps it true at every commit. TAP.
#   1 demo.sh exits 0
#   2 the summary counts every generated packet in, and every one out or removed
#   3 the capture sent on holds exactly the packets the summary says went out
#   4 events.jsonl holds one line per event the summary says was written, and
#     matches of named rules with their verdicts among them
set -uo pipefail
root=${SLUICE_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
build=${SLUICE_BUILD_ROOT:-$root/build}
work=$(mktemp -d /tmp/sluice-readme-demo-XXXXXX)
trap 'rm -rf "$work"' EXIT
count=3000

echo "1..4"
if "$root/deploy/demo.sh" --build "$build" --out "$work/demo" --no-install --count "$count" \
	>"$work/demo.log" 2>&1; then
	echo "ok 1 demo.sh exits 0"
else
	echo "not ok 1 demo.sh exits 0"
	sed 's/^/# /' "$work/demo.log" | tail -30
	for n in 2 3 4; do echo "not ok $n (demo failed)"; done
	exit 0
fi
# Not exec: the trap removes the work directory when the shell exits.
/usr/bin/python3 - "$work/demo" "$count" <<'PY'
import json, struct, sys
out, count = sys.argv[1], int(sys.argv[2])
with open(f"{out}/summary.json") as f:
    s = json.load(f)
t = s["stats"]["total"]
rx, tx = t["rx_packets"]["a"], t["tx_packets"]["b"]
gone = t["datagrams_removed"] + t["datagrams_dropped_bad"]
ok = rx == count and tx + gone == rx and tx > 0
print(("ok" if ok else "not ok") + f" 2 summary: {rx} of {count} packets in, {tx} out, {gone} removed or dropped")
with open(f"{out}/out-a-to-b.pcap", "rb") as f:
    data = f.read()
packets, at = 0, 24
while at + 16 <= len(data):
    incl = struct.unpack_from("<I", data, at + 8)[0]
    at += 16 + incl
    packets += 1
ok = packets == tx and at == len(data)
print(("ok" if ok else "not ok") + f" 3 out-a-to-b.pcap holds {packets} packets, the summary {tx}")
with open(f"{out}/events.jsonl") as f:
    lines = [json.loads(line) for line in f]
written = s["events_written"]
matches = [e for e in lines if e.get("event") == "match"]
ok = len(lines) == written and matches and all(e.get("rule") and e.get("verdict") for e in matches)
print(("ok" if ok else "not ok") + f" 4 events.jsonl: {len(lines)} lines ({len(matches)} matches), {written} written")
PY
