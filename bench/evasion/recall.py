#!/usr/bin/python3
"""Recall on the evasion corpus (issue 11): the share of each
transformation's messages that their own rule still catches, with and
without normalisation. For the opt-in kinds (separators, digit_words,
homophones) recall is also given over the rules that opted into the kind,
which is what opting in promises.

  bench/evasion/recall.py [--pack PACK] [--corpus TSV] [--build DIR] [--json]

The corpus is tests/data/evasion/make-evasions.py's output (made afresh with
its default seed when --corpus is not given). Each message is scanned by
`sluice-pack test --json`, the analysts' tool, which scans as the gateway
does; a message counts as caught when the rule it was made from matches it
(another rule acting on it does not count).

"Before" is the same pack scanning messages as they are (`sluice-pack test
--no-normalize`: the same databases, no folding), "after" the pack as the
gateway runs it; one run, one pack, one corpus.

False positives: every fortune of Debian's fortunes and fortunes-zh
(/usr/share/games/fortunes, one message per fortune, lines joined, at most
500 characters) is scanned too, both ways; the share that any rule acts on (a
verdict other than pass) is reported, and the rise in points. Prints a table,
or one JSON object with --json.
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


def scan_docs(tool, pack, messages, normalize=True):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as f:
        f.write("".join(m + "\n" for m in messages))
        path = f.name
    try:
        argv = [tool, "test", pack, "--file", path, "--json"]
        if not normalize:
            argv.append("--no-normalize")
        r = subprocess.run(argv, capture_output=True, text=True)
    finally:
        Path(path).unlink()
    if r.returncode not in (0, 1):
        sys.exit(f"recall: sluice-pack test failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout)["messages"]


def opted_in(tool, pack):
    """{rule id: set of opt-in kinds} from `sluice-pack info --json -r`."""
    r = subprocess.run([tool, "info", "--json", "-r", pack], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"recall: sluice-pack info failed ({r.returncode}): {r.stderr.strip()}")
    return {x["id"]: set(x.get("opt_in", [])) for x in json.loads(r.stdout)["rule_list"]}


def scan(tool, pack, messages, normalize=True):
    return [{m["rule"] for m in msg.get("matches", [])}
            for msg in scan_docs(tool, pack, messages, normalize)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pack", default=str(REPO / "patterns/packs/all.yaml"))
    ap.add_argument("--corpus")
    ap.add_argument("--build", default=str(REPO / "build"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lines = corpus_lines(args.corpus)
    tool = str(Path(args.build) / "patterns/sluice-pack")
    optin = opted_in(tool, args.pack)
    stats = {}
    for when, normalize in (("before", False), ("after", True)):
        matched = scan(tool, args.pack, [m for _, _, m in lines], normalize)
        if len(matched) != len(lines):
            sys.exit(f"recall: {len(lines)} messages sent, {len(matched)} scanned")
        for (kind, rule, _), rules in zip(lines, matched):
            s = stats.setdefault(kind, {"messages": 0, "before": 0, "after": 0})
            s["messages"] += when == "before"
            s[when] += rule in rules
            if kind in OPT_IN and kind in optin.get(rule, ()):
                o = s.setdefault("opted_in", {"rules": set(), "messages": 0, "before": 0,
                                              "after": 0})
                o["rules"].add(rule)
                o["messages"] += when == "before"
                o[when] += rule in rules
    for s in stats.values():
        s["recall_before"] = s["before"] / s["messages"]
        s["recall_after"] = s["after"] / s["messages"]
        o = s.get("opted_in")
        if o:
            o["rules"] = sorted(o["rules"])
            o["recall_before"] = o["before"] / o["messages"]
            o["recall_after"] = o["after"] / o["messages"]
    benign = fortunes()
    fp = {"messages": len(benign)}
    for when, normalize in (("before", False), ("after", True)):
        acted = sum(m["verdict"] != "pass"
                    for m in scan_docs(tool, args.pack, benign, normalize))
        fp[f"acted_{when}"] = acted
        fp[f"share_{when}"] = acted / len(benign) if benign else None
    if benign:
        fp["rise_points"] = 100 * (fp["share_after"] - fp["share_before"])
    result = {"pack": args.pack, "corpus": args.corpus or "make-evasions.py (default seed)",
              "transformations": {k: stats[k] for k in ORDER if k in stats},
              "false_positives": fp}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{'transformation':<14} {'kind':<7} {'messages':>8} {'before':>7} {'after':>7}")
    for k, s in result["transformations"].items():
        kind = "opt-in" if k in OPT_IN else ("-" if k == "original" else "narrow")
        print(f"{k:<14} {kind:<7} {s['messages']:>8} {s['recall_before']:>7.1%} "
              f"{s['recall_after']:>7.1%}")
        o = s.get("opted_in")
        if o:
            print(f"  rules that opted in ({len(o['rules'])}): {o['messages']:>8} "
                  f"{o['recall_before']:>7.1%} {o['recall_after']:>7.1%}")
    if benign:
        print(f"false positives: {fp['acted_before']} of {fp['messages']} fortunes acted on "
              f"before ({fp['share_before']:.2%}), {fp['acted_after']} after "
              f"({fp['share_after']:.2%}): {fp['rise_points']:+.2f} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
