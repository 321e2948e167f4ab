"use strict";
// Application and process groups through the whole server: where each request really runs,
// preloading, and recycling under load without a lost request.
const { describe, it, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const autocannon = require("autocannon");
const { loadConfig } = require("../dist/config");
const { Server } = require("../dist/server");
const { jsEngine } = require("../dist/engine/js-engine");
const { get, request } = require("./helpers/http");
const { FileErrorLog } = require("../dist/log/error-log");

const WHERE_APP = `"use strict";
const { threadId } = require("node:worker_threads");
exports.application = async (environ, start_response) => {
  if (environ.PATH_INFO === "/slow") await new Promise((r) => setTimeout(r, 100));
  const body = Buffer.from(JSON.stringify({
    pid: process.pid, threadId,
    processGroup: environ["mod_wsgi.process_group"], applicationGroup: environ["mod_wsgi.application_group"],
    multiprocess: environ["wsgi.multiprocess"], multithread: environ["wsgi.multithread"],
  }));
  start_response("200 OK", [["Content-Type", "application/json"], ["Content-Length", String(body.length)]]);
  return [body];
};
`;

async function start(configText) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-groups-"));
  fs.writeFileSync(path.join(dir, "where.js"), WHERE_APP);
  fs.writeFileSync(
    path.join(dir, "preload.js"),
    `require("node:fs").appendFileSync(${JSON.stringify(path.join(dir, "loaded.txt"))}, process.pid + "\\n");\nexports.application = (e, sr) => { sr("200 OK", []); return []; };\n`,
  );
  const conf = path.join(dir, "site.conf");
  fs.writeFileSync(conf, `ServerName localhost\nListen 127.0.0.1:0\nErrorLog ${dir}/error.log\n${configText.split("@DIR@").join(dir)}\n<Directory ${dir}>\n    Require all granted\n</Directory>\n`);
  const config = loadConfig(conf);
  const server = await Server.start(config, { engine: jsEngine, frontEnd: "node", errorLog: new FileErrorLog(config.errorLog, "info"), notice: () => {} });
  return { server, dir, port: server.addresses[0].port };
}

describe("groups through the server", () => {
  let s;
  before(async () => {
    s = await start(`WSGIDaemonProcess multi processes=2 threads=4
WSGIDaemonProcess single threads=3
WSGIScriptAlias /main @DIR@/where.js application-group=%{GLOBAL}
WSGIScriptAlias /worker @DIR@/where.js
WSGIScriptAlias /multi @DIR@/where.js process-group=multi
WSGIScriptAlias /multi-global @DIR@/where.js process-group=multi application-group=%{GLOBAL}
WSGIScriptAlias /single @DIR@/where.js process-group=single application-group=named
WSGIImportScript @DIR@/preload.js process-group=single application-group=%{GLOBAL}`);
  });
  after(() => s?.server.stop(2000));

  it("%{GLOBAL} runs in the front-end thread; other groups in worker threads", async () => {
    const main = JSON.parse((await get(s.port, "/main")).body);
    assert.equal(main.pid, process.pid);
    assert.equal(main.threadId, 0);
    assert.equal(main.applicationGroup, "");
    const worker = JSON.parse((await get(s.port, "/worker")).body);
    assert.equal(worker.pid, process.pid);
    assert.notEqual(worker.threadId, 0);
    assert.equal(worker.applicationGroup, `localhost:${s.port}|/worker`);
  });

  it("daemon groups run in child processes, spread over `processes`", async () => {
    const answers = await Promise.all(Array.from({ length: 16 }, () => get(s.port, "/multi/slow")));
    const seen = answers.map((a) => JSON.parse(a.body));
    const pids = new Set(seen.map((a) => a.pid));
    assert.equal(pids.has(process.pid), false);
    assert.equal(pids.size, 2, `pids: ${[...pids]}`);
    for (const a of seen) {
      assert.equal(a.processGroup, "multi");
      assert.notEqual(a.threadId, 0, "a named application group runs in a worker thread of the daemon");
      assert.equal(a.multiprocess, true);
      assert.equal(a.multithread, true);
    }
    const global = JSON.parse((await get(s.port, "/multi-global")).body);
    assert.equal(global.threadId, 0);
    assert.ok(pids.has(global.pid));
  });

  it("an omitted processes= is not multiprocess; WSGIImportScript ran at start", async () => {
    const single = JSON.parse((await get(s.port, "/single")).body);
    assert.equal(single.multiprocess, false);
    assert.equal(single.multithread, true);
    assert.equal(single.applicationGroup, "named");
    const loaded = fs.readFileSync(path.join(s.dir, "loaded.txt"), "utf8").trim().split("\n");
    assert.deepEqual(loaded, [String(single.pid)]);
  });
});

