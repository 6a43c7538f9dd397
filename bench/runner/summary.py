"""The figures a reader looks for first, and the issue's targets, from results.

Contract: rows(results) turns the stages' results into table rows
(stage, figure, value, ratio/target), one row per figure, a failed stage as
one row saying why; targets(results) evaluates each target the issue names
against what was measured. Targets are reported (met, not met, or not
measured), never enforced: they change no exit status.
"""
import math


def ok_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def rate(v, unit="msg/s"):
    if not ok_num(v):
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:,.2f} M{unit}"
    if v >= 1e3:
        return f"{v / 1e3:,.1f} k{unit}"
    return f"{v:,.1f} {unit}"


def num(v, fmt="{:,.2f}", unit=""):
    return (fmt.format(v) + (f" {unit}" if unit else "")) if ok_num(v) else "-"


def size(v):
    """Bytes as KiB below a MiB, else MiB."""
    if not ok_num(v):
        return "-"
    return f"{v / 1024:,.0f} KiB" if v < 1048576 else f"{v / 1048576:,.1f} MiB"


def ratio(v, what=""):
    return f"{v:.2f}x{(' ' + what) if what else ''}" if ok_num(v) else "-"


def stage(results, name):
    return results.get("stages", {}).get(name)


def failed_row(name, st):
    """The error goes in the last column, which the table never cuts."""
    if st.get("status") == "skipped":
        return [name, "skipped", "", st.get("error", "")]
    return [name, "FAILED", "", st.get("error") or ""]


def scan_rows(st, results):
    f = st.get("figures") or {}
    r = st.get("ratios") or {}
    out = []
    c = f.get("ceiling") or {}
    out.append(["scan", "ceiling: hs_scan per message, 1 core",
                f"{rate(c.get('msgs_per_s'))}, {num(c.get('mbit_per_s'), '{:,.0f}', 'Mbit/s')}",
                f"{num(c.get('ns_per_msg'), '{:,.0f}', 'ns/msg')}"])
    m = f.get("message") or {}
    out.append(["scan", "message path (Sluice's per-message scan)",
                rate(m.get("msgs_per_s")) if "skipped" not in m else "skipped: " + str(m["skipped"]),
                ratio(r.get("message_over_ceiling"), "ceiling")])
    b = f.get("batch") or {}
    out.append(["scan", "batch path (many messages per call)",
                rate(b.get("msgs_per_s")) if "skipped" not in b else "skipped: " + str(b["skipped"]),
                ratio(r.get("batch_over_ceiling"), "ceiling (aim 1.5x)")])
    p = f.get("pcre2") or {}
    out.append(["scan", "PCRE2 baseline (JIT, rule by rule)",
                rate(p.get("msgs_per_s")) if "skipped" not in p else "skipped: " + str(p["skipped"]),
                "batch " + ratio(r.get("batch_over_pcre2")) + ", message "
                + ratio(r.get("message_over_pcre2")) + " (target >= 20x)"])
    return out


def whole_rows(st, results):
    out = []
    for r in st.get("runs", []):
        label = f"{r['workers']} worker{'s' if r['workers'] > 1 else ''}"
        if r.get("scan_mode"):
            label += f", --scan {r['scan_mode']}"
        if r.get("status") != "ok":
            out.append(["whole path", label, "FAILED", r.get("error") or ""])
            continue
        val = (f"{rate(r['msgs_per_s'])}, {num(r['text_gbit_per_s'], '{:.2f}', 'Gbit/s')} text, "
               f"{num(r['wire_gbit_per_s'], '{:.2f}', 'Gbit/s')} wire")
        extra = ""
        if ok_num(r.get("per_worker_over_ceiling")):
            extra = f"{r['per_worker_over_ceiling']:.2f} of ceiling per worker"
            if r["workers"] == 1:
                extra += " (target >= 0.90)"
        if ok_num(r.get("min_worker_cpu_share")) and r["min_worker_cpu_share"] < 0.9:
            extra += f"; a worker had {r['min_worker_cpu_share']:.0%} of a CPU"
        out.append(["whole path", label, val, extra])
    for s in st.get("scaling", []):
        mode = f", --scan {s['scan_mode']}" if s.get("scan_mode") else ""
        out.append(["whole path", f"scaling {s['workers']} workers{mode}",
                    ratio(s["over_1_worker"], "1 worker"), f"linear: {s['linear']:.2f}x"])
        if ok_num(s.get("per_worker_cpu_s_over_1_worker")):
            out.append(["whole path", f"per CPU-second, {s['workers']} workers{mode}",
                        ratio(s["per_worker_cpu_s_over_1_worker"], "1 worker's"),
                        "below 1.0: workers slow each other beyond the CPU time they share"])
    placements = {r["workers"]: r for r in st.get("runs", [])}
    for w, r in sorted(placements.items()):
        p = r.get("placement") or ""
        if "shares" in p:
            # The full sentence is in results.json; the table gives the map.
            out.append(["whole path", f"placement, {w} workers", f"--lcores {r.get('lcores')}",
                        p[p.index("(") + 1:].rstrip(")")])
    return out


