"""Stage soak: the daemon under traffic, pack reloads every 100 ms and a
misused control socket for a long time (bench/README.md, "Soak").

Contract: runs bench/soak/sluice-soak for cfg.soak_seconds (--quick: 20 s
with lighter abuse, the meson test's run) and keeps its JSON whole. It is not
in the default stage list: it takes ten minutes and judges endurance, not
speed; ask for it with --stages soak. Its traffic and packs are its own (the
default rule file and a fixed message table with known outcomes), not the
corpus and pack of the other stages. The stage fails when any of the
program's checks failed, and names them.
"""
from . import proc
from .proc import StageError

QUICK_ABUSE = ["--abuse-idle", "200", "--abuse-connects", "200", "--abuse-rude", "20",
               "--rss-every", "2", "--rss-warmup", "6"]
# Beyond the run itself: compiling two packs, EAL, and the traffic settling.
SLACK_S = 300


def run(cfg):
    argv = [cfg.prog("sluice-soak"), "--duration", f"{cfg.soak_seconds:g}",
            "--rules", cfg.repo / "patterns" / "rules" / "default.yaml"]
    if cfg.quick:
        argv += QUICK_ABUSE
    cfg.say(f"soak: {cfg.soak_seconds:g} s of traffic, reloads every 100 ms and control-socket "
            "abuse")
    try:
        obj, r = proc.run_json(argv, cfg.soak_seconds + SLACK_S, log=cfg.log,
                               measured_failure=True)
    except StageError as e:
        return proc.from_error(e)
    result = {"status": "ok", "command": r.command, "seconds": r.seconds, **obj}
    failed = [c.get("name") for c in obj.get("checks", []) if not c.get("ok")]
    if failed or r.rc != 0:
        why = ("checks failed: " + ", ".join(failed)) if failed else (
            proc.measured_error(obj, r) or r.why())
        result.update(status="failed", error=why, stderr_tail=r.stderr_tail())
    return result
