#!/usr/bin/env bash
# Installs the Debian 12 packages that Sluice's build, tests, demo and benchmarks
# need. Safe to run again: when everything is already installed it does not touch
# apt at all, so CI and container builds can call it unconditionally.
#
# usage: deploy/install-deps.sh [EXTRA_PACKAGE...]    (as root)
set -euo pipefail

packages=(
	# build
	build-essential pkg-config meson ninja-build
	libdpdk-dev libhyperscan-dev liburcu-dev libjemalloc-dev libyaml-dev libssl-dev
	libpcap-dev
	# the /metrics endpoint (--metrics-listen) is served with libmicrohttpd
	libmicrohttpd-dev
	# pack compilation: Unicode's data for the folding tables (Unihan's is
	# bzip2-compressed), and ICU's spoof checker for look-alikes
	unicode-data libbz2-dev libicu-dev
	# tests (clang-format checks the style; clang and its runtime libraries,
	# which --no-install-recommends leaves out, build the libFuzzer harnesses)
	libcriterion-dev clang-format clang libclang-rt-14-dev
	# tests: the tap PMD, a port that verifies TCP checksums (libdpdk-dev
	# pulls it in; named for the test that needs it)
	librte-net-tap23
	# tests: real WebSocket server and clients (python websockets, node ws);
	# the evasion corpus generator reads the packs' YAML
	python3-websockets node-ws python3-yaml
	# tests: a real Prometheus server scrapes the daemon's /metrics; curl
	# scrapes it over TLS with a certificate openssl makes
	prometheus curl openssl
	# running: dpdk-devbind.py and dpdk-hugepages.py; ip and ethtool for
	# af_packet interfaces (the netns test's veths) and for tuning real NICs;
	# tcpdump to look at captures in and out (docs/operations.md)
	dpdk iproute2 ethtool tcpdump
	# events to NATS JetStream: the C client to build with, the server for
	# the bus tests and the bench (and for trying it out on one machine)
	libnats-dev nats-server
	# benchmarks: dpdk-testpmd, the PMD-only baseline of the whole path
	dpdk-dev
	# benchmarks: the corpus sluice-gen reads, and the report scripts
	fortunes fortunes-zh python3
	# benchmarks: the PCRE2 baseline and the charts
	libpcre2-dev gnuplot-nox
)
packages+=("$@")

say() { printf 'install-deps: %s\n' "$*"; }

if [[ ${EUID} -ne 0 ]]; then
	say "needs root to install packages; run: sudo $0 $*" >&2
	exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Abbrev}' "${pkg}" 2>/dev/null || true)
	if [[ ${status} != ii* ]]; then
		missing+=("${pkg}")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	say "all ${#packages[@]} packages already installed; nothing to do"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
say "missing: ${missing[*]}"
say "running apt-get update"
apt-get update -q
# Hyperscan needs x86-64 (SSSE3 at least): on other machines libhyperscan-dev has
# no candidate and apt stops here, naming it.
say "running apt-get install -y --no-install-recommends ${missing[*]}"
apt-get install -y -q --no-install-recommends \
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
	"${missing[@]}"
say "done: installed ${#missing[@]} of ${#packages[@]} packages"
