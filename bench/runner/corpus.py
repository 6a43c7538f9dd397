"""Setup: the packs and the corpus every stage measures.

Contract: setup(cfg) compiles the pack under test (and, when the swap stage
runs, a second pack to swap with), writes its `matches:` examples as the
violation snippets (none: the corpus carries no violations, with a warning),
makes sure Debian's fortunes and fortunes-zh are there (installing them as
root; a warning in the results if it cannot), generates OUT/corpus.pcap and
OUT/corpus.txt with sluice-gen (fixed seed: two machines with the same
packages run the same bytes; --text: cut from the user's messages instead),
and describes all of it. With --capture nothing is generated: the capture is
the corpus, and its messages, decoded as the gateway decodes them, are the
text corpus; the results say what it holds (packets, messages, bytes, other
traffic). It fills cfg.corpus_pcap, cfg.corpus_txt, cfg.pack_a, cfg.pack_b and
cfg.pack_a_source. Unlike the measuring stages, a failure here is raised
(StageError): nothing can be measured without a corpus and a pack.
"""
import os
import re
import statistics
import struct
from pathlib import Path

from . import proc
from .proc import StageError

PCAP_MAGICS = {0xA1B2C3D4: "<", 0xD4C3B2A1: ">", 0xA1B23C4D: "<", 0x4D3CB2A1: ">"}


def pcap_records(path, data=False):
    """Reads a classic pcap file in Python, so the orchestrator needs nothing
    but the standard library: yields its 24-byte file header, then each record
    as (its 16-byte record header, the packet's wire length, the packet's
    bytes when data, else None). Raises StageError when path is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            raise StageError(f"{path}: not a pcap file")
        magic = struct.unpack("<I", head[:4])[0]
        if magic not in PCAP_MAGICS:
            raise StageError(f"{path}: not a classic pcap file (pcapng? convert it: "
                             "editcap -F pcap IN OUT)")
        rec = struct.Struct(PCAP_MAGICS[magic] + "IIII")
        yield head
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            _, _, caplen, wirelen = rec.unpack(h)
            if data:
                yield h, wirelen, f.read(caplen)
            else:
                f.seek(caplen, os.SEEK_CUR)
                yield h, wirelen, None


def pcap_stats(path):
    """Packets and bytes of a classic pcap file. Wire bytes per packet turn
    the daemon's packet counts into Gbit/s on the wire."""
    records = pcap_records(path)
    next(records)
    sizes = [wirelen for _, wirelen, _ in records]
    if not sizes:
        raise StageError(f"{path}: no packets")
    return {
        "packets": len(sizes),
        "bytes": sum(sizes),
        "mean_packet_bytes": sum(sizes) / len(sizes),
        "max_packet_bytes": max(sizes),
    }


def text_stats(path):
    """Message count and the length mix of `msg_id<TAB>text` lines."""
    lengths = []
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            tab = line.find(b"\t")
            lengths.append(len(line) - tab - 1 if tab >= 0 else len(line))
    if not lengths:
        raise StageError(f"{path}: no messages")
    lengths.sort()

    def pct(p):
        return lengths[min(len(lengths) - 1, int(p / 100 * len(lengths)))]

    return {
        "messages": len(lengths),
        "bytes": sum(lengths),
        "mean_bytes": statistics.fmean(lengths),
        "p50_bytes": pct(50),
        "p90_bytes": pct(90),
        "p99_bytes": pct(99),
        "max_bytes": lengths[-1],
        "share_10_to_60_bytes": sum(1 for n in lengths if 10 <= n <= 60) / len(lengths),
    }


GEN_SUMMARY = re.compile(
    r"(\d+) datagrams, (\d+) messages, (\d+) violations, (\d+) non-message packets, (\d+) bytes"
    r"(?: \(corpus: (\d+) pieces from (\d+) files\))?")


def generate(cfg, pcap, txt, snippets, count=None, log_name="corpus", violations_pct=None):
    """Runs sluice-gen; returns its own summary (messages, violations...)."""
    pct = cfg.violations_pct if violations_pct is None else violations_pct
    argv = [cfg.prog("sluice-gen"), "-o", pcap, "--text-out", txt, "-s", cfg.seed,
            "-n", count or cfg.packets, "--frames", cfg.frames, "--violations", pct]
    if snippets:
        argv += ["--violations-from", snippets]
    if cfg.text:
        argv += ["--corpus", cfg.text]
    r = proc.run(argv, 300, log=cfg.log)
    if r.rc != 0 or r.timed_out:
        raise StageError(f"{log_name}: {r.why()}", r.stderr_tail(), r.command)
    m = GEN_SUMMARY.search(r.stderr)
    summary = {"command": r.command}
    if m:
        keys = ["datagrams", "messages", "violations", "other_packets", "bytes",
                "text_pieces", "text_files"]
        summary.update((k, int(v)) for k, v in zip(keys, m.groups()) if v is not None)
    return summary


