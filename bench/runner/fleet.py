"""Stage fleet: time from `sluicectl fleet publish` to every gateway running the
new pack (issue 14).

Contract: runs `sluice-fleet-bench` (its own one-node nats-server with
JetStream on loopback, three sluice daemons on net_ring ports in groups
canary (1) and main (2), every pack signed and checked) and keeps its JSON
whole: for `at_once` (every group together) and `staged_hold_0` (canary, then
main, no hold), `publish_to_all_running_ms` (from the command's start until
the last gateway reports the new pack in force in the status bucket) and
`publish_command_ms` (until the command returns), each with median, min, max
and every run. Not in the default stage list: it needs nats-server (Debian:
nats-server); ask for it with --stages fleet.
"""
from . import proc
from .proc import StageError


def run(cfg):
    argv = [cfg.prog("sluice-fleet-bench"), "--build", cfg.build,
            "--rules", cfg.repo / "patterns" / "rules" / "default.yaml",
            "--publishes", 3 if cfg.quick else 7]
    try:
        cfg.say("fleet: publish to all three gateways running the pack (sluice-fleet-bench)")
        obj, r = proc.run_json([str(a) for a in argv], 300 if cfg.quick else 600, log=cfg.log)
    except StageError as e:
        return proc.from_error(e)
    return {"status": "ok", "command": r.command, "program_output": obj}
