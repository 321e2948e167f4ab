#!/usr/bin/env node
"use strict";
// Micro-benchmark of the engine's per-request work: route (alias table match) plus
// headersToEnviron, native vs js, at 10..10,000 aliases (mixed prefixes and regexes).
// Run after `npx tsc -p tsconfig.json && node scripts/build-native.js`:
//   node bench/engine-micro.js [iterations]
const { jsEngine } = require("../dist/engine/js-engine");
let native = null;
try {
  native = require("../dist/engine/native-engine").createNativeEngine();
} catch (err) {
  console.error(`native engine unavailable: ${err.message}`);
}

const ITER = Number(process.argv[2] || 200000);
const HEADERS = ["host", "example.test", "user-agent", "bench/1.0", "accept", "text/html", "accept-encoding", "gzip",
  "accept-language", "en", "cookie", "a=1", "cookie", "b=2", "connection", "keep-alive", "x-request-id", "abc123",
  "content-type", "text/plain"];

function rules(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    switch (i % 4) {
      case 0: out.push({ kind: "prefix", url: `/app${i}`, target: `/srv/app${i}.wsgi` }); break;
      case 1: out.push({ kind: "prefix", url: `/static${i}/`, target: `/srv/static${i}/` }); break;
      case 2: out.push({ kind: "regex", pattern: `^/api${i}/v(\\d+)/([^/]+)`, target: `/srv/api${i}/v$1/$2.wsgi` }); break;
      default: out.push({ kind: "regex", pattern: i % 100 === 3 ? `\\.x${i}$` : `^/f${i}/(.*)\\.css$`, target: `/srv/css/$1` });
    }
  }
  out.push({ kind: "prefix", url: "/", target: "/srv/root.wsgi" });
  return out;
}

function paths(n) {
  // A spread of hits across the table, plus misses that fall through to the last rule.
  const out = [];
  for (let k = 0; k < 64; k++) {
    const i = Math.floor((k * 7919) % n);
    switch (k % 5) {
      case 0: out.push(`/app${i - (i % 4)}/x/y`); break;
      case 1: out.push(`/static${i - (i % 4) + 1}/img/${k}.png`); break;
      case 2: out.push(`/api${i - (i % 4) + 2}/v2/users`); break;
      case 3: out.push(`/f${i - (i % 4) + 3}/a/b.css`); break;
      default: out.push(`/nowhere/${k}`);
    }
  }
  return out;
}

function bench(engine, n) {
  const table = engine.compileAliasTable(rules(n));
  const ps = paths(n);
  const opts = { passAuthorization: false };
  let sink = 0;
  const iter = Math.max(2000, Math.floor(ITER / Math.max(1, engine.name === "js" ? n / 100 : 1)));
  for (let i = 0; i < Math.min(iter, 5000); i++) sink += table.match(ps[i & 63]).index + engine.headersToEnviron(HEADERS, opts).length;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iter; i++) {
    const hit = table.match(ps[i & 63]);
    sink += hit.index + engine.headersToEnviron(HEADERS, opts).length;
  }
  const ns = Number(process.hrtime.bigint() - t0) / iter;
  // Split: route alone.
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < iter; i++) sink += table.match(ps[i & 63]).index;
  const route = Number(process.hrtime.bigint() - t1) / iter;
  if (sink === -1) console.log(sink);
  return { total: ns, route, jsRules: table.jsEvaluatedRules.length };
}

console.log("aliases | js ns/req (route) | native ns/req (route) | native/js");
for (const n of [10, 100, 1000, 10000]) {
  const j = bench(jsEngine, n);
  const v = native ? bench(native, n) : null;
  const fmt = (r) => `${r.total.toFixed(0)} (${r.route.toFixed(0)})`;
  console.log(`${String(n).padStart(7)} | ${fmt(j).padStart(17)} | ${v ? fmt(v).padStart(21) : "n/a".padStart(21)} | ${v ? (v.total / j.total).toFixed(3) : "-"}`);
}