def kernel_rows(st, results):
    f = st.get("figures") or {}
    io, sc = f.get("io_only") or {}, f.get("scan") or {}
    out = [["kernel", "UDP sockets, I/O only", f"{rate(io.get('msgs_per_s'))}, "
            f"{num(io.get('gbit_per_s'), '{:.2f}', 'Gbit/s')}", f"lost {io.get('lost', '-')}"],
           ["kernel", "UDP sockets + scan", f"{rate(sc.get('msgs_per_s'))}, "
            f"{num(sc.get('gbit_per_s'), '{:.2f}', 'Gbit/s')}", f"lost {sc.get('lost', '-')}"]]
    one = whole_path_one(results)
    if one and ok_num(sc.get("msgs_per_s")) and sc["msgs_per_s"] > 0:
        mode = f", --scan {one['scan_mode']}" if one.get("scan_mode") else ""
        out.append(["kernel", f"whole path (1 worker{mode}) / kernel",
                    ratio(one["msgs_per_s"] / sc["msgs_per_s"]), ""])
    return out


def stream_rows(st, results):
    b = st.get("burst_code") or {}
    ws, js, sp = b.get("ws") or {}, b.get("ws_json") or {}, b.get("ws_split") or {}
    pc = b.get("ws_port_checked") or {}
    ft = b.get("flow_table") or {}
    out = [["streams", "WebSocket, burst code, 1 core", rate(ws.get("msgs_per_s")),
            ratio(ws.get("ratio_to_udp"), "UDP")],
           ["streams", "WebSocket + JSON members, burst code", rate(js.get("msgs_per_s")),
            ratio(js.get("ratio_to_udp"), "UDP")],
           ["streams", "message split over 2 segments: added CPU",
            num(sp.get("added_ns_per_msg"), "{:,.0f}", "ns/msg"), ""],
           ["streams", "port-verified TCP checksums: CPU saved",
            num(pc.get("saved_ns_per_msg"), "{:,.0f}", "ns/msg"), ""],
           ["streams", f"flow table, {ft.get('flows', '-'):,} connections" if ok_num(ft.get("flows"))
            else "flow table", f"{num(ft.get('bytes_per_flow'), '{:,.0f}', 'B/flow')}, "
            f"{num(ft.get('table_mib'), '{:,.1f}', 'MiB')}", ""]]
    p = st.get("ports") or {}
    out.append(["streams", "WebSocket through the ports, 1 worker", rate(p.get("ws_msgs_per_s")),
                ratio(p.get("ratio"), "UDP")])
    out.append(["streams", "the same, never-matching pack", rate(p.get("ws_never_msgs_per_s")),
                ratio(p.get("ratio_never"), "UDP")])
    out.append(["streams", "stream's own work (never-matching, WS - UDP)",
                num(p.get("ws_added_ns_per_msg"), "{:,.0f}", "ns/msg"), ""])
    if st.get("status") != "ok":
        out.append(failed_row("streams", st))
    return out


