"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { loadScript, findCallable, ScriptCache } = require("../dist/app/loader");

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nodewsgi-loader-"));
function script(name, text) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}
function touch(file, seconds) {
  const t = new Date(Date.now() + seconds * 1000);
  fs.utimesSync(file, t, t);
}

test("CommonJS script with a .wsgi extension exports application", async () => {
  const file = script("a.wsgi", 'exports.application = (e, s) => ["a:" + __filename];\n');
  const s = await loadScript(file);
  assert.equal(s.format, "commonjs");
  assert.deepEqual(findCallable(s, "application")({}, () => {}), ["a:" + file]);
});

test("extensionless and .py CommonJS scripts, with a hashbang, require relative to the script", async () => {
  script("helper.js", "module.exports = 41;\n");
  const file = script("noext", '#!/usr/bin/env node\nconst h = require("./helper");\nexports.application = () => [String(h + 1)];\n');
  assert.deepEqual(findCallable(await loadScript(file), "application")(), ["42"]);
  const py = script("b.py", "module.exports = { app() { return [this.tag]; }, tag: 'bound' };\n");
  assert.deepEqual(findCallable(await loadScript(py), "app")(), ["bound"]);
});

test("ESM with a .wsgi extension is detected, imports relative modules and sees its own URL", async () => {
  script("esm-helper.mjs", "export const x = 7;\n");
  const file = script("esm.wsgi", 'import { x } from "./esm-helper.mjs";\nexport function application() { return [String(x), import.meta.url]; }\n');
  const s = await loadScript(file);
  assert.equal(s.format, "esm");
  const [x, url] = findCallable(s, "application")();
  assert.equal(x, "7");
  assert.match(url, /^file:.*esm\.wsgi\?/);
});

test(".mjs with export default: an object holding the name, or a function for application", async () => {
  const obj = script("d1.mjs", "export default { handle_request() { return ['h']; } };\n");
  assert.deepEqual(findCallable(await loadScript(obj), "handle_request")(), ["h"]);
  const fn = script("d2.wsgi", "export default function (e, s) { return ['default']; }\n");
  const s = await loadScript(fn);
  assert.deepEqual(findCallable(s, "application")(), ["default"]);
  assert.throws(() => findCallable(s, "other"), { code: "E_CALLABLE_NOT_FOUND" });
  const cjsFn = script("d3.js", "module.exports = () => ['fn'];\n");
  assert.deepEqual(findCallable(await loadScript(cjsFn), "application")(), ["fn"]);
});

test("errors: missing file, syntax error, exception while loading, missing callable", async () => {
  await assert.rejects(loadScript(path.join(dir, "nope.wsgi")), { code: "E_SCRIPT_NOT_FOUND" });
  const bad = script("bad.wsgi", "exports.application = (;\n");
  await assert.rejects(loadScript(bad), (err) => err.code === "E_SCRIPT_LOAD" && err.cause instanceof SyntaxError);
  const throws = script("throws.wsgi", 'function boom() { throw new Error("kaboom"); }\nboom();\n');
  await assert.rejects(loadScript(throws), (err) => {
    assert.equal(err.code, "E_SCRIPT_LOAD");
    assert.match(err.stack, /kaboom/);
    assert.match(err.stack, /throws\.wsgi:2/);
    return true;
  });
  // A runtime SyntaxError (JSON.parse) is a load error, not a reason to retry as ESM.
  const json = script("json.wsgi", 'JSON.parse("{");\n');
  await assert.rejects(loadScript(json), (err) => err.code === "E_SCRIPT_LOAD" && err.cause instanceof SyntaxError);
  const badEsm = script("badesm.wsgi", 'import x from "./does-not-exist.mjs";\nexport const application = x;\n');
  await assert.rejects(loadScript(badEsm), { code: "E_SCRIPT_LOAD" });
  const none = script("none.wsgi", "exports.app = 1;\n");
  const s = await loadScript(none);
  assert.throws(() => findCallable(s, "app"), {
    code: "E_CALLABLE_NOT_FOUND",
    message: `Target WSGI script '${none}' does not contain WSGI application 'app'.`,
  });
});

test("ScriptCache: once per group, separate state between groups, reload on mtime change", async () => {
  const file = script("counter.wsgi", "let n = 0;\nexports.application = () => [String(++n)];\n");
  const g1 = new ScriptCache("localhost|/a");
  const g2 = new ScriptCache("localhost|/b");
  const a1 = await g1.getCallable(file);
  assert.equal(await g1.getCallable(file), a1);
  assert.deepEqual(a1(), ["1"]);
  assert.deepEqual(a1(), ["2"]);
  const b1 = await g2.getCallable(file);
  assert.deepEqual(b1(), ["1"], "the second group has its own module instance");
  assert.equal(require.cache[file], undefined);

  fs.writeFileSync(file, "let n = 100;\nexports.application = () => [String(++n)];\n");
  touch(file, -3600); // earlier counts as a change too
  const a2 = await g1.getCallable(file);
  assert.notEqual(a2, a1);
  assert.deepEqual(a2(), ["101"]);

  const off = new ScriptCache("off", { reloading: false });
  const o1 = await off.getCallable(file);
  touch(file, 60);
  assert.equal(await off.getCallable(file), o1);
});

test("ScriptCache: concurrent first requests share one load; failures are retried", async () => {
  const file = script("once.mjs", "globalThis.__nodewsgiLoads = (globalThis.__nodewsgiLoads || 0) + 1;\nexport const application = () => [];\n");
  const g = new ScriptCache("g");
  const [x, y] = await Promise.all([g.getCallable(file), g.getCallable(file)]);
  assert.equal(x, y);
  assert.equal(globalThis.__nodewsgiLoads, 1);

  const flaky = script("flaky.wsgi", "throw new Error('not yet');\n");
  await assert.rejects(g.getCallable(flaky), { code: "E_SCRIPT_LOAD" });
  fs.writeFileSync(flaky, "exports.application = () => ['ok'];\n");
  touch(flaky, 0); // same second is fine: failures are not cached at all
  assert.deepEqual((await g.getCallable(flaky))(), ["ok"]);
  await assert.rejects(g.getCallable(flaky, "missing"), { code: "E_CALLABLE_NOT_FOUND" });
});

test("ScriptCache.ready: the callable only once it is loaded and while its file is unchanged", async () => {
  const file = script("ready.wsgi", "exports.application = () => ['r'];\nexports.other = () => ['o'];\n");
  const g = new ScriptCache("ready");
  assert.equal(g.ready(file), undefined, "nothing loaded yet");
  const pending = g.getCallable(file);
  assert.equal(g.ready(file), undefined, "still loading");
  const app = await pending;
  assert.equal(g.ready(file), app);
  assert.equal(g.ready(file, "application", fs.statSync(file).mtimeMs), app, "with the mtime the map phase saw");
  assert.equal(g.ready(file, "other"), undefined, "a callable never asked for is not looked up here");
  touch(file, 30);
  assert.equal(g.ready(file), undefined, "a changed file is loaded again through getCallable");
  assert.notEqual(await g.getCallable(file), app);

  const off = new ScriptCache("ready-off", { reloading: false });
  const o = await off.getCallable(file);
  touch(file, 90);
  assert.equal(off.ready(file), o, "WSGIScriptReloading Off keeps the loaded script");
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
