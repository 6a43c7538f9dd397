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

               Each round also runs both captures with
               bench/data/packs/never.yaml, a pack that never matches: with
               next to nothing to scan, the ratio (`ratio_never`) and the
               difference in time a message (`ws_added_ns_per_msg`) are what
               the stream's own work costs (TCP, the store, WebSocket framing,
               holding and releasing), which the bench pack's scan hides.

Both ratios are WebSocket messages/s over UDP messages/s in the same round.
"""
import statistics

from . import corpus, proc, whole_path
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


def never_pack(cfg, outdir):
    """The pack that never matches (the packet_path stage's), compiled."""
    out = outdir / "never.pack"
    corpus.compile_pack(cfg, str(cfg.repo / "bench" / "data" / "packs" / "never.yaml"), str(out))
    return out


def through_ports(cfg, outdir, caps):
    rounds = 1 if cfg.quick else 5
    kinds = {"udp": [], "ws": ["--ws-port", str(WS_PORT)]}
    packs = {"": None, "_never": never_pack(cfg, outdir)}
    mean = {k: corpus.pcap_stats(caps[k]["path"])["mean_packet_bytes"] for k in kinds}
    out = {"rounds": [], "captures": caps, "flows": FLOWS}
    for i in range(rounds):
        rnd = {}
        for suffix, pack in packs.items():
            for k, extra in kinds.items():
                run = whole_path.run_one(cfg, 1, "batch", mean[k], caps[k]["path"], outdir,
                                         name=f"{k}{suffix}-{i + 1}", extra=extra,
                                         packets=caps[k]["packets"], pack=pack)
                if run.get("status") != "ok":
                    raise StageError(f"{k}{suffix}, round {i + 1}: {run.get('error')}",
                                     run.get("stderr_tail"), run.get("command"))
                rnd[k + suffix] = {key: run.get(key) for key in
                                   ("msgs_per_s", "packets_per_s", "text_gbit_per_s",
                                    "wire_gbit_per_s", "min_worker_cpu_share", "accounting",
                                    "command", "placement")}
        rnd["ratio"] = rnd["ws"]["msgs_per_s"] / rnd["udp"]["msgs_per_s"]
        rnd["ratio_never"] = rnd["ws_never"]["msgs_per_s"] / rnd["udp_never"]["msgs_per_s"]
        rnd["ws_added_ns_per_msg"] = (1e9 / rnd["ws_never"]["msgs_per_s"]
                                      - 1e9 / rnd["udp_never"]["msgs_per_s"])
        out["rounds"].append(rnd)
    for k in ("udp", "ws", "udp_never", "ws_never"):
        out[f"{k}_msgs_per_s"] = statistics.median(r[k]["msgs_per_s"] for r in out["rounds"])
    for k in ("ratio", "ratio_never", "ws_added_ns_per_msg"):
        out[k] = statistics.median(r[k] for r in out["rounds"])
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