def evasion_rows(st, results):
    rc = st.get("recall") or {}
    out = []
    for kind, t in (rc.get("transformations") or {}).items():
        out.append(["evasion", f"recall, {kind}",
                    f"{num(t.get('recall_after'), '{:.1%}')} after",
                    f"{num(t.get('recall_before'), '{:.1%}')} before"])
        o = t.get("opted_in")
        if o:
            out.append(["evasion", f"recall, {kind}, rules that opted in",
                        f"{num(o.get('recall_after'), '{:.1%}')} after",
                        f"{num(o.get('recall_before'), '{:.1%}')} before"])
    fp = rc.get("false_positives") or {}
    out.append(["evasion", "fortunes acted on (false positives)",
                f"{num(fp.get('share_after'), '{:.2%}')} after",
                f"{num(fp.get('rise_points'), '{:+.2f}')} points"])
    c = st.get("cost") or {}
    for k in ("ascii", "other"):
        x = c.get(k) or {}
        out.append(["evasion", f"normalise + scan / scan, {k} messages",
                    num(x.get("both_ns_per_msg"), "{:,.0f}", "ns/msg"),
                    ratio(x.get("both_over_scan"))])
    if st.get("status") != "ok":
        out.append(failed_row("evasion", st))
    return out


def events_rows(st, results):
    o = st.get("program_output") or {}
    sink, fmt = o.get("sink") or {}, o.get("stateless_format") or {}
    out = [["events", "event sink to /dev/null, 1 core", rate(sink.get("events_per_s"), "ev/s"),
            num(sink.get("ns_per_event"), "{:,.0f}", "ns/event")],
           ["events", "stateless formatter (no caches)", rate(fmt.get("events_per_s"), "ev/s"),
            num(fmt.get("ns_per_event"), "{:,.0f}", "ns/event")]]
    if st.get("status") != "ok":
        out.append(failed_row("events", st))
    return out


def fleet_rows(st, results):
    o = st.get("program_output") or {}
    out = []
    for key, what in (("at_once", "publish to 3 gateways running it, at once"),
                      ("staged_hold_0", "publish to 3 gateways running it, canary first, no hold")):
        m = (o.get(key) or {}).get("publish_to_all_running_ms") or {}
        out.append(["fleet", what, num(m.get("median"), "{:,.0f}", "ms"), "median"])
    if st.get("status") != "ok":
        out.append(failed_row("fleet", st))
    return out


def events_bus_rows(st, results):
    o = st.get("program_output") or {}
    out = [["events_bus", "to JetStream, bus up, no spool", rate(o.get("direct_events_per_s"), "ev/s"),
            ""],
           ["events_bus", "into the spool, bus down", rate(o.get("spool_write_events_per_s"), "ev/s"),
            ""],
           ["events_bus", "spool drained to JetStream", rate(o.get("spool_drain_events_per_s"), "ev/s"),
            ""]]
    if st.get("status") != "ok":
        out.append(failed_row("events_bus", st))
    return out


def packet_path_rows(st, results):
    pps = st.get("packets_per_s") or {}
    mps = st.get("msgs_per_s") or {}
    r = st.get("ratios") or {}
    n = len(st.get("rounds") or [])
    out = []
    if st.get("testpmd"):
        out.append(["packets", "dpdk-testpmd io forwarding, 1 core", rate(pps.get("testpmd"), "pkt/s"),
                    f"median of {n} round(s)"])
    else:
        out.append(["packets", "dpdk-testpmd io forwarding", "not measured",
                    st.get("testpmd_note") or ""])
    if pps.get("testpmd_cached"):
        mem = (st.get("added_ns") or {}).get("testpmd_memory_ns_per_packet")
        out.append(["packets", f"dpdk-testpmd, the capture's first {st.get('testpmd_cached_packets'):,}",
                    rate(pps.get("testpmd_cached"), "pkt/s"),
                    f"in cache; the whole capture costs {mem:+.0f} ns a packet more: net_pcap's reads"
                    " of its stored copy from memory (a NIC's DMA makes none)" if mem is not None else ""])
    out.append(["packets", "sluice, never-matching pack (folding)", rate(pps.get("never"), "pkt/s"),
                ratio(r.get("never_over_testpmd"), "testpmd (target >= 0.5x)")])
    out.append(["packets", "sluice, never-matching pack, normalize: none",
                rate(pps.get("never_raw"), "pkt/s"), ratio(r.get("never_raw_over_testpmd"), "testpmd")])
    out.append(["packets", "sluice, light pack (whole path)", rate(mps.get("light")),
                ratio(r.get("light_over_batch"), "batch scan (target >= 0.7x)")])
    ev = st.get("light_events") or {}
    out.append(["packets", "light pack: batch scan alone, 1 core", rate(mps.get("light_batch")),
                f"events {rate(ev.get('written_per_s'), 'ev/s')} written, {ev.get('dropped', '-')} dropped"])
    added = st.get("added_ns") or {}
    if added:
        ns = [f"never-matching pack {added['never_over_testpmd_ns_per_packet']:.0f} ns a packet beyond testpmd"
              if "never_over_testpmd_ns_per_packet" in added else None,
              f"light pack {added['light_over_batch_ns_per_msg']:.0f} ns a message beyond its batch scan"
              if "light_over_batch_ns_per_msg" in added else None]
        out.append(["packets", "what the packet path adds (medians)", "", "; ".join(x for x in ns if x)])
    if "never_own_ns_per_packet" in added:
        own = [f"{label} {added[f'{k}_own_ns_per_packet']:.0f} ns"
               for k, label in (("never", "never-matching"), ("never_raw", "normalize: none"),
                                ("light", "light")) if f"{k}_own_ns_per_packet" in added]
        tp = added.get("testpmd_ns_per_packet")
        note = (f"testpmd's whole packet {tp:.0f} ns: never / testpmd reaches 0.5x only when "
                "never's own time is at most that" if tp else "testpmd not measured")
        out.append(["packets", "Sluice's own time a packet, no DPDK",
                    "; ".join(own), note])
    if st.get("status") != "ok":
        out.append(failed_row("packets", st))
    return out


