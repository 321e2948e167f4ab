"use strict";
// The command line as a user meets it: real `node bin/nodewsgi.js` processes, real sockets.
const { describe, it } = require("node:test");
const assert = require("node:assert/strict");
const { spawn, spawnSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const http = require("node:http");
const client = require("./helpers/http");

const ROOT = path.join(__dirname, "..");
const BIN = path.join(ROOT, "bin", "nodewsgi.js");

function run(args, env = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 20_000 });
}

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-cli-"));
}

/** A config serving a hello app on a free port, plus a slow app for the graceful-stop test. */
function writeSite(dir, extra = "") {
  fs.writeFileSync(
    path.join(dir, "hello.js"),
    `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "12"]]); return [Buffer.from("Hello World!")]; };\n`,
  );
  fs.writeFileSync(
    path.join(dir, "slow.js"),
    // Marks its start (slow.started next to it) so a test can signal the server mid-request.
    `exports.application = async (e, sr) => { require("fs").writeFileSync(__dirname + "/slow.started", ""); await new Promise((r) => setTimeout(r, 600)); sr("200 OK", [["Content-Type", "text/plain"]]); return [Buffer.from("slow done")]; };\n`,
  );
  const conf = path.join(dir, "site.conf");
  fs.writeFileSync(
    conf,
    [
      "ServerName localhost",
      "Listen 127.0.0.1:0",
      `PidFile ${dir}/nodewsgi.pid`,
      `ErrorLog ${dir}/error.log`,
      `WSGIScriptAlias /hello ${dir}/hello.js application-group=%{GLOBAL}`,
      `WSGIScriptAlias /slow ${dir}/slow.js application-group=%{GLOBAL}`,
      extra,
      "",
    ].join("\n"),
  );
  return conf;
}

/** Start `serve`, resolve with the child and the URL it printed. */
function serve(conf, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "-f", conf], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /serving (http:\/\/[^\s]+)/.exec(out);
      if (m) resolve({ child, url: m[1], stderr: () => err });
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

/**
 * Resolves once `cond()` is true. The bound is generous: it only stops a broken run, the wait
 * itself ends with the condition (a loaded machine starts and reloads slowly).
 */
