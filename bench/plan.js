"use strict";
/**
 * What the benchmark measures: the servers, the rows (a server + a request shape), the sets of rows
 * that run side by side in alternating rounds, and the targets (ratios of two rows of one set).
 */
const { aliasTarget } = require("./lib/configs");

const ENGINES = ["native", "js"];

/** Server specs, by id. `kind` picks how bench/lib/servers.js starts it. */
const SERVERS = {
  uws: { label: "raw uWebSockets.js", kind: "script", script: "uws-hello.js" },
  "node-http": { label: "node:http", kind: "script", script: "node-http-hello.js" },
  fastify: { label: "fastify", kind: "script", script: "fastify-hello.js", requires: "fastify" },
  "apache-daemon": { label: "Apache mod_wsgi daemon processes=2 threads=15", kind: "apache", mode: "daemon", daemonOptions: "processes=2 threads=15" },
  "apache-embedded": { label: "Apache mod_wsgi embedded", kind: "apache", mode: "embedded" },
};
const NODEWSGI_HOSTS = [
  { key: "inthread", label: "in-thread %{GLOBAL}", mode: "in-thread" },
  { key: "worker", label: "worker group", mode: "worker" },
  { key: "daemon1", label: "daemon processes=1", mode: "daemon", daemonOptions: "processes=1" },
  { key: "daemon2", label: "daemon processes=2", mode: "daemon", daemonOptions: "processes=2" },
  { key: "daemon2t15", label: "daemon processes=2 threads=15", mode: "daemon", daemonOptions: "processes=2 threads=15" },
];
for (const engine of ENGINES) {
  for (const h of NODEWSGI_HOSTS) {
    SERVERS[`nw-${h.key}-${engine}`] = { label: `nodewsgi ${h.label} (${engine})`, kind: "nodewsgi", mode: h.mode, daemonOptions: h.daemonOptions, engine };
  }
}
const ALIAS_COUNTS = [10, 100, 1000, 10000];
for (const engine of ENGINES) {
  for (const n of ALIAS_COUNTS) {
    SERVERS[`nw-alias${n}-${engine}`] = { label: `nodewsgi ${n} aliases (${engine})`, kind: "nodewsgi", mode: "in-thread", aliases: n, engine };
  }
}
// Hello behind server-context rewrite rules that do not match it (route plans still answer it).
SERVERS["nw-rules20-native"] = { label: "nodewsgi in-thread behind 20 server-context rewrite rules (native)", kind: "nodewsgi", mode: "in-thread", rewriteRules: 20, engine: "native" };
// Hello reached through a front-controller rule that rewrites every URL to /app.wsgi/... [PT].
SERVERS["nw-front-native"] = { label: "nodewsgi in-thread behind a front-controller rewrite rule (native)", kind: "nodewsgi", mode: "in-thread", rewriteFront: true, engine: "native" };
SERVERS["nw-payload-native"] = { label: "nodewsgi in-thread, payload site (native)", kind: "nodewsgi", mode: "in-thread", payload: true, engine: "native" };
// The same site with its applications in a worker group and in a daemon group: the upload check's
// reported (untargeted) rows.
SERVERS["nw-payload-worker-native"] = { label: "nodewsgi worker group, payload site (native)", kind: "nodewsgi", mode: "worker", payload: true, engine: "native" };
SERVERS["nw-payload-daemon1-native"] = { label: "nodewsgi daemon processes=1, payload site (native)", kind: "nodewsgi", mode: "daemon", daemonOptions: "processes=1", payload: true, engine: "native" };
// Groups that may use the second core too (shared with the load generator): what a hop to
// another thread or process buys when there is a core to hop to. Reported, not a target.
SERVERS["nw-worker-2c-native"] = { label: "nodewsgi worker group (native), server on CPUs 0-1", kind: "nodewsgi", mode: "worker", engine: "native", cpus: "0,1" };
SERVERS["nw-daemon2-2c-native"] = { label: "nodewsgi daemon processes=2 (native), server on CPUs 0-1", kind: "nodewsgi", mode: "daemon", daemonOptions: "processes=2", engine: "native", cpus: "0,1" };
// Raw uWS plus a busy loop per request: how much extra work per request a ratio to raw uWS allows.
const BUSY_MICROS = [1, 2, 3, 4];
for (const us of BUSY_MICROS) {
  SERVERS[`uws-busy${us}`] = { label: `raw uWebSockets.js + ${us} µs of busy loop per request`, kind: "script", script: "uws-hello.js", args: [String(us)] };
}
// Raw uWS refusing bodies over 1024 bytes with a 413: the 413 / hello pair of the payloads set on a
// server that does nothing else.
SERVERS["uws-refuse"] = { label: "raw uWebSockets.js, 413 for bodies over 1024 bytes", kind: "script", script: "uws-hello.js", args: ["0", "1024"] };
// The least a WSGI-shaped gateway must do per request, on raw uWS (servers/uws-gateway.js): the
// client address alone, and that plus a fixed environ, start_response and the checks.
SERVERS["uws-address"] = { label: "raw uWebSockets.js + reading the client address", kind: "script", script: "uws-gateway.js", args: ["address"] };
SERVERS["uws-gateway"] = { label: "raw uWebSockets.js + the least a WSGI gateway does (environ, start_response, checks)", kind: "script", script: "uws-gateway.js", args: ["gateway"] };
for (const [id, s] of Object.entries(SERVERS)) s.id = id;