def whole_path_one(results):
    """The 1-worker whole-path run to set beside the kernel path: the batch
    mode when there are several (the kernel bench's default too)."""
    st = stage(results, "whole_path") or {}
    ones = [r for r in st.get("runs", []) if r.get("workers") == 1 and r.get("status") == "ok"]
    ones.sort(key=lambda r: r.get("scan_mode") not in (None, "batch"))
    return ones[0] if ones else None


def latency_rows(st, results):
    out = []
    mx = st.get("max") or {}
    out.append(["latency", "maximum rate", f"{rate(mx.get('pkts_per_s'), 'pkt/s')}, "
                f"{rate(mx.get('msgs_per_s'))}", ""])
    for e in st.get("rates", []):
        label = f"at {e['fraction']:.0%} of max"
        if e.get("status") != "ok":
            out.append(["latency", label, "FAILED", e.get("error") or ""])
            continue
        lat = e.get("latency_us") or {}
        out.append(["latency", label + " (RX to TX)",
                    f"p50 {num(lat.get('p50'), '{:,.1f}')} / p99 {num(lat.get('p99'), '{:,.1f}')} / "
                    f"p99.9 {num(lat.get('p999'), '{:,.1f}')} us",
                    f"lost {e.get('lost', '-')}, {lat.get('samples', '-')} samples"])
    if mx.get("placement"):
        out.append(["latency", "placement", "", mx["placement"]])
    return out


def swap_rows(st, results):
    return [["swap", f"reload every {st.get('swap_every_ms', '-')} ms for {num(st.get('seconds'), '{:g}')} s",
             f"{rate(st.get('msgs_per_s'))}, {st.get('reloads', '-')} reloads",
             f"lost {st.get('lost', '-')} (target 0)"],
            ["swap", "worst worker stall", num(st.get("worst_stall_ms"), "{:,.3f}", "ms"),
             f"worst gap {num(st.get('worst_gap_ms'), '{:,.3f}', 'ms')}"]]


def scale_rows(st, results):
    out = []
    for e in st.get("entries", []):
        label = f"{e['kind']} {e['rules']:,}" + (" entries" if e["kind"] == "literal" else " rules")
        if e.get("status") == "not_measured":
            out.append(["scale", label, e.get("reason", "not measured"), ""])
        elif e.get("status") != "ok":
            out.append(["scale", label, "FAILED", e.get("error") or ""])
        else:
            b = e.get("batch") or {}
            acted = f", {e['acted_share']:.1%} acted" if ok_num(e.get("acted_share")) else ""
            out.append(["scale", label,
                        f"{rate(e.get('msgs_per_s'))} (batch {rate(b.get('msgs_per_s'))}{acted})",
                        f"compile {num(e.get('compile_s'), '{:,.2f}', 's')}, pack {size(e.get('pack_bytes'))}, "
                        f"scratch {size(e.get('scratch_bytes'))}, "
                        f"RSS {size(e['rss_kib'] * 1024) if ok_num(e.get('rss_kib')) else '-'}"])
    return out


