#!/usr/bin/env node
"use strict";
// Builds the Rust engine (native/) into native/nodewsgi.<platform>.node with the local
// @napi-rs/cli. Without cargo it warns and exits 0: npm install still works and nodewsgi
// runs on its JavaScript engine.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const native = path.join(root, "native");

const cargo = spawnSync("cargo", ["--version"], { stdio: "ignore" });
if (cargo.error || cargo.status !== 0) {
  process.stderr.write(
    "nodewsgi: cargo not found; skipping the native engine build (the JavaScript engine will be used).\n" +
      "nodewsgi: install Rust (https://rustup.rs) and run `npm run build:native` to build it.\n",
  );
  process.exit(0);
}

const bin = path.join(root, "node_modules", ".bin", process.platform === "win32" ? "napi.cmd" : "napi");
if (!fs.existsSync(bin)) {
  process.stderr.write("nodewsgi: @napi-rs/cli is not installed (run npm install); skipping the native engine build.\n");
  process.exit(0);
}

const args = [
  "build",
  "--platform",
  "--release",
  "--manifest-path", path.join(native, "Cargo.toml"),
  "--config-path", path.join(native, "napi.json"),
  "--output-dir", native,
  "--no-js",
  "--dts", "index.d.ts",
  "--no-dts-header",
];
const run = spawnSync(bin, args, { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
if (run.status !== 0) {
  process.stderr.write(`nodewsgi: native engine build failed (exit ${run.status}); the JavaScript engine will be used.\n`);
  process.exit(run.status || 1);
}
