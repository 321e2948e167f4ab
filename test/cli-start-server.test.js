"use strict";
// `nodewsgi start-server`: the real CLI in a child process, real sockets on 127.0.0.1.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const client = require("./helpers/http");
const { spawn, spawnSync } = require("node:child_process");

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "bin", "nodewsgi.js");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-start-server-"));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ENVIRON_APP = `exports.application = (environ, start_response) => {
  const out = {};
  for (const [k, v] of Object.entries(environ)) if (typeof v !== "object" && typeof v !== "function") out[k] = v;
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(out)];
};
`;

function write(rel, text) {
  const file = path.join(tmp, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

/** Start `start-server ARGS --port 0`, resolve with the URL it prints and the child. */
function startServer(args, { cwd = tmp } = {}) {
  const child = spawn(process.execPath, [BIN, "start-server", ...args, "--port", "0", "--host", "127.0.0.1", "--server-root", fs.mkdtempSync(path.join(tmp, "root-"))], {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    // Ends with the URL; the bound only stops a broken start (generous, for a loaded machine).
    const timer = setTimeout(() => reject(new Error(`no URL printed in 60 s\nstdout: ${stdout}\nstderr: ${stderr}`)), 60_000);
    child.stdout.on("data", (d) => {
      stdout += d;
      const m = /serving (http:\/\/[^\s]+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1].replace(/\/$/, ""), stdout: () => stdout, stderr: () => stderr });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}\nstdout: ${stdout}\nstderr: ${stderr}`));
    });
  });
}

function stop(server) {
  return new Promise((resolve) => {
    server.child.removeAllListeners("exit");
    if (server.child.exitCode !== null) return resolve(server.child.exitCode);
    server.child.once("exit", (code) => resolve(code));
    server.child.kill("SIGTERM");
  });
}

const get = (url, headers = {}) => client.request(url, undefined, { headers });

/** Run the CLI to completion (for the commands that must fail fast). */
function runCli(args, opts = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { cwd: tmp, encoding: "utf8", timeout: 30_000, ...opts });
}

test("serves examples/hello at / and prints what it set up", async () => {
  const s = await startServer([path.join(ROOT, "examples", "hello", "app.js")]);
  try {
    assert.match(s.stdout(), /^Server root: +\S+/m);
    assert.match(s.stdout(), /^Daemon group: +127\.0\.0\.1:0: processes 1, threads 5/m);
    const r = await get(`${s.url}/`);
    assert.equal(r.status, 200);
    assert.equal(r.body, "Hello World! (GET /)\n");
    const deep = await get(`${s.url}/some/deep/path?x=1`);
    assert.equal(deep.status, 200);
    assert.equal(deep.body, "Hello World! (GET /some/deep/path)\n");
  } finally {
    assert.equal(await stop(s), 0);
  }
});

test("environ: SCRIPT_NAME/PATH_INFO at the mount point, daemon group, setenv, document root and url aliases win", async () => {
  const app = write("env/app.js", ENVIRON_APP);
  write("env/docs/hello.txt", "static hello\n");
  write("env/docs/sub/page.html", "<p>page</p>\n");
  write("env/assets/style.css", "body{}\n");
  const icon = write("env/favicon.ico", "ICON");
  const s = await startServer([
    app, "--document-root", path.join(tmp, "env/docs"), "--url-alias", "/assets", path.join(tmp, "env/assets"),
    "--url-alias", "/favicon.ico", icon, "--setenv", "GREETING", "hi there", "--processes", "2", "--threads", "3",
  ]);
  try {
    const root = JSON.parse((await get(`${s.url}/`)).body);
    assert.equal(root.SCRIPT_NAME, "");
    assert.equal(root.PATH_INFO, "/");
    assert.equal(root.GREETING, "hi there");
    assert.equal(root["mod_wsgi.process_group"], "127.0.0.1:0");
    assert.equal(root["mod_wsgi.application_group"], "");
    assert.equal(root["wsgi.multiprocess"], true);
    const deep = JSON.parse((await get(`${s.url}/a/b/c`)).body);
    assert.equal(deep.SCRIPT_NAME, "");
    assert.equal(deep.PATH_INFO, "/a/b/c");
    // A directory of the document root is the application's; its files are static.
    assert.equal(JSON.parse((await get(`${s.url}/sub/`)).body).PATH_INFO, "/sub/");
    const file = await get(`${s.url}/hello.txt`);
    assert.equal(file.status, 200);
    assert.equal(file.body, "static hello\n");
    assert.match(file.headers["content-type"], /^text\/plain/);
    assert.equal((await get(`${s.url}/sub/page.html`)).body, "<p>page</p>\n");
    assert.equal((await get(`${s.url}/assets/style.css`)).body, "body{}\n");
    assert.equal((await get(`${s.url}/assets/missing.css`)).status, 404);
    assert.equal((await get(`${s.url}/favicon.ico`)).body, "ICON");
  } finally {
    assert.equal(await stop(s), 0);
  }
});

