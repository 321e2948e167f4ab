"use strict";
// The node:http front end and pipelining clients, over raw sockets: requests pipelined behind
// one under way wait their turn, and once PIPELINE_PAUSE_AT (32) wait the connection is not
// read until they drain (httpd does not read a connection while a response is under way), so a
// long pipeline is answered in full and in order with a bounded number held; what one read
// brings is parsed whole, and past MAX_PIPELINED_WAITING (32 + 2,048) the client is cut off. A
// client that never reads its responses makes the server hold a bounded amount.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");
const { writeSite, parseResponses } = require("./helpers/raw-http");

const PAUSE_AT = 32;
const READ = 64 * 1024;

const GATE = `"use strict";
exports.application = async (environ, start_response) => {
  globalThis.__gateStarted = (globalThis.__gateStarted || 0) + 1;
  await new Promise((r) => {
    (globalThis.__gates ??= []).push(r);
    globalThis.__gateOpen = () => globalThis.__gates.splice(0).forEach((open) => open());
  });
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "4"]]);
  return [Buffer.from("gate")];
};
`;
const ECHO = `"use strict";
exports.application = (environ, start_response) => {
  const body = Buffer.from(environ.QUERY_STRING);
  start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;
const BIG = 16 * 1024 * 1024;

async function start() {
  const site = writeSite("nodewsgi-pipelining-", ({ work }) => ({
    files: { "gate.js": GATE, "echo.js": ECHO, "htdocs/file.txt": "0123456789", "htdocs/big.bin": Buffer.alloc(BIG, 7) },
    config: `MaxKeepAliveRequests 0
CustomLog "${work}/access.log" "%r %>s"
WSGIScriptAlias /gate "${work}/gate.js" application-group=%{GLOBAL}
WSGIScriptAlias /echo "${work}/echo.js" application-group=%{GLOBAL}
<Directory "${work}">
    Require all granted