def compile_pack(cfg, rules, out, timeout_s=600):
    """sluice-pack compile --json; returns its JSON plus the wall time."""
    obj, r = proc.run_json([cfg.prog("sluice-pack"), "compile", "--json", rules, "-o", out],
                           timeout_s, log=cfg.log)
    obj["wall_s"] = r.seconds
    return obj


def pack_info(cfg, pack):
    obj, _ = proc.run_json([cfg.prog("sluice-pack"), "info", "--json", pack], 120, log=cfg.log)
    keep = ["name", "version", "sha256", "rules", "db_bytes", "scratch_bytes_per_worker",
            "resident_kib", "databases", "kinds", "actions"]
    return {k: obj.get(k) for k in keep}


CORPUS_PACKAGES = ["fortunes", "fortunes-zh"]


def package_versions(packages):
    """{package: version or None (not installed)}; None for all when dpkg
    is not there to ask."""
    out = {}
    for pkg in packages:
        r = proc.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}|${Version}", pkg], 30)
        status, _, version = r.stdout.partition("|")
        out[pkg] = version.strip() if r.rc == 0 and status.startswith("ii") else None
    return out


def ensure_corpus_text(cfg):
    """The corpus is Debian's fortune files: installs them (with the rest of
    the benchmark's dependencies, deploy/install-deps.sh) when they are
    missing and this is root. Returns (versions, warning or None)."""
    versions = package_versions(CORPUS_PACKAGES)
    missing = [p for p, v in versions.items() if v is None]
    if missing and os.geteuid() == 0:
        cfg.say(f"installing {' '.join(missing)} (deploy/install-deps.sh)")
        proc.run([cfg.repo / "deploy/install-deps.sh"], 900, log=cfg.log)
        versions = package_versions(CORPUS_PACKAGES)
        missing = [p for p, v in versions.items() if v is None]
    if not missing:
        return versions, None
    return versions, (f"{', '.join(missing)} not installed (run deploy/install-deps.sh as root): "
                      "the corpus is cut from what sluice-gen found instead, so its bytes differ "
                      "from other machines'")


def capture_corpus(cfg, pack, capture, txt):
    """The messages of a user's capture, as the gateway decodes them
    (`sluice-pack test --pcap --json`), into `msg_id<TAB>text` lines; what the
    capture holds. Messages with a line break or a tab cannot be a line of
    the text corpus and are counted, not written."""
    argv = [cfg.prog("sluice-pack"), "test", "--json", pack, "--pcap", capture,
            "--udp-port", cfg.udp_port]
    r = proc.run([str(a) for a in argv], 900, log=cfg.log)
    obj = proc.parse_json_object(r.stdout) if r.rc in (0, 1) else None
    if obj is None or "messages" not in obj:
        raise StageError(f"reading {capture}: {r.why() if r.rc else 'no messages'}",
                         r.stderr_tail(), r.command)
    written = left_out = unscanned = 0
    with open(txt, "w", encoding="utf-8") as out:
        for i, m in enumerate(obj["messages"]):
            text = m.get("text")
            if not m.get("scanned") or text is None:
                unscanned += 1
                continue
            if "\n" in text or "\t" in text or "\r" in text:
                left_out += 1
                continue
            out.write(f"{m.get('msg_id', i + 1)}\t{text}\n")
            written += 1
    if written == 0:
        raise StageError(f"{capture}: no message the gateway would scan (UDP frames to port "
                         f"{cfg.udp_port}; give --udp-port for another)")
    totals = obj.get("totals") or {}
    return {"messages": totals.get("messages"), "in_text_corpus": written,
            "left_out_with_line_breaks": left_out, "not_valid_utf8": unscanned,
            "packets": totals.get("packets"), "datagrams": totals.get("datagrams"),
            "dropped_datagrams": totals.get("dropped_datagrams"),
            "other_packets": totals.get("other_packets"),
            "other_share": (totals.get("other_packets") or 0) / totals["packets"]
            if totals.get("packets") else None,
            "verdicts": {k: totals.get(k) for k in ("pass", "flag", "mask", "block")},
            "command": r.command}


def is_rule_file(path):
    return Path(path).suffix in (".yaml", ".yml")


def swap_partner_yaml(cfg, rules, info, path):
    """The second pack for the swap stage: the same rules under another
    version, so every reload replaces a pack of the same size and cost."""
    version = f"{info.get('version') or '0'}-bench-b"
    name = info.get("name") or "bench"
    text = (
        "# Written by bench/run-bench: the pack under test with another version,\n"
        "# the partner it is swapped with every 100 ms in the swap stage.\n"
        f"name: {name}\n"
        f'version: "{version}"\n'
        "include:\n"
        "  - '" + str(rules).replace("'", "''") + "'\n"
    )
    path.write_text(text, encoding="utf-8")


