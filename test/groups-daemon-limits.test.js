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
const { loggedIn, WAIT_MS } = require("./helpers/daemon-groups");

const APP = `"use strict";
let hoard = null;
exports.application = (environ, start_response) => {
  const what = environ.QUERY_STRING;
  if (what === "hoard") hoard = Buffer.alloc(200 * 1024 * 1024, 1); // resident: every page touched
  // Past cpu-time-limit=1 by this process's own CPU clock (the one the supervisor reads from
  // /proc), however little of the CPU it gets: a wall-clock burn falls short on a loaded machine.
  if (what === "burn") {
    const used = () => { const u = process.cpuUsage(); return u.user + u.system; };
    while (used() < 1.3e6) for (let i = 0; i < 1e5; i++);
  }
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

  const logged = (re) => loggedIn(path.join(dir, "error.log"), re);

  /** The pid answering `/name`, waiting (bounded) until it differs from `old`. */
  async function newPid(name, old) {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const r = await get(port, `/${name}`);
      assert.equal(r.status, 200, `${name}: ${r.body}`);
      if (r.body !== old) return r.body;
      if (Date.now() > deadline) assert.fail(`${name}: still pid ${old} after ${WAIT_MS} ms`);
      await sleep(100);
    }
  }

  /** The group's recycle, logged with its reason, then the replacement answering. */
  async function recycled(name, reason, old) {
    await logged(new RegExp(`Process '${name}' has been recycled \\(${reason}\\), pid ${old}\\b`));
    return newPid(name, old);
  }

  it("each trigger recycles its group, and says why", async () => {
    const first = {};
    for (const name of ["interval", "idle", "memory", "cpu"]) first[name] = (await get(port, `/${name}`)).body;
    assert.equal((await get(port, "/memory?hoard")).status, 200);
    assert.equal((await get(port, "/cpu?burn")).status, 200);

    // Each group is left alone until its recycle is logged (inactivity is measured from the
    // last request, so asking `idle` earlier would put it off), then asked for its new pid.
    const pids = await Promise.all([
      recycled("interval", "restart interval reached", first.interval),
      recycled("idle", "inactivity timeout reached", first.idle),
      recycled("memory", "memory limit exceeded", first.memory),
      recycled("cpu", "cpu time limit exceeded", first.cpu),
    ]);
    for (const pid of pids) assert.match(pid, /^\d+$/);
  });
});
