"use strict";
// The node:http front end's send timeout (httpd's Timeout on a send): a response the client does
// not read is cut once the socket has taken nothing for Timeout seconds; an application that is
// slow to answer is not timed by it.
const test = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");
const { writeSite, parseResponses } = require("./helpers/raw-http");

const SLOW = `"use strict";
exports.application = async (environ, start_response) => {
  await new Promise((r) => setTimeout(r, 1500));
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "4"]]);
  return [Buffer.from("slow")];
};
`;

async function waitFor(fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!fn() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return fn();
}

test("node front end: Timeout cuts a response the client does not read, not a slow application", async () => {
  const site = writeSite("nodewsgi-send-timeout-", ({ work }) => ({
    files: { "slow.js": SLOW, "htdocs/big.bin": Buffer.alloc(32 * 1024 * 1024, 7) },
    config: `Timeout 1
WSGIScriptAlias /slow "${work}/slow.js" application-group=%{GLOBAL}
Alias /big.bin "${work}/htdocs/big.bin"
<Directory "${work}">
    Require all granted
</Directory>
`,
  }));
  const config = loadConfig(site.configFile);
  const server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog ?? 2, "info"), notice: () => {} });
  const serverSockets = [];
  server.frontEnd.bound[0].on("connection", (s) => serverSockets.push(s));
  const port = server.addresses[0].port;
  const clients = [];
  try {
    // A client that asks for 32 MiB and never reads.
    const stalled = net.connect(port, "127.0.0.1");
    clients.push(stalled);
    stalled.on("error", () => {});
    await new Promise((r) => stalled.once("connect", r));
    stalled.pause();
    stalled.write("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.ok(await waitFor(() => serverSockets.length === 1 && server.frontEnd.inFlight === 1), "the response is under way");
    const started = Date.now();
    assert.ok(await waitFor(() => serverSockets[0].destroyed), "the connection was not closed");
    assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms, before Timeout`);
    assert.ok(await waitFor(() => server.frontEnd.inFlight === 0));

    // An application slower than Timeout still answers.
    const slow = net.connect(port, "127.0.0.1");
    clients.push(slow);
    const chunks = [];
    slow.on("data", (c) => chunks.push(c));
    await new Promise((r) => slow.once("connect", r));
    slow.write("GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    await new Promise((r) => slow.once("close", r));
    const [res] = parseResponses(Buffer.concat(chunks));
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), "slow");
  } finally {
    for (const c of clients) c.destroy();
    await server.stop();
  }
});