def setup(cfg):
    # A capture of one's own is read, not generated: sluice-gen is not needed.
    missing = cfg.missing_programs(["sluice-pack"] if cfg.capture else ["sluice-gen", "sluice-pack"])
    if missing:
        raise StageError(
            "not built: " + ", ".join(missing)
            + f" (build first: meson setup {cfg.build} && ninja -C {cfg.build})")
    if not cfg.pack_rules.exists():
        raise StageError(f"{cfg.pack_rules}: no such pack or rule file")
    packs = cfg.out / "packs"
    packs.mkdir(parents=True, exist_ok=True)
    result = {"status": "ok"}

    # Pack A, the pack under test.
    cfg.say(f"compiling {cfg.pack_rules}")
    if is_rule_file(cfg.pack_rules):
        cfg.pack_a = packs / "main.pack"
        result["compile"] = compile_pack(cfg, cfg.pack_rules, cfg.pack_a)
        cfg.pack_a_source = cfg.pack_rules
    else:
        cfg.pack_a = cfg.pack_rules
        cfg.pack_a_source = cfg.pack_rules
    info = pack_info(cfg, cfg.pack_a)
    result["pack"] = {"rules_file": str(cfg.pack_rules), "pack": str(cfg.pack_a), **info}

    # Pack B, only for the swap stage.
    if "swap" in cfg.stages:
        if cfg.pack_b_rules:
            if is_rule_file(cfg.pack_b_rules):
                cfg.pack_b = packs / "swap-b.pack"
                compile_pack(cfg, cfg.pack_b_rules, cfg.pack_b)
            else:
                cfg.pack_b = cfg.pack_b_rules
            how = f"given: {cfg.pack_b_rules}"
        elif is_rule_file(cfg.pack_rules):
            yaml_b = packs / "swap-b.yaml"
            swap_partner_yaml(cfg, cfg.pack_rules, info, yaml_b)
            cfg.pack_b = packs / "swap-b.pack"
            compile_pack(cfg, yaml_b, cfg.pack_b)
            how = "the pack under test with another version (same rules, same size)"
        else:
            cfg.pack_b = cfg.pack_a
            how = "the pack under test itself (give --pack-b for a different one)"
        b = pack_info(cfg, cfg.pack_b)
        result["swap_pack"] = {"pack": str(cfg.pack_b), "how": how,
                               "name": b.get("name"), "version": b.get("version"),
                               "rules": b.get("rules")}

    if cfg.capture:
        # Bring your own capture: nothing is generated.
        cfg.say(f"reading the capture {cfg.capture}")
        cfg.corpus_pcap = cfg.capture
        cfg.corpus_txt = cfg.out / "corpus.txt"
        contents = capture_corpus(cfg, cfg.pack_a, cfg.capture, cfg.corpus_txt)
        result["corpus"] = {"pcap": str(cfg.corpus_pcap), "text": str(cfg.corpus_txt),
                            "from": "capture", "capture": contents,
                            "pcap_stats": pcap_stats(cfg.corpus_pcap),
                            "text_stats": text_stats(cfg.corpus_txt)}
        return result

    # Violation snippets: what the pack under test is documented to catch.
    snippets = None
    violations_pct = cfg.violations_pct
    if is_rule_file(cfg.pack_rules):
        snippets = cfg.out / "violations.txt"
        r = proc.run([cfg.prog("sluice-pack"), "examples", "--acting", cfg.pack_rules], 120,
                     log=cfg.log, stdout_path=snippets)
        if r.rc != 0 or r.timed_out:
            raise StageError(f"examples: {r.why()}", r.stderr_tail(), r.command)
        n = sum(1 for line in open(snippets, encoding="utf-8", errors="replace") if line.strip())
        result["violation_snippets"] = {"file": str(snippets), "count": n,
                                        "from": f"sluice-pack examples --acting {cfg.pack_rules}"}
        if n == 0:
            # A pack without examples: nothing documented to insert.
            snippets = None
            if violations_pct > 0:
                warning = (f"{cfg.pack_rules} has no matches: examples of acting rules: the "
                           "corpus carries no violations of it (--violations 0)")
                result.setdefault("warnings", []).append(warning)
                cfg.say("warning: " + warning)
                violations_pct = 0.0
    else:
        result["violation_snippets"] = {"file": None, "count": None,
                                        "from": "sluice-gen's built-in list (a compiled pack has no examples)"}

    if cfg.text:
        versions, warning = {"given": str(cfg.text)}, None
    else:
        versions, warning = ensure_corpus_text(cfg)
    if warning:
        result.setdefault("warnings", []).append(warning)
        cfg.say("warning: " + warning)
    cfg.say(f"generating the corpus ({cfg.packets} packets, seed {cfg.seed})")
    cfg.corpus_pcap = cfg.out / "corpus.pcap"
    cfg.corpus_txt = cfg.out / "corpus.txt"
    gen = generate(cfg, cfg.corpus_pcap, cfg.corpus_txt, snippets,
                   violations_pct=violations_pct)
    result["corpus"] = {
        "pcap": str(cfg.corpus_pcap),
        "text": str(cfg.corpus_txt),
        "from": "text" if cfg.text else "fortunes",
        "text_packages": versions,
        "seed": cfg.seed,
        "frames_per_datagram": cfg.frames,
        "violations_pct": violations_pct,
        "generator": gen,
        "pcap_stats": pcap_stats(cfg.corpus_pcap),
        "text_stats": text_stats(cfg.corpus_txt),
    }
    return result
