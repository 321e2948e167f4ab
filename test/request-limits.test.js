"use strict";
// Request bodies and response headers at the edges: the default LimitRequestBody, an idle
// body, a client that leaves mid-upload, and response-splitting attempts.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { raw } = require("./helpers/http");
const { collectBody } = require("../dist/app/input");

for (const frontEnd of ["node", "uws"]) {
  describe(`request limits (${frontEnd} front end)`, () => {
    let server;
    let port;
    before(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-limits2-"));
      fs.writeFileSync(path.join(dir, "app.js"), `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return [String(e["wsgi.input"].read().length)]; };\n`);
      fs.writeFileSync(
        path.join(dir, "site.conf"),
        [
          "ServerName localhost",
          "Listen 127.0.0.1:0",
          `WSGIScriptAlias /app ${dir}/app.js application-group=%{GLOBAL}`,
          "RewriteEngine On",
          "RewriteRule ^/r/(.*)$ http://example.com/$1 [R,NE]",
          `<Directory ${dir}>`,
          "    Require all granted",
          "</Directory>",
          "",
        ].join("\n"),
      );
      server = await Server.start(loadConfig(path.join(dir, "site.conf")), { engine: jsEngine, frontEnd, errorLog: { log() {}, close() {} }, accessLog: null, notice: () => {} });
      port = server.addresses[0].port;
    });
    after(() => server?.stop(1000));

    it("without LimitRequestBody, a body over 1 GiB is refused with 413 before it is read (httpd >= 2.4.54)", async () => {
      const r = await raw(port, "POST /app HTTP/1.1\r\nHost: x.test\r\nContent-Length: 1073741825\r\n\r\nabc");
      // uWS itself drops a Content-Length of ten digits or more (docs/front-ends.md).
      if (frontEnd === "uws") assert.equal(r, "");
      else assert.match(r, /^HTTP\/1\.1 413 /);
      const fits = await raw(port, "POST /app HTTP/1.1\r\nHost: x.test\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
      assert.match(fits, /^HTTP\/1\.1 200 [^]*\r\n\r\n3$/);
    });

    it("a CR/LF smuggled into a redirect target never splits the response", async () => {
      const r = await raw(port, "GET /r/a%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: x.test\r\nConnection: close\r\n\r\n");
      assert.doesNotMatch(r, /\r\nSet-Cookie: evil=1\r\n/i);
      assert.match(r, /^HTTP\/1\.1 500 /);
    });
  });
}

describe("collecting a body", () => {
  function trickle(parts) {
    let consumer;
    return {
      declaredLength: -1,
      chunked: true,
      start(cb) {
        consumer = cb;
        for (const p of parts) cb(Buffer.from(p), false);
      },
      pause() {},
      resume() {},
      end() {
        consumer(new Uint8Array(0), true);
      },
    };
  }

  it("gives up with 408 when the body stops arriving", async () => {
    const body = trickle(["abc"]);
    await assert.rejects(collectBody(body, { limit: 0, spoolThreshold: 1 << 20, idleTimeoutMs: 50 }), (e) => e.code === "E_BODY_TIMEOUT" && e.status === 408);
  });

  it("releases the spool file when the client goes away mid-body", async () => {
    const fdCount = () => fs.readdirSync("/proc/self/fd").length;
    const before = fdCount();
    const ac = new AbortController();
    const body = trickle([Buffer.alloc(2 << 20, 1)]);
    const pending = collectBody(body, { limit: 0, spoolThreshold: 1 << 20, signal: ac.signal });
    await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    await assert.rejects(pending, (e) => e.code === "E_BODY_ABORTED");
    // The descriptor is closed once the write in flight is done with it: wait for that (bounded
    // for a broken run), not for a guessed 50 ms.
    for (const until = Date.now() + 30_000; fdCount() !== before && Date.now() < until; ) await new Promise((r) => setTimeout(r, 5));
    assert.equal(fdCount(), before);
  });
});
