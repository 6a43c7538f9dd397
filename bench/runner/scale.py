"""Stage scale: compile time, pack size, memory and throughput against rule count.

Contract: for each kind (literal: one list rule of N entries; regex: N
pattern rules) and each size in cfg.scale_sizes, bench/scale/gen-scale-pack
writes the rule file, `sluice-pack compile` compiles it under a time limit
(cfg.scale_timeout_s) and `sluice-scan-bench --stages ceiling,batch` scans the
scale corpus with the pack. A compile that exceeds the limit, or is killed
(out of memory), is recorded as "not_measured" with the reason, and so are
the larger sizes of its kind (they would only take longer and need more):
the stage never hangs and never pretends.

All sizes scan one corpus, OUT/scale/corpus.txt: the main corpus's seed, size
and violation share, with violations drawn from the examples of the first
SNIPPETS titles and regex rules. gen-scale-pack is prefix-stable (the first
rules of every size are the same), so those snippets match at every size and
each pack finds violations in about half of the violating messages (the other
half carry the other kind's snippets).
"""
import os
import signal

from . import corpus, proc
from .proc import StageError
from .scan import figures as scan_figures, run_scan_bench

KINDS = ["literal", "regex"]
SNIPPETS = 50


def gen_pack(cfg, kind, n, outdir, snippets_out=None):
    argv = [cfg.repo / "bench/scale/gen-scale-pack", "--kind", kind, "--rules", n, "--out", outdir]
    if snippets_out:
        argv += ["--snippets", SNIPPETS, "--snippets-out", snippets_out]
    r = proc.run(argv, 900, log=cfg.log)
    if r.rc != 0 or r.timed_out:
        raise StageError(f"gen-scale-pack: {r.why()}", r.stderr_tail(), r.command)
    return r.stdout.strip().splitlines()[-1]


def scale_corpus(cfg, outdir):
    """The snippets of both kinds, then the corpus that carries them."""
    snippet_file = outdir / "violations.txt"
    lines = []
    for kind in KINDS:
        part = outdir / f"violations-{kind}.txt"
        gen_pack(cfg, kind, min(cfg.scale_sizes), outdir / "snippets", part)
        lines += [line for line in part.read_text(encoding="utf-8").splitlines() if line]
    snippet_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    pcap, txt = outdir / "corpus.pcap", outdir / "corpus.txt"
    gen = corpus.generate(cfg, pcap, txt, snippet_file, log_name="scale corpus")
    return txt, {"text": str(txt), "snippets": str(snippet_file), "snippet_count": len(lines),
                 "generator": gen}


def measure(cfg, kind, n, outdir, corpus_txt):
    entry = {"kind": kind, "rules": n, "unit": "list entries" if kind == "literal" else "regex rules"}
    cfg.say(f"scale: {kind} x {n:,}")
    yaml = gen_pack(cfg, kind, n, outdir)
    pack = outdir / f"{kind}-{n}.pack"
    argv = [cfg.prog("sluice-pack"), "compile", "--json", yaml, "-o", pack]
    r = proc.run(argv, cfg.scale_timeout_s, log=cfg.log)
    entry["compile_command"] = r.command
    if r.timed_out:
        entry.update(status="not_measured",
                     reason=f"not measured: compile exceeded {cfg.scale_timeout_s:.0f} s")
        return entry
    if r.rc == -signal.SIGKILL:
        # The kernel's OOM killer, most likely: a size this machine cannot
        # compile, which is a finding, not a failure of the benchmark.
        entry.update(status="not_measured",
                     reason=f"not measured: compile killed after {r.seconds:.0f} s "
                            f"(SIGKILL: out of memory?), peak RSS {r.max_rss_kib} KiB")
        return entry
    if r.rc != 0:
        raise StageError(f"compile: {r.why()}", r.stderr_tail(), r.command)
    compiled = proc.parse_json_object(r.stdout) or {}
    entry.update({
        "compile_s": r.seconds,
        "compile_ms_reported": compiled.get("compile_ms"),
        "compile_peak_rss_kib": r.max_rss_kib,
        "pack_bytes": os.path.getsize(pack),
        "db_bytes": compiled.get("db_bytes"),
    })
    obj, sr = run_scan_bench(cfg, pack, corpus_txt, stages=["ceiling", "batch"],
                             timeout_s=cfg.scale_timeout_s)
    p = obj.get("pack") or {}
    f = scan_figures(obj)
    entry.update({
        "scratch_bytes": p.get("scratch_bytes"),
        "databases": p.get("databases"),
        "load_ms": p.get("load_ms"),
        "rss_kib": p.get("rss_kib"),
        "peak_rss_kib": p.get("peak_rss_kib"),
        "ceiling": f.get("ceiling"),
        "batch": f.get("batch"),
        "scan_command": sr.command,
        "status": "ok",
    })
    err = proc.measured_error(obj, sr)
    if err:
        entry.update(status="failed", error=err, stderr_tail=sr.stderr_tail())
    c = f.get("ceiling") or {}
    entry["msgs_per_s"] = c.get("msgs_per_s")
    messages = (obj.get("corpus") or {}).get("messages")
    acted = (f.get("batch") or {}).get("acted_messages")
    entry["acted_share"] = acted / messages if acted is not None and messages else None
    if not entry["msgs_per_s"] and entry["status"] == "ok":
        entry.update(status="failed", error="sluice-scan-bench gave no ceiling figure")
    return entry


def run(cfg):
    outdir = cfg.out / "scale"
    outdir.mkdir(parents=True, exist_ok=True)
    try:
        corpus_txt, corpus_info = scale_corpus(cfg, outdir)
    except StageError as e:
        return proc.from_error(e)
    entries = []
    for kind in KINDS:
        too_slow = None
        for n in cfg.scale_sizes:
            if too_slow:
                entries.append({"kind": kind, "rules": n, "status": "not_measured",
                                "reason": f"not measured: the {too_slow:,}-rule compile was "
                                          "not measured either"})
                continue
            try:
                e = measure(cfg, kind, n, outdir, corpus_txt)
            except StageError as err:
                e = {"kind": kind, "rules": n, **proc.from_error(err)}
            if e.get("status") == "not_measured":
                too_slow = n
            entries.append(e)
    result = {"status": "ok", "corpus": corpus_info, "time_limit_s": cfg.scale_timeout_s,
              "entries": entries}
    bad = [e for e in entries if e.get("status") == "failed"]
    if bad:
        result["status"] = "failed"
        result["error"] = "; ".join(f"{e['kind']} {e['rules']:,}: {e.get('error')}" for e in bad)
    return result
