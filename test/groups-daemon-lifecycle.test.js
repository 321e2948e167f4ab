"use strict";
// WSGIDaemonProcess lifecycle options: deadlock-timeout (a blocked event loop is replaced),
// interrupt-timeout (a request past request-timeout is interrupted, the process survives if
// it unwinds), response-socket-timeout (a client that takes nothing is given up),
// header-buffer-size (an oversized response header line is a 500), response-buffer-size (the
// response credit window) and eviction-timeout (the drain time of a graceful restart).
// Real processes and sockets; every wait ends as soon as its condition holds.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const http = require("node:http");
const crypto = require("node:crypto");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");
const { loggedIn, WAIT_MS } = require("./helpers/daemon-groups");

const APP = `"use strict";
const BIG = 24 * 1024 * 1024;
exports.application = (environ, start_response) => {
  const what = environ.QUERY_STRING;
  if (what === "loop") { for (;;) {} }
  if (what === "hang") {
    // Waits forever, but unwinds when aborted: the iteration stops, close() runs.
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return { [Symbol.asyncIterator]() { return { next: () => new Promise(() => {}), return: async () => ({ done: true }) }; } };
  }
  if (what === "stuck") return new Promise(() => {}); // never settles, whatever happens
  if (what === "window") {
    // Whether a 100 KiB write fits the response window: the write's promise is settled at once
    // when it does, and only after credit comes back (I/O, not microtasks) when it does not.
    const write = start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async () => {
      let settled = false;
      write(Buffer.alloc(100 * 1024, 120)).then(() => (settled = true));
      for (let i = 0; i < 5; i++) await Promise.resolve();
      return [settled ? "free" : "waited"];
    })();
  }
  if (what === "header") {
    const n = Number(environ.HTTP_X_LEN);
    start_response("200 OK", [["Content-Type", "text/plain"], ["X-Big", "v".repeat(n)]]);
    return ["ok"];
  }
  if (what === "big" || what === "stream") {
    start_response("200 OK", [["Content-Type", "application/octet-stream"], ["Content-Length", String(BIG)]]);
    let sent = 0;
    const size = what === "big" ? 1024 * 1024 : 300 * 1024;
    return {
      *[Symbol.iterator]() {
        while (sent < BIG) {
          const n = Math.min(size, BIG - sent);
          const b = Buffer.alloc(n);
          for (let i = 0; i < n; i += 4096) b[i] = (sent + i) & 0xff;
          sent += n;
          yield b;
        }
      },
      close() { if (sent < BIG) console.error("big response closed after " + sent + " bytes"); },
    };
  }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [String(process.pid)];
};
`;

function get(port, p, headers = {}) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: p, agent: false, headers, maxHeaderSize: 1 << 20 }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, bytes: Buffer.concat(chunks), body: Buffer.concat(chunks).toString("latin1") }));
        res.on("error", reject);
      })
      .on("error", reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A server with one daemon group per entry of `groups` (name -> WSGIDaemonProcess options), each
 * serving APP at /NAME, on the node front end; `$DIR` in `extra` lines is the site's directory.
 */
async function startSite(prefix, groups, extra = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.writeFileSync(path.join(dir, "app.js"), APP);
  const lines = ["ServerName localhost", "Listen 127.0.0.1:0", `ErrorLog ${dir}/error.log`, ...extra.map((l) => l.replaceAll("$DIR", dir))];
  for (const [name, option] of Object.entries(groups)) {
    lines.push(`WSGIDaemonProcess ${name} ${option}`);
    lines.push(`WSGIScriptAlias /${name} ${dir}/app.js process-group=${name} application-group=%{GLOBAL}`);
  }
  lines.push(`<Directory ${dir}>`, "    Require all granted", "</Directory>");
  fs.writeFileSync(path.join(dir, "site.conf"), lines.join("\n") + "\n");
  const config = loadConfig(path.join(dir, "site.conf"));
  const server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog, "info"), accessLog: null, notice: () => {} });
  return { dir, config, server, port: server.addresses[0].port };
}

