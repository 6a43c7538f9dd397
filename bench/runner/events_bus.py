"""Stage events_bus: events per second published to NATS JetStream (issue 14).

Contract: runs `sluice-event-bus-bench` (a worker's ring of match events
drained through the sink into the bus, as the control thread does; its own
one-node nats-server with JetStream on loopback) and keeps its JSON whole:
`direct_events_per_s` (bus up, no spool: first event drained to last one
acknowledged), `spool_write_events_per_s` (bus down: events into the spool
file) and `spool_drain_events_per_s` (bus back: the spool to acknowledged).
Not in the default stage list: it needs nats-server (Debian: nats-server);
ask for it with --stages events_bus.
"""
from . import proc
from .proc import StageError


def run(cfg):
    argv = [cfg.prog("sluice-event-bus-bench"),
            "--events", 20000 if cfg.quick else 100000, "--rounds", 3 if cfg.quick else 5]
    try:
        cfg.say("events_bus: events/s to NATS JetStream, with and without the spool "
                "(sluice-event-bus-bench)")
        obj, r = proc.run_json([str(a) for a in argv], 300 if cfg.quick else 900, log=cfg.log)
    except StageError as e:
        return proc.from_error(e)
    return {"status": "ok", "command": r.command, "program_output": obj}
