"use strict";
// Property test: the native and JS engines give identical answers on generated alias tables,
// paths, header lists and proxy setups (seeded, so a failure reproduces).
const test = require("node:test");
const assert = require("node:assert");
const { jsEngine } = require("../dist/engine/js-engine");
const { prng, pick } = require("./helpers/generated");

let native = null;
let why = "";
try {
  native = require("../dist/engine/native-engine").createNativeEngine();
} catch (err) {
  why = err.message;
}
const skip = native ? false : `native addon not built (${why}); run node scripts/build-native.js`;

const SEGMENTS = ["a", "app", "wiki", "static", "media", "x.css", "b.js", "A", "caf\u00c3\u00a9", "1", "22", ""];

function genPath(r) {
  let p = "";
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) p += (r() < 0.1 ? "//" : "/") + pick(r, SEGMENTS);
  if (r() < 0.1) p += "/";
  return p;
}

const REGEXES = [
  () => "^/(app|wiki)(/.*)?$", () => "\\.css$", () => "^/static/([^/]+)\\.(js|css)",
  () => "^/a/(\\d+)", () => "(?i)^/WIKI", () => "^/([a-z]+)/(\\w*)", () => "^/media/(.+?)(/|$)",
  () => "a(?=pp)", () => "^/(x)\\1", () => "[[:digit:]]{2}", () => "^/caf\u00e9", () => "^$",
  () => "^/(?:a|b)(?<n>.)?", () => "\\bwiki\\b", () => "^/[]a]", () => "\\s|\\S\\W",
];

