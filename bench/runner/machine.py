"""The machine a run happened on, as results.json records it.

Contract: describe() never fails: a fact it cannot find is recorded as null,
because a figure without its machine is worth less than a figure with a gap
in the machine's description. Only read-only commands are run (git with
--no-optional-locks, so not even the index is refreshed).
"""
import datetime
import json
import os
import platform
import re
import shlex
import subprocess
from pathlib import Path


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _cmd(argv, cwd=None):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=cwd)
        return r.stdout.strip() if r.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu():
    info = _read("/proc/cpuinfo")
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.M)
    mhz = re.search(r"^cpu MHz\s*:\s*([\d.]+)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.M)
    flagset = set(flags.group(1).split()) if flags else set()
    # What Hyperscan's runtime dispatch picks between.
    simd = [f for f in ("ssse3", "sse4_2", "avx2", "avx512bw", "avx512vbmi") if f in flagset]
    return {
        "model": model.group(1).strip() if model else platform.processor() or None,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "mhz": float(mhz.group(1)) if mhz else None,
        "simd": simd,
        "hypervisor": "hypervisor" in flagset,
    }


def memory_kib():
    m = re.search(r"^MemTotal:\s*(\d+)\s*kB", _read("/proc/meminfo"), re.M)
    return int(m.group(1)) if m else None


def loadavg():
    parts = _read("/proc/loadavg").split()
    return [float(x) for x in parts[:3]] if len(parts) >= 3 else None


def versions(cfg):
    hs = None
    out = _cmd([str(cfg.prog("sluice-pack")), "--version"])
    if out:
        m = re.search(r"Hyperscan\s+(\S+)", out)
        hs = m.group(1) if m else out
    return {
        "dpdk": _cmd(["pkg-config", "--modversion", "libdpdk"]),
        "hyperscan": hs or _cmd(["pkg-config", "--modversion", "libhs"]),
        "pcre2": _cmd(["pkg-config", "--modversion", "libpcre2-8"]),
        "compiler": (_cmd(["cc", "--version"]) or "").splitlines()[0] or None,
        "python": platform.python_version(),
    }


def git(repo):
    commit = _cmd(["git", "--no-optional-locks", "rev-parse", "HEAD"], cwd=repo)
    status = _cmd(["git", "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], cwd=repo)
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def build_source(build):
    """The build's path and the commit of the tree it was built from (its
    meson-info names the source directory): a run with --build OLD measures
    OLD's code, whatever commit run-bench itself is at."""
    out = {"path": str(build), "source": None, "commit": None, "dirty": None}
    try:
        with open(Path(build) / "meson-info" / "meson-info.json", encoding="utf-8") as f:
            out["source"] = json.load(f)["directories"]["source"]
    except (OSError, ValueError, KeyError, TypeError):
        return out
    out.update(git(out["source"]))
    return out


def os_release():
    m = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', _read("/etc/os-release"), re.M)
    return m.group(1) if m else None


def describe(cfg):
    return {
        "hostname": platform.node(),
        "cpu": cpu(),
        "memory_kib": memory_kib(),
        "kernel": platform.release(),
        "os": os_release(),
        "versions": versions(cfg),
        "git": git(cfg.repo),
        "build": build_source(cfg.build),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": shlex.join(cfg.argv),
        "cwd": cfg.cwd,
        "loadavg_start": loadavg(),
    }
