"use strict";
// Unit tests of the framework adapters (fetch handlers, Node listeners), shape detection and
// listen() capture, driven with a fake start_response.
const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");
const { fetchToWsgi } = require("../dist/app/adapters/fetch-adapter");
const { nodeListenerToWsgi } = require("../dist/app/adapters/node-adapter");
const { loadApplicationShape, parseApplicationType } = require("../dist/app/adapters/detect");
const { withListenCapture } = require("../dist/app/adapters/listen-capture");
const { requestUrl, encodePath } = require("../dist/app/adapters/environ-http");
const { loadScript, ScriptCache } = require("../dist/app/loader");
const { createInput, memoryBody } = require("../dist/app/input");

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-adapters-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
function script(source, ext = ".js") {
  const file = path.join(tmp, `s${++seq}${ext}`);
  fs.writeFileSync(file, source);
  return file;
}

function environ(over = {}, body = "") {
  return {
    REQUEST_METHOD: "GET",
    SCRIPT_NAME: "/app",
    PATH_INFO: "/x",
    QUERY_STRING: "",
    SERVER_NAME: "localhost",
    SERVER_PORT: "8080",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_ADDR: "127.0.0.1",
    REMOTE_ADDR: "127.0.0.2",
    REMOTE_PORT: "50000",
    HTTP_HOST: "example.test:8080",
    "wsgi.url_scheme": "http",
    "wsgi.input": createInput(memoryBody(Buffer.from(body))),
    "wsgi.errors": { write() {}, flush() {} },
    ...over,
  };
}

/** Call a WSGI-style app and collect its response. */
async function call(app, env) {
  let status = null;
  let headers = null;
  let starts = 0;
  const start = (s, h) => {
    starts++;
    status = s;
    headers = h;
    return () => Promise.resolve();
  };
  const result = await app(env, start);
  const chunks = [];
  if (Array.isArray(result)) chunks.push(...result);
  else for await (const c of result) chunks.push(c);
  return { status, headers, starts, array: Array.isArray(result), body: Buffer.concat(chunks.map((c) => Buffer.from(c))).toString() };
}

describe("environ -> URL", () => {
  it("joins scheme, Host, SCRIPT_NAME, PATH_INFO and the query, escaping the path", () => {
    assert.equal(requestUrl(environ({ QUERY_STRING: "a=1&b=%20" })), "http://example.test:8080/app/x?a=1&b=%20");
    assert.equal(requestUrl(environ({ HTTP_HOST: "", "wsgi.url_scheme": "https", SERVER_PORT: "443", PATH_INFO: "" })), "https://localhost/app");
    assert.equal(encodePath("/a b/%/?#"), "/a%20b/%25/%3F%23");
    // environ strings carry bytes as latin-1 characters
    assert.equal(encodePath(Buffer.from("/é", "utf8").toString("latin1")), "/%C3%A9");
  });
});

