#!/usr/bin/env python3
"""Counts individual test cases across meson test logs and prints the closing
'N passed, N failed' line. Each Criterion binary reports its cases as TAP; a
binary that crashed or timed out before reporting counts as one failure."""
import json
import re
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
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
            if entry.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
                bad = 1
            passed += ok
            skipped += skip
            failed += bad
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
