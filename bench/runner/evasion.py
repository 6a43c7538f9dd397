"""Stage evasion: normalisation's recall and cost (issue 11).

Contract: runs `bench/evasion/recall.py --json` (the evasion corpus of
tests/data/evasion, generated from the pack's own examples, scanned by
`sluice-pack test` with and without normalisation, and the fortunes corpus for
false positives) and `sluice-norm-bench` (the batch scan as the worker runs
it against the same databases over the raw text, on the benchmark corpus, in
one process), and keeps both outputs whole. Recall is measured on the rule
file under test (--pack), whose examples make the corpus; a pack that does not
normalise is recorded as such, with the cost sub-stage skipped.
"""
import sys

from . import proc
from .proc import StageError


def recall(cfg):
    argv = [sys.executable if sys.executable.startswith("/usr/bin/") else "/usr/bin/python3",
            str(cfg.repo / "bench/evasion/recall.py"), "--json", "--pack", str(cfg.pack_rules),
            "--build", str(cfg.build)]
    obj, r = proc.run_json(argv, 600, log=cfg.log)
    obj["command"] = r.command
    return obj


def cost(cfg):
    argv = [cfg.prog("sluice-norm-bench"), "--pack", str(cfg.pack_a), "--corpus",
            str(cfg.corpus_txt), "--rounds", "3" if cfg.quick else "9"]
    r = proc.run(argv, 120 if cfg.quick else 900, log=cfg.log)
    if r.rc != 0 and "does not normalise" in r.stderr:
        return {"skipped": "the pack does not normalise", "command": r.command}
    obj = proc.parse_json_object(r.stdout) if r.rc == 0 and not r.timed_out else None
    if obj is None:
        raise StageError(r.why() if r.rc or r.timed_out else "sluice-norm-bench printed no JSON",
                         r.stderr_tail(), r.command)
    obj["command"] = r.command
    return obj


def run(cfg):
    result = {"status": "ok"}
    try:
        cfg.say("evasion: recall before and after normalisation, false positives (recall.py)")
        result["recall"] = recall(cfg)
        cfg.say("evasion: normalisation + scan against the scan alone (sluice-norm-bench)")
        result["cost"] = cost(cfg)
    except StageError as e:
        result.update(proc.from_error(e))
    return result
