#!/usr/bin/env bash
# The main job on an embedded default: installs what is missing, builds, makes a
# sample of chat traffic from Debian's fortunes (seeded, so every machine gets the
# same bytes), and replays it through sluice on virtual ports with the bundled
# rules. Ends with sluice's summary and where everything went.
#
# usage: sudo deploy/demo.sh [--count N] [--seed N] [--violations PCT]
#        (tests/readme-demo.sh also passes --build DIR --out DIR --no-install:
#        the test command has installed, and built DIR)
set -euo pipefail

count=20000
seed=7
violations=10
build=build
out=
install=1
while [[ $# -gt 0 ]]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--no-install) install=0; shift ;;
	--count) count=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--violations) violations=$2; shift 2 ;;
	-h | --help) sed -n '2,8p' "$0"; exit 0 ;;
	*) echo "demo: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if ((install)); then
	deploy/install-deps.sh
fi
if [[ ! -f $build/build.ninja ]]; then
	meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" >/dev/null

out=${out:-"$repo/out/demo"}
rm -rf "$out"
mkdir -p "$out"
echo "demo: generating $count packets of chat traffic (seed $seed, $violations% violations)"
"$build"/dataplane/sluice-gen -o "$out/traffic.pcap" --count "$count" --seed "$seed" \
	--violations "$violations" --text-out "$out/messages.txt"
"$build"/dataplane/sluice-gen -o "$out/empty.pcap" --count 0 2>/dev/null
echo "demo: compiling the bundled rules"
"$build"/patterns/sluice-pack compile patterns/rules/default.yaml -o "$out/default.pack"

# One control lcore and one worker; on a single-CPU machine both share CPU 0.
worker_cpu=$(($(nproc) > 1 ? 1 : 0))
echo "demo: replaying through sluice (net_pcap ports A <-> B, offline mode)"
"$build"/dataplane/sluice --no-huge -m 512 --lcores "0@0,1@${worker_cpu}" --no-shconf \
	--file-prefix sluice-demo --no-pci --log-level '*:warning' \
	--vdev "net_pcap0,rx_pcap=$out/traffic.pcap,tx_pcap=$out/out-b-to-a.pcap" \
	--vdev "net_pcap1,rx_pcap=$out/empty.pcap,tx_pcap=$out/out-a-to-b.pcap" -- \
	--rules "$out/default.pack" --offline --idle-ms 300 --control-socket none \
	--events "$out/events.jsonl" --summary "$out/summary.json"

cat <<MSG

Where things went ($out):
  traffic.pcap      the generated input (side A)
  out-a-to-b.pcap   what sluice sent on to side B, verdicts applied
  events.jsonl      one JSON line per rule match or bad input ($(wc -l <"$out/events.jsonl") lines)
  summary.json      every counter, for machines
  messages.txt      the messages' text by msg_id
First events:
MSG
head -n 3 "$out/events.jsonl" | sed 's/^/  /'
