#!/usr/bin/python3
"""Writes the seed corpora of the libFuzzer harnesses (tests/fuzz/seeds/) from
material make-seeds.sh prepared: a capture made by sluice-gen, compiled packs
and the project's rule files. Standard library only; everything is derived
from fixed seeds, so the same inputs give the same files.

usage: seeds.py WORK_DIR OUT_DIR SOURCE_ROOT   (called by make-seeds.sh)
"""
import hashlib
import os
import random
import shutil
import struct
import sys

work, out, root = sys.argv[1:4]
PORT = 7700
rng = random.Random(8)


def write(harness, name, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- packets ----

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack_from("<I", data, 0)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, packets = 24, []
    while off + 16 <= len(data):
        caplen = struct.unpack_from(endian + "I", data, off + 8)[0]
        packets.append(data[off + 16:off + 16 + caplen])
        off += 16 + caplen
    return packets


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def frame(msg_id, text, flags=0):
    if isinstance(text, str):
        text = text.encode()
    return struct.pack("!2sBBHHQQQ", b"SM", 1, flags, len(text), 0, msg_id,
                       100 + msg_id % 7, 5000 + msg_id) + text


def udp(sport, dport, payload, pseudo, zero_csum=False, bad_csum=False):
    length = 8 + len(payload)
    head = struct.pack("!HHHH", sport, dport, length, 0)
    c = 0 if zero_csum else (~csum(pseudo(length) + head + payload)) & 0xFFFF
    if not zero_csum and c == 0:
        c = 0xFFFF
    if bad_csum:
        c ^= 0x5A5A
    return struct.pack("!HHHH", sport, dport, length, c) + payload


SRC4, DST4 = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
SRC6 = bytes.fromhex("20010db8000000000000000000000001")
DST6 = bytes.fromhex("20010db8000000000000000000000002")


def ipv4(l4, proto=17, options=b"", frag=0x4000, total_extra=0):
    ihl = 5 + len(options) // 4
    head = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 4 * ihl + len(l4) + total_extra,
                       0x1234, frag, 64, proto, 0, SRC4, DST4) + options
    c = (~csum(head)) & 0xFFFF
    return head[:10] + struct.pack("!H", c) + head[12:] + l4


def udp4(payload, dport=PORT, **kw):
    pseudo = lambda n: SRC4 + DST4 + struct.pack("!BBH", 0, 17, n)
    return udp(40000, dport, payload, pseudo, **kw)


def ipv6(next_header, body):
    return struct.pack("!IHBB16s16s", 0x60000000, len(body), next_header, 64, SRC6, DST6) + body


def udp6(payload, dport=PORT, **kw):
    pseudo = lambda n: SRC6 + DST6 + struct.pack("!IxxxB", n, 17)
    return udp(40000, dport, payload, pseudo, **kw)


def ether(l3, ethertype, tags=()):
    head = bytes.fromhex("020000000002020000000001")
    for tpid in tags:
        head += struct.pack("!HH", tpid, 42)
    return head + struct.pack("!H", ethertype) + l3


def ext(next_header, kind, length_units=0):
    """One IPv6 extension header (not a fragment header)."""
    if kind == 51:
        size = (length_units + 2) * 4
    else:
        size = (length_units + 1) * 8
    return struct.pack("!BB", next_header, length_units) + bytes(size - 2)


def frag6(next_header, offset=0, more=False):
    return struct.pack("!BBHI", next_header, 0, (offset << 3) | (1 if more else 0), 0xABCD)


def packet_seed(config, packets, partial=()):
    data = bytes([config])
    for i, p in enumerate(packets):
        head = len(p) | (0x8000 if i in partial else 0)
        data += struct.pack("!H", head) + p
    return data


