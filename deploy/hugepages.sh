#!/usr/bin/env bash
# Reserves 2 MiB hugepages for DPDK on every NUMA node and mounts hugetlbfs.
#
# Each node gets the same count because a worker's mbufs come from its own
# node's memory: a node without pages makes its ports fall back to remote memory
# or fail to start. Reserve early after boot (or with hugepages=N on the kernel
# command line): later, fragmented memory may yield fewer pages than asked,
# which this script reports.
#
# usage: deploy/hugepages.sh [N]        reserve N pages per node (default 1024)
#        deploy/hugepages.sh --release  give every 2 MiB page back
set -euo pipefail

readonly mountpoint=/dev/hugepages
readonly size_dir=hugepages-2048kB

usage() {
	sed -n '2,11s/^# \{0,1\}//p' "$0"
}

die() {
	printf 'hugepages: %s\n' "$*" >&2
	exit 1
}

pages=1024
release=false
case "${1:-}" in
-h | --help)
	usage
	exit 0
	;;
--release)
	release=true
	;;
'') ;;
*)
	[[ $1 =~ ^[0-9]+$ ]] || die "expected a page count or --release, got '$1' (see --help)"
	pages=$((10#$1))
	;;
esac
[[ $# -le 1 ]] || die "too many arguments (see --help)"

if [[ ${EUID} -ne 0 ]]; then
	die "reserving hugepages needs root (it writes to /sys and mounts hugetlbfs); run: sudo $0 $*"
fi

# Per-node counters where the kernel has NUMA support, else the global one.
counters=()
for f in /sys/devices/system/node/node[0-9]*/hugepages/"${size_dir}"/nr_hugepages; do
	[[ -e ${f} ]] && counters+=("${f}")
done
if [[ ${#counters[@]} -eq 0 ]]; then
	f=/sys/kernel/mm/hugepages/${size_dir}/nr_hugepages
	[[ -e ${f} ]] || die "this kernel has no 2 MiB hugepages (${f} missing)"
	counters+=("${f}")
fi

node_of() {
	local n=${1#/sys/devices/system/node/}
	if [[ ${n} == "$1" ]]; then
		printf 'all'
	else
		printf '%s' "${n%%/*}"
	fi
}

want=${pages}
${release} && want=0
for f in "${counters[@]}"; do
	printf 'hugepages: %s: setting %s 2 MiB pages\n' "$(node_of "${f}")" "${want}"
	echo "${want}" >"${f}" || die "cannot write ${f} (read-only /sys in a container?)"
done

short=false
for f in "${counters[@]}"; do
	got=$(<"${f}")
	free=$(<"${f%/nr_hugepages}/free_hugepages")
	printf 'hugepages: %s: %s reserved, %s free\n' "$(node_of "${f}")" "${got}" "${free}"
	if [[ ${got} -ne ${want} ]]; then
		short=true
	fi
done

if ! ${release}; then
	if awk -v m="${mountpoint}" '$2 == m && $3 == "hugetlbfs" { found = 1 } END { exit !found }' \
		/proc/mounts; then
		printf 'hugepages: hugetlbfs already mounted at %s\n' "${mountpoint}"
	else
		mkdir -p "${mountpoint}"
		mount -t hugetlbfs -o pagesize=2M nodev "${mountpoint}" ||
			die "cannot mount hugetlbfs at ${mountpoint}"
		printf 'hugepages: mounted hugetlbfs at %s\n' "${mountpoint}"
	fi
fi

grep -E '^(HugePages_Total|HugePages_Free|Hugepagesize)' /proc/meminfo |
	sed 's/^/hugepages: /'

# Why pages stay reserved after --release: a process that maps them, or files
# left in hugetlbfs by a DPDK process that exited (rtemap_* of each
# --file-prefix; DPDK removes them only on a clean cleanup), which hold pages
# as long as they exist.
explain_held() {
	local holders=() files=() mounts
	mapfile -t holders < <(grep -l -s -E ' (/dev/hugepages|.*hugetlbfs)|rtemap_' /proc/[0-9]*/maps |
		sed -E 's|/proc/([0-9]+)/maps|\1|' | sort -un)
	mapfile -t mounts < <(awk '$3 == "hugetlbfs" { print $2 }' /proc/mounts)
	for m in "${mounts[@]}"; do
		while IFS= read -r f; do files+=("${f}"); done < <(find "${m}" -maxdepth 1 -type f 2>/dev/null)
	done
	if [[ ${#holders[@]} -gt 0 ]]; then
		for p in "${holders[@]}"; do
			printf 'hugepages: process %s (%s) maps hugepages\n' "${p}" \
				"$(tr '\0' ' ' <"/proc/${p}/cmdline" 2>/dev/null | cut -c1-80)"
		done
		die "pages are still in use by the processes above; stop them and retry"
	fi
	if [[ ${#files[@]} -gt 0 ]]; then
		die "no process maps hugepages, but ${#files[@]} hugetlbfs file(s) hold them" \
			"(for example ${files[0]}), left by a DPDK process that exited;" \
			"remove them (rm ${files[0]%/*}/rtemap_*) and retry"
	fi
	die "some pages are still reserved and neither a process nor a hugetlbfs file" \
		"holds them; retry in a moment"
}

if ${short}; then
	if ${release}; then
		explain_held
	fi
	die "the kernel reserved fewer pages than asked (memory too fragmented or too small);" \
		"reserve at boot with hugepages=N on the kernel command line"
fi
