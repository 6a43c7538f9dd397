"""Stage latency: per-message time from RX to TX at 50% and 90% of the maximum.

Contract: runs sluice-latency-bench three times on the same capture and pack:
`--mode max` finds the highest rate the path sustains (pkts_per_s), then
`--mode latency --rate-pps X` at each fraction of it (cfg.latency_fractions)
stamps messages with the TSC at RX and TX and reports p50, p99 and p99.9,
writing the distribution (latency_us, cumulative_fraction) to
OUT/latency/hist-NN.txt for the chart. If the maximum cannot be measured the
paced runs are not attempted; a paced run that fails is recorded as failed
beside the others.
"""
from . import proc
from .proc import StageError


def latency_bench(cfg, *args, timeout_s):
    argv = [cfg.prog("sluice-latency-bench"), *args]
    obj, r = proc.run_json(argv, timeout_s, log=cfg.log, measured_failure=True)
    err = proc.measured_error(obj, r)
    if err:
        raise StageError(err, r.stderr_tail(), r.command)
    return obj, r


def run(cfg):
    outdir = cfg.out / "latency"
    outdir.mkdir(parents=True, exist_ok=True)
    common = ["--pcap", cfg.corpus_pcap, "--pack", cfg.pack_a]
    # --quick is the program's own short setting (max 1 s, latency 2 s).
    length = (lambda s: ["--quick"]) if cfg.quick else (lambda s: ["--seconds", f"{s:g}"])
    limit = cfg.latency_seconds * 4 + 120
    cfg.say("latency: maximum rate")
    try:
        mx, r = latency_bench(cfg, "--mode", "max", *common, *length(cfg.latency_max_seconds),
                              timeout_s=limit)
        max_pps = proc.need(mx, "pkts_per_s")
        if not isinstance(max_pps, (int, float)) or max_pps <= 0:
            raise StageError(f"maximum rate is {max_pps!r}", command=r.command)
    except StageError as e:
        return proc.from_error(e)
    result = {"status": "ok", "max": {**mx, "command": r.command}, "rates": []}
    for frac in cfg.latency_fractions:
        rate = max(1, int(max_pps * frac))
        hist = outdir / f"hist-{int(round(frac * 100))}.txt"
        cfg.say(f"latency at {frac:.0%} of the maximum ({rate} packets/s)")
        try:
            obj, r = latency_bench(cfg, "--mode", "latency", "--rate-pps", rate,
                                   "--histogram-out", hist, *common,
                                   *length(cfg.latency_seconds), timeout_s=limit)
            lat = proc.need(obj, "latency_us")
            for k in ("p50", "p99", "p999"):
                proc.need(lat, k)
            entry = {"status": "ok", "fraction": frac, "rate_pps": rate, **obj,
                     "histogram": str(hist), "command": r.command}
        except StageError as e:
            entry = {"fraction": frac, "rate_pps": rate, **proc.from_error(e)}
        result["rates"].append(entry)
    bad = [e for e in result["rates"] if e.get("status") != "ok"]
    if bad:
        result["status"] = "failed"
        result["error"] = "; ".join(f"at {e['fraction']:.0%}: {e['error']}" for e in bad)
    return result
