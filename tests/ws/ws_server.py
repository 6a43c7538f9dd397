#!/usr/bin/python3
"""WebSocket chat server for tests/test_netns_ws.c (python websockets).

Listens on HOST:PORT with the library's default compression offer
(permessage-deflate, taken only if the client's request still asks for it).
Every text message received is written to OUT as one JSON line
{"conn": N, "text": "..."}; connections are numbered 1, 2, ... in the order
they open. Per connection one line {"conn": N, "extensions": [...],
"offer": "...", "stripped": "..."} goes to LOG: the extensions negotiated
and the request's Sec-WebSocket-Extensions / X-Sluice-WS-Ext-Stripped
headers as the server saw them. After a client sends "__done__" it gets
the lines of REPLIES as text messages (every --fragment-every'th one in
three fragments), then a normal close.

The server stops by itself after --timeout seconds, on SIGTERM, or after
--conns connections have ended. It writes READY once it listens.
"""
import argparse
import asyncio
import json
import signal
import sys

import websockets


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--replies", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--conns", type=int, default=0, help="stop after this many (0: never)")
    p.add_argument("--fragment-every", type=int, default=5)
    return p.parse_args()


def pieces_of(text):
    k = max(1, len(text) // 3)
    return [text[:k], text[k : 2 * k], text[2 * k :]]


async def main():
    args = parse_args()
    with open(args.replies, encoding="utf-8") as f:
        replies = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    out = open(args.out, "w", encoding="utf-8")
    log = open(args.log, "w", encoding="utf-8")
    stop = asyncio.get_running_loop().create_future()
    counter = {"next": 0, "ended": 0}

    def finish():
        if not stop.done():
            stop.set_result(None)

    async def handler(ws, _path=None):
        counter["next"] += 1
        conn = counter["next"]
        headers = ws.request_headers
        log.write(
            json.dumps(
                {
                    "conn": conn,
                    "extensions": [type(e).__name__ for e in ws.extensions],
                    "offer": headers.get("Sec-WebSocket-Extensions", ""),
                    "stripped": headers.get("X-Sluice-WS-Ext-Stripped", ""),
                    "peer": "%s:%d" % ws.remote_address[:2],
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        log.flush()
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    out.write(json.dumps({"conn": conn, "binary": message.hex()}) + "\n")
                    continue
                out.write(json.dumps({"conn": conn, "text": message}, ensure_ascii=False) + "\n")
                if message == "__done__":
                    out.flush()
                    for i, reply in enumerate(replies):
                        if args.fragment_every > 0 and i % args.fragment_every == args.fragment_every - 1:
                            await ws.send(pieces_of(reply))
                        else:
                            await ws.send(reply)
                    await ws.close()
                    break
        except websockets.ConnectionClosed as e:
            log.write(json.dumps({"conn": conn, "closed_early": str(e)}) + "\n")
        finally:
            out.flush()
            log.write(json.dumps({"conn": conn, "end": True}) + "\n")
            log.flush()
            counter["ended"] += 1
            if args.conns and counter["ended"] >= args.conns:
                finish()

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, finish)
    loop.add_signal_handler(signal.SIGINT, finish)
    async with websockets.serve(handler, args.host, args.port, ping_interval=None, max_size=1 << 20):
        with open(args.ready, "w") as f:
            f.write("ready\n")
        try:
            await asyncio.wait_for(stop, timeout=args.timeout)
        except asyncio.TimeoutError:
            log.write(json.dumps({"timeout": args.timeout}) + "\n")
    out.close()
    log.close()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
