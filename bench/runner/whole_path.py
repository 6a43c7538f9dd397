"""Stage whole_path: the real daemon, packets served from memory to a sink.

Contract: for each worker count W (and each --scan mode the daemon offers)
starts build/dataplane/sluice as a subprocess:

  port A  net_pcap0 with one rx_pcap=corpus.pcap per worker queue and
          infinite_rx=1: the PMD copies the whole capture into mbufs at start
          and replays it from memory for ever, so no file I/O is measured;
  port B  net_null0,no-rx=1: a sink that frees what it is sent;
  EAL     --no-huge --no-pci --no-shconf, a private --file-prefix, and
          --lcores placing the main lcore on the first CPU and worker i on
          CPU i while there are enough; with as many workers as CPUs (or more)
          worker 1 shares the first CPU with the main lcore (2 workers on 2
          CPUs: main and worker 1 on CPU 0, worker 2 on CPU 1), said in the
          output as "placement".

After a warm-up it samples `sluicectl --json stats` twice; every rate is
(counter at the 2nd sample - counter at the 1st) / (time between the
samples, each taken at the midpoint of its sluicectl call). It checks that
messages were scanned, that no bad input was counted, that the pack did not
change, and that every received packet is accounted for (sent, dropped on a
full TX queue, removed by a verdict or dropped as bad input, to within the
packets in flight). A run that fails a check is failed, with the check named.
"""
import os
import re
import shlex
import signal
import subprocess
import time

from . import proc
from .config import eal_memory
from .proc import StageError
from .scan import ceiling_msgs_per_s

MBUF_BYTES = 2560  # RTE_MBUF_DEFAULT_BUF_SIZE + the mbuf header, rounded up
STARTUP_LIMIT_S = 90.0
STOP_LIMIT_S = 20.0


def scan_modes(cfg):
    """The daemon's --scan choices, when it has the option; [None] if not."""
    r = proc.run([cfg.prog("sluice"), "--help"], 30)
    # The option's own entry: from "--scan" to the next option.
    m = re.search(r"--scan\b(.*?)(?=\n\s*-{1,2}[a-z]|\Z)", r.stdout + r.stderr, re.S)
    if not m:
        return [None]
    modes = [mode for mode in ("batch", "message") if re.search(rf"\b{mode}\b", m.group(1))]
    return modes or [None]


def placement(cpus, workers):
    """EAL --lcores map and its description: lcore 0 is the main lcore."""
    n = len(cpus)
    places = [cpus[0]]
    for i in range(1, workers + 1):
        places.append(cpus[i] if workers < n else cpus[(i - 1) % n])
    lcores = ",".join(f"{lcore}@{cpu}" for lcore, cpu in enumerate(places))
    parts = [f"main lcore on CPU {places[0]}"]
    parts += [f"worker {i} on CPU {places[i]}" for i in range(1, workers + 1)]
    text = ", ".join(parts)
    if workers + 1 > n:
        text += f" ({workers + 1} lcores on {n} CPUs: worker 1 shares CPU {places[0]} with the main lcore"
        text += ", and workers share CPUs)" if workers > n else ")"
    return lcores, text


def pool_and_memory(packets, workers):
    """infinite_rx holds a copy of the capture per queue in mbufs of the
    daemon's pool, on top of what the daemon sizes for its descriptors."""
    need = workers * packets + 2 * workers * (1024 + 1024) + workers * 3 * 32 + 2048
    mbufs = 8191
    while mbufs < need:
        mbufs = mbufs * 2 + 1
    mbufs = min(mbufs, 4194303)
    mem_mb = max(1024, (mbufs * MBUF_BYTES) // (1024 * 1024) + 512)
    return mbufs, mem_mb


CLK_TCK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid):
    """CPU seconds used so far by each thread of pid, by thread name. DPDK
    names worker lcore N's thread rte-worker-N."""
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        # utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
        out[name] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def sample(cfg, sock, pid=None):
    """(time, stats, per-thread CPU seconds), the time being the midpoint
    of the sluicectl call."""
    cpu = thread_cpu(pid) if pid else {}
    before = time.monotonic()
    r = proc.run([cfg.prog("sluicectl"), "-s", sock, "--timeout", "5000", "--json", "stats"], 15)
    after = time.monotonic()
    if r.rc != 0 or r.timed_out:
        raise StageError(f"sluicectl stats: {r.why()}", r.stderr_tail(), r.command)
    obj = proc.parse_json_object(r.stdout)
    if not obj or "stats" not in obj:
        raise StageError("sluicectl stats printed no stats", proc.tail(r.stdout, 3))
    obj["thread_cpu_s"] = cpu
    return (before + after) / 2, obj


