"""Stage swap: throughput and the worst worker stall while packs are swapped.

Contract: runs `sluice-latency-bench --mode swap` with the pack under test and
its partner (setup's swap pack), reloading every cfg.swap_every_ms for
cfg.swap_seconds under traffic. Kept whole; the stage fails if any message
was lost or any reload failed, since either makes the run's throughput and
stall figures a measurement of something else (and the issue's target for
lost messages is 0). The worst stall is reported, never judged.
"""
from . import proc
from .proc import StageError


def run(cfg):
    argv = [cfg.prog("sluice-latency-bench"), "--mode", "swap", "--pcap", cfg.corpus_pcap,
            "--pack", cfg.pack_a, "--pack-b", cfg.pack_b,
            "--swap-every-ms", cfg.swap_every_ms, "--seconds", f"{cfg.swap_seconds:g}"]
    cfg.say(f"swaps under load: every {cfg.swap_every_ms} ms for {cfg.swap_seconds:g} s")
    try:
        obj, r = proc.run_json(argv, cfg.swap_seconds * 3 + 180, log=cfg.log,
                               measured_failure=True)
    except StageError as e:
        return proc.from_error(e)
    missing = [k for k in ("msgs_per_s", "reloads", "lost", "worst_stall_ms") if k not in obj]
    if missing:
        return proc.failed(proc.measured_error(obj, r) or f"output has no {missing[0]}",
                           r.stderr_tail(), r.command, program_output=obj)
    result = {"status": "ok", "command": r.command, "seconds": r.seconds, **obj}
    problems = []
    if obj.get("lost") != 0:
        problems.append(f"{obj.get('lost')} message(s) lost")
    if obj.get("reload_failures"):
        problems.append(f"{obj['reload_failures']} reload(s) failed")
    if not obj.get("reloads"):
        problems.append("no reload happened")
    err = proc.measured_error(obj, r)
    if err and not problems:
        problems.append(err)
    if problems:
        result.update(status="failed", error="; ".join(problems), stderr_tail=r.stderr_tail())
    return result
