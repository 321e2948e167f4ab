"use strict";
// Round trips per second of a hello-world request: in the calling thread (InThreadHost) vs
// through a worker-thread group's SharedArrayBuffer rings (WorkerGroup), with no sockets;
// plus a baseline of the same request as a postMessage ping-pong of plain objects. The worker
// group is measured twice: with the environ as a list, and as a request answered from a route
// plan carries it (a CgiEnviron made per request, whose list is made only if the encoder asks).
// Usage: npx tsc -p tsconfig.json && node bench/groups-handoff.js [seconds-per-case]
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { Worker } = require("node:worker_threads");
const { InThreadHost } = require("../dist/groups/in-thread-host");
const { WorkerGroup } = require("../dist/groups/worker-group");
const { CgiEnviron } = require("../dist/map/environ");
const { Mapper } = require("../dist/map/mapper");
const { parseConfigText } = require("../dist/config");
const { jsEngine } = require("../dist/engine/js-engine");

const SECONDS = Number(process.argv[2] || 2);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-bench-"));
const HELLO = path.join(dir, "hello.js");
fs.writeFileSync(
  HELLO,
  `exports.application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [Buffer.from("Hello World!")];
};`,
);
const log = { log() {}, close() {} };

const environ = [];
for (const [k, v] of Object.entries({
  REQUEST_METHOD: "GET", SCRIPT_NAME: "", PATH_INFO: "/", QUERY_STRING: "", REQUEST_URI: "/",
  SERVER_NAME: "localhost", SERVER_PORT: "8080", SERVER_ADDR: "127.0.0.1", SERVER_PROTOCOL: "HTTP/1.1",
  SERVER_SOFTWARE: "Apache", SERVER_ADMIN: "[no address given]", DOCUMENT_ROOT: "/srv/htdocs",
  REMOTE_ADDR: "127.0.0.1", REMOTE_PORT: "51234", GATEWAY_INTERFACE: "CGI/1.1", SCRIPT_FILENAME: HELLO,
  CONTEXT_DOCUMENT_ROOT: "/srv/htdocs", CONTEXT_PREFIX: "", REQUEST_SCHEME: "http",
  HTTP_HOST: "localhost:8080", HTTP_USER_AGENT: "autocannon/8", HTTP_ACCEPT: "*/*", HTTP_CONNECTION: "keep-alive",
  "mod_wsgi.process_group": "", "mod_wsgi.application_group": "localhost|", "mod_wsgi.callable_object": "application",
  "mod_wsgi.request_handler": "wsgi-script", "mod_wsgi.script_reloading": "1",
})) environ.push(k, v);

const req = (group) => ({
  script: HELLO, callable: "application", applicationGroup: group, processGroup: "", method: "GET", environ,
  urlScheme: "http", multithread: true, multiprocess: false, runOnce: false, bodyLimit: 0, logPrefix: "",
  scriptMtimeMs: fs.statSync(HELLO).mtimeMs, // the map phase passes the mtime it saw
});
/** A route plan's values, from a mapper that has seen the route twice. */
async function planRoute() {
  const config = parseConfigText(`ServerName localhost:8080\nWSGIScriptAlias / ${HELLO}\n<Directory ${dir}>\n    Require all granted\n</Directory>\n`, path.join(dir, "site.conf"));
  const mapper = new Mapper(config, jsEngine, { log });
  const mreq = {
    method: "GET", target: "/", protocol: "HTTP/1.1", remoteAddress: "127.0.0.1", remotePort: 51234, localAddress: "127.0.0.1", localPort: 8080, scheme: "http",
    headers: ["host", "localhost:8080", "user-agent", "autocannon/8", "accept", "*/*", "connection", "keep-alive"],
  };
  for (let i = 0; i < 2; i++) await mapper.map(mreq);
  const hit = await mapper.map(mreq);
  if (!(hit.environ instanceof CgiEnviron)) throw new Error("the route did not leave a plan");
  return { route: hit.environ.route, env: hit.environ.env, mreq };
}