def soak_rows(st, results):
    tr = st.get("traffic") or {}
    col = st.get("collector") or {}
    rt = st.get("rate") or {}
    rl = st.get("reloads") or {}
    gr = rl.get("grace_ms") or {}
    op = st.get("operator") or {}
    lat = op.get("latency_ms") or {}
    rss = st.get("rss") or {}
    ab = st.get("abuse") or {}
    misuses = ab.get("misuses") or {}
    attempts = sum(m.get("attempts", 0) for m in misuses.values())
    out = [["soak", f"{num(st.get('traffic_s'), '{:,.0f}')} s, {st.get('workers', '-')} worker(s)",
            f"{tr.get('messages', 0):,} messages, {rate(rt.get('achieved_msgs_per_s'))}",
            f"{col.get('messages_wrong', '-')} wrong, {col.get('lost', '-')} lost, "
            f"{col.get('duplicates', '-')} duplicated"],
           ["soak", f"reloads every {rl.get('every_ms', '-')} ms",
            f"{rl.get('done', '-')} done, {rl.get('failed', '-')} failed",
            f"grace median {num(gr.get('median'), '{:,.2f}', 'ms')}, "
            f"max {num(gr.get('max'), '{:,.2f}', 'ms')}"],
           ["soak", "control socket abuse", f"{attempts:,} misuses",
            f"operator status median {num(lat.get('median'), '{:,.2f}', 'ms')}, "
            f"max {num(lat.get('max'), '{:,.2f}', 'ms')}"],
           ["soak", "RSS start / end / max",
            " / ".join(size(rss[k] * 1024) if ok_num(rss.get(k)) else "-"
                       for k in ("start_kib", "end_kib", "max_kib")),
            ("flat" if rss.get("flat") else "NOT flat") if rss.get("judged")
            else "not judged"]]
    for c in st.get("checks", []):
        if not c.get("ok"):
            out.append(["soak", f"check {c.get('name')}", "FAILED", c.get("detail") or ""])
    return out


def rows(results):
    out = []
    setup = results.get("setup") or {}
    if setup.get("status") == "failed":
        out.append(failed_row("setup", setup))
    corpus = setup.get("corpus") or {}
    if corpus.get("from") == "capture":
        c, p, t = corpus.get("capture") or {}, corpus.get("pcap_stats") or {}, \
            corpus.get("text_stats") or {}
        share = c.get("other_share")
        out.append(["setup", "your capture",
                    f"{c.get('packets', '-'):,} packets, {size(p.get('bytes'))}, "
                    f"{c.get('messages', '-'):,} messages ({size(t.get('bytes'))} of text)"
                    if ok_num(c.get("packets")) and ok_num(c.get("messages")) else "-",
                    f"{share:.1%} other traffic" if ok_num(share) else ""])
    elif corpus.get("from") == "text":
        out.append(["setup", "corpus cut from your text", f"{corpus.get('text_packages', {}).get('given')}", ""])
    for name, fn in (("scan", scan_rows), ("whole_path", whole_rows),
                     ("packet_path", packet_path_rows), ("streams", stream_rows),
                     ("evasion", evasion_rows), ("events", events_rows),
                     ("kernel", kernel_rows),
                     ("latency", latency_rows), ("swap", swap_rows), ("scale", scale_rows),
                     ("soak", soak_rows), ("events_bus", events_bus_rows),
                     ("fleet", fleet_rows)):
        st = stage(results, name)
        if st is None:
            continue
        # A stage made of several runs shows each, failed ones included.
        parts = st.get("runs") or st.get("rates") or st.get("entries") or st.get("checks")
        if st.get("status") == "ok" or parts:
            out += fn(st, results)
        else:
            out.append(failed_row(name.replace("_", " "), st))
    return out


