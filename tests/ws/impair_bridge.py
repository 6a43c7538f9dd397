#!/usr/bin/python3
"""An impairing Ethernet bridge for tests/test_netns_ws.c, since the kernel
has no sch_netem.

Relays raw frames both ways between two interfaces with AF_PACKET sockets.
TCP frames (IPv4 or IPv6) are impaired with a seeded RNG, each direction on
its own: a frame is dropped with probability --drop, sent twice with --dup,
or held back with --reorder and sent right after the next frame of its
direction (or after --hold-ms if none comes, so nothing is stuck). Every
other frame (ARP...) passes untouched, in order. --drop-once-b-to-a HEX
drops one chosen frame (the first whose TCP payload contains those bytes), to
reproduce a given loss.

Runs until --duration seconds pass or SIGTERM; then writes its counters as
one JSON object to --stats. Writes --ready once both sockets are bound.
--pcap PREFIX also records, per direction, every frame as it came in
(PREFIX.a_to_b.in.pcap) and as it went out (PREFIX.a_to_b.out.pcap), to read
a failure.
"""
import argparse
import json
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--if-a", required=True)
    p.add_argument("--if-b", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drop", type=float, default=0.03)
    p.add_argument("--drop-b-to-a", type=float, default=None,
                   help="loss toward Sluice (b to a) if not --drop")
    p.add_argument("--dup", type=float, default=0.03)
    p.add_argument("--reorder", type=float, default=0.03)
    p.add_argument("--hold-ms", type=float, default=20.0)
    p.add_argument("--drop-once-b-to-a", default="", metavar="HEX",
                   help="also drop the first b-to-a TCP frame whose payload contains these bytes")
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--stats", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--pcap", default="", metavar="PREFIX")
    return p.parse_args()


class PcapWriter:
    def __init__(self, path):
        self.f = open(path, "wb")
        # Magic, version 2.4, UTC, accuracy, snaplen, Ethernet.
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

    def write(self, frame):
        t = time.time()
        self.f.write(struct.pack("<IIII", int(t), int((t % 1) * 1e6), len(frame), len(frame)))
        self.f.write(frame)

    def close(self):
        self.f.close()


def tcp_payload(frame):
    """The TCP payload of an IPv4 frame, or None."""
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return None
    ihl = (frame[14] & 15) * 4
    total = int.from_bytes(frame[16:18], "big")
    tcp = 14 + ihl
    if len(frame) < tcp + 20:
        return None
    off = (frame[tcp + 12] >> 4) * 4
    return frame[tcp + off : 14 + total]


def is_tcp(frame):
    if len(frame) < 14:
        return False
    ethertype = int.from_bytes(frame[12:14], "big")
    if ethertype == 0x0800:
        return len(frame) >= 34 and frame[23] == 6
    if ethertype == 0x86DD:
        return len(frame) >= 54 and frame[20] == 6
    return False


class Direction:
    def __init__(self, name, rx, tx, seed, args):
        self.name = name
        self.rx = rx
        self.tx = tx
        self.rng = random.Random(seed)
        self.args = args
        self.held = None  # (frame, deadline)
        self.pcap_in = self.pcap_out = None
        if args.pcap:
            self.pcap_in = PcapWriter(f"{args.pcap}.{name}.in.pcap")
            self.pcap_out = PcapWriter(f"{args.pcap}.{name}.out.pcap")
        self.drop_once = None  # payload to drop once
        self.drop = args.drop
        self.counts = {"frames": 0, "tcp": 0, "other": 0, "dropped": 0,
                       "duplicated": 0, "reordered": 0, "held_timeout": 0,
                       "send_errors": 0, "dropped_once": 0}

    def send(self, frame):
        if self.pcap_out is not None:
            self.pcap_out.write(frame)
        try:
            self.tx.send(frame)
        except OSError:
            self.counts["send_errors"] += 1

    def release_held(self):
        if self.held is not None:
            self.send(self.held[0])
            self.held = None

    def frame(self, frame, now):
        self.counts["frames"] += 1
        if self.pcap_in is not None:
            self.pcap_in.write(frame)
        if not is_tcp(frame):
            self.counts["other"] += 1
            self.send(frame)
            return
        self.counts["tcp"] += 1
        if self.drop_once is not None and self.drop_once in (tcp_payload(frame) or b""):
            self.drop_once = None
            self.counts["dropped_once"] += 1
            return
        r = self.rng.random()
        a = self.args
        if r < self.drop:
            self.counts["dropped"] += 1
            return
        if r < self.drop + a.dup:
            self.counts["duplicated"] += 1
            self.send(frame)
            self.send(frame)
        elif r < self.drop + a.dup + a.reorder and self.held is None:
            self.counts["reordered"] += 1
            self.held = (frame, now + a.hold_ms / 1000.0)
            return
        else:
            self.send(frame)
        self.release_held()

    def expire(self, now):
        if self.held is not None and now >= self.held[1]:
            self.counts["held_timeout"] += 1
            self.release_held()


def open_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def main():
    args = parse_args()
    sa = open_socket(args.if_a)
    sb = open_socket(args.if_b)
    dirs = {
        sa: Direction("a_to_b", sa, sb, args.seed * 2 + 1, args),
        sb: Direction("b_to_a", sb, sa, args.seed * 2 + 2, args),
    }
    if args.drop_b_to_a is not None:
        dirs[sb].drop = args.drop_b_to_a
    if args.drop_once_b_to_a:
        dirs[sb].drop_once = bytes.fromhex(args.drop_once_b_to_a)
    running = [True]

    def stop(_sig, _frame):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with open(args.ready, "w") as f:
        f.write("ready\n")
    end = time.monotonic() + args.duration
    while running[0]:
        now = time.monotonic()
        if now >= end:
            break
        timeout = 0.05
        for d in dirs.values():
            if d.held is not None:
                timeout = min(timeout, max(0.0, d.held[1] - now))
        try:
            ready, _, _ = select.select([sa, sb], [], [], timeout)
        except InterruptedError:
            continue
        for s in ready:
            d = dirs[s]
            for _ in range(256):  # bounded drain per wake-up
                try:
                    frame, addr = s.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                d.frame(frame, time.monotonic())
        now = time.monotonic()
        for d in dirs.values():
            d.expire(now)
    for d in dirs.values():
        d.release_held()
        if d.pcap_in is not None:
            d.pcap_in.close()
            d.pcap_out.close()
    with open(args.stats, "w") as f:
        json.dump({d.name: d.counts for d in dirs.values()}, f, separators=(",", ":"))
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