describe("daemon lifecycle options", () => {
  let server;
  let dir;
  let port;
  let config;
  before(async () => {
    ({ dir, config, server, port } = await startSite("nodewsgi-lifecycle-", {
      dead: "threads=1 deadlock-timeout=1",
      intr: "threads=1 request-timeout=1 interrupt-timeout=2",
      slow: "response-socket-timeout=1",
      hdr: "header-buffer-size=8192",
      plain: "threads=2",
      buf: "response-buffer-size=65536",
    }, ["LogLevel info"]));
  });
  after(() => server?.stop(3000));

  const errorLog = () => fs.readFileSync(path.join(dir, "error.log"), "utf8");

  const logged = (re) => loggedIn(path.join(dir, "error.log"), re);

  async function newPid(name, old) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const r = await get(port, `/${name}`);
      if (r.status === 200 && r.body !== old) return r.body;
      if (Date.now() > deadline) assert.fail(`${name}: still pid ${old} after ${WAIT_MS} ms`);
      await sleep(100);
    }
  }

  it("deadlock-timeout: a process whose event loop is blocked is killed and replaced", async () => {
    const old = (await get(port, "/dead")).body;
    const r = await get(port, "/dead?loop");
    // What a dying daemon's request gets before its headers.
    assert.equal(r.status, 500);
    await logged(new RegExp(`mod_wsgi \\(pid=${old}\\): Daemon process deadlock timer expired, stopping process 'dead'\\.`));
    await logged(new RegExp(`Process 'dead' has been recycled \\(deadlock timeout\\), pid ${old}\\b`));
    assert.doesNotMatch(errorLog(), new RegExp(`\\(pid ${old}\\) died unexpectedly`));
    const pid = await newPid("dead", old);
    assert.match(pid, /^\d+$/);
  });

  it("deadlock-timeout: a busy but responsive process is left alone", async () => {
    const old = (await get(port, "/dead")).body;
    await sleep(2500);
    assert.equal((await get(port, "/dead")).body, old);
  });

  it("deadlock-timeout: the server's own loop blocked longer than it does not kill a healthy process", async () => {
    const old = (await get(port, "/dead")).body;
    // The beats sent meanwhile wait unread on the channel: the silence is this process's.
    const until = Date.now() + 2500;
    while (Date.now() < until);
    await sleep(1500);
    assert.equal((await get(port, "/dead")).body, old);
    assert.doesNotMatch(errorLog(), new RegExp(`pid=${old}\\): Daemon process deadlock timer expired`));
  });

  it("interrupt-timeout: a request that unwinds is answered 504 and its process survives", async () => {
    const old = (await get(port, "/intr")).body;
    const r = await get(port, "/intr?hang");
    assert.equal(r.status, 504);
    await logged(/Daemon process 'intr' request timeout of 1 seconds exceeded/);
    // Its thread (threads=1) is free again once it unwound: the same process answers.
    assert.equal((await get(port, "/intr")).body, old);
    await sleep(2500); // past interrupt-timeout: still no recycle
    assert.equal((await get(port, "/intr")).body, old);
    assert.doesNotMatch(errorLog(), /Process 'intr' has been recycled/);
  });

  it("interrupt-timeout: a request that does not unwind in time recycles its process", async () => {
    const old = (await get(port, "/intr")).body;
    const r = await get(port, "/intr?stuck");
    assert.equal(r.status, 504);
    await logged(new RegExp(`mod_wsgi \\(pid=${old}\\): Daemon process 'intr' did not unwind a request within interrupt-timeout of 2 seconds\\.`));
    await logged(new RegExp(`Process 'intr' has been recycled \\(request timeout\\), pid ${old}\\b`));
    await newPid("intr", old);
  });

  it("response-socket-timeout: a client that reads nothing of a large response is given up", async () => {
    const sock = net.connect(port, "127.0.0.1");
    await new Promise((r) => sock.once("connect", r));
    sock.write("GET /slow?big HTTP/1.1\r\nHost: localhost\r\n\r\n");
    // Read nothing: the socket buffers fill, the response is held back, then given up.
    sock.pause();
    await logged(/mod_wsgi \(pid=\d+\): Failed to proxy response to client: The timeout specified has expired\./);
    // The connection was closed: reading now ends short of the response.
    let got = 0;
    sock.on("data", (c) => (got += c.length));
    sock.on("error", () => {});
    const closed = new Promise((r) => sock.once("close", r));
    sock.resume();
    await closed;
    assert.ok(got < 24 * 1024 * 1024, `got ${got} bytes`);
    // The application was told: its iteration was stopped short and close() ran.
    await logged(/big response closed after \d+ bytes/);
  });

  it("response-socket-timeout: a client that reads slowly but steadily is not cut off", async () => {
    const r = await get(port, "/slow?big");
    assert.equal(r.status, 200);
    assert.equal(r.bytes.length, 24 * 1024 * 1024);
  });

  it("header-buffer-size: a response header line too long for the buffer is a 500", async () => {
    // "X-Big: " + value must fit in 8192 - 3 bytes.
    const fits = 8189 - "X-Big: ".length;
    assert.equal((await get(port, "/hdr?header", { "x-len": String(fits) })).status, 200);
    const r = await get(port, "/hdr?header", { "x-len": String(fits + 1) });
    assert.equal(r.status, 500);
    await logged(/Truncated or oversized response headers received from daemon process 'hdr'/);
    // The default buffer is mod_wsgi's 32768 bytes.
    assert.equal((await get(port, "/plain?header", { "x-len": "20000" })).status, 200);
    assert.equal((await get(port, "/plain?header", { "x-len": "40000" })).status, 500);
    // The process and its connection go on.
    assert.equal((await get(port, "/hdr")).status, 200);
  });

  it("response-buffer-size: the response window is that size", async () => {
    assert.match((await get(port, "/buf?window")).body, /x{102400}waited$/);
    assert.match((await get(port, "/plain?window")).body, /x{102400}free$/);
  });

  it("response-buffer-size: a small window still streams a large response whole", async () => {
    const [a, b] = await Promise.all([get(port, "/buf?stream"), get(port, "/plain?stream")]);
    assert.equal(a.status, 200);
    assert.equal(a.bytes.length, 24 * 1024 * 1024);
    assert.equal(crypto.createHash("sha1").update(a.bytes).digest("hex"), crypto.createHash("sha1").update(b.bytes).digest("hex"));
  });
});

