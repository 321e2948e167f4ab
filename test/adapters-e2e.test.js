"use strict";
// The Express and Hono examples served end to end: a real nodewsgi server in-process (js
// engine; node:http and uWS front ends) on a real socket, the apps mounted by WSGIScriptAlias.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");
const { request } = require("./helpers/http");

const EXAMPLES = path.join(__dirname, "..", "examples");

/** Is something listening on 127.0.0.1:port? */
function portInUse(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.on("connect", () => (s.destroy(), resolve(true)));
    s.on("error", () => resolve(false));
  });
}

for (const frontEnd of ["node", "uws"]) {
  describe(`framework examples over ${frontEnd}`, () => {
    let server;
    let dir;
    let port;
    let port3000Before;
    before(async () => {
      port3000Before = await portInUse(3000);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-frameworks-"));
      const conf = path.join(dir, "site.conf");
      fs.writeFileSync(conf, `ServerName localhost
Listen 127.0.0.1:0
ErrorLog "${dir}/error.log"
DocumentRoot "${dir}"
WSGIScriptAlias /app "${EXAMPLES}/express/app.js"
WSGIScriptAlias /hono "${EXAMPLES}/hono/app.mjs"
<Directory "${EXAMPLES}">
    Require all granted
</Directory>
`);
      const config = loadConfig(conf);
      server = await Server.start(config, {
        engine: jsEngine,
        frontEnd,
        errorLog: new FileErrorLog(path.join(dir, "error.log"), "info"),
        notice: () => {},
      });
      port = server.addresses[0].port;
    });
    after(async () => {
      await server?.stop(1000);
      fs.rmSync(dir, { recursive: true, force: true });
    });

    describe("Express (script ends with app.listen(3000))", () => {
      it("routes relative to the mount point and sends HTML", async () => {
        const r = await request(port, "/app/");
        assert.equal(r.status, 200);
        assert.match(r.headers["content-type"], /text\/html/);
        assert.equal(r.body, "<p>Hello from Express, mounted at /app</p>");
        assert.equal(r.headers["x-powered-by"], "Express");
      });

      it("res.json with req.query, req.path, baseUrl and originalUrl", async () => {
        const r = await request(port, "/app/json?x=1&tags=a&tags=b");
        assert.equal(r.status, 200);
        assert.equal(r.headers["content-length"], String(Buffer.byteLength(r.body)));
        assert.deepEqual(JSON.parse(r.body), {
          query: { x: "1", tags: ["a", "b"] }, path: "/json", baseUrl: "/app", originalUrl: "/app/json?x=1&tags=a&tags=b", ip: "127.0.0.1", protocol: "http",
        });
      });

      it("req.body through express.json()", async () => {
        const payload = JSON.stringify({ hello: "world", n: [1, 2] });
        const r = await request(port, "/app/echo", { method: "POST", headers: { "Content-Type": "application/json" }, body: payload });
        assert.equal(r.status, 201);
        assert.deepEqual(JSON.parse(r.body), { received: { hello: "world", n: [1, 2] } });
      });

      it("res.redirect", async () => {
        const r = await request(port, "/app/old");
        assert.equal(r.status, 302);
        assert.equal(r.headers.location, "/app/json?from=old");
      });

      it("several Set-Cookie headers", async () => {
        const r = await request(port, "/app/cookies");
        assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/"]);
        assert.equal(r.body, "two cookies");
      });

      it("streams res.write chunks", async () => {
        const r = await request(port, "/app/stream");
        assert.equal(r.status, 200);
        assert.equal(r.headers["transfer-encoding"], "chunked");
        assert.equal(r.body, "chunk 0\nchunk 1\nchunk 2\ndone\n");
      });

      it("Express's own 404 and the app's error handler", async () => {
        const r404 = await request(port, "/app/missing");
        assert.equal(r404.status, 404);
        assert.match(r404.body, /Cannot GET \/app\/missing/);
        const r500 = await request(port, "/app/fail");
        assert.equal(r500.status, 500);
        assert.deepEqual(JSON.parse(r500.body), { error: "something broke" });
      });

      it("HEAD gets the headers of GET and no body", async () => {
        const r = await request(port, "/app/json", { method: "HEAD" });
        assert.equal(r.status, 200);
        assert.equal(r.body, "");
        assert.match(r.headers["content-type"], /application\/json/);
      });

      it("did not bind port 3000", async () => {
        if (port3000Before) return; // something else owns it: nothing to learn
        assert.equal(await portInUse(3000), false);
      });
    });

    describe("Hono (export default app, ESM)", () => {
      it("routes relative to the mount point; c.env is the environ", async () => {
        const r = await request(port, "/hono/");
        assert.equal(r.status, 200);
        assert.equal(r.body, "Hello from Hono, mounted at /hono");
        assert.equal(r.headers["content-length"], String(r.body.length), "a complete body gets a Content-Length");
      });

      it("json with the query and the full request URL", async () => {
        const r = await request(port, "/hono/json?x=1", { headers: { Host: "example.test" } });
        assert.deepEqual(JSON.parse(r.body), { query: { x: "1" }, url: "http://example.test/hono/json?x=1", method: "GET" });
      });

      it("request bodies", async () => {
        const r = await request(port, "/hono/echo", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"a":[1]}' });
        assert.equal(r.status, 201);
        assert.deepEqual(JSON.parse(r.body), { received: { a: [1] } });
      });

      it("several Set-Cookie headers", async () => {
        const r = await request(port, "/hono/cookies");
        assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/"]);
      });

      it("streaming", async () => {
        const r = await request(port, "/hono/stream");
        assert.equal(r.headers["transfer-encoding"], "chunked");
        assert.equal(r.body, "chunk 0\nchunk 1\nchunk 2\ndone\n");
      });

      it("the app's notFound handler", async () => {
        const r = await request(port, "/hono/nope");
        assert.equal(r.status, 404);
        assert.deepEqual(JSON.parse(r.body), { error: "not found", path: "/nope" });
      });
    });
  });
}

describe("Hono as CommonJS (module.exports = app)", () => {
  let server;
  let dir;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-hono-cjs-"));
    // The script lives in the checkout so require("hono") resolves from node_modules.
    const script = path.join(dir, "app.js");
    fs.writeFileSync(script, `const { Hono } = require(${JSON.stringify(require.resolve("hono"))});
const { streamText } = require(${JSON.stringify(require.resolve("hono/streaming"))});
const app = new Hono();
app.get("/hono-cjs/hi/:name", (c) => c.json({ hi: c.req.param("name") }));
app.get("/hono-cjs/s", (c) => streamText(c, async (s) => { await s.write("a"); await s.sleep(5); await s.write("b"); }));
module.exports = app;
`);
    const conf = path.join(dir, "site.conf");
    fs.writeFileSync(conf, `ServerName localhost
Listen 127.0.0.1:0
ErrorLog "${dir}/error.log"
DocumentRoot "${dir}"
WSGIScriptAlias /hono-cjs "${script}"
<Directory "${dir}">
    Require all granted
</Directory>
`);
    server = await Server.start(loadConfig(conf), { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(path.join(dir, "error.log"), "info"), notice: () => {} });
  });
  after(async () => {
    await server?.stop(1000);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("routes on the full path (no getPath) and streams", async () => {
    const port = server.addresses[0].port;
    const r = await request(port, "/hono-cjs/hi/bob");
    assert.deepEqual(JSON.parse(r.body), { hi: "bob" });
    const s = await request(port, "/hono-cjs/s");
    assert.equal(s.body, "ab");
  });
});