const HELLO = { status: 200, body: "Hello World!" };
const MIB = 1024 * 1024;

/** More distinct URL-paths than src/map/route-cache.ts keeps (4096), so the alias rows measure routing. */
const DISTINCT_PATHS = 8192;

/** Rows: { id, set, server, label, request: { path, method?, bodyBytes?, padHeaderBytes?, distinctPaths? }, expect } */
const ROWS = [];
const helloServers = ["uws", "node-http", "fastify"];
for (const engine of ENGINES) for (const h of NODEWSGI_HOSTS) helloServers.push(`nw-${h.key}-${engine}`);
helloServers.push("apache-daemon", "apache-embedded");
for (const id of helloServers) ROWS.push({ id, set: "hello", server: id, label: SERVERS[id].label, request: { path: "/" }, expect: HELLO });
for (const engine of ENGINES) {
  for (const n of ALIAS_COUNTS) {
    const id = `nw-alias${n}-${engine}`;
    // Distinct paths (more than the route cache holds): the alias table is matched every time.
    ROWS.push({ id, set: "aliases", server: id, label: `${SERVERS[id].label}, GET ${aliasTarget(n)}* (${DISTINCT_PATHS} distinct paths)`, request: { path: aliasTarget(n), distinctPaths: DISTINCT_PATHS }, expect: HELLO });
  }
}
const P = "nw-payload-native";
ROWS.push(
  { id: "payload-hello", set: "payloads", server: P, label: "hello, GET /", request: { path: "/" }, expect: HELLO },
  { id: "payload-header8k", set: "payloads", server: P, label: "hello with an 8000-byte request header", request: { path: "/", padHeaderBytes: 8000 }, expect: HELLO },
  { id: "payload-post1m", set: "payloads", server: P, label: "POST 1 MiB to an app that reads and discards it", request: { path: "/upload", method: "POST", bodyBytes: MIB }, expect: { status: 200, body: String(MIB) } },
  { id: "payload-static64k", set: "payloads", server: P, label: "static 64 KiB file (Alias)", request: { path: "/static/64k.bin" }, expect: { status: 200, bodyBytes: 64 * 1024 } },
  { id: "payload-413", set: "payloads", server: P, label: "POST 4 KiB over LimitRequestBody 1024: 413", request: { path: "/limited/", method: "POST", bodyBytes: 4096 }, expect: { status: 413 } },
  { id: "uws-refuse-hello", set: "payloads", server: "uws-refuse", label: "raw uWS (refusing bodies over 1024 bytes): hello, GET /", request: { path: "/" }, expect: HELLO },
  { id: "uws-refuse-413", set: "payloads", server: "uws-refuse", label: "raw uWS (refusing bodies over 1024 bytes): POST 4 KiB: 413", request: { path: "/limited/", method: "POST", bodyBytes: 4096 }, expect: { status: 413 } },
);

ROWS.push(
  { id: "cores-inthread", set: "cores", server: "nw-inthread-native", label: "nodewsgi in-thread %{GLOBAL} (native), server on CPU 0", request: { path: "/" }, expect: HELLO },
  { id: "cores-worker", set: "cores", server: "nw-worker-2c-native", label: SERVERS["nw-worker-2c-native"].label, request: { path: "/" }, expect: HELLO },
  { id: "cores-daemon2", set: "cores", server: "nw-daemon2-2c-native", label: SERVERS["nw-daemon2-2c-native"].label, request: { path: "/" }, expect: HELLO },
);

ROWS.push({ id: "headroom-uws", set: "headroom", server: "uws", label: "raw uWebSockets.js", request: { path: "/" }, expect: HELLO });
for (const us of BUSY_MICROS) ROWS.push({ id: `uws-busy${us}`, set: "headroom", server: `uws-busy${us}`, label: SERVERS[`uws-busy${us}`].label, request: { path: "/" }, expect: HELLO });

ROWS.push(
  { id: "floor-uws", set: "floor", server: "uws", label: "raw uWebSockets.js", request: { path: "/" }, expect: HELLO },
  { id: "floor-address", set: "floor", server: "uws-address", label: SERVERS["uws-address"].label, request: { path: "/" }, expect: HELLO },
  { id: "floor-gateway", set: "floor", server: "uws-gateway", label: SERVERS["uws-gateway"].label, request: { path: "/" }, expect: HELLO },
  { id: "floor-inthread", set: "floor", server: "nw-inthread-native", label: SERVERS["nw-inthread-native"].label, request: { path: "/" }, expect: HELLO },
);

