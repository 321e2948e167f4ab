"use strict";
// The gateway interface over a real node:http server (port 0), with a minimal ResponseSink
// adapter: proves streaming, backpressure, Content-Length framing and abort handling on sockets.
const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("node:http");
const net = require("node:net");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { runApplication } = require("../dist/app/run");
const { ScriptCache } = require("../dist/app/loader");
const { buildEnviron } = require("../dist/app/environ");
const { collectBody, createInput } = require("../dist/app/input");
const { WsgiErrors } = require("../dist/app/errors-stream");
const client = require("./helpers/http");

function nodeSink(req, res) {
  const sink = {
    get aborted() {
      return res.destroyed && !res.writableFinished;
    },
    onAbort(cb) {
      res.on("close", () => {
        if (!res.writableFinished) cb();
      });
    },
    writeHead(status, reason, headers) {
      res.writeHead(status, reason, headers.flat());
    },
    write: (chunk) => res.write(chunk),
    drain: () => (res.writableNeedDrain ? new Promise((r) => res.once("drain", r)) : Promise.resolve()),
    end: (chunk) => res.end(chunk),
    destroy: () => res.destroy(),
  };
  return sink;
}

function bodyOf(req) {
  return {
    declaredLength: req.headers["content-length"] ? Number(req.headers["content-length"]) : -1,
    chunked: req.headers["transfer-encoding"] === "chunked",
    start(onChunk) {
      req.on("data", (c) => onChunk(c, false));
      req.on("end", () => onChunk(new Uint8Array(0), true));
    },
    pause: () => req.pause(),
    resume: () => req.resume(),
  };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-http-"));
const logLines = [];
const log = { log: (l, m, msg) => logLines.push(msg), close() {} };
const cache = new ScriptCache("localhost|");
const state = { pulled: 0, closed: 0 };
globalThis.__nodewsgiHttpState = state;

fs.writeFileSync(
  path.join(dir, "app.wsgi"),
  `"use strict";
const state = globalThis.__nodewsgiHttpState;
exports.application = (environ, start_response) => {
  const path = environ.PATH_INFO;
  if (path === "/echo") {
    const body = environ["wsgi.input"].read();
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [body];
  }
  if (path === "/big") {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    const block = Buffer.alloc(64 * 1024, 120);
    const it = (function* () { for (let i = 0; i < 256; i++) { state.pulled++; yield block; } })();
    it.close = () => state.closed++;
    return it;
  }
  if (path === "/boom") throw new Error("boom from app");
  if (path === "/short") {
    start_response("200 OK", [["Content-Length", "100"]]);
    return (function* () { yield "only this"; })();
  }
  environ["wsgi.errors"].write("hello log\\n");
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return ["Hello World!"];
};
`,
);

let server;
let port;
test.before(async () => {
  server = http.createServer(async (req, res) => {
    const sink = nodeSink(req, res);
    const buf = await collectBody(bodyOf(req), { limit: 0, spoolThreshold: 1 << 20 });
    const environ = buildEnviron(["REQUEST_METHOD", req.method, "PATH_INFO", req.url, "SCRIPT_FILENAME", path.join(dir, "app.wsgi")], {
      urlScheme: "http",
      input: createInput(buf),
      errors: new WsgiErrors(log, "[client test] "),
      multithread: true,
      multiprocess: false,
      runOnce: false,
    });
    const app = await cache.getCallable(path.join(dir, "app.wsgi"));
    await runApplication(app, environ, sink, { method: req.method, log });
    buf.dispose();
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  port = server.address().port;
});
test.after(() => {
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A request to the server under test. */
const get = (pathname, opts) => client.request(port, pathname, opts);

test("hello world over a socket, with Content-Length and wsgi.errors logged", async () => {
  const r = await get("/");
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-length"], "12");
  assert.equal(r.body, "Hello World!");
  assert.ok(logLines.includes("[client test] hello log"));
});

test("request body round trip", async () => {
  const payload = Buffer.alloc(300000, 7);
  const { bytes } = await get("/echo", { method: "POST", body: payload });
  assert.deepEqual(bytes, payload);
});

test("streaming honours backpressure: the app is not drained ahead of a slow reader", async () => {
  state.pulled = 0;
  state.closed = 0;
  const socket = net.connect(port, "127.0.0.1");
  socket.write("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  socket.pause();
  // Once the application is producing, give a server that ignored backpressure the time to
  // drain it ahead (the wait for the start ends with it; the bound is for a broken run).
  for (const until = Date.now() + 30_000; state.pulled === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, 300));
  // 256 blocks of 64 KiB = 16 MiB; socket buffers hold only a fraction of it.
  assert.ok(state.pulled > 0 && state.pulled < 200, `pulled ${state.pulled} while the client read nothing`);
  let received = 0;
  socket.on("data", (c) => (received += c.length));
  socket.resume();
  await new Promise((r) => socket.on("end", r));
  assert.equal(state.pulled, 256);
  assert.ok(received > 256 * 64 * 1024);
  assert.equal(state.closed, 1);
});

test("client abort mid-stream calls close() and the server keeps serving", async () => {
  state.pulled = 0;
  state.closed = 0;
  const socket = net.connect(port, "127.0.0.1");
  socket.write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  await new Promise((r) => socket.once("data", r));
  socket.destroy();
  for (const until = Date.now() + 30_000; state.closed === 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
  assert.equal(state.closed, 1);
  assert.ok(state.pulled < 256);
  const { body } = await get("/");
  assert.equal(body, "Hello World!");
});

test("application exception: 500 page, server keeps serving; short body drops the connection", async () => {
  const r = await get("/boom");
  assert.equal(r.status, 500);
  assert.match(r.body, /Internal Server Error/);
  assert.ok(logLines.some((l) => /boom from app/.test(l)));
  await assert.rejects(get("/short"));
  const again = await get("/");
  assert.equal(again.status, 200);
});

test("HEAD gets headers only", async () => {
  const r = await get("/", { method: "HEAD" });
  assert.equal(r.status, 200);
  assert.equal(r.headers["content-length"], "12");
  assert.equal(r.bytes.length, 0);
});
