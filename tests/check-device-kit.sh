#!/usr/bin/env bash
# The kit for a lent machine (bench/device/make-kit, run-on-device): made
# from this build, it runs the whole path on a machine without DPDK's
# drivers (a mount namespace hides this one's), loads nothing from outside
# itself, cleans up after itself, and refuses what it cannot use, each with
# its own message, and refuses a machine with DPDK of its own. Needs root
# (mount namespace, DPDK). TAP.
set -uo pipefail
root=${SLUICE_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
build=${SLUICE_BUILD_ROOT:-$root/build}
make_kit=$root/bench/device/make-kit
run_on_device=$root/bench/device/run-on-device

echo "1..11"
if [ "$(id -u)" != 0 ]; then
	for i in $(seq 11); do echo "ok $i # SKIP needs root (mount namespace, DPDK)"; done
	exit 0
fi

work=$(mktemp -d /tmp/sluice-device-kit-XXXXXX)
# Not under /tmp: EAL refuses drivers below a directory others may write to.
kit_root=/var/lib/sluice-device-test-$$
trap 'rm -rf "$work" "$kit_root"' EXIT
n=0
check() { # $1: 0 when it holds; $2: what
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}
say() { sed 's/^/# /' <<<"$1" | tail -20; }

# DPDK's driver directory, hidden: the machine the kit is for has none.
pmd_dir=$(strings -a "$(ldd "$build/dataplane/sluice" | awk '$1 ~ /^librte_eal/ {print $3}')" |
	grep -oE '^/[^ ]*/pmds-[0-9.]+$' | sort -u)
bare() { # runs "$@" where pmd_dir's parent is empty
	unshare -m bash -c 'mount -t tmpfs -o mode=0755 none "$1" && shift && "$@"' \
		_ "$(dirname "$pmd_dir")" "$@"
}

# 1. The kit.
log=$("$make_kit" --build "$build" --out "$work/made" --packets 3000 --no-archive 2>&1)
rc=$?
kit=$work/made/kit
links=$(find "$kit/pmds" -name '*.so' -type l 2>/dev/null | wc -l)
# The nine Sluice programs, and dpdk-testpmd where Debian's is installed.
programs=$(sed -n "s/^Checked to load only the kit's libraries: //p" "$kit/KIT.txt" 2>/dev/null | wc -w)
[ $rc = 0 ] && [ "$links" = 5 ] && [ "$programs" -ge 9 ] && [ -f "$kit/corpus.pcap" ]
check $? "make-kit: 5 drivers, $programs programs checked to load only the kit's libraries, the corpus"
[ $rc = 0 ] || say "$log"

# 2. The whole path through the kit where DPDK has no drivers.
out=$work/out
log=$(SLUICE_KIT_ROOT=$kit_root bare "$run_on_device" --kit "$kit" --out "$out" \
	--stages whole_path,latency --workers 1 -- --quick 2>&1)
rc=$?
rate=$(/usr/bin/python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
wp = d["stages"]["whole_path"]
print(min(r["msgs_per_s"] for r in wp["runs"]) if wp["status"] == "ok" else 0)' \
	"$out/results.json" 2>/dev/null || echo 0)
files=$(ls "$out" 2>/dev/null | tr '\n' ' ')
[ $rc = 0 ] && grep -q "drivers from the kit in $pmd_dir" <<<"$log" &&
	grep -q "preflight: the daemon replayed the kit's capture with the kit's" <<<"$log" &&
	[ "${rate%.*}" -gt 0 ] &&
	[ "$files" = "KIT.txt hist-50.txt hist-90.txt machine.txt results.json run.log table.txt " ]
check $? "run-on-device: preflight, then the whole path at ${rate%.*} messages/s on the kit's drivers, and latency; OUT has $files"
[ $rc = 0 ] || say "$log"

# 2b. Its charts, drawn here (the lent machine has no gnuplot).
log=$("$root/bench/run-bench" --build "$build" --charts-from "$out/results.json" 2>&1)
rc=$?
[ $rc = 0 ] && [ -s "$out/charts/workers.png" ] && [ -s "$out/charts/latency.png" ]
check $? "run-bench --charts-from the kit's results: workers.png and latency.png beside them (rc $rc)"
[ $rc = 0 ] || say "$log"
log=$("$root/bench/run-bench" --charts-from "$work/no-results.json" 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "charts-from $work/no-results.json: .*No such file" <<<"$log"
check $? "run-bench --charts-from a file that is not there: exit 2, said (rc $rc)"

# 3. Nothing left behind: the run's copy, and the driver directory it made
# (looked at in the same kind of namespace, after the run).
left=$(SLUICE_KIT_ROOT=$kit_root bare bash -c '"$1" --kit "$2" --out "$3" --stages events -- --quick \
	>/dev/null 2>&1; ls -d "$4" 2>/dev/null; ls -d "$5" 2>/dev/null' _ \
	"$run_on_device" "$kit" "$work/out3" "$kit_root" "$pmd_dir")
[ -z "$left" ]
check $? "run-on-device removes its copy of the kit, its root and the driver directory it made"
[ -z "$left" ] || say "$left"

# 4. No kit.
log=$(SLUICE_KIT_ROOT=$kit_root "$run_on_device" --kit "$work/none.tar.gz" 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "no kit at $work/none.tar.gz" <<<"$log"
check $? "no kit: exit 2, said (rc $rc)"

# 5. A directory that is not a kit.
mkdir -p "$work/notkit"
log=$(SLUICE_KIT_ROOT=$kit_root "$run_on_device" --kit "$work/notkit" 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "has no PMD_DIR: not made by bench/device/make-kit" <<<"$log"
check $? "not a kit: exit 2, said (rc $rc)"

# 6. A place others may write to.
log=$(SLUICE_KIT_ROOT=$work/root "$run_on_device" --kit "$kit" 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "/tmp is writable by others" <<<"$log"
check $? "kit root under /tmp: exit 2, said (rc $rc)"

# 7. A kit missing a library: this machine has it, the lent one would not.
cp -a "$kit" "$work/short"
rm "$work/short/lib/libhs.so.5"
log=$(SLUICE_KIT_ROOT=$kit_root bare "$run_on_device" --kit "$work/short" --stages events 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "loaded from outside the kit:.*libhs.so.5" <<<"$log"
check $? "a library missing from the kit: the preflight names it, exit 2 (rc $rc)"
[ $rc = 2 ] || say "$log"

# 8. make-kit from a build without the programs.
mkdir -p "$work/empty-build"
log=$("$make_kit" --build "$work/empty-build" --out "$work/made2" --no-archive 2>&1)
rc=$?
[ $rc = 1 ] && grep -q "dataplane/sluice is not built" <<<"$log"
check $? "make-kit from an empty build: exit 1, said (rc $rc)"

# 9. A machine with DPDK's own drivers, as this one outside the namespace.
log=$(SLUICE_KIT_ROOT=$kit_root "$run_on_device" --kit "$kit" --stages events 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "this machine has DPDK's drivers in $pmd_dir" <<<"$log"
check $? "a machine with DPDK's drivers: exit 2, said (rc $rc)"