test("--mount-point, --callable-object, --application-type module", async () => {
  write("mod/lib/entry.js", ENVIRON_APP.replace("exports.application", "exports.wsgi"));
  const s = await startServer(["./lib/entry", "--application-type", "module", "--callable-object", "wsgi", "--mount-point", "/app"], { cwd: path.join(tmp, "mod") });
  try {
    const at = JSON.parse((await get(`${s.url}/app`)).body);
    assert.equal(at.SCRIPT_NAME, "/app");
    assert.equal(at.PATH_INFO, "");
    assert.equal(at["wsgi.multiprocess"], false);
    const below = JSON.parse((await get(`${s.url}/app/x/y`)).body);
    assert.equal(below.SCRIPT_NAME, "/app");
    assert.equal(below.PATH_INFO, "/x/y");
    assert.equal((await get(`${s.url}/elsewhere`)).status, 404);
  } finally {
    assert.equal(await stop(s), 0);
  }
});

test("--reload-on-changes reloads the script when it changes", async () => {
  const app = write("reload/app.js", `exports.application = (e, sr) => { sr("200 OK", []); return ["one"]; };\n`);
  const s = await startServer([app, "--reload-on-changes"]);
  try {
    assert.equal((await get(`${s.url}/`)).body, "one");
    fs.writeFileSync(app, `exports.application = (e, sr) => { sr("200 OK", []); return ["two"]; };\n`);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(app, later, later);
    assert.equal((await get(`${s.url}/`)).body, "two");
  } finally {
    assert.equal(await stop(s), 0);
  }
});

test("--application-type static serves only the document root", async () => {
  write("static/docs/index.html", "<h1>home</h1>\n");
  const s = await startServer(["--application-type", "static", "--document-root", path.join(tmp, "static/docs")]);
  try {
    assert.equal((await get(`${s.url}/`)).body, "<h1>home</h1>\n");
    assert.equal((await get(`${s.url}/nothing`)).status, 404);
  } finally {
    assert.equal(await stop(s), 0);
  }
});

/** Exit status 1 and exactly one line on stderr, matching `re`. */
function assertOneLineFailure(r, re) {
  assert.equal(r.status, 1, `status ${r.status}; stderr: ${r.stderr}`);
  const lines = r.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `one line expected, got:\n${r.stderr}`);
  assert.match(lines[0], re);
}

test("bad input: one line on stderr, exit status 1", () => {
  const noCallable = write("bad/nocallable.js", "exports.app = () => {};\n");
  const broken = write("bad/broken.js", "exports.application = (;\n");
  const throws = write("bad/throws.js", "throw new Error('boom at load');\n");
  const root = path.join(tmp, "bad-root");
  assertOneLineFailure(runCli(["start-server", path.join(tmp, "bad/missing.js"), "--server-root", root]), /^nodewsgi start-server: script not found: .*missing\.js$/);
  assertOneLineFailure(runCli(["start-server", noCallable, "--server-root", root]), /does not contain WSGI application 'application'/);
  assertOneLineFailure(runCli(["start-server", broken, "--server-root", root]), /cannot be loaded as JavaScript module.*SyntaxError|cannot be loaded as JavaScript module/);
  assertOneLineFailure(runCli(["start-server", throws, "--server-root", root]), /cannot be loaded.*boom at load/);
  assertOneLineFailure(runCli(["start-server", noCallable, "--bogus"]), /^nodewsgi start-server: unknown option '--bogus' \(see --help\)$/);
  assertOneLineFailure(runCli(["start-server"]), /SCRIPT is required/);
  assertOneLineFailure(runCli(["start-server", "nope", "--application-type", "module", "--server-root", root]), /cannot find module 'nope'/);
  assertOneLineFailure(runCli(["start-server", noCallable, "--document-root", path.join(tmp, "no-such-dir")]), /--document-root is not a directory/);
  assertOneLineFailure(runCli(["start-server", noCallable, "--url-alias", "/x", path.join(tmp, "no-such")]), /--url-alias \/x: no such file or directory/);
});

test("a port in use: one line, exit status 1", async () => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
  const port = blocker.address().port;
  try {
    const r = await new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, "start-server", path.join(ROOT, "examples/hello/app.js"), "--host", "127.0.0.1", "--port", String(port), "--server-root", path.join(tmp, "busy-root")], { stdio: ["ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (status) => resolve({ status, stderr }));
    });
    assertOneLineFailure(r, new RegExp(`could not bind to 127\\.0\\.0\\.1:${port}`));
  } finally {
    blocker.close();
  }
});

test("--help lists the options and exits 0", () => {
  const r = runCli(["start-server", "--help"]);
  assert.equal(r.status, 0);
  for (const o of ["--port", "--processes", "--threads", "--url-alias", "--document-root", "--trust-proxy-header", "--server-root", "--include-file"]) {
    assert.ok(r.stdout.includes(o), o);
  }
  assert.match(runCli(["--help"]).stdout, /start-server SCRIPT/);
});

test("an unmodified Express app (ending with app.listen(3000)) and a Hono app, as they are", async () => {
  const express = await startServer([path.join(ROOT, "examples", "express", "app.js")]);
  try {
    const home = await get(express.url + "/");
    assert.equal(home.status, 200);
    assert.match(home.body, /Hello from Express/);
    const json = await get(express.url + "/json?x=1");
    assert.equal(json.status, 200);
    assert.match(json.headers["content-type"], /application\/json/);
  } finally {
    await stop(express);
  }
  const hono = await startServer([path.join(ROOT, "examples", "hono", "app.mjs")]);
  try {
    const home = await get(hono.url + "/");
    assert.equal(home.status, 200);
    assert.match(home.body, /Hello from Hono/);
  } finally {
    await stop(hono);
  }
});