describe("a script that cannot serve, as mod_wsgi answers it", () => {
  let s;
  before(async () => {
    s = await start(`WSGIDaemonProcess d threads=2
WSGIScriptAlias /nocall-main @DIR@/where.js application-group=%{GLOBAL} callable-object=nothere
WSGIScriptAlias /nocall-worker @DIR@/where.js callable-object=nothere
WSGIScriptAlias /nocall-daemon @DIR@/where.js process-group=d callable-object=nothere
WSGIScriptAlias /missing @DIR@/missing.js`);
  });
  after(() => s?.server.stop(2000));

  const logged = () => fs.readFileSync(path.join(s.dir, "error.log"), "utf8");

  it("no such callable: 404 in embedded mode, 500 in a daemon process; one log line each", async () => {
    assert.equal((await get(s.port, "/nocall-main")).status, 404);
    assert.equal((await get(s.port, "/nocall-worker")).status, 404);
    assert.equal((await get(s.port, "/nocall-daemon")).status, 500);
    const script = path.join(s.dir, "where.js");
    // The daemon process's line comes over its own channel, and may land after the response.
    const nocall = () => logged().split("\n").filter((l) => l.includes("does not contain WSGI application 'nothere'"));
    for (const deadline = Date.now() + 30_000; nocall().length < 3 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
    const lines = nocall();
    assert.equal(lines.length, 3, logged());
    for (const l of lines) assert.match(l, new RegExp(`\\[wsgi:error\\].*mod_wsgi \\(pid=\\d+\\): Target WSGI script '${script}' does not contain WSGI application 'nothere'\\.$`));
    assert.doesNotMatch(logged(), /Exception occurred processing WSGI script/);
  });

  it("no such script: 404, logged as mod_wsgi logs it", async () => {
    assert.equal((await get(s.port, "/missing")).status, 404);
    assert.match(logged(), new RegExp(`\\[wsgi:error\\].*Target WSGI script not found or unable to stat: ${path.join(s.dir, "missing.js")}`));
  });
});

describe("recycling under load", () => {
  it("maximum-requests recycles many times with no failed or non-2xx response", async () => {
    const s = await start(`WSGIDaemonProcess soak processes=2 threads=15 maximum-requests=200 graceful-timeout=5
WSGIScriptAlias /app @DIR@/where.js process-group=soak application-group=%{GLOBAL}`);
    try {
      // Slow requests keep some work in flight at every recycle.
      let slowFailures = 0;
      let slowDone = 0;
      let stop = false;
      const slowLoop = (async () => {
        while (!stop) {
          const batch = await Promise.all(Array.from({ length: 4 }, () => get(s.port, "/app/slow").catch(() => ({ status: 0 }))));
          for (const r of batch) {
            slowDone++;
            if (r.status !== 200) slowFailures++;
          }
        }
      })();
      // Rounds of load until the group has recycled ten times: counted, not timed, as a
      // replacement starts slowly on a loaded machine (the old process serves on meanwhile).
      // The deadline only bounds a broken run.
      const recycled = () => (fs.readFileSync(path.join(s.dir, "error.log"), "utf8").match(/has been recycled \(maximum requests reached\)/g) ?? []).length;
      const result = { errors: 0, timeouts: 0, non2xx: 0, total: 0 };
      const deadline = Date.now() + 120_000;
      while (recycled() < 10 && Date.now() < deadline) {
        const round = await autocannon({ url: `http://127.0.0.1:${s.port}/app`, connections: 10, amount: 1000 });
        result.errors += round.errors;
        result.timeouts += round.timeouts;
        result.non2xx += round.non2xx;
        result.total += round.requests.total;
      }
      stop = true;
      await slowLoop;
      const recycles = recycled();
      assert.equal(result.errors, 0, "connection errors");
      assert.equal(result.timeouts, 0, "timeouts");
      assert.equal(result.non2xx, 0, "non-2xx responses");
      assert.equal(slowFailures, 0, "failed slow requests");
      assert.ok(slowDone > 0);
      assert.ok(recycles >= 10, `only ${recycles} recycles in ${result.total} requests`);
    } finally {
      await s.server.stop(5000);
    }
  });
});

/**
 * `clients` clients send requests one after another (every other client to /slow, so several
 * are in flight at once) until `enough(served)` holds; `served` maps each answering pid to its
 * number of requests. Counted, not timed: the deadline only bounds a broken run, and each
 * request may wait in the group's queue while a replacement starts on a loaded machine.
 */
async function loadUntil(port, clients, enough) {
  const served = new Map();
  const failures = [];
  const deadline = Date.now() + 120_000;
  const client = async (i) => {
    while (!enough(served) && failures.length === 0 && Date.now() < deadline) {
      try {
        const r = await request(port, i % 2 ? "/app/slow" : "/app", { timeoutMs: 60_000 });
        if (r.status !== 200) failures.push(`${r.status} ${r.body.slice(0, 200)}`);
        else {
          const pid = JSON.parse(r.body).pid;
          served.set(pid, (served.get(pid) ?? 0) + 1);
        }
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
  return { served, failures };
}

describe("maximum-requests is a cap under concurrent load", () => {
  // mod_wsgi 4.9 with threads=1 serves exactly maximum-requests per process (checked with
  // httpd); here no process is handed more than maximum-requests whatever its threads, the
  // requests that come meanwhile wait in the queue for the replacement, and none fails.
  for (const [label, options, clients] of [
    ["processes=1 threads=1", "processes=1 threads=1", 4],
    ["processes=2 threads=4", "processes=2 threads=4", 10],
  ]) {
    it(`${label}: every process serves at most 5 requests, none fails`, async () => {
      const s = await start(`WSGIDaemonProcess cap ${options} maximum-requests=5 graceful-timeout=5
WSGIScriptAlias /app @DIR@/where.js process-group=cap application-group=%{GLOBAL}`);
      try {
        const total = (served) => [...served.values()].reduce((a, b) => a + b, 0);
        const { served, failures } = await loadUntil(s.port, clients, (m) => total(m) >= 60);
        assert.deepEqual(failures, []);
        assert.ok(total(served) >= 60, `served: ${JSON.stringify([...served])}`);
        const over = [...served].filter(([, n]) => n > 5);
        assert.deepEqual(over, [], `processes that served more than maximum-requests (pid, requests)`);
        // And it keeps serving after all those recycles.
        const after = await request(s.port, "/app", { timeoutMs: 60_000 });
        assert.equal(after.status, 200);
        assert.ok((served.get(JSON.parse(after.body).pid) ?? 0) < 5);
      } finally {
        await s.server.stop(5000);
      }
    });
  }

  it("maximum-requests=1 with threads=1 (wsgi.run_once): one request per process", async () => {
    const s = await start(`WSGIDaemonProcess once threads=1 maximum-requests=1 graceful-timeout=5
WSGIScriptAlias /app @DIR@/where.js process-group=once application-group=%{GLOBAL}`);
    try {
      const { served, failures } = await loadUntil(s.port, 3, (m) => m.size >= 6);
      assert.deepEqual(failures, []);
      assert.deepEqual([...served].filter(([, n]) => n > 1), []);
    } finally {
      await s.server.stop(5000);
    }
  });
});

describe("daemon user= and group=", () => {
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  it("run the daemon processes as that user and group (when started as root)", { skip: root ? false : "needs root" }, async () => {
    const s = await start(`WSGIDaemonProcess lowly user=nobody group=nogroup threads=1 home=/tmp
WSGIScriptAlias /ids @DIR@/ids.js process-group=lowly application-group=%{GLOBAL}`);
    try {
      fs.writeFileSync(path.join(s.dir, "ids.js"), `exports.application = (e, sr) => { sr("200 OK", []); return [JSON.stringify([process.getuid(), process.getgid()])]; };\n`);
      // The unprivileged processes must be able to read the script.
      fs.chmodSync(s.dir, 0o755);
      fs.chmodSync(path.join(s.dir, "ids.js"), 0o644);
      const r = await get(s.port, "/ids");
      assert.equal(r.status, 200, r.body);
      const nobody = require("node:child_process").execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim();
      const nogroup = require("node:child_process").execFileSync("getent", ["group", "nogroup"], { encoding: "utf8" }).split(":")[2];
      assert.deepEqual(JSON.parse(r.body), [Number(nobody), Number(nogroup)]);
    } finally {
      await s.server.stop(2000);
    }
  });
});

describe("WSGIScriptReloading Off", () => {
  it("a daemon group does not restart when its script changes", async () => {
    const s = await start(`WSGIScriptReloading Off
WSGIDaemonProcess steady threads=2
WSGIScriptAlias /steady @DIR@/where.js process-group=steady application-group=%{GLOBAL}`);
    try {
      const first = JSON.parse((await get(s.port, "/steady")).body).pid;
      const later = new Date(Date.now() + 5000);
      fs.utimesSync(path.join(s.dir, "where.js"), later, later);
      await new Promise((r) => setTimeout(r, 300)); // past the map phase's stat reuse
      const second = JSON.parse((await get(s.port, "/steady")).body).pid;
      assert.equal(second, first);
      assert.doesNotMatch(fs.readFileSync(path.join(s.dir, "error.log"), "utf8"), /recycled \(script modified\)/);
    } finally {
      await s.server.stop(2000);
    }
  });
});