def packets_seeds():
    cap = read_pcap(os.path.join(work, "traffic.pcap"))
    # Bursts cut from the capture: 1 to 6 packets, every set-up in turn.
    i, n = 0, 0
    while i < len(cap) and n < 48:
        k = 1 + n % 6
        write("fuzz_packet_path", "capture-%02d" % n, packet_seed(n % 16, cap[i:i + k]))
        i += k
        n += 1
    # One full burst of 32.
    write("fuzz_packet_path", "capture-burst32", packet_seed(3, cap[-32:]))

    msgs = [frame(1, "online CASINO tonight"), frame(2, "casino royale is a film"),
            frame(3, "call 13812345678 or 13912345678"), frame(4, "card 1234-5678-9012-3456"),
            frame(5, "加我微信号 abc123"), frame(6, "你几岁 meet alone"),
            frame(7, "As an AI language model"), frame(8, "test message"),
            frame(9, "begin\nthe end"), frame(10, "星河铁道 全集"), frame(11, "验证码123456"),
            frame(12, "nice livestream"), frame(13, "plain words only")]
    all_frames = b"".join(msgs)
    v4 = ether(ipv4(udp4(all_frames)), 0x0800)
    v6 = ether(ipv6(17, udp6(all_frames)), 0x86DD)
    seeds = {
        "rules-v4": [v4],
        "rules-v6": [v6],
        "rules-vlan": [ether(ipv4(udp4(all_frames)), 0x0800, (0x8100,))],
        "qinq-88a8": [ether(ipv4(udp4(msgs[0] + msgs[2])), 0x0800, (0x88A8, 0x8100))],
        "qinq-9100": [ether(ipv6(17, udp6(msgs[2])), 0x86DD, (0x9100, 0x8100))],
        "vlan-3-tags": [ether(ipv4(udp4(msgs[0])), 0x0800, (0x88A8, 0x8100, 0x8100))],
        "ipv4-options": [ether(ipv4(udp4(msgs[2] + msgs[3]), options=bytes([1, 1, 1, 0])), 0x0800)],
        "ipv4-first-fragment": [ether(ipv4(udp4(msgs[0]), frag=0x2000), 0x0800)],
        "ipv4-later-fragment": [ether(ipv4(udp4(msgs[0]), frag=0x0010), 0x0800)],
        "ipv4-no-checksum": [ether(ipv4(udp4(msgs[2] + msgs[0], zero_csum=True)), 0x0800)],
        "ipv4-bad-checksum": [ether(ipv4(udp4(msgs[2], bad_csum=True)), 0x0800)],
        "ipv4-padding": [ether(ipv4(udp4(msgs[2])), 0x0800) + bytes(20)],
        "ipv4-udp-short": [ether(ipv4(udp4(msgs[2]), total_extra=8) + bytes(8), 0x0800)],
        "ipv4-other-port": [ether(ipv4(udp4(msgs[0], dport=53)), 0x0800)],
        "ipv4-tcp": [ether(ipv4(bytes(20) + msgs[0], proto=6), 0x0800)],
        "ipv6-ext-chain": [ether(ipv6(0, ext(43, 0) + ext(60, 43, 1) + ext(51, 60) +
                                     ext(17, 51, 2) + udp6(msgs[2] + msgs[1])), 0x86DD)],
        "ipv6-atomic-fragment": [ether(ipv6(44, frag6(17) + udp6(msgs[2])), 0x86DD)],
        "ipv6-first-fragment": [ether(ipv6(44, frag6(17, more=True) + udp6(msgs[2])), 0x86DD)],
        "ipv6-later-fragment": [ether(ipv6(44, frag6(17, offset=8) + udp6(msgs[2])), 0x86DD)],
        "ipv6-esp": [ether(ipv6(50, bytes(16) + msgs[0]), 0x86DD)],
        "arp": [ether(bytes(28), 0x0806)],
    }
    chain = udp6(msgs[0])
    nh = 17
    for _ in range(17):
        chain = ext(nh, 60) + chain
        nh = 60
    seeds["ipv6-17-extensions"] = [ether(ipv6(60, chain), 0x86DD)]
    bad_utf8 = frame(20, b"ok \xff\xfe bad \xed\xa0\x80 \xc0\xaf casino")
    seeds["invalid-utf8"] = [ether(ipv4(udp4(msgs[2] + bad_utf8 + msgs[12])), 0x0800)]
    many = frame(21, " ".join(["1381234567%d" % (k % 10) for k in range(70)]))
    seeds["mask-overflow"] = [ether(ipv4(udp4(many)), 0x0800)]
    seeds["bad-magic"] = [ether(ipv4(udp4(b"XX" + msgs[0][2:])), 0x0800)]
    seeds["truncated-frame"] = [ether(ipv4(udp4(msgs[0][:40])), 0x0800)]
    seeds["trailing-bytes"] = [ether(ipv4(udp4(msgs[0] + b"zz")), 0x0800)]
    seeds["empty-payload"] = [ether(ipv4(udp4(b"")), 0x0800)]
    seeds["mixed-burst"] = [v4, seeds["arp"][0], seeds["ipv4-first-fragment"][0], v6,
                            seeds["invalid-utf8"][0]]
    for k, (name, pkts) in enumerate(sorted(seeds.items())):
        for config in (k % 16, (k + 5) % 16 | 1, 2):
            write("fuzz_packet_path", "%s-%x" % (name, config), packet_seed(config, pkts))
    write("fuzz_packet_path", "chained", packet_seed(1, [v4, v6, v4[:60]], partial=(1, 2)))


