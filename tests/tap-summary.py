#!/usr/bin/env python3
"""Counts individual test cases across meson test logs and prints the closing
'N passed, N failed' line. Each Criterion binary reports its cases as TAP; a
binary that crashed or timed out before reporting counts as one failure.

A build that failed (--broken NAME, from tests/run-tests.sh) counts as one
failure: its tests never ran.

Before that line it prints every failed case with Criterion's diagnostics
(the TAP comment lines after "not ok"): meson's console shows a TAP test's
stderr only, and CI keeps the console, not the log files."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
args = sys.argv[1:]
paths = []
while args:
    if args[0] == "--broken" and len(args) > 1:
        failed += 1
        failures.append((args[1], "-", [f"{args[1]} failed: its tests did not run"]))
        args = args[2:]
    else:
        paths.append(args.pop(0))
for path in paths:
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            entry = json.loads(line)
            out = entry.get("stdout", "") or ""
            ok = len(re.findall(r"^ok\b(?!.*# SKIP)", out, re.M))
            # "test was skipped" is Criterion's word for a case --filter left
            # out: it runs, and is counted, under another meson test of the
            # same binary (tests/meson.build, batch_equality).
            skip = len(re.findall(r"^ok\b.*# SKIP(?! test was skipped$)", out, re.M))
            bad = len(re.findall(r"^not ok\b", out, re.M))
            lines = out.splitlines()
            for i, text in enumerate(lines):
                if not text.startswith("not ok"):
                    continue
                detail = [text]
                # Criterion's diagnostics: a YAML block ("  ---" ... "  ...")
                # of indented lines, or "#" comments.
                for more in lines[i + 1:]:
                    if not (more.startswith(" ") or more.startswith("#")):
                        break
                    detail.append(more)
                failures.append((entry.get("name", "?"), path, detail[:40]))
            if entry.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
                bad = 1
                tail = (entry.get("stderr", "") or "").splitlines()[-20:]
                failures.append((entry.get("name", "?"), path,
                                 [f"{entry.get('result')} before reporting a case"] + tail))
            passed += ok
            skipped += skip
            failed += bad
for name, path, detail in failures:
    print(f"FAILED {name} ({path}):")
    for text in detail:
        print(f"    {text}")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