</Directory>
`,
  }));
  const config = loadConfig(site.configFile);
  const server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog ?? 2, "info"), notice: () => {} });
  const sockets = [];
  // The server's side of each connection, to see what it holds.
  server.frontEnd.bound[0].on("connection", (s) => sockets.push(s));
  return { server, port: server.addresses[0].port, sockets, work: site.work };
}

// Generous: the wait ends with its condition; the bound only stops a broken run.
async function waitFor(fn, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) return fn();
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A client connection that collects what it receives; `closed` resolves with it all. */
function connect(port) {
  const chunks = [];
  const sock = net.connect(port, "127.0.0.1");
  sock.on("data", (c) => chunks.push(c));
  sock.on("error", () => {});
  const opened = new Promise((resolve) => sock.once("connect", resolve));
  const closed = new Promise((resolve) => sock.on("close", resolve)).then(() => Buffer.concat(chunks));
  return { sock, opened, closed, received: () => Buffer.concat(chunks) };
}

const echoes = (from, to, last = "") => {
  let text = "";
  for (let i = from; i < to; i++) text += `GET /echo?${i} HTTP/1.1\r\nHost: x\r\n${i === to - 1 ? last : ""}\r\n`;
  return text;
};

describe("node front end: pipelined requests and backpressure", () => {
  it("answers 5,000 requests pipelined behind a slow one in full and in order, reading the connection only as they drain", async () => {
    const s = await start();
    try {
      globalThis.__gateStarted = false;
      const c = connect(s.port);
      await c.opened;
      c.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n` + echoes(0, 5000, "Connection: close\r\n"));
      assert.ok(await waitFor(() => globalThis.__gateStarted && s.server.frontEnd.pipelinedWaiting >= PAUSE_AT));
      // Not read on: what waits stays at the low mark plus what the read that crossed it brought.
      const smallest = `GET /echo?0 HTTP/1.1\r\nHost: x\r\n\r\n`.length;
      const bound = PAUSE_AT + Math.ceil(READ / smallest) + 1;
      const held = s.server.frontEnd.pipelinedWaiting;
      await sleep(300);
      assert.equal(s.server.frontEnd.pipelinedWaiting, held, "the connection was read on while requests waited");
      assert.ok(held <= bound, `${held} requests waiting, more than ${bound}`);
      assert.ok(held < 5000);
      globalThis.__gateOpen();
      const responses = parseResponses(await c.closed);
      assert.equal(responses.length, 5001);
      assert.equal(responses[0].body.toString(), "gate");
      for (let i = 0; i < 5000; i++) {
        if (responses[i + 1].status !== 200 || responses[i + 1].body.toString() !== String(i)) assert.fail(`response ${i + 1}: ${responses[i + 1].status} ${responses[i + 1].body}`);
      }
      assert.equal(s.server.frontEnd.pipelinedWaiting, 0);
      assert.equal(s.server.frontEnd.inFlight, 0);
    } finally {
      await s.server.stop();
    }
  });

  it("cuts connections with more than 32 waiting once 8,192 wait on the server altogether, not the polite ones", async () => {
    const s = await start();
    const clients = [];
    try {
      globalThis.__gateStarted = 0;
      const polite = connect(s.port);
      await polite.opened;
      polite.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n` + echoes(0, 10));
      // Five connections of 1,900 requests each (one read apiece, under the per-connection cut).
      const tiny = Buffer.from(`GET / HTTP/1.1\r\nHost:\r\n\r\n`.repeat(1900), "latin1");
      for (let i = 0; i < 5; i++) {
        const c = connect(s.port);
        clients.push(c);
        await c.opened;
        c.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n`);
        assert.ok(await waitFor(() => globalThis.__gateStarted === i + 2));
        c.sock.write(tiny);
        assert.ok(await waitFor(() => s.server.frontEnd.pipelinedWaiting >= Math.min(10 + (i + 1) * 1900, 8192) || c.sock.destroyed));
      }
      const cut = await waitFor(() => clients.filter((c) => c.sock.destroyed || c.sock.readyState === "closed").length);
      assert.ok(cut >= 1, "no connection was cut");
      assert.ok(s.server.frontEnd.pipelinedWaiting <= 8192, `${s.server.frontEnd.pipelinedWaiting} waiting`);
      // The polite connection's requests are all answered once the gates open.
      globalThis.__gateOpen();
      const answered = await waitFor(() => parseResponses(polite.received()).length === 11);
      assert.ok(answered, `${parseResponses(polite.received()).length} answers on the polite connection`);
    } finally {
      for (const c of clients) c.sock.destroy();
      await s.server.stop();
    }
  });

  it("cuts a connection whose one read carries more requests than may wait (2,080), and keeps serving others", async () => {
    const s = await start();
    try {
      globalThis.__gateStarted = false;
      const c = connect(s.port);
      await c.opened;
      c.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.ok(await waitFor(() => globalThis.__gateStarted));
      // 2,500 requests of 25 bytes: 62,500 bytes, one write, read at once.
      const tiny = Buffer.from(`GET / HTTP/1.1\r\nHost:\r\n\r\n`.repeat(2500), "latin1");
      assert.ok(tiny.length <= READ);
      c.sock.write(tiny);
      // Into the server's receive queue at once (loopback), so the server reads it in one go.
      assert.equal(c.sock.writableLength, 0, "the write did not go out at once");
      const raw = await Promise.race([c.closed, sleep(10_000).then(() => null)]);
      assert.notEqual(raw, null, "the connection was not closed");
      assert.equal(parseResponses(raw).length, 0);
      assert.ok(await waitFor(() => s.server.frontEnd.pipelinedWaiting === 0));
      globalThis.__gateOpen();
      assert.ok(await waitFor(() => s.server.frontEnd.inFlight === 0));
      const other = connect(s.port);
      await other.opened;
      other.sock.write(`GET /file.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      assert.equal(parseResponses(await other.closed)[0].status, 200);
    } finally {
      await s.server.stop();
    }
  });

  it("a client that pipelines and never reads makes the server hold a bounded amount; it all goes when the client does", async () => {
    const s = await start();
    try {
      const c = connect(s.port);
      await c.opened;
      c.sock.pause();
      const n = 3000;
      const request = `GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n`;
      c.sock.write(request.repeat(n));
      // The first response fills the socket buffers and waits for the client; nothing more runs.
      const server = await waitFor(() => s.sockets[0]?.writableNeedDrain && s.sockets[0]);
      assert.ok(server);
      const sample = () => ({ waiting: s.server.frontEnd.pipelinedWaiting, inFlight: s.server.frontEnd.inFlight, queued: server.writableLength });
      const before = sample();
      await sleep(500);
      const after = sample();
      assert.equal(after.waiting, before.waiting, "the connection was read on");
      assert.ok(after.waiting <= PAUSE_AT + Math.ceil(READ / request.length) + 1, `${after.waiting} waiting`);
      assert.equal(after.inFlight, 1);
      // What the server holds for the socket: its high-water mark and a chunk of the file, not the responses.
      assert.ok(after.queued <= 1024 * 1024, `${after.queued} bytes queued on the socket`);
      assert.ok(s.server.frontEnd.pipelinedWaiting < n);
      c.sock.destroy();
      assert.ok(await waitFor(() => s.server.frontEnd.pipelinedWaiting === 0 && s.server.frontEnd.inFlight === 0));
    } finally {
      for (const sock of s.sockets) sock.destroy();
      await s.server.stop();
    }
  });

  it("node:http resuming the connection once a large response drains does not end the hold", async () => {
    const s = await start();
    try {
      const c = connect(s.port);
      await c.opened;
      c.sock.pause();
      c.sock.write(`GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n`);
      const server = await waitFor(() => s.sockets[0]?.writableNeedDrain && s.sockets[0]);
      assert.ok(server);
      // Parsed while the response is backed up: node:http pauses the connection itself, and
      // resumes it on the socket's next 'drain'. 3,000 echoes are more than one read.
      const n = 3000;
      c.sock.write(echoes(0, n, "Connection: close\r\n"));
      assert.ok(await waitFor(() => s.server.frontEnd.pipelinedWaiting >= PAUSE_AT));
      let most = 0;
      const watch = setInterval(() => (most = Math.max(most, s.server.frontEnd.pipelinedWaiting)), 1);
      c.sock.resume();
      const responses = parseResponses(await c.closed);
      clearInterval(watch);
      const bound = PAUSE_AT + Math.ceil(READ / `GET /echo?0 HTTP/1.1\r\nHost: x\r\n\r\n`.length) + 1;
      assert.ok(most <= bound, `${most} requests waiting, more than ${bound}`);
      assert.equal(responses.length, n + 1);
      assert.equal(responses[0].body.length, BIG);
      for (let i = 0; i < n; i++) if (responses[i + 1].body.toString() !== String(i)) assert.fail(`response ${i + 1}: ${responses[i + 1].body}`);
    } finally {
      await s.server.stop();
    }
  });

  it("keeps its access log in request order and the connection's count of what waits at zero after KeepAlive Off", async () => {
    const s = await start();
    try {
      globalThis.__gateStarted = false;
      s.server.frontEnd.keepAliveOff = true;
      const c = connect(s.port);
      await c.opened;
      c.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n` + echoes(0, 100));
      assert.ok(await waitFor(() => globalThis.__gateStarted && s.server.frontEnd.pipelinedWaiting === 100));
      globalThis.__gateOpen();
      // The first response closes the connection: what waited behind it is never run.
      const responses = parseResponses(await c.closed);
      assert.deepEqual(responses.map((r) => r.status), [200]);
      assert.ok(await waitFor(() => s.server.frontEnd.pipelinedWaiting === 0 && s.server.frontEnd.inFlight === 0));
      const log = await waitFor(() => fs.existsSync(path.join(s.work, "access.log")) && fs.readFileSync(path.join(s.work, "access.log"), "utf8"));
      assert.deepEqual(log.trim().split("\n"), ["GET /gate HTTP/1.1 200"]);
    } finally {
      await s.server.stop();
    }
  });

  it("a malformed request among those read while the connection is held closes it, and what waited goes with it", async () => {
    const s = await start();
    try {
      globalThis.__gateStarted = 0;
      const c = connect(s.port);
      await c.opened;
      c.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n` + echoes(0, 40) + `GET /a b c\r\n\r\n` + echoes(40, 50));
      // node's parser refuses it while the gated request is under way: the connection is cut.
      const raw = await Promise.race([c.closed, sleep(10_000).then(() => null)]);
      assert.notEqual(raw, null, "the connection was not closed");
      assert.ok(await waitFor(() => s.server.frontEnd.pipelinedWaiting === 0));
      globalThis.__gateOpen?.();
      assert.ok(await waitFor(() => s.server.frontEnd.inFlight === 0));
    } finally {
      await s.server.stop();
    }
  });

  it("a request head node:http times out while responses before it are under way gets its time once its turn comes", async () => {
    // node times a head from its first byte; here the head arrives split while the connection
    // is held, and its first part waits behind a response for longer than the header timeout.
    const s = await start();
    try {
      const http = s.server.frontEnd.bound[0];
      http.headersTimeout = 1000;
      let timeouts = 0;
      http.on("clientError", (err) => err.code === "ERR_HTTP_REQUEST_TIMEOUT" && timeouts++);
      globalThis.__gateStarted = 0;
      const head = `GET /echo?late HTTP/1.1\r\nHo`;
      const completes = connect(s.port);
      const stalls = connect(s.port);
      await Promise.all([completes.opened, stalls.opened]);
      for (const c of [completes, stalls]) c.sock.write(`GET /gate HTTP/1.1\r\nHost: x\r\n\r\n` + echoes(0, 40) + head);
      assert.ok(await waitFor(() => globalThis.__gateStarted === 2 && s.server.frontEnd.pipelinedWaiting === 80));
      // node's check runs every 5 s.
      assert.ok(await waitFor(() => timeouts === 2, 15_000));
      await sleep(100);
      assert.equal(s.server.frontEnd.inFlight, 2, "a response under way was cut");
      globalThis.__gateOpen();
      assert.ok(await waitFor(() => parseResponses(completes.received()).length === 41));
      completes.sock.write(`st: x\r\nConnection: close\r\n\r\n`);
      const done = parseResponses(await completes.closed);
      assert.equal(done.length, 42);
      assert.deepEqual([done[0].body.toString(), done[1].body.toString(), done[41].body.toString()], ["gate", "0", "late"]);
      // The other never completes its head: 408 once the header timeout has passed from its turn.
      const stalled = parseResponses(await stalls.closed);
      assert.deepEqual(stalled.map((r) => r.status), [...Array(41).fill(200), 408]);
    } finally {
      await s.server.stop();
    }
  });
});
