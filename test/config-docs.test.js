"use strict";
// docs/directives/ must be what scripts/gen-directive-docs.js generates from the directive table.
const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const { generateDirectiveDocs } = require("../dist/config/docs");
const { DIRECTIVES } = require("../dist/config");

const dir = path.join(__dirname, "..", "docs", "directives");

test("docs/directives is up to date with the directive table", () => {
  const pages = generateDirectiveDocs();
  const onDisk = fs.readdirSync(dir).filter((f) => f.endsWith(".md")).sort();
  assert.deepEqual(onDisk, [...pages.keys()].sort(), "run: npx tsc -p tsconfig.json && node scripts/gen-directive-docs.js");
  for (const [name, text] of pages) {
    assert.equal(fs.readFileSync(path.join(dir, name), "utf8"), text, `${name} is stale: run node scripts/gen-directive-docs.js`);
  }
});

test("every directive has a page with syntax, context and a doc paragraph", () => {
  const names = new Set();
  for (const d of DIRECTIVES) {
    assert.ok(!names.has(d.name.toLowerCase()), `duplicate ${d.name}`);
    names.add(d.name.toLowerCase());
    assert.ok(d.doc.length > 20, d.name);
    assert.ok(d.contexts.length > 0, d.name);
    if (d.contexts.includes("htaccess") && d.status === "implemented" && d.kind === "directive") assert.ok(d.override, `${d.name} needs an override class`);
    if (d.kind === "directive") assert.equal(typeof d.apply === "function" || d.name.startsWith("Include"), true, d.name);
  }
  for (const n of ["WSGIScriptAlias", "WSGIDaemonProcess", "Options", "Require", "RewriteRule", "Directory"]) assert.ok(names.has(n.toLowerCase()), n);
});
