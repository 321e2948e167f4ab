"use strict";
// The recycling triggers of WSGIDaemonProcess that work on a clock or on resources:
// restart-interval, inactivity-timeout, memory-limit, cpu-time-limit. Each group gets a fresh
// process after its trigger, logged with the reason, and no request fails along the way.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { FileErrorLog } = require("../dist/log/error-log");

const APP = `"use strict";
let hoard = null;
exports.application = (environ, start_response) => {
  const what = environ.QUERY_STRING;
  if (what === "hoard") hoard = Buffer.alloc(200 * 1024 * 1024, 1); // resident: every page touched
  if (what === "burn") { const end = Date.now() + 1500; while (Date.now() < end) {} }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [String(process.pid)];
};
`;

function get(port, p) {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: p, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body }));
      })
      .on("error", reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe("daemon recycling on time and resources", () => {
  let server;
  let dir;
  let port;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-limits-"));
    fs.writeFileSync(path.join(dir, "app.js"), APP);
    const groups = {
      interval: "restart-interval=1",
      idle: "inactivity-timeout=1",
      memory: "memory-limit=150000000",
      cpu: "cpu-time-limit=1",
    };
    const lines = ["ServerName localhost", "Listen 127.0.0.1:0", `ErrorLog ${dir}/error.log`];
    for (const [name, option] of Object.entries(groups)) {
      lines.push(`WSGIDaemonProcess ${name} threads=2 ${option}`);
      lines.push(`WSGIScriptAlias /${name} ${dir}/app.js process-group=${name} application-group=%{GLOBAL}`);
    }
    lines.push(`<Directory ${dir}>`, "    Require all granted", "</Directory>");
    fs.writeFileSync(path.join(dir, "site.conf"), lines.join("\n") + "\n");
    const config = loadConfig(path.join(dir, "site.conf"));
    server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog, "info"), accessLog: null, notice: () => {} });
    port = server.addresses[0].port;
  });
  after(() => server?.stop(3000));

  /** The pid answering `/name`, waiting (bounded) until it differs from `old`. */
  async function newPid(name, old, withinMs) {
    const deadline = Date.now() + withinMs;
    for (;;) {
      const r = await get(port, `/${name}`);
      assert.equal(r.status, 200, `${name}: ${r.body}`);
      if (r.body !== old) return r.body;
      if (Date.now() > deadline) assert.fail(`${name}: still pid ${old} after ${withinMs} ms`);
      await sleep(250);
    }
  }

  it("each trigger recycles its group, and says why", async () => {
    const first = {};
    for (const name of ["interval", "idle", "memory", "cpu"]) first[name] = (await get(port, `/${name}`)).body;
    assert.equal((await get(port, "/memory?hoard")).status, 200);
    assert.equal((await get(port, "/cpu?burn")).status, 200);

    const [interval, idle, memory, cpu] = await Promise.all([
      newPid("interval", first.interval, 6000),
      // Inactivity is measured from the last request: leave the group alone first.
      sleep(2500).then(() => newPid("idle", first.idle, 6000)),
      newPid("memory", first.memory, 6000),
      newPid("cpu", first.cpu, 6000),
    ]);
    for (const pid of [interval, idle, memory, cpu]) assert.match(pid, /^\d+$/);

    const log = fs.readFileSync(path.join(dir, "error.log"), "utf8");
    assert.match(log, /Process 'interval' has been recycled \(restart interval reached\)/);
    assert.match(log, /Process 'idle' has been recycled \(inactivity timeout reached\)/);
    assert.match(log, /Process 'memory' has been recycled \(memory limit exceeded\)/);
    assert.match(log, /Process 'cpu' has been recycled \(cpu time limit exceeded\)/);
  });
});
