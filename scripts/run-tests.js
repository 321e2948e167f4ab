#!/usr/bin/env node
"use strict";
// `npm test`: compile the TypeScript (so tests never run stale code), then run every
// test/**/*.test.js and bench/test/*.test.js with node:test. Extra arguments are passed to `node --test`
// (e.g. `npm test -- --test-name-pattern=conformance`).
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
// A clean build: a module deleted from src/ must not survive in dist/ and hide a broken import.
fs.rmSync(path.join(root, "dist"), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", path.join(root, "tsconfig.json")], { stdio: "inherit" });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

function find(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== "fixtures" && e.name !== "helpers") out.push(...find(p));
    else if (e.isFile() && e.name.endsWith(".test.js")) out.push(p);
  }
  return out.sort();
}
const args = process.argv.slice(2);
// The project's tests, and the benchmark harness's own unit tests (quick; no load is run).
const files = args.some((a) => a.endsWith(".js")) ? [] : [...find(path.join(root, "test")), ...find(path.join(root, "bench", "test"))];
// Everything the tests put in the temporary directory (sites, logs, sockets, spool files) goes
// into one directory of this run, removed afterwards: repeated runs leave nothing behind.
// Readable by others, as /tmp is, for servers that drop privileges.
const tmp = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "nodewsgi-test-"));
fs.chmodSync(tmp, 0o755);
const run = spawnSync(process.execPath, ["--test", ...args, ...files], { stdio: "inherit", cwd: root, env: { ...process.env, TMPDIR: tmp } });
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(run.status ?? 1);
