"use strict";
// RequestReadTimeout (mod_reqtimeout): a request body must come at MinRate or better once its
// initial timeout has passed, or it is answered 408 and the connection closed (httpd logs
// "AH01382: Request body read timeout" at info), wherever the application runs; the head's
// initial timeout on node:http; its parsing with httpd's wording. Raw sockets, both front ends.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const net = require("node:net");
const path = require("node:path");
const { mountedSite, MOUNTS, warmUp, startServer, exchange, parseResponses, writeSite } = require("./helpers/raw-http");
const { loadConfig } = require("../dist/config");

// Records each call (PATH_INFO) in a file next to the script, so a test can tell whether the
// application ran, in whichever process it runs.
const APP = `const fs = require("node:fs");
exports.application = (environ, start_response) => {
  fs.appendFileSync(__dirname + "/calls", environ.PATH_INFO + "\\n");
  const body = environ["wsgi.input"].read();
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return ["read " + body.length];
};
`;

/**
 * Send `head`, then `piece` every `everyMs` until `total` bytes (the body) were sent or the
 * server closed. Resolves { raw, closed, ms } as exchange() does.
 */
function trickle(port, head, { piece = "x", everyMs, total, timeoutMs = 15_000 }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks = [];
    let sent = 0;
    let done = false;
    let ticker;
    const s = net.connect(port, "127.0.0.1", () => {
      s.write(Buffer.from(head, "latin1"));
      ticker = setInterval(() => {
        if (sent >= total) return clearInterval(ticker);
        const p = piece.slice(0, total - sent);
        sent += p.length;
        s.write(p);
      }, everyMs);
    });
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearInterval(ticker);
      clearTimeout(timer);
      s.destroy();
      resolve({ raw: Buffer.concat(chunks), closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.on("data", (c) => chunks.push(c));
    s.on("error", () => finish(true));
    s.on("end", () => finish(true));
    s.on("close", () => finish(true));
  });
}

const post = (mount, length) => `POST ${mount} HTTP/1.1\r\nHost: a\r\nContent-Length: ${length}\r\n\r\n`;

for (const frontEnd of ["node", "uws"]) {
  describe(`RequestReadTimeout body= (${frontEnd} front end)`, () => {
    let server;
    let port;
    let site;
    const calls = () => {
      try {
        return fs.readFileSync(path.join(site.work, "calls"), "latin1");
      } catch {
        return "";
      }
    };
    before(async () => {
      site = mountedSite(APP, { directives: "LogLevel info\nRequestReadTimeout body=1,MinRate=1000" });
      ({ server, port } = await startServer(frontEnd, site));
      await warmUp(port);
    });
    after(async () => {
      await server?.stop(500);
      fs.rmSync(site.work, { recursive: true, force: true });
    });

    for (const [mount, where] of MOUNTS) {
      it(`${where}: a body slower than MinRate gets 408 after the timeout, and the connection is closed`, async () => {
        // One byte every 150 ms: the idle Timeout (60 s) never fires, the rate check does.
        const r = await trickle(port, post(`${mount}/slow`, 100), { everyMs: 150, total: 100 });
        const [res] = parseResponses(r.raw);
        assert.equal(res?.status, 408, JSON.stringify(r.raw.toString("latin1")));
        assert.match(res.body.toString("latin1"), /<title>408 Request Timeout<\/title>/);
        assert.equal(res.headers.connection, "close");
        assert.ok(r.closed, "connection closed");
        assert.ok(r.ms >= 900 && r.ms < 4000, `after about 1 s (${r.ms} ms)`);
        // The application is called once the body is in, except in a daemon process, where it
        // reads the body as it streams (its read then fails as for a client gone away).
        if (mount !== "/d") assert.doesNotMatch(calls(), /\/slow/);
        const log = fs.readFileSync(path.join(site.work, "error.log"), "latin1");
        assert.match(log, /\[reqtimeout:info\] .*\[client 127\.0\.0\.1:\d+\] .*AH01382: Request body read timeout/);
      });

      it(`${where}: a body at MinRate or better is read, however long past the initial timeout`, async () => {
        // 100 bytes every 50 ms (2000 B/s) for about 2 s: each byte adds 1 ms to the deadline.
        const r = await trickle(port, post(`${mount}/fast`, 4000) , { piece: "y".repeat(100), everyMs: 50, total: 4000 });
        const [res] = parseResponses(r.raw);
        assert.equal(res?.status, 200, JSON.stringify(r.raw.toString("latin1").slice(0, 300)));
        assert.equal(res.body.toString(), "read 4000");
        assert.ok(r.ms >= 1500, `took longer than the initial timeout (${r.ms} ms)`);
      });
    }
  });
}

