"""What one benchmark run is: its options, sizes, durations and paths.

Contract: Config is built once from run-bench's command line and then only
read, except for the paths the setup stage fills in (corpus, packs). Every
duration and size that differs between a full run and --quick is decided
here, so a reader sees both sets in one place and the README can quote them.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

# net_pcap serves at most 16 queues (RTE_PMD_PCAP_MAX_QUEUES), one per worker.
MAX_WORKERS = 16

STAGES = ["scan", "whole_path", "packet_path", "streams", "evasion", "events", "kernel", "latency", "swap",
          "scale"]
# Stages that run only when named in --stages: the soak takes ten minutes and
# judges endurance, not speed; events_bus and fleet need nats-server.
OPTIONAL_STAGES = ["soak", "events_bus", "fleet"]
STAGE_ALIASES = {"packet-path": "packet_path", "whole-path": "whole_path", "wholepath": "whole_path", "ceiling": "scan"}

# name -> path under the build directory
PROGRAMS = {
    "sluice-gen": "dataplane/sluice-gen",
    "sluice-pack": "patterns/sluice-pack",
    "sluice": "dataplane/sluice",
    "sluicectl": "control/sluicectl",
    "sluice-scan-bench": "bench/scan/sluice-scan-bench",
    "sluice-path-bench": "bench/path/sluice-path-bench",
    "sluice-kernel-bench": "bench/kernel/sluice-kernel-bench",
    "sluice-latency-bench": "bench/latency/sluice-latency-bench",
    "sluice-soak": "bench/soak/sluice-soak",
    "sluice-event-bus-bench": "bench/events_bus/sluice-event-bus-bench",
    "sluice-fleet-bench": "bench/fleet/sluice-fleet-bench",
    "sluice-stream-bench": "bench/streams/sluice-stream-bench",
    "sluice-norm-bench": "bench/evasion/sluice-norm-bench",
    "sluice-event-bench": "bench/events/sluice-event-bench",
}

# What each stage runs, checked before the stage starts.
STAGE_PROGRAMS = {
    "scan": ["sluice-scan-bench"],
    "whole_path": ["sluice", "sluicectl"],
    "packet_path": ["sluice", "sluicectl", "sluice-pack", "sluice-scan-bench"],
    "streams": ["sluice-stream-bench", "sluice", "sluicectl", "sluice-pack"],
    "evasion": ["sluice-pack", "sluice-norm-bench"],
    "events": ["sluice-event-bench"],
    "kernel": ["sluice-kernel-bench"],
    "latency": ["sluice-latency-bench"],
    "swap": ["sluice-latency-bench"],
    "scale": ["sluice-pack", "sluice-scan-bench"],
    "soak": ["sluice-soak"],
    "events_bus": ["sluice-event-bus-bench"],
    "fleet": ["sluice-fleet-bench", "sluice", "sluicectl", "sluice-pack"],
}
# What a stage runs when the build has it, and goes without otherwise (an
# older build, run-bench --build OLD): checked by the stage itself.
STAGE_OPTIONAL_PROGRAMS = {
    "packet_path": ["sluice-path-bench"],
}


def eal_memory(cfg, mem_mb):
    """EAL's memory arguments for a bench's DPDK process: hugepages the
    machine reserved (--hugepages), or ordinary pages (--no-huge)."""
    if cfg.hugepages:
        return ["--in-memory", "-m", mem_mb]
    return ["--no-huge", "-m", mem_mb, "--no-shconf"]


class Config:
    def __init__(self, args, repo):
        self.repo = Path(repo).resolve()
        self.quick = args.quick
        build = Path(args.build) if args.build else self.repo / "build"
        self.build = build.resolve()
        out = Path(args.out) if args.out else self.repo / "out" / "bench"
        self.out = out.resolve()
        self.argv = list(sys.argv)
        self.cwd = os.getcwd()
        self.started = time.time()

        self.cpus = sorted(os.sched_getaffinity(0))
        self.stages = parse_stages(args.stages)
        if args.workers:
            self.workers = parse_int_list(args.workers, "--workers")
            if max(self.workers) > MAX_WORKERS:
                raise SystemExit(f"run-bench: --workers: at most {MAX_WORKERS} (net_pcap's queue limit)")
        elif self.quick:
            self.workers = [1]
        else:
            # 1..N, N the CPUs this process may use (at least 2, so a 1-CPU
            # machine still shows what a second worker does to it).
            self.workers = list(range(1, max(2, min(len(self.cpus), MAX_WORKERS)) + 1))

        self.hugepages = getattr(args, "hugepages", False)
        self.setup_only = getattr(args, "setup_only", False)
        self.seed = args.seed
        self.packets = args.packets or (5000 if self.quick else 50000)
        self.frames = args.frames
        self.violations_pct = args.violations
        self.pack_rules = Path(args.pack).resolve() if args.pack else (
            self.repo / "patterns/packs/all.yaml")
        self.pack_b_rules = Path(args.pack_b).resolve() if args.pack_b else None
        # Bring your own traffic: a capture, or messages to cut a corpus from.
        self.capture = Path(args.capture).resolve() if args.capture else None
        self.text = Path(args.text).resolve() if args.text else None
        if self.capture and self.text:
            raise SystemExit("run-bench: --capture and --text: give one of them")
        self.udp_port = args.udp_port
        if not 1 <= self.udp_port <= 65535:
            raise SystemExit("run-bench: --udp-port: a port, 1 to 65535")

        # Whole path: seconds of traffic before the first stats sample, and
        # between the two samples that give the rate.
        self.dp_warmup_s = 1.0 if self.quick else 3.0
        self.dp_window_s = 2.0 if self.quick else 10.0
        self.kernel_seconds = 2.0 if self.quick else 10.0
        self.latency_max_seconds = 1.0 if self.quick else 5.0
        self.latency_seconds = 2.0 if self.quick else 10.0
        self.swap_seconds = args.swap_seconds or (3.0 if self.quick else 60.0)
        self.swap_every_ms = 100
        self.latency_fractions = [0.5, 0.9]
        self.soak_seconds = args.soak_seconds or (20.0 if self.quick else 600.0)

        if args.scale_sizes:
            self.scale_sizes = parse_int_list(args.scale_sizes, "--scale-sizes")
        else:
            self.scale_sizes = [100, 1000] if self.quick else [100, 1000, 10000, 100000]
        self.scale_timeout_s = args.scale_timeout or (60.0 if self.quick else 300.0)
        self.scan_timeout_s = 120.0 if self.quick else 900.0
        self.charts = not args.no_charts

        # Filled in by the setup stage (corpus.py).
        self.corpus_pcap = None
        self.corpus_txt = None
        self.pack_a = None  # compiled .pack
        self.pack_b = None
        self.pack_a_source = None  # what sluice-scan-bench is given (YAML when known)

        # Sockets and devargs want short paths without commas: a private
        # directory under /tmp holds the control sockets and links to the
        # corpus (removed at exit by run-bench).
        self.tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-", dir="/tmp"))
        self.verbose = args.verbose
        self._log_file = None

    def prog(self, name):
        return self.build / PROGRAMS[name]

    def missing_programs(self, names):
        return [str(self.prog(n)) for n in names if not os.access(self.prog(n), os.X_OK)]

    def open_log(self):
        self.out.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self.out / "run.log", "w", encoding="utf-8")

    def log(self, msg):
        """Commands and progress: always to OUT/run.log, to stderr with -v."""
        line = f"[{time.time() - self.started:7.1f}s] {msg}"
        if self._log_file:
            self._log_file.write(line + "\n")
            self._log_file.flush()
        if self.verbose:
            print(line, file=sys.stderr, flush=True)

    def say(self, msg):
        """Progress a person waiting at the terminal wants to see."""
        self.log(msg)
        if not self.verbose:
            print(f"run-bench: {msg}", file=sys.stderr, flush=True)


def parse_int_list(text, opt):
    """'1,2,4' or '1-4' (or a mix: '1-2,4')."""
    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo < 1 or hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                v = int(part)
                if v < 1:
                    raise ValueError
                out.append(v)
        except ValueError:
            raise SystemExit(f"run-bench: {opt} {text}: expected positive integers like 1,2,4 or 1-4")
    return sorted(set(out))


def parse_stages(text):
    if not text:
        return list(STAGES)
    known = STAGES + OPTIONAL_STAGES
    out = []
    for s in text.split(","):
        s = STAGE_ALIASES.get(s.strip(), s.strip())
        if s not in known:
            raise SystemExit(f"run-bench: --stages: unknown stage '{s}' (stages: {', '.join(known)})")
        if s not in out:
            out.append(s)
    return [s for s in known if s in out]
