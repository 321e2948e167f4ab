"use strict";
// A graceful stop lets a response uWS could not send at once finish: a large body that waits
// for the client to read is still in flight, not done, whether it was streamed or returned whole.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");

const SIZE = 16 * 1024 * 1024;

for (const [name, iterable] of [
  ["the last chunk of a streamed body", 'return [Buffer.from("a"), rest];'],
  ["a body returned in one chunk", 'return [Buffer.concat([Buffer.from("a"), rest])];'],
]) {
test(`uWS: a stop while ${name} waits for a slow client still delivers the whole body`, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-uws-stop-"));
  // A client that is not reading leaves most of the body waiting for onWritable.
  fs.writeFileSync(
    path.join(dir, "big.js"),
    `const rest = Buffer.alloc(${SIZE - 1}, 97);
exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "application/octet-stream"], ["Content-Length", "${SIZE}"]]); ${iterable} };\n`,
  );
  fs.writeFileSync(
    path.join(dir, "site.conf"),
    ["ServerName localhost", "Listen 127.0.0.1:0", `WSGIScriptAlias / ${dir}/big.js application-group=%{GLOBAL}`, `<Directory ${dir}>`, "    Require all granted", "</Directory>", ""].join("\n"),
  );
  const server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd: "uws", errorLog: { log() {}, close() {} }, accessLog: null, notice: () => {} });
  const port = server.addresses[0].port;
  const sock = net.connect(port, "127.0.0.1");
  sock.setNoDelay(true);
  await new Promise((resolve) => sock.once("connect", resolve));
  sock.pause();
  sock.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  // Once the server has the request, let it write what the socket buffers take; the rest
  // waits for onWritable. (Waiting for the request first: a stop before it arrives tests nothing.)
  for (const until = Date.now() + 30_000; server.frontEnd.inFlight === 0 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stopped = server.stop(10_000);
  await new Promise((resolve) => setTimeout(resolve, 200));
  let received = 0;
  let closed = false;
  sock.on("close", () => (closed = true));
  sock.on("data", (d) => (received += d.length));
  sock.resume();
  // Until the whole body is in (or the server closed the connection early); the bound only
  // stops a broken run.
  for (const until = Date.now() + 60_000; received <= SIZE && !closed && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 10));
  sock.destroy();
  await stopped;
  assert.ok(received > SIZE, `received ${received} bytes, expected the head and ${SIZE} body bytes`);
});
}
