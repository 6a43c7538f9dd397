#!/usr/bin/python3
"""WebSocket chat client for tests/test_netns_ws.c (python websockets).

Connects to URI offering the library's default compression
(permessage-deflate), sends every line of INPUT as one text message (every
--fragment-every'th one in fragments split at character positions, so a
value may be cut anywhere), a ping every --ping-every messages (awaiting its
pong), then "__done__", and records every message the server sends until it
closes: one JSON line {"text": "..."} each in OUT, then {"close": CODE,
"extensions": [...]}. Exits 0 when the server closed normally, 1 otherwise;
--timeout bounds the whole run.
"""
import argparse
import asyncio
import json
import sys

import websockets


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--uri", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--fragment-every", type=int, default=7)
    p.add_argument("--ping-every", type=int, default=50)
    return p.parse_args()


def fragments(text, n):
    """text in n pieces cut at character positions (some may be empty)."""
    k = max(1, len(text) // n)
    cuts = [min(len(text), i * k) for i in range(n)] + [len(text)]
    return [text[cuts[i] : cuts[i + 1]] for i in range(n)]


async def converse(args, out):
    with open(args.input, encoding="utf-8") as f:
        messages = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    async with websockets.connect(
        args.uri, ping_interval=None, max_size=1 << 20, open_timeout=20
    ) as ws:
        for i, text in enumerate(messages, 1):
            if args.fragment_every > 0 and i % args.fragment_every == 0:
                await ws.send(fragments(text, 2 + i % 3))
            else:
                await ws.send(text)
            if args.ping_every > 0 and i % args.ping_every == 0:
                pong = await ws.ping()
                await asyncio.wait_for(pong, timeout=20)
        await ws.send("__done__")
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    out.write(json.dumps({"binary": message.hex()}) + "\n")
                else:
                    out.write(json.dumps({"text": message}, ensure_ascii=False) + "\n")
        except websockets.ConnectionClosed:
            pass
        await ws.wait_closed()
        out.write(
            json.dumps(
                {"close": ws.close_code, "extensions": [type(e).__name__ for e in ws.extensions]}
            )
            + "\n"
        )
        return 0 if ws.close_code == 1000 else 1


async def main():
    args = parse_args()
    with open(args.out, "w", encoding="utf-8") as out:
        try:
            return await asyncio.wait_for(converse(args, out), timeout=args.timeout)
        except (asyncio.TimeoutError, OSError, websockets.WebSocketException) as e:
            out.write(json.dumps({"error": repr(e)}) + "\n")
            return 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
