"""The terminal table: stage, figure, value, ratio/target; then the targets.

Contract: render(results) returns the text run-bench prints at the end (and
writes to OUT/table.txt): the machine in one line, one aligned row per
figure (summary.rows), the targets with met / NOT met / not measured, and
the stages that failed. Plain ASCII columns, so it reads the same in a
terminal, a CI log and a README code block.
"""
from . import summary

HEAD = ["stage", "figure", "value", "ratio / target"]
MAX_WIDTH = [10, 44, 62, 1000]  # the last column is never cut


def clip(text, width):
    text = str(text)
    return text if len(text) <= width else text[: width - 1] + "~"


def grid(rows, head):
    rows = [[clip(c, MAX_WIDTH[i]) for i, c in enumerate(r)] for r in rows]
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) if rows else len(head[i])
              for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip(), line]
    prev = None
    for r in rows:
        cells = list(r)
        if cells[0] == prev:
            cells[0] = ""  # the stage name once per group
        else:
            prev = cells[0]
        out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip())
    return out


def machine_line(results):
    m = results.get("machine") or {}
    cpu = m.get("cpu") or {}
    v = m.get("versions") or {}
    mem = m.get("memory_kib")
    git = m.get("git") or {}
    vm = ", VM" if cpu.get("hypervisor") else ""
    memory = f"{mem / 1048576:.0f} GiB" if mem else "? GiB"
    dirty = " (modified)" if git.get("dirty") else ""
    build = m.get("build") or {}
    built = ""
    if build.get("commit") and build.get("commit") != git.get("commit"):
        # --build OLD: the figures are OLD's code.
        built = (f", programs built from commit {build['commit'][:12]}"
                 f"{' (modified)' if build.get('dirty') else ''}")
    return (f"{cpu.get('model')} ({cpu.get('usable_cpus')} usable CPUs{vm}), {memory}, "
            f"Linux {m.get('kernel')}, DPDK {v.get('dpdk')}, Hyperscan {v.get('hyperscan')}, "
            f"commit {(git.get('commit') or '?')[:12]}{dirty}{built}")


def render(results):
    out = [f"Sluice benchmark{' (--quick: a smoke test, not figures)' if results.get('config', {}).get('quick') else ''}",
           machine_line(results), ""]
    out += grid(summary.rows(results), HEAD)
    out += ["", "Targets (measured, never asserted):"]
    if not results.get("targets"):
        out.append("  none: the stages they are about did not run")
    for t in results.get("targets", []):
        val = summary.num(t["measured"], "{:,.3g}")
        note = f"  [{t['note']}]" if t.get("note") else ""
        if t["goal"] == "stated":
            out.append(f"  {t['target']}: {val} (stated){note}")
            continue
        state = "not measured" if t["met"] is None else ("met" if t["met"] else "NOT met")
        out.append(f"  {t['target']}: {val} (goal {t['goal']}): {state}{note}")
    for w in (results.get("setup") or {}).get("warnings", []):
        out += ["", "WARNING: " + w]
    failed = results.get("failed_stages") or []
    if failed:
        out += ["", "Failed stages: " + ", ".join(failed) + " (errors and stderr tails in results.json)"]
    return "\n".join(out) + "\n"