function genRules(r, n) {
  const rules = [];
  for (let i = 0; i < n; i++) {
    if (r() < 0.5) {
      const url = genPath(r).replace(/\/\//, r() < 0.5 ? "//" : "/");
      rules.push({ kind: "prefix", url, target: "/srv" + url });
    } else {
      const k = Math.floor(r() * 10);
      rules.push({ kind: "regex", pattern: pick(r, REGEXES)(), target: `/t${k}/$${k % 4}/\\$1/$9` });
    }
  }
  return rules;
}

test("alias tables: native and js agree", { skip }, () => {
  const r = prng(20240611);
  for (let round = 0; round < 300; round++) {
    const rules = genRules(r, 1 + Math.floor(r() * 12));
    const a = jsEngine.compileAliasTable(rules);
    const b = native.compileAliasTable(rules);
    for (let k = 0; k < 30; k++) {
      const path = r() < 0.05 ? "/\u4e2d" + genPath(r) : genPath(r);
      assert.deepStrictEqual(b.match(path), a.match(path), JSON.stringify({ rules, path }));
    }
  }
});

test("large alias table (RegexSet + tries): native and js agree", { skip }, () => {
  const r = prng(7);
  const rules = [];
  for (let i = 0; i < 2000; i++) {
    const name = `/s${i % 300}${pick(r, ["", "/", "/x"])}`;
    if (i % 3 === 0) rules.push({ kind: "regex", pattern: `^${name}/([^/]+)\\.css$`, target: `/css/${i}/$1` });
    else if (i % 7 === 0) rules.push({ kind: "regex", pattern: `q${i}$|\\.v${i}$`, target: `/u/${i}$0` });
    else rules.push({ kind: "prefix", url: name, target: `/p/${i}` });
  }
  const a = jsEngine.compileAliasTable(rules);
  const b = native.compileAliasTable(rules);
  for (let k = 0; k < 3000; k++) {
    const path = `/s${Math.floor(r() * 320)}${pick(r, ["", "/", "/x", "//x/y.css", "/z.css", "/q21", "/a.v35"])}`;
    assert.deepStrictEqual(b.match(path), a.match(path), path);
  }
});

const NAMES = ["host", "accept", "x-custom", "X-Custom", "x_under", "content-type", "content-length",
  "authorization", "proxy-authorization", "proxy", "cookie", "x-forwarded-for", "x-real-ip", "x-forwarded-proto",
  "x-forwarded-ssl", "x-forwarded-host", "x-host", "x-forwarded-port", "x-script-name", "x-forwarded-server", "x\u00e9", ""];
const VALUES = ["", " padded ", "a=1", "https", "HTTP", "on", "0", "10.0.0.1", "10.0.0.1, 192.168.1.9", " , 1.2.3.4",
  "203.0.113.7,10.0.0.2 ,10.0.0.3", "::1", "example.com:8443", "/mount", "caf\u00c3\u00a9", "x\0y"];
const PROXIES = [null, ["10.0.0.0/8"], ["127.0.0.1", "::1"], ["10.0.0.2", "10.0.0.3", "192.168"], ["172.16.0.0/255.240.0.0"]];
const TRUSTED = ["X-Forwarded-For", "X-Real-IP", "X-Forwarded-Proto", "X-Forwarded-SSL", "X-Forwarded-Host", "X-Host",
  "X-Forwarded-Port", "X-Script-Name", "X-Forwarded-Server", "X_Bad", "X-Unknown"];

test("headers and trusted proxies: native and js agree", { skip }, () => {
  const r = prng(99);
  for (let round = 0; round < 2000; round++) {
    const headers = [];
    const n = Math.floor(r() * 10);
    for (let i = 0; i < n; i++) headers.push(pick(r, NAMES), pick(r, VALUES));
    const options = { passAuthorization: r() < 0.5 };
    const ea = jsEngine.headersToEnviron(headers, options);
    const eb = native.headersToEnviron(headers, options);
    assert.deepStrictEqual(eb, ea, JSON.stringify(headers));
    const trusted = TRUSTED.filter(() => r() < 0.3);
    const proxies = pick(r, PROXIES);
    const remote = pick(r, ["10.0.0.2", "127.0.0.1", "::1", "::ffff:10.9.9.9", "172.20.1.1", "8.8.8.8", "bogus"]);
    const oa = jsEngine.applyTrustedProxyHeaders(ea, remote, trusted, proxies && jsEngine.compileProxyList(proxies));
    const ob = native.applyTrustedProxyHeaders(eb, remote, trusted, proxies && native.compileProxyList(proxies));
    assert.deepStrictEqual(ob, oa, JSON.stringify({ headers, trusted, proxies, remote }));
    assert.deepStrictEqual(eb, ea);
  }
});

test("proxy lists: native and js agree on parsing and membership", { skip }, () => {
  const entries = ["10.0.0.0/8", "10.1", "192.168.1.1/24", "::1", "2001:db8::/32", "fe80::/10", "1.2.3.4/255.255.0.0",
    "1.2.3.4/255.0.255.0", "300.1.1.1", "1.2.3.4/33", "::1/0", "example.com", "2001:DB8::1", "", "1.2.3.4/", "::ffff:1.2.3.4"];
  const addresses = ["10.2.3.4", "10.1.200.1", "192.168.1.77", "192.168.2.1", "::1", "2001:db8:1::5", "fe80::1",
    "1.2.9.9", "::ffff:10.0.0.1", "01.2.3.4", "1.2.3", "", "2001:db8::1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4"];
  for (const e of entries) {
    let a, b, ea, eb;
    try { a = jsEngine.compileProxyList([e]); } catch (err) { ea = err.code; }
    try { b = native.compileProxyList([e]); } catch (err) { eb = err.code; }
    assert.strictEqual(eb, ea, e);
    if (a) for (const addr of addresses) assert.strictEqual(b.contains(addr), a.contains(addr), `${e} ${addr}`);
  }
});

test("normalizePath and bodyVerdict: native and js agree", { skip }, () => {
  const r = prng(5);
  const PIECES = ["/", "//", ".", "..", "a", "%2e", "%2E", "%2f", "%2F", "%00", "%41", "%zz", "%", "%c3%a9", "b", "%25", "~", "\u00e9"];
  for (let round = 0; round < 5000; round++) {
    let raw = "/";
    const n = Math.floor(r() * 8);
    for (let i = 0; i < n; i++) raw += pick(r, PIECES);
    if (r() < 0.02) raw = pick(r, ["*", "", "a/b", "/"]);
    for (const mode of ["off", "on", "nodecode"]) {
      assert.deepStrictEqual(native.normalizePath(raw, mode), jsEngine.normalizePath(raw, mode), `${raw} ${mode}`);
    }
  }
  for (const [d, c, l, a] of [[-1, false, 0, false], [17, false, 16, false], [16, false, 16, false], [-1, true, 16, false],
    [-1, true, 16, true], [99, true, 16, true], [1e12, false, 0, true]]) {
    assert.strictEqual(native.bodyVerdict(d, c, l, a), jsEngine.bodyVerdict(d, c, l, a));
  }
});
