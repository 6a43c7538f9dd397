"""PNG charts with gnuplot: throughput against workers and against rule count,
and the latency distribution.

Contract: make(cfg, results) writes the data files and PNGs into OUT/charts
(data files are kept: a reader can re-plot them) by running the scripts in
bench/charts with gnuplot, in that directory, with relative file names. A
chart whose stage produced no figure is left out and said so; a gnuplot that
fails or is missing makes the charts entry failed, with its stderr.
"""
import shutil

from . import proc, summary


def gp_str(s):
    return "'" + str(s).replace("'", "''") + "'"


def subtitle(results):
    m = results.get("machine") or {}
    cpu = (m.get("cpu") or {}).get("model") or "?"
    n = (m.get("cpu") or {}).get("usable_cpus")
    return f"{cpu}, {n} CPUs, {(m.get('date') or '')[:10]}"


def gnuplot(cfg, script, outdir, **variables):
    assigns = "; ".join(f"{k}={gp_str(v) if isinstance(v, str) else v}" for k, v in variables.items())
    assigns += f"; dir={gp_str(str(cfg.repo / 'bench/charts') + '/')}"
    r = proc.run(["gnuplot", "-e", assigns, cfg.repo / "bench/charts" / script], 60, log=cfg.log,
                 cwd=outdir)
    if r.rc != 0 or r.timed_out:
        raise proc.StageError(f"gnuplot {script}: {r.why()}", r.stderr_tail(), r.command)


def workers_chart(cfg, results, outdir):
    st = summary.stage(results, "whole_path") or {}
    runs = st.get("runs", [])
    ceiling = st.get("ceiling_msgs_per_s") or 0
    if not any(r.get("status") == "ok" for r in runs):
        return None, "no whole-path figure"
    modes = []
    for r in runs:
        if r.get("scan_mode") not in modes:
            modes.append(r.get("scan_mode"))
    table = {}
    for r in runs:
        v = r.get("msgs_per_s") if r.get("status") == "ok" else None
        table.setdefault(r["workers"], {})[r.get("scan_mode")] = v
    # Quoted column heads: gnuplot's columnhead() takes them whole.
    lines = ["workers " + " ".join(f'"sluice --scan {m}"' if m else '"sluice"' for m in modes)]
    for w in sorted(table):
        lines.append(f"{w} " + " ".join(f"{table[w].get(m):.1f}" if table[w].get(m) else "?"
                                         for m in modes))
    (outdir / "workers.dat").write_text("\n".join(lines) + "\n")
    gnuplot(cfg, "workers.gp", outdir, datafile="workers.dat", outfile="workers.png",
            ncols=len(modes) + 1, ceiling=float(ceiling), maxw=max(table),
            subtitle=subtitle(results))
    return "workers.png", None


def rules_chart(cfg, results, outdir):
    st = summary.stage(results, "scale") or {}
    entries = [e for e in st.get("entries", []) if e.get("status") == "ok"]
    if not entries:
        return None, "no scale figure"
    table = {}
    for e in entries:
        table.setdefault(e["rules"], {})[e["kind"]] = e.get("msgs_per_s")
    lines = ['rules "literal: one list rule of N entries" "regex: N rules"']
    for n in sorted(table):
        vals = [table[n].get(k) for k in ("literal", "regex")]
        lines.append(f"{n} " + " ".join(f"{v:.1f}" if v else "?" for v in vals))
    (outdir / "rules.dat").write_text("\n".join(lines) + "\n")
    gnuplot(cfg, "rules.gp", outdir, datafile="rules.dat", outfile="rules.png",
            subtitle=subtitle(results))
    return "rules.png", None


def latency_chart(cfg, results, outdir):
    st = summary.stage(results, "latency") or {}
    files, titles = [], []
    for e in st.get("rates", []):
        hist = e.get("histogram")
        if e.get("status") != "ok" or not hist:
            continue
        name = f"latency-{int(round(e['fraction'] * 100))}.dat"
        try:
            shutil.copyfile(hist, outdir / name)
        except OSError:
            continue
        files.append(name)
        lat = e.get("latency_us") or {}
        titles.append(f"{e['fraction']:.0%} of max ({summary.rate(e.get('rate_pps'), 'pkt/s')}, "
                      f"p99 {summary.num(lat.get('p99'), '{:,.1f}')} us)")
    if not files:
        return None, "no latency distribution"
    curves = {}
    for i, (f, t) in enumerate(zip(files, titles), 1):
        curves[f"file{i}"], curves[f"title{i}"] = f, t
    gnuplot(cfg, "latency.gp", outdir, n=len(files), **curves, outfile="latency.png",
            subtitle=subtitle(results))
    return "latency.png", None


def make(cfg, results):
    outdir = cfg.out / "charts"
    outdir.mkdir(parents=True, exist_ok=True)
    if not shutil.which("gnuplot"):
        return proc.failed("gnuplot not found (deploy/install-deps.sh installs gnuplot-nox)")
    made, left_out, errors = [], {}, []
    for fn in (workers_chart, rules_chart, latency_chart):
        try:
            png, why = fn(cfg, results, outdir)
        except proc.StageError as e:
            errors.append({"chart": fn.__name__, "error": str(e), "stderr_tail": e.stderr_tail})
            continue
        if png:
            made.append(str(outdir / png))
        else:
            left_out[fn.__name__.replace("_chart", "")] = why
    result = {"status": "ok" if not errors else "failed", "files": made, "left_out": left_out}
    if errors:
        result["error"] = "; ".join(e["error"] for e in errors)
        result["errors"] = errors
    return result
