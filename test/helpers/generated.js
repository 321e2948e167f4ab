"use strict";
/** Shared by the property tests: a seeded generator, and map results reduced to what must agree. */

/** A small seeded PRNG (mulberry32): a failure reproduces from its seed. Returns () => [0, 1). */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

/** The parts of a map result that must agree (settings by identity aside; request id and times differ by design). */
function comparableMapResult(result) {
  const out = { ...result };
  delete out.settings;
  // Closures over the request for Header/CustomLog expr= conditions: compared by what the rules do, elsewhere.
  delete out.exprRequest;
  if (out.stat) out.stat = out.stat.ino;
  if (out.environ) {
    // A plan's answer makes its list when asked (src/map/environ.ts CgiEnviron).
    const pairs = Array.isArray(out.environ) ? out.environ : out.environ.pairs();
    const env = [];
    for (let i = 0; i < pairs.length; i += 2) {
      const k = pairs[i];
      if (!/^mod_wsgi\.(request_id|request_start|script_start)$/.test(k)) env.push(k, pairs[i + 1]);
    }
    out.environ = env;
  }
  return out;
}

module.exports = { prng, pick, comparableMapResult };
