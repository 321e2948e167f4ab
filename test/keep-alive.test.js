"use strict";
// KeepAlive, KeepAliveTimeout and MaxKeepAliveRequests at server level, on real sockets. The
// node:http front end applies all three; uWS applies KeepAlive Off and says at start that it
// cannot apply the other two (its idle timeout is compiled in, and it exposes no connection to
// count requests on). In a <VirtualHost> they are accepted with a notice.
const { describe, it, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const { Server } = require("../dist/server");
const { loadConfig } = require("../dist/config");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");
const { exchange, inTurn, parseResponses, writeSite } = require("./helpers/raw-http");

const GET = "GET /a.txt HTTP/1.1\r\nHost: a\r\n\r\n";

function site(directives) {
  return writeSite("nodewsgi-keepalive-", ({ htdocs }) => ({
    files: { "htdocs/a.txt": "a\n" },
    config: `<Directory "${htdocs}">\n    Require all granted\n</Directory>\n${directives}\n`,
  }));
}

const running = [];
after(async () => {
  for (const { server, work } of running) {
    await server.stop(200);
    fs.rmSync(work, { recursive: true, force: true });
  }
});

async function start(frontEnd, directives) {
  const s = site(directives);
  const notices = [];
  const config = loadConfig(s.configFile);
  notices.push(...config.notices);
  const server = await Server.start(config, { engine: jsEngine, frontEnd, errorLog: new FileErrorLog(config.errorLog ?? 2, "warn"), notice: (m) => notices.push(m) });
  running.push({ server, work: s.work });
  return { port: server.addresses[0].port, notices, server, configFile: s.configFile };
}

for (const frontEnd of ["node", "uws"]) {
  describe(`keep-alive directives (${frontEnd} front end)`, () => {
    it("by default a connection carries several requests", async () => {
      const { port } = await start(frontEnd, "");
      const rs = await inTurn(port, [GET, GET, GET]);
      assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
      assert.ok(rs.every((r) => r.headers.connection !== "close"));
    });

    it("KeepAlive Off: every response says Connection: close and the connection closes", async () => {
      const { port } = await start(frontEnd, "KeepAlive Off");
      const r = await exchange(port, GET, { timeoutMs: 3000 });
      const [res] = parseResponses(r.raw);
      assert.equal(res.status, 200);
      assert.equal(res.headers.connection, "close");
      assert.equal(r.closed, true);
    });
  });
}

describe("keep-alive directives, node:http front end", () => {
  it("MaxKeepAliveRequests 2: the second response closes the connection", async () => {
    const { port } = await start("node", "MaxKeepAliveRequests 2");
    const rs = await inTurn(port, [GET, GET]);
    assert.equal(rs[0].headers.connection, "keep-alive");
    assert.equal(rs[1].headers.connection, "close");
  });

  it("KeepAliveTimeout 300ms: an idle connection is closed after it, not held for the default 5 s", async () => {
    const { port } = await start("node", "KeepAliveTimeout 300ms");
    const r = await exchange(port, GET, { timeoutMs: 4000 });
    assert.equal(parseResponses(r.raw)[0].status, 200);
    assert.equal(r.closed, true);
    assert.ok(r.ms < 4000, `closed after ${r.ms} ms`);
  });

  it("a graceful restart applies new keep-alive settings", async () => {
    const s = await start("node", "");
    fs.appendFileSync(s.configFile, "KeepAlive Off\n");
    await s.server.reload(loadConfig(s.configFile));
    const r = await exchange(s.port, GET, { timeoutMs: 3000 });
    assert.equal(parseResponses(r.raw)[0].headers.connection, "close");
    assert.equal(r.closed, true);
  });
});

describe("keep-alive directives: notices", () => {
  it("uWS says it cannot apply KeepAliveTimeout and MaxKeepAliveRequests; node:http says nothing", async () => {
    const u = await start("uws", "KeepAliveTimeout 15\nMaxKeepAliveRequests 500");
    assert.ok(u.notices.some((n) => /KeepAliveTimeout is not applied by the uWS front end/.test(n)), u.notices.join("\n"));
    assert.ok(u.notices.some((n) => /MaxKeepAliveRequests is not applied by the uWS front end/.test(n)), u.notices.join("\n"));
    const n = await start("node", "KeepAliveTimeout 15\nMaxKeepAliveRequests 500");
    assert.deepEqual(n.notices.filter((m) => /KeepAlive/.test(m)), []);
  });

  it("in a <VirtualHost> they are accepted with a notice naming the file and line", async () => {
    const { notices } = await start("node", "<VirtualHost *:80>\n    ServerName v.test\n    KeepAlive Off\n</VirtualHost>");
    assert.ok(notices.some((n) => /server\.conf:\d+.*KeepAlive in <VirtualHost> has no effect/.test(n)), notices.join("\n"));
  });
});