def wait_ready(cfg, daemon, sock, log_path):
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise StageError(f"sluice exited with status {daemon.returncode} before it was ready",
                             proc.tail(read_text(log_path)))
        if os.path.exists(sock):
            r = proc.run([cfg.prog("sluicectl"), "-s", sock, "--timeout", "2000", "status"], 10)
            if r.rc == 0:
                return
        time.sleep(0.25)
    raise StageError(f"sluice was not ready within {STARTUP_LIMIT_S:.0f} s",
                     proc.tail(read_text(log_path)))


def stop(cfg, daemon, sock):
    """sluicectl stop, then SIGTERM, then SIGKILL to the daemon's group."""
    if daemon.poll() is None:
        proc.run([cfg.prog("sluicectl"), "-s", sock, "--timeout", "2000", "stop"], 10)
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and daemon.poll() is None:
            try:
                os.killpg(daemon.pid, sig)
            except ProcessLookupError:
                pass
        try:
            daemon.wait(timeout=STOP_LIMIT_S if sig is None else 10)
            return daemon.returncode
        except subprocess.TimeoutExpired:
            continue
    return daemon.returncode


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def delta(a, b, *path):
    for k in path:
        a, b = a[k], b[k]
    return b - a


def bad_sum(stats):
    return sum(v for v in stats["bad_input"].values() if isinstance(v, (int, float)))


