"""Stage events: how many events per second the event sink writes (issue 12).

Contract: runs `sluice-event-bench --pack PACK` (match events for the pack's
rules, pushed into a worker's ring and drained by the sink into /dev/null as
the control thread drains, one core; the stateless formatter beside it) and
keeps its JSON whole. The target is 1 M events/s on one core.
"""
from . import proc
from .proc import StageError


def run(cfg):
    argv = [cfg.prog("sluice-event-bench"), "--pack", cfg.pack_a,
            "--events", 200000 if cfg.quick else 2000000, "--rounds", 3 if cfg.quick else 7]
    try:
        cfg.say("events: the event sink's rate on one core (sluice-event-bench)")
        obj, r = proc.run_json([str(a) for a in argv], 120 if cfg.quick else 600, log=cfg.log)
    except StageError as e:
        return proc.from_error(e)
    return {"status": "ok", "command": r.command, "program_output": obj}
