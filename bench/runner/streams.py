"""Stage streams: WebSocket chat in TCP against UDP frames, on the same
messages and pack, one worker.

Contract, two measurements:

  burst code   sluice-stream-bench runs the worker's burst code on plain
               buffers (no PMD): UDP frames, WebSocket, WebSocket with JSON
               members, a message split over two segments, rounds
               interleaved; then 100,000 open connections in the flow table
               (--quick: 2,000 messages, 3 rounds, 10,000 connections).
  the ports    sluice-stream-bench --write-pcap writes one pass of the same
               messages as a UDP capture and as a WebSocket capture (256
               connections, each opened and closed inside it, so that a
               replay in a loop opens them anew). The daemon replays each
               from memory (net_pcap infinite_rx into net_null, one worker,
               as the whole_path stage does), UDP then WebSocket, `rounds`
               times; each round gives a ratio, the median is the figure.

Both ratios are WebSocket messages/s over UDP messages/s in the same round.
"""
import statistics

from . import proc, whole_path
from .proc import StageError

FLOWS = 256
WS_PORT = 8080


def burst_code(cfg):
    argv = [cfg.prog("sluice-stream-bench"), "--pack", cfg.pack_a, "--corpus", cfg.corpus_txt]
    if cfg.quick:
        argv += ["--messages", "2000", "--rounds", "3", "--table-flows", "10000"]
    else:
        argv += ["--rounds", "9"]
    obj, r = proc.run_json([str(a) for a in argv], 300 if cfg.quick else 1800, log=cfg.log)
    return obj, r.command


def write_captures(cfg, outdir):
    prefix = outdir / "capture"
    argv = [cfg.prog("sluice-stream-bench"), "--pack", cfg.pack_a, "--corpus", cfg.corpus_txt,
            "--messages", str(cfg.packets), "--flows", str(FLOWS), "--write-pcap", prefix]
    obj, r = proc.run_json([str(a) for a in argv], 300, log=cfg.log)
    for k in ("udp", "ws"):
        proc.need(obj, k, "path")
    return obj


def mean_packet_bytes(path):
    """Mean Ethernet frame bytes of a classic pcap (for the wire rate)."""
    import struct
    total = count = 0
    with open(path, "rb") as f:
        f.read(24)
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            caplen = struct.unpack("<IIII", h)[2]
            f.seek(caplen, 1)
            total += caplen
            count += 1
    return total / count if count else 0.0


def through_ports(cfg, outdir, caps):
    rounds = 1 if cfg.quick else 5
    kinds = {"udp": [], "ws": ["--ws-port", str(WS_PORT)]}
    mean = {k: mean_packet_bytes(caps[k]["path"]) for k in kinds}
    out = {"rounds": [], "captures": caps, "flows": FLOWS}
    for i in range(rounds):
        rnd = {}
        for k, extra in kinds.items():
            run = whole_path.run_one(cfg, 1, "batch", mean[k], caps[k]["path"], outdir,
                                     name=f"{k}-{i + 1}", extra=extra,
                                     packets=caps[k]["packets"])
            if run.get("status") != "ok":
                raise StageError(f"{k}, round {i + 1}: {run.get('error')}",
                                 run.get("stderr_tail"), run.get("command"))
            rnd[k] = {key: run.get(key) for key in
                      ("msgs_per_s", "packets_per_s", "text_gbit_per_s", "wire_gbit_per_s",
                       "min_worker_cpu_share", "accounting", "command", "placement")}
        rnd["ratio"] = rnd["ws"]["msgs_per_s"] / rnd["udp"]["msgs_per_s"]
        out["rounds"].append(rnd)
    for k in kinds:
        out[f"{k}_msgs_per_s"] = statistics.median(r[k]["msgs_per_s"] for r in out["rounds"])
    out["ratio"] = statistics.median(r["ratio"] for r in out["rounds"])
    return out


def run(cfg):
    outdir = cfg.out / "streams"
    outdir.mkdir(parents=True, exist_ok=True)
    result = {"status": "ok"}
    try:
        cfg.say("streams: WebSocket against UDP, burst code (sluice-stream-bench)")
        result["burst_code"], result["command"] = burst_code(cfg)
        cfg.say("streams: WebSocket against UDP through the ports (the daemon)")
        caps = write_captures(cfg, outdir)
        result["ports"] = through_ports(cfg, outdir, caps)
    except StageError as e:
        result.update(proc.from_error(e))
    return result