describe("daemon eviction-timeout", () => {
  let server;
  let dir;
  let port;
  let config;
  before(async () => {
    ({ dir, config, server, port } = await startSite("nodewsgi-evict-", { evict: "eviction-timeout=1", keep: "graceful-timeout=1" }));
  });
  after(() => server?.stop(3000));

  it("a graceful restart gives the old processes eviction-timeout, not the server's grace period", async () => {
    const ended = (p) => get(port, p).then((r) => ({ r, at: Date.now() }), (r) => ({ r, at: Date.now() }));
    // The processes are up (a request still queued when the group closes is a 503 at once).
    for (const p of ["/evict", "/keep"]) assert.equal((await get(port, p)).status, 200);
    const evict = ended("/evict?stuck");
    const keep = ended("/keep?stuck");
    await sleep(300);
    const started = Date.now();
    const reloaded = server.reload(config, 6000);
    const [e, k] = await Promise.all([evict, keep]);
    await reloaded;
    // The old evict process was killed after 1 s; the other one had the reload's 6 s.
    assert.ok(k.at - started >= 5500, `keep ended after ${k.at - started} ms`);
    assert.ok(e.at - started < k.at - started - 3000, `evict ended after ${e.at - started} ms, keep after ${k.at - started} ms`);
    // The request the old process could not finish is lost with it (500 before its headers).
    for (const { r } of [e, k]) assert.ok(r instanceof Error || r.status === 500, String(r && r.status));
    assert.equal((await get(port, "/evict")).status, 200);
  });
});

describe("daemon groups retiring after a graceful restart", () => {
  let server;
  let config;
  let port;
  before(async () => {
    ({ config, server, port } = await startSite("nodewsgi-retiring-", { sweep: "threads=1 request-timeout=1 eviction-timeout=30" }));
  });
  after(() => server?.stop(1000));

  it("a request stuck in a draining group still meets its request-timeout (504), the stop ends the drain", async () => {
    assert.equal((await get(port, "/sweep")).status, 200);
    const stuck = get(port, "/sweep?stuck").then((r) => ({ r, at: Date.now() }), (r) => ({ r, at: Date.now() }));
    await sleep(200);
    const started = Date.now();
    const { retired } = await server.swap(config, 1000);
    const { r, at } = await stuck;
    // request-timeout=1 (the sweep's 100 ms aside); the old code stopped the sweep, and the
    // request ended when eviction-timeout killed its process 30 s later, with a 500.
    assert.equal(r.status, 504);
    assert.ok(at - started < 5000, `answered after ${at - started} ms`);
    // Its process still drains (eviction-timeout=30, the application never unwinds); a stop
    // ends that within its own budget.
    let over = false;
    void retired.then(() => (over = true));
    await sleep(300);
    assert.equal(over, false);
    const t0 = Date.now();
    await server.stop(1000);
    assert.equal(over, true);
    assert.ok(Date.now() - t0 < 5000, `the stop took ${Date.now() - t0} ms`);
    server = null;
  });
});

describe("worker-thread groups retiring after a graceful restart", () => {
  it("a stop cuts the old group's wait for its requests to the stop's own budget", async () => {
    const { server, config, port } = await startSite("nodewsgi-retiring-thread-", {}, ["WSGIScriptAlias /thread $DIR/app.js application-group=t"]);
    assert.equal((await get(port, "/thread")).status, 200);
    const stuck = get(port, "/thread?stuck").then((r) => r, (e) => e);
    await sleep(300);
    const { retired } = await server.swap(config, 30_000);
    assert.equal((await get(port, "/thread")).status, 200);
    const t0 = Date.now();
    await server.stop(1000);
    await retired;
    // The old code waited for the reload's grace period (30 s here) before ending the worker.
    assert.ok(Date.now() - t0 < 5000, `the stop took ${Date.now() - t0} ms`);
    // Ended by the worker's end (503: the group is closing), or the connection dropped.
    const r = await stuck;
    assert.ok(r instanceof Error || r.status === 503, String(r && r.status));
  });
});

describe("daemon lifecycle options at load", () => {
  it("interrupt-timeout without request-timeout is a notice naming the file, the line and the group", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-lifecycle-conf-"));
    const file = path.join(dir, "site.conf");
    fs.writeFileSync(file, "ServerName localhost\nListen 127.0.0.1:0\nWSGIDaemonProcess a interrupt-timeout=5\nWSGIDaemonProcess b interrupt-timeout=5 request-timeout=3\n");
    const notices = loadConfig(file).notices;
    assert.deepEqual(notices, [`${file}:3: WSGIDaemonProcess a: interrupt-timeout has no effect in nodewsgi without request-timeout (it applies to a request past request-timeout)`]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