const noBody = { declaredLength: -1, chunked: false, start(cb) { cb(new Uint8Array(0), true); }, pause() {}, resume() {} };
function sink() {
  return {
    aborted: false, status: 0, bytes: 0,
    onAbort() {}, writeHead(status) { this.status = status; },
    write(c) { this.bytes += c.length; return true; }, drain: () => Promise.resolve(),
    end(c) { if (c) this.bytes += c.length; }, destroy() {},
  };
}

/**
 * Keeps `depth` requests outstanding for SECONDS; returns round trips per second and this
 * process's CPU time per round trip (all its threads: the worker's work is included).
 */
async function measure(dispatch, depth) {
  const cpu0 = process.cpuUsage();
  let n = 0;
  let stop = false;
  const until = performance.now() + SECONDS * 1000;
  const lane = async () => {
    while (!stop) {
      const s = sink();
      await dispatch(s);
      if (s.status !== 200) throw new Error(`status ${s.status}`);
      if ((++n & 255) === 0 && performance.now() > until) stop = true;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: depth }, lane));
  const cpu = process.cpuUsage(cpu0);
  return { rate: (n / (performance.now() - t0)) * 1000, cpuUs: (cpu.user + cpu.system) / n };
}

async function postMessageBaseline(depth) {
  // The same hop done the usual way: the request as an object, the response as an object.
  const w = new Worker(
    `const { parentPort } = require("worker_threads");
     parentPort.on("message", (m) => parentPort.postMessage({ id: m.id, status: 200, reason: "OK",
       headers: [["Content-Type", "text/plain"], ["Content-Length", "12"]], body: Buffer.from("Hello World!") }));`,
    { eval: true },
  );
  const waiting = new Map();
  w.on("message", (m) => { const r = waiting.get(m.id); waiting.delete(m.id); r(m); });
  let id = 0;
  const r = await measure(
    (s) => new Promise((resolve) => {
      const my = ++id;
      waiting.set(my, (m) => { s.writeHead(m.status); s.end(m.body); resolve(); });
      w.postMessage({ id: my, request: req("x") });
    }),
    depth,
  );
  await w.terminate();
  return r;
}

(async () => {
  const local = new InThreadHost(log);
  const group = new WorkerGroup({ name: "bench", log, threads: 64, queueCapacity: 1024 });
  const lreq = req("bench");
  const wreq = req("bench");
  const plan = await planRoute();
  const preq = () => ({ ...wreq, environ: new CgiEnviron(jsEngine, plan.route, { ...plan.mreq, remotePort: 51234 }, null, plan.env) });
  // Warm up both (script load, JIT).
  await measure((s) => local.dispatch(lreq, noBody, s), 1);
  await measure((s) => group.dispatch(wreq, noBody, s), 16);
  await measure((s) => group.dispatch(preq(), noBody, s), 16);
  const rows = [];
  for (const depth of [1, 16, 64]) {
    const inThread = await measure((s) => local.dispatch(lreq, noBody, s), depth);
    const worker = await measure((s) => group.dispatch(wreq, noBody, s), depth);
    const planned = await measure((s) => group.dispatch(preq(), noBody, s), depth);
    const pm = await postMessageBaseline(depth);
    rows.push({ depth, inThread, worker, planned, pm });
  }
  console.log(`node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} CPUs, ${SECONDS}s per case`);
  console.log("CPU µs per round trip counts every thread of this process (the worker's share included).");
  console.log("outstanding | in-thread req/s (CPU µs) | worker group, SAB rings (CPU µs) | worker group, plan request (CPU µs) | postMessage objects (CPU µs)");
  const cell = (m, w) => `${Math.round(m.rate)} (${m.cpuUs.toFixed(2)})`.padStart(w);
  for (const r of rows) console.log(`${String(r.depth).padStart(11)} | ${cell(r.inThread, 24)} | ${cell(r.worker, 32)} | ${cell(r.planned, 35)} | ${cell(r.pm, 28)}`);
  await group.close(1000);
})();
