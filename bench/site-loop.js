#!/usr/bin/env node
"use strict";
/**
 * The server's own work per request without sockets: drives `Site.handle` (map phase, environ,
 * the application in its group, the response into a sink that discards it) in rounds and
 * reports the process's CPU time per request (every thread, so a worker group's thread counts).
 * The figures bench/LIMITS.md quotes as "Site.handle without sockets" come from here.
 *
 *   node bench/site-loop.js [--root DIR] [--engine native|js] [--mode in-thread|worker]
 *                           [--aliases N] [--rules N] [--rewrite-front 1] [--path /x] [--rounds 7]
 *                           [--requests 100000] [--outstanding 64]
 *
 * --rules N puts N server-context rewrite rules before the aliases (lib/configs.js
 * rewriteRuleLines, as the "rules" set's server), none of which changes the request.
 * --rewrite-front 1 adds a front-controller rule that passes every URL through to /app.wsgi
 * (rewriteFrontLines, as the "rules" set's front-controller server); --path defaults to /hello then.
 * --root runs another build (a tree with dist/ and native/, e.g. an older revision unpacked with
 * `git archive REV | tar -x -C DIR` and built), so two builds can be compared alternately.
 */
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { nodewsgiConfig, aliasTarget } = require("./lib/configs.js");
const { median } = require("./lib/stats.js");

function parseArgs(argv) {
  const o = { root: path.resolve(__dirname, ".."), engine: "native", mode: "in-thread", aliases: 0, rules: 0, "rewrite-front": 0, path: "", rounds: 7, requests: 100000, outstanding: 64 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, "");
    if (key === "help") {
      console.log(fs.readFileSync(__filename, "utf8").split("\n").slice(2, 19).join("\n"));
      process.exit(0);
    }
    if (!(key in o)) throw new Error(`unknown option ${argv[i]} (see --help)`);
    const value = argv[++i];
    if (value === undefined) throw new Error(`${argv[i - 1]} needs a value`);
    o[key] = typeof o[key] === "number" ? Number(value) : value;
  }
  if (o.mode !== "in-thread" && o.mode !== "worker") throw new Error("--mode is in-thread or worker (a daemon's CPU is in other processes)");
  if (!o.path) o.path = o.aliases ? aliasTarget(o.aliases) : o["rewrite-front"] ? "/hello" : "/";
  return o;
}

const NO_BODY = { declaredLength: 0, chunked: false, start() {}, pause() {}, resume() {} };

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const { parseConfigText } = require(`${o.root}/dist/config`);
  const { Site } = require(`${o.root}/dist/site`);
  const engine = o.engine === "js" ? require(`${o.root}/dist/engine/js-engine`).jsEngine : require(`${o.root}/dist/engine/native-engine`).createNativeEngine();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-site-loop-"));
  const text = nodewsgiConfig({ port: 8080, appDir: path.join(__dirname, "apps"), logDir: dir, mode: o.mode, aliases: o.aliases, rewriteRules: o.rules, rewriteFront: o["rewrite-front"] > 0 });
  const site = new Site(parseConfigText(text, path.join(dir, "site.conf")), engine, { log() {}, close() {} }, () => {});
  await site.start?.();

  let ended = 0;
  let failed = 0;
  // Woken by the sink when `ended` reaches `waitFor` (no polling: its CPU would count).
  let waiter = null;
  let waitFor = 0;
  const until = (count) => (ended >= count ? undefined : new Promise((resolve) => ((waitFor = count), (waiter = resolve))));
  const sink = () => ({
    aborted: false,
    onAbort() {},
    writeHead(status) {
      if (status !== 200 && failed++ === 0) console.error(`a request was answered ${status}`);
    },
    write() {
      return true;
    },
    drain() {
      return Promise.resolve();
    },
    end() {
      ended++;
      if (waiter !== null && ended >= waitFor) {
        const w = waiter;
        waiter = null;
        w();
      }
    },
    destroy() {},
  });
  const headers = ["host", "localhost:8080", "user-agent", "wrk", "accept", "*/*"];
  const request = () => ({ method: "GET", target: o.path, protocol: "HTTP/1.1", headers, remoteAddress: "127.0.0.1", remotePort: 5555, localAddress: "127.0.0.1", localPort: 8080, scheme: "http", body: NO_BODY });

  /**
   * `n` requests, at most --outstanding at once (an asynchronous group answers on later turns;
   * a worker group refuses more than its threads + 100 with a 503).
   */
  async function batch(n) {
    const start = ended;
    for (let sent = 0; sent < n; ) {
      const room = Math.min(n - sent, o.outstanding - (sent - (ended - start)));
      for (let i = 0; i < room; i++) site.handle(request(), sink());
      sent += room;
      // Refill once half the window has come back.
      if (sent < n) await until(start + sent - (o.outstanding >> 1));
    }
    await until(start + n);
  }

  // The application loads on the first request; warm up until the JIT has settled.
  await batch(1);
  await batch(50000);
  if (failed > 0) throw new Error(`${failed} warm-up requests were not answered 200`);
  const perRequest = [];
  for (let r = 0; r < o.rounds; r++) {
    const cpu = process.cpuUsage();
    await batch(o.requests);
    const used = process.cpuUsage(cpu);
    perRequest.push(((used.user + used.system) * 1000) / o.requests);
  }
  if (failed > 0) throw new Error(`${failed} requests were not answered 200`);
  const fmt = (ns) => `${Math.round(ns)} ns`;
  console.log(`${o.mode} ${o.engine} ${o.path}${o.rules ? ` behind ${o.rules} rules` : ""}${o["rewrite-front"] ? " through a front-controller rule" : ""}: CPU per request median ${fmt(median(perRequest))}, best ${fmt(Math.min(...perRequest))} (${o.rounds} rounds of ${o.requests})`);
  await site.close?.(100);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((err) => {
  console.error(err.message);
  process.exit(1);
});
