#!/usr/bin/python3
"""Every way out of the daemon's AVX2 code clears the vectors' upper halves (TAP).

The UTF-8 check, the checked fold and the batch's checked copy have AVX2
versions (functions built with target("avx2"), utf8_blocks.h) among code built
for SSE. Leaving such a function with the upper halves of the ymm registers
still set, by a return, a call or a jump to another function, makes the SSE
code after it pay for them: GCC 12 once turned the copy's last call into a
jump without the vzeroupper before it, and the packet path with a pack that
scans raw text went from 112 to 215 ns a packet (sluice-path-bench, Zen 3).
Nothing else would notice: every result stays right.

This reads the built daemon's machine code (objdump -d) and follows each
function that touches a ymm register from its entry, instruction by
instruction along every branch: a ymm instruction sets the upper halves,
vzeroupper or vzeroall clears them, and every ret, call, and jump out of the
function must be reached with them clear on every path.
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap_checks import report  # noqa: E402

SOURCE = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("SLUICE_BUILD_ROOT", os.path.join(SOURCE, "build"))

FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
TARGET = re.compile(r"^([0-9a-f]+) <([^>+]+)(\+0x[0-9a-f]+)?>$")


def functions(binary):
    """{name: [(address, mnemonic, operands)]} in address order."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", binary], check=True,
                         capture_output=True, text=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            cur = funcs.setdefault(m.group(2), [])
            continue
        m = INSN.match(line)
        if m and cur is not None:
            cur.append((int(m.group(1), 16), m.group(2), m.group(3).split("#")[0].strip()))
    return funcs


def dirty_exits(name, insns):
    """The exits reached with the upper halves possibly set: [(address, what)]."""
    index = {addr: i for i, (addr, _, _) in enumerate(insns)}
    # Upper halves possibly set on entry to each instruction (None: not reached).
    state = [None] * len(insns)
    state[0] = False
    work = [0]
    bad = set()

    def reach(i, dirty):
        if i >= len(insns):
            return
        if state[i] is None or (dirty and not state[i]):
            state[i] = dirty if state[i] is None else True
            work.append(i)

    while work:
        i = work.pop()
        addr, op, args = insns[i]
        dirty = state[i]
        if op in ("vzeroupper", "vzeroall"):
            dirty = False
        elif "%ymm" in args:
            dirty = True
        target = TARGET.match(args)
        inside = target is not None and target.group(2) == name
        if op.startswith("ret"):
            if dirty:
                bad.add((addr, "ret"))
            continue
        if op.startswith("call"):
            if dirty:
                bad.add((addr, f"call {args}"))
            reach(i + 1, dirty)
            continue
        if op.startswith("j"):
            conditional = op != "jmp"
            if inside and int(target.group(1), 16) in index:
                reach(index[int(target.group(1), 16)], dirty)
            elif dirty:
                bad.add((addr, f"{op} {args}"))
            if conditional:
                reach(i + 1, dirty)
            continue
        if op in ("ud2", "hlt"):
            continue
        reach(i + 1, dirty)
    return sorted(bad)


def main():
    binary = os.path.join(BUILD, "dataplane", "sluice")
    results = []
    funcs = functions(binary)
    avx = {n: f for n, f in funcs.items() if any("%ymm" in a for _, _, a in f)}
    # The check itself must see the functions it exists for.
    expected = ["sluice_fold_checked_avx2", "sluice_batch_add_checked_avx2"]
    for name in expected:
        results.append((f"{name} is in the daemon and uses ymm registers", name in avx, ""))
    for name in sorted(avx):
        bad = dirty_exits(name, avx[name])
        why = "\n".join(f"left with the upper halves set at {addr:x}: {what}"
                        for addr, what in bad[:4])
        results.append((f"{name}: every exit clears the upper halves", not bad, why))
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