async function waitFor(cond, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Status and body. Through the global (keep-alive) agent: a stop must not wait on idle connections. */
async function get(url) {
  const { status, body } = await client.request(url, undefined, { agent: http.globalAgent });
  return { status, body };
}

function exited(child) {
  return new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
}

describe("nodewsgi CLI", () => {
  it("--version and --help", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
    const v = run(["--version"]);
    assert.equal(v.status, 0);
    assert.equal(v.stdout.trim(), `nodewsgi ${pkg.version}`);
    const h = run(["--help"]);
    assert.equal(h.status, 0);
    assert.match(h.stdout, /serve -f FILE/);
    assert.match(h.stdout, /configtest -f FILE/);
  });

  it("configtest says Syntax OK for the example site", () => {
    const r = run(["configtest", "-f", path.join(ROOT, "examples", "site.conf")]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "Syntax OK\n");
  });

  it("a misspelled directive: configtest and serve exit 1 naming file, line and directive", () => {
    const dir = tmpdir();
    const conf = path.join(dir, "bad.conf");
    fs.writeFileSync(conf, "ServerName localhost\nListen 127.0.0.1:0\nWSGIScriptAlais /x /tmp/x.wsgi\n");
    for (const cmd of ["configtest", "serve"]) {
      const r = run([cmd, "-f", conf]);
      assert.equal(r.status, 1, `${cmd}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, new RegExp(`${conf.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3: WSGIScriptAlais: `));
      assert.match(r.stderr, /did you mean WSGIScriptAlias/);
      assert.doesNotMatch(r.stdout, /serving/);
    }
  });

  it("an unreadable configuration file: exit 1 with its name", () => {
    const r = run(["serve", "-f", "/nonexistent/nodewsgi.conf"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/nonexistent\/nodewsgi\.conf/);
  });

  it("unknown command and missing -f: exit 1", () => {
    assert.equal(run(["frobnicate"]).status, 1);
    assert.equal(run(["serve"]).status, 1);
  });

  it("a port in use: exit 1, no half-started server", async () => {
    const blocker = net.createServer();
    await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
    const port = blocker.address().port;
    const dir = tmpdir();
    const conf = writeSite(dir).toString();
    fs.writeFileSync(conf, fs.readFileSync(conf, "utf8").replace("Listen 127.0.0.1:0", `Listen 127.0.0.1:0\nListen 127.0.0.1:${port}`));
    const r = run(["serve", "-f", conf]);
    blocker.close();
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.equal(fs.existsSync(path.join(dir, "nodewsgi.pid")), false);
  });

  it("forcing an engine that cannot load is an error, not a silent fallback", () => {
    const dir = tmpdir();
    const r = run(["serve", "-f", writeSite(dir)], { NODEWSGI_ENGINE: "native", NODEWSGI_NATIVE_ADDON: path.join(dir, "missing.node") });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /native/i);
  });

  for (const engine of ["native", "js"]) {
    it(`serves the hello app on the ${engine} engine and stops gracefully on SIGTERM`, async () => {
      const dir = tmpdir();
      const { child, url } = await serve(writeSite(dir), { NODEWSGI_ENGINE: engine });
      const done = exited(child);
      try {
        assert.match(fs.readFileSync(path.join(dir, "nodewsgi.pid"), "utf8"), new RegExp(`^${child.pid}\\n$`));
        const hello = await get(url + "hello");
        assert.deepEqual(hello, { status: 200, body: "Hello World!" });
        // A request in flight when SIGTERM arrives still gets its answer.
        const slow = get(url + "slow");
        await waitFor(() => fs.existsSync(path.join(dir, "slow.started")), "the slow request to start");
        child.kill("SIGTERM");
        assert.deepEqual(await slow, { status: 200, body: "slow done" });
        assert.deepEqual(await done, { code: 0, signal: null });
        assert.equal(fs.existsSync(path.join(dir, "nodewsgi.pid")), false);
        assert.match(fs.readFileSync(path.join(dir, "error.log"), "utf8"), /shutting down gracefully/);
      } finally {
        child.kill("SIGKILL");
      }
    });
  }

  it("an application in %{GLOBAL} that throws from a timer or leaves a rejected promise: logged, the server goes on", async () => {
    const dir = tmpdir();
    fs.writeFileSync(
      path.join(dir, "stray.js"),
      `exports.application = (e, sr) => {
  if (e.QUERY_STRING === "throw") setTimeout(() => { throw new Error("stray timer error"); }, 5);
  else Promise.reject(new Error("stray rejection"));
  sr("200 OK", [["Content-Type", "text/plain"]]);
  return ["scheduled"];
};\n`,
    );
    const { child, url } = await serve(writeSite(dir, `WSGIScriptAlias /stray ${dir}/stray.js application-group=%{GLOBAL}`));
    const done = exited(child);
    const log = path.join(dir, "error.log");
    try {
      // A request in flight when the error strikes is not cut either.
      const slow = get(url + "slow");
      await waitFor(() => fs.existsSync(path.join(dir, "slow.started")), "the slow request to start");
      for (const q of ["throw", "reject"]) assert.deepEqual(await get(url + "stray?" + q), { status: 200, body: "scheduled" });
      await waitFor(() => /stray timer error/.test(fs.readFileSync(log, "utf8")) && /stray rejection/.test(fs.readFileSync(log, "utf8")), "both errors to be logged");
      const text = fs.readFileSync(log, "utf8");
      assert.match(text, /Uncaught exception in the front-end process, outside any request's handling; serving goes on\./);
      assert.match(text, /Unhandled promise rejection in the front-end process/);
      assert.match(text, /stray\.js:2/, "with the stack");
      assert.deepEqual(await slow, { status: 200, body: "slow done" });
      assert.deepEqual(await get(url + "hello"), { status: 200, body: "Hello World!" });
      child.kill("SIGTERM");
      assert.equal((await done).code, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("process.exit() from an application in %{GLOBAL}: the server stops, and the error log names the caller", async () => {
    const dir = tmpdir();
    fs.writeFileSync(path.join(dir, "quit.js"), `exports.application = (e, sr) => {\n  process.exit(3);\n};\n`);
    const { child, url } = await serve(writeSite(dir, `WSGIScriptAlias /quit ${dir}/quit.js application-group=%{GLOBAL}`));
    const done = exited(child);
    try {
      await get(url + "quit").catch(() => undefined);
      assert.deepEqual(await done, { code: 3, signal: null });
      const text = fs.readFileSync(path.join(dir, "error.log"), "utf8");
      assert.match(text, /\[core:crit\].*process\.exit\(3\) called while serving: the server stops now/);
      assert.match(text, /quit\.js:2/);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("SIGHUP re-reads the configuration gracefully; a broken file keeps the old one", async () => {
    const dir = tmpdir();
    const conf = writeSite(dir);
    fs.writeFileSync(path.join(dir, "v2.js"), `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return ["version 2"]; };\n`);
    const { child, url } = await serve(conf);
    const done = exited(child);
    try {
      assert.equal((await get(url + "v2")).status, 404);
      fs.appendFileSync(conf, `WSGIScriptAlias /v2 ${dir}/v2.js\n`);
      child.kill("SIGHUP");
      let r;
      await waitFor(async () => (r = await get(url + "v2")).status === 200, "the reload to serve /v2");
      assert.deepEqual(r, { status: 200, body: "version 2" });
      assert.deepEqual(await get(url + "hello"), { status: 200, body: "Hello World!" });

      fs.appendFileSync(conf, "WSGIScriptAlais /broken /x\n");
      child.kill("SIGHUP");
      const log = path.join(dir, "error.log");
      await waitFor(() => /graceful restart failed/.test(fs.readFileSync(log, "utf8")), "the failed reload to be logged");
      assert.match(fs.readFileSync(log, "utf8"), /WSGIScriptAlais/);
      assert.match(fs.readFileSync(log, "utf8"), /graceful restart failed/);
      assert.deepEqual(await get(url + "v2"), { status: 200, body: "version 2" });
      child.kill("SIGTERM");
      assert.equal((await done).code, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("SIGTERM right after SIGHUP: the restart's half-started site stops too, no socket directory is left", async () => {
    const dir = tmpdir();
    // Daemon groups make their private socket directory (nwsgi-*) under os.tmpdir().
    const tmp = path.join(dir, "tmp");
    fs.mkdirSync(tmp);
    const sockets = () => fs.readdirSync(tmp).filter((n) => n.startsWith("nwsgi-"));
    const conf = writeSite(dir, [
      "WSGIDaemonProcess restart processes=2 threads=1",
      `WSGIScriptAlias /d ${dir}/hello.js process-group=restart application-group=%{GLOBAL}`,
    ].join("\n"));
    const { child, url } = await serve(conf, { TMPDIR: tmp });
    const done = exited(child);
    try {
      assert.deepEqual(await get(url + "d"), { status: 200, body: "Hello World!" });
      assert.equal(sockets().length, 1);
      // SIGTERM as soon as the reload has begun (its daemon processes are still starting):
      // two signals sent back to back are not always handled in the order sent.
      const errorLog = path.join(dir, "error.log");
      child.kill("SIGHUP");
      const until = Date.now() + 60_000;
      while (!fs.readFileSync(errorLog, "utf8").includes("SIGHUP received") && Date.now() < until) await new Promise((r) => setTimeout(r, 2));
      child.kill("SIGTERM");
      assert.deepEqual(await done, { code: 0, signal: null });
      const log = fs.readFileSync(path.join(dir, "error.log"), "utf8");
      assert.match(log, /SIGHUP received/);
      assert.match(log, /caught SIGTERM, shutting down gracefully/);
      assert.deepEqual(sockets(), []);
    } finally {
      child.kill("SIGKILL");
    }
  });

  /**
   * A site whose daemon group drains for eviction-timeout=30 on a graceful restart, with a
   * request stuck in it (its application never answers): the old group cannot finish early.
   */
  function drainingSite(dir, extra = "") {
    fs.writeFileSync(
      path.join(dir, "stuck.js"),
      `exports.application = () => { require("fs").writeFileSync(__dirname + "/stuck." + process.pid, ""); return new Promise(() => {}); };\n`,
    );
    return writeSite(dir, [
      "WSGIDaemonProcess drain threads=2 eviction-timeout=30",
      `WSGIScriptAlias /stuck ${dir}/stuck.js process-group=drain application-group=%{GLOBAL}`,
      `WSGIScriptAlias /d ${dir}/hello.js process-group=drain application-group=%{GLOBAL}`,
      extra,
    ].join("\n"));
  }
  /** Start a request to /stuck; resolves once its application runs (the promise of its end is `ended`). */
  async function stuckRequest(dir, url) {
    const before = new Set(fs.readdirSync(dir).filter((n) => n.startsWith("stuck.")));
    const ended = new Promise((resolve) => {
      http.get(url + "stuck", { agent: false }, (res) => { res.resume(); res.on("end", () => resolve(res.statusCode)); res.on("error", () => resolve("error")); }).on("error", () => resolve("error"));
    });
    await waitFor(() => fs.readdirSync(dir).some((n) => n.startsWith("stuck.") && !before.has(n)), "the stuck request to start");
    return { ended };
  }
  /**
   * Graceful restart: /NAME is added to the configuration and SIGHUP sent; resolves once the new
   * configuration serves it (the log's "resuming normal operations" would not do: the old code
   * wrote it only once the old site had retired).
   */
  async function reloadWith(child, conf, dir, url, name) {
    fs.writeFileSync(path.join(dir, `${name}.js`), `exports.application = (e, sr) => { sr("200 OK", [["Content-Type", "text/plain"]]); return ["${name}"]; };\n`);
    fs.appendFileSync(conf, `WSGIScriptAlias /${name} ${dir}/${name}.js\n`);
    child.kill("SIGHUP");
    await waitFor(async () => (await get(url + name)).status === 200, `the reload to serve /${name}`);
  }

  it("SIGTERM while a graceful restart drains: the retiring daemon group gets the stop's budget, not eviction-timeout", async () => {
    const dir = tmpdir();
    const tmp = path.join(dir, "tmp");
    fs.mkdirSync(tmp);
    const conf = drainingSite(dir, "GracefulShutdownTimeout 1");
    const { child, url } = await serve(conf, { TMPDIR: tmp });
    const done = exited(child);
    try {
      const stuck = await stuckRequest(dir, url);
      await reloadWith(child, conf, dir, url, "v2");
      assert.deepEqual(await get(url + "d"), { status: 200, body: "Hello World!" });
      const t0 = Date.now();
      child.kill("SIGTERM");
      assert.deepEqual(await done, { code: 0, signal: null });
      // GracefulShutdownTimeout 1: about a second (the old code waited out eviction-timeout, 30 s).
      assert.ok(Date.now() - t0 < 8000, `the stop took ${Date.now() - t0} ms`);
      // Its process was killed before the headers: 500, as mod_wsgi answers it.
      assert.equal(await stuck.ended, 500);
      assert.deepEqual(fs.readdirSync(tmp).filter((n) => n.startsWith("nwsgi-")), []);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("a second SIGHUP does not wait for the first one's retiring site: two generations retire at once", async () => {
    const dir = tmpdir();
    const conf = drainingSite(dir, "GracefulShutdownTimeout 1");
    const { child, url } = await serve(conf);
    const done = exited(child);
    try {
      const first = await stuckRequest(dir, url);
      await reloadWith(child, conf, dir, url, "v2");
      // The second generation has a stuck request of its own, so it too drains when replaced.
      const second = await stuckRequest(dir, url);
      const t0 = Date.now();
      await reloadWith(child, conf, dir, url, "v3");
      // In a few seconds at most (the old code served it once the first site had drained, 30 s).
      assert.ok(Date.now() - t0 < 10_000, `the second reload took ${Date.now() - t0} ms`);
      child.kill("SIGTERM");
      assert.deepEqual(await done, { code: 0, signal: null });
      assert.deepEqual([await first.ended, await second.ended], [500, 500]);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
