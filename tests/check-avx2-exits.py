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

What GCC emits depends on the optimisation level: the same jump came back at
-O2 (meson's default build type here) where -O3 inlined the call. So the
sources that hold AVX2 code are also compiled again, with this build's own
command (compile_commands.json) at -O2 and -O3, and each object is checked
the same way. At other levels GCC inserts no vzeroupper at all, and the
build uses the SSE2 versions alone (meson.build, SLUICE_AVX2_OFF): there
the check is that nothing in the daemon calls its AVX2 code.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tap_checks import report  # noqa: E402

SOURCE = os.environ.get("SLUICE_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("SLUICE_BUILD_ROOT", os.path.join(SOURCE, "build"))

FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
INSN = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$")
TARGET = re.compile(r"^([0-9a-f]+) <([^>+]+)(\+0x[0-9a-f]+)?>$")
# In an object, a call or jump to another object's function is a relocation
# on the line after it (objdump -r): its displayed target means nothing.
RELOC = re.compile(r"^\s*[0-9a-f]+:\s+R_X86_64_(PLT32|PC32)\s+(\S+)")
# The sources with functions built for AVX2, each with the function the
# check must find in it; the levels at which the build uses them, compiled
# at again whatever the build's own level.
AVX2_SOURCES = {"patterns/scan/batch_scan.c": "sluice_batch_add_checked_avx2",
                "patterns/scan/normalize.c": "sluice_fold_checked_avx2"}
LEVELS = ["-O2", "-O3"]


def functions(binary):
    """{name: [(address, mnemonic, operands)]} in address order; a branch
    whose target is a relocation gets "<extern NAME>" as its operands."""
    out = subprocess.run(["objdump", "-dr", "--no-show-raw-insn", binary], check=True,
                         capture_output=True, text=True).stdout
    funcs, cur = {}, None
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            cur = funcs.setdefault(m.group(2), [])
            continue
        m = RELOC.match(line)
        if m and cur:
            addr, op, _ = cur[-1]
            if op.startswith(("call", "j")):
                cur[-1] = (addr, op, f"<extern {m.group(2)}>")
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


def check(where, funcs, expected):
    """Results for every function of funcs that uses ymm registers."""
    results = []
    avx = {n: f for n, f in funcs.items() if any("%ymm" in a for _, _, a in f)}
    # The check itself must see the functions it exists for.
    for name in expected:
        results.append((f"{name} is in {where} and uses ymm registers", name in avx, ""))
    for name in sorted(avx):
        bad = dirty_exits(name, avx[name])
        why = "\n".join(f"left with the upper halves set at {addr:x}: {what}"
                        for addr, what in bad[:4])
        results.append((f"{where}: {name}: every exit clears the upper halves", not bad, why))
    return results


def compile_at(source, level, out_dir):
    """source compiled with the build's own command at level: the object's
    path, or an error string."""
    entry = build_command(source)
    if entry is None:
        return f"no command for {source} in compile_commands.json"
    argv = shlex.split(entry["command"])
    obj = os.path.join(out_dir, os.path.basename(source) + level + ".o")
    out = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MQ"):
            skip = True
            continue
        if a == "-MD" or re.fullmatch(r"-O[0-3sgz]?", a):
            continue
        out.append(a)
    out += [level, "-o", obj]
    r = subprocess.run(out, cwd=entry["directory"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"{' '.join(out)}: {r.stderr.strip()[:400]}"
    return obj


def build_command(source):
    """The build's compile_commands.json entry for source's library object."""
    with open(os.path.join(BUILD, "compile_commands.json"), encoding="utf-8") as f:
        commands = json.load(f)
    return next((e for e in commands
                 if os.path.realpath(os.path.join(e["directory"], e["file"]))
                 == os.path.realpath(os.path.join(SOURCE, source))
                 and "libsluice_" in e.get("output", e["command"])), None)


def never_called(funcs):
    """For a build that leaves its AVX2 code out (SLUICE_AVX2_OFF): nothing in
    the daemon calls or jumps to a function of it."""
    avx = {n for n, f in funcs.items() if any("%ymm" in a for _, _, a in f)}
    callers = sorted({f"{caller} -> {m.group(2)}"
                      for caller, insns in funcs.items() if caller not in avx
                      for _, op, args in insns if op.startswith(("call", "j"))
                      for m in [TARGET.match(args)] if m and m.group(2) in avx})
    return [("the daemon (SLUICE_AVX2_OFF): nothing calls its AVX2 code", not callers,
             "\n".join(callers[:4]))]


def main():
    binary = os.path.join(BUILD, "dataplane", "sluice")
    entry = build_command(next(iter(AVX2_SOURCES)))
    if entry is not None and "-DSLUICE_AVX2_OFF" in shlex.split(entry["command"]):
        # A level at which GCC clears nothing (meson.build): the daemon's
        # AVX2 code is there but never chosen.
        results = never_called(functions(binary))
    else:
        results = check("the daemon", functions(binary), sorted(AVX2_SOURCES.values()))
    with tempfile.TemporaryDirectory(prefix="sluice-avx2-") as tmp:
        for source, function in AVX2_SOURCES.items():
            for level in LEVELS:
                obj = compile_at(source, level, tmp)
                where = f"{os.path.basename(source)} at {level}"
                if not obj.endswith(".o"):
                    results.append((f"{where} compiles", False, obj))
                    continue
                results += check(where, functions(obj), [function])
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
