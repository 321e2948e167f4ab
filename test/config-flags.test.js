"use strict";
// The On|Off directives (flagDirective in src/config/directives.ts): one argument, On/Off in any
// case, the same error for anything else, and the value stored where the server reads it.
const test = require("node:test");
const assert = require("node:assert/strict");
const { DIRECTIVES, parseConfigText, ConfigErrors } = require("../dist/config");

const FLAGS = DIRECTIVES.filter((d) => / On\|Off$/.test(d.syntax));

function errorOf(text) {
  try {
    parseConfigText(text, "flags.conf");
  } catch (e) {
    assert.ok(e instanceof ConfigErrors, String(e));
    return e.message;
  }
  return null;
}

test("every On|Off directive: On/off accepted, anything else refused with its name", () => {
  assert.ok(FLAGS.length >= 10, `only ${FLAGS.length} flag directives`);
  for (const d of FLAGS) {
    assert.equal(d.minArgs, 1, d.name);
    assert.equal(d.maxArgs, 1, d.name);
    assert.match(d.default ?? "", /^(On|Off)$/, d.name);
    // Directives not allowed at server level are tried in a <Directory> (its line 2).
    const [open, close, line] = d.contexts.includes("server") ? ["", "", 1] : ["<Directory />\n", "</Directory>\n", 2];
    assert.equal(errorOf(`${open}${d.name} On\n${d.name} off\n${close}`), null, d.name);
    assert.match(errorOf(`${open}${d.name} maybe\n${close}`), new RegExp(`flags\\.conf:${line}: ${d.name}: ${d.name} must be On or Off, got 'maybe'`));
    assert.match(errorOf(`${open}${d.name} On Off\n${close}`), new RegExp(`flags\\.conf:${line}: ${d.name}`));
  }
});

test("flag values land where they are read; no-effect flags give their notice", () => {
  const c = parseConfigText(
    ["DirectorySlash Off", "RewriteEngine on", "WSGIRestrictEmbedded On", "WSGIPassAuthorization On", "KeepAlive Off", "WSGIScriptReloading Off", ""].join("\n"),
    "flags.conf",
  );
  assert.equal(c.main.dir.directorySlash.value, false);
  assert.equal(c.main.rewrite.engine, true);
  assert.equal(c.restrictEmbedded, true);
  assert.equal(c.main.dir.passAuthorization.value, true);
  assert.equal(c.main.dir.passAuthorization.where.line, 4);
  assert.equal(c.main.keepAlive.value, false);
  assert.equal(c.main.dir.scriptReloading.value, false);
  // KeepAlive applies at server level: no notice there (keep-alive.test.js has the <VirtualHost> one).
  assert.ok(!c.notices.some((n) => /KeepAlive/.test(n)), c.notices.join("\n"));
  assert.ok(c.notices.some((n) => /^flags\.conf:6: WSGIScriptReloading Off applies/.test(n)), c.notices.join("\n"));
  // WSGIScriptReloading On says nothing.
  assert.equal(parseConfigText("WSGIScriptReloading On\n", "flags.conf").notices.length, 0);
});
