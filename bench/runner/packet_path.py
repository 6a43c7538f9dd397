"""Stage packet_path: Sluice's packet path against the PMD alone (issue 12, goal 1).

Contract: on the corpus capture, the ports, the EAL options and the CPUs of
whole_path at 1 worker (net_pcap infinite_rx into net_null; main lcore on the
first CPU, the forwarding lcore on the second), rounds of, in this order:

  testpmd     dpdk-testpmd --forward-mode=io: the PMD's own cost (receive, the
              pcap PMD's copy into a fresh mbuf, transmit, free); Debian ships
              it in dpdk-dev
  never       sluice with bench/data/packs/never.yaml, a pack that never
              matches, normalising as every rule file does by default
  never_raw   the same rules with `normalize: none`: the packet path and a scan
              without folding
  light       sluice with bench/data/packs/light.yaml (2,634 caseless titles,
              three contact regexes), its events written to /dev/null
  light_batch sluice-scan-bench --stages batch with the light pack on the
              corpus' messages: the scan alone, one core, no packets
  own         sluice-path-bench with never, never_raw and light on the
              capture: Sluice's own nanoseconds per packet, the worker's
              burst code without DPDK (the copy a PMD makes timed apart and
              taken off); beside testpmd's whole nanoseconds per packet it
              says how the daemon's time splits, and never / testpmd reaches
              0.5 only when never's own time is at most testpmd's

  testpmd_cached  testpmd again on the capture's first CACHED_PACKETS packets
              (when it has more): net_pcap keeps each packet of a capture in an
              mbuf and copies it out for every receive, and a capture of
              50,000 packets (120 MiB of mbufs) is read from memory where one
              of 10,000 stays in cache; the difference is what testpmd's
              packet spends on that memory, which a NIC's DMA does not

Each round's ratios (never / testpmd and never_raw / testpmd in packets/s;
light / light_batch in messages/s) are taken within the round, so a machine
that speeds up or slows down between rounds moves both sides; the figures are
the medians of the rounds. testpmd's rate is the median of its per-second
Rx-pps on the capture's port after the warm-up. The light runs also give the
events the sink wrote and dropped at full rate.

Without dpdk-testpmd the testpmd ratios are "not measured" and the rest runs.
"""
import itertools
import os
import re
import shutil
import signal
import statistics
import subprocess
import time

from . import proc
from .config import STAGE_OPTIONAL_PROGRAMS, eal_memory
from .corpus import compile_pack, pcap_records
from .proc import StageError
from .scan import run_scan_bench
from .whole_path import (corpus_pcap_link, placement, pool_and_memory, read_text,
                         remove_runtime_dir, run_one)

TESTPMD = "dpdk-testpmd"
# Packets of the capture whose mbufs stay in a server's L3 cache (10,000 of
# 2.5 KiB: 25 MiB): testpmd_cached's capture.
CACHED_PACKETS = 10000
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def testpmd_path():
    return shutil.which(TESTPMD) or (TESTPMD if os.access(f"/usr/bin/{TESTPMD}", os.X_OK) else None)


def rx_pps_of_port0(text):
    """Port 0's Rx-pps of each stats display, in order."""
    out = []
    for block in ANSI.sub("", text).split("NIC statistics for port ")[1:]:
        if not block.startswith("0 "):
            continue
        m = re.search(r"Rx-pps:\s+(\d+)", block)
        if m:
            out.append(int(m.group(1)))
    return out