describe("RequestReadTimeout body= with a maximum, per virtual host, and off", () => {
  let server;
  let port;
  let site;
  before(async () => {
    site = writeSite("nodewsgi-reqtimeout-", ({ work }) => ({
      files: { "app.js": APP },
      config: `RequestReadTimeout body=1-2,MinRate=1000
<Directory "${work}">
    Require all granted
</Directory>
WSGIScriptAlias /w "${work}/app.js" application-group=workers
<VirtualHost *>
    ServerName off.example
    RequestReadTimeout body=0
    WSGIScriptAlias /w "${work}/app.js" application-group=workers
</VirtualHost>
<VirtualHost *>
    ServerName main.example
    WSGIScriptAlias /w "${work}/app.js" application-group=workers
</VirtualHost>
`,
    }));
    ({ server, port } = await startServer("node", site));
  });
  after(async () => {
    await server?.stop(500);
    fs.rmSync(site.work, { recursive: true, force: true });
  });

  it("a body at MinRate is still cut at the maximum", async () => {
    const head = "POST /w/x HTTP/1.1\r\nHost: main.example\r\nContent-Length: 8000\r\n\r\n";
    const r = await trickle(port, head, { piece: "y".repeat(100), everyMs: 50, total: 8000 });
    assert.equal(parseResponses(r.raw)[0]?.status, 408, JSON.stringify(r.raw.toString("latin1").slice(0, 200)));
    assert.ok(r.ms >= 1900 && r.ms < 3500, `at about 2 s (${r.ms} ms)`);
  });

  it("body=0 in a virtual host turns it off for that host's requests", async () => {
    const head = "POST /w/x HTTP/1.1\r\nHost: off.example\r\nContent-Length: 12\r\n\r\n";
    const r = await trickle(port, head, { everyMs: 200, total: 12 });
    const [res] = parseResponses(r.raw);
    assert.equal(res?.status, 200, JSON.stringify(r.raw.toString("latin1").slice(0, 200)));
    assert.equal(res.body.toString(), "read 12");
  });
});