def measure(cfg, s0, s1, t0, t1, workers, mean_pkt_bytes):
    dt = t1 - t0
    a, b = s0["stats"]["total"], s1["stats"]["total"]
    msgs = delta(a, b, "messages")
    text_bytes = delta(a, b, "bytes_scanned")
    rx = delta(a, b, "rx_packets", "a")
    out = {
        "window_s": dt,
        "messages": msgs,
        "msgs_per_s": msgs / dt,
        "msgs_per_s_per_worker": msgs / dt / workers,
        "text_gbit_per_s": text_bytes * 8 / dt / 1e9,
        "wire_gbit_per_s": rx * mean_pkt_bytes * 8 / dt / 1e9,
        "packets_per_s": rx / dt,
        "messages_per_packet": msgs / rx if rx else None,
        "acted_share": (delta(a, b, "verdicts", "flagged") + delta(a, b, "verdicts", "masked")
                        + delta(a, b, "verdicts", "blocked")) / msgs if msgs else None,
        "per_worker": [],
        "events_written_per_s": (s1.get("events_written", 0) - s0.get("events_written", 0)) / dt,
    }
    cpu0, cpu1 = s0.get("thread_cpu_s") or {}, s1.get("thread_cpu_s") or {}
    for i, (wa, wb) in enumerate(zip(s0["stats"]["workers"], s1["stats"]["workers"])):
        m = delta(wa, wb, "messages")
        thread = f"rte-worker-{i + 1}"  # worker i + 1 is lcore i + 1 (see placement)
        share = ((cpu1[thread] - cpu0[thread]) / dt) if thread in cpu0 and thread in cpu1 else None
        out["per_worker"].append({
            "worker": i + 1,
            "msgs_per_s": m / dt,
            "text_gbit_per_s": delta(wa, wb, "bytes_scanned") * 8 / dt / 1e9,
            "wire_gbit_per_s": delta(wa, wb, "rx_packets", "a") * mean_pkt_bytes * 8 / dt / 1e9,
            # Time the worker's thread was on a CPU during the window: a
            # polling worker alone on its CPU is at 1.0; less means the OS
            # gave its CPU to someone else, and its rate understates it.
            "cpu_share": share,
            # What it does per second of CPU it actually got: flat as workers
            # are added when the only loss is CPU shared with others.
            "msgs_per_cpu_s": (m / dt / share) if share else None,
            # The daemon keeps the longest pass since it started, not per window.
            "max_iteration_us_since_start": wb.get("max_iteration_ns", 0) / 1000,
        })
    shares = [w["cpu_share"] for w in out["per_worker"] if w["cpu_share"] is not None]
    out["min_worker_cpu_share"] = min(shares) if shares else None
    if shares and min(shares) < 0.9:
        out["warning"] = (f"a worker was on its CPU for only {min(shares):.0%} of the window "
                          "(CPUs shared with the main lcore, other workers or other processes): "
                          "the rate understates what it does on a CPU of its own")

    # Accounting: every packet received on A left on B, was dropped on a full
    # TX queue, was removed because a verdict left it empty, or was dropped as
    # bad input. Counters are read while workers run, so up to a burst per
    # worker and port may be in flight between two of them.
    bad = bad_sum(b) - bad_sum(a)
    dropped_bad = delta(a, b, "datagrams_dropped_bad")
    # A chat port's segments: some dropped by the stream layer (counted by
    # reason), and packets Sluice builds itself (resets, custody ACKs) leave
    # on either port.
    streams_a, streams_b = a.get("streams") or {}, b.get("streams") or {}
    stream_dropped = streams_b.get("segments_dropped", 0) - streams_a.get("segments_dropped", 0)
    left = (delta(a, b, "tx_packets", "b") + delta(a, b, "tx_dropped", "b")
            + delta(a, b, "datagrams_removed") + dropped_bad + stream_dropped)
    tolerance = max(256 * workers, rx // 1000)
    checks = {
        "messages_scanned": msgs > 0,
        "no_bad_input": bad == 0,
        "packets_accounted": abs(rx - left) <= tolerance,
        "pack_unchanged": s0.get("generation") == s1.get("generation"),
    }
    out["accounting"] = {
        "rx_packets": rx, "tx_packets": delta(a, b, "tx_packets", "b"),
        "tx_dropped": delta(a, b, "tx_dropped", "b"),
        "datagrams_removed": delta(a, b, "datagrams_removed"), "bad_input": bad,
        "datagrams_dropped_bad": dropped_bad,
        "unaccounted": rx - left, "tolerance": tolerance,
        "events_dropped": delta(a, b, "events_dropped"),
    }
    out["checks"] = checks
    return out


def remove_runtime_dir(prefix):
    """EAL leaves an empty runtime directory per --file-prefix even with
    --no-shconf; remove ours (rmdir: only if empty) so runs do not pile up."""
    for base in ("/var/run/dpdk", os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk")):
        try:
            os.rmdir(os.path.join(base, prefix))
        except OSError:
            pass


def run_one(cfg, workers, mode, mean_pkt_bytes, pcap_link, outdir, name=None, extra=(),
            packets=None, pack=None):
    """One daemon run on pcap_link (replayed for ever) into a sink. name
    labels the run (default: the worker count and scan mode), extra is added
    to sluice's options, packets is the capture's size (default the
    corpus'), pack the pack (default the one under test)."""
    tag = name or (f"{workers}w" + (f"-{mode}" if mode else ""))
    sock = cfg.tmp / f"ctl-{tag}.sock"
    log_path = outdir / f"sluice-{tag}.log"
    lcores, where = placement(cfg.cpus, workers)
    mbufs, mem_mb = pool_and_memory(packets or cfg.packets, workers)
    vdev_a = "net_pcap0," + ",".join([f"rx_pcap={pcap_link}"] * workers) + ",infinite_rx=1"
    duration = cfg.dp_warmup_s + cfg.dp_window_s + 30
    prefix = f"bench{tag.replace('-', '')}{os.getpid()}"
    argv = [cfg.prog("sluice"), *eal_memory(cfg, mem_mb), "--no-pci",
            "--file-prefix", prefix, "--lcores", lcores,
            "--vdev", vdev_a, "--vdev", "net_null0,no-rx=1", "--",
            "--rules", pack or cfg.pack_a, "--events", "/dev/null", "--control-socket", sock,
            "--duration", duration, "--mbufs", mbufs,
            "--summary", outdir / f"summary-{tag}.json"]
    if mode:
        argv += ["--scan", mode]
    if cfg.udp_port != 7700:
        argv += ["--udp-port", cfg.udp_port]
    argv = [str(a) for a in list(argv) + list(extra)]
    run = {"workers": workers, "scan_mode": mode, "lcores": lcores, "placement": where,
           "command": shlex.join(argv), "log": str(log_path)}
    cfg.say(f"whole path: {name or ''}{', ' if name else ''}{workers} worker(s)"
            + (f", --scan {mode}" if mode else ""))
    cfg.log(f"$ {run['command']}")
    with open(log_path, "wb") as logf:
        daemon = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_ready(cfg, daemon, str(sock), log_path)
        time.sleep(cfg.dp_warmup_s)
        t0, s0 = sample(cfg, str(sock), daemon.pid)
        time.sleep(cfg.dp_window_s)
        t1, s1 = sample(cfg, str(sock), daemon.pid)
    except StageError as e:
        stop(cfg, daemon, str(sock))
        remove_runtime_dir(prefix)
        run.update(proc.from_error(e))
        run["command"] = shlex.join(argv)
        return run
    except BaseException:
        stop(cfg, daemon, str(sock))  # ^C: never leave a polling daemon behind
        raise
    rc = stop(cfg, daemon, str(sock))
    remove_runtime_dir(prefix)
    run["exit_status"] = rc
    try:
        m = measure(cfg, s0, s1, t0, t1, workers, mean_pkt_bytes)
    except (KeyError, TypeError, ZeroDivisionError) as e:
        run.update(status="failed", error=f"unexpected stats from sluicectl: {e!r}")
        return run
    run.update(m)
    bad = [k for k, ok in m["checks"].items() if not ok]
    if bad:
        run.update(status="failed", error="check failed: " + ", ".join(bad),
                   stderr_tail=proc.tail(read_text(log_path)))
    elif rc != 0:
        run.update(status="failed", error=f"sluice exited with status {rc}",
                   stderr_tail=proc.tail(read_text(log_path)))
    else:
        run["status"] = "ok"
    return run


def corpus_pcap_link(cfg):
    """The corpus capture by a path devargs can carry: they split on commas,
    so a capture whose path has one is reached through a comma-free link."""
    pcap_link = cfg.corpus_pcap
    if "," in str(pcap_link):
        pcap_link = cfg.tmp / "corpus.pcap"
        if not pcap_link.exists():
            pcap_link.symlink_to(cfg.corpus_pcap)
    return pcap_link


def run(cfg, results):
    outdir = cfg.out / "whole_path"
    outdir.mkdir(parents=True, exist_ok=True)
    pcap_link = corpus_pcap_link(cfg)
    mean_pkt = results["setup"]["corpus"]["pcap_stats"]["mean_packet_bytes"]
    modes = scan_modes(cfg)
    ceiling = ceiling_msgs_per_s(results)
    runs = []
    for w in cfg.workers:
        for mode in modes:
            r = run_one(cfg, w, mode, mean_pkt, pcap_link, outdir)
            if r.get("status") == "ok" and ceiling:
                r["per_worker_over_ceiling"] = r["msgs_per_s_per_worker"] / ceiling
            runs.append(r)
    result = {"status": "ok", "scan_modes": modes if modes != [None] else [],
              "scan_mode_note": None if modes != [None] else
              "sluice has no --scan option: its one scan path was measured",
              "ceiling_msgs_per_s": ceiling,
              "mean_packet_bytes": mean_pkt,
              "wire_bytes_note": "Ethernet frame bytes as captured (no preamble, FCS or gap)",
              "runs": runs, "scaling": scaling(runs)}
    failed = [r for r in runs if r.get("status") != "ok"]
    if failed:
        result["status"] = "failed"
        result["error"] = "; ".join(
            f"{r['workers']} worker(s){' ' + r['scan_mode'] if r['scan_mode'] else ''}: {r.get('error')}"
            for r in failed)
    return result


def per_cpu_second(run):
    """Mean messages per CPU-second of the run's workers, or None."""
    v = [w["msgs_per_cpu_s"] for w in run.get("per_worker", []) if w.get("msgs_per_cpu_s")]
    return sum(v) / len(v) if v else None


def scaling(runs):
    """msgs/s at W workers over msgs/s at 1 worker, per scan mode
    (linear scaling would be W); and what each worker does per second of
    CPU it got, over the same at 1 worker: below 1.0 by as much as workers
    slow each other (caches, memory, the shared sink), beyond the CPU time
    they lose to the main lcore and to each other on a small machine."""
    out = []
    by_mode = {}
    for r in runs:
        if r.get("status") == "ok":
            by_mode.setdefault(r["scan_mode"], {})[r["workers"]] = r
    for mode, rs in by_mode.items():
        if 1 not in rs:
            continue
        one = per_cpu_second(rs[1])
        for w, r in sorted(rs.items()):
            if w > 1:
                mine = per_cpu_second(r)
                out.append({"scan_mode": mode, "workers": w,
                            "over_1_worker": r["msgs_per_s"] / rs[1]["msgs_per_s"], "linear": w,
                            "per_worker_cpu_s_over_1_worker": mine / one if mine and one else None,
                            "min_worker_cpu_share": r.get("min_worker_cpu_share")})
    return out