def run_testpmd(cfg, pcap_link, outdir, tag):
    """dpdk-testpmd io forwarding for warm-up + window seconds; packets/s."""
    lcores, where = placement(cfg.cpus, 1)
    mbufs, mem_mb = pool_and_memory(cfg.packets, 1)
    prefix = f"benchtpm{tag}{os.getpid()}"
    argv = [testpmd_path(), *eal_memory(cfg, mem_mb), "--no-pci",
            "--file-prefix", prefix, "--lcores", lcores,
            "--vdev", f"net_pcap0,rx_pcap={pcap_link},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1", "--",
            "--forward-mode=io", f"--total-num-mbufs={mbufs}", "--nb-cores=1",
            "--stats-period", "1", "--auto-start"]
    argv = [str(a) for a in argv]
    log_path = outdir / f"testpmd-{tag}.log"
    cfg.log("$ " + " ".join(argv))
    seconds = cfg.dp_warmup_s + cfg.dp_window_s
    with open(log_path, "wb") as logf:
        child = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        # Its start (copying the capture into mbufs) is not in the window:
        # wait for the first display before counting seconds.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not rx_pps_of_port0(read_text(log_path)):
            if child.poll() is not None:
                raise StageError(f"dpdk-testpmd exited with status {child.returncode}",
                                 proc.tail(read_text(log_path)))
            time.sleep(0.2)
        # Then until the warm-up's and the window's displays are all there:
        # testpmd prints from its main lcore, which a busy machine can hold
        # back past a fixed sleep (the quick smoke run saw none after it).
        want = 1 + int(cfg.dp_warmup_s) + max(1, int(cfg.dp_window_s))
        deadline = time.monotonic() + 3 * seconds + 10
        time.sleep(seconds + 0.5)
        while (time.monotonic() < deadline and child.poll() is None
               and len(rx_pps_of_port0(read_text(log_path))) < want):
            time.sleep(0.2)
    finally:
        for sig in (signal.SIGINT, signal.SIGKILL):
            if child.poll() is None:
                try:
                    os.killpg(child.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    continue
        remove_runtime_dir(prefix)
    samples = rx_pps_of_port0(read_text(log_path))
    # The first display counts from the start; then one a second.
    window = samples[1 + int(cfg.dp_warmup_s):]
    if not window:
        raise StageError("dpdk-testpmd printed no rate after its warm-up",
                         proc.tail(read_text(log_path)))
    return {"packets_per_s": statistics.median(window), "samples": len(window),
            "lcores": lcores, "placement": where, "command": " ".join(argv),
            "log": str(log_path)}


def first_packets(src, n, dst):
    """Writes the first n packets of the classic pcap src (one the setup's
    pcap_stats() has read) to dst; returns False, writing nothing, when src
    has no more than n."""
    records = pcap_records(src, data=True)
    header = next(records)
    first = list(itertools.islice(records, n + 1))
    if len(first) <= n:
        return False
    with open(dst, "wb") as out:
        out.write(header)
        for rec, _, packet in first[:n]:
            out.write(rec + packet)
    return True


def make_packs(cfg, outdir):
    """Compiles never, never_raw and light into outdir; their paths."""
    data = cfg.repo / "bench" / "data" / "packs"
    never = (data / "never.yaml").read_text(encoding="utf-8")
    (outdir / "never.yaml").write_text(never, encoding="utf-8")
    raw = never.replace("\nrules:", "\nnormalize: none\nrules:", 1).replace(
        "name: bench-never", "name: bench-never-raw", 1)
    (outdir / "never-raw.yaml").write_text(raw, encoding="utf-8")
    shutil.copyfile(data / "light.yaml", outdir / "light.yaml")
    r = proc.run([cfg.repo / "patterns" / "packs" / "tools" / "gen-titles.sh", "2634"], 60,
                 log=cfg.log, stdout_path=outdir / "light-titles.txt")
    if r.rc != 0:
        raise StageError(f"gen-titles.sh: {r.why()}", r.stderr_tail(), r.command)
    packs = {}
    for name, src in (("never", "never.yaml"), ("never_raw", "never-raw.yaml"),
                      ("light", "light.yaml")):
        packs[name] = outdir / (src[:-5] + ".pack")
        compile_pack(cfg, outdir / src, packs[name])
    return packs


def sluice_run(cfg, pack, tag, pcap_link, outdir, mean_pkt):
    run = run_one(cfg, 1, "batch", mean_pkt, pcap_link, outdir, name=tag, pack=pack)
    if run.get("status") != "ok":
        raise StageError(f"{tag}: {run.get('error')}", run.get("stderr_tail"), run.get("command"))
    acc = run.get("accounting") or {}
    return {"packets_per_s": run["packets_per_s"], "msgs_per_s": run["msgs_per_s"],
            "cpu_share": run.get("min_worker_cpu_share"),
            "events_written_per_s": run.get("events_written_per_s"),
            "events_dropped": acc.get("events_dropped"), "command": run["command"]}


def run_own(cfg, pack, pcap_link):
    """sluice-path-bench's median own ns per packet for pack on the capture."""
    argv = [cfg.prog("sluice-path-bench"), "--pack", pack, "--capture", str(pcap_link),
            "--rounds", "1" if cfg.quick else "3", "--seconds", "0.3" if cfg.quick else "2",
            "--udp-port", str(cfg.udp_port)]
    obj, r = proc.run_json(argv, 120, log=cfg.log)
    own = (obj.get("own_ns_per_packet") or {}).get("median")
    if own is None:
        raise StageError("sluice-path-bench printed no own_ns_per_packet", r.stderr_tail(), r.command)
    return own


def added_ns(rnd):
    """What a round's ratios hide, in time: the never-matching pack's packet
    beyond testpmd's (what Sluice adds to the PMD), and the light pack's
    message beyond its batch scan (what the packet path adds to the scan). A
    faster scan lowers light / batch while the path's own cost stays the same;
    these do not move with it."""
    out = {}
    tp = (rnd.get("testpmd") or {}).get("packets_per_s")
    never = rnd["never"].get("packets_per_s")
    if tp and never:
        out["never_over_testpmd_ns_per_packet"] = 1e9 / never - 1e9 / tp
    light, batch = rnd["light"].get("msgs_per_s"), rnd["light_batch"].get("msgs_per_s")
    if light and batch:
        out["light_over_batch_ns_per_msg"] = 1e9 / light - 1e9 / batch
    tpc = (rnd.get("testpmd_cached") or {}).get("packets_per_s")
    if tp and tpc:
        out["testpmd_cached_ns_per_packet"] = 1e9 / tpc
        out["testpmd_memory_ns_per_packet"] = 1e9 / tp - 1e9 / tpc
    if tp:
        out["testpmd_ns_per_packet"] = 1e9 / tp
        # A message's share of the packets testpmd forwards (the capture's
        # other traffic included), as the never-matching run counted them.
        never_msgs = rnd["never"].get("msgs_per_s")
        if never and never_msgs:
            out["testpmd_ns_per_msg"] = 1e9 / tp * never / never_msgs
    for name, ns in (rnd.get("own") or {}).items():
        out[f"{name}_own_ns_per_packet"] = ns
    return out


def light_ceiling(rnd):
    """The most light / batch could be in this round: the batch scan's time
    a message plus testpmd's whole time for a message's packets (receiving
    them, the mbufs, sending them), as if Sluice's own handling of the packet
    (parsing, the burst loop, verdicts, events) cost nothing. The PMD's
    share of a message does not shrink when the scan gets faster, so on a
    faster CPU this ceiling falls; below 0.7 the target cannot be met there."""
    batch = (rnd.get("light_batch") or {}).get("msgs_per_s")
    pmd = (rnd.get("added_ns") or {}).get("testpmd_ns_per_msg")
    if not batch or not pmd:
        return None
    return (1e9 / batch) / (1e9 / batch + pmd)


def run(cfg, results):
    outdir = cfg.out / "packet_path"
    outdir.mkdir(parents=True, exist_ok=True)
    pcap_link = corpus_pcap_link(cfg)
    mean_pkt = results["setup"]["corpus"]["pcap_stats"]["mean_packet_bytes"]
    have_testpmd = testpmd_path() is not None
    # A build from before sluice-path-bench (run-bench --build OLD) still
    # gives the daemon's figures.
    have_own = not cfg.missing_programs(STAGE_OPTIONAL_PROGRAMS["packet_path"])
    rounds_n = 1 if cfg.quick else 3
    result = {"status": "ok", "rounds": [], "testpmd": TESTPMD if have_testpmd else None}
    if not have_testpmd:
        result["testpmd_note"] = (f"not measured: {TESTPMD} is not installed "
                                  "(Debian: apt-get install dpdk-dev)")
    if not have_own:
        result["own_note"] = "not measured: this build has no sluice-path-bench"
    cached = cfg.tmp / f"first-{CACHED_PACKETS}.pcap"
    if have_testpmd and first_packets(cfg.corpus_pcap, CACHED_PACKETS, cached):
        result["testpmd_cached_packets"] = CACHED_PACKETS
    else:
        cached = None
    try:
        packs = make_packs(cfg, outdir)
        for i in range(rounds_n):
            cfg.say(f"packet path: round {i + 1} of {rounds_n}"
                    + (": testpmd," if have_testpmd else ":")
                    + " never, never_raw, light, batch, own")
            rnd = {}
            if have_testpmd:
                rnd["testpmd"] = run_testpmd(cfg, pcap_link, outdir, str(i))
            if cached:
                rnd["testpmd_cached"] = run_testpmd(cfg, cached, outdir, f"cached{i}")
            for name in ("never", "never_raw", "light"):
                rnd[name] = sluice_run(cfg, packs[name], f"{name.replace('_', '')}{i}",
                                       pcap_link, outdir, mean_pkt)
            obj, _ = run_scan_bench(cfg, packs["light"], cfg.corpus_txt, stages=["batch"])
            batch = ((obj.get("stages") or {}).get("batch") or {})
            rnd["light_batch"] = {"msgs_per_s": batch.get("msgs_per_s")}
            if have_own:
                rnd["own"] = {name: run_own(cfg, packs[name], pcap_link)
                              for name in ("never", "never_raw", "light")}
            r = {}
            if have_testpmd:
                tp = rnd["testpmd"]["packets_per_s"]
                r["never_over_testpmd"] = rnd["never"]["packets_per_s"] / tp
                r["never_raw_over_testpmd"] = rnd["never_raw"]["packets_per_s"] / tp
            if rnd["light_batch"]["msgs_per_s"]:
                r["light_over_batch"] = rnd["light"]["msgs_per_s"] / rnd["light_batch"]["msgs_per_s"]
            rnd["added_ns"] = added_ns(rnd)
            ceiling = light_ceiling(rnd)
            if ceiling is not None:
                r["light_over_batch_ceiling"] = ceiling
            rnd["ratios"] = r
            result["rounds"].append(rnd)
    except StageError as e:
        result.update(proc.from_error(e))
        return result
    for field in ("ratios", "added_ns"):
        med = {}
        keys = {k for rnd in result["rounds"] for k in rnd[field]}
        for k in sorted(keys):
            med[k] = statistics.median(rnd[field][k] for rnd in result["rounds"] if k in rnd[field])
        result[field] = med
    for name in ("testpmd", "testpmd_cached", "never", "never_raw", "light"):
        v = [rnd[name]["packets_per_s"] for rnd in result["rounds"] if name in rnd]
        if v:
            result.setdefault("packets_per_s", {})[name] = statistics.median(v)
    for name in ("light", "light_batch"):
        result.setdefault("msgs_per_s", {})[name] = statistics.median(
            rnd[name]["msgs_per_s"] for rnd in result["rounds"])
    light = [rnd["light"] for rnd in result["rounds"]]
    result["light_events"] = {
        "written_per_s": statistics.median(x["events_written_per_s"] or 0 for x in light),
        "dropped": sum(x["events_dropped"] or 0 for x in light)}
    return result
