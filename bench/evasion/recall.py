#!/usr/bin/python3
"""Recall on the evasion corpus (issue 11): the share of each
transformation's messages that their own rule still catches.

  bench/evasion/recall.py [--pack PACK] [--corpus TSV] [--build DIR] [--json]

The corpus is tests/data/evasion/make-evasions.py's output (made afresh with
its default seed when --corpus is not given). Each message is scanned by
`sluice-pack test --json`, the analysts' tool, which scans as the gateway
does; a message counts as caught when the rule it was made from matches it
(another rule acting on it does not count).

False positives: every fortune of Debian's fortunes and fortunes-zh
(/usr/share/games/fortunes, one message per fortune, lines joined, at most
500 characters) is scanned too; the share that any rule acts on (a verdict
other than pass) is reported. Prints a table, or one JSON object with --json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ORDER = ["original", "fullwidth", "enclosed", "invisible", "traditional", "lookalike", "case",
         "separators", "digit_words", "homophones"]
OPT_IN = {"separators", "digit_words", "homophones"}


def corpus_lines(path):
    if path:
        text = Path(path).read_text(encoding="utf-8")
    else:
        r = subprocess.run(["/usr/bin/python3", str(REPO / "tests/data/evasion/make-evasions.py")],
                           check=True, capture_output=True, text=True)
        text = r.stdout
    out = []
    for line in text.splitlines():
        kind, rule, msg = line.split("\t", 2)
        out.append((kind, rule, msg))
    return out


FORTUNES = Path("/usr/share/games/fortunes")


def fortunes():
    """Benign messages: each fortune, lines joined, in file order."""
    out = []
    files = sorted(p for p in FORTUNES.rglob("*")
                   if p.is_file() and not p.suffix and not os.path.islink(p))
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for f in text.split("\n%\n"):
            msg = " ".join(f.split())[:500]
            if msg:
                out.append(msg)
    return out


def scan_docs(tool, pack, messages):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("".join(m + "\n" for m in messages))
        path = f.name
    try:
        r = subprocess.run([tool, "test", pack, "--file", path, "--json"], capture_output=True,
                           text=True)
    finally:
        Path(path).unlink()
    if r.returncode not in (0, 1):
        sys.exit(f"recall: sluice-pack test failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout)["messages"]


def scan(tool, pack, messages):
    return [{m["rule"] for m in msg.get("matches", [])} for msg in scan_docs(tool, pack, messages)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(REPO / "patterns/packs/all.yaml"))
    ap.add_argument("--corpus")
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lines = corpus_lines(args.corpus)
    tool = str(Path(args.build) / "patterns/sluice-pack")
    matched = scan(tool, args.pack, [m for _, _, m in lines])
    if len(matched) != len(lines):
        sys.exit(f"recall: {len(lines)} messages sent, {len(matched)} scanned")
    stats = {}
    for (kind, rule, _), rules in zip(lines, matched):
        s = stats.setdefault(kind, {"messages": 0, "caught": 0})
        s["messages"] += 1
        s["caught"] += rule in rules
    for s in stats.values():
        s["recall"] = s["caught"] / s["messages"]
    benign = fortunes()
    acted = sum(m["verdict"] != "pass" for m in scan_docs(tool, args.pack, benign))
    result = {"pack": args.pack, "corpus": args.corpus or "make-evasions.py (default seed)",
              "transformations": {k: stats[k] for k in ORDER if k in stats},
              "false_positives": {"messages": len(benign), "acted_on": acted,
                                  "share": acted / len(benign) if benign else None}}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'transformation':<14} {'kind':<7} {'messages':>8} {'caught':>7} {'recall':>7}")
    for k, s in result["transformations"].items():
        kind = "opt-in" if k in OPT_IN else ("-" if k == "original" else "narrow")
        print(f"{k:<14} {kind:<7} {s['messages']:>8} {s['caught']:>7} {s['recall']:>7.1%}")
    fp = result["false_positives"]
    if fp["messages"]:
        print(f"false positives: {fp['acted_on']} of {fp['messages']} fortunes acted on "
              f"({fp['share']:.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
