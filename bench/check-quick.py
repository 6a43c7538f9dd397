#!/usr/bin/env python3
"""check-quick.py: the benchmark harness as a smoke test (CI runs it).

  bench/check-quick.py OUT/results.json
  bench/check-quick.py --run [--build DIR] [--keep] [-- RUN_BENCH_ARGS...]

Contract: checks that every stage a run asked for produced its numbers:
present, finite, and > 0 where the number is a rate, a count or a latency;
lost == 0 in the swap stage (the one correctness figure); every scale size
measured. It never checks a speed against a threshold: CI machines differ,
and a smoke test that fails on a slow runner teaches people to ignore it.
Prints TAP (one test per stage, setup and charts included), each failure
naming the stage and the figure, and a closing "# N passed, N failed" line.
With --run it first runs `bench/run-bench --quick --out TMPDIR` (its output
shown as TAP comments; arguments after `--` are passed on) and checks that
run; TMPDIR is removed when all passed,
unless --keep. Exit status 0 when every test passed, 1 otherwise, 2 usage.
Python 3 standard library only.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


class Checks:
    """The failures found for one stage, by path into results.json."""

    def __init__(self, name, obj):
        self.name = name
        self.obj = obj
        self.problems = []
        self.seen = []

    def get(self, *path):
        cur = self.obj
        for k in path:
            if isinstance(cur, dict) and k in cur:
                cur = cur[k]
            elif isinstance(cur, list) and isinstance(k, int) and 0 <= k < len(cur):
                cur = cur[k]
            else:
                return None
        return cur

    def number(self, *path, positive=True, equals=None, signed=False):
        v = self.get(*path)
        where = ".".join(str(p) for p in path)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
            self.problems.append(f"{where} is {json.dumps(v)}, not a number")
        elif signed:
            # A difference of two speeds: its sign would compare them.
            self.seen.append(f"{where}={v:.4g}")
        elif equals is not None and v != equals:
            self.problems.append(f"{where} is {v}, must be {equals}")
        elif equals is None and positive and v <= 0:
            self.problems.append(f"{where} is {v}, must be > 0")
        elif equals is None and not positive and v < 0:
            self.problems.append(f"{where} is {v}, must be >= 0")
        else:
            self.seen.append(f"{where}={v:.4g}" if isinstance(v, float) else f"{where}={v}")

    def status_ok(self, *path):
        st = self.get(*path, "status")
        if st != "ok":
            err = self.get(*path, "error")
            where = ".".join(str(p) for p in path) or self.name
            self.problems.append(f"{where}: status {json.dumps(st)}" + (f": {err}" if err else ""))
            return False
        return True


def check_setup(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    c.number("corpus", "text_stats", "messages")
    c.number("corpus", "pcap_stats", "packets")
    c.number("pack", "rules")
    if c.get("corpus", "from") == "capture":
        # What the user's capture holds is reported.
        for k in ("packets", "datagrams", "messages", "in_text_corpus"):
            c.number("corpus", "capture", k)
        c.number("corpus", "capture", "other_share", positive=False)


def check_scan(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    for sub in ("ceiling", "message", "batch", "pcre2"):
        f = c.get("figures", sub)
        if isinstance(f, dict) and "skipped" in f:
            c.problems.append(f"{sub}: skipped: {f['skipped']}")
            continue
        c.number("figures", sub, "msgs_per_s")
    c.number("figures", "ceiling", "ns_per_msg")
    for r in ("message_over_ceiling", "batch_over_ceiling", "batch_over_pcre2"):
        c.number("ratios", r)


def check_whole_path(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    runs = c.get("runs") or []
    if not runs:
        c.problems.append("no run")
    for i, _ in enumerate(runs):
        if not c.status_ok("runs", i):
            continue
        for k in ("msgs_per_s", "text_gbit_per_s", "wire_gbit_per_s", "packets_per_s"):
            c.number("runs", i, k)
        if c.get("ceiling_msgs_per_s") is not None:
            c.number("runs", i, "per_worker_over_ceiling")


def check_packet_path(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    if not c.get("rounds"):
        c.problems.append("no round")
    for k in ("never", "never_raw", "light"):
        c.number("packets_per_s", k)
    for k in ("light", "light_batch"):
        c.number("msgs_per_s", k)
    c.number("ratios", "light_over_batch")
    for k in ("never", "never_raw", "light"):
        c.number("added_ns", f"{k}_own_ns_per_packet")
    if c.get("testpmd"):
        c.number("packets_per_s", "testpmd")
        c.number("ratios", "never_over_testpmd")
        c.number("ratios", "light_over_batch_ceiling")
    if c.get("testpmd_cached_packets"):  # a capture larger than the cached one
        c.number("packets_per_s", "testpmd_cached")
    c.number("light_events", "dropped", positive=False)


def check_streams(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    for k in ("udp", "ws", "ws_json", "ws_split", "ws_port_checked"):
        c.number("burst_code", k, "msgs_per_s")
    c.number("burst_code", "ws_port_checked", "saved_ns_per_msg", signed=True)
    c.number("burst_code", "ws", "ratio_to_udp")
    c.number("burst_code", "flow_table", "bytes_per_flow")
    for k in ("udp_msgs_per_s", "ws_msgs_per_s", "ratio", "udp_never_msgs_per_s",
              "ws_never_msgs_per_s", "ratio_never"):
        c.number("ports", k)
    c.number("ports", "ws_added_ns_per_msg", signed=True)


def check_evasion(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    trans = c.get("recall", "transformations") or {}
    if not trans:
        c.problems.append("recall.transformations is empty")
    for kind in trans:
        c.number("recall", "transformations", kind, "messages")
        for k in ("recall_before", "recall_after"):
            c.number("recall", "transformations", kind, k, positive=False)
    c.number("recall", "false_positives", "messages")
    for k in ("share_before", "share_after"):
        c.number("recall", "false_positives", k, positive=False)
    if c.get("cost", "skipped") is None:
        for k in ("ascii", "other"):
            if c.get("cost", k, "messages"):
                c.number("cost", k, "both_over_scan")


def check_events(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    c.number("program_output", "sink", "events_per_s")
    c.number("program_output", "sink", "written")
    c.number("program_output", "sink", "write_errors", equals=0)
    c.number("program_output", "stateless_format", "events_per_s")


def check_kernel(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    for run in ("io_only", "scan"):
        c.number("figures", run, "msgs_per_s")
        c.number("figures", run, "gbit_per_s")
        c.number("figures", run, "lost", positive=False)


def check_latency(c, results):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    c.number("max", "pkts_per_s")
    rates = c.get("rates") or []
    want = len(results.get("config", {}).get("latency_fractions") or [0.5, 0.9])
    if len(rates) != want:
        c.problems.append(f"{len(rates)} paced runs, expected {want}")
    for i, _ in enumerate(rates):
        if not c.status_ok("rates", i):
            continue
        for p in ("p50", "p99", "p999"):
            c.number("rates", i, "latency_us", p)
        c.number("rates", i, "latency_us", "samples")
        c.number("rates", i, "lost", positive=False)
        hist = c.get("rates", i, "histogram")
        if not hist or not os.path.isfile(hist) or os.path.getsize(hist) == 0:
            c.problems.append(f"rates.{i}.histogram: no file at {hist}")


def check_swap(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    c.number("msgs_per_s")
    c.number("reloads")
    c.number("lost", equals=0)
    c.number("worst_stall_ms", positive=False)


def check_soak(c):
    """Run only when asked for (--stages soak): its own checks are the figures
    that matter, so a failed one is named."""
    if not c.status_ok():
        return  # the error names the soak's failed checks
    for chk in c.get("checks") or []:
        if chk.get("ok") is not True:
            c.problems.append(f"check {chk.get('name')}: {chk.get('detail')}")
    c.number("traffic", "messages")
    c.number("reloads", "done")
    c.number("collector", "messages_wrong", equals=0)
    c.number("collector", "lost", equals=0)
    c.number("operator", "latency_ms", "max")


def check_scale(c, results):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    entries = c.get("entries") or []
    sizes = results.get("config", {}).get("scale_sizes") or []
    for kind in ("literal", "regex"):
        for n in sizes:
            idx = [i for i, e in enumerate(entries) if e.get("kind") == kind and e.get("rules") == n]
            if not idx:
                c.problems.append(f"{kind} {n}: missing")
                continue
            i = idx[0]
            if entries[i].get("status") == "not_measured":
                c.problems.append(f"{kind} {n}: {entries[i].get('reason')}")
                continue
            if not c.status_ok("entries", i):
                continue
            for k in ("compile_s", "pack_bytes", "msgs_per_s"):
                c.number("entries", i, k)


def check_charts(c):
    if not c.status_ok():
        return  # the error says why; its figures would only repeat it
    for f in c.get("files") or []:
        if not os.path.isfile(f) or os.path.getsize(f) == 0:
            c.problems.append(f"chart {f} missing or empty")
        else:
            c.seen.append(os.path.basename(f))
    if not c.get("files"):
        c.problems.append("no chart written")


def check(results):
    """[(name, Checks)] in run order: setup, the requested stages, charts."""
    cfg = results.get("config", {})
    out = [("setup", Checks("setup", results.get("setup") or {}))]
    check_setup(out[0][1])
    stages = results.get("stages", {})
    for name in cfg.get("stages") or []:
        c = Checks(name, stages.get(name) or {})
        if name not in stages:
            c.problems.append("stage did not run (run interrupted, or setup failed)")
        else:
            fn = {"scan": check_scan, "whole_path": check_whole_path,
                  "packet_path": check_packet_path, "streams": check_streams,
                  "evasion": check_evasion, "events": check_events, "kernel": check_kernel,
                  "latency": lambda c: check_latency(c, results), "swap": check_swap,
                  "scale": lambda c: check_scale(c, results), "soak": check_soak}[name]
            fn(c)
        out.append((name, c))
    if "charts" in results:
        c = Checks("charts", results["charts"])
        check_charts(c)
        out.append(("charts", c))
    return out


def tap(checks):
    print(f"1..{len(checks)}")
    failed = 0
    for i, (name, c) in enumerate(checks, 1):
        if c.problems:
            failed += 1
            print(f"not ok {i} - {name}: {c.problems[0]}")
            for p in c.problems[1:]:
                print(f"# {name}: {p}")
            tail = c.get("stderr_tail")
            if tail:
                for line in str(tail).splitlines()[-10:]:
                    print(f"# {name} stderr: {line}")
        else:
            shown = ", ".join(c.seen[:4]) + (", ..." if len(c.seen) > 4 else "")
            what = "files" if name == "charts" else "figures"
            print(f"ok {i} - {name}: {len(c.seen)} {what} ({shown})")
    print(f"# {len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_bench(build, out, extra):
    argv = [sys.executable, str(HERE / "run-bench"), "--quick", "--out", str(out)]
    if build:
        argv += ["--build", str(build)]
    argv += extra
    print("# $ " + " ".join(argv), flush=True)
    # The table and progress become TAP comments; the limit keeps a hung
    # stage from outliving the test (run-bench bounds each stage itself).
    try:
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=280)
        text, rc = r.stdout.decode("utf-8", "replace"), r.returncode
    except subprocess.TimeoutExpired as e:
        text, rc = (e.stdout or b"").decode("utf-8", "replace"), "timeout (280 s)"
    for line in text.splitlines():
        print("# " + line)
    print(f"# run-bench exit status: {rc}", flush=True)


def main():
    ap = argparse.ArgumentParser(description="Checks a --quick benchmark run produced every number.")
    ap.add_argument("results", nargs="?", help="results.json of a run")
    ap.add_argument("--run", action="store_true", help="run bench/run-bench --quick first")
    ap.add_argument("--build", help="build directory for --run (default: run-bench's)")
    ap.add_argument("--keep", action="store_true", help="with --run, keep the output directory")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = ap.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    if bool(args.results) == args.run:
        ap.error("give RESULTS.json or --run")
    tmp = None
    if args.run:
        tmp = Path(tempfile.mkdtemp(prefix="sluice-bench-quick-"))
        run_bench(args.build, tmp, extra)
        path = tmp / "results.json"
    else:
        path = Path(args.results)
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print("1..1")
        print(f"not ok 1 - results: cannot read {path}: {e}")
        print("# 0 passed, 1 failed")
        return 1
    rc = tap(check(results))
    if tmp:
        if rc == 0 and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"# output kept in {tmp}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