# ---- UTF-8 ----

def utf8_seeds():
    with open(os.path.join(root, "bench/data/chat-sample.txt"), "rb") as f:
        lines = [l.rstrip(b"\n") for l in f if l.strip()]
    for k, line in enumerate(lines[:24]):
        write("fuzz_utf8", "chat-%02d" % k, line)
    edge = {
        "ascii-long": b"abcdefgh" * 5 + b"ij",
        "cjk": "加我微信 电话13812345678 星河铁道".encode(),
        "emoji-max": "😀 \U0010FFFF".encode(),
        "overlong-2": b"\xc0\xaf \xc1\xbf",
        "overlong-3": b"\xe0\x80\xaf \xe0\x9f\xbf",
        "overlong-4": b"\xf0\x80\x80\xaf \xf0\x8f\xbf\xbf",
        "surrogates": b"\xed\xa0\x80 \xed\xbf\xbf \xed\x9f\xbf",
        "beyond-10ffff": b"\xf4\x90\x80\x80 \xf5\x80\x80\x80 \xff",
        "truncated": b"ok \xe4\xb8 then \xf0\x9f\x98",
        "lone-continuations": b"\x80\xbf abc \x80",
        "mixed-8-byte-runs": b"abcdefg\xe4\xb8\xad" + b"12345678" + b"\xc3",
    }
    for name, data in edge.items():
        write("fuzz_utf8", name, data)


# ---- rule files ----

def rule_file_seeds():
    # Rule files whose lint and compile together take a second or two under
    # ASan on a 2-vCPU VM; the ones left out take 3 to 9 s, too close to the
    # 10 s timeout once mutated (the larger default packs take longer still).
    dirs = ["patterns/rules", "tests/data/rules", "tests/data/rules/include",
            "tests/data/rules/include/sub", "tests/data/cli", "tests/data/swap"]
    slow = {"patterns/rules/default.yaml", "tests/data/rules/lint_patterns.yaml"}
    for d in dirs:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for name in sorted(os.listdir(full)):
            rel = os.path.join(d, name)
            if not name.endswith(".yaml") or rel in slow:
                continue
            with open(os.path.join(full, name), "rb") as f:
                write("fuzz_rule_file", rel.replace("/", "-"), f.read())
    for name in ["all.yaml", "collectibles.yaml", "scale-100k.yaml"]:
        with open(os.path.join(root, "patterns/packs", name), "rb") as f:
            write("fuzz_rule_file", "packs-" + name, f.read())
    # lint_patterns.yaml without its two deliberately slow rules (a repeat of
    # 1000 and 60 alternatives), which alone take seconds to compile.
    with open(os.path.join(root, "tests/data/rules/lint_patterns.yaml"), "rb") as f:
        parts = f.read().split(b"\n  - id: ")
    keep = [p for p in parts if not p.startswith((b"big-repeat", b"alternatives"))]
    write("fuzz_rule_file", "tests-data-rules-lint_patterns-light.yaml", b"\n  - id: ".join(keep))


# ---- packs ----