def targets(results):
    """The issue's targets whose stage ran (a stage that failed shows its
    target as not measured)."""
    t = []
    scan = stage(results, "scan")
    whole = stage(results, "whole_path")
    swap = stage(results, "swap")
    r = (scan or {}).get("ratios") or {}
    if whole is not None:
        ones = [run for run in whole.get("runs", []) if run.get("workers") == 1]
        for run in ones:
            mode = f" (--scan {run['scan_mode']})" if run.get("scan_mode") else ""
            t.append(target(f"whole path at 1 worker / per-message ceiling{mode}",
                            run.get("per_worker_over_ceiling"), ">=", 0.90))
    if scan is not None:
        t.append(target("batch scanning / per-message ceiling (an aim)",
                        r.get("batch_over_ceiling"), ">=", 1.5))
        best = r.get("batch_over_pcre2") if ok_num(r.get("batch_over_pcre2")) \
            else r.get("message_over_pcre2")
        t.append(target("Sluice scan / PCRE2 baseline", best, ">=", 20.0))
    if whole is not None:
        for s in whole.get("scaling", []):
            if s["workers"] == 2:
                mode = f" (--scan {s['scan_mode']})" if s.get("scan_mode") else ""
                t.append(target(f"2 workers / 1 worker{mode}", s["over_1_worker"], "stated", 2.0,
                                note="linear is 2.0; see the placement of lcores on CPUs "
                                     "and each worker's cpu_share"))
                t.append(target(f"2 workers: per-worker messages per CPU-second / 1 worker's{mode}",
                                s.get("per_worker_cpu_s_over_1_worker"), "stated", 1.0,
                                note="1.0: the fall in per-worker rate is all CPU time shared "
                                     "with the main lcore"))
    packet = stage(results, "packet_path")
    if packet is not None:
        pr = packet.get("ratios") or {}
        t.append(target("packet path, never-matching pack / dpdk-testpmd io", pr.get("never_over_testpmd"),
                        ">=", 0.5))
        ceiling = pr.get("light_over_batch_ceiling")
        t.append(target("packet path, light pack: whole path / batch scan", pr.get("light_over_batch"),
                        ">=", 0.7,
                        note=(f"at most {ceiling:.2f} on this machine: the batch scan plus "
                              "testpmd's cost of a message's packets" if ceiling else None)))
        t.append(target("events dropped under the light pack at full rate",
                        (packet.get("light_events") or {}).get("dropped"), "==", 0))
    streams = stage(results, "streams")
    if streams is not None:
        t.append(target("WebSocket / UDP through the ports, 1 worker (an aim)",
                        (streams.get("ports") or {}).get("ratio"), ">=", 0.7))
    evasion = stage(results, "evasion")
    if evasion is not None:
        trans = ((evasion.get("recall") or {}).get("transformations") or {})
        for kind in ("fullwidth", "enclosed", "invisible", "traditional", "lookalike", "case"):
            if kind in trans:
                t.append(target(f"recall after normalisation, {kind} (an aim)",
                                trans[kind].get("recall_after"), ">=", 0.95))
        for kind in ("separators", "digit_words", "homophones"):
            o = (trans.get(kind) or {}).get("opted_in")
            if o:
                t.append(target(f"recall after, {kind}, rules that opted in (an aim)",
                                o.get("recall_after"), ">=", 0.95))
        fp = (evasion.get("recall") or {}).get("false_positives") or {}
        rise = fp.get("rise_points")
        t.append(target("false positives: rise under normalisation, points", rise, "<=", 0.1))
        cost = evasion.get("cost") or {}
        t.append(target("normalise + scan / scan, Chinese and mixed (an aim: <= 1.25)",
                        (cost.get("other") or {}).get("both_over_scan"), "stated", 1.25))
    events = stage(results, "events")
    if events is not None:
        t.append(target("event sink, events/s on one core", ((events.get("program_output") or {})
                                                              .get("sink") or {}).get("events_per_s"),
                        ">=", 1e6))
    if swap is not None:
        t.append(target("messages lost during swaps", swap.get("lost"), "==", 0))
        t.append(target("worst worker stall during swaps, ms", swap.get("worst_stall_ms"),
                        "stated", None))
    return t


def target(name, value, op, goal, note=None):
    """op ">=", "<=" or "==" is judged (met: true/false; null when not measured);
    "stated" is a figure the issue asks to state, not to reach."""
    if not ok_num(value) or op == "stated":
        met = None
    elif op == ">=":
        met = value >= goal
    elif op == "<=":
        met = value <= goal
    else:
        met = value == goal
    d = {"target": name, "measured": value if ok_num(value) else None,
         "goal": "stated" if op == "stated" else f"{op} {goal:g}", "met": met}
    if note:
        d["note"] = note
    return d