describe("slow bodies do not starve a group (a scaled-down 130 tricklers)", () => {
  let server;
  let port;
  let site;
  before(async () => {
    site = writeSite("nodewsgi-reqtimeout-starve-", ({ work }) => ({
      files: { "app.js": APP },
      config: `RequestReadTimeout body=1,MinRate=1000
<Directory "${work}">
    Require all granted
</Directory>
WSGIDaemonProcess two threads=2
WSGIScriptAlias /d "${work}/app.js" process-group=two application-group=%{GLOBAL}
WSGIScriptAlias /w "${work}/app.js" application-group=workers
`,
    }));
    ({ server, port } = await startServer("node", site));
    await warmUp(port).catch(() => {});
  });
  after(async () => {
    await server?.stop(500);
    fs.rmSync(site.work, { recursive: true, force: true });
  });

  it("a daemon group whose threads are all held by trickling bodies serves the next request once they are cut", async () => {
    const tricklers = [0, 1, 2].map(() => trickle(port, post("/d/slow", 1000), { everyMs: 300, total: 1000 }));
    await new Promise((r) => setTimeout(r, 300));
    const r = await exchange(port, "GET /d/ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", { timeoutMs: 10_000 });
    assert.equal(parseResponses(r.raw)[0]?.status, 200, JSON.stringify(r.raw.toString("latin1").slice(0, 200)));
    assert.ok(r.ms < 4000, `served within a few seconds (${r.ms} ms)`);
    for (const t of await Promise.all(tricklers)) assert.equal(parseResponses(t.raw)[0]?.status, 408);
  });

  it("a worker group does not count bodies still arriving against threads + queue; it holds as many of them as it would hold requests", async () => {
    // 120 tricklers: more than the group's 15 threads and 100 queue places. The 115 it takes in
    // are cut by the body rate (408); the 5 beyond them get 503 at once (each would hold memory
    // or a spool file).
    const tricklers = Array.from({ length: 120 }, () => trickle(port, post("/w/slow", 1000), { everyMs: 300, total: 1000 }));
    await new Promise((r) => setTimeout(r, 400));
    const r = await exchange(port, "GET /w/ok HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", { timeoutMs: 10_000 });
    assert.equal(parseResponses(r.raw)[0]?.status, 200, JSON.stringify(r.raw.toString("latin1").slice(0, 200)));
    assert.ok(r.ms < 3000, `served at once, while the bodies still trickle (${r.ms} ms)`);
    const statuses = (await Promise.all(tricklers)).map((t) => parseResponses(t.raw)[0]?.status);
    assert.deepEqual([statuses.filter((x) => x === 408).length, statuses.filter((x) => x === 503).length], [115, 5]);
  });
});

describe("RequestReadTimeout header= on the node:http front end", () => {
  let server;
  let port;
  let site;
  before(async () => {
    site = writeSite("nodewsgi-reqtimeout-head-", () => ({ config: "RequestReadTimeout header=1-3,MinRate=500\n" }));
    ({ server, port } = await startServer("node", site));
  });
  after(async () => {
    await server?.stop(500);
    fs.rmSync(site.work, { recursive: true, force: true });
  });

  it("a head not complete within the initial timeout gets 408 and the connection closed", async () => {
    const r = await exchange(port, "GET / HTTP/1.1\r\nHost: a\r\n", { timeoutMs: 15_000 });
    const [res] = parseResponses(r.raw);
    assert.equal(res?.status, 408, JSON.stringify(r.raw.toString("latin1")));
    assert.ok(r.closed);
    // node checks heads every 5 s: 408 comes between 1 and about 6 s (never at the default 20 s).
    assert.ok(r.ms >= 900 && r.ms < 8000, `${r.ms} ms`);
  });
});

