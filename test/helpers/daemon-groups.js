"use strict";
/**
 * The fixture the daemon-group tests share: a temp directory for scripts and sockets, groups
 * closed after the file's tests, and the request, body and sink doubles a DaemonGroup is driven
 * with. Call `daemonFixture(prefix)` once at the top of a test file.
 */
const { after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { DaemonGroup } = require("../../dist/groups/daemon-supervisor");
const { recordingSink: sink } = require("./sinks");

/**
 * The bound on waiting for something that must happen (a process ready, a log line, a marker
 * file). Generous, as it only bounds a broken run: the waits end as soon as their condition
 * holds, and a process start takes seconds on a loaded machine.
 */
const WAIT_MS = 60_000;

/** Resolves once `cond()` is true; fails naming `what` after WAIT_MS. */
async function waitFor(cond, what, ms = WAIT_MS) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Resolves once the error log `file` has a line matching `re` (the supervisor writes it synchronously). */
async function loggedIn(file, re) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const text = fs.readFileSync(file, "utf8");
    if (re.test(text)) return;
    if (Date.now() > deadline) assert.fail(`no ${re} in the error log after ${WAIT_MS} ms:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A WSGIDaemonProcess spec with mod_wsgi's defaults, `over` on top. */
function spec(name, over = {}) {
  return {
    name, processes: 1, processesExplicit: false, threads: 15, maximumRequests: 0, restartInterval: 0, inactivityTimeout: 0,
    requestTimeout: 0, interruptTimeout: 0, gracefulTimeout: 15, evictionTimeout: 0, shutdownTimeout: 5, deadlockTimeout: 300,
    startupTimeout: 0, queueTimeout: 0, connectTimeout: 15, socketTimeout: 0, responseSocketTimeout: 0, listenBacklog: 100,
    memoryLimit: 0, virtualMemoryLimit: 0, cpuTimeLimit: 0, cpuPriority: 0, stackSize: 0, sendBufferSize: 0, receiveBufferSize: 0,
    headerBufferSize: 0, responseBufferSize: 0, supplementaryGroups: [], pythonPath: [], serverMetrics: false,
    where: { file: "test.conf", line: 1 },
    ...over,
  };
}

/** An ErrorLog that keeps its lines. */
function memLog() {
  const lines = [];
  return { lines, log: (level, module, message) => lines.push(`[${module}:${level}] ${message}`), close() {} };
}

/**
 * An AppRequest for `scriptFile`. `over.method`, `over.query` and `over.extra` (further environ
 * pairs) shape the environ; any AppRequest field in `over` replaces the default.
 */
function request(scriptFile, over = {}) {
  const { query, extra, ...fields } = over;
  const method = over.method ?? "GET";
  return {
    script: scriptFile, callable: "application", applicationGroup: "", processGroup: "x", method,
    environ: ["REQUEST_METHOD", method, "SCRIPT_NAME", "/app", "PATH_INFO", "", "QUERY_STRING", query ?? "", ...(extra ?? [])],
    urlScheme: "http", multithread: false, multiprocess: false, runOnce: false, bodyLimit: 0, logPrefix: "",
    ...fields,
  };
}

/** A body delivered in 64 KB pieces honouring pause/resume; `stallAt` stops delivery there. */
function body(data, { stallAt = Infinity } = {}) {
  if (!data) return { declaredLength: 0, chunked: false, start() {}, pause() {}, resume() {} };
  let off = 0;
  let paused = false;
  let cb = null;
  const pump = () => {
    while (!paused && off < data.length && off < stallAt) {
      const piece = data.subarray(off, Math.min(off + 65536, stallAt));
      off += piece.length;
      cb(piece, off >= data.length);
    }
  };
  return {
    declaredLength: data.length, chunked: false,
    start(c) { cb = c; pump(); },
    pause() { paused = true; },
    resume() { if (paused) { paused = false; setImmediate(pump); } },
    get sent() { return off; },
  };
}

/** A ResponseSink that records; `slow` pushes back on about half the writes. */
/** Dispatch and wait for the end; the sink comes back. */
async function run(g, req, b, s = sink()) {
  await g.dispatch(req, b ?? body(), s);
  return s;
}

function daemonFixture(prefix) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  /** Hosts to close after the file's tests (groups, pools). */
  const groups = [];
  after(async () => {
    await Promise.all(groups.map((g) => g.close(500)));
    fs.rmSync(root, { recursive: true, force: true });
  });
  const script = (name, source) => {
    const file = path.join(root, name);
    fs.writeFileSync(file, source);
    return file;
  };
  const group = (name, over = {}, opts = {}) => {
    const log = memLog();
    const g = new DaemonGroup(spec(name, over), log, { socketDir: path.join(root, "s-" + name), ...opts });
    groups.push(g);
    return { g, log };
  };
  return { root, groups, script, group };
}

/** `n` bytes that depend on their position and on `seed`: a chunk delivered twice, late or overwritten shows. */
function patterned(n, seed) {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

module.exports = { daemonFixture, spec, memLog, request, body, sink, run, waitFor, loggedIn, patterned, WAIT_MS };
