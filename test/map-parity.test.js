"use strict";
// Property test over the whole map phase: generated configurations (aliases of every kind,
// sections, rewrite rules, handlers) and generated requests, mapped with the native and the JS
// engine, must give identical results. Seeded, so a failure reproduces.
const { it } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseConfigText } = require("../dist/config");
const { Mapper } = require("../dist/map/mapper");
const { jsEngine } = require("../dist/engine/js-engine");
const { createNativeEngine } = require("../dist/engine/native-engine");
const { prng, pick, comparableMapResult } = require("./helpers/generated");

const nullLog = { log() {}, close() {} };

/** A site tree every generated configuration can point into. */
function makeTree() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-mapparity-"));
  const files = ["htdocs/index.html", "htdocs/a.txt", "htdocs/app.wsgi", "apps/one.wsgi", "apps/two.js", "apps/sub/three.wsgi", "static/x.css", "static/media/img.png"];
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), "exports.application = () => [];\n");
  }
  fs.mkdirSync(path.join(root, "htdocs/empty"), { recursive: true });
  return root;
}

const URLS = ["/", "/app", "/apps", "/static", "/media", "/wiki", "/a", "/x"];
const REGEXES = ["^/(app|wiki)(/.*)?$", "\\.css$", "^/static/([^/]+)", "^/a/(\\d+)", "^/([a-z]+)/(\\w*)", "^/m(edia)?/(.+)$"];

function genConfig(r, root) {
  const lines = [`ServerName localhost`, `DocumentRoot ${root}/htdocs`];
  const n = 1 + Math.floor(r() * 6);
  for (let i = 0; i < n; i++) {
    const kind = pick(r, ["Alias", "AliasMatch", "WSGIScriptAlias", "WSGIScriptAliasMatch"]);
    const target = pick(r, [`${root}/apps/`, `${root}/apps/one.wsgi`, `${root}/static/`, `${root}/static/$1`, `${root}/apps/$1.wsgi`, `${root}/apps/sub/`]);
    if (kind.endsWith("Match")) lines.push(`${kind} "${pick(r, REGEXES)}" ${target}`);
    else lines.push(`${kind} ${pick(r, URLS)}${r() < 0.3 ? "/" : ""} ${target}`);
  }
  lines.push(`<Directory ${root}>`, "    Require all granted", `    Options ${pick(r, ["None", "ExecCGI", "ExecCGI MultiViews", "Indexes"])}`, "</Directory>");
  if (r() < 0.5) lines.push(`<Directory ${root}/apps>`, `    ${pick(r, ["SetHandler wsgi-script", "AddHandler wsgi-script .wsgi", "Require all denied"])}`, "</Directory>");
  if (r() < 0.4) lines.push(`<Location ${pick(r, URLS)}>`, `    ${pick(r, ["Require all denied", "SetEnv FROM location", "WSGIApplicationGroup %{GLOBAL}"])}`, "</Location>");
  if (r() < 0.3) lines.push("RewriteEngine On", `RewriteRule ^/old/(.*)$ /${pick(r, ["app", "static", "a"])}/$1 [${pick(r, ["PT", "L", "R=301", "PT,QSA"])}]`);
  return lines.join("\n") + "\n";
}

const SEGMENTS = ["app", "apps", "one.wsgi", "two.js", "sub", "three.wsgi", "static", "x.css", "media", "img.png", "old", "wiki", "a", "1", "..", ".", "%2F", "caf%C3%A9", "empty", ""];

function genTarget(r) {
  let p = "";
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) p += (r() < 0.1 ? "//" : "/") + pick(r, SEGMENTS);
  if (r() < 0.2) p += "/";
  if (r() < 0.2) p += "?q=" + pick(r, ["1", "a+b", ""]);
  return p;
}

let native = null;
try {
  native = createNativeEngine();
} catch {
  /* reported by skip below */
}

it("map phase: the native and JS engines map generated sites identically", { skip: native ? false : "native addon not built" }, async () => {
  const root = makeTree();
  const r = prng(20261121);
  let compared = 0;
  const kinds = new Map();
  for (let c = 0; c < 60; c++) {
    const text = genConfig(r, root);
    const config = parseConfigText(text, path.join(root, `gen-${c}.conf`));
    const a = new Mapper(config, jsEngine, { log: nullLog });
    const b = new Mapper(config, native, { log: nullLog });
    for (let q = 0; q < 40; q++) {
      const req = {
        method: pick(r, ["GET", "HEAD", "POST"]),
        target: genTarget(r),
        protocol: "HTTP/1.1",
        headers: ["host", pick(r, ["example.test", "localhost:8080"]), "x-custom", "v", "x_under", "dropped"],
        remoteAddress: "127.0.0.1",
        remotePort: 40000,
        localAddress: "127.0.0.1",
        localPort: 8080,
        scheme: "http",
      };
      const [ra, rb] = await Promise.all([a.map(req), b.map(req)]);
      assert.deepEqual(comparableMapResult(rb), comparableMapResult(ra), `config:\n${text}\nrequest: ${req.method} ${req.target}`);
      kinds.set(ra.kind, (kinds.get(ra.kind) ?? 0) + 1);
      compared++;
    }
  }
  assert.equal(compared, 2400);
  // The generator must reach every kind of outcome, or the test proves little.
  for (const k of ["wsgi", "static", "error", "redirect"]) assert.ok((kinds.get(k) ?? 0) > 20, `only ${kinds.get(k) ?? 0} ${k} results: ${[...kinds]}`);
});