describe("RequestReadTimeout parsing", () => {
  const load = (line, where = "") => {
    const site = writeSite("nodewsgi-reqtimeout-conf-", () => ({ config: where === "" ? `${line}\n` : `${where}\n${line}\n</${where.slice(1).split(/[ >]/)[0]}>\n` }));
    try {
      return loadConfig(site.configFile);
    } finally {
      fs.rmSync(site.work, { recursive: true, force: true });
    }
  };
  const fails = (line, message, where) => {
    assert.throws(() => load(line, where), (e) => {
      assert.match(e.message, /server\.conf:\d+: RequestReadTimeout: /);
      assert.ok(e.message.includes(message), `${e.message} should include ${message}`);
      return true;
    });
  };

  it("takes httpd's forms", () => {
    const c = load("RequestReadTimeout header=20-40,MinRate=500 body=20,minrate=500");
    assert.deepEqual(c.main.readTimeoutHeader.value, { initial: 20, max: 40, minRate: 500 });
    assert.deepEqual(c.main.readTimeoutBody.value, { initial: 20, max: 0, minRate: 500 });
    assert.deepEqual(load("RequestReadTimeout BODY=0").main.readTimeoutBody.value, { initial: 0, max: 0, minRate: 0 });
    assert.equal(load("RequestReadTimeout").main.readTimeoutBody, undefined);
    const v = load("RequestReadTimeout body=5", "<VirtualHost *:80>");
    assert.deepEqual(v.virtualHosts[0].readTimeoutBody.value, { initial: 5, max: 0, minRate: 0 });
  });

  it("the head's limit on node:http: header='s initial timeout, or with header=0 the core Timeout (never none)", () => {
    const { connectionPolicy } = require("../dist/server");
    assert.equal(connectionPolicy(load("Listen 80")).headerTimeoutMs, 20_000);
    assert.equal(connectionPolicy(load("RequestReadTimeout header=5")).headerTimeoutMs, 5_000);
    assert.equal(connectionPolicy(load("RequestReadTimeout header=0\nTimeout 7")).headerTimeoutMs, 7_000);
    assert.equal(connectionPolicy(load("RequestReadTimeout header=0")).headerTimeoutMs, 60_000);
  });

  it("is read inside <IfModule reqtimeout_module> (Debian's reqtimeout.conf), and LoadModule of it is no notice", () => {
    const c = load("LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so\n<IfModule reqtimeout_module>\nRequestReadTimeout header=20-40,minrate=500\nRequestReadTimeout body=10,minrate=500\n</IfModule>");
    assert.deepEqual(c.main.readTimeoutBody.value, { initial: 10, max: 0, minRate: 500 });
    assert.deepEqual(c.main.readTimeoutHeader.value, { initial: 20, max: 40, minRate: 500 });
    assert.deepEqual(c.notices, []);
  });

  it("handshake= is accepted with a notice", () => {
    const c = load("RequestReadTimeout handshake=5");
    assert.ok(c.notices.some((n) => /RequestReadTimeout: handshake= has no effect/.test(n)), JSON.stringify(c.notices));
  });

  it("refuses bad values in httpd's words (apache2 -t)", () => {
    fails("RequestReadTimeout foo", "Invalid RequestReadTimeout parameter. Parameter must be in the form 'key=value'");
    fails("RequestReadTimeout foo=1", "foo=1: Unknown RequestReadTimeout parameter");
    fails("RequestReadTimeout header=abc", "header=abc: Value 'abc' not numerical");
    fails("RequestReadTimeout header=", "header=: Value '' not numerical");
    fails("RequestReadTimeout header=1x", "header=1x: Cannot parse 'x'");
    fails("RequestReadTimeout header=20-40", "header=20-40: Must set MinRate option if using timeout range");
    fails("RequestReadTimeout header=-1", "header=-1: Must set MinRate option if using timeout range");
    fails("RequestReadTimeout header=20-10,MinRate=5", "header=20-10,MinRate=5: Maximum timeout must be larger than initial timeout");
    fails("RequestReadTimeout body=20-20,MinRate=5", "Maximum timeout must be larger than initial timeout");
    fails("RequestReadTimeout header=20,MinRate=0", "header=20,MinRate=0: Minimum data rate must be larger than 0");
    fails("RequestReadTimeout header=20,MinRate=-5", "header=20,MinRate=-5: Value must be non-negative");
    fails("RequestReadTimeout header=20-40,MinRate=1.5", "Cannot parse '.5'");
    fails("RequestReadTimeout header=20,foo=1", "header=20,foo=1: Cannot parse ',foo=1'");
    fails("RequestReadTimeout header=1x-abc,MinRate=5", "Value 'abc' not numerical");
    fails("RequestReadTimeout header=abc,MinRate=x", "Value 'x' not numerical");
  });

  it("is not allowed in <Directory> or <Location>", () => {
    for (const where of ["<Directory /tmp>", "<Location />"]) {
      assert.throws(() => load("RequestReadTimeout body=5", where), /RequestReadTimeout/);
    }
  });
});