def pack_seeds():
    trailer_zero = b"SLUICESG" + bytes(96)
    stranger = b"SLUICESG" + bytes(rng.randrange(256) for _ in range(96))
    for name in sorted(os.listdir(work)):
        if not name.endswith(".pack"):
            continue
        with open(os.path.join(work, name), "rb") as f:
            img = f.read()
        base = name[:-5]
        variants = {
            # mode byte, image
            "unsigned-optional": (0x00, img),
            "unsigned-required": (0x01, img),
            "fixup-optional": (0x02, img),
            "fixup-resigned": (0x03, img + trailer_zero),
            "fixup-resigned-optional": (0x02, img + trailer_zero),
            "unknown-key": (0x00, img + stranger),
            "limit-small": (0x04 | 0x20, img),
            "limit-large": (0x07 | 0xf0, img + trailer_zero),
            "truncated": (0x00, img[:len(img) // 2]),
            "header-only": (0x02, img[:56]),
        }
        if base.endswith("-folded"):
            # large (its folding table): one seed, and one cut in the table
            variants = {k: variants[k] for k in ("unsigned-optional", "truncated")}
        for vname, (mode, data) in variants.items():
            write("fuzz_pack_loader", "%s-%s" % (base, vname), bytes([mode]) + data)
    # A format-1 header and a rule file under a pack-requiring trust.
    v1 = b"SLUICEPK" + struct.pack("<II", 1, 0) + struct.pack("<Q", 4) + \
        hashlib.sha256(b"body").digest() + b"body"
    write("fuzz_pack_loader", "format-1", b"\x00" + v1)
    write("fuzz_pack_loader", "rule-file-required", b"\x01rules: []\n")


# ---- control requests ----

def control_seeds():
    requests = [
        b"status\n", b"stats\n", b"stats rules\n", b"reload ../packs/small.pack\n",
        b"reload urgent ../packs/small.pack\n", b"reload main ../packs/rules.yaml\n",
        b"rollback\n", b"rollback urgent\n", b"rollback main fuzz-u1\n", b"unload urgent\n",
        b"unload\n", b"unload main\n", b"stop\n", b"reload\n", b"reload missing.pack\n",
        b"reload /dev/null\n", b"bogus request\r\n", b"status\r\n",
        b"rollforward\n", b"rollback main @1\n", b"rollforward urgent @0\n",
    ]
    for k, req in enumerate(requests):
        write("fuzz_control", "request-%02d" % k, bytes([0x80]) + req)
    write("fuzz_control", "session",
          b"\x07reload urgent ../packs/small.pack\nstatus\nreload ../packs/small.pack\n"
          b"rollback\nstats rules\nunload urgent\nrollback urgent\nstatus\n")
    write("fuzz_control", "swap-twice",
          b"\x83reload ../packs/small.pack\nreload ../packs/small.pack\nrollback main fuzz-u1\n")
    write("fuzz_control", "back-and-forth",
          b"\x83reload ../packs/small.pack\nreload ../packs/rules.yaml\nrollback @1\n"
          b"rollforward\nrollback main fuzz-u1\nrollforward @9\nstatus\n")
    write("fuzz_control", "nul-in-line", b"\x80stat\x00us\nstatus\n")
    write("fuzz_control", "too-long", b"\x80" + b"a" * 4100 + b"\nstatus\n")
    write("fuzz_control", "no-newline", b"\x01status")
    # JSON documents: the first byte (the chunking choice) is a space, so the
    # whole input is a document for the parser too.
    docs = [
        b' {"ok":true,"active":{"name":"fuzz-urgent","version":"fuzz-u1","rules":4},'
        b'"history":[],"swaps":1,"workers":[{"id":0,"stuck":false}]}',
        b' {"ok":false,"error":"unknown request \'x\' \\u00e9\\ud83d\\n\\t\\"\\\\\\/"}',
        b' [1, -2.5e3, 0.0, true, false, null, "\xe5\x8a\xa0", {}, [[]]]',
        b' ' + b"[" * 70 + b"]" * 70,
        b' {"a":{"b":{"c":[1,2,{"d":"e"}]}}}',
    ]
    for k, doc in enumerate(docs):
        write("fuzz_control", "json-%d" % k, doc)


# Only the harnesses made here: the others' seeds (fuzz_stream, fuzz_ws_text,
# fuzz_fold_table, fuzz_event_spool, fuzz_option_parsers) are written by hand
# and kept.
for harness in ("fuzz_packet_path", "fuzz_utf8", "fuzz_rule_file", "fuzz_pack_loader",
                "fuzz_control"):
    if os.path.isdir(os.path.join(out, harness)):
        shutil.rmtree(os.path.join(out, harness))
packets_seeds()
utf8_seeds()
rule_file_seeds()
pack_seeds()
control_seeds()
