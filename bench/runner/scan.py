"""Stage scan: the Hyperscan ceiling, the message and batch paths, PCRE2.

Contract: runs `sluice-scan-bench --pack P --corpus corpus.txt [--quick]`
once (all four sub-stages measure the same messages and pack in one process)
and keeps its JSON whole under "program_output", adding the figures the table
and the other stages use under "figures". The ceiling's msgs_per_s is the
yardstick the whole path is divided by. A sub-stage the program reports as
{"skipped": reason} is kept as such; the stage then fails only if the ceiling
itself is missing, and check-quick.py names any sub-stage without a number.
"""
import math

from . import proc
from .proc import StageError

SUBSTAGES = ["ceiling", "message", "batch", "pcre2"]


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def run_scan_bench(cfg, pack, corpus, stages=None, timeout_s=None, quick=None):
    argv = [cfg.prog("sluice-scan-bench"), "--pack", pack, "--corpus", corpus]
    if stages:
        argv += ["--stages", ",".join(stages)]
    if cfg.quick if quick is None else quick:
        argv.append("--quick")
    return proc.run_json(argv, timeout_s or cfg.scan_timeout_s, log=cfg.log, measured_failure=True)


def figures(obj):
    st = obj.get("stages") or {}
    f = {}
    for name in SUBSTAGES:
        s = st.get(name)
        if not isinstance(s, dict) or "skipped" in s or not number(s.get("msgs_per_s")):
            f[name] = {"skipped": (s or {}).get("skipped", "no figure")} if s is not None else None
            continue
        f[name] = {k: s.get(k) for k in ("msgs_per_s", "mbit_per_s", "ns_per_msg",
                                         "hs_calls_per_msg", "acted_messages",
                                         "batch_messages", "patterns", "skipped_rules")
                   if k in s}
    return f


def run(cfg):
    try:
        obj, r = run_scan_bench(cfg, cfg.pack_a_source, cfg.corpus_txt)
    except StageError as e:
        return proc.from_error(e)
    f = figures(obj)
    result = {"status": "ok", "command": r.command, "seconds": r.seconds, "figures": f,
              "ratios": obj.get("ratios"), "pack": obj.get("pack"), "corpus": obj.get("corpus"),
              "program_output": obj}
    err = proc.measured_error(obj, r)
    if err:
        result.update(status="failed", error=err, stderr_tail=r.stderr_tail())
    elif not f.get("ceiling") or "skipped" in f["ceiling"]:
        result.update(status="failed", error="sluice-scan-bench gave no ceiling figure")
    return result


def ceiling_msgs_per_s(results):
    """The yardstick, or None when the scan stage did not measure it."""
    scan = results.get("stages", {}).get("scan") or {}
    c = (scan.get("figures") or {}).get("ceiling") or {}
    v = c.get("msgs_per_s")
    return v if number(v) and v > 0 else None