describe("fetch adapter", () => {
  it("builds the Request from the environ and maps the Response", async () => {
    let seen;
    const app = fetchToWsgi(async (request, env, ctx) => {
      seen = { url: request.url, method: request.method, type: request.headers.get("content-type"), x: request.headers.get("x-custom"), body: await request.text(), env, ctx };
      const headers = new Headers([["Content-Type", "text/plain"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["Connection", "close"]]);
      return new Response("hello", { status: 201, headers });
    });
    const env = environ({ REQUEST_METHOD: "POST", QUERY_STRING: "q=1", CONTENT_TYPE: "text/plain", CONTENT_LENGTH: "4", HTTP_X_CUSTOM: "yes" }, "ping");
    const r = await call(app, env);
    assert.equal(seen.url, "http://example.test:8080/app/x?q=1");
    assert.equal(seen.method, "POST");
    assert.equal(seen.type, "text/plain");
    assert.equal(seen.x, "yes");
    assert.equal(seen.body, "ping");
    assert.equal(seen.env, env);
    assert.equal(typeof seen.ctx.waitUntil, "function");
    assert.equal(r.status, "201 Created");
    assert.deepEqual(r.headers.filter(([n]) => n.toLowerCase() === "set-cookie").map(([, v]) => v), ["a=1", "b=2"]);
    assert.ok(!r.headers.some(([n]) => n.toLowerCase() === "connection"), "hop-by-hop header dropped");
    assert.equal(r.body, "hello");
    assert.equal(r.array, true, "a complete body becomes an array (Content-Length)");
  });

  it("streams a body that is still being produced and cancels it on close()", async () => {
    let cancelled = false;
    const app = fetchToWsgi(() => {
      let n = 0;
      const stream = new ReadableStream({
        async pull(c) {
          await new Promise((r) => setTimeout(r, 5));
          if (n < 3) c.enqueue(new TextEncoder().encode(`c${n++};`));
          else c.close();
        },
      });
      return new Response(stream, { status: 200, statusText: "Fine" });
    });
    const r = await call(app, environ());
    assert.equal(r.status, "200 Fine");
    assert.equal(r.array, false);
    assert.equal(r.body, "c0;c1;c2;");

    const app2 = fetchToWsgi(() => new Response(new ReadableStream({
      start(c) { c.enqueue(new Uint8Array([65])); },
      cancel() { cancelled = true; },
    })));
    const result = await app2(environ(), () => () => Promise.resolve());
    const it = result[Symbol.asyncIterator]();
    assert.equal(Buffer.from((await it.next()).value).toString(), "A");
    await result.close();
    assert.equal(cancelled, true);
  });

  it("rejects a handler that does not return a Response", async () => {
    await assert.rejects(call(fetchToWsgi(() => "nope"), environ()), /must return a Response/);
  });
});

describe("node adapter", () => {
  it("gives the listener an IncomingMessage and ServerResponse with mount-relative url", async () => {
    let seen;
    const app = nodeListenerToWsgi((req, res) => {
      seen = {
        isReq: req instanceof http.IncomingMessage,
        isRes: res instanceof http.ServerResponse,
        method: req.method, url: req.url, originalUrl: req.originalUrl, baseUrl: req.baseUrl,
        headers: req.headers, version: req.httpVersion, remote: req.socket.remoteAddress, environ: req.environ,
      };
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        res.setHeader("X-A", "1");
        res.setHeader("Set-Cookie", ["a=1", "b=2"]);
        assert.equal(res.headersSent, false);
        res.writeHead(202, { "Content-Type": "text/plain" });
        assert.equal(res.headersSent, true);
        assert.throws(() => res.setHeader("X-B", "2"), { code: "ERR_HTTP_HEADERS_SENT" });
        res.end(`got ${body}`); // after an explicit writeHead: no implicit Content-Length, as Node
      });
    });
    const env = environ({ REQUEST_METHOD: "PUT", QUERY_STRING: "a=1", CONTENT_LENGTH: "3", CONTENT_TYPE: "text/plain", HTTP_X_FORWARDED_FOR: "1.2.3.4" }, "abc");
    const r = await call(app, env);
    assert.deepEqual({ ...seen, headers: undefined, environ: undefined }, {
      isReq: true, isRes: true, method: "PUT", url: "/x?a=1", originalUrl: "/app/x?a=1", baseUrl: "/app",
      headers: undefined, version: "1.1", remote: "127.0.0.2", environ: undefined,
    });
    assert.equal(seen.environ, env);
    assert.equal(seen.headers["content-length"], "3");
    assert.equal(seen.headers["x-forwarded-for"], "1.2.3.4");
    assert.equal(seen.headers.host, "example.test:8080");
    assert.equal(r.status, "202 Accepted");
    assert.deepEqual(r.headers, [["X-A", "1"], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"], ["Content-Type", "text/plain"]]);
    assert.equal(r.body, "got abc");
    assert.equal(r.starts, 1);
  });

  it("url is / at the mount point itself", async () => {
    let url;
    const app = nodeListenerToWsgi((req, res) => {
      url = req.url;
      res.end();
    });
    const r = await call(app, environ({ PATH_INFO: undefined }));
    assert.equal(url, "/");
    assert.equal(r.status, "200 OK");
    assert.deepEqual(r.headers, [["Content-Length", "0"]]);
  });

  it("applies backpressure: write() returns false past 16 KiB and drain follows consumption", async () => {
    const events = [];
    let writeResults = [];
    const app = nodeListenerToWsgi((req, res) => {
      const chunk = Buffer.alloc(8192, 120);
      writeResults = [res.write(chunk), res.write(chunk), res.write(chunk)];
      res.once("drain", () => {
        events.push("drain");
        res.end("!");
      });
      res.on("finish", () => events.push("finish"));
      res.on("close", () => events.push("close"));
    });
    const r = await call(app, environ());
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writeResults, [true, false, false]);
    assert.equal(r.body.length, 3 * 8192 + 1);
    assert.deepEqual(events, ["drain", "finish", "close"]);
  });

  it("a client abort closes res without finish and aborts an unread request", async () => {
    const events = [];
    const app = nodeListenerToWsgi((req, res) => {
      req.on("aborted", () => events.push("req aborted"));
      res.on("finish", () => events.push("finish"));
      res.on("close", () => events.push("res close"));
      res.write("partial");
    });
    const result = app(environ({ REQUEST_METHOD: "POST", CONTENT_LENGTH: "3" }, "abc"), () => () => Promise.resolve());
    const it = result[Symbol.asyncIterator]();
    assert.equal(String((await it.next()).value), "partial");
    result.close();
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(events.includes("res close"), events.join());
    assert.ok(events.includes("req aborted"), events.join());
    assert.ok(!events.includes("finish"));
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  it("res.destroy(err) fails the response; a rejected async listener too", async () => {
    const app = nodeListenerToWsgi((req, res) => setTimeout(() => res.destroy(new Error("gone")), 1));
    await assert.rejects(call(app, environ()));
    const app2 = nodeListenerToWsgi(async () => {
      throw new Error("async boom");
    });
    await assert.rejects(call(app2, environ()), /async boom/);
  });

  it("writeHead accepts a reason and raw header arrays; 204 and HEAD drop the body", async () => {
    const app = nodeListenerToWsgi((req, res) => {
      res.writeHead(299, "Custom", ["X-One", "1", "X-One", "2"]);
      res.end("body");
    });
    const r = await call(app, environ());
    assert.equal(r.status, "299 Custom");
    assert.deepEqual(r.headers, [["X-One", "1"], ["X-One", "2"]]);
    const r204 = await call(nodeListenerToWsgi((req, res) => { res.statusCode = 204; res.end("ignored"); }), environ());
    assert.equal(r204.status, "204 No Content");
    assert.equal(r204.body, "");
    const rHead = await call(nodeListenerToWsgi((req, res) => res.end("four")), environ({ REQUEST_METHOD: "HEAD" }));
    assert.deepEqual(rHead.headers, [], "as Node: no implicit Content-Length on HEAD");
    assert.equal(rHead.body, "");
  });

  it("write after end reports ERR_STREAM_WRITE_AFTER_END to the callback only", async () => {
    let err;
    const app = nodeListenerToWsgi((req, res) => {
      res.end("x");
      res.write("y", (e) => (err = e));
    });
    const r = await call(app, environ());
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(r.body, "x");
    assert.equal(err.code, "ERR_STREAM_WRITE_AFTER_END");
  });
});

describe("shape detection", () => {
  const load = async (source, ext, name, type) => loadApplicationShape(await loadScript(script(source, ext)), name, type);

  it("keeps WSGI callables WSGI", async () => {
    assert.equal((await load("exports.application = (environ, start_response) => [];")).shape, "wsgi");
    assert.equal((await load("module.exports = function (environ, start_response) { return []; };")).shape, "wsgi");
    assert.equal((await load("export default (e, s) => [];", ".mjs")).shape, "wsgi");
    assert.equal((await load("exports.app = (e, s) => [];", ".js", "app")).shape, "wsgi");
  });

  it("finds fetch handlers", async () => {
    assert.equal((await load("export default { fetch(req) { return new Response('x'); } };", ".mjs")).shape, "fetch");
    assert.equal((await load("export function fetch(req) { return new Response('x'); }", ".mjs")).shape, "fetch");
    assert.equal((await load("module.exports = { fetch: () => new Response('x') };")).shape, "fetch");
    assert.equal((await load("exports.application = { fetch: () => new Response('x') };")).shape, "fetch");
  });

  it("finds Node listeners: frameworks, (req, res) functions, servers", async () => {
    assert.equal((await load("const f = (req, res, next) => {}; f.handle = f; f.use = () => {}; module.exports = f;")).shape, "node");
    assert.equal((await load("module.exports = (req, res) => res.end('k');")).shape, "node");
    assert.equal((await load("exports.application = async function (request, response) {};")).shape, "node");
    assert.equal((await load("module.exports = { use() {}, callback() { return (req, res) => res.end('koa'); } };")).shape, "node");
    assert.equal((await load("module.exports = require('node:http').createServer((q, s) => s.end('srv'));")).shape, "node");
    const r = await load("module.exports = { use() {}, callback() { return (req, res) => res.end('koa'); } };");
    assert.equal((await call(r.application, environ())).body, "koa");
  });

  it("an explicit type overrides detection", async () => {
    assert.equal((await load("module.exports = (req, res) => {};", ".js", "application", "wsgi")).shape, "wsgi");
    const f = await load("exports.application = (request) => new Response('fetched');", ".js", "application", "fetch");
    assert.equal(f.shape, "fetch");
    assert.equal((await call(f.application, environ())).body, "fetched");
    const n = await load("exports.application = (a, b) => b.end('noded');", ".js", "application", "node");
    assert.equal((await call(n.application, environ())).body, "noded");
    await assert.rejects(load("exports.other = 1;", ".js", "application", "fetch"), { code: "E_CALLABLE_NOT_FOUND" });
    assert.equal(parseApplicationType(" Fetch "), "fetch");
    assert.throws(() => parseApplicationType("asgi"), { code: "E_APPLICATION_TYPE" });
  });

  it("reports a script with nothing usable as mod_wsgi does", async () => {
    await assert.rejects(load("exports.other = 1;"), { code: "E_CALLABLE_NOT_FOUND", message: /does not contain WSGI application 'application'/ });
    await assert.rejects(load("exports.application = 42;"), { code: "E_CALLABLE_NOT_FOUND" });
  });

  it("ScriptCache resolves shapes (and the applicationType option)", async () => {
    const file = script("module.exports = { fetch: () => new Response('cached') };");
    const app = await new ScriptCache("g").getCallable(file);
    assert.equal((await call(app, environ())).body, "cached");
    await assert.rejects(new ScriptCache("g", { applicationType: "wsgi" }).getCallable(file), { code: "E_CALLABLE_NOT_FOUND" });
  });
});

describe("listen() capture", () => {
  it("captures app.listen(port) during a CommonJS load without binding", async () => {
    const file = script(`
      const http = require("node:http");
      const server = http.createServer((req, res) => res.end("captured " + req.url));
      server.listen(3000, () => { exports.called = server.address().port; });
    `);
    const s = await loadScript(file);
    assert.ok(s.listenServer, "server captured");
    assert.equal(s.listenServer._handle, null, "no socket was bound");
    assert.equal(s.listenServer.listening, true);
    assert.equal(s.exports.called, 3000, "the listen callback ran");
    const r = loadApplicationShape(s, "application", "auto");
    assert.equal(r.shape, "node");
    assert.equal((await call(r.application, environ())).body, "captured /x");
  });

  it("captures in ESM scripts and after an await in an async main", async () => {
    const esm = await loadScript(script(`
      import http from "node:http";
      await Promise.resolve();
      http.createServer((req, res) => res.end("esm")).listen(0);
    `, ".mjs"));
    assert.ok(esm.listenServer);
    assert.equal(esm.listenServer._handle, null);
    const cjs = await loadScript(script(`
      const http = require("node:http");
      (async () => { await null; http.createServer((q, s) => s.end("late")).listen(0); })();
    `));
    assert.ok(cjs.listenServer);
  });

  it("only the first listen is captured; plain net servers and other contexts bind", async () => {
    const s = await loadScript(script(`
      const http = require("node:http");
      const net = require("node:net");
      http.createServer((q, s) => s.end("first")).listen(0);
      exports.second = http.createServer((q, s) => s.end("second")).listen(0, "127.0.0.1");
      exports.raw = net.createServer(() => {}).listen(0, "127.0.0.1");
    `));
    try {
      assert.equal(s.listenServer._handle, null);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(s.exports.second.address().port > 0, "second server bound");
      assert.ok(s.exports.raw.address().port > 0, "net server bound");
    } finally {
      s.exports.second.close();
      s.exports.raw.close();
    }
    // A listen() in another async context while a load is in flight is not touched.
    let outside;
    const { server } = await withListenCapture(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    await Promise.all([
      withListenCapture(() => new Promise((resolve) => setTimeout(resolve, 20))),
      new Promise((resolve) => {
        outside = http.createServer(() => {}).listen(0, "127.0.0.1", resolve);
      }),
    ]);
    assert.equal(server, null);
    assert.ok(outside.address().port > 0);
    outside.close();
  });
});