ROWS.push(
  { id: "rules-hello", set: "rules", server: "nw-inthread-native", label: "hello, GET / (no rewrite rules)", request: { path: "/" }, expect: HELLO },
  { id: "rules20-hello", set: "rules", server: "nw-rules20-native", label: "hello behind 20 server-context rewrite rules, GET /", request: { path: "/" }, expect: HELLO },
  { id: "rules-front-hello", set: "rules", server: "nw-front-native", label: "hello through a front-controller rule (/hello rewritten to /app.wsgi/hello [PT])", request: { path: "/hello" }, expect: HELLO },
);

const SETS = ["hello", "aliases", "payloads", "cores", "headroom", "floor", "rules"];

/** The rows `--quick` runs: the headline pairs, the alias extremes it can afford, 413 vs hello. */
const QUICK_ROWS = new Set([
  "uws",
  "node-http",
  "fastify",
  "nw-inthread-native",
  "nw-worker-native",
  "nw-daemon2-native",
  "nw-alias10-native",
  "nw-alias1000-native",
  "nw-alias1000-js",
  "payload-hello",
  "payload-413",
  "uws-refuse-hello",
  "uws-refuse-413",
]);

/** Targets from the benchmark issue: a / b >= min, both rows from the same set and the same run; min null: reported only. */
const TARGETS = [
  { name: "in-thread / raw uWS", a: "nw-inthread-native", b: "uws", min: 0.7 },
  { name: "worker group / raw uWS", a: "nw-worker-native", b: "uws", min: 0.55 },
  { name: "daemon (processes=2) / raw uWS", a: "nw-daemon2-native", b: "uws", min: 0.35 },
  { name: "worker group / fastify", a: "nw-worker-native", b: "fastify", min: 1.5 },
  { name: "daemon processes=2 threads=15 / Apache mod_wsgi daemon, same options", a: "nw-daemon2t15-native", b: "apache-daemon", min: 4 },
  { name: "10000 aliases / 10 aliases (native)", a: "nw-alias10000-native", b: "nw-alias10-native", min: 0.9 },
  { name: "native / js, 1000 aliases end to end", a: "nw-alias1000-native", b: "nw-alias1000-js", min: 1.5 },
  { name: "over-limit 413 / hello (same server)", a: "payload-413", b: "payload-hello", min: 0.9 },
  // The same pair on raw uWS: what a 4 KiB request and a 356-byte page cost by themselves.
  { name: "raw uWS: over-limit 413 / hello (same server; the request shapes' own cost)", a: "uws-refuse-413", b: "uws-refuse-hello", min: null },
  // Reported without a goal (min null): what a hop to another thread or process costs, against
  // the in-thread path of the same run (the process-group issue asks for these).
  { name: "worker group / in-thread (native)", a: "nw-worker-native", b: "nw-inthread-native", min: null },
  { name: "daemon processes=1 / in-thread (native)", a: "nw-daemon1-native", b: "nw-inthread-native", min: null },
  { name: "daemon processes=2 / in-thread (native)", a: "nw-daemon2-native", b: "nw-inthread-native", min: null },
  { name: "worker group on CPUs 0-1 / in-thread on CPU 0 (native; CPU 1 shared with the load generator)", a: "cores-worker", b: "cores-inthread", min: null },
  { name: "daemon processes=2 on CPUs 0-1 / in-thread on CPU 0 (native; CPU 1 shared with the load generator)", a: "cores-daemon2", b: "cores-inthread", min: null },
  // Headroom: what share of raw uWS a server keeps that adds N µs of work per request.
  ...BUSY_MICROS.map((us) => ({ name: `raw uWS + ${us} µs busy loop per request / raw uWS`, a: `uws-busy${us}`, b: "headroom-uws", min: null })),
  // The floor: what the gateway interface costs on raw uWS before any configuration is involved.
  { name: "raw uWS + client address / raw uWS", a: "floor-address", b: "floor-uws", min: null },
  { name: "gateway floor (address, environ, start_response, checks) / raw uWS", a: "floor-gateway", b: "floor-uws", min: null },
  { name: "in-thread / gateway floor", a: "floor-inthread", b: "floor-gateway", min: null },
  // Server-context rules none of which matches the request: what they cost once a route plan answers.
  { name: "hello behind 20 server-context rewrite rules / hello (in-thread, native)", a: "rules20-hello", b: "rules-hello", min: null },
  // A rule that does rewrite the request (the front-controller pattern), against no rules at all.
  { name: "hello through a front-controller rewrite rule / hello (in-thread, native)", a: "rules-front-hello", b: "rules-hello", min: null },
];

/** The streamed-upload memory check: server RSS growth while an app discards the body. */
const UPLOAD = { id: "upload", server: P, path: "/upload", maxGrowthMiB: 64 };
/**
 * The same upload to a worker group and to a daemon group: reported, not a target (the issue's
 * goal is the in-thread row). `--rows` picks uploads by id as it picks rows.
 */
const GROUP_UPLOADS = [
  { id: "upload-worker", server: "nw-payload-worker-native", path: "/upload", label: "worker group" },
  { id: "upload-daemon1", server: "nw-payload-daemon1-native", path: "/upload", label: "daemon processes=1" },
];

module.exports = { SERVERS, ROWS, SETS, QUICK_ROWS, TARGETS, UPLOAD, GROUP_UPLOADS, MIB };
