#!/usr/bin/env node
"use strict";
// CPU per request of `Site.handle` without sockets: the map phase (from a route plan when the
// mapping allows one), the in-thread hello application and a response sink that discards.
// Run after `npx tsc -p tsconfig.json`:
//   node bench/site-handle.js [--rules N] [--iterations N] [--runs N] [--engine native|js]
// `--rules N` puts N server-context RewriteRule lines (with conditions; bench/lib/configs.js
// rewriteRuleLines, as the "rules" set's server) before the alias, none of which matches
// `/hello`: what a site with a few server-level rules pays per request.
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText } = require("../dist/config");
const { Site } = require("../dist/site");
const { jsEngine } = require("../dist/engine/js-engine");
const { loadEngine } = require("../dist/engine/load");
const { rewriteRuleLines } = require("./lib/configs");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}
const RULES = Number(option("rules", "0"));
const ITER = Number(option("iterations", "200000"));
const RUNS = Number(option("runs", "5"));
const engine = option("engine", "native") === "js" ? jsEngine : loadEngine();

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-site-handle-"));
const app = path.join(__dirname, "apps", "hello.js");
const text = [
  "ServerName localhost",
  `ErrorLog ${dir}/error_log`,
  ...(RULES > 0 ? rewriteRuleLines(RULES) : []),
  `WSGIScriptAlias /hello ${app}`,
  `<Directory ${path.dirname(app)}>`,
  "    Require all granted",
  "</Directory>",
  "WSGIApplicationGroup %{GLOBAL}",
  "",
].join("\n");
const config = parseConfigText(text, path.join(dir, "bench.conf"));
const log = { log() {}, close() {} };
const site = new Site(config, engine, log, () => {});

const body = { declaredLength: -1, chunked: false, start(cb) { cb(new Uint8Array(0), true); }, pause() {}, resume() {} };
const req = {
  method: "GET", target: "/hello", protocol: "HTTP/1.1",
  headers: ["host", "localhost", "user-agent", "bench/1.0", "accept", "*/*"],
  remoteAddress: "127.0.0.1", remotePort: 40000, localAddress: "127.0.0.1", localPort: 80, scheme: "http", body,
};
let status = 0;
let done = 0;
const sink = {
  aborted: false,
  onAbort() {},
  writeHead(s) { status = s; },
  write() { return true; },
  drain() { return Promise.resolve(); },
  end() { done++; },
  destroy() {},
};

async function run(n) {
  const before = done;
  const t0 = process.cpuUsage();
  for (let i = 0; i < n; i++) site.handle(req, sink);
  // An application answered asynchronously would finish later: wait for every response.
  while (done - before < n) await new Promise((r) => setImmediate(r));
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / n;
}

(async () => {
  await site.start();
  await run(20000);
  if (status !== 200) throw new Error(`hello answered ${status}`);
  const results = [];
  for (let r = 0; r < RUNS; r++) results.push(await run(ITER));
  results.sort((a, b) => a - b);
  const fmt = (x) => x.toFixed(3);
  console.log(`${engine.name} engine, ${RULES} server-context rules: ${fmt(results[Math.floor(results.length / 2)])} µs per request (median of ${RUNS} × ${ITER}; best ${fmt(results[0])}, worst ${fmt(results[results.length - 1])})`);
  await site.close(100);
  fs.rmSync(dir, { recursive: true, force: true });
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
