#!/usr/bin/python3
"""TAP checks of the evasion corpus generator (make-evasions.py): the same
seed gives the same corpus and another seed another one; every evasive line
differs from the example it was made from and names a rule of the packs;
every transformation produced lines."""
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PACKS = HERE.parents[2] / "patterns" / "packs"
KINDS = ["fullwidth", "enclosed", "invisible", "traditional", "lookalike", "case",
         "separators", "digit_words", "homophones"]


def run(seed):
    r = subprocess.run(["/usr/bin/python3", str(HERE / "make-evasions.py"), "--seed", str(seed)],
                       capture_output=True, text=True, check=True)
    return r.stdout


def main():
    checks = []
    a, b, c = run(7), run(7), run(8)
    checks.append(("the same seed gives the same corpus", a == b))
    checks.append(("another seed gives another corpus", a != c))
    rules = set()
    for p in PACKS.glob("*.yaml"):
        for r in (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("rules") or []:
            rules.add(r["id"])
    lines = [line.split("\t", 2) for line in a.splitlines()]
    checks.append(("every line has three fields", all(len(x) == 3 for x in lines)))
    checks.append(("every line names a rule of the packs", all(x[1] in rules for x in lines)))
    # Each evasive line follows the original it was made from.
    bad = 0
    original = None
    for kind, rule, text in lines:
        if kind == "original":
            original = (rule, text)
        elif original is None or original[0] != rule or original[1] == text:
            bad += 1
    checks.append(("every evasive line differs from its example, and follows it", bad == 0))
    kinds = {x[0] for x in lines}
    missing = [k for k in KINDS if k not in kinds]
    checks.append((f"every transformation made lines (missing: {missing or 'none'})", not missing))
    print(f"1..{len(checks)}")
    for i, (name, ok) in enumerate(checks, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
