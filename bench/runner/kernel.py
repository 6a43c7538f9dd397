"""Stage kernel: the same scan behind ordinary UDP sockets on loopback.

Contract: runs `sluice-kernel-bench --pcap corpus.pcap --pack P --seconds S`
(--quick instead of --seconds in a quick run), which replays the corpus's datagrams through recvmmsg/sendmmsg
on loopback twice, once only moving them (io_only) and once scanning and
applying verdicts (scan). Its JSON is kept whole; "figures" holds the two
runs' rates. Datagrams the kernel lost are reported, not failed: losing them
under load is what the kernel path does.
"""
from . import proc
from .proc import StageError

FIGURES = ["msgs_per_s", "gbit_per_s", "datagrams_per_s", "lost", "seconds", "messages"]


def run(cfg):
    argv = [cfg.prog("sluice-kernel-bench"), "--pcap", cfg.corpus_pcap, "--pack", cfg.pack_a]
    # --quick is the program's own short setting; a full run states its length.
    argv += ["--quick"] if cfg.quick else ["--seconds", f"{cfg.kernel_seconds:g}"]
    cfg.say("kernel path (UDP sockets on loopback)")
    try:
        obj, r = proc.run_json(argv, cfg.kernel_seconds * 4 + 120, log=cfg.log,
                               measured_failure=True)
    except StageError as e:
        return proc.from_error(e)
    err = proc.measured_error(obj, r)
    figures = {}
    for name in ("io_only", "scan"):
        one = (obj.get("runs") or {}).get(name)
        if not isinstance(one, dict):
            return proc.failed(err or f"output has no runs.{name}", r.stderr_tail(), r.command,
                               program_output=obj)
        figures[name] = {k: one.get(k) for k in FIGURES if k in one}
        if name == "scan":
            for k in ("removed", "flagged", "masked", "blocked"):
                if k in one:
                    figures[name][k] = one[k]
    result = {"status": "ok", "command": r.command, "seconds": r.seconds, "figures": figures,
              "program_output": obj}
    if err:
        result.update(status="failed", error=err, stderr_tail=r.stderr_tail())
    return result
