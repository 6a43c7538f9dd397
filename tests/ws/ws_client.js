#!/usr/bin/env node
// WebSocket chat client for tests/test_netns_ws.c (node `ws`, Debian's
// node-ws; run with NODE_PATH=/usr/share/nodejs).
//
// usage: ws_client.js URI INPUT OUT TIMEOUT_S [FRAGMENT_EVERY] [PING_EVERY]
//
// Connects with perMessageDeflate left at its default (the offer is made),
// sends every line of INPUT as one text message: every FRAGMENT_EVERY'th one
// (default 7) in fragments cut at byte positions, so a fragment may end
// inside a UTF-8 character; a ping every PING_EVERY messages (default 50);
// then "__done__". Every message the server sends is recorded in OUT as a
// JSON line {"text": "..."}, then {"close": CODE, "extensions": "..."}.
// Exits 0 when the server closed normally (1000), 1 otherwise or after
// TIMEOUT_S seconds.
'use strict';

const fs = require('fs');
const WebSocket = require('ws');

const [uri, input, outPath, timeoutS, fragArg, pingArg] = process.argv.slice(2);
const fragmentEvery = fragArg === undefined ? 7 : Number(fragArg);
const pingEvery = pingArg === undefined ? 50 : Number(pingArg);
const messages = fs.readFileSync(input, 'utf8').split('\n').filter((l) => l.length > 0);
const out = fs.openSync(outPath, 'w');

function record(obj) {
  fs.writeSync(out, JSON.stringify(obj) + '\n');
}

const timer = setTimeout(() => {
  record({ error: 'timeout' });
  process.exit(1);
}, Number(timeoutS) * 1000);

const ws = new WebSocket(uri, { handshakeTimeout: 20000 });

function sendFragmented(text, n) {
  const bytes = Buffer.from(text, 'utf8');
  const k = Math.max(1, Math.floor(bytes.length / n));
  for (let i = 0; i < n; i++) {
    const from = Math.min(bytes.length, i * k);
    const to = i === n - 1 ? bytes.length : Math.min(bytes.length, (i + 1) * k);
    ws.send(bytes.subarray(from, to), { binary: false, fin: i === n - 1 });
  }
}

ws.on('open', () => {
  messages.forEach((text, idx) => {
    const i = idx + 1;
    if (fragmentEvery > 0 && i % fragmentEvery === 0) sendFragmented(text, 2 + (i % 3));
    else ws.send(text);
    if (pingEvery > 0 && i % pingEvery === 0) ws.ping();
  });
  ws.send('__done__');
});

ws.on('message', (data, isBinary) => {
  if (isBinary) record({ binary: data.toString('hex') });
  else record({ text: data.toString('utf8') });
});

ws.on('error', (err) => {
  record({ error: String(err) });
});

ws.on('close', (code) => {
  record({ close: code, extensions: ws.extensions });
  clearTimeout(timer);
  fs.closeSync(out);
  process.exit(code === 1000 ? 0 : 1);
});
